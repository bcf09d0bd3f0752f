// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * prescientctl against the real API server serving a hand-built snapshot:
 * tables (values, units, alignment), --json (the daemon's data object as is),
 * errors and exit codes (0 ok, 1 error, 2 usage), an absent daemon, a daemon
 * that never answers (--timeout), application metrics shown and pushed, the
 * host's resource pool, the reservation ledger (tables, explanations, the
 * lease protocol and its errors) against a real ledger.
 *
 * Usage: test-ctl PRESCIENTCTL          run the tests
 *        test-ctl --serve SOCKET        serve the fake snapshot until killed
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "api.h"
#include "fake-state.h"
#include "run-program.h"
#include "tap.h"
#include "util.h"

static const char *ctl;
static char sock[128];

/* What the server's metric handler was given (it runs on the server thread). */
static pthread_mutex_t pushed_lock = PTHREAD_MUTEX_INITIALIZER;
static struct api_metric_push pushed;
static int n_pushed;

static int on_metric(const struct api_metric_push *p, void *userdata)
{
	(void)userdata;
	pthread_mutex_lock(&pushed_lock);
	pushed = *p;
	n_pushed++;
	pthread_mutex_unlock(&pushed_lock);
	return 0;
}

static struct api_handlers handlers = { .metric = on_metric };
static uint64_t ledger_generation_filled;

static struct run_result run(const char *const *env, int n, ...)
{
	char *argv[16];
	struct run_result r;
	va_list ap;

	argv[0] = (char *)ctl;
	va_start(ap, n);
	for (int i = 0; i < n && i < 14; i++)
		argv[i + 1] = va_arg(ap, char *);
	va_end(ap);
	argv[n + 1] = NULL;
	if (run_program(argv, env, NULL, 0, 20, &r) < 0) {
		fprintf(stderr, "cannot run %s\n", ctl);
		exit(1);
	}
	return r;
}

#define check_has(hay, needle)                                                                     \
	do {                                                                                       \
		if (!strstr((hay), (needle))) {                                                    \
			fprintf(stderr, "%s:%d: output lacks \"%s\":\n%s\n", __FILE__, __LINE__,   \
				(needle), (hay));                                                  \
			test_failures++;                                                           \
		}                                                                                  \
	} while (0)

/* The line of text that contains needle (copied into buf), or "" */
static const char *line_with(const char *text, const char *needle, char *buf, size_t size)
{
	const char *p = strstr(text, needle), *b, *e;

	buf[0] = '\0';
	if (!p)
		return buf;
	for (b = p; b > text && b[-1] != '\n'; b--)
		;
	e = strchr(p, '\n');
	if (!e)
		e = p + strlen(p);
	snprintf(buf, size, "%.*s", (int)(e - b), b);
	return buf;
}

/* Column where the word ends in line (right-aligned numbers end under their header). */
static long word_end(const char *line, const char *word)
{
	const char *p = strstr(line, word);

	return p ? (long)(p - line + (long)strlen(word)) : -1;
}

static void test_status(void)
{
	struct run_result r = run(NULL, 3, "--socket", sock, "status");

	check_int_eq(r.status, 0);
	check_has(r.out, "prescientd 0.1.0-test on testhost, up 6");
	check_has(r.out, "dry-run");
	check_has(r.out, "test:///default, connected (1 reconnects)");
	check_has(r.out, "every 1.0 s from cgroup-v2, libvirt, netlink");
	check_has(r.out, "BPF:         not loaded: disabled in the configuration");
	check_has(r.out, "step 60 s");
	check_has(r.out, "VMs:         2");
	check_int_eq(r.err_len, 0);
	run_result_free(&r);
}

