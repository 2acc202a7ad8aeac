/*-------------------------------------------------------------------------
 *
 * indicators_agg.c
 *	  Transition and final functions of the aggregate forms of the
 *	  indicators: pgtrade.sma, ema, wma, rsi, stddev, roc (value, period),
 *	  atr (high, low, close, period), obv (close, volume), supertrend and
 *	  supertrend_direction (high, low, close, period, multiplier), macd
 *	  (value, fast, slow, signal) and bollinger (value, period, k).
 *
 * The aggregates run an indicator over their input rows in input order
 * (the window's ORDER BY, or an ORDER BY inside the call) and report its
 * value at the last row aggregated, NULL during the warm-up.  With a
 * window frame that starts at the partition's first row, the default,
 * each row therefore gets the array form's value at its position.  The
 * state keeps only what the indicator needs to go on (indicators_stream.c),
 * so it cannot drop rows from the front: a frame whose start moves is
 * aggregated afresh by PostgreSQL for every row (there is no inverse
 * transition function), which gives the indicator of the frame's rows
 * alone.  Nothing here can see the frame, so that is documented rather
 * than refused.
 *
 * State: an IndStream palloc'd in the aggregate memory context on the
 * first row, freed with that context.  The final function only reads it
 * (FINALFUNC_MODIFY = READ_ONLY), as window aggregation calls it after
 * every row.  Input checks happen row by row in the transition function:
 * a null argument (22004), a value that is NaN or infinite, a period out
 * of range or different from the first row's (22023), and an indicator
 * value that overflowed (22003).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"

#include "indicators.h"
#include "indicators_stream.h"

PG_FUNCTION_INFO_V1(pgtrade_sma_agg_transfn);
PG_FUNCTION_INFO_V1(pgtrade_ema_agg_transfn);
PG_FUNCTION_INFO_V1(pgtrade_rsi_agg_transfn);
PG_FUNCTION_INFO_V1(pgtrade_atr_agg_transfn);
PG_FUNCTION_INFO_V1(pgtrade_wma_agg_transfn);
PG_FUNCTION_INFO_V1(pgtrade_stddev_agg_transfn);
PG_FUNCTION_INFO_V1(pgtrade_roc_agg_transfn);
PG_FUNCTION_INFO_V1(pgtrade_obv_agg_transfn);
PG_FUNCTION_INFO_V1(pgtrade_supertrend_agg_transfn);
PG_FUNCTION_INFO_V1(pgtrade_supertrend_direction_agg_finalfn);
PG_FUNCTION_INFO_V1(pgtrade_macd_agg_transfn);
PG_FUNCTION_INFO_V1(pgtrade_macd_agg_finalfn);
PG_FUNCTION_INFO_V1(pgtrade_bollinger_agg_transfn);
PG_FUNCTION_INFO_V1(pgtrade_bollinger_agg_finalfn);
PG_FUNCTION_INFO_V1(pgtrade_indicator_agg_finalfn);

/*
 * What the messages need to know about one aggregate: its SQL name, the
 * transition function's name, and the names of its value arguments, which
 * come right after the state argument; the period argument follows them.
 */
typedef struct IndAggInfo
{
	IndStreamKind kind;
	const char	 *name;
	const char	 *transfn;
	int			  nvalues;
	const char	 *argnames[3];
	bool		  no_period;
	int			  period_arg;  /* when not right after the values */
	const char	 *period_name; /* when not "period" */
} IndAggInfo;

