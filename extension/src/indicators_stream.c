/*-------------------------------------------------------------------------
 *
 * indicators_stream.c
 *	  Running forms of the indicators of indicators.c, one value (or
 *	  bar) at a time.
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
 * Return nonzero when kind names one of the indicators.
 */
static int
ind_stream_kind_ok(IndStreamKind kind)
{
	return kind == IND_STREAM_SMA || kind == IND_STREAM_EMA ||
		kind == IND_STREAM_RSI || kind == IND_STREAM_ATR ||
		kind == IND_STREAM_WMA || kind == IND_STREAM_STDDEV ||
		kind == IND_STREAM_ROC || kind == IND_STREAM_OBV ||
		kind == IND_STREAM_SUPERTREND || kind == IND_STREAM_MACD ||
		kind == IND_STREAM_BOLLINGER;
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
		case IND_STREAM_WMA:
			return ind_wma_lookback(s->period);
		case IND_STREAM_STDDEV:
			return ind_stddev_lookback(s->period);
		case IND_STREAM_ROC:
			return ind_roc_lookback(s->period);
		case IND_STREAM_OBV:
			return 0;
		case IND_STREAM_SUPERTREND:
			return ind_supertrend_lookback(s->period);
		case IND_STREAM_MACD:
			return ind_macd_lookback(s->period);
		case IND_STREAM_BOLLINGER:
			return ind_bollinger_lookback(s->period);
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
	if (kind != IND_STREAM_SMA && kind != IND_STREAM_WMA &&
		kind != IND_STREAM_STDDEV && kind != IND_STREAM_ROC &&
		kind != IND_STREAM_MACD && kind != IND_STREAM_BOLLINGER)
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
 * Put x in a stream's window of period values and count it.  *old gets
 * the value x replaced (the one period values before, or 0 at first).
 * Returns 0 while the window is not yet full, 2 when the window's sums
 * are to be recomputed from it (where ind_sma() recomputes: slots 0 to
 * period-1 then hold the window oldest first), 1 when they slide.
 */
static int
ind_stream_push(IndStream *s, double x, double *old)
{
	size_t p = (size_t) s->period;
	size_t i = s->count;

	*old = s->window[i % p];
	s->window[i % p] = x;
	s->count++;
	if (i + 1 < p)
		return 0;
	return (i + 1 - p) % p == 0 ? 2 : 1;
}

/*
 * Return the plain sum of a full window, oldest first.
 */
static double
ind_stream_window_sum(const IndStream *s)
{
	double sum = 0.0;
	size_t j;

	for (j = 0; j < (size_t) s->period; j++)
		sum += s->window[j];
	return sum;
}

/*
 * Move the window's sum (sum) as ind_sma() does, after ind_stream_push()
 * returned how; returns the SMA.
 */
static double
ind_stream_mean(IndStream *s, int how, double x, double old)
{
	if (how == 2)
		s->sum = ind_stream_window_sum(s);
	else
		s->sum += x - old;
	return s->sum / (double) s->period;
}

/*
 * Move the window's deviation as ind_stddev() does, after
 * ind_stream_push() returned how; returns the population standard
 * deviation.  The window is read oldest first from the slot after the
 * newest.
 */
static double
ind_stream_sigma(IndStream *s, int how, double x, double old)
{
	size_t p = (size_t) s->period;
	size_t oldest = s->count % p;

	if (how == 2)
		ind_sigma_reset(&s->sigma, s->window, p, oldest);
	else
		ind_sigma_slide(&s->sigma, s->window, p, oldest, old, x);
	return ind_sigma_value(&s->sigma, p);
}

/*
 * Add a value to an SMA stream.  The window sum slides by the same
 * subtraction as ind_sma() and is summed afresh from the window at the
 * same indexes.
 */
static void
ind_stream_sma_add(IndStream *s, double x)
{
	double old;
	int	   how = ind_stream_push(s, x, &old);

	if (how == 0)
		return;
	s->value = ind_stream_mean(s, how, x, old);
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
	s->value = ind_rsi_value(s->avg, s->avg2);
}

/*
 * Add a value to a WMA stream: the weighted and plain window sums slide
 * as in ind_wma() and are recomputed from the window at the same indexes.
 */
static void
ind_stream_wma_add(IndStream *s, double x)
{
	size_t p = (size_t) s->period;
	double old;
	int	   how = ind_stream_push(s, x, &old);
	size_t j;

	if (how == 0)
		return;
	if (how == 2)
	{
		s->avg = 0.0;
		for (j = 0; j < p; j++)
			s->avg += (double) (j + 1) * s->window[j];
		s->sum = ind_stream_window_sum(s);
	}
	else
	{
		s->avg += (double) p * x - s->sum;
		s->sum += x - old;
	}
	s->value = s->avg / ((double) p * (double) (p + 1) / 2.0);
}

/*
 * Add a value to a STDDEV stream: mean and sum of squared deviations
 * slide as in ind_stddev() and are recomputed at the same indexes.
 */
static void
ind_stream_stddev_add(IndStream *s, double x)
{
	double old;
	int	   how = ind_stream_push(s, x, &old);

	if (how != 0)
		s->value = ind_stream_sigma(s, how, x, old);
}

/*
 * Add a value to a ROC stream: the value period before is the one the
 * new value replaces in the window.
 */
static void
ind_stream_roc_add(IndStream *s, double x)
{
	double base;

	ind_stream_push(s, x, &base);
	if (s->count > (size_t) s->period)
		s->value = ind_roc_one(x, base);
}

/*
 * Add a value to a MACD stream (slow period in period): until index
 * slow-1 the values only fill the window; there both EMAs are seeded
 * from it as ind_macd() seeds them (the slow with all of it, the fast
 * with its last fast values, each summed oldest first), then they follow
 * the EMA recursion.  The signal sums the first signal MACD values, is
 * seeded with their mean and follows the recursion too.
 */
static void
ind_stream_macd_add(IndStream *s, double x)
{
	size_t p = (size_t) s->period;
	size_t i = s->count;
	size_t j;

	s->count++;
	if (i < p)
		s->window[i] = x;
	if (i + 1 < p)
		return;
	if (i + 1 == p)
	{
		double slow = 0.0;
		double fast = 0.0;

		for (j = 0; j < p; j++)
			slow += s->window[j];
		for (j = p - (size_t) s->fast; j < p; j++)
			fast += s->window[j];
		s->avg2 = slow / (double) s->period;
		s->avg = fast / (double) s->fast;
	}
	else
	{
		double kf = 2.0 / ((double) s->fast + 1.0);
		double ks = 2.0 / ((double) s->period + 1.0);

		s->avg = (x - s->avg) * kf + s->avg;
		s->avg2 = (x - s->avg2) * ks + s->avg2;
	}
	s->value = s->avg - s->avg2;
	/* the signal: index i - (p - 1) of the MACD line */
	j = i + 1 - p;
	if (j < (size_t) s->signal)
	{
		s->sum += s->value;
		if (j + 1 == (size_t) s->signal)
			s->sum2 = s->sum / (double) s->signal;
	}
	else
	{
		double kg = 2.0 / ((double) s->signal + 1.0);

		s->sum2 = (s->value - s->sum2) * kg + s->sum2;
	}
}

/*
 * Add a value to a Bollinger stream: the middle slides as the SMA stream
 * and sigma as the STDDEV stream, both recomputed from the window at the
 * same indexes as ind_bollinger().
 */
static void
ind_stream_bollinger_add(IndStream *s, double x)
{
	double old;
	int	   how = ind_stream_push(s, x, &old);

	if (how == 0)
		return;
	s->value = ind_stream_mean(s, how, x, old);
	s->prev = ind_stream_sigma(s, how, x, old);
}

/*
 * Add a value to an SMA, EMA, RSI, WMA, STDDEV, ROC, MACD or Bollinger
 * stream.  Returns IND_OK, or IND_EPARAM (stream untouched) for a stream
 * that takes bars or volumes, or a MACD stream whose other periods are
 * not set.
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
		case IND_STREAM_WMA:
			ind_stream_wma_add(s, x);
			return IND_OK;
		case IND_STREAM_STDDEV:
			ind_stream_stddev_add(s, x);
			return IND_OK;
		case IND_STREAM_ROC:
			ind_stream_roc_add(s, x);
			return IND_OK;
		case IND_STREAM_MACD:
			if (s->fast == 0)
				break;
			ind_stream_macd_add(s, x);
			return IND_OK;
		case IND_STREAM_BOLLINGER:
			ind_stream_bollinger_add(s, x);
			return IND_OK;
		case IND_STREAM_ATR:
		case IND_STREAM_OBV:
		case IND_STREAM_SUPERTREND:
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
 * Add a bar to an ATR or SuperTrend stream: the true ranges of bars 2 to
 * period+1 are averaged, later ones enter Wilder's smoothing as in
 * ind_atr(); a SuperTrend stream then moves its bands on that ATR as
 * ind_supertrend() does.  Returns IND_OK, or IND_EPARAM (stream
 * untouched) for any other kind of stream.
 */
int
ind_stream_add_bar(IndStream *s, double high, double low, double close)
{
	size_t p = (size_t) s->period;
	double tr;

	if (s->kind != IND_STREAM_ATR && s->kind != IND_STREAM_SUPERTREND)
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
	if (s->kind == IND_STREAM_ATR)
		s->value = s->avg;
	else
	{
		if (s->count == p + 1)
			ind_supertrend_start(&s->st, high, low, close, s->avg,
								 s->multiplier);
		else
			ind_supertrend_step(&s->st, high, low, close, s->avg,
								s->multiplier);
		s->value = s->st.line;
	}
	return IND_OK;
}

/*
 * Add a bar's close and volume to an OBV stream, as ind_obv() does.
 * Returns IND_OK, or IND_EPARAM (stream untouched) for any other kind.
 */
int
ind_stream_add_volume(IndStream *s, double close, double volume)
{
	if (s->kind != IND_STREAM_OBV)
		return IND_EPARAM;
	if (s->count == 0)
		s->avg = volume;
	else
		s->avg = ind_obv_step(s->avg, s->prev, close, volume);
	s->count++;
	s->prev = close;
	s->value = s->avg;
	return IND_OK;
}

/*
 * Set a SuperTrend stream's multiplier, or a Bollinger stream's k (finite,
 * at least 0), before its first value.  Returns IND_OK, or IND_EPARAM (stream untouched) for
 * another kind, a stream that has bars, or a bad multiplier.
 */
int
ind_stream_set_multiplier(IndStream *s, double multiplier)
{
	if ((s->kind != IND_STREAM_SUPERTREND && s->kind != IND_STREAM_BOLLINGER) ||
		s->count != 0 || !isfinite(multiplier) || multiplier < 0.0)
		return IND_EPARAM;
	s->multiplier = multiplier;
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

/*
 * Set a MACD stream's fast and signal periods (its slow period is the
 * stream's) before its first value.  Returns IND_OK, or IND_EPARAM
 * (stream untouched) for another kind, a stream that has values, periods
 * out of range or fast not below slow.
 */
int
ind_stream_set_macd(IndStream *s, int fast, int signal)
{
	if (s->kind != IND_STREAM_MACD || s->count != 0 || !ind_period_ok(fast) ||
		!ind_period_ok(signal) || fast >= s->period)
		return IND_EPARAM;
	s->fast = fast;
	s->signal = signal;
	return IND_OK;
}

/*
 * Give a MACD stream's line, signal and histogram at the newest value,
 * NaN where ind_macd() has none yet.  Returns IND_EPARAM for another
 * kind.
 */
int
ind_stream_macd(const IndStream *s, double *macd, double *signal,
				double *hist)
{
	size_t p;

	if (s->kind != IND_STREAM_MACD)
		return IND_EPARAM;
	p = (size_t) s->period;
	*macd = *signal = *hist = NAN;
	if (s->count < p)
		return IND_OK;
	*macd = s->value;
	if (s->count < p + (size_t) s->signal - 1)
		return IND_OK;
	*signal = s->sum2;
	*hist = s->value - s->sum2;
	return IND_OK;
}

/*
 * Give a Bollinger stream's bands at the newest value, k sigmas (its
 * multiplier) apart from the middle as ind_bollinger() computes them,
 * NaN during the warm-up.  Returns IND_EPARAM for another kind.
 */
int
ind_stream_bands(const IndStream *s, double *upper, double *middle,
				 double *lower)
{
	if (s->kind != IND_STREAM_BOLLINGER)
		return IND_EPARAM;
	*upper = *middle = *lower = NAN;
	if (!ind_stream_ready(s))
		return IND_OK;
	*middle = s->value;
	*upper = s->value + s->multiplier * s->prev;
	*lower = s->value - s->multiplier * s->prev;
	return IND_OK;
}
