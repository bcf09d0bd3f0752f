// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A small LSTM trained online on the series' own history (FORECAST_LSTM).
 *
 * fit() normalises the history, starts from fixed pseudo-random weights (a
 * constant seed, so the same history always gives the same model) and runs a
 * bounded number of epochs of truncated backpropagation through time with
 * Adam; the head is linear in the hidden state and the inputs and predicts
 * the next change, so an untrained or degenerate model is the naive
 * forecast. The loss is Huber's (spikes do not dominate), inputs are clipped.
 * update() learns from the error of its last one-step forecast (the head at
 * every step, the gates every LSTM_ONLINE_BATCH steps), then advances the
 * cell: about 1-3 us. predict() feeds its own forecasts back for multi-step
 * horizons, each fed-back change damped a little more and the level kept
 * within the range of the fit history, so an iterated drift cannot run
 * away; it has no analytic variance (NAN), the forecaster calibrates
 * intervals from the empirical errors. fit() costs about 1.5 ms of CPU on
 * 864 points (LSTM_STEP_BUDGET steps at most, whatever n).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lstm.h"
#include "model.h"

#define LSTM_CHUNK	  24   /* steps of truncated backpropagation */
#define LSTM_STEP_BUDGET  3000 /* training steps per fit (bounded time) */
#define LSTM_MAX_EPOCHS	  6
#define LSTM_FIT_MAX	  4096 /* a fit uses at most the last this many points */
#define LSTM_LR_FIT	  0.01f
#define LSTM_LR_ONLINE	  0.003f
#define LSTM_ONLINE_BATCH 4    /* updates whose gate gradients make one Adam step */
#define LSTM_DAMP	  0.9f /* fed-back changes shrink by this per step ahead */
#define LSTM_BETA1	  0.9f
#define LSTM_BETA2	  0.999f
#define LSTM_EPS	  1e-8f
#define LSTM_IN_CLIP	  10.0f /* inputs, in scales: spikes do not saturate the cells */
#define LSTM_OUT_CLIP	  10.0f /* largest predicted change, in scales */
#define LSTM_HUBER	  1.0f
#define LSTM_GRAD_NORM	  1.0f
#define LSTM_SEED	  0x9e3779b9u
#define LSTM_RANGE_MARGIN 0.1f /* of the history's range, beyond which forecasts are cut */

#define W_VH (LSTM_GATES * LSTM_ROW) /* head: hidden weights, input weights, bias */
#define W_VX (W_VH + LSTM_HIDDEN)
#define W_BO (W_VX + LSTM_INPUTS)

/* gate rows: input, forget, candidate, output */
enum { G_I, G_F, G_C, G_O };

struct lstm_cache {
	float x[LSTM_INPUTS];
	float h_prev[LSTM_HIDDEN], c_prev[LSTM_HIDDEN];
	float g[4][LSTM_HIDDEN]; /* activated gates */
	float tc[LSTM_HIDDEN];	 /* tanh of the new cell */
	float h[LSTM_HIDDEN];
	float target_grad; /* d loss / d output */
};

static inline float clampf(float v, float lim)
{
	if (!(v > -lim))
		return v != v ? 0 : -lim;
	return v < lim ? v : lim;
}

static inline float sigmoidf(float v)
{
	return 1.0f / (1.0f + expf(-v));
}

/* tanh from one expf: cheaper than tanhf, exact enough, saturates cleanly */
static inline float tanh_fast(float v)
{
	return 2.0f / (1.0f + expf(-2.0f * v)) - 1.0f;
}

/*
 * One step. Weights are stored input-major (w[j * LSTM_GATES + g]) so the
 * inner loops run over contiguous gates and vectorise without reordering
 * sums. h and c may alias h_prev and c_prev.
 */
