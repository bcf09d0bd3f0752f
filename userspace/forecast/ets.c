// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The simple model families: naive, seasonal naive and exponential smoothing
 * (simple, damped Holt, damped Holt-Winters with additive or multiplicative
 * season), in the error-correction form so that one recursion serves fitting,
 * updating and the analytic variance.
 *
 * Fitting: initial states from the data (cycle means and the mean seasonal
 * profile over all full cycles, no trend), then the smoothing parameters by
 * a coarse grid followed by Nelder-Mead on the one-step loss, each parameter
 * bounded so that the recursion stays stable on flat, spiky and zero-heavy
 * series. The states are fixed-size and hold no pointers; every index read
 * from a state is clamped, so a restored state cannot reach out of bounds.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "model.h"
#include "optim.h"
#include "season.h"

enum {
	ETS_TREND = 1u << 0,
	ETS_SEASON_ADD = 1u << 1,
	ETS_SEASON_MUL = 1u << 2,
};

struct ets_core {
	uint32_t kind; /* ETS_* flags of the family */
	uint32_t m;    /* season in steps; 0 = none */
	uint32_t pos;  /* season index of the next observation */
	uint32_t pad;
	double alpha, beta, gamma, phi;
	double level, trend;
	double offset; /* multiplicative season works on y + offset > 0 */
	double sigma2; /* one-step error variance from the fit */
};

struct ets_state {
	struct ets_core c;
};

struct hw_state {
	struct ets_core c;
	double season[FORECAST_SEASON_MAX];
};

struct naive_state {
	double last;
	double sigma2;
};

struct snaive_state {
	uint32_t m;
	uint32_t pos;
	double last;
	double sigma2;
	double buf[FORECAST_SEASON_MAX];
};

static uint32_t ets_m(const struct ets_core *c)
{
	return (c->kind & (ETS_SEASON_ADD | ETS_SEASON_MUL)) && c->m <= FORECAST_SEASON_MAX ? c->m
											    : 0;
}

/* Multiplicative factors are kept in a sane range so a near-zero cycle cannot explode. */
static double ets_clamp_factor(double s)
{
	if (!(s > 0.05))
		return 0.05;
	return s > 20 ? 20 : s;
}

/* One observation: advances the state, returns the one-step error. */
static double ets_step(struct ets_core *c, double *season, double y)
{
	uint32_t m = season ? ets_m(c) : 0;
	uint32_t pos = m ? c->pos % m : 0;
	double damped = (c->kind & ETS_TREND) ? c->phi * c->trend : 0;
	double base = c->level + damped;
	double e;

	if (m && (c->kind & ETS_SEASON_MUL)) {
		double s = ets_clamp_factor(season[pos]);
		double yy = y + c->offset;

		e = yy - base * s;
		c->level = base + c->alpha * e / s;
		if (c->kind & ETS_TREND)
			c->trend = damped + c->beta * e / s;
		if (fabs(base) > 1e-9)
			season[pos] = ets_clamp_factor(s + c->gamma * e / base);
	} else if (m) {
		e = y - (base + season[pos]);
		c->level = base + c->alpha * e;
		if (c->kind & ETS_TREND)
			c->trend = damped + c->beta * e;
		season[pos] += c->gamma * e;
	} else {
		e = y - base;
		c->level = base + c->alpha * e;
		if (c->kind & ETS_TREND)
			c->trend = damped + c->beta * e;
	}
	if (m)
		c->pos = (pos + 1) % m;
	if (!isfinite(c->level) || !isfinite(c->trend)) {
		/* Never stay broken: restart from the observation. */
		c->level = (c->kind & ETS_SEASON_MUL) ? y + c->offset : y;
		c->trend = 0;
	}
	return e;
}

static void ets_predict_core(const struct ets_core *c, const double *season, uint32_t h,
			     double *ret_mean, double *ret_sd)
{
	uint32_t m = season ? ets_m(c) : 0;
	uint32_t pos = m ? c->pos % m : 0;
	bool trend = c->kind & ETS_TREND;
	double phi_h = 0, phi_pow = 1, var_sum = 1;
	double sigma = sqrt(c->sigma2 > 0 ? c->sigma2 : 0);

	for (uint32_t i = 1; i <= h; i++) {
		double base, mean;

		if (trend) {
			phi_pow *= c->phi;
			phi_h += phi_pow;
		}
		base = c->level + (trend ? phi_h * c->trend : 0);
		if (m && (c->kind & ETS_SEASON_MUL))
			mean = base * ets_clamp_factor(season[(pos + i - 1) % m]) - c->offset;
		else if (m)
			mean = base + season[(pos + i - 1) % m];
		else
			mean = base;
		ret_mean[i - 1] = isfinite(mean) ? mean : c->level;
		if (ret_sd) {
			ret_sd[i - 1] = sigma * sqrt(var_sum);
			/* c_i of the additive-error state space form, for the next horizon. */
			double ci = c->alpha + (trend ? c->beta * phi_h : 0) +
				    ((m && i % m == 0) ? c->gamma : 0);
			var_sum += ci * ci;
		}
	}
}

