// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Cost of collect_sample() per VM per tick on fixture trees: N fake VMs, each
 * with its own cgroup copied from tests/fixtures/cgroup (v2-only, v1-only and
 * hybrid layouts) and two vCPU threads' schedstat, sampled many times. Counts
 * the process's CPU time (not wall time, which a shared machine inflates)
 * and reports the median of several rounds:
 *   BENCH collect_us_per_vm <us> us          (v2, the production layout)
 *   BENCH collect_us_per_vm_v1 <us> us
 *   BENCH collect_us_per_vm_hybrid <us> us
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collect.h"

#define N_VMS	 100
#define N_TICKS	 50
#define N_ROUNDS 7

static char tmp_root[128];

static void run(const char *cmd)
{
	if (system(cmd) != 0) {
		fprintf(stderr, "command failed: %s\n", cmd);
		exit(1);
	}
}

static double cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Copies the layout and clones its one VM group (name) N_VMS times as vm0..
 * in each parent folder listed.
 */
static void make_tree(const char *layout, const char *const *parents, size_t n, const char *name)
{
	const char *src = getenv("PRESCIENT_SOURCE_ROOT");
	char cmd[2048];

	snprintf(cmd, sizeof(cmd),
		 "rm -rf '%1$s/cg' '%1$s/proc' && cp -a '%2$s/tests/fixtures/cgroup/%3$s' "
		 "'%1$s/cg' && cp -a '%2$s/tests/fixtures/cgroup/proc' '%1$s/proc'",
		 tmp_root, src ? src : ".", layout);
	run(cmd);
	for (size_t d = 0; d < n; d++) {
		snprintf(cmd, sizeof(cmd),
			 "cd '%s/cg/%s' && for i in $(seq 0 %d); do cp -a '%s' vm$i; done",
			 tmp_root, parents[d], N_VMS - 1, name);
		run(cmd);
	}
}

/* v2_prefix / v1_prefix: the VMs' parent group in each tree, NULL when not used. */
static double bench(const char *layout, const char *const *parents, size_t n, const char *name,
		    const char *v2_prefix, const char *v1_prefix)
{
	static struct hv_vm vms[N_VMS];
	static struct collect_sample samples[N_VMS];
	double rounds[N_ROUNDS];
	char cg[256], proc[256];
	struct collect_config cfg = { .cgroup_root = cg, .proc_root = proc };
	struct collect *c;
	uint64_t t = 1000000;

	make_tree(layout, parents, n, name);
	snprintf(cg, sizeof(cg), "%s/cg", tmp_root);
	snprintf(proc, sizeof(proc), "%s/proc", tmp_root);
	memset(vms, 0, sizeof(vms));
	for (int i = 0; i < N_VMS; i++) {
		struct hv_vm *vm = &vms[i];

		snprintf(vm->uuid, sizeof(vm->uuid), "00000000-0000-0000-0000-%012d", i);
		snprintf(vm->name, sizeof(vm->name), "vm%d", i);
		vm->qemu_pid = 4242;
		vm->nr_vcpu_tids = 2;
		vm->vcpu_tids[0] = 4243;
		vm->vcpu_tids[1] = 4244;
		if (v2_prefix)
			snprintf(vm->cgroup_v2, sizeof(vm->cgroup_v2), "%s/vm%d", v2_prefix, i);
		if (v1_prefix) {
			snprintf(vm->cgroup_cpu, sizeof(vm->cgroup_cpu), "%s/vm%d", v1_prefix, i);
			snprintf(vm->cgroup_memory, sizeof(vm->cgroup_memory), "%s/vm%d", v1_prefix,
				 i);
		}
	}
	if (collect_new(&cfg, &c) < 0)
		exit(1);
	for (int r = 0; r < N_ROUNDS; r++) {
		double t0 = cpu_us();

		for (int k = 0; k < N_TICKS; k++) {
			if (collect_sample(c, vms, N_VMS, NULL, 0, t, samples) < 0)
				exit(1);
			t += 1000000;
		}
		rounds[r] = (cpu_us() - t0) / N_TICKS / N_VMS;
	}
	/* Make sure the benchmark measured real reads, not early exits. */
	if (!(samples[N_VMS - 1].mem_bytes > 0) || !(samples[N_VMS - 1].cpu_cores >= 0)) {
		fprintf(stderr, "bench: layout %s read nothing\n", layout);
		exit(1);
	}
	collect_free(c);
	qsort(rounds, N_ROUNDS, sizeof(rounds[0]), cmp_double);
	return rounds[N_ROUNDS / 2];
}

int main(void)
{
	static const char *const v2_parents[] = { "machine.slice/machine-qemu-1-vm1.scope" };
	static const char *const v1_parents[] = { "cpu,cpuacct/machine", "memory/machine",
						  "blkio/machine" };
	static const char *const hybrid_parents[] = { "unified/machine", "cpu,cpuacct/machine",
						      "memory/machine", "blkio/machine" };
	const char *v1_name = "qemu-1-vm1.libvirt-qemu";
	char cmd[256];
	double us;

	snprintf(tmp_root, sizeof(tmp_root), "/tmp/prescient-bench-collect-XXXXXX");
	if (!mkdtemp(tmp_root))
		return 1;
	us = bench("v2", v2_parents, 1, "libvirt", "/machine.slice/machine-qemu-1-vm1.scope", NULL);
	printf("BENCH collect_us_per_vm %.2f us\n", us);
	us = bench("v1", v1_parents, 3, v1_name, NULL, "/machine");
	printf("BENCH collect_us_per_vm_v1 %.2f us\n", us);
	us = bench("hybrid", hybrid_parents, 4, v1_name, "/machine", "/machine");
	printf("BENCH collect_us_per_vm_hybrid %.2f us\n", us);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
	run(cmd);
	return 0;
}
