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
	[API_CMD_STATUS] = "status",
	[API_CMD_VMS] = "vms",
	[API_CMD_VM] = "vm",
	[API_CMD_HOOK] = "hook",
	[API_CMD_METRIC] = "metric",
	[API_CMD_POOL] = "pool",
	[API_CMD_RESERVATIONS] = "reservations",
	[API_CMD_EXPLAIN] = "explain",
	[API_CMD_RESERVE] = "reserve",
	[API_CMD_CONFIRM] = "confirm",
	[API_CMD_ACTIVATE] = "activate",
	[API_CMD_RELEASE] = "release",
};

#define CMD_LIST                                                                                   \
	"one of \"status\", \"vms\", \"vm\", \"hook\", \"metric\", \"pool\", "                     \
	"\"reservations\", \"explain\", \"reserve\", \"confirm\", \"activate\", \"release\""

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
static const char *const cmd_keys[API_NR_CMDS][10] = {
	[API_CMD_STATUS] = { "cmd" },
	[API_CMD_VMS] = { "cmd" },
	[API_CMD_VM] = { "cmd", "vm", "samples" },
	[API_CMD_HOOK] = { "cmd", "object", "op", "sub_op", "extra", "vm", "uuid" },
	[API_CMD_METRIC] = { "cmd", "vm", "name", "value", "time_usec" },
	[API_CMD_POOL] = { "cmd" },
	[API_CMD_RESERVATIONS] = { "cmd" },
	[API_CMD_EXPLAIN] = { "cmd", "vm", "id", "request" },
	[API_CMD_RESERVE] = { "cmd", "holder", "kind", "class", "generation", "start_usec",
			      "end_usec", "pinned", "items" },
	[API_CMD_CONFIRM] = { "cmd", "id" },
	[API_CMD_ACTIVATE] = { "cmd", "id" },
	[API_CMD_RELEASE] = { "cmd", "id" },
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

/* ---- ledger requests --------------------------------------------------- */

#define RESERVE_EXAMPLE                                                                            \
	"e.g. {\"cmd\":\"reserve\",\"holder\":\"mig-42\",\"kind\":\"migration\",\"class\":"        \
	"\"guaranteed\",\"generation\":7,\"items\":[{\"dim\":\"cpu\",\"mean\":2}]}"

/* Refuses keys of a nested object that are not in keys (NULL-terminated). */
static int keys_check(struct json_object *obj, const char *what, const char *const *keys,
		      char *errbuf, size_t errbuf_size)
{
	json_object_object_foreach(obj, key, val)
	{
		char list[256];
		size_t off = 0;
		bool known = false;

		(void)val;
		for (size_t i = 0; keys[i]; i++)
			known = known || !strcmp(keys[i], key);
		if (known)
			continue;
		list[0] = '\0';
		for (size_t i = 0; keys[i] && off < sizeof(list); i++) {
			int n = snprintf(list + off, sizeof(list) - off, "%s\"%s\"", i ? ", " : "",
					 keys[i]);

			if (n < 0)
				break;
			off += (size_t)n;
		}
		return fail(errbuf, errbuf_size, "unknown key \"%.64s\" in %s: it takes %s", key,
			    what, list);
	}
	return 0;
}

/*
 * A non-negative integer below INT64_MAX (json-c saturates larger ones there).
 * Missing: -ENOENT.
 */
static int get_u64(struct json_object *obj, const char *key, const char *meaning, uint64_t *ret,
		   char *errbuf, size_t errbuf_size)
{
	struct json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(obj, key, &v))
		return -ENOENT;
	if (!json_object_is_type(v, json_type_int))
		return fail(errbuf, errbuf_size, "\"%s\" must be an integer: %s", key, meaning);
	n = json_object_get_int64(v);
	if (n < 0 || n == INT64_MAX)
		return fail(errbuf, errbuf_size, "\"%s\" must be a non-negative integer: %s", key,
			    meaning);
	*ret = (uint64_t)n;
	return 0;
}

