// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * config.c: every key parsed and range-checked from a table of cases, error
 * messages that name file:line, section, key and the accepted range, nothing
 * applied on error, drop-ins in lexical order, and the shipped example file
 * whose commented defaults must equal config_init_defaults().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "util.h"
#include "tap.h"

struct value_case {
	const char *text;
	bool ok;
	const char *err_has; /* substring of the message when !ok */
};

static const struct value_case value_cases[] = {
	/* accepted */
	{ "[daemon]\nlog_level = debug\n", true, NULL },
	{ "[daemon]\nlog_level = 3\n", true, NULL },
	{ "[daemon]\ndry_run = yes\nstate_dir = /var/tmp/x\nrun_dir=/run/p\n", true, NULL },
	{ "[libvirt]\nuri = qemu+ssh://h/system\nkeepalive_interval = 1min\n", true, NULL },
	{ "[libvirt]\nkeepalive_count = 100\nreconnect_delay = 100ms\n", true, NULL },
	{ "[collect]\ninterval = 0.5s\nnetlink = off\nbpf = 0\ncgroup_root = /tmp/cg\n", true,
	  NULL },
	{ "[forecast]\nstep = 5min\nhorizon = 64\nmodel = holt\nhistory = 64\n", true, NULL },
	{ "[forecast]\nhorizon = 64\nhistory = 16\n", false, "history is shorter than horizon" },
	{ "[forecast]\nrefit_every = 0\nmodel = hw-add\n", true, NULL },
	{ "[cpu]\nheadroom = 25%\nlower_ratio = 0.5\nmin_cores = 0.01\nmax_cores = 8\n", true,
	  NULL },
	{ "[cpu]\nperiod = 1ms\nlower_after = 10000\nlead_time = 15\n", true, NULL },
	{ "; comment\n# comment\n\n  [cpu]  \n\t manage = false ; trailing comment\n", true, NULL },
	{ "[api]\nsocket = /tmp/p.sock\nmax_clients = 1\nclient_timeout = 1h\n", true, NULL },
	{ "[hook]\nfail_open = no\ntimeout = 2s\n", true, NULL },
	{ "", true, NULL },
	/* refused, with the reason */
	{ "log_level = debug\n", false, "outside of any section" },
	{ "[deamon]\nlog_level = debug\n", false, "unknown section [deamon]" },
	{ "[daemon]\nloglevel = debug\n", false, "[daemon] unknown key 'loglevel'" },
	{ "[daemon]\nlog_level = verbose\n", false, "expected one of debug, info" },
	{ "[daemon]\ndry_run = maybe\n", false, "[daemon] dry_run = 'maybe' is not valid" },
	{ "[daemon]\nstate_dir = relative/path\n", false, "an absolute path" },
	{ "[daemon]\nstate_dir =\n", false, "state_dir" },
	{ "[libvirt]\nkeepalive_interval = 1500ms\n", false, "whole number of seconds" },
	{ "[libvirt]\nkeepalive_interval = 0\n", false, "from 1s to 10min" },
	{ "[libvirt]\nkeepalive_count = 101\n", false, "from 1 to 100" },
	{ "[libvirt]\nkeepalive_count = -1\n", false, "from 1 to 100" },
	{ "[libvirt]\nkeepalive_count = 3x\n", false, "keepalive_count = '3x'" },
	{ "[collect]\ninterval = 50ms\n", false, "from 100ms to 1h" },
	{ "[collect]\ninterval = 2parsecs\n", false, "interval" },
	{ "[forecast]\nhorizon = 65\n", false, "from 1 to 64" },
	{ "[forecast]\nhorizon = 0\n", false, "from 1 to 64" },
	{ "[forecast]\nmodel = prophet\n", false, "auto, naive" },
	{ "[forecast]\nhistory = 15\n", false, "from 16 to 1000000" },
	{ "[cpu]\nheadroom = 1100%\n", false, "percentage" },
	{ "[cpu]\nheadroom = -0.1\n", false, "headroom" },
	{ "[cpu]\nheadroom = nan\n", false, "headroom" },
	{ "[cpu]\nlower_ratio = 0\n", false, "from 0.01 to 1" },
	{ "[cpu]\nmin_cores = 4\nmax_cores = 2\n", false, "max_cores is below min_cores" },
	{ "[cpu]\nlead_time = 20\n", false, "lead_time is larger than [forecast] horizon" },
	{ "[cpu]\nperiod = 2s\n", false, "from 1ms to 1s" },
	{ "[api]\nmax_clients = 0\n", false, "from 1 to 4096" },
	{ "[hook]\ntimeout = 3s\n", false, "from 100ms to 2s" },
	{ "[api]\nsocket = run/p.sock\n", false, "an absolute path of at most 107 bytes" },
	{ "[api]\nsocket = "
	  "/run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n",
	  false, "at most 107 bytes" },
	{ "[daemon\nlog_level = info\n", false, "syntax error" },
	/* [vm NAME] */
	{ "[vm web1]\nmodel = naive\n", true, NULL },
	{ "[vm 6f1c1a3e-0c1b-4f5e-9d2a-2b7f0b9e4c11]\nmodel = arima\ncpu_manage = no\n", true,
	  NULL },
	{ "[vm   my vm  ]\ncpu_manage = yes\n", true, NULL },
	{ "[vm a23456789012345678901234567890123456789012345]\nmodel = auto\n", true,
	  NULL }, /* 45 characters */
	{ "[vm a234567890123456789012345678901234567890123456]\nmodel = auto\n", false,
	  "longer than 45 characters" },
	{ "[vm a23456789012345678901234567890123456789012345678901234567890]\nmodel = auto\n",
	  false, "name the VM by its UUID" },
	{ "[vm]\nmodel = naive\n", false, "needs a VM name or UUID" },
	{ "[vm  ]\nmodel = naive\n", false, "needs a VM name or UUID" },
	{ "[vmweb1]\nmodel = naive\n", false, "unknown section [vmweb1]" },
	{ "[vm web1]\nmodel = prophet\n", false, "[vm web1] model = 'prophet' is not valid" },
	{ "[vm web1]\ncpu_manage = maybe\n", false, "[vm web1] cpu_manage = 'maybe'" },
	{ "[vm web1]\nhorizon = 5\n", false, "[vm web1] unknown key 'horizon'" },
	{ "[vm web1]\n\nmodel = holt\n[vm web2]\nmodel = lstm\n[vm web1]\nmodel = bad\n", false,
	  "t.conf:7: [vm web1] model = 'bad'" },
	{ "[daemon]\nlog_level\n", false, "syntax error" },
	/* [alloc] */
	{ "[alloc]\nmanage = no\nclass = guaranteed\nlead_time = 15\nheadroom = 0%\n", true, NULL },
	{ "[alloc]\nclass = best-effort\nlease_ttl = 1s\n", true, NULL },
	{ "[alloc]\nrisk_bound_cpu = 0\nrisk_bound_memory = 50%\nrisk_bound_net = 0.5\n"
	  "risk_bound_disk = 0.001\n",
	  true, NULL },
	{ "[alloc]\nmemory_manage = off\nnet_manage = 0\ndisk_manage = no\n"
	  "hugepages_manage = false\n",
	  true, NULL },
	{ "[alloc]\nclass = besteffort\n", false, "guaranteed, burstable or best-effort" },
	{ "[alloc]\nclass = Guaranteed\n", false, "class = 'Guaranteed' is not valid" },
	{ "[alloc]\nrisk_bound_cpu = 0.51\n", false, "a probability from 0 to 0.5" },
	{ "[alloc]\nrisk_bound_memory = 60%\n", false, "risk_bound_memory = '60%'" },
	{ "[alloc]\nrisk_bound_net = -0.01\n", false, "risk_bound_net" },
	{ "[alloc]\nrisk_bound_disk = nan\n", false, "risk_bound_disk" },
	{ "[alloc]\nrisk_bound_hugepages = 0\n", false,
	  "[alloc] unknown key 'risk_bound_hugepages'" },
	{ "[alloc]\nlead_time = 0\n", false, "from 1 to 64" },
	{ "[alloc]\nlead_time = 20\n", false,
	  "[alloc] lead_time is larger than [forecast] horizon" },
	{ "[alloc]\nheadroom = 11\n", false, "a fraction from 0 to 10" },
	{ "[alloc]\nlease_ttl = 500ms\n", false, "from 1s to 1d" },
	{ "[alloc]\nlease_ttl = 2d\n", false, "from 1s to 1d" },
	{ "[alloc]\nmem_manage = no\n", false, "[alloc] unknown key 'mem_manage'" },
	/* [pool] */
	{ "[pool]\nhost_reserved_cores = 0\nhost_reserved_memory = 0\nuplink =\n", true, NULL },
	{ "[pool]\nhost_reserved_cores = 2.5\nhost_reserved_memory = 512M\nuplink = bond0.100\n",
	  true, NULL },
	{ "[pool]\nuplink = eth0\nuplink_capacity = 10G\ndisk_capacity = 500M\n", true, NULL },
	{ "[pool]\nuplink_capacity = 1000mbit\ndisk_capacity = 2G/s\n", true, NULL },
	{ "[pool]\nuplink = a23456789012345\nuplink_capacity = 0\ndisk_capacity = 0\n", true,
	  NULL },
	{ "[pool]\nhost_reserved_cores = -1\n", false, "from 0 to 4096" },
	{ "[pool]\nhost_reserved_memory = 1X\n", false, "a size such as 1G" },
	{ "[pool]\nhost_reserved_memory = -1G\n", false, "host_reserved_memory = '-1G'" },
	{ "[pool]\nhost_reserved_memory = 2000T\n", false, "up to 1024T" },
	{ "[pool]\nuplink = a234567890123456\n", false, "at most 15 characters" },
	{ "[pool]\nuplink = eth0:1\n", false, "uplink = 'eth0:1' is not valid" },
	{ "[pool]\nuplink = ../x\n", false, "without '/'" },
	{ "[pool]\nuplink = ..\n", false, "uplink = '..'" },
	{ "[pool]\nuplink = my if\n", false, "uplink = 'my if'" },
	{ "[pool]\nuplink_capacity = 10Gbps\n", false, "10gbit or 100mbit" },
	{ "[pool]\nuplink_capacity = 100T\n", false, "up to 10T" },
	{ "[pool]\nuplink_capacity = G\n", false, "uplink_capacity = 'G'" },
	{ "[pool]\nuplink_capacity = -1\n", false, "uplink_capacity = '-1'" },
	{ "[pool]\ndisk_capacity = 2T\n", false, "up to 1T" },
	{ "[pool]\ndisk_capacity = 2G/min\n", false, "disk_capacity = '2G/min'" },
	/* [safety] */
	{ "[safety]\nenable = no\ncpu_pressure = 100\nmemory_pressure = 0.5\n"
	  "io_pressure = 1\npersist = 1\ncooldown = 0\n",
	  true, NULL },
	{ "[safety]\ncpu_pressure = 0\n", false, "above 0 and at most 100" },
	{ "[safety]\nmemory_pressure = 100.5\n", false, "above 0 and at most 100" },
	{ "[safety]\nio_pressure = lots\n", false, "io_pressure = 'lots'" },
	{ "[safety]\npersist = 0\n", false, "from 1 to 1000" },
	{ "[safety]\ncooldown = 2h\n", false, "from 0 to 1h" },
	/* [vm NAME] class and pin */
	{ "[vm db]\nclass = guaranteed\npin = yes\n", true, NULL },
	{ "[vm db]\npin = yes\n", true, NULL },
	{ "[vm db]\nclass = best-effort\npin = no\n", true, NULL },
	{ "[vm db]\nclass = gold\n", false, "[vm db] class = 'gold' is not valid" },
	{ "[vm db]\npin = sometimes\n", false, "[vm db] pin = 'sometimes' is not valid" },
	{ "[vm db]\nclass = burstable\npin = yes\n", false,
	  "t.conf:3: [vm db] pin = yes with class = burstable" },
	{ "[vm db]\npin = on\n[vm x]\n[vm db]\nclass = best-effort\n", false,
	  "t.conf:5: [vm db] pin = yes with class = best-effort" },
	{ "[vm db]\nrisk_bound_cpu = 0.1\n", false, "takes model, cpu_manage, class and pin" },
};

