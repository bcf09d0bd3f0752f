/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's manager: the only code that wires the stages together (see
 * manager.c for the pipeline). Private to userspace/daemon.
 */
#ifndef PRESCIENT_DAEMON_MANAGER_H
#define PRESCIENT_DAEMON_MANAGER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "config.h"
#include "collect.h"
#include "forecast.h"
#include "host_pool.h"
#include "hv.h"
#include "plan.h"
#include "state.h"

/* Values gathered before a series' first fit: enough for a trend and its errors. */
#define WARM_FIT_MIN 12
/* A metric without values for this many forecast steps is forgotten. */
#define MANAGER_METRIC_IDLE_STEPS 100
/* Metric values queued by the API thread between two applications. */
#define MANAGER_METRIC_QUEUE_MAX 16384

/* One forecast series (a resource or a metric of one VM): warm-up, then a forecaster. */
struct manager_series {
	uint32_t warm_n; /* values gathered before the first fit */
	double *warm;
	struct forecaster *fc;
};

/* An application metric of one VM, pushed through the API. */
struct manager_metric {
	char name[STATE_METRIC_NAME_MAX];
	double step_sum; /* current forecast step's accumulation */
	uint32_t step_n;
	uint32_t idle_steps; /* steps in a row without a value */
	double last_value;
	uint64_t last_push_usec;
	uint64_t n_pushes;
	uint32_t values_head, values_n; /* recent step means, a ring */
	double values[STATE_METRIC_VALUES_MAX];
	struct manager_series series;
	struct state_forecast forecast;
};

/* A queued metric value, already checked by the API thread. */
struct manager_metric_push {
	char uuid[HV_UUID_LEN + 1];
	char name[STATE_METRIC_NAME_MAX];
	double value;
	uint64_t received_usec;
};

/* QEMU's own threads (emulator, I/O) may use this beyond the vCPUs. */
#define MANAGER_CPU_EMULATOR_ALLOWANCE 0.25
/* Forecast-step values kept per VM for the correlation between VMs (risk.h). */
#define MANAGER_ALLOC_HIST 64

/* The allocation engine's view of one VM (manager_alloc.c). */
struct manager_vm_alloc {
	uint64_t lease_id; /* 0: none yet */
	enum pool_class cls;
	bool pin_want;		   /* [vm NAME] pin = yes */
	struct pool_cpuset pinned; /* the cores chosen for it, empty when none */
	bool pin_applied;
	bool pin_reapply;    /* a new QEMU or a restart: apply the pinning again */
	bool pin_warned;     /* "no free cores" said once */
	bool pin_dry_logged; /* dry-run: "would pin" said once */
	int pin_error;
	/* Unpinned VMs are kept off the cores pinned VMs reserved (manager_pin_isolate). */
	bool isolated;
	struct pool_cpuset isolated_to;
	bool in_lease[STATE_NR_ALLOC_DIMS];
	struct risk_dist want[STATE_NR_ALLOC_DIMS]; /* this step's request */
	struct risk_dist held[STATE_NR_ALLOC_DIMS]; /* what the lease holds */
	double loading[STATE_NR_ALLOC_DIMS];
	/* Pre-allocation of mem, net and disk (the CPU plan keeps its own). */
	double target[STATE_NR_ALLOC_DIMS];
	uint32_t low_streak[STATE_NR_ALLOC_DIMS];
	double pending_target[STATE_NR_ALLOC_DIMS];
	uint32_t pending_streak[STATE_NR_ALLOC_DIMS];
	/* Enforcement: the value in force, where, and the last error. */
	double enforced[STATE_NR_ALLOC_DIMS];
	const char *enforced_how[STATE_NR_ALLOC_DIMS];
	int enforce_error[STATE_NR_ALLOC_DIMS];
	/* What the ledger last granted: to tell a shrink or an unchanged request. */
	enum pool_class booked_cls;
	struct pool_cpuset booked_pinned;
	bool booked_in[STATE_NR_ALLOC_DIMS];
	double dry_enforced[STATE_NR_ALLOC_DIMS]; /* dry-run: what was said would be set */
	/* Block I/O weight of ours in force (manager_disk.c), 0 when none; the VM's own before. */
	uint32_t blkio_weight, blkio_weight_before;
	bool refused; /* the last booking was refused: kept its lease, a migration candidate */
	char reason[160];
	uint64_t changed_usec;
	/* The fast safety loop. */
	struct safety_vm_state safety_state;
	bool safety_migrate; /* starved with no room: flagged until it is not starved */
	enum safety_why safety_why[SAFETY_NR_RES];
	uint64_t safety_raises, safety_flags;
	char safety_reason[160];
	/* One value per forecast step, for the loadings. */
	uint32_t hist_head, hist_n;
	double hist[STATE_NR_RESOURCES][MANAGER_ALLOC_HIST];
};

