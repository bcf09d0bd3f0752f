/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Deterministic series for the model tests: a xorshift generator with
 * Box-Muller normals, so every run sees the same data on every machine.
 */
#ifndef PRESCIENT_TESTS_FORECAST_MODELS_SIM_H
#define PRESCIENT_TESTS_FORECAST_MODELS_SIM_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

struct sim_rng {
	uint64_t s;
};

static inline double sim_uniform(struct sim_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return ((r->s * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

static inline double sim_normal(struct sim_rng *r)
{
	double a = sim_uniform(r), b = sim_uniform(r);

	if (a < 1e-300)
		a = 1e-300;
	return sqrt(-2 * log(a)) * cos(2 * M_PI * b);
}

/* y_t = c + sum phi_i y_{t-i} + e_t + sum theta_j e_{t-j}, after a burn-in. */
static inline void sim_arma(struct sim_rng *r, double c, const double *phi, unsigned p,
			    const double *theta, unsigned q, double sd, double *y, unsigned n)
{
	double yb[8] = { 0 }, eb[8] = { 0 };
	unsigned burn = 500;

	for (unsigned t = 0; t < n + burn; t++) {
		double e = sd * sim_normal(r), v = c + e;

		for (unsigned i = 0; i < p; i++)
			v += phi[i] * yb[i];
		for (unsigned j = 0; j < q; j++)
			v += theta[j] * eb[j];
		for (unsigned i = 7; i > 0; i--) {
			yb[i] = yb[i - 1];
			eb[i] = eb[i - 1];
		}
		yb[0] = v;
		eb[0] = e;
		if (t >= burn)
			y[t - burn] = v;
	}
}

/* Odd series of every kind: steps, bursts, zeros, trends, gaps, any length. */
static inline size_t sim_odd_series(struct sim_rng *r, double *y, size_t cap, uint32_t *ret_m)
{
	size_t n = 1 + (size_t)(sim_uniform(r) * (double)(cap - 1));
	double level = sim_uniform(r) < 0.3 ? 0 : 100 * sim_uniform(r);
	double noise = sim_uniform(r) < 0.2 ? 0 : pow(10, 4 * sim_uniform(r) - 2);
	double burst = sim_uniform(r) * 0.1, trend = sim_uniform(r) < 0.2 ? sim_normal(r) : 0;
	static const uint32_t seasons[] = { 0, 0, 2, 12, 24, 288, 289, 2016 };

	*ret_m = seasons[(size_t)(sim_uniform(r) * 8) % 8];
	for (size_t t = 0; t < n; t++) {
		if (sim_uniform(r) < 0.005)
			level = sim_uniform(r) < 0.5 ? 0 : 1000 * sim_uniform(r);
		y[t] = level + trend * (double)t + noise * sim_normal(r);
		if (sim_uniform(r) < burst)
			y[t] += 1e4 * sim_uniform(r);
		if (*ret_m && (t % *ret_m) < *ret_m / 3)
			y[t] += 50;
		if (sim_uniform(r) < 0.01)
			y[t] = NAN;
	}
	return n;
}

#endif
