// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The real SetUnitProperties call to systemd on the system bus: re-applies
 * machine.slice's current MemoryLow (read from its cgroup) so nothing
 * changes, and checks systemd accepted it and the cgroup still shows it.
 * Needs systemd as PID 1 and root; skipped (77) otherwise.
 */
#include <unistd.h>

#include "systemd.h"
#include "tap.h"

int main(void)
{
	struct enforce_cgroup *cg = NULL;
	struct enforce_memory_target t = { "machine.slice", "/sys/fs/cgroup", "machine.slice" };
	struct enforce_memory_limits lim = { .mask = 1u << ENFORCE_MEMORY_LOW };
	uint64_t low = 0, after = 0;
	bool via = false;

	if (!enforce_systemd_running())
		test_skip("systemd is not PID 1 here (no /run/systemd/system): the real "
			  "SetUnitProperties call over D-Bus cannot run");
	if (geteuid() != 0)
		test_skip("not root");
	if (enforce_cgroup_open(t.cgroup_root, t.cgroup_path, &cg) < 0 ||
	    enforce_cgroup_memory_get(cg, ENFORCE_MEMORY_LOW, &low) < 0) {
		enforce_cgroup_free(cg);
		test_skip("no machine.slice with memory.low on a cgroup2 mount at /sys/fs/cgroup");
	}
	lim.bytes[ENFORCE_MEMORY_LOW] = low;
	check_int_eq(enforce_memory_limits_apply(&t, &lim, &via), 0);
	check(via);
	check_int_eq(enforce_cgroup_memory_get(cg, ENFORCE_MEMORY_LOW, &after), 0);
	check(after == low);
	enforce_cgroup_free(cg);
	return test_result();
}
