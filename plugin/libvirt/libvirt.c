// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The libvirt backend of plugin/hv.h.
 *
 * Threads:
 *  - one process-wide libvirt event loop thread (virEventRegisterDefaultImpl
 *    before the first virConnectOpen, then virEventRunDefaultImpl forever;
 *    stopping it safely is not possible, see platform-notes §5.8). Domain
 *    event and close callbacks run there and only call the user's callback.
 *  - one supervisor thread per struct hv: it owns (re)connecting. When the
 *    close callback (or a failed call on a dead connection) marks the
 *    connection lost, it closes it, emits HV_EVENT_DISCONNECTED, waits the
 *    reconnect delay, reconnects, re-registers every callback (they belong to
 *    a connection) and emits HV_EVENT_CONNECTED so the daemon resyncs: events
 *    are lost while disconnected. No libvirt call blocks the event loop.
 *  - the caller's thread (the daemon's manager) makes the other calls. It
 *    takes a reference on the current connection under the lock and calls
 *    libvirt without it, so a reconnect never waits for a slow call and a
 *    slow call never uses a freed connection. While disconnected calls
 *    return -ENOTCONN at once.
 *
 * struct hv is reference counted: libvirt holds one reference per registered
 * callback and drops it through the callback's free function, which may run
 * after deregistration returns (a dispatch in progress), so hv_close() never
 * frees memory a late callback could still touch. The user's callback is
 * called under cb_lock and cleared by close(), so it never runs after
 * close() returned.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>

#include "cleanup.h"
#include "hv-libvirt.h"
#include "log.h"
#include "tune.h"
#include "util.h"

#define DEFAULT_KEEPALIVE_INTERVAL_SEC 5
#define DEFAULT_KEEPALIVE_COUNT	       3
#define DEFAULT_RECONNECT_DELAY_MS     1000
#define CLOSE_WAIT_SEC		       5
#define QUOTA_UNLIMITED		       17592186044415LL /* libvirt's VIR_CGROUP_CPU_QUOTA_MAX */

enum dom_event {
	DOM_EVENT_LIFECYCLE,
	DOM_EVENT_TUNABLE,
	DOM_EVENT_DEVICE_ADDED,
	DOM_EVENT_DEVICE_REMOVED,
	DOM_NR_EVENTS,
};

struct hv {
	int refs; /* atomic */

	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	/* under lock */
	virConnectPtr conn; /* NULL while disconnected */
	int event_ids[DOM_NR_EVENTS];
	bool lost;     /* conn is dead: the supervisor must replace it */
	bool announce; /* conn is new: the supervisor must emit CONNECTED */
	bool closing;
	bool conn_is_qemu; /* the pid/cgroup lookups only make sense for QEMU */
	uint64_t nr_connects;

	pthread_mutex_t cb_lock;
	hv_event_cb cb; /* NULL once closed */
	void *userdata;

	pthread_t supervisor;
	bool supervisor_started;
	bool nowait_refused; /* manager thread only */

	char *uri; /* NULL = libvirt's default; under lock */
	unsigned keepalive_interval_sec;
	unsigned keepalive_count;
	unsigned reconnect_delay_ms;
	bool read_only;
	char *proc_root;
	char *pid_dir;
};

/* ---- errors ----------------------------------------------------------------------------- */

static __thread char last_error[512];

const char *hv_libvirt_last_error(void)
{
	return last_error;
}

int hv_libvirt_errno_from_code(int code, int sys_errno)
{
	switch (code) {
	case VIR_ERR_OK:
		return -EIO;
	case VIR_ERR_NO_MEMORY:
		return -ENOMEM;
	case VIR_ERR_NO_DOMAIN:
		return -ENOENT;
	case VIR_ERR_OPERATION_INVALID:
	case VIR_ERR_INVALID_ARG:
	case VIR_ERR_INVALID_DOMAIN:
	case VIR_ERR_XML_ERROR:
		return -EINVAL;
	case VIR_ERR_NO_SUPPORT:
	case VIR_ERR_ARGUMENT_UNSUPPORTED:
	case VIR_ERR_OPERATION_UNSUPPORTED:
	case VIR_ERR_CONFIG_UNSUPPORTED:
		return -EOPNOTSUPP;
	case VIR_ERR_OPERATION_DENIED:
	case VIR_ERR_ACCESS_DENIED:
		return -EACCES;
	case VIR_ERR_OPERATION_TIMEOUT:
	case VIR_ERR_AGENT_UNRESPONSIVE:
		return -ETIMEDOUT;
	case VIR_ERR_OPERATION_FAILED:
		return -EIO;
	case VIR_ERR_NO_CONNECT:
	case VIR_ERR_INVALID_CONN:
		return -ENOTCONN;
	case VIR_ERR_SYSTEM_ERROR:
		return sys_errno > 0 ? -sys_errno : -EIO;
	default:
		return -EIO;
	}
}

