// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ARIMA and seasonal ARIMA with automatic order (FORECAST_ARIMA).
 *
 * fit() picks the differencing by tests (seasonal strength for D, KPSS for
 * d), ranks every order p, q <= 3, P, Q <= 1 by AICc from one Hannan-Rissanen
 * regression (a long AR gives residual estimates, then each order is a
 * sub-block of one cross-product matrix, so the whole search costs one pass
 * over the data), and refines the best few by Levenberg-Marquardt on the
 * conditional sum of squares with analytic derivatives. Every trial point is
 * checked for stationarity and invertibility (step-down recursion), so the
 * recursions never diverge; anything non-finite falls back to ARIMA(0,1,0).
 * update() is one residual recursion (a few dozen flops) plus, for
 * stationary models, a level-shift watch (arima.h); predict() iterates the
 * recursion with future errors zero and gives the error variance from the
 * psi-weights of the full (differenced, multiplied) operator. fit() needs
 * O(n) scratch (one allocation, -ENOMEM its only failure) and about
 * 0.3-0.5 ms of CPU on 864 points.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arima.h"
#include "model.h"

#define ARIMA_TOP	  2 /* orders refined by least squares */
#define ARIMA_LM_ITERS	  10
#define ARIMA_TOP_AICC	  4.0	/* AICc gap beyond which the runner-up is not refined */
#define ARIMA_LM_TOL	  1e-4	/* relative decrease of the sum of squares that ends */
#define ARIMA_ROOT_MAX	  0.99	/* largest reflection coefficient accepted */
#define ARIMA_KPSS_CRIT	  0.463 /* 5 % critical value, level stationarity */
#define ARIMA_SEASON_CRIT 0.64	/* seasonal strength that calls for D = 1 */
#define ARIMA_LONG_AR	  12	/* order of the long autoregression (Hannan-Rissanen) */
#define ARIMA_MAX_K	  (ARIMA_MAX_P + ARIMA_MAX_Q + 2)
/*
 * Level shifts (stationary models): six residuals beyond 3 sigma of one sign
 * (half an hour at 5 minutes: longer than most bursts), or a residual
 * smoothed with weight 0.02 beyond 2 sigma (its own sd is 0.1 sigma).
 */
#define ARIMA_SHIFT_ALPHA 0.02
#define ARIMA_SHIFT_RUN	  6
#define ARIMA_SHIFT_EWMA  2.0

struct arima_cand {
	uint32_t p, q, sp, sq;
	double phi[ARIMA_MAX_P];
	double theta[ARIMA_MAX_Q];
	double sphi, stheta;
	double aicc;
};

static size_t cand_nparams(const struct arima_cand *c)
{
	return c->p + c->q + c->sp + c->sq;
}

static void cand_get(const struct arima_cand *c, double *b)
{
	size_t k = 0;

	for (uint32_t i = 0; i < c->p; i++)
		b[k++] = c->phi[i];
	if (c->sp)
		b[k++] = c->sphi;
	for (uint32_t j = 0; j < c->q; j++)
		b[k++] = c->theta[j];
	if (c->sq)
		b[k++] = c->stheta;
}

static void cand_set(struct arima_cand *c, const double *b)
{
	size_t k = 0;

	for (uint32_t i = 0; i < c->p; i++)
		c->phi[i] = b[k++];
	if (c->sp)
		c->sphi = b[k++];
	for (uint32_t j = 0; j < c->q; j++)
		c->theta[j] = b[k++];
	if (c->sq)
		c->stheta = b[k++];
}

/*
 * All roots of 1 - a_1 z - ... - a_n z^n outside the unit circle, with a
 * margin: the step-down (inverse Levinson) recursion turns the coefficients
 * into reflection coefficients, which must all lie in (-1, 1).
 */
static bool poly_stable(const double *a, uint32_t n)
{
	double c[ARIMA_MAX_P + ARIMA_MAX_Q], t[ARIMA_MAX_P + ARIMA_MAX_Q];

	memcpy(c, a, n * sizeof(*c));
	for (uint32_t j = n; j >= 1; j--) {
		double k = c[j - 1];

		if (!isfinite(k) || fabs(k) >= ARIMA_ROOT_MAX)
			return false;
		for (uint32_t i = 1; i < j; i++)
			t[i - 1] = (c[i - 1] + k * c[j - i - 1]) / (1 - k * k);
		memcpy(c, t, (j - 1) * sizeof(*c));
	}
	return true;
}

