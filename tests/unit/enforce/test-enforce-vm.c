// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * enforce_pin_apply, enforce_mem_tune_apply, enforce_block_apply,
 * enforce_blkio_weight_apply and enforce_net_apply against a FAKE plugin: an in-memory hv_ops table
 * that records calls and keeps the values set. It checks our side only (argument checks, unit
 * conversion, dry-run making no call, no call when the value is already there, rollback); libvirt's
 * side is tested against its test driver (tests/unit/plugin/test-plugin-tune.c) and against real
 * libvirtd and QEMU (tests/integration/test-enforce-libvirt.sh).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "enforce.h"
#include "tap.h"

static struct hv_pinning fake_pin;
static struct hv_mem_tune fake_mem, last_mem;
static struct hv_block_tune fake_block;
static struct hv_net_tune fake_net, last_net;
static uint32_t fake_weight;
static int n_get, n_set, fail_vcpu = -1, fail_result, refuse_floor, weight_get_result,
			 weight_set_result;

static int f_get_pinning(struct hv *hv, const char *uuid, struct hv_pinning *ret)
{
	n_get++;
	*ret = fake_pin;
	return 0;
}

static int f_pin_vcpu(struct hv *hv, const char *uuid, uint32_t vcpu, const struct hv_cpumap *map)
{
	n_set++;
	if ((int)vcpu == fail_vcpu) {
		fail_vcpu = -1; /* fail once: the rollback must get through */
		return fail_result;
	}
	fake_pin.vcpu[vcpu] = *map;
	return 0;
}

static int f_pin_emulator(struct hv *hv, const char *uuid, const struct hv_cpumap *map)
{
	n_set++;
	fake_pin.emulator = *map;
	return 0;
}

static int f_get_mem(struct hv *hv, const char *uuid, struct hv_mem_tune *ret)
{
	n_get++;
	*ret = fake_mem;
	return 0;
}

static int f_set_mem(struct hv *hv, const char *uuid, const struct hv_mem_tune *t)
{
	n_set++;
	last_mem = *t;
	if (t->soft_limit_kib)
		fake_mem.soft_limit_kib = t->soft_limit_kib;
	if (t->hard_limit_kib)
		fake_mem.hard_limit_kib = t->hard_limit_kib;
	return 0;
}

static int f_get_block(struct hv *hv, const char *uuid, const char *disk, struct hv_block_tune *ret)
{
	n_get++;
	if (strcmp(disk, "vda"))
		return -ENOENT;
	*ret = fake_block;
	return 0;
}

static int f_set_block(struct hv *hv, const char *uuid, const char *disk,
		       const struct hv_block_tune *t)
{
	n_set++;
	fake_block = *t;
	return 0;
}

static int f_get_net(struct hv *hv, const char *uuid, const char *ifname, struct hv_net_tune *ret)
{
	n_get++;
	*ret = fake_net;
	return 0;
}

static int f_set_net(struct hv *hv, const char *uuid, const char *ifname,
		     const struct hv_net_tune *t)
{
	n_set++;
	last_net = *t;
	if (refuse_floor && t->in_floor)
		return -EOPNOTSUPP;
	fake_net = *t;
	return 0;
}

static int f_get_weight(struct hv *hv, const char *uuid, uint32_t *ret)
{
	n_get++;
	if (weight_get_result < 0)
		return weight_get_result;
	*ret = fake_weight;
	return 0;
}

static int f_set_weight(struct hv *hv, const char *uuid, uint32_t weight)
{
	n_set++;
	if (weight_set_result < 0)
		return weight_set_result;
	fake_weight = weight;
	return 0;
}

static const struct hv_ops fake_ops = {
	.name = "fake",
	.get_pinning = f_get_pinning,
	.pin_vcpu = f_pin_vcpu,
	.pin_emulator = f_pin_emulator,
	.get_mem_tune = f_get_mem,
	.set_mem_tune = f_set_mem,
	.get_block_tune = f_get_block,
	.set_block_tune = f_set_block,
	.get_net_tune = f_get_net,
	.set_net_tune = f_set_net,
	.get_blkio_weight = f_get_weight,
	.set_blkio_weight = f_set_weight,
};

/* A plugin that can set a weight but not read one back. */
static const struct hv_ops set_only_ops = {
	.name = "set-only",
	.set_blkio_weight = f_set_weight,
};

static const struct hv_ops empty_ops = { .name = "none" };