/* Converts this thread's libvirt error into -errno and keeps its message. */
static int error_take(const char *what)
{
	virErrorPtr e = virGetLastError();
	int r = hv_libvirt_errno_from_code(e ? e->code : VIR_ERR_OK, e ? e->int1 : 0);

	snprintf(last_error, sizeof(last_error), "%s: %s", what,
		 e && e->message ? e->message : "unknown libvirt error");
	log_debug("hv-libvirt: %s", last_error);
	virResetLastError();
	return r;
}

/* libvirt prints every error on stderr unless told otherwise. */
static void error_quiet(void *userdata, virErrorPtr error)
{
}

/* ---- references --------------------------------------------------------------------------- */

static struct hv *hv_ref(struct hv *hv)
{
	__atomic_add_fetch(&hv->refs, 1, __ATOMIC_RELAXED);
	return hv;
}

static void hv_unref(struct hv *hv)
{
	if (!hv || __atomic_sub_fetch(&hv->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	pthread_mutex_destroy(&hv->lock);
	pthread_cond_destroy(&hv->cond);
	pthread_mutex_destroy(&hv->cb_lock);
	free(hv->uri);
	free(hv->proc_root);
	free(hv->pid_dir);
	free(hv);
}

static void hv_unref_cb(void *opaque)
{
	hv_unref(opaque);
}

/* ---- event loop --------------------------------------------------------------------------- */

static pthread_once_t event_loop_once = PTHREAD_ONCE_INIT;
static int event_loop_error;

static void *event_loop_main(void *arg)
{
	for (;;) {
		/* only fails on a broken poll set; do not spin on it */
		if (virEventRunDefaultImpl() < 0) {
			virResetLastError();
			usleep(100 * 1000);
		}
	}
	return NULL;
}

/* Creates a thread with every signal blocked: the daemon handles signals itself. */
static int thread_start(pthread_t *ret, void *(*fn)(void *), void *arg, bool detached)
{
	sigset_t all, old;
	pthread_attr_t attr;
	int r;

	sigfillset(&all);
	pthread_attr_init(&attr);
	if (detached)
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(ret, &attr, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return -r;
}

static void event_loop_init(void)
{
	pthread_t t;
	int r;

	/* libxml2's global state must be set up before threads may parse */
	xmlInitParser();
	virSetErrorFunc(NULL, error_quiet);
	/* the loop must exist before the first connection opens */
	if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
		event_loop_error = error_take("cannot set up the libvirt event loop");
		return;
	}
	r = thread_start(&t, event_loop_main, NULL, true);
	if (r < 0)
		event_loop_error = r;
}

/* ---- events ------------------------------------------------------------------------------- */

static void emit(struct hv *hv, enum hv_event_type type, virDomainPtr dom)
{
	struct hv_event ev = { .type = type };

	if (dom) {
		const char *name = virDomainGetName(dom);

		if (virDomainGetUUIDString(dom, ev.uuid) < 0)
			ev.uuid[0] = '\0';
		if (name)
			snprintf(ev.name, sizeof(ev.name), "%s", name);
	}
	pthread_mutex_lock(&hv->cb_lock);
	if (hv->cb)
		hv->cb(&ev, hv->userdata);
	pthread_mutex_unlock(&hv->cb_lock);
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
	switch (event) {
	case VIR_DOMAIN_EVENT_STARTED:
		emit(opaque, HV_EVENT_VM_STARTED, dom);
		break;
	case VIR_DOMAIN_EVENT_STOPPED:
		emit(opaque, HV_EVENT_VM_STOPPED, dom);
		break;
	case VIR_DOMAIN_EVENT_DEFINED:
	case VIR_DOMAIN_EVENT_UNDEFINED:
		/* persistent configuration only: the live VM is unchanged */
		break;
	default:
		/* suspended, resumed, shutdown requested, crashed, pmsuspended */
		emit(opaque, HV_EVENT_VM_CHANGED, dom);
		break;
	}
	return 0;
}

static void on_tunable(virConnectPtr conn, virDomainPtr dom, virTypedParameterPtr params,
		       int nparams, void *opaque)
{
	emit(opaque, HV_EVENT_VM_CHANGED, dom);
}

static void on_device(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
	emit(opaque, HV_EVENT_VM_CHANGED, dom);
}

/* Tells the supervisor to replace conn, unless it already did. */
static void conn_mark_lost(struct hv *hv, virConnectPtr conn)
{
	pthread_mutex_lock(&hv->lock);
	if (hv->conn == conn) {
		hv->lost = true;
		pthread_cond_broadcast(&hv->cond);
	}
	pthread_mutex_unlock(&hv->lock);
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
	log_debug("hv-libvirt: connection closed (reason %d)", reason);
	conn_mark_lost(opaque, conn);
}

/* ---- connecting --------------------------------------------------------------------------- */

/* Drops our use of a connection: callbacks off, then our reference. */
static void conn_teardown(virConnectPtr conn, const int *event_ids)
{
	for (int i = 0; i < DOM_NR_EVENTS; i++)
		if (event_ids[i] >= 0)
			virConnectDomainEventDeregisterAny(conn, event_ids[i]);
	virConnectUnregisterCloseCallback(conn, on_close);
	virResetLastError();
	virConnectClose(conn);
}

static int event_register(struct hv *hv, virConnectPtr conn, int id,
			  virConnectDomainEventGenericCallback fn)
{
	int r;

	r = virConnectDomainEventRegisterAny(conn, NULL, id, fn, hv_ref(hv), hv_unref_cb);
	/*
	 * On failure libvirt has not kept the callback; it does not call the free
	 * function either, so drop the reference taken for it here.
	 */
	if (r < 0)
		hv_unref(hv);
	return r;
}

static int conn_open(struct hv *hv, virConnectPtr *ret_conn, int *ret_ids, bool *ret_is_qemu)
{
	static const struct {
		int id;
		virConnectDomainEventGenericCallback fn;
	} events[DOM_NR_EVENTS] = {
		[DOM_EVENT_LIFECYCLE] = { VIR_DOMAIN_EVENT_ID_LIFECYCLE,
					  VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle) },
		[DOM_EVENT_TUNABLE] = { VIR_DOMAIN_EVENT_ID_TUNABLE,
					VIR_DOMAIN_EVENT_CALLBACK(on_tunable) },
		[DOM_EVENT_DEVICE_ADDED] = { VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
					     VIR_DOMAIN_EVENT_CALLBACK(on_device) },
		[DOM_EVENT_DEVICE_REMOVED] = { VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
					       VIR_DOMAIN_EVENT_CALLBACK(on_device) },
	};
	int ids[DOM_NR_EVENTS];
	_cleanup_free_ char *uri = NULL;
	virConnectPtr conn;
	const char *type;
	int r;

	pthread_mutex_lock(&hv->lock);
	r = 0;
	if (hv->uri) {
		uri = strdup(hv->uri);
		r = uri ? 0 : -ENOMEM;
	}
	pthread_mutex_unlock(&hv->lock);
	if (r < 0)
		return r;
	conn = virConnectOpen(uri);
	if (!conn)
		return error_take("cannot connect to libvirt");

	/* only remote connections have keepalive; local drivers cannot die on us */
	if (virConnectSetKeepAlive(conn, (int)hv->keepalive_interval_sec, hv->keepalive_count) < 0)
		error_take("keepalive not enabled, ignoring");
	/*
	 * No reference for this one: drivers without a close callback (the local
	 * ones) accept it without keeping it and never call the free function,
	 * and libvirt calls it under the lock that unregistering takes, so it
	 * cannot run after conn_teardown().
	 */
	if (virConnectRegisterCloseCallback(conn, on_close, hv, NULL) < 0)
		error_take("no close callback, ignoring");

	for (int i = 0; i < DOM_NR_EVENTS; i++)
		ids[i] = -1;
	for (int i = 0; i < DOM_NR_EVENTS; i++) {
		ids[i] = event_register(hv, conn, events[i].id, events[i].fn);
		if (ids[i] < 0) {
			r = error_take("cannot register domain events");
			conn_teardown(conn, ids);
			return r;
		}
	}

	type = virConnectGetType(conn);
	*ret_is_qemu = type && strcmp(type, "QEMU") == 0;
	virResetLastError();
	memcpy(ret_ids, ids, sizeof(ids));
	*ret_conn = conn;
	return 0;
}

/* Waits the reconnect delay or until close(); called and returns with hv->lock held. */
static void delay_wait(struct hv *hv)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += hv->reconnect_delay_ms / 1000;
	ts.tv_nsec += (long)(hv->reconnect_delay_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (!hv->closing)
		if (pthread_cond_timedwait(&hv->cond, &hv->lock, &ts) == ETIMEDOUT)
			break;
}

static void *supervisor_main(void *arg)
{
	struct hv *hv = arg;

	pthread_mutex_lock(&hv->lock);
	for (;;) {
		virConnectPtr conn;
		int ids[DOM_NR_EVENTS];
		bool is_qemu;
		int r;

		if (hv->closing)
			break;
		if (hv->conn && hv->lost) {
			conn = hv->conn;
			memcpy(ids, hv->event_ids, sizeof(ids));
			hv->conn = NULL;
			hv->lost = false;
			hv->announce = false;
			pthread_mutex_unlock(&hv->lock);
			conn_teardown(conn, ids);
			emit(hv, HV_EVENT_DISCONNECTED, NULL);
			pthread_mutex_lock(&hv->lock);
			delay_wait(hv);
			continue;
		}
		if (hv->conn && hv->announce) {
			hv->announce = false;
			pthread_mutex_unlock(&hv->lock);
			emit(hv, HV_EVENT_CONNECTED, NULL);
			pthread_mutex_lock(&hv->lock);
			continue;
		}
		if (hv->conn) {
			pthread_cond_wait(&hv->cond, &hv->lock);
			continue;
		}
		pthread_mutex_unlock(&hv->lock);
		r = conn_open(hv, &conn, ids, &is_qemu);
		pthread_mutex_lock(&hv->lock);
		if (r < 0) {
			delay_wait(hv);
			continue;
		}
		if (hv->closing) {
			pthread_mutex_unlock(&hv->lock);
			conn_teardown(conn, ids);
			pthread_mutex_lock(&hv->lock);
			break;
		}
		hv->conn = conn;
		memcpy(hv->event_ids, ids, sizeof(ids));
		hv->conn_is_qemu = is_qemu;
		hv->announce = true;
		hv->nr_connects++;
	}

	if (hv->conn) {
		virConnectPtr conn = hv->conn;
		int ids[DOM_NR_EVENTS];

		memcpy(ids, hv->event_ids, sizeof(ids));
		hv->conn = NULL;
		pthread_mutex_unlock(&hv->lock);
		conn_teardown(conn, ids);
	} else {
		pthread_mutex_unlock(&hv->lock);
	}
	hv_unref(hv);
	return NULL;
}

/*
 * A reference on the live connection, or -ENOTCONN at once while there is
 * none. Release with virConnectClose (conn_releasep).
 */
static int conn_acquire(struct hv *hv, virConnectPtr *ret, bool *ret_is_qemu)
{
	virConnectPtr conn = NULL;
	bool is_qemu = false;

	pthread_mutex_lock(&hv->lock);
	if (hv->conn && !hv->lost) {
		conn = hv->conn;
		virConnectRef(conn);
		is_qemu = hv->conn_is_qemu;
	}
	pthread_mutex_unlock(&hv->lock);
	if (!conn) {
		snprintf(last_error, sizeof(last_error), "not connected to libvirt");
		return -ENOTCONN;
	}
	if (virConnectIsAlive(conn) == 0) {
		/* died before its close callback was armed: tell the supervisor */
		conn_mark_lost(hv, conn);
		virConnectClose(conn);
		snprintf(last_error, sizeof(last_error), "libvirt connection is dead");
		return -ENOTCONN;
	}
	*ret = conn;
	if (ret_is_qemu)
		*ret_is_qemu = is_qemu;
	return 0;
}

static void conn_releasep(virConnectPtr *conn)
{
	if (*conn)
		virConnectClose(*conn);
}

static void dom_freep(virDomainPtr *dom)
{
	if (*dom)
		virDomainFree(*dom);
}

/*
 * Error of a call on conn: -errno, and -ENOTCONN when the connection died,
 * in which case the supervisor is told to replace it.
 */
static int conn_error(struct hv *hv, virConnectPtr conn, const char *what)
{
	int r = error_take(what);

	if (virConnectIsAlive(conn) == 0) {
		conn_mark_lost(hv, conn);
		r = -ENOTCONN;
	}
	virResetLastError();
	return r;
}

/* ---- the hv_ops --------------------------------------------------------------------------- */

int hv_libvirt_open(const struct hv_config *cfg, const struct hv_libvirt_opts *opts, hv_event_cb cb,
		    void *userdata, struct hv **ret)
{
	const char *proc_root = opts && opts->proc_root ? opts->proc_root : HV_LIBVIRT_PROC_ROOT;
	const char *pid_dir = opts && opts->pid_dir ? opts->pid_dir : HV_LIBVIRT_PID_DIR;
	pthread_condattr_t cattr;
	struct hv *hv;
	virConnectPtr conn;
	int ids[DOM_NR_EVENTS];
	bool is_qemu;
	int r;

	pthread_once(&event_loop_once, event_loop_init);
	if (event_loop_error < 0)
		return event_loop_error;

	hv = calloc(1, sizeof(*hv));
	if (!hv)
		return -ENOMEM;
	hv->refs = 1;
	pthread_mutex_init(&hv->lock, NULL);
	pthread_mutex_init(&hv->cb_lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&hv->cond, &cattr);
	pthread_condattr_destroy(&cattr);
	hv->cb = cb;
	hv->userdata = userdata;
	hv->keepalive_interval_sec = cfg && cfg->keepalive_interval_sec
					     ? cfg->keepalive_interval_sec
					     : DEFAULT_KEEPALIVE_INTERVAL_SEC;
	hv->keepalive_count =
		cfg && cfg->keepalive_count ? cfg->keepalive_count : DEFAULT_KEEPALIVE_COUNT;
	hv->reconnect_delay_ms = cfg && cfg->reconnect_delay_ms ? cfg->reconnect_delay_ms
								: DEFAULT_RECONNECT_DELAY_MS;
	hv->read_only = cfg && cfg->read_only;
	hv->uri = cfg && cfg->uri ? strdup(cfg->uri) : NULL;
	hv->proc_root = strdup(proc_root);
	hv->pid_dir = strdup(pid_dir);
	if ((cfg && cfg->uri && !hv->uri) || !hv->proc_root || !hv->pid_dir) {
		hv_unref(hv);
		return -ENOMEM;
	}

	/*
	 * The first connection is made here unless the caller asked for the
	 * background: when libvirtd is not there the caller gets the error at
	 * once (and the message through hv_libvirt_last_error()) and decides
	 * when to try again. In the background, the supervisor connects and
	 * retries every reconnect delay, as after a lost connection.
	 */
	if (!(cfg && cfg->background_connect)) {
		r = conn_open(hv, &conn, ids, &is_qemu);
		if (r < 0) {
			hv_unref(hv);
			return r;
		}
		hv->conn = conn;
		memcpy(hv->event_ids, ids, sizeof(ids));
		hv->conn_is_qemu = is_qemu;
		hv->announce = true;
		hv->nr_connects = 1;
	}

	r = thread_start(&hv->supervisor, supervisor_main, hv_ref(hv), false);
	if (r < 0) {
		if (hv->conn)
			conn_teardown(hv->conn, hv->event_ids);
		hv_unref(hv);
		hv_unref(hv);
		return r;
	}
	hv->supervisor_started = true;
	*ret = hv;
	return 0;
}

static int libvirt_open(const struct hv_config *cfg, hv_event_cb cb, void *userdata,
			struct hv **ret)
{
	return hv_libvirt_open(cfg, NULL, cb, userdata, ret);
}

static void libvirt_close(struct hv *hv)
{
	if (!hv)
		return;
	pthread_mutex_lock(&hv->lock);
	hv->closing = true;
	pthread_cond_broadcast(&hv->cond);
	pthread_mutex_unlock(&hv->lock);
	/*
	 * The supervisor tears the connection down on its way out. It may be
	 * stuck in a connect to a host that does not answer: shutdown must not
	 * wait for that, the thread owns a reference and finishes on its own.
	 */
	if (hv->supervisor_started) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += CLOSE_WAIT_SEC;
		if (pthread_timedjoin_np(hv->supervisor, NULL, &ts) != 0) {
			log_debug("hv-libvirt: supervisor still busy, leaving it behind");
			pthread_detach(hv->supervisor);
		}
	}

	pthread_mutex_lock(&hv->cb_lock);
	hv->cb = NULL;
	hv->userdata = NULL;
	pthread_mutex_unlock(&hv->cb_lock);
	hv_unref(hv);
}

