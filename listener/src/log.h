/*-------------------------------------------------------------------------
 *
 * log.h
 *	  One line per event on standard error.
 *
 * Line format:
 *	  2026-12-04 15:32:16.123 UTC [4711] LOG: order 42: submitted ...
 * that is time with milliseconds in UTC, [pid], level, then the context
 * (order, account, endpoint) and the message.  DEBUG lines appear only
 * with -v.  Control characters in messages are printed as blanks so that
 * one event is always one line.  Callers never pass passwords, cookies,
 * session ids or connection strings.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LOG_H
#define LOG_H

#include <stdbool.h>

typedef enum LogLevel
{
	LEVEL_DEBUG,
	LEVEL_LOG,
	LEVEL_WARNING,
	LEVEL_ERROR,
	LEVEL_FATAL
} LogLevel;

extern void log_set_verbose(bool verbose);
extern void log_msg(LogLevel level, const char *context, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(ctx, ...) log_msg(LEVEL_DEBUG, ctx, __VA_ARGS__)
#define log_info(ctx, ...) log_msg(LEVEL_LOG, ctx, __VA_ARGS__)
#define log_warning(ctx, ...) log_msg(LEVEL_WARNING, ctx, __VA_ARGS__)
#define log_error(ctx, ...) log_msg(LEVEL_ERROR, ctx, __VA_ARGS__)
#define log_fatal(ctx, ...) log_msg(LEVEL_FATAL, ctx, __VA_ARGS__)

#endif /* LOG_H */
