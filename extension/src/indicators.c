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

#include <float.h>
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
double
ind_window_sum(const double *in, size_t start, size_t count)
{
	double sum = 0.0;
	size_t i;

	for (i = 0; i < count; i++)
		sum += in[start + i];
	return sum;
}

/*
 * Set a window's mean and sum of squared deviations from it (m2) from the
 * window itself: p values, oldest first buf[(start + j) % p].  Two passes
 * about the oldest value, so a window of equal values has m2 exactly 0
 * whatever their size.  The rounding noise starts again from 0.
 */
void
ind_sigma_reset(IndSigma *sg, const double *buf, size_t p, size_t start)
{
	double base = buf[start % p];
	double shift = 0.0;
	size_t j;

	for (j = 0; j < p; j++)
		shift += buf[(start + j) % p] - base;
	shift /= (double) p;
	sg->m2 = 0.0;
	for (j = 0; j < p; j++)
	{
		double d = buf[(start + j) % p] - base - shift;

		sg->m2 += d * d;
	}
	sg->base = base;
	sg->shift = shift;
	sg->shift_err = 0.0;
	sg->noise = 0.0;
}

/*
 * Slide the window's mean and m2 (Welford): the value old leaves, x
 * enters, buf and start giving the window after the change as for
 * ind_sigma_reset.  Each slide's rounding is bounded and added up in
 * noise: that of the two deviations, each taken from base (one rounding
 * of x - base, one of the difference) and shift (its own rounding so
 * far, shift_err), and of their sum and product.  When m2 is no longer
 * clearly above it (a window nearly or wholly flat, after a move: the
 * cancellation would leave a false deviation), m2 is computed again
 * from the window.
 */
void
ind_sigma_slide(IndSigma *sg, const double *buf, size_t p, size_t start,
				double old, double x)
{
	double delta = x - old;
	double new_shift = sg->shift + delta / (double) p;
	double x_base = x - sg->base;
	double old_base = old - sg->base;
	double dx = x_base - new_shift;
	double dold = old_base - sg->shift;
	double err;

	sg->shift_err += DBL_EPSILON * (fabs(new_shift) + fabs(delta) / (double) p);
	err = fabs(x_base) + fabs(old_base) + fabs(delta);
	err = DBL_EPSILON * (err + 2.0 * (fabs(dx) + fabs(dold))) + 2.0 * sg->shift_err;
	sg->m2 += delta * (dx + dold);
	sg->shift = new_shift;
	sg->noise += 8.0 * fabs(delta) * err;
	if (sg->m2 <= 64.0 * sg->noise)
		ind_sigma_reset(sg, buf, p, start);
}

/*
 * The population standard deviation of the window.
 */
