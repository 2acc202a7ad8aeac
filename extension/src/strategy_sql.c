/*-------------------------------------------------------------------------
 *
 * strategy_sql.c
 *	  SQL glue of the built-in strategy kind "sma_cross": its validator
 *	  pgtrade.sma_cross_validate and its evaluator pgtrade.sma_cross_eval.
 *
 * The validator accepts exactly {"fast": int, "slow": int} with
 * 1 <= fast < slow <= 10000 and returns the number of bars an evaluation
 * needs; anything else raises 22023 with a detail naming the key.
 *
 * The evaluator follows the signature every strategy kind shares (params,
 * ts, open, high, low, close, volume; see DESIGN.md) and returns
 *	 {"target", "signal", "crossed", "reason",
 *	  "values": {"fast", "slow", "fast_prev", "slow_prev", "last_close",
 *				 "last_ts", "fast_period", "slow_period", "crossed"}}
 * Only ts and close are read; the other arrays must have the same length.
 * Closes so large that a moving average overflows raise 22003, as
 * pgtrade.sma does for the same series.
 * Dates in the reason are printed in the session's TimeZone, which makes
 * the evaluator STABLE rather than IMMUTABLE.  The decision logic is the
 * pure core in sma_cross.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "indicators.h"
#include "sma_cross.h"
#include "strategy_sql.h"

PG_FUNCTION_INFO_V1(pgtrade_sma_cross_validate);
PG_FUNCTION_INFO_V1(pgtrade_sma_cross_eval);

static void sma_cross_refuse(const char *detail) pg_attribute_noreturn();

/*
 * Raise 22023 for invalid sma_cross parameters, with detail as the detail.
 */
static void
sma_cross_refuse(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid parameters for strategy kind \"sma_cross\""),
			 errdetail_internal("%s", detail)));
}

/*
 * Return "a string", "an array", ... for a JSON value, for messages.
 */
const char *
pgtrade_json_kind(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvBinary:
			if (JsonContainerIsArray(v->val.binary.data))
				return "an array";
			return "an object";
		default:
			return "an unexpected value";
	}
}

/*
 * Return the integer value of key's JSON value, or raise 22023 when it is
 * not a number with an integral value (10 and 10.0 are accepted).
 */
static long
sma_cross_int_value(const char *key, const JsonbValue *v)
{
	Datum d;
	char *text;
	char *p;
	long  val;

	if (v->type != jbvNumeric)
		sma_cross_refuse(psprintf("Key \"%s\" must be an integer, got %s.",
								  key, pgtrade_json_kind(v)));
	d = DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric));
	text = DatumGetCString(d);
	p = text + (*text == '-');
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.')
		while (*++p == '0')
			;
	if (*p != '\0')
		sma_cross_refuse(psprintf("Key \"%s\" must be an integer, got %s.",
								  key, text));
	errno = 0;
	val = strtol(text, NULL, 10);
	if (errno == ERANGE)
		sma_cross_refuse(psprintf("Key \"%s\" must be between %d and %d, "
								  "got %s.",
								  key, SMA_CROSS_PERIOD_MIN,
								  SMA_CROSS_PERIOD_MAX, text));
	return val;
}

/*
 * Read and check sma_cross parameters; raise 22023 unless params is
 * exactly {"fast": int, "slow": int} with valid periods.
 */
static void
sma_cross_params(Jsonb *params, int *fast, int *slow)
{
	JsonbIterator	  *it;
	JsonbIteratorToken tok;
	JsonbValue		   v;
	char			  *key = NULL;
	long			   f = 0;
	long			   s = 0;
	bool			   have_f = false;
	bool			   have_s = false;
	char			   detail[160];

	if (!JB_ROOT_IS_OBJECT(params))
	{
		if (JB_ROOT_IS_SCALAR(params) && JsonbExtractScalar(&params->root, &v))
			sma_cross_refuse(psprintf("Parameters must be a JSON object, "
									  "got %s.",
									  pgtrade_json_kind(&v)));
		sma_cross_refuse("Parameters must be a JSON object, got an array.");
	}
	it = JsonbIteratorInit(&params->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			if (strcmp(key, "fast") != 0 && strcmp(key, "slow") != 0)
			{
				char *msg;

				msg = psprintf("Key \"%s\" is not allowed; the only keys "
							   "are \"fast\" and \"slow\".",
							   key);
				sma_cross_refuse(msg);
			}
		}
		else if (tok == WJB_VALUE && strcmp(key, "fast") == 0)
		{
			f = sma_cross_int_value(key, &v);
			have_f = true;
		}
		else if (tok == WJB_VALUE)
		{
			s = sma_cross_int_value(key, &v);
			have_s = true;
		}
	}
	if (!have_f || !have_s)
		sma_cross_refuse(psprintf("Key \"%s\" is missing.",
								  have_f ? "slow" : "fast"));
	if (sma_cross_check_periods(f, s, detail, sizeof(detail)) != 0)
		sma_cross_refuse(detail);
	*fast = (int) f;
	*slow = (int) s;
}

