/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Guest load generator for the integration tests. It runs inside a small TCG
 * guest as the child of /init and replays a CPU demand pattern so that the host
 * side (libvirt, cgroups, the prescient daemon) sees a real, known workload.
 *
 * The pattern comes from argv[1] or from "prescient.load=" on the kernel
 * command line:
 *
 *   idle:20,ramp:30:90,hold:20:90,ramp:20:0,idle:30
 *
 * Each phase is name:seconds[:percent], percent of one vCPU. "idle" is 0 %,
 * "hold" keeps the given level (or the previous one), "ramp" moves linearly
 * from the previous level to the given one. Load is a duty cycle: in every
 * period (prescient.period_ms=, 20 ms by default) the process spins for
 * level * period and sleeps for the rest, so the vCPU thread on the host burns
 * about that share of a core; idle phases sleep through without wakeups.
 * With prescient.loop=1 the pattern repeats.
 *
 * "prescient.disk=" takes a second pattern of the same form whose levels are
 * KiB/s written to prescient.disk_dev= (default /dev/vda) with O_DIRECT; it
 * runs in a child process next to the CPU pattern and logs "prescient-disk:"
 * lines the same way.
 *
 * Phase changes go to stdout (the serial console) as lines
 *   "prescient-load: t=<seconds> phase=<i>/<n> <name> <seconds>s <from>%-><to>%"
 * which the tests read from the serial log to align host samples with the
 * pattern. "--check PATTERN" and "--check-disk PATTERN" only parse and print
 * the phases (exit 0/1).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_DIRECT; meson passes it, build-initramfs.sh does not */
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define LOADGEN_PHASES_MAX  64
#define LOADGEN_CMDLINE_MAX 4096
#define NSEC_PER_MSEC	    1000000ULL
#define NSEC_PER_SEC	    1000000000ULL

enum loadgen_kind {
	LOADGEN_IDLE,
	LOADGEN_HOLD,
	LOADGEN_RAMP,
	LOADGEN_NR_KINDS,
};

static const char *const loadgen_kind_names[LOADGEN_NR_KINDS] = {
	[LOADGEN_IDLE] = "idle",
	[LOADGEN_HOLD] = "hold",
	[LOADGEN_RAMP] = "ramp",
};

struct loadgen_phase {
	enum loadgen_kind kind;
	unsigned duration_sec;
	/*
	 * Resolved levels at the start and the end of the phase: percent of
	 * one vCPU in a CPU pattern, KiB/s in a disk pattern.
	 */
	unsigned from_level;
	unsigned to_level;
};

struct loadgen_pattern {
	struct loadgen_phase phases[LOADGEN_PHASES_MAX];
	unsigned n_phases;
};

static uint64_t loadgen_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static int loadgen_parse_uint(const char *s, size_t len, unsigned max, unsigned *ret)
{
	unsigned v = 0;

	if (len == 0 || len > 9)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

/* Parses one "name:seconds[:level]" of length len; prev is the level before. */
static int loadgen_phase_parse(const char *s, size_t len, unsigned prev_level, unsigned max_level,
			       struct loadgen_phase *ret)
{
	struct loadgen_phase p = { 0 };
	const char *field[3];
	size_t field_len[3];
	unsigned n = 0, percent;
	const char *start = s;
	int r;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != ':')
			continue;
		if (n == 3)
			return -EINVAL;
		field[n] = start;
		field_len[n] = (size_t)(s + i - start);
		n++;
		start = s + i + 1;
	}
	if (n < 2)
		return -EINVAL;

	p.kind = LOADGEN_NR_KINDS;
	for (unsigned k = 0; k < LOADGEN_NR_KINDS; k++)
		if (strlen(loadgen_kind_names[k]) == field_len[0] &&
		    memcmp(loadgen_kind_names[k], field[0], field_len[0]) == 0)
			p.kind = k;
	if (p.kind == LOADGEN_NR_KINDS)
		return -EINVAL;

	r = loadgen_parse_uint(field[1], field_len[1], 86400, &p.duration_sec);
	if (r < 0)
		return r;

	percent = prev_level;
	if (n == 3) {
		r = loadgen_parse_uint(field[2], field_len[2], max_level, &percent);
		if (r < 0)
			return r;
	}

	switch (p.kind) {
	case LOADGEN_IDLE:
		/* An explicit level makes no sense for idle. */
		if (n == 3)
			return -EINVAL;
		p.from_level = 0;
		p.to_level = 0;
		break;
	case LOADGEN_HOLD:
		p.from_level = percent;
		p.to_level = percent;
		break;
	case LOADGEN_RAMP:
		if (n != 3)
			return -EINVAL;
		p.from_level = prev_level;
		p.to_level = percent;
		break;
	default:
		return -EINVAL;
	}

	*ret = p;
	return 0;
}

