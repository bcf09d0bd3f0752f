/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * host_pool: reads this host's resources into the pool model (plan/pool.h):
 * online CPUs, NUMA nodes and their CPUs, memory, hugepages per size and per
 * node (what the kernel delivered, read back, never what was asked), the
 * CPUs machine.slice may use, the uplink's bandwidth (the configured one, or
 * the link speed of the default route's interface) and the disk bandwidth
 * (configured only: no kernel file says what a disk can do). Every path is
 * under a root given by the caller, so tests read fixture trees. Private to
 * userspace/daemon.
 *
 * Each part is read on its own: a missing or garbled file leaves that part
 * unknown (its error set, its values NAN or empty) and the others intact, so
 * one odd sysfs file never hides the whole host.
 *
 * A hugepage dimension's total is what the pool holds (nr_hugepages) plus,
 * when the options allow growing it, the pages that could still be made on
 * that node from a share of its free memory (see host_pool_options), so that
 * admission can grant pages the daemon will then make (manager_hugepages.c).
 */
#ifndef PRESCIENT_DAEMON_HOST_POOL_H
#define PRESCIENT_DAEMON_HOST_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
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
	HOST_POOL_NET,	     /* the uplink: proc net/route, sys class/net/<if>/speed */
	HOST_POOL_DISK,	     /* the disk bandwidth: configured, else unknown */
	HOST_POOL_NR_PARTS,
};

/*
 * What the configuration adds to the readings ([pool] and [alloc] risk
 * bounds). All zero is valid: no reserves, no overcommit, the default
 * route's interface at its link speed, no disk dimension.
 */
struct host_pool_options {
	const char *uplink;		  /* interface name; NULL or "" = the default route's */
	uint64_t net_capacity_bps;	  /* bits/s; 0 = <sys_root>/class/net/<uplink>/speed */
	uint64_t disk_capacity_bps;	  /* bytes/s; 0 = unknown: no "disk" dimension */
	double host_reserved_cores;	  /* on "cpu", at most its total */
	uint64_t host_reserved_mem_bytes; /* on "mem", at most its total */
	double risk_bound[POOL_NR_KINDS]; /* on every dimension of the kind; hugepages stay 0 */
	/*
	 * Share of a node's free memory, beyond host_reserved_mem_bytes, that
	 * its hugepage pools may still grow into, split evenly between the
	 * page sizes the node has; 0 = pools do not grow (total = nr_hugepages).
	 */
	double hugepages_grow_share;
	/*
	 * Pages the daemon already added to each pool (manager_hugepages.c):
	 * the memory they took was free before, so the share is of the free
	 * memory with them counted back in, and making pages does not make
	 * room for more (else leases could, step by step, take all of it).
	 */
	uint32_t n_hugepages_added;
	struct host_pool_hugepages_added {
		char dim[POOL_NAME_MAX]; /* "hugepages-2048kB:node0" */
		uint64_t pages;
	} hugepages_added[POOL_MAX_DIMS];
};

/* The grow share host_pool_options_from_config() sets when [alloc] manages hugepages. */
#define HOST_POOL_HUGEPAGES_GROW_SHARE 0.5
/*
 * Growable pages are counted in grains of this many bytes (at least one
 * page), so that free memory moving by a few MiB does not change the pool
 * (and the ledger's generation) every step.
 */
#define HOST_POOL_HUGEPAGES_GRAIN_BYTES (256ULL << 20)

struct host_pool {
	struct pool pool; /* n_cpus, n_nodes, node_cpus, machine_cpus, dims cpu, mem,
			     hugepages-<kb>kB:node<n>, net:<uplink>, disk */
	struct pool_cpuset online_cpus;
	uint32_t node_mask;	  /* bit n: nodeN exists (node ids may be sparse) */
	bool machine_from_cgroup; /* machine_cpus read from the cgroup, not all online CPUs */
	double mem_total_bytes;	  /* NAN when unknown */
	double mem_available_bytes;
	char uplink[CONFIG_IFNAME_MAX]; /* "" when unknown; set even when its speed is not */
	bool uplink_from_route;		/* found through the default route, not configured */
	double net_capacity_kbps;	/* NAN when unknown */
	double disk_capacity_kbps;	/* NAN when unknown */
	/*
	 * Per dimension index of pool.dims, hugepage dimensions only: the
	 * pool the kernel holds (nr_hugepages) and the pages that could still
	 * be made (the dimension's total is their sum).
	 */
	uint64_t hugepages_nr[POOL_MAX_DIMS];
	uint64_t hugepages_growable[POOL_MAX_DIMS];
	/* node<N>/meminfo MemFree, NAN when unknown or not read (no growth asked). */
	double node_mem_free_bytes[POOL_MAX_NODES];
	int error[HOST_POOL_NR_PARTS]; /* -errno of each part, 0 when read */
	/* What the user can do about a part's error, NULL when nothing: static strings. */
	const char *error_hint[HOST_POOL_NR_PARTS];
};

