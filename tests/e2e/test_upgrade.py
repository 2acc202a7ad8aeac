#!/usr/bin/python3
"""Every release upgrades to the current version with ALTER EXTENSION.

The releases are the versioned install scripts kept in
extension/releases/ (pgtrade--<version>.sql) and the upgrade scripts
beside them (pgtrade--<from>--<to>.sql).  For the oldest release this
test creates it in a database of its own, updates it one step at a time
to the control file's default_version, and compares the catalog that
results, object for object, with a fresh install of that version in
another database: functions and procedures as pg_get_functiondef gives
them, aggregates, tables with their columns, defaults, constraints,
indexes, triggers, policies, row security and grants, views, sequences,
types, comments, the extension's members and its configuration tables.
Any difference fails and is shown.  Every release is also created on
its own, so its install script keeps working with the current library.
The update of the bar key is also run on a database where a foreign key
depends on it, one clustered on it, and one partitioned as doc/scale.md
shows.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, TOP, psql  # noqa: E402

REL = os.path.join(TOP, "extension", "releases")
with open(os.path.join(TOP, "extension", "pgtrade.control")) as f:
    CURRENT = re.search(r"^default_version\s*=\s*'([^']*)'", f.read(),
                        re.M).group(1)


def vkey(v):
    return tuple(int(x) for x in v.split("."))


RELEASES = sorted((m.group(1) for m in
                   (re.fullmatch(r"pgtrade--(\d+\.\d+\.\d+)\.sql", n)
                    for n in os.listdir(REL)) if m), key=vkey)
STEPS = {}
for n in os.listdir(REL):
    m = re.fullmatch(r"pgtrade--([\d.]+)--([\d.]+)\.sql", n)
    if m:
        STEPS[m.group(1)] = m.group(2)

# Each object as lines of text; sorted, the two catalogs must be equal.
SNAPSHOT = r"""
WITH members AS (
    SELECT d.classid, d.objid FROM pg_depend d
    JOIN pg_extension e ON e.oid = d.refobjid
    WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
        AND e.extname = 'pgtrade'),
rels AS (
    SELECT c.* FROM pg_class c JOIN members m
        ON m.classid = 'pg_class'::regclass AND m.objid = c.oid)
