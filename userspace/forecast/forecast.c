// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The forecaster: one per VM per resource. It keeps a bounded history, runs
 * one model (or, for AUTO, every built family plus their ensemble) and scores
 * each on its own out-of-sample errors at a ladder of horizons (1, 2, 3, 6,
 * 12, 24, ... up to the configured horizon).
 *
 * Choice: AUTO takes, per horizon, the candidate with the lowest recent mean
 * absolute error (exponentially weighted over about a day), so the choice is
 * a rolling backtest re-run with every observation.
 *
 * Intervals: split-conformal on the output's own recent errors at each
 * horizon (for AUTO the errors of what it actually forecast, switching
 * included), the model's analytic interval only until enough errors are in.
 * Errors are stored divided by the series' local volatility and scaled back
 * by the volatility now, so intervals widen as soon as a quiet VM turns busy;
 * adaptive conformal inference nudges each interval's quantile after every
 * actual so the coverage holds under drift. The coverage of what was
 * forecast at horizon 1 is counted per model and for the output.
 *
 * forecast_fit() seeds both without waiting: it fits on the older half of the
 * history, replays the rest through the models (the last day of it also
 * scores the choice), then fits again on all of it.
 *
 * Errors are kept twice, as a ring (to know which one leaves the window) and
 * sorted (so a quantile is one read); an update costs a few memmoves of at
 * most FORECAST_CALIB_WINDOW floats per tracked horizon.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "forecast.h"
#include "model.h"
#include "season.h"

#define FORECAST_TRACK_MAX     16
#define FORECAST_CALIB_WINDOW  576 /* errors kept per model and horizon */
#define FORECAST_CALIB_MIN     24  /* errors before the empirical interval is trusted */
#define FORECAST_CHOICE_REPLAY 288 /* replayed observations that score the choice */
#define FORECAST_HORIZON_MAX   8640
#define FORECAST_HISTORY_MAX   (1u << 20)
#define FORECAST_SLOTS_MAX     (FORECAST_NR_MODELS)

/* Step of the adaptive target: slow enough not to chase the correlated errors of long horizons. */
#define FORECAST_ACI_GAMMA 0.005
/*
 * Aim a tenth of the miscoverage below the level's: a regime change brings
 * misses that no window of past errors foresees (measured on the Azure and
 * Bitbrains traces: pooled 95 % coverage at 1 h fell to 0.93 without it).
 */
#define FORECAST_ACI_AIM 0.9

struct forecast_slot {
	enum forecast_model id;
	const struct forecast_model_ops *ops; /* NULL: the ensemble */
	void *state;
	float *pend;	 /* per tracked horizon k: ring of the k latest forecasts */
	uint32_t window; /* errors kept per horizon; 0 = none (analytic intervals) */
	uint32_t n_scored[FORECAST_TRACK_MAX]; /* errors seen, saturating: the choice's warm-up */
	float *err;			       /* per tracked horizon: ring of signed errors */
	float *sorted;			       /* per tracked horizon: the same errors, ascending */
	uint32_t err_n[FORECAST_TRACK_MAX];
	uint32_t err_pos[FORECAST_TRACK_MAX];
	/* Recent mean absolute error (raw units), exponentially weighted: the choice. */
	double mae_num[FORECAST_TRACK_MAX], mae_den[FORECAST_TRACK_MAX];
	/*
	 * Adaptive conformal inference: the miscoverage each interval aims at,
	 * nudged after every actual towards the level's, so coverage holds
	 * when the error distribution drifts faster than the window follows.
	 */
	double aci[FORECAST_TRACK_MAX][FORECAST_MAX_LEVELS];
	uint64_t cov_hit[FORECAST_MAX_LEVELS];
	uint64_t cov_n;
};

struct forecaster {
	struct forecast_config cfg;
	uint32_t season_steps;
	uint64_t n_observed;
	uint64_t since_refit;
	uint64_t tick;

	double *hist; /* ring of raw observations (NAN = gap) */
	uint32_t hist_len, hist_pos;

	uint32_t n_track;
	uint32_t track[FORECAST_TRACK_MAX];
	uint32_t pend_off[FORECAST_TRACK_MAX];
	uint32_t pend_total;

	uint32_t n_slots;
	struct forecast_slot slots[FORECAST_SLOTS_MAX];
	uint32_t chosen[FORECAST_TRACK_MAX]; /* slot index per tracked horizon (AUTO) */
	/*
	 * AUTO's own output is scored like a model: its intervals come from its
	 * own errors, which carry the cost of switching between models.
	 */
	bool has_out;
	struct forecast_slot out;

	/* Coverage of the forecaster's own output at horizon 1. */
	uint64_t cov_hit[FORECAST_MAX_LEVELS];
	uint64_t cov_n;
	double prev_lo[FORECAST_MAX_LEVELS], prev_hi[FORECAST_MAX_LEVELS];
	bool prev_valid;

	double *scratch; /* n_slots * horizon means, for update */

	/*
	 * Errors are stored divided by the series' local volatility when the
	 * forecast was made (an average of recent absolute changes), and
	 * intervals are the quantiles times the volatility now: they widen
	 * as soon as a quiet series turns busy instead of a window later.
	 */
	double vol, vol_long, vol_last;
	bool calib_only;   /* replaying old data: errors calibrate, do not choose */
	float *pend_scale; /* per tracked horizon: the scale at each pending forecast */
};

static const char *const model_names[FORECAST_NR_MODELS] = {
	[FORECAST_NAIVE] = "naive",	  [FORECAST_SEASONAL_NAIVE] = "seasonal-naive",
	[FORECAST_SES] = "ses",		  [FORECAST_HOLT] = "holt",
	[FORECAST_HW_ADD] = "hw-add",	  [FORECAST_HW_MUL] = "hw-mul",
	[FORECAST_ARIMA] = "arima",	  [FORECAST_LSTM] = "lstm",
	[FORECAST_ENSEMBLE] = "ensemble", [FORECAST_AUTO] = "auto",
};

/* Members of the ensemble: smoothers that err in different directions. */
static const enum forecast_model ensemble_members[] = {
	FORECAST_NAIVE,
	FORECAST_SES,
	FORECAST_HOLT,
	FORECAST_HW_ADD,
};

const char *forecast_model_to_string(enum forecast_model m)
{
	return (unsigned)m < FORECAST_NR_MODELS ? model_names[m] : NULL;
}

int forecast_model_from_string(const char *s, enum forecast_model *ret)
{
	if (!s)
		return -EINVAL;
	for (unsigned i = 0; i < FORECAST_NR_MODELS; i++)
		if (model_names[i] && !strcmp(s, model_names[i])) {
			*ret = (enum forecast_model)i;
			return 0;
		}
	if (!strcmp(s, "seasonal_naive") || !strcmp(s, "snaive")) {
		*ret = FORECAST_SEASONAL_NAIVE;
		return 0;
	}
	if (!strcmp(s, "hw_add") || !strcmp(s, "hw")) {
		*ret = FORECAST_HW_ADD;
		return 0;
	}
	if (!strcmp(s, "hw_mul")) {
		*ret = FORECAST_HW_MUL;
		return 0;
	}
	return -EINVAL;
}