static bool cand_feasible(const struct arima_cand *c)
{
	double a[ARIMA_MAX_Q];

	if (!poly_stable(c->phi, c->p))
		return false;
	for (uint32_t j = 0; j < c->q; j++)
		a[j] = -c->theta[j];
	if (!poly_stable(a, c->q))
		return false;
	if (c->sp && !(fabs(c->sphi) < ARIMA_ROOT_MAX))
		return false;
	if (c->sq && !(fabs(c->stheta) < ARIMA_ROOT_MAX))
		return false;
	return true;
}

/* Shrinks coefficients towards zero until admissible (zero always is). */
static void cand_make_feasible(struct arima_cand *c)
{
	double b[ARIMA_MAX_K];
	size_t k = cand_nparams(c);

	for (int it = 0; it < 40 && !cand_feasible(c); it++) {
		cand_get(c, b);
		for (size_t i = 0; i < k; i++)
			b[i] = isfinite(b[i]) ? 0.85 * b[i] : 0;
		cand_set(c, b);
	}
	if (!cand_feasible(c)) {
		memset(b, 0, sizeof(b));
		cand_set(c, b);
	}
}

/* The moving-average filter applied to x at t: theta(B) Theta(B^m) minus 1. */
static inline double ma_filter(const struct arima_cand *c, uint32_t m, const double *x, ptrdiff_t t)
{
	double s = 0;

	for (uint32_t j = 0; j < c->q; j++)
		s += c->theta[j] * x[t - 1 - (ptrdiff_t)j];
	if (c->sq) {
		double v = x[t - (ptrdiff_t)m];

		for (uint32_t j = 0; j < c->q; j++)
			v += c->theta[j] * x[t - (ptrdiff_t)m - 1 - (ptrdiff_t)j];
		s += c->stheta * v;
	}
	return s;
}

/*
 * Conditional residuals e (and, when z is given, their derivatives by each
 * parameter in cand_get() order) over u[0..nw); the sum of squares and the
 * normal equations are taken from t_sum on. u, e and each z[] may be read at
 * negative indexes down to -(m + q + 1), which hold zeros.
 */
static double css_eval(const struct arima_cand *c, uint32_t m, const double *u, size_t nw,
		       size_t t_sum, double *e, double **z, double *jtj, double *jte)
{
	size_t k = cand_nparams(c), lar = c->p + c->sp * m;
	double sse = 0, g[ARIMA_MAX_K];

	if (jtj) {
		memset(jtj, 0, k * k * sizeof(*jtj));
		memset(jte, 0, k * sizeof(*jte));
	}
	for (size_t ut = 0; ut < nw; ut++) {
		ptrdiff_t t = (ptrdiff_t)ut;
		double a;

		if (ut < lar) {
			e[t] = 0;
			for (size_t i = 0; z && i < k; i++)
				z[i][t] = 0;
			continue;
		}
		a = u[t];
		for (uint32_t i = 0; i < c->p; i++)
			a -= c->phi[i] * u[t - 1 - (ptrdiff_t)i];
		if (c->sp) {
			double v = u[t - (ptrdiff_t)m];

			for (uint32_t i = 0; i < c->p; i++)
				v -= c->phi[i] * u[t - (ptrdiff_t)m - 1 - (ptrdiff_t)i];
			a -= c->sphi * v;
		}
		e[t] = a - ma_filter(c, m, e, t);
		if (z) {
			size_t idx = 0;

			for (uint32_t i = 0; i < c->p; i++) {
				double da = -u[t - 1 - (ptrdiff_t)i];

				if (c->sp)
					da += c->sphi * u[t - (ptrdiff_t)m - 1 - (ptrdiff_t)i];
				g[idx++] = da;
			}
			if (c->sp) {
				double da = -u[t - (ptrdiff_t)m];

				for (uint32_t i = 0; i < c->p; i++)
					da += c->phi[i] * u[t - (ptrdiff_t)m - 1 - (ptrdiff_t)i];
				g[idx++] = da;
			}
			for (uint32_t j = 0; j < c->q; j++) {
				double da = -e[t - 1 - (ptrdiff_t)j];

				if (c->sq)
					da -= c->stheta * e[t - (ptrdiff_t)m - 1 - (ptrdiff_t)j];
				g[idx++] = da;
			}
			if (c->sq) {
				double da = -e[t - (ptrdiff_t)m];

				for (uint32_t j = 0; j < c->q; j++)
					da -= c->theta[j] * e[t - (ptrdiff_t)m - 1 - (ptrdiff_t)j];
				g[idx++] = da;
			}
			for (size_t i = 0; i < k; i++) {
				z[i][t] = g[i] - ma_filter(c, m, z[i], t);
				g[i] = z[i][t];
			}
		}
		if (ut < t_sum)
			continue;
		sse += e[t] * e[t];
		if (jtj) {
			for (size_t i = 0; i < k; i++) {
				jte[i] += g[i] * e[t];
				for (size_t j = 0; j <= i; j++)
					jtj[i * k + j] += g[i] * g[j];
			}
		}
	}
	if (jtj)
		for (size_t i = 0; i < k; i++)
			for (size_t j = 0; j < i; j++)
				jtj[j * k + i] = jtj[i * k + j];
	return isfinite(sse) ? sse : INFINITY;
}

