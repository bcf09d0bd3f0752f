/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * plan: decides each VM's CPU allocation from its forecast, before the
 * demand arrives. Pure: same input, same decision; nothing is touched.
 *
 * The allocation follows the forecast's upper bound over the lead time plus
 * headroom. It is raised as soon as that bound exceeds it, and lowered only
 * after the bound has stayed well below it (lower_ratio) for lower_after
 * consecutive plans, so allocations do not flap. A VM running at its cap
 * hides its true demand (a capped series cannot forecast above the cap), so
 * saturation raises the allocation by a fixed step to let demand show.
 */
#ifndef PRESCIENT_PLAN_H
#define PRESCIENT_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "forecast.h"
/* The allocation engine: pool, risk, admission, leases, pre-allocation. */
#include "alloc.h"
#include "lease.h"
#include "safety.h"

enum plan_action {
	PLAN_KEEP,
	PLAN_SET, /* first allocation of a VM that had none */
	PLAN_RAISE,
	PLAN_LOWER,
	PLAN_NR_ACTIONS,
};

struct plan_cpu_params {
	uint32_t lead_steps; /* forecast steps looked ahead */
	double headroom;     /* target = upper * (1 + headroom) */
	double min_cores;
	double max_cores;	 /* > 0 */
	uint32_t lower_after;	 /* consecutive low plans before lowering */
	double lower_ratio;	 /* low means target < lower_ratio * current */
	double saturation_ratio; /* used >= ratio * current means capped, e.g. 0.8 */
	double saturation_step;	 /* raise a capped VM by this factor, e.g. 1.5 */
	double min_raise_ratio;	 /* ignore raises smaller than this share of current */
};

struct plan_cpu_input {
	double current_cores;		       /* <= 0 or NAN: no allocation yet (unlimited) */
	double used_cores;		       /* latest measured use, NAN if unknown */
	const struct forecast_point *forecast; /* NULL when no forecast yet */
	uint32_t horizon;		       /* entries in forecast */
	uint32_t low_streak;		       /* from the previous decision */
};

struct plan_cpu_decision {
	enum plan_action action;
	double target_cores;	   /* the allocation after this decision */
	double demand_upper_cores; /* forecast upper bound over the lead time */
	uint32_t low_streak;	   /* carry into the next input */
	char reason[128];
};

void plan_cpu_params_default(struct plan_cpu_params *p);
/* The widest interval's upper bound over steps 1..lead (clipped to horizon); NAN if none. */
double plan_forecast_upper(const struct forecast_point *fc, uint32_t horizon, uint32_t lead_steps);
/* -EINVAL on inconsistent parameters. */
int plan_cpu_decide(const struct plan_cpu_params *p, const struct plan_cpu_input *in,
		    struct plan_cpu_decision *ret);
const char *plan_action_to_string(enum plan_action a);

#endif
