// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The few configuration keys that prescientctl and the libvirt hook need (see
 * client.h), read leniently: prescientd validates its configuration strictly,
 * and a client must keep working (the hook must never block a VM) when the
 * file has a problem, so bad values keep the default and are reported.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "build-config.h"
#include "client.h"
#include "util.h"

struct reader {
	struct client_config *cfg;
	char run_dir[256];
	char socket[CLIENT_SOCKET_MAX];
	client_warn_fn warn;
	const char *file;
};

static void report(struct reader *rd, const char *section, const char *name, const char *value,
		   const char *accepted)
{
	char msg[512];

	if (!rd->warn)
		return;
	snprintf(msg, sizeof(msg), "%s: [%s] %s = '%.100s' is not %s; using the default", rd->file,
		 section, name, value, accepted);
	rd->warn(msg);
}

static int on_value(void *user, const char *section, const char *name, const char *value)
{
	struct reader *rd = user;
	uint64_t u;
	bool b;

	if (!strcmp(section, "hook") && !strcmp(name, "fail_open")) {
		if (util_parse_bool(value, &b) == 0)
			rd->cfg->hook_fail_open = b;
		else
			report(rd, section, name, value, "a boolean");
	} else if (!strcmp(section, "hook") && !strcmp(name, "timeout")) {
		if (util_parse_duration_usec(value, &u) == 0 && u >= 100000 &&
		    u <= CLIENT_HOOK_TIMEOUT_MAX_USEC)
			rd->cfg->hook_timeout_usec = u;
		else
			report(rd, section, name, value, "a duration from 100ms to 2s");
	} else if (!strcmp(section, "api") && !strcmp(name, "socket")) {
		if (value[0] &&
		    (value[0] != '/' || util_strlcpy(rd->socket, value, sizeof(rd->socket)) < 0)) {
			rd->socket[0] = '\0';
			report(rd, section, name, value, "an absolute path of at most 107 bytes");
		} else if (!value[0]) {
			rd->socket[0] = '\0';
		}
	} else if (!strcmp(section, "daemon") && !strcmp(name, "run_dir")) {
		if (value[0] != '/' || util_strlcpy(rd->run_dir, value, sizeof(rd->run_dir)) < 0) {
			rd->run_dir[0] = '\0';
			report(rd, section, name, value, "an absolute path");
		}
	}
	return 1;
}

static void parse_one(struct reader *rd, const char *path)
{
	int r;

	rd->file = path;
	r = ini_parse(path, on_value, rd);
	if (r > 0 && rd->warn) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s:%d: syntax error, using what could be read", path,
			 r);
		rd->warn(msg);
	}
}

static int dropin_filter(const struct dirent *de)
{
	size_t l = strlen(de->d_name);

	return de->d_name[0] != '.' && l > 5 && !strcmp(de->d_name + l - 5, ".conf");
}

void client_config_read(const char *main_path, client_warn_fn warn, struct client_config *ret)
{
	struct client_config cfg = {
		.hook_fail_open = true,
		.hook_timeout_usec = CLIENT_HOOK_TIMEOUT_DEF_USEC,
	};
	struct reader rd = { .cfg = &cfg, .warn = warn };
	struct dirent **list = NULL;
	char dir[4096];
	int n;

	if (!main_path || !main_path[0])
		main_path = PRESCIENT_CONF_FILE;
	parse_one(&rd, main_path);
	snprintf(dir, sizeof(dir), "%s.d", main_path);
	n = scandir(dir, &list, dropin_filter, alphasort);
	for (int i = 0; i < n; i++) {
		char path[4096 + 256];

		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		parse_one(&rd, path);
		free(list[i]);
	}
	free(list);

	if (rd.socket[0])
		snprintf(cfg.socket, sizeof(cfg.socket), "%s", rd.socket);
	else if (rd.run_dir[0] &&
		 strlen(rd.run_dir) + strlen("/prescient.sock") < sizeof(cfg.socket))
		snprintf(cfg.socket, sizeof(cfg.socket), "%.*s/prescient.sock",
			 (int)(sizeof(cfg.socket) - 16), rd.run_dir);
	else
		snprintf(cfg.socket, sizeof(cfg.socket), "%s", CLIENT_DEFAULT_SOCKET);
	*ret = cfg;
}