static void test_value_table(void)
{
	for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
		const struct value_case *c = &value_cases[i];
		struct config cfg, before;
		char err[CONFIG_ERROR_MAX] = "";
		int r;

		config_init_defaults(&cfg);
		before = cfg;
		r = config_parse_string_ex(c->text, "t.conf", &cfg, err, sizeof(err));
		if (c->ok != (r == 0)) {
			fprintf(stderr, "case %zu: %s -> r=%d err='%s'\n", i, c->text, r, err);
			test_failures++;
			continue;
		}
		if (c->ok)
			continue;
		check(r < 0);
		/* nothing applied on error */
		check(memcmp(&cfg, &before, sizeof(cfg)) == 0);
		check(strncmp(err, "t.conf:", 7) == 0 || strncmp(err, "configuration:", 14) == 0);
		if (!strstr(err, c->err_has)) {
			fprintf(stderr, "case %zu: message '%s' lacks '%s'\n", i, err, c->err_has);
			test_failures++;
		}
	}
}

static void test_values_land(void)
{
	struct config cfg;
	char err[CONFIG_ERROR_MAX] = "";
	int r;

	config_init_defaults(&cfg);
	r = config_parse_string_ex("[daemon]\n"
				   "log_level = debug\n"
				   "dry_run = on\n"
				   "run_dir = /tmp/run\n"
				   "[libvirt]\n"
				   "uri = test:///default\n"
				   "keepalive_interval = 2min\n"
				   "reconnect_delay = 250ms\n"
				   "[collect]\n"
				   "interval = 2\n"
				   "bpf = false\n"
				   "[forecast]\n"
				   "step = 30s\n"
				   "horizon = 20\n"
				   "model = ses\n"
				   "[cpu]\n"
				   "headroom = 20%\n"
				   "max_cores = 3.5\n"
				   "period = 50ms\n"
				   "[hook]\n"
				   "fail_open = false\n"
				   "timeout = 500ms\n",
				   "t.conf", &cfg, err, sizeof(err));
	check_int_eq(r, 0);
	check_int_eq(cfg.log_level, LOG_DEBUG);
	check(cfg.dry_run);
	check_str_eq(cfg.run_dir, "/tmp/run");
	check_str_eq(cfg.libvirt_uri, "test:///default");
	check_int_eq(cfg.keepalive_interval_sec, 120);
	check_int_eq(cfg.reconnect_delay_usec, 250000);
	check_int_eq(cfg.collect_interval_usec, 2000000);
	check(!cfg.bpf);
	check(cfg.netlink);
	check_int_eq(cfg.forecast_step_usec, 30000000);
	check_int_eq(cfg.horizon_steps, 20);
	check_int_eq(cfg.model, FORECAST_SES);
	check_double_near(cfg.cpu_headroom, 0.20, 1e-12);
	check_double_near(cfg.cpu_max_cores, 3.5, 1e-12);
	check_int_eq(cfg.cpu_period_usec, 50000);
	check(!cfg.hook_fail_open);
	check_int_eq(cfg.hook_timeout_usec, 500000);

	/* later lines win; a second string is applied on top of the first */
	r = config_parse_string_ex("[cpu]\nmin_cores = 1\nmin_cores = 2\n", "u.conf", &cfg, err,
				   sizeof(err));
	check_int_eq(r, 0);
	check_double_near(cfg.cpu_min_cores, 2, 1e-12);
	check_int_eq(cfg.horizon_steps, 20);
}

