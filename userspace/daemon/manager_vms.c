// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The manager's VM table and the per-VM pipeline: samples are kept in a ring,
 * averaged over each forecast step, fed to one forecaster per resource, and
 * the CPU forecast is planned and enforced. Application metrics pushed
 * through the API are averaged over the same steps and forecast the same
 * way, one forecaster per metric. Forecaster state is checkpointed to the
 * state directory when a VM goes away and at shutdown, and restored when the
 * VM (or the metric) is seen again. The model of a VM's forecasters is the
 * one of its [vm NAME] section, if any, else [forecast] model.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "enforce.h"
#include "log.h"
#include "manager.h"
#include "util.h"

/* Forecasters are checkpointed every this many forecast steps (an hour at 60 s). */
#define CKPT_EVERY_STEPS 60
/* CPU beyond the vCPUs that QEMU's own threads use (emulator, I/O). */
#define CKPT_MAX_SIZE (16u << 20)

static void series_free(struct manager_series *s)
{
	forecast_free(s->fc);
	free(s->warm);
	*s = (struct manager_series){ 0 };
}

static void metric_free(struct manager_metric *mt)
{
	if (!mt)
		return;
	series_free(&mt->series);
	free(mt);
}

static void vm_free(struct manager_vm *v)
{
	if (!v)
		return;
	for (int r = 0; r < STATE_NR_RESOURCES; r++)
		series_free(&v->series[r]);
	for (uint32_t i = 0; i < v->n_metrics; i++)
		metric_free(v->metrics[i]);
	free(v);
}

static int checkpoint_path(const struct manager *m, const struct manager_vm *v,
			   enum state_resource r, char **ret)
{
	if (asprintf(ret, "%s/forecast/%s.%s.ckpt", m->cfg.state_dir, v->id.uuid,
		     state_resource_to_string(r)) < 0)
		return -ENOMEM;
	return 0;
}

/* Metric names are [a-z0-9_.-]: safe in a file name, never a path. */
static int metric_checkpoint_path(const struct manager *m, const struct manager_vm *v,
				  const char *name, char **ret)
{
	if (asprintf(ret, "%s/forecast/%s.metric.%s.ckpt", m->cfg.state_dir, v->id.uuid, name) < 0)
		return -ENOMEM;
	return 0;
}

static void series_checkpoint(const struct manager_series *s, const char *path, const char *what,
			      const char *vm)
{
	_cleanup_free_ void *buf = NULL;
	size_t len;
	int r;

	if (!s->fc)
		return;
	r = forecast_checkpoint(s->fc, &buf, &len);
	if (r >= 0)
		r = util_file_write_atomic(path, buf, len);
	if (r < 0)
		log_warning_errno(r, "manager: cannot checkpoint %s forecaster of %s: %m, ignoring",
				  what, vm);
}

static void vm_checkpoint(const struct manager *m, const struct manager_vm *v)
{
	_cleanup_free_ char *dir = NULL;
	int r;

	if (asprintf(&dir, "%s/forecast", m->cfg.state_dir) < 0)
		return;
	r = util_mkdir_p(dir, 0700);
	if (r < 0) {
		log_warning_errno(r, "manager: cannot create '%s': %m, not checkpointing", dir);
		return;
	}
	for (int res = 0; res < STATE_NR_RESOURCES; res++) {
		_cleanup_free_ char *path = NULL;

		if (!v->series[res].fc || checkpoint_path(m, v, res, &path) < 0)
			continue;
		series_checkpoint(&v->series[res], path, state_resource_to_string(res), v->id.name);
	}
	for (uint32_t i = 0; i < v->n_metrics; i++) {
		_cleanup_free_ char *path = NULL;

		if (!v->metrics[i]->series.fc ||
		    metric_checkpoint_path(m, v, v->metrics[i]->name, &path) < 0)
			continue;
		series_checkpoint(&v->metrics[i]->series, path, v->metrics[i]->name, v->id.name);
	}
}

/*
 * A checkpoint made with another model than the one now configured for the
 * VM is dropped: the override must hold from the first forecast on. (With
 * "auto" any restored model is acceptable: it was auto's choice or a global
 * choice since reverted, which auto would have to re-learn anyway.)
 */
static void series_restore(const struct manager *m, const struct manager_vm *v,
			   struct manager_series *s, const char *path, const char *what)
{
	struct forecast_point horizon_probe[STATE_HORIZON_MAX];
	_cleanup_free_ char *buf = NULL;
	enum forecast_model want;
	size_t len;
	int r;

