// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes the /proc parsers of the libvirt plugin (plugin/libvirt/proc.c) on
 * the same raw bytes: /proc/<pid>/cgroup, a NUL-separated command line and
 * a thread name. No crash, no read past the input, and what they return
 * obeys their contract (paths absolute or empty, terminated; vCPU numbers
 * in range).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hv-libvirt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_path(const char *p, size_t size)
{
	if (!memchr(p, 0, size) || (p[0] && p[0] != '/'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	struct hv_vm vm;
	int vcpu;

	if (!buf)
		return 0;
	memcpy(buf, data, size);

	if (hv_proc_cgroup_parse(buf, size, &vm) == 0) {
		check_path(vm.cgroup_v2, sizeof(vm.cgroup_v2));
		check_path(vm.cgroup_cpu, sizeof(vm.cgroup_cpu));
		check_path(vm.cgroup_memory, sizeof(vm.cgroup_memory));
	}
	(void)hv_proc_cmdline_has_uuid(buf, size, "c7a5fdbd-edaf-9455-926a-d65c16db1809");
	if (hv_proc_comm_vcpu(buf, size, &vcpu) == 0 && vcpu != HV_PROC_ALL_VCPUS &&
	    (vcpu < 0 || vcpu >= HV_MAX_VCPUS * 16))
		abort();
	free(buf);
	return 0;
}
