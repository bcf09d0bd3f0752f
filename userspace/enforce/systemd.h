/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Memory protection and limits of systemd units (machine.slice, the VM
 * scopes) through SetUnitProperties(runtime=true) over D-Bus, as libvirt
 * itself does for CPUWeight: systemd owns these cgroups and re-applies its
 * own values on daemon-reload, so writing their files would not last
 * (platform-notes §0.6, §5.2). Where systemd is not PID 1 the same values go
 * to the cgroup files directly (cgroupfs.h).
 */
#ifndef PRESCIENT_ENFORCE_SYSTEMD_H
#define PRESCIENT_ENFORCE_SYSTEMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "build-config.h"
#include "cgroupfs.h"

#if HAVE_LIBSYSTEMD
#include <systemd/sd-bus.h>
#else
typedef struct sd_bus sd_bus;
typedef struct sd_bus_message sd_bus_message;
#endif

/* Which memory values to set: bit (1 << enum enforce_memory_knob) in mask. */
struct enforce_memory_limits {
	unsigned mask;
	uint64_t bytes[ENFORCE_NR_MEMORY_KNOBS]; /* ENFORCE_CG_MAX = infinity */
};

/* Where a unit lives: its systemd name, and its cgroup for the fallback. */
struct enforce_memory_target {
	const char *unit;	 /* "machine.slice", "machine-qemu\\x2d1\\x2dvm.scope" */
	const char *cgroup_root; /* cgroup2 mount, e.g. "/sys/fs/cgroup" */
	const char *cgroup_path; /* the unit's cgroup relative to the root */
};

/* "MemoryMin" ...; NULL outside the enum. */
const char *enforce_systemd_memory_property(enum enforce_memory_knob knob);

/*
 * The unit that owns a cgroup, from its path as /proc/<pid>/cgroup shows it
 * (platform-notes §2.6: read, never recompute, the escaped scope name): the
 * deepest component ending in ".scope" or ".slice", e.g.
 * "/machine.slice/machine-qemu\x2d1\x2dvm.scope/libvirt" gives
 * "machine-qemu\x2d1\x2dvm.scope". -ENOENT when there is none (no systemd
 * layout), -ENOBUFS when buf is too small.
 */
int enforce_systemd_unit_from_cgroup(const char *cgroup_path, char *buf, size_t size);

/* Whether systemd is PID 1: run_dir/systemd/system exists (as sd_booted()). Not cached. */
bool enforce_systemd_probe(const char *run_dir);
/* The same for "/run", probed once per process. */
bool enforce_systemd_running(void);

/*
 * Builds org.freedesktop.systemd1.Manager.SetUnitProperties(unit, runtime=true,
 * [(MemoryMin, t), ...]) on bus; -EINVAL for an empty mask or unit,
 * -EOPNOTSUPP without libsystemd.
 */
int enforce_systemd_memory_message(sd_bus *bus, const char *unit,
				   const struct enforce_memory_limits *lim, sd_bus_message **ret);
/* Sends that call and waits (timeout_usec, 0 = sd-bus default); the D-Bus error as -errno. */
int enforce_systemd_memory_set(sd_bus *bus, const char *unit,
			       const struct enforce_memory_limits *lim, uint64_t timeout_usec);

/*
 * Applies lim to target through systemd when it runs (system bus), through
 * the cgroup files otherwise. ret_via_systemd says which way was taken.
 */
int enforce_memory_limits_apply(const struct enforce_memory_target *target,
				const struct enforce_memory_limits *lim, bool *ret_via_systemd);

#endif
