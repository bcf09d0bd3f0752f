// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The safety loop: persistence, hysteresis, cool-down, caps by room and by
 * maximum, best effort never raised, migration flags, host shortness, the
 * demand estimate, the room search against admission, and one tick's order
 * and sharing of the last room.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "alloc-test-util.h"
#include "cleanup.h"
#include "safety.h"
#include "tap.h"

#define SEC   1000000ULL
#define GIB   (1024.0 * 1024.0 * 1024.0)
#define NOPSI NAN

static struct safety_signal sig_make(double used, double alloc, double max, double psi)
{
	return (struct safety_signal){ .dim = SAFETY_DIM_NONE,
				       .used = used,
				       .alloc = alloc,
				       .max = max,
				       .psi_some = psi,
				       .psi_share = NAN };
}

static void test_params(void)
{
	struct safety_params p;

	safety_params_default(&p);
	check_int_eq(safety_params_validate(&p), 0);
	check_int_eq(p.persist_ticks, 2);
	check(p.cooldown_usec == 10 * SEC);
	check_double_near(p.raise_step, 1.25, 0);
	check_double_near(p.psi_threshold[SAFETY_RES_CPU], 20, 0);
	check_double_near(p.psi_threshold[SAFETY_RES_MEM], 10, 0);
	check_double_near(p.psi_threshold[SAFETY_RES_IO], 30, 0);

	for (int k = 0; k < 16; k++) {
		safety_params_default(&p);
		switch (k) {
		case 0:
			p.psi_threshold[SAFETY_RES_CPU] = 0;
			break;
		case 1:
			p.psi_threshold[SAFETY_RES_IO] = 101;
			break;
		case 2:
			p.psi_threshold[SAFETY_RES_MEM] = NAN;
			break;
		case 3:
			p.host_psi_threshold[SAFETY_RES_CPU] = -1;
			break;
		case 4:
			p.clear_ratio = 0;
			break;
		case 5:
			p.clear_ratio = 1.5;
			break;
		case 6:
			p.persist_ticks = 0;
			break;
		case 7:
			p.host_persist_ticks = 0;
			break;
		case 8:
			p.tick_usec = 0;
			break;
		case 9:
			p.raise_step = 1.0;
			break;
		case 10:
			p.raise_step = INFINITY;
			break;
		case 11:
			p.min_raise_ratio = -0.1;
			break;
		case 12:
			p.min_raise_ratio = 0.3; /* no raise of step 1.25 could pass it */
			break;
		case 13:
			p.capped_ratio = 0;
			break;
		case 14:
			p.max_stall_share = 1;
			break;
		case 15:
			p.max_stall_share = NAN;
			break;
		}
		if (safety_params_validate(&p) != -EINVAL) {
			fprintf(stderr, "bad params case %d accepted\n", k);
			test_failures++;
		}
	}
}

static void test_strings(void)
{
	for (int r = 0; r < SAFETY_NR_RES; r++)
		check(strcmp(safety_res_to_string(r), "unknown"));
	for (int a = 0; a < SAFETY_NR_ACTIONS; a++)
		check(strcmp(safety_action_to_string(a), "unknown"));
	for (int w = 0; w < SAFETY_NR_WHYS; w++)
		check(strcmp(safety_why_to_string(w), "unknown"));
	check_str_eq(safety_res_to_string(SAFETY_NR_RES), "unknown");
	check_str_eq(safety_action_to_string(SAFETY_NR_ACTIONS), "unknown");
	check_str_eq(safety_why_to_string(SAFETY_NR_WHYS), "unknown");
	check_str_eq(safety_action_to_string(SAFETY_FLAG_MIGRATE), "flag-migrate");
	check_str_eq(safety_res_to_string(SAFETY_RES_MEM), "memory");
}

static void test_hidden_demand(void)
{
	static const struct {
		double used, share, max, max_share, expect;
	} cases[] = {
		{ 0.5, 0.5, 4, 0.9, 1.0 },	/* throttled half the time: wanted twice */
		{ 2, 0.5, 4, 0.9, 4 },		/* exactly its vCPUs */
		{ 2, 0.75, 4, 0.9, 4 },		/* 8 bounded by 4 vCPUs */
		{ 1, 0.99, INFINITY, 0.9, 10 }, /* share clamped to 0.9 */
		{ 1, 1.5, INFINITY, 0.9, 10 },	/* a bad share is clamped too */
		{ 1, 0, 4, 0.9, 1 },		/* no stall: what it used */
		{ 1, -0.2, 4, 0.9, 1 },		/* negative share: what it used */
		{ 3, 0.5, 2, 0.9, 3 },		/* never below what it used */
		{ 0, 0.5, 4, 0.9, 0 },		/* nothing used, nothing hidden */
		{ 1, 0.5, NAN, 0.9, 2 },	/* unknown max: unbounded */
		{ NAN, 0.5, 4, 0.9, NAN },	/* unknown use: no estimate */
		{ 1, NAN, 4, 0.9, NAN },	/* unknown share: no estimate */
		{ INFINITY, 0.5, 4, 0.9, NAN }, /* nonsense use */
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		double v = safety_hidden_demand(cases[i].used, cases[i].share, cases[i].max,
						cases[i].max_share);

		if (isnan(cases[i].expect)) {
			if (!isnan(v)) {
				fprintf(stderr, "hidden case %zu: %g, expected NAN\n", i, v);
				test_failures++;
			}
			continue;
		}
		if (!(fabs(v - cases[i].expect) < 1e-9)) {
			fprintf(stderr, "hidden case %zu: %g, expected %g\n", i, v,
				cases[i].expect);
			test_failures++;
		}
		/* Bounds: at least what was used, at most the maximum (when above use). */
		check(v >= cases[i].used);
		if (cases[i].max >= cases[i].used)
			check(v <= cases[i].max);
	}
}

