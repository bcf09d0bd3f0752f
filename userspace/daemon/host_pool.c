// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reads the host's resource pool from sysfs, procfs and the cgroup tree (see
 * host_pool.h). The value formats are parsed by plan/pool.c's strict
 * parsers; this file only finds the files, reads them and records, per part,
 * what could not be read. Hugepage counts are the kernel's own nr_hugepages
 * and free_hugepages, because a pool grown by writing nr_hugepages may get
 * fewer pages than asked when memory is fragmented; a dimension's total adds
 * the pages its node could still make, when the options let pools grow. The uplink's capacity is
 * its link speed only when the user set none: virtual NICs and bonds report
 * -1 or a nominal figure, and the real bottleneck is often upstream.
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
#define ROUTE_FIELDS_MIN    8 /* Iface Destination Gateway Flags RefCnt Use Metric Mask */
#define RTF_UP_FLAG	    0x0001
#define RTF_REJECT_FLAG	    0x0200

_Static_assert(HOST_POOL_NR_PARTS <= STATE_POOL_PARTS_MAX, "state_pool.error[] too small");

const char *host_pool_part_to_string(enum host_pool_part p)
{
	const char *name = state_pool_part_to_string((uint32_t)p);

	/* Until state.c names the newer parts, name them here rather than "unknown". */
	if (!strcmp(name, "unknown") && p == HOST_POOL_NET)
		return "uplink";
	if (!strcmp(name, "unknown") && p == HOST_POOL_DISK)
		return "disk-bandwidth";
	return name;
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

static int meminfo_value(const char *line, const char *key, double *ret);

/* One size on one node; a garbled counter leaves that dimension out. */
static int read_hugepages_one(const char *sys_root, const struct hp_entry *e, struct host_pool *hp)
{
	_cleanup_free_ char *nr = NULL, *nfree = NULL;
	char rel[128];
	uint32_t i;
	uint64_t n;
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
	r = pool_hugepages_dim_set(&hp->pool, e->node, e->page_kb, nr, nfree, &i);
	if (r < 0)
		return r;
	/* pool_hugepages_dim_set() parsed the same string: this cannot fail now. */
	if (pool_hugepages_count_parse(nr, &n) == 0)
		hp->hugepages_nr[i] = n;
	return 0;
}

int host_pool_node_meminfo_parse(const char *text, uint32_t node, double *ret_free_bytes)
{
	double free_bytes = NAN;
	char key[32];

	if (!text)
		return -EINVAL;
	snprintf(key, sizeof(key), "Node %u MemFree", node);
	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		double v;
		int r;

		/* Another node's line in this node's file is not the kernel's layout. */
		if (!strncmp(line, "Node ", 5) &&
		    strncmp(line, key, strlen(key) - strlen("MemFree")))
			return -EINVAL;
		r = meminfo_value(line, key, &v);
		if (r < 0)
			return r;
		if (r > 0) {
			if (!isnan(free_bytes))
				return -EINVAL;
			free_bytes = v;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	if (isnan(free_bytes))
		return -ENODATA;
	*ret_free_bytes = free_bytes;
	return 0;
}

uint64_t host_pool_hugepages_growable(double node_free_bytes, double reserved_bytes, double share,
				      uint64_t page_kb, uint64_t added_pages)
{
	double page_bytes = (double)page_kb * 1024, usable, pages, grain;

	if (page_kb == 0 || !isfinite(node_free_bytes) || !isfinite(reserved_bytes) ||
	    !isfinite(share) || share <= 0 || share > 1 || reserved_bytes < 0)
		return 0;
	usable = (node_free_bytes + (double)added_pages * page_bytes - reserved_bytes) * share;
	if (usable < page_bytes)
		return 0;
	grain = floor((double)HOST_POOL_HUGEPAGES_GRAIN_BYTES / page_bytes);
	if (grain < 1)
		grain = 1;
	pages = floor(floor(usable / page_bytes) / grain) * grain;
	if (pages <= (double)added_pages)
		return 0;
	pages -= (double)added_pages;
	return pages >= (double)UINT64_MAX ? UINT64_MAX : (uint64_t)pages;
}

uint64_t host_pool_hugepages_target(uint64_t need, uint64_t nr, uint64_t free, uint64_t added)
{
	uint64_t give;

	if (need >= nr)
		return need;
	/* Above need: only pages we added, only free ones; the kernel keeps used pages anyway. */
	give = nr - need;
	if (give > added)
		give = added;
	if (give > free)
		give = free;
	return nr - give;
}

/*
 * Adds to each hugepage dimension the pages its node could still make: the
 * node's free memory past the host's whole reserve (the kernel may take that
 * reserve from any node, so each node keeps all of it back), times the grow
 * share split between the node's page sizes, so that the sizes together never
 * claim more than the share, less what the daemon added already.
 */
static uint64_t added_of(const struct host_pool_options *opt, const char *dim)
{
	for (uint32_t i = 0; i < opt->n_hugepages_added && i < POOL_MAX_DIMS; i++)
		if (!strcmp(opt->hugepages_added[i].dim, dim))
			return opt->hugepages_added[i].pages;
	return 0;
}

static int read_hugepages_growable(const char *sys_root, const struct host_pool_options *opt,
				   struct host_pool *hp)
{
	uint32_t sizes[POOL_MAX_NODES] = { 0 };
	int first = 0;

	if (!(opt->hugepages_grow_share > 0))
		return 0;
	for (uint32_t i = 0; i < hp->pool.n_dims; i++)
		if (hp->pool.dims[i].kind == POOL_KIND_HUGEPAGES)
			sizes[hp->pool.dims[i].node]++;
	for (uint32_t node = 0; node < POOL_MAX_NODES; node++) {
		_cleanup_free_ char *text = NULL;
		char rel[64];
		int r;

		if (!sizes[node])
			continue;
		snprintf(rel, sizeof(rel), NODE_DIR "/node%u/meminfo", node);
		r = read_file(sys_root, rel, &text);
		if (r >= 0)
			r = host_pool_node_meminfo_parse(text, node,
							 &hp->node_mem_free_bytes[node]);
		/* Unknown free memory: the pool stays what the kernel holds. */
		if (r < 0 && !first)
			first = r;
	}
	for (uint32_t i = 0; i < hp->pool.n_dims; i++) {
		struct pool_dim *d = &hp->pool.dims[i];
		uint64_t g;

		if (d->kind != POOL_KIND_HUGEPAGES)
			continue;
		g = host_pool_hugepages_growable(hp->node_mem_free_bytes[d->node],
						 (double)opt->host_reserved_mem_bytes,
						 opt->hugepages_grow_share / sizes[d->node],
						 d->page_kb, added_of(opt, d->name));
		hp->hugepages_growable[i] = g;
		d->total = (double)hp->hugepages_nr[i] + (double)g;
	}
	return first;
}

static int read_hugepages(const char *sys_root, const struct host_pool_options *opt,
			  struct host_pool *hp)
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
		r = read_hugepages_one(sys_root, &e[i], hp);
		if (r < 0 && !first)
			first = r;
	}
	r = read_hugepages_growable(sys_root, opt, hp);
	return first ? first : r;
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

bool host_pool_ifname_valid(const char *name)
{
	size_t len;

	if (!name)
		return false;
	len = strlen(name);
	if (len == 0 || len >= CONFIG_IFNAME_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == ':' || (unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

/* Exactly n hex digits, as the kernel prints addresses, flags and masks in net/route. */
static int hex_field_parse(const char *s, size_t n, uint64_t *ret)
{
	uint64_t v = 0;

	if (strlen(s) != n)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		int d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else
			return -EINVAL;
		v = v << 4 | (uint64_t)d;
	}
	*ret = v;
	return 0;
}

/* Splits one line on blanks into at most max fields (modifies line); the field count. */
static size_t split_fields(char *line, char **fields, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *t = strtok_r(line, " \t", &save); t && n < max; t = strtok_r(NULL, " \t", &save))
		fields[n++] = t;
	return n;
}

int host_pool_route_default_parse(const char *text, char *ret_ifname, size_t size)
{
	char best[CONFIG_IFNAME_MAX] = "";
	uint64_t best_metric = UINT64_MAX;
	bool found = false, header = true;

	if (!text)
		return -EINVAL;
	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[256], *f[ROUTE_FIELDS_MIN];
		uint64_t dest, flags, metric, mask;
		size_t n;

		if (len >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, line, len);
		buf[len] = '\0';
		line = nl ? nl + 1 : line + len;
		n = split_fields(buf, f, ROUTE_FIELDS_MIN);
		if (header) {
			/* The kernel's header names the columns; another layout is not ours. */
			if (n < ROUTE_FIELDS_MIN || strcmp(f[0], "Iface") ||
			    strcmp(f[1], "Destination") || strcmp(f[3], "Flags") ||
			    strcmp(f[6], "Metric") || strcmp(f[7], "Mask"))
				return -EINVAL;
			header = false;
			continue;
		}
		if (n == 0)
			continue;
		if (n < ROUTE_FIELDS_MIN || !host_pool_ifname_valid(f[0]) ||
		    hex_field_parse(f[1], 8, &dest) < 0 || hex_field_parse(f[3], 4, &flags) < 0 ||
		    util_parse_u64(f[6], &metric) < 0 || hex_field_parse(f[7], 8, &mask) < 0)
			return -EINVAL;
		if (dest || mask || !(flags & RTF_UP_FLAG) || (flags & RTF_REJECT_FLAG))
			continue;
		if (found && metric >= best_metric)
			continue;
		found = true;
		best_metric = metric;
		util_strlcpy(best, f[0], sizeof(best));
	}
	if (header)
		return -EINVAL;
	if (!found)
		return -ENETUNREACH;
	return util_strlcpy(ret_ifname, best, size) < 0 ? -ENOBUFS : 0;
}

int host_pool_link_speed_parse(const char *text, uint64_t *ret_mbps)
{
	char buf[32];
	size_t len;
	int64_t v;

	if (!text)
		return -EINVAL;
	len = strlen(text);
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, len);
	buf[len] = '\0';
	/* Digits only, optionally after one '-': util_parse_i64 would also take blanks. */
	for (size_t i = buf[0] == '-' ? 1 : 0; i < len; i++)
		if (buf[i] < '0' || buf[i] > '9')
			return -EINVAL;
	if (util_parse_i64(buf, &v) < 0)
		return -EINVAL;
	/* ethtool's SPEED_UNKNOWN is -1; a link that is down may show 0. */
	if (v == -1 || v == 0)
		return -ENODATA;
	if (v < 0)
		return -EINVAL;
	*ret_mbps = (uint64_t)v;
	return 0;
}

