// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The safety loop's decisions between plan ticks; see safety.h for the
 * decision tree. Everything here is arithmetic on what the caller passes in.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safety.h"

/* Relative slack when comparing an allocation with its maximum. */
#define SAFETY_EPS 1e-9
/* Bisection steps of the room search: 2^-60 of the slack is below any unit's resolution. */
#define SAFETY_BISECT_STEPS 60

static const char *const res_names[SAFETY_NR_RES] = {
	[SAFETY_RES_CPU] = "cpu",
	[SAFETY_RES_MEM] = "memory",
	[SAFETY_RES_IO] = "io",
};

static const char *const action_names[SAFETY_NR_ACTIONS] = {
	[SAFETY_NONE] = "none",
	[SAFETY_RAISE] = "raise",
	[SAFETY_FLAG_MIGRATE] = "flag-migrate",
};

static const char *const why_names[SAFETY_NR_WHYS] = {
	[SAFETY_WHY_OK] = "ok",
	[SAFETY_WHY_PENDING] = "pending",
	[SAFETY_WHY_COOLDOWN] = "cooldown",
	[SAFETY_WHY_RAISED] = "raised",
	[SAFETY_WHY_NO_ROOM] = "no-room",
	[SAFETY_WHY_BEST_EFFORT] = "best-effort",
	[SAFETY_WHY_CONTENDED] = "contended",
	[SAFETY_WHY_HOST_SHORT] = "host-short",
};

const char *safety_res_to_string(enum safety_res r)
{
	return (unsigned)r < SAFETY_NR_RES ? res_names[r] : "unknown";
}

const char *safety_action_to_string(enum safety_action a)
{
	return (unsigned)a < SAFETY_NR_ACTIONS ? action_names[a] : "unknown";
}

const char *safety_why_to_string(enum safety_why w)
{
	return (unsigned)w < SAFETY_NR_WHYS ? why_names[w] : "unknown";
}

void safety_params_default(struct safety_params *p)
{
	*p = (struct safety_params){
		/*
		 * Memory stalls cost a guest most (refaults, reclaim in its
		 * path), CPU waits less, and I/O waits are common on busy
		 * disks that are not short, hence the three levels.
		 */
		.psi_threshold = { [SAFETY_RES_CPU] = 20,
				   [SAFETY_RES_MEM] = 10,
				   [SAFETY_RES_IO] = 30 },
		/* The host as a whole carries every VM's waits: short only when high. */
		.host_psi_threshold = { [SAFETY_RES_CPU] = 40,
					[SAFETY_RES_MEM] = 10,
					[SAFETY_RES_IO] = 40 },
		.clear_ratio = 0.5,
		.persist_ticks = 2,
		.host_persist_ticks = 2,
		/* avg10 decays over about 10 s: within that a raise cannot show yet. */
		.cooldown_usec = 10 * 1000000ULL,
		.tick_usec = 1000000ULL,
		.raise_step = 1.25,
		.min_raise_ratio = 0.02,
		.capped_ratio = 0.9,
		.max_stall_share = 0.9,
	};
}

int safety_params_validate(const struct safety_params *p)
{
	for (unsigned r = 0; r < SAFETY_NR_RES; r++) {
		if (!(p->psi_threshold[r] > 0 && p->psi_threshold[r] <= 100))
			return -EINVAL;
		if (!(p->host_psi_threshold[r] > 0 && p->host_psi_threshold[r] <= 100))
			return -EINVAL;
	}
	if (!(p->clear_ratio > 0 && p->clear_ratio <= 1))
		return -EINVAL;
	if (p->persist_ticks < 1 || p->host_persist_ticks < 1 || p->tick_usec == 0)
		return -EINVAL;
	if (!(p->raise_step > 1 && isfinite(p->raise_step)))
		return -EINVAL;
	if (!(p->min_raise_ratio >= 0 && p->min_raise_ratio < p->raise_step - 1))
		return -EINVAL;
	if (!(p->capped_ratio > 0 && p->capped_ratio <= 1))
		return -EINVAL;
	if (!(p->max_stall_share >= 0 && p->max_stall_share < 1))
		return -EINVAL;
	return 0;
}

