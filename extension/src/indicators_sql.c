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

#include "access/htup_details.h"
#include "access/tupmacs.h"
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
 * Bit 63 of the result is set when the biased exponent of *x is at least
 * e (1 to 2047): e = 2047 is NaN or infinite.  The exponent's bits plus
 * 2048 - e at their lowest bit carry into the sign bit exactly then.
 */
static inline uint64
ind_exponent_at_least(const double *x, uint64 e)
{
	uint64 bits;

	memcpy(&bits, x, sizeof(bits));
	return (bits & UINT64CONST(0x7FF0000000000000)) + ((2048 - e) << 52);
}

/* NaN or infinite, for ind_roc_finite's loop */
static inline uint64
ind_exponent_carry(const double *x)
{
	return ind_exponent_at_least(x, 2047);
}

/*
 * Whether every biased exponent in v[0..n) is below e: one pass without
 * branches, the carries gathered by OR in four independent lanes.
 */
static bool
ind_exponents_below(const double *v, long n, uint64 e)
{
	uint64 s0 = 0;
	uint64 s1 = 0;
	uint64 s2 = 0;
	uint64 s3 = 0;
	long   i;

	for (i = 0; i + 4 <= n; i += 4)
	{
		s0 |= ind_exponent_at_least(&v[i], e);
		s1 |= ind_exponent_at_least(&v[i + 1], e);
		s2 |= ind_exponent_at_least(&v[i + 2], e);
		s3 |= ind_exponent_at_least(&v[i + 3], e);
	}
	for (; i < n; i++)
		s0 |= ind_exponent_at_least(&v[i], e);
	return ((s0 | s1 | s2 | s3) >> 63) == 0;
}

/* The index of the first value of v[0..n) that is NaN or infinite, or -1. */
static long
ind_first_nonfinite(const double *v, long n)
{
	long i;

	if (ind_exponents_below(v, n, 2047))
		return -1;
	for (i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return i;
	return -1; /* not reached */
}

/*
 * Inputs below 2^256 in magnitude ("tame": prices and volumes are, by
 * some 70 orders of magnitude) cannot make any of these indicators
 * overflow, so their outputs need no check of their own.  Every output is
 * a mean, a difference, a Wilder or exponential average, a sum of at most
 * 2^27 inputs (the most a float8[] holds), a weighted sum with weights of
 * at most 100,000 over at most 100,000 values, or (STDDEV, Bollinger) the
 * square root of a sum of squared deviations, times k or a multiplier
 * that is also below 2^256: all below 2^600.  ROC, a quotient, is left
 * out; it checks its own.  The limit is a biased exponent, 1023 + 256.
 */
#define IND_TAME_EXPONENT (1023 + 256)

static bool
ind_tame_param(double k)
{
	return fabs(k) < ldexp(1.0, 256);
}

/* Signature shared by the single-series cores. */
typedef int (*IndSeriesFn)(const double *in, size_t n, int period,
						   double *out);
typedef size_t (*IndLookbackFn)(int period);

/*
 * The values of a float8[] argument as a C array of *n doubles, without
 * looking at them: pgtrade_array_values less its finiteness check, for a
 * caller that checks as it goes.  Raises 2202E and 22004 as that does.
 */
static double *
ind_array_values_unchecked(ArrayType *arr, const char *name, int *n)
{
	Size   offset;
	bits8 *nulls = ARR_NULLBITMAP(arr);
	int	   lb;
	int	   i;

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
	return (double *) ((char *) arr + offset);
}

/*
 * Raise 22023, naming the element's subscript, if any of the n values of
 * arr (as ind_array_values_unchecked returned them) is NaN or infinite.
 */
static void
ind_check_finite(ArrayType *arr, const double *vals, int n, const char *name)
{
	int lb = ARR_NDIM(arr) == 0 ? 1 : ARR_LBOUND(arr)[0];
	int i = (int) ind_first_nonfinite(vals, n);

	if (i >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("array \"%s\" must contain only finite values",
						name),
				 errdetail("The element at subscript %d is %s.", lb + i,
						   isnan(vals[i]) ? "NaN" : "infinite")));
}