/* Persistence and hysteresis: one sequence of readings per case, one tick a second. */
static void test_persistence(void)
{
	static const struct {
		const char *name;
		uint32_t persist;
		int n;
		double psi[6];
		enum safety_why why[6];
		uint32_t streak[6];
	} cases[] = {
		{ "two ticks act",
		  2,
		  3,
		  { 34, 34, 34 },
		  { SAFETY_WHY_PENDING, SAFETY_WHY_RAISED, SAFETY_WHY_COOLDOWN },
		  { 1, 2, 3 } },
		{ "one noisy tick never acts",
		  2,
		  4,
		  { 34, 5, 34, 5 },
		  { SAFETY_WHY_PENDING, SAFETY_WHY_OK, SAFETY_WHY_PENDING, SAFETY_WHY_OK },
		  { 1, 0, 1, 0 } },
		{ "unmeasured breaks the streak",
		  2,
		  4,
		  { 34, NOPSI, 34, 34 },
		  { SAFETY_WHY_PENDING, SAFETY_WHY_OK, SAFETY_WHY_PENDING, SAFETY_WHY_RAISED },
		  { 1, 0, 1, 2 } },
		{ "the band does not start it",
		  2,
		  3,
		  { 15, 15, 19.9 },
		  { SAFETY_WHY_OK, SAFETY_WHY_OK, SAFETY_WHY_OK },
		  { 0, 0, 0 } },
		{ "the band before acting resets",
		  2,
		  3,
		  { 34, 15, 34 },
		  { SAFETY_WHY_PENDING, SAFETY_WHY_OK, SAFETY_WHY_PENDING },
		  { 1, 0, 1 } },
		{ "the band keeps it starved, below clears",
		  2,
		  5,
		  { 34, 34, 15, 9, 34 },
		  { SAFETY_WHY_PENDING, SAFETY_WHY_RAISED, SAFETY_WHY_COOLDOWN, SAFETY_WHY_OK,
		    SAFETY_WHY_PENDING },
		  { 1, 2, 3, 0, 1 } },
		{ "persist 1 acts at once", 1, 1, { 34 }, { SAFETY_WHY_RAISED }, { 1 } },
		{ "persist 3",
		  3,
		  3,
		  { 34, 34, 34 },
		  { SAFETY_WHY_PENDING, SAFETY_WHY_PENDING, SAFETY_WHY_RAISED },
		  { 1, 2, 3 } },
		{ "exactly the threshold counts",
		  2,
		  2,
		  { 20, 20 },
		  { SAFETY_WHY_PENDING, SAFETY_WHY_RAISED },
		  { 1, 2 } },
	};
	struct safety_params p;

	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		struct safety_res_state st = { 0 };

		safety_params_default(&p);
		p.persist_ticks = cases[c].persist;
		for (int t = 0; t < cases[c].n; t++) {
			struct safety_signal s = sig_make(1, 1, 4, cases[c].psi[t]);
			struct safety_res_decision d;
			struct safety_res_state next;
			int r;

			r = safety_res_decide(&p, POOL_CLASS_GUARANTEED, SAFETY_RES_CPU, false, &s,
					      &st, INFINITY, (uint64_t)(t + 1) * SEC, &d, &next);
			check_int_eq(r, 0);
			if (d.why != cases[c].why[t] || next.starved_ticks != cases[c].streak[t]) {
				fprintf(stderr,
					"%s, tick %d: %s streak %u, expected %s streak %u (%s)\n",
					cases[c].name, t, safety_why_to_string(d.why),
					next.starved_ticks, safety_why_to_string(cases[c].why[t]),
					cases[c].streak[t], d.reason);
				test_failures++;
			}
			check((d.action == SAFETY_RAISE) == (d.why == SAFETY_WHY_RAISED));
			if (d.why == SAFETY_WHY_OK || d.why == SAFETY_WHY_PENDING ||
			    d.why == SAFETY_WHY_COOLDOWN)
				check(d.action == SAFETY_NONE && d.to == d.from);
			st = next;
		}
	}
}

/* Raises at most once per cool-down while starvation lasts, then again. */
static void test_cooldown(void)
{
	struct safety_params p;
	struct safety_res_state st = { 0 };
	double alloc = 1;
	int raises = 0;
	uint64_t raised_at[4] = { 0 };

	safety_params_default(&p);
	for (uint64_t t = 1; t <= 25; t++) {
		struct safety_signal s = sig_make(alloc, alloc, 64, 34);
		struct safety_res_decision d;
		struct safety_res_state next;

		check_int_eq(safety_res_decide(&p, POOL_CLASS_BURSTABLE, SAFETY_RES_CPU, false, &s,
					       &st, INFINITY, t * SEC, &d, &next),
			     0);
		if (d.action == SAFETY_RAISE) {
			check(d.to > alloc);
			if (raises < 4)
				raised_at[raises] = t;
			raises++;
			alloc = d.to; /* the caller applied it */
		} else if (t > 2) {
			check_int_eq(d.why, SAFETY_WHY_COOLDOWN);
		}
		st = next;
	}
	check_int_eq(raises, 3);
	check_int_eq(raised_at[0], 2);
	check_int_eq(raised_at[1], 12);
	check_int_eq(raised_at[2], 22);

	/* A flag for migration is rate-limited the same way. */
	memset(&st, 0, sizeof(st));
	raises = 0;
	for (uint64_t t = 1; t <= 12; t++) {
		struct safety_signal s = sig_make(1, 1, 4, 34);
		struct safety_res_decision d;

		check_int_eq(safety_res_decide(&p, POOL_CLASS_BEST_EFFORT, SAFETY_RES_CPU, false,
					       &s, &st, INFINITY, t * SEC, &d, &st),
			     0);
		raises += d.action == SAFETY_FLAG_MIGRATE;
	}
	check_int_eq(raises, 2); /* t = 2 and t = 12 */
}

