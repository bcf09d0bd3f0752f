// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * prescientd: command line, configuration and logging set-up, then the
 * manager's loop. Exit status: 0 on clean shutdown, 1 on a runtime error,
 * 2 on a usage or configuration error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "config.h"
#include "log.h"
#include "manager.h"
#include "util.h"

struct options {
	const char *config_path;
	bool config_given;
	bool check_config;
	int dry_run;   /* -1: as configured */
	int log_level; /* -1: as configured */
	enum log_target log_target;
	const char *run_dir;
	const char *state_dir;
};

static void help(void)
{
	printf("Usage: prescientd [OPTIONS]\n"
	       "\n"
	       "Watches every VM on this QEMU/KVM host, forecasts its CPU, memory, disk and\n"
	       "network demand, and raises each VM's CPU allocation before the forecast demand\n"
	       "arrives (lowering it again when demand falls). Talk to it with prescientctl.\n"
	       "\n"
	       "Options:\n"
	       "  -c, --config=FILE      configuration file (default %s);\n"
	       "                         drop-ins are read from FILE.d/*.conf, later files win\n"
	       "      --check-config     parse the configuration, print the result, and exit:\n"
	       "                         0 when valid, 2 with the error otherwise\n"
	       "  -n, --dry-run          decide and log every change, enforce nothing\n"
	       "  -l, --log-level=LEVEL  debug, info, notice, warning or err (default info)\n"
	       "      --log-target=T     journal, stderr or auto (default auto: the journal\n"
	       "                         when started by systemd)\n"
	       "      --run-dir=DIR      where the API socket lives (default %s/prescient)\n"
	       "      --state-dir=DIR    where forecaster checkpoints live (default %s)\n"
	       "  -h, --help             show this help\n"
	       "      --version          show the version\n"
	       "\n"
	       "Signals: SIGTERM or SIGINT stop cleanly (forecasters are checkpointed);\n"
	       "SIGHUP reloads the configuration (a broken file is refused, the running\n"
	       "configuration stays).\n"
	       "\n"
	       "Examples:\n"
	       "  prescientd --check-config            validate /etc/prescient/prescient.conf\n"
	       "  prescientd --dry-run -l debug        see every decision, change nothing\n"
	       "  prescientctl vms                     what the daemon sees and decides\n",
	       PRESCIENT_CONF_FILE, PRESCIENT_RUN_DIR, PRESCIENT_STATE_DIR);
}

enum {
	OPT_CHECK_CONFIG = 0x100,
	OPT_LOG_TARGET,
	OPT_RUN_DIR,
	OPT_STATE_DIR,
	OPT_VERSION,
};

static int parse_log_target(const char *s, enum log_target *ret)
{
	if (!strcmp(s, "journal"))
		*ret = LOG_TARGET_JOURNAL;
	else if (!strcmp(s, "stderr"))
		*ret = LOG_TARGET_STDERR;
	else if (!strcmp(s, "auto"))
		*ret = LOG_TARGET_AUTO;
	else
		return -EINVAL;
	return 0;
}

/* Returns 1 to go on, 0 to exit successfully, -EINVAL on a usage error. */
static int parse_argv(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "log-target", required_argument, NULL, OPT_LOG_TARGET },
		{ "run-dir", required_argument, NULL, OPT_RUN_DIR },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:nl:h", longopts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			o->config_path = optarg;
			o->config_given = true;
			break;
		case OPT_CHECK_CONFIG:
			o->check_config = true;
			break;
		case 'n':
			o->dry_run = 1;
			break;
		case 'l':
			o->log_level = log_level_from_string(optarg);
			if (o->log_level < 0)
				return log_error_errno(EINVAL,
						       "invalid --log-level '%s': use debug, info, "
						       "notice, warning or err",
						       optarg);
			break;
		case OPT_LOG_TARGET:
			if (parse_log_target(optarg, &o->log_target) < 0)
				return log_error_errno(
					EINVAL,
					"invalid --log-target '%s': use journal, stderr or auto",
					optarg);
			break;
		case OPT_RUN_DIR:
			o->run_dir = optarg;
			break;
		case OPT_STATE_DIR:
			o->state_dir = optarg;
			break;
		case 'h':
			help();
			return 0;
		case OPT_VERSION:
			printf("prescientd %s\n", PRESCIENT_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try 'prescientd --help'.\n");
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "prescientd: unexpected argument '%s'. Try 'prescientd --help'.\n",
			argv[optind]);
		return -EINVAL;
	}
	return 1;
}

static void apply_overrides(const struct options *o, struct config *cfg)
{
	if (o->dry_run >= 0)
		cfg->dry_run = o->dry_run;
	if (o->log_level >= 0)
		cfg->log_level = o->log_level;
	if (o->run_dir)
		util_strlcpy(cfg->run_dir, o->run_dir, sizeof(cfg->run_dir));
	if (o->state_dir)
		util_strlcpy(cfg->state_dir, o->state_dir, sizeof(cfg->state_dir));
}

static void print_config(const struct config *cfg)
{
	printf("configuration is valid\n"
	       "  libvirt uri        %s\n"
	       "  collect interval   %.3f s\n"
	       "  forecast step      %.3f s, horizon %u steps, model %s\n"
	       "  cpu management     %s, lead %u steps, headroom %.0f%%\n"
	       "  dry-run            %s\n"
	       "  run dir            %s\n"
	       "  state dir          %s\n",
	       cfg->libvirt_uri, (double)cfg->collect_interval_usec / USEC_PER_SEC,
	       (double)cfg->forecast_step_usec / USEC_PER_SEC, cfg->horizon_steps,
	       forecast_model_to_string(cfg->model), cfg->cpu_manage ? "on" : "off",
	       cfg->cpu_lead_steps, cfg->cpu_headroom * 100, cfg->dry_run ? "yes" : "no",
	       cfg->run_dir, cfg->state_dir);
}

int main(int argc, char **argv)
{
	struct options o = { .config_path = PRESCIENT_CONF_FILE, .dry_run = -1, .log_level = -1 };
	struct manager *m = NULL;
	struct config cfg;
	int r;

	log_setup("prescientd", LOG_TARGET_AUTO);
	r = parse_argv(argc, argv, &o);
	if (r <= 0)
		return r < 0 ? 2 : 0;
	log_setup("prescientd", o.log_target);

	config_init_defaults(&cfg);
	/* The default file may be absent (built-in defaults); a named one must exist. */
	r = config_load(o.config_path, o.config_given, &cfg);
	if (r < 0) {
		log_error("configuration not loaded; fix the file named above or run 'prescientd "
			  "--check-config -c FILE'");
		return 2;
	}
	apply_overrides(&o, &cfg);
	log_set_max_level(cfg.log_level);
	if (o.check_config) {
		print_config(&cfg);
		return 0;
	}

	r = manager_new(&cfg, o.config_path, o.config_given, &m);
	if (r < 0)
		return 1;
	m->override_dry_run = o.dry_run;
	m->override_log_level = o.log_level;
	log_info("prescientd %s started%s", PRESCIENT_VERSION,
		 cfg.dry_run ? " in dry-run mode" : "");
	r = manager_run(m);
	manager_free(m);
	log_info("prescientd stopped");
	return r < 0 ? 1 : 0;
}