/* One VM as the manager tracks it between ticks. */
struct manager_vm {
	struct hv_vm id;
	bool listed;		    /* present in the last successful listing */
	uint32_t ring_head, ring_n; /* recent samples, a ring */
	struct collect_sample ring[STATE_SAMPLES_MAX];
	double step_sum[STATE_NR_RESOURCES]; /* current forecast step's accumulation */
	uint32_t step_n[STATE_NR_RESOURCES];
	struct manager_series series[STATE_NR_RESOURCES];
	struct state_forecast forecast[STATE_NR_RESOURCES];
	uint32_t n_metrics; /* sorted by name */
	struct manager_metric *metrics[STATE_METRICS_MAX];
	bool metrics_full_logged;
	struct state_cpu_alloc cpu;
	uint32_t cpu_low_streak;
	bool cpu_tune_read; /* current allocation read back from the plugin */
	/* This step's CPU decision, applied once the ledger granted it. */
	bool cpu_pending;
	struct plan_cpu_decision cpu_decision;
	struct manager_vm_alloc alloc;
};

struct manager {
	struct config cfg;
	char config_path[256];
	bool config_required;
	int override_dry_run;	/* from the command line; -1 when not given */
	int override_log_level; /* -1 when not given */

	const struct hv_ops *hv_ops;
	struct hv *hv;
	uint64_t hv_next_open_usec;
	uint64_t hv_connects;
	uint64_t hv_reconnects;
	bool hv_down_logged;

	struct collect *collect;
	struct state *state;
	struct api_server *api;
	struct api_handlers api_handlers;

	int signal_fd, timer_fd, wake_fd;
	bool quit;

	/* Set by the plugin's event thread and the API thread, under lock. */
	pthread_mutex_t pending_lock;
	bool pending_resync;
	bool pending_connected;
	bool pending_disconnected;
	bool pending_ledger_save; /* the API changed the ledger */
	struct manager_metric_push *metric_queue;
	size_t metric_queue_n, metric_queue_cap;
	uint64_t metric_queue_dropped; /* refused because the queue was full */

	struct manager_vm **vms;
	size_t n_vms;

	uint64_t started_usec, started_wall_usec;
	uint64_t ticks, last_tick_usec, last_tick_cost_usec;
	uint64_t hv_stats_until; /* ask libvirt's bulk statistics until this tick */
	uint64_t last_step_usec;
	uint64_t steps; /* forecast steps taken */
	struct plan_cpu_params cpu_params;

	/* The host's resources, read once a forecast step (cheap: a few small files). */
	struct host_pool pool;
	bool pool_read;
	uint64_t pool_read_usec;
	int pool_logged_error[HOST_POOL_NR_PARTS]; /* say each failure once, not every step */

	/* The allocation engine (manager_alloc.c); NULL ledger when [alloc] manage = no. */
	struct ledger *ledger;
	struct pool ledger_pool; /* the pool the ledger was last given */
	bool ledger_reconciled;
	bool ledger_dirty;
	uint64_t ledger_saved_generation;
	struct alloc_params alloc_params[POOL_NR_KINDS];
	double machine_protect_bytes; /* memory.low of machine.slice in force, NAN when none */
	struct pool_cpuset pin_taken; /* cores chosen in the booking pass under way */
	/* The fast safety loop (manager_safety.c). */
	struct safety_params safety_params;
	struct safety_host_state safety_host;
	bool safety_host_short;
	/* Bandwidth guarantees on the uplink (manager_net.c), NULL until first used. */
	struct manager_net *net;
};

