/*-------------------------------------------------------------------------
 *
 * cron_sql.c
 *	  SQL functions over the cron core: cron_next, cron_matches,
 *	  cron_next_n and cron_validate.
 *
 * The core (cron.c) knows nothing of PostgreSQL.  This file gives it a
 * time zone built on PostgreSQL's own tz code (pg_tzset, pg_localtime,
 * pg_next_dst_boundary), so schedules follow the same tz database as
 * timestamptz arithmetic, and converts between timestamptz
 * (microseconds since 2000-01-01) and the core's Unix seconds.
 *
 * A run is always a whole second, so "strictly after" a timestamp with
 * a fraction of a second is "strictly after" its whole second.
 * cron_matches(e, at, z) is computed as cron_next(e, at - 1 minute, z) =
 * at, through the same code path, so the two can never disagree; it is
 * false, not NULL, when the expression never matches.
 *
 * Parse failures raise invalid_parameter_value with the core's sentence
 * as the detail; an unknown time zone raises the same code.  Nothing is
 * cached between calls: parsing is a few microseconds, and pg_tzset
 * caches zones itself.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/int.h"
#include "fmgr.h"
#include "funcapi.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "cron.h"

/* Seconds from the Unix epoch to PostgreSQL's (2000-01-01) */
#define CRON_PG_EPOCH_SECS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)

PG_FUNCTION_INFO_V1(pgtrade_cron_next);
PG_FUNCTION_INFO_V1(pgtrade_cron_matches);
PG_FUNCTION_INFO_V1(pgtrade_cron_next_n);
PG_FUNCTION_INFO_V1(pgtrade_cron_validate);

/*
 * State of a cron_next_n scan between calls.
 */
typedef struct CronScan
{
	CronExpr expr;
	pg_tz	*tz;
	int64	 after; /* Unix seconds of the last row returned */
} CronScan;

/*
 * Report the UTC offset of zone arg at Unix second t (CronZone.offset_at).
 */
static bool
cron_pg_offset_at(void *arg, int64_t t, int32_t *offset)
{
	pg_time_t	  when = (pg_time_t) t;
	struct pg_tm *tm = pg_localtime(&when, (const pg_tz *) arg);

	if (tm == NULL)
		return false;
	*offset = (int32_t) tm->tm_gmtoff;
	return true;
}

/*
 * Find the next change of zone arg's offset after Unix second t
 * (CronZone.next_change).  pg_next_dst_boundary answers "none" when t is
 * exactly the last transition it has tabulated, even for a zone whose
 * rules go on; asking again one second later makes it extrapolate.
 * Transitions are never one second apart, so none is skipped.
 */
static int
cron_pg_next_change(void *arg, int64_t t, int64_t *change)
{
	const pg_tz *tz = (const pg_tz *) arg;
	pg_time_t	 when = (pg_time_t) t;
	pg_time_t	 boundary = 0;
	long int	 before_gmtoff;
	long int	 after_gmtoff;
	int			 before_isdst;
	int			 after_isdst;
	int			 r;

	r = pg_next_dst_boundary(&when, &before_gmtoff, &before_isdst,
							 &boundary, &after_gmtoff, &after_isdst, tz);
	if (r == 0)
	{
		when = (pg_time_t) t + 1;
		r = pg_next_dst_boundary(&when, &before_gmtoff, &before_isdst,
								 &boundary, &after_gmtoff, &after_isdst,
								 tz);
	}
	if (r == 1)
		*change = (int64_t) boundary;
	return r;
}

/*
 * Return the time zone called name, or raise invalid_parameter_value.
 * Accepts what pg_tzset accepts: tz database names in any case and
 * POSIX zone strings; zones that count leap seconds are refused, as
 * PostgreSQL refuses them for timestamptz.
 */
static pg_tz *
cron_zone_lookup(text *name)
{
	char  *tzname = text_to_cstring(name);
	pg_tz *tz = pg_tzset(tzname);

	if (tz == NULL || !pg_tz_acceptable(tz))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", tzname)));
	pfree(tzname);
	return tz;
}

/*
 * Parse the expression text into *expr, or raise invalid_parameter_value
 * with the reason as the detail.
 */
static void
cron_parse_text(text *source, CronExpr *expr)
{
	char	 *s = text_to_cstring(source);
	CronError error;

	if (!cron_parse(s, expr, &error))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid cron expression \"%s\"", s),
				 errdetail("%s", error.detail)));
	pfree(s);
}

/*
 * Return the whole Unix second at or before the finite timestamp ts.
 */
static int64
cron_unix_seconds(TimestampTz ts)
{
	int64 secs = ts / USECS_PER_SEC;

	if (ts % USECS_PER_SEC < 0)
		secs--;
	return secs + CRON_PG_EPOCH_SECS;
}

/*
 * Store the timestamp of Unix second secs in *ts; false when timestamptz
 * cannot hold it.  A run past the end of timestamptz's range is no run:
 * cron_next answers NULL for it, as for an expression that never
 * matches again, and cron_next_n stops before it.
 */
static bool
cron_timestamp(int64 secs, TimestampTz *ts)
{
	return !pg_mul_s64_overflow(secs - CRON_PG_EPOCH_SECS, USECS_PER_SEC, ts) &&
		IS_VALID_TIMESTAMP(*ts);
}