static int loadgen_pattern_parse(const char *s, unsigned max_level, struct loadgen_pattern *ret)
{
	struct loadgen_pattern pat = { 0 };
	unsigned prev = 0;
	const char *start = s;
	size_t len = strlen(s);
	int r;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != ',')
			continue;
		if (pat.n_phases == LOADGEN_PHASES_MAX)
			return -E2BIG;
		r = loadgen_phase_parse(start, (size_t)(s + i - start), prev, max_level,
					&pat.phases[pat.n_phases]);
		if (r < 0)
			return r;
		prev = pat.phases[pat.n_phases].to_level;
		pat.n_phases++;
		start = s + i + 1;
	}
	if (pat.n_phases == 0)
		return -EINVAL;

	*ret = pat;
	return 0;
}

/*
 * Finds "key=value" in the kernel command line and copies the value (up to
 * the next space) to ret, which holds size bytes.
 */
static int loadgen_cmdline_get(const char *cmdline, const char *key, char *ret, size_t size)
{
	size_t key_len = strlen(key);
	const char *p = cmdline;

	while (*p) {
		size_t word_len;

		while (*p == ' ' || *p == '\n')
			p++;
		word_len = strcspn(p, " \n");
		if (word_len > key_len && memcmp(p, key, key_len) == 0 && p[key_len] == '=') {
			size_t vlen = word_len - key_len - 1;

			if (vlen >= size)
				return -ENAMETOOLONG;
			memcpy(ret, p + key_len + 1, vlen);
			ret[vlen] = '\0';
			return 0;
		}
		p += word_len;
	}
	return -ENOENT;
}

static int loadgen_cmdline_read(char *buf, size_t size)
{
	FILE *f = fopen("/proc/cmdline", "re");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	return 0;
}

/* What a pattern drives: its name on the console, its unit and its top level. */
struct loadgen_target {
	const char *name;
	const char *unit;
	unsigned max_level;
};

static const struct loadgen_target loadgen_cpu = { "load", "%", 100 };
/* Up to 1 GiB/s, far above what a TCG guest can write. */
static const struct loadgen_target loadgen_disk = { "disk", "KiB/s", 1048576 };

static void loadgen_phase_print(const struct loadgen_target *tgt, const struct loadgen_pattern *pat,
				unsigned i, double t_sec)
{
	const struct loadgen_phase *p = &pat->phases[i];

	printf("prescient-%s: t=%.3f phase=%u/%u %s %us %u%s->%u%s\n", tgt->name, t_sec, i + 1,
	       pat->n_phases, loadgen_kind_names[p->kind], p->duration_sec, p->from_level,
	       tgt->unit, p->to_level, tgt->unit);
	fflush(stdout);
}

static void loadgen_sleep_until(uint64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline_ns / NSEC_PER_SEC),
		.tv_nsec = (long)(deadline_ns % NSEC_PER_SEC),
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/*
 * Spins for the busy share of each period and sleeps for the rest. The level
 * is recomputed every period so ramps are smooth at the period's resolution.
 * Busy time is accounted as credit against the time integral of the level:
 * a TCG guest wakes up late from its timers, and without the credit every
 * late wakeup would shorten the spin and the load would fall well below the
 * pattern at partial levels. The debt is bounded so a long stall (the host
 * busy elsewhere) is not paid back as a burst of 100 %.
 */
