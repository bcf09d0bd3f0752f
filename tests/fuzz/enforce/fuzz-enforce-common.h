/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by the enforce fuzzers: a NUL-terminated exact-size copy of the input. */
#ifndef PRESCIENT_FUZZ_ENFORCE_COMMON_H
#define PRESCIENT_FUZZ_ENFORCE_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ASan catches any read past the terminator. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		return NULL;
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
