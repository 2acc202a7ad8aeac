/*-------------------------------------------------------------------------
 *
 * bars_sql.c
 *	  The newest bars of an instrument before a time, read straight from
 *	  the bar table's primary key.
 *
 * Every run reads the bars that had ended by its time: the newest n of
 * one instrument and size whose start is before a bound, oldest first.
 * A query with array_agg does the same with a sort and six aggregates
 * per run; here one backward scan of bar_pkey fills the six arrays, which
 * is what lets the scheduler load hundreds of strategies' bars in a few
 * milliseconds.  The key carries the prices and the volume (INCLUDE), so
 * that a bar on a heap page the visibility map marks all-visible is read
 * from the key alone, as an index-only scan reads it: an instrument's
 * bars lie together in the key, while in the heap each lies on a page of
 * its own day.  Other bars (newer than the last vacuum, or updated) are
 * read from the heap and checked against the snapshot.  The scan reads
 * with the caller's snapshot and checks the caller's SELECT right on the
 * table or on the view pgtrade.bars (which shows every bar: readers are
 * given the view); the table has no row security (bars are market data,
 * not an account's).
 *
 * Only a plain table has one index to scan.  A bar table partitioned
 * (by time, say) is read by a query instead: the planner leaves out the
 * partitions that start at or after the bound and reads the others' keys
 * backward (merged, or newest partition first when there is no default
 * partition), so the answer is the same.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/mman.h>
#include <unistd.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/visibilitymap.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/scansup.h"
#include "pgtime.h"
#include "storage/bufmgr.h"
#include "storage/predicate.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "bars_sql.h"

PG_FUNCTION_INFO_V1(pgtrade_recent_bars);
PG_FUNCTION_INFO_V1(pgtrade_period_bars);
PG_FUNCTION_INFO_V1(pgtrade_bars_floor_sql);
PG_FUNCTION_INFO_V1(pgtrade_bar_end);

/* the bar table's columns, in the order of its definition */
enum
{
	BAR_INSTRUMENT = 1,
	BAR_SIZE,
	BAR_TS,
	BAR_OPEN,
	BAR_HIGH,
	BAR_LOW,
	BAR_CLOSE,
	BAR_VOLUME
};

#define BAR_VALUES 6 /* ts, open, high, low, close, volume */

static const char *const bar_columns[] = {
	"instrument_id", "bar_size", "ts", "open", "high", "low", "close",
	"volume"};

/*
 * Checks that the table is the one this code reads: the columns where it
 * expects them, and a primary key on (instrument_id, bar_size, ts).
 * Returns the key's OID, and sets *covering when the key includes open,
 * high, low, close and volume, in that order, after its three columns.
 */
static Oid
check_bar_table(Relation rel, bool *covering)
{
	TupleDesc desc = RelationGetDescr(rel);
	Oid		  pk = RelationGetPrimaryKeyIndex(rel);
	Relation  idx;
	bool	  ok;
	int		  i;

	for (i = 0; i < (int) lengthof(bar_columns); i++)
	{
		Form_pg_attribute att;

		if (i >= desc->natts)
			break;
		att = TupleDescAttr(desc, i);
		if (att->attisdropped || strcmp(NameStr(att->attname), bar_columns[i]) != 0)
			break;
	}
	if (i < (int) lengthof(bar_columns) || !OidIsValid(pk))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table pgtrade.bar is not as recent_bars expects"),
				 errdetail("It must begin with instrument_id, bar_size, ts, "
						   "open, high, low, close, volume, "
						   "keyed on the first three.")));

	idx = index_open(pk, AccessShareLock);
	ok = idx->rd_index->indnkeyatts == 3 &&
		idx->rd_index->indkey.values[0] == BAR_INSTRUMENT &&
		idx->rd_index->indkey.values[1] == BAR_SIZE &&
		idx->rd_index->indkey.values[2] == BAR_TS &&
		idx->rd_rel->relam == BTREE_AM_OID;
	*covering = ok && idx->rd_index->indnatts == 3 + BAR_VALUES - 1;
	for (i = 0; *covering && i < BAR_VALUES - 1; i++)
		*covering = idx->rd_index->indkey.values[3 + i] == BAR_OPEN + i;
	index_close(idx, NoLock);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the primary key of pgtrade.bar is not a btree on "
						"(instrument_id, bar_size, ts)")));
	return pk;
}

/*
 * Reads the bars by a query, for a bar table that is not a plain table,
 * and returns the row of recent_bars or period_bars for tupdesc: the
 * newest "limit" bars that started before "before", or with beyond above
 * 0 every bar that started before it from floor_ts on and the newest
 * "beyond" before floor_ts (what pgtrade_read_bars reads).  via_view
 * names the view pgtrade.bars instead of the table, for a caller who may
 * read only the view.  Operators and functions are qualified: a caller's
 * search_path must not choose them.
 */
static Datum
bars_by_query(bool via_view, int64 instrument, Interval *size,
			  TimestampTz before, int32 limit, TimestampTz floor_ts,
			  int32 beyond, TupleDesc tupdesc)
{
	Oid			types[5] = {INT8OID, INTERVALOID, TIMESTAMPTZOID, INT4OID,
							TIMESTAMPTZOID};
	Datum		args[5];
	Datum		result;
	const char *table = via_view ? "bars" : "bar";
	char	   *bars;
	char	   *sql;
	int			rc;

	args[0] = Int64GetDatum(instrument);
	args[1] = IntervalPGetDatum(size);
	args[2] = TimestampTzGetDatum(before);
	args[3] = Int32GetDatum(beyond > 0 ? beyond : limit);
	args[4] = TimestampTzGetDatum(floor_ts);
#define BARS_OF                                             \
	"SELECT b.ts, b.open, b.high, b.low, b.close, b.volume" \
	" FROM pgtrade.%s b"                                    \
	" WHERE b.instrument_id OPERATOR(pg_catalog.=) $1"      \
	" AND b.bar_size OPERATOR(pg_catalog.=) $2"             \
	" AND b.ts OPERATOR(pg_catalog.<) $3"
	if (beyond > 0)
		bars = psprintf("(" BARS_OF " AND b.ts OPERATOR(pg_catalog.>=) $5)"
						" UNION ALL (" BARS_OF
						" AND b.ts OPERATOR(pg_catalog.<) $5"
						" ORDER BY b.ts DESC LIMIT $4)",
						table, table);
	else
		bars = psprintf(BARS_OF " ORDER BY b.ts DESC LIMIT $4", table);
#undef BARS_OF
	/* then the arrays oldest first; COALESCE for no bars */
	sql = psprintf(
		"SELECT COALESCE(pg_catalog.array_agg(ts ORDER BY ts), '{}'),"
		" COALESCE(pg_catalog.array_agg(open ORDER BY ts), '{}'),"
		" COALESCE(pg_catalog.array_agg(high ORDER BY ts), '{}'),"
		" COALESCE(pg_catalog.array_agg(low ORDER BY ts), '{}'),"
		" COALESCE(pg_catalog.array_agg(close ORDER BY ts), '{}'),"
		" COALESCE(pg_catalog.array_agg(volume ORDER BY ts), '{}'),"
		" pg_catalog.count(*)::pg_catalog.int4"
		" FROM (%s) r",
		bars);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "recent_bars could not connect to SPI");
	rc = SPI_execute_with_args(sql, 5, types, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "recent_bars could not read the bars: %s",
			 SPI_result_code_string(rc));
	/* copied into the caller's context, out of SPI's */
	tupdesc = BlessTupleDesc(tupdesc);
	result = PointerGetDatum(
		SPI_returntuple(SPI_tuptable->vals[0], tupdesc));
	SPI_finish();
	return result;
}