/* Solves a x = b in place (b becomes x) for a symmetric positive definite a. */
static int chol_solve(double *a, double *b, size_t k)
{
	for (size_t j = 0; j < k; j++) {
		double d = a[j * k + j];

		for (size_t l = 0; l < j; l++)
			d -= a[j * k + l] * a[j * k + l];
		if (!(d > 0))
			return -EDOM;
		d = sqrt(d);
		a[j * k + j] = d;
		for (size_t i = j + 1; i < k; i++) {
			double s = a[i * k + j];

			for (size_t l = 0; l < j; l++)
				s -= a[i * k + l] * a[j * k + l];
			a[i * k + j] = s / d;
		}
	}
	for (size_t i = 0; i < k; i++) {
		double s = b[i];

		for (size_t l = 0; l < i; l++)
			s -= a[i * k + l] * b[l];
		b[i] = s / a[i * k + i];
	}
	for (size_t ii = k; ii-- > 0;) {
		double s = b[ii];

		for (size_t l = ii + 1; l < k; l++)
			s -= a[l * k + ii] * b[l];
		b[ii] = s / a[ii * k + ii];
	}
	return 0;
}

static double aicc(double sse, size_t nobs, size_t nparams)
{
	double n = (double)nobs, k = (double)nparams + 1; /* + innovation variance */

	if (n - k - 1 < 1)
		return INFINITY;
	sse = fmax(sse, 1e-12 * n);
	return n * log(sse / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1);
}

/* Levenberg-Marquardt on the conditional sum of squares; returns the final sum. */
static double cand_refine(struct arima_cand *c, uint32_t m, const double *u, size_t nw,
			  size_t t_sum, double *e, double **z)
{
	size_t k = cand_nparams(c);
	double jtj[ARIMA_MAX_K * ARIMA_MAX_K], jte[ARIMA_MAX_K];
	double tjtj[ARIMA_MAX_K * ARIMA_MAX_K], tjte[ARIMA_MAX_K];
	double a[ARIMA_MAX_K * ARIMA_MAX_K], b[ARIMA_MAX_K], beta[ARIMA_MAX_K];
	double sse, lambda = 1e-3;

	cand_make_feasible(c);
	if (k == 0)
		return css_eval(c, m, u, nw, t_sum, e, NULL, NULL, NULL);
	sse = css_eval(c, m, u, nw, t_sum, e, z, jtj, jte);
	if (!isfinite(sse))
		return sse;
	for (int it = 0; it < ARIMA_LM_ITERS; it++) {
		struct arima_cand trial = *c;
		double tsse;

		memcpy(a, jtj, k * k * sizeof(*a));
		for (size_t i = 0; i < k; i++) {
			a[i * k + i] += lambda * jtj[i * k + i] + 1e-12;
			b[i] = -jte[i];
		}
		if (chol_solve(a, b, k) < 0) {
			lambda *= 10;
			continue;
		}
		cand_get(c, beta);
		for (size_t i = 0; i < k; i++)
			beta[i] += b[i];
		cand_set(&trial, beta);
		tsse = cand_feasible(&trial) ? css_eval(&trial, m, u, nw, t_sum, e, z, tjtj, tjte)
					     : INFINITY;
		if (tsse < sse) {
			double rel = (sse - tsse) / fmax(sse, 1e-300);

			*c = trial;
			sse = tsse;
			memcpy(jtj, tjtj, sizeof(jtj));
			memcpy(jte, tjte, sizeof(jte));
			lambda = fmax(lambda * 0.1, 1e-9);
			if (rel < ARIMA_LM_TOL)
				break;
		} else {
			lambda *= 10;
			if (lambda > 1e6)
				break;
		}
	}
	return sse;
}

