// SPDX-License-Identifier: GPL-2.0-or-later
/* Normal tails, forecast fits and the one-factor sum of VM demands; see risk.h. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "risk.h"

double risk_normal_cdf(double x)
{
	/* erfc keeps precision far in the tails, where 1 - erf would round to 0. */
	return 0.5 * erfc(-x / M_SQRT2);
}

double risk_normal_quantile(double p)
{
	double q, t, x;

	if (!(p > 0 && p < 1))
		return NAN;
	/*
	 * Start from the rational approximation of Abramowitz and Stegun
	 * 26.2.23 (error < 4.5e-4), then polish with Newton steps on erfc:
	 * three are enough for full double precision from that start, and the
	 * planner calls this for every interval of every forecast.
	 */
	q = p < 0.5 ? p : 1 - p;
	t = sqrt(-2 * log(q));
	x = t - (2.515517 + t * (0.802853 + t * 0.010328)) /
			(1 + t * (1.432788 + t * (0.189269 + t * 0.001308)));
	if (p < 0.5)
		x = -x;
	for (int i = 0; i < 3; i++) {
		double pdf = exp(-0.5 * x * x) / sqrt(2 * M_PI);

		if (pdf < 1e-300)
			break;
		x -= (risk_normal_cdf(x) - p) / pdf;
	}
	return x;
}

int risk_dist_from_forecast(const struct forecast_point *fc, uint32_t horizon, uint32_t lead_steps,
			    struct risk_dist *ret)
{
	uint32_t n = lead_steps < horizon ? lead_steps : horizon;
	struct risk_dist best = { .mean = NAN };
	double best_upper = -INFINITY;

	if (!fc)
		return -EINVAL;
	for (uint32_t h = 0; h < n; h++) {
		double mean = fc[h].mean, upper = mean, sd = 0;

		if (!isfinite(mean))
			continue;
		for (uint32_t l = 0; l < fc[h].n_levels && l < FORECAST_MAX_LEVELS; l++) {
			const struct forecast_interval *iv = &fc[h].iv[l];
			double z;

			if (!isfinite(iv->hi) || !(iv->level > 0 && iv->level < 1))
				continue;
			/* Two-sided level: the upper bound is the (1 + level) / 2 quantile. */
			z = risk_normal_quantile(0.5 * (1 + iv->level));
			if (iv->hi > upper)
				upper = iv->hi;
			if (iv->hi > mean && (iv->hi - mean) / z > sd)
				sd = (iv->hi - mean) / z;
		}
		if (upper > best_upper) {
			best_upper = upper;
			best = (struct risk_dist){ .mean = mean, .sd = sd, .upper = upper };
		}
	}
	if (!isfinite(best.mean))
		return -EINVAL;
	*ret = best;
	return 0;
}

int risk_loadings_estimate(const double *const *series, size_t n_vms, size_t n_steps, double shrink,
			   double *ret_loadings)
{
	double *mu, *sd, *factor, mean_loading = 0;
	size_t n_valid = 0;

	if (n_vms == 0 || n_steps < 2 || !(shrink >= 0 && shrink <= 1))
		return -EINVAL;
	mu = calloc(n_vms * 2 + n_steps, sizeof(double));
	if (!mu)
		return -ENOMEM;
	sd = mu + n_vms;
	factor = sd + n_vms;

	for (size_t i = 0; i < n_vms; i++) {
		double s = 0, ss = 0;
		size_t k = 0;

		for (size_t t = 0; t < n_steps; t++)
			if (isfinite(series[i][t])) {
				s += series[i][t];
				k++;
			}
		mu[i] = k ? s / (double)k : 0;
		for (size_t t = 0; t < n_steps; t++)
			if (isfinite(series[i][t]))
				ss += (series[i][t] - mu[i]) * (series[i][t] - mu[i]);
		sd[i] = k > 1 ? sqrt(ss / (double)(k - 1)) : 0;
	}
	/* The factor: mean of the standardised series (gaps and constant series left out). */
	for (size_t t = 0; t < n_steps; t++) {
		double s = 0;
		size_t k = 0;

		for (size_t i = 0; i < n_vms; i++)
			if (sd[i] > 0 && isfinite(series[i][t])) {
				s += (series[i][t] - mu[i]) / sd[i];
				k++;
			}
		factor[t] = k ? s / (double)k : 0;
	}
	for (size_t i = 0; i < n_vms; i++) {
		double sxy = 0, sxx = 0, syy = 0, fm = 0;
		size_t k = 0;

		ret_loadings[i] = 0;
		if (sd[i] <= 0)
			continue;
		for (size_t t = 0; t < n_steps; t++)
			if (isfinite(series[i][t])) {
				fm += factor[t];
				k++;
			}
		fm /= (double)k;
		for (size_t t = 0; t < n_steps; t++) {
			double x, y;

			if (!isfinite(series[i][t]))
				continue;
			x = series[i][t] - mu[i];
			y = factor[t] - fm;
			sxy += x * y;
			sxx += x * x;
			syy += y * y;
		}
		if (sxx > 0 && syy > 0)
			ret_loadings[i] = sxy / sqrt(sxx * syy);
		mean_loading += ret_loadings[i];
		n_valid++;
	}
	if (n_valid)
		mean_loading /= (double)n_valid;
	for (size_t i = 0; i < n_vms; i++) {
		double l;

		if (sd[i] <= 0)
			continue;
		l = (1 - shrink) * ret_loadings[i] + shrink * mean_loading;
		ret_loadings[i] = l > 1 ? 1 : l < -1 ? -1 : l;
	}
	free(mu);
	return 0;
}

void risk_acc_add(struct risk_acc *acc, const struct risk_dist *d)
{
	acc->mean += d->mean;
	acc->idio_var += d->sd * d->sd * (1 - d->loading * d->loading);
	acc->factor_sd += d->loading * d->sd;
	acc->n++;
}

void risk_acc_remove(struct risk_acc *acc, const struct risk_dist *d)
{
	acc->mean -= d->mean;
	acc->idio_var -= d->sd * d->sd * (1 - d->loading * d->loading);
	acc->factor_sd -= d->loading * d->sd;
	if (acc->n)
		acc->n--;
	/* Cancellation can leave a tiny negative variance; it is zero. */
	if (acc->idio_var < 0)
		acc->idio_var = 0;
	if (acc->n == 0)
		*acc = (struct risk_acc){ 0 };
}

double risk_acc_sd(const struct risk_acc *acc)
{
	double v = acc->idio_var + acc->factor_sd * acc->factor_sd;

	return v > 0 ? sqrt(v) : 0;
}

double risk_acc_exceed_prob(const struct risk_acc *acc, double capacity)
{
	double sd = risk_acc_sd(acc);

	if (sd <= 0)
		return acc->mean > capacity ? 1 : 0;
	return risk_normal_cdf((acc->mean - capacity) / sd);
}
