// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Drives enforce_*_apply() through the real libvirt plugin, for
 * tests/integration/test-enforce-libvirt.sh, and prints what the plugin
 * reads back. One command per run, against the VM named NAME:
 *
 *   enforce-libvirt-tool [--uri URI] [--dry-run] NAME pin CORES EFFECTIVE
 *   enforce-libvirt-tool ... NAME mem SOFT_BYTES HARD_BYTES   ("max" = unlimited)
 *   enforce-libvirt-tool ... NAME block DISK BYTES_PER_SEC
 *   enforce-libvirt-tool ... NAME net IFNAME GUARANTEE_BPS LIMIT_BPS
 *   enforce-libvirt-tool ... NAME weight BLKIO_WEIGHT
 *   enforce-libvirt-tool ... NAME show [DISK IFNAME]
 *
 * Prints "result <r>" (the apply's return value) and exits 0 when r >= 0.
 * "show" prints one "key value" line per value read through the plugin.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enforce.h"
#include "hv-libvirt.h"
#include "log.h"

static uint64_t parse_u64(const char *s)
{
	char *end;
	unsigned long long v;

	if (strcmp(s, "max") == 0)
		return UINT64_MAX;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || end == s) {
		fprintf(stderr, "not a number: %s\n", s);
		exit(2);
	}
	return v;
}

static void on_event(const struct hv_event *ev, void *userdata)
{
}

static void print_map(const char *key, const struct hv_cpumap *m)
{
	printf("%s", key);
	for (uint32_t c = 0; c < HV_CPUMAP_WORDS * 64; c++)
		if (hv_cpumap_test(m, c))
			printf(" %u", c);
	printf("\n");
}

static int show(const struct hv_ops *ops, struct hv *hv, const struct hv_vm *vm, const char *disk,
		const char *ifname)
{
	static struct hv_pinning p;
	struct hv_mem_tune mt;
	struct hv_block_tune bt;
	struct hv_net_tune nt;
	int r;

	r = ops->get_pinning(hv, vm->uuid, &p);
	printf("get_pinning %d\n", r);
	if (r >= 0) {
		printf("n_vcpus %u\n", p.n_vcpus);
		for (uint32_t i = 0; i < p.n_vcpus; i++) {
			char key[32];

			snprintf(key, sizeof(key), "vcpu%u", i);
			print_map(key, &p.vcpu[i]);
		}
		print_map("emulator", &p.emulator);
	}
	uint32_t w = 0;

	r = ops->get_blkio_weight(hv, vm->uuid, &w);
	printf("get_blkio_weight %d\n", r);
	if (r >= 0)
		printf("blkio_weight %" PRIu32 "\n", w);
	r = ops->get_mem_tune(hv, vm->uuid, &mt);
	printf("get_mem_tune %d\n", r);
	if (r >= 0)
		printf("hard_limit_kib %" PRIu64 "\nsoft_limit_kib %" PRIu64
		       "\nswap_hard_limit_kib %" PRIu64 "\n",
		       mt.hard_limit_kib, mt.soft_limit_kib, mt.swap_hard_limit_kib);
	if (disk) {
		r = ops->get_block_tune(hv, vm->uuid, disk, &bt);
		printf("get_block_tune %d\n", r);
		if (r >= 0)
			printf("total_bytes_sec %" PRIu64 "\nread_bytes_sec %" PRIu64
			       "\nwrite_bytes_sec %" PRIu64 "\ntotal_iops_sec %" PRIu64 "\n",
			       bt.total_bytes_sec, bt.read_bytes_sec, bt.write_bytes_sec,
			       bt.total_iops_sec);
	}
	if (ifname) {
		r = ops->get_net_tune(hv, vm->uuid, ifname, &nt);
		printf("get_net_tune %d\n", r);
		if (r >= 0)
			printf("in_average %" PRIu64 "\nin_peak %" PRIu64 "\nin_burst %" PRIu64
			       "\nin_floor %" PRIu64 "\nout_average %" PRIu64 "\n",
			       nt.in_average, nt.in_peak, nt.in_burst, nt.in_floor, nt.out_average);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct hv_ops *ops = &hv_libvirt_ops;
	struct hv_config cfg = { .uri = "qemu:///system" };
	struct hv *hv = NULL;
	struct hv_vm *vms = NULL, *vm = NULL;
	bool dry_run = false;
	size_t n = 0;
	int i = 1, r;

	log_setup("enforce-libvirt-tool", LOG_TARGET_STDERR);
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--uri") == 0 && i + 1 < argc)
			cfg.uri = argv[++i];
		else if (strcmp(argv[i], "--dry-run") == 0)
			dry_run = true;
		else
			break;
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: see the comment at the top of enforce-libvirt-tool.c\n");
		return 2;
	}
	const char *name = argv[i], *cmd = argv[i + 1];
	char **a = argv + i + 2;
	int na = argc - i - 2;

	r = ops->open(&cfg, on_event, NULL, &hv);
	if (r < 0) {
		fprintf(stderr, "cannot open %s: %s (%s)\n", cfg.uri, strerror(-r),
			hv_libvirt_last_error());
		return 1;
	}
	r = ops->list_vms(hv, &vms, &n);
	for (size_t k = 0; r >= 0 && k < n; k++)
		if (strcmp(vms[k].name, name) == 0)
			vm = &vms[k];
	if (!vm) {
		fprintf(stderr, "no running VM %s\n", name);
		ops->close(hv);
		free(vms);
		return 1;
	}

	if (strcmp(cmd, "pin") == 0 && na == 2) {
		struct enforce_cpuset cores, eff;

		if (enforce_cpuset_parse(a[0], &cores) < 0 ||
		    enforce_cpuset_parse(a[1], &eff) < 0) {
			fprintf(stderr, "bad CPU list\n");
			return 2;
		}
		r = enforce_pin_apply(ops, hv, vm, &cores, &eff, dry_run);
	} else if (strcmp(cmd, "mem") == 0 && na == 2) {
		r = enforce_mem_tune_apply(ops, hv, vm, parse_u64(a[0]), parse_u64(a[1]), dry_run);
	} else if (strcmp(cmd, "block") == 0 && na == 2) {
		r = enforce_block_apply(ops, hv, vm, a[0], parse_u64(a[1]), dry_run);
	} else if (strcmp(cmd, "net") == 0 && na == 3) {
		r = enforce_net_apply(ops, hv, vm, a[0], parse_u64(a[1]), parse_u64(a[2]), dry_run);
	} else if (strcmp(cmd, "weight") == 0 && na == 1) {
		uint64_t w = parse_u64(a[0]);

		r = enforce_blkio_weight_apply(ops, hv, vm, w > UINT32_MAX ? 0 : (uint32_t)w,
					       dry_run);
	} else if (strcmp(cmd, "show") == 0 && (na == 0 || na == 2)) {
		r = show(ops, hv, vm, na ? a[0] : NULL, na ? a[1] : NULL);
	} else {
		fprintf(stderr, "unknown command or wrong arguments: %s\n", cmd);
		r = -EINVAL;
	}
	printf("result %d\n", r);
	if (r < 0)
		fprintf(stderr, "%s: %s (%s)\n", cmd, strerror(-r), hv_libvirt_last_error());
	free(vms);
	ops->close(hv);
	return r < 0 ? 1 : 0;
}
