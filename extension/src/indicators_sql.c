/*-------------------------------------------------------------------------
 *
 * indicators_sql.c
 *	  SQL-callable array forms of the indicators: pgtrade.sma, ema, wma,
 *	  rsi, macd, bollinger, atr, stddev, roc, obv and supertrend.
 *
 * Each function reads one-dimensional float8 arrays (any lower bound),
 * runs the pure C core from indicators.c and returns arrays of the same
 * length with lower bound 1, NULL during the warm-up.  Inputs are checked
 * here, before the core runs: nulls (22004), more than one dimension
 * (2202E), NaN or infinite values and periods out of range (22023).  An
 * output value that overflows to infinity raises 22003.
 *
 * Memory: everything is palloc'd in the function's memory context; input
 * arrays without nulls are read in place.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"

#include "indicators.h"

PG_FUNCTION_INFO_V1(pgtrade_sma);
PG_FUNCTION_INFO_V1(pgtrade_ema);
PG_FUNCTION_INFO_V1(pgtrade_rsi);
PG_FUNCTION_INFO_V1(pgtrade_macd);
PG_FUNCTION_INFO_V1(pgtrade_bollinger);
PG_FUNCTION_INFO_V1(pgtrade_atr);
PG_FUNCTION_INFO_V1(pgtrade_wma);
PG_FUNCTION_INFO_V1(pgtrade_stddev);
PG_FUNCTION_INFO_V1(pgtrade_roc);
PG_FUNCTION_INFO_V1(pgtrade_obv);
PG_FUNCTION_INFO_V1(pgtrade_supertrend);

/*
 * The index of the first value of v[0..n) that is NaN or infinite, or -1.
 * The common case, all finite, is one pass without branches: a double is
 * not finite when its eleven exponent bits are all ones, and adding one
 * at the exponent's lowest bit then carries into the sign bit, which is
 * gathered by OR, in four independent lanes.
 */
static inline uint64
ind_exponent_carry(const double *x)
{
	uint64 bits;

	memcpy(&bits, x, sizeof(bits));
	return (bits & UINT64CONST(0x7FF0000000000000)) + (UINT64CONST(1) << 52);
}

static long
ind_first_nonfinite(const double *v, long n)
{
	uint64 s0 = 0;
	uint64 s1 = 0;
	uint64 s2 = 0;
	uint64 s3 = 0;
	long   i;

	for (i = 0; i + 4 <= n; i += 4)
	{
		s0 |= ind_exponent_carry(&v[i]);
		s1 |= ind_exponent_carry(&v[i + 1]);
		s2 |= ind_exponent_carry(&v[i + 2]);
		s3 |= ind_exponent_carry(&v[i + 3]);
	}
	for (; i < n; i++)
		s0 |= ind_exponent_carry(&v[i]);
	if (((s0 | s1 | s2 | s3) >> 63) == 0)
		return -1;
	for (i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return i;
	return -1; /* not reached */
}

/* Signature shared by the single-series cores. */
typedef int (*IndSeriesFn)(const double *in, size_t n, int period,
						   double *out);
typedef size_t (*IndLookbackFn)(int period);

/*
 * Return the values of a float8[] argument as a C array of *n doubles.
 *
 * name is the argument's SQL name, used in error messages.  Raises 2202E
 * for more than one dimension, 22004 for a null element and 22023 for NaN
 * or an infinity; the message gives the element's subscript.  The result
 * may point into the array itself and must not be modified.
 */
double *
pgtrade_array_values(ArrayType *arr, const char *name, int *n)
{
	double *vals;
	Size	offset;
	bits8  *nulls = ARR_NULLBITMAP(arr);
	int		lb;
	int		i;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("array \"%s\" must be one-dimensional", name),
				 errdetail("It has %d dimensions.", ARR_NDIM(arr))));
	if (ARR_ELEMTYPE(arr) != FLOAT8OID)
		elog(ERROR, "array \"%s\" is not of type double precision[]", name);
	*n = ARR_NDIM(arr) == 0 ? 0 : ARR_DIMS(arr)[0];
	lb = ARR_NDIM(arr) == 0 ? 1 : ARR_LBOUND(arr)[0];
	for (i = 0; nulls != NULL && i < *n; i++)
		if ((nulls[i / 8] & (1 << (i % 8))) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("array \"%s\" must not contain nulls", name),
					 errdetail("The element at subscript %d is null.",
							   lb + i)));

	/*
	 * With no null present the values are stored contiguously.  This is
	 * ARR_DATA_PTR written out, to keep -Wsign-compare quiet.
	 */
	if (ARR_HASNULL(arr))
		offset = (Size) arr->dataoffset;
	else
		offset = ARR_OVERHEAD_NONULLS(ARR_NDIM(arr));
	vals = (double *) ((char *) arr + offset);
	i = (int) ind_first_nonfinite(vals, *n);
	if (i >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("array \"%s\" must contain only finite values",
						name),
				 errdetail("The element at subscript %d is %s.", lb + i,
						   isnan(vals[i]) ? "NaN" : "infinite")));
	return vals;
}

