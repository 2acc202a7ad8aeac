/*-------------------------------------------------------------------------
 *
 * cron.c
 *	  Parse cron expressions and find the next instant they match.
 *
 * The parser turns text into bit sets (CronExpr) and stops at the first
 * problem, described in one sentence that names the field and the
 * 1-based byte position.
 *
 * The search works on "local seconds": seconds since 1970-01-01 00:00 of
 * the zone's wall clock, counted as if the zone were UTC.  The calendar
 * search (cron_local_next) finds matching local minutes by skipping
 * whole months, days and hours; the zone walkers split real time into
 * segments of constant UTC offset and map local minutes back to
 * instants under the daylight-saving rule stated in cron.h.
 *
 * Nothing here allocates memory or keeps global state; the functions
 * are reentrant.
 *
 *-------------------------------------------------------------------------
 */
#include "cron.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CRON_SECS_PER_DAY INT64_C(86400)
#define CRON_TIME_MAX INT64_MAX

/* Days from 0001-01-01 to 1970-01-01 in the proleptic Gregorian calendar */
#define CRON_EPOCH_DAYS INT64_C(719162)

/* One Gregorian cycle, after which weekdays and dates repeat */
#define CRON_CYCLE_DAYS INT64_C(146097)

/* Search span: one cycle plus two days of slack for UTC offsets */
#define CRON_HORIZON ((CRON_CYCLE_DAYS + 2) * CRON_SECS_PER_DAY)

/* How far back to look for a fall-back overlap still in progress */
#define CRON_LOOKBACK (7 * CRON_SECS_PER_DAY)

/* Longest piece of the expression quoted in an error sentence */
#define CRON_QUOTE_MAX 32

/* Let the compiler check the format strings of error sentences */
#if defined(__GNUC__)
#define CRON_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CRON_PRINTF(f, a)
#endif

typedef enum CronFieldId
{
	CRON_MINUTE,
	CRON_HOUR,
	CRON_DAY,
	CRON_MONTH,
	CRON_WEEKDAY,
	CRON_NFIELDS
} CronFieldId;

/*
 * What a field accepts.
 */
typedef struct CronField
{
	const char		  *name; /* as shown in error sentences */
	int				   min;
	int				   max;
	const char *const *names;	   /* three-letter names, or NULL */
	int				   first_name; /* value of names[0] */
	int				   nnames;
	const char		  *what;	  /* what a value may be, for sentences */
	const char		  *name_what; /* what a name may be, for sentences */
} CronField;

static const char *const cron_month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec"};

static const char *const cron_day_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static const CronField cron_fields[CRON_NFIELDS] = {
	{"minute", 0, 59, NULL, 0, 0, "a number", "a number"},
	{"hour", 0, 23, NULL, 0, 0, "a number", "a number"},
	{"day of month", 1, 31, NULL, 0, 0, "a number", "a number"},
	{"month", 1, 12, cron_month_names, 1, 12,
	 "a number or a month name", "a month name"},
	{"day of week", 0, 7, cron_day_names, 0, 7,
	 "a number or a day name", "a day name"}};

/*
 * A macro and the five fields it stands for.
 */
typedef struct CronMacro
{
	const char *name;
	const char *fields;
} CronMacro;

static const CronMacro cron_macros[] = {
	{"@yearly", "0 0 1 1 *"},
	{"@annually", "0 0 1 1 *"},
	{"@monthly", "0 0 1 * *"},
	{"@weekly", "0 0 * * 0"},
	{"@daily", "0 0 * * *"},
	{"@midnight", "0 0 * * *"},
	{"@hourly", "0 * * * *"}};

/*
 * Parser state: the whole text (positions are relative to it) and where
 * to describe a failure.
 */
typedef struct CronParser
{
	const char *text;
	CronError  *error;
} CronParser;

/*
 * A local wall-clock minute, broken down.
 */
typedef struct CronTm
{
	int64_t year;
	int		month; /* 1-12 */
	int		day;   /* 1-31 */
	int		hour;
	int		minute;
} CronTm;

/*
 * A stretch of real time, from the instant it was looked up at to end
 * (excluded), with one UTC offset; end is CRON_TIME_MAX when the offset
 * never changes again.
 */
typedef struct CronSegment
{
	int64_t end;
	int32_t offset;
} CronSegment;

/* ---------------------------------------------------------------------
 * Characters and arithmetic
 * ---------------------------------------------------------------------
 */