static bool libvirt_connected(struct hv *hv)
{
	virConnectPtr conn;

	if (conn_acquire(hv, &conn, NULL) < 0)
		return false;
	virConnectClose(conn);
	return true;
}

uint64_t hv_libvirt_nr_connects(struct hv *hv)
{
	uint64_t n;

	pthread_mutex_lock(&hv->lock);
	n = hv->nr_connects;
	pthread_mutex_unlock(&hv->lock);
	return n;
}

int hv_libvirt_set_uri(struct hv *hv, const char *uri)
{
	char *copy = NULL;

	if (uri) {
		copy = strdup(uri);
		if (!copy)
			return -ENOMEM;
	}
	pthread_mutex_lock(&hv->lock);
	free(hv->uri);
	hv->uri = copy;
	pthread_mutex_unlock(&hv->lock);
	return 0;
}

void hv_libvirt_simulate_loss(struct hv *hv)
{
	pthread_mutex_lock(&hv->lock);
	if (hv->conn) {
		hv->lost = true;
		pthread_cond_broadcast(&hv->cond);
	}
	pthread_mutex_unlock(&hv->lock);
}

static enum hv_vm_state state_from_libvirt(int state)
{
	switch (state) {
	case VIR_DOMAIN_RUNNING:
	case VIR_DOMAIN_BLOCKED:
		return HV_VM_RUNNING;
	case VIR_DOMAIN_PAUSED:
		return HV_VM_PAUSED;
	case VIR_DOMAIN_SHUTOFF:
		return HV_VM_SHUTOFF;
	default:
		return HV_VM_OTHER;
	}
}