/*
 * A cgroup stalled a share s of the time while it used `used`: had it run
 * during the stalls too, it would have used used / (1 - s). This is exact
 * for a cap enforced by throttling (CFS bandwidth stalls every thread at
 * once; an io.max cap does the same to the I/O queue) and an upper estimate
 * under host contention, where "some" counts a tick as stalled when any one
 * thread waits. For memory it is a heuristic (the share of time lost to
 * refaults taken as the share of the working set not resident); the raise
 * step dominates there at usual thresholds. s is clamped so one bad reading
 * cannot ask for infinity, and the result is bounded by what the VM can use.
 */
double safety_hidden_demand(double used, double stall_share, double max, double max_share)
{
	double s, est;

	if (!isfinite(used) || isnan(stall_share))
		return NAN;
	s = stall_share < 0 ? 0 : stall_share;
	if (!(max_share >= 0 && max_share < 1))
		max_share = 0;
	if (s > max_share)
		s = max_share;
	est = used / (1 - s);
	if (!isnan(max) && est > max)
		est = max;
	if (est < used)
		est = used;
	return est;
}

static int item_find(const struct admit_request *req, uint32_t dim)
{
	for (uint32_t i = 0; i < req->n_items && i < ADMIT_MAX_ITEMS; i++)
		if (req->items[i].dim == dim)
			return (int)i;
	return -ENOENT;
}

int safety_request_raise(const struct admit_request *req, uint32_t dim, double delta,
			 struct admit_request *ret)
{
	struct admit_request nr;
	int i;

	if (!(delta >= 0 && isfinite(delta)) || req->n_items > ADMIT_MAX_ITEMS)
		return -EINVAL;
	i = item_find(req, dim);
	if (i < 0)
		return i;
	nr = *req;
	nr.items[i].demand.upper += delta;
	nr.items[i].demand.mean += delta;
	*ret = nr;
	return 0;
}

static bool raise_fits(const struct pool *pool, const struct admit_state *without,
		       const struct admit_request *req, uint32_t dim, double delta)
{
	struct admit_request nr;
	enum admit_verdict v;

	if (safety_request_raise(req, dim, delta, &nr) < 0)
		return false;
	if (admit_check(pool, without, &nr, &v) < 0)
		return false;
	return v == ADMIT_ACCEPT;
}

int safety_raise_room(const struct pool *pool, const struct admit_state *state,
		      const struct admit_request *req, uint32_t dim, double *ret_room)
{
	struct admit_state without;
	const struct admit_dim_state *ds;
	double capacity, lo, hi;
	int r;

	r = admit_request_validate(pool, req);
	if (r < 0)
		return r;
	if (dim >= pool->n_dims || state->n_dims != pool->n_dims)
		return -EINVAL;
	r = item_find(req, dim);
	if (r < 0)
		return r;
	if (req->cls == POOL_CLASS_BEST_EFFORT && pool_cpuset_count(&req->pinned) == 0) {
		*ret_room = INFINITY;
		return 0;
	}
	/* Pinned cores cover its CPU whole: more CPU means more cores, a new plan. */
	if (pool->dims[dim].kind == POOL_KIND_CPU && pool_cpuset_count(&req->pinned) > 0) {
		*ret_room = 0;
		return 0;
	}

	without = *state;
	admit_state_apply(&without, pool, req, -1);
	if (!raise_fits(pool, &without, req, dim, 0)) {
		*ret_room = 0;
		return 0;
	}
	/*
	 * Whatever the class, a raise of delta adds delta to what is held
	 * whole or to the burstable mean, so the mean check bounds it: no
	 * delta beyond capacity - held - burstable mean can pass.
	 */
	ds = &state->dims[dim];
	capacity = pool->dims[dim].total - pool->dims[dim].host_reserved;
	hi = capacity - ds->held - ds->burst.mean;
	hi += SAFETY_EPS * fmax(1, fabs(capacity)); /* admit's own rounding slack */
	if (!(hi > 0)) {
		*ret_room = 0;
		return 0;
	}
	if (raise_fits(pool, &without, req, dim, hi)) {
		*ret_room = hi;
		return 0;
	}
	/* Admission is monotone in delta: bisect for the largest that fits. */
	lo = 0;
	for (int k = 0; k < SAFETY_BISECT_STEPS && hi - lo > SAFETY_EPS * fmax(1e-3, lo); k++) {
		double mid = lo + (hi - lo) / 2;

		if (raise_fits(pool, &without, req, dim, mid))
			lo = mid;
		else
			hi = mid;
	}
	*ret_room = lo;
	return 0;
}

