// SPDX-License-Identifier: GPL-2.0-or-later
/* Table-driven admission: classes, the risk budget, pinning and explanations. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "admit.h"
#include "tap.h"

enum { D_CPU, D_MEM, D_HP };

static void make_pool(struct pool *p)
{
	struct pool_dim mem = { .kind = POOL_KIND_MEM,
				.name = "mem",
				.total = 100,
				.host_reserved = 4,
				.risk_bound = 0.01 };
	struct pool_dim hp = { .kind = POOL_KIND_HUGEPAGES,
			       .name = "hugepages-2048kB:node0",
			       .total = 10,
			       .risk_bound = 0 };

	pool_init(p);
	check_int_eq(pool_cpuset_parse("0-7", &p->machine_cpus), 0);
	check_int_eq(pool_cpu_dim_sync(p, 0, 0.05), 0);
	check_int_eq(pool_dim_add(p, &mem, NULL), 0);
	check_int_eq(pool_dim_add(p, &hp, NULL), 0);
}

struct held {
	enum pool_class cls;
	uint32_t dim;
	double mean, sd, upper, loading;
	const char *pinned;
};

struct admit_case {
	const char *name;
	struct held existing[4];
	size_t n_existing;
	struct held req;
	enum admit_verdict verdict;
	const char *reason; /* a substring of the explanation's reason */
};

static void one_request(const struct pool *p, const struct held *h, struct admit_request *r)
{
	memset(r, 0, sizeof(*r));
	r->cls = h->cls;
	r->n_items = 1;
	r->items[0] = (struct admit_item){ h->dim, { h->mean, h->sd, h->upper, h->loading } };
	if (h->pinned)
		check_int_eq(pool_cpuset_parse(h->pinned, &r->pinned), 0);
}

