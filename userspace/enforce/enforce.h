/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * enforce: applies the planner's decisions to the host, through the owner
 * of each knob (architecture.md): CPU quota through the hypervisor plugin
 * (libvirt scheduler parameters), never by writing cgroup files behind
 * libvirt's back. In dry-run mode every change is logged and none is made.
 */
#ifndef PRESCIENT_ENFORCE_H
#define PRESCIENT_ENFORCE_H

#include <stdbool.h>
#include <stdint.h>

#include "hv.h"
/* Back ends for the knobs libvirt does not own. */
#include "cgroupfs.h"
#include "hugepages.h"
#include "systemd.h"
#include "tc.h"

/* Converts cores to a CFS quota for period_us; at least 1000 us as libvirt requires. */
int64_t enforce_cores_to_quota_us(double cores, uint64_t period_us);
/* The allocation in cores of a tune; NAN when unlimited (quota < 0). */
double enforce_tune_to_cores(const struct hv_cpu_tune *tune);

/*
 * Sets the VM's CPU allocation to cores. Returns 0 when applied (or logged
 * in dry-run), -errno from the plugin otherwise (the VM keeps its old value).
 */
int enforce_cpu_apply(const struct hv_ops *ops, struct hv *hv, const struct hv_vm *vm, double cores,
		      uint64_t period_us, bool dry_run);

#endif
