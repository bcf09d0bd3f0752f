// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * prescientctl's reservation commands: the ledger as tables for people
 * (reservations, the ledger part of pool), explanations of admission
 * decisions, and the lease protocol (reserve, confirm, activate, release)
 * for operators and migration tooling. With --json the daemon's data object
 * is printed as is; a refusal prints the whole reply (its "code" says stale,
 * refused, invalid, full, ...) and exits 1.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "ctl.h"
#include "util.h"

#define MIB		 (1024.0 * 1024.0)
#define Z95		 1.6448536269514722 /* one-sided 95% quantile of the normal */
#define RESERVE_RETRIES	 3
#define REQUEST_FILE_MAX (64 * 1024)
#define LEASE_COLS_DIMS	 6

void ctl_reservations_help(FILE *f)
{
	fprintf(f,
		"Reservations (the daemon's ledger of leases: what is held, by whom, until\n"
		"when; every change bumps the ledger's generation):\n"
		"  reservations     usage per dimension (capacity, held whole, burstable\n"
		"                   demand mean and sd, P(demand > capacity) against its\n"
		"                   bound, free) and one row per lease: ID HOLDER STATE CLASS,\n"
		"                   what it holds per dimension, UNTIL\n"
		"  reservations explain VM|--id ID\n"
		"                   why the VM's (or lease ID's) reservation was granted, and\n"
		"                   the same request decided again now against every other\n"
		"                   lease: per dimension request, capacity, held, demand\n"
		"                   mean+-sd, P(exceed) vs bound, verdict and reason\n"
		"  reservations explain --request FILE|-\n"
		"                   what admission would decide now for a reserve request\n"
		"                   (JSON, as 'reserve' sends it); nothing is reserved\n"
		"  reserve --holder ID [--migration] [--class C] [--cpu CORES[:UPPER]]\n"
		"          [--memory SIZE] [--net RATE] [--dim NAME=MEAN[:UPPER]]\n"
		"          [--pin LIST] [--for DURATION] [--generation N]\n"
		"                   offer a lease; it must be confirmed within the offer's\n"
		"                   time-to-live (30 s by default) or its capacity goes back.\n"
		"                   --holder is a VM (name or UUID) or, with --migration, an\n"
		"                   incoming migration's id (1-63 of A-Z a-z 0-9 _ . : -).\n"
		"                   --class guaranteed (default: held whole at UPPER),\n"
		"                   burstable (its mean, within the risk bound) or\n"
		"                   best-effort. UPPER defaults to CORES; the spread is taken\n"
		"                   from it as a 95%% bound. SIZE like 4G, RATE in kbit/s or\n"
		"                   with k/M/G (bit/s), e.g. 500M; --net needs exactly one\n"
		"                   net:* dimension, else use --dim net:eth0=RATE_KBIT.\n"
		"                   --for: open-ended unless given (e.g. 30m, 2h).\n"
		"                   Without --generation the current one is read first (and\n"
		"                   said), and the request retried if the ledger moves on\n"
		"  confirm ID       an offered lease becomes confirmed\n"
		"  activate ID      a confirmed lease becomes active (its holder runs)\n"
		"  release ID       gives the lease's resources back; releasing twice is fine\n");
}

/* ---- talking to the daemon ----------------------------------------------- */

/*
 * Sends req; *ret is the parsed reply, ok or not. Returns 0, or an exit code
 * after saying why there is no reply.
 */
