/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Plain data of the mem probe (mem.bpf.c), shared with its userspace owner. */
#ifndef PRESCIENT_BPF_MEM_H
#define PRESCIENT_BPF_MEM_H

#include "tracked.h"

/* Threads of tracked processes inside reclaim at once. */
#define MEM_MAX_RECLAIMERS 4096

/* Per VM slot, per CPU; summed in userspace. */
struct mem_slot_counters {
	__u64 page_faults;	/* user page faults, minor and major */
	__u64 reclaim_stall_ns; /* time in direct and memcg reclaim */
	__u64 reclaims;
};

enum mem_stat {
	MEM_STAT_RECLAIMERS_FULL,
	MEM_STAT_BAD_SLOT,
	MEM_NR_STATS,
};

#endif
