#!/usr/bin/python3
"""A slot yields at most one run, however many sessions ask at once.

A strategy of this test's own is due now (other strategies are paused
for the test, and it keeps clear of pg_cron's call at each minute's
start).  Session A takes it through
pgtrade.run_next_due and keeps its transaction open for two seconds;
session B, started meanwhile, asks for the next due strategy.  By the
design of run_next_due (FOR UPDATE SKIP LOCKED on the due strategy, and
at most one cron run per strategy and slot): B does not wait and finds
nothing due; A records the run and moves next_run_at past now.  Then the
strategy is made due again and two sessions CALL pgtrade.run_due() at
the same moment: still one run for that slot.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, psql, scalar  # noqa: E402

tag = "%d" % (int(time.time()) % 100000000)
ACCT = "E2ERD" + tag
SYM = "E2ERD" + tag
NAME = "e2e_rd_" + tag
BASE = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"]

t = Tap(7)
psql("SELECT pgtrade.add_account('%s')" % ACCT)
psql("SELECT pgtrade.set_risk_limit('%s', max_position => 1000)" % ACCT)
psql("SELECT pgtrade.add_instrument('%s', %d)" % (SYM, 800000000 + int(tag)))
# six daily bars, the last one ended; any decision will do
psql("INSERT INTO pgtrade.bar SELECT pgtrade.instrument_id('%s'), '1 day', "
     "date_trunc('day', now()) - (7 - g) * interval '1 day', 10 + g, "
     "11 + g, 9 + g, 10 + g, 100 FROM generate_series(1, 6) g" % SYM)
psql("SELECT pgtrade.create_strategy('%s', 'sma_cross', '%s', '%s', "
     "'{\"fast\": 2, \"slow\": 3}', 1, schedule => '* * * * *', "
     "active => true, max_bar_age => '100 years')" % (NAME, SYM, ACCT))


def make_due():
    """Make the strategy due at the current minute; return that slot.

    pg_cron calls run_due at each minute's start: wait until it is well
    past, so that only this test's sessions ask for the slot.
    """
    while not 5 <= time.localtime().tm_sec <= 40:
        time.sleep(0.5)
    return scalar("WITH u AS (UPDATE pgtrade.strategy SET next_run_at = "
                  "date_trunc('minute', now()) WHERE name = '%s' "
                  "RETURNING next_run_at) SELECT next_run_at FROM u" % NAME)


def cron_runs(slot):
    return scalar("SELECT count(*) FROM pgtrade.workflow_run r JOIN "
                  "pgtrade.strategy s USING (strategy_id) WHERE s.name = "
                  "'%s' AND r.trigger = 'cron' AND r.slot = '%s'"
                  % (NAME, slot))


# pause the other strategies of the database: only ours may be due
paused = [r[0] for r in psql("WITH u AS (UPDATE pgtrade.strategy SET "
                             "active = false WHERE active AND name <> '%s' "
                             "RETURNING strategy_id) SELECT strategy_id "
                             "FROM u" % NAME)]
try:
    slot = make_due()
    a = subprocess.Popen(BASE + ["-c", "BEGIN", "-c",
                                 "SELECT pgtrade.run_next_due(now())",
                                 "-c", "SELECT pg_sleep(2)", "-c", "COMMIT"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    time.sleep(0.5)
    t0 = time.monotonic()
    b = subprocess.run(BASE + ["-c", "SELECT pgtrade.run_next_due(now())"],
                       capture_output=True, text=True)
    waited = time.monotonic() - t0
    out_a, err_a = a.communicate()
    t.eq(out_a.split("\n")[0], "t", "session A takes the due strategy")
    t.eq(b.stdout.strip(), "f", "session B, meanwhile, finds nothing due")
    t.ok(waited < 1.0, "and does not wait for A (%.2f s)" % waited)
    t.eq(cron_runs(slot), "1", "the slot has one run")
    t.ok(scalar("SELECT next_run_at > now() FROM pgtrade.strategy WHERE "
                "name = '%s'" % NAME) == "t",
         "next_run_at moved past now")

    slot = make_due()
    both = [subprocess.Popen(BASE + ["-c", "CALL pgtrade.run_due()"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    codes = [p.wait(60) for p in both]
    t.eq(codes, [0, 0], "two concurrent CALL run_due() both succeed")
    t.eq(cron_runs(slot), "1", "and the slot still has one run")
finally:
    psql("UPDATE pgtrade.strategy SET active = false WHERE name = '%s'" % NAME)
    if paused:
        psql("UPDATE pgtrade.strategy SET active = true WHERE strategy_id "
             "IN (%s)" % ",".join(paused))
t.done()
