// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * systemd back end of memory enforcement, with the cgroupfs fallback. The
 * properties are runtime-only: a reboot or a restart of the agent returns
 * the units to their configuration, and the agent re-applies its leases.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "log.h"
#include "systemd.h"
#include "util.h"

#define SD_DEST	 "org.freedesktop.systemd1"
#define SD_PATH	 "/org/freedesktop/systemd1"
#define SD_IFACE "org.freedesktop.systemd1.Manager"

static const char *const memory_properties[ENFORCE_NR_MEMORY_KNOBS] = {
	[ENFORCE_MEMORY_MIN] = "MemoryMin",
	[ENFORCE_MEMORY_LOW] = "MemoryLow",
	[ENFORCE_MEMORY_HIGH] = "MemoryHigh",
	[ENFORCE_MEMORY_MAX] = "MemoryMax",
};

const char *enforce_systemd_memory_property(enum enforce_memory_knob knob)
{
	if ((unsigned)knob >= ENFORCE_NR_MEMORY_KNOBS)
		return NULL;
	return memory_properties[knob];
}

static bool has_suffix(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len > n && memcmp(s + len - n, suffix, n) == 0;
}

int enforce_systemd_unit_from_cgroup(const char *cgroup_path, char *buf, size_t size)
{
	const char *best = NULL, *p;
	size_t best_len = 0;

	if (!cgroup_path)
		return -EINVAL;
	for (p = cgroup_path; *p;) {
		size_t len = strcspn(p, "/");

		if (has_suffix(p, len, ".scope") || has_suffix(p, len, ".slice")) {
			best = p;
			best_len = len;
		}
		p += len;
		while (*p == '/')
			p++;
	}
	if (!best)
		return -ENOENT;
	if (best_len >= size)
		return -ENOBUFS;
	memcpy(buf, best, best_len);
	buf[best_len] = '\0';
	return 0;
}

bool enforce_systemd_probe(const char *run_dir)
{
	char path[512];
	struct stat st;

	if (!run_dir ||
	    snprintf(path, sizeof(path), "%s/systemd/system", run_dir) >= (int)sizeof(path))
		return false;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool enforce_systemd_running(void)
{
	/* PID 1 does not change under a running process. */
	static int cached = -1;

	if (cached < 0)
		cached = enforce_systemd_probe("/run");
	return cached;
}

static bool limits_valid(const struct enforce_memory_limits *lim)
{
	return lim && lim->mask && !(lim->mask & ~((1u << ENFORCE_NR_MEMORY_KNOBS) - 1));
}

#if HAVE_LIBSYSTEMD

/* sd-bus.h defines sd_bus_message_unrefp() and sd_bus_flush_close_unrefp(). */

int enforce_systemd_memory_message(sd_bus *bus, const char *unit,
				   const struct enforce_memory_limits *lim, sd_bus_message **ret)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	int r;

	if (!bus || !unit || !*unit || !limits_valid(lim))
		return -EINVAL;
	r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_IFACE,
					   "SetUnitProperties");
	if (r < 0)
		return r;
	r = sd_bus_message_append(m, "sb", unit, 1);
	if (r < 0)
		return r;
	r = sd_bus_message_open_container(m, 'a', "(sv)");
	if (r < 0)
		return r;
	for (unsigned k = 0; k < ENFORCE_NR_MEMORY_KNOBS; k++) {
		if (!(lim->mask & (1u << k)))
			continue;
		/* UINT64_MAX is systemd's "infinity" too. */
		r = sd_bus_message_append(m, "(sv)", memory_properties[k], "t", lim->bytes[k]);
		if (r < 0)
			return r;
	}
	r = sd_bus_message_close_container(m);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(m);
	return 0;
}

int enforce_systemd_memory_set(sd_bus *bus, const char *unit,
			       const struct enforce_memory_limits *lim, uint64_t timeout_usec)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	int r;

	r = enforce_systemd_memory_message(bus, unit, lim, &m);
	if (r < 0)
		return r;
	r = sd_bus_call(bus, m, timeout_usec, &error, &reply);
	if (r < 0)
		log_debug_errno(r, "enforce: SetUnitProperties(%s): %s: %m", unit,
				error.message ? error.message : "(no message)");
	sd_bus_error_free(&error);
	return r < 0 ? r : 0;
}

static int apply_systemd(const struct enforce_memory_target *t,
			 const struct enforce_memory_limits *lim)
{
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	int r;

	r = sd_bus_open_system(&bus);
	if (r < 0)
		return log_debug_errno(r, "enforce: cannot connect to the system bus: %m");
	return enforce_systemd_memory_set(bus, t->unit, lim, 5 * USEC_PER_SEC);
}

#else

int enforce_systemd_memory_message(sd_bus *bus, const char *unit,
				   const struct enforce_memory_limits *lim, sd_bus_message **ret)
{
	return -EOPNOTSUPP;
}

int enforce_systemd_memory_set(sd_bus *bus, const char *unit,
			       const struct enforce_memory_limits *lim, uint64_t timeout_usec)
{
	return -EOPNOTSUPP;
}

static int apply_systemd(const struct enforce_memory_target *t,
			 const struct enforce_memory_limits *lim)
{
	return -EOPNOTSUPP;
}

#endif

static int apply_cgroupfs(const struct enforce_memory_target *t,
			  const struct enforce_memory_limits *lim)
{
	_cleanup_(enforce_cgroup_freep) struct enforce_cgroup *cg = NULL;
	int r;

	if (!t->cgroup_root || !t->cgroup_path)
		return -EINVAL;
	r = enforce_cgroup_open(t->cgroup_root, t->cgroup_path, &cg);
	if (r < 0)
		return r;
	for (unsigned k = 0; k < ENFORCE_NR_MEMORY_KNOBS; k++) {
		if (!(lim->mask & (1u << k)))
			continue;
		r = enforce_cgroup_memory_set(cg, k, lim->bytes[k]);
		if (r < 0)
			return log_debug_errno(r, "enforce: %s: %s: %m", cg->err_file,
					       cg->err_detail);
	}
	return 0;
}

int enforce_memory_limits_apply(const struct enforce_memory_target *target,
				const struct enforce_memory_limits *lim, bool *ret_via_systemd)
{
	bool via = enforce_systemd_running();
	int r;

	if (!target || !limits_valid(lim))
		return -EINVAL;
	if (via && (!target->unit || !*target->unit))
		return -EINVAL;
	r = via ? apply_systemd(target, lim) : apply_cgroupfs(target, lim);
	if (r < 0)
		return r;
	if (ret_via_systemd)
		*ret_via_systemd = via;
	return 0;
}
