// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Per-VM allocation through the hypervisor plugin, for the knobs libvirt
 * owns besides the CPU quota: vCPU and emulator pinning, memory limits, a
 * disk's I/O throttle, the VM's block I/O weight and an interface's
 * bandwidth (enforce.h says where
 * libvirt puts each). Every function reads the current value first so a
 * steady plan makes no libvirt calls, and changes nothing in dry-run.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "enforce.h"
#include "log.h"

#define HV_CPUMAP_CPUS (HV_CPUMAP_WORDS * 64)

/* ---- pinning ------------------------------------------------------------------------------- */

/* Restores the vCPUs [0, n) that were moved away from old. */
static void pin_rollback(const struct hv_ops *ops, struct hv *hv, const struct hv_vm *vm,
			 const struct hv_pinning *old, const bool *moved, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		int r;

		if (!moved[i])
			continue;
		r = ops->pin_vcpu(hv, vm->uuid, i, &old->vcpu[i]);
		if (r < 0)
			log_warning_errno(
				r, "enforce: cannot restore %s vCPU %u pinning: %m, ignoring",
				vm->name, i);
	}
}

int enforce_pin_apply(const struct hv_ops *ops, struct hv *hv, const struct hv_vm *vm,
		      const struct enforce_cpuset *cores, const struct enforce_cpuset *effective,
		      bool dry_run)
{
	_cleanup_free_ struct hv_pinning *cur = NULL;
	_cleanup_free_ bool *moved = NULL;
	uint32_t list[HV_CPUMAP_CPUS], n = 0, n_vcpus = vm->nr_vcpus;
	struct hv_cpumap all = { 0 };
	bool have_cur = false;
	char buf[256];
	int r;

	if (!ops->pin_vcpu || !ops->pin_emulator)
		return -EOPNOTSUPP;
	if (n_vcpus == 0 || n_vcpus > HV_MAX_VCPUS)
		return -EINVAL;
	if (enforce_cpuset_count(cores) == 0 || !enforce_cpuset_is_subset(cores, effective))
		return -EINVAL;
	for (unsigned c = 0; c < ENFORCE_CPUSET_MAX; c++) {
		if (!enforce_cpuset_has(cores, c))
			continue;
		if (c >= HV_CPUMAP_CPUS)
			return -ERANGE;
		list[n++] = c;
		hv_cpumap_set(&all, c);
	}
	if (enforce_cpuset_format(cores, buf, sizeof(buf)) < 0)
		snprintf(buf, sizeof(buf), "%u CPUs", n);

	if (dry_run) {
		log_info("enforce: dry-run: would pin %s's %u vCPUs one each round-robin on %s, "
			 "emulator on %s",
			 vm->name, n_vcpus, buf, buf);
		return 0;
	}

	cur = calloc(1, sizeof(*cur));
	moved = calloc(n_vcpus, sizeof(*moved));
	if (!cur || !moved)
		return -ENOMEM;
	if (ops->get_pinning) {
		r = ops->get_pinning(hv, vm->uuid, cur);
		if (r < 0 && r != -EOPNOTSUPP)
			return log_warning_errno(r, "enforce: cannot read %s pinning: %m",
						 vm->name);
		have_cur = r >= 0;
	}

	for (uint32_t i = 0; i < n_vcpus; i++) {
		struct hv_cpumap m = { 0 };

		hv_cpumap_set(&m, list[i % n]);
		if (have_cur && i < cur->n_vcpus && hv_cpumap_equal(&cur->vcpu[i], &m))
			continue;
		r = ops->pin_vcpu(hv, vm->uuid, i, &m);
		if (r < 0) {
			log_warning_errno(r, "enforce: cannot pin %s vCPU %u to CPU %u: %m",
					  vm->name, i, list[i % n]);
			if (have_cur)
				pin_rollback(ops, hv, vm, cur, moved, i);
			return r;
		}
		moved[i] = true;
	}
	if (!have_cur || !hv_cpumap_equal(&cur->emulator, &all)) {
		r = ops->pin_emulator(hv, vm->uuid, &all);
		if (r < 0) {
			log_warning_errno(r, "enforce: cannot pin %s emulator to %s: %m", vm->name,
					  buf);
			if (have_cur)
				pin_rollback(ops, hv, vm, cur, moved, n_vcpus);
			return r;
		}
	}
	log_info("enforce: %s pinned: %u vCPUs one each on %s, emulator on %s", vm->name, n_vcpus,
		 buf, buf);
	return 0;
}

/* ---- memory -------------------------------------------------------------------------------- */

/* Bytes to libvirt's KiB, whole pages (what the kernel keeps, so a read back compares equal). */
static uint64_t mem_bytes_to_kib(uint64_t bytes)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t page_bytes = page > 0 ? (uint64_t)page : 4096;

	if (bytes == UINT64_MAX)
		return HV_TUNE_UNLIMITED;
	bytes -= bytes % page_bytes;
	if (bytes == 0)
		bytes = page_bytes;
	return bytes / 1024;
}