static void test_vms_table(void)
{
	struct run_result r = run(NULL, 3, "-s", sock, "vms");
	char head[512], units[512], web[512], db[512];

	check_int_eq(r.status, 0);
	line_with(r.out, "NAME", head, sizeof(head));
	line_with(r.out, "KiB/s", units, sizeof(units));
	line_with(r.out, "web1", web, sizeof(web));
	line_with(r.out, "db-2", db, sizeof(db));
	check(strncmp(head, "NAME", 4) == 0);
	check_has(units, "MiB");
	check_has(units, "cores");
	/* web1: 4 vCPUs, 2048 MiB, 1.50 cores used, 2.25 allocated, upper 2.10, 1024 MiB RSS,
	 * 2048.0 KiB/s read, 4.0 KiB/s written, 512.0 KiB/s received, 1.0 KiB/s sent */
	check_has(web, "running");
	check_has(web, " 1.50 ");
	check_has(web, " 2.25 ");
	check_has(web, " 2.10 ");
	check_has(web, " 2048 ");
	check_has(web, " 1024 ");
	check_has(web, " 2048.0 ");
	check_has(web, " 512.0 ");
	check_has(web, FAKE_UUID_WEB1);
	/* db-2 was never measured: dashes, not zeros */
	check_has(db, "paused");
	check_has(db, " - ");
	check(strstr(db, "0.00") == NULL);
	/* right-aligned: numbers end where their header ends */
	check_int_eq(word_end(web, "1.50"), word_end(head, " CPU"));
	check_int_eq(word_end(web, "2.25"), word_end(head, "ALLOC"));
	check_int_eq(word_end(units, "KiB/s"), word_end(head, "DISK-R"));
	/* rows are in the daemon's order (by name) */
	check(strstr(r.out, "db-2") < strstr(r.out, "web1"));
	run_result_free(&r);
}

static void test_vm_detail(void)
{
	struct run_result r = run(NULL, 4, "--socket", sock, "vm", "web1");
	char row[512];

	check_int_eq(r.status, 0);
	check_has(r.out, "VM web1 (" FAKE_UUID_WEB1 ")");
	check_has(r.out, "running, QEMU pid 4242");
	check_has(r.out, "4 online of 8");
	check_has(r.out, "4300 4301 4302 4303");
	check_has(r.out, "2048 MiB of 4096 MiB");
	check_has(r.out, "vnet3");
	check_has(r.out, "web1.scope");
	check_has(r.out, "2.25 cores (target 2.25), forecast upper bound 2.10 cores");
	check_has(r.out, "30 s ago; 2 raises, 1 lowers");
	check_has(r.out, "raised: forecast upper 95% 2.10 cores within 5 steps");
	check_has(r.out, "Recent samples (newest last, 3 of 3)");
	check_has(r.out, "cpu (cores): model holt, step 60 s");
	check_has(r.out, "coverage 80%: 82%, 95%: 96%");
	check_has(r.out, "mem");
	check_has(r.out, "no forecast yet");
	/* step 2 is 2 min ahead: mean 1.60, 80% 1.40..1.80, 95% 1.20..2.00 */
	line_with(r.out, "2 min", row, sizeof(row));
	check_has(row, "1.60");
	check_has(row, "1.40");
	check_has(row, "1.80");
	check_has(row, "1.20");
	check_has(row, "2.00");
	/* the VM's model, and its application metric with its forecast */
	check_has(r.out, "Forecasts (model holt, set for this VM)");
	check_has(r.out, "Application metrics");
	check_has(r.out, "tps: last value 1250.00, 2."); /* s ago: the fixture ages */
	check_has(r.out, " s ago, 42 values pushed");
	check_has(r.out, "tps (value): model holt, step 60 s");
	check_has(r.out, "coverage 80%: -%, 95%: -%");
	line_with(r.out, "1450.00", row, sizeof(row));
	check_has(row, "2 min");
	check_has(row, "1350.00");
	check_has(row, "1400.00");
	check_has(row, "1300.00");
	check_has(row, "1500.00");
	run_result_free(&r);

	/* by UUID, through $PRESCIENT_SOCKET */
	{
		char envs[200];
		const char *env[] = { envs, NULL };

		snprintf(envs, sizeof(envs), "PRESCIENT_SOCKET=%s", sock);
		r = run(env, 2, "vm", FAKE_UUID_DB2);
		check_int_eq(r.status, 0);
		check_has(r.out, "VM db-2");
		check_has(r.out, "not managed");
		check_has(r.out, "changed:    never");
		check_has(r.out, "none yet");
		check_has(r.out, strerror(EPERM));
		check_has(r.out, "Forecasts (model auto)\n");
		check_has(r.out, "m0: last value -");
		check_has(r.out, "m7: last value -");
		run_result_free(&r);
	}
}