/*
 * Raise 22023 unless period lies in [IND_PERIOD_MIN, IND_PERIOD_MAX].
 * name is the parameter's SQL name, for the message.
 */
static void
ind_check_period(int32 period, const char *name)
{
	if (!ind_period_ok(period))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between %d and %d", name,
						IND_PERIOD_MIN, IND_PERIOD_MAX),
				 errdetail("The value given was %d.", period)));
}

/*
 * Set the bits of elements from to n - 1 in a zeroed null bitmap (a set
 * bit marks a value): whole bytes at once.
 */
static void
ind_mark_values(bits8 *bitmap, int from, int n)
{
	int i = from;

	for (; i < n && i % 8 != 0; i++)
		bitmap[i / 8] |= (bits8) (1 << (i % 8));
	if (i < n)
	{
		memset(bitmap + i / 8, 0xFF, (Size) (n - i) / 8);
		for (i += (n - i) / 8 * 8; i < n; i++)
			bitmap[i / 8] |= (bits8) (1 << (i % 8));
	}
}

/*
 * The header of a one-dimensional array of n elements of type elemtype,
 * lower bound 1, nbytes in all; dataoffset 0 when it has no bitmap.
 */
static void
ind_array_header(ArrayType *a, Size nbytes, int n, Size dataoffset,
				 Oid elemtype)
{
	int *dims;
	int *lbounds;

	SET_VARSIZE(a, nbytes);
	a->ndim = 1; /* first: where the bounds lie depends on it */
	a->dataoffset = (int32) dataoffset;
	a->elemtype = elemtype;
	dims = ARR_DIMS(a);
	lbounds = ARR_LBOUND(a);
	dims[0] = n;
	lbounds[0] = 1;
}

/*
 * A float8[] result of n values, lower bound 1, with NULL at indexes
 * below first, built around the buffer its indicator writes.
 *
 * ind_result_start gives the buffer for all n values.  When the array's
 * header and null bitmap take at least as many bytes as the warm-up's
 * values, the buffer is the array itself, placed so that the values past
 * the warm-up land where the array keeps them and the warm-up's (never
 * kept) over the header, which ind_result_build writes afterwards: no
 * copy.  Otherwise (short series) it is a buffer of its own, copied.
 */
typedef struct IndResult
{
	ArrayType *array;
	double	  *out;
	int		   n;
	int		   nnull;
	Size	   overhead; /* header and bitmap: where the values start */
} IndResult;

static double *
ind_result_start(IndResult *r, int n, size_t first)
{
	Size nbytes;

	r->n = n;
	r->nnull = (size_t) n < first ? n : (int) first;
	r->overhead = r->nnull > 0 ? ARR_OVERHEAD_WITHNULLS(1, n)
							   : ARR_OVERHEAD_NONULLS(1);
	nbytes = r->overhead + (Size) (n - r->nnull) * sizeof(double);
	r->array = (ArrayType *) palloc(nbytes);
	if (n > 0 && r->overhead >= (Size) r->nnull * sizeof(double))
		r->out = (double *) ((char *) r->array + r->overhead) - r->nnull;
	else
		r->out = palloc(sizeof(double) * (n > 0 ? n : 1));
	return r->out;
}

/*
 * The position (from 1) of the first value past the warm-up that is not
 * finite, which only happens when the arithmetic overflowed; 0 if none.
 */
static int
ind_result_overflow(const IndResult *r)
{
	long bad = ind_first_nonfinite(r->out + r->nnull, r->n - r->nnull);

	return bad < 0 ? 0 : r->nnull + (int) bad + 1;
}

static void
ind_raise_overflow(int position)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("indicator value out of range at position %d",
					position),
			 errdetail("The input values are too large for "
					   "double precision arithmetic.")));
}

