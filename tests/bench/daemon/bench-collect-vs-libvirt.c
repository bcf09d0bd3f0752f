// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Cost per VM per sample of our collector against libvirt's bulk statistics
 * polling, side by side on the same running VMs. Runs inside a host of
 * tests/integration/lib/host.sh (bench-collect-vs-libvirt.sh sets it up).
 *
 *   A: collect_sample() over the plugin's VM list (cgroups, /proc, netlink,
 *      BPF maps when the probes load), without the plugin's get_stats();
 *   B: virConnectGetAllDomainStats(all groups, active domains), what a
 *      libvirt-polling agent does every tick;
 *   C: the plugin's get_stats() (the groups the daemon asks for, NOWAIT),
 *      not in the ratio: what the daemon's own polling costs libvirt.
 *
 * Each round runs a block of each, A B C then C B A in the next round, so
 * none always runs first, and each block counts the CPU time of every
 * process involved: ours for A; for B and C ours (the client), libvirtd
 * and every QEMU it queries. The guests and libvirtd burn some CPU of their
 * own whatever we do (timers, keepalive, the BPF probes on their events), so
 * the rate they show during the A block of the same round is subtracted
 * from B and C: what remains is what the polling caused.
 *
 * Per-process CPU is the kernel's sum_exec_runtime in ns, thread by thread
 * from /proc/<pid>/task/ * /schedstat: the counter /proc/<pid>/stat reports
 * as utime + stime, but in 10 ms ticks, too coarse for blocks of a few
 * hundred ms; the tick figures summed over the whole run (dead threads
 * included) are printed on stderr as a cross-check. Reported: the median of
 * the per-round ratios (libvirt's cost over ours) and the medians of the
 * absolute figures, split by process for B and C.
 *
 * Usage: bench-collect-vs-libvirt LIBVIRTD_PID [ROUNDS [BLOCK_MSEC]]
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "cleanup.h"
#include "collect.h"
#include "hv-libvirt.h"
#include "util.h"

#define URI		   "qemu:///system"
#define ROUNDS_DEFAULT	   30
#define MAX_ROUNDS	   1000
#define BLOCK_MSEC_DEFAULT 300
#define MAX_PIDS	   (1 + 128) /* libvirtd and the QEMUs */
#define MAX_TIDS	   512

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir)

/*
 * What runs in a block. SIDE_PLUGIN is not in the ratio: it is the daemon's
 * own get_stats() (fewer groups, NOWAIT), shown for what it costs libvirt.
 */
enum side { SIDE_COLLECT, SIDE_LIBVIRT, SIDE_PLUGIN, NR_SIDES };

static const char *const side_bench_names[NR_SIDES] = {
	[SIDE_COLLECT] = "collect_us_per_vm_sample",
	[SIDE_LIBVIRT] = "libvirt_stats_us_per_vm_sample",
	[SIDE_PLUGIN] = "plugin_get_stats_us_per_vm_sample",
};

/* Where one block's CPU went, per VM per sample, in us. */
enum part { PART_TOTAL, PART_CLIENT, PART_LIBVIRTD, PART_QEMU, NR_PARTS };

static const char *const part_suffixes[NR_PARTS] = { "", ".client", ".libvirtd", ".qemu" };

/* Pids whose CPU we count: [0] libvirtd, then one QEMU per VM. */
static int pids[MAX_PIDS];
static size_t n_pids;

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* CPU time of each thread of a process at one instant. */
struct proc_snap {
	size_t n;
	struct {
		int tid;
		uint64_t ns;
	} t[MAX_TIDS];
};

static void proc_snap_read(int pid, struct proc_snap *ret)
{
	_cleanup_(closedirp) DIR *d = NULL;
	char path[64];
	struct dirent *de;

	ret->n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d)) && ret->n < MAX_TIDS) {
		char p[320], buf[128];
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/%d/task/%s/schedstat", pid, de->d_name);
		f = fopen(p, "re");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f)) {
			ret->t[ret->n].tid = atoi(de->d_name);
			ret->t[ret->n].ns = strtoull(buf, NULL, 10);
			ret->n++;
		}
		fclose(f);
	}
}

