// SPDX-License-Identifier: GPL-2.0-or-later
/* Table-driven tests of the pool: cpuset and hugepage parsers, dimensions. */
#include <errno.h>
#include <math.h>

#include "pool.h"
#include "tap.h"

struct cpuset_case {
	const char *in;
	int r;
	uint32_t count;
	const char *canon; /* the formatted form */
};

static void test_cpuset_table(void)
{
	static const struct cpuset_case cases[] = {
		{ "", 0, 0, "" },
		{ "\n", 0, 0, "" },
		{ "0", 0, 1, "0" },
		{ "0-3", 0, 4, "0-3" },
		{ "0-3,8,10-11", 0, 7, "0-3,8,10-11" },
		{ "0-3,8,10-11\n", 0, 7, "0-3,8,10-11" },
		{ "1,2,3", 0, 3, "1-3" },
		{ "5-5", 0, 1, "5" },
		{ "1023", 0, 1, "1023" },
		{ "0-1023", 0, 1024, "0-1023" },
		{ "1024", -ERANGE, 0, NULL },
		{ "0-99999999999999999999", -ERANGE, 0, NULL },
		{ "3-1", -EINVAL, 0, NULL },
		{ "1,1", -EINVAL, 0, NULL },
		{ "2,1", -EINVAL, 0, NULL },
		{ "0-3,2", -EINVAL, 0, NULL },
		{ " 1", -EINVAL, 0, NULL },
		{ "1 ", -EINVAL, 0, NULL },
		{ "1,", -EINVAL, 0, NULL },
		{ ",1", -EINVAL, 0, NULL },
		{ "1-", -EINVAL, 0, NULL },
		{ "-1", -EINVAL, 0, NULL },
		{ "01", -EINVAL, 0, NULL },
		{ "1\n\n", -EINVAL, 0, NULL },
		{ "a", -EINVAL, 0, NULL },
		{ "1--2", -EINVAL, 0, NULL },
		{ "+1", -EINVAL, 0, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cpuset_case *c = &cases[i];
		struct pool_cpuset set, again;
		char buf[64];
		int r = pool_cpuset_parse(c->in, &set);

		if (r != c->r)
			fprintf(stderr, "case '%s'\n", c->in);
		check_int_eq(r, c->r);
		if (r < 0 || c->r < 0)
			continue;
		check_int_eq(pool_cpuset_count(&set), c->count);
		check_int_eq(pool_cpuset_format(&set, buf, sizeof(buf)), 0);
		check_str_eq(buf, c->canon);
		/* The formatted form parses back to the same set. */
		check_int_eq(pool_cpuset_parse(buf, &again), 0);
		check(memcmp(&set, &again, sizeof(set)) == 0);
	}
	check_int_eq(pool_cpuset_parse(NULL, &(struct pool_cpuset){ 0 }), -EINVAL);
}

static void test_cpuset_ops(void)
{
	struct pool_cpuset a, b, c;
	char small[3];

	check_int_eq(pool_cpuset_parse("0-7", &a), 0);
	check_int_eq(pool_cpuset_parse("2-3", &b), 0);
	check_int_eq(pool_cpuset_parse("8-9", &c), 0);
	check(pool_cpuset_is_subset(&b, &a));
	check(!pool_cpuset_is_subset(&a, &b));
	check(pool_cpuset_intersects(&a, &b));
	check(!pool_cpuset_intersects(&a, &c));
	pool_cpuset_or(&a, &c);
	check_int_eq(pool_cpuset_count(&a), 10);
	check(pool_cpuset_test(&a, 9));
	check(!pool_cpuset_test(&a, 10));
	check(!pool_cpuset_test(&a, 5000));
	check_int_eq(pool_cpuset_format(&a, small, sizeof(small)), -ENOBUFS);
	check_str_eq(small, "");
}

static void test_hugepages(void)
{
	static const struct {
		const char *in;
		int r;
		uint64_t v;
	} counts[] = {
		{ "0", 0, 0 },
		{ "0\n", 0, 0 },
		{ "512\n", 0, 512 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "", -EINVAL, 0 },
		{ "\n", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ " 1", -EINVAL, 0 },
		{ "1 ", -EINVAL, 0 },
		{ "012", -EINVAL, 0 },
		{ "1\n\n", -EINVAL, 0 },
		{ "1x", -EINVAL, 0 },
	};
	static const struct {
		const char *in;
		int r;
		uint64_t kb;
	} dirs[] = {
		{ "hugepages-2048kB", 0, 2048 },    { "hugepages-1048576kB", 0, 1048576 },
		{ "hugepages-2048KB", -EINVAL, 0 }, { "hugepages-kB", -EINVAL, 0 },
		{ "hugepages-3000kB", -EINVAL, 0 }, { "hugepages-2kB", -EINVAL, 0 },
		{ "hugepage-2048kB", -EINVAL, 0 },  { "hugepages-2048", -EINVAL, 0 },
	};
	struct pool p;
	uint32_t idx, idx2;

	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		uint64_t v = 7;
		int r = pool_hugepages_count_parse(counts[i].in, &v);

		check_int_eq(r, counts[i].r);
		if (r == 0)
			check(v == counts[i].v);
		else
			check(v == 7); /* untouched on failure */
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		uint64_t kb = 0;

		check_int_eq(pool_hugepages_dir_parse(dirs[i].in, &kb), dirs[i].r);
		if (dirs[i].r == 0)
			check(kb == dirs[i].kb);
	}

	pool_init(&p);
	check_int_eq(pool_hugepages_dim_set(&p, 0, 2048, "512\n", "100\n", &idx), 0);
	check_str_eq(p.dims[idx].name, "hugepages-2048kB:node0");
	check_double_near(p.dims[idx].total, 512, 0);
	check_double_near(p.dims[idx].observed_free, 100, 0);
	p.dims[idx].risk_bound = 0;
	p.dims[idx].host_reserved = 8;
	/* A new reading updates the dimension and keeps the policy. */
	check_int_eq(pool_hugepages_dim_set(&p, 0, 2048, "400", "400", &idx2), 0);
	check_int_eq(idx2, idx);
	check_double_near(p.dims[idx].total, 400, 0);
	check_double_near(p.dims[idx].host_reserved, 8, 0);
	check_int_eq(p.n_dims, 1);
	/* free above nr is not a reading the kernel gives. */
	check_int_eq(pool_hugepages_dim_set(&p, 1, 2048, "4", "5", NULL), -EINVAL);
	check_int_eq(pool_hugepages_dim_set(&p, POOL_MAX_NODES, 2048, "4", "4", NULL), -EINVAL);
	check_int_eq(p.n_dims, 1);
}

