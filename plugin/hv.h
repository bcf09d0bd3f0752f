/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The hypervisor plugin interface. The daemon never talks to libvirt except
 * through this: identity of the VMs, lifecycle events, bulk statistics and
 * tuning. plugin/libvirt implements it for real hosts; plugin/trace replays
 * recorded traces so the same pipeline runs on a simulated cluster.
 *
 * Threading: hv_open() may start a private event thread. Event callbacks run
 * on that thread and must only queue work (the daemon wakes its manager). All
 * other calls are made from the manager thread.
 */
#ifndef PRESCIENT_PLUGIN_HV_H
#define PRESCIENT_PLUGIN_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HV_UUID_LEN   36
#define HV_NAME_MAX   128
#define HV_MAX_VCPUS  256
#define HV_MAX_NICS   16
#define HV_MAX_DISKS  16
#define HV_IFNAME_MAX 16
#define HV_CGROUP_MAX 512

struct hv;

enum hv_vm_state {
	HV_VM_RUNNING,
	HV_VM_PAUSED,
	HV_VM_SHUTOFF,
	HV_VM_OTHER,
	HV_NR_VM_STATES,
};

/* What a VM is, as far as the rest of the daemon cares. Plain data, copyable. */
struct hv_vm {
	char uuid[HV_UUID_LEN + 1];
	char name[HV_NAME_MAX];
	enum hv_vm_state state;
	int32_t qemu_pid;  /* 0 when not running */
	uint32_t nr_vcpus; /* online vCPUs */
	uint32_t max_vcpus;
	uint32_t nr_vcpu_tids;
	int32_t vcpu_tids[HV_MAX_VCPUS]; /* index = vCPU number, 0 when unknown */
	uint64_t memory_kib;		 /* current balloon target */
	uint64_t max_memory_kib;
	uint32_t nr_taps;
	char taps[HV_MAX_NICS][HV_IFNAME_MAX]; /* host-side tap devices, e.g. vnet3 */
	/* The guest's MAC of each tap ("52:54:00:6b:3c:58", lower case), "" when unknown. */
	char macs[HV_MAX_NICS][18];
	uint32_t nr_disks;
	char disks[HV_MAX_DISKS][32]; /* target names, e.g. vda */
	/*
	 * The VM's cgroup, relative to the hierarchy root, as the QEMU process
	 * sees it in /proc/<pid>/cgroup with the trailing /emulator removed.
	 * cgroup_v2 is the unified path ("" when the VM has none of its own);
	 * cgroup_cpu and cgroup_memory are the v1 paths where those controllers
	 * are mounted as v1 ("" otherwise).
	 */
	char cgroup_v2[HV_CGROUP_MAX];
	char cgroup_cpu[HV_CGROUP_MAX];
	char cgroup_memory[HV_CGROUP_MAX];
};

/* Cumulative counters from the hypervisor's bulk statistics; absent = UINT64_MAX. */
struct hv_vm_stats {
	char uuid[HV_UUID_LEN + 1];
	uint64_t cpu_time_ns;
	uint64_t vcpu_delay_ns; /* sum over vCPUs of time runnable but not running */
	uint64_t balloon_rss_kib;
	uint64_t balloon_current_kib;
	uint64_t balloon_available_kib;
	uint64_t balloon_unused_kib;
	uint64_t block_rd_bytes;
	uint64_t block_wr_bytes;
	uint64_t block_rd_reqs;
	uint64_t block_wr_reqs;
	uint64_t net_rx_bytes; /* guest's view: bytes the guest received */
	uint64_t net_tx_bytes;
	uint64_t net_rx_pkts;
	uint64_t net_tx_pkts;
	uint64_t net_rx_drop;
	uint64_t net_tx_drop;
};

#define HV_STAT_ABSENT UINT64_MAX

/* CPU allocation as libvirt scheduler parameters. quota < 0 means unlimited. */
struct hv_cpu_tune {
	uint64_t period_us;
	int64_t quota_us;
	uint64_t shares; /* cpu_shares / cpu.weight; 0 = leave unchanged */
};

#define HV_CPUMAP_WORDS 16 /* 1024 host CPUs */

/* A set of host CPUs: CPU n is bit n % 64 of bits[n / 64]. */
struct hv_cpumap {
	uint64_t bits[HV_CPUMAP_WORDS];
};

static inline bool hv_cpumap_test(const struct hv_cpumap *m, uint32_t cpu)
{
	return cpu < HV_CPUMAP_WORDS * 64 && (m->bits[cpu / 64] >> (cpu % 64)) & 1;
}

static inline void hv_cpumap_set(struct hv_cpumap *m, uint32_t cpu)
{
	if (cpu < HV_CPUMAP_WORDS * 64)
		m->bits[cpu / 64] |= UINT64_C(1) << (cpu % 64);
}

static inline bool hv_cpumap_equal(const struct hv_cpumap *a, const struct hv_cpumap *b)
{
	for (int i = 0; i < HV_CPUMAP_WORDS; i++)
		if (a->bits[i] != b->bits[i])
			return false;
	return true;
}

static inline bool hv_cpumap_empty(const struct hv_cpumap *m)
{
	for (int i = 0; i < HV_CPUMAP_WORDS; i++)
		if (m->bits[i])
			return false;
	return true;
}

/* libvirt <vcpupin> and <emulatorpin> of a live VM. */
struct hv_pinning {
	uint32_t n_vcpus;
	struct hv_cpumap vcpu[HV_MAX_VCPUS];
	struct hv_cpumap emulator;
};

