// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The API: the strict request parser (a table of good and hostile lines),
 * the responses rendered from a hand-built snapshot, hook events through the
 * handler, and the server itself on a socket in a temporary directory: many
 * requests per connection, concurrent clients, over-long lines, slow and
 * silent clients, too many clients, stale and foreign socket files.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "api.h"
#include "cleanup.h"
#include "fake-state.h"
#include "tap.h"
#include "test-client.h"
#include "util.h"

/* ---- helpers ------------------------------------------------------------- */

/* Looks up "a.b.0.c" in obj; NULL when absent (or JSON null). */
static struct json_object *jget(struct json_object *obj, const char *path)
{
	char buf[256], *save = NULL;

	util_strlcpy(buf, path, sizeof(buf));
	for (char *tok = strtok_r(buf, ".", &save); tok && obj; tok = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(obj, json_type_array)) {
			obj = json_object_array_get_idx(obj, (size_t)atoi(tok));
		} else if (!json_object_object_get_ex(obj, tok, &obj)) {
			return NULL;
		}
	}
	return obj;
}

static bool jhas(struct json_object *obj, const char *path)
{
	char buf[256], *dot;
	struct json_object *parent;

	util_strlcpy(buf, path, sizeof(buf));
	dot = strrchr(buf, '.');
	if (!dot)
		return json_object_object_get_ex(obj, buf, NULL);
	*dot = '\0';
	parent = jget(obj, buf);
	return parent && json_object_object_get_ex(parent, dot + 1, NULL);
}

static const char *jstr(struct json_object *obj, const char *path)
{
	struct json_object *v = jget(obj, path);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static double jnum(struct json_object *obj, const char *path)
{
	struct json_object *v = jget(obj, path);

	return v ? json_object_get_double(v) : NAN;
}

static bool jbool(struct json_object *obj, const char *path)
{
	struct json_object *v = jget(obj, path);

	return v && json_object_get_boolean(v);
}

static struct json_object *handle(struct state *st, const struct api_handlers *h, const char *line)
{
	char *resp = NULL;
	struct json_object *o;

	if (api_request_handle(st, h, line, strlen(line), &resp) < 0) {
		fprintf(stderr, "api_request_handle failed for %s\n", line);
		test_failures++;
		return json_object_new_object();
	}
	check(strchr(resp, '\n') == NULL); /* one line */
	o = json_tokener_parse(resp);
	if (!o) {
		fprintf(stderr, "response is not JSON: %s\n", resp);
		test_failures++;
		o = json_object_new_object();
	}
	free(resp);
	return o;
}

/* ---- the parser -------------------------------------------------------- */

struct parse_case {
	const char *line;
	bool ok;
	const char *err_has;
};

static const struct parse_case parse_cases[] = {
	{ "{\"cmd\":\"status\"}", true, NULL },
	{ "  {\"cmd\" : \"vms\"}  \r\n", true, NULL },
	{ "{\"cmd\":\"vm\",\"vm\":\"web1\"}", true, NULL },
	{ "{\"cmd\":\"vm\",\"vm\":\"web1\",\"samples\":5}", true, NULL },
	{ "{\"cmd\":\"hook\",\"object\":\"qemu\",\"op\":\"started\",\"sub_op\":\"begin\","
	  "\"extra\":\"-\",\"vm\":\"web 1\",\"uuid\":\"" FAKE_UUID_WEB1 "\"}",
	  true, NULL },
	{ "{\"cmd\":\"hook\",\"object\":\"qemu\",\"op\":\"some-future-op\",\"vm\":\"x\"}", true,
	  NULL },
	{ "", false, "empty request" },
	{ "   ", false, "empty request" },
	{ "status", false, "invalid JSON" },
	{ "{\"cmd\":\"status\"", false, "incomplete JSON" },
	{ "{\"cmd\":\"status\"}{\"cmd\":\"vms\"}", false, "trailing data" },
	{ "{\"cmd\":\"status\"} x", false, "trailing data" },
	{ "[\"status\"]", false, "must be a JSON object" },
	{ "\"status\"", false, "must be a JSON object" },
	{ "42", false, "JSON object" },
	{ "null", false, "must be a JSON object" },
	{ "{}", false, "missing \"cmd\"" },
	{ "{\"cmd\":1}", false, "\"cmd\" must be a string" },
	{ "{\"cmd\":null}", false, "\"cmd\" must be a string" },
	{ "{\"cmd\":\"\"}", false, "must not be empty" },
	{ "{\"cmd\":\"stauts\"}", false, "unknown command \"stauts\"" },
	{ "{\"cmd\":\"status\",\"verbose\":true}", false, "unknown key \"verbose\"" },
	{ "{\"cmd\":\"vm\"}", false, "needs \"vm\"" },
	{ "{\"cmd\":\"vm\",\"vm\":7}", false, "\"vm\" must be a string" },
	{ "{\"cmd\":\"vm\",\"vm\":\"a\\u0000b\"}", false, "NUL" },
	{ "{\"cmd\":\"vm\",\"vm\":\"x\",\"samples\":-1}", false, "\"samples\" must be" },
	{ "{\"cmd\":\"vm\",\"vm\":\"x\",\"samples\":121}", false, "\"samples\" must be" },
	{ "{\"cmd\":\"vm\",\"vm\":\"x\",\"samples\":\"5\"}", false, "\"samples\" must be" },
	{ "{\"cmd\":\"vm\",\"vm\":\"x\",\"samples\":1.5}", false, "\"samples\" must be" },
	{ "{\"cmd\":\"hook\",\"object\":\"qemu\",\"vm\":\"x\"}", false, "needs \"op\"" },
	{ "{\"cmd\":\"hook\",\"object\":\"qemu\",\"op\":\"started\"}", false, "needs \"vm\"" },
	{ "{\"cmd\":\"hook\",\"object\":\"qemu\",\"op\":\"Start;rm\",\"vm\":\"x\"}", false,
	  "lower-case letters" },
	{ "{\"cmd\":\"hook\",\"object\":\"qemu\",\"op\":\"started\",\"vm\":\"x\",\"uuid\":\"zz\"}",
	  false, "8-4-4-4-12" },
	{ "{\"cmd\":\"hook\",\"object\":\"qemuqemuqemuqemuqemu\",\"op\":\"a\",\"vm\":\"x\"}", false,
	  "longer than 15 bytes" },
	{ "{\"cmd\":\"status\",\"cmd\":\"vms\"}", true, NULL }, /* json-c: last duplicate wins */
	{ "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":1}}}}}}}}}", false,
	  "invalid JSON" }, /* nesting deeper than 8 */
	{ "{'cmd':'status'}", false, "invalid JSON" },
	{ "{\"cmd\":\"hook\",\"object\":\"qemu\",\"op\":\"release\",\"extra\":\"from snapshot\","
	  "\"vm\":\"x\"}",
	  true, NULL },
	/* A hook's VM name is only shown: a control character becomes '?'. */
	{ "{\"cmd\":\"hook\",\"object\":\"qemu\",\"op\":\"started\",\"vm\":\"a\\nb\"}", true,
	  NULL },
	/* The fields the daemon dispatches on stay strict. */
	{ "{\"cmd\":\"hook\",\"object\":\"qemu\",\"op\":\"sta\\trted\",\"vm\":\"a\"}", false,
	  "lower-case" },
	{ "{\"cmd\":\"vm\",\"vm\":\"\xff\xfe\"}", false, "invalid JSON" }, /* not UTF-8 */
	{ "{\"cmd\":\"vm\",\"vm\":\"caf\xc3\xa9\"}", true, NULL },
	{ "{\"cmd\":\"status\",}", false, "invalid JSON" },
	/* application metrics (json-c takes NaN and Infinity even when strict) */
	{ "{\"cmd\":\"metric\",\"vm\":\"w\",\"name\":\"t\",\"value\":Infinity}", false,
	  "finite number" },
	{ "{\"cmd\":\"metric\",\"vm\":\"w\",\"name\":\"t\",\"value\":-Infinity}", false,
	  "finite number" },
	{ "{\"cmd\":\"metric\",\"vm\":\"w\",\"name\":\"t\",\"value\":1e400}", false,
	  "finite number" },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"tps\",\"value\":12.5}", true, NULL },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"queue.len-2_x\",\"value\":-3}", true,
	  NULL },
	{ "{\"cmd\":\"metric\",\"vm\":\"" FAKE_UUID_WEB1 "\",\"name\":\"t\",\"value\":0,"
	  "\"time_usec\":1700000000000000}",
	  true, NULL },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":"
	  "\"a23456789012345678901234567890123456789012345678\",\"value\":1}",
	  true, NULL }, /* 48 characters */
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":"
	  "\"a234567890123456789012345678901234567890123456789\",\"value\":1}",
	  false, "1 to 48 characters" },
	{ "{\"cmd\":\"metric\",\"name\":\"tps\",\"value\":1}", false, "needs \"vm\"" },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"value\":1}", false, "needs \"name\"" },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"tps\"}", false, "needs \"value\"" },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"TPS\",\"value\":1}", false,
	  "1 to 48 characters of a-z" },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"../x\",\"value\":1}", false,
	  "1 to 48 characters" },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"a b\",\"value\":1}", false,
	  "1 to 48 characters" },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"\",\"value\":1}", false,
	  "1 to 48 characters" },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":7,\"value\":1}", false,
	  "1 to 48 characters" },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"tps\",\"value\":\"12\"}", false,
	  "\"value\" must be a number" },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"tps\",\"value\":null}", false,
	  "\"value\" must be a number" },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"tps\",\"value\":true}", false,
	  "\"value\" must be a number" },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"tps\",\"value\":[1]}", false,
	  "\"value\" must be a number" },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"tps\",\"value\":2e15}", false,
	  "finite number of magnitude" },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"tps\",\"value\":-99999999999999999999}",
	  false, "finite number of magnitude" },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"tps\",\"value\":NaN}", false,
	  "finite number" },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"tps\",\"value\":1,\"unit\":\"x\"}", false,
	  "unknown key \"unit\" for \"metric\"" },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"tps\",\"value\":1,\"time_usec\":1.5}",
	  false, "\"time_usec\" must be an integer" },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"tps\",\"value\":1,\"time_usec\":-5}",
	  false, "positive integer" },
	{ "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"tps\",\"value\":1,\"time_usec\":\"x\"}",
	  false, "\"time_usec\" must be an integer" },
	{ "{\"cmd\":\"metric\",\"vm\":\"a\\tb\",\"name\":\"tps\",\"value\":1}", false,
	  "control characters" },
};