/*
 * CPU the process used between two snapshots, thread by thread: a thread
 * born in between counts whole, one that exited in between is lost (a few
 * QEMU and libvirtd workers come and go; this errs in ours' disfavour).
 */
static uint64_t proc_snap_delta_ns(const struct proc_snap *a, const struct proc_snap *b)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < b->n; i++) {
		uint64_t before = 0;

		for (size_t j = 0; j < a->n; j++)
			if (a->t[j].tid == b->t[i].tid) {
				before = a->t[j].ns;
				break;
			}
		if (b->t[i].ns >= before)
			sum += b->t[i].ns - before;
	}
	return sum;
}

/* utime + stime of the whole process (dead threads included), in ticks. */
static uint64_t proc_stat_ticks(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	/* comm may hold spaces and parentheses: fields count from the last ')' */
	p = strrchr(buf, ')');
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return ut + st;
}

struct snap {
	uint64_t wall_ns;
	struct proc_snap procs[MAX_PIDS];
	uint64_t pid_ticks[MAX_PIDS];
};

static void snap_others(struct snap *s)
{
	for (size_t i = 0; i < n_pids; i++) {
		proc_snap_read(pids[i], &s->procs[i]);
		s->pid_ticks[i] = proc_stat_ticks(pids[i]);
	}
	s->wall_ns = clock_ns(CLOCK_MONOTONIC);
}

/* One block's CPU: ours, libvirtd's, all QEMUs', and the wall time. */
struct block {
	double self_ns, libvirtd_ns, qemu_ns, wall_ns;
	double self_ticks, others_ticks;
};

struct bench {
	struct collect *collect;
	struct hv_vm *vms;
	size_t n_vms;
	struct collect_sample *samples;
	struct hv *hv;
	virConnectPtr conn;
	int k[NR_SIDES]; /* repetitions (samples or polls) per block */
};

static int side_run_once(struct bench *b, enum side side)
{
	if (side == SIDE_COLLECT)
		return collect_sample(b->collect, b->vms, b->n_vms, NULL, 0, util_now_usec(),
				      b->samples);
	if (side == SIDE_PLUGIN) {
		_cleanup_free_ struct hv_vm_stats *st = NULL;
		size_t n = 0;
		int r = hv_libvirt_ops.get_stats(b->hv, &st, &n);

		return r < 0 ? r : n == b->n_vms ? 0 : -ESTALE;
	}

	virDomainStatsRecordPtr *recs = NULL;
	int n = virConnectGetAllDomainStats(b->conn, 0, &recs,
					    VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE);

	if (n < 0)
		return -EIO;
	virDomainStatsRecordListFree(recs);
	return (size_t)n == b->n_vms ? 0 : -ESTALE;
}

