// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fast safety loop, run every collection tick (1 s by default) between
 * forecast steps: a VM whose pressure (PSI "some" of its cgroup) shows it
 * is starved despite its lease is raised at once within the pool's risk
 * budget, or flagged for migration when the budget has no room; the host's
 * own pressure marks it short. The decisions are plan/safety.c's; this file
 * gathers their inputs, books the raises in the ledger, enforces them, and
 * feeds the demand a cap hid back to the forecaster (the step's mean gets
 * the estimate instead of the censored use).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "collect_parse.h"
#include "enforce.h"
#include "log.h"
#include "manager.h"
#include "util.h"

static const char *const host_psi_files[SAFETY_NR_RES] = { "cpu", "memory", "io" };

void manager_safety_configure(struct manager *m)
{
	struct safety_params *p = &m->safety_params;

	safety_params_default(p);
	p->psi_threshold[SAFETY_RES_CPU] = m->cfg.safety_cpu_pressure;
	p->psi_threshold[SAFETY_RES_MEM] = m->cfg.safety_mem_pressure;
	p->psi_threshold[SAFETY_RES_IO] = m->cfg.safety_io_pressure;
	p->persist_ticks = m->cfg.safety_persist_ticks;
	p->cooldown_usec = m->cfg.safety_cooldown_usec;
	p->tick_usec = m->cfg.collect_interval_usec;
	if (safety_params_validate(p) < 0) {
		log_warning("safety: the [safety] settings are inconsistent, using the defaults");
		safety_params_default(p);
	}
}

/* The host's /proc/pressure/<res> "some" avg10; NAN where the kernel has no PSI. */
static void host_psi_read(const struct manager *m, struct safety_host_input *ret)
{
	for (int r = 0; r < SAFETY_NR_RES; r++) {
		_cleanup_free_ char *buf = NULL;
		char path[512];
		size_t len;
		double v;

		ret->psi_some[r] = NAN;
		snprintf(path, sizeof(path), "%s/pressure/%s", m->cfg.proc_root, host_psi_files[r]);
		if (util_file_read(path, 4096, &buf, &len) < 0)
			continue;
		if (collect_parse_psi_some_avg10(buf, len, &v) >= 0)
			ret->psi_some[r] = v;
	}
}

static const struct collect_sample *vm_last_sample(const struct manager_vm *v)
{
	if (v->ring_n == 0)
		return NULL;
	return &v->ring[(v->ring_head + STATE_SAMPLES_MAX - 1) % STATE_SAMPLES_MAX];
}

static uint32_t lease_dim(const struct admit_request *req, const struct pool *pool,
			  enum pool_kind kind)
{
	if (!req)
		return SAFETY_DIM_NONE;
	for (uint32_t i = 0; i < req->n_items; i++)
		if (req->items[i].dim < pool->n_dims && pool->dims[req->items[i].dim].kind == kind)
			return req->items[i].dim;
	return SAFETY_DIM_NONE;
}

/* The safety loop's view of one VM: its signals against what its lease and caps say. */
static void vm_signals(const struct manager *m, const struct manager_vm *v, const struct pool *pool,
		       const struct admit_request *lease, struct safety_vm *ret)
{
	const struct collect_sample *s = vm_last_sample(v);
	const struct manager_vm_alloc *a = &v->alloc;
	/* The CPU plan's ceiling: a raise beyond it would be lowered at the next step. */
	double cpu_max = m->cfg.cpu_max_cores > 0 ? m->cfg.cpu_max_cores
			 : v->id.nr_vcpus	  ? v->id.nr_vcpus + MANAGER_CPU_EMULATOR_ALLOWANCE
						  : INFINITY;

	*ret = (struct safety_vm){ .cls = a->cls, .lease = lease, .state = a->safety_state };
	for (int r = 0; r < SAFETY_NR_RES; r++)
		ret->sig[r] = (struct safety_signal){ .dim = SAFETY_DIM_NONE,
						      .used = NAN,
						      .alloc = NAN,
						      .max = INFINITY,
						      .psi_some = NAN,
						      .psi_share = NAN };
	if (!s)
		return;
	ret->sig[SAFETY_RES_CPU] = (struct safety_signal){
		.dim = v->cpu.managed ? lease_dim(lease, pool, POOL_KIND_CPU) : SAFETY_DIM_NONE,
		.used = s->cpu_cores,
		.alloc = v->cpu.managed ? v->cpu.cores : NAN,
		.max = cpu_max,
		.psi_some = s->cpu_pressure_some,
		.psi_share = s->cpu_stall_share,
	};
	ret->sig[SAFETY_RES_MEM] = (struct safety_signal){
		.dim = m->cfg.mem_manage ? lease_dim(lease, pool, POOL_KIND_MEM) : SAFETY_DIM_NONE,
		.used = s->mem_bytes,
		.alloc = a->target[STATE_ALLOC_MEM],
		.max = v->id.max_memory_kib ? (double)v->id.max_memory_kib * 1024 : INFINITY,
		.psi_some = s->mem_pressure_some,
		.psi_share = s->mem_stall_share,
	};
	/* No I/O cap is enforced: a starved disk can only be flagged. */
	ret->sig[SAFETY_RES_IO] = (struct safety_signal){
		.dim = SAFETY_DIM_NONE,
		.used = (s->disk_rd_bps + s->disk_wr_bps) * 8 / 1000,
		.alloc = NAN,
		.max = INFINITY,
		.psi_some = s->io_pressure_some,
		.psi_share = s->io_stall_share,
	};
}

