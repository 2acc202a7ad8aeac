#!/usr/bin/python3
"""An order cancelled because the broker did not have it, which the
gateway then places after all, is cancelled at the broker too.

The listener runs with a 3-second HTTP timeout.  The simulator asks a
confirmation question for the order, and holds the listener's confirm
for 8 seconds before it processes it (the hold fault on the reply
route, phase "before").  A cancel is asked meanwhile.  The listener's
confirm times out; the reconciliation finds the order nowhere and, for
the cancel asked, cancels it without sending it again.  Then the
gateway processes the held confirm and places the order, a limit the
market does not reach.  The listener, reading the broker's live orders,
finds a working order under the cOID of one pgtrade holds cancelled,
and sends its cancel: the broker's book ends with it cancelled, nothing
filled.  A bracket sent the same way has its entry and both exits
cancelled there.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, psql, scalar, wait_until, services  # noqa: E402
from faultlib import (coid_of, status_of, wait_status, add_trading,  # noqa: E402
                      fresh_sim, held, book_row, place, mark, text_since,
                      LISTENER_LOG)

t = Tap(7)
ACCT = "DU1234567"
SYM, CONID = "CXLT", 990421
add_trading(ACCT, SYM, CONID)
sim = fresh_sim(CONID)
os.environ["PGTRADE_LISTENER_FLAGS"] = "--http-timeout 3"
services("start-listener")
del os.environ["PGTRADE_LISTENER_FLAGS"]
log0 = mark(LISTENER_LOG)

sim.call("POST", "/sim/config", {
    "fill_mode": "never",
    "prompts": {"every": 1, "chain": 1, "message_ids": ["o354"]},
    "hold": {"route": "reply", "phase": "before", "ms": 8000, "count": 1}})
oid = place(ACCT, SYM, 3, extra=", order_type => 'limit', limit_price => 90")
t.ok(wait_until(lambda: held(sim, "reply"), 30),
     "the listener's confirm is held before the gateway processes it")
t.eq(scalar("SELECT pgtrade.cancel_order(:'p0', 'changed my mind')", oid),
     "submitting", "a cancel is asked meanwhile")
t.eq(wait_status(oid, "cancelled", 30), "cancelled",
     "the confirm times out, the order is found nowhere and cancelled")
coid = coid_of(oid)
wait_until(lambda: (book_row(sim, coid) or {}).get("status") == "Cancelled",
           60)
row = book_row(sim, coid) or {}
t.eq((row.get("status"), row.get("filled")), ("Cancelled", 0.0),
     "placed late by the gateway, it is cancelled at the broker too: %s"
     % row.get("status"))
t.ok("though pgtrade holds it cancelled" in text_since(LISTENER_LOG, log0),
     "the listener's log says why it sent that cancel")
# a bracket the same way: its exits are watched with its entry
log1 = mark(LISTENER_LOG)
sim.call("POST", "/sim/config", {
    "fill_mode": "never",
    "prompts": {"every": 1, "chain": 1, "message_ids": ["o354"]},
    "hold": {"route": "reply", "phase": "before", "ms": 8000, "count": 1}})
ids = [r[0] for r in psql(
    "SELECT order_id FROM pgtrade.place_bracket(:'p0', :'p1', 'buy', 2, 90, "
    "110, 80) ORDER BY order_id", ACCT, SYM)]
wait_until(lambda: held(sim, "reply"), 30)
psql("SELECT pgtrade.cancel_order(:'p0', 'no bracket')", ids[0])
wait_until(lambda: all(status_of(i) == "cancelled" for i in ids), 30)
t.eq([status_of(i) for i in ids], ["cancelled"] * 3,
     "the bracket, found nowhere, is cancelled with its exits")
coids = [coid_of(i) for i in ids]
wait_until(lambda: all((book_row(sim, c) or {}).get("status") == "Cancelled"
                       for c in coids), 60)
t.eq([(book_row(sim, c) or {}).get("status") for c in coids],
     ["Cancelled"] * 3,
     "placed late by the gateway, entry and exits are cancelled there too")
services("stop")
t.done()
