// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The host pool reader against fixture trees (tests/fixtures/sysfs): a host
 * with two NUMA nodes, 2 MiB and 1 GiB pages and a machine.slice cpuset read
 * exactly; a tree where every part is garbled, each refused and left
 * unknown without hiding the parts that are fine; a host without
 * machine.slice (all online CPUs); the meminfo parser's table; the uplink
 * (default route, link speed, configured name and capacity, a speed of -1,
 * no default route) and the disk bandwidth; reserves and risk bounds from
 * the options; hugepage pools that may grow into a share of each node's free
 * memory; then this host's real sysfs, whose online CPUs must be what
 * sysconf() counts, and its real default route and link speed.
 *
 * Usage: test-host-pool FIXTURES_DIR
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "host_pool.h"
#include "tap.h"
#include "util.h"

static const char *fixtures;

static int read_tree_opt(const char *name, const struct host_pool_options *opt,
			 struct host_pool *hp)
{
	char sys[PATH_MAX], proc[PATH_MAX], cg[PATH_MAX];
	struct host_pool_roots roots = { sys, proc, cg };

	snprintf(sys, sizeof(sys), "%s/%s/sys", fixtures, name);
	snprintf(proc, sizeof(proc), "%s/%s/proc", fixtures, name);
	snprintf(cg, sizeof(cg), "%s/%s/cgroup", fixtures, name);
	return opt ? host_pool_read_config(&roots, opt, hp) : host_pool_read(&roots, hp);
}

static int read_tree(const char *name, struct host_pool *hp)
{
	return read_tree_opt(name, NULL, hp);
}

static bool hint_has(const struct host_pool *hp, enum host_pool_part part, const char *s)
{
	return hp->error_hint[part] && strstr(hp->error_hint[part], s);
}

static const struct pool_dim *dim(const struct host_pool *hp, const char *name)
{
	int i = pool_dim_find(&hp->pool, name);

	return i >= 0 ? &hp->pool.dims[i] : NULL;
}

static void check_cpus(const struct pool_cpuset *set, const char *want)
{
	char buf[256];

	check_int_eq(pool_cpuset_format(set, buf, sizeof(buf)), 0);
	check_str_eq(buf, want);
}

static void test_good(void)
{
	struct host_pool_options opt = { .disk_capacity_bps = 500ULL << 20 };
	struct host_pool hp;
	const struct pool_dim *d;

	check_int_eq(read_tree_opt("good", &opt, &hp), 0);
	for (int i = 0; i < HOST_POOL_NR_PARTS; i++) {
		check_int_eq(hp.error[i], 0);
		check(hp.error_hint[i] == NULL);
	}
	check_int_eq(hp.pool.n_cpus, 8);
	check_cpus(&hp.online_cpus, "0-7");
	check_int_eq(hp.pool.n_nodes, 2);
	check_int_eq(hp.node_mask, 3);
	check_cpus(&hp.pool.node_cpus[0], "0-3");
	check_cpus(&hp.pool.node_cpus[1], "4-7");
	check(hp.machine_from_cgroup);
	check_cpus(&hp.pool.machine_cpus, "2-7");
	d = dim(&hp, "cpu");
	check(d != NULL);
	if (d)
		check_double_near(d->total, 6, 0);
	check_double_near(hp.mem_total_bytes, 16.0 * 1024 * 1024 * 1024, 0);
	check_double_near(hp.mem_available_bytes, 12.0 * 1024 * 1024 * 1024, 0);
	d = dim(&hp, "mem");
	check(d && d->kind == POOL_KIND_MEM && d->total == hp.mem_total_bytes &&
	      d->observed_free == hp.mem_available_bytes);

	/* all-zero options: no reserve, no overcommit */
	check(d && d->host_reserved == 0 && d->risk_bound == 0);

	/*
	 * The uplink: the up default route of lowest metric (eth0 at 100, not
	 * eth1 at 200 nor the unreachable one at 0), at its link speed of
	 * 10000 Mbit/s, in kbps.
	 */
	check_str_eq(hp.uplink, "eth0");
	check(hp.uplink_from_route);
	check_double_near(hp.net_capacity_kbps, 10e6, 0);
	d = dim(&hp, "net:eth0");
	check(d && d->kind == POOL_KIND_NET && d->node == POOL_NODE_ANY && d->total == 10e6 &&
	      isnan(d->observed_free));
	/* the disk: 500 MiB/s = 524288000 * 8 / 1000 kbps */
	check_double_near(hp.disk_capacity_kbps, 4194304, 1e-6);
	d = dim(&hp, "disk");
	check(d && d->kind == POOL_KIND_DISK && fabs(d->total - 4194304) < 1e-6);

	/* two sizes on two nodes, read back as the kernel shows them */
	check_int_eq(hp.pool.n_dims, 2 + 4 + 2);
	d = dim(&hp, "hugepages-2048kB:node0");
	check(d && d->node == 0 && d->page_kb == 2048 && d->total == 512 &&
	      d->observed_free == 500);
	d = dim(&hp, "hugepages-2048kB:node1");
	check(d && d->node == 1 && d->total == 256 && d->observed_free == 256);
	d = dim(&hp, "hugepages-1048576kB:node0");
	check(d && d->page_kb == 1048576 && d->total == 2 && d->observed_free == 1);
	d = dim(&hp, "hugepages-1048576kB:node1");
	check(d && d->total == 0 && d->observed_free == 0);
	/* sorted by size, then node: the snapshot and the API show them in this order */
	check(dim(&hp, "hugepages-2048kB:node0") < dim(&hp, "hugepages-2048kB:node1"));
	check(dim(&hp, "hugepages-2048kB:node1") < dim(&hp, "hugepages-1048576kB:node0"));
	check(dim(&hp, "hugepages-1048576kB:node0") < dim(&hp, "hugepages-1048576kB:node1"));
}

