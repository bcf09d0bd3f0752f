// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * JSON rendering of the state snapshot for the API (see api.h). Pure: reads
 * the snapshot, allocates json-c objects, nothing else; it runs inside the
 * RCU read-side section, so it never blocks. Numbers that were not measured
 * (NAN) are rendered as null, never as 0, and doubles carry at most ten
 * significant digits so that output stays readable and stable. Units are in
 * the key names (_cores, _bytes, _bps, _sec, _usec).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "api.h"
#include "cleanup.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);
#define _cleanup_json_ _cleanup_(json_object_putp)

static const char *const vm_state_names[HV_NR_VM_STATES] = {
	[HV_VM_RUNNING] = "running",
	[HV_VM_PAUSED] = "paused",
	[HV_VM_SHUTOFF] = "shutoff",
	[HV_VM_OTHER] = "other",
};

static const char *const source_names[COLLECT_NR_SOURCES] = {
	[COLLECT_SRC_CGROUP_V2] = "cgroup-v2",
	[COLLECT_SRC_CGROUP_V1] = "cgroup-v1",
	[COLLECT_SRC_LIBVIRT] = "libvirt",
	[COLLECT_SRC_NETLINK] = "netlink",
	[COLLECT_SRC_BPF] = "bpf",
	[COLLECT_SRC_PROCFS] = "procfs",
};

static const char *const resource_units[STATE_NR_RESOURCES] = {
	[STATE_RES_CPU] = "cores",	 [STATE_RES_MEM] = "bytes",
	[STATE_RES_DISK_RD] = "bytes/s", [STATE_RES_DISK_WR] = "bytes/s",
	[STATE_RES_NET_RX] = "bytes/s",	 [STATE_RES_NET_TX] = "bytes/s",
};

static const char *vm_state_to_string(enum hv_vm_state s)
{
	return (unsigned)s < HV_NR_VM_STATES ? vm_state_names[s] : "other";
}

/* NULL is json-c's null: "not measured". */
static struct json_object *num(double v)
{
	char buf[64];

	if (!isfinite(v))
		return NULL;
	if (v == 0)
		v = 0; /* no "-0" */
	snprintf(buf, sizeof(buf), "%.10g", v);
	return json_object_new_double_s(v, buf);
}

static struct json_object *str(const char *s)
{
	return json_object_new_string(s ? s : "");
}

/* Seconds between two CLOCK_MONOTONIC times, null when then is unset or in the future. */
static struct json_object *age_sec(uint64_t now_usec, uint64_t then_usec)
{
	if (then_usec == 0 || then_usec > now_usec)
		return NULL;
	return num((double)(now_usec - then_usec) / 1e6);
}

/*
 * json-c reports allocation failure through NULL returns everywhere; rather
 * than test every add, the renderers build and the caller checks one marker:
 * add() remembers whether a non-NULL value was expected and did not come.
 */
struct builder {
	bool oom;
};

static void add(struct builder *b, struct json_object *obj, const char *key,
		struct json_object *val)
{
	if (!obj) {
		b->oom = true;
		json_object_put(val);
		return;
	}
	if (json_object_object_add(obj, key, val) < 0) {
		json_object_put(val);
		b->oom = true;
	}
}

static void add_str(struct builder *b, struct json_object *obj, const char *key, const char *s)
{
	struct json_object *v = str(s);

	if (!v)
		b->oom = true;
	add(b, obj, key, v);
}

static void add_u64(struct builder *b, struct json_object *obj, const char *key, uint64_t v)
{
	struct json_object *o = json_object_new_uint64(v);

	if (!o)
		b->oom = true;
	add(b, obj, key, o);
}

static void add_i64(struct builder *b, struct json_object *obj, const char *key, int64_t v)
{
	struct json_object *o = json_object_new_int64(v);

	if (!o)
		b->oom = true;
	add(b, obj, key, o);
}

static void add_bool(struct builder *b, struct json_object *obj, const char *key, bool v)
{
	struct json_object *o = json_object_new_boolean(v);

	if (!o)
		b->oom = true;
	add(b, obj, key, o);
}

static void append(struct builder *b, struct json_object *arr, struct json_object *val)
{
	if (!arr || !val || json_object_array_add(arr, val) < 0) {
		json_object_put(val);
		b->oom = true;
	}
}

static struct json_object *sources_array(struct builder *b, uint32_t mask)
{
	struct json_object *arr = json_object_new_array();

