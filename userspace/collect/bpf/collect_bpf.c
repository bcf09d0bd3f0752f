// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The collector's BPF probes (collect_bpf.h) when built with BPF. Probes the
 * kernel once (BTF, tracepoints), creates the tracking maps every probe
 * shares, opens each skeleton owner and keeps whichever load; the rest are
 * reported in collect_bpf_status() and the collector polls for them. VMs are
 * given stable slots (bpf_slots.c); collect_bpf_set_vms() rewrites the
 * tracking maps by difference, so probes never see a VM briefly untracked.
 */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include "bpf_internal.h"
#include "bpf_slots.h"
#include "cleanup.h"
#include "collect_bpf.h"
#include "disk.h"
#include "log.h"
#include "tracked.h"

enum probe_id {
	PROBE_CPU,
	PROBE_DISK,
	PROBE_NET,
	PROBE_KVM,
	PROBE_MEM,
	NR_PROBES,
};

static const struct collect_bpf_owner_ops *const probe_ops[NR_PROBES] = {
	[PROBE_CPU] = &collect_bpf_cpu_owner, [PROBE_DISK] = &collect_bpf_disk_owner,
	[PROBE_NET] = &collect_bpf_net_owner, [PROBE_KVM] = &collect_bpf_kvm_owner,
	[PROBE_MEM] = &collect_bpf_mem_owner,
};

struct probe {
	void *owner; /* NULL when not loaded */
	int error;
	char note[160];
};

struct collect_bpf {
	struct collect_bpf_features *features;
	int tgids_fd, vcpus_fd, netdevs_fd;
	struct probe probes[NR_PROBES];
	struct collect_bpf_slots slots;

	/* index given to collect_bpf_set_vms() -> slot */
	uint32_t *index_slot;
	size_t nr_index;

	/* What the tracking maps hold now, to remove what leaves. */
	uint32_t *tgids, *vcpus;
	size_t nr_tgids, nr_vcpus;
	struct tracked_netdev_key *netdevs;
	size_t nr_netdevs;

	unsigned unslotted_vms;	 /* VMs beyond TRACKED_MAX_VMS */
	unsigned untracked_keys; /* tracking map full */
	uint64_t lost_events;	 /* probes' overflow counters, at the last set_vms */
	char status[1024];
};

/* Why the last collect_bpf_open() loaded nothing, for collect_bpf_status(NULL). */
static char open_failure[1100] = "BPF probes not opened";

/* libbpf's messages, verifier logs included, line by line into the log at debug. */
__attribute__((format(printf, 2, 0))) static int libbpf_print(enum libbpf_print_level level,
							      const char *fmt, va_list ap)
{
	_cleanup_free_ char *buf = NULL;
	char *line, *save = NULL;

	if (log_get_max_level() < LOG_DEBUG)
		return 0;
	if (vasprintf(&buf, fmt, ap) < 0)
		return 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		log_debug("%s", line); /* libbpf prefixes its own "libbpf: " */
	return 0;
}

static void status_build(struct collect_bpf *b)
{
	size_t l = 0;

	b->status[0] = '\0';
	for (int i = 0; i < NR_PROBES && l < sizeof(b->status); i++) {
		const struct probe *p = &b->probes[i];

		if (p->owner && p->note[0])
			l += snprintf(b->status + l, sizeof(b->status) - l, "%s%s: on (%s)",
				      i ? "; " : "", probe_ops[i]->name, p->note);
		else if (p->owner)
			l += snprintf(b->status + l, sizeof(b->status) - l, "%s%s: on",
				      i ? "; " : "", probe_ops[i]->name);
		else
			l += snprintf(b->status + l, sizeof(b->status) - l, "%s%s: off (%s%s%s)",
				      i ? "; " : "", probe_ops[i]->name, p->note[0] ? p->note : "",
				      p->note[0] ? ": " : "", strerror(-p->error));
	}
	if (l < sizeof(b->status) && (b->unslotted_vms || b->untracked_keys || b->lost_events))
		snprintf(b->status + l, sizeof(b->status) - l,
			 "; overflow: %u VMs without slot, %u untracked threads/devices, %llu lost "
			 "events",
			 b->unslotted_vms, b->untracked_keys, (unsigned long long)b->lost_events);
}

void collect_bpf_close(struct collect_bpf *b)
{
	if (!b)
		return;
	for (int i = 0; i < NR_PROBES; i++)
		if (b->probes[i].owner)
			probe_ops[i]->close(b->probes[i].owner);
	for (int *fd = &b->tgids_fd; fd <= &b->netdevs_fd; fd++)
		if (*fd >= 0)
			close(*fd);
	collect_bpf_features_free(b->features);
	collect_bpf_slots_done(&b->slots);
	free(b->index_slot);
	free(b->tgids);
	free(b->vcpus);
	free(b->netdevs);
	free(b);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct collect_bpf *, collect_bpf_close);

