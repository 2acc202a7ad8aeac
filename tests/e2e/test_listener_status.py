#!/usr/bin/python3
"""pgtrade-listener maps the broker's order statuses (ibkr-cpapi.md
section 7) onto pgtrade's state machine, and never moves an order back.

The simulator keeps orders working (fill_mode never) so that only the
control API moves them: /sim/order books fills and forces statuses,
/sim/close ends the trading day, inactive_next enters an order as
Inactive with a text.  The instrument is a conid the simulator does not
know (990301): with no market price, fills during a cancel come at the
order's limit, 400.00.  Expected quantities and prices are written next
to each case.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, psql, scalar, wait_until, Sim, services  # noqa: E402
from faultlib import (wait_state, place, status_of, coid_of,  # noqa: E402
                      wait_status, posts_of, accepted_posts, book_row)

t = Tap(35)
ACCT = "DU1234567"
SYM, CONID = "FLTS", 990301

psql("SELECT pgtrade.add_account(:'p0')", ACCT)
psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 100000)", ACCT)
psql("SELECT pgtrade.add_instrument(:'p0', :'p1')", SYM, CONID)
services("start-sim")
services("start-listener")
sim = Sim()
sim.call("POST", "/sim/config", {"fill_mode": "never"})


def limit(qty, extra=""):
    return place(ACCT, SYM, qty, extra=", order_type => 'limit', "
                 "limit_price => 400" + extra)


def working(qty, extra=""):
    oid = limit(qty, extra)
    wait_status(oid, "working")
    return oid, coid_of(oid)


def sim_order(coid, **kw):
    body = {"cOID": coid}
    body.update(kw)
    return sim.call("POST", "/sim/order", body)


def filled(oid):
    return psql("SELECT trim_scale(filled_quantity), "
                "trim_scale(round(avg_fill_price, 4)) FROM pgtrade.orders "
                "WHERE order_id = :'p0'", oid)[0]


def fills(oid):
    return psql("SELECT trim_scale(quantity), trim_scale(price) "
                "FROM pgtrade.fill "
                "WHERE order_id = :'p0' ORDER BY fill_id", oid)


def has_event(oid, detail):
    return scalar("SELECT count(*) FROM pgtrade.order_event "
                  "WHERE order_id = :'p0' AND detail = :'p1'",
                  oid, detail) != "0"


def wait_event(oid, detail, deadline=20):
    return bool(wait_until(lambda: has_event(oid, detail), deadline))


# --- Inactive: rejected with the broker's text --------------------------
TEXT = "Order held: no short-sale locate available"
sim.call("POST", "/sim/config", {"inactive_next": {"count": 1,
                                                   "text": TEXT}})
oid = limit(5)
coid = coid_of(oid)
t.eq(wait_status(oid, "rejected"), "rejected", "Inactive: the order is "
     "rejected")
t.eq(scalar("SELECT last_error FROM pgtrade.orders WHERE order_id = :'p0'",
            oid), "broker status Inactive: " + TEXT,
     "Inactive: last_error carries the broker's text")
t.eq(accepted_posts(sim, coid), 1, "Inactive: it was posted once")
# the order revives at the broker (a locate came): kept as an event only
sim_order(coid, status="Submitted")
t.ok(wait_event(oid, "broker status Submitted recorded; order stays "
                "rejected"), "Inactive then Submitted: the report is kept "
     "as an event")
t.eq(status_of(oid), "rejected", "Inactive then Submitted: the order stays "
     "rejected")
sim_order(coid, status="Cancelled")

# --- PendingCancel with a fill during the cancel ------------------------
oid, coid = working(10)
sim.call("POST", "/sim/config", {"cancel_delay_s": 2,
                                 "fill_during_cancel": 4})
t.eq(scalar("SELECT pgtrade.cancel_order(:'p0')", oid), "cancel_requested",
     "fill during cancel: cancel requested")
t.eq(wait_status(oid, "cancelled"), "cancelled", "fill during cancel: the "
     "balance ends cancelled")
# 4 of 10 filled during PendingCancel at the limit 400.00
wait_until(lambda: fills(oid), 20)
t.eq(fills(oid), [["4", "400"]], "fill during cancel: the one fill of "
     "4 at 400.00 is recorded")
t.eq(filled(oid), ["4", "400"],
     "fill during cancel: filled 4 at average 400")
t.eq(book_row(sim, coid)["status"], "Cancelled", "fill during cancel: the "
     "broker shows Cancelled")
sim.call("POST", "/sim/config", {"cancel_delay_s": 0.5,
                                 "fill_during_cancel": None})

# --- a fill after Cancelled ---------------------------------------------
oid, coid = working(10)
psql("SELECT pgtrade.cancel_order(:'p0')", oid)
t.eq(wait_status(oid, "cancelled"), "cancelled", "fill after cancel: the "
     "order is cancelled")
sim_order(coid, fill={"size": 3, "price": "399.50"})
t.eq(book_row(sim, coid)["status"], "Cancelled", "fill after cancel: the "
     "broker keeps it Cancelled with 3 filled")
wait_until(lambda: fills(oid), 20)
t.eq(fills(oid), [["3", "399.5"]], "fill after cancel: the late fill of "
     "3 at 399.50 is recorded on the order")
t.eq(status_of(oid), "cancelled", "fill after cancel: the order stays "
     "cancelled")
t.eq(filled(oid)[0], "3", "fill after cancel: filled quantity 3")

# --- Submitted after Filled ---------------------------------------------
oid, coid = working(5)
sim_order(coid, fill={"size": 5, "price": "400.00"})
t.eq(wait_status(oid, "filled"), "filled", "Submitted after Filled: filled")
sim_order(coid, status="Submitted")
t.ok(wait_event(oid, "broker status Submitted recorded; order stays "
                "filled"), "Submitted after Filled: the late report is "
     "kept as an event")
t.eq(status_of(oid), "filled", "Submitted after Filled: the order stays "
     "filled")
t.eq(filled(oid)[0], "5", "Submitted after Filled: filled quantity stays 5")
sim_order(coid, status="Filled")

# --- a fill before Submitted --------------------------------------------
sim.call("POST", "/sim/config", {"initial_status": "PreSubmitted"})
oid, coid = working(6)
sim.call("POST", "/sim/config", {"initial_status": "Submitted"})
t.eq(book_row(sim, coid)["status"], "PreSubmitted", "fill before Submitted: "
     "the broker holds the order PreSubmitted")
sim_order(coid, fill={"size": 2, "price": "400.00"}, status="PreSubmitted")
wait_until(lambda: fills(oid), 20)
t.eq(fills(oid), [["2", "400"]], "fill before Submitted: the fill of 2 "
     "is recorded while the broker says PreSubmitted")
t.eq(status_of(oid), "working", "fill before Submitted: the order is "
     "working")
sim_order(coid, status="Submitted")
t.ok(wait_event(oid, "broker status Submitted recorded; order stays "
                "working"), "fill before Submitted: the Submitted report "
     "is kept")
sim_order(coid, fill={"size": 4, "price": "401.00"})
t.eq(wait_status(oid, "filled"), "filled", "fill before Submitted: the "
     "rest fills")
# (2 x 400.00 + 4 x 401.00) / 6 = 2404.00 / 6 = 400.666...
t.eq(scalar("SELECT filled_quantity = 6 AND round(avg_fill_price, 4) = "
            "400.6667 FROM pgtrade.orders WHERE order_id = :'p0'", oid),
     "t", "fill before Submitted: 6 filled at average 400.6667")
t.eq(scalar("SELECT count(*) FROM pgtrade.order_event e WHERE "
            "e.order_id = :'p0' AND e.from_status IS DISTINCT FROM "
            "e.to_status AND e.from_status IS NOT NULL AND NOT EXISTS ("
            "SELECT 1 FROM pgtrade.order_transition x WHERE x.from_status "
            "= e.from_status AND x.to_status = e.to_status)", oid), "0",
     "fill before Submitted: every move is an allowed transition")

# --- DAY orders end Cancelled at the close, GTC ones stay ---------------
day, day_coid = working(5, ", tif => 'day'")
gtc, gtc_coid = working(5, ", tif => 'gtc'")
closed = sim.call("POST", "/sim/close", {})["cancelled"]
t.ok(book_row(sim, day_coid)["order_id"] in closed and
     book_row(sim, gtc_coid)["order_id"] not in closed,
     "close: the simulator cancels the DAY order only")
t.eq(wait_status(day, "cancelled"), "cancelled", "close: the DAY order ends "
     "cancelled")
t.ok(has_event(day, "broker status Cancelled"), "close: moved by the "
     "broker's Cancelled report")
time.sleep(1.0)
t.eq(status_of(gtc), "working", "close: the GTC order is still working")
psql("SELECT pgtrade.cancel_order(:'p0')", gtc)
wait_status(gtc, "cancelled")

# --- expiry and kill switch while claims wait ---------------------------
sim.call("POST", "/sim/auth", {"state": "competing"})
t.eq(wait_state("competing"), "competing", "the session is taken by "
     "another platform: nothing is claimed")
expiring = limit(5, ", valid_for => '1.5 seconds'")
killed = limit(6)
psql("SELECT pgtrade.set_trading_enabled(false, :'p0', note => 'e2e')",
     ACCT)
time.sleep(2.0)            # past valid_until, before any claim
sim.call("POST", "/sim/auth", {"state": "authenticated"})
t.eq(wait_status(expiring, "expired"), "expired", "an order whose "
     "valid_until passed before its claim is expired")
t.eq(wait_status(killed, "cancelled"), "cancelled", "an order placed "
     "before the kill switch and claimed after it is cancelled")
t.ok("kill switch" in (scalar(
    "SELECT last_error FROM pgtrade.orders WHERE order_id = :'p0'", killed)
    or scalar("SELECT detail FROM pgtrade.order_event WHERE order_id = "
              ":'p0' ORDER BY event_id DESC LIMIT 1", killed) or ""),
     "the cancellation names the kill switch")
t.eq([posts_of(sim, coid_of(expiring)), posts_of(sim, coid_of(killed))],
     [[], []], "neither order was posted")
psql("SELECT pgtrade.set_trading_enabled(true, :'p0')", ACCT)

services("stop")
t.done()