/* Report whether c is a blank separating fields (ASCII white space). */
static bool
cron_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\v' || c == '\f';
}

/* Report whether c is an ASCII digit. */
static bool
cron_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Report whether c is an ASCII letter. */
static bool
cron_is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Return c in lower case if it is an ASCII capital letter. */
static char
cron_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

/* Return the first character at or after p that is not a blank. */
static const char *
cron_skip_blanks(const char *p)
{
	while (*p != '\0' && cron_is_blank(*p))
		p++;
	return p;
}

/* Return the end of the blank-delimited token starting at p. */
static const char *
cron_token_end(const char *p)
{
	while (*p != '\0' && !cron_is_blank(*p))
		p++;
	return p;
}

/* Divide rounding toward minus infinity (b > 0). */
static int64_t
cron_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Return a modulo b in [0, b) (b > 0). */
static int64_t
cron_floor_mod(int64_t a, int64_t b)
{
	return a - cron_floor_div(a, b) * b;
}

/* ---------------------------------------------------------------------
 * Error sentences
 * ---------------------------------------------------------------------
 */

/*
 * Copy the bytes [start, end) into buf (of size CRON_QUOTE_MAX + 4) for
 * quoting.  A longer piece is cut before an ASCII byte, so that no
 * multibyte character of any server encoding is split, and marked "...".
 */
static const char *
cron_quote(char *buf, const char *start, const char *end)
{
	size_t len = (size_t) (end - start);
	bool   cut = false;

	if (len > CRON_QUOTE_MAX)
	{
		len = CRON_QUOTE_MAX;
		while (len > 0 && (unsigned char) start[len] >= 0x80)
			len--;
		cut = true;
	}
	memcpy(buf, start, len);
	strcpy(buf + len, cut ? "..." : "");
	return buf;
}

static bool cron_fail(const CronParser *ps, const char *at,
					  const char *fmt, ...) CRON_PRINTF(3, 4);

/*
 * Describe a parse failure at byte at (NULL when no position applies)
 * and return false, so callers can write "return cron_fail(...)".  The
 * sentence is formatted from fmt and its arguments; callers that name a
 * position in it pass cron_pos(ps, at) themselves.
 */
static bool
cron_fail(const CronParser *ps, const char *at, const char *fmt, ...)
{
	va_list args;

	ps->error->position = at ? (int) (at - ps->text) + 1 : 0;
	va_start(args, fmt);
	vsnprintf(ps->error->detail, CRON_DETAIL_MAX, fmt, args);
	va_end(args);
	return false;
}

/* Return the 1-based position of p in the parsed text. */
static int
cron_pos(const CronParser *ps, const char *p)
{
	return (int) (p - ps->text) + 1;
}

/* ---------------------------------------------------------------------
 * Parser
 * ---------------------------------------------------------------------
 */

/*
 * Read digits at *pp (before end) into *value, saturating at a value no
 * field accepts, and advance *pp past them.
 */
static void
cron_read_number(const char **pp, const char *end, int *value)
{
	const char *p = *pp;
	int			v = 0;

	while (p < end && cron_is_digit(*p))
	{
		if (v < 10000)
			v = v * 10 + (*p - '0');
		p++;
	}
	*value = v;
	*pp = p;
}

/*
 * Look up the letters [start, end) among the field's names, in any case.
 * Returns the value named, or -1.
 */
static int
cron_lookup_name(const CronField *f, const char *start, const char *end)
{
	int i;

	if (f->names == NULL || end - start != 3)
		return -1;
	for (i = 0; i < f->nnames; i++)
	{
		const char *name = f->names[i];

		if (cron_lower(start[0]) == name[0] &&
			cron_lower(start[1]) == name[1] &&
			cron_lower(start[2]) == name[2])
			return f->first_name + i;
	}
	return -1;
}

/*
 * Parse one value (a number or a name) of field fid at *pp, store it in
 * *value and advance *pp.  Returns false after describing the problem.
 */
