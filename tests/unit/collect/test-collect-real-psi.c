// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The stall share against the real kernel: a CPU hog pinned to one CPU runs
 * in a fresh v2 group (PSI is per v2 group) with a CFS quota of 30 % of a
 * core (v2 cpu.max when the cpu controller is on v2, else v1
 * cpu.cfs_quota_us, as on hybrid hosts), and collect must report, tick after
 * tick from the first delta on, the share of the tick it stalled.
 *
 * The reference is the hog's own on-CPU time from /proc/<pid>/schedstat:
 * one always-runnable task stalls whenever it does not run, so its "some"
 * share is 1 - its run share, whatever else loads the machine; the quota
 * bounds the run share, so the share must also be at least about 0.7.
 * Pinned because PSI folds CPUs together weighted by their non-idle time: a
 * single task hopping between CPUs shows less than the time it waited.
 * Needs root and PSI; exits 77 otherwise or without a way to set a quota.
 */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collect.h"
#include "tap.h"
#include "util.h"

#define CG	    "/sys/fs/cgroup"
#define QUOTA_USEC  30000
#define PERIOD_USEC 100000
#define TICKS	    3

static char v2_dir[256], v1_cpu_dir[256], rel[64];
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
		if (!busy)
			break;
		usleep(20000);
	}
}

