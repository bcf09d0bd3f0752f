// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The VMs' disk reservations as block I/O weights (manager_disk.c) against a
 * fake plugin: the weight from the lease (guaranteed: upper bound, burstable:
 * mean, best effort: 100), the step below which nothing is rewritten,
 * dry-run making no call, the VM's own weight put back with disk_manage =
 * no, a new QEMU starting afresh, a failure kept and retried.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "manager.h"
#include "tap.h"

static uint32_t fake_weight;
static int n_get, n_set, set_result;

static int f_get(struct hv *hv, const char *uuid, uint32_t *ret)
{
	n_get++;
	*ret = fake_weight;
	return 0;
}

static int f_set(struct hv *hv, const char *uuid, uint32_t w)
{
	n_set++;
	if (set_result < 0)
		return set_result;
	fake_weight = w;
	return 0;
}

static const struct hv_ops fake_ops = {
	.name = "fake",
	.get_blkio_weight = f_get,
	.set_blkio_weight = f_set,
};

static struct manager m;
static struct manager_vm v;
static int dummy;

static void setup(void)
{
	memset(&m, 0, sizeof(m));
	memset(&v, 0, sizeof(v));
	m.ledger = (struct ledger *)&dummy;
	m.hv = (struct hv *)&dummy;
	m.hv_ops = &fake_ops;
	m.cfg.disk_manage = true;
	m.ledger_pool.n_dims = 1;
	m.ledger_pool.dims[0] = (struct pool_dim){ .kind = POOL_KIND_DISK,
						   .total = 800000, /* 100 MB/s in kbps */
						   .risk_bound = 0.05 };
	strcpy(v.id.uuid, "11111111-2222-3333-4444-555555555555");
	strcpy(v.id.name, "vm1");
	for (int d = 0; d < STATE_NR_ALLOC_DIMS; d++)
		v.alloc.enforced[d] = v.alloc.dry_enforced[d] = NAN;
	v.alloc.lease_id = 7;
	v.alloc.cls = POOL_CLASS_GUARANTEED;
	v.alloc.in_lease[STATE_ALLOC_DISK] = true;
	v.alloc.held[STATE_ALLOC_DISK] = (struct risk_dist){ .mean = 100000, .upper = 400000 };
	fake_weight = 500; /* the VM's own */
	n_get = n_set = set_result = 0;
}

int main(void)
{
	struct manager_vm_alloc *a = &v.alloc;

	/* guaranteed: upper 400000 of 800000 kbps -> 100 + 450 */
	setup();
	manager_disk_enforce(&m, &v);
	check_int_eq(fake_weight, 550);
	check_int_eq(n_set, 1);
	check_double_near(a->enforced[STATE_ALLOC_DISK], 400000, 1e-6);
	check(a->enforced_how[STATE_ALLOC_DISK] &&
	      !strcmp(a->enforced_how[STATE_ALLOC_DISK], "libvirt blkio weight"));
	check_int_eq(a->blkio_weight_before, 500);
	/* a move of less than 10: nothing, not even a read */
	n_get = n_set = 0;
	a->held[STATE_ALLOC_DISK].upper = 408000; /* 559 */
	manager_disk_enforce(&m, &v);
	check_int_eq(n_get + n_set, 0);
	check_int_eq(fake_weight, 550);
	a->held[STATE_ALLOC_DISK].upper = 900000; /* above the pool: clamped */
	manager_disk_enforce(&m, &v);
	check_int_eq(fake_weight, 1000);
	/* burstable: its mean */
	a->cls = POOL_CLASS_BURSTABLE;
	manager_disk_enforce(&m, &v);
	check_int_eq(fake_weight, 213); /* 100 + 900 / 8 = 212.5 */
	/* best effort: the least weight */
	a->cls = POOL_CLASS_BEST_EFFORT;
	manager_disk_enforce(&m, &v);
	check_int_eq(fake_weight, 100);
	check_double_near(a->enforced[STATE_ALLOC_DISK], 0, 1e-9);
	/* disk_manage = no: the VM's own weight back, once */
	m.cfg.disk_manage = false;
	manager_disk_enforce(&m, &v);
	check_int_eq(fake_weight, 500);
	check(isnan(a->enforced[STATE_ALLOC_DISK]));
	check(!a->enforced_how[STATE_ALLOC_DISK]);
	n_set = 0;
	manager_disk_enforce(&m, &v);
	check_int_eq(n_set, 0);

	/* dry-run: no call at all, said once */
	setup();
	m.cfg.dry_run = true;
	manager_disk_enforce(&m, &v);
	manager_disk_enforce(&m, &v);
	check_int_eq(n_get + n_set, 0);
	check_int_eq(fake_weight, 500);
	check(a->enforced_how[STATE_ALLOC_DISK] &&
	      !strcmp(a->enforced_how[STATE_ALLOC_DISK], "dry-run"));
	check(isnan(a->enforced[STATE_ALLOC_DISK]));
	/* in and out of dry-run over a weight of ours: nothing changes, it stays ours */
	setup();
	manager_disk_enforce(&m, &v);
	check_int_eq(fake_weight, 550);
	m.cfg.dry_run = true;
	m.cfg.disk_manage = false; /* would put back: said, not done */
	n_get = n_set = 0;
	manager_disk_enforce(&m, &v);
	manager_disk_enforce(&m, &v);
	m.cfg.disk_manage = true;
	manager_disk_enforce(&m, &v);
	check_int_eq(n_get + n_set, 0);
	check_int_eq(fake_weight, 550);
	m.cfg.dry_run = false;
	manager_disk_enforce(&m, &v);
	check_int_eq(n_get + n_set, 0);
	check(a->enforced_how[STATE_ALLOC_DISK] &&
	      !strcmp(a->enforced_how[STATE_ALLOC_DISK], "libvirt blkio weight"));
	check_double_near(a->enforced[STATE_ALLOC_DISK], 400000, 1e-6);

	/* no pool dimension: left as it is */
	setup();
	m.ledger_pool.n_dims = 0;
	manager_disk_enforce(&m, &v);
	check_int_eq(n_get + n_set, 0);
	/* no disk item in the lease: left as it is */
	setup();
	a->in_lease[STATE_ALLOC_DISK] = false;
	manager_disk_enforce(&m, &v);
	check_int_eq(n_get + n_set, 0);

	/* a failure is kept and retried; then it goes through */
	setup();
	set_result = -EIO;
	manager_disk_enforce(&m, &v);
	check_int_eq(a->enforce_error[STATE_ALLOC_DISK], -EIO);
	check(isnan(a->enforced[STATE_ALLOC_DISK]));
	set_result = 0;
	manager_disk_enforce(&m, &v);
	check_int_eq(a->enforce_error[STATE_ALLOC_DISK], 0);
	check_int_eq(fake_weight, 550);
	check_int_eq(a->blkio_weight_before, 500);

	/* a new QEMU (enforced cleared by the resync) starts with its own weight: set again */
	fake_weight = 300;
	a->enforced[STATE_ALLOC_DISK] = NAN;
	n_set = 0;
	manager_disk_enforce(&m, &v);
	check_int_eq(n_set, 1);
	check_int_eq(fake_weight, 550);
	check_int_eq(a->blkio_weight_before, 300);
	return test_result();
}
