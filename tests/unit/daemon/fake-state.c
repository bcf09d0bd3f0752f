// SPDX-License-Identifier: GPL-2.0-or-later
/* The hand-built snapshot described in fake-state.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake-state.h"
#include "util.h"

static void fill_web1(struct state_vm *vm, uint64_t now)
{
	struct hv_vm *id = &vm->id;
	struct state_forecast *f = &vm->forecast[STATE_RES_CPU];
	struct state_metric *mt;

	util_strlcpy(id->uuid, FAKE_UUID_WEB1, sizeof(id->uuid));
	util_strlcpy(id->name, "web1", sizeof(id->name));
	id->state = HV_VM_RUNNING;
	id->qemu_pid = 4242;
	id->nr_vcpus = 4;
	id->max_vcpus = 8;
	id->nr_vcpu_tids = 4;
	for (int i = 0; i < 4; i++)
		id->vcpu_tids[i] = 4300 + i;
	id->memory_kib = 2 * 1024 * 1024;
	id->max_memory_kib = 4 * 1024 * 1024;
	id->nr_taps = 1;
	util_strlcpy(id->taps[0], "vnet3", sizeof(id->taps[0]));
	id->nr_disks = 1;
	util_strlcpy(id->disks[0], "vda", sizeof(id->disks[0]));
	util_strlcpy(id->cgroup_v2, "/machine.slice/machine-qemu\\x2d1\\x2dweb1.scope/libvirt",
		     sizeof(id->cgroup_v2));

	vm->n_samples = 3;
	for (uint32_t i = 0; i < 3; i++) {
		struct collect_sample *s = &vm->samples[i];

		util_strlcpy(s->uuid, FAKE_UUID_WEB1, sizeof(s->uuid));
		s->t_usec = now - (2 - i) * 1000000;
		s->wall_usec = 1700000000000000ULL + i * 1000000;
		s->cpu_cores = 0.5 + 0.5 * i; /* 0.5, 1.0, 1.5 */
		s->cpu_steal_cores = 0.01;
		s->mem_bytes = 1024.0 * 1024 * 1024;
		s->disk_rd_bps = 2.0 * 1024 * 1024;
		s->disk_wr_bps = 4096;
		s->disk_rd_iops = 10;
		s->disk_wr_iops = 1;
		s->net_rx_bps = 512.0 * 1024;
		s->net_tx_bps = 1024;
		s->cpu_pressure_some = 1.25;
		s->mem_pressure_some = 0;
		s->io_pressure_some = NAN;
		s->sources = (1u << COLLECT_SRC_CGROUP_V2) | (1u << COLLECT_SRC_LIBVIRT);
	}

	for (int r = 0; r < STATE_NR_RESOURCES; r++)
		vm->forecast[r].valid = false;
	f->valid = true;
	f->model = FORECAST_HOLT;
	f->step_sec = 60;
	f->origin_usec = now - 1000000;
	f->horizon = 3;
	f->coverage80 = 0.82;
	f->coverage95 = 0.96;
	for (uint32_t i = 0; i < 3; i++) {
		struct forecast_point *p = &f->points[i];

		p->mean = 1.5 + 0.1 * i;
		p->n_levels = 2;
		p->iv[0] = (struct forecast_interval){ 0.80, p->mean - 0.2, p->mean + 0.2 };
		p->iv[1] = (struct forecast_interval){ 0.95, p->mean - 0.4, p->mean + 0.4 };
	}

	vm->cpu = (struct state_cpu_alloc){
		.managed = true,
		.cores = 2.25,
		.target_cores = 2.25,
		.demand_upper_cores = 2.1,
		.changed_usec = now - 30000000,
		.n_raises = 2,
		.n_lowers = 1,
	};
	util_strlcpy(vm->cpu.reason, "raised: forecast upper 95% 2.10 cores within 5 steps",
		     sizeof(vm->cpu.reason));

	vm->model = FORECAST_HOLT;
	vm->model_overridden = true;
	vm->metrics = calloc(1, sizeof(*vm->metrics));
	if (!vm->metrics)
		return;
	vm->n_metrics = 1;
	mt = &vm->metrics[0];
	util_strlcpy(mt->name, "tps", sizeof(mt->name));
	mt->last_value = 1250;
	mt->last_push_usec = now - 2000000;
	mt->n_pushes = 42;
	mt->n_values = 3;
	mt->values[0] = 1000;
	mt->values[1] = NAN; /* a step without pushes */
	mt->values[2] = 1200;
	mt->forecast = (struct state_forecast){
		.valid = true,
		.model = FORECAST_HOLT,
		.step_sec = 60,
		.origin_usec = now - 1000000,
		.horizon = 2,
		.coverage80 = NAN,
		.coverage95 = NAN,
	};
	for (uint32_t i = 0; i < 2; i++) {
		struct forecast_point *p = &mt->forecast.points[i];

		p->mean = 1300 + 100 * i;
		p->n_levels = 2;
		p->iv[0] = (struct forecast_interval){ 0.80, p->mean - 50, p->mean + 50 };
		p->iv[1] = (struct forecast_interval){ 0.95, p->mean - 100, p->mean + 100 };
	}
}

