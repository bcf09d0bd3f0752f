// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * disk: bytes, operations and a log2 latency histogram per VM, reads and
 * writes apart, attributed to the process that submitted the request (the
 * tgid current at block_io_start, or at block_rq_insert/issue on kernels
 * before 6.5), so requests dispatched later from kworkers still count for
 * the QEMU that asked. Latency runs from submission to completion.
 *
 * Events: block_io_start or block_rq_insert+block_rq_issue, and
 * block_rq_complete (tp_btf); userspace turns off the start events the
 * kernel lacks. Cost: the tgid pre-filter at start, and at completion a
 * disk_inflight lookup only while tracked requests are in flight; tracked
 * requests add a hash insert and delete. Requests are few next to the I/O
 * they stand for.
 * Maps: tracked_tgids and the tgid pre-filter are shared; disk_inflight
 * (request -> submitter, bounded, overflow counted), disk_counters and
 * disk_stats are this probe's own.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "disk.h"
#include "tracked.bpf.h"

/* blk_opf_t: the operation is the low 8 bits (REQ_OP_BITS) since 4.10. */
#define REQ_OP_MASK_BITS 0xff

char LICENSE[] SEC("license") = "GPL";

TRACKED_TGIDS_MAP;
TRACKED_TGID_FILTER

struct inflight {
	__u64 start_ns;
	__u32 slot;
	__u32 dir;
};

/*
 * Tracked requests in flight (an upper bound: a request whose completion
 * was never seen keeps it up). At zero, completions skip the map lookup.
 */
__u64 inflight_tracked;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DISK_MAX_INFLIGHT);
	__type(key, __u64); /* struct request address */
	__type(value, struct inflight);
} disk_inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TRACKED_MAX_VMS);
	__type(key, __u32);
	__type(value, struct disk_slot_counters);
} disk_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DISK_NR_STATS);
	__type(key, __u32);
	__type(value, __u64);
} disk_stats SEC(".maps");

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) {
		v >>= 32;
		r += 32;
	}
	if (v >> 16) {
		v >>= 16;
		r += 16;
	}
	if (v >> 8) {
		v >>= 8;
		r += 8;
	}
	if (v >> 4) {
		v >>= 4;
		r += 4;
	}
	if (v >> 2) {
		v >>= 2;
		r += 2;
	}
	if (v >> 1)
		r += 1;
	return r;
}

static __always_inline void request_start(struct request *rq, __u64 flags)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 key = (__u64)rq;
	struct inflight in = {};
	__u32 op, *slot;
	long err;

	if (!tgid_maybe_tracked(tgid))
		return;
	slot = bpf_map_lookup_elem(&tracked_tgids, &tgid);
	if (!slot)
		return;
	op = rq->cmd_flags & REQ_OP_MASK_BITS;
	if (op == REQ_OP_READ)
		in.dir = DISK_READ;
	else if (op == REQ_OP_WRITE)
		in.dir = DISK_WRITE;
	else
		return;
	in.slot = *slot;
	in.start_ns = bpf_ktime_get_ns();
	err = bpf_map_update_elem(&disk_inflight, &key, &in, flags);
	if (err == -E2BIG)
		STAT_INC(disk_stats, DISK_STAT_INFLIGHT_FULL);
	else if (!err)
		__sync_fetch_and_add(&inflight_tracked, 1);
}

/* 6.5+: once per request, in the submitter's context. */
SEC("tp_btf/block_io_start")
int BPF_PROG(disk_io_start, struct request *rq)
{
	request_start(rq, BPF_ANY);
	return 0;
}

/* Older kernels: the first of insert (scheduler) and issue (direct) wins. */
SEC("tp_btf/block_rq_insert")
int BPF_PROG(disk_rq_insert, struct request *rq)
{
	request_start(rq, BPF_ANY);
	return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(disk_rq_issue, struct request *rq)
{
	request_start(rq, BPF_NOEXIST);
	return 0;
}

static __always_inline void inflight_done(__u64 key)
{
	if (bpf_map_delete_elem(&disk_inflight, &key) == 0)
		__sync_fetch_and_add(&inflight_tracked, -1);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(disk_rq_complete, struct request *rq, int error, unsigned int nr_bytes)
{
	__u64 key = (__u64)rq, now_ns = bpf_ktime_get_ns();
	struct disk_slot_counters *c;
	struct inflight *in;
	__u32 slot, dir, b;

	if (!inflight_tracked)
		return 0;
	in = bpf_map_lookup_elem(&disk_inflight, &key);
	if (!in)
		return 0;
	slot = in->slot;
	dir = in->dir;
	c = bpf_map_lookup_elem(&disk_counters, &slot);
	if (!c || dir >= DISK_NR_DIRS) {
		STAT_INC(disk_stats, DISK_STAT_BAD_SLOT);
		inflight_done(key);
		return 0;
	}
	c->bytes[dir] += nr_bytes;
	/* A request may complete in parts: count it once, at its last part. */
	if (nr_bytes < rq->__data_len)
		return 0;
	c->ops[dir]++;
	b = log2_u64(now_ns > in->start_ns ? (now_ns - in->start_ns) / 1000 : 0);
	if (b >= DISK_LAT_BUCKETS)
		b = DISK_LAT_BUCKETS - 1;
	c->lat_usec_log2[dir][b]++;
	inflight_done(key);
	return 0;
}
