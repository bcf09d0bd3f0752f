// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's INI configuration (see config.h). Every key is a row of one
 * table that says where the value lands, how it is parsed and which range is
 * accepted, so the parser, its error messages and the tests agree. inih does
 * the INI syntax; it is fed through our own line reader so that every message
 * can name file:line, over-long lines are refused instead of split, and
 * indented lines are never glued to the previous value. Files are parsed into
 * a scratch copy that replaces the caller's only when everything parsed.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include <ini.h>

#include "build-config.h" /* PRESCIENT_STATE_DIR, PRESCIENT_RUN_DIR */
#include "cleanup.h"
#include "config.h"
#include "log.h"
#include "state.h"
#include "util.h"

/* inih's line buffer (INI_MAX_LINE) is 200 bytes incl. "\r\n\0". */
#define CONFIG_LINE_MAX	   196
#define CONFIG_FILE_MAX	   (1024 * 1024)
#define CONFIG_DROPINS_MAX 256

enum key_type {
	KEY_BOOL,
	KEY_U32,	/* plain integer */
	KEY_DURATION,	/* "10s", "500ms", plain seconds; stored in usec */
	KEY_DURATION_S, /* duration stored in whole seconds (uint32_t) */
	KEY_DOUBLE,
	KEY_DOUBLE_POS, /* a double in (min, max]: above min, never equal */
	KEY_RATIO,	/* "0.10" or "10%" */
	KEY_PATH,	/* absolute path */
	KEY_SOCKET,	/* absolute path that fits sun_path, or empty for the default */
	KEY_STRING,
	KEY_LOG_LEVEL,
	KEY_MODEL,
	KEY_CLASS,    /* guaranteed, burstable, best-effort */
	KEY_SIZE,     /* bytes with K/M/G/T (1024-based) */
	KEY_BITRATE,  /* bits/s with k/M/G/T (1000-based), optional "bit" */
	KEY_BYTERATE, /* bytes/s with K/M/G/T (1024-based), optional "/s" */
	KEY_IFNAME,   /* a network interface name, or empty */
};

struct key_desc {
	const char *section;
	const char *name;
	enum key_type type;
	size_t offset;
	size_t size; /* for strings */
	double min, max;
	const char *accepted; /* what the user may write, for messages */
};

#define F(field)      offsetof(struct config, field), sizeof(((struct config *)0)->field)
#define USEC(seconds) ((double)(seconds)*1e6)
#define BOOL_ACCEPTED "yes/no, true/false, on/off or 1/0"
#define RISK_ACCEPTED "a probability from 0 to 0.5 or a percentage (0.05 or 5%)"
#define PSI_ACCEPTED  "a percentage of time stalled, above 0 and at most 100"