static void fill_db2(struct state_vm *vm)
{
	struct hv_vm *id = &vm->id;

	util_strlcpy(id->uuid, FAKE_UUID_DB2, sizeof(id->uuid));
	util_strlcpy(id->name, "db-2", sizeof(id->name));
	id->state = HV_VM_PAUSED;
	id->qemu_pid = 5151;
	id->nr_vcpus = 2;
	id->max_vcpus = 2;
	id->memory_kib = 1024 * 1024;
	id->max_memory_kib = 1024 * 1024;
	vm->n_samples = 0;
	vm->cpu.demand_upper_cores = NAN;
	vm->cpu.last_error = -EPERM;
	util_strlcpy(vm->cpu.reason, "not managed: no forecast yet", sizeof(vm->cpu.reason));

	/* as many metrics as a VM may have, none with values yet */
	vm->model = FORECAST_AUTO;
	vm->metrics = calloc(STATE_METRICS_MAX, sizeof(*vm->metrics));
	if (!vm->metrics)
		return;
	vm->n_metrics = STATE_METRICS_MAX;
	for (uint32_t i = 0; i < STATE_METRICS_MAX; i++) {
		snprintf(vm->metrics[i].name, sizeof(vm->metrics[i].name), "m%u", i);
		vm->metrics[i].last_value = NAN;
	}
}

static void cpus_set(struct pool_cpuset *set, uint32_t first, uint32_t last)
{
	for (uint32_t c = first; c <= last; c++)
		pool_cpuset_set(set, c);
}

static void fill_pool(struct state_pool *p, uint64_t now)
{
	static const struct state_pool_hugepages hp[] = {
		{ .page_kb = 2048, .node = 0, .total_pages = 512, .free_pages = 500 },
		{ .page_kb = 2048, .node = 1, .total_pages = 256, .free_pages = 256 },
		{ .page_kb = 1048576, .node = 0, .total_pages = 2, .free_pages = 1 },
	};

	p->valid = true;
	p->read_usec = now > 5000000 ? now - 5000000 : 1;
	p->n_parts = 5;
	p->machine_from_cgroup = true;
	cpus_set(&p->online_cpus, 0, 7);
	cpus_set(&p->machine_cpus, 2, 7);
	p->n_nodes = 2;
	p->node_mask = 3;
	cpus_set(&p->node_cpus[0], 0, 3);
	cpus_set(&p->node_cpus[1], 4, 7);
	p->cpu_capacity_cores = 6;
	p->cpu_reserved_cores = 2.25;
	p->mem_capacity_bytes = 16.0 * 1024 * 1024 * 1024;
	p->mem_available_bytes = 12.0 * 1024 * 1024 * 1024;
	p->mem_reserved_bytes = 3.0 * 1024 * 1024 * 1024;
	p->n_hugepages = 3;
	memcpy(p->hugepages, hp, sizeof(hp));
}

struct state_snapshot *fake_snapshot_new(uint64_t now)
{
	struct state_snapshot *snap = calloc(1, sizeof(*snap));
	struct state_host *h;

	if (!snap)
		return NULL;
	snap->vms = calloc(2, sizeof(*snap->vms));
	if (!snap->vms) {
		free(snap);
		return NULL;
	}
	snap->n_vms = 2;
	/* sorted by name, as the manager publishes them */
	fill_db2(&snap->vms[0]);
	fill_web1(&snap->vms[1], now);