static bool
cron_parse_value(const CronParser *ps, int fid, const char **pp,
				 const char *end, int *value)
{
	const CronField *f = &cron_fields[fid];
	const char		*start = *pp;
	const char		*p = start;
	char			 quoted[CRON_QUOTE_MAX + 4];

	if (p < end && cron_is_digit(*p))
	{
		cron_read_number(&p, end, value);
		if (*value < f->min || *value > f->max)
			return cron_fail(ps, start,
							 "Field \"%s\" value %s at position %d is out of range %d-%d.",
							 f->name, cron_quote(quoted, start, p),
							 cron_pos(ps, start), f->min, f->max);
	}
	else if (p < end && cron_is_letter(*p))
	{
		while (p < end && cron_is_letter(*p))
			p++;
		*value = cron_lookup_name(f, start, p);
		if (*value < 0)
			return cron_fail(ps, start,
							 "Field \"%s\" value \"%s\" at position %d is not %s.",
							 f->name, cron_quote(quoted, start, p),
							 cron_pos(ps, start), f->name_what);
	}
	else
		return cron_fail(ps, start, "Field \"%s\" expects %s at position %d.",
						 f->name, f->what, cron_pos(ps, start));
	*pp = p;
	return true;
}

/*
 * Parse the step number of field fid at *pp (just after the '/') into
 * *step and advance *pp.  Returns false after describing the problem.
 */
static bool
cron_parse_step(const CronParser *ps, int fid, const char **pp,
				const char *end, int *step)
{
	const CronField *f = &cron_fields[fid];
	const char		*start = *pp;
	char			 quoted[CRON_QUOTE_MAX + 4];

	if (start >= end || !cron_is_digit(*start))
		return cron_fail(ps, start,
						 "Field \"%s\" expects a step number at position %d.",
						 f->name, cron_pos(ps, start));
	cron_read_number(pp, end, step);
	if (*step < 1 || *step > f->max - f->min)
		return cron_fail(ps, start,
						 "Field \"%s\" step %s at position %d is out of range 1-%d.",
						 f->name, cron_quote(quoted, start, *pp),
						 cron_pos(ps, start), f->max - f->min);
	return true;
}

/*
 * Parse one list element [p, end) of field fid ("*", "a", "a-b", each
 * optionally with "/step") and set its values in *bits.
 */
static bool
cron_parse_element(const CronParser *ps, int fid, const char *p,
				   const char *end, uint64_t *bits)
{
	const CronField *f = &cron_fields[fid];
	const char		*start = p;
	char			 quoted[CRON_QUOTE_MAX + 4];
	int				 lo;
	int				 hi;
	int				 step = 1;
	bool			 single = false;

	if (*p == '*')
	{
		lo = f->min;
		hi = f->max;
		p++;
	}
	else
	{
		if (!cron_parse_value(ps, fid, &p, end, &lo))
			return false;
		hi = lo;
		single = true;
		if (p < end && *p == '-')
		{
			p++;
			if (!cron_parse_value(ps, fid, &p, end, &hi))
				return false;
			single = false;
			if (lo > hi)
				return cron_fail(ps, start,
								 "Field \"%s\" range %s at position %d is reversed.",
								 f->name, cron_quote(quoted, start, p),
								 cron_pos(ps, start));
		}
	}
	if (p < end && *p == '/')
	{
		p++;
		if (!cron_parse_step(ps, fid, &p, end, &step))
			return false;
		if (single)
			hi = f->max;
	}
	if (p < end)
		return cron_fail(ps, p,
						 "Field \"%s\" has unexpected text \"%s\" at position %d.",
						 f->name, cron_quote(quoted, p, end), cron_pos(ps, p));
	for (; lo <= hi; lo += step)
		*bits |= UINT64_C(1) << lo;
	return true;
}

/*
 * Parse field fid, the text [start, end), into its bit set in *expr.
 */
static bool
cron_parse_field(const CronParser *ps, int fid, const char *start,
				 const char *end, CronExpr *expr)
{
	const char *p = start;
	uint64_t	bits = 0;

	for (;;)
	{
		const char *comma = memchr(p, ',', (size_t) (end - p));

		if (comma == NULL)
			comma = end;
		if (comma == p)
			return cron_fail(ps, p,
							 "Field \"%s\" has an empty list element at position %d.",
							 cron_fields[fid].name, cron_pos(ps, p));
		if (!cron_parse_element(ps, fid, p, comma, &bits))
			return false;
		if (comma == end)
			break;
		p = comma + 1;
	}

	switch ((CronFieldId) fid)
	{
		case CRON_MINUTE:
			expr->minutes = bits;
			break;
		case CRON_HOUR:
			expr->hours = (uint32_t) bits;
			break;
		case CRON_DAY:
			expr->days = (uint32_t) bits;
			break;
		case CRON_MONTH:
			expr->months = (uint16_t) bits;
			break;
		default:
			/* 7 is Sunday, like 0 */
			expr->weekdays = (uint8_t) ((bits | (bits >> 7)) & 0x7f);
			break;
	}
	return true;
}