static const struct key_desc keys[] = {
	{ "daemon", "log_level", KEY_LOG_LEVEL, F(log_level), 0, 7,
	  "one of debug, info, notice, warning, err, crit, alert, emerg or 0..7" },
	{ "daemon", "dry_run", KEY_BOOL, F(dry_run), 0, 0, "yes/no, true/false, on/off or 1/0" },
	{ "daemon", "state_dir", KEY_PATH, F(state_dir), 0, 0, "an absolute path" },
	{ "daemon", "run_dir", KEY_PATH, F(run_dir), 0, 0, "an absolute path" },

	{ "libvirt", "uri", KEY_STRING, F(libvirt_uri), 0, 0,
	  "a libvirt connection URI such as qemu:///system" },
	{ "libvirt", "keepalive_interval", KEY_DURATION_S, F(keepalive_interval_sec), 1, 600,
	  "a whole number of seconds from 1s to 10min" },
	{ "libvirt", "keepalive_count", KEY_U32, F(keepalive_count), 1, 100,
	  "an integer from 1 to 100" },
	{ "libvirt", "reconnect_delay", KEY_DURATION, F(reconnect_delay_usec), USEC(0.1), USEC(600),
	  "a duration from 100ms to 10min" },

	{ "collect", "interval", KEY_DURATION, F(collect_interval_usec), USEC(0.1), USEC(3600),
	  "a duration from 100ms to 1h" },
	{ "collect", "cgroup_root", KEY_PATH, F(cgroup_root), 0, 0, "an absolute path" },
	{ "collect", "proc_root", KEY_PATH, F(proc_root), 0, 0, "an absolute path" },
	{ "collect", "netlink", KEY_BOOL, F(netlink), 0, 0, "yes/no, true/false, on/off or 1/0" },
	{ "collect", "bpf", KEY_BOOL, F(bpf), 0, 0, "yes/no, true/false, on/off or 1/0" },

	{ "forecast", "step", KEY_DURATION, F(forecast_step_usec), USEC(1), USEC(86400),
	  "a duration from 1s to 1d" },
	{ "forecast", "horizon", KEY_U32, F(horizon_steps), 1, STATE_HORIZON_MAX,
	  "an integer number of steps from 1 to 64" },
	{ "forecast", "model", KEY_MODEL, F(model), 0, 0,
	  "auto, naive, seasonal-naive, ses, holt, hw-add, hw-mul, arima, lstm or ensemble" },
	{ "forecast", "history", KEY_U32, F(history_steps), 16, 1000000,
	  "an integer number of steps from 16 to 1000000" },
	{ "forecast", "refit_every", KEY_U32, F(refit_every), 0, 1000000,
	  "an integer number of steps from 0 (never) to 1000000" },

	{ "cpu", "manage", KEY_BOOL, F(cpu_manage), 0, 0, "yes/no, true/false, on/off or 1/0" },
	{ "cpu", "lead_time", KEY_U32, F(cpu_lead_steps), 1, STATE_HORIZON_MAX,
	  "an integer number of forecast steps from 1 to 64" },
	{ "cpu", "headroom", KEY_RATIO, F(cpu_headroom), 0, 10,
	  "a fraction from 0 to 10 or a percentage (0.10 or 10%)" },
	{ "cpu", "min_cores", KEY_DOUBLE, F(cpu_min_cores), 0.01, 4096,
	  "a number of cores from 0.01 to 4096" },
	{ "cpu", "max_cores", KEY_DOUBLE, F(cpu_max_cores), 0, 4096,
	  "a number of cores from 0 (the VM's vCPU count) to 4096" },
	{ "cpu", "lower_after", KEY_U32, F(cpu_lower_after_steps), 1, 10000,
	  "an integer number of steps from 1 to 10000" },
	{ "cpu", "lower_ratio", KEY_RATIO, F(cpu_lower_ratio), 0.01, 1,
	  "a fraction from 0.01 to 1 or a percentage (0.7 or 70%)" },
	{ "cpu", "period", KEY_DURATION, F(cpu_period_usec), 1000, USEC(1),
	  "a duration from 1ms to 1s" },

	/*
	 * The allocation engine. Risk bounds cap the forecast probability that
	 * a kind's demand exceeds its capacity; above 0.5 "overcommit" would
	 * mean expecting the shortage, so that is refused. Hugepages are never
	 * overcommitted and have no key.
	 */
	{ "alloc", "manage", KEY_BOOL, F(alloc_manage), 0, 0, BOOL_ACCEPTED },
	{ "alloc", "class", KEY_CLASS, F(alloc_class), 0, 0,
	  "guaranteed, burstable or best-effort" },
	{ "alloc", "risk_bound_cpu", KEY_RATIO, F(risk_bound[POOL_KIND_CPU]), 0, 0.5,
	  RISK_ACCEPTED },
	{ "alloc", "risk_bound_memory", KEY_RATIO, F(risk_bound[POOL_KIND_MEM]), 0, 0.5,
	  RISK_ACCEPTED },
	{ "alloc", "risk_bound_net", KEY_RATIO, F(risk_bound[POOL_KIND_NET]), 0, 0.5,
	  RISK_ACCEPTED },
	{ "alloc", "risk_bound_disk", KEY_RATIO, F(risk_bound[POOL_KIND_DISK]), 0, 0.5,
	  RISK_ACCEPTED },
	{ "alloc", "lead_time", KEY_U32, F(alloc_lead_steps), 1, STATE_HORIZON_MAX,
	  "an integer number of forecast steps from 1 to 64" },
	{ "alloc", "headroom", KEY_RATIO, F(alloc_headroom), 0, 10,
	  "a fraction from 0 to 10 or a percentage (0.10 or 10%)" },
	{ "alloc", "lease_ttl", KEY_DURATION, F(lease_ttl_usec), USEC(1), USEC(86400),
	  "a duration from 1s to 1d" },
	{ "alloc", "memory_manage", KEY_BOOL, F(mem_manage), 0, 0, BOOL_ACCEPTED },
	{ "alloc", "net_manage", KEY_BOOL, F(net_manage), 0, 0, BOOL_ACCEPTED },
	{ "alloc", "disk_manage", KEY_BOOL, F(disk_manage), 0, 0, BOOL_ACCEPTED },
	{ "alloc", "hugepages_manage", KEY_BOOL, F(hugepages_manage), 0, 0, BOOL_ACCEPTED },

	{ "pool", "host_reserved_cores", KEY_DOUBLE, F(host_reserved_cores), 0, 4096,
	  "a number of cores from 0 to 4096" },
	{ "pool", "host_reserved_memory", KEY_SIZE, F(host_reserved_mem_bytes), 0,
	  (double)(1ULL << 50), "a size such as 1G, 512M or 2048K (powers of 1024), up to 1024T" },
	{ "pool", "uplink", KEY_IFNAME, F(net_uplink), 0, 0,
	  "an interface name of at most 15 characters without '/', ':' or blanks, or nothing "
	  "for the interface of the default route" },
	{ "pool", "uplink_capacity", KEY_BITRATE, F(net_capacity_bps), 0, 1e13,
	  "bits per second such as 10G, 1000M, 10gbit or 100mbit (powers of 1000), up to 10T; "
	  "0 to read the link speed" },
	{ "pool", "disk_capacity", KEY_BYTERATE, F(disk_capacity_bps), 0, (double)(1ULL << 40),
	  "bytes per second such as 500M or 2G/s (powers of 1024), up to 1T; 0 for no disk "
	  "dimension" },

	/* The fast loop between plan ticks, on PSI "some" avg10 of machine.slice. */
	{ "safety", "enable", KEY_BOOL, F(safety_enable), 0, 0, BOOL_ACCEPTED },
	{ "safety", "cpu_pressure", KEY_DOUBLE_POS, F(safety_cpu_pressure), 0, 100, PSI_ACCEPTED },
	{ "safety", "memory_pressure", KEY_DOUBLE_POS, F(safety_mem_pressure), 0, 100,
	  PSI_ACCEPTED },
	{ "safety", "io_pressure", KEY_DOUBLE_POS, F(safety_io_pressure), 0, 100, PSI_ACCEPTED },
	{ "safety", "persist", KEY_U32, F(safety_persist_ticks), 1, 1000,
	  "an integer number of ticks from 1 to 1000" },
	{ "safety", "cooldown", KEY_DURATION, F(safety_cooldown_usec), 0, USEC(3600),
	  "a duration from 0 to 1h" },

	{ "api", "socket", KEY_SOCKET, F(api_socket), 0, 0,
	  "an absolute path of at most 107 bytes, or nothing for <run_dir>/prescient.sock" },
	{ "api", "max_clients", KEY_U32, F(api_max_clients), 1, 4096, "an integer from 1 to 4096" },
	{ "api", "client_timeout", KEY_DURATION, F(api_client_timeout_usec), USEC(0.1), USEC(3600),
	  "a duration from 100ms to 1h" },

	{ "hook", "fail_open", KEY_BOOL, F(hook_fail_open), 0, 0,
	  "yes/no, true/false, on/off or 1/0" },
	{ "hook", "timeout", KEY_DURATION, F(hook_timeout_usec), USEC(0.1), USEC(2),
	  "a duration from 100ms to 2s (libvirt waits for hooks without a timeout)" },
};

