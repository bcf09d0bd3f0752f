// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Runs inside a TCG guest booted with cgroup_no_v1=all (test-cgroup2.sh):
 * drives the cgroupfs writer and the hugepage pool code against the real
 * kernel, and checks what the kernel then does. One line per result on
 * stdout (the serial console), parsed by the host:
 *   PCG ok <name> <detail>      a check that passed
 *   PCG FAIL <name> <detail>    a check that failed
 *   PCG measure <name> <value>  a figure for the report
 * Argument: the cgroup2 mount (default /sys/fs/cgroup), then the block device
 * (default vda) used for io.max and for page-cache memory pressure.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroupfs.h"
#include "cleanup.h"
#include "hugepages.h"
#include "util.h"

#define MIB (1ULL << 20)

static const char *root = "/sys/fs/cgroup";
static const char *disk = "vda";
static int failures;

static void result(bool ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void result(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("PCG %s %s ", ok ? "ok" : "FAIL", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

static void measure(const char *name, double v)
{
	printf("PCG measure %s %.3f\n", name, v);
	fflush(stdout);
}

/* Checks r == want, printing the writer's named file and detail on failure. */
static void expect(struct enforce_cgroup *cg, const char *name, int r, int want)
{
	if (r == want)
		result(true, name, "r=%d", r);
	else
		result(false, name, "r=%d (%s) want %d; file %s: %s", r, strerror(-r), want,
		       cg ? cg->err_file : "-", cg ? cg->err_detail : "-");
}

static double now_sec(void)
{
	return (double)util_now_usec() / 1e6;
}

static int cg_mkdir(const char *path)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", root, path);
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int cg_open(const char *path, struct enforce_cgroup **ret)
{
	int r = enforce_cgroup_open(root, path, ret);

	if (r < 0)
		result(false, "open", "%s: %s", path, strerror(-r));
	return r;
}

/* Reads a "key value" line of a flat-keyed cgroup file (cpu.stat, memory.stat). */
static uint64_t cg_stat(struct enforce_cgroup *cg, const char *file, const char *key)
{
	_cleanup_free_ char *s = NULL;
	size_t len, klen = strlen(key);
	uint64_t v = UINT64_MAX;

	if (util_file_read_at(cg->dir_fd, file, 65536, &s, &len) < 0)
		return UINT64_MAX;
	for (char *line = s; line && *line;) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		if (klen == 0 || (strncmp(line, key, klen) == 0 && line[klen] == ' ')) {
			if (util_parse_u64(line + (klen ? klen + 1 : 0), &v) < 0)
				v = UINT64_MAX;
			break;
		}
		line = nl ? nl + 1 : NULL;
	}
	return v;
}

static uint64_t cg_u64(struct enforce_cgroup *cg, const char *file)
{
	return cg_stat(cg, file, "");
}

/* Forks a child that joins the cgroup, then runs fn(arg); returns its pid. */
static pid_t spawn_in(struct enforce_cgroup *cg, void (*fn)(const void *), const void *arg)
{
	pid_t pid = fork();

	if (pid == 0) {
		char me[32];
		int fd = openat(cg->dir_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);

		snprintf(me, sizeof(me), "%d", getpid());
		if (fd < 0 || write(fd, me, strlen(me)) < 0)
			_exit(2);
		close(fd);
		fn(arg);
		_exit(0);
	}
	return pid;
}

/* Waits for a child; returns its exit status (-1 when it did not exit). */
static int wait_child(pid_t pid)
{
	int st = 0;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void burn(const void *arg)
{
	double until = now_sec() + *(const double *)arg;
	volatile uint64_t x = 0;

	while (now_sec() < until)
		for (int i = 0; i < 100000; i++)
			x += (uint64_t)i;
}

struct read_job {
	uint64_t offset, bytes;
	bool direct;
};

/* Reads a region of the disk: buffered fills the page cache of the reader's cgroup. */
static void read_disk(const void *arg)
{
	const struct read_job *j = arg;
	char path[64];
	void *buf;
	int fd;

	snprintf(path, sizeof(path), "/dev/%s", disk);
	fd = open(path, O_RDONLY | O_CLOEXEC | (j->direct ? O_DIRECT : 0));
	if (fd < 0 || posix_memalign(&buf, 4096, MIB) != 0)
		_exit(3);
	for (uint64_t done = 0; done < j->bytes; done += MIB)
		if (pread(fd, buf, MIB, (off_t)(j->offset + done)) != (ssize_t)MIB)
			_exit(4);
	_exit(0);
}

static void check_cpu(void)
{
	_cleanup_(enforce_cgroup_freep) struct enforce_cgroup *cg = NULL;
	struct enforce_cpu_max v = { .quota_usec = 50000, .period_usec = 100000 }, got;
	uint64_t u0, u1, t0, t1;
	double secs = 2.0, t;
	pid_t pid;

	if (cg_open("prescient/vm", &cg) < 0)
		return;
	expect(cg, "cpu.max-set", enforce_cgroup_cpu_max_set(cg, &v), 0);
	expect(cg, "cpu.max-get", enforce_cgroup_cpu_max_get(cg, &got), 0);
	result(got.quota_usec == 50000 && got.period_usec == 100000, "cpu.max-readback",
	       "%" PRIu64 " %" PRIu64, got.quota_usec, got.period_usec);
	v.quota_usec = ENFORCE_CG_MAX;
	expect(cg, "cpu.max-unlimited", enforce_cgroup_cpu_max_set(cg, &v), 0);
	v.quota_usec = 500; /* below the kernel's 1 ms: refused before writing */
	expect(cg, "cpu.max-invalid", enforce_cgroup_cpu_max_set(cg, &v), -ERANGE);
	expect(cg, "cpu.weight-set", enforce_cgroup_cpu_weight_set(cg, 250), 0);
	result(cg_u64(cg, "cpu.weight") == 250, "cpu.weight-readback", "%" PRIu64,
	       cg_u64(cg, "cpu.weight"));

	/* Effect: a busy loop under 20 ms per 100 ms gets about 20 % of a CPU. */
	v = (struct enforce_cpu_max){ .quota_usec = 20000, .period_usec = 100000 };
	expect(cg, "cpu.max-20pct", enforce_cgroup_cpu_max_set(cg, &v), 0);
	u0 = cg_stat(cg, "cpu.stat", "usage_usec");
	t0 = cg_stat(cg, "cpu.stat", "nr_throttled");
	t = now_sec();
	pid = spawn_in(cg, burn, &secs);
	wait_child(pid);
	t = now_sec() - t;
	u1 = cg_stat(cg, "cpu.stat", "usage_usec");
	t1 = cg_stat(cg, "cpu.stat", "nr_throttled");
	measure("cpu_max_20pct_share", (double)(u1 - u0) / 1e6 / t);
	result((double)(u1 - u0) / 1e6 / t < 0.30 && (double)(u1 - u0) / 1e6 / t > 0.10 && t1 > t0,
	       "cpu.max-effect", "share %.3f of one CPU over %.2f s, throttled %" PRIu64 " times",
	       (double)(u1 - u0) / 1e6 / t, t, t1 - t0);
}

static void check_cpuset(void)
{
	_cleanup_(enforce_cgroup_freep) struct enforce_cgroup *cg = NULL;
	struct enforce_cpuset cpus, eff;

	if (cg_open("prescient/vm", &cg) < 0)
		return;
	enforce_cpuset_parse("1", &cpus);
	expect(cg, "cpuset.cpus-set", enforce_cgroup_cpuset_set(cg, &cpus), 0);
	expect(cg, "cpuset.cpus.effective-get", enforce_cgroup_cpuset_effective_get(cg, &eff), 0);
	result(enforce_cpuset_equal(&cpus, &eff), "cpuset.cpus-effective", "count %u",
	       enforce_cpuset_count(&eff));
	enforce_cpuset_parse("0-7", &cpus);
	expect(cg, "cpuset.cpus-outside-parent", enforce_cgroup_cpuset_set(cg, &cpus), -ERANGE);
	result(strstr(cg->err_file, "cpuset.cpus.effective") != NULL, "cpuset.cpus-names-parent",
	       "%s: %s", cg->err_file, cg->err_detail);
	/* The kernel agrees it would have refused: -EINVAL/-ERANGE on a raw write. */
	{
		int fd = openat(cg->dir_fd, "cpuset.cpus", O_WRONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? write(fd, "0-7", 3) : -1;
		int e = errno;

		if (fd >= 0)
			close(fd);
		result(n < 0, "cpuset.cpus-kernel-refuses", "%s", n < 0 ? strerror(e) : "accepted");
	}
	enforce_cpuset_parse("0-1", &cpus);
	expect(cg, "cpuset.cpus-reset", enforce_cgroup_cpuset_set(cg, &cpus), 0);
}

static void check_memory_knobs(void)
{
	_cleanup_(enforce_cgroup_freep) struct enforce_cgroup *cg = NULL;
	static const uint64_t vals[ENFORCE_NR_MEMORY_KNOBS] = { 64 * MIB, 96 * MIB, 200 * MIB,
								256 * MIB };
	uint64_t got;

	if (cg_open("prescient/vm", &cg) < 0)
		return;
	for (unsigned k = 0; k < ENFORCE_NR_MEMORY_KNOBS; k++) {
		char name[64];

		snprintf(name, sizeof(name), "%s-set", enforce_memory_knob_file(k));
		expect(cg, name, enforce_cgroup_memory_set(cg, k, vals[k]), 0);
		snprintf(name, sizeof(name), "%s-readback", enforce_memory_knob_file(k));
		got = 0;
		enforce_cgroup_memory_get(cg, k, &got);
		result(got == vals[k], name, "%" PRIu64, got);
	}
	/* Not a page multiple: the writer rounds down as the kernel does. */
	expect(cg, "memory.high-unaligned",
	       enforce_cgroup_memory_set(cg, ENFORCE_MEMORY_HIGH, 100000000), 0);
	expect(cg, "memory.max-unlimited",
	       enforce_cgroup_memory_set(cg, ENFORCE_MEMORY_MAX, ENFORCE_CG_MAX), 0);
	expect(cg, "memory.high-unlimited",
	       enforce_cgroup_memory_set(cg, ENFORCE_MEMORY_HIGH, ENFORCE_CG_MAX), 0);
}

static int disk_devno(uint32_t *ret_major, uint32_t *ret_minor)
{
	char path[128];
	_cleanup_free_ char *s = NULL;
	size_t len;
	unsigned maj, min;

	snprintf(path, sizeof(path), "/sys/block/%s/dev", disk);
	if (util_file_read(path, 64, &s, &len) < 0 || sscanf(s, "%u:%u", &maj, &min) != 2)
		return -ENODEV;
	*ret_major = maj;
	*ret_minor = min;
	return 0;
}

static void check_io(void)
{
	_cleanup_(enforce_cgroup_freep) struct enforce_cgroup *cg = NULL, *rootcg = NULL;
	struct enforce_io_max v;
	struct read_job job = { .offset = 0, .bytes = 4 * MIB, .direct = true };
	uint32_t maj, min;
	int r;
	char qos[64], qos_path[256];
	double t;
	pid_t pid;

	if (disk_devno(&maj, &min) < 0) {
		result(false, "io-disk", "no /sys/block/%s", disk);
		return;
	}
	if (cg_open("prescient/vm", &cg) < 0 || cg_open("", &rootcg) < 0)
		return;
	v = (struct enforce_io_max){ maj, min, MIB, ENFORCE_CG_MAX, ENFORCE_CG_MAX, 1000 };
	expect(cg, "io.max-set", enforce_cgroup_io_max_set(cg, &v), 0);
	/* Effect: 4 MiB of direct reads at 1 MiB/s. */
	t = now_sec();
	pid = spawn_in(cg, read_disk, &job);
	wait_child(pid);
	t = now_sec() - t;
	measure("io_max_1MiBps_read_MiBps", 4.0 / t);
	result(4.0 / t < 1.3 && 4.0 / t > 0.5, "io.max-effect", "%.2f MiB/s for a 1 MiB/s limit",
	       4.0 / t);
	v.rbps = ENFORCE_CG_MAX;
	v.wiops = ENFORCE_CG_MAX;
	expect(cg, "io.max-unlimited", enforce_cgroup_io_max_set(cg, &v), 0);

	expect(cg, "io.weight-default", enforce_cgroup_io_weight_set(cg, true, 0, 0, 300), 0);
	/* Per-device weights need blk-iocost enabled on the device. */
	snprintf(qos, sizeof(qos), "%u:%u enable=1", maj, min);
	snprintf(qos_path, sizeof(qos_path), "%s/io.cost.qos", root);
	r = util_file_write_string(qos_path, qos);
	result(r == 0, "io.cost.qos-enable", "r=%d", r);
	expect(cg, "io.weight-device", enforce_cgroup_io_weight_set(cg, false, maj, min, 500), 0);
	expect(cg, "io.weight-device-reset", enforce_cgroup_io_weight_set(cg, false, maj, min, 0),
	       0);
}

static void check_hugetlb(void)
{
	_cleanup_(enforce_cgroup_freep) struct enforce_cgroup *cg = NULL;
	struct enforce_hugepages hp;
	uint64_t nr = 0;
	int r;

	if (cg_open("prescient/vm", &cg) < 0)
		return;
	expect(cg, "hugetlb.2MB.max-set", enforce_cgroup_hugetlb_max_set(cg, 2048, 8 * MIB), 0);
	result(cg_u64(cg, "hugetlb.2MB.max") == 8 * MIB, "hugetlb.2MB.max-readback", "%" PRIu64,
	       cg_u64(cg, "hugetlb.2MB.max"));
	expect(cg, "hugetlb.2MB.max-unaligned", enforce_cgroup_hugetlb_max_set(cg, 2048, 5 * MIB),
	       0);
	result(cg_u64(cg, "hugetlb.2MB.max") == 4 * MIB, "hugetlb.2MB.max-rounded", "%" PRIu64,
	       cg_u64(cg, "hugetlb.2MB.max"));

	r = enforce_hugepages_set("/sys", 0, 2048, 16, &nr);
	result(r == 0 && nr == 16, "hugepages-grow", "r=%d nr=%" PRIu64, r, nr);
	r = enforce_hugepages_read("/sys", 0, 2048, &hp);
	result(r == 0 && hp.nr == 16 && hp.free == 16, "hugepages-read",
	       "r=%d nr=%" PRIu64 " free=%" PRIu64, r, hp.nr, hp.free);
	/* 8 GiB of pages in a small guest: the kernel under-delivers, we report it. */
	r = enforce_hugepages_set("/sys", 0, 2048, 4096, &nr);
	result(r == 1 && nr < 4096 && nr >= 16, "hugepages-under-delivered",
	       "r=%d asked 4096 got %" PRIu64, r, nr);
	measure("hugepages_2MB_obtained_of_4096", (double)nr);
	r = enforce_hugepages_set("/sys", 0, 2048, 0, &nr);
	result(r == 0 && nr == 0, "hugepages-shrink", "r=%d nr=%" PRIu64, r, nr);
	r = enforce_hugepages_set("/sys", 7, 2048, 1, &nr);
	result(r == -ENOENT, "hugepages-no-node", "r=%d", r);
}

/*
 * memory.min under pressure: in a parent capped at 160 MiB, "prot" reads
 * 80 MiB of the disk into its page cache, then "hog" reads 400 MiB. Run once
 * with prot's memory.min at 96 MiB and once (in a second parent, other disk
 * regions) at 0; compare what prot keeps.
 */
static void pressure_run(const char *parent, uint64_t min_bytes, uint64_t base, double *ret_kept)
{
	_cleanup_(enforce_cgroup_freep) struct enforce_cgroup *p = NULL, *prot = NULL, *hog = NULL;
	char path[128];
	struct read_job a = { .offset = base, .bytes = 80 * MIB };
	struct read_job b = { .offset = base + 100 * MIB, .bytes = 400 * MIB };
	uint64_t before, after;
	int r;

	snprintf(path, sizeof(path), "%s/prot", parent);
	cg_mkdir(parent);
	cg_mkdir(path);
	snprintf(path, sizeof(path), "%s/hog", parent);
	cg_mkdir(path);
	enforce_cgroupfs_controllers_enable(root, path, "memory");
	if (cg_open(parent, &p) < 0)
		return;
	snprintf(path, sizeof(path), "%s/prot", parent);
	if (cg_open(path, &prot) < 0)
		return;
	snprintf(path, sizeof(path), "%s/hog", parent);
	if (cg_open(path, &hog) < 0)
		return;
	expect(p, "pressure-parent-max",
	       enforce_cgroup_memory_set(p, ENFORCE_MEMORY_MAX, 160 * MIB), 0);
	expect(prot, "pressure-prot-min",
	       enforce_cgroup_memory_set(prot, ENFORCE_MEMORY_MIN, min_bytes), 0);
	r = wait_child(spawn_in(prot, read_disk, &a));
	result(r == 0, "pressure-prot-read", "exit %d", r);
	before = cg_u64(prot, "memory.current");
	r = wait_child(spawn_in(hog, read_disk, &b));
	result(r == 0, "pressure-hog-read", "exit %d", r);
	after = cg_u64(prot, "memory.current");
	printf("PCG info %s min=%" PRIu64 " prot before=%" PRIu64 " after=%" PRIu64 " hog=%" PRIu64
	       " parent=%" PRIu64 "\n",
	       parent, min_bytes, before, after, cg_u64(hog, "memory.current"),
	       cg_u64(p, "memory.current"));
	*ret_kept = (double)after / (80.0 * MIB);
}

static void check_memory_protection(void)
{
	double kept = 0, kept_ctl = 0;
	char path[64];
	int keep_fd;

	/* The last close of a block device drops its page cache: hold it open. */
	snprintf(path, sizeof(path), "/dev/%s", disk);
	keep_fd = open(path, O_RDONLY | O_CLOEXEC);

	pressure_run("prescient/pressure", 96 * MIB, 0, &kept);
	pressure_run("prescient/control", 0, 600 * MIB, &kept_ctl);
	measure("memory_min_kept_share", kept);
	measure("memory_unprotected_kept_share", kept_ctl);
	result(kept >= 0.9, "memory.min-protects", "kept %.2f of 80 MiB under pressure", kept);
	result(kept_ctl < 0.5, "memory.min-control", "without memory.min kept %.2f", kept_ctl);
	if (keep_fd >= 0)
		close(keep_fd);
}

int main(int argc, char **argv)
{
	int r;

	if (argc > 1)
		root = argv[1];
	if (argc > 2)
		disk = argv[2];
	setvbuf(stdout, NULL, _IOLBF, 0);
	{
		struct utsname u;
		_cleanup_free_ char *ctl = NULL;
		char p[256];
		size_t len;

		snprintf(p, sizeof(p), "%s/cgroup.controllers", root);
		if (uname(&u) == 0 && util_file_read(p, 4096, &ctl, &len) == 0)
			printf("PCG info kernel %s, cgroup2 controllers: %s", u.release, ctl);
	}
	cg_mkdir("prescient");
	cg_mkdir("prescient/vm");
	r = enforce_cgroupfs_controllers_enable(root, "prescient/vm",
						"cpu cpuset memory io hugetlb");
	result(r == 0, "controllers-enable", "r=%d", r);
	check_cpu();
	check_cpuset();
	check_memory_knobs();
	check_io();
	check_hugetlb();
	check_memory_protection();
	printf("PCG done failures=%d\n", failures);
	return failures ? 1 : 0;
}
