/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * collect: turns counters into per-VM samples, once a tick.
 *
 * Input: the VMs (identity from the plugin), the plugin's bulk statistics,
 * and the host: cgroup files (v2 first, v1 where only v1 controllers exist),
 * netlink link statistics of the taps, and, when loaded, the BPF probes.
 * Output: one struct collect_sample per VM, rates computed from the counter
 * deltas since the previous tick. The collector keeps the previous counters;
 * the first tick of a VM yields a sample with rates marked absent (NAN).
 *
 * Per field, the first source with a value wins: BPF > cgroup (v2, then v1)
 * or netlink > libvirt bulk statistics; steal: BPF > the vCPU threads'
 * /proc/<pid>/task/<tid>/schedstat > libvirt. mem_bytes is anon + mapped
 * file memory (v2 memory.stat anon + file_mapped, v1 rss + mapped_file,
 * libvirt balloon.rss), i.e. what the VM has resident, without page cache.
 * A counter that went backwards gives NAN for one tick. PSI comes from the
 * VM's own v2 group only: avg10 and, from the delta of "total", the share of
 * the last tick stalled. collect.c has the details and the reasons.
 */
#ifndef PRESCIENT_COLLECT_H
#define PRESCIENT_COLLECT_H

#include <stddef.h>
#include <stdint.h>

#include "hv.h"

enum collect_source {
	COLLECT_SRC_CGROUP_V2,
	COLLECT_SRC_CGROUP_V1,
	COLLECT_SRC_LIBVIRT,
	COLLECT_SRC_NETLINK,
	COLLECT_SRC_BPF,
	COLLECT_SRC_PROCFS, /* /proc/<pid>/task/<tid>/schedstat of the vCPU threads */
	COLLECT_NR_SOURCES,
};

/*
 * One VM at one instant. Rates are per second over the last interval; a value
 * that could not be measured is NAN (never 0, which is a real value).
 */
struct collect_sample {
	char uuid[HV_UUID_LEN + 1];
	uint64_t t_usec;	/* CLOCK_MONOTONIC */
	uint64_t wall_usec;	/* CLOCK_REALTIME, for display */
	double cpu_cores;	/* CPU used, in cores (1.0 = one core busy) */
	double cpu_steal_cores; /* vCPU runnable-but-waiting time, in cores */
	double mem_bytes;	/* resident memory charged to the VM */
	double disk_rd_bps;	/* bytes per second */
	double disk_wr_bps;
	double disk_rd_iops;
	double disk_wr_iops;
	double net_rx_bps;	  /* guest receive, bytes per second */
	double net_tx_bps;	  /* guest transmit */
	double cpu_pressure_some; /* PSI avg10 of the VM's cgroup, percent */
	double mem_pressure_some;
	double io_pressure_some;
	/*
	 * Share of the last interval some task of the VM's cgroup stalled
	 * (PSI "some" total delta / elapsed), 0..1; NAN unmeasured, on the
	 * first sample and after a counter reset. Unlike avg10 (a 10 s average
	 * refreshed every 2 s) it reacts within one tick.
	 */
	double cpu_stall_share;
	double mem_stall_share;
	double io_stall_share;
	/* Kernel signals only the BPF probes see (NAN without them). */
	double cpu_preempt_ps;	  /* involuntary preemptions of the VM's threads per second */
	double kvm_exits_ps;	  /* KVM exits per second (hardware virtualisation only) */
	double mem_faults_ps;	  /* page faults of the VM's threads per second */
	double mem_reclaim_stall; /* share of time its threads stalled in direct reclaim */
	uint32_t sources;	  /* bit mask of enum collect_source that contributed */
};

/* Where the collector reads the host. Tests point these at fixture trees. */
struct collect_config {
	const char *cgroup_root; /* default "/sys/fs/cgroup" */
	const char *proc_root;	 /* default "/proc" */
	bool use_netlink;	 /* read tap statistics over netlink (libnl) */
	bool use_bpf;		 /* attach the BPF probes when available */
};

struct collect;

int collect_new(const struct collect_config *cfg, struct collect **ret);
void collect_free(struct collect *c);

/*
 * Produces one sample per VM in vms (same order). stats may be NULL or hold
 * fewer VMs: those fields then come from cgroups and netlink alone. Counters
 * of VMs not in vms are forgotten. ret_samples must hold n_vms entries.
 * Returns 0 even when some sources failed for some VMs (those fields are NAN,
 * logged once per VM and source at debug level); -errno only for bugs/ENOMEM.
 */
int collect_sample(struct collect *c, const struct hv_vm *vms, size_t n_vms,
		   const struct hv_vm_stats *stats, size_t n_stats, uint64_t now_usec,
		   struct collect_sample *ret_samples);

/* Bit mask of enum collect_source that worked on the last tick, for status. */
uint32_t collect_sources_active(const struct collect *c);

/* Human-readable BPF state for status: which probes run, or why none do. */
const char *collect_bpf_describe(const struct collect *c);

#endif