/*
 * Identity of one active domain from libvirt; the /proc part comes later.
 * -ENOENT when it stopped meanwhile.
 */
static int vm_fill(struct hv *hv, virConnectPtr conn, virDomainPtr dom, struct hv_vm *ret)
{
	_cleanup_free_ char *xml = NULL;
	char uuid[VIR_UUID_STRING_BUFLEN];
	struct hv_vm vm = { 0 };
	const char *name;
	int state, reason, r;

	if (virDomainGetState(dom, &state, &reason, 0) < 0)
		return conn_error(hv, conn, "cannot read domain state");
	if (state == VIR_DOMAIN_SHUTOFF)
		return -ENOENT;
	if (virDomainGetUUIDString(dom, uuid) < 0)
		return conn_error(hv, conn, "cannot read domain UUID");

	xml = virDomainGetXMLDesc(dom, 0);
	if (!xml) {
		/* without its XML the VM is still listed, with its identity only */
		r = conn_error(hv, conn, "cannot read domain XML");
		if (r == -ENOTCONN || r == -ENOENT)
			return r;
	} else {
		r = hv_domxml_parse(xml, strlen(xml), &vm);
		if (r < 0)
			log_debug("hv-libvirt: unusable domain XML of %s: %d, ignoring", uuid, r);
	}

	/* the API's identity wins over whatever the XML said */
	snprintf(vm.uuid, sizeof(vm.uuid), "%s", uuid);
	name = virDomainGetName(dom);
	snprintf(vm.name, sizeof(vm.name), "%s", name ? name : "");
	vm.state = state_from_libvirt(state);
	*ret = vm;
	return 0;
}