static void test_parse_table(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct api_request req;
		char err[API_ERROR_MAX] = "";
		int r = api_request_parse(c->line, strlen(c->line), &req, err, sizeof(err));

		if (c->ok != (r == 0)) {
			fprintf(stderr, "parse case %zu (%s): r=%d err='%s'\n", i, c->line, r, err);
			test_failures++;
			continue;
		}
		if (!c->ok && !strstr(err, c->err_has)) {
			fprintf(stderr, "parse case %zu (%s): '%s' lacks '%s'\n", i, c->line, err,
				c->err_has);
			test_failures++;
		}
	}
}

static void test_parse_fields(void)
{
	struct api_request req;
	char err[API_ERROR_MAX] = "";
	const char *l =
		"{\"cmd\":\"hook\",\"object\":\"qemu\",\"op\":\"release\",\"sub_op\":\"end\","
		"\"extra\":\"migrated\",\"vm\":\"web1\",\"uuid\":\"" FAKE_UUID_WEB1 "\"}";
	const char *l2 = "{\"cmd\":\"hook\",\"object\":\"qemu\",\"op\":\"stopped\",\"vm\":\"w\"}";
	char *big;

	check_int_eq(api_request_parse(l, strlen(l), &req, err, sizeof(err)), 0);
	check_int_eq(req.cmd, API_CMD_HOOK);
	check_str_eq(req.hook.object, "qemu");
	check_str_eq(req.hook.op, "release");
	check_str_eq(req.hook.sub_op, "end");
	check_str_eq(req.hook.extra, "migrated");
	check_str_eq(req.hook.vm, "web1");
	check_str_eq(req.hook.uuid, FAKE_UUID_WEB1);

	/* A hook's VM name and extra are only shown: too long is cut, not refused. */
	big = malloc(400);
	snprintf(big, 400,
		 "{\"cmd\":\"hook\",\"object\":\"qemu\",\"op\":\"prepare\",\"vm\":\"%0300d\","
		 "\"extra\":\"a\\tb\"}",
		 0);
	check_int_eq(api_request_parse(big, strlen(big), &req, err, sizeof(err)), 0);
	check_int_eq(strlen(req.hook.vm), sizeof(req.hook.vm) - 1);
	check_str_eq(req.hook.extra, "a?b");
	free(big);
	/* ... and a cut never splits a UTF-8 character ("é" is 2 bytes). */
	big = malloc(1000);
	strcpy(big, "{\"cmd\":\"hook\",\"object\":\"qemu\",\"op\":\"start\",\"vm\":\"x");
	for (int i = 0; i < 100; i++)
		strcat(big, "\xc3\xa9");
	strcat(big, "\"}");
	check_int_eq(api_request_parse(big, strlen(big), &req, err, sizeof(err)), 0);
	check_int_eq(strlen(req.hook.vm), 127); /* "x" and 63 whole characters */
	free(big);

	check_int_eq(api_request_parse(l2, strlen(l2), &req, err, sizeof(err)), 0);
	check_str_eq(req.hook.sub_op, "-");
	check_str_eq(req.hook.extra, "-");
	check_str_eq(req.hook.uuid, "");

	l = "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"queue.len\",\"value\":-2.5,"
	    "\"time_usec\":1700000000000001}";
	check_int_eq(api_request_parse(l, strlen(l), &req, err, sizeof(err)), 0);
	check_int_eq(req.cmd, API_CMD_METRIC);
	check_str_eq(req.vm, "web1");
	check_str_eq(req.metric.vm, "web1");
	check_str_eq(req.metric.name, "queue.len");
	check_double_near(req.metric.value, -2.5, 0);
	check(req.metric.time_usec == 1700000000000001ULL);
	l = "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"tps\",\"value\":7}";
	check_int_eq(api_request_parse(l, strlen(l), &req, err, sizeof(err)), 0);
	check_double_near(req.metric.value, 7, 0);
	check(req.metric.time_usec == 0);

	/* NUL bytes inside the line and over-long lines */
	check(api_request_parse("{\"cmd\":\"vms\"}\0x", 15, &req, err, sizeof(err)) < 0);
	check(strstr(err, "NUL") != NULL);
	big = malloc(API_REQUEST_MAX_BYTES + 100);
	memset(big, ' ', API_REQUEST_MAX_BYTES + 100);
	memcpy(big, "{\"cmd\":\"vm\",\"vm\":\"", 18);
	big[API_REQUEST_MAX_BYTES + 90] = '"';
	big[API_REQUEST_MAX_BYTES + 91] = '}';
	check(api_request_parse(big, API_REQUEST_MAX_BYTES + 92, &req, err, sizeof(err)) < 0);
	check(strstr(err, "longer than") != NULL);
	free(big);

	/* a VM name longer than any libvirt name */
	big = malloc(400);
	snprintf(big, 400, "{\"cmd\":\"vm\",\"vm\":\"%0300d\"}", 0);
	check(api_request_parse(big, strlen(big), &req, err, sizeof(err)) < 0);
	check(strstr(err, "longer than 127 bytes") != NULL);
	free(big);
}

/* ---- responses from the fake snapshot ------------------------------------ */

struct hook_log {
	pthread_mutex_t lock;
	int n;
	struct api_hook_event last;
	int fail_with; /* handler returns this when < 0 */
	bool refuse;
};

static int on_hook(const struct api_hook_event *ev, struct api_hook_reply *reply, void *userdata)
{
	struct hook_log *log = userdata;

	pthread_mutex_lock(&log->lock);
	log->n++;
	log->last = *ev;
	pthread_mutex_unlock(&log->lock);
	if (log->fail_with < 0)
		return log->fail_with;
	if (log->refuse) {
		reply->verdict = API_HOOK_REFUSE;
		util_strlcpy(reply->reason, "no reservation covers this migration",
			     sizeof(reply->reason));
	}
	return 0;
}

static void test_responses(struct state *st)
{
	struct json_object *o;

	o = handle(st, NULL, "{\"cmd\":\"status\"}");
	check(jbool(o, "ok"));
	check_str_eq(jstr(o, "data.hostname"), "testhost");
	check_str_eq(jstr(o, "data.version"), "0.1.0-test");
	check_int_eq((int)jnum(o, "data.vm_count"), 2);
	check(jnum(o, "data.uptime_sec") >= 59);
	check(jbool(o, "data.dry_run"));
	check(jbool(o, "data.libvirt.connected"));
	check_str_eq(jstr(o, "data.libvirt.uri"), "test:///default");
	check_str_eq(jstr(o, "data.collect.sources.0"), "cgroup-v2");
	check_str_eq(jstr(o, "data.collect.sources.1"), "libvirt");
	check_str_eq(jstr(o, "data.collect.sources.2"), "netlink");
	check(!jbool(o, "data.bpf.loaded"));
	check_str_eq(jstr(o, "data.bpf.status"), "disabled in the configuration");
	check_double_near(jnum(o, "data.forecast.step_sec"), 60, 0);
	json_object_put(o);

	o = handle(st, NULL, "{\"cmd\":\"vms\"}");
	check(jbool(o, "ok"));
	check_int_eq(json_object_array_length(jget(o, "data.vms")), 2);
	check_str_eq(jstr(o, "data.vms.0.name"), "db-2");
	check_str_eq(jstr(o, "data.vms.0.state"), "paused");
	/* not measured is null, never 0 */
	check(jhas(o, "data.vms.0.cpu_cores") && jget(o, "data.vms.0.cpu_cores") == NULL);
	check(jget(o, "data.vms.0.cpu_upper_cores") == NULL);
	check(jget(o, "data.vms.0.cpu_alloc_cores") == NULL);
	check_str_eq(jstr(o, "data.vms.1.name"), "web1");
	check_str_eq(jstr(o, "data.vms.1.uuid"), FAKE_UUID_WEB1);
	check_int_eq((int)jnum(o, "data.vms.1.vcpus"), 4);
	check_double_near(jnum(o, "data.vms.1.memory_bytes"), 2147483648.0, 0);
	check_double_near(jnum(o, "data.vms.1.cpu_cores"), 1.5, 1e-9);
	check_double_near(jnum(o, "data.vms.1.mem_bytes"), 1073741824.0, 0);
	check_double_near(jnum(o, "data.vms.1.disk_read_bps"), 2097152.0, 0);
	check_double_near(jnum(o, "data.vms.1.net_rx_bps"), 524288.0, 0);
	check_double_near(jnum(o, "data.vms.1.cpu_alloc_cores"), 2.25, 1e-9);
	check_double_near(jnum(o, "data.vms.1.cpu_upper_cores"), 2.1, 1e-9);
	check_int_eq((int)jnum(o, "data.vms.1.metric_count"), 1);
	check_int_eq((int)jnum(o, "data.vms.0.metric_count"), STATE_METRICS_MAX);
	json_object_put(o);

	o = handle(st, NULL, "{\"cmd\":\"vm\",\"vm\":\"web1\"}");
	check(jbool(o, "ok"));
	check_int_eq((int)jnum(o, "data.pid"), 4242);
	check_int_eq((int)jnum(o, "data.vcpu_tids.3"), 4303);
	check_str_eq(jstr(o, "data.taps.0"), "vnet3");
	check_str_eq(jstr(o, "data.disks.0"), "vda");
	check(strstr(jstr(o, "data.cgroups.v2") ?: "", "web1.scope") != NULL);
	check_int_eq(json_object_array_length(jget(o, "data.samples")), 3);
	check_double_near(jnum(o, "data.samples.0.cpu_cores"), 0.5, 1e-9);
	check_double_near(jnum(o, "data.samples.2.cpu_cores"), 1.5, 1e-9);
	check(jhas(o, "data.samples.2.io_pressure_some") &&
	      jget(o, "data.samples.2.io_pressure_some") == NULL);
	check_str_eq(jstr(o, "data.forecast.cpu.model"), "holt");
	check_str_eq(jstr(o, "data.forecast.cpu.unit"), "cores");
	check_double_near(jnum(o, "data.forecast.cpu.coverage.80"), 0.82, 1e-9);
	check_double_near(jnum(o, "data.forecast.cpu.coverage.95"), 0.96, 1e-9);
	check_int_eq(json_object_array_length(jget(o, "data.forecast.cpu.points")), 3);
	check_double_near(jnum(o, "data.forecast.cpu.points.1.mean"), 1.6, 1e-9);
	check_double_near(jnum(o, "data.forecast.cpu.points.1.intervals.1.level"), 0.95, 1e-9);
	check_double_near(jnum(o, "data.forecast.cpu.points.1.intervals.1.hi"), 2.0, 1e-9);
	check(!jbool(o, "data.forecast.mem.valid"));
	check(jbool(o, "data.cpu_reservation.managed"));
	check_double_near(jnum(o, "data.cpu_reservation.cores"), 2.25, 1e-9);
	check(strstr(jstr(o, "data.cpu_reservation.reason") ?: "", "raised") != NULL);
	check_str_eq(jstr(o, "data.model"), "holt");
	check(jbool(o, "data.model_overridden"));
	check_double_near(jnum(o, "data.metrics.tps.last_value"), 1250, 0);
	check(jnum(o, "data.metrics.tps.last_push_age_sec") >= 1.9); /* the fixture ages */
	check(jnum(o, "data.metrics.tps.last_push_age_sec") < 600);
	check_int_eq((int)jnum(o, "data.metrics.tps.pushes"), 42);
	check_int_eq(json_object_array_length(jget(o, "data.metrics.tps.step_values")), 3);
	check_double_near(jnum(o, "data.metrics.tps.step_values.0"), 1000, 0);
	check(jget(o, "data.metrics.tps.step_values.1") == NULL); /* no pushes: null */
	check_double_near(jnum(o, "data.metrics.tps.step_values.2"), 1200, 0);
	check(jbool(o, "data.metrics.tps.forecast.valid"));
	check_str_eq(jstr(o, "data.metrics.tps.forecast.unit"), "value");
	check_str_eq(jstr(o, "data.metrics.tps.forecast.model"), "holt");
	check(jhas(o, "data.metrics.tps.forecast.coverage.80") &&
	      jget(o, "data.metrics.tps.forecast.coverage.80") == NULL);
	check_int_eq(json_object_array_length(jget(o, "data.metrics.tps.forecast.points")), 2);
	check_double_near(jnum(o, "data.metrics.tps.forecast.points.1.mean"), 1400, 0);
	check_double_near(jnum(o, "data.metrics.tps.forecast.points.1.intervals.0.lo"), 1350, 0);
	json_object_put(o);

	o = handle(st, NULL, "{\"cmd\":\"vm\",\"vm\":\"db-2\"}");
	check_str_eq(jstr(o, "data.model"), "auto");
	check(!jbool(o, "data.model_overridden"));
	check_int_eq(json_object_object_length(jget(o, "data.metrics")), STATE_METRICS_MAX);
	check(jhas(o, "data.metrics.m7.last_value") &&
	      jget(o, "data.metrics.m7.last_value") == NULL);
	check(!jbool(o, "data.metrics.m7.forecast.valid"));
	json_object_put(o);

	/* by UUID, in upper case too; newest samples only */
	o = handle(
		st, NULL,
		"{\"cmd\":\"vm\",\"vm\":\"11111111-2222-3333-4444-555555555555\",\"samples\":1}");
	check_str_eq(jstr(o, "data.name"), "web1");
	check_int_eq(json_object_array_length(jget(o, "data.samples")), 1);
	check_double_near(jnum(o, "data.samples.0.cpu_cores"), 1.5, 1e-9);
	json_object_put(o);
	o = handle(st, NULL, "{\"cmd\":\"vm\",\"vm\":\"AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE\"}");
	check_str_eq(jstr(o, "data.name"), "db-2");
	check_str_eq(jstr(o, "data.cpu_reservation.last_error"), strerror(EPERM));
	json_object_put(o);

	o = handle(st, NULL, "{\"cmd\":\"vm\",\"vm\":\"nope\"}");
	check(!jbool(o, "ok"));
	check(strstr(jstr(o, "error") ?: "", "no VM named or with UUID \"nope\"") != NULL);
	check(strstr(jstr(o, "error") ?: "", "prescientctl vms") != NULL);
	json_object_put(o);

	/* errors are JSON too, even for garbage with quotes and control characters */
	o = handle(st, NULL, "{\"cmd\":\"\\\"\\n\"}");
	check(!jbool(o, "ok"));
	check(jstr(o, "error") != NULL);
	json_object_put(o);
}

