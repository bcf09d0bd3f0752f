/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to the ARIMA family (arima.c) and its tests: the fixed state and the
 * order-selection statistics, exposed so tests can check what was chosen.
 *
 * The model, on y normalised by (y - center) / scale:
 *   w_t = (1 - B)^d (1 - B^m)^D y_t,   u_t = w_t - mu
 *   phi(B) Phi(B^m) u_t = theta(B) Theta(B^m) e_t
 * with p, q <= 3 and P, Q, d, D <= 1. The seasonal part exists only for
 * 2 <= m <= ARIMA_SEASON_MAX, which bounds the rings: their longest lag is
 * m + 3 (seasonal and regular terms multiplied), plus one for differencing.
 * A stationary model (d + D == 0) would pull its forecasts back to the old
 * mean for ever after a lasting level shift; update() detects one (six
 * residuals beyond 3 sigma of one sign, or a smoothed residual beyond two
 * sigma) and moves mu to the new level, as an intervention would.
 * State size: 7,248 bytes (mostly three rings of ARIMA_RING doubles).
 */
#ifndef PRESCIENT_FORECAST_ARIMA_H
#define PRESCIENT_FORECAST_ARIMA_H

#include <stddef.h>
#include <stdint.h>

#define ARIMA_MAX_P	 3
#define ARIMA_MAX_Q	 3
#define ARIMA_SEASON_MAX 288
#define ARIMA_RING	 296  /* > ARIMA_SEASON_MAX + ARIMA_MAX_P + 1 */
#define ARIMA_FIT_MAX	 4096 /* a fit uses at most the last this many points */

struct arima_state {
	uint32_t p, d, q;
	uint32_t sp, sd, sq; /* seasonal P, D, Q */
	uint32_t m;	     /* season length in steps; 0 = none */
	uint32_t pos;	     /* ring index of the newest entry */
	double phi[ARIMA_MAX_P];
	double theta[ARIMA_MAX_Q];
	double sphi, stheta;
	double mu;	    /* mean of w, only when d + D == 0 */
	double sigma2;	    /* innovation variance, normalised units */
	double shift_ewma;  /* smoothed residual, for level shifts (d + D == 0) */
	uint32_t shift_run; /* consecutive large residuals of one sign */
	uint32_t n_shifts;  /* level shifts absorbed since the fit */
	double center;	    /* normalisation of y */
	double scale;
	double y[ARIMA_RING]; /* normalised observations */
	double u[ARIMA_RING]; /* differenced, centred series */
	double e[ARIMA_RING]; /* one-step residuals */
};

struct arima_order {
	uint32_t p, d, q, sp, sd, sq;
};

/*
 * fit() with the order given instead of chosen (tests, golden values); the
 * seasonal part needs a season_steps the rings hold and enough history.
 */
int arima_fit_order(struct arima_state *s, uint32_t season_steps, const double *y, size_t n,
		    const struct arima_order *order);

/* KPSS level-stationarity statistic (short lag window); 0 on a constant series. */
double arima_kpss_stat(const double *x, size_t n);
/* Strength of a season of m steps in [0, 1] (0 = none, 1 = pure season). */
double arima_season_strength(const double *x, size_t n, uint32_t m);

#endif
