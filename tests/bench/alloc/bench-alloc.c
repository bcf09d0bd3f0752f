// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Cost of the allocation engine at 500 VMs: one admission decision against
 * a ledger holding 500 VMs' leases (through the ledger, lock and expiry
 * check included, and the pure decision alone), an offer plus its release,
 * and a whole allocation pass deciding and booking 500 VMs on 4 resources,
 * both as the pure alloc_pass() and as the daemon books it (the correlation
 * loadings of 500 VMs over 64 steps of history on 4 resources, then one
 * ledger_amend() per VM, each admitted against the others under the
 * ledger's lock). Targets: admission under 50 us, the pass under 20 ms.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "lease.h"

#define N_VMS	500
#define HORIZON 12

enum { D_CPU, D_MEM, D_NET, D_DISK, N_DIMS };

static uint64_t rng = 0x853c49e6748fea9bULL;

static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static double now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* A host sized for 500 small VMs: 256 cores, 2 TiB, a 100 Gbit/s uplink, 20 GB/s of disk. */
static void make_pool(struct pool *p)
{
	struct pool_dim dims[] = {
		{ .kind = POOL_KIND_MEM,
		  .name = "mem",
		  .total = 2048.0 * (1 << 30),
		  .host_reserved = 16.0 * (1 << 30),
		  .risk_bound = 0.001 },
		{ .kind = POOL_KIND_NET, .name = "net:bond0", .total = 100e6, .risk_bound = 0.05 },
		{ .kind = POOL_KIND_DISK,
		  .name = "disk:nvme0n1",
		  .total = 20e6,
		  .risk_bound = 0.05 },
	};

	pool_init(p);
	pool_cpuset_parse("0-255", &p->machine_cpus);
	pool_cpu_dim_sync(p, 4, 0.01);
	for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++)
		pool_dim_add(p, &dims[i], NULL);
}

/* A VM's request: about 0.3 cores, 2.5 GiB, 100 Mbit/s, 20 MB/s, a third guaranteed. */
static void make_request(struct admit_request *r, int i)
{
	static const double scale[N_DIMS] = { 0.3, 2.5 * (1 << 30), 100e3, 20e3 };

	memset(r, 0, sizeof(*r));
	r->cls = i % 3 == 0 ? POOL_CLASS_GUARANTEED : POOL_CLASS_BURSTABLE;
	r->n_items = N_DIMS;
	for (int d = 0; d < N_DIMS; d++) {
		double mean = scale[d] * (0.5 + uniform()), sd = mean * (0.1 + 0.3 * uniform());

		r->items[d] =
			(struct admit_item){ d,
					     { mean, sd, mean + 2 * sd, 0.2 + 0.5 * uniform() } };
	}
}

static void make_forecast(struct forecast_point *fc, double base)
{
	for (int h = 0; h < HORIZON; h++) {
		double m = base * (1 + 0.3 * sin(h / 3.0) + 0.1 * uniform()), s = 0.15 * m;

		fc[h] = (struct forecast_point){ .mean = m, .n_levels = 2 };
		fc[h].iv[0] = (struct forecast_interval){ 0.80, m - 1.28 * s, m + 1.28 * s };
		fc[h].iv[1] = (struct forecast_interval){ 0.95, m - 1.96 * s, m + 1.96 * s };
	}
}

static int bench_admission(const struct pool *pool)
{
	enum { ROUNDS = 2000 };
	struct ledger_params lp;
	struct ledger *l;
	struct lease_request req = { .holder = "bench", .holder_kind = LEASE_HOLDER_VM };
	struct admit_explanation e;
	struct admit_state state;
	static double t_ledger[ROUNDS], t_pure[ROUNDS], t_offer[ROUNDS];
	int r;

	ledger_params_default(&lp);
	r = ledger_new(pool, &lp, &l);
	if (r < 0)
		return r;
	for (int i = 0; i < N_VMS; i++) {
		uint64_t id;

		snprintf(req.holder, sizeof(req.holder), "vm-%04d", i);
		make_request(&req.admit, i);
		req.generation = ledger_generation(l);
		r = ledger_offer(l, &req, 1000, NULL, &id);
		if (r < 0) {
			fprintf(stderr, "bench: filling VM %d: %d\n", i, r);
			ledger_free(l);
			return r;
		}
		ledger_confirm(l, id, 1000);
	}
	admit_state_init(&state, pool);
	{
		struct lease *all;
		size_t n;

		ledger_leases_get(l, &all, &n, NULL);
		for (size_t i = 0; i < n; i++)
			admit_state_apply(&state, pool, &all[i].admit, +1);
		free(all);
	}

	snprintf(req.holder, sizeof(req.holder), "vm-new");
	for (int k = 0; k < ROUNDS; k++) {
		double t0;
		uint64_t id;

		make_request(&req.admit, k);
		t0 = now_usec();
		ledger_explain(l, &req, 2000, &e);
		t_ledger[k] = now_usec() - t0;

		t0 = now_usec();
		admit_decide(pool, &state, &req.admit, &e);
		t_pure[k] = now_usec() - t0;

		req.generation = ledger_generation(l);
		t0 = now_usec();
		if (ledger_offer(l, &req, 2000, &e, &id) == 0)
			ledger_release(l, id, 2000);
		t_offer[k] = now_usec() - t0;
	}
	printf("BENCH admission_us_500vms %.2f us\n", median(t_ledger, ROUNDS));
	printf("BENCH admission_pure_us_500vms %.2f us\n", median(t_pure, ROUNDS));
	printf("BENCH offer_release_us_500vms %.2f us\n", median(t_offer, ROUNDS));
	ledger_free(l);
	return 0;
}