/*
 * The bar table, checked for the caller: its SELECT right on the table
 * or on the view pgtrade.bars (*via_view then), and no row security.
 */
static Oid
bars_relation(bool *via_view)
{
	Oid		  nsp = get_namespace_oid("pgtrade", false);
	Oid		  relid = get_relname_relid("bar", nsp);
	AclResult acl;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table pgtrade.bar does not exist")));
	acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	*via_view = acl != ACLCHECK_OK;
	if (*via_view)
	{
		Oid view = get_relname_relid("bars", nsp);

		if (!OidIsValid(view) ||
			pg_class_aclcheck(view, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			aclcheck_error(acl, OBJECT_TABLE, "bar");
	}
	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("recent_bars cannot read pgtrade.bar under row security")));
	return relid;
}

/*
 * Where each of the key's columns lies in an index tuple without NULLs,
 * when all are of fixed length: then a bar is read from the key without
 * index_deform_tuple's walk over the columns.  false when one is not.
 */
static bool
key_offsets(TupleDesc itupdesc, int *offsets)
{
	int off = 0;
	int i;

	if (itupdesc->natts != BAR_VOLUME)
		return false;
	for (i = 0; i < itupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(itupdesc, i);

		if (att->attlen <= 0)
			return false;
		off = att_align_nominal(off, att->attalign);
		offsets[i] = off;
		off += att->attlen;
	}
	/* the values taken are 8-byte by-value Datums: ts and the prices */
	for (i = BAR_TS - 1; i < BAR_VOLUME; i++)
		if (TupleDescAttr(itupdesc, i)->attlen != sizeof(Datum) ||
			!TupleDescAttr(itupdesc, i)->attbyval)
			return false;
	return true;
}

struct PgtradePages
{
	char				 *base; /* NULL until the first resize */
	Size				  size;
	MemoryContextCallback cb;
};

static void
pages_release(void *arg)
{
	PgtradePages *pages = (PgtradePages *) arg;

	if (pages->base != NULL)
		(void) munmap(pages->base, pages->size);
	pages->base = NULL;
	pages->size = 0;
}

/*
 * Why not palloc: the C library serves a block below its (moving) mmap
 * threshold from its heap, where growing it copies it into new memory,
 * every page of which then faults in: 2,048 faults of 4 kB and 8 MB
 * copied for each doubling of a million bars' column.  Pages of their
 * own grow by remapping, and fault in once.  From 4 MB on they ask for
 * transparent huge pages (2 MB, one fault instead of 512); where those
 * are off, nothing changes.
 */
PgtradePages *
pgtrade_pages_create(void)
{
	PgtradePages *pages = palloc0(sizeof(PgtradePages));

	pages->cb.func = pages_release;
	pages->cb.arg = pages;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &pages->cb);
	return pages;
}

/* room for size bytes, the contents kept; the base may move */
void *
pgtrade_pages_resize(PgtradePages *pages, Size size)
{
	Size  page = (Size) sysconf(_SC_PAGESIZE);
	Size  want = (Max(size, 1) + page - 1) / page * page;
	void *p;

	if (want <= pages->size)
		return pages->base;
	if (pages->base == NULL)
		p = mmap(NULL, want, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	else
		p = mremap(pages->base, pages->size, want, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed on a request of size %zu: %m.", want)));
	pages->base = p;
	pages->size = want;
#if defined(MADV_HUGEPAGE)
	/* the whole mapping, which must stay one for mremap */
	if (want >= (Size) 4 * 1024 * 1024)
		(void) madvise(p, want, MADV_HUGEPAGE);
#endif
	return p;
}

/*
 * A column's room for n values (at least one), with an array's header
 * before it; col NULL for a new one, else the one to grow; in pages of
 * its own when pages is not NULL.
 */
static Datum *
bars_room(Datum *col, int n, PgtradePages *pages)
{
	Size  size = BARS_ARRAY_HEADER + sizeof(Datum) * (Size) Max(n, 1);
	char *base;

	if (pages != NULL)
		base = pgtrade_pages_resize(pages, size);
	else if (col == NULL)
		base = palloc_extended(size, MCXT_ALLOC_HUGE);
	else
		base = repalloc_huge((char *) col - BARS_ARRAY_HEADER, size);
	return (Datum *) (base + BARS_ARRAY_HEADER);
}

/*
 * A read of one series' bars into columns: the bar table and its key,
 * the columns asked for and what has been read into them so far.
 */
typedef struct BarRead
{
	Relation		rel;
	Relation		idx;
	TupleTableSlot *slot;
	bool			covering; /* the key carries the prices */
	bool			fixed;	  /* and each lies at a fixed offset */
	int				offsets[BAR_VOLUME];
	Buffer			vmbuf;
	int64			instrument;
	Interval	   *size;
	Datum		   *col[BAR_VALUES];
	PgtradePages   *pages[BAR_VALUES]; /* NULL: palloc'd */
	int				count;
	int				room;
} BarRead;

/* room in every column asked for for "more" bars beyond those read */
static void
bars_make_room(BarRead *r, int64 more)
{
	int64 room = r->room;
	int	  i;

	if ((int64) r->count + more <= room)
		return;
	while (room < (int64) r->count + more)
		room *= 2;
	if (room > PG_INT32_MAX)
	{
		room = PG_INT32_MAX;
		if ((int64) r->count + more > room)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("more than %d bars of instrument " INT64_FORMAT,
							PG_INT32_MAX, r->instrument)));
	}
	r->room = (int) room;
	for (i = 0; i < BAR_VALUES; i++)
		if (r->col[i] != NULL)
			r->col[i] = bars_room(r->col[i], r->room, r->pages[i]);
}