static int add_bandwidth_dim(struct pool *p, enum pool_kind kind, const char *name, double kbps)
{
	struct pool_dim d = {
		.kind = kind,
		.node = POOL_NODE_ANY,
		.total = kbps,
		.observed_free = NAN,
	};

	if (util_strlcpy(d.name, name, sizeof(d.name)) < 0)
		return -ENAMETOOLONG;
	return pool_dim_add(p, &d, NULL);
}

static int read_net(const struct host_pool_roots *roots, const struct host_pool_options *opt,
		    struct host_pool *hp)
{
	_cleanup_free_ char *text = NULL;
	char rel[PATH_MAX], name[POOL_NAME_MAX];
	uint64_t mbps;
	double kbps;
	int r;

	if (opt->uplink && opt->uplink[0]) {
		if (!host_pool_ifname_valid(opt->uplink)) {
			hp->error_hint[HOST_POOL_NET] = "set [pool] uplink to an interface name";
			return -EINVAL;
		}
		util_strlcpy(hp->uplink, opt->uplink, sizeof(hp->uplink));
	} else {
		r = read_file(roots->proc_root, "net/route", &text);
		if (r >= 0)
			r = host_pool_route_default_parse(text, hp->uplink, sizeof(hp->uplink));
		if (r < 0) {
			hp->uplink[0] = '\0';
			hp->error_hint[HOST_POOL_NET] = "set [pool] uplink";
			return r;
		}
		hp->uplink_from_route = true;
	}