SELECT line FROM (
    SELECT 'member ' || pg_describe_object(classid, objid, 0) AS line
    FROM members
  UNION ALL
    SELECT 'function ' || p.oid::regprocedure || ' acl=' ||
        coalesce(p.proacl::text, '-') || ' comment=' ||
        coalesce(obj_description(p.oid, 'pg_proc'), '-') || E'\n' ||
        CASE WHEN p.prokind = 'a' THEN
            (SELECT format('aggregate trans=%s final=%s type=%s combine=%s '
                           'serial=%s deserial=%s init=%s',
                           a.aggtransfn, a.aggfinalfn, a.aggtranstype::regtype,
                           a.aggcombinefn, a.aggserialfn, a.aggdeserialfn,
                           a.agginitval)
             FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
        ELSE pg_get_functiondef(p.oid) END
    FROM pg_proc p JOIN members m
        ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
  UNION ALL
    SELECT format('relation %s kind=%s acl=%s rls=%s/%s options=%s comment=%s',
        c.oid::regclass, c.relkind, coalesce(c.relacl::text, '-'),
        c.relrowsecurity, c.relforcerowsecurity,
        coalesce(c.reloptions::text, '-'),
        coalesce(obj_description(c.oid, 'pg_class'), '-'))
        || CASE WHEN c.relkind = 'v'
                THEN E'\n' || pg_get_viewdef(c.oid) ELSE '' END
    FROM rels c
  UNION ALL
    SELECT format('column %s.%s %s notnull=%s default=%s identity=%s '
                  'generated=%s acl=%s comment=%s', a.attrelid::regclass,
        a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
        coalesce(pg_get_expr(d.adbin, d.adrelid), '-'), a.attidentity,
        a.attgenerated, coalesce(a.attacl::text, '-'),
        coalesce(col_description(a.attrelid, a.attnum), '-'))
    FROM rels c JOIN pg_attribute a ON a.attrelid = c.oid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
    SELECT format('constraint %s %s %s', co.conrelid::regclass, co.conname,
        pg_get_constraintdef(co.oid))
    FROM rels c JOIN pg_constraint co ON co.conrelid = c.oid
  UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
    FROM rels c JOIN pg_index i ON i.indrelid = c.oid
  UNION ALL
    SELECT format('trigger %s enabled=%s', pg_get_triggerdef(tg.oid),
        tg.tgenabled)
    FROM rels c JOIN pg_trigger tg ON tg.tgrelid = c.oid
    WHERE NOT tg.tgisinternal
  UNION ALL
    SELECT format('policy %s.%s cmd=%s permissive=%s roles=%s using=%s '
                  'check=%s', pol.polrelid::regclass, pol.polname,
        pol.polcmd, pol.polpermissive,
        (SELECT string_agg(r::regrole::text, ',' ORDER BY r::regrole::text)
         FROM unnest(pol.polroles) r),
        coalesce(pg_get_expr(pol.polqual, pol.polrelid), '-'),
        coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '-'))
    FROM rels c JOIN pg_policy pol ON pol.polrelid = c.oid
  UNION ALL
    SELECT format('sequence %s %s %s %s %s %s', s.seqrelid::regclass,
        s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax)
    FROM rels c JOIN pg_sequence s ON s.seqrelid = c.oid
  UNION ALL
    SELECT format('type %s %s comment=%s', t.oid::regtype, t.typtype,
        coalesce(obj_description(t.oid, 'pg_type'), '-'))
    FROM pg_type t JOIN members m
        ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
  UNION ALL
    SELECT format('schema acl=%s comment=%s', n.nspacl,
        coalesce(obj_description(n.oid, 'pg_namespace'), '-'))
    FROM pg_namespace n WHERE n.nspname = 'pgtrade'
  UNION ALL
    SELECT format('extension version=%s config=%s conditions=%s',
        e.extversion,
        (SELECT string_agg(x::regclass::text, ',' ORDER BY x::regclass::text)
         FROM unnest(e.extconfig) x), e.extcondition)
    FROM pg_extension e WHERE e.extname = 'pgtrade'
) s ORDER BY line;
"""


def in_db(db, sql):
    """Exit status, rows (separated by \x1e: a row may hold newlines) and
    errors of a script."""
    r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-R", "\x1e", "-v",
                        "ON_ERROR_STOP=1", "-d", db],
                       input=sql, capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def fresh_db(name):
    psql("DROP DATABASE IF EXISTS %s" % name)
    psql("CREATE DATABASE %s" % name)


t = Tap(2 * len(RELEASES) + 9)
t.ok(RELEASES and vkey(RELEASES[-1]) < vkey(CURRENT),
     "releases %s, each older than the current version %s"
     % (", ".join(RELEASES), CURRENT))

# every release's own script still installs against today's library
for v in RELEASES:
    fresh_db("pgtrade_release")
    rc, _, err = in_db("pgtrade_release", "SET client_min_messages = warning;"
                       "CREATE EXTENSION pgtrade VERSION '%s';" % v)
    t.ok(rc == 0, "release %s installs with the current library" % v,
         err[-1500:])
    # until UPDATE runs, the library meets the release's declarations: a
    # backtest runs, or, where an engine's arguments changed since the
    # release, is refused with a hint; it never reads arguments the call
    # does not pass (which took the server down)
    rc, _, err = in_db("pgtrade_release", """
        SET client_min_messages = warning;
        SELECT pgtrade.add_account('UPA1');
        SELECT pgtrade.add_instrument('UPX1', 1);
        INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high,
                                 low, close, volume)
        SELECT pgtrade.instrument_id('UPX1'), '1 day',
               '2020-01-01'::timestamptz + i * interval '1 day',
               10 + i % 3, 12, 9, 10 + i % 4, 1
        FROM generate_series(1, 50) i;
        SELECT pgtrade.create_strategy('upx1', 'sma_cross', 'UPX1', 'UPA1',
               '{"fast": 2, "slow": 3}', 1, max_bar_age => '100 years',
               market_hours => 'always');
        SELECT bars FROM pgtrade.backtest('upx1', '2020-01-01', '2020-03-01',
                                          risk => false);
    """)
    t.ok(rc == 0 or ("is declared for another version of pgtrade's "
                     "library" in err
                     and "Run ALTER EXTENSION pgtrade UPDATE" in err),
         "release %s's backtest under the current library runs or is "
         "refused with a hint" % v, err[-1500:])

# the oldest, updated step by step
fresh_db("pgtrade_upgraded")
steps = []
v = RELEASES[0]
sql = ("SET client_min_messages = warning;"
       "CREATE EXTENSION pgtrade VERSION '%s';" % v)
while v != CURRENT and v in STEPS:
    v = STEPS[v]
    steps.append(v)
    sql += "ALTER EXTENSION pgtrade UPDATE TO '%s';" % v
rc, _, err = in_db("pgtrade_upgraded", sql)
t.ok(rc == 0 and v == CURRENT, "%s updates step by step to %s (%s)"
     % (RELEASES[0], CURRENT, " -> ".join([RELEASES[0]] + steps)),
     err[-1500:] or "no upgrade script reaches %s from %s" % (CURRENT, v))

fresh_db("pgtrade_fresh")
in_db("pgtrade_fresh", "SET client_min_messages = warning;"
      "CREATE EXTENSION pgtrade;")
_, up, err_up = in_db("pgtrade_upgraded", SNAPSHOT)
_, fr, err_fr = in_db("pgtrade_fresh", SNAPSHOT)
a = set(up.strip().split("\x1e"))
b = set(fr.strip().split("\x1e"))
diff = ["only after the upgrade: " + x for x in sorted(a - b)] + \
       ["only in a fresh install: " + x for x in sorted(b - a)]
t.ok(not diff and len(b) > 1000,
     "the upgraded catalog is a fresh install's (%d objects and parts "
     "compared)" % len(b),
     (err_up + err_fr + "\n".join(diff))[:4000])


# The bar key is rebuilt with the prices by name-independent catalog
# lookups; three databases it must not trip over.  Each: the oldest
# release, some bars, what the case prepares, then UPDATE.
BARS = """
    SET client_min_messages = warning;
    CREATE EXTENSION pgtrade VERSION '%s';
    SELECT pgtrade.add_instrument('UPB1', 1);
    INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low,
                             close, volume)
    SELECT pgtrade.instrument_id('UPB1'), '1 day',
           '2020-01-01'::timestamptz + i * interval '1 day', 10, 12, 9,
           10 + i, 1
    FROM generate_series(1, 30) i;