	h = &snap->host;
	util_strlcpy(h->hostname, "testhost", sizeof(h->hostname));
	util_strlcpy(h->hv_uri, "test:///default", sizeof(h->hv_uri));
	h->hv_connected = true;
	h->hv_reconnects = 1;
	h->collect_sources = (1u << COLLECT_SRC_CGROUP_V2) | (1u << COLLECT_SRC_LIBVIRT) |
			     (1u << COLLECT_SRC_NETLINK);
	h->bpf_loaded = false;
	util_strlcpy(h->bpf_status, "disabled in the configuration", sizeof(h->bpf_status));
	h->dry_run = true;
	h->started_usec = now > 120000000ULL ? now - 60000000ULL : 1;
	h->started_wall_usec = 1700000000000000ULL;
	h->ticks = 3600;
	h->last_tick_usec = now - 500000;
	h->last_tick_cost_usec = 1234;
	h->collect_interval_sec = 1;
	h->forecast_step_sec = 60;
	util_strlcpy(h->config_file, "/etc/prescient/prescient.conf", sizeof(h->config_file));
	util_strlcpy(h->version, "0.1.0-test", sizeof(h->version));
	fill_pool(&snap->pool, now);
	return snap;
}

int fake_state_new(struct state **ret)
{
	struct state_snapshot *snap;
	struct state *st;
	int r;

	r = state_new(&st);
	if (r < 0)
		return r;
	snap = fake_snapshot_new(util_now_usec());
	if (!snap) {
		state_free(st);
		return -ENOMEM;
	}
	state_publish(st, snap);
	*ret = st;
	return 0;
}

int fake_ledger_new(struct ledger **ret)
{
	static const struct pool_dim dims[] = {
		{ .kind = POOL_KIND_MEM,
		  .name = "mem",
		  .node = POOL_NODE_ANY,
		  .total = 16.0 * 1024 * 1024 * 1024,
		  .host_reserved = 2.0 * 1024 * 1024 * 1024,
		  .observed_free = NAN },
		{ .kind = POOL_KIND_NET,
		  .name = "net:eth0",
		  .node = POOL_NODE_ANY,
		  .total = 1000000,
		  .risk_bound = 0.01,
		  .observed_free = NAN },
		{ .kind = POOL_KIND_HUGEPAGES,
		  .name = "hugepages-2048kB:node0",
		  .node = 0,
		  .page_kb = 2048,
		  .total = 512,
		  .observed_free = 500 },
	};
	struct ledger_params params;
	struct pool pool;
	int r;

	pool_init(&pool);
	pool.n_cpus = 8;
	pool.n_nodes = 2;
	cpus_set(&pool.machine_cpus, 2, 7);
	cpus_set(&pool.node_cpus[0], 0, 3);
	cpus_set(&pool.node_cpus[1], 4, 7);
	r = pool_cpu_dim_sync(&pool, 0, 0.05);
	for (size_t i = 0; r >= 0 && i < sizeof(dims) / sizeof(dims[0]); i++)
		r = pool_dim_add(&pool, &dims[i], NULL);
	if (r < 0)
		return r;
	ledger_params_default(&params);
	return ledger_new(&pool, &params, ret);
}

int fake_ledger_fill(struct ledger *l, uint64_t now_usec, uint64_t *ret_generation)
{
	const double gib = 1024.0 * 1024 * 1024;
	struct lease_request web1 = {
		.holder = FAKE_UUID_WEB1,
		.holder_kind = LEASE_HOLDER_VM,
		.start_usec = now_usec,
		.admit = {
			.cls = POOL_CLASS_BURSTABLE,
			.n_items = 2,
			.items = {
				{ .dim = 0, .demand = { .mean = 1.5, .sd = 0.3, .upper = 2.1 } },
				{ .dim = 1, .demand = { .mean = 2 * gib, .upper = 2 * gib } },
			},
		},
	};
	struct lease_request mig = {
		.holder = "mig-7",
		.holder_kind = LEASE_HOLDER_MIGRATION,
		.start_usec = now_usec,
		.end_usec = now_usec + 2 * 3600 * USEC_PER_SEC,
		.admit = {
			.cls = POOL_CLASS_GUARANTEED,
			.n_items = 2,
			.items = {
				{ .dim = 0, .demand = { .mean = 2, .upper = 2 } },
				{ .dim = 1, .demand = { .mean = 4 * gib, .upper = 4 * gib } },
			},
		},
	};
	uint64_t id;
	int r;

	cpus_set(&mig.admit.pinned, 6, 7);
	web1.generation = ledger_generation(l);
	r = ledger_offer(l, &web1, now_usec, NULL, &id);
	if (r < 0)
		return r;
	r = ledger_confirm(l, id, now_usec);
	if (r >= 0)
		r = ledger_activate(l, id, now_usec);
	if (r < 0)
		return r;
	mig.generation = ledger_generation(l);
	r = ledger_offer(l, &mig, now_usec, NULL, &id);
	if (r >= 0)
		r = ledger_confirm(l, id, now_usec);
	if (r < 0)
		return r;
	*ret_generation = ledger_generation(l);
	return 0;
}
