// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The tuning libvirt owns besides the CPU quota (hv.h): vCPU and emulator
 * pinning, <memtune>, a disk's <iotune>, the VM's <blkiotune><weight> and
 * an interface's <bandwidth>, all on the live VM. libvirt writes the cgroup
 * files, QEMU throttle groups and tc qdiscs behind these itself; we never
 * touch them (architecture.md).
 *
 * Every op takes its own reference on the connection through libvirt.c, so
 * a reconnect in the background never frees what a call still uses.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "cleanup.h"
#include "hv-libvirt.h"
#include "tune.h"

#define CPUMAP_BYTES (HV_CPUMAP_WORDS * 8)

static void connp(virConnectPtr *conn)
{
	if (*conn)
		virConnectClose(*conn);
}

static void domp(virDomainPtr *dom)
{
	if (*dom)
		virDomainFree(*dom);
}

struct params {
	virTypedParameterPtr p;
	int n, max;
};

static void params_freep(struct params *tp)
{
	virTypedParamsFree(tp->p, tp->n);
}

/*
 * Drivers without separate live and persistent state (the test driver)
 * refuse the AFFECT_LIVE flag; for an active domain, AFFECT_CURRENT is the
 * live state. True, error cleared, when the call should be repeated so.
 */
static bool retry_current(virDomainPtr dom)
{
	virErrorPtr e = virGetLastError();

	if (!e || e->code != VIR_ERR_INVALID_ARG || !e->message ||
	    !strstr(e->message, "unsupported flags"))
		return false;
	if (virDomainIsActive(dom) != 1)
		return false;
	virResetLastError();
	return true;
}

/* ---- CPU maps ------------------------------------------------------------------------------ */

/* libvirt's maps are bytes, CPU n at bit n % 8 of byte n / 8. */
static void cpumap_from_bytes(const unsigned char *bytes, size_t len, struct hv_cpumap *ret)
{
	memset(ret, 0, sizeof(*ret));
	for (size_t i = 0; i < len && i < CPUMAP_BYTES; i++)
		ret->bits[i / 8] |= (uint64_t)bytes[i] << (8 * (i % 8));
}

/* Bytes of map up to its highest CPU (0 when empty), so libvirt sees no CPUs beyond the host's. */
static size_t cpumap_to_bytes(const struct hv_cpumap *map, unsigned char *bytes)
{
	size_t len = 0;

	for (size_t i = 0; i < CPUMAP_BYTES; i++) {
		bytes[i] = (unsigned char)(map->bits[i / 8] >> (8 * (i % 8)));
		if (bytes[i])
			len = i + 1;
	}
	return len;
}

/* Bytes of a map covering every host CPU libvirt knows. */
static int host_maplen(struct hv *hv, virConnectPtr conn, int *ret)
{
	int ncpus = virNodeGetCPUMap(conn, NULL, NULL, 0);

	if (ncpus < 0)
		return hv_libvirt_call_error(hv, conn, "cannot count host CPUs");
	*ret = VIR_CPU_MAPLEN(ncpus > 0 ? ncpus : 1);
	return 0;
}

int hv_libvirt_get_pinning(struct hv *hv, const char *uuid, struct hv_pinning *ret)
{
	_cleanup_(connp) virConnectPtr conn = NULL;
	_cleanup_(domp) virDomainPtr dom = NULL;
	_cleanup_free_ unsigned char *maps = NULL;
	_cleanup_free_ struct hv_pinning *p = NULL;
	int maplen = 0, n, r;

	r = hv_libvirt_dom_get(hv, uuid, false, &conn, &dom);
	if (r < 0)
		return r;
	r = host_maplen(hv, conn, &maplen);
	if (r < 0)
		return r;
	maps = calloc(HV_MAX_VCPUS, (size_t)maplen);
	p = calloc(1, sizeof(*p));
	if (!maps || !p)
		return -ENOMEM;

	n = virDomainGetVcpuPinInfo(dom, HV_MAX_VCPUS, maps, maplen, VIR_DOMAIN_AFFECT_LIVE);
	if (n < 0)
		return hv_libvirt_call_error(hv, conn, "cannot read vCPU pinning");
	p->n_vcpus = (uint32_t)(n < HV_MAX_VCPUS ? n : HV_MAX_VCPUS);
	for (uint32_t i = 0; i < p->n_vcpus; i++)
		cpumap_from_bytes(VIR_GET_CPUMAP(maps, maplen, i), (size_t)maplen, &p->vcpu[i]);

	memset(maps, 0, (size_t)maplen);
	if (virDomainGetEmulatorPinInfo(dom, maps, maplen, VIR_DOMAIN_AFFECT_LIVE) < 0)
		return hv_libvirt_call_error(hv, conn, "cannot read emulator pinning");
	cpumap_from_bytes(maps, (size_t)maplen, &p->emulator);

	memcpy(ret, p, sizeof(*p));
	return 0;
}

