/*-------------------------------------------------------------------------
 *
 * test_indicators_stream.c
 *	  TAP unit tests of the running indicators (extension/src/
 *	  indicators_stream.c).
 *
 * Build and run from the repository root:
 *	  cc -I extension/src tests/unit/test_indicators_stream.c \
 *		  extension/src/indicators_stream.c extension/src/indicators.c \
 *		  -lm -o /tmp/test_indicators_stream
 *	  /tmp/test_indicators_stream
 *
 * Expected values are hand computations from the definitions in
 * indicators.h, with the arithmetic in a comment next to each case.  A
 * last group feeds a longer series to both the streams and the array
 * functions of indicators.c (checked against TA-Lib's published values by
 * test_indicators.c) and requires the same value at every index.
 *
 * The plan line is printed last; the exit status is 1 when a test fails.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "indicators.h"
#include "indicators_stream.h"
#include "tap.h"

#define LONG_N 600

/*
 * Allocate and set up a stream; exits the program when that fails, as no
 * later test could run.  The caller frees the result.
 */
static IndStream *
new_stream(IndStreamKind kind, int period)
{
	IndStream *s = malloc(ind_stream_size(kind, period));

	if (s == NULL || ind_stream_init(s, kind, period) != IND_OK)
	{
		printf("Bail out! could not set up a stream of period %d\n", period);
		exit(1);
	}
	return s;
}

/*
 * Feed n values to a new stream and record its value after each one
 * (NaN during the warm-up) in out[0..n-1].
 */
static void
run_series(IndStreamKind kind, int period, const double *in, size_t n,
		   double *out)
{
	IndStream *s = new_stream(kind, period);
	size_t	   i;

	for (i = 0; i < n; i++)
	{
		ind_stream_add(s, in[i]);
		out[i] = ind_stream_value(s);
	}
	free(s);
}

/*
 * Feed n bars to a new ATR stream, recording its values in out[0..n-1].
 */
static void
run_bars(int period, const double *high, const double *low,
		 const double *close, size_t n, double *out)
{
	IndStream *s = new_stream(IND_STREAM_ATR, period);
	size_t	   i;

	for (i = 0; i < n; i++)
	{
		ind_stream_add_bar(s, high[i], low[i], close[i]);
		out[i] = ind_stream_value(s);
	}
	free(s);
}

/*
 * Check got[0..n-1] against want[0..n-1]: NaN exactly where want is NaN,
 * elsewhere within tol.  Prints the first difference.
 */
static void
is_series(const double *got, const double *want, size_t n, double tol,
		  const char *desc)
{
	size_t i;

	for (i = 0; i < n; i++)
	{
		int same = isnan(want[i]) ? isnan(got[i])
								  : !isnan(got[i]) && fabs(got[i] - want[i]) <= tol;

		if (!same)
		{
			ok(0, "%s", desc);
			printf("#   index %zu: got %.15g, want %.15g\n", i, got[i],
				   want[i]);
			return;
		}
	}
	ok(1, "%s", desc);
}

/*
 * Sizes and parameter checks.
 */
static void
test_setup(void)
{
	IndStream *s;
	IndStream  st;

	ok(ind_stream_size(IND_STREAM_SMA, 3) ==
		   sizeof(IndStream) + 3 * sizeof(double),
	   "an sma stream holds a window of period values");
	ok(ind_stream_size(IND_STREAM_EMA, 50) == sizeof(IndStream) &&
		   ind_stream_size(IND_STREAM_RSI, 50) == sizeof(IndStream) &&
		   ind_stream_size(IND_STREAM_ATR, 50) == sizeof(IndStream),
	   "ema, rsi and atr streams need no window");
	ok(ind_stream_size(IND_STREAM_SMA, 0) == 0 &&
		   ind_stream_size(IND_STREAM_EMA, IND_PERIOD_MAX + 1) == 0 &&
		   ind_stream_size((IndStreamKind) 99, 3) == 0,
	   "size is 0 for a bad period or kind");
	ok(ind_stream_init(&st, IND_STREAM_EMA, 0) == IND_EPARAM,
	   "init refuses period 0");
	ok(ind_stream_init(&st, IND_STREAM_RSI,
					   IND_PERIOD_MAX + 1) == IND_EPARAM,
	   "init refuses a period above the maximum");

	s = new_stream(IND_STREAM_SMA, 2);
	ok(ind_stream_add_bar(s, 2, 1, 1.5) == IND_EPARAM && s->count == 0,
	   "an sma stream refuses bars and stays empty");
	free(s);
	s = new_stream(IND_STREAM_ATR, 2);
	ok(ind_stream_add(s, 1.5) == IND_EPARAM && s->count == 0,
	   "an atr stream refuses single values and stays empty");
	free(s);
}

