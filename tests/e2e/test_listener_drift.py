#!/usr/bin/python3
"""pgtrade-listener compares the broker's positions with pgtrade's and
holds back the orders of an account whose positions drift.

Two accounts of their own (fresh names each run, so earlier tests'
positions do not count), AAPL at a fixed simulator price, the listener
comparing positions every 2 s (PGTRADE_POSITIONS_INTERVAL=2).  The
simulator's POST /sim/position adds to the broker's position without a
fill, which is drift.  Expected quantities are worked out by hand:

    A buys 10 (broker 10, pgtrade 10: agree)
    broker +3 at the simulator        -> broker 13, pgtrade 10, drift 3
    acknowledged; A buys 2 more       -> broker 15, pgtrade 12, still 3
    resolved: adjustment of +3        -> pgtrade 15 = broker 15
    a limit order rests; broker +1    -> compared while it rests:
                                         broker 16, pgtrade 15, drift 1

Last, the brokerage session is reset at the simulator: an order of B
placed meanwhile leaves only after B's positions were compared again,
and an order of B resting at the broker does not hold that back.
"""
import json
import os
import re
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import (Tap, SANDBOX, psql, scalar, wait_until, Sim,  # noqa: E402
                    services)

t = Tap(34)
TAG = uuid.uuid4().hex[:6].upper()
A = "DUDA" + TAG
B = "DUDB" + TAG
AAPL = 265598
REQUEST_LOG = os.path.join(SANDBOX, "sim", "requests.log")
LISTENER_LOG = os.path.join(SANDBOX, "log", "listener.log")

for acct in (A, B):
    psql("SELECT pgtrade.add_account(:'p0')", acct)
    psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 1000)", acct)
psql("SELECT pgtrade.add_instrument('AAPL', :'p0')", AAPL)


def size_of(path):
    return os.path.getsize(path) if os.path.exists(path) else 0


def new_text(path, mark):
    """Return what was appended to path after byte offset mark."""
    if not os.path.exists(path):
        return ""
    with open(path, "rb") as f:
        f.seek(mark)
        return f.read().decode("utf-8", "replace")


os.environ["PGTRADE_ACCOUNTS"] = A + "," + B
os.environ["PGTRADE_POSITIONS_INTERVAL"] = "2"
log_mark = size_of(LISTENER_LOG)
services("start-sim")
req_mark = size_of(REQUEST_LOG)
services("start-listener")
sim = Sim()
sim.call("POST", "/sim/price", {"conid": AAPL, "price": "190.00"})


def log_has(pattern):
    return re.search(pattern, new_text(LISTENER_LOG, log_mark), re.M)


def status_of(order_id):
    return scalar("SELECT status FROM pgtrade.orders WHERE order_id = :'p0'",
                  order_id)


def wait_status(order_id, wanted, deadline=30):
    return wait_until(lambda: status_of(order_id) == wanted and wanted,
                      deadline) or status_of(order_id)


def place(acct, qty, extra=""):
    return scalar("SELECT (pgtrade.place_order(:'p0', 'AAPL', 'buy', :'p1'"
                  + extra + ")).order_id", acct, qty)


def position(acct):
    return scalar("SELECT pgtrade.position_quantity(:'p0', "
                  "pgtrade.instrument_id('AAPL'))::text", acct)


def drift_rows(acct):
    return psql("SELECT drift_id, pgtrade_quantity, broker_quantity, "
                "difference, status FROM pgtrade.position_drift "
                "WHERE account_id = :'p0' ORDER BY drift_id", acct)


def compared_after(acct, since):
    """Wait for a comparison of acct that ended after since (SQL time)."""
    return wait_until(lambda: scalar(
        "SELECT outcome FROM pgtrade.position_check WHERE account_id = "
        ":'p0' AND checked_at > :'p1'::timestamptz AND outcome <> "
        "'postponed'", acct, since), 30)


def now_sql():
    return scalar("SELECT clock_timestamp()::text")


