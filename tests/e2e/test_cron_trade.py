#!/usr/bin/python3
"""End to end: real GOOG bars -> a pg_cron-started run -> decision ->
order -> pgtrade-listener -> simulator -> fill -> position.

The test never calls run_due itself: pg_cron's every-minute job does.
The crossover session is found here independently, from the formula,
over the bars Debian's python-matplotlib-data ships: with SMA(10) and
SMA(30) of closes, the fast average crosses above the slow one on
2008-08-19.  Bars are loaded up to that session, the strategy is made
active with a '* * * * *' schedule, and the test waits for pg_cron.
"""
import csv
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import (TOP, Tap, psql, scalar, wait_until, load_csv, Sim,  # noqa
                    services, run)

t = Tap(21)

# GOOG bars as CSV, then the cross computed from the formula
tmp = tempfile.mkdtemp(prefix="pgtrade-e2e-")
os.chmod(tmp, 0o755)
full = os.path.join(tmp, "goog.csv")
run(["/usr/bin/python3", os.path.join(TOP, "scripts", "load-goog.py"),
     "-o", full])
with open(full, newline="") as f:
    rows = list(csv.DictReader(f))
closes = [float(r["close"]) for r in rows]


def sma(i, n):
    return sum(closes[i - n + 1:i + 1]) / n


cross = None
for i in range(30, len(rows)):
    if sma(i - 1, 10) <= sma(i - 1, 30) and sma(i, 10) > sma(i, 30):
        cross = i
t.eq(rows[cross]["ts"], "2008-08-19",
     "the last cross above of SMA(10) over SMA(30) is on 2008-08-19")