static const IndAggInfo ind_agg_sma = {
	.kind = IND_STREAM_SMA,
	.name = "pgtrade.sma",
	.transfn = "pgtrade.sma_agg_transfn",
	.nvalues = 1,
	.argnames = {"value"},
};
static const IndAggInfo ind_agg_ema = {
	.kind = IND_STREAM_EMA,
	.name = "pgtrade.ema",
	.transfn = "pgtrade.ema_agg_transfn",
	.nvalues = 1,
	.argnames = {"value"},
};
static const IndAggInfo ind_agg_rsi = {
	.kind = IND_STREAM_RSI,
	.name = "pgtrade.rsi",
	.transfn = "pgtrade.rsi_agg_transfn",
	.nvalues = 1,
	.argnames = {"value"},
};
static const IndAggInfo ind_agg_atr = {
	.kind = IND_STREAM_ATR,
	.name = "pgtrade.atr",
	.transfn = "pgtrade.atr_agg_transfn",
	.nvalues = 3,
	.argnames = {"high", "low", "close"},
};
static const IndAggInfo ind_agg_wma = {
	.kind = IND_STREAM_WMA,
	.name = "pgtrade.wma",
	.transfn = "pgtrade.wma_agg_transfn",
	.nvalues = 1,
	.argnames = {"value"},
};
static const IndAggInfo ind_agg_stddev = {
	.kind = IND_STREAM_STDDEV,
	.name = "pgtrade.stddev",
	.transfn = "pgtrade.stddev_agg_transfn",
	.nvalues = 1,
	.argnames = {"value"},
};
static const IndAggInfo ind_agg_roc = {
	.kind = IND_STREAM_ROC,
	.name = "pgtrade.roc",
	.transfn = "pgtrade.roc_agg_transfn",
	.nvalues = 1,
	.argnames = {"value"},
};
static const IndAggInfo ind_agg_obv = {
	.kind = IND_STREAM_OBV,
	.name = "pgtrade.obv",
	.transfn = "pgtrade.obv_agg_transfn",
	.nvalues = 2,
	.argnames = {"close", "volume"},
	.no_period = true,
};
static const IndAggInfo ind_agg_macd = {
	.kind = IND_STREAM_MACD,
	.name = "pgtrade.macd",
	.transfn = "pgtrade.macd_agg_transfn",
	.nvalues = 1,
	.argnames = {"value"},
	.period_arg = 3,
	.period_name = "slow period",
};
static const IndAggInfo ind_agg_bollinger = {
	.kind = IND_STREAM_BOLLINGER,
	.name = "pgtrade.bollinger",
	.transfn = "pgtrade.bollinger_agg_transfn",
	.nvalues = 1,
	.argnames = {"value"},
};
static const IndAggInfo ind_agg_supertrend = {
	.kind = IND_STREAM_SUPERTREND,
	.name = "pgtrade.supertrend",
	.transfn = "pgtrade.supertrend_agg_transfn",
	.nvalues = 3,
	.argnames = {"high", "low", "close"},
};

/*
 * Return the period argument argno (named pname) of the current row,
 * raising 22004 when it is null and 22023 when it is out of range.  row
 * counts from 1.
 */
static int
ind_agg_period_at(FunctionCallInfo fcinfo, const IndAggInfo *info, int argno,
				  const char *pname, int64 row)
{
	int64 period;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" of %s must not be null", pname,
						info->name),
				 errdetail("The %s is null on row %lld of the "
						   "aggregated rows.",
						   pname, (long long) row)));
	period = PG_GETARG_INT64(argno);
	if (period < IND_PERIOD_MIN || period > IND_PERIOD_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between %d and %d", pname,
						IND_PERIOD_MIN, IND_PERIOD_MAX),
				 errdetail("The value given was %lld.", (long long) period)));
	return (int) period;
}

/*
 * The aggregate's (main) period argument: right after the values unless
 * the aggregate says otherwise.
 */
static int
ind_agg_period(FunctionCallInfo fcinfo, const IndAggInfo *info, int64 row)
{
	int			argno = info->nvalues + 1;
	const char *pname = "period";

	if (info->period_arg)
		argno = info->period_arg;
	if (info->period_name)
		pname = info->period_name;
	return ind_agg_period_at(fcinfo, info, argno, pname, row);
}

/*
 * Return the stream of this group or frame: the state argument, or a new
 * stream allocated in the aggregate memory context on the first row.
 * Raises 22023 when the period differs from the one the stream started
 * with.
 */
static IndStream *
ind_agg_stream(FunctionCallInfo fcinfo, const IndAggInfo *info)
{
	MemoryContext aggcontext;
	IndStream	 *s;
	int64		  row;
	int			  period;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "%s called in non-aggregate context", info->transfn);
	s = PG_ARGISNULL(0) ? NULL : (IndStream *) PG_GETARG_POINTER(0);
	row = s == NULL ? 1 : (int64) s->count + 1;
	period = info->no_period ? 1 : ind_agg_period(fcinfo, info, row);
	if (s == NULL)
	{
		s = MemoryContextAlloc(aggcontext,
							   ind_stream_size(info->kind, period));
		if (ind_stream_init(s, info->kind, period) != IND_OK)
			elog(ERROR, "indicator stream refused checked parameters");
	}
	else if (period != s->period)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("period of %s must be the same on every row",
						info->name),
				 errdetail("The first row aggregated gave %d and row %lld "
						   "gives %d.",
						   s->period, (long long) row, period)));
	return s;
}

