// SPDX-License-Identifier: GPL-2.0-or-later
/* The host resource pool and the strict parsers of its sysfs formats; see pool.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pool.h"

static const char *const kind_names[POOL_NR_KINDS] = {
	[POOL_KIND_CPU] = "cpu", [POOL_KIND_MEM] = "mem",   [POOL_KIND_HUGEPAGES] = "hugepages",
	[POOL_KIND_NET] = "net", [POOL_KIND_DISK] = "disk",
};

static const char *const class_names[POOL_NR_CLASSES] = {
	[POOL_CLASS_GUARANTEED] = "guaranteed",
	[POOL_CLASS_BURSTABLE] = "burstable",
	[POOL_CLASS_BEST_EFFORT] = "best-effort",
};

const char *pool_kind_to_string(enum pool_kind k)
{
	return (unsigned)k < POOL_NR_KINDS ? kind_names[k] : "unknown";
}

const char *pool_class_to_string(enum pool_class c)
{
	return (unsigned)c < POOL_NR_CLASSES ? class_names[c] : "unknown";
}

int pool_class_from_string(const char *s, enum pool_class *ret)
{
	if (!s)
		return -EINVAL;
	for (unsigned i = 0; i < POOL_NR_CLASSES; i++)
		if (strcmp(s, class_names[i]) == 0) {
			*ret = (enum pool_class)i;
			return 0;
		}
	return -EINVAL;
}

void pool_init(struct pool *p)
{
	memset(p, 0, sizeof(*p));
	p->n_nodes = 1;
}

int pool_dim_find(const struct pool *p, const char *name)
{
	for (uint32_t i = 0; i < p->n_dims; i++)
		if (strcmp(p->dims[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

static bool dim_valid(const struct pool_dim *d)
{
	return (unsigned)d->kind < POOL_NR_KINDS && d->name[0] &&
	       memchr(d->name, '\0', sizeof(d->name)) && isfinite(d->total) && d->total >= 0 &&
	       isfinite(d->host_reserved) && d->host_reserved >= 0 && isfinite(d->risk_bound) &&
	       d->risk_bound >= 0 && d->risk_bound < 1;
}

int pool_dim_add(struct pool *p, const struct pool_dim *d, uint32_t *ret_index)
{
	if (!dim_valid(d))
		return -EINVAL;
	if (pool_dim_find(p, d->name) >= 0)
		return -EEXIST;
	if (p->n_dims >= POOL_MAX_DIMS)
		return -E2BIG;
	p->dims[p->n_dims] = *d;
	if (ret_index)
		*ret_index = p->n_dims;
	p->n_dims++;
	return 0;
}

int pool_cpu_dim_sync(struct pool *p, double host_reserved_cores, double risk_bound)
{
	struct pool_dim d = {
		.kind = POOL_KIND_CPU,
		.name = "cpu",
		.node = POOL_NODE_ANY,
		.total = pool_cpuset_count(&p->machine_cpus),
		.host_reserved = host_reserved_cores,
		.risk_bound = risk_bound,
		.observed_free = NAN,
	};
	int i;

	if (!dim_valid(&d))
		return -EINVAL;
	i = pool_dim_find(p, "cpu");
	if (i < 0)
		return pool_dim_add(p, &d, NULL);
	p->dims[i] = d;
	return 0;
}

void pool_cpuset_set(struct pool_cpuset *set, uint32_t cpu)
{
	if (cpu < POOL_MAX_CPUS)
		set->bits[cpu / 64] |= 1ULL << (cpu % 64);
}

bool pool_cpuset_test(const struct pool_cpuset *set, uint32_t cpu)
{
	return cpu < POOL_MAX_CPUS && (set->bits[cpu / 64] >> (cpu % 64)) & 1;
}

uint32_t pool_cpuset_count(const struct pool_cpuset *set)
{
	uint32_t n = 0;

	for (unsigned i = 0; i < POOL_CPUSET_WORDS; i++)
		n += (uint32_t)__builtin_popcountll(set->bits[i]);
	return n;
}

bool pool_cpuset_is_subset(const struct pool_cpuset *sub, const struct pool_cpuset *set)
{
	for (unsigned i = 0; i < POOL_CPUSET_WORDS; i++)
		if (sub->bits[i] & ~set->bits[i])
			return false;
	return true;
}

bool pool_cpuset_intersects(const struct pool_cpuset *a, const struct pool_cpuset *b)
{
	for (unsigned i = 0; i < POOL_CPUSET_WORDS; i++)
		if (a->bits[i] & b->bits[i])
			return true;
	return false;
}

void pool_cpuset_or(struct pool_cpuset *dst, const struct pool_cpuset *src)
{
	for (unsigned i = 0; i < POOL_CPUSET_WORDS; i++)
		dst->bits[i] |= src->bits[i];
}

/*
 * A decimal number without sign, spaces or leading zeros ("0" itself is
 * fine). The kernel never prints "007"; accepting it would let two spellings
 * of one set compare different in logs and checkpoints.
 */
