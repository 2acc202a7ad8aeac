#!/usr/bin/python3
"""Packed bars on a logical replication subscriber: a bar feed's
database publishes pgtrade.bar, a trading database subscribes to it and
packs the bars it receives.  The apply worker fires row triggers only,
so a bar it applies must still keep the packs it meets from being read.

Both databases are in the sandbox cluster (wal_level = logical): the
sandbox's own database publishes, a database made here subscribes
through a slot made beforehand (a subscription to its own cluster
cannot make one).  Everything made here is dropped at the end.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, psql, scalar  # noqa: E402

SUB_DB = "pgtrade_bar_subscriber"
PUB, SLOT = "pgtrade_bar_feed", "pgtrade_bar_feed_slot"
SYM = "BPREP1"


def sub(sql):
    """Rows of SQL run in the subscribing database."""
    old = os.environ.get("PGDATABASE")
    os.environ["PGDATABASE"] = SUB_DB
    try:
        return psql(sql)
    finally:
        os.environ["PGDATABASE"] = old


def sub_scalar(sql):
    rows = sub(sql)
    return rows[0][0] if rows else None


TRUTH = """
    SELECT count(*) || ' ' || md5(array_agg(ts ORDER BY ts)::text || ' '
        || array_agg(close ORDER BY ts)::text)
    FROM pgtrade.bar b
    WHERE b.instrument_id = (SELECT instrument_id FROM pgtrade.instrument
                             WHERE symbol = '%s')
      AND b.bar_size = '1 day'""" % SYM
READ = """
    SELECT r.bars || ' ' || md5(r.ts::text || ' ' || r.close::text)
    FROM pgtrade.period_bars((SELECT instrument_id FROM pgtrade.instrument
                              WHERE symbol = '%s'),
                             '1 day', '1900-01-01', '2100-01-01', 1) r""" % SYM


def cleanup():
    sub_exists = scalar("SELECT count(*) FROM pg_database WHERE datname = "
                        ":'p0'", SUB_DB) == "1"
    if sub_exists:
        sub("""DO $$BEGIN
                 IF EXISTS (SELECT 1 FROM pg_subscription
                            WHERE subname = 'pgtrade_bar_sub') THEN
                   ALTER SUBSCRIPTION pgtrade_bar_sub DISABLE;
                   ALTER SUBSCRIPTION pgtrade_bar_sub SET (slot_name = NONE);
                   DROP SUBSCRIPTION pgtrade_bar_sub;
                 END IF;
               END$$""")
    psql("""SELECT pg_drop_replication_slot(slot_name)
            FROM pg_replication_slots WHERE slot_name = :'p0'""", SLOT)
    psql("DROP PUBLICATION IF EXISTS %s" % PUB)
    psql("DROP DATABASE IF EXISTS %s" % SUB_DB)


t = Tap(6)
if scalar("SHOW wal_level") != "logical":
    t.skip_rest("wal_level is not logical in this cluster")
    t.done()
    sys.exit(0)
cleanup()
psql("""SET client_min_messages = warning;
    SELECT pgtrade.add_instrument('%s', 990878);
    DELETE FROM pgtrade.bar
    WHERE instrument_id = pgtrade.instrument_id('%s');
    INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low,
        close, volume)
    SELECT pgtrade.instrument_id('%s'), '1 day',
        ('2020-01-01'::date + n)::timestamp AT TIME ZONE 'America/New_York',
        100, 120, 80, 100 + n %% 17, n
    FROM generate_series(0, 499) n;
    CREATE PUBLICATION %s FOR TABLE pgtrade.instrument, pgtrade.bar;
    SELECT pg_create_logical_replication_slot('%s', 'pgoutput');""" % (
    SYM, SYM, SYM, PUB, SLOT))
psql("CREATE DATABASE %s" % SUB_DB)
try:
    conninfo = "host=%s port=%s dbname=%s user=%s" % (
        os.environ["PGHOST"], os.environ["PGPORT"],
        os.environ["PGDATABASE"], os.environ.get("PGUSER", "postgres"))
    sub("""SET client_min_messages = warning;
        CREATE EXTENSION pgtrade CASCADE;
        CREATE SUBSCRIPTION pgtrade_bar_sub CONNECTION '%s'
            PUBLICATION %s WITH (create_slot = false, slot_name = '%s')"""
        % (conninfo, PUB, SLOT))

    def synced():
        return sub_scalar(TRUTH) == scalar(TRUTH)

    deadline = time.time() + 60
    while not synced() and time.time() < deadline:
        time.sleep(0.5)
    t.ok(synced(), "the subscriber has the feed's 500 bars")
    packed = sub("SELECT packs_added FROM pgtrade.pack_bars('%s')" % SYM)
    t.eq(packed, [["3"]], "and packs them: three packs")
    t.eq(sub_scalar(READ), sub_scalar(TRUTH),
         "reads through the packs agree with its table")

    psql("""UPDATE pgtrade.bar SET close = 999
            WHERE instrument_id = pgtrade.instrument_id('%s')
              AND ts = ('2020-01-01'::date + 200)::timestamp
                       AT TIME ZONE 'America/New_York'""" % SYM)
    deadline = time.time() + 60
    applied = """SELECT count(*) FROM pgtrade.bar
                 WHERE close = 999 AND instrument_id = (SELECT instrument_id
                     FROM pgtrade.instrument WHERE symbol = '%s')""" % SYM
    while sub_scalar(applied) != "1" and time.time() < deadline:
        time.sleep(0.5)
    t.ok(sub_scalar(applied) == "1", "the feed's correction is applied")
    t.eq(sub_scalar(READ), sub_scalar(TRUTH),
         "a read on the subscriber sees it, not the pack that lacks it")
    sub("SELECT count(*) FROM pgtrade.pack_bars()")
    t.eq(sub_scalar(READ), sub_scalar(TRUTH), "and after packing again")
finally:
    cleanup()
    psql("""DELETE FROM pgtrade.bar
            WHERE instrument_id = pgtrade.instrument_id('%s')""" % SYM)
t.done()
