// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * LSTM family: it learns a daily shape better than the last value, the
 * same history always gives the same model, and degenerate series (constant,
 * zeros, spikes, gaps, tiny histories) give finite forecasts.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lstm.h"
#include "model.h"
#include "sim.h"
#include "tap.h"

#define N   864
#define DAY 288

static const struct forecast_config cfg = { .step_sec = 300, .horizon_steps = 24 };

static void check_finite(const struct lstm_state *s, uint32_t h)
{
	double mean[400], sd[400];

	forecast_lstm_ops.predict(s, h, mean, sd);
	for (uint32_t i = 0; i < h; i++) {
		check(isfinite(mean[i]));
		check(isnan(sd[i])); /* no analytic variance */
	}
}

/* MAE at horizon h of the model and of the last value over y[from..n), updating. */
static void mae_vs_naive(struct lstm_state *s, const double *y, size_t from, size_t n, uint32_t h,
			 double *ret_model, double *ret_naive)
{
	double mean[24], sd[24], am = 0, an = 0;
	size_t cnt = 0;

	for (size_t t = from; t < n; t++) {
		forecast_lstm_ops.predict(s, h, mean, sd);
		if (t + h - 1 < n) {
			am += fabs(mean[h - 1] - y[t + h - 1]);
			an += fabs(y[t - 1] - y[t + h - 1]);
			cnt++;
		}
		forecast_lstm_ops.update(s, y[t]);
	}
	*ret_model = am / cnt;
	*ret_naive = an / cnt;
}

static void test_sine(void)
{
	static double y[N + DAY];
	static struct lstm_state s;
	struct sim_rng r = { 11 };
	double m1, n1, m12, n12;

	for (int t = 0; t < N + DAY; t++)
		y[t] = 50 + 30 * sin(2 * M_PI * t / DAY) + 0.5 * sim_normal(&r);
	check_int_eq(forecast_lstm_ops.fit(&s, &cfg, DAY, y, N), 0);
	mae_vs_naive(&s, y, N, N + DAY, 1, &m1, &n1);
	fprintf(stderr, "sine: h1 mae %.3f naive %.3f\n", m1, n1);
	check(m1 < 0.8 * n1);
	check_int_eq(forecast_lstm_ops.fit(&s, &cfg, DAY, y, N), 0);
	mae_vs_naive(&s, y, N, N + DAY, 12, &m12, &n12);
	fprintf(stderr, "sine: h12 mae %.3f naive %.3f\n", m12, n12);
	check(m12 < 0.5 * n12);
}

static void test_square_season(void)
{
	static double y[N + DAY];
	static struct lstm_state s;
	struct sim_rng r = { 12 };
	double m12, n12;

	/* busy 08:00-18:00, idle otherwise: the seasonal input carries the switch */
	for (int t = 0; t < N + DAY; t++)
		y[t] = (t % DAY >= 96 && t % DAY < 216 ? 60 : 5) + sim_normal(&r);
	check_int_eq(forecast_lstm_ops.fit(&s, &cfg, DAY, y, N), 0);
	mae_vs_naive(&s, y, N, N + DAY, 12, &m12, &n12);
	fprintf(stderr, "square: h12 mae %.3f naive %.3f\n", m12, n12);
	check(m12 < 0.8 * n12);
}

/* Backpropagation through time agrees with central finite differences. */
static void test_gradient(void)
{
	static double y[N];
	static struct lstm_state s;
	static float grad[LSTM_NPARAMS], g2[LSTM_NPARAMS];
	struct sim_rng r = { 15 };
	float z[20], maxg = 0;
	int checked = 0, bad = 0;

	for (int t = 0; t < N; t++)
		y[t] = 10 + 5 * sin(2 * M_PI * t / DAY) + sim_normal(&r);
	check_int_eq(forecast_lstm_ops.fit(&s, &cfg, DAY, y, N), 0);
	/* a head that is not zero, so every path carries gradient */
	for (int i = LSTM_GATES * LSTM_ROW; i < LSTM_NPARAMS; i++)
		s.w[i] += 0.3f * (float)sim_normal(&r);
	for (int t = 0; t < 20; t++)
		z[t] = (float)(0.8 * sin(0.4 * t) + 0.1 * sim_normal(&r));
	lstm_window_loss(&s, z, 20, grad);
	for (int i = 0; i < LSTM_NPARAMS; i++)
		maxg = fmaxf(maxg, fabsf(grad[i]));
	check(maxg > 0);
	for (int i = 0; i < LSTM_NPARAMS; i += 3) {
		float w0 = s.w[i], eps = 5e-3f, lp, lm, num;

		s.w[i] = w0 + eps;
		lp = lstm_window_loss(&s, z, 20, g2);
		s.w[i] = w0 - eps;
		lm = lstm_window_loss(&s, z, 20, g2);
		s.w[i] = w0;
		num = (lp - lm) / (2 * eps);
		checked++;
		if (fabsf(num - grad[i]) > 0.05f * fabsf(grad[i]) + 2e-3f * maxg) {
			fprintf(stderr, "param %d: backprop %g, finite difference %g\n", i, grad[i],
				num);
			bad++;
		}
	}
	check(checked > 100);
	check_int_eq(bad, 0);
}