/*
 * At most how many bars of the size start in [floor_ts, before), plus
 * the "beyond" before floor_ts, for a read into pages of their own: room
 * for them all is taken at once, and the pages not written cost nothing.
 * Bars of a size start at least the size apart, less an hour of daylight
 * saving in a day, month or longer (a month at least 28 days); bars that
 * do not are only read more slowly, into room grown as it fills.
 * Bounded by limit and by 2^26 bars (512 MB a column); 64 when there
 * is no bound.
 */
static int
bars_expected(const Interval *size, TimestampTz floor_ts, TimestampTz before,
			  int beyond, int32 limit)
{
	int64 step = size->time;
	int64 n;

	if (size->day > 0)
		step += size->day * (USECS_PER_DAY - USECS_PER_HOUR);
	if (size->month > 0)
		step += size->month * (28 * USECS_PER_DAY - USECS_PER_HOUR);
	if (size->day < 0 || size->month < 0 || step <= 0 ||
		TIMESTAMP_NOT_FINITE(floor_ts) || TIMESTAMP_NOT_FINITE(before) ||
		before <= floor_ts)
		return 64;
	n = (before - floor_ts) / step + 2 + Max(beyond, 0);
	return (int) Max(Min(Min(n, (int64) limit), (int64) 1 << 26), 64);
}

/*
 * Reads bars of the series from the key: those with lo <= ts < hi, in
 * the direction given, appending each to the columns; at most "limit",
 * and with beyond above 0 no more once that many have started before
 * floor_ts.  A bar on a heap page the visibility map marks all-visible
 * is read from the key; others from the heap, checked against the
 * snapshot.
 */
static void
bars_scan(BarRead *r, TimestampTz lo, TimestampTz hi, ScanDirection dir,
		  int32 limit, TimestampTz floor_ts, int beyond)
{
	IndexScanDesc scan;
	ScanKeyData	  keys[4];
	int			  nkeys = 3;
	Datum		  keyvals[BAR_VOLUME]; /* the key's columns, all eight */
	bool		  keynulls[BAR_VOLUME];
	BlockNumber	  locked = InvalidBlockNumber; /* page last locked */
	ItemPointer	  tid;
	int			  read = 0;
	int			  below = 0; /* of them, bars starting before floor_ts */
	int			  i;

	if (lo >= hi)
		return;
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(r->instrument));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INTERVAL_EQ,
				IntervalPGetDatum(r->size));
	ScanKeyInit(&keys[2], 3, BTLessStrategyNumber, F_TIMESTAMP_LT,
				TimestampTzGetDatum(hi));
	if (lo != DT_NOBEGIN)
		ScanKeyInit(&keys[nkeys++], 3, BTGreaterEqualStrategyNumber,
					F_TIMESTAMP_GE, TimestampTzGetDatum(lo));
	scan = index_beginscan(r->rel, r->idx, GetActiveSnapshot(), nkeys, 0);
	scan->xs_want_itup = r->covering;
	index_rescan(scan, keys, nkeys, NULL, 0);
	if (r->covering && !r->fixed)
		r->fixed = key_offsets(scan->xs_itupdesc, r->offsets);

	while (read < limit && (tid = index_getnext_tid(scan, dir)) != NULL)
	{
		BlockNumber block = ItemPointerGetBlockNumber(tid);
		Datum	   *vals;
		bool	   *nulls;

		CHECK_FOR_INTERRUPTS();
		if (r->covering && VM_ALL_VISIBLE(r->rel, block, &r->vmbuf))
		{
			IndexTuple itup = scan->xs_itup;

			/*
			 * Every tuple of the page is visible to every snapshot: the
			 * key's copy of the bar is the bar.  The page is not read,
			 * so a serializable reader locks it as a whole, as an
			 * index-only scan does (once for a run of its bars).  The
			 * map is asked again for each bar, as an index-only scan
			 * asks it: a bar inserted since may have cleared the bit.
			 */
			if (block != locked)
				PredicateLockPage(r->rel, block, scan->xs_snapshot);
			locked = block;
			if (r->fixed && !IndexTupleHasNulls(itup))
			{
				char *data = (char *) itup;

				data += IndexInfoFindDataOffset(itup->t_info);

				for (i = BAR_TS - 1; i < BAR_VOLUME; i++)
				{
					keyvals[i] = *(Datum *) (data + r->offsets[i]);
					keynulls[i] = false;
				}
			}
			else
				index_deform_tuple(itup, scan->xs_itupdesc, keyvals, keynulls);
			vals = keyvals + BAR_TS - 1;
			nulls = keynulls + BAR_TS - 1;
		}
		else
		{
			/* the heap's tuple, if the snapshot sees one */
			if (!index_fetch_heap(scan, r->slot))
				continue;
			slot_getsomeattrs(r->slot, BAR_VOLUME);
			vals = r->slot->tts_values + BAR_TS - 1;
			nulls = r->slot->tts_isnull + BAR_TS - 1;
		}
		bars_make_room(r, 1);
		for (i = 0; i < BAR_VALUES; i++)
		{
			if (nulls[i])
				elog(ERROR, "a bar of instrument " INT64_FORMAT " has a null %s",
					 r->instrument, bar_columns[BAR_TS - 1 + i]);
			if (r->col[i] != NULL)
				r->col[i][r->count] = vals[i];
		}
		r->count++;
		read++;
		if (beyond > 0 && DatumGetTimestampTz(vals[0]) < floor_ts &&
			++below >= beyond)
			break;
	}
	index_endscan(scan);
}

/* puts the columns' last n values in reverse order */
static void
bars_reverse(BarRead *r, int n)
{
	int i;

	for (i = 0; i < BAR_VALUES; i++)
	{
		Datum *v = r->col[i] ? r->col[i] + r->count - n : NULL;
		int	   j;

		for (j = 0; v != NULL && j < n / 2; j++)
		{
			Datum t = v[j];

			v[j] = v[n - 1 - j];
			v[n - 1 - j] = t;
		}
	}
}