static void test_table(void)
{
	static const struct admit_case cases[] = {
		{ "guaranteed fits",
		  {},
		  0,
		  { POOL_CLASS_GUARANTEED, D_MEM, 40, 5, 50, 0, NULL },
		  ADMIT_ACCEPT,
		  "fits" },
		{ "guaranteed held at its upper, never overcommitted",
		  { { POOL_CLASS_GUARANTEED, D_MEM, 30, 5, 50, 0, NULL } },
		  1,
		  { POOL_CLASS_GUARANTEED, D_MEM, 30, 5, 47, 0, NULL },
		  ADMIT_REFUSE,
		  "exceed capacity" },
		{ "guaranteed exactly at capacity",
		  { { POOL_CLASS_GUARANTEED, D_MEM, 30, 5, 50, 0, NULL } },
		  1,
		  { POOL_CLASS_GUARANTEED, D_MEM, 30, 5, 46, 0, NULL },
		  ADMIT_ACCEPT,
		  "fits" },
		{ "burstable within budget",
		  { { POOL_CLASS_BURSTABLE, D_MEM, 30, 3, 40, 0.5, NULL } },
		  1,
		  { POOL_CLASS_BURSTABLE, D_MEM, 30, 3, 40, 0.5, NULL },
		  ADMIT_ACCEPT,
		  "fits" },
		{ "burstable over budget though its mean fits",
		  { { POOL_CLASS_BURSTABLE, D_MEM, 38, 6, 50, 0.9, NULL } },
		  1,
		  { POOL_CLASS_BURSTABLE, D_MEM, 38, 6, 50, 0.9, NULL },
		  ADMIT_REFUSE,
		  "above bound" },
		{ "same demand uncorrelated fits",
		  { { POOL_CLASS_BURSTABLE, D_MEM, 38, 6, 50, 0, NULL } },
		  1,
		  { POOL_CLASS_BURSTABLE, D_MEM, 38, 6, 50, 0, NULL },
		  ADMIT_ACCEPT,
		  "fits" },
		{ "burstable means beyond capacity",
		  { { POOL_CLASS_BURSTABLE, D_MEM, 60, 0, 60, 0, NULL } },
		  1,
		  { POOL_CLASS_BURSTABLE, D_MEM, 40, 0, 40, 0, NULL },
		  ADMIT_REFUSE,
		  "exceed capacity" },
		{ "guaranteed squeezing burstables over budget",
		  { { POOL_CLASS_BURSTABLE, D_MEM, 50, 8, 70, 0, NULL } },
		  1,
		  { POOL_CLASS_GUARANTEED, D_MEM, 20, 0, 35, 0, NULL },
		  ADMIT_REFUSE,
		  "above bound" },
		{ "best effort always admitted",
		  { { POOL_CLASS_GUARANTEED, D_MEM, 96, 0, 96, 0, NULL } },
		  1,
		  { POOL_CLASS_BEST_EFFORT, D_MEM, 50, 5, 60, 0, NULL },
		  ADMIT_ACCEPT,
		  "best effort" },
		{ "hugepages: burstable held whole at bound 0",
		  {},
		  0,
		  { POOL_CLASS_BURSTABLE, D_HP, 4, 1, 11, 0, NULL },
		  ADMIT_REFUSE,
		  "exceed capacity" },
		{ "hugepages fit",
		  { { POOL_CLASS_BURSTABLE, D_HP, 4, 1, 6, 0, NULL } },
		  1,
		  { POOL_CLASS_GUARANTEED, D_HP, 3, 0, 4, 0, NULL },
		  ADMIT_ACCEPT,
		  "fits" },
		{ "pinned cores",
		  {},
		  0,
		  { POOL_CLASS_GUARANTEED, D_CPU, 2, 0, 2, 0, "0-1" },
		  ADMIT_ACCEPT,
		  "fits" },
		{ "pinned twice",
		  { { POOL_CLASS_GUARANTEED, D_CPU, 2, 0, 2, 0, "0-3" } },
		  1,
		  { POOL_CLASS_GUARANTEED, D_CPU, 2, 0, 2, 0, "3-4" },
		  ADMIT_REFUSE,
		  "already pinned" },
		{ "pinned outside machine.slice",
		  {},
		  0,
		  { POOL_CLASS_GUARANTEED, D_CPU, 2, 0, 2, 0, "7-8" },
		  ADMIT_REFUSE,
		  "machine.slice" },
		{ "pinned cores are never overcommitted",
		  { { POOL_CLASS_BURSTABLE, D_CPU, 5, 0.5, 6, 0, NULL } },
		  1,
		  { POOL_CLASS_BURSTABLE, D_CPU, 1, 0, 1, 0, "0-3" },
		  ADMIT_REFUSE,
		  "exceed capacity" },
		{ "nothing asked, nothing held",
		  { { POOL_CLASS_GUARANTEED, D_MEM, 96, 0, 96, 0, NULL } },
		  1,
		  { POOL_CLASS_BURSTABLE, D_MEM, 0, 0, 0, 0, NULL },
		  ADMIT_ACCEPT,
		  "fits" },
	};
	struct pool p;

	make_pool(&p);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct admit_case *c = &cases[i];
		struct admit_state s;
		struct admit_request r;
		struct admit_explanation e;
		enum admit_verdict quick;
		char text[2048];

		admit_state_init(&s, &p);
		for (size_t k = 0; k < c->n_existing; k++) {
			one_request(&p, &c->existing[k], &r);
			admit_state_apply(&s, &p, &r, +1);
		}
		one_request(&p, &c->req, &r);
		check_int_eq(admit_decide(&p, &s, &r, &e), 0);
		/* The quiet check used by the allocation pass agrees with the explained one. */
		check_int_eq(admit_check(&p, &s, &r, &quick), 0);
		check_int_eq(quick, e.verdict);
		if (e.verdict != c->verdict || !strstr(e.reason, c->reason))
			fprintf(stderr, "case '%s': %s: %s\n", c->name,
				admit_verdict_to_string(e.verdict), e.reason);
		check_int_eq(e.verdict, c->verdict);
		check(strstr(e.reason, c->reason) != NULL);
		check_int_eq(admit_explanation_format(&e, text, sizeof(text)), 0);
		check(strstr(text, admit_verdict_to_string(c->verdict)) != NULL);
	}
}

