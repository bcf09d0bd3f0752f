// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The libvirt backend's tuning ops (pinning, memtune, iotune, blkio weight,
 * interface bandwidth) against libvirt's built-in test driver (test:///default, no
 * daemon, no root): set, read back through the plugin and through libvirt
 * directly, and the refusals (unknown VM, read-only, bad arguments). What
 * the test driver does not implement must come back as -EOPNOTSUPP and is
 * reported as not exercised here; tests/integration/test-enforce-libvirt.sh
 * covers everything against real libvirtd and QEMU.
 */
#include <errno.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "hv-libvirt.h"
#include "tap.h"

#define TEST_URI     "test:///default"
#define TEST_UUID    "6695eb01-f6a4-8304-79aa-97f2502e193f"
#define UNKNOWN_UUID "00000000-0000-0000-0000-000000000001"

static void on_event(const struct hv_event *ev, void *userdata)
{
}

static bool unsupported(int r, const char *what)
{
	if (r != -EOPNOTSUPP)
		return false;
	fprintf(stderr, "not exercised: the test driver has no %s (%s)\n", what,
		hv_libvirt_last_error());
	return true;
}

static void test_pinning(struct hv *hv, int host_cpus)
{
	const struct hv_ops *ops = &hv_libvirt_ops;
	static struct hv_pinning p;
	struct hv_cpumap m0 = { 0 }, all = { 0 };
	int r;

	r = ops->get_pinning(hv, TEST_UUID, &p);
	fprintf(stderr, "get_pinning: %d %s\n", r, r < 0 ? hv_libvirt_last_error() : "");
	if (unsupported(r, "vCPU/emulator pin info"))
		return;
	check_int_eq(r, 0);
	check_int_eq(p.n_vcpus, 2);
	for (int c = 0; c < host_cpus; c++)
		hv_cpumap_set(&all, (uint32_t)c);
	hv_cpumap_set(&m0, 0);

	r = ops->pin_vcpu(hv, TEST_UUID, 1, &m0);
	if (!unsupported(r, "vCPU pinning")) {
		check_int_eq(r, 0);
		check_int_eq(ops->get_pinning(hv, TEST_UUID, &p), 0);
		check(hv_cpumap_equal(&p.vcpu[1], &m0));
		check(hv_cpumap_test(&p.vcpu[1], 0));
		check(!hv_cpumap_test(&p.vcpu[1], 1));
	}
	/* the highest host CPU and a set of two, through libvirt's byte maps */
	struct hv_cpumap two = { 0 };
	hv_cpumap_set(&two, 1);
	hv_cpumap_set(&two, (uint32_t)host_cpus - 1);
	if (ops->pin_vcpu(hv, TEST_UUID, 0, &two) == 0) {
		check_int_eq(ops->get_pinning(hv, TEST_UUID, &p), 0);
		check(hv_cpumap_equal(&p.vcpu[0], &two));
		check(hv_cpumap_equal(&p.vcpu[1], &m0));
	} else {
		check(!"pin_vcpu(0, {1, last}) failed");
	}
	r = ops->pin_emulator(hv, TEST_UUID, &m0);
	if (!unsupported(r, "emulator pinning")) {
		check_int_eq(r, 0);
		check_int_eq(ops->get_pinning(hv, TEST_UUID, &p), 0);
		check(hv_cpumap_equal(&p.emulator, &m0));
	}
	/* refusals the plugin makes itself, and libvirt's for an unknown VM */
	struct hv_cpumap empty = { 0 };
	check_int_eq(ops->pin_vcpu(hv, TEST_UUID, 0, &empty), -EINVAL);
	check_int_eq(ops->pin_emulator(hv, TEST_UUID, &empty), -EINVAL);
	check_int_eq(ops->pin_vcpu(hv, UNKNOWN_UUID, 0, &m0), -ENOENT);
	check_int_eq(ops->get_pinning(hv, UNKNOWN_UUID, &p), -ENOENT);
	check_int_eq(ops->get_pinning(hv, "not-a-uuid", &p), -EINVAL);
}