/* the columns of pgtrade.bar_pack, in the order of its definition */
enum
{
	PACK_INSTRUMENT = 1,
	PACK_SIZE,
	PACK_LO,
	PACK_HI,
	PACK_N,
	PACK_TS,
	PACK_COLUMNS = PACK_TS + BAR_VALUES - 1
};

static const char *const pack_columns[] = {
	"instrument_id", "bar_size", "lo", "hi", "n", "ts", "open", "high",
	"low", "close", "volume"};

/* the values of a one-dimensional array without NULLs (ARR_DATA_PTR) */
#define PACK_VALUES(a) ((char *) (a) + ARR_OVERHEAD_NONULLS(1))

static void
pack_damaged(BarRead *r, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("a pack of bars of instrument " INT64_FORMAT
					" in pgtrade.bar_pack is damaged: %s",
					r->instrument, what),
			 errhint("pgtrade.pack_bars(symbol, bar_size, rebuild => true) "
					 "packs the series again from pgtrade.bar.")));
}

/*
 * The ranges of ts changed in the series since it was packed (by
 * statements this snapshot sees) that reach from lo up to hi, as pairs
 * in the order of their lowest ts: ranges[2k] the lowest ts of a change,
 * ranges[2k + 1] the highest of any change beginning at or before it (a
 * running maximum, so that whether a pack meets any change is one
 * comparison at the last change beginning before its end).  Read from
 * bar_change's index as the bars are read, without a right of the
 * caller's: changes say no more than the bars do.  Returns their number.
 */
static int
pack_changes(BarRead *r, Relation crel, Relation cidx, TimestampTz lo,
			 TimestampTz hi, TimestampTz **ranges)
{
	IndexScanDesc	scan;
	TupleTableSlot *slot = table_slot_create(crel, NULL);
	ScanKeyData		keys[3];
	TimestampTz		top = DT_NOBEGIN;
	int				room = 16;
	int				n = 0;

	*ranges = palloc(sizeof(TimestampTz) * 2 * room);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(r->instrument));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INTERVAL_EQ,
				IntervalPGetDatum(r->size));
	ScanKeyInit(&keys[2], 3, BTLessStrategyNumber, F_TIMESTAMP_LT,
				TimestampTzGetDatum(hi));
	scan = index_beginscan(crel, cidx, GetActiveSnapshot(), 3, 0);
	index_rescan(scan, keys, 3, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		TimestampTz c_lo;
		TimestampTz c_hi;

		CHECK_FOR_INTERRUPTS();
		slot_getsomeattrs(slot, 4);
		if (slot->tts_isnull[2] || slot->tts_isnull[3])
			continue;
		c_lo = DatumGetTimestampTz(slot->tts_values[2]);
		c_hi = DatumGetTimestampTz(slot->tts_values[3]);
		if (c_hi < lo)
			continue;
		if (n == room)
		{
			room *= 2;
			*ranges = repalloc_huge(*ranges, sizeof(TimestampTz) * 2 * (Size) room);
		}
		top = Max(top, c_hi);
		(*ranges)[2 * n] = c_lo;
		(*ranges)[2 * n + 1] = top;
		n++;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	return n;
}

/*
 * Appends the bars of one pack with seg_lo <= ts < seg_hi, having
 * checked that its arrays are what pack_bars writes: n values each, no
 * NULLs, times ascending within [lo, hi).
 */
static void
bars_copy_pack(BarRead *r, TupleTableSlot *ps, int n, TimestampTz lo,
			   TimestampTz hi, TimestampTz seg_lo, TimestampTz seg_hi)
{
	ArrayType		  *a[BAR_VALUES];
	const TimestampTz *ts;
	int				   first;
	int				   last;
	int				   i;
	int				   k;

	for (k = 0; k < BAR_VALUES; k++)
	{
		a[k] = NULL;
		if (k != 0 && r->col[k] == NULL)
			continue;
		a[k] = DatumGetArrayTypeP(ps->tts_values[PACK_TS - 1 + k]);
		if (ARR_NDIM(a[k]) != 1 || ARR_DIMS(a[k])[0] != n ||
			ARR_HASNULL(a[k]) ||
			ARR_ELEMTYPE(a[k]) != (k == 0 ? TIMESTAMPTZOID : FLOAT8OID))
		{
			const char *name = pack_columns[PACK_TS - 1 + k];

			pack_damaged(r, psprintf("its %s is not %d values", name, n));
		}
	}
	ts = (const TimestampTz *) PACK_VALUES(a[0]);
	for (i = 0; i < n; i++)
		if (ts[i] < lo || ts[i] >= hi || (i > 0 && ts[i] <= ts[i - 1]))
			pack_damaged(r, "its times are not ascending within lo and hi");
	first = 0;
	while (first < n && ts[first] < seg_lo)
		first++;
	last = n;
	while (last > first && ts[last - 1] >= seg_hi)
		last--;
	bars_make_room(r, last - first);
	for (k = 0; k < BAR_VALUES; k++)
	{
		if (r->col[k] != NULL)
			memcpy(r->col[k] + r->count, (Datum *) PACK_VALUES(a[k]) + first,
				   sizeof(Datum) * (Size) (last - first));
		if (a[k] != NULL &&
			(Pointer) a[k] != DatumGetPointer(ps->tts_values[PACK_TS - 1 + k]))
			pfree(a[k]);
	}
	r->count += last - first;
}

/*
 * The relation named in schema pgtrade, if it is there and a plain table
 * (or an index), opened; NULL otherwise.
 */
static Relation
pack_open(const char *name, bool index)
{
	Oid		 relid = get_relname_relid(name, get_namespace_oid("pgtrade", false));
	Relation rel;

	if (!OidIsValid(relid))
		return NULL;
	if (index)
		rel = index_open(relid, AccessShareLock);
	else
		rel = table_open(relid, AccessShareLock);
	if (index ? rel->rd_rel->relam != BTREE_AM_OID
			  : rel->rd_rel->relkind != RELKIND_RELATION ||
				check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
	{
		relation_close(rel, AccessShareLock);
		return NULL;
	}
	return rel;
}

/* whether the columns of rel are named and typed as in names and types */
static bool
columns_are(Relation rel, const char *const *names, const Oid *types, int n)
{
	TupleDesc desc = RelationGetDescr(rel);
	int		  i;

	if (desc->natts < n)
		return false;
	for (i = 0; i < n; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || att->atttypid != types[i] ||
			strcmp(NameStr(att->attname), names[i]) != 0)
			return false;
	}
	return true;
}

/* the packed bars' tables and keys, opened for a read */
typedef struct PackRels
{
	Relation pack;
	Relation pack_key;
	Relation change;
	Relation change_key;
} PackRels;