static int map_create(const char *name, uint32_t key_size, uint32_t max_entries)
{
	int fd =
		bpf_map_create(BPF_MAP_TYPE_HASH, name, key_size, sizeof(__u32), max_entries, NULL);

	return fd < 0 ? -errno : fd;
}

int collect_bpf_open(struct collect_bpf **ret)
{
	_cleanup_(collect_bpf_closep) struct collect_bpf *b = NULL;
	struct collect_bpf_shared sh;
	int r, loaded = 0;

	libbpf_set_print(libbpf_print);

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->tgids_fd = b->vcpus_fd = b->netdevs_fd = -1;
	r = collect_bpf_slots_init(&b->slots, TRACKED_MAX_VMS);
	if (r < 0)
		return r;

	r = collect_bpf_features_probe(&b->features);
	if (r < 0) {
		snprintf(open_failure, sizeof(open_failure), "BPF off: no kernel BTF (%s)",
			 strerror(-r));
		return log_debug_errno(EOPNOTSUPP, "bpf: %s", open_failure);
	}

	b->tgids_fd = map_create("tracked_tgids", sizeof(__u32), TRACKED_MAX_TGIDS);
	b->vcpus_fd = map_create("tracked_vcpus", sizeof(__u32), TRACKED_MAX_VCPUS);
	b->netdevs_fd = map_create("tracked_netdevs", sizeof(struct tracked_netdev_key),
				   TRACKED_MAX_NETDEVS);
	for (int *fd = &b->tgids_fd; fd <= &b->netdevs_fd; fd++)
		if (*fd < 0) {
			snprintf(open_failure, sizeof(open_failure),
				 "BPF off: cannot create maps (%s)", strerror(-*fd));
			return log_debug_errno(EOPNOTSUPP, "bpf: %s", open_failure);
		}

	sh = (struct collect_bpf_shared){
		.features = b->features,
		.tgids_fd = b->tgids_fd,
		.vcpus_fd = b->vcpus_fd,
		.netdevs_fd = b->netdevs_fd,
	};
	for (int i = 0; i < NR_PROBES; i++) {
		struct probe *p = &b->probes[i];

		p->error = probe_ops[i]->open(&sh, p->note, sizeof(p->note), &p->owner);
		if (p->error < 0) {
			p->owner = NULL;
			log_debug_errno(p->error, "bpf: probe %s not loaded (%s): %m",
					probe_ops[i]->name, p->note);
			continue;
		}
		loaded++;
	}
	status_build(b);
	if (loaded == 0) {
		snprintf(open_failure, sizeof(open_failure), "BPF off: no probe loaded: %s",
			 b->status);
		return log_debug_errno(EOPNOTSUPP, "bpf: %s", open_failure);
	}
	log_debug("bpf: %s", b->status);
	*ret = TAKE_PTR(b);
	return 0;
}

const char *collect_bpf_status(const struct collect_bpf *b)
{
	return b ? b->status : open_failure;
}

static bool u32_in(const uint32_t *v, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static bool netdev_in(const struct tracked_netdev_key *v, size_t n,
		      const struct tracked_netdev_key *x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].netns_ino == x->netns_ino && v[i].ifindex == x->ifindex)
			return true;
	return false;
}

static int netns_ino_get(uint32_t *ret)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st) < 0)
		return -errno;
	*ret = (uint32_t)st.st_ino;
	return 0;
}

/* One tracking map update; a full map is counted, not fatal. */
static void track(struct collect_bpf *b, int fd, const void *key, uint32_t slot)
{
	if (bpf_map_update_elem(fd, key, &slot, BPF_ANY) < 0) {
		if (errno == E2BIG || errno == ENOSPC)
			b->untracked_keys++;
		else
			log_debug_errno(-errno, "bpf: cannot update tracking map, ignoring: %m");
	}
}

static void filter_set(uint64_t *filter, uint32_t bits, uint32_t v)
{
	uint32_t h = v & (bits - 1);

	filter[h / 64] |= 1ULL << (h % 64);
}

