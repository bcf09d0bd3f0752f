/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A small pool and requests shared by the ledger tests. */
#ifndef PRESCIENT_TESTS_ALLOC_TEST_UTIL_H
#define PRESCIENT_TESTS_ALLOC_TEST_UTIL_H

#include <stdio.h>
#include <string.h>

#include "lease.h"

enum { T_CPU, T_MEM, T_NET };

/* 8 cores, 100 units of memory (bound 1 %), a 1000 kbps tap (bound 5 %). */
static inline void test_pool(struct pool *p)
{
	struct pool_dim mem = { .kind = POOL_KIND_MEM,
				.name = "mem",
				.total = 100,
				.risk_bound = 0.01,
				.node = POOL_NODE_ANY };
	struct pool_dim net = { .kind = POOL_KIND_NET,
				.name = "net:tap0",
				.total = 1000,
				.risk_bound = 0.05,
				.node = POOL_NODE_ANY };

	pool_init(p);
	pool_cpuset_parse("0-7", &p->machine_cpus);
	pool_cpu_dim_sync(p, 0, 0.05);
	pool_dim_add(p, &mem, NULL);
	pool_dim_add(p, &net, NULL);
}

static inline struct lease_request test_request(const char *holder, enum pool_class cls,
						uint32_t dim, double amount, uint64_t generation)
{
	struct lease_request r = {
		.holder_kind = LEASE_HOLDER_VM,
		.generation = generation,
		.admit = { .cls = cls, .n_items = 1 },
	};

	snprintf(r.holder, sizeof(r.holder), "%s", holder);
	r.admit.items[0] = (struct admit_item){ dim, { amount, 0, amount, 0 } };
	return r;
}

#endif
