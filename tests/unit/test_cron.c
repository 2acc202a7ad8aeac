/*-------------------------------------------------------------------------
 *
 * test_cron.c
 *	  TAP unit tests of the cron core (extension/src/cron.c).
 *
 * Build and run from the repository root:
 *	  cc -I extension/src tests/unit/test_cron.c extension/src/cron.c \
 *		  -o /tmp/test_cron
 *	  /tmp/test_cron
 *
 * Time zones come from the C library (TZ set per zone, then tzset and
 * localtime_r), which reads the system tz database with its own code,
 * independent of PostgreSQL's; plus fixed offsets.  Instants are written
 * as UTC text and converted with timegm, not with the code under test.
 *
 * Every expected value was worked out by hand from calendar facts cited
 * next to the case.  The facts used throughout:
 *	- 2024-01-01 is a Monday; 2024 is a leap year, so 2024-02-29 (a
 *	  Thursday) exists, 2024-05-01 is a Wednesday (121 days after Jan 1,
 *	  121 = 17 * 7 + 2) and 2024-08-01 a Thursday.
 *	- America/New_York 2024: EST is UTC-5, EDT is UTC-4.  DST starts
 *	  Sunday 2024-03-10 at 02:00 EST = 07:00 UTC (clock jumps to 03:00
 *	  EDT) and ends Sunday 2024-11-03 at 02:00 EDT = 06:00 UTC (clock
 *	  goes back to 01:00 EST, so 01:00-01:59 happens twice: 05:00-05:59
 *	  UTC as EDT and 06:00-06:59 UTC as EST).
 *	- Europe/Berlin 2024: CET is UTC+1, CEST is UTC+2.  DST starts
 *	  2024-03-31 at 01:00 UTC (02:00 CET becomes 03:00 CEST) and ends
 *	  2024-10-27 at 01:00 UTC (03:00 CEST becomes 02:00 CET).
 *
 * The plan line is printed first; the exit status is 1 when a test
 * fails.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"

#define LENGTH(a) ((int) (sizeof(a) / sizeof((a)[0])))
#define DAY INT64_C(86400)

static int test_number;
static int test_failures;

/*
 * Print one TAP line for a check that passed when ok is true.
 */
static void
report(bool ok, const char *fmt, ...)
{
	va_list args;

	test_number++;
	if (!ok)
		test_failures++;
	printf("%sok %d - ", ok ? "" : "not ", test_number);
	va_start(args, fmt);
	vprintf(fmt, args);
	va_end(args);
	putchar('\n');
}

/*
 * Return expr with tabs and newlines written as \t and \n, for TAP
 * descriptions, which must stay on one line.  Uses a static buffer.
 */
static const char *
printable(const char *expr)
{
	static char buf[256];
	size_t		n = 0;

	for (; *expr != '\0' && n < sizeof(buf) - 3; expr++)
	{
		if (*expr == '\t' || *expr == '\n')
		{
			buf[n++] = '\\';
			buf[n++] = (*expr == '\t') ? 't' : 'n';
		}
		else
			buf[n++] = *expr;
	}
	buf[n] = '\0';
	return buf;
}

/*
 * Return the instant written as "YYYY-MM-DD HH:MM[:SS]" UTC.
 */
static int64_t
utc(const char *text)
{
	struct tm tm;
	int		  sec = 0;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(text, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon,
			   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &sec) < 5)
	{
		fprintf(stderr, "bad time in test table: %s\n", text);
		exit(2);
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_sec = sec;
	return (int64_t) timegm(&tm);
}

/*
 * Format instant t as UTC text into buf (at least 32 bytes).
 */
