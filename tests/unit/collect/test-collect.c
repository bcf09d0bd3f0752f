// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The collector on fixture trees (tests/fixtures/cgroup/{v2,v1,hybrid,proc}):
 * each test copies a tree to a temporary folder, takes a sample, rewrites the
 * counters and takes another one a known (fake) interval later, then checks
 * the exact rates, which source each field came from, and what happens with
 * garbage, missing files, counter resets and shared cgroups.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collect.h"
#include "tap.h"

#define VM1_V2 "/machine.slice/machine-qemu-1-vm1.scope/libvirt"
#define VM1_V1 "/machine/qemu-1-vm1.libvirt-qemu"
#define VM2_V1 "/machine/qemu-2-vm2.libvirt-qemu"
#define SEC    1000000ULL
#define BIT(s) (1u << (s))

static char tmp_root[256];

static void run(const char *cmd)
{
	if (system(cmd) != 0) {
		fprintf(stderr, "command failed: %s\n", cmd);
		exit(1);
	}
}

/* Copies fixture trees into a fresh temporary folder; returns its path. */
static const char *fixture(const char *tree)
{
	const char *src = getenv("PRESCIENT_SOURCE_ROOT");
	char cmd[1024];

	if (tmp_root[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
		run(cmd);
	}
	snprintf(tmp_root, sizeof(tmp_root), "/tmp/prescient-collect-XXXXXX");
	if (!mkdtemp(tmp_root)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(cmd, sizeof(cmd),
		 "cp -a '%s/tests/fixtures/cgroup/%s' '%s/cg' && "
		 "cp -a '%s/tests/fixtures/cgroup/proc' '%s/proc'",
		 src ? src : ".", tree, tmp_root, src ? src : ".", tmp_root);
	run(cmd);
	return tmp_root;
}

static void run_in_tmp(const char *cmd)
{
	char buf[2048];

	snprintf(buf, sizeof(buf), "cd '%s' && %s", tmp_root, cmd);
	run(buf);
}

static void put(const char *rel, const char *content)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp_root, rel);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "cannot write %s: %m\n", path);
		exit(1);
	}
	fputs(content, f);
	fclose(f);
}

static void drop(const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", tmp_root, rel);
	if (unlink(path) < 0) {
		fprintf(stderr, "cannot remove %s: %m\n", path);
		exit(1);
	}
}

static struct collect *open_collect(void)
{
	char cg[512], proc[512];
	struct collect_config cfg = { 0 };
	struct collect *c = NULL;

	snprintf(cg, sizeof(cg), "%s/cg", tmp_root);
	snprintf(proc, sizeof(proc), "%s/proc", tmp_root);
	cfg.cgroup_root = cg;
	cfg.proc_root = proc;
	check_int_eq(collect_new(&cfg, &c), 0);
	if (!c)
		exit(1);
	return c;
}

static void vm_init(struct hv_vm *vm, const char *uuid, const char *v2, const char *v1)
{
	memset(vm, 0, sizeof(*vm));
	snprintf(vm->uuid, sizeof(vm->uuid), "%s", uuid);
	snprintf(vm->name, sizeof(vm->name), "vm-%.8s", uuid);
	vm->state = HV_VM_RUNNING;
	vm->qemu_pid = 4242;
	vm->nr_vcpus = vm->max_vcpus = vm->nr_vcpu_tids = 2;
	vm->vcpu_tids[0] = 4243;
	vm->vcpu_tids[1] = 4244;
	snprintf(vm->cgroup_v2, sizeof(vm->cgroup_v2), "%s", v2);
	snprintf(vm->cgroup_cpu, sizeof(vm->cgroup_cpu), "%s", v1);
	snprintf(vm->cgroup_memory, sizeof(vm->cgroup_memory), "%s", v1);
}

static const char *UUID1 = "11111111-2222-3333-4444-555555555555";
static const char *UUID2 = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

static void stats_absent(struct hv_vm_stats *s, const char *uuid)
{
	memset(s, 0xff, sizeof(*s));
	snprintf(s->uuid, sizeof(s->uuid), "%s", uuid);
}

