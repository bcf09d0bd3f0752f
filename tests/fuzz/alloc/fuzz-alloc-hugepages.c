// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes the hugepage sysfs parsers: the directory name, and the
 * nr_hugepages / free_hugepages pair (input split at the first '|'); an
 * accepted pair must never show more pages free than the pool has.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pool p;
	uint64_t kb, v;
	uint32_t idx;
	char *s, *bar;

	if (size > 4096)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (pool_hugepages_dir_parse(s, &kb) == 0 && (kb < 4 || (kb & (kb - 1))))
		abort();
	(void)pool_hugepages_count_parse(s, &v);
	bar = strchr(s, '|');
	if (bar) {
		*bar = '\0';
		pool_init(&p);
		if (pool_hugepages_dim_set(&p, 0, 2048, s, bar + 1, &idx) == 0 &&
		    !(p.dims[idx].observed_free <= p.dims[idx].total))
			abort();
	}
	free(s);
	return 0;
}