/*
 * SMA by hand, across the points where the window sum is recomputed.
 */
static void
test_sma(void)
{
	/* (4+8+6)/3 = 6, (8+6+10)/3 = 8, (6+10+2)/3 = 6. */
	static const double in[] = {4, 8, 6, 10, 2};
	static const double want[] = {NAN, NAN, 6, 8, 6};
	/* Means of 1,3 / 3,5 / 5,7 / 7,9 / 9,11: 2, 4, 6, 8, 10. */
	static const double in2[] = {1, 3, 5, 7, 9, 11};
	static const double want2[] = {NAN, 2, 4, 6, 8, 10};
	static const double in1[] = {1.5, -2, 7};
	double				out[6];

	run_series(IND_STREAM_SMA, 3, in, 5, out);
	is_series(out, want, 5, 0.0, "sma(3) by hand");
	run_series(IND_STREAM_SMA, 2, in2, 6, out);
	is_series(out, want2, 6, 0.0,
			  "sma(2) by hand, sliding and recomputed sums alternating");
	run_series(IND_STREAM_SMA, 1, in1, 3, out);
	is_series(out, in1, 3, 0.0, "sma(1) is the series");
}

/*
 * EMA by hand.
 */
static void
test_ema(void)
{
	/* k = 2/3: seed (3+5)/2 = 4; (8-4)*2/3+4 = 20/3; (2-20/3)*2/3+20/3 =
	 * 32/9. */
	static const double in[] = {3, 5, 8, 2};
	const double		want[] = {NAN, 4, 20.0 / 3, 32.0 / 9};
	/* k = 1/2: seed (2+4+6)/3 = 4; (8-4)/2+4 = 6; (4-6)/2+6 = 5. */
	static const double in3[] = {2, 4, 6, 8, 4};
	static const double want3[] = {NAN, NAN, 4, 6, 5};
	double				out[5];

	run_series(IND_STREAM_EMA, 2, in, 4, out);
	is_series(out, want, 4, 1e-14, "ema(2) by hand");
	run_series(IND_STREAM_EMA, 3, in3, 5, out);
	is_series(out, want3, 5, 0.0, "ema(3) by hand, seeded with the mean");
}

/*
 * RSI by hand.
 */
static void
test_rsi(void)
{
	/*
	 * Changes +1 +2 -1 0 +3.  Index 3: gain 3/3 = 1, loss 1/3 -> 75.
	 * Index 4: gain (1*2+0)/3 = 2/3, loss (1/3*2+0)/3 = 2/9 -> 75.
	 * Index 5: gain (2/3*2+3)/3 = 13/9, loss (2/9*2)/3 = 4/27 -> 3900/43.
	 */
	static const double in[] = {10, 11, 13, 12, 12, 15};
	const double		want[] = {NAN, NAN, NAN, 75, 75, 3900.0 / 43};
	/* No change at all: gain and loss are 0, RSI 0 (TA-Lib). */
	static const double flat[] = {5, 5, 5, 5};
	static const double want_flat[] = {NAN, NAN, 0, 0};
	/* Period 1: each change alone, 100 when up, 0 when down. */
	static const double in1[] = {1, 2, 1.5, 2.5};
	static const double want1[] = {NAN, 100, 0, 100};
	double				out[6];

	run_series(IND_STREAM_RSI, 3, in, 6, out);
	is_series(out, want, 6, 1e-12, "rsi(3) by hand");
	run_series(IND_STREAM_RSI, 2, flat, 4, out);
	is_series(out, want_flat, 4, 0.0, "rsi of a flat series is 0");
	run_series(IND_STREAM_RSI, 1, in1, 4, out);
	is_series(out, want1, 4, 0.0, "rsi(1) is 100 up and 0 down");
}

/*
 * ATR by hand.
 */
static void
test_atr(void)
{
	/*
	 * True ranges from bar 2: max(1.5, |9.5-11|, 0) = 1.5; max(0.8, 0.3,
	 * 0.5) = 0.8; max(1, |10.2-12|, 0.8) = 1.8; max(1, 0.3, |11.8-10.5|)
	 * = 1.3.  ATR(3) = 4.1/3, then (4.1/3*2+1.3)/3 = 12.1/9.
	 */
	static const double h[] = {10, 11, 10.8, 12, 11.5};
	static const double l[] = {9, 9.5, 10, 11, 10.5};
	static const double c[] = {9.5, 10.5, 10.2, 11.8, 11};
	const double		want[] = {NAN, NAN, NAN, 4.1 / 3, 12.1 / 9};
	const double		want1[] = {NAN, 1.5, 0.8, 1.8, 1.3};
	double				out[5];

	run_bars(3, h, l, c, 5, out);
	is_series(out, want, 5, 1e-12, "atr(3) by hand");
	run_bars(1, h, l, c, 5, out);
	is_series(out, want1, 5, 1e-12, "atr(1) is the true range");
}

