#!/usr/bin/python3
"""Batch claims end to end: a backlog goes out as one batch, and a batch
that stops early leaves no order behind and sends none twice.

The listener runs as started by scripts/services.sh.  Orders are queued
while it is stopped, so that it finds them all at once.  Two ways a
batch stops before its end: an unclear answer (the simulator's
drop_next: the first POST is lost on its way and answered 504), and a
batch that takes over a second (the hold fault keeps the first POST's
answer 1.5 s), during which a kill switch comes on.  The expected
counts follow from the number of orders queued.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, psql, scalar, wait_until, services  # noqa: E402
from faultlib import (LISTENER_LOG, mark, text_since, posts_of,  # noqa: E402
                      accepted_posts, wait_status, coid_of,
                      add_trading, fresh_sim)

t = Tap(12)
ACCT = "DU1234567"
SYM, CONID = "BATQ", 990241
add_trading(ACCT, SYM, CONID)
sim = fresh_sim(CONID)


def queue(n, side):
    return [int(scalar("SELECT (pgtrade.place_order(:'p0', :'p1', :'p2', 1))"
                       ".order_id", ACCT, SYM, side)) for _ in range(n)]


def attempts(order_id):
    return int(scalar("SELECT attempts FROM pgtrade.orders "
                      "WHERE order_id = :'p0'", order_id))


# --- a lost first POST: the other four wait for the reconciliation ------
ids = queue(5, "buy")
sim.call("POST", "/sim/config", {"drop_next": True})
log_at = mark(LISTENER_LOG)
services("start-listener")
t.eq([wait_status(i, "filled") for i in ids], ["filled"] * 5,
     "lost POST: all five orders fill")
log = text_since(LISTENER_LOG, log_at)
t.ok("4 claimed orders not sent (an answer left an order open)" in log,
     "lost POST: the listener says the four others were not sent")
t.eq(sum(log.count("order %d: claimed in a batch that stopped before it "
                   "was sent, and not at the broker; sending it now" % i)
         for i in ids[1:]), 4,
     "lost POST: each of the four is sent once the broker was asked")
t.eq([len(posts_of(sim, coid_of(i))) for i in ids], [2, 1, 1, 1, 1],
     "lost POST: the first cOID was posted twice (lost, then again), "
     "the others once")
t.eq([accepted_posts(sim, coid_of(i)) for i in ids], [1] * 5,
     "lost POST: each order entered the broker's book once")
t.eq([attempts(i) for i in ids], [2] * 5,
     "lost POST: every order counts two attempts")

# --- a slow first POST and a kill switch meanwhile ----------------------
sim = fresh_sim(CONID)
ids = queue(3, "sell")
sim.call("POST", "/sim/config", {"hold": {"route": "place_order",
                                          "phase": "after", "ms": 1500,
                                          "count": 1}})
log_at = mark(LISTENER_LOG)
services("start-listener")
held = wait_until(lambda: sim.call("GET", "/sim/held")["held"], 30)
t.ok(bool(held), "slow POST: the first POST is held at the gateway")
psql("SELECT pgtrade.set_trading_enabled(false, :'p0', NULL, "
     "'tap: batch test')", ACCT)
t.eq(wait_status(ids[0], "filled"), "filled",
     "slow POST: the order that was sent fills")
t.eq([wait_status(i, "cancelled") for i in ids[1:]], ["cancelled"] * 2,
     "slow POST: the two never sent are cancelled under the kill switch")
t.eq([scalar("SELECT detail FROM pgtrade.order_event WHERE order_id = "
             ":'p0' AND from_status = 'submitting' AND to_status = "
             "'cancelled'", i).startswith("not sent: ") for i in ids[1:]],
     [True, True], "slow POST: each says it was not sent, and why")
t.eq([len(posts_of(sim, coid_of(i))) for i in ids[1:]], [0, 0],
     "slow POST: neither reached the broker")
t.eq(scalar("SELECT halted FROM pgtrade.account WHERE account_id = :'p0'",
            ACCT), "f", "slow POST: no order became unknown")
psql("SELECT pgtrade.set_trading_enabled(true, :'p0')", ACCT)
time.sleep(0.5)
t.done()
