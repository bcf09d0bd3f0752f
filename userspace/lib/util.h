/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small helpers shared by every stage: reading whole small files (cgroup,
 * proc, sysfs), strict number parsing, time, and atomic file replacement for
 * checkpoints. All return -errno on failure and write outputs only on success.
 */
#ifndef PRESCIENT_LIB_UTIL_H
#define PRESCIENT_LIB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NSEC_PER_USEC 1000ULL
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC  1000000000ULL
#define USEC_PER_SEC  1000000ULL

/* Reads at most max_bytes of path into a NUL-terminated buffer; -EFBIG when larger. */
int util_file_read(const char *path, size_t max_bytes, char **ret_buf, size_t *ret_len);
/* Same, for a path relative to dirfd (or AT_FDCWD). */
int util_file_read_at(int dirfd, const char *path, size_t max_bytes, char **ret_buf,
		      size_t *ret_len);
/* Writes data to path through a temporary file, fsync, rename and a fsync of
 * the directory: after a crash the file is the old one or the new one. */
int util_file_write_atomic(const char *path, const void *data, size_t len);
/* Writes a short string to an existing file (cgroup, sysfs knobs). */
int util_file_write_string(const char *path, const char *s);

/* Strict parsers: whole string (trailing whitespace allowed), no sign surprises. */
int util_parse_u64(const char *s, uint64_t *ret);
int util_parse_i64(const char *s, int64_t *ret);
int util_parse_double(const char *s, double *ret);
int util_parse_bool(const char *s, bool *ret);
/* "10s", "500ms", "2m", "1h", "1d" or plain seconds, into microseconds. */
int util_parse_duration_usec(const char *s, uint64_t *ret);
/* "512M", "2G", "4096", "1K" (powers of 1024) into bytes. */
int util_parse_size_bytes(const char *s, uint64_t *ret);

uint64_t util_now_usec(void);	   /* CLOCK_MONOTONIC */
uint64_t util_realtime_usec(void); /* CLOCK_REALTIME */

/* Copies at most size-1 bytes and always terminates; -ENAMETOOLONG on truncation. */
int util_strlcpy(char *dst, const char *src, size_t size);
bool util_streq(const char *a, const char *b);
/* The 36-character text form of a UUID (8-4-4-4-12 hex digits, any case). */
bool util_uuid_valid(const char *s);
/* mkdir -p with mode for each created component. */
int util_mkdir_p(const char *path, unsigned mode);

#endif