static int block_run(struct bench *b, enum side side, struct block *ret)
{
	static struct snap s0, s1;
	uint64_t self0, self1, t0 = 0, t1 = 0;
	int r;

	/* Reading /proc costs us, not them: keep it out of our own window. */
	snap_others(&s0);
	self0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	t0 = proc_stat_ticks(getpid());
	for (int i = 0; i < b->k[side]; i++) {
		r = side_run_once(b, side);
		if (r < 0)
			return r;
	}
	t1 = proc_stat_ticks(getpid());
	self1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	snap_others(&s1);

	*ret = (struct block){ .self_ns = (double)(self1 - self0),
			       .wall_ns = (double)(s1.wall_ns - s0.wall_ns),
			       .self_ticks = (double)(t1 - t0) };
	for (size_t i = 0; i < n_pids; i++) {
		double d = (double)proc_snap_delta_ns(&s0.procs[i], &s1.procs[i]);

		if (i == 0)
			ret->libvirtd_ns = d;
		else
			ret->qemu_ns += d;
		ret->others_ticks += (double)(s1.pid_ticks[i] - s0.pid_ticks[i]);
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Repetitions of side that take about block_ns of wall time. */
static int calibrate(struct bench *b, enum side side, uint64_t block_ns)
{
	uint64_t t0, dt;
	int r;

	for (int i = 0; i < 3; i++) { /* warm caches, BPF maps, libvirt's connection */
		r = side_run_once(b, side);
		if (r < 0)
			return r;
	}
	t0 = clock_ns(CLOCK_MONOTONIC);
	for (int i = 0; i < 5; i++) {
		r = side_run_once(b, side);
		if (r < 0)
			return r;
	}
	dt = (clock_ns(CLOCK_MONOTONIC) - t0) / 5;
	b->k[side] = (int)(block_ns / (dt ? dt : 1));
	if (b->k[side] < 1)
		b->k[side] = 1;
	return 0;
}

static void on_event(const struct hv_event *ev, void *userdata)
{
	(void)ev;
	(void)userdata;
}

/* Fills res[side][part][round] from one round of blocks. */
static void round_account(const struct bench *b, const struct block *blk, int round,
			  double (*res)[NR_PARTS][MAX_ROUNDS])
{
	const struct block *a = &blk[SIDE_COLLECT];
	/* What libvirtd and QEMU do anyway, at the rate seen while we collect. */
	double bg_lvd = a->libvirtd_ns / a->wall_ns, bg_qemu = a->qemu_ns / a->wall_ns;

	for (int s = 0; s < NR_SIDES; s++) {
		const struct block *x = &blk[s];
		double per = b->k[s] * (double)b->n_vms * 1e3; /* ns -> us per VM per sample */

		res[s][PART_CLIENT][round] = x->self_ns / per;
		if (s == SIDE_COLLECT) {
			res[s][PART_LIBVIRTD][round] = 0;
			res[s][PART_QEMU][round] = 0;
		} else {
			res[s][PART_LIBVIRTD][round] = (x->libvirtd_ns - bg_lvd * x->wall_ns) / per;
			res[s][PART_QEMU][round] = (x->qemu_ns - bg_qemu * x->wall_ns) / per;
		}
		res[s][PART_TOTAL][round] = res[s][PART_CLIENT][round] +
					    res[s][PART_LIBVIRTD][round] + res[s][PART_QEMU][round];
	}
}

int main(int argc, char **argv)
{
	static double res[NR_SIDES][NR_PARTS][MAX_ROUNDS], ratio[MAX_ROUNDS], bg_cores[MAX_ROUNDS];
	struct hv_config hcfg = { .uri = URI };
	struct collect_config ccfg = { .use_netlink = true, .use_bpf = true };
	struct bench b = { 0 };
	int rounds = argc > 2 ? atoi(argv[2]) : ROUNDS_DEFAULT;
	int block_msec = argc > 3 ? atoi(argv[3]) : BLOCK_MSEC_DEFAULT;
	/* Totals from /proc/<pid>/stat ticks, for the cross-check. */
	double ticks_self[NR_SIDES] = { 0 }, ticks_others[NR_SIDES] = { 0 }, ticks_bg_rate = 0;
	double n_samples[NR_SIDES] = { 0 }, wall[NR_SIDES] = { 0 };
	long hz = sysconf(_SC_CLK_TCK);
	int r;

	if (argc < 2 || rounds < 2 || rounds > MAX_ROUNDS || block_msec < 10) {
		fprintf(stderr, "usage: %s LIBVIRTD_PID [ROUNDS (2-%d) [BLOCK_MSEC]]\n", argv[0],
			MAX_ROUNDS);
		return 2;
	}
	pids[n_pids++] = atoi(argv[1]);

	r = hv_libvirt_open(&hcfg, NULL, on_event, NULL, &b.hv);
	if (r < 0) {
		fprintf(stderr, "cannot open the libvirt plugin: %s (%s)\n", strerror(-r),
			hv_libvirt_last_error());
		return 1;
	}
	r = hv_libvirt_ops.list_vms(b.hv, &b.vms, &b.n_vms);
	if (r < 0 || b.n_vms == 0 || b.n_vms >= MAX_PIDS) {
		fprintf(stderr, "list_vms: %s, %zu VMs\n", strerror(r < 0 ? -r : EINVAL), b.n_vms);
		return 1;
	}
	for (size_t i = 0; i < b.n_vms; i++) {
		if (b.vms[i].qemu_pid <= 0) {
			fprintf(stderr, "VM %s has no QEMU pid\n", b.vms[i].name);
			return 1;
		}
		pids[n_pids++] = b.vms[i].qemu_pid;
	}
	b.samples = calloc(b.n_vms, sizeof(*b.samples));
	r = collect_new(&ccfg, &b.collect);
	if (r < 0 || !b.samples) {
		fprintf(stderr, "collect_new: %s\n", strerror(r < 0 ? -r : ENOMEM));
		return 1;
	}
	b.conn = virConnectOpen(URI);
	if (!b.conn) {
		fprintf(stderr, "virConnectOpen: %s\n", virGetLastErrorMessage());
		return 1;
	}

	for (int s = 0; s < NR_SIDES && r >= 0; s++)
		r = calibrate(&b, s, (uint64_t)block_msec * NSEC_PER_MSEC);
	if (r < 0) {
		fprintf(stderr, "calibration failed: %s (%s)\n", strerror(-r),
			virGetLastErrorMessage());
		return 1;
	}
	fprintf(stderr,
		"%zu VMs, BPF: %s, sources 0x%x; %d rounds of %d collect_sample, %d "
		"GetAllDomainStats, %d get_stats\n",
		b.n_vms, collect_bpf_describe(b.collect), collect_sources_active(b.collect), rounds,
		b.k[SIDE_COLLECT], b.k[SIDE_LIBVIRT], b.k[SIDE_PLUGIN]);

	for (int p = 0; p < rounds; p++) {
		struct block blk[NR_SIDES];
		const struct block *a = &blk[SIDE_COLLECT];

		/* Forward, then backward: no side always follows the same one. */
		for (int i = 0; i < NR_SIDES; i++) {
			int s = p % 2 ? NR_SIDES - 1 - i : i;

			r = block_run(&b, s, &blk[s]);
			if (r < 0) {
				fprintf(stderr, "round %d failed: %s (%s)\n", p, strerror(-r),
					virGetLastErrorMessage());
				return 1;
			}
		}
		round_account(&b, blk, p, res);
		ratio[p] = res[SIDE_LIBVIRT][PART_TOTAL][p] / res[SIDE_COLLECT][PART_TOTAL][p];
		bg_cores[p] = (a->libvirtd_ns + a->qemu_ns) / a->wall_ns;
		ticks_bg_rate += a->others_ticks / a->wall_ns / rounds;
		for (int s = 0; s < NR_SIDES; s++) {
			ticks_self[s] += blk[s].self_ticks;
			ticks_others[s] += blk[s].others_ticks;
			n_samples[s] += b.k[s] * (double)b.n_vms;
			wall[s] += blk[s].wall_ns;
		}
		fprintf(stderr,
			"round %2d: per VM per sample: collect %.1f us, libvirt %.1f us, "
			"plugin %.1f us; ratio %.1f (background %.3f cores)\n",
			p, res[SIDE_COLLECT][PART_TOTAL][p], res[SIDE_LIBVIRT][PART_TOTAL][p],
			res[SIDE_PLUGIN][PART_TOTAL][p], ratio[p], bg_cores[p]);
	}

	fprintf(stderr, "cross-check, /proc/<pid>/stat ticks over the run, us per VM per sample:");
	for (int s = 0; s < NR_SIDES; s++) {
		double ticks = ticks_self[s] +
			       (s == SIDE_COLLECT ? 0 : ticks_others[s] - ticks_bg_rate * wall[s]);

		fprintf(stderr, " %s %.1f", side_bench_names[s], ticks * 1e6 / hz / n_samples[s]);
	}
	fprintf(stderr, "\n");

	printf("BENCH collect_vs_libvirt_vms %zu vms\n", b.n_vms);
	for (int s = 0; s < NR_SIDES; s++)
		for (int part = 0; part < NR_PARTS; part++) {
			if (s == SIDE_COLLECT && part != PART_TOTAL)
				continue;
			printf("BENCH %s%s %.2f us\n", side_bench_names[s], part_suffixes[part],
			       median(res[s][part], (size_t)rounds));
		}
	printf("BENCH collect_vs_libvirt_background_cores %.3f cores\n",
	       median(bg_cores, (size_t)rounds));
	printf("BENCH collect_cost_ratio_vs_libvirt %.1f x\n", median(ratio, (size_t)rounds));

	virConnectClose(b.conn);
	collect_free(b.collect);
	hv_libvirt_ops.close(b.hv);
	free(b.vms);
	free(b.samples);
	return 0;
}