/*
 * Return value argument argno (1 for the first after the state), raising
 * 22004 when it is null and 22023 when it is NaN or infinite.  s is the
 * stream the value is for, used to number the row in messages.
 */
static double
ind_agg_value(FunctionCallInfo fcinfo, const IndAggInfo *info, int argno,
			  const IndStream *s)
{
	const char *name = info->argnames[argno - 1];
	long long	row = (long long) s->count + 1;
	float8		v;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" of %s must not be null",
						name, info->name),
				 errdetail("The value is null on row %lld of the "
						   "aggregated rows.",
						   row),
				 errhint("Rows with nulls can be left out with a FILTER "
						 "clause.")));
	v = PG_GETARG_FLOAT8(argno);
	if (!isfinite(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"%s\" of %s must be finite",
						name, info->name),
				 errdetail("The value is %s on row %lld of the "
						   "aggregated rows.",
						   isnan(v) ? "NaN" : "infinite", row)));
	return v;
}

/*
 * Raise 22003 when a value the stream holds once ready (its value, MACD's
 * signal, Bollinger's deviation) is not finite, which only happens when
 * the arithmetic overflowed.
 */
static void
ind_agg_check_also(const IndStream *s, bool ready, double v)
{
	if (ready && !isfinite(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("indicator value out of range at row %lld",
						(long long) s->count),
				 errdetail("The input values are too large for "
						   "double precision arithmetic.")));
}

/*
 * The check for the stream's own value.
 */
static void
ind_agg_check_value(const IndStream *s)
{
	ind_agg_check_also(s, ind_stream_ready(s), ind_stream_value(s));
}

/*
 * Add one row to the state of a single-series aggregate (sma, ema, wma,
 * rsi, stddev, roc):
 * arguments (state internal, value float8, period bigint).
 */
static Datum
ind_agg_series_step(FunctionCallInfo fcinfo, const IndAggInfo *info)
{
	IndStream *s = ind_agg_stream(fcinfo, info);
	double	   x = ind_agg_value(fcinfo, info, 1, s);

	if (ind_stream_add(s, x) != IND_OK)
		elog(ERROR, "indicator stream of the wrong kind");
	ind_agg_check_value(s);
	PG_RETURN_POINTER(s);
}

/*
 * pgtrade.sma_agg_transfn(internal, float8, bigint) returns internal
 */
Datum
pgtrade_sma_agg_transfn(PG_FUNCTION_ARGS)
{
	return ind_agg_series_step(fcinfo, &ind_agg_sma);
}

/*
 * pgtrade.ema_agg_transfn(internal, float8, bigint) returns internal
 */
Datum
pgtrade_ema_agg_transfn(PG_FUNCTION_ARGS)
{
	return ind_agg_series_step(fcinfo, &ind_agg_ema);
}

/*
 * pgtrade.rsi_agg_transfn(internal, float8, bigint) returns internal
 */
Datum
pgtrade_rsi_agg_transfn(PG_FUNCTION_ARGS)
{
	return ind_agg_series_step(fcinfo, &ind_agg_rsi);
}

/*
 * pgtrade.atr_agg_transfn(internal, high float8, low float8, close float8,
 * period bigint) returns internal
 */
Datum
pgtrade_atr_agg_transfn(PG_FUNCTION_ARGS)
{
	const IndAggInfo *info = &ind_agg_atr;
	IndStream		 *s = ind_agg_stream(fcinfo, info);
	double			  high = ind_agg_value(fcinfo, info, 1, s);
	double			  low = ind_agg_value(fcinfo, info, 2, s);
	double			  close = ind_agg_value(fcinfo, info, 3, s);

	if (ind_stream_add_bar(s, high, low, close) != IND_OK)
		elog(ERROR, "indicator stream of the wrong kind");
	ind_agg_check_value(s);
	PG_RETURN_POINTER(s);
}

/*
 * pgtrade.indicator_agg_finalfn(internal) returns float8
 *
 * Return the indicator at the last row aggregated, or NULL during the
 * warm-up.  Declared STRICT, so an empty input (no state) gives NULL
 * without a call.  The state is only read: window aggregation calls this
 * after every row and goes on adding rows to the same state.
 */
