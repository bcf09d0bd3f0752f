// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes the cpuset list parser (cpuset.cpus.effective, machine.slice's
 * cpuset): whatever it accepts must format back to a list that parses to the
 * same set, in at most the bytes the set needs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pool_cpuset set, again;
	char *s, out[8192];

	if (size > 65536)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (pool_cpuset_parse(s, &set) == 0) {
		if (pool_cpuset_format(&set, out, sizeof(out)) != 0)
			abort();
		if (pool_cpuset_parse(out, &again) != 0 || memcmp(&set, &again, sizeof(set)))
			abort();
		if (pool_cpuset_count(&set) > POOL_MAX_CPUS)
			abort();
	}
	free(s);
	return 0;
}