def positions_requests(acct):
    """Count position page requests of acct since this test began."""
    n = 0
    for line in new_text(REQUEST_LOG, req_mark).splitlines():
        path = json.loads(line).get("path", "")
        if re.search(r"/portfolio/%s/positions/\d+" % acct, path):
            n += 1
    return n


# start-up: both accounts are compared before anything is claimed
for acct in (A, B):
    t.ok(wait_until(lambda: log_has(
        r"\] LOG: account: %s: positions compared with the broker \(0 held "
        r"there\); orders may be claimed$" % acct), 30),
        "start-up comparison of %s agrees and is logged" % acct[:4])

# normal fills give no drift
a1 = place(A, 10)
b1 = place(B, 5)
t.eq((wait_status(a1, "filled"), wait_status(b1, "filled")),
     ("filled", "filled"), "market buys of 10 (A) and 5 (B) fill")
mark = now_sql()
t.eq(compared_after(A, mark), "agreed",
     "after the fill A's broker 10 and pgtrade 10 agree")
t.eq(compared_after(B, now_sql()), "agreed", "and B's 5 and 5")
t.eq(psql("SELECT count(*) FROM pgtrade.position_drift "
          "WHERE account_id IN (:'p0', :'p1')", A, B), [["0"]],
     "no drift is recorded after normal fills")

# drift injected at the broker: recorded after two snapshots
sim.call("POST", "/sim/position", {"account": A, "conid": AAPL, "adjust": 3})
t.ok(wait_until(lambda: drift_rows(A), 30), "drift in A is recorded")
rows = drift_rows(A)
t.eq([r[1:] for r in rows], [["10", "13", "3", "open"]],
     "drift row: pgtrade 10, broker 10 + 3 = 13, difference 3, open")
drift_id = rows[0][0]
t.ok(scalar("SELECT first_seen < confirmed_at FROM pgtrade.position_drift "
            "WHERE drift_id = :'p0'", drift_id) == "t",
     "it was first seen by an earlier snapshot than the one confirming it")
t.ok(log_has(r"\] WARNING: account: %s: position of AAPL \(conid 265598\) "
             r"differs: pgtrade 10, broker 13; " % A),
     "the first snapshot logs a WARNING with both quantities")
t.ok(log_has(r"\] ERROR: account: %s: position drift %s in AAPL \(conid "
             r"265598\): pgtrade 10, broker 13; new orders held back until "
             r"it is acknowledged or resolved$" % (A, drift_id)),
     "the second logs one ERROR line with account, symbol and quantities")

# A's new order waits; B's goes through
mark = now_sql()
a2 = place(A, 2)
b2 = place(B, 1)
t.eq(wait_status(b2, "filled"), "filled",
     "an order of the other account is sent and fills")
compared_after(A, mark)  # the drift was seen again after the order came
t.eq(status_of(a2), "pending", "A's new order stays pending")
t.eq(scalar("SELECT health FROM pgtrade.listener_health "
            "WHERE name = 'sandbox' ORDER BY listener_id DESC LIMIT 1"),
     "drift blocks " + A, "listener_health says drift blocks A")

# acknowledged: the pending order is sent; the difference stays noted
psql("SELECT pgtrade.acknowledge_drift(:'p0', 'manual buy of 3 at the "
     "broker; keep trading')", drift_id)
t.eq(wait_status(a2, "filled"), "filled",
     "after acknowledge_drift the pending order is sent and fills")
t.eq(compared_after(A, now_sql()), "drift",
     "the next comparison still sees the acknowledged difference")
t.eq([r[1:] for r in drift_rows(A)], [["10", "13", "3", "acknowledged"]],
     "broker 15 against pgtrade 12 is the same acknowledged drift of 3")

# resolved: the adjustment makes pgtrade's position the broker's
adj = scalar("SELECT pgtrade.resolve_drift(:'p0', 'broker statement shows "
             "15')", drift_id)
