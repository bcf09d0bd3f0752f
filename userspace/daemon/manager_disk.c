// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Disk I/O reservations of the VMs' leases, as each VM's block I/O weight
 * through libvirt (<blkiotune><weight>; libvirt owns the VM's cgroup and
 * writes blkio[.bfq].weight on v1, io[.bfq].weight on v2, enforce.h).
 *
 * A reservation is a share under contention, not a cap, so nothing is
 * throttled: a VM's weight is proportional to what its lease reserves on
 * the pool's "disk" dimension ([pool] disk_capacity):
 *
 *   weight = 100 + 900 * reservation / capacity, clamped to 100..1000
 *
 * where the reservation is a guaranteed VM's upper bound (held whole), a
 * burstable VM's mean (its share of the risk-pooled reservation) and
 * nothing for best effort, which gets libvirt's least weight. A VM whose
 * lease has no disk item is left as it is. The weight is rewritten only
 * when it moves by DISK_WEIGHT_STEP or more. What the VM had before
 * prescient first changed it (per QEMU process) is remembered and put back
 * when [alloc] disk_manage is turned off, the pool loses its disk dimension
 * or the lease its disk item. A daemon restarted over a VM it had already
 * weighted remembers that weight as the VM's own.
 *
 * In dry-run every change is logged once and none is made. A failure is
 * logged with what to do, kept in the VM's state and retried next step.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "enforce.h"
#include "log.h"
#include "manager.h"

/* A weight is rewritten only when it moves by at least this much. */
#define DISK_WEIGHT_STEP 10
/* The kernel's default group weight (BFQ and io.weight): put back when the VM had none set. */
#define DISK_WEIGHT_DEFAULT 100

static const char disk_how[] = "libvirt blkio weight";

static const struct pool_dim *disk_dim(const struct manager *m)
{
	for (uint32_t d = 0; d < m->ledger_pool.n_dims; d++)
		if (m->ledger_pool.dims[d].kind == POOL_KIND_DISK)
			return &m->ledger_pool.dims[d];
	return NULL;
}

/* What the VM's lease reserves on the disk, kbps; NAN when it has no disk item. */
static double vm_reservation_kbps(const struct manager_vm *v, const struct pool_dim *pd)
{
	const struct manager_vm_alloc *a = &v->alloc;
	double kbps;

	if (a->cls == POOL_CLASS_BEST_EFFORT)
		return a->lease_id ? 0 : NAN;
	if (!a->in_lease[STATE_ALLOC_DISK] && !a->refused)
		return NAN;
	if (a->cls == POOL_CLASS_BURSTABLE && pd->risk_bound > 0)
		kbps = a->held[STATE_ALLOC_DISK].mean;
	else
		kbps = admit_item_held(pd, a->cls, &a->held[STATE_ALLOC_DISK]);
	if (!isfinite(kbps) || kbps < 0)
		return NAN;
	return kbps;
}

static uint32_t weight_of(double kbps, double capacity_kbps)
{
	double w;

	if (!(capacity_kbps > 0))
		return ENFORCE_BLKIO_WEIGHT_MIN;
	w = ENFORCE_BLKIO_WEIGHT_MIN +
	    (ENFORCE_BLKIO_WEIGHT_MAX - ENFORCE_BLKIO_WEIGHT_MIN) * kbps / capacity_kbps;
	w = round(w);
	if (!(w >= ENFORCE_BLKIO_WEIGHT_MIN))
		return ENFORCE_BLKIO_WEIGHT_MIN;
	if (w > ENFORCE_BLKIO_WEIGHT_MAX)
		return ENFORCE_BLKIO_WEIGHT_MAX;
	return (uint32_t)w;
}

static bool weight_moved(uint32_t now, uint32_t want)
{
	return now == 0 || (now > want ? now - want : want - now) >= DISK_WEIGHT_STEP;
}

static void disk_failed(struct manager_vm *v, int r, const char *what, uint32_t weight)
{
	struct manager_vm_alloc *a = &v->alloc;

	/* Said once per distinct failure: it is retried every step. */
	if (r != a->enforce_error[STATE_ALLOC_DISK]) {
		if (r == -EOPNOTSUPP)
			log_warning("alloc: cannot %s %s's block I/O weight %u: this host's cgroup "
				    "or I/O scheduler has no group weight (use the bfq scheduler "
				    "on the VMs' disks or set [alloc] disk_manage = no); retrying "
				    "next step",
				    what, v->id.name, weight);
		else
			log_warning_errno(r,
					  "alloc: cannot %s %s's block I/O weight %u: %m; retrying "
					  "next step",
					  what, v->id.name, weight);
	}
	a->enforce_error[STATE_ALLOC_DISK] = r;
}

/* Out of dry-run: "dry-run" no longer holds, what is in force is ours or nothing. */
static void how_settle(struct manager_vm_alloc *a)
{
	if (a->enforced_how[STATE_ALLOC_DISK] == disk_how)
		return;
	a->enforced_how[STATE_ALLOC_DISK] =
		a->blkio_weight && isfinite(a->enforced[STATE_ALLOC_DISK]) ? disk_how : NULL;
}