/*
 * Parse a macro starting at p (which points at '@') into *expr.
 */
static bool
cron_parse_macro(const CronParser *ps, const char *p, CronExpr *expr)
{
	const char		*end = cron_token_end(p);
	const char		*rest = cron_skip_blanks(end);
	const CronMacro *macro = NULL;
	char			 quoted[CRON_QUOTE_MAX + 4];
	size_t			 i;

	for (i = 0; i < sizeof(cron_macros) / sizeof(cron_macros[0]); i++)
	{
		const char *name = cron_macros[i].name;
		size_t		len = strlen(name);
		size_t		j;

		if ((size_t) (end - p) != len)
			continue;
		for (j = 0; j < len && cron_lower(p[j]) == name[j]; j++)
			;
		if (j == len)
			macro = &cron_macros[i];
	}
	if (macro == NULL)
		return cron_fail(ps, p,
						 "Unknown macro \"%s\" at position %d; the macros are @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly.",
						 cron_quote(quoted, p, end), cron_pos(ps, p));
	if (*rest != '\0')
		return cron_fail(ps, rest,
						 "Unexpected text \"%s\" at position %d after macro \"%s\".",
						 cron_quote(quoted, rest, cron_token_end(rest)),
						 cron_pos(ps, rest), macro->name);
	return cron_parse(macro->fields, expr, ps->error);
}

/*
 * Parse text into *expr.  On failure return false and describe the first
 * problem in *error; *expr is then unspecified.
 */
bool
cron_parse(const char *text, CronExpr *expr, CronError *error)
{
	CronParser	ps = {text, error};
	const char *starts[CRON_NFIELDS];
	const char *ends[CRON_NFIELDS];
	const char *p = cron_skip_blanks(text);
	int			nfields = 0;
	int			fid;

	memset(expr, 0, sizeof(*expr));
	error->position = 0;
	error->detail[0] = '\0';
	if (*p == '\0')
		return cron_fail(&ps, NULL, "The expression is empty.");
	if (*p == '@')
		return cron_parse_macro(&ps, p, expr);

	for (; *p != '\0'; p = cron_skip_blanks(p))
	{
		if (nfields < CRON_NFIELDS)
		{
			starts[nfields] = p;
			ends[nfields] = cron_token_end(p);
		}
		nfields++;
		p = cron_token_end(p);
	}
	if (nfields != CRON_NFIELDS)
		return cron_fail(&ps, NULL,
						 "Expected 5 fields (minute, hour, day of month, month, day of week) but found %d.",
						 nfields);

	for (fid = 0; fid < CRON_NFIELDS; fid++)
		if (!cron_parse_field(&ps, fid, starts[fid], ends[fid], expr))
			return false;
	expr->days_star = (*starts[CRON_DAY] == '*');
	expr->weekdays_star = (*starts[CRON_WEEKDAY] == '*');
	expr->fixed = (*starts[CRON_MINUTE] != '*' && *starts[CRON_HOUR] != '*');
	return true;
}

/* ---------------------------------------------------------------------
 * Calendar
 * ---------------------------------------------------------------------
 */

/* Report whether year is a Gregorian leap year. */
static bool
cron_is_leap(int64_t year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* Return the number of days in month (1-12) of year. */
static int
cron_month_days(int64_t year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30,
								 31, 31, 30, 31, 30, 31};

	return days[month - 1] + (month == 2 && cron_is_leap(year));
}

/*
 * Return the days from 1970-01-01 to the proleptic Gregorian date
 * year-month-day (negative before it): whole years since 0001-01-01,
 * with their leap days, plus the days before month in year.
 */
static int64_t
cron_days_from_date(int64_t year, int month, int day)
{
	static const int before[12] = {0, 31, 59, 90, 120, 151,
								   181, 212, 243, 273, 304, 334};
	int64_t			 y = year - 1;
	int64_t			 days;

	days = 365 * y + cron_floor_div(y, 4) - cron_floor_div(y, 100) +
		cron_floor_div(y, 400);
	days += before[month - 1] + (month > 2 && cron_is_leap(year)) + day - 1;
	return days - CRON_EPOCH_DAYS;
}

/*
 * Break local seconds, a whole minute, into *tm.  The year is estimated
 * from the mean Gregorian year and then corrected by whole years.
 */