/* ---- fitting ---- */

/*
 * One-step loss: squared near zero, absolute beyond huber (a robust scale of
 * the series' changes), so a few spikes do not drag the smoothing towards
 * chasing them. huber == 0 gives plain squared error.
 */
static double ets_loss_of(double e, double huber)
{
	double a = fabs(e);

	if (!(huber > 0) || a <= huber)
		return e * e;
	return huber * (2 * a - huber);
}

struct ets_fit_ctx {
	double huber;
	const double *y;
	size_t n;
	struct ets_core init;
	const double *season0; /* initial season, m entries */
	double *season;	       /* scratch, m entries */
	uint32_t kind;
};

static void ets_params_apply(const struct ets_fit_ctx *ctx, const double *x, struct ets_core *c)
{
	size_t k = 0;

	*c = ctx->init;
	c->alpha = x[k++];
	c->beta = 0;
	c->gamma = 0;
	c->phi = 1;
	if (ctx->kind & ETS_TREND) {
		c->beta = x[k++] * c->alpha;
		c->phi = x[k++];
	}
	if (ets_m(&ctx->init))
		c->gamma = x[k++] * (1 - c->alpha);
}

static double ets_loss(const double *x, void *userdata)
{
	struct ets_fit_ctx *ctx = userdata;
	uint32_t m = ets_m(&ctx->init);
	struct ets_core c;
	double sse = 0;

	ets_params_apply(ctx, x, &c);
	if (m)
		memcpy(ctx->season, ctx->season0, m * sizeof(double));
	for (size_t i = 0; i < ctx->n; i++) {
		double e = ets_step(&c, m ? ctx->season : NULL, ctx->y[i]);

		sse += ets_loss_of(e, ctx->huber);
	}
	return sse;
}

/* Initial level, trend and season from the data (no optimisation). */
static void ets_init(struct ets_core *c, double *season, const double *y, size_t n)
{
	uint32_t m = ets_m(c);
	double min = HUGE_VAL, mean_abs = 0;

	for (size_t i = 0; i < n; i++) {
		min = fmin(min, y[i]);
		mean_abs += fabs(y[i]);
	}
	mean_abs /= (double)n;
	c->offset = 0;
	if (m && (c->kind & ETS_SEASON_MUL) && !(min > 0.05 * mean_abs))
		c->offset = fmax(0, -min) + 0.1 * mean_abs + 1e-3;

	c->trend = 0;
	c->pos = 0;
	if (!m) {
		c->level = y[0];
		return;
	}

	size_t cycles = n / m;
	double first_mean = 0;

	for (uint32_t j = 0; j < m; j++)
		season[j] = 0;
	for (size_t k = 0; k < cycles; k++) {
		double cm = 0;

		for (uint32_t j = 0; j < m; j++)
			cm += y[k * m + j] + c->offset;
		cm /= m;
		if (k == 0)
			first_mean = cm;
		for (uint32_t j = 0; j < m; j++) {
			double v = y[k * m + j] + c->offset;

			if (c->kind & ETS_SEASON_MUL)
				season[j] += (cm > 0 ? v / cm : 1) / (double)cycles;
			else
				season[j] += (v - cm) / (double)cycles;
		}
	}
	/* Normalise: factors average 1, additive terms 0. */
	double s = 0;

	for (uint32_t j = 0; j < m; j++)
		s += season[j];
	s /= m;
	for (uint32_t j = 0; j < m; j++) {
		if (c->kind & ETS_SEASON_MUL)
			season[j] = ets_clamp_factor(s > 0 ? season[j] / s : 1);
		else
			season[j] -= s;
	}
	/* On the working scale: y + offset for a multiplicative season, y otherwise. */
	c->level = first_mean;
}

