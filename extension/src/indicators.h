/*-------------------------------------------------------------------------
 *
 * indicators.h
 *	  Technical indicators over arrays of doubles, in plain C.
 *
 * Every function takes n input values and writes n output values, one per
 * input bar.  Outputs before the indicator's first defined value (the
 * warm-up) are set to NaN; ind_*_lookback() gives the index of the first
 * defined value, so a caller can map warm-up to SQL NULL without testing
 * for NaN.  When n is not larger than the lookback every output is NaN.
 * Inputs are expected finite; callers refuse NaN and infinities first.
 * Each function runs in O(n) time and allocates nothing.  Functions return
 * IND_OK, or IND_EPARAM (outputs untouched) when a parameter is out of
 * range.
 *
 * Conventions follow TA-Lib's classic ("default compatibility", unstable
 * period 0) definitions:
 *
 * SMA(p):	mean of the last p values; first value at index p-1.  The
 *			running window sum is recomputed from scratch every p bars, so
 *			rounding errors cannot accumulate along a long series.
 * EMA(p):	k = 2/(p+1); seeded at index p-1 with the SMA of the first p
 *			values, then ema = (x - prev) * k + prev.
 * RSI(p):	Wilder smoothing.  The first average gain and loss are plain
 *			means of the first p changes (changes 1..p), first value at
 *			index p; then avg = (prev * (p-1) + current) / p.
 *			RSI = 100 * gain / (gain + loss), and 0 when gain + loss is
 *			exactly 0 (a flat series).  TA-Lib returns 0 as soon as the sum
 *			is below 1e-8 in absolute terms; we compare with 0 only, which
 *			gives the same result except for series whose moves are that
 *			small, where ours stays scale-independent.
 * MACD(f, s, g):
 *			The slow EMA(s) is seeded at index s-1 as usual.  The fast
 *			EMA(f) is not started at index f-1: like TA-Lib, it is seeded
 *			at index s-1 with the SMA of the f values ending there, so
 *			both averages start on the same bar.  MACD = fast - slow from
 *			index s-1; signal = EMA(g) of the MACD line, seeded with the
 *			SMA of its first g values, first value at index s+g-2; hist =
 *			MACD - signal from index s+g-2.  TA-Lib itself reports all
 *			three outputs only from index s+g-2; the MACD values we report
 *			before that are the ones it computes internally, and every
 *			value from s+g-2 on equals TA-Lib's.  Requires f < s (TA-Lib
 *			silently swaps the two; we refuse instead).
 * Bollinger(p, k):
 *			middle = SMA(p); upper/lower = middle +/- k * sigma, where sigma
 *			is the population standard deviation (divide by p) of the same
 *			p values, as in TA-Lib's default.  sigma is kept with a sliding
 *			update of the sum of squared deviations, recomputed exactly
 *			every p bars; TA-Lib's mean-of-squares formula loses digits on
 *			large prices, ours does not.  k must be finite and >= 0.
 * ATR(p):	true range TR[i] = max(high[i] - low[i], |close[i-1] - high[i]|,
 *			|close[i-1] - low[i]|) from index 1; first ATR at index p = mean
 *			of TR[1..p]; then Wilder: atr = (prev * (p-1) + TR) / p.
 * WMA(p):	weights 1 (oldest) to p (newest) over the last p values,
 *			divided by p(p+1)/2; first value at index p-1.
 * STDDEV(p):
 *			population standard deviation (divide by p) of the last p
 *			values, TA-Lib's STDDEV with nbdev 1; first value at index p-1.
 *			Computed as the Bollinger sigma, not from the mean of squares.
 * ROC(p):	(x[i] / x[i-p] - 1) * 100, TA-Lib's ROC; 0 when x[i-p] is 0
 *			(as TA-Lib); first value at index p.
 * OBV:		first value volume[0] (TA-Lib), then plus the bar's volume when
 *			the close rose, minus it when the close fell, unchanged when
 *			the close is equal; defined from index 0.
 * SuperTrend(p, m):
 *			not in TA-Lib.  The usual rules (ind_supertrend in
 *			indicators.c) over this file's ATR(p); first value at index p.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTRADE_INDICATORS_H
#define PGTRADE_INDICATORS_H

#include <math.h>
#include <stddef.h>

/* Accepted range of every period parameter (TA-Lib uses the same cap). */
#define IND_PERIOD_MIN 1
#define IND_PERIOD_MAX 100000

/* Return codes. */
#define IND_OK 0
#define IND_EPARAM (-1)

