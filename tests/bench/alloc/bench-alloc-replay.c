// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Replay of the Bitbrains "Rnd" traces (shared/data/bitbrains_rnd, see its
 * README.md) through three allocation policies, side by side:
 *
 *   static     what the VM was given: the capacity columns for CPU and
 *              memory; for disk and network, which have none, the VM's peak
 *              over the training days (what an operator would provision);
 *   reactive   raise to use * (1 + headroom) once use crosses threshold *
 *              allocation, lower to the recent peak * (1 + headroom) after a
 *              quiet period below lower_ratio * allocation;
 *   prescient  alloc_decide() on a forecaster per VM and resource (AUTO
 *              model, fitted on the training days, updated online),
 *              following the upper bound of its 95 % interval, no headroom,
 *              quick give-back; the same at the 80, 90 and 99 % levels is
 *              printed too (prescient_lNN), to show the miss/slack frontier
 *              the forecasts allow, and with the parameters the daemon uses
 *              by default (prescient_daemon: alloc_params_default(), 10 %
 *              headroom, slower give-back).
 *
 * Every VM and resource (CPU, memory, disk read and write, network rx and tx)
 * is binned to 300 s with gaps carried forward. The allocation for step t is
 * decided from data up to t - 1 (a lead of one step).
 *
 * Misses (replay_miss_pct): the share of VM-steps (5 VM-minutes each) in
 * which the VM's demand exceeded its allocation on any resource, the same
 * for every policy.
 *
 * Slack: "the share of reserved-but-unused capacity". What a policy reserves
 * is what the host sets aside from its pool for the VMs, and that differs by
 * policy:
 *   static and reactive hold every VM's allocation whole (no risk model, no
 *   pooling): the reservation is the sum of the allocations;
 *   prescient runs the engine's burstable class (admit.h): each VM holds its
 *   forecast mean and joins a one-factor correlated sum (risk.h) admitted
 *   while P(sum > capacity) <= the dimension's bound (the daemon's defaults:
 *   5 % for CPU, disk and network, 1 % for memory); its allocation (cap)
 *   follows the upper bound. What the host sets aside for such a set is the
 *   (1 - bound) quantile of the sum, alloc_burst_reserve() of the holdings
 *   alloc_pass() books (alloc_item_held()), with loadings estimated by
 *   risk_loadings_estimate() on the training days (shrink 0.5, as the daemon).
 * The headline replay_slack_pct.<policy> is therefore measured at host level:
 * sum over host-steps of (reservation - served demand)+ / sum of
 * reservations, per resource, averaged over resources. Served demand is
 * min(use, allocation) per VM: use above the cap is not served, it is a VM
 * miss and counted as one. For static and reactive this is exactly the
 * per-VM figure. Pooling has a price, counted too: a pool miss
 * (replay_pool_miss_pct) is a host-step whose served demand exceeds the
 * reservation on any resource; per resource it must stay within the bound
 * (checked and printed). replay_pool_margin_pct is the share of the
 * reservation above the booked means. The per-VM figure, sum(allocation -
 * use)+ / sum(allocation), is printed as replay_slack_pct_vm.<policy>: what
 * the caps leave unused, not what the host keeps from others. The target
 * line is printed for both.
 *
 * replay_slack_pct.hindsight_quantile: each host reserving, all along, the
 * (1 - bound) quantile of its summed demand over the whole replay, known in
 * hindsight. It misses exactly the bound's share; its slack is the part of
 * the slack owed to the demand's burstiness at a constant reservation.
 *
 * Hosts: the trace names no hosts, so VMs are placed in name order (the
 * folder is a random sample) on hosts of PRESCIENT_REPLAY_HOST_VMS VMs
 * (default 16, about 46 cores and 170 GB of these VMs' allocations);
 * host sizes 4, 8 and 32 are printed as well (pooling gains grow with size).
 *
 * Train and test: VMs at even positions (in name order) are the ones
 * choices are tried on (here, the interval the booked spread is read from,
 * see alloc_item_held()), odd ones are held out; each set fills its own
 * hosts and both are printed (replay_even_* and replay_odd_*).
 *
 * Exit 77 when the data is absent. PRESCIENT_REPLAY_VMS=n limits the replay
 * to the first n VMs (quick runs); PRESCIENT_REPLAY_SUBSET=even|odd replays
 * one half only; PRESCIENT_REPLAY_TRACE=1 prints every step's allocations on
 * stderr.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "forecast.h"

#define WINDOW_START 1375315200LL /* 2013-08-01 00:00:00 UTC */
#define STEP_SEC     300
#define N_STEPS	     (8 * 288)
#define TRAIN_STEPS  (2 * 288)
#define N_EVAL	     (N_STEPS - TRAIN_STEPS)
#define HORIZON	     6
#define MAX_VMS	     512
#define HOST_VMS     16
/* The interval level prescient follows (its upper bound is the 97.5 % quantile). */
#define PRESCIENT_LEVEL 0.95
/* The daemon's: loadings shrunk halfway to their mean. */
#define LOADING_SHRINK 0.5

enum res {
	R_CPU,
	R_MEM,
	R_DISK_RD,
	R_DISK_WR,
	R_NET_RX,
	R_NET_TX,
	R_NR,
};

static const char *const res_names[R_NR] = { "cpu",	   "mem",    "disk_read",
					     "disk_write", "net_rx", "net_tx" };

/* The daemon's default risk bounds (daemon/config.c) per resource. */
static const double res_bound[R_NR] = { 0.05, 0.01, 0.05, 0.05, 0.05, 0.05 };

enum policy {
	P_STATIC,
	P_REACTIVE,
	P_PRESCIENT,   /* at the default interval level */
	P_PRES_DAEMON, /* alloc_params_default() as the daemon configures it */
	P_PRES_80,     /* the same at other levels: the miss/slack frontier */
	P_PRES_90,
	P_PRES_99,
	P_NR,
};

#define N_PRES (P_NR - P_PRESCIENT)
/*
 * Host tallies only: a constant reservation at the (1 - bound) quantile of
 * the host's summed demand over the whole replay, known in hindsight. It
 * misses exactly the bound's share of steps; its slack shows how much of
 * the slack is the demand's own burstiness, which no forecast removes.
 */
#define P_HINDSIGHT P_NR

static const char *const policy_names[P_NR] = { "static",	 "reactive",
						"prescient",	 "prescient_daemon",
						"prescient_l80", "prescient_l90",
						"prescient_l99" };
static const double policy_level[P_NR] = { [P_PRESCIENT] = PRESCIENT_LEVEL,
					   [P_PRES_DAEMON] = 0,
					   [P_PRES_80] = 0.80,
					   [P_PRES_90] = 0.90,
					   [P_PRES_99] = 0.99 };

enum subset {
	S_EVEN,
	S_ODD,
	S_NR,
};

static const char *const subset_names[S_NR] = { "even", "odd" };

/* Host sizes printed; the first is the headline's (PRESCIENT_REPLAY_HOST_VMS). */
#define N_HOST_SIZES 4
static unsigned host_sizes[N_HOST_SIZES] = { HOST_VMS, 4, 8, 32 };

struct vm_trace {
	char name[64];
	double use[R_NR][N_STEPS];
	double cap[R_NR][N_STEPS];  /* static allocation */
	double peak[R_NR][N_STEPS]; /* highest use before t */
};

/* What one VM's replay leaves for the host-level accounting. */
struct vm_rec {
	enum subset subset;
	double train[R_NR][TRAIN_STEPS];
	float use[R_NR][N_EVAL];
	float alloc[P_NR][R_NR][N_EVAL];
	float held_mean[N_PRES][R_NR][N_EVAL]; /* what alloc_pass() would book */
	float held_sd[N_PRES][R_NR][N_EVAL];
};

/* Per-VM (allocation) or per-host (reservation) sums of one policy. */
struct tally {
	uint64_t miss[R_NR];
	uint64_t miss_any;
	uint64_t steps;
	double alloc_sum[R_NR];
	double slack_sum[R_NR];
	double mean_sum[R_NR]; /* host tallies of burstable holdings: the means booked */
};

/* The reactive policy's knobs: same headroom as prescient, so only foresight differs. */
#define REACTIVE_THRESHOLD   0.9
#define REACTIVE_HEADROOM    0.10
#define REACTIVE_QUIET_STEPS 6
#define REACTIVE_LOWER_RATIO 0.5

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Parses one VM's CSV into 300 s bins (mean of the samples in a bin, gaps carried forward). */
static int load_vm(const char *path, struct vm_trace *vm)
{
	struct bins {
		double sum[10][N_STEPS];
		int cnt[N_STEPS];
	} * b;
	char line[512];
	FILE *f;
	int first = -1;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	f = fopen(path, "re");
	if (!f) {
		free(b);
		return -errno;
	}
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		free(b);
		return -EINVAL;
	}
	while (fgets(line, sizeof(line), f)) {
		double v[10];
		char *p = line, *end;
		long long bin;
		int k;

		for (k = 0; k < 10; k++) {
			v[k] = strtod(p, &end);
			if (end == p)
				break;
			p = end;
			if (*p == ',')
				p++;
		}
		if (k < 10)
			continue;
		bin = ((long long)v[0] - WINDOW_START) / STEP_SEC;
		if (bin < 0 || bin >= N_STEPS)
			continue;
		for (k = 1; k < 10; k++)
			b->sum[k][bin] += v[k];
		b->cnt[bin]++;
	}
	fclose(f);
	for (int t = 0; t < N_STEPS; t++)
		if (b->cnt[t]) {
			first = t;
			break;
		}
	if (first < 0) {
		free(b);
		return -ENODATA;
	}
	for (int t = 0; t < N_STEPS; t++) {
		int s = b->cnt[t] ? t : -1;
		double n;

		if (s < 0) {
			/* Carry forward; before the first sample, carry the first one back. */
			int from = t < first ? first : t - 1;

			for (int r = 0; r < R_NR; r++) {
				vm->use[r][t] = t < first ? NAN : vm->use[r][from];
				vm->cap[r][t] = t < first ? NAN : vm->cap[r][from];
			}
			continue;
		}
		n = b->cnt[t];
		/* Columns: 1 cores, 2 cap MHz, 3 cpu %, 4 mem cap KB, 5 mem KB, 6-9 disk, net. */
		vm->cap[R_CPU][t] = b->sum[2][t] / n;
		/*
		 * A VM cannot use more than its cores: readings above 100 % (about
		 * 1 % of them, all at saturation) are counted as 100 %.
		 */
		vm->use[R_CPU][t] = fmin(b->sum[3][t] / n, 100.0) / 100.0 * vm->cap[R_CPU][t];
		vm->cap[R_MEM][t] = b->sum[4][t] / n;
		vm->use[R_MEM][t] = b->sum[5][t] / n;
		vm->use[R_DISK_RD][t] = b->sum[6][t] / n;
		vm->use[R_DISK_WR][t] = b->sum[7][t] / n;
		vm->use[R_NET_RX][t] = b->sum[8][t] / n;
		vm->use[R_NET_TX][t] = b->sum[9][t] / n;
	}
	for (int t = 0; t < first; t++)
		for (int r = 0; r < R_NR; r++) {
			vm->use[r][t] = vm->use[r][first];
			vm->cap[r][t] = vm->cap[r][first];
		}
	/* Disk and network have no capacity column: the training peak is what was given. */
	for (int r = R_DISK_RD; r < R_NR; r++) {
		double peak = 0;

		for (int t = 0; t < TRAIN_STEPS; t++)
			peak = fmax(peak, vm->use[r][t]);
		for (int t = 0; t < N_STEPS; t++)
			vm->cap[r][t] = peak;
	}
	for (int r = 0; r < R_NR; r++) {
		double peak = 0;

		for (int t = 0; t < N_STEPS; t++) {
			vm->peak[r][t] = peak;
			peak = fmax(peak, vm->use[r][t]);
		}
	}
	free(b);
	return 0;
}

