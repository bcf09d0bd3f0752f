// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Hugepage pools against a fixture sysfs tree: the paths per node and size,
 * the counters read, strict refusal of a malformed counter. The kernel's
 * under-delivery is exercised against a real kernel in
 * tests/integration/cgroup2 (a 512 MiB guest asked for 2 GiB of pages).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hugepages.h"
#include "tap.h"
#include "util.h"

static char root[PATH_MAX];

static void put(const char *rel, const char *content)
{
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/devices/system/node/%s", root, rel);
	check_int_eq(util_file_write_atomic(path, content, strlen(content)), 0);
}

int main(void)
{
	struct enforce_hugepages hp;
	char path[PATH_MAX * 2];
	uint64_t nr = 0;

	snprintf(root, sizeof(root), "/tmp/prescient-test-hugepages.XXXXXX");
	if (!mkdtemp(root))
		test_skip("cannot create a temporary directory");
	snprintf(path, sizeof(path), "%s/devices/system/node/node1/hugepages/hugepages-2048kB",
		 root);
	check_int_eq(util_mkdir_p(path, 0755), 0);
	put("node1/hugepages/hugepages-2048kB/nr_hugepages", "0\n");
	put("node1/hugepages/hugepages-2048kB/free_hugepages", "0\n");
	put("node1/hugepages/hugepages-2048kB/surplus_hugepages", "0\n");

	check_int_eq(enforce_hugepages_set(root, 1, 2048, 16, &nr), 0);
	check_int_eq(nr, 16);
	check_int_eq(enforce_hugepages_read(root, 1, 2048, &hp), 0);
	check_int_eq(hp.nr, 16);
	check_int_eq(hp.free, 0);

	check_int_eq(enforce_hugepages_read(root, 0, 2048, &hp), -ENOENT);
	check_int_eq(enforce_hugepages_read(root, 1, 1048576, &hp), -ENOENT);
	check_int_eq(enforce_hugepages_set(root, 1, 1048576, 1, &nr), -ENOENT);
	check_int_eq(enforce_hugepages_set(root, 1, 0, 1, &nr), -EINVAL);

	put("node1/hugepages/hugepages-2048kB/free_hugepages", "12 pages\n");
	check_int_eq(enforce_hugepages_read(root, 1, 2048, &hp), -EINVAL);
	put("node1/hugepages/hugepages-2048kB/free_hugepages", "-1\n");
	check_int_eq(enforce_hugepages_read(root, 1, 2048, &hp), -EINVAL);

	{
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", root);
	}
	return test_result();
}
