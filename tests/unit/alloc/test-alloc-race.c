// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Threads racing for the last capacity of the ledger, as API peers and the
 * manager do: in every round exactly one wins and nothing is double-booked,
 * whether they race for memory, for one pinned core, or churn offers and
 * releases while the holdings are checked against the capacity.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "alloc-test-util.h"
#include "tap.h"

#define THREADS 8
#define ROUNDS	300

struct race {
	struct ledger *l;
	pthread_barrier_t start;
	int kind; /* 0: memory, 1: a pinned core */
	atomic_int wins;
	atomic_int stale_retries;
};

struct racer {
	struct race *race;
	int idx;
};

static void *racer_run(void *arg)
{
	struct racer *me = arg;
	struct race *rc = me->race;
	char holder[32];
	struct lease_request r;
	uint64_t id;

	snprintf(holder, sizeof(holder), "vm-%d", me->idx);
	if (rc->kind == 0) {
		r = test_request(holder, POOL_CLASS_GUARANTEED, T_MEM, 10, 0);
	} else {
		r = test_request(holder, POOL_CLASS_GUARANTEED, T_CPU, 1, 0);
		pool_cpuset_parse("7", &r.admit.pinned);
	}
	/* All read the same generation before racing: only one offer can carry it. */
	r.generation = ledger_generation(rc->l);
	pthread_barrier_wait(&rc->start);
	for (;;) {
		int ret;

		ret = ledger_offer(rc->l, &r, 1000, NULL, &id);
		if (ret == -ESTALE) {
			/* Placement-style: re-read the generation and ask again. */
			atomic_fetch_add(&rc->stale_retries, 1);
			r.generation = ledger_generation(rc->l);
			continue;
		}
		if (ret == 0)
			atomic_fetch_add(&rc->wins, 1);
		else if (ret != -ENOSPC)
			fprintf(stderr, "unexpected %d\n", ret);
		break;
	}
	return NULL;
}

static void race_rounds(int kind)
{
	int bad_rounds = 0, total_stale = 0;

	for (int round = 0; round < ROUNDS; round++) {
		struct ledger_params lp;
		struct race rc = { .kind = kind };
		struct racer who[THREADS];
		pthread_t th[THREADS];
		struct ledger_usage u;
		struct lease_request fill;
		struct pool p;
		uint64_t id;

		test_pool(&p);
		ledger_params_default(&lp);
		check_int_eq(ledger_new(&p, &lp, &rc.l), 0);
		/* Leave room for exactly one: 90 of 100 memory, or cores 0-6 of 0-7 pinned. */
		fill = test_request("filler", POOL_CLASS_GUARANTEED, T_MEM, 90, 1);
		pool_cpuset_parse("0-6", &fill.admit.pinned);
		fill.admit.n_items = 2;
		fill.admit.items[1] = (struct admit_item){ T_CPU, { 7, 0, 7, 0 } };
		check_int_eq(ledger_offer(rc.l, &fill, 1000, NULL, &id), 0);
		pthread_barrier_init(&rc.start, NULL, THREADS);
		for (int i = 0; i < THREADS; i++) {
			who[i] = (struct racer){ &rc, i };
			check_int_eq(pthread_create(&th[i], NULL, racer_run, &who[i]), 0);
		}
		for (int i = 0; i < THREADS; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&rc.start);

		check_int_eq(ledger_usage_get(rc.l, &u), 0);
		/* The losers each saw one conflict, then a refusal. */
		if (atomic_load(&rc.wins) != 1 || u.n_live != 2 ||
		    atomic_load(&rc.stale_retries) != THREADS - 1 ||
		    u.dims[kind == 0 ? T_MEM : T_CPU].held >
			    u.dims[kind == 0 ? T_MEM : T_CPU].capacity)
			bad_rounds++;
		total_stale += atomic_load(&rc.stale_retries);
		ledger_free(rc.l);
	}
	fprintf(stderr, "race %s: %d rounds x %d threads, %d stale retries, %d bad rounds\n",
		kind == 0 ? "memory" : "pinned core", ROUNDS, THREADS, total_stale, bad_rounds);
	check_int_eq(bad_rounds, 0);
}

struct churn {
	struct ledger *l;
	int idx;
	atomic_int *violations;
};

/* Offers and releases at random; after each grant the holdings must fit. */
static void *churn_run(void *arg)
{
	struct churn *c = arg;
	uint64_t seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(c->idx + 1), ids[16];
	int n = 0;

	for (int k = 0; k < 2000; k++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		if (n > 0 && (seed & 3) == 0) {
			ledger_release(c->l, ids[--n], 1000);
		} else if (n < 16) {
			struct lease_request r;
			struct ledger_usage u;
			char holder[32];
			int ret;

			snprintf(holder, sizeof(holder), "churn-%d", c->idx);
			r = test_request(holder, POOL_CLASS_GUARANTEED, T_MEM,
					 1 + (double)(seed % 20), 0);
			do {
				r.generation = ledger_generation(c->l);
				ret = ledger_offer(c->l, &r, 1000, NULL, &ids[n]);
			} while (ret == -ESTALE);
			if (ret == 0)
				n++;
			ledger_usage_get(c->l, &u);
			if (u.dims[T_MEM].held > u.dims[T_MEM].capacity + 1e-9)
				atomic_fetch_add(c->violations, 1);
		}
	}
	return NULL;
}

static void race_churn(void)
{
	struct ledger_params lp;
	struct ledger *l;
	struct pool p;
	struct churn c[THREADS];
	pthread_t th[THREADS];
	atomic_int violations = 0;
	struct lease *all;
	size_t n;
	double held = 0;

	test_pool(&p);
	ledger_params_default(&lp);
	lp.max_leases = LEASE_MAX;
	check_int_eq(ledger_new(&p, &lp, &l), 0);
	for (int i = 0; i < THREADS; i++) {
		c[i] = (struct churn){ l, i, &violations };
		check_int_eq(pthread_create(&th[i], NULL, churn_run, &c[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	check_int_eq(atomic_load(&violations), 0);
	/* The live leases, summed from scratch, fit too. */
	check_int_eq(ledger_leases_get(l, &all, &n, NULL), 0);
	for (size_t i = 0; i < n; i++)
		if (all[i].state == LEASE_OFFERED)
			held += all[i].admit.items[0].demand.upper;
	check(held <= 100 + 1e-9);
	free(all);
	ledger_free(l);
}

int main(void)
{
	race_rounds(0);
	race_rounds(1);
	race_churn();
	return test_result();
}
