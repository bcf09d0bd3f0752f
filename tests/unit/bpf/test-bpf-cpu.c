// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The cpu probe against ground truth. A child burning a known duty cycle:
 * the probe's run time matches the child's getrusage() CPU time. Two busy
 * threads pinned to one CPU: each waits while the other runs, so wait time
 * is at least about the run time and run + wait covers both threads' whole
 * lifetime. Needs root.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include "bpf-test.h"

#define DUTY_PERIOD_NS (20 * 1000000ULL)
#define DUTY_BUSY_NS   (10 * 1000000ULL)
#define DUTY_LENGTH_NS (1500 * 1000000ULL)
#define CONTEND_LEN_NS (1000 * 1000000ULL)

static void burn_until(uint64_t end_ns)
{
	while (bpf_test_now_ns() < end_ns)
		;
}

static void duty_cycle(void *arg)
{
	uint64_t start = bpf_test_now_ns();

	while (bpf_test_now_ns() - start < DUTY_LENGTH_NS) {
		uint64_t t = bpf_test_now_ns();

		burn_until(t + DUTY_BUSY_NS);
		usleep((DUTY_PERIOD_NS - DUTY_BUSY_NS) / 1000);
	}
}

static void *contend_thread(void *arg)
{
	uint64_t end = *(uint64_t *)arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		perror("sched_setaffinity");
	burn_until(end);
	return NULL;
}

static void contend(void *arg)
{
	uint64_t end = bpf_test_now_ns() + CONTEND_LEN_NS;
	pthread_t t[2];

	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, contend_thread, &end);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
}

static void test_duty_cycle(struct collect_bpf *b)
{
	struct bpf_test_child c = bpf_test_child_fork(duty_cycle, NULL);
	struct collect_bpf_vm vm;
	struct hv_vm hv;
	uint64_t truth_ns;

	bpf_test_vm(&hv, "duty", c.pid, c.pid);
	check_int_eq(collect_bpf_set_vms(b, &hv, 1), 0);
	bpf_test_child_go(&c);
	truth_ns = bpf_test_child_wait(&c);
	check_int_eq(collect_bpf_read_vm(b, 0, &vm), 0);
	fprintf(stderr,
		"duty: rusage %.1f ms, probe run %.1f ms (vcpu %.1f), wait %.1f ms, "
		"involuntary %llu\n",
		truth_ns / 1e6, vm.cpu_run_ns / 1e6, vm.vcpu_run_ns / 1e6, vm.cpu_wait_ns / 1e6,
		(unsigned long long)vm.involuntary_switches);
	/* Within 5 % (rusage is tick-sampled on some kernels) plus 10 ms. */
	check_double_near((double)vm.cpu_run_ns, (double)truth_ns, truth_ns * 0.05 + 10e6);
	check_int_eq(vm.vcpu_run_ns, vm.cpu_run_ns);
	check(vm.cpu_run_ns > 0);
}

static void test_contention(struct collect_bpf *b)
{
	struct bpf_test_child c = bpf_test_child_fork(contend, NULL);
	struct collect_bpf_vm vm;
	struct hv_vm hv;
	uint64_t truth_ns;
	double both_ns = 2.0 * CONTEND_LEN_NS;

	/* A different UUID: a fresh slot, counters from zero. */
	bpf_test_vm(&hv, "contend", c.pid, 0);
	check_int_eq(collect_bpf_set_vms(b, &hv, 1), 0);
	bpf_test_child_go(&c);
	truth_ns = bpf_test_child_wait(&c);
	check_int_eq(collect_bpf_read_vm(b, 0, &vm), 0);
	fprintf(stderr,
		"contend: rusage %.1f ms, probe run %.1f ms, wait %.1f ms, "
		"involuntary %llu\n",
		truth_ns / 1e6, vm.cpu_run_ns / 1e6, vm.cpu_wait_ns / 1e6,
		(unsigned long long)vm.involuntary_switches);
	check_double_near((double)vm.cpu_run_ns, (double)truth_ns, truth_ns * 0.05 + 10e6);
	/* Always runnable: each thread either runs or waits for its whole life. */
	check_double_near((double)(vm.cpu_run_ns + vm.cpu_wait_ns), both_ns, both_ns * 0.10);
	/* Each waits at least while the other runs. */
	check(vm.cpu_wait_ns >= 0.8 * vm.cpu_run_ns);
	check(vm.involuntary_switches > 10);
	check_int_eq(vm.vcpu_run_ns, 0);
}

int main(void)
{
	struct collect_bpf *b;

	bpf_test_require_kernel();
	b = bpf_test_open();
	test_duty_cycle(b);
	test_contention(b);
	collect_bpf_close(b);
	return test_result();
}
