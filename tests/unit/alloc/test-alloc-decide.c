// SPDX-License-Identifier: GPL-2.0-or-later
/* Pre-allocation decisions (lead time, give-back hysteresis) and the pool-wide pass. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "alloc.h"
#include "tap.h"

#define H 8

/* A forecast with the given means and the 95 % upper bound at mean + spread. */
static void make_fc(struct forecast_point *fc, const double *mean, double spread)
{
	for (int h = 0; h < H; h++) {
		fc[h] = (struct forecast_point){ .mean = mean[h], .n_levels = 2 };
		fc[h].iv[0] = (struct forecast_interval){ 0.80, mean[h] - spread / 2,
							  mean[h] + spread / 2 };
		fc[h].iv[1] =
			(struct forecast_interval){ 0.95, mean[h] - spread, mean[h] + spread };
	}
}

struct decide_case {
	const char *name;
	double current, used;
	double mean[H];
	uint32_t low_streak, lead;
	double level;
	enum alloc_action action;
	double target, increase, give_back;
	uint32_t next_streak;
};

static void test_decide_table(void)
{
	static const struct decide_case cases[] = {
		{ "first allocation",
		  NAN,
		  NAN,
		  { 4, 4, 4, 4, 4, 4, 4, 4 },
		  0,
		  1,
		  0,
		  ALLOC_SET,
		  5.5,
		  5.5,
		  0,
		  0 },
		{ "keep when covered",
		  6,
		  3,
		  { 4, 4, 4, 4, 4, 4, 4, 4 },
		  0,
		  1,
		  0,
		  ALLOC_KEEP,
		  6,
		  0,
		  0,
		  0 },
		{ "raise for a peak within the lead time",
		  6,
		  3,
		  { 4, 4, 9, 4, 4, 4, 4, 4 },
		  0,
		  3,
		  0,
		  ALLOC_RAISE,
		  11,
		  5,
		  0,
		  0 },
		{ "a peak beyond the lead time waits",
		  6,
		  3,
		  { 4, 4, 9, 4, 4, 4, 4, 4 },
		  0,
		  2,
		  0,
		  ALLOC_KEEP,
		  6,
		  0,
		  0,
		  0 },
		{ "the 80 % level when asked",
		  5,
		  3,
		  { 4, 4, 4, 4, 4, 4, 4, 4 },
		  0,
		  1,
		  0.8,
		  ALLOC_KEEP,
		  5,
		  0,
		  0,
		  0 },
		{ "low once: count",
		  20,
		  3,
		  { 4, 4, 4, 4, 4, 4, 4, 4 },
		  0,
		  1,
		  0,
		  ALLOC_KEEP,
		  20,
		  0,
		  0,
		  1 },
		{ "low three times: give back",
		  20,
		  3,
		  { 4, 4, 4, 4, 4, 4, 4, 4 },
		  2,
		  1,
		  0,
		  ALLOC_LOWER,
		  5.5,
		  0,
		  14.5,
		  0 },
		{ "no give back before a later peak",
		  20,
		  3,
		  { 4, 4, 16, 4, 4, 4, 4, 4 },
		  2,
		  1,
		  0,
		  ALLOC_KEEP,
		  20,
		  0,
		  0,
		  0 },
		{ "give back keeps the later peak",
		  40,
		  3,
		  { 4, 4, 16, 4, 4, 4, 4, 4 },
		  2,
		  1,
		  0,
		  ALLOC_LOWER,
		  18.7,
		  0,
		  21.3,
		  0 },
		{ "saturated: step up",
		  4,
		  3.9,
		  { 2, 2, 2, 2, 2, 2, 2, 2 },
		  0,
		  1,
		  0,
		  ALLOC_RAISE,
		  6,
		  2,
		  0,
		  0 },
		{ "saturated never gives back",
		  20,
		  19.5,
		  { 2, 2, 2, 2, 2, 2, 2, 2 },
		  5,
		  1,
		  0,
		  ALLOC_RAISE,
		  30,
		  10,
		  0,
		  0 },
		{ "capped at max",
		  10,
		  3,
		  { 200, 4, 4, 4, 4, 4, 4, 4 },
		  0,
		  1,
		  0,
		  ALLOC_RAISE,
		  100,
		  90,
		  0,
		  0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct decide_case *c = &cases[i];
		struct forecast_point fc[H];
		struct alloc_params p;
		struct alloc_decision d;
		struct alloc_input in = { c->current, c->used, fc, H, c->low_streak };

		alloc_params_default(POOL_KIND_NET, &p);
		p.headroom = 0.10;
		p.lead_steps = c->lead;
		p.giveback_steps = 4;
		p.level = c->level;
		p.min = 1;
		p.max = 100;
		make_fc(fc, c->mean, 1);
		check_int_eq(alloc_decide(&p, &in, &d), 0);
		if (d.action != c->action || fabs(d.target - c->target) > 1e-9)
			fprintf(stderr, "case '%s': %s %.4g (%s)\n", c->name,
				alloc_action_to_string(d.action), d.target, d.reason);
		check_int_eq(d.action, c->action);
		check_double_near(d.target, c->target, 1e-9);
		check_double_near(d.increase, c->increase, 1e-9);
		check_double_near(d.give_back, c->give_back, 1e-9);
		check_int_eq(d.low_streak, c->next_streak);
		check(d.reason[0] != '\0');
	}
}

static void test_decide_edges(void)
{
	struct alloc_params p;
	struct alloc_decision d;
	struct alloc_input in = { .current = 3, .used = 1 };

	alloc_params_default(POOL_KIND_CPU, &p);
	check_int_eq(alloc_decide(&p, &in, &d), 0);
	check_int_eq(d.action, ALLOC_KEEP);
	check_double_near(d.target, 3, 0);
	check_str_eq(d.reason, "no forecast yet");
	p.lead_steps = 0;
	check_int_eq(alloc_decide(&p, &in, &d), -EINVAL);
	alloc_params_default(POOL_KIND_CPU, &p);
	p.max = p.min / 2;
	check_int_eq(alloc_decide(&p, &in, &d), -EINVAL);
	for (int k = 0; k < POOL_NR_KINDS; k++) {
		alloc_params_default((enum pool_kind)k, &p);
		check_int_eq(alloc_params_validate(&p), 0);
	}
	check_str_eq(alloc_action_to_string(ALLOC_LOWER), "lower");
}

/*
 * Memory of 100, bound 1 %: two VMs shrink, one grows into the room they
 * leave, and a last one's raise does not fit and is refused, keeping what it
 * had.
 */
static void test_pass(void)
{
	static const double shrink[H] = { 5, 5, 5, 5, 5, 5, 5, 5 };
	static const double grow[H] = { 40, 40, 40, 40, 40, 40, 40, 40 };
	static const double huge[H] = { 90, 90, 90, 90, 90, 90, 90, 90 };
	struct forecast_point fc_shrink[H], fc_grow[H], fc_huge[H];
	struct alloc_params params[POOL_NR_KINDS];
	struct alloc_vm vms[4];
	struct alloc_vm_result res[4];
	struct alloc_pass_stats st;
	struct pool p;
	struct pool_dim mem = {
		.kind = POOL_KIND_MEM, .name = "mem", .total = 100, .risk_bound = 0.01
	};

	pool_init(&p);
	check_int_eq(pool_dim_add(&p, &mem, NULL), 0);
	for (int k = 0; k < POOL_NR_KINDS; k++) {
		alloc_params_default((enum pool_kind)k, &params[k]);
		params[k].min = 1;
		params[k].lower_after = 1;
		params[k].headroom = 0;
	}
	make_fc(fc_shrink, shrink, 1);
	make_fc(fc_grow, grow, 1);
	make_fc(fc_huge, huge, 1);
	memset(vms, 0, sizeof(vms));
	for (int v = 0; v < 4; v++) {
		vms[v].cls = POOL_CLASS_GUARANTEED;
		vms[v].n_items = 1;
	}
	/* The grower comes first in the caller's order: it must still see the room. */
	vms[0].items[0] =
		(struct alloc_vm_item){ 0, { 20, 15, fc_grow, H, 0 }, { 15, 0, 20, 0 }, 0 };
	vms[1].items[0] =
		(struct alloc_vm_item){ 0, { 40, 5, fc_shrink, H, 0 }, { 30, 0, 40, 0 }, 0 };
	vms[2].items[0] =
		(struct alloc_vm_item){ 0, { 35, 5, fc_shrink, H, 0 }, { 30, 0, 35, 0 }, 0 };
	vms[3].items[0] = (struct alloc_vm_item){ 0, { 5, 3, fc_huge, H, 0 }, { 3, 0, 5, 0 }, 0 };

	check_int_eq(alloc_pass(&p, params, vms, 4, res, &st), 0);
	check_int_eq(res[1].d[0].action, ALLOC_LOWER);
	check_int_eq(res[2].d[0].action, ALLOC_LOWER);
	check_int_eq(res[0].d[0].action, ALLOC_RAISE);
	check(!res[0].refused);
	check_double_near(res[0].held[0].upper, 41, 1e-9);
	check(res[3].refused);
	check_int_eq(res[3].d[0].action, ALLOC_KEEP);
	check_double_near(res[3].d[0].target, 5, 0);
	check(strstr(res[3].d[0].reason, "refused") != NULL);
	check_int_eq(st.n_refused, 1);
	check_int_eq(st.n_action[ALLOC_LOWER], 2);
	check_int_eq(st.n_action[ALLOC_RAISE], 1);
	check_double_near(st.probability[0], 0, 0);

	/* A VM naming a dimension the pool lacks is refused as a whole. */
	vms[3].items[0].dim = 5;
	check_int_eq(alloc_pass(&p, params, vms, 4, res, &st), -EINVAL);
}

int main(void)
{
	test_decide_table();
	test_decide_edges();
	test_pass();
	return test_result();
}
