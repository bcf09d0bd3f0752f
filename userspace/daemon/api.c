// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The API server (see api.h): one thread, one poll() loop over the listening
 * socket, a stop eventfd and every client. Clients are non-blocking; each has
 * a bounded input buffer and an output buffer, and reads are paused while a
 * response is pending, so a client that does not read its answers only costs
 * its own buffer. Each exchange (from the previous answer, or the accept, to
 * the end of writing the next answer) has a deadline that is not extended by
 * partial progress, so a client dribbling bytes cannot hold a slot forever.
 *
 * Requests are parsed strictly: one JSON object per line, known commands and
 * keys only, typed and bounded values. Read-only commands render the RCU
 * snapshot inside the read-side section and serialise after it.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "api.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_tokener *, json_tokener_free);
#define _cleanup_json_ _cleanup_(json_object_putp)

#define API_JSON_DEPTH	  8
#define API_OUT_MAX_BYTES (16 * 1024 * 1024)

static const char *const cmd_names[API_NR_CMDS] = {
	[API_CMD_STATUS] = "status", [API_CMD_VMS] = "vms",	  [API_CMD_VM] = "vm",
	[API_CMD_HOOK] = "hook",     [API_CMD_METRIC] = "metric", [API_CMD_POOL] = "pool",
};

static const char *const verdict_names[API_NR_HOOK_VERDICTS] = {
	[API_HOOK_ALLOW] = "allow",
	[API_HOOK_REFUSE] = "refuse",
};

const char *api_cmd_to_string(enum api_cmd c)
{
	return (unsigned)c < API_NR_CMDS ? cmd_names[c] : "unknown";
}

const char *api_hook_verdict_to_string(enum api_hook_verdict v)
{
	return (unsigned)v < API_NR_HOOK_VERDICTS ? verdict_names[v] : "unknown";
}

/* ---- request parsing ---------------------------------------------------- */

static int fail(char *errbuf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *errbuf, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (errbuf && size) {
		va_start(ap, fmt);
		vsnprintf(errbuf, size, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Which keys each command takes; anything else is refused with this list. */
static const char *const cmd_keys[API_NR_CMDS][8] = {
	[API_CMD_STATUS] = { "cmd" },
	[API_CMD_VMS] = { "cmd" },
	[API_CMD_VM] = { "cmd", "vm", "samples" },
	[API_CMD_HOOK] = { "cmd", "object", "op", "sub_op", "extra", "vm", "uuid" },
	[API_CMD_METRIC] = { "cmd", "vm", "name", "value", "time_usec" },
	[API_CMD_POOL] = { "cmd" },
};

static bool key_allowed(enum api_cmd c, const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(cmd_keys[c]) && cmd_keys[c][i]; i++)
		if (!strcmp(cmd_keys[c][i], key))
			return true;
	return false;
}

static void keys_list(enum api_cmd c, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(cmd_keys[c]) && cmd_keys[c][i]; i++) {
		int n = snprintf(buf + off, size - off, "%s\"%s\"", i ? ", " : "", cmd_keys[c][i]);

		if (n < 0 || (size_t)n >= size - off)
			return;
		off += (size_t)n;
	}
}

/*
 * Copies the string member key into dst. Missing: -ENOENT (caller decides).
 * Wrong type, embedded NUL, empty or too long: -EINVAL with a message.
 */
static int get_string(struct json_object *obj, const char *key, char *dst, size_t size,
		      char *errbuf, size_t errbuf_size)
{
	struct json_object *v;
	const char *s;
	int len;

	if (!json_object_object_get_ex(obj, key, &v))
		return -ENOENT;
	if (!json_object_is_type(v, json_type_string))
		return fail(errbuf, errbuf_size, "\"%s\" must be a string", key);
	s = json_object_get_string(v);
	len = json_object_get_string_len(v);
	if (len == 0)
		return fail(errbuf, errbuf_size, "\"%s\" must not be empty", key);
	if ((size_t)len != strlen(s))
		return fail(errbuf, errbuf_size, "\"%s\" must not contain NUL characters", key);
	if ((size_t)len >= size)
		return fail(errbuf, errbuf_size, "\"%s\" is longer than %zu bytes", key, size - 1);
	memcpy(dst, s, (size_t)len + 1);
	return 0;
}

/*
 * Free text the daemon only shows (a hook's VM name and extra): a name
 * longer than the field is cut at a UTF-8 character boundary and control
 * characters become '?', rather than refusing the event and, with
 * fail_open = no, the VM's start.
 */
static void text_fit(char *dst, size_t size, const char *s)
{
	size_t n = strlen(s);

	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++)
		dst[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	dst[n] = '\0';
}

static bool token_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_'))
			return false;
	return true;
}

