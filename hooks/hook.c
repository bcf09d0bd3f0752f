// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The libvirt hook, installed as /etc/libvirt/hooks/qemu.d/50-prescient.
 *
 * libvirt runs it synchronously and without any timeout as
 *   50-prescient <vm> <op> <sub-op> <extra>   with the domain XML on stdin,
 * so it does as little as possible, within one deadline (the [hook] timeout,
 * at most 2 s): read stdin fully (bounded; the rest is drained so libvirt
 * never sees a broken pipe), forward one {"cmd":"hook",...} request to
 * prescientd's socket, and exit. It never calls libvirt (deadlock), never
 * forks (no child may hold libvirt's pipes), and never writes to stdout: for
 * migrate and restore an empty stdout means "XML unchanged".
 *
 * Exit status: reconnect, stopped, release, attach and unknown operations
 * always exit 0 (a failing reconnect hook kills the running QEMU). For
 * prepare, start, migrate and restore: 1 when the daemon refuses, and when
 * it cannot be reached only if [hook] fail_open = no; otherwise 0 with a
 * warning on stderr (libvirt logs it).
 *
 * Environment (for tests): PRESCIENT_SOCKET overrides the socket path,
 * PRESCIENT_CONFIG the configuration file.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>

#include "build-config.h"
#include "cleanup.h"
#include "client.h"
#include "hook_xml.h"
#include "util.h"

#define HOOK_STDIN_MAX_BYTES (4 * 1024 * 1024)

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void warn(const char *fmt, ...)
{
	va_list ap;

	fputs("prescient hook: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void warn_config(const char *msg)
{
	warn("%s", msg);
}

/*
 * Reads stdin until EOF or the deadline, keeping the first HOOK_STDIN_MAX_BYTES
 * and discarding the rest, so that libvirt's writer always completes.
 */
static size_t stdin_read(char *buf, size_t cap, uint64_t deadline_usec, bool *ret_truncated)
{
	char sink[65536];
	size_t len = 0;

	*ret_truncated = false;
	if (isatty(STDIN_FILENO))
		return 0;
	for (;;) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		uint64_t now = util_now_usec();
		ssize_t n;

		if (now >= deadline_usec) {
			warn("stdin not closed within the time budget, going on without the rest");
			break;
		}
		n = poll(&p, 1, (int)((deadline_usec - now + 999) / 1000));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			continue; /* re-checks the deadline */
		if (len < cap)
			n = read(STDIN_FILENO, buf + len, cap - len);
		else
			n = read(STDIN_FILENO, sink, sizeof(sink));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		if (len < cap)
			len += (size_t)n;
		else
			*ret_truncated = true;
	}
	return len;
}

/* Operations whose failure stops something in libvirt, so a refusal can matter. */
static bool op_can_fail(const char *op)
{
	static const char *const ops[] = { "prepare", "start", "migrate", "restore" };

	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		if (!strcmp(op, ops[i]))
			return true;
	return false;
}

/* "qemu" for .../qemu.d/50-prescient or .../hooks/qemu; "qemu" when unsure. */
static void hook_object(const char *argv0, char *buf, size_t size)
{
	_cleanup_free_ char *copy = strdup(argv0 ? argv0 : "");
	char *slash, *dir;
	size_t l;

	snprintf(buf, size, "qemu");
	if (!copy)
		return;
	slash = strrchr(copy, '/');
	if (!slash)
		return;
	*slash = '\0';
	dir = strrchr(copy, '/');
	dir = dir ? dir + 1 : copy;
	l = strlen(dir);
	if (l > 2 && l - 2 < size && !strcmp(dir + l - 2, ".d")) {
		memcpy(buf, dir, l - 2);
		buf[l - 2] = '\0';
	}
}

static int usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s VM OPERATION SUB-OPERATION [EXTRA] < domain.xml\n"
		"This is prescient's libvirt hook: libvirt runs it from\n"
		"/etc/libvirt/hooks/qemu.d/ with the domain XML on stdin. It forwards the\n"
		"event to prescientd and never changes the XML.\n",
		argv0);
	return 2;
}

