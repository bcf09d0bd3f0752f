// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes the cpu.max and cpu.weight parsers: no crash, weights in range, and
 * an accepted cpu.max that the kernel would take formats and parses back.
 */
#include "cgroupfs.h"
#include "fuzz-enforce-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct enforce_cpu_max a, b;
	char buf[ENFORCE_CG_LINE_MAX];
	uint32_t w;
	char *s = fuzz_cstr(data, size);

	if (!s)
		return 0;
	if (enforce_cpu_max_parse(s, &a) == 0 && enforce_cpu_max_validate(&a) == 0) {
		if (enforce_cpu_max_format(&a, buf, sizeof(buf)) != 0 ||
		    enforce_cpu_max_parse(buf, &b) != 0 || a.quota_usec != b.quota_usec ||
		    a.period_usec != b.period_usec)
			abort();
	}
	if (enforce_weight_parse(s, &w) == 0 &&
	    (w < ENFORCE_CPU_WEIGHT_MIN || w > ENFORCE_CPU_WEIGHT_MAX))
		abort();
	free(s);
	return 0;
}