/* {"cmd":"pool"}: capacity, reserved by whom, free; NUMA CPUs; hugepages per size and node. */
static void test_pool_response(struct state *st)
{
	const double gib = 1024.0 * 1024 * 1024;
	struct state_snapshot *snap;
	struct state *st2;
	struct json_object *o;

	o = handle(st, NULL, "{\"cmd\":\"pool\"}");
	check(jbool(o, "ok"));
	check(jbool(o, "data.valid"));
	check(jnum(o, "data.age_sec") >= 4.9 && jnum(o, "data.age_sec") < 600);
	check_str_eq(jstr(o, "data.cpu.online"), "0-7");
	check_int_eq((int)jnum(o, "data.cpu.online_count"), 8);
	check_str_eq(jstr(o, "data.cpu.machine_slice"), "2-7");
	check_str_eq(jstr(o, "data.cpu.machine_slice_source"), "cgroup");
	check_double_near(jnum(o, "data.cpu.capacity_cores"), 6, 0);
	check_double_near(jnum(o, "data.cpu.reserved_cores"), 2.25, 1e-9);
	check_double_near(jnum(o, "data.cpu.free_cores"), 3.75, 1e-9);
	check_double_near(jnum(o, "data.memory.capacity_bytes"), 16 * gib, 0);
	check_double_near(jnum(o, "data.memory.available_bytes"), 12 * gib, 0);
	check_double_near(jnum(o, "data.memory.reserved_bytes"), 3 * gib, 0);
	check_double_near(jnum(o, "data.memory.free_bytes"), 13 * gib, 0);
	check_int_eq(json_object_array_length(jget(o, "data.numa")), 2);
	check_int_eq((int)jnum(o, "data.numa.1.node"), 1);
	check_str_eq(jstr(o, "data.numa.1.cpus"), "4-7");
	check_int_eq((int)jnum(o, "data.numa.1.cpu_count"), 4);
	check_int_eq(json_object_array_length(jget(o, "data.hugepages")), 3);
	check_int_eq((int)jnum(o, "data.hugepages.0.page_kb"), 2048);
	check_int_eq((int)jnum(o, "data.hugepages.0.total_pages"), 512);
	check_int_eq((int)jnum(o, "data.hugepages.0.free_pages"), 500);
	check_double_near(jnum(o, "data.hugepages.0.free_bytes"), 1000.0 * 1024 * 1024, 0);
	check_int_eq((int)jnum(o, "data.hugepages.1.node"), 1);
	check_int_eq((int)jnum(o, "data.hugepages.2.page_kb"), 1048576);
	check_double_near(jnum(o, "data.hugepages.2.total_bytes"), 2 * gib, 0);
	/* who holds what: db-2 only its memory (CPU not managed), web1 both */
	check_int_eq(json_object_array_length(jget(o, "data.reserved_by")), 2);
	check_str_eq(jstr(o, "data.reserved_by.0.name"), "db-2");
	check(jhas(o, "data.reserved_by.0.cpu_cores") &&
	      jget(o, "data.reserved_by.0.cpu_cores") == NULL);
	check_double_near(jnum(o, "data.reserved_by.0.memory_bytes"), gib, 0);
	check_str_eq(jstr(o, "data.reserved_by.1.uuid"), FAKE_UUID_WEB1);
	check_double_near(jnum(o, "data.reserved_by.1.cpu_cores"), 2.25, 1e-9);
	check_double_near(jnum(o, "data.reserved_by.1.memory_bytes"), 2 * gib, 0);
	check_int_eq(json_object_array_length(jget(o, "data.unknown")), 0);
	json_object_put(o);

	o = handle(st, NULL, "{\"cmd\":\"pool\",\"vm\":\"web1\"}");
	check(!jbool(o, "ok"));
	check(strstr(jstr(o, "error") ?: "", "unknown key \"vm\" for \"pool\"") != NULL);
	json_object_put(o);

	/* parts the daemon could not read: null, named with the reason, never 0 */
	check_int_eq(state_new(&st2), 0);
	snap = fake_snapshot_new(util_now_usec());
	check(snap != NULL);
	if (!snap)
		return;
	snap->pool.error[2] = -EINVAL; /* memory */
	snap->pool.error[4] = -ENOENT; /* machine.slice */
	snap->pool.mem_capacity_bytes = snap->pool.mem_available_bytes = NAN;
	snap->pool.cpu_capacity_cores = NAN;
	state_publish(st2, snap);
	o = handle(st2, NULL, "{\"cmd\":\"pool\"}");
	check(jbool(o, "ok"));
	check(jhas(o, "data.memory.free_bytes") && jget(o, "data.memory.free_bytes") == NULL);
	check_double_near(jnum(o, "data.memory.reserved_bytes"), 3 * gib, 0);
	check(jget(o, "data.cpu.free_cores") == NULL);
	check_str_eq(jstr(o, "data.cpu.machine_slice_source"), "unknown");
	check_int_eq(json_object_array_length(jget(o, "data.unknown")), 2);
	check_str_eq(jstr(o, "data.unknown.0.part"), "memory");
	check_str_eq(jstr(o, "data.unknown.0.error"), strerror(EINVAL));
	check_str_eq(jstr(o, "data.unknown.1.part"), "machine-slice-cpus");
	check_int_eq((int)jnum(o, "data.unknown.1.errno"), ENOENT);
	json_object_put(o);
	state_free(st2);
}

static void test_no_state(void)
{
	struct json_object *o;
	struct state *empty;

	o = handle(NULL, NULL, "{\"cmd\":\"status\"}");
	check(!jbool(o, "ok"));
	check(strstr(jstr(o, "error") ?: "", "retry") != NULL);
	json_object_put(o);

	check_int_eq(state_new(&empty), 0);
	o = handle(empty, NULL, "{\"cmd\":\"vms\"}");
	check(!jbool(o, "ok"));
	check(strstr(jstr(o, "error") ?: "", "starting") != NULL);
	json_object_put(o);
	state_free(empty);
}

static void test_hook_requests(struct state *st)
{
	struct hook_log log = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct api_handlers h = { .hook = on_hook, .userdata = &log };
	const char *req = "{\"cmd\":\"hook\",\"object\":\"qemu\",\"op\":\"started\","
			  "\"sub_op\":\"begin\",\"vm\":\"web1\",\"uuid\":\"" FAKE_UUID_WEB1 "\"}";
	struct json_object *o;

	o = handle(st, NULL, req);
	check(!jbool(o, "ok"));
	check(strstr(jstr(o, "error") ?: "", "does not take hook events") != NULL);
	json_object_put(o);

	o = handle(st, &h, req);
	check(jbool(o, "ok"));
	check(jbool(o, "data.accepted"));
	check_str_eq(jstr(o, "data.verdict"), "allow");
	check_int_eq(log.n, 1);
	check_str_eq(log.last.op, "started");
	check_str_eq(log.last.uuid, FAKE_UUID_WEB1);
	check(log.last.received_usec > 0);
	json_object_put(o);

	log.refuse = true;
	o = handle(st, &h, req);
	check_str_eq(jstr(o, "data.verdict"), "refuse");
	check_str_eq(jstr(o, "data.reason"), "no reservation covers this migration");
	json_object_put(o);

	log.fail_with = -EAGAIN;
	o = handle(st, &h, req);
	check(!jbool(o, "ok"));
	check(strstr(jstr(o, "error") ?: "", "could not queue") != NULL);
	json_object_put(o);

	/* a bad hook request never reaches the handler */
	log.n = 0;
	o = handle(st, &h, "{\"cmd\":\"hook\",\"object\":\"qemu\",\"op\":\"started\"}");
	check(!jbool(o, "ok"));
	check_int_eq(log.n, 0);
	json_object_put(o);
}