/* Advances the schedstat fixture: +w1 and +w2 ns of run-queue wait. */
static void schedstat_put(uint64_t w1, uint64_t w2)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "5000000000 %llu 3000\n", (unsigned long long)w1);
	put("proc/4242/task/4243/schedstat", buf);
	snprintf(buf, sizeof(buf), "6000000000 %llu 4000\n", (unsigned long long)w2);
	put("proc/4242/task/4244/schedstat", buf);
}

static void test_v2(void)
{
	struct collect_sample s;
	struct collect *c;
	struct hv_vm vm;

	fixture("v2");
	c = open_collect();
	vm_init(&vm, UUID1, VM1_V2, "");

	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 10 * SEC, &s), 0);
	check_str_eq(s.uuid, UUID1);
	check_int_eq(s.t_usec, 10 * SEC);
	/* First tick: no rates yet, but the gauges are there. */
	check(isnan(s.cpu_cores));
	check(isnan(s.disk_rd_bps));
	check(isnan(s.cpu_steal_cores));
	check_double_near(s.mem_bytes, 104857600.0 + 20971520.0, 0);
	check_double_near(s.cpu_pressure_some, 1.5, 1e-9);
	check_double_near(s.mem_pressure_some, 0, 0);
	check_double_near(s.io_pressure_some, 12.34, 1e-9);
	check(isnan(s.net_rx_bps));
	check_int_eq(s.sources, BIT(COLLECT_SRC_CGROUP_V2));
	check(collect_sources_active(c) & BIT(COLLECT_SRC_CGROUP_V2));
	check(!(collect_sources_active(c) & BIT(COLLECT_SRC_CGROUP_V1)));

	/* Two seconds later: 1.5 s of CPU, disk and vCPU wait advanced. */
	put("cg" VM1_V2 "/cpu.stat", "usage_usec 2500000\nuser_usec 1\nsystem_usec 1\n");
	put("cg" VM1_V2 "/io.stat",
	    "253:0 rbytes=3145728 wbytes=2097152 rios=300 wios=210 dbytes=0 dios=0\n"
	    "8:16 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n");
	schedstat_put(1400000000ULL, 2600000000ULL);
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 12 * SEC, &s), 0);
	check_double_near(s.cpu_cores, 0.75, 1e-12);
	check_double_near(s.cpu_steal_cores, 0.5, 1e-12);
	check_double_near(s.disk_rd_bps, 1048576.0, 1e-6);
	check_double_near(s.disk_wr_bps, 4096.0, 1e-6);
	check_double_near(s.disk_rd_iops, 100.0, 1e-9);
	check_double_near(s.disk_wr_iops, 6.0, 1e-9);
	check_int_eq(s.sources, BIT(COLLECT_SRC_CGROUP_V2) | BIT(COLLECT_SRC_PROCFS));

	/* Counter reset (VM restarted behind our back): NAN once, then rates again. */
	put("cg" VM1_V2 "/cpu.stat", "usage_usec 1000\n");
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 13 * SEC, &s), 0);
	check(isnan(s.cpu_cores));
	check_double_near(s.disk_rd_bps, 0, 0);
	put("cg" VM1_V2 "/cpu.stat", "usage_usec 251000\n");
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 14 * SEC, &s), 0);
	check_double_near(s.cpu_cores, 0.25, 1e-12);

	/* Garbage and missing files: those fields NAN, the others still right. */
	put("cg" VM1_V2 "/memory.stat", "anon 12x\nfile_mapped 5\n");
	put("cg" VM1_V2 "/cpu.pressure", "some avg10=101.00 avg60=0.00 avg300=0.00 total=0\n");
	drop("cg" VM1_V2 "/io.stat");
	put("cg" VM1_V2 "/cpu.stat", "usage_usec 351000\n");
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 15 * SEC, &s), 0);
	check_double_near(s.cpu_cores, 0.1, 1e-12);
	check(isnan(s.mem_bytes));
	check(isnan(s.cpu_pressure_some));
	check_double_near(s.io_pressure_some, 12.34, 1e-9);
	check(isnan(s.disk_rd_bps));
	check(isnan(s.disk_wr_iops));

	/* Same timestamp twice: no division by zero, no rate. */
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 15 * SEC, &s), 0);
	check(isnan(s.cpu_cores));
	collect_free(c);
}