static void test_json(void)
{
	struct run_result r = run(NULL, 4, "--socket", sock, "--json", "vms");
	struct json_object *o, *vms;

	check_int_eq(r.status, 0);
	o = json_tokener_parse(r.out);
	check(o != NULL);
	check(json_object_object_get_ex(o, "vms", &vms)); /* the data object itself */
	check(!json_object_object_get_ex(o, "ok", NULL));
	check_int_eq(json_object_array_length(vms), 2);
	json_object_put(o);
	run_result_free(&r);

	r = run(NULL, 5, "--socket", sock, "-j", "vm", "db-2");
	check_int_eq(r.status, 0);
	o = json_tokener_parse(r.out);
	check(o && json_object_object_get_ex(o, "name", &vms));
	check_str_eq(vms ? json_object_get_string(vms) : NULL, "db-2");
	json_object_put(o);
	run_result_free(&r);

	r = run(NULL, 4, "--socket", sock, "--json", "status");
	check_int_eq(r.status, 0);
	check_has(r.out, "\"hostname\":\"testhost\"");
	run_result_free(&r);
}

static void test_pool(void)
{
	struct run_result r = run(NULL, 3, "--socket", sock, "pool");
	char head[512], row[512];

	check_int_eq(r.status, 0);
	check_int_eq(r.err_len, 0);
	check_has(r.out, "Host resource pool (read 5.");
	/* capacity, reserved, free per resource, with units */
	line_with(r.out, "RESOURCE", head, sizeof(head));
	line_with(r.out, "  cpu ", row, sizeof(row));
	check_has(row, " 6.00 ");
	check_has(row, " 2.25 ");
	check_has(row, " 3.75 ");
	check_has(row, "cores");
	check_has(row, "machine.slice CPUs 2-7 (its cpuset); online 0-7 (8)");
	check_int_eq(word_end(row, "6.00"), word_end(head, "CAPACITY"));
	check_int_eq(word_end(row, "3.75"), word_end(head, "FREE"));
	line_with(r.out, "  memory ", row, sizeof(row));
	check_has(row, " 16384 ");
	check_has(row, " 3072 ");
	check_has(row, " 13312 ");
	check_has(row, "12288 MiB available");
	/* NUMA nodes and hugepages per size and node */
	check_has(r.out, "NUMA nodes");
	line_with(r.out, "4-7", row, sizeof(row));
	check_has(row, " 1 ");
	check_has(row, " 4 ");
	line_with(r.out, "1 GiB", row, sizeof(row));
	check_has(row, " 0 ");
	check_has(row, " 2 ");
	check_has(row, " 2048 ");
	check_has(row, " 1024");
	line_with(r.out, "  500 ", row, sizeof(row));
	check_has(row, "2 MiB");
	check_has(row, " 512 ");
	check_has(row, " 1000");
	/* who holds what */
	line_with(r.out, FAKE_UUID_WEB1, row, sizeof(row));
	check_has(row, "web1");
	check_has(row, " 2.25 ");
	check_has(row, " 2048 ");
	line_with(r.out, FAKE_UUID_DB2, row, sizeof(row));
	check_has(row, " - ");
	check_has(row, " 1024 ");
	check(strstr(r.out, "unknown:") == NULL);
	run_result_free(&r);

	r = run(NULL, 4, "--socket", sock, "--json", "pool");
	check_int_eq(r.status, 0);
	check_has(r.out, "\"free_cores\":3.75");
	check_has(r.out, "\"free_bytes\":13958643712");
	check_has(r.out, "\"machine_slice\":\"2-7\"");
	run_result_free(&r);

	r = run(NULL, 4, "--socket", sock, "pool", "extra");
	check_int_eq(r.status, 2);
	check_has(r.err, "'pool' takes no argument");
	run_result_free(&r);
}