/*
 * Active domains (running, paused, and the transient states in between: they
 * all have a QEMU process) with what libvirt and /proc say about them.
 */
static int libvirt_list_vms(struct hv *hv, struct hv_vm **ret_vms, size_t *ret_n)
{
	_cleanup_(conn_releasep) virConnectPtr conn = NULL;
	_cleanup_free_ struct hv_vm *vms = NULL;
	virDomainPtr *doms = NULL;
	size_t n_vms = 0;
	bool is_qemu;
	int n, r;

	r = conn_acquire(hv, &conn, &is_qemu);
	if (r < 0)
		return r;
	n = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (n < 0)
		return conn_error(hv, conn, "cannot list domains");

	vms = calloc(n > 0 ? (size_t)n : 1, sizeof(*vms));
	r = vms ? 0 : -ENOMEM;
	for (int i = 0; i < n; i++) {
		if (r == 0) {
			int k = vm_fill(hv, conn, doms[i], &vms[n_vms]);

			if (k == 0)
				n_vms++;
			else if (k != -ENOENT) /* a domain that just stopped is not an error */
				r = k;
		}
		virDomainFree(doms[i]);
	}
	free(doms);
	if (r < 0)
		return r;

	if (is_qemu && n_vms > 0) {
		r = hv_proc_find_pids(hv->proc_root, hv->pid_dir, vms, n_vms);
		if (r != 0)
			log_debug("hv-libvirt: QEMU process of %d VM(s) not found: %d, ignoring", r,
				  r);
		for (size_t i = 0; i < n_vms; i++) {
			if (vms[i].qemu_pid <= 0)
				continue;
			/* the process may exit meanwhile: keep what was found */
			r = hv_proc_read_vcpu_tids(hv->proc_root, &vms[i]);
			if (r < 0)
				log_debug("hv-libvirt: vCPU threads of %s: %d, ignoring",
					  vms[i].name, r);
			r = hv_proc_read_cgroups(hv->proc_root, &vms[i]);
			if (r < 0)
				log_debug("hv-libvirt: cgroups of %s: %d, ignoring", vms[i].name,
					  r);
		}
	}

	*ret_vms = TAKE_PTR(vms);
	*ret_n = n_vms;
	return 0;
}