/*
 * The floor and ceiling both dynamic policies respect. CPU and memory stop at
 * what the VM was given. Disk and network have no line rate in the trace: 4x
 * the highest use seen before t stands in for it, which also keeps a forecast
 * that blows up (some do, on near-zero series with rare spikes) from
 * reserving absurd bandwidth.
 */
static void limits(const struct vm_trace *vm, int r, int t, double *lo, double *hi)
{
	if (r == R_CPU || r == R_MEM) {
		*lo = 0.01 * vm->cap[r][t];
		*hi = vm->cap[r][t] > 0 ? vm->cap[r][t] : INFINITY;
	} else {
		*lo = 1; /* KB/s */
		*hi = 4 * fmax(vm->peak[r][t], *lo);
	}
	if (*hi < *lo)
		*hi = *lo;
}

static double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void account(struct tally *tl, const double alloc[R_NR], const double use[R_NR])
{
	bool any = false;

	for (int r = 0; r < R_NR; r++) {
		/* A relative tolerance: rounding in the trace is no miss. */
		if (use[r] > alloc[r] * (1 + 1e-9) + 1e-9) {
			tl->miss[r]++;
			any = true;
		}
		tl->alloc_sum[r] += alloc[r];
		tl->slack_sum[r] += fmax(alloc[r] - use[r], 0);
	}
	tl->miss_any += any;
	tl->steps++;
}