static void lstm_cell(const float *w, const float *x, const float *h_prev, const float *c_prev,
		      float *h, float *c, struct lstm_cache *cache)
{
	float a[LSTM_GATES] = { 0 }, v[LSTM_ROW];

	memcpy(v, x, LSTM_INPUTS * sizeof(*v));
	memcpy(v + LSTM_INPUTS, h_prev, LSTM_HIDDEN * sizeof(*v));
	v[LSTM_ROW - 1] = 1;
	for (int j = 0; j < LSTM_ROW; j++) {
		const float *col = w + j * LSTM_GATES;
		float vj = v[j];

		for (int g = 0; g < LSTM_GATES; g++)
			a[g] += col[g] * vj;
	}
	if (cache) {
		memcpy(cache->x, x, sizeof(cache->x));
		memcpy(cache->h_prev, h_prev, sizeof(cache->h_prev));
		memcpy(cache->c_prev, c_prev, sizeof(cache->c_prev));
	}
	for (int k = 0; k < LSTM_HIDDEN; k++) {
		float gi = sigmoidf(a[G_I * LSTM_HIDDEN + k]);
		float gf = sigmoidf(a[G_F * LSTM_HIDDEN + k]);
		float gc = tanh_fast(a[G_C * LSTM_HIDDEN + k]);
		float go = sigmoidf(a[G_O * LSTM_HIDDEN + k]);
		float cn = gf * c_prev[k] + gi * gc;
		float tc = tanh_fast(cn);

		if (cache) {
			cache->g[G_I][k] = gi;
			cache->g[G_F][k] = gf;
			cache->g[G_C][k] = gc;
			cache->g[G_O][k] = go;
			cache->tc[k] = tc;
			cache->h[k] = go * tc;
		}
		c[k] = cn;
		h[k] = go * tc;
	}
}

/* The predicted change of the normalised value. */
static float lstm_head(const float *w, const float *h, const float *x)
{
	float v = w[W_BO];

	for (int k = 0; k < LSTM_HIDDEN; k++)
		v += w[W_VH + k] * h[k];
	for (int j = 0; j < LSTM_INPUTS; j++)
		v += w[W_VX + j] * x[j];
	return clampf(v, LSTM_OUT_CLIP);
}

static float huber_grad(float r)
{
	return r > LSTM_HUBER ? LSTM_HUBER : r < -LSTM_HUBER ? -LSTM_HUBER : r;
}

/*
 * Input for forecasting the step after z_now: level, last change, change to
 * the value one season before the next step, time of day of the next step.
 */
static void lstm_input(const struct lstm_state *s, float z_now, float z_prev, float z_slag,
		       uint32_t phase_next, float *x)
{
	x[0] = clampf(z_now, LSTM_IN_CLIP);
	x[1] = clampf(z_now - z_prev, LSTM_IN_CLIP);
	x[2] = s->m_lag ? clampf(z_slag - z_now, LSTM_IN_CLIP) : 0;
	if (s->m) {
		float ang = 2.0f * (float)M_PI * (float)(phase_next % s->m) / (float)s->m;

		x[3] = sinf(ang);
		x[4] = cosf(ang);
	} else {
		x[3] = x[4] = 0;
	}
}

/* Backpropagation through cache[0..len), accumulating into grad. */
static void lstm_backward(const float *w, const struct lstm_cache *cache, int len, float *grad)
{
	float dh_next[LSTM_HIDDEN] = { 0 }, dc_next[LSTM_HIDDEN] = { 0 };

	for (int t = len - 1; t >= 0; t--) {
		const struct lstm_cache *cc = &cache[t];
		float dout = cc->target_grad, dg[LSTM_GATES];

		grad[W_BO] += dout;
		for (int k = 0; k < LSTM_HIDDEN; k++)
			grad[W_VH + k] += dout * cc->h[k];
		for (int j = 0; j < LSTM_INPUTS; j++)
			grad[W_VX + j] += dout * cc->x[j];
		for (int k = 0; k < LSTM_HIDDEN; k++) {
			float gi = cc->g[G_I][k], gf = cc->g[G_F][k];
			float gc = cc->g[G_C][k], go = cc->g[G_O][k], tc = cc->tc[k];
			float dh = dout * w[W_VH + k] + dh_next[k];
			float dc = dh * go * (1 - tc * tc) + dc_next[k];

			dg[G_O * LSTM_HIDDEN + k] = dh * tc * go * (1 - go);
			dg[G_I * LSTM_HIDDEN + k] = dc * gc * gi * (1 - gi);
			dg[G_F * LSTM_HIDDEN + k] = dc * cc->c_prev[k] * gf * (1 - gf);
			dg[G_C * LSTM_HIDDEN + k] = dc * gi * (1 - gc * gc);
			dc_next[k] = dc * gf;
		}
		for (int j = 0; j < LSTM_ROW; j++) {
			float vj = j < LSTM_INPUTS		   ? cc->x[j]
				   : j < LSTM_INPUTS + LSTM_HIDDEN ? cc->h_prev[j - LSTM_INPUTS]
								   : 1.0f;
			float *gcol = grad + j * LSTM_GATES;

			for (int g = 0; g < LSTM_GATES; g++)
				gcol[g] += dg[g] * vj;
		}
		for (int k = 0; k < LSTM_HIDDEN; k++) {
			const float *col = w + (LSTM_INPUTS + k) * LSTM_GATES;
			float d = 0;

			for (int g = 0; g < LSTM_GATES; g++)
				d += dg[g] * col[g];
			dh_next[k] = d;
		}
	}
}

