/*-------------------------------------------------------------------------
 *
 * indicators_stream.c
 *	  Running forms of SMA, EMA, RSI and ATR, one value at a time.
 *
 * Each update repeats, in the same order, the floating-point operations
 * that the array functions in indicators.c perform for the same index,
 * so a stream fed a series reports the same value as the array function
 * at every position.  This file includes no PostgreSQL header so that
 * unit tests can link it alone (with indicators.c for the period checks
 * and warm-up lengths).
 *
 * Invariants: count is the number of values added; value holds the
 * indicator at the newest value once count exceeds the warm-up length
 * (ind_*_lookback()) and is meaningless before that; only the add
 * functions write to a stream.
 *
 *-------------------------------------------------------------------------
 */
#include "indicators_stream.h"

#include <math.h>
#include <string.h>

#include "indicators.h"

/*
 * Return nonzero when kind names one of the four indicators.
 */
static int
ind_stream_kind_ok(IndStreamKind kind)
{
	return kind == IND_STREAM_SMA || kind == IND_STREAM_EMA ||
		kind == IND_STREAM_RSI || kind == IND_STREAM_ATR;
}

/*
 * Return the index of the stream's first defined value, as the array
 * functions define it.
 */
static size_t
ind_stream_lookback(const IndStream *s)
{
	switch (s->kind)
	{
		case IND_STREAM_SMA:
			return ind_sma_lookback(s->period);
		case IND_STREAM_EMA:
			return ind_ema_lookback(s->period);
		case IND_STREAM_RSI:
			return ind_rsi_lookback(s->period);
		case IND_STREAM_ATR:
			return ind_atr_lookback(s->period);
	}
	return 0;
}

/*
 * Return the number of bytes a stream of this kind and period needs, or 0
 * when the kind or the period is invalid.  The caller allocates them.
 */
size_t
ind_stream_size(IndStreamKind kind, int period)
{
	if (!ind_stream_kind_ok(kind) || !ind_period_ok(period))
		return 0;
	if (kind != IND_STREAM_SMA)
		return sizeof(IndStream);
	return sizeof(IndStream) + sizeof(double) * (size_t) period;
}

/*
 * Set up an empty stream in memory of ind_stream_size(kind, period) bytes.
 * Returns IND_OK, or IND_EPARAM (stream untouched) for an invalid kind or
 * period.
 */
int
ind_stream_init(IndStream *s, IndStreamKind kind, int period)
{
	size_t size = ind_stream_size(kind, period);

	if (size == 0)
		return IND_EPARAM;
	memset(s, 0, size);
	s->kind = kind;
	s->period = period;
	s->value = NAN;
	return IND_OK;
}

/*
 * Add a value to an SMA stream.  The window sum slides by the same
 * subtraction as ind_sma() and is summed afresh from the window at the
 * same indexes (whenever count is a multiple of period, when slots 0 to
 * period-1 hold the window oldest first).
 */
static void
ind_stream_sma_add(IndStream *s, double x)
{
	size_t p = (size_t) s->period;
	size_t i = s->count;
	double old = s->window[i % p];
	size_t j;

	s->window[i % p] = x;
	s->count++;
	if (i + 1 < p)
		return;
	if ((i + 1 - p) % p == 0)
	{
		s->sum = 0.0;
		for (j = 0; j < p; j++)
			s->sum += s->window[j];
	}
	else
		s->sum += x - old;
	s->value = s->sum / (double) p;
}

/*
 * Add a value to an EMA stream: sum the first period values, seed with
 * their mean, then follow the EMA recursion of ind_ema().
 */
static void
ind_stream_ema_add(IndStream *s, double x)
{
	size_t p = (size_t) s->period;
	double k = 2.0 / ((double) s->period + 1.0);

	s->count++;
	if (s->count <= p)
	{
		s->sum += x;
		if (s->count < p)
			return;
		s->avg = s->sum / (double) s->period;
	}
	else
		s->avg = (x - s->avg) * k + s->avg;
	s->value = s->avg;
}

