#!/usr/bin/python3
"""recent_bars reads bars on all-visible pages from the bar key, and
every other bar from the heap, with the reader's snapshot.

An instrument gets 80 daily bars, each on a heap page of its own
among another instrument's, and the table is vacuumed, so that the
visibility map marks their pages all-visible (checked with
pg_visibility, created here for the test and dropped after it if it was
not there).  recent_bars must then answer exactly what a query of the
table answers.  A REPEATABLE READ session reads the bars; another
session corrects a close and deletes a bar, which clears those pages'
all-visible bits and leaves two versions of the corrected bar in the
key.  The first session must still read the bars as they were, a new
one as they are now, and after a vacuum (pages all-visible again) the
same.  The table's I/O statistics show whether a read touched the heap.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Session, Tap, psql, scalar  # noqa: E402

SYM = "RBKEY1"
FILLER = "RBKEY2"
N = 80


def via_key(before="infinity", n=N):
    """recent_bars' closes and timestamps, as text."""
    return scalar("""
        SELECT r.bars || ' ' || r.close::text || ' ' || r.ts::text
        FROM pgtrade.recent_bars(pgtrade.instrument_id(:'p0'), '1 day',
                                 :'p1', :'p2') r""", SYM, before, n)


def via_query(before="infinity", n=N):
    """The same read as a plain query of the table."""
    return scalar("""
        SELECT count(*) || ' ' ||
               coalesce(array_agg(close ORDER BY ts), '{}')::text || ' ' ||
               coalesce(array_agg(ts ORDER BY ts), '{}')::text
        FROM (SELECT b.ts, b.close FROM pgtrade.bar b
              WHERE b.instrument_id = pgtrade.instrument_id(:'p0')
                AND b.bar_size = '1 day' AND b.ts < :'p1'
              ORDER BY b.ts DESC LIMIT :'p2') x""", SYM, before, n)


def heap_blocks_read():
    """Heap blocks of pgtrade.bar that recent_bars of all the bars reads,
    from the table's I/O statistics around the call."""
    rows = psql("""
        SET stats_fetch_consistency = none;
        SELECT heap_blks_hit + heap_blks_read FROM pg_statio_all_tables
        WHERE relid = 'pgtrade.bar'::regclass;
        SELECT r.bars FROM pgtrade.recent_bars(pgtrade.instrument_id(:'p0'),
                                               '1 day', 'infinity', 500) r;
        SELECT pg_stat_force_next_flush();
        SELECT heap_blks_hit + heap_blks_read FROM pg_statio_all_tables
        WHERE relid = 'pgtrade.bar'::regclass;""", SYM)
    counts = [int(r[0]) for r in rows if r[0].isdigit()]
    return counts[-1] - counts[0]


def pages():
    """How many heap pages hold the instrument's bars."""
    return int(scalar("""
        SELECT count(DISTINCT (b.ctid::text::point)[0]) FROM pgtrade.bar b
        WHERE b.instrument_id = pgtrade.instrument_id(:'p0')""", SYM))


def all_visible():
    """Whether every heap page holding the instrument's bars is marked
    all-visible in the visibility map."""
    return scalar("""
        SELECT bool_and(v.all_visible)
        FROM (SELECT DISTINCT (b.ctid::text::point)[0]::bigint AS blk
              FROM pgtrade.bar b
              WHERE b.instrument_id = pgtrade.instrument_id(:'p0')) p
        JOIN pg_visibility_map('pgtrade.bar') v ON v.blkno = p.blk""",
                  SYM) == "t"


