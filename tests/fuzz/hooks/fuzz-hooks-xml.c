// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes hook_xml_domain_id() on arbitrary stdin: no read past the input, and
 * whatever it returns is a plain string of bounded length and a UUID that is
 * either empty or well formed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hook_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy so that ASan catches any read past the end. */
	char *copy = malloc(size ? size : 1);
	struct hook_domain_id id;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (hook_xml_domain_id(copy, size, &id) == 0) {
		size_t u = strnlen(id.uuid, sizeof(id.uuid));

		if (u == sizeof(id.uuid) || (u != 0 && u != HOOK_UUID_LEN))
			abort();
		if (strnlen(id.name, sizeof(id.name)) == sizeof(id.name))
			abort();
	}
	free(copy);
	return 0;
}