	if (!arr)
		b->oom = true;
	for (int i = 0; i < COLLECT_NR_SOURCES; i++)
		if (mask & (1u << i))
			append(b, arr, str(source_names[i]));
	return arr;
}

static int finish(struct builder *b, struct json_object **obj, struct json_object **ret)
{
	if (b->oom || !*obj)
		return -ENOMEM;
	*ret = TAKE_PTR(*obj);
	return 0;
}

int api_json_status(const struct state_snapshot *snap, uint64_t now_usec, struct json_object **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	struct json_object *lv, *col, *bpf, *fc;
	const struct state_host *h = &snap->host;
	struct builder b = { 0 };

	add_str(&b, o, "version", h->version);
	add_str(&b, o, "hostname", h->hostname);
	add(&b, o, "uptime_sec", age_sec(now_usec, h->started_usec));
	add_u64(&b, o, "started_wall_usec", h->started_wall_usec);
	add_u64(&b, o, "generation", snap->generation);
	add_u64(&b, o, "vm_count", snap->n_vms);
	add_bool(&b, o, "dry_run", h->dry_run);
	add_str(&b, o, "config_file", h->config_file);

	lv = json_object_new_object();
	add_str(&b, lv, "uri", h->hv_uri);
	add_bool(&b, lv, "connected", h->hv_connected);
	add_u64(&b, lv, "reconnects", h->hv_reconnects);
	add(&b, o, "libvirt", lv);

	col = json_object_new_object();
	add(&b, col, "interval_sec", num(h->collect_interval_sec));
	add(&b, col, "sources", sources_array(&b, h->collect_sources));
	add_u64(&b, col, "ticks", h->ticks);
	add(&b, col, "last_tick_age_sec", age_sec(now_usec, h->last_tick_usec));
	add_u64(&b, col, "last_tick_cost_usec", h->last_tick_cost_usec);
	add(&b, o, "collect", col);

	bpf = json_object_new_object();
	add_bool(&b, bpf, "loaded", h->bpf_loaded);
	add_str(&b, bpf, "status", h->bpf_status);
	add(&b, o, "bpf", bpf);

	fc = json_object_new_object();
	add(&b, fc, "step_sec", num(h->forecast_step_sec));
	add(&b, o, "forecast", fc);

	return finish(&b, &o, ret);
}

static const struct collect_sample *latest_sample(const struct state_vm *vm)
{
	return vm->n_samples ? &vm->samples[vm->n_samples - 1] : NULL;
}

static void add_sample_fields(struct builder *b, struct json_object *o,
			      const struct collect_sample *s)
{
	add(b, o, "cpu_cores", num(s ? s->cpu_cores : NAN));
	add(b, o, "mem_bytes", num(s ? s->mem_bytes : NAN));
	add(b, o, "disk_read_bps", num(s ? s->disk_rd_bps : NAN));
	add(b, o, "disk_write_bps", num(s ? s->disk_wr_bps : NAN));
	add(b, o, "net_rx_bps", num(s ? s->net_rx_bps : NAN));
	add(b, o, "net_tx_bps", num(s ? s->net_tx_bps : NAN));
}

int api_json_vms(const struct state_snapshot *snap, uint64_t now_usec, struct json_object **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	struct json_object *arr = json_object_new_array();
	struct builder b = { 0 };

	if (!arr)
		b.oom = true;
	for (size_t i = 0; i < snap->n_vms && !b.oom; i++) {
		const struct state_vm *vm = &snap->vms[i];
		const struct collect_sample *s = latest_sample(vm);
		struct json_object *v = json_object_new_object();

		add_str(&b, v, "name", vm->id.name);
		add_str(&b, v, "uuid", vm->id.uuid);
		add_str(&b, v, "state", vm_state_to_string(vm->id.state));
		add_u64(&b, v, "vcpus", vm->id.nr_vcpus);
		add_u64(&b, v, "memory_bytes", vm->id.memory_kib * 1024);
		add(&b, v, "sample_age_sec", s ? age_sec(now_usec, s->t_usec) : NULL);
		add_sample_fields(&b, v, s);
		add_bool(&b, v, "cpu_managed", vm->cpu.managed);
		add(&b, v, "cpu_alloc_cores", vm->cpu.managed ? num(vm->cpu.cores) : NULL);
		add(&b, v, "cpu_upper_cores", num(vm->cpu.demand_upper_cores));
		add_u64(&b, v, "metric_count", vm->n_metrics);
		append(&b, arr, v);
	}
	add(&b, o, "vms", arr);
	return finish(&b, &o, ret);
}