/*
 * pgtrade_array_values, also clearing *tame unless every value is tame
 * (IND_TAME_EXPONENT).  One pass in the common case: a value that is not
 * tame may be NaN or infinite, which only then is looked for.
 */
static double *
ind_values(ArrayType *arr, const char *name, int *n, bool *tame)
{
	double *vals = ind_array_values_unchecked(arr, name, n);

	if (!ind_exponents_below(vals, *n, IND_TAME_EXPONENT))
	{
		*tame = false;
		ind_check_finite(arr, vals, *n, name);
	}
	return vals;
}

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
	bool tame = true;

	return ind_values(arr, name, n, &tame);
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
 * A float8[] (or, for SuperTrend's direction, int[]) result of n values,
 * lower bound 1, with NULL at indexes below first, built around the
 * buffer its indicator writes.
 *
 * ind_result_size works out the array's size; ind_result_place puts it at
 * a given address, in a palloc'd block of its own (ind_result_start) or
 * inside a composite result (IndTuple below), and gives a float8 result
 * the buffer for all n values.  When the array's header and null bitmap
 * take at least as many bytes as the warm-up's values, that buffer is the
 * array itself, placed so that the values past the warm-up land where the
 * array keeps them and the warm-up's (never kept) over the header, which
 * ind_result_build writes afterwards: no copy, and nothing written outside
 * the array's own bytes.  Otherwise (short series) it is a buffer of its
 * own, copied.
 */
typedef struct IndResult
{
	ArrayType *array;
	double	  *out;
	int		   n;
	int		   nnull;
	Size	   elemsize; /* sizeof(double), or sizeof(int32) */
	Size	   overhead; /* header and bitmap: where the values start */
	Size	   nbytes;	 /* the whole array */
	bool	   tame;	 /* inputs tame: no value can have overflowed */
} IndResult;

static void
ind_result_size(IndResult *r, int n, size_t first, Size elemsize)
{
	r->n = n;
	r->nnull = (size_t) n < first ? n : (int) first;
	r->elemsize = elemsize;
	r->overhead = r->nnull > 0 ? ARR_OVERHEAD_WITHNULLS(1, n)
							   : ARR_OVERHEAD_NONULLS(1);
	r->nbytes = r->overhead + (Size) (n - r->nnull) * elemsize;
	r->tame = false;
}

static double *
ind_result_place(IndResult *r, void *where)
{
	r->array = (ArrayType *) where;
	r->out = NULL;
	if (r->elemsize != sizeof(double))
		return NULL;
	if (r->n > 0 && r->overhead >= (Size) r->nnull * sizeof(double))
		r->out = (double *) ((char *) r->array + r->overhead) - r->nnull;
	else
		r->out = palloc(sizeof(double) * (r->n > 0 ? r->n : 1));
	return r->out;
}

static double *
ind_result_start(IndResult *r, int n, size_t first)
{
	ind_result_size(r, n, first, sizeof(double));
	return ind_result_place(r, palloc(r->nbytes));
}

/*
 * The position (from 1) of the first value past the warm-up that is not
 * finite, which only happens when the arithmetic overflowed; 0 if none.
 */
static int
ind_result_overflow(const IndResult *r)
{
	long bad;

	if (r->tame)
		return 0;
	bad = ind_first_nonfinite(r->out + r->nnull, r->n - r->nnull);
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
 * ind_roc into out, with the checks of input and output that other
 * indicators make in passes of their own folded into its loop: false when
 * a value of either is not finite.  ROC costs one division a value, and
 * two more passes over the data had added a third to a call; in the loop
 * they take what the division's latency leaves idle.
 */
static bool
ind_roc_finite(const double *in, int n, int period, double *out)
{
	uint64 s = 0;
	int	   i;

	for (i = 0; i < n && i < period; i++)
		s |= ind_exponent_carry(&in[i]);
	for (; i < n; i++)
	{
		out[i] = ind_roc_one(in[i], in[i - period]);
		s |= ind_exponent_carry(&in[i]) | ind_exponent_carry(&out[i]);
	}
	return (s >> 63) == 0;
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
	bool	   tame = true;
	IndResult  r;

	in = ind_values(arr, "series", &n, &tame);
	ind_check_period(period, "period");
	out = ind_result_start(&r, n, lookback(period));
	r.tame = tame;
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
 * A composite result whose fields are the arrays of IndResults (macd,
 * bollinger, supertrend), built as one tuple with each array where
 * heap_form_tuple would copy it: the indicator writes straight into the
 * tuple, which is then neither zeroed whole nor copied (three arrays of
 * 1.6 MB for 200,000 values).  The layout is heap_fill_tuple's for a
 * tuple without nulls: the header, then each field at its type's
 * alignment, with a four-byte varlena header.  Empty arrays and arrays
 * small enough for a one-byte header (130 bytes or less) are left to
 * heap_form_tuple, which converts those headers.
 */
#define IND_TUPLE_MAX 3

typedef struct IndTuple
{
	TupleDesc		tupdesc;
	HeapTupleHeader td; /* NULL when heap_form_tuple builds it */
	Size			hoff;
	Size			len;
	int				count;
} IndTuple;

/*
 * Place count results, sized by ind_result_size, as the fields of the
 * composite result of fcinfo's function, in order.
 */
static void
ind_tuple_start(FunctionCallInfo fcinfo, IndTuple *t, IndResult *const *rs,
				int count)
{
	TupleDesc tupdesc;
	Size	  offs[IND_TUPLE_MAX];
	Size	  off;
	bool	  inplace = true;
	int		  i;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	t->tupdesc = BlessTupleDesc(tupdesc);
	if (count > IND_TUPLE_MAX || t->tupdesc->natts != count)
		elog(ERROR, "return type must have %d fields", count);
	t->count = count;
	t->td = NULL;
	t->hoff = MAXALIGN(offsetof(HeapTupleHeaderData, t_bits));
	off = t->hoff;
	for (i = 0; i < count; i++)
	{
		Form_pg_attribute att = TupleDescAttr(t->tupdesc, i);

		if (att->attlen != -1 || att->attisdropped || rs[i]->n == 0 ||
			rs[i]->nbytes - VARHDRSZ + VARHDRSZ_SHORT <= VARATT_SHORT_MAX)
			inplace = false;
		off = att_align_nominal(off, att->attalign);
		offs[i] = off;
		off += rs[i]->nbytes;
	}
	if (!inplace)
	{
		for (i = 0; i < count; i++)
			ind_result_place(rs[i], palloc(rs[i]->nbytes));
		return;
	}
	t->len = off;
	t->td = (HeapTupleHeader) palloc(t->len);
	off = 0;
	for (i = 0; i < count; i++)
	{
		/* the header (before the first field) and the alignment padding */
		memset((char *) t->td + off, 0, offs[i] - off);
		ind_result_place(rs[i], (char *) t->td + offs[i]);
		off = offs[i] + rs[i]->nbytes;
	}
}

/*
 * The composite Datum of the arrays that ind_result_build (or
 * ind_make_int_array) made of the results ind_tuple_start placed.
 */
static Datum
ind_tuple_finish(IndTuple *t, ArrayType *const *arrays)
{
	HeapTupleHeader td = t->td;
	Datum			values[IND_TUPLE_MAX];
	bool			nulls[IND_TUPLE_MAX];
	int				i;

	for (i = 0; i < t->count; i++)
	{
		values[i] = PointerGetDatum(arrays[i]);
		nulls[i] = false;
	}
	if (td == NULL)
		return HeapTupleGetDatum(heap_form_tuple(t->tupdesc, values, nulls));
	/*
	 * The fields are in place; the header as heap_form_tuple writes it.
	 * Minor releases that mark and version composite datums
	 * (HEAP_IS_DATUM) have a function for the datum's fields, which reads
	 * the number of attributes; without the mark, each reader would copy
	 * the tuple to mark it.
	 */
	td->t_infomask = HEAP_HASVARWIDTH;
	HeapTupleHeaderSetNatts(td, t->count);
	td->t_hoff = (uint8) t->hoff;
#ifdef HEAP_IS_DATUM
	heap_tuple_set_datum(td, t->tupdesc, (uint32) t->len);
#else
	HeapTupleHeaderSetDatumLength(td, t->len);
	HeapTupleHeaderSetTypeId(td, t->tupdesc->tdtypeid);
	HeapTupleHeaderSetTypMod(td, t->tupdesc->tdtypmod);
	ItemPointerSetInvalid(&td->t_ctid);
#endif
#ifdef USE_ASSERT_CHECKING
	{
		/* the same bytes as heap_form_tuple's */
		HeapTuple ref = heap_form_tuple(t->tupdesc, values, nulls);

		if (ref->t_len != t->len || memcmp(ref->t_data, td, t->len) != 0)
			elog(ERROR, "composite result differs from heap_form_tuple's");
		heap_freetuple(ref);
	}
#endif
	return HeapTupleHeaderGetDatum(td);
}

/*
 * Size three float8[] results of n values with NULL below first1, first2
 * and first3, tame or not, and place them in fcinfo's composite result.
 */
static void
ind_three_start(FunctionCallInfo fcinfo, IndTuple *t, IndResult *r, int n,
				size_t first1, size_t first2, size_t first3, bool tame)
{
	IndResult *rs[3] = {&r[0], &r[1], &r[2]};
	int		   i;

	ind_result_size(&r[0], n, first1, sizeof(double));
	ind_result_size(&r[1], n, first2, sizeof(double));
	ind_result_size(&r[2], n, first3, sizeof(double));
	for (i = 0; i < 3; i++)
		r[i].tame = tame;
	ind_tuple_start(fcinfo, t, rs, 3);
}

/*
 * The composite of three results once the indicator has written them.  An
 * overflow is reported at the earliest position of any of the three, as
 * the window form meets it row by row.
 */
static Datum
ind_three_results(IndTuple *t, IndResult *r)
{
	ArrayType *arrays[3];
	int		   first = 0;
	int		   i;

	for (i = 0; i < 3; i++)
	{
		int overflow = ind_result_overflow(&r[i]);

		if (overflow > 0 && (first == 0 || overflow < first))
			first = overflow;
	}
	if (first > 0)
		ind_raise_overflow(first);
	for (i = 0; i < 3; i++)
		arrays[i] = ind_result_build(&r[i]);
	return ind_tuple_finish(t, arrays);
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
	int		   n;
	bool	   tame = true;
	IndResult  r[3];
	IndTuple   t;

	in = ind_values(arr, "series", &n, &tame);
	ind_check_period(fast, "fast period");
	ind_check_period(slow, "slow period");
	ind_check_period(signal, "signal period");
	if (fast >= slow)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fast period must be less than slow period"),
				 errdetail("The fast period is %d and the slow period is %d.",
						   fast, slow)));
	ind_three_start(fcinfo, &t, r, n, ind_macd_lookback(slow),
					ind_macd_signal_lookback(slow, signal),
					ind_macd_signal_lookback(slow, signal), tame);
	if (ind_macd(in, (size_t) n, fast, slow, signal, r[0].out, r[1].out,
				 r[2].out) != IND_OK)
		elog(ERROR, "indicator refused checked parameters");
	return ind_three_results(&t, r);
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
	int		   n;
	size_t	   first;
	bool	   tame = true;
	IndResult  r[3];
	IndTuple   t;

	in = ind_values(arr, "series", &n, &tame);
	ind_check_period(period, "period");
	if (!isfinite(k) || k < 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be a finite number of at least 0"),
				 errdetail("The value given was %s.",
						   float8out_internal(k))));
	first = ind_bollinger_lookback(period);
	ind_three_start(fcinfo, &t, r, n, first, first, first,
					tame && ind_tame_param(k));
	if (ind_bollinger(in, (size_t) n, period, k, r[0].out, r[1].out,
					  r[2].out) != IND_OK)
		elog(ERROR, "indicator refused checked parameters");
	return ind_three_results(&t, r);
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
	bool	  tame = true;
	IndResult r;

	high = ind_values(PG_GETARG_ARRAYTYPE_P(0), "high", &nh, &tame);
	low = ind_values(PG_GETARG_ARRAYTYPE_P(1), "low", &nl, &tame);
	close = ind_values(PG_GETARG_ARRAYTYPE_P(2), "close", &nc, &tame);
	if (nh != nl || nh != nc)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("arrays \"high\", \"low\" and \"close\" must have "
						"the same length"),
				 errdetail("Their lengths are %d, %d and %d.", nh, nl, nc)));
	ind_check_period(period, "period");
	out = ind_result_start(&r, nh, ind_atr_lookback(period));
	r.tame = tame;
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
	ArrayType *arr = PG_GETARG_ARRAYTYPE_P(0);
	int32	   period = PG_GETARG_INT32(1);
	double	  *in;
	double	  *out;
	int		   n;
	int		   overflow;
	IndResult  r;

	in = ind_array_values_unchecked(arr, "series", &n);
	/* the series is checked first, as by the other indicators */
	if (!ind_period_ok(period))
		ind_check_finite(arr, in, n, "series");
	ind_check_period(period, "period");
	out = ind_result_start(&r, n, ind_roc_lookback(period));
	if (ind_roc_finite(in, n, period, out))
		PG_RETURN_ARRAYTYPE_P(ind_result_build(&r));

	/* something is not finite: report it as the other indicators do */
	ind_check_finite(arr, in, n, "series");
	overflow = ind_result_overflow(&r);
	if (overflow == 0)
		elog(ERROR, "rate of change found no value that is not finite");
	ind_raise_overflow(overflow);
	PG_RETURN_NULL(); /* not reached */
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
	bool					 tame = true;
	IndResult				 r;

	close = ind_values(PG_GETARG_ARRAYTYPE_P(0), "close", &lens[0], &tame);
	volume = ind_values(PG_GETARG_ARRAYTYPE_P(1), "volume", &lens[1], &tame);
	ind_check_lengths(2, names, lens);
	out = ind_result_start(&r, lens[0], 0);
	r.tame = tame;
	if (ind_obv(close, volume, (size_t) lens[0], out) != IND_OK)
		elog(ERROR, "indicator refused checked parameters");
	PG_RETURN_ARRAYTYPE_P(ind_result_finish(&r));
}

