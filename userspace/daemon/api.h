/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's local API: a UNIX stream socket (default
 * /run/prescient/prescient.sock, mode 0660) served by one thread with poll().
 * Each request is one JSON object on one line, each response one JSON object
 * on one line:
 *
 *   {"cmd":"status"}                      host, uptime, sources, BPF, libvirt
 *   {"cmd":"vms"}                         one row per VM, latest sample
 *   {"cmd":"vm","vm":"<name|uuid>"}       identity, samples, forecasts, CPU
 *   {"cmd":"pool"}                        the host's resources: capacity,
 *                                          reserved (by which VM), free per
 *                                          resource; NUMA CPUs; hugepages per
 *                                          size and node; parts not readable
 *   {"cmd":"hook","object":"qemu","op":"started","sub_op":"begin",
 *    "extra":"-","vm":"<name>","uuid":"<uuid>"}   from the libvirt hook
 *   {"cmd":"metric","vm":"<name|uuid>","name":"<metric>","value":<number>
 *    [,"time_usec":<wall clock usec>]}   an application metric value: name
 *                                          1-48 of [a-z0-9_.-], value finite;
 *                                          averaged into the forecast step it
 *                                          arrives in (time_usec, when given,
 *                                          must be within an hour of the
 *                                          host's clock and is otherwise unused)
 *
 * The reservation ledger (plan/lease.h), served from api_handlers.ledger
 * (api_reservations.c); times are CLOCK_REALTIME microseconds:
 *
 *   {"cmd":"reservations"}                generation, usage per dimension,
 *                                          pinned cores, every lease
 *   {"cmd":"explain","vm":"<name|uuid>"}  a VM's live lease: its grant's
 *   {"cmd":"explain","id":N}               explanation and the same request
 *                                          decided again now
 *   {"cmd":"explain","request":{...}}     what admission would decide now for
 *                                          a reserve request; changes nothing
 *   {"cmd":"reserve","holder":"<id>","kind":"vm|migration",
 *    "class":"guaranteed|burstable|best-effort","generation":N,
 *    ["start_usec":T,"end_usec":T,"pinned":"2-3",]
 *    "items":[{"dim":"cpu","mean":1.5[,"sd":0.2,"upper":2.0,"loading":0.3]}]}
 *                                          an offered lease, or a refusal
 *   {"cmd":"confirm"|"activate"|"release","id":N}
 *
 *   -> {"ok":true,"data":{...}}  or  {"ok":false,"error":"<what and what to do>",
 *      "code":"<invalid|stale|refused|full|not_found|expired|state|unavailable>"}
 *
 * Read-only commands render from the RCU snapshot (state.h); the socket is
 * written outside the read-side section. Commands that need the manager call
 * a handler that only queues. Requests are bounded (API_REQUEST_MAX_BYTES);
 * every exchange must finish within the client timeout; hostile input gets an
 * error reply and changes nothing.
 */
#ifndef PRESCIENT_DAEMON_API_H
#define PRESCIENT_DAEMON_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv.h"
#include "lease.h"
#include "state.h"

#define API_REQUEST_MAX_BYTES	 (64 * 1024)
#define API_DEFAULT_MAX_CLIENTS	 64
#define API_DEFAULT_TIMEOUT_USEC (10 * 1000 * 1000ULL)
#define API_DEFAULT_SOCKET_MODE	 0660
#define API_ERROR_MAX		 512

enum api_cmd {
	API_CMD_STATUS,
	API_CMD_VMS,
	API_CMD_VM,
	API_CMD_HOOK,
	API_CMD_METRIC,
	API_CMD_POOL,
	API_CMD_RESERVATIONS,
	API_CMD_EXPLAIN,
	API_CMD_RESERVE,
	API_CMD_CONFIRM,
	API_CMD_ACTIVATE,
	API_CMD_RELEASE,
	API_NR_CMDS,
};

/* One libvirt hook invocation, as the hook program forwards it. */
struct api_hook_event {
	char object[16]; /* "qemu" */
	char op[32];	 /* prepare, start, started, stopped, release, migrate, ... */
	char sub_op[32]; /* begin, end, "-" */
	char extra[64];	 /* release reason, "-" */
	char vm[HV_NAME_MAX];
	char uuid[HV_UUID_LEN + 1]; /* "" when the hook could not read it */
	uint64_t received_usec;	    /* CLOCK_MONOTONIC, set by the server */
};

enum api_hook_verdict {
	API_HOOK_ALLOW,
	API_HOOK_REFUSE, /* only honoured by the hook for prepare/start/migrate/restore */
	API_NR_HOOK_VERDICTS,
};

struct api_hook_reply {
	enum api_hook_verdict verdict; /* API_HOOK_ALLOW unless the handler says otherwise */
	char reason[256];
};

/* Metric values: finite, and within this magnitude (keeps the forecasts' sums exact enough). */
#define API_METRIC_VALUE_MAX 1e15
/* A pushed time_usec may differ from the host's clock by this much at most. */
#define API_METRIC_SKEW_USEC (3600ULL * 1000 * 1000)

/* One application metric value, resolved to a VM of the snapshot. */
struct api_metric_push {
	char vm[HV_NAME_MAX];	    /* as the client named it */
	char uuid[HV_UUID_LEN + 1]; /* the VM it resolved to (set by the server) */
	char name[STATE_METRIC_NAME_MAX];
	double value;
	uint64_t time_usec;	/* CLOCK_REALTIME given by the client, 0 if none */
	uint64_t received_usec; /* CLOCK_MONOTONIC, set by the server */
};

/* Lease requests: amounts within this magnitude, times at most this far ahead of the clock. */
#define API_LEASE_VALUE_MAX	 1e15
#define API_LEASE_AHEAD_MAX_USEC (366ULL * 24 * 3600 * 1000 * 1000)

struct api_lease_item {
	char dim[POOL_NAME_MAX]; /* a dimension of the ledger's pool, by name */
	struct risk_dist demand; /* sd defaults to 0, upper to mean, loading to 0 */
};

/* A reserve (or hypothetical explain) request, before its dimensions are resolved. */
struct api_lease_request {
	char holder[LEASE_HOLDER_MAX]; /* 1-63 of [A-Za-z0-9_.:-]; a UUID for a VM */
	enum lease_holder_kind kind;
	enum pool_class cls;
	bool has_generation; /* required by reserve, ignored by explain */
	uint64_t generation;
	uint64_t start_usec; /* 0: now */
	uint64_t end_usec;   /* 0: open-ended */
	struct pool_cpuset pinned;
	uint32_t n_items;
	struct api_lease_item items[ADMIT_MAX_ITEMS];
};

struct api_handlers {
	/*
	 * Runs on the API thread with no lock held: queue the event for the
	 * manager and return at once (the hook, and libvirt behind it, waits).
	 * 0 = accepted; -errno = not queued (the client gets an error reply).
	 */
	int (*hook)(const struct api_hook_event *ev, struct api_hook_reply *reply, void *userdata);
	/*
	 * Same rules: queue and return. The server has checked the request and
	 * that the VM exists and has room for the metric in the snapshot.
	 * -ENOBUFS: the queue is full; other -errno: refused.
	 */
	int (*metric)(const struct api_metric_push *p, void *userdata);
	/*
	 * The reservation ledger, used directly by the API thread (the ledger
	 * has its own lock): reservations, explain, reserve, confirm, activate,
	 * release, and the ledger part of pool. NULL: those commands answer
	 * that this daemon has no ledger (code "unavailable"). Must outlive the
	 * server. Holders are VM UUIDs (kind vm) or migration ids.
	 */
	struct ledger *ledger;
	/* CLOCK_REALTIME in microseconds for the ledger; NULL: util_realtime_usec(). */
	uint64_t (*realtime_usec)(void *userdata);
	/*
	 * Optional, on the API thread after a reserve, confirm, activate or
	 * release changed the ledger (e.g. to schedule a checkpoint). Must not
	 * block.
	 */
	void (*ledger_changed)(void *userdata);
	void *userdata;
};

struct api_request {
	enum api_cmd cmd;
	char vm[HV_NAME_MAX];		/* API_CMD_VM: name or UUID */
	uint32_t max_samples;		/* API_CMD_VM: newest samples to return, default all */
	struct api_hook_event hook;	/* API_CMD_HOOK */
	struct api_metric_push metric;	/* API_CMD_METRIC (vm is also in .vm) */
	uint64_t lease_id;		/* CONFIRM, ACTIVATE, RELEASE; EXPLAIN by id (else 0) */
	bool explain_request;		/* EXPLAIN of .lease rather than of a VM or id */
	struct api_lease_request lease; /* RESERVE, EXPLAIN with "request" */
};

struct api_server_config {
	const char *socket_path;
	unsigned socket_mode;	      /* 0 = API_DEFAULT_SOCKET_MODE */
	unsigned max_clients;	      /* 0 = API_DEFAULT_MAX_CLIENTS */
	uint64_t client_timeout_usec; /* 0 = API_DEFAULT_TIMEOUT_USEC */
	size_t max_request_bytes;     /* 0 = API_REQUEST_MAX_BYTES */
};

struct api_server;

/*
 * Binds the socket (replacing a stale socket file, refusing when another
 * daemon answers on it or when the path is not a socket) and starts the
 * server thread. st and h must outlive the server. h may be NULL.
 */
int api_server_start(const struct api_server_config *cfg, struct state *st,
		     const struct api_handlers *h, struct api_server **ret);
/* Stops the thread, closes every client and removes the socket file. NULL is fine. */
void api_server_stop(struct api_server *srv);

/* Strict request parser; on error errbuf says what was wrong and what is expected. */
int api_request_parse(const char *line, size_t len, struct api_request *ret, char *errbuf,
		      size_t errbuf_size);

/*
 * One request line to one response line (no newline), for the server, the
 * tests and the fuzzer. The calling thread must be registered with
 * state_thread_register(). st and h may be NULL. Returns -ENOMEM only.
 */
int api_request_handle(struct state *st, const struct api_handlers *h, const char *line, size_t len,
		       char **ret_response);

/* api_json.c: renderers of the snapshot, now_usec is CLOCK_MONOTONIC. */
struct json_object;
int api_json_status(const struct state_snapshot *snap, uint64_t now_usec, struct json_object **ret);
int api_json_vms(const struct state_snapshot *snap, uint64_t now_usec, struct json_object **ret);
int api_json_vm(const struct state_vm *vm, uint32_t max_samples, uint64_t now_usec,
		struct json_object **ret);
int api_json_pool(const struct state_snapshot *snap, uint64_t now_usec, struct json_object **ret);

/* api_reservations.c: the ledger commands (h->ledger may be NULL). */
int api_ledger_handle(struct state *st, const struct api_handlers *h, const struct api_request *req,
		      char **ret_response);
/*
 * Copies the ledger's pool, usage and leases at one generation (retried a
 * few times while the ledger changes under it). *ret_leases: free().
 */
int api_ledger_copy(struct ledger *l, struct pool *ret_pool, struct ledger_usage *ret_usage,
		    struct lease **ret_leases, size_t *ret_n);

/*
 * api_json.c: renderers of the ledger's copies; snap (may be NULL) gives
 * VM names to holders. Times are CLOCK_REALTIME microseconds.
 */
int api_json_explanation(const struct admit_explanation *e, struct json_object **ret);
int api_json_lease(const struct lease *ls, const struct pool *pool,
		   const struct state_snapshot *snap, struct json_object **ret);
int api_json_reservations(const struct state_snapshot *snap, const struct ledger_usage *usage,
			  const struct pool *pool, const struct lease *leases, size_t n_leases,
			  struct json_object **ret);
/*
 * Adds "ledger" to a pool object rendered by api_json_pool(): generation,
 * and per dimension what is held, the risk, and the leases holding it until
 * when. Runs in the read-side section (holder names come from snap); the
 * ledger's data was copied before. leases/pool may be NULL when n_leases is 0.
 */
int api_json_pool_ledger(struct json_object *pool_obj, const struct state_snapshot *snap,
			 const struct ledger_usage *usage, const struct pool *pool,
			 const struct lease *leases, size_t n_leases);

/* Responses, shared by api*.c: one line, no newline. code and extra (taken) may be NULL. */
int api_response_ok(struct json_object *data, char **ret);
int api_response_error(const char *msg, const char *code, struct json_object *extra, char **ret);

const char *api_cmd_to_string(enum api_cmd c);
const char *api_hook_verdict_to_string(enum api_hook_verdict v);

#endif
