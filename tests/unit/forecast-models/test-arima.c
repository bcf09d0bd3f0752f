// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ARIMA family: golden recoveries of simulated processes with a fixed seed
 * (coefficients within a tolerance of a few standard errors at n = 864), the
 * order tests (a random walk is differenced, white noise is not, a strong
 * daily pattern is seasonally differenced), the closed-form forecast and
 * variance of an AR(1), and finite forecasts on degenerate series.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arima.h"
#include "model.h"
#include "sim.h"
#include "tap.h"

#define N 864

static const struct forecast_config cfg = { .step_sec = 300, .horizon_steps = 24 };

static void fit(struct arima_state *s, const double *y, size_t n, uint32_t m)
{
	check_int_eq(forecast_arima_ops.fit(s, &cfg, m, y, n), 0);
}

static void check_finite(const struct arima_state *s, uint32_t h)
{
	double mean[300], sd[300];

	forecast_arima_ops.predict(s, h, mean, sd);
	for (uint32_t i = 0; i < h; i++) {
		check(isfinite(mean[i]));
		check(isfinite(sd[i]) && sd[i] >= 0);
	}
}

static void test_ar1(void)
{
	static double y[N];
	static struct arima_state s;
	struct sim_rng r = { 1 };
	double phi = 0.7, c = 3, mean[40], sd[40], mu, last, var = 0, v = 0;

	sim_arma(&r, c, &phi, 1, NULL, 0, 1.0, y, N);
	fit(&s, y, N, 0);
	check_int_eq(s.d, 0);
	check_int_eq(s.sd, 0);
	check(s.p >= 1);
	check_double_near(s.phi[0], 0.7, 0.06); /* se ~ 0.024 */
	check_double_near(sqrt(s.sigma2) * s.scale, 1.0, 0.08);

	/* mean-reverting forecast: f_h - mu = phi^h (y_n - mu), var = s2 (1 - phi^2h) / (1 - phi^2)
	 */
	forecast_arima_ops.predict(&s, 40, mean, sd);
	mu = s.center + s.scale * s.mu;
	last = y[N - 1];
	if (s.p == 1 && s.q == 0) {
		for (int h = 1; h <= 40; h++) {
			double ph = pow(s.phi[0], h);

			check_double_near(mean[h - 1], mu + ph * (last - mu), 1e-9);
			var = s.sigma2 * s.scale * s.scale * (1 - ph * ph) /
			      (1 - s.phi[0] * s.phi[0]);
			check_double_near(sd[h - 1], sqrt(var), 1e-9);
		}
	}
	check_double_near(mean[39], mu, 0.01 * fabs(last - mu) + 1e-9);
	check_double_near(mu, c / (1 - phi), 0.4);
	for (int h = 1; h < 40; h++)
		check(sd[h] >= sd[h - 1] - 1e-12);
	v = 1 / (1 - phi * phi); /* process variance with unit innovations */
	check_double_near(sd[39] * sd[39], v, 0.35 * v);

	/* update is the same recursion: one step by hand */
	{
		double before[1], after[1], sdd[1], ynew = mean[0] + 2.0;

		forecast_arima_ops.predict(&s, 1, before, sdd);
		forecast_arima_ops.update(&s, ynew);
		forecast_arima_ops.predict(&s, 1, after, sdd);
		if (s.p == 1 && s.q == 0)
			check_double_near(after[0], mu + s.phi[0] * (ynew - mu), 1e-9);
	}
}

/* One-step mean squared error of s over y[from..n), updating as it goes. */
static double one_step_mse(struct arima_state *s, const double *y, size_t from, size_t n)
{
	double mean[1], sd[1], se = 0;

	for (size_t t = from; t < n; t++) {
		forecast_arima_ops.predict(s, 1, mean, sd);
		se += (mean[0] - y[t]) * (mean[0] - y[t]);
		forecast_arima_ops.update(s, y[t]);
	}
	return se / (double)(n - from);
}

