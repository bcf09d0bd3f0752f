// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes host_pool_meminfo_parse() (the /proc/meminfo reader of the host
 * pool): any text either parses into 0 <= available <= total, finite, or
 * fails with -EINVAL or -ENODATA leaving the outputs untouched.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host_pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	double total = -1, avail = -1;
	char *text;
	int r;

	if (size > 64 * 1024)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	r = host_pool_meminfo_parse(text, &total, &avail);
	if (r == 0) {
		if (!isfinite(total) || !isfinite(avail) || avail < 0 || avail > total)
			abort();
	} else if ((r != -EINVAL && r != -ENODATA) || total != -1 || avail != -1) {
		abort();
	}
	free(text);
	return 0;
}
