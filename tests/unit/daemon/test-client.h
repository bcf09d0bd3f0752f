/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tiny blocking client helpers for the API tests: connect, send, read one line. */
#ifndef PRESCIENT_TESTS_TEST_CLIENT_H
#define PRESCIENT_TESTS_TEST_CLIENT_H

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static inline int tc_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static inline int tc_send(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads up to and excluding '\n' within timeout_ms; malloc'd line in *ret. -ETIMEDOUT, -EPIPE on
 * EOF. */
static inline int tc_read_line(int fd, int timeout_ms, char **ret)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		char c;

		if (poll(&p, 1, timeout_ms) <= 0) {
			free(buf);
			return -ETIMEDOUT;
		}
		n = recv(fd, &c, 1, 0);
		if (n <= 0) {
			free(buf);
			return n == 0 ? -EPIPE : -errno;
		}
		if (c == '\n')
			break;
		if (len + 2 > cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		buf[len++] = c;
	}
	buf[len] = '\0';
	*ret = buf;
	return 0;
}

/* One request, one response line. */
static inline int tc_request(const char *path, const char *req, char **ret)
{
	int fd = tc_connect(path), r;

	if (fd < 0)
		return fd;
	r = tc_send(fd, req, strlen(req));
	if (r == 0)
		r = tc_read_line(fd, 5000, ret);
	close(fd);
	return r;
}

#endif