static void test_garbage(void)
{
	struct host_pool hp;

	check_int_eq(read_tree("garbage", &hp), -EINVAL);
	check_int_eq(hp.error[HOST_POOL_ONLINE], -EINVAL);
	check_int_eq(hp.pool.n_cpus, 0);
	/* a link speed of -1: the uplink is known, its capacity is not, and the user is told */
	check_int_eq(hp.error[HOST_POOL_NET], -ENODATA);
	check(hint_has(&hp, HOST_POOL_NET, "set [pool] uplink_capacity"));
	check_str_eq(hp.uplink, "eth0");
	check(isnan(hp.net_capacity_kbps));
	check(pool_dim_find(&hp.pool, "net:eth0") < 0);
	check_int_eq(hp.error[HOST_POOL_DISK], -ENODATA);
	check(hint_has(&hp, HOST_POOL_DISK, "set [pool] disk_capacity"));
	check(isnan(hp.disk_capacity_kbps));
	check_int_eq(hp.error[HOST_POOL_MEM], -EINVAL);
	check(isnan(hp.mem_total_bytes) && isnan(hp.mem_available_bytes));
	check(pool_dim_find(&hp.pool, "mem") < 0);
	/* free > nr and a negative count: both sizes refused, none invented */
	check_int_eq(hp.error[HOST_POOL_HUGEPAGES], -EINVAL);
	check(pool_dim_find(&hp.pool, "hugepages-2048kB:node0") < 0);
	check(pool_dim_find(&hp.pool, "hugepages-1048576kB:node0") < 0);
	/* a descending range is no cpuset; the CPU capacity is unknown, not "all" */
	check_int_eq(hp.error[HOST_POOL_MACHINE], -EINVAL);
	check(!hp.machine_from_cgroup);
	check_int_eq(pool_cpuset_count(&hp.pool.machine_cpus), 0);
	check(pool_dim_find(&hp.pool, "cpu") < 0);
	/* what was fine is still read */
	check_int_eq(hp.error[HOST_POOL_NODES], 0);
	check_cpus(&hp.pool.node_cpus[0], "0-1");
}

static void test_no_cgroup(void)
{
	struct host_pool hp;
	const struct pool_dim *d;

	check_int_eq(read_tree("nocgroup", &hp), -ENETUNREACH); /* the first part unknown */
	check(!hp.machine_from_cgroup);
	check_cpus(&hp.pool.machine_cpus, "0-3");
	d = dim(&hp, "cpu");
	check(d && d->total == 4);
	check_int_eq(hp.pool.n_nodes, 1);
	check_int_eq(hp.error[HOST_POOL_HUGEPAGES], 0); /* no hugetlb: no pages */
	/* routes, but no default route: no uplink until one is configured */
	check_int_eq(hp.error[HOST_POOL_NET], -ENETUNREACH);
	check(hint_has(&hp, HOST_POOL_NET, "set [pool] uplink"));
	check_str_eq(hp.uplink, "");
	check_int_eq(hp.pool.n_dims, 2);

	/* a tree that does not exist: every part unknown with ENOENT, the disk unset */
	check_int_eq(read_tree("absent", &hp), -ENOENT);
	for (int i = 0; i < HOST_POOL_DISK; i++)
		check_int_eq(hp.error[i], -ENOENT);
	check_int_eq(hp.error[HOST_POOL_DISK], -ENODATA);
	check_int_eq(hp.pool.n_dims, 0);
	check_int_eq(host_pool_read(NULL, &hp), -EINVAL);
}