struct metric_log {
	int n;
	struct api_metric_push last;
	int fail_with;
};

static int on_metric(const struct api_metric_push *p, void *userdata)
{
	struct metric_log *log = userdata;

	log->n++;
	log->last = *p;
	return log->fail_with;
}

static void test_metric_requests(struct state *st)
{
	struct metric_log log = { 0 };
	struct api_handlers h = { .metric = on_metric, .userdata = &log };
	struct api_handlers hook_only = { .hook = on_hook };
	char line[256];
	struct json_object *o;

	o = handle(st, &hook_only,
		   "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"tps\",\"value\":1}");
	check(!jbool(o, "ok"));
	check(strstr(jstr(o, "error") ?: "", "does not take metric values") != NULL);
	json_object_put(o);

	/* by name: resolved to the UUID; a known metric */
	o = handle(st, &h, "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"tps\",\"value\":12.5}");
	check(jbool(o, "ok"));
	check(jbool(o, "data.accepted"));
	check(!jbool(o, "data.new"));
	check_str_eq(jstr(o, "data.uuid"), FAKE_UUID_WEB1);
	check_int_eq(log.n, 1);
	check_str_eq(log.last.uuid, FAKE_UUID_WEB1);
	check_str_eq(log.last.name, "tps");
	check_double_near(log.last.value, 12.5, 0);
	check(log.last.received_usec > 0);
	json_object_put(o);

	/* by UUID in upper case; a new metric */
	o = handle(st, &h,
		   "{\"cmd\":\"metric\",\"vm\":\"11111111-2222-3333-4444-555555555555\","
		   "\"name\":\"queue\",\"value\":-1}");
	check(jbool(o, "ok"));
	check(jbool(o, "data.new"));
	check_int_eq(log.n, 2);
	json_object_put(o);

	/* unknown VM, full VM (a known metric of it still goes), queue full, refused */
	log.n = 0;
	o = handle(st, &h, "{\"cmd\":\"metric\",\"vm\":\"nope\",\"name\":\"tps\",\"value\":1}");
	check(!jbool(o, "ok"));
	check(strstr(jstr(o, "error") ?: "", "no VM named or with UUID \"nope\"") != NULL);
	json_object_put(o);
	o = handle(st, &h, "{\"cmd\":\"metric\",\"vm\":\"db-2\",\"name\":\"m8\",\"value\":1}");
	check(!jbool(o, "ok"));
	check(strstr(jstr(o, "error") ?: "", "already has 8 metrics") != NULL);
	json_object_put(o);
	check_int_eq(log.n, 0);
	o = handle(st, &h, "{\"cmd\":\"metric\",\"vm\":\"db-2\",\"name\":\"m3\",\"value\":1}");
	check(jbool(o, "ok"));
	check_int_eq(log.n, 1);
	json_object_put(o);
	log.fail_with = -ENOBUFS;
	o = handle(st, &h, "{\"cmd\":\"metric\",\"vm\":\"db-2\",\"name\":\"m3\",\"value\":1}");
	check(!jbool(o, "ok"));
	check(strstr(jstr(o, "error") ?: "", "queue is full") != NULL);
	json_object_put(o);
	log.fail_with = -EPERM;
	o = handle(st, &h, "{\"cmd\":\"metric\",\"vm\":\"db-2\",\"name\":\"m3\",\"value\":1}");
	check(!jbool(o, "ok"));
	check(strstr(jstr(o, "error") ?: "", "refused") != NULL);
	json_object_put(o);
	log.fail_with = 0;

	/* time_usec: the host's clock, give or take an hour */
	log.n = 0;
	snprintf(line, sizeof(line),
		 "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"tps\",\"value\":1,"
		 "\"time_usec\":%llu}",
		 (unsigned long long)(util_realtime_usec() - 60 * USEC_PER_SEC));
	o = handle(st, &h, line);
	check(jbool(o, "ok"));
	json_object_put(o);
	snprintf(line, sizeof(line),
		 "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"tps\",\"value\":1,"
		 "\"time_usec\":%llu}",
		 (unsigned long long)(util_realtime_usec() - 2 * 3600 * USEC_PER_SEC));
	o = handle(st, &h, line);
	check(!jbool(o, "ok"));
	check(strstr(jstr(o, "error") ?: "", "host's clock") != NULL);
	json_object_put(o);
	snprintf(line, sizeof(line),
		 "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"tps\",\"value\":1,"
		 "\"time_usec\":%llu}",
		 (unsigned long long)(util_realtime_usec() + 2 * 3600 * USEC_PER_SEC));
	o = handle(st, &h, line);
	check(!jbool(o, "ok"));
	json_object_put(o);
	check_int_eq(log.n, 1);

	/* a bad request never reaches the handler */
	o = handle(st, &h, "{\"cmd\":\"metric\",\"vm\":\"web1\",\"name\":\"Bad\",\"value\":1}");
	check(!jbool(o, "ok"));
	json_object_put(o);
	check_int_eq(log.n, 1);
}

/* ---- the server ------------------------------------------------------------ */

struct server_fixture {
	char dir[64];
	char path[128];
	struct state *st;
	struct hook_log log;
	struct api_handlers h;
	struct api_server *srv;
};

static int fixture_start(struct server_fixture *fx, struct state *st, uint64_t timeout_usec,
			 unsigned max_clients)
{
	struct api_server_config cfg = {
		.socket_path = fx->path,
		.client_timeout_usec = timeout_usec,
		.max_clients = max_clients,
	};

	fx->st = st;
	fx->h = (struct api_handlers){ .hook = on_hook, .userdata = &fx->log };
	return api_server_start(&cfg, st, &fx->h, &fx->srv);
}

static void test_server_basic(struct state *st)
{
	struct server_fixture fx = { .log = { .lock = PTHREAD_MUTEX_INITIALIZER } };
	struct api_server *second = NULL;
	struct api_server_config cfg2;
	struct json_object *o;
	struct stat sb;
	char *line = NULL;
	int fd;

	snprintf(fx.dir, sizeof(fx.dir), "/tmp/prescient-test-api-XXXXXX");
	if (!mkdtemp(fx.dir))
		test_skip("cannot create a temporary directory");
	/* the parent directory is created when missing */
	snprintf(fx.path, sizeof(fx.path), "%s/run/prescient.sock", fx.dir);
	check_int_eq(fixture_start(&fx, st, 0, 0), 0);
	check(stat(fx.path, &sb) == 0 && S_ISSOCK(sb.st_mode));
	check_int_eq(sb.st_mode & 0777, 0660);

	check_int_eq(tc_request(fx.path, "{\"cmd\":\"status\"}\n", &line), 0);
	o = json_tokener_parse(line ?: "");
	check(jbool(o, "ok"));
	check_str_eq(jstr(o, "data.hostname"), "testhost");
	json_object_put(o);
	free(line);

	/* several requests on one connection, pipelined, answered in order */
	fd = tc_connect(fx.path);
	check(fd >= 0);
	{
		const char *pipelined =
			"{\"cmd\":\"vms\"}\n{\"cmd\":\"vm\",\"vm\":\"db-2\"}\nnot json\n";

		check_int_eq(tc_send(fd, pipelined, strlen(pipelined)), 0);
	}
	check_int_eq(tc_read_line(fd, 2000, &line), 0);
	check(strstr(line ?: "", "\"vms\":[") != NULL);
	free(line);
	check_int_eq(tc_read_line(fd, 2000, &line), 0);
	check(strstr(line ?: "", "\"name\":\"db-2\"") != NULL);
	free(line);
	check_int_eq(tc_read_line(fd, 2000, &line), 0);
	check(strstr(line ?: "", "\"ok\":false") != NULL);
	free(line);
	/* the last request may end with the peer's shutdown instead of a newline */
	check_int_eq(tc_send(fd, "{\"cmd\":\"status\"}", 16), 0);
	shutdown(fd, SHUT_WR);
	check_int_eq(tc_read_line(fd, 2000, &line), 0);
	check(strstr(line ?: "", "\"ok\":true") != NULL);
	free(line);
	check_int_eq(tc_read_line(fd, 2000, &line), -EPIPE); /* then closed */
	close(fd);

	/* a hook event over the socket reaches the handler */
	check_int_eq(tc_request(fx.path,
				"{\"cmd\":\"hook\",\"object\":\"qemu\",\"op\":\"stopped\","
				"\"sub_op\":\"end\",\"vm\":\"web1\"}\n",
				&line),
		     0);
	check(strstr(line ?: "", "\"accepted\":true") != NULL);
	free(line);
	check_int_eq(fx.log.n, 1);
	check_str_eq(fx.log.last.op, "stopped");

	/* a second server on the same live socket is refused; the first keeps it */
	cfg2 = (struct api_server_config){ .socket_path = fx.path };
	check_int_eq(api_server_start(&cfg2, st, NULL, &second), -EADDRINUSE);
	check_int_eq(tc_request(fx.path, "{\"cmd\":\"status\"}\n", &line), 0);
	free(line);

	api_server_stop(fx.srv);
	/* stop removes the socket file */
	check(stat(fx.path, &sb) < 0 && errno == ENOENT);
	check(tc_connect(fx.path) < 0);

	/* a stale socket file (no listener) is replaced */
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_STREAM, 0);

		util_strlcpy(sa.sun_path, fx.path, sizeof(sa.sun_path));
		check(bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
		close(s);
	}
	check_int_eq(fixture_start(&fx, st, 0, 0), 0);
	check_int_eq(tc_request(fx.path, "{\"cmd\":\"status\"}\n", &line), 0);
	free(line);
	api_server_stop(fx.srv);

	/* anything that is not a socket is never deleted */
	fclose(fopen(fx.path, "w"));
	check_int_eq(fixture_start(&fx, st, 0, 0), -EEXIST);
	check(stat(fx.path, &sb) == 0 && S_ISREG(sb.st_mode));
	unlink(fx.path);

	/* relative and over-long paths */
	cfg2.socket_path = "relative.sock";
	check_int_eq(api_server_start(&cfg2, st, NULL, &second), -EINVAL);
	cfg2.socket_path =
		"/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock";
	check(api_server_start(&cfg2, st, NULL, &second) < 0);

	snprintf(fx.path, sizeof(fx.path), "rm -rf '%s'", fx.dir);
	check_int_eq(system(fx.path), 0);
}