/* Puts back the weight the VM had before prescient changed it, if it did. */
static void disk_restore(struct manager *m, struct manager_vm *v, const char *why)
{
	struct manager_vm_alloc *a = &v->alloc;
	uint32_t w = a->blkio_weight_before ? a->blkio_weight_before : DISK_WEIGHT_DEFAULT;
	int r;

	if (!m->cfg.dry_run)
		how_settle(a);
	if (m->cfg.dry_run) {
		/* dry_enforced 0: the put-back was said */
		if (a->blkio_weight && isfinite(a->enforced[STATE_ALLOC_DISK]) &&
		    a->dry_enforced[STATE_ALLOC_DISK] != 0)
			log_info("alloc: dry-run: %s: would put %s's block I/O weight back %u -> "
				 "%u",
				 why, v->id.name, a->blkio_weight, w);
		a->dry_enforced[STATE_ALLOC_DISK] = 0;
		return;
	}
	a->dry_enforced[STATE_ALLOC_DISK] = NAN;
	if (!a->blkio_weight || !isfinite(a->enforced[STATE_ALLOC_DISK])) {
		/* Nothing of ours in force (or a new QEMU started with its own). */
		a->blkio_weight = 0;
		a->enforce_error[STATE_ALLOC_DISK] = 0;
		return;
	}
	r = enforce_blkio_weight_apply(m->hv_ops, m->hv, &v->id, w, false);
	if (r < 0) {
		disk_failed(v, r, "put back", w);
		return;
	}
	log_info("alloc: %s: %s's block I/O weight put back %u -> %u", why, v->id.name,
		 a->blkio_weight, w);
	a->blkio_weight = 0;
	a->enforced[STATE_ALLOC_DISK] = NAN;
	a->enforced_how[STATE_ALLOC_DISK] = NULL;
	a->enforce_error[STATE_ALLOC_DISK] = 0;
}

void manager_disk_enforce(struct manager *m, struct manager_vm *v)
{
	struct manager_vm_alloc *a = &v->alloc;
	const struct pool_dim *pd = disk_dim(m);
	uint32_t want, cur;
	double kbps;
	int r;

	if (!m->ledger || !m->hv || !m->hv_ops || !m->hv_ops->set_blkio_weight)
		return;
	if (!m->cfg.disk_manage || !pd) {
		disk_restore(m, v,
			     !m->cfg.disk_manage ? "disk_manage = no"
						 : "no disk dimension in the pool");
		return;
	}
	kbps = vm_reservation_kbps(v, pd);
	if (!isfinite(kbps)) {
		disk_restore(m, v, "no disk reservation");
		return;
	}
	want = weight_of(kbps, pd->total);

	if (m->cfg.dry_run) {
		double said = a->dry_enforced[STATE_ALLOC_DISK];

		if (!isfinite(said) || weight_moved((uint32_t)said, want))
			log_info("alloc: dry-run: would set %s's block I/O weight to %u for its "
				 "disk reservation of %.1f Mbit/s (pool %.1f Mbit/s)",
				 v->id.name, want, kbps / 1000, pd->total / 1000);
		else
			want = (uint32_t)said; /* keep what was said: no drift below the step */
		a->dry_enforced[STATE_ALLOC_DISK] = want;
		a->enforced_how[STATE_ALLOC_DISK] = "dry-run";
		return;
	}
	a->dry_enforced[STATE_ALLOC_DISK] = NAN;
	how_settle(a);
	/* enforced is cleared for a new QEMU: the weight of ours went with the old one */
	if (!isfinite(a->enforced[STATE_ALLOC_DISK]))
		a->blkio_weight = 0;
	if (a->blkio_weight && !weight_moved(a->blkio_weight, want))
		return;

	if (!a->blkio_weight) {
		/* The first change of this QEMU's weight: remember what it had. */
		cur = 0;
		r = m->hv_ops->get_blkio_weight
			    ? m->hv_ops->get_blkio_weight(m->hv, v->id.uuid, &cur)
			    : -EOPNOTSUPP;
		if (r < 0 && r != -EOPNOTSUPP) {
			disk_failed(v, r, "read", want);
			return;
		}
		a->blkio_weight_before = r >= 0 ? cur : 0;
	}
	r = enforce_blkio_weight_apply(m->hv_ops, m->hv, &v->id, want, false);
	if (r < 0) {
		disk_failed(v, r, "set", want);
		return;
	}
	log_info("alloc: %s's block I/O weight %u -> %u for its disk reservation of %.1f Mbit/s "
		 "(pool %.1f Mbit/s)",
		 v->id.name, a->blkio_weight ? a->blkio_weight : a->blkio_weight_before, want,
		 kbps / 1000, pd->total / 1000);
	a->blkio_weight = want;
	a->enforced[STATE_ALLOC_DISK] = kbps;
	a->enforced_how[STATE_ALLOC_DISK] = disk_how;
	a->enforce_error[STATE_ALLOC_DISK] = 0;
}
