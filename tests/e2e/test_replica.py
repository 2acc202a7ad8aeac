#!/usr/bin/python3
"""Analysts on a streaming replica: what reads on a hot standby and what
is refused there.

The test makes its own standby of the sandbox cluster with pg_basebackup
-R in a directory it creates beside the sandbox, on a free loopback port
(and its own socket directory), runs it as the postgres user, and stops
it and removes the directory at the end.  It skips when pg_basebackup
is not installed.

On the primary: two accounts, an instrument with 30 daily bars, an
inactive sma_cross strategy, a kept backtest, replayed runs, and a
limit order in each account; the trader role pgtrade_user is granted
the first account only.  On the standby, once it has replayed past
that, every view of pgtrade reads and gives the primary's rows; the
indicators, their window aggregates, recent_bars, a backtest that keeps
nothing, a sweep, the reports and strategy_performance answer as on the
primary; row security holds (the trader sees the one account's order);
and whatever writes (a kept backtest, a run, an order) is refused with
SQLSTATE 25006 (read_only_sql_transaction).
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, SANDBOX, psql, scalar, wait_until  # noqa: E402

BIN = "/usr/lib/postgresql/15/bin"
ACC1, ACC2 = "DUREPL01", "DUREPL02"
SYM, CONID = "REPLX", 990801
TRADER = "pgtrade_user"

if not os.path.exists(os.path.join(BIN, "pg_basebackup")):
    print("1..0 # SKIP pg_basebackup is not installed")
    sys.exit(0)


def free_port():
    """A TCP port free on loopback now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def as_postgres(*cmd):
    return subprocess.run(["runuser", "-u", "postgres", "--"] + list(cmd),
                          capture_output=True, text=True, cwd="/")


def on_standby(sql, role=None):
    """Run sql on the standby (as role, by SET ROLE); return (ok, output),
    output being the rows as text, or the error's SQLSTATE and message."""
    pre = "\\set VERBOSITY verbose\n"
    if role:
        pre += "SET ROLE %s;\n" % role
    out = subprocess.run(
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", SBY_RUN,
         "-p", str(SBY_PORT), "-U", "postgres", "-d", "pgtrade"],
        input=pre + sql, capture_output=True, text=True)
    if out.returncode == 0:
        return True, out.stdout
    err = [ln for ln in out.stderr.splitlines() if "ERROR:" in ln]
    return False, (err[0].split("ERROR:", 1)[1].strip() if err
                   else out.stderr.strip())


def on_primary(sql, role=None):
    """Run sql on the primary like on_standby."""
    pre = "SET ROLE %s;\n" % role if role else ""
    out = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"],
                         input=pre + sql, capture_output=True, text=True)
    return out.returncode == 0, out.stdout if out.returncode == 0 \
        else out.stderr


# --- fixture on the primary --------------------------------------------------
for a in (ACC1, ACC2):
    psql("SELECT pgtrade.add_account(:'p0')", a)
    psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 1000)", a)
psql("SELECT pgtrade.add_instrument(:'p0', :'p1')", SYM, CONID)
psql("""
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low,
	close, volume)
SELECT pgtrade.instrument_id(:'p0'), '1 day',
	(d::date::timestamp AT TIME ZONE 'America/New_York'),
	100 + (i % 7), 102 + (i % 7), 98 + (i % 5), 100 + (i % 5), 1000 + i
FROM generate_series(1, 30) i,
	LATERAL (SELECT date '2024-02-01' + i AS d) x
ON CONFLICT DO NOTHING""", SYM)
psql("""SELECT pgtrade.create_strategy('repl_sma', 'sma_cross', :'p0', :'p1',
	'{"fast": 2, "slow": 4}', 10, max_bar_age => '100 years',
	market_hours => 'always')
WHERE NOT EXISTS (SELECT 1 FROM pgtrade.strategy WHERE name = 'repl_sma')""",
     SYM, ACC1)
BT = scalar("SELECT backtest_id FROM pgtrade.backtest('repl_sma', "
            "'2024-02-01', '2024-03-05', capital => 10000, store => true)")
psql("SELECT pgtrade.run_strategy('repl_sma', pgtrade.bar_end(b.ts, "
     "'1 day', 'America/New_York', '16:00'), 'replay') FROM pgtrade.bar b "
     "WHERE b.instrument_id = pgtrade.instrument_id(:'p0') "
     "AND b.ts >= '2024-02-20' ORDER BY b.ts", SYM)
ORDERS = [scalar("SELECT (pgtrade.place_order(:'p0', :'p1', 'buy', 1, "
                 "'limit', limit_price => 50, valid_for => '1 day')).order_id",
                 a, SYM)
          for a in (ACC1, ACC2)]
psql("SELECT pgtrade.grant_account(:'p0', :'p1')", TRADER, ACC1)
STRATEGY_ID = scalar("SELECT strategy_id FROM pgtrade.strategy "
                     "WHERE name = 'repl_sma'")
VIEWS = [r[0] for r in psql("SELECT viewname FROM pg_views WHERE "
                            "schemaname = 'pgtrade' ORDER BY 1")]