	r = util_file_read(path, CKPT_MAX_SIZE, &buf, &len);
	if (r == -ENOENT)
		return;
	if (r >= 0)
		r = forecast_restore(buf, len, &s->fc);
	if (r < 0) {
		/* A broken checkpoint costs history, not correctness: start afresh. */
		log_warning_errno(
			r, "manager: cannot restore '%s': %m, starting this forecaster afresh",
			path);
		return;
	}
	if (forecast_predict(s->fc,
			     m->cfg.horizon_steps > STATE_HORIZON_MAX ? STATE_HORIZON_MAX
								      : m->cfg.horizon_steps,
			     horizon_probe) == -EINVAL) {
		log_info("manager: %s forecaster of %s was checkpointed with a shorter horizon "
			 "than configured: starting afresh",
			 what, v->id.name);
		forecast_free(s->fc);
		s->fc = NULL;
		return;
	}
	want = config_vm_model(&m->cfg, v->id.name, v->id.uuid, NULL);
	if (want != FORECAST_AUTO && forecast_model_current(s->fc) != want) {
		log_info("manager: %s forecaster of %s was checkpointed with model %s, %s is "
			 "configured: starting afresh",
			 what, v->id.name, forecast_model_to_string(forecast_model_current(s->fc)),
			 forecast_model_to_string(want));
		forecast_free(s->fc);
		s->fc = NULL;
		return;
	}
	log_info("manager: restored %s forecaster of %s (%llu observations)", what, v->id.name,
		 (unsigned long long)forecast_n_observed(s->fc));
}

static void vm_restore(const struct manager *m, struct manager_vm *v)
{
	for (int res = 0; res < STATE_NR_RESOURCES; res++) {
		_cleanup_free_ char *path = NULL;

		if (checkpoint_path(m, v, res, &path) < 0)
			continue;
		series_restore(m, v, &v->series[res], path, state_resource_to_string(res));
	}
}

static struct manager_vm *vm_find(struct manager *m, const char *uuid)
{
	for (size_t i = 0; i < m->n_vms; i++)
		if (!strcmp(m->vms[i]->id.uuid, uuid))
			return m->vms[i];
	return NULL;
}

static int vm_add(struct manager *m, const struct hv_vm *id)
{
	struct manager_vm **nv, *v;

	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	nv = realloc(m->vms, (m->n_vms + 1) * sizeof(*nv));
	if (!nv) {
		free(v);
		return -ENOMEM;
	}
	m->vms = nv;
	v->id = *id;
	v->listed = true;
	/* Unknown until read back or planned: shown as "-", never as 0. */
	v->cpu.cores = v->cpu.target_cores = v->cpu.demand_upper_cores = NAN;
	for (int d = 0; d < STATE_NR_ALLOC_DIMS; d++) {
		v->alloc.target[d] = v->alloc.pending_target[d] = NAN;
		v->alloc.enforced[d] = NAN;
		v->alloc.dry_enforced[d] = NAN;
	}
	vm_restore(m, v);
	m->vms[m->n_vms++] = v;
	log_info("manager: watching VM %s (%s), pid %d, %u vCPUs", id->name, id->uuid,
		 (int)id->qemu_pid, id->nr_vcpus);
	return 0;
}

static void vm_remove_at(struct manager *m, size_t i)
{
	struct manager_vm *v = m->vms[i];

	log_info("manager: VM %s (%s) is gone", v->id.name, v->id.uuid);
	manager_alloc_vm_gone(m, v);
	manager_net_vm_gone(m, v);
	vm_checkpoint(m, v);
	vm_free(v);
	m->vms[i] = m->vms[--m->n_vms];
}

/*
 * A listing whose domain XML could not be read carries the identity only
 * (no vCPU count, taps or disks): keep what the last full listing said of
 * the same QEMU rather than plan a 16-vCPU VM as a 1-vCPU one.
 */
static void vm_identity_update(struct hv_vm *id, const struct hv_vm *now)
{
	struct hv_vm old = *id;

	*id = *now;
	if (now->nr_vcpus || now->qemu_pid != old.qemu_pid)
		return;
	id->nr_vcpus = old.nr_vcpus;
	id->max_vcpus = old.max_vcpus;
	id->nr_vcpu_tids = old.nr_vcpu_tids;
	memcpy(id->vcpu_tids, old.vcpu_tids, sizeof(id->vcpu_tids));
	id->nr_taps = old.nr_taps;
	memcpy(id->taps, old.taps, sizeof(id->taps));
	memcpy(id->macs, old.macs, sizeof(id->macs));
	id->nr_disks = old.nr_disks;
	memcpy(id->disks, old.disks, sizeof(id->disks));
}