static void test_ar2(void)
{
	static double y[N + 2 * 288];
	static struct arima_state s;
	const struct arima_order order = { .p = 2 };
	struct sim_rng r = { 2 };
	double phi[2] = { 0.5, 0.3 };

	sim_arma(&r, 0, phi, 2, NULL, 0, 2.0, y, N + 2 * 288);
	check_int_eq(arima_fit_order(&s, 0, y, N, &order), 0);
	check_double_near(s.phi[0], 0.5, 0.08); /* se ~ 0.033 */
	check_double_near(s.phi[1], 0.3, 0.08);
	check_double_near(sqrt(s.sigma2) * s.scale, 2.0, 0.15);
	/* forecasts on new data as good as the true model's (innovation variance 4) */
	check(one_step_mse(&s, y, N, N + 2 * 288) < 4 * 1.15);

	/* the automatic order does about as well, whatever it picks */
	fit(&s, y, N, 0);
	check(one_step_mse(&s, y, N, N + 2 * 288) < 4 * 1.2);
}

static void test_ma1(void)
{
	static double y[N];
	static struct arima_state s;
	struct sim_rng r = { 3 };
	double theta = 0.6, mean[3], sd[3];

	const struct arima_order order = { .q = 1 };

	sim_arma(&r, 10, NULL, 0, &theta, 1, 1.0, y, N);
	fit(&s, y, N, 0);
	check_int_eq(s.d, 0);
	check(s.q >= 1);
	check_int_eq(arima_fit_order(&s, 0, y, N, &order), 0);
	check_int_eq(s.p, 0);
	check_int_eq(s.q, 1);
	check_double_near(s.theta[0], 0.6, 0.08); /* se ~ 0.027 */
	/* an MA(1) forgets after one step: sd at h >= 2 is the process sd */
	forecast_arima_ops.predict(&s, 3, mean, sd);
	check_double_near(sd[1], sqrt(s.sigma2 * (1 + s.theta[0] * s.theta[0])) * s.scale, 1e-9);
	check_double_near(mean[1], mean[2], 1e-9);
	check_double_near(mean[2], 10, 0.3);
}

static void test_differencing(void)
{
	static double y[N];
	static struct arima_state s;
	struct sim_rng r = { 4 };
	double mean[12], sd[12];

	/* white noise: stationary, mean forecast */
	for (int i = 0; i < N; i++)
		y[i] = 5 + sim_normal(&r);
	fit(&s, y, N, 0);
	check_int_eq(s.d, 0);
	check_int_eq(s.p + s.q, 0);
	check(arima_kpss_stat(y, N) < 0.463);

	/* random walk: differenced, forecast flat at the last value, sd ~ sqrt(h) */
	y[0] = 0;
	for (int i = 1; i < N; i++)
		y[i] = y[i - 1] + sim_normal(&r);
	check(arima_kpss_stat(y, N) > 0.463);
	fit(&s, y, N, 0);
	check_int_eq(s.d, 1);
	forecast_arima_ops.predict(&s, 12, mean, sd);
	check_double_near(mean[11], y[N - 1], 0.5);
	check_double_near(sd[11] / sd[0], sqrt(12), 0.6);

	/* strong daily pattern: seasonally differenced */
	for (int i = 0; i < N; i++)
		y[i] = 20 + 10 * sin(2 * M_PI * i / 288) + 0.5 * sim_normal(&r);
	check(arima_season_strength(y, N, 288) > 0.64);
	fit(&s, y, N, 288);
	check_int_eq(s.sd, 1);
	check_int_eq(s.m, 288);
	forecast_arima_ops.predict(&s, 12, mean, sd);
	for (int h = 1; h <= 12; h++)
		check_double_near(mean[h - 1], 20 + 10 * sin(2 * M_PI * (N - 1 + h) / 288), 1.5);

	/* noise has no season */
	for (int i = 0; i < N; i++)
		y[i] = sim_normal(&r);
	check(arima_season_strength(y, N, 288) < 0.3);
	/* a season longer than the rings is ignored, not an error */
	fit(&s, y, N, 2016);
	check_int_eq(s.m, 0);
}