""" % RELEASES[0]
KEY = """
    SELECT i.indnatts || ' ' || i.indisclustered || ' ' ||
           (SELECT (pgtrade.recent_bars(pgtrade.instrument_id('UPB1'),
                    '1 day', 'infinity', 3)).close::text)
    FROM pg_constraint c JOIN pg_index i ON i.indexrelid = c.conindid
    WHERE c.conrelid = 'pgtrade.bar'::regclass AND c.contype = 'p';
"""


def upgrade_case(prepare):
    """rc, stderr of the update, and the key's column count, clustered
    flag and the last three closes by recent_bars after it."""
    fresh_db("pgtrade_upgraded")
    rc, _, err = in_db("pgtrade_upgraded", BARS + prepare)
    if rc != 0:
        return rc, err, None
    rc, _, err = in_db("pgtrade_upgraded", "ALTER EXTENSION pgtrade UPDATE;")
    _, key, _ = in_db("pgtrade_upgraded", KEY)
    return rc, err, key.strip("\x1e\n")


rc, err, key = upgrade_case("""
    CREATE TABLE public.bar_note (instrument_id bigint, bar_size interval,
        ts timestamptz, FOREIGN KEY (instrument_id, bar_size, ts)
        REFERENCES pgtrade.bar);""")
t.ok(rc == 0 and "left without the prices" in err
     and key == "3 false {38,39,40}",
     "a key a foreign key depends on is left as it was, with a warning, "
     "and recent_bars reads the heap", "rc %s, key %r\n%s" % (rc, key, err))
rc, err, key = upgrade_case("CLUSTER pgtrade.bar USING bar_pkey;")
t.ok(rc == 0 and key == "8 true {38,39,40}",
     "a key the table was clustered on is rebuilt and clustered on again",
     "rc %s, key %r\n%s" % (rc, key, err))
# partitioned as doc/scale.md shows: the old table keeps the name
# bar_pkey, so the new key is bar_pkey1
rc, err, key = upgrade_case("""
    BEGIN;
    ALTER TABLE pgtrade.bar RENAME TO bar_unpartitioned;
    CREATE TABLE pgtrade.bar (LIKE pgtrade.bar_unpartitioned
        INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED)
        PARTITION BY RANGE (ts);
    ALTER TABLE pgtrade.bar ADD PRIMARY KEY (instrument_id, bar_size, ts);
    CREATE TABLE pgtrade.bar_default PARTITION OF pgtrade.bar DEFAULT;
    INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low,
        close, volume)
    SELECT instrument_id, bar_size, ts, open, high, low, close, volume
    FROM pgtrade.bar_unpartitioned;
    COMMIT;""")
t.ok(rc == 0 and "is partitioned" in err and key == "8 false {38,39,40}",
     "a partitioned bar table's key is rebuilt, under its own name, and "
     "the partitions' autovacuum settings are left to the operator",
     "rc %s, key %r\n%s" % (rc, key, err))

# a strategy's limits named by the strategy alone move to its account,
# unless the account's row exists too: then both stay, with a warning
rc, err, _ = upgrade_case("""
    SELECT pgtrade.add_account(a) FROM unnest('{UPS1,UPS2}'::text[]) a;
    SELECT pgtrade.create_strategy(lower(a), 'sma_cross', 'UPB1', a,
           '{"fast": 2, "slow": 3}', 1) FROM unnest('{UPS1,UPS2}'::text[]) a;
    SELECT pgtrade.set_risk_limit(NULL, strategy_id, max_position => 5)
    FROM pgtrade.strategy;
    SELECT pgtrade.set_risk_limit('UPS2', strategy_id, max_position => 3)
    FROM pgtrade.strategy WHERE name = 'ups2';
    UPDATE pgtrade.strategy SET grace = '0' WHERE name = 'ups1';""")
_, rows, _ = in_db("pgtrade_upgraded", """
    SELECT string_agg(s.name || ':' || coalesce(l.account_id, '-') || ':'
                      || l.max_position, ' '
                      ORDER BY s.name, coalesce(l.account_id, '-'))
    FROM pgtrade.risk_limit l JOIN pgtrade.strategy s USING (strategy_id);""")
t.ok(rc == 0 and rows.strip("\x1e\n") == "ups1:UPS1:5 ups2:-:5 ups2:UPS2:3"
     and "has two rows of risk limits" in err,
     "a strategy's limits kept without its account move to it on update, "
     "or stay beside the account's row with a warning",
     "rc %s, rows %r\n%s" % (rc, rows, err))
_, grace, _ = in_db("pgtrade_upgraded", """
    SELECT string_agg(name || ':' || grace, ' ' ORDER BY name)
    FROM pgtrade.strategy;""")
t.ok(grace.strip("\x1e\n") == "ups1:00:01:00 ups2:00:05:00"
     and "now have 1 minute: ups1 (00:00:00)" in err,
     "a grace under a minute, which made every pg_cron run missed, becomes "
     "a minute on update, with a warning", "grace %r\n%s" % (grace, err))

# a position an adjustment took through zero, traded on an earlier day:
# the update recomputes it (the 20 short of unknown cost realize nothing
# when bought back, where the release booked 20 * (305 - 300) short, a
# loss of 100), and that change belongs to no day: today realized 0
rc, err, _ = upgrade_case("""
    SELECT pgtrade.add_account('UPD1');
    SELECT pgtrade.add_instrument('UPD1X', 7001);
    SELECT pgtrade.record_fill('upd.0001.01.01', NULL, 'UPD1', 7001, 'B', 50,
           300, '2026-01-05 15:00+00');
    INSERT INTO pgtrade.position_adjustment (account_id, instrument_id,
           quantity, reason)
    VALUES ('UPD1', pgtrade.instrument_id('UPD1X'), -70, 'broker shows -20');
    SELECT pgtrade.record_fill('upd.0002.01.01', NULL, 'UPD1', 7001, 'B', 30,
           305, '2026-01-05 15:01+00');
    SET session_replication_role = replica;
    UPDATE pgtrade.position SET day = day - 1;
    RESET session_replication_role;""")
_, pnl, _ = in_db("pgtrade_upgraded", """
    SELECT p.quantity || ' ' || p.avg_cost || ' ' || p.realized_pnl || ' '
           || (d.realized = 0)
    FROM pgtrade.position p, pgtrade.account_day_pnl('UPD1') d
    WHERE p.account_id = 'UPD1';""")
t.ok(rc == 0 and pnl.strip("\x1e\n") == "10 305 0 true",
     "a position with an adjustment is recomputed on update (10 at 305, "
     "nothing realized), and today's realized P&L does not move",
     "rc %s, got %r\n%s" % (rc, pnl, err))

for name in ("pgtrade_release", "pgtrade_upgraded", "pgtrade_fresh"):
    psql("DROP DATABASE IF EXISTS %s" % name)
t.done()
