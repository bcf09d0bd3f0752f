// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Strict, bounded parsers for the collector's kernel files; see
 * collect_parse.h. Everything works on (buf, len) and tokenises by hand so
 * that no libc routine ever scans past len (fuzzers feed raw bytes).
 */
#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "collect_parse.h"

#define MOUNTINFO_MAX_BYTES (4 * 1024 * 1024)
#define TOKEN_MAX	    256

struct span {
	const char *p;
	size_t n;
};

static bool span_eq(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n == n && memcmp(s.p, lit, n) == 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Splits buf into lines. Returns false at the end; a line longer than the
 * limit or holding a NUL byte sets *bad. The last line may lack its '\n'.
 */
static bool next_line(const char *buf, size_t len, size_t *pos, struct span *ret, bool *bad)
{
	size_t start = *pos, i;

	if (start >= len)
		return false;
	for (i = start; i < len && buf[i] != '\n'; i++)
		if (buf[i] == '\0') {
			*bad = true;
			return false;
		}
	if (i - start > COLLECT_PARSE_MAX_LINE) {
		*bad = true;
		return false;
	}
	ret->p = buf + start;
	ret->n = i - start;
	*pos = i < len ? i + 1 : i;
	return true;
}

/* Next token separated by exactly one sep; an empty token or a doubled sep is malformed. */
static bool next_token(struct span *line, char sep, struct span *ret)
{
	size_t i;

	if (line->n == 0)
		return false;
	for (i = 0; i < line->n && line->p[i] != sep; i++)
		;
	ret->p = line->p;
	ret->n = i;
	if (i < line->n) {
		line->p += i + 1;
		line->n -= i + 1;
		if (line->n == 0) /* trailing separator */
			return false;
	} else {
		line->p += i;
		line->n = 0;
	}
	return ret->n > 0;
}

static int parse_u64(struct span s, uint64_t *ret)
{
	uint64_t v = 0;

	if (s.n == 0 || s.n > 20)
		return -EINVAL;
	for (size_t i = 0; i < s.n; i++) {
		unsigned d;

		if (!is_digit(s.p[i]))
			return -EINVAL;
		d = (unsigned)(s.p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

static bool key_chars_ok(struct span s)
{
	if (s.n == 0 || s.n > 64)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		char c = s.p[i];

		if (!(is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		      c == '.' || c == '-'))
			return false;
	}
	return true;
}

int collect_parse_keyed(const char *buf, size_t len, const char *const *keys, size_t n_keys,
			uint64_t *ret_values, uint32_t *ret_found)
{
	uint64_t values[COLLECT_PARSE_MAX_KEYS] = { 0 };
	uint32_t found = 0;
	struct span line;
	size_t pos = 0;
	bool bad = false;

	if (len > COLLECT_PARSE_MAX_BYTES || n_keys > COLLECT_PARSE_MAX_KEYS)
		return -EFBIG;
	while (next_line(buf, len, &pos, &line, &bad)) {
		struct span key, val;
		uint64_t v;
		int r;

		if (!next_token(&line, ' ', &key) || !next_token(&line, ' ', &val) || line.n != 0)
			return -EINVAL;
		if (!key_chars_ok(key))
			return -EINVAL;
		r = parse_u64(val, &v);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n_keys; i++) {
			if (!span_eq(key, keys[i]))
				continue;
			if (found & (1u << i))
				return -EINVAL;
			found |= 1u << i;
			values[i] = v;
		}
	}
	if (bad)
		return -EINVAL;
	memcpy(ret_values, values, n_keys * sizeof(values[0]));
	*ret_found = found;
	return 0;
}

int collect_parse_u64_file(const char *buf, size_t len, uint64_t *ret)
{
	struct span s = { buf, len };

	if (len > 64)
		return -EINVAL;
	if (s.n && s.p[s.n - 1] == '\n')
		s.n--;
	return parse_u64(s, ret);
}

/* MAJ:MIN with both numbers decimal. */
static int parse_devnum(struct span s, uint64_t *ret)
{
	struct span maj, min;
	uint64_t a, b;

	if (!next_token(&s, ':', &maj) || !next_token(&s, ':', &min) || s.n != 0)
		return -EINVAL;
	if (parse_u64(maj, &a) < 0 || parse_u64(min, &b) < 0 || a > UINT32_MAX || b > UINT32_MAX)
		return -EINVAL;
	*ret = a << 32 | b;
	return 0;
}

/* A value of an io.stat key we do not use: [-]digits[.digits]. */
static bool other_value_ok(struct span s)
{
	size_t i = 0, digits = 0;

	if (s.n && s.p[0] == '-')
		i++;
	for (; i < s.n && is_digit(s.p[i]); i++)
		digits++;
	if (i < s.n && s.p[i] == '.') {
		size_t frac = 0;

		for (i++; i < s.n && is_digit(s.p[i]); i++)
			frac++;
		if (!frac)
			return false;
	}
	return digits > 0 && digits <= 20 && i == s.n;
}

static int add_u64(uint64_t *acc, uint64_t v)
{
	if (*acc > UINT64_MAX - v)
		return -ERANGE;
	*acc += v;
	return 0;
}

#define IO_STAT_MAX_DEVICES 1024

int collect_parse_io_stat(const char *buf, size_t len, struct collect_io_counters *ret)
{
	static const char *const wanted[] = { "rbytes", "wbytes", "rios", "wios" };
	uint64_t sums[4] = { 0 };
	uint64_t devs[64];
	size_t n_devs = 0, n_lines = 0;
	struct span line;
	size_t pos = 0;
	bool bad = false;

	if (len > COLLECT_PARSE_MAX_BYTES)
		return -EFBIG;
	while (next_line(buf, len, &pos, &line, &bad)) {
		struct span dev, kv;
		uint64_t devnum, vals[4];
		unsigned seen = 0, n_kv = 0;

		if (++n_lines > IO_STAT_MAX_DEVICES)
			return -EFBIG;
		if (!next_token(&line, ' ', &dev) || parse_devnum(dev, &devnum) < 0)
			return -EINVAL;
		/* Duplicate devices would be summed twice: check the first 64 exactly. */
		for (size_t i = 0; i < n_devs; i++)
			if (devs[i] == devnum)
				return -EINVAL;
		if (n_devs < ARRAY_SIZE(devs))
			devs[n_devs++] = devnum;
		while (line.n) {
			struct span key, val;
			size_t eq;

			if (!next_token(&line, ' ', &kv) || ++n_kv > 64)
				return -EINVAL;
			for (eq = 0; eq < kv.n && kv.p[eq] != '='; eq++)
				;
			if (eq == 0 || eq + 1 >= kv.n)
				return -EINVAL;
			key = (struct span){ kv.p, eq };
			val = (struct span){ kv.p + eq + 1, kv.n - eq - 1 };
			if (!key_chars_ok(key))
				return -EINVAL;
			for (size_t i = 0; i < 4; i++)
				if (span_eq(key, wanted[i])) {
					if (seen & (1u << i) || parse_u64(val, &vals[i]) < 0)
						return -EINVAL;
					seen |= 1u << i;
					goto next_kv;
				}
			if (!other_value_ok(val))
				return -EINVAL;
		next_kv:;
		}
		if (seen != 0xf)
			return -EINVAL;
		for (size_t i = 0; i < 4; i++)
			if (add_u64(&sums[i], vals[i]) < 0)
				return -ERANGE;
	}
	if (bad)
		return -EINVAL;
	ret->rd_bytes = sums[0];
	ret->wr_bytes = sums[1];
	ret->rd_ios = sums[2];
	ret->wr_ios = sums[3];
	return 0;
}

int collect_parse_blkio(const char *buf, size_t len, uint64_t *ret_read, uint64_t *ret_write)
{
	static const char *const ops[] = { "Read", "Write", "Sync", "Async", "Discard", "Total" };
	uint64_t rd = 0, wr = 0;
	struct span line;
	size_t pos = 0, n_lines = 0;
	bool bad = false, total_seen = false;

	if (len > COLLECT_PARSE_MAX_BYTES)
		return -EFBIG;
	while (next_line(buf, len, &pos, &line, &bad)) {
		struct span a, b, c;
		uint64_t devnum, v;
		size_t op;

		if (total_seen || ++n_lines > 8 * IO_STAT_MAX_DEVICES)
			return -EINVAL; /* nothing may follow the final Total */
		if (!next_token(&line, ' ', &a) || !next_token(&line, ' ', &b))
			return -EINVAL;
		if (line.n == 0) {
			/* "Total N": the grand total closes the file. */
			if (!span_eq(a, "Total") || parse_u64(b, &v) < 0)
				return -EINVAL;
			total_seen = true;
			continue;
		}
		if (!next_token(&line, ' ', &c) || line.n != 0)
			return -EINVAL;
		if (parse_devnum(a, &devnum) < 0 || parse_u64(c, &v) < 0)
			return -EINVAL;
		for (op = 0; op < ARRAY_SIZE(ops); op++)
			if (span_eq(b, ops[op]))
				break;
		if (op == ARRAY_SIZE(ops))
			return -EINVAL;
		if (op == 0 && add_u64(&rd, v) < 0)
			return -ERANGE;
		if (op == 1 && add_u64(&wr, v) < 0)
			return -ERANGE;
	}
	if (bad || !total_seen)
		return -EINVAL;
	*ret_read = rd;
	*ret_write = wr;
	return 0;
}

/* "12.34": 1 to 3 integer digits, exactly 2 decimals, at most 100.00. */
static int parse_psi_avg(struct span s, double *ret)
{
	unsigned ip = 0, fp = 0;
	size_t i, dot;

	for (dot = 0; dot < s.n && s.p[dot] != '.'; dot++)
		;
	if (dot == 0 || dot > 3 || s.n != dot + 3)
		return -EINVAL;
	for (i = 0; i < dot; i++) {
		if (!is_digit(s.p[i]))
			return -EINVAL;
		ip = ip * 10 + (unsigned)(s.p[i] - '0');
	}
	for (i = dot + 1; i < s.n; i++) {
		if (!is_digit(s.p[i]))
			return -EINVAL;
		fp = fp * 10 + (unsigned)(s.p[i] - '0');
	}
	if (ip > 100 || (ip == 100 && fp != 0))
		return -ERANGE;
	*ret = ip + fp / 100.0;
	return 0;
}

/*
 * "<kind> avg10=A avg60=B avg300=C total=N", fields in that order. total is
 * the cumulative stall time in microseconds since the group was created.
 */
static int parse_psi_line(struct span line, const char *kind, double *ret_avg10,
			  uint64_t *ret_total_usec)
{
	static const char *const keys[] = { "avg10", "avg60", "avg300", "total" };
	struct span tok;
	uint64_t total = 0;
	double avg10 = 0;

	if (!next_token(&line, ' ', &tok) || !span_eq(tok, kind))
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		size_t klen = strlen(keys[i]);
		struct span val;
		double avg;

		if (!next_token(&line, ' ', &tok) || tok.n <= klen + 1 ||
		    memcmp(tok.p, keys[i], klen) != 0 || tok.p[klen] != '=')
			return -EINVAL;
		val = (struct span){ tok.p + klen + 1, tok.n - klen - 1 };
		if (i < 3 ? parse_psi_avg(val, &avg) < 0 : parse_u64(val, &total) < 0)
			return -EINVAL;
		if (i == 0)
			avg10 = avg;
	}
	if (line.n != 0)
		return -EINVAL;
	*ret_avg10 = avg10;
	*ret_total_usec = total;
	return 0;
}

int collect_parse_psi_some(const char *buf, size_t len, double *ret_avg10, uint64_t *ret_total_usec)
{
	struct span line;
	size_t pos = 0;
	bool bad = false;
	uint64_t some_total, full_total;
	double some, full;

	if (len > 512)
		return -EFBIG;
	if (!next_line(buf, len, &pos, &line, &bad) ||
	    parse_psi_line(line, "some", &some, &some_total) < 0)
		return -EINVAL;
	/* cpu.pressure had no "full" line before 5.13; when present it must be well formed. */
	if (next_line(buf, len, &pos, &line, &bad) &&
	    parse_psi_line(line, "full", &full, &full_total) < 0)
		return -EINVAL;
	if (bad || pos < len)
		return -EINVAL;
	*ret_avg10 = some;
	*ret_total_usec = some_total;
	return 0;
}

int collect_parse_psi_some_avg10(const char *buf, size_t len, double *ret)
{
	uint64_t total;

	return collect_parse_psi_some(buf, len, ret, &total);
}

int collect_parse_schedstat(const char *buf, size_t len, uint64_t *ret_run_ns,
			    uint64_t *ret_wait_ns)
{
	struct span line, a, b, c;
	size_t pos = 0;
	bool bad = false;
	uint64_t run, wait, slices;

	if (len > 128)
		return -EFBIG;
	if (!next_line(buf, len, &pos, &line, &bad) || pos < len)
		return -EINVAL;
	if (!next_token(&line, ' ', &a) || !next_token(&line, ' ', &b) ||
	    !next_token(&line, ' ', &c) || line.n != 0)
		return -EINVAL;
	if (parse_u64(a, &run) < 0 || parse_u64(b, &wait) < 0 || parse_u64(c, &slices) < 0)
		return -EINVAL;
	*ret_run_ns = run;
	*ret_wait_ns = wait;
	return 0;
}

/* Copies a mountinfo path decoding \ooo escapes; false when it does not fit or is malformed. */
static bool unescape_path(struct span s, char *dst, size_t size)
{
	size_t o = 0;

	if (s.n == 0 || s.p[0] != '/')
		return false;
	for (size_t i = 0; i < s.n; i++) {
		char c = s.p[i];

		if (c == '\\') {
			unsigned v = 0;

			if (i + 3 >= s.n)
				return false;
			for (size_t k = 1; k <= 3; k++) {
				if (s.p[i + k] < '0' || s.p[i + k] > '7')
					return false;
				v = v * 8 + (unsigned)(s.p[i + k] - '0');
			}
			if (v == 0 || v > 255)
				return false;
			c = (char)v;
			i += 3;
		}
		if (o + 1 >= size)
			return false;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return true;
}

static bool list_has(struct span list, const char *item)
{
	struct span tok;

	while (list.n) {
		if (!next_token(&list, ',', &tok))
			return false;
		if (span_eq(tok, item))
			return true;
	}
	return false;
}

static bool under_prefix(const char *path, const char *prefix)
{
	size_t n;

	if (!prefix || !*prefix)
		return true;
	n = strlen(prefix);
	while (n > 1 && prefix[n - 1] == '/')
		n--;
	if (strncmp(path, prefix, n) != 0)
		return false;
	return path[n] == '\0' || path[n] == '/' || (n == 1 && prefix[0] == '/');
}

int collect_parse_mountinfo(const char *buf, size_t len, const char *prefix,
			    struct collect_mount ret_mounts[COLLECT_NR_HIERS])
{
	struct collect_mount mounts[COLLECT_NR_HIERS] = { 0 };
	struct span line;
	size_t pos = 0;
	bool bad = false;

	if (len > MOUNTINFO_MAX_BYTES)
		return -EFBIG;
	while (next_line(buf, len, &pos, &line, &bad)) {
		struct span tok, root, mnt, fstype, superopts;
		struct collect_mount m;
		unsigned n_opt = 0;
		bool sep = false;
		int hier;

		/* mount id, parent id, major:minor */
		for (int i = 0; i < 3; i++)
			if (!next_token(&line, ' ', &tok))
				return -EINVAL;
		if (!next_token(&line, ' ', &root) || !next_token(&line, ' ', &mnt) ||
		    !next_token(&line, ' ', &tok)) /* per-mount options */
			return -EINVAL;
		while (next_token(&line, ' ', &tok)) {
			if (span_eq(tok, "-")) {
				sep = true;
				break;
			}
			if (++n_opt > 32)
				return -EINVAL;
		}
		if (!sep || !next_token(&line, ' ', &fstype) || !next_token(&line, ' ', &tok) ||
		    !next_token(&line, ' ', &superopts) || line.n != 0)
			return -EINVAL;
		if (!unescape_path(root, m.root, sizeof(m.root)) ||
		    !unescape_path(mnt, m.mount_point, sizeof(m.mount_point)))
			continue; /* a path we cannot hold is not a cgroup mount we can use */
		if (span_eq(fstype, "cgroup2"))
			hier = COLLECT_HIER_V2;
		else if (!span_eq(fstype, "cgroup"))
			continue;
		else if (list_has(superopts, "cpuacct"))
			hier = COLLECT_HIER_CPUACCT;
		else if (list_has(superopts, "memory"))
			hier = COLLECT_HIER_MEMORY;
		else if (list_has(superopts, "blkio"))
			hier = COLLECT_HIER_BLKIO;
		else
			continue;
		if (!under_prefix(m.mount_point, prefix) || mounts[hier].mount_point[0])
			continue;
		mounts[hier] = m;
	}
	if (bad)
		return -EINVAL;
	memcpy(ret_mounts, mounts, sizeof(mounts));
	return 0;
}

static int proc_cgroup_hier(struct span controllers, struct span id)
{
	if (controllers.n == 0)
		return span_eq(id, "0") ? COLLECT_HIER_V2 : -1;
	if (list_has(controllers, "cpuacct"))
		return COLLECT_HIER_CPUACCT;
	if (list_has(controllers, "memory"))
		return COLLECT_HIER_MEMORY;
	if (list_has(controllers, "blkio"))
		return COLLECT_HIER_BLKIO;
	return -1;
}

int collect_parse_proc_cgroup(const char *buf, size_t len, struct collect_proc_cgroup *ret)
{
	struct collect_proc_cgroup out = { 0 };
	unsigned seen = 0;
	struct span line;
	size_t pos = 0, n_lines = 0;
	bool bad = false;

	if (len > COLLECT_PARSE_MAX_BYTES)
		return -EFBIG;
	while (next_line(buf, len, &pos, &line, &bad)) {
		struct span id, controllers = { line.p, 0 }, path;
		size_t i, c1, c2;
		uint64_t idv;
		int hier;

		if (++n_lines > 64)
			return -EINVAL;
		/* id:controllers:path, where path may itself hold ':' */
		for (c1 = 0; c1 < line.n && line.p[c1] != ':'; c1++)
			;
		for (c2 = c1 + 1; c2 < line.n && line.p[c2] != ':'; c2++)
			;
		if (c1 == 0 || c2 >= line.n)
			return -EINVAL;
		id = (struct span){ line.p, c1 };
		controllers = (struct span){ line.p + c1 + 1, c2 - c1 - 1 };
		path = (struct span){ line.p + c2 + 1, line.n - c2 - 1 };
		if (parse_u64(id, &idv) < 0 || path.n == 0 || path.p[0] != '/')
			return -EINVAL;
		hier = proc_cgroup_hier(controllers, id);
		if (hier < 0)
			continue;
		if (seen & (1u << hier) || path.n >= sizeof(out.path[0]))
			return -EINVAL;
		seen |= 1u << hier;
		for (i = 0; i < path.n; i++)
			if (path.p[i] == '\0')
				return -EINVAL;
		/* libvirt keeps QEMU's main thread in <vm>/emulator: the VM is the parent. */
		if (path.n > 9 && memcmp(path.p + path.n - 9, "/emulator", 9) == 0)
			path.n -= 9;
		memcpy(out.path[hier], path.p, path.n);
		out.path[hier][path.n] = '\0';
	}
	if (bad)
		return -EINVAL;
	*ret = out;
	return 0;
}