static int ets_fit_core(struct ets_core *c, double *season, uint32_t kind, uint32_t season_steps,
			const double *y, size_t n)
{
	double season0[FORECAST_SEASON_MAX];
	double x[4], lo[4], hi[4], best_x[4];
	struct ets_fit_ctx ctx = { .y = y, .n = n, .kind = kind };
	double mad = 0;

	for (size_t i = 1; i < n; i++)
		mad += fabs(y[i] - y[i - 1]);
	mad = n > 1 ? mad / (double)(n - 1) : 0;
	/* Half the mean change: close to absolute loss, still smooth near zero. */
	ctx.huber = 0.5 * mad;
	size_t dim = 0;
	double best = HUGE_VAL;

	if (n == 0)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->phi = 1;
	/* A season needs two full cycles to be told from noise. */
	if (season && season_steps >= 2 && season_steps <= FORECAST_SEASON_MAX &&
	    n >= 2 * (size_t)season_steps)
		c->m = season_steps;
	else
		c->m = 0;
	ets_init(c, season0, y, n);
	ctx.init = *c;
	ctx.season0 = season0;
	ctx.season = season;

	lo[dim] = 0.001, hi[dim] = 1.0, dim++; /* alpha */
	if (kind & ETS_TREND) {
		lo[dim] = 0, hi[dim] = 0.5, dim++;    /* beta / alpha */
		lo[dim] = 0.8, hi[dim] = 0.98, dim++; /* phi */
	}
	if (ets_m(c))
		lo[dim] = 0, hi[dim] = 1.0, dim++; /* gamma / (1 - alpha) */

	/* Coarse grid: a good start keeps Nelder-Mead out of flat valleys. */
	static const double alphas[] = { 0.05, 0.2, 0.5, 0.8, 1.0 };
	static const double fracs[] = { 0.02, 0.2 };

	for (size_t a = 0; a < sizeof(alphas) / sizeof(alphas[0]); a++)
		for (size_t b = 0; b < ((kind & ETS_TREND) ? 2u : 1u); b++)
			for (size_t g = 0; g < (ets_m(c) ? 2u : 1u); g++) {
				size_t k = 0;

				x[k++] = alphas[a];
				if (kind & ETS_TREND) {
					x[k++] = fracs[b];
					x[k++] = 0.9;
				}
				if (ets_m(c))
					x[k++] = fracs[g];
				double v = ets_loss(x, &ctx);

				if (v < best) {
					best = v;
					memcpy(best_x, x, sizeof(x));
				}
			}
	if (!isfinite(best)) {
		/* Nothing stable: fall back to a plain smoother. */
		best_x[0] = 0.5;
		for (size_t k = 1; k < dim; k++)
			best_x[k] = lo[k];
	}
	memcpy(x, best_x, sizeof(x));
	optim_nelder_mead(ets_loss, &ctx, dim, x, lo, hi, 40 * (unsigned)dim + 40, 1e-7);

	/* Final pass with the chosen parameters leaves the state at the end of y. */
	ets_params_apply(&ctx, x, c);
	uint32_t m = ets_m(c);

	if (m)
		memcpy(season, season0, m * sizeof(double));
	double sse = 0;

	for (size_t i = 0; i < n; i++) {
		double e = ets_step(c, m ? season : NULL, y[i]);

		sse += e * e;
	}
	c->sigma2 = sse / (double)n;
	if (!isfinite(c->sigma2))
		c->sigma2 = 0;
	return 0;
}

/* ---- ops: exponential smoothing ---- */

static int ses_fit(void *state, const struct forecast_config *cfg, uint32_t season_steps,
		   const double *y, size_t n)
{
	struct ets_state *s = state;

	return ets_fit_core(&s->c, NULL, 0, 0, y, n);
}

static int holt_fit(void *state, const struct forecast_config *cfg, uint32_t season_steps,
		    const double *y, size_t n)
{
	struct ets_state *s = state;

	return ets_fit_core(&s->c, NULL, ETS_TREND, 0, y, n);
}

static void ets_update(void *state, double y)
{
	struct ets_state *s = state;

	ets_step(&s->c, NULL, y);
}

static void ets_predict(const void *state, uint32_t h, double *ret_mean, double *ret_sd)
{
	const struct ets_state *s = state;

	ets_predict_core(&s->c, NULL, h, ret_mean, ret_sd);
}

static int hw_add_fit(void *state, const struct forecast_config *cfg, uint32_t season_steps,
		      const double *y, size_t n)
{
	struct hw_state *s = state;

	return ets_fit_core(&s->c, s->season, ETS_TREND | ETS_SEASON_ADD, season_steps, y, n);
}

static int hw_mul_fit(void *state, const struct forecast_config *cfg, uint32_t season_steps,
		      const double *y, size_t n)
{
	struct hw_state *s = state;

	return ets_fit_core(&s->c, s->season, ETS_TREND | ETS_SEASON_MUL, season_steps, y, n);
}

static void hw_update(void *state, double y)
{
	struct hw_state *s = state;

	ets_step(&s->c, s->season, y);
}

