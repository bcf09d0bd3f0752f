/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Runs a program with arguments, an optional environment override and stdin
 * text, and captures its exit status, stdout, stderr and wall time. Used by
 * the prescientctl and hook tests.
 */
#ifndef PRESCIENT_TESTS_RUN_PROGRAM_H
#define PRESCIENT_TESTS_RUN_PROGRAM_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct run_result {
	int status;	 /* exit code, or 128 + signal */
	char *out, *err; /* NUL-terminated */
	size_t out_len, err_len;
	double elapsed_sec;
	bool stdin_closed_early; /* the program exited before reading all of stdin */
};

static inline double run_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void run_append(char **buf, size_t *len, const char *data, size_t n)
{
	char *nb = realloc(*buf, *len + n + 1);

	if (!nb)
		abort();
	memcpy(nb + *len, data, n);
	*len += n;
	nb[*len] = '\0';
	*buf = nb;
}

/*
 * argv[0] is the program path. env: "NAME=value" strings added to the
 * environment (NULL-terminated list, may be NULL). stdin_data may be NULL
 * (stdin is then empty). Waits until the program exits and its stdout and
 * stderr reach EOF (so a child left holding them would show up as a hang,
 * bounded by limit_sec after which everything is killed: status = -1).
 */
static inline int run_program(char *const argv[], const char *const *env, const char *stdin_data,
			      size_t stdin_len, double limit_sec, struct run_result *ret)
{
	int in[2], out[2], err[2];
	struct run_result r = { 0 };
	size_t in_off = 0;
	bool out_open = true, err_open = true, in_open = true;
	double t0 = run_now();
	pid_t pid;
	int ws;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		setpgid(0, 0);
		for (const char *const *e = env; e && *e; e++)
			putenv((char *)*e);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	signal(SIGPIPE, SIG_IGN);
	if (!stdin_data || stdin_len == 0) {
		close(in[1]);
		in_open = false;
	}
	r.out = calloc(1, 1);
	r.err = calloc(1, 1);
	while (out_open || err_open) {
		struct pollfd p[3] = {
			{ .fd = out_open ? out[0] : -1, .events = POLLIN },
			{ .fd = err_open ? err[0] : -1, .events = POLLIN },
			{ .fd = in_open ? in[1] : -1, .events = POLLOUT },
		};
		char buf[65536];
		double left = limit_sec - (run_now() - t0);

		if (left <= 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			r.status = -1;
			break;
		}
		if (poll(p, 3, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			break;
		if (p[0].revents) {
			ssize_t n = read(out[0], buf, sizeof(buf));

			if (n <= 0)
				out_open = false;
			else
				run_append(&r.out, &r.out_len, buf, (size_t)n);
		}
		if (p[1].revents) {
			ssize_t n = read(err[0], buf, sizeof(buf));

			if (n <= 0)
				err_open = false;
			else
				run_append(&r.err, &r.err_len, buf, (size_t)n);
		}
		if (in_open && p[2].revents) {
			ssize_t n = write(in[1], stdin_data + in_off, stdin_len - in_off);

			if (n < 0 && errno != EAGAIN) {
				r.stdin_closed_early = true;
				close(in[1]);
				in_open = false;
			} else if (n > 0) {
				in_off += (size_t)n;
				if (in_off == stdin_len) {
					close(in[1]);
					in_open = false;
				}
			}
		}
	}
	if (in_open)
		close(in[1]);
	close(out[0]);
	close(err[0]);
	if (waitpid(pid, &ws, 0) < 0)
		return -errno;
	r.elapsed_sec = run_now() - t0;
	if (r.status != -1)
		r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	*ret = r;
	return 0;
}

static inline void run_result_free(struct run_result *r)
{
	free(r->out);
	free(r->err);
}

#endif