/*
 * Return the RSI for Wilder averages of gains and losses; 0 when both are
 * 0.  The same formula as in indicators.c.
 */
static double
ind_stream_rsi_value(double gain, double loss)
{
	double total = gain + loss;

	if (total == 0.0)
		return 0.0;
	return 100.0 * (gain / total);
}

/*
 * Add a value to an RSI stream: the first period changes are summed into
 * plain means, later ones enter Wilder's smoothing as in ind_rsi().
 */
static void
ind_stream_rsi_add(IndStream *s, double x)
{
	size_t p = (size_t) s->period;
	double change = x - s->prev;

	s->count++;
	s->prev = x;
	if (s->count == 1)
		return;
	if (s->count <= p + 1)
	{
		if (change < 0.0)
			s->sum2 -= change;
		else
			s->sum += change;
		if (s->count < p + 1)
			return;
		s->avg = s->sum / (double) p;
		s->avg2 = s->sum2 / (double) p;
	}
	else
	{
		s->avg *= (double) (p - 1);
		s->avg2 *= (double) (p - 1);
		if (change < 0.0)
			s->avg2 -= change;
		else
			s->avg += change;
		s->avg /= (double) p;
		s->avg2 /= (double) p;
	}
	s->value = ind_stream_rsi_value(s->avg, s->avg2);
}

/*
 * Add a value to an SMA, EMA or RSI stream.  Returns IND_OK, or
 * IND_EPARAM (stream untouched) for an ATR stream, which takes bars.
 */
int
ind_stream_add(IndStream *s, double x)
{
	switch (s->kind)
	{
		case IND_STREAM_SMA:
			ind_stream_sma_add(s, x);
			return IND_OK;
		case IND_STREAM_EMA:
			ind_stream_ema_add(s, x);
			return IND_OK;
		case IND_STREAM_RSI:
			ind_stream_rsi_add(s, x);
			return IND_OK;
		case IND_STREAM_ATR:
			break;
	}
	return IND_EPARAM;
}

/*
 * Return the true range of a bar after a bar that closed at prev_close,
 * TA-Lib's three-way maximum as in indicators.c.
 */
static double
ind_stream_true_range(double high, double low, double prev_close)
{
	double range = high - low;
	double up = fabs(prev_close - high);
	double down = fabs(prev_close - low);

	if (up > range)
		range = up;
	if (down > range)
		range = down;
	return range;
}

/*
 * Add a bar to an ATR stream: the true ranges of bars 2 to period+1 are
 * averaged, later ones enter Wilder's smoothing as in ind_atr().  Returns
 * IND_OK, or IND_EPARAM (stream untouched) for any other kind of stream.
 */
int
ind_stream_add_bar(IndStream *s, double high, double low, double close)
{
	size_t p = (size_t) s->period;
	double tr;

	if (s->kind != IND_STREAM_ATR)
		return IND_EPARAM;
	tr = ind_stream_true_range(high, low, s->prev);
	s->count++;
	s->prev = close;
	if (s->count == 1)
		return IND_OK;
	if (s->count <= p + 1)
	{
		s->sum += tr;
		if (s->count < p + 1)
			return IND_OK;
		s->avg = s->sum / (double) p;
	}
	else
	{
		s->avg *= (double) (p - 1);
		s->avg += tr;
		s->avg /= (double) p;
	}
	s->value = s->avg;
	return IND_OK;
}

/*
 * Return nonzero once the stream is past its warm-up, that is when the
 * newest value has an indicator value.
 */
int
ind_stream_ready(const IndStream *s)
{
	return s->count > ind_stream_lookback(s);
}

/*
 * Return the indicator at the newest value, or NaN during the warm-up.
 */
double
ind_stream_value(const IndStream *s)
{
	return ind_stream_ready(s) ? s->value : NAN;
}
