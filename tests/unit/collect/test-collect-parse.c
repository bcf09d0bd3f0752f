// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Table-driven checks of the collector's kernel-file parsers: what they
 * accept, the exact values, and that every malformed variant is refused as a
 * whole (a half-parsed counter file would give a wrong rate, not a missing one).
 */
#include <errno.h>
#include <string.h>

#include "collect_parse.h"
#include "tap.h"

#define S(lit) lit, sizeof(lit) - 1

static void test_keyed(void)
{
	static const char *const keys[] = { "usage_usec", "anon", "file_mapped" };
	static const struct {
		const char *in;
		int r;
		uint32_t found;
		uint64_t v0;
	} cases[] = {
		{ "usage_usec 42\nuser_usec 1\n", 0, 1, 42 },
		{ "usage_usec 42", 0, 1, 42 }, /* last line without newline */
		{ "", 0, 0, 0 },
		{ "user_usec 1\ncore_sched.force_idle_usec 0\n", 0, 0, 0 },
		{ "usage_usec  42\n", -EINVAL, 0, 0 },
		{ "usage_usec 42 \n", -EINVAL, 0, 0 },
		{ " usage_usec 42\n", -EINVAL, 0, 0 },
		{ "usage_usec -42\n", -EINVAL, 0, 0 },
		{ "usage_usec 4x\n", -EINVAL, 0, 0 },
		{ "usage_usec\n", -EINVAL, 0, 0 },
		{ "usage_usec 1\nusage_usec 2\n", -EINVAL, 0, 0 },
		{ "usage_usec 18446744073709551615\n", 0, 1, UINT64_MAX },
		{ "usage_usec 18446744073709551616\n", -ERANGE, 0, 0 },
		{ "usage_usec 1\n\n", -EINVAL, 0, 0 },
		{ "us/age 1\n", -EINVAL, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v[3] = { 7, 7, 7 };
		uint32_t found = 0xff;
		int r = collect_parse_keyed(cases[i].in, strlen(cases[i].in), keys, 3, v, &found);

		check_int_eq(r, cases[i].r);
		if (r == 0) {
			check_int_eq(found, cases[i].found);
			if (found & 1)
				check(v[0] == cases[i].v0);
		} else {
			check_int_eq(found, 0xff); /* untouched on failure */
			check_int_eq(v[0], 7);
		}
	}
	{
		const char in[] = "anon 5\0file_mapped 6\n";
		uint64_t v[3];
		uint32_t found;

		check_int_eq(collect_parse_keyed(in, sizeof(in) - 1, keys, 3, v, &found), -EINVAL);
	}
	{
		uint64_t v[3];
		uint32_t found;

		check_int_eq(
			collect_parse_keyed(S("anon 5\nfile_mapped 6\nx 1\n"), keys, 3, v, &found),
			0);
		check_int_eq(found, 6);
		check_int_eq(v[1], 5);
		check_int_eq(v[2], 6);
	}
}

static void test_u64_file(void)
{
	uint64_t v = 0;

	check_int_eq(collect_parse_u64_file(S("123\n"), &v), 0);
	check_int_eq(v, 123);
	check_int_eq(collect_parse_u64_file(S("9"), &v), 0);
	check_int_eq(v, 9);
	check_int_eq(collect_parse_u64_file(S(""), &v), -EINVAL);
	check_int_eq(collect_parse_u64_file(S("\n"), &v), -EINVAL);
	check_int_eq(collect_parse_u64_file(S("+1\n"), &v), -EINVAL);
	check_int_eq(collect_parse_u64_file(S("1 2\n"), &v), -EINVAL);
	check_int_eq(collect_parse_u64_file(S("1\n\n"), &v), -EINVAL);
	check_int_eq(v, 9);
}

static void test_io_stat(void)
{
	struct collect_io_counters io = { 0 };

	check_int_eq(collect_parse_io_stat(S("8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 "
					     "dios=0\n253:1 rbytes=5 wbytes=0 rios=3 wios=0 "
					     "dbytes=0 dios=0 cost.vrate=99.50 use_delay=-1\n"),
					   &io),
		     0);
	check_int_eq(io.rd_bytes, 15);
	check_int_eq(io.wr_bytes, 20);
	check_int_eq(io.rd_ios, 4);
	check_int_eq(io.wr_ios, 2);
	check_int_eq(collect_parse_io_stat(S(""), &io), 0);
	check_int_eq(io.rd_bytes, 0);
	io.rd_bytes = 77;
	check_int_eq(collect_parse_io_stat(S("8:0 rbytes=10 wbytes=20 rios=1\n"), &io), -EINVAL);
	check_int_eq(collect_parse_io_stat(S("8:0\n"), &io), -EINVAL);
	check_int_eq(collect_parse_io_stat(S("8:0 rbytes=1 wbytes=1 rios=1 wios=1\n"
					     "8:0 rbytes=1 wbytes=1 rios=1 wios=1\n"),
					   &io),
		     -EINVAL);
	check_int_eq(
		collect_parse_io_stat(S("8:0 rbytes=1 rbytes=1 wbytes=1 rios=1 wios=1\n"), &io),
		-EINVAL);
	check_int_eq(collect_parse_io_stat(S("8 rbytes=1 wbytes=1 rios=1 wios=1\n"), &io), -EINVAL);
	check_int_eq(collect_parse_io_stat(S("8:0 rbytes=1 wbytes=1 rios=1 wios=1.5\n"), &io),
		     -EINVAL);
	check_int_eq(collect_parse_io_stat(S("8:0 rbytes=1 wbytes=1 rios=1 wios=1 x=\n"), &io),
		     -EINVAL);
	check_int_eq(collect_parse_io_stat(S("8:0 rbytes=1 wbytes=1 rios=1 wios=1 \n"), &io),
		     -EINVAL);
	check_int_eq(collect_parse_io_stat(S("8:0 rbytes=18446744073709551615 wbytes=1 rios=1 "
					     "wios=1\n8:1 rbytes=1 wbytes=1 rios=1 wios=1\n"),
					   &io),
		     -ERANGE);
	check_int_eq(io.rd_bytes, 77);
}

static void test_blkio(void)
{
	uint64_t rd = 0, wr = 0;

	check_int_eq(collect_parse_blkio(S("8:0 Read 10\n8:0 Write 20\n8:0 Sync 30\n8:0 Async 0\n"
					   "8:0 Discard 0\n8:0 Total 30\n8:16 Read 1\nTotal 31\n"),
					 &rd, &wr),
		     0);
	check_int_eq(rd, 11);
	check_int_eq(wr, 20);
	check_int_eq(collect_parse_blkio(S("Total 0\n"), &rd, &wr), 0);
	check_int_eq(rd, 0);
	rd = 5;
	check_int_eq(collect_parse_blkio(S("8:0 Read 10\n"), &rd, &wr), -EINVAL);
	check_int_eq(collect_parse_blkio(S(""), &rd, &wr), -EINVAL);
	check_int_eq(collect_parse_blkio(S("Total 0\n8:0 Read 1\n"), &rd, &wr), -EINVAL);
	check_int_eq(collect_parse_blkio(S("8:0 Reads 10\nTotal 0\n"), &rd, &wr), -EINVAL);
	check_int_eq(collect_parse_blkio(S("8:0 Read 10 1\nTotal 0\n"), &rd, &wr), -EINVAL);
	check_int_eq(collect_parse_blkio(S("Total x\n"), &rd, &wr), -EINVAL);
	check_int_eq(rd, 5);
}

static void test_psi(void)
{
	double v = -1;

	check_int_eq(collect_parse_psi_some_avg10(S("some avg10=1.50 avg60=1.00 avg300=0.50 "
						    "total=123\nfull avg10=0.25 avg60=0.10 "
						    "avg300=0.00 total=2\n"),
						  &v),
		     0);
	check_double_near(v, 1.5, 1e-12);
	check_int_eq(collect_parse_psi_some_avg10(S("some avg10=100.00 avg60=0.00 avg300=0.00 "
						    "total=0\n"),
						  &v),
		     0);
	check_double_near(v, 100, 0);
	v = -1;
	check_int_eq(collect_parse_psi_some_avg10(S("some avg10=100.01 avg60=0.00 avg300=0.00 "
						    "total=0\n"),
						  &v),
		     -EINVAL);
	check_int_eq(collect_parse_psi_some_avg10(S("some avg10=1.5 avg60=0.00 avg300=0.00 "
						    "total=0\n"),
						  &v),
		     -EINVAL);
	check_int_eq(collect_parse_psi_some_avg10(S("full avg10=0.00 avg60=0.00 avg300=0.00 "
						    "total=0\n"),
						  &v),
		     -EINVAL);
	check_int_eq(collect_parse_psi_some_avg10(S("some avg60=0.00 avg10=0.00 avg300=0.00 "
						    "total=0\n"),
						  &v),
		     -EINVAL);
	check_int_eq(
		collect_parse_psi_some_avg10(S("some avg10=0.00 avg60=0.00 avg300=0.00\n"), &v),
		-EINVAL);
	check_int_eq(collect_parse_psi_some_avg10(S("some avg10=0.00 avg60=0.00 avg300=0.00 "
						    "total=0\nfull avg10=0.00 avg60=0.00 "
						    "avg300=0.00 total=0\nsome avg10=0.00\n"),
						  &v),
		     -EINVAL);
	check_int_eq(collect_parse_psi_some_avg10(S(""), &v), -EINVAL);
	check_double_near(v, -1, 0);
}

/* The "some" total (stalled microseconds, a counter) with avg10; all or nothing. */
static void test_psi_some_total(void)
{
	static const struct {
		const char *in;
		int r;
		double avg10;
		uint64_t total_usec;
	} cases[] = {
		/* The some line's total, not the full line's. */
		{ "some avg10=1.50 avg60=1.00 avg300=0.50 total=123456\n"
		  "full avg10=0.25 avg60=0.10 avg300=0.00 total=2345\n",
		  0, 1.5, 123456 },
		/* cpu.pressure before 5.13: no full line; last line without newline. */
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 total=0", 0, 0, 0 },
		{ "some avg10=100.00 avg60=0.00 avg300=0.00 total=18446744073709551615\n", 0, 100,
		  UINT64_MAX },
		/* As read on this project's test host. */
		{ "some avg10=28.93 avg60=22.46 avg300=46.12 total=4083203564\n"
		  "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
		  0, 28.93, 4083203564ULL },
		/* Overflow, sign, fraction, hex, space, missing or empty total. */
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551616\n", -EINVAL, 0,
		  0 },
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 total=-1\n", -EINVAL, 0, 0 },
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 total=1.5\n", -EINVAL, 0, 0 },
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 total=0x10\n", -EINVAL, 0, 0 },
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 total= 1\n", -EINVAL, 0, 0 },
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 total=\n", -EINVAL, 0, 0 },
		{ "some avg10=0.00 avg60=0.00 avg300=0.00\n", -EINVAL, 0, 0 },
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 total=1 \n", -EINVAL, 0, 0 },
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 total=1 extra=2\n", -EINVAL, 0, 0 },
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 totals=1\n", -EINVAL, 0, 0 },
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 TOTAL=1\n", -EINVAL, 0, 0 },
		{ "some total=1 avg10=0.00 avg60=0.00 avg300=0.00\n", -EINVAL, 0, 0 },
		/* A broken full line refuses the some total too. */
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n"
		  "full avg10=0.00 avg60=0.00 avg300=0.00 total=x\n",
		  -EINVAL, 0, 0 },
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n\n", -EINVAL, 0, 0 },
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\r\n", -EINVAL, 0, 0 },
	};
	static const char nul[] = "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\0\n";
	char big[600];
	double avg10;
	uint64_t total;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r;

		avg10 = -1;
		total = 42;
		r = collect_parse_psi_some(cases[i].in, strlen(cases[i].in), &avg10, &total);
		check_int_eq(r, cases[i].r);
		if (cases[i].r == 0) {
			check_double_near(avg10, cases[i].avg10, 1e-9);
			check(total == cases[i].total_usec);
		} else {
			/* Outputs are written only on success. */
			check_double_near(avg10, -1, 0);
			check(total == 42);
		}
	}
	/* An embedded NUL and an input past the size bound are refused. */
	check_int_eq(collect_parse_psi_some(nul, sizeof(nul) - 1, &avg10, &total), -EINVAL);
	memset(big, ' ', sizeof(big));
	check_int_eq(collect_parse_psi_some(big, sizeof(big), &avg10, &total), -EFBIG);
}