int hv_libvirt_pin_vcpu(struct hv *hv, const char *uuid, uint32_t vcpu, const struct hv_cpumap *map)
{
	_cleanup_(connp) virConnectPtr conn = NULL;
	_cleanup_(domp) virDomainPtr dom = NULL;
	unsigned char bytes[CPUMAP_BYTES];
	size_t len = cpumap_to_bytes(map, bytes);
	int r;

	if (len == 0 || vcpu >= HV_MAX_VCPUS)
		return -EINVAL;
	r = hv_libvirt_dom_get(hv, uuid, true, &conn, &dom);
	if (r < 0)
		return r;
	if (virDomainPinVcpuFlags(dom, vcpu, bytes, (int)len, VIR_DOMAIN_AFFECT_LIVE) < 0 &&
	    (!retry_current(dom) ||
	     virDomainPinVcpuFlags(dom, vcpu, bytes, (int)len, VIR_DOMAIN_AFFECT_CURRENT) < 0))
		return hv_libvirt_call_error(hv, conn, "cannot pin vCPU");
	return 0;
}

int hv_libvirt_pin_emulator(struct hv *hv, const char *uuid, const struct hv_cpumap *map)
{
	_cleanup_(connp) virConnectPtr conn = NULL;
	_cleanup_(domp) virDomainPtr dom = NULL;
	unsigned char bytes[CPUMAP_BYTES];
	size_t len = cpumap_to_bytes(map, bytes);
	int r;

	if (len == 0)
		return -EINVAL;
	r = hv_libvirt_dom_get(hv, uuid, true, &conn, &dom);
	if (r < 0)
		return r;
	if (virDomainPinEmulator(dom, bytes, (int)len, VIR_DOMAIN_AFFECT_LIVE) < 0 &&
	    (!retry_current(dom) ||
	     virDomainPinEmulator(dom, bytes, (int)len, VIR_DOMAIN_AFFECT_CURRENT) < 0))
		return hv_libvirt_call_error(hv, conn, "cannot pin emulator");
	return 0;
}

/* ---- memory -------------------------------------------------------------------------------- */

/* libvirt says "unlimited" with VIR_DOMAIN_MEMORY_PARAM_UNLIMITED (and anything above it). */
static uint64_t mem_from_libvirt(unsigned long long kib)
{
	return kib >= (unsigned long long)VIR_DOMAIN_MEMORY_PARAM_UNLIMITED ? HV_TUNE_UNLIMITED
									    : kib;
}