static void test_push(void)
{
	struct run_result r;

	/* options before the command: a negative value is a value */
	r = run(NULL, 6, "--socket", sock, "push", "web1", "queue.len", "-3.5");
	check_int_eq(r.status, 0);
	check_int_eq(r.out_len, 0);
	check_int_eq(r.err_len, 0);
	pthread_mutex_lock(&pushed_lock);
	check_int_eq(n_pushed, 1);
	check_str_eq(pushed.uuid, FAKE_UUID_WEB1);
	check_str_eq(pushed.name, "queue.len");
	check_double_near(pushed.value, -3.5, 0);
	pthread_mutex_unlock(&pushed_lock);

	r = (run_result_free(&r),
	     run(NULL, 7, "--socket", sock, "--json", "push", FAKE_UUID_DB2, "m3", "1e3"));
	check_int_eq(r.status, 0);
	check_has(r.out, "\"accepted\":true");
	check_has(r.out, "\"new\":false");
	run_result_free(&r);

	/* refused by the daemon: exit 1 with its reason */
	r = run(NULL, 6, "--socket", sock, "push", "nope", "tps", "1");
	check_int_eq(r.status, 1);
	check_has(r.err, "no VM named or with UUID \"nope\"");
	run_result_free(&r);
	r = run(NULL, 6, "--socket", sock, "push", "db-2", "m8", "1");
	check_int_eq(r.status, 1);
	check_has(r.err, "already has 8 metrics");
	run_result_free(&r);

	/* refused before asking: exit 2 */
	r = run(NULL, 6, "--socket", sock, "push", "web1", "Bad/Name", "1");
	check_int_eq(r.status, 2);
	check_has(r.err, "invalid metric name 'Bad/Name'");
	run_result_free(&r);
	r = run(NULL, 6, "--socket", sock, "push", "web1", "tps", "nan");
	check_int_eq(r.status, 2);
	check_has(r.err, "invalid value 'nan'");
	run_result_free(&r);
	r = run(NULL, 6, "--socket", sock, "push", "web1", "tps", "12x");
	check_int_eq(r.status, 2);
	run_result_free(&r);
	r = run(NULL, 5, "--socket", sock, "push", "web1", "tps");
	check_int_eq(r.status, 2);
	check_has(r.err, "'push' takes a VM, a metric name and a value");
	run_result_free(&r);
	pthread_mutex_lock(&pushed_lock);
	check_int_eq(n_pushed, 2);
	pthread_mutex_unlock(&pushed_lock);
}

static void test_errors(void)
{
	struct run_result r;

	r = run(NULL, 4, "--socket", sock, "vm", "nope");
	check_int_eq(r.status, 1);
	check_has(r.err, "no VM named or with UUID \"nope\"");
	check_int_eq(r.out_len, 0);
	run_result_free(&r);

	r = run(NULL, 3, "--socket", "/nonexistent/prescient.sock", "status");
	check_int_eq(r.status, 1);
	check_has(r.err, "cannot connect to /nonexistent/prescient.sock");
	check_has(r.err, "is prescientd running?");
	check_has(r.err, "systemctl start prescientd");
	run_result_free(&r);

	/* usage errors: exit 2 and a pointer to --help */
	r = run(NULL, 0);
	check_int_eq(r.status, 2);
	check_has(r.err, "--help");
	run_result_free(&r);
	r = run(NULL, 1, "frobnicate");
	check_int_eq(r.status, 2);
	check_has(r.err, "unknown command 'frobnicate'");
	run_result_free(&r);
	r = run(NULL, 1, "vm");
	check_int_eq(r.status, 2);
	check_has(r.err, "needs a VM name or UUID");
	run_result_free(&r);
	r = run(NULL, 2, "status", "extra");
	check_int_eq(r.status, 2);
	run_result_free(&r);
	r = run(NULL, 3, "--timeout", "soon", "status");
	check_int_eq(r.status, 2);
	check_has(r.err, "invalid --timeout 'soon'");
	run_result_free(&r);
	r = run(NULL, 1, "--bogus");
	check_int_eq(r.status, 2);
	run_result_free(&r);

	r = run(NULL, 1, "--help");
	check_int_eq(r.status, 0);
	check_has(r.out, "Examples:");
	check_has(r.out, "vm NAME|UUID");
	check_has(r.out, "push VM NAME VALUE");
	check_has(r.out, "  pool  ");
	check_has(r.out, "hugepages per size");
	check_has(r.out, "[vm NAME] model");
	check_has(r.out, "KiB/s");
	run_result_free(&r);
}

/* prescientctl with stdin text (for --request -). */
static struct run_result run_stdin(const char *input, int n, ...)
{
	char *argv[16];
	struct run_result r;
	va_list ap;

	argv[0] = (char *)ctl;
	va_start(ap, n);
	for (int i = 0; i < n && i < 14; i++)
		argv[i + 1] = va_arg(ap, char *);
	va_end(ap);
	argv[n + 1] = NULL;
	if (run_program(argv, NULL, input, strlen(input), 20, &r) < 0) {
		fprintf(stderr, "cannot run %s\n", ctl);
		exit(1);
	}
	return r;
}