/* No control characters: these strings end up in logs and replies. */
static bool text_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int parse_hook(struct json_object *obj, struct api_hook_event *ev, char *errbuf,
		      size_t errbuf_size)
{
	/*
	 * object, op and sub_op are what the daemon dispatches on: plain tokens.
	 * extra is free text from libvirt (release reasons grow over versions).
	 */
	static const struct {
		const char *key;
		size_t off, size;
		bool required, token, shown_only;
	} fields[] = {
		{ "object", offsetof(struct api_hook_event, object), sizeof(ev->object), true, true,
		  false },
		{ "op", offsetof(struct api_hook_event, op), sizeof(ev->op), true, true, false },
		{ "sub_op", offsetof(struct api_hook_event, sub_op), sizeof(ev->sub_op), false,
		  true, false },
		{ "extra", offsetof(struct api_hook_event, extra), sizeof(ev->extra), false, false,
		  true },
		{ "vm", offsetof(struct api_hook_event, vm), sizeof(ev->vm), true, false, true },
		{ "uuid", offsetof(struct api_hook_event, uuid), sizeof(ev->uuid), false, false,
		  false },
	};
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		char *dst = (char *)ev + fields[i].off;
		char text[API_REQUEST_MAX_BYTES];

		if (fields[i].shown_only) {
			r = get_string(obj, fields[i].key, text, sizeof(text), errbuf, errbuf_size);
			if (r >= 0) {
				text_fit(dst, fields[i].size, text);
				continue;
			}
		} else {
			r = get_string(obj, fields[i].key, dst, fields[i].size, errbuf,
				       errbuf_size);
		}
		if (r == -ENOENT) {
			if (fields[i].required)
				return fail(
					errbuf, errbuf_size,
					"\"hook\" needs \"%s\" (a string), e.g. "
					"{\"cmd\":\"hook\",\"object\":\"qemu\",\"op\":\"started\","
					"\"vm\":\"web1\"}",
					fields[i].key);
			if (strcmp(fields[i].key, "uuid"))
				strcpy(dst, "-");
			continue;
		}
		if (r < 0)
			return r;
		if (fields[i].token && strcmp(dst, "-") && !token_ok(dst))
			return fail(errbuf, errbuf_size,
				    "\"%s\" may only hold lower-case letters, digits, '-' and '_'",
				    fields[i].key);
		if (!text_ok(dst))
			return fail(errbuf, errbuf_size,
				    "\"%s\" must not contain control characters", fields[i].key);
	}
	if (ev->uuid[0] && !util_uuid_valid(ev->uuid))
		return fail(errbuf, errbuf_size,
			    "\"uuid\" must look like 8-4-4-4-12 hex digits, e.g. "
			    "\"6f1c1a3e-0c1b-4f5e-9d2a-2b7f0b9e4c11\"");
	return 0;
}

#define METRIC_EXAMPLE "e.g. {\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"tps\",\"value\":12.5}"

/* Only the request's own consistency: the VM and the clock are checked when handled. */
static int parse_metric(struct json_object *obj, struct api_request *req, char *errbuf,
			size_t errbuf_size)
{
	struct api_metric_push *p = &req->metric;
	struct json_object *v;
	int r;

	r = get_string(obj, "vm", req->vm, sizeof(req->vm), errbuf, errbuf_size);
	if (r == -ENOENT)
		return fail(errbuf, errbuf_size,
			    "\"metric\" needs \"vm\": the VM's name or UUID, " METRIC_EXAMPLE);
	if (r < 0)
		return r;
	if (!text_ok(req->vm))
		return fail(errbuf, errbuf_size, "\"vm\" must not contain control characters");
	memcpy(p->vm, req->vm, sizeof(p->vm));

	r = get_string(obj, "name", p->name, sizeof(p->name), errbuf, errbuf_size);
	if (r == -ENOENT)
		return fail(errbuf, errbuf_size,
			    "\"metric\" needs \"name\": the metric's name, " METRIC_EXAMPLE);
	if (r < 0 || !state_metric_name_valid(p->name))
		return fail(errbuf, errbuf_size,
			    "\"name\" must be 1 to %d characters of a-z, 0-9, '_', '.' and '-', "
			    "e.g. \"tps\" or \"queue.length\"",
			    STATE_METRIC_NAME_MAX - 1);

	if (!json_object_object_get_ex(obj, "value", &v))
		return fail(errbuf, errbuf_size,
			    "\"metric\" needs \"value\": a number, " METRIC_EXAMPLE);
	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
		return fail(errbuf, errbuf_size, "\"value\" must be a number, e.g. 12.5");
	p->value = json_object_get_double(v);
	if (!isfinite(p->value) || fabs(p->value) > API_METRIC_VALUE_MAX)
		return fail(errbuf, errbuf_size,
			    "\"value\" must be a finite number of magnitude at most %g",
			    API_METRIC_VALUE_MAX);

	if (json_object_object_get_ex(obj, "time_usec", &v)) {
		int64_t t;

		if (!json_object_is_type(v, json_type_int))
			return fail(errbuf, errbuf_size,
				    "\"time_usec\" must be an integer: microseconds since the "
				    "epoch, when the value was measured");
		t = json_object_get_int64(v);
		if (t <= 0 || t == INT64_MAX)
			return fail(errbuf, errbuf_size,
				    "\"time_usec\" must be a positive integer: microseconds "
				    "since the epoch, when the value was measured");
		p->time_usec = (uint64_t)t;
	}
	return 0;
}

