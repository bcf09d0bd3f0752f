// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The libvirt hook program run as libvirt runs it (argv, domain XML on
 * stdin) against the real API server with a recording handler, and without
 * any server: what reaches the daemon, exit codes per operation and per
 * [hook] fail_open, refusals, nothing on stdout, stdin always drained, and
 * the time budget (under 2 s even when the daemon never answers).
 *
 * Usage: test-hook HOOK-PROGRAM
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api.h"
#include "cleanup.h"
#include "fake-state.h"
#include "run-program.h"
#include "tap.h"
#include "util.h"

static const char *hook;
static char dir[] = "/tmp/prescient-test-hook-XXXXXX";
static char sock[128], conf_open[160], conf_closed[160], conf_fast[160];
static char env_sock[300], env_conf[300];

enum behaviour { ALLOW, REFUSE, FAIL };

static struct {
	pthread_mutex_t lock;
	enum behaviour behaviour;
	int n;
	struct api_hook_event last;
} rec = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int on_hook(const struct api_hook_event *ev, struct api_hook_reply *reply, void *userdata)
{
	pthread_mutex_lock(&rec.lock);
	rec.n++;
	rec.last = *ev;
	pthread_mutex_unlock(&rec.lock);
	if (rec.behaviour == FAIL)
		return -EAGAIN;
	if (rec.behaviour == REFUSE) {
		reply->verdict = API_HOOK_REFUSE;
		util_strlcpy(reply->reason, "no reservation for this VM", sizeof(reply->reason));
	}
	return 0;
}

static const char xml_web1[] =
	"<domain type='kvm' id='7'>\n"
	"  <!-- <uuid>00000000-0000-0000-0000-000000000000</uuid> -->\n"
	"  <name>web1</name>\n"
	"  <uuid>" FAKE_UUID_WEB1 "</uuid>\n"
	"  <memory unit='KiB'>2097152</memory>\n"
	"  <sysinfo type='smbios'><system><entry name='uuid'>x</entry></system></sysinfo>\n"
	"  <devices><disk><uuid>bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb</uuid></disk></devices>\n"
	"</domain>\n";

/* Runs the hook with "vm op sub extra", the given stdin and environment. */
static struct run_result run_hook(const char *argv0, const char *op, const char *extra,
				  const char *conf_env, const char *sock_env, const char *in,
				  size_t in_len)
{
	char *argv[] = { (char *)argv0, "web1", (char *)op, "begin", (char *)extra, NULL };
	const char *env[3] = { 0 };
	int n = 0;

	if (sock_env)
		env[n++] = sock_env;
	if (conf_env)
		env[n++] = conf_env;
	struct run_result r;

	if (run_program(argv, env, in, in_len, 10, &r) < 0) {
		fprintf(stderr, "cannot run %s\n", argv0);
		exit(1);
	}
	return r;
}

static void set_env(char *buf, size_t size, const char *name, const char *value)
{
	if ((size_t)snprintf(buf, size, "%s=", name) + strlen(value) >= size)
		abort();
	strcat(buf, value);
}

static void write_conf(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		exit(1);
	fputs(text, f);
	fclose(f);
}

static void test_forwarding(void)
{
	struct run_result r;

	rec.n = 0;
	rec.behaviour = ALLOW;
	r = run_hook(hook, "started", "-", env_conf, env_sock, xml_web1, strlen(xml_web1));
	check_int_eq(r.status, 0);
	check_int_eq(r.out_len, 0);
	check_int_eq(r.err_len, 0);
	check_int_eq(rec.n, 1);
	check_str_eq(rec.last.object, "qemu");
	check_str_eq(rec.last.op, "started");
	check_str_eq(rec.last.sub_op, "begin");
	check_str_eq(rec.last.extra, "-");
	check_str_eq(rec.last.vm, "web1");
	/* the domain's own UUID: not the commented one, not a nested one */
	check_str_eq(rec.last.uuid, FAKE_UUID_WEB1);
	run_result_free(&r);

	/* release with a reason (libvirt >= 10.5) */
	r = run_hook(hook, "release", "destroyed", env_conf, env_sock, xml_web1, strlen(xml_web1));
	check_int_eq(r.status, 0);
	check_str_eq(rec.last.op, "release");
	check_str_eq(rec.last.extra, "destroyed");
	run_result_free(&r);

	/* no XML at all: the event still goes, without UUID */
	r = run_hook(hook, "stopped", "-", env_conf, env_sock, NULL, 0);
	check_int_eq(r.status, 0);
	check_str_eq(rec.last.op, "stopped");
	check_str_eq(rec.last.uuid, "");
	run_result_free(&r);

	/* migrate and restore are XML filters: stdout stays empty (= unchanged) */
	r = run_hook(hook, "migrate", "-", env_conf, env_sock, xml_web1, strlen(xml_web1));
	check_int_eq(r.status, 0);
	check_int_eq(r.out_len, 0);
	run_result_free(&r);
	r = run_hook(hook, "restore", "-", env_conf, env_sock, xml_web1, strlen(xml_web1));
	check_int_eq(r.status, 0);
	check_int_eq(r.out_len, 0);
	check_int_eq(rec.n, 5);
	run_result_free(&r);

	/* installed under another driver's .d folder: the object follows the folder */
	{
		char linkdir[200], link[260], target[4096];

		snprintf(linkdir, sizeof(linkdir), "%s/lxc.d", dir);
		snprintf(link, sizeof(link), "%s/50-prescient", linkdir);
		check(mkdir(linkdir, 0755) == 0);
		check(realpath(hook, target) != NULL);
		check(symlink(target, link) == 0);
		r = run_hook(link, "started", "-", env_conf, env_sock, xml_web1, strlen(xml_web1));
		check_int_eq(r.status, 0);
		check_str_eq(rec.last.object, "lxc");
		run_result_free(&r);
	}
}