static void test_v1(void)
{
	struct collect_sample s;
	struct collect *c;
	struct hv_vm vm;

	fixture("v1");
	c = open_collect();
	vm_init(&vm, UUID1, "", VM1_V1);
	vm.nr_vcpu_tids = 0; /* steal is tested elsewhere; keep sources to cgroups */

	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 1 * SEC, &s), 0);
	check(isnan(s.cpu_cores));
	check_double_near(s.mem_bytes, 200000000.0 + 30000000.0, 0);
	check(isnan(s.cpu_pressure_some)); /* PSI needs v2 */
	check_int_eq(s.sources, BIT(COLLECT_SRC_CGROUP_V1));

	put("cg/cpu,cpuacct" VM1_V1 "/cpuacct.usage", "2500000000\n");
	put("cg/blkio" VM1_V1 "/blkio.throttle.io_service_bytes_recursive",
	    "253:0 Read 2097152\n253:0 Write 2097152\n253:0 Sync 0\n253:0 Async 0\n"
	    "253:0 Discard 0\n253:0 Total 4194304\n8:16 Read 4096\n8:16 Write 1000\n"
	    "8:16 Total 5096\nTotal 4199400\n");
	put("cg/blkio" VM1_V1 "/blkio.throttle.io_serviced_recursive",
	    "253:0 Read 150\n253:0 Write 200\n8:16 Read 1\n8:16 Write 4\nTotal 355\n");
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 1 * SEC + 500000, &s), 0);
	check_double_near(s.cpu_cores, 1.0, 1e-12);
	check_double_near(s.disk_rd_bps, 2097152.0, 1e-6);
	check_double_near(s.disk_wr_bps, 2000.0, 1e-6);
	check_double_near(s.disk_rd_iops, 100.0, 1e-9);
	check_double_near(s.disk_wr_iops, 8.0, 1e-9);
	check_int_eq(s.sources, BIT(COLLECT_SRC_CGROUP_V1));
	check(collect_sources_active(c) & BIT(COLLECT_SRC_CGROUP_V1));

	/* A malformed blkio file (no final Total) is refused, not half-summed. */
	put("cg/blkio" VM1_V1 "/blkio.throttle.io_service_bytes_recursive",
	    "253:0 Read 9999999999\n253:0 Write 1\n");
	put("cg/cpu,cpuacct" VM1_V1 "/cpuacct.usage", "-5\n");
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 2 * SEC, &s), 0);
	check(isnan(s.disk_rd_bps));
	check(isnan(s.cpu_cores));
	check_double_near(s.mem_bytes, 230000000.0, 0);

	/* The v1 memory.stat of an older kernel without total_ keys. */
	put("cg/memory" VM1_V1 "/memory.stat", "cache 5\nrss 1000\nmapped_file 24\n");
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 3 * SEC, &s), 0);
	check_double_near(s.mem_bytes, 1024.0, 0);
	collect_free(c);
}

