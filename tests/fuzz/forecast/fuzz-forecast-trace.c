// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzer of the evaluation command's trace readers (userspace/sim/sim-trace.c):
 * the input goes to an in-memory file, read back by every source's parser
 * and for every resource; what parses must be a non-empty series.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = memfd_create("fuzz-trace", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	for (int s = 0; s < SIM_NR_SOURCES; s++)
		for (int r = 0; r < SIM_NR_RESOURCES; r++) {
			double *y = NULL;
			size_t n = 0;

			if (sim_trace_read(path, (enum sim_source)s, (enum sim_resource)r, &y,
					   &n) == 0) {
				if (!y || n == 0)
					abort();
				free(y);
			}
		}
	close(fd);
	return 0;
}
