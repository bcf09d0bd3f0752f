// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The manager's VM table and the per-VM pipeline: samples are kept in a ring,
 * averaged over each forecast step, fed to one forecaster per resource, and
 * the CPU forecast is planned and enforced. Forecaster state is checkpointed
 * to the state directory when a VM goes away and at shutdown, and restored
 * when the VM is seen again.
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

/* Values gathered before the first fit: enough for a trend and its errors. */
#define WARM_FIT_MIN  12
#define CKPT_MAX_SIZE (16u << 20)

static void vm_free(struct manager_vm *v)
{
	if (!v)
		return;
	for (int r = 0; r < STATE_NR_RESOURCES; r++) {
		forecast_free(v->fc[r]);
		free(v->warm[r]);
	}
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
		_cleanup_free_ void *buf = NULL;
		_cleanup_free_ char *path = NULL;
		size_t len;

		if (!v->fc[res] || checkpoint_path(m, v, res, &path) < 0)
			continue;
		r = forecast_checkpoint(v->fc[res], &buf, &len);
		if (r >= 0)
			r = util_file_write_atomic(path, buf, len);
		if (r < 0)
			log_warning_errno(
				r, "manager: cannot checkpoint %s forecaster of %s: %m, ignoring",
				state_resource_to_string(res), v->id.name);
	}
}

static void vm_restore(const struct manager *m, struct manager_vm *v)
{
	for (int res = 0; res < STATE_NR_RESOURCES; res++) {
		_cleanup_free_ char *path = NULL, *buf = NULL;
		size_t len;
		int r;

		if (checkpoint_path(m, v, res, &path) < 0)
			continue;
		r = util_file_read(path, CKPT_MAX_SIZE, &buf, &len);
		if (r == -ENOENT)
			continue;
		if (r >= 0)
			r = forecast_restore(buf, len, &v->fc[res]);
		if (r < 0) {
			/* A broken checkpoint costs history, not correctness: start afresh. */
			log_warning_errno(
				r,
				"manager: cannot restore '%s': %m, starting this forecaster afresh",
				path);
			continue;
		}
		log_info("manager: restored %s forecaster of %s (%llu observations)",
			 state_resource_to_string(res), v->id.name,
			 (unsigned long long)forecast_n_observed(v->fc[res]));
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
	vm_checkpoint(m, v);
	vm_free(v);
	m->vms[i] = m->vms[--m->n_vms];
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

		if (!v) {
			r = vm_add(m, &list[i]);
			if (r < 0)
				return log_error_errno(r, "manager: cannot track VM %s: %m",
						       list[i].name);
			continue;
		}
		if (v->id.qemu_pid != list[i].qemu_pid)
			v->cpu_tune_read = false; /* a new QEMU: its tuning starts afresh */
		v->id = list[i];
		v->listed = true;
	}
	for (size_t i = m->n_vms; i-- > 0;)
		if (!m->vms[i]->listed)
			vm_remove_at(m, i);
	return 0;
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

int manager_vms_collect(struct manager *m, uint64_t now_usec)
{
	_cleanup_free_ struct hv_vm *ids = NULL;
	_cleanup_free_ struct hv_vm_stats *stats = NULL;
	_cleanup_free_ struct collect_sample *samples = NULL;
	size_t n_stats = 0;
	int r;

	if (m->n_vms == 0)
		return 0;
	ids = calloc(m->n_vms, sizeof(*ids));
	samples = calloc(m->n_vms, sizeof(*samples));
	if (!ids || !samples)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_vms; i++)
		ids[i] = m->vms[i]->id;

	if (m->hv && m->hv_ops->connected(m->hv)) {
		r = m->hv_ops->get_stats(m->hv, &stats, &n_stats);
		if (r < 0) {
			log_debug_errno(r, "manager: bulk statistics unavailable: %m, ignoring");
			n_stats = 0;
		}
	}
	r = collect_sample(m->collect, ids, m->n_vms, stats, n_stats, now_usec, samples);
	if (r < 0)
		return log_error_errno(r, "manager: collection failed: %m");
	for (size_t i = 0; i < m->n_vms; i++)
		vm_push_sample(m->vms[i], &samples[i]);
	return 0;
}

static int forecast_config_for(const struct manager *m, const struct manager_vm *v,
			       enum state_resource res, struct forecast_config *ret)
{
	struct forecast_config fc;

	forecast_config_init(&fc, (double)m->cfg.forecast_step_usec / USEC_PER_SEC);
	fc.model = m->cfg.model;
	fc.horizon_steps = m->cfg.horizon_steps;
	fc.history_max = m->cfg.history_steps;
	fc.refit_every = m->cfg.refit_every;
	fc.lower_bound = 0;
	fc.upper_bound = res == STATE_RES_CPU && v->id.nr_vcpus ? (double)v->id.nr_vcpus : INFINITY;
	*ret = fc;
	return 0;
}

