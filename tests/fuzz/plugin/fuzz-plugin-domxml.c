// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes the domain XML parser (plugin/libvirt/domxml.c) on raw bytes: no
 * crash, no read past the input, and on success every string it wrote is
 * terminated, every count within its array and every MAC well formed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hv-libvirt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy so that ASan catches any read past the end */
	char *buf = malloc(size ? size : 1);
	struct hv_vm vm;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	memset(&vm, 0, sizeof(vm));
	if (hv_domxml_parse(buf, size, &vm) == 0) {
		if (!memchr(vm.name, 0, sizeof(vm.name)) || !memchr(vm.uuid, 0, sizeof(vm.uuid)))
			abort();
		if (vm.uuid[0] && strlen(vm.uuid) != HV_UUID_LEN)
			abort();
		if (vm.nr_taps > HV_MAX_NICS || vm.nr_disks > HV_MAX_DISKS)
			abort();
		if (vm.nr_vcpus > vm.max_vcpus)
			abort();
		for (uint32_t i = 0; i < vm.nr_taps; i++)
			if (!vm.taps[i][0] || !memchr(vm.taps[i], 0, sizeof(vm.taps[i])))
				abort();
		/* a MAC is "" or six lower-case hex pairs with colons */
		for (uint32_t i = 0; i < HV_MAX_NICS; i++) {
			const char *mac = vm.macs[i];

			if (!memchr(mac, 0, sizeof(vm.macs[i])) || (i >= vm.nr_taps && mac[0]))
				abort();
			if (mac[0] && strlen(mac) != 17)
				abort();
			for (int k = 0; mac[0] && k < 17; k++)
				if (k % 3 == 2 ? mac[k] != ':'
					       : !strchr("0123456789abcdef", mac[k]))
					abort();
		}
		for (uint32_t i = 0; i < vm.nr_disks; i++)
			if (!vm.disks[i][0] || !memchr(vm.disks[i], 0, sizeof(vm.disks[i])))
				abort();
	}
	free(buf);
	return 0;
}
