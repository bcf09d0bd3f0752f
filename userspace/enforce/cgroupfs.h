/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The cgroup v2 filesystem writer: for hosts without systemd and for the
 * knobs nobody else manages (hugetlb.*), architecture.md "Who owns which
 * knob". Every write is read back and compared after the kernel's own
 * normalisation (page rounding, set order); a failure names the file.
 *
 * Values: UINT64_MAX stands for "max" everywhere. Pure formatting and parsing
 * (cgroupfs_format.c) is separate from the file access (cgroupfs.c) so the
 * parsers can be fuzzed and unit-tested without a cgroup mount.
 */
#ifndef PRESCIENT_ENFORCE_CGROUPFS_H
#define PRESCIENT_ENFORCE_CGROUPFS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpuset.h"

#define ENFORCE_CG_MAX UINT64_MAX /* "max" in a cgroup file */

/* Kernel limits (kernel/sched/core.c, mm/memcontrol.c, block/blk-iocost.c). */
#define ENFORCE_CPU_PERIOD_MIN_USEC 1000ULL
#define ENFORCE_CPU_PERIOD_MAX_USEC 1000000ULL
#define ENFORCE_CPU_QUOTA_MIN_USEC  1000ULL
#define ENFORCE_CPU_WEIGHT_MIN	    1U
#define ENFORCE_CPU_WEIGHT_MAX	    10000U
#define ENFORCE_IO_WEIGHT_MIN	    1U
#define ENFORCE_IO_WEIGHT_MAX	    10000U

/* Buffers for one formatted line; io.max is the longest. */
#define ENFORCE_CG_LINE_MAX 128

/* cpu.max: "max 100000" or "50000 100000". */
struct enforce_cpu_max {
	uint64_t quota_usec; /* ENFORCE_CG_MAX = unlimited */
	uint64_t period_usec;
};

/* One io.max line: "8:16 rbps=1048576 wbps=max riops=max wiops=max". */
struct enforce_io_max {
	uint32_t major, minor;
	uint64_t rbps, wbps, riops, wiops; /* ENFORCE_CG_MAX = unlimited */
};

/* The memory files the writer sets; their names index this enum. */
enum enforce_memory_knob {
	ENFORCE_MEMORY_MIN,
	ENFORCE_MEMORY_LOW,
	ENFORCE_MEMORY_HIGH,
	ENFORCE_MEMORY_MAX,
	ENFORCE_NR_MEMORY_KNOBS,
};

/* "memory.min" ... ; NULL outside the enum. */
const char *enforce_memory_knob_file(enum enforce_memory_knob knob);

/* --- pure: cgroupfs_format.c ------------------------------------------- */

/* Checks against the kernel's ranges: -EINVAL / -ERANGE before any write. */
int enforce_cpu_max_validate(const struct enforce_cpu_max *v);
int enforce_cpu_max_format(const struct enforce_cpu_max *v, char *buf, size_t size);
/* Strict: "<quota|max> <period>" with one trailing newline at most. */
int enforce_cpu_max_parse(const char *s, struct enforce_cpu_max *ret);

int enforce_weight_parse(const char *s, uint32_t *ret); /* cpu.weight: 1..10000 */

/* "max" or a byte count (memory.*, hugetlb.*.max). */
int enforce_limit_parse(const char *s, uint64_t *ret_bytes);
int enforce_limit_format(uint64_t bytes, char *buf, size_t size);

int enforce_io_max_validate(const struct enforce_io_max *v);
int enforce_io_max_format(const struct enforce_io_max *v, char *buf, size_t size);
/* One line, keys in any order, each once, all four present. */
int enforce_io_max_parse_line(const char *line, size_t len, struct enforce_io_max *ret);
/*
 * Finds the device's line in a whole io.max file. A device with no line has
 * no limit: ret is then all ENFORCE_CG_MAX and the return value is 0 too.
 * -EINVAL when any line is malformed.
 */
int enforce_io_max_find(const char *content, uint32_t major, uint32_t minor,
			struct enforce_io_max *ret);

/*
 * io.weight: "default 100\n8:0 200\n". Finds the weight for a device, or the
 * default line when is_default. A device without a line has the default
 * weight. -EINVAL when any line is malformed, -ENOENT without a default line.
 */
int enforce_io_weight_find(const char *content, bool is_default, uint32_t major, uint32_t minor,
			   uint32_t *ret_weight);

/* The kernel's hugetlb file stem for a page size: 2048 -> "2MB", 1048576 -> "1GB". */
int enforce_hugetlb_size_name(uint64_t page_kb, char *buf, size_t size);

/* --- file access: cgroupfs.c ------------------------------------------ */

/*
 * An open cgroup directory. root is the cgroup2 mount ("/sys/fs/cgroup" on a
 * v2 host, "/sys/fs/cgroup/unified" on a hybrid one, or a test's mount);
 * path is relative to it ("" or "/" for the root, no "..").
 * err_file/err_detail describe the last failure for the caller's message.
 */
struct enforce_cgroup {
	int dir_fd;
	char path[PATH_MAX];	 /* root + "/" + path, for messages */
	char err_file[PATH_MAX]; /* the file that failed, full path */
	char err_detail[256];	 /* e.g. "wrote '1-3', kernel shows '1'" */
};

int enforce_cgroup_open(const char *root, const char *path, struct enforce_cgroup **ret);
void enforce_cgroup_free(struct enforce_cgroup *cg);
void enforce_cgroup_freep(struct enforce_cgroup **cg);

/*
 * Enables controllers ("cpu cpuset memory io hugetlb") in the
 * cgroup.subtree_control of every cgroup from root down to path's parent,
 * so path gets their files. Already-enabled ones are left alone.
 */
int enforce_cgroupfs_controllers_enable(const char *root, const char *path,
					const char *controllers);

/*
 * Setters. Each validates, writes, reads back and compares; 0 on success,
 * -errno from the kernel, -EINVAL/-ERANGE before writing for bad values, -EIO
 * when the read-back differs from the request (cg->err_detail says how).
 */
int enforce_cgroup_cpu_max_set(struct enforce_cgroup *cg, const struct enforce_cpu_max *v);
int enforce_cgroup_cpu_weight_set(struct enforce_cgroup *cg, uint32_t weight);
/* Checks cpus against the parent's cpuset.cpus.effective first (-ERANGE naming it). */
int enforce_cgroup_cpuset_set(struct enforce_cgroup *cg, const struct enforce_cpuset *cpus);
/* Rounded down to the page size, as the kernel stores pages. */
int enforce_cgroup_memory_set(struct enforce_cgroup *cg, enum enforce_memory_knob knob,
			      uint64_t bytes);
int enforce_cgroup_io_max_set(struct enforce_cgroup *cg, const struct enforce_io_max *v);
/* weight 0 resets the device to the default; is_default sets the default line. */
int enforce_cgroup_io_weight_set(struct enforce_cgroup *cg, bool is_default, uint32_t major,
				 uint32_t minor, uint32_t weight);
/* hugetlb.<size>.max; bytes rounded down to whole huge pages. */
int enforce_cgroup_hugetlb_max_set(struct enforce_cgroup *cg, uint64_t page_kb, uint64_t bytes);

/* Readers of the same files, for reconciliation after a restart. */
int enforce_cgroup_cpu_max_get(struct enforce_cgroup *cg, struct enforce_cpu_max *ret);
int enforce_cgroup_memory_get(struct enforce_cgroup *cg, enum enforce_memory_knob knob,
			      uint64_t *ret_bytes);
int enforce_cgroup_cpuset_effective_get(struct enforce_cgroup *cg, struct enforce_cpuset *ret);

#endif
