// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Formatting and strict parsing of the cgroup v2 files the writer sets. The
 * parsers read what the kernel prints back, so they accept exactly its
 * format (one trailing newline, single spaces) and reject the rest: a read-
 * back that does not parse is a failure, never a guess.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cgroupfs.h"

static const char *const memory_knob_files[ENFORCE_NR_MEMORY_KNOBS] = {
	[ENFORCE_MEMORY_MIN] = "memory.min",
	[ENFORCE_MEMORY_LOW] = "memory.low",
	[ENFORCE_MEMORY_HIGH] = "memory.high",
	[ENFORCE_MEMORY_MAX] = "memory.max",
};

const char *enforce_memory_knob_file(enum enforce_memory_knob knob)
{
	if ((unsigned)knob >= ENFORCE_NR_MEMORY_KNOBS)
		return NULL;
	return memory_knob_files[knob];
}

/* Digits only, no sign or space; advances *p. -ERANGE on overflow. */
static int parse_u64_token(const char **p, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	while (*s >= '0' && *s <= '9') {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
		s++;
	}
	*p = s;
	*ret = v;
	return 0;
}

/* "max" or a number; a number equal to UINT64_MAX would alias "max": refused. */
static int parse_max_or_u64(const char **p, uint64_t *ret)
{
	uint64_t v;
	int r;

	if (strncmp(*p, "max", 3) == 0) {
		*p += 3;
		*ret = ENFORCE_CG_MAX;
		return 0;
	}
	r = parse_u64_token(p, &v);
	if (r < 0)
		return r;
	if (v == ENFORCE_CG_MAX)
		return -ERANGE;
	*ret = v;
	return 0;
}

/* The end of a value: NUL, or one newline then NUL. */
static bool at_end(const char *p)
{
	return *p == '\0' || (*p == '\n' && p[1] == '\0');
}

static int format_max_or_u64(uint64_t v, char *buf, size_t size)
{
	int n;

	if (v == ENFORCE_CG_MAX)
		n = snprintf(buf, size, "max");
	else
		n = snprintf(buf, size, "%" PRIu64, v);
	return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
}

int enforce_cpu_max_validate(const struct enforce_cpu_max *v)
{
	if (v->period_usec < ENFORCE_CPU_PERIOD_MIN_USEC ||
	    v->period_usec > ENFORCE_CPU_PERIOD_MAX_USEC)
		return -ERANGE;
	if (v->quota_usec != ENFORCE_CG_MAX && v->quota_usec < ENFORCE_CPU_QUOTA_MIN_USEC)
		return -ERANGE;
	/* The kernel keeps quota in ns in a signed 64-bit slot. */
	if (v->quota_usec != ENFORCE_CG_MAX && v->quota_usec > (uint64_t)INT64_MAX / 1000)
		return -ERANGE;
	return 0;
}

int enforce_cpu_max_format(const struct enforce_cpu_max *v, char *buf, size_t size)
{
	char q[32];
	int n, r;

	r = enforce_cpu_max_validate(v);
	if (r < 0)
		return r;
	r = format_max_or_u64(v->quota_usec, q, sizeof(q));
	if (r < 0)
		return r;
	n = snprintf(buf, size, "%s %" PRIu64, q, v->period_usec);
	return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
}

int enforce_cpu_max_parse(const char *s, struct enforce_cpu_max *ret)
{
	struct enforce_cpu_max v;
	const char *p = s;
	int r;

	if (!s)
		return -EINVAL;
	r = parse_max_or_u64(&p, &v.quota_usec);
	if (r < 0)
		return r;
	if (*p++ != ' ')
		return -EINVAL;
	r = parse_u64_token(&p, &v.period_usec);
	if (r < 0)
		return r;
	if (!at_end(p))
		return -EINVAL;
	*ret = v;
	return 0;
}

int enforce_weight_parse(const char *s, uint32_t *ret)
{
	const char *p = s;
	uint64_t v;
	int r;

	if (!s)
		return -EINVAL;
	r = parse_u64_token(&p, &v);
	if (r < 0)
		return r;
	if (!at_end(p))
		return -EINVAL;
	if (v < ENFORCE_CPU_WEIGHT_MIN || v > ENFORCE_CPU_WEIGHT_MAX)
		return -ERANGE;
	*ret = (uint32_t)v;
	return 0;
}

int enforce_limit_parse(const char *s, uint64_t *ret_bytes)
{
	const char *p = s;
	uint64_t v;
	int r;

	if (!s)
		return -EINVAL;
	r = parse_max_or_u64(&p, &v);
	if (r < 0)
		return r;
	if (!at_end(p))
		return -EINVAL;
	*ret_bytes = v;
	return 0;
}

int enforce_limit_format(uint64_t bytes, char *buf, size_t size)
{
	return format_max_or_u64(bytes, buf, size);
}

int enforce_io_max_validate(const struct enforce_io_max *v)
{
	/* dev_t allows 12-bit majors and 20-bit minors. */
	if (v->major > 0xfff || v->minor > 0xfffff)
		return -ERANGE;
	/* The kernel refuses a zero limit ("0" means nothing passes). */
	if (!v->rbps || !v->wbps || !v->riops || !v->wiops)
		return -ERANGE;
	return 0;
}