int api_request_parse(const char *line, size_t len, struct api_request *ret, char *errbuf,
		      size_t errbuf_size)
{
	_cleanup_(json_tokener_freep) struct json_tokener *tok = NULL;
	_cleanup_json_ struct json_object *obj = NULL;
	struct api_request req = { 0 };
	enum json_tokener_error jerr;
	const char *start;
	char cmd[32], keys[256];
	struct json_object *v;
	int r;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
			   line[len - 1] == '\t'))
		len--;
	start = line;
	if (len == 0)
		return fail(
			errbuf, errbuf_size,
			"empty request: send one JSON object per line, e.g. {\"cmd\":\"status\"}");
	if (len > API_REQUEST_MAX_BYTES)
		return fail(errbuf, errbuf_size, "request longer than %d bytes",
			    API_REQUEST_MAX_BYTES);
	if (memchr(line, '\0', len))
		return fail(errbuf, errbuf_size,
			    "request contains a NUL byte: send UTF-8 JSON text");

	tok = json_tokener_new_ex(API_JSON_DEPTH);
	if (!tok)
		return -ENOMEM;
	/* Strict JSON, valid UTF-8 only: names are echoed back in replies. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
					    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, line, (int)len);
	jerr = json_tokener_get_error(tok);
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	if (*line != '{' && (jerr == json_tokener_success || jerr == json_tokener_continue))
		return fail(errbuf, errbuf_size,
			    "the request must be a JSON object, e.g. {\"cmd\":\"status\"}");
	if (jerr == json_tokener_continue)
		return fail(errbuf, errbuf_size,
			    "incomplete JSON: the line ended inside the object; send the whole "
			    "request on one line");
	if (jerr != json_tokener_success || !obj)
		return fail(errbuf, errbuf_size, "invalid JSON at byte %zu: %s",
			    json_tokener_get_parse_end(tok), json_tokener_error_desc(jerr));
	if (json_tokener_get_parse_end(tok) != len + (size_t)(line - start))
		return fail(errbuf, errbuf_size,
			    "trailing data after the JSON object at byte %zu: one object per line",
			    json_tokener_get_parse_end(tok));
	if (!json_object_is_type(obj, json_type_object))
		return fail(errbuf, errbuf_size,
			    "the request must be a JSON object, e.g. {\"cmd\":\"status\"}");

	r = get_string(obj, "cmd", cmd, sizeof(cmd), errbuf, errbuf_size);
	if (r == -ENOENT)
		return fail(errbuf, errbuf_size,
			    "missing \"cmd\": one of \"status\", \"vms\", \"vm\", \"hook\", "
			    "\"metric\", \"pool\"");
	if (r < 0)
		return r;
	for (req.cmd = 0; req.cmd < API_NR_CMDS; req.cmd++)
		if (!strcmp(cmd, cmd_names[req.cmd]))
			break;
	if (req.cmd == API_NR_CMDS)
		return fail(errbuf, errbuf_size,
			    "unknown command \"%s\": one of \"status\", \"vms\", \"vm\", \"hook\", "
			    "\"metric\", \"pool\"",
			    cmd);

	json_object_object_foreach(obj, key, val)
	{
		(void)val;
		if (!key_allowed(req.cmd, key)) {
			keys_list(req.cmd, keys, sizeof(keys));
			return fail(errbuf, errbuf_size,
				    "unknown key \"%.64s\" for \"%s\": it takes %s", key, cmd,
				    keys);
		}
	}

	switch (req.cmd) {
	case API_CMD_VM:
		r = get_string(obj, "vm", req.vm, sizeof(req.vm), errbuf, errbuf_size);
		if (r == -ENOENT)
			return fail(errbuf, errbuf_size,
				    "\"vm\" needs \"vm\": a VM name or UUID, e.g. "
				    "{\"cmd\":\"vm\",\"vm\":\"web1\"}");
		if (r < 0)
			return r;
		if (json_object_object_get_ex(obj, "samples", &v)) {
			int64_t n;

			if (!json_object_is_type(v, json_type_int))
				return fail(errbuf, errbuf_size,
					    "\"samples\" must be an integer from 0 (all) to %d",
					    STATE_SAMPLES_MAX);
			n = json_object_get_int64(v);
			if (n < 0 || n > STATE_SAMPLES_MAX)
				return fail(errbuf, errbuf_size,
					    "\"samples\" must be an integer from 0 (all) to %d",
					    STATE_SAMPLES_MAX);
			req.max_samples = (uint32_t)n;
		}
		break;
	case API_CMD_HOOK:
		r = parse_hook(obj, &req.hook, errbuf, errbuf_size);
		if (r < 0)
			return r;
		break;
	case API_CMD_METRIC:
		r = parse_metric(obj, &req, errbuf, errbuf_size);
		if (r < 0)
			return r;
		break;
	default:
		break;
	}
	*ret = req;
	return 0;
}

/* ---- request handling ---------------------------------------------------- */

