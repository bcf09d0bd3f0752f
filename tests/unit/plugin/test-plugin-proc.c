// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The /proc side of the libvirt plugin: /proc/<pid>/cgroup fixtures (v1,
 * v2, hybrid, namespaced, garbage), QEMU command lines and thread names, and
 * pid, vCPU thread and cgroup discovery in a fake proc tree built here.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "hv-libvirt.h"
#include "tap.h"
#include "util.h"

#define UUID_A "c7a5fdbd-edaf-9455-926a-d65c16db1809"
#define UUID_B "0a0b0c0d-1111-2222-3333-444455556666"

static const struct {
	const char *file, *v2, *cpu, *mem;
} cgroup_cases[] = {
	{ "v2-systemd.txt", "/machine.slice/machine-qemu\\x2d3\\x2dweb.scope/libvirt", "", "" },
	{ "v1-hybrid-nosystemd.txt", "/machine/qemu-1-vm1.libvirt-qemu",
	  "/machine/qemu-1-vm1.libvirt-qemu", "/machine/qemu-1-vm1.libvirt-qemu" },
	{ "v1-systemd-combined.txt", "/machine.slice/machine-qemu\\x2d2\\x2ddb.scope",
	  "/machine.slice/machine-qemu\\x2d2\\x2ddb.scope",
	  "/machine.slice/machine-qemu\\x2d2\\x2ddb.scope" },
	/* the unified group of a namespaced test host is the host's, not the VM's */
	{ "namespaced-host.txt", "", "/hostA/machine/qemu-1-guest.libvirt-qemu",
	  "/hostA/machine/qemu-1-guest.libvirt-qemu" },
	{ "not-libvirt.txt", "", "", "" },
	{ "colons-no-newline.txt", "/odd:name/with:colons", "/odd:name/with:colons", "" },
	{ "garbage.txt", "", "", "" },
};

static void test_cgroup_fixtures(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(cgroup_cases); i++) {
		char path[4096];
		char *buf = NULL;
		size_t len;
		struct hv_vm vm;

		memset(&vm, 0x55, sizeof(vm));
		snprintf(path, sizeof(path), "%s/cgroup/%s", PLUGIN_FIXTURES, cgroup_cases[i].file);
		check_int_eq(util_file_read(path, 1 << 16, &buf, &len), 0);
		if (!buf)
			continue;
		check_int_eq(hv_proc_cgroup_parse(buf, len, &vm), 0);
		fprintf(stderr, "%s\n", cgroup_cases[i].file);
		check_str_eq(vm.cgroup_v2, cgroup_cases[i].v2);
		check_str_eq(vm.cgroup_cpu, cgroup_cases[i].cpu);
		check_str_eq(vm.cgroup_memory, cgroup_cases[i].mem);
		free(buf);
	}
}

static void test_cgroup_edges(void)
{
	struct hv_vm vm;
	char big[2 * HV_CGROUP_MAX];
	const char nul[] = "1:cpu:/a\0b/emulator\n";

	/* empty input and a NUL inside a path */
	check_int_eq(hv_proc_cgroup_parse("", 0, &vm), 0);
	check_str_eq(vm.cgroup_cpu, "");
	check_int_eq(hv_proc_cgroup_parse(nul, sizeof(nul) - 1, &vm), 0);
	check_str_eq(vm.cgroup_cpu, "");

	/* a path too long for struct hv_vm is dropped, never cut */
	memset(big, 'a', sizeof(big));
	memcpy(big, "1:cpu:/", 7);
	memcpy(big + sizeof(big) - 10, "/emulator\n", 10);
	check_int_eq(hv_proc_cgroup_parse(big, sizeof(big), &vm), 0);
	check_str_eq(vm.cgroup_cpu, "");

	/* cpuset and cpuacct are not "cpu"; the first line of a controller wins */
	check_int_eq(hv_proc_cgroup_parse("3:cpuset:/x/emulator\n2:cpu:/y/emulator\n"
					  "1:cpu:/z/emulator\n",
					  strlen("3:cpuset:/x/emulator\n2:cpu:/y/emulator\n"
						 "1:cpu:/z/emulator\n"),
					  &vm),
		     0);
	check_str_eq(vm.cgroup_cpu, "/y");

	/* the VM at the root of its hierarchy has no group of its own */
	check_int_eq(hv_proc_cgroup_parse("0::/emulator\n", 13, &vm), 0);
	check_str_eq(vm.cgroup_v2, "");
}

