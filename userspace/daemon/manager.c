// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The manager: the only place where the stages meet.
 *
 *   plugin (libvirt) --identity, stats--+
 *   cgroups, netlink, BPF --------------+--> collect --> samples (every interval)
 *                                                          |
 *                         forecast step: mean of the step's samples
 *                                                          v
 *                                   forecast (per VM, per resource, intervals)
 *                                                          |
 *                                      plan (CPU allocation, hysteresis)
 *                                                          |
 *                                  enforce (libvirt scheduler parameters)
 *
 * After every tick the manager's view is published as an RCU snapshot
 * (state/) that the API thread reads. The manager thread is the only
 * writer. The plugin's event thread and the API thread never touch the
 * manager's data: they set a pending flag under a lock and wake the loop
 * through an eventfd.
 *
 * The loop waits on a signalfd (SIGTERM/SIGINT: stop; SIGHUP: reload), a
 * timerfd (the collection interval) and that eventfd.
 */
#include <errno.h>
#include <math.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "build-config.h"
#if HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "api.h"
#include "hv-libvirt.h"
#include "cleanup.h"
#include "log.h"
#include "manager.h"
#include "util.h"

static void manager_notify(const char *state)
{
#if HAVE_LIBSYSTEMD
	sd_notify(0, state);
#endif
}

