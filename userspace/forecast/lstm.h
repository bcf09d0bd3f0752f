/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to the LSTM family (lstm.c) and its tests: the fixed state.
 *
 * One LSTM layer of LSTM_HIDDEN cells reads, at each step, the newest
 * normalised value, its last change, the change to the value one season
 * before the next step (when the season fits the ring) and the time of day
 * of the next step as a sine and cosine. A linear head on the hidden state
 * and the inputs gives the next change, so an untrained model is the naive
 * forecast. Weights (gate weights stored input-major, so the products run
 * over contiguous gates), Adam moments, pending online gradients and the
 * recent values are floats: 8,740 bytes per series, no pointers.
 */
#ifndef PRESCIENT_FORECAST_LSTM_H
#define PRESCIENT_FORECAST_LSTM_H

#include <stdint.h>

#define LSTM_HIDDEN	8
#define LSTM_INPUTS	5
#define LSTM_GATES	(4 * LSTM_HIDDEN)
#define LSTM_ROW	(LSTM_INPUTS + LSTM_HIDDEN + 1) /* inputs, recurrent, bias */
#define LSTM_NPARAMS	(LSTM_GATES * LSTM_ROW + LSTM_HIDDEN + LSTM_INPUTS + 1)
#define LSTM_SEASON_MAX 288 /* longest season whose lag is an input */

struct lstm_state {
	uint32_t m;	/* season for the time features; 0 = none */
	uint32_t m_lag; /* season whose lag is an input (m <= LSTM_SEASON_MAX), or 0 */
	uint32_t phase; /* index of the newest observation modulo m */
	uint32_t pos;	/* ring index of the newest observation */
	uint32_t adam_steps;
	float center, scale;
	float z_lo, z_hi;     /* forecasts stay in the range of the fit history, widened */
	float b1_pow, b2_pow; /* Adam bias corrections */
	float w[LSTM_NPARAMS];
	float adam_m[LSTM_NPARAMS];
	float adam_v[LSTM_NPARAMS];
	float grad_acc[LSTM_NPARAMS]; /* online gradients not yet applied */
	uint32_t n_acc;
	float x[LSTM_INPUTS];	   /* input of the newest step */
	float h_prev[LSTM_HIDDEN]; /* state before the newest step */
	float c_prev[LSTM_HIDDEN];
	float h[LSTM_HIDDEN]; /* state after the newest step */
	float c[LSTM_HIDDEN];
	float ring[LSTM_SEASON_MAX]; /* normalised observations, newest at pos */
};

/*
 * Huber loss of the one-step forecasts of z[1..n) made from z[0..n-1) with a
 * zero cell state (n <= 25, the truncation window plus one), and its gradient
 * by every parameter into ret_grad[LSTM_NPARAMS]: the training objective,
 * exposed so a test can check the gradient against finite differences.
 */
float lstm_window_loss(const struct lstm_state *s, const float *z, size_t n, float *ret_grad);

#endif