static const char *
show(int64_t t, char *buf)
{
	time_t	  tt = (time_t) t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

/* ---------------------------------------------------------------------
 * Test zones
 * ---------------------------------------------------------------------
 */

/*
 * A test zone: a tz database name read through the C library, or a
 * fixed offset when name is NULL.
 */
typedef struct TestZone
{
	const char *name;
	int32_t		fixed;
	const char *label;
} TestZone;

static TestZone zone_utc = {NULL, 0, "UTC"};
static TestZone zone_kolkata = {NULL, 19800, "UTC+05:30"};
static TestZone zone_new_york = {"America/New_York", 0, "America/New_York"};
static TestZone zone_berlin = {"Europe/Berlin", 0, "Europe/Berlin"};

/*
 * Make name the C library's current zone, calling tzset only on change.
 */
static void
use_tz(const char *name)
{
	static const char *current = NULL;

	if (current != name)
	{
		setenv("TZ", name, 1);
		tzset();
		current = name;
	}
}

/* Report the UTC offset of zone arg at t (CronZone.offset_at). */
static bool
test_offset_at(void *arg, int64_t t, int32_t *offset)
{
	TestZone *zone = arg;
	time_t	  tt = (time_t) t;
	struct tm tm;

	if (zone->name == NULL)
	{
		*offset = zone->fixed;
		return true;
	}
	use_tz(zone->name);
	if (localtime_r(&tt, &tm) == NULL)
		return false;
	*offset = (int32_t) tm.tm_gmtoff;
	return true;
}

/*
 * Find the next offset change of zone arg after t (CronZone.next_change)
 * by stepping a day at a time, then halving the last day down to the
 * second.  Looks at most 400 days ahead and then reports that day as a
 * change, as the interface allows.  Real zones never change twice
 * within a day.
 */
static int
test_next_change(void *arg, int64_t t, int64_t *change)
{
	TestZone *zone = arg;
	int32_t	  first;
	int32_t	  offset;
	int64_t	  lo;
	int64_t	  hi;
	int		  k;

	if (zone->name == NULL)
		return 0;
	test_offset_at(arg, t, &first);
	for (k = 1; k <= 400; k++)
	{
		test_offset_at(arg, t + k * DAY, &offset);
		if (offset != first)
			break;
	}
	if (k > 400)
	{
		*change = t + 400 * DAY;
		return 1;
	}
	lo = t + (k - 1) * DAY;
	hi = t + k * DAY;
	while (hi - lo > 1)
	{
		int64_t mid = lo + (hi - lo) / 2;

		test_offset_at(arg, mid, &offset);
		if (offset == first)
			lo = mid;
		else
			hi = mid;
	}
	*change = hi;
	return 1;
}

/* Return a CronZone reading the test zone z. */
static CronZone
czone(TestZone *z)
{
	CronZone zone = {test_offset_at, test_next_change, z};

	return zone;
}

/* A zone that cannot answer, to test failure reporting. */
static bool
broken_offset_at(void *arg, int64_t t, int32_t *offset)
{
	return false;
}

/* ---------------------------------------------------------------------
 * Parsing: the values each field form sets
 * ---------------------------------------------------------------------
 */

typedef struct ParseCase
{
	const char *expr;
	int			field;	/* 0 minute ... 4 day of week */
	const char *values; /* expected values, blank-separated */
} ParseCase;

static const char *const field_names[] = {
	"minute", "hour", "day of month", "month", "day of week"};

/* Each expected set is the field syntax applied by hand. */
static const ParseCase parse_cases[] = {
	/* a single number; a leading zero is allowed */
	{"7 * * * *", 0, "7"},
	{"05 * * * *", 0, "5"},
	/* a list and a range: 1, 5, then 10 through 12 */
	{"1,5,10-12 * * * *", 0, "1 5 10 11 12"},
	/* star with step 15 from 0: 0, 15, 30, 45 */
	{"*/15 * * * *", 0, "0 15 30 45"},
	/* range with step: 10, 20, ... up to 50 */
	{"10-50/10 * * * *", 0, "10 20 30 40 50"},
	/* "5/10" means 5-59/10: 5, 15, ..., 55 */
	{"5/10 * * * *", 0, "5 15 25 35 45 55"},
	/* 59 is the last minute */
	{"59 * * * *", 0, "59"},
	/* star over 0-23 with step 6 */
	{"0 */6 * * *", 1, "0 6 12 18"},
	/* 9 through 17 every 4 hours: 9, 13, 17 */
	{"0 9-17/4 * * *", 1, "9 13 17"},
	/* days 1 to 31 every 10: 1, 11, 21, 31 */
	{"0 0 1-31/10 * *", 2, "1 11 21 31"},
	/* star for day of month is 1-31 */
	{"0 0 * * *", 2, "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 "
					 "21 22 23 24 25 26 27 28 29 30 31"},
	/* month names in any case: January, July, December */
	{"0 0 * JAN,jul,Dec *", 3, "1 7 12"},
	/* a range of names: March through May */
	{"0 0 * mar-may *", 3, "3 4 5"},
	/* "2/5" means 2-12/5: 2, 7, 12 */
	{"0 0 * 2/5 *", 3, "2 7 12"},
	/* 7 is Sunday, stored as 0 */
	{"0 0 * * 7", 4, "0"},
	/* 5-7 is Friday, Saturday, Sunday */
	{"0 0 * * 5-7", 4, "0 5 6"},
	/* day names in any case, Monday through Friday */
	{"0 0 * * Mon-FRI", 4, "1 2 3 4 5"},
	{"0 0 * * sun,sat", 4, "0 6"},
	/* star over 0-7 with step 7 gives 0 and 7, both Sunday */
	{"0 0 * * */7", 4, "0"},
	/* "mon/2" means 1-7/2: 1, 3, 5, 7 (7 being Sunday, 0) */
	{"0 0 * * mon/2", 4, "0 1 3 5"},
	/* star over day of week is every day */
	{"0 0 * * *", 4, "0 1 2 3 4 5 6"},
	/* blanks of any kind around and between fields */
	{" \t0\t 0  * * 3 \n", 4, "3"},
	/* macros: @hourly is "0 * * * *", @weekly is "0 0 * * 0" */
	{"@hourly", 0, "0"},
	{"@hourly", 1, "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 "
				   "21 22 23"},
	{"@weekly", 4, "0"},
	/* @yearly and @annually are "0 0 1 1 *" */
	{"@yearly", 2, "1"},
	{"@Annually", 3, "1"},
	/* @monthly is "0 0 1 * *" */
	{"@monthly", 2, "1"},
	{"@monthly", 3, "1 2 3 4 5 6 7 8 9 10 11 12"},
	/* @daily and @midnight are "0 0 * * *" */
	{"@daily", 1, "0"},
	{"@MIDNIGHT", 1, "0"}};

/* Return the bits the blank-separated numbers in values stand for. */
static uint64_t
value_bits(const char *values)
{
	uint64_t bits = 0;
	char	*end;

	for (;;)
	{
		long v = strtol(values, &end, 10);

		if (end == values)
			return bits;
		bits |= UINT64_C(1) << v;
		values = end;
	}
}

/* Return field number field of *expr as a bit set. */
static uint64_t
field_bits(const CronExpr *expr, int field)
{
	switch (field)
	{
		case 0:
			return expr->minutes;
		case 1:
			return expr->hours;
		case 2:
			return expr->days;
		case 3:
			return expr->months;
		default:
			return expr->weekdays;
	}
}

/* Check the values every parse case sets. */
static void
run_parse_cases(void)
{
	int i;

	for (i = 0; i < LENGTH(parse_cases); i++)
	{
		const ParseCase *c = &parse_cases[i];
		CronExpr		 expr;
		CronError		 error;
		bool			 parsed = cron_parse(c->expr, &expr, &error);
		uint64_t		 want = value_bits(c->values);

		report(parsed && field_bits(&expr, c->field) == want,
			   "parse \"%s\": %s field is {%s}", printable(c->expr),
			   field_names[c->field], c->values);
		if (!parsed)
			printf("# refused: %s\n", error.detail);
	}
}

/* ---------------------------------------------------------------------
 * Parsing: the kind of expression
 * ---------------------------------------------------------------------
 */

typedef struct KindCase
{
	const char *expr;
	bool		fixed;
	bool		days_star;
	bool		weekdays_star;
} KindCase;

/*
 * Fixed-time means neither minute nor hour text begins with '*'; a day
 * field is unrestricted ("star") when its text begins with '*'.
 */
static const KindCase kind_cases[] = {
	{"30 2 * * *", true, true, true},
	/* minute begins with '*' */
	{"*/15 9 * * *", false, true, true},
	/* hour begins with '*' */
	{"0 */2 * * *", false, true, true},
	/* a full range is still fixed-time: its text has no '*' */
	{"0-59 2 * * *", true, true, true},
	/* day of month "*" followed by a step still counts as star */
	{"0 0 */2 * 5", true, true, false},
	{"0 0 13 * 5", true, false, false},
	{"0 0 13 * *", true, false, true},
	/* the macros: only @hourly ("0 * * * *") is a wildcard */
	{"@hourly", false, true, true},
	{"@daily", true, true, true},
	{"@midnight", true, true, true},
	{"@weekly", true, true, false},
	{"@monthly", true, false, true},
	{"@yearly", true, false, true},
	{"@annually", true, false, true}};

/* Check the flags of every kind case. */
static void
run_kind_cases(void)
{
	int i;

	for (i = 0; i < LENGTH(kind_cases); i++)
	{
		const KindCase *c = &kind_cases[i];
		CronExpr		expr;
		CronError		error;
		bool			parsed = cron_parse(c->expr, &expr, &error);

		report(parsed && expr.fixed == c->fixed &&
				   expr.days_star == c->days_star &&
				   expr.weekdays_star == c->weekdays_star,
			   "kind of \"%s\": %s, day of month %s, day of week %s",
			   c->expr, c->fixed ? "fixed-time" : "wildcard",
			   c->days_star ? "star" : "restricted",
			   c->weekdays_star ? "star" : "restricted");
	}
}

/* ---------------------------------------------------------------------
 * Parsing: errors
 * ---------------------------------------------------------------------
 */

typedef struct ErrorCase
{
	const char *expr;
	int			position; /* 1-based byte, 0 for none */
	const char *detail;
} ErrorCase;

/* Positions counted by hand, 1 for the first byte. */
static const ErrorCase error_cases[] = {
	/* nothing at all */
	{"", 0, "The expression is empty."},
	{" \t ", 0, "The expression is empty."},
	/* wrong field counts */
	{"* * * *", 0,
	 "Expected 5 fields (minute, hour, day of month, month, day of week) but found 4."},
	{"* * * * * *", 0,
	 "Expected 5 fields (minute, hour, day of month, month, day of week) but found 6."},
	/* empty list elements: between commas, at the end of a field */
	{"1,,2 * * * *", 3,
	 "Field \"minute\" has an empty list element at position 3."},
	{"0 1, * * *", 5,
	 "Field \"hour\" has an empty list element at position 5."},
	{",1 * * * *", 1,
	 "Field \"minute\" has an empty list element at position 1."},
	/* values out of range, one per field */
	{"60 * * * *", 1,
	 "Field \"minute\" value 60 at position 1 is out of range 0-59."},
	{"0 24 * * *", 3,
	 "Field \"hour\" value 24 at position 3 is out of range 0-23."},
	{"0 0 0 * *", 5,
	 "Field \"day of month\" value 0 at position 5 is out of range 1-31."},
	{"0 0 32 * *", 5,
	 "Field \"day of month\" value 32 at position 5 is out of range 1-31."},
	{"0 0 * 13 *", 7,
	 "Field \"month\" value 13 at position 7 is out of range 1-12."},
	{"0 0 * * 8", 9,
	 "Field \"day of week\" value 8 at position 9 is out of range 0-7."},
	{"99999999999 * * * *", 1,
	 "Field \"minute\" value 99999999999 at position 1 is out of range 0-59."},
	/* the end of a range is checked too */
	{"0 0 * 1-13 *", 9,
	 "Field \"month\" value 13 at position 9 is out of range 1-12."},
	/* reversed ranges, by number and by name (Friday is 5, Monday 1) */
	{"5-3 * * * *", 1,
	 "Field \"minute\" range 5-3 at position 1 is reversed."},
	{"0 0 * * fri-mon", 9,
	 "Field \"day of week\" range fri-mon at position 9 is reversed."},
	/* steps: zero, and beyond the field's span */
	{"*/0 * * * *", 3,
	 "Field \"minute\" step 0 at position 3 is out of range 1-59."},
	{"0 */24 * * *", 5,
	 "Field \"hour\" step 24 at position 5 is out of range 1-23."},
	/* trailing junk inside a field */
	{"5x * * * *", 2,
	 "Field \"minute\" has unexpected text \"x\" at position 2."},
	{"5-10-15 * * * *", 5,
	 "Field \"minute\" has unexpected text \"-15\" at position 5."},
	{"*-5 * * * *", 2,
	 "Field \"minute\" has unexpected text \"-5\" at position 2."},
	{"1/5x * * * *", 4,
	 "Field \"minute\" has unexpected text \"x\" at position 4."},
	/* names: unknown, or in a field without names */
	{"0 0 * jnu *", 7,
	 "Field \"month\" value \"jnu\" at position 7 is not a month name."},
	{"0 0 * * monday", 9,
	 "Field \"day of week\" value \"monday\" at position 9 is not a day name."},
	{"0 mon * * *", 3,
	 "Field \"hour\" value \"mon\" at position 3 is not a number."},
	/* a long name is quoted up to 32 bytes */
	{"0 0 * * abcdefghijklmnopqrstuvwxyzabcdefghij", 9,
	 "Field \"day of week\" value \"abcdefghijklmnopqrstuvwxyzabcdef...\" at position 9 is not a day name."},
	/* missing numbers */
	{"5- * * * *", 3,
	 "Field \"minute\" expects a number at position 3."},
	{"*/ * * * *", 3,
	 "Field \"minute\" expects a step number at position 3."},
	{"0 0 * ? *", 7,
	 "Field \"month\" expects a number or a month name at position 7."},
	{"0 0 * * -1", 9,
	 "Field \"day of week\" expects a number or a day name at position 9."},
	/* macros */
	{"@reboot", 1,
	 "Unknown macro \"@reboot\" at position 1; the macros are @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly."},
	{"@", 1,
	 "Unknown macro \"@\" at position 1; the macros are @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly."},
	{"@daily now", 8,
	 "Unexpected text \"now\" at position 8 after macro \"@daily\"."}};

/* Check that every error case is refused with its position and detail. */
static void
run_error_cases(void)
{
	int i;

	for (i = 0; i < LENGTH(error_cases); i++)
	{
		const ErrorCase *c = &error_cases[i];
		CronExpr		 expr;
		CronError		 error;
		bool			 parsed = cron_parse(c->expr, &expr, &error);
		bool			 ok;

		ok = !parsed && error.position == c->position &&
			strcmp(error.detail, c->detail) == 0;
		report(ok, "refuse \"%s\" at position %d", printable(c->expr),
			   c->position);
		if (!ok)
			printf("# got %s at %d: %s\n", parsed ? "success" : "refusal",
				   error.position, error.detail);
	}
}

/* ---------------------------------------------------------------------
 * Next run
 * ---------------------------------------------------------------------
 */

typedef struct NextCase
{
	const char *expr;
	TestZone   *zone;
	const char *after;	/* UTC */
	const char *expect; /* UTC, or NULL for "never matches" */
} NextCase;

static const NextCase next_cases[] = {
	/*
	 * UTC: field forms.  2024-05-15 is a Wednesday (May 1 is).
	 */
	/* every minute: the next whole minute, strictly after */
	{"* * * * *", &zone_utc, "2024-05-15 10:20:30", "2024-05-15 10:21"},
	{"* * * * *", &zone_utc, "2024-05-15 10:20", "2024-05-15 10:21"},
	/* minute 5: 10:05 has passed, so 11:05; one second before 10:05 */
	{"5 * * * *", &zone_utc, "2024-05-15 10:20", "2024-05-15 11:05"},
	{"5 * * * *", &zone_utc, "2024-05-15 10:04:59", "2024-05-15 10:05"},
	/* list 0,30 */
	{"0,30 * * * *", &zone_utc, "2024-05-15 10:20", "2024-05-15 10:30"},
	{"0,30 * * * *", &zone_utc, "2024-05-15 10:30", "2024-05-15 11:00"},
	/* range 10-12: after 10:12 the next is 11:10 */
	{"10-12 * * * *", &zone_utc, "2024-05-15 10:12", "2024-05-15 11:10"},
	/* every 15 minutes: after 10:45 comes 11:00 */
	{"*/15 * * * *", &zone_utc, "2024-05-15 10:45", "2024-05-15 11:00"},
	/* 10,20,30,40,50: after 10:31 is 10:40, after 10:50 is 11:10 */
	{"10-50/10 * * * *", &zone_utc, "2024-05-15 10:31", "2024-05-15 10:40"},
	{"10-50/10 * * * *", &zone_utc, "2024-05-15 10:50", "2024-05-15 11:10"},
	/* 5,15,...,55: after 10:56 is 11:05 */
	{"5/10 * * * *", &zone_utc, "2024-05-15 10:56", "2024-05-15 11:05"},
	/* hours 9, 13, 17: after 13:00 is 17:00, after 17:00 next day 09:00 */
	{"0 9-17/4 * * *", &zone_utc, "2024-05-15 13:00", "2024-05-15 17:00"},
	{"0 9-17/4 * * *", &zone_utc, "2024-05-15 17:00", "2024-05-16 09:00"},
	/* days 1 and 15: after May 15 00:00 is June 1 */
	{"0 0 1,15 * *", &zone_utc, "2024-05-15 00:00", "2024-06-01 00:00"},

	/*
	 * UTC: month ends and leap years.
	 */
	/* April has 30 days, so the next 31st after April 1 is May 31 */
	{"0 0 31 * *", &zone_utc, "2024-04-01 00:00", "2024-05-31 00:00"},
	/* June has 30 days: after May 31 comes July 31 */
	{"0 0 31 * *", &zone_utc, "2024-05-31 00:00", "2024-07-31 00:00"},
	/* Feb 29: 2024 is a leap year; 2025-2027 are not, 2028 is */
	{"0 0 29 2 *", &zone_utc, "2023-01-01 00:00", "2024-02-29 00:00"},
	{"0 0 29 2 *", &zone_utc, "2024-03-01 00:00", "2028-02-29 00:00"},
	/* 2100 is divisible by 100 and not 400: no Feb 29 until 2104 */
	{"0 0 29 2 *", &zone_utc, "2096-03-01 00:00", "2104-02-29 00:00"},
	/* year end: Dec 31 23:59 to the next one */
	{"59 23 31 12 *", &zone_utc, "2024-12-31 23:59", "2025-12-31 23:59"},

	/*
	 * UTC: names and Sunday as 0 or 7.
	 */
	/* January has passed on Feb 1, so July 1 noon */
	{"0 12 * jan,JUL *", &zone_utc, "2024-02-01 00:00", "2024-07-01 12:00"},
	/* 2024-05-17 is a Friday (May 1 Wed + 16); next weekday is Mon 20 */
	{"0 12 * * Mon-fri", &zone_utc, "2024-05-17 12:00", "2024-05-20 12:00"},
	/* from Wednesday 2024-05-15, Sunday is the 19th, however written */
	{"0 8 * * 7", &zone_utc, "2024-05-15 00:00", "2024-05-19 08:00"},
	{"0 8 * * 0", &zone_utc, "2024-05-15 00:00", "2024-05-19 08:00"},
	{"0 8 * * SUN", &zone_utc, "2024-05-15 00:00", "2024-05-19 08:00"},
	/* 5-7: Friday 17, Saturday 18, Sunday 19 */
	{"0 8 * * 5-7", &zone_utc, "2024-05-17 08:00", "2024-05-18 08:00"},
	{"0 8 * * 5-7", &zone_utc, "2024-05-18 08:00", "2024-05-19 08:00"},

	/*
	 * UTC: day of month and day of week.  2024-08-01 is a Thursday, so
	 * Aug 10 is a Saturday, Aug 13 a Tuesday, the Fridays are 2, 9, 16,
	 * 23, 30, and Sunday Sep 1 is the first Sunday of September.
	 */
	/* both restricted: the 13th (Tuesday) or a Friday (16th) */
	{"0 0 13 * 5", &zone_utc, "2024-08-10 00:00", "2024-08-13 00:00"},
	{"0 0 13 * 5", &zone_utc, "2024-08-13 00:00", "2024-08-16 00:00"},
	/* day of month begins with '*': odd days that are Fridays, the 23rd */
	{"0 0 */2 * 5", &zone_utc, "2024-08-10 00:00", "2024-08-23 00:00"},
	/* days 1-7 AND Sunday (star with step 7): first Sunday, Sep 1 */
	{"0 0 1-7 * */7", &zone_utc, "2024-08-10 00:00", "2024-09-01 00:00"},
	/* days 1-7 OR Sunday: Sunday Aug 11 */
	{"0 0 1-7 * 0", &zone_utc, "2024-08-10 00:00", "2024-08-11 00:00"},
	/*
	 * Feb 29 AND Sunday.  Leap days move 5 weekdays every 4 years
	 * (1461 = 208 * 7 + 5): Thu 2024, Tue 2028, Sun 2032; then Fri
	 * 2036, Wed 2040, Mon 2044, Sat 2048, Thu 2052, Tue 2056, Sun 2060.
	 */
	{"0 0 29 2 */7", &zone_utc, "2024-03-01 00:00", "2032-02-29 00:00"},
	{"0 0 29 2 */7", &zone_utc, "2032-03-01 00:00", "2060-02-29 00:00"},
	/*
	 * Feb 30 OR Monday: Feb 1 2025 is a Saturday (Jan 1 2025 is a
	 * Wednesday, 2024 having 366 days), so Monday Feb 3.
	 */
	{"0 0 30 2 1", &zone_utc, "2024-05-15 00:00", "2025-02-03 00:00"},

	/*
	 * UTC: macros, from Wednesday 2024-05-15 10:20.
	 */
	{"@yearly", &zone_utc, "2024-05-15 10:20", "2025-01-01 00:00"},
	{"@annually", &zone_utc, "2024-05-15 10:20", "2025-01-01 00:00"},
	{"@monthly", &zone_utc, "2024-05-15 10:20", "2024-06-01 00:00"},
	{"@weekly", &zone_utc, "2024-05-15 10:20", "2024-05-19 00:00"},
	{"@daily", &zone_utc, "2024-05-15 10:20", "2024-05-16 00:00"},
	{"@midnight", &zone_utc, "2024-05-15 10:20", "2024-05-16 00:00"},
	{"@Daily", &zone_utc, "2024-05-15 10:20", "2024-05-16 00:00"},
	{"@hourly", &zone_utc, "2024-05-15 10:20", "2024-05-15 11:00"},

	/*
	 * Never matching: February has no 30th or 31st, the 30-day months
	 * no 31st; with a star day of week the days are AND-ed.
	 */
	{"0 0 30 2 *", &zone_utc, "2024-05-15 00:00", NULL},
	{"0 0 31 4,6,9,11 *", &zone_utc, "2024-05-15 00:00", NULL},
	{"0 0 30 2 */1", &zone_utc, "2024-05-15 00:00", NULL},
	{"0 0 31 2 *", &zone_new_york, "2024-05-15 00:00", NULL},
	{"* * 30 2 *", &zone_new_york, "2024-05-15 00:00", NULL},

	/*
	 * Fixed offset UTC+05:30: 00:00 UTC is 05:30 local.
	 */
	/* 09:00 local is 03:30 UTC */
	{"0 9 * * *", &zone_kolkata, "2024-05-15 00:00", "2024-05-15 03:30"},
	/* 18:30 UTC is local midnight of the 16th; next is the 17th's */
	{"0 0 * * *", &zone_kolkata, "2024-05-15 18:30", "2024-05-16 18:30"},
	/* minutes 0 and 45 local: 05:45 local is 00:15 UTC */
	{"*/45 * * * *", &zone_kolkata, "2024-05-15 00:00", "2024-05-15 00:15"},

	/*
	 * America/New_York, spring forward 2024-03-10 07:00 UTC: local
	 * 02:00-02:59 does not exist.
	 */
	/* an ordinary day: Mar 9 02:30 EST is 07:30 UTC */
	{"30 2 * * *", &zone_new_york, "2024-03-08 12:00", "2024-03-09 07:30"},
	/* fixed-time in the gap: runs at the transition, 03:00 EDT */
	{"30 2 * * *", &zone_new_york, "2024-03-09 12:00", "2024-03-10 07:00"},
	/* and not again that day: Mar 11 02:30 EDT is 06:30 UTC */
	{"30 2 * * *", &zone_new_york, "2024-03-10 07:00", "2024-03-11 06:30"},
	/* two matches in the gap run once, then Mar 11 02:00 EDT */
	{"0,30 2 * * *", &zone_new_york, "2024-03-10 06:00", "2024-03-10 07:00"},
	{"0,30 2 * * *", &zone_new_york, "2024-03-10 07:00", "2024-03-11 06:00"},
	/* a date pinned in the gap still runs, at the transition */
	{"45 2 10 3 *", &zone_new_york, "2024-01-01 00:00", "2024-03-10 07:00"},
	/* just before the gap: 01:59 EST is 06:59 UTC */
	{"59 1 * * *", &zone_new_york, "2024-03-10 05:00", "2024-03-10 06:59"},
	/* just after: 03:00 EDT is 07:00 UTC */
	{"0 3 * * *", &zone_new_york, "2024-03-10 06:00", "2024-03-10 07:00"},
	/* wildcard: 02:30 is skipped, 03:30 EDT is 07:30 UTC */
	{"30 * * * *", &zone_new_york, "2024-03-10 06:30", "2024-03-10 07:30"},
	/* wildcard pinned to hour 2: skipped on Mar 10, Mar 11 02:00 EDT */
	{"*/30 2 * * *", &zone_new_york, "2024-03-09 12:00", "2024-03-11 06:00"},
	/* every minute: 01:59 EST is followed by 03:00 EDT */
	{"* * * * *", &zone_new_york, "2024-03-10 06:59", "2024-03-10 07:00"},

	/*
	 * America/New_York, fall back 2024-11-03 06:00 UTC: local 01:00-01:59
	 * happens at 05:00-05:59 UTC (EDT) and again at 06:00-06:59 (EST).
	 */
	/* fixed-time: the first 01:30, EDT, 05:30 UTC */
	{"30 1 * * *", &zone_new_york, "2024-11-03 00:00", "2024-11-03 05:30"},
	/* not the second 01:30 (06:30 UTC): Nov 4 01:30 EST, 06:30 UTC */
	{"30 1 * * *", &zone_new_york, "2024-11-03 05:30", "2024-11-04 06:30"},
	/* from inside the repeated hour (01:10 EST) as well */
	{"30 1 * * *", &zone_new_york, "2024-11-03 06:10", "2024-11-04 06:30"},
	/* 01:00 first shown at 05:00 UTC; from there the next is Nov 4 */
	{"0 1 * * *", &zone_new_york, "2024-11-03 05:00", "2024-11-04 06:00"},
	/* 02:00 happens once, as EST: 07:00 UTC */
	{"0 2 * * *", &zone_new_york, "2024-11-03 05:30", "2024-11-03 07:00"},
	/* wildcard: the second 01:30, EST, 06:30 UTC */
	{"30 * * * *", &zone_new_york, "2024-11-03 05:30", "2024-11-03 06:30"},
	/* wildcard: both 01:00s run */
	{"0 * * * *", &zone_new_york, "2024-11-03 05:00", "2024-11-03 06:00"},
	/* 01:00,01:20,01:40 twice: after 01:40 EDT comes 01:00 EST */
	{"*/20 1 * * *", &zone_new_york, "2024-11-03 05:40", "2024-11-03 06:00"},
	/* after 01:40 EST, the next day's 01:00 EST (06:00 UTC) */
	{"*/20 1 * * *", &zone_new_york, "2024-11-03 06:40", "2024-11-04 06:00"},

	/*
	 * Europe/Berlin, 2024-03-31 and 2024-10-27 at 01:00 UTC.
	 */
	/* 02:30 does not exist on Mar 31: runs at 03:00 CEST, 01:00 UTC */
	{"30 2 * * *", &zone_berlin, "2024-03-30 12:00", "2024-03-31 01:00"},
	/* Oct 27: the first 02:30 is CEST, 00:30 UTC */
	{"30 2 * * *", &zone_berlin, "2024-10-26 12:00", "2024-10-27 00:30"},
	/* and the next is Oct 28 02:30 CET, 01:30 UTC */
	{"30 2 * * *", &zone_berlin, "2024-10-27 00:30", "2024-10-28 01:30"},
	/* wildcard hour: the second 02:30, CET, is 01:30 UTC */
	{"30 */1 * * *", &zone_berlin, "2024-10-27 00:30", "2024-10-27 01:30"}};

/* Check every next-run case. */
static void
run_next_cases(void)
{
	int i;

	for (i = 0; i < LENGTH(next_cases); i++)
	{
		const NextCase *c = &next_cases[i];
		CronZone		zone = czone(c->zone);
		CronExpr		expr;
		CronError		error;
		CronStatus		status = CRON_ZONE_FAILED;
		int64_t			next = 0;
		bool			ok;
		char			buf[32];

		if (cron_parse(c->expr, &expr, &error))
			status = cron_next(&expr, &zone, utc(c->after), &next);
		if (c->expect == NULL)
			ok = (status == CRON_NEVER);
		else
			ok = (status == CRON_FOUND && next == utc(c->expect));
		report(ok, "next \"%s\" in %s after %s UTC is %s", c->expr,
			   c->zone->label, c->after, c->expect ? c->expect : "never");
		if (!ok)
			printf("# got status %d, %s\n", (int) status, show(next, buf));
	}
}

/* ---------------------------------------------------------------------
 * Runs in a day, by repeated cron_next
 * ---------------------------------------------------------------------
 */

typedef struct CountCase
{
	const char *expr;
	TestZone   *zone;
	const char *from; /* UTC, included */
	const char *to;	  /* UTC, excluded */
	int			runs;
} CountCase;

/*
 * New York's local Mar 10 2024 is 05:00 UTC Mar 10 to 04:00 UTC Mar 11
 * (23 hours); local Nov 3 is 04:00 UTC Nov 3 to 05:00 UTC Nov 4 (25
 * hours).
 */
static const CountCase count_cases[] = {
	/* hourly wildcard: 23 local hours, 23 runs */
	{"0 * * * *", &zone_new_york, "2024-03-10 05:00", "2024-03-11 04:00", 23},
	/*
	 * fixed-time at every hour: 00, 01, then 02 (skipped) at the
	 * transition, which is also when 03:00 is shown, so 02 and 03 share
	 * one run; 04-23 are 20 more: 23
	 */
	{"0 0-23 * * *", &zone_new_york,
	 "2024-03-10 05:00", "2024-03-11 04:00", 23},
	/* four runs an hour for 23 hours */
	{"*/15 * * * *", &zone_new_york,
	 "2024-03-10 05:00", "2024-03-11 04:00", 92},
	/* 02:30 runs once, at the transition */
	{"30 2 * * *", &zone_new_york, "2024-03-10 05:00", "2024-03-11 04:00", 1},
	/* hourly wildcard: 25 local hours, 25 runs */
	{"0 * * * *", &zone_new_york, "2024-11-03 04:00", "2024-11-04 05:00", 25},
	/* fixed-time at every hour: hours 0-23 once each */
	{"0 0-23 * * *", &zone_new_york,
	 "2024-11-03 04:00", "2024-11-04 05:00", 24},
	/* four runs an hour for 25 hours */
	{"*/15 * * * *", &zone_new_york,
	 "2024-11-03 04:00", "2024-11-04 05:00", 100},
	/* 01:30 once */
	{"30 1 * * *", &zone_new_york, "2024-11-03 04:00", "2024-11-04 05:00", 1},
	/* a plain UTC day: 24 hourly runs */
	{"0 * * * *", &zone_utc, "2024-05-15 00:00", "2024-05-16 00:00", 24}};

/* Check the number of runs of every count case. */
static void
run_count_cases(void)
{
	int i;

	for (i = 0; i < LENGTH(count_cases); i++)
	{
		const CountCase *c = &count_cases[i];
		CronZone		 zone = czone(c->zone);
		CronExpr		 expr;
		CronError		 error;
		int64_t			 t = utc(c->from) - 1;
		int64_t			 to = utc(c->to);
		int64_t			 next;
		int				 runs = 0;
		bool			 parsed = cron_parse(c->expr, &expr, &error);

		/* a result not after its start would be a bug: stop counting */
		while (parsed && cron_next(&expr, &zone, t, &next) == CRON_FOUND &&
			   next > t && next < to && runs <= 1440)
		{
			t = next;
			runs++;
		}
		report(parsed && runs == c->runs,
			   "\"%s\" in %s runs %d times from %s to %s UTC", c->expr,
			   c->zone->label, c->runs, c->from, c->to);
		if (runs != c->runs)
			printf("# got %d runs\n", runs);
	}
}

/* ---------------------------------------------------------------------
 * Matching
 * ---------------------------------------------------------------------
 */

typedef struct MatchCase
{
	const char *expr;
	TestZone   *zone;
	const char *at; /* UTC */
	bool		matches;
} MatchCase;

static const MatchCase match_cases[] = {
	/* the gap run at 07:00 UTC (03:00 EDT) counts as a match */
	{"30 2 * * *", &zone_new_york, "2024-03-10 07:00", true},
	/* 03:30 EDT is not 02:30 */
	{"30 2 * * *", &zone_new_york, "2024-03-10 07:30", false},
	/* first 01:30 (EDT) matches, the second (EST) does not */
	{"30 1 * * *", &zone_new_york, "2024-11-03 05:30", true},
	{"30 1 * * *", &zone_new_york, "2024-11-03 06:30", false},
	/* a wildcard matches both */
	{"30 * * * *", &zone_new_york, "2024-11-03 05:30", true},
	{"30 * * * *", &zone_new_york, "2024-11-03 06:30", true},
	/* only whole minutes match */
	{"0 * * * *", &zone_utc, "2024-05-15 10:00", true},
	{"0 * * * *", &zone_utc, "2024-05-15 10:00:30", false},
	/* 2024-02-29 is a Thursday: Thursday matches, Friday does not */
	{"0 0 * * thu", &zone_utc, "2024-02-29 00:00", true},
	{"0 0 * * fri", &zone_utc, "2024-02-29 00:00", false},
	/* an expression that never matches */
	{"0 0 30 2 *", &zone_utc, "2024-02-29 00:00", false}};

/* Check every match case. */
static void
run_match_cases(void)
{
	int i;

	for (i = 0; i < LENGTH(match_cases); i++)
	{
		const MatchCase *c = &match_cases[i];
		CronZone		 zone = czone(c->zone);
		CronExpr		 expr;
		CronError		 error;
		bool			 matches = !c->matches;
		bool			 ok = false;

		if (cron_parse(c->expr, &expr, &error))
			ok = cron_matches(&expr, &zone, utc(c->at), &matches) ==
					CRON_FOUND &&
				matches == c->matches;
		report(ok, "\"%s\" in %s %s at %s UTC", c->expr, c->zone->label,
			   c->matches ? "matches" : "does not match", c->at);
	}
}

/*
 * Check that a start beyond CRON_INSTANT_LIMIT (2^50 s) is refused: the
 * search adds about 400 years to it.
 */
static void
run_range_case(void)
{
	CronZone   zone = czone(&zone_utc);
	CronExpr   expr;
	CronError  error;
	int64_t	   next;
	CronStatus status = CRON_FOUND;

	if (cron_parse("@daily", &expr, &error))
		status = cron_next(&expr, &zone, INT64_MAX - 60, &next);
	report(status == CRON_OUT_OF_RANGE,
		   "a start near the end of int64 is out of range");
}

/* Check that a failing zone is reported, for both kinds. */
static void
run_zone_failure_cases(void)
{
	static const char *const exprs[] = {"30 2 * * *", "*/5 * * * *"};
	CronZone				 zone = {broken_offset_at, test_next_change,
									 &zone_utc};
	int						 i;

	for (i = 0; i < LENGTH(exprs); i++)
	{
		CronExpr  expr;
		CronError error;
		int64_t	  next;
		bool	  parsed = cron_parse(exprs[i], &expr, &error);

		CronStatus status = CRON_FOUND;

		if (parsed)
			status = cron_next(&expr, &zone, utc("2024-05-15 00:00"), &next);
		report(status == CRON_ZONE_FAILED, "\"%s\" reports a failing zone",
			   exprs[i]);
	}
}

int
main(void)
{
	int planned = LENGTH(parse_cases) + LENGTH(kind_cases);

	planned += LENGTH(error_cases) + LENGTH(next_cases);
	planned += LENGTH(count_cases) + LENGTH(match_cases) + 3;
	printf("1..%d\n", planned);
	run_parse_cases();
	run_kind_cases();
	run_error_cases();
	run_next_cases();
	run_count_cases();
	run_match_cases();
	run_range_case();
	run_zone_failure_cases();
	return test_failures > 0 ? 1 : 0;
}
