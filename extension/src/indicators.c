/*-------------------------------------------------------------------------
 *
 * indicators.c
 *	  Technical indicators over arrays of doubles, in plain C.
 *
 * The definitions, warm-up lengths and the differences from TA-Lib are
 * documented in indicators.h.  This file includes no PostgreSQL header so
 * that unit tests, fuzzers and benchmarks can link it alone.
 *
 * Invariants: every function writes exactly n outputs and nothing else;
 * warm-up outputs are NaN; output arrays must not overlap the inputs (the
 * MACD signal buffer is used as scratch space for the slow EMA); nothing
 * is allocated.
 *
 *-------------------------------------------------------------------------
 */
#include "indicators.h"

#include <math.h>

/*
 * Set out[from..to-1] to NaN; nothing happens when to <= from.
 */
static void
ind_fill_nan(double *out, size_t from, size_t to)
{
	size_t i;

	for (i = from; i < to; i++)
		out[i] = NAN;
}

/*
 * Return the smaller of a warm-up length and n, the number of outputs that
 * must be NaN.
 */
static size_t
ind_warmup(size_t lookback, size_t n)
{
	return lookback < n ? lookback : n;
}

/*
 * Return the plain sum of in[start .. start+count-1], added in index order.
 */
static double
ind_window_sum(const double *in, size_t start, size_t count)
{
	double sum = 0.0;
	size_t i;

	for (i = 0; i < count; i++)
		sum += in[start + i];
	return sum;
}

/*
 * Return nonzero when period lies in [IND_PERIOD_MIN, IND_PERIOD_MAX].
 */
int
ind_period_ok(int period)
{
	return period >= IND_PERIOD_MIN && period <= IND_PERIOD_MAX;
}

/*
 * Return the index of the first SMA(period) value.
 */
size_t
ind_sma_lookback(int period)
{
	return (size_t) period - 1;
}

/*
 * Return the index of the first EMA(period) value.
 */
size_t
ind_ema_lookback(int period)
{
	return (size_t) period - 1;
}

/*
 * Return the index of the first RSI(period) value.
 */
size_t
ind_rsi_lookback(int period)
{
	return (size_t) period;
}

/*
 * Return the index of the first MACD line value for a slow period.
 */
size_t
ind_macd_lookback(int slow)
{
	return (size_t) slow - 1;
}

/*
 * Return the index of the first MACD signal and histogram value.
 */
size_t
ind_macd_signal_lookback(int slow, int signal)
{
	return (size_t) slow + (size_t) signal - 2;
}

/*
 * Return the index of the first Bollinger band value.
 */
size_t
ind_bollinger_lookback(int period)
{
	return (size_t) period - 1;
}

/*
 * Return the index of the first ATR(period) value.
 */
size_t
ind_atr_lookback(int period)
{
	return (size_t) period;
}

/*
 * Compute the simple moving average of in[0..n-1] into out[0..n-1].
 *
 * The window sum slides by adding the new value and removing the oldest;
 * every period outputs it is recomputed from the window itself, which
 * bounds the rounding error at that of about 2 * period additions and
 * keeps the total work O(n).
 */
int
ind_sma(const double *in, size_t n, int period, double *out)
{
	size_t p;
	size_t i;
	double sum = 0.0;

	if (!ind_period_ok(period))
		return IND_EPARAM;
	p = (size_t) period;
	ind_fill_nan(out, 0, ind_warmup(p - 1, n));
	for (i = p - 1; i < n; i++)
	{
		if ((i + 1 - p) % p == 0)
			sum = ind_window_sum(in, i + 1 - p, p);
		else
			sum += in[i] - in[i - p];
		out[i] = sum / (double) p;
	}
	return IND_OK;
}

/*
 * Compute an EMA(period) of in[0..n-1] whose seed is the mean of the period
 * values ending at index seed (seed >= period - 1), written to out[seed];
 * later values follow the EMA recursion and earlier ones are NaN.
 */
static void
ind_ema_seeded(const double *in, size_t n, size_t seed, int period,
			   double *out)
{
	double k = 2.0 / ((double) period + 1.0);
	double prev;
	size_t i;

	ind_fill_nan(out, 0, ind_warmup(seed, n));
	if (n <= seed)
		return;
	prev = ind_window_sum(in, seed + 1 - (size_t) period, (size_t) period) /
		(double) period;
	out[seed] = prev;
	for (i = seed + 1; i < n; i++)
	{
		prev = (in[i] - prev) * k + prev;
		out[i] = prev;
	}
}

/*
 * Compute the exponential moving average of in[0..n-1] into out[0..n-1].
 */
int
ind_ema(const double *in, size_t n, int period, double *out)
{
	if (!ind_period_ok(period))
		return IND_EPARAM;
	ind_ema_seeded(in, n, ind_ema_lookback(period), period, out);
	return IND_OK;
}

/*
 * Return the RSI for Wilder averages of gains and losses; 0 when both are 0.
 */
static double
ind_rsi_value(double gain, double loss)
{
	double total = gain + loss;

	if (total == 0.0)
		return 0.0;
	return 100.0 * (gain / total);
}

/*
 * Compute Wilder's relative strength index of in[0..n-1] into out[0..n-1].
 */