int hv_libvirt_get_mem_tune(struct hv *hv, const char *uuid, struct hv_mem_tune *ret)
{
	_cleanup_(connp) virConnectPtr conn = NULL;
	_cleanup_(domp) virDomainPtr dom = NULL;
	_cleanup_(params_freep) struct params tp = { 0 };
	struct hv_mem_tune t = {
		.hard_limit_kib = HV_TUNE_UNLIMITED,
		.soft_limit_kib = HV_TUNE_UNLIMITED,
		.swap_hard_limit_kib = HV_TUNE_UNLIMITED,
	};
	unsigned long long v;
	int r;

	r = hv_libvirt_dom_get(hv, uuid, false, &conn, &dom);
	if (r < 0)
		return r;
	if (virDomainGetMemoryParameters(dom, NULL, &tp.n, VIR_DOMAIN_AFFECT_LIVE) < 0)
		return hv_libvirt_call_error(hv, conn, "cannot count memory parameters");
	if (tp.n <= 0)
		return -EOPNOTSUPP;
	tp.p = calloc((size_t)tp.n, sizeof(*tp.p));
	if (!tp.p)
		return -ENOMEM;
	if (virDomainGetMemoryParameters(dom, tp.p, &tp.n, VIR_DOMAIN_AFFECT_LIVE) < 0)
		return hv_libvirt_call_error(hv, conn, "cannot read memory parameters");

	if (virTypedParamsGetULLong(tp.p, tp.n, VIR_DOMAIN_MEMORY_HARD_LIMIT, &v) == 1)
		t.hard_limit_kib = mem_from_libvirt(v);
	if (virTypedParamsGetULLong(tp.p, tp.n, VIR_DOMAIN_MEMORY_SOFT_LIMIT, &v) == 1)
		t.soft_limit_kib = mem_from_libvirt(v);
	if (virTypedParamsGetULLong(tp.p, tp.n, VIR_DOMAIN_MEMORY_SWAP_HARD_LIMIT, &v) == 1)
		t.swap_hard_limit_kib = mem_from_libvirt(v);
	virResetLastError();
	*ret = t;
	return 0;
}

static int mem_param_add(struct params *tp, const char *name, uint64_t kib)
{
	unsigned long long v;

	if (kib == 0)
		return 0; /* leave unchanged */
	if (kib == HV_TUNE_UNLIMITED)
		v = VIR_DOMAIN_MEMORY_PARAM_UNLIMITED;
	else if (kib >= (uint64_t)VIR_DOMAIN_MEMORY_PARAM_UNLIMITED)
		return -ERANGE;
	else
		v = kib;
	if (virTypedParamsAddULLong(&tp->p, &tp->n, &tp->max, name, v) < 0) {
		virResetLastError();
		return -ENOMEM;
	}
	return 0;
}

int hv_libvirt_set_mem_tune(struct hv *hv, const char *uuid, const struct hv_mem_tune *tune)
{
	_cleanup_(connp) virConnectPtr conn = NULL;
	_cleanup_(domp) virDomainPtr dom = NULL;
	_cleanup_(params_freep) struct params tp = { 0 };
	int r;

	r = mem_param_add(&tp, VIR_DOMAIN_MEMORY_HARD_LIMIT, tune->hard_limit_kib);
	if (r >= 0)
		r = mem_param_add(&tp, VIR_DOMAIN_MEMORY_SOFT_LIMIT, tune->soft_limit_kib);
	if (r >= 0)
		r = mem_param_add(&tp, VIR_DOMAIN_MEMORY_SWAP_HARD_LIMIT,
				  tune->swap_hard_limit_kib);
	if (r < 0)
		return r;
	r = hv_libvirt_dom_get(hv, uuid, true, &conn, &dom);
	if (r < 0 || tp.n == 0)
		return r;
	if (virDomainSetMemoryParameters(dom, tp.p, tp.n, VIR_DOMAIN_AFFECT_LIVE) < 0)
		return hv_libvirt_call_error(hv, conn, "cannot set memory parameters");
	return 0;
}

/* ---- block I/O ----------------------------------------------------------------------------- */

static const char *const block_names[] = {
	VIR_DOMAIN_BLOCK_IOTUNE_TOTAL_BYTES_SEC, VIR_DOMAIN_BLOCK_IOTUNE_READ_BYTES_SEC,
	VIR_DOMAIN_BLOCK_IOTUNE_WRITE_BYTES_SEC, VIR_DOMAIN_BLOCK_IOTUNE_TOTAL_IOPS_SEC,
	VIR_DOMAIN_BLOCK_IOTUNE_READ_IOPS_SEC,	 VIR_DOMAIN_BLOCK_IOTUNE_WRITE_IOPS_SEC,
};

#define NR_BLOCK (sizeof(block_names) / sizeof(block_names[0]))

static const char *const block_max_names[] = {
	VIR_DOMAIN_BLOCK_IOTUNE_TOTAL_BYTES_SEC_MAX, VIR_DOMAIN_BLOCK_IOTUNE_READ_BYTES_SEC_MAX,
	VIR_DOMAIN_BLOCK_IOTUNE_WRITE_BYTES_SEC_MAX, VIR_DOMAIN_BLOCK_IOTUNE_TOTAL_IOPS_SEC_MAX,
	VIR_DOMAIN_BLOCK_IOTUNE_READ_IOPS_SEC_MAX,   VIR_DOMAIN_BLOCK_IOTUNE_WRITE_IOPS_SEC_MAX,
};

