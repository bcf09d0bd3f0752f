// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mem: what the kernel tells cheaply about a VM's memory, to complement
 * cgroup memory.*, PSI and balloon statistics: user page faults of the QEMU
 * process (guest RAM first touch, post-copy, swap-in) and the time its
 * threads stall in direct reclaim or in memcg reclaim (hitting memory.high
 * or the v1 limit).
 *
 * Events: exceptions:page_fault_user, vmscan:mm_vmscan_direct_reclaim_*,
 * vmscan:mm_vmscan_memcg_reclaim_* (tp_btf; userspace turns off the memcg
 * pair where it is absent). Cost: the tgid pre-filter per fault; tracked
 * processes add a tracked_tgids lookup and a per-CPU add; reclaim is rare.
 * Maps: tracked_tgids and the tgid pre-filter are shared; mem_reclaim
 * (tid -> start, bounded, overflow counted), mem_counters and mem_stats
 * are this probe's own.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "mem.h"
#include "tracked.bpf.h"

char LICENSE[] SEC("license") = "GPL";

TRACKED_TGIDS_MAP;
TRACKED_TGID_FILTER

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MEM_MAX_RECLAIMERS);
	__type(key, __u32);   /* tid */
	__type(value, __u64); /* reclaim start, ns */
} mem_reclaim SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TRACKED_MAX_VMS);
	__type(key, __u32);
	__type(value, struct mem_slot_counters);
} mem_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MEM_NR_STATS);
	__type(key, __u32);
	__type(value, __u64);
} mem_stats SEC(".maps");

static __always_inline struct mem_slot_counters *current_counters(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct mem_slot_counters *c;
	__u32 *slot;

	if (!tgid_maybe_tracked(tgid))
		return NULL;
	slot = bpf_map_lookup_elem(&tracked_tgids, &tgid);
	if (!slot)
		return NULL;
	c = bpf_map_lookup_elem(&mem_counters, slot);
	if (!c)
		STAT_INC(mem_stats, MEM_STAT_BAD_SLOT);
	return c;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(mem_page_fault_user)
{
	struct mem_slot_counters *c = current_counters();

	if (c)
		c->page_faults++;
	return 0;
}

static __always_inline void reclaim_begin(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 now_ns;

	if (!current_counters())
		return;
	now_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&mem_reclaim, &tid, &now_ns, BPF_ANY) == -E2BIG)
		STAT_INC(mem_stats, MEM_STAT_RECLAIMERS_FULL);
}

static __always_inline void reclaim_end(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct mem_slot_counters *c;
	__u64 *start, now_ns;

	start = bpf_map_lookup_elem(&mem_reclaim, &tid);
	if (!start)
		return;
	now_ns = bpf_ktime_get_ns();
	c = current_counters();
	if (c && now_ns > *start) {
		c->reclaim_stall_ns += now_ns - *start;
		c->reclaims++;
	}
	bpf_map_delete_elem(&mem_reclaim, &tid);
}

SEC("tp_btf/mm_vmscan_direct_reclaim_begin")
int BPF_PROG(mem_direct_reclaim_begin)
{
	reclaim_begin();
	return 0;
}

SEC("tp_btf/mm_vmscan_direct_reclaim_end")
int BPF_PROG(mem_direct_reclaim_end)
{
	reclaim_end();
	return 0;
}

SEC("tp_btf/mm_vmscan_memcg_reclaim_begin")
int BPF_PROG(mem_memcg_reclaim_begin)
{
	reclaim_begin();
	return 0;
}

SEC("tp_btf/mm_vmscan_memcg_reclaim_end")
int BPF_PROG(mem_memcg_reclaim_end)
{
	reclaim_end();
	return 0;
}