static void test_seasonal(void)
{
	static double y[N], e[N];
	static struct arima_state s;
	const struct arima_order sar = { .sp = 1 }, airline = { .d = 1, .q = 1, .sd = 1, .sq = 1 };
	struct sim_rng r = { 8 };
	double mean[30], sd[30];

	/* y_t = 0.6 y_{t-24} + e_t */
	for (int t = 0; t < N; t++)
		y[t] = (t >= 24 ? 0.6 * y[t - 24] : 0) + sim_normal(&r);
	check_int_eq(arima_fit_order(&s, 24, y, N, &sar), 0);
	check_int_eq(s.sp, 1);
	check_double_near(s.sphi, 0.6, 0.08);
	/* forecast h <= 24 is 0.6 times the value one season back */
	forecast_arima_ops.predict(&s, 24, mean, sd);
	for (int h = 1; h <= 24; h++)
		check_double_near(mean[h - 1] - s.center - s.scale * s.mu,
				  s.sphi * (y[N - 1 + h - 24] - s.center - s.scale * s.mu), 1e-9);

	/* airline model (0,1,1)(0,1,1)_12 with theta -0.4, Theta -0.6 */
	for (int t = 0; t < N; t++) {
		double w;

		e[t] = sim_normal(&r);
		w = e[t] + (t >= 1 ? -0.4 * e[t - 1] : 0) + (t >= 12 ? -0.6 * e[t - 12] : 0) +
		    (t >= 13 ? 0.24 * e[t - 13] : 0);
		y[t] = w + (t >= 1 ? y[t - 1] : 0) + (t >= 12 ? y[t - 12] : 0) -
		       (t >= 13 ? y[t - 13] : 0);
	}
	check_int_eq(arima_fit_order(&s, 12, y, N, &airline), 0);
	check_int_eq(s.d + s.sd + s.q + s.sq, 4);
	check_double_near(s.theta[0], -0.4, 0.1);
	check_double_near(s.stheta, -0.6, 0.1);
	/* sd from psi-weights = impulse response of the model's own recursion */
	forecast_arima_ops.predict(&s, 30, mean, sd);
	{
		double imp[30], yr[30], acc = 0, th = s.theta[0], sth = s.stheta;

		for (int t = 0; t < 30; t++) {
			imp[t] = t == 0;
			yr[t] = imp[t] + (t >= 1 ? th * imp[t - 1] : 0) +
				(t >= 12 ? sth * imp[t - 12] : 0) +
				(t >= 13 ? th * sth * imp[t - 13] : 0) + (t >= 1 ? yr[t - 1] : 0) +
				(t >= 12 ? yr[t - 12] : 0) - (t >= 13 ? yr[t - 13] : 0);
			acc += yr[t] * yr[t];
			check_double_near(sd[t], s.scale * sqrt(s.sigma2 * acc), 1e-9 * sd[t]);
		}
	}
	for (int h = 1; h < 30; h++)
		check(sd[h] >= sd[h - 1]);
}