def main():
    t = Tap(14)
    had_vis = scalar("SELECT count(*) FROM pg_extension "
                     "WHERE extname = 'pg_visibility'") == "1"
    psql("""
        SET client_min_messages = warning;
        CREATE EXTENSION IF NOT EXISTS pg_visibility;
        SELECT pgtrade.add_instrument(:'p0');
        SELECT pgtrade.add_instrument(:'p1');
        DELETE FROM pgtrade.bar
        WHERE instrument_id IN (pgtrade.instrument_id(:'p0'),
                                pgtrade.instrument_id(:'p1'));
        -- each bar followed by 90 of another instrument, as a daily
        -- ingest of many instruments leaves them: a page each
        INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high,
                                 low, close, volume)
        SELECT CASE WHEN k = 0 THEN pgtrade.instrument_id(:'p0')
                    ELSE pgtrade.instrument_id(:'p1') END, '1 day',
               timestamptz '2024-01-01 00:00-05'
                   + (d + 1000 * k) * interval '1 day',
               100 + d, 101 + d, 99 + d, 100.25 + d, 1000 + d
        FROM generate_series(1, %d) d, generate_series(0, 90) k
        ORDER BY d, k;
    """ % N, SYM, FILLER)
    psql("VACUUM (ANALYZE) pgtrade.bar")
    try:
        t.ok(all_visible(), "after a vacuum the bars' pages are all-visible")
        t.eq(via_key(), via_query(),
             "recent_bars reads all %d bars as a query of the table does" % N)
        t.eq(via_key("2024-02-10 00:00-05", 7),
             via_query("2024-02-10 00:00-05", 7),
             "and the 7 before a bound")
        t.eq(pages(), N, "one heap page each")
        t.ok(heap_blocks_read() <= 1,
             "reading them, it reads no heap page, only the visibility map's")

        # a reader's snapshot, then a correction and a deletion
        a = Session()
        a.run("BEGIN ISOLATION LEVEL REPEATABLE READ;")
        before = a.run("""
            SELECT r.close::text FROM pgtrade.recent_bars(
                pgtrade.instrument_id('%s'), '1 day', 'infinity', 5) r;""" % SYM)
        psql("""
            UPDATE pgtrade.bar SET close = 555.5, high = 560
            WHERE instrument_id = pgtrade.instrument_id(:'p0')
              AND ts = timestamptz '2024-01-01 00:00-05' + interval '79 days';
            DELETE FROM pgtrade.bar
            WHERE instrument_id = pgtrade.instrument_id(:'p0')
              AND ts = timestamptz '2024-01-01 00:00-05' + interval '78 days';
        """, SYM)
        t.ok(not all_visible(),
             "the correction and the deletion cleared a page's all-visible bit")
        still = a.run("""
            SELECT r.close::text FROM pgtrade.recent_bars(
                pgtrade.instrument_id('%s'), '1 day', 'infinity', 5) r;""" % SYM)
        a.run("COMMIT;")
        a.close()
        t.eq(still, before,
             "a snapshot taken before them still reads the bars as they were")
        t.eq(before, ["{176.25,177.25,178.25,179.25,180.25}"],
             "which were the closes inserted")
        now = scalar("""
            SELECT r.close::text FROM pgtrade.recent_bars(
                pgtrade.instrument_id(:'p0'), '1 day', 'infinity', 5) r""",
                     SYM)
        # the bars of days 75 to 80, less day 78, with day 79 corrected
        t.eq(now, "{175.25,176.25,177.25,555.5,180.25}",
             "a new snapshot reads the corrected close and not the deleted bar")
        t.eq(via_key(), via_query(), "and agrees with a query of the table")
        blocks = heap_blocks_read()
        t.ok(2 <= blocks <= 6,
             "it reads the few heap pages no longer all-visible, the rest "
             "from the key", "%d blocks read" % blocks)
        psql("VACUUM pgtrade.bar")
        t.ok(all_visible(), "a vacuum marks the pages all-visible again")
        t.eq(via_key(), via_query(),
             "read from the key again, the bars are still the table's")
        t.ok(heap_blocks_read() <= 1, "without the heap")
    finally:
        psql("DELETE FROM pgtrade.bar WHERE instrument_id IN "
             "(pgtrade.instrument_id(:'p0'), pgtrade.instrument_id(:'p1'))",
             SYM, FILLER)
        if not had_vis:
            psql("DROP EXTENSION pg_visibility")
    t.done()


if __name__ == "__main__":
    main()