static void test_big_stdin(void)
{
	size_t len = 6 * 1024 * 1024;
	char *big = malloc(len);
	struct run_result r;
	size_t head = strlen(xml_web1) - strlen("</domain>\n");

	/* a 6 MiB XML: read up to 4 MiB, the rest drained so libvirt's writes complete */
	memcpy(big, xml_web1, head);
	memset(big + head, ' ', len - head);
	rec.n = 0;
	r = run_hook(hook, "prepare", "-", env_conf, env_sock, big, len);
	check_int_eq(r.status, 0);
	check(!r.stdin_closed_early);
	check_int_eq(rec.n, 1);
	check_str_eq(rec.last.uuid, FAKE_UUID_WEB1);
	check(strstr(r.err, "larger than") != NULL);
	run_result_free(&r);
	free(big);
}

static void test_refusal(void)
{
	struct run_result r;

	rec.behaviour = REFUSE;
	r = run_hook(hook, "migrate", "-", env_conf, env_sock, xml_web1, strlen(xml_web1));
	check_int_eq(r.status, 1);
	check(strstr(r.err, "refuses migrate of web1: no reservation for this VM") != NULL);
	check_int_eq(r.out_len, 0);
	run_result_free(&r);
	/* operations whose failure is ignored or harmful never fail */
	for (const char *const *op = (const char *const[]){ "reconnect", "stopped", "release",
							    "started", "attach", NULL };
	     *op; op++) {
		r = run_hook(hook, *op, "-", env_conf, env_sock, xml_web1, strlen(xml_web1));
		check_int_eq(r.status, 0);
		run_result_free(&r);
	}

	/* the daemon cannot queue: fail open by default, closed when configured */
	rec.behaviour = FAIL;
	r = run_hook(hook, "prepare", "-", env_conf, env_sock, xml_web1, strlen(xml_web1));
	check_int_eq(r.status, 0);
	check(strstr(r.err, "could not queue") != NULL);
	run_result_free(&r);
	{
		char closed[300];

		set_env(closed, sizeof(closed), "PRESCIENT_CONFIG", conf_closed);
		r = run_hook(hook, "prepare", "-", closed, env_sock, xml_web1, strlen(xml_web1));
		check_int_eq(r.status, 1);
		run_result_free(&r);
		r = run_hook(hook, "reconnect", "-", closed, env_sock, xml_web1, strlen(xml_web1));
		check_int_eq(r.status, 0);
		run_result_free(&r);
	}
	rec.behaviour = ALLOW;
}

static void test_no_daemon(void)
{
	static const char *const ops[] = {
		"prepare", "start",   "started",   "stopped", "release",
		"migrate", "restore", "reconnect", "attach",  "future-op"
	};
	char nosock[300], closed[300], path[200];
	struct run_result r;

	snprintf(path, sizeof(path), "%s/absent.sock", dir);
	set_env(nosock, sizeof(nosock), "PRESCIENT_SOCKET", path);
	set_env(closed, sizeof(closed), "PRESCIENT_CONFIG", conf_closed);
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		bool can_fail = !strcmp(ops[i], "prepare") || !strcmp(ops[i], "start") ||
				!strcmp(ops[i], "migrate") || !strcmp(ops[i], "restore");

		/* default: fail open, with a message libvirt will log */
		r = run_hook(hook, ops[i], "-", env_conf, nosock, xml_web1, strlen(xml_web1));
		check_int_eq(r.status, 0);
		check(strstr(r.err, "cannot reach prescientd") != NULL);
		check(strstr(r.err, path) != NULL);
		check_int_eq(r.out_len, 0);
		check(r.elapsed_sec < 1.0);
		run_result_free(&r);

		/* fail_open = no: only operations that may fail do */
		r = run_hook(hook, ops[i], "-", closed, nosock, xml_web1, strlen(xml_web1));
		if (r.status != (can_fail ? 1 : 0)) {
			fprintf(stderr, "op %s with fail_open=no exited %d\n", ops[i], r.status);
			test_failures++;
		}
		run_result_free(&r);
	}
}

