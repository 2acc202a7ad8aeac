/*-------------------------------------------------------------------------
 *
 * tap.h
 *	  Test Anything Protocol output shared by pgtrade's C unit tests.
 *
 * Header-only: each test program includes it once and gets its own
 * counters.  A test prints its points with ok() (and skip()), then its
 * plan line and exit status with tap_finish() or, when the plan was
 * printed first, by checking tests_run against it itself.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTRADE_TAP_H
#define PGTRADE_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tests_run = 0;
static int tests_failed = 0;

/*
 * Report one test result; the description is printf-style.
 */
static void
ok(int passed, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
ok(int passed, const char *fmt, ...)
{
	va_list ap;

	tests_run++;
	if (!passed)
		tests_failed++;
	printf("%sok %d - ", passed ? "" : "not ", tests_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/*
 * Report n skipped test points with one reason.
 */
static inline void
skip(int n, const char *reason)
{
	for (int i = 0; i < n; i++)
	{
		tests_run++;
		printf("ok %d # SKIP %s\n", tests_run, reason);
	}
}

/*
 * Print the plan for the points run so far; returns the exit status
 * (0 when every point passed).
 */
static inline int
tap_finish(void)
{
	printf("1..%d\n", tests_run);
	return tests_failed == 0 ? 0 : 1;
}

#endif /* PGTRADE_TAP_H */
