// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes the cpuset list parser (cpuset.cpus, cpuset.cpus.effective): no
 * crash, and an accepted set formats to a list that parses to the same set.
 */
#include "cpuset.h"
#include "fuzz-enforce-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct enforce_cpuset a, b;
	static char buf[16384];
	char *s = fuzz_cstr(data, size);

	if (!s)
		return 0;
	if (enforce_cpuset_parse(s, &a) == 0) {
		if (enforce_cpuset_format(&a, buf, sizeof(buf)) != 0 ||
		    enforce_cpuset_parse(buf, &b) != 0 || !enforce_cpuset_equal(&a, &b))
			abort();
	}
	free(s);
	return 0;
}