/* A daemon that accepts (backlog) but never answers: the budget holds. */
static void test_mute_daemon(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[200], envs[300], fast[300];
	struct run_result r;
	int fd;

	snprintf(path, sizeof(path), "%s/mute.sock", dir);
	set_env(envs, sizeof(envs), "PRESCIENT_SOCKET", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	util_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	check(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	check(listen(fd, 16) == 0);

	r = run_hook(hook, "prepare", "-", env_conf, envs, xml_web1, strlen(xml_web1));
	check_int_eq(r.status, 0);
	check(r.elapsed_sec < 2.0);
	check(r.elapsed_sec > 1.0); /* default budget 1.5 s was used, not skipped */
	check(strstr(r.err, "Connection timed out") != NULL);
	run_result_free(&r);

	set_env(fast, sizeof(fast), "PRESCIENT_CONFIG", conf_fast);
	r = run_hook(hook, "release", "-", fast, envs, xml_web1, strlen(xml_web1));
	check_int_eq(r.status, 0);
	check(r.elapsed_sec < 0.8);
	run_result_free(&r);
	close(fd);
}

/* The socket and the budget come from the daemon's configuration when no override is set. */
static void test_config(void)
{
	char conf[200], envs[300];
	struct run_result r;
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/run-dir.conf", dir);
	f = fopen(conf, "w");
	fprintf(f, "[daemon]\nrun_dir = %s\n[hook]\ntimeout = 10s\nfail_open = perhaps\n", dir);
	fclose(f);
	set_env(envs, sizeof(envs), "PRESCIENT_CONFIG", conf);
	rec.n = 0;
	r = run_hook(hook, "start", "-", envs, NULL, xml_web1, strlen(xml_web1));
	check_int_eq(r.status, 0);
	check_int_eq(rec.n, 1);
	/* bad values are reported and the defaults kept */
	check(strstr(r.err, "[hook] timeout = '10s' is not a duration from 100ms to 2s") != NULL);
	check(strstr(r.err, "[hook] fail_open = 'perhaps' is not a boolean") != NULL);
	run_result_free(&r);
}

static void test_usage(void)
{
	char *argv[] = { (char *)hook, NULL };
	struct run_result r;

	check_int_eq(run_program(argv, NULL, NULL, 0, 10, &r), 0);
	check_int_eq(r.status, 2);
	check(strstr(r.err, "libvirt hook") != NULL);
	run_result_free(&r);
}

int main(int argc, char **argv)
{
	struct api_server_config cfg = { .socket_path = sock };
	struct api_handlers h = { .hook = on_hook };
	struct api_server *srv;
	struct state *st;
	char cmd[256];

	if (argc != 2) {
		fprintf(stderr, "usage: %s HOOK-PROGRAM\n", argv[0]);
		return 2;
	}
	hook = argv[1];
	if (access(hook, X_OK) < 0)
		test_skip("the hook program is not built");
	if (!mkdtemp(dir))
		test_skip("cannot create a temporary directory");
	snprintf(sock, sizeof(sock), "%s/prescient.sock", dir);
	snprintf(conf_open, sizeof(conf_open), "%s/open.conf", dir);
	snprintf(conf_closed, sizeof(conf_closed), "%s/closed.conf", dir);
	snprintf(conf_fast, sizeof(conf_fast), "%s/fast.conf", dir);
	/* the host's /etc/prescient is never read: every run names its configuration */
	write_conf(conf_open, "[hook]\nfail_open = yes\n");
	write_conf(conf_closed, "[hook]\nfail_open = no\n");
	write_conf(conf_fast, "[hook]\ntimeout = 300ms\n");
	set_env(env_sock, sizeof(env_sock), "PRESCIENT_SOCKET", sock);
	set_env(env_conf, sizeof(env_conf), "PRESCIENT_CONFIG", conf_open);

	state_thread_register();
	check_int_eq(fake_state_new(&st), 0);
	check_int_eq(api_server_start(&cfg, st, &h, &srv), 0);

	test_forwarding();
	test_big_stdin();
	test_refusal();
	test_no_daemon();
	test_mute_daemon();
	test_config();
	test_usage();

	api_server_stop(srv);
	state_free(st);
	state_thread_unregister();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	check_int_eq(system(cmd), 0);
	return test_result();
}
