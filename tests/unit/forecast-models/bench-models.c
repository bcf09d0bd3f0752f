// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Speed of the ARIMA and LSTM families alone (the forecast benchmark times
 * them through the public API): median fit on 864 points of a 5-minute
 * series with a daily shape, noise and bursts, mean update, state size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "arima.h"
#include "model.h"
#include "sim.h"

#define N	864
#define FITS	41
#define UPDATES 200000

static double now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: other load does not count */
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int bench(const struct forecast_model_ops *ops, const double *y, size_t n)
{
	const struct forecast_config cfg = { .step_sec = 300, .horizon_steps = 12 };
	double fit_us[FITS], t0, mean[12], sd[12], sink = 0;
	void *state = malloc(ops->state_size);

	if (!state)
		return -1;
	for (int i = 0; i < FITS; i++) {
		/* a different window each time, as a daemon refitting would */
		t0 = now_usec();
		if (ops->fit(state, &cfg, 288, y + i * 7, N) < 0) {
			free(state);
			return -1;
		}
		fit_us[i] = now_usec() - t0;
	}
	qsort(fit_us, FITS, sizeof(*fit_us), cmp_double);
	t0 = now_usec();
	for (int i = 0; i < UPDATES; i++)
		ops->update(state, y[i % n]);
	t0 = (now_usec() - t0) / UPDATES;
	ops->predict(state, 12, mean, sd);
	sink += mean[11];
	printf("BENCH models_fit_us.%s %.1f us\n", ops->name, fit_us[FITS / 2]);
	printf("BENCH models_update_us.%s %.3f us\n", ops->name, t0);
	printf("BENCH models_state_bytes.%s %zu B\n", ops->name, ops->state_size);
	free(state);
	return sink == sink ? 0 : -1;
}

int main(void)
{
	static double y[N + FITS * 7];
	struct sim_rng r = { 99 };
	double phi = 0.8, ar[1] = { 0 };
	size_t n = N + FITS * 7;

	for (size_t t = 0; t < n; t++) {
		ar[0] = phi * ar[0] + sim_normal(&r);
		y[t] = 20 + 10 * sin(2 * M_PI * (double)t / 288) + 2 * ar[0] +
		       (sim_uniform(&r) < 0.01 ? 40 : 0);
	}
	if (bench(&forecast_arima_ops, y, n) < 0 || bench(&forecast_lstm_ops, y, n) < 0)
		return 1;

	/* the largest order the search can pick, for the worst-case update */
	{
		static struct arima_state s;
		const struct arima_order order = { .p = 3, .q = 3, .sp = 1, .sq = 1 };
		double t0, mean[12], sd[12];

		if (arima_fit_order(&s, 288, y, N, &order) < 0)
			return 1;
		t0 = now_usec();
		for (int i = 0; i < UPDATES; i++)
			forecast_arima_ops.update(&s, y[i % n]);
		t0 = (now_usec() - t0) / UPDATES;
		forecast_arima_ops.predict(&s, 12, mean, sd);
		printf("BENCH models_update_us.arima_3_0_3_1_0_1 %.3f us\n", t0);
		if (!(mean[11] == mean[11]))
			return 1;
	}
	return 0;
}
