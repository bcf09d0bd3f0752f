// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes the ledger checkpoint parser, the one reader of a file that may be
 * truncated, corrupt or from another version: anything it accepts must hold
 * only valid states, classes and distributions. Each input is tried as it is
 * and again with its trailing CRC made right, so that mutations reach the
 * record parser instead of stopping at the checksum.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lease.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_and_check(const uint8_t *data, size_t size)
{
	struct ledger_checkpoint c;

	if (ledger_checkpoint_parse(data, size, &c) < 0)
		return;
	for (size_t i = 0; i < c.n_leases; i++) {
		const struct ledger_checkpoint_lease *cl = &c.leases[i];

		if ((unsigned)cl->lease.state >= LEASE_NR_STATES ||
		    (unsigned)cl->lease.admit.cls >= POOL_NR_CLASSES ||
		    cl->lease.admit.n_items > ADMIT_MAX_ITEMS || !cl->lease.holder[0])
			abort();
		for (uint32_t k = 0; k < cl->lease.admit.n_items; k++)
			if (!isfinite(cl->items[k].demand.mean) || cl->items[k].demand.sd < 0 ||
			    !cl->items[k].dim[0])
				abort();
	}
	ledger_checkpoint_done(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	uint32_t crc = 0xffffffffu;

	parse_and_check(data, size);
	if (size < 8 || size > (1u << 20))
		return 0;
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	for (size_t i = 0; i < size - 4; i++) {
		crc ^= copy[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	crc = ~crc;
	for (int k = 0; k < 4; k++)
		copy[size - 4 + k] = (uint8_t)(crc >> (8 * k));
	parse_and_check(copy, size);
	free(copy);
	return 0;
}