static void test_hybrid(void)
{
	struct collect_sample s[2];
	struct collect *c;
	struct hv_vm vms[2];

	fixture("hybrid");
	c = open_collect();
	vm_init(&vms[0], UUID1, VM1_V1, VM1_V1);

	check_int_eq(collect_sample(c, vms, 1, NULL, 0, 100 * SEC, s), 0);
	/* cpu and PSI from v2, memory from v1 (the memory controller is on v1 here). */
	check_double_near(s[0].mem_bytes, 230000000.0, 0);
	check_double_near(s[0].cpu_pressure_some, 1.5, 1e-9);
	check_int_eq(s[0].sources, BIT(COLLECT_SRC_CGROUP_V1) | BIT(COLLECT_SRC_CGROUP_V2));

	put("cg/unified" VM1_V1 "/cpu.stat", "usage_usec 3200000\n");
	/* v1 moves too but must not be used while v2 has the VM's own counter. */
	put("cg/cpu,cpuacct" VM1_V1 "/cpuacct.usage", "9000000000\n");
	put("cg/blkio" VM1_V1 "/blkio.throttle.io_service_bytes_recursive",
	    "253:0 Read 1148576\n253:0 Write 2097152\n8:16 Read 4096\n8:16 Write 0\n"
	    "Total 3249824\n");
	check_int_eq(collect_sample(c, vms, 1, NULL, 0, 101 * SEC, s), 0);
	check_double_near(s[0].cpu_cores, 0.2, 1e-12);
	check_double_near(s[0].disk_rd_bps, 100000.0, 1e-9);
	check_double_near(s[0].disk_wr_bps, 0, 0);

	/*
	 * A second VM listed with the same unified group (nested test hosts:
	 * own v1 groups, one shared unified group): that group is nobody's own,
	 * so both use v1 and have no PSI. VM 1 keeps its history; VM 2 is new.
	 */
	run_in_tmp("for h in cpu,cpuacct memory blkio; do cp -a cg/$h" VM1_V1 " cg/$h" VM2_V1
		   "; done");
	put("cg/cpu,cpuacct" VM2_V1 "/cpuacct.usage", "100\n");
	vm_init(&vms[1], UUID2, VM1_V1, VM2_V1);
	vms[1].qemu_pid = 999999; /* no such process in the fixture */
	check_int_eq(collect_sample(c, vms, 2, NULL, 0, 102 * SEC, s), 0);
	check_str_eq(s[1].uuid, UUID2);
	check(isnan(s[0].cpu_pressure_some));
	check(isnan(s[1].cpu_pressure_some));
	check(isnan(s[0].cpu_cores)); /* the v1 counter has no history yet */
	check(isnan(s[1].cpu_cores));
	check(isnan(s[1].cpu_steal_cores)); /* no schedstat for that pid */
	check_double_near(s[1].mem_bytes, 230000000.0, 0);
	put("cg/cpu,cpuacct" VM1_V1 "/cpuacct.usage", "9300000000\n");
	put("cg/cpu,cpuacct" VM2_V1 "/cpuacct.usage", "1000000100\n");
	check_int_eq(collect_sample(c, vms, 2, NULL, 0, 103 * SEC, s), 0);
	check_double_near(s[0].cpu_cores, 0.3, 1e-12);
	check_double_near(s[1].cpu_cores, 1.0, 1e-12);
	check_int_eq(s[0].sources & (BIT(COLLECT_SRC_CGROUP_V1) | BIT(COLLECT_SRC_CGROUP_V2)),
		     BIT(COLLECT_SRC_CGROUP_V1));

	/* A v1 memory group that both VMs report is also nobody's. */
	snprintf(vms[1].cgroup_memory, sizeof(vms[1].cgroup_memory), "%s", VM1_V1);
	check_int_eq(collect_sample(c, vms, 2, NULL, 0, 104 * SEC, s), 0);
	check(isnan(s[0].mem_bytes));
	check(isnan(s[1].mem_bytes));
	check(isnan(s[1].cpu_cores)); /* VM 2's paths changed: it starts over */
	check_double_near(s[0].cpu_cores, 0, 0);

	/* VM 2 leaves: VM 1 owns its groups again, with its v2 history gone stale. */
	check_int_eq(collect_sample(c, vms, 1, NULL, 0, 105 * SEC, s), 0);
	check_double_near(s[0].mem_bytes, 230000000.0, 0);
	check_double_near(s[0].cpu_pressure_some, 1.5, 1e-9);
	check(isnan(s[0].cpu_cores));
	collect_free(c);
}

/* Rewrites a PSI file of VM 1's v2 group with the given "some" and "full" totals. */
static void psi_put(const char *file, unsigned long long some_usec, unsigned long long full_usec)
{
	char rel[512], buf[256];

	snprintf(rel, sizeof(rel), "cg%s/%s", VM1_V2, file);
	snprintf(buf, sizeof(buf),
		 "some avg10=3.00 avg60=1.00 avg300=0.50 total=%llu\n"
		 "full avg10=0.00 avg60=0.00 avg300=0.00 total=%llu\n",
		 some_usec, full_usec);
	put(rel, buf);
}

/*
 * The share of the last tick stalled, from the "some" total's delta: NAN on
 * the first tick, after a reset, a bad or missing file and a zero interval;
 * clamped to 1; blind to the "full" line.
 */