static struct json_object *forecast_json(struct builder *b, const struct state_forecast *f,
					 const char *unit, uint64_t now_usec)
{
	struct json_object *o = json_object_new_object(), *cov, *pts;

	add_str(b, o, "unit", unit);
	add_bool(b, o, "valid", f->valid);
	if (!f->valid)
		return o;
	add_str(b, o, "model", forecast_model_to_string(f->model));
	add(b, o, "step_sec", num(f->step_sec));
	add(b, o, "age_sec", age_sec(now_usec, f->origin_usec));
	cov = json_object_new_object();
	add(b, cov, "80", num(f->coverage80));
	add(b, cov, "95", num(f->coverage95));
	add(b, o, "coverage", cov);
	pts = json_object_new_array();
	if (!pts)
		b->oom = true;
	for (uint32_t i = 0; i < f->horizon && i < STATE_HORIZON_MAX; i++) {
		const struct forecast_point *p = &f->points[i];
		struct json_object *po = json_object_new_object();
		struct json_object *ivs = json_object_new_array();

		add_u64(b, po, "step", i + 1);
		add(b, po, "mean", num(p->mean));
		if (!ivs)
			b->oom = true;
		for (uint32_t k = 0; k < p->n_levels && k < FORECAST_MAX_LEVELS; k++) {
			struct json_object *iv = json_object_new_object();

			add(b, iv, "level", num(p->iv[k].level));
			add(b, iv, "lo", num(p->iv[k].lo));
			add(b, iv, "hi", num(p->iv[k].hi));
			append(b, ivs, iv);
		}
		add(b, po, "intervals", ivs);
		append(b, pts, po);
	}
	add(b, o, "points", pts);
	return o;
}

static struct json_object *identity_json(struct builder *b, const struct hv_vm *id)
{
	struct json_object *o = json_object_new_object(), *tids, *taps, *disks, *cg;

	add_str(b, o, "name", id->name);
	add_str(b, o, "uuid", id->uuid);
	add_str(b, o, "state", vm_state_to_string(id->state));
	add_i64(b, o, "pid", id->qemu_pid);
	add_u64(b, o, "vcpus", id->nr_vcpus);
	add_u64(b, o, "max_vcpus", id->max_vcpus);
	add_u64(b, o, "memory_bytes", id->memory_kib * 1024);
	add_u64(b, o, "max_memory_bytes", id->max_memory_kib * 1024);

	tids = json_object_new_array();
	if (!tids)
		b->oom = true;
	for (uint32_t i = 0; i < id->nr_vcpu_tids && i < HV_MAX_VCPUS; i++)
		append(b, tids, json_object_new_int(id->vcpu_tids[i]));
	add(b, o, "vcpu_tids", tids);

	taps = json_object_new_array();
	if (!taps)
		b->oom = true;
	for (uint32_t i = 0; i < id->nr_taps && i < HV_MAX_NICS; i++)
		append(b, taps,
		       json_object_new_string_len(id->taps[i],
						  (int)strnlen(id->taps[i], HV_IFNAME_MAX)));
	add(b, o, "taps", taps);

	disks = json_object_new_array();
	if (!disks)
		b->oom = true;
	for (uint32_t i = 0; i < id->nr_disks && i < HV_MAX_DISKS; i++)
		append(b, disks,
		       json_object_new_string_len(
			       id->disks[i], (int)strnlen(id->disks[i], sizeof(id->disks[i]))));
	add(b, o, "disks", disks);

	cg = json_object_new_object();
	add_str(b, cg, "v2", id->cgroup_v2);
	add_str(b, cg, "cpu", id->cgroup_cpu);
	add_str(b, cg, "memory", id->cgroup_memory);
	add(b, o, "cgroups", cg);
	return o;
}

static struct json_object *reservation_json(struct builder *b, const struct state_cpu_alloc *c,
					    uint64_t now_usec)
{
	struct json_object *o = json_object_new_object();

	add_bool(b, o, "managed", c->managed);
	add(b, o, "cores", c->managed ? num(c->cores) : NULL);
	add(b, o, "target_cores", c->managed ? num(c->target_cores) : NULL);
	add(b, o, "demand_upper_cores", num(c->demand_upper_cores));
	add(b, o, "changed_age_sec", age_sec(now_usec, c->changed_usec));
	add_u64(b, o, "raises", c->n_raises);
	add_u64(b, o, "lowers", c->n_lowers);
	add_bool(b, o, "dry_run", c->dry_run);
	add_str(b, o, "reason", c->reason);
	add_i64(b, o, "last_errno", c->last_error < 0 ? -c->last_error : c->last_error);
	if (c->last_error)
		add_str(b, o, "last_error",
			strerror(c->last_error < 0 ? -c->last_error : c->last_error));
	else
		add(b, o, "last_error", NULL);
	return o;
}