static void test_degenerate(void)
{
	static double y[N];
	static struct arima_state s;
	struct sim_rng r = { 5 };
	double mean[24], sd[24];

	/* constant: no NaN, forecast is the constant */
	for (int i = 0; i < N; i++)
		y[i] = 42;
	fit(&s, y, N, 288);
	check_finite(&s, 24);
	forecast_arima_ops.predict(&s, 24, mean, sd);
	check_double_near(mean[23], 42, 1e-9);
	for (int i = 0; i < 50; i++)
		forecast_arima_ops.update(&s, 42);
	check_finite(&s, 24);
	forecast_arima_ops.update(&s, 50); /* then it moves */
	check_finite(&s, 24);

	/* zeros, and zeros with rare spikes */
	memset(y, 0, sizeof(y));
	fit(&s, y, N, 288);
	check_finite(&s, 300);
	for (int i = 0; i < N; i += 97)
		y[i] = 100;
	fit(&s, y, N, 288);
	check_finite(&s, 300);
	for (int i = 0; i < N; i++)
		forecast_arima_ops.update(&s, y[i]);
	check_finite(&s, 300);

	/* zero-heavy, huge scale, tiny scale, short history, NaN gaps */
	for (int i = 0; i < N; i++)
		y[i] = sim_uniform(&r) < 0.9 ? 0 : 1e9 * sim_uniform(&r);
	fit(&s, y, N, 288);
	check_finite(&s, 24);
	for (int i = 0; i < N; i++)
		y[i] = 1e-12 * sim_normal(&r);
	fit(&s, y, N, 288);
	check_finite(&s, 24);
	for (size_t n = 1; n < 40; n++) {
		fit(&s, y, n, 288);
		check_finite(&s, 24);
	}
	for (int i = 0; i < N; i++)
		y[i] = i % 7 == 3 ? NAN : sim_normal(&r);
	fit(&s, y, N, 0);
	check_finite(&s, 24);
	forecast_arima_ops.update(&s, NAN);
	check_finite(&s, 24);
	/* a zeroed state (never fitted) stays finite too */
	memset(&s, 0, sizeof(s));
	forecast_arima_ops.update(&s, 3);
	forecast_arima_ops.predict(&s, 24, mean, sd);
	for (int i = 0; i < 24; i++)
		check(isfinite(mean[i]));
	check(forecast_arima_ops.fit(&s, &cfg, 0, y, 0) < 0);
}

static void test_level_shift(void)
{
	static double y[N];
	static struct arima_state s;
	struct sim_rng r = { 6 };
	double phi = 0.5, mean[12], sd[12];

	sim_arma(&r, 2, &phi, 1, NULL, 0, 0.3, y, N);
	fit(&s, y, N, 0);
	check_int_eq(s.d, 0);
	/* a lasting jump of 50: after an hour the forecasts follow the new level */
	for (int i = 0; i < 12; i++)
		forecast_arima_ops.update(&s, 54 + 0.3 * sim_normal(&r));
	forecast_arima_ops.predict(&s, 12, mean, sd);
	check_double_near(mean[11], 54, 2);
	check(s.n_shifts >= 1);
}

static void test_odd_series(void)
{
	static double y[1200], mean[300], sd[300];
	static struct arima_state s;
	struct sim_rng r = { 21 };

	for (int it = 0; it < 300; it++) {
		uint32_t m;
		size_t n = sim_odd_series(&r, y, 1200, &m);
		bool ok = true;

		check_int_eq(forecast_arima_ops.fit(&s, &cfg, m, y, n), 0);
		for (size_t t = 0; t < 300; t++)
			forecast_arima_ops.update(&s, y[(t * 7) % n]);
		forecast_arima_ops.predict(&s, 300, mean, sd);
		for (int i = 0; i < 300; i++)
			ok = ok && isfinite(mean[i]) && isfinite(sd[i]) && sd[i] >= 0;
		if (!ok)
			fprintf(stderr, "odd series %d (n %zu, m %u): non-finite forecast\n", it, n,
				m);
		check(ok);
	}
}

static void test_deterministic(void)
{
	static double y[N];
	static struct arima_state a, b;
	struct sim_rng r = { 7 };
	double phi[2] = { 1.1, -0.3 };

	sim_arma(&r, 1, phi, 2, NULL, 0, 1, y, N);
	fit(&a, y, N, 288);
	fit(&b, y, N, 288);
	check(!memcmp(&a, &b, sizeof(a)));
	check(forecast_arima_ops.state_size == sizeof(struct arima_state));
	check(forecast_arima_ops.id == FORECAST_ARIMA);
	check(sizeof(struct arima_state) < 8192);
}

int main(void)
{
	test_ar1();
	test_ar2();
	test_ma1();
	test_differencing();
	test_seasonal();
	test_degenerate();
	test_level_shift();
	test_odd_series();
	test_deterministic();
	return test_result();
}
