// SPDX-License-Identifier: GPL-2.0-or-later
/* Admission of one request against the pool and its risk budget; see admit.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "admit.h"

/* Slack for rounding when sums of doubles are compared with a capacity. */
#define ADMIT_EPS 1e-9

const char *admit_verdict_to_string(enum admit_verdict v)
{
	switch (v) {
	case ADMIT_ACCEPT:
		return "admit";
	case ADMIT_REFUSE:
		return "refuse";
	default:
		return "unknown";
	}
}

void admit_state_init(struct admit_state *s, const struct pool *pool)
{
	memset(s, 0, sizeof(*s));
	s->n_dims = pool->n_dims;
}

double admit_item_held(const struct pool_dim *dim, enum pool_class cls, const struct risk_dist *d)
{
	double upper = fmax(d->upper, d->mean);

	switch (cls) {
	case POOL_CLASS_GUARANTEED:
		return fmax(upper, 0);
	case POOL_CLASS_BURSTABLE:
		return dim->risk_bound > 0 ? 0 : fmax(upper, 0);
	default:
		return 0;
	}
}

/* Burstable demand joins the risk sum only where the dimension allows overcommit. */
static bool item_in_burst(const struct pool_dim *dim, enum pool_class cls)
{
	return cls == POOL_CLASS_BURSTABLE && dim->risk_bound > 0;
}

static int cpu_dim(const struct pool *pool)
{
	return pool_dim_find(pool, "cpu");
}

static bool dist_valid(const struct risk_dist *d)
{
	return isfinite(d->mean) && d->mean >= 0 && isfinite(d->sd) && d->sd >= 0 &&
	       isfinite(d->upper) && isfinite(d->loading) && d->loading >= -1 && d->loading <= 1;
}

int admit_request_validate(const struct pool *pool, const struct admit_request *req)
{
	uint32_t seen = 0;

	if ((unsigned)req->cls >= POOL_NR_CLASSES || req->n_items > ADMIT_MAX_ITEMS)
		return -EINVAL;
	for (uint32_t i = 0; i < req->n_items; i++) {
		const struct admit_item *it = &req->items[i];

		if (it->dim >= pool->n_dims || (seen >> it->dim) & 1 || !dist_valid(&it->demand))
			return -EINVAL;
		seen |= 1u << it->dim;
	}
	if (pool_cpuset_count(&req->pinned) && cpu_dim(pool) < 0)
		return -EINVAL;
	return 0;
}

/* With pinned cores the CPU item is covered by them and holds nothing more. */
static bool item_covered_by_pins(const struct pool *pool, const struct admit_request *req,
				 const struct admit_item *it)
{
	return pool->dims[it->dim].kind == POOL_KIND_CPU && pool_cpuset_count(&req->pinned) > 0;
}

void admit_state_apply(struct admit_state *s, const struct pool *pool,
		       const struct admit_request *req, int sign)
{
	uint32_t n_pinned = pool_cpuset_count(&req->pinned);

	if (req->cls == POOL_CLASS_BEST_EFFORT && n_pinned == 0)
		return;
	for (uint32_t i = 0; i < req->n_items; i++) {
		const struct admit_item *it = &req->items[i];
		const struct pool_dim *dim = &pool->dims[it->dim];
		struct admit_dim_state *ds = &s->dims[it->dim];

		if (item_covered_by_pins(pool, req, it))
			continue;
		ds->held += sign * admit_item_held(dim, req->cls, &it->demand);
		if (ds->held < ADMIT_EPS)
			ds->held = 0;
		if (item_in_burst(dim, req->cls)) {
			if (sign > 0)
				risk_acc_add(&ds->burst, &it->demand);
			else
				risk_acc_remove(&ds->burst, &it->demand);
		}
	}
	if (n_pinned) {
		struct admit_dim_state *ds = &s->dims[cpu_dim(pool)];

		ds->held += sign * (double)n_pinned;
		if (ds->held < ADMIT_EPS)
			ds->held = 0;
		if (sign > 0) {
			pool_cpuset_or(&s->pinned, &req->pinned);
		} else {
			for (unsigned w = 0; w < POOL_CPUSET_WORDS; w++)
				s->pinned.bits[w] &= ~req->pinned.bits[w];
		}
	}
}

/* Checks one dimension after adding held_add and (maybe) d to it. */
/* Writes reason only when text is set: the allocation pass decides thousands without it. */
#define REASON(text, buf, ...)                                                                     \
	do {                                                                                       \
		if (text)                                                                          \
			snprintf((buf), sizeof(buf), __VA_ARGS__);                                 \
	} while (0)

static void decide_dim(const struct pool_dim *dim, const struct admit_dim_state *ds,
		       double held_add, const struct risk_dist *d, bool text,
		       struct admit_dim_explain *e)
{
	struct risk_acc burst = ds->burst;
	double capacity = dim->total - dim->host_reserved;

	if (d)
		risk_acc_add(&burst, d);
	REASON(text, e->dim, "%s", dim->name);
	e->request = held_add;
	e->capacity = capacity;
	e->held = ds->held + held_add;
	e->demand_mean = burst.mean;
	e->demand_sd = risk_acc_sd(&burst);
	e->bound = dim->risk_bound;
	e->probability = burst.n ? risk_acc_exceed_prob(&burst, capacity - e->held)
				 : (e->held > capacity + ADMIT_EPS ? 1 : 0);
	e->verdict = ADMIT_REFUSE;

