// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Bulk statistics records into struct hv_vm_stats: sums over vCPUs, NICs
 * and disks, absent groups stay HV_STAT_ABSENT, odd parameters are ignored.
 */
#include <string.h>

#include <libvirt/libvirt.h>

#include "hv-libvirt.h"
#include "tap.h"

static void ull(virTypedParameter *p, const char *field, unsigned long long v)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->field, sizeof(p->field), "%s", field);
	p->type = VIR_TYPED_PARAM_ULLONG;
	p->value.ul = v;
}

static void test_full(void)
{
	virTypedParameter p[32];
	struct hv_vm_stats s;
	int n = 0;

	memset(&s, 0, sizeof(s));
	snprintf(s.uuid, sizeof(s.uuid), "keep-me");
	ull(&p[n++], "state.state", 1);
	ull(&p[n++], "cpu.time", 123456789);
	ull(&p[n++], "cpu.user", 1);
	ull(&p[n++], "balloon.current", 2097152);
	ull(&p[n++], "balloon.rss", 900000);
	ull(&p[n++], "vcpu.current", 2);
	ull(&p[n++], "vcpu.0.time", 50);
	ull(&p[n++], "vcpu.0.delay", 1000);
	ull(&p[n++], "vcpu.1.delay", 2500);
	ull(&p[n++], "net.count", 2);
	ull(&p[n++], "net.0.rx.bytes", 100);
	ull(&p[n++], "net.1.rx.bytes", 23);
	ull(&p[n++], "net.0.tx.bytes", 7);
	ull(&p[n++], "net.0.rx.pkts", 3);
	ull(&p[n++], "net.0.tx.drop", 1);
	ull(&p[n++], "block.count", 2);
	ull(&p[n++], "block.0.rd.bytes", 4096);
	ull(&p[n++], "block.1.rd.bytes", 512);
	ull(&p[n++], "block.0.wr.reqs", 9);
	/* not counters we sum: a name, an allocation, a string-typed value */
	ull(&p[n++], "block.0.allocation", 1ULL << 40);
	ull(&p[n++], "net.rx.bytes", 99999);
	ull(&p[n++], "net.x.rx.bytes", 99999);
	memset(&p[n], 0, sizeof(p[n]));
	snprintf(p[n].field, sizeof(p[n].field), "block.0.name");
	p[n].type = VIR_TYPED_PARAM_STRING;
	p[n++].value.s = (char *)"vda";

	hv_stats_from_params(p, n, &s);
	check_str_eq(s.uuid, "keep-me");
	check_int_eq(s.cpu_time_ns, 123456789);
	check_int_eq(s.balloon_current_kib, 2097152);
	check_int_eq(s.balloon_rss_kib, 900000);
	check(s.balloon_available_kib == HV_STAT_ABSENT);
	check(s.balloon_unused_kib == HV_STAT_ABSENT);
	check_int_eq(s.vcpu_delay_ns, 3500);
	check_int_eq(s.net_rx_bytes, 123);
	check_int_eq(s.net_tx_bytes, 7);
	check_int_eq(s.net_rx_pkts, 3);
	check(s.net_tx_pkts == HV_STAT_ABSENT);
	check(s.net_rx_drop == HV_STAT_ABSENT);
	check_int_eq(s.net_tx_drop, 1);
	check_int_eq(s.block_rd_bytes, 4608);
	check(s.block_wr_bytes == HV_STAT_ABSENT);
	check(s.block_rd_reqs == HV_STAT_ABSENT);
	check_int_eq(s.block_wr_reqs, 9);
}

static void test_empty_and_negative(void)
{
	virTypedParameter p[2];
	struct hv_vm_stats s;

	memset(&s, 0, sizeof(s));
	hv_stats_from_params(NULL, 0, &s);
	check(s.cpu_time_ns == HV_STAT_ABSENT);
	check(s.vcpu_delay_ns == HV_STAT_ABSENT);
	check(s.net_rx_bytes == HV_STAT_ABSENT);
	check(s.block_wr_reqs == HV_STAT_ABSENT);

	memset(p, 0, sizeof(p));
	snprintf(p[0].field, sizeof(p[0].field), "cpu.time");
	p[0].type = VIR_TYPED_PARAM_LLONG;
	p[0].value.l = -5;
	snprintf(p[1].field, sizeof(p[1].field), "vcpu.0.delay");
	p[1].type = VIR_TYPED_PARAM_ULLONG;
	p[1].value.ul = UINT64_MAX;
	hv_stats_from_params(p, 2, &s);
	check(s.cpu_time_ns == HV_STAT_ABSENT);
	/* a sum never turns into the absent marker */
	check(s.vcpu_delay_ns == HV_STAT_ABSENT - 1);
}

int main(void)
{
	test_full();
	test_empty_and_negative();
	return test_result();
}