/* One persistent tick of starvation per case: what is decided and to what. */
static void test_decide_table(void)
{
	static const struct {
		const char *name;
		enum pool_class cls;
		enum safety_res res;
		bool host_short;
		double used, alloc, max, psi, room;
		enum safety_action action;
		enum safety_why why;
		double to;
		bool uncovered;
	} cases[] = {
		{ "raise to the estimate", POOL_CLASS_GUARANTEED, SAFETY_RES_CPU, false, 0.5, 0.5,
		  4, 34, INFINITY, SAFETY_RAISE, SAFETY_WHY_RAISED, 0.5 / 0.66, false },
		{ "raise by the step when larger", POOL_CLASS_BURSTABLE, SAFETY_RES_CPU, false,
		  0.46, 0.5, 4, 25, INFINITY, SAFETY_RAISE, SAFETY_WHY_RAISED, 0.625, false },
		{ "capped by room", POOL_CLASS_GUARANTEED, SAFETY_RES_CPU, false, 0.5, 0.5, 4, 34,
		  0.1, SAFETY_RAISE, SAFETY_WHY_RAISED, 0.6, true },
		{ "room larger than needed", POOL_CLASS_GUARANTEED, SAFETY_RES_CPU, false, 0.5, 0.5,
		  4, 34, 0.3, SAFETY_RAISE, SAFETY_WHY_RAISED, 0.5 / 0.66, false },
		{ "capped by max", POOL_CLASS_GUARANTEED, SAFETY_RES_CPU, false, 0.5, 0.5, 0.6, 34,
		  INFINITY, SAFETY_RAISE, SAFETY_WHY_RAISED, 0.6, false },
		{ "no room", POOL_CLASS_GUARANTEED, SAFETY_RES_CPU, false, 0.5, 0.5, 4, 34, 0,
		  SAFETY_FLAG_MIGRATE, SAFETY_WHY_NO_ROOM, 0.5, false },
		{ "room too small to matter", POOL_CLASS_BURSTABLE, SAFETY_RES_CPU, false, 0.5, 0.5,
		  4, 34, 0.005, SAFETY_FLAG_MIGRATE, SAFETY_WHY_NO_ROOM, 0.5, false },
		{ "negative room is none", POOL_CLASS_BURSTABLE, SAFETY_RES_CPU, false, 0.5, 0.5, 4,
		  34, -1, SAFETY_FLAG_MIGRATE, SAFETY_WHY_NO_ROOM, 0.5, false },
		{ "best effort never raised", POOL_CLASS_BEST_EFFORT, SAFETY_RES_CPU, false, 0.5,
		  0.5, 4, 34, INFINITY, SAFETY_FLAG_MIGRATE, SAFETY_WHY_BEST_EFFORT, 0.5, false },
		{ "best effort, memory", POOL_CLASS_BEST_EFFORT, SAFETY_RES_MEM, false, GIB, GIB,
		  4 * GIB, 50, INFINITY, SAFETY_FLAG_MIGRATE, SAFETY_WHY_BEST_EFFORT, GIB, false },
		{ "burstable on a short host", POOL_CLASS_BURSTABLE, SAFETY_RES_CPU, true, 0.5, 0.5,
		  4, 34, INFINITY, SAFETY_FLAG_MIGRATE, SAFETY_WHY_HOST_SHORT, 0.5, false },
		{ "guaranteed on a short host", POOL_CLASS_GUARANTEED, SAFETY_RES_CPU, true, 0.5,
		  0.5, 4, 34, INFINITY, SAFETY_RAISE, SAFETY_WHY_RAISED, 0.5 / 0.66, false },
		{ "cap does not bind", POOL_CLASS_GUARANTEED, SAFETY_RES_CPU, false, 0.2, 2, 4, 40,
		  INFINITY, SAFETY_FLAG_MIGRATE, SAFETY_WHY_CONTENDED, 2, false },
		{ "at its maximum", POOL_CLASS_GUARANTEED, SAFETY_RES_CPU, false, 4, 4, 4, 40,
		  INFINITY, SAFETY_FLAG_MIGRATE, SAFETY_WHY_CONTENDED, 4, false },
		{ "no cap at all", POOL_CLASS_BURSTABLE, SAFETY_RES_CPU, false, 1, NAN, 4, 40,
		  INFINITY, SAFETY_FLAG_MIGRATE, SAFETY_WHY_CONTENDED, NAN, false },
		{ "unknown use: a step", POOL_CLASS_GUARANTEED, SAFETY_RES_CPU, false, NAN, 0.5, 4,
		  34, INFINITY, SAFETY_RAISE, SAFETY_WHY_RAISED, 0.625, false },
		{ "memory step", POOL_CLASS_GUARANTEED, SAFETY_RES_MEM, false, GIB, GIB, 4 * GIB,
		  12, INFINITY, SAFETY_RAISE, SAFETY_WHY_RAISED, 1.25 * GIB, false },
		{ "memory below its threshold", POOL_CLASS_GUARANTEED, SAFETY_RES_MEM, false, GIB,
		  GIB, 4 * GIB, 9, INFINITY, SAFETY_NONE, SAFETY_WHY_OK, GIB, false },
		{ "io estimate", POOL_CLASS_BURSTABLE, SAFETY_RES_IO, false, 1000, 1000, 1e6, 60,
		  INFINITY, SAFETY_RAISE, SAFETY_WHY_RAISED, 2500, false },
		{ "io below its threshold", POOL_CLASS_BURSTABLE, SAFETY_RES_IO, false, 1000, 1000,
		  1e6, 25, INFINITY, SAFETY_NONE, SAFETY_WHY_OK, 1000, false },
	};
	struct safety_params p;

	safety_params_default(&p);
	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		struct safety_signal s =
			sig_make(cases[c].used, cases[c].alloc, cases[c].max, cases[c].psi);
		struct safety_res_state st = { .starved_ticks = 1 }, next;
		struct safety_res_decision d;
		bool to_ok;

		check_int_eq(safety_res_decide(&p, cases[c].cls, cases[c].res, cases[c].host_short,
					       &s, &st, cases[c].room, 5 * SEC, &d, &next),
			     0);
		to_ok = isnan(cases[c].to) ? isnan(d.to)
					   : fabs(d.to - cases[c].to) <= 1e-9 * fabs(cases[c].to);
		if (d.action != cases[c].action || d.why != cases[c].why || !to_ok ||
		    d.uncovered != cases[c].uncovered) {
			fprintf(stderr, "%s: %s/%s to %.9g uncovered %d (%s)\n", cases[c].name,
				safety_action_to_string(d.action), safety_why_to_string(d.why),
				d.to, d.uncovered, d.reason);
			test_failures++;
		}
		/* Never past the room or the maximum, never down. */
		if (d.action == SAFETY_RAISE) {
			check(d.to > d.from);
			check(d.to <= d.from + fmax(cases[c].room, 0) + 1e-12);
			check(d.to <= cases[c].max);
			check(strstr(d.reason, "raise to"));
		} else {
			check(d.to == d.from || (isnan(d.to) && isnan(d.from)));
		}
		if (d.action != SAFETY_NONE)
			check(next.cooldown_until_usec == 5 * SEC + p.cooldown_usec);
		else
			check(next.cooldown_until_usec == 0);
		check(d.reason[0]);
	}
}