int
ind_rsi(const double *in, size_t n, int period, double *out)
{
	size_t p;
	size_t i;
	double gain = 0.0;
	double loss = 0.0;
	double change;

	if (!ind_period_ok(period))
		return IND_EPARAM;
	p = (size_t) period;
	ind_fill_nan(out, 0, ind_warmup(p, n));
	if (n <= p)
		return IND_OK;
	for (i = 1; i <= p; i++)
	{
		change = in[i] - in[i - 1];
		if (change < 0.0)
			loss -= change;
		else
			gain += change;
	}
	gain /= (double) p;
	loss /= (double) p;
	out[p] = ind_rsi_value(gain, loss);
	for (i = p + 1; i < n; i++)
	{
		change = in[i] - in[i - 1];
		gain *= (double) (p - 1);
		loss *= (double) (p - 1);
		if (change < 0.0)
			loss -= change;
		else
			gain += change;
		gain /= (double) p;
		loss /= (double) p;
		out[i] = ind_rsi_value(gain, loss);
	}
	return IND_OK;
}

/*
 * Compute MACD(fast, slow, signal) of in[0..n-1]: the MACD line into macd,
 * its signal line into sig and their difference into hist, n values each.
 * sig doubles as scratch space for the slow EMA.
 */
int
ind_macd(const double *in, size_t n, int fast, int slow, int signal,
		 double *macd, double *sig, double *hist)
{
	size_t start;
	size_t sig_start;
	size_t i;

	if (!ind_period_ok(fast) || !ind_period_ok(slow) ||
		!ind_period_ok(signal) || fast >= slow)
		return IND_EPARAM;
	start = ind_macd_lookback(slow);
	sig_start = ind_macd_signal_lookback(slow, signal);

	/* Both EMAs start at index slow-1: see indicators.h. */
	ind_ema_seeded(in, n, start, slow, sig);
	ind_ema_seeded(in, n, start, fast, macd);
	for (i = start; i < n; i++)
		macd[i] = macd[i] - sig[i];

	ind_fill_nan(sig, 0, ind_warmup(start, n));
	if (n > start)
		ind_ema_seeded(macd + start, n - start, (size_t) signal - 1,
					   signal, sig + start);

	ind_fill_nan(hist, 0, ind_warmup(sig_start, n));
	for (i = sig_start; i < n; i++)
		hist[i] = macd[i] - sig[i];
	return IND_OK;
}

/*
 * Compute Bollinger bands of in[0..n-1]: middle = SMA(period), upper and
 * lower = middle +/- k population standard deviations.
 *
 * mean and m2 (the sum of squared deviations from the window mean) slide
 * with the exact update for replacing one value, and are recomputed by two
 * passes over the window every period bars.
 */
int
ind_bollinger(const double *in, size_t n, int period, double k,
			  double *upper, double *middle, double *lower)
{
	size_t p;
	size_t i;
	double mean = 0.0;
	double m2 = 0.0;
	double sigma;

	if (!ind_period_ok(period) || !isfinite(k) || k < 0.0)
		return IND_EPARAM;
	p = (size_t) period;
	ind_sma(in, n, period, middle);
	ind_fill_nan(upper, 0, ind_warmup(p - 1, n));
	ind_fill_nan(lower, 0, ind_warmup(p - 1, n));
	for (i = p - 1; i < n; i++)
	{
		if ((i + 1 - p) % p == 0)
		{
			size_t j;

			mean = ind_window_sum(in, i + 1 - p, p) / (double) p;
			m2 = 0.0;
			for (j = i + 1 - p; j <= i; j++)
				m2 += (in[j] - mean) * (in[j] - mean);
		}
		else
		{
			double old = in[i - p];
			double delta = in[i] - old;
			double new_mean = mean + delta / (double) p;

			m2 += delta * ((in[i] - new_mean) + (old - mean));
			mean = new_mean;
		}
		sigma = m2 > 0.0 ? sqrt(m2 / (double) p) : 0.0;
		upper[i] = middle[i] + k * sigma;
		lower[i] = middle[i] - k * sigma;
	}
	return IND_OK;
}

/*
 * Return the true range of bar i (i >= 1), TA-Lib's three-way maximum.
 */
static double
ind_true_range(const double *high, const double *low, const double *close,
			   size_t i)
{
	double range = high[i] - low[i];
	double up = fabs(close[i - 1] - high[i]);
	double down = fabs(close[i - 1] - low[i]);

	if (up > range)
		range = up;
	if (down > range)
		range = down;
	return range;
}

/*
 * Compute Wilder's average true range of n bars into out[0..n-1].
 */
int
ind_atr(const double *high, const double *low, const double *close,
		size_t n, int period, double *out)
{
	size_t p;
	size_t i;
	double atr = 0.0;

	if (!ind_period_ok(period))
		return IND_EPARAM;
	p = (size_t) period;
	ind_fill_nan(out, 0, ind_warmup(p, n));
	if (n <= p)
		return IND_OK;
	for (i = 1; i <= p; i++)
		atr += ind_true_range(high, low, close, i);
	atr /= (double) p;
	out[p] = atr;
	for (i = p + 1; i < n; i++)
	{
		atr *= (double) (p - 1);
		atr += ind_true_range(high, low, close, i);
		atr /= (double) p;
		out[i] = atr;
	}
	return IND_OK;
}
