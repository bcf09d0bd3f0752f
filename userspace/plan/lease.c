// SPDX-License-Identifier: GPL-2.0-or-later
/* The reservation ledger: leases, generations, expiry; see lease.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lease_internal.h"

static const char *const state_names[LEASE_NR_STATES] = {
	[LEASE_OFFERED] = "offered",   [LEASE_CONFIRMED] = "confirmed", [LEASE_ACTIVE] = "active",
	[LEASE_RELEASED] = "released", [LEASE_EXPIRED] = "expired",
};

const char *lease_state_to_string(enum lease_state s)
{
	return (unsigned)s < LEASE_NR_STATES ? state_names[s] : "unknown";
}

const char *lease_holder_kind_to_string(enum lease_holder_kind k)
{
	switch (k) {
	case LEASE_HOLDER_VM:
		return "vm";
	case LEASE_HOLDER_MIGRATION:
		return "migration";
	default:
		return "unknown";
	}
}

void ledger_params_default(struct ledger_params *p)
{
	*p = (struct ledger_params){
		.offer_ttl_usec = 30ULL * 1000000,
		.retain_usec = 3600ULL * 1000000,
		.max_leases = 4096,
	};
}

int ledger_new(const struct pool *pool, const struct ledger_params *p, struct ledger **ret)
{
	struct ledger *l;

	if (!p || p->offer_ttl_usec == 0 || p->max_leases == 0 || p->max_leases > LEASE_MAX)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	if (pthread_mutex_init(&l->lock, NULL) || pthread_mutex_init(&l->ckpt_lock, NULL)) {
		free(l);
		return -ENOMEM;
	}
	l->params = *p;
	l->pool = *pool;
	l->generation = 1;
	l->next_id = 1;
	admit_state_init(&l->state, &l->pool);
	*ret = l;
	return 0;
}

void ledger_free(struct ledger *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	pthread_mutex_destroy(&l->ckpt_lock);
	free(l->leases);
	free(l);
}

uint64_t ledger_generation(struct ledger *l)
{
	uint64_t g;

	pthread_mutex_lock(&l->lock);
	g = l->generation;
	pthread_mutex_unlock(&l->lock);
	return g;
}

int ledger_pool_get(struct ledger *l, struct pool *ret_pool, uint64_t *ret_generation)
{
	pthread_mutex_lock(&l->lock);
	if (ret_pool)
		*ret_pool = l->pool;
	if (ret_generation)
		*ret_generation = l->generation;
	pthread_mutex_unlock(&l->lock);
	return 0;
}

static void touch_locked(struct ledger *l, uint64_t now_usec)
{
	l->generation++;
	if (now_usec > l->changed_usec)
		l->changed_usec = now_usec;
}

void ledger_state_rebuild_locked(struct ledger *l)
{
	admit_state_init(&l->state, &l->pool);
	for (size_t i = 0; i < l->n_leases; i++)
		if (lease_is_live(&l->leases[i]))
			admit_state_apply(&l->state, &l->pool, &l->leases[i].admit, +1);
}

/* Remaps one lease's items from old to new dimension indices; drops vanished ones. */
static void lease_remap(struct lease *ls, const struct pool *old, const struct pool *new)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < ls->admit.n_items; i++) {
		int j = pool_dim_find(new, old->dims[ls->admit.items[i].dim].name);

		if (j < 0)
			continue;
		ls->admit.items[n] = ls->admit.items[i];
		ls->admit.items[n].dim = (uint32_t)j;
		n++;
	}
	ls->admit.n_items = n;
	/* Pinned cores the pool lost are not held any more. */
	for (unsigned w = 0; w < POOL_CPUSET_WORDS; w++)
		ls->admit.pinned.bits[w] &= new->machine_cpus.bits[w];
	if (pool_dim_find(new, "cpu") < 0)
		memset(&ls->admit.pinned, 0, sizeof(ls->admit.pinned));
}

int ledger_pool_update(struct ledger *l, const struct pool *pool)
{
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < l->n_leases; i++)
		lease_remap(&l->leases[i], &l->pool, pool);
	l->pool = *pool;
	ledger_state_rebuild_locked(l);
	touch_locked(l, 0);
	pthread_mutex_unlock(&l->lock);
	return 0;
}