/* The ledger filled by fake_ledger_fill(): web1's active lease 1, mig-7's confirmed lease 2. */
static void test_reservations(void)
{
	struct run_result r = run(NULL, 3, "--socket", sock, "reservations");
	char head[512], units[512], row[512], gen[64];
	struct json_object *o, *v;

	check_int_eq(r.status, 0);
	check_int_eq(r.err_len, 0);
	snprintf(gen, sizeof(gen), "Ledger generation %llu: 2 live lease(s), pinned cores 6-7",
		 (unsigned long long)ledger_generation_filled);
	check_has(r.out, gen);
	/* usage per dimension, with units */
	line_with(r.out, "CAPACITY", head, sizeof(head));
	line_with(r.out, "  cpu ", row, sizeof(row));
	check_has(row, "cores");
	check_has(row, " 6.00 ");
	check_has(row, " 2.00 "); /* mig-7's pinned cores, held whole */
	check_has(row, " 1.50 "); /* web1's burstable mean */
	check_has(row, " 0.30 ");
	check_has(row, "5.00%");
	check_int_eq(word_end(row, "6.00"), word_end(head, "CAPACITY"));
	line_with(r.out, "  mem ", row, sizeof(row));
	check_has(row, "MiB");
	check_has(row, " 14336 ");
	check_has(row, " 6144 ");
	check_has(row, " 8192");
	line_with(r.out, "hugepages-2048kB:node0", row, sizeof(row));
	check_has(row, "pages");
	check_has(row, " 512 ");
	/* one row per lease: ID HOLDER KIND STATE CLASS, held per dimension, PINNED, UNTIL */
	line_with(r.out, "  ID ", head, sizeof(head));
	check_has(head, "HOLDER");
	check_has(head, "STATE");
	check_has(head, "CLASS");
	check_has(head, "cpu");
	check_has(head, "mem");
	check_has(head, "UNTIL");
	check(strstr(head, "net:eth0") == NULL); /* no lease holds it: no column */
	line_with(r.out, "cores   MiB", units, sizeof(units));
	check(units[0] != '\0');
	line_with(r.out, " web1 ", row, sizeof(row));
	check_has(row, " vm ");
	check_has(row, " active ");
	check_has(row, " burstable ");
	check_has(row, " 0.00 "); /* burstable CPU is not held whole */
	check_has(row, " 2048 ");
	check_has(row, " open");
	check_int_eq(word_end(row, "2048"), word_end(head, "mem"));
	line_with(r.out, " mig-7 ", row, sizeof(row));
	check_has(row, " migration ");
	check_has(row, " confirmed ");
	check_has(row, " guaranteed ");
	check_has(row, " 4096 ");
	check_has(row, " 6-7 ");
	check_has(row, " in 1"); /* two hours from now, as 120 min or 1h 59min */
	run_result_free(&r);

	/* --json passes the daemon's data through */
	r = run(NULL, 4, "--socket", sock, "--json", "reservations");
	check_int_eq(r.status, 0);
	o = json_tokener_parse(r.out);
	check(o && json_object_object_get_ex(o, "generation", &v));
	check_int_eq(v ? json_object_get_int64(v) : 0, (long long)ledger_generation_filled);
	check(o && json_object_object_get_ex(o, "leases", &v) && json_object_array_length(v) == 2);
	check(o && !json_object_object_get_ex(o, "ok", NULL));
	json_object_put(o);
	run_result_free(&r);

	/* the pool shows the ledger too */
	r = run(NULL, 3, "--socket", sock, "pool");
	check_int_eq(r.status, 0);
	check_has(r.out, "Reservation ledger (generation");
	line_with(r.out, "  mem      2  mig-7", row, sizeof(row));
	check_has(row, "4096");
	check_has(row, "confirmed");
	run_result_free(&r);
}