/* The VM's lease as the allocation engine keeps it, per dimension. */
static struct json_object *lease_view_json(struct builder *b, const struct state_vm_alloc *a,
					   uint64_t now_usec)
{
	struct json_object *o = json_object_new_object(), *items = json_object_new_object();

	if (!items)
		b->oom = true;
	add_bool(b, o, "managed", a->managed);
	add(b, o, "lease_id", a->lease_id ? json_object_new_uint64(a->lease_id) : NULL);
	add_str(b, o, "lease_state", a->managed ? lease_state_to_string(a->lease_state) : "");
	add_str(b, o, "class", pool_class_to_string(a->cls));
	add_str(b, o, "pinned", a->pinned);
	add_bool(b, o, "refused", a->refused);
	add_bool(b, o, "migrate", a->migrate);
	add_str(b, o, "reason", a->reason);
	add(b, o, "changed_age_sec", age_sec(now_usec, a->changed_usec));
	for (int d = 0; d < STATE_NR_ALLOC_DIMS && items; d++) {
		const struct state_alloc_item *it = &a->items[d];
		struct json_object *io;

		if (!it->in_lease && !isfinite(it->enforced))
			continue;
		io = json_object_new_object();
		add(b, io, "mean", num(it->mean));
		add(b, io, "upper", num(it->upper));
		add(b, io, "held", num(it->held));
		add(b, io, "enforced", num(it->enforced));
		add_str(b, io, "how", it->how);
		if (it->last_error)
			add_str(b, io, "last_error",
				strerror(it->last_error < 0 ? -it->last_error : it->last_error));
		add(b, items, state_alloc_dim_to_string(d), io);
	}
	add(b, o, "items", items);
	add_u64(b, o, "safety_raises", a->safety_raises);
	add_u64(b, o, "safety_flags", a->safety_flags);
	add_str(b, o, "safety_reason", a->safety_reason);
	return o;
}

/* Pushed application metrics: their unit is the pusher's, shown as "value". */
static struct json_object *metrics_json(struct builder *b, const struct state_vm *vm,
					uint64_t now_usec)
{
	struct json_object *o = json_object_new_object();

	for (uint32_t i = 0; i < vm->n_metrics && i < STATE_METRICS_MAX; i++) {
		const struct state_metric *mt = &vm->metrics[i];
		struct json_object *mo = json_object_new_object(), *vals = json_object_new_array();

		add(b, mo, "last_value", num(mt->last_value));
		add(b, mo, "last_push_age_sec", age_sec(now_usec, mt->last_push_usec));
		add_u64(b, mo, "pushes", mt->n_pushes);
		if (!vals)
			b->oom = true;
		for (uint32_t k = 0; k < mt->n_values && k < STATE_METRIC_VALUES_MAX; k++) {
			struct json_object *x = num(mt->values[k]);

			/* null is a step without pushes: append it as such */
			if (!vals || json_object_array_add(vals, x) < 0) {
				json_object_put(x);
				b->oom = true;
			}
		}
		add(b, mo, "step_values", vals);
		add(b, mo, "forecast", forecast_json(b, &mt->forecast, "value", now_usec));
		add(b, o, mt->name, mo);
	}
	return o;
}

int api_json_vm(const struct state_vm *vm, uint32_t max_samples, uint64_t now_usec,
		struct json_object **ret)
{
	struct builder b = { 0 };
	_cleanup_json_ struct json_object *o = identity_json(&b, &vm->id);
	struct json_object *samples, *fc;
	uint32_t n = vm->n_samples > STATE_SAMPLES_MAX ? STATE_SAMPLES_MAX : vm->n_samples;
	uint32_t first = max_samples && max_samples < n ? n - max_samples : 0;