Datum
pgtrade_indicator_agg_finalfn(PG_FUNCTION_ARGS)
{
	const IndStream *s;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "pgtrade.indicator_agg_finalfn called in "
					"non-aggregate context");
	s = (const IndStream *) PG_GETARG_POINTER(0);
	if (!ind_stream_ready(s))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(ind_stream_value(s));
}

/*
 * Read a SuperTrend multiplier or a Bollinger k (argument argno, named
 * pname): set it on the stream's first row, and require the same value
 * on every later row.
 */
static void
ind_agg_multiplier(FunctionCallInfo fcinfo, const IndAggInfo *info,
				   int argno, const char *pname, IndStream *s)
{
	float8 m;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" of %s must not be null", pname,
						info->name)));
	m = PG_GETARG_FLOAT8(argno);
	if (s->count == 0)
	{
		if (ind_stream_set_multiplier(s, m) != IND_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be a finite number of at least 0", pname),
					 errdetail("The value given was %g.", m)));
	}
	else if (m != s->multiplier)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s of %s must be the same on every row", pname,
						info->name),
				 errdetail("The first row aggregated gave %g and row %lld "
						   "gives %g.",
						   s->multiplier, (long long) s->count + 1, m)));
}

/*
 * pgtrade.wma_agg_transfn(state internal, value float8, period bigint)
 */
Datum
pgtrade_wma_agg_transfn(PG_FUNCTION_ARGS)
{
	return ind_agg_series_step(fcinfo, &ind_agg_wma);
}

/*
 * pgtrade.stddev_agg_transfn(state internal, value float8, period bigint)
 */
Datum
pgtrade_stddev_agg_transfn(PG_FUNCTION_ARGS)
{
	return ind_agg_series_step(fcinfo, &ind_agg_stddev);
}

/*
 * pgtrade.roc_agg_transfn(state internal, value float8, period bigint)
 */
Datum
pgtrade_roc_agg_transfn(PG_FUNCTION_ARGS)
{
	return ind_agg_series_step(fcinfo, &ind_agg_roc);
}

/*
 * pgtrade.obv_agg_transfn(state internal, close float8, volume float8)
 */
Datum
pgtrade_obv_agg_transfn(PG_FUNCTION_ARGS)
{
	const IndAggInfo *info = &ind_agg_obv;
	IndStream		 *s = ind_agg_stream(fcinfo, info);
	double			  close = ind_agg_value(fcinfo, info, 1, s);
	double			  volume = ind_agg_value(fcinfo, info, 2, s);

	if (ind_stream_add_volume(s, close, volume) != IND_OK)
		elog(ERROR, "indicator stream of the wrong kind");
	ind_agg_check_value(s);
	PG_RETURN_POINTER(s);
}

/*
 * pgtrade.supertrend_agg_transfn(state internal, high float8, low float8,
 *								  close float8, period bigint,
 *								  multiplier float8)
 *
 * The multiplier, like the period, must be the same on every row.
 */
Datum
pgtrade_supertrend_agg_transfn(PG_FUNCTION_ARGS)
{
	const IndAggInfo *info = &ind_agg_supertrend;
	IndStream		 *s = ind_agg_stream(fcinfo, info);
	double			  high = ind_agg_value(fcinfo, info, 1, s);
	double			  low = ind_agg_value(fcinfo, info, 2, s);
	double			  close = ind_agg_value(fcinfo, info, 3, s);

	ind_agg_multiplier(fcinfo, info, 5, "multiplier", s);
	if (ind_stream_add_bar(s, high, low, close) != IND_OK)
		elog(ERROR, "indicator stream of the wrong kind");
	ind_agg_check_value(s);
	PG_RETURN_POINTER(s);
}

/*
 * pgtrade.supertrend_direction_agg_finalfn(state internal) returns int:
 * the trend at the last bar aggregated (1 up, -1 down), NULL during the
 * warm-up.
 */
Datum
pgtrade_supertrend_direction_agg_finalfn(PG_FUNCTION_ARGS)
{
	const IndStream *s;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "pgtrade.supertrend_direction_agg_finalfn called in "
					"non-aggregate context");
	s = (const IndStream *) PG_GETARG_POINTER(0);
	if (s->kind != IND_STREAM_SUPERTREND)
		elog(ERROR, "supertrend direction of another indicator's state");
	if (!ind_stream_ready(s))
		PG_RETURN_NULL();
	PG_RETURN_INT32(s->st.trend);
}