/* The array, once the indicator has written r->out and it is checked. */
static ArrayType *
ind_result_build(IndResult *r)
{
	ArrayType *a = r->array;
	double	  *data = (double *) ((char *) a + r->overhead);
	int		   nvals = r->n - r->nnull;

	if (r->n == 0)
		return construct_empty_array(FLOAT8OID);
	if (r->out + r->nnull != data)
		memcpy(data, r->out + r->nnull, (Size) nvals * sizeof(double));

	/* the header and the bitmap (1 marks a value), over the warm-up */
	memset(a, 0, r->overhead);
	ind_array_header(a, r->overhead + (Size) nvals * sizeof(double), r->n,
					 r->nnull > 0 ? r->overhead : 0, FLOAT8OID);
	if (r->nnull > 0)
		ind_mark_values(ARR_NULLBITMAP(a), r->nnull, r->n);
	return a;
}

/*
 * The array, once the indicator has written r->out; 22003 when a value
 * overflowed.
 */
static ArrayType *
ind_result_finish(IndResult *r)
{
	int overflow = ind_result_overflow(r);

	if (overflow > 0)
		ind_raise_overflow(overflow);
	return ind_result_build(r);
}

/*
 * Run a single-series indicator on arguments (series float8[], period int)
 * and return the result as a Datum.
 */
static Datum
ind_series_call(FunctionCallInfo fcinfo, IndSeriesFn fn,
				IndLookbackFn lookback)
{
	ArrayType *arr = PG_GETARG_ARRAYTYPE_P(0);
	int32	   period = PG_GETARG_INT32(1);
	double	  *in;
	double	  *out;
	int		   n;
	IndResult  r;

	in = pgtrade_array_values(arr, "series", &n);
	ind_check_period(period, "period");
	out = ind_result_start(&r, n, lookback(period));
	if (fn(in, (size_t) n, period, out) != IND_OK)
		elog(ERROR, "indicator refused checked parameters");
	PG_RETURN_ARRAYTYPE_P(ind_result_finish(&r));
}

/*
 * pgtrade.sma(series float8[], period int) returns float8[]
 */
Datum
pgtrade_sma(PG_FUNCTION_ARGS)
{
	return ind_series_call(fcinfo, ind_sma, ind_sma_lookback);
}

/*
 * pgtrade.ema(series float8[], period int) returns float8[]
 */
Datum
pgtrade_ema(PG_FUNCTION_ARGS)
{
	return ind_series_call(fcinfo, ind_ema, ind_ema_lookback);
}

/*
 * pgtrade.rsi(series float8[], period int) returns float8[]
 */
Datum
pgtrade_rsi(PG_FUNCTION_ARGS)
{
	return ind_series_call(fcinfo, ind_rsi, ind_rsi_lookback);
}

/*
 * Return a composite Datum of three float8[] values, for the function's
 * declared OUT parameters.
 */
static Datum
ind_three_arrays(FunctionCallInfo fcinfo, ArrayType *a, ArrayType *b,
				 ArrayType *c)
{
	TupleDesc tupdesc;
	Datum	  values[3];
	bool	  nulls[3] = {false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = PointerGetDatum(a);
	values[1] = PointerGetDatum(b);
	values[2] = PointerGetDatum(c);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * ind_three_arrays of three results.  An overflow is reported at the
 * earliest position of any of the three, as the window form meets it
 * row by row.
 */
static Datum
ind_three_results(FunctionCallInfo fcinfo, IndResult *a, IndResult *b,
				  IndResult *c)
{
	IndResult *r[3] = {a, b, c};
	int		   first = 0;
	int		   i;

	for (i = 0; i < 3; i++)
	{
		int overflow = ind_result_overflow(r[i]);

		if (overflow > 0 && (first == 0 || overflow < first))
			first = overflow;
	}
	if (first > 0)
		ind_raise_overflow(first);
	return ind_three_arrays(fcinfo, ind_result_build(a), ind_result_build(b),
							ind_result_build(c));
}

/*
 * pgtrade.macd(series float8[], fast int, slow int, signal int,
 *				OUT macd float8[], OUT signal float8[], OUT hist float8[])
 */
Datum
pgtrade_macd(PG_FUNCTION_ARGS)
{
	ArrayType *arr = PG_GETARG_ARRAYTYPE_P(0);
	int32	   fast = PG_GETARG_INT32(1);
	int32	   slow = PG_GETARG_INT32(2);
	int32	   signal = PG_GETARG_INT32(3);
	double	  *in;
	double	  *m;
	double	  *s;
	double	  *h;
	int		   n;
	IndResult  rm;
	IndResult  rs;
	IndResult  rh;

	in = pgtrade_array_values(arr, "series", &n);
	ind_check_period(fast, "fast period");
	ind_check_period(slow, "slow period");
	ind_check_period(signal, "signal period");
	if (fast >= slow)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fast period must be less than slow period"),
				 errdetail("The fast period is %d and the slow period is %d.",
						   fast, slow)));
	m = ind_result_start(&rm, n, ind_macd_lookback(slow));
	s = ind_result_start(&rs, n, ind_macd_signal_lookback(slow, signal));
	h = ind_result_start(&rh, n, ind_macd_signal_lookback(slow, signal));
	if (ind_macd(in, (size_t) n, fast, slow, signal, m, s, h) != IND_OK)
		elog(ERROR, "indicator refused checked parameters");
	return ind_three_results(fcinfo, &rm, &rs, &rh);
}