static void tally_add(struct tally *dst, const struct tally *src)
{
	for (int r = 0; r < R_NR; r++) {
		dst->miss[r] += src->miss[r];
		dst->alloc_sum[r] += src->alloc_sum[r];
		dst->slack_sum[r] += src->slack_sum[r];
		dst->mean_sum[r] += src->mean_sum[r];
	}
	dst->miss_any += src->miss_any;
	dst->steps += src->steps;
}

static double miss_pct(const struct tally *t)
{
	return t->steps ? 100.0 * (double)t->miss_any / (double)t->steps : 0;
}

static double res_miss_pct(const struct tally *t, int r)
{
	return t->steps ? 100.0 * (double)t->miss[r] / (double)t->steps : 0;
}

static double res_slack_pct(const struct tally *t, int r)
{
	return t->alloc_sum[r] > 0 ? 100.0 * t->slack_sum[r] / t->alloc_sum[r] : 0;
}

/* Mean over resources: their units differ, so each weighs the same. */
static double slack_pct(const struct tally *t)
{
	double s = 0;

	for (int r = 0; r < R_NR; r++)
		s += res_slack_pct(t, r);
	return s / R_NR;
}

/* What a policy holds, against what static holds, mean over resources. */
static double reserved_vs(const struct tally *t, const struct tally *base)
{
	double s = 0;

	for (int r = 0; r < R_NR; r++)
		s += base->alloc_sum[r] > 0 ? t->alloc_sum[r] / base->alloc_sum[r] : 0;
	return 100.0 * s / R_NR;
}

