#!/usr/bin/python3
"""The tracking reads do not hold up orders.

The listener reads an account's live orders and trades on a worker
thread while its loop goes on claiming and sending.  The simulator's
hold fault keeps the answer to one live-orders read for HOLD_MS (real
milliseconds, far longer than anything else here takes); an order
placed meanwhile must reach the gateway while that answer is still
held, and both orders must come out right once it is released: the
resting one still working, the new one filled, its execution recorded
once, from the trades read after the hold.  Then the listener is stopped while a read is held:
it waits for that read and exits cleanly.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, psql, scalar, wait_until, services  # noqa: E402
from faultlib import (LISTENER_LOG, mark, text_since, posts_of,  # noqa: E402
                      coid_of, status_of, wait_status, listener_pid,
                      add_trading, fresh_sim, position_of, held)

HOLD_MS = 8000
t = Tap(13)
ACCT = "DU1234567"
SYM, CONID = "TRKT", 990317
add_trading(ACCT, SYM, CONID)
sim = fresh_sim(CONID)
services("start-listener")


def held_live():
    return held(sim, "live_orders")


def position():
    return position_of(ACCT, SYM)


def fills_of(order_id):
    return int(scalar("SELECT count(*) FROM pgtrade.fill WHERE order_id = "
                      ":'p0'", order_id))


before = position()
# an order that rests, so that the live orders are read all along
resting = scalar("SELECT (pgtrade.place_order(:'p0', :'p1', 'buy', 3, "
                 "order_type => 'limit', limit_price => 50)).order_id",
                 ACCT, SYM)
t.eq(wait_status(resting, "working"), "working",
     "a limit buy far under the market is working")

sim.call("POST", "/sim/config", {"hold": {"route": "live_orders",
                                          "phase": "after", "ms": HOLD_MS,
                                          "count": 1}})
t.ok(wait_until(lambda: held_live(), 30),
     "the next live-orders read is held at the gateway")
fresh = scalar("SELECT (pgtrade.place_order(:'p0', :'p1', 'buy', 2))"
               ".order_id", ACCT, SYM)
sent = wait_until(lambda: posts_of(sim, coid_of(fresh)), HOLD_MS / 2000.0)
t.ok(bool(sent), "a market order placed meanwhile reaches the gateway")
t.ok(bool(held_live()),
     "it reached the gateway while the live-orders answer was still held")
t.ok(wait_until(lambda: fills_of(fresh) > 0, HOLD_MS / 1000.0 + 30),
     "once the answer is released, the market order's execution is read")
t.eq(fills_of(fresh), 1, "its one execution is recorded once")
t.eq(status_of(fresh), "filled", "the market order is filled")
t.eq(position() - before, 2, "the position grew by the filled quantity")
t.eq(status_of(resting), "working", "the resting order is still working")
t.eq(sim.call("GET", "/sim/stats")["refused_429"], 0,
     "no request was over the gateway's budget")
psql("SELECT pgtrade.cancel_order(:'p0')", resting)
t.eq(wait_status(resting, "cancelled"), "cancelled",
     "the resting order is cancelled")

# stopping while a read is held: the read ends, then the listener exits
sim.call("POST", "/sim/config", {"hold": {"route": "live_orders",
                                          "phase": "after", "ms": 3000,
                                          "count": 1}})
wait_until(lambda: held_live(), 30)
pid = listener_pid()
log_at = mark(LISTENER_LOG)
os.kill(pid, signal.SIGTERM)


def gone():
    try:
        os.kill(pid, 0)
        return False
    except ProcessLookupError:
        return True


t.ok(wait_until(gone, 30), "the listener exits after a SIGTERM")
t.ok("pgtrade-listener stopped (exit status 0)" in
     text_since(LISTENER_LOG, log_at),
     "it says it stopped with exit status 0")
services("stop")
time.sleep(0.2)
t.done()