/*
 * The VM's hidden CPU demand goes into this step's mean in place of what the
 * cap let it use, so the forecaster learns demand the cap hid. Only CPU: a
 * cap stalls CPU time in proportion, while memory pressure says nothing of
 * how much more memory would end it (the raise itself carries that). Only
 * when its own cap binds (use at capped_ratio of it): a stall from the
 * host's contention is no demand a cap hid. At most one raise step above
 * the cap: a thread with a backlog is runnable all the time it is throttled,
 * so used / (1 - stall) reads as its whole vCPU for as long as the backlog
 * lasts, which is no rate it would keep. Only for a sample taken this tick.
 */
static void vm_feed_misses(const struct manager *m, struct manager_vm *v,
			   const struct safety_vm *in, const struct safety_vm_decision *d,
			   uint64_t now_mono)
{
	const struct safety_miss *miss = &d->res[SAFETY_RES_CPU].miss;
	const struct safety_signal *sig = &in->sig[SAFETY_RES_CPU];
	const struct collect_sample *s = vm_last_sample(v);
	double fed;

	if (!miss->valid || !s || s->t_usec + m->cfg.collect_interval_usec / 2 < now_mono ||
	    v->step_n[STATE_RES_CPU] == 0 || !isfinite(miss->estimate) ||
	    !isfinite(miss->censored) || !(isfinite(sig->alloc) && sig->alloc > 0) ||
	    miss->censored < m->safety_params.capped_ratio * sig->alloc)
		return;
	fed = fmin(miss->estimate, sig->alloc * m->safety_params.raise_step);
	if (fed > miss->censored)
		v->step_sum[STATE_RES_CPU] += fed - miss->censored;
}

/* Applies the raises of a booked decision; the lease now holds the amended request. */
static void vm_raise_apply(struct manager *m, struct manager_vm *v,
			   const struct safety_vm_decision *d, uint64_t now_mono)
{
	struct manager_vm_alloc *a = &v->alloc;

	for (int r = 0; r < SAFETY_NR_RES; r++) {
		const struct safety_res_decision *rd = &d->res[r];
		int err;

		if (rd->action != SAFETY_RAISE)
			continue;
		log_info("safety: %s", rd->reason);
		util_strlcpy(a->safety_reason, rd->reason, sizeof(a->safety_reason));
		a->safety_raises++;
		if (r == SAFETY_RES_CPU) {
			err = enforce_cpu_apply(m->hv_ops, m->hv, &v->id, rd->to,
						m->cfg.cpu_period_usec, m->cfg.dry_run);
			v->cpu.last_error = err < 0 ? err : 0;
			if (err >= 0 && !m->cfg.dry_run) {
				v->cpu.cores = v->cpu.target_cores = rd->to;
				v->cpu.changed_usec = now_mono;
				v->cpu.n_raises++;
				v->cpu_low_streak = 0;
				snprintf(v->cpu.reason, sizeof(v->cpu.reason), "safety: %.100s",
					 rd->reason);
			}
		} else if (r == SAFETY_RES_MEM) {
			a->target[STATE_ALLOC_MEM] = rd->to;
		}
	}
	for (uint32_t i = 0; i < d->amended.n_items; i++) {
		const struct pool_dim *pd = &m->ledger_pool.dims[d->amended.items[i].dim];

		if (pd->kind == POOL_KIND_CPU)
			a->held[STATE_ALLOC_CPU] = d->amended.items[i].demand;
		else if (pd->kind == POOL_KIND_MEM)
			a->held[STATE_ALLOC_MEM] = d->amended.items[i].demand;
	}
	manager_vm_enforce(m, v, now_mono);
	/* A VM's memory.low counts only up to its parent's. */
	manager_machine_protect(m);
}

/*
 * A flag is logged when it starts or its cause changes, not every cool-down;
 * it stays up until the VM is no longer starved. It is kept apart from the
 * booking's refusal, which every step clears or sets on its own.
 */
