#!/usr/bin/python3
"""A cancel asked while the broker asks a confirmation question declines
it: nothing is placed.

The simulator answers every order with a confirmation prompt (o354, on
the listener's allow list) and holds that answer (the hold fault, phase
"after"), so the order is submitting in pgtrade while the question is
on its way.  cancel_order answers "submitting"; when the question
arrives, the listener reads the cancel, declines the question
({"confirmed": false}) instead of confirming it, and records the order
cancelled: the broker's book never has it.  A bracket goes the same
way: its entry's cancel declines the one question for the request that
carries all three, and its exits are cancelled with it.  When the
database restarts under the listener while the question is on its way,
the listener cannot tell whether a cancel was asked and declines it (it
fails closed); the order, found nowhere, is then cancelled for the
cancel asked meanwhile.  A modification's question is declined, and the
modification refused, once the order's cancel is requested.  Last,
without a cancel the question is confirmed and the order is placed, as
before.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import (Tap, psql, scalar, wait_until, services, run,  # noqa: E402
                    SANDBOX, TOP)
from faultlib import (coid_of, status_of, wait_status, add_trading,  # noqa: E402
                      fresh_sim, held, accepted_posts, book_row, events,
                      place, mark, requests_since, REQUEST_LOG)

HOLD_MS = 3000
t = Tap(21)
PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl"
ACCT = "DU1234567"
SYM, CONID = "CXLP", 990420
add_trading(ACCT, SYM, CONID)
sim = fresh_sim(CONID)
services("start-listener")
REQ_MARK = mark(REQUEST_LOG)


def replies(confirmed):
    """The prompt answers the gateway got: confirmed ones it answered 200,
    declined ones 400 ("order not confirmed", ibkr-cpapi.md 6.2)."""
    return [e for e in requests_since(REQ_MARK)
            if e.get("method") == "POST" and "/iserver/reply/" in e["path"]
            and e.get("status") == (200 if confirmed else 400)]


def prompt_held(ms=HOLD_MS, route="place_order", prompt="o354"):
    sim.call("POST", "/sim/config", {
        "fill_mode": "immediate",
        "prompts": {"every": 1, "chain": 1, "message_ids": [prompt]},
        "hold": {"route": route, "phase": "after", "ms": ms, "count": 1}})


# a market order: its question is held, a cancel is asked meanwhile
prompt_held()
oid = place(ACCT, SYM, 5)
t.ok(wait_until(lambda: held(sim, "place_order"), 30),
     "the order's POST got a question, held on its way")
t.eq(scalar("SELECT pgtrade.cancel_order(:'p0', 'not this one')", oid),
     "submitting", "cancel_order answers submitting")
t.eq(wait_status(oid, "cancelled", HOLD_MS / 1000.0 + 30), "cancelled",
     "the order ends cancelled")
t.eq(book_row(sim, coid_of(oid)), None, "the broker's book never had it")
t.eq(accepted_posts(sim, coid_of(oid)), 0, "no POST of it was accepted")
t.ok(len(replies(False)) == 1 and len(replies(True)) == 0,
     "the question was declined, not confirmed")
t.ok(any("confirmation declined" in (e[2] or "") and "not this one"
         in (e[2] or "") for e in events(oid)),
     "its events say the question was declined for the cancel asked")
t.eq(scalar("SELECT count(*) FROM pgtrade.fill WHERE order_id = :'p0'", oid),
     "0", "no fill")

# a bracket: the entry's cancel declines the question for all three
prompt_held()
rows = psql("SELECT order_id FROM pgtrade.place_bracket(:'p0', :'p1', 'buy', "
            "4, 99, 105, 95) ORDER BY order_id", ACCT, SYM)
ids = [r[0] for r in rows]
wait_until(lambda: held(sim, "place_order"), 30)
t.eq(scalar("SELECT pgtrade.cancel_order(:'p0', 'bracket not wanted')",
            ids[0]), "submitting", "the bracket's entry: submitting")
wait_until(lambda: all(status_of(i) == "cancelled" for i in ids),
           HOLD_MS / 1000.0 + 30)
t.eq([status_of(i) for i in ids], ["cancelled"] * 3,
     "the entry and both exits end cancelled")
t.ok(all(book_row(sim, coid_of(i)) is None for i in ids),
     "the broker's book has none of them")

# the database restarts while the question is on its way, and a cancel
# is asked once it is back: the listener cannot read it, and declines
prompt_held(ms=8000)
oid4 = place(ACCT, SYM, 4)
wait_until(lambda: held(sim, "place_order"), 30)
# pg_ctl itself: "sandbox.sh stop" would stop the simulator and the
# listener too
run(["runuser", "-u", "postgres", "--", PG_CTL, "stop", "-D",
     os.path.join(SANDBOX, "pgdata"), "-m", "fast", "-w"], cwd="/")
run([os.path.join(TOP, "scripts", "sandbox.sh"), "start"])
t.eq(scalar("SELECT pgtrade.cancel_order(:'p0', 'after the restart')", oid4),
     "submitting", "after a database restart the cancel is asked")
t.eq(wait_status(oid4, "cancelled", 60), "cancelled",
     "the order ends cancelled")
t.eq(book_row(sim, coid_of(oid4)), None,
     "the question was declined, not confirmed blind: the book never had it")

# a working order's modification asks a question; its cancel is
# requested meanwhile: the question is declined, the modification refused
sim.call("POST", "/sim/config", {"fill_mode": "never",
                                 "prompts": {"every": 0}, "hold": None})
oid5 = place(ACCT, SYM, 5, extra=", order_type => 'limit', "
             "limit_price => 90")
t.eq(wait_status(oid5, "working", 30), "working", "a limit order works")
prompt_held(route="modify_order", prompt="o163")
mod = psql("SELECT (pgtrade.modify_order(:'p0', limit_price => 101))"
           ".modification_id", oid5)[0][0]
wait_until(lambda: held(sim, "modify_order"), 30)
t.eq(scalar("SELECT pgtrade.cancel_order(:'p0', 'no, cancel it')", oid5),
     "cancel_requested", "its cancel is requested while the question waits")
wait_until(lambda: scalar("SELECT status FROM pgtrade.order_modification "
                          "WHERE modification_id = :'p0'", mod)
           == "refused", HOLD_MS / 1000.0 + 30)
t.ok((scalar("SELECT status || ': ' || reason FROM pgtrade.order_modification "
             "WHERE modification_id = :'p0'", mod) or "").startswith(
    "refused: confirmation declined: cancel requested"),
     "the modification is refused: its question declined for the cancel")
t.eq(wait_status(oid5, "cancelled", 30), "cancelled", "the order is cancelled")
row5 = book_row(sim, coid_of(oid5)) or {}
t.eq((row5.get("status"), row5.get("price")), ("Cancelled", "90.00"),
     "at the broker it was cancelled at its old limit, never modified")
sim.call("POST", "/sim/config", {"prompts": {"every": 0}})

# no cancel: the question is confirmed and the order placed
prompt_held()
oid3 = place(ACCT, SYM, 2)
t.eq(wait_status(oid3, "filled", HOLD_MS / 1000.0 + 30), "filled",
     "without a cancel the question is confirmed and the order fills")
t.eq(len(replies(True)), 1, "one question confirmed in all")

services("stop")
t.done()