static void test_stall_share(void)
{
	struct collect_sample s;
	struct collect *c;
	struct hv_vm vm;

	fixture("v2");
	c = open_collect();
	vm_init(&vm, UUID1, VM1_V2, "");
	vm.nr_vcpu_tids = 0;

	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 10 * SEC, &s), 0);
	check(isnan(s.cpu_stall_share));
	check(isnan(s.mem_stall_share));
	check(isnan(s.io_stall_share));
	check_double_near(s.cpu_pressure_some, 1.5, 1e-9); /* the gauge is there at once */

	/* Two seconds: 1.4 s of CPU stall, 0.5 s of memory stall, no new I/O stall. */
	psi_put("cpu.pressure", 123456 + 1400000, 2345);
	psi_put("memory.pressure", 500000, 400000);
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 12 * SEC, &s), 0);
	check_double_near(s.cpu_stall_share, 0.7, 1e-12);
	check_double_near(s.mem_stall_share, 0.25, 1e-12);
	check_double_near(s.io_stall_share, 0, 0);
	check_double_near(s.cpu_pressure_some, 3.0, 1e-9);
	check(s.sources & BIT(COLLECT_SRC_CGROUP_V2));

	/*
	 * Only "full" moves: nothing stalled for "some" (it cannot, since full
	 * implies some, but the parser must read the some line). A tick of 0.5 s
	 * fully stalled on I/O, read a little late: 0.5001 s, clamped to 1.
	 */
	psi_put("cpu.pressure", 123456 + 1400000, 9000000);
	psi_put("io.pressure", 999 + 500100, 0);
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 12 * SEC + 500000, &s), 0);
	check_double_near(s.cpu_stall_share, 0, 0);
	check_double_near(s.io_stall_share, 1.0, 0);

	/* Counter reset (the group was re-created): NAN once, then the new baseline. */
	psi_put("cpu.pressure", 1000, 0);
	psi_put("memory.pressure", 600000, 400000);
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 13 * SEC + 500000, &s), 0);
	check(isnan(s.cpu_stall_share));
	check_double_near(s.mem_stall_share, 0.1, 1e-12);
	psi_put("cpu.pressure", 1000 + 100000, 0);
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 14 * SEC + 500000, &s), 0);
	check_double_near(s.cpu_stall_share, 0.1, 1e-12);

	/*
	 * A malformed file gives NAN for both of its signals, a missing one too;
	 * the tick after a gap has no baseline yet (a delta across the gap would
	 * be right, but the collector keeps one rule for every counter).
	 */
	put("cg" VM1_V2 "/cpu.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=-5\n");
	drop("cg" VM1_V2 "/memory.pressure");
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 15 * SEC + 500000, &s), 0);
	check(isnan(s.cpu_stall_share));
	check(isnan(s.cpu_pressure_some));
	check(isnan(s.mem_stall_share));
	check(isnan(s.mem_pressure_some));
	check_double_near(s.io_stall_share, 0, 0);
	psi_put("cpu.pressure", 2000000, 0);
	psi_put("memory.pressure", 700000, 400000);
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 16 * SEC + 500000, &s), 0);
	check(isnan(s.cpu_stall_share));
	check(isnan(s.mem_stall_share));
	psi_put("cpu.pressure", 2250000, 0);
	psi_put("memory.pressure", 700000 + 1000000, 400000);
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 17 * SEC + 500000, &s), 0);
	check_double_near(s.cpu_stall_share, 0.25, 1e-12);
	check_double_near(s.mem_stall_share, 1.0, 1e-12);

	/* Same timestamp twice: no rate. */
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 17 * SEC + 500000, &s), 0);
	check(isnan(s.cpu_stall_share));

	/* A restarted QEMU starts over even when the totals happen to grow. */
	psi_put("cpu.pressure", 2500000, 0);
	vm.qemu_pid = 4343;
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 18 * SEC + 500000, &s), 0);
	check(isnan(s.cpu_stall_share));
	collect_free(c);

	/* No v2 group of its own (v1-only host): unmeasured, never 0. */
	fixture("v1");
	c = open_collect();
	vm_init(&vm, UUID1, "", VM1_V1);
	vm.nr_vcpu_tids = 0;
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 1 * SEC, &s), 0);
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 2 * SEC, &s), 0);
	check(!isnan(s.cpu_cores));
	check(isnan(s.cpu_stall_share));
	check(isnan(s.mem_stall_share));
	check(isnan(s.io_stall_share));
	collect_free(c);
}

