// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reads the host's resource pool from sysfs, procfs and the cgroup tree (see
 * host_pool.h). The value formats are parsed by plan/pool.c's strict
 * parsers; this file only finds the files, reads them and records, per part,
 * what could not be read. Hugepage counts are the kernel's own nr_hugepages
 * and free_hugepages, because a pool grown by writing nr_hugepages may get
 * fewer pages than asked when memory is fragmented.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "host_pool.h"
#include "state.h"
#include "util.h"

#define HOST_POOL_FILE_MAX  (64 * 1024)
#define HOST_POOL_HP_MAX    (POOL_MAX_NODES * 8)
#define NODE_DIR	    "devices/system/node"
#define MACHINE_CPUSET_FILE "machine.slice/cpuset.cpus.effective"

_Static_assert(HOST_POOL_NR_PARTS <= STATE_POOL_PARTS_MAX, "state_pool.error[] too small");

const char *host_pool_part_to_string(enum host_pool_part p)
{
	return state_pool_part_to_string((uint32_t)p);
}

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

static int read_file(const char *root, const char *rel, char **ret)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", root, rel);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	return util_file_read(path, HOST_POOL_FILE_MAX, ret, NULL);
}

static int read_cpuset(const char *root, const char *rel, struct pool_cpuset *ret)
{
	_cleanup_free_ char *text = NULL;
	int r = read_file(root, rel, &text);

	if (r < 0)
		return r;
	return pool_cpuset_parse(text, ret);
}

/* "node12" into 12; anything else (online, possible, power, ...) is not a node. */
static int node_name_parse(const char *name, uint32_t *ret)
{
	uint64_t id;

	if (strncmp(name, "node", 4) || name[4] < '0' || name[4] > '9' ||
	    (name[4] == '0' && name[5]))
		return -EINVAL;
	for (const char *p = name + 4; *p; p++)
		if (*p < '0' || *p > '9')
			return -EINVAL;
	if (util_parse_u64(name + 4, &id) < 0)
		return -EINVAL;
	if (id >= POOL_MAX_NODES)
		return -ERANGE;
	*ret = (uint32_t)id;
	return 0;
}

static int read_nodes(const char *sys_root, struct host_pool *hp)
{
	struct pool_cpuset cpus[POOL_MAX_NODES] = { 0 };
	_cleanup_(closedirp) DIR *d = NULL;
	char path[PATH_MAX], rel[64];
	uint32_t mask = 0, max_id = 0;
	struct dirent *de;
	int n, r;

	n = snprintf(path, sizeof(path), "%s/" NODE_DIR, sys_root);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		uint32_t id;

		r = node_name_parse(de->d_name, &id);
		if (r == -EINVAL)
			continue;
		if (r < 0)
			return r;
		snprintf(rel, sizeof(rel), NODE_DIR "/node%u/cpulist", id);
		r = read_cpuset(sys_root, rel, &cpus[id]);
		if (r < 0)
			return r;
		mask |= 1u << id;
		if (id > max_id)
			max_id = id;
	}
	if (!mask)
		return -ENODATA;
	memcpy(hp->pool.node_cpus, cpus, sizeof(cpus));
	hp->pool.n_nodes = max_id + 1;
	hp->node_mask = mask;
	return 0;
}

struct hp_entry {
	uint32_t node;
	uint64_t page_kb;
};

static int hp_entry_cmp(const void *a, const void *b)
{
	const struct hp_entry *x = a, *y = b;

	if (x->page_kb != y->page_kb)
		return x->page_kb < y->page_kb ? -1 : 1;
	return x->node < y->node ? -1 : x->node > y->node;
}

/* Lists the node's hugepage sizes; directories not named hugepages-* are not ours. */
static int list_hugepages(const char *sys_root, uint32_t node, struct hp_entry *e, size_t *n)
{
	_cleanup_(closedirp) DIR *d = NULL;
	char path[PATH_MAX];
	struct dirent *de;
	int k, r;

	k = snprintf(path, sizeof(path), "%s/" NODE_DIR "/node%u/hugepages", sys_root, node);
	if (k < 0 || (size_t)k >= sizeof(path))
		return -ENAMETOOLONG;
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		uint64_t kb;

		if (strncmp(de->d_name, "hugepages-", 10))
			continue;
		r = pool_hugepages_dir_parse(de->d_name, &kb);
		if (r < 0)
			return r;
		if (*n >= HOST_POOL_HP_MAX)
			return -E2BIG;
		e[(*n)++] = (struct hp_entry){ .node = node, .page_kb = kb };
	}
	return 0;
}

/* One size on one node; a garbled counter leaves that dimension out. */
static int read_hugepages_one(const char *sys_root, const struct hp_entry *e, struct pool *p)
{
	_cleanup_free_ char *nr = NULL, *nfree = NULL;
	char rel[128];
	int r;

	snprintf(rel, sizeof(rel), NODE_DIR "/node%u/hugepages/hugepages-%llukB/nr_hugepages",
		 e->node, (unsigned long long)e->page_kb);
	r = read_file(sys_root, rel, &nr);
	if (r < 0)
		return r;
	snprintf(rel, sizeof(rel), NODE_DIR "/node%u/hugepages/hugepages-%llukB/free_hugepages",
		 e->node, (unsigned long long)e->page_kb);
	r = read_file(sys_root, rel, &nfree);
	if (r < 0)
		return r;
	return pool_hugepages_dim_set(p, e->node, e->page_kb, nr, nfree, NULL);
}