static void loadgen_phase_run(const struct loadgen_phase *p, uint64_t period_ns)
{
	uint64_t start = loadgen_now_ns();
	uint64_t end = start + (uint64_t)p->duration_sec * NSEC_PER_SEC;
	uint64_t period_start = start;
	uint64_t target_ns = 0, busy_ns = 0;
	volatile uint64_t sink = 0;

	if (p->from_level == 0 && p->to_level == 0) {
		/* Idle: no periodic wakeups, the guest stays in HLT. */
		loadgen_sleep_until(end);
		return;
	}

	while (period_start < end) {
		double frac = (double)(period_start - start) / ((double)(end - start) + 1.0);
		double level = p->from_level + ((double)p->to_level - p->from_level) * frac;
		uint64_t period_end = period_start + period_ns;
		uint64_t spin_start, now;

		if (period_end > end)
			period_end = end;
		target_ns += (uint64_t)(level / 100.0 * (double)(period_end - period_start));
		if (target_ns > busy_ns + 2 * period_ns)
			busy_ns = target_ns - 2 * period_ns;

		spin_start = loadgen_now_ns();
		now = spin_start;
		while (busy_ns + (now - spin_start) < target_ns && now < period_end) {
			for (unsigned i = 0; i < 1000; i++)
				sink += i;
			now = loadgen_now_ns();
		}
		busy_ns += now - spin_start;
		loadgen_sleep_until(period_end);
		period_start = period_end;
	}
}

/*
 * Writes level KiB/s to the disk in 4 KiB O_DIRECT blocks, cycling over the
 * device, paced in 100 ms periods, so the host sees the writes in the VM's
 * block I/O (with cache=none they reach the host's block layer too). Short
 * of the target, the debt is carried at most one second.
 */
static void loadgen_disk_phase_run(const struct loadgen_phase *p, int fd, void *buf,
				   uint64_t dev_bytes, uint64_t *offset)
{
	const uint64_t period_ns = 100 * NSEC_PER_MSEC, block = 4096;
	uint64_t start = loadgen_now_ns();
	uint64_t end = start + (uint64_t)p->duration_sec * NSEC_PER_SEC;
	uint64_t period_start = start, target = 0, written = 0;

	if (p->from_level == 0 && p->to_level == 0) {
		loadgen_sleep_until(end);
		return;
	}

	while (period_start < end) {
		double frac = (double)(period_start - start) / ((double)(end - start) + 1.0);
		double kib_s = p->from_level + ((double)p->to_level - p->from_level) * frac;
		uint64_t period_end = period_start + period_ns;

		if (period_end > end)
			period_end = end;
		target += (uint64_t)(kib_s * 1024.0 * (double)(period_end - period_start) /
				     NSEC_PER_SEC);
		if (target > written + 10 * (uint64_t)(kib_s * 1024.0 / 10.0) + block)
			written = target - 10 * (uint64_t)(kib_s * 1024.0 / 10.0);
		while (written + block <= target && loadgen_now_ns() < period_end) {
			if (*offset + block > dev_bytes)
				*offset = 0;
			if (pwrite(fd, buf, block, (off_t)*offset) != (ssize_t)block) {
				printf("prescient-disk: write at %llu failed: %s\n",
				       (unsigned long long)*offset, strerror(errno));
				fflush(stdout);
				loadgen_sleep_until(end);
				return;
			}
			*offset += block;
			written += block;
		}
		loadgen_sleep_until(period_end);
		period_start = period_end;
	}
}

/* The disk pattern runs in a child process, next to the CPU pattern. */
static void loadgen_disk_run(const struct loadgen_pattern *pat, const char *dev, bool loop,
			     uint64_t t0)
{
	uint64_t dev_bytes = 0, offset = 0;
	void *buf;
	int fd;

	fd = open(dev, O_WRONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &dev_bytes) < 0 || dev_bytes < 4096 ||
	    posix_memalign(&buf, 4096, 4096) != 0) {
		printf("prescient-disk: cannot use %s: %s\n", dev, strerror(errno));
		fflush(stdout);
		return;
	}
	memset(buf, 0x5a, 4096);
	printf("prescient-disk: start dev=%s bytes=%llu phases=%u\n", dev,
	       (unsigned long long)dev_bytes, pat->n_phases);
	fflush(stdout);
	do {
		for (unsigned i = 0; i < pat->n_phases; i++) {
			loadgen_phase_print(&loadgen_disk, pat, i,
					    (double)(loadgen_now_ns() - t0) / NSEC_PER_SEC);
			loadgen_disk_phase_run(&pat->phases[i], fd, buf, dev_bytes, &offset);
		}
	} while (loop);
	printf("prescient-disk: t=%.3f done\n", (double)(loadgen_now_ns() - t0) / NSEC_PER_SEC);
	fflush(stdout);
	free(buf);
	close(fd);
}