int manager_vms_resync(struct manager *m)
{
	_cleanup_free_ struct hv_vm *list = NULL;
	size_t n = 0;
	int r;

	if (!m->hv)
		return -ENOTCONN;
	r = m->hv_ops->list_vms(m->hv, &list, &n);
	if (r < 0)
		return log_warning_errno(
			r, "manager: cannot list VMs: %m; keeping the last known set");

	for (size_t i = 0; i < m->n_vms; i++)
		m->vms[i]->listed = false;
	for (size_t i = 0; i < n; i++) {
		struct manager_vm *v = vm_find(m, list[i].uuid);
		int k;

		if (!v) {
			k = vm_add(m, &list[i]);
			if (k < 0 && r >= 0)
				r = log_error_errno(k, "manager: cannot track VM %s: %m",
						    list[i].name);
			continue;
		}
		if (v->id.qemu_pid != list[i].qemu_pid) {
			/* A new QEMU: its tuning, pinning and protection start afresh. */
			v->cpu_tune_read = false;
			v->alloc.pin_applied = false;
			v->alloc.isolated = false;
			for (int d = 0; d < STATE_NR_ALLOC_DIMS; d++)
				v->alloc.enforced[d] = NAN;
		}
		vm_identity_update(&v->id, &list[i]);
		v->listed = true;
	}
	for (size_t i = m->n_vms; i-- > 0;)
		if (!m->vms[i]->listed)
			vm_remove_at(m, i);
	/* The first full listing after a start says which restored leases have no VM. */
	manager_alloc_reconcile(m);
	return r;
}

static void vm_push_sample(struct manager_vm *v, const struct collect_sample *s)
{
	v->ring[v->ring_head] = *s;
	v->ring_head = (v->ring_head + 1) % STATE_SAMPLES_MAX;
	if (v->ring_n < STATE_SAMPLES_MAX)
		v->ring_n++;
	for (int r = 0; r < STATE_NR_RESOURCES; r++) {
		double x = state_sample_value(s, r);

		if (isfinite(x)) {
			v->step_sum[r] += x;
			v->step_n[r]++;
		}
	}
}

/*
 * libvirt's bulk statistics cost libvirtd and QEMU about 5 ms of CPU per VM
 * (tests/bench/daemon): a fifth of a core at 50 VMs if asked every second.
 * The kernel's sources (cgroups, schedstat, netlink, BPF) usually give every
 * field, so the statistics are asked for only while some VM lacks a field
 * they could fill: a tick without them that leaves such a gap turns them on
 * for HV_STATS_HOLD_TICKS consecutive ticks (a rate needs two readings).
 */
#define HV_STATS_HOLD_TICKS 300

static const char *sample_gap(const struct manager_vm *v, const struct collect_sample *s)
{
	if (v->ring_n < 2)
		return NULL; /* a VM's first sample has no rates yet */
	if (isnan(s->cpu_cores))
		return "CPU";
	if (isnan(s->mem_bytes))
		return "memory";
	if (v->id.nr_disks && isnan(s->disk_rd_bps))
		return "disk";
	if (v->id.nr_taps && isnan(s->net_rx_bps))
		return "network";
	return NULL;
}

static void hv_stats_fetch(struct manager *m, struct hv_vm_stats **ret, size_t *ret_n)
{
	int r;

	*ret = NULL;
	*ret_n = 0;
	if (m->ticks >= m->hv_stats_until || !m->hv || !m->hv_ops->connected(m->hv))
		return;
	r = m->hv_ops->get_stats(m->hv, ret, ret_n);
	if (r < 0) {
		log_debug_errno(r, "manager: bulk statistics unavailable: %m, ignoring");
		*ret_n = 0;
	}
}