static int read_hugepages(const char *sys_root, struct host_pool *hp)
{
	struct hp_entry e[HOST_POOL_HP_MAX];
	size_t n = 0;
	int r, first = 0;

	for (uint32_t node = 0; node < POOL_MAX_NODES; node++) {
		if (!(hp->node_mask & (1u << node)))
			continue;
		r = list_hugepages(sys_root, node, e, &n);
		/* A kernel without hugetlbfs has no hugepages directory: no pages, not an error. */
		if (r < 0 && r != -ENOENT)
			return r;
	}
	qsort(e, n, sizeof(e[0]), hp_entry_cmp);
	for (size_t i = 0; i < n; i++) {
		r = read_hugepages_one(sys_root, &e[i], &hp->pool);
		if (r < 0 && !first)
			first = r;
	}
	return first;
}

static int meminfo_value(const char *line, const char *key, double *ret)
{
	size_t kl = strlen(key);
	char digits[32];
	const char *p;
	uint64_t kb;
	size_t n;

	if (strncmp(line, key, kl) || line[kl] != ':')
		return 0;
	p = line + kl + 1;
	while (*p == ' ')
		p++;
	n = strspn(p, "0123456789");
	if (n == 0 || n >= sizeof(digits) || strncmp(p + n, " kB", 3) ||
	    (p[n + 3] != '\n' && p[n + 3] != '\0'))
		return -EINVAL;
	memcpy(digits, p, n);
	digits[n] = '\0';
	if (util_parse_u64(digits, &kb) < 0 || kb > UINT64_MAX / 1024)
		return -EINVAL;
	*ret = (double)kb * 1024;
	return 1;
}

int host_pool_meminfo_parse(const char *text, double *ret_total_bytes, double *ret_available_bytes)
{
	double total = NAN, avail = NAN;

	if (!text)
		return -EINVAL;
	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		double v;
		int r;

		r = meminfo_value(line, "MemTotal", &v);
		if (r > 0) {
			if (!isnan(total))
				return -EINVAL;
			total = v;
		}
		if (r == 0) {
			r = meminfo_value(line, "MemAvailable", &v);
			if (r > 0) {
				if (!isnan(avail))
					return -EINVAL;
				avail = v;
			}
		}
		if (r < 0)
			return r;
		if (!nl)
			break;
		line = nl + 1;
	}
	if (isnan(total) || isnan(avail))
		return -ENODATA;
	if (avail > total)
		return -EINVAL;
	*ret_total_bytes = total;
	*ret_available_bytes = avail;
	return 0;
}

static int read_meminfo(const char *proc_root, struct host_pool *hp)
{
	_cleanup_free_ char *text = NULL;
	double total, avail;
	struct pool_dim d = {
		.kind = POOL_KIND_MEM,
		.name = "mem",
		.node = POOL_NODE_ANY,
	};
	int r;

	r = read_file(proc_root, "meminfo", &text);
	if (r < 0)
		return r;
	r = host_pool_meminfo_parse(text, &total, &avail);
	if (r < 0)
		return r;
	d.total = total;
	d.observed_free = avail;
	r = pool_dim_add(&hp->pool, &d, NULL);
	if (r < 0)
		return r;
	hp->mem_total_bytes = total;
	hp->mem_available_bytes = avail;
	return 0;
}

/*
 * machine.slice's effective cpuset on cgroup v2; where it is absent (v1,
 * no VM started yet, no systemd) VMs may run on every online CPU.
 */
static int read_machine(const char *cgroup_root, struct host_pool *hp)
{
	struct pool_cpuset set;
	int r;

	r = read_cpuset(cgroup_root, MACHINE_CPUSET_FILE, &set);
	if (r == -ENOENT) {
		if (hp->error[HOST_POOL_ONLINE] < 0)
			return hp->error[HOST_POOL_ONLINE];
		hp->pool.machine_cpus = hp->online_cpus;
		return 0;
	}
	if (r < 0)
		return r;
	/* The kernel keeps effective CPUs online: anything else is not what it wrote. */
	if (hp->error[HOST_POOL_ONLINE] == 0 && !pool_cpuset_is_subset(&set, &hp->online_cpus))
		return -EINVAL;
	hp->pool.machine_cpus = set;
	hp->machine_from_cgroup = true;
	return 0;
}

int host_pool_read(const struct host_pool_roots *roots, struct host_pool *ret)
{
	struct host_pool hp;
	int first = 0;

	if (!roots || !roots->sys_root || !roots->proc_root || !roots->cgroup_root)
		return -EINVAL;
	memset(&hp, 0, sizeof(hp));
	pool_init(&hp.pool);
	hp.mem_total_bytes = hp.mem_available_bytes = NAN;

	hp.error[HOST_POOL_ONLINE] =
		read_cpuset(roots->sys_root, "devices/system/cpu/online", &hp.online_cpus);
	if (hp.error[HOST_POOL_ONLINE] == 0)
		hp.pool.n_cpus = pool_cpuset_count(&hp.online_cpus);
	hp.error[HOST_POOL_NODES] = read_nodes(roots->sys_root, &hp);
	hp.error[HOST_POOL_MEM] = read_meminfo(roots->proc_root, &hp);
	hp.error[HOST_POOL_HUGEPAGES] = hp.error[HOST_POOL_NODES] < 0
						? hp.error[HOST_POOL_NODES]
						: read_hugepages(roots->sys_root, &hp);
	hp.error[HOST_POOL_MACHINE] = read_machine(roots->cgroup_root, &hp);
	if (hp.error[HOST_POOL_MACHINE] == 0)
		hp.error[HOST_POOL_MACHINE] = pool_cpu_dim_sync(&hp.pool, 0, 0);
	for (int i = 0; i < HOST_POOL_NR_PARTS && !first; i++)
		first = hp.error[i];
	*ret = hp;
	return first;
}
