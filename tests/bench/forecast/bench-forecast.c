// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Cost of forecasting one series at a 5-minute step, per model family:
 * one fit on 864 points (3 days) as the forecaster does it (fit on the older
 * part, replay the rest for calibration and choice, final fit), the model's
 * own fit alone, the mean cost of one update (state, calibration, choice),
 * and the bytes held per series. The series is synthetic but shaped like a
 * VM's CPU: a daily cycle, noise, bursts and idle stretches.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forecast.h"
#include "model.h"

#define DAY	288
#define FIT_N	(3 * DAY)
#define UPDATES 20000

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

/* CPU time of this thread: the figures hold on a loaded machine. */
static double now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double series_at(int i)
{
	double v = 20 + 12 * sin(2 * M_PI * i / DAY) + 3 * (urand() - 0.5);

	if (urand() < 0.02)
		v += 40 * urand(); /* burst */
	if ((i / 97) % 7 == 3)
		v = 0.2 * urand(); /* idle stretch */
	return fmin(fmax(v, 0), 100);
}

int main(int argc, char **argv)
{
	static double y[FIT_N], more[UPDATES];
	static const enum forecast_model models[] = {
		FORECAST_NAIVE,	   FORECAST_SEASONAL_NAIVE, FORECAST_SES,   FORECAST_HOLT,
		FORECAST_HW_ADD,   FORECAST_HW_MUL,	    FORECAST_ARIMA, FORECAST_LSTM,
		FORECAST_ENSEMBLE, FORECAST_AUTO,
	};

	for (int i = 0; i < FIT_N; i++)
		y[i] = series_at(i);
	for (int i = 0; i < UPDATES; i++)
		more[i] = series_at(FIT_N + i);

	for (size_t mi = 0; mi < sizeof(models) / sizeof(models[0]); mi++) {
		enum forecast_model m = models[mi];
		const struct forecast_model_ops *ops = forecast_model_ops_get(m);
		const char *name = forecast_model_to_string(m);
		struct forecast_config cfg;
		struct forecaster *f = NULL;
		double fit_us[15], model_us[15];
		int reps = (m == FORECAST_LSTM || m == FORECAST_AUTO) ? 5 : 15;

		if (m != FORECAST_AUTO && m != FORECAST_ENSEMBLE && !ops)
			continue;
		forecast_config_init(&cfg, 300);
		cfg.model = m;
		cfg.horizon_steps = 12;
		cfg.history_max = FIT_N;
		cfg.refit_every = 0;
		cfg.lower_bound = 0;
		cfg.upper_bound = 100;
		if (forecast_new(&cfg, &f) < 0) {
			fprintf(stderr, "bench: cannot create %s\n", name);
			return 1;
		}
		for (int r = 0; r < reps; r++) {
			double t0 = now_usec();

			if (forecast_fit(f, y, FIT_N) < 0) {
				fprintf(stderr, "bench: fit %s failed\n", name);
				return 1;
			}
			fit_us[r] = now_usec() - t0;
		}
		qsort(fit_us, reps, sizeof(double), cmp_double);

		/* The model's own fit, without the forecaster's calibration replay. */
		if (ops) {
			void *state = calloc(1, ops->state_size);

			for (int r = 0; r < reps && state; r++) {
				double t0 = now_usec();

				ops->fit(state, &cfg, DAY, y, FIT_N);
				model_us[r] = now_usec() - t0;
			}
			free(state);
			qsort(model_us, reps, sizeof(double), cmp_double);
		}

		double t0 = now_usec();

		for (int i = 0; i < UPDATES; i++)
			forecast_update(f, more[i]);
		double upd = (now_usec() - t0) / UPDATES;

		printf("BENCH forecast_fit_us.%s %.0f us\n", name, fit_us[reps / 2]);
		if (ops) {
			printf("BENCH forecast_model_fit_us.%s %.0f us\n", name,
			       model_us[reps / 2]);
			printf("BENCH forecast_model_state_bytes.%s %zu B\n", name,
			       ops->state_size);
		}
		printf("BENCH forecast_update_us.%s %.3f us\n", name, upd);
		printf("BENCH forecast_state_bytes.%s %zu B\n", name, forecast_state_bytes(f));
		fflush(stdout);
		forecast_free(f);
	}
	(void)argc;
	(void)argv;
	return 0;
}
