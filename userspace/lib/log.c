// SPDX-License-Identifier: GPL-2.0-or-later
/* Log sink selection and formatting; see log.h. */
#include "build-config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#if HAVE_LIBSYSTEMD
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
#endif

#include "log.h"

static int log_max_level = LOG_INFO;
static enum log_target log_target = LOG_TARGET_STDERR;
static const char *log_ident = "prescient";
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static int journal_stream_is_stderr(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long dev, ino;
	struct stat st;

	/* systemd sets JOURNAL_STREAM to the device:inode of the stream it connected. */
	if (!e || sscanf(e, "%lu:%lu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return st.st_dev == dev && st.st_ino == ino;
}

void log_setup(const char *ident, enum log_target target)
{
	if (ident)
		log_ident = ident;
	if (target == LOG_TARGET_AUTO)
		target = journal_stream_is_stderr() ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR;
#if !HAVE_LIBSYSTEMD
	target = LOG_TARGET_STDERR;
#endif
	log_target = target;
}

void log_set_max_level(int level)
{
	if (level >= LOG_EMERG && level <= LOG_DEBUG)
		log_max_level = level;
}

int log_get_max_level(void)
{
	return log_max_level;
}

int log_level_from_string(const char *s)
{
	static const char *const names[] = { "emerg",	"alert",  "crit", "err",
					     "warning", "notice", "info", "debug" };
	char *end;
	long v;

	if (!s || !*s)
		return -EINVAL;
	if (!strcasecmp(s, "error"))
		return LOG_ERR;
	if (!strcasecmp(s, "warn"))
		return LOG_WARNING;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(s, names[i]))
			return (int)i;
	v = strtol(s, &end, 10);
	if (*end || v < LOG_EMERG || v > LOG_DEBUG)
		return -EINVAL;
	return (int)v;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
		 const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (error < 0)
		error = -error;
	if (level > log_max_level)
		return -error;

	/* %m in fmt must print the errno we were given, not whatever errno is now. */
	errno = error;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

#if HAVE_LIBSYSTEMD
	if (log_target == LOG_TARGET_JOURNAL) {
		sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", level, "SYSLOG_IDENTIFIER=%s",
				log_ident, "CODE_FILE=%s", file, "CODE_LINE=%d", line,
				"CODE_FUNC=%s", func, error ? "ERRNO=%d" : NULL, error, NULL);
		return -error;
	}
#endif
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "<%d>%s: %s\n", level, log_ident, msg);
	pthread_mutex_unlock(&log_lock);
	return -error;
}