	samples = json_object_new_array();
	if (!samples)
		b.oom = true;
	for (uint32_t i = first; i < n && !b.oom; i++) {
		const struct collect_sample *s = &vm->samples[i];
		struct json_object *so = json_object_new_object();

		add(&b, so, "age_sec", age_sec(now_usec, s->t_usec));
		add_u64(&b, so, "wall_usec", s->wall_usec);
		add_sample_fields(&b, so, s);
		add(&b, so, "cpu_steal_cores", num(s->cpu_steal_cores));
		add(&b, so, "disk_read_iops", num(s->disk_rd_iops));
		add(&b, so, "disk_write_iops", num(s->disk_wr_iops));
		add(&b, so, "cpu_pressure_some", num(s->cpu_pressure_some));
		add(&b, so, "mem_pressure_some", num(s->mem_pressure_some));
		add(&b, so, "io_pressure_some", num(s->io_pressure_some));
		add(&b, so, "cpu_preempt_per_sec", num(s->cpu_preempt_ps));
		add(&b, so, "kvm_exits_per_sec", num(s->kvm_exits_ps));
		add(&b, so, "mem_faults_per_sec", num(s->mem_faults_ps));
		add(&b, so, "mem_reclaim_stall_ratio", num(s->mem_reclaim_stall));
		add(&b, so, "sources", sources_array(&b, s->sources));
		append(&b, samples, so);
	}
	add(&b, o, "samples", samples);

	fc = json_object_new_object();
	for (int r = 0; r < STATE_NR_RESOURCES; r++)
		add(&b, fc, state_resource_to_string(r),
		    forecast_json(&b, &vm->forecast[r], resource_units[r], now_usec));
	add(&b, o, "forecast", fc);
	add_str(&b, o, "model", forecast_model_to_string(vm->model));
	add_bool(&b, o, "model_overridden", vm->model_overridden);
	add(&b, o, "metrics", metrics_json(&b, vm, now_usec));
	add(&b, o, "cpu_reservation", reservation_json(&b, &vm->cpu, now_usec));
	add(&b, o, "lease", lease_view_json(&b, &vm->alloc, now_usec));
	return finish(&b, &o, ret);
}

/* A CPU list in the kernel's format ("0-3,8"); "" for an empty set. */
static struct json_object *cpulist(struct builder *b, const struct pool_cpuset *set)
{
	char buf[4096]; /* 1024 CPUs, every other one: under 2500 characters */
	struct json_object *o;

	if (pool_cpuset_format(set, buf, sizeof(buf)) < 0)
		buf[0] = '\0';
	o = str(buf);
	if (!o)
		b->oom = true;
	return o;
}

/* Byte counts exactly (num() keeps ten digits); null when unknown. */
static struct json_object *bytes(double v)
{
	if (isfinite(v) && fabs(v) < 9007199254740992.0 && v == floor(v))
		return json_object_new_int64((int64_t)v);
	return num(v);
}

/* free = capacity - reserved, negative when overcommitted; null when the capacity is unknown. */
static struct json_object *free_of(double capacity, double reserved, bool in_bytes)
{
	double v = isfinite(capacity) ? capacity - reserved : NAN;

	return in_bytes ? bytes(v) : num(v);
}

static struct json_object *pool_errors_json(struct builder *b, const struct state_pool *p)
{
	struct json_object *arr = json_object_new_array();

	if (!arr)
		b->oom = true;
	for (uint32_t i = 0; i < p->n_parts && i < STATE_POOL_PARTS_MAX; i++) {
		struct json_object *e;
		int err = p->error[i] < 0 ? -p->error[i] : p->error[i];

		if (!err)
			continue;
		e = json_object_new_object();
		add_str(b, e, "part", state_pool_part_to_string(i));
		add_i64(b, e, "errno", err);
		add_str(b, e, "error", strerror(err));
		append(b, arr, e);
	}
	return arr;
}

/* Who holds what: the VMs the planner reserves for, in the snapshot's order (by name). */
static struct json_object *pool_holders_json(struct builder *b, const struct state_snapshot *snap)
{
	struct json_object *arr = json_object_new_array();

	if (!arr)
		b->oom = true;
	for (size_t i = 0; i < snap->n_vms; i++) {
		const struct state_vm *vm = &snap->vms[i];
		bool cpu = vm->cpu.managed && isfinite(vm->cpu.cores) && vm->cpu.cores > 0;
		bool mem = vm->id.state == HV_VM_RUNNING || vm->id.state == HV_VM_PAUSED;
		struct json_object *h;

		if (!cpu && !mem)
			continue;
		h = json_object_new_object();
		add_str(b, h, "name", vm->id.name);
		add_str(b, h, "uuid", vm->id.uuid);
		add(b, h, "cpu_cores", cpu ? num(vm->cpu.cores) : NULL);
		add(b, h, "memory_bytes", mem ? bytes((double)vm->id.memory_kib * 1024) : NULL);
		append(b, arr, h);
	}
	return arr;
}