static void test_cmdline(void)
{
	static const char cmd[] = "/usr/bin/qemu-system-x86_64\0-name\0guest=a,debug-threads=on\0"
				  "-uuid\0C7A5FDBD-edaf-9455-926a-d65c16db1809\0-smp\0002";
	static const char nouuid[] = "/usr/bin/qemu\0C7A5FDBD-edaf-9455-926a-d65c16db1809\0-uuid";
	static const char other[] = "/bin/sh\0-c\0echo -uuid " UUID_A;

	check(hv_proc_cmdline_has_uuid(cmd, sizeof(cmd) - 1, UUID_A));
	check(!hv_proc_cmdline_has_uuid(cmd, sizeof(cmd) - 1, UUID_B));
	/* the uuid must follow "-uuid" as its own argument */
	check(!hv_proc_cmdline_has_uuid(nouuid, sizeof(nouuid) - 1, UUID_A));
	check(!hv_proc_cmdline_has_uuid(other, sizeof(other) - 1, UUID_A));
	/* a prefix of the uuid is not the uuid */
	check(!hv_proc_cmdline_has_uuid(cmd, sizeof(cmd) - 1, "c7a5fdbd"));
	check(!hv_proc_cmdline_has_uuid("", 0, UUID_A));
	check(!hv_proc_cmdline_has_uuid(cmd, sizeof(cmd) - 1, ""));
}

static void test_comm(void)
{
	static const struct {
		const char *comm;
		int ret, vcpu;
	} cases[] = {
		{ "CPU 0/KVM\n", 0, 0 },
		{ "CPU 7/TCG\n", 0, 7 },
		{ "CPU 255/KVM", 0, 255 },
		{ "ALL CPUs/TCG\n", 0, HV_PROC_ALL_VCPUS },
		{ "qemu-system-x86\n", -ENOENT, 0 },
		{ "IO mon_iothread\n", -ENOENT, 0 },
		{ "CPU /KVM\n", -ENOENT, 0 },
		{ "CPU 3\n", -ENOENT, 0 },
		{ "CPU 3/\n", -ENOENT, 0 },
		{ "CPU 99999999999999/KVM", -ENOENT, 0 },
		{ "", -ENOENT, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int vcpu = -42;
		int r = hv_proc_comm_vcpu(cases[i].comm, strlen(cases[i].comm), &vcpu);

		check_int_eq(r, cases[i].ret);
		if (r == 0)
			check_int_eq(vcpu, cases[i].vcpu);
		else
			check_int_eq(vcpu, -42);
	}
}

static char root[] = "/tmp/prescient-test-proc-XXXXXX";

static void put(const char *rel, const void *data, size_t len)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		perror(path);
		exit(1);
	}
	close(fd);
}

#define put_str(rel, s) put(rel, s, sizeof(s) - 1)

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void build_tree(void)
{
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		exit(1);
	}
	/* VM "a": pid 4242, 2 vCPU threads under TCG, pid file stale (points at 100) */
	put_str("proc/4242/cmdline",
		"/usr/bin/qemu-system-x86_64\0-name\0guest=a,debug-threads=on\0"
		"-uuid\0" UUID_A "\0-smp\0002\0");
	put_str("proc/4242/cgroup", "1:cpu:/machine/qemu-1-a.libvirt-qemu/emulator\n"
				    "2:memory:/machine/qemu-1-a.libvirt-qemu\n0::/\n");
	put_str("proc/4242/task/4242/comm", "qemu-system-x86\n");
	put_str("proc/4242/task/4250/comm", "CPU 1/TCG\n");
	put_str("proc/4242/task/4249/comm", "CPU 0/TCG\n");
	put_str("proc/4242/task/4251/comm", "IO mon_iothread\n");
	put_str("proc/4242/task/4260/comm", "vnc_worker\n");
	put_str("run/a.pid", "100");
	/* an unrelated process and a kernel thread with an empty cmdline */
	put_str("proc/100/cmdline", "/bin/bash\0");
	put_str("proc/2/cmdline", "");
	put_str("proc/self/cmdline", "nope\0");
	/* VM "b": pid 5000 found through its (good) pid file, single-threaded TCG */
	put_str("proc/5000/cmdline", "qemu\0-uuid\0" UUID_B "\0");
	put_str("proc/5000/task/5000/comm", "qemu-system-x86\n");
	put_str("proc/5000/task/5003/comm", "ALL CPUs/TCG\n");
	put_str("run/b.pid", "5000\n");
}