/* Adam on parameters [lo, hi) with the gradient clipped to a norm. */
static void lstm_adam(struct lstm_state *s, float *grad, int lo, int hi, float lr)
{
	float norm = 0, lr_t;

	for (int i = lo; i < hi; i++)
		norm += grad[i] * grad[i];
	norm = sqrtf(norm);
	if (!(norm == norm))
		return; /* never let a non-finite gradient in */
	if (norm > LSTM_GRAD_NORM)
		for (int i = lo; i < hi; i++)
			grad[i] *= LSTM_GRAD_NORM / norm;
	lr_t = lr * sqrtf(1 - s->b2_pow) / (1 - s->b1_pow);
	for (int i = lo; i < hi; i++) {
		s->adam_m[i] = LSTM_BETA1 * s->adam_m[i] + (1 - LSTM_BETA1) * grad[i];
		s->adam_v[i] = LSTM_BETA2 * s->adam_v[i] + (1 - LSTM_BETA2) * grad[i] * grad[i];
		s->w[i] -= lr_t * s->adam_m[i] / (sqrtf(s->adam_v[i]) + LSTM_EPS);
	}
}

static void lstm_adam_tick(struct lstm_state *s)
{
	/* the corrections fade to nothing; stop before the powers turn subnormal */
	s->b1_pow = s->b1_pow < 1e-30f ? 0 : s->b1_pow * LSTM_BETA1;
	s->b2_pow = s->b2_pow < 1e-30f ? 0 : s->b2_pow * LSTM_BETA2;
	s->adam_steps++;
}

static void lstm_init_weights(struct lstm_state *s)
{
	uint32_t r = LSTM_SEED;
	float a = 1.0f / sqrtf((float)LSTM_ROW);

	for (int i = 0; i < LSTM_GATES * LSTM_ROW; i++) {
		r ^= r << 13;
		r ^= r >> 17;
		r ^= r << 5;
		s->w[i] = a * (2.0f * (float)(r >> 8) / 16777216.0f - 1.0f);
	}
	/* forget gates start open, biases at zero otherwise; the head starts naive */
	for (int g = 0; g < LSTM_GATES; g++)
		s->w[(LSTM_ROW - 1) * LSTM_GATES + g] = g / LSTM_HIDDEN == G_F ? 1.0f : 0.0f;
	for (int i = W_VH; i < LSTM_NPARAMS; i++)
		s->w[i] = 0;
}

float lstm_window_loss(const struct lstm_state *s, const float *z, size_t n, float *ret_grad)
{
	struct lstm_cache cache[LSTM_CHUNK];
	float h[LSTM_HIDDEN] = { 0 }, c[LSTM_HIDDEN] = { 0 }, x[LSTM_INPUTS], loss = 0;
	int len = 0;

	for (size_t t = 1; t < n && len < LSTM_CHUNK; t++, len++) {
		float r;

		lstm_input(s, z[t - 1], t >= 2 ? z[t - 2] : z[t - 1], z[t - 1],
			   (uint32_t)(t % (s->m ? s->m : 1)), x);
		lstm_cell(s->w, x, h, c, h, c, &cache[len]);
		r = z[t - 1] + lstm_head(s->w, h, x) - z[t];
		loss += fabsf(r) <= LSTM_HUBER ? 0.5f * r * r
					       : LSTM_HUBER * (fabsf(r) - 0.5f * LSTM_HUBER);
		cache[len].target_grad = huber_grad(r);
	}
	memset(ret_grad, 0, LSTM_NPARAMS * sizeof(*ret_grad));
	lstm_backward(s->w, cache, len, ret_grad);
	return loss;
}

static inline float slag_at(const float *z, size_t t, uint32_t m)
{
	return m && t + 1 >= m ? z[t + 1 - m] : z[t];
}

