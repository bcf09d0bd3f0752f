// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes the PSI parsers (cpu/memory/io.pressure) (collect_parse.c) on raw
 * bytes: no crash, no read past the input, and what they accept obeys the
 * contract: avg10 within 0..100, both entry points agree, and the total is
 * exactly the digits after the first line's "total=" (the "some" line's, never
 * the "full" line's).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collect_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The first line's total, recomputed the obvious way from an accepted input. */
static uint64_t first_line_total(const char *buf, size_t size)
{
	static const char key[] = " total=";
	const char *nl = memchr(buf, '\n', size);
	size_t end = nl ? (size_t)(nl - buf) : size, at = 0;
	uint64_t v = 0;

	for (size_t i = 0; i + sizeof(key) - 1 <= end; i++)
		if (memcmp(buf + i, key, sizeof(key) - 1) == 0)
			at = i + sizeof(key) - 1;
	if (!at)
		abort(); /* accepted without a total field */
	for (size_t i = at; i < end; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			abort(); /* accepted a total that is not plain decimal */
		v = v * 10 + (uint64_t)(buf[i] - '0');
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy so that ASan catches any read past the end. */
	char *buf = malloc(size ? size : 1);
	double avg10 = -1, v = -1;
	uint64_t total = 0;
	int r, r_old;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	r = collect_parse_psi_some(buf, size, &avg10, &total);
	r_old = collect_parse_psi_some_avg10(buf, size, &v);
	if (r != r_old)
		abort();
	if (r == 0) {
		if (!(avg10 >= 0 && avg10 <= 100) || v != avg10)
			abort();
		/* The parser refuses overflow, so the wrapping recomputation matches. */
		if (total != first_line_total(buf, size))
			abort();
	}
	free(buf);
	return 0;
}