static int response_error(const char *msg, char **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	char *s;

	if (!o || json_object_object_add(o, "ok", json_object_new_boolean(false)) < 0 ||
	    json_object_object_add(o, "error", json_object_new_string(msg)) < 0)
		return -ENOMEM;
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* Takes ownership of data. */
static int response_ok(struct json_object *data, char **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	const char *text;
	char *s;

	if (!o) {
		json_object_put(data);
		return -ENOMEM;
	}
	if (json_object_object_add(o, "ok", json_object_new_boolean(true)) < 0) {
		json_object_put(data);
		return -ENOMEM;
	}
	if (json_object_object_add(o, "data", data) < 0) {
		json_object_put(data); /* not taken by o on failure */
		return -ENOMEM;
	}
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		return -ENOMEM;
	s = strdup(text);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static int handle_read(struct state *st, const struct api_request *req, char **ret)
{
	const struct state_snapshot *snap;
	struct json_object *data = NULL;
	uint64_t now = util_now_usec();
	char msg[HV_NAME_MAX + 128];
	int r = 0;

	if (!st)
		return response_error("the daemon has no state yet: retry in a few seconds", ret);

	/* Render only inside the read-side section; serialise and send after it. */
	snap = state_read_begin(st);
	if (!snap) {
		r = -EAGAIN;
	} else if (req->cmd == API_CMD_STATUS) {
		r = api_json_status(snap, now, &data);
	} else if (req->cmd == API_CMD_VMS) {
		r = api_json_vms(snap, now, &data);
	} else if (req->cmd == API_CMD_POOL) {
		r = api_json_pool(snap, now, &data);
	} else {
		const struct state_vm *vm = state_snapshot_find_vm(snap, req->vm);

		if (vm)
			r = api_json_vm(vm, req->max_samples, now, &data);
		else
			r = -ENOENT;
	}
	state_read_end();

	if (r == -EAGAIN)
		return response_error("the daemon is starting and has no snapshot yet: retry in "
				      "a few seconds",
				      ret);
	if (r == -ENOENT) {
		snprintf(msg, sizeof(msg),
			 "no VM named or with UUID \"%s\": list them with 'prescientctl vms'",
			 req->vm);
		return response_error(msg, ret);
	}
	if (r < 0)
		return r;
	return response_ok(data, ret);
}

static int handle_hook(const struct api_handlers *h, struct api_request *req, char **ret)
{
	struct api_hook_reply reply = { .verdict = API_HOOK_ALLOW };
	struct json_object *data;
	char msg[API_ERROR_MAX];
	int r;

	if (!h || !h->hook)
		return response_error("this daemon does not take hook events", ret);
	req->hook.received_usec = util_now_usec();
	r = h->hook(&req->hook, &reply, h->userdata);
	if (r < 0) {
		snprintf(msg, sizeof(msg), "the daemon could not queue the hook event: %s",
			 strerror(-r));
		return response_error(msg, ret);
	}
	if ((unsigned)reply.verdict >= API_NR_HOOK_VERDICTS)
		reply.verdict = API_HOOK_ALLOW;
	reply.reason[sizeof(reply.reason) - 1] = '\0';

	data = json_object_new_object();
	if (!data)
		return -ENOMEM;
	json_object_object_add(data, "accepted", json_object_new_boolean(true));
	json_object_object_add(data, "verdict",
			       json_object_new_string(api_hook_verdict_to_string(reply.verdict)));
	if (reply.reason[0])
		json_object_object_add(data, "reason", json_object_new_string(reply.reason));
	return response_ok(data, ret);
}

/*
 * Checks what the parser cannot (the VM exists, the metric fits, the clock)
 * against the snapshot, then queues. Checked here rather than by the manager
 * so that the client gets the reason; the manager checks the metric count
 * again when it applies the queue (the snapshot may be one tick old).
 */
static int handle_metric(struct state *st, const struct api_handlers *h, struct api_request *req,
			 char **ret)
{
	struct api_metric_push *p = &req->metric;
	const struct state_snapshot *snap;
	const struct state_vm *vm;
	struct json_object *data;
	char msg[API_ERROR_MAX];
	bool known = false, full = false;
	int r;

	if (!h || !h->metric)
		return response_error("this daemon does not take metric values", ret);
	if (!st)
		return response_error("the daemon has no state yet: retry in a few seconds", ret);
	if (p->time_usec) {
		uint64_t now = util_realtime_usec();

		if (p->time_usec + API_METRIC_SKEW_USEC < now ||
		    p->time_usec > now + API_METRIC_SKEW_USEC) {
			snprintf(msg, sizeof(msg),
				 "\"time_usec\" is more than %llu s away from the host's clock: "
				 "push values as they are measured, or leave time_usec out",
				 (unsigned long long)(API_METRIC_SKEW_USEC / USEC_PER_SEC));
			return response_error(msg, ret);
		}
	}

	snap = state_read_begin(st);
	vm = snap ? state_snapshot_find_vm(snap, req->vm) : NULL;
	if (vm) {
		known = state_vm_find_metric(vm, p->name) != NULL;
		full = !known && vm->n_metrics >= STATE_METRICS_MAX;
		memcpy(p->uuid, vm->id.uuid, sizeof(p->uuid));
	}
	state_read_end();

	if (!snap)
		return response_error("the daemon is starting and has no snapshot yet: retry in "
				      "a few seconds",
				      ret);
	if (!vm) {
		snprintf(msg, sizeof(msg),
			 "no VM named or with UUID \"%s\": list them with 'prescientctl vms'",
			 req->vm);
		return response_error(msg, ret);
	}
	if (full) {
		snprintf(msg, sizeof(msg),
			 "VM \"%s\" already has %d metrics: \"%s\" is refused; a metric is "
			 "forgotten after 100 forecast steps without values",
			 req->vm, STATE_METRICS_MAX, p->name);
		return response_error(msg, ret);
	}
	p->received_usec = util_now_usec();
	r = h->metric(p, h->userdata);
	if (r == -ENOBUFS)
		return response_error("the daemon's metric queue is full: push less often "
				      "(values are averaged over each forecast step anyway)",
				      ret);
	if (r < 0) {
		snprintf(msg, sizeof(msg), "the daemon refused the metric value: %s", strerror(-r));
		return response_error(msg, ret);
	}
	data = json_object_new_object();
	if (!data)
		return -ENOMEM;
	json_object_object_add(data, "accepted", json_object_new_boolean(true));
	json_object_object_add(data, "uuid", json_object_new_string(p->uuid));
	json_object_object_add(data, "new", json_object_new_boolean(!known));
	return response_ok(data, ret);
}

int api_request_handle(struct state *st, const struct api_handlers *h, const char *line, size_t len,
		       char **ret_response)
{
	struct api_request req;
	char err[API_ERROR_MAX];
	int r;

	r = api_request_parse(line, len, &req, err, sizeof(err));
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return response_error(err, ret_response);
	if (req.cmd == API_CMD_HOOK)
		return handle_hook(h, &req, ret_response);
	if (req.cmd == API_CMD_METRIC)
		return handle_metric(st, h, &req, ret_response);
	return handle_read(st, &req, ret_response);
}

/* ---- the server ----------------------------------------------------------- */

struct api_client {
	int fd;
	char *in;
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	uint64_t deadline_usec;
	bool eof;     /* the peer shut down its side: answer what is buffered, then close */
	bool closing; /* close once out is flushed */
};

struct api_server {
	struct api_server_config cfg;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t sock_dev;
	ino_t sock_ino;
	int listen_fd;
	int stop_fd;
	uint64_t accept_paused_until_usec; /* out of fds: stop polling the listener a while */
	pthread_t thread;
	bool thread_started;
	struct state *st;
	const struct api_handlers *h;
	struct api_client *clients;
	size_t n_clients;
};

static void client_close(struct api_server *srv, size_t i)
{
	struct api_client *c = &srv->clients[i];

	close(c->fd);
	free(c->in);
	free(c->out);
	srv->clients[i] = srv->clients[--srv->n_clients];
}

static int client_queue(struct api_client *c, const char *text)
{
	size_t l = strlen(text);
	size_t pending = c->out_len - c->out_off;
	char *nb;

	if (pending + l + 1 > API_OUT_MAX_BYTES)
		return -ENOBUFS;
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, pending);
		c->out_len = pending;
		c->out_off = 0;
	}
	nb = realloc(c->out, c->out_len + l + 1);
	if (!nb)
		return -ENOMEM;
	c->out = nb;
	memcpy(c->out + c->out_len, text, l);
	c->out[c->out_len + l] = '\n';
	c->out_len += l + 1;
	return 0;
}