# analysts' reads: (description, SQL, role); each must give on the standby
# what it gives on the primary.  The monitoring views hold ages counted
# from now(): of those, the rows are counted and every column read.
AGES = ("listener_health", "monitor", "monitor_accounts")
READS = [("view %s" % v,
          "SELECT count(*) FROM pgtrade.%s v WHERE v::text IS NOT NULL" % v
          if v in AGES else
          "SELECT md5(coalesce(string_agg(v::text, '|' ORDER BY v::text), "
          "'')) || ' ' || count(*) FROM pgtrade.%s v" % v, None)
         for v in VIEWS] + [
    ("a reader's view of bars",
     "SELECT count(*), sum(close) FROM pgtrade.bars WHERE symbol = '%s'"
     % SYM, "pgtrade_reader"),
    ("indicators on arrays",
     "SELECT pgtrade.sma(array_agg(close ORDER BY ts), 5)::text, "
     "pgtrade.rsi(array_agg(close ORDER BY ts), 5)::text "
     "FROM pgtrade.bars WHERE symbol = '%s'" % SYM, "pgtrade_reader"),
    ("indicator window aggregates",
     "SELECT string_agg(s::text, ',') FROM (SELECT pgtrade.sma(close, 3) "
     "OVER (ORDER BY ts) AS s FROM pgtrade.bars WHERE symbol = '%s') x"
     % SYM, "pgtrade_reader"),
    ("recent_bars",
     "SELECT bars, close::text FROM pgtrade.recent_bars(pgtrade."
     "instrument_id('%s'), '1 day', '2024-03-01', 5)" % SYM,
     "pgtrade_reader"),
    ("a backtest that keeps nothing",
     "SELECT bars, trades, final_equity, trade_list FROM pgtrade.backtest("
     "'repl_sma', '2024-02-01', '2024-03-05', capital => 10000)", None),
    ("a sweep",
     "SELECT params, trades, final_equity FROM pgtrade.backtest_sweep("
     "'repl_sma', '2024-02-01', '2024-03-05', '{\"slow\": [3, 4]}', "
     "capital => 10000)", None),
    ("report_backtest", "SELECT md5(pgtrade.report_backtest(%s))" % BT,
     None),
    ("report_strategy",
     "SELECT md5(pgtrade.report_strategy(%s))" % STRATEGY_ID, None),
    ("strategy_performance",
     "SELECT count(*) FROM pgtrade.strategy_performance('repl_sma')", None),
    ("a trader's orders under row security",
     "SELECT string_agg(account_id, ',' ORDER BY account_id) FROM "
     "pgtrade.orders WHERE order_id IN (%s)" % ",".join(ORDERS), TRADER),
]
# what writes: (description, SQL, role)
WRITES = [
    ("a kept backtest",
     "SELECT * FROM pgtrade.backtest('repl_sma', '2024-02-01', "
     "'2024-03-05', store => true)", None),
    ("a replayed run",
     "SELECT * FROM pgtrade.run_strategy('repl_sma', '2024-03-01 21:00+00', "
     "'replay')", None),
    ("an order", "SELECT pgtrade.place_order('%s', '%s', 'buy', 1, 'limit', "
     "limit_price => 50)" % (ACC1, SYM), TRADER),
]

t = Tap(3 + len(READS) + 1 + len(WRITES) + 1)

# --- the standby -------------------------------------------------------------
parent = os.path.dirname(SANDBOX.rstrip("/"))
top = tempfile.mkdtemp(prefix=os.path.basename(SANDBOX.rstrip("/")) +
                       "-replica-", dir=parent)
shutil.chown(top, "postgres", "postgres")
os.chmod(top, 0o700)
SBY_DATA = os.path.join(top, "pgdata")
SBY_RUN = os.path.join(top, "run")
SBY_LOG = os.path.join(top, "standby.log")
SBY_PORT = free_port()
started = False
try:
    as_postgres("mkdir", "-p", SBY_RUN)
    bb = as_postgres(os.path.join(BIN, "pg_basebackup"), "-h",
                     os.environ["PGHOST"], "-p", os.environ["PGPORT"],
                     "-U", "postgres", "-D", SBY_DATA, "-R", "-X", "stream",
                     "-c", "fast")
    t.ok(bb.returncode == 0, "pg_basebackup -R copies the primary",
         bb.stderr)
    st = as_postgres(
        os.path.join(BIN, "pg_ctl"), "start", "-w", "-t", "60", "-D",
        SBY_DATA, "-l", SBY_LOG, "-o",
        "-p %d -k %s -c listen_addresses=127.0.0.1 -c hot_standby=on"
        % (SBY_PORT, SBY_RUN))
    started = st.returncode == 0
    t.ok(started and on_standby("SELECT pg_is_in_recovery()") ==
         (True, "t\n"), "the standby runs, in recovery, on port %d"
         % SBY_PORT, st.stdout + st.stderr)
    # a last write on the primary, then wait until the standby has it
    lsn = scalar("SELECT pg_current_wal_insert_lsn()")
    t.ok(wait_until(lambda: on_standby(
        "SELECT pg_last_wal_replay_lsn() >= '%s'" % lsn) == (True, "t\n"),
        60), "it replays past the fixture")

    for desc, sql, role in READS:
        want = on_primary(sql, role)
        have = on_standby(sql, role)
        t.ok(have == want, "standby: %s gives the primary's answer" % desc,
             "primary %r, standby %r" % (want, have))
    t.eq(on_standby(READS[-1][1], TRADER), (True, ACC1 + "\n"),
         "standby: the trader sees the order of %s only" % ACC1)
    for desc, sql, role in WRITES:
        ok, out = on_standby(sql, role)
        t.ok(not ok and out.startswith("25006"),
             "standby: %s is refused as read-only" % desc, out)
finally:
    if started:
        as_postgres(os.path.join(BIN, "pg_ctl"), "stop", "-D", SBY_DATA,
                    "-m", "fast", "-w")
    shutil.rmtree(top, ignore_errors=True)
    for o in ORDERS:
        psql("SELECT pgtrade.cancel_order(:'p0')", o)
    psql("SELECT pgtrade.revoke_account(:'p0', :'p1')", TRADER, ACC1)
t.ok(all(scalar("SELECT status FROM pgtrade.orders WHERE order_id = :'p0'",
                o) == "cancelled" for o in ORDERS),
     "the primary's fixture orders are cancelled again")
t.done()