static void test_mem(struct hv *hv)
{
	const struct hv_ops *ops = &hv_libvirt_ops;
	struct hv_mem_tune t, set = { .hard_limit_kib = 4 << 20, .soft_limit_kib = 1 << 20 };
	int r;

	r = ops->get_mem_tune(hv, TEST_UUID, &t);
	fprintf(stderr, "get_mem_tune: %d %s\n", r, r < 0 ? hv_libvirt_last_error() : "");
	if (unsupported(r, "memory parameters"))
		return;
	check_int_eq(r, 0);
	r = ops->set_mem_tune(hv, TEST_UUID, &set);
	fprintf(stderr, "set_mem_tune: %d %s\n", r, r < 0 ? hv_libvirt_last_error() : "");
	if (unsupported(r, "virDomainSetMemoryParameters"))
		return;
	check_int_eq(r, 0);
	check_int_eq(ops->get_mem_tune(hv, TEST_UUID, &t), 0);
	check_int_eq(t.hard_limit_kib, 4 << 20);
	check_int_eq(t.soft_limit_kib, 1 << 20);
	/* 0 leaves a value, HV_TUNE_UNLIMITED lifts it */
	set = (struct hv_mem_tune){ .hard_limit_kib = HV_TUNE_UNLIMITED };
	check_int_eq(ops->set_mem_tune(hv, TEST_UUID, &set), 0);
	check_int_eq(ops->get_mem_tune(hv, TEST_UUID, &t), 0);
	check(t.hard_limit_kib == HV_TUNE_UNLIMITED);
	check_int_eq(t.soft_limit_kib, 1 << 20);
	set = (struct hv_mem_tune){ .soft_limit_kib = UINT64_MAX - 1 };
	check_int_eq(ops->set_mem_tune(hv, TEST_UUID, &set), -ERANGE);
}

static virConnectPtr ctl; /* our own connection, to look behind the plugin */

/* Sets total bytes/s and read ops/s each with a burst, behind the plugin's back. */
static int set_bursts(unsigned long long avg, unsigned long long burst)
{
	virTypedParameterPtr p = NULL;
	int n = 0, max = 0, r;
	virDomainPtr dom = virDomainLookupByUUIDString(ctl, TEST_UUID);

	if (!dom)
		return -1;
	virTypedParamsAddULLong(&p, &n, &max, VIR_DOMAIN_BLOCK_IOTUNE_TOTAL_BYTES_SEC, avg);
	virTypedParamsAddULLong(&p, &n, &max, VIR_DOMAIN_BLOCK_IOTUNE_TOTAL_BYTES_SEC_MAX, burst);
	virTypedParamsAddULLong(&p, &n, &max, VIR_DOMAIN_BLOCK_IOTUNE_READ_IOPS_SEC, avg);
	virTypedParamsAddULLong(&p, &n, &max, VIR_DOMAIN_BLOCK_IOTUNE_READ_IOPS_SEC_MAX, burst);
	r = virDomainSetBlockIoTune(dom, "vda", p, n, 0);
	if (r < 0)
		fprintf(stderr, "set_bursts: %s\n", virGetLastErrorMessage());
	virTypedParamsFree(p, n);
	virDomainFree(dom);
	return r;
}

static long long burst_get(const char *name)
{
	virTypedParameter p[32];
	int n = 32;
	unsigned long long v = 0;
	virDomainPtr dom = virDomainLookupByUUIDString(ctl, TEST_UUID);

	if (!dom || virDomainGetBlockIoTune(dom, "vda", p, &n, VIR_TYPED_PARAM_STRING_OKAY) < 0)
		return -1;
	if (virTypedParamsGetULLong(p, n, name, &v) != 1)
		v = (unsigned long long)-1;
	virTypedParamsClear(p, n);
	virDomainFree(dom);
	return (long long)v;
}