/*
 * Build an int[] result, sized by ind_result_size with sizeof(int32) and
 * placed, from n doubles (SuperTrend's direction): NULL below its first
 * value, written in place as ind_result_build writes a float8[].
 */
static ArrayType *
ind_make_int_array(IndResult *r, const double *vals)
{
	ArrayType *a = r->array;
	int32	  *data;
	int		   i;

	if (r->n == 0)
		return construct_empty_array(INT4OID);
	memset(a, 0, r->overhead);
	ind_array_header(a, r->nbytes, r->n, r->nnull > 0 ? r->overhead : 0,
					 INT4OID);
	if (r->nnull > 0)
		ind_mark_values(ARR_NULLBITMAP(a), r->nnull, r->n);
	data = (int32 *) ((char *) a + r->overhead);
	for (i = r->nnull; i < r->n; i++)
		data[i - r->nnull] = (int32) vals[i];
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
	double					*trend;
	size_t					 first;
	int						 n;
	IndResult				 r[2];
	IndResult				*rs[2] = {&r[0], &r[1]};
	bool					 tame = true;
	ArrayType				*arrays[2];
	IndTuple				 t;

	high = ind_values(PG_GETARG_ARRAYTYPE_P(0), "high", &lens[0], &tame);
	low = ind_values(PG_GETARG_ARRAYTYPE_P(1), "low", &lens[1], &tame);
	close = ind_values(PG_GETARG_ARRAYTYPE_P(2), "close", &lens[2], &tame);
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
	ind_result_size(&r[0], n, first, sizeof(double));
	ind_result_size(&r[1], n, first, sizeof(int32));
	r[0].tame = tame && ind_tame_param(multiplier);
	ind_tuple_start(fcinfo, &t, rs, 2);
	trend = palloc(sizeof(double) * (n > 0 ? n : 1));
	if (ind_supertrend(high, low, close, (size_t) n, period, multiplier,
					   r[0].out, trend) != IND_OK)
		elog(ERROR, "indicator refused checked parameters");
	arrays[0] = ind_result_finish(&r[0]);
	arrays[1] = ind_make_int_array(&r[1], trend);
	return ind_tuple_finish(&t, arrays);
}