static void test_vm_sections(void)
{
	struct config cfg;
	char err[CONFIG_ERROR_MAX] = "", text[8192];
	const struct config_vm *v;
	bool over;
	size_t off = 0;

	config_init_defaults(&cfg);
	check_int_eq(config_parse_string_ex(
			     "[forecast]\nmodel = holt\n"
			     "[vm web1]\nmodel = naive\n"
			     "[vm 6F1C1A3E-0C1B-4F5E-9D2A-2B7F0B9E4C11]\ncpu_manage = no\n"
			     "[vm  web 2 ]\ncpu_manage = yes\nmodel = auto\n"
			     "[vm web1]\ncpu_manage = off\n",
			     "t.conf", &cfg, err, sizeof(err)),
		     0);
	check_int_eq(cfg.n_vms, 3); /* the same name again merges */
	v = config_vm_find(&cfg, "web1", "");
	check(v && v->has_model && v->model == FORECAST_NAIVE && v->has_cpu_manage &&
	      !v->cpu_manage);
	check_int_eq(config_vm_model(&cfg, "web1", NULL, &over), FORECAST_NAIVE);
	check(over);
	check(!config_vm_cpu_manage(&cfg, "web1", NULL));
	/* by UUID, in any case, before the name */
	check_int_eq(config_vm_model(&cfg, "web1", "6f1c1a3e-0c1b-4f5e-9d2a-2b7f0b9e4c11", &over),
		     FORECAST_HOLT);
	check(!over);
	check(!config_vm_cpu_manage(&cfg, "other", "6f1c1a3e-0c1b-4f5e-9d2a-2b7f0b9e4c11"));
	/* blanks around the name are not part of it */
	check_int_eq(config_vm_model(&cfg, "web 2", NULL, &over), FORECAST_AUTO);
	check(over);
	check(config_vm_cpu_manage(&cfg, "web 2", NULL));
	/* no section: the global settings */
	check_int_eq(config_vm_model(&cfg, "db", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", &over),
		     FORECAST_HOLT);
	check(!over);
	check(config_vm_cpu_manage(&cfg, "db", NULL));
	check(config_vm_find(&cfg, "WEB1", NULL) == NULL); /* names are exact */

	/* bounded: CONFIG_VMS_MAX sections, the next one is refused with its line */
	for (int i = 0; i <= CONFIG_VMS_MAX; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "[vm v%d]\nmodel = ses\n",
					i);
	config_init_defaults(&cfg);
	check(config_parse_string_ex(text, "t.conf", &cfg, err, sizeof(err)) < 0);
	check(strstr(err, "more than 64 [vm NAME] sections") != NULL);
	check(strncmp(err, "t.conf:130:", 11) == 0);
	check_int_eq(cfg.n_vms, 0); /* nothing applied */
}

static void test_alloc_defaults(void)
{
	struct config cfg;

	config_init_defaults(&cfg);
	check(cfg.alloc_manage);
	check_int_eq(cfg.alloc_class, POOL_CLASS_BURSTABLE);
	check_double_near(cfg.risk_bound[POOL_KIND_CPU], 0.05, 0);
	check_double_near(cfg.risk_bound[POOL_KIND_MEM], 0.01, 0);
	check_double_near(cfg.risk_bound[POOL_KIND_HUGEPAGES], 0, 0);
	check_double_near(cfg.risk_bound[POOL_KIND_NET], 0.05, 0);
	check_double_near(cfg.risk_bound[POOL_KIND_DISK], 0.05, 0);
	check_int_eq(cfg.alloc_lead_steps, 5);
	check_double_near(cfg.alloc_headroom, 0.10, 0);
	check_int_eq(cfg.lease_ttl_usec, 120 * USEC_PER_SEC);
	check(cfg.mem_manage && !cfg.net_manage && cfg.disk_manage && cfg.hugepages_manage);
	check_double_near(cfg.host_reserved_cores, 0.5, 0);
	check_int_eq(cfg.host_reserved_mem_bytes, 1ULL << 30);
	check_str_eq(cfg.net_uplink, "");
	check_int_eq(cfg.net_capacity_bps, 0);
	check_int_eq(cfg.disk_capacity_bps, 0);
	check(cfg.safety_enable);
	check_double_near(cfg.safety_cpu_pressure, 20, 0);
	check_double_near(cfg.safety_mem_pressure, 10, 0);
	check_double_near(cfg.safety_io_pressure, 30, 0);
	check_int_eq(cfg.safety_persist_ticks, 2);
	check_int_eq(cfg.safety_cooldown_usec, 10 * USEC_PER_SEC);
}

static void test_alloc_values_land(void)
{
	struct config cfg;
	char err[CONFIG_ERROR_MAX] = "";

	config_init_defaults(&cfg);
	check_int_eq(config_parse_string_ex("[alloc]\n"
					    "manage = no\n"
					    "class = best-effort\n"
					    "risk_bound_cpu = 10%\n"
					    "risk_bound_memory = 0\n"
					    "risk_bound_net = 0.2\n"
					    "risk_bound_disk = 0.5\n"
					    "lead_time = 3\n"
					    "headroom = 25%\n"
					    "lease_ttl = 5min\n"
					    "memory_manage = no\n"
					    "net_manage = off\n"
					    "disk_manage = false\n"
					    "hugepages_manage = 0\n"
					    "[pool]\n"
					    "host_reserved_cores = 1.5\n"
					    "host_reserved_memory = 2G\n"
					    "uplink = enp3s0\n"
					    "uplink_capacity = 25G\n"
					    "disk_capacity = 512M\n"
					    "[safety]\n"
					    "enable = no\n"
					    "cpu_pressure = 50\n"
					    "memory_pressure = 5.5\n"
					    "io_pressure = 100\n"
					    "persist = 4\n"
					    "cooldown = 30s\n",
					    "t.conf", &cfg, err, sizeof(err)),
		     0);
	check(!cfg.alloc_manage);
	check_int_eq(cfg.alloc_class, POOL_CLASS_BEST_EFFORT);
	check_double_near(cfg.risk_bound[POOL_KIND_CPU], 0.10, 1e-12);
	check_double_near(cfg.risk_bound[POOL_KIND_MEM], 0, 0);
	check_double_near(cfg.risk_bound[POOL_KIND_NET], 0.2, 1e-12);
	check_double_near(cfg.risk_bound[POOL_KIND_DISK], 0.5, 1e-12);
	check_double_near(cfg.risk_bound[POOL_KIND_HUGEPAGES], 0, 0);
	check_int_eq(cfg.alloc_lead_steps, 3);
	check_double_near(cfg.alloc_headroom, 0.25, 1e-12);
	check_int_eq(cfg.lease_ttl_usec, 300 * USEC_PER_SEC);
	check(!cfg.mem_manage && !cfg.net_manage && !cfg.disk_manage && !cfg.hugepages_manage);
	check_double_near(cfg.host_reserved_cores, 1.5, 1e-12);
	check_int_eq(cfg.host_reserved_mem_bytes, 2ULL << 30);
	check_str_eq(cfg.net_uplink, "enp3s0");
	check_int_eq(cfg.net_capacity_bps, 25000000000ULL);
	check_int_eq(cfg.disk_capacity_bps, 512ULL << 20);
	check(!cfg.safety_enable);
	check_double_near(cfg.safety_cpu_pressure, 50, 1e-12);
	check_double_near(cfg.safety_mem_pressure, 5.5, 1e-12);
	check_double_near(cfg.safety_io_pressure, 100, 1e-12);
	check_int_eq(cfg.safety_persist_ticks, 4);
	check_int_eq(cfg.safety_cooldown_usec, 30 * USEC_PER_SEC);

	/* rate spellings: bits are powers of 1000, bytes powers of 1024 */
	static const struct {
		const char *text;
		uint64_t bps;
	} nets[] = {
		{ "1000M", 1000000000ULL },   { "1000mbit", 1000000000ULL },
		{ "10gbit", 10000000000ULL }, { "100k", 100000ULL },
		{ "1.5G", 1500000000ULL },    { "64000", 64000ULL },
		{ "2 Gbit", 2000000000ULL },  { "1bit", 1 },
	};
	for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++) {
		char text[128];

		snprintf(text, sizeof(text), "[pool]\nuplink_capacity = %s\n", nets[i].text);
		config_init_defaults(&cfg);
		check_int_eq(config_parse_string_ex(text, "t.conf", &cfg, err, sizeof(err)), 0);
		check_int_eq(cfg.net_capacity_bps, nets[i].bps);
	}
	config_init_defaults(&cfg);
	check_int_eq(config_parse_string_ex("[pool]\ndisk_capacity = 1G/s\n", "t.conf", &cfg, err,
					    sizeof(err)),
		     0);
	check_int_eq(cfg.disk_capacity_bps, 1ULL << 30);
	/* uplink = nothing goes back to the default route after a drop-in named one */
	check_int_eq(config_parse_string_ex("[pool]\nuplink = eth1\nuplink =\n", "t.conf", &cfg,
					    err, sizeof(err)),
		     0);
	check_str_eq(cfg.net_uplink, "");
}