int api_json_pool(const struct state_snapshot *snap, uint64_t now_usec, struct json_object **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	const struct state_pool *p = &snap->pool;
	struct json_object *cpu, *mem, *numa, *hp;
	struct builder b = { 0 };
	bool cpu_known = p->valid && isfinite(p->cpu_capacity_cores);
	bool online_known = p->valid && p->n_parts > 0 && p->error[0] == 0;

	add_bool(&b, o, "valid", p->valid);
	add(&b, o, "age_sec", p->valid ? age_sec(now_usec, p->read_usec) : NULL);

	cpu = json_object_new_object();
	add(&b, cpu, "online", online_known ? cpulist(&b, &p->online_cpus) : NULL);
	add(&b, cpu, "online_count",
	    online_known ? json_object_new_int64(pool_cpuset_count(&p->online_cpus)) : NULL);
	add(&b, cpu, "machine_slice", cpu_known ? cpulist(&b, &p->machine_cpus) : NULL);
	add_str(&b, cpu, "machine_slice_source",
		!cpu_known		 ? "unknown"
		: p->machine_from_cgroup ? "cgroup"
					 : "online");
	add(&b, cpu, "capacity_cores", num(p->cpu_capacity_cores));
	add(&b, cpu, "reserved_cores", num(p->cpu_reserved_cores));
	add(&b, cpu, "free_cores", free_of(p->cpu_capacity_cores, p->cpu_reserved_cores, false));
	add(&b, o, "cpu", cpu);

	mem = json_object_new_object();
	add(&b, mem, "capacity_bytes", bytes(p->mem_capacity_bytes));
	add(&b, mem, "available_bytes", bytes(p->mem_available_bytes));
	add(&b, mem, "reserved_bytes", bytes(p->mem_reserved_bytes));
	add(&b, mem, "free_bytes", free_of(p->mem_capacity_bytes, p->mem_reserved_bytes, true));
	add(&b, o, "memory", mem);

	numa = json_object_new_array();
	if (!numa)
		b.oom = true;
	for (uint32_t n = 0; n < p->n_nodes && n < POOL_MAX_NODES; n++) {
		struct json_object *no;

		if (!(p->node_mask & (1u << n)))
			continue;
		no = json_object_new_object();
		add_u64(&b, no, "node", n);
		add(&b, no, "cpus", cpulist(&b, &p->node_cpus[n]));
		add_u64(&b, no, "cpu_count", pool_cpuset_count(&p->node_cpus[n]));
		append(&b, numa, no);
	}
	add(&b, o, "numa", numa);

	hp = json_object_new_array();
	if (!hp)
		b.oom = true;
	for (uint32_t i = 0; i < p->n_hugepages && i < STATE_POOL_HUGEPAGES_MAX; i++) {
		const struct state_pool_hugepages *h = &p->hugepages[i];
		struct json_object *ho = json_object_new_object();

		add_u64(&b, ho, "page_kb", h->page_kb);
		add_u64(&b, ho, "node", h->node);
		add_u64(&b, ho, "total_pages", h->total_pages);
		add_u64(&b, ho, "free_pages", h->free_pages);
		add_u64(&b, ho, "growable_pages", h->growable_pages);
		add_u64(&b, ho, "total_bytes", h->total_pages * h->page_kb * 1024);
		add_u64(&b, ho, "free_bytes", h->free_pages * h->page_kb * 1024);
		append(&b, hp, ho);
	}
	add(&b, o, "hugepages", hp);
	add(&b, o, "reserved_by", pool_holders_json(&b, snap));
	add(&b, o, "unknown", pool_errors_json(&b, p));
	return finish(&b, &o, ret);
}

/* ---- the reservation ledger ---------------------------------------------- */

/* Amounts of a dimension: bytes and pages exactly, fractions with ten digits. */
static struct json_object *amount(double v)
{
	return bytes(v);
}

static const char *dim_unit(enum pool_kind k)
{
	switch (k) {
	case POOL_KIND_CPU:
		return "cores";
	case POOL_KIND_MEM:
		return "bytes";
	case POOL_KIND_HUGEPAGES:
		return "pages";
	default:
		return "kbit/s";
	}
}

