// SPDX-License-Identifier: GPL-2.0-or-later
/* Table-driven tests of the CPU allocation decision and its hysteresis. */
#include <errno.h>
#include <math.h>

#include "plan.h"
#include "tap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A forecast whose every step has the given mean and 95 % upper bound. */
static void make_forecast(struct forecast_point *fc, uint32_t n, double mean, double hi)
{
	for (uint32_t i = 0; i < n; i++) {
		fc[i] = (struct forecast_point){ .mean = mean, .n_levels = 2 };
		fc[i].iv[0] = (struct forecast_interval){ 0.80, mean - (hi - mean) / 2,
							  mean + (hi - mean) / 2 };
		fc[i].iv[1] = (struct forecast_interval){ 0.95, mean - (hi - mean), hi };
	}
}

struct decide_case {
	const char *name;
	double current, used, mean, hi;
	uint32_t low_streak;
	enum plan_action action;
	double target;
	uint32_t next_streak;
};

static void test_decide_table(void)
{
	static const struct decide_case cases[] = {
		{ "first allocation", NAN, 0.1, 0.2, 0.4, 0, PLAN_SET, 0.44, 0 },
		{ "first allocation floors at min", 0, 0.0, 0.0, 0.01, 0, PLAN_SET, 0.10, 0 },
		{ "raise when upper exceeds", 0.5, 0.3, 0.5, 0.8, 0, PLAN_RAISE, 0.88, 0 },
		{ "raise clipped at max", 0.5, 0.3, 1.5, 2.5, 0, PLAN_RAISE, 1.0, 0 },
		{ "keep when covered", 1.0, 0.6, 0.7, 0.85, 2, PLAN_KEEP, 1.0, 0 },
		{ "ignore a tiny raise", 1.0, 0.6, 0.8, 0.9, 0, PLAN_KEEP, 1.0, 0 },
		{ "low once: keep, count", 1.0, 0.1, 0.1, 0.2, 0, PLAN_KEEP, 1.0, 1 },
		{ "low twice: keep, count", 1.0, 0.1, 0.1, 0.2, 1, PLAN_KEEP, 1.0, 2 },
		{ "low third time: lower", 1.0, 0.1, 0.1, 0.2, 2, PLAN_LOWER, 0.22, 0 },
		{ "saturated steps up", 0.4, 0.39, 0.38, 0.40, 0, PLAN_RAISE, 0.6, 0 },
		{ "no forecast: keep", 0.5, 0.3, NAN, NAN, 0, PLAN_KEEP, 0.5, 0 },
	};
	struct plan_cpu_params p;

	plan_cpu_params_default(&p);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct decide_case *c = &cases[i];
		struct forecast_point fc[8];
		struct plan_cpu_input in = {
			.current_cores = c->current,
			.used_cores = c->used,
			.forecast = isnan(c->mean) ? NULL : fc,
			.horizon = 8,
			.low_streak = c->low_streak,
		};
		struct plan_cpu_decision d;

		make_forecast(fc, 8, c->mean, c->hi);
		check_int_eq(plan_cpu_decide(&p, &in, &d), 0);
		if (d.action != c->action || fabs(d.target_cores - c->target) > 1e-9 ||
		    d.low_streak != c->next_streak)
			fprintf(stderr, "case '%s': action %s target %.3f streak %u (%s)\n",
				c->name, plan_action_to_string(d.action), d.target_cores,
				d.low_streak, d.reason);
		check_int_eq(d.action, c->action);
		check_double_near(d.target_cores, c->target, 1e-9);
		check_int_eq(d.low_streak, c->next_streak);
		check(d.reason[0] != '\0');
	}
}

static void test_upper_uses_lead_time_only(void)
{
	struct forecast_point fc[10];

	make_forecast(fc, 10, 0.2, 0.3);
	make_forecast(&fc[7], 1, 0.9, 1.2); /* a spike beyond the lead time */
	check_double_near(plan_forecast_upper(fc, 10, 5), 0.3, 1e-12);
	check_double_near(plan_forecast_upper(fc, 10, 8), 1.2, 1e-12);
	check_double_near(plan_forecast_upper(fc, 3, 8), 0.3, 1e-12);
	check(isnan(plan_forecast_upper(NULL, 10, 5)));
}

/* A demand that ramps up then down: raised before its peak, lowered after. */
static void test_ramp_sequence(void)
{
	static const double demand[] = { 0.1, 0.1, 0.2, 0.4, 0.6, 0.8, 0.8, 0.8,
					 0.5, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1 };
	struct plan_cpu_params p;
	double alloc = NAN;
	uint32_t streak = 0, n_lower = 0, raised_by = 0;

	plan_cpu_params_default(&p);
	for (size_t t = 0; t < ARRAY_SIZE(demand); t++) {
		struct forecast_point fc[8];
		/* An oracle forecast: next steps' demand with a 20 % band. */
		double next = demand[t + 1 < ARRAY_SIZE(demand) ? t + 1 : t];
		struct plan_cpu_input in = { alloc, demand[t], fc, 8, streak };
		struct plan_cpu_decision d;

		make_forecast(fc, 8, next, next * 1.2);
		check_int_eq(plan_cpu_decide(&p, &in, &d), 0);
		alloc = d.target_cores;
		streak = d.low_streak;
		if (d.action == PLAN_LOWER)
			n_lower++;
		if (!raised_by && alloc >= 0.8)
			raised_by = (uint32_t)t;
		/* Never below what the next step needs. */
		check(alloc >= next - 1e-9);
	}
	check(raised_by > 0 && raised_by < 5); /* before the peak at t = 5 */
	check_int_eq(n_lower, 1);	       /* lowered once, not flapping */
	check(alloc < 0.3);
}

static void test_invalid_params(void)
{
	struct plan_cpu_params p;
	struct plan_cpu_input in = { 1, 0.5, NULL, 0, 0 };
	struct plan_cpu_decision d;

	plan_cpu_params_default(&p);
	p.min_cores = 2;
	p.max_cores = 1;
	check_int_eq(plan_cpu_decide(&p, &in, &d), -EINVAL);
}

int main(void)
{
	test_decide_table();
	test_upper_uses_lead_time_only();
	test_ramp_sequence();
	test_invalid_params();
	return test_result();
}
