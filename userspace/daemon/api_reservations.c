// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The API's reservation commands (see api.h): reservations, explain,
 * reserve, confirm, activate, release. They call the ledger (plan/lease.h)
 * directly on the API thread: the ledger has its own lock and every call is
 * short, so nothing goes through the manager's queue, and a grant is atomic
 * against the pool and every other grant whichever thread asks.
 *
 * The ledger is copied out first (its lock must not be taken inside the RCU
 * read-side section); the snapshot is only read to name the VMs that hold
 * leases. Errors carry a machine-readable "code" so that a scheduler can
 * tell "re-read and retry" (stale) from "does not fit" (refused).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api.h"
#include "cleanup.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);
#define _cleanup_json_ _cleanup_(json_object_putp)

#define COPY_TRIES 5

static uint64_t now_realtime(const struct api_handlers *h)
{
	return h->realtime_usec ? h->realtime_usec(h->userdata) : util_realtime_usec();
}

static bool lease_live(const struct lease *ls)
{
	return ls->state == LEASE_OFFERED || ls->state == LEASE_CONFIRMED ||
	       ls->state == LEASE_ACTIVE;
}

int api_ledger_copy(struct ledger *l, struct pool *ret_pool, struct ledger_usage *ret_usage,
		    struct lease **ret_leases, size_t *ret_n)
{
	struct lease *leases = NULL;
	uint64_t g_pool = 0, g_leases = 0;
	size_t n = 0;
	int r;

	/*
	 * Three calls, three lock sections: retry until they saw one
	 * generation, so that item indices match the pool's dimensions. Under
	 * constant change the last copy is used; the renderers skip an index
	 * the pool does not have.
	 */
	for (int i = 0; i < COPY_TRIES; i++) {
		free(leases);
		leases = NULL;
		r = ledger_pool_get(l, ret_pool, &g_pool);
		if (r < 0)
			return r;
		r = ledger_leases_get(l, &leases, &n, &g_leases);
		if (r < 0)
			return r;
		r = ledger_usage_get(l, ret_usage);
		if (r < 0) {
			free(leases);
			return r;
		}
		if (g_pool == g_leases && g_leases == ret_usage->generation)
			break;
	}
	*ret_leases = leases;
	*ret_n = n;
	return 0;
}