/* Feeds one step's value; fits once enough values have been gathered. */
static int vm_forecast_observe(struct manager *m, struct manager_vm *v, enum state_resource res,
			       double value)
{
	struct forecast_config fc;
	int r;

	if (v->fc[res])
		return forecast_update(v->fc[res], value);
	if (!v->warm[res]) {
		v->warm[res] = calloc(WARM_FIT_MIN, sizeof(double));
		if (!v->warm[res])
			return -ENOMEM;
	}
	v->warm[res][v->warm_n[res]++] = value;
	if (v->warm_n[res] < WARM_FIT_MIN)
		return 0;
	forecast_config_for(m, v, res, &fc);
	r = forecast_new(&fc, &v->fc[res]);
	if (r >= 0)
		r = forecast_fit(v->fc[res], v->warm[res], v->warm_n[res]);
	free(v->warm[res]);
	v->warm[res] = NULL;
	v->warm_n[res] = 0;
	if (r < 0) {
		forecast_free(v->fc[res]);
		v->fc[res] = NULL;
	}
	return r;
}

static void vm_forecast_refresh(struct manager *m, struct manager_vm *v, enum state_resource res,
				uint64_t now_usec)
{
	struct state_forecast *sf = &v->forecast[res];
	uint32_t h = m->cfg.horizon_steps;

	if (h > STATE_HORIZON_MAX)
		h = STATE_HORIZON_MAX;
	if (!v->fc[res] || forecast_predict(v->fc[res], h, sf->points) < 0) {
		sf->valid = false;
		return;
	}
	sf->valid = true;
	sf->horizon = h;
	sf->model = forecast_model_current(v->fc[res]);
	sf->step_sec = (double)m->cfg.forecast_step_usec / USEC_PER_SEC;
	sf->origin_usec = now_usec;
	sf->coverage80 = forecast_coverage(v->fc[res], 0.80);
	sf->coverage95 = forecast_coverage(v->fc[res], 0.95);
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

static void vm_cpu_plan(struct manager *m, struct manager_vm *v, uint64_t now_usec)
{
	struct plan_cpu_params p = m->cpu_params;
	const struct collect_sample *last;
	struct plan_cpu_decision d;
	struct plan_cpu_input in;
	int r;

	if (!m->cfg.cpu_manage || !v->forecast[STATE_RES_CPU].valid || v->ring_n == 0)
		return;
	vm_cpu_read_tune(m, v);
	if (!v->cpu_tune_read)
		return;
	if (m->cfg.cpu_max_cores <= 0)
		p.max_cores = v->id.nr_vcpus ? (double)v->id.nr_vcpus : 1.0;
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
	v->cpu_low_streak = d.low_streak;
	v->cpu.managed = true;
	v->cpu.target_cores = d.target_cores;
	v->cpu.demand_upper_cores = d.demand_upper_cores;
	util_strlcpy(v->cpu.reason, d.reason, sizeof(v->cpu.reason));
	if (d.action == PLAN_KEEP)
		return;
	log_info("plan: %s CPU %s %.2f -> %.2f cores: %s", v->id.name,
		 plan_action_to_string(d.action), v->cpu.cores, d.target_cores, d.reason);
	r = enforce_cpu_apply(m->hv_ops, m->hv, &v->id, d.target_cores, m->cfg.cpu_period_usec,
			      m->cfg.dry_run);
	v->cpu.last_error = r < 0 ? r : 0;
	v->cpu.dry_run = m->cfg.dry_run;
	if (r < 0)
		return;
	if (!m->cfg.dry_run)
		v->cpu.cores = d.target_cores;
	v->cpu.changed_usec = now_usec;
	if (d.action == PLAN_LOWER)
		v->cpu.n_lowers++;
	else
		v->cpu.n_raises++;
}

void manager_vms_step(struct manager *m, uint64_t now_usec)
{
	for (size_t i = 0; i < m->n_vms; i++) {
		struct manager_vm *v = m->vms[i];

		for (int res = 0; res < STATE_NR_RESOURCES; res++) {
			double value = v->step_n[res] ? v->step_sum[res] / v->step_n[res] : NAN;
			int r;

			v->step_sum[res] = 0;
			v->step_n[res] = 0;
			/* A gap before the first fit carries nothing worth keeping. */
			if (isnan(value) && !v->fc[res])
				continue;
			r = vm_forecast_observe(m, v, res, value);
			if (r < 0)
				log_debug_errno(r, "manager: %s forecaster of %s: %m",
						state_resource_to_string(res), v->id.name);
			vm_forecast_refresh(m, v, res, now_usec);
		}
		vm_cpu_plan(m, v, now_usec);
	}
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
