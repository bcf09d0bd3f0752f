// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Table-driven tests of the cgroup file formats: what the writer produces is
 * what the kernel accepts, and the parsers take exactly what the kernel
 * prints and refuse the rest.
 */
#include <errno.h>
#include <stdint.h>

#include "cgroupfs.h"
#include "cleanup.h"
#include "cpuset.h"
#include "tap.h"

static void test_cpuset(void)
{
	static const struct {
		const char *in;
		int r;
		const char *out;
		unsigned count;
	} cases[] = {
		{ "", 0, "", 0 },
		{ "\n", 0, "", 0 },
		{ "0", 0, "0", 1 },
		{ "0-3\n", 0, "0-3", 4 },
		{ "0-3,8,10-11\n", 0, "0-3,8,10-11", 7 },
		{ "3,1,2", 0, "1-3", 3 },
		{ "0-0", 0, "0", 1 },
		{ "2047", 0, "2047", 1 },
		{ "2048", -ERANGE, NULL, 0 },
		{ "99999999", -ERANGE, NULL, 0 },
		{ "3-1", -EINVAL, NULL, 0 },
		{ "1,", -EINVAL, NULL, 0 },
		{ ",1", -EINVAL, NULL, 0 },
		{ "1 ", -EINVAL, NULL, 0 },
		{ " 1", -EINVAL, NULL, 0 },
		{ "0-7:2/4", -EINVAL, NULL, 0 },
		{ "1\n\n", -EINVAL, NULL, 0 },
		{ "-1", -EINVAL, NULL, 0 },
		{ "1-", -EINVAL, NULL, 0 },
		{ "a", -EINVAL, NULL, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct enforce_cpuset set;
		char buf[64];
		int r = enforce_cpuset_parse(cases[i].in, &set);

		check_int_eq(r, cases[i].r);
		if (r < 0 || !cases[i].out)
			continue;
		check_int_eq(enforce_cpuset_count(&set), cases[i].count);
		check_int_eq(enforce_cpuset_format(&set, buf, sizeof(buf)), 0);
		check_str_eq(buf, cases[i].out);
	}
	{
		struct enforce_cpuset a, b;
		char tiny[3];

		check_int_eq(enforce_cpuset_parse("1-2", &a), 0);
		check_int_eq(enforce_cpuset_parse("0-3", &b), 0);
		check(enforce_cpuset_is_subset(&a, &b));
		check(!enforce_cpuset_is_subset(&b, &a));
		check(!enforce_cpuset_equal(&a, &b));
		check_int_eq(enforce_cpuset_format(&b, tiny, sizeof(tiny)), -ENOBUFS);
	}
}

static void test_cpu_max(void)
{
	struct enforce_cpu_max v;
	char buf[ENFORCE_CG_LINE_MAX];

	check_int_eq(enforce_cpu_max_parse("max 100000\n", &v), 0);
	check(v.quota_usec == ENFORCE_CG_MAX);
	check_int_eq(v.period_usec, 100000);
	check_int_eq(enforce_cpu_max_parse("50000 100000", &v), 0);
	check_int_eq(v.quota_usec, 50000);
	check_int_eq(enforce_cpu_max_parse("50000  100000", &v), -EINVAL);
	check_int_eq(enforce_cpu_max_parse("50000", &v), -EINVAL);
	check_int_eq(enforce_cpu_max_parse("-1 100000", &v), -EINVAL);
	check_int_eq(enforce_cpu_max_parse("maxx 100000", &v), -EINVAL);
	check_int_eq(enforce_cpu_max_parse("1 2 3", &v), -EINVAL);
	check_int_eq(enforce_cpu_max_parse("18446744073709551616 100000", &v), -ERANGE);
	check_int_eq(enforce_cpu_max_parse("18446744073709551615 100000", &v), -ERANGE);

	v = (struct enforce_cpu_max){ .quota_usec = 250000, .period_usec = 100000 };
	check_int_eq(enforce_cpu_max_format(&v, buf, sizeof(buf)), 0);
	check_str_eq(buf, "250000 100000");
	v.quota_usec = ENFORCE_CG_MAX;
	check_int_eq(enforce_cpu_max_format(&v, buf, sizeof(buf)), 0);
	check_str_eq(buf, "max 100000");
	/* The kernel's bounds: period 1 ms..1 s, quota >= 1 ms. */
	v = (struct enforce_cpu_max){ .quota_usec = 999, .period_usec = 100000 };
	check_int_eq(enforce_cpu_max_format(&v, buf, sizeof(buf)), -ERANGE);
	v = (struct enforce_cpu_max){ .quota_usec = 1000, .period_usec = 999 };
	check_int_eq(enforce_cpu_max_validate(&v), -ERANGE);
	v = (struct enforce_cpu_max){ .quota_usec = 1000, .period_usec = 1000001 };
	check_int_eq(enforce_cpu_max_validate(&v), -ERANGE);
	v = (struct enforce_cpu_max){ .quota_usec = 1000, .period_usec = 1000 };
	check_int_eq(enforce_cpu_max_validate(&v), 0);
}

static void test_limits(void)
{
	uint64_t b;
	uint32_t w;
	char buf[32];

	check_int_eq(enforce_limit_parse("max\n", &b), 0);
	check(b == ENFORCE_CG_MAX);
	check_int_eq(enforce_limit_parse("0\n", &b), 0);
	check_int_eq(b, 0);
	check_int_eq(enforce_limit_parse("134217728", &b), 0);
	check_int_eq(b, 134217728);
	check_int_eq(enforce_limit_parse("", &b), -EINVAL);
	check_int_eq(enforce_limit_parse("12k", &b), -EINVAL);
	check_int_eq(enforce_limit_parse("max ", &b), -EINVAL);
	check_int_eq(enforce_limit_parse("+5", &b), -EINVAL);
	check_int_eq(enforce_limit_format(ENFORCE_CG_MAX, buf, sizeof(buf)), 0);
	check_str_eq(buf, "max");
	check_int_eq(enforce_limit_format(4096, buf, sizeof(buf)), 0);
	check_str_eq(buf, "4096");

	check_int_eq(enforce_weight_parse("100\n", &w), 0);
	check_int_eq(w, 100);
	check_int_eq(enforce_weight_parse("0", &w), -ERANGE);
	check_int_eq(enforce_weight_parse("10001", &w), -ERANGE);
	check_int_eq(enforce_weight_parse("10000", &w), 0);

	check_int_eq(enforce_hugetlb_size_name(2048, buf, sizeof(buf)), 0);
	check_str_eq(buf, "2MB");
	check_int_eq(enforce_hugetlb_size_name(1048576, buf, sizeof(buf)), 0);
	check_str_eq(buf, "1GB");
	check_int_eq(enforce_hugetlb_size_name(64, buf, sizeof(buf)), 0);
	check_str_eq(buf, "64KB");
	check_int_eq(enforce_hugetlb_size_name(0, buf, sizeof(buf)), -EINVAL);

	check_str_eq(enforce_memory_knob_file(ENFORCE_MEMORY_LOW), "memory.low");
	check(enforce_memory_knob_file(ENFORCE_NR_MEMORY_KNOBS) == NULL);
}

static void test_io(void)
{
	static const char file[] = "8:0 rbps=1048576 wbps=max riops=max wiops=120\n"
				   "254:16 rbps=max wbps=2097152 riops=max wiops=max\n";
	struct enforce_io_max v;
	char buf[ENFORCE_CG_LINE_MAX];
	uint32_t w;

	check_int_eq(enforce_io_max_find(file, 8, 0, &v), 0);
	check_int_eq(v.rbps, 1048576);
	check(v.wbps == ENFORCE_CG_MAX);
	check_int_eq(v.wiops, 120);
	check_int_eq(enforce_io_max_find(file, 254, 16, &v), 0);
	check_int_eq(v.wbps, 2097152);
	/* No line: no limit. */
	check_int_eq(enforce_io_max_find(file, 7, 1, &v), 0);
	check(v.rbps == ENFORCE_CG_MAX && v.wiops == ENFORCE_CG_MAX && v.major == 7);
	check_int_eq(enforce_io_max_find("", 8, 0, &v), 0);
	/* Malformed lines anywhere make the file unreadable. */
	check_int_eq(enforce_io_max_find("8:0 rbps=1 wbps=max riops=max\n", 8, 0, &v), -EINVAL);
	check_int_eq(enforce_io_max_find("8:0 rbps=1 rbps=1 riops=max wiops=max", 8, 0, &v),
		     -EINVAL);
	check_int_eq(enforce_io_max_find("8:0 rbps=1 wbps=max riops=max wiops=max x", 8, 0, &v),
		     -EINVAL);
	check_int_eq(enforce_io_max_find("8-0 rbps=1 wbps=max riops=max wiops=max", 8, 0, &v),
		     -EINVAL);
	check_int_eq(enforce_io_max_find("4096:0 rbps=1 wbps=max riops=max wiops=max", 8, 0, &v),
		     -ERANGE);
	check_int_eq(enforce_io_max_find("8:0 rbps=1 wbps=max riops=max wiops=max\n"
					 "8:0 rbps=2 wbps=max riops=max wiops=max\n",
					 8, 0, &v),
		     -EINVAL);

	v = (struct enforce_io_max){ 254, 0, 1048576, ENFORCE_CG_MAX, ENFORCE_CG_MAX, 500 };
	check_int_eq(enforce_io_max_format(&v, buf, sizeof(buf)), 0);
	check_str_eq(buf, "254:0 rbps=1048576 wbps=max riops=max wiops=500");
	v.rbps = 0;
	check_int_eq(enforce_io_max_format(&v, buf, sizeof(buf)), -ERANGE);

	check_int_eq(enforce_io_weight_find("default 100\n8:0 200\n", false, 8, 0, &w), 0);
	check_int_eq(w, 200);
	check_int_eq(enforce_io_weight_find("default 100\n8:0 200\n", false, 8, 1, &w), 0);
	check_int_eq(w, 100);
	check_int_eq(enforce_io_weight_find("default 100\n8:0 200\n", true, 0, 0, &w), 0);
	check_int_eq(w, 100);
	check_int_eq(enforce_io_weight_find("8:0 200\n", false, 8, 1, &w), -ENOENT);
	check_int_eq(enforce_io_weight_find("default 0\n", true, 0, 0, &w), -EINVAL);
	check_int_eq(enforce_io_weight_find("default 100\ndefault 100\n", true, 0, 0, &w), -EINVAL);
	check_int_eq(enforce_io_weight_find("default  100\n", true, 0, 0, &w), -EINVAL);
}

int main(void)
{
	test_cpuset();
	test_cpu_max();
	test_limits();
	test_io();
	return test_result();
}