/* What a lease holds whole on dimension d: its item there, or its pinned cores on "cpu". */
static double lease_held_on(const struct lease *ls, const struct pool *pool, uint32_t d,
			    bool *ret_involved)
{
	uint32_t n_pinned = pool_cpuset_count(&ls->admit.pinned);
	bool cpu = pool->dims[d].kind == POOL_KIND_CPU && !strcmp(pool->dims[d].name, "cpu");
	double held = 0;
	bool involved = false;

	for (uint32_t i = 0; i < ls->admit.n_items && i < ADMIT_MAX_ITEMS; i++) {
		const struct admit_item *it = &ls->admit.items[i];

		if (it->dim != d)
			continue;
		involved = true;
		/* A pinned VM's CPU demand is covered by its cores (admit.h). */
		if (!(n_pinned && pool->dims[d].kind == POOL_KIND_CPU))
			held += admit_item_held(&pool->dims[d], ls->admit.cls, &it->demand);
	}
	if (cpu && n_pinned) {
		held += n_pinned;
		involved = true;
	}
	*ret_involved = involved;
	return held;
}

static const char *holder_name(const struct state_snapshot *snap, const struct lease *ls)
{
	const struct state_vm *vm;

	if (!snap || ls->holder_kind != LEASE_HOLDER_VM)
		return NULL;
	vm = state_snapshot_find_vm(snap, ls->holder);
	return vm ? vm->id.name : NULL;
}

static struct json_object *explanation_json(struct builder *b, const struct admit_explanation *e)
{
	struct json_object *o = json_object_new_object(), *dims = json_object_new_array();

	if (!dims)
		b->oom = true;
	add_str(b, o, "verdict", admit_verdict_to_string(e->verdict));
	add_str(b, o, "class", pool_class_to_string(e->cls));
	add_u64(b, o, "pinned_cores", e->n_pinned);
	add_str(b, o, "reason", e->reason);
	for (uint32_t i = 0; i < e->n_dims && i < ADMIT_MAX_ITEMS + 1; i++) {
		const struct admit_dim_explain *d = &e->dims[i];
		struct json_object *dj = json_object_new_object();

		add_str(b, dj, "dim", d->dim);
		add(b, dj, "request", amount(d->request));
		add(b, dj, "capacity", amount(d->capacity));
		add(b, dj, "held", amount(d->held));
		add(b, dj, "demand_mean", amount(d->demand_mean));
		add(b, dj, "demand_sd", num(d->demand_sd));
		add(b, dj, "probability", num(d->probability));
		add(b, dj, "bound", num(d->bound));
		add_str(b, dj, "verdict", admit_verdict_to_string(d->verdict));
		add_str(b, dj, "reason", d->reason);
		append(b, dims, dj);
	}
	add(b, o, "dims", dims);
	return o;
}

int api_json_explanation(const struct admit_explanation *e, struct json_object **ret)
{
	struct builder b = { 0 };
	_cleanup_json_ struct json_object *o = explanation_json(&b, e);

	return finish(&b, &o, ret);
}

static struct json_object *lease_json(struct builder *b, const struct lease *ls,
				      const struct pool *pool, const struct state_snapshot *snap)
{
	struct json_object *o = json_object_new_object(), *items = json_object_new_array();
	const char *name = holder_name(snap, ls);

	if (!items)
		b->oom = true;
	add_u64(b, o, "id", ls->id);
	add_str(b, o, "holder", ls->holder);
	add(b, o, "holder_name", name ? str(name) : NULL);
	add_str(b, o, "kind", lease_holder_kind_to_string(ls->holder_kind));
	add_str(b, o, "state", lease_state_to_string(ls->state));
	add_str(b, o, "class", pool_class_to_string(ls->admit.cls));
	add_u64(b, o, "start_usec", ls->start_usec);
	add_u64(b, o, "end_usec", ls->end_usec);
	add_u64(b, o, "offered_usec", ls->offered_usec);
	add_u64(b, o, "changed_usec", ls->changed_usec);
	add_u64(b, o, "generation", ls->generation);
	add(b, o, "pinned", cpulist(b, &ls->admit.pinned));
	for (uint32_t i = 0; i < ls->admit.n_items && i < ADMIT_MAX_ITEMS; i++) {
		const struct admit_item *it = &ls->admit.items[i];
		struct json_object *io;
		bool involved;

		if (it->dim >= pool->n_dims)
			continue; /* the pool changed under the copy: nothing to name it by */
		io = json_object_new_object();
		add_str(b, io, "dim", pool->dims[it->dim].name);
		add(b, io, "held", amount(lease_held_on(ls, pool, it->dim, &involved)));
		add(b, io, "mean", amount(it->demand.mean));
		add(b, io, "sd", num(it->demand.sd));
		add(b, io, "upper", amount(it->demand.upper));
		add(b, io, "loading", num(it->demand.loading));
		append(b, items, io);
	}
	add(b, o, "items", items);
	return o;
}

