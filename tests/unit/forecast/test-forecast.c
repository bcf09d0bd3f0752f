// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The forecaster and its model families: closed-form cases (constant and
 * linear series, a pure season, the naive variance), properties every model
 * must keep on hostile input (constants, zeros, spikes, gaps, huge values:
 * finite forecasts, lo <= mean <= hi, bounds respected, nested levels),
 * calibration on white noise, season detection, and checkpoints (round trip
 * to identical forecasts, corrupt and foreign buffers refused).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "forecast.h"
#include "model.h"
#include "season.h"
#include "tap.h"

#define STEP 300.0
#define DAY  288

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static double nrand(void)
{
	double u = urand(), v = urand();

	return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

static struct forecaster *make(enum forecast_model m, uint32_t horizon, double lo, double hi)
{
	struct forecast_config cfg;
	struct forecaster *f = NULL;

	forecast_config_init(&cfg, STEP);
	cfg.model = m;
	cfg.horizon_steps = horizon;
	cfg.history_max = 3 * DAY;
	cfg.refit_every = DAY;
	cfg.lower_bound = lo;
	cfg.upper_bound = hi;
	check_int_eq(forecast_new(&cfg, &f), 0);
	return f;
}

static bool model_built(enum forecast_model m)
{
	return m == FORECAST_AUTO || m == FORECAST_ENSEMBLE || forecast_model_ops_get(m);
}

/* Every point finite, ordered and inside the bounds; levels nested. */
static void check_points(const struct forecast_point *p, uint32_t n, double lo, double hi,
			 const char *what)
{
	for (uint32_t h = 0; h < n; h++) {
		bool ok = isfinite(p[h].mean) && p[h].mean >= lo && p[h].mean <= hi &&
			  p[h].n_levels == 2;

		for (uint32_t l = 0; ok && l < p[h].n_levels; l++)
			ok = isfinite(p[h].iv[l].lo) && isfinite(p[h].iv[l].hi) &&
			     p[h].iv[l].lo <= p[h].mean && p[h].mean <= p[h].iv[l].hi &&
			     p[h].iv[l].lo >= lo && p[h].iv[l].hi <= hi;
		/* The 95 % interval contains the 80 % one. */
		ok = ok && p[h].iv[1].lo <= p[h].iv[0].lo + 1e-9 &&
		     p[h].iv[1].hi >= p[h].iv[0].hi - 1e-9;
		if (!ok) {
			fprintf(stderr, "%s: bad point at h=%u: mean %g [%g, %g] [%g, %g]\n", what,
				h + 1, p[h].mean, p[h].iv[0].lo, p[h].iv[0].hi, p[h].iv[1].lo,
				p[h].iv[1].hi);
			test_failures++;
			return;
		}
	}
}

static void test_names(void)
{
	for (unsigned m = 0; m < FORECAST_NR_MODELS; m++) {
		enum forecast_model back;
		const char *s = forecast_model_to_string(m);

		check(s != NULL);
		check_int_eq(forecast_model_from_string(s, &back), 0);
		check_int_eq(back, m);
	}
	enum forecast_model x;

	check_int_eq(forecast_model_from_string("nope", &x), -EINVAL);
	check(forecast_model_to_string(FORECAST_NR_MODELS) == NULL);
}

static void test_config(void)
{
	struct forecast_config cfg;
	struct forecaster *f = NULL;

	forecast_config_init(&cfg, 60);
	check_int_eq(cfg.model, FORECAST_AUTO);
	check_int_eq(cfg.horizon_steps, 60);
	check_int_eq(cfg.n_levels, 2);
	check_double_near(cfg.levels[0], 0.80, 1e-12);
	check_double_near(cfg.levels[1], 0.95, 1e-12);
	cfg.levels[1] = 1.5;
	check_int_eq(forecast_new(&cfg, &f), -EINVAL);
	forecast_config_init(&cfg, 60);
	cfg.horizon_steps = 0;
	check_int_eq(forecast_new(&cfg, &f), -EINVAL);
	forecast_config_init(&cfg, 60);
	cfg.lower_bound = 10;
	cfg.upper_bound = 5;
	check_int_eq(forecast_new(&cfg, &f), -EINVAL);

	/* Before any data there is nothing to forecast. */
	struct forecast_point p[2];

	f = make(FORECAST_SES, 2, 0, INFINITY);
	check_int_eq(forecast_predict(f, 1, p), -EAGAIN);
	check_int_eq(forecast_fit(f, (double[]){ 1 }, 0), -EINVAL);
	check_int_eq(forecast_fit(f, (double[]){ NAN, NAN }, 2), -EINVAL);
	check(isnan(forecast_coverage(f, 0.95)));
	check_int_eq(forecast_update(f, 3), 0);
	check_int_eq(forecast_predict(f, 2, p), 0);
	check_double_near(p[0].mean, 3, 1e-9);
	check_int_eq(forecast_predict(f, 3, p), -EINVAL);
	forecast_free(f);
	forecast_free(NULL);
}

/* Closed forms. */
static void test_golden(void)
{
	double y[3 * DAY];
	struct forecast_point p[24];
	struct forecaster *f;

	/* A constant series: every smoother forecasts the constant, exactly. */
	for (int i = 0; i < 3 * DAY; i++)
		y[i] = 42;
	for (unsigned m = 0; m < FORECAST_NR_MODELS; m++) {
		if (!model_built(m) || m == FORECAST_LSTM)
			continue;
		f = make(m, 24, 0, INFINITY);
		check_int_eq(forecast_fit(f, y, 3 * DAY), 0);
		check_int_eq(forecast_predict(f, 24, p), 0);
		for (int h = 0; h < 24; h++)
			check_double_near(p[h].mean, 42, 1e-6);
		/* No error ever: the intervals collapse onto the forecast. */
		check_double_near(p[0].iv[1].hi - p[0].iv[1].lo, 0, 1e-6);
		forecast_free(f);
	}

	/* A straight line: damped Holt follows it; its forecast bends below the line. */
	for (int i = 0; i < 3 * DAY; i++)
		y[i] = 10 + 0.5 * i;
	f = make(FORECAST_HOLT, 24, -INFINITY, INFINITY);
	check_int_eq(forecast_fit(f, y, 3 * DAY), 0);
	check_int_eq(forecast_predict(f, 24, p), 0);
	double next = 10 + 0.5 * (3 * DAY);

	/* One step: within the damping's lag ((1 - phi) * slope, phi >= 0.8). */
	check(fabs(p[0].mean - next) <= 0.2 * 0.5 + 1e-6);
	for (int h = 1; h < 24; h++) {
		check(p[h].mean > p[h - 1].mean);	   /* still rising */
		check(p[h].mean <= next + 0.5 * h + 1e-6); /* damped */
		if (h > 1)				   /* increments shrink geometrically */
			check(p[h].mean - p[h - 1].mean <= p[h - 1].mean - p[h - 2].mean + 1e-9);
	}
	forecast_free(f);

	/* SES on a line lags it by slope / alpha at best: alpha = 1 is the naive forecast. */
	f = make(FORECAST_SES, 24, -INFINITY, INFINITY);
	check_int_eq(forecast_fit(f, y, 3 * DAY), 0);
	check_int_eq(forecast_predict(f, 24, p), 0);
	check_double_near(p[0].mean, y[3 * DAY - 1], 0.01);
	check_double_near(p[23].mean, p[0].mean, 1e-9); /* flat forecast */
	forecast_free(f);

	/* A pure season: seasonal naive repeats yesterday; additive Holt-Winters too. */
	for (int i = 0; i < 3 * DAY; i++)
		y[i] = 50 + 20 * sin(2 * M_PI * i / DAY) + ((i % DAY) == 100 ? 15 : 0);
	for (unsigned m = FORECAST_SEASONAL_NAIVE; m <= FORECAST_HW_MUL; m++) {
		if (m == FORECAST_SES || m == FORECAST_HOLT)
			continue;
		f = make(m, 24, 0, 100);
		check_int_eq(forecast_fit(f, y, 3 * DAY), 0);
		check_int_eq(forecast_season_steps(f), DAY);
		check_int_eq(forecast_predict(f, 24, p), 0);
		for (int h = 0; h < 24; h++)
			check_double_near(p[h].mean, y[2 * DAY + h],
					  m == FORECAST_SEASONAL_NAIVE ? 1e-9 : 0.05);
		forecast_free(f);
	}

	/* Naive variance: alternating 0, 1 has one-step sd 1, so sd(h) = sqrt(h). */
	{
		const struct forecast_model_ops *ops = forecast_model_ops_get(FORECAST_NAIVE);
		_Alignas(16) unsigned char state[256];
		double z[100], mean[4], sd[4];

		check(ops && ops->state_size <= sizeof(state));
		for (int i = 0; i < 100; i++)
			z[i] = i % 2;
		check_int_eq(ops->fit(state, NULL, 0, z, 100), 0);
		ops->predict(state, 4, mean, sd);
		for (int h = 0; h < 4; h++) {
			check_double_near(mean[h], 1, 0);
			check_double_near(sd[h], sqrt(h + 1.0), 1e-12);
		}
	}
}

static void test_season_detect(void)
{
	double y[3 * DAY], z[3 * DAY];

	for (int i = 0; i < 3 * DAY; i++) {
		y[i] = 10 + 5 * sin(2 * M_PI * i / DAY) + nrand();
		z[i] = nrand();
	}
	check_int_eq(forecast_season_detect(y, 3 * DAY, STEP), DAY);
	check_int_eq(forecast_season_detect(z, 3 * DAY, STEP), 0);
	/* Less than two cycles: no season. */
	check_int_eq(forecast_season_detect(y, DAY + 10, STEP), 0);
	/* At a 1-minute step the day is 1440 steps. */
	check_int_eq(forecast_season_detect(y, 3 * DAY, 60), 0);
	check_double_near(forecast_season_acf(y, 3 * DAY, DAY) > 0.5, 1, 0);

	/* Hourly steps, busy weekdays and quiet weekends over three weeks: weekly. */
	static double w[3 * 168];

	for (int i = 0; i < 3 * 168; i++)
		w[i] = ((i / 24) % 7 < 5 ? 60 : 5) + nrand();
	check_int_eq(forecast_season_detect(w, 3 * 168, 3600), 168);
}

/* A day ahead at 5-minute steps: 288 horizons, every one valid, the season kept. */
static void test_long_horizon(void)
{
	static struct forecast_point p[DAY];
	double y[3 * DAY];
	struct forecaster *f = make(FORECAST_AUTO, DAY, 0, 100);

	for (int i = 0; i < 3 * DAY; i++)
		y[i] = 40 + 25 * sin(2 * M_PI * i / DAY) + nrand();
	check_int_eq(forecast_fit(f, y, 3 * DAY), 0);
	for (int i = 0; i < 100; i++)
		check_int_eq(
			forecast_update(f, 40 + 25 * sin(2 * M_PI * (3 * DAY + i) / DAY) + nrand()),
			0);
	check_int_eq(forecast_predict(f, DAY, p), 0);
	check_points(p, DAY, 0, 100, "long horizon");
	/* Half a day ahead the forecast is near the cycle, not the last value. */
	double truth = 40 + 25 * sin(2 * M_PI * (3 * DAY + 100 + 143) / DAY);

	check_double_near(p[143].mean, truth, 8);
	forecast_free(f);
}

/* Hostile series: every model must stay finite and ordered. */
static void test_properties(void)
{
	enum { N = 3 * DAY };
	static double y[N];
	struct forecast_point p[24];
	const char *names[] = {
		"constant", "zeros", "spikes", "gaps", "huge", "negative", "short"
	};

	for (unsigned kind = 0; kind < sizeof(names) / sizeof(names[0]); kind++) {
		size_t n = kind == 6 ? 3 : N;
		double lo = kind == 5 ? -INFINITY : 0, hi = kind == 4 ? INFINITY : 100;

		for (int i = 0; i < N; i++) {
			switch (kind) {
			case 0:
				y[i] = 7.5;
				break;
			case 1:
				y[i] = 0;
				break;
			case 2:
				y[i] = urand() < 0.03 ? 100 : 0;
				break;
			case 3:
				y[i] = urand() < 0.3 ? NAN : 20 + 10 * sin(i / 20.0);
				break;
			case 4:
				y[i] = 1e12 * (1 + urand());
				break;
			case 5:
				y[i] = -50 + 5 * nrand();
				break;
			default:
				y[i] = i;
			}
		}
		for (unsigned m = 0; m < FORECAST_NR_MODELS; m++) {
			struct forecaster *f;

			if (!model_built(m))
				continue;
			f = make(m, 24, lo, hi);
			check_int_eq(forecast_fit(f, y, n), 0);
			check_int_eq(forecast_predict(f, 24, p), 0);
			check_points(p, 24, lo, hi, names[kind]);
			/* Updates with gaps, spikes and infinities. */
			for (int i = 0; i < 300; i++) {
				double v = i % 17 == 0 ? NAN : (i % 101 == 0 ? INFINITY : y[i % n]);

				check_int_eq(forecast_update(f, v), 0);
			}
			check_int_eq(forecast_predict(f, 24, p), 0);
			check_points(p, 24, lo, hi, names[kind]);
			check(forecast_n_observed(f) == n + 300);
			forecast_free(f);
		}
	}
}

/* White noise: the calibrated intervals cover what they claim. */
static void test_coverage(void)
{
	struct forecaster *f = make(FORECAST_SES, 12, -INFINITY, INFINITY);
	double y[3 * DAY];
	struct forecast_point p[12];
	unsigned in80 = 0, in95 = 0, n = 0;

	for (int i = 0; i < 3 * DAY; i++)
		y[i] = 100 + 3 * nrand();
	check_int_eq(forecast_fit(f, y, 3 * DAY), 0);
	for (int i = 0; i < 4000; i++) {
		double v = 100 + 3 * nrand();

		check_int_eq(forecast_predict(f, 1, p), 0);
		in80 += v >= p[0].iv[0].lo && v <= p[0].iv[0].hi;
		in95 += v >= p[0].iv[1].lo && v <= p[0].iv[1].hi;
		n++;
		check_int_eq(forecast_update(f, v), 0);
	}
	check_double_near((double)in80 / n, 0.80, 0.03);
	check_double_near((double)in95 / n, 0.95, 0.02);
	/* The forecaster's own bookkeeping agrees with what was measured. */
	check_double_near(forecast_coverage(f, 0.95), (double)in95 / n, 0.01);
	check_double_near(forecast_coverage(f, 0.80), (double)in80 / n, 0.01);
	check(isnan(forecast_coverage(f, 0.5)));
	forecast_free(f);
}

/* AUTO prefers a seasonal model on a strong season and the naive one on a random walk. */
static void test_auto_choice(void)
{
	double y[3 * DAY], w = 50;
	struct forecaster *f = make(FORECAST_AUTO, 12, -INFINITY, INFINITY);
	enum forecast_model m;

	for (int i = 0; i < 3 * DAY; i++)
		y[i] = 50 + 30 * sin(2 * M_PI * i / DAY) + 0.3 * nrand();
	check_int_eq(forecast_fit(f, y, 3 * DAY), 0);
	m = forecast_model_chosen(f, 12);
	check(m == FORECAST_HW_ADD || m == FORECAST_HW_MUL || m == FORECAST_SEASONAL_NAIVE ||
	      m == FORECAST_ARIMA || m == FORECAST_LSTM || m == FORECAST_ENSEMBLE);
	forecast_free(f);

	f = make(FORECAST_AUTO, 12, -INFINITY, INFINITY);
	for (int i = 0; i < 3 * DAY; i++)
		y[i] = w += 5 * nrand();
	check_int_eq(forecast_fit(f, y, 3 * DAY), 0);
	m = forecast_model_current(f);
	check(m != FORECAST_SEASONAL_NAIVE && m != FORECAST_AUTO);
	check(forecast_state_bytes(f) > 0);
	forecast_free(f);

	/* The candidates can be restricted; a model not run is not there to ask. */
	struct forecast_config cfg;
	struct forecast_point p[12];

	forecast_config_init(&cfg, STEP);
	cfg.horizon_steps = 12;
	cfg.auto_models = (1u << FORECAST_NAIVE) | (1u << FORECAST_SES);
	check_int_eq(forecast_new(&cfg, &f), 0);
	check_int_eq(forecast_fit(f, y, 3 * DAY), 0);
	for (uint32_t h = 1; h <= 12; h++) {
		m = forecast_model_chosen(f, h);
		check(m == FORECAST_NAIVE || m == FORECAST_SES);
	}
	check_int_eq(forecast_predict_model(f, FORECAST_SES, 12, p), 0);
	check_int_eq(forecast_predict_model(f, FORECAST_HOLT, 12, p), -ENOENT);
	forecast_free(f);
	cfg.auto_models = 1u << FORECAST_AUTO; /* no candidate at all */
	check_int_eq(forecast_new(&cfg, &f), -EINVAL);
}

/* Refits on the bounded history as data arrive: a level shift is followed. */
static void test_refit(void)
{
	struct forecast_config cfg;
	struct forecaster *f = NULL;
	struct forecast_point p[1];
	double y[DAY];

	forecast_config_init(&cfg, STEP);
	cfg.model = FORECAST_HW_ADD;
	cfg.horizon_steps = 1;
	cfg.history_max = DAY;
	cfg.refit_every = 50;
	check_int_eq(forecast_new(&cfg, &f), 0);
	for (int i = 0; i < DAY; i++)
		y[i] = 10 + nrand();
	check_int_eq(forecast_fit(f, y, DAY), 0);
	for (int i = 0; i < 3 * DAY; i++)
		check_int_eq(forecast_update(f, 80 + nrand()), 0);
	check_int_eq(forecast_predict(f, 1, p), 0);
	check_double_near(p[0].mean, 80, 3);
	check_int_eq(forecast_n_observed(f), 4 * DAY);
	/* The history stays bounded whatever arrives. */
	size_t bytes = forecast_state_bytes(f);

	for (int i = 0; i < DAY; i++)
		forecast_update(f, 80 + nrand());
	check_int_eq(forecast_state_bytes(f), bytes);
	forecast_free(f);
}

/* Field by field: the structs have padding. */
static bool points_equal(const struct forecast_point *a, const struct forecast_point *b, int n)
{
	for (int h = 0; h < n; h++) {
		if (a[h].mean != b[h].mean || a[h].n_levels != b[h].n_levels)
			return false;
		for (uint32_t l = 0; l < a[h].n_levels; l++)
			if (a[h].iv[l].level != b[h].iv[l].level ||
			    a[h].iv[l].lo != b[h].iv[l].lo || a[h].iv[l].hi != b[h].iv[l].hi)
				return false;
	}
	return true;
}

static void test_checkpoint(void)
{
	for (unsigned m = 0; m < FORECAST_NR_MODELS; m++) {
		struct forecaster *f, *g = NULL;
		double y[3 * DAY];
		void *buf = NULL, *buf2 = NULL;
		size_t len = 0, len2 = 0;
		struct forecast_point a[12], b[12];

		if (!model_built(m))
			continue;
		f = make(m, 12, 0, 100);
		for (int i = 0; i < 3 * DAY; i++)
			y[i] = 30 + 10 * sin(2 * M_PI * i / DAY) + 2 * nrand();
		check_int_eq(forecast_fit(f, y, 3 * DAY), 0);
		for (int i = 0; i < 50; i++)
			forecast_update(f, i == 7 ? NAN : 30 + 2 * nrand());
		check_int_eq(forecast_checkpoint(f, &buf, &len), 0);
		check_int_eq(forecast_restore(buf, len, &g), 0);
		if (!g) {
			forecast_free(f);
			free(buf);
			continue;
		}
		/* Identical forecasts now and after the same further data. */
		for (int round = 0; round < 2; round++) {
			check_int_eq(forecast_predict(f, 12, a), 0);
			check_int_eq(forecast_predict(g, 12, b), 0);
			check(points_equal(a, b, 12));
			check_int_eq(forecast_model_current(f), forecast_model_current(g));
			check_int_eq(forecast_n_observed(f), forecast_n_observed(g));
			check(forecast_coverage(f, 0.8) == forecast_coverage(g, 0.8) ||
			      (isnan(forecast_coverage(f, 0.8)) &&
			       isnan(forecast_coverage(g, 0.8))));
			for (int i = 0; i < 40; i++) {
				double v = 35 + 3 * nrand();

				forecast_update(f, v);
				forecast_update(g, v);
			}
		}
		/* And the same bytes again. */
		free(buf);
		check_int_eq(forecast_checkpoint(g, &buf2, &len2), 0);
		check_int_eq(forecast_checkpoint(f, &buf, &len), 0);
		check(len == len2 && memcmp(buf, buf2, len) == 0);
		forecast_free(g);
		g = NULL;

		/* Corrupt, truncated, extended and foreign buffers are refused. */
		unsigned char *c = buf;

		c[len / 2] ^= 0x10;
		check_int_eq(forecast_restore(buf, len, &g), -EBADMSG);
		c[len / 2] ^= 0x10;
		check_int_eq(forecast_restore(buf, len - 1, &g), -EBADMSG);
		check_int_eq(forecast_restore(buf, 10, &g), -EBADMSG);
		check_int_eq(forecast_restore("not a checkpoint at all, really", 31, &g), -EBADMSG);
		c[0] ^= 1;
		check_int_eq(forecast_restore(buf, len, &g), -EBADMSG);
		c[0] ^= 1;
		check(g == NULL);
		check_int_eq(forecast_restore(buf, len, &g), 0);
		forecast_free(g);
		free(buf);
		free(buf2);
		forecast_free(f);
	}
}

int main(void)
{
	test_names();
	test_config();
	test_golden();
	test_season_detect();
	test_properties();
	test_long_horizon();
	test_coverage();
	test_auto_choice();
	test_refit();
	test_checkpoint();
	return test_result();
}