static void test_dims(void)
{
	struct pool p;
	struct pool_dim d = { .kind = POOL_KIND_MEM, .name = "mem", .total = 1e9 };
	enum pool_class cls;

	pool_init(&p);
	check_int_eq(pool_dim_add(&p, &d, NULL), 0);
	check_int_eq(pool_dim_add(&p, &d, NULL), -EEXIST);
	d.total = -1;
	snprintf(d.name, sizeof(d.name), "bad");
	check_int_eq(pool_dim_add(&p, &d, NULL), -EINVAL);
	d.total = NAN;
	check_int_eq(pool_dim_add(&p, &d, NULL), -EINVAL);
	d.total = 1;
	d.risk_bound = 1;
	check_int_eq(pool_dim_add(&p, &d, NULL), -EINVAL);
	for (int i = 1; i < POOL_MAX_DIMS; i++) {
		struct pool_dim x = { .kind = POOL_KIND_NET, .total = 1 };

		snprintf(x.name, sizeof(x.name), "net:tap%d", i);
		check_int_eq(pool_dim_add(&p, &x, NULL), 0);
	}
	d.risk_bound = 0;
	snprintf(d.name, sizeof(d.name), "one-too-many");
	check_int_eq(pool_dim_add(&p, &d, NULL), -E2BIG);
	check_int_eq(pool_dim_find(&p, "net:tap3"), 3);
	check_int_eq(pool_dim_find(&p, "nope"), -ENOENT);

	check_int_eq(pool_cpuset_parse("0-3,6", &p.machine_cpus), 0);
	pool_init(&p);
	check_int_eq(pool_cpuset_parse("0-3,6", &p.machine_cpus), 0);
	check_int_eq(pool_cpu_dim_sync(&p, 0.5, 0.01), 0);
	check_double_near(p.dims[pool_dim_find(&p, "cpu")].total, 5, 0);
	check_int_eq(pool_cpuset_parse("0-7", &p.machine_cpus), 0);
	check_int_eq(pool_cpu_dim_sync(&p, 0.5, 0.01), 0);
	check_int_eq(p.n_dims, 1);
	check_double_near(p.dims[0].total, 8, 0);

	check_int_eq(pool_class_from_string("burstable", &cls), 0);
	check_int_eq(cls, POOL_CLASS_BURSTABLE);
	check_int_eq(pool_class_from_string("gold", &cls), -EINVAL);
	check_str_eq(pool_class_to_string(POOL_CLASS_BEST_EFFORT), "best-effort");
	check_str_eq(pool_kind_to_string(POOL_KIND_HUGEPAGES), "hugepages");
}

int main(void)
{
	test_cpuset_table();
	test_cpuset_ops();
	test_hugepages();
	test_dims();
	return test_result();
}