static int get_id(struct json_object *obj, const char *cmd, uint64_t *ret, char *errbuf,
		  size_t errbuf_size)
{
	uint64_t id;
	int r;

	r = get_u64(obj, "id", "a lease id as \"reserve\" or \"reservations\" shows it", &id,
		    errbuf, errbuf_size);
	if (r < 0)
		return r;
	if (id == 0)
		return fail(errbuf, errbuf_size,
			    "\"id\" must be a lease id (1 or more), as \"reserve\" or "
			    "\"reservations\" shows it; e.g. {\"cmd\":\"%s\",\"id\":7}",
			    cmd);
	*ret = id;
	return 0;
}

/* A finite number in [min, max]. Missing: -ENOENT. */
static int get_number(struct json_object *obj, const char *key, double min, double max, double *ret,
		      char *errbuf, size_t errbuf_size)
{
	struct json_object *v;
	double d;

	if (!json_object_object_get_ex(obj, key, &v))
		return -ENOENT;
	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
		return fail(errbuf, errbuf_size, "\"%s\" must be a number from %g to %g", key, min,
			    max);
	d = json_object_get_double(v);
	if (!isfinite(d) || d < min || d > max)
		return fail(errbuf, errbuf_size, "\"%s\" must be a finite number from %g to %g",
			    key, min, max);
	*ret = d;
	return 0;
}

static bool holder_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == ':' || *s == '-'))
			return false;
	return true;
}

static int parse_item(struct json_object *it, size_t index, struct api_lease_item *ret,
		      char *errbuf, size_t errbuf_size)
{
	static const char *const keys[] = { "dim", "mean", "sd", "upper", "loading", NULL };
	struct api_lease_item item = { 0 };
	char what[32];
	int r;

	snprintf(what, sizeof(what), "items[%zu]", index);
	if (!json_object_is_type(it, json_type_object))
		return fail(errbuf, errbuf_size,
			    "%s must be an object, e.g. {\"dim\":\"cpu\",\"mean\":1.5,\"sd\":0.2,"
			    "\"upper\":2}",
			    what);
	r = keys_check(it, what, keys, errbuf, errbuf_size);
	if (r < 0)
		return r;
	r = get_string(it, "dim", item.dim, sizeof(item.dim), errbuf, errbuf_size);
	if (r == -ENOENT)
		return fail(errbuf, errbuf_size,
			    "%s needs \"dim\": a dimension of the pool as \"reservations\" "
			    "lists them, e.g. \"cpu\" or \"mem\"",
			    what);
	if (r < 0)
		return r;
	if (!text_ok(item.dim))
		return fail(errbuf, errbuf_size, "%s: \"dim\" must not contain control characters",
			    what);
	r = get_number(it, "mean", 0, API_LEASE_VALUE_MAX, &item.demand.mean, errbuf, errbuf_size);
	if (r == -ENOENT)
		return fail(errbuf, errbuf_size,
			    "%s needs \"mean\": the expected demand in the dimension's unit "
			    "(cores, bytes, pages, kbit/s)",
			    what);
	if (r < 0)
		return r;
	r = get_number(it, "sd", 0, API_LEASE_VALUE_MAX, &item.demand.sd, errbuf, errbuf_size);
	if (r < 0 && r != -ENOENT)
		return r;
	item.demand.upper = item.demand.mean;
	r = get_number(it, "upper", 0, API_LEASE_VALUE_MAX, &item.demand.upper, errbuf,
		       errbuf_size);
	if (r < 0 && r != -ENOENT)
		return r;
	if (item.demand.upper < item.demand.mean)
		return fail(
			errbuf, errbuf_size,
			"%s: \"upper\" (%g) must not be below \"mean\" (%g): it is the demand's "
			"upper bound",
			what, item.demand.upper, item.demand.mean);
	r = get_number(it, "loading", -1, 1, &item.demand.loading, errbuf, errbuf_size);
	if (r < 0 && r != -ENOENT)
		return r;
	*ret = item;
	return 0;
}

/*
 * The body of a reserve request, or of explain's "request" (reserve false:
 * holder and generation optional, the latter ignored). Dimension names and
 * times are checked against the ledger when handled.
 */
