// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The collector against the real kernel's cgroups: a child that touches a
 * known amount of memory and burns CPU at a known duty cycle runs in fresh
 * cgroups (v1 cpuacct and memory, and the v2 unified tree), and collect must
 * report its CPU use through v2 (one "VM") and through v1 (another "VM" with
 * only v1 paths). The reference is the child's own on-CPU time from
 * /proc/<pid>/schedstat over the same interval, so the check holds on a
 * loaded machine; the duty cycle itself is checked loosely. Needs root;
 * exits 77 otherwise or when the host has no usable hierarchy.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collect.h"
#include "tap.h"
#include "util.h"

#define CG     "/sys/fs/cgroup"
#define MEM_MB 64

static char v2_dir[256], v1_cpu_dir[256], v1_mem_dir[256], rel[64];
static pid_t child = -1;

static bool exists(const char *p)
{
	return access(p, F_OK) == 0;
}

static void cleanup(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = -1;
	}
	/* A cgroup that just lost its last task may briefly refuse rmdir. */
	for (int i = 0; i < 50; i++) {
		bool busy = false;

		if (v2_dir[0] && rmdir(v2_dir) < 0 && errno != ENOENT)
			busy = true;
		if (v1_cpu_dir[0] && rmdir(v1_cpu_dir) < 0 && errno != ENOENT)
			busy = true;
		if (v1_mem_dir[0] && rmdir(v1_mem_dir) < 0 && errno != ENOENT)
			busy = true;
		if (!busy)
			break;
		usleep(20000);
	}
}

static void join(const char *dir, pid_t pid)
{
	char path[512], num[32];
	int r;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(num, sizeof(num), "%d", (int)pid);
	r = util_file_write_string(path, num);
	if (r < 0) {
		fprintf(stderr, "cannot move %d to %s: %s\n", (int)pid, dir, strerror(-r));
		cleanup();
		exit(1);
	}
}

static uint64_t run_ns(pid_t pid)
{
	char path[64], buf[128];
	unsigned long long run = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f) || sscanf(buf, "%llu", &run) != 1)
		run = 0;
	if (f)
		fclose(f);
	return run;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Touches MEM_MB MiB, then runs 5 ms and sleeps 5 ms, forever: a 50% duty cycle. */
static void burner(int go_fd)
{
	char c;
	volatile char *mem;

	if (read(go_fd, &c, 1) != 1)
		_exit(1);
	mem = malloc(MEM_MB << 20);
	if (!mem)
		_exit(1);
	for (size_t i = 0; i < (size_t)MEM_MB << 20; i += 4096)
		mem[i] = 1;
	for (;;) {
		uint64_t end = mono_ns() + 5000000;
		struct timespec pause = { 0, 5000000 };

		while (mono_ns() < end)
			;
		nanosleep(&pause, NULL);
	}
}

static void vm_init(struct hv_vm *vm, const char *uuid, pid_t pid)
{
	memset(vm, 0, sizeof(*vm));
	snprintf(vm->uuid, sizeof(vm->uuid), "%s", uuid);
	snprintf(vm->name, sizeof(vm->name), "burner-%.4s", uuid);
	vm->qemu_pid = pid;
	vm->nr_vcpu_tids = 1;
	vm->vcpu_tids[0] = pid;
}