/*
 * pgtrade.bollinger(series float8[], period int, k float8,
 *					 OUT upper float8[], OUT middle float8[],
 *					 OUT lower float8[])
 */
Datum
pgtrade_bollinger(PG_FUNCTION_ARGS)
{
	ArrayType *arr = PG_GETARG_ARRAYTYPE_P(0);
	int32	   period = PG_GETARG_INT32(1);
	float8	   k = PG_GETARG_FLOAT8(2);
	double	  *in;
	double	  *u;
	double	  *m;
	double	  *l;
	int		   n;
	size_t	   first;
	IndResult  ru;
	IndResult  rm;
	IndResult  rl;

	in = pgtrade_array_values(arr, "series", &n);
	ind_check_period(period, "period");
	if (!isfinite(k) || k < 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be a finite number of at least 0"),
				 errdetail("The value given was %s.",
						   float8out_internal(k))));
	first = ind_bollinger_lookback(period);
	u = ind_result_start(&ru, n, first);
	m = ind_result_start(&rm, n, first);
	l = ind_result_start(&rl, n, first);
	if (ind_bollinger(in, (size_t) n, period, k, u, m, l) != IND_OK)
		elog(ERROR, "indicator refused checked parameters");
	return ind_three_results(fcinfo, &ru, &rm, &rl);
}

/*
 * pgtrade.atr(high float8[], low float8[], close float8[], period int)
 * returns float8[]
 */
Datum
pgtrade_atr(PG_FUNCTION_ARGS)
{
	int32	  period = PG_GETARG_INT32(3);
	double	 *high;
	double	 *low;
	double	 *close;
	double	 *out;
	int		  nh;
	int		  nl;
	int		  nc;
	IndResult r;

	high = pgtrade_array_values(PG_GETARG_ARRAYTYPE_P(0), "high", &nh);
	low = pgtrade_array_values(PG_GETARG_ARRAYTYPE_P(1), "low", &nl);
	close = pgtrade_array_values(PG_GETARG_ARRAYTYPE_P(2), "close", &nc);
	if (nh != nl || nh != nc)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("arrays \"high\", \"low\" and \"close\" must have "
						"the same length"),
				 errdetail("Their lengths are %d, %d and %d.", nh, nl, nc)));
	ind_check_period(period, "period");
	out = ind_result_start(&r, nh, ind_atr_lookback(period));
	if (ind_atr(high, low, close, (size_t) nh, period, out) != IND_OK)
		elog(ERROR, "indicator refused checked parameters");
	PG_RETURN_ARRAYTYPE_P(ind_result_finish(&r));
}

/*
 * pgtrade.wma(series float8[], period int) returns float8[]
 */
Datum
pgtrade_wma(PG_FUNCTION_ARGS)
{
	return ind_series_call(fcinfo, ind_wma, ind_wma_lookback);
}

/*
 * pgtrade.stddev(series float8[], period int) returns float8[]
 */
Datum
pgtrade_stddev(PG_FUNCTION_ARGS)
{
	return ind_series_call(fcinfo, ind_stddev, ind_stddev_lookback);
}

/*
 * pgtrade.roc(series float8[], period int) returns float8[]
 */
Datum
pgtrade_roc(PG_FUNCTION_ARGS)
{
	return ind_series_call(fcinfo, ind_roc, ind_roc_lookback);
}

