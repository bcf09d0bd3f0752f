// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes the uplink readers of host_pool.c: /proc/net/route text must give
 * a valid interface name or one of the documented errors with the output
 * untouched, and a sysfs link speed a positive Mbit/s or an error.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host_pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char ifname[CONFIG_IFNAME_MAX] = "x";
	uint64_t mbps = 7;
	char *text;
	int r;

	if (size > 64 * 1024)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	r = host_pool_route_default_parse(text, ifname, sizeof(ifname));
	if (r == 0) {
		if (!host_pool_ifname_valid(ifname))
			abort();
	} else if ((r != -EINVAL && r != -ENETUNREACH) || strcmp(ifname, "x")) {
		abort();
	}
	r = host_pool_link_speed_parse(text, &mbps);
	if (r == 0) {
		if (mbps == 0)
			abort();
	} else if ((r != -EINVAL && r != -ENODATA) || mbps != 7) {
		abort();
	}
	free(text);
	return 0;
}
