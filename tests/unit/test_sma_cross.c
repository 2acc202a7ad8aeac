/*-------------------------------------------------------------------------
 *
 * test_sma_cross.c
 *	  TAP unit tests of the sma_cross strategy core (sma_cross.c).
 *
 * Build and run from the repository root:
 *	  cc -I extension/src tests/unit/test_sma_cross.c \
 *		  extension/src/sma_cross.c extension/src/indicators.c -lm \
 *		  -o /tmp/test_sma_cross
 *	  /tmp/test_sma_cross
 *
 * Every expected value is computed by hand in the comment next to it.
 * The plan line is printed last; the exit status is 1 when a test fails.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sma_cross.h"
#include "tap.h"

/*
 * Check that two strings are equal, with a diagnostic when they are not.
 */
static void
is_str(const char *got, const char *want, const char *desc)
{
	int passed = strcmp(got, want) == 0;

	ok(passed, "%s", desc);
	if (!passed)
		printf("#   got  \"%s\"\n#   want \"%s\"\n", got, want);
}

/*
 * Check that got is within 1e-12 of want.
 */
static void
is_near(double got, double want, const char *desc)
{
	int passed = fabs(got - want) <= 1e-12;

	ok(passed, "%s", desc);
	if (!passed)
		printf("#   got %.15g, want %.15g\n", got, want);
}

/*
 * Parameter checks: the range, the order and the detail text.
 */
static void
test_periods(void)
{
	char detail[160];

	ok(sma_cross_check_periods(1, 2, detail, sizeof(detail)) == 0,
	   "periods 1 and 2 are valid");
	ok(sma_cross_check_periods(9999, 10000, detail, sizeof(detail)) == 0,
	   "periods 9999 and 10000 are valid");
	ok(sma_cross_check_periods(0, 3, detail, sizeof(detail)) == -1,
	   "fast 0 is refused");
	is_str(detail, "Key \"fast\" must be between 1 and 10000, got 0.",
		   "fast 0 detail names the key and the range");
	ok(sma_cross_check_periods(2, 10001, detail, sizeof(detail)) == -1,
	   "slow 10001 is refused");
	is_str(detail, "Key \"slow\" must be between 1 and 10000, got 10001.",
		   "slow 10001 detail names the key and the range");
	ok(sma_cross_check_periods(3, 3, detail, sizeof(detail)) == -1,
	   "fast equal to slow is refused");
	ok(sma_cross_check_periods(30, 10, detail, sizeof(detail)) == -1,
	   "fast above slow is refused");
	is_str(detail, "Key \"fast\" (30) must be less than key \"slow\" (10).",
		   "fast above slow detail gives both values");
	ok(sma_cross_bars_needed(30) == 31, "slow 30 needs 31 bars");
}

/*
 * A hand-made series with one cross below and one cross above.
 *
 * closes     10    10    10    9     8     9     11
 * SMA(2)     -     10    10    9.5   8.5   8.5   10
 * SMA(3)     -     -     10    29/3  9     26/3  28/3
 * relation               equal below below below above
 */
static void
test_series(void)
{
	double		   close[] = {10, 10, 10, 9, 8, 9, 11};
	double		   work[14];
	char		   reason[256];
	SmaCrossResult r;

	/* All seven bars: above on the last bar, below on the one before. */
	ok(sma_cross_evaluate(close, 7, 2, 3, work, &r) == 0, "evaluate runs");
	ok(r.has_target && r.target == 1, "cross above gives target 1");
	is_str(sma_cross_signal(&r), "long", "cross above signals long");
	ok(r.crossed && r.since == 6, "cross above happened on the last bar");
	is_near(r.fast, 10.0, "fast sma on the last bar is 10");
	is_near(r.slow, 28.0 / 3.0, "slow sma on the last bar is 28/3");
	is_near(r.fast_prev, 8.5, "fast sma on the bar before is 8.5");
	is_near(r.slow_prev, 26.0 / 3.0, "slow sma on the bar before is 26/3");
	ok(r.last_close == 11.0, "last close is 11");
	sma_cross_reason(&r, "2008-09-12", NULL, reason, sizeof(reason));
	is_str(reason, "fast SMA(2) 10.0000 crossed above slow SMA(3) 9.3333 "
				   "on the last bar (2008-09-12)",
		   "reason of a cross above");

	/* Six bars: below on the last two; the relation began at index 3. */
	sma_cross_evaluate(close, 6, 2, 3, work, &r);
	ok(r.has_target && r.target == 0, "below gives target 0");
	is_str(sma_cross_signal(&r), "flat", "below signals flat");
	ok(!r.crossed, "no cross on the last bar of six");
	ok(r.since == 3, "below since index 3, after the equal bar");
	sma_cross_reason(&r, "2008-09-11", "2008-09-08", reason, sizeof(reason));
	is_str(reason, "fast SMA(2) 8.5000 is below slow SMA(3) 8.6667 "
				   "(crossed below on 2008-09-08)",
		   "reason of a held regime");

	/* Four bars: equal before, below on the last bar counts as a cross. */
	sma_cross_evaluate(close, 4, 2, 3, work, &r);
	ok(r.crossed && r.target == 0, "leaving equality is a cross");

	/* Three bars: slow + 1 = 4 are needed. */
	sma_cross_evaluate(close, 3, 2, 3, work, &r);
	ok(!r.has_target && !r.crossed && r.have_last && !r.have_prev,
	   "three bars give no opinion");
	is_str(sma_cross_signal(&r), "none", "too few bars signal none");
	sma_cross_reason(&r, "2008-09-05", NULL, reason, sizeof(reason));
	is_str(reason, "not enough bars: fast SMA(2) and slow SMA(3) need "
				   "4 bars, 3 given",
		   "reason of too few bars");

	sma_cross_evaluate(close, 0, 2, 3, work, &r);
	ok(!r.has_target && !r.have_close, "no bars give no opinion");
	ok(sma_cross_evaluate(close, 7, 3, 2, work, &r) == -1,
	   "evaluate refuses fast above slow");
}

