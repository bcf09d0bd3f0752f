// SPDX-License-Identifier: GPL-2.0-or-later
/* Pre-allocation from forecasts for every resource, and the pool-wide pass; see alloc.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

static const char *const action_names[ALLOC_NR_ACTIONS] = {
	[ALLOC_KEEP] = "keep",
	[ALLOC_SET] = "set",
	[ALLOC_RAISE] = "raise",
	[ALLOC_LOWER] = "lower",
};

const char *alloc_action_to_string(enum alloc_action a)
{
	return (unsigned)a < ALLOC_NR_ACTIONS ? action_names[a] : "unknown";
}

void alloc_params_default(enum pool_kind kind, struct alloc_params *p)
{
	*p = (struct alloc_params){
		.lead_steps = 1,
		.giveback_steps = 3,
		.level = 0,
		.headroom = 0.10,
		.min = 0,
		.max = INFINITY,
		.lower_after = 3,
		.lower_ratio = 0.7,
		.saturation_ratio = 0.95,
		.saturation_step = 1.5,
	};
	switch (kind) {
	case POOL_KIND_CPU:
		p->min = 0.05; /* cores: enough for a guest to boot and be measured */
		break;
	case POOL_KIND_MEM:
		p->min = 64.0 * 1024 * 1024;
		/* Memory is given back slowly: reclaim costs the guest more than CPU. */
		p->lower_after = 6;
		p->lower_ratio = 0.8;
		break;
	case POOL_KIND_HUGEPAGES:
		/* Growing a pool of hugepages takes time and can fail: ask early, keep long. */
		p->lead_steps = 5;
		p->giveback_steps = 30;
		p->headroom = 0;
		p->lower_after = 30;
		p->saturation_ratio = 0;
		break;
	default:
		p->min = 1; /* kbps */
		break;
	}
}

int alloc_params_validate(const struct alloc_params *p)
{
	if (p->lead_steps == 0 || !(p->level >= 0 && p->level < 1) || !(p->headroom >= 0) ||
	    !(p->min >= 0) || !(p->max >= p->min) || p->lower_after == 0 ||
	    !(p->lower_ratio > 0 && p->lower_ratio <= 1) || !(p->saturation_ratio >= 0) ||
	    !(p->saturation_step >= 1) || !isfinite(p->min) || isnan(p->max))
		return -EINVAL;
	return 0;
}

static double point_upper(const struct forecast_point *fp, double level)
{
	double v = fp->mean, widest = -1, best_gap = INFINITY, chosen = NAN;

	for (uint32_t l = 0; l < fp->n_levels && l < FORECAST_MAX_LEVELS; l++) {
		const struct forecast_interval *iv = &fp->iv[l];

		if (!isfinite(iv->hi))
			continue;
		if (level <= 0) {
			if (iv->level > widest) {
				widest = iv->level;
				chosen = iv->hi;
			}
		} else if (fabs(iv->level - level) < best_gap) {
			/* The level asked for, or the nearest the forecaster has. */
			best_gap = fabs(iv->level - level);
			chosen = iv->hi;
		}
	}
	if (isfinite(chosen) && chosen > v)
		v = chosen;
	return v;
}

double alloc_forecast_upper(const struct forecast_point *fc, uint32_t horizon, uint32_t n,
			    double level)
{
	double upper = NAN;

	if (!fc)
		return NAN;
	if (n > horizon)
		n = horizon;
	for (uint32_t h = 0; h < n; h++) {
		double v = point_upper(&fc[h], level);

		if (isfinite(v) && (isnan(upper) || v > upper))
			upper = v;
	}
	return upper;
}

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

int alloc_decide(const struct alloc_params *p, const struct alloc_input *in,
		 struct alloc_decision *ret)
{
	struct alloc_decision d = { .action = ALLOC_KEEP };
	bool have = isfinite(in->current) && in->current > 0;
	bool saturated = false;
	double want, keep_upper, keep_want;