double arima_kpss_stat(const double *x, size_t n)
{
	double mean = 0, eta = 0, s2 = 0, sum = 0;
	size_t lags;

	if (n < 4)
		return 0;
	for (size_t t = 0; t < n; t++)
		mean += x[t];
	mean /= (double)n;
	for (size_t t = 0; t < n; t++) {
		sum += x[t] - mean;
		eta += sum * sum;
		s2 += (x[t] - mean) * (x[t] - mean);
	}
	eta /= (double)n * (double)n;
	s2 /= (double)n;
	lags = (size_t)(3 * sqrt((double)n) / 13);
	for (size_t l = 1; l <= lags && l < n; l++) {
		double g = 0;

		for (size_t t = l; t < n; t++)
			g += (x[t] - mean) * (x[t - l] - mean);
		s2 += 2 * (1 - (double)l / (double)(lags + 1)) * g / (double)n;
	}
	if (!(s2 > 1e-300))
		return 0;
	return eta / s2;
}

/* Centred moving average of one season at t (2 x m average for even m). */
static double season_trend(const double *x, size_t t, uint32_t m)
{
	size_t h = m / 2;
	double s = 0;

	if (m % 2) {
		for (size_t i = t - h; i <= t + h; i++)
			s += x[i];
		return s / m;
	}
	s = 0.5 * (x[t - h] + x[t + h]);
	for (size_t i = t - h + 1; i < t + h; i++)
		s += x[i];
	return s / m;
}

double arima_season_strength(const double *x, size_t n, uint32_t m)
{
	double sum[ARIMA_SEASON_MAX], mean_s = 0, var_d = 0, var_r = 0, trend;
	uint32_t cnt[ARIMA_SEASON_MAX];
	size_t h = m / 2, nobs;
	double k;

	if (m < 2 || m > ARIMA_SEASON_MAX || n < 2 * (size_t)m + 1)
		return 0;
	memset(sum, 0, sizeof(sum));
	memset(cnt, 0, sizeof(cnt));
	/* running trend: first value by summation, then slide */
	trend = season_trend(x, h, m);
	for (size_t t = h; t + h < n; t++) {
		double d;

		if (t > h) {
			if (m % 2)
				trend += (x[t + h] - x[t - h - 1]) / m;
			else
				trend += 0.5 * (x[t + h] + x[t + h - 1] - x[t - h] - x[t - h - 1]) /
					 m;
		}
		d = x[t] - trend;
		sum[t % m] += d;
		cnt[t % m]++;
		var_d += d * d;
	}
	nobs = n - 2 * h;
	for (uint32_t j = 0; j < m; j++) {
		sum[j] = cnt[j] ? sum[j] / cnt[j] : 0;
		mean_s += sum[j] / m;
	}
	trend = season_trend(x, h, m);
	for (size_t t = h; t + h < n; t++) {
		double r;

		if (t > h) {
			if (m % 2)
				trend += (x[t + h] - x[t - h - 1]) / m;
			else
				trend += 0.5 * (x[t + h] + x[t + h - 1] - x[t - h] - x[t - h - 1]) /
					 m;
		}
		r = x[t] - trend - (sum[t % m] - mean_s);
		var_r += r * r;
	}
	if (!(var_d > 1e-300))
		return 0;
	/* the phase means absorb 1/k of the noise; undo that bias */
	k = (double)nobs / m;
	if (k <= 1.0001)
		return 0;
	var_r *= k / (k - 1);
	return fmax(0, fmin(1, 1 - var_r / var_d));
}

static inline uint32_t ring_idx(uint32_t pos, uint32_t lag)
{
	return (pos + ARIMA_RING - lag % ARIMA_RING) % ARIMA_RING;
}

/* Value of series r at relative step j (< 0: observed, from the ring; >= 0: f[j]). */
static inline double rel_at(const double *ring, uint32_t pos, const double *f, ptrdiff_t j)
{
	if (j >= 0)
		return f ? f[j] : 0;
	return ring[ring_idx(pos, (uint32_t)(-j - 1))];
}

/* Forecast of u at relative step k from u forecasts f[0..k) and past residuals. */
static double arima_u_next(const struct arima_state *s, const double *f, ptrdiff_t k)
{
	ptrdiff_t m = s->m;
	double v = 0;

	for (uint32_t i = 0; i < s->p; i++)
		v += s->phi[i] * rel_at(s->u, s->pos, f, k - 1 - (ptrdiff_t)i);
	if (s->sp) {
		double sv = rel_at(s->u, s->pos, f, k - m);

		for (uint32_t i = 0; i < s->p; i++)
			sv -= s->phi[i] * rel_at(s->u, s->pos, f, k - m - 1 - (ptrdiff_t)i);
		v += s->sphi * sv;
	}
	for (uint32_t j = 0; j < s->q; j++)
		v += s->theta[j] * rel_at(s->e, s->pos, NULL, k - 1 - (ptrdiff_t)j);
	if (s->sq) {
		double sv = rel_at(s->e, s->pos, NULL, k - m);

		for (uint32_t j = 0; j < s->q; j++)
			sv += s->theta[j] * rel_at(s->e, s->pos, NULL, k - m - 1 - (ptrdiff_t)j);
		v += s->stheta * sv;
	}
	return v;
}

