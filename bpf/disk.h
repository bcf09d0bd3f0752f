/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Plain data of the disk probe (disk.bpf.c), shared with its userspace owner. */
#ifndef PRESCIENT_BPF_DISK_H
#define PRESCIENT_BPF_DISK_H

#include "tracked.h"

/* Requests of tracked processes in flight at once. */
#define DISK_MAX_INFLIGHT 8192
/* Latency buckets: bucket i counts latencies in [2^i, 2^(i+1)) usec, the last one beyond. */
#define DISK_LAT_BUCKETS 28

enum disk_dir {
	DISK_READ,
	DISK_WRITE,
	DISK_NR_DIRS,
};

/* Per VM slot, per CPU; summed in userspace. */
struct disk_slot_counters {
	__u64 bytes[DISK_NR_DIRS];
	__u64 ops[DISK_NR_DIRS];
	__u64 lat_usec_log2[DISK_NR_DIRS][DISK_LAT_BUCKETS];
};

enum disk_stat {
	DISK_STAT_INFLIGHT_FULL, /* a request could not be tracked: map full */
	DISK_STAT_BAD_SLOT,
	DISK_NR_STATS,
};

#endif
