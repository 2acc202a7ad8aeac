#!/usr/bin/python3
"""A cancel asked while an order is being submitted goes out once the
broker has acknowledged it.

The simulator books the order and holds its answer (the hold fault,
phase "after"), so the order stays submitting in pgtrade while the
broker already has it.  cancel_order then answers "submitting" rather
than refusing; once the answer is released and recorded, the order
moves on to cancel_requested, the listener sends the broker its cancel
with the broker's order id, and the order ends cancelled: posted once,
cancelled once, no fill.  A second order is acknowledged filled at once
(fill mode immediate): a cancel asked before that is moot, and the
order stays filled.  Last, the POST is lost before the broker books
it: the listener, finding it nowhere, cancels it rather than send it
again.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, psql, scalar, wait_until, services  # noqa: E402
from faultlib import (coid_of, status_of, wait_status, add_trading,  # noqa: E402
                      fresh_sim, held, accepted_posts, book_row, events,
                      place, mark, requests_since, REQUEST_LOG)

HOLD_MS = 3000
t = Tap(14)
ACCT = "DU1234567"
SYM, CONID = "CXLS", 990419
add_trading(ACCT, SYM, CONID)
sim = fresh_sim(CONID)
services("start-listener")


REQ_MARK = mark(REQUEST_LOG)


def cancels_of(broker_id):
    """The DELETE requests the gateway got for broker order broker_id."""
    return [e for e in requests_since(REQ_MARK)
            if e.get("method") == "DELETE"
            and e["route"].endswith("/order/%s" % broker_id)]


# the broker keeps the order working; its answer to the POST is held
sim.call("POST", "/sim/config", {"fill_mode": "never",
                                 "prompts": {"every": 0},
                                 "hold": {"route": "place_order",
                                          "phase": "after", "ms": HOLD_MS,
                                          "count": 1}})
oid = place(ACCT, SYM, 4, extra=", order_type => 'limit', "
            "limit_price => 90")
t.ok(wait_until(lambda: held(sim, "place_order"), 30),
     "the order's POST is booked and its answer held")
t.eq(status_of(oid), "submitting", "pgtrade still has it submitting")
t.eq(scalar("SELECT pgtrade.cancel_order(:'p0', 'trader changed her mind')",
            oid), "submitting",
     "cancel_order answers submitting instead of refusing")
t.eq(wait_status(oid, "cancelled", HOLD_MS / 1000.0 + 30), "cancelled",
     "once the answer is in, the cancel goes out and the order ends "
     "cancelled")
coid = coid_of(oid)
row = book_row(sim, coid)
t.eq(row and row["status"], "Cancelled", "the broker's order is cancelled")
t.eq(accepted_posts(sim, coid), 1, "the order was posted once")
t.eq(len(cancels_of(row and row["order_id"])), 1,
     "the cancel was sent once, with the broker's order id")
t.eq([e[1] for e in events(oid)],
     ["pending", "submitting", "submitting", "working", "cancel_requested",
      "cancel_requested", "cancelled"],
     "events: placed, claimed, cancel asked, acknowledged, cancel requested, "
     "cancel sent, cancelled")
t.eq(scalar("SELECT count(*) FROM pgtrade.fill WHERE order_id = :'p0'", oid),
     "0", "no fill")

# acknowledged filled at once: the cancel asked meanwhile is moot
sim.call("POST", "/sim/config", {"fill_mode": "immediate",
                                 "hold": {"route": "place_order",
                                          "phase": "after", "ms": HOLD_MS,
                                          "count": 1}})
oid2 = place(ACCT, SYM, 2)
wait_until(lambda: held(sim, "place_order"), 30)
psql("SELECT pgtrade.cancel_order(:'p0')", oid2)
t.eq(wait_status(oid2, "filled", HOLD_MS / 1000.0 + 30), "filled",
     "an order the broker filled at once stays filled")
t.eq(len(cancels_of((book_row(sim, coid_of(oid2)) or {}).get("order_id"))),
     0, "and no cancel was sent for it")

# the POST is lost before the broker books it, and a cancel is asked
# meanwhile: the listener finds the order nowhere and cancels it rather
# than send it again
sim.call("POST", "/sim/config", {"fill_mode": "immediate",
                                 "drop_next": {"count": 1},
                                 "hold": {"route": "place_order",
                                          "phase": "before", "ms": HOLD_MS,
                                          "count": 1}})
oid3 = place(ACCT, SYM, 3)
wait_until(lambda: held(sim, "place_order"), 30)
psql("SELECT pgtrade.cancel_order(:'p0', 'lost and cancelled')", oid3)
t.eq(wait_status(oid3, "cancelled", HOLD_MS / 1000.0 + 60), "cancelled",
     "an order the broker never got, with a cancel asked, ends cancelled")
t.eq(accepted_posts(sim, coid_of(oid3)), 0,
     "it was never booked: not sent again after the lost POST")
t.ok(any("not found at the broker and not sent again" in (e[2] or "")
         for e in events(oid3)), "its events say why")

services("stop")
t.done()