/* Normalised y at relative step k from w and the levels before it (f: y forecasts). */
static double arima_undiff(const struct arima_state *s, const double *f, ptrdiff_t k, double w)
{
	ptrdiff_t m = s->m;

	if (s->d)
		w += rel_at(s->y, s->pos, f, k - 1);
	if (s->sd) {
		w += rel_at(s->y, s->pos, f, k - m);
		if (s->d)
			w -= rel_at(s->y, s->pos, f, k - m - 1);
	}
	return w;
}

static void arima_push(struct arima_state *s, double yn, double u, double e)
{
	s->pos = (s->pos + 1) % ARIMA_RING;
	s->y[s->pos] = yn;
	s->u[s->pos] = u;
	s->e[s->pos] = e;
}

/*
 * Moves mu to the level of the last k observations (stationary models only),
 * as a level-shift intervention would: those k deviations and residuals are
 * re-expressed against the new level, older ones stay measured against the
 * level of their time (seasonal terms read them).
 */
static void arima_shift_level(struct arima_state *s, uint32_t k)
{
	double delta = 0;

	for (uint32_t l = 0; l < k; l++)
		delta += s->u[ring_idx(s->pos, l)];
	delta /= k;
	s->mu += delta;
	for (uint32_t l = 0; l < k; l++) {
		s->u[ring_idx(s->pos, l)] -= delta;
		s->e[ring_idx(s->pos, l)] = 0;
	}
	s->shift_ewma = 0;
	s->shift_run = 0;
	s->n_shifts++;
}

static void arima_watch_level(struct arima_state *s, double e)
{
	double sigma = sqrt(s->sigma2);

	if (!(sigma > 0))
		return;
	s->shift_ewma += ARIMA_SHIFT_ALPHA * (e - s->shift_ewma);
	if (fabs(e) > 3 * sigma && (s->shift_run == 0 || (e > 0) == (s->shift_ewma > 0)))
		s->shift_run++;
	else
		s->shift_run = 0;
	if (s->shift_run >= ARIMA_SHIFT_RUN)
		arima_shift_level(s, ARIMA_SHIFT_RUN);
	else if (fabs(s->shift_ewma) > ARIMA_SHIFT_EWMA * sigma)
		arima_shift_level(s, 12);
}

static void arima_update(void *state, double y)
{
	struct arima_state *s = state;
	double uhat = arima_u_next(s, NULL, 0), yn, w, u, e;

	yn = (y - s->center) / s->scale;
	if (!isfinite(yn)) {
		/* a gap: the state advances by its own forecast */
		arima_push(s, arima_undiff(s, NULL, 0, uhat + s->mu), uhat, 0);
		return;
	}
	w = yn;
	if (s->d)
		w -= s->y[ring_idx(s->pos, 0)];
	if (s->sd) {
		w -= s->y[ring_idx(s->pos, s->m - 1)];
		if (s->d)
			w += s->y[ring_idx(s->pos, s->m)];
	}
	u = w - s->mu;
	e = u - uhat;
	if (!isfinite(e)) {
		u = uhat;
		e = 0;
	}
	arima_push(s, yn, u, e);
	if (s->d + s->sd == 0)
		arima_watch_level(s, e);
}

static void arima_predict(const void *state, uint32_t h, double *ret_mean, double *ret_sd)
{
	const struct arima_state *s = state;
	double acc = 0;

	/* u forecasts first, then integrated in place into levels */
	for (uint32_t k = 0; k < h; k++)
		ret_mean[k] = arima_u_next(s, ret_mean, k);
	for (uint32_t k = 0; k < h; k++)
		ret_mean[k] = arima_undiff(s, ret_mean, k, ret_mean[k] + s->mu);
	for (uint32_t k = 0; k < h; k++)
		ret_mean[k] = s->center + s->scale * ret_mean[k];
	if (!ret_sd)
		return;

	/* psi-weights of theta(B)Theta(B^m) / (phi(B)Phi(B^m)), then integrated */
	for (uint32_t j = 0; j < h; j++) {
		double v = j == 0 ? 1 : 0;

		if (j >= 1 && j <= s->q)
			v += s->theta[j - 1];
		if (s->sq && j >= s->m && j <= s->m + s->q)
			v += s->stheta * (j == s->m ? 1 : s->theta[j - s->m - 1]);
		for (uint32_t i = 1; i <= s->p && i <= j; i++)
			v += s->phi[i - 1] * ret_sd[j - i];
		if (s->sp && j >= s->m) {
			v += s->sphi * ret_sd[j - s->m];
			for (uint32_t i = 1; i <= s->p && s->m + i <= j; i++)
				v -= s->sphi * s->phi[i - 1] * ret_sd[j - s->m - i];
		}
		ret_sd[j] = v;
	}
	if (s->d)
		for (uint32_t j = 1; j < h; j++)
			ret_sd[j] += ret_sd[j - 1];
	if (s->sd)
		for (uint32_t j = s->m; j < h; j++)
			ret_sd[j] += ret_sd[j - s->m];
	for (uint32_t j = 0; j < h; j++) {
		acc += ret_sd[j] * ret_sd[j];
		ret_sd[j] = s->scale * sqrt(s->sigma2 * acc);
	}
}