	if (alloc_params_validate(p) < 0)
		return -EINVAL;
	d.demand_upper = alloc_forecast_upper(in->fc, in->horizon, p->lead_steps, p->level);
	d.target = have ? in->current : NAN;
	if (isnan(d.demand_upper)) {
		snprintf(d.reason, sizeof(d.reason), "no forecast yet");
		*ret = d;
		return 0;
	}
	want = clamp(d.demand_upper * (1 + p->headroom), p->min, p->max);

	if (have && p->saturation_ratio > 0 && isfinite(in->used) &&
	    in->used >= p->saturation_ratio * in->current && in->current < p->max) {
		double stepped = clamp(in->current * p->saturation_step, p->min, p->max);

		if (stepped > want)
			want = stepped;
		saturated = true;
	}

	if (!have) {
		d.action = ALLOC_SET;
		d.target = want;
		d.increase = want;
		snprintf(d.reason, sizeof(d.reason),
			 "first allocation: forecast upper %.4g + %.0f%% headroom", d.demand_upper,
			 p->headroom * 100);
	} else if (want > in->current) {
		d.action = ALLOC_RAISE;
		d.target = want;
		d.increase = want - in->current;
		if (saturated)
			snprintf(d.reason, sizeof(d.reason),
				 "saturated: using %.4g of %.4g, demand hidden by the cap",
				 in->used, in->current);
		else
			snprintf(d.reason, sizeof(d.reason),
				 "forecast upper %.4g within %u step(s) exceeds %.4g",
				 d.demand_upper, p->lead_steps, in->current);
	} else {
		/* Give back only what the longer window no longer needs either. */
		uint32_t w = p->giveback_steps > p->lead_steps ? p->giveback_steps : p->lead_steps;

		keep_upper = alloc_forecast_upper(in->fc, in->horizon, w, p->level);
		keep_want = clamp(keep_upper * (1 + p->headroom), p->min, p->max);
		if (want > keep_want)
			keep_want = want;
		if (!saturated && keep_want < p->lower_ratio * in->current) {
			d.low_streak = in->low_streak + 1;
			if (d.low_streak >= p->lower_after) {
				d.action = ALLOC_LOWER;
				d.target = keep_want;
				d.give_back = in->current - keep_want;
				d.low_streak = 0;
				snprintf(d.reason, sizeof(d.reason),
					 "forecast upper %.4g stayed below %.0f%% of %.4g for %u "
					 "decisions",
					 keep_upper, p->lower_ratio * 100, in->current,
					 p->lower_after);
			} else {
				snprintf(d.reason, sizeof(d.reason),
					 "demand falling (%u of %u low decisions before giving "
					 "back)",
					 d.low_streak, p->lower_after);
			}
		} else {
			snprintf(d.reason, sizeof(d.reason), "allocation %.4g covers upper %.4g",
				 in->current, d.demand_upper);
		}
	}
	*ret = d;
	return 0;
}

/* The request a VM's items make with the given holdings. */
static void vm_request(const struct alloc_vm *vm, const struct risk_dist *held,
		       struct admit_request *ret)
{
	ret->cls = vm->cls;
	ret->pinned = vm->pinned;
	ret->n_items = vm->n_items;
	for (uint32_t i = 0; i < vm->n_items; i++) {
		ret->items[i].dim = vm->items[i].dim;
		ret->items[i].demand = held[i];
	}
}

/*
 * Whether a new holding can take room the old one did not: what is held
 * whole (upper), the mean, or the tail a burstable one adds to the risk. A
 * narrower forecast with a lower mean is a shrink even if its sd grew.
 */
static bool dist_grows(const struct risk_dist *old, const struct risk_dist *new)
{
	return new->mean > old->mean || new->upper > old->upper ||
	       new->mean + 3 * new->sd > old->mean + 3 * old->sd;
}

/*
 * The spread of forecast step fp read off the interval of level nearest
 * 1 - risk_bound, the tail the risk budget is about. The widest interval's
 * tail overstates the spread of the body on the spiky series most VMs have,
 * and the budget then holds room it never needs. Level 1 - 2 * risk_bound
 * (whose upper bound is exactly the one-sided quantile) was tried too: on
 * the Bitbrains replay it let network demand past its bound.
 */