#undef F

void config_init_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = LOG_INFO;
	cfg->dry_run = false;
	util_strlcpy(cfg->state_dir, PRESCIENT_STATE_DIR, sizeof(cfg->state_dir));
	util_strlcpy(cfg->run_dir, PRESCIENT_RUN_DIR "/prescient", sizeof(cfg->run_dir));
	util_strlcpy(cfg->libvirt_uri, "qemu:///system", sizeof(cfg->libvirt_uri));
	cfg->keepalive_interval_sec = 5;
	cfg->keepalive_count = 3;
	cfg->reconnect_delay_usec = 1 * USEC_PER_SEC;
	cfg->collect_interval_usec = 1 * USEC_PER_SEC;
	util_strlcpy(cfg->cgroup_root, "/sys/fs/cgroup", sizeof(cfg->cgroup_root));
	util_strlcpy(cfg->proc_root, "/proc", sizeof(cfg->proc_root));
	cfg->netlink = true;
	cfg->bpf = true;
	cfg->forecast_step_usec = 60 * USEC_PER_SEC;
	cfg->horizon_steps = 15;
	cfg->model = FORECAST_AUTO;
	cfg->history_steps = 2016;
	cfg->refit_every = 60;
	cfg->cpu_manage = true;
	cfg->cpu_lead_steps = 5;
	cfg->cpu_headroom = 0.10;
	cfg->cpu_min_cores = 0.10;
	cfg->cpu_max_cores = 0;
	cfg->cpu_lower_after_steps = 3;
	cfg->cpu_lower_ratio = 0.7;
	cfg->cpu_period_usec = 100000;
	cfg->alloc_manage = true;
	cfg->alloc_class = POOL_CLASS_BURSTABLE;
	cfg->risk_bound[POOL_KIND_CPU] = 0.05;
	cfg->risk_bound[POOL_KIND_MEM] = 0.01;
	cfg->risk_bound[POOL_KIND_HUGEPAGES] = 0;
	cfg->risk_bound[POOL_KIND_NET] = 0.05;
	cfg->risk_bound[POOL_KIND_DISK] = 0.05;
	cfg->alloc_lead_steps = 5;
	cfg->alloc_headroom = 0.10;
	cfg->lease_ttl_usec = 120 * USEC_PER_SEC;
	cfg->mem_manage = true;
	cfg->net_manage = false; /* opt-in: it replaces the uplink's root qdisc */
	cfg->disk_manage = true;
	cfg->hugepages_manage = true;
	cfg->host_reserved_cores = 0.5;
	cfg->host_reserved_mem_bytes = 1ULL << 30;
	cfg->net_uplink[0] = '\0';
	cfg->net_capacity_bps = 0;
	cfg->disk_capacity_bps = 0;
	cfg->safety_enable = true;
	cfg->safety_cpu_pressure = 20;
	cfg->safety_mem_pressure = 10;
	cfg->safety_io_pressure = 30;
	cfg->safety_persist_ticks = 2;
	cfg->safety_cooldown_usec = 10 * USEC_PER_SEC;
	cfg->api_socket[0] = '\0';
	cfg->api_max_clients = 64;
	cfg->api_client_timeout_usec = 10 * USEC_PER_SEC;
	cfg->hook_fail_open = true;
	cfg->hook_timeout_usec = 1500 * 1000;
}