static void lease_end_locked(struct ledger *l, struct lease *ls, enum lease_state state,
			     uint64_t now_usec)
{
	admit_state_apply(&l->state, &l->pool, &ls->admit, -1);
	ls->state = state;
	ls->changed_usec = now_usec;
	touch_locked(l, now_usec);
	ls->generation = l->generation;
}

static int expire_locked(struct ledger *l, uint64_t now_usec)
{
	size_t n = 0, kept = 0;

	for (size_t i = 0; i < l->n_leases; i++) {
		struct lease *ls = &l->leases[i];

		if (ls->state == LEASE_OFFERED &&
		    now_usec >= ls->offered_usec + l->params.offer_ttl_usec) {
			lease_end_locked(l, ls, LEASE_EXPIRED, now_usec);
			n++;
		} else if (lease_is_live(ls) && ls->end_usec && now_usec >= ls->end_usec) {
			lease_end_locked(l, ls, LEASE_EXPIRED, now_usec);
			n++;
		}
	}
	/* Forget ended leases after the retention time: the ledger stays bounded. */
	for (size_t i = 0; i < l->n_leases; i++) {
		struct lease *ls = &l->leases[i];

		if (!lease_is_live(ls) && now_usec >= ls->changed_usec + l->params.retain_usec)
			continue;
		if (kept != i)
			l->leases[kept] = *ls;
		kept++;
	}
	l->n_leases = kept;
	/* Add and remove in floating point drift apart after many changes: start afresh. */
	if (n)
		ledger_state_rebuild_locked(l);
	return (int)n;
}

int ledger_expire(struct ledger *l, uint64_t now_usec)
{
	int n;

	pthread_mutex_lock(&l->lock);
	n = expire_locked(l, now_usec);
	pthread_mutex_unlock(&l->lock);
	return n;
}

static struct lease *find_locked(struct ledger *l, uint64_t id)
{
	for (size_t i = 0; i < l->n_leases; i++)
		if (l->leases[i].id == id)
			return &l->leases[i];
	return NULL;
}

static int request_valid(const struct ledger *l, const struct lease_request *req)
{
	if (!req->holder[0] || !memchr(req->holder, '\0', sizeof(req->holder)) ||
	    (unsigned)req->holder_kind >= LEASE_NR_HOLDER_KINDS ||
	    (req->end_usec && req->end_usec <= req->start_usec))
		return -EINVAL;
	return admit_request_validate(&l->pool, &req->admit);
}