static double point_sd_at_bound(const struct forecast_point *fp, double risk_bound)
{
	double want = 1 - risk_bound, best_gap = INFINITY, sd = NAN;

	for (uint32_t l = 0; l < fp->n_levels && l < FORECAST_MAX_LEVELS; l++) {
		const struct forecast_interval *iv = &fp->iv[l];

		if (!isfinite(iv->hi) || !(iv->level > 0 && iv->level < 1) ||
		    fabs(iv->level - want) >= best_gap)
			continue;
		best_gap = fabs(iv->level - want);
		sd = fmax(iv->hi - fp->mean, 0) / risk_normal_quantile(0.5 * (1 + iv->level));
	}
	return sd;
}

int alloc_item_held(const struct alloc_params *p, const struct forecast_point *fc, uint32_t horizon,
		    double target, double loading, double risk_bound, struct risk_dist *ret)
{
	struct risk_dist fd;

	if (!isfinite(target))
		return -EINVAL;
	if (!fc || risk_dist_from_forecast(fc, horizon, p->lead_steps, &fd) < 0) {
		fd = (struct risk_dist){ .mean = target };
	} else if (risk_bound > 0 && risk_bound < 0.5) {
		/* The step risk_dist_from_forecast() takes: the highest upper bound. */
		uint32_t n = p->lead_steps < horizon ? p->lead_steps : horizon, best = 0;
		double best_upper = -INFINITY, sd;

		for (uint32_t h = 0; h < n; h++) {
			double u = point_upper(&fc[h], 0);

			if (isfinite(fc[h].mean) && u > best_upper) {
				best_upper = u;
				best = h;
			}
		}
		sd = point_sd_at_bound(&fc[best], risk_bound);
		if (isfinite(sd))
			fd.sd = sd;
	}
	fd.mean = clamp(fd.mean, 0, target);
	/*
	 * The cap holds the VM's use in [0, target], and no such demand with
	 * this mean spreads wider than sqrt(mean * (target - mean)) (the
	 * Bhatia-Davis bound). The forecast's spread knows nothing of the cap
	 * and on spiky series is far wider: booked unbounded, the risk budget
	 * set aside more than the caps.
	 */
	fd.sd = fmin(fd.sd, sqrt(fd.mean * (target - fd.mean)));
	fd.upper = target;
	fd.loading = loading;
	*ret = fd;
	return 0;
}

double alloc_burst_reserve(const struct risk_acc *acc, double bound)
{
	if (!(bound > 0 && bound < 0.5))
		return NAN;
	return acc->mean + risk_normal_quantile(1 - bound) * risk_acc_sd(acc);
}

/*
 * The new holding of one item: the allocation is the upper bound a
 * guaranteed VM holds whole; mean and spread come from the forecast.
 */
static void item_new_held(const struct alloc_params *p, const struct alloc_vm_item *it,
			  const struct alloc_decision *d, double risk_bound, struct risk_dist *ret)
{
	if (alloc_item_held(p, it->in.fc, it->in.horizon, d->target, it->loading, risk_bound, ret) <
	    0)
		*ret = it->held;
}

int alloc_pass(const struct pool *pool, const struct alloc_params params[POOL_NR_KINDS],
	       const struct alloc_vm *vms, size_t n, struct alloc_vm_result *ret_results,
	       struct alloc_pass_stats *ret_stats)
{
	struct alloc_pass_stats st = { .n_dims = pool->n_dims };
	struct alloc_vm_result *results;
	struct admit_state *state;
	bool *grows;
	int r = 0;

	for (unsigned k = 0; k < POOL_NR_KINDS; k++)
		if (alloc_params_validate(&params[k]) < 0)
			return -EINVAL;
	state = malloc(sizeof(*state));
	grows = calloc(n ? n : 1, sizeof(*grows));
	/* Results are built aside: the caller's array is written only on success. */
	results = calloc(n ? n : 1, sizeof(*results));
	if (!state || !grows || !results) {
		r = -ENOMEM;
		goto out;
	}
	admit_state_init(state, pool);

