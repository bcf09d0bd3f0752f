// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The API client (see client.h): a non-blocking UNIX socket driven by poll()
 * against one absolute deadline, so a stuck or slow daemon costs at most the
 * budget, whatever step it stalls in.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "client.h"
#include "util.h"

/* Waits for events on fd until deadline; -ETIMEDOUT when it passes. */
static int wait_fd(int fd, short events, uint64_t deadline_usec)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		uint64_t now = util_now_usec();
		int r;

		if (now >= deadline_usec)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)((deadline_usec - now + 999) / 1000));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r > 0)
			return 0;
	}
}

static int connect_deadline(int fd, const char *path, uint64_t deadline_usec)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len = sizeof(int);
	int err = 0, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return 0;
	/* A full listen backlog on a UNIX socket says EAGAIN; treat it like in-progress. */
	if (errno != EINPROGRESS && errno != EAGAIN)
		return -errno;
	if (errno == EAGAIN) {
		for (;;) {
			uint64_t now = util_now_usec();

			if (now >= deadline_usec)
				return -ETIMEDOUT;
			usleep(10000);
			if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
			    errno == EISCONN)
				return 0;
			if (errno != EAGAIN)
				return -errno;
		}
	}
	r = wait_fd(fd, POLLOUT, deadline_usec);
	if (r < 0)
		return r;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return err ? -err : 0;
}

static int send_all(int fd, const char *data, size_t len, uint64_t deadline_usec)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		int r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			r = wait_fd(fd, POLLOUT, deadline_usec);
			if (r < 0)
				return r;
			continue;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int recv_line(int fd, uint64_t deadline_usec, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	for (;;) {
		ssize_t n;
		char *nl;
		int r;

		if (len + 4096 + 1 > cap) {
			size_t ncap = cap ? cap * 2 : 16384;
			char *nb;

			if (ncap > CLIENT_REPLY_MAX_BYTES + 4096 + 1)
				return -EFBIG;
			nb = realloc(buf, ncap);
			if (!nb)
				return -ENOMEM;
			buf = nb;
			cap = ncap;
		}
		n = recv(fd, buf + len, cap - len - 1, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			r = wait_fd(fd, POLLIN, deadline_usec);
			if (r < 0)
				return r;
			continue;
		}
		if (n == 0)
			return -EPIPE;
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl) {
			*nl = '\0';
			*ret = TAKE_PTR(buf);
			return 0;
		}
		if (len > CLIENT_REPLY_MAX_BYTES)
			return -EFBIG;
	}
}

int client_request(const char *path, const char *request, uint64_t timeout_usec, char **ret_reply)
{
	uint64_t deadline = util_now_usec() + timeout_usec;
	_cleanup_free_ char *line = NULL;
	_cleanup_close_ int fd = -1;
	size_t len;
	int r;

	if (!path || !request)
		return -EINVAL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	r = connect_deadline(fd, path, deadline);
	if (r < 0)
		return r;
	len = strlen(request);
	line = malloc(len + 2);
	if (!line)
		return -ENOMEM;
	memcpy(line, request, len);
	line[len] = '\n';
	line[len + 1] = '\0';
	r = send_all(fd, line, len + 1, deadline);
	if (r < 0)
		return r;
	return recv_line(fd, deadline, ret_reply);
}
