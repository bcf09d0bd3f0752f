// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Offline accuracy of the ARIMA and LSTM families alone, with the protocol of
 * the issue (../shared/data/REFERENCE.md): 5-minute CPU series, first 8 days,
 * for each day 4..8 fit on the 864 points before it, then update through the
 * day forecasting h = 1 and h = 12 from every origin, clipped to [0, 100].
 * Prints one line per file and a summary (MASE median and mean, fit and
 * update times). Run by hand on the data folder; without files it skips.
 *
 *   models-eval [--source azure|bitbrains] [--model arima|lstm] FILE...
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"

#define EVAL_N	   2304 /* 8 days of 5 minutes */
#define EVAL_DAY   288
#define EVAL_FIT   864
#define EVAL_FILES 512

enum { SRC_AZURE, SRC_BITBRAINS };

static double now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: other load does not count */
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Reads the CPU column on the 300 s grid; returns the number of points. */
static size_t eval_read(const char *path, int src, double *y)
{
	char line[1024];
	size_t n = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	for (size_t i = 0; i < EVAL_N; i++)
		y[i] = NAN;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		double t, a, b, c, cpu;

		if (src == SRC_AZURE) {
			if (sscanf(line, "%lf,%lf", &t, &cpu) != 2)
				continue;
			if (n < EVAL_N)
				y[n++] = cpu;
		} else {
			long long bin;

			if (sscanf(line, "%lf,%lf,%lf,%lf", &t, &a, &b, &c) != 4)
				continue;
			bin = (long long)floor((t - 1375315200.0) / 300.0);
			if (bin >= 0 && bin < EVAL_N)
				y[bin] = c;
		}
	}
	fclose(f);
	if (src == SRC_BITBRAINS) {
		double last = NAN;

		for (size_t i = 0; i < EVAL_N; i++) {
			if (isnan(y[i]))
				y[i] = last;
			else
				last = y[i];
		}
		for (size_t i = 0; i < EVAL_N && isnan(y[0]); i++)
			if (!isnan(y[i]))
				for (size_t j = 0; j < i; j++)
					y[j] = y[i];
		n = isnan(y[0]) ? 0 : EVAL_N;
	}
	return n;
}

/* The last value, to check the harness against REFERENCE.md. */
struct naive_state {
	double last;
};

static int naive_fit(void *state, const struct forecast_config *cfg, uint32_t season_steps,
		     const double *yv, size_t n)
{
	((struct naive_state *)state)->last = yv[n - 1];
	return 0;
}

static void naive_update(void *state, double yv)
{
	((struct naive_state *)state)->last = yv;
}

static void naive_predict(const void *state, uint32_t h, double *ret_mean, double *ret_sd)
{
	for (uint32_t i = 0; i < h; i++) {
		ret_mean[i] = ((const struct naive_state *)state)->last;
		ret_sd[i] = NAN;
	}
}

static const struct forecast_model_ops eval_naive_ops = {
	.name = "naive",
	.state_size = sizeof(struct naive_state),
	.fit = naive_fit,
	.update = naive_update,
	.predict = naive_predict,
};