static int libvirt_get_stats(struct hv *hv, struct hv_vm_stats **ret_stats, size_t *ret_n)
{
	const unsigned groups = VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON |
				VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_INTERFACE |
				VIR_DOMAIN_STATS_BLOCK;
	_cleanup_(conn_releasep) virConnectPtr conn = NULL;
	_cleanup_free_ struct hv_vm_stats *out = NULL;
	virDomainStatsRecordPtr *recs = NULL;
	unsigned flags = VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE;
	size_t n_out = 0;
	int n, r;

	r = conn_acquire(hv, &conn, NULL);
	if (r < 0)
		return r;
	/* NOWAIT: a domain whose job lock is held (migration, stuck storage) reports less, now */
	if (!hv->nowait_refused)
		flags |= VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT;
	n = virConnectGetAllDomainStats(conn, groups, &recs, flags);
	if (n < 0 && (flags & VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT)) {
		virErrorPtr e = virGetLastError();

		/* drivers older than the flag (or without it) reject it as unknown */
		if (e && (e->code == VIR_ERR_INVALID_ARG || e->code == VIR_ERR_NO_SUPPORT ||
			  e->code == VIR_ERR_ARGUMENT_UNSUPPORTED)) {
			error_take("statistics without NOWAIT");
			hv->nowait_refused = true;
			flags &= ~(unsigned)VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT;
			n = virConnectGetAllDomainStats(conn, groups, &recs, flags);
		}
	}
	if (n < 0)
		return conn_error(hv, conn, "cannot read domain statistics");

	out = calloc(n > 0 ? (size_t)n : 1, sizeof(*out));
	if (!out) {
		virDomainStatsRecordListFree(recs);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		struct hv_vm_stats *s = &out[n_out];

		if (virDomainGetUUIDString(recs[i]->dom, s->uuid) < 0) {
			virResetLastError();
			continue;
		}
		hv_stats_from_params(recs[i]->params, recs[i]->nparams, s);
		n_out++;
	}
	virDomainStatsRecordListFree(recs);

	*ret_stats = TAKE_PTR(out);
	*ret_n = n_out;
	return 0;
}

