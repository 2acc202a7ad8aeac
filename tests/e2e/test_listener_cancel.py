#!/usr/bin/python3
"""pgtrade-listener sends the cancels users ask for, once, and follows
the order until the broker ends it.

The listener runs as started by scripts/services.sh.  The simulator
keeps orders working (fill_mode never) so that only a cancel ends them.
Case one: the cancel is acknowledged and the order ends cancelled.
Case two: a fill lands while the cancel is pending at the broker
(fill_during_cancel "all", halfway through cancel_delay_s, as
tests/sim/README.md describes), so the order ends filled and its one
execution is recorded once.  The simulator's request log
($SANDBOX/sim/requests.log, one JSON line per request) shows how many
DELETE requests each broker order got.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import (Tap, SANDBOX, psql, scalar, wait_until, Sim,  # noqa: E402
                    services)

t = Tap(15)
ACCT = "DU1234567"
MSFT = 272093
REQUEST_LOG = os.path.join(SANDBOX, "sim", "requests.log")
LISTENER_LOG = os.path.join(SANDBOX, "log", "listener.log")

psql("SELECT pgtrade.add_account(:'p0')", ACCT)
psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 1000)", ACCT)
psql("SELECT pgtrade.add_instrument('MSFT', :'p0')", MSFT)


def size_of(path):
    return os.path.getsize(path) if os.path.exists(path) else 0


services("start-sim")
req_mark = size_of(REQUEST_LOG)
log_mark = size_of(LISTENER_LOG)
services("start-listener")
sim = Sim()
sim.call("POST", "/sim/config", {"fill_mode": "never"})


def new_text(path, mark):
    """Return what was appended to path after byte offset mark."""
    with open(path, "rb") as f:
        f.seek(mark)
        return f.read().decode("utf-8", "replace")


def deletes_of(broker_id):
    """Count DELETE requests for one broker order since this test began."""
    n = 0
    for line in new_text(REQUEST_LOG, req_mark).splitlines():
        e = json.loads(line)
        if e.get("method") == "DELETE" and \
                e.get("path", "").split("?")[0].endswith("/order/%s"
                                                         % broker_id):
            n += 1
    return n


def status_of(order_id):
    return scalar("SELECT status FROM pgtrade.orders WHERE order_id = :'p0'",
                  order_id)


def wait_status(order_id, wanted, deadline=30):
    return wait_until(lambda: status_of(order_id) == wanted and wanted,
                      deadline) or status_of(order_id)


def place_limit(qty, price):
    return scalar("SELECT (pgtrade.place_order(:'p0', 'MSFT', 'buy', :'p1', "
                  "order_type => 'limit', limit_price => :'p2')).order_id",
                  ACCT, qty, price)


def order_row(order_id):
    return psql("SELECT client_order_id, broker_order_id FROM pgtrade.orders "
                "WHERE order_id = :'p0'", order_id)[0]


def book_status(coid):
    book = {o["cOID"]: o for o in sim.call("GET", "/sim/book")["orders"]}
    return book.get(coid, {}).get("status")


# case one: a working order is cancelled at the broker
first = place_limit(5, "390.00")
t.eq(wait_status(first, "working"), "working",
     "a limit buy the simulator never fills is working")
coid1, broker1 = order_row(first)
t.eq(scalar("SELECT pgtrade.cancel_order(:'p0')", first), "cancel_requested",
     "cancel_order moves the working order to cancel_requested")
t.eq(wait_status(first, "cancelled"), "cancelled",
     "the order ends cancelled once the broker reports Cancelled")
t.eq(book_status(coid1), "Cancelled",
     "the simulator's book shows the order Cancelled")
note = "cancel sent to the broker for broker order %s" % broker1
t.eq(scalar("SELECT count(*) FROM pgtrade.order_event WHERE order_id = :'p0' "
            "AND detail = :'p1'", first, note), "1",
     "order_event holds one 'cancel sent' note naming the broker order")
t.eq(deletes_of(broker1), 1, "the broker got exactly one DELETE for the order")
t.eq(scalar("SELECT payload->>'msg' FROM pgtrade.order_event "
            "WHERE order_id = :'p0' AND detail = :'p1'", first, note),
     "Request was submitted",
     "the gateway's acknowledgement is recorded as the note's payload")
line = "order %s: cancel sent for broker order %s (cOID %s)" % (
    first, broker1, coid1)
t.eq(len(re.findall(r"\] LOG: " + re.escape(line) + "$",
                    new_text(LISTENER_LOG, log_mark), re.M)), 1,
     "the listener logs one LOG line for the cancel")

# case two: the fill lands while the cancel is pending
second = place_limit(7, "391.00")
t.eq(wait_status(second, "working"), "working",
     "a second limit buy is working")
coid2, broker2 = order_row(second)
sim.call("POST", "/sim/config", {"cancel_delay_s": 2,
                                 "fill_during_cancel": "all"})
t.eq(scalar("SELECT pgtrade.cancel_order(:'p0')", second), "cancel_requested",
     "the second order is cancel_requested")
t.eq(wait_status(second, "filled"), "filled",
     "a fill during PendingCancel ends the order filled, not cancelled")
t.eq(book_status(coid2), "Filled", "the simulator's book shows it Filled")
# the whole 7 shares in one execution at the limit, 391.00: the simulator
# has no market price for MSFT here, so it fills at the order's price
fills = wait_until(lambda: psql(
    "SELECT count(*), sum(quantity) = 7, min(price) = 391.00 "
    "FROM pgtrade.fill WHERE order_id = :'p0' HAVING sum(quantity) >= 7",
    second), 30)
t.eq(fills, [["1", "t", "t"]],
     "its one execution is recorded once: 7 shares at 391.00")
t.eq(deletes_of(broker2), 1, "the second order also got exactly one DELETE")
t.eq(scalar("SELECT count(*) FROM pgtrade.order_event WHERE order_id = :'p0' "
            "AND detail LIKE 'cancel sent%'", second), "1",
     "the second order has one 'cancel sent' note")

sim.call("POST", "/sim/config", {"fill_mode": "immediate", "cancel_delay_s": 0.5,
                                 "fill_during_cancel": None})
services("stop")
t.done()
