/*-------------------------------------------------------------------------
 *
 * sma_cross.c
 *	  Evaluation core of the built-in strategy kind "sma_cross".
 *
 * The semantics are described in sma_cross.h.  This file includes no
 * PostgreSQL header; the moving averages come from indicators.c, and the
 * dates in the reason text are formatted by the caller.
 *
 *-------------------------------------------------------------------------
 */
#include "sma_cross.h"

#include <math.h>
#include <stdio.h>

#include "indicators.h"

/*
 * Check a pair of periods: 1 <= fast < slow <= SMA_CROSS_PERIOD_MAX.
 *
 * Returns 0 when they are valid.  Otherwise returns -1 and writes into
 * detail (detail_len bytes) a sentence saying which key is wrong and why.
 */
int
sma_cross_check_periods(long fast, long slow, char *detail,
						size_t detail_len)
{
	if (fast < SMA_CROSS_PERIOD_MIN || fast > SMA_CROSS_PERIOD_MAX)
		snprintf(detail, detail_len,
				 "Key \"fast\" must be between %d and %d, got %ld.",
				 SMA_CROSS_PERIOD_MIN, SMA_CROSS_PERIOD_MAX, fast);
	else if (slow < SMA_CROSS_PERIOD_MIN || slow > SMA_CROSS_PERIOD_MAX)
		snprintf(detail, detail_len,
				 "Key \"slow\" must be between %d and %d, got %ld.",
				 SMA_CROSS_PERIOD_MIN, SMA_CROSS_PERIOD_MAX, slow);
	else if (fast >= slow)
		snprintf(detail, detail_len,
				 "Key \"fast\" (%ld) must be less than key \"slow\" (%ld).",
				 fast, slow);
	else
		return 0;
	return -1;
}

/*
 * Return the number of bars an evaluation needs to give an opinion.
 */
int
sma_cross_bars_needed(int slow)
{
	return slow + 1;
}

/*
 * Return the relation of fast to slow, equal within SMA_CROSS_REL_EPS.
 */
static SmaCrossRelation
sma_cross_relation(double fast, double slow)
{
	double scale = fmax(fabs(fast), fabs(slow));

	if (fabs(fast - slow) <= SMA_CROSS_REL_EPS * scale)
		return SMA_CROSS_EQUAL;
	return fast > slow ? SMA_CROSS_ABOVE : SMA_CROSS_BELOW;
}

/*
 * Return the index where the relation rel holding on the last bar began,
 * or -1 when it held on every bar where both averages exist.
 * fast_sma and slow_sma hold n values; slow is the slow period.
 */
static long
sma_cross_since(const double *fast_sma, const double *slow_sma, size_t n,
				int slow, SmaCrossRelation rel)
{
	size_t j = n - 1;

	while (j >= (size_t) slow &&
		   sma_cross_relation(fast_sma[j - 1], slow_sma[j - 1]) == rel)
		j--;
	return j >= (size_t) slow ? (long) j : -1;
}

/*
 * Return the index of the first SMA(period) value past the warm-up of
 * sma[0..n-1] that is not finite, or -1 when every one is finite.
 */
static long
sma_cross_first_overflow(const double *sma, size_t n, int period)
{
	size_t i;

	for (i = (size_t) period - 1; i < n; i++)
		if (!isfinite(sma[i]))
			return (long) i;
	return -1;
}

/*
 * Record in res the earliest non-finite value of the fast (fs) and slow
 * (ss) averages over n bars.  Returns true when there is one.
 */
static int
sma_cross_find_overflow(const double *fs, const double *ss, size_t n,
						SmaCrossResult *res)
{
	long f = sma_cross_first_overflow(fs, n, res->fast_period);
	long s = sma_cross_first_overflow(ss, n, res->slow_period);

	if (f >= 0 && (s < 0 || f <= s))
	{
		res->overflow_at = f;
		res->overflow_period = res->fast_period;
	}
	else if (s >= 0)
	{
		res->overflow_at = s;
		res->overflow_period = res->slow_period;
	}
	return res->overflow_at >= 0;
}

