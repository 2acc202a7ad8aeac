#!/usr/bin/python3
"""The risk gate holds under concurrency: two sessions placing orders for
one account at once cannot both pass a position limit, because the gate
takes the account's lock and then counts the other's open order.

Session A inserts a buy of 100 against a limit of 100 and keeps its
transaction open for two seconds; session B, started while A holds the
lock, places the same buy.  By hand: A sees position 0 and no open
orders, projected 100 <= 100, pending; B waits for A's commit, then sees
A's 100 open, projected 200 > 100, refused.  Then the same as a
non-superuser trader's plain INSERT, to show the gate binds it too.
The count limits hold the same way: with at most one open order, or one
order a day, of two concurrent orders for a fresh account the first
passes and the second, counting the first, is refused.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, psql, scalar  # noqa: E402

t = Tap(10)
psql("SELECT pgtrade.add_account('E2ELOCK1')")
psql("SELECT pgtrade.add_instrument('E2EL', 990101)")
psql("SELECT pgtrade.set_risk_limit('E2ELOCK1', max_position => 100)")
psql("""DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'e2e_trader') THEN
            CREATE ROLE e2e_trader LOGIN IN ROLE pgtrade_trader;
        END IF; END $$""")
psql("SELECT pgtrade.grant_account('e2e_trader', 'E2ELOCK1')")


def race(sql_a, sql_b, user=None):
    """Run sql_a holding its transaction for 2 s, sql_b 0.5 s later."""
    base = ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1"]
    if user:
        base += ["-U", user]
    a = subprocess.Popen(base + ["-c", "BEGIN", "-c", sql_a, "-c",
                                 "SELECT pg_sleep(2)", "-c", "COMMIT"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    time.sleep(0.5)
    t0 = time.monotonic()
    b = subprocess.run(base + ["-c", sql_b], capture_output=True, text=True)
    waited = time.monotonic() - t0
    a.communicate()
    return b.returncode, waited


place = ("SELECT (pgtrade.place_order('E2ELOCK1', 'E2EL', 'buy', 100))"
         ".status")
rc, waited = race(place, place)
rows = psql("SELECT status FROM pgtrade.orders o JOIN pgtrade.instrument i "
            "USING (instrument_id) WHERE i.symbol = 'E2EL' ORDER BY order_id")
t.eq([r[0] for r in rows], ["pending", "refused"],
     "first concurrent buy passes, second is refused")
t.ok(waited > 1.0, "the second gate waited for the first's lock "
     "(%.2f s)" % waited)
t.ok("projected position 200" in scalar(
    "SELECT risk_verdict->>'reason' FROM pgtrade.orders o JOIN "
    "pgtrade.instrument i USING (instrument_id) WHERE i.symbol = 'E2EL' "
    "ORDER BY order_id DESC LIMIT 1"),
     "the refusal counts the other session's open order")

psql("SELECT pgtrade.cancel_order(order_id) FROM pgtrade.orders o JOIN "
     "pgtrade.instrument i USING (instrument_id) WHERE i.symbol = 'E2EL' "
     "AND o.status = 'pending'")
insert = ("INSERT INTO pgtrade.orders (account_id, instrument_id, side, "
          "quantity) VALUES ('E2ELOCK1', (SELECT instrument_id FROM "
          "pgtrade.instrument WHERE symbol = 'E2EL'), 'buy', 60)")
rc, waited = race(insert, insert, user="e2e_trader")
t.eq(rc, 0, "a trader may insert orders directly")
rows = psql("SELECT status FROM pgtrade.orders o JOIN pgtrade.instrument i "
            "USING (instrument_id) WHERE i.symbol = 'E2EL' AND quantity = 60 "
            "ORDER BY order_id")
t.eq([r[0] for r in rows], ["pending", "refused"],
     "concurrent direct inserts by a trader meet the same gate")
t.eq(scalar("SELECT count(*) FROM pgtrade.order_event e JOIN pgtrade.orders o "
            "USING (order_id) JOIN pgtrade.instrument i USING (instrument_id) "
            "WHERE i.symbol = 'E2EL' AND e.from_status IS NULL"), "4",
     "every insert left its gate event")

# count limits, each on an account of its own for this run
for limit in ("max_open_orders", "max_orders_per_day"):
    acct = "E2EC%d%s" % (int(time.time()) % 100000000,
                         "O" if limit == "max_open_orders" else "D")
    psql("SELECT pgtrade.add_account('%s')" % acct)
    psql("SELECT pgtrade.set_risk_limit('%s', max_position => 1000, "
         "%s => 1)" % (acct, limit))
    one = ("SELECT (pgtrade.place_order('%s', 'E2EL', 'buy', 1)).status"
           % acct)
    rc, waited = race(one, one)
    rows = psql("SELECT status FROM pgtrade.orders WHERE account_id = '%s' "
                "ORDER BY order_id" % acct)
    t.eq([r[0] for r in rows], ["pending", "refused"],
         "%s 1: of two concurrent orders the second is refused" % limit)
    t.ok(waited > 1.0 and "exceed the limit of 1" in scalar(
        "SELECT risk_verdict->>'reason' FROM pgtrade.orders WHERE "
        "account_id = '%s' ORDER BY order_id DESC LIMIT 1" % acct),
         "%s: the second waited for the lock (%.2f s) and counted the "
         "first" % (limit, waited))
    psql("SELECT pgtrade.cancel_order(order_id) FROM pgtrade.orders "
         "WHERE account_id = '%s' AND status = 'pending'" % acct)
t.done()
