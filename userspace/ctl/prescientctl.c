// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * prescientctl: the command-line view of prescientd. It only talks to the
 * daemon's API socket (read-only commands, and "push" of application metric
 * values), renders the reply as aligned tables with units, or prints the
 * daemon's "data" object as is with --json.
 * Exit codes: 0 ok, 1 error (daemon unreachable, daemon said no), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "build-config.h"
#include "cleanup.h"
#include "client.h"
#include "ctl.h"
#include "util.h"

#define DEFAULT_SOCKET	     PRESCIENT_RUN_DIR "/prescient/prescient.sock"
#define DEFAULT_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define VM_SAMPLES_SHOWN     10

const char *program = "prescientctl";

static void help(FILE *f)
{
	fprintf(f,
		"Usage: %s [OPTIONS] COMMAND\n"
		"\n"
		"Shows what prescientd sees and decides on this host: every VM's recent\n"
		"demand, its forecast with intervals, and the CPU it was given; the host's\n"
		"resource pool; and pushes application metrics (transactions/s, queue\n"
		"length, ...) for it to forecast.\n"
		"\n"
		"Commands:\n"
		"  status           the daemon: version, uptime, libvirt connection, data\n"
		"                   sources, BPF, dry-run mode, number of VMs\n"
		"  vms              one row per VM: state, vCPUs, memory, latest CPU (cores),\n"
		"                   memory (MiB), disk and network (KiB/s), the CPU allocation\n"
		"                   and the forecast upper bound it is sized on\n"
		"  vm NAME|UUID     one VM in detail: identity (pid, vCPU threads, taps,\n"
		"                   cgroup), CPU reservation and why, recent samples, and the\n"
		"                   forecast per resource with 80%% and 95%% intervals and how\n"
		"                   often past intervals really held the value (coverage);\n"
		"                   the forecast model in use ([vm NAME] model in the\n"
		"                   configuration overrides [forecast] model for one VM),\n"
		"                   and the VM's application metrics with their forecasts\n"
		"  pool             the host's resources: CPU (what machine.slice may use,\n"
		"                   online CPUs), memory, per resource its capacity, what\n"
		"                   the VMs hold (CPU allocations, configured memory) and\n"
		"                   what is free; CPUs per NUMA node; hugepages per size\n"
		"                   and node as the kernel delivered them; who holds what\n"
		"  push VM NAME VALUE\n"
		"                   one value of the application metric NAME (1-48 of\n"
		"                   a-z 0-9 _ . -) of VM (name or UUID). Values are averaged\n"
		"                   over each forecast step and forecast like a resource once\n"
		"                   12 steps have values; at most 8 metrics per VM, a metric\n"
		"                   without values for 100 steps is forgotten\n"
		"\n",
		program);
	ctl_reservations_help(f);
	fprintf(f,
		"\n"
		"Options (before the command, so that a negative VALUE is not one):\n"
		"  -s, --socket PATH    the daemon's socket; default: $PRESCIENT_SOCKET, else\n"
		"                       [api] socket or [daemon] run_dir from the daemon's\n"
		"                       configuration, else %2$s\n"
		"  -c, --config PATH    the daemon's configuration file (default %3$s,\n"
		"                       or $PRESCIENT_CONFIG), read only to find the socket\n"
		"  -j, --json           print the daemon's data object as JSON, for scripts\n"
		"  -t, --timeout TIME   give up after TIME (default 5s; e.g. 500ms, 2s)\n"
		"  -h, --help           this help\n"
		"      --version        the version\n"
		"\n"
		"Examples:\n"
		"  %1$s status\n"
		"  %1$s vms\n"
		"  %1$s vm web1\n"
		"  %1$s pool\n"
		"  %1$s --json pool | jq .cpu.free_cores\n"
		"  %1$s push web1 tps 1250\n"
		"  %1$s --json vm web1 | jq .metrics.tps.forecast\n"
		"  %1$s --json vm 6f1c1a3e-0c1b-4f5e-9d2a-2b7f0b9e4c11 | jq .cpu_reservation\n"
		"  %1$s reservations\n"
		"  %1$s reservations explain web1\n"
		"  echo "
		"'{\"class\":\"burstable\",\"items\":[{\"dim\":\"cpu\",\"mean\":2,\"sd\":0.5}]}' "
		"|\n      %1$s reservations explain --request -\n"
		"  %1$s reserve --holder mig-42 --migration --cpu 2:3 --memory 4G --for 30m\n"
		"  %1$s confirm 7; %1$s activate 7; %1$s release 7\n"
		"  %1$s --json reservations | jq '.leases[] | select(.state==\"active\")'\n"
		"\n"
		"Units: CPU in cores (1.00 = one core busy), memory in MiB, disk and network\n"
		"in KiB/s; '-' means not measured (yet). Exit status: 0 ok, 1 error, 2 usage.\n",
		program, CLIENT_DEFAULT_SOCKET, PRESCIENT_CONF_FILE);
}

