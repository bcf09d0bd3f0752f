// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes the io.max and io.weight parsers on whole files: no crash; a device
 * found in io.max with valid limits formats to a line that parses back to
 * the same limits; io.weight answers are within 1..10000.
 */
#include "cgroupfs.h"
#include <stdio.h>

#include "fuzz-enforce-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct enforce_io_max a, b;
	char buf[ENFORCE_CG_LINE_MAX];
	uint32_t maj = 0, min = 0, w;
	char *s = fuzz_cstr(data, size);

	if (!s)
		return 0;
	/* Look up the device of the first line, if it names one. */
	sscanf(s, "%u:%u", &maj, &min);
	if (enforce_io_max_find(s, maj, min, &a) == 0 && enforce_io_max_validate(&a) == 0) {
		if (enforce_io_max_format(&a, buf, sizeof(buf)) != 0 ||
		    enforce_io_max_parse_line(buf, strlen(buf), &b) != 0 ||
		    memcmp(&a, &b, sizeof(a)) != 0)
			abort();
	}
	if (enforce_io_weight_find(s, false, maj, min, &w) == 0 &&
	    (w < ENFORCE_IO_WEIGHT_MIN || w > ENFORCE_IO_WEIGHT_MAX))
		abort();
	if (enforce_io_weight_find(s, true, 0, 0, &w) == 0 &&
	    (w < ENFORCE_IO_WEIGHT_MIN || w > ENFORCE_IO_WEIGHT_MAX))
		abort();
	free(s);
	return 0;
}