/*
 * Find the first run of expr in tz strictly after Unix second after and
 * store it in *next.  Returns false when the expression never matches.
 */
static bool
cron_next_second(const CronExpr *expr, pg_tz *tz, int64 after, int64 *next)
{
	CronZone   zone = {cron_pg_offset_at, cron_pg_next_change, tz};
	CronStatus status = cron_next(expr, &zone, after, next);

	if (status == CRON_ZONE_FAILED)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range"),
				 errdetail("The local time in time zone \"%s\" cannot be computed near the next run.",
						   pg_get_timezone_name(tz))));

	/* timestamptz spans far less than CRON_INSTANT_LIMIT */
	if (status == CRON_OUT_OF_RANGE)
		elog(ERROR, "cron search start %lld is out of range",
			 (long long) after);
	return status == CRON_FOUND;
}

/*
 * Return the Unix second to search after for the timestamp after, or
 * false when no finite instant follows it (after is +infinity).
 * -infinity has no first instant after it and raises an error.
 */
static bool
cron_search_start(TimestampTz after, int64 *secs)
{
	if (TIMESTAMP_IS_NOEND(after))
		return false;
	if (TIMESTAMP_IS_NOBEGIN(after))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range"),
				 errdetail("A cron schedule has no first run after -infinity.")));
	*secs = cron_unix_seconds(after);
	return true;
}

/*
 * cron_next(expr text, after timestamptz, tz text) returns timestamptz
 *
 * The first run strictly after after, or NULL when the expression never
 * matches again before the end of timestamptz's range (or after is
 * +infinity).
 */
Datum
pgtrade_cron_next(PG_FUNCTION_ARGS)
{
	TimestampTz after = PG_GETARG_TIMESTAMPTZ(1);
	TimestampTz result;
	CronExpr	expr;
	pg_tz	   *tz;
	int64		start;
	int64		next;

	cron_parse_text(PG_GETARG_TEXT_PP(0), &expr);
	tz = cron_zone_lookup(PG_GETARG_TEXT_PP(2));
	if (!cron_search_start(after, &start) ||
		!cron_next_second(&expr, tz, start, &next) ||
		!cron_timestamp(next, &result))
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(result);
}

/*
 * cron_matches(expr text, at timestamptz, tz text) returns boolean
 *
 * Whether cron_next(expr, at - 1 minute, tz) = at.  Infinite timestamps
 * never match.
 */
Datum
pgtrade_cron_matches(PG_FUNCTION_ARGS)
{
	TimestampTz at = PG_GETARG_TIMESTAMPTZ(1);
	CronExpr	expr;
	pg_tz	   *tz;
	int64		next;

	cron_parse_text(PG_GETARG_TEXT_PP(0), &expr);
	tz = cron_zone_lookup(PG_GETARG_TEXT_PP(2));
	if (TIMESTAMP_NOT_FINITE(at))
		PG_RETURN_BOOL(false);

	/* a run is a whole second, so at must be one to equal it */
	if (!cron_next_second(&expr, tz,
						  cron_unix_seconds(at - USECS_PER_MINUTE), &next))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(at % USECS_PER_SEC == 0 && next == cron_unix_seconds(at));
}

/*
 * cron_next_n(expr text, after timestamptz, count integer, tz text)
 * returns setof timestamptz
 *
 * The first count runs strictly after after, in order; fewer when the
 * expression never matches again.
 */
Datum
pgtrade_cron_next_n(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	CronScan		*scan;
	int64			 next;
	TimestampTz		 result;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext oldcontext;
		int32		  count = PG_GETARG_INT32(2);

		if (count < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("count must not be negative")));
		funcctx = SRF_FIRSTCALL_INIT();
		oldcontext = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		scan = palloc(sizeof(CronScan));
		MemoryContextSwitchTo(oldcontext);

		cron_parse_text(PG_GETARG_TEXT_PP(0), &scan->expr);
		scan->tz = cron_zone_lookup(PG_GETARG_TEXT_PP(3));
		if (!cron_search_start(PG_GETARG_TIMESTAMPTZ(1), &scan->after))
			count = 0;
		funcctx->max_calls = (uint64) count;
		funcctx->user_fctx = scan;
	}

	funcctx = SRF_PERCALL_SETUP();
	scan = (CronScan *) funcctx->user_fctx;
	if (funcctx->call_cntr < funcctx->max_calls &&
		cron_next_second(&scan->expr, scan->tz, scan->after, &next) &&
		cron_timestamp(next, &result))
	{
		scan->after = next;
		SRF_RETURN_NEXT(funcctx, TimestampTzGetDatum(result));
	}
	SRF_RETURN_DONE(funcctx);
}

/*
 * cron_validate(expr text) returns void
 *
 * Raises invalid_parameter_value, with the reason as the detail, when
 * expr is not a valid cron expression.
 */
Datum
pgtrade_cron_validate(PG_FUNCTION_ARGS)
{
	CronExpr expr;

	cron_parse_text(PG_GETARG_TEXT_PP(0), &expr);
	PG_RETURN_VOID();
}
