// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A window on the libvirt plugin for tests and humans: prints what list_vms,
 * get_stats and get_cpu_tune return, one "key value" line each, optionally
 * sets a VM's CPU tuning first, and with --watch prints every event for a
 * while (to watch a reconnect across a libvirtd restart).
 *
 *   plugin-libvirt-dump [--uri URI] [--set UUID PERIOD_US QUOTA_US SHARES]
 *                       [--watch SECONDS] [--proc-root DIR] [--pid-dir DIR]
 *
 * --pid-dir "" skips libvirt's pid files, so the /proc scan alone finds QEMU.
 * --bench N times N calls of list_vms and of get_stats and prints
 * "BENCH <name> <value> <unit>" lines (wall and this process's CPU time).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "hv-libvirt.h"
#include "log.h"
#include "util.h"

static const char *const event_names[HV_NR_EVENTS] = {
	[HV_EVENT_VM_STARTED] = "started",	  [HV_EVENT_VM_STOPPED] = "stopped",
	[HV_EVENT_VM_CHANGED] = "changed",	  [HV_EVENT_CONNECTED] = "connected",
	[HV_EVENT_DISCONNECTED] = "disconnected",
};

static void on_event(const struct hv_event *ev, void *userdata)
{
	/* one write per line: the manager thread prints too */
	printf("event %s %s %s\n", event_names[ev->type], ev->uuid[0] ? ev->uuid : "-",
	       ev->name[0] ? ev->name : "-");
	fflush(stdout);
}

static void print_u64(const char *key, const char *uuid, uint64_t v)
{
	if (v == HV_STAT_ABSENT)
		printf("stat %s %s absent\n", uuid, key);
	else
		printf("stat %s %s %" PRIu64 "\n", uuid, key, v);
}

static int dump(struct hv *hv)
{
	struct hv_vm *vms = NULL;
	struct hv_vm_stats *st = NULL;
	size_t n = 0;
	int r;

	r = hv_libvirt_ops.list_vms(hv, &vms, &n);
	if (r < 0) {
		printf("list_vms error %d %s\n", r, hv_libvirt_last_error());
		return r;
	}
	printf("vms %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		const struct hv_vm *v = &vms[i];
		struct hv_cpu_tune t;

		printf("vm %s name %s\n", v->uuid, v->name);
		printf("vm %s state %d\n", v->uuid, (int)v->state);
		printf("vm %s pid %d\n", v->uuid, (int)v->qemu_pid);
		printf("vm %s vcpus %u/%u\n", v->uuid, v->nr_vcpus, v->max_vcpus);
		for (uint32_t k = 0; k < v->nr_vcpu_tids; k++)
			printf("vm %s vcpu_tid %u %d\n", v->uuid, k, (int)v->vcpu_tids[k]);
		printf("vm %s memory_kib %" PRIu64 "/%" PRIu64 "\n", v->uuid, v->memory_kib,
		       v->max_memory_kib);
		for (uint32_t k = 0; k < v->nr_taps; k++)
			printf("vm %s tap %s\n", v->uuid, v->taps[k]);
		for (uint32_t k = 0; k < v->nr_disks; k++)
			printf("vm %s disk %s\n", v->uuid, v->disks[k]);
		printf("vm %s cgroup_v2 %s\n", v->uuid, v->cgroup_v2[0] ? v->cgroup_v2 : "-");
		printf("vm %s cgroup_cpu %s\n", v->uuid, v->cgroup_cpu[0] ? v->cgroup_cpu : "-");
		printf("vm %s cgroup_memory %s\n", v->uuid,
		       v->cgroup_memory[0] ? v->cgroup_memory : "-");
		r = hv_libvirt_ops.get_cpu_tune(hv, v->uuid, &t);
		if (r == 0)
			printf("vm %s tune %" PRIu64 " %" PRId64 " %" PRIu64 "\n", v->uuid,
			       t.period_us, t.quota_us, t.shares);
		else
			printf("vm %s tune error %d %s\n", v->uuid, r, hv_libvirt_last_error());
	}
	free(vms);

	r = hv_libvirt_ops.get_stats(hv, &st, &n);
	if (r < 0) {
		printf("get_stats error %d %s\n", r, hv_libvirt_last_error());
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		const struct hv_vm_stats *s = &st[i];

		print_u64("cpu_time_ns", s->uuid, s->cpu_time_ns);
		print_u64("vcpu_delay_ns", s->uuid, s->vcpu_delay_ns);
		print_u64("balloon_rss_kib", s->uuid, s->balloon_rss_kib);
		print_u64("balloon_current_kib", s->uuid, s->balloon_current_kib);
		print_u64("block_rd_bytes", s->uuid, s->block_rd_bytes);
		print_u64("block_wr_bytes", s->uuid, s->block_wr_bytes);
		print_u64("net_rx_bytes", s->uuid, s->net_rx_bytes);
		print_u64("net_tx_bytes", s->uuid, s->net_tx_bytes);
		print_u64("net_rx_pkts", s->uuid, s->net_rx_pkts);
		print_u64("net_tx_pkts", s->uuid, s->net_tx_pkts);
	}
	free(st);
	fflush(stdout);
	return 0;
}

static uint64_t cpu_usec(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * USEC_PER_SEC +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void bench(struct hv *hv, unsigned n)
{
	for (int which = 0; which < 2; which++) {
		uint64_t t0 = util_now_usec(), c0 = cpu_usec();
		const char *name = which == 0 ? "list_vms" : "get_stats";
		unsigned ok = 0;

		for (unsigned i = 0; i < n; i++) {
			void *p = NULL;
			size_t k;
			int r = which == 0 ? hv_libvirt_ops.list_vms(hv, (struct hv_vm **)&p, &k)
					   : hv_libvirt_ops.get_stats(hv, (struct hv_vm_stats **)&p,
								      &k);

			ok += r == 0;
			free(p);
		}
		printf("BENCH plugin_libvirt_%s_wall %.1f usec\n", name,
		       (double)(util_now_usec() - t0) / n);
		printf("BENCH plugin_libvirt_%s_cpu %.1f usec\n", name,
		       (double)(cpu_usec() - c0) / n);
		printf("BENCH plugin_libvirt_%s_ok %u calls\n", name, ok);
	}
}

int main(int argc, char **argv)
{
	struct hv_config cfg = { .reconnect_delay_ms = 500, .keepalive_interval_sec = 1 };
	const char *set_uuid = NULL;
	struct hv_cpu_tune set = { 0 };
	struct hv_libvirt_opts opts = { 0 };
	unsigned watch_sec = 0, bench_n = 0;
	struct hv *hv;
	int r;

	if (getenv("PRESCIENT_TEST_DEBUG"))
		log_set_max_level(LOG_DEBUG);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--uri") == 0 && i + 1 < argc) {
			cfg.uri = argv[++i];
		} else if (strcmp(argv[i], "--set") == 0 && i + 4 < argc) {
			set_uuid = argv[++i];
			set.period_us = strtoull(argv[++i], NULL, 10);
			set.quota_us = strtoll(argv[++i], NULL, 10);
			set.shares = strtoull(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--proc-root") == 0 && i + 1 < argc) {
			opts.proc_root = argv[++i];
		} else if (strcmp(argv[i], "--pid-dir") == 0 && i + 1 < argc) {
			opts.pid_dir = argv[++i];
		} else if (strcmp(argv[i], "--bench") == 0 && i + 1 < argc) {
			bench_n = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--watch") == 0 && i + 1 < argc) {
			watch_sec = (unsigned)strtoul(argv[++i], NULL, 10);
		} else {
			fprintf(stderr,
				"usage: %s [--uri URI] [--set UUID PERIOD_US QUOTA_US SHARES] "
				"[--watch SECONDS] [--proc-root DIR] [--pid-dir DIR] [--bench N]\n",
				argv[0]);
			return 2;
		}
	}

	r = hv_libvirt_open(&cfg, &opts, on_event, NULL, &hv);
	if (r < 0) {
		fprintf(stderr, "open: %s (%s)\n", strerror(-r), hv_libvirt_last_error());
		return 1;
	}
	printf("connected %d\n", hv_libvirt_ops.connected(hv));
	if (set_uuid) {
		r = hv_libvirt_ops.set_cpu_tune(hv, set_uuid, &set);
		printf("set_cpu_tune %d %s\n", r, r < 0 ? hv_libvirt_last_error() : "");
	}
	r = dump(hv);
	if (bench_n)
		bench(hv, bench_n);

	/* while watching, list once a second so the output shows the resync */
	for (unsigned i = 0; i < watch_sec * 2; i++) {
		usleep(500 * 1000);
		if (i % 2 == 1) {
			printf("connected %d\n", hv_libvirt_ops.connected(hv));
			(void)dump(hv);
		}
	}
	hv_libvirt_ops.close(hv);
	return r < 0 ? 1 : 0;
}