const struct forecast_model_ops *forecast_model_ops_get(enum forecast_model m)
{
	switch (m) {
	case FORECAST_NAIVE:
		return &forecast_naive_ops;
	case FORECAST_SEASONAL_NAIVE:
		return &forecast_seasonal_naive_ops;
	case FORECAST_SES:
		return &forecast_ses_ops;
	case FORECAST_HOLT:
		return &forecast_holt_ops;
	case FORECAST_HW_ADD:
		return &forecast_hw_add_ops;
	case FORECAST_HW_MUL:
		return &forecast_hw_mul_ops;
#if FORECAST_HAVE_ARIMA
	case FORECAST_ARIMA:
		return &forecast_arima_ops;
#endif
#if FORECAST_HAVE_LSTM
	case FORECAST_LSTM:
		return &forecast_lstm_ops;
#endif
	default:
		return NULL;
	}
}

void forecast_config_init(struct forecast_config *cfg, double step_sec)
{
	if (!(step_sec > 0) || !isfinite(step_sec))
		step_sec = 60;
	memset(cfg, 0, sizeof(*cfg));
	cfg->model = FORECAST_AUTO;
	cfg->step_sec = step_sec;
	cfg->season_steps = 0;
	/* One hour ahead, three days of history, refit daily. */
	cfg->horizon_steps = (uint32_t)fmax(1, ceil(3600 / step_sec));
	if (cfg->horizon_steps > FORECAST_HORIZON_MAX)
		cfg->horizon_steps = FORECAST_HORIZON_MAX;
	cfg->history_max = (uint32_t)fmin(8640, fmax(64, ceil(3 * 86400 / step_sec)));
	cfg->refit_every = (uint32_t)fmin(8640, fmax(1, ceil(86400 / step_sec)));
	cfg->n_levels = 2;
	cfg->levels[0] = 0.80;
	cfg->levels[1] = 0.95;
	cfg->lower_bound = 0;
	cfg->upper_bound = INFINITY;
}

static int config_validate(const struct forecast_config *cfg)
{
	if ((unsigned)cfg->model >= FORECAST_NR_MODELS)
		return -EINVAL;
	if (!(cfg->step_sec > 0) || !isfinite(cfg->step_sec))
		return -EINVAL;
	if (cfg->horizon_steps < 1 || cfg->horizon_steps > FORECAST_HORIZON_MAX)
		return -EINVAL;
	if (cfg->history_max < 2 || cfg->history_max > FORECAST_HISTORY_MAX)
		return -EINVAL;
	if (cfg->n_levels > FORECAST_MAX_LEVELS)
		return -EINVAL;
	for (uint32_t i = 0; i < cfg->n_levels; i++)
		if (!(cfg->levels[i] > 0 && cfg->levels[i] < 1))
			return -EINVAL;
	if (isnan(cfg->lower_bound) || isnan(cfg->upper_bound) ||
	    cfg->lower_bound > cfg->upper_bound)
		return -EINVAL;
	if (cfg->season_steps > FORECAST_SEASON_MAX)
		return -EINVAL;
	return 0;
}

static void track_init(struct forecaster *f)
{
	static const uint32_t ladder[] = { 1,  2,   3,	 6,   12,   24,	  48,
					   96, 144, 288, 576, 1152, 2016, 4032 };
	uint32_t H = f->cfg.horizon_steps;

	f->n_track = 0;
	for (size_t i = 0; i < sizeof(ladder) / sizeof(ladder[0]); i++)
		if (ladder[i] < H && f->n_track < FORECAST_TRACK_MAX - 1)
			f->track[f->n_track++] = ladder[i];
	f->track[f->n_track++] = H;
	f->pend_total = 0;
	for (uint32_t k = 0; k < f->n_track; k++) {
		f->pend_off[k] = f->pend_total;
		f->pend_total += f->track[k];
	}
}

static double clip(const struct forecaster *f, double v)
{
	if (v < f->cfg.lower_bound)
		return f->cfg.lower_bound;
	if (v > f->cfg.upper_bound)
		return f->cfg.upper_bound;
	return v;
}

static void slot_reset_calibration(const struct forecaster *f, struct forecast_slot *s)
{
	for (uint32_t i = 0; i < f->pend_total; i++)
		s->pend[i] = NAN;
	memset(s->err_n, 0, sizeof(s->err_n));
	memset(s->err_pos, 0, sizeof(s->err_pos));
	memset(s->n_scored, 0, sizeof(s->n_scored));
	memset(s->mae_num, 0, sizeof(s->mae_num));
	memset(s->mae_den, 0, sizeof(s->mae_den));
	for (uint32_t k = 0; k < FORECAST_TRACK_MAX; k++)
		for (uint32_t l = 0; l < FORECAST_MAX_LEVELS; l++)
			s->aci[k][l] = l < f->cfg.n_levels
					       ? FORECAST_ACI_AIM * (1 - f->cfg.levels[l])
					       : 0.5;
	memset(s->cov_hit, 0, sizeof(s->cov_hit));
	s->cov_n = 0;
}

static int slot_init(struct forecaster *f, struct forecast_slot *s, enum forecast_model id)
{
	size_t nerr;

	/*
	 * AUTO's candidates need only their recent error for the choice: the
	 * output is calibrated on its own errors. Rings for each candidate
	 * (for per-model intervals, as the evaluation reports) on request.
	 */
	s->window = FORECAST_CALIB_WINDOW;
	if ((f->cfg.model == FORECAST_AUTO || f->cfg.model == FORECAST_ENSEMBLE) &&
	    id != FORECAST_AUTO && id != f->cfg.model && !f->cfg.calibrate_candidates)
		s->window = 0;
	nerr = (size_t)f->n_track * s->window;
	s->id = id;
	s->ops = forecast_model_ops_get(id);
	if (s->ops) {
		s->state = calloc(1, s->ops->state_size ? s->ops->state_size : 1);
		if (!s->state)
			return -ENOMEM;
	}
	s->pend = calloc(f->pend_total, sizeof(float));
	if (!s->pend)
		return -ENOMEM;
	if (nerr) {
		s->err = calloc(nerr, sizeof(float));
		s->sorted = calloc(nerr, sizeof(float));
		if (!s->err || !s->sorted)
			return -ENOMEM;
	}
	slot_reset_calibration(f, s);
	return 0;
}

static int slot_find(const struct forecaster *f, enum forecast_model id)
{
	for (uint32_t i = 0; i < f->n_slots; i++)
		if (f->slots[i].id == id)
			return (int)i;
	return -1;
}

void forecast_free(struct forecaster *f)
{
	if (!f)
		return;
	for (uint32_t i = 0; i < f->n_slots; i++) {
		free(f->slots[i].state);
		free(f->slots[i].pend);
		free(f->slots[i].err);
		free(f->slots[i].sorted);
	}
	free(f->out.pend);
	free(f->out.err);
	free(f->out.sorted);
	free(f->hist);
	free(f->scratch);
	free(f->pend_scale);
	free(f);
}

static void forecast_freep(struct forecaster **f)
{
	forecast_free(*f);
}

