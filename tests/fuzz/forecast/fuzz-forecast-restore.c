// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzer of forecast_restore(), the parser of checkpoint files read back at
 * daemon start. The first input byte selects the mode: even, the rest is
 * restored as is (exercises the envelope: magic, version, length, checksum);
 * odd, the length and checksum are recomputed first so the mutations reach
 * the structural checks behind them. Whatever is accepted must forecast,
 * update and checkpoint again without fault.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "forecast.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The checkpoint envelope: 8-byte magic, version, byte-order mark, body length, body, FNV-1a 64. */
#define ENVELOPE_HEAD 20
#define ENVELOPE_TAIL 8

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct forecaster *f = NULL, *g = NULL;
	struct forecast_point p[64];
	uint8_t *buf;
	size_t len;
	void *again = NULL;
	size_t again_len = 0;
	int r;

	if (size < 1)
		return 0;
	len = size - 1;
	buf = malloc(len ? len : 1);
	if (!buf)
		abort();
	memcpy(buf, data + 1, len);
	if ((data[0] & 1) && len >= ENVELOPE_HEAD + ENVELOPE_TAIL) {
		uint32_t body = (uint32_t)(len - ENVELOPE_HEAD - ENVELOPE_TAIL);
		uint64_t sum;

		memcpy(buf + 16, &body, sizeof(body));
		sum = fnv1a64(buf, len - ENVELOPE_TAIL);
		memcpy(buf + len - ENVELOPE_TAIL, &sum, sizeof(sum));
	}

	r = forecast_restore(buf, len, &f);
	if (r < 0) {
		if (r != -EBADMSG && r != -ENOMEM)
			abort();
		free(buf);
		return 0;
	}
	/* Accepted: it must behave. */
	uint32_t h = 1;

	while (h < 64 && forecast_predict(f, h + 1, p) != -EINVAL)
		h++;
	r = forecast_predict(f, h, p);
	if (r == 0)
		for (uint32_t i = 0; i < h; i++)
			for (uint32_t l = 0; l < p[i].n_levels; l++)
				if (p[i].iv[l].lo > p[i].iv[l].hi)
					abort();
	for (int i = 0; i < 5; i++)
		forecast_update(f, i == 2 ? NAN : 10.0 * i);
	forecast_predict(f, 1, p);
	(void)forecast_coverage(f, 0.95);
	(void)forecast_model_current(f);
	if (forecast_checkpoint(f, &again, &again_len) == 0) {
		if (forecast_restore(again, again_len, &g) != 0)
			abort();
		forecast_free(g);
		free(again);
	}
	forecast_free(f);
	free(buf);
	return 0;
}