static int call(const struct ctl_target *t, struct json_object *req, struct json_object **ret)
{
	_cleanup_free_ char *line = NULL;
	struct json_object *reply;
	int r;

	r = client_request(t->socket,
			   json_object_to_json_string_ext(
				   req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
			   t->timeout_usec, &line);
	if (r < 0)
		return request_error(r, t->socket, t->timeout_usec);
	reply = json_tokener_parse(line);
	if (!reply || !json_object_is_type(reply, json_type_object) || !jget(reply, "ok")) {
		json_object_put(reply);
		fprintf(stderr, "%s: prescientd sent a reply that is not a JSON response: %.200s\n",
			program, line);
		return EXIT_FAILURE;
	}
	*ret = reply;
	return 0;
}

static struct json_object *request_new(const char *cmd)
{
	struct json_object *o = json_object_new_object();

	if (o)
		json_object_object_add(o, "cmd", json_object_new_string(cmd));
	return o;
}

static void print_json(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* ---- units --------------------------------------------------------------- */

struct unit {
	double scale;
	int dec;
	const char *label;
};

/* The display unit of a dimension, from its name as the pool names them. */
static struct unit unit_of_dim(const char *dim)
{
	if (!strcmp(dim, "cpu"))
		return (struct unit){ 1, 2, "cores" };
	if (!strcmp(dim, "mem"))
		return (struct unit){ MIB, 0, "MiB" };
	if (!strncmp(dim, "hugepages", 9))
		return (struct unit){ 1, 0, "pages" };
	return (struct unit){ 1, 0, "kbit/s" };
}

static const char *fmt_unit(char *buf, size_t size, double v, const char *dim)
{
	struct unit u = unit_of_dim(dim);

	return fmt(buf, size, v, u.scale, u.dec);
}

static const char *fmt_prob(char *buf, size_t size, double p)
{
	if (!isfinite(p))
		return "-";
	if (p == 0)
		snprintf(buf, size, "0%%");
	else if (p < 1e-4)
		snprintf(buf, size, "<0.01%%");
	else
		snprintf(buf, size, "%.2f%%", p * 100);
	return buf;
}

static const char *fmt_until(char *buf, size_t size, struct json_object *lease)
{
	double end = jnum(lease, "end_usec"), now = (double)util_realtime_usec();
	const char *state = jstr(lease, "state");
	char age[32];

	if (!strcmp(state, "released") || !strcmp(state, "expired"))
		return state;
	if (!isfinite(end) || end == 0)
		return "open";
	if (end <= now)
		return "ended";
	snprintf(buf, size, "in %s", fmt_age(age, sizeof(age), (end - now) / 1e6));
	return buf;
}

static const char *holder_shown(struct json_object *lease)
{
	const char *name = jstr(lease, "holder_name");

	return name[0] ? name : jstr(lease, "holder");
}

/* ---- reservations ----------------------------------------------------------- */

static void usage_table(struct json_object *usage)
{
	struct table t;

	table_init(&t, 9, "llrrrrrrr");
	table_add(&t, "DIM", "UNIT", "CAPACITY", "HELD", "BURST-MEAN", "BURST-SD", "P(EXCEED)",
		  "BOUND", "FREE");
	json_object_object_foreach(usage, dim, u)
	{
		char b[7][32];

		table_add(&t, dim, unit_of_dim(dim).label,
			  fmt_unit(b[0], sizeof(b[0]), jnum(u, "capacity"), dim),
			  fmt_unit(b[1], sizeof(b[1]), jnum(u, "held"), dim),
			  fmt_unit(b[2], sizeof(b[2]), jnum(u, "burst_mean"), dim),
			  fmt_unit(b[3], sizeof(b[3]), jnum(u, "burst_sd"), dim),
			  fmt_prob(b[4], sizeof(b[4]), jnum(u, "probability")),
			  fmt_prob(b[5], sizeof(b[5]), jnum(u, "bound")),
			  fmt_unit(b[6], sizeof(b[6]), jnum(u, "free"), dim));
	}
	table_print(&t, "  ");
	table_free(&t);
}

static double item_held(struct json_object *lease, const char *dim)
{
	struct json_object *items = jget(lease, "items");

	for (size_t i = 0; i < jlen(items); i++) {
		struct json_object *it = json_object_array_get_idx(items, i);

		if (!strcmp(jstr(it, "dim"), dim))
			return jnum(it, "held");
	}
	return NAN;
}

static int show_reservations(struct json_object *d)
{
	struct json_object *usage = jget(d, "usage"), *leases = jget(d, "leases");
	const char *dims[LEASE_COLS_DIMS];
	size_t n_dims = 0;
	struct table t;

	printf("Ledger generation %.0f: %.0f live lease(s), pinned cores %s\n",
	       jnum(d, "generation"), jnum(d, "live"),
	       jstr(d, "pinned")[0] ? jstr(d, "pinned") : "none");
	if (usage && json_object_is_type(usage, json_type_object) &&
	    json_object_object_length(usage) > 0)
		usage_table(usage);
	else
		printf("  the pool has no dimensions yet\n");

	printf("\nLeases\n");
	if (jlen(leases) == 0) {
		printf("  none\n");
		return 0;
	}
	/* A column per dimension some lease holds, in the pool's order. */
	if (usage && json_object_is_type(usage, json_type_object)) {
		json_object_object_foreach(usage, dim, u)
		{
			(void)u;
			for (size_t i = 0; i < jlen(leases) && n_dims < LEASE_COLS_DIMS; i++)
				if (isfinite(
					    item_held(json_object_array_get_idx(leases, i), dim))) {
					dims[n_dims++] = dim;
					break;
				}
		}
	}
	table_init(&t, 7 + n_dims,
		   "rlllll"
		   "rrrrrr"
		   "l");
	{
		const char *head[TABLE_MAX_COLS] = { "ID", "HOLDER", "KIND", "STATE", "CLASS" };
		const char *units[TABLE_MAX_COLS] = { "", "", "", "", "" };

		for (size_t k = 0; k < n_dims; k++) {
			head[5 + k] = dims[k];
			units[5 + k] = unit_of_dim(dims[k]).label;
		}
		head[5 + n_dims] = "PINNED";
		head[6 + n_dims] = "UNTIL";
		units[5 + n_dims] = units[6 + n_dims] = "";
		table_add_row(&t, head);
		table_add_row(&t, units);
	}
	/* right-align the dimension columns, not PINNED and UNTIL */
	for (size_t c = 0; c < t.n_cols; c++)
		t.right[c] = c == 0 || (c >= 5 && c < 5 + n_dims);
	for (size_t i = 0; i < jlen(leases); i++) {
		struct json_object *ls = json_object_array_get_idx(leases, i);
		char id[32], held[LEASE_COLS_DIMS][32], until[48];
		const char *row[TABLE_MAX_COLS];

		snprintf(id, sizeof(id), "%.0f", jnum(ls, "id"));
		row[0] = id;
		row[1] = holder_shown(ls);
		row[2] = jstr(ls, "kind");
		row[3] = jstr(ls, "state");
		row[4] = jstr(ls, "class");
		for (size_t k = 0; k < n_dims; k++)
			row[5 + k] =
				fmt_unit(held[k], sizeof(held[k]), item_held(ls, dims[k]), dims[k]);
		row[5 + n_dims] = jstr(ls, "pinned")[0] ? jstr(ls, "pinned") : "-";
		row[6 + n_dims] = fmt_until(until, sizeof(until), ls);
		table_add_row(&t, row);
	}
	table_print(&t, "  ");
	table_free(&t);
	return 0;
}

void ctl_pool_ledger_show(struct json_object *ledger)
{
	struct json_object *dims = jget(ledger, "dims");
	struct table t;

	if (!ledger)
		return;
	printf("\nReservation ledger (generation %.0f, %.0f live lease(s); see '%s "
	       "reservations')\n",
	       jnum(ledger, "generation"), jnum(ledger, "live"), program);
	table_init(&t, 8, "lrrrrrrl");
	table_add(&t, "DIM", "CAPACITY", "HELD", "BURST-MEAN", "P(EXCEED)", "BOUND", "FREE",
		  "UNIT");
	for (size_t i = 0; i < jlen(dims); i++) {
		struct json_object *dj = json_object_array_get_idx(dims, i);
		const char *dim = jstr(dj, "dim");
		char b[6][32];

		table_add(&t, dim, fmt_unit(b[0], sizeof(b[0]), jnum(dj, "capacity"), dim),
			  fmt_unit(b[1], sizeof(b[1]), jnum(dj, "held"), dim),
			  fmt_unit(b[2], sizeof(b[2]), jnum(dj, "burst_mean"), dim),
			  fmt_prob(b[3], sizeof(b[3]), jnum(dj, "probability")),
			  fmt_prob(b[4], sizeof(b[4]), jnum(dj, "bound")),
			  fmt_unit(b[5], sizeof(b[5]), jnum(dj, "free"), dim),
			  unit_of_dim(dim).label);
	}
	table_print(&t, "  ");
	table_free(&t);

	table_init(&t, 6, "lrlrll");
	table_add(&t, "DIM", "LEASE", "HOLDER", "HELD", "STATE", "UNTIL");
	for (size_t i = 0; i < jlen(dims); i++) {
		struct json_object *dj = json_object_array_get_idx(dims, i);
		struct json_object *ls = jget(dj, "leases");
		const char *dim = jstr(dj, "dim");

		for (size_t k = 0; k < jlen(ls); k++) {
			struct json_object *l = json_object_array_get_idx(ls, k);
			char id[32], held[32], until[48];

			snprintf(id, sizeof(id), "%.0f", jnum(l, "id"));
			table_add(&t, dim, id, holder_shown(l),
				  fmt_unit(held, sizeof(held), jnum(l, "held"), dim),
				  jstr(l, "state"), fmt_until(until, sizeof(until), l));
		}
	}
	if (t.n_rows > 1) {
		printf("\nHeld by\n");
		table_print(&t, "  ");
	}
	table_free(&t);
}

/* ---- explanations ---------------------------------------------------------- */

static void explanation_show(const char *title, struct json_object *e, FILE *f)
{
	struct json_object *dims = jget(e, "dims");
	struct table t;

	fprintf(f, "%s: %s (%s%s%.0f pinned core(s)): %s\n", title, jstr(e, "verdict"),
		jstr(e, "class"), ", ", jnum(e, "pinned_cores"),
		jstr(e, "reason")[0] ? jstr(e, "reason") : "-");
	if (jlen(dims) == 0)
		return;
	table_init(&t, 10, "lrrrrrrrll");
	table_add(&t, "DIM", "REQUEST", "CAPACITY", "HELD", "BURST-MEAN", "BURST-SD", "P(EXCEED)",
		  "BOUND", "VERDICT", "REASON");
	for (size_t i = 0; i < jlen(dims); i++) {
		struct json_object *d = json_object_array_get_idx(dims, i);
		const char *dim = jstr(d, "dim");
		char b[7][32];

		table_add(&t, dim, fmt_unit(b[0], sizeof(b[0]), jnum(d, "request"), dim),
			  fmt_unit(b[1], sizeof(b[1]), jnum(d, "capacity"), dim),
			  fmt_unit(b[2], sizeof(b[2]), jnum(d, "held"), dim),
			  fmt_unit(b[3], sizeof(b[3]), jnum(d, "demand_mean"), dim),
			  fmt_unit(b[4], sizeof(b[4]), jnum(d, "demand_sd"), dim),
			  fmt_prob(b[5], sizeof(b[5]), jnum(d, "probability")),
			  fmt_prob(b[6], sizeof(b[6]), jnum(d, "bound")), jstr(d, "verdict"),
			  jstr(d, "reason"));
	}
	fflush(stdout); /* refusals go to stderr: keep the order on a terminal */
	table_fprint(f, &t, "  ");
	table_free(&t);
	fprintf(f, "  (units: cpu cores, mem MiB, hugepages pages, net and disk kbit/s; "
		   "P(EXCEED) = P(held + burstable demand > capacity))\n");
}

/* ok:false: the message on stderr; with --json also the whole reply on stdout. */
static int reply_failed(const struct ctl_target *t, struct json_object *reply)
{
	fprintf(stderr, "%s: %s\n", program, jstr(reply, "error"));
	if (t->json)
		print_json(reply);
	else if (jget(reply, "explanation"))
		explanation_show("Decision", jget(reply, "explanation"), stderr);
	return EXIT_FAILURE;
}

static int read_request_file(const char *path, struct json_object **ret)
{
	_cleanup_free_ char *buf = NULL;
	struct json_object *o;
	size_t len = 0;

	if (!strcmp(path, "-")) {
		buf = malloc(REQUEST_FILE_MAX + 1);
		if (!buf)
			return -ENOMEM;
		len = fread(buf, 1, REQUEST_FILE_MAX + 1, stdin);
		if (len > REQUEST_FILE_MAX)
			return -EFBIG;
		buf[len] = '\0';
	} else {
		int r = util_file_read(path, REQUEST_FILE_MAX, &buf, &len);

		if (r < 0)
			return r;
	}
	o = json_tokener_parse(buf);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -EBADMSG;
	}
	*ret = o;
	return 0;
}

static int cmd_explain(const struct ctl_target *t, int argc, char **argv)
{
	static const struct option options[] = {
		{ "request", required_argument, NULL, 'r' },
		{ "id", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_json_ struct json_object *req = request_new("explain");
	_cleanup_json_ struct json_object *reply = NULL;
	const char *file = NULL;
	struct json_object *d;
	uint64_t id = 0;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+r:i:h", options, NULL)) >= 0) {
		switch (c) {
		case 'r':
			file = optarg;
			break;
		case 'i':
			if (util_parse_u64(optarg, &id) < 0 || id == 0)
				return usage_error("invalid --id '%s': a lease id as '%s "
						   "reservations' shows it",
						   optarg, program);
			break;
		case 'h':
			ctl_reservations_help(stdout);
			return 0;
		default:
			return usage_error("'reservations explain' takes a VM, --id ID or "
					   "--request FILE|-");
		}
	}
	if (!req)
		return EXIT_FAILURE;
	if ((file != NULL) + (id != 0) + (optind < argc) != 1 || optind + 1 < argc)
		return usage_error("'reservations explain' takes one of: a VM name or UUID, "
				   "--id ID, --request FILE|- (e.g. '%s reservations explain "
				   "web1')",
				   program);
	if (file) {
		struct json_object *body;

		r = read_request_file(file, &body);
		if (r < 0) {
			fprintf(stderr,
				"%s: cannot read a JSON request object from '%s': %s; it looks "
				"like {\"class\":\"burstable\",\"items\":[{\"dim\":\"cpu\","
				"\"mean\":2,\"sd\":0.5,\"upper\":3}]}\n",
				program, file,
				r == -EBADMSG ? "not a JSON object"
				: r == -EFBIG ? "larger than 64 KiB"
					      : strerror(-r));
			return EXIT_FAILURE;
		}
		/* A saved reserve request works as is. */
		json_object_object_del(body, "cmd");
		json_object_object_add(req, "request", body);
	} else if (id) {
		json_object_object_add(req, "id", json_object_new_uint64(id));
	} else {
		json_object_object_add(req, "vm", json_object_new_string(argv[optind]));
	}
	r = call(t, req, &reply);
	if (r)
		return r;
	if (!jbool(reply, "ok"))
		return reply_failed(t, reply);
	d = jget(reply, "data");
	if (t->json) {
		print_json(d);
		return 0;
	}
	if (file) {
		explanation_show("Decided now (nothing was reserved)", jget(d, "explanation"),
				 stdout);
		printf("  (ledger generation %.0f)\n", jnum(d, "generation"));
		return 0;
	}
	{
		struct json_object *ls = jget(d, "lease");
		char until[48];

		printf("Lease %.0f of %s%s%s%s: %s, %s, %s, %s\n", jnum(ls, "id"), holder_shown(ls),
		       jstr(ls, "holder_name")[0] ? " (" : "",
		       jstr(ls, "holder_name")[0] ? jstr(ls, "holder") : "",
		       jstr(ls, "holder_name")[0] ? ")" : "", jstr(ls, "kind"), jstr(ls, "class"),
		       jstr(ls, "state"), fmt_until(until, sizeof(until), ls));
		if (jget(d, "granted"))
			explanation_show("As granted", jget(d, "granted"), stdout);
		else
			printf("As granted: not known (the daemon restarted since; it is "
			       "recorded again at the next change)\n");
		explanation_show("Decided again now, against every other lease", jget(d, "now"),
				 stdout);
	}
	return 0;
}

static int cmd_reservations(const struct ctl_target *t, int argc, char **argv)
{
	_cleanup_json_ struct json_object *req = request_new("reservations");
	_cleanup_json_ struct json_object *reply = NULL;
	int r;

	if (argc > 1 && !strcmp(argv[1], "explain"))
		return cmd_explain(t, argc - 1, argv + 1);
	if (argc > 1)
		return usage_error("'reservations' takes no argument but 'explain' (got '%s')",
				   argv[1]);
	if (!req)
		return EXIT_FAILURE;
	r = call(t, req, &reply);
	if (r)
		return r;
	if (!jbool(reply, "ok"))
		return reply_failed(t, reply);
	if (t->json) {
		print_json(jget(reply, "data"));
		return 0;
	}
	return show_reservations(jget(reply, "data"));
}

/* ---- reserve ------------------------------------------------------------- */

/* "1.5" or "1.5:2" into mean and upper (upper defaults to mean, never below it). */
static int parse_mean_upper(const char *s, double *ret_mean, double *ret_upper)
{
	char buf[64], *colon;
	double mean, upper;

	if (util_strlcpy(buf, s, sizeof(buf)) < 0)
		return -EINVAL;
	colon = strchr(buf, ':');
	if (colon)
		*colon = '\0';
	if (util_parse_double(buf, &mean) < 0 || !isfinite(mean) || mean < 0)
		return -EINVAL;
	upper = mean;
	if (colon && (util_parse_double(colon + 1, &upper) < 0 || !isfinite(upper) || upper < mean))
		return -EINVAL;
	*ret_mean = mean;
	*ret_upper = upper;
	return 0;
}

/* "500M", "1G", "2000k", "2000" (kbit/s) into kbit/s. */
static int parse_rate_kbps(const char *s, double *ret)
{
	char buf[64];
	double v, scale = 1;
	size_t n;

	if (util_strlcpy(buf, s, sizeof(buf)) < 0)
		return -EINVAL;
	n = strlen(buf);
	if (n > 5 && !strcmp(buf + n - 5, "bit/s"))
		buf[n - 5] = '\0';
	else if (n > 3 && !strcmp(buf + n - 3, "bit"))
		buf[n - 3] = '\0';
	n = strlen(buf);
	if (n > 1 && (buf[n - 1] == 'k' || buf[n - 1] == 'K'))
		scale = 1, buf[n - 1] = '\0';
	else if (n > 1 && buf[n - 1] == 'M')
		scale = 1e3, buf[n - 1] = '\0';
	else if (n > 1 && buf[n - 1] == 'G')
		scale = 1e6, buf[n - 1] = '\0';
	if (util_parse_double(buf, &v) < 0 || !isfinite(v) || v < 0)
		return -EINVAL;
	*ret = v * scale;
	return 0;
}

static int item_add(struct json_object *items, const char *dim, double mean, double upper,
		    double sd)
{
	struct json_object *it = json_object_new_object();

	for (size_t i = 0; i < json_object_array_length(items); i++)
		if (!strcmp(jstr(json_object_array_get_idx(items, i), "dim"), dim)) {
			json_object_put(it);
			return usage_error("dimension '%s' given twice", dim);
		}
	json_object_object_add(it, "dim", json_object_new_string(dim));
	json_object_object_add(it, "mean", json_object_new_double(mean));
	if (sd > 0)
		json_object_object_add(it, "sd", json_object_new_double(sd));
	json_object_object_add(it, "upper", json_object_new_double(upper));
	json_object_array_add(items, it);
	return 0;
}

static bool looks_like_uuid(const char *s)
{
	return util_uuid_valid(s);
}

struct reserve_args {
	const char *holder;
	bool migration;
	const char *cls;
	const char *cpu, *memory, *net, *pin;
	const char *dims[8];
	size_t n_dims;
	uint64_t for_usec;
	uint64_t generation;
	bool has_generation;
};

/* The reservations reply's dimension names: for --net and for the generation. */
static int ledger_read(const struct ctl_target *t, struct json_object **ret_data_reply)
{
	_cleanup_json_ struct json_object *req = request_new("reservations");
	struct json_object *reply = NULL;
	int r;

	if (!req)
		return EXIT_FAILURE;
	r = call(t, req, &reply);
	if (r)
		return r;
	if (!jbool(reply, "ok")) {
		r = reply_failed(t, reply);
		json_object_put(reply);
		return r;
	}
	*ret_data_reply = reply;
	return 0;
}

static int cmd_reserve(const struct ctl_target *t, int argc, char **argv)
{
	static const struct option options[] = {
		{ "holder", required_argument, NULL, 'H' },
		{ "migration", no_argument, NULL, 'm' },
		{ "class", required_argument, NULL, 'C' },
		{ "cpu", required_argument, NULL, 'u' },
		{ "memory", required_argument, NULL, 'M' },
		{ "net", required_argument, NULL, 'n' },
		{ "dim", required_argument, NULL, 'd' },
		{ "pin", required_argument, NULL, 'p' },
		{ "for", required_argument, NULL, 'f' },
		{ "generation", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_json_ struct json_object *items = json_object_new_array();
	_cleanup_json_ struct json_object *ledger = NULL, *reply = NULL, *req = NULL;
	struct reserve_args a = { .cls = "guaranteed" };
	char holder[64], vm_name[256] = "";
	uint64_t start_usec;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+H:mC:u:M:n:d:p:f:g:h", options, NULL)) >= 0) {
		switch (c) {
		case 'H':
			a.holder = optarg;
			break;
		case 'm':
			a.migration = true;
			break;
		case 'C':
			a.cls = optarg;
			if (strcmp(a.cls, "guaranteed") && strcmp(a.cls, "burstable") &&
			    strcmp(a.cls, "best-effort"))
				return usage_error("invalid --class '%s': guaranteed, burstable or "
						   "best-effort",
						   optarg);
			break;
		case 'u':
			a.cpu = optarg;
			break;
		case 'M':
			a.memory = optarg;
			break;
		case 'n':
			a.net = optarg;
			break;
		case 'd':
			if (a.n_dims == ARRAY_SIZE(a.dims))
				return usage_error("at most %zu --dim options", ARRAY_SIZE(a.dims));
			a.dims[a.n_dims++] = optarg;
			break;
		case 'p':
			a.pin = optarg;
			break;
		case 'f':
			if (util_parse_duration_usec(optarg, &a.for_usec) < 0 || a.for_usec == 0)
				return usage_error("invalid --for '%s': a duration, e.g. 30m or 2h",
						   optarg);
			break;
		case 'g':
			if (util_parse_u64(optarg, &a.generation) < 0)
				return usage_error("invalid --generation '%s': the number '%s "
						   "reservations' shows",
						   optarg, program);
			a.has_generation = true;
			break;
		case 'h':
			ctl_reservations_help(stdout);
			return 0;
		default:
			return usage_error("see the options of 'reserve' in '%s --help'", program);
		}
	}
	if (optind < argc)
		return usage_error("'reserve' takes options only (got '%s')", argv[optind]);
	if (!a.holder)
		return usage_error("'reserve' needs --holder: a VM's name or UUID, or with "
				   "--migration an incoming migration's id, e.g. '%s reserve "
				   "--holder mig-42 --migration --cpu 2 --memory 4G --for 30m'",
				   program);
	if (!a.cpu && !a.memory && !a.net && !a.n_dims && !a.pin)
		return usage_error("'reserve' reserves nothing: give --cpu, --memory, --net, "
				   "--dim or --pin");
	if (!items)
		return EXIT_FAILURE;

	/* Check what can be checked before asking the daemon anything. */
	if (a.cpu) {
		double mean, upper;

		if (parse_mean_upper(a.cpu, &mean, &upper) < 0)
			return usage_error("invalid --cpu '%s': CORES or CORES:UPPER, e.g. 2 or "
					   "1.5:2.5 (UPPER >= CORES)",
					   a.cpu);
		r = item_add(items, "cpu", mean, upper, (upper - mean) / Z95);
		if (r)
			return r;
	}
	if (a.memory) {
		uint64_t bytes;

		if (util_parse_size_bytes(a.memory, &bytes) < 0)
			return usage_error("invalid --memory '%s': a size, e.g. 4G or 512M",
					   a.memory);
		r = item_add(items, "mem", (double)bytes, (double)bytes, 0);
		if (r)
			return r;
	}
	for (size_t i = 0; i < a.n_dims; i++) {
		char name[64];
		const char *eq = strchr(a.dims[i], '=');
		double mean, upper;

		if (!eq || eq == a.dims[i] || (size_t)(eq - a.dims[i]) >= sizeof(name) ||
		    parse_mean_upper(eq + 1, &mean, &upper) < 0)
			return usage_error("invalid --dim '%s': NAME=MEAN[:UPPER] in the "
					   "dimension's unit, e.g. hugepages-2048kB:node0=512",
					   a.dims[i]);
		snprintf(name, sizeof(name), "%.*s", (int)(eq - a.dims[i]), a.dims[i]);
		r = item_add(items, name, mean, upper, (upper - mean) / Z95);
		if (r)
			return r;
	}
	if (util_strlcpy(holder, a.holder, sizeof(holder)) < 0)
		return usage_error("--holder '%s' is too long: at most 63 characters", a.holder);

	/* A VM named by its name: the ledger holds it by UUID. */
	if (!a.migration && !looks_like_uuid(holder)) {
		_cleanup_json_ struct json_object *vreq = request_new("vm");
		_cleanup_json_ struct json_object *vreply = NULL;

		if (!vreq)
			return EXIT_FAILURE;
		json_object_object_add(vreq, "vm", json_object_new_string(holder));
		json_object_object_add(vreq, "samples", json_object_new_int(1));
		r = call(t, vreq, &vreply);
		if (r)
			return r;
		if (!jbool(vreply, "ok")) {
			fprintf(stderr,
				"%s: %s; to reserve for an incoming migration add --migration\n",
				program, jstr(vreply, "error"));
			return EXIT_FAILURE;
		}
		snprintf(vm_name, sizeof(vm_name), "%s", holder);
		util_strlcpy(holder, jstr(jget(vreply, "data"), "uuid"), sizeof(holder));
	}

	for (int attempt = 0;; attempt++) {
		struct json_object *d;

		json_object_put(ledger);
		ledger = NULL;
		if (!a.has_generation || a.net) {
			r = ledger_read(t, &ledger);
			if (r)
				return r;
		}
		if (!a.has_generation) {
			a.generation = (uint64_t)jnum(jget(ledger, "data"), "generation");
			fprintf(t->json ? stderr : stdout,
				"Using the ledger's generation %llu (read just now).\n",
				(unsigned long long)a.generation);
		}
		if (a.net && attempt == 0) {
			struct json_object *usage = jget(jget(ledger, "data"), "usage");
			const char *found = NULL;
			int n = 0;
			double kbps;

			if (parse_rate_kbps(a.net, &kbps) < 0)
				return usage_error("invalid --net '%s': kbit/s, or with k, M or G "
						   "(bit/s), e.g. 500M",
						   a.net);
			if (usage && json_object_is_type(usage, json_type_object)) {
				json_object_object_foreach(usage, dim, u)
				{
					(void)u;
					if (!strncmp(dim, "net:", 4)) {
						found = dim;
						n++;
					}
				}
			}
			if (n != 1) {
				fprintf(stderr,
					"%s: --net needs exactly one net:* dimension in the pool, "
					"this host has %d; use --dim net:IFACE=KBPS (see '%s "
					"reservations')\n",
					program, n, program);
				return EXIT_FAILURE;
			}
			r = item_add(items, found, kbps, kbps, 0);
			if (r)
				return r;
		}

		json_object_put(req);
		req = request_new("reserve");
		if (!req)
			return EXIT_FAILURE;
		json_object_object_add(req, "holder", json_object_new_string(holder));
		json_object_object_add(req, "kind",
				       json_object_new_string(a.migration ? "migration" : "vm"));
		json_object_object_add(req, "class", json_object_new_string(a.cls));
		json_object_object_add(req, "generation", json_object_new_uint64(a.generation));
		if (a.for_usec) {
			start_usec = util_realtime_usec();
			json_object_object_add(req, "start_usec",
					       json_object_new_uint64(start_usec));
			json_object_object_add(req, "end_usec",
					       json_object_new_uint64(start_usec + a.for_usec));
		}
		if (a.pin)
			json_object_object_add(req, "pinned", json_object_new_string(a.pin));
		json_object_object_add(req, "items", json_object_get(items));

		json_object_put(reply);
		reply = NULL;
		r = call(t, req, &reply);
		if (r)
			return r;
		if (!jbool(reply, "ok")) {
			if (!a.has_generation && !strcmp(jstr(reply, "code"), "stale") &&
			    attempt + 1 < RESERVE_RETRIES) {
				fprintf(t->json ? stderr : stdout,
					"The ledger moved on to generation %.0f meanwhile: "
					"retrying.\n",
					jnum(reply, "generation"));
				continue;
			}
			return reply_failed(t, reply);
		}
		d = jget(reply, "data");
		if (t->json) {
			print_json(d);
			return 0;
		}
		printf("Offered lease %.0f to %s%s%s%s (generation %.0f). Confirm it within the "
		       "offer's time-to-live: '%s confirm %.0f'.\n",
		       jnum(d, "id"), vm_name[0] ? vm_name : holder, vm_name[0] ? " (" : "",
		       vm_name[0] ? holder : "", vm_name[0] ? ")" : "", jnum(d, "generation"),
		       program, jnum(d, "id"));
		explanation_show("Decision", jget(d, "explanation"), stdout);
		return 0;
	}
}

/* ---- confirm, activate, release ------------------------------------------ */

static int cmd_lease(const struct ctl_target *t, int argc, char **argv)
{
	_cleanup_json_ struct json_object *req = request_new(argv[0]);
	_cleanup_json_ struct json_object *reply = NULL;
	struct json_object *d;
	uint64_t id;
	int r;

	if (argc != 2)
		return usage_error("'%s' takes one lease id, e.g. '%s %s 7' (ids: '%s "
				   "reservations')",
				   argv[0], program, argv[0], program);
	if (util_parse_u64(argv[1], &id) < 0 || id == 0)
		return usage_error("invalid lease id '%s': a number as '%s reservations' shows",
				   argv[1], program);
	if (!req)
		return EXIT_FAILURE;
	json_object_object_add(req, "id", json_object_new_uint64(id));
	r = call(t, req, &reply);
	if (r)
		return r;
	if (!jbool(reply, "ok"))
		return reply_failed(t, reply);
	d = jget(reply, "data");
	if (t->json)
		print_json(d);
	else
		printf("Lease %.0f is %s (ledger generation %.0f).\n", jnum(d, "id"),
		       jstr(d, "state"), jnum(d, "generation"));
	return 0;
}

bool ctl_reservations_handles(const char *cmd)
{
	return !strcmp(cmd, "reservations") || !strcmp(cmd, "reserve") || !strcmp(cmd, "confirm") ||
	       !strcmp(cmd, "activate") || !strcmp(cmd, "release");
}

int ctl_reservations_main(const struct ctl_target *t, int argc, char **argv)
{
	int r;

	if (!strcmp(argv[0], "reservations"))
		r = cmd_reservations(t, argc, argv);
	else if (!strcmp(argv[0], "reserve"))
		r = cmd_reserve(t, argc, argv);
	else
		r = cmd_lease(t, argc, argv);
	if (r == 0 && fflush(stdout) != 0)
		return EXIT_FAILURE;
	return r;
}