static int reserve_slot_locked(struct ledger *l, struct lease **ret)
{
	if (l->n_leases >= l->params.max_leases)
		return -E2BIG;
	if (l->n_leases == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct lease *n;

		if (cap > l->params.max_leases)
			cap = l->params.max_leases;
		n = realloc(l->leases, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		l->leases = n;
		l->cap = cap;
	}
	*ret = &l->leases[l->n_leases];
	return 0;
}

int ledger_offer(struct ledger *l, const struct lease_request *req, uint64_t now_usec,
		 struct admit_explanation *explain, uint64_t *ret_id)
{
	struct admit_explanation e;
	struct lease *ls;
	int r;

	pthread_mutex_lock(&l->lock);
	if (req->generation != l->generation) {
		r = -ESTALE;
		goto out;
	}
	r = request_valid(l, req);
	if (r < 0)
		goto out;
	/*
	 * Stale offers give their capacity back before anyone is refused for
	 * it. That bumps the generation but only frees capacity, so the
	 * caller's view is not made unsafe by it.
	 */
	expire_locked(l, now_usec);
	r = admit_decide(&l->pool, &l->state, &req->admit, &e);
	if (r < 0)
		goto out;
	if (explain)
		*explain = e;
	if (e.verdict != ADMIT_ACCEPT) {
		r = -ENOSPC;
		goto out;
	}
	r = reserve_slot_locked(l, &ls);
	if (r < 0)
		goto out;
	*ls = (struct lease){
		.id = l->next_id++,
		.holder_kind = req->holder_kind,
		.state = LEASE_OFFERED,
		.start_usec = req->start_usec,
		.end_usec = req->end_usec,
		.offered_usec = now_usec,
		.changed_usec = now_usec,
		.admit = req->admit,
		.explain = e,
	};
	memcpy(ls->holder, req->holder, sizeof(ls->holder));
	l->n_leases++;
	admit_state_apply(&l->state, &l->pool, &ls->admit, +1);
	touch_locked(l, now_usec);
	ls->generation = l->generation;
	*ret_id = ls->id;
	r = 0;
out:
	pthread_mutex_unlock(&l->lock);
	return r;
}

int ledger_amend(struct ledger *l, uint64_t id, const struct admit_request *req,
		 uint64_t generation, uint64_t now_usec, struct admit_explanation *explain)
{
	struct admit_explanation e;
	struct admit_state without;
	struct lease *ls;
	int r;

	pthread_mutex_lock(&l->lock);
	if (generation != l->generation) {
		r = -ESTALE;
		goto out;
	}
	ls = find_locked(l, id);
	if (!ls || !lease_is_live(ls)) {
		r = -ENOENT;
		goto out;
	}
	r = admit_request_validate(&l->pool, req);
	if (r < 0)
		goto out;
	/* Judge the new holding against everything but the old one. */
	without = l->state;
	admit_state_apply(&without, &l->pool, &ls->admit, -1);
	r = admit_decide(&l->pool, &without, req, &e);
	if (r < 0)
		goto out;
	if (explain)
		*explain = e;
	if (e.verdict != ADMIT_ACCEPT) {
		r = -ENOSPC;
		goto out;
	}
	admit_state_apply(&without, &l->pool, req, +1);
	l->state = without;
	ls->admit = *req;
	ls->explain = e;
	ls->changed_usec = now_usec;
	touch_locked(l, now_usec);
	ls->generation = l->generation;
	r = 0;
out:
	pthread_mutex_unlock(&l->lock);
	return r;
}

/* Moves a lease forward: from is the state it must be in, to the one it gets. */
static int advance(struct ledger *l, uint64_t id, uint64_t now_usec, enum lease_state from,
		   enum lease_state to)
{
	struct lease *ls;
	int r = 0;

	pthread_mutex_lock(&l->lock);
	ls = find_locked(l, id);
	if (!ls) {
		r = -ENOENT;
		goto out;
	}
	if (ls->state == LEASE_OFFERED && now_usec >= ls->offered_usec + l->params.offer_ttl_usec)
		lease_end_locked(l, ls, LEASE_EXPIRED, now_usec);
	else if (lease_is_live(ls) && ls->end_usec && now_usec >= ls->end_usec)
		lease_end_locked(l, ls, LEASE_EXPIRED, now_usec);

	if (ls->state == LEASE_EXPIRED)
		r = -ETIME;
	else if (ls->state == LEASE_RELEASED)
		r = -ENOENT;
	else if (ls->state >= to)
		r = 0; /* already there: confirming twice is harmless */
	else if (ls->state != from)
		r = -EPERM;
	else {
		ls->state = to;
		ls->changed_usec = now_usec;
		touch_locked(l, now_usec);
		ls->generation = l->generation;
	}
out:
	pthread_mutex_unlock(&l->lock);
	return r;
}

int ledger_confirm(struct ledger *l, uint64_t id, uint64_t now_usec)
{
	return advance(l, id, now_usec, LEASE_OFFERED, LEASE_CONFIRMED);
}

int ledger_activate(struct ledger *l, uint64_t id, uint64_t now_usec)
{
	return advance(l, id, now_usec, LEASE_CONFIRMED, LEASE_ACTIVE);
}

int ledger_release(struct ledger *l, uint64_t id, uint64_t now_usec)
{
	struct lease *ls;
	int r = 0;

	pthread_mutex_lock(&l->lock);
	ls = find_locked(l, id);
	if (!ls)
		r = -ENOENT;
	else if (lease_is_live(ls))
		lease_end_locked(l, ls, LEASE_RELEASED, now_usec);
	pthread_mutex_unlock(&l->lock);
	return r;
}

int ledger_release_holder(struct ledger *l, const char *holder, uint64_t now_usec)
{
	int n = 0;

	if (!holder)
		return -EINVAL;
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < l->n_leases; i++) {
		struct lease *ls = &l->leases[i];

		if (lease_is_live(ls) && strncmp(ls->holder, holder, sizeof(ls->holder)) == 0) {
			lease_end_locked(l, ls, LEASE_RELEASED, now_usec);
			n++;
		}
	}
	pthread_mutex_unlock(&l->lock);
	return n;
}