struct worker {
	const char *path;
	int n_ok;
	int n_bad;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	static const char *const reqs[] = {
		"{\"cmd\":\"status\"}\n",
		"{\"cmd\":\"vms\"}\n",
		"{\"cmd\":\"vm\",\"vm\":\"web1\"}\n",
		"{\"cmd\":\"vm\",\"vm\":\"" FAKE_UUID_DB2 "\"}\n",
	};

	for (int i = 0; i < 40; i++) {
		char *line = NULL;

		if (tc_request(w->path, reqs[i % 4], &line) == 0 && strstr(line, "\"ok\":true"))
			w->n_ok++;
		else
			w->n_bad++;
		free(line);
	}
	return NULL;
}

static void test_server_hostile(struct state *st)
{
	struct server_fixture fx = { .log = { .lock = PTHREAD_MUTEX_INITIALIZER } };
	struct worker workers[12];
	pthread_t threads[12];
	int fd, slow;
	uint64_t t0;
	char *line = NULL, *big;
	size_t big_len = API_REQUEST_MAX_BYTES + 4096;

	snprintf(fx.dir, sizeof(fx.dir), "/tmp/prescient-test-api-XXXXXX");
	if (!mkdtemp(fx.dir))
		test_skip("cannot create a temporary directory");
	snprintf(fx.path, sizeof(fx.path), "%s/p.sock", fx.dir);
	/*
	 * Short timeout so slow clients are dropped quickly, yet long enough for
	 * a loaded 2-core test machine to finish a normal exchange; 16 clients at most.
	 */
	check_int_eq(fixture_start(&fx, st, 1500 * 1000, 16), 0);

	/* a silent client and one that dribbles a request never finish... */
	slow = tc_connect(fx.path);
	check(slow >= 0);
	check_int_eq(tc_send(slow, "{\"cmd\":", 7), 0);
	fd = tc_connect(fx.path);
	check(fd >= 0);

	/* ...while concurrent clients are served */
	for (int i = 0; i < 12; i++) {
		workers[i] = (struct worker){ .path = fx.path };
		pthread_create(&threads[i], NULL, worker_run, &workers[i]);
	}
	for (int i = 0; i < 12; i++) {
		pthread_join(threads[i], NULL);
		check_int_eq(workers[i].n_bad, 0);
		check_int_eq(workers[i].n_ok, 40);
	}

	/* the slow ones are told and dropped once the timeout passes */
	t0 = util_now_usec();
	check_int_eq(tc_read_line(slow, 3000, &line), 0);
	check(strstr(line ?: "", "timeout") != NULL);
	free(line);
	check(util_now_usec() - t0 < 3000000);
	check_int_eq(tc_read_line(slow, 3000, &line), -EPIPE);
	close(slow);
	check_int_eq(tc_read_line(fd, 3000, &line), 0);
	free(line);
	close(fd);

	/* a line longer than the limit: error reply, connection closed, server fine */
	big = malloc(big_len);
	memset(big, 'x', big_len);
	fd = tc_connect(fx.path);
	(void)tc_send(fd, big, big_len); /* may fail once the server closes */
	check_int_eq(tc_read_line(fd, 3000, &line), 0);
	check(strstr(line ?: "", "longer than 65536 bytes") != NULL);
	free(line);
	close(fd);
	free(big);
	check_int_eq(tc_request(fx.path, "{\"cmd\":\"status\"}\n", &line), 0);
	check(strstr(line ?: "", "\"ok\":true") != NULL);
	free(line);

	/* binary garbage with NULs gets an error, not a crash */
	fd = tc_connect(fx.path);
	check_int_eq(tc_send(fd, "\0\1\2\xff{\n", 6), 0);
	check_int_eq(tc_read_line(fd, 3000, &line), 0);
	check(strstr(line ?: "", "\"ok\":false") != NULL);
	free(line);
	close(fd);

	/* more clients than allowed: the extra one is told to retry */
	{
		int fds[16];

		for (int i = 0; i < 16; i++)
			fds[i] = tc_connect(fx.path);
		usleep(100 * 1000); /* let the server accept them all */
		fd = tc_connect(fx.path);
		check_int_eq(tc_read_line(fd, 3000, &line), 0);
		check(strstr(line ?: "", "too many clients") != NULL);
		free(line);
		close(fd);
		for (int i = 0; i < 16; i++)
			close(fds[i]);
	}
	usleep(100 * 1000);
	check_int_eq(tc_request(fx.path, "{\"cmd\":\"vms\"}\n", &line), 0);
	check(strstr(line ?: "", "\"ok\":true") != NULL);
	free(line);

	/* a client that never reads its (large) answers does not stall others */
	fd = tc_connect(fx.path);
	for (int i = 0; i < 200; i++)
		if (tc_send(fd, "{\"cmd\":\"vm\",\"vm\":\"web1\"}\n", 26) < 0)
			break;
	t0 = util_now_usec();
	check_int_eq(tc_request(fx.path, "{\"cmd\":\"status\"}\n", &line), 0);
	free(line);
	check(util_now_usec() - t0 < 1000000); /* well before that client's 1.5 s timeout */
	close(fd);

	api_server_stop(fx.srv);
	snprintf(fx.path, sizeof(fx.path), "rm -rf '%s'", fx.dir);
	check_int_eq(system(fx.path), 0);
}

/* ---- the reservation ledger ------------------------------------------------ */

#define T0_USEC 1800000000000000ULL /* a realtime clock the tests move by hand */

static uint64_t fake_clock_usec = T0_USEC;
static int n_ledger_changed;

static uint64_t fake_realtime(void *userdata)
{
	(void)userdata;
	return __atomic_load_n(&fake_clock_usec, __ATOMIC_SEQ_CST);
}

static void on_ledger_changed(void *userdata)
{
	(void)userdata;
	__atomic_add_fetch(&n_ledger_changed, 1, __ATOMIC_SEQ_CST);
}

static struct json_object *handlef(struct state *st, const struct api_handlers *h, const char *fmt,
				   ...) __attribute__((format(printf, 3, 4)));

static struct json_object *handlef(struct state *st, const struct api_handlers *h, const char *fmt,
				   ...)
{
	char line[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return handle(st, h, line);
}

static bool has_text(struct json_object *o, const char *path, const char *needle)
{
	const char *s = jstr(o, path);

	if (s && strstr(s, needle))
		return true;
	fprintf(stderr, "%s is \"%s\", expected to contain \"%s\"\n", path, s ?: "(null)", needle);
	return false;
}

static size_t n_leases(struct ledger *l)
{
	_cleanup_free_ struct lease *leases = NULL;
	size_t n = 0;

	check_int_eq(ledger_leases_get(l, &leases, &n, NULL), 0);
	return n;
}

/* The request parser for the ledger's commands: good lines and the errors of bad ones. */
static const struct parse_case ledger_parse_cases[] = {
	{ "{\"cmd\":\"reservations\"}", true, NULL },
	{ "{\"cmd\":\"reservations\",\"all\":true}", false, "unknown key \"all\"" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"mig-1\",\"kind\":\"migration\",\"class\":"
	  "\"guaranteed\",\"generation\":1,\"items\":[{\"dim\":\"cpu\",\"mean\":2}]}",
	  true, NULL },
	{ "{\"cmd\":\"reserve\",\"holder\":\"" FAKE_UUID_WEB1 "\",\"class\":\"burstable\","
	  "\"generation\":3,\"start_usec\":1800000000000000,\"end_usec\":1800000100000000,"
	  "\"pinned\":\"2-3\",\"items\":[{\"dim\":\"cpu\",\"mean\":1.5,\"sd\":0.2,\"upper\":2,"
	  "\"loading\":0.3},{\"dim\":\"mem\",\"mean\":1e9}]}",
	  true, NULL },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"best-effort\","
	  "\"generation\":1,\"pinned\":\"4\"}",
	  true, NULL },
	{ "{\"cmd\":\"reserve\",\"kind\":\"migration\",\"class\":\"guaranteed\",\"generation\":1,"
	  "\"items\":[{\"dim\":\"cpu\",\"mean\":2}]}",
	  false, "needs \"holder\"" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"mig 1\",\"kind\":\"migration\",\"class\":"
	  "\"guaranteed\",\"generation\":1,\"items\":[{\"dim\":\"cpu\",\"mean\":2}]}",
	  false, "1 to 63 characters" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"../../etc\",\"kind\":\"migration\",\"class\":"
	  "\"guaranteed\",\"generation\":1,\"items\":[{\"dim\":\"cpu\",\"mean\":2}]}",
	  false, "1 to 63 characters" },
	{ "{\"cmd\":\"reserve\",\"holder\":"
	  "\"a234567890123456789012345678901234567890123456789012345678901234\","
	  "\"kind\":\"migration\",\"class\":\"guaranteed\",\"generation\":1,\"items\":[{\"dim\":"
	  "\"cpu\",\"mean\":2}]}",
	  false, "1 to 63 characters" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"mig-1\",\"class\":\"guaranteed\",\"generation\":1,"
	  "\"items\":[{\"dim\":\"cpu\",\"mean\":2}]}",
	  false, "is not a UUID" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"vmm\",\"class\":\"guaranteed\","
	  "\"generation\":1,\"items\":[{\"dim\":\"cpu\",\"mean\":2}]}",
	  false, "\"kind\" must be" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"generation\":1,"
	  "\"items\":[{\"dim\":\"cpu\",\"mean\":2}]}",
	  false, "needs \"class\"" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"gold\","
	  "\"generation\":1,\"items\":[{\"dim\":\"cpu\",\"mean\":2}]}",
	  false, "\"class\" must be" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"items\":[{\"dim\":\"cpu\",\"mean\":2}]}",
	  false, "needs \"generation\"" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"generation\":\"1\",\"items\":[{\"dim\":\"cpu\",\"mean\":2}]}",
	  false, "\"generation\" must be an integer" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"generation\":-1,\"items\":[{\"dim\":\"cpu\",\"mean\":2}]}",
	  false, "non-negative integer" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"generation\":18446744073709551615,\"items\":[{\"dim\":\"cpu\",\"mean\":2}]}",
	  false, "non-negative integer" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"generation\":1e3,\"items\":[{\"dim\":\"cpu\",\"mean\":2}]}",
	  false, "must be an integer" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"generation\":1,\"items\":[{\"dim\":\"cpu\",\"mean\":NaN}]}",
	  false, "\"mean\" must be a finite number" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"generation\":1,\"items\":[{\"dim\":\"cpu\",\"mean\":\"NaN\"}]}",
	  false, "\"mean\" must be a number" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"generation\":1,\"items\":[{\"dim\":\"cpu\",\"mean\":1e300}]}",
	  false, "\"mean\" must be a finite number from 0" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"generation\":1,\"items\":[{\"dim\":\"cpu\",\"mean\":-1}]}",
	  false, "\"mean\" must be a finite number from 0" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"generation\":1,\"items\":[{\"dim\":\"cpu\",\"mean\":2,\"upper\":1}]}",
	  false, "must not be below \"mean\"" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"generation\":1,\"items\":[{\"dim\":\"cpu\",\"mean\":2,\"loading\":2}]}",
	  false, "\"loading\" must be a finite number from -1 to 1" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"generation\":1,\"items\":[{\"dim\":\"cpu\",\"mean\":2,\"cores\":2}]}",
	  false, "unknown key \"cores\" in items[0]" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"generation\":1,\"items\":[{\"dim\":\"cpu\",\"mean\":2},{\"dim\":\"cpu\",\"mean\":1}]}",
	  false, "names \"cpu\" twice" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"generation\":1,\"items\":{\"dim\":\"cpu\",\"mean\":2}}",
	  false, "\"items\" must be an array" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"generation\":1,\"items\":[2]}",
	  false, "items[0] must be an object" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"generation\":1,\"items\":[{\"mean\":2}]}",
	  false, "needs \"dim\"" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"generation\":1,\"items\":[]}",
	  false, "reserves nothing" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"generation\":1,\"pinned\":\"3-1\",\"items\":[{\"dim\":\"cpu\",\"mean\":2}]}",
	  false, "\"pinned\" must be a CPU list" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"generation\":1,\"pinned\":\"5000\",\"items\":[{\"dim\":\"cpu\",\"mean\":2}]}",
	  false, "\"pinned\" must be a CPU list" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"generation\":1,\"start_usec\":5,\"end_usec\":5,\"items\":[{\"dim\":\"cpu\","
	  "\"mean\":2}]}",
	  false, "\"end_usec\" must be after" },
	{ "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":\"guaranteed\","
	  "\"generation\":1,\"ttl\":5,\"items\":[{\"dim\":\"cpu\",\"mean\":2}]}",
	  false, "unknown key \"ttl\" for \"reserve\"" },
	{ "{\"cmd\":\"confirm\",\"id\":3}", true, NULL },
	{ "{\"cmd\":\"activate\",\"id\":3}", true, NULL },
	{ "{\"cmd\":\"release\",\"id\":3}", true, NULL },
	{ "{\"cmd\":\"confirm\"}", false, "needs \"id\"" },
	{ "{\"cmd\":\"confirm\",\"id\":0}", false, "\"id\" must be a lease id" },
	{ "{\"cmd\":\"release\",\"id\":\"3\"}", false, "\"id\" must be an integer" },
	{ "{\"cmd\":\"release\",\"id\":3.5}", false, "\"id\" must be an integer" },
	{ "{\"cmd\":\"release\",\"id\":3,\"holder\":\"x\"}", false, "unknown key \"holder\"" },
	{ "{\"cmd\":\"explain\",\"vm\":\"web1\"}", true, NULL },
	{ "{\"cmd\":\"explain\",\"id\":2}", true, NULL },
	{ "{\"cmd\":\"explain\",\"request\":{\"class\":\"burstable\",\"items\":[{\"dim\":\"cpu\","
	  "\"mean\":2}]}}",
	  true, NULL },
	{ "{\"cmd\":\"explain\"}", false, "takes one of \"vm\"" },
	{ "{\"cmd\":\"explain\",\"vm\":\"web1\",\"id\":2}", false, "takes one of" },
	{ "{\"cmd\":\"explain\",\"request\":[1]}", false, "\"request\" must be an object" },
	{ "{\"cmd\":\"explain\",\"request\":{\"class\":\"burstable\",\"cmd\":\"reserve\","
	  "\"items\":[{\"dim\":\"cpu\",\"mean\":2}]}}",
	  false, "unknown key \"cmd\" in \"request\"" },
};