static int parse_cpu_number(const char **s, uint32_t *ret)
{
	const char *p = *s;
	uint64_t v = 0;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	if (*p == '0' && p[1] >= '0' && p[1] <= '9')
		return -EINVAL;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v >= POOL_MAX_CPUS)
			return -ERANGE;
		p++;
	}
	*s = p;
	*ret = (uint32_t)v;
	return 0;
}

int pool_cpuset_parse(const char *s, struct pool_cpuset *ret)
{
	struct pool_cpuset set = { 0 };
	const char *p = s;
	int64_t last = -1;

	if (!s)
		return -EINVAL;
	if (*p == '\0' || (p[0] == '\n' && p[1] == '\0')) {
		*ret = set;
		return 0;
	}
	for (;;) {
		uint32_t lo, hi;
		int r;

		r = parse_cpu_number(&p, &lo);
		if (r < 0)
			return r;
		hi = lo;
		if (*p == '-') {
			p++;
			r = parse_cpu_number(&p, &hi);
			if (r < 0)
				return r;
			if (hi < lo)
				return -EINVAL;
		}
		/* The kernel prints sorted, disjoint ranges: anything else is not its output. */
		if ((int64_t)lo <= last)
			return -EINVAL;
		last = hi;
		for (uint32_t c = lo; c <= hi; c++)
			pool_cpuset_set(&set, c);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '\n')
			p++;
		if (*p != '\0')
			return -EINVAL;
		break;
	}
	*ret = set;
	return 0;
}

int pool_cpuset_format(const struct pool_cpuset *set, char *buf, size_t size)
{
	size_t len = 0;
	uint32_t c = 0;

	if (size == 0)
		return -ENOBUFS;
	buf[0] = '\0';
	while (c < POOL_MAX_CPUS) {
		uint32_t lo, hi;
		int n;

		if (!pool_cpuset_test(set, c)) {
			c++;
			continue;
		}
		lo = hi = c;
		while (hi + 1 < POOL_MAX_CPUS && pool_cpuset_test(set, hi + 1))
			hi++;
		if (lo == hi)
			n = snprintf(buf + len, size - len, "%s%u", len ? "," : "", lo);
		else
			n = snprintf(buf + len, size - len, "%s%u-%u", len ? "," : "", lo, hi);
		if (n < 0 || (size_t)n >= size - len) {
			buf[0] = '\0';
			return -ENOBUFS;
		}
		len += (size_t)n;
		c = hi + 1;
	}
	return 0;
}

int pool_hugepages_count_parse(const char *s, uint64_t *ret)
{
	uint64_t v = 0;
	const char *p = s;

	if (!s || *p < '0' || *p > '9')
		return -EINVAL;
	if (*p == '0' && p[1] >= '0' && p[1] <= '9')
		return -EINVAL;
	while (*p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
		p++;
	}
	if (*p == '\n')
		p++;
	if (*p != '\0')
		return -EINVAL;
	*ret = v;
	return 0;
}

int pool_hugepages_dir_parse(const char *name, uint64_t *ret_page_kb)
{
	static const char prefix[] = "hugepages-";
	size_t n, plen = sizeof(prefix) - 1;
	char digits[24];
	uint64_t kb;
	int r;

	if (!name || strncmp(name, prefix, plen) != 0)
		return -EINVAL;
	name += plen;
	n = strlen(name);
	if (n < 3 || n - 2 >= sizeof(digits) || strcmp(name + n - 2, "kB") != 0)
		return -EINVAL;
	memcpy(digits, name, n - 2);
	digits[n - 2] = '\0';
	r = pool_hugepages_count_parse(digits, &kb);
	if (r < 0)
		return r;
	/* A page size is a power of two of at least 4 KiB. */
	if (kb < 4 || (kb & (kb - 1)))
		return -EINVAL;
	*ret_page_kb = kb;
	return 0;
}

int pool_hugepages_dim_set(struct pool *p, uint32_t node, uint64_t page_kb, const char *nr_str,
			   const char *free_str, uint32_t *ret_index)
{
	struct pool_dim d = {
		.kind = POOL_KIND_HUGEPAGES,
		.node = node,
		.page_kb = page_kb,
	};
	uint64_t nr, nfree;
	int r, i;

	if (node >= POOL_MAX_NODES || page_kb == 0)
		return -EINVAL;
	r = pool_hugepages_count_parse(nr_str, &nr);
	if (r < 0)
		return r;
	r = pool_hugepages_count_parse(free_str, &nfree);
	if (r < 0)
		return r;
	if (nfree > nr)
		return -EINVAL;
	snprintf(d.name, sizeof(d.name), "hugepages-%llukB:node%u", (unsigned long long)page_kb,
		 node);
	d.total = (double)nr;
	d.observed_free = (double)nfree;
	i = pool_dim_find(p, d.name);
	if (i >= 0) {
		/* Keep the policy set by the caller; only the readings change. */
		d.host_reserved = p->dims[i].host_reserved;
		d.risk_bound = p->dims[i].risk_bound;
		p->dims[i] = d;
		if (ret_index)
			*ret_index = (uint32_t)i;
		return 0;
	}
	return pool_dim_add(p, &d, ret_index);
}