	if (opt->net_capacity_bps > 0) {
		kbps = (double)opt->net_capacity_bps / 1000;
	} else {
		snprintf(rel, sizeof(rel), "class/net/%s/speed", hp->uplink);
		free(text);
		text = NULL;
		r = read_file(roots->sys_root, rel, &text);
		/* Reading speed fails with EINVAL while the link is down. */
		if (r >= 0)
			r = host_pool_link_speed_parse(text, &mbps);
		if (r < 0) {
			hp->error_hint[HOST_POOL_NET] =
				r == -ENOENT ? "set [pool] uplink to an existing "
					       "interface, or set [pool] uplink_capacity"
					     : "set [pool] uplink_capacity";
			return r;
		}
		kbps = (double)mbps * 1000;
	}
	snprintf(name, sizeof(name), "net:%s", hp->uplink);
	r = add_bandwidth_dim(&hp->pool, POOL_KIND_NET, name, kbps);
	if (r < 0)
		return r;
	hp->net_capacity_kbps = kbps;
	return 0;
}

static int read_disk(const struct host_pool_options *opt, struct host_pool *hp)
{
	double kbps;
	int r;

	if (opt->disk_capacity_bps == 0) {
		hp->error_hint[HOST_POOL_DISK] = "set [pool] disk_capacity";
		return -ENODATA;
	}
	kbps = (double)opt->disk_capacity_bps * 8 / 1000;
	r = add_bandwidth_dim(&hp->pool, POOL_KIND_DISK, "disk", kbps);
	if (r < 0)
		return r;
	hp->disk_capacity_kbps = kbps;
	return 0;
}

