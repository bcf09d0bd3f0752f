// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * RCU-published snapshots of the daemon's view (see state.h). The writer swaps
 * the pointer with rcu_xchg_pointer() and frees the previous snapshot after
 * a grace period; readers only dereference inside a read-side section.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <urcu/urcu-memb.h>

#include "state.h"

struct state {
	struct state_snapshot *current;
	uint64_t generation;
};

static const char *const resource_names[STATE_NR_RESOURCES] = {
	[STATE_RES_CPU] = "cpu",	   [STATE_RES_MEM] = "mem",
	[STATE_RES_DISK_RD] = "disk-read", [STATE_RES_DISK_WR] = "disk-write",
	[STATE_RES_NET_RX] = "net-rx",	   [STATE_RES_NET_TX] = "net-tx",
};

/* The same order as enum host_pool_part (daemon/host_pool.h). */
static const char *const pool_part_names[] = {
	"online-cpus",	      "numa-nodes", "memory",	      "hugepages",
	"machine-slice-cpus", "uplink",	    "disk-bandwidth",
};

const char *state_pool_part_to_string(uint32_t part)
{
	return part < sizeof(pool_part_names) / sizeof(pool_part_names[0]) ? pool_part_names[part]
									   : "unknown";
}

static const char *const alloc_dim_names[STATE_NR_ALLOC_DIMS] = { "cpu", "mem", "net", "disk" };

const char *state_alloc_dim_to_string(enum state_alloc_dim d)
{
	return (unsigned)d < STATE_NR_ALLOC_DIMS ? alloc_dim_names[d] : "unknown";
}

const char *state_resource_to_string(enum state_resource r)
{
	if ((unsigned)r >= STATE_NR_RESOURCES)
		return "unknown";
	return resource_names[r];
}

double state_sample_value(const struct collect_sample *s, enum state_resource r)
{
	switch (r) {
	case STATE_RES_CPU:
		return s->cpu_cores;
	case STATE_RES_MEM:
		return s->mem_bytes;
	case STATE_RES_DISK_RD:
		return s->disk_rd_bps;
	case STATE_RES_DISK_WR:
		return s->disk_wr_bps;
	case STATE_RES_NET_RX:
		return s->net_rx_bps;
	case STATE_RES_NET_TX:
		return s->net_tx_bps;
	default:
		return NAN;
	}
}

int state_new(struct state **ret)
{
	struct state *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	*ret = st;
	return 0;
}

void state_snapshot_free(struct state_snapshot *snap)
{
	if (!snap)
		return;
	for (size_t i = 0; snap->vms && i < snap->n_vms; i++)
		free(snap->vms[i].metrics);
	free(snap->vms);
	free(snap);
}

void state_free(struct state *st)
{
	struct state_snapshot *old;

	if (!st)
		return;
	old = rcu_xchg_pointer(&st->current, NULL);
	urcu_memb_synchronize_rcu();
	state_snapshot_free(old);
	free(st);
}

void state_publish(struct state *st, struct state_snapshot *snap)
{
	struct state_snapshot *old;

	snap->generation = ++st->generation;
	old = rcu_xchg_pointer(&st->current, snap);
	/* Readers never block inside their section, so this wait is short. */
	urcu_memb_synchronize_rcu();
	state_snapshot_free(old);
}

void state_thread_register(void)
{
	urcu_memb_register_thread();
}

void state_thread_unregister(void)
{
	urcu_memb_unregister_thread();
}

const struct state_snapshot *state_read_begin(struct state *st)
{
	urcu_memb_read_lock();
	return rcu_dereference(st->current);
}

void state_read_end(void)
{
	urcu_memb_read_unlock();
}

const struct state_vm *state_snapshot_find_vm(const struct state_snapshot *snap, const char *key)
{
	if (!snap || !key)
		return NULL;
	for (size_t i = 0; i < snap->n_vms; i++)
		if (!strcasecmp(snap->vms[i].id.uuid, key))
			return &snap->vms[i];
	for (size_t i = 0; i < snap->n_vms; i++)
		if (!strcmp(snap->vms[i].id.name, key))
			return &snap->vms[i];
	return NULL;
}

const struct state_metric *state_vm_find_metric(const struct state_vm *vm, const char *name)
{
	if (!vm || !name)
		return NULL;
	for (uint32_t i = 0; i < vm->n_metrics && i < STATE_METRICS_MAX; i++)
		if (!strcmp(vm->metrics[i].name, name))
			return &vm->metrics[i];
	return NULL;
}

bool state_metric_name_valid(const char *name)
{
	size_t len = 0;

	if (!name)
		return false;
	for (const char *p = name; *p; p++, len++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		      *p == '.' || *p == '-'))
			return false;
	return len >= 1 && len < STATE_METRIC_NAME_MAX;
}