/* Allocates f for cfg with every slot the model choice needs (no data yet). */
static int forecaster_alloc(const struct forecast_config *cfg, struct forecaster **ret)
{
	_cleanup_(forecast_freep) struct forecaster *f = NULL;
	int r;

	r = config_validate(cfg);
	if (r < 0)
		return r;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->cfg = *cfg;
	track_init(f);
	f->hist = calloc(cfg->history_max, sizeof(double));
	if (!f->hist)
		return -ENOMEM;

	if (cfg->model == FORECAST_AUTO) {
		for (unsigned m = 0; m < FORECAST_NR_MODELS; m++) {
			if (m == FORECAST_AUTO)
				continue;
			if (m != FORECAST_ENSEMBLE && !forecast_model_ops_get(m))
				continue;
			if (cfg->auto_models && !(cfg->auto_models & (1u << m)))
				continue;
			r = slot_init(f, &f->slots[f->n_slots++], m);
			if (r < 0)
				return r;
		}
		if (f->n_slots == 0)
			return -EINVAL;
		f->has_out = true;
		r = slot_init(f, &f->out, FORECAST_AUTO);
		if (r < 0)
			return r;
	} else if (cfg->model == FORECAST_ENSEMBLE) {
		for (size_t i = 0; i < sizeof(ensemble_members) / sizeof(ensemble_members[0]);
		     i++) {
			r = slot_init(f, &f->slots[f->n_slots++], ensemble_members[i]);
			if (r < 0)
				return r;
		}
		r = slot_init(f, &f->slots[f->n_slots++], FORECAST_ENSEMBLE);
		if (r < 0)
			return r;
	} else {
		if (!forecast_model_ops_get(cfg->model))
			return -EOPNOTSUPP;
		r = slot_init(f, &f->slots[f->n_slots++], cfg->model);
		if (r < 0)
			return r;
	}
	f->scratch = calloc((size_t)f->n_slots * cfg->horizon_steps * 2, sizeof(double));
	f->pend_scale = calloc(f->pend_total, sizeof(float));
	if (!f->scratch || !f->pend_scale)
		return -ENOMEM;
	f->vol = f->vol_long = 0;
	f->vol_last = NAN;
	for (uint32_t k = 0; k < FORECAST_TRACK_MAX; k++)
		f->chosen[k] = 0;
	*ret = TAKE_PTR(f);
	return 0;
}

int forecast_new(const struct forecast_config *cfg, struct forecaster **ret)
{
	struct forecaster *f;
	int r;

	if (!cfg || !ret)
		return -EINVAL;
	r = forecaster_alloc(cfg, &f);
	if (r < 0)
		return r;
	/* Before any backtest AUTO starts from the ensemble. */
	int e = slot_find(f, FORECAST_ENSEMBLE);

	for (uint32_t k = 0; k < FORECAST_TRACK_MAX; k++)
		f->chosen[k] = e >= 0 ? (uint32_t)e : 0;
	*ret = f;
	return 0;
}

/* ---- calibration ---- */

static float *slot_err(const struct forecast_slot *s, uint32_t k)
{
	return s->err + (size_t)k * s->window;
}

static float *slot_sorted(const struct forecast_slot *s, uint32_t k)
{
	return s->sorted + (size_t)k * s->window;
}

