/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Seasonality for the forecaster: the longest season a model keeps (it bounds
 * the fixed state of the seasonal models) and the detection of a daily or
 * weekly period from the sampling step and the autocorrelation of the history.
 */
#ifndef PRESCIENT_FORECAST_SEASON_H
#define PRESCIENT_FORECAST_SEASON_H

#include <stddef.h>
#include <stdint.h>

/* A week at 5-minute steps, a day at 1-minute steps both fit. */
#define FORECAST_SEASON_MAX 2016

/*
 * Returns the season in steps (weekly, daily) whose autocorrelation on y
 * (no gaps) is clearly positive and which at least two full cycles of y
 * cover, or 0 for none.
 */
uint32_t forecast_season_detect(const double *y, size_t n, double step_sec);

/* Autocorrelation of y at lag (0 when undefined). */
double forecast_season_acf(const double *y, size_t n, size_t lag);

#endif