static void client_queue_error(struct api_client *c, const char *msg)
{
	_cleanup_free_ char *resp = NULL;

	if (response_error(msg, &resp) < 0 || client_queue(c, resp) < 0)
		c->closing = true;
}

/* Answers the complete lines in the input buffer; stops early while output is pending. */
static void client_process(struct api_server *srv, struct api_client *c)
{
	for (;;) {
		_cleanup_free_ char *resp = NULL;
		char *nl = c->in_len ? memchr(c->in, '\n', c->in_len) : NULL;
		size_t line_len;

		if (c->closing || c->out_len - c->out_off > 0)
			return;
		if (!nl) {
			if (c->in_len > srv->cfg.max_request_bytes) {
				char msg[128];

				snprintf(msg, sizeof(msg),
					 "request longer than %zu bytes: send one JSON object per "
					 "line",
					 srv->cfg.max_request_bytes);
				client_queue_error(c, msg);
				c->closing = true;
				return;
			}
			if (!c->eof || c->in_len == 0) {
				if (c->eof)
					c->closing = true;
				return;
			}
			/* Last request without a newline before the peer's shutdown. */
			line_len = c->in_len;
		} else {
			line_len = (size_t)(nl - c->in);
		}
		if (line_len > srv->cfg.max_request_bytes) {
			client_queue_error(c, "request too long: send one JSON object per line");
			c->closing = true;
			return;
		}
		if (api_request_handle(srv->st, srv->h, c->in, line_len, &resp) < 0 ||
		    client_queue(c, resp) < 0) {
			c->closing = true;
			return;
		}
		line_len = nl ? line_len + 1 : line_len;
		memmove(c->in, c->in + line_len, c->in_len - line_len);
		c->in_len -= line_len;
	}
}

