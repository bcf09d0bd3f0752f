// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The mem probe against ground truth: a child touches every page of a fresh
 * anonymous mapping (huge pages off), each touch a user page fault; the
 * probe counts at least that many and not many more. Needs root.
 */
#include <sys/mman.h>

#include "bpf-test.h"

#define MAP_BYTES (64UL * 1024 * 1024)

static void toucher(void *arg)
{
	long page = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, MAP_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		_exit(3);
	madvise(p, MAP_BYTES, MADV_NOHUGEPAGE);
	for (size_t off = 0; off < MAP_BYTES; off += (size_t)page)
		p[off] = 1;
}

int main(void)
{
	uint64_t pages = MAP_BYTES / (uint64_t)sysconf(_SC_PAGESIZE);
	struct bpf_test_child c;
	struct collect_bpf_vm vm;
	struct collect_bpf *b;
	struct hv_vm hv;

	bpf_test_require_kernel();
	b = bpf_test_open();
	c = bpf_test_child_fork(toucher, NULL);
	bpf_test_vm(&hv, "mem", c.pid, 0);
	check_int_eq(collect_bpf_set_vms(b, &hv, 1), 0);
	bpf_test_child_go(&c);
	bpf_test_child_wait(&c);
	check_int_eq(collect_bpf_read_vm(b, 0, &vm), 0);
	fprintf(stderr, "mem: touched %llu pages; probe: %llu faults, reclaim stall %llu ns\n",
		(unsigned long long)pages, (unsigned long long)vm.page_faults,
		(unsigned long long)vm.reclaim_stall_ns);
	check(vm.page_faults >= pages);
	/* Headroom for a sanitizer's shadow memory (1/8 of the touched range). */
	check(vm.page_faults <= pages + pages / 6 + 200);
	check(vm.reclaim_stall_ns != UINT64_MAX);
	collect_bpf_close(b);
	return test_result();
}
