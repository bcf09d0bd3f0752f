// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The risk computation against what it approximates: normal tails and their
 * inverse, the closed-form sum of independent normals, the one-factor
 * variance against the explicit pairwise sum, and for correlated VMs the
 * exceedance probability (with loadings estimated from simulated histories)
 * against a Monte-Carlo estimate.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "risk.h"
#include "tap.h"

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(void)
{
	return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
}

static void test_normal(void)
{
	check_double_near(risk_normal_cdf(0), 0.5, 1e-15);
	check_double_near(risk_normal_cdf(1.959963984540054), 0.975, 1e-12);
	check_double_near(risk_normal_cdf(-3), 0.0013498980316301, 1e-13);
	check_double_near(risk_normal_quantile(0.975), 1.959963984540054, 1e-9);
	check_double_near(risk_normal_quantile(0.5), 0, 1e-12);
	check(isnan(risk_normal_quantile(0)));
	check(isnan(risk_normal_quantile(1)));
	check(isnan(risk_normal_quantile(NAN)));
	for (double p = 1e-9; p < 1; p *= 3.7) {
		double x = risk_normal_quantile(p);

		check_double_near(risk_normal_cdf(x) / p, 1, 1e-7);
	}
}

static void test_closed_form(void)
{
	struct risk_dist d[] = { { 10, 2, 0, 0 }, { 20, 3, 0, 0 }, { 5, 1, 0, 0 } };
	struct risk_acc acc = { 0 };
	double sd = sqrt(4 + 9 + 1);

	for (size_t i = 0; i < 3; i++)
		risk_acc_add(&acc, &d[i]);
	check_double_near(acc.mean, 35, 1e-12);
	check_double_near(risk_acc_sd(&acc), sd, 1e-12);
	check_double_near(risk_acc_exceed_prob(&acc, 40), 1 - risk_normal_cdf(5 / sd), 1e-12);
	check_double_near(risk_acc_exceed_prob(&acc, 35), 0.5, 1e-12);
	/* Perfectly correlated: the sds add up. */
	acc = (struct risk_acc){ 0 };
	for (size_t i = 0; i < 3; i++) {
		d[i].loading = 1;
		risk_acc_add(&acc, &d[i]);
	}
	check_double_near(risk_acc_sd(&acc), 6, 1e-12);
	/* Removing restores the sum without them. */
	risk_acc_remove(&acc, &d[0]);
	risk_acc_remove(&acc, &d[1]);
	check_double_near(acc.mean, 5, 1e-12);
	check_double_near(risk_acc_sd(&acc), 1, 1e-12);
	risk_acc_remove(&acc, &d[2]);
	check_int_eq(acc.n, 0);
	check_double_near(risk_acc_exceed_prob(&acc, 0), 0, 0);
	check_double_near(risk_acc_exceed_prob(&(struct risk_acc){ .mean = 2, .n = 1 }, 1), 1, 0);
}

static void test_pairwise(void)
{
	enum { N = 40 };
	struct risk_dist d[N];
	struct risk_acc acc = { 0 };
	double var = 0;

	for (int i = 0; i < N; i++) {
		d[i] = (struct risk_dist){ .mean = uniform() * 10,
					   .sd = uniform() * 3,
					   .loading = uniform() * 2 - 1 };
		risk_acc_add(&acc, &d[i]);
	}
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			var += d[i].sd * d[j].sd * (i == j ? 1 : d[i].loading * d[j].loading);
	check_double_near(risk_acc_sd(&acc), sqrt(var), 1e-9 * sqrt(var));
}

/*
 * N VMs driven by one common factor with loadings in [0.2, 0.8]: histories
 * give the loadings, which give P; Monte-Carlo draws of the same model give
 * the truth.
 */