	if (held_add <= 0 && (!d || (d->mean <= 0 && d->sd <= 0))) {
		e->verdict = ADMIT_ACCEPT;
		REASON(text, e->reason, "adds nothing to hold");
	} else if (e->held + burst.mean > capacity + ADMIT_EPS * fmax(1, capacity)) {
		REASON(text, e->reason, "held %.4g + burstable mean %.4g exceed capacity %.4g",
		       e->held, burst.mean, capacity);
	} else if (burst.n && e->probability > dim->risk_bound) {
		REASON(text, e->reason,
		       "P(demand > capacity) %.3g above bound %.3g (mean %.4g sd %.4g)",
		       e->probability, dim->risk_bound, e->held + burst.mean, e->demand_sd);
	} else {
		e->verdict = ADMIT_ACCEPT;
		if (burst.n)
			REASON(text, e->reason, "P(demand > capacity) %.3g within bound %.3g",
			       e->probability, dim->risk_bound);
		else
			REASON(text, e->reason, "held %.4g of capacity %.4g", e->held, capacity);
	}
}

static int decide(const struct pool *pool, const struct admit_state *state,
		  const struct admit_request *req, bool text, struct admit_explanation *ret)
{
	struct admit_explanation e = { .verdict = ADMIT_ACCEPT, .cls = req->cls };
	uint32_t n_pinned;
	int cpu, r;
	bool cpu_seen = false;

	r = admit_request_validate(pool, req);
	if (r < 0)
		return r;
	n_pinned = pool_cpuset_count(&req->pinned);
	e.n_pinned = n_pinned;
	cpu = cpu_dim(pool);

	if (n_pinned) {
		if (!pool_cpuset_is_subset(&req->pinned, &pool->machine_cpus)) {
			e.verdict = ADMIT_REFUSE;
			REASON(text, e.reason, "pinned cores outside what machine.slice may use");
			*ret = e;
			return 0;
		}
		if (pool_cpuset_intersects(&req->pinned, &state->pinned)) {
			e.verdict = ADMIT_REFUSE;
			REASON(text, e.reason, "pinned cores already pinned by another");
			*ret = e;
			return 0;
		}
	}
	if (req->cls == POOL_CLASS_BEST_EFFORT && n_pinned == 0) {
		REASON(text, e.reason, "best effort: nothing reserved");
		*ret = e;
		return 0;
	}

	for (uint32_t i = 0; i < req->n_items; i++) {
		const struct admit_item *it = &req->items[i];
		const struct pool_dim *dim = &pool->dims[it->dim];
		struct admit_dim_explain *de = &e.dims[e.n_dims++];
		double held_add;

		if (item_covered_by_pins(pool, req, it)) {
			cpu_seen = true;
			decide_dim(dim, &state->dims[it->dim], (double)n_pinned, NULL, text, de);
			if (de->verdict == ADMIT_ACCEPT)
				REASON(text, de->reason,
				       "%u pinned cores, held %.4g of capacity %.4g", n_pinned,
				       de->held, de->capacity);
		} else {
			held_add = admit_item_held(dim, req->cls, &it->demand);
			decide_dim(dim, &state->dims[it->dim], held_add,
				   item_in_burst(dim, req->cls) ? &it->demand : NULL, text, de);
		}
		if (de->verdict != ADMIT_ACCEPT && e.verdict == ADMIT_ACCEPT) {
			e.verdict = ADMIT_REFUSE;
			REASON(text, e.reason, "%s: %s", de->dim, de->reason);
		}
	}
	if (n_pinned && !cpu_seen) {
		struct admit_dim_explain *de = &e.dims[e.n_dims++];

		decide_dim(&pool->dims[cpu], &state->dims[cpu], (double)n_pinned, NULL, text, de);
		if (de->verdict != ADMIT_ACCEPT && e.verdict == ADMIT_ACCEPT) {
			e.verdict = ADMIT_REFUSE;
			REASON(text, e.reason, "%s: %s", de->dim, de->reason);
		}
	}
	if (e.verdict == ADMIT_ACCEPT)
		REASON(text, e.reason, "%s: fits on %u dimension(s)",
		       pool_class_to_string(req->cls), e.n_dims);
	*ret = e;
	return 0;
}

int admit_decide(const struct pool *pool, const struct admit_state *state,
		 const struct admit_request *req, struct admit_explanation *ret)
{
	return decide(pool, state, req, true, ret);
}

int admit_check(const struct pool *pool, const struct admit_state *state,
		const struct admit_request *req, enum admit_verdict *ret_verdict)
{
	struct admit_explanation e;
	int r = decide(pool, state, req, false, &e);

	if (r < 0)
		return r;
	*ret_verdict = e.verdict;
	return 0;
}

int admit_explanation_format(const struct admit_explanation *e, char *buf, size_t size)
{
	size_t len = 0;
	int n;

	n = snprintf(buf, size, "verdict %s, class %s, %u pinned core(s): %s\n",
		     admit_verdict_to_string(e->verdict), pool_class_to_string(e->cls), e->n_pinned,
		     e->reason);
	if (n < 0 || (size_t)n >= size)
		return -ENOBUFS;
	len = (size_t)n;
	for (uint32_t i = 0; i < e->n_dims && i < ADMIT_MAX_ITEMS + 1; i++) {
		const struct admit_dim_explain *d = &e->dims[i];

		n = snprintf(buf + len, size - len,
			     "  %-24s %-6s request %.4g held %.4g capacity %.4g burst mean %.4g "
			     "sd %.4g P %.3g bound %.3g: %s\n",
			     d->dim, admit_verdict_to_string(d->verdict), d->request, d->held,
			     d->capacity, d->demand_mean, d->demand_sd, d->probability, d->bound,
			     d->reason);
		if (n < 0 || (size_t)n >= size - len)
			return -ENOBUFS;
		len += (size_t)n;
	}
	return 0;
}
