// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Writes cgroup v2 files through an open directory fd and reads each one back:
 * the kernel may round (memory in pages, hugetlb in huge pages), refuse (cpuset
 * outside the parent's effective set) or keep a different value than asked,
 * and the allocation engine must know what is really in force. Only for hosts
 * without systemd and for files nobody manages (architecture.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroupfs.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

#define CG_READ_MAX (64 * 1024)

int enforce_cgroup_open(const char *root, const char *path, struct enforce_cgroup **ret)
{
	_cleanup_free_ struct enforce_cgroup *cg = NULL;
	const char *p;
	int n;

	if (!root || !*root || !path)
		return -EINVAL;
	/* No way out of the hierarchy through "..". */
	for (p = path; (p = strstr(p, "..")); p += 2)
		if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return -EINVAL;
	while (*path == '/')
		path++;
	cg = calloc(1, sizeof(*cg));
	if (!cg)
		return -ENOMEM;
	n = snprintf(cg->path, sizeof(cg->path), "%s%s%s", root, *path ? "/" : "", path);
	if (n < 0 || (size_t)n >= sizeof(cg->path))
		return -ENAMETOOLONG;
	cg->dir_fd = open(cg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg->dir_fd < 0)
		return log_debug_errno(-errno, "enforce: cannot open cgroup '%s': %m", cg->path);
	*ret = TAKE_PTR(cg);
	return 0;
}

void enforce_cgroup_free(struct enforce_cgroup *cg)
{
	if (!cg)
		return;
	if (cg->dir_fd >= 0)
		close(cg->dir_fd);
	free(cg);
}

void enforce_cgroup_freep(struct enforce_cgroup **cg)
{
	enforce_cgroup_free(*cg);
}

/* Records the failing file and returns r, so every failure path names it. */
static int cg_fail(struct enforce_cgroup *cg, const char *file, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int cg_fail(struct enforce_cgroup *cg, const char *file, int r, const char *fmt, ...)
{
	va_list ap;

	if (snprintf(cg->err_file, sizeof(cg->err_file), "%s/%s", cg->path, file) < 0)
		cg->err_file[0] = '\0'; /* a truncated name still says enough */
	va_start(ap, fmt);
	vsnprintf(cg->err_detail, sizeof(cg->err_detail), fmt, ap);
	va_end(ap);
	return log_debug_errno(r, "enforce: %s: %s: %m", cg->err_file, cg->err_detail);
}

static int cg_read(struct enforce_cgroup *cg, const char *file, char **ret)
{
	size_t len;
	int r;

	r = util_file_read_at(cg->dir_fd, file, CG_READ_MAX, ret, &len);
	if (r < 0)
		return cg_fail(cg, file, r, "cannot read");
	return 0;
}

/* One write() call: cgroup files parse each write as a whole. */
static int cg_write(struct enforce_cgroup *cg, const char *file, const char *text)
{
	_cleanup_close_ int fd = -1;
	size_t len = strlen(text);
	ssize_t n;

	/* O_TRUNC is ignored by kernfs and keeps fixture trees (plain files) honest. */
	fd = openat(cg->dir_fd, file, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return cg_fail(cg, file, -errno, "cannot open for writing");
	n = write(fd, text, len);
	if (n < 0)
		return cg_fail(cg, file, -errno, "kernel refused '%s'", text);
	if ((size_t)n != len)
		return cg_fail(cg, file, -EIO, "short write of '%s'", text);
	return 0;
}

/* A read-back that differs: -EIO with both values in the detail. */
static int cg_mismatch(struct enforce_cgroup *cg, const char *file, const char *wrote,
		       const char *shows)
{
	size_t n = strlen(shows);

	while (n && shows[n - 1] == '\n')
		n--;
	return cg_fail(cg, file, -EIO, "wrote '%s', kernel shows '%.*s'", wrote, (int)n, shows);
}

int enforce_cgroup_cpu_max_get(struct enforce_cgroup *cg, struct enforce_cpu_max *ret)
{
	_cleanup_free_ char *s = NULL;
	int r;

	r = cg_read(cg, "cpu.max", &s);
	if (r < 0)
		return r;
	r = enforce_cpu_max_parse(s, ret);
	if (r < 0)
		return cg_fail(cg, "cpu.max", r, "cannot parse '%s'", s);
	return 0;
}

int enforce_cgroup_cpu_max_set(struct enforce_cgroup *cg, const struct enforce_cpu_max *v)
{
	char text[ENFORCE_CG_LINE_MAX];
	_cleanup_free_ char *back = NULL;
	struct enforce_cpu_max got;
	int r;

	r = enforce_cpu_max_format(v, text, sizeof(text));
	if (r < 0)
		return cg_fail(cg, "cpu.max", r, "invalid value");
	r = cg_write(cg, "cpu.max", text);
	if (r < 0)
		return r;
	r = cg_read(cg, "cpu.max", &back);
	if (r < 0)
		return r;
	if (enforce_cpu_max_parse(back, &got) < 0 || got.quota_usec != v->quota_usec ||
	    got.period_usec != v->period_usec)
		return cg_mismatch(cg, "cpu.max", text, back);
	return 0;
}

int enforce_cgroup_cpu_weight_set(struct enforce_cgroup *cg, uint32_t weight)
{
	char text[16];
	_cleanup_free_ char *back = NULL;
	uint32_t got;
	int r;

	if (weight < ENFORCE_CPU_WEIGHT_MIN || weight > ENFORCE_CPU_WEIGHT_MAX)
		return cg_fail(cg, "cpu.weight", -ERANGE, "weight %" PRIu32 " outside 1..10000",
			       weight);
	snprintf(text, sizeof(text), "%" PRIu32, weight);
	r = cg_write(cg, "cpu.weight", text);
	if (r < 0)
		return r;
	r = cg_read(cg, "cpu.weight", &back);
	if (r < 0)
		return r;
	if (enforce_weight_parse(back, &got) < 0 || got != weight)
		return cg_mismatch(cg, "cpu.weight", text, back);
	return 0;
}

static int cg_cpuset_read(struct enforce_cgroup *cg, const char *file, struct enforce_cpuset *ret)
{
	_cleanup_free_ char *s = NULL;
	int r;

	r = cg_read(cg, file, &s);
	if (r < 0)
		return r;
	r = enforce_cpuset_parse(s, ret);
	if (r < 0)
		return cg_fail(cg, file, r, "cannot parse '%s'", s);
	return 0;
}

int enforce_cgroup_cpuset_effective_get(struct enforce_cgroup *cg, struct enforce_cpuset *ret)
{
	return cg_cpuset_read(cg, "cpuset.cpus.effective", ret);
}

int enforce_cgroup_cpuset_set(struct enforce_cgroup *cg, const struct enforce_cpuset *cpus)
{
	struct enforce_cpuset parent, got;
	char text[1024], have[1024];
	_cleanup_free_ char *back = NULL;
	int r;

	r = enforce_cpuset_format(cpus, text, sizeof(text));
	if (r < 0)
		return cg_fail(cg, "cpuset.cpus", r, "set too long to format");
	/* The kernel refuses CPUs outside the parent's effective set; say which. */
	r = cg_cpuset_read(cg, "../cpuset.cpus.effective", &parent);
	if (r < 0)
		return r;
	if (!enforce_cpuset_is_subset(cpus, &parent)) {
		if (enforce_cpuset_format(&parent, have, sizeof(have)) < 0)
			have[0] = '\0';
		return cg_fail(cg, "../cpuset.cpus.effective", -ERANGE,
			       "'%s' is not within the parent's effective CPUs '%s'", text, have);
	}
	r = cg_write(cg, "cpuset.cpus", text);
	if (r < 0)
		return r;
	r = cg_read(cg, "cpuset.cpus", &back);
	if (r < 0)
		return r;
	if (enforce_cpuset_parse(back, &got) < 0 || !enforce_cpuset_equal(&got, cpus))
		return cg_mismatch(cg, "cpuset.cpus", text, back);
	return 0;
}

/* Writes "max" or bytes rounded down to unit, reads back, compares. */
static int cg_limit_set(struct enforce_cgroup *cg, const char *file, uint64_t bytes, uint64_t unit)
{
	char text[32];
	_cleanup_free_ char *back = NULL;
	uint64_t got;
	int r;

	if (bytes != ENFORCE_CG_MAX)
		bytes -= bytes % unit;
	r = enforce_limit_format(bytes, text, sizeof(text));
	if (r < 0)
		return cg_fail(cg, file, r, "cannot format");
	r = cg_write(cg, file, text);
	if (r < 0)
		return r;
	r = cg_read(cg, file, &back);
	if (r < 0)
		return r;
	if (enforce_limit_parse(back, &got) < 0 || got != bytes)
		return cg_mismatch(cg, file, text, back);
	return 0;
}

int enforce_cgroup_memory_set(struct enforce_cgroup *cg, enum enforce_memory_knob knob,
			      uint64_t bytes)
{
	const char *file = enforce_memory_knob_file(knob);
	long page = sysconf(_SC_PAGESIZE);

	if (!file)
		return -EINVAL;
	return cg_limit_set(cg, file, bytes, page > 0 ? (uint64_t)page : 4096);
}

int enforce_cgroup_memory_get(struct enforce_cgroup *cg, enum enforce_memory_knob knob,
			      uint64_t *ret_bytes)
{
	const char *file = enforce_memory_knob_file(knob);
	_cleanup_free_ char *s = NULL;
	int r;

	if (!file)
		return -EINVAL;
	r = cg_read(cg, file, &s);
	if (r < 0)
		return r;
	r = enforce_limit_parse(s, ret_bytes);
	if (r < 0)
		return cg_fail(cg, file, r, "cannot parse '%s'", s);
	return 0;
}

int enforce_cgroup_hugetlb_max_set(struct enforce_cgroup *cg, uint64_t page_kb, uint64_t bytes)
{
	char size[16], file[64];
	int r;

	r = enforce_hugetlb_size_name(page_kb, size, sizeof(size));
	if (r < 0)
		return r;
	snprintf(file, sizeof(file), "hugetlb.%s.max", size);
	return cg_limit_set(cg, file, bytes, page_kb * 1024);
}

int enforce_cgroup_io_max_set(struct enforce_cgroup *cg, const struct enforce_io_max *v)
{
	char text[ENFORCE_CG_LINE_MAX];
	_cleanup_free_ char *back = NULL;
	struct enforce_io_max got;
	int r;

	r = enforce_io_max_format(v, text, sizeof(text));
	if (r < 0)
		return cg_fail(cg, "io.max", r, "invalid value");
	r = cg_write(cg, "io.max", text);
	if (r < 0)
		return r;
	r = cg_read(cg, "io.max", &back);
	if (r < 0)
		return r;
	if (enforce_io_max_find(back, v->major, v->minor, &got) < 0 ||
	    memcmp(&got, v, sizeof(got)) != 0)
		return cg_mismatch(cg, "io.max", text, back);
	return 0;
}

int enforce_cgroup_io_weight_set(struct enforce_cgroup *cg, bool is_default, uint32_t major,
				 uint32_t minor, uint32_t weight)
{
	char text[64];
	_cleanup_free_ char *back = NULL;
	uint32_t got, want = weight;
	int r;

	if (weight && (weight < ENFORCE_IO_WEIGHT_MIN || weight > ENFORCE_IO_WEIGHT_MAX))
		return cg_fail(cg, "io.weight", -ERANGE, "weight %" PRIu32 " outside 1..10000",
			       weight);
	if (is_default && !weight)
		return cg_fail(cg, "io.weight", -EINVAL, "the default needs a weight");
	if (major > 0xfff || minor > 0xfffff)
		return cg_fail(cg, "io.weight", -ERANGE, "bad device number");
	if (is_default)
		snprintf(text, sizeof(text), "default %" PRIu32, weight);
	else if (weight)
		snprintf(text, sizeof(text), "%" PRIu32 ":%" PRIu32 " %" PRIu32, major, minor,
			 weight);
	else
		snprintf(text, sizeof(text), "%" PRIu32 ":%" PRIu32 " default", major, minor);
	r = cg_write(cg, "io.weight", text);
	if (r < 0)
		return r;
	r = cg_read(cg, "io.weight", &back);
	if (r < 0)
		return r;
	if (!weight) {
		/* Reset: the device must now show the default weight. */
		r = enforce_io_weight_find(back, true, 0, 0, &want);
		if (r < 0)
			return cg_mismatch(cg, "io.weight", text, back);
	}
	if (enforce_io_weight_find(back, is_default, major, minor, &got) < 0 || got != want)
		return cg_mismatch(cg, "io.weight", text, back);
	return 0;
}

/* Is name a word of the space-separated list? */
static bool word_in(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
			return true;
	return false;
}

int enforce_cgroupfs_controllers_enable(const char *root, const char *path, const char *controllers)
{
	char prefix[PATH_MAX] = "", list[256];
	const char *p;
	int r;

	if (!path || !controllers)
		return -EINVAL;
	r = util_strlcpy(list, controllers, sizeof(list));
	if (r < 0)
		return r;
	while (*path == '/')
		path++;
	/* Each ancestor of path, from the root down to its parent. */
	for (p = path;; p++) {
		_cleanup_(enforce_cgroup_freep) struct enforce_cgroup *cg = NULL;
		_cleanup_free_ char *have = NULL;
		char *save = NULL, *w, words[256];
		const char *slash = strchr(p, '/');

		r = enforce_cgroup_open(root, prefix, &cg);
		if (r < 0)
			return r;
		r = cg_read(cg, "cgroup.subtree_control", &have);
		if (r < 0)
			return r;
		memcpy(words, list, sizeof(words));
		for (w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
			char plus[64];

			if (word_in(have, w))
				continue;
			snprintf(plus, sizeof(plus), "+%s", w);
			r = cg_write(cg, "cgroup.subtree_control", plus);
			if (r < 0)
				return log_debug_errno(r, "enforce: cannot enable %s in '%s': %m",
						       w, cg->path);
		}
		if (!slash)
			break;
		if ((size_t)(slash - path) >= sizeof(prefix))
			return -ENAMETOOLONG;
		memcpy(prefix, path, (size_t)(slash - path));
		prefix[slash - path] = '\0';
		p = slash;
	}
	return 0;
}