static void
packs_close(PackRels *p)
{
	if (p->change_key)
		index_close(p->change_key, AccessShareLock);
	if (p->change)
		table_close(p->change, AccessShareLock);
	if (p->pack_key)
		index_close(p->pack_key, AccessShareLock);
	if (p->pack)
		table_close(p->pack, AccessShareLock);
}

/*
 * Opens bar_pack and bar_change with their keys; false, with nothing
 * open, unless all four are there as pack_bars writes them.
 */
static bool
packs_open(PackRels *p)
{
	static const Oid pack_types[PACK_COLUMNS] = {
		INT8OID, INTERVALOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID,
		TIMESTAMPTZARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID,
		FLOAT8ARRAYOID, FLOAT8ARRAYOID};
	static const char *const change_columns[] = {
		"instrument_id", "bar_size", "lo", "hi"};
	static const Oid change_types[] = {
		INT8OID, INTERVALOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Oid	 pk;
	bool ok;

	memset(p, 0, sizeof(*p));
	p->pack = pack_open("bar_pack", false);
	p->change = pack_open("bar_change", false);
	p->change_key = pack_open("bar_change_series", true);
	ok = p->pack && p->change && p->change_key &&
		columns_are(p->pack, pack_columns, pack_types, PACK_COLUMNS) &&
		columns_are(p->change, change_columns, change_types, 4) &&
		p->change_key->rd_index->indrelid == RelationGetRelid(p->change) &&
		p->change_key->rd_index->indnkeyatts >= 3 &&
		p->change_key->rd_index->indkey.values[0] == 1 &&
		p->change_key->rd_index->indkey.values[1] == 2 &&
		p->change_key->rd_index->indkey.values[2] == 3;
	if (ok)
	{
		pk = RelationGetPrimaryKeyIndex(p->pack);
		p->pack_key = OidIsValid(pk) ? index_open(pk, AccessShareLock) : NULL;
		ok = p->pack_key != NULL &&
			p->pack_key->rd_rel->relam == BTREE_AM_OID &&
			p->pack_key->rd_index->indnkeyatts == 3 &&
			p->pack_key->rd_index->indkey.values[0] == PACK_INSTRUMENT &&
			p->pack_key->rd_index->indkey.values[1] == PACK_SIZE &&
			p->pack_key->rd_index->indkey.values[2] == PACK_HI;
	}
	if (!ok)
		packs_close(p);
	return ok;
}

/*
 * Appends the bars of the series with from <= ts < before, oldest
 * first: from packs where no change this snapshot sees meets them, from
 * the bar table's key elsewhere (between packs, after the last, and in
 * packs a change meets).
 */
static void
bars_from_packs(BarRead *r, PackRels *p, TimestampTz from, TimestampTz before)
{
	IndexScanDesc	scan;
	TupleTableSlot *slot = table_slot_create(p->pack, NULL);
	ScanKeyData		keys[3];
	TimestampTz	   *ranges;
	int				nranges;
	int				c = 0;
	TimestampTz		t = from;			  /* read up to here */
	TimestampTz		last_hi = DT_NOBEGIN; /* the end of the pack before */

	nranges = pack_changes(r, p->change, p->change_key, from, before, &ranges);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(r->instrument));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INTERVAL_EQ,
				IntervalPGetDatum(r->size));
	ScanKeyInit(&keys[2], 3, BTGreaterStrategyNumber, F_TIMESTAMP_GT,
				TimestampTzGetDatum(from));
	scan = index_beginscan(p->pack, p->pack_key, GetActiveSnapshot(), 3, 0);
	index_rescan(scan, keys, 3, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		TimestampTz lo;
		TimestampTz hi;
		int			n;
		int			k;

		CHECK_FOR_INTERRUPTS();
		slot_getallattrs(slot);
		for (k = 0; k < PACK_COLUMNS; k++)
			if (slot->tts_isnull[k])
				pack_damaged(r, psprintf("its %s is NULL", pack_columns[k]));
		lo = DatumGetTimestampTz(slot->tts_values[PACK_LO - 1]);
		hi = DatumGetTimestampTz(slot->tts_values[PACK_HI - 1]);
		n = DatumGetInt32(slot->tts_values[PACK_N - 1]);
		if (lo >= before)
			break;
		if (lo >= hi || lo < last_hi || n < 1)
			pack_damaged(r, "its bounds overlap another pack's or are empty");
		last_hi = hi;
		/* bars between the packs (none when they were packed together) */
		if (lo > t)
			bars_scan(r, t, lo, ForwardScanDirection, PG_INT32_MAX, 0, 0);
		t = Max(t, lo);
		/* does a change begin before the pack's end and end in or after it? */
		while (c < nranges && ranges[2 * c] < hi)
			c++;
		if (c > 0 && ranges[2 * (c - 1) + 1] >= lo)
			bars_scan(r, t, Min(hi, before), ForwardScanDirection,
					  PG_INT32_MAX, 0, 0);
		else
			bars_copy_pack(r, slot, n, lo, hi, t, before);
		t = hi;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	if (t < before)
		bars_scan(r, t, before, ForwardScanDirection, PG_INT32_MAX, 0, 0);
}

/*
 * Whether a statement that writes bars is running in this transaction
 * (pgtrade.bar_writes above 0, see 41_bar_pack.sql): its changes are not
 * noted until it ends, so no pack may be trusted until then.
 */
static bool
bars_being_written(void)
{
	const char *writes = GetConfigOption("pgtrade.bar_writes", true, false);

	return writes != NULL && writes[0] != '\0' && strcmp(writes, "0") != 0;
}

/*
 * Reads the newest "limit" bars of an instrument and size that started
 * before "before" into out, oldest first: of ts, open, high, low, close
 * and volume, the columns whose bits are set in "columns" (BARS_TS and
 * so on; the others are left NULL).  With beyond above 0 it stops sooner,
 * once it has read that many bars starting before floor_ts (the bars a
 * backtest's first close needs before it); the bars from floor_ts on
 * are then read from their packs where pgtrade.bar_pack has them.
 * Returns false, having read nothing,
 * when pgtrade.bar is not a plain table (partitioned, say), which a
 * query reads instead; out->via_view says then whether the caller may
 * read only the view pgtrade.bars.  The columns are palloc'd in the
 * current memory context (in pages of their own, given back with it,
 * with BARS_OWN_PAGES), each with room for an array's header before it
 * (BARS_ARRAY_HEADER).
 */
