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
 *              following the upper bound of its 95 % interval; the same at
 *              the 80, 90 and 99 % levels is printed too (prescient_lNN), to
 *              show the miss/slack frontier the forecasts allow.
 *
 * Every VM and resource (CPU, memory, disk read and write, network rx and tx)
 * is binned to 300 s with gaps carried forward. The allocation for step t is
 * decided from data up to t - 1 (a lead of one step); step t misses when its
 * demand exceeds that allocation. Printed per policy: the share of VM-steps
 * with a miss on any resource, the share of reserved-but-unused capacity
 * (mean over resources of sum(alloc - use)+ / sum(alloc)), and both per
 * resource. Exit 77 when the data is absent.
 *
 * Also printed: what each policy holds against what static holds
 * (replay_reserved_vs_static_pct), and the time spent.
 * PRESCIENT_REPLAY_VMS=n limits the replay to the first n VMs (quick runs);
 * PRESCIENT_REPLAY_TRACE=1 prints every step's allocations on stderr.
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
#define HORIZON	     6
#define MAX_VMS	     512
/* The interval level prescient follows (its upper bound is the 97.5 % quantile). */
#define PRESCIENT_LEVEL 0.95

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

enum policy {
	P_STATIC,
	P_REACTIVE,
	P_PRESCIENT, /* at the default interval level */
	P_PRES_80,   /* the same at other levels: the miss/slack frontier */
	P_PRES_90,
	P_PRES_99,
	P_NR,
};

static const char *const policy_names[P_NR] = { "static",	 "reactive",	  "prescient",
						"prescient_l80", "prescient_l90", "prescient_l99" };
static const double policy_level[P_NR] = {
	[P_PRESCIENT] = PRESCIENT_LEVEL, [P_PRES_80] = 0.80, [P_PRES_90] = 0.90, [P_PRES_99] = 0.99
};

struct vm_trace {
	char name[64];
	double use[R_NR][N_STEPS];
	double cap[R_NR][N_STEPS];  /* static allocation */
	double peak[R_NR][N_STEPS]; /* highest use before t */
};

