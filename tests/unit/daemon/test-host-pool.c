// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The host pool reader against fixture trees (tests/fixtures/sysfs): a host
 * with two NUMA nodes, 2 MiB and 1 GiB pages and a machine.slice cpuset read
 * exactly; a tree where every part is garbled, each refused and left
 * unknown without hiding the parts that are fine; a host without
 * machine.slice (all online CPUs); the meminfo parser's table; then this
 * host's real sysfs, whose online CPUs must be what sysconf() counts.
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

#include "host_pool.h"
#include "tap.h"

static const char *fixtures;

static int read_tree(const char *name, struct host_pool *hp)
{
	char sys[PATH_MAX], proc[PATH_MAX], cg[PATH_MAX];
	struct host_pool_roots roots = { sys, proc, cg };

	snprintf(sys, sizeof(sys), "%s/%s/sys", fixtures, name);
	snprintf(proc, sizeof(proc), "%s/%s/proc", fixtures, name);
	snprintf(cg, sizeof(cg), "%s/%s/cgroup", fixtures, name);
	return host_pool_read(&roots, hp);
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
	struct host_pool hp;
	const struct pool_dim *d;

	check_int_eq(read_tree("good", &hp), 0);
	for (int i = 0; i < HOST_POOL_NR_PARTS; i++)
		check_int_eq(hp.error[i], 0);
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

	/* two sizes on two nodes, read back as the kernel shows them */
	check_int_eq(hp.pool.n_dims, 2 + 4);
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

	check_int_eq(read_tree("nocgroup", &hp), 0);
	check(!hp.machine_from_cgroup);
	check_cpus(&hp.pool.machine_cpus, "0-3");
	d = dim(&hp, "cpu");
	check(d && d->total == 4);
	check_int_eq(hp.pool.n_nodes, 1);
	check_int_eq(hp.error[HOST_POOL_HUGEPAGES], 0); /* no hugetlb: no pages */
	check_int_eq(hp.pool.n_dims, 2);

	/* a tree that does not exist: every part unknown with ENOENT */
	check_int_eq(read_tree("absent", &hp), -ENOENT);
	for (int i = 0; i < HOST_POOL_NR_PARTS; i++)
		check_int_eq(hp.error[i], -ENOENT);
	check_int_eq(hp.pool.n_dims, 0);
	check_int_eq(host_pool_read(NULL, &hp), -EINVAL);
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
	if (test_failures)
		return test_result(); /* a skip below must not hide these */
	test_real_host();
	return test_result();
}