static void test_options(void)
{
	struct host_pool_options opt = {
		.host_reserved_cores = 0.5,
		.host_reserved_mem_bytes = 1ULL << 30,
		.risk_bound = { [POOL_KIND_CPU] = 0.05,
				[POOL_KIND_MEM] = 0.01,
				[POOL_KIND_HUGEPAGES] = 0.3,
				[POOL_KIND_NET] = 0.1,
				[POOL_KIND_DISK] = 0.2 },
		.disk_capacity_bps = 1000000,
	};
	struct host_pool hp;
	const struct pool_dim *d;
	struct config cfg;

	check_int_eq(read_tree_opt("good", &opt, &hp), 0);
	d = dim(&hp, "cpu");
	check(d && d->total == 6 && d->host_reserved == 0.5 && d->risk_bound == 0.05);
	d = dim(&hp, "mem");
	check(d && d->host_reserved == 1 << 30 && d->risk_bound == 0.01);
	d = dim(&hp, "net:eth0");
	check(d && d->host_reserved == 0 && d->risk_bound == 0.1);
	d = dim(&hp, "disk");
	check(d && d->total == 8000 && d->risk_bound == 0.2);
	/* hugepages are never overcommitted, whatever the options say */
	for (uint32_t i = 0; i < hp.pool.n_dims; i++)
		if (hp.pool.dims[i].kind == POOL_KIND_HUGEPAGES)
			check(hp.pool.dims[i].risk_bound == 0);

	/* a reserve larger than the host leaves no capacity, never a negative one */
	opt.host_reserved_cores = 100;
	opt.host_reserved_mem_bytes = 1ULL << 50;
	check_int_eq(read_tree_opt("good", &opt, &hp), 0);
	d = dim(&hp, "cpu");
	check(d && d->host_reserved == d->total);
	d = dim(&hp, "mem");
	check(d && d->host_reserved == d->total);

	/* a configured uplink is used as named, at its own speed */
	opt.uplink = "eth1";
	check_int_eq(read_tree_opt("good", &opt, &hp), 0);
	check_str_eq(hp.uplink, "eth1");
	check(!hp.uplink_from_route);
	d = dim(&hp, "net:eth1");
	check(d && d->total == 1e6);
	check(pool_dim_find(&hp.pool, "net:eth0") < 0);
	/* ... and a configured capacity wins over the link speed (25 Gbit/s) */
	opt.net_capacity_bps = 25000000000ULL;
	check_int_eq(read_tree_opt("good", &opt, &hp), 0);
	d = dim(&hp, "net:eth1");
	check(d && d->total == 25e6);
	/* a bridge without a speed is fine once its capacity is configured */
	opt.uplink = "virbr0";
	check_int_eq(read_tree_opt("good", &opt, &hp), 0);
	d = dim(&hp, "net:virbr0");
	check(d && d->total == 25e6);
	opt.net_capacity_bps = 0;
	check_int_eq(read_tree_opt("good", &opt, &hp), -ENODATA);
	check_int_eq(hp.error[HOST_POOL_NET], -ENODATA);
	check(hint_has(&hp, HOST_POOL_NET, "uplink_capacity"));
	/* no such interface */
	opt.uplink = "eth9";
	check_int_eq(read_tree_opt("good", &opt, &hp), -ENOENT);
	check(hint_has(&hp, HOST_POOL_NET, "existing interface"));
	check_str_eq(hp.uplink, "eth9");
	/* a name that would leave class/net is refused before any file is opened */
	opt.uplink = "../../etc";
	check_int_eq(read_tree_opt("good", &opt, &hp), -EINVAL);
	check_str_eq(hp.uplink, "");
	check_int_eq(hp.error[HOST_POOL_MEM], 0);
	/* no default route, but a configured uplink and capacity: no sysfs needed */
	opt.uplink = "bond0";
	opt.net_capacity_bps = 1000000000;
	check_int_eq(read_tree_opt("nocgroup", &opt, &hp), 0);
	d = dim(&hp, "net:bond0");
	check(d && d->total == 1e6);

	/* the options of a parsed configuration */
	config_init_defaults(&cfg);
	check_int_eq(
		config_parse_string("[pool]\nuplink = eth1\nuplink_capacity = 2G\n"
				    "disk_capacity = 1M\nhost_reserved_cores = 1\n"
				    "host_reserved_memory = 2G\n[alloc]\nrisk_bound_net = 0.2\n",
				    "t.conf", &cfg),
		0);
	host_pool_options_from_config(&cfg, &opt);
	check_str_eq(opt.uplink, "eth1");
	check_int_eq(opt.net_capacity_bps, 2000000000ULL);
	check_int_eq(opt.disk_capacity_bps, 1ULL << 20);
	check_double_near(opt.host_reserved_cores, 1, 0);
	check_int_eq(opt.host_reserved_mem_bytes, 2ULL << 30);
	check_double_near(opt.risk_bound[POOL_KIND_NET], 0.2, 1e-12);
	check_double_near(opt.risk_bound[POOL_KIND_MEM], 0.01, 0);
	check_double_near(opt.risk_bound[POOL_KIND_HUGEPAGES], 0, 0);
	check_int_eq(read_tree_opt("good", &opt, &hp), 0);
	d = dim(&hp, "net:eth1");
	check(d && d->total == 2e6 && d->risk_bound == 0.2);
	d = dim(&hp, "disk");
	check(d && fabs(d->total - 8388.608) < 1e-9);
	d = dim(&hp, "cpu");
	check(d && d->host_reserved == 1 && d->risk_bound == 0.05);
	/* the defaults: the default route's interface at its link speed, no disk */
	config_init_defaults(&cfg);
	host_pool_options_from_config(&cfg, &opt);
	check_int_eq(read_tree_opt("good", &opt, &hp), -ENODATA);
	check_int_eq(hp.error[HOST_POOL_NET], 0);
	check_str_eq(hp.uplink, "eth0");
	check_int_eq(hp.error[HOST_POOL_DISK], -ENODATA);
	check_str_eq(host_pool_part_to_string(HOST_POOL_NET), "uplink");
}

