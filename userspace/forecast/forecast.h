/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * forecast: per-series demand forecasting with calibrated intervals.
 *
 * Pure: no I/O, no globals, no logging above debug. One struct forecaster per
 * VM per resource holds the model state, a bounded history and the recent
 * forecast errors used to calibrate intervals; it can be checkpointed to a
 * byte buffer and restored.
 *
 *   forecast_fit()     estimate parameters on a history (replaces the history)
 *   forecast_update()  one new observation; parameters fixed, state advanced;
 *                      refits by itself every cfg.refit_every observations
 *   forecast_predict() 1..horizon steps ahead, mean and intervals
 */
#ifndef PRESCIENT_FORECAST_H
#define PRESCIENT_FORECAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum forecast_model {
	FORECAST_NAIVE,
	FORECAST_SEASONAL_NAIVE,
	FORECAST_SES,	   /* simple exponential smoothing */
	FORECAST_HOLT,	   /* additive trend, damped */
	FORECAST_HW_ADD,   /* damped Holt-Winters, additive season */
	FORECAST_HW_MUL,   /* damped Holt-Winters, multiplicative season */
	FORECAST_ARIMA,	   /* (seasonal) ARIMA, automatic order */
	FORECAST_LSTM,	   /* small LSTM trained online */
	FORECAST_ENSEMBLE, /* mean of the smoothing models (a candidate of AUTO) */
	FORECAST_AUTO,	   /* per-series choice by rolling backtest */
	FORECAST_NR_MODELS,
};

#define FORECAST_MAX_LEVELS 4

struct forecast_config {
	enum forecast_model model; /* FORECAST_AUTO by default */
	double step_sec;	   /* sampling step of the series, seconds */
	uint32_t season_steps;	   /* 0 = detect (daily/weekly/none) */
	uint32_t horizon_steps;	   /* longest horizon that will be asked */
	uint32_t history_max;	   /* bounded history kept for refits */
	uint32_t refit_every;	   /* observations between refits; 0 = never */
	uint32_t n_levels;	   /* interval levels, default 2: 0.80 and 0.95 */
	double levels[FORECAST_MAX_LEVELS];
	double lower_bound;	   /* clip forecasts and intervals, e.g. 0 */
	double upper_bound;	   /* e.g. 100 for percent; INFINITY for none */
	uint32_t auto_models;	   /* AUTO's candidates, bits 1u << model; 0 = all built */
	bool calibrate_candidates; /* AUTO: calibrated intervals for every candidate too
				    * (forecast_predict_model); costs memory */
};

struct forecast_interval {
	double level; /* e.g. 0.95 */
	double lo;
	double hi;
};

struct forecast_point {
	double mean;
	uint32_t n_levels;
	struct forecast_interval iv[FORECAST_MAX_LEVELS];
};

struct forecaster;

/* Fills cfg with the defaults above for a series sampled every step_sec. */
void forecast_config_init(struct forecast_config *cfg, double step_sec);

int forecast_new(const struct forecast_config *cfg, struct forecaster **ret);
void forecast_free(struct forecaster *f);

/* NAN values in y are gaps: carried forward for fitting. -EINVAL on n == 0. */
int forecast_fit(struct forecaster *f, const double *y, size_t n);
/* NAN is a gap: the state advances by its own one-step forecast. */
int forecast_update(struct forecaster *f, double y);
/* ret must hold horizon entries; horizon <= cfg.horizon_steps. -EAGAIN before any data. */
int forecast_predict(const struct forecaster *f, uint32_t horizon, struct forecast_point *ret);

/* The model in use (for AUTO: the one currently chosen). */
enum forecast_model forecast_model_current(const struct forecaster *f);
const char *forecast_model_to_string(enum forecast_model m);
int forecast_model_from_string(const char *s, enum forecast_model *ret);
/* Number of observations seen (fit + updates). */
uint64_t forecast_n_observed(const struct forecaster *f);

/* Share of past actuals inside the interval of level, at horizon 1; NAN before any. */
double forecast_coverage(const struct forecaster *f, double level);

/* Serialises the whole state (versioned); caller frees *ret_buf. */
int forecast_checkpoint(const struct forecaster *f, void **ret_buf, size_t *ret_len);
/* Rebuilds a forecaster; -EBADMSG on a corrupt or foreign buffer. */
int forecast_restore(const void *buf, size_t len, struct forecaster **ret);

/*
 * Additions for evaluation and the daemon's status (an AUTO forecaster runs
 * every built family side by side, so each can be asked for directly).
 */

/* Like forecast_predict() with one model of those run; -ENOENT if not run. */
int forecast_predict_model(const struct forecaster *f, enum forecast_model m, uint32_t horizon,
			   struct forecast_point *ret);
/* The model AUTO uses at this horizon (1-based); the configured model otherwise. */
enum forecast_model forecast_model_chosen(const struct forecaster *f, uint32_t horizon);
/* forecast_coverage() of one model run by f (NAN if not run or no actual yet). */
double forecast_coverage_model(const struct forecaster *f, enum forecast_model m, double level);
/* Season in use, in steps (0 = none). */
uint32_t forecast_season_steps(const struct forecaster *f);
/* Heap bytes held by f (state, history, calibration): bounded by the config. */
size_t forecast_state_bytes(const struct forecaster *f);

#endif
