// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The collector with its BPF probes on the real kernel: a child burning CPU
 * at a 50% duty cycle is declared as a VM (its pid as QEMU, its thread as the
 * one vCPU) and cpu_cores must come from BPF (source bit) and agree with the
 * child's own on-CPU time from /proc/<pid>/schedstat; steal must come from
 * BPF too (the schedstat files are then not read). Needs root and a kernel
 * where the probes load; exits 77 otherwise.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collect.h"
#include "tap.h"
#include "util.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void burner(void)
{
	for (;;) {
		uint64_t end = mono_ns() + 5000000;
		struct timespec pause = { 0, 5000000 };

		while (mono_ns() < end)
			;
		nanosleep(&pause, NULL);
	}
}

static void schedstat(pid_t pid, uint64_t *run, uint64_t *wait)
{
	char path[64];
	unsigned long long r = 0, w = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%llu %llu", &r, &w) != 2)
		r = w = 0;
	if (f)
		fclose(f);
	*run = r;
	*wait = w;
}

int main(void)
{
	struct collect_config cfg = { .use_bpf = true };
	struct collect_sample s;
	struct collect *c = NULL;
	struct hv_vm vm;
	uint64_t t0, t1, run0, run1, wait0, wait1;
	double truth, truth_wait;
	pid_t child;

	if (geteuid() != 0)
		test_skip("needs root to load BPF programs");
	check_int_eq(collect_new(&cfg, &c), 0);
	if (!c)
		return 1;
	fprintf(stderr, "bpf: %s\n", collect_bpf_describe(c));

	child = fork();
	if (child < 0)
		return 1;
	if (child == 0)
		burner();
	memset(&vm, 0, sizeof(vm));
	snprintf(vm.uuid, sizeof(vm.uuid), "00000000-0000-0000-0000-0000000000b1");
	snprintf(vm.name, sizeof(vm.name), "bpf-burner");
	vm.qemu_pid = child;
	vm.nr_vcpu_tids = 1;
	vm.vcpu_tids[0] = child;

	t0 = util_now_usec();
	schedstat(child, &run0, &wait0);
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, t0, &s), 0);
	if (!(collect_sources_active(c) & (1u << COLLECT_SRC_BPF))) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		collect_free(c);
		test_skip("BPF probes not available here");
	}
	sleep(2);
	t1 = util_now_usec();
	schedstat(child, &run1, &wait1);
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, t1, &s), 0);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);

	truth = (double)(run1 - run0) / 1e3 / (double)(t1 - t0);
	truth_wait = (double)(wait1 - wait0) / 1e3 / (double)(t1 - t0);
	fprintf(stderr, "truth %.4f cores, wait %.4f; bpf cpu %.4f, steal %.4f; sources %#x\n",
		truth, truth_wait, s.cpu_cores, s.cpu_steal_cores, s.sources);
	check(s.sources & (1u << COLLECT_SRC_BPF));
	check(!(s.sources & (1u << COLLECT_SRC_PROCFS)));
	/*
	 * BPF counts time at context switches: a slice still running at either
	 * end of the window is missing or extra, hence 5% + 0.02 core.
	 */
	check_double_near(s.cpu_cores, truth, 0.05 * truth + 0.02);
	check(truth > 0.02);
	check_double_near(s.cpu_steal_cores, truth_wait, 0.2 * truth_wait + 0.02);
	collect_free(c);
	return test_result();
}
