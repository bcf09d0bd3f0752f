/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging for every program in the tree. Messages go to journald when stderr
 * is connected to the journal (JOURNAL_STREAM) and libsystemd is built in,
 * otherwise to stderr with a "<N>" priority prefix that journald and humans
 * both read. log_*_errno() return the negative errno they were given so that
 * callers can write: return log_error_errno(r, "...: %m");  %m prints
 * strerror of that errno.
 */
#ifndef PRESCIENT_LIB_LOG_H
#define PRESCIENT_LIB_LOG_H

#include <stdarg.h>
#include <syslog.h>

enum log_target {
	LOG_TARGET_AUTO,
	LOG_TARGET_STDERR,
	LOG_TARGET_JOURNAL,
};

void log_setup(const char *ident, enum log_target target);
void log_set_max_level(int level);
int log_get_max_level(void);
/* Parses "debug", "info", "notice", "warning", "err"/"error", "crit" or 0..7. */
int log_level_from_string(const char *s);

/* Always returns -abs(error) (or 0 when error is 0). */
int log_internal(int level, int error, const char *file, int line, const char *func,
		 const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#define log_full_errno(level, error, ...)                                                          \
	log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)

#define log_debug(...)	 log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)	 log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)	 log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)	 log_full_errno(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(e, ...)	  log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...)	  log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)	  log_full_errno(LOG_ERR, (e), __VA_ARGS__)

#endif