static int dom_lookup(struct hv *hv, virConnectPtr conn, const char *uuid, virDomainPtr *ret)
{
	virDomainPtr dom;

	if (!uuid || strlen(uuid) != HV_UUID_LEN)
		return -EINVAL;
	dom = virDomainLookupByUUIDString(conn, uuid);
	if (!dom)
		return conn_error(hv, conn, "cannot find domain");
	*ret = dom;
	return 0;
}

static int libvirt_get_cpu_tune(struct hv *hv, const char *uuid, struct hv_cpu_tune *ret)
{
	_cleanup_(conn_releasep) virConnectPtr conn = NULL;
	_cleanup_(dom_freep) virDomainPtr dom = NULL;
	_cleanup_free_ virTypedParameterPtr params = NULL;
	_cleanup_free_ char *type = NULL;
	struct hv_cpu_tune t = { 0 };
	unsigned long long ull;
	long long ll;
	int nparams = 0, r;
	bool have_period, have_quota;

	r = conn_acquire(hv, &conn, NULL);
	if (r < 0)
		return r;
	r = dom_lookup(hv, conn, uuid, &dom);
	if (r < 0)
		return r;
	type = virDomainGetSchedulerType(dom, &nparams);
	if (!type)
		return conn_error(hv, conn, "cannot read scheduler type");
	if (nparams <= 0)
		return -EOPNOTSUPP;
	params = calloc((size_t)nparams, sizeof(*params));
	if (!params)
		return -ENOMEM;
	r = virDomainGetSchedulerParametersFlags(dom, params, &nparams, VIR_DOMAIN_AFFECT_LIVE);
	if (r < 0) {
		virErrorPtr e = virGetLastError();

		/*
		 * Drivers without per-state parameters (the test driver) refuse any
		 * flag; for an active domain, flags 0 reads the live state as well.
		 */
		if (!e || e->code != VIR_ERR_INVALID_ARG)
			return conn_error(hv, conn, "cannot read scheduler parameters");
		virResetLastError();
		if (virDomainGetSchedulerParameters(dom, params, &nparams) < 0)
			return conn_error(hv, conn, "cannot read scheduler parameters");
	}

	have_period = virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_SCHEDULER_GLOBAL_PERIOD,
					      &ull) == 1;
	if (have_period)
		t.period_us = ull;
	have_quota = virTypedParamsGetLLong(params, nparams, VIR_DOMAIN_SCHEDULER_GLOBAL_QUOTA,
					    &ll) == 1;
	/* v1 says -1, v2's "max" comes back as libvirt's largest quota */
	t.quota_us = have_quota && ll > 0 && ll < QUOTA_UNLIMITED ? ll : -1;
	if (virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_SCHEDULER_CPU_SHARES, &ull) == 1)
		t.shares = ull;
	virTypedParamsClear(params, nparams);
	virResetLastError();
	if (!have_period && !have_quota) {
		snprintf(last_error, sizeof(last_error),
			 "driver has no global_period/global_quota (scheduler '%s')", type);
		return -EOPNOTSUPP;
	}
	*ret = t;
	return 0;
}