const char *host_pool_part_to_string(enum host_pool_part p);

/*
 * Reads everything and applies opt (NULL = all zero). ret is always written
 * (unknown parts marked in ret->error and, where the configuration can fix
 * it, ret->error_hint); returns 0 when every part was read, else the first
 * part's -errno. -EINVAL only for missing roots. Errors of the net part:
 * -ENETUNREACH no default route, -ENODATA a link speed of -1 or 0 (virtual
 * NICs, link down), -ENOENT no such interface, -EINVAL a garbled file or an
 * invalid uplink name; of the disk part: -ENODATA when no capacity is set.
 */
int host_pool_read_config(const struct host_pool_roots *roots, const struct host_pool_options *opt,
			  struct host_pool *ret);
/* host_pool_read_config() with all-zero options, so the disk part is always -ENODATA. */
int host_pool_read(const struct host_pool_roots *roots, struct host_pool *ret);

/* The options of cfg's [pool] and [alloc] keys; ret->uplink points into cfg. */
void host_pool_options_from_config(const struct config *cfg, struct host_pool_options *ret);

/*
 * /proc/meminfo text: MemTotal and MemAvailable in bytes. Strict about the
 * lines it uses ("Key:<spaces>digits kB"), ignores the others; -EINVAL on a
 * garbled or duplicate wanted line, -ENODATA when one is absent.
 */
int host_pool_meminfo_parse(const char *text, double *ret_total_bytes, double *ret_available_bytes);

/*
 * /proc/net/route text: the interface of the IPv4 default route (destination
 * and mask 00000000, up, not a reject route) with the lowest metric, the
 * first one on a tie. -ENETUNREACH when there is none, -EINVAL on a garbled
 * line or interface name, -ENOBUFS when size is too small.
 */
int host_pool_route_default_parse(const char *text, char *ret_ifname, size_t size);
/*
 * /sys/class/net/<if>/speed text: Mbit/s, one trailing newline allowed.
 * -ENODATA for -1 or 0 (the driver does not know), -EINVAL otherwise.
 */
int host_pool_link_speed_parse(const char *text, uint64_t *ret_mbps);
/*
 * <sys>/devices/system/node/node<N>/meminfo text: "Node <node> MemFree:" in
 * bytes. Strict about that line, ignores the others; -EINVAL when it is
 * garbled, duplicated or names another node, -ENODATA when absent.
 */
int host_pool_node_meminfo_parse(const char *text, uint32_t node, double *ret_free_bytes);

/*
 * Pages that could still be made on a node: of the pages the share allows
 * in all, floor((free + added * page - reserved) * share / page) counted in
 * whole grains (HOST_POOL_HUGEPAGES_GRAIN_BYTES), those not added yet. 0
 * when nothing is left, share is not in (0, 1] or an input is not finite.
 */
uint64_t host_pool_hugepages_growable(double node_free_bytes, double reserved_bytes, double share,
				      uint64_t page_kb, uint64_t added_pages);

/*
 * The pool a hugepage dimension should have (nr_hugepages to ask for):
 * need = pages live leases hold on it, nr and free = what the kernel holds
 * now, added = pages this daemon added earlier and has not given back. It
 * grows to need; above need it gives back at most added, and only pages
 * that are free; otherwise it keeps nr. Pages someone else put in the pool
 * are never given back.
 */
uint64_t host_pool_hugepages_target(uint64_t need, uint64_t nr, uint64_t free, uint64_t added);

/* Whether name is a valid network interface name (as the kernel's dev_valid_name()). */
bool host_pool_ifname_valid(const char *name);

#endif
