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
	for (i = 0; i < *n; i++)
		if (!isfinite(vals[i]))
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
 * Build a float8[] of n values, lower bound 1, with NULL at indexes below
 * first.  Raises 22003 when a value past the warm-up is not finite, which
 * only happens when the arithmetic overflowed.
 */
static ArrayType *
ind_make_array(const double *vals, int n, size_t first)
{
	int		   nnull = (size_t) n < first ? n : (int) first;
	int		   nvals = n - nnull;
	Size	   overhead;
	Size	   nbytes;
	ArrayType *result;
	double	  *data;
	int		   i;

	if (n == 0)
		return construct_empty_array(FLOAT8OID);
	for (i = nnull; i < n; i++)
		if (!isfinite(vals[i]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("indicator value out of range at position %d",
							i + 1),
					 errdetail("The input values are too large for "
							   "double precision arithmetic.")));

	/*
	 * Built in place rather than through Datums: the header, a null
	 * bitmap when the warm-up has elements (1 marks a value), and the
	 * values after the warm-up, contiguous.
	 */
	overhead = nnull > 0 ? ARR_OVERHEAD_WITHNULLS(1, n) : ARR_OVERHEAD_NONULLS(1);
	nbytes = overhead + (Size) nvals * sizeof(double);
	result = (ArrayType *) palloc0(nbytes);
	SET_VARSIZE(result, nbytes);
	result->ndim = 1;
	result->dataoffset = nnull > 0 ? (int32) overhead : 0;
	result->elemtype = FLOAT8OID;
	ARR_DIMS(result)
	[0] = n;
	ARR_LBOUND(result)
	[0] = 1;
	if (nnull > 0)
	{
		bits8 *bitmap = ARR_NULLBITMAP(result);

		for (i = nnull; i < n; i++)
			bitmap[i / 8] |= (bits8) (1 << (i % 8));
	}
	data = (double *) ((char *) result + overhead);
	memcpy(data, vals + nnull, (Size) nvals * sizeof(double));
	return result;
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

	in = pgtrade_array_values(arr, "series", &n);
	ind_check_period(period, "period");
	out = palloc(sizeof(double) * (n > 0 ? n : 1));
	if (fn(in, (size_t) n, period, out) != IND_OK)
		elog(ERROR, "indicator refused checked parameters");
	PG_RETURN_ARRAYTYPE_P(ind_make_array(out, n, lookback(period)));
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
	size_t	   first;
	size_t	   first_signal;

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
	m = palloc(sizeof(double) * (n > 0 ? n : 1));
	s = palloc(sizeof(double) * (n > 0 ? n : 1));
	h = palloc(sizeof(double) * (n > 0 ? n : 1));
	if (ind_macd(in, (size_t) n, fast, slow, signal, m, s, h) != IND_OK)
		elog(ERROR, "indicator refused checked parameters");
	first = ind_macd_lookback(slow);
	first_signal = ind_macd_signal_lookback(slow, signal);
	return ind_three_arrays(fcinfo, ind_make_array(m, n, first),
							ind_make_array(s, n, first_signal),
							ind_make_array(h, n, first_signal));
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

	in = pgtrade_array_values(arr, "series", &n);
	ind_check_period(period, "period");
	if (!isfinite(k) || k < 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be a finite number of at least 0"),
				 errdetail("The value given was %s.",
						   float8out_internal(k))));
	u = palloc(sizeof(double) * (n > 0 ? n : 1));
	m = palloc(sizeof(double) * (n > 0 ? n : 1));
	l = palloc(sizeof(double) * (n > 0 ? n : 1));
	if (ind_bollinger(in, (size_t) n, period, k, u, m, l) != IND_OK)
		elog(ERROR, "indicator refused checked parameters");
	first = ind_bollinger_lookback(period);
	return ind_three_arrays(fcinfo, ind_make_array(u, n, first),
							ind_make_array(m, n, first),
							ind_make_array(l, n, first));
}

/*
 * pgtrade.atr(high float8[], low float8[], close float8[], period int)
 * returns float8[]
 */
Datum
pgtrade_atr(PG_FUNCTION_ARGS)
{
	int32	period = PG_GETARG_INT32(3);
	double *high;
	double *low;
	double *close;
	double *out;
	int		nh;
	int		nl;
	int		nc;

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
	out = palloc(sizeof(double) * (nh > 0 ? nh : 1));
	if (ind_atr(high, low, close, (size_t) nh, period, out) != IND_OK)
		elog(ERROR, "indicator refused checked parameters");
	PG_RETURN_ARRAYTYPE_P(ind_make_array(out, nh, ind_atr_lookback(period)));
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

	close = pgtrade_array_values(PG_GETARG_ARRAYTYPE_P(0), "close", &lens[0]);
	volume = pgtrade_array_values(PG_GETARG_ARRAYTYPE_P(1), "volume",
								  &lens[1]);
	ind_check_lengths(2, names, lens);
	out = palloc(sizeof(double) * (lens[0] > 0 ? lens[0] : 1));
	if (ind_obv(close, volume, (size_t) lens[0], out) != IND_OK)
		elog(ERROR, "indicator refused checked parameters");
	PG_RETURN_ARRAYTYPE_P(ind_make_array(out, lens[0], 0));
}

/*
 * Build an int[] of n values, lower bound 1, with NULL at indexes below
 * first (for SuperTrend's direction).
 */
static ArrayType *
ind_make_int_array(const double *vals, int n, size_t first)
{
	Datum *elems;
	bool  *isnull;
	int	   dims[1];
	int	   lbs[1] = {1};
	int	   i;

	if (n == 0)
		return construct_empty_array(INT4OID);
	elems = palloc(sizeof(Datum) * n);
	isnull = palloc(sizeof(bool) * n);
	for (i = 0; i < n; i++)
	{
		isnull[i] = (size_t) i < first;
		elems[i] = isnull[i] ? (Datum) 0 : Int32GetDatum((int32) vals[i]);
	}
	dims[0] = n;
	return construct_md_array(elems, isnull, 1, dims, lbs, INT4OID,
							  sizeof(int32), true, TYPALIGN_INT);
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
	line = palloc(sizeof(double) * (n > 0 ? n : 1));
	trend = palloc(sizeof(double) * (n > 0 ? n : 1));
	if (ind_supertrend(high, low, close, (size_t) n, period, multiplier, line,
					   trend) != IND_OK)
		elog(ERROR, "indicator refused checked parameters");
	first = ind_supertrend_lookback(period);

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = PointerGetDatum(ind_make_array(line, n, first));
	values[1] = PointerGetDatum(ind_make_int_array(trend, n, first));
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}