/* Reads a disk's iotune parameters; caller frees with virTypedParamsFree. */
static int block_params_get(struct hv *hv, virConnectPtr conn, virDomainPtr dom, const char *disk,
			    virTypedParameterPtr *ret, int *ret_n)
{
	/* the parameters include a string (group_name): say we can take it */
	unsigned flags = VIR_DOMAIN_AFFECT_LIVE | VIR_TYPED_PARAM_STRING_OKAY;
	virTypedParameterPtr params;
	int n = 0, r;

	if (virDomainGetBlockIoTune(dom, disk, NULL, &n, flags) < 0)
		return hv_libvirt_call_error(hv, conn, "cannot count block I/O parameters");
	if (n <= 0)
		return -EOPNOTSUPP;
	params = calloc((size_t)n, sizeof(*params));
	if (!params)
		return -ENOMEM;
	if (virDomainGetBlockIoTune(dom, disk, params, &n, flags) < 0) {
		r = hv_libvirt_call_error(hv, conn, "cannot read block I/O parameters");
		free(params);
		return r;
	}
	*ret = params;
	*ret_n = n;
	return 0;
}

static int block_max_get(struct hv *hv, virConnectPtr conn, virDomainPtr dom, const char *disk,
			 uint64_t ret_max[NR_BLOCK])
{
	virTypedParameterPtr params = NULL;
	unsigned long long v;
	int n = 0, r;

	r = block_params_get(hv, conn, dom, disk, &params, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < NR_BLOCK; i++)
		ret_max[i] =
			virTypedParamsGetULLong(params, n, block_max_names[i], &v) == 1 ? v : 0;
	virTypedParamsFree(params, n);
	virResetLastError();
	return 0;
}

static uint64_t *block_fields(struct hv_block_tune *t, size_t i)
{
	uint64_t *f[] = {
		&t->total_bytes_sec, &t->read_bytes_sec, &t->write_bytes_sec,
		&t->total_iops_sec,  &t->read_iops_sec,	 &t->write_iops_sec,
	};

	return f[i];
}

int hv_libvirt_get_block_tune(struct hv *hv, const char *uuid, const char *disk,
			      struct hv_block_tune *ret)
{
	_cleanup_(connp) virConnectPtr conn = NULL;
	_cleanup_(domp) virDomainPtr dom = NULL;
	virTypedParameterPtr params = NULL;
	struct hv_block_tune t = { 0 };
	unsigned long long v;
	int n = 0, r;

	if (!disk || !*disk)
		return -EINVAL;
	r = hv_libvirt_dom_get(hv, uuid, false, &conn, &dom);
	if (r < 0)
		return r;
	r = block_params_get(hv, conn, dom, disk, &params, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < NR_BLOCK; i++)
		if (virTypedParamsGetULLong(params, n, block_names[i], &v) == 1)
			*block_fields(&t, i) = v;
	virTypedParamsFree(params, n);
	virResetLastError();
	*ret = t;
	return 0;
}