int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", program);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", program);
	return EXIT_USAGE;
}

static void warn_config(const char *msg)
{
	fprintf(stderr, "%s: warning: %s\n", program, msg);
}

/* ---- JSON access --------------------------------------------------------- */

struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v = jget(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

double jnum(struct json_object *o, const char *key)
{
	struct json_object *v = jget(o, key);

	if (!v ||
	    !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
		return NAN;
	return json_object_get_double(v);
}

bool jbool(struct json_object *o, const char *key)
{
	struct json_object *v = jget(o, key);

	return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

size_t jlen(struct json_object *a)
{
	return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* ---- formatting ---------------------------------------------------------- */

/* v / scale with decimals, or "-" when not measured. */
const char *fmt(char *buf, size_t size, double v, double scale, int decimals)
{
	if (!isfinite(v))
		return "-";
	snprintf(buf, size, "%.*f", decimals, v / scale);
	return buf;
}

const char *fmt_age(char *buf, size_t size, double sec)
{
	if (!isfinite(sec))
		return "-";
	if (sec < 10)
		snprintf(buf, size, "%.1f s", sec);
	else if (sec < 120)
		snprintf(buf, size, "%.0f s", sec);
	else if (sec < 7200)
		snprintf(buf, size, "%.0f min", sec / 60);
	else if (sec < 172800)
		snprintf(buf, size, "%.0fh %02.0fmin", floor(sec / 3600), fmod(sec, 3600) / 60);
	else
		snprintf(buf, size, "%.0f d %.0f h", floor(sec / 86400), fmod(sec, 86400) / 3600);
	return buf;
}

void table_init(struct table *t, size_t n_cols, const char *right_cols)
{
	memset(t, 0, sizeof(*t));
	t->n_cols = n_cols;
	for (size_t i = 0; i < n_cols && right_cols[i]; i++)
		t->right[i] = right_cols[i] == 'r';
}

/* One row of t->n_cols cells (NULL shows as "-"). */
int table_add_row(struct table *t, const char *const *cells)
{
	if (t->n_rows == t->cap_rows) {
		size_t cap = t->cap_rows ? t->cap_rows * 2 : 16;
		char **nc = realloc(t->cells, cap * t->n_cols * sizeof(char *));

		if (!nc)
			return -ENOMEM;
		t->cells = nc;
		t->cap_rows = cap;
	}
	for (size_t c = 0; c < t->n_cols; c++)
		t->cells[t->n_rows * t->n_cols + c] = strdup(cells[c] ? cells[c] : "-");
	t->n_rows++;
	return 0;
}

int table_add(struct table *t, ...)
{
	va_list ap;

	if (t->n_rows == t->cap_rows) {
		size_t cap = t->cap_rows ? t->cap_rows * 2 : 16;
		char **nc = realloc(t->cells, cap * t->n_cols * sizeof(char *));

		if (!nc)
			return -ENOMEM;
		t->cells = nc;
		t->cap_rows = cap;
	}
	va_start(ap, t);
	for (size_t c = 0; c < t->n_cols; c++) {
		const char *s = va_arg(ap, const char *);

		t->cells[t->n_rows * t->n_cols + c] = strdup(s ? s : "-");
	}
	va_end(ap);
	t->n_rows++;
	return 0;
}

void table_print(struct table *t, const char *indent)
{
	table_fprint(stdout, t, indent);
}

void table_fprint(FILE *f, struct table *t, const char *indent)
{
	size_t w[TABLE_MAX_COLS] = { 0 };

	for (size_t r = 0; r < t->n_rows; r++)
		for (size_t c = 0; c < t->n_cols; c++) {
			const char *s = t->cells[r * t->n_cols + c];
			size_t l = s ? strlen(s) : 1;

			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; r < t->n_rows; r++) {
		fputs(indent, f);
		for (size_t c = 0; c < t->n_cols; c++) {
			const char *s = t->cells[r * t->n_cols + c];
			bool last = c + 1 == t->n_cols;

			if (!s)
				s = "-";
			if (t->right[c])
				fprintf(f, "%*s%s", (int)w[c], s, last ? "" : "  ");
			else if (last)
				fputs(s, f);
			else
				fprintf(f, "%-*s  ", (int)w[c], s);
		}
		fputc('\n', f);
	}
}

void table_free(struct table *t)
{
	for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
		free(t->cells[i]);
	free(t->cells);
}

/* ---- commands ------------------------------------------------------------- */

static int show_status(struct json_object *d)
{
	struct json_object *lv = jget(d, "libvirt"), *col = jget(d, "collect");
	struct json_object *bpf = jget(d, "bpf"), *src = jget(col, "sources");
	char a[64], b[64], sources[256] = "";
	size_t off = 0;

	for (size_t i = 0; i < jlen(src); i++) {
		int n = snprintf(sources + off, sizeof(sources) - off, "%s%s", i ? ", " : "",
				 json_object_get_string(json_object_array_get_idx(src, i)));

		if (n < 0 || (size_t)n >= sizeof(sources) - off)
			break;
		off += (size_t)n;
	}

	printf("prescientd %s on %s, up %s\n", jstr(d, "version"), jstr(d, "hostname"),
	       fmt_age(a, sizeof(a), jnum(d, "uptime_sec")));
	printf("  config:      %s\n", jstr(d, "config_file"));
	printf("  mode:        %s\n",
	       jbool(d, "dry_run") ? "dry-run (decisions are logged, nothing is enforced)"
				   : "enforcing");
	printf("  libvirt:     %s, %s (%.0f reconnects)\n", jstr(lv, "uri"),
	       jbool(lv, "connected") ? "connected" : "DISCONNECTED", jnum(lv, "reconnects"));
	printf("  collection:  every %s s from %s; last tick %s ago, took %s ms\n",
	       fmt(a, sizeof(a), jnum(col, "interval_sec"), 1, 1), off ? sources : "nothing yet",
	       fmt_age(b, sizeof(b), jnum(col, "last_tick_age_sec")),
	       fmt((char[32]){ 0 }, 32, jnum(col, "last_tick_cost_usec"), 1000, 1));
	printf("  BPF:         %s%s%s\n", jbool(bpf, "loaded") ? "loaded" : "not loaded",
	       jstr(bpf, "status")[0] ? ": " : "", jstr(bpf, "status"));
	printf("  forecast:    step %s s\n",
	       fmt(a, sizeof(a), jnum(jget(d, "forecast"), "step_sec"), 1, 0));
	printf("  VMs:         %.0f\n", jnum(d, "vm_count"));
	return 0;
}

#define MIB		    (1024.0 * 1024.0)
#define KIB		    1024.0
#define F(i, v, scale, dec) fmt(buf[i], sizeof(buf[0]), (v), (scale), (dec))

static int show_vms(struct json_object *d)
{
	struct json_object *vms = jget(d, "vms");
	struct table t;

	if (jlen(vms) == 0) {
		printf("No VMs running on this host.\n");
		return 0;
	}
	table_init(&t, 13, "llrrrrrrrrrrl");
	table_add(&t, "NAME", "STATE", "VCPUS", "MEM", "CPU", "ALLOC", "UPPER", "RSS", "DISK-R",
		  "DISK-W", "NET-RX", "NET-TX", "UUID");
	table_add(&t, "", "", "", "MiB", "cores", "cores", "cores", "MiB", "KiB/s", "KiB/s",
		  "KiB/s", "KiB/s", "");
	for (size_t i = 0; i < jlen(vms); i++) {
		struct json_object *v = json_object_array_get_idx(vms, i);
		char buf[12][32];

		table_add(&t, jstr(v, "name"), jstr(v, "state"), F(0, jnum(v, "vcpus"), 1, 0),
			  F(1, jnum(v, "memory_bytes"), MIB, 0), F(2, jnum(v, "cpu_cores"), 1, 2),
			  F(3, jnum(v, "cpu_alloc_cores"), 1, 2),
			  F(4, jnum(v, "cpu_upper_cores"), 1, 2),
			  F(5, jnum(v, "mem_bytes"), MIB, 0),
			  F(6, jnum(v, "disk_read_bps"), KIB, 1),
			  F(7, jnum(v, "disk_write_bps"), KIB, 1),
			  F(8, jnum(v, "net_rx_bps"), KIB, 1), F(9, jnum(v, "net_tx_bps"), KIB, 1),
			  jstr(v, "uuid"));
	}
	table_print(&t, "");
	table_free(&t);
	return 0;
}

static void print_list(const char *label, struct json_object *arr, bool numbers)
{
	printf("  %-12s", label);
	if (jlen(arr) == 0)
		fputs("-", stdout);
	for (size_t i = 0; i < jlen(arr); i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);

		if (numbers)
			printf("%s%d", i ? " " : "", json_object_get_int(e));
		else
			printf("%s%s", i ? " " : "", json_object_get_string(e));
	}
	putchar('\n');
}

/* Unit conversion for a forecast resource: display scale, decimals, label. */
static void unit_of(const char *unit, double *scale, int *dec, const char **label)
{
	if (!strcmp(unit, "bytes")) {
		*scale = MIB, *dec = 0, *label = "MiB";
	} else if (!strcmp(unit, "bytes/s")) {
		*scale = KIB, *dec = 1, *label = "KiB/s";
	} else if (!strcmp(unit, "value")) {
		*scale = 1, *dec = 2, *label = "value";
	} else {
		*scale = 1, *dec = 2, *label = "cores";
	}
}

static double interval_bound(struct json_object *point, double level, const char *which)
{
	struct json_object *ivs = jget(point, "intervals");

	for (size_t i = 0; i < jlen(ivs); i++) {
		struct json_object *iv = json_object_array_get_idx(ivs, i);

		if (fabs(jnum(iv, "level") - level) < 1e-6)
			return jnum(iv, which);
	}
	return NAN;
}

static void show_forecast(const char *name, struct json_object *f)
{
	struct json_object *pts = jget(f, "points"), *cov = jget(f, "coverage");
	const char *label;
	char a[32], b[32], c[32];
	double scale, step;
	struct table t;
	int dec;

	unit_of(jstr(f, "unit"), &scale, &dec, &label);
	if (!jbool(f, "valid")) {
		printf("  %-10s no forecast yet (not enough history)\n", name);
		return;
	}
	step = jnum(f, "step_sec");
	printf("  %s (%s): model %s, step %s s, made %s ago; coverage 80%%: %s%%, 95%%: %s%%\n",
	       name, label, jstr(f, "model"), fmt(a, sizeof(a), step, 1, 0),
	       fmt_age(b, sizeof(b), jnum(f, "age_sec")),
	       fmt(c, sizeof(c), jnum(cov, "80"), 0.01, 0),
	       fmt((char[32]){ 0 }, 32, jnum(cov, "95"), 0.01, 0));
	table_init(&t, 6, "rrrrrr");
	table_add(&t, "AHEAD", "MEAN", "80%-LOW", "80%-HIGH", "95%-LOW", "95%-HIGH");
	for (size_t i = 0; i < jlen(pts); i++) {
		struct json_object *p = json_object_array_get_idx(pts, i);
		char buf[6][32];

		table_add(&t, fmt_age(buf[5], sizeof(buf[0]), jnum(p, "step") * step),
			  F(0, jnum(p, "mean"), scale, dec),
			  F(1, interval_bound(p, 0.8, "lo"), scale, dec),
			  F(2, interval_bound(p, 0.8, "hi"), scale, dec),
			  F(3, interval_bound(p, 0.95, "lo"), scale, dec),
			  F(4, interval_bound(p, 0.95, "hi"), scale, dec));
	}
	table_print(&t, "    ");
	table_free(&t);
}

static void show_metrics(struct json_object *mts)
{
	char a[32], b[32];

	printf("\nApplication metrics (pushed with '%s push')\n", program);
	if (!mts || !json_object_is_type(mts, json_type_object) ||
	    json_object_object_length(mts) == 0) {
		printf("  none\n");
		return;
	}
	json_object_object_foreach(mts, name, mt)
	{
		printf("  %s: last value %s, %s ago, %.0f values pushed\n", name,
		       fmt(a, sizeof(a), jnum(mt, "last_value"), 1, 2),
		       fmt_age(b, sizeof(b), jnum(mt, "last_push_age_sec")), jnum(mt, "pushes"));
		show_forecast(name, jget(mt, "forecast"));
	}
}

/* The VM's lease in the host's ledger: class, state, per dimension held and enforced. */
static void print_lease(struct json_object *l)
{
	static const char *const dims[] = { "cpu", "mem", "net", "disk" };
	static const char *const units[] = { "cores", "MiB", "kbit/s", "kbit/s" };
	static const double scale[] = { 1, MIB, 1, 1 };
	struct json_object *items = jget(l, "items");
	char a[32], b[32], c[32], e[32];

	printf("\nLease\n");
	if (!jbool(l, "managed")) {
		printf("  %-12snone (the allocation engine is off or has not booked this VM yet)\n",
		       "lease:");
		return;
	}
	printf("  %-12s%.0f, %s, %s%s%s\n", "lease:", jnum(l, "lease_id"), jstr(l, "lease_state"),
	       jstr(l, "class"), jstr(l, "pinned")[0] ? ", pinned to cores " : "",
	       jstr(l, "pinned"));
	for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
		struct json_object *it = jget(items, dims[i]);

		if (!it)
			continue;
		printf("  %-12sheld %s, demand %s up to %s %s; in force: %s%s%s\n", dims[i],
		       fmt(a, sizeof(a), jnum(it, "held"), scale[i], 2),
		       fmt(b, sizeof(b), jnum(it, "mean"), scale[i], 2),
		       fmt(c, sizeof(c), jnum(it, "upper"), scale[i], 2), units[i],
		       fmt(e, sizeof(e), jnum(it, "enforced"), scale[i], 2),
		       jstr(it, "how")[0] ? " via " : "", jstr(it, "how"));
	}
	if (jbool(l, "refused") || jbool(l, "migrate"))
		printf("  %-12s%s\n",
		       "flag:", jstr(l, "reason")[0] ? jstr(l, "reason") : "a migration candidate");
	if (jnum(l, "safety_raises") > 0 || jnum(l, "safety_flags") > 0)
		printf("  %-12s%.0f raises, %.0f flags; last: %s\n",
		       "safety:", jnum(l, "safety_raises"), jnum(l, "safety_flags"),
		       jstr(l, "safety_reason"));
}

static int show_vm(struct json_object *d)
{
	struct json_object *cg = jget(d, "cgroups"), *res = jget(d, "cpu_reservation");
	struct json_object *samples = jget(d, "samples"), *fc = jget(d, "forecast");
	size_t n = jlen(samples), first = n > VM_SAMPLES_SHOWN ? n - VM_SAMPLES_SHOWN : 0;
	char a[32], b[32], c[32];
	struct table t;

	printf("VM %s (%s)\n", jstr(d, "name"), jstr(d, "uuid"));
	printf("  %-12s%s, QEMU pid %.0f\n", "state:", jstr(d, "state"), jnum(d, "pid"));
	printf("  %-12s%.0f online of %.0f\n", "vCPUs:", jnum(d, "vcpus"), jnum(d, "max_vcpus"));
	print_list("vCPU tids:", jget(d, "vcpu_tids"), true);
	printf("  %-12s%s MiB of %s MiB\n",
	       "memory:", fmt(a, sizeof(a), jnum(d, "memory_bytes"), MIB, 0),
	       fmt(b, sizeof(b), jnum(d, "max_memory_bytes"), MIB, 0));
	print_list("taps:", jget(d, "taps"), false);
	print_list("disks:", jget(d, "disks"), false);
	if (jstr(cg, "v2")[0])
		printf("  %-12s%s\n", "cgroup:", jstr(cg, "v2"));
	if (jstr(cg, "cpu")[0])
		printf("  %-12s%s\n", "cgroup cpu:", jstr(cg, "cpu"));
	if (jstr(cg, "memory")[0])
		printf("  %-12s%s\n", "cgroup mem:", jstr(cg, "memory"));

	printf("\nCPU reservation\n");
	if (jbool(res, "managed"))
		printf("  %-12s%s cores (target %s), forecast upper bound %s cores%s\n",
		       "allocation:", fmt(a, sizeof(a), jnum(res, "cores"), 1, 2),
		       fmt(b, sizeof(b), jnum(res, "target_cores"), 1, 2),
		       fmt(c, sizeof(c), jnum(res, "demand_upper_cores"), 1, 2),
		       jbool(res, "dry_run") ? " [dry-run: not enforced]" : "");
	else
		printf("  %-12snot managed, forecast upper bound %s cores\n",
		       "allocation:", fmt(c, sizeof(c), jnum(res, "demand_upper_cores"), 1, 2));
	if (isfinite(jnum(res, "changed_age_sec")))
		printf("  %-12s%s ago; %.0f raises, %.0f lowers\n",
		       "changed:", fmt_age(a, sizeof(a), jnum(res, "changed_age_sec")),
		       jnum(res, "raises"), jnum(res, "lowers"));
	else
		printf("  %-12snever\n", "changed:");
	printf("  %-12s%s\n", "reason:", jstr(res, "reason")[0] ? jstr(res, "reason") : "-");
	printf("  %-12s%s\n",
	       "last error:", jstr(res, "last_error")[0] ? jstr(res, "last_error") : "none");

	print_lease(jget(d, "lease"));

	printf("\nRecent samples (newest last, %zu of %zu)\n", n - first, n);
	if (n == 0) {
		printf("  none yet\n");
	} else {
		table_init(&t, 9, "rrrrrrrrr");
		table_add(&t, "AGE", "CPU", "STEAL", "RSS", "DISK-R", "DISK-W", "NET-RX", "NET-TX",
			  "CPU-PSI");
		table_add(&t, "", "cores", "cores", "MiB", "KiB/s", "KiB/s", "KiB/s", "KiB/s", "%");
		for (size_t i = first; i < n; i++) {
			struct json_object *s = json_object_array_get_idx(samples, i);
			char buf[9][32];

			table_add(&t, fmt_age(buf[8], sizeof(buf[0]), jnum(s, "age_sec")),
				  F(0, jnum(s, "cpu_cores"), 1, 2),
				  F(1, jnum(s, "cpu_steal_cores"), 1, 2),
				  F(2, jnum(s, "mem_bytes"), MIB, 0),
				  F(3, jnum(s, "disk_read_bps"), KIB, 1),
				  F(4, jnum(s, "disk_write_bps"), KIB, 1),
				  F(5, jnum(s, "net_rx_bps"), KIB, 1),
				  F(6, jnum(s, "net_tx_bps"), KIB, 1),
				  F(7, jnum(s, "cpu_pressure_some"), 1, 1));
		}
		table_print(&t, "  ");
		table_free(&t);
	}
	if (n > 0) {
		struct json_object *s = json_object_array_get_idx(samples, n - 1);
		char sig[4][32];

		printf("\nKernel signals (BPF probes; '-' when not loaded)\n"
		       "  preemptions %s/s, KVM exits %s/s, page faults %s/s, reclaim stall %s%%\n",
		       fmt(sig[0], sizeof(sig[0]), jnum(s, "cpu_preempt_per_sec"), 1, 0),
		       fmt(sig[1], sizeof(sig[1]), jnum(s, "kvm_exits_per_sec"), 1, 0),
		       fmt(sig[2], sizeof(sig[2]), jnum(s, "mem_faults_per_sec"), 1, 0),
		       fmt(sig[3], sizeof(sig[3]), jnum(s, "mem_reclaim_stall_ratio") * 100, 1, 1));
	}

	printf("\nForecasts (model %s%s)\n", jstr(d, "model")[0] ? jstr(d, "model") : "-",
	       jbool(d, "model_overridden") ? ", set for this VM" : "");
	if (fc && json_object_is_type(fc, json_type_object)) {
		json_object_object_foreach(fc, name, f) show_forecast(name, f);
	}
	show_metrics(jget(d, "metrics"));
	return 0;
}

static const char *fmt_page_size(char *buf, size_t size, double kb)
{
	if (!isfinite(kb))
		return "-";
	if (kb >= 1024 * 1024)
		snprintf(buf, size, "%.0f GiB", kb / (1024 * 1024));
	else if (kb >= 1024)
		snprintf(buf, size, "%.0f MiB", kb / 1024);
	else
		snprintf(buf, size, "%.0f KiB", kb);
	return buf;
}

static int show_pool(struct json_object *d)
{
	struct json_object *cpu = jget(d, "cpu"), *mem = jget(d, "memory");
	struct json_object *numa = jget(d, "numa"), *hp = jget(d, "hugepages");
	struct json_object *by = jget(d, "reserved_by"), *unknown = jget(d, "unknown");
	char a[32], buf[8][32], detail[256];
	struct table t;

	if (!jbool(d, "valid")) {
		printf("The daemon has not read the host's resources yet: retry in a few "
		       "seconds.\n");
		return 0;
	}
	printf("Host resource pool (read %s ago)\n", fmt_age(a, sizeof(a), jnum(d, "age_sec")));
	table_init(&t, 6, "lrrrll");
	table_add(&t, "RESOURCE", "CAPACITY", "RESERVED", "FREE", "UNIT", "DETAIL");
	snprintf(detail, sizeof(detail), "machine.slice CPUs %s (%s); online %s (%s)",
		 jstr(cpu, "machine_slice")[0] ? jstr(cpu, "machine_slice") : "-",
		 !strcmp(jstr(cpu, "machine_slice_source"), "cgroup")	? "its cpuset"
		 : !strcmp(jstr(cpu, "machine_slice_source"), "online") ? "no cpuset: all online"
									: "unknown",
		 jstr(cpu, "online")[0] ? jstr(cpu, "online") : "-",
		 F(4, jnum(cpu, "online_count"), 1, 0));
	table_add(&t, "cpu", F(0, jnum(cpu, "capacity_cores"), 1, 2),
		  F(1, jnum(cpu, "reserved_cores"), 1, 2), F(2, jnum(cpu, "free_cores"), 1, 2),
		  "cores", detail);
	snprintf(detail, sizeof(detail), "kernel reports %s MiB available",
		 F(4, jnum(mem, "available_bytes"), MIB, 0));
	table_add(&t, "memory", F(0, jnum(mem, "capacity_bytes"), MIB, 0),
		  F(1, jnum(mem, "reserved_bytes"), MIB, 0), F(2, jnum(mem, "free_bytes"), MIB, 0),
		  "MiB", detail);
	table_print(&t, "  ");
	table_free(&t);

	printf("\nNUMA nodes\n");
	if (jlen(numa) == 0) {
		printf("  unknown\n");
	} else {
		table_init(&t, 3, "rrl");
		table_add(&t, "NODE", "CPUS", "CPU-LIST");
		for (size_t i = 0; i < jlen(numa); i++) {
			struct json_object *n = json_object_array_get_idx(numa, i);

			table_add(&t, F(0, jnum(n, "node"), 1, 0), F(1, jnum(n, "cpu_count"), 1, 0),
				  jstr(n, "cpus")[0] ? jstr(n, "cpus") : "-");
		}
		table_print(&t, "  ");
		table_free(&t);
	}

	printf("\nHugepages (as the kernel delivered them)\n");
	if (jlen(hp) == 0) {
		printf("  none\n");
	} else {
		table_init(&t, 7, "rrrrrrr");
		table_add(&t, "SIZE", "NODE", "TOTAL", "FREE", "GROWABLE", "TOTAL", "FREE");
		table_add(&t, "", "", "pages", "pages", "pages", "MiB", "MiB");
		for (size_t i = 0; i < jlen(hp); i++) {
			struct json_object *h = json_object_array_get_idx(hp, i);

			table_add(&t, fmt_page_size(buf[5], sizeof(buf[5]), jnum(h, "page_kb")),
				  F(0, jnum(h, "node"), 1, 0), F(1, jnum(h, "total_pages"), 1, 0),
				  F(2, jnum(h, "free_pages"), 1, 0),
				  F(6, jnum(h, "growable_pages"), 1, 0),
				  F(3, jnum(h, "total_bytes"), MIB, 0),
				  F(4, jnum(h, "free_bytes"), MIB, 0));
		}
		table_print(&t, "  ");
		table_free(&t);
	}

	printf("\nReserved by\n");
	if (jlen(by) == 0) {
		printf("  nobody\n");
	} else {
		table_init(&t, 4, "lrrl");
		table_add(&t, "VM", "CPU", "MEM", "UUID");
		table_add(&t, "", "cores", "MiB", "");
		for (size_t i = 0; i < jlen(by); i++) {
			struct json_object *v = json_object_array_get_idx(by, i);

			table_add(&t, jstr(v, "name"), F(0, jnum(v, "cpu_cores"), 1, 2),
				  F(1, jnum(v, "memory_bytes"), MIB, 0), jstr(v, "uuid"));
		}
		table_print(&t, "  ");
		table_free(&t);
	}

	for (size_t i = 0; i < jlen(unknown); i++) {
		struct json_object *u = json_object_array_get_idx(unknown, i);

		printf("%sunknown: %s: %s\n", i ? "" : "\n", jstr(u, "part"), jstr(u, "error"));
	}
	ctl_pool_ledger_show(jget(d, "ledger"));
	return 0;
}

#undef F

/* ---- main ------------------------------------------------------------------ */

/* The daemon checks too; this only saves a round trip with a clearer message. */
static bool metric_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 48)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      *s == '.' || *s == '-'))
			return false;
	return true;
}