int config_api_socket_path(const struct config *cfg, char *buf, size_t size)
{
	int n;

	if (cfg->api_socket[0])
		return util_strlcpy(buf, cfg->api_socket, size);
	n = snprintf(buf, size, "%s/prescient.sock", cfg->run_dir);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* Model names as the user writes them; checked against the forecast library's own names. */
static int parse_model(const char *s, enum forecast_model *ret)
{
	return forecast_model_from_string(s, ret);
}

struct parse_ctx {
	struct config *cfg;
	const char *origin;
	/* reader state */
	const char *pos;
	int lineno;
	int too_long_line; /* first over-long line, 0 if none */
	/* first value error: its line and message (without the file:line prefix) */
	int error;
	int error_line;
	char msg[CONFIG_ERROR_MAX];
};

static void ctx_error(struct parse_ctx *ctx, int error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void ctx_error(struct parse_ctx *ctx, int error, const char *fmt, ...)
{
	va_list ap;

	if (ctx->error)
		return;
	ctx->error = error;
	ctx->error_line = ctx->lineno;
	va_start(ap, fmt);
	vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
	va_end(ap);
}

/*
 * fgets()-style reader over the string: one line per call so lineno stays in
 * step with inih, leading blanks stripped (no multi-line continuation), and
 * lines longer than inih's buffer refused rather than silently split.
 */
static char *reader_next_line(char *str, int num, void *stream)
{
	struct parse_ctx *ctx = stream;
	const char *p = ctx->pos, *eol;
	size_t len;

	if (!p || !*p)
		return NULL;
	eol = strchr(p, '\n');
	len = eol ? (size_t)(eol - p) : strlen(p);
	ctx->pos = eol ? eol + 1 : p + len;
	ctx->lineno++;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	if (len > CONFIG_LINE_MAX || len + 2 > (size_t)num) {
		if (!ctx->too_long_line)
			ctx->too_long_line = ctx->lineno;
		/* Hand inih a comment so it goes on; the error is reported after. */
		str[0] = '#';
		str[1] = '\n';
		str[2] = '\0';
		return str;
	}
	memcpy(str, p, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

static const struct key_desc *key_find(const char *section, const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

static bool section_known(const char *section)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!strcmp(keys[i].section, section))
			return true;
	return false;
}

static bool in_range(const struct key_desc *k, double v)
{
	return v >= k->min && v <= k->max;
}

/*
 * Link rates as tc and ethtool write them: a number with k, M, G or T
 * (powers of 1000, any case), optionally followed by "bit". "bps" is refused
 * on purpose: tc reads it as bytes per second, people as bits.
 */
static int parse_bitrate(const char *s, uint64_t *ret)
{
	static const struct {
		const char *suffix;
		double mult;
	} units[] = {
		{ "kbit", 1e3 }, { "mbit", 1e6 }, { "gbit", 1e9 }, { "tbit", 1e12 }, { "bit", 1 },
		{ "k", 1e3 },	 { "m", 1e6 },	  { "g", 1e9 },	   { "t", 1e12 },    { "", 1 },
	};
	const char *end;
	char num[64];
	size_t n;
	double v;
	int r;

	while (*s == ' ' || *s == '\t')
		s++;
	for (end = s; (*end >= '0' && *end <= '9') || *end == '.'; end++)
		;
	n = (size_t)(end - s);
	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n);
	num[n] = '\0';
	r = util_parse_double(num, &v);
	if (r < 0)
		return r;
	while (*end == ' ' || *end == '\t')
		end++;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		size_t l = strlen(units[i].suffix);
		const char *rest = end + l;

		if (strncasecmp(end, units[i].suffix, l))
			continue;
		while (*rest == ' ' || *rest == '\t')
			rest++;
		if (*rest)
			continue;
		v *= units[i].mult;
		if (!isfinite(v) || v >= 1.8e19)
			return -ERANGE;
		*ret = (uint64_t)(v + 0.5);
		return 0;
	}
	return -EINVAL;
}

/* A size per second: "500M", "2G/s", "1048576". */
static int parse_byterate(const char *s, uint64_t *ret)
{
	_cleanup_free_ char *copy = NULL;
	size_t len = strlen(s);

	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len >= 2 && s[len - 2] == '/' && (s[len - 1] == 's' || s[len - 1] == 'S')) {
		copy = strndup(s, len - 2);
		if (!copy)
			return -ENOMEM;
		s = copy;
	}
	return util_parse_size_bytes(s, ret);
}

