#!/usr/bin/python3
"""pgtrade-listener records executions as ibkr-cpapi.md section 6.9 and
quirk 9 describe them, including the awkward ones:

- a commission the trades list reports only on a later poll
  (late_commission) becomes its own pgtrade.commission row;
- corrections (same execution id but for the last segment, booked with
  /sim/order correct): the latest counts in the order's totals and the
  position;
- trades placed at the broker outside pgtrade (/sim/trade), without an
  order_ref or with one pgtrade does not know: recorded with order
  NULL, in the position, and listed in pgtrade.unlinked_fills.

One instrument only this test trades (conid 990302), so its position is
the sum of this test's executions.  Commissions follow the simulator's
rule: max(1.00, 0.005 x size), at most 1% of size x price, in cents.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, psql, scalar, wait_until, Sim, services  # noqa: E402
from faultlib import (SCALE, LISTENER_LOG, mark, text_since,  # noqa: E402
                      place, coid_of, wait_status)

t = Tap(17)
ACCT = "DU1234567"
SYM, CONID = "FLTE", 990302

psql("SELECT pgtrade.add_account(:'p0')", ACCT)
psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 100000)", ACCT)
psql("SELECT pgtrade.add_instrument(:'p0', :'p1')", SYM, CONID)
log0 = mark(LISTENER_LOG)
services("start-sim")
services("start-listener")
sim = Sim()
sim.call("POST", "/sim/price", {"conid": CONID, "price": "50.00"})


def position():
    return psql("SELECT trim_scale(quantity), trim_scale(round(avg_cost, 4)),"
                " trim_scale(realized_pnl), trim_scale(commissions) "
                "FROM pgtrade.positions WHERE account_id = :'p0' "
                "AND symbol = :'p1'", ACCT, SYM)[0]


# --- a commission reported on a later poll ------------------------------
sim.call("POST", "/sim/config", {"late_commission": 2})
oid = place(ACCT, SYM, 10)
t.eq(wait_status(oid, "filled"), "filled", "late commission: a market buy "
     "of 10 at 50.00 fills")
sim.call("POST", "/sim/config", {"late_commission": 0})
exe = wait_until(lambda: scalar("SELECT execution_id FROM pgtrade.fill "
                                "WHERE order_id = :'p0'", oid), 20)
got = wait_until(lambda: psql(
    "SELECT count(*), trim_scale(min(c.amount)) FROM pgtrade.commission c "
    "WHERE c.execution_id = :'p0' HAVING count(*) > 0", exe), 20)
# max(1.00, 0.005 x 10 = 0.05) = 1.00, under 1% of 500.00
t.eq(got, [["1", "1"]], "late commission: one commission row of 1.00")
gap = float(scalar("SELECT extract(epoch FROM c.recorded_at - f.recorded_at)"
                   " FROM pgtrade.fill f JOIN pgtrade.commission c "
                   "USING (execution_id) WHERE f.execution_id = :'p0'", exe))
# the first two trades answers lacked it: at least one list pacing
# interval (5 s scaled) passed before the answer that had it
t.ok(gap >= 5 * SCALE, "late commission: recorded %.2f s after the fill, "
     "from a later trades answer" % gap)

# --- an execution correction ---------------------------------------------
sim.call("POST", "/sim/config", {"fill_mode": "never"})
oid = place(ACCT, SYM, 10, extra=", order_type => 'limit', "
            "limit_price => 101")
wait_status(oid, "working")
coid = coid_of(oid)
sim.call("POST", "/sim/order", {"cOID": coid,
                                "fill": {"size": 6, "price": "101.00"}})
first = wait_until(lambda: scalar(
    "SELECT execution_id FROM pgtrade.fill WHERE order_id = :'p0'", oid), 20)
t.ok(first, "correction: the first execution (6 at 101.00) is recorded")
sim.call("POST", "/sim/order", {"cOID": coid,
                                "correct": {"price": "100.80"}})
corrected = first[:-2] + "02"
t.ok(wait_until(lambda: scalar(
    "SELECT by_execution_id FROM pgtrade.fill_correction "
    "WHERE corrected_execution_id = :'p0'", first) == corrected, 20),
     "correction: %s is recorded as corrected by %s" % (first, corrected))
# 6 at 100.80 counts instead of 6 at 101.00
t.eq(psql("SELECT trim_scale(filled_quantity), trim_scale(avg_fill_price) "
          "FROM pgtrade.orders WHERE order_id = :'p0'", oid),
     [["6", "100.8"]], "correction: the order counts 6 at 100.80")
sim.call("POST", "/sim/order", {"cOID": coid,
                                "fill": {"size": 4, "price": "101.20"}})
t.eq(wait_status(oid, "filled"), "filled", "correction: the rest fills")
# (6 x 100.80 + 4 x 101.20) / 10 = (604.80 + 404.80) / 10 = 100.96
t.eq(psql("SELECT trim_scale(filled_quantity), "
          "trim_scale(round(avg_fill_price, 4)) FROM pgtrade.orders "
          "WHERE order_id = :'p0'", oid), [["10", "100.96"]],
     "correction: the order is filled 10 at average 100.96")
# 10 x 50.00 + 6 x 100.80 + 4 x 101.20 = 500 + 604.80 + 404.80 = 1509.60
# over 20 shares: 75.48; commissions 1.00 (late) + 1.00 + 1.00 (the
# correction keeps the original's 1.00, the original no longer counts)
t.eq(position(), ["20", "75.48", "0", "3"], "correction: position 20 at "
     "75.48, commissions 3.00")

# --- trades placed outside pgtrade ---------------------------------------
manual = sim.call("POST", "/sim/trade", {"conid": CONID, "side": "SELL",
                                         "size": 3, "price": "52.00"})
tws = sim.call("POST", "/sim/trade", {"conid": CONID, "side": "BUY",
                                      "size": 1, "price": "51.00",
                                      "order_ref": "tws-7"})
rows = wait_until(lambda: psql(
    "SELECT execution_id, coalesce(order_ref, '-'), side, "
    "trim_scale(quantity), trim_scale(price), order_id IS NULL "
    "FROM pgtrade.fill WHERE execution_id IN (:'p0', :'p1') "
    "ORDER BY fill_id", manual["execution_id"], tws["execution_id"]
    ) if scalar("SELECT count(*) FROM pgtrade.fill WHERE execution_id IN "
                "(:'p0', :'p1')", manual["execution_id"],
                tws["execution_id"]) == "2" else None, 20)
t.eq(rows, [[manual["execution_id"], "-", "sell", "3", "52", "t"],
            [tws["execution_id"], "tws-7", "buy", "1", "51", "t"]],
     "manual trades: both executions are recorded without an order")
t.eq(psql("SELECT execution_id, coalesce(order_ref, '-'), symbol, "
          "trim_scale(commission) FROM pgtrade.unlinked_fills "
          "WHERE execution_id IN (:'p0', :'p1') ORDER BY fill_id",
          manual["execution_id"], tws["execution_id"]),
     [[manual["execution_id"], "-", SYM, "1"],
      [tws["execution_id"], "tws-7", SYM, "0.51"]],
     "manual trades: unlinked_fills lists them with their commissions "
     "(1.00; 1% of 51.00 = 0.51)")
# sell 3 at 52.00 against 20 at 75.48: realized 3 x (52.00 - 75.48)
# = -70.44; then buy 1 at 51.00: (17 x 75.48 + 51.00) / 18 = 74.12
t.eq(position(), ["18", "74.12", "-70.44", "4.51"],
     "manual trades: position 18 at 74.12, realized -70.44, "
     "commissions 4.51")
log = text_since(LISTENER_LOG, log0)
t.ok("execution %s recorded: sell 3 at 52.00, cOID (none)"
     % manual["execution_id"] in log, "manual trades: the listener logs "
     "the execution without a cOID")
t.ok("execution %s recorded: buy 1 at 51.00, cOID tws-7"
     % tws["execution_id"] in log, "manual trades: and the one with a "
     "foreign order_ref")
t.eq(scalar("SELECT count(*) FROM pgtrade.fill f WHERE f.execution_id IN "
            "(:'p0', :'p1')", manual["execution_id"], tws["execution_id"]),
     "2", "manual trades: each recorded once")
t.eq(scalar("SELECT count(*) FROM pgtrade.orders o JOIN pgtrade.instrument "
            "i USING (instrument_id) WHERE i.symbol = :'p0'", SYM), "2",
     "manual trades: no order was made up for them")

# --- an execution of just before midnight UTC, reported after it ---------
# The trades list's default day starts at midnight UTC; a filled quantity
# reported anew makes the next read cover the day before too.
sim.call("POST", "/sim/config", {"fill_mode": "never"})
oid = place(ACCT, SYM, 2, extra=", order_type => 'limit', "
            "limit_price => 60")
wait_status(oid, "working")
midnight_ms = int(time.time() // 86400 * 86400 * 1000)
sim.call("POST", "/sim/order", {"cOID": coid_of(oid), "status": "Filled",
                                "fill": {"size": 2, "price": "60.00",
                                         "time_ms": midnight_ms - 2000}})
t.eq(wait_until(lambda: psql(
    "SELECT status, trim_scale(filled_quantity) FROM pgtrade.orders "
    "WHERE order_id = :'p0' AND filled_quantity > 0", oid), 30),
     [["filled", "2"]], "an execution dated before the trades list's day "
     "is recorded without a restart")

sim.call("POST", "/sim/config", {"fill_mode": "immediate"})
services("stop")
t.done()