int enforce_mem_tune_apply(const struct hv_ops *ops, struct hv *hv, const struct hv_vm *vm,
			   uint64_t soft_bytes, uint64_t hard_bytes, bool dry_run)
{
	struct hv_mem_tune cur, set = { 0 };
	uint64_t soft_kib, hard_kib;
	int r;

	if (!ops->set_mem_tune)
		return -EOPNOTSUPP;
	if (soft_bytes == 0)
		return -EINVAL;
	if (hard_bytes && hard_bytes != UINT64_MAX && soft_bytes != UINT64_MAX &&
	    soft_bytes > hard_bytes)
		return -EINVAL;
	/* QEMU needs the guest's RAM and more: a hard limit below it is a certain OOM kill */
	if (hard_bytes && hard_bytes != UINT64_MAX && vm->max_memory_kib &&
	    hard_bytes / 1024 < vm->max_memory_kib)
		return -EINVAL;
	soft_kib = mem_bytes_to_kib(soft_bytes);
	/* 0: the operator's <hard_limit>, if any, is left as it is */
	hard_kib = hard_bytes ? mem_bytes_to_kib(hard_bytes) : 0;

	if (dry_run) {
		log_info("enforce: dry-run: would set %s memory soft limit %llu KiB, hard limit "
			 "%llu KiB (%llu = unlimited)",
			 vm->name, (unsigned long long)soft_kib, (unsigned long long)hard_kib,
			 (unsigned long long)HV_TUNE_UNLIMITED);
		return 0;
	}

	/* 0 leaves a value as it is */
	set.soft_limit_kib = soft_kib;
	set.hard_limit_kib = hard_kib;
	if (ops->get_mem_tune) {
		r = ops->get_mem_tune(hv, vm->uuid, &cur);
		if (r < 0 && r != -EOPNOTSUPP)
			return log_warning_errno(r, "enforce: cannot read %s memory limits: %m",
						 vm->name);
		if (r >= 0) {
			if (cur.soft_limit_kib == soft_kib)
				set.soft_limit_kib = 0;
			if (cur.hard_limit_kib == hard_kib)
				set.hard_limit_kib = 0;
			if (!set.soft_limit_kib && !set.hard_limit_kib)
				return 0;
		}
	}
	r = ops->set_mem_tune(hv, vm->uuid, &set);
	if (r < 0)
		return log_warning_errno(r,
					 "enforce: cannot set %s memory soft limit %llu KiB, "
					 "hard limit %llu KiB: %m",
					 vm->name, (unsigned long long)soft_kib,
					 (unsigned long long)hard_kib);
	log_info("enforce: %s memory soft limit %llu KiB, hard limit %llu KiB", vm->name,
		 (unsigned long long)soft_kib, (unsigned long long)hard_kib);
	return 0;
}

/* ---- block I/O ----------------------------------------------------------------------------- */

int enforce_block_apply(const struct hv_ops *ops, struct hv *hv, const struct hv_vm *vm,
			const char *disk, uint64_t bytes_per_sec, bool dry_run)
{
	struct hv_block_tune cur, set;
	int r;

	if (!ops->get_block_tune || !ops->set_block_tune)
		return -EOPNOTSUPP;
	if (!disk || !*disk)
		return -EINVAL;
	if (dry_run) {
		log_info("enforce: dry-run: would limit %s disk %s to %llu bytes/s (0 = unlimited)",
			 vm->name, disk, (unsigned long long)bytes_per_sec);
		return 0;
	}

	/* ops/s limits stay: read them, they are replaced with the rest */
	r = ops->get_block_tune(hv, vm->uuid, disk, &cur);
	if (r < 0)
		return log_warning_errno(r, "enforce: cannot read %s disk %s I/O limits: %m",
					 vm->name, disk);
	if (cur.total_bytes_sec == bytes_per_sec && !cur.read_bytes_sec && !cur.write_bytes_sec)
		return 0;
	set = cur;
	set.total_bytes_sec = bytes_per_sec;
	set.read_bytes_sec = 0;
	set.write_bytes_sec = 0;
	r = ops->set_block_tune(hv, vm->uuid, disk, &set);
	if (r < 0)
		return log_warning_errno(r, "enforce: cannot limit %s disk %s to %llu bytes/s: %m",
					 vm->name, disk, (unsigned long long)bytes_per_sec);
	log_info("enforce: %s disk %s limited to %llu bytes/s", vm->name, disk,
		 (unsigned long long)bytes_per_sec);
	return 0;
}

/* ---- block I/O weight ---------------------------------------------------------------------- */

