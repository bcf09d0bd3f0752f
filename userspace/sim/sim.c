// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * prescient-sim: offline tools over recorded traces, one subcommand each.
 */
#include <stdio.h>
#include <string.h>

#include "sim.h"

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fprintf(argc < 2 ? stderr : stdout, "Usage: prescient-sim forecast --help\n");
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "forecast"))
		return sim_forecast_main(argc - 1, argv + 1);
	fprintf(stderr, "prescient-sim: unknown command '%s'\n", argv[1]);
	return 2;
}