static void hv_stats_check_gaps(struct manager *m, const struct collect_sample *samples)
{
	for (size_t i = 0; i < m->n_vms; i++) {
		const char *gap = sample_gap(m->vms[i], &samples[i]);

		if (!gap)
			continue;
		/* Said once at info; a lasting gap re-arms quietly every hold. */
		log_full_errno(
			m->hv_stats_until ? LOG_DEBUG : LOG_INFO, 0,
			"manager: the kernel's sources give no %s figure for %s; asking libvirt's "
			"bulk statistics for the next %d ticks",
			gap, m->vms[i]->id.name, HV_STATS_HOLD_TICKS);
		m->hv_stats_until = m->ticks + HV_STATS_HOLD_TICKS;
		return;
	}
}

int manager_vms_collect(struct manager *m, uint64_t now_usec)
{
	_cleanup_free_ struct hv_vm *ids = NULL;
	_cleanup_free_ struct hv_vm_stats *stats = NULL;
	_cleanup_free_ struct collect_sample *samples = NULL;
	bool fetched;
	size_t n_stats;
	int r;

	if (m->n_vms == 0)
		return 0;
	ids = calloc(m->n_vms, sizeof(*ids));
	samples = calloc(m->n_vms, sizeof(*samples));
	if (!ids || !samples)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_vms; i++)
		ids[i] = m->vms[i]->id;

	hv_stats_fetch(m, &stats, &n_stats);
	fetched = stats != NULL;
	r = collect_sample(m->collect, ids, m->n_vms, stats, n_stats, now_usec, samples);
	if (r < 0)
		return log_error_errno(r, "manager: collection failed: %m");
	for (size_t i = 0; i < m->n_vms; i++)
		vm_push_sample(m->vms[i], &samples[i]);
	if (!fetched)
		hv_stats_check_gaps(m, samples);
	return 0;
}

static void forecast_config_base(const struct manager *m, const struct manager_vm *v,
				 struct forecast_config *ret)
{
	forecast_config_init(ret, (double)m->cfg.forecast_step_usec / USEC_PER_SEC);
	ret->model = config_vm_model(&m->cfg, v->id.name, v->id.uuid, NULL);
	ret->horizon_steps = m->cfg.horizon_steps;
	ret->history_max = m->cfg.history_steps;
	ret->refit_every = m->cfg.refit_every;
}

static void forecast_config_for(const struct manager *m, const struct manager_vm *v,
				enum state_resource res, struct forecast_config *ret)
{
	forecast_config_base(m, v, ret);
	ret->lower_bound = 0;
	ret->upper_bound = res == STATE_RES_CPU && v->id.nr_vcpus
				   ? (double)v->id.nr_vcpus + MANAGER_CPU_EMULATOR_ALLOWANCE
				   : INFINITY;
}

/*
 * Metrics carry the pusher's unit: bounded below by 0 only when nothing
 * negative was seen before the fit (a queue length, not a temperature).
 */
static void metric_forecast_config(const struct manager *m, const struct manager_vm *v,
				   const struct manager_metric *mt, double value,
				   struct forecast_config *ret)
{
	bool nonneg = !(value < 0);

	for (uint32_t i = 0; i < mt->series.warm_n && mt->series.warm; i++)
		if (mt->series.warm[i] < 0)
			nonneg = false;
	forecast_config_base(m, v, ret);
	ret->lower_bound = nonneg ? 0 : -INFINITY;
	ret->upper_bound = INFINITY;
}

/* Feeds one step's value; fits with cfg once enough values have been gathered. */
static int series_observe(struct manager_series *s, const struct forecast_config *cfg, double value)
{
	int r;

	if (s->fc)
		return forecast_update(s->fc, value);
	if (!s->warm) {
		s->warm = calloc(WARM_FIT_MIN, sizeof(double));
		if (!s->warm)
			return -ENOMEM;
	}
	s->warm[s->warm_n++] = value;
	if (s->warm_n < WARM_FIT_MIN)
		return 0;
	r = forecast_new(cfg, &s->fc);
	if (r >= 0)
		r = forecast_fit(s->fc, s->warm, s->warm_n);
	free(s->warm);
	s->warm = NULL;
	s->warm_n = 0;
	if (r < 0) {
		forecast_free(s->fc);
		s->fc = NULL;
	}
	return r;
}

static void series_refresh(const struct manager *m, const struct manager_series *s,
			   struct state_forecast *sf, uint64_t now_usec)
{
	uint32_t h = m->cfg.horizon_steps;