upto = os.path.join(tmp, "goog-upto-cross.csv")
with open(upto, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
    w.writeheader()
    w.writerows(rows[:cross + 1])
next_open = rows[cross + 1]["open"]

started = scalar("SELECT now()")
conid = 208813720
psql("SELECT pgtrade.add_account('DU1234567')")
psql("SELECT pgtrade.set_risk_limit('DU1234567', max_position => 1000)")
psql("SELECT pgtrade.add_instrument('GOOG', :'p0')", conid)
load_csv(upto)
t.eq(scalar("SELECT count(*) FROM pgtrade.bar b JOIN pgtrade.instrument i "
            "USING (instrument_id) WHERE i.symbol = 'GOOG'"),
     str(cross + 1), "bars up to the cross are loaded")

# simulator and listener; market orders fill at the next session's open
services("start-sim")
services("start-listener")
sim = Sim()
sim.call("POST", "/sim/price", {"conid": conid, "price": next_open})

# The real bars end in 2008; a live run today would skip them as stale,
# so this strategy accepts bars up to a century old.  It runs whatever
# the day (a weekend, a holiday): the calendar has its own suite.
psql("""SELECT pgtrade.create_strategy('e2e_cron', 'sma_cross', 'GOOG',
        'DU1234567', '{"fast": 10, "slow": 30}', 100, '* * * * *', 'UTC',
        active => true, max_bar_age => '100 years',
        market_hours => 'always')""")


def cron_run():
    return psql("""SELECT r.run_id, r.status, r.started_at > :'p0'
                   FROM pgtrade.workflow_run r
                   JOIN pgtrade.strategy s USING (strategy_id)
                   WHERE s.name = 'e2e_cron' AND r.trigger = 'cron'
                     AND r.status <> 'running'
                   ORDER BY r.run_id LIMIT 1""", started)


run_row = wait_until(cron_run, 150, 1.0)
if not t.ok(bool(run_row), "pg_cron started a run within 150 s"):
    print("# job runs: %s" % psql(
        "SELECT status, return_message FROM cron.job_run_details "
        "ORDER BY runid DESC LIMIT 3"))
    t.skip_rest("no cron run")
    t.done()
psql("UPDATE pgtrade.strategy SET active = false WHERE name = 'e2e_cron'")
run_id, status, after = run_row[0]
t.eq(status, "succeeded", "the cron-triggered run succeeded")
t.eq(after, "t", "the run began after the test did")
t.ok(int(scalar("""SELECT count(*) FROM cron.job_run_details d
                   JOIN cron.job j USING (jobid)
                   WHERE j.jobname = 'pgtrade-run-due'
                     AND d.status = 'succeeded' AND d.start_time > :'p0'""",
                started)) >= 1,
     "cron.job_run_details has a succeeded run of pgtrade-run-due")
t.eq(scalar("SELECT username FROM cron.job WHERE jobname = 'pgtrade-run-due'"),
     "pgtrade_cron", "the job runs as the non-superuser pgtrade_cron")

dec = psql("""SELECT d.action, d.quantity, d.order_id, d.reason,
                     (d.indicators->>'fast')::float8,
                     (d.indicators->>'slow')::float8,
                     to_char(d.last_bar_ts AT TIME ZONE 'America/New_York',
                             'YYYY-MM-DD')
              FROM pgtrade.decision d WHERE d.run_id = :'p0'""", run_id)[0]
t.eq(dec[0:2], ["buy", "100"], "the decision is to buy 100")
t.eq(dec[6], "2008-08-19", "the decision used the cross session as last bar")
t.ok(abs(float(dec[4]) - sma(cross, 10)) < 1e-9
     and abs(float(dec[5]) - sma(cross, 30)) < 1e-9,
     "the decision's SMAs equal the formula's", dec[4:6])
t.ok("crossed above" in dec[3], "the reason says the fast SMA crossed above",
     dec[3])
order_id = dec[2]

final = wait_until(lambda: scalar(
    "SELECT status FROM pgtrade.orders WHERE order_id = :'p0' "
    "AND status IN ('filled', 'rejected', 'cancelled', 'unknown', "
    "'expired')", order_id), 60)
t.eq(final, "filled", "the listener got the order filled")
# the listener records fills from the trades list; wait for the fill row
wait_until(lambda: scalar(
    "SELECT 1 FROM pgtrade.fill WHERE order_id = :'p0'", order_id), 30)
pos = psql("""SELECT p.quantity, p.avg_cost FROM pgtrade.position p
              JOIN pgtrade.instrument i USING (instrument_id)
              WHERE p.account_id = 'DU1234567' AND i.symbol = 'GOOG'""")
t.ok(pos and float(pos[0][0]) == 100 and
     abs(float(pos[0][1]) - float(next_open)) < 1e-9,
     "position is 100 at the next session's open %s" % next_open, pos)

# the database and the simulator's book agree, per cOID
book = {o["cOID"]: o for o in sim.call("GET", "/sim/book")["orders"]}
db = psql("""SELECT o.client_order_id, o.side, o.quantity, o.filled_quantity,
                    o.avg_fill_price,
                    (SELECT string_agg(f.execution_id, ',' ORDER BY f.execution_id)
                     FROM pgtrade.fill f WHERE f.order_id = o.order_id)
             FROM pgtrade.orders o WHERE o.status <> 'refused'
             ORDER BY o.order_id""")
agree = True
diag = []
for coid, side, qty, filled, avg, execs in db:
    b = book.get(coid)
    if b is None:
        agree = False
        diag.append("%s missing at the broker" % coid)
        continue
    bexecs = ",".join(sorted(e["execution_id"] for e in b["executions"]))
    same = (b["side"].lower() == side and float(b["quantity"]) == float(qty)
            and float(b["filled"]) == float(filled)
            and abs(float(b["avg_price"] or 0) - float(avg or 0)) < 1e-9
            and bexecs == (execs or ""))
    if not same:
        agree = False
        diag.append("db %r vs book %r" % ((coid, side, qty, filled, avg, execs), b))
t.ok(agree and len(db) == len(book),
     "side, quantity, filled, average price and executions agree per cOID",
     "\n".join(diag))
received = [e["cOID"] for e in sim.call("GET", "/sim/log")["entries"]
            if e.get("kind", "place") == "place"]
t.eq(len(received), len(set(received)), "no cOID reached the broker twice")
t.ok(all(c.startswith("pgt-") for c in received),
     "every order the broker received carries a pgtrade cOID")

# the housekeeping jobs: all scheduled as pgtrade_cron; the every-minute
# stuck-order check ran under pg_cron, and each job's command runs as
# that role (the daily ones would not fire during the test)
jobs = psql("""SELECT jobname, command FROM cron.job
               WHERE jobname LIKE 'pgtrade-%' AND username = 'pgtrade_cron'
               ORDER BY jobname""")
t.eq([j[0] for j in jobs], ["pgtrade-pack-bars", "pgtrade-performance",
                            "pgtrade-purge-run-details",
                            "pgtrade-purge-step-details", "pgtrade-run-due",
                            "pgtrade-stuck-orders"],
     "install_jobs scheduled the six jobs as pgtrade_cron")
ran = wait_until(lambda: int(scalar("""
    SELECT count(*) FROM cron.job_run_details d JOIN cron.job j USING (jobid)
    WHERE j.jobname = 'pgtrade-stuck-orders' AND d.status = 'succeeded'
      AND d.start_time > :'p0'""", started)) > 0, 90, 1.0)
t.ok(bool(ran), "pg_cron ran the stuck-order check as pgtrade_cron")
# run_due's heartbeat, as the monitoring role reads it: pg_cron calls
# run_due every minute, so the last call finished within about one
age = wait_until(lambda: scalar(
    "SELECT scheduler_tick_age_seconds FROM pgtrade.monitor"), 90, 1.0)
t.ok(age is not None and 0 <= float(age) < 120,
     "monitor shows the age of run_due's last call under pg_cron: %s s"
     % age)
failed = []
for name, command in jobs:
    if name == "pgtrade-run-due":
        continue
    try:
        psql(command, user="pgtrade_cron")
    except RuntimeError as e:
        failed.append("%s: %s" % (name, str(e)[-300:]))
t.ok(not failed, "every housekeeping job's command runs as pgtrade_cron",
     "\n".join(failed))

# the daily rollup and the report, twice in one session with commits
# between: the second call must not trip over the first one's temporary
# table (dropped at commit)
twice = psql("""SELECT count(*) FROM pgtrade.strategy_performance('e2e_cron');
                 SELECT count(*) FROM pgtrade.strategy_performance('e2e_cron');
                 SELECT pgtrade.rollup_performance('e2e_cron') >= 0;
                 SELECT pgtrade.rollup_performance('e2e_cron') = 0""")
t.ok(len(twice) == 4 and twice[0] == twice[1] and int(twice[0][0]) > 0
     and twice[2] == ["t"] and twice[3] == ["t"],
     "performance and its rollup run twice in one session, the second "
     "rollup changing nothing", repr(twice))

services("stop")
t.done()