/* ARIMA(0,1,0): the safe fallback, also for a constant history. */
static void arima_set_naive(struct arima_state *s, const double *x, size_t n)
{
	double v = 0;

	s->p = s->q = s->sp = s->sd = s->sq = 0;
	s->d = 1;
	s->mu = 0;
	for (size_t t = 1; t < n; t++)
		v += (x[t] - x[t - 1]) * (x[t] - x[t - 1]);
	s->sigma2 = n > 1 ? v / (double)(n - 1) : 0;
	s->pos = ARIMA_RING - 1;
	for (uint32_t l = 0; l < ARIMA_RING; l++) {
		uint32_t i = ring_idx(s->pos, l);

		s->y[i] = l < n ? x[n - 1 - l] : x[0];
		s->u[i] = l + 1 < n ? x[n - 1 - l] - x[n - 2 - l] : 0;
		s->e[i] = s->u[i];
	}
}

/* Hannan-Rissanen ranking of all orders; keeps the best ARIMA_TOP in top[]. */
static size_t arima_rank_orders(const double *u, size_t nw, uint32_t m, bool seasonal, double *eh,
				const struct arima_order *force, struct arima_cand *top)
{
	double acov[ARIMA_LONG_AR + 1], a[ARIMA_LONG_AR + 1], tmp[ARIMA_LONG_AR + 1];
	double g[8 * 8], gy[8], yy = 0, err;
	ptrdiff_t lag[8];
	size_t kl, t0, nc = seasonal ? 8 : 6, ntop = 0;

	kl = nw / 10 < ARIMA_LONG_AR ? nw / 10 : ARIMA_LONG_AR;
	if (kl < 3)
		kl = 3;
	for (size_t l = 0; l <= kl; l++) {
		acov[l] = 0;
		for (size_t t = l; t < nw; t++)
			acov[l] += u[t] * u[t - l];
		acov[l] /= (double)nw;
	}
	/* Durbin-Levinson for the long autoregression */
	memset(a, 0, sizeof(a));
	err = acov[0];
	for (size_t j = 1; j <= kl && err > 1e-300; j++) {
		double r = acov[j];

		for (size_t i = 1; i < j; i++)
			r -= a[i] * acov[j - i];
		r /= err;
		for (size_t i = 1; i < j; i++)
			tmp[i] = a[i] - r * a[j - i];
		for (size_t i = 1; i < j; i++)
			a[i] = tmp[i];
		a[j] = r;
		err *= 1 - r * r;
	}
	for (size_t ut = 0; ut < nw; ut++) {
		ptrdiff_t t = (ptrdiff_t)ut;

		eh[t] = 0;
		if (ut < kl)
			continue;
		eh[t] = u[t];
		for (size_t i = 1; i <= kl; i++)
			eh[t] -= a[i] * u[t - (ptrdiff_t)i];
	}

	/* columns: u lags 1..3 [, u lag m], e lags 1..3 [, e lag m] */
	for (size_t i = 0; i < 3; i++) {
		lag[i] = (ptrdiff_t)i + 1;
		lag[(seasonal ? 4 : 3) + i] = (ptrdiff_t)i + 1;
	}
	if (seasonal)
		lag[3] = lag[7] = m;
	t0 = kl + (seasonal ? m : 3);
	if (nw < t0 + 20)
		return 0;
	memset(g, 0, sizeof(g));
	memset(gy, 0, sizeof(gy));
	for (size_t ut = t0; ut < nw; ut++) {
		ptrdiff_t t = (ptrdiff_t)ut;
		double x[8];

		for (size_t i = 0; i < nc; i++)
			x[i] = (i < nc / 2 ? u : eh)[t - lag[i]];
		for (size_t i = 0; i < nc; i++) {
			gy[i] += x[i] * u[t];
			for (size_t j = 0; j <= i; j++)
				g[i * 8 + j] += x[i] * x[j];
		}
		yy += u[t] * u[t];
	}

	for (uint32_t sp = 0; sp <= (seasonal ? 1u : 0u); sp++)
		for (uint32_t sq = 0; sq <= (seasonal ? 1u : 0u); sq++)
			for (uint32_t p = 0; p <= ARIMA_MAX_P; p++)
				for (uint32_t q = 0; q <= ARIMA_MAX_Q; q++) {
					struct arima_cand c = {
						.p = p, .q = q, .sp = sp, .sq = sq
					};
					size_t idx[8], k = 0;
					double sa[64], sb[8], rss = yy;

					if (force && (p != force->p || q != force->q ||
						      sp != force->sp || sq != force->sq))
						continue;
					for (uint32_t i = 0; i < p; i++)
						idx[k++] = i;
					if (sp)
						idx[k++] = 3;
					for (uint32_t j = 0; j < q; j++)
						idx[k++] = nc / 2 + j;
					if (sq)
						idx[k++] = 7;
					for (size_t i = 0; i < k; i++) {
						sb[i] = gy[idx[i]];
						for (size_t j = 0; j < k; j++) {
							size_t r =
								idx[i] > idx[j] ? idx[i] : idx[j];
							size_t cc =
								idx[i] > idx[j] ? idx[j] : idx[i];

							sa[i * k + j] = g[r * 8 + cc];
						}
						sa[i * k + i] *= 1 + 1e-9;
						sa[i * k + i] += 1e-12;
					}
					if (k && chol_solve(sa, sb, k) < 0)
						continue;
					for (size_t i = 0; i < k; i++)
						rss -= sb[i] * gy[idx[i]];
					cand_set(&c, sb);
					c.aicc = aicc(rss, nw - t0, k);
					if (!isfinite(c.aicc))
						continue;
					/* insertion into the short sorted list */
					for (size_t i = 0; i < ARIMA_TOP; i++) {
						if (i < ntop && !(c.aicc < top[i].aicc))
							continue;
						for (size_t j = ntop < ARIMA_TOP ? ntop
										 : ARIMA_TOP - 1;
						     j > i; j--)
							top[j] = top[j - 1];
						top[i] = c;
						if (ntop < ARIMA_TOP)
							ntop++;
						break;
					}
				}
	return ntop;
}

