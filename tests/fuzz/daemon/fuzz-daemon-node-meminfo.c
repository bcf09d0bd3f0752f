// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes host_pool_node_meminfo_parse() (node<N>/meminfo, the free memory a
 * node's hugepage pools may grow into): the first byte picks the node, the
 * rest is the text; it either parses into a finite, non-negative byte count
 * or fails with -EINVAL or -ENODATA leaving the output untouched.
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
	double free_bytes = -1;
	uint32_t node;
	char *text;
	int r;

	if (size < 1 || size > 64 * 1024)
		return 0;
	node = data[0] % 20;
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	r = host_pool_node_meminfo_parse(text, node, &free_bytes);
	if (r == 0) {
		if (!isfinite(free_bytes) || free_bytes < 0)
			abort();
	} else if ((r != -EINVAL && r != -ENODATA) || free_bytes != -1) {
		abort();
	}
	free(text);
	return 0;
}
