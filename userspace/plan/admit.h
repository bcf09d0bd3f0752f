/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * admit: whether one request fits the pool, and why (or why not).
 *
 * On each dimension a request holds an amount by its class:
 *   guaranteed   its forecast's upper bound, whole, never overcommitted;
 *   burstable    its mean, and its distribution joins the burstable sum,
 *                admitted while P(held + burstable demand > capacity) stays
 *                at or below the dimension's risk bound; on a dimension with
 *                bound 0 (no overcommit, e.g. hugepages) it is held whole at
 *                its upper bound like a guaranteed one;
 *   best effort  nothing.
 * Pinned cores are held whole on the "cpu" dimension and may not be pinned
 * twice; a pinned VM's CPU demand is covered by its cores.
 *
 * Every decision fills an explanation with the numbers it used, for
 * `prescientctl reservations explain`. Pure: no I/O, no globals.
 */
#ifndef PRESCIENT_PLAN_ADMIT_H
#define PRESCIENT_PLAN_ADMIT_H

#include "pool.h"
#include "risk.h"

#define ADMIT_MAX_ITEMS	 8
#define ADMIT_REASON_MAX 112

enum admit_verdict {
	ADMIT_ACCEPT,
	ADMIT_REFUSE,
	ADMIT_NR_VERDICTS,
};

struct admit_item {
	uint32_t dim; /* index into pool.dims */
	struct risk_dist demand;
};

struct admit_request {
	enum pool_class cls;
	struct pool_cpuset pinned; /* exclusive cores; empty for none */
	uint32_t n_items;	   /* at most one item per dimension */
	struct admit_item items[ADMIT_MAX_ITEMS];
};

struct admit_dim_state {
	double held;	       /* held whole: guaranteed, pinned, burstable on bound-0 dims */
	struct risk_acc burst; /* burstable demand, within the risk budget */
};

/* What every granted request holds, per dimension of one pool. */
struct admit_state {
	uint32_t n_dims;
	struct pool_cpuset pinned;
	struct admit_dim_state dims[POOL_MAX_DIMS];
};

struct admit_dim_explain {
	char dim[POOL_NAME_MAX];
	double request;	    /* what this request holds whole on the dimension */
	double capacity;    /* total - host_reserved */
	double held;	    /* held whole after admission, this request included */
	double demand_mean; /* burstable demand after admission */
	double demand_sd;
	double probability; /* P(held + burstable demand > capacity) after admission */
	double bound;
	enum admit_verdict verdict;
	char reason[ADMIT_REASON_MAX];
};

struct admit_explanation {
	enum admit_verdict verdict;
	enum pool_class cls;
	uint32_t n_pinned;
	uint32_t n_dims;
	struct admit_dim_explain dims[ADMIT_MAX_ITEMS + 1]; /* + the cpu dim of pinned cores */
	char reason[2 * ADMIT_REASON_MAX];
};

const char *admit_verdict_to_string(enum admit_verdict v);

void admit_state_init(struct admit_state *s, const struct pool *pool);
/* What a request of class cls holds whole on dim for demand d. */
double admit_item_held(const struct pool_dim *dim, enum pool_class cls, const struct risk_dist *d);
/*
 * Adds (sign > 0) or removes (sign < 0) what a granted request holds. The
 * request must have passed admit_request_validate() against the same pool.
 */
void admit_state_apply(struct admit_state *s, const struct pool *pool,
		       const struct admit_request *req, int sign);
/* -EINVAL for a class, dimension or number out of range, or a dimension named twice. */
int admit_request_validate(const struct pool *pool, const struct admit_request *req);

/*
 * Decides req against state (what is already granted). Returns -EINVAL for
 * an invalid request, else 0 with the verdict and the numbers in *ret.
 */
int admit_decide(const struct pool *pool, const struct admit_state *state,
		 const struct admit_request *req, struct admit_explanation *ret);

/* The verdict of admit_decide() without the explanation's text: for bulk passes. */
int admit_check(const struct pool *pool, const struct admit_state *state,
		const struct admit_request *req, enum admit_verdict *ret_verdict);

/* One line per dimension plus the verdict, for the CLI; -ENOBUFS if it does not fit. */
int admit_explanation_format(const struct admit_explanation *e, char *buf, size_t size);

#endif
