// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Growing and shrinking per-node hugepage pools. Per-node sysfs files are
 * used, not /proc/sys/vm/nr_hugepages, because the global knob spreads pages
 * over nodes as the kernel likes while reservations are per node.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>

#include "cleanup.h"
#include "hugepages.h"
#include "log.h"
#include "util.h"

static int hp_path(char *buf, size_t size, const char *root, unsigned node, uint64_t page_kb,
		   const char *file)
{
	int n;

	if (!root || page_kb == 0)
		return -EINVAL;
	n = snprintf(buf, size,
		     "%s/devices/system/node/node%u/hugepages/hugepages-%" PRIu64 "kB/%s", root,
		     node, page_kb, file);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* A sysfs counter: decimal and a newline; anything else is refused. */
static int hp_read_u64(const char *root, unsigned node, uint64_t page_kb, const char *file,
		       uint64_t *ret)
{
	char path[PATH_MAX];
	_cleanup_free_ char *s = NULL;
	size_t len;
	int r;

	r = hp_path(path, sizeof(path), root, node, page_kb, file);
	if (r < 0)
		return r;
	r = util_file_read(path, 64, &s, &len);
	if (r < 0)
		return log_debug_errno(r, "enforce: cannot read '%s': %m", path);
	r = util_parse_u64(s, ret);
	if (r < 0)
		return log_debug_errno(r, "enforce: '%s' holds '%s', not a count", path, s);
	return 0;
}

int enforce_hugepages_read(const char *sysfs_root, unsigned node, uint64_t page_kb,
			   struct enforce_hugepages *ret)
{
	struct enforce_hugepages hp;
	int r;

	r = hp_read_u64(sysfs_root, node, page_kb, "nr_hugepages", &hp.nr);
	if (r < 0)
		return r;
	r = hp_read_u64(sysfs_root, node, page_kb, "free_hugepages", &hp.free);
	if (r < 0)
		return r;
	r = hp_read_u64(sysfs_root, node, page_kb, "surplus_hugepages", &hp.surplus);
	if (r < 0)
		return r;
	*ret = hp;
	return 0;
}

int enforce_hugepages_set(const char *sysfs_root, unsigned node, uint64_t page_kb, uint64_t want,
			  uint64_t *ret_nr)
{
	char path[PATH_MAX], text[32];
	uint64_t got;
	int r;

	r = hp_path(path, sizeof(path), sysfs_root, node, page_kb, "nr_hugepages");
	if (r < 0)
		return r;
	snprintf(text, sizeof(text), "%" PRIu64, want);
	r = util_file_write_string(path, text);
	if (r < 0)
		return log_debug_errno(r, "enforce: cannot write %s to '%s': %m", text, path);
	r = hp_read_u64(sysfs_root, node, page_kb, "nr_hugepages", &got);
	if (r < 0)
		return r;
	*ret_nr = got;
	if (got != want) {
		log_debug("enforce: '%s': asked %" PRIu64 ", the kernel gave %" PRIu64, path, want,
			  got);
		return 1;
	}
	return 0;
}