int hv_libvirt_set_block_tune(struct hv *hv, const char *uuid, const char *disk,
			      const struct hv_block_tune *tune)
{
	_cleanup_(connp) virConnectPtr conn = NULL;
	_cleanup_(domp) virDomainPtr dom = NULL;
	_cleanup_(params_freep) struct params tp = { 0 };
	struct hv_block_tune t = *tune;
	uint64_t cur_max[NR_BLOCK];
	int r;

	if (!disk || !*disk)
		return -EINVAL;
	/* QEMU refuses a total together with its read or write part */
	if ((t.total_bytes_sec && (t.read_bytes_sec || t.write_bytes_sec)) ||
	    (t.total_iops_sec && (t.read_iops_sec || t.write_iops_sec)))
		return -EINVAL;
	r = hv_libvirt_dom_get(hv, uuid, true, &conn, &dom);
	if (r < 0)
		return r;
	r = block_max_get(hv, conn, dom, disk, cur_max);
	if (r < 0)
		return r;
	/* all six, so libvirt replaces the disk's values instead of merging them */
	for (size_t i = 0; i < NR_BLOCK; i++) {
		uint64_t v = *block_fields(&t, i);

		if (virTypedParamsAddULLong(&tp.p, &tp.n, &tp.max, block_names[i], v) < 0)
			goto nomem;
		/*
		 * A burst (<..._max>) needs its average and may not be below it:
		 * drop it with its average, raise it to a new average above it.
		 */
		if (cur_max[i] && (v == 0 || v > cur_max[i]) &&
		    virTypedParamsAddULLong(&tp.p, &tp.n, &tp.max, block_max_names[i], v) < 0)
			goto nomem;
	}
	if (virDomainSetBlockIoTune(dom, disk, tp.p, tp.n, VIR_DOMAIN_AFFECT_LIVE) < 0)
		return hv_libvirt_call_error(hv, conn, "cannot set block I/O parameters");
	return 0;
nomem:
	virResetLastError();
	return -ENOMEM;
}

/* ---- block I/O weight ---------------------------------------------------------------------- */

/* libvirt's range for <blkiotune><weight> (it refuses anything else). */
#define BLKIO_WEIGHT_MIN 100
#define BLKIO_WEIGHT_MAX 1000

int hv_libvirt_get_blkio_weight(struct hv *hv, const char *uuid, uint32_t *ret)
{
	_cleanup_(connp) virConnectPtr conn = NULL;
	_cleanup_(domp) virDomainPtr dom = NULL;
	_cleanup_(params_freep) struct params tp = { 0 };
	unsigned flags = VIR_DOMAIN_AFFECT_LIVE;
	unsigned v;
	int r;

	r = hv_libvirt_dom_get(hv, uuid, false, &conn, &dom);
	if (r < 0)
		return r;
	if (virDomainGetBlkioParameters(dom, NULL, &tp.n, flags) < 0) {
		if (!retry_current(dom))
			return hv_libvirt_call_error(hv, conn, "cannot count blkio parameters");
		flags = VIR_DOMAIN_AFFECT_CURRENT;
		if (virDomainGetBlkioParameters(dom, NULL, &tp.n, flags) < 0)
			return hv_libvirt_call_error(hv, conn, "cannot count blkio parameters");
	}
	if (tp.n <= 0)
		return -EOPNOTSUPP;
	tp.p = calloc((size_t)tp.n, sizeof(*tp.p));
	if (!tp.p)
		return -ENOMEM;
	/* the per-device parameters are strings: say we can take them */
	if (virDomainGetBlkioParameters(dom, tp.p, &tp.n, flags | VIR_TYPED_PARAM_STRING_OKAY) < 0)
		return hv_libvirt_call_error(hv, conn, "cannot read blkio parameters");
	r = virTypedParamsGetUInt(tp.p, tp.n, VIR_DOMAIN_BLKIO_WEIGHT, &v);
	virResetLastError();
	if (r != 1)
		return -EOPNOTSUPP; /* no weight: the host's I/O controller has none */
	*ret = v;
	return 0;
}

int hv_libvirt_set_blkio_weight(struct hv *hv, const char *uuid, uint32_t weight)
{
	_cleanup_(connp) virConnectPtr conn = NULL;
	_cleanup_(domp) virDomainPtr dom = NULL;
	_cleanup_(params_freep) struct params tp = { 0 };
	int r;

	if (weight < BLKIO_WEIGHT_MIN || weight > BLKIO_WEIGHT_MAX)
		return -ERANGE;
	if (virTypedParamsAddUInt(&tp.p, &tp.n, &tp.max, VIR_DOMAIN_BLKIO_WEIGHT, weight) < 0) {
		virResetLastError();
		return -ENOMEM;
	}
	r = hv_libvirt_dom_get(hv, uuid, true, &conn, &dom);
	if (r < 0)
		return r;
	if (virDomainSetBlkioParameters(dom, tp.p, tp.n, VIR_DOMAIN_AFFECT_LIVE) < 0 &&
	    (!retry_current(dom) ||
	     virDomainSetBlkioParameters(dom, tp.p, tp.n, VIR_DOMAIN_AFFECT_CURRENT) < 0))
		return hv_libvirt_call_error(hv, conn, "cannot set the blkio weight");
	return 0;
}