/* Hybrid host: the VM's own unified group has PSI; a group two VMs share does not. */
static void test_stall_share_hybrid(void)
{
	struct collect_sample s[2];
	struct collect *c;
	struct hv_vm vms[2];

	fixture("hybrid");
	c = open_collect();
	vm_init(&vms[0], UUID1, VM1_V1, VM1_V1);
	vms[0].nr_vcpu_tids = 0;
	check_int_eq(collect_sample(c, vms, 1, NULL, 0, 100 * SEC, s), 0);
	check(isnan(s[0].cpu_stall_share));
	put("cg/unified" VM1_V1 "/cpu.pressure",
	    "some avg10=1.50 avg60=1.00 avg300=0.50 total=923456\n"
	    "full avg10=0.25 avg60=0.10 avg300=0.00 total=2345\n");
	check_int_eq(collect_sample(c, vms, 1, NULL, 0, 101 * SEC, s), 0);
	check_double_near(s[0].cpu_stall_share, 0.8, 1e-12);
	check_double_near(s[0].mem_stall_share, 0, 0);

	vm_init(&vms[1], UUID2, VM1_V1, VM2_V1);
	vms[1].qemu_pid = 999999;
	vms[1].nr_vcpu_tids = 0;
	put("cg/unified" VM1_V1 "/cpu.pressure",
	    "some avg10=1.50 avg60=1.00 avg300=0.50 total=1923456\n");
	check_int_eq(collect_sample(c, vms, 2, NULL, 0, 102 * SEC, s), 0);
	check(isnan(s[0].cpu_stall_share));
	check(isnan(s[1].cpu_stall_share));
	check(isnan(s[1].io_stall_share));
	collect_free(c);
}

/* Per-field fallback to libvirt's bulk statistics, and BPF/cgroup win over them. */
static void test_libvirt_fallback(void)
{
	struct hv_vm_stats st[2];
	struct collect_sample s[2];
	struct collect *c;
	struct hv_vm vms[2];

	fixture("v2");
	c = open_collect();
	vm_init(&vms[0], UUID1, VM1_V2, "");
	vm_init(&vms[1], UUID2, "", "");
	vms[1].qemu_pid = 0; /* not running as far as procfs goes */
	vms[1].nr_vcpu_tids = 0;
	/* Stats in another order than the VMs: matched by UUID. */
	stats_absent(&st[0], UUID2);
	stats_absent(&st[1], UUID1);
	st[0].cpu_time_ns = 1000000000;
	st[0].vcpu_delay_ns = 0;
	st[0].balloon_rss_kib = 1024;
	st[0].block_rd_bytes = st[0].block_wr_bytes = 0;
	st[0].block_rd_reqs = st[0].block_wr_reqs = 0;
	st[0].net_rx_bytes = 0;
	st[0].net_tx_bytes = 100;
	st[1].cpu_time_ns = 0;
	st[1].net_rx_bytes = 5000;
	st[1].balloon_rss_kib = 1;

	check_int_eq(collect_sample(c, vms, 2, st, 2, 1 * SEC, s), 0);
	check_double_near(s[1].mem_bytes, 1024.0 * 1024, 0);
	check_int_eq(s[1].sources, BIT(COLLECT_SRC_LIBVIRT));
	/* cgroup memory wins over libvirt's for VM 1 */
	check_double_near(s[0].mem_bytes, 104857600.0 + 20971520.0, 0);

	st[0].cpu_time_ns += 1500000000;
	st[0].vcpu_delay_ns += 100000000;
	st[0].block_rd_bytes += 4096;
	st[0].block_wr_reqs += 3;
	st[0].net_rx_bytes += 1000;
	st[0].net_tx_bytes += 2000;
	st[1].cpu_time_ns += 999000000000ULL;
	st[1].net_rx_bytes += 8000;
	put("cg" VM1_V2 "/cpu.stat", "usage_usec 1100000\n");
	check_int_eq(collect_sample(c, vms, 2, st, 2, 2 * SEC, s), 0);
	check_double_near(s[1].cpu_cores, 1.5, 1e-12);
	check_double_near(s[1].cpu_steal_cores, 0.1, 1e-12);
	check_double_near(s[1].disk_rd_bps, 4096.0, 0);
	check_double_near(s[1].disk_wr_iops, 3.0, 0);
	check_double_near(s[1].net_rx_bps, 1000.0, 0);
	check_double_near(s[1].net_tx_bps, 2000.0, 0);
	/* VM 1: cgroup CPU (0.1) beats libvirt's (999); net only libvirt has. */
	check_double_near(s[0].cpu_cores, 0.1, 1e-12);
	check_double_near(s[0].net_rx_bps, 8000.0, 0);
	check(isnan(s[0].net_tx_bps));
	check(s[0].sources & BIT(COLLECT_SRC_LIBVIRT));
	check(s[0].sources & BIT(COLLECT_SRC_CGROUP_V2));
	check(collect_sources_active(c) & BIT(COLLECT_SRC_LIBVIRT));

	/* cpu.stat vanishes: libvirt takes over the CPU field at once (own history). */
	drop("cg" VM1_V2 "/cpu.stat");
	st[1].cpu_time_ns += 250000000;
	check_int_eq(collect_sample(c, vms, 2, st, 2, 3 * SEC, s), 0);
	check_double_near(s[0].cpu_cores, 0.25, 1e-12);
	collect_free(c);
}