static int error_code(const char *code, char **ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int error_code(const char *code, char **ret, const char *fmt, ...)
{
	char msg[API_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return api_response_error(msg, code, NULL, ret);
}

/* ---- reservations ---------------------------------------------------------- */

static int handle_reservations(struct state *st, struct ledger *l, char **ret)
{
	_cleanup_free_ struct lease *leases = NULL;
	_cleanup_free_ struct pool *pool = malloc(sizeof(*pool));
	const struct state_snapshot *snap = NULL;
	struct json_object *data = NULL;
	struct ledger_usage usage;
	size_t n = 0;
	int r;

	if (!pool)
		return -ENOMEM;
	r = api_ledger_copy(l, pool, &usage, &leases, &n);
	if (r < 0)
		return r;
	if (st)
		snap = state_read_begin(st);
	r = api_json_reservations(snap, &usage, pool, leases, n, &data);
	if (st)
		state_read_end();
	if (r < 0)
		return r;
	return api_response_ok(data, ret);
}

/* ---- requests into the ledger's terms ------------------------------------- */

/* Resolves dimension names against pool and checks the times against the clock. */
static int lease_request_resolve(const struct api_lease_request *in, const struct pool *pool,
				 uint64_t now_usec, struct lease_request *ret, char *msg,
				 size_t msg_size)
{
	struct lease_request lr = {
		.holder_kind = in->kind,
		.start_usec = in->start_usec ? in->start_usec : now_usec,
		.end_usec = in->end_usec,
		.generation = in->generation,
		.admit = { .cls = in->cls, .pinned = in->pinned, .n_items = in->n_items },
	};

	memcpy(lr.holder, in->holder, sizeof(lr.holder));
	for (uint32_t i = 0; i < in->n_items; i++) {
		int d = pool_dim_find(pool, in->items[i].dim);

		if (d < 0) {
			size_t off;

			off = (size_t)snprintf(msg, msg_size,
					       "unknown dimension \"%s\": this host's pool has",
					       in->items[i].dim);
			for (uint32_t k = 0; k < pool->n_dims && off < msg_size; k++)
				off += (size_t)snprintf(msg + off, msg_size - off, "%s \"%s\"",
							k ? "," : "", pool->dims[k].name);
			if (pool->n_dims == 0 && off < msg_size)
				snprintf(msg + off, msg_size - off,
					 " no dimensions yet: retry in a few seconds");
			return -EINVAL;
		}
		lr.admit.items[i] =
			(struct admit_item){ .dim = (uint32_t)d, .demand = in->items[i].demand };
	}
	if (lr.start_usec > now_usec + API_LEASE_AHEAD_MAX_USEC ||
	    (lr.end_usec && lr.end_usec > now_usec + API_LEASE_AHEAD_MAX_USEC)) {
		snprintf(msg, msg_size,
			 "\"start_usec\" and \"end_usec\" must be within %llu days of the host's "
			 "clock (now %llu)",
			 (unsigned long long)(API_LEASE_AHEAD_MAX_USEC / USEC_PER_SEC / 86400),
			 (unsigned long long)now_usec);
		return -EINVAL;
	}
	if (lr.end_usec && lr.end_usec <= lr.start_usec) {
		snprintf(msg, msg_size,
			 "\"end_usec\" must be after the start (%llu; the start defaults to now), "
			 "or 0 for open-ended",
			 (unsigned long long)lr.start_usec);
		return -EINVAL;
	}
	if (admit_request_validate(pool, &lr.admit) < 0) {
		snprintf(msg, msg_size,
			 "the request does not fit this pool's shape: pinned cores need a \"cpu\" "
			 "dimension");
		return -EINVAL;
	}
	*ret = lr;
	return 0;
}

static int refusal(const struct admit_explanation *e, char **ret)
{
	_cleanup_json_ struct json_object *extra = json_object_new_object();
	struct json_object *ej = NULL;
	char msg[API_ERROR_MAX];
	int r;

	if (!extra)
		return -ENOMEM;
	r = api_json_explanation(e, &ej);
	if (r < 0)
		return r;
	if (json_object_object_add(extra, "explanation", ej) < 0) {
		json_object_put(ej);
		return -ENOMEM;
	}
	snprintf(msg, sizeof(msg),
		 "refused: %s; see \"explanation\" for the numbers per dimension, or ask for "
		 "less, a later start, or another class",
		 e->reason[0] ? e->reason : "admission said no");
	return api_response_error(msg, "refused", TAKE_PTR(extra), ret);
}

static int stale(uint64_t given, uint64_t current, char **ret)
{
	_cleanup_json_ struct json_object *extra = json_object_new_object();
	char msg[API_ERROR_MAX];

	if (!extra ||
	    json_object_object_add(extra, "generation", json_object_new_uint64(current)) < 0)
		return -ENOMEM;
	snprintf(msg, sizeof(msg),
		 "stale generation %llu: the ledger is at %llu; re-read with "
		 "{\"cmd\":\"reservations\"} and retry",
		 (unsigned long long)given, (unsigned long long)current);
	return api_response_error(msg, "stale", TAKE_PTR(extra), ret);
}

static void changed(const struct api_handlers *h, struct ledger *l, uint64_t before)
{
	if (h->ledger_changed && ledger_generation(l) != before)
		h->ledger_changed(h->userdata);
}

/* ---- reserve ----------------------------------------------------------------- */

static int handle_reserve(const struct api_handlers *h, const struct api_request *req, char **ret)
{
	_cleanup_free_ struct pool *pool = malloc(sizeof(*pool));
	struct ledger *l = h->ledger;
	struct admit_explanation e = { 0 };
	struct json_object *data, *ej = NULL;
	struct lease_request lr;
	struct lease ls;
	uint64_t gen, id, now = now_realtime(h);
	char msg[API_ERROR_MAX];
	int r;

	if (!pool)
		return -ENOMEM;
	r = ledger_pool_get(l, pool, &gen);
	if (r < 0)
		return r;
	/* Dimensions are resolved on this copy: only valid at its generation. */
	if (req->lease.generation != gen)
		return stale(req->lease.generation, gen, ret);
	r = lease_request_resolve(&req->lease, pool, now, &lr, msg, sizeof(msg));
	if (r < 0)
		return api_response_error(msg, "invalid", NULL, ret);

	r = ledger_offer(l, &lr, now, &e, &id);
	switch (r) {
	case 0:
		break;
	case -ESTALE:
		return stale(req->lease.generation, ledger_generation(l), ret);
	case -ENOSPC:
		return refusal(&e, ret);
	case -E2BIG:
		return error_code(
			"full", ret,
			"the ledger is full: it remembers at most its maximum of leases, "
			"ended ones for a while; release leases that are no longer needed "
			"and retry");
	case -EINVAL:
		return error_code("invalid", ret,
				  "the ledger found the request invalid (a number out of range, "
				  "or end before start)");
	default:
		return r;
	}
	changed(h, l, gen);

	data = json_object_new_object();
	if (!data)
		return -ENOMEM;
	r = api_json_explanation(&e, &ej);
	if (r < 0) {
		json_object_put(data);
		return r;
	}
	json_object_object_add(data, "id", json_object_new_uint64(id));
	json_object_object_add(data, "generation",
			       json_object_new_uint64(ledger_lease_get(l, id, &ls) == 0
							      ? ls.generation
							      : ledger_generation(l)));
	json_object_object_add(data, "state", json_object_new_string("offered"));
	json_object_object_add(data, "explanation", ej);
	return api_response_ok(data, ret);
}

/* ---- confirm, activate, release ------------------------------------------ */

static int handle_advance(const struct api_handlers *h, const struct api_request *req, char **ret)
{
	struct ledger *l = h->ledger;
	uint64_t id = req->lease_id, now = now_realtime(h), before = ledger_generation(l);
	const char *cmd = api_cmd_to_string(req->cmd);
	struct json_object *data;
	struct lease ls;
	int r;

	if (req->cmd == API_CMD_CONFIRM)
		r = ledger_confirm(l, id, now);
	else if (req->cmd == API_CMD_ACTIVATE)
		r = ledger_activate(l, id, now);
	else
		r = ledger_release(l, id, now);

	if (r == -ENOENT && ledger_lease_get(l, id, &ls) == 0)
		return error_code("state", ret,
				  "lease %llu was released: it cannot be %s; reserve again",
				  (unsigned long long)id,
				  req->cmd == API_CMD_CONFIRM ? "confirmed" : "activated");
	if (r == -ENOENT)
		return error_code(
			"not_found", ret,
			"no lease %llu: list them with {\"cmd\":\"reservations\"} ('prescientctl "
			"reservations'); ended leases are forgotten after a while",
			(unsigned long long)id);
	if (r == -ETIME)
		return error_code("expired", ret,
				  "lease %llu expired (an offer not confirmed in time, or past its "
				  "end): its capacity went back to the pool; reserve again",
				  (unsigned long long)id);
	if (r == -EPERM)
		return error_code(
			"state", ret,
			"lease %llu is only offered: confirm it first ({\"cmd\":\"confirm\","
			"\"id\":%llu})",
			(unsigned long long)id, (unsigned long long)id);
	if (r < 0)
		return r;
	changed(h, l, before);

	r = ledger_lease_get(l, id, &ls);
	if (r < 0)
		return error_code("not_found", ret,
				  "lease %llu was %s and then forgotten by the ledger",
				  (unsigned long long)id, cmd);
	data = json_object_new_object();
	if (!data)
		return -ENOMEM;
	json_object_object_add(data, "id", json_object_new_uint64(id));
	json_object_object_add(data, "state",
			       json_object_new_string(lease_state_to_string(ls.state)));
	json_object_object_add(data, "generation", json_object_new_uint64(ls.generation));
	return api_response_ok(data, ret);
}

/* ---- explain --------------------------------------------------------------- */

/*
 * A live lease decided again now against every other live lease: the
 * ledger's own explain would count the lease twice (it is already held).
 */
static int decide_again(const struct pool *pool, const struct lease *leases, size_t n,
			const struct lease *self, uint64_t now_usec, struct admit_explanation *ret)
{
	_cleanup_free_ struct admit_state *state = malloc(sizeof(*state));

	if (!state)
		return -ENOMEM;
	admit_state_init(state, pool);
	for (size_t i = 0; i < n; i++) {
		const struct lease *ls = &leases[i];

		if (ls->id == self->id || !lease_live(ls) ||
		    (ls->end_usec && now_usec >= ls->end_usec))
			continue;
		if (admit_request_validate(pool, &ls->admit) < 0)
			continue;
		admit_state_apply(state, pool, &ls->admit, +1);
	}
	return admit_decide(pool, state, &self->admit, ret);
}

static int explain_lease(struct state *st, const struct api_handlers *h,
			 const struct api_request *req, char **ret)
{
	_cleanup_free_ struct lease *leases = NULL;
	_cleanup_free_ struct pool *pool = malloc(sizeof(*pool));
	const struct state_snapshot *snap = NULL;
	struct json_object *data = NULL, *lj = NULL, *gj = NULL, *nj = NULL;
	struct admit_explanation again;
	struct ledger_usage usage;
	const struct lease *found = NULL;
	char uuid[HV_UUID_LEN + 1] = "", name[HV_NAME_MAX] = "";
	size_t n = 0;
	int r;

	if (!pool)
		return -ENOMEM;
	if (!req->lease_id) {
		if (st)
			snap = state_read_begin(st);
		if (snap) {
			const struct state_vm *vm = state_snapshot_find_vm(snap, req->vm);

			if (vm) {
				memcpy(uuid, vm->id.uuid, sizeof(uuid));
				memcpy(name, vm->id.name, sizeof(name));
			}
		}
		if (st)
			state_read_end();
		if (!uuid[0])
			return error_code("not_found", ret,
					  "no VM named or with UUID \"%s\": list them with "
					  "'prescientctl vms'; for an incoming migration's lease "
					  "use {\"cmd\":\"explain\",\"id\":N}",
					  req->vm);
	}

	r = api_ledger_copy(h->ledger, pool, &usage, &leases, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct lease *ls = &leases[i];

		if (req->lease_id
			    ? ls->id == req->lease_id
			    : lease_live(ls) && ls->holder_kind == LEASE_HOLDER_VM &&
				      !strcmp(ls->holder, uuid) && (!found || ls->id > found->id))
			found = ls;
	}
	if (!found && req->lease_id)
		return error_code("not_found", ret,
				  "no lease %llu: list them with {\"cmd\":\"reservations\"}",
				  (unsigned long long)req->lease_id);
	if (!found)
		return error_code(
			"not_found", ret,
			"VM \"%s\" (%s) holds no live lease: the daemon reserves for a VM "
			"once it runs and has a forecast; see 'prescientctl reservations'",
			name, uuid);

	r = decide_again(pool, leases, n, found, now_realtime(h), &again);
	if (r < 0)
		return r == -ENOMEM ? r
				    : error_code("invalid", ret,
						 "lease %llu no longer matches the pool's "
						 "dimensions",
						 (unsigned long long)found->id);

	if (st)
		snap = state_read_begin(st);
	r = api_json_lease(found, pool, snap, &lj);
	if (st)
		state_read_end();
	if (r >= 0 && (found->explain.n_dims || found->explain.reason[0]))
		r = api_json_explanation(&found->explain, &gj);
	if (r >= 0)
		r = api_json_explanation(&again, &nj);
	data = r >= 0 ? json_object_new_object() : NULL;
	if (!data) {
		json_object_put(lj);
		json_object_put(gj);
		json_object_put(nj);
		return -ENOMEM;
	}
	json_object_object_add(data, "generation", json_object_new_uint64(usage.generation));
	json_object_object_add(data, "lease", lj);
	/* Not checkpointed: null after a restart until the next grant or amend. */
	json_object_object_add(data, "granted", gj);
	json_object_object_add(data, "now", nj);
	return api_response_ok(data, ret);
}

static int explain_request(const struct api_handlers *h, const struct api_request *req, char **ret)
{
	_cleanup_free_ struct pool *pool = malloc(sizeof(*pool));
	struct admit_explanation e;
	struct json_object *data, *ej = NULL;
	struct lease_request lr;
	uint64_t gen, now = now_realtime(h);
	char msg[API_ERROR_MAX];
	int r;

	if (!pool)
		return -ENOMEM;
	r = ledger_pool_get(h->ledger, pool, &gen);
	if (r < 0)
		return r;
	r = lease_request_resolve(&req->lease, pool, now, &lr, msg, sizeof(msg));
	if (r < 0)
		return api_response_error(msg, "invalid", NULL, ret);
	lr.generation = gen;
	r = ledger_explain(h->ledger, &lr, now, &e);
	if (r == -EINVAL)
		return error_code("stale", ret,
				  "the pool changed while the request was being decided: retry");
	if (r < 0)
		return r;
	r = api_json_explanation(&e, &ej);
	if (r < 0)
		return r;
	data = json_object_new_object();
	if (!data) {
		json_object_put(ej);
		return -ENOMEM;
	}
	json_object_object_add(data, "generation", json_object_new_uint64(gen));
	json_object_object_add(data, "explanation", ej);
	return api_response_ok(data, ret);
}

/* ---- dispatch ------------------------------------------------------------- */

int api_ledger_handle(struct state *st, const struct api_handlers *h, const struct api_request *req,
		      char **ret_response)
{
	if (!h || !h->ledger)
		return error_code("unavailable", ret_response,
				  "this daemon keeps no reservation ledger (yet): retry once it "
				  "has read the host's resources");
	switch (req->cmd) {
	case API_CMD_RESERVATIONS:
		return handle_reservations(st, h->ledger, ret_response);
	case API_CMD_RESERVE:
		return handle_reserve(h, req, ret_response);
	case API_CMD_CONFIRM:
	case API_CMD_ACTIVATE:
	case API_CMD_RELEASE:
		return handle_advance(h, req, ret_response);
	case API_CMD_EXPLAIN:
		return req->explain_request ? explain_request(h, req, ret_response)
					    : explain_lease(st, h, req, ret_response);
	default:
		return error_code("invalid", ret_response, "not a ledger command");
	}
}