double
ind_sigma_value(const IndSigma *sg, size_t p)
{
	return sg->m2 > 0.0 ? sqrt(sg->m2 / (double) p) : 0.0;
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
 * Return the index of the first WMA(period) value.
 */
size_t
ind_wma_lookback(int period)
{
	return (size_t) period - 1;
}

/*
 * Return the index of the first STDDEV(period) value.
 */
size_t
ind_stddev_lookback(int period)
{
	return (size_t) period - 1;
}

/*
 * Return the index of the first ROC(period) value.
 */
size_t
ind_roc_lookback(int period)
{
	return (size_t) period;
}

/*
 * Return the index of the first SuperTrend(period, multiplier) value.
 */
size_t
ind_supertrend_lookback(int period)
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
 * Compute the population standard deviation of the last period values of
 * in[0..n-1] into out[0..n-1].
 *
 * Welford's sum of squared deviations from the mean slides one value at a
 * time and is computed again from the window every period outputs, at the
 * SMA's positions, and whenever what it holds is within its rounding
 * noise (ind_sigma_slide): a flat window gives exactly 0.  The
 * deviations are taken from a value of the window, not from a mean whose
 * rounding grows with the prices: TA-Lib's mean of squares minus squared
 * mean loses digits on large prices, and so does a sliding mean near 1e9
 * (its ulp is 1.2e-7).
 */
int
ind_stddev(const double *in, size_t n, int period, double *out)
{
	size_t	 p;
	size_t	 i;
	IndSigma sg;

	if (!ind_period_ok(period))
		return IND_EPARAM;
	p = (size_t) period;
	ind_fill_nan(out, 0, ind_warmup(p - 1, n));
	for (i = p - 1; i < n; i++)
	{
		const double *window = in + (i + 1 - p);

		if ((i + 1 - p) % p == 0)
			ind_sigma_reset(&sg, window, p, 0);
		else
			ind_sigma_slide(&sg, window, p, 0, in[i - p], in[i]);
		out[i] = ind_sigma_value(&sg, p);
	}
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
	size_t i;

	if (!ind_period_ok(period) || !isfinite(k) || k < 0.0)
		return IND_EPARAM;
	ind_sma(in, n, period, middle);
	/* sigma goes to upper first, then both bands from it */
	ind_stddev(in, n, period, upper);
	ind_fill_nan(lower, 0, ind_warmup((size_t) period - 1, n));
	for (i = (size_t) period - 1; i < n; i++)
	{
		double sigma = upper[i];

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

/*
 * One OBV step: the total after a bar whose close follows prev_close.
 */
double
ind_obv_step(double obv, double prev_close, double close, double volume)
{
	if (close > prev_close)
		return obv + volume;
	if (close < prev_close)
		return obv - volume;
	return obv;
}

/*
 * SuperTrend on its first bar (the first with an ATR): the bands as they
 * are, and the trend up unless the close is below the lower band.
 */
void
ind_supertrend_start(IndSuperTrend *st, double high, double low,
					 double close, double atr, double multiplier)
{
	double mid = (high + low) / 2.0;

	st->lower = mid - multiplier * atr;
	st->upper = mid + multiplier * atr;
	st->trend = close < st->lower ? -1 : 1;
	st->line = st->trend == 1 ? st->lower : st->upper;
	st->prev_close = close;
}

/*
 * SuperTrend on each later bar (see ind_supertrend).
 */
void
ind_supertrend_step(IndSuperTrend *st, double high, double low,
					double close, double atr, double multiplier)
{
	double mid = (high + low) / 2.0;
	double lower = mid - multiplier * atr;
	double upper = mid + multiplier * atr;

	if (st->prev_close > st->lower && st->lower > lower)
		lower = st->lower;
	if (st->prev_close < st->upper && st->upper < upper)
		upper = st->upper;
	if (st->trend == -1 && close > st->upper)
		st->trend = 1;
	else if (st->trend == 1 && close < st->lower)
		st->trend = -1;
	st->lower = lower;
	st->upper = upper;
	st->line = st->trend == 1 ? lower : upper;
	st->prev_close = close;
}

/*
 * Compute the weighted moving average of in[0..n-1] into out[0..n-1]:
 * weights 1 (oldest) to period (newest), divided by their sum.
 *
 * The weighted sum w and the plain sum t of the window slide together
 * (each weight drops by one: w - t, then the new value enters with weight
 * period) and are recomputed from the window every period outputs, as the
 * SMA's sum is.
 */
int
ind_wma(const double *in, size_t n, int period, double *out)
{
	size_t p;
	size_t i;
	double w = 0.0;
	double t = 0.0;
	double divisor;

	if (!ind_period_ok(period))
		return IND_EPARAM;
	p = (size_t) period;
	divisor = (double) p * (double) (p + 1) / 2.0;
	ind_fill_nan(out, 0, ind_warmup(p - 1, n));
	for (i = p - 1; i < n; i++)
	{
		if ((i + 1 - p) % p == 0)
		{
			size_t j;

			w = 0.0;
			for (j = 0; j < p; j++)
				w += (double) (j + 1) * in[i + 1 - p + j];
			t = ind_window_sum(in, i + 1 - p, p);
		}
		else
		{
			w += (double) p * in[i] - t;
			t += in[i] - in[i - p];
		}
		out[i] = w / divisor;
	}
	return IND_OK;
}

/*
 * Compute the rate of change of in[0..n-1] into out[0..n-1]: the percent
 * change from period values before, (in[i] / in[i-period] - 1) * 100 as
 * TA-Lib writes it, and 0 when in[i-period] is 0 (as TA-Lib).
 */
int
ind_roc(const double *in, size_t n, int period, double *out)
{
	size_t p;
	size_t i;

	if (!ind_period_ok(period))
		return IND_EPARAM;
	p = (size_t) period;
	ind_fill_nan(out, 0, ind_warmup(p, n));
	for (i = p; i < n; i++)
		out[i] = ind_roc_one(in[i], in[i - p]);
	return IND_OK;
}

/*
 * Compute on-balance volume into out[0..n-1]: the first value is the
 * first volume (TA-Lib), then each bar adds its volume when the close
 * rose, subtracts it when the close fell, and keeps the total when the
 * close did not move.
 */
int
ind_obv(const double *close, const double *volume, size_t n, double *out)
{
	size_t i;
	double obv;

	if (n == 0)
		return IND_OK;
	obv = volume[0];
	out[0] = obv;
	for (i = 1; i < n; i++)
	{
		obv = ind_obv_step(obv, close[i - 1], close[i], volume[i]);
		out[i] = obv;
	}
	return IND_OK;
}

/*
 * Compute SuperTrend(period, multiplier) into line[0..n-1] and trend
 * (1 up, -1 down; 0 in the warm-up) from high, low and close.
 *
 * TA-Lib has no SuperTrend; the rules are the common (TradingView) ones
 * on this file's ATR: with mid = (high + low) / 2, the lower band is
 * mid - multiplier * ATR and the upper band mid + multiplier * ATR.  The
 * lower band only rises while the previous close stayed above it, the
 * upper band only falls while the previous close stayed below it.  The
 * trend turns up when the close rises above the previous upper band and
 * down when it falls below the previous lower band; it starts up on the
 * first bar with an ATR unless that close is below the lower band.  The
 * line is the lower band in an up trend and the upper band in a down
 * trend.  The first value is at index period, the ATR's.
 */
int
ind_supertrend(const double *high, const double *low, const double *close,
			   size_t n, int period, double multiplier, double *line,
			   double *trend)
{
	IndSuperTrend st = {0};
	size_t		  p;
	size_t		  i;

	if (!ind_period_ok(period) || !isfinite(multiplier) || multiplier < 0.0)
		return IND_EPARAM;
	p = (size_t) period;
	/* the ATR first, into line, then the bands over it */
	ind_atr(high, low, close, n, period, line);
	ind_fill_nan(trend, 0, ind_warmup(p, n));
	for (i = p; i < n; i++)
	{
		if (i == p)
			ind_supertrend_start(&st, high[i], low[i], close[i], line[i],
								 multiplier);
		else
			ind_supertrend_step(&st, high[i], low[i], close[i], line[i],
								multiplier);
		line[i] = st.line;
		trend[i] = (double) st.trend;
	}
	return IND_OK;
}