static int parse_lease_request(struct json_object *obj, const char *what, bool reserve,
			       struct api_lease_request *ret, char *errbuf, size_t errbuf_size)
{
	static const char *const keys[] = { "holder",	  "kind",	"class",
					    "generation", "start_usec", "end_usec",
					    "pinned",	  "items",	NULL };
	struct api_lease_request lr = { .kind = LEASE_HOLDER_VM };
	struct json_object *items, *v;
	char text[64], cpus[4096];
	int r;

	if (!reserve) {
		r = keys_check(obj, what, keys, errbuf, errbuf_size);
		if (r < 0)
			return r;
	}

	r = get_string(obj, "holder", lr.holder, sizeof(lr.holder), errbuf, errbuf_size);
	if (r == -ENOENT && reserve)
		return fail(errbuf, errbuf_size,
			    "\"reserve\" needs \"holder\": the VM's UUID or the incoming "
			    "migration's id, " RESERVE_EXAMPLE);
	if (r == -EINVAL || (r >= 0 && !holder_ok(lr.holder)))
		return fail(errbuf, errbuf_size,
			    "\"holder\" must be 1 to %d characters of A-Z, a-z, 0-9, '_', '.', ':' "
			    "and '-', e.g. a VM's UUID or \"mig-42\"",
			    LEASE_HOLDER_MAX - 1);

	r = get_string(obj, "kind", text, sizeof(text), errbuf, errbuf_size);
	if (r >= 0) {
		if (!strcmp(text, "vm"))
			lr.kind = LEASE_HOLDER_VM;
		else if (!strcmp(text, "migration"))
			lr.kind = LEASE_HOLDER_MIGRATION;
		else
			r = -EINVAL;
	}
	if (r == -EINVAL)
		return fail(errbuf, errbuf_size,
			    "\"kind\" must be \"vm\" (the holder is a VM's UUID) or \"migration\" "
			    "(an incoming migration's id)");
	if (lr.holder[0] && lr.kind == LEASE_HOLDER_VM) {
		if (!util_uuid_valid(lr.holder))
			return fail(errbuf, errbuf_size,
				    "\"holder\" \"%s\" is not a UUID: a lease of kind \"vm\" is "
				    "held by the VM's UUID; for an incoming migration add "
				    "\"kind\":\"migration\"",
				    lr.holder);
		/* The snapshot's UUIDs are lower case: holders must match them. */
		for (char *c = lr.holder; *c; c++)
			if (*c >= 'A' && *c <= 'F')
				*c = (char)(*c - 'A' + 'a');
	}
	if (!lr.holder[0])
		strcpy(lr.holder, "explain");

	r = get_string(obj, "class", text, sizeof(text), errbuf, errbuf_size);
	if (r == -ENOENT)
		return fail(errbuf, errbuf_size,
			    "%s needs \"class\": \"guaranteed\" (held whole at its upper bound), "
			    "\"burstable\" (its mean, within the risk bound) or \"best-effort\"",
			    what);
	if (r == -EINVAL || pool_class_from_string(text, &lr.cls) < 0)
		return fail(errbuf, errbuf_size,
			    "\"class\" must be \"guaranteed\", \"burstable\" or \"best-effort\"");

	r = get_u64(obj, "generation",
		    "the ledger's generation as {\"cmd\":\"reservations\"} shows it",
		    &lr.generation, errbuf, errbuf_size);
	if (r == -ENOENT && reserve)
		return fail(errbuf, errbuf_size,
			    "\"reserve\" needs \"generation\": the ledger's generation as "
			    "{\"cmd\":\"reservations\"} shows it, so that a reservation is only "
			    "granted against what you read");
	if (r == -EINVAL)
		return r;
	lr.has_generation = r >= 0;

	r = get_u64(obj, "start_usec", "microseconds since the epoch", &lr.start_usec, errbuf,
		    errbuf_size);
	if (r == -EINVAL)
		return r;
	r = get_u64(obj, "end_usec", "microseconds since the epoch, 0 for open-ended", &lr.end_usec,
		    errbuf, errbuf_size);
	if (r == -EINVAL)
		return r;
	if (lr.end_usec && lr.start_usec && lr.end_usec <= lr.start_usec)
		return fail(errbuf, errbuf_size,
			    "\"end_usec\" must be after \"start_usec\" (or 0 for open-ended)");

