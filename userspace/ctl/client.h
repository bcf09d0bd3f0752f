/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One request to prescientd's API socket and its one-line reply, within a
 * single deadline that covers connect, send and receive. Shared by
 * prescientctl and the libvirt hook, which must never wait longer than its
 * budget (libvirt has no timeout of its own for hooks).
 */
#ifndef PRESCIENT_CTL_CLIENT_H
#define PRESCIENT_CTL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "build-config.h"

#define CLIENT_REPLY_MAX_BYTES	     (64 * 1024 * 1024)
#define CLIENT_SOCKET_MAX	     108 /* sizeof(sun_path) */
#define CLIENT_DEFAULT_SOCKET	     PRESCIENT_RUN_DIR "/prescient/prescient.sock"
#define CLIENT_HOOK_TIMEOUT_DEF_USEC (1500 * 1000ULL)
#define CLIENT_HOOK_TIMEOUT_MAX_USEC (2000 * 1000ULL)

/*
 * Sends request (one JSON object; a newline is added) to the socket at path
 * and returns the reply line without its newline in *ret_reply (free()).
 * Errors: -ENOENT/-ECONNREFUSED/-EACCES from connect, -ETIMEDOUT when the
 * deadline passes, -EPIPE when the daemon closed without a reply, -EFBIG for
 * a reply over CLIENT_REPLY_MAX_BYTES.
 */
int client_request(const char *path, const char *request, uint64_t timeout_usec, char **ret_reply);

/* What clients take from prescientd's configuration file. */
struct client_config {
	char socket[CLIENT_SOCKET_MAX]; /* [api] socket, else <[daemon] run_dir>/prescient.sock */
	bool hook_fail_open;		/* [hook] fail_open, default true */
	uint64_t hook_timeout_usec;	/* [hook] timeout, default 1.5 s, at most 2 s */
};

typedef void (*client_warn_fn)(const char *msg);

/*
 * Reads main_path (NULL: the installed prescient.conf) and the *.conf files
 * in main_path.d leniently: missing files are fine, bad values keep the default and
 * are passed to warn (may be NULL). Never fails.
 */
void client_config_read(const char *main_path, client_warn_fn warn, struct client_config *ret);

#endif