int enforce_blkio_weight_apply(const struct hv_ops *ops, struct hv *hv, const struct hv_vm *vm,
			       uint32_t weight, bool dry_run)
{
	uint32_t cur;
	int r;

	if (!ops->set_blkio_weight)
		return -EOPNOTSUPP;
	if (weight < ENFORCE_BLKIO_WEIGHT_MIN || weight > ENFORCE_BLKIO_WEIGHT_MAX)
		return -EINVAL;
	if (dry_run) {
		log_info("enforce: dry-run: would set %s block I/O weight %u", vm->name, weight);
		return 0;
	}
	if (ops->get_blkio_weight) {
		r = ops->get_blkio_weight(hv, vm->uuid, &cur);
		if (r < 0 && r != -EOPNOTSUPP)
			return log_warning_errno(r, "enforce: cannot read %s block I/O weight: %m",
						 vm->name);
		if (r >= 0 && cur == weight)
			return 0;
	}
	r = ops->set_blkio_weight(hv, vm->uuid, weight);
	if (r < 0)
		return log_warning_errno(r, "enforce: cannot set %s block I/O weight %u: %m",
					 vm->name, weight);
	log_info("enforce: %s block I/O weight %u", vm->name, weight);
	return 0;
}

/* ---- network ------------------------------------------------------------------------------- */

/*
 * libvirt's average, peak and floor are kB/s of 1000 bytes (it hands them to
 * tc as "kbps"); round up so a small nonzero rate stays nonzero.
 */
static int net_bps_to_kbytes(uint64_t bps, uint64_t *ret)
{
	uint64_t v = bps / 8000 + (bps % 8000 != 0);

	if (v > UINT32_MAX)
		return -ERANGE;
	*ret = v;
	return 0;
}

static bool net_tune_equal(const struct hv_net_tune *a, const struct hv_net_tune *b)
{
	return a->in_average == b->in_average && a->in_peak == b->in_peak &&
	       a->in_burst == b->in_burst && a->in_floor == b->in_floor &&
	       a->out_average == b->out_average && a->out_peak == b->out_peak &&
	       a->out_burst == b->out_burst;
}

int enforce_net_apply(const struct hv_ops *ops, struct hv *hv, const struct hv_vm *vm,
		      const char *ifname, uint64_t guarantee_bps, uint64_t limit_bps, bool dry_run)
{
	struct hv_net_tune cur, set = { 0 };
	uint64_t limit_kb, floor_kb;
	int r;

	if (!ops->get_net_tune || !ops->set_net_tune)
		return -EOPNOTSUPP;
	if (!ifname || !*ifname || strlen(ifname) >= HV_IFNAME_MAX)
		return -EINVAL;
	if (limit_bps && guarantee_bps > limit_bps)
		return -EINVAL;
	r = net_bps_to_kbytes(limit_bps, &limit_kb);
	if (r < 0)
		return r;
	r = net_bps_to_kbytes(guarantee_bps, &floor_kb);
	if (r < 0)
		return r;
	set.in_average = limit_kb;
	set.out_average = limit_kb;
	set.in_floor = floor_kb;

	if (dry_run) {
		log_info("enforce: dry-run: would set %s interface %s limit %llu kB/s, guarantee "
			 "%llu kB/s (0 = none)",
			 vm->name, ifname, (unsigned long long)limit_kb,
			 (unsigned long long)floor_kb);
		return 0;
	}

	r = ops->get_net_tune(hv, vm->uuid, ifname, &cur);
	if (r < 0)
		return log_warning_errno(r, "enforce: cannot read %s interface %s bandwidth: %m",
					 vm->name, ifname);
	if (net_tune_equal(&cur, &set))
		return 0;
	r = ops->set_net_tune(hv, vm->uuid, ifname, &set);
	if ((r == -EOPNOTSUPP || r == -EINVAL) && set.in_floor) {
		/* a floor needs a libvirt network with its own bandwidth: shape without it */
		log_info_errno(r, "enforce: %s interface %s refuses a floor (%m), limiting only",
			       vm->name, ifname);
		set.in_floor = 0;
		if (net_tune_equal(&cur, &set))
			return 1;
		r = ops->set_net_tune(hv, vm->uuid, ifname, &set);
		if (r >= 0) {
			log_info("enforce: %s interface %s limited to %llu kB/s, guarantee not "
				 "applied",
				 vm->name, ifname, (unsigned long long)limit_kb);
			return 1;
		}
	}
	if (r < 0)
		return log_warning_errno(r, "enforce: cannot set %s interface %s bandwidth: %m",
					 vm->name, ifname);
	log_info("enforce: %s interface %s limited to %llu kB/s, guarantee %llu kB/s", vm->name,
		 ifname, (unsigned long long)limit_kb, (unsigned long long)floor_kb);
	return 0;
}