static void test_tree(void)
{
	char proc[4096], run[4096];
	struct hv_vm vms[3];
	int r;

	snprintf(proc, sizeof(proc), "%s/proc", root);
	snprintf(run, sizeof(run), "%s/run", root);
	memset(vms, 0, sizeof(vms));
	snprintf(vms[0].uuid, sizeof(vms[0].uuid), "%s", UUID_A);
	snprintf(vms[0].name, sizeof(vms[0].name), "a");
	vms[0].nr_vcpus = 2;
	snprintf(vms[1].uuid, sizeof(vms[1].uuid), "%s", UUID_B);
	snprintf(vms[1].name, sizeof(vms[1].name), "b");
	vms[1].nr_vcpus = 3;
	snprintf(vms[2].uuid, sizeof(vms[2].uuid), "ffffffff-ffff-ffff-ffff-ffffffffffff");
	snprintf(vms[2].name, sizeof(vms[2].name), "../gone");

	r = hv_proc_find_pids(proc, run, vms, 3);
	check_int_eq(r, 1);
	check_int_eq(vms[0].qemu_pid, 4242);
	check_int_eq(vms[1].qemu_pid, 5000);
	check_int_eq(vms[2].qemu_pid, 0);

	/* without pid files the scan alone finds both */
	vms[0].qemu_pid = vms[1].qemu_pid = 0;
	check_int_eq(hv_proc_find_pids(proc, "", vms, 2), 0);
	check_int_eq(vms[0].qemu_pid, 4242);
	check_int_eq(vms[1].qemu_pid, 5000);

	check_int_eq(hv_proc_read_vcpu_tids(proc, &vms[0]), 0);
	check_int_eq(vms[0].nr_vcpu_tids, 2);
	check_int_eq(vms[0].vcpu_tids[0], 4249);
	check_int_eq(vms[0].vcpu_tids[1], 4250);
	check_int_eq(vms[0].vcpu_tids[2], 0);

	check_int_eq(hv_proc_read_vcpu_tids(proc, &vms[1]), 0);
	check_int_eq(vms[1].nr_vcpu_tids, 3);
	for (int i = 0; i < 3; i++)
		check_int_eq(vms[1].vcpu_tids[i], 5003);

	check_int_eq(hv_proc_read_cgroups(proc, &vms[0]), 0);
	check_str_eq(vms[0].cgroup_cpu, "/machine/qemu-1-a.libvirt-qemu");
	check_str_eq(vms[0].cgroup_memory, "/machine/qemu-1-a.libvirt-qemu");
	check_str_eq(vms[0].cgroup_v2, "");
	check_int_eq(hv_proc_read_cgroups(proc, &vms[1]), -ENOENT);
	check_int_eq(hv_proc_read_cgroups(proc, &vms[2]), -ESRCH);
	check_int_eq(hv_proc_read_vcpu_tids(proc, &vms[2]), -ESRCH);

	/* a missing proc root is an error, not "no VMs" */
	vms[0].qemu_pid = 0;
	check_int_eq(hv_proc_find_pids("/nonexistent-proc", "", vms, 1), -ENOENT);
}

/* The real /proc: this process is no QEMU, and pid 1 has a cgroup file. */
static void test_real_proc(void)
{
	struct hv_vm vm = { .qemu_pid = 1 };

	snprintf(vm.uuid, sizeof(vm.uuid), "%s", UUID_A);
	check_int_eq(hv_proc_read_cgroups("/proc", &vm), 0);
	vm.qemu_pid = 0;
	check(hv_proc_find_pids("/proc", HV_LIBVIRT_PID_DIR, &vm, 1) >= 0);
}

int main(void)
{
	test_cgroup_fixtures();
	test_cgroup_edges();
	test_cmdline();
	test_comm();
	build_tree();
	test_tree();
	test_real_proc();
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return test_result();
}