/*
 * pgtrade.sma_cross_validate(params jsonb) returns int
 *
 * Returns the number of bars an evaluation needs: slow + 1.
 */
Datum
pgtrade_sma_cross_validate(PG_FUNCTION_ARGS)
{
	int fast;
	int slow;

	sma_cross_params(PG_GETARG_JSONB_P(0), &fast, &slow);
	PG_RETURN_INT32(sma_cross_bars_needed(slow));
}

/*
 * Return the timestamps of the ts argument as *n values, checking that it
 * has one dimension (2202E), no nulls (22004) and only finite, strictly
 * increasing values (22023).
 */
TimestampTz *
pgtrade_bar_timestamps(ArrayType *arr, int *n)
{
	Datum		*elems;
	bool		*nulls;
	TimestampTz *ts;
	int			 lb;
	int			 i;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("array \"ts\" must be one-dimensional"),
				 errdetail("It has %d dimensions.", ARR_NDIM(arr))));
	lb = ARR_NDIM(arr) == 0 ? 1 : ARR_LBOUND(arr)[0];
	deconstruct_array(arr, TIMESTAMPTZOID, sizeof(TimestampTz),
					  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, n);
	ts = palloc(sizeof(TimestampTz) * (*n > 0 ? *n : 1));
	for (i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("array \"ts\" must not contain nulls"),
					 errdetail("The element at subscript %d is null.",
							   lb + i)));
		ts[i] = DatumGetTimestampTz(elems[i]);
		if (TIMESTAMP_NOT_FINITE(ts[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("array \"ts\" must contain only finite "
							"timestamps"),
					 errdetail("The element at subscript %d is infinite.",
							   lb + i)));
		if (i > 0 && ts[i] <= ts[i - 1])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("array \"ts\" must be strictly increasing"),
					 errdetail("The element at subscript %d is not later "
							   "than the one before it.",
							   lb + i)));
	}
	return ts;
}

/*
 * Raise unless an unused bar array (open, high, low or volume) has one
 * dimension and n elements.
 */
void
pgtrade_check_bar_length(ArrayType *arr, const char *name, int n)
{
	int len;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("array \"%s\" must be one-dimensional", name),
				 errdetail("It has %d dimensions.", ARR_NDIM(arr))));
	len = ARR_NDIM(arr) == 0 ? 0 : ARR_DIMS(arr)[0];
	if (len != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bar arrays must have the same length"),
				 errdetail("\"ts\" has %d elements and \"%s\" has %d.",
						   n, name, len)));
}

/*
 * Return a timestamp as the reason prints it, in the session time zone:
 * "2008-09-12" at midnight, else "2011-01-03 09:30-05".
 */