/*
 * pgtrade.macd_agg_transfn(state internal, value float8, fast bigint,
 *							slow bigint, signal bigint)
 *
 * The stream's period is the slow one; fast and signal are set on the
 * first row and must be the same on every later row.
 */
Datum
pgtrade_macd_agg_transfn(PG_FUNCTION_ARGS)
{
	const IndAggInfo *info = &ind_agg_macd;
	IndStream		 *s = ind_agg_stream(fcinfo, info);
	int64			  row = (int64) s->count + 1;
	int				  fast;
	int				  signal;
	double			  x = ind_agg_value(fcinfo, info, 1, s);

	fast = ind_agg_period_at(fcinfo, info, 2, "fast period", row);
	signal = ind_agg_period_at(fcinfo, info, 4, "signal period", row);
	if (s->count == 0)
	{
		if (ind_stream_set_macd(s, fast, signal) != IND_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("fast period must be less than slow period"),
					 errdetail("The fast period is %d and the slow period "
							   "is %d.",
							   fast, s->period)));
	}
	else if (fast != s->fast || signal != s->signal)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("periods of %s must be the same on every row",
						info->name),
				 errdetail("The first row aggregated gave fast %d and signal "
						   "%d; row %lld gives %d and %d.",
						   s->fast, s->signal, (long long) row, fast,
						   signal)));
	if (ind_stream_add(s, x) != IND_OK)
		elog(ERROR, "indicator stream of the wrong kind");
	ind_agg_check_value(s);
	ind_agg_check_also(s, s->count + 1 >= (size_t) s->period + s->signal,
					   s->sum2);
	PG_RETURN_POINTER(s);
}

/*
 * pgtrade.bollinger_agg_transfn(state internal, value float8,
 *								 period bigint, k float8)
 */
Datum
pgtrade_bollinger_agg_transfn(PG_FUNCTION_ARGS)
{
	const IndAggInfo *info = &ind_agg_bollinger;
	IndStream		 *s = ind_agg_stream(fcinfo, info);
	double			  x = ind_agg_value(fcinfo, info, 1, s);

	ind_agg_multiplier(fcinfo, info, 3, "k", s);
	if (ind_stream_add(s, x) != IND_OK)
		elog(ERROR, "indicator stream of the wrong kind");
	ind_agg_check_value(s);
	ind_agg_check_also(s, ind_stream_ready(s), s->prev);
	PG_RETURN_POINTER(s);
}

/*
 * Return a row of three float8 for the final function's declared type,
 * NULL where a value is NaN (not defined yet); 22003 where one is
 * infinite (the arithmetic overflowed).
 */
static Datum
ind_agg_three(FunctionCallInfo fcinfo, const double *v)
{
	TupleDesc tupdesc;
	Datum	  values[3];
	bool	  nulls[3];
	int		  i;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	for (i = 0; i < 3; i++)
	{
		if (isinf(v[i]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("indicator value out of range"),
					 errdetail("The input values are too large for "
							   "double precision arithmetic.")));
		nulls[i] = isnan(v[i]);
		values[i] = nulls[i] ? (Datum) 0 : Float8GetDatum(v[i]);
	}
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * pgtrade.macd_agg_finalfn(state internal) returns pgtrade.macd_value
 */
Datum
pgtrade_macd_agg_finalfn(PG_FUNCTION_ARGS)
{
	const IndStream *s;
	double			 v[3];

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "pgtrade.macd_agg_finalfn called in non-aggregate context");
	s = (const IndStream *) PG_GETARG_POINTER(0);
	if (ind_stream_macd(s, &v[0], &v[1], &v[2]) != IND_OK)
		elog(ERROR, "macd of another indicator's state");
	return ind_agg_three(fcinfo, v);
}

/*
 * pgtrade.bollinger_agg_finalfn(state internal) returns pgtrade.bollinger_bands
 */
Datum
pgtrade_bollinger_agg_finalfn(PG_FUNCTION_ARGS)
{
	const IndStream *s;
	double			 v[3];

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "pgtrade.bollinger_agg_finalfn called in "
					"non-aggregate context");
	s = (const IndStream *) PG_GETARG_POINTER(0);
	if (ind_stream_bands(s, &v[0], &v[1], &v[2]) != IND_OK)
		elog(ERROR, "bollinger bands of another indicator's state");
	return ind_agg_three(fcinfo, v);
}
