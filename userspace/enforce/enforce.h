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

/*
 * The rest of what libvirt owns, through the plugin (hv.h). Each validates
 * its arguments first (-EINVAL, or -EOPNOTSUPP when the plugin lacks the
 * op), logs and does nothing in dry-run, reads the current value and makes
 * no libvirt call when it already equals the target, and returns 0 when
 * applied (or logged) or -errno from the plugin (the VM keeps its old value).
 * None of them writes a cgroup file: libvirt does, as noted for each.
 */

/*
 * Pins vCPU i to cores[i % n] one core each (cores in ascending order), the
 * emulator to all of cores. -EINVAL when cores is empty or not a subset of
 * effective (machine.slice's cpuset.cpus.effective), -ERANGE with a CPU the
 * plugin cannot name (>= HV_CPUMAP_WORDS * 64). When one vCPU fails the ones
 * already moved are put back. libvirt writes each vcpuN and the emulator
 * group's cpuset.cpus (v1 cpuset controller, or v2 cpuset.cpus) and also
 * sets the threads' affinity (sched_setaffinity).
 */
int enforce_pin_apply(const struct hv_ops *ops, struct hv *hv, const struct hv_vm *vm,
		      const struct enforce_cpuset *cores, const struct enforce_cpuset *effective,
		      bool dry_run);

/*
 * Memory: soft limit and hard limit in bytes, UINT64_MAX = unlimited, both
 * rounded down to whole pages; a hard limit of 0 leaves the VM's as it is.
 * -EINVAL for a soft limit of 0, soft above a finite hard, or
 * a hard limit below the guest's RAM (vm->max_memory_kib; QEMU would be
 * OOM-killed).
 * libvirt <memtune> on the VM's group: soft_limit -> memory.soft_limit_in_bytes
 * on v1 (the level global reclaim pushes the group back to first, so usage
 * below it is reclaimed last: a protection target) and memory.high on v2
 * (there a throttle above which the group is reclaimed: not a protection,
 * which on v2 is memory.low/min through systemd, enforce/systemd.h);
 * hard_limit -> memory.limit_in_bytes on v1, memory.max on v2 (OOM kill
 * above it: libvirt advises against it for QEMU).
 */
int enforce_mem_tune_apply(const struct hv_ops *ops, struct hv *hv, const struct hv_vm *vm,
			   uint64_t soft_bytes, uint64_t hard_bytes, bool dry_run);

/*
 * Block I/O: total bytes/s of one disk (target name like "vda"), 0 =
 * unlimited; separate read/write byte limits are cleared, ops/s limits
 * kept. libvirt <iotune> is QEMU's own throttling of the disk
 * (block_set_io_throttle), in no cgroup file on v1 or v2: per-device
 * cgroup throttling (blkio.throttle.*_bps_device on v1, io.max on v2) is
 * libvirt's separate <blkiotune><device>, which needs a block device and is
 * not used here.
 */
int enforce_block_apply(const struct hv_ops *ops, struct hv *hv, const struct hv_vm *vm,
			const char *disk, uint64_t bytes_per_sec, bool dry_run);

/*
 * Network: guarantee and limit of one interface (host-side device like
 * "vnet3"), bits/s, 0 = none. The limit caps both directions
 * (inbound/outbound average), the guarantee is libvirt's inbound floor.
 * Returns 1 when the limit was applied but libvirt refused the floor (it
 * needs an interface of a libvirt network with its own <bandwidth>): the
 * caller may reserve through enforce/tc.h instead. -EINVAL for a guarantee
 * above a limit, -ERANGE beyond libvirt's 32-bit kB/s. No cgroup file:
 * libvirt shapes with tc on the tap (htb qdisc on its egress = guest's
 * inbound, an ingress police filter = guest's outbound) on v1 and v2 alike.
 */
int enforce_net_apply(const struct hv_ops *ops, struct hv *hv, const struct hv_vm *vm,
		      const char *ifname, uint64_t guarantee_bps, uint64_t limit_bps, bool dry_run);

/* libvirt's range of a block I/O weight. */
#define ENFORCE_BLKIO_WEIGHT_MIN 100
#define ENFORCE_BLKIO_WEIGHT_MAX 1000

/*
 * Block I/O share: the VM's weight under contention, 100..1000 (-EINVAL
 * outside), a proportion against the other groups' weights, not a cap.
 * libvirt <blkiotune><weight> on the VM's group: on v1 blkio.bfq.weight
 * where the BFQ scheduler provides it, else blkio.weight (CFQ, gone from
 * recent kernels); on v2 io.bfq.weight, else io.weight (which needs the
 * io.cost controller to act). Honoured only by devices whose scheduler
 * weighs groups (BFQ, io.cost): with mq-deadline or none it is kept and
 * has no effect.
 */
int enforce_blkio_weight_apply(const struct hv_ops *ops, struct hv *hv, const struct hv_vm *vm,
			       uint32_t weight, bool dry_run);

#endif