static struct hv_vm vm = { .uuid = "c7a5fdbd-cdaf-9455-926a-d65c16db1809",
			   .name = "g1",
			   .nr_vcpus = 3 };

static void counts_reset(void)
{
	n_get = n_set = 0;
}

static struct enforce_cpuset set_of(const char *list)
{
	struct enforce_cpuset s;

	check_int_eq(enforce_cpuset_parse(list, &s), 0);
	return s;
}

static void test_pin(void)
{
	struct enforce_cpuset eff = set_of("0-7"), cores = set_of("2,5"), empty = set_of("");
	struct enforce_cpuset big = set_of("1500"), big_eff = set_of("0-2047");
	struct hv_cpumap old = { 0 };

	for (int c = 0; c < 8; c++)
		hv_cpumap_set(&old, (uint32_t)c);
	fake_pin.n_vcpus = 3;
	for (int i = 0; i < 3; i++)
		fake_pin.vcpu[i] = old;
	fake_pin.emulator = old;

	counts_reset();
	check_int_eq(enforce_pin_apply(&fake_ops, NULL, &vm, &empty, &eff, false), -EINVAL);
	check_int_eq(enforce_pin_apply(&fake_ops, NULL, &vm, &cores, &empty, false), -EINVAL);
	check_int_eq(enforce_pin_apply(&fake_ops, NULL, &vm, &eff, &cores, false), -EINVAL);
	check_int_eq(enforce_pin_apply(&fake_ops, NULL, &vm, &big, &big_eff, false), -ERANGE);
	check_int_eq(enforce_pin_apply(&empty_ops, NULL, &vm, &cores, &eff, false), -EOPNOTSUPP);
	struct hv_vm novcpu = vm;
	novcpu.nr_vcpus = 0;
	check_int_eq(enforce_pin_apply(&fake_ops, NULL, &novcpu, &cores, &eff, false), -EINVAL);
	check_int_eq(enforce_pin_apply(&fake_ops, NULL, &vm, &cores, &eff, true), 0);
	check_int_eq(n_get + n_set, 0);
	check(hv_cpumap_equal(&fake_pin.vcpu[0], &old));

	/* a failing vCPU 1: vCPU 0 goes back to where it was */
	fail_vcpu = 1;
	fail_result = -EIO;
	check_int_eq(enforce_pin_apply(&fake_ops, NULL, &vm, &cores, &eff, false), -EIO);
	check(hv_cpumap_equal(&fake_pin.vcpu[0], &old));
	check(hv_cpumap_equal(&fake_pin.emulator, &old));

	counts_reset();
	check_int_eq(enforce_pin_apply(&fake_ops, NULL, &vm, &cores, &eff, false), 0);
	check_int_eq(n_set, 4); /* 3 vCPUs and the emulator */
	check(hv_cpumap_test(&fake_pin.vcpu[0], 2) && !hv_cpumap_test(&fake_pin.vcpu[0], 5));
	check(hv_cpumap_test(&fake_pin.vcpu[1], 5) && !hv_cpumap_test(&fake_pin.vcpu[1], 2));
	check(hv_cpumap_test(&fake_pin.vcpu[2], 2) && !hv_cpumap_test(&fake_pin.vcpu[2], 5));
	check(hv_cpumap_test(&fake_pin.emulator, 2) && hv_cpumap_test(&fake_pin.emulator, 5));
	check(!hv_cpumap_test(&fake_pin.emulator, 0));

	/* already there: read, no change */
	counts_reset();
	check_int_eq(enforce_pin_apply(&fake_ops, NULL, &vm, &cores, &eff, false), 0);
	check_int_eq(n_get, 1);
	check_int_eq(n_set, 0);
}