static void test_reason_text(void)
{
	struct safety_params p;
	struct safety_signal s = sig_make(0.5, 0.5, 4, 34);
	struct safety_res_state st = { .starved_ticks = 1 }, next;
	struct safety_res_decision d;

	safety_params_default(&p);
	check_int_eq(safety_res_decide(&p, POOL_CLASS_GUARANTEED, SAFETY_RES_CPU, false, &s, &st,
				       0.3, 2 * SEC, &d, &next),
		     0);
	check_str_eq(d.reason, "cpu PSI some 34.0 % for 2 s at 0.50 of 0.50 cores: raise to "
			       "0.76 cores (risk budget allows 0.80 cores)");
	check_int_eq(safety_res_decide(&p, POOL_CLASS_GUARANTEED, SAFETY_RES_CPU, false, &s, &st, 0,
				       2 * SEC, &d, &next),
		     0);
	check_str_eq(d.reason, "cpu PSI some 34.0 % for 2 s at 0.50 of 0.50 cores: risk budget "
			       "allows no raise (up to 0.50 cores), estimated demand 0.76 cores: "
			       "flag for migration");
	s = sig_make(GIB, GIB, 4 * GIB, 12);
	check_int_eq(safety_res_decide(&p, POOL_CLASS_GUARANTEED, SAFETY_RES_MEM, false, &s, &st,
				       INFINITY, 2 * SEC, &d, &next),
		     0);
	check_str_eq(d.reason, "memory PSI some 12.0 % for 2 s at 1024 of 1024 MiB: raise to "
			       "1280 MiB (risk budget allows unlimited)");
}

/* The censored use and the estimate, on every starved tick, and only then. */
static void test_miss(void)
{
	struct safety_params p;
	struct safety_signal s = sig_make(1, 1, 4, 50);
	struct safety_res_state st = { 0 }, next;
	struct safety_res_decision d;

	safety_params_default(&p);
	check_int_eq(safety_res_decide(&p, POOL_CLASS_GUARANTEED, SAFETY_RES_CPU, false, &s, &st,
				       INFINITY, SEC, &d, &next),
		     0);
	check_int_eq(d.why, SAFETY_WHY_PENDING);
	check(d.miss.valid);
	check_double_near(d.miss.censored, 1, 0);
	check_double_near(d.miss.estimate, 2, 1e-12);
	check_double_near(d.miss.stall_share, 0.5, 1e-12);

	s.psi_some = 5;
	check_int_eq(safety_res_decide(&p, POOL_CLASS_GUARANTEED, SAFETY_RES_CPU, false, &s, &st,
				       INFINITY, SEC, &d, &next),
		     0);
	check(!d.miss.valid);

	/* Best effort is never raised but its demand is still reported. */
	s.psi_some = 50;
	check_int_eq(safety_res_decide(&p, POOL_CLASS_BEST_EFFORT, SAFETY_RES_CPU, false, &s, &st,
				       INFINITY, SEC, &d, &next),
		     0);
	check(d.miss.valid);
	check_double_near(d.miss.estimate, 2, 1e-12);
	/* The share is clamped in the estimate: one reading of 100 % asks for 10x, not infinity. */
	s.psi_some = 100;
	check_int_eq(safety_res_decide(&p, POOL_CLASS_GUARANTEED, SAFETY_RES_CPU, false, &s, &st,
				       INFINITY, SEC, &d, &next),
		     0);
	check(d.miss.valid);
	check_double_near(d.miss.estimate, 4, 1e-12); /* 10 bounded by 4 vCPUs */
}

/* Unmeasured pressure never acts, whatever came before. */
static void test_nan(void)
{
	struct safety_params p;

	safety_params_default(&p);
	for (int cls = 0; cls < POOL_NR_CLASSES; cls++)
		for (int r = 0; r < SAFETY_NR_RES; r++) {
			struct safety_signal s = sig_make(1, 1, 4, NAN);
			struct safety_res_state st = { .starved_ticks = 9 }, next;
			struct safety_res_decision d;

			check_int_eq(safety_res_decide(&p, cls, r, true, &s, &st, INFINITY,
						       100 * SEC, &d, &next),
				     0);
			check_int_eq(d.action, SAFETY_NONE);
			check_int_eq(d.why, SAFETY_WHY_OK);
			check_int_eq(next.starved_ticks, 0);
			check(!d.miss.valid);
			check(isnan(d.pressure));
			check(strstr(d.reason, "not measured"));
		}

	/* The per-tick share, when present, speaks instead of avg10. */
	{
		struct safety_signal s = sig_make(1, 1, 4, NAN);
		struct safety_res_state st = { .starved_ticks = 1 }, next;
		struct safety_res_decision d;

		s.psi_share = 0.5;
		check_int_eq(safety_res_decide(&p, POOL_CLASS_GUARANTEED, SAFETY_RES_CPU, false, &s,
					       &st, INFINITY, SEC, &d, &next),
			     0);
		check_int_eq(d.action, SAFETY_RAISE);
		check_double_near(d.to, 2, 1e-12);
		check(strstr(d.reason, "stalled 50.0 %"));

		s.psi_some = 80; /* avg10 still high from before, the last tick was fine */
		s.psi_share = 0.01;
		check_int_eq(safety_res_decide(&p, POOL_CLASS_GUARANTEED, SAFETY_RES_CPU, false, &s,
					       &st, INFINITY, SEC, &d, &next),
			     0);
		check_int_eq(d.action, SAFETY_NONE);
		check_int_eq(next.starved_ticks, 0);
	}

	/* Bad arguments. */
	{
		struct safety_signal s = sig_make(1, 1, 4, 50);
		struct safety_res_state st = { 0 }, next = { .starved_ticks = 77 };
		struct safety_res_decision d;

		check_int_eq(safety_res_decide(&p, POOL_NR_CLASSES, SAFETY_RES_CPU, false, &s, &st,
					       INFINITY, SEC, &d, &next),
			     -EINVAL);
		check_int_eq(safety_res_decide(&p, POOL_CLASS_GUARANTEED, SAFETY_NR_RES, false, &s,
					       &st, INFINITY, SEC, &d, &next),
			     -EINVAL);
		check_int_eq(safety_res_decide(&p, POOL_CLASS_GUARANTEED, SAFETY_RES_CPU, false, &s,
					       &st, NAN, SEC, &d, &next),
			     -EINVAL);
		check_int_eq(next.starved_ticks, 77); /* untouched on error */
	}
}