static void loadgen_pattern_print(const struct loadgen_target *tgt,
				  const struct loadgen_pattern *pat)
{
	for (unsigned i = 0; i < pat->n_phases; i++)
		loadgen_phase_print(tgt, pat, i, 0.0);
}

int main(int argc, char **argv)
{
	static char cmdline[LOADGEN_CMDLINE_MAX];
	char spec[LOADGEN_CMDLINE_MAX], disk_spec[LOADGEN_CMDLINE_MAX], dev[64], value[32];
	struct loadgen_pattern pat, disk_pat;
	uint64_t period_ns = 20 * NSEC_PER_MSEC, t0;
	unsigned period_ms;
	bool loop = false, have_disk;
	int r;

	if (argc == 3 &&
	    (strcmp(argv[1], "--check") == 0 || strcmp(argv[1], "--check-disk") == 0)) {
		const struct loadgen_target *tgt =
			strcmp(argv[1], "--check") == 0 ? &loadgen_cpu : &loadgen_disk;

		r = loadgen_pattern_parse(argv[2], tgt->max_level, &pat);
		if (r < 0) {
			fprintf(stderr, "prescient-%s: bad pattern '%s': %s\n", tgt->name, argv[2],
				strerror(-r));
			return 1;
		}
		loadgen_pattern_print(tgt, &pat);
		return 0;
	}

	r = loadgen_cmdline_read(cmdline, sizeof(cmdline));
	if (r < 0)
		cmdline[0] = '\0';

	if (argc >= 2) {
		snprintf(spec, sizeof(spec), "%s", argv[1]);
	} else if (loadgen_cmdline_get(cmdline, "prescient.load", spec, sizeof(spec)) < 0) {
		/* No CPU pattern: idle, but a disk pattern may still run. */
		snprintf(spec, sizeof(spec), "idle:0");
	}
	if (loadgen_cmdline_get(cmdline, "prescient.period_ms", value, sizeof(value)) == 0 &&
	    loadgen_parse_uint(value, strlen(value), 1000, &period_ms) == 0 && period_ms >= 5)
		period_ns = period_ms * NSEC_PER_MSEC;
	if (loadgen_cmdline_get(cmdline, "prescient.loop", value, sizeof(value)) == 0)
		loop = strcmp(value, "1") == 0;
	have_disk =
		loadgen_cmdline_get(cmdline, "prescient.disk", disk_spec, sizeof(disk_spec)) == 0;
	if (loadgen_cmdline_get(cmdline, "prescient.disk_dev", dev, sizeof(dev)) < 0)
		snprintf(dev, sizeof(dev), "/dev/vda");

	r = loadgen_pattern_parse(spec, loadgen_cpu.max_level, &pat);
	if (r < 0) {
		printf("prescient-load: bad pattern '%s': %s\n", spec, strerror(-r));
		fflush(stdout);
		return 1;
	}
	if (have_disk) {
		r = loadgen_pattern_parse(disk_spec, loadgen_disk.max_level, &disk_pat);
		if (r < 0) {
			printf("prescient-disk: bad pattern '%s': %s\n", disk_spec, strerror(-r));
			fflush(stdout);
			have_disk = false;
		}
	}

	t0 = loadgen_now_ns();
	if (have_disk) {
		pid_t pid = fork();

		if (pid == 0) {
			loadgen_disk_run(&disk_pat, dev, loop, t0);
			for (;;)
				pause();
		}
		if (pid < 0)
			printf("prescient-disk: fork: %s\n", strerror(errno));
	}

	printf("prescient-load: start phases=%u period_ms=%llu loop=%d\n", pat.n_phases,
	       (unsigned long long)(period_ns / NSEC_PER_MSEC), loop);
	fflush(stdout);
	do {
		for (unsigned i = 0; i < pat.n_phases; i++) {
			loadgen_phase_print(&loadgen_cpu, &pat, i,
					    (double)(loadgen_now_ns() - t0) / NSEC_PER_SEC);
			loadgen_phase_run(&pat.phases[i], period_ns);
		}
	} while (loop);
	printf("prescient-load: t=%.3f done\n", (double)(loadgen_now_ns() - t0) / NSEC_PER_SEC);
	fflush(stdout);
	for (;;)
		pause();
	return 0;
}