/* First index in a[0..n) whose value is >= v. */
static uint32_t sorted_lower(const float *a, uint32_t n, float v)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (a[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void slot_push_error(struct forecast_slot *s, uint32_t k, double e)
{
	float *ring = slot_err(s, k), *srt = slot_sorted(s, k);
	float v = (float)e;
	uint32_t n = s->err_n[k], i;

	if (!isfinite(v) || !s->window)
		return;
	if (n == s->window) {
		float old = ring[s->err_pos[k]];

		i = sorted_lower(srt, n, old);
		if (i >= n)
			i = n - 1;
		memmove(srt + i, srt + i + 1, (n - i - 1) * sizeof(float));
		n--;
	}
	i = sorted_lower(srt, n, v);
	memmove(srt + i + 1, srt + i, (n - i) * sizeof(float));
	srt[i] = v;
	n++;
	ring[s->err_pos[k]] = v;
	s->err_pos[k] = (s->err_pos[k] + 1) % s->window;
	s->err_n[k] = n;
}

/* Rebuilds the derived sorted copy and sums from the rings (after a restore). */
static void slot_rebuild(struct forecast_slot *s, uint32_t n_track)
{
	for (uint32_t k = 0; k < n_track; k++) {
		uint32_t n = s->err_n[k];
		float *ring = slot_err(s, k), *srt = slot_sorted(s, k);
		/* Oldest first: the ring is full or was filled from 0. */
		uint32_t start = n == s->window ? s->err_pos[k] : 0;

		s->err_n[k] = 0;
		for (uint32_t j = 0; j < n; j++) {
			float v = ring[(start + j) % s->window];
			uint32_t i = sorted_lower(srt, s->err_n[k], v);

			memmove(srt + i + 1, srt + i, (s->err_n[k] - i) * sizeof(float));
			srt[i] = v;
			s->err_n[k]++;
		}
	}
}

/* Quantile p of the sorted errors, rounded outwards as split-conformal does. */
static double slot_quantile(const struct forecast_slot *s, uint32_t k, double p)
{
	const float *srt = slot_sorted(s, k);
	uint32_t n = s->err_n[k];
	double pos = p * (n + 1) - 1;
	long i = p < 0.5 ? (long)floor(pos) : (long)ceil(pos);

	if (i < 0)
		i = 0;
	if (i >= (long)n)
		i = (long)n - 1;
	return srt[i];
}

/* Scores e against the current interval of each level, then adapts its target. */
static void slot_aci_step(const struct forecaster *f, struct forecast_slot *s, uint32_t k, double e)
{
	if (s->err_n[k] < FORECAST_CALIB_MIN)
		return;
	for (uint32_t l = 0; l < f->cfg.n_levels; l++) {
		double a = s->aci[k][l];
		bool miss = e < slot_quantile(s, k, a / 2) || e > slot_quantile(s, k, 1 - a / 2);

		a += FORECAST_ACI_GAMMA *
		     (FORECAST_ACI_AIM * (1 - f->cfg.levels[l]) - (miss ? 1.0 : 0.0));
		s->aci[k][l] = fmin(fmax(a, 1e-4), 0.9);
	}
}

/* Inverse of the standard normal CDF (Acklam's rational approximation). */
static double normal_quantile(double p)
{
	static const double a[] = { -3.969683028665376e+01, 2.209460984245205e+02,
				    -2.759285104469687e+02, 1.383577518672690e+02,
				    -3.066479806614716e+01, 2.506628277459239e+00 };
	static const double b[] = { -5.447609879822406e+01, 1.615858368580409e+02,
				    -1.556989798598866e+02, 6.680131188771972e+01,
				    -1.328068155288572e+01 };
	static const double c[] = { -7.784894002430293e-03, -3.223964580411365e-01,
				    -2.400758277161838e+00, -2.549671348283239e+00,
				    4.374664141464968e+00,  2.938163982698783e+00 };
	static const double d[] = { 7.784695709041462e-03, 3.224671290700398e-01,
				    2.445134137142996e+00, 3.754408661907416e+00 };
	double q, r;

	if (p <= 0)
		return -INFINITY;
	if (p >= 1)
		return INFINITY;
	if (p < 0.02425) {
		q = sqrt(-2 * log(p));
		return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
		       ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	}
	if (p > 1 - 0.02425)
		return -normal_quantile(1 - p);
	q = p - 0.5;
	r = q * q;
	return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
	       (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/* Volatility: about an hour of 5-minute changes; the long run over three days. */
#define FORECAST_VOL_LAMBDA	 (1.0 / 12)
#define FORECAST_VOL_LONG_LAMBDA (1.0 / 864)

/* The volatility errors are measured in: never zero, never far below the long run. */
static double forecaster_scale(const struct forecaster *f)
{
	return fmax(fmax(f->vol, 0.25 * f->vol_long), 1e-6);
}

static void forecaster_vol_step(struct forecaster *f, double y)
{
	if (!isfinite(y))
		return;
	if (isfinite(f->vol_last)) {
		double d = fabs(y - f->vol_last);

		f->vol += FORECAST_VOL_LAMBDA * (d - f->vol);
		f->vol_long += FORECAST_VOL_LONG_LAMBDA * (d - f->vol_long);
	}
	f->vol_last = y;
}

/* Starts the volatility from a history (oldest first). */
static void forecaster_vol_init(struct forecaster *f, const double *y, size_t n)
{
	double s = 0;
	size_t m = 0;

	for (size_t i = 1; i < n; i++)
		if (isfinite(y[i]) && isfinite(y[i - 1])) {
			s += fabs(y[i] - y[i - 1]);
			m++;
		}
	f->vol = f->vol_long = m ? s / m : 0;
	f->vol_last = NAN;
	for (size_t i = 0; i < n; i++) {
		if (isfinite(y[i]) && isfinite(f->vol_last))
			f->vol += FORECAST_VOL_LAMBDA * (fabs(y[i] - f->vol_last) - f->vol);
		if (isfinite(y[i]))
			f->vol_last = y[i];
	}
}

/* Tracked index for horizon h: the smallest tracked horizon >= h. */
static uint32_t track_index(const struct forecaster *f, uint32_t h)
{
	for (uint32_t k = 0; k < f->n_track; k++)
		if (f->track[k] >= h)
			return k;
	return f->n_track - 1;
}

/* Error offsets (lo, hi) for horizon h at level, or false when too few errors. */
static bool slot_offsets(const struct forecaster *f, const struct forecast_slot *s, uint32_t h,
			 uint32_t l, double *ret_lo, double *ret_hi)
{
	uint32_t k1 = track_index(f, h);
	uint32_t k0 = k1 > 0 ? k1 - 1 : k1;
	double lo1, hi1, lo0, hi0, w;

	if (s->err_n[k1] < FORECAST_CALIB_MIN)
		return false;
	lo1 = slot_quantile(s, k1, s->aci[k1][l] / 2);
	hi1 = slot_quantile(s, k1, 1 - s->aci[k1][l] / 2);
	if (f->track[k1] == h || k0 == k1 || s->err_n[k0] < FORECAST_CALIB_MIN) {
		*ret_lo = lo1;
		*ret_hi = hi1;
		return true;
	}
	/* Between two tracked horizons: interpolate the quantiles linearly. */
	lo0 = slot_quantile(s, k0, s->aci[k0][l] / 2);
	hi0 = slot_quantile(s, k0, 1 - s->aci[k0][l] / 2);
	w = (double)(h - f->track[k0]) / (double)(f->track[k1] - f->track[k0]);
	*ret_lo = lo0 + w * (lo1 - lo0);
	*ret_hi = hi0 + w * (hi1 - hi0);
	return true;
}

/* Scale of one-step changes of the history, the last resort for an interval. */
static double history_step_scale(const struct forecaster *f)
{
	double s = 0, prev = NAN;
	uint32_t n = 0;

	for (uint32_t i = 0; i < f->hist_len; i++) {
		uint32_t at =
			(f->hist_pos + f->cfg.history_max - f->hist_len + i) % f->cfg.history_max;
		double v = f->hist[at];

		if (!isfinite(v))
			continue;
		if (isfinite(prev)) {
			s += fabs(v - prev);
			n++;
		}
		prev = v;
	}
	return n ? 1.2533 * s / n : 0; /* mean absolute change -> sd for a normal */
}

static void point_fill(const struct forecaster *f, const struct forecast_slot *s, uint32_t h,
		       double mean, double sd, struct forecast_point *ret)
{
	/* A model that lost its footing forecasts the last value, never NAN. */
	if (!isfinite(mean))
		mean = isfinite(f->vol_last) ? f->vol_last : 0;
	ret->mean = clip(f, mean);
	ret->n_levels = f->cfg.n_levels;
	for (uint32_t l = 0; l < f->cfg.n_levels && l < FORECAST_MAX_LEVELS; l++) {
		double level = f->cfg.levels[l], lo, hi;

		if (slot_offsets(f, s, h, l, &lo, &hi)) {
			lo *= forecaster_scale(f);
			hi *= forecaster_scale(f);
		} else {
			double z = normal_quantile((1 + level) / 2);

			if (!(isfinite(sd) && sd > 0))
				sd = history_step_scale(f) * sqrt((double)h);
			lo = -z * sd;
			hi = z * sd;
		}
		ret->iv[l].level = level;
		ret->iv[l].lo = clip(f, fmin(ret->mean, mean + lo));
		ret->iv[l].hi = clip(f, fmax(ret->mean, mean + hi));
	}
}

/* ---- the per-observation step ---- */

/* Means of every slot for horizons 1..h into out (slot-major); sd likewise if given. */
static void slots_predict(const struct forecaster *f, uint32_t h, double *out, double *sd_out)
{
	for (uint32_t i = 0; i < f->n_slots; i++) {
		const struct forecast_slot *s = &f->slots[i];

		if (s->ops)
			s->ops->predict(s->state, h, out + (size_t)i * h,
					sd_out ? sd_out + (size_t)i * h : NULL);
	}
	for (uint32_t i = 0; i < f->n_slots; i++) {
		const struct forecast_slot *s = &f->slots[i];
		uint32_t nm = 0;

		if (s->ops)
			continue;
		for (uint32_t j = 0; j < h; j++) {
			out[(size_t)i * h + j] = 0;
			if (sd_out)
				sd_out[(size_t)i * h + j] = NAN;
		}
		for (size_t e = 0; e < sizeof(ensemble_members) / sizeof(ensemble_members[0]);
		     e++) {
			int m = slot_find(f, ensemble_members[e]);

			if (m < 0)
				continue;
			/* Without a season Holt-Winters is Holt again: do not count it twice. */
			if (ensemble_members[e] == FORECAST_HW_ADD && !f->season_steps)
				continue;
			for (uint32_t j = 0; j < h; j++)
				out[(size_t)i * h + j] += clip(f, out[(size_t)m * h + j]);
			nm++;
		}
		for (uint32_t j = 0; j < h; j++)
			out[(size_t)i * h + j] = nm ? out[(size_t)i * h + j] / nm
						    : (i ? out[j] : 0); /* no member: first slot */
	}
}

/* Records AUTO's forecasts (the chosen slots' latest) for scoring. */
static void forecaster_out_pend(struct forecaster *f)
{
	if (!f->has_out)
		return;
	for (uint32_t k = 0; k < f->n_track; k++) {
		uint32_t at = f->pend_off[k] + f->tick % f->track[k];

		f->out.pend[at] = f->slots[f->chosen[k] < f->n_slots ? f->chosen[k] : 0].pend[at];
	}
}

static void forecaster_choose(struct forecaster *f)
{
	for (uint32_t k = 0; k < f->n_track; k++) {
		uint32_t cur = f->chosen[k] < f->n_slots ? f->chosen[k] : 0;
		const struct forecast_slot *c = &f->slots[cur];
		double cur_mae = c->mae_den[k] > 0 ? c->mae_num[k] / c->mae_den[k] : HUGE_VAL;
		double best_mae = cur_mae;
		uint32_t best = cur;

		for (uint32_t i = 0; i < f->n_slots; i++) {
			const struct forecast_slot *s = &f->slots[i];
			double mae;

			if (s->n_scored[k] < FORECAST_CALIB_MIN || !(s->mae_den[k] > 0))
				continue;
			mae = s->mae_num[k] / s->mae_den[k];
			/* A small margin keeps the choice from flapping between equals. */
			if (mae < best_mae * 0.99 || (best == cur && cur_mae == HUGE_VAL)) {
				best_mae = mae;
				best = i;
			}
		}
		f->chosen[k] = best;
	}
}

static uint32_t forecaster_slot_for(const struct forecaster *f, uint32_t h)
{
	if (f->cfg.model == FORECAST_AUTO) {
		uint32_t c = f->chosen[track_index(f, h)];

		return c < f->n_slots ? c : 0;
	}
	int i = slot_find(f, f->cfg.model);

	return i >= 0 ? (uint32_t)i : 0;
}

/* The errors that calibrate slot si's forecast at horizon h when it is the output. */
static const struct forecast_slot *forecaster_calib(const struct forecaster *f, uint32_t si,
						    uint32_t h)
{
	if (f->has_out && f->cfg.model == FORECAST_AUTO &&
	    f->out.err_n[track_index(f, h)] >= FORECAST_CALIB_MIN)
		return &f->out;
	return &f->slots[si];
}

/* Stores the h = 1 interval of the forecaster's output to score it at the next actual. */
static void forecaster_remember_h1(struct forecaster *f)
{
	uint32_t si = forecaster_slot_for(f, 1);
	double sd = NAN, *mean = f->scratch + (size_t)si * f->cfg.horizon_steps;
	struct forecast_point p;

	if (f->slots[si].ops)
		f->slots[si].ops->predict(f->slots[si].state, 1, &(double){ 0 }, &sd);
	point_fill(f, forecaster_calib(f, si, 1), 1, mean[0], sd, &p);
	for (uint32_t l = 0; l < p.n_levels; l++) {
		f->prev_lo[l] = p.iv[l].lo;
		f->prev_hi[l] = p.iv[l].hi;
	}
	f->prev_valid = true;
}

/* The choice weighs about the last day of errors. */
#define FORECAST_MAE_LAMBDA (1.0 / 288)

/* Scores the pending forecasts of s against the actual y (normalised errors). */
static void forecaster_score(struct forecaster *f, struct forecast_slot *s, double y)
{
	for (uint32_t k = 0; k < f->n_track; k++) {
		uint32_t at = f->pend_off[k] + f->tick % f->track[k];
		double fk = s->pend[at], sc = f->pend_scale[at];

		if (isfinite(fk) && sc > 0) {
			double e = (y - fk) / sc;

			slot_aci_step(f, s, k, e);
			slot_push_error(s, k, e);
			if (f->calib_only)
				continue;
			if (s->n_scored[k] < UINT32_MAX)
				s->n_scored[k]++;
			s->mae_num[k] = s->mae_num[k] * (1 - FORECAST_MAE_LAMBDA) + fabs(y - fk);
			s->mae_den[k] = s->mae_den[k] * (1 - FORECAST_MAE_LAMBDA) + 1;
		}
	}
}

/* Forecasts of every slot from now, kept to be scored when their actuals arrive. */
static void forecaster_store_pend(struct forecaster *f)
{
	uint32_t H = f->cfg.horizon_steps;

	slots_predict(f, H, f->scratch, NULL);
	for (uint32_t k = 0; k < f->n_track; k++)
		f->pend_scale[f->pend_off[k] + f->tick % f->track[k]] = (float)forecaster_scale(f);
	for (uint32_t i = 0; i < f->n_slots; i++) {
		struct forecast_slot *s = &f->slots[i];
		const double *m = f->scratch + (size_t)i * H;

		for (uint32_t k = 0; k < f->n_track; k++)
			s->pend[f->pend_off[k] + f->tick % f->track[k]] =
				(float)clip(f, m[f->track[k] - 1]);
	}
}

/*
 * One observation through every slot: score the forecasts that were made for
 * it, advance the states (a gap by each model's own forecast), forecast again.
 */
static void forecaster_observe(struct forecaster *f, double y)
{
	bool gap = !isfinite(y);

	f->tick++;
	if (!gap && f->prev_valid) {
		f->cov_n++;
		for (uint32_t l = 0; l < f->cfg.n_levels; l++)
			f->cov_hit[l] += y >= f->prev_lo[l] && y <= f->prev_hi[l];
	}
	for (uint32_t i = 0; i < f->n_slots; i++) {
		struct forecast_slot *s = &f->slots[i];

		if (gap)
			continue;
		/* Coverage at horizon 1 with the calibration as it stood. */
		double f1 = s->pend[f->pend_off[0] + f->tick % f->track[0]];

		if (isfinite(f1)) {
			struct forecast_point p;

			point_fill(f, s, 1, f1, NAN, &p);
			s->cov_n++;
			for (uint32_t l = 0; l < p.n_levels; l++)
				s->cov_hit[l] += y >= p.iv[l].lo && y <= p.iv[l].hi;
		}
		forecaster_score(f, s, y);
	}
	if (f->has_out && !gap)
		forecaster_score(f, &f->out, y);
	forecaster_vol_step(f, y);

	for (uint32_t i = 0; i < f->n_slots; i++) {
		struct forecast_slot *s = &f->slots[i];

		if (!s->ops)
			continue;
		if (gap) {
			double m1;

			s->ops->predict(s->state, 1, &m1, NULL);
			s->ops->update(s->state, isfinite(m1) ? m1 : 0);
		} else {
			s->ops->update(s->state, y);
		}
	}

	forecaster_store_pend(f);
	forecaster_choose(f);
	forecaster_out_pend(f);
	forecaster_remember_h1(f);
}

static void history_push(struct forecaster *f, double y)
{
	f->hist[f->hist_pos] = y;
	f->hist_pos = (f->hist_pos + 1) % f->cfg.history_max;
	if (f->hist_len < f->cfg.history_max)
		f->hist_len++;
}

/* Copies the history, oldest first, with gaps carried forward; -ENODATA if all gaps. */
static int fill_gaps(const double *y, size_t n, double *out)
{
	double last = NAN;
	size_t first = n;

	for (size_t i = 0; i < n; i++)
		if (isfinite(y[i])) {
			first = i;
			break;
		}
	if (first == n)
		return -ENODATA;
	last = y[first];
	for (size_t i = 0; i < n; i++) {
		if (isfinite(y[i]))
			last = y[i];
		out[i] = last;
	}
	return 0;
}

static int slots_fit(struct forecaster *f, const double *y, size_t n)
{
	for (uint32_t i = 0; i < f->n_slots; i++) {
		struct forecast_slot *s = &f->slots[i];
		int r;

		if (!s->ops)
			continue;
		r = s->ops->fit(s->state, &f->cfg, f->season_steps, y, n);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Out-of-sample errors: fit on the older part, replay the rest (at most one window). */
#define FORECAST_BACKTEST_MIN 48

int forecast_fit(struct forecaster *f, const double *y, size_t n)
{
	_cleanup_free_ double *filled = NULL;
	size_t keep, bt = 0;
	int r;

	if (!f || !y || n == 0)
		return -EINVAL;
	keep = n < f->cfg.history_max ? n : f->cfg.history_max;
	y += n - keep;
	filled = malloc(keep * sizeof(double));
	if (!filled)
		return -ENOMEM;
	r = fill_gaps(y, keep, filled);
	if (r < 0)
		return -EINVAL;

	f->season_steps = f->cfg.season_steps
				  ? f->cfg.season_steps
				  : forecast_season_detect(filled, keep, f->cfg.step_sec);

	for (uint32_t i = 0; i < f->n_slots; i++)
		slot_reset_calibration(f, &f->slots[i]);
	if (f->has_out)
		slot_reset_calibration(f, &f->out);
	memset(f->cov_hit, 0, sizeof(f->cov_hit));
	f->cov_n = 0;
	f->prev_valid = false;
	f->tick = 0;

	if (keep >= 3 * FORECAST_BACKTEST_MIN) {
		bt = keep / 2;
		if (bt > FORECAST_CALIB_WINDOW)
			bt = FORECAST_CALIB_WINDOW;
	}
	if (bt) {
		r = slots_fit(f, filled, keep - bt);
		if (r < 0)
			return r;
		/* Forecasts from the end of the prefix start the scoring. */
		forecaster_vol_init(f, filled, keep - bt);
		forecaster_store_pend(f);
		forecaster_out_pend(f);
		for (size_t i = keep - bt; i < keep; i++) {
			/* The choice looks at the last day only, as it does live. */
			f->calib_only = keep - i > FORECAST_CHOICE_REPLAY;
			forecaster_observe(f, filled[i]);
		}
		f->calib_only = false;
	}
	r = slots_fit(f, filled, keep);
	if (r < 0)
		return r;
	/* The latest pending forecasts now come from the final fit. */
	if (!bt)
		forecaster_vol_init(f, filled, keep);
	forecaster_store_pend(f);
	forecaster_choose(f);
	forecaster_out_pend(f);
	forecaster_remember_h1(f);

	f->hist_len = 0;
	f->hist_pos = 0;
	for (size_t i = 0; i < keep; i++)
		history_push(f, y[i]);
	f->n_observed += n;
	f->since_refit = 0;
	return 0;
}

static int forecaster_refit(struct forecaster *f)
{
	_cleanup_free_ double *raw = NULL, *filled = NULL;
	uint32_t n = f->hist_len;

	raw = malloc(n * sizeof(double));
	filled = malloc(n * sizeof(double));
	if (!raw || !filled)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		raw[i] = f->hist[(f->hist_pos + f->cfg.history_max - n + i) % f->cfg.history_max];
	if (fill_gaps(raw, n, filled) < 0)
		return 0;
	if (!f->cfg.season_steps)
		f->season_steps = forecast_season_detect(filled, n, f->cfg.step_sec);
	return slots_fit(f, filled, n);
}

int forecast_update(struct forecaster *f, double y)
{
	if (!f)
		return -EINVAL;
	if (isinf(y))
		y = NAN;
	if (f->n_observed == 0) {
		/* The first observation is a fit on one point. */
		if (isnan(y))
			return 0;
		return forecast_fit(f, &y, 1);
	}
	forecaster_observe(f, y);
	history_push(f, y);
	f->n_observed++;
	f->since_refit++;
	if (f->cfg.refit_every && f->since_refit >= f->cfg.refit_every) {
		f->since_refit = 0;
		return forecaster_refit(f);
	}
	return 0;
}

static int predict_slot(const struct forecaster *f, int si_fixed, uint32_t horizon,
			struct forecast_point *ret)
{
	_cleanup_free_ double *buf = NULL;
	uint32_t n;

	if (!f || !ret || horizon == 0 || horizon > f->cfg.horizon_steps)
		return -EINVAL;
	n = f->n_slots;
	if (f->n_observed == 0)
		return -EAGAIN;
	buf = malloc((size_t)n * horizon * 2 * sizeof(double));
	if (!buf)
		return -ENOMEM;
	slots_predict(f, horizon, buf, buf + (size_t)n * horizon);
	for (uint32_t h = 1; h <= horizon; h++) {
		uint32_t si = si_fixed >= 0 ? (uint32_t)si_fixed : forecaster_slot_for(f, h);
		size_t at = (size_t)si * horizon + h - 1;

		const struct forecast_slot *cs =
			si_fixed >= 0 ? &f->slots[si] : forecaster_calib(f, si, h);

		point_fill(f, cs, h, buf[at], buf[(size_t)n * horizon + at], &ret[h - 1]);
	}
	return 0;
}

int forecast_predict(const struct forecaster *f, uint32_t horizon, struct forecast_point *ret)
{
	return predict_slot(f, -1, horizon, ret);
}

int forecast_predict_model(const struct forecaster *f, enum forecast_model m, uint32_t horizon,
			   struct forecast_point *ret)
{
	int si;

	if (!f)
		return -EINVAL;
	if (m == FORECAST_AUTO)
		return forecast_predict(f, horizon, ret);
	si = slot_find(f, m);
	if (si < 0)
		return -ENOENT;
	return predict_slot(f, si, horizon, ret);
}

enum forecast_model forecast_model_chosen(const struct forecaster *f, uint32_t horizon)
{
	if (horizon == 0)
		horizon = 1;
	if (horizon > f->cfg.horizon_steps)
		horizon = f->cfg.horizon_steps;
	return f->slots[forecaster_slot_for(f, horizon)].id;
}

enum forecast_model forecast_model_current(const struct forecaster *f)
{
	return forecast_model_chosen(f, 1);
}

uint64_t forecast_n_observed(const struct forecaster *f)
{
	return f->n_observed;
}

uint32_t forecast_season_steps(const struct forecaster *f)
{
	return f->season_steps;
}

static double coverage_of(const struct forecaster *f, const uint64_t *hit, uint64_t n, double level)
{
	if (!n)
		return NAN;
	for (uint32_t l = 0; l < f->cfg.n_levels; l++)
		if (fabs(f->cfg.levels[l] - level) < 1e-9)
			return (double)hit[l] / (double)n;
	return NAN;
}

double forecast_coverage(const struct forecaster *f, double level)
{
	return coverage_of(f, f->cov_hit, f->cov_n, level);
}

double forecast_coverage_model(const struct forecaster *f, enum forecast_model m, double level)
{
	int si;

	if (m == FORECAST_AUTO)
		return forecast_coverage(f, level);
	si = slot_find(f, m);
	if (si < 0)
		return NAN;
	return coverage_of(f, f->slots[si].cov_hit, f->slots[si].cov_n, level);
}

size_t forecast_state_bytes(const struct forecaster *f)
{
	size_t b = sizeof(*f) + (size_t)f->cfg.history_max * sizeof(double) +
		   (size_t)f->n_slots * f->cfg.horizon_steps * 2 * sizeof(double);

	for (uint32_t i = 0; i < f->n_slots + f->has_out; i++) {
		const struct forecast_slot *s = i < f->n_slots ? &f->slots[i] : &f->out;

		b += s->ops ? s->ops->state_size : 0;
		b += (size_t)f->pend_total * sizeof(float);
		b += (size_t)f->n_track * s->window * 2 * sizeof(float);
	}
	return b;
}

/* ---- checkpoint ---- */

/*
 * Layout (host byte order, checked by a marker): magic, version, byte-order
 * marker, body length, body, FNV-1a 64 of everything before it. The body
 * holds the configuration, the history, and per slot the model id, the size
 * and bytes of its state and its calibration rings; derived data (sorted
 * errors, sums, scratch) is rebuilt on restore.
 */
#define CKPT_MAGIC   "PRSCFCST"
#define CKPT_VERSION 1u
#define CKPT_BOM     0x01020304u

struct ckpt_buf {
	uint8_t *p;
	size_t len, cap;
	bool fail;
};

static void ck_put(struct ckpt_buf *b, const void *data, size_t n)
{
	if (b->fail)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *p;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->fail = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

#define CK_PUT(b, v) ck_put((b), &(v), sizeof(v))

struct ckpt_reader {
	const uint8_t *p;
	size_t len, off;
	bool fail;
};

static void ck_get(struct ckpt_reader *r, void *out, size_t n)
{
	if (r->fail || n > r->len - r->off) {
		r->fail = true;
		memset(out, 0, n);
		return;
	}
	memcpy(out, r->p + r->off, n);
	r->off += n;
}

#define CK_GET(r, v) ck_get((r), &(v), sizeof(v))

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void ck_put_config(struct ckpt_buf *b, const struct forecast_config *c)
{
	uint32_t model = (uint32_t)c->model;

	CK_PUT(b, model);
	CK_PUT(b, c->step_sec);
	CK_PUT(b, c->season_steps);
	CK_PUT(b, c->horizon_steps);
	CK_PUT(b, c->history_max);
	CK_PUT(b, c->refit_every);
	CK_PUT(b, c->n_levels);
	for (uint32_t i = 0; i < FORECAST_MAX_LEVELS; i++)
		CK_PUT(b, c->levels[i]);
	CK_PUT(b, c->lower_bound);
	CK_PUT(b, c->upper_bound);
	CK_PUT(b, c->auto_models);
	uint8_t cc = c->calibrate_candidates;

	CK_PUT(b, cc);
}

static void ck_get_config(struct ckpt_reader *r, struct forecast_config *c)
{
	uint32_t model;

	memset(c, 0, sizeof(*c));
	CK_GET(r, model);
	c->model = model < FORECAST_NR_MODELS ? (enum forecast_model)model : FORECAST_NR_MODELS;
	CK_GET(r, c->step_sec);
	CK_GET(r, c->season_steps);
	CK_GET(r, c->horizon_steps);
	CK_GET(r, c->history_max);
	CK_GET(r, c->refit_every);
	CK_GET(r, c->n_levels);
	for (uint32_t i = 0; i < FORECAST_MAX_LEVELS; i++)
		CK_GET(r, c->levels[i]);
	CK_GET(r, c->lower_bound);
	CK_GET(r, c->upper_bound);
	CK_GET(r, c->auto_models);
	uint8_t cc;

	CK_GET(r, cc);
	c->calibrate_candidates = cc == 1;
	if (cc > 1)
		r->fail = true;
}

static void ck_put_slot(struct ckpt_buf *b, const struct forecaster *f,
			const struct forecast_slot *s)
{
	uint32_t id = (uint32_t)s->id;
	uint64_t size = s->ops ? s->ops->state_size : 0;

	CK_PUT(b, id);
	CK_PUT(b, size);
	if (size)
		ck_put(b, s->state, size);
	ck_put(b, s->pend, (size_t)f->pend_total * sizeof(float));
	ck_put(b, &s->window, sizeof(s->window));
	ck_put(b, s->n_scored, sizeof(s->n_scored));
	if (s->window)
		ck_put(b, s->err, (size_t)f->n_track * s->window * sizeof(float));
	ck_put(b, s->err_n, sizeof(s->err_n));
	ck_put(b, s->err_pos, sizeof(s->err_pos));
	ck_put(b, s->aci, sizeof(s->aci));
	ck_put(b, s->mae_num, sizeof(s->mae_num));
	ck_put(b, s->mae_den, sizeof(s->mae_den));
	ck_put(b, s->cov_hit, sizeof(s->cov_hit));
	CK_PUT(b, s->cov_n);
}

static int ck_get_slot(struct ckpt_reader *r, const struct forecaster *f, struct forecast_slot *s)
{
	uint32_t id;
	uint64_t size;

	CK_GET(r, id);
	CK_GET(r, size);
	if (r->fail || id != (uint32_t)s->id || size != (uint64_t)(s->ops ? s->ops->state_size : 0))
		return -EBADMSG;
	if (size)
		ck_get(r, s->state, size);
	ck_get(r, s->pend, (size_t)f->pend_total * sizeof(float));
	uint32_t window;

	ck_get(r, &window, sizeof(window));
	ck_get(r, s->n_scored, sizeof(s->n_scored));
	if (r->fail || window != s->window)
		return -EBADMSG;
	if (s->window)
		ck_get(r, s->err, (size_t)f->n_track * s->window * sizeof(float));
	ck_get(r, s->err_n, sizeof(s->err_n));
	ck_get(r, s->err_pos, sizeof(s->err_pos));
	ck_get(r, s->aci, sizeof(s->aci));
	ck_get(r, s->mae_num, sizeof(s->mae_num));
	ck_get(r, s->mae_den, sizeof(s->mae_den));
	ck_get(r, s->cov_hit, sizeof(s->cov_hit));
	CK_GET(r, s->cov_n);
	if (r->fail)
		return -EBADMSG;
	for (uint32_t k = 0; k < FORECAST_TRACK_MAX; k++)
		for (uint32_t l = 0; l < FORECAST_MAX_LEVELS; l++)
			if (!(s->aci[k][l] > 0 && s->aci[k][l] < 1))
				return -EBADMSG;
	for (uint32_t k = 0; k < FORECAST_TRACK_MAX; k++)
		if (!(s->mae_num[k] >= 0 && s->mae_den[k] >= 0) || !isfinite(s->mae_num[k]) ||
		    !isfinite(s->mae_den[k]))
			return -EBADMSG;
	for (uint32_t k = 0; k < FORECAST_TRACK_MAX; k++) {
		if (s->err_n[k] > s->window || (s->window && s->err_pos[k] >= s->window) ||
		    (!s->window && s->err_pos[k]) || (k >= f->n_track && s->err_n[k]))
			return -EBADMSG;
		/* A ring not yet full was filled from its start. */
		if (s->err_n[k] < s->window && s->err_pos[k] != s->err_n[k])
			return -EBADMSG;
	}
	for (size_t j = 0; j < (size_t)f->n_track * s->window; j++)
		if (!isfinite(s->err[j]))
			return -EBADMSG;
	for (uint32_t l = 0; l < FORECAST_MAX_LEVELS; l++)
		if (s->cov_hit[l] > s->cov_n)
			return -EBADMSG;
	slot_rebuild(s, f->n_track);
	return 0;
}

int forecast_checkpoint(const struct forecaster *f, void **ret_buf, size_t *ret_len)
{
	struct ckpt_buf b = {};
	uint32_t version = CKPT_VERSION, bom = CKPT_BOM, body_len = 0,
		 window = FORECAST_CALIB_WINDOW;
	uint8_t prev_valid;
	uint64_t sum;

	if (!f || !ret_buf || !ret_len)
		return -EINVAL;
	ck_put(&b, CKPT_MAGIC, 8);
	CK_PUT(&b, version);
	CK_PUT(&b, bom);
	CK_PUT(&b, body_len); /* patched below */

	ck_put_config(&b, &f->cfg);
	CK_PUT(&b, f->season_steps);
	CK_PUT(&b, f->n_observed);
	CK_PUT(&b, f->since_refit);
	CK_PUT(&b, f->tick);
	CK_PUT(&b, f->hist_len);
	CK_PUT(&b, f->hist_pos);
	CK_PUT(&b, f->vol);
	CK_PUT(&b, f->vol_long);
	CK_PUT(&b, f->vol_last);
	ck_put(&b, f->pend_scale, (size_t)f->pend_total * sizeof(float));
	ck_put(&b, f->hist, (size_t)f->cfg.history_max * sizeof(double));
	CK_PUT(&b, window);
	CK_PUT(&b, f->n_slots);
	for (uint32_t i = 0; i < f->n_slots; i++)
		ck_put_slot(&b, f, &f->slots[i]);
	if (f->has_out)
		ck_put_slot(&b, f, &f->out);
	ck_put(&b, f->chosen, sizeof(f->chosen));
	ck_put(&b, f->cov_hit, sizeof(f->cov_hit));
	CK_PUT(&b, f->cov_n);
	ck_put(&b, f->prev_lo, sizeof(f->prev_lo));
	ck_put(&b, f->prev_hi, sizeof(f->prev_hi));
	prev_valid = f->prev_valid;
	CK_PUT(&b, prev_valid);
	if (b.fail) {
		free(b.p);
		return -ENOMEM;
	}
	if (b.len - 20 > UINT32_MAX) {
		free(b.p);
		return -E2BIG;
	}
	body_len = (uint32_t)(b.len - 20);
	memcpy(b.p + 16, &body_len, sizeof(body_len));
	sum = fnv1a64(b.p, b.len);
	CK_PUT(&b, sum);
	if (b.fail) {
		free(b.p);
		return -ENOMEM;
	}
	*ret_buf = b.p;
	*ret_len = b.len;
	return 0;
}

int forecast_restore(const void *buf, size_t len, struct forecaster **ret)
{
	_cleanup_(forecast_freep) struct forecaster *f = NULL;
	struct ckpt_reader r = { .p = buf, .len = len };
	struct forecast_config cfg;
	char magic[8];
	uint32_t version, bom, body_len, window, n_slots, hist_len, hist_pos, season;
	uint64_t sum, n_observed, since_refit, tick;
	uint8_t prev_valid;

	if (!ret || (!buf && len))
		return -EINVAL;
	if (len < 28)
		return -EBADMSG;
	ck_get(&r, magic, 8);
	CK_GET(&r, version);
	CK_GET(&r, bom);
	CK_GET(&r, body_len);
	if (memcmp(magic, CKPT_MAGIC, 8) || version != CKPT_VERSION || bom != CKPT_BOM)
		return -EBADMSG;
	if ((size_t)body_len + 28 != len)
		return -EBADMSG;
	memcpy(&sum, (const uint8_t *)buf + len - 8, 8);
	if (sum != fnv1a64(buf, len - 8))
		return -EBADMSG;
	r.len = len - 8;

	ck_get_config(&r, &cfg);
	if (r.fail || config_validate(&cfg) < 0)
		return -EBADMSG;
	/* A checkpoint of a family this build lacks is foreign. */
	if (forecaster_alloc(&cfg, &f) < 0)
		return -EBADMSG;

	CK_GET(&r, season);
	CK_GET(&r, n_observed);
	CK_GET(&r, since_refit);
	CK_GET(&r, tick);
	CK_GET(&r, hist_len);
	CK_GET(&r, hist_pos);
	if (r.fail || season > FORECAST_SEASON_MAX || hist_len > cfg.history_max ||
	    hist_pos >= cfg.history_max)
		return -EBADMSG;
	f->season_steps = season;
	f->n_observed = n_observed;
	f->since_refit = since_refit;
	f->tick = tick;
	f->hist_len = hist_len;
	f->hist_pos = hist_pos;
	CK_GET(&r, f->vol);
	CK_GET(&r, f->vol_long);
	CK_GET(&r, f->vol_last);
	ck_get(&r, f->pend_scale, (size_t)f->pend_total * sizeof(float));
	if (r.fail || !isfinite(f->vol) || !isfinite(f->vol_long) || f->vol < 0 ||
	    f->vol_long < 0 || isinf(f->vol_last))
		return -EBADMSG;
	ck_get(&r, f->hist, (size_t)cfg.history_max * sizeof(double));
	CK_GET(&r, window);
	CK_GET(&r, n_slots);
	if (r.fail || window != FORECAST_CALIB_WINDOW || n_slots != f->n_slots)
		return -EBADMSG;
	for (uint32_t i = 0; i < n_slots; i++)
		if (ck_get_slot(&r, f, &f->slots[i]) < 0)
			return -EBADMSG;
	if (f->has_out && ck_get_slot(&r, f, &f->out) < 0)
		return -EBADMSG;
	ck_get(&r, f->chosen, sizeof(f->chosen));
	ck_get(&r, f->cov_hit, sizeof(f->cov_hit));
	CK_GET(&r, f->cov_n);
	ck_get(&r, f->prev_lo, sizeof(f->prev_lo));
	ck_get(&r, f->prev_hi, sizeof(f->prev_hi));
	CK_GET(&r, prev_valid);
	if (r.fail || r.off != r.len)
		return -EBADMSG;
	for (uint32_t k = 0; k < FORECAST_TRACK_MAX; k++)
		if (f->chosen[k] >= f->n_slots)
			return -EBADMSG;
	for (uint32_t l = 0; l < FORECAST_MAX_LEVELS; l++)
		if (f->cov_hit[l] > f->cov_n)
			return -EBADMSG;
	f->prev_valid = prev_valid;
	*ret = TAKE_PTR(f);
	return 0;
}