static void test_block(struct hv *hv)
{
	const struct hv_ops *ops = &hv_libvirt_ops;
	struct hv_block_tune t, set = { .total_bytes_sec = 10 << 20, .read_iops_sec = 200 };
	int r;

	r = ops->get_block_tune(hv, TEST_UUID, "vda", &t);
	fprintf(stderr, "get_block_tune: %d %s\n", r, r < 0 ? hv_libvirt_last_error() : "");
	if (unsupported(r, "block I/O tune"))
		return;
	check_int_eq(r, 0);
	/*
	 * Unlike QEMU's, the test driver refuses any average above its burst
	 * (*_max), even an unset one: give the two we set bursts first,
	 * behind the plugin's back, which set_block_tune must leave alone.
	 */
	check(set_bursts(1, 1ull << 30) == 0);
	r = ops->set_block_tune(hv, TEST_UUID, "vda", &set);
	fprintf(stderr, "set_block_tune: %d %s\n", r, r < 0 ? hv_libvirt_last_error() : "");
	if (unsupported(r, "virDomainSetBlockIoTune"))
		return;
	check_int_eq(r, 0);
	check_int_eq(ops->get_block_tune(hv, TEST_UUID, "vda", &t), 0);
	check_int_eq(t.total_bytes_sec, 10 << 20);
	check_int_eq(t.read_iops_sec, 200);
	check_int_eq(t.read_bytes_sec, 0);
	check_int_eq(burst_get(VIR_DOMAIN_BLOCK_IOTUNE_TOTAL_BYTES_SEC_MAX), 1ll << 30);
	check_int_eq(burst_get(VIR_DOMAIN_BLOCK_IOTUNE_READ_IOPS_SEC_MAX), 1ll << 30);
	/*
	 * Every value is replaced (the iops limit goes); a burst below its new
	 * average is raised to it, one whose average goes is dropped with it.
	 */
	set = (struct hv_block_tune){ .total_bytes_sec = 2ull << 30 };
	check_int_eq(ops->set_block_tune(hv, TEST_UUID, "vda", &set), 0);
	check_int_eq(ops->get_block_tune(hv, TEST_UUID, "vda", &t), 0);
	check_int_eq(t.total_bytes_sec, 2ll << 30);
	check_int_eq(t.read_iops_sec, 0);
	check_int_eq(burst_get(VIR_DOMAIN_BLOCK_IOTUNE_TOTAL_BYTES_SEC_MAX), 2ll << 30);
	check_int_eq(burst_get(VIR_DOMAIN_BLOCK_IOTUNE_READ_IOPS_SEC_MAX), 0);
	/* back to unlimited */
	set = (struct hv_block_tune){ 0 };
	check_int_eq(ops->set_block_tune(hv, TEST_UUID, "vda", &set), 0);
	check_int_eq(ops->get_block_tune(hv, TEST_UUID, "vda", &t), 0);
	check_int_eq(t.total_bytes_sec, 0);
	check_int_eq(burst_get(VIR_DOMAIN_BLOCK_IOTUNE_TOTAL_BYTES_SEC_MAX), 0);
	set = (struct hv_block_tune){ .total_bytes_sec = 1, .read_bytes_sec = 1 };
	check_int_eq(ops->set_block_tune(hv, TEST_UUID, "vda", &set), -EINVAL);
	check(ops->get_block_tune(hv, TEST_UUID, "nosuchdisk", &t) < 0);
}

static void test_net(struct hv *hv)
{
	const struct hv_ops *ops = &hv_libvirt_ops;
	struct hv_net_tune t,
		set = { .in_average = 1000, .in_peak = 2000, .in_burst = 64, .out_average = 500 };
	int r;

	r = ops->get_net_tune(hv, TEST_UUID, "testnet0", &t);
	fprintf(stderr, "get_net_tune: %d %s\n", r, r < 0 ? hv_libvirt_last_error() : "");
	if (unsupported(r, "interface parameters"))
		return;
	check_int_eq(r, 0);
	r = ops->set_net_tune(hv, TEST_UUID, "testnet0", &set);
	fprintf(stderr, "set_net_tune: %d %s\n", r, r < 0 ? hv_libvirt_last_error() : "");
	if (unsupported(r, "virDomainSetInterfaceParameters"))
		return;
	check_int_eq(r, 0);
	check_int_eq(ops->get_net_tune(hv, TEST_UUID, "testnet0", &t), 0);
	check_int_eq(t.in_average, 1000);
	check_int_eq(t.in_peak, 2000);
	check_int_eq(t.in_burst, 64);
	check_int_eq(t.out_average, 500);
	set = (struct hv_net_tune){ .in_average = (uint64_t)UINT32_MAX + 1 };
	check_int_eq(ops->set_net_tune(hv, TEST_UUID, "testnet0", &set), -ERANGE);
}

/* The weight as libvirt itself reports it, behind the plugin. */
static long long weight_get(void)
{
	virTypedParameter p[16];
	int n = 16;
	unsigned v = 0;
	long long ret = -1;
	virDomainPtr dom = virDomainLookupByUUIDString(ctl, TEST_UUID);

	if (!dom)
		return -1;
	if (virDomainGetBlkioParameters(dom, p, &n, VIR_TYPED_PARAM_STRING_OKAY) == 0) {
		if (virTypedParamsGetUInt(p, n, VIR_DOMAIN_BLKIO_WEIGHT, &v) == 1)
			ret = v;
		virTypedParamsClear(p, n);
	}
	virDomainFree(dom);
	return ret;
}