#define HV_TUNE_UNLIMITED UINT64_MAX

/* libvirt <memtune>: KiB; HV_TUNE_UNLIMITED = no limit; 0 = leave unchanged on set */
struct hv_mem_tune {
	uint64_t hard_limit_kib, soft_limit_kib, swap_hard_limit_kib;
};

/* libvirt <iotune> of one disk: bytes/s and ops/s, 0 = unlimited */
struct hv_block_tune {
	uint64_t total_bytes_sec, read_bytes_sec, write_bytes_sec, total_iops_sec, read_iops_sec,
		write_iops_sec;
};

/*
 * libvirt <bandwidth> of one interface in libvirt's units: average, peak and
 * floor in kB/s of 1000 bytes (libvirt hands them to tc as "kbps": average
 * 1000 gives an htb rate of 8Mbit), burst in KiB; 0 = none. inbound = into
 * the guest. libvirt takes 32-bit values (-ERANGE above).
 */
struct hv_net_tune {
	uint64_t in_average, in_peak, in_burst, in_floor, out_average, out_peak, out_burst;
};

enum hv_event_type {
	HV_EVENT_VM_STARTED,
	HV_EVENT_VM_STOPPED,
	HV_EVENT_VM_CHANGED, /* suspended, resumed, tuned, device change */
	HV_EVENT_CONNECTED,  /* first connect and every reconnect: resync */
	HV_EVENT_DISCONNECTED,
	HV_NR_EVENTS,
};

struct hv_event {
	enum hv_event_type type;
	char uuid[HV_UUID_LEN + 1]; /* empty for connection events */
	char name[HV_NAME_MAX];
};

typedef void (*hv_event_cb)(const struct hv_event *ev, void *userdata);

struct hv_config {
	const char *uri;		 /* e.g. "qemu:///system"; NULL = default */
	unsigned keepalive_interval_sec; /* 0 = plugin default (5) */
	unsigned keepalive_count;	 /* 0 = plugin default (3) */
	unsigned reconnect_delay_ms;	 /* 0 = plugin default (1000) */
	bool read_only;			 /* refuse tuning */
	/*
	 * Connect from the plugin's own thread: open() returns at once and
	 * HV_EVENT_CONNECTED says when the connection is up, so a libvirtd
	 * that accepts but never answers cannot stall the caller.
	 */
	bool background_connect;
};

struct hv_ops {
	const char *name;
	int (*open)(const struct hv_config *cfg, hv_event_cb cb, void *userdata, struct hv **ret);
	void (*close)(struct hv *hv);
	/* True while connected; the plugin reconnects by itself in the background. */
	bool (*connected)(struct hv *hv);
	/* Running and paused VMs. Caller frees *ret_vms with free(). */
	int (*list_vms)(struct hv *hv, struct hv_vm **ret_vms, size_t *ret_n);
	/* Bulk statistics of all active VMs without blocking on busy domains. */
	int (*get_stats)(struct hv *hv, struct hv_vm_stats **ret_stats, size_t *ret_n);
	int (*get_cpu_tune)(struct hv *hv, const char *uuid, struct hv_cpu_tune *ret);
	/* Applies to the live VM only (AFFECT_LIVE): the whole VM, all its threads. */
	int (*set_cpu_tune)(struct hv *hv, const char *uuid, const struct hv_cpu_tune *tune);

	/*
	 * The tuning libvirt owns besides the CPU quota. All act on the live VM
	 * only (AFFECT_LIVE) and return -EOPNOTSUPP (== -ENOTSUP) when the
	 * hypervisor cannot, -ENOENT for an unknown VM, -EPERM in read-only
	 * mode, another -errno else. A NULL member means the plugin has none.
	 */
	/* CPU affinity of each vCPU (ret->vcpu[0 .. n_vcpus-1]) and of the emulator threads. */
	int (*get_pinning)(struct hv *hv, const char *uuid, struct hv_pinning *ret);
	int (*pin_vcpu)(struct hv *hv, const char *uuid, uint32_t vcpu,
			const struct hv_cpumap *map);
	int (*pin_emulator)(struct hv *hv, const char *uuid, const struct hv_cpumap *map);
	int (*get_mem_tune)(struct hv *hv, const char *uuid, struct hv_mem_tune *ret);
	int (*set_mem_tune)(struct hv *hv, const char *uuid, const struct hv_mem_tune *tune);
	/* disk: target name (vda) or source path; replaces all six values of the disk */
	int (*get_block_tune)(struct hv *hv, const char *uuid, const char *disk,
			      struct hv_block_tune *ret);
	int (*set_block_tune)(struct hv *hv, const char *uuid, const char *disk,
			      const struct hv_block_tune *tune);
	/* ifname: host-side device (vnet3) or MAC address; replaces all seven values */
	int (*get_net_tune)(struct hv *hv, const char *uuid, const char *ifname,
			    struct hv_net_tune *ret);
	int (*set_net_tune)(struct hv *hv, const char *uuid, const char *ifname,
			    const struct hv_net_tune *tune);
	/*
	 * The VM's proportional share of block I/O under contention (libvirt
	 * <blkiotune><weight>, 100..1000; 0 read back = none set): libvirt
	 * writes it to the VM's cgroup (v1 blkio[.bfq].weight, v2
	 * io[.bfq].weight). A share, not a cap.
	 */
	int (*get_blkio_weight)(struct hv *hv, const char *uuid, uint32_t *ret);
	int (*set_blkio_weight)(struct hv *hv, const char *uuid, uint32_t weight);
};

extern const struct hv_ops hv_libvirt_ops;

#endif
