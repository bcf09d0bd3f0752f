// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Nelder-Mead on a box, for fitting smoothing parameters on one-step losses.
 * Few dimensions (<= OPTIM_MAX_DIM), cheap objectives: no allocation.
 */
#include <math.h>
#include <string.h>

#include "optim.h"

static void optim_project(size_t dim, double *x, const double *lo, const double *hi)
{
	for (size_t i = 0; i < dim; i++) {
		if (!(x[i] >= lo[i]))
			x[i] = lo[i];
		if (x[i] > hi[i])
			x[i] = hi[i];
	}
}

static double optim_eval(optim_fn_t fn, void *userdata, const double *x, unsigned *evals)
{
	double v = fn(x, userdata);

	(*evals)++;
	/* A diverging recursion counts as the worst possible point. */
	return isfinite(v) ? v : HUGE_VAL;
}

double optim_nelder_mead(optim_fn_t fn, void *userdata, size_t dim, double *x, const double *lo,
			 const double *hi, unsigned max_evals, double tol)
{
	double p[OPTIM_MAX_DIM + 1][OPTIM_MAX_DIM], v[OPTIM_MAX_DIM + 1];
	double c[OPTIM_MAX_DIM], xr[OPTIM_MAX_DIM], xe[OPTIM_MAX_DIM];
	unsigned evals = 0;
	size_t n = dim;

	if (dim == 0 || dim > OPTIM_MAX_DIM)
		return HUGE_VAL;
	optim_project(n, x, lo, hi);
	memcpy(p[0], x, n * sizeof(double));
	v[0] = optim_eval(fn, userdata, p[0], &evals);
	for (size_t i = 0; i < n; i++) {
		double step = 0.1 * (hi[i] - lo[i]);

		memcpy(p[i + 1], x, n * sizeof(double));
		/* Step towards the roomier side so the vertex stays distinct. */
		p[i + 1][i] += (hi[i] - x[i] >= x[i] - lo[i]) ? step : -step;
		optim_project(n, p[i + 1], lo, hi);
		v[i + 1] = optim_eval(fn, userdata, p[i + 1], &evals);
	}

	while (evals < max_evals) {
		size_t best = 0, worst = 0, second = 0;

		for (size_t i = 1; i <= n; i++) {
			if (v[i] < v[best])
				best = i;
			if (v[i] > v[worst])
				worst = i;
		}
		second = best;
		for (size_t i = 0; i <= n; i++)
			if (i != worst && v[i] > v[second])
				second = i;
		if (fabs(v[worst] - v[best]) <= tol * (fabs(v[best]) + 1e-12))
			break;

		memset(c, 0, sizeof(c));
		for (size_t i = 0; i <= n; i++)
			if (i != worst)
				for (size_t j = 0; j < n; j++)
					c[j] += p[i][j] / (double)n;

		for (size_t j = 0; j < n; j++)
			xr[j] = c[j] + (c[j] - p[worst][j]);
		optim_project(n, xr, lo, hi);
		double vr = optim_eval(fn, userdata, xr, &evals);

		if (vr < v[best]) {
			for (size_t j = 0; j < n; j++)
				xe[j] = c[j] + 2.0 * (c[j] - p[worst][j]);
			optim_project(n, xe, lo, hi);
			double ve = optim_eval(fn, userdata, xe, &evals);

			if (ve < vr) {
				memcpy(p[worst], xe, n * sizeof(double));
				v[worst] = ve;
			} else {
				memcpy(p[worst], xr, n * sizeof(double));
				v[worst] = vr;
			}
			continue;
		}
		if (vr < v[second]) {
			memcpy(p[worst], xr, n * sizeof(double));
			v[worst] = vr;
			continue;
		}
		/* Contract towards the better of the worst point and its reflection. */
		const double *from = vr < v[worst] ? xr : p[worst];
		double vfrom = vr < v[worst] ? vr : v[worst];

		for (size_t j = 0; j < n; j++)
			xe[j] = c[j] + 0.5 * (from[j] - c[j]);
		double vc = optim_eval(fn, userdata, xe, &evals);

		if (vc < vfrom) {
			memcpy(p[worst], xe, n * sizeof(double));
			v[worst] = vc;
			continue;
		}
		/* Shrink everything towards the best vertex. */
		for (size_t i = 0; i <= n; i++) {
			if (i == best)
				continue;
			for (size_t j = 0; j < n; j++)
				p[i][j] = p[best][j] + 0.5 * (p[i][j] - p[best][j]);
			v[i] = optim_eval(fn, userdata, p[i], &evals);
		}
	}

	size_t best = 0;

	for (size_t i = 1; i <= n; i++)
		if (v[i] < v[best])
			best = i;
	memcpy(x, p[best], n * sizeof(double));
	return v[best];
}