/* Returns false when the client is gone. */
static bool client_read(struct api_server *srv, struct api_client *c)
{
	size_t cap = srv->cfg.max_request_bytes + 2;

	if (!c->in) {
		c->in = malloc(cap);
		if (!c->in)
			return false;
	}
	while (c->in_len < cap) {
		ssize_t n = recv(c->fd, c->in + c->in_len, cap - c->in_len, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return false;
		}
		if (n == 0) {
			c->eof = true;
			break;
		}
		c->in_len += (size_t)n;
		if (memchr(c->in + c->in_len - n, '\n', (size_t)n))
			break;
	}
	client_process(srv, c);
	return true;
}

static bool client_write(struct api_server *srv, struct api_client *c, uint64_t now)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return true;
			return false;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	if (c->closing)
		return false;
	/* One exchange done: the next one gets a fresh deadline. */
	c->deadline_usec = now + srv->cfg.client_timeout_usec;
	client_process(srv, c);
	if (c->out_len > 0)
		return client_write(srv, c, now);
	return !c->closing;
}

/*
 * Closes idle clients whose peer already hung up but whose EOF the poll loop
 * has not seen yet, so that a full table is not full of dead connections
 * (clients that connect, ask once and close are the common case).
 */
static void server_reap(struct api_server *srv)
{
	for (size_t i = srv->n_clients; i-- > 0;) {
		struct api_client *c = &srv->clients[i];
		char b;

		if (c->out_len > c->out_off || c->in_len > 0)
			continue;
		if (recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
			client_close(srv, i);
	}
}

static void server_accept(struct api_server *srv, uint64_t now)
{
	for (;;) {
		int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct api_client *c;

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* The pending connection stays readable: back off, do not spin. */
				log_warning_errno(-errno, "api: cannot accept a client, pausing "
							  "100 ms: %m");
				srv->accept_paused_until_usec = now + 100 * 1000;
			} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
				log_debug_errno(-errno, "api: accept failed, ignoring: %m");
			}
			return;
		}
		if (srv->n_clients >= srv->cfg.max_clients)
			server_reap(srv);
		if (srv->n_clients >= srv->cfg.max_clients) {
			static const char busy[] = "{\"ok\":false,\"error\":\"too many clients "
						   "connected to prescientd; "
						   "retry shortly\"}\n";

			/* Best effort: the socket buffer of a fresh connection is empty. */
			(void)!send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
			close(fd);
			continue;
		}
		c = &srv->clients[srv->n_clients++];
		*c = (struct api_client){
			.fd = fd,
			.deadline_usec = now + srv->cfg.client_timeout_usec,
		};
	}
}