int manager_new(const struct config *cfg, const char *config_path, bool config_required,
		struct manager **ret);
void manager_free(struct manager *m);
/* Runs until SIGTERM or SIGINT; reloads the configuration on SIGHUP. */
int manager_run(struct manager *m);

/* manager_vms.c: the VM table and the per-VM pipeline. */
int manager_vms_resync(struct manager *m);
int manager_vms_collect(struct manager *m, uint64_t now_usec);
void manager_vms_step(struct manager *m, uint64_t now_usec);
void manager_vms_checkpoint_all(struct manager *m);
void manager_vms_clear(struct manager *m);
/* Applies the queued metric values to the VMs' current step. */
void manager_vms_metrics_apply(struct manager *m);

/* manager.c: reads the host's pool (sysfs under /sys, [collect] proc_root, cgroup_root). */
void manager_pool_refresh(struct manager *m, uint64_t now_usec);

/* manager_alloc.c: the ledger of leases, pre-allocation, booking. */
int manager_alloc_start(struct manager *m);
void manager_alloc_stop(struct manager *m);
void manager_alloc_configure(struct manager *m);
void manager_alloc_pool_sync(struct manager *m);
void manager_alloc_reconcile(struct manager *m);
void manager_alloc_vm_gone(struct manager *m, struct manager_vm *v);
/* The ledger pool's dimension a VM's demand of d lands on; NULL when the host has none. */
const struct pool_dim *manager_alloc_pool_dim(const struct manager *m, enum state_alloc_dim d);
void manager_alloc_history_push(struct manager_vm *v, const double value[STATE_NR_RESOURCES]);
/* After the VMs' forecasts and CPU decisions of a step: books and enforces. */
void manager_alloc_step(struct manager *m, uint64_t now_usec);
/* Every tick: checkpoints what the API changed, runs the safety loop. */
void manager_alloc_tick(struct manager *m, uint64_t now_usec);
void manager_machine_protect(struct manager *m);
/* Pins unpinned VMs to machine.slice's CPUs minus those pinned VMs reserved. */
void manager_pin_isolate(struct manager *m);

/*
 * manager_hugepages.c: hugepage pools grown to what live leases hold and
 * given back after, the VMs' hugetlb limits. sync: once a forecast step
 * after booking (and after the API changed the ledger); _root: the same on
 * another sysfs (tests). pool_options: before reading the pool, the pages
 * added so far, so that making pages never raises the pool's bound.
 */
void manager_hugepages_sync(struct manager *m);
void manager_hugepages_sync_root(struct manager *m, const char *sys_root);
void manager_hugepages_pool_options(struct manager *m, struct host_pool_options *opt);

/* manager_safety.c: PSI-driven raises and flags between forecast steps, every tick. */
void manager_safety_configure(struct manager *m);
void manager_safety_tick(struct manager *m, uint64_t now_usec);

/* manager_enforce.c: applies what a VM's lease holds through each knob's owner. */
void manager_vm_enforce(struct manager *m, struct manager_vm *v, uint64_t now_usec);
/* manager_vms.c: applies the VM's pending CPU decision. */
void manager_vm_cpu_apply(struct manager *m, struct manager_vm *v, uint64_t now_usec);

/* manager_net.c: the VMs' bandwidth reservations as HTB classes on the uplink's egress. */
void manager_net_enforce(struct manager *m, struct manager_vm *v);
void manager_net_vm_gone(struct manager *m, struct manager_vm *v);
void manager_net_stop(struct manager *m);

/* manager_disk.c: the VMs' disk reservations as their block I/O weight through libvirt. */
void manager_disk_enforce(struct manager *m, struct manager_vm *v);

/* manager_snapshot.c: publishes the manager's view for readers. */
int manager_snapshot_publish(struct manager *m);

#endif