	if (h > STATE_HORIZON_MAX)
		h = STATE_HORIZON_MAX;
	if (!s->fc || forecast_predict(s->fc, h, sf->points) < 0) {
		sf->valid = false;
		return;
	}
	sf->valid = true;
	sf->horizon = h;
	sf->model = forecast_model_current(s->fc);
	sf->step_sec = (double)m->cfg.forecast_step_usec / USEC_PER_SEC;
	sf->origin_usec = now_usec;
	sf->coverage80 = forecast_coverage(s->fc, 0.80);
	sf->coverage95 = forecast_coverage(s->fc, 0.95);
}

static void vm_cpu_read_tune(struct manager *m, struct manager_vm *v)
{
	struct hv_cpu_tune tune;
	int r;

	if (v->cpu_tune_read || !m->hv)
		return;
	r = m->hv_ops->get_cpu_tune(m->hv, v->id.uuid, &tune);
	if (r < 0) {
		log_debug_errno(r, "manager: cannot read CPU tuning of %s: %m", v->id.name);
		return;
	}
	v->cpu.cores = enforce_tune_to_cores(&tune);
	v->cpu_tune_read = true;
}

/*
 * CPU management turned off for a VM that prescient capped: the cap goes
 * (quota unlimited), or the VM would stay throttled at the last allocation
 * while the operator believes it free. Unlimited, not "what it had before":
 * after a restart the daemon cannot tell an operator's quota from its own.
 */
static void vm_cpu_release(struct manager *m, struct manager_vm *v, const char *why)
{
	struct hv_cpu_tune tune = { .period_us = m->cfg.cpu_period_usec, .quota_us = -1 };
	int r = 0;

	if (!v->cpu.managed)
		return;
	if (m->cfg.dry_run)
		log_info("plan: dry-run: would remove the CPU cap of %s (%s)", v->id.name, why);
	else if (m->hv)
		r = m->hv_ops->set_cpu_tune(m->hv, v->id.uuid, &tune);
	else
		r = -ENOTCONN;
	if (r < 0) {
		log_warning_errno(r,
				  "plan: cannot remove the CPU cap of %s: %m; retrying next step",
				  v->id.name);
		v->cpu.last_error = r;
		return;
	}
	if (!m->cfg.dry_run)
		log_info("plan: %s: CPU cap removed (%s)", v->id.name, why);
	v->cpu.managed = false;
	v->cpu.last_error = 0;
	v->cpu.cores = NAN;
	v->cpu.target_cores = NAN;
	v->cpu_low_streak = 0;
	snprintf(v->cpu.reason, sizeof(v->cpu.reason), "not capped: %s", why);
}

/*
 * Decides the VM's CPU allocation for this step. It is applied by
 * manager_vm_cpu_apply() once the ledger granted the step's request (a
 * raise the risk budget refuses is not applied).
 */
static void vm_cpu_decide(struct manager *m, struct manager_vm *v)
{
	struct plan_cpu_params p = m->cpu_params;
	const struct collect_sample *last;
	struct plan_cpu_decision d;
	struct plan_cpu_input in;
	int r;

	v->cpu_pending = false;
	if (!config_vm_cpu_manage(&m->cfg, v->id.name, v->id.uuid)) {
		vm_cpu_release(m, v, "CPU management turned off");
		return;
	}
	/* Its own cores, exclusive: a quota would only throttle it on idle cores. */
	if (v->alloc.pin_want && v->alloc.pin_applied) {
		vm_cpu_release(m, v, "pinned to its reserved cores");
		return;
	}
	if (!v->forecast[STATE_RES_CPU].valid || v->ring_n == 0)
		return;
	vm_cpu_read_tune(m, v);
	if (!v->cpu_tune_read)
		return;
	if (v->id.nr_vcpus == 0)
		return; /* no vCPU count: no ceiling to plan against */
	if (m->cfg.cpu_max_cores <= 0)
		p.max_cores = (double)v->id.nr_vcpus + MANAGER_CPU_EMULATOR_ALLOWANCE;
	if (p.min_cores > p.max_cores)
		p.min_cores = p.max_cores;
	last = &v->ring[(v->ring_head + STATE_SAMPLES_MAX - 1) % STATE_SAMPLES_MAX];
	in = (struct plan_cpu_input){
		.current_cores = v->cpu.cores,
		.used_cores = last->cpu_cores,
		.forecast = v->forecast[STATE_RES_CPU].points,
		.horizon = v->forecast[STATE_RES_CPU].horizon,
		.low_streak = v->cpu_low_streak,
	};
	r = plan_cpu_decide(&p, &in, &d);
	if (r < 0) {
		log_error_errno(r, "manager: CPU plan parameters are inconsistent: %m");
		return;
	}
	/* A lowering that is not applied keeps its streak, to be tried again. */
	if (d.action != PLAN_LOWER)
		v->cpu_low_streak = d.low_streak;
	v->cpu.managed = true;
	v->cpu_pending = true;
	v->cpu_decision = d;
}