static int bench_pass(const struct pool *pool)
{
	enum { ROUNDS = 30 };
	struct alloc_params params[POOL_NR_KINDS];
	struct alloc_vm *vms = calloc(N_VMS, sizeof(*vms));
	struct alloc_vm_result *res = calloc(N_VMS, sizeof(*res));
	struct forecast_point(*fc)[N_DIMS][HORIZON] = calloc(N_VMS, sizeof(*fc));
	struct alloc_pass_stats st;
	double t[ROUNDS];
	int r = 0;

	if (!vms || !res || !fc) {
		r = -1;
		goto out;
	}
	for (int k = 0; k < POOL_NR_KINDS; k++)
		alloc_params_default((enum pool_kind)k, &params[k]);
	for (int i = 0; i < N_VMS; i++) {
		struct admit_request req;

		make_request(&req, i);
		vms[i].cls = req.cls;
		vms[i].n_items = N_DIMS;
		for (int d = 0; d < N_DIMS; d++) {
			const struct risk_dist *h = &req.items[d].demand;

			make_forecast(fc[i][d], h->mean * (0.8 + 0.4 * uniform()));
			vms[i].items[d] = (struct alloc_vm_item){
				.dim = (uint32_t)d,
				.in = { h->upper, h->mean, fc[i][d], HORIZON, 0 },
				.held = *h,
				.loading = h->loading,
			};
		}
	}
	for (int k = 0; k < ROUNDS; k++) {
		double t0 = now_usec();

		r = alloc_pass(pool, params, vms, N_VMS, res, &st);
		t[k] = now_usec() - t0;
		if (r < 0)
			goto out;
	}
	printf("# pass: %u raise, %u lower, %u keep, %u refused\n", st.n_action[ALLOC_RAISE],
	       st.n_action[ALLOC_LOWER], st.n_action[ALLOC_KEEP], st.n_refused);
	printf("BENCH allocation_pass_ms_500vms %.3f ms\n", median(t, ROUNDS) / 1000);
out:
	free(vms);
	free(res);
	free(fc);
	return r;
}

#define HIST 64

/* The daemon's booking pass (daemon/manager_alloc.c): loadings, then an amend per VM. */
static int bench_ledger_pass(const struct pool *pool)
{
	enum { ROUNDS = 15 };
	struct admit_request *reqs = calloc(N_VMS, sizeof(*reqs));
	double *hist = calloc((size_t)N_VMS * HIST, sizeof(*hist));
	double *loadings = calloc(N_VMS, sizeof(*loadings));
	const double **series = calloc(N_VMS, sizeof(*series));
	uint64_t *ids = calloc(N_VMS, sizeof(*ids));
	struct ledger_params lp;
	struct ledger *l = NULL;
	double t[ROUNDS];
	int r = -1, refused = 0;

	if (!reqs || !hist || !loadings || !series || !ids)
		goto out;
	ledger_params_default(&lp);
	if (ledger_new(pool, &lp, &l) < 0)
		goto out;
	for (int i = 0; i < N_VMS; i++) {
		struct lease_request lr = { .holder_kind = LEASE_HOLDER_VM, .start_usec = 1000 };

		snprintf(lr.holder, sizeof(lr.holder), "vm-%d", i);
		make_request(&lr.admit, i);
		lr.generation = ledger_generation(l);
		if (ledger_offer(l, &lr, 1000, NULL, &ids[i]) < 0 ||
		    ledger_confirm(l, ids[i], 1000) < 0 || ledger_activate(l, ids[i], 1000) < 0)
			goto out;
		for (int k = 0; k < HIST; k++)
			hist[(size_t)i * HIST + k] = sin(k / 5.0) * uniform() + uniform();
		series[i] = hist + (size_t)i * HIST;
	}
	for (int k = 0; k < ROUNDS; k++) {
		double t0;

		for (int i = 0; i < N_VMS; i++)
			make_request(&reqs[i], i);
		t0 = now_usec();
		for (int d = 0; d < N_DIMS; d++)
			if (risk_loadings_estimate(series, N_VMS, HIST, 0.5, loadings) < 0)
				goto out;
		for (int i = 0; i < N_VMS; i++) {
			for (int d = 0; d < N_DIMS; d++)
				reqs[i].items[d].demand.loading = loadings[i];
			if (ledger_amend(l, ids[i], &reqs[i], ledger_generation(l), 2000, NULL) < 0)
				refused++;
		}
		t[k] = now_usec() - t0;
	}
	printf("# ledger pass: %d of %d amends refused\n", refused, ROUNDS * N_VMS);
	printf("BENCH allocation_pass_ledger_ms_500vms %.3f ms\n", median(t, ROUNDS) / 1000);
	r = 0;
out:
	ledger_free(l);
	free(reqs);
	free(hist);
	free(loadings);
	free(series);
	free(ids);
	return r;
}

int main(void)
{
	struct pool pool;

	make_pool(&pool);
	if (bench_admission(&pool) < 0 || bench_pass(&pool) < 0 || bench_ledger_pass(&pool) < 0)
		return 1;
	return 0;
}
