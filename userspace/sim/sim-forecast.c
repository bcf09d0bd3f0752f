// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * prescient-sim forecast: the rolling-origin evaluation of the forecaster on
 * trace files, the protocol of ../shared/data/REFERENCE.md so the figures
 * compare with it. First 8 days of a 5-minute series; for each evaluation
 * day d = 4..8 every model is fitted on the 864 points before the day, then
 * updated through the day with its parameters fixed, and from every origin
 * forecasts 1 and 12 steps ahead. One AUTO forecaster runs every family side
 * by side, so each model and the automatic choice see exactly the same data;
 * the choice uses only data before each origin.
 *
 * Series shorter than 4 days (PlanetLab: one day per file) are fitted on
 * their first half and evaluated on the second.
 *
 * Output: one JSON object per file per line, or with --summary a table per
 * model and horizon over all files (median/mean MASE and sMAPE, pooled
 * coverage), the figures of REFERENCE.md.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "forecast.h"
#include "sim.h"

#define DAY_STEPS  288
#define FIT_STEPS  (3 * DAY_STEPS)
#define EVAL_DAYS  8
#define N_HORIZONS 2
#define N_ENTRIES  (FORECAST_NR_MODELS + 1) /* every model, then auto */
#define AUTO_ENTRY FORECAST_NR_MODELS

static const uint32_t horizons[N_HORIZONS] = { 1, 12 };

struct acc {
	double smape_sum, ae_sum;
	uint64_t n;
	uint64_t cov80, cov95;
};

struct file_result {
	bool present[N_ENTRIES];
	struct acc acc[N_ENTRIES][N_HORIZONS];
	double scale; /* MASE denominator; 0 = left out of MASE */
	double mean_level;
	bool active;
};

/* Summary over files: per entry and horizon, the per-file metrics. */
struct summary {
	double *mase[N_ENTRIES][N_HORIZONS];
	double *smape[N_ENTRIES][N_HORIZONS];
	size_t n_mase[N_ENTRIES][N_HORIZONS], n_smape[N_ENTRIES][N_HORIZONS], cap;
	uint64_t cov80[N_ENTRIES][N_HORIZONS], cov95[N_ENTRIES][N_HORIZONS],
		cov_n[N_ENTRIES][N_HORIZONS];
	bool present[N_ENTRIES];
	size_t files;
	uint64_t chosen[FORECAST_NR_MODELS];
};

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

