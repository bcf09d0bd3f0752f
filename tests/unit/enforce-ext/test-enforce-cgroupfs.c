// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The cgroupfs writer against a fixture tree of plain files: what is written,
 * the parent's effective cpuset check before any write, the read-back that
 * catches a file holding something else (a symlink to /dev/null reads back
 * empty), path validation and controller enabling. The real kernel's answers
 * are checked in tests/integration/cgroup2.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroupfs.h"
#include "cleanup.h"
#include "tap.h"
#include "util.h"

static char root[PATH_MAX];

static void put(const char *rel, const char *content)
{
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	check_int_eq(util_file_write_atomic(path, content, strlen(content)), 0);
}

static char *get(const char *rel)
{
	char path[PATH_MAX * 2], *buf = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (util_file_read(path, 4096, &buf, &len) < 0)
		return NULL;
	return buf;
}

static void check_file(const char *rel, const char *want)
{
	_cleanup_free_ char *s = get(rel);

	check_str_eq(s, want);
}

int main(void)
{
	_cleanup_(enforce_cgroup_freep) struct enforce_cgroup *cg = NULL;
	struct enforce_cpuset cpus;
	struct enforce_cpu_max cm;
	struct enforce_io_max io;
	char path[PATH_MAX * 2];
	uint64_t b;
	int r;

	snprintf(root, sizeof(root), "/tmp/prescient-test-cgroupfs.XXXXXX");
	if (!mkdtemp(root))
		test_skip("cannot create a temporary directory");
	snprintf(path, sizeof(path), "%s/machine/vm1", root);
	check_int_eq(util_mkdir_p(path, 0755), 0);
	put("cgroup.subtree_control", "cpu\n");
	put("machine/cgroup.subtree_control", "");
	put("machine/cpuset.cpus.effective", "0-3\n");
	put("machine/vm1/cpuset.cpus", "");
	put("machine/vm1/cpu.max", "max 100000\n");
	put("machine/vm1/io.max", "");
	put("machine/vm1/io.weight", "default 100\n");
	/* The kernel's files always exist; the writer never creates one. */
	put("machine/vm1/cpu.weight", "100\n");
	put("machine/vm1/memory.min", "0\n");
	put("machine/vm1/memory.max", "max\n");
	put("machine/vm1/hugetlb.2MB.max", "max\n");

	check_int_eq(enforce_cgroup_open(root, "machine/../etc", &cg), -EINVAL);
	check_int_eq(enforce_cgroup_open(root, "..", &cg), -EINVAL);
	check_int_eq(enforce_cgroup_open(root, "nope", &cg), -ENOENT);
	check_int_eq(enforce_cgroup_open(root, "/machine/vm1", &cg), 0);
	if (!cg)
		return test_result();

	cm = (struct enforce_cpu_max){ .quota_usec = 150000, .period_usec = 100000 };
	check_int_eq(enforce_cgroup_cpu_max_set(cg, &cm), 0);
	check_file("machine/vm1/cpu.max", "150000 100000");
	check_int_eq(enforce_cgroup_cpu_max_get(cg, &cm), 0);
	check_int_eq(cm.quota_usec, 150000);
	cm.quota_usec = 10;
	check_int_eq(enforce_cgroup_cpu_max_set(cg, &cm), -ERANGE);
	check(strstr(cg->err_file, "machine/vm1/cpu.max") != NULL);
	check_file("machine/vm1/cpu.max", "150000 100000");

	check_int_eq(enforce_cgroup_cpu_weight_set(cg, 250), 0);
	check_file("machine/vm1/cpu.weight", "250");
	check_int_eq(enforce_cgroup_cpu_weight_set(cg, 0), -ERANGE);

	check_int_eq(enforce_cpuset_parse("1-2", &cpus), 0);
	check_int_eq(enforce_cgroup_cpuset_set(cg, &cpus), 0);
	check_file("machine/vm1/cpuset.cpus", "1-2");
	/* Outside the parent's effective set: refused before writing, parent named. */
	check_int_eq(enforce_cpuset_parse("2-5", &cpus), 0);
	check_int_eq(enforce_cgroup_cpuset_set(cg, &cpus), -ERANGE);
	check(strstr(cg->err_file, "machine/vm1/../cpuset.cpus.effective") != NULL);
	check(strstr(cg->err_detail, "'2-5'") && strstr(cg->err_detail, "'0-3'"));
	check_file("machine/vm1/cpuset.cpus", "1-2");

	/* Memory is stored in pages: a request is rounded down before writing. */
	check_int_eq(enforce_cgroup_memory_set(cg, ENFORCE_MEMORY_MIN, 100000000), 0);
	{
		long page = sysconf(_SC_PAGESIZE);
		char want[32];

		snprintf(want, sizeof(want), "%llu", (unsigned long long)(100000000 / page * page));
		check_file("machine/vm1/memory.min", want);
	}
	check_int_eq(enforce_cgroup_memory_set(cg, ENFORCE_MEMORY_MAX, ENFORCE_CG_MAX), 0);
	check_file("machine/vm1/memory.max", "max");
	check_int_eq(enforce_cgroup_memory_get(cg, ENFORCE_MEMORY_MAX, &b), 0);
	check(b == ENFORCE_CG_MAX);
	check_int_eq(enforce_cgroup_memory_set(cg, ENFORCE_NR_MEMORY_KNOBS, 1), -EINVAL);

	/* hugetlb in whole huge pages: 5 MiB of 2 MiB pages is 4 MiB. */
	check_int_eq(enforce_cgroup_hugetlb_max_set(cg, 2048, 5 << 20), 0);
	check_file("machine/vm1/hugetlb.2MB.max", "4194304");

	io = (struct enforce_io_max){ 254, 0, 1 << 20, ENFORCE_CG_MAX, ENFORCE_CG_MAX, 300 };
	check_int_eq(enforce_cgroup_io_max_set(cg, &io), 0);
	check_file("machine/vm1/io.max", "254:0 rbps=1048576 wbps=max riops=max wiops=300");
	io.rbps = 0;
	check_int_eq(enforce_cgroup_io_max_set(cg, &io), -ERANGE);

	/* A plain file shows only what was last written, unlike the kernel's list. */
	check_int_eq(enforce_cgroup_io_weight_set(cg, true, 0, 0, 300), 0);
	check_file("machine/vm1/io.weight", "default 300");
	check_int_eq(enforce_cgroup_io_weight_set(cg, false, 8, 0, 0), -EIO);
	check_int_eq(enforce_cgroup_io_weight_set(cg, false, 8, 0, 20000), -ERANGE);

	/* A file that does not keep what was written is a read-back failure naming it. */
	snprintf(path, sizeof(path), "%s/machine/vm1/memory.high", root);
	check_int_eq(symlink("/dev/null", path), 0);
	r = enforce_cgroup_memory_set(cg, ENFORCE_MEMORY_HIGH, 1 << 20);
	check_int_eq(r, -EIO);
	check(strstr(cg->err_file, "machine/vm1/memory.high") != NULL);
	check(strstr(cg->err_detail, "wrote '1048576'") != NULL);

	/* Missing file: -ENOENT and named. */
	snprintf(path, sizeof(path), "%s/machine/vm1/hugetlb.1GB.max", root);
	check_int_eq(mkdir(path, 0755), 0); /* a directory cannot be opened for writing */
	r = enforce_cgroup_hugetlb_max_set(cg, 1048576, 1ULL << 30);
	check(r == -EISDIR);
	check(strstr(cg->err_file, "hugetlb.1GB.max") != NULL);

	/* Controllers: added top-down where missing, left alone where present. */
	check_int_eq(enforce_cgroupfs_controllers_enable(root, "machine/vm1", "cpu memory"), 0);
	check_file("cgroup.subtree_control", "+memory");
	check_file("machine/cgroup.subtree_control", "+memory");

	{
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", root);
	}
	return test_result();
}