static void
cron_split(int64_t local, CronTm *tm)
{
	int64_t days = cron_floor_div(local, CRON_SECS_PER_DAY);
	int64_t secs = local - days * CRON_SECS_PER_DAY;
	int64_t year = 1970 + cron_floor_div(days * 400, CRON_CYCLE_DAYS);
	int64_t left;
	int		month = 1;

	while (cron_days_from_date(year, 1, 1) > days)
		year--;
	while (cron_days_from_date(year + 1, 1, 1) <= days)
		year++;
	left = days - cron_days_from_date(year, 1, 1);
	while (left >= cron_month_days(year, month))
		left -= cron_month_days(year, month++);

	tm->year = year;
	tm->month = month;
	tm->day = (int) left + 1;
	tm->hour = (int) (secs / 3600);
	tm->minute = (int) (secs % 3600 / 60);
}

/* Return the local seconds of the minute *tm. */
static int64_t
cron_join(const CronTm *tm)
{
	return cron_days_from_date(tm->year, tm->month, tm->day) *
		CRON_SECS_PER_DAY +
		tm->hour * 3600 + tm->minute * 60;
}

/* Move *tm to midnight of the next day. */
static void
cron_next_day(CronTm *tm)
{
	tm->hour = 0;
	tm->minute = 0;
	if (++tm->day > cron_month_days(tm->year, tm->month))
	{
		tm->day = 1;
		if (++tm->month > 12)
		{
			tm->month = 1;
			tm->year++;
		}
	}
}

/* Return the lowest set bit of mask in [from, max], or -1. */
static int
cron_next_bit(uint64_t mask, int from, int max)
{
	int v;

	for (v = from; v <= max; v++)
		if (mask & (UINT64_C(1) << v))
			return v;
	return -1;
}

/*
 * Report whether the date in *tm passes the day-of-month and day-of-week
 * fields: either one when both are restricted, both otherwise.
 */
static bool
cron_day_matches(const CronExpr *expr, const CronTm *tm)
{
	int64_t days = cron_days_from_date(tm->year, tm->month, tm->day);

	/* 1970-01-01, day 0, was a Thursday (weekday 4) */
	int	 weekday = (int) cron_floor_mod(days + 4, 7);
	bool by_day = (expr->days >> tm->day) & 1;
	bool by_weekday = (expr->weekdays >> weekday) & 1;

	if (expr->days_star || expr->weekdays_star)
		return by_day && by_weekday;
	return by_day || by_weekday;
}

/*
 * Find the first matching local minute w with from <= w < limit, where
 * from is a whole minute.  Each step jumps to the next candidate month,
 * day, hour or minute, so a year costs at most a few hundred steps.
 */
static bool
cron_local_next(const CronExpr *expr, int64_t from, int64_t limit,
				int64_t *found)
{
	CronTm tm;

	cron_split(from, &tm);
	for (;;)
	{
		int64_t w = cron_join(&tm);
		int		v;

		if (w >= limit)
			return false;
		if ((v = cron_next_bit(expr->months, tm.month, 12)) != tm.month)
		{
			if (v < 0)
			{
				tm.year++;
				v = cron_next_bit(expr->months, 1, 12);
			}
			tm.month = v;
			tm.day = 1;
			tm.hour = tm.minute = 0;
		}
		else if (!cron_day_matches(expr, &tm))
			cron_next_day(&tm);
		else if ((v = cron_next_bit(expr->hours, tm.hour, 23)) != tm.hour)
		{
			if (v < 0)
				cron_next_day(&tm);
			else
			{
				tm.hour = v;
				tm.minute = 0;
			}
		}
		else if ((v = cron_next_bit(expr->minutes, tm.minute, 59)) < 0)
		{
			tm.minute = 0;
			if (++tm.hour > 23)
				cron_next_day(&tm);
		}
		else if (v != tm.minute)
			tm.minute = v;
		else
		{
			*found = w;
			return true;
		}
	}
}

/* ---------------------------------------------------------------------
 * Time zone walk
 * ---------------------------------------------------------------------
 */

/* Fill *seg with the constant-offset stretch of zone starting at t. */
static bool
cron_segment_at(const CronZone *zone, int64_t t, CronSegment *seg)
{
	int r;

	if (!zone->offset_at(zone->arg, t, &seg->offset))
		return false;
	r = zone->next_change(zone->arg, t, &seg->end);
	if (r < 0 || (r > 0 && seg->end <= t))
		return false;
	if (r == 0)
		seg->end = CRON_TIME_MAX;
	return true;
}

