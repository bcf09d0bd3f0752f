/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * state: the daemon's shared view, published as immutable RCU snapshots.
 *
 * One writer (the manager thread) builds a new struct state_snapshot off to
 * the side and publishes it with state_publish(); the old one is freed after
 * a grace period. Readers (API server, metrics) take state_read_begin(),
 * use the snapshot without blocking, and end with state_read_end(). Every
 * thread that reads must call state_thread_register() first. The urcu flavour
 * is "memb" (liburcu-memb), named explicitly everywhere.
 */
#ifndef PRESCIENT_STATE_H
#define PRESCIENT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv.h"
#include "collect.h"
#include "forecast.h"
#include "pool.h"

#define STATE_SAMPLES_MAX	120 /* recent samples kept per VM in a snapshot */
#define STATE_HORIZON_MAX	64  /* forecast steps kept per VM and resource */
#define STATE_METRICS_MAX	8   /* application metrics per VM (pushed through the API) */
#define STATE_METRIC_NAME_MAX	49  /* 48 characters of [a-z0-9_.-] and the NUL */
#define STATE_METRIC_VALUES_MAX 32  /* recent step values kept per metric */

enum state_resource {
	STATE_RES_CPU,	   /* cores */
	STATE_RES_MEM,	   /* bytes */
	STATE_RES_DISK_RD, /* bytes/s */
	STATE_RES_DISK_WR,
	STATE_RES_NET_RX, /* bytes/s */
	STATE_RES_NET_TX,
	STATE_NR_RESOURCES,
};

const char *state_resource_to_string(enum state_resource r);
/* The sample's value for a resource (NAN when not measured). */
double state_sample_value(const struct collect_sample *s, enum state_resource r);

struct state_forecast {
	bool valid;
	enum forecast_model model;
	double step_sec;
	uint64_t origin_usec; /* CLOCK_MONOTONIC of the last observation used */
	uint32_t horizon;     /* entries valid in points */
	double coverage80;    /* measured one-step coverage, NAN if unknown */
	double coverage95;
	struct forecast_point points[STATE_HORIZON_MAX];
};

/* The CPU reservation of one VM as the planner holds it. */
struct state_cpu_alloc {
	bool managed;		   /* prescient sets this VM's quota */
	double cores;		   /* current allocation, in cores (quota/period) */
	double target_cores;	   /* what the last plan asked for */
	double demand_upper_cores; /* forecast upper bound over the lead time */
	uint64_t changed_usec;	   /* CLOCK_MONOTONIC of the last change */
	uint64_t n_raises;
	uint64_t n_lowers;
	bool dry_run;	  /* decided but not enforced */
	char reason[128]; /* why the last decision was made */
	int last_error;	  /* -errno of the last enforcement, 0 if fine */
};

/* The allocation engine's dimensions of one VM, beside the CPU plan above. */
enum state_alloc_dim {
	STATE_ALLOC_CPU,  /* cores */
	STATE_ALLOC_MEM,  /* bytes */
	STATE_ALLOC_NET,  /* kbps, receive + transmit, on the uplink */
	STATE_ALLOC_DISK, /* kbps, read + write */
	STATE_NR_ALLOC_DIMS,
};

/* What the engine holds for one VM on one dimension, and what it enforces. */
struct state_alloc_item {
	bool in_lease;	 /* the lease has an item on this dimension */
	double mean;	 /* forecast demand over the lead time */
	double upper;	 /* its upper bound: the allocation followed */
	double held;	 /* what the lease takes out of the pool */
	double enforced; /* the value in force (protection, floor, cap), NAN when none */
	char how[48];	 /* where it is enforced: "libvirt soft_limit", "memory.low", ... */
	int last_error;	 /* -errno of the last enforcement, 0 if fine */
};

/*
 * A VM's lease in the host's ledger (plan/lease.h) as the manager keeps it:
 * the id and state, the class and pinned cores, per dimension what it holds,
 * and why the last raise was refused (then the VM is a migration candidate).
 */
struct state_vm_alloc {
	bool managed;	   /* the engine holds a lease for this VM */
	uint64_t lease_id; /* 0 when none */
	uint32_t lease_state;
	uint32_t cls; /* enum pool_class */
	char pinned[64];
	bool refused;	       /* the last raise did not fit the pool's risk budget */
	bool migrate;	       /* flagged for migration (refused, or starved with no room) */
	char reason[160];      /* of the last refusal or flag */
	uint64_t changed_usec; /* CLOCK_MONOTONIC of the last lease change */
	struct state_alloc_item items[STATE_NR_ALLOC_DIMS];
	/* The fast safety loop (PSI between plan ticks). */
	uint64_t safety_raises;
	uint64_t safety_flags;
	char safety_reason[160];
};

const char *state_alloc_dim_to_string(enum state_alloc_dim d);

/*
 * An application metric (transactions per second, queue length, ...) pushed
 * by the VM or an operator, averaged over each forecast step and forecast
 * like a resource. Its unit is whatever the pusher means.
 */