/* What the kernel's dev_valid_name() accepts, so a typo fails here and not at pool time. */
static int ifname_check(const char *s)
{
	size_t len = strlen(s);

	if (len >= CONFIG_IFNAME_MAX)
		return -ENAMETOOLONG;
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return -EINVAL;
	for (const char *p = s; *p; p++)
		if (*p == '/' || *p == ':' || (unsigned char)*p <= ' ' || *p == 0x7f)
			return -EINVAL;
	return 0;
}

/* Parses value for key k into the config; -EINVAL/-ERANGE on a bad value. */
static int key_apply(const struct key_desc *k, const char *value, struct config *cfg)
{
	char *field = (char *)cfg + k->offset;
	uint64_t u;
	double d;
	bool b;
	int r;

	switch (k->type) {
	case KEY_BOOL:
		r = util_parse_bool(value, &b);
		if (r < 0)
			return r;
		*(bool *)field = b;
		return 0;
	case KEY_U32:
		r = util_parse_u64(value, &u);
		if (r < 0)
			return r;
		if (!in_range(k, (double)u))
			return -ERANGE;
		*(uint32_t *)field = (uint32_t)u;
		return 0;
	case KEY_DURATION:
		r = util_parse_duration_usec(value, &u);
		if (r < 0)
			return r;
		if (!in_range(k, (double)u))
			return -ERANGE;
		*(uint64_t *)field = u;
		return 0;
	case KEY_DURATION_S:
		r = util_parse_duration_usec(value, &u);
		if (r < 0)
			return r;
		if (u % USEC_PER_SEC)
			return -EINVAL;
		u /= USEC_PER_SEC;
		if (!in_range(k, (double)u))
			return -ERANGE;
		*(uint32_t *)field = (uint32_t)u;
		return 0;
	case KEY_DOUBLE:
	case KEY_DOUBLE_POS:
		r = util_parse_double(value, &d);
		if (r < 0)
			return r;
		if (!in_range(k, d) || (k->type == KEY_DOUBLE_POS && d == k->min))
			return -ERANGE;
		*(double *)field = d;
		return 0;
	case KEY_RATIO: {
		size_t len = strlen(value);
		_cleanup_free_ char *copy = NULL;

		while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
			len--;
		if (len > 0 && value[len - 1] == '%') {
			copy = strndup(value, len - 1);
			if (!copy)
				return -ENOMEM;
			r = util_parse_double(copy, &d);
			d /= 100.0;
		} else {
			r = util_parse_double(value, &d);
		}
		if (r < 0)
			return r;
		if (!in_range(k, d))
			return -ERANGE;
		*(double *)field = d;
		return 0;
	}
	case KEY_SOCKET:
		if (!value[0]) {
			*field = '\0';
			return 0;
		}
		if (strlen(value) > 107)
			return -ENAMETOOLONG;
		__attribute__((fallthrough));
	case KEY_PATH:
		if (value[0] != '/')
			return -EINVAL;
		__attribute__((fallthrough));
	case KEY_STRING:
		if (!value[0])
			return -EINVAL;
		return util_strlcpy(field, value, k->size);
	case KEY_LOG_LEVEL:
		r = log_level_from_string(value);
		if (r < 0)
			return r;
		*(int *)field = r;
		return 0;
	case KEY_MODEL: {
		enum forecast_model m;

		r = parse_model(value, &m);
		if (r < 0)
			return r;
		*(enum forecast_model *)field = m;
		return 0;
	}
	case KEY_CLASS: {
		enum pool_class c;

		r = pool_class_from_string(value, &c);
		if (r < 0)
			return r;
		*(enum pool_class *)field = c;
		return 0;
	}
	case KEY_SIZE:
	case KEY_BITRATE:
	case KEY_BYTERATE:
		if (k->type == KEY_SIZE)
			r = util_parse_size_bytes(value, &u);
		else if (k->type == KEY_BITRATE)
			r = parse_bitrate(value, &u);
		else
			r = parse_byterate(value, &u);
		if (r < 0)
			return r;
		if (!in_range(k, (double)u))
			return -ERANGE;
		*(uint64_t *)field = u;
		return 0;
	case KEY_IFNAME:
		r = ifname_check(value);
		if (r < 0)
			return r;
		return util_strlcpy(field, value, k->size);
	}
	return -EINVAL;
}

const struct config_vm *config_vm_find(const struct config *cfg, const char *name, const char *uuid)
{
	for (uint32_t i = 0; uuid && uuid[0] && i < cfg->n_vms; i++)
		if (!strcasecmp(cfg->vms[i].key, uuid))
			return &cfg->vms[i];
	for (uint32_t i = 0; name && i < cfg->n_vms; i++)
		if (!strcmp(cfg->vms[i].key, name))
			return &cfg->vms[i];
	return NULL;
}