void manager_vm_cpu_apply(struct manager *m, struct manager_vm *v, uint64_t now_usec)
{
	const struct plan_cpu_decision *d = &v->cpu_decision;
	int r;

	if (!v->cpu_pending)
		return;
	v->cpu_pending = false;
	v->cpu.target_cores = d->target_cores;
	v->cpu.demand_upper_cores = d->demand_upper_cores;
	util_strlcpy(v->cpu.reason, d->reason, sizeof(v->cpu.reason));
	if (d->action == PLAN_KEEP)
		return;
	if (d->action != PLAN_LOWER && v->alloc.refused) {
		snprintf(v->cpu.reason, sizeof(v->cpu.reason),
			 "raise to %.2f cores refused by the pool's risk budget", d->target_cores);
		v->cpu.target_cores = v->cpu.cores;
		return;
	}
	log_info("plan: %s CPU %s %.2f -> %.2f cores: %s", v->id.name,
		 plan_action_to_string(d->action), v->cpu.cores, d->target_cores, d->reason);
	r = enforce_cpu_apply(m->hv_ops, m->hv, &v->id, d->target_cores, m->cfg.cpu_period_usec,
			      m->cfg.dry_run);
	v->cpu.last_error = r < 0 ? r : 0;
	v->cpu.dry_run = m->cfg.dry_run;
	if (r < 0)
		return;
	v->cpu_low_streak = d->low_streak;
	if (!m->cfg.dry_run)
		v->cpu.cores = d->target_cores;
	v->cpu.changed_usec = now_usec;
	if (d->action == PLAN_LOWER)
		v->cpu.n_lowers++;
	else
		v->cpu.n_raises++;
}

/* Forgets a metric: its checkpoint too, or it would come back stale one day. */
static void vm_metric_drop(const struct manager *m, struct manager_vm *v, uint32_t i)
{
	_cleanup_free_ char *path = NULL;
	struct manager_metric *mt = v->metrics[i];

	log_info("manager: metric %s of %s got no value for %d steps, forgetting it", mt->name,
		 v->id.name, MANAGER_METRIC_IDLE_STEPS);
	if (metric_checkpoint_path(m, v, mt->name, &path) >= 0 && unlink(path) < 0 &&
	    errno != ENOENT)
		log_debug_errno(-errno, "manager: cannot remove '%s': %m", path);
	metric_free(mt);
	memmove(&v->metrics[i], &v->metrics[i + 1], (v->n_metrics - i - 1) * sizeof(v->metrics[0]));
	v->metrics[--v->n_metrics] = NULL;
	v->metrics_full_logged = false;
}

static void vm_metrics_step(struct manager *m, struct manager_vm *v, uint64_t now_usec)
{
	for (uint32_t i = v->n_metrics; i-- > 0;) {
		struct manager_metric *mt = v->metrics[i];
		double value = mt->step_n ? mt->step_sum / mt->step_n : NAN;
		struct forecast_config fc;
		int r;

		mt->idle_steps = mt->step_n ? 0 : mt->idle_steps + 1;
		mt->step_sum = 0;
		mt->step_n = 0;
		if (mt->idle_steps >= MANAGER_METRIC_IDLE_STEPS) {
			vm_metric_drop(m, v, i);
			continue;
		}
		mt->values[mt->values_head] = value;
		mt->values_head = (mt->values_head + 1) % STATE_METRIC_VALUES_MAX;
		if (mt->values_n < STATE_METRIC_VALUES_MAX)
			mt->values_n++;
		if (isnan(value) && !mt->series.fc)
			continue;
		metric_forecast_config(m, v, mt, value, &fc);
		r = series_observe(&mt->series, &fc, value);
		if (r < 0)
			log_debug_errno(r, "manager: metric %s forecaster of %s: %m", mt->name,
					v->id.name);
		series_refresh(m, &mt->series, &mt->forecast, now_usec);
	}
}