extern int ind_period_ok(int period);

extern size_t ind_sma_lookback(int period);
extern size_t ind_ema_lookback(int period);
extern size_t ind_rsi_lookback(int period);
extern size_t ind_macd_lookback(int slow);
extern size_t ind_macd_signal_lookback(int slow, int signal);
extern size_t ind_bollinger_lookback(int period);
extern size_t ind_atr_lookback(int period);
extern size_t ind_wma_lookback(int period);
extern size_t ind_stddev_lookback(int period);
extern size_t ind_roc_lookback(int period);
extern size_t ind_supertrend_lookback(int period);

/* the plain sum of in[start .. start + count - 1], in index order */
extern double ind_window_sum(const double *in, size_t start, size_t count);

extern int ind_sma(const double *in, size_t n, int period, double *out);
extern int ind_ema(const double *in, size_t n, int period, double *out);
extern int ind_rsi(const double *in, size_t n, int period, double *out);
extern int ind_macd(const double *in, size_t n, int fast, int slow,
					int signal, double *macd, double *sig, double *hist);
extern int ind_bollinger(const double *in, size_t n, int period, double k,
						 double *upper, double *middle, double *lower);
extern int ind_atr(const double *high, const double *low,
				   const double *close, size_t n, int period, double *out);
extern int ind_wma(const double *in, size_t n, int period, double *out);
extern int ind_stddev(const double *in, size_t n, int period, double *out);
extern int ind_roc(const double *in, size_t n, int period, double *out);
extern int ind_obv(const double *close, const double *volume, size_t n,
				   double *out);
extern int ind_supertrend(const double *high, const double *low,
						  const double *close, size_t n, int period,
						  double multiplier, double *line, double *trend);

/*
 * One step of ROC, OBV and SuperTrend, shared with the running forms
 * (indicators_stream.c) so that both compute alike.  An IndSuperTrend
 * holds the bands, the trend (1 up, -1 down), the line and the last close.
 */
typedef struct IndSuperTrend
{
	double lower;
	double upper;
	double line;
	double prev_close;
	int	   trend;
} IndSuperTrend;

/*
 * The RSI for Wilder averages of gains and losses; 0 when both are 0.
 * When an average overflowed (changes beyond double precision), the
 * infinity itself, for the caller's overflow check: the ratio would be a
 * finite and wrong 0 or 100.
 */
static inline double
ind_rsi_value(double gain, double loss)
{
	double total = gain + loss;

	if (total == 0.0)
		return 0.0;
	if (isinf(total))
		return total;
	return 100.0 * (gain / total);
}

/*
 * One ROC value: x against base, the value period bars before (inline, as
 * the SQL form runs it in a loop of its own).
 */
static inline double
ind_roc_one(double x, double base)
{
	return base != 0.0 ? (x / base - 1.0) * 100.0 : 0.0;
}

/*
 * A window's mean, sum of squared deviations (m2) and the bound of the
 * rounding its slides have added to m2 (noise): STDDEV's and Bollinger's
 * state, shared with the running forms.  The mean is kept as base, a
 * value of the window when it was last computed whole, plus shift: a
 * deviation taken as (x - base) - shift keeps the digits that one taken
 * from a mean near 1e9, whose own rounding is about 1e-7, would lose.
 * shift_err bounds the rounding the slides have added to shift.
 */
typedef struct IndSigma
{
	double base;
	double shift;
	double shift_err;
	double m2;
	double noise;
} IndSigma;

extern void	  ind_sigma_reset(IndSigma *sg, const double *buf, size_t p,
							  size_t start);
extern void	  ind_sigma_slide(IndSigma *sg, const double *buf, size_t p,
							  size_t start, double old, double x);
extern double ind_sigma_value(const IndSigma *sg, size_t p);
extern double ind_obv_step(double obv, double prev_close, double close,
						   double volume);
extern void	  ind_supertrend_start(IndSuperTrend *st, double high, double low,
								   double close, double atr,
								   double multiplier);
extern void	  ind_supertrend_step(IndSuperTrend *st, double high, double low,
								  double close, double atr,
								  double multiplier);

/*
 * Reads a float8[] argument for the SQL glue: defined in indicators_sql.c,
 * also used by strategy_sql.c.  The struct stays incomplete here so that
 * this header needs no PostgreSQL header.
 */
struct ArrayType;
extern double *pgtrade_array_values(struct ArrayType *arr, const char *name,
									int *n);

#endif /* PGTRADE_INDICATORS_H */
