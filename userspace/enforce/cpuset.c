// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * CPU list parsing and formatting for cpuset.cpus files. The parser accepts
 * exactly what the kernel prints (and the subset of bitmap_parselist() input
 * that we write), so a read-back compares sets, not strings.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cpuset.h"

void enforce_cpuset_add(struct enforce_cpuset *set, unsigned cpu)
{
	if (cpu < ENFORCE_CPUSET_MAX)
		set->bits[cpu / 64] |= 1ULL << (cpu % 64);
}

bool enforce_cpuset_has(const struct enforce_cpuset *set, unsigned cpu)
{
	return cpu < ENFORCE_CPUSET_MAX && (set->bits[cpu / 64] >> (cpu % 64)) & 1;
}

unsigned enforce_cpuset_count(const struct enforce_cpuset *set)
{
	unsigned n = 0;

	for (size_t i = 0; i < ENFORCE_CPUSET_MAX / 64; i++)
		n += (unsigned)__builtin_popcountll(set->bits[i]);
	return n;
}

bool enforce_cpuset_equal(const struct enforce_cpuset *a, const struct enforce_cpuset *b)
{
	return memcmp(a->bits, b->bits, sizeof(a->bits)) == 0;
}

bool enforce_cpuset_is_subset(const struct enforce_cpuset *sub, const struct enforce_cpuset *set)
{
	for (size_t i = 0; i < ENFORCE_CPUSET_MAX / 64; i++)
		if (sub->bits[i] & ~set->bits[i])
			return false;
	return true;
}

/* One decimal CPU number; at most 5 digits so nothing overflows. */
static int parse_cpu(const char **p, unsigned *ret)
{
	const char *s = *p;
	unsigned v = 0;
	int n = 0;

	while (*s >= '0' && *s <= '9') {
		if (++n > 5)
			return -ERANGE;
		v = v * 10 + (unsigned)(*s - '0');
		s++;
	}
	if (n == 0)
		return -EINVAL;
	if (v >= ENFORCE_CPUSET_MAX)
		return -ERANGE;
	*p = s;
	*ret = v;
	return 0;
}

int enforce_cpuset_parse(const char *s, struct enforce_cpuset *ret)
{
	struct enforce_cpuset set = { 0 };
	const char *p = s;
	int r;

	if (!s)
		return -EINVAL;
	if (*p == '\n' && p[1] == '\0')
		p++;
	while (*p) {
		unsigned lo, hi;

		r = parse_cpu(&p, &lo);
		if (r < 0)
			return r;
		hi = lo;
		if (*p == '-') {
			p++;
			r = parse_cpu(&p, &hi);
			if (r < 0)
				return r;
			if (hi < lo)
				return -EINVAL;
		}
		for (unsigned c = lo; c <= hi; c++)
			enforce_cpuset_add(&set, c);
		if (*p == ',') {
			p++;
			if (*p == '\0' || *p == '\n')
				return -EINVAL;
		} else if (*p == '\n' && p[1] == '\0') {
			p++;
		} else if (*p) {
			return -EINVAL;
		}
	}
	*ret = set;
	return 0;
}

int enforce_cpuset_format(const struct enforce_cpuset *set, char *buf, size_t size)
{
	size_t len = 0;
	unsigned c = 0;

	if (size == 0)
		return -ENOBUFS;
	buf[0] = '\0';
	while (c < ENFORCE_CPUSET_MAX) {
		unsigned hi;
		int n;

		if (!enforce_cpuset_has(set, c)) {
			c++;
			continue;
		}
		hi = c;
		while (hi + 1 < ENFORCE_CPUSET_MAX && enforce_cpuset_has(set, hi + 1))
			hi++;
		if (hi == c)
			n = snprintf(buf + len, size - len, "%s%u", len ? "," : "", c);
		else
			n = snprintf(buf + len, size - len, "%s%u-%u", len ? "," : "", c, hi);
		if (n < 0 || (size_t)n >= size - len)
			return -ENOBUFS;
		len += (size_t)n;
		c = hi + 1;
	}
	return 0;
}