static void test_odd_series(void)
{
	static double y[1200], mean[400], sd[400];
	static struct lstm_state s;
	struct sim_rng r = { 21 };

	for (int it = 0; it < 60; it++) {
		uint32_t m;
		size_t n = sim_odd_series(&r, y, 1200, &m);
		bool ok = true;

		check_int_eq(forecast_lstm_ops.fit(&s, &cfg, m, y, n), 0);
		for (size_t t = 0; t < 300; t++)
			forecast_lstm_ops.update(&s, y[(t * 7) % n]);
		forecast_lstm_ops.predict(&s, 400, mean, sd);
		for (int i = 0; i < 400; i++)
			ok = ok && isfinite(mean[i]) && isnan(sd[i]);
		if (!ok)
			fprintf(stderr, "odd series %d (n %zu, m %u): non-finite forecast\n", it, n,
				m);
		check(ok);
	}
}

static void test_deterministic(void)
{
	static double y[N];
	static struct lstm_state a, b;
	struct sim_rng r = { 13 };
	double ma[24], mb[24], sd[24];

	for (int t = 0; t < N; t++)
		y[t] = 10 + 5 * sin(2 * M_PI * t / DAY) + sim_normal(&r);
	check_int_eq(forecast_lstm_ops.fit(&a, &cfg, DAY, y, N), 0);
	check_int_eq(forecast_lstm_ops.fit(&b, &cfg, DAY, y, N), 0);
	check(!memcmp(&a, &b, sizeof(a)));
	for (int t = 0; t < 50; t++) {
		forecast_lstm_ops.update(&a, y[t]);
		forecast_lstm_ops.update(&b, y[t]);
	}
	forecast_lstm_ops.predict(&a, 24, ma, sd);
	forecast_lstm_ops.predict(&b, 24, mb, sd);
	check(!memcmp(ma, mb, sizeof(ma)));
	check(forecast_lstm_ops.state_size == sizeof(struct lstm_state));
	check(forecast_lstm_ops.id == FORECAST_LSTM);
	check(sizeof(struct lstm_state) < 12288);
}

static void test_degenerate(void)
{
	static double y[N];
	static struct lstm_state s;
	struct sim_rng r = { 14 };
	double mean[24], sd[24];

	for (int i = 0; i < N; i++)
		y[i] = 42;
	check_int_eq(forecast_lstm_ops.fit(&s, &cfg, DAY, y, N), 0);
	check_finite(&s, 24);
	forecast_lstm_ops.predict(&s, 24, mean, sd);
	check_double_near(mean[23], 42, 0.5);
	for (int i = 0; i < 100; i++)
		forecast_lstm_ops.update(&s, 42);
	check_finite(&s, 24);
	forecast_lstm_ops.update(&s, 1e6);
	check_finite(&s, 400);

	memset(y, 0, sizeof(y));
	check_int_eq(forecast_lstm_ops.fit(&s, &cfg, DAY, y, N), 0);
	check_finite(&s, 400);
	for (int i = 0; i < N; i += 97)
		y[i] = 100;
	check_int_eq(forecast_lstm_ops.fit(&s, &cfg, DAY, y, N), 0);
	check_finite(&s, 400);
	for (int i = 0; i < N; i++)
		forecast_lstm_ops.update(&s, y[i]);
	check_finite(&s, 400);

	for (int i = 0; i < N; i++)
		y[i] = sim_uniform(&r) < 0.9 ? 0 : 1e9 * sim_uniform(&r);
	check_int_eq(forecast_lstm_ops.fit(&s, &cfg, DAY, y, N), 0);
	check_finite(&s, 24);
	for (int i = 0; i < N; i++)
		y[i] = i % 5 == 2 ? NAN : sim_normal(&r);
	check_int_eq(forecast_lstm_ops.fit(&s, &cfg, 0, y, N), 0);
	check_finite(&s, 24);
	forecast_lstm_ops.update(&s, NAN);
	forecast_lstm_ops.update(&s, INFINITY);
	check_finite(&s, 24);
	for (size_t n = 1; n < 8; n++) {
		check_int_eq(forecast_lstm_ops.fit(&s, &cfg, DAY, y + 1, n), 0);
		check_finite(&s, 24);
	}
	/* a weekly season is beyond the lag ring: time features only */
	check_int_eq(forecast_lstm_ops.fit(&s, &cfg, 2016, y, N), 0);
	check_finite(&s, 24);
	/* a zeroed state (never fitted) stays finite too */
	memset(&s, 0, sizeof(s));
	forecast_lstm_ops.update(&s, 3);
	forecast_lstm_ops.predict(&s, 24, mean, sd);
	for (int i = 0; i < 24; i++)
		check(isfinite(mean[i]));
	check(forecast_lstm_ops.fit(&s, &cfg, DAY, y, 0) < 0);
}

int main(void)
{
	test_sine();
	test_square_season();
	test_gradient();
	test_odd_series();
	test_deterministic();
	test_degenerate();
	return test_result();
}