static void manager_wake(struct manager *m)
{
	uint64_t one = 1;

	if (write(m->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug_errno(errno, "manager: cannot wake the loop: %m");
}

/* Runs on the plugin's event thread. */
static void manager_on_hv_event(const struct hv_event *ev, void *userdata)
{
	struct manager *m = userdata;

	pthread_mutex_lock(&m->pending_lock);
	switch (ev->type) {
	case HV_EVENT_CONNECTED:
		m->pending_connected = true;
		m->pending_resync = true;
		break;
	case HV_EVENT_DISCONNECTED:
		m->pending_disconnected = true;
		break;
	default:
		m->pending_resync = true;
		break;
	}
	pthread_mutex_unlock(&m->pending_lock);
	manager_wake(m);
}

/* Runs on the API thread: a hook told us a VM starts, stops or arrives. */
static int manager_on_hook(const struct api_hook_event *ev, struct api_hook_reply *reply,
			   void *userdata)
{
	struct manager *m = userdata;

	log_debug("manager: hook %s %s for %s", ev->op, ev->sub_op, ev->vm);
	pthread_mutex_lock(&m->pending_lock);
	m->pending_resync = true;
	pthread_mutex_unlock(&m->pending_lock);
	manager_wake(m);
	return 0;
}

/*
 * Runs on the API thread: an application metric value, already checked
 * against the snapshot. Queued; the manager thread adds it to the VM's
 * current step at the next tick, or sooner when the queue fills up.
 */
static int manager_on_metric(const struct api_metric_push *p, void *userdata)
{
	struct manager *m = userdata;
	struct manager_metric_push *e;
	bool wake;

	pthread_mutex_lock(&m->pending_lock);
	if (m->metric_queue_n >= MANAGER_METRIC_QUEUE_MAX) {
		m->metric_queue_dropped++;
		pthread_mutex_unlock(&m->pending_lock);
		return -ENOBUFS;
	}
	if (m->metric_queue_n == m->metric_queue_cap) {
		size_t cap = m->metric_queue_cap ? m->metric_queue_cap * 2 : 64;
		struct manager_metric_push *nq;

		if (cap > MANAGER_METRIC_QUEUE_MAX)
			cap = MANAGER_METRIC_QUEUE_MAX;
		nq = realloc(m->metric_queue, cap * sizeof(*nq));
		if (!nq) {
			pthread_mutex_unlock(&m->pending_lock);
			return -ENOMEM;
		}
		m->metric_queue = nq;
		m->metric_queue_cap = cap;
	}
	e = &m->metric_queue[m->metric_queue_n++];
	memcpy(e->uuid, p->uuid, sizeof(e->uuid));
	memcpy(e->name, p->name, sizeof(e->name));
	e->value = p->value;
	e->received_usec = p->received_usec;
	/* Half full: drain now rather than refuse values before the next tick. */
	wake = m->metric_queue_n == MANAGER_METRIC_QUEUE_MAX / 2;
	pthread_mutex_unlock(&m->pending_lock);
	if (wake)
		manager_wake(m);
	return 0;
}

/* API thread: a reservation changed the ledger; the manager checkpoints it at its next tick. */
static void manager_on_ledger_changed(void *userdata)
{
	struct manager *m = userdata;

	pthread_mutex_lock(&m->pending_lock);
	m->pending_ledger_save = true;
	pthread_mutex_unlock(&m->pending_lock);
}

static int manager_timer_arm(struct manager *m)
{
	uint64_t usec = m->cfg.collect_interval_usec;
	struct itimerspec its = {
		.it_interval = { (time_t)(usec / USEC_PER_SEC),
				 (long)(usec % USEC_PER_SEC) * 1000 },
		.it_value = { 0, 1 },
	};

	if (timerfd_settime(m->timer_fd, 0, &its, NULL) < 0)
		return log_error_errno(errno, "manager: cannot arm the collection timer: %m");
	return 0;
}

static void manager_plan_params(struct manager *m)
{
	struct plan_cpu_params *p = &m->cpu_params;

	plan_cpu_params_default(p);
	p->lead_steps = m->cfg.cpu_lead_steps;
	p->headroom = m->cfg.cpu_headroom;
	p->min_cores = m->cfg.cpu_min_cores;
	p->max_cores = m->cfg.cpu_max_cores > 0 ? m->cfg.cpu_max_cores : 1.0;
	p->lower_after = m->cfg.cpu_lower_after_steps;
	p->lower_ratio = m->cfg.cpu_lower_ratio;
}

static int manager_hv_open(struct manager *m, uint64_t now_usec)
{
	struct hv_config hc = {
		.uri = m->cfg.libvirt_uri,
		.keepalive_interval_sec = m->cfg.keepalive_interval_sec,
		.keepalive_count = m->cfg.keepalive_count,
		.reconnect_delay_ms = (unsigned)(m->cfg.reconnect_delay_usec / 1000),
		.read_only = false,
		/* A libvirtd that hangs must not stall the loop (and its watchdog). */
		.background_connect = true,
	};
	int r;

	if (m->hv || now_usec < m->hv_next_open_usec)
		return 0;
	r = m->hv_ops->open(&hc, manager_on_hv_event, m, &m->hv);
	if (r < 0) {
		m->hv_next_open_usec = now_usec + m->cfg.reconnect_delay_usec;
		return log_warning_errno(r,
					 "manager: cannot connect to %s: %m; is libvirtd running? "
					 "Retrying every %.1f s",
					 m->cfg.libvirt_uri,
					 (double)m->cfg.reconnect_delay_usec / USEC_PER_SEC);
	}
	return 0;
}

static void manager_take_pending(struct manager *m, bool *ret_resync)
{
	bool connected, disconnected;

	pthread_mutex_lock(&m->pending_lock);
	*ret_resync = m->pending_resync;
	connected = m->pending_connected;
	disconnected = m->pending_disconnected;
	m->pending_resync = m->pending_connected = m->pending_disconnected = false;
	pthread_mutex_unlock(&m->pending_lock);

	if (disconnected)
		log_warning("manager: lost the connection to %s; collecting from cgroups until it "
			    "is back",
			    m->cfg.libvirt_uri);
	if (connected) {
		if (m->hv_connects++ > 0)
			m->hv_reconnects++;
		log_info("manager: connected to %s, resynchronising", m->cfg.libvirt_uri);
	}
}

/* Says once, not every second, that the hypervisor is out of reach. */
static void manager_hv_check(struct manager *m)
{
	bool up = m->hv && m->hv_ops->connected(m->hv);

	if (!up && !m->hv_down_logged)
		log_warning("manager: not connected to %s; is libvirtd running ('systemctl status "
			    "libvirtd')? "
			    "Retrying every %.1f s, collecting from cgroups meanwhile",
			    m->cfg.libvirt_uri, (double)m->cfg.reconnect_delay_usec / USEC_PER_SEC);
	m->hv_down_logged = !up;
}

/* Where the kernel shows devices; not configurable yet, tests read fixtures directly. */
#define MANAGER_SYS_ROOT "/sys"

void manager_pool_refresh(struct manager *m, uint64_t now_usec)
{
	struct host_pool_roots roots = {
		.sys_root = MANAGER_SYS_ROOT,
		.proc_root = m->cfg.proc_root,
		.cgroup_root = m->cfg.cgroup_root,
	};

	struct host_pool_options opt;

	host_pool_options_from_config(&m->cfg, &opt);
	manager_hugepages_pool_options(m, &opt);
	host_pool_read_config(&roots, &opt, &m->pool);
	m->pool_read = true;
	m->pool_read_usec = now_usec;
	for (int i = 0; i < HOST_POOL_NR_PARTS; i++) {
		int r = m->pool.error[i];

		if (r < 0 && r != m->pool_logged_error[i] && r == -ENODATA && m->pool.error_hint[i])
			log_info("manager: the host's %s is not known (%s); it is left out of "
				 "the pool",
				 host_pool_part_to_string(i), m->pool.error_hint[i]);
		else if (r < 0 && r != m->pool_logged_error[i])
			log_warning_errno(r,
					  "manager: cannot read the host's %s, shown as unknown in "
					  "'prescientctl pool': %m%s%s",
					  host_pool_part_to_string(i),
					  m->pool.error_hint[i] ? "; " : "",
					  m->pool.error_hint[i] ? m->pool.error_hint[i] : "");
		else if (r == 0 && m->pool_logged_error[i] < 0)
			log_info("manager: the host's %s can be read again",
				 host_pool_part_to_string(i));
		m->pool_logged_error[i] = r;
	}
}

static void manager_tick(struct manager *m)
{
	uint64_t start = util_now_usec();
	bool resync;

	manager_hv_open(m, start);
	manager_take_pending(m, &resync);
	if (m->ticks > 0)
		manager_hv_check(m);
	if ((resync || m->ticks == 0) && m->hv && m->hv_ops->connected(m->hv))
		manager_vms_resync(m);
	manager_vms_collect(m, start);
	manager_safety_tick(m, start);
	manager_vms_metrics_apply(m);
	if (m->last_step_usec == 0) {
		m->last_step_usec = start;
		manager_pool_refresh(m, start);
	} else if (start - m->last_step_usec + m->cfg.collect_interval_usec / 2 >=
		   m->cfg.forecast_step_usec) {
		m->last_step_usec = start;
		manager_vms_step(m, start);
		manager_pool_refresh(m, start);
	}
	manager_alloc_tick(m, start);
	m->ticks++;
	m->last_tick_usec = start;
	m->last_tick_cost_usec = util_now_usec() - start;
	manager_snapshot_publish(m);
	manager_notify("WATCHDOG=1");
}

static void manager_on_wake(struct manager *m)
{
	uint64_t v;
	bool resync;

	if (read(m->wake_fd, &v, sizeof(v)) < 0)
		return;
	manager_take_pending(m, &resync);
	manager_vms_metrics_apply(m);
	if (resync && m->hv && m->hv_ops->connected(m->hv)) {
		manager_vms_resync(m);
		manager_snapshot_publish(m);
	}
}

/*
 * Settings that only take effect at start: the running value is kept and a
 * changed one is named, so that status never shows what is not in effect.
 */
static void manager_reload_keep_restart_only(const struct config *run, struct config *cfg)
{
	char changed[256] = "";

#define KEEP_STR(field, name)                                                                      \
	do {                                                                                       \
		if (strcmp(cfg->field, run->field))                                                \
			strncat(changed, " " name, sizeof(changed) - strlen(changed) - 1);         \
		memcpy(cfg->field, run->field, sizeof(cfg->field));                                \
	} while (0)
#define KEEP_NUM(field, name)                                                                      \
	do {                                                                                       \
		if (cfg->field != run->field)                                                      \
			strncat(changed, " " name, sizeof(changed) - strlen(changed) - 1);         \
		cfg->field = run->field;                                                           \
	} while (0)
	KEEP_STR(libvirt_uri, "[libvirt]uri");
	KEEP_STR(run_dir, "[daemon]run_dir");
	KEEP_STR(state_dir, "[daemon]state_dir");
	KEEP_STR(api_socket, "[api]socket");
	KEEP_STR(cgroup_root, "[collect]cgroup_root");
	KEEP_STR(proc_root, "[collect]proc_root");
	KEEP_NUM(forecast_step_usec, "[forecast]step");
	KEEP_NUM(horizon_steps, "[forecast]horizon");
	KEEP_NUM(history_steps, "[forecast]history");
	KEEP_NUM(api_max_clients, "[api]max_clients");
	KEEP_NUM(api_client_timeout_usec, "[api]client_timeout");
	KEEP_NUM(bpf, "[collect]bpf");
	KEEP_NUM(netlink, "[collect]netlink");
	KEEP_NUM(keepalive_interval_sec, "[libvirt]keepalive_interval");
	KEEP_NUM(keepalive_count, "[libvirt]keepalive_count");
	KEEP_NUM(reconnect_delay_usec, "[libvirt]reconnect_delay");
	KEEP_NUM(alloc_manage, "[alloc]manage");
	KEEP_NUM(lease_ttl_usec, "[alloc]lease_ttl");
#undef KEEP_STR
#undef KEEP_NUM
	if (changed[0])
		log_warning(
			"manager: these settings change only after a restart, kept as running:%s",
			changed);
}

static void manager_reload(struct manager *m)
{
	struct config cfg;
	int r;

	manager_notify("RELOADING=1");
	config_init_defaults(&cfg);
	r = config_load(m->config_path, m->config_required, &cfg);
	if (r < 0) {
		log_error_errno(r, "manager: reload failed, keeping the running configuration: %m");
		manager_notify("READY=1");
		return;
	}
	if (cfg.n_vms != m->cfg.n_vms || memcmp(cfg.vms, m->cfg.vms, sizeof(cfg.vms)) ||
	    cfg.model != m->cfg.model)
		log_info("manager: forecast models changed: they apply to forecasters created from "
			 "now on (new VMs and metrics, or after a restart); cpu_manage applies at "
			 "once");
	manager_reload_keep_restart_only(&m->cfg, &cfg);
	/* What the command line said wins over the file, on reload as at start. */
	if (m->override_dry_run >= 0)
		cfg.dry_run = m->override_dry_run;
	if (m->override_log_level >= 0)
		cfg.log_level = m->override_log_level;
	m->cfg = cfg;
	log_set_max_level(cfg.log_level);
	manager_plan_params(m);
	manager_alloc_configure(m);
	manager_safety_configure(m);
	manager_timer_arm(m);
	log_info("manager: configuration reloaded from %s%s", m->config_path,
		 cfg.dry_run ? " (dry-run)" : "");
	manager_notify("READY=1");
}

static void manager_on_signal(struct manager *m)
{
	struct signalfd_siginfo si;

	if (read(m->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	switch (si.ssi_signo) {
	case SIGTERM:
	case SIGINT:
		log_info("manager: %s received, shutting down", strsignal((int)si.ssi_signo));
		m->quit = true;
		break;
	case SIGHUP:
		manager_reload(m);
		break;
	}
}

static int manager_fds_open(struct manager *m)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0)
		return -EINVAL;
	m->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->signal_fd < 0 || m->timer_fd < 0 || m->wake_fd < 0)
		return log_error_errno(errno, "manager: cannot create its file descriptors: %m");
	return 0;
}

static int manager_api_start(struct manager *m)
{
	struct api_server_config ac = {
		.max_clients = m->cfg.api_max_clients,
		.client_timeout_usec = m->cfg.api_client_timeout_usec,
	};
	char path[PATH_MAX], dir[PATH_MAX];
	int r;

	r = config_api_socket_path(&m->cfg, path, sizeof(path));
	if (r < 0)
		return log_error_errno(r, "manager: the API socket path is too long: %m");
	util_strlcpy(dir, path, sizeof(dir));
	if (strrchr(dir, '/'))
		*strrchr(dir, '/') = '\0';
	r = util_mkdir_p(dir, 0755);
	if (r < 0)
		return log_error_errno(r, "manager: cannot create the runtime directory '%s': %m",
				       dir);
	/* The server keeps a pointer to the handlers: they live in the manager. */
	m->api_handlers = (struct api_handlers){
		.hook = manager_on_hook,
		.metric = manager_on_metric,
		.ledger = m->ledger,
		.ledger_changed = manager_on_ledger_changed,
		.userdata = m,
	};
	ac.socket_path = path;
	r = api_server_start(&ac, m->state, &m->api_handlers, &m->api);
	if (r < 0)
		return log_error_errno(r, "manager: cannot serve the API on '%s': %m", path);
	log_info("manager: API listening on %s", path);
	return 0;
}

int manager_new(const struct config *cfg, const char *config_path, bool config_required,
		struct manager **ret)
{
	struct collect_config cc = {
		.cgroup_root = cfg->cgroup_root,
		.proc_root = cfg->proc_root,
		.use_netlink = cfg->netlink,
		.use_bpf = cfg->bpf,
	};
	struct manager *m;
	int r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->signal_fd = m->timer_fd = m->wake_fd = -1;
	pthread_mutex_init(&m->pending_lock, NULL);
	m->cfg = *cfg;
	m->config_required = config_required;
	m->override_dry_run = m->override_log_level = -1;
	if (util_strlcpy(m->config_path, config_path, sizeof(m->config_path)) < 0) {
		free(m);
		return log_error_errno(ENAMETOOLONG,
				       "manager: configuration path '%s' is longer than %zu bytes",
				       config_path, sizeof(m->config_path) - 1);
	}
	m->hv_ops = &hv_libvirt_ops;
	m->started_usec = util_now_usec();
	m->started_wall_usec = util_realtime_usec();
	m->machine_protect_bytes = NAN;
	manager_plan_params(m);
	manager_alloc_configure(m);
	manager_safety_configure(m);

	r = manager_fds_open(m);
	if (r >= 0)
		r = state_new(&m->state);
	if (r >= 0) {
		r = collect_new(&cc, &m->collect);
		if (r < 0)
			log_error_errno(r, "manager: cannot start the collector: %m");
	}
	if (r >= 0) {
		manager_pool_refresh(m, util_now_usec());
		/* The ledger before the API: the API thread books in it. */
		r = manager_alloc_start(m);
	}
	if (r >= 0)
		r = manager_snapshot_publish(m);
	if (r >= 0)
		r = manager_api_start(m);
	if (r < 0) {
		manager_free(m);
		return r;
	}
	*ret = m;
	return 0;
}

void manager_free(struct manager *m)
{
	if (!m)
		return;
	api_server_stop(m->api);
	ledger_free(m->ledger);
	if (m->hv)
		m->hv_ops->close(m->hv);
	manager_vms_clear(m);
	free(m->metric_queue);
	collect_free(m->collect);
	state_free(m->state);
	closep(&m->signal_fd);
	closep(&m->timer_fd);
	closep(&m->wake_fd);
	pthread_mutex_destroy(&m->pending_lock);
	free(m);
}

int manager_run(struct manager *m)
{
	struct pollfd pfd[3] = {
		{ .fd = m->signal_fd, .events = POLLIN },
		{ .fd = m->timer_fd, .events = POLLIN },
		{ .fd = m->wake_fd, .events = POLLIN },
	};
	int r;

	r = manager_timer_arm(m);
	if (r < 0)
		return r;
	manager_notify("READY=1\nSTATUS=watching VMs");
	while (!m->quit) {
		if (poll(pfd, ARRAY_SIZE(pfd), -1) < 0) {
			if (errno == EINTR)
				continue;
			return log_error_errno(errno, "manager: poll failed: %m");
		}
		if (pfd[0].revents & POLLIN)
			manager_on_signal(m);
		if (pfd[1].revents & POLLIN) {
			uint64_t expirations;

			if (read(m->timer_fd, &expirations, sizeof(expirations)) > 0)
				manager_tick(m);
		}
		if (pfd[2].revents & POLLIN)
			manager_on_wake(m);
	}
	manager_notify("STOPPING=1");
	manager_vms_checkpoint_all(m);
	manager_net_stop(m);
	manager_alloc_stop(m);
	return 0;
}