static double clip(double v)
{
	return v < 0 ? 0 : v > 100 ? 100 : v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double mean(const double *v, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += v[i];
	return n ? s / n : NAN;
}

int main(int argc, char **argv)
{
	static double y[EVAL_N], mase1[EVAL_FILES], mase12[EVAL_FILES], fit_us[EVAL_FILES * 5];
	static double smape1[EVAL_FILES], smape12[EVAL_FILES];
	const struct forecast_model_ops *ops = &forecast_arima_ops;
	struct forecast_config cfg = { .step_sec = 300, .horizon_steps = 12 };
	double upd_us = 0, mean_v[12], sd_v[12], cov1 = 0, cov12 = 0;
	size_t nfiles = 0, nmase = 0, nfit = 0, nupd = 0, ncov = 0;
	int src = SRC_AZURE;
	void *state;

	for (; argc > 2 && !strncmp(argv[1], "--", 2); argc -= 2, argv += 2) {
		if (!strcmp(argv[1], "--source"))
			src = !strcmp(argv[2], "bitbrains") ? SRC_BITBRAINS : SRC_AZURE;
		else if (!strcmp(argv[1], "--model"))
			ops = !strcmp(argv[2], "lstm")	  ? &forecast_lstm_ops
			      : !strcmp(argv[2], "naive") ? &eval_naive_ops
							  : &forecast_arima_ops;
	}
	if (argc < 2) {
		fprintf(stderr, "SKIP: no trace files given\n");
		return 77;
	}
	state = malloc(ops->state_size);
	if (!state)
		return 1;
	for (int fi = 1; fi < argc && nfiles < EVAL_FILES; fi++) {
		double scale = 0, ae1 = 0, ae12 = 0, sm1 = 0, sm12 = 0;
		size_t n1 = 0, n12 = 0;

		if (eval_read(argv[fi], src, y) < EVAL_N) {
			fprintf(stderr, "%s: short or unreadable, ignoring\n", argv[fi]);
			continue;
		}
		for (size_t t = 1; t < EVAL_FIT; t++)
			scale += fabs(y[t] - y[t - 1]);
		scale /= EVAL_FIT - 1;
		for (size_t d = 3; d < 8; d++) {
			size_t s = d * EVAL_DAY;
			double t0 = now_usec();

			if (ops->fit(state, &cfg, EVAL_DAY, y + s - EVAL_FIT, EVAL_FIT) < 0)
				return 1;
			fit_us[nfit++] = now_usec() - t0;
			for (size_t t = s; t < s + EVAL_DAY; t++) {
				ops->predict(state, 12, mean_v, sd_v);
				for (int hi = 0; hi < 2; hi++) {
					size_t h = hi ? 12 : 1, tt = t + h - 1;
					double f = clip(mean_v[h - 1]), a, den;

					if (tt >= EVAL_N)
						continue;
					a = y[tt];
					if (!isfinite(mean_v[h - 1]))
						fprintf(stderr, "%s: non-finite forecast\n",
							argv[fi]);
					den = fabs(a) + fabs(f);
					if (hi) {
						ae12 += fabs(a - f);
						sm12 += den > 0 ? 200 * fabs(a - f) / den : 0;
						n12++;
					} else {
						ae1 += fabs(a - f);
						sm1 += den > 0 ? 200 * fabs(a - f) / den : 0;
						n1++;
					}
					if (isfinite(sd_v[h - 1])) {
						double lo = mean_v[h - 1] - 1.96 * sd_v[h - 1];
						double hi_v = mean_v[h - 1] + 1.96 * sd_v[h - 1];
						double in = a >= lo && a <= hi_v;

						if (hi)
							cov12 += in;
						else {
							cov1 += in;
							ncov++;
						}
					}
				}
				t0 = now_usec();
				ops->update(state, y[t]);
				upd_us += now_usec() - t0;
				nupd++;
			}
		}
		smape1[nfiles] = sm1 / n1;
		smape12[nfiles] = sm12 / n12;
		nfiles++;
		printf("%s mase1 %.3f mase12 %.3f smape1 %.1f smape12 %.1f\n", argv[fi],
		       scale > 0 ? ae1 / n1 / scale : NAN, scale > 0 ? ae12 / n12 / scale : NAN,
		       sm1 / n1, sm12 / n12);
		if (scale > 0) {
			mase1[nmase] = ae1 / n1 / scale;
			mase12[nmase] = ae12 / n12 / scale;
			nmase++;
		}
	}
	printf("SUMMARY %s files %zu mase1 median %.3f mean %.3f mase12 median %.3f mean %.3f\n",
	       ops->name, nfiles, median(mase1, nmase), mean(mase1, nmase), median(mase12, nmase),
	       mean(mase12, nmase));
	printf("SUMMARY %s smape1 median %.1f mean %.1f smape12 median %.1f mean %.1f\n", ops->name,
	       median(smape1, nfiles), mean(smape1, nfiles), median(smape12, nfiles),
	       mean(smape12, nfiles));
	printf("SUMMARY %s cov95(analytic) h1 %.3f h12 %.3f\n", ops->name, ncov ? cov1 / ncov : NAN,
	       ncov ? cov12 / ncov : NAN);
	printf("BENCH models_eval_fit_us.%s %.1f us\n", ops->name, median(fit_us, nfit));
	if (nfit)
		printf("SUMMARY %s fit_us p95 %.1f max %.1f\n", ops->name,
		       fit_us[(size_t)(0.95 * (double)(nfit - 1))], fit_us[nfit - 1]);
	printf("BENCH models_eval_update_us.%s %.3f us\n", ops->name, nupd ? upd_us / nupd : NAN);
	printf("BENCH models_eval_state_bytes.%s %zu B\n", ops->name, ops->state_size);
	free(state);
	return 0;
}
