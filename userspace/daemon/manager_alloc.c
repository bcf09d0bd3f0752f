// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The allocation engine inside the daemon: the host's ledger of leases
 * (plan/lease.h), one lease per VM kept current from its forecasts, and the
 * enforcement of what each lease holds through the owner of each knob.
 *
 * Every forecast step, after the forecasts are refreshed:
 *   1. each VM's request is built: per dimension (cpu, mem, the uplink's
 *      bandwidth, disk bandwidth) the distribution of its demand over the
 *      lead time (risk.h), its correlation loading from its recent history,
 *      its class and its pinned cores; the CPU upper bound is the CPU plan's
 *      target, the others follow alloc_decide() with hysteresis;
 *   2. the requests are booked in the ledger in the order alloc.h gives:
 *      what shrinks first (it frees room), then guaranteed, burstable, best
 *      effort. A raise the risk budget refuses keeps the old lease and
 *      allocation, and flags the VM (a migration candidate);
 *   3. what was granted is enforced: the CPU cap through libvirt, memory
 *      protection (memory.low through systemd or cgroupfs on cgroup v2,
 *      libvirt's soft limit on v1), pinning through libvirt. In dry-run
 *      every decision is logged and nothing is changed.
 *
 * The ledger is also the API's: peers and operators reserve, confirm and
 * release through it (api_reservations.c) on the API thread; it has its own
 * lock. It is checkpointed after each change and reconciled with the VMs
 * libvirt shows after a restart. Times given to it are CLOCK_REALTIME.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "enforce.h"
#include "log.h"
#include "manager.h"
#include "util.h"

#define LEDGER_CKPT_NAME "leases.ckpt"
/* Loadings are estimated over this many forecast steps of history. */
#define LOADING_SHRINK 0.5
/* Protection is rewritten only when it moves by more than this share. */
#define PROTECT_CHANGE_RATIO 0.05
/* A request that fails with a stale generation is retried this often. */
#define STALE_RETRIES 3

static const enum pool_kind alloc_dim_kind[STATE_NR_ALLOC_DIMS] = {
	[STATE_ALLOC_CPU] = POOL_KIND_CPU,
	[STATE_ALLOC_MEM] = POOL_KIND_MEM,
	[STATE_ALLOC_NET] = POOL_KIND_NET,
	[STATE_ALLOC_DISK] = POOL_KIND_DISK,
};

static int ledger_ckpt_path(const struct manager *m, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/" LEDGER_CKPT_NAME, m->cfg.state_dir);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The pool dimension a VM's demand of kind lands on; -ENOENT when the host has none. */
static int pool_dim_of_kind(const struct pool *p, enum pool_kind kind)
{
	for (uint32_t d = 0; d < p->n_dims; d++)
		if (p->dims[d].kind == kind && p->dims[d].node == POOL_NODE_ANY)
			return (int)d;
	return -ENOENT;
}

const struct pool_dim *manager_alloc_pool_dim(const struct manager *m, enum state_alloc_dim d)
{
	int idx = (unsigned)d < STATE_NR_ALLOC_DIMS
			  ? pool_dim_of_kind(&m->ledger_pool, alloc_dim_kind[d])
			  : -ENOENT;

	return idx >= 0 ? &m->ledger_pool.dims[idx] : NULL;
}

/* Capacities, reserves and bounds equal: observed_free moves every step and is no reason. */
static bool pool_same(const struct pool *a, const struct pool *b)
{
	if (a->n_dims != b->n_dims || a->n_cpus != b->n_cpus ||
	    memcmp(&a->machine_cpus, &b->machine_cpus, sizeof(a->machine_cpus)))
		return false;
	for (uint32_t d = 0; d < a->n_dims; d++) {
		const struct pool_dim *x = &a->dims[d], *y = &b->dims[d];

		if (strcmp(x->name, y->name) || x->total != y->total ||
		    x->host_reserved != y->host_reserved || x->risk_bound != y->risk_bound)
			return false;
	}
	return true;
}

void manager_alloc_pool_sync(struct manager *m)
{
	if (!m->ledger || !m->pool_read || pool_same(&m->ledger_pool, &m->pool.pool))
		return;
	m->ledger_pool = m->pool.pool;
	ledger_pool_update(m->ledger, &m->ledger_pool);
	m->ledger_dirty = true;
	log_info("alloc: the host's pool changed (%u dimensions), ledger at generation %llu",
		 m->ledger_pool.n_dims, (unsigned long long)ledger_generation(m->ledger));
}

int manager_alloc_start(struct manager *m)
{
	struct ledger_params lp;
	char path[512];
	size_t n = 0;
	int r;

	if (!m->cfg.alloc_manage)
		return 0;
	ledger_params_default(&lp);
	lp.offer_ttl_usec = m->cfg.lease_ttl_usec;
	m->ledger_pool = m->pool.pool;
	r = ledger_new(&m->ledger_pool, &lp, &m->ledger);
	if (r < 0)
		return log_error_errno(r, "alloc: cannot create the lease ledger: %m");
	if (ledger_ckpt_path(m, path, sizeof(path)) < 0)
		return 0;
	r = ledger_checkpoint_load(m->ledger, path, &n);
	if (r == -ENOENT)
		log_info("alloc: no lease checkpoint at %s, starting with an empty ledger", path);
	else if (r == -EBADMSG)
		log_error("alloc: the lease checkpoint %s is damaged; kept as %s.corrupt, starting "
			  "empty and rebuilding the VMs' leases from what libvirt shows",
			  path, path);
	else if (r < 0)
		log_warning_errno(r, "alloc: cannot read the lease checkpoint %s: %m", path);
	else
		log_info("alloc: %zu leases restored from %s (generation %llu); reconciling with "
			 "libvirt's VMs at the first listing",
			 n, path, (unsigned long long)ledger_generation(m->ledger));
	m->ledger_saved_generation = ledger_generation(m->ledger);
	return 0;
}

static void ledger_save(struct manager *m)
{
	char path[512];
	uint64_t g;
	int r;

	if (!m->ledger)
		return;
	g = ledger_generation(m->ledger);
	if (g == m->ledger_saved_generation && !m->ledger_dirty)
		return;
	if (ledger_ckpt_path(m, path, sizeof(path)) < 0)
		return;
	r = util_mkdir_p(m->cfg.state_dir, 0750);
	if (r >= 0)
		r = ledger_checkpoint_save(m->ledger, path);
	if (r < 0) {
		log_warning_errno(r,
				  "alloc: cannot write the lease checkpoint %s: %m; retrying "
				  "next step",
				  path);
		return;
	}
	m->ledger_saved_generation = g;
	m->ledger_dirty = false;
}

void manager_alloc_stop(struct manager *m)
{
	ledger_save(m);
}

/*
 * After a restart the checkpoint may name VMs that stopped or left while the
 * daemon was away: their leases are released once libvirt's listing is known.
 */
void manager_alloc_reconcile(struct manager *m)
{
	_cleanup_free_ const char **present = NULL;
	int n;

	if (!m->ledger || m->ledger_reconciled)
		return;
	present = calloc(m->n_vms ? m->n_vms : 1, sizeof(*present));
	if (!present)
		return;
	for (size_t i = 0; i < m->n_vms; i++)
		present[i] = m->vms[i]->id.uuid;
	n = ledger_reconcile_vms(m->ledger, present, m->n_vms, util_realtime_usec());
	m->ledger_reconciled = true;
	if (n > 0)
		log_info("alloc: released %d leases of VMs that are no longer on this host", n);
}

void manager_alloc_vm_gone(struct manager *m, struct manager_vm *v)
{
	int n;

	if (!m->ledger)
		return;
	n = ledger_release_holder(m->ledger, v->id.uuid, util_realtime_usec());
	if (n > 0)
		log_info("alloc: released the lease of %s (%s)", v->id.name, v->id.uuid);
}

/* Keeps one value per forecast step of each resource, for the correlation loadings. */
void manager_alloc_history_push(struct manager_vm *v, const double value[STATE_NR_RESOURCES])
{
	struct manager_vm_alloc *a = &v->alloc;

	for (int r = 0; r < STATE_NR_RESOURCES; r++)
		a->hist[r][a->hist_head] = value[r];
	a->hist_head = (a->hist_head + 1) % MANAGER_ALLOC_HIST;
	if (a->hist_n < MANAGER_ALLOC_HIST)
		a->hist_n++;
}

/* The history of dimension d of a VM, oldest first, into out (MANAGER_ALLOC_HIST values). */
static void history_of(const struct manager_vm *v, enum state_alloc_dim d, double *out)
{
	const struct manager_vm_alloc *a = &v->alloc;

	for (uint32_t k = 0; k < MANAGER_ALLOC_HIST; k++) {
		uint32_t i = (a->hist_head + k) % MANAGER_ALLOC_HIST;
		double x = NAN;

		if (k >= MANAGER_ALLOC_HIST - a->hist_n) {
			switch (d) {
			case STATE_ALLOC_CPU:
				x = a->hist[STATE_RES_CPU][i];
				break;
			case STATE_ALLOC_MEM:
				x = a->hist[STATE_RES_MEM][i];
				break;
			case STATE_ALLOC_NET:
				x = a->hist[STATE_RES_NET_RX][i] + a->hist[STATE_RES_NET_TX][i];
				break;
			default:
				x = a->hist[STATE_RES_DISK_RD][i] + a->hist[STATE_RES_DISK_WR][i];
				break;
			}
		}
		out[k] = x;
	}
}

/*
 * One-factor loadings per dimension across the VMs (risk.h): how much each
 * VM's demand moves with the others'. Too little history gives 0 loadings,
 * which is what independent VMs would have; the risk then grows as history
 * shows correlation.
 */
static void loadings_estimate(struct manager *m)
{
	_cleanup_free_ double *buf = NULL, *out = NULL;
	_cleanup_free_ const double **series = NULL;
	size_t n = m->n_vms;

	if (n == 0)
		return;
	buf = calloc(n * MANAGER_ALLOC_HIST, sizeof(*buf));
	out = calloc(n, sizeof(*out));
	series = calloc(n, sizeof(*series));
	if (!buf || !out || !series)
		return;
	for (int d = 0; d < STATE_NR_ALLOC_DIMS; d++) {
		for (size_t i = 0; i < n; i++) {
			history_of(m->vms[i], d, buf + i * MANAGER_ALLOC_HIST);
			series[i] = buf + i * MANAGER_ALLOC_HIST;
		}
		if (n < 2 ||
		    risk_loadings_estimate(series, n, MANAGER_ALLOC_HIST, LOADING_SHRINK, out) < 0)
			memset(out, 0, n * sizeof(*out));
		for (size_t i = 0; i < n; i++)
			m->vms[i]->alloc.loading[d] = isfinite(out[i]) ? out[i] : 0;
	}
}

/*
 * Two forecasts of rates in bytes/s summed into one in kbps, step by step:
 * means add, and bounds add too (as if the two moved together), which can
 * only overstate the upper bound, never hide demand.
 */
static uint32_t forecast_sum_kbps(const struct state_forecast *a, const struct state_forecast *b,
				  struct forecast_point *out)
{
	uint32_t h = a->horizon < b->horizon ? a->horizon : b->horizon;
	const double k = 8.0 / 1000.0;

	if (!a->valid || !b->valid)
		return 0;
	for (uint32_t i = 0; i < h; i++) {
		const struct forecast_point *x = &a->points[i], *y = &b->points[i];
		uint32_t nl = x->n_levels < y->n_levels ? x->n_levels : y->n_levels;

		out[i] = (struct forecast_point){ .mean = (x->mean + y->mean) * k, .n_levels = nl };
		for (uint32_t l = 0; l < nl && l < FORECAST_MAX_LEVELS; l++)
			out[i].iv[l] = (struct forecast_interval){
				.level = x->iv[l].level,
				.lo = (x->iv[l].lo + y->iv[l].lo) * k,
				.hi = (x->iv[l].hi + y->iv[l].hi) * k,
			};
	}
	return h;
}

/* The VM's forecast of dimension d in the pool's unit; 0 entries when none yet. */
static uint32_t dim_forecast(const struct manager_vm *v, enum state_alloc_dim d,
			     struct forecast_point *out)
{
	const struct state_forecast *f;

	switch (d) {
	case STATE_ALLOC_NET:
		return forecast_sum_kbps(&v->forecast[STATE_RES_NET_RX],
					 &v->forecast[STATE_RES_NET_TX], out);
	case STATE_ALLOC_DISK:
		return forecast_sum_kbps(&v->forecast[STATE_RES_DISK_RD],
					 &v->forecast[STATE_RES_DISK_WR], out);
	default:
		f = &v->forecast[d == STATE_ALLOC_CPU ? STATE_RES_CPU : STATE_RES_MEM];
		if (!f->valid)
			return 0;
		memcpy(out, f->points, f->horizon * sizeof(*out));
		return f->horizon;
	}
}

static const struct collect_sample *last_sample(const struct manager_vm *v)
{
	if (v->ring_n == 0)
		return NULL;
	return &v->ring[(v->ring_head + STATE_SAMPLES_MAX - 1) % STATE_SAMPLES_MAX];
}

/* The latest use of dimension d in the pool's unit; NAN when not measured. */
static double dim_used(const struct manager_vm *v, enum state_alloc_dim d)
{
	const struct collect_sample *s = last_sample(v);

	if (!s)
		return NAN;
	switch (d) {
	case STATE_ALLOC_CPU:
		return s->cpu_cores;
	case STATE_ALLOC_MEM:
		return s->mem_bytes;
	case STATE_ALLOC_NET:
		return (s->net_rx_bps + s->net_tx_bps) * 8 / 1000;
	default:
		return (s->disk_rd_bps + s->disk_wr_bps) * 8 / 1000;
	}
}

/* The most dimension d of this VM can use; INFINITY when nothing bounds it. */
static double dim_max(const struct manager_vm *v, enum state_alloc_dim d)
{
	switch (d) {
	case STATE_ALLOC_CPU:
		return v->id.nr_vcpus ? (double)v->id.nr_vcpus + MANAGER_CPU_EMULATOR_ALLOWANCE
				      : INFINITY;
	case STATE_ALLOC_MEM:
		return v->id.max_memory_kib ? (double)v->id.max_memory_kib * 1024 : INFINITY;
	default:
		return INFINITY;
	}
}

/*
 * Pre-allocation of one non-CPU dimension: alloc_decide() on its forecast
 * (raise before the demand, give back with hysteresis). Without a forecast
 * yet, the demand is the latest use, held as it is.
 */
static double dim_risk_bound(const struct manager *m, enum state_alloc_dim d)
{
	const struct pool_dim *pd = manager_alloc_pool_dim(m, d);

	return pd ? pd->risk_bound : 0;
}

/*
 * Before a VM has a forecast its demand is unknown: it holds what it uses
 * now as its mean and the most it can use (vCPUs, memory size) as its upper
 * bound, so a guaranteed VM is never under-reserved while its models warm up.
 */
static void dim_unknown(const struct manager_vm *v, enum state_alloc_dim d, struct risk_dist *ret)
{
	double used = dim_used(v, d), max = dim_max(v, d);
	double x = isfinite(used) ? fmax(used, 0) : 0;

	*ret = (struct risk_dist){ .mean = x, .upper = isfinite(max) ? fmax(max, x) : x };
	if (isfinite(v->alloc.target[d]))
		ret->upper = fmax(ret->upper, v->alloc.target[d]);
}

static void dim_decide(struct manager *m, struct manager_vm *v, enum state_alloc_dim d,
		       struct risk_dist *ret)
{
	struct forecast_point fc[STATE_HORIZON_MAX];
	struct manager_vm_alloc *a = &v->alloc;
	struct alloc_params p = m->alloc_params[alloc_dim_kind[d]];
	struct alloc_decision dec;
	struct alloc_input in;
	uint32_t h = dim_forecast(v, d, fc);

	/*
	 * QEMU's own memory (code caches, I/O buffers, the TCG translation
	 * cache) comes on top of the guest's RAM: the guest's size is no
	 * ceiling for what the process uses, only a floor before forecasts.
	 */
	if (d != STATE_ALLOC_MEM)
		p.max = fmin(p.max, dim_max(v, d));
	if (p.min > p.max)
		p.min = p.max;
	in = (struct alloc_input){
		.current = a->target[d],
		.used = dim_used(v, d),
		.fc = fc,
		.horizon = h,
		.low_streak = a->low_streak[d],
	};
	if (h == 0 || alloc_decide(&p, &in, &dec) < 0 ||
	    alloc_item_held(&p, fc, h, dec.target, a->loading[d], dim_risk_bound(m, d), ret) < 0) {
		dim_unknown(v, d, ret);
		return;
	}
	a->pending_target[d] = dec.target;
	a->pending_streak[d] = dec.low_streak;
}

/* The CPU item follows the CPU plan: its target is the upper bound the lease holds. */
static void cpu_item(struct manager *m, struct manager_vm *v, struct risk_dist *ret)
{
	const struct alloc_params *p = &m->alloc_params[POOL_KIND_CPU];
	double target = v->cpu_pending ? v->cpu_decision.target_cores : v->cpu.cores;
	const struct state_forecast *f = &v->forecast[STATE_RES_CPU];

	if (!(isfinite(target) && target > 0))
		target = dim_max(v, STATE_ALLOC_CPU); /* uncapped: it may use all its vCPUs */
	if (!f->valid || !isfinite(target) ||
	    alloc_item_held(p, f->points, f->horizon, target, v->alloc.loading[STATE_ALLOC_CPU],
			    dim_risk_bound(m, STATE_ALLOC_CPU), ret) < 0)
		dim_unknown(v, STATE_ALLOC_CPU, ret);
}

/* Free cores for a VM to pin: machine.slice's, not pinned by a lease, one NUMA node first. */
static int pin_choose(struct manager *m, const struct manager_vm *v, struct pool_cpuset *ret)
{
	_cleanup_free_ struct lease *leases = NULL;
	const struct pool *p = &m->ledger_pool;
	struct pool_cpuset taken = { 0 }, pick;
	uint32_t want = v->id.nr_vcpus;
	size_t n = 0;
	uint64_t g;

	if (want == 0)
		return -ENODATA;
	if (ledger_leases_get(m->ledger, &leases, &n, &g) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (leases[i].state <= LEASE_ACTIVE && strcmp(leases[i].holder, v->id.uuid))
			pool_cpuset_or(&taken, &leases[i].admit.pinned);
	/* Chosen by VMs before this one in the same pass, not booked yet. */
	pool_cpuset_or(&taken, &m->pin_taken);
	for (uint32_t node = 0; node <= p->n_nodes; node++) {
		uint32_t got = 0;

		memset(&pick, 0, sizeof(pick));
		for (uint32_t c = 0; c < POOL_MAX_CPUS && got < want; c++) {
			if (!pool_cpuset_test(&p->machine_cpus, c) || pool_cpuset_test(&taken, c))
				continue;
			/* node == n_nodes: any node, when no single one has room. */
			if (node < p->n_nodes && !pool_cpuset_test(&p->node_cpus[node], c))
				continue;
			pool_cpuset_set(&pick, c);
			got++;
		}
		if (got == want) {
			*ret = pick;
			return 0;
		}
	}
	return -ENOSPC;
}

/*
 * A live lease of this VM in the ledger (restored from the checkpoint, or
 * reserved for it by a peer); 0 if none. Its cores become the VM's, so a
 * restart neither picks other cores nor forgets to unpin on pin = no.
 */
static uint64_t lease_find_live(struct manager *m, struct manager_vm *v)
{
	_cleanup_free_ struct lease *leases = NULL;
	const struct lease *best = NULL;
	size_t n = 0;
	uint64_t g;

	if (ledger_leases_get(m->ledger, &leases, &n, &g) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (leases[i].state <= LEASE_ACTIVE && !strcmp(leases[i].holder, v->id.uuid) &&
		    (!best || leases[i].id > best->id))
			best = &leases[i];
	if (!best)
		return 0;
	/* Any other live lease of the same VM would be held twice: only one stays. */
	for (size_t i = 0; i < n; i++)
		if (&leases[i] != best && leases[i].state <= LEASE_ACTIVE &&
		    !strcmp(leases[i].holder, v->id.uuid))
			ledger_release(m->ledger, leases[i].id, util_realtime_usec());
	if (pool_cpuset_count(&best->admit.pinned) && !pool_cpuset_count(&v->alloc.pinned)) {
		v->alloc.pinned = best->admit.pinned;
		v->alloc.pin_applied = true; /* as it was: re-applied or undone from here */
		v->alloc.pin_reapply = true;
	}
	return best->id;
}

/* Builds the request of a VM for this step. */
static void vm_request_build(struct manager *m, struct manager_vm *v, struct admit_request *ret)
{
	struct manager_vm_alloc *a = &v->alloc;
	struct admit_request req = { 0 };
	int r;

	a->cls = config_vm_class(&m->cfg, v->id.name, v->id.uuid);
	a->pin_want = config_vm_pin(&m->cfg, v->id.name, v->id.uuid);
	req.cls = a->cls;
	/* A restored lease first: its cores are the VM's, not new ones. */
	if (!a->lease_id)
		a->lease_id = lease_find_live(m, v);
	/* Cores no longer all in machine.slice's set, or of another vCPU count: choose again. */
	if (pool_cpuset_count(&a->pinned) &&
	    (!pool_cpuset_is_subset(&a->pinned, &m->ledger_pool.machine_cpus) ||
	     (a->pin_want && pool_cpuset_count(&a->pinned) != v->id.nr_vcpus)) &&
	    !a->pin_applied)
		memset(&a->pinned, 0, sizeof(a->pinned));
	if (a->pin_want && !pool_cpuset_count(&a->pinned)) {
		r = pin_choose(m, v, &a->pinned);
		if (r < 0 && !a->pin_warned)
			log_warning_errno(r,
					  "alloc: no %u free cores to pin %s to in machine.slice's "
					  "CPUs: %m; it runs unpinned until cores free up",
					  v->id.nr_vcpus, v->id.name);
		a->pin_warned = r < 0;
	}
	/* pin = no: the cores stay held until the unpin is done. */
	if (a->pin_want || a->pin_applied) {
		req.pinned = a->pinned;
		pool_cpuset_or(&m->pin_taken, &a->pinned);
	} else {
		memset(&a->pinned, 0, sizeof(a->pinned));
	}
	for (int d = 0; d < STATE_NR_ALLOC_DIMS; d++) {
		int idx = pool_dim_of_kind(&m->ledger_pool, alloc_dim_kind[d]);
		struct risk_dist dist;

		a->in_lease[d] = false;
		if (idx < 0)
			continue;
		/* A pinned VM's CPU demand is covered by its cores (admit.h). */
		if (d == STATE_ALLOC_CPU && pool_cpuset_count(&req.pinned))
			continue;
		if (d == STATE_ALLOC_CPU)
			cpu_item(m, v, &dist);
		else
			dim_decide(m, v, d, &dist);
		if (!isfinite(dist.mean) || !isfinite(dist.upper))
			continue;
		dist.mean = fmax(dist.mean, 0);
		dist.sd = isfinite(dist.sd) ? fmax(dist.sd, 0) : 0;
		dist.upper = fmax(dist.upper, dist.mean);
		dist.loading = a->loading[d];
		req.items[req.n_items++] =
			(struct admit_item){ .dim = (uint32_t)idx, .demand = dist };
		a->in_lease[d] = true;
		a->want[d] = dist;
	}
	*ret = req;
}

/* The engine's dimension of a request item, or -1 for a kind it does not lease per VM. */
static int item_alloc_dim(const struct manager *m, const struct admit_item *it)
{
	const struct pool_dim *pd = &m->ledger_pool.dims[it->dim];

	for (int d = 0; d < STATE_NR_ALLOC_DIMS; d++)
		if (alloc_dim_kind[d] == pd->kind)
			return d;
	return -1;
}

/*
 * Whether req asks no more than the VM's lease holds now on any dimension:
 * mean, spread and upper bound each (what is held whole and what joins the
 * risk-pooled sum both follow from them), and no new pinned core.
 */
static bool request_shrinks(const struct manager *m, const struct manager_vm *v,
			    const struct admit_request *req)
{
	const struct manager_vm_alloc *a = &v->alloc;

	if (!a->lease_id || req->cls != a->booked_cls ||
	    !pool_cpuset_is_subset(&req->pinned, &a->booked_pinned))
		return false;
	for (uint32_t i = 0; i < req->n_items; i++) {
		const struct risk_dist *x = &req->items[i].demand, *h;
		int d = item_alloc_dim(m, &req->items[i]);

		if (d < 0 || !a->booked_in[d])
			return false;
		h = &a->held[d];
		if (x->mean > h->mean + 1e-9 || x->sd > h->sd + 1e-9 || x->upper > h->upper + 1e-9)
			return false;
	}
	return true;
}

/* Within 1 % of what is booked on every item: not worth a new generation and a checkpoint. */
static bool request_unchanged(const struct manager *m, const struct manager_vm *v,
			      const struct admit_request *req)
{
	const struct manager_vm_alloc *a = &v->alloc;
	uint32_t n = 0;

	if (!a->lease_id || req->cls != a->booked_cls ||
	    memcmp(&req->pinned, &a->booked_pinned, sizeof(req->pinned)))
		return false;
	for (int d = 0; d < STATE_NR_ALLOC_DIMS; d++)
		n += a->booked_in[d];
	if (n != req->n_items)
		return false;
	for (uint32_t i = 0; i < req->n_items; i++) {
		const struct risk_dist *x = &req->items[i].demand, *h;
		int d = item_alloc_dim(m, &req->items[i]);

		if (d < 0 || !a->booked_in[d])
			return false;
		h = &a->held[d];
		if (fabs(x->mean - h->mean) > 0.01 * fabs(h->mean) + 1e-9 ||
		    fabs(x->sd - h->sd) > 0.01 * fabs(h->sd) + 1e-9 ||
		    fabs(x->upper - h->upper) > 0.01 * fabs(h->upper) + 1e-9 ||
		    fabs(x->loading - h->loading) > 0.05)
			return false;
	}
	return true;
}

/* Offers, confirms and activates a new lease for a running VM, or amends its lease. */
static int lease_book(struct manager *m, struct manager_vm *v, const struct admit_request *req,
		      uint64_t now, struct admit_explanation *ex)
{
	struct manager_vm_alloc *a = &v->alloc;
	int r = -ESTALE;

	if (!a->lease_id)
		a->lease_id = lease_find_live(m, v);
	for (int k = 0; k < STALE_RETRIES && r == -ESTALE; k++) {
		uint64_t g = ledger_generation(m->ledger);

		if (a->lease_id) {
			r = ledger_amend(m->ledger, a->lease_id, req, g, now, ex);
			if (r == -ENOENT) {
				a->lease_id = 0; /* expired or released behind our back */
				r = -ESTALE;
			}
			continue;
		}
		struct lease_request lr = {
			.holder_kind = LEASE_HOLDER_VM,
			.start_usec = now,
			.generation = g,
			.admit = *req,
		};
		util_strlcpy(lr.holder, v->id.uuid, sizeof(lr.holder));
		r = ledger_offer(m->ledger, &lr, now, ex, &a->lease_id);
	}
	if (r < 0)
		return r;
	r = ledger_confirm(m->ledger, a->lease_id, now);
	if (r >= 0)
		r = ledger_activate(m->ledger, a->lease_id, now);
	return r;
}

static void vm_refused(struct manager_vm *v, int r, const struct admit_explanation *ex,
		       const struct admit_request *req)
{
	struct manager_vm_alloc *a = &v->alloc;

	if (r == -ENOSPC)
		snprintf(a->reason, sizeof(a->reason), "raise refused: %.140s", ex->reason);
	else
		snprintf(a->reason, sizeof(a->reason), "lease not booked: %s", strerror(-r));
	if (!a->refused)
		log_warning("alloc: %s keeps its allocation, %s; a migration candidate "
			    "('prescientctl reservations explain %s')",
			    v->id.name, a->reason, v->id.name);
	else
		log_debug("alloc: %s still refused: %s", v->id.name, a->reason);
	a->refused = true;
	/* Cores it chose but did not get are chosen again next step. */
	if (!a->pin_applied && pool_cpuset_count(&req->pinned) &&
	    !pool_cpuset_is_subset(&req->pinned, &a->booked_pinned))
		memset(&a->pinned, 0, sizeof(a->pinned));
}

/* The booked request becomes the VM's: what its lease holds, and the pending targets. */
static void vm_granted(struct manager_vm *v, const struct admit_request *req, uint64_t now_mono)
{
	struct manager_vm_alloc *a = &v->alloc;

	if (a->refused)
		log_info("alloc: %s's request fits the pool again", v->id.name);
	a->refused = false;
	a->reason[0] = '\0';
	a->changed_usec = now_mono;
	a->booked_cls = req->cls;
	a->booked_pinned = req->pinned;
	for (int d = 0; d < STATE_NR_ALLOC_DIMS; d++) {
		a->booked_in[d] = a->in_lease[d];
		a->held[d] = a->in_lease[d] ? a->want[d] : (struct risk_dist){ 0 };
		if (d == STATE_ALLOC_CPU || !isfinite(a->pending_target[d]))
			continue;
		a->target[d] = a->pending_target[d];
		a->low_streak[d] = a->pending_streak[d];
	}
}

/* Booking order: what shrinks first (it frees room), then guaranteed, burstable, best effort. */
static int class_rank(const struct admit_request *req, bool shrinks)
{
	if (shrinks)
		return 0;
	return 1 + (int)req->cls;
}

/* Books one VM's request (unless unchanged) and enforces what it holds. */
static void vm_book(struct manager *m, struct manager_vm *v, const struct admit_request *req,
		    uint64_t now, uint64_t now_mono)
{
	struct admit_explanation ex = { 0 };
	int r;

	if (request_unchanged(m, v, req)) {
		v->alloc.refused = false;
	} else {
		r = lease_book(m, v, req, now, &ex);
		if (r < 0)
			vm_refused(v, r, &ex, req);
		else
			vm_granted(v, req, now_mono);
	}
	manager_vm_enforce(m, v, now_mono);
}

/*
 * Books the requests of the VMs selected (all, or only those without a
 * lease) in the order alloc.h gives, and enforces what was granted.
 */
static void alloc_book(struct manager *m, uint64_t now_mono, bool only_new)
{
	_cleanup_free_ struct admit_request *reqs = NULL;
	_cleanup_free_ int *rank = NULL;
	uint64_t now = util_realtime_usec();
	size_t n = m->n_vms ? m->n_vms : 1;

	reqs = calloc(n, sizeof(*reqs));
	rank = calloc(n, sizeof(*rank));
	if (!reqs || !rank)
		return;
	memset(&m->pin_taken, 0, sizeof(m->pin_taken));
	for (size_t i = 0; i < m->n_vms; i++) {
		struct manager_vm *v = m->vms[i];

		rank[i] = -1;
		if (only_new && v->alloc.lease_id)
			continue;
		for (int d = 0; d < STATE_NR_ALLOC_DIMS; d++)
			v->alloc.pending_target[d] = NAN;
		vm_request_build(m, v, &reqs[i]);
		rank[i] = class_rank(&reqs[i], request_shrinks(m, v, &reqs[i]));
	}
	for (int pass = 0; pass <= 1 + POOL_NR_CLASSES; pass++)
		for (size_t i = 0; i < m->n_vms; i++)
			if (rank[i] == pass)
				vm_book(m, m->vms[i], &reqs[i], now, now_mono);
}

static void alloc_params_from_config(struct manager *m)
{
	for (int k = 0; k < POOL_NR_KINDS; k++) {
		struct alloc_params *p = &m->alloc_params[k];

		alloc_params_default(k, p);
		if (k == POOL_KIND_CPU) {
			p->lead_steps = m->cfg.cpu_lead_steps;
			continue;
		}
		if (k == POOL_KIND_HUGEPAGES)
			continue;
		p->lead_steps = m->cfg.alloc_lead_steps;
		p->headroom = m->cfg.alloc_headroom;
	}
}

void manager_alloc_configure(struct manager *m)
{
	alloc_params_from_config(m);
}

void manager_alloc_step(struct manager *m, uint64_t now_mono)
{
	if (!m->ledger) {
		for (size_t i = 0; i < m->n_vms; i++)
			manager_vm_enforce(m, m->vms[i], now_mono);
		return;
	}
	manager_alloc_pool_sync(m);
	ledger_expire(m->ledger, util_realtime_usec());
	loadings_estimate(m);
	alloc_book(m, now_mono, false);
	manager_pin_isolate(m);
	manager_machine_protect(m);
	manager_hugepages_sync(m);
	ledger_save(m);
}

void manager_alloc_tick(struct manager *m, uint64_t now_mono)
{
	bool save, any_new = false;

	if (!m->ledger)
		return;
	pthread_mutex_lock(&m->pending_lock);
	save = m->pending_ledger_save;
	m->pending_ledger_save = false;
	pthread_mutex_unlock(&m->pending_lock);
	/*
	 * A VM gets its lease the tick it is first listed, not a forecast step
	 * later: until then peers could reserve what it already uses.
	 */
	for (size_t i = 0; i < m->n_vms && !any_new; i++)
		any_new = !m->vms[i]->alloc.lease_id;
	if (any_new) {
		manager_alloc_pool_sync(m);
		alloc_book(m, now_mono, true);
		manager_pin_isolate(m);
		manager_machine_protect(m);
	}
	if (save) {
		m->ledger_dirty = true;
		/* An incoming migration's pages are made within a tick, not a step later. */
		manager_hugepages_sync(m);
	}
	/* Safety raises, releases, reconcile: on disk within a tick (a no-op when unchanged). */
	ledger_save(m);
}