void manager_vms_step(struct manager *m, uint64_t now_usec)
{
	for (size_t i = 0; i < m->n_vms; i++) {
		struct manager_vm *v = m->vms[i];
		double values[STATE_NR_RESOURCES];

		for (int res = 0; res < STATE_NR_RESOURCES; res++) {
			double value = v->step_n[res] ? v->step_sum[res] / v->step_n[res] : NAN;
			struct forecast_config fc;
			int r;

			values[res] = value;
			v->step_sum[res] = 0;
			v->step_n[res] = 0;
			/* A gap before the first fit carries nothing worth keeping. */
			if (isnan(value) && !v->series[res].fc)
				continue;
			forecast_config_for(m, v, res, &fc);
			r = series_observe(&v->series[res], &fc, value);
			if (r < 0)
				log_debug_errno(r, "manager: %s forecaster of %s: %m",
						state_resource_to_string(res), v->id.name);
			series_refresh(m, &v->series[res], &v->forecast[res], now_usec);
		}
		manager_alloc_history_push(v, values);
		vm_metrics_step(m, v, now_usec);
		vm_cpu_decide(m, v);
	}
	manager_alloc_step(m, now_usec);
	/* Not only at a clean stop: a crash or a watchdog kill loses at most this. */
	if (++m->steps % CKPT_EVERY_STEPS == 0)
		manager_vms_checkpoint_all(m);
}

static struct manager_metric *vm_metric_get(struct manager *m, struct manager_vm *v,
					    const char *name)
{
	_cleanup_free_ char *path = NULL;
	struct manager_metric *mt;
	uint32_t at = 0;

	for (uint32_t i = 0; i < v->n_metrics; i++) {
		int c = strcmp(v->metrics[i]->name, name);

		if (c == 0)
			return v->metrics[i];
		if (c < 0)
			at = i + 1;
	}
	/* The API checked the snapshot, which may be a tick old: check again. */
	if (v->n_metrics >= STATE_METRICS_MAX) {
		if (!v->metrics_full_logged)
			log_warning("manager: VM %s already has %d metrics, ignoring '%s' (a "
				    "metric is forgotten after %d steps without values)",
				    v->id.name, STATE_METRICS_MAX, name, MANAGER_METRIC_IDLE_STEPS);
		v->metrics_full_logged = true;
		return NULL;
	}
	mt = calloc(1, sizeof(*mt));
	if (!mt)
		return NULL;
	util_strlcpy(mt->name, name, sizeof(mt->name));
	mt->last_value = NAN;
	if (metric_checkpoint_path(m, v, name, &path) >= 0)
		series_restore(m, v, &mt->series, path, name);
	memmove(&v->metrics[at + 1], &v->metrics[at], (v->n_metrics - at) * sizeof(v->metrics[0]));
	v->metrics[at] = mt;
	v->n_metrics++;
	log_info("manager: VM %s has a new metric '%s'", v->id.name, name);
	return mt;
}

void manager_vms_metrics_apply(struct manager *m)
{
	struct manager_metric_push *q;
	size_t n, cap;

	/* Take the whole queue; the API thread starts a new one. */
	pthread_mutex_lock(&m->pending_lock);
	q = m->metric_queue;
	n = m->metric_queue_n;
	cap = m->metric_queue_cap;
	m->metric_queue = NULL;
	m->metric_queue_n = m->metric_queue_cap = 0;
	pthread_mutex_unlock(&m->pending_lock);
	(void)cap;

	for (size_t i = 0; i < n; i++) {
		struct manager_vm *v = vm_find(m, q[i].uuid);
		struct manager_metric *mt;

		if (!v) {
			log_debug("manager: metric %s for %s: the VM is gone, dropped", q[i].name,
				  q[i].uuid);
			continue;
		}
		mt = vm_metric_get(m, v, q[i].name);
		if (!mt)
			continue;
		mt->step_sum += q[i].value;
		mt->step_n++;
		mt->last_value = q[i].value;
		mt->last_push_usec = q[i].received_usec;
		mt->n_pushes++;
	}
	free(q);
}

void manager_vms_checkpoint_all(struct manager *m)
{
	for (size_t i = 0; i < m->n_vms; i++)
		vm_checkpoint(m, m->vms[i]);
}

void manager_vms_clear(struct manager *m)
{
	for (size_t i = 0; i < m->n_vms; i++)
		vm_free(m->vms[i]);
	free(m->vms);
	m->vms = NULL;
	m->n_vms = 0;
}