struct state_metric {
	char name[STATE_METRIC_NAME_MAX];
	double last_value;	 /* the last value pushed */
	uint64_t last_push_usec; /* CLOCK_MONOTONIC of that push */
	uint64_t n_pushes;
	uint32_t n_values; /* recent step means, oldest first (NAN: a step without pushes) */
	double values[STATE_METRIC_VALUES_MAX];
	struct state_forecast forecast;
};

struct state_vm {
	struct hv_vm id;
	uint32_t n_samples; /* oldest first */
	struct collect_sample samples[STATE_SAMPLES_MAX];
	struct state_forecast forecast[STATE_NR_RESOURCES];
	struct state_cpu_alloc cpu;
	struct state_vm_alloc alloc;
	enum forecast_model model; /* configured for this VM ([vm NAME] model, else [forecast]) */
	bool model_overridden;	   /* by a [vm NAME] section */
	/* Sorted by name; owned by the snapshot, allocated only for VMs that have metrics. */
	uint32_t n_metrics; /* at most STATE_METRICS_MAX */
	struct state_metric *metrics;
};

struct state_host {
	char hostname[64];
	char hv_uri[256];
	bool hv_connected;
	uint64_t hv_reconnects;
	uint32_t collect_sources; /* enum collect_source mask of the last tick */
	bool bpf_loaded;
	char bpf_status[128]; /* why BPF is or is not in use */
	bool dry_run;
	uint64_t started_usec; /* CLOCK_MONOTONIC */
	uint64_t started_wall_usec;
	uint64_t ticks;
	uint64_t last_tick_usec;
	uint64_t last_tick_cost_usec;
	double collect_interval_sec;
	double forecast_step_sec;
	char config_file[256];
	char version[32];
};

/* Hugepages of one size on one NUMA node, as the kernel reported them. */
struct state_pool_hugepages {
	uint64_t page_kb;
	uint32_t node;
	uint64_t total_pages; /* nr_hugepages: what the kernel delivered */
	uint64_t free_pages;
	uint64_t growable_pages; /* what prescient may still make from free memory */
};

#define STATE_POOL_HUGEPAGES_MAX 32 /* sizes x nodes */
#define STATE_POOL_PARTS_MAX	 8  /* >= HOST_POOL_NR_PARTS */

/*
 * The host's resource pool (daemon/host_pool.c), refreshed once a forecast
 * step. Capacity is what the host has for VMs (machine.slice's CPUs, all
 * memory); reserved is what the ledger holds for leases (held whole plus
 * the burstable demand's mean; without a ledger, the CPU allocations of
 * managed VMs and the configured memory of VMs that run);
 * free = capacity - reserved, negative when overcommitted. Unknown values
 * are NAN, with the part's -errno in error[].
 */
struct state_pool {
	bool valid;			 /* read at least once */
	uint64_t read_usec;		 /* CLOCK_MONOTONIC of the reading */
	int error[STATE_POOL_PARTS_MAX]; /* -errno per enum host_pool_part, 0 when read */
	uint32_t n_parts;		 /* entries of error[] in use */
	bool machine_from_cgroup;
	struct pool_cpuset online_cpus;
	struct pool_cpuset machine_cpus;
	uint32_t n_nodes; /* highest node id + 1; node_mask says which exist */
	uint32_t node_mask;
	struct pool_cpuset node_cpus[POOL_MAX_NODES];
	double cpu_capacity_cores;
	double cpu_reserved_cores;
	double mem_capacity_bytes;
	double mem_available_bytes; /* MemAvailable: what the kernel sees free */
	double mem_reserved_bytes;
	uint32_t n_hugepages; /* sorted by size, then node */
	struct state_pool_hugepages hugepages[STATE_POOL_HUGEPAGES_MAX];
};

/* The name of host_pool part i, for error reports ("online-cpus", ...). */
const char *state_pool_part_to_string(uint32_t part);

struct state_snapshot {
	uint64_t generation;
	struct state_host host;
	struct state_pool pool;
	size_t n_vms;
	struct state_vm *vms; /* sorted by name */
};

struct state;

int state_new(struct state **ret);
/* Waits for readers and frees the last snapshot. */
void state_free(struct state *st);

/* Writer only. Takes ownership of snap (snap->vms, their metrics); sets its generation. */
void state_publish(struct state *st, struct state_snapshot *snap);

/* Readers. The snapshot stays valid until state_read_end(); may be NULL. */
void state_thread_register(void);
void state_thread_unregister(void);
const struct state_snapshot *state_read_begin(struct state *st);
void state_read_end(void);

void state_snapshot_free(struct state_snapshot *snap);
/* Finds a VM by exact UUID, else exact name; NULL if none. */
const struct state_vm *state_snapshot_find_vm(const struct state_snapshot *snap, const char *key);
/* The VM's metric of that name; NULL if none. */
const struct state_metric *state_vm_find_metric(const struct state_vm *vm, const char *name);
/* A metric name: 1 to 48 characters of [a-z0-9_.-]. */
bool state_metric_name_valid(const char *name);

#endif