/* Sends the pre-filters of the given tgids (two sets: their union) and devices to every probe. */
static void filters_push(struct collect_bpf *b, const uint32_t *tgids, size_t nr_tgids,
			 const uint32_t *tgids2, size_t nr_tgids2,
			 const struct tracked_netdev_key *netdevs, size_t nr_netdevs)
{
	uint64_t tgid_filter[TRACKED_TGID_FILTER_BITS / 64] = {};
	uint64_t netdev_filter[TRACKED_NETDEV_FILTER_BITS / 64] = {};

	for (size_t i = 0; i < nr_tgids; i++)
		filter_set(tgid_filter, TRACKED_TGID_FILTER_BITS, tgids[i]);
	for (size_t i = 0; i < nr_tgids2; i++)
		filter_set(tgid_filter, TRACKED_TGID_FILTER_BITS, tgids2[i]);
	/* Device leavers need no grace: their counters are per VM, not per device. */
	for (size_t i = 0; i < nr_netdevs; i++)
		filter_set(netdev_filter, TRACKED_NETDEV_FILTER_BITS, netdevs[i].ifindex);
	for (int p = 0; p < NR_PROBES; p++)
		if (b->probes[p].owner && probe_ops[p]->tracking_changed)
			probe_ops[p]->tracking_changed(b->probes[p].owner, tgid_filter,
						       netdev_filter);
}

int collect_bpf_set_vms(struct collect_bpf *b, const struct hv_vm *vms, size_t n)
{
	_cleanup_free_ uint32_t *slots = NULL, *fresh = NULL, *tgids = NULL, *vcpus = NULL,
				*tgid_slots = NULL, *vcpu_slots = NULL, *netdev_slots = NULL;
	_cleanup_free_ struct tracked_netdev_key *netdevs = NULL;
	size_t nr_fresh = 0, nr_tgids = 0, nr_vcpus = 0, nr_netdevs = 0, max_vcpus = 0,
	       max_netdevs = 0;
	uint32_t netns_ino = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		max_vcpus +=
			vms[i].nr_vcpu_tids < HV_MAX_VCPUS ? vms[i].nr_vcpu_tids : HV_MAX_VCPUS;
		max_netdevs += vms[i].nr_taps < HV_MAX_NICS ? vms[i].nr_taps : HV_MAX_NICS;
	}
	slots = calloc(n + 1, sizeof(*slots));
	fresh = calloc(n + 1, sizeof(*fresh));
	tgids = calloc(n + 1, sizeof(*tgids));
	vcpus = calloc(max_vcpus + 1, sizeof(*vcpus));
	netdevs = calloc(max_netdevs + 1, sizeof(*netdevs));
	tgid_slots = calloc(n + 1, sizeof(*tgid_slots));
	vcpu_slots = calloc(max_vcpus + 1, sizeof(*vcpu_slots));
	netdev_slots = calloc(max_netdevs + 1, sizeof(*netdev_slots));
	if (!slots || !fresh || !tgids || !vcpus || !netdevs || !tgid_slots || !vcpu_slots ||
	    !netdev_slots)
		return -ENOMEM;
	r = netns_ino_get(&netns_ino);
	if (r < 0)
		log_debug_errno(r, "bpf: cannot read own network namespace, taps untracked: %m");

	r = collect_bpf_slots_assign(&b->slots, vms, n, slots, fresh, &nr_fresh);
	if (r < 0)
		return r;
	b->unslotted_vms = r;
	b->untracked_keys = 0;

	/* The new contents of the tracking maps. */
	for (size_t i = 0; i < n; i++) {
		const struct hv_vm *vm = &vms[i];
		uint32_t nv = vm->nr_vcpu_tids < HV_MAX_VCPUS ? vm->nr_vcpu_tids : HV_MAX_VCPUS;
		uint32_t nt = vm->nr_taps < HV_MAX_NICS ? vm->nr_taps : HV_MAX_NICS;

		if (slots[i] == COLLECT_BPF_SLOT_NONE || vm->qemu_pid <= 0)
			continue;
		tgid_slots[nr_tgids] = slots[i];
		tgids[nr_tgids++] = (uint32_t)vm->qemu_pid;
		for (uint32_t j = 0; j < nv; j++)
			if (vm->vcpu_tids[j] > 0) {
				vcpu_slots[nr_vcpus] = slots[i];
				vcpus[nr_vcpus++] = (uint32_t)vm->vcpu_tids[j];
			}
		for (uint32_t j = 0; j < nt && netns_ino; j++) {
			char name[HV_IFNAME_MAX + 1];
			unsigned idx;

			memcpy(name, vm->taps[j], HV_IFNAME_MAX);
			name[HV_IFNAME_MAX] = '\0';
			idx = if_nametoindex(name);
			if (idx == 0)
				continue; /* gone already, or not yet created */
			netdev_slots[nr_netdevs] = slots[i];
			netdevs[nr_netdevs++] = (struct tracked_netdev_key){ .netns_ino = netns_ino,
									     .ifindex = idx };
		}
	}

	/*
	 * Pre-filters pass old and new sets while the maps change, so that no
	 * arrival is filtered out; leavers first, then fresh slots are zeroed,
	 * then arrivals.
	 */
	filters_push(b, tgids, nr_tgids, b->tgids, b->nr_tgids, netdevs, nr_netdevs);
	for (size_t i = 0; i < b->nr_tgids; i++)
		if (!u32_in(tgids, nr_tgids, b->tgids[i]))
			bpf_map_delete_elem(b->tgids_fd, &b->tgids[i]);
	for (size_t i = 0; i < b->nr_vcpus; i++)
		if (!u32_in(vcpus, nr_vcpus, b->vcpus[i]))
			bpf_map_delete_elem(b->vcpus_fd, &b->vcpus[i]);
	for (size_t i = 0; i < b->nr_netdevs; i++)
		if (!netdev_in(netdevs, nr_netdevs, &b->netdevs[i]))
			bpf_map_delete_elem(b->netdevs_fd, &b->netdevs[i]);

	for (size_t f = 0; f < nr_fresh; f++)
		for (int p = 0; p < NR_PROBES; p++)
			if (b->probes[p].owner) {
				r = probe_ops[p]->clear_slot(b->probes[p].owner, fresh[f]);
				if (r < 0)
					log_debug_errno(r,
							"bpf: cannot clear slot %u of %s, "
							"ignoring: %m",
							fresh[f], probe_ops[p]->name);
			}

	for (size_t i = 0; i < nr_tgids; i++)
		track(b, b->tgids_fd, &tgids[i], tgid_slots[i]);
	for (size_t i = 0; i < nr_vcpus; i++)
		track(b, b->vcpus_fd, &vcpus[i], vcpu_slots[i]);
	for (size_t i = 0; i < nr_netdevs; i++)
		track(b, b->netdevs_fd, &netdevs[i], netdev_slots[i]);

	/* Now only the new set passes the pre-filters. */
	filters_push(b, tgids, nr_tgids, NULL, 0, netdevs, nr_netdevs);

	free(b->index_slot);
	free(b->tgids);
	free(b->vcpus);
	free(b->netdevs);
	b->index_slot = TAKE_PTR(slots);
	b->nr_index = n;
	b->tgids = TAKE_PTR(tgids);
	b->nr_tgids = nr_tgids;
	b->vcpus = TAKE_PTR(vcpus);
	b->nr_vcpus = nr_vcpus;
	b->netdevs = TAKE_PTR(netdevs);
	b->nr_netdevs = nr_netdevs;

	b->lost_events = 0;
	for (int p = 0; p < NR_PROBES; p++)
		if (b->probes[p].owner)
			b->lost_events += probe_ops[p]->lost(b->probes[p].owner);
	status_build(b);
	return 0;
}

