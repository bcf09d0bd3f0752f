// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Builds an immutable snapshot of the manager's view after every tick and
 * publishes it through state/ (RCU), for the API thread to read.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"
#include "log.h"
#include "manager.h"
#include "util.h"

static void metric_fill(const struct manager_metric *mt, struct state_metric *out)
{
	uint32_t first = (mt->values_head + STATE_METRIC_VALUES_MAX - mt->values_n) %
			 STATE_METRIC_VALUES_MAX;

	memcpy(out->name, mt->name, sizeof(out->name));
	out->last_value = mt->last_value;
	out->last_push_usec = mt->last_push_usec;
	out->n_pushes = mt->n_pushes;
	out->n_values = mt->values_n;
	for (uint32_t i = 0; i < mt->values_n; i++)
		out->values[i] = mt->values[(first + i) % STATE_METRIC_VALUES_MAX];
	out->forecast = mt->forecast;
}

/* The VM's lease as the allocation engine keeps it. */
static void alloc_fill(const struct manager *m, const struct manager_vm *v,
		       struct state_vm_alloc *out)
{
	const struct manager_vm_alloc *a = &v->alloc;
	struct lease ls;

	out->managed = m->ledger && a->lease_id;
	out->lease_id = a->lease_id;
	out->cls = a->cls;
	if (m->ledger && a->lease_id && ledger_lease_get(m->ledger, a->lease_id, &ls) >= 0)
		out->lease_state = ls.state;
	if (pool_cpuset_format(&a->pinned, out->pinned, sizeof(out->pinned)) < 0)
		util_strlcpy(out->pinned, "...", sizeof(out->pinned));
	out->refused = a->refused;
	out->migrate = a->refused || a->safety_migrate;
	util_strlcpy(out->reason, a->reason, sizeof(out->reason));
	out->changed_usec = a->changed_usec;
	for (int d = 0; d < STATE_NR_ALLOC_DIMS; d++) {
		struct state_alloc_item *it = &out->items[d];
		const struct pool_dim *pd = manager_alloc_pool_dim(m, d);
		it->in_lease = a->in_lease[d];
		it->mean = a->held[d].mean;
		it->upper = a->held[d].upper;
		it->held = pd && a->in_lease[d] ? admit_item_held(pd, a->cls, &a->held[d]) : 0;
		it->enforced = a->enforced[d];
		if (a->enforced_how[d])
			util_strlcpy(it->how, a->enforced_how[d], sizeof(it->how));
		it->last_error = a->enforce_error[d];
	}
	out->safety_raises = a->safety_raises;
	out->safety_flags = a->safety_flags;
	util_strlcpy(out->safety_reason, a->safety_reason, sizeof(out->safety_reason));
}

static int vm_fill(const struct manager *m, const struct manager_vm *v, struct state_vm *out)
{
	uint32_t first = (v->ring_head + STATE_SAMPLES_MAX - v->ring_n) % STATE_SAMPLES_MAX;

	out->id = v->id;
	out->n_samples = v->ring_n;
	for (uint32_t i = 0; i < v->ring_n; i++)
		out->samples[i] = v->ring[(first + i) % STATE_SAMPLES_MAX];
	memcpy(out->forecast, v->forecast, sizeof(out->forecast));
	out->cpu = v->cpu;
	alloc_fill(m, v, &out->alloc);
	out->model = config_vm_model(&m->cfg, v->id.name, v->id.uuid, &out->model_overridden);
	if (v->n_metrics == 0)
		return 0;
	/* Most VMs push nothing: their snapshot carries no metric array at all. */
	out->metrics = calloc(v->n_metrics, sizeof(*out->metrics));
	if (!out->metrics)
		return -ENOMEM;
	out->n_metrics = v->n_metrics;
	for (uint32_t i = 0; i < v->n_metrics; i++)
		metric_fill(v->metrics[i], &out->metrics[i]);
	return 0;
}

static int vm_by_name(const void *a, const void *b)
{
	const struct state_vm *x = a, *y = b;
	int c = strcmp(x->id.name, y->id.name);

	return c ? c : strcmp(x->id.uuid, y->id.uuid);
}

static void host_fill(const struct manager *m, struct state_host *h)
{
	gethostname(h->hostname, sizeof(h->hostname) - 1);
	util_strlcpy(h->hv_uri, m->cfg.libvirt_uri, sizeof(h->hv_uri));
	h->hv_connected = m->hv && m->hv_ops->connected(m->hv);
	h->hv_reconnects = m->hv_reconnects;
	h->collect_sources = m->collect ? collect_sources_active(m->collect) : 0;
	h->bpf_loaded = h->collect_sources & (1u << COLLECT_SRC_BPF);
	if (m->collect)
		util_strlcpy(h->bpf_status, collect_bpf_describe(m->collect),
			     sizeof(h->bpf_status));
	h->dry_run = m->cfg.dry_run;
	h->started_usec = m->started_usec;
	h->started_wall_usec = m->started_wall_usec;
	h->ticks = m->ticks;
	h->last_tick_usec = m->last_tick_usec;
	h->last_tick_cost_usec = m->last_tick_cost_usec;
	h->collect_interval_sec = (double)m->cfg.collect_interval_usec / USEC_PER_SEC;
	h->forecast_step_sec = (double)m->cfg.forecast_step_usec / USEC_PER_SEC;
	util_strlcpy(h->config_file, m->config_path, sizeof(h->config_file));
	util_strlcpy(h->version, PRESCIENT_VERSION, sizeof(h->version));
}