/*
 * Store in *high the latest local time the clock has shown at or before
 * the instant after.  It exceeds the local time at after only while the
 * clock repeats an hour after falling back.
 */
static bool
cron_high_water(const CronZone *zone, int64_t after, int64_t *high)
{
	int64_t		t = after - CRON_LOOKBACK;
	CronSegment seg;

	*high = INT64_MIN;
	for (;;)
	{
		if (!cron_segment_at(zone, t, &seg))
			return false;
		if (seg.end > after)
			break;
		if (seg.end - 1 + seg.offset > *high)
			*high = seg.end - 1 + seg.offset;
		t = seg.end;
	}
	if (after + seg.offset > *high)
		*high = after + seg.offset;
	return true;
}

/*
 * Store in *next the first instant after the instant after at which the
 * local clock reads w or later.  The caller guarantees that the clock
 * read less than w up to after.
 */
static CronStatus
cron_first_reach(const CronZone *zone, int64_t after, int64_t w,
				 int64_t *next)
{
	int64_t		t = after + 1;
	CronSegment seg;

	for (;;)
	{
		if (!cron_segment_at(zone, t, &seg))
			return CRON_ZONE_FAILED;
		if (t + seg.offset >= w)
		{
			/* w was skipped by the jump that starts this segment */
			*next = t;
			return CRON_FOUND;
		}
		if (seg.end == CRON_TIME_MAX || w < seg.end + seg.offset)
		{
			*next = w - seg.offset;
			return CRON_FOUND;
		}
		t = seg.end;
	}
}

/*
 * Find the next run of a fixed-time expression: the first matching local
 * minute the clock has not yet shown, at the instant it first shows it
 * or passes it.
 */
static CronStatus
cron_next_fixed(const CronExpr *expr, const CronZone *zone, int64_t after,
				int64_t *next)
{
	int64_t high;
	int64_t from;
	int64_t w;

	if (!cron_high_water(zone, after, &high))
		return CRON_ZONE_FAILED;
	from = cron_floor_div(high, 60) * 60 + 60;
	if (!cron_local_next(expr, from, from + CRON_HORIZON, &w))
		return CRON_NEVER;
	return cron_first_reach(zone, after, w, next);
}

/*
 * Find the next run of a wildcard expression: the first instant after
 * the instant after whose local time is a matching whole minute.
 */
static CronStatus
cron_next_wildcard(const CronExpr *expr, const CronZone *zone,
				   int64_t after, int64_t *next)
{
	int64_t		limit = after + CRON_HORIZON;
	int64_t		t = after + 1;
	CronSegment seg;

	while (t < limit)
	{
		int64_t end;
		int64_t w;

		if (!cron_segment_at(zone, t, &seg))
			return CRON_ZONE_FAILED;
		end = seg.end < limit ? seg.end : limit;
		if (cron_local_next(expr,
							cron_floor_div(t + seg.offset + 59, 60) * 60,
							end + seg.offset, &w))
		{
			*next = w - seg.offset;
			return CRON_FOUND;
		}
		t = end;
	}
	return CRON_NEVER;
}

/*
 * Find the first run of expr strictly after the instant after, in zone,
 * under the rules stated in cron.h, and store it in *next.
 */
CronStatus
cron_next(const CronExpr *expr, const CronZone *zone, int64_t after,
		  int64_t *next)
{
	/* keeps every sum below, horizon included, far from overflow */
	if (after < -CRON_INSTANT_LIMIT || after > CRON_INSTANT_LIMIT)
		return CRON_OUT_OF_RANGE;
	if (expr->fixed)
		return cron_next_fixed(expr, zone, after, next);
	return cron_next_wildcard(expr, zone, after, next);
}

/*
 * Set *matches to whether expr runs at the instant at, defined as
 * cron_next(expr, zone, at - 60) finding exactly at.  An expression that
 * never matches does not match.
 */
CronStatus
cron_matches(const CronExpr *expr, const CronZone *zone, int64_t at,
			 bool *matches)
{
	int64_t	   next = 0;
	CronStatus status = cron_next(expr, zone, at - 60, &next);

	*matches = (status == CRON_FOUND && next == at);
	return (status == CRON_NEVER) ? CRON_FOUND : status;
}
