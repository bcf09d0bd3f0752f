/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers for the BPF probe tests: processes stand in for VMs (their pid as
 * the QEMU tgid, chosen threads as vCPUs), children start only once tracked,
 * and the real kernel is required (root, BTF) or the test skips.
 */
#ifndef PRESCIENT_TESTS_BPF_TEST_H
#define PRESCIENT_TESTS_BPF_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bpf_internal.h"
#include "tap.h"

static inline void bpf_test_require_kernel(void)
{
	if (geteuid() != 0)
		test_skip("BPF probes need root");
	if (access("/sys/kernel/btf/vmlinux", R_OK) < 0)
		test_skip("no kernel BTF");
}

static inline struct collect_bpf *bpf_test_open(void)
{
	struct collect_bpf *b = NULL;
	int r = collect_bpf_open(&b);

	if (r < 0) {
		fprintf(stderr, "collect_bpf_open: %s (%s)\n", strerror(-r),
			collect_bpf_status(NULL));
		exit(1);
	}
	return b;
}

/* A stand-in VM: the process pid is its QEMU, tid its only vCPU. */
static inline void bpf_test_vm(struct hv_vm *vm, const char *uuid, pid_t pid, pid_t tid)
{
	memset(vm, 0, sizeof(*vm));
	snprintf(vm->uuid, sizeof(vm->uuid), "%s", uuid);
	snprintf(vm->name, sizeof(vm->name), "stand-in-%s", uuid);
	vm->state = HV_VM_RUNNING;
	vm->qemu_pid = pid;
	if (tid > 0) {
		vm->nr_vcpus = vm->max_vcpus = vm->nr_vcpu_tids = 1;
		vm->vcpu_tids[0] = tid;
	}
}

static inline uint64_t bpf_test_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Forks a child that runs fn() once the parent has tracked it: the parent
 * calls bpf_test_child_go() after collect_bpf_set_vms().
 */
struct bpf_test_child {
	pid_t pid;
	int go_fd;
};

static inline struct bpf_test_child bpf_test_child_fork(void (*fn)(void *), void *arg)
{
	struct bpf_test_child c = { -1, -1 };
	int p[2];
	char x;

	if (pipe(p) < 0) {
		perror("pipe");
		exit(1);
	}
	c.pid = fork();
	if (c.pid < 0) {
		perror("fork");
		exit(1);
	}
	if (c.pid == 0) {
		close(p[1]);
		if (read(p[0], &x, 1) != 1)
			_exit(2);
		fn(arg);
		_exit(0);
	}
	close(p[0]);
	c.go_fd = p[1];
	return c;
}

static inline void bpf_test_child_go(struct bpf_test_child *c)
{
	if (write(c->go_fd, "g", 1) != 1)
		perror("write");
	close(c->go_fd);
}

/* Waits for the child; returns its CPU time (user + system) in ns. */
static inline uint64_t bpf_test_child_wait(struct bpf_test_child *c)
{
	struct rusage ru;
	int status;

	if (wait4(c->pid, &status, 0, &ru) < 0) {
		perror("wait4");
		exit(1);
	}
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Let the child's last switch-out land. */
	usleep(50 * 1000);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ULL +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ULL;
}

#endif