static void test_mem(void)
{
	long page = sysconf(_SC_PAGESIZE);

	fake_mem = (struct hv_mem_tune){ HV_TUNE_UNLIMITED, HV_TUNE_UNLIMITED, HV_TUNE_UNLIMITED };
	counts_reset();
	check_int_eq(enforce_mem_tune_apply(&fake_ops, NULL, &vm, 0, UINT64_MAX, false), -EINVAL);
	/* hard 0: the operator's hard limit is left alone, only the soft one is set */
	check_int_eq(enforce_mem_tune_apply(&fake_ops, NULL, &vm, 1 << 30, 0, false), 0);
	check_int_eq(last_mem.hard_limit_kib, 0);
	counts_reset();
	fake_mem = (struct hv_mem_tune){ HV_TUNE_UNLIMITED, HV_TUNE_UNLIMITED, HV_TUNE_UNLIMITED };
	check_int_eq(enforce_mem_tune_apply(&fake_ops, NULL, &vm, 2u << 30, 1 << 30, false),
		     -EINVAL);
	struct hv_vm big = vm;
	big.max_memory_kib = 4 << 20; /* 4 GiB guest: a 2 GiB hard limit would kill it */
	check_int_eq(enforce_mem_tune_apply(&fake_ops, NULL, &big, 1 << 30, 2u << 30, false),
		     -EINVAL);
	check_int_eq(enforce_mem_tune_apply(&fake_ops, NULL, &big, 1 << 30, 4ull << 30, true), 0);
	check_int_eq(enforce_mem_tune_apply(&empty_ops, NULL, &vm, 1 << 30, 2u << 30, false),
		     -EOPNOTSUPP);
	check_int_eq(enforce_mem_tune_apply(&fake_ops, NULL, &vm, 1 << 30, 2u << 30, true), 0);
	check_int_eq(n_get + n_set, 0);

	check_int_eq(enforce_mem_tune_apply(&fake_ops, NULL, &vm, 1 << 30, UINT64_MAX, false), 0);
	check_int_eq(n_set, 1);
	check_int_eq(last_mem.soft_limit_kib, 1 << 20);
	check_int_eq(last_mem.hard_limit_kib, 0); /* already unlimited: left alone */
	check_int_eq(last_mem.swap_hard_limit_kib, 0);

	/* a hard limit not on a page boundary rounds down to one */
	counts_reset();
	check_int_eq(enforce_mem_tune_apply(&fake_ops, NULL, &vm, 1 << 30,
					    (2ull << 30) + (uint64_t)page - 1, false),
		     0);
	check_int_eq(last_mem.hard_limit_kib, 2 << 20);
	check_int_eq(last_mem.soft_limit_kib, 0);

	counts_reset();
	check_int_eq(enforce_mem_tune_apply(&fake_ops, NULL, &vm, 1 << 30, 2u << 30, false), 0);
	check_int_eq(n_get, 1);
	check_int_eq(n_set, 0);
}

static void test_block(void)
{
	fake_block = (struct hv_block_tune){ .read_bytes_sec = 5, .total_iops_sec = 300 };
	counts_reset();
	check_int_eq(enforce_block_apply(&fake_ops, NULL, &vm, "", 1, false), -EINVAL);
	check_int_eq(enforce_block_apply(&fake_ops, NULL, &vm, NULL, 1, false), -EINVAL);
	check_int_eq(enforce_block_apply(&empty_ops, NULL, &vm, "vda", 1, false), -EOPNOTSUPP);
	check_int_eq(enforce_block_apply(&fake_ops, NULL, &vm, "vda", 1 << 20, true), 0);
	check_int_eq(n_get + n_set, 0);
	check_int_eq(enforce_block_apply(&fake_ops, NULL, &vm, "vdz", 1 << 20, false), -ENOENT);

	counts_reset();
	check_int_eq(enforce_block_apply(&fake_ops, NULL, &vm, "vda", 1 << 20, false), 0);
	check_int_eq(n_set, 1);
	check_int_eq(fake_block.total_bytes_sec, 1 << 20);
	check_int_eq(fake_block.read_bytes_sec, 0);
	check_int_eq(fake_block.total_iops_sec, 300); /* kept */

	counts_reset();
	check_int_eq(enforce_block_apply(&fake_ops, NULL, &vm, "vda", 1 << 20, false), 0);
	check_int_eq(n_set, 0);
	check_int_eq(enforce_block_apply(&fake_ops, NULL, &vm, "vda", 0, false), 0);
	check_int_eq(fake_block.total_bytes_sec, 0);
}

