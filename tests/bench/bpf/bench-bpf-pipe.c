// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Slowdown of a context-switch-heavy workload with every probe attached:
 * `perf bench sched pipe -T` (two threads ping-ponging through pipes), its
 * process tracked as a VM so the sched_switch path does its full work on
 * each switch. Runs with and without probes alternately (ABBA, so drift
 * cancels) many times and reports the median of the pair ratios, the only
 * figure that survives a shared, noisy machine. Prints
 * "BENCH bpf_pipe_slowdown_pct <pct> %". Needs root and perf.
 */
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>

#include "bpf-test.h"

#define PAIRS 40
#define LOOPS "20000"

static void run_perf(void *arg)
{
	int *out = arg;
	cpu_set_t one;

	/* Both threads on one CPU: every op is two context switches, no bimodal placement. */
	CPU_ZERO(&one);
	CPU_SET(1, &one);
	sched_setaffinity(0, sizeof(one), &one);
	dup2(out[1], STDOUT_FILENO);
	close(out[0]);
	execlp("perf", "perf", "bench", "sched", "pipe", "-T", "-l", LOOPS, (char *)NULL);
	_exit(127);
}

/* One perf run, tracked as a VM or not; returns usecs/op or < 0. */
static double perf_usecs_per_op(struct collect_bpf *b, bool tracked)
{
	struct bpf_test_child c;
	char buf[4096] = "", *p;
	int out[2];
	size_t len = 0;
	ssize_t k;

	if (pipe(out) < 0)
		return -1;
	c = bpf_test_child_fork(run_perf, out);
	close(out[1]);
	{
		struct hv_vm hv;

		bpf_test_vm(&hv, "perf", c.pid, 0);
		collect_bpf_set_vms(b, &hv, tracked ? 1 : 0);
	}
	bpf_test_child_go(&c);
	while (len < sizeof(buf) - 1 && (k = read(out[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)k;
	buf[len] = '\0';
	close(out[0]);
	bpf_test_child_wait(&c);
	p = strstr(buf, "usecs/op");
	if (!p)
		return -1;
	while (p > buf && (p[-1] == ' ' || p[-1] == '\t'))
		p--;
	while (p > buf && p[-1] != ' ' && p[-1] != '\n')
		p--;
	return strtod(p, NULL);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Median over PAIRS of (with probes / without). The probes stay loaded and
 * are only detached for the runs without, so both sides see the same
 * memory and maps; the perf process is tracked as a VM when tracked is set,
 * else the probes only filter it out.
 */
static double median_slowdown_pct(bool tracked)
{
	struct collect_bpf *b = bpf_test_open();
	double ratios[PAIRS];

	for (int i = 0; i < PAIRS; i++) {
		double with = -1, without = -1;

		for (int k = 0; k < 2; k++) {
			/* ABBA: probes first on even pairs, last on odd ones. */
			bool on = (k == 0) == (i % 2 == 0);

			if (collect_bpf_attach(b, on) < 0) {
				fprintf(stderr, "cannot %s probes\n", on ? "attach" : "detach");
				exit(1);
			}
			if (on)
				with = perf_usecs_per_op(b, tracked);
			else
				without = perf_usecs_per_op(b, tracked);
		}
		if (with <= 0 || without <= 0) {
			fprintf(stderr, "perf bench failed\n");
			exit(1);
		}
		ratios[i] = with / without;
		fprintf(stderr, "%s pair %d: with %.3f, without %.3f usecs/op\n",
			tracked ? "tracked" : "untracked", i, with, without);
	}
	collect_bpf_close(b);
	qsort(ratios, PAIRS, sizeof(ratios[0]), cmp_double);
	return ((ratios[PAIRS / 2 - 1] + ratios[PAIRS / 2]) / 2 - 1) * 100;
}

int main(void)
{
	bpf_test_require_kernel();
	if (system("perf --version >/dev/null 2>&1") != 0)
		test_skip("perf not installed");

	/* Every process on the host pays this: probes attached, process not a VM. */
	printf("BENCH bpf_pipe_slowdown_pct %.2f %%\n", median_slowdown_pct(false));
	/* Worst case: every switch is a tracked VM thread's. */
	printf("BENCH bpf_pipe_slowdown_pct.tracked %.2f %%\n", median_slowdown_pct(true));
	return 0;
}