int enforce_io_max_format(const struct enforce_io_max *v, char *buf, size_t size)
{
	char val[4][32];
	const uint64_t vals[4] = { v->rbps, v->wbps, v->riops, v->wiops };
	int n, r;

	r = enforce_io_max_validate(v);
	if (r < 0)
		return r;
	for (size_t i = 0; i < 4; i++) {
		r = format_max_or_u64(vals[i], val[i], sizeof(val[i]));
		if (r < 0)
			return r;
	}
	n = snprintf(buf, size, "%" PRIu32 ":%" PRIu32 " rbps=%s wbps=%s riops=%s wiops=%s",
		     v->major, v->minor, val[0], val[1], val[2], val[3]);
	return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
}

/* "MAJ:MIN" at *p; advances. */
static int parse_devno(const char **p, uint32_t *ret_major, uint32_t *ret_minor)
{
	uint64_t maj, min;
	int r;

	r = parse_u64_token(p, &maj);
	if (r < 0)
		return r;
	if (**p != ':')
		return -EINVAL;
	(*p)++;
	r = parse_u64_token(p, &min);
	if (r < 0)
		return r;
	if (maj > 0xfff || min > 0xfffff)
		return -ERANGE;
	*ret_major = (uint32_t)maj;
	*ret_minor = (uint32_t)min;
	return 0;
}

int enforce_io_max_parse_line(const char *line, size_t len, struct enforce_io_max *ret)
{
	static const char *const keys[4] = { "rbps=", "wbps=", "riops=", "wiops=" };
	char buf[ENFORCE_CG_LINE_MAX];
	struct enforce_io_max v = { 0 };
	uint64_t *slots[4] = { &v.rbps, &v.wbps, &v.riops, &v.wiops };
	unsigned seen = 0;
	const char *p;
	int r;

	if (len >= sizeof(buf) || memchr(line, '\0', len))
		return -EINVAL;
	memcpy(buf, line, len);
	buf[len] = '\0';
	p = buf;
	r = parse_devno(&p, &v.major, &v.minor);
	if (r < 0)
		return r;
	while (*p == ' ') {
		size_t k;

		p++;
		for (k = 0; k < 4; k++)
			if (strncmp(p, keys[k], strlen(keys[k])) == 0)
				break;
		if (k == 4 || (seen & (1u << k)))
			return -EINVAL;
		seen |= 1u << k;
		p += strlen(keys[k]);
		r = parse_max_or_u64(&p, slots[k]);
		if (r < 0)
			return r;
	}
	if (*p != '\0' || seen != 0xf)
		return -EINVAL;
	*ret = v;
	return 0;
}

int enforce_io_max_find(const char *content, uint32_t major, uint32_t minor,
			struct enforce_io_max *ret)
{
	struct enforce_io_max found = {
		.major = major,
		.minor = minor,
		.rbps = ENFORCE_CG_MAX,
		.wbps = ENFORCE_CG_MAX,
		.riops = ENFORCE_CG_MAX,
		.wiops = ENFORCE_CG_MAX,
	};
	bool have = false;
	const char *p = content;

	if (!content)
		return -EINVAL;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		struct enforce_io_max v;
		int r;

		r = enforce_io_max_parse_line(p, len, &v);
		if (r < 0)
			return r;
		if (v.major == major && v.minor == minor) {
			if (have)
				return -EINVAL; /* one line per device */
			found = v;
			have = true;
		}
		p += len;
		if (*p == '\n')
			p++;
	}
	*ret = found;
	return 0;
}

int enforce_io_weight_find(const char *content, bool is_default, uint32_t major, uint32_t minor,
			   uint32_t *ret_weight)
{
	uint64_t dflt = 0, dev = 0;
	const char *p = content;

	if (!content)
		return -EINVAL;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char buf[64];
		const char *q = buf;
		uint32_t maj = 0, min = 0;
		bool is_dflt = false;
		uint64_t w;
		int r;

		if (len >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, p, len);
		buf[len] = '\0';
		if (strncmp(q, "default ", 8) == 0) {
			is_dflt = true;
			q += 8;
		} else {
			r = parse_devno(&q, &maj, &min);
			if (r < 0)
				return r;
			if (*q++ != ' ')
				return -EINVAL;
		}
		r = parse_u64_token(&q, &w);
		if (r < 0)
			return r;
		if (*q != '\0' || w < ENFORCE_IO_WEIGHT_MIN || w > ENFORCE_IO_WEIGHT_MAX)
			return -EINVAL;
		if (is_dflt) {
			if (dflt)
				return -EINVAL;
			dflt = w;
		} else if (maj == major && min == minor) {
			if (dev)
				return -EINVAL;
			dev = w;
		}
		p += len;
		if (*p == '\n')
			p++;
	}
	if (!is_default && dev) {
		*ret_weight = (uint32_t)dev;
		return 0;
	}
	if (!dflt)
		return -ENOENT;
	*ret_weight = (uint32_t)dflt;
	return 0;
}

int enforce_hugetlb_size_name(uint64_t page_kb, char *buf, size_t size)
{
	int n;

	if (page_kb == 0)
		return -EINVAL;
	if (page_kb >= 1024 * 1024)
		n = snprintf(buf, size, "%" PRIu64 "GB", page_kb / (1024 * 1024));
	else if (page_kb >= 1024)
		n = snprintf(buf, size, "%" PRIu64 "MB", page_kb / 1024);
	else
		n = snprintf(buf, size, "%" PRIu64 "KB", page_kb);
	return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
}