	r = get_string(obj, "pinned", cpus, sizeof(cpus), errbuf, errbuf_size);
	if (r == -EINVAL && json_object_object_get_ex(obj, "pinned", &v) &&
	    json_object_is_type(v, json_type_string) && json_object_get_string_len(v) == 0)
		r = -ENOENT; /* "" is no pinned cores */
	if (r == -EINVAL || (r >= 0 && pool_cpuset_parse(cpus, &lr.pinned) < 0))
		return fail(errbuf, errbuf_size,
			    "\"pinned\" must be a CPU list like \"2-3,6\" (ascending, CPUs below "
			    "%d), or \"\" for none",
			    POOL_MAX_CPUS);

	if (json_object_object_get_ex(obj, "items", &items)) {
		size_t n;

		if (!json_object_is_type(items, json_type_array))
			return fail(errbuf, errbuf_size,
				    "\"items\" must be an array of {\"dim\",\"mean\",\"sd\","
				    "\"upper\"} objects, one per dimension");
		n = json_object_array_length(items);
		if (n > ADMIT_MAX_ITEMS)
			return fail(errbuf, errbuf_size,
				    "\"items\" has %zu entries: at most %d, one per dimension", n,
				    ADMIT_MAX_ITEMS);
		for (size_t i = 0; i < n; i++) {
			r = parse_item(json_object_array_get_idx(items, i), i, &lr.items[i], errbuf,
				       errbuf_size);
			if (r < 0)
				return r;
			for (size_t k = 0; k < i; k++)
				if (!strcmp(lr.items[k].dim, lr.items[i].dim))
					return fail(errbuf, errbuf_size,
						    "\"items\" names \"%s\" twice: one entry per "
						    "dimension",
						    lr.items[i].dim);
		}
		lr.n_items = (uint32_t)n;
	}
	if (lr.n_items == 0 && pool_cpuset_count(&lr.pinned) == 0)
		return fail(errbuf, errbuf_size,
			    "%s reserves nothing: give \"items\" (and/or \"pinned\" cores), "
			    "" RESERVE_EXAMPLE,
			    what);
	*ret = lr;
	return 0;
}