static void test_host(void)
{
	static const struct {
		const char *name;
		int n;
		double psi[5][SAFETY_NR_RES];
		bool is_short[5][SAFETY_NR_RES];
	} cases[] = {
		{ "cpu short after two ticks",
		  3,
		  { { 50, 0, 0 }, { 50, 0, 0 }, { 50, 0, 0 } },
		  { { 0, 0, 0 }, { 1, 0, 0 }, { 1, 0, 0 } } },
		{ "band keeps it short, below clears",
		  4,
		  { { 50, 0, 0 }, { 50, 0, 0 }, { 25, 0, 0 }, { 15, 0, 0 } },
		  { { 0, 0, 0 }, { 1, 0, 0 }, { 1, 0, 0 }, { 0, 0, 0 } } },
		{ "memory and io",
		  2,
		  { { 5, 12, 45 }, { 5, 12, 45 } },
		  { { 0, 0, 0 }, { 0, 1, 1 } } },
		{ "one spike is not short",
		  3,
		  { { 90, 90, 90 }, { 1, 1, 1 }, { 90, 90, 90 } },
		  { { 0, 0, 0 }, { 0, 0, 0 }, { 0, 0, 0 } } },
		{ "unmeasured is never short",
		  3,
		  { { NAN, NAN, NAN }, { NAN, NAN, NAN }, { 50, NAN, 50 } },
		  { { 0, 0, 0 }, { 0, 0, 0 }, { 0, 0, 0 } } },
	};
	struct safety_params p;

	safety_params_default(&p);
	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		struct safety_host_state st = { 0 };

		for (int t = 0; t < cases[c].n; t++) {
			struct safety_host_input in;
			struct safety_host_decision d;
			bool any = false;

			memcpy(in.psi_some, cases[c].psi[t], sizeof(in.psi_some));
			check_int_eq(safety_host_decide(&p, &in, &st, &d), 0);
			for (int r = 0; r < SAFETY_NR_RES; r++) {
				any |= cases[c].is_short[t][r];
				if (d.is_short[r] != cases[c].is_short[t][r]) {
					fprintf(stderr, "%s, tick %d, %s: short %d (%s)\n",
						cases[c].name, t, safety_res_to_string(r),
						d.is_short[r], d.reason);
					test_failures++;
				}
			}
			check(d.any_short == any);
			check(any ? strstr(d.reason, "host short on") != NULL
				  : strcmp(d.reason, "host not short") == 0);
			st = d.state;
		}
	}
	/* A host unmeasured after being short is no longer short. */
	{
		struct safety_host_state st = { .short_ticks = { 9, 9, 9 } };
		struct safety_host_input in = { { NAN, NAN, NAN } };
		struct safety_host_decision d;

		check_int_eq(safety_host_decide(&p, &in, &st, &d), 0);
		check(!d.any_short);
	}
}

static struct admit_request req_make(enum pool_class cls, uint32_t dim, double mean, double sd,
				     double upper)
{
	struct admit_request r = { .cls = cls, .n_items = 1 };

	r.items[0] = (struct admit_item){ dim, { mean, sd, upper, 0 } };
	return r;
}

static bool fits(const struct pool *pool, const struct admit_state *with,
		 const struct admit_request *req, uint32_t dim, double delta)
{
	struct admit_state without = *with;
	struct admit_request nr;
	enum admit_verdict v;

	admit_state_apply(&without, pool, req, -1);
	if (safety_request_raise(req, dim, delta, &nr) < 0)
		return false;
	return admit_check(pool, &without, &nr, &v) == 0 && v == ADMIT_ACCEPT;
}