static void *server_thread(void *arg)
{
	struct api_server *srv = arg;
	struct pollfd *pfd;

	state_thread_register();
	pfd = calloc(srv->cfg.max_clients + 2, sizeof(*pfd));
	if (!pfd) {
		log_error("api: out of memory, the API is not served");
		state_thread_unregister();
		return NULL;
	}
	for (;;) {
		uint64_t now = util_now_usec(), next = UINT64_MAX;
		size_t n_polled;
		int timeout_ms, r;

		pfd[0] = (struct pollfd){ .fd = srv->stop_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = srv->listen_fd, .events = POLLIN };
		if (now < srv->accept_paused_until_usec) {
			pfd[1].fd = -1;
			next = srv->accept_paused_until_usec;
		}
		for (size_t i = 0; i < srv->n_clients; i++) {
			struct api_client *c = &srv->clients[i];

			pfd[2 + i] = (struct pollfd){
				.fd = c->fd,
				.events = c->out_len > c->out_off ? POLLOUT : POLLIN,
			};
			if (c->deadline_usec < next)
				next = c->deadline_usec;
		}
		n_polled = srv->n_clients;
		timeout_ms = next == UINT64_MAX ? -1
			     : next <= now	? 0
						: (int)((next - now + 999) / 1000);
		r = poll(pfd, 2 + n_polled, timeout_ms);
		if (r < 0 && errno != EINTR) {
			log_error_errno(-errno, "api: poll failed, the API stops: %m");
			break;
		}
		if (pfd[0].revents)
			break;
		now = util_now_usec();

		/* Walk backwards: client_close() moves the last client into the hole. */
		for (size_t i = n_polled; i-- > 0;) {
			struct api_client *c = &srv->clients[i];
			short rev = r > 0 ? pfd[2 + i].revents : 0;
			bool alive = true;

			if (rev & POLLNVAL)
				alive = false;
			else if (rev & POLLOUT)
				alive = client_write(srv, c, now);
			else if (rev & (POLLIN | POLLHUP | POLLERR))
				alive = client_read(srv, c);
			if (alive && c->out_len > c->out_off && !(rev & POLLOUT))
				alive = client_write(srv, c, now);
			if (alive && c->closing && c->out_len == c->out_off)
				alive = false;
			if (alive && now >= c->deadline_usec) {
				/* Tell the slow client why, if its socket takes it, then drop it.
				 */
				if (c->out_len == c->out_off) {
					static const char slow[] =
						"{\"ok\":false,\"error\":\"request not completed "
						"within the client timeout; send one JSON object "
						"per line and read the reply\"}\n";

					(void)!send(c->fd, slow, sizeof(slow) - 1,
						    MSG_DONTWAIT | MSG_NOSIGNAL);
				}
				alive = false;
			}
			if (!alive)
				client_close(srv, i);
		}
		if (r > 0 && pfd[1].revents & POLLIN)
			server_accept(srv, now);
	}
	free(pfd);
	state_thread_unregister();
	return NULL;
}