static void test_explain(void)
{
	struct run_result r = run(NULL, 5, "--socket", sock, "reservations", "explain", "web1");
	char row[512];

	check_int_eq(r.status, 0);
	check_has(r.out, "Lease 1 of web1 (" FAKE_UUID_WEB1 "): vm, burstable, active, open");
	check_has(r.out, "As granted: admit (burstable");
	check_has(r.out, "Decided again now, against every other lease: admit");
	check_has(r.out, "REQUEST  CAPACITY  HELD  BURST-MEAN  BURST-SD  P(EXCEED)  BOUND");
	line_with(r.out, "  cpu ", row, sizeof(row));
	check_has(row, " 6.00 ");
	check_has(row, " 1.50 ");
	check_has(row, " 0.30 ");
	check_has(row, "5.00%");
	check_has(row, "admit");
	check_has(row, "within bound 0.05");
	run_result_free(&r);

	r = run(NULL, 6, "--socket", sock, "reservations", "explain", "--id", "2");
	check_int_eq(r.status, 0);
	check_has(r.out, "Lease 2 of mig-7: migration, guaranteed, confirmed, in 1");
	check_has(r.out, "2 pinned core(s)");
	run_result_free(&r);

	/* a hypothetical request from stdin (a saved reserve request works as is) */
	r = run_stdin("{\"cmd\":\"reserve\",\"class\":\"burstable\",\"items\":[{\"dim\":\"cpu\","
		      "\"mean\":4,\"sd\":0.5}]}",
		      6, "--socket", sock, "reservations", "explain", "--request", "-");
	check_int_eq(r.status, 0);
	check_has(r.out, "Decided now (nothing was reserved): refuse (burstable");
	check_has(r.out, "exceed capacity 6");
	run_result_free(&r);
	r = run_stdin("not json", 6, "--socket", sock, "reservations", "explain", "--request", "-");
	check_int_eq(r.status, 1);
	check_has(r.err, "not a JSON object");
	run_result_free(&r);

	r = run(NULL, 5, "--socket", sock, "reservations", "explain", "db-2");
	check_int_eq(r.status, 1);
	check_has(r.err, "holds no live lease");
	run_result_free(&r);
	r = run(NULL, 4, "--socket", sock, "reservations", "explain");
	check_int_eq(r.status, 2);
	check_has(r.err, "takes one of");
	run_result_free(&r);
}

