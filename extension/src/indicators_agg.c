/*-------------------------------------------------------------------------
 *
 * indicators_agg.c
 *	  Transition and final functions of the aggregate forms of the
 *	  indicators: pgtrade.sma, ema, rsi (value, period) and atr (high,
 *	  low, close, period).
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

#include "fmgr.h"

#include "indicators.h"
#include "indicators_stream.h"

PG_FUNCTION_INFO_V1(pgtrade_sma_agg_transfn);
PG_FUNCTION_INFO_V1(pgtrade_ema_agg_transfn);
PG_FUNCTION_INFO_V1(pgtrade_rsi_agg_transfn);
PG_FUNCTION_INFO_V1(pgtrade_atr_agg_transfn);
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

/*
 * Return the period argument of the current row, raising 22004 when it is
 * null and 22023 when it is out of range.  row counts from 1.
 */
static int
ind_agg_period(FunctionCallInfo fcinfo, const IndAggInfo *info, int64 row)
{
	int	  argno = info->nvalues + 1;
	int64 period;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"period\" of %s must not be null",
						info->name),
				 errdetail("The period is null on row %lld of the "
						   "aggregated rows.",
						   (long long) row)));
	period = PG_GETARG_INT64(argno);
	if (period < IND_PERIOD_MIN || period > IND_PERIOD_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("period must be between %d and %d",
						IND_PERIOD_MIN, IND_PERIOD_MAX),
				 errdetail("The value given was %lld.", (long long) period)));
	return (int) period;
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
	period = ind_agg_period(fcinfo, info, row);
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
				 errdetail("The first row aggregated gave %d and row %lld gives %d.",
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
 * Raise 22003 when the stream is past its warm-up and its value is not
 * finite, which only happens when the arithmetic overflowed.
 */
static void
ind_agg_check_value(const IndStream *s)
{
	if (ind_stream_ready(s) && !isfinite(ind_stream_value(s)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("indicator value out of range at row %lld",
						(long long) s->count),
				 errdetail("The input values are too large for "
						   "double precision arithmetic.")));
}

/*
 * Add one row to the state of a single-series aggregate (sma, ema, rsi):
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