int request_error(int r, const char *path, uint64_t timeout_usec)
{
	char t[32];

	snprintf(t, sizeof(t), "%.1f s", (double)timeout_usec / 1e6);
	switch (r) {
	case -ENOENT:
	case -ECONNREFUSED:
		fprintf(stderr,
			"%s: cannot connect to %s: %s: is prescientd running? Start it with "
			"'systemctl start prescientd' (or point --socket at its socket)\n",
			program, path, strerror(-r));
		break;
	case -EACCES:
	case -EPERM:
		fprintf(stderr,
			"%s: cannot connect to %s: %s: run as root or as a member of the "
			"socket's group\n",
			program, path, strerror(-r));
		break;
	case -ETIMEDOUT:
		fprintf(stderr,
			"%s: no reply from prescientd on %s within %s: the daemon may be "
			"overloaded or stuck; see 'journalctl -u prescientd' or raise --timeout\n",
			program, path, t);
		break;
	case -EPIPE:
	case -ECONNRESET:
		fprintf(stderr,
			"%s: prescientd closed the connection on %s without a reply; see "
			"'journalctl -u prescientd'\n",
			program, path);
		break;
	default:
		fprintf(stderr, "%s: request to %s failed: %s\n", program, path, strerror(-r));
	}
	return EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	const char *path = NULL, *config_path = getenv("PRESCIENT_CONFIG");
	struct client_config ccfg;
	uint64_t timeout_usec = DEFAULT_TIMEOUT_USEC;
	_cleanup_json_ struct json_object *reply = NULL;
	_cleanup_json_ struct json_object *req = NULL;
	_cleanup_free_ char *line = NULL;
	struct json_object *data, *ok;
	const char *cmd;
	bool json = false;
	int c, r;

	/* "+": options end at the command, so "push vm temp -3" works. */
	while ((c = getopt_long(argc, argv, "+s:c:jt:h", options, NULL)) >= 0) {
		switch (c) {
		case 's':
			path = optarg;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 't':
			if (util_parse_duration_usec(optarg, &timeout_usec) < 0 ||
			    timeout_usec == 0 || timeout_usec > 3600 * USEC_PER_SEC)
				return usage_error("invalid --timeout '%s': a duration from 1ms to "
						   "1h, e.g. 500ms or 10s",
						   optarg);
			break;
		case 'h':
			help(stdout);
			return 0;
		case 'V':
			printf("prescientctl %s\n", PRESCIENT_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try '%s --help'.\n", program);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return usage_error(
			"no command given: status, vms, vm NAME|UUID, pool, push VM NAME VALUE, "
			"reservations, reserve, confirm, activate or release");
	if (!path || !path[0])
		path = getenv("PRESCIENT_SOCKET");
	if (!path || !path[0]) {
		client_config_read(config_path, warn_config, &ccfg);
		path = ccfg.socket;
	}
	cmd = argv[optind++];
	if (ctl_reservations_handles(cmd)) {
		struct ctl_target t = { .socket = path,
					.timeout_usec = timeout_usec,
					.json = json };

		return ctl_reservations_main(&t, argc - optind + 1, argv + optind - 1);
	}

	req = json_object_new_object();
	if (!req)
		return EXIT_FAILURE;
	if (!strcmp(cmd, "status") || !strcmp(cmd, "vms") || !strcmp(cmd, "pool")) {
		if (optind < argc)
			return usage_error("'%s' takes no argument (got '%s')", cmd, argv[optind]);
		json_object_object_add(req, "cmd", json_object_new_string(cmd));
	} else if (!strcmp(cmd, "vm")) {
		if (optind >= argc)
			return usage_error("'vm' needs a VM name or UUID, e.g. '%s vm web1'",
					   program);
		if (optind + 1 < argc)
			return usage_error("'vm' takes one VM name or UUID (got '%s' too)",
					   argv[optind + 1]);
		json_object_object_add(req, "cmd", json_object_new_string("vm"));
		json_object_object_add(req, "vm", json_object_new_string(argv[optind]));
	} else if (!strcmp(cmd, "push")) {
		double value;

		if (argc - optind != 3)
			return usage_error("'push' takes a VM, a metric name and a value, e.g. '%s "
					   "push web1 tps 1250'",
					   program);
		if (!metric_name_ok(argv[optind + 1]))
			return usage_error("invalid metric name '%s': 1 to 48 characters of a-z, "
					   "0-9, '_', '.' and '-'",
					   argv[optind + 1]);
		if (util_parse_double(argv[optind + 2], &value) < 0 || !isfinite(value))
			return usage_error("invalid value '%s': a finite number, e.g. 12.5",
					   argv[optind + 2]);
		json_object_object_add(req, "cmd", json_object_new_string("metric"));
		json_object_object_add(req, "vm", json_object_new_string(argv[optind]));
		json_object_object_add(req, "name", json_object_new_string(argv[optind + 1]));
		json_object_object_add(req, "value", json_object_new_double(value));
	} else if (!strcmp(cmd, "help")) {
		help(stdout);
		return 0;
	} else {
		return usage_error(
			"unknown command '%s': status, vms, vm NAME|UUID, pool, push VM "
			"NAME VALUE, reservations, reserve, confirm, activate or release",
			cmd);
	}

	r = client_request(path,
			   json_object_to_json_string_ext(
				   req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
			   timeout_usec, &line);
	if (r < 0)
		return request_error(r, path, timeout_usec);

	reply = json_tokener_parse(line);
	if (!reply || !json_object_object_get_ex(reply, "ok", &ok)) {
		fprintf(stderr, "%s: prescientd sent a reply that is not a JSON response: %.200s\n",
			program, line);
		return EXIT_FAILURE;
	}
	if (!json_object_get_boolean(ok)) {
		fprintf(stderr, "%s: %s\n", program, jstr(reply, "error"));
		return EXIT_FAILURE;
	}
	data = jget(reply, "data");
	if (json) {
		puts(json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE));
		return 0;
	}
	if (!strcmp(cmd, "status"))
		r = show_status(data);
	else if (!strcmp(cmd, "vms"))
		r = show_vms(data);
	else if (!strcmp(cmd, "pool"))
		r = show_pool(data);
	else if (!strcmp(cmd, "push"))
		r = 0; /* accepted: nothing to say */
	else
		r = show_vm(data);
	if (fflush(stdout) != 0 || r < 0)
		return EXIT_FAILURE;
	return 0;
}
