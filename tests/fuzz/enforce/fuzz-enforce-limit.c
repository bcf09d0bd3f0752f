// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes the "max"-or-bytes parser (memory.min/low/high/max, hugetlb.*.max):
 * no crash, and an accepted value formats and parses back to itself.
 */
#include "cgroupfs.h"
#include "fuzz-enforce-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t a, b;
	char buf[32];
	char *s = fuzz_cstr(data, size);

	if (!s)
		return 0;
	if (enforce_limit_parse(s, &a) == 0) {
		if (enforce_limit_format(a, buf, sizeof(buf)) != 0 ||
		    enforce_limit_parse(buf, &b) != 0 || a != b)
			abort();
	}
	free(s);
	return 0;
}