/* A VM that leaves and comes back starts over; a restarted QEMU too. */
static void test_forget_and_restart(void)
{
	struct collect_sample s;
	struct collect *c;
	struct hv_vm vm;

	fixture("v2");
	c = open_collect();
	vm_init(&vm, UUID1, VM1_V2, "");
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 1 * SEC, &s), 0);
	check_int_eq(collect_sample(c, NULL, 0, NULL, 0, 2 * SEC, NULL), 0);
	put("cg" VM1_V2 "/cpu.stat", "usage_usec 1500000\n");
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 3 * SEC, &s), 0);
	check(isnan(s.cpu_cores));
	put("cg" VM1_V2 "/cpu.stat", "usage_usec 1600000\n");
	vm.qemu_pid = 4343;
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 4 * SEC, &s), 0);
	check(isnan(s.cpu_cores));
	put("cg" VM1_V2 "/cpu.stat", "usage_usec 1700000\n");
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 5 * SEC, &s), 0);
	check_double_near(s.cpu_cores, 0.1, 1e-12);
	collect_free(c);
}

/* vCPU threads change (hotplug): steal is NAN for one tick, not a jump. */
static void test_vcpu_set_change(void)
{
	struct collect_sample s;
	struct collect *c;
	struct hv_vm vm;

	fixture("v2");
	c = open_collect();
	vm_init(&vm, UUID1, VM1_V2, "");
	vm.nr_vcpu_tids = 1;
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 1 * SEC, &s), 0);
	vm.nr_vcpu_tids = 2;
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 2 * SEC, &s), 0);
	check(isnan(s.cpu_steal_cores));
	schedstat_put(1100000000ULL, 2100000000ULL);
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 3 * SEC, &s), 0);
	check_double_near(s.cpu_steal_cores, 0.2, 1e-12);
	/* No wait accounted after seconds of running: not a zero, an unknown. */
	schedstat_put(0, 0);
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 4 * SEC, &s), 0);
	check(isnan(s.cpu_steal_cores));
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 5 * SEC, &s), 0);
	check(isnan(s.cpu_steal_cores));
	schedstat_put(1100000000ULL, 2100000000ULL);
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 6 * SEC, &s), 0);
	check(isnan(s.cpu_steal_cores));
	schedstat_put(1200000000ULL, 2100000000ULL);
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 7 * SEC, &s), 0);
	check_double_near(s.cpu_steal_cores, 0.1, 1e-12);
	/* One thread's file unreadable: no partial sum. */
	drop("proc/4242/task/4244/schedstat");
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 8 * SEC, &s), 0);
	check(isnan(s.cpu_steal_cores));
	collect_free(c);
}