/*
 * Evaluate sma_cross(fast, slow) on n closes, oldest first.
 *
 * work must hold 2 * n doubles.  Fills *res and returns SMA_CROSS_OK.
 * Returns SMA_CROSS_EPARAM when the periods are invalid (see
 * sma_cross_check_periods), and SMA_CROSS_EOVERFLOW when an average came
 * out infinite or NaN (the closes are too large for double precision
 * sums): res->overflow_at and res->overflow_period then say which, and
 * the rest of *res must not be used.
 */
int
sma_cross_evaluate(const double *close, size_t n, int fast, int slow,
				   double *work, SmaCrossResult *res)
{
	double *fs = work;
	double *ss = work + n;
	char	detail[160];

	if (sma_cross_check_periods(fast, slow, detail, sizeof(detail)) != 0)
		return SMA_CROSS_EPARAM;
	*res = (SmaCrossResult){0};
	res->fast_period = fast;
	res->slow_period = slow;
	res->nbars = n;
	res->relation = SMA_CROSS_EQUAL;
	res->since = -1;
	res->overflow_at = -1;
	if (n == 0)
		return SMA_CROSS_OK;
	res->have_close = 1;
	res->last_close = close[n - 1];
	ind_sma(close, n, fast, fs);
	ind_sma(close, n, slow, ss);
	if (sma_cross_find_overflow(fs, ss, n, res))
		return SMA_CROSS_EOVERFLOW;
	res->have_last = n >= (size_t) slow;
	res->have_prev = n >= (size_t) slow + 1;
	if (res->have_last)
	{
		res->fast = fs[n - 1];
		res->slow = ss[n - 1];
	}
	if (!res->have_prev)
		return SMA_CROSS_OK;
	res->fast_prev = fs[n - 2];
	res->slow_prev = ss[n - 2];
	res->relation = sma_cross_relation(res->fast, res->slow);
	if (res->relation == SMA_CROSS_EQUAL)
		return SMA_CROSS_OK;
	res->has_target = 1;
	res->target = res->relation == SMA_CROSS_ABOVE ? 1 : 0;
	res->since = sma_cross_since(fs, ss, n, slow, res->relation);
	res->crossed = res->since == (long) n - 1;
	return SMA_CROSS_OK;
}

/*
 * Return the signal word for a result: "long", "flat" or "none".
 */
const char *
sma_cross_signal(const SmaCrossResult *res)
{
	if (!res->has_target)
		return "none";
	return res->target == 1 ? "long" : "flat";
}

/*
 * Write the plain-words reason for a result into buf (len bytes).
 *
 * last_date names the last bar and since_date the bar where the current
 * relation began (res->since), both as the caller wants them printed;
 * since_date may be NULL when res->since is -1.  Returns 0, or -1 when
 * buf was too small (the text is then cut).
 */
int
sma_cross_reason(const SmaCrossResult *res, const char *last_date,
				 const char *since_date, char *buf, size_t len)
{
	const char *side = res->relation == SMA_CROSS_ABOVE ? "above" : "below";
	int			w;

	if (!res->have_prev)
		w = snprintf(buf, len, "not enough bars: fast SMA(%d) and slow "
							   "SMA(%d) need %d bars, %zu given",
					 res->fast_period, res->slow_period,
					 sma_cross_bars_needed(res->slow_period), res->nbars);
	else if (res->relation == SMA_CROSS_EQUAL)
		w = snprintf(buf, len, "fast SMA(%d) %.4f equals slow SMA(%d) %.4f "
							   "on the last bar (%s): no signal",
					 res->fast_period, res->fast, res->slow_period,
					 res->slow, last_date);
	else if (res->crossed)
		w = snprintf(buf, len, "fast SMA(%d) %.4f crossed %s slow SMA(%d) "
							   "%.4f on the last bar (%s)",
					 res->fast_period, res->fast, side, res->slow_period,
					 res->slow, last_date);
	else if (res->since >= 0 && since_date != NULL)
		w = snprintf(buf, len, "fast SMA(%d) %.4f is %s slow SMA(%d) %.4f "
							   "(crossed %s on %s)",
					 res->fast_period, res->fast, side, res->slow_period,
					 res->slow, side, since_date);
	else
		w = snprintf(buf, len, "fast SMA(%d) %.4f is %s slow SMA(%d) %.4f "
							   "(no cross within the %zu bars given)",
					 res->fast_period, res->fast, side, res->slow_period,
					 res->slow, res->nbars);
	return (w < 0 || (size_t) w >= len) ? -1 : 0;
}