/* The explanation carries the numbers the verdict came from. */
static void test_explanation_numbers(void)
{
	struct pool p;
	struct admit_state s;
	struct admit_request r;
	struct admit_explanation e;
	struct held a = { POOL_CLASS_BURSTABLE, D_MEM, 40, 3, 50, 0, NULL };
	struct held g = { POOL_CLASS_GUARANTEED, D_MEM, 10, 1, 12, 0, NULL };
	double sd = sqrt(9 + 16);
	char small[16];

	make_pool(&p);
	admit_state_init(&s, &p);
	one_request(&p, &a, &r);
	admit_state_apply(&s, &p, &r, +1);
	one_request(&p, &g, &r);
	admit_state_apply(&s, &p, &r, +1);
	a.mean = 30;
	a.sd = 4;
	one_request(&p, &a, &r);
	check_int_eq(admit_decide(&p, &s, &r, &e), 0);
	check_int_eq(e.n_dims, 1);
	check_str_eq(e.dims[0].dim, "mem");
	check_double_near(e.dims[0].capacity, 96, 1e-12);
	check_double_near(e.dims[0].held, 12, 1e-12);
	check_double_near(e.dims[0].demand_mean, 70, 1e-12);
	check_double_near(e.dims[0].demand_sd, sd, 1e-12);
	check_double_near(e.dims[0].probability, 1 - risk_normal_cdf((96 - 12 - 70) / sd), 1e-12);
	check_double_near(e.dims[0].bound, 0.01, 0);
	/* (96 - 12 - 70) / 5 = 2.8 sd: P = 0.0026, within 0.01. */
	check_int_eq(e.verdict, ADMIT_ACCEPT);
	check_int_eq(admit_explanation_format(&e, small, sizeof(small)), -ENOBUFS);

	/* Removing a holding gives its room back exactly. */
	one_request(&p, &g, &r);
	admit_state_apply(&s, &p, &r, -1);
	check_double_near(s.dims[D_MEM].held, 0, 0);
}

static void test_invalid(void)
{
	struct pool p;
	struct admit_state s;
	struct admit_request r = { .cls = POOL_CLASS_BURSTABLE, .n_items = 2 };
	struct admit_explanation e;

	make_pool(&p);
	admit_state_init(&s, &p);
	r.items[0] = (struct admit_item){ D_MEM, { 1, 0, 1, 0 } };
	r.items[1] = (struct admit_item){ D_MEM, { 1, 0, 1, 0 } };
	check_int_eq(admit_decide(&p, &s, &r, &e), -EINVAL); /* a dimension twice */
	r.n_items = 1;
	r.items[0].dim = 7;
	check_int_eq(admit_decide(&p, &s, &r, &e), -EINVAL);
	r.items[0] = (struct admit_item){ D_MEM, { NAN, 0, 1, 0 } };
	check_int_eq(admit_decide(&p, &s, &r, &e), -EINVAL);
	r.items[0] = (struct admit_item){ D_MEM, { 1, 0, 1, 2 } };
	check_int_eq(admit_decide(&p, &s, &r, &e), -EINVAL);
	r.items[0] = (struct admit_item){ D_MEM, { 1, 0, 1, 0 } };
	r.cls = POOL_NR_CLASSES;
	check_int_eq(admit_decide(&p, &s, &r, &e), -EINVAL);
	r.cls = POOL_CLASS_BURSTABLE;
	r.n_items = ADMIT_MAX_ITEMS + 1;
	check_int_eq(admit_decide(&p, &s, &r, &e), -EINVAL);
}

int main(void)
{
	test_table();
	test_explanation_numbers();
	test_invalid();
	return test_result();
}