/*
 * Pools that may grow: each hugepage dimension's total is nr_hugepages plus
 * the pages its node could still make from a share of its free memory past
 * the host's reserve, split between the node's two page sizes, in 256 MiB
 * grains. node0 has 4 GiB free, node1 1.5 GiB.
 */
static void test_hugepages_grow(void)
{
	struct host_pool_options opt = { .disk_capacity_bps = 1, .hugepages_grow_share = 0.5 };
	struct host_pool hp;
	const struct pool_dim *d;
	struct config cfg;
	int i;

	check_int_eq(read_tree_opt("good", &opt, &hp), 0);
	check_double_near(hp.node_mem_free_bytes[0], 4.0 * (1 << 30), 0);
	check_double_near(hp.node_mem_free_bytes[1], 1.5 * (1 << 30), 0);
	/* node0, 2 MiB: 4 GiB * 0.5 / 2 sizes = 1 GiB = 512 pages, on top of the 512 made */
	i = pool_dim_find(&hp.pool, "hugepages-2048kB:node0");
	check(i >= 0);
	if (i >= 0) {
		d = &hp.pool.dims[i];
		check_int_eq(hp.hugepages_nr[i], 512);
		check_int_eq(hp.hugepages_growable[i], 512);
		check(d->total == 1024 && d->observed_free == 500 && d->risk_bound == 0);
	}
	/* node0, 1 GiB: the same 1 GiB share, one page */
	i = pool_dim_find(&hp.pool, "hugepages-1048576kB:node0");
	check(i >= 0 && hp.hugepages_nr[i] == 2 && hp.hugepages_growable[i] == 1 &&
	      hp.pool.dims[i].total == 3);
	/* node1, 2 MiB: 1.5 GiB * 0.25 = 384 MiB = 192 pages, cut to whole 128-page grains */
	i = pool_dim_find(&hp.pool, "hugepages-2048kB:node1");
	check(i >= 0 && hp.hugepages_nr[i] == 256 && hp.hugepages_growable[i] == 128 &&
	      hp.pool.dims[i].total == 384);
	i = pool_dim_find(&hp.pool, "hugepages-1048576kB:node1");
	check(i >= 0 && hp.hugepages_growable[i] == 0 && hp.pool.dims[i].total == 0);

	/* the host's reserve is never counted: 3 GiB kept back leaves node0 0.25 GiB per size */
	opt.host_reserved_mem_bytes = 3ULL << 30;
	check_int_eq(read_tree_opt("good", &opt, &hp), 0);
	i = pool_dim_find(&hp.pool, "hugepages-2048kB:node0");
	check(i >= 0 && hp.hugepages_growable[i] == 128 && hp.pool.dims[i].total == 640);
	i = pool_dim_find(&hp.pool, "hugepages-2048kB:node1");
	check(i >= 0 && hp.hugepages_growable[i] == 0 && hp.pool.dims[i].total == 256);

	/*
	 * 256 pages of node0's 2 MiB pool were made by the daemon: the share
	 * counts their memory back as free, (4 GiB + 512 MiB) / 4 = 576 pages,
	 * 512 in whole grains, of which 256 are made: 256 more, not 512 (a
	 * record of a node the host lacks changes nothing; node1 is as before).
	 */
	opt.host_reserved_mem_bytes = 0;
	opt.n_hugepages_added = 2;
	snprintf(opt.hugepages_added[0].dim, POOL_NAME_MAX, "hugepages-2048kB:node0");
	opt.hugepages_added[0].pages = 256;
	snprintf(opt.hugepages_added[1].dim, POOL_NAME_MAX, "hugepages-2048kB:node7");
	opt.hugepages_added[1].pages = 1000;
	check_int_eq(read_tree_opt("good", &opt, &hp), 0);
	i = pool_dim_find(&hp.pool, "hugepages-2048kB:node0");
	check(i >= 0 && hp.hugepages_growable[i] == 256 && hp.pool.dims[i].total == 768);
	i = pool_dim_find(&hp.pool, "hugepages-2048kB:node1");
	check(i >= 0 && hp.hugepages_growable[i] == 128);
	opt.n_hugepages_added = 0;

	/* no share: the pool is what the kernel holds, node meminfo not even read */
	opt.hugepages_grow_share = 0;
	check_int_eq(read_tree_opt("good", &opt, &hp), 0);
	check(isnan(hp.node_mem_free_bytes[0]));
	i = pool_dim_find(&hp.pool, "hugepages-2048kB:node0");
	check(i >= 0 && hp.hugepages_growable[i] == 0 && hp.pool.dims[i].total == 512);

	/* the configuration: [alloc] hugepages_manage turns growth on and off */
	config_init_defaults(&cfg);
	host_pool_options_from_config(&cfg, &opt);
	check_double_near(opt.hugepages_grow_share, HOST_POOL_HUGEPAGES_GROW_SHARE, 0);
	cfg.hugepages_manage = false;
	host_pool_options_from_config(&cfg, &opt);
	check_double_near(opt.hugepages_grow_share, 0, 0);
	config_init_defaults(&cfg);
	cfg.alloc_manage = false;
	host_pool_options_from_config(&cfg, &opt);
	check_double_near(opt.hugepages_grow_share, 0, 0);

	/* a tree without node meminfo: the pool stays nr_hugepages and the part says why */
	opt = (struct host_pool_options){ .hugepages_grow_share = 0.5 };
	read_tree_opt("nocgroup", &opt, &hp);
	check_int_eq(hp.error[HOST_POOL_HUGEPAGES], 0); /* no hugepages there: nothing to grow */
}

