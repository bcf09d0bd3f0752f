/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internal interface between the forecaster (forecast.c: history, interval
 * calibration, automatic choice, checkpoints) and the model families.
 *
 * A model's state is one plain struct of fixed size: no pointers, so that a
 * checkpoint is a copy of the bytes and memory per series is bounded and
 * known (state_size). fit() estimates parameters and initial state from a
 * history without gaps (the caller fills them); update() advances the state
 * by one finite observation with parameters fixed; predict() gives the mean
 * and, where the model has one, the analytic standard deviation of the error
 * for horizons 1..h (NAN when it has none; the caller then calibrates from
 * the empirical errors alone). All three are pure and never fail on finite
 * input: a fit that cannot converge falls back to safe parameters.
 */
#ifndef PRESCIENT_FORECAST_MODEL_H
#define PRESCIENT_FORECAST_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "forecast.h"

struct forecast_model_ops {
	enum forecast_model id;
	const char *name;
	size_t state_size;
	int (*fit)(void *state, const struct forecast_config *cfg, uint32_t season_steps,
		   const double *y, size_t n);
	void (*update)(void *state, double y);
	void (*predict)(const void *state, uint32_t h, double *ret_mean, double *ret_sd);
};

extern const struct forecast_model_ops forecast_naive_ops;
extern const struct forecast_model_ops forecast_seasonal_naive_ops;
extern const struct forecast_model_ops forecast_ses_ops;
extern const struct forecast_model_ops forecast_holt_ops;
extern const struct forecast_model_ops forecast_hw_add_ops;
extern const struct forecast_model_ops forecast_hw_mul_ops;
extern const struct forecast_model_ops forecast_arima_ops;
extern const struct forecast_model_ops forecast_lstm_ops;

/* NULL for FORECAST_AUTO or a family not built. */
const struct forecast_model_ops *forecast_model_ops_get(enum forecast_model m);

#endif
