/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Between the BPF facade (collect_bpf.c, which implements collect_bpf.h) and
 * the skeleton owners (bpf_<probe>.c, one per bpf/<probe>.bpf.c). The facade
 * probes the kernel, creates the tracking maps every probe shares, assigns VM
 * slots and sums counters; an owner opens, loads and attaches its skeleton
 * and reads its per-slot counters. Tests and benchmarks use this header too.
 */
#ifndef PRESCIENT_COLLECT_BPF_INTERNAL_H
#define PRESCIENT_COLLECT_BPF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collect_bpf.h"

struct bpf_object;
struct collect_bpf_features;

/* What every owner gets at open. */
struct collect_bpf_shared {
	const struct collect_bpf_features *features;
	int tgids_fd;	/* tracked_tgids */
	int vcpus_fd;	/* tracked_vcpus */
	int netdevs_fd; /* tracked_netdevs */
};

struct collect_bpf_owner_ops {
	const char *name;
	/*
	 * Opens, loads and attaches the probe. Writes into note what runs
	 * without (optional tracepoints) or, with -EOPNOTSUPP, why it cannot.
	 */
	int (*open)(const struct collect_bpf_shared *sh, char *note, size_t note_len, void **ret);
	void (*close)(void *owner);
	/* Zeroes the counters of a slot before a new VM takes it. */
	int (*clear_slot)(void *owner, uint32_t slot);
	/* Adds the slot's counters into the fields this probe provides. */
	int (*read_slot)(void *owner, uint32_t slot, struct collect_bpf_vm *vm);
	/*
	 * The tracking maps changed: copy the pre-filters (tracked.h) into the
	 * probe and drop any cache of the maps.
	 */
	void (*tracking_changed)(void *owner, const uint64_t *tgid_filter,
				 const uint64_t *netdev_filter);
	/* Sum of the probe's overflow and error counters. */
	uint64_t (*lost)(void *owner);
	struct bpf_object *(*object)(void *owner);
	/* Attaches (on) or detaches the loaded programs; for benchmarks. */
	int (*attach)(void *owner, bool on);
};

extern const struct collect_bpf_owner_ops collect_bpf_cpu_owner;
extern const struct collect_bpf_owner_ops collect_bpf_disk_owner;
extern const struct collect_bpf_owner_ops collect_bpf_net_owner;
extern const struct collect_bpf_owner_ops collect_bpf_kvm_owner;
extern const struct collect_bpf_owner_ops collect_bpf_mem_owner;

/* Kernel features, probed once at open: BTF and tracepoints (vmlinux and modules). */
int collect_bpf_features_probe(struct collect_bpf_features **ret);
void collect_bpf_features_free(struct collect_bpf_features *f);
bool collect_bpf_features_has_tracepoint(const struct collect_bpf_features *f, const char *tp);

/*
 * Common steps of an owner's open, between skeleton open and load: hands the
 * shared maps to the object and turns off each program whose tracepoint the
 * kernel lacks, naming them in note. Returns how many programs stay on.
 */
int collect_bpf_object_prepare(struct bpf_object *obj, const struct collect_bpf_shared *sh,
			       char *note, size_t note_len);
/* Whether a program (by function name) stays on after prepare. */
bool collect_bpf_object_prog_enabled(struct bpf_object *obj, const char *prog);
void collect_bpf_object_prog_disable(struct bpf_object *obj, const char *prog);

/* Per-CPU array helpers for values made of n_u64 __u64 fields. */
int collect_bpf_percpu_sum(int map_fd, uint32_t key, uint64_t *ret_sum, size_t n_u64);
int collect_bpf_percpu_clear(int map_fd, uint32_t key, size_t n_u64);
/* Sum of all entries of a per-CPU __u64 stats array with nr entries. */
uint64_t collect_bpf_percpu_stats_total(int map_fd, uint32_t nr);

/* Adds v to a collect_bpf_vm field that may still read as absent. */
static inline void collect_bpf_vm_add(uint64_t *field, uint64_t v)
{
	*field = (*field == UINT64_MAX ? 0 : *field) + v;
}

/* The disk owner's histogram: ret_buckets[DISK_NR_DIRS * DISK_LAT_BUCKETS]. */
int collect_bpf_disk_latency(void *owner, uint32_t slot, uint64_t *ret_buckets, size_t nr_buckets);

/* For tests and benchmarks: the loaded probes of an open collect_bpf. */
size_t collect_bpf_nr_objects(const struct collect_bpf *b);
/* The i-th loaded probe's name and libbpf object; -ENOENT past the end or when not loaded. */
int collect_bpf_object_get(const struct collect_bpf *b, size_t i, const char **ret_name,
			   struct bpf_object **ret_obj);
/* Detaches (on = false) or re-attaches every loaded probe, keeping maps and counters. */
int collect_bpf_attach(struct collect_bpf *b, bool on);
/* Disk latency histogram of a VM: buckets[dir][DISK_LAT_BUCKETS] as in bpf/disk.h. */
int collect_bpf_read_disk_latency(struct collect_bpf *b, size_t index, uint64_t *ret_buckets,
				  size_t nr_buckets);

#endif