static void test_ledger_parse(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(ledger_parse_cases); i++) {
		const struct parse_case *c = &ledger_parse_cases[i];
		struct api_request req;
		char err[API_ERROR_MAX] = "";
		int r = api_request_parse(c->line, strlen(c->line), &req, err, sizeof(err));

		if (c->ok != (r == 0) || (!c->ok && c->err_has && !strstr(err, c->err_has))) {
			fprintf(stderr, "ledger parse case %zu: %s\n  -> %d \"%s\"\n", i, c->line,
				r, err);
			test_failures++;
		}
	}
	/* a VM's UUID is matched in lower case, as libvirt and the snapshot write it */
	{
		const char *line = "{\"cmd\":\"reserve\",\"holder\":\"AAAAAAAA-BBBB-CCCC-DDDD-"
				   "EEEEEEEEEEEE\",\"class\":\"guaranteed\",\"generation\":1,"
				   "\"items\":[{\"dim\":\"cpu\",\"mean\":2}]}";
		struct api_request req;
		char err[API_ERROR_MAX];

		check_int_eq(api_request_parse(line, strlen(line), &req, err, sizeof(err)), 0);
		check_str_eq(req.lease.holder, FAKE_UUID_DB2);
		check_int_eq(req.lease.kind, LEASE_HOLDER_VM);
		check_double_near(req.lease.items[0].demand.upper, 2, 0); /* defaults to mean */
		check_double_near(req.lease.items[0].demand.sd, 0, 0);
	}
}

#define RESERVE_CPU(holder, cls, gen, cores)                                                       \
	"{\"cmd\":\"reserve\",\"holder\":\"" holder "\",\"kind\":\"migration\",\"class\":\"" cls   \
	"\",\"generation\":" gen ",\"items\":[{\"dim\":\"cpu\",\"mean\":" cores "}]}"