static void test_node_meminfo_table(void)
{
	static const struct {
		const char *text;
		uint32_t node;
		int r;
		double free_kb;
	} t[] = {
		{ "Node 0 MemTotal:  100 kB\nNode 0 MemFree:    42 kB\n", 0, 0, 42 },
		{ "Node 3 MemFree: 7 kB", 3, 0, 7 },
		{ "Node 12 MemFree:       0 kB\nNode 12 MemUsed: 5 kB\n", 12, 0, 0 },
		{ "Node 0 MemTotal:  100 kB\n", 0, -ENODATA, 0 },
		{ "", 0, -ENODATA, 0 },
		{ "Node 1 MemFree: 42 kB\n", 0, -EINVAL, 0 },  /* another node */
		{ "Node 10 MemFree: 42 kB\n", 1, -EINVAL, 0 }, /* not node 1 */
		{ "Node 0 MemFree: 42 kB\nNode 0 MemFree: 43 kB\n", 0, -EINVAL, 0 },
		{ "Node 0 MemFree: -42 kB\n", 0, -EINVAL, 0 },
		{ "Node 0 MemFree: 42 MB\n", 0, -EINVAL, 0 },
		{ "Node 0 MemFree: kB\n", 0, -EINVAL, 0 },
		{ "Node 0 MemFree: 99999999999999999999 kB\n", 0, -EINVAL, 0 },
		{ "Node 0 MemFree: 42 kBx\n", 0, -EINVAL, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		double v = -1;
		int r = host_pool_node_meminfo_parse(t[i].text, t[i].node, &v);

		check_int_eq(r, t[i].r);
		if (r == 0)
			check_double_near(v, t[i].free_kb * 1024, 0);
		else
			check(v == -1);
	}
	check_int_eq(host_pool_node_meminfo_parse(NULL, 0, NULL), -EINVAL);
}

static void test_growable_table(void)
{
	static const double G = 1 << 30, M = 1 << 20;
	static const struct {
		double free, reserved, share;
		uint64_t page_kb, added, want;
	} t[] = {
		{ 4 * G, 0, 0.5, 2048, 0, 1024 },    /* 2 GiB of 2 MiB pages */
		{ 4 * G, 1 * G, 0.5, 2048, 0, 768 }, /* the reserve first */
		{ 4 * G, 4 * G, 0.5, 2048, 0, 0 },   /* all reserved */
		{ 1 * G, 2 * G, 0.5, 2048, 0, 0 },   /* less free than reserved */
		{ 1000 * M, 0, 0.5, 2048, 0, 128 },  /* 250 pages: one 128-page grain */
		{ 500 * M, 0, 0.5, 2048, 0, 0 },     /* 125 pages: under a grain */
		{ 4 * G, 0, 0.5, 1048576, 0, 2 },    /* 1 GiB pages: grain of one page */
		{ 3 * G, 0, 0.5, 1048576, 0, 1 },    /* 1.5 pages: one */
		{ 1 * G, 0, 0.5, 1048576, 0, 0 },    /* half a page */
		{ 4 * G, 0, 0, 2048, 0, 0 },	     /* no growth */
		{ 4 * G, 0, 1.5, 2048, 0, 0 },	     /* share out of range */
		{ 4 * G, 0, NAN, 2048, 0, 0 },	     /* share unknown */
		{ NAN, 0, 0.5, 2048, 0, 0 },	     /* free memory unknown */
		{ 4 * G, -1, 0.5, 2048, 0, 0 },	     /* negative reserve */
		{ 4 * G, 0, 0.5, 0, 0, 0 },	     /* no page size */
		{ 4 * G, 0, 1, 64, 0, 65536 },	     /* small pages: 256 MiB grains */
		/*
		 * After making 512 of the 1024 (1 GiB less free): 512 left,
		 * not (3 GiB * 0.5) = 768; making pages never makes room.
		 */
		{ 3 * G, 0, 0.5, 2048, 512, 512 },
		{ 2 * G, 0, 0.5, 2048, 1024, 0 },     /* all 1024 made: none left */
		{ 1 * G, 0, 0.5, 2048, 1024, 0 },     /* others took memory since */
		{ 3 * G, 1 * G, 0.5, 1048576, 1, 0 }, /* (3 + 1 - 1) * 0.5: 1 page, made */
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		check_int_eq(host_pool_hugepages_growable(t[i].free, t[i].reserved, t[i].share,
							  t[i].page_kb, t[i].added),
			     t[i].want);
}

#define ROUTE_HDR                                                                                  \
	"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT   \n"

static void test_route_table(void)
{
	static const struct {
		const char *text;
		int r;
		const char *ifname;
	} cases[] = {
		{ ROUTE_HDR "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0  \n", 0,
		  "eth0" },
		{ ROUTE_HDR "a\t00000000\t0\t0001\t0\t0\t5\t00000000\n"
			    "b\t00000000\t0\t0001\t0\t0\t5\t00000000\n",
		  0, "a" }, /* a tie: the first */
		{ ROUTE_HDR "a\t00000000\t0\t0001\t0\t0\t5\t00000000\n"
			    "b\t00000000\t0\t0001\t0\t0\t4\t00000000\n",
		  0, "b" },
		{ ROUTE_HDR "wlp2s0\t00000000\t0\t0003\t0\t0\t600\t00000000\t0\t0\t0", 0,
		  "wlp2s0" }, /* no trailing newline */
		{ ROUTE_HDR "\n", -ENETUNREACH, NULL },
		{ ROUTE_HDR, -ENETUNREACH, NULL },
		{ ROUTE_HDR "eth0\t00000000\t0\t0002\t0\t0\t0\t00000000\n", -ENETUNREACH,
		  NULL }, /* not up */
		{ ROUTE_HDR "eth0\t00000000\t0\t0201\t0\t0\t0\t00000000\n", -ENETUNREACH,
		  NULL }, /* reject */
		{ ROUTE_HDR "eth0\t0000000A\t0\t0001\t0\t0\t0\t00000000\n", -ENETUNREACH, NULL },
		{ ROUTE_HDR "eth0\t00000000\t0\t0001\t0\t0\t0\tFFFFFF00\n", -ENETUNREACH, NULL },
		{ "", -EINVAL, NULL },
		{ "eth0\t00000000\t0\t0001\t0\t0\t0\t00000000\n", -EINVAL, NULL }, /* no header */
		{ ROUTE_HDR "eth0\t0000000\t0\t0001\t0\t0\t0\t00000000\n", -EINVAL, NULL },
		{ ROUTE_HDR "eth0\t0000000G\t0\t0001\t0\t0\t0\t00000000\n", -EINVAL, NULL },
		{ ROUTE_HDR "eth0\t00000000\t0\t0001\t0\t0\t-1\t00000000\n", -EINVAL, NULL },
		{ ROUTE_HDR "eth0\t00000000\t0\t0001\t0\t0\t0\n", -EINVAL, NULL },
		{ ROUTE_HDR "../x\t00000000\t0\t0001\t0\t0\t0\t00000000\n", -EINVAL, NULL },
		{ ROUTE_HDR "a234567890123456\t00000000\t0\t0001\t0\t0\t0\t00000000\n", -EINVAL,
		  NULL },
	};
	char buf[16], small[3];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r;

		strcpy(buf, "untouched");
		r = host_pool_route_default_parse(cases[i].text, buf, sizeof(buf));
		if (r != cases[i].r)
			fprintf(stderr, "route case %zu\n", i);
		check_int_eq(r, cases[i].r);
		check_str_eq(buf, cases[i].ifname ? cases[i].ifname : "untouched");
	}
	check_int_eq(host_pool_route_default_parse(cases[0].text, small, sizeof(small)), -ENOBUFS);
	check_int_eq(host_pool_route_default_parse(NULL, buf, sizeof(buf)), -EINVAL);
}

static void test_speed_table(void)
{
	static const struct {
		const char *text;
		int r;
		uint64_t mbps;
	} cases[] = {
		{ "10000\n", 0, 10000 },
		{ "1000", 0, 1000 },
		{ "-1\n", -ENODATA, 0 },
		{ "0\n", -ENODATA, 0 },
		{ "-2\n", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "\n", -EINVAL, 0 },
		{ "10 000\n", -EINVAL, 0 },
		{ " 100\n", -EINVAL, 0 },
		{ "100\n\n", -EINVAL, 0 },
		{ "1e3\n", -EINVAL, 0 },
		{ "0x10\n", -EINVAL, 0 },
		{ "99999999999999999999999\n", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 7;
		int r = host_pool_link_speed_parse(cases[i].text, &v);

		check_int_eq(r, cases[i].r);
		check_int_eq(v, r == 0 ? cases[i].mbps : 7);
	}
}

static void test_meminfo_table(void)
{
	static const struct {
		const char *text;
		int r;
		double total_kb, avail_kb;
	} cases[] = {
		{ "MemTotal: 100 kB\nMemAvailable: 40 kB\n", 0, 100, 40 },
		{ "MemFree:  1 kB\nMemTotal:       100 kB\nMemAvailable:  100 kB", 0, 100, 100 },
		{ "MemTotal: 100 kB\n", -ENODATA, 0, 0 },
		{ "", -ENODATA, 0, 0 },
		{ "MemTotal: 100 kB\nMemAvailable: 200 kB\n", -EINVAL, 0, 0 },
		{ "MemTotal: 100 MB\nMemAvailable: 40 kB\n", -EINVAL, 0, 0 },
		{ "MemTotal: -100 kB\nMemAvailable: 40 kB\n", -EINVAL, 0, 0 },
		{ "MemTotal: 100 kB junk\nMemAvailable: 40 kB\n", -EINVAL, 0, 0 },
		{ "MemTotal:\nMemAvailable: 40 kB\n", -EINVAL, 0, 0 },
		{ "MemTotal: 100 kB\nMemTotal: 100 kB\nMemAvailable: 40 kB\n", -EINVAL, 0, 0 },
		{ "MemTotal: 99999999999999999999 kB\nMemAvailable: 40 kB\n", -EINVAL, 0, 0 },
		{ "MemTotalX: 5 kB\nMemTotal: 100 kB\nMemAvailable: 40 kB\n", 0, 100, 40 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double t = -1, a = -1;
		int r = host_pool_meminfo_parse(cases[i].text, &t, &a);

		check_int_eq(r, cases[i].r);
		if (r == 0) {
			check_double_near(t, cases[i].total_kb * 1024, 0);
			check_double_near(a, cases[i].avail_kb * 1024, 0);
		} else {
			check(t == -1 && a == -1); /* outputs untouched on failure */
		}
	}
}

static void test_real_host(void)
{
	struct host_pool_roots roots = { "/sys", "/proc", "/sys/fs/cgroup" };
	struct host_pool hp;
	struct stat st;
	long n;

	if (stat("/sys/devices/system/node", &st) < 0)
		test_skip("/sys/devices/system/node is absent: cannot read this host's NUMA nodes");
	host_pool_read(&roots, &hp);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	check_int_eq(hp.error[HOST_POOL_ONLINE], 0);
	check_int_eq(hp.pool.n_cpus, n);
	check_int_eq(hp.error[HOST_POOL_NODES], 0);
	check(hp.pool.n_nodes >= 1);
	check_int_eq(hp.error[HOST_POOL_MEM], 0);
	check(hp.mem_total_bytes > 0 && hp.mem_available_bytes <= hp.mem_total_bytes);
	check_int_eq(hp.error[HOST_POOL_HUGEPAGES], 0);
	check_int_eq(hp.error[HOST_POOL_MACHINE], 0);
	check(pool_cpuset_is_subset(&hp.pool.machine_cpus, &hp.online_cpus));
	printf("# this host: %u CPUs online, %u nodes, %.0f MiB, %u dimensions, machine.slice "
	       "from %s\n",
	       hp.pool.n_cpus, hp.pool.n_nodes, hp.mem_total_bytes / 1048576, hp.pool.n_dims,
	       hp.machine_from_cgroup ? "its cpuset" : "online CPUs");
}

/* This host's default route and its link speed, read as the daemon reads them. */
static void test_real_uplink(void)
{
	struct host_pool_roots roots = { "/sys", "/proc", "/sys/fs/cgroup" };
	struct host_pool_options opt = { .disk_capacity_bps = 1 };
	_cleanup_free_ char *route = NULL, *speed = NULL;
	char ifname[16], path[PATH_MAX];
	struct host_pool hp;
	uint64_t mbps;
	int r;

	if (util_file_read("/proc/net/route", 1 << 20, &route, NULL) < 0)
		test_skip("cannot read /proc/net/route");
	r = host_pool_route_default_parse(route, ifname, sizeof(ifname));
	check(r == 0 || r == -ENETUNREACH);
	if (r == -ENETUNREACH)
		test_skip("this host has no IPv4 default route: no uplink to read");
	host_pool_read_config(&roots, &opt, &hp);
	check(hp.uplink_from_route);
	check_str_eq(hp.uplink, ifname);
	snprintf(path, sizeof(path), "/sys/class/net/%s/speed", ifname);
	r = util_file_read(path, 4096, &speed, NULL);
	if (r >= 0)
		r = host_pool_link_speed_parse(speed, &mbps);
	check_int_eq(hp.error[HOST_POOL_NET], r);
	if (r == 0) {
		char name[POOL_NAME_MAX];
		int i;

		snprintf(name, sizeof(name), "net:%s", ifname);
		i = pool_dim_find(&hp.pool, name);
		check(i >= 0 && hp.pool.dims[i].total == (double)mbps * 1000);
	} else {
		check(hint_has(&hp, HOST_POOL_NET, "uplink_capacity"));
	}
	check_int_eq(hp.error[HOST_POOL_DISK], 0);
	printf("# this host's uplink: %s, %s\n", ifname,
	       r == 0 ? "speed read" : "no speed (set [pool] uplink_capacity)");
	if (r == 0)
		printf("# uplink capacity %.0f kbps\n", hp.net_capacity_kbps);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s FIXTURES_DIR\n", argv[0]);
		return 2;
	}
	fixtures = argv[1];
	test_good();
	test_garbage();
	test_no_cgroup();
	test_meminfo_table();
	test_options();
	test_hugepages_grow();
	test_node_meminfo_table();
	test_growable_table();
	test_route_table();
	test_speed_table();
	if (test_failures)
		return test_result(); /* a skip below must not hide these */
	test_real_host();
	if (test_failures)
		return test_result();
	test_real_uplink();
	return test_result();
}