char *
pgtrade_format_ts(TimestampTz t)
{
	struct pg_tm tm;
	fsec_t		 fsec;
	int			 tz;
	int			 off;

	if (timestamp2tm(t, &tz, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	if (tm.tm_hour == 0 && tm.tm_min == 0 && tm.tm_sec == 0 && fsec == 0)
		return psprintf("%04d-%02d-%02d", tm.tm_year, tm.tm_mon, tm.tm_mday);
	off = tz < 0 ? -tz : tz;
	if (off % 3600 != 0)
		return psprintf("%04d-%02d-%02d %02d:%02d%c%02d:%02d", tm.tm_year,
						tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min,
						tz <= 0 ? '+' : '-', off / 3600, off % 3600 / 60);
	return psprintf("%04d-%02d-%02d %02d:%02d%c%02d", tm.tm_year, tm.tm_mon,
					tm.tm_mday, tm.tm_hour, tm.tm_min, tz <= 0 ? '+' : '-',
					off / 3600);
}

/*
 * An evaluator's answer is built as a JsonbValue tree member by member,
 * as jsonb_in would build it from the JSON text: a number is the numeric
 * of float8out's shortest text for the double, a time the text JSON
 * gives a timestamptz.  pushJsonbValue orders each object's keys.
 */
void
pgtrade_jb_key(JsonbParseState **st, const char *key)
{
	JsonbValue k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
}

/* key: the double x, or null when known is false or x is not finite */
void
pgtrade_jb_number(JsonbParseState **st, const char *key, bool known,
				  double x)
{
	JsonbValue v;

	pgtrade_jb_key(st, key);
	if (known && isfinite(x))
	{
		Datum text = CStringGetDatum(float8out_internal(x));

		v.type = jbvNumeric;
		v.val.numeric = DatumGetNumeric(DirectFunctionCall3(
			numeric_in, text, ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	}
	else
		v.type = jbvNull;
	pushJsonbValue(st, WJB_VALUE, &v);
}

void
pgtrade_jb_int(JsonbParseState **st, const char *key, int64 x)
{
	JsonbValue v;

	pgtrade_jb_key(st, key);
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(x);
	pushJsonbValue(st, WJB_VALUE, &v);
}

void
pgtrade_jb_bool(JsonbParseState **st, const char *key, bool b)
{
	JsonbValue v;

	pgtrade_jb_key(st, key);
	v.type = jbvBool;
	v.val.boolean = b;
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* key: the string s, or null when s is NULL */
void
pgtrade_jb_string(JsonbParseState **st, const char *key, const char *s)
{
	JsonbValue v;

	pgtrade_jb_key(st, key);
	if (s != NULL)
	{
		v.type = jbvString;
		v.val.string.val = (char *) s;
		v.val.string.len = strlen(s);
	}
	else
		v.type = jbvNull;
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* key: the time t as JSON writes a timestamptz, or null */
void
pgtrade_jb_time(JsonbParseState **st, const char *key, bool known,
				TimestampTz t)
{
	char *text = NULL;

	if (known)
		text = JsonEncodeDateTime(NULL, TimestampTzGetDatum(t), TIMESTAMPTZOID,
								  NULL);
	pgtrade_jb_string(st, key, text);
}

/*
 * Return the evaluator's jsonb result for res; ts holds the n timestamps
 * and reason is the plain-words reason.
 */
static Jsonb *
sma_cross_result_jsonb(const SmaCrossResult *res, const TimestampTz *ts,
					   int n, const char *reason)
{
	JsonbParseState *st = NULL;
	JsonbValue		*top;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	if (res->has_target)
		pgtrade_jb_int(&st, "target", res->target == 1 ? 1 : 0);
	else
		pgtrade_jb_string(&st, "target", NULL);
	pgtrade_jb_string(&st, "signal", sma_cross_signal(res));
	pgtrade_jb_bool(&st, "crossed", res->crossed);
	pgtrade_jb_string(&st, "reason", reason);
	pgtrade_jb_key(&st, "values");
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	pgtrade_jb_number(&st, "fast", res->have_last, res->fast);
	pgtrade_jb_number(&st, "slow", res->have_last, res->slow);
	pgtrade_jb_number(&st, "fast_prev", res->have_prev, res->fast_prev);
	pgtrade_jb_number(&st, "slow_prev", res->have_prev, res->slow_prev);
	pgtrade_jb_number(&st, "last_close", res->have_close, res->last_close);
	pgtrade_jb_time(&st, "last_ts", n > 0, n > 0 ? ts[n - 1] : 0);
	pgtrade_jb_int(&st, "fast_period", res->fast_period);
	pgtrade_jb_int(&st, "slow_period", res->slow_period);
	pgtrade_jb_bool(&st, "crossed", res->crossed);
	pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	top = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(top);
}

/*
 * pgtrade.sma_cross_eval(params jsonb, ts timestamptz[], open float8[],
 *		high float8[], low float8[], close float8[], volume float8[])
 *		returns jsonb
 */
Datum
pgtrade_sma_cross_eval(PG_FUNCTION_ARGS)
{
	int			   fast;
	int			   slow;
	int			   n;
	int			   nclose;
	TimestampTz	  *ts;
	double		  *close;
	double		  *work;
	SmaCrossResult res;
	int			   rc;
	char		   reason[1024]; /* fits two %.4f numbers of any size */

	sma_cross_params(PG_GETARG_JSONB_P(0), &fast, &slow);
	ts = pgtrade_bar_timestamps(PG_GETARG_ARRAYTYPE_P(1), &n);
	pgtrade_check_bar_length(PG_GETARG_ARRAYTYPE_P(2), "open", n);
	pgtrade_check_bar_length(PG_GETARG_ARRAYTYPE_P(3), "high", n);
	pgtrade_check_bar_length(PG_GETARG_ARRAYTYPE_P(4), "low", n);
	pgtrade_check_bar_length(PG_GETARG_ARRAYTYPE_P(6), "volume", n);
	close = pgtrade_array_values(PG_GETARG_ARRAYTYPE_P(5), "close", &nclose);
	if (nclose != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bar arrays must have the same length"),
				 errdetail("\"ts\" has %d elements and \"close\" has %d.",
						   n, nclose)));

	work = palloc(sizeof(double) * 2 * (n > 0 ? n : 1));
	rc = sma_cross_evaluate(close, (size_t) n, fast, slow, work, &res);
	if (rc == SMA_CROSS_EOVERFLOW)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("moving average out of range at position %ld",
						res.overflow_at + 1),
				 errdetail("SMA(%d) of \"close\" overflows: the input values "
						   "are too large for double precision arithmetic.",
						   res.overflow_period)));
	if (rc != SMA_CROSS_OK)
		elog(ERROR, "sma_cross refused checked periods");
	if (sma_cross_reason(&res, n > 0 ? pgtrade_format_ts(ts[n - 1]) : "",
						 res.since >= 0 ? pgtrade_format_ts(ts[res.since])
										: NULL,
						 reason, sizeof(reason)) != 0)
		elog(ERROR, "sma_cross reason does not fit its buffer");
	PG_RETURN_JSONB_P(sma_cross_result_jsonb(&res, ts, n, reason));
}