static void test_ledger_requests(struct state *st)
{
	struct ledger *l = NULL;
	struct api_handlers h = {
		.realtime_usec = fake_realtime,
		.ledger_changed = on_ledger_changed,
	};
	struct json_object *o;
	uint64_t gen;
	char line[1024];

	/* without a ledger: a clear answer, code "unavailable" */
	o = handle(st, &h, "{\"cmd\":\"reservations\"}");
	check(!jbool(o, "ok"));
	check_str_eq(jstr(o, "code"), "unavailable");
	json_object_put(o);

	check_int_eq(fake_ledger_new(&l), 0);
	if (!l)
		return;
	h.ledger = l;
	fake_clock_usec = T0_USEC;
	n_ledger_changed = 0;

	o = handle(st, &h, "{\"cmd\":\"reservations\"}");
	check(jbool(o, "ok"));
	check_int_eq((int)jnum(o, "data.generation"), 1);
	check_int_eq(json_object_array_length(jget(o, "data.leases")), 0);
	check_double_near(jnum(o, "data.usage.cpu.capacity"), 6, 0);
	check_str_eq(jstr(o, "data.usage.cpu.unit"), "cores");
	check_double_near(jnum(o, "data.usage.mem.capacity"), 14.0 * 1024 * 1024 * 1024, 0);
	check_double_near(jnum(o, "data.usage.net:eth0.bound"), 0.01, 0);
	check_str_eq(jstr(o, "data.pinned"), "");
	json_object_put(o);

	/* an offer at the current generation is granted, with the numbers */
	o = handle(st, &h,
		   "{\"cmd\":\"reserve\",\"holder\":\"mig-1\",\"kind\":\"migration\",\"class\":"
		   "\"guaranteed\",\"generation\":1,\"end_usec\":1800003600000000,\"items\":[{"
		   "\"dim\":\"cpu\",\"mean\":2,\"upper\":2.5},{\"dim\":\"mem\",\"mean\":4294967296}"
		   "]}");
	check(jbool(o, "ok"));
	check_int_eq((int)jnum(o, "data.id"), 1);
	check_int_eq((int)jnum(o, "data.generation"), 2);
	check_str_eq(jstr(o, "data.state"), "offered");
	check_str_eq(jstr(o, "data.explanation.verdict"), "admit");
	check_str_eq(jstr(o, "data.explanation.dims.0.dim"), "cpu");
	check_double_near(jnum(o, "data.explanation.dims.0.request"), 2.5, 1e-9);
	check_double_near(jnum(o, "data.explanation.dims.0.capacity"), 6, 1e-9);
	json_object_put(o);
	check_int_eq(ledger_generation(l), 2);
	check_int_eq(n_ledger_changed, 1);

	o = handle(st, &h, "{\"cmd\":\"reservations\"}");
	check_int_eq((int)jnum(o, "data.generation"), 2);
	check_int_eq((int)jnum(o, "data.live"), 1);
	check_int_eq((int)jnum(o, "data.leases.0.id"), 1);
	check_str_eq(jstr(o, "data.leases.0.holder"), "mig-1");
	check(jhas(o, "data.leases.0.holder_name") && !jget(o, "data.leases.0.holder_name"));
	check_str_eq(jstr(o, "data.leases.0.kind"), "migration");
	check_str_eq(jstr(o, "data.leases.0.state"), "offered");
	check_str_eq(jstr(o, "data.leases.0.class"), "guaranteed");
	check_int_eq((long long)jnum(o, "data.leases.0.start_usec"), (long long)T0_USEC);
	check_int_eq((long long)jnum(o, "data.leases.0.end_usec"), 1800003600000000LL);
	check_int_eq((long long)jnum(o, "data.leases.0.offered_usec"), (long long)T0_USEC);
	check_str_eq(jstr(o, "data.leases.0.items.0.dim"), "cpu");
	check_double_near(jnum(o, "data.leases.0.items.0.held"), 2.5, 1e-9);
	check_double_near(jnum(o, "data.leases.0.items.0.mean"), 2, 1e-9);
	check_double_near(jnum(o, "data.leases.0.items.1.held"), 4294967296.0, 0);
	check_double_near(jnum(o, "data.usage.cpu.held"), 2.5, 1e-9);
	check_double_near(jnum(o, "data.usage.cpu.free"), 3.5, 1e-9);
	json_object_put(o);

	/* a stale generation is refused with code "stale" and the current one */
	o = handle(st, &h, RESERVE_CPU("mig-2", "guaranteed", "1", "1"));
	check(!jbool(o, "ok"));
	check_str_eq(jstr(o, "code"), "stale");
	check(has_text(o, "error",
		       "stale generation 1: the ledger is at 2; re-read with "
		       "{\"cmd\":\"reservations\"} and retry"));
	check_int_eq((int)jnum(o, "generation"), 2);
	json_object_put(o);
	check_int_eq(ledger_generation(l), 2);
	check_int_eq(n_leases(l), 1);

	/* more than is free: refused with the explanation, nothing booked */
	o = handle(st, &h, RESERVE_CPU("mig-2", "guaranteed", "2", "4"));
	check(!jbool(o, "ok"));
	check_str_eq(jstr(o, "code"), "refused");
	check(has_text(o, "error", "refused: "));
	check_str_eq(jstr(o, "explanation.verdict"), "refuse");
	check_str_eq(jstr(o, "explanation.dims.0.verdict"), "refuse");
	check_double_near(jnum(o, "explanation.dims.0.request"), 4, 1e-9);
	json_object_put(o);
	check_int_eq(ledger_generation(l), 2);
	check_int_eq(n_leases(l), 1);

	/* an unknown dimension names the ones there are */
	o = handle(st, &h,
		   "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":"
		   "\"guaranteed\",\"generation\":2,\"items\":[{\"dim\":\"gpu\",\"mean\":1}]}");
	check_str_eq(jstr(o, "code"), "invalid");
	check(has_text(o, "error",
		       "unknown dimension \"gpu\": this host's pool has \"cpu\", "
		       "\"mem\", \"net:eth0\""));
	json_object_put(o);
	/* times beyond a year ahead */
	o = handle(st, &h,
		   "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":"
		   "\"guaranteed\",\"generation\":2,\"start_usec\":9000000000000000,\"items\":[{"
		   "\"dim\":\"cpu\",\"mean\":1}]}");
	check_str_eq(jstr(o, "code"), "invalid");
	check(has_text(o, "error", "within 366 days"));
	json_object_put(o);
	/* an end before the (default: now) start */
	o = handle(st, &h,
		   "{\"cmd\":\"reserve\",\"holder\":\"m\",\"kind\":\"migration\",\"class\":"
		   "\"guaranteed\",\"generation\":2,\"end_usec\":1700000000000000,\"items\":[{"
		   "\"dim\":\"cpu\",\"mean\":1}]}");
	check_str_eq(jstr(o, "code"), "invalid");
	check(has_text(o, "error", "after the start"));
	json_object_put(o);
	check_int_eq(ledger_generation(l), 2);

	/* web1's lease (kind vm): explain VM shows the grant and the decision now */
	o = handle(
		st, &h,
		"{\"cmd\":\"reserve\",\"holder\":\"" FAKE_UUID_WEB1 "\",\"class\":\"burstable\","
		"\"generation\":2,\"items\":[{\"dim\":\"cpu\",\"mean\":1,\"sd\":0.2,\"upper\":1.4},"
		"{\"dim\":\"net:eth0\",\"mean\":1000,\"sd\":100}]}");
	check(jbool(o, "ok"));
	check_int_eq((int)jnum(o, "data.id"), 2);
	json_object_put(o);
	o = handle(st, &h, "{\"cmd\":\"explain\",\"vm\":\"web1\"}");
	check(jbool(o, "ok"));
	check_int_eq((int)jnum(o, "data.lease.id"), 2);
	check_str_eq(jstr(o, "data.lease.holder"), FAKE_UUID_WEB1);
	check_str_eq(jstr(o, "data.lease.holder_name"), "web1");
	check_str_eq(jstr(o, "data.lease.kind"), "vm");
	check_str_eq(jstr(o, "data.granted.verdict"), "admit");
	check_str_eq(jstr(o, "data.granted.class"), "burstable");
	check_str_eq(jstr(o, "data.granted.dims.0.dim"), "cpu");
	check_double_near(jnum(o, "data.granted.dims.0.capacity"), 6, 1e-9);
	check_double_near(jnum(o, "data.granted.dims.0.held"), 2.5, 1e-9); /* mig-1's */
	check_double_near(jnum(o, "data.granted.dims.0.demand_mean"), 1, 1e-9);
	check_double_near(jnum(o, "data.granted.dims.0.demand_sd"), 0.2, 1e-9);
	check_double_near(jnum(o, "data.granted.dims.0.bound"), 0.05, 1e-9);
	check(jnum(o, "data.granted.dims.0.probability") >= 0 &&
	      jnum(o, "data.granted.dims.0.probability") <= 0.05);
	check_str_eq(jstr(o, "data.now.verdict"), "admit");
	/* decided again against the others: web1's own demand is not counted twice */
	check_double_near(jnum(o, "data.now.dims.0.demand_mean"), 1, 1e-9);
	check_double_near(jnum(o, "data.now.dims.0.held"), 2.5, 1e-9);
	json_object_put(o);
	o = handle(st, &h, "{\"cmd\":\"explain\",\"vm\":\"" FAKE_UUID_WEB1 "\"}");
	check_int_eq((int)jnum(o, "data.lease.id"), 2);
	json_object_put(o);
	o = handle(st, &h, "{\"cmd\":\"explain\",\"id\":1}");
	check_str_eq(jstr(o, "data.lease.holder"), "mig-1");
	check_str_eq(jstr(o, "data.granted.verdict"), "admit");
	json_object_put(o);
	o = handle(st, &h, "{\"cmd\":\"explain\",\"vm\":\"db-2\"}");
	check_str_eq(jstr(o, "code"), "not_found");
	check(has_text(o, "error", "holds no live lease"));
	json_object_put(o);
	o = handle(st, &h, "{\"cmd\":\"explain\",\"vm\":\"nope\"}");
	check_str_eq(jstr(o, "code"), "not_found");
	check(has_text(o, "error", "no VM named or with UUID \"nope\""));
	json_object_put(o);
	o = handle(st, &h, "{\"cmd\":\"explain\",\"id\":99}");
	check_str_eq(jstr(o, "code"), "not_found");
	json_object_put(o);

	/* a hypothetical request: decided now, nothing changes */
	gen = ledger_generation(l);
	o = handle(st, &h,
		   "{\"cmd\":\"explain\",\"request\":{\"class\":\"guaranteed\",\"items\":[{\"dim\":"
		   "\"cpu\",\"mean\":2}]}}");
	check(jbool(o, "ok"));
	check_int_eq((long long)jnum(o, "data.generation"), (long long)gen);
	check_str_eq(jstr(o, "data.explanation.verdict"), "admit");
	check_double_near(jnum(o, "data.explanation.dims.0.request"), 2, 1e-9);
	json_object_put(o);
	o = handle(st, &h,
		   "{\"cmd\":\"explain\",\"request\":{\"class\":\"guaranteed\",\"items\":[{\"dim\":"
		   "\"cpu\",\"mean\":30}]}}");
	check(jbool(o, "ok"));
	check_str_eq(jstr(o, "data.explanation.verdict"), "refuse");
	check(has_text(o, "data.explanation.dims.0.reason", ""));
	json_object_put(o);
	check_int_eq(ledger_generation(l), gen);
	check_int_eq(n_leases(l), 2);

	/* the pool shows the ledger: generation, per dimension who holds what until when */
	o = handle(st, &h, "{\"cmd\":\"pool\"}");
	check(jbool(o, "ok"));
	check_double_near(jnum(o, "data.cpu.capacity_cores"), 6, 0); /* the snapshot's part */
	check_int_eq((long long)jnum(o, "data.ledger.generation"), (long long)gen);
	check_str_eq(jstr(o, "data.ledger.dims.0.dim"), "cpu");
	check_double_near(jnum(o, "data.ledger.dims.0.held"), 2.5, 1e-9);
	check_double_near(jnum(o, "data.ledger.dims.0.burst_mean"), 1, 1e-9);
	check_int_eq(json_object_array_length(jget(o, "data.ledger.dims.0.leases")), 2);
	check_str_eq(jstr(o, "data.ledger.dims.0.leases.0.holder"), "mig-1");
	check_int_eq((long long)jnum(o, "data.ledger.dims.0.leases.0.end_usec"),
		     1800003600000000LL);
	check_str_eq(jstr(o, "data.ledger.dims.0.leases.1.holder_name"), "web1");
	check_str_eq(jstr(o, "data.ledger.dims.1.dim"), "mem");
	check_int_eq(json_object_array_length(jget(o, "data.ledger.dims.1.leases")), 1);
	json_object_put(o);
	/* without a ledger the pool is as before */
	o = handle(st, NULL, "{\"cmd\":\"pool\"}");
	check(jbool(o, "ok") && !jhas(o, "data.ledger"));
	json_object_put(o);

	/* the life of a lease: confirm, activate, release (twice) */
	n_ledger_changed = 0;
	o = handle(st, &h, "{\"cmd\":\"activate\",\"id\":1}");
	check_str_eq(jstr(o, "code"), "state");
	check(has_text(o, "error", "confirm it first"));
	json_object_put(o);
	o = handle(st, &h, "{\"cmd\":\"confirm\",\"id\":1}");
	check(jbool(o, "ok"));
	check_str_eq(jstr(o, "data.state"), "confirmed");
	json_object_put(o);
	check_int_eq(n_ledger_changed, 1);
	o = handle(st, &h, "{\"cmd\":\"confirm\",\"id\":1}"); /* harmless twice */
	check(jbool(o, "ok"));
	json_object_put(o);
	check_int_eq(n_ledger_changed, 1);
	o = handle(st, &h, "{\"cmd\":\"activate\",\"id\":1}");
	check_str_eq(jstr(o, "data.state"), "active");
	json_object_put(o);
	o = handle(st, &h, "{\"cmd\":\"release\",\"id\":1}");
	check(jbool(o, "ok"));
	check_str_eq(jstr(o, "data.state"), "released");
	json_object_put(o);
	gen = ledger_generation(l);
	o = handle(st, &h, "{\"cmd\":\"release\",\"id\":1}");
	check(jbool(o, "ok"));
	check_str_eq(jstr(o, "data.state"), "released");
	json_object_put(o);
	check_int_eq(ledger_generation(l), gen); /* idempotent: nothing changed */
	o = handle(st, &h, "{\"cmd\":\"confirm\",\"id\":1}");
	check_str_eq(jstr(o, "code"), "state");
	check(has_text(o, "error", "was released"));
	json_object_put(o);
	o = handle(st, &h, "{\"cmd\":\"release\",\"id\":77}");
	check_str_eq(jstr(o, "code"), "not_found");
	check(has_text(o, "error", "no lease 77"));
	json_object_put(o);
	o = handle(st, &h, "{\"cmd\":\"reservations\"}");
	check_str_eq(jstr(o, "data.leases.0.state"), "released");
	check_double_near(jnum(o, "data.usage.cpu.held"), 0, 1e-9);
	json_object_put(o);

	/* an offer not confirmed within the TTL expires and says so */
	snprintf(line, sizeof(line), RESERVE_CPU("mig-3", "guaranteed", "%llu", "1"),
		 (unsigned long long)ledger_generation(l));
	o = handle(st, &h, line);
	check(jbool(o, "ok"));
	check_int_eq((int)jnum(o, "data.id"), 3);
	json_object_put(o);
	__atomic_add_fetch(&fake_clock_usec, 31 * USEC_PER_SEC, __ATOMIC_SEQ_CST);
	o = handle(st, &h, "{\"cmd\":\"confirm\",\"id\":3}");
	check_str_eq(jstr(o, "code"), "expired");
	check(has_text(o, "error", "reserve again"));
	json_object_put(o);

	/* pinned cores: held whole on cpu, and not twice */
	snprintf(
		line, sizeof(line),
		"{\"cmd\":\"reserve\",\"holder\":\"mig-4\",\"kind\":\"migration\",\"class\":"
		"\"guaranteed\",\"generation\":%llu,\"pinned\":\"4-5\",\"items\":[{\"dim\":\"cpu\","
		"\"mean\":2}]}",
		(unsigned long long)ledger_generation(l));
	o = handle(st, &h, line);
	check(jbool(o, "ok"));
	json_object_put(o);
	o = handle(st, &h, "{\"cmd\":\"reservations\"}");
	check_str_eq(jstr(o, "data.pinned"), "4-5");
	check_str_eq(jstr(o, "data.leases.3.pinned"), "4-5");
	check_double_near(jnum(o, "data.leases.3.items.0.held"), 2, 1e-9);
	json_object_put(o);
	o = handlef(st, &h,
		    "{\"cmd\":\"reserve\",\"holder\":\"mig-5\",\"kind\":\"migration\",\"class\":"
		    "\"guaranteed\",\"generation\":%llu,\"pinned\":\"5\",\"items\":[{\"dim\":"
		    "\"cpu\",\"mean\":1}]}",
		    (unsigned long long)ledger_generation(l));
	check_str_eq(jstr(o, "code"), "refused");
	check(has_text(o, "error", "already pinned"));
	json_object_put(o);

	/* hostile requests: an error, and the ledger exactly as it was */
	gen = ledger_generation(l);
	{
		static const char *const hostile[] = {
			"{\"cmd\":\"reserve\",\"holder\":\"x\",\"kind\":\"migration\",\"class\":"
			"\"guaranteed\",\"generation\":\"%llu\",\"items\":[{\"dim\":\"cpu\","
			"\"mean\":1}]}",
			"{\"cmd\":\"reserve\",\"holder\":\"x\",\"kind\":\"migration\",\"class\":"
			"\"guaranteed\",\"generation\":%llu,\"items\":[{\"dim\":\"cpu\",\"mean\":"
			"1e999}]}",
			"{\"cmd\":\"reserve\",\"holder\":\"x\",\"kind\":\"migration\",\"class\":"
			"\"guaranteed\",\"generation\":%llu,\"items\":[{\"dim\":\"cpu\",\"mean\":"
			"\"NaN\"}]}",
			"{\"cmd\":\"reserve\",\"holder\":\"x\",\"kind\":\"migration\",\"class\":"
			"\"guaranteed\",\"generation\":%llu,\"items\":[{\"dim\":\"cpu\",\"mean\":1,"
			"\"sd\":Infinity}]}",
			"{\"cmd\":\"reserve\",\"holder\":\"x\",\"kind\":\"migration\",\"class\":"
			"\"guaranteed\",\"generation\":%llu,\"evil\":1,\"items\":[{\"dim\":\"cpu\","
			"\"mean\":1}]}",
			"{\"cmd\":\"reserve\",\"holder\":\"x;rm "
			"-rf\",\"kind\":\"migration\",\"class\":"
			"\"guaranteed\",\"generation\":%llu,\"items\":[{\"dim\":\"cpu\",\"mean\":1}"
			"]}",
			"{\"cmd\":\"reserve\",\"holder\":\"\",\"kind\":\"migration\",\"class\":"
			"\"guaranteed\",\"generation\":%llu,\"items\":[{\"dim\":\"cpu\",\"mean\":1}"
			"]}",
			"{\"cmd\":\"reserve\",\"holder\":\"x\",\"kind\":\"migration\",\"class\":"
			"\"guaranteed\",\"generation\":%llu,\"items\":[{\"dim\":\"cpu\\u0000\","
			"\"mean\":1}]}",
			"{\"cmd\":\"reserve\",\"holder\":\"x\",\"kind\":\"migration\",\"class\":"
			"\"guaranteed\",\"generation\":%llu,\"items\":[{\"dim\":\"mem\",\"mean\":"
			"99999999999999999999999}]}",
			"{\"cmd\":\"reserve\",\"holder\":\"x\",\"kind\":\"migration\",\"class\":"
			"\"guaranteed\",\"generation\":%llu,\"start_usec\":-5,\"items\":[{\"dim\":"
			"\"cpu\",\"mean\":1}]}",
			"{\"cmd\":\"reserve\",\"holder\":\"x\",\"kind\":\"migration\",\"class\":"
			"\"guaranteed\",\"generation\":%llu,\"items\":[{\"dim\":\"cpu\",\"mean\":1}"
			","
			"{\"dim\":\"a\",\"mean\":1},{\"dim\":\"b\",\"mean\":1},{\"dim\":\"c\","
			"\"mean\":1},"
			"{\"dim\":\"d\",\"mean\":1},{\"dim\":\"e\",\"mean\":1},{\"dim\":\"f\","
			"\"mean\":1},"
			"{\"dim\":\"g\",\"mean\":1},{\"dim\":\"h\",\"mean\":1}]}",
			"{\"cmd\":\"confirm\",\"id\":-%llu}",
			"{\"cmd\":\"release\",\"id\":[%llu]}",
			"{\"cmd\":\"release\",\"id\":%llu,\"id\":null}",
		};

		for (size_t i = 0; i < ARRAY_SIZE(hostile); i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
			o = handlef(st, &h, hostile[i], (unsigned long long)gen);
#pragma GCC diagnostic pop
			if (jbool(o, "ok") || !jstr(o, "code")) {
				fprintf(stderr, "hostile request %zu was not refused\n", i);
				test_failures++;
			}
			json_object_put(o);
		}
	}
	check_int_eq(ledger_generation(l), gen);
	check_int_eq(n_leases(l), 4);

	ledger_free(l);
}