static int arima_fit_common(struct arima_state *s, uint32_t season_steps, const double *y, size_t n,
			    const struct arima_order *force)
{
	struct arima_cand top[ARIMA_TOP], best;
	size_t nw, off, ntop, t_sum = 0;
	double *buf, *x, *u, *e, *z[ARIMA_MAX_K], *w;
	double mean = 0, var = 0, last, best_aicc = INFINITY, sse;
	uint32_t m = 0;
	bool seasonal;

	if (n == 0)
		return -EINVAL;
	if (n > ARIMA_FIT_MAX) {
		y += n - ARIMA_FIT_MAX;
		n = ARIMA_FIT_MAX;
	}
	if (season_steps >= 2 && season_steps <= ARIMA_SEASON_MAX)
		m = season_steps;
	off = (m ? m : 1) + ARIMA_MAX_Q + 2;
	buf = calloc(n + (2 + ARIMA_MAX_K) * (off + n), sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	x = buf;
	u = buf + n + off;
	e = u + n + off;
	for (size_t i = 0; i < ARIMA_MAX_K; i++)
		z[i] = e + (i + 1) * (n + off);

	memset(s, 0, sizeof(*s));
	s->m = m;
	/* gaps carried forward (the caller should have done so already) */
	last = NAN;
	for (size_t t = 0; t < n; t++)
		if (isfinite(y[t])) {
			last = y[t];
			break;
		}
	if (!isfinite(last))
		last = 0;
	for (size_t t = 0; t < n; t++) {
		if (isfinite(y[t]))
			last = y[t];
		x[t] = last;
		mean += last;
	}
	mean /= (double)n;
	for (size_t t = 0; t < n; t++)
		var += (x[t] - mean) * (x[t] - mean);
	var /= (double)n;
	s->center = mean;
	s->scale = sqrt(var);
	if (!(s->scale > 1e-9 * (1 + fabs(mean))) || !isfinite(s->scale)) {
		s->center = last;
		s->scale = 1;
		for (size_t t = 0; t < n; t++)
			x[t] -= last;
		arima_set_naive(s, x, n);
		free(buf);
		return 0;
	}
	for (size_t t = 0; t < n; t++)
		x[t] = (x[t] - mean) / s->scale;

	/* differencing: seasonal strength for D, then KPSS for d */
	if (force)
		s->sd = m && n >= 2 * (size_t)m + 16 ? force->sd : 0;
	else if (m && n >= 3 * (size_t)m && arima_season_strength(x, n, m) > ARIMA_SEASON_CRIT)
		s->sd = 1;
	nw = n - s->sd * m;
	w = u; /* the seasonally differenced series, then the regular difference */
	for (size_t t = 0; t < nw; t++)
		w[t] = s->sd ? x[t + m] - x[t] : x[t];
	if (force ? force->d > 0 : nw >= 8 && arima_kpss_stat(w, nw) > ARIMA_KPSS_CRIT) {
		s->d = 1;
		for (size_t t = 0; t + 1 < nw; t++)
			w[t] = w[t + 1] - w[t];
		nw--;
	}
	if (nw < 16) {
		arima_set_naive(s, x, n);
		s->center = mean;
		free(buf);
		return 0;
	}
	if (s->d + s->sd == 0) {
		for (size_t t = 0; t < nw; t++)
			s->mu += w[t];
		s->mu /= (double)nw;
		for (size_t t = 0; t < nw; t++)
			u[t] -= s->mu;
	}

	seasonal = m && nw >= (size_t)m + 80;
	if (force && !seasonal && (force->sp || force->sq))
		force = NULL; /* not enough data for seasonal terms: choose freely */
	ntop = arima_rank_orders(u, nw, m, seasonal, e, force, top);
	/* the runner-up is refined only when the regression cannot separate them */
	while (ntop > 1 && top[ntop - 1].aicc > top[0].aicc + ARIMA_TOP_AICC)
		ntop--;
	if (ntop == 0) {
		top[0] =
			(struct arima_cand){ .p = force ? force->p : 1, .q = force ? force->q : 0 };
		ntop = 1;
	}
	for (size_t i = 0; i < ntop; i++) {
		size_t lar = top[i].p + top[i].sp * m;

		if (lar > t_sum)
			t_sum = lar;
	}
	best = top[0];
	for (size_t i = 0; i < ntop; i++) {
		double a;

		sse = cand_refine(&top[i], m, u, nw, t_sum, e, z);
		a = aicc(sse, nw - t_sum, cand_nparams(&top[i]));
		if (isfinite(a) && a < best_aicc) {
			best_aicc = a;
			best = top[i];
		}
	}
	if (!isfinite(best_aicc) || !cand_feasible(&best)) {
		arima_set_naive(s, x, n);
		free(buf);
		return 0;
	}

	/* final residuals with the chosen order fill the rings */
	sse = css_eval(&best, m, u, nw, t_sum, e, NULL, NULL, NULL);
	s->p = best.p;
	s->q = best.q;
	s->sp = best.sp;
	s->sq = best.sq;
	memcpy(s->phi, best.phi, sizeof(s->phi));
	memcpy(s->theta, best.theta, sizeof(s->theta));
	s->sphi = best.sphi;
	s->stheta = best.stheta;
	s->sigma2 = sse / (double)(nw - t_sum);
	if (!isfinite(s->sigma2)) {
		arima_set_naive(s, x, n);
		free(buf);
		return 0;
	}
	s->pos = ARIMA_RING - 1;
	for (uint32_t l = 0; l < ARIMA_RING; l++) {
		uint32_t i = ring_idx(s->pos, l);

		s->y[i] = l < n ? x[n - 1 - l] : x[0];
		s->u[i] = l < nw ? u[nw - 1 - l] : 0;
		s->e[i] = l < nw ? e[nw - 1 - l] : 0;
	}
	free(buf);
	return 0;
}

int arima_fit_order(struct arima_state *s, uint32_t season_steps, const double *y, size_t n,
		    const struct arima_order *order)
{
	if (order->p > ARIMA_MAX_P || order->q > ARIMA_MAX_Q || order->d > 1 || order->sp > 1 ||
	    order->sd > 1 || order->sq > 1)
		return -EINVAL;
	return arima_fit_common(s, season_steps, y, n, order);
}

static int arima_fit(void *state, const struct forecast_config *cfg, uint32_t season_steps,
		     const double *y, size_t n)
{
	return arima_fit_common(state, season_steps, y, n, NULL);
}

const struct forecast_model_ops forecast_arima_ops = {
	.id = FORECAST_ARIMA,
	.name = "arima",
	.state_size = sizeof(struct arima_state),
	.fit = arima_fit,
	.update = arima_update,
	.predict = arima_predict,
};