/*
 * Reading a value changes nothing: warm-up flag, repeated reads, and a
 * copy of the stream that goes on like the original.
 */
static void
test_read_only(void)
{
	IndStream *s = new_stream(IND_STREAM_EMA, 2);
	double	   first;

	ind_stream_add(s, 3);
	ok(!ind_stream_ready(s) && isnan(ind_stream_value(s)),
	   "ema(2) after one value is in its warm-up");
	ind_stream_add(s, 5);
	first = ind_stream_value(s);
	/* seed (3+5)/2 = 4, read three times */
	ok(ind_stream_ready(s) && first == 4 && ind_stream_value(s) == 4 &&
		   ind_stream_value(s) == 4 && s->count == 2,
	   "reading the value repeatedly gives 4 and leaves the count at 2");
	ind_stream_add(s, 8);
	/* (8-4)*2/3+4 = 20/3, as if the value had never been read */
	ok(fabs(ind_stream_value(s) - 20.0 / 3) <= 1e-14,
	   "the stream goes on after reads as without them");
	free(s);
}

/*
 * Fill a series of n closes with a deterministic random walk around 100
 * (a linear congruential generator), and highs and lows around them.
 */
static void
make_walk(double *high, double *low, double *close, size_t n)
{
	unsigned long state = 12345;
	double		  price = 100.0;
	size_t		  i;

	for (i = 0; i < n; i++)
	{
		state = (state * 1103515245UL + 12345UL) % 2147483648UL;
		price += ((double) (state % 2001) - 1000.0) / 500.0;
		close[i] = price;
		high[i] = price + (double) (state % 97) / 50.0;
		low[i] = price - (double) (state % 89) / 50.0;
	}
}

/*
 * SuperTrend(p, 3) as a stream of bars against ind_supertrend(), line and
 * trend, exactly.
 */
static void
test_supertrend_against_array(int p, const double *high, const double *low,
							  const double *close)
{
	static double line[LONG_N], trend[LONG_N];
	static double got_line[LONG_N], got_trend[LONG_N];
	IndStream	 *s = new_stream(IND_STREAM_SUPERTREND, p);
	char		  desc[80];
	size_t		  i;

	ind_supertrend(high, low, close, LONG_N, p, 3.0, line, trend);
	if (ind_stream_set_multiplier(s, 3.0) != IND_OK)
		ok(0, "supertrend stream takes multiplier 3");
	for (i = 0; i < LONG_N; i++)
	{
		ind_stream_add_bar(s, high[i], low[i], close[i]);
		got_line[i] = ind_stream_value(s);
		got_trend[i] = ind_stream_ready(s) ? (double) s->st.trend : NAN;
	}
	free(s);
	snprintf(desc, sizeof(desc),
			 "supertrend(%d, 3) stream line equals ind_supertrend", p);
	is_series(got_line, line, LONG_N, 0.0, desc);
	snprintf(desc, sizeof(desc),
			 "supertrend(%d, 3) stream trend equals ind_supertrend", p);
	is_series(got_trend, trend, LONG_N, 0.0, desc);
}

/*
 * OBV as a stream of closes and volumes (the highs stand in for volumes)
 * against ind_obv(), exactly.
 */
static void
test_obv_against_array(const double *volume, const double *close)
{
	static double want[LONG_N], got[LONG_N];
	IndStream	 *s = new_stream(IND_STREAM_OBV, 1);
	size_t		  i;

	ind_obv(close, volume, LONG_N, want);
	for (i = 0; i < LONG_N; i++)
	{
		ind_stream_add_volume(s, close[i], volume[i]);
		got[i] = ind_stream_value(s);
	}
	ok(ind_stream_add(s, 1.0) == IND_EPARAM &&
		   ind_stream_add_bar(s, 1.0, 1.0, 1.0) == IND_EPARAM,
	   "an obv stream takes closes with volumes only");
	free(s);
	is_series(got, want, LONG_N, 0.0, "obv stream equals ind_obv");
}

/*
 * MACD(max(1, (p+1)/2), p+1, 3) and Bollinger(p, 2) as streams against
 * ind_macd() and ind_bollinger(), every output, exactly.
 */
