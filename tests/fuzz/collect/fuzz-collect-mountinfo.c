// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes the /proc/self/mountinfo parser (collect_parse.c) on raw bytes: no crash, no read past the
 * input, and what it accepts obeys the parser's contract.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collect_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy so that ASan catches any read past the end. */
	char *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	{
		struct collect_mount m[COLLECT_NR_HIERS];

		if (collect_parse_mountinfo(buf, size, NULL, m) == 0)
			for (int i = 0; i < COLLECT_NR_HIERS; i++) {
				/* Found mounts are absolute and terminated within their arrays. */
				if (m[i].mount_point[0] &&
				    (m[i].mount_point[0] != '/' ||
				     !memchr(m[i].mount_point, 0, sizeof(m[i].mount_point))))
					abort();
				if (m[i].mount_point[0] && m[i].root[0] != '/')
					abort();
			}
		(void)collect_parse_mountinfo(buf, size, "/sys/fs/cgroup", m);
	}
	free(buf);
	return 0;
}
