/*-------------------------------------------------------------------------
 *
 * indicators_stream.h
 *	  Running (one value at a time) forms of the indicators of
 *	  indicators.h, in plain C.
 *
 * An IndStream holds what an indicator needs to go on from the values
 * seen so far: values are added oldest first, and after each addition
 * ind_stream_value() gives the indicator at the newest value, exactly
 * where the array functions of indicators.h would put it.  The arithmetic
 * is the array functions' own, operation for operation (the SMA's window
 * sum is recomputed from the window every period values at the same
 * positions), so both forms give the same numbers for the same series.
 * Definitions and warm-up lengths are those of indicators.h.
 *
 * Use: ind_stream_init() on ind_stream_size() bytes, then one call per
 * value in series order: ind_stream_add() for SMA, EMA, RSI, WMA, STDDEV
 * and ROC, ind_stream_add_bar() for ATR and SuperTrend (whose multiplier
 * ind_stream_set_multiplier() sets before the first bar), and
 * ind_stream_add_volume() for OBV (the others refuse with IND_EPARAM);
 * ind_stream_ready() says whether the warm-up is over and
 * ind_stream_value() gives the value (NaN during the warm-up).
 *
 * Memory: an IndStream ends in a flexible array (the window of the last
 * period values of SMA, WMA, STDDEV and ROC), so the caller allocates
 * ind_stream_size() bytes
 * and owns them; nothing here allocates or frees.  Reading the value
 * never changes the stream.
 *
 * Inputs are expected finite (callers refuse NaN and infinities first).
 * A value that overflows shows as an infinity or NaN from
 * ind_stream_value(); callers check for it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTRADE_INDICATORS_STREAM_H
#define PGTRADE_INDICATORS_STREAM_H

#include <stddef.h>

#include "indicators.h"

/* Which indicator a stream computes. */
typedef enum IndStreamKind
{
	IND_STREAM_SMA,
	IND_STREAM_EMA,
	IND_STREAM_RSI,
	IND_STREAM_ATR,
	IND_STREAM_WMA,
	IND_STREAM_STDDEV,
	IND_STREAM_ROC,
	IND_STREAM_OBV,
	IND_STREAM_SUPERTREND,
	IND_STREAM_MACD,
	IND_STREAM_BOLLINGER
} IndStreamKind;

/*
 * The running state.  Fields are private to indicators_stream.c except
 * kind, period and count, which callers may read.
 *
 * count is the number of values (bars for ATR) added so far and value the
 * indicator at the newest of them.  sum is the SMA's and WMA's window
 * sum, or the sum of the warm-up values (EMA), true ranges (ATR,
 * SuperTrend) or gains (RSI); sum2 is the RSI's warm-up sum of losses.
 * avg is the EMA, the ATR, the RSI's average gain, the WMA's weighted sum
 * or the OBV; avg2 is the RSI's average loss; sigma is STDDEV's and
 * Bollinger's window state.  prev is the previous value (RSI) or close
 * (ATR, OBV, SuperTrend).  window holds the last period values of SMA,
 * WMA, STDDEV, ROC and Bollinger (MACD: of slow values), value i in slot
 * i % period; other kinds have no window.  multiplier and st are
 * SuperTrend's (multiplier is also Bollinger's k).  MACD keeps its fast
 * and slow EMAs in avg and avg2, the signal's warm-up sum in sum and the
 * signal in sum2, the line in value; fast and signal are its other
 * periods (period is the slow one).  Bollinger keeps the SMA's window sum
 * in sum, the middle in value and the deviation in prev.
 */
typedef struct IndStream
{
	IndStreamKind kind;
	int			  period;
	size_t		  count;
	double		  sum;
	double		  sum2;
	double		  avg;
	double		  avg2;
	double		  prev;
	double		  value;
	double		  multiplier;
	IndSuperTrend st;
	IndSigma	  sigma;
	int			  fast;
	int			  signal;
	double		  window[];
} IndStream;

extern size_t ind_stream_size(IndStreamKind kind, int period);
extern int	  ind_stream_init(IndStream *s, IndStreamKind kind, int period);
extern int	  ind_stream_add(IndStream *s, double x);
extern int	  ind_stream_add_bar(IndStream *s, double high, double low,
								 double close);
extern int	  ind_stream_add_volume(IndStream *s, double close, double volume);
extern int	  ind_stream_set_multiplier(IndStream *s, double multiplier);
extern int	  ind_stream_set_macd(IndStream *s, int fast, int signal);
extern int	  ind_stream_macd(const IndStream *s, double *macd, double *signal,
							  double *hist);
extern int	  ind_stream_bands(const IndStream *s, double *upper,
							   double *middle, double *lower);
extern int	  ind_stream_ready(const IndStream *s);
extern double ind_stream_value(const IndStream *s);

#endif /* PGTRADE_INDICATORS_STREAM_H */