static int lstm_fit(void *state, const struct forecast_config *cfg, uint32_t season_steps,
		    const double *y, size_t n)
{
	struct lstm_state *s = state;
	struct lstm_cache cache[LSTM_CHUNK];
	float grad[LSTM_NPARAMS], h[LSTM_HIDDEN], c[LSTM_HIDDEN], x[LSTM_INPUTS];
	double mean = 0, var = 0, last = NAN;
	size_t epochs;
	float *z;

	if (n == 0)
		return -EINVAL;
	if (n > LSTM_FIT_MAX) {
		y += n - LSTM_FIT_MAX;
		n = LSTM_FIT_MAX;
	}
	z = malloc(n * sizeof(*z));
	if (!z)
		return -ENOMEM;

	memset(s, 0, sizeof(*s));
	if (season_steps >= 2) {
		s->m = season_steps;
		if (season_steps <= LSTM_SEASON_MAX)
			s->m_lag = season_steps;
	}
	for (size_t t = 0; t < n && !isfinite(last); t++)
		last = y[t];
	if (!isfinite(last))
		last = 0;
	for (size_t t = 0; t < n; t++) {
		if (isfinite(y[t]))
			last = y[t];
		mean += last;
	}
	mean /= (double)n;
	last = NAN;
	for (size_t t = 0; t < n && !isfinite(last); t++)
		last = y[t];
	if (!isfinite(last))
		last = mean;
	for (size_t t = 0; t < n; t++) {
		if (isfinite(y[t]))
			last = y[t];
		var += (last - mean) * (last - mean);
		z[t] = (float)last;
	}
	var /= (double)n;
	s->center = (float)mean;
	s->scale = (float)fmax(sqrt(var), 1e-6 * (1 + fabs(mean)));
	s->z_lo = INFINITY;
	s->z_hi = -INFINITY;
	for (size_t t = 0; t < n; t++) {
		z[t] = (z[t] - s->center) / s->scale;
		s->z_lo = fminf(s->z_lo, z[t]);
		s->z_hi = fmaxf(s->z_hi, z[t]);
	}
	{
		float margin = LSTM_RANGE_MARGIN * (s->z_hi - s->z_lo) + 1e-3f;

		s->z_lo -= margin;
		s->z_hi += margin;
	}

	lstm_init_weights(s);
	s->b1_pow = s->b2_pow = 1;
	epochs = n > 2 ? LSTM_STEP_BUDGET / (n - 2) : 0;
	if (epochs < 1)
		epochs = 1;
	if (epochs > LSTM_MAX_EPOCHS)
		epochs = LSTM_MAX_EPOCHS;
	for (size_t ep = 0; ep < epochs && n > 2; ep++) {
		memset(h, 0, sizeof(h));
		memset(c, 0, sizeof(c));
		/* step t reads z[..t] and predicts z[t + 1] */
		for (size_t t0 = 1; t0 + 1 < n; t0 += LSTM_CHUNK) {
			int len = 0;

			for (size_t t = t0; t < t0 + LSTM_CHUNK && t + 1 < n; t++, len++) {
				float pred;

				lstm_input(s, z[t], z[t - 1], slag_at(z, t, s->m_lag),
					   (uint32_t)((t + 1) % (s->m ? s->m : 1)), x);
				lstm_cell(s->w, x, h, c, h, c, &cache[len]);
				pred = z[t] + lstm_head(s->w, h, x);
				cache[len].target_grad = huber_grad(pred - z[t + 1]);
			}
			for (int i = 0; i < len; i++)
				cache[i].target_grad /= (float)len;
			memset(grad, 0, sizeof(grad));
			lstm_backward(s->w, cache, len, grad);
			lstm_adam_tick(s);
			lstm_adam(s, grad, 0, LSTM_NPARAMS, LSTM_LR_FIT);
		}
	}

	/* a clean pass with the final weights sets the cell state */
	memset(s->h, 0, sizeof(s->h));
	memset(s->c, 0, sizeof(s->c));
	memset(s->x, 0, sizeof(s->x));
	for (size_t t = 1; t < n; t++) {
		memcpy(s->h_prev, s->h, sizeof(s->h));
		memcpy(s->c_prev, s->c, sizeof(s->c));
		lstm_input(s, z[t], z[t - 1], slag_at(z, t, s->m_lag),
			   (uint32_t)((t + 1) % (s->m ? s->m : 1)), s->x);
		lstm_cell(s->w, s->x, s->h_prev, s->c_prev, s->h, s->c, NULL);
	}
	s->pos = LSTM_SEASON_MAX - 1;
	for (uint32_t l = 0; l < LSTM_SEASON_MAX; l++)
		s->ring[(s->pos + LSTM_SEASON_MAX - l) % LSTM_SEASON_MAX] =
			l < n ? z[n - 1 - l] : z[0];
	s->phase = (uint32_t)((n - 1) % (s->m ? s->m : 1));
	free(z);
	return 0;
}