static int parse_explain(struct json_object *obj, struct api_request *req, char *errbuf,
			 size_t errbuf_size)
{
	struct json_object *v;
	int n = 0, r;

	n += json_object_object_get_ex(obj, "vm", NULL);
	n += json_object_object_get_ex(obj, "id", NULL);
	n += json_object_object_get_ex(obj, "request", NULL);
	if (n != 1)
		return fail(errbuf, errbuf_size,
			    "\"explain\" takes one of \"vm\" (a VM's name or UUID), \"id\" (a "
			    "lease id) or \"request\" (a reserve request to decide now, changing "
			    "nothing), e.g. {\"cmd\":\"explain\",\"vm\":\"web1\"}");
	r = get_string(obj, "vm", req->vm, sizeof(req->vm), errbuf, errbuf_size);
	if (r >= 0 && !text_ok(req->vm))
		return fail(errbuf, errbuf_size, "\"vm\" must not contain control characters");
	if (r != -ENOENT)
		return r;
	r = get_id(obj, "explain", &req->lease_id, errbuf, errbuf_size);
	if (r != -ENOENT)
		return r;
	json_object_object_get_ex(obj, "request", &v);
	if (!json_object_is_type(v, json_type_object))
		return fail(errbuf, errbuf_size,
			    "\"request\" must be an object shaped like a reserve request, e.g. "
			    "{\"class\":\"burstable\",\"items\":[{\"dim\":\"cpu\",\"mean\":2,"
			    "\"sd\":0.5,\"upper\":3}]}");
	req->explain_request = true;
	return parse_lease_request(v, "\"request\"", false, &req->lease, errbuf, errbuf_size);
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
		return fail(errbuf, errbuf_size, "missing \"cmd\": " CMD_LIST);
	if (r < 0)
		return r;
	for (req.cmd = 0; req.cmd < API_NR_CMDS; req.cmd++)
		if (!strcmp(cmd, cmd_names[req.cmd]))
			break;
	if (req.cmd == API_NR_CMDS)
		return fail(errbuf, errbuf_size, "unknown command \"%s\": " CMD_LIST, cmd);

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
	case API_CMD_EXPLAIN:
		r = parse_explain(obj, &req, errbuf, errbuf_size);
		if (r < 0)
			return r;
		break;
	case API_CMD_RESERVE:
		r = parse_lease_request(obj, "reserve", true, &req.lease, errbuf, errbuf_size);
		if (r < 0)
			return r;
		break;
	case API_CMD_CONFIRM:
	case API_CMD_ACTIVATE:
	case API_CMD_RELEASE:
		r = get_id(obj, cmd, &req.lease_id, errbuf, errbuf_size);
		if (r == -ENOENT)
			return fail(errbuf, errbuf_size,
				    "\"%s\" needs \"id\": the lease's id from \"reserve\" or "
				    "\"reservations\", e.g. {\"cmd\":\"%s\",\"id\":7}",
				    cmd, cmd);
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

int api_response_error(const char *msg, const char *code, struct json_object *extra, char **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	_cleanup_json_ struct json_object *x = extra;
	char *s;

	if (!o || json_object_object_add(o, "ok", json_object_new_boolean(false)) < 0 ||
	    json_object_object_add(o, "error", json_object_new_string(msg)) < 0)
		return -ENOMEM;
	if (code && json_object_object_add(o, "code", json_object_new_string(code)) < 0)
		return -ENOMEM;
	if (x) {
		json_object_object_foreach(x, key, val)
		{
			if (json_object_object_add(o, key, json_object_get(val)) < 0) {
				json_object_put(val);
				return -ENOMEM;
			}
		}
	}
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static int response_error(const char *msg, char **ret)
{
	return api_response_error(msg, NULL, NULL, ret);
}

/* Takes ownership of data. */
int api_response_ok(struct json_object *data, char **ret)
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

static int response_ok(struct json_object *data, char **ret)
{
	return api_response_ok(data, ret);
}

static int handle_read(struct state *st, const struct api_handlers *h,
		       const struct api_request *req, char **ret)
{
	_cleanup_free_ struct lease *leases = NULL;
	_cleanup_free_ struct pool *pool = NULL;
	const struct state_snapshot *snap;
	struct json_object *data = NULL;
	struct ledger_usage usage;
	uint64_t now = util_now_usec();
	char msg[HV_NAME_MAX + 128];
	size_t n_leases = 0;
	bool with_ledger = false;
	int r = 0;

	if (!st)
		return response_error("the daemon has no state yet: retry in a few seconds", ret);
	/* The ledger takes its lock: copy it before the read-side section, which must not block. */
	if (req->cmd == API_CMD_POOL && h && h->ledger) {
		pool = malloc(sizeof(*pool));
		if (!pool)
			return -ENOMEM;
		r = api_ledger_copy(h->ledger, pool, &usage, &leases, &n_leases);
		if (r < 0)
			return r;
		with_ledger = true;
	}

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
		if (r >= 0 && with_ledger) {
			r = api_json_pool_ledger(data, snap, &usage, pool, leases, n_leases);
			if (r < 0) {
				json_object_put(data);
				data = NULL;
			}
		}
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
		return api_response_error(err, "invalid", NULL, ret_response);
	switch (req.cmd) {
	case API_CMD_HOOK:
		return handle_hook(h, &req, ret_response);
	case API_CMD_METRIC:
		return handle_metric(st, h, &req, ret_response);
	case API_CMD_RESERVATIONS:
	case API_CMD_EXPLAIN:
	case API_CMD_RESERVE:
	case API_CMD_CONFIRM:
	case API_CMD_ACTIVATE:
	case API_CMD_RELEASE:
		return api_ledger_handle(st, h, &req, ret_response);
	default:
		return handle_read(st, h, &req, ret_response);
	}
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