struct typed_params {
	virTypedParameterPtr params;
	int n, max;
};

static void typed_params_clear(struct typed_params *tp)
{
	virTypedParamsFree(tp->params, tp->n);
}

static int libvirt_set_cpu_tune(struct hv *hv, const char *uuid, const struct hv_cpu_tune *tune)
{
	_cleanup_(conn_releasep) virConnectPtr conn = NULL;
	_cleanup_(dom_freep) virDomainPtr dom = NULL;
	_cleanup_(typed_params_clear) struct typed_params tp = { 0 };
	/* libvirt's "no limit" is -1; it refuses other negative quotas */
	long long quota = tune->quota_us < 0 ? -1 : tune->quota_us;
	int r;

	if (hv->read_only) {
		snprintf(last_error, sizeof(last_error), "tuning refused: read-only mode");
		return -EPERM;
	}
	r = conn_acquire(hv, &conn, NULL);
	if (r < 0)
		return r;
	r = dom_lookup(hv, conn, uuid, &dom);
	if (r < 0)
		return r;

	if (tune->period_us &&
	    virTypedParamsAddULLong(&tp.params, &tp.n, &tp.max, VIR_DOMAIN_SCHEDULER_GLOBAL_PERIOD,
				    tune->period_us) < 0)
		return error_take("cannot build scheduler parameters");
	if (virTypedParamsAddLLong(&tp.params, &tp.n, &tp.max, VIR_DOMAIN_SCHEDULER_GLOBAL_QUOTA,
				   quota) < 0)
		return error_take("cannot build scheduler parameters");
	if (tune->shares &&
	    virTypedParamsAddULLong(&tp.params, &tp.n, &tp.max, VIR_DOMAIN_SCHEDULER_CPU_SHARES,
				    tune->shares) < 0)
		return error_take("cannot build scheduler parameters");

	if (virDomainSetSchedulerParametersFlags(dom, tp.params, tp.n, VIR_DOMAIN_AFFECT_LIVE) < 0)
		return conn_error(hv, conn, "cannot set scheduler parameters");
	return 0;
}

/* ---- for tune.c ---------------------------------------------------------------------------- */

int hv_libvirt_dom_get(struct hv *hv, const char *uuid, bool write, virConnectPtr *ret_conn,
		       virDomainPtr *ret_dom)
{
	virConnectPtr conn = NULL;
	virDomainPtr dom = NULL;
	int r;

	if (write && hv->read_only) {
		snprintf(last_error, sizeof(last_error), "tuning refused: read-only mode");
		return -EPERM;
	}
	r = conn_acquire(hv, &conn, NULL);
	if (r < 0)
		return r;
	r = dom_lookup(hv, conn, uuid, &dom);
	if (r < 0) {
		virConnectClose(conn);
		return r;
	}
	*ret_conn = conn;
	*ret_dom = dom;
	return 0;
}

int hv_libvirt_call_error(struct hv *hv, virConnectPtr conn, const char *what)
{
	return conn_error(hv, conn, what);
}

const struct hv_ops hv_libvirt_ops = {
	.name = "libvirt",
	.open = libvirt_open,
	.close = libvirt_close,
	.connected = libvirt_connected,
	.list_vms = libvirt_list_vms,
	.get_stats = libvirt_get_stats,
	.get_cpu_tune = libvirt_get_cpu_tune,
	.set_cpu_tune = libvirt_set_cpu_tune,
	.get_pinning = hv_libvirt_get_pinning,
	.pin_vcpu = hv_libvirt_pin_vcpu,
	.pin_emulator = hv_libvirt_pin_emulator,
	.get_mem_tune = hv_libvirt_get_mem_tune,
	.set_mem_tune = hv_libvirt_set_mem_tune,
	.get_block_tune = hv_libvirt_get_block_tune,
	.set_block_tune = hv_libvirt_set_block_tune,
	.get_net_tune = hv_libvirt_get_net_tune,
	.set_net_tune = hv_libvirt_set_net_tune,
	.get_blkio_weight = hv_libvirt_get_blkio_weight,
	.set_blkio_weight = hv_libvirt_set_blkio_weight,
};