/* Clients racing for the last capacity through the socket: exactly one wins. */
struct racer {
	const char *path;
	pthread_barrier_t *start;
	int won, refused, stale_retries, errors;
};

static void *racer_run(void *arg)
{
	struct racer *rc = arg;

	pthread_barrier_wait(rc->start);
	for (int attempt = 0; attempt < 50; attempt++) {
		struct json_object *o;
		char req[512], *line = NULL;
		long long gen;

		if (tc_request(rc->path, "{\"cmd\":\"reservations\"}\n", &line) < 0) {
			rc->errors++;
			return NULL;
		}
		o = json_tokener_parse(line);
		free(line);
		gen = (long long)jnum(o, "data.generation");
		json_object_put(o);
		snprintf(req, sizeof(req), RESERVE_CPU("racer", "guaranteed", "%lld", "4") "\n",
			 gen);
		if (tc_request(rc->path, req, &line) < 0) {
			rc->errors++;
			return NULL;
		}
		o = json_tokener_parse(line);
		free(line);
		if (jbool(o, "ok")) {
			rc->won++;
		} else if (jstr(o, "code") && !strcmp(jstr(o, "code"), "stale")) {
			rc->stale_retries++;
			json_object_put(o);
			continue;
		} else if (jstr(o, "code") && !strcmp(jstr(o, "code"), "refused")) {
			rc->refused++;
		} else {
			rc->errors++;
		}
		json_object_put(o);
		return NULL;
	}
	return NULL;
}

static void test_ledger_server(struct state *st)
{
	struct server_fixture fx = { .log = { .lock = PTHREAD_MUTEX_INITIALIZER } };
	struct api_server_config cfg = { 0 };
	struct racer racers[6];
	pthread_t threads[6];
	pthread_barrier_t start;
	struct ledger *l = NULL;
	int won = 0, refused = 0, errors = 0;
	char *line = NULL;

	snprintf(fx.dir, sizeof(fx.dir), "/tmp/prescient-test-api-XXXXXX");
	if (!mkdtemp(fx.dir))
		test_skip("cannot create a temporary directory");
	snprintf(fx.path, sizeof(fx.path), "%s/p.sock", fx.dir);
	check_int_eq(fake_ledger_new(&l), 0);
	if (!l)
		return;
	fake_clock_usec = T0_USEC;
	fx.h = (struct api_handlers){ .ledger = l, .realtime_usec = fake_realtime };
	cfg.socket_path = fx.path;
	check_int_eq(api_server_start(&cfg, st, &fx.h, &fx.srv), 0);

	/* 6 cores: 4 for each racer, so only one fits */
	pthread_barrier_init(&start, NULL, ARRAY_SIZE(racers));
	for (size_t i = 0; i < ARRAY_SIZE(racers); i++) {
		racers[i] = (struct racer){ .path = fx.path, .start = &start };
		pthread_create(&threads[i], NULL, racer_run, &racers[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(racers); i++) {
		pthread_join(threads[i], NULL);
		won += racers[i].won;
		refused += racers[i].refused;
		errors += racers[i].errors;
	}
	pthread_barrier_destroy(&start);
	check_int_eq(won, 1);
	check_int_eq(refused, (int)ARRAY_SIZE(racers) - 1);
	check_int_eq(errors, 0);
	check_int_eq(n_leases(l), 1);

	/* through the socket: the stale answer is one line with its code */
	check_int_eq(tc_request(fx.path, RESERVE_CPU("late", "guaranteed", "1", "1") "\n", &line),
		     0);
	check(strstr(line ?: "", "\"code\":\"stale\"") != NULL);
	free(line);

	api_server_stop(fx.srv);
	ledger_free(l);
	snprintf(fx.path, sizeof(fx.path), "rm -rf '%s'", fx.dir);
	check_int_eq(system(fx.path), 0);
}

int main(void)
{
	struct state *st;

	state_thread_register();
	test_parse_table();
	test_parse_fields();
	check_int_eq(fake_state_new(&st), 0);
	test_responses(st);
	test_pool_response(st);
	test_no_state();
	test_hook_requests(st);
	test_metric_requests(st);
	test_server_basic(st);
	test_server_hostile(st);
	test_ledger_parse();
	test_ledger_requests(st);
	test_ledger_server(st);
	state_free(st);
	state_thread_unregister();
	return test_result();
}