bool
pgtrade_read_bars(int64 instrument, Interval *size, TimestampTz before,
				  int32 limit, TimestampTz floor_ts, int beyond, int columns,
				  PgtradeBars *out)
{
	Oid		 relid;
	BarRead	 r;
	PackRels packs;
	int		 i;

	/* the values are copied as Datums, past the slot's next fetch */
	StaticAssertStmt(FLOAT8PASSBYVAL, "recent_bars needs 64-bit Datums");

	if (limit < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the number of bars must not be negative, not %d",
						limit)));
	relid = bars_relation(&out->via_view);
	out->n = 0;
	for (i = 0; i < BAR_VALUES; i++)
		out->col[i] = NULL;
	memset(&r, 0, sizeof(r));
	r.rel = table_open(relid, AccessShareLock);
	if (r.rel->rd_rel->relkind != RELKIND_RELATION)
	{
		/* no single index to scan; the lock is held to transaction end */
		table_close(r.rel, NoLock);
		return false;
	}
	r.idx = index_open(check_bar_table(r.rel, &r.covering), AccessShareLock);
	r.slot = table_slot_create(r.rel, NULL);
	r.vmbuf = InvalidBuffer;
	r.instrument = instrument;
	r.size = size;

	/*
	 * Room for what is read, not for what is asked: n may be huge.  Each
	 * column has room for an array's header before it, so that
	 * recent_bars makes it an array where it lies.
	 */
	r.room = Max(Min(limit, 64), 1);
	if (columns & BARS_OWN_PAGES)
		r.room = Max(r.room, bars_expected(size, floor_ts, before, beyond, limit));
	for (i = 0; i < BAR_VALUES; i++)
		if (columns & (1 << i))
		{
			if (columns & BARS_OWN_PAGES)
				r.pages[i] = pgtrade_pages_create();
			r.col[i] = bars_room(NULL, r.room, r.pages[i]);
		}

	if (beyond > 0 && floor_ts < before && floor_ts != DT_NOBEGIN &&
		!bars_being_written() && packs_open(&packs))
	{
		/*
		 * The window before floor_ts, newest first, put oldest first;
		 * then the rest oldest first.  The same bars as the one scan
		 * below: of those, the newest "limit".
		 */
		bars_scan(&r, DT_NOBEGIN, floor_ts, BackwardScanDirection, beyond,
				  0, 0);
		bars_reverse(&r, r.count);
		bars_from_packs(&r, &packs, floor_ts, before);
		packs_close(&packs);
		if (r.count > limit)
		{
			int drop = r.count - limit;

			for (i = 0; i < BAR_VALUES; i++)
				if (r.col[i] != NULL)
					memmove(r.col[i], r.col[i] + drop,
							sizeof(Datum) * (Size) limit);
			r.count = limit;
		}
	}
	else
	{
		/* newest first; put oldest first */
		bars_scan(&r, DT_NOBEGIN, before, BackwardScanDirection, limit,
				  floor_ts, beyond);
		bars_reverse(&r, r.count);
	}
	if (BufferIsValid(r.vmbuf))
		ReleaseBuffer(r.vmbuf);
	ExecDropSingleTupleTableSlot(r.slot);
	index_close(r.idx, NoLock);
	table_close(r.rel, NoLock);

	for (i = 0; i < BAR_VALUES; i++)
		out->col[i] = r.col[i];
	out->n = r.count;
	return true;
}

/*
 * A column read by pgtrade_read_bars as a one-dimensional array of n
 * elements of type (timestamptz or float8), made where it lies: the
 * header goes in the room left before it, the values are the elements.
 */
static ArrayType *
bars_array(Datum *col, int n, Oid type)
{
	ArrayType *a = (ArrayType *) ((char *) col - BARS_ARRAY_HEADER);
	Size	   size = BARS_ARRAY_HEADER + sizeof(Datum) * (Size) n;

	StaticAssertStmt(BARS_ARRAY_HEADER == ARR_OVERHEAD_NONULLS(1),
					 "the room left must be an array's header");
	if (n == 0)
		return construct_empty_array(type);
	if (!AllocSizeIsValid(size))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("array size exceeds the maximum allowed (%d)",
						(int) MaxAllocSize)));
	SET_VARSIZE(a, size);
	a->ndim = 1;
	a->dataoffset = 0;
	a->elemtype = type;
	ARR_DIMS(a)
	[0] = n;
	ARR_LBOUND(a)
	[0] = 1;
	return a;
}

/*
 * The row of recent_bars or period_bars: the bars read as recent_bars
 * reads them (see pgtrade_read_bars, or bars_by_query for a bar table
 * that is not a plain one), as six arrays and their length.  The row's
 * descriptor is made once a query: for a function with OUT arguments it
 * is built from the catalog on every call otherwise.
 */
static Datum
bars_row(FunctionCallInfo fcinfo, int64 instrument, Interval *size,
		 TimestampTz before, int32 limit, TimestampTz floor_ts, int32 beyond)
{
	TupleDesc	tupdesc = (TupleDesc) fcinfo->flinfo->fn_extra;
	PgtradeBars bars;
	Datum		result[BAR_VALUES + 1];
	bool		nulls[BAR_VALUES + 1] = {0};
	int			i;

	if (tupdesc == NULL)
	{
		MemoryContext old;

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "recent_bars must be called where a record can be taken");
		old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = tupdesc;
	}
	if (!pgtrade_read_bars(instrument, size, before, limit, floor_ts, beyond,
						   BARS_ALL, &bars))
		return bars_by_query(bars.via_view, instrument, size, before, limit,
							 floor_ts, beyond, tupdesc);
	for (i = 0; i < BAR_VALUES; i++)
		result[i] = PointerGetDatum(bars_array(
			bars.col[i], bars.n, i == 0 ? TIMESTAMPTZOID : FLOAT8OID));
	result[BAR_VALUES] = Int32GetDatum(bars.n);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, result, nulls));
}

/*
 * recent_bars(instrument_id, bar_size, before, n): the newest n bars
 * of the instrument and size that started before "before", oldest first,
 * as six arrays and their length.
 */
Datum
pgtrade_recent_bars(PG_FUNCTION_ARGS)
{
	int64		instrument = PG_GETARG_INT64(0);
	Interval   *size = PG_GETARG_INTERVAL_P(1);
	TimestampTz before = PG_GETARG_TIMESTAMPTZ(2);
	int32		limit = PG_GETARG_INT32(3);

	PG_RETURN_DATUM(bars_row(fcinfo, instrument, size, before, limit, 0, 0));
}