static void write_or_die(const char *dir, const char *file, const char *value)
{
	char path[512];
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	r = util_file_write_string(path, value);
	if (r < 0) {
		fprintf(stderr, "cannot write '%s' to %s: %s\n", value, path, strerror(-r));
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

static void hog(int go_fd)
{
	char c;

	if (read(go_fd, &c, 1) != 1)
		_exit(1);
	for (;;)
		;
}

/* The last CPU this process may run on: the hog stays there. */
static int pick_cpu(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return -1;
	for (int cpu = CPU_SETSIZE - 1; cpu >= 0; cpu--)
		if (CPU_ISSET(cpu, &set))
			return cpu;
	return -1;
}

static bool v2_has_cpu_controller(const char *parent)
{
	char path[512], *buf = NULL;
	size_t len;
	bool has = false;

	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", parent);
	if (util_file_read(path, 4096, &buf, &len) >= 0)
		has = strstr(buf, "cpu ") || strstr(buf, "cpu\n") ||
		      (len >= 3 && !strcmp(buf + len - 3, "cpu"));
	free(buf);
	return has;
}

/* One tick: the collector's sample and the hog's true stalled share since the last tick. */
static void tick(struct collect *c, const struct hv_vm *vm, uint64_t *t, uint64_t *run,
		 struct collect_sample *ret, double *ret_truth)
{
	uint64_t t1, run1;

	run1 = run_ns(vm->qemu_pid);
	t1 = util_now_usec();
	check_int_eq(collect_sample(c, vm, 1, NULL, 0, t1, ret), 0);
	*ret_truth = 1.0 - (double)(run1 - *run) / 1e3 / (double)(t1 - *t);
	*t = t1;
	*run = run1;
}

int main(void)
{
	struct collect_config cfg = { .cgroup_root = NULL, .proc_root = NULL };
	const char *v2_parent = NULL;
	struct collect_sample s;
	struct collect *c = NULL;
	struct hv_vm vm;
	uint64_t t = 0, run = 0;
	double truth;
	bool use_v2_cpu;
	char quota[64], path[512];
	cpu_set_t one;
	int go[2], cpu;

	if (geteuid() != 0)
		test_skip("needs root to create cgroups");
	if (!exists("/proc/pressure/cpu"))
		test_skip("the kernel has no PSI (CONFIG_PSI off or psi=0)");
	if (exists(CG "/unified/cgroup.controllers"))
		v2_parent = CG "/unified";
	else if (exists(CG "/cgroup.controllers"))
		v2_parent = CG;
	if (!v2_parent)
		test_skip("needs a cgroup v2 hierarchy (PSI is per v2 group)");
	use_v2_cpu = v2_has_cpu_controller(v2_parent);
	if (!use_v2_cpu && !exists(CG "/cpu/cpu.cfs_quota_us"))
		test_skip("no way to set a CPU quota: cpu neither on v2 nor a v1 hierarchy at " CG
			  "/cpu");
	cpu = pick_cpu();
	if (cpu < 0)
		test_skip("cannot read this process' CPU affinity");

	snprintf(rel, sizeof(rel), "/prescient-test-psi-%d", (int)getpid());
	snprintf(v2_dir, sizeof(v2_dir), "%s%s", v2_parent, rel);
	if (mkdir(v2_dir, 0755) < 0) {
		perror("mkdir v2 cgroup");
		v2_dir[0] = '\0';
		test_skip("cannot create a v2 cgroup here");
	}
	snprintf(path, sizeof(path), "%s/cpu.pressure", v2_dir);
	if (!exists(path)) {
		cleanup();
		test_skip("the new v2 group has no cpu.pressure");
	}
	if (!use_v2_cpu) {
		snprintf(v1_cpu_dir, sizeof(v1_cpu_dir), CG "/cpu%s", rel);
		if (mkdir(v1_cpu_dir, 0755) < 0) {
			perror("mkdir v1 cpu cgroup");
			v1_cpu_dir[0] = '\0';
			cleanup();
			test_skip("cannot create a v1 cpu cgroup here");
		}
	}

	if (pipe(go) < 0)
		return 1;
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0)
		hog(go[0]);
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(child, sizeof(one), &one) < 0) {
		perror("sched_setaffinity");
		cleanup();
		return 1;
	}
	snprintf(quota, sizeof(quota), "%d", (int)child);
	write_or_die(v2_dir, "cgroup.procs", quota);
	if (use_v2_cpu) {
		snprintf(quota, sizeof(quota), "%d %d", QUOTA_USEC, PERIOD_USEC);
		write_or_die(v2_dir, "cpu.max", quota);
	} else {
		snprintf(quota, sizeof(quota), "%d", (int)child);
		write_or_die(v1_cpu_dir, "cgroup.procs", quota);
		snprintf(quota, sizeof(quota), "%d", PERIOD_USEC);
		write_or_die(v1_cpu_dir, "cpu.cfs_period_us", quota);
		snprintf(quota, sizeof(quota), "%d", QUOTA_USEC);
		write_or_die(v1_cpu_dir, "cpu.cfs_quota_us", quota);
	}
	if (write(go[1], "g", 1) != 1)
		return 1;
	usleep(300000); /* a few quota periods into its cycle */

	vm = (struct hv_vm){ .state = HV_VM_RUNNING, .qemu_pid = child };
	snprintf(vm.uuid, sizeof(vm.uuid), "00000000-0000-0000-0000-00000000b5b5");
	snprintf(vm.name, sizeof(vm.name), "hog");
	snprintf(vm.cgroup_v2, sizeof(vm.cgroup_v2), "%s", rel);
	check_int_eq(collect_new(&cfg, &c), 0);
	if (!c) {
		cleanup();
		return 1;
	}

	/* The first sample has no delta yet: unmeasured, not 0. */
	tick(c, &vm, &t, &run, &s, &truth);
	check(isnan(s.cpu_stall_share));
	check(s.sources & (1u << COLLECT_SRC_CGROUP_V2));

	for (int i = 1; i <= TICKS; i++) {
		usleep(1000000);
		tick(c, &vm, &t, &run, &s, &truth);
		fprintf(stderr,
			"capped %d%% (%s), tick %d: stall share %.4f, truth %.4f, avg10 %.2f%%, "
			"cpu %.4f cores\n",
			QUOTA_USEC * 100 / PERIOD_USEC, use_v2_cpu ? "v2 cpu.max" : "v1 cfs_quota",
			i, s.cpu_stall_share, truth, s.cpu_pressure_some, s.cpu_cores);
		check_double_near(s.cpu_stall_share, truth, 0.05);
		/* The quota alone keeps it off the CPU 70 % of the time. */
		check(s.cpu_stall_share >= 1.0 - (double)QUOTA_USEC / PERIOD_USEC - 0.05);
		check(s.cpu_stall_share <= 1.0);
		check(s.cpu_cores <= (double)QUOTA_USEC / PERIOD_USEC + 0.05);
		/* Nothing stalls on memory or I/O in a busy loop. */
		check(s.mem_stall_share >= 0 && s.mem_stall_share < 0.05);
		check(s.io_stall_share >= 0 && s.io_stall_share < 0.05);
	}

	/* Quota lifted: the next tick already shows only what the machine's load takes. */
	if (use_v2_cpu)
		write_or_die(v2_dir, "cpu.max", "max 100000");
	else
		write_or_die(v1_cpu_dir, "cpu.cfs_quota_us", "-1");
	usleep(1000000);
	tick(c, &vm, &t, &run, &s, &truth);
	fprintf(stderr, "uncapped, tick %d: stall share %.4f, truth %.4f, avg10 %.2f%%\n",
		TICKS + 1, s.cpu_stall_share, truth, s.cpu_pressure_some);
	check_double_near(s.cpu_stall_share, truth, 0.05);

	collect_free(c);
	cleanup();
	return test_result();
}