/* A VM that runs (or is paused) holds its configured memory. */
static bool vm_holds_memory(const struct hv_vm *id)
{
	return id->state == HV_VM_RUNNING || id->state == HV_VM_PAUSED;
}

/*
 * The pool as last read, and what the planner holds against it: the CPU
 * allocations of managed VMs and the memory of running ones.
 */
static void pool_fill(const struct manager *m, struct state_pool *sp)
{
	const struct host_pool *hp = &m->pool;
	double cpu_reserved = 0, mem_reserved = 0;
	int i;

	for (size_t k = 0; k < m->n_vms; k++) {
		const struct manager_vm *v = m->vms[k];

		if (v->cpu.managed && isfinite(v->cpu.cores) && v->cpu.cores > 0)
			cpu_reserved += v->cpu.cores;
		if (vm_holds_memory(&v->id))
			mem_reserved += (double)v->id.memory_kib * 1024;
	}
	if (m->ledger) {
		struct ledger_usage u;

		/* What the ledger holds: whole holds plus the burstable demand's mean. */
		ledger_usage_get(m->ledger, &u);
		cpu_reserved = mem_reserved = 0;
		for (uint32_t d = 0; d < u.n_dims; d++) {
			if (u.dims[d].kind == POOL_KIND_CPU)
				cpu_reserved += u.dims[d].held + u.dims[d].burst_mean;
			else if (u.dims[d].kind == POOL_KIND_MEM)
				mem_reserved += u.dims[d].held + u.dims[d].burst_mean;
		}
	}
	sp->cpu_reserved_cores = cpu_reserved;
	sp->mem_reserved_bytes = mem_reserved;
	if (!m->pool_read) {
		sp->cpu_capacity_cores = sp->mem_capacity_bytes = sp->mem_available_bytes = NAN;
		return;
	}
	sp->valid = true;
	sp->read_usec = m->pool_read_usec;
	sp->n_parts = HOST_POOL_NR_PARTS;
	memcpy(sp->error, hp->error, sizeof(hp->error));
	sp->machine_from_cgroup = hp->machine_from_cgroup;
	sp->online_cpus = hp->online_cpus;
	sp->machine_cpus = hp->pool.machine_cpus;
	sp->n_nodes = hp->error[HOST_POOL_NODES] ? 0 : hp->pool.n_nodes;
	sp->node_mask = hp->node_mask;
	memcpy(sp->node_cpus, hp->pool.node_cpus, sizeof(sp->node_cpus));
	i = pool_dim_find(&hp->pool, "cpu");
	sp->cpu_capacity_cores = i >= 0 ? hp->pool.dims[i].total : NAN;
	sp->mem_capacity_bytes = hp->mem_total_bytes;
	sp->mem_available_bytes = hp->mem_available_bytes;
	for (uint32_t d = 0; d < hp->pool.n_dims && sp->n_hugepages < STATE_POOL_HUGEPAGES_MAX;
	     d++) {
		const struct pool_dim *dim = &hp->pool.dims[d];

		if (dim->kind != POOL_KIND_HUGEPAGES)
			continue;
		sp->hugepages[sp->n_hugepages++] = (struct state_pool_hugepages){
			.page_kb = dim->page_kb,
			.node = dim->node,
			.total_pages = hp->hugepages_nr[d],
			.growable_pages = hp->hugepages_growable[d],
			.free_pages = (uint64_t)dim->observed_free,
		};
	}
}

int manager_snapshot_publish(struct manager *m)
{
	struct state_snapshot *snap;

	snap = calloc(1, sizeof(*snap));
	if (!snap)
		return -ENOMEM;
	if (m->n_vms) {
		snap->vms = calloc(m->n_vms, sizeof(*snap->vms));
		if (!snap->vms) {
			free(snap);
			return -ENOMEM;
		}
	}
	snap->n_vms = m->n_vms;
	for (size_t i = 0; i < m->n_vms; i++)
		if (vm_fill(m, m->vms[i], &snap->vms[i]) < 0) {
			state_snapshot_free(snap);
			return -ENOMEM;
		}
	if (snap->n_vms > 1)
		qsort(snap->vms, snap->n_vms, sizeof(*snap->vms), vm_by_name);
	host_fill(m, &snap->host);
	pool_fill(m, &snap->pool);
	state_publish(m->state, snap);
	return 0;
}