int ledger_reconcile_vms(struct ledger *l, const char *const *present, size_t n_present,
			 uint64_t now_usec)
{
	int n = 0;

	if (n_present && !present)
		return -EINVAL;
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < l->n_leases; i++) {
		struct lease *ls = &l->leases[i];
		bool found = false;

		if (!lease_is_live(ls) || ls->holder_kind != LEASE_HOLDER_VM)
			continue;
		for (size_t k = 0; k < n_present && !found; k++)
			found = present[k] &&
				strncmp(ls->holder, present[k], sizeof(ls->holder)) == 0;
		if (!found) {
			lease_end_locked(l, ls, LEASE_RELEASED, now_usec);
			n++;
		}
	}
	pthread_mutex_unlock(&l->lock);
	return n;
}

int ledger_lease_get(struct ledger *l, uint64_t id, struct lease *ret)
{
	struct lease *ls;
	int r = -ENOENT;

	pthread_mutex_lock(&l->lock);
	ls = find_locked(l, id);
	if (ls) {
		*ret = *ls;
		r = 0;
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}

int ledger_leases_get(struct ledger *l, struct lease **ret_leases, size_t *ret_n,
		      uint64_t *ret_generation)
{
	struct lease *copy;
	size_t n;

	pthread_mutex_lock(&l->lock);
	n = l->n_leases;
	copy = malloc((n ? n : 1) * sizeof(*copy));
	if (!copy) {
		pthread_mutex_unlock(&l->lock);
		return -ENOMEM;
	}
	if (n)
		memcpy(copy, l->leases, n * sizeof(*copy));
	if (ret_generation)
		*ret_generation = l->generation;
	pthread_mutex_unlock(&l->lock);
	*ret_leases = copy;
	*ret_n = n;
	return 0;
}

int ledger_explain(struct ledger *l, const struct lease_request *req, uint64_t now_usec,
		   struct admit_explanation *ret)
{
	struct admit_state state;
	int r;

	pthread_mutex_lock(&l->lock);
	r = request_valid(l, req);
	if (r >= 0) {
		/* Without changing the ledger: leave out what expiry would give back. */
		state = l->state;
		for (size_t i = 0; i < l->n_leases; i++) {
			const struct lease *ls = &l->leases[i];

			if ((ls->state == LEASE_OFFERED &&
			     now_usec >= ls->offered_usec + l->params.offer_ttl_usec) ||
			    (lease_is_live(ls) && ls->end_usec && now_usec >= ls->end_usec))
				admit_state_apply(&state, &l->pool, &ls->admit, -1);
		}
		r = admit_decide(&l->pool, &state, &req->admit, ret);
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}

int ledger_usage_get(struct ledger *l, struct ledger_usage *ret)
{
	struct ledger_usage u = { 0 };

	pthread_mutex_lock(&l->lock);
	u.generation = l->generation;
	for (size_t i = 0; i < l->n_leases; i++)
		u.n_live += lease_is_live(&l->leases[i]);
	u.n_pinned = pool_cpuset_count(&l->state.pinned);
	if (pool_cpuset_format(&l->state.pinned, u.pinned, sizeof(u.pinned)) < 0)
		snprintf(u.pinned, sizeof(u.pinned), "...");
	u.n_dims = l->pool.n_dims;
	for (uint32_t d = 0; d < l->pool.n_dims; d++) {
		const struct pool_dim *pd = &l->pool.dims[d];
		const struct admit_dim_state *ds = &l->state.dims[d];
		struct ledger_dim_usage *du = &u.dims[d];

		memcpy(du->dim, pd->name, sizeof(du->dim));
		du->kind = pd->kind;
		du->capacity = pd->total - pd->host_reserved;
		du->held = ds->held;
		du->burst_mean = ds->burst.mean;
		du->burst_sd = risk_acc_sd(&ds->burst);
		du->probability =
			ds->burst.n ? risk_acc_exceed_prob(&ds->burst, du->capacity - du->held)
				    : (du->held > du->capacity ? 1 : 0);
		du->bound = pd->risk_bound;
		du->free = du->capacity - du->held - du->burst_mean;
	}
	pthread_mutex_unlock(&l->lock);
	*ret = u;
	return 0;
}
