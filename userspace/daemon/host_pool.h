/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * host_pool: reads this host's resources into the pool model (plan/pool.h):
 * online CPUs, NUMA nodes and their CPUs, memory, hugepages per size and per
 * node (what the kernel delivered, read back, never what was asked), and the
 * CPUs machine.slice may use. Every path is under a root given by the caller,
 * so tests read fixture trees. Private to userspace/daemon.
 *
 * Each part is read on its own: a missing or garbled file leaves that part
 * unknown (its error set, its values NAN or empty) and the others intact, so
 * one odd sysfs file never hides the whole host.
 */
#ifndef PRESCIENT_DAEMON_HOST_POOL_H
#define PRESCIENT_DAEMON_HOST_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "pool.h"

struct host_pool_roots {
	const char *sys_root;	 /* "/sys" */
	const char *proc_root;	 /* "/proc" */
	const char *cgroup_root; /* "/sys/fs/cgroup" (v2: machine.slice/cpuset.cpus.effective) */
};

enum host_pool_part {
	HOST_POOL_ONLINE,    /* devices/system/cpu/online */
	HOST_POOL_NODES,     /* devices/system/node/node* /cpulist */
	HOST_POOL_MEM,	     /* meminfo MemTotal, MemAvailable */
	HOST_POOL_HUGEPAGES, /* node* /hugepages/hugepages-*kB/{nr,free}_hugepages */
	HOST_POOL_MACHINE,   /* machine.slice/cpuset.cpus.effective, else online */
	HOST_POOL_NR_PARTS,
};

struct host_pool {
	struct pool pool; /* n_cpus, n_nodes, node_cpus, machine_cpus, dims cpu/mem/hugepages */
	struct pool_cpuset online_cpus;
	uint32_t node_mask;	  /* bit n: nodeN exists (node ids may be sparse) */
	bool machine_from_cgroup; /* machine_cpus read from the cgroup, not all online CPUs */
	double mem_total_bytes;	  /* NAN when unknown */
	double mem_available_bytes;
	int error[HOST_POOL_NR_PARTS]; /* -errno of each part, 0 when read */
};

const char *host_pool_part_to_string(enum host_pool_part p);

/*
 * Reads everything. ret is always written (unknown parts marked in
 * ret->error); returns 0 when every part was read, else the first part's
 * -errno. -EINVAL only for missing roots.
 */
int host_pool_read(const struct host_pool_roots *roots, struct host_pool *ret);

/*
 * /proc/meminfo text: MemTotal and MemAvailable in bytes. Strict about the
 * lines it uses ("Key:<spaces>digits kB"), ignores the others; -EINVAL on a
 * garbled or duplicate wanted line, -ENODATA when one is absent.
 */
int host_pool_meminfo_parse(const char *text, double *ret_total_bytes, double *ret_available_bytes);

#endif