static void test_schedstat(void)
{
	uint64_t run = 0, w = 0;

	check_int_eq(collect_parse_schedstat(S("5000 1234 7\n"), &run, &w), 0);
	check_int_eq(w, 1234);
	check_int_eq(run, 5000);
	check_int_eq(collect_parse_schedstat(S("5000 1234\n"), &run, &w), -EINVAL);
	check_int_eq(collect_parse_schedstat(S("5000 1234 7 8\n"), &run, &w), -EINVAL);
	check_int_eq(collect_parse_schedstat(S("5000 1234 7\nx\n"), &run, &w), -EINVAL);
	check_int_eq(collect_parse_schedstat(S("5000 -1 7\n"), &run, &w), -EINVAL);
	check_int_eq(w, 1234);
}

static void test_mountinfo(void)
{
	struct collect_mount m[COLLECT_NR_HIERS];
	const char in[] =
		"22 1 0:21 / /proc rw,relatime shared:12 - proc proc rw\n"
		"32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup "
		"rw,cpu,cpuacct\n"
		"35 31 0:32 /machine /sys/fs/cgroup/mem\\040ory rw shared:3 master:1 - cgroup "
		"cgroup rw,memory\n"
		"36 31 0:33 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
		"37 31 0:34 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"
		"41 31 0:38 / /other/unified rw - cgroup2 cgroup2 rw\n";

	check_int_eq(collect_parse_mountinfo(S(in), NULL, m), 0);
	check_str_eq(m[COLLECT_HIER_CPUACCT].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
	check_str_eq(m[COLLECT_HIER_MEMORY].mount_point, "/sys/fs/cgroup/mem ory");
	check_str_eq(m[COLLECT_HIER_MEMORY].root, "/machine");
	check_str_eq(m[COLLECT_HIER_V2].mount_point, "/other/unified");
	check_str_eq(m[COLLECT_HIER_BLKIO].mount_point, "");
	check_int_eq(collect_parse_mountinfo(S(in), "/sys/fs/cgroup/", m), 0);
	check_str_eq(m[COLLECT_HIER_V2].mount_point, "");
	check_str_eq(m[COLLECT_HIER_CPUACCT].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
	/* "/sys/fs/cgroupX" is not under "/sys/fs/cgroup". */
	check_int_eq(collect_parse_mountinfo(S("1 1 0:1 / /sys/fs/cgroupX rw - cgroup2 c rw\n"),
					     "/sys/fs/cgroup", m),
		     0);
	check_str_eq(m[COLLECT_HIER_V2].mount_point, "");
	check_int_eq(collect_parse_mountinfo(S("1 1 0:1 / /x rw cgroup2 c rw\n"), NULL, m),
		     -EINVAL);
	check_int_eq(collect_parse_mountinfo(S("1 1 0:1 / /x rw - cgroup2 c\n"), NULL, m), -EINVAL);
}

static void test_proc_cgroup(void)
{
	struct collect_proc_cgroup pc;

	check_int_eq(collect_parse_proc_cgroup(S("12:blkio:/machine/a.libvirt-qemu/emulator\n"
						 "11:memory:/machine/a.libvirt-qemu\n"
						 "4:cpu,cpuacct:/machine/a:b/emulator\n"
						 "1:name=systemd:/x\n"
						 "0::/machine.slice/s.scope/libvirt/emulator\n"),
					       &pc),
		     0);
	check_str_eq(pc.path[COLLECT_HIER_BLKIO], "/machine/a.libvirt-qemu");
	check_str_eq(pc.path[COLLECT_HIER_MEMORY], "/machine/a.libvirt-qemu");
	check_str_eq(pc.path[COLLECT_HIER_CPUACCT], "/machine/a:b");
	check_str_eq(pc.path[COLLECT_HIER_V2], "/machine.slice/s.scope/libvirt");
	check_int_eq(collect_parse_proc_cgroup(S("0::/\n"), &pc), 0);
	check_str_eq(pc.path[COLLECT_HIER_V2], "/");
	check_str_eq(pc.path[COLLECT_HIER_MEMORY], "");
	check_int_eq(collect_parse_proc_cgroup(S("0:/x\n"), &pc), -EINVAL);
	check_int_eq(collect_parse_proc_cgroup(S("0::x\n"), &pc), -EINVAL);
	check_int_eq(collect_parse_proc_cgroup(S("0::/a\n0::/b\n"), &pc), -EINVAL);
	check_int_eq(collect_parse_proc_cgroup(S("a::/a\n"), &pc), -EINVAL);
}

int main(void)
{
	test_keyed();
	test_u64_file();
	test_io_stat();
	test_blkio();
	test_psi();
	test_psi_some_total();
	test_schedstat();
	test_mountinfo();
	test_proc_cgroup();
	return test_result();
}
