/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Parsers for the kernel files the collector reads: cgroup v1/v2 statistics,
 * PSI, schedstat, mountinfo and /proc/<pid>/cgroup. They are strict (a line
 * that does not have the documented shape rejects the whole file, because a
 * half-understood file gives wrong numbers), bounded (input length, line
 * length and field counts are capped) and never read past len, so they are
 * fuzzed directly on raw bytes (tests/fuzz/collect/). Input need not be
 * NUL-terminated. All return 0 or -errno and write outputs only on success.
 */
#ifndef PRESCIENT_COLLECT_PARSE_H
#define PRESCIENT_COLLECT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest file the parsers accept; io.stat of a host with many devices fits. */
#define COLLECT_PARSE_MAX_BYTES (64 * 1024)
#define COLLECT_PARSE_MAX_LINE	4096
#define COLLECT_PARSE_MAX_KEYS	32

/*
 * Flat keyed files ("key value\n" lines: cpu.stat, memory.stat of v1 and v2).
 * Looks up keys[0..n_keys) and stores their values; bit i of *ret_found is
 * set when keys[i] was present. Unknown keys are allowed (the kernel adds
 * some), malformed lines and duplicated wanted keys are not.
 */
int collect_parse_keyed(const char *buf, size_t len, const char *const *keys, size_t n_keys,
			uint64_t *ret_values, uint32_t *ret_found);

/* A file holding one unsigned decimal number (cpuacct.usage, memory.current). */
int collect_parse_u64_file(const char *buf, size_t len, uint64_t *ret);

/* Sums over devices of cgroup v2 io.stat ("MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. ..."). */
struct collect_io_counters {
	uint64_t rd_bytes;
	uint64_t wr_bytes;
	uint64_t rd_ios;
	uint64_t wr_ios;
};
int collect_parse_io_stat(const char *buf, size_t len, struct collect_io_counters *ret);

/*
 * cgroup v1 blkio.throttle.io_service_bytes_recursive or io_serviced_recursive:
 * "MAJ:MIN Read|Write|Sync|Async|Discard|Total N" lines and a final "Total N".
 * Returns the sums of Read and Write over devices.
 */
int collect_parse_blkio(const char *buf, size_t len, uint64_t *ret_read, uint64_t *ret_write);

/*
 * PSI file (cpu.pressure, memory.pressure, io.pressure): the "some" line's
 * avg10 in percent and its total, the cumulative time in microseconds that
 * at least one task of the group stalled (a counter: the collector turns its
 * delta into the share of the last tick stalled). A "full" line, when
 * present, must be well formed too; nothing else may follow.
 */
int collect_parse_psi_some(const char *buf, size_t len, double *ret_avg10,
			   uint64_t *ret_total_usec);

/* The same, avg10 only. */
int collect_parse_psi_some_avg10(const char *buf, size_t len, double *ret);

/* /proc/<pid>/task/<tid>/schedstat: "run_ns wait_ns timeslices". */
int collect_parse_schedstat(const char *buf, size_t len, uint64_t *ret_run_ns,
			    uint64_t *ret_wait_ns);

/* Where each cgroup hierarchy is mounted, from /proc/self/mountinfo. */
enum collect_hier {
	COLLECT_HIER_V2,
	COLLECT_HIER_CPUACCT,
	COLLECT_HIER_MEMORY,
	COLLECT_HIER_BLKIO,
	COLLECT_NR_HIERS,
};

struct collect_mount {
	char mount_point[256]; /* absolute, "" when not found */
	char root[256];	       /* the hierarchy path shown at mount_point, usually "/" */
};

/*
 * Fills mounts[] for each hierarchy whose mount point lies under prefix
 * (prefix itself included; NULL or "" = anywhere). Octal escapes (\040) in
 * paths are decoded. The first mount of each hierarchy wins.
 */
int collect_parse_mountinfo(const char *buf, size_t len, const char *prefix,
			    struct collect_mount ret_mounts[COLLECT_NR_HIERS]);

/*
 * /proc/<pid>/cgroup: the path of each hierarchy ("" when absent) with a
 * trailing "/emulator" component removed (libvirt keeps QEMU's main thread
 * there; the VM is its parent). Paths are relative to the hierarchy root.
 */
struct collect_proc_cgroup {
	char path[COLLECT_NR_HIERS][512];
};
int collect_parse_proc_cgroup(const char *buf, size_t len, struct collect_proc_cgroup *ret);

#endif