static void test_blkio_weight(void)
{
	fake_weight = 0; /* none set on the VM */
	counts_reset();
	check_int_eq(enforce_blkio_weight_apply(&fake_ops, NULL, &vm, 99, false), -EINVAL);
	check_int_eq(enforce_blkio_weight_apply(&fake_ops, NULL, &vm, 1001, false), -EINVAL);
	check_int_eq(enforce_blkio_weight_apply(&fake_ops, NULL, &vm, 0, true), -EINVAL);
	check_int_eq(enforce_blkio_weight_apply(&empty_ops, NULL, &vm, 500, false), -EOPNOTSUPP);
	check_int_eq(enforce_blkio_weight_apply(&fake_ops, NULL, &vm, 500, true), 0);
	check_int_eq(n_get + n_set, 0);
	check_int_eq(fake_weight, 0);

	check_int_eq(enforce_blkio_weight_apply(&fake_ops, NULL, &vm, 100, false), 0);
	check_int_eq(n_set, 1);
	check_int_eq(fake_weight, 100);
	check_int_eq(enforce_blkio_weight_apply(&fake_ops, NULL, &vm, 1000, false), 0);
	check_int_eq(fake_weight, 1000);

	/* already there: read, no change */
	counts_reset();
	check_int_eq(enforce_blkio_weight_apply(&fake_ops, NULL, &vm, 1000, false), 0);
	check_int_eq(n_get, 1);
	check_int_eq(n_set, 0);

	/* a failed read is not a change; a failed set leaves the old weight */
	weight_get_result = -EIO;
	counts_reset();
	check_int_eq(enforce_blkio_weight_apply(&fake_ops, NULL, &vm, 400, false), -EIO);
	check_int_eq(n_set, 0);
	weight_get_result = -EOPNOTSUPP; /* cannot read: set anyway */
	check_int_eq(enforce_blkio_weight_apply(&fake_ops, NULL, &vm, 400, false), 0);
	check_int_eq(fake_weight, 400);
	weight_get_result = 0;
	weight_set_result = -ENOENT;
	check_int_eq(enforce_blkio_weight_apply(&fake_ops, NULL, &vm, 600, false), -ENOENT);
	check_int_eq(fake_weight, 400);
	weight_set_result = 0;

	/* without a read op every apply is a set */
	counts_reset();
	check_int_eq(enforce_blkio_weight_apply(&set_only_ops, NULL, &vm, 400, false), 0);
	check_int_eq(n_set, 1);
	check_int_eq(n_get, 0);
}

static void test_net(void)
{
	fake_net = (struct hv_net_tune){ 0 };
	counts_reset();
	check_int_eq(enforce_net_apply(&fake_ops, NULL, &vm, "vnet0", 2000, 1000, false), -EINVAL);
	check_int_eq(enforce_net_apply(&fake_ops, NULL, &vm, "", 0, 1000, false), -EINVAL);
	check_int_eq(enforce_net_apply(&fake_ops, NULL, &vm, "a-very-long-ifname0", 0, 1, false),
		     -EINVAL);
	check_int_eq(enforce_net_apply(&fake_ops, NULL, &vm, "vnet0", 0, UINT64_MAX, false),
		     -ERANGE);
	check_int_eq(enforce_net_apply(&empty_ops, NULL, &vm, "vnet0", 0, 1000, false),
		     -EOPNOTSUPP);
	check_int_eq(enforce_net_apply(&fake_ops, NULL, &vm, "vnet0", 0, 8000000, true), 0);
	check_int_eq(n_get + n_set, 0);

	/* 8 Mbit/s = 1000 kB/s both ways, 1 Mbit/s floor = 125 kB/s */
	check_int_eq(enforce_net_apply(&fake_ops, NULL, &vm, "vnet0", 1000000, 8000000, false), 0);
	check_int_eq(fake_net.in_average, 1000);
	check_int_eq(fake_net.out_average, 1000);
	check_int_eq(fake_net.in_floor, 125);
	check_int_eq(fake_net.in_peak + fake_net.in_burst + fake_net.out_peak + fake_net.out_burst,
		     0);
	counts_reset();
	check_int_eq(enforce_net_apply(&fake_ops, NULL, &vm, "vnet0", 1000000, 8000000, false), 0);
	check_int_eq(n_set, 0);
	/* rounds up: 1 bit/s is still a limit */
	check_int_eq(enforce_net_apply(&fake_ops, NULL, &vm, "vnet0", 0, 1, false), 0);
	check_int_eq(fake_net.in_average, 1);

	/* an interface that takes no floor: limited, and the caller told (1) */
	refuse_floor = 1;
	counts_reset();
	check_int_eq(enforce_net_apply(&fake_ops, NULL, &vm, "vnet0", 1000000, 16000000, false), 1);
	check_int_eq(n_set, 2);
	check_int_eq(fake_net.in_average, 2000);
	check_int_eq(fake_net.in_floor, 0);
	refuse_floor = 0;

	check_int_eq(enforce_net_apply(&fake_ops, NULL, &vm, "vnet0", 0, 0, false), 0);
	check_int_eq(fake_net.in_average + fake_net.out_average + fake_net.in_floor, 0);
}

int main(void)
{
	test_pin();
	test_mem();
	test_block();
	test_blkio_weight();
	test_net();
	return test_result();
}
