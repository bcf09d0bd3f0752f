// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes the PSI parser (cpu/memory/io.pressure) (collect_parse.c) on raw bytes: no crash, no read
 * past the input, and what it accepts obeys the parser's contract.
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
		double v;

		if (collect_parse_psi_some_avg10(buf, size, &v) == 0 && !(v >= 0 && v <= 100))
			abort();
	}
	free(buf);
	return 0;
}