struct tally {
	uint64_t miss[R_NR];
	uint64_t miss_any;
	uint64_t steps;
	double alloc_sum[R_NR];
	double slack_sum[R_NR];
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

static int replay_vm(const struct vm_trace *vm, struct tally tl[P_NR], double *ret_fc_sec)
{
	struct forecaster *fc[R_NR] = { 0 };
	double react[R_NR], pres[P_NR][R_NR], quiet_peak[R_NR];
	uint32_t quiet[R_NR] = { 0 }, streak[P_NR][R_NR] = { 0 };
	struct alloc_params ap[R_NR];
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

		alloc_params_default(r == R_CPU	      ? POOL_KIND_CPU
				     : r == R_MEM     ? POOL_KIND_MEM
				     : r <= R_DISK_WR ? POOL_KIND_DISK
						      : POOL_KIND_NET,
				     &ap[r]);
		ap[r].lead_steps = 1;
		/* Mild hysteresis: give back after 2 plans whose bound is under 90 %. */
		ap[r].giveback_steps = 1;
		ap[r].level = PRESCIENT_LEVEL;
		ap[r].headroom = 0; /* the interval is the headroom */
		ap[r].lower_after = 2;
		ap[r].lower_ratio = 0.9;
		ap[r].saturation_ratio = 0;

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

		for (r = 0; r < R_NR; r++) {
			struct forecast_point pts[HORIZON];
			struct alloc_decision d;
			struct alloc_input in;
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
			ap[r].min = lo;
			ap[r].max = hi;
			for (int p = P_PRESCIENT; p < P_NR; p++) {
				ap[r].level = policy_level[p];
				in = (struct alloc_input){ pres[p][r], prev, pts, HORIZON,
							   streak[p][r] };
				ret = alloc_decide(&ap[r], &in, &d);
				if (ret < 0)
					goto out;
				if (isfinite(d.target))
					pres[p][r] = d.target;
				pres[p][r] = clampd(pres[p][r], lo, hi);
				streak[p][r] = d.low_streak;
			}
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

int main(void)
{
	const char *root = getenv("PRESCIENT_SOURCE_ROOT"), *lim = getenv("PRESCIENT_REPLAY_VMS");
	struct tally tl[P_NR];
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

	vm = malloc(sizeof(*vm));
	if (!vm)
		return 1;
	memset(tl, 0, sizeof(tl));
	for (size_t i = 0; i < n_names && n_vms < max_vms; i++) {
		char path[8192];
		int r;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		r = load_vm(path, vm);
		if (r < 0) {
			fprintf(stderr, "replay: %s: %s, skipped\n", names[i], strerror(-r));
			continue;
		}
		snprintf(vm->name, sizeof(vm->name), "%s", names[i]);
		r = replay_vm(vm, tl, &fc_sec);
		if (r < 0) {
			fprintf(stderr, "replay: %s: %s\n", names[i], strerror(-r));
			return 1;
		}
		n_vms++;
	}
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	free(vm);

	printf("# replay: %zu VMs x %d steps of %d s after %d training steps, lead 1 step\n", n_vms,
	       N_STEPS - TRAIN_STEPS, STEP_SEC, TRAIN_STEPS);
	for (int p = 0; p < P_NR; p++) {
		double slack = 0, reserved = 0;

		for (int r = 0; r < R_NR; r++) {
			slack += tl[p].alloc_sum[r] > 0 ? tl[p].slack_sum[r] / tl[p].alloc_sum[r]
							: 0;
			reserved += tl[P_STATIC].alloc_sum[r] > 0
					    ? tl[p].alloc_sum[r] / tl[P_STATIC].alloc_sum[r]
					    : 0;
		}
		printf("BENCH replay_miss_pct.%s %.3f %%\n", policy_names[p],
		       100.0 * (double)tl[p].miss_any / (double)tl[p].steps);
		printf("BENCH replay_slack_pct.%s %.3f %%\n", policy_names[p],
		       100.0 * slack / R_NR);
		/* What the policy holds, against what static holds: the capacity it frees. */
		printf("BENCH replay_reserved_vs_static_pct.%s %.3f %%\n", policy_names[p],
		       100.0 * reserved / R_NR);
	}
	for (int r = 0; r < R_NR; r++)
		for (int p = 0; p < P_NR; p++)
			printf("BENCH replay_miss_pct.%s.%s %.3f %%\nBENCH replay_slack_pct.%s.%s "
			       "%.3f "
			       "%%\n",
			       policy_names[p], res_names[r],
			       100.0 * (double)tl[p].miss[r] / (double)tl[p].steps, policy_names[p],
			       res_names[r],
			       tl[p].alloc_sum[r] > 0
				       ? 100.0 * tl[p].slack_sum[r] / tl[p].alloc_sum[r]
				       : 0.0);
	{
		double miss_r = (double)tl[P_REACTIVE].miss_any,
		       miss_p = (double)tl[P_PRESCIENT].miss_any;
		double slack = 0;

		for (int r = 0; r < R_NR; r++)
			slack += tl[P_PRESCIENT].alloc_sum[r] > 0
					 ? tl[P_PRESCIENT].slack_sum[r] /
						   tl[P_PRESCIENT].alloc_sum[r]
					 : 0;
		slack = 100.0 * slack / R_NR;
		printf("# target: prescient misses <= 0.5 x reactive's: %s (%.2f x); slack <= 25 "
		       "%%: "
		       "%s (%.1f %%)\n",
		       miss_p <= 0.5 * miss_r ? "met" : "not met", miss_r > 0 ? miss_p / miss_r : 0,
		       slack <= 25 ? "met" : "not met", slack);
	}
	printf("BENCH replay_seconds %.1f s\nBENCH replay_forecast_seconds %.1f s\n",
	       now_sec() - start, fc_sec);
	return 0;
}
