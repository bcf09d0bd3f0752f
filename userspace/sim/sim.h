/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * prescient-sim: offline tools over recorded traces. `forecast` runs the
 * rolling-origin evaluation of the forecaster on trace files.
 */
#ifndef PRESCIENT_SIM_H
#define PRESCIENT_SIM_H

#include <stddef.h>

#define SIM_STEP_SEC 300.0

enum sim_source {
	SIM_SOURCE_AZURE,
	SIM_SOURCE_BITBRAINS,
	SIM_SOURCE_PLANETLAB,
	SIM_NR_SOURCES,
};

enum sim_resource {
	SIM_RESOURCE_CPU,
	SIM_RESOURCE_MEM,
	SIM_RESOURCE_DISK_READ,
	SIM_RESOURCE_DISK_WRITE,
	SIM_RESOURCE_NET_RX,
	SIM_RESOURCE_NET_TX,
	SIM_NR_RESOURCES,
};

int sim_source_from_string(const char *s, enum sim_source *ret);
int sim_resource_from_string(const char *s, enum sim_resource *ret);
const char *sim_resource_to_string(enum sim_resource r);

/* One series on the 300-s grid (NAN = gap); caller frees *ret_y. */
int sim_trace_read(const char *path, enum sim_source src, enum sim_resource res, double **ret_y,
		   size_t *ret_n);

int sim_forecast_main(int argc, char **argv);

#endif