static inline float ring_lag(const struct lstm_state *s, uint32_t lag)
{
	return s->ring[(s->pos + LSTM_SEASON_MAX - lag % LSTM_SEASON_MAX) % LSTM_SEASON_MAX];
}

static void lstm_update(void *state, double y)
{
	struct lstm_state *s = state;
	struct lstm_cache cache;
	float h[LSTM_HIDDEN], c[LSTM_HIDDEN];
	float z_now = ring_lag(s, 0), pred, z_new;

	/* one online step on the error of the forecast made for this value */
	lstm_cell(s->w, s->x, s->h_prev, s->c_prev, h, c, &cache);
	pred = z_now + lstm_head(s->w, h, s->x);
	z_new = (float)((y - s->center) / s->scale);
	if (!isfinite(z_new)) {
		z_new = pred; /* a gap: advance on the own forecast, learn nothing */
	} else {
		/*
		 * The head (a few parameters) learns at every step, which tracks
		 * the level; the gates' gradients of a few steps make one Adam
		 * step, whose cost is per parameter.
		 */
		memset(s->grad_acc + W_VH, 0, (LSTM_NPARAMS - W_VH) * sizeof(float));
		cache.target_grad = huber_grad(pred - z_new);
		lstm_backward(s->w, &cache, 1, s->grad_acc);
		lstm_adam(s, s->grad_acc, W_VH, LSTM_NPARAMS, LSTM_LR_ONLINE);
		if (++s->n_acc >= LSTM_ONLINE_BATCH) {
			for (int i = 0; i < W_VH; i++)
				s->grad_acc[i] /= LSTM_ONLINE_BATCH;
			lstm_adam_tick(s);
			lstm_adam(s, s->grad_acc, 0, W_VH, LSTM_LR_ONLINE);
			memset(s->grad_acc, 0, sizeof(s->grad_acc));
			s->n_acc = 0;
		}
	}

	s->pos = (s->pos + 1) % LSTM_SEASON_MAX;
	s->ring[s->pos] = z_new;
	if (s->m)
		s->phase = (s->phase + 1) % s->m;
	memcpy(s->h_prev, s->h, sizeof(s->h));
	memcpy(s->c_prev, s->c, sizeof(s->c));
	lstm_input(s, z_new, z_now, s->m_lag ? ring_lag(s, s->m_lag - 1) : z_new, s->phase + 1,
		   s->x);
	lstm_cell(s->w, s->x, s->h_prev, s->c_prev, s->h, s->c, NULL);
}

static void lstm_predict(const void *state, uint32_t h, double *ret_mean, double *ret_sd)
{
	const struct lstm_state *s = state;
	float hh[LSTM_HIDDEN], cc[LSTM_HIDDEN], x[LSTM_INPUTS];
	float z_now = ring_lag(s, 0), z_prev, damp = 1;

	memcpy(hh, s->h, sizeof(hh));
	memcpy(cc, s->c, sizeof(cc));
	memcpy(x, s->x, sizeof(x));
	for (uint32_t k = 0; k < h; k++) {
		float z_next = z_now + damp * lstm_head(s->w, hh, x), z_slag;

		damp *= LSTM_DAMP;

		/* fed back, one wild step would compound: keep to the range seen */
		z_next = fminf(fmaxf(z_next, fminf(s->z_lo, z_now)), fmaxf(s->z_hi, z_now));
		z_slag = z_next;

		ret_mean[k] = s->center + (double)s->scale * z_next;
		if (ret_sd)
			ret_sd[k] = NAN;
		if (k + 1 == h)
			break;
		/* z_next taken as observed; the next input looks one season back from k + 2 */
		if (s->m_lag) {
			ptrdiff_t j = (ptrdiff_t)k + 2 - (ptrdiff_t)s->m_lag;

			z_slag = j <= 0 ? ring_lag(s, (uint32_t)-j)
					: (float)((ret_mean[j - 1] - s->center) / s->scale);
		}
		z_prev = z_now;
		z_now = z_next;
		lstm_input(s, z_now, z_prev, z_slag, s->phase + k + 2, x);
		lstm_cell(s->w, x, hh, cc, hh, cc, NULL);
	}
}

const struct forecast_model_ops forecast_lstm_ops = {
	.id = FORECAST_LSTM,
	.name = "lstm",
	.state_size = sizeof(struct lstm_state),
	.fit = lstm_fit,
	.update = lstm_update,
	.predict = lstm_predict,
};
