/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * risk: the probability that a host's demand exceeds its capacity.
 *
 * Each VM's demand on one dimension over the horizon is summarised as a
 * normal distribution fitted to its forecast (the peak step's mean, and the
 * spread read off the upper side of its widest interval, since exceeding is
 * what matters). VMs are correlated: a one-factor model gives VM i a loading
 * l_i on a common factor, so corr(i, j) = l_i * l_j and
 *
 *   Var(sum) = sum_i sd_i^2 (1 - l_i^2) + (sum_i l_i sd_i)^2
 *
 * which is an O(n) sum, can be kept incrementally, and is always a valid
 * (positive semi-definite) covariance, unlike a raw sample correlation matrix
 * of a few hundred short series. Loadings are estimated from the VMs'
 * histories and shrunk toward their mean, which is what a shrunk correlation
 * matrix would do at O(n^2) cost.
 *
 * Pure: no I/O, no globals.
 */
#ifndef PRESCIENT_PLAN_RISK_H
#define PRESCIENT_PLAN_RISK_H

#include <stddef.h>
#include <stdint.h>

#include "forecast.h"

/* One VM's demand on one dimension over the horizon. */
struct risk_dist {
	double mean;
	double sd;	/* >= 0 */
	double upper;	/* the forecast's upper bound (guaranteed VMs reserve this) */
	double loading; /* on the common factor, in [-1, 1] */
};

/* Running sums over the VMs on one dimension; add and remove are O(1). */
struct risk_acc {
	double mean;	  /* sum of means */
	double idio_var;  /* sum of sd^2 (1 - l^2) */
	double factor_sd; /* sum of l * sd */
	uint32_t n;
};

double risk_normal_cdf(double x);
/* Inverse of risk_normal_cdf for p in (0, 1); NAN outside. */
double risk_normal_quantile(double p);

/*
 * The distribution of the VM's peak demand over steps 1..lead_steps (clipped
 * to horizon): the step with the highest upper bound, its mean, and the sd
 * implied by that upper bound and its level. loading is set to 0. -EINVAL
 * without a usable forecast step.
 */
int risk_dist_from_forecast(const struct forecast_point *fc, uint32_t horizon, uint32_t lead_steps,
			    struct risk_dist *ret);

/*
 * One-factor loadings from histories: series[i] holds n_steps values of VM i
 * (NAN = gap, skipped). The factor is the mean of the standardised series;
 * loading_i is corr(series_i, factor), shrunk toward the mean loading by
 * shrink in [0, 1]. A constant series gets loading 0. -EINVAL for n_vms == 0
 * or n_steps < 2.
 */
int risk_loadings_estimate(const double *const *series, size_t n_vms, size_t n_steps, double shrink,
			   double *ret_loadings);

void risk_acc_add(struct risk_acc *acc, const struct risk_dist *d);
void risk_acc_remove(struct risk_acc *acc, const struct risk_dist *d);
double risk_acc_sd(const struct risk_acc *acc);
/* P(sum of demands > capacity), normal approximation; 0/1 when the sum has no spread. */
double risk_acc_exceed_prob(const struct risk_acc *acc, double capacity);

#endif
