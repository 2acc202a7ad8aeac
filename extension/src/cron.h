/*-------------------------------------------------------------------------
 *
 * cron.h
 *	  Five-field cron expressions: parsing and next-run computation.
 *
 * This is a plain C core with no PostgreSQL headers, so unit tests and
 * fuzzers link it alone; cron_sql.c wraps it for SQL.
 *
 * Syntax.  An expression is five fields separated by blanks: minute
 * (0-59), hour (0-23), day of month (1-31), month (1-12 or jan-dec) and
 * day of week (0-7 or sun-sat, where both 0 and 7 mean Sunday).  Names
 * are three letters in any case.  A field is a comma-separated list of
 * elements; an element is "*", a value, or a range "a-b", optionally
 * followed by "/step".  "a/step" means "a-max/step", as in ISC cron.  A
 * step runs from 1 to the field's largest value minus its smallest.  The
 * macros @yearly (= @annually), @monthly, @weekly, @daily (= @midnight)
 * and @hourly stand for "0 0 1 1 *", "0 0 1 * *", "0 0 * * 0",
 * "0 0 * * *" and "0 * * * *".
 *
 * Days.  A field is restricted when its text does not begin with "*".
 * When both day of month and day of week are restricted a day matches
 * if either matches ("0 0 13 * 5" runs on every 13th and every Friday);
 * otherwise both must match (day of month "*" followed by "/2", with day
 * of week 5, runs on Fridays with an odd day of month).  This is the
 * Vixie and ISC cron rule.
 *
 * Time zones and daylight saving.  Fields match the local wall-clock
 * time of a time zone, which the caller supplies as a CronZone.  Runs
 * happen at whole minutes of local time.  When the clock jumps, the
 * expression's kind decides, as ISC cron does:
 *
 *	- A fixed-time expression (neither the minute nor the hour field
 *	  begins with "*"; the macros other than @hourly) runs each matching
 *	  local time once.  A local time skipped by a spring-forward gap runs
 *	  at the first instant after the gap, that is at the transition
 *	  itself (several skipped matches collapse into that one run).  A
 *	  local time that occurs twice in a fall-back overlap runs only at
 *	  its first occurrence.  Precisely: a matching local time w runs at
 *	  the first instant at which the local clock reads w or later.
 *	- A wildcard expression (minute or hour field begins with "*")
 *	  follows the wall clock: local times skipped by a gap do not run,
 *	  and local times repeated by an overlap run at both occurrences.
 *
 * In America/New_York on 2024-03-10 the clock goes from 01:59:59 EST to
 * 03:00:00 EDT (07:00 UTC): "30 2 * * *" runs at 07:00 UTC, while
 * "30 * * * *" runs at 06:30 and 07:30 UTC.  On 2024-11-03 it goes from
 * 01:59:59 EDT back to 01:00:00 EST (06:00 UTC): "30 1 * * *" runs at
 * 05:30 UTC only, while "30 * * * *" runs at 05:30 and 06:30 UTC.
 *
 * Horizon.  cron_next searches one full Gregorian cycle (146097 days,
 * after which the calendar repeats exactly, weekdays included) plus two
 * days; finding nothing there means the expression never matches, as
 * "0 0 30 2 *" never does.
 *
 * Instants are int64_t seconds since 1970-01-01 00:00:00 UTC, within
 * CRON_INSTANT_LIMIT of it (about 35 million years, far beyond any
 * timestamp PostgreSQL can hold); cron_next refuses others.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTRADE_CRON_H
#define PGTRADE_CRON_H

#include <stdbool.h>
#include <stdint.h>

/* Room for one error sentence, terminator included */
#define CRON_DETAIL_MAX 256

/* Largest distance from 1970 of an instant cron_next accepts, in seconds */
#define CRON_INSTANT_LIMIT (INT64_C(1) << 50)

/*
 * A parsed expression: one bit per allowed value of each field.
 */
typedef struct CronExpr
{
	uint64_t minutes;		/* bit n: minute n, 0-59 */
	uint32_t hours;			/* bit n: hour n, 0-23 */
	uint32_t days;			/* bit n: day of month n, 1-31 */
	uint16_t months;		/* bit n: month n, 1-12 */
	uint8_t	 weekdays;		/* bit n: weekday n, 0-6, 0 = Sunday */
	bool	 days_star;		/* day-of-month text begins with '*' */
	bool	 weekdays_star; /* day-of-week text begins with '*' */
	bool	 fixed;			/* fixed-time rather than wildcard */
} CronExpr;

/*
 * Why an expression was refused.
 */
typedef struct CronError
{
	int	 position;				  /* 1-based byte offset, 0 if none applies */
	char detail[CRON_DETAIL_MAX]; /* one full English sentence */
} CronError;

/*
 * A time zone as the core needs it.  Both callbacks receive arg.
 *
 * offset_at stores in *offset the UTC offset, in seconds east of
 * Greenwich, in effect at instant t; it returns false if the zone cannot
 * tell (t out of its range).
 *
 * next_change stores in *change an instant u > t such that the offset
 * is constant on [t, u), and returns 1; it returns 0 if the offset never
 * changes after t, and -1 on failure.  It may report an instant at which
 * nothing changes (a zone that can only look ahead so far does so), but
 * must never step over a change.
 */
typedef struct CronZone
{
	bool (*offset_at)(void *arg, int64_t t, int32_t *offset);
	int (*next_change)(void *arg, int64_t t, int64_t *change);
	void *arg;
} CronZone;

/* Outcome of a search */
typedef enum CronStatus
{
	CRON_FOUND,		  /* a run time was found */
	CRON_NEVER,		  /* the expression never matches */
	CRON_ZONE_FAILED, /* a CronZone callback failed */
	CRON_OUT_OF_RANGE /* the start lies beyond CRON_INSTANT_LIMIT */
} CronStatus;

extern bool		  cron_parse(const char *text, CronExpr *expr,
							 CronError *error);
extern CronStatus cron_next(const CronExpr *expr, const CronZone *zone,
							int64_t after, int64_t *next);
extern CronStatus cron_matches(const CronExpr *expr, const CronZone *zone,
							   int64_t at, bool *matches);

#endif /* PGTRADE_CRON_H */