static void test_monte_carlo(void)
{
	enum { N = 60, T = 3000, DRAWS = 200000 };
	double mu[N], sd[N], load[N], est[N];
	double *hist[N];
	struct risk_acc acc = { 0 }, indep = { 0 };
	double capacity, p_model, p_indep, sum_mean = 0;
	long over = 0;

	for (int i = 0; i < N; i++) {
		mu[i] = 1 + uniform() * 4;
		sd[i] = 0.2 + uniform();
		load[i] = 0.2 + 0.6 * uniform();
		sum_mean += mu[i];
		hist[i] = malloc(T * sizeof(double));
		check(hist[i] != NULL);
	}
	for (int t = 0; t < T; t++) {
		double f = gauss();

		for (int i = 0; i < N; i++)
			hist[i][t] = mu[i] +
				     sd[i] * (load[i] * f + sqrt(1 - load[i] * load[i]) * gauss());
	}
	/* Gaps are skipped. */
	hist[3][17] = NAN;
	check_int_eq(risk_loadings_estimate((const double *const *)hist, N, T, 0.1, est), 0);
	for (int i = 0; i < N; i++) {
		struct risk_dist d = { mu[i], sd[i], 0, est[i] };

		check_double_near(est[i], load[i], 0.12);
		risk_acc_add(&acc, &d);
		d.loading = 0;
		risk_acc_add(&indep, &d);
	}
	capacity = sum_mean + 2.0 * risk_acc_sd(&acc);
	p_model = risk_acc_exceed_prob(&acc, capacity);
	p_indep = risk_acc_exceed_prob(&indep, capacity);
	for (int k = 0; k < DRAWS; k++) {
		double f = gauss(), s = 0;

		for (int i = 0; i < N; i++)
			s += mu[i] + sd[i] * (load[i] * f + sqrt(1 - load[i] * load[i]) * gauss());
		over += s > capacity;
	}
	fprintf(stderr, "monte-carlo: P model %.4f, P Monte-Carlo %.4f, P if independent %.2g\n",
		p_model, (double)over / DRAWS, p_indep);
	check_double_near(p_model, (double)over / DRAWS, 0.01);
	/* Ignoring the correlation would badly understate the risk. */
	check(p_indep < 0.1 * p_model);
	for (int i = 0; i < N; i++)
		free(hist[i]);
}

static void test_loadings_edges(void)
{
	double a[4] = { 1, 2, 3, 4 }, b[4] = { 5, 5, 5, 5 }, c[4] = { 4, 3, 2, 1 }, est[3];
	const double *s[3] = { a, b, c };

	check_int_eq(risk_loadings_estimate(s, 0, 4, 0, est), -EINVAL);
	check_int_eq(risk_loadings_estimate(s, 3, 1, 0, est), -EINVAL);
	check_int_eq(risk_loadings_estimate(s, 3, 4, 1.5, est), -EINVAL);
	check_int_eq(risk_loadings_estimate(s, 3, 4, 0, est), 0);
	/* A constant series has no loading; opposite series cancel in the factor. */
	check_double_near(est[1], 0, 0);
	check(fabs(est[0]) <= 1 && fabs(est[2]) <= 1);
}

static void test_from_forecast(void)
{
	struct forecast_point fc[3] = { 0 };
	struct risk_dist d;
	double z975 = 1.959963984540054, z90 = 1.2815515655446004;

	for (int h = 0; h < 3; h++) {
		double m = 10 + h, s = 2 + h;

		fc[h] = (struct forecast_point){ .mean = m, .n_levels = 2 };
		fc[h].iv[0] = (struct forecast_interval){ 0.80, m - z90 * s, m + z90 * s };
		fc[h].iv[1] = (struct forecast_interval){ 0.95, m - z975 * s, m + z975 * s };
	}
	check_int_eq(risk_dist_from_forecast(fc, 3, 2, &d), 0);
	check_double_near(d.mean, 11, 1e-9);
	check_double_near(d.sd, 3, 1e-6);
	check_double_near(d.upper, 11 + z975 * 3, 1e-9);
	check_int_eq(risk_dist_from_forecast(fc, 3, 10, &d), 0);
	check_double_near(d.mean, 12, 1e-9);
	check_int_eq(risk_dist_from_forecast(NULL, 3, 2, &d), -EINVAL);
	fc[0].mean = NAN;
	check_int_eq(risk_dist_from_forecast(fc, 1, 1, &d), -EINVAL);
	/* No interval: a point forecast, no spread. */
	fc[0] = (struct forecast_point){ .mean = 4 };
	check_int_eq(risk_dist_from_forecast(fc, 1, 1, &d), 0);
	check_double_near(d.sd, 0, 0);
	check_double_near(d.upper, 4, 0);
}

int main(void)
{
	test_normal();
	test_closed_form();
	test_pairwise();
	test_monte_carlo();
	test_loadings_edges();
	test_from_forecast();
	return test_result();
}
