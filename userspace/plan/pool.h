/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pool: the host's resources as the allocation engine sees them.
 *
 * A pool is a flat list of dimensions, each one scalar capacity of one kind:
 * CPU (cores of machine.slice's cpuset), memory (bytes), hugepages of one
 * size on one NUMA node (pages), bandwidth of one uplink or tap (kbps), one
 * disk's bandwidth (kbps). Leases, forecasts and the risk budget all work per
 * dimension, so a new kind needs no new code here. CPUs are also kept as
 * sets, because pinned cores are reserved whole and never overcommitted.
 *
 * The caller fills the pool from readings (the daemon reads sysfs); this file
 * only parses the sysfs value formats, strictly, and never touches a file.
 */
#ifndef PRESCIENT_PLAN_POOL_H
#define PRESCIENT_PLAN_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POOL_MAX_CPUS	  1024
#define POOL_CPUSET_WORDS (POOL_MAX_CPUS / 64)
#define POOL_MAX_NODES	  16
#define POOL_MAX_DIMS	  32
#define POOL_NAME_MAX	  40
#define POOL_NODE_ANY	  UINT32_MAX

struct pool_cpuset {
	uint64_t bits[POOL_CPUSET_WORDS];
};

enum pool_kind {
	POOL_KIND_CPU,	     /* cores */
	POOL_KIND_MEM,	     /* bytes */
	POOL_KIND_HUGEPAGES, /* pages of page_kb on node */
	POOL_KIND_NET,	     /* kbps of one uplink or tap */
	POOL_KIND_DISK,	     /* kbps of one disk (read + write) */
	POOL_NR_KINDS,
};

/* How a VM's reservations are sized and whether they may be overcommitted. */
enum pool_class {
	POOL_CLASS_GUARANTEED,	/* reserved at its upper quantile, never overcommitted */
	POOL_CLASS_BURSTABLE,	/* reserved at its mean, admitted within the risk budget */
	POOL_CLASS_BEST_EFFORT, /* nothing reserved */
	POOL_NR_CLASSES,
};

struct pool_dim {
	enum pool_kind kind;
	char name[POOL_NAME_MAX]; /* unique: "cpu", "mem", "hugepages-2048kB:node0", "net:eth0" */
	uint32_t node;		  /* NUMA node, POOL_NODE_ANY when not node-bound */
	uint64_t page_kb;	  /* hugepages only */
	double total;		  /* capacity in the kind's unit */
	double host_reserved;	  /* kept back for the host itself, never leased */
	double risk_bound;	  /* allowed P(demand > capacity) within the horizon; 0 = none */
	double observed_free;	  /* what the kernel last reported free, NAN when not read */
};

struct pool {
	uint32_t n_cpus;		 /* CPUs the host has online */
	uint32_t n_nodes;		 /* NUMA nodes (>= 1) */
	struct pool_cpuset machine_cpus; /* what machine.slice may use */
	struct pool_cpuset node_cpus[POOL_MAX_NODES];
	uint32_t n_dims;
	struct pool_dim dims[POOL_MAX_DIMS];
};

const char *pool_kind_to_string(enum pool_kind k);
const char *pool_class_to_string(enum pool_class c);
int pool_class_from_string(const char *s, enum pool_class *ret);

/* An empty pool: no CPUs, no dimensions, one node. */
void pool_init(struct pool *p);
/*
 * Adds a dimension; -EEXIST for a duplicate name, -E2BIG when full, -EINVAL
 * for a negative or non-finite capacity. ret_index may be NULL.
 */
int pool_dim_add(struct pool *p, const struct pool_dim *d, uint32_t *ret_index);
/* Index of the dimension named name, or -ENOENT. */
int pool_dim_find(const struct pool *p, const char *name);
/* The CPU dimension's total from machine_cpus: adds or updates "cpu". */
int pool_cpu_dim_sync(struct pool *p, double host_reserved_cores, double risk_bound);

/*
 * Linux cpuset list format ("0-3,8,10-11", "" for empty, one trailing
 * newline allowed): strict, no spaces, ranges ascending, CPUs below
 * POOL_MAX_CPUS. -EINVAL on anything else, -ERANGE on a CPU too large.
 */
int pool_cpuset_parse(const char *s, struct pool_cpuset *ret);
/* The same format, shortest form; -ENOBUFS if size is too small. */
int pool_cpuset_format(const struct pool_cpuset *set, char *buf, size_t size);
void pool_cpuset_set(struct pool_cpuset *set, uint32_t cpu);
bool pool_cpuset_test(const struct pool_cpuset *set, uint32_t cpu);
uint32_t pool_cpuset_count(const struct pool_cpuset *set);
bool pool_cpuset_is_subset(const struct pool_cpuset *sub, const struct pool_cpuset *set);
bool pool_cpuset_intersects(const struct pool_cpuset *a, const struct pool_cpuset *b);
void pool_cpuset_or(struct pool_cpuset *dst, const struct pool_cpuset *src);

/*
 * A hugepage counter as sysfs shows it (nr_hugepages, free_hugepages: a
 * decimal count, one trailing newline allowed); -EINVAL otherwise.
 */
int pool_hugepages_count_parse(const char *s, uint64_t *ret);
/* A hugepages directory name, "hugepages-2048kB", into the page size; -EINVAL otherwise. */
int pool_hugepages_dir_parse(const char *name, uint64_t *ret_page_kb);
/*
 * Adds or updates the dimension "hugepages-<kb>kB:node<n>" from the two sysfs
 * strings of that node: total = nr_hugepages (what the kernel delivered, not
 * what was asked), observed_free = free_hugepages, which must be <= nr.
 */
int pool_hugepages_dim_set(struct pool *p, uint32_t node, uint64_t page_kb, const char *nr_str,
			   const char *free_str, uint32_t *ret_index);

#endif
