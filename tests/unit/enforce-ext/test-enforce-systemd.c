// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * SetUnitProperties as systemd receives it: a fake systemd1 Manager answers
 * on the other end of a socket pair (a direct D-Bus connection, no bus
 * daemon), checks the call's signature and values, and replies with success
 * or with the error systemd gives for an unknown unit, which must come back
 * as -ENOENT. The probe and the cgroupfs fallback are checked on a fixture
 * tree. The call to the real systemd is test-enforce-systemd-live (skipped
 * where systemd is not PID 1).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "build-config.h"
#include "systemd.h"
#include "tap.h"
#include "util.h"

#if HAVE_LIBSYSTEMD

struct seen {
	char unit[64];
	int runtime;
	unsigned n;
	char names[4][16];
	uint64_t values[4];
	int calls;
};

static int fake_set_unit_properties(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	struct seen *s = userdata;
	const char *unit, *name;
	int runtime, r;

	s->calls++;
	r = sd_bus_message_read(m, "sb", &unit, &runtime);
	if (r < 0)
		return r;
	snprintf(s->unit, sizeof(s->unit), "%s", unit);
	s->runtime = runtime;
	r = sd_bus_message_enter_container(m, 'a', "(sv)");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(m, 'r', "sv")) > 0) {
		uint64_t v;

		r = sd_bus_message_read(m, "s", &name);
		if (r < 0)
			return r;
		/* Only "t" is accepted for Memory*: a wrong type fails here. */
		r = sd_bus_message_read(m, "v", "t", &v);
		if (r < 0)
			return r;
		if (s->n < 4) {
			snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
			s->values[s->n] = v;
		}
		s->n++;
		r = sd_bus_message_exit_container(m);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	if (strcmp(unit, "nope.scope") == 0)
		return sd_bus_error_setf(err, "org.freedesktop.systemd1.NoSuchUnit",
					 "Unit %s not loaded.", unit);
	return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable manager_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("SetUnitProperties", "sba(sv)", "", fake_set_unit_properties, 0),
	SD_BUS_VTABLE_END,
};

struct server {
	int fd;
	struct seen seen;
	int expect_calls;
};

static void *server_main(void *arg)
{
	struct server *srv = arg;
	sd_bus *bus = NULL;
	sd_id128_t id;

	if (sd_id128_randomize(&id) < 0 || sd_bus_new(&bus) < 0 ||
	    sd_bus_set_fd(bus, srv->fd, srv->fd) < 0 || sd_bus_set_server(bus, 1, id) < 0 ||
	    sd_bus_set_anonymous(bus, 1) < 0 ||
	    sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/systemd1",
				     "org.freedesktop.systemd1.Manager", manager_vtable,
				     &srv->seen) < 0 ||
	    sd_bus_start(bus) < 0)
		goto out;
	while (srv->seen.calls < srv->expect_calls) {
		int r = sd_bus_process(bus, NULL);

		if (r < 0)
			break;
		if (r == 0 && sd_bus_wait(bus, 2 * USEC_PER_SEC) <= 0)
			break;
	}
	sd_bus_flush(bus);
out:
	sd_bus_close_unref(bus);
	return NULL;
}

static void test_bus(void)
{
	struct server srv = { .expect_calls = 2 };
	struct enforce_memory_limits lim = { 0 };
	sd_bus_message *m = NULL;
	sd_bus *bus = NULL;
	pthread_t t;
	int fds[2];

	check_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
	srv.fd = fds[1];
	check_int_eq(pthread_create(&t, NULL, server_main, &srv), 0);
	check(sd_bus_new(&bus) >= 0);
	check(sd_bus_set_fd(bus, fds[0], fds[0]) >= 0);
	check(sd_bus_set_anonymous(bus, 1) >= 0);
	check(sd_bus_start(bus) >= 0);

	/* An empty mask or no unit is refused before anything is sent. */
	check_int_eq(enforce_systemd_memory_message(bus, "machine.slice", &lim, &m), -EINVAL);
	lim.mask = 1u << ENFORCE_NR_MEMORY_KNOBS;
	check_int_eq(enforce_systemd_memory_message(bus, "machine.slice", &lim, &m), -EINVAL);

	lim.mask = 1u << ENFORCE_MEMORY_MIN | 1u << ENFORCE_MEMORY_LOW;
	lim.bytes[ENFORCE_MEMORY_MIN] = 4ULL << 30;
	lim.bytes[ENFORCE_MEMORY_LOW] = ENFORCE_CG_MAX;
	check_int_eq(enforce_systemd_memory_message(bus, "", &lim, &m), -EINVAL);
	check_int_eq(enforce_systemd_memory_set(bus, "machine.slice", &lim, 5 * USEC_PER_SEC), 0);
	check_str_eq(srv.seen.unit, "machine.slice");
	check_int_eq(srv.seen.runtime, 1);
	check_int_eq(srv.seen.n, 2);
	check_str_eq(srv.seen.names[0], "MemoryMin");
	check(srv.seen.values[0] == 4ULL << 30);
	check_str_eq(srv.seen.names[1], "MemoryLow");
	check(srv.seen.values[1] == UINT64_MAX); /* systemd's "infinity" */

	lim.mask = 1u << ENFORCE_MEMORY_MIN;
	check_int_eq(enforce_systemd_memory_set(bus, "nope.scope", &lim, 5 * USEC_PER_SEC),
		     -ENOENT);
	check_int_eq(srv.seen.calls, 2);

	sd_bus_flush_close_unref(bus);
	pthread_join(t, NULL);
}

