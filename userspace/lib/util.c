// SPDX-License-Identifier: GPL-2.0-or-later
/* File, parsing and time helpers; see util.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

int util_file_read_at(int dirfd, const char *path, size_t max_bytes, char **ret_buf,
		      size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = max_bytes < 4096 ? max_bytes : 4096;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			if (cap >= max_bytes) {
				char extra;

				/* Full: the file fits only if nothing is left to read. */
				n = read(fd, &extra, 1);
				if (n < 0)
					return -errno;
				if (n > 0)
					return -EFBIG;
				break;
			}
			cap = cap * 2 > max_bytes ? max_bytes : cap * 2;
			nb = realloc(buf, cap + 1);
			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	*ret_buf = TAKE_PTR(buf);
	return 0;
}

int util_file_read(const char *path, size_t max_bytes, char **ret_buf, size_t *ret_len)
{
	return util_file_read_at(AT_FDCWD, path, max_bytes, ret_buf, ret_len);
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The directory entry must reach the disk too, or a crash can lose the rename. */
static int fsync_parent(const char *path)
{
	_cleanup_free_ char *dir = strdup(path);
	_cleanup_close_ int fd = -1;
	char *slash;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fsync(fd) < 0 ? -errno : 0;
}

int util_file_write_atomic(const char *path, const void *data, size_t len)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	r = write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	return fsync_parent(path);
}

int util_file_write_string(const char *path, const char *s)
{
	_cleanup_close_ int fd = -1;

	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	return write_all(fd, s, strlen(s));
}

static bool only_trailing_space(const char *end)
{
	while (*end && isspace((unsigned char)*end))
		end++;
	return *end == '\0';
}

int util_parse_u64(const char *s, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (!s)
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -errno;
	if (!only_trailing_space(end))
		return -EINVAL;
	*ret = v;
	return 0;
}

int util_parse_i64(const char *s, int64_t *ret)
{
	long long v;
	char *end;

	if (!s)
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	if (!*s)
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno)
		return -errno;
	if (end == s || !only_trailing_space(end))
		return -EINVAL;
	*ret = v;
	return 0;
}

int util_parse_double(const char *s, double *ret)
{
	double v;
	char *end;

	if (!s)
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	if (!*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno)
		return -errno;
	if (end == s || !only_trailing_space(end) || !isfinite(v))
		return -EINVAL;
	*ret = v;
	return 0;
}

int util_parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(s, yes[i])) {
			*ret = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Parses "<number><suffix>" with the suffix looked up in a table of multipliers. */
struct unit_mult {
	const char *suffix;
	uint64_t mult;
};

static int parse_with_units(const char *s, const struct unit_mult *units, size_t n_units,
			    uint64_t *ret)
{
	double v;
	char *end;

	if (!s)
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s) && *s != '.')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	while (isspace((unsigned char)*end))
		end++;
	for (size_t i = 0; i < n_units; i++) {
		size_t l = strlen(units[i].suffix);

		if (strncasecmp(end, units[i].suffix, l) || !only_trailing_space(end + l))
			continue;
		v *= (double)units[i].mult;
		if (v >= 18446744073709551615.0)
			return -ERANGE;
		*ret = (uint64_t)(v + 0.5);
		return 0;
	}
	return -EINVAL;
}

int util_parse_duration_usec(const char *s, uint64_t *ret)
{
	/* Longest suffix first, so "ms" is not read as "m" followed by garbage. */
	static const struct unit_mult units[] = {
		{ "usec", 1 },
		{ "us", 1 },
		{ "msec", 1000 },
		{ "ms", 1000 },
		{ "sec", USEC_PER_SEC },
		{ "s", USEC_PER_SEC },
		{ "min", 60 * USEC_PER_SEC },
		{ "m", 60 * USEC_PER_SEC },
		{ "h", 3600 * USEC_PER_SEC },
		{ "d", 86400 * USEC_PER_SEC },
		{ "", USEC_PER_SEC },
	};

	return parse_with_units(s, units, ARRAY_SIZE(units), ret);
}

int util_parse_size_bytes(const char *s, uint64_t *ret)
{
	static const struct unit_mult units[] = {
		{ "KiB", 1ULL << 10 },
		{ "MiB", 1ULL << 20 },
		{ "GiB", 1ULL << 30 },
		{ "TiB", 1ULL << 40 },
		{ "K", 1ULL << 10 },
		{ "M", 1ULL << 20 },
		{ "G", 1ULL << 30 },
		{ "T", 1ULL << 40 },
		{ "B", 1 },
		{ "", 1 },
	};

	return parse_with_units(s, units, ARRAY_SIZE(units), ret);
}

static uint64_t clock_usec(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

uint64_t util_now_usec(void)
{
	return clock_usec(CLOCK_MONOTONIC);
}

uint64_t util_realtime_usec(void)
{
	return clock_usec(CLOCK_REALTIME);
}

int util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t l = strlen(src);

	if (size == 0)
		return -ENAMETOOLONG;
	if (l >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, l + 1);
	return 0;
}

bool util_streq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

bool util_uuid_valid(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

int util_mkdir_p(const char *path, unsigned mode)
{
	char buf[PATH_MAX];
	char *p;

	if (util_strlcpy(buf, path, sizeof(buf)) < 0)
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}