static void test_room(void)
{
	struct pool pool;
	struct admit_state st;
	struct admit_request a, b, c, dd, pinned, be, two;
	double room = -1;

	test_pool(&pool);
	admit_state_init(&st, &pool);
	/* cpu: guaranteed 2 + 5 of 8 cores. */
	a = req_make(POOL_CLASS_GUARANTEED, T_CPU, 1, 0.2, 2);
	b = req_make(POOL_CLASS_GUARANTEED, T_CPU, 5, 0, 5);
	/* mem: burstable N(40, 10) with bound 1 %, plus 20 held whole. */
	c = req_make(POOL_CLASS_BURSTABLE, T_MEM, 40, 10, 60);
	dd = req_make(POOL_CLASS_GUARANTEED, T_MEM, 20, 0, 20);
	admit_state_apply(&st, &pool, &a, +1);
	admit_state_apply(&st, &pool, &b, +1);
	admit_state_apply(&st, &pool, &c, +1);
	admit_state_apply(&st, &pool, &dd, +1);

	check_int_eq(safety_raise_room(&pool, &st, &a, T_CPU, &room), 0);
	check_double_near(room, 1, 1e-6);
	check(fits(&pool, &st, &a, T_CPU, room));
	check(!fits(&pool, &st, &a, T_CPU, room + 1e-3));

	/* Risk-bound: 40 + d + z(0.99) * 10 <= 80 - 20 held. */
	check_int_eq(safety_raise_room(&pool, &st, &c, T_MEM, &room), 0);
	check_double_near(room, 100 - 20 - 40 - risk_normal_quantile(0.99) * 10, 1e-3);
	check(fits(&pool, &st, &c, T_MEM, room));
	check(!fits(&pool, &st, &c, T_MEM, room + 1e-3));

	/* Guaranteed beside a burstable: its raise eats the burstable's tail room. */
	check_int_eq(safety_raise_room(&pool, &st, &dd, T_MEM, &room), 0);
	check(fits(&pool, &st, &dd, T_MEM, room));
	check(!fits(&pool, &st, &dd, T_MEM, room + 1e-3));
	check(room > 0 && room < 40);

	/* Pinned CPU needs cores, not quota: no room. Best effort holds nothing. */
	pinned = req_make(POOL_CLASS_GUARANTEED, T_CPU, 0.5, 0, 1);
	pool_cpuset_parse("7", &pinned.pinned);
	check_int_eq(safety_raise_room(&pool, &st, &pinned, T_CPU, &room), 0);
	check_double_near(room, 0, 0);
	be = req_make(POOL_CLASS_BEST_EFFORT, T_CPU, 1, 0, 1);
	check_int_eq(safety_raise_room(&pool, &st, &be, T_CPU, &room), 0);
	check(isinf(room));

	/* Errors: no item on the dim, a dim out of range, an invalid request. */
	room = 42;
	check_int_eq(safety_raise_room(&pool, &st, &a, T_MEM, &room), -ENOENT);
	check_int_eq(safety_raise_room(&pool, &st, &a, pool.n_dims, &room), -EINVAL);
	two = a;
	two.cls = POOL_NR_CLASSES;
	check_int_eq(safety_raise_room(&pool, &st, &two, T_CPU, &room), -EINVAL);
	check_double_near(room, 42, 0);

	/* Already over: nothing more, even of a tiny raise. */
	{
		struct admit_request big = req_make(POOL_CLASS_GUARANTEED, T_CPU, 2, 0, 2);

		admit_state_apply(&st, &pool, &big, +1); /* 9 of 8 cores */
		check_int_eq(safety_raise_room(&pool, &st, &a, T_CPU, &room), 0);
		check_double_near(room, 0, 0);
	}

	/* A raise on one dimension leaves the others alone. */
	two = a;
	two.n_items = 2;
	two.items[1] = (struct admit_item){ T_NET, { 100, 10, 150, 0 } };
	check_int_eq(safety_request_raise(&two, T_NET, 50, &c), 0);
	check_double_near(c.items[1].demand.upper, 200, 0);
	check_double_near(c.items[1].demand.mean, 150, 0);
	check_double_near(c.items[1].demand.sd, 10, 0);
	check_double_near(c.items[0].demand.upper, 2, 0);
	check_int_eq(safety_request_raise(&two, T_MEM, 1, &c), -ENOENT);
	check_int_eq(safety_request_raise(&two, T_NET, -1, &c), -EINVAL);
	check_int_eq(safety_request_raise(&two, T_NET, NAN, &c), -EINVAL);
}

static void test_state_from_leases(void)
{
	struct pool pool;
	struct lease leases[3] = { 0 };
	struct admit_state got, want;

	test_pool(&pool);
	leases[0].state = LEASE_ACTIVE;
	leases[0].admit = req_make(POOL_CLASS_GUARANTEED, T_CPU, 2, 0, 2);
	leases[1].state = LEASE_RELEASED;
	leases[1].admit = req_make(POOL_CLASS_GUARANTEED, T_CPU, 3, 0, 3);
	leases[2].state = LEASE_OFFERED;
	leases[2].admit = req_make(POOL_CLASS_BURSTABLE, T_MEM, 10, 2, 20);
	check_int_eq(safety_state_from_leases(&pool, leases, 3, &got), 0);
	admit_state_init(&want, &pool);
	admit_state_apply(&want, &pool, &leases[0].admit, +1);
	admit_state_apply(&want, &pool, &leases[2].admit, +1);
	check_double_near(got.dims[T_CPU].held, 2, 0);
	check(memcmp(&got, &want, sizeof(got)) == 0);

	leases[2].admit.cls = POOL_NR_CLASSES;
	check_int_eq(safety_state_from_leases(&pool, leases, 3, &got), -EINVAL);
}

/* A tick's VM, starved on CPU at its cap for one tick already. */
static struct safety_vm tick_vm(enum pool_class cls, const struct admit_request *lease,
				double alloc, double psi)
{
	struct safety_vm vm = { .cls = cls, .lease = lease };

	for (int r = 0; r < SAFETY_NR_RES; r++)
		vm.sig[r] = sig_make(NAN, NAN, NAN, NAN);
	vm.sig[SAFETY_RES_CPU] = sig_make(alloc, alloc, 8, psi);
	vm.sig[SAFETY_RES_CPU].dim = T_CPU;
	vm.state.res[SAFETY_RES_CPU].starved_ticks = 1;
	return vm;
}

static struct safety_host_input host_calm(void)
{
	return (struct safety_host_input){ { 1, 1, 1 } };
}

/* Books every amended request over state and checks the result still fits the budget. */
static void check_amends_fit(const struct pool *pool, const struct admit_state *state,
			     const struct safety_vm *vms, const struct safety_vm_decision *d,
			     size_t n)
{
	struct admit_state s = *state;

	for (size_t i = 0; i < n; i++)
		if (d[i].amend) {
			admit_state_apply(&s, pool, vms[i].lease, -1);
			admit_state_apply(&s, pool, &d[i].amended, +1);
		}
	check(s.dims[T_CPU].held + s.dims[T_CPU].burst.mean <= 8 + 1e-6);
	/* Each amended request would pass against everything else now held. */
	for (size_t i = 0; i < n; i++)
		if (d[i].amend) {
			struct admit_state without = s;
			enum admit_verdict v;

			admit_state_apply(&without, pool, &d[i].amended, -1);
			check_int_eq(admit_check(pool, &without, &d[i].amended, &v), 0);
			check_int_eq(v, ADMIT_ACCEPT);
		}
}