/*
 * The prescient policy's parameters for resource r, within [lo, hi]: the
 * interval is the headroom, and give-back is quick (two plans whose bound is
 * under 90 % of the allocation), since a raise takes one step.
 */
static void prescient_params(enum policy p, int r, double lo, double hi, struct alloc_params *ap)
{
	alloc_params_default(r == R_CPU	      ? POOL_KIND_CPU
			     : r == R_MEM     ? POOL_KIND_MEM
			     : r <= R_DISK_WR ? POOL_KIND_DISK
					      : POOL_KIND_NET,
			     ap);
	ap->lead_steps = 1;
	ap->min = lo;
	ap->max = hi;
	if (p == P_PRES_DAEMON) {
		/*
		 * The daemon's [alloc] defaults: 5 min of lead, 10 % headroom,
		 * the widest interval its forecasts carry (80 and 95 %).
		 */
		ap->headroom = 0.10;
		ap->level = 0.95;
		return;
	}
	ap->level = policy_level[p];
	ap->giveback_steps = 1;
	ap->headroom = 0;
	ap->lower_after = 2;
	ap->lower_ratio = 0.9;
	ap->saturation_ratio = 0;
}

static int replay_vm(const struct vm_trace *vm, struct vm_rec *rec, struct tally tl[P_NR],
		     double *ret_fc_sec)
{
	struct forecaster *fc[R_NR] = { 0 };
	double react[R_NR], pres[P_NR][R_NR], quiet_peak[R_NR];
	uint32_t quiet[R_NR] = { 0 }, streak[P_NR][R_NR] = { 0 };
	double t0, fc_sec = 0;
	int r, ret = 0;

	for (r = 0; r < R_NR; r++) {
		struct forecast_config cfg;
		double lo, hi, peak = 0;

		forecast_config_init(&cfg, STEP_SEC);
		cfg.horizon_steps = HORIZON;
		cfg.n_levels = 4;
		cfg.levels[0] = 0.80;
		cfg.levels[1] = 0.90;
		cfg.levels[2] = 0.95;
		cfg.levels[3] = 0.99;
		cfg.lower_bound = 0;
		ret = forecast_new(&cfg, &fc[r]);
		if (ret < 0)
			goto out;
		t0 = now_sec();
		ret = forecast_fit(fc[r], vm->use[r], TRAIN_STEPS);
		fc_sec += now_sec() - t0;
		if (ret < 0)
			goto out;
		memcpy(rec->train[r], vm->use[r], sizeof(rec->train[r]));

		/* Both dynamic policies start from the training peak. */
		for (int t = 0; t < TRAIN_STEPS; t++)
			peak = fmax(peak, vm->use[r][t]);
		limits(vm, r, TRAIN_STEPS, &lo, &hi);
		react[r] = clampd(peak * (1 + REACTIVE_HEADROOM), lo, hi);
		for (int p = P_PRESCIENT; p < P_NR; p++)
			pres[p][r] = react[r];
		quiet_peak[r] = 0;
	}

	for (int t = TRAIN_STEPS; t < N_STEPS; t++) {
		double stat[R_NR], use[R_NR];
		int e = t - TRAIN_STEPS;

		for (r = 0; r < R_NR; r++) {
			struct forecast_point pts[HORIZON];
			double prev = vm->use[r][t - 1], lo, hi;

			limits(vm, r, t, &lo, &hi);
			use[r] = vm->use[r][t];
			stat[r] = vm->cap[r][t];

			/* reactive: from what was seen at t - 1 only. */
			if (t > TRAIN_STEPS) {
				if (prev > REACTIVE_THRESHOLD * react[r]) {
					react[r] = prev * (1 + REACTIVE_HEADROOM);
					quiet[r] = 0;
					quiet_peak[r] = 0;
				} else if (prev < REACTIVE_LOWER_RATIO * react[r]) {
					quiet_peak[r] = fmax(quiet_peak[r], prev);
					if (++quiet[r] >= REACTIVE_QUIET_STEPS) {
						react[r] = quiet_peak[r] * (1 + REACTIVE_HEADROOM);
						quiet[r] = 0;
						quiet_peak[r] = 0;
					}
				} else {
					quiet[r] = 0;
					quiet_peak[r] = 0;
				}
				react[r] = clampd(react[r], lo, hi);
			}

			/* prescient: the forecast made after t - 1 was observed. */
			t0 = now_sec();
			ret = forecast_predict(fc[r], HORIZON, pts);
			fc_sec += now_sec() - t0;
			if (ret < 0)
				goto out;
			for (int p = P_PRESCIENT; p < P_NR; p++) {
				struct alloc_params ap;
				struct alloc_decision d;
				struct alloc_input in = { pres[p][r], prev, pts, HORIZON,
							  streak[p][r] };
				struct risk_dist held;

				prescient_params((enum policy)p, r, lo, hi, &ap);
				ret = alloc_decide(&ap, &in, &d);
				if (ret < 0)
					goto out;
				if (isfinite(d.target))
					pres[p][r] = d.target;
				pres[p][r] = clampd(pres[p][r], lo, hi);
				streak[p][r] = d.low_streak;
				/* What alloc_pass() would book for it (loading set per host). */
				ret = alloc_item_held(&ap, pts, HORIZON, pres[p][r], 0,
						      res_bound[r], &held);
				if (ret < 0)
					goto out;
				rec->held_mean[p - P_PRESCIENT][r][e] = (float)held.mean;
				rec->held_sd[p - P_PRESCIENT][r][e] = (float)held.sd;
			}
			rec->use[r][e] = (float)use[r];
			rec->alloc[P_STATIC][r][e] = (float)stat[r];
			rec->alloc[P_REACTIVE][r][e] = (float)react[r];
			for (int p = P_PRESCIENT; p < P_NR; p++)
				rec->alloc[p][r][e] = (float)pres[p][r];
		}
		if (getenv("PRESCIENT_REPLAY_TRACE"))
			for (r = 0; r < R_NR; r++)
				fprintf(stderr,
					"trace %s %d %s use %.6g static %.6g reactive %.6g "
					"prescient %.6g\n",
					vm->name, t, res_names[r], use[r], stat[r], react[r],
					pres[P_PRESCIENT][r]);
		account(&tl[P_STATIC], stat, use);
		account(&tl[P_REACTIVE], react, use);
		for (int p = P_PRESCIENT; p < P_NR; p++)
			account(&tl[p], pres[p], use);

		t0 = now_sec();
		for (r = 0; r < R_NR; r++) {
			ret = forecast_update(fc[r], vm->use[r][t]);
			if (ret < 0)
				goto out;
		}
		fc_sec += now_sec() - t0;
	}
out:
	for (r = 0; r < R_NR; r++)
		forecast_free(fc[r]);
	*ret_fc_sec += fc_sec;
	return ret;
}