t.eq(scalar("SELECT quantity::text FROM pgtrade.position_adjustment "
            "WHERE adjustment_id = :'p0'", adj), "3",
     "resolve_drift adds an adjustment of 3")
t.eq(position(A), "15", "A's position is 10 + 2 + 3 = 15, the broker's")
t.eq(compared_after(A, now_sql()), "agreed",
     "the next comparison agrees")

# an order resting unchanged at the broker does not put comparisons off
sim.call("POST", "/sim/config", {"fill_mode": "never"})
a3 = place(A, 1, ", order_type => 'limit', limit_price => 180")
t.eq(wait_status(a3, "working"), "working", "a limit order of A is working")
before = positions_requests(A)
sim.call("POST", "/sim/position", {"account": A, "conid": AAPL, "adjust": 1})
t.ok(wait_until(lambda: len(drift_rows(A)) == 2, 30),
     "a new difference is found while the order rests")
t.eq([r[1:] for r in drift_rows(A)][1], ["15", "16", "1", "open"],
     "and recorded: pgtrade 15, broker 15 + 1 = 16, difference 1")
t.eq(status_of(a3), "working", "the order was working all along")
t.ok(positions_requests(A) - before >= 2,
     "A's positions were read twice or more while it rested")
psql("SELECT pgtrade.cancel_order(:'p0')", a3)
t.eq(wait_status(a3, "cancelled"), "cancelled", "the order is cancelled")

# after the gateway session comes back, B is compared before it trades
sim.call("POST", "/sim/config", {"fill_mode": "immediate"})
reset_mark = size_of(LISTENER_LOG)
sim.call("POST", "/sim/auth", {"nightly_reset": True})
t.ok(wait_until(lambda: re.search(r"WARNING: gateway: session lost",
                                  new_text(LISTENER_LOG, reset_mark)), 30),
     "the listener sees the brokerage session lost")
b3 = place(B, 1)
t.eq(wait_status(b3, "filled"), "filled",
     "B's order placed meanwhile fills once the session is back")
coid = scalar("SELECT client_order_id FROM pgtrade.orders "
              "WHERE order_id = :'p0'", b3)
text = new_text(LISTENER_LOG, reset_mark)
ready = text.find("LOG: gateway: session ready")
compared = text.find("LOG: account: %s: positions compared" % B, ready)
sent = text.find("sending cOID %s " % coid)
t.ok(0 <= ready < compared < sent,
     "it was sent only after B's positions were compared again",
     "session ready at %d, compared at %d, sent at %d" % (ready, compared,
                                                          sent))

# an order resting at the broker does not hold back the account's new
# orders once the session comes back: B is compared beside it
sim.call("POST", "/sim/config", {"fill_mode": "never"})
b4 = place(B, 1)
t.eq(wait_status(b4, "working"), "working", "a B order rests at the broker")
held_mark = size_of(LISTENER_LOG)
sim.call("POST", "/sim/auth", {"nightly_reset": True})
wait_until(lambda: "LOG: gateway: session ready" in
           new_text(LISTENER_LOG, held_mark), 30)
b5 = place(B, 1)
t.eq(wait_status(b5, "working"), "working",
     "a new B order is sent while the other rests")
coid = scalar("SELECT client_order_id FROM pgtrade.orders "
              "WHERE order_id = :'p0'", b5)
text = new_text(LISTENER_LOG, held_mark)
ready = text.find("LOG: gateway: session ready")
compared = text.find("LOG: account: %s: positions compared" % B, ready)
sent = text.find("sending cOID %s " % coid)
t.ok(0 <= ready < compared < sent,
     "after B's positions were compared beside the resting order",
     "session ready at %d, compared at %d, sent at %d" % (ready, compared,
                                                          sent))
t.ok("new orders wait" not in text,
     "and the listener never said that new orders wait")
t.eq(status_of(b4), "working", "the first order still rests")
for o in (b4, b5):
    psql("SELECT pgtrade.cancel_order(:'p0')", o)
    wait_status(o, "cancelled")

services("stop")
t.done()
