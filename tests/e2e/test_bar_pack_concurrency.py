#!/usr/bin/python3
"""Packed bars under concurrent sessions: a read through the packs must
answer what a plain query of pgtrade.bar answers in the same snapshot.

- A bar inserted by a transaction still open while pack_bars packs its
  range is not in the packs; once it commits, reads must see it anyway
  (its noted change keeps them off that pack).
- A REPEATABLE READ reader keeps reading the bars of its snapshot while
  another session corrects a close and pack_bars packs again.
- A second pack_bars waits for the first and then sees its packs; at
  REPEATABLE READ it fails with 40001 instead.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Session, Tap, psql, scalar  # noqa: E402

SYM = "BPCON1"
FROM, TO, WINDOW = "2020-01-01", "2030-01-01", 20

TRUTH = """
    SELECT count(*) || ' ' || array_agg(ts ORDER BY ts)::text || ' '
        || array_agg(open ORDER BY ts)::text || ' '
        || array_agg(close ORDER BY ts)::text || ' '
        || array_agg(volume ORDER BY ts)::text
    FROM (SELECT b.* FROM pgtrade.bar b
          WHERE b.instrument_id = pgtrade.instrument_id('%(s)s')
            AND b.bar_size = '1 day' AND b.ts <= '%(t)s'
            AND b.ts >= pgtrade.bars_floor('%(f)s', '1 day')
          UNION ALL
          (SELECT b.* FROM pgtrade.bar b
           WHERE b.instrument_id = pgtrade.instrument_id('%(s)s')
             AND b.bar_size = '1 day'
             AND b.ts < pgtrade.bars_floor('%(f)s', '1 day')
           ORDER BY b.ts DESC LIMIT %(w)d)) x;""" % dict(
    s=SYM, f=FROM, t=TO, w=WINDOW)
READ = """
    SELECT r.bars || ' ' || r.ts::text || ' ' || r.open::text || ' '
        || r.close::text || ' ' || r.volume::text
    FROM pgtrade.period_bars(pgtrade.instrument_id('%s'), '1 day', '%s',
                             '%s', %d) r;""" % (SYM, FROM, TO, WINDOW)


def day(n):
    """The ts of the bar n days after 2020-01-01, as SQL."""
    return ("('2020-01-01'::date + %d)::timestamp AT TIME ZONE "
            "'America/New_York'" % n)


def agree(session=None):
    """Whether period_bars reads what the query reads, in one statement's
    snapshot each (or both in the session's, when it has one)."""
    if session is None:
        return scalar(READ) == scalar(TRUTH), scalar(READ)
    read = session.run(READ)
    truth = session.run(TRUTH)
    return read == truth, read


t = Tap(9)
psql("""SET client_min_messages = warning;
    SELECT pgtrade.add_instrument('%s', 990877);
    DELETE FROM pgtrade.bar
    WHERE instrument_id = pgtrade.instrument_id('%s');
    INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low,
        close, volume)
    SELECT pgtrade.instrument_id('%s'), '1 day',
        ('2020-01-01'::date + 2 * n)::timestamp AT TIME ZONE 'America/New_York',
        100 + n %% 13, 120, 80, 100 + n %% 11, n
    FROM generate_series(0, 399) n;
    SELECT count(*) FROM pgtrade.pack_bars('%s');""" % (
    SYM, SYM, SYM, SYM))
t.eq(scalar("""SELECT count(*) FROM pgtrade.bar_pack
               WHERE instrument_id = pgtrade.instrument_id('%s')""" % SYM),
     "2", "400 bars: two packs")

# a writer open across a packing
w = Session()
w.run("BEGIN; INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, "
      "high, low, close, volume) VALUES (pgtrade.instrument_id('%s'), "
      "'1 day', %s, 50, 60, 40, 55, 7);" % (SYM, day(2 * 50 + 1)))
psql("SELECT count(*) FROM pgtrade.pack_bars('%s', '1 day', rebuild => true)"
     % SYM)
w.run("COMMIT;")
ok, _ = agree()
t.ok(ok, "a bar committed after a packing that could not see it is read")
t.ok(int(scalar("""SELECT count(*) FROM pgtrade.bar_change
                   WHERE instrument_id = pgtrade.instrument_id('%s')"""
                % SYM)) == 1, "its change is still noted")
psql("SELECT count(*) FROM pgtrade.pack_bars()")
ok, _ = agree()
t.ok(ok, "and packed at the next packing")

# a REPEATABLE READ reader across a correction and a packing
r = Session()
r.run("BEGIN ISOLATION LEVEL REPEATABLE READ;")
ok, before = agree(r)
psql("""UPDATE pgtrade.bar SET close = close + 1
        WHERE instrument_id = pgtrade.instrument_id('%s') AND ts = %s;
        SELECT count(*) FROM pgtrade.pack_bars();""" % (SYM, day(2 * 200)))
ok2, after = agree(r)
t.ok(ok and ok2 and before == after,
     "a REPEATABLE READ reader reads its snapshot's bars throughout")
r.run("COMMIT;")
ok, now = agree()
t.ok(ok and now != before, "a new snapshot reads the corrected close")

# two packers: the second waits, then sees the first's packs
p1, p2 = Session(), Session()
p1.run("BEGIN; SELECT count(*) FROM pgtrade.pack_bars('%s', '1 day', "
       "rebuild => true);" % SYM)
p2.send("SELECT packs_dropped || ' ' || packs_added FROM "
        "pgtrade.pack_bars('%s', '1 day', rebuild => true);" % SYM)
p1.run("COMMIT;")
second = p2.collect()
ok, _ = agree()
t.ok(ok and second == ["2 2"],
     "a second packer waits for the first and repacks its packs: %s"
     % second)
for s in (w, r, p1, p2):
    s.close()

# at REPEATABLE READ, a packer whose snapshot is older than another
# packer's work fails rather than packing over it; alone it packs
p1, p2 = Session(), Session()
p1.run("BEGIN; SELECT count(*) FROM pgtrade.pack_bars('%s', '1 day', "
       "rebuild => true);" % SYM)
p2.run("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1;")
p2.send("SELECT count(*) FROM pgtrade.pack_bars('%s', '1 day', "
        "rebuild => true);" % SYM)
p1.run("COMMIT;")
second = " ".join(p2.collect())
t.ok("could not serialize access" in second,
     "a REPEATABLE READ packer that waited for another fails with 40001")
p1.close()
p2.p.wait(timeout=30)
psql("BEGIN ISOLATION LEVEL REPEATABLE READ; "
     "SELECT count(*) FROM pgtrade.pack_bars('%s', '1 day', rebuild => true);"
     " COMMIT;" % SYM)
ok, _ = agree()
t.ok(ok, "one alone packs at REPEATABLE READ")

psql("""DELETE FROM pgtrade.bar
        WHERE instrument_id = pgtrade.instrument_id('%s');
        SELECT count(*) FROM pgtrade.pack_bars('%s');""" % (SYM, SYM))
t.done()