/*
 * One host holding n VMs: at every step and on every resource, what each
 * policy reserves against the VMs' summed demand. static and reactive
 * reserve the allocations whole; prescient's burstable holdings reserve the
 * quantile of their correlated sum at the resource's risk bound.
 */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int host_account(struct vm_rec *const *recs, size_t n, struct tally tl[P_NR + 1])
{
	static double sums[R_NR][N_EVAL], sorted[N_EVAL];
	double hind[R_NR];
	double *loading[R_NR] = { 0 };
	const double **series;
	int ret = 0;

	series = calloc(n, sizeof(*series));
	if (!series)
		return -ENOMEM;
	for (int r = 0; r < R_NR; r++) {
		loading[r] = calloc(n, sizeof(double));
		if (!loading[r]) {
			ret = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			series[i] = recs[i]->train[r];
		ret = risk_loadings_estimate(series, n, TRAIN_STEPS, LOADING_SHRINK, loading[r]);
		if (ret < 0)
			goto out;
		for (int e = 0; e < N_EVAL; e++) {
			sums[r][e] = 0;
			for (size_t i = 0; i < n; i++)
				sums[r][e] += recs[i]->use[r][e];
		}
		memcpy(sorted, sums[r], sizeof(sorted));
		qsort(sorted, N_EVAL, sizeof(sorted[0]), cmp_double);
		hind[r] = sorted[(int)ceil((1 - res_bound[r]) * N_EVAL) - 1];
	}
	for (int e = 0; e < N_EVAL; e++) {
		double demand[R_NR];

		for (int r = 0; r < R_NR; r++)
			demand[r] = sums[r][e];
		account(&tl[P_HINDSIGHT], hind, demand);
	}
	for (int e = 0; e < N_EVAL; e++)
		for (int p = 0; p < P_NR; p++) {
			double reserve[R_NR], demand[R_NR];

			for (int r = 0; r < R_NR; r++) {
				struct risk_acc acc = { 0 };
				double sum_alloc = 0;

				demand[r] = 0;
				for (size_t i = 0; i < n; i++) {
					/* What the host serves: use above the cap is a VM miss. */
					demand[r] +=
						fminf(recs[i]->use[r][e], recs[i]->alloc[p][r][e]);
					sum_alloc += recs[i]->alloc[p][r][e];
					if (p >= P_PRESCIENT) {
						struct risk_dist d = {
							.mean = recs[i]->held_mean[p - P_PRESCIENT]
										  [r][e],
							.sd = recs[i]->held_sd[p - P_PRESCIENT][r]
									      [e],
							.upper = recs[i]->alloc[p][r][e],
							.loading = loading[r][i],
						};

						risk_acc_add(&acc, &d);
					}
				}
				reserve[r] = p >= P_PRESCIENT
						     ? alloc_burst_reserve(&acc, res_bound[r])
						     : sum_alloc;
				tl[p].mean_sum[r] += p >= P_PRESCIENT ? acc.mean : sum_alloc;
			}
			account(&tl[p], reserve, demand);
		}
out:
	for (int r = 0; r < R_NR; r++)
		free(loading[r]);
	free(series);
	return ret;
}

/* Hosts of host_vms VMs each, filled in name order, within each subset. */
static int hosts_account(struct vm_rec *const *recs, size_t n, unsigned host_vms,
			 struct tally tl[S_NR][P_NR + 1])
{
	struct vm_rec **members;
	int ret = 0;

	members = calloc(host_vms, sizeof(*members));
	if (!members)
		return -ENOMEM;
	for (int s = 0; s < S_NR && ret >= 0; s++) {
		size_t k = 0;

		for (size_t i = 0; i <= n && ret >= 0; i++) {
			if (i < n && recs[i]->subset == (enum subset)s)
				members[k++] = recs[i];
			if (k && (k == host_vms || i == n)) {
				ret = host_account(members, k, tl[s]);
				k = 0;
			}
		}
	}
	free(members);
	return ret;
}

static void print_policy(const char *prefix, const char *p, const struct tally *vm,
			 const struct tally *host, const struct tally *host_static)
{
	printf("BENCH replay_%smiss_pct.%s %.3f %%\n", prefix, p, miss_pct(vm));
	printf("BENCH replay_%sslack_pct.%s %.3f %%\n", prefix, p, slack_pct(host));
	printf("BENCH replay_%sslack_pct_vm.%s %.3f %%\n", prefix, p, slack_pct(vm));
	printf("BENCH replay_%spool_miss_pct.%s %.3f %%\n", prefix, p, miss_pct(host));
	if (host_static)
		printf("BENCH replay_%sreserved_vs_static_pct.%s %.3f %%\n", prefix, p,
		       reserved_vs(host, host_static));
}

int main(void)
{
	const char *root = getenv("PRESCIENT_SOURCE_ROOT"), *lim = getenv("PRESCIENT_REPLAY_VMS");
	const char *only = getenv("PRESCIENT_REPLAY_SUBSET"),
		   *hv = getenv("PRESCIENT_REPLAY_HOST_VMS");
	static struct tally tl_vm[S_NR][P_NR], tl_host[N_HOST_SIZES][S_NR][P_NR + 1];
	struct tally vm_all[P_NR], host_all[N_HOST_SIZES][P_NR + 1];
	struct vm_rec **recs;
	struct vm_trace *vm;
	char dir[4096], *names[MAX_VMS];
	size_t n_names = 0, max_vms = MAX_VMS, n_vms = 0;
	double start = now_sec(), fc_sec = 0;
	struct dirent *de;
	DIR *d;

	if (!root) {
		fprintf(stderr, "SKIP: PRESCIENT_SOURCE_ROOT is not set\n");
		return 77;
	}
	snprintf(dir, sizeof(dir), "%s/../shared/data/bitbrains_rnd", root);
	d = opendir(dir);
	if (!d) {
		fprintf(stderr, "SKIP: no Bitbrains traces in %s\n", dir);
		return 77;
	}
	while ((de = readdir(d)) && n_names < MAX_VMS) {
		size_t len = strlen(de->d_name);

		if (len > 4 && strcmp(de->d_name + len - 4, ".csv") == 0)
			names[n_names++] = strdup(de->d_name);
	}
	closedir(d);
	if (n_names == 0) {
		fprintf(stderr, "SKIP: no CSV files in %s\n", dir);
		return 77;
	}
	qsort(names, n_names, sizeof(names[0]), cmp_str);
	if (lim && atoi(lim) > 0)
		max_vms = (size_t)atoi(lim);
	if (hv && atoi(hv) > 0)
		host_sizes[0] = (unsigned)atoi(hv);

	vm = malloc(sizeof(*vm));
	recs = calloc(n_names, sizeof(*recs));
	if (!vm || !recs)
		return 1;
	for (size_t i = 0; i < n_names && i < max_vms; i++) {
		enum subset s = i % 2 ? S_ODD : S_EVEN;
		struct vm_rec *rec;
		char path[8192];
		int r;

		if (only && strcmp(only, subset_names[s]) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		r = load_vm(path, vm);
		if (r < 0) {
			fprintf(stderr, "replay: %s: %s, skipped\n", names[i], strerror(-r));
			continue;
		}
		snprintf(vm->name, sizeof(vm->name), "%s", names[i]);
		rec = calloc(1, sizeof(*rec));
		if (!rec)
			return 1;
		rec->subset = s;
		r = replay_vm(vm, rec, tl_vm[s], &fc_sec);
		if (r < 0) {
			fprintf(stderr, "replay: %s: %s\n", names[i], strerror(-r));
			return 1;
		}
		recs[n_vms++] = rec;
	}
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	free(vm);
	if (n_vms == 0) {
		fprintf(stderr, "SKIP: no VM could be replayed\n");
		return 77;
	}
	for (int h = 0; h < N_HOST_SIZES; h++) {
		int r = hosts_account(recs, n_vms, host_sizes[h], tl_host[h]);

		if (r < 0) {
			fprintf(stderr, "replay: host accounting: %s\n", strerror(-r));
			return 1;
		}
	}
	memset(vm_all, 0, sizeof(vm_all));
	memset(host_all, 0, sizeof(host_all));
	for (int s = 0; s < S_NR; s++)
		for (int p = 0; p <= P_NR; p++) {
			if (p < P_NR)
				tally_add(&vm_all[p], &tl_vm[s][p]);
			for (int h = 0; h < N_HOST_SIZES; h++)
				tally_add(&host_all[h][p], &tl_host[h][s][p]);
		}

	printf("# replay: %zu VMs x %d steps of %d s after %d training steps, lead 1 step; "
	       "hosts of %u VMs\n",
	       n_vms, N_EVAL, STEP_SEC, TRAIN_STEPS, host_sizes[0]);
	printf("# slack = host reservation unused (the engine's; see the header), "
	       "slack_vm = per-VM allocation unused\n");
	for (int p = 0; p < P_NR; p++)
		print_policy("", policy_names[p], &vm_all[p], &host_all[0][p],
			     &host_all[0][P_STATIC]);
	printf("BENCH replay_slack_pct.hindsight_quantile %.3f %%\n",
	       slack_pct(&host_all[0][P_HINDSIGHT]));
	for (int r = 0; r < R_NR; r++)
		printf("BENCH replay_slack_pct.hindsight_quantile.%s %.3f %%\n", res_names[r],
		       res_slack_pct(&host_all[0][P_HINDSIGHT], r));
	for (int r = 0; r < R_NR; r++)
		for (int p = 0; p <= P_PRESCIENT; p++) {
			printf("BENCH replay_miss_pct.%s.%s %.3f %%\n", policy_names[p],
			       res_names[r], res_miss_pct(&vm_all[p], r));
			printf("BENCH replay_slack_pct.%s.%s %.3f %%\n", policy_names[p],
			       res_names[r], res_slack_pct(&host_all[0][p], r));
			printf("BENCH replay_slack_pct_vm.%s.%s %.3f %%\n", policy_names[p],
			       res_names[r], res_slack_pct(&vm_all[p], r));
			printf("BENCH replay_pool_miss_pct.%s.%s %.3f %%\n", policy_names[p],
			       res_names[r], res_miss_pct(&host_all[0][p], r));
			if (p == P_PRESCIENT)
				printf("BENCH replay_pool_margin_pct.%s.%s %.3f %%\n",
				       policy_names[p], res_names[r],
				       100 * (1 - host_all[0][p].mean_sum[r] /
							  host_all[0][p].alloc_sum[r]));
		}
	for (int h = 1; h < N_HOST_SIZES; h++)
		for (int p = 0; p <= P_PRESCIENT; p++) {
			printf("BENCH replay_slack_pct.%s.host%u %.3f %%\n", policy_names[p],
			       host_sizes[h], slack_pct(&host_all[h][p]));
			printf("BENCH replay_pool_miss_pct.%s.host%u %.3f %%\n", policy_names[p],
			       host_sizes[h], miss_pct(&host_all[h][p]));
		}
	for (int s = 0; s < S_NR; s++) {
		char prefix[16];

		if (!tl_vm[s][P_STATIC].steps)
			continue;
		snprintf(prefix, sizeof(prefix), "%s_", subset_names[s]);
		for (int p = 0; p < P_NR; p++)
			print_policy(prefix, policy_names[p], &tl_vm[s][p], &tl_host[0][s][p],
				     NULL);
	}
	{
		double miss_r = (double)vm_all[P_REACTIVE].miss_any,
		       miss_p = (double)vm_all[P_PRESCIENT].miss_any;
		double slack = slack_pct(&host_all[0][P_PRESCIENT]),
		       slack_vm = slack_pct(&vm_all[P_PRESCIENT]);
		bool calibrated = true;

		/* Each half on its own too: a bound kept only on average is not kept. */
		for (int r = 0; r < R_NR; r++) {
			calibrated &=
				res_miss_pct(&host_all[0][P_PRESCIENT], r) <= 100 * res_bound[r];
			for (int s = 0; s < S_NR; s++)
				calibrated &= res_miss_pct(&tl_host[0][s][P_PRESCIENT], r) <=
					      100 * res_bound[r];
		}
		printf("# target: prescient misses <= 0.5 x reactive's: %s (%.2f x)\n",
		       miss_p <= 0.5 * miss_r ? "met" : "not met",
		       miss_r > 0 ? miss_p / miss_r : 0);
		printf("# target: prescient slack <= 25 %% (host reservation): %s (%.1f %%)\n",
		       slack <= 25 ? "met" : "not met", slack);
		printf("# target: prescient slack <= 25 %% (per-VM allocation): %s (%.1f %%)\n",
		       slack_vm <= 25 ? "met" : "not met", slack_vm);
		printf("# check: prescient pool misses per resource within the risk bound (all, "
		       "even, odd): %s\n",
		       calibrated ? "yes" : "no");
	}
	printf("BENCH replay_seconds %.1f s\nBENCH replay_forecast_seconds %.1f s\n",
	       now_sec() - start, fc_sec);
	for (size_t i = 0; i < n_vms; i++)
		free(recs[i]);
	free(recs);
	return 0;
}
