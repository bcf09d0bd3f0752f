// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes the flat keyed parser (cpu.stat, memory.stat) and the one-number parser (collect_parse.c)
 * on raw bytes: no crash, no read past the input, and what it accepts obeys the parser's contract.
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
		static const char *const keys[] = { "usage_usec", "anon", "file_mapped",
						    "total_rss" };
		uint64_t v[4], one;
		uint32_t found = 0xdead;

		if (collect_parse_keyed(buf, size, keys, 4, v, &found) == 0 && (found & ~0xfu))
			abort();
		if (collect_parse_u64_file(buf, size, &one) == 0 && size == 0)
			abort();
	}
	free(buf);
	return 0;
}