static double median(double *v, size_t n)
{
	if (!n)
		return NAN;
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void acc_add(struct acc *a, double y, const struct forecast_point *p)
{
	double f = p->mean, den = fabs(y) + fabs(f);

	a->smape_sum += den > 0 ? 200 * fabs(y - f) / den : 0;
	a->ae_sum += fabs(y - f);
	a->n++;
	for (uint32_t l = 0; l < p->n_levels; l++) {
		bool in = y >= p->iv[l].lo && y <= p->iv[l].hi;

		if (fabs(p->iv[l].level - 0.80) < 1e-9)
			a->cov80 += in;
		else if (fabs(p->iv[l].level - 0.95) < 1e-9)
			a->cov95 += in;
	}
}

static void print_num(double v)
{
	if (isfinite(v))
		printf("%.4f", v);
	else
		printf("null");
}

static void print_horizons(const struct file_result *res, int e)
{
	for (int k = 0; k < N_HORIZONS; k++) {
		const struct acc *a = &res->acc[e][k];

		printf("%s\"h%u\": {\"smape\": ", k ? ", " : "", horizons[k]);
		print_num(a->n ? a->smape_sum / a->n : NAN);
		printf(", \"mase\": ");
		print_num(a->n && res->scale > 0 ? a->ae_sum / a->n / res->scale : NAN);
		printf(", \"cov80\": ");
		print_num(a->n ? (double)a->cov80 / a->n : NAN);
		printf(", \"cov95\": ");
		print_num(a->n ? (double)a->cov95 / a->n : NAN);
		printf("}");
	}
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* One file's figures into a summary (the per-file metrics and pooled coverage). */
static int summary_add(struct summary *sum, const struct file_result *res, const uint64_t *chosen)
{
	for (int m = 0; m < FORECAST_NR_MODELS; m++)
		sum->chosen[m] += chosen[m];
	if (sum->files == sum->cap) {
		size_t cap = sum->cap ? sum->cap * 2 : 64;

		for (int e = 0; e < N_ENTRIES; e++)
			for (int k = 0; k < N_HORIZONS; k++) {
				double *a = realloc(sum->mase[e][k], cap * sizeof(double));
				double *b = realloc(sum->smape[e][k], cap * sizeof(double));

				if (a)
					sum->mase[e][k] = a;
				if (b)
					sum->smape[e][k] = b;
				if (!a || !b)
					return -ENOMEM;
			}
		sum->cap = cap;
	}
	for (int e = 0; e < N_ENTRIES; e++) {
		if (!res->present[e])
			continue;
		sum->present[e] = true;
		for (int k = 0; k < N_HORIZONS; k++) {
			const struct acc *a = &res->acc[e][k];

			if (!a->n)
				continue;
			sum->smape[e][k][sum->n_smape[e][k]++] = a->smape_sum / a->n;
			if (res->scale > 0)
				sum->mase[e][k][sum->n_mase[e][k]++] =
					a->ae_sum / a->n / res->scale;
			sum->cov80[e][k] += a->cov80;
			sum->cov95[e][k] += a->cov95;
			sum->cov_n[e][k] += a->n;
		}
	}
	sum->files++;
	return 0;
}

static int evaluate_file(const char *path, enum sim_source src, enum sim_resource res,
			 uint32_t models, size_t skip_days, bool json, struct file_result *ret,
			 uint64_t ret_chosen[FORECAST_NR_MODELS])
{
	_cleanup_free_ double *y = NULL, *fit_us = NULL;
	struct forecaster *f = NULL;
	struct forecast_config cfg;
	struct file_result r = {};
	struct forecast_point pts[12];
	uint64_t chosen[FORECAST_NR_MODELS] = {}, chosen12[FORECAST_NR_MODELS] = {};
	size_t n, n_fits = 0, n_updates = 0;
	double update_us = 0;
	size_t seg_start[EVAL_DAYS], seg_len[EVAL_DAYS], fit_len[EVAL_DAYS], n_seg = 0, scale_len;
	int rr;

	rr = sim_trace_read(path, src, res, &y, &n);
	if (rr < 0)
		return rr;
	/* Later days of a long trace: the same protocol on data never tuned on. */
	if (skip_days) {
		size_t skip = skip_days * DAY_STEPS;

		if (n <= skip + 4 * DAY_STEPS)
			return -ENODATA;
		memmove(y, y + skip, (n - skip) * sizeof(double));
		n -= skip;
	}
	if (n > EVAL_DAYS * DAY_STEPS)
		n = EVAL_DAYS * DAY_STEPS;
	if (n >= 4 * DAY_STEPS) {
		for (size_t d = 3; d < EVAL_DAYS && (d + 1) * DAY_STEPS <= n; d++) {
			seg_start[n_seg] = d * DAY_STEPS;
			seg_len[n_seg] = DAY_STEPS;
			fit_len[n_seg] = FIT_STEPS;
			n_seg++;
		}
		scale_len = FIT_STEPS;
	} else {
		if (n < 48)
			return -ENODATA;
		seg_start[0] = n / 2;
		seg_len[0] = n - n / 2;
		fit_len[0] = n / 2;
		n_seg = 1;
		scale_len = n / 2;
	}

	/* MASE scale and level over the first days (gaps skipped). */
	double ds = 0, lvl = 0;
	size_t dn = 0, ln = 0;

	for (size_t i = 0; i < scale_len; i++) {
		if (isfinite(y[i])) {
			lvl += y[i];
			ln++;
		}
		if (i && isfinite(y[i]) && isfinite(y[i - 1])) {
			ds += fabs(y[i] - y[i - 1]);
			dn++;
		}
	}
	r.scale = dn ? ds / dn : 0;
	r.mean_level = ln ? lvl / ln : 0;

	forecast_config_init(&cfg, SIM_STEP_SEC);
	cfg.model = FORECAST_AUTO;
	cfg.horizon_steps = 12;
	cfg.history_max = FIT_STEPS;
	cfg.refit_every = 0; /* parameters fixed through the day */
	cfg.auto_models = models;
	cfg.calibrate_candidates = true; /* per-model intervals for the report */
	cfg.lower_bound = 0;
	cfg.upper_bound = res == SIM_RESOURCE_CPU ? 100 : INFINITY;
	rr = forecast_new(&cfg, &f);
	if (rr < 0)
		return rr;
	fit_us = calloc(n_seg, sizeof(double));
	if (!fit_us) {
		forecast_free(f);
		return -ENOMEM;
	}

	for (size_t s = 0; s < n_seg; s++) {
		size_t start = seg_start[s];
		double t0 = now_usec();

		rr = forecast_fit(f, y + start - fit_len[s], fit_len[s]);
		fit_us[n_fits++] = now_usec() - t0;
		if (rr < 0)
			continue;
		/* Origin o: the last observation is y[o]; the first origin closes the fit window.
		 */
		for (size_t o = start - 1; o + 1 < start + seg_len[s]; o++) {
			if (o >= start) {
				double t1 = now_usec();

				forecast_update(f, y[o]);
				update_us += now_usec() - t1;
				n_updates++;
			}
			for (int e = 0; e < N_ENTRIES; e++) {
				enum forecast_model m =
					e == AUTO_ENTRY ? FORECAST_AUTO : (enum forecast_model)e;

				if (m == FORECAST_AUTO && e != AUTO_ENTRY)
					continue;
				if (forecast_predict_model(f, m, 12, pts) < 0)
					continue;
				r.present[e] = true;
				for (int k = 0; k < N_HORIZONS; k++) {
					size_t t = o + horizons[k];

					if (t < n && isfinite(y[t]))
						acc_add(&r.acc[e][k], y[t], &pts[horizons[k] - 1]);
				}
			}
			chosen[forecast_model_chosen(f, 1)]++;
			chosen12[forecast_model_chosen(f, 12)]++;
		}
	}
	forecast_free(f);

	int best = 0, best12 = 0;

	for (int m = 0; m < FORECAST_NR_MODELS; m++) {
		if (chosen[m] > chosen[best])
			best = m;
		if (chosen12[m] > chosen12[best12])
			best12 = m;
	}
	double fit_med = median(fit_us, n_fits);

	if (json) {
		printf("{\"file\": ");
		json_string(path);
		printf(", \"resource\": \"%s\", \"models\": {", sim_resource_to_string(res));
		bool first = true;

		for (int e = 0; e < FORECAST_NR_MODELS; e++) {
			if (!r.present[e] || e == FORECAST_AUTO)
				continue;
			printf("%s\"%s\": {", first ? "" : ", ",
			       forecast_model_to_string((enum forecast_model)e));
			print_horizons(&r, e);
			printf("}");
			first = false;
		}
		printf("}, \"auto\": {");
		print_horizons(&r, AUTO_ENTRY);
		printf(", \"chosen\": \"%s\", \"chosen_h12\": \"%s\"}",
		       forecast_model_to_string((enum forecast_model)best),
		       forecast_model_to_string((enum forecast_model)best12));
		printf(", \"scale\": ");
		print_num(r.scale);
		printf(", \"fit_us_median\": %.0f, \"update_us_mean\": %.3f}\n", fit_med,
		       n_updates ? update_us / n_updates : 0.0);
		fflush(stdout);
	}

	/* The active series (mean level >= 1) are also summarised apart, as REFERENCE.md does. */
	r.active = r.mean_level >= 1;
	*ret = r;
	memcpy(ret_chosen, chosen, sizeof(chosen));
	return 0;
}

static double mean_of(const double *v, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += v[i];
	return n ? s / n : NAN;
}

static void summary_print(struct summary *sum)
{
	printf("%-16s %3s %10s %10s %9s %9s %7s %7s %5s\n", "model", "h", "sMAPE_mean", "sMAPE_med",
	       "MASE_mean", "MASE_med", "cov80", "cov95", "n");
	for (int e = 0; e < N_ENTRIES; e++) {
		if (!sum->present[e])
			continue;
		for (int k = 0; k < N_HORIZONS; k++) {
			size_t nm = sum->n_mase[e][k], ns = sum->n_smape[e][k];

			printf("%-16s %3u %10.2f %10.2f %9.3f %9.3f %7.3f %7.3f %5zu\n",
			       e == AUTO_ENTRY ? "auto"
					       : forecast_model_to_string((enum forecast_model)e),
			       horizons[k], mean_of(sum->smape[e][k], ns),
			       median(sum->smape[e][k], ns), mean_of(sum->mase[e][k], nm),
			       median(sum->mase[e][k], nm),
			       sum->cov_n[e][k] ? (double)sum->cov80[e][k] / sum->cov_n[e][k] : NAN,
			       sum->cov_n[e][k] ? (double)sum->cov95[e][k] / sum->cov_n[e][k] : NAN,
			       nm);
		}
	}
	printf("auto h1 choices:");
	for (int m = 0; m < FORECAST_NR_MODELS; m++)
		if (sum->chosen[m])
			printf(" %s=%llu", forecast_model_to_string((enum forecast_model)m),
			       (unsigned long long)sum->chosen[m]);
	printf("\n");
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: prescient-sim forecast --source azure|bitbrains|planetlab\n"
		     "                              [--resource "
		     "cpu|mem|disk-read|disk-write|net-rx|net-tx]\n"
		     "                              [--models m1,m2,...] [--summary] FILE...\n"
		     "Rolling-origin evaluation (see README): one JSON object per file per line;\n"
		     "--summary prints a table per model and horizon over all files instead;\n"
		     "--models limits the automatic choice to these candidates; --skip-days N\n"
		     "starts the protocol N days into each trace.\n");
}

int sim_forecast_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "resource", required_argument, NULL, 'r' },
		{ "summary", no_argument, NULL, 'S' },
		{ "models", required_argument, NULL, 'm' },
		{ "skip-days", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	enum sim_source src = SIM_NR_SOURCES;
	enum sim_resource res = SIM_RESOURCE_CPU;
	bool summary = false;
	struct summary sum = {}, sum_active = {};
	uint32_t models = 0;
	size_t skip_days = 0;
	int c, ret = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:r:Sm:d:h", opts, NULL)) >= 0) {
		switch (c) {
		case 's':
			if (sim_source_from_string(optarg, &src) < 0) {
				fprintf(stderr, "prescient-sim: unknown source '%s'\n", optarg);
				return 2;
			}
			break;
		case 'r':
			if (sim_resource_from_string(optarg, &res) < 0) {
				fprintf(stderr, "prescient-sim: unknown resource '%s'\n", optarg);
				return 2;
			}
			break;
		case 'S':
			summary = true;
			break;
		case 'd':
			skip_days = strtoul(optarg, NULL, 10);
			break;
		case 'm': {
			_cleanup_free_ char *list = strdup(optarg);
			char *save = NULL;

			if (!list)
				return 1;
			for (char *t = strtok_r(list, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				enum forecast_model m;

				if (forecast_model_from_string(t, &m) < 0 || m == FORECAST_AUTO) {
					fprintf(stderr, "prescient-sim: unknown model '%s'\n", t);
					return 2;
				}
				models |= 1u << m;
			}
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (src == SIM_NR_SOURCES || optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (src != SIM_SOURCE_BITBRAINS && res != SIM_RESOURCE_CPU) {
		fprintf(stderr, "prescient-sim: this source has CPU only\n");
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		static struct file_result fr;
		uint64_t chosen[FORECAST_NR_MODELS];
		int r = evaluate_file(argv[i], src, res, models, skip_days, !summary, &fr, chosen);

		if (r >= 0)
			r = summary_add(&sum, &fr, chosen);
		if (r >= 0 && fr.active)
			r = summary_add(&sum_active, &fr, chosen);
		if (r < 0) {
			fprintf(stderr, "prescient-sim: %s: %s, skipping\n", argv[i], strerror(-r));
			ret = 1;
		}
	}
	if (summary) {
		summary_print(&sum);
		if (sum_active.files && sum_active.files < sum.files) {
			printf("\nactive series only (mean level >= 1): %zu of %zu\n",
			       sum_active.files, sum.files);
			summary_print(&sum_active);
		}
	}
	for (int e = 0; e < N_ENTRIES; e++)
		for (int k = 0; k < N_HORIZONS; k++) {
			free(sum.mase[e][k]);
			free(sum.smape[e][k]);
			free(sum_active.mase[e][k]);
			free(sum_active.smape[e][k]);
		}
	return ret;
}
