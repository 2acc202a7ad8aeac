/*-------------------------------------------------------------------------
 *
 * bars_sql.h
 *	  SQL functions of bars_sql.c that other C files call directly.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTRADE_BARS_SQL_H
#define PGTRADE_BARS_SQL_H

#include "fmgr.h"
#include "datatype/timestamp.h"

/* the bars' columns, as bits of pgtrade_read_bars' "columns" */
#define BARS_TS (1 << 0)
#define BARS_OPEN (1 << 1)
#define BARS_HIGH (1 << 2)
#define BARS_LOW (1 << 3)
#define BARS_CLOSE (1 << 4)
#define BARS_VOLUME (1 << 5)
#define BARS_ALL 0x3f
/*
 * Not a column: the columns are to live in pages of their own (a
 * PgtradePages each) instead of palloc'd memory, for a caller that reads
 * them in place and never hands them to SQL as arrays.
 */
#define BARS_OWN_PAGES (1 << 8)

/* the room left before each column read, for an array's header */
#define BARS_ARRAY_HEADER MAXALIGN(sizeof(int32) * 4 + sizeof(int) * 2)

/*
 * Bars read oldest first: n of them, each column asked for an array of n
 * Datums (timestamptz or float8 bits), ts, open, high, low, close, volume
 * in that order; a column not asked for is NULL.
 */
typedef struct PgtradeBars
{
	int	   n;
	Datum *col[6];
	bool   via_view; /* the caller may read only the view pgtrade.bars */
} PgtradeBars;

/* a time before which every bar of the size ended before "from" */
extern TimestampTz pgtrade_bars_floor(TimestampTz from, const Interval *size);

/* the bars of an instrument and size (bars_sql.c) */
extern bool pgtrade_read_bars(int64 instrument, Interval *size,
							  TimestampTz before, int32 limit,
							  TimestampTz floor_ts, int beyond,
							  int columns, PgtradeBars *out);

/* pgtrade.bar_end(ts, bar_size, time_zone, session_close) */
extern Datum pgtrade_bar_end(PG_FUNCTION_ARGS);

/*
 * Memory of its own pages, for large buffers that grow (bars_sql.c):
 * growing moves the pages (mremap) instead of copying their contents,
 * and it is given back when the memory context it was made in is reset
 * or deleted.
 */
typedef struct PgtradePages PgtradePages;

extern PgtradePages *pgtrade_pages_create(void);
extern void			*pgtrade_pages_resize(PgtradePages *pages, Size size);

/*
 * A zone's offset from UTC, kept with the span of times it holds for:
 * from the time it was looked up at to the zone's next transition after
 * that (or for good).  Zeroed, it holds nothing.
 */
typedef struct PgtradeZoneSpan
{
	bool  valid;
	bool  forever;
	int64 from;	 /* seconds since the Unix epoch */
	int64 until; /* the next transition */
	int	  tz;	 /* seconds west of Greenwich, as timestamp2tm gives */
} PgtradeZoneSpan;

/* bar_end with its size, zone and close prepared once (bars_sql.c) */
typedef struct PgtradeBarEnd
{
	Datum			size;  /* interval */
	Datum			zone;  /* text */
	Datum			close; /* time */
	bool			daily; /* a day or more */
	Interval	   *extra; /* size less a day, for a daily size */
	struct pg_tz   *tz;	   /* the zone by full name, or NULL */
	PgtradeZoneSpan span;  /* pgtrade_bar_end_span's, of tz */
} PgtradeBarEnd;

/* resolves the zone once */
extern void pgtrade_bar_end_prepare(PgtradeBarEnd *be, Datum size,
									Datum zone, Datum close);

/* bar_end(ts, size, zone, close), as the SQL function */
extern TimestampTz pgtrade_bar_end_at(const PgtradeBarEnd *be, TimestampTz ts);

/* t's offset in zone (as timestamp2tm gives it); false when out of range */
extern bool pgtrade_zone_offset(PgtradeZoneSpan *z, struct pg_tz *zone,
								TimestampTz t, int *tz);

/* pgtrade_bar_end_at, for times that mostly go forward: be->span kept */
extern TimestampTz pgtrade_bar_end_span(PgtradeBarEnd *be, TimestampTz ts);

#endif /* PGTRADE_BARS_SQL_H */