/*
 * A time before which every bar of the size starts early enough to end
 * before "from".  An intraday bar ends at its start plus its size; a
 * daily one at the session close of its local date, less than its size
 * after its start but for a change of the zone's offset in between (an
 * hour or two).  Each part of the interval is taken at its longest, and
 * two days more.  DT_NOBEGIN (no bar before it) for an interval with a
 * negative or outlandish part.
 */
TimestampTz
pgtrade_bars_floor(TimestampTz from, const Interval *size)
{
	int64 span;

	if (size->month < 0 || size->day < 0 || size->time < 0 ||
		size->month > 12 * 100 || size->day > 366 * 100 ||
		size->time > USECS_PER_DAY * 366 * 100 || TIMESTAMP_NOT_FINITE(from))
		return DT_NOBEGIN;
	span = ((int64) size->month * 31 + size->day + 2) * USECS_PER_DAY +
		size->time;
	return from - span;
}

/* bars_floor(from_ts, bar_size): pgtrade_bars_floor, for SQL */
Datum
pgtrade_bars_floor_sql(PG_FUNCTION_ARGS)
{
	TimestampTz from = PG_GETARG_TIMESTAMPTZ(0);
	Interval   *size = PG_GETARG_INTERVAL_P(1);

	PG_RETURN_TIMESTAMPTZ(pgtrade_bars_floor(from, size));
}

/*
 * period_bars(instrument_id, bar_size, from_ts, to_ts, bars_window): the
 * bars a backtest of from_ts to to_ts looks at, oldest first, as
 * recent_bars gives them: every bar that starts by to_ts, back to
 * bars_window bars before the first that could end at or after from_ts
 * (pgtrade_bars_floor).  A backtest decides each close over the window a
 * live run loads, so earlier bars would change nothing.
 */
Datum
pgtrade_period_bars(PG_FUNCTION_ARGS)
{
	TimestampTz from = PG_GETARG_TIMESTAMPTZ(2);
	TimestampTz to = PG_GETARG_TIMESTAMPTZ(3);
	Interval   *size = PG_GETARG_INTERVAL_P(1);
	int32		window = PG_GETARG_INT32(4);
	TimestampTz floor_ts;

	if (TIMESTAMP_NOT_FINITE(from) || TIMESTAMP_NOT_FINITE(to) || from > to ||
		window < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("period_bars needs finite from_ts <= to_ts and a "
						"window of at least one bar")));
	floor_ts = pgtrade_bars_floor(from, size);
	PG_RETURN_DATUM(bars_row(fcinfo, PG_GETARG_INT64(0), size, to + 1,
							 PG_INT32_MAX, floor_ts, window));
}

/*
 * bar_end(ts, bar_size, time_zone, session_close): when a bar has ended.
 * A daily bar (a day or more) ends at the session close of its last date
 * in the exchange's zone:
 *   (((ts AT TIME ZONE zone)::date + (bar_size - 1 day))::date
 *    + session_close) AT TIME ZONE zone
 * an intraday bar at ts + bar_size.  The same operators' functions as that
 * expression, in the same order, so the same answers and errors; in C
 * because a backtest asks it for every trade, and as a STRICT SQL
 * function whose body (a CASE) is not strict it was not inlined but run
 * as a query each call.
 *
 * Each AT TIME ZONE looks its zone up by name, two lookups a call and
 * most of its time.  pgtrade_bar_end_prepare looks the zone up once, as
 * those functions do: a name that is a time zone abbreviation (a fixed
 * or dynamic offset), or not a zone at all, is left to them; a full zone
 * name is kept, and pgtrade_bar_end_at converts with it as they convert
 * with a full name (timestamp2tm into the zone, DetermineTimeZoneOffset
 * out of it), the same steps with the same results.
 */
void
pgtrade_bar_end_prepare(PgtradeBarEnd *be, Datum size, Datum zone,
						Datum close)
{
	Interval day = {0};
	Datum	 one_day = IntervalPGetDatum(&day);
	text	*zone_text = DatumGetTextPP(zone);
	char	 name[TZ_STRLEN_MAX + 1];
	char	*lower;
	int		 type;
	int		 offset;
	pg_tz	*abbrev_tz = NULL;

	day.day = 1;
	be->size = size;
	be->zone = zone;
	be->close = close;
	be->tz = NULL;
	memset(&be->span, 0, sizeof(be->span));
	be->daily = DatumGetBool(DirectFunctionCall2(interval_ge, size, one_day));
	if (!be->daily)
		return;
	be->extra =
		DatumGetIntervalP(DirectFunctionCall2(interval_mi, size, one_day));
	if (VARSIZE_ANY_EXHDR(zone_text) > TZ_STRLEN_MAX)
		return;
	text_to_cstring_buffer(zone_text, name, sizeof(name));
	lower = downcase_truncate_identifier(name, strlen(name), false);
	type = DecodeTimezoneAbbrev(0, lower, &offset, &abbrev_tz);
	if (type == TZ || type == DTZ || type == DYNTZ)
		return;
	be->tz = pg_tzset(name);
}

static void
bar_end_out_of_range(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("timestamp out of range")));
}

/* a daily bar's end as the expression takes it, AT TIME ZONE by name */
static TimestampTz
bar_end_by_name(const PgtradeBarEnd *be, TimestampTz ts)
{
	Datum l = DirectFunctionCall2(timestamptz_zone, be->zone,
								  TimestampTzGetDatum(ts));
	Datum date = DirectFunctionCall1(timestamp_date, l);

	l = DirectFunctionCall2(date_pl_interval, date,
							IntervalPGetDatum(be->extra));
	date = DirectFunctionCall1(timestamp_date, l);
	l = DirectFunctionCall2(datetime_timestamp, date, be->close);
	return DatumGetTimestampTz(DirectFunctionCall2(timestamp_zone, be->zone, l));
}