/* Refuses to replace a live socket (another daemon) or anything that is not a socket. */
static int socket_path_clear(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return -EADDRINUSE;
	if (errno != ECONNREFUSED && errno != ENOENT)
		return -errno;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int socket_bind(struct api_server *srv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char tmp[sizeof(sa.sun_path)];
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	char *slash;
	int r, n;

	dir = strdup(srv->path);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		r = util_mkdir_p(dir, 0755);
		if (r < 0)
			return log_error_errno(r, "api: cannot create '%s': %m", dir);
	}
	r = socket_path_clear(srv->path);
	if (r == -EADDRINUSE)
		return log_error_errno(r,
				       "api: another process already serves '%s' (is prescientd "
				       "running twice?): %m",
				       srv->path);
	if (r == -EEXIST)
		return log_error_errno(r, "api: '%s' exists and is not a socket; remove it: %m",
				       srv->path);
	if (r < 0)
		return log_error_errno(r, "api: cannot replace stale socket '%s': %m", srv->path);

	/* Bind under a temporary name and rename, so the socket never exists with a wider mode. */
	n = snprintf(tmp, sizeof(tmp), "%s.%d", srv->path, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return log_error_errno(-ENAMETOOLONG, "api: socket path '%s' too long: %m",
				       srv->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_error_errno(-errno, "api: socket: %m");
	unlink(tmp);
	memcpy(sa.sun_path, tmp, strlen(tmp));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return log_error_errno(-errno, "api: cannot bind '%s': %m", tmp);
	if (chmod(tmp, srv->cfg.socket_mode) < 0 || listen(fd, 64) < 0 ||
	    rename(tmp, srv->path) < 0) {
		r = -errno;
		unlink(tmp);
		return log_error_errno(r, "api: cannot set up '%s': %m", srv->path);
	}
	if (stat(srv->path, &st) < 0)
		return log_error_errno(-errno, "api: cannot stat '%s': %m", srv->path);
	srv->sock_dev = st.st_dev;
	srv->sock_ino = st.st_ino;
	srv->listen_fd = TAKE_FD(fd);
	return 0;
}

void api_server_stop(struct api_server *srv)
{
	struct stat st;

	if (!srv)
		return;
	if (srv->thread_started) {
		uint64_t one = 1;

		(void)!write(srv->stop_fd, &one, sizeof(one));
		pthread_join(srv->thread, NULL);
	}
	while (srv->n_clients)
		client_close(srv, srv->n_clients - 1);
	if (srv->listen_fd >= 0) {
		close(srv->listen_fd);
		/* Remove the file only if it is still ours (a new daemon may have replaced it). */
		if (stat(srv->path, &st) == 0 && st.st_dev == srv->sock_dev &&
		    st.st_ino == srv->sock_ino)
			unlink(srv->path);
	}
	if (srv->stop_fd >= 0)
		close(srv->stop_fd);
	free(srv->clients);
	free(srv);
}

int api_server_start(const struct api_server_config *cfg, struct state *st,
		     const struct api_handlers *h, struct api_server **ret)
{
	struct api_server *srv;
	int r;

	if (!cfg || !cfg->socket_path || cfg->socket_path[0] != '/')
		return -EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->listen_fd = srv->stop_fd = -1;
	srv->cfg = *cfg;
	if (!srv->cfg.socket_mode)
		srv->cfg.socket_mode = API_DEFAULT_SOCKET_MODE;
	if (!srv->cfg.max_clients)
		srv->cfg.max_clients = API_DEFAULT_MAX_CLIENTS;
	if (!srv->cfg.client_timeout_usec)
		srv->cfg.client_timeout_usec = API_DEFAULT_TIMEOUT_USEC;
	if (!srv->cfg.max_request_bytes || srv->cfg.max_request_bytes > API_REQUEST_MAX_BYTES)
		srv->cfg.max_request_bytes = API_REQUEST_MAX_BYTES;
	srv->st = st;
	srv->h = h;
	r = util_strlcpy(srv->path, cfg->socket_path, sizeof(srv->path) - 16);
	if (r < 0) {
		r = log_error_errno(r, "api: socket path '%s' is too long (at most %zu bytes): %m",
				    cfg->socket_path, sizeof(srv->path) - 17);
		goto fail;
	}
	srv->cfg.socket_path = srv->path; /* the caller's string need not outlive the call */
	srv->clients = calloc(srv->cfg.max_clients, sizeof(*srv->clients));
	if (!srv->clients) {
		r = -ENOMEM;
		goto fail;
	}
	srv->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (srv->stop_fd < 0) {
		r = -errno;
		goto fail;
	}
	r = socket_bind(srv);
	if (r < 0)
		goto fail;
	r = -pthread_create(&srv->thread, NULL, server_thread, srv);
	if (r < 0)
		goto fail;
	srv->thread_started = true;
	*ret = srv;
	return 0;
fail:
	api_server_stop(srv);
	return r;
}
