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

/* manager_snapshot.c: publishes the manager's view for readers. */
int manager_snapshot_publish(struct manager *m);

#endif