static void
test_macd_bollinger_against_arrays(int p, const double *close)
{
	static double m[LONG_N], sg[LONG_N], h[LONG_N];
	static double gm[LONG_N], gs[LONG_N], gh[LONG_N];
	int			  fast = (p + 1) / 2 > 1 ? (p + 1) / 2 : 1;
	IndStream	 *s = new_stream(IND_STREAM_MACD, p + 1);
	char		  desc[96];
	size_t		  i;

	ind_macd(close, LONG_N, fast, p + 1, 3, m, sg, h);
	ok(ind_stream_set_macd(s, fast, 3) == IND_OK, "macd(%d, %d, 3) stream set up",
	   fast, p + 1);
	for (i = 0; i < LONG_N; i++)
	{
		ind_stream_add(s, close[i]);
		ind_stream_macd(s, &gm[i], &gs[i], &gh[i]);
	}
	free(s);
	snprintf(desc, sizeof(desc), "macd(%d, %d, 3) stream line, signal, hist",
			 fast, p + 1);
	is_series(gm, m, LONG_N, 0.0, desc);
	is_series(gs, sg, LONG_N, 0.0, desc);
	is_series(gh, h, LONG_N, 0.0, desc);

	s = new_stream(IND_STREAM_BOLLINGER, p);
	ind_bollinger(close, LONG_N, p, 2.0, m, sg, h);
	ind_stream_set_multiplier(s, 2.0);
	for (i = 0; i < LONG_N; i++)
	{
		ind_stream_add(s, close[i]);
		ind_stream_bands(s, &gm[i], &gs[i], &gh[i]);
	}
	free(s);
	snprintf(desc, sizeof(desc), "bollinger(%d, 2) stream bands", p);
	is_series(gm, m, LONG_N, 0.0, desc);
	is_series(gs, sg, LONG_N, 0.0, desc);
	is_series(gh, h, LONG_N, 0.0, desc);
}

/*
 * The streams against the array functions on LONG_N values, for short,
 * middling and long periods: the same value at every index.
 */
static void
test_against_arrays(void)
{
	static double	 high[LONG_N], low[LONG_N], close[LONG_N];
	static double	 got[LONG_N], want[LONG_N];
	static const int periods[] = {1, 2, 7, 30, 200};
	size_t			 i;

	make_walk(high, low, close, LONG_N);
	for (i = 0; i < sizeof(periods) / sizeof(periods[0]); i++)
	{
		int	 p = periods[i];
		char desc[64];

		ind_sma(close, LONG_N, p, want);
		run_series(IND_STREAM_SMA, p, close, LONG_N, got);
		snprintf(desc, sizeof(desc), "sma(%d) stream equals ind_sma", p);
		is_series(got, want, LONG_N, 1e-9, desc);
		ind_ema(close, LONG_N, p, want);
		run_series(IND_STREAM_EMA, p, close, LONG_N, got);
		snprintf(desc, sizeof(desc), "ema(%d) stream equals ind_ema", p);
		is_series(got, want, LONG_N, 1e-9, desc);
		ind_rsi(close, LONG_N, p, want);
		run_series(IND_STREAM_RSI, p, close, LONG_N, got);
		snprintf(desc, sizeof(desc), "rsi(%d) stream equals ind_rsi", p);
		is_series(got, want, LONG_N, 1e-9, desc);
		ind_atr(high, low, close, LONG_N, p, want);
		run_bars(p, high, low, close, LONG_N, got);
		snprintf(desc, sizeof(desc), "atr(%d) stream equals ind_atr", p);
		is_series(got, want, LONG_N, 1e-9, desc);
		ind_wma(close, LONG_N, p, want);
		run_series(IND_STREAM_WMA, p, close, LONG_N, got);
		snprintf(desc, sizeof(desc), "wma(%d) stream equals ind_wma", p);
		is_series(got, want, LONG_N, 0.0, desc);
		ind_stddev(close, LONG_N, p, want);
		run_series(IND_STREAM_STDDEV, p, close, LONG_N, got);
		snprintf(desc, sizeof(desc), "stddev(%d) stream equals ind_stddev", p);
		is_series(got, want, LONG_N, 0.0, desc);
		ind_roc(close, LONG_N, p, want);
		run_series(IND_STREAM_ROC, p, close, LONG_N, got);
		snprintf(desc, sizeof(desc), "roc(%d) stream equals ind_roc", p);
		is_series(got, want, LONG_N, 0.0, desc);
		test_supertrend_against_array(p, high, low, close);
		test_macd_bollinger_against_arrays(p, close);
	}
	test_obv_against_array(high, close);
}

int
main(void)
{
	test_setup();
	test_sma();
	test_ema();
	test_rsi();
	test_atr();
	test_read_only();
	test_against_arrays();
	return tap_finish();
}