int api_json_lease(const struct lease *ls, const struct pool *pool,
		   const struct state_snapshot *snap, struct json_object **ret)
{
	struct builder b = { 0 };
	_cleanup_json_ struct json_object *o = lease_json(&b, ls, pool, snap);

	return finish(&b, &o, ret);
}

static struct json_object *usage_dim_json(struct builder *b, const struct ledger_dim_usage *du)
{
	struct json_object *o = json_object_new_object();

	add_str(b, o, "kind", pool_kind_to_string(du->kind));
	add_str(b, o, "unit", dim_unit(du->kind));
	add(b, o, "capacity", amount(du->capacity));
	add(b, o, "held", amount(du->held));
	add(b, o, "burst_mean", amount(du->burst_mean));
	add(b, o, "burst_sd", num(du->burst_sd));
	add(b, o, "probability", num(du->probability));
	add(b, o, "bound", num(du->bound));
	add(b, o, "free", amount(du->free));
	return o;
}

int api_json_reservations(const struct state_snapshot *snap, const struct ledger_usage *usage,
			  const struct pool *pool, const struct lease *leases, size_t n_leases,
			  struct json_object **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	struct json_object *u = json_object_new_object(), *arr = json_object_new_array();
	struct builder b = { 0 };

	if (!u || !arr)
		b.oom = true;
	add_u64(&b, o, "generation", usage->generation);
	add_u64(&b, o, "live", usage->n_live);
	for (uint32_t d = 0; d < usage->n_dims && d < POOL_MAX_DIMS; d++)
		add(&b, u, usage->dims[d].dim, usage_dim_json(&b, &usage->dims[d]));
	add(&b, o, "usage", u);
	add_str(&b, o, "pinned", usage->pinned);
	for (size_t i = 0; i < n_leases; i++)
		append(&b, arr, lease_json(&b, &leases[i], pool, snap));
	add(&b, o, "leases", arr);
	return finish(&b, &o, ret);
}

int api_json_pool_ledger(struct json_object *pool_obj, const struct state_snapshot *snap,
			 const struct ledger_usage *usage, const struct pool *pool,
			 const struct lease *leases, size_t n_leases)
{
	struct json_object *o = json_object_new_object(), *dims = json_object_new_array();
	struct builder b = { 0 };

	if (!dims)
		b.oom = true;
	add_u64(&b, o, "generation", usage->generation);
	add_u64(&b, o, "live", usage->n_live);
	add_str(&b, o, "pinned", usage->pinned);
	for (uint32_t d = 0; d < usage->n_dims && d < POOL_MAX_DIMS; d++) {
		struct json_object *dj = usage_dim_json(&b, &usage->dims[d]);
		struct json_object *holders = json_object_new_array();

		add_str(&b, dj, "dim", usage->dims[d].dim);
		if (!holders)
			b.oom = true;
		for (size_t i = 0; i < n_leases && d < pool->n_dims; i++) {
			const struct lease *ls = &leases[i];
			const char *name = holder_name(snap, ls);
			struct json_object *h;
			bool involved;
			double held;

			if (ls->state != LEASE_OFFERED && ls->state != LEASE_CONFIRMED &&
			    ls->state != LEASE_ACTIVE)
				continue;
			held = lease_held_on(ls, pool, d, &involved);
			if (!involved)
				continue;
			h = json_object_new_object();
			add_u64(&b, h, "id", ls->id);
			add_str(&b, h, "holder", ls->holder);
			add(&b, h, "holder_name", name ? str(name) : NULL);
			add_str(&b, h, "kind", lease_holder_kind_to_string(ls->holder_kind));
			add_str(&b, h, "state", lease_state_to_string(ls->state));
			add(&b, h, "held", amount(held));
			add_u64(&b, h, "end_usec", ls->end_usec);
			append(&b, holders, h);
		}
		add(&b, dj, "leases", holders);
		append(&b, dims, dj);
	}
	add(&b, o, "dims", dims);
	if (b.oom) {
		json_object_put(o);
		return -ENOMEM;
	}
	add(&b, pool_obj, "ledger", o);
	return b.oom ? -ENOMEM : 0;
}