static void test_reserve(void)
{
	struct run_result r;
	char want[128];
	struct json_object *o, *v;
	uint64_t gen = ledger_generation(handlers.ledger);

	/* the generation is read first and said; --net finds the one uplink */
	r = run(NULL, 14, "--socket", sock, "reserve", "--holder", "mig-9", "--migration", "--cpu",
		"1:1.5", "--memory", "1G", "--net", "500M", "--for", "10m");
	check_int_eq(r.status, 0);
	snprintf(want, sizeof(want), "Using the ledger's generation %llu (read just now).",
		 (unsigned long long)gen);
	check_has(r.out, want);
	check_has(r.out, "Offered lease 3 to mig-9");
	check_has(r.out, "prescientctl confirm 3");
	check_has(r.out, "Decision: admit (guaranteed");
	check_has(r.out, "net:eth0");
	check_has(r.out, "500000");
	run_result_free(&r);
	{
		struct lease ls;

		check_int_eq(ledger_lease_get(handlers.ledger, 3, &ls), 0);
		check_str_eq(ls.holder, "mig-9");
		check_int_eq(ls.holder_kind, LEASE_HOLDER_MIGRATION);
		check_int_eq(ls.admit.n_items, 3);
		check_double_near(ls.admit.items[0].demand.upper, 1.5, 1e-9);
		check_double_near(ls.admit.items[0].demand.sd, 0.5 / 1.6448536269514722, 1e-6);
		check_double_near(ls.admit.items[1].demand.mean, 1024.0 * 1024 * 1024, 0);
		check_double_near(ls.admit.items[2].demand.mean, 500000, 0);
		check(ls.end_usec > ls.start_usec + 599 * USEC_PER_SEC &&
		      ls.end_usec < ls.start_usec + 601 * USEC_PER_SEC);
	}

	/* a VM by name: held by its UUID */
	r = run(NULL, 9, "--socket", sock, "reserve", "--holder", "db-2", "--class", "burstable",
		"--cpu", "0.5");
	check_int_eq(r.status, 0);
	check_has(r.out, "Offered lease 4 to db-2 (" FAKE_UUID_DB2 ")");
	run_result_free(&r);
	r = run(NULL, 7, "--socket", sock, "reserve", "--holder", "nosuchvm", "--cpu", "1");
	check_int_eq(r.status, 1);
	check_has(r.err, "add --migration");
	run_result_free(&r);

	/* too much: refused with the numbers on stderr, exit 1 */
	gen = ledger_generation(handlers.ledger);
	r = run(NULL, 8, "--socket", sock, "reserve", "--holder", "big", "--migration", "--cpu",
		"5");
	check_int_eq(r.status, 1);
	check_has(r.err, "refused: cpu:");
	check_has(r.err, "Decision: refuse");
	check_has(r.err, "VERDICT");
	run_result_free(&r);
	check_int_eq(ledger_generation(handlers.ledger), gen);

	/* a stale --generation is not retried; --json gives the reply with its code */
	r = run(NULL, 11, "--socket", sock, "--json", "reserve", "--holder", "m", "--migration",
		"--cpu", "1", "--generation", "1");
	check_int_eq(r.status, 1);
	check_has(r.err, "stale generation 1: the ledger is at");
	o = json_tokener_parse(r.out);
	check(o && json_object_object_get_ex(o, "code", &v) &&
	      !strcmp(json_object_get_string(v), "stale"));
	json_object_put(o);
	run_result_free(&r);
	check_int_eq(ledger_generation(handlers.ledger), gen);

	/* confirm, activate, release twice */
	r = run(NULL, 4, "--socket", sock, "confirm", "3");
	check_int_eq(r.status, 0);
	check_has(r.out, "Lease 3 is confirmed (ledger generation");
	run_result_free(&r);
	r = run(NULL, 4, "--socket", sock, "activate", "3");
	check_has(r.out, "Lease 3 is active");
	run_result_free(&r);
	r = run(NULL, 4, "--socket", sock, "release", "3");
	check_int_eq(r.status, 0);
	check_has(r.out, "Lease 3 is released");
	run_result_free(&r);
	r = run(NULL, 5, "--socket", sock, "--json", "release", "3");
	check_int_eq(r.status, 0);
	check_has(r.out, "\"state\":\"released\"");
	run_result_free(&r);
	r = run(NULL, 4, "--socket", sock, "activate", "4");
	check_int_eq(r.status, 1);
	check_has(r.err, "confirm it first");
	run_result_free(&r);
	r = run(NULL, 4, "--socket", sock, "release", "99");
	check_int_eq(r.status, 1);
	check_has(r.err, "no lease 99");
	run_result_free(&r);

	/* usage errors: exit 2, before asking the daemon anything */
	gen = ledger_generation(handlers.ledger);
	r = run(NULL, 5, "--socket", sock, "reserve", "--cpu", "1");
	check_int_eq(r.status, 2);
	check_has(r.err, "needs --holder");
	run_result_free(&r);
	r = run(NULL, 6, "--socket", sock, "reserve", "--holder", "m", "--migration");
	check_int_eq(r.status, 2);
	check_has(r.err, "reserves nothing");
	run_result_free(&r);
	r = run(NULL, 8, "--socket", sock, "reserve", "--holder", "m", "--migration", "--cpu",
		"2:1");
	check_int_eq(r.status, 2);
	check_has(r.err, "invalid --cpu '2:1'");
	run_result_free(&r);
	r = run(NULL, 8, "--socket", sock, "reserve", "--holder", "m", "--migration", "--memory",
		"lots");
	check_int_eq(r.status, 2);
	check_has(r.err, "invalid --memory 'lots'");
	run_result_free(&r);
	r = run(NULL, 8, "--socket", sock, "reserve", "--holder", "m", "--migration", "--class",
		"gold");
	check_int_eq(r.status, 2);
	check_has(r.err, "invalid --class 'gold'");
	run_result_free(&r);
	r = run(NULL, 8, "--socket", sock, "reserve", "--holder", "m", "--migration", "--dim", "x");
	check_int_eq(r.status, 2);
	check_has(r.err, "NAME=MEAN[:UPPER]");
	run_result_free(&r);
	r = run(NULL, 4, "--socket", sock, "confirm", "x");
	check_int_eq(r.status, 2);
	check_has(r.err, "invalid lease id 'x'");
	run_result_free(&r);
	r = run(NULL, 3, "--socket", sock, "release");
	check_int_eq(r.status, 2);
	check_has(r.err, "takes one lease id");
	run_result_free(&r);
	r = run(NULL, 4, "--socket", sock, "reservations", "all");
	check_int_eq(r.status, 2);
	run_result_free(&r);
	/* the daemon's own checks: an unknown dimension, a bad holder */
	r = run(NULL, 8, "--socket", sock, "reserve", "--holder", "m", "--migration", "--dim",
		"gpu=1");
	check_int_eq(r.status, 1);
	check_has(r.err, "unknown dimension \"gpu\": this host's pool has \"cpu\"");
	run_result_free(&r);
	r = run(NULL, 8, "--socket", sock, "reserve", "--holder", "a b", "--migration", "--cpu",
		"1");
	check_int_eq(r.status, 1);
	check_has(r.err, "\"holder\" must be 1 to 63 characters");
	run_result_free(&r);
	check_int_eq(ledger_generation(handlers.ledger), gen);

	r = run(NULL, 1, "--help");
	check_has(r.out, "reservations explain VM|--id ID");
	check_has(r.out, "reserve --holder ID [--migration]");
	check_has(r.out, "reserve --holder mig-42 --migration --cpu 2:3 --memory 4G --for 30m");
	check_has(r.out, "release ID");
	run_result_free(&r);
}