int main(void)
{
	struct collect_config cfg = { .cgroup_root = NULL, .proc_root = NULL };
	struct collect_sample s[2];
	struct hv_vm vms[2];
	struct collect *c = NULL, *c1 = NULL;
	uint64_t t0, t1, run0, run1;
	double truth;
	int go[2];

	if (geteuid() != 0)
		test_skip("needs root to create cgroups");
	if (exists(CG "/unified/cgroup.controllers"))
		snprintf(v2_dir, sizeof(v2_dir), CG "/unified");
	else if (exists(CG "/cgroup.controllers"))
		snprintf(v2_dir, sizeof(v2_dir), CG);
	if (!v2_dir[0] || !exists(CG "/cpuacct/cpuacct.usage") || !exists(CG "/memory/memory.stat"))
		test_skip(
			"needs cgroup v2 and the v1 cpuacct and memory hierarchies (hybrid host)");

	snprintf(rel, sizeof(rel), "/prescient-test-collect-%d", (int)getpid());
	strcat(v2_dir, rel);
	snprintf(v1_cpu_dir, sizeof(v1_cpu_dir), CG "/cpuacct%s", rel);
	snprintf(v1_mem_dir, sizeof(v1_mem_dir), CG "/memory%s", rel);
	if (mkdir(v2_dir, 0755) < 0 || mkdir(v1_cpu_dir, 0755) < 0 || mkdir(v1_mem_dir, 0755) < 0) {
		perror("mkdir cgroup");
		cleanup();
		test_skip("cannot create cgroups here");
	}

	if (pipe(go) < 0)
		return 1;
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0)
		burner(go[0]);
	join(v2_dir, child);
	join(v1_cpu_dir, child);
	join(v1_mem_dir, child);
	if (write(go[1], "g", 1) != 1)
		return 1;
	sleep(1); /* let it touch its memory and settle into the cycle */

	/*
	 * The same process seen as two VMs by two collectors (one collector
	 * would rightly refuse groups that two of its VMs share): VM 0 as on
	 * this hybrid host (v2 group plus v1 cpu and memory), VM 1 with v1
	 * paths only, as on a v1-only host.
	 */
	vm_init(&vms[0], "00000000-0000-0000-0000-000000000001", child);
	snprintf(vms[0].cgroup_v2, sizeof(vms[0].cgroup_v2), "%s", rel);
	snprintf(vms[0].cgroup_cpu, sizeof(vms[0].cgroup_cpu), "%s", rel);
	snprintf(vms[0].cgroup_memory, sizeof(vms[0].cgroup_memory), "%s", rel);
	vm_init(&vms[1], "00000000-0000-0000-0000-000000000002", child);
	snprintf(vms[1].cgroup_cpu, sizeof(vms[1].cgroup_cpu), "%s", rel);
	snprintf(vms[1].cgroup_memory, sizeof(vms[1].cgroup_memory), "%s", rel);

	check_int_eq(collect_new(&cfg, &c), 0);
	check_int_eq(collect_new(&cfg, &c1), 0);
	if (!c || !c1) {
		cleanup();
		return 1;
	}
	t0 = util_now_usec();
	run0 = run_ns(child);
	check_int_eq(collect_sample(c, &vms[0], 1, NULL, 0, t0, &s[0]), 0);
	check_int_eq(collect_sample(c1, &vms[1], 1, NULL, 0, t0, &s[1]), 0);
	sleep(2);
	t1 = util_now_usec();
	run1 = run_ns(child);
	check_int_eq(collect_sample(c, &vms[0], 1, NULL, 0, t1, &s[0]), 0);
	check_int_eq(collect_sample(c1, &vms[1], 1, NULL, 0, t1, &s[1]), 0);
	truth = (double)(run1 - run0) / 1e3 / (double)(t1 - t0);

	fprintf(stderr,
		"truth %.4f cores; v2 %.4f, v1 %.4f; steal %.4f; mem %.1f MiB; src %#x %#x\n",
		truth, s[0].cpu_cores, s[1].cpu_cores, s[0].cpu_steal_cores,
		s[0].mem_bytes / 1048576.0, s[0].sources, s[1].sources);
	check(s[0].sources & (1u << COLLECT_SRC_CGROUP_V2));
	check(!(s[1].sources & (1u << COLLECT_SRC_CGROUP_V2)));
	check(s[1].sources & (1u << COLLECT_SRC_CGROUP_V1));
	/* Both must agree with the child's own CPU time (3% + 0.01 core). */
	check_double_near(s[0].cpu_cores, truth, 0.03 * truth + 0.01);
	check_double_near(s[1].cpu_cores, truth, 0.03 * truth + 0.01);
	/* The duty cycle is 50%; a shared machine may deliver less, never more. */
	check(truth > 0.02 && truth < 0.6);
	check(s[0].cpu_steal_cores >= 0 && s[0].cpu_steal_cores < 1.0);
	/* Memory: what it touched, plus libc and page tables. */
	check(s[0].mem_bytes >= MEM_MB * 1048576.0 && s[0].mem_bytes < (MEM_MB + 16) * 1048576.0);
	check_double_near(s[1].mem_bytes, s[0].mem_bytes, 1048576.0);
	/* PSI comes from the own v2 group only. */
	check(!isnan(s[0].cpu_pressure_some));
	check(isnan(s[1].cpu_pressure_some));

	collect_free(c);
	collect_free(c1);
	cleanup();
	return test_result();
}