enum forecast_model config_vm_model(const struct config *cfg, const char *name, const char *uuid,
				    bool *ret_overridden)
{
	const struct config_vm *v = config_vm_find(cfg, name, uuid);
	bool over = v && v->has_model;

	if (ret_overridden)
		*ret_overridden = over;
	return over ? v->model : cfg->model;
}

bool config_vm_cpu_manage(const struct config *cfg, const char *name, const char *uuid)
{
	const struct config_vm *v = config_vm_find(cfg, name, uuid);

	return v && v->has_cpu_manage ? v->cpu_manage : cfg->cpu_manage;
}

enum pool_class config_vm_class(const struct config *cfg, const char *name, const char *uuid)
{
	const struct config_vm *v = config_vm_find(cfg, name, uuid);

	if (v && v->has_class)
		return v->cls;
	/* Pinned cores are reserved whole: a pinned VM is guaranteed by construction. */
	if (v && v->has_pin && v->pin)
		return POOL_CLASS_GUARANTEED;
	return cfg->alloc_class;
}

bool config_vm_pin(const struct config *cfg, const char *name, const char *uuid)
{
	const struct config_vm *v = config_vm_find(cfg, name, uuid);

	return v && v->has_pin && v->pin;
}

/* "vm NAME" (blanks around NAME ignored): NAME, or NULL when the section is not a [vm ...]. */
static const char *vm_section_name(const char *section, char *buf, size_t size)
{
	size_t len;

	if (strncmp(section, "vm", 2) || (section[2] && section[2] != ' ' && section[2] != '\t'))
		return NULL;
	section += 2;
	while (*section == ' ' || *section == '\t')
		section++;
	len = strlen(section);
	while (len > 0 && (section[len - 1] == ' ' || section[len - 1] == '\t'))
		len--;
	if (len >= size)
		len = size - 1;
	memcpy(buf, section, len);
	buf[len] = '\0';
	return buf;
}

static int vm_key_apply(struct parse_ctx *ctx, const char *section, const char *vm,
			const char *name, const char *value)
{
	struct config *cfg = ctx->cfg;
	struct config_vm *v = NULL;
	enum forecast_model model = FORECAST_AUTO;
	enum pool_class cls = POOL_CLASS_BURSTABLE;
	bool b = false;

	/* inih keeps 49 characters of a section name: a longer one arrives cut. */
	if (strlen(section) >= 49 || strlen(vm) > CONFIG_VM_KEY_MAX) {
		ctx_error(ctx, -ENAMETOOLONG,
			  "[%s]: the VM name is longer than %d characters: name the VM by its "
			  "UUID, e.g. [vm 6f1c1a3e-0c1b-4f5e-9d2a-2b7f0b9e4c11]",
			  section, CONFIG_VM_KEY_MAX);
		return 0;
	}
	if (!vm[0]) {
		ctx_error(ctx, -EINVAL,
			  "[%s] needs a VM name or UUID, e.g. [vm web1] or "
			  "[vm 6f1c1a3e-0c1b-4f5e-9d2a-2b7f0b9e4c11]",
			  section);
		return 0;
	}
	for (const char *p = vm; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			ctx_error(ctx, -EINVAL, "[vm %s]: control character in the VM name", vm);
			return 0;
		}
	if (!strcmp(name, "model")) {
		if (forecast_model_from_string(value, &model) < 0) {
			ctx_error(ctx, -EINVAL,
				  "[vm %s] model = '%s' is not valid: expected auto, naive, "
				  "seasonal-naive, ses, holt, hw-add, hw-mul, arima, lstm or "
				  "ensemble",
				  vm, value);
			return 0;
		}
	} else if (!strcmp(name, "cpu_manage") || !strcmp(name, "pin")) {
		if (util_parse_bool(value, &b) < 0) {
			ctx_error(ctx, -EINVAL,
				  "[vm %s] %s = '%s' is not valid: expected yes/no, "
				  "true/false, on/off or 1/0",
				  vm, name, value);
			return 0;
		}
	} else if (!strcmp(name, "class")) {
		if (pool_class_from_string(value, &cls) < 0) {
			ctx_error(ctx, -EINVAL,
				  "[vm %s] class = '%s' is not valid: expected guaranteed, "
				  "burstable or best-effort",
				  vm, value);
			return 0;
		}
	} else {
		ctx_error(ctx, -EINVAL,
			  "[vm %s] unknown key '%s': a [vm NAME] section takes model, "
			  "cpu_manage, class and pin",
			  vm, name);
		return 0;
	}

	for (uint32_t i = 0; i < cfg->n_vms && !v; i++)
		if (!strcmp(cfg->vms[i].key, vm))
			v = &cfg->vms[i];
	if (!v) {
		if (cfg->n_vms >= CONFIG_VMS_MAX) {
			ctx_error(ctx, -E2BIG,
				  "[vm %s]: more than %d [vm NAME] sections; set the common "
				  "choice in [forecast] and [cpu] instead",
				  vm, CONFIG_VMS_MAX);
			return 0;
		}
		v = &cfg->vms[cfg->n_vms++];
		memset(v, 0, sizeof(*v));
		util_strlcpy(v->key, vm, sizeof(v->key));
	}
	if (!strcmp(name, "model")) {
		v->has_model = true;
		v->model = model;
	} else if (!strcmp(name, "cpu_manage")) {
		v->has_cpu_manage = true;
		v->cpu_manage = b;
	} else if (!strcmp(name, "class")) {
		v->has_class = true;
		v->cls = cls;
	} else {
		v->has_pin = true;
		v->pin = b;
	}
	/*
	 * Checked on the merged section, so the line that completes the
	 * contradiction is the one named, whichever file it is in. The config
	 * is a scratch copy: a refused line changes nothing the caller sees.
	 */
	if (v->has_pin && v->pin && v->has_class && v->cls != POOL_CLASS_GUARANTEED) {
		ctx_error(ctx, -EINVAL,
			  "[vm %s] pin = yes with class = %s: pinned cores are reserved whole, "
			  "so a pinned VM must be class guaranteed (or have no class)",
			  vm, pool_class_to_string(v->cls));
		return 0;
	}
	return 1;
}

