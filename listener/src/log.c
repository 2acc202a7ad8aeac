/*-------------------------------------------------------------------------
 *
 * log.c
 *	  One line per event on standard error.
 *
 * Each line is formatted in full and written with a single fputs, so
 * that lines never interleave mid-way when the journal or a pipe reads
 * them.  Not called from signal handlers.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Longest message and line written; longer messages are cut. */
#define LOG_MSG_MAX 3800
#define LOG_LINE_MAX 4096

static bool log_verbose = false;

/* Turn DEBUG lines on or off. */
void
log_set_verbose(bool verbose)
{
	log_verbose = verbose;
}

/* Return the level's name as PostgreSQL prints it. */
static const char *
level_name(LogLevel level)
{
	switch (level)
	{
		case LEVEL_DEBUG:
			return "DEBUG";
		case LEVEL_LOG:
			return "LOG";
		case LEVEL_WARNING:
			return "WARNING";
		case LEVEL_ERROR:
			return "ERROR";
		case LEVEL_FATAL:
			return "FATAL";
	}
	return "LOG";
}

/* Replace control characters (newlines included) by blanks. */
static void
flatten(char *s)
{
	for (; *s; s++)
		if ((unsigned char) *s < 0x20 || *s == 0x7f)
			*s = ' ';
}

/*
 * Write one log line.  context may be NULL; the message is a printf
 * format.
 */
void
log_msg(LogLevel level, const char *context, const char *fmt, ...)
{
	char			line[LOG_LINE_MAX];
	char			msg[LOG_MSG_MAX];
	char			stamp[32];
	struct timespec ts;
	struct tm		tm;
	va_list			ap;

	if (level == LEVEL_DEBUG && !log_verbose)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	flatten(msg);
	snprintf(line, sizeof(line), "%s.%03ld UTC [%ld] %s: %.200s%s%s\n",
			 stamp, ts.tv_nsec / 1000000L, (long) getpid(),
			 level_name(level), context ? context : "",
			 context ? ": " : "", msg);
	fputs(line, stderr);
	fflush(stderr);
}
