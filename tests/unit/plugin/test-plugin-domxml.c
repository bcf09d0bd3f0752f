// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The domain XML parser of the libvirt plugin against fixture files: a
 * realistic live QEMU domain (taps with their MACs), memory units, tricky
 * but valid XML (CDATA, comments, caps and bad values) and inputs it must
 * refuse (DOCTYPE with entities, another root element, truncated XML,
 * oversized input).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv-libvirt.h"
#include "tap.h"
#include "util.h"

static int parse_fixture(const char *name, struct hv_vm *vm)
{
	char path[4096];
	char *buf = NULL;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/domxml/%s", PLUGIN_FIXTURES, name);
	r = util_file_read(path, 1 << 20, &buf, &len);
	check_int_eq(r, 0);
	if (r < 0)
		return r;
	r = hv_domxml_parse(buf, len, vm);
	free(buf);
	return r;
}

static void test_qemu_live(void)
{
	struct hv_vm vm = { .qemu_pid = 77 };

	check_int_eq(parse_fixture("qemu-live.xml", &vm), 0);
	check_str_eq(vm.name, "web-01");
	check_str_eq(vm.uuid, "c7a5fdbd-edaf-9455-926a-d65c16db1809");
	check_int_eq(vm.max_memory_kib, 4194304);
	check_int_eq(vm.memory_kib, 2097152);
	check_int_eq(vm.nr_vcpus, 2);
	check_int_eq(vm.max_vcpus, 4);
	/* vhostuser has no host tap */
	check_int_eq(vm.nr_taps, 2);
	check_str_eq(vm.taps[0], "vnet3");
	check_str_eq(vm.taps[1], "vnet4");
	/* the MAC of each tap, at the tap's index */
	check_str_eq(vm.macs[0], "52:54:00:6b:3c:58");
	check_str_eq(vm.macs[1], "52:54:00:aa:bb:cc");
	check_str_eq(vm.macs[2], "");
	/* the cdrom is not a disk worth watching; the lun is */
	check_int_eq(vm.nr_disks, 2);
	check_str_eq(vm.disks[0], "vda");
	check_str_eq(vm.disks[1], "sdb");
	/* fields the XML does not own are untouched */
	check_int_eq(vm.qemu_pid, 77);
}

static void test_units(void)
{
	struct hv_vm vm = { 0 };

	check_int_eq(parse_fixture("units.xml", &vm), 0);
	check_int_eq(vm.max_memory_kib, 4ULL * 1024 * 1024);
	check_int_eq(vm.memory_kib, 1536ULL * 1024);
	check_int_eq(vm.nr_vcpus, 8);
	check_int_eq(vm.max_vcpus, 8);
	check_int_eq(vm.nr_taps, 0);
	check_str_eq(vm.macs[0], "");
	check_int_eq(vm.nr_disks, 1);
	check_str_eq(vm.disks[0], "sdc");
}

static void test_tricky(void)
{
	struct hv_vm vm = { 0 };
	char want[16];

	check_int_eq(parse_fixture("tricky.xml", &vm), 0);
	check_str_eq(vm.name, "db & <cache>");
	check_str_eq(vm.uuid, "");
	check_int_eq(vm.max_memory_kib, 1048576);
	check_int_eq(vm.memory_kib, 1048576);
	/* current above the maximum is not believed */
	check_int_eq(vm.nr_vcpus, 2);
	check_int_eq(vm.max_vcpus, 2);
	/* empty, missing and over-long targets skipped; the rest capped at HV_MAX_NICS */
	check_int_eq(vm.nr_taps, HV_MAX_NICS);
	for (int i = 0; i < HV_MAX_NICS; i++) {
		snprintf(want, sizeof(want), "tap%d", i);
		check_str_eq(vm.taps[i], want);
	}
	/*
	 * MACs follow their tap (not the skipped interface before it), in
	 * lower case; short, long, padded, non-hex, wrongly separated or
	 * missing addresses become "" and keep the tap.
	 */
	check_str_eq(vm.macs[0], "52:54:00:ab:cd:0e");
	for (int i = 1; i < HV_MAX_NICS; i++)
		check_str_eq(vm.macs[i], "");
	check_int_eq(vm.nr_disks, 1);
	check_str_eq(vm.disks[0], "vdb");
}

static void test_refused(void)
{
	static const char *bad[] = { "doctype.xml", "not-domain.xml", "truncated.xml" };
	static const char inline_dtd[] = "<domain><name>x</name></domain><!DOCTYPE x>";
	struct hv_vm vm;
	char *huge;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&vm, 0x5a, sizeof(vm));
		check_int_eq(parse_fixture(bad[i], &vm), -EINVAL);
		/* nothing written on failure */
		check_int_eq((unsigned char)vm.name[0], 0x5a);
	}
	check_int_eq(hv_domxml_parse("", 0, &vm), -EINVAL);
	check_int_eq(hv_domxml_parse(inline_dtd, sizeof(inline_dtd) - 1, &vm), -EINVAL);
	/* UTF-16 would hide a DOCTYPE from the byte scan: the encoding is forced */
	check_int_eq(hv_domxml_parse("\xff\xfe<\0d\0/\0>\0", 10, &vm), -EINVAL);

	huge = malloc(HV_DOMXML_MAX_BYTES + 1);
	if (huge) {
		memset(huge, ' ', HV_DOMXML_MAX_BYTES + 1);
		check_int_eq(hv_domxml_parse(huge, HV_DOMXML_MAX_BYTES + 1, &vm), -EFBIG);
		free(huge);
	}
}

int main(void)
{
	test_qemu_live();
	test_units();
	test_tricky();
	test_refused();
	return test_result();
}