static void test_vm_class_pin(void)
{
	struct config cfg;
	char err[CONFIG_ERROR_MAX] = "";
	const struct config_vm *v;

	config_init_defaults(&cfg);
	check_int_eq(config_parse_string_ex("[alloc]\nclass = best-effort\n"
					    "[vm db]\npin = yes\n"
					    "[vm web]\nclass = burstable\n"
					    "[vm 6f1c1a3e-0c1b-4f5e-9d2a-2b7f0b9e4c11]\n"
					    "class = guaranteed\npin = no\n"
					    "[vm plain]\nmodel = naive\n",
					    "t.conf", &cfg, err, sizeof(err)),
		     0);
	v = config_vm_find(&cfg, "db", NULL);
	check(v && v->has_pin && v->pin && !v->has_class);
	/* pin implies guaranteed when the class is absent */
	check_int_eq(config_vm_class(&cfg, "db", NULL), POOL_CLASS_GUARANTEED);
	check(config_vm_pin(&cfg, "db", NULL));
	check_int_eq(config_vm_class(&cfg, "web", NULL), POOL_CLASS_BURSTABLE);
	check(!config_vm_pin(&cfg, "web", NULL));
	check_int_eq(config_vm_class(&cfg, "x", "6F1C1A3E-0C1B-4F5E-9D2A-2B7F0B9E4C11"),
		     POOL_CLASS_GUARANTEED);
	check(!config_vm_pin(&cfg, "x", "6f1c1a3e-0c1b-4f5e-9d2a-2b7f0b9e4c11"));
	/* a section without class or pin, and no section: [alloc] class */
	check_int_eq(config_vm_class(&cfg, "plain", NULL), POOL_CLASS_BEST_EFFORT);
	check(!config_vm_pin(&cfg, "plain", NULL));
	check_int_eq(config_vm_class(&cfg, "other", NULL), POOL_CLASS_BEST_EFFORT);
	check(!config_vm_pin(&cfg, NULL, NULL));

	/* the contradiction across two strings (as across drop-ins) is refused, nothing applied */
	check_int_eq(config_parse_string_ex("[vm db]\nclass = burstable\n", "d.conf", &cfg, err,
					    sizeof(err)),
		     -EINVAL);
	check(strstr(err, "d.conf:2: [vm db] pin = yes with class = burstable") != NULL);
	check_int_eq(config_vm_class(&cfg, "db", NULL), POOL_CLASS_GUARANTEED);
	/* pin = no first, then a weaker class: fine */
	check_int_eq(config_parse_string_ex("[vm db]\npin = no\nclass = burstable\n", "d.conf",
					    &cfg, err, sizeof(err)),
		     0);
	check_int_eq(config_vm_class(&cfg, "db", NULL), POOL_CLASS_BURSTABLE);
	check(!config_vm_pin(&cfg, "db", NULL));
}

