/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * BPF side of the tracking maps (see tracked.h). Each program declares the
 * ones it reads with the macros below; userspace creates each map once and
 * hands the same fd to every skeleton (bpf_map__reuse_fd), so one update of
 * the VM list serves all probes. Lookups only: userspace is the sole writer.
 */
#ifndef PRESCIENT_BPF_TRACKED_BPF_H
#define PRESCIENT_BPF_TRACKED_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "tracked.h"

/* Map update result when a bounded map is full (no errno.h in BPF). */
#define E2BIG 7

/* tgid (QEMU process) -> VM slot */
#define TRACKED_TGIDS_MAP                                                                          \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_HASH);                                                   \
		__uint(max_entries, TRACKED_MAX_TGIDS);                                            \
		__type(key, __u32);                                                                \
		__type(value, __u32);                                                              \
	} tracked_tgids SEC(".maps")

/* tid (vCPU thread) -> VM slot */
#define TRACKED_VCPUS_MAP                                                                          \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_HASH);                                                   \
		__uint(max_entries, TRACKED_MAX_VCPUS);                                            \
		__type(key, __u32);                                                                \
		__type(value, __u32);                                                              \
	} tracked_vcpus SEC(".maps")

/* (netns inode, ifindex) -> VM slot */
#define TRACKED_NETDEVS_MAP                                                                        \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_HASH);                                                   \
		__uint(max_entries, TRACKED_MAX_NETDEVS);                                          \
		__type(key, struct tracked_netdev_key);                                            \
		__type(value, __u32);                                                              \
	} tracked_netdevs SEC(".maps")

/*
 * The pre-filters live in the object's .bss, written by userspace through
 * the skeleton's mmap; a plain load reads them, no helper call.
 */
#define TRACKED_TGID_FILTER                                                                        \
	__u64 tracked_tgid_filter[TRACKED_TGID_FILTER_BITS / 64];                                  \
	static __always_inline bool tgid_maybe_tracked(__u32 tgid)                                 \
	{                                                                                          \
		__u32 h = tgid & (TRACKED_TGID_FILTER_BITS - 1);                                   \
		return tracked_tgid_filter[h / 64] & (1ULL << (h % 64));                           \
	}

#define TRACKED_NETDEV_FILTER                                                                      \
	__u64 tracked_netdev_filter[TRACKED_NETDEV_FILTER_BITS / 64];                              \
	static __always_inline bool ifindex_maybe_tracked(__u32 ifindex)                           \
	{                                                                                          \
		__u32 h = ifindex & (TRACKED_NETDEV_FILTER_BITS - 1);                              \
		return tracked_netdev_filter[h / 64] & (1ULL << (h % 64));                         \
	}

/* Bumps counter idx of a per-CPU stats array (overflows, lost events). */
#define STAT_INC(map, idx)                                                                         \
	do {                                                                                       \
		__u32 _k = (idx);                                                                  \
		__u64 *_v = bpf_map_lookup_elem(&(map), &_k);                                      \
		if (_v)                                                                            \
			(*_v)++;                                                                   \
	} while (0)

#endif