static void test_blkio_weight(struct hv *hv)
{
	const struct hv_ops *ops = &hv_libvirt_ops;
	uint32_t w = 12345;
	int r;

	check(ops->get_blkio_weight && ops->set_blkio_weight);
	r = ops->get_blkio_weight(hv, TEST_UUID, &w);
	fprintf(stderr, "get_blkio_weight: %d %s\n", r, r < 0 ? hv_libvirt_last_error() : "");
	if (unsupported(r, "blkio parameters"))
		return;
	check_int_eq(r, 0);
	check_int_eq(w, weight_get()); /* 0 when the test domain has none */
	r = ops->set_blkio_weight(hv, TEST_UUID, 700);
	fprintf(stderr, "set_blkio_weight: %d %s\n", r, r < 0 ? hv_libvirt_last_error() : "");
	if (unsupported(r, "virDomainSetBlkioParameters"))
		return;
	check_int_eq(r, 0);
	check_int_eq(weight_get(), 700);
	check_int_eq(ops->get_blkio_weight(hv, TEST_UUID, &w), 0);
	check_int_eq(w, 700);
	/* both ends of libvirt's range */
	check_int_eq(ops->set_blkio_weight(hv, TEST_UUID, 100), 0);
	check_int_eq(weight_get(), 100);
	check_int_eq(ops->set_blkio_weight(hv, TEST_UUID, 1000), 0);
	check_int_eq(ops->get_blkio_weight(hv, TEST_UUID, &w), 0);
	check_int_eq(w, 1000);
	/* refused by the plugin before libvirt, the VM's weight kept */
	check_int_eq(ops->set_blkio_weight(hv, TEST_UUID, 99), -ERANGE);
	check_int_eq(ops->set_blkio_weight(hv, TEST_UUID, 1001), -ERANGE);
	check_int_eq(ops->set_blkio_weight(hv, TEST_UUID, 0), -ERANGE);
	check_int_eq(weight_get(), 1000);
	check_int_eq(ops->set_blkio_weight(hv, UNKNOWN_UUID, 500), -ENOENT);
	w = 7;
	check_int_eq(ops->get_blkio_weight(hv, UNKNOWN_UUID, &w), -ENOENT);
	check_int_eq(w, 7); /* untouched on failure */
}

static void test_read_only(void)
{
	const struct hv_ops *ops = &hv_libvirt_ops;
	struct hv_config cfg = { .uri = TEST_URI, .read_only = true };
	struct hv_cpumap m0 = { .bits = { 1 } };
	struct hv_mem_tune mt = { .soft_limit_kib = 1024 };
	struct hv_block_tune bt = { .total_bytes_sec = 1 << 20 };
	struct hv_net_tune nt = { .in_average = 100 };
	struct hv *hv = NULL;

	check_int_eq(hv_libvirt_open(&cfg, NULL, on_event, NULL, &hv), 0);
	if (!hv)
		return;
	check_int_eq(ops->pin_vcpu(hv, TEST_UUID, 0, &m0), -EPERM);
	check_int_eq(ops->pin_emulator(hv, TEST_UUID, &m0), -EPERM);
	check_int_eq(ops->set_mem_tune(hv, TEST_UUID, &mt), -EPERM);
	check_int_eq(ops->set_block_tune(hv, TEST_UUID, "vda", &bt), -EPERM);
	check_int_eq(ops->set_net_tune(hv, TEST_UUID, "testnet0", &nt), -EPERM);
	check_int_eq(ops->set_blkio_weight(hv, TEST_UUID, 500), -EPERM);
	ops->close(hv);
}

int main(void)
{
	struct hv_config cfg = { .uri = TEST_URI };
	struct hv *hv = NULL;
	int host_cpus;

	check_int_eq(hv_libvirt_open(&cfg, NULL, on_event, NULL, &hv), 0);
	if (!hv)
		return test_result();
	/* test:///default is one shared instance per process: ctl sees what the plugin did */
	ctl = virConnectOpen(TEST_URI);
	if (!ctl)
		test_skip("cannot open test:///default");
	host_cpus = virNodeGetCPUMap(ctl, NULL, NULL, 0);
	check(host_cpus > 1);

	test_pinning(hv, host_cpus);
	test_mem(hv);
	test_block(hv);
	test_net(hv);
	test_blkio_weight(hv);
	hv_libvirt_ops.close(hv);
	test_read_only();
	virConnectClose(ctl);
	return test_result();
}
