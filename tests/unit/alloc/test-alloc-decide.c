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

/* One forecast step with 80, 95 and 99 % intervals, the 99 % one far out (a spiky series). */
static void make_spiky_fc(struct forecast_point *fc, double mean)
{
	for (int h = 0; h < H; h++) {
		fc[h] = (struct forecast_point){ .mean = mean, .n_levels = 3 };
		fc[h].iv[0] = (struct forecast_interval){ 0.80, mean - 0.5, mean + 0.5 };
		fc[h].iv[1] = (struct forecast_interval){ 0.95, mean - 1, mean + 1 };
		fc[h].iv[2] = (struct forecast_interval){ 0.99, mean - 1, mean + 5 };
	}
}

static void test_item_held(void)
{
	const double z95 = risk_normal_quantile(0.975), z99 = risk_normal_quantile(0.995);
	struct forecast_point fc[H];
	struct alloc_params p;
	struct risk_dist d;

	alloc_params_default(POOL_KIND_NET, &p);
	p.lead_steps = 1;
	make_spiky_fc(fc, 4);

	/* No bound: the widest interval's spread, as risk_dist_from_forecast() reads it. */
	check_int_eq(alloc_item_held(&p, fc, H, 20, 0.3, 0, &d), 0);
	check_double_near(d.mean, 4, 1e-12);
	check_double_near(d.sd, 5 / z99, 1e-9);
	check_double_near(d.upper, 20, 0);
	check_double_near(d.loading, 0.3, 0);
	/* A 5 % bound reads the 95 % interval, a 1 % bound the 99 % one. */
	check_int_eq(alloc_item_held(&p, fc, H, 20, 0, 0.05, &d), 0);
	check_double_near(d.sd, 1 / z95, 1e-9);
	check_int_eq(alloc_item_held(&p, fc, H, 20, 0, 0.01, &d), 0);
	check_double_near(d.sd, 5 / z99, 1e-9);

	/* Capped at 4.5 with a mean of 4, no demand spreads wider than sqrt(4 * 0.5). */
	check_int_eq(alloc_item_held(&p, fc, H, 4.5, 0, 0, &d), 0);
	check_double_near(d.sd, sqrt(2), 1e-12);
	check(d.sd < 5 / z99);
	/* Below the mean: the mean is the cap and nothing spreads. */
	check_int_eq(alloc_item_held(&p, fc, H, 3, 0, 0.05, &d), 0);
	check_double_near(d.mean, 3, 0);
	check_double_near(d.sd, 0, 0);

	/* No forecast: the target, held as it is. */
	check_int_eq(alloc_item_held(&p, NULL, 0, 7, 0, 0.05, &d), 0);
	check_double_near(d.mean, 7, 0);
	check_double_near(d.sd, 0, 0);
	check_double_near(d.upper, 7, 0);
	check_int_eq(alloc_item_held(&p, fc, H, NAN, 0, 0.05, &d), -EINVAL);
}

/*
 * The reserve of a burstable set is the capacity at which admission accepts
 * the last of them with no room to spare: a little less and it is refused.
 */
static void test_burst_reserve(void)
{
	static const struct risk_dist set[] = {
		{ 4, 2, 10, 0.5 },
		{ 1, 3, 12, 0.2 },
		{ 6, 1, 9, 0.8 },
		{ 2, 2.5, 11, 0 },
	};
	const size_t n = sizeof(set) / sizeof(set[0]);
	struct risk_acc acc = { 0 };
	double reserve;

	for (size_t i = 0; i < n; i++)
		risk_acc_add(&acc, &set[i]);
	reserve = alloc_burst_reserve(&acc, 0.05);
	check(reserve > acc.mean);
	check(reserve < 10 + 12 + 9 + 11);
	check_double_near(risk_acc_exceed_prob(&acc, reserve), 0.05, 1e-9);
	check(isnan(alloc_burst_reserve(&acc, 0)));
	check(isnan(alloc_burst_reserve(&acc, 0.5)));

	for (int k = 0; k < 2; k++) {
		struct pool_dim dim = { .kind = POOL_KIND_NET,
					.name = "net",
					.total = k ? reserve * 0.999 : reserve * 1.000001,
					.risk_bound = 0.05 };
		struct admit_state st;
		struct admit_request req = { .cls = POOL_CLASS_BURSTABLE, .n_items = 1 };
		enum admit_verdict v;
		struct pool p;

		pool_init(&p);
		check_int_eq(pool_dim_add(&p, &dim, NULL), 0);
		admit_state_init(&st, &p);
		for (size_t i = 0; i + 1 < n; i++) {
			req.items[0] = (struct admit_item){ 0, set[i] };
			admit_state_apply(&st, &p, &req, +1);
		}
		req.items[0] = (struct admit_item){ 0, set[n - 1] };
		check_int_eq(admit_check(&p, &st, &req, &v), 0);
		check_int_eq(v, k ? ADMIT_REFUSE : ADMIT_ACCEPT);
	}
}

/*
 * The pass books what alloc_item_held() gives: a burstable VM capped well
 * below its forecast's far tail holds no more spread than its cap allows.
 */
static void test_pass_held_bounded(void)
{
	struct forecast_point fc[H];
	struct alloc_params params[POOL_NR_KINDS];
	struct alloc_vm vm;
	struct alloc_vm_result res;
	struct risk_dist want;
	struct pool p;
	struct pool_dim net = {
		.kind = POOL_KIND_NET, .name = "net", .total = 1000, .risk_bound = 0.05
	};

	pool_init(&p);
	check_int_eq(pool_dim_add(&p, &net, NULL), 0);
	for (int k = 0; k < POOL_NR_KINDS; k++) {
		alloc_params_default((enum pool_kind)k, &params[k]);
		params[k].headroom = 0;
		params[k].level = 0.80;
	}
	params[POOL_KIND_NET].max = 4.6;
	make_spiky_fc(fc, 4);
	memset(&vm, 0, sizeof(vm));
	vm.cls = POOL_CLASS_BURSTABLE;
	vm.n_items = 1;
	vm.items[0] = (struct alloc_vm_item){
		.dim = 0,
		.in = { .current = NAN, .used = NAN, .fc = fc, .horizon = H },
		.loading = 0.4,
	};
	check_int_eq(alloc_pass(&p, params, &vm, 1, &res, NULL), 0);
	check_int_eq(res.d[0].action, ALLOC_SET);
	check_double_near(res.d[0].target, 4.5, 1e-12);
	check_int_eq(alloc_item_held(&params[POOL_KIND_NET], fc, H, 4.5, 0.4, 0.05, &want), 0);
	check_double_near(res.held[0].mean, want.mean, 0);
	check_double_near(res.held[0].sd, want.sd, 0);
	check(res.held[0].sd <= sqrt(4 * 0.5) + 1e-12);
	check_double_near(res.held[0].upper, 4.5, 1e-12);
	check_double_near(res.held[0].loading, 0.4, 0);
}

int main(void)
{
	test_decide_table();
	test_decide_edges();
	test_pass();
	test_item_held();
	test_burst_reserve();
	test_pass_held_bounded();
	return test_result();
}
