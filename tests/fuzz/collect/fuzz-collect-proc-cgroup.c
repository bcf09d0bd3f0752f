// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes the /proc/<pid>/cgroup parser (collect_parse.c) on raw bytes: no crash, no read past the
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
		struct collect_proc_cgroup pc;

		if (collect_parse_proc_cgroup(buf, size, &pc) == 0)
			for (int i = 0; i < COLLECT_NR_HIERS; i++)
				if (!memchr(pc.path[i], 0, sizeof(pc.path[i])) ||
				    (pc.path[i][0] && pc.path[i][0] != '/'))
					abort();
	}
	free(buf);
	return 0;
}