static void hw_predict(const void *state, uint32_t h, double *ret_mean, double *ret_sd)
{
	const struct hw_state *s = state;

	ets_predict_core(&s->c, s->season, h, ret_mean, ret_sd);
}

/* ---- ops: naive and seasonal naive ---- */

static double diff_sigma2(const double *y, size_t n, size_t lag)
{
	double s = 0;

	if (n <= lag)
		return 0;
	for (size_t i = lag; i < n; i++)
		s += (y[i] - y[i - lag]) * (y[i] - y[i - lag]);
	return s / (double)(n - lag);
}

static int naive_fit(void *state, const struct forecast_config *cfg, uint32_t season_steps,
		     const double *y, size_t n)
{
	struct naive_state *s = state;

	if (n == 0)
		return -EINVAL;
	s->last = y[n - 1];
	s->sigma2 = diff_sigma2(y, n, 1);
	return 0;
}

static void naive_update(void *state, double y)
{
	struct naive_state *s = state;

	s->last = y;
}

static void naive_predict(const void *state, uint32_t h, double *ret_mean, double *ret_sd)
{
	const struct naive_state *s = state;
	double sigma = sqrt(s->sigma2 > 0 ? s->sigma2 : 0);

	for (uint32_t i = 0; i < h; i++) {
		ret_mean[i] = s->last;
		if (ret_sd)
			ret_sd[i] = sigma * sqrt(i + 1.0);
	}
}

static uint32_t snaive_m(const struct snaive_state *s)
{
	return s->m <= FORECAST_SEASON_MAX ? s->m : 0;
}

static int snaive_fit(void *state, const struct forecast_config *cfg, uint32_t season_steps,
		      const double *y, size_t n)
{
	struct snaive_state *s = state;

	if (n == 0)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->last = y[n - 1];
	/* Without a full cycle of history it is the naive forecast. */
	s->m = season_steps <= FORECAST_SEASON_MAX && n >= season_steps ? season_steps : 0;
	if (s->m) {
		for (uint32_t j = 0; j < s->m; j++)
			s->buf[j] = y[n - s->m + j];
		s->sigma2 = diff_sigma2(y, n, s->m);
	} else {
		s->sigma2 = diff_sigma2(y, n, 1);
	}
	return 0;
}

static void snaive_update(void *state, double y)
{
	struct snaive_state *s = state;
	uint32_t m = snaive_m(s);

	s->last = y;
	if (m) {
		s->buf[s->pos % m] = y;
		s->pos = (s->pos % m + 1) % m;
	}
}

static void snaive_predict(const void *state, uint32_t h, double *ret_mean, double *ret_sd)
{
	const struct snaive_state *s = state;
	uint32_t m = snaive_m(s);
	double sigma = sqrt(s->sigma2 > 0 ? s->sigma2 : 0);

	for (uint32_t i = 0; i < h; i++) {
		ret_mean[i] = m ? s->buf[(s->pos % m + i) % m] : s->last;
		if (ret_sd)
			ret_sd[i] = sigma * sqrt(m ? (double)(i / m + 1) : i + 1.0);
	}
}

const struct forecast_model_ops forecast_naive_ops = {
	.id = FORECAST_NAIVE,
	.name = "naive",
	.state_size = sizeof(struct naive_state),
	.fit = naive_fit,
	.update = naive_update,
	.predict = naive_predict,
};

const struct forecast_model_ops forecast_seasonal_naive_ops = {
	.id = FORECAST_SEASONAL_NAIVE,
	.name = "seasonal-naive",
	.state_size = sizeof(struct snaive_state),
	.fit = snaive_fit,
	.update = snaive_update,
	.predict = snaive_predict,
};

const struct forecast_model_ops forecast_ses_ops = {
	.id = FORECAST_SES,
	.name = "ses",
	.state_size = sizeof(struct ets_state),
	.fit = ses_fit,
	.update = ets_update,
	.predict = ets_predict,
};

const struct forecast_model_ops forecast_holt_ops = {
	.id = FORECAST_HOLT,
	.name = "holt",
	.state_size = sizeof(struct ets_state),
	.fit = holt_fit,
	.update = ets_update,
	.predict = ets_predict,
};

const struct forecast_model_ops forecast_hw_add_ops = {
	.id = FORECAST_HW_ADD,
	.name = "hw-add",
	.state_size = sizeof(struct hw_state),
	.fit = hw_add_fit,
	.update = hw_update,
	.predict = hw_predict,
};

const struct forecast_model_ops forecast_hw_mul_ops = {
	.id = FORECAST_HW_MUL,
	.name = "hw-mul",
	.state_size = sizeof(struct hw_state),
	.fit = hw_mul_fit,
	.update = hw_update,
	.predict = hw_predict,
};