static void vm_flag(struct manager_vm *v, const struct safety_vm_decision *d)
{
	struct manager_vm_alloc *a = &v->alloc;
	bool starved = false;

	for (int r = 0; r < SAFETY_NR_RES; r++) {
		const struct safety_res_decision *rd = &d->res[r];

		if (rd->why != SAFETY_WHY_OK && rd->why != SAFETY_WHY_PENDING)
			starved = true;
		if (rd->action != SAFETY_FLAG_MIGRATE)
			continue;
		if (!a->safety_migrate || a->safety_why[r] != rd->why)
			log_warning("safety: %s", rd->reason);
		a->safety_why[r] = rd->why;
		util_strlcpy(a->safety_reason, rd->reason, sizeof(a->safety_reason));
		a->safety_flags++;
		a->safety_migrate = true;
	}
	if (!starved && a->safety_migrate) {
		log_info("safety: %s is no longer starved", v->id.name);
		a->safety_migrate = false;
		memset(a->safety_why, 0, sizeof(a->safety_why));
	}
}

static void host_short_log(struct manager *m, const struct safety_host_decision *h)
{
	if (h->any_short && !m->safety_host_short)
		log_warning("safety: the host is short: %s", h->reason);
	else if (!h->any_short && m->safety_host_short)
		log_info("safety: the host is no longer short");
	m->safety_host_short = h->any_short;
}

static int safety_run(struct manager *m, uint64_t now_mono)
{
	_cleanup_free_ struct safety_vm_decision *decs = NULL;
	_cleanup_free_ struct safety_vm *vms = NULL;
	_cleanup_free_ struct lease *leases = NULL;
	struct safety_host_decision hd;
	struct safety_host_input hin;
	struct safety_tick_stats stats;
	struct admit_state st;
	struct pool pool;
	uint64_t gen, gen2;
	size_t n_leases = 0;
	int r;

	/* Offers past their TTL give their room back before the room is measured. */
	ledger_expire(m->ledger, util_realtime_usec());
	r = ledger_pool_get(m->ledger, &pool, &gen);
	if (r >= 0)
		r = ledger_leases_get(m->ledger, &leases, &n_leases, &gen2);
	if (r < 0)
		return r;
	if (gen != gen2)
		return -ESTALE; /* the API changed it in between: next tick */
	r = safety_state_from_leases(&pool, leases, n_leases, &st);
	if (r < 0)
		return r;
	vms = calloc(m->n_vms ? m->n_vms : 1, sizeof(*vms));
	decs = calloc(m->n_vms ? m->n_vms : 1, sizeof(*decs));
	if (!vms || !decs)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_vms; i++) {
		const struct admit_request *lease = NULL;

		for (size_t k = 0; k < n_leases && m->vms[i]->alloc.lease_id; k++)
			if (leases[k].id == m->vms[i]->alloc.lease_id &&
			    leases[k].state <= LEASE_ACTIVE)
				lease = &leases[k].admit;
		vm_signals(m, m->vms[i], &pool, lease, &vms[i]);
	}
	host_psi_read(m, &hin);
	r = safety_tick(&m->safety_params, &pool, &st, &hin, &m->safety_host, vms, m->n_vms,
			now_mono, &hd, decs, &stats);
	if (r < 0)
		return r;
	m->safety_host = hd.state;
	host_short_log(m, &hd);
	for (size_t i = 0; i < m->n_vms; i++) {
		struct manager_vm *v = m->vms[i];
		struct admit_explanation ex;

		vm_feed_misses(m, v, &vms[i], &decs[i], now_mono);
		if (decs[i].amend && m->cfg.dry_run) {
			for (int k = 0; k < SAFETY_NR_RES; k++)
				if (decs[i].res[k].action == SAFETY_RAISE)
					log_info("safety: dry-run: would act: %s",
						 decs[i].res[k].reason);
		} else if (decs[i].amend) {
			r = ledger_amend(m->ledger, v->alloc.lease_id, &decs[i].amended, gen,
					 util_realtime_usec(), &ex);
			if (r < 0) {
				/* Old state kept: the raise is tried again next tick. */
				log_debug_errno(r, "safety: raise of %s not booked: %m",
						v->id.name);
				continue;
			}
			gen = ledger_generation(m->ledger);
			vm_raise_apply(m, v, &decs[i], now_mono);
		}
		vm_flag(v, &decs[i]);
		v->alloc.safety_state = decs[i].state;
	}
	return 0;
}

void manager_safety_tick(struct manager *m, uint64_t now_mono)
{
	int r;

	if (!m->ledger || !m->cfg.safety_enable || m->n_vms == 0)
		return;
	r = safety_run(m, now_mono);
	if (r < 0 && r != -ESTALE)
		log_debug_errno(r, "safety: tick skipped: %m");
}