	/* What is held now. */
	for (size_t v = 0; v < n; v++) {
		struct admit_request req;
		struct risk_dist held[ADMIT_MAX_ITEMS];

		if (vms[v].n_items > ADMIT_MAX_ITEMS) {
			r = -EINVAL;
			goto out;
		}
		for (uint32_t i = 0; i < vms[v].n_items; i++)
			held[i] = vms[v].items[i].held;
		vm_request(&vms[v], held, &req);
		r = admit_request_validate(pool, &req);
		if (r < 0)
			goto out;
		admit_state_apply(state, pool, &req, +1);
	}

	/* Decide every item. */
	for (size_t v = 0; v < n; v++) {
		const struct alloc_vm *vm = &vms[v];
		struct alloc_vm_result *res = &results[v];

		for (uint32_t i = 0; i < vm->n_items; i++) {
			const struct alloc_vm_item *it = &vm->items[i];
			const struct alloc_params *p = &params[pool->dims[it->dim].kind];

			r = alloc_decide(p, &it->in, &res->d[i]);
			if (r < 0)
				goto out;
			item_new_held(p, it, &res->d[i], pool->dims[it->dim].risk_bound,
				      &res->held[i]);
			grows[v] |= dist_grows(&it->held, &res->held[i]);
		}
	}

	/* What shrinks first: it only frees room. Then the rest, in the caller's order. */
	for (int phase = 0; phase < 2; phase++)
		for (size_t v = 0; v < n; v++) {
			const struct alloc_vm *vm = &vms[v];
			struct alloc_vm_result *res = &results[v];
			struct admit_request old_req, new_req;
			struct risk_dist old_held[ADMIT_MAX_ITEMS];
			struct admit_explanation e;

			if (grows[v] != (phase == 1))
				continue;
			for (uint32_t i = 0; i < vm->n_items; i++)
				old_held[i] = vm->items[i].held;
			vm_request(vm, old_held, &old_req);
			vm_request(vm, res->held, &new_req);
			admit_state_apply(state, pool, &old_req, -1);
			if (phase == 1) {
				enum admit_verdict verdict;

				r = admit_check(pool, state, &new_req, &verdict);
				if (r < 0)
					goto out;
				if (verdict != ADMIT_ACCEPT) {
					/* Only a refusal needs its reason spelled out. */
					r = admit_decide(pool, state, &new_req, &e);
					if (r < 0)
						goto out;
					res->refused = true;
					st.n_refused++;
					for (uint32_t i = 0; i < vm->n_items; i++) {
						if (res->d[i].action == ALLOC_RAISE ||
						    res->d[i].action == ALLOC_SET)
							res->refused_item = i;
						res->held[i] = old_held[i];
						res->d[i].action = ALLOC_KEEP;
						res->d[i].target = vm->items[i].in.current;
						res->d[i].increase = 0;
						res->d[i].give_back = 0;
						snprintf(res->d[i].reason, sizeof(res->d[i].reason),
							 "raise refused: %.100s", e.reason);
					}
					admit_state_apply(state, pool, &old_req, +1);
					continue;
				}
			}
			admit_state_apply(state, pool, &new_req, +1);
		}

	for (size_t v = 0; v < n; v++)
		for (uint32_t i = 0; i < vms[v].n_items; i++)
			st.n_action[results[v].d[i].action]++;
	for (uint32_t d = 0; d < pool->n_dims; d++) {
		const struct admit_dim_state *ds = &state->dims[d];
		double cap = pool->dims[d].total - pool->dims[d].host_reserved - ds->held;

		st.probability[d] =
			ds->burst.n ? risk_acc_exceed_prob(&ds->burst, cap) : (cap < 0 ? 1 : 0);
	}
	if (n)
		memcpy(ret_results, results, n * sizeof(*results));
	if (ret_stats)
		*ret_stats = st;
	r = 0;
out:
	free(results);
	free(state);
	free(grows);
	return r;
}