/*
 * Equality and the "no cross within the bars" case.
 */
static void
test_edges(void)
{
	double		   flat[] = {0.1, 0.1, 0.1, 0.1, 0.1};
	double		   up[] = {1, 2, 3, 4, 5, 6};
	double		   work[12];
	char		   reason[256];
	SmaCrossResult r;

	/*
	 * SMA(1) is 0.1 and SMA(3) is 0.3/3, which may differ from 0.1 by an
	 * ulp: the tolerance makes them equal, so there is no opinion.
	 */
	sma_cross_evaluate(flat, 5, 1, 3, work, &r);
	ok(r.have_prev && !r.has_target && r.relation == SMA_CROSS_EQUAL,
	   "a flat series gives no opinion");
	sma_cross_reason(&r, "2008-09-12", NULL, reason, sizeof(reason));
	is_str(reason, "fast SMA(1) 0.1000 equals slow SMA(3) 0.1000 on the "
				   "last bar (2008-09-12): no signal",
		   "reason of equal averages");

	/*
	 * Rising 1..6, SMA(2) - SMA(3) = 0.5 on every bar from index 2: above
	 * everywhere, so no cross within the six bars.
	 */
	sma_cross_evaluate(up, 6, 2, 3, work, &r);
	ok(r.target == 1 && !r.crossed && r.since == -1,
	   "a rising series is long with no cross in view");
	sma_cross_reason(&r, "2008-09-12", NULL, reason, sizeof(reason));
	is_str(reason, "fast SMA(2) 5.5000 is above slow SMA(3) 5.0000 "
				   "(no cross within the 6 bars given)",
		   "reason without a cross");
	ok(sma_cross_reason(&r, "2008-09-12", NULL, reason, 10) == -1,
	   "a short reason buffer is reported");
}

/*
 * Closes near the largest double: the running sums overflow, and the
 * evaluation must say where instead of comparing infinities.
 */
static void
test_overflow(void)
{
	double		   big[] = {1.7e308, 1.7e308, 1.7e308, 1.7e308};
	double		   late[] = {1, 1, 1, 1.7e308, 1.7e308};
	double		   one[] = {1.7e308, 1, 1, 1};
	double		   work[10];
	SmaCrossResult r;

	/*
	 * 1.7e308 + 1.7e308 = 3.4e308 exceeds DBL_MAX (about 1.798e308), so
	 * the first SMA(2) sum, at index 1, is infinite; SMA(3) would be
	 * infinite only from index 2.
	 */
	ok(sma_cross_evaluate(big, 4, 2, 3, work, &r) == SMA_CROSS_EOVERFLOW,
	   "huge closes report an overflow");
	ok(r.overflow_at == 1 && r.overflow_period == 2,
	   "the overflow is the fast SMA(2) at index 1");

	/*
	 * Only the last two closes are huge: SMA(2) at index 4 sums them,
	 * 3.4e308, while SMA(3) at index 4 (1 + 2 * 1.7e308) overflows on the
	 * same bar; the fast one is named first.
	 */
	ok(sma_cross_evaluate(late, 5, 2, 3, work, &r) == SMA_CROSS_EOVERFLOW &&
		   r.overflow_at == 4 && r.overflow_period == 2,
	   "an overflow on the last bar is found");

	/*
	 * One huge close with ones after it: no window holds two of them,
	 * and 1.7e308 + 1 + 1 rounds to 1.7e308, finite, so no average
	 * overflows and the evaluation succeeds.
	 */
	ok(sma_cross_evaluate(one, 4, 2, 3, work, &r) == SMA_CROSS_OK &&
		   r.overflow_at == -1,
	   "one huge close whose sums stay finite is no overflow");
}

int
main(void)
{
	test_periods();
	test_series();
	test_edges();
	test_overflow();
	return tap_finish();
}