static void test_line_numbers(void)
{
	struct config cfg;
	char err[CONFIG_ERROR_MAX] = "";
	char longline[400];

	config_init_defaults(&cfg);
	check(config_parse_string_ex("[daemon]\n# x\n\nlog_level = info\ndry_run = perhaps\n",
				     "/etc/p.conf", &cfg, err, sizeof(err)) < 0);
	check(strncmp(err, "/etc/p.conf:5: ", 15) == 0);

	/* CRLF files count lines the same way */
	check(config_parse_string_ex("[daemon]\r\nlog_level = info\r\nx = 1\r\n", "w.conf", &cfg,
				     err, sizeof(err)) < 0);
	check(strncmp(err, "w.conf:3: ", 10) == 0);

	/* a syntax error before a value error: the first one is reported */
	check(config_parse_string_ex("[cpu]\nnot a pair\nheadroom = x\n", "s.conf", &cfg, err,
				     sizeof(err)) < 0);
	check(strncmp(err, "s.conf:2: syntax error", 22) == 0);

	/* over-long lines are refused, not silently split */
	memset(longline, 'a', sizeof(longline));
	memcpy(longline, "[daemon]\nstate_dir = /", 22);
	longline[sizeof(longline) - 2] = '\n';
	longline[sizeof(longline) - 1] = '\0';
	check(config_parse_string_ex(longline, "l.conf", &cfg, err, sizeof(err)) < 0);
	check(strstr(err, "l.conf:2: line longer than") != NULL);

	/* indented lines are keys of their own, never continuations */
	check_int_eq(config_parse_string_ex("[cpu]\nheadroom = 0.2\n    min_cores = 0.5\n",
					    "i.conf", &cfg, err, sizeof(err)),
		     0);
	check_double_near(cfg.cpu_headroom, 0.2, 1e-12);
	check_double_near(cfg.cpu_min_cores, 0.5, 1e-12);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

static void test_load_dropins(void)
{
	char dir[] = "/tmp/prescient-test-config-XXXXXX";
	char main_path[256], dropin_dir[300], p[400], err[CONFIG_ERROR_MAX] = "";
	struct config cfg, before;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(main_path, sizeof(main_path), "%s/prescient.conf", dir);
	snprintf(dropin_dir, sizeof(dropin_dir), "%s.d", main_path);

	/* missing main file: defaults when optional, error naming the file when required */
	memset(&cfg, 0x5a, sizeof(cfg));
	check_int_eq(config_load_ex(main_path, false, &cfg, err, sizeof(err)), 0);
	config_init_defaults(&before);
	check(memcmp(&cfg, &before, sizeof(cfg)) == 0);
	memset(&cfg, 0x5a, sizeof(cfg));
	memcpy(&before, &cfg, sizeof(cfg));
	check_int_eq(config_load_ex(main_path, true, &cfg, err, sizeof(err)), -ENOENT);
	check(strstr(err, main_path) != NULL);
	check(memcmp(&cfg, &before, sizeof(cfg)) == 0);

	write_file(main_path, "[cpu]\nheadroom = 0.3\nmin_cores = 0.2\n[forecast]\nhorizon=30\n");
	mkdir(dropin_dir, 0755);
	snprintf(p, sizeof(p), "%s/20-b.conf", dropin_dir);
	write_file(p, "[cpu]\nheadroom = 0.5\n");
	snprintf(p, sizeof(p), "%s/10-a.conf", dropin_dir);
	write_file(p, "[cpu]\nheadroom = 0.4\nmin_cores = 0.25\n");
	snprintf(p, sizeof(p), "%s/30-c.conf.disabled", dropin_dir);
	write_file(p, "this is not read\n");
	snprintf(p, sizeof(p), "%s/.hidden.conf", dropin_dir);
	write_file(p, "neither is this\n");

	check_int_eq(config_load_ex(main_path, true, &cfg, err, sizeof(err)), 0);
	check_double_near(cfg.cpu_headroom, 0.5, 1e-12);   /* 20-b after 10-a */
	check_double_near(cfg.cpu_min_cores, 0.25, 1e-12); /* 10-a over the main file */
	check_int_eq(cfg.horizon_steps, 30);

	/* an error in any drop-in: nothing is applied and the drop-in is named */
	snprintf(p, sizeof(p), "%s/25-bad.conf", dropin_dir);
	write_file(p, "[cpu]\n\nheadroom = lots\n");
	memcpy(&before, &cfg, sizeof(cfg));
	check(config_load_ex(main_path, true, &cfg, err, sizeof(err)) < 0);
	check(memcmp(&cfg, &before, sizeof(cfg)) == 0);
	check(strstr(err, "25-bad.conf:3: [cpu] headroom = 'lots' is not valid") != NULL);
	unlink(p);

	/* cross-key checks see the merged result: horizon 30 from main, lead 40 from a drop-in */
	snprintf(p, sizeof(p), "%s/40-lead.conf", dropin_dir);
	write_file(p, "[cpu]\nlead_time = 40\n");
	check(config_load_ex(main_path, true, &cfg, err, sizeof(err)) < 0);
	check(strstr(err, "lead_time") != NULL);
	write_file(p, "[forecast]\nhorizon = 50\n[cpu]\nlead_time = 40\n");
	check_int_eq(config_load_ex(main_path, true, &cfg, err, sizeof(err)), 0);
	check_int_eq(cfg.cpu_lead_steps, 40);

	/* NUL bytes are refused */
	write_file(p, "[cpu]\n");
	{
		FILE *f = fopen(p, "a");

		fputc('\0', f);
		fputs("lead_time = 1\n", f);
		fclose(f);
	}
	check(config_load_ex(main_path, true, &cfg, err, sizeof(err)) < 0);
	check(strstr(err, "NUL") != NULL);

	snprintf(p, sizeof(p), "rm -rf '%s'", dir);
	check_int_eq(system(p), 0);
}

/* The example file documents every default: uncommenting all of it must change nothing. */
static void test_example_file(void)
{
	const char *root = getenv("PRESCIENT_SOURCE_ROOT");
	char path[512], err[CONFIG_ERROR_MAX] = "";
	char *text = NULL, *uncommented, *o;
	struct config cfg, defaults;
	size_t n_keys = 0;

	if (!root)
		root = ".";
	snprintf(path, sizeof(path), "%s/userspace/daemon/prescient.conf.example", root);
	if (util_file_read(path, 1 << 20, &text, NULL) < 0) {
		fprintf(stderr, "cannot read %s\n", path);
		test_failures++;
		return;
	}
	config_init_defaults(&defaults);
	config_init_defaults(&cfg);
	check_int_eq(config_parse_string_ex(text, path, &cfg, err, sizeof(err)), 0);
	check(memcmp(&cfg, &defaults, sizeof(cfg)) == 0);

	uncommented = malloc(strlen(text) + 1);
	o = uncommented;
	for (const char *l = text; *l;) {
		const char *eol = strchr(l, '\n');
		size_t len = eol ? (size_t)(eol - l + 1) : strlen(l);

		if (l[0] == '#' && l[1] >= 'a' && l[1] <= 'z') {
			l++;
			len--;
			n_keys++;
		}
		memcpy(o, l, len);
		o += len;
		l += len;
	}
	*o = '\0';
	config_init_defaults(&cfg);
	check_int_eq(
		config_parse_string_ex(uncommented, "example-uncommented", &cfg, err, sizeof(err)),
		0);
	if (err[0])
		fprintf(stderr, "%s\n", err);
	/* state_dir follows the build's prefix; the example shows the packaged /var/lib one. */
	check_str_eq(cfg.state_dir, "/var/lib/prescient");
	memcpy(cfg.state_dir, defaults.state_dir, sizeof(cfg.state_dir));
	check(memcmp(&cfg, &defaults, sizeof(cfg)) == 0);
	check(n_keys >= 30); /* every key is documented */
	{
		static const char *const documented[] = {
			"[alloc]\n",
			"\n#class = burstable\n",
			"\n#risk_bound_cpu = 0.05\n",
			"\n#risk_bound_memory = 0.01\n",
			"\n#risk_bound_net = 0.05\n",
			"\n#risk_bound_disk = 0.05\n",
			"(0..10, e.g. 0.10 or 10%).\n#headroom = 0.1\n# An offered lease",
			"\n#lease_ttl = 2min\n",
			"\n#memory_manage = yes\n",
			"\n#net_manage = no\n",
			"\n#disk_manage = yes\n#hugepages_manage = yes\n",
			"[pool]\n",
			"\n#host_reserved_cores = 0.5\n",
			"\n#host_reserved_memory = 1G\n",
			"\n#uplink =\n",
			"\n#uplink_capacity = 0\n",
			"\n#disk_capacity = 0\n",
			"[safety]\n",
			"\n#enable = yes\n",
			"\n#cpu_pressure = 20\n#memory_pressure = 10\n#io_pressure = 30\n",
			"\n#persist = 2\n",
			"\n#cooldown = 10s\n",
			"#   class      = ",
			"#   pin        = ",
		};

		for (size_t i = 0; i < sizeof(documented) / sizeof(documented[0]); i++)
			if (!strstr(text, documented[i])) {
				fprintf(stderr, "example file lacks '%s'\n", documented[i]);
				test_failures++;
			}
	}
	free(uncommented);
	free(text);
}

static void test_socket_path(void)
{
	struct config cfg;
	char buf[108];

	config_init_defaults(&cfg);
	util_strlcpy(cfg.run_dir, "/run/x", sizeof(cfg.run_dir));
	check_int_eq(config_api_socket_path(&cfg, buf, sizeof(buf)), 0);
	check_str_eq(buf, "/run/x/prescient.sock");
	util_strlcpy(cfg.api_socket, "/tmp/a.sock", sizeof(cfg.api_socket));
	check_int_eq(config_api_socket_path(&cfg, buf, sizeof(buf)), 0);
	check_str_eq(buf, "/tmp/a.sock");
}

int main(void)
{
	test_value_table();
	test_values_land();
	test_line_numbers();
	test_vm_sections();
	test_alloc_defaults();
	test_alloc_values_land();
	test_vm_class_pin();
	test_load_dropins();
	test_example_file();
	test_socket_path();
	return test_result();
}