#else

static void test_bus(void)
{
	fprintf(stderr, "built without libsystemd: D-Bus part not run\n");
}

#endif

static void test_unit_from_cgroup(void)
{
	static const struct {
		const char *path;
		int r;
		const char *unit;
	} cases[] = {
		{ "/machine.slice/machine-qemu\\x2d1\\x2dvm.scope/libvirt/emulator", 0,
		  "machine-qemu\\x2d1\\x2dvm.scope" },
		{ "/machine.slice/machine-qemu\\x2d1\\x2dvm.scope", 0,
		  "machine-qemu\\x2d1\\x2dvm.scope" },
		{ "/machine.slice", 0, "machine.slice" },
		{ "machine.slice/", 0, "machine.slice" },
		{ "/machine/qemu-1-vm.libvirt-qemu/emulator", -ENOENT, NULL },
		{ "/", -ENOENT, NULL },
		{ "", -ENOENT, NULL },
		{ "/.scope", -ENOENT, NULL },
		{ "/a.scope.d/x", -ENOENT, NULL },
	};
	char buf[64], tiny[8];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = enforce_systemd_unit_from_cgroup(cases[i].path, buf, sizeof(buf));

		check_int_eq(r, cases[i].r);
		if (r == 0)
			check_str_eq(buf, cases[i].unit);
	}
	check_int_eq(enforce_systemd_unit_from_cgroup("/machine.slice", tiny, sizeof(tiny)),
		     -ENOBUFS);
}

static void test_probe_and_fallback(void)
{
	char root[PATH_MAX] = "/tmp/prescient-test-systemd.XXXXXX", path[PATH_MAX * 2];
	struct enforce_memory_target t;
	struct enforce_memory_limits lim = { 0 };
	char *s = NULL;
	size_t len;
	bool via = true;

	check_str_eq(enforce_systemd_memory_property(ENFORCE_MEMORY_HIGH), "MemoryHigh");
	check(enforce_systemd_memory_property(ENFORCE_NR_MEMORY_KNOBS) == NULL);
	if (!mkdtemp(root))
		test_skip("cannot create a temporary directory");
	check(!enforce_systemd_probe(root));
	snprintf(path, sizeof(path), "%s/systemd/system", root);
	check_int_eq(util_mkdir_p(path, 0755), 0);
	check(enforce_systemd_probe(root));
	check(!enforce_systemd_probe(NULL));
	/* Cached and consistent with the real /run. */
	check(enforce_systemd_running() == enforce_systemd_probe("/run"));

	if (enforce_systemd_running()) {
		fprintf(stderr, "systemd runs here: fallback part not run\n");
		return;
	}
	snprintf(path, sizeof(path), "%s/cg/machine.slice", root);
	check_int_eq(util_mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/cg/machine.slice/memory.min", root);
	check_int_eq(util_file_write_atomic(path, "0\n", 2), 0);
	snprintf(path, sizeof(path), "%s/cg/machine.slice/memory.low", root);
	check_int_eq(util_file_write_atomic(path, "0\n", 2), 0);
	snprintf(path, sizeof(path), "%s/cg", root);
	t = (struct enforce_memory_target){ "machine.slice", path, "machine.slice" };
	lim.mask = 1u << ENFORCE_MEMORY_MIN | 1u << ENFORCE_MEMORY_LOW;
	lim.bytes[ENFORCE_MEMORY_MIN] = 64 << 20;
	lim.bytes[ENFORCE_MEMORY_LOW] = 128 << 20;
	check_int_eq(enforce_memory_limits_apply(&t, &lim, &via), 0);
	check(!via);
	snprintf(path, sizeof(path), "%s/cg/machine.slice/memory.min", root);
	check_int_eq(util_file_read(path, 64, &s, &len), 0);
	check_str_eq(s, "67108864");
	free(s);
	lim.mask = 0;
	check_int_eq(enforce_memory_limits_apply(&t, &lim, &via), -EINVAL);
	snprintf(path, sizeof(path), "rm -rf '%s'", root);
	if (system(path) != 0)
		fprintf(stderr, "cannot remove %s\n", root);
}

int main(void)
{
	test_unit_from_cgroup();
	test_probe_and_fallback();
	test_bus();
	return test_result();
}