/* ---- interface bandwidth ------------------------------------------------------------------- */

static const char *const net_names[] = {
	VIR_DOMAIN_BANDWIDTH_IN_AVERAGE,  VIR_DOMAIN_BANDWIDTH_IN_PEAK,
	VIR_DOMAIN_BANDWIDTH_IN_BURST,	  VIR_DOMAIN_BANDWIDTH_IN_FLOOR,
	VIR_DOMAIN_BANDWIDTH_OUT_AVERAGE, VIR_DOMAIN_BANDWIDTH_OUT_PEAK,
	VIR_DOMAIN_BANDWIDTH_OUT_BURST,
};
#define NET_FLOOR 3 /* index of inbound.floor */

static uint64_t *net_fields(struct hv_net_tune *t, size_t i)
{
	uint64_t *f[] = {
		&t->in_average,	 &t->in_peak,  &t->in_burst,  &t->in_floor,
		&t->out_average, &t->out_peak, &t->out_burst,
	};

	return f[i];
}

int hv_libvirt_get_net_tune(struct hv *hv, const char *uuid, const char *ifname,
			    struct hv_net_tune *ret)
{
	_cleanup_(connp) virConnectPtr conn = NULL;
	_cleanup_(domp) virDomainPtr dom = NULL;
	_cleanup_(params_freep) struct params tp = { 0 };
	struct hv_net_tune t = { 0 };
	unsigned int v;
	int r;

	if (!ifname || !*ifname)
		return -EINVAL;
	r = hv_libvirt_dom_get(hv, uuid, false, &conn, &dom);
	if (r < 0)
		return r;
	if (virDomainGetInterfaceParameters(dom, ifname, NULL, &tp.n, VIR_DOMAIN_AFFECT_LIVE) < 0)
		return hv_libvirt_call_error(hv, conn, "cannot count interface parameters");
	if (tp.n <= 0)
		return -EOPNOTSUPP;
	tp.p = calloc((size_t)tp.n, sizeof(*tp.p));
	if (!tp.p)
		return -ENOMEM;
	if (virDomainGetInterfaceParameters(dom, ifname, tp.p, &tp.n, VIR_DOMAIN_AFFECT_LIVE) < 0)
		return hv_libvirt_call_error(hv, conn, "cannot read interface parameters");
	for (size_t i = 0; i < sizeof(net_names) / sizeof(net_names[0]); i++)
		if (virTypedParamsGetUInt(tp.p, tp.n, net_names[i], &v) == 1)
			*net_fields(&t, i) = v;
	virResetLastError();
	*ret = t;
	return 0;
}

int hv_libvirt_set_net_tune(struct hv *hv, const char *uuid, const char *ifname,
			    const struct hv_net_tune *tune)
{
	_cleanup_(connp) virConnectPtr conn = NULL;
	_cleanup_(domp) virDomainPtr dom = NULL;
	_cleanup_(params_freep) struct params tp = { 0 };
	struct hv_net_tune t = *tune;
	int r;

	if (!ifname || !*ifname)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(net_names) / sizeof(net_names[0]); i++) {
		uint64_t v = *net_fields(&t, i);

		if (v > UINT_MAX)
			return -ERANGE; /* libvirt's parameters are unsigned int */
		/*
		 * A floor is only valid on an interface of a libvirt network with
		 * a <bandwidth> of its own; leave the parameter out unless asked
		 * so every other interface can be shaped.
		 */
		if (i == NET_FLOOR && v == 0)
			continue;
		if (virTypedParamsAddUInt(&tp.p, &tp.n, &tp.max, net_names[i], (unsigned)v) < 0) {
			virResetLastError();
			return -ENOMEM;
		}
	}
	r = hv_libvirt_dom_get(hv, uuid, true, &conn, &dom);
	if (r < 0)
		return r;
	if (virDomainSetInterfaceParameters(dom, ifname, tp.p, tp.n, VIR_DOMAIN_AFFECT_LIVE) < 0)
		return hv_libvirt_call_error(hv, conn, "cannot set interface parameters");
	return 0;
}
