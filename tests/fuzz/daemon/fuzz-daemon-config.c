// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes config_parse_string_ex(): any text must either parse or fail with a
 * message naming origin:line, and a failure must leave the config untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg, before;
	char err[CONFIG_ERROR_MAX];
	char *text;
	int r;

	if (size > 256 * 1024)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	config_init_defaults(&cfg);
	before = cfg;
	err[0] = '\0';
	r = config_parse_string_ex(text, "fuzz.conf", &cfg, err, sizeof(err));
	if (r < 0) {
		if (memcmp(&cfg, &before, sizeof(cfg)))
			abort(); /* something was applied on error */
		if (strncmp(err, "fuzz.conf:", 10) && strncmp(err, "configuration:", 14))
			abort(); /* the message does not say where */
	} else if (cfg.cpu_lead_steps > cfg.horizon_steps || cfg.horizon_steps == 0 ||
		   cfg.collect_interval_usec == 0) {
		abort(); /* accepted an out-of-range value */
	}
	free(text);
	return 0;
}