/*
 * Raise 22023 unless the arrays of a bar series have one length; names
 * and lengths are given in the same order, count of them.
 */
static void
ind_check_lengths(int count, const char *const *names, const int *lens)
{
	int i;

	for (i = 1; i < count; i++)
		if (lens[i] != lens[0])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("arrays \"%s\" and \"%s\" must have the same "
							"length",
							names[0], names[i]),
					 errdetail("Their lengths are %d and %d.", lens[0],
							   lens[i])));
}

/*
 * pgtrade.obv(close float8[], volume float8[]) returns float8[]
 */
Datum
pgtrade_obv(PG_FUNCTION_ARGS)
{
	static const char *const names[] = {"close", "volume"};
	int						 lens[2];
	double					*close;
	double					*volume;
	double					*out;
	IndResult				 r;

	close = pgtrade_array_values(PG_GETARG_ARRAYTYPE_P(0), "close", &lens[0]);
	volume = pgtrade_array_values(PG_GETARG_ARRAYTYPE_P(1), "volume",
								  &lens[1]);
	ind_check_lengths(2, names, lens);
	out = ind_result_start(&r, lens[0], 0);
	if (ind_obv(close, volume, (size_t) lens[0], out) != IND_OK)
		elog(ERROR, "indicator refused checked parameters");
	PG_RETURN_ARRAYTYPE_P(ind_result_finish(&r));
}

/*
 * Build an int[] of n values, lower bound 1, with NULL at indexes below
 * first (for SuperTrend's direction), written in place as
 * ind_result_build writes a float8[].
 */
static ArrayType *
ind_make_int_array(const double *vals, int n, size_t first)
{
	int		   nnull = (size_t) n < first ? n : (int) first;
	Size	   overhead;
	Size	   nbytes;
	ArrayType *a;
	int32	  *data;
	int		   i;

	if (n == 0)
		return construct_empty_array(INT4OID);
	overhead = nnull > 0 ? ARR_OVERHEAD_WITHNULLS(1, n) : ARR_OVERHEAD_NONULLS(1);
	nbytes = overhead + (Size) (n - nnull) * sizeof(int32);
	a = (ArrayType *) palloc(nbytes);
	memset(a, 0, overhead);
	ind_array_header(a, nbytes, n, nnull > 0 ? overhead : 0, INT4OID);
	if (nnull > 0)
		ind_mark_values(ARR_NULLBITMAP(a), nnull, n);
	data = (int32 *) ((char *) a + overhead);
	for (i = nnull; i < n; i++)
		data[i - nnull] = (int32) vals[i];
	return a;
}

/*
 * pgtrade.supertrend(high float8[], low float8[], close float8[],
 *					  period int, multiplier float8,
 *					  OUT supertrend float8[], OUT direction int[])
 */
Datum
pgtrade_supertrend(PG_FUNCTION_ARGS)
{
	static const char *const names[] = {"high", "low", "close"};
	int32					 period = PG_GETARG_INT32(3);
	float8					 multiplier = PG_GETARG_FLOAT8(4);
	int						 lens[3];
	double					*high;
	double					*low;
	double					*close;
	double					*line;
	double					*trend;
	size_t					 first;
	int						 n;
	TupleDesc				 tupdesc;
	Datum					 values[2];
	bool					 nulls[2] = {false, false};
	IndResult				 r;

	high = pgtrade_array_values(PG_GETARG_ARRAYTYPE_P(0), "high", &lens[0]);
	low = pgtrade_array_values(PG_GETARG_ARRAYTYPE_P(1), "low", &lens[1]);
	close = pgtrade_array_values(PG_GETARG_ARRAYTYPE_P(2), "close", &lens[2]);
	ind_check_lengths(3, names, lens);
	ind_check_period(period, "period");
	if (!isfinite(multiplier) || multiplier < 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("multiplier must be a finite number of at least 0"),
				 errdetail("The value given was %s.",
						   float8out_internal(multiplier))));
	n = lens[0];
	first = ind_supertrend_lookback(period);
	line = ind_result_start(&r, n, first);
	trend = palloc(sizeof(double) * (n > 0 ? n : 1));
	if (ind_supertrend(high, low, close, (size_t) n, period, multiplier, line,
					   trend) != IND_OK)
		elog(ERROR, "indicator refused checked parameters");

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = PointerGetDatum(ind_result_finish(&r));
	values[1] = PointerGetDatum(ind_make_int_array(trend, n, first));
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}
