/*-------------------------------------------------------------------------
 *
 * indicators_stream.h
 *	  Running (one value at a time) forms of SMA, EMA, RSI and ATR, in
 *	  plain C.
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
 * value in series order, ind_stream_add() for SMA, EMA and RSI and
 * ind_stream_add_bar() for ATR (the other one refuses with IND_EPARAM);
 * ind_stream_ready() says whether the warm-up is over and
 * ind_stream_value() gives the value (NaN during the warm-up).
 *
 * Memory: an IndStream ends in a flexible array (the SMA's window of the
 * last period values), so the caller allocates ind_stream_size() bytes
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

/* Which indicator a stream computes. */
typedef enum IndStreamKind
{
	IND_STREAM_SMA,
	IND_STREAM_EMA,
	IND_STREAM_RSI,
	IND_STREAM_ATR
} IndStreamKind;

/*
 * The running state.  Fields are private to indicators_stream.c except
 * kind, period and count, which callers may read.
 *
 * count is the number of values (bars for ATR) added so far and value the
 * indicator at the newest of them.  sum is the SMA's window sum, or the
 * sum of the warm-up values (EMA), true ranges (ATR) or gains (RSI); sum2
 * is the RSI's warm-up sum of losses.  avg is the EMA, the ATR or the
 * RSI's average gain, avg2 the RSI's average loss.  prev is the previous
 * value (RSI) or close (ATR).  window holds the SMA's last period values,
 * value i in slot i % period; other kinds have no window.
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
	double		  window[];
} IndStream;

extern size_t ind_stream_size(IndStreamKind kind, int period);
extern int	  ind_stream_init(IndStream *s, IndStreamKind kind, int period);
extern int	  ind_stream_add(IndStream *s, double x);
extern int	  ind_stream_add_bar(IndStream *s, double high, double low,
								 double close);
extern int	  ind_stream_ready(const IndStream *s);
extern double ind_stream_value(const IndStream *s);

#endif /* PGTRADE_INDICATORS_STREAM_H */