TimestampTz
pgtrade_bar_end_at(const PgtradeBarEnd *be, TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		 fsec;
	int			 tz;
	Timestamp	 local;
	TimestampTz	 result;
	Datum		 date;
	Datum		 extra;

	if (!be->daily)
		return DatumGetTimestampTz(DirectFunctionCall2(
			timestamptz_pl_interval, TimestampTzGetDatum(ts), be->size));
	if (be->tz == NULL || TIMESTAMP_NOT_FINITE(ts))
		return bar_end_by_name(be, ts);
	/* ts AT TIME ZONE zone */
	if (timestamp2tm(ts, &tz, &tm, &fsec, NULL, be->tz) != 0 ||
		tm2timestamp(&tm, fsec, NULL, &local) != 0 || !IS_VALID_TIMESTAMP(local))
		bar_end_out_of_range();
	/* ::date + (size - 1 day), ::date + close */
	extra = IntervalPGetDatum(be->extra);
	date = DirectFunctionCall1(timestamp_date, TimestampGetDatum(local));
	date = DirectFunctionCall2(date_pl_interval, date, extra);
	date = DirectFunctionCall1(timestamp_date, date);
	local = DatumGetTimestamp(
		DirectFunctionCall2(datetime_timestamp, date, be->close));
	if (TIMESTAMP_NOT_FINITE(local))
		return DatumGetTimestampTz(DirectFunctionCall2(
			timestamp_zone, be->zone, TimestampGetDatum(local)));
	/* AT TIME ZONE zone again, from local time */
	if (timestamp2tm(local, NULL, &tm, &fsec, NULL, NULL) != 0)
		bar_end_out_of_range();
	tz = DetermineTimeZoneOffset(&tm, be->tz);
	if (tm2timestamp(&tm, fsec, &tz, &result) != 0 || !IS_VALID_TIMESTAMP(result))
		bar_end_out_of_range();
	return result;
}

/*
 * The offset timestamp2tm gives for t in zone, looked up again only when
 * t leaves the span of the last lookup: from the time looked up at to
 * the zone's next transition after it (pg_next_dst_boundary), or for
 * good when it has none.  The transition only bounds how long the offset
 * holds; the offset is timestamp2tm's own.
 */
bool
pgtrade_zone_offset(PgtradeZoneSpan *z, pg_tz *zone, TimestampTz t, int *tz)
{
	struct pg_tm tm;
	fsec_t		 fsec;
	pg_time_t	 secs;
	pg_time_t	 boundary;
	long		 off[2]; /* the offsets before and after the transition */
	int			 dst[2];
	int			 r;

	if (TIMESTAMP_NOT_FINITE(t))
		return false;
	/* whole seconds since the Unix epoch, as timestamp2tm takes them */
	secs = (pg_time_t) (t / USECS_PER_SEC - (t % USECS_PER_SEC < 0)) +
		(pg_time_t) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
	if (z->valid && secs >= z->from && (z->forever || secs < z->until))
	{
		*tz = z->tz;
		return true;
	}
	z->valid = false;
	if (timestamp2tm(t, &z->tz, &tm, &fsec, NULL, zone) != 0)
		return false;
	*tz = z->tz;
	r = pg_next_dst_boundary(&secs, &off[0], &dst[0], &boundary, &off[1],
							 &dst[1], zone);
	if (r >= 0 && (r == 0 || boundary > secs))
	{
		z->valid = true;
		z->forever = r == 0;
		z->from = secs;
		z->until = boundary;
	}
	return true;
}

/*
 * pgtrade_bar_end_at's steps with the zone's offsets from be->span where
 * they hold: the local date of ts, the bar's last day (a size of whole
 * days), its close, back to UTC.  The last step inverts a local time, which a
 * transition can make ambiguous or skip: the offset is taken only when
 * the time it gives lies two days or more inside the span it holds for,
 * where no other offset (they differ by less than a day) can be meant.
 * Anything else goes to pgtrade_bar_end_at.
 */
TimestampTz
pgtrade_bar_end_span(PgtradeBarEnd *be, TimestampTz ts)
{
	PgtradeZoneSpan *z = &be->span;
	const int64		 margin = 2 * SECS_PER_DAY;
	int				 tz;
	Timestamp		 local;
	int64			 day;
	TimestampTz		 result;
	int64			 secs;

	if (!be->daily || be->tz == NULL || be->extra->month != 0 ||
		be->extra->time != 0 || !pgtrade_zone_offset(z, be->tz, ts, &tz))
		return pgtrade_bar_end_at(be, ts);
	/* ts AT TIME ZONE zone, its date, and the date of the bar's last day */
	local = ts - (int64) tz * USECS_PER_SEC;
	if (!IS_VALID_TIMESTAMP(local))
		return pgtrade_bar_end_at(be, ts);
	day = local / USECS_PER_DAY - (local % USECS_PER_DAY < 0);
	day += be->extra->day;
	/* that day at the close, AT TIME ZONE zone again */
	local = day * USECS_PER_DAY + DatumGetTimeADT(be->close);
	result = local + (int64) tz * USECS_PER_SEC;
	if (!IS_VALID_TIMESTAMP(local) || !IS_VALID_TIMESTAMP(result) || !z->valid)
		return pgtrade_bar_end_at(be, ts);
	secs = result / USECS_PER_SEC +
		(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
	if (secs - margin < z->from || (!z->forever && secs + margin >= z->until))
		return pgtrade_bar_end_at(be, ts);
	return result;
}

/* two texts of the same bytes */
static bool
bar_end_same_text(Datum a, Datum b)
{
	text *x = DatumGetTextPP(a);
	text *y = DatumGetTextPP(b);

	return VARSIZE_ANY_EXHDR(x) == VARSIZE_ANY_EXHDR(y) &&
		memcmp(VARDATA_ANY(x), VARDATA_ANY(y), VARSIZE_ANY_EXHDR(x)) == 0;
}

/*
 * The SQL function keeps its prepared zone for the query's calls with
 * the same size, zone and close.
 */
Datum
pgtrade_bar_end(PG_FUNCTION_ARGS)
{
	Datum		   ts = PG_GETARG_DATUM(0);
	Datum		   size = PG_GETARG_DATUM(1);
	Datum		   zone = PG_GETARG_DATUM(2);
	Datum		   close = PG_GETARG_DATUM(3);
	PgtradeBarEnd *be = (PgtradeBarEnd *) fcinfo->flinfo->fn_extra;

	if (be == NULL ||
		memcmp(DatumGetIntervalP(size), DatumGetIntervalP(be->size),
			   sizeof(Interval)) != 0 ||
		!bar_end_same_text(zone, be->zone) ||
		DatumGetTimeADT(close) != DatumGetTimeADT(be->close))
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (be == NULL)
			be = palloc(sizeof(PgtradeBarEnd));
		pgtrade_bar_end_prepare(be, datumCopy(size, false, sizeof(Interval)),
								datumCopy(zone, false, -1), close);
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = be;
	}
	return TimestampTzGetDatum(pgtrade_bar_end_at(be, DatumGetTimestampTz(ts)));
}