static void test_tick_order(void)
{
	struct safety_params p;
	struct pool pool;
	struct admit_state st;
	struct admit_request lb, lg, lidle;
	struct safety_vm vms[3];
	struct safety_vm_decision d[3];
	struct safety_host_input host = host_calm();
	struct safety_host_state hs = { 0 };
	struct safety_host_decision hd;
	struct safety_tick_stats stats;

	safety_params_default(&p);
	test_pool(&pool);
	/* 3.5 burstable mean + 3.5 + 0.5 guaranteed of 8 cores: 0.5 left. */
	lb = req_make(POOL_CLASS_BURSTABLE, T_CPU, 3.5, 0, 3.5);
	lg = req_make(POOL_CLASS_GUARANTEED, T_CPU, 3.5, 0, 3.5);
	lidle = req_make(POOL_CLASS_GUARANTEED, T_CPU, 0.5, 0, 0.5);
	admit_state_init(&st, &pool);
	admit_state_apply(&st, &pool, &lb, +1);
	admit_state_apply(&st, &pool, &lg, +1);
	admit_state_apply(&st, &pool, &lidle, +1);

	/* The burstable one is listed first and stalls more: the guaranteed one still wins. */
	vms[0] = tick_vm(POOL_CLASS_BURSTABLE, &lb, 3.5, 60);
	vms[1] = tick_vm(POOL_CLASS_GUARANTEED, &lg, 3.5, 40);
	vms[2] = tick_vm(POOL_CLASS_GUARANTEED, &lidle, 0.5, 0);
	check_int_eq(safety_tick(&p, &pool, &st, &host, &hs, vms, 3, 10 * SEC, &hd, d, &stats), 0);
	check(!hd.any_short);
	check_int_eq(d[1].rank, 0);
	check_int_eq(d[2].rank, 1);
	check_int_eq(d[0].rank, 2);
	check_int_eq(d[1].res[SAFETY_RES_CPU].action, SAFETY_RAISE);
	check_double_near(d[1].res[SAFETY_RES_CPU].to, 4.0, 1e-6);
	check(d[1].res[SAFETY_RES_CPU].uncovered);
	check(d[1].amend);
	check_double_near(d[1].amended.items[0].demand.upper, 4.0, 1e-6);
	check_int_eq(d[0].res[SAFETY_RES_CPU].action, SAFETY_FLAG_MIGRATE);
	check_int_eq(d[0].res[SAFETY_RES_CPU].why, SAFETY_WHY_NO_ROOM);
	check(d[0].flag_migrate && !d[0].amend);
	check_int_eq(d[2].res[SAFETY_RES_CPU].action, SAFETY_NONE);
	check_int_eq(stats.n_action[SAFETY_RAISE], 1);
	check_int_eq(stats.n_action[SAFETY_FLAG_MIGRATE], 1);
	check_int_eq(stats.n_starved, 2);
	check_int_eq(stats.n_misses, 2);
	/* The next tick's state: both acted, both cool down. */
	check(d[1].state.res[SAFETY_RES_CPU].cooldown_until_usec == 20 * SEC);
	check(d[0].state.res[SAFETY_RES_CPU].cooldown_until_usec == 20 * SEC);
	check_amends_fit(&pool, &st, vms, d, 3);

	/* The host short on CPU: the burstable one is flagged for that, not for room. */
	hs.short_ticks[SAFETY_RES_CPU] = 1;
	host.psi_some[SAFETY_RES_CPU] = 70;
	check_int_eq(safety_tick(&p, &pool, &st, &host, &hs, vms, 3, 10 * SEC, &hd, d, NULL), 0);
	check(hd.is_short[SAFETY_RES_CPU] && hd.any_short);
	check_int_eq(d[0].res[SAFETY_RES_CPU].why, SAFETY_WHY_HOST_SHORT);
	check_int_eq(d[1].res[SAFETY_RES_CPU].action, SAFETY_RAISE);
}

/* Two VMs of the same class, room for one: exactly one takes it, by stall, then by order. */
static void test_tick_one_winner(void)
{
	static const struct {
		double psi_a, psi_b;
		int winner;
	} cases[] = {
		{ 50, 40, 0 },
		{ 40, 50, 1 },
		{ 45, 45, 0 },
	};
	struct safety_params p;
	struct pool pool;
	struct admit_state st;
	struct admit_request la, lb, lc;

	safety_params_default(&p);
	test_pool(&pool);
	la = req_make(POOL_CLASS_GUARANTEED, T_CPU, 3.5, 0, 3.5);
	lb = req_make(POOL_CLASS_GUARANTEED, T_CPU, 3.5, 0, 3.5);
	lc = req_make(POOL_CLASS_GUARANTEED, T_CPU, 0.5, 0, 0.5);
	admit_state_init(&st, &pool);
	admit_state_apply(&st, &pool, &la, +1);
	admit_state_apply(&st, &pool, &lb, +1);
	admit_state_apply(&st, &pool, &lc, +1);

	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		struct safety_vm vms[2] = {
			tick_vm(POOL_CLASS_GUARANTEED, &la, 3.5, cases[c].psi_a),
			tick_vm(POOL_CLASS_GUARANTEED, &lb, 3.5, cases[c].psi_b),
		};
		struct safety_vm_decision d[2];
		struct safety_host_input host = host_calm();
		struct safety_host_state hs = { 0 };
		struct safety_host_decision hd;
		int w = cases[c].winner;

		check_int_eq(safety_tick(&p, &pool, &st, &host, &hs, vms, 2, SEC, &hd, d, NULL), 0);
		check_int_eq(d[w].res[SAFETY_RES_CPU].action, SAFETY_RAISE);
		check_double_near(d[w].res[SAFETY_RES_CPU].to, 4.0, 1e-6);
		check_int_eq(d[1 - w].res[SAFETY_RES_CPU].action, SAFETY_FLAG_MIGRATE);
		check_int_eq(d[1 - w].res[SAFETY_RES_CPU].why, SAFETY_WHY_NO_ROOM);
		check_int_eq(d[w].rank, 0);
		check_amends_fit(&pool, &st, vms, d, 2);
	}

	/* Room for both: both raised, and the sum still fits. */
	{
		struct admit_request l1 = req_make(POOL_CLASS_GUARANTEED, T_CPU, 2, 0, 2);
		struct admit_request l2 = req_make(POOL_CLASS_BURSTABLE, T_CPU, 2, 0, 2);
		struct safety_vm vms[2] = {
			tick_vm(POOL_CLASS_GUARANTEED, &l1, 2, 30),
			tick_vm(POOL_CLASS_BURSTABLE, &l2, 2, 30),
		};
		struct safety_vm_decision d[2];
		struct safety_host_input host = host_calm();
		struct safety_host_state hs = { 0 };
		struct safety_host_decision hd;

		admit_state_init(&st, &pool);
		admit_state_apply(&st, &pool, &l1, +1);
		admit_state_apply(&st, &pool, &l2, +1);
		check_int_eq(safety_tick(&p, &pool, &st, &host, &hs, vms, 2, SEC, &hd, d, NULL), 0);
		for (int i = 0; i < 2; i++) {
			check_int_eq(d[i].res[SAFETY_RES_CPU].action, SAFETY_RAISE);
			check_double_near(d[i].res[SAFETY_RES_CPU].to, 2 / 0.7, 1e-9);
			check_double_near(d[i].amended.items[0].demand.mean, 2 / 0.7, 1e-9);
		}
		check_amends_fit(&pool, &st, vms, d, 2);
	}
}