/*
 * Reserves and risk bounds from the options onto the dimensions that were
 * read. A reserve is cut to the dimension's total so that capacity is never
 * negative. Hugepages are never overcommitted whatever opt says.
 */
static void apply_options(const struct host_pool_options *opt, struct pool *p)
{
	for (uint32_t i = 0; i < p->n_dims; i++) {
		struct pool_dim *d = &p->dims[i];
		double bound = (unsigned)d->kind < POOL_NR_KINDS ? opt->risk_bound[d->kind] : 0;

		if (d->kind == POOL_KIND_HUGEPAGES || !isfinite(bound) || bound < 0 || bound >= 1)
			bound = 0;
		d->risk_bound = bound;
		if (d->kind == POOL_KIND_CPU)
			d->host_reserved = opt->host_reserved_cores;
		else if (d->kind == POOL_KIND_MEM)
			d->host_reserved = (double)opt->host_reserved_mem_bytes;
		else
			continue;
		if (!isfinite(d->host_reserved) || d->host_reserved < 0)
			d->host_reserved = 0;
		if (d->host_reserved > d->total)
			d->host_reserved = d->total;
	}
}

void host_pool_options_from_config(const struct config *cfg, struct host_pool_options *ret)
{
	*ret = (struct host_pool_options){
		.uplink = cfg->net_uplink,
		.net_capacity_bps = cfg->net_capacity_bps,
		.disk_capacity_bps = cfg->disk_capacity_bps,
		.host_reserved_cores = cfg->host_reserved_cores,
		.host_reserved_mem_bytes = cfg->host_reserved_mem_bytes,
	};
	memcpy(ret->risk_bound, cfg->risk_bound, sizeof(ret->risk_bound));
	ret->risk_bound[POOL_KIND_HUGEPAGES] = 0;
	/* Pools grow only where the daemon will make the pages admission granted. */
	if (cfg->alloc_manage && cfg->hugepages_manage)
		ret->hugepages_grow_share = HOST_POOL_HUGEPAGES_GROW_SHARE;
}

int host_pool_read_config(const struct host_pool_roots *roots, const struct host_pool_options *opt,
			  struct host_pool *ret)
{
	static const struct host_pool_options none;
	struct host_pool hp;
	int first = 0;

	if (!roots || !roots->sys_root || !roots->proc_root || !roots->cgroup_root)
		return -EINVAL;
	if (!opt)
		opt = &none;
	memset(&hp, 0, sizeof(hp));
	pool_init(&hp.pool);
	hp.mem_total_bytes = hp.mem_available_bytes = NAN;
	hp.net_capacity_kbps = hp.disk_capacity_kbps = NAN;
	for (uint32_t i = 0; i < POOL_MAX_NODES; i++)
		hp.node_mem_free_bytes[i] = NAN;

	hp.error[HOST_POOL_ONLINE] =
		read_cpuset(roots->sys_root, "devices/system/cpu/online", &hp.online_cpus);
	if (hp.error[HOST_POOL_ONLINE] == 0)
		hp.pool.n_cpus = pool_cpuset_count(&hp.online_cpus);
	hp.error[HOST_POOL_NODES] = read_nodes(roots->sys_root, &hp);
	hp.error[HOST_POOL_MEM] = read_meminfo(roots->proc_root, &hp);
	hp.error[HOST_POOL_HUGEPAGES] = hp.error[HOST_POOL_NODES] < 0
						? hp.error[HOST_POOL_NODES]
						: read_hugepages(roots->sys_root, opt, &hp);
	hp.error[HOST_POOL_MACHINE] = read_machine(roots->cgroup_root, &hp);
	if (hp.error[HOST_POOL_MACHINE] == 0)
		hp.error[HOST_POOL_MACHINE] = pool_cpu_dim_sync(&hp.pool, 0, 0);
	hp.error[HOST_POOL_NET] = read_net(roots, opt, &hp);
	hp.error[HOST_POOL_DISK] = read_disk(opt, &hp);
	apply_options(opt, &hp.pool);
	for (int i = 0; i < HOST_POOL_NR_PARTS && !first; i++)
		first = hp.error[i];
	*ret = hp;
	return first;
}

int host_pool_read(const struct host_pool_roots *roots, struct host_pool *ret)
{
	return host_pool_read_config(roots, NULL, ret);
}