static int ini_on_value(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;
	const struct key_desc *k;
	char vm[64];
	int r;

	if (ctx->error)
		return 1; /* only the first error is reported; inih goes on regardless */
	if (!section[0]) {
		ctx_error(ctx, -EINVAL,
			  "'%s' is outside of any section: put it under its [section] header "
			  "(see prescient.conf(5) / the example file)",
			  name);
		return 0;
	}
	if (vm_section_name(section, vm, sizeof(vm)))
		return vm_key_apply(ctx, section, vm, name, value);
	if (!section_known(section)) {
		ctx_error(ctx, -EINVAL,
			  "unknown section [%s]: known sections are [daemon], [libvirt], "
			  "[collect], [forecast], [cpu], [alloc], [pool], [safety], [api], "
			  "[hook] and [vm NAME]",
			  section);
		return 0;
	}
	k = key_find(section, name);
	if (!k) {
		ctx_error(ctx, -EINVAL,
			  "[%s] unknown key '%s': check the spelling against "
			  "the example configuration",
			  section, name);
		return 0;
	}
	r = key_apply(k, value, ctx->cfg);
	if (r < 0) {
		ctx_error(ctx, r, "[%s] %s = '%s' is not valid: expected %s", section, name, value,
			  k->accepted);
		return 0;
	}
	return 1;
}

/* Checks that need several keys; run once on the merged result. */
static int config_validate(const struct config *cfg, char *errbuf, size_t errbuf_size)
{
	const char *msg = NULL;

	if (cfg->cpu_lead_steps > cfg->horizon_steps)
		msg = "[cpu] lead_time is larger than [forecast] horizon: the planner cannot "
		      "look further ahead than the forecast; raise horizon or lower lead_time";
	else if (cfg->cpu_max_cores > 0 && cfg->cpu_max_cores < cfg->cpu_min_cores)
		msg = "[cpu] max_cores is below min_cores: set max_cores >= min_cores, or 0 for "
		      "the VM's vCPU count";
	else if (cfg->alloc_lead_steps > cfg->horizon_steps)
		msg = "[alloc] lead_time is larger than [forecast] horizon: the planner cannot "
		      "look further ahead than the forecast; raise horizon or lower lead_time";
	else if (cfg->history_steps < cfg->horizon_steps)
		msg = "[forecast] history is shorter than horizon: keep at least as many steps "
		      "of history as are forecast";
	if (!msg)
		return 0;
	if (errbuf && errbuf_size)
		snprintf(errbuf, errbuf_size, "configuration: %s", msg);
	return -EINVAL;
}

static int report(char *errbuf, size_t errbuf_size, const char *origin, int line, int error,
		  const char *msg)
{
	if (errbuf && errbuf_size)
		snprintf(errbuf, errbuf_size, "%s:%d: %s", origin, line, msg);
	return error;
}