static int index_slot_get(const struct collect_bpf *b, size_t index, uint32_t *ret)
{
	if (index >= b->nr_index)
		return -ENOENT;
	if (b->index_slot[index] == COLLECT_BPF_SLOT_NONE)
		return -ENOSPC;
	*ret = b->index_slot[index];
	return 0;
}

int collect_bpf_read_vm(struct collect_bpf *b, size_t index, struct collect_bpf_vm *ret)
{
	struct collect_bpf_vm vm;
	uint32_t slot;
	int r;

	r = index_slot_get(b, index, &slot);
	if (r < 0)
		return r;
	memset(&vm, 0xff, sizeof(vm)); /* every field absent until a probe fills it */
	for (int p = 0; p < NR_PROBES; p++) {
		if (!b->probes[p].owner)
			continue;
		r = probe_ops[p]->read_slot(b->probes[p].owner, slot, &vm);
		if (r < 0)
			return log_debug_errno(r, "bpf: cannot read %s counters of slot %u: %m",
					       probe_ops[p]->name, slot);
	}
	*ret = vm;
	return 0;
}

int collect_bpf_read_disk_latency(struct collect_bpf *b, size_t index, uint64_t *ret_buckets,
				  size_t nr_buckets)
{
	uint32_t slot;
	int r;

	if (!b->probes[PROBE_DISK].owner)
		return -EOPNOTSUPP;
	r = index_slot_get(b, index, &slot);
	if (r < 0)
		return r;
	return collect_bpf_disk_latency(b->probes[PROBE_DISK].owner, slot, ret_buckets, nr_buckets);
}

size_t collect_bpf_nr_objects(const struct collect_bpf *b)
{
	return NR_PROBES;
}

int collect_bpf_object_get(const struct collect_bpf *b, size_t i, const char **ret_name,
			   struct bpf_object **ret_obj)
{
	if (i >= NR_PROBES || !b->probes[i].owner)
		return -ENOENT;
	*ret_name = probe_ops[i]->name;
	*ret_obj = probe_ops[i]->object(b->probes[i].owner);
	return 0;
}

int collect_bpf_attach(struct collect_bpf *b, bool on)
{
	for (int p = 0; p < NR_PROBES; p++) {
		int r;

		if (!b->probes[p].owner)
			continue;
		r = probe_ops[p]->attach(b->probes[p].owner, on);
		if (r < 0)
			return r;
	}
	return 0;
}