/* One VM starved on CPU and memory, a best-effort one, one without a lease, bad input. */
static void test_tick_misc(void)
{
	struct safety_params p;
	struct pool pool;
	struct admit_state st;
	struct admit_request l = { .cls = POOL_CLASS_GUARANTEED, .n_items = 2 };
	struct admit_request lbe = req_make(POOL_CLASS_BEST_EFFORT, T_CPU, 1, 0, 1);
	struct safety_vm vms[3];
	struct safety_vm_decision d[3], keep;
	struct safety_host_input host = host_calm();
	struct safety_host_state hs = { 0 };
	struct safety_host_decision hd;

	safety_params_default(&p);
	test_pool(&pool);
	l.items[0] = (struct admit_item){ T_CPU, { 1, 0, 1, 0 } };
	l.items[1] = (struct admit_item){ T_MEM, { 10, 0, 10, 0 } };
	admit_state_init(&st, &pool);
	admit_state_apply(&st, &pool, &l, +1);
	admit_state_apply(&st, &pool, &lbe, +1);

	vms[0] = tick_vm(POOL_CLASS_GUARANTEED, &l, 1, 30);
	vms[0].sig[SAFETY_RES_MEM] = sig_make(10, 10, 50, 15);
	vms[0].sig[SAFETY_RES_MEM].dim = T_MEM;
	vms[0].state.res[SAFETY_RES_MEM].starved_ticks = 1;
	vms[1] = tick_vm(POOL_CLASS_BEST_EFFORT, &lbe, 1, 30);
	vms[2] = tick_vm(POOL_CLASS_GUARANTEED, NULL, 1, 30); /* no lease: nothing to amend */
	check_int_eq(safety_tick(&p, &pool, &st, &host, &hs, vms, 3, SEC, &hd, d, NULL), 0);
	check_int_eq(d[0].res[SAFETY_RES_CPU].action, SAFETY_RAISE);
	check_int_eq(d[0].res[SAFETY_RES_MEM].action, SAFETY_RAISE);
	check_int_eq(d[0].res[SAFETY_RES_IO].action, SAFETY_NONE);
	check_double_near(d[0].amended.items[0].demand.upper, 1 / 0.7, 1e-9);
	check_double_near(d[0].amended.items[1].demand.upper, 12.5, 1e-9);
	check(d[0].amend && !d[0].flag_migrate);
	check_int_eq(d[1].res[SAFETY_RES_CPU].why, SAFETY_WHY_BEST_EFFORT);
	check(!d[1].amend);
	check_int_eq(d[2].res[SAFETY_RES_CPU].why, SAFETY_WHY_NO_ROOM);
	check(strstr(d[2].res[SAFETY_RES_CPU].reason, "no lease"));
	check(!d[2].amend);

	/* Pinned cores: more CPU means more cores, which only a plan can give. */
	{
		struct admit_request lp = req_make(POOL_CLASS_GUARANTEED, T_CPU, 2, 0, 2);
		struct safety_vm pv;
		struct safety_vm_decision pd;

		pool_cpuset_parse("6-7", &lp.pinned);
		admit_state_apply(&st, &pool, &lp, +1);
		pv = tick_vm(POOL_CLASS_GUARANTEED, &lp, 2, 30);
		check_int_eq(safety_tick(&p, &pool, &st, &host, &hs, &pv, 1, SEC, &hd, &pd, NULL),
			     0);
		check_int_eq(pd.res[SAFETY_RES_CPU].why, SAFETY_WHY_NO_ROOM);
		check(strstr(pd.res[SAFETY_RES_CPU].reason, "pinned cores"));
		check(pd.flag_migrate && !pd.amend);
		admit_state_apply(&st, &pool, &lp, -1);
	}

	/* No VMs: the host alone. */
	check_int_eq(safety_tick(&p, &pool, &st, &host, &hs, vms, 0, SEC, &hd, d, NULL), 0);

	/* Invalid: a lease of another class, a bad class. Outputs untouched. */
	keep = d[0];
	vms[1].cls = POOL_CLASS_GUARANTEED;
	check_int_eq(safety_tick(&p, &pool, &st, &host, &hs, vms, 3, SEC, &hd, d, NULL), -EINVAL);
	vms[1].cls = POOL_NR_CLASSES;
	check_int_eq(safety_tick(&p, &pool, &st, &host, &hs, vms, 3, SEC, &hd, d, NULL), -EINVAL);
	check(memcmp(&keep, &d[0], sizeof(keep)) == 0);
	p.persist_ticks = 0;
	check_int_eq(safety_tick(&p, &pool, &st, &host, &hs, vms, 3, SEC, &hd, d, NULL), -EINVAL);
}

int main(void)
{
	test_params();
	test_strings();
	test_hidden_demand();
	test_persistence();
	test_cooldown();
	test_decide_table();
	test_reason_text();
	test_miss();
	test_nan();
	test_host();
	test_room();
	test_state_from_leases();
	test_tick_order();
	test_tick_one_winner();
	test_tick_misc();
	return test_result();
}
