// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Turns one record of libvirt's bulk statistics into struct hv_vm_stats.
 *
 * Parameter names are documented with virConnectGetAllDomainStats:
 * cpu.time (ns), balloon.{rss,current,available,unused} (KiB),
 * vcpu.<n>.delay (ns runnable but waiting for a host CPU), net.<n>.{rx,tx}.
 * {bytes,pkts,drop} and block.<n>.{rd,wr}.{bytes,reqs}.
 *
 * Network direction: for tap-based interfaces (network, bridge, ethernet)
 * libvirt swaps the host's counters of the tap (virNetDevTapInterfaceStats
 * with "swapped" when the type does not share the host's view), so
 * net.<n>.rx.* is what the guest received. We report them as they come:
 * net_rx_* = guest inbound, net_tx_* = guest outbound, as hv.h says.
 *
 * Block: without VIR_CONNECT_GET_ALL_DOMAINS_STATS_BACKING libvirt reports
 * only the top image of each disk, so summing block.<n> counts every guest
 * I/O once.
 */
#include <stdlib.h>
#include <string.h>

#include "hv-libvirt.h"

static bool param_u64(const virTypedParameter *p, uint64_t *ret)
{
	switch (p->type) {
	case VIR_TYPED_PARAM_ULLONG:
		*ret = p->value.ul;
		return true;
	case VIR_TYPED_PARAM_LLONG:
		if (p->value.l < 0)
			return false;
		*ret = (uint64_t)p->value.l;
		return true;
	case VIR_TYPED_PARAM_UINT:
		*ret = p->value.ui;
		return true;
	case VIR_TYPED_PARAM_INT:
		if (p->value.i < 0)
			return false;
		*ret = (uint64_t)p->value.i;
		return true;
	default:
		return false;
	}
}

/* Adds v to a counter that starts absent. */
static void stat_add(uint64_t *dst, uint64_t v)
{
	if (*dst == HV_STAT_ABSENT)
		*dst = 0;
	*dst += v;
	/* never let a sum wrap into the "absent" marker */
	if (*dst == HV_STAT_ABSENT)
		*dst = HV_STAT_ABSENT - 1;
}

/*
 * For "<group>.<n>.<rest>" returns rest, or NULL when name is not of that
 * form (e.g. "net.count", "vcpu.current", "block.0.name").
 */
static const char *indexed_suffix(const char *name, const char *group)
{
	size_t glen = strlen(group);
	const char *p;

	if (strncmp(name, group, glen) != 0 || name[glen] != '.')
		return NULL;
	p = name + glen + 1;
	if (*p < '0' || *p > '9')
		return NULL;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p != '.')
		return NULL;
	return p + 1;
}

void hv_stats_from_params(const virTypedParameter *params, int n, struct hv_vm_stats *ret)
{
	static const struct {
		const char *group, *suffix;
		size_t offset;
	} summed[] = {
		{ "vcpu", "delay", offsetof(struct hv_vm_stats, vcpu_delay_ns) },
		{ "net", "rx.bytes", offsetof(struct hv_vm_stats, net_rx_bytes) },
		{ "net", "tx.bytes", offsetof(struct hv_vm_stats, net_tx_bytes) },
		{ "net", "rx.pkts", offsetof(struct hv_vm_stats, net_rx_pkts) },
		{ "net", "tx.pkts", offsetof(struct hv_vm_stats, net_tx_pkts) },
		{ "net", "rx.drop", offsetof(struct hv_vm_stats, net_rx_drop) },
		{ "net", "tx.drop", offsetof(struct hv_vm_stats, net_tx_drop) },
		{ "block", "rd.bytes", offsetof(struct hv_vm_stats, block_rd_bytes) },
		{ "block", "wr.bytes", offsetof(struct hv_vm_stats, block_wr_bytes) },
		{ "block", "rd.reqs", offsetof(struct hv_vm_stats, block_rd_reqs) },
		{ "block", "wr.reqs", offsetof(struct hv_vm_stats, block_wr_reqs) },
	};
	static const struct {
		const char *name;
		size_t offset;
	} single[] = {
		{ "cpu.time", offsetof(struct hv_vm_stats, cpu_time_ns) },
		{ "balloon.rss", offsetof(struct hv_vm_stats, balloon_rss_kib) },
		{ "balloon.current", offsetof(struct hv_vm_stats, balloon_current_kib) },
		{ "balloon.available", offsetof(struct hv_vm_stats, balloon_available_kib) },
		{ "balloon.unused", offsetof(struct hv_vm_stats, balloon_unused_kib) },
	};
	struct hv_vm_stats s;

	memcpy(s.uuid, ret->uuid, sizeof(s.uuid));
	s.cpu_time_ns = s.vcpu_delay_ns = HV_STAT_ABSENT;
	s.balloon_rss_kib = s.balloon_current_kib = HV_STAT_ABSENT;
	s.balloon_available_kib = s.balloon_unused_kib = HV_STAT_ABSENT;
	s.block_rd_bytes = s.block_wr_bytes = s.block_rd_reqs = s.block_wr_reqs = HV_STAT_ABSENT;
	s.net_rx_bytes = s.net_tx_bytes = s.net_rx_pkts = s.net_tx_pkts = HV_STAT_ABSENT;
	s.net_rx_drop = s.net_tx_drop = HV_STAT_ABSENT;

	for (int i = 0; params && i < n; i++) {
		const virTypedParameter *p = &params[i];
		uint64_t v;
		bool done = false;

		if (!param_u64(p, &v))
			continue;
		for (size_t k = 0; !done && k < sizeof(single) / sizeof(single[0]); k++) {
			if (strcmp(p->field, single[k].name) == 0) {
				*(uint64_t *)((char *)&s + single[k].offset) = v;
				done = true;
			}
		}
		for (size_t k = 0; !done && k < sizeof(summed) / sizeof(summed[0]); k++) {
			const char *rest = indexed_suffix(p->field, summed[k].group);

			if (rest && strcmp(rest, summed[k].suffix) == 0) {
				stat_add((uint64_t *)((char *)&s + summed[k].offset), v);
				done = true;
			}
		}
	}
	*ret = s;
}