/* Parses one text onto cfg in place; cfg may be half-written on error (callers use a copy). */
static int parse_into(const char *text, const char *origin, struct config *cfg, char *errbuf,
		      size_t errbuf_size)
{
	struct parse_ctx ctx = {
		.cfg = cfg,
		.origin = origin ? origin : "<string>",
		.pos = text,
	};
	char msg[64];
	int r;

	if (strlen(text) > CONFIG_FILE_MAX) {
		snprintf(msg, sizeof(msg), "larger than %d bytes", CONFIG_FILE_MAX);
		return report(errbuf, errbuf_size, ctx.origin, 0, -EFBIG, msg);
	}
	r = ini_parse_stream(reader_next_line, &ctx, ini_on_value, &ctx);
	if (r == -2)
		return -ENOMEM;
	/*
	 * Report the earliest problem: inih returns the first line that failed
	 * (its own syntax errors or our handler's), over-long lines were hidden
	 * from it and are remembered here.
	 */
	if (ctx.too_long_line && (r <= 0 || ctx.too_long_line < r)) {
		snprintf(msg, sizeof(msg), "line longer than %d characters", CONFIG_LINE_MAX);
		return report(errbuf, errbuf_size, ctx.origin, ctx.too_long_line, -EINVAL, msg);
	}
	if (r > 0 && (!ctx.error || r < ctx.error_line))
		return report(errbuf, errbuf_size, ctx.origin, r, -EINVAL,
			      "syntax error: expected '[section]', 'key = value' or a comment "
			      "starting with '#' or ';'");
	if (ctx.error)
		return report(errbuf, errbuf_size, ctx.origin, ctx.error_line, ctx.error, ctx.msg);
	return 0;
}

int config_parse_string_ex(const char *text, const char *origin, struct config *cfg, char *errbuf,
			   size_t errbuf_size)
{
	struct config tmp = *cfg;
	int r;

	if (!text)
		return -EINVAL;
	r = parse_into(text, origin, &tmp, errbuf, errbuf_size);
	if (r < 0)
		return r;
	r = config_validate(&tmp, errbuf, errbuf_size);
	if (r < 0)
		return r;
	*cfg = tmp;
	return 0;
}

int config_parse_string(const char *text, const char *origin, struct config *cfg)
{
	char err[CONFIG_ERROR_MAX];
	int r;

	r = config_parse_string_ex(text, origin, cfg, err, sizeof(err));
	if (r < 0)
		log_error("%s", err);
	return r;
}

static int parse_file(const char *path, bool required, struct config *cfg, char *errbuf,
		      size_t errbuf_size)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	r = util_file_read(path, CONFIG_FILE_MAX, &text, &len);
	if (r == -ENOENT && !required)
		return 0;
	if (r < 0) {
		if (errbuf && errbuf_size)
			snprintf(errbuf, errbuf_size, "%s: cannot read configuration: %s%s", path,
				 strerror(-r),
				 r == -ENOENT ? " (create it, or omit --config to use defaults)"
					      : "");
		return r;
	}
	if (strlen(text) != len) {
		if (errbuf && errbuf_size)
			snprintf(errbuf, errbuf_size, "%s: contains a NUL byte: not a text file",
				 path);
		return -EINVAL;
	}
	return parse_into(text, path, cfg, errbuf, errbuf_size);
}

static int dropin_filter(const struct dirent *de)
{
	size_t l = strlen(de->d_name);

	return de->d_name[0] != '.' && l > 5 && !strcmp(de->d_name + l - 5, ".conf");
}

static void free_namelist(struct dirent **list, int n)
{
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

int config_load_ex(const char *main_path, bool required, struct config *ret, char *errbuf,
		   size_t errbuf_size)
{
	_cleanup_free_ char *dir = NULL;
	struct dirent **list = NULL;
	struct config tmp;
	int n, r;

	if (!main_path)
		return -EINVAL;
	config_init_defaults(&tmp);
	r = parse_file(main_path, required, &tmp, errbuf, errbuf_size);
	if (r < 0)
		return r;

	if (asprintf(&dir, "%s.d", main_path) < 0)
		return -ENOMEM;
	/* alphasort is strcoll; in the C locale of the daemon that is byte order. */
	n = scandir(dir, &list, dropin_filter, alphasort);
	if (n < 0) {
		if (errno != ENOENT && errno != ENOTDIR) {
			r = -errno;
			if (errbuf && errbuf_size)
				snprintf(errbuf, errbuf_size, "%s: cannot list drop-ins: %s", dir,
					 strerror(-r));
			return r;
		}
		n = 0;
	}
	if (n > CONFIG_DROPINS_MAX) {
		free_namelist(list, n);
		if (errbuf && errbuf_size)
			snprintf(errbuf, errbuf_size, "%s: more than %d drop-ins", dir,
				 CONFIG_DROPINS_MAX);
		return -E2BIG;
	}
	for (int i = 0; i < n && r >= 0; i++) {
		_cleanup_free_ char *path = NULL;

		if (asprintf(&path, "%s/%s", dir, list[i]->d_name) < 0)
			r = -ENOMEM;
		else
			r = parse_file(path, true, &tmp, errbuf, errbuf_size);
	}
	free_namelist(list, n);
	if (r < 0)
		return r;
	r = config_validate(&tmp, errbuf, errbuf_size);
	if (r < 0)
		return r;
	*ret = tmp;
	return 0;
}

int config_load(const char *main_path, bool required, struct config *ret)
{
	char err[CONFIG_ERROR_MAX];
	int r;

	r = config_load_ex(main_path, required, ret, err, sizeof(err));
	if (r < 0)
		log_error("%s", err);
	return r;
}