static bool lease_live(const struct lease *l)
{
	return l->state == LEASE_OFFERED || l->state == LEASE_CONFIRMED || l->state == LEASE_ACTIVE;
}

int safety_state_from_leases(const struct pool *pool, const struct lease *leases, size_t n,
			     struct admit_state *ret)
{
	struct admit_state s;

	admit_state_init(&s, pool);
	for (size_t i = 0; i < n; i++) {
		if (!lease_live(&leases[i]))
			continue;
		if (admit_request_validate(pool, &leases[i].admit) < 0)
			return -EINVAL;
		admit_state_apply(&s, pool, &leases[i].admit, +1);
	}
	*ret = s;
	return 0;
}

/*
 * One step of the hysteresis shared by VMs and the host: entering takes
 * persist consecutive readings at or above the threshold; once in, readings
 * down to threshold * clear_ratio keep it in. A missing reading ends it: an
 * unmeasured signal never acts.
 */
static uint32_t streak_next(uint32_t streak, double pct, double threshold, double clear_ratio,
			    uint32_t persist)
{
	if (isnan(pct))
		return 0;
	if (pct >= threshold || (streak >= persist && pct >= threshold * clear_ratio))
		return streak < UINT32_MAX ? streak + 1 : streak;
	return 0;
}

int safety_host_decide(const struct safety_params *p, const struct safety_host_input *in,
		       const struct safety_host_state *state, struct safety_host_decision *ret)
{
	struct safety_host_decision d = { 0 };
	size_t len = 0;

	if (safety_params_validate(p) < 0)
		return -EINVAL;
	for (unsigned r = 0; r < SAFETY_NR_RES; r++) {
		double pct = in->psi_some[r];

		d.state.short_ticks[r] =
			streak_next(state->short_ticks[r], pct, p->host_psi_threshold[r],
				    p->clear_ratio, p->host_persist_ticks);
		d.is_short[r] = d.state.short_ticks[r] >= p->host_persist_ticks;
		if (!d.is_short[r])
			continue;
		d.any_short = true;
		if (len < sizeof(d.reason))
			len += (size_t)snprintf(
				d.reason + len, sizeof(d.reason) - len,
				"%shost short on %s: PSI some %.1f %% for %u tick(s)",
				len ? "; " : "", res_names[r], pct, d.state.short_ticks[r]);
	}
	if (!d.any_short)
		snprintf(d.reason, sizeof(d.reason), "host not short");
	*ret = d;
	return 0;
}