/* A socket that accepts connections (backlog) but never answers. */
static void test_timeout(const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[128];
	struct run_result r;
	int fd;

	snprintf(path, sizeof(path), "%s/mute.sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	util_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	check(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	check(listen(fd, 8) == 0);
	r = run(NULL, 5, "--socket", path, "--timeout", "300ms", "status");
	check_int_eq(r.status, 1);
	check_has(r.err, "no reply from prescientd");
	check(r.elapsed_sec < 1.5);
	check(r.elapsed_sec >= 0.29);
	run_result_free(&r);
	close(fd);
}

/* Without --socket, the socket comes from the daemon's configuration (--config or
 * $PRESCIENT_CONFIG). */
static void test_config_socket(const char *dir)
{
	char conf[200], envs[300], text[300];
	const char *env[] = { envs, NULL };
	struct run_result r;
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/p.conf", dir);
	f = fopen(conf, "w");
	fprintf(f, "[daemon]\nrun_dir = %s\n", dir); /* <run_dir>/prescient.sock is ours */
	fclose(f);
	r = run(NULL, 3, "--config", conf, "status");
	check_int_eq(r.status, 0);
	check_has(r.out, "testhost");
	run_result_free(&r);

	snprintf(text, sizeof(text), "[api]\nsocket = %s/other.sock\n", dir);
	f = fopen(conf, "w");
	fputs(text, f);
	fclose(f);
	snprintf(envs, sizeof(envs), "PRESCIENT_CONFIG=%s", conf);
	r = run(env, 1, "status");
	check_int_eq(r.status, 1);
	check_has(r.err, "other.sock");
	run_result_free(&r);
	/* --socket wins over the configuration */
	r = run(env, 3, "--socket", sock, "status");
	check_int_eq(r.status, 0);
	run_result_free(&r);
}

static int serve(const char *path)
{
	struct api_server_config cfg = { .socket_path = path };
	struct api_server *srv;
	struct state *st;

	state_thread_register();
	if (fake_state_new(&st) < 0 || fake_ledger_new(&handlers.ledger) < 0 ||
	    fake_ledger_fill(handlers.ledger, util_realtime_usec(), &ledger_generation_filled) <
		    0 ||
	    api_server_start(&cfg, st, &handlers, &srv) < 0)
		return 1;
	printf("serving the fake snapshot on %s\n", path);
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	struct api_server_config cfg = { .socket_path = sock };
	char dir[] = "/tmp/prescient-test-ctl-XXXXXX";
	struct api_server *srv;
	struct state *st;
	char cmd[256];

	if (argc == 3 && !strcmp(argv[1], "--serve"))
		return serve(argv[2]);
	if (argc != 2) {
		fprintf(stderr, "usage: %s PRESCIENTCTL | --serve SOCKET\n", argv[0]);
		return 2;
	}
	ctl = argv[1];
	if (access(ctl, X_OK) < 0)
		test_skip("prescientctl is not built");
	if (!mkdtemp(dir))
		test_skip("cannot create a temporary directory");
	snprintf(sock, sizeof(sock), "%s/prescient.sock", dir);

	state_thread_register();
	check_int_eq(fake_state_new(&st), 0);
	check_int_eq(fake_ledger_new(&handlers.ledger), 0);
	check_int_eq(
		fake_ledger_fill(handlers.ledger, util_realtime_usec(), &ledger_generation_filled),
		0);
	check_int_eq(api_server_start(&cfg, st, &handlers, &srv), 0);

	test_status();
	test_vms_table();
	test_vm_detail();
	test_json();
	test_pool();
	test_push();
	test_reservations();
	test_explain();
	test_reserve();
	test_errors();
	test_timeout(dir);
	test_config_socket(dir);

	api_server_stop(srv);
	ledger_free(handlers.ledger);
	state_free(st);
	state_thread_unregister();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	check_int_eq(system(cmd), 0);
	return test_result();
}