/*
 * Mount discovery through <proc_root>/self/mountinfo: the hierarchies sit at
 * unusual names that probing would not find, and the v1 memory mount shows a
 * sub-tree (root field) that the VM's path must be made relative to.
 */
static void test_mountinfo(void)
{
	char buf[4096], rel[1024];
	struct collect_sample s;
	struct collect *c;
	struct hv_vm vm;

	fixture("hybrid");
	snprintf(buf, sizeof(buf),
		 "mv %1$s/cg/unified %1$s/cg/u2 && mv %1$s/cg/cpu,cpuacct %1$s/cg/acct && "
		 "rm %1$s/cg/cpu %1$s/cg/cpuacct && mkdir -p %1$s/proc/self && "
		 "mv %1$s/cg/memory/machine %1$s/cg/mem-sub",
		 tmp_root);
	run(buf);
	snprintf(buf, sizeof(buf),
		 "22 1 0:21 / /proc rw,relatime shared:12 - proc proc rw\n"
		 "31 23 0:28 / %1$s/cg rw,relatime - tmpfs tmpfs rw,mode=755\n"
		 "32 31 0:29 / %1$s/cg/acct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
		 "35 31 0:32 /machine %1$s/cg/mem-sub rw,relatime - cgroup cgroup rw,memory\n"
		 "38 31 0:35 / %1$s/cg/blkio rw,relatime - cgroup cgroup rw,blkio\n"
		 "39 31 0:36 / /elsewhere/unified rw - cgroup2 cgroup2 rw\n"
		 "41 31 0:38 / %1$s/cg/u2 rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 "
		 "cgroup2 rw,nsdelegate\n",
		 tmp_root);
	put("proc/self/mountinfo", buf);
	c = open_collect();
	vm_init(&vm, UUID1, VM1_V1, VM1_V1);
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 1 * SEC, &s), 0);
	check_double_near(s.mem_bytes, 230000000.0, 0);
	check_double_near(s.cpu_pressure_some, 1.5, 1e-9);
	snprintf(rel, sizeof(rel), "cg/u2%s/cpu.stat", VM1_V1);
	put(rel, "usage_usec 4000000\n");
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 2 * SEC, &s), 0);
	check_double_near(s.cpu_cores, 1.0, 1e-12);
	collect_free(c);
}

/* Paths that are not a VM's own group are refused, not read. */
static void test_bad_paths(void)
{
	struct collect_sample s;
	struct collect *c;
	struct hv_vm vm;

	fixture("v1");
	c = open_collect();
	vm_init(&vm, UUID1, "", "/");
	vm.qemu_pid = 0;
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 1 * SEC, &s), 0);
	check(isnan(s.mem_bytes));
	vm_init(&vm, UUID1, "", "/machine/../machine/qemu-1-vm1.libvirt-qemu");
	vm.qemu_pid = 0;
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 2 * SEC, &s), 0);
	check(isnan(s.mem_bytes));
	/* Unterminated strings from a buggy plugin stay inside their arrays. */
	vm_init(&vm, UUID1, "", VM1_V1);
	memset(vm.cgroup_v2, 'x', sizeof(vm.cgroup_v2));
	memset(vm.taps, 'y', sizeof(vm.taps));
	vm.nr_taps = 1000;
	vm.nr_vcpu_tids = 100000;
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 3 * SEC, &s), 0);
	check_double_near(s.mem_bytes, 230000000.0, 0);
	check_int_eq(collect_sample(NULL, &vm, 1, NULL, 0, 3 * SEC, &s), -EINVAL);
	check_int_eq(collect_sample(c, &vm, 1, NULL, 0, 3 * SEC, NULL), -EINVAL);
	collect_free(c);
}

int main(void)
{
	test_v2();
	test_v1();
	test_hybrid();
	test_stall_share();
	test_stall_share_hybrid();
	test_libvirt_fallback();
	test_forget_and_restart();
	test_vcpu_set_change();
	test_mountinfo();
	test_bad_paths();
	if (tmp_root[0]) {
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
		run(cmd);
	}
	return test_result();
}
