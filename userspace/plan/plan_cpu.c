// SPDX-License-Identifier: GPL-2.0-or-later
/* CPU allocation decisions from forecasts, with hysteresis; see plan.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plan.h"

static const char *const action_names[PLAN_NR_ACTIONS] = {
	[PLAN_KEEP] = "keep",
	[PLAN_SET] = "set",
	[PLAN_RAISE] = "raise",
	[PLAN_LOWER] = "lower",
};

const char *plan_action_to_string(enum plan_action a)
{
	if ((unsigned)a >= PLAN_NR_ACTIONS)
		return "unknown";
	return action_names[a];
}

void plan_cpu_params_default(struct plan_cpu_params *p)
{
	*p = (struct plan_cpu_params){
		.lead_steps = 5,
		.headroom = 0.10,
		.min_cores = 0.10,
		.max_cores = 1.0,
		.lower_after = 3,
		.lower_ratio = 0.7,
		.saturation_ratio = 0.8,
		.saturation_step = 1.5,
		.min_raise_ratio = 0.05,
	};
}

double plan_forecast_upper(const struct forecast_point *fc, uint32_t horizon, uint32_t lead_steps)
{
	double upper = NAN;
	uint32_t n = lead_steps < horizon ? lead_steps : horizon;

	if (!fc)
		return NAN;
	for (uint32_t h = 0; h < n; h++) {
		double v = fc[h].mean;

		/* The widest level has the highest upper bound. */
		for (uint32_t l = 0; l < fc[h].n_levels && l < FORECAST_MAX_LEVELS; l++)
			if (isfinite(fc[h].iv[l].hi) && fc[h].iv[l].hi > v)
				v = fc[h].iv[l].hi;
		if (isfinite(v) && (isnan(upper) || v > upper))
			upper = v;
	}
	return upper;
}

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static int params_valid(const struct plan_cpu_params *p)
{
	return p->lead_steps > 0 && p->headroom >= 0 && p->min_cores > 0 &&
	       p->max_cores >= p->min_cores && p->lower_ratio > 0 && p->lower_ratio <= 1 &&
	       p->saturation_ratio > 0 && p->saturation_step >= 1 && p->min_raise_ratio >= 0;
}

int plan_cpu_decide(const struct plan_cpu_params *p, const struct plan_cpu_input *in,
		    struct plan_cpu_decision *ret)
{
	struct plan_cpu_decision d = { .action = PLAN_KEEP };
	bool have_current = isfinite(in->current_cores) && in->current_cores > 0;
	double want;

	if (!params_valid(p))
		return -EINVAL;

	d.demand_upper_cores = plan_forecast_upper(in->forecast, in->horizon, p->lead_steps);
	d.target_cores = have_current ? in->current_cores : NAN;

	if (isnan(d.demand_upper_cores)) {
		snprintf(d.reason, sizeof(d.reason), "no forecast yet");
		*ret = d;
		return 0;
	}
	want = clamp(d.demand_upper_cores * (1.0 + p->headroom), p->min_cores, p->max_cores);

	if (have_current && isfinite(in->used_cores) &&
	    in->used_cores >= p->saturation_ratio * in->current_cores &&
	    in->current_cores < p->max_cores) {
		double stepped =
			clamp(in->current_cores * p->saturation_step, p->min_cores, p->max_cores);

		if (stepped > want)
			want = stepped;
		snprintf(d.reason, sizeof(d.reason),
			 "saturated: using %.2f of %.2f cores, demand hidden by the cap",
			 in->used_cores, in->current_cores);
	}

	if (!have_current) {
		d.action = PLAN_SET;
		d.target_cores = want;
		if (!d.reason[0])
			snprintf(d.reason, sizeof(d.reason),
				 "first allocation: forecast upper %.2f cores + %.0f%% headroom",
				 d.demand_upper_cores, p->headroom * 100);
	} else if (want > in->current_cores * (1.0 + p->min_raise_ratio)) {
		d.action = PLAN_RAISE;
		d.target_cores = want;
		if (!d.reason[0])
			snprintf(d.reason, sizeof(d.reason),
				 "forecast upper %.2f cores within lead time exceeds %.2f",
				 d.demand_upper_cores, in->current_cores);
	} else if (want < p->lower_ratio * in->current_cores) {
		d.low_streak = in->low_streak + 1;
		if (d.low_streak >= p->lower_after) {
			d.action = PLAN_LOWER;
			d.target_cores = want;
			d.low_streak = 0;
			snprintf(d.reason, sizeof(d.reason),
				 "forecast upper %.2f cores stayed below %.0f%% of %.2f for %u "
				 "plans",
				 d.demand_upper_cores, p->lower_ratio * 100, in->current_cores,
				 p->lower_after);
		} else {
			snprintf(d.reason, sizeof(d.reason),
				 "demand falling (%u of %u low plans before lowering)",
				 d.low_streak, p->lower_after);
		}
	} else {
		snprintf(d.reason, sizeof(d.reason),
			 "allocation %.2f cores covers forecast upper %.2f", in->current_cores,
			 d.demand_upper_cores);
	}
	*ret = d;
	return 0;
}
