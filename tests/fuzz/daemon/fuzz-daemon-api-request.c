// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes the API request path end to end: api_request_handle() over a
 * hand-built snapshot, with a hook handler. Every input must yield exactly
 * one line of valid JSON with "ok" true or false, a hook event may only
 * reach the handler for a well-formed hook request, and a metric value only
 * with a valid name, a finite bounded value and a VM of the snapshot. The
 * ledger commands run against a fresh real ledger per input (two leases,
 * generation FUZZ_GENERATION, a fixed clock): a refused request must leave
 * its generation unchanged.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api.h"
#include "fake-state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW_USEC 1800000000000000ULL

static uint64_t fuzz_clock(void *userdata)
{
	return FUZZ_NOW_USEC;
}

static int hook_calls;

static int on_hook(const struct api_hook_event *ev, struct api_hook_reply *reply, void *userdata)
{
	if (!ev->vm[0] || !ev->op[0] || !ev->object[0])
		abort();
	hook_calls++;
	return 0;
}

static int on_metric(const struct api_metric_push *p, void *userdata)
{
	if (!state_metric_name_valid(p->name) || !isfinite(p->value) ||
	    fabs(p->value) > API_METRIC_VALUE_MAX ||
	    (strcmp(p->uuid, FAKE_UUID_WEB1) && strcmp(p->uuid, FAKE_UUID_DB2)))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct state *st;
	struct api_handlers h = {
		.hook = on_hook,
		.metric = on_metric,
		.realtime_usec = fuzz_clock,
	};
	struct json_object *o, *ok;
	uint64_t generation;
	char *resp = NULL;

	if (!st) {
		state_thread_register();
		if (fake_state_new(&st) < 0)
			abort();
	}
	if (fake_ledger_new(&h.ledger) < 0 ||
	    fake_ledger_fill(h.ledger, FUZZ_NOW_USEC, &generation) < 0)
		abort();
	if (api_request_handle(st, &h, (const char *)data, size, &resp) < 0)
		abort();
	if (strchr(resp, '\n'))
		abort();
	o = json_tokener_parse(resp);
	if (!o || !json_object_object_get_ex(o, "ok", &ok) ||
	    !json_object_is_type(ok, json_type_boolean))
		abort();
	if (!json_object_get_boolean(ok) && !json_object_object_get_ex(o, "error", NULL))
		abort();
	if (!json_object_get_boolean(ok) && ledger_generation(h.ledger) != generation)
		abort();
	ledger_free(h.ledger);
	json_object_put(o);
	free(resp);
	return 0;
}
