/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * alloc: pre-allocation of every resource from forecasts, and the pass that
 * fits all VMs' allocations into the pool's risk budget.
 *
 * alloc_decide() is plan_cpu_decide() for any dimension: the allocation
 * follows the forecast's upper bound over the lead time (the time an
 * increase needs to be in place: growing hugepages, moving a neighbour) plus
 * headroom. It is raised as soon as that bound exceeds it ("increase": what
 * to request now), and lowered ("give back") only after the bound over the
 * give-back window has stayed below lower_ratio of it for lower_after
 * consecutive decisions, so allocations do not flap. A VM using nearly all of
 * its allocation hides its true demand, so saturation raises by a step.
 *
 * alloc_pass() decides every VM, then books the results against the pool:
 * what shrinks first (it frees room), then the raises in the order given
 * (the caller puts guaranteed VMs first); a VM whose raise does not fit keeps
 * what it has and is flagged, for the safety loop or a migration.
 *
 * Pure: no I/O, no globals.
 */
#ifndef PRESCIENT_PLAN_ALLOC_H
#define PRESCIENT_PLAN_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admit.h"
#include "forecast.h"
#include "pool.h"
#include "risk.h"

enum alloc_action {
	ALLOC_KEEP,
	ALLOC_SET, /* first allocation of a VM that had none */
	ALLOC_RAISE,
	ALLOC_LOWER,
	ALLOC_NR_ACTIONS,
};

struct alloc_params {
	uint32_t lead_steps;	 /* steps an increase needs to be in place (>= 1) */
	uint32_t giveback_steps; /* steps of forecast that must all allow a give-back */
	double level;		 /* interval level followed; 0 = the widest */
	double headroom;	 /* target = upper * (1 + headroom) */
	double min;		 /* in the dimension's unit */
	double max;		 /* INFINITY for none */
	uint32_t lower_after;	 /* consecutive low decisions before giving back */
	double lower_ratio;	 /* low means target < lower_ratio * current */
	double saturation_ratio; /* used >= ratio * current means capped; 0 = off */
	double saturation_step;	 /* raise a capped VM by this factor */
};

struct alloc_input {
	double current; /* <= 0 or NAN: no allocation yet */
	double used;	/* latest measured use, NAN if unknown */
	const struct forecast_point *fc;
	uint32_t horizon; /* entries in fc */
	uint32_t low_streak;
};

struct alloc_decision {
	enum alloc_action action;
	double target;
	double increase;     /* to request now: target - current when raising */
	double give_back;    /* current - target when lowering */
	double demand_upper; /* forecast upper bound over the lead time */
	uint32_t low_streak; /* carry into the next input */
	char reason[128];
};

const char *alloc_action_to_string(enum alloc_action a);
/* Defaults for a dimension of kind (min, max and saturation differ per kind). */
void alloc_params_default(enum pool_kind kind, struct alloc_params *p);
int alloc_params_validate(const struct alloc_params *p);
/* Highest upper bound of the interval of level (0: widest) over steps 1..n; NAN if none. */
double alloc_forecast_upper(const struct forecast_point *fc, uint32_t horizon, uint32_t n,
			    double level);
/* -EINVAL on inconsistent parameters. */
int alloc_decide(const struct alloc_params *p, const struct alloc_input *in,
		 struct alloc_decision *ret);

/*
 * What the ledger holds for one decided item (what alloc_pass() books): the
 * allocation target as its upper bound, the mean and spread of the forecast
 * over the lead time and the loading given. With risk_bound in (0, 0.5) (the
 * dimension's) the spread is read off the interval of level nearest
 * 1 - risk_bound, else off the widest. The mean is clipped to [0, target]
 * and the spread to what a demand capped at target can have. Without a
 * usable forecast the mean is the target and the spread 0. -EINVAL when
 * target is not finite.
 */
int alloc_item_held(const struct alloc_params *p, const struct forecast_point *fc, uint32_t horizon,
		    double target, double loading, double risk_bound, struct risk_dist *ret);
/*
 * The least capacity a burstable sum fits within its risk bound (0 < bound <
 * 0.5): mean + z(1 - bound) * sd of the correlated sum. This is what the risk
 * budget sets aside for those VMs; admit_check() accepts them at exactly this
 * capacity. NAN for a bound out of range.
 */
double alloc_burst_reserve(const struct risk_acc *acc, double bound);

struct alloc_vm_item {
	uint32_t dim; /* index into pool.dims */
	struct alloc_input in;
	struct risk_dist held; /* what the ledger holds for it now (zero: nothing) */
	double loading;	       /* on the common factor, from risk_loadings_estimate() */
};

struct alloc_vm {
	enum pool_class cls;
	struct pool_cpuset pinned;
	uint32_t n_items;
	struct alloc_vm_item items[ADMIT_MAX_ITEMS];
};

struct alloc_vm_result {
	struct alloc_decision d[ADMIT_MAX_ITEMS];
	struct risk_dist held[ADMIT_MAX_ITEMS]; /* what to hold from now on */
	bool refused;				/* a raise did not fit: kept what it had */
	uint32_t refused_item;
};

struct alloc_pass_stats {
	uint32_t n_action[ALLOC_NR_ACTIONS];
	uint32_t n_refused;
	uint32_t n_dims;
	double probability[POOL_MAX_DIMS]; /* P(demand > capacity) after the pass */
};

/*
 * params is indexed by pool_kind. ret_results holds n entries. -EINVAL for
 * invalid parameters or a VM naming a dimension twice or out of range.
 */
int alloc_pass(const struct pool *pool, const struct alloc_params params[POOL_NR_KINDS],
	       const struct alloc_vm *vms, size_t n, struct alloc_vm_result *ret_results,
	       struct alloc_pass_stats *ret_stats);

#endif