int main(int argc, char **argv)
{
	struct client_config cfg;
	uint64_t start = util_now_usec(), deadline;
	_cleanup_free_ char *xml = NULL, *reply_line = NULL;
	struct json_object *req = NULL, *reply = NULL, *ok = NULL, *data = NULL, *v = NULL;
	struct hook_domain_id id = { 0 };
	const char *vm, *op, *sub_op, *extra;
	const char *env, *path;
	char object[16];
	bool truncated = false, can_fail;
	size_t xml_len;
	int r, status = 0;

	if (argc < 3 || argc > 5)
		return usage(argv[0]);
	vm = argv[1];
	op = argv[2];
	sub_op = argc > 3 ? argv[3] : "-";
	extra = argc > 4 ? argv[4] : "-";
	can_fail = op_can_fail(op);

	client_config_read(getenv("PRESCIENT_CONFIG"), warn_config, &cfg);
	deadline = start + cfg.hook_timeout_usec;
	env = getenv("PRESCIENT_SOCKET");
	path = env && env[0] ? env : cfg.socket;
	hook_object(argv[0], object, sizeof(object));

	xml = malloc(HOOK_STDIN_MAX_BYTES + 1);
	if (!xml) {
		warn("out of memory; letting libvirt go on");
		return 0;
	}
	xml_len = stdin_read(xml, HOOK_STDIN_MAX_BYTES, deadline, &truncated);
	xml[xml_len] = '\0';
	if (truncated)
		warn("domain XML larger than %d bytes; reading its identity from the start only",
		     HOOK_STDIN_MAX_BYTES);
	if (xml_len > 0 && hook_xml_domain_id(xml, xml_len, &id) < 0)
		warn("stdin is not a domain XML; sending the event without the UUID");

	req = json_object_new_object();
	if (!req)
		return 0;
	json_object_object_add(req, "cmd", json_object_new_string("hook"));
	json_object_object_add(req, "object", json_object_new_string(object));
	json_object_object_add(req, "op", json_object_new_string(op));
	json_object_object_add(req, "sub_op", json_object_new_string(sub_op));
	json_object_object_add(req, "extra", json_object_new_string(extra));
	json_object_object_add(req, "vm", json_object_new_string(vm));
	if (id.uuid[0])
		json_object_object_add(req, "uuid", json_object_new_string(id.uuid));

	r = client_request(path,
			   json_object_to_json_string_ext(
				   req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
			   deadline > util_now_usec() ? deadline - util_now_usec() : 1,
			   &reply_line);
	if (r < 0) {
		bool refuse = can_fail && !cfg.hook_fail_open;

		warn("cannot reach prescientd on %s (%s) for %s %s: %s", path, strerror(-r), vm, op,
		     refuse ? "failing the operation ([hook] fail_open = no)"
			    : "letting libvirt go on");
		status = refuse ? 1 : 0;
		goto out;
	}
	reply = json_tokener_parse(reply_line);
	if (!reply || !json_object_object_get_ex(reply, "ok", &ok) ||
	    !json_object_get_boolean(ok)) {
		const char *err = reply && json_object_object_get_ex(reply, "error", &v)
					  ? json_object_get_string(v)
					  : "malformed reply";
		bool refuse = can_fail && !cfg.hook_fail_open;

		warn("prescientd did not take %s %s: %s; %s", vm, op, err,
		     refuse ? "failing the operation ([hook] fail_open = no)"
			    : "letting libvirt go on");
		status = refuse ? 1 : 0;
		goto out;
	}
	if (json_object_object_get_ex(reply, "data", &data) &&
	    json_object_object_get_ex(data, "verdict", &v) &&
	    !strcmp(json_object_get_string(v), "refuse") && can_fail) {
		struct json_object *reason = NULL;

		json_object_object_get_ex(data, "reason", &reason);
		warn("prescientd refuses %s of %s: %s", op, vm,
		     reason ? json_object_get_string(reason) : "no reason given");
		status = 1;
	}
out:
	json_object_put(req);
	json_object_put(reply);
	return status;
}
