/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The collector's view of the BPF probes (bpf/). Implemented by the
 * userspace owners of the skeletons (collect/bpf_*.c) when built with BPF,
 * and by stubs returning -EOPNOTSUPP with -Dbpf=disabled, so the collector
 * falls back to polling cgroups, libvirt and netlink.
 */
#ifndef PRESCIENT_COLLECT_BPF_H
#define PRESCIENT_COLLECT_BPF_H

#include <stddef.h>
#include <stdint.h>

#include "hv.h"

struct collect_bpf;

/* Cumulative per-VM counters summed over the VM's threads; absent = UINT64_MAX. */
struct collect_bpf_vm {
	uint64_t cpu_run_ns;  /* on-CPU time of all QEMU threads */
	uint64_t cpu_wait_ns; /* runnable but waiting (host-side steal) */
	uint64_t vcpu_run_ns; /* vCPU threads only */
	uint64_t vcpu_wait_ns;
	uint64_t involuntary_switches;
	uint64_t disk_rd_bytes;
	uint64_t disk_wr_bytes;
	uint64_t disk_rd_ops;
	uint64_t disk_wr_ops;
	uint64_t net_rx_bytes; /* guest view */
	uint64_t net_tx_bytes;
	uint64_t net_rx_pkts;
	uint64_t net_tx_pkts;
	uint64_t net_drops;
	uint64_t kvm_exits;
	uint64_t page_faults;
	uint64_t reclaim_stall_ns;
};

/* Loads and attaches every probe that the kernel supports. -EOPNOTSUPP without BPF. */
int collect_bpf_open(struct collect_bpf **ret);
void collect_bpf_close(struct collect_bpf *b);
/* Human-readable: which probes run, which fell back and why. */
const char *collect_bpf_status(const struct collect_bpf *b);
/* Tells the probes which processes and threads belong to which VM. */
int collect_bpf_set_vms(struct collect_bpf *b, const struct hv_vm *vms, size_t n);
/* Reads the counters of one VM (by the index given in collect_bpf_set_vms). */
int collect_bpf_read_vm(struct collect_bpf *b, size_t index, struct collect_bpf_vm *ret);

#endif