/* Reasons are for humans: a cut one is still better than none, so truncation is fine. */
static void __attribute__((format(printf, 3, 4)))
text_set(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

/* An amount in the unit of the resource's dimension, for reasons. */
static const char *amount_format(enum safety_res r, double v, bool unit, char *buf, size_t size)
{
	static const char *const units[SAFETY_NR_RES] = { " cores", " MiB", " kbps" };
	const char *u = unit ? units[r] : "";

	if (isnan(v))
		text_set(buf, size, "?");
	else if (isinf(v))
		text_set(buf, size, "unlimited");
	else if (r == SAFETY_RES_CPU)
		text_set(buf, size, "%.2f%s", v, u);
	else if (r == SAFETY_RES_MEM)
		text_set(buf, size, "%.0f%s", v / (1024.0 * 1024.0), u);
	else
		text_set(buf, size, "%.0f%s", v, u);
	return buf;
}

static double clamp01(double v)
{
	return v < 0 ? 0 : v > 1 ? 1 : v;
}

/* no_room says why there is no room when it is not the risk budget (pins, no lease). */
static int res_decide(const struct safety_params *p, enum pool_class cls, enum safety_res r,
		      bool host_short, const struct safety_signal *sig,
		      const struct safety_res_state *state, double room, const char *no_room,
		      uint64_t now_usec, struct safety_res_decision *ret,
		      struct safety_res_state *ret_state)
{
	struct safety_res_decision d = {
		.action = SAFETY_NONE,
		.why = SAFETY_WHY_OK,
		.dim = sig->dim,
		.from = sig->alloc,
		.to = sig->alloc,
		.room = NAN,
		.pressure = NAN,
	};
	struct safety_res_state st = *state;
	char used_s[32], alloc_s[32], to_s[32], lim_s[32], est_s[32], head[120];
	const char *name, *what;
	double pct, share, target, limit;
	bool have_alloc, capped, at_max;

	if (safety_params_validate(p) < 0 || (unsigned)cls >= POOL_NR_CLASSES ||
	    (unsigned)r >= SAFETY_NR_RES || isnan(room))
		return -EINVAL;
	name = res_names[r];

	/* The per-tick share reacts within a second; avg10 lags by seconds. */
	if (!isnan(sig->psi_share)) {
		share = clamp01(sig->psi_share);
		pct = share * 100;
		what = "stalled";
	} else {
		share = clamp01(sig->psi_some / 100);
		pct = sig->psi_some;
		what = "PSI some";
	}
	st.starved_ticks = streak_next(st.starved_ticks, pct, p->psi_threshold[r], p->clear_ratio,
				       p->persist_ticks);
	if (isnan(pct)) {
		text_set(d.reason, sizeof(d.reason), "%s PSI not measured", name);
		goto out;
	}
	d.pressure = pct;
	if (st.starved_ticks == 0) {
		text_set(d.reason, sizeof(d.reason), "%s %s %.1f %% below %.0f %%", name, what, pct,
			 p->psi_threshold[r]);
		goto out;
	}

	/* Starved: whatever is decided, its use this tick was censored. */
	if (isfinite(sig->used)) {
		d.miss.valid = true;
		d.miss.censored = sig->used;
		d.miss.stall_share = fmin(share, p->max_stall_share);
		d.miss.estimate =
			safety_hidden_demand(sig->used, share, sig->max, p->max_stall_share);
	}
	if (st.starved_ticks < p->persist_ticks) {
		d.why = SAFETY_WHY_PENDING;
		text_set(d.reason, sizeof(d.reason), "%s %s %.1f %% (%u of %u ticks before acting)",
			 name, what, pct, st.starved_ticks, p->persist_ticks);
		goto out;
	}

	have_alloc = isfinite(sig->alloc) && sig->alloc > 0;
	amount_format(r, sig->used, false, used_s, sizeof(used_s));
	amount_format(r, sig->alloc, true, alloc_s, sizeof(alloc_s));
	amount_format(r, d.miss.valid ? d.miss.estimate : NAN, true, est_s, sizeof(est_s));
	if (have_alloc)
		text_set(head, sizeof(head), "%s %s %.1f %% for %.0f s at %s of %s", name, what,
			 pct, (double)st.starved_ticks * (double)p->tick_usec / 1e6, used_s,
			 alloc_s);
	else
		text_set(head, sizeof(head), "%s %s %.1f %% for %.0f s using %s, no cap", name,
			 what, pct, (double)st.starved_ticks * (double)p->tick_usec / 1e6,
			 amount_format(r, sig->used, true, used_s, sizeof(used_s)));

	if (now_usec < st.cooldown_until_usec) {
		d.why = SAFETY_WHY_COOLDOWN;
		text_set(d.reason, sizeof(d.reason), "%s: cooling down, %.1f s left", head,
			 (double)(st.cooldown_until_usec - now_usec) / 1e6);
		goto out;
	}

	/* Unknown use: the stalls say it is short, so take the cap as binding. */
	capped = have_alloc && (isnan(sig->used) || sig->used >= p->capped_ratio * sig->alloc);
	at_max = have_alloc && !isnan(sig->max) && sig->alloc >= sig->max * (1 - SAFETY_EPS);
	d.action = SAFETY_FLAG_MIGRATE;
	if (!capped) {
		d.why = SAFETY_WHY_CONTENDED;
		text_set(d.reason, sizeof(d.reason),
			 "%s: its cap does not bind, the host starves it: flag for migration",
			 head);
	} else if (at_max) {
		d.why = SAFETY_WHY_CONTENDED;
		text_set(d.reason, sizeof(d.reason),
			 "%s: already at its maximum, the host starves it: flag for migration",
			 head);
	} else if (cls == POOL_CLASS_BEST_EFFORT) {
		d.why = SAFETY_WHY_BEST_EFFORT;
		text_set(d.reason, sizeof(d.reason),
			 "%s: best effort is never raised here: flag for migration", head);
	} else if (host_short && cls == POOL_CLASS_BURSTABLE) {
		/* The budget had room on paper; the host has none in fact. */
		d.why = SAFETY_WHY_HOST_SHORT;
		text_set(d.reason, sizeof(d.reason),
			 "%s: host short on %s, burstable not raised: flag for migration", head,
			 name);
	} else {
		/* A step, or the estimated demand if larger; never past its maximum. */
		target = sig->alloc * p->raise_step;
		if (d.miss.valid && d.miss.estimate > target)
			target = d.miss.estimate;
		if (!isnan(sig->max) && target > sig->max)
			target = sig->max;
		d.room = room < 0 ? 0 : room;
		limit = sig->alloc + d.room;
		amount_format(r, limit, true, lim_s, sizeof(lim_s));
		if (target > limit)
			target = limit;
		if (target - sig->alloc <= p->min_raise_ratio * sig->alloc ||
		    target - sig->alloc <= 0) {
			d.why = SAFETY_WHY_NO_ROOM;
			if (no_room)
				text_set(d.reason, sizeof(d.reason),
					 "%s: %s, estimated demand %s: flag for migration", head,
					 no_room, est_s);
			else
				text_set(d.reason, sizeof(d.reason),
					 "%s: risk budget allows no raise (up to %s), estimated "
					 "demand %s: flag for migration",
					 head, lim_s, est_s);
		} else {
			d.action = SAFETY_RAISE;
			d.why = SAFETY_WHY_RAISED;
			d.to = target;
			d.uncovered = d.miss.valid && target < d.miss.estimate * (1 - SAFETY_EPS);
			amount_format(r, target, true, to_s, sizeof(to_s));
			if (d.uncovered)
				text_set(d.reason, sizeof(d.reason),
					 "%s: raise to %s (risk budget allows %s), below estimated "
					 "demand %s",
					 head, to_s, lim_s, est_s);
			else
				text_set(d.reason, sizeof(d.reason),
					 "%s: raise to %s (risk budget allows %s)", head, to_s,
					 lim_s);
		}
	}
	st.cooldown_until_usec = now_usec + p->cooldown_usec;
out:
	*ret = d;
	*ret_state = st;
	return 0;
}

int safety_res_decide(const struct safety_params *p, enum pool_class cls, enum safety_res r,
		      bool host_short, const struct safety_signal *sig,
		      const struct safety_res_state *state, double room, uint64_t now_usec,
		      struct safety_res_decision *ret, struct safety_res_state *ret_state)
{
	return res_decide(p, cls, r, host_short, sig, state, room, NULL, now_usec, ret, ret_state);
}

struct tick_key {
	size_t index;
	enum pool_class cls;
	double severity; /* the highest pressure / threshold over its resources, -1 for none */
};

static int tick_key_cmp(const void *a, const void *b)
{
	const struct tick_key *x = a, *y = b;

	if (x->cls != y->cls)
		return x->cls < y->cls ? -1 : 1;
	if (x->severity != y->severity)
		return x->severity > y->severity ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static double vm_severity(const struct safety_params *p, const struct safety_vm *vm)
{
	double sev = -1;

	for (unsigned r = 0; r < SAFETY_NR_RES; r++) {
		const struct safety_signal *s = &vm->sig[r];
		double pct = !isnan(s->psi_share) ? s->psi_share * 100 : s->psi_some;

		if (!isnan(pct) && pct / p->psi_threshold[r] > sev)
			sev = pct / p->psi_threshold[r];
	}
	return sev;
}

int safety_tick(const struct safety_params *p, const struct pool *pool,
		const struct admit_state *state, const struct safety_host_input *host,
		const struct safety_host_state *host_state, const struct safety_vm *vms, size_t n,
		uint64_t now_usec, struct safety_host_decision *ret_host,
		struct safety_vm_decision *ret_vms, struct safety_tick_stats *ret_stats)
{
	struct safety_host_decision hd;
	struct safety_tick_stats stats = { 0 };
	struct safety_vm_decision *res = NULL;
	struct tick_key *keys = NULL;
	struct admit_state *work = NULL;
	int r;

	r = safety_host_decide(p, host, host_state, &hd);
	if (r < 0)
		return r;
	if (state->n_dims != pool->n_dims)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned)vms[i].cls >= POOL_NR_CLASSES)
			return -EINVAL;
		if (vms[i].lease && (admit_request_validate(pool, vms[i].lease) < 0 ||
				     vms[i].lease->cls != vms[i].cls))
			return -EINVAL;
	}

	keys = calloc(n ? n : 1, sizeof(*keys));
	res = calloc(n ? n : 1, sizeof(*res));
	work = malloc(sizeof(*work));
	if (!keys || !res || !work) {
		r = -ENOMEM;
		goto out;
	}
	*work = *state;
	for (size_t i = 0; i < n; i++)
		keys[i] = (struct tick_key){ i, vms[i].cls, vm_severity(p, &vms[i]) };
	qsort(keys, n, sizeof(*keys), tick_key_cmp);

	for (size_t k = 0; k < n; k++) {
		const struct safety_vm *vm = &vms[keys[k].index];
		struct safety_vm_decision *vd = &res[keys[k].index];
		struct admit_request cur = { .cls = vm->cls };

		vd->rank = (uint32_t)k;
		if (vm->lease)
			cur = *vm->lease;
		for (unsigned x = 0; x < SAFETY_NR_RES; x++) {
			const struct safety_signal *sig = &vm->sig[x];
			struct safety_res_decision *d = &vd->res[x];
			struct admit_request nr;
			double room = 0;

			/* Room costs a search: ask only when the answer is a raise. */
			r = res_decide(p, vm->cls, x, hd.is_short[x], sig, &vm->state.res[x],
				       INFINITY, NULL, now_usec, d, &vd->state.res[x]);
			if (r < 0)
				goto out;
			if (d->action == SAFETY_RAISE) {
				const char *no_room = "no lease on this resource to raise";

				if (vm->lease && sig->dim != SAFETY_DIM_NONE) {
					r = safety_raise_room(pool, work, &cur, sig->dim, &room);
					if (r == -ENOENT)
						room = 0;
					else if (r < 0)
						goto out;
					else if (pool->dims[sig->dim].kind == POOL_KIND_CPU &&
						 pool_cpuset_count(&cur.pinned) > 0)
						no_room = "its pinned cores cover its CPU: more "
							  "needs "
							  "more cores";
					else
						no_room = NULL;
				}
				r = res_decide(p, vm->cls, x, hd.is_short[x], sig,
					       &vm->state.res[x], room, no_room, now_usec, d,
					       &vd->state.res[x]);
				if (r < 0)
					goto out;
			}
			if (d->action == SAFETY_RAISE) {
				r = safety_request_raise(&cur, sig->dim, d->to - d->from, &nr);
				if (r < 0)
					goto out;
				admit_state_apply(work, pool, &cur, -1);
				admit_state_apply(work, pool, &nr, +1);
				cur = nr;
				vd->amend = true;
			}
			if (d->action == SAFETY_FLAG_MIGRATE)
				vd->flag_migrate = true;
			stats.n_action[d->action]++;
			if (vd->state.res[x].starved_ticks > 0)
				stats.n_starved++;
			if (d->miss.valid)
				stats.n_misses++;
		}
		if (vd->amend)
			vd->amended = cur;
	}

	if (n)
		memcpy(ret_vms, res, n * sizeof(*res));
	*ret_host = hd;
	if (ret_stats)
		*ret_stats = stats;
	r = 0;
out:
	free(keys);
	free(res);
	free(work);
	return r;
}
