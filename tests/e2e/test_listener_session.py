#!/usr/bin/python3
"""pgtrade-listener keeps, loses and regains the gateway session as
ibkr-cpapi.md sections 2 and 9 say, and loses no order on the way.

The listener runs as started by scripts/services.sh: time scale 0.05
(tickle every 60 x 0.05 = 3 s), poll interval 0.5 s, suppressed id o383.
Each fault is set through the simulator's control API (/sim/auth):

- idle timeout: the session logs out (401 to everything);
- no bridge (400): fixed by the listener with ssodh/init;
- competing: no trading; ssodh/init with compete only with --compete;
- "Please query /accounts first" after a new brokerage session;
- nightly reset: the brokerage session is lost (state connected);
- maintenance: /iserver answers 503.

For each: once the listener has noticed (its heartbeat's gateway_state),
a pending order stays pending and the simulator's log shows no POST of
it; after recovery it is accepted exactly once.  An order caught by the
fault before the listener noticed is refused by the gateway, stays
submitting, and is sent again with the same cOID after recovery:
accepted once.  After every new brokerage session the simulator shows
the suppressed id again.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, psql, wait_until, Sim, services  # noqa: E402
from faultlib import (SCALE, REQUEST_LOG, LISTENER_LOG, mark,  # noqa: E402
                      requests_since, text_since, gateway_state,
                      wait_state, place, status_of, coid_of, wait_status,
                      posts_of, accepted_posts)

t = Tap(51)
ACCT = "DU1234567"
TICKLE = 60 * SCALE          # the contract's 60 s keep-alive, scaled
HOLD = 2.0                   # seconds an order must stay pending (4 polls)

psql("SELECT pgtrade.add_account(:'p0')", ACCT)
psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 100000)", ACCT)
psql("SELECT pgtrade.add_instrument('AAPL', 265598)")
services("start-sim")
sim = Sim()
os.environ.pop("PGTRADE_LISTENER_FLAGS", None)
services("start-listener")
sim.call("POST", "/sim/price", {"conid": 265598, "price": "150.25"})


def auth(**kw):
    return sim.call("POST", "/sim/auth", kw)


def held_pending(order_id, coid):
    """Check for HOLD seconds that the order stays pending, unsent."""
    end = time.monotonic() + HOLD
    while time.monotonic() < end:
        if status_of(order_id) != "pending" or posts_of(sim, coid):
            return False
        time.sleep(0.1)
    return True


def just_after(route):
    """Return just after the listener's next request to route.

    The listener is idle between its tickles and its trade polls (one
    each per 3 s): a fault set right after one of them meets the order
    POST that follows before any of those calls can notice it.
    """
    m = mark(REQUEST_LOG)
    wait_until(lambda: any(e["route"] == route for e in requests_since(m)),
               10, interval=0.02)


def order_pending_while_down(name):
    """Place an order while the session is down; it must not leave."""
    oid = place(ACCT, "AAPL", 1)
    coid = coid_of(oid)
    t.ok(held_pending(oid, coid), "%s: a new order stays pending and is "
         "not posted while the session is down" % name)
    return oid, coid


def sent_once(name, oid, coid):
    t.eq(wait_status(oid, "filled"), "filled",
         "%s: after recovery the order is sent and fills" % name)
    t.eq(accepted_posts(sim, coid), 1,
         "%s: the broker accepted its cOID exactly once" % name)


# the session comes up with the suppressed id
first = place(ACCT, "AAPL", 1)
t.eq(wait_status(first, "filled"), "filled", "a first order fills")
view = sim.call("GET", "/sim/auth")
t.eq(view["suppressed"], ["o383"], "the listener suppressed o383 at start")

# --- keep-alive: tickles over a quiet window ----------------------------
r0 = mark(REQUEST_LOG)
WINDOW = 15.0
time.sleep(WINDOW)
tickles = [e["start"] for e in requests_since(r0) if e["route"] == "/tickle"]
# 15 s / 3 s = 5 tickles; a window cuts at most one more or one fewer
lo, hi = int(WINDOW / TICKLE) - 1, int(WINDOW / TICKLE) + 1
t.ok(lo <= len(tickles) <= hi, "tickle count over %.0f s is within "
     "[%d, %d] for one per %.1f s" % (WINDOW, lo, hi, TICKLE),
     "have %d tickles" % len(tickles))
gaps = [b - a for a, b in zip(tickles, tickles[1:])]
t.ok(gaps and all(0.5 * TICKLE <= g <= 1.5 * TICKLE for g in gaps),
     "every gap between tickles is within half and one and a half "
     "intervals", "gaps %r" % gaps)

# --- idle timeout: the gateway logs out; 401 ----------------------------
r0, l0 = mark(REQUEST_LOG), mark(LISTENER_LOG)
auth(idle_timeout_s=10)       # 0.5 s scaled: shorter than any idle gap
t.eq(wait_state("down"), "down", "idle timeout: the listener notices the "
     "lost session (gateway_state down)")
t.ok(any(e["status"] == 401 for e in requests_since(r0)),
     "idle timeout: the gateway answered 401")
t.ok("session lost" in text_since(LISTENER_LOG, l0),
     "idle timeout: the listener logs the session loss")
oid, coid = order_pending_while_down("idle timeout")
# one whose time runs out while the session is down
short = place(ACCT, "AAPL", 1, extra=", valid_for => '1 second'")
time.sleep(1.5)
before = sim.call("GET", "/sim/auth")["brokerage_session"]
auth(idle_timeout_s=360, state="authenticated")   # a fresh browser login
sent_once("idle timeout", oid, coid)
t.eq(wait_status(short, "expired"), "expired", "idle timeout: an order "
     "whose valid_until passed meanwhile expires unsent")
# The listener expires it at its next claim and logs that.  The
# stuck-orders job, which runs each minute, may have come first: it
# expires it as housekeeping and says so in the order's event (and the
# server's log), where the listener has nothing to log.
rows = psql("SELECT source || '|' || detail FROM pgtrade.order_event "
            "WHERE order_id = :'p0' AND to_status = 'expired'", short)
expired_by = rows[0][0] if rows else ""
if expired_by.startswith("housekeeping|"):
    t.ok(expired_by.startswith("housekeeping|not sent: valid until "),
         "idle timeout: and the housekeeping that expired it first says so",
         expired_by)
else:
    t.ok(wait_until(lambda: "order %s (%s) expired, not sent: valid until"
                    % (short, coid_of(short))
                    in text_since(LISTENER_LOG, l0), 10),
         "idle timeout: and the listener's log says so")
view = sim.call("GET", "/sim/auth")
t.ok(view["brokerage_session"] > before and view["suppressed"] == ["o383"],
     "idle timeout: o383 is suppressed again in the new brokerage session",
     view)

# --- no bridge: 400, fixed with ssodh/init ------------------------------
r0 = mark(REQUEST_LOG)
just_after("/tickle")
auth(state="no-bridge")
oid = place(ACCT, "AAPL", 1)       # before the listener can notice
coid = coid_of(oid)
t.eq(wait_status(oid, "filled"), "filled", "no bridge: an order placed as "
     "the bridge went away fills once the listener re-initialised")
reqs = requests_since(r0)
inits = [e for e in reqs if e["route"] == "/iserver/auth/ssodh/init"]
t.ok(len(inits) >= 1 and all(e["status"] == 200 for e in inits),
     "no bridge: the listener called ssodh/init", inits)
t.ok(any(e["status"] == 400 for e in reqs if e["start"] <
         inits[0]["start"]) if inits else False,
     "no bridge: the gateway answered 400 before the ssodh/init")
t.eq(accepted_posts(sim, coid), 1, "no bridge: its cOID was accepted once")
t.ok(all(e["http_status"] in (400, 200) for e in posts_of(sim, coid)),
     "no bridge: any earlier POST of it got the 400 no bridge",
     posts_of(sim, coid))
t.eq(sim.call("GET", "/sim/auth")["suppressed"], ["o383"],
     "no bridge: o383 is suppressed again")

# --- competing, compete not configured ----------------------------------
r0, l0 = mark(REQUEST_LOG), mark(LISTENER_LOG)
auth(state="competing")
t.eq(wait_state("competing"), "competing", "competing: the heartbeat says "
     "competing")
oid, coid = order_pending_while_down("competing")
t.eq([e for e in requests_since(r0)
      if e["route"] == "/iserver/auth/ssodh/init"], [],
     "competing: without --compete the listener never calls ssodh/init")
t.ok("another platform holds the brokerage session" in
     text_since(LISTENER_LOG, l0), "competing: the listener logs why it "
     "does not trade")
auth(state="authenticated")    # the other platform let go
sent_once("competing", oid, coid)

# --- Please query /accounts first: a new brokerage session --------------
r0 = mark(REQUEST_LOG)
just_after("/iserver/account/trades")
auth(new_session=True)
t.eq(sim.call("GET", "/sim/auth")["suppressed"], [],
     "new brokerage session: the simulator forgot the suppressed ids")
oid = place(ACCT, "AAPL", 1)
coid = coid_of(oid)
t.eq(wait_status(oid, "filled"), "filled", "accounts first: the order "
     "fills")
posts = posts_of(sim, coid)
t.eq([(e["http_status"], e["error"]) for e in posts],
     [(400, "Please query /accounts first"), (200, None)],
     "accounts first: one refused POST, then one accepted retry")
reqs = requests_since(r0)
idx = [i for i, e in enumerate(reqs) if e["route"].endswith("/orders")
       and e["method"] == "POST"]
between = [e["route"] for e in reqs[idx[0] + 1:idx[-1]]] if len(idx) == 2 \
    else []
t.ok("/iserver/accounts" in between, "accounts first: /iserver/accounts "
     "was queried between the two POSTs", between)
t.eq(sim.call("GET", "/sim/auth")["suppressed"], ["o383"],
     "accounts first: o383 is suppressed again in the new session")
t.eq(accepted_posts(sim, coid), 1, "accounts first: accepted once")

# --- nightly reset ------------------------------------------------------
before = sim.call("GET", "/sim/auth")["brokerage_session"]
auth(nightly_reset=True)
t.ok(wait_until(lambda: sim.call("GET", "/sim/auth")["brokerage_session"]
                > before and gateway_state() == "authenticated", 20),
     "nightly reset: the listener starts a new brokerage session")
oid = place(ACCT, "AAPL", 1)
coid = coid_of(oid)
sent_once("nightly reset", oid, coid)
t.eq(sim.call("GET", "/sim/auth")["suppressed"], ["o383"],
     "nightly reset: o383 is suppressed again")

# --- maintenance: 503 ---------------------------------------------------
l0 = mark(LISTENER_LOG)
just_after("/iserver/account/trades")
r0 = mark(REQUEST_LOG)
auth(maintenance=True)
caught = place(ACCT, "AAPL", 1)     # meets the 503 on its POST
caught_coid = coid_of(caught)
t.eq(wait_state("down"), "down", "maintenance: a 503 takes the session "
     "down")
t.eq(status_of(caught), "submitting", "maintenance: the order that met "
     "the 503 stays submitting")
oid, coid = order_pending_while_down("maintenance")
t.ok(all(e["status"] == 503 for e in requests_since(r0)
         if e["route"].startswith("/iserver/")
         and e["route"] != "/iserver/auth/status"),
     "maintenance: every /iserver call got 503 meanwhile")
auth(maintenance=False)
sent_once("maintenance", oid, coid)
t.eq(wait_status(caught, "filled"), "filled", "maintenance: the order "
     "caught by the 503 is sent again after it and fills")
t.eq(accepted_posts(sim, caught_coid), 1, "maintenance: that cOID was "
     "accepted once")
t.eq([e["http_status"] for e in posts_of(sim, caught_coid)], [503, 200],
     "maintenance: its POSTs were the refused one and one resend")
t.ok("503" in text_since(LISTENER_LOG, l0), "maintenance: the listener "
     "logs the 503")

# --- competing with --compete -------------------------------------------
os.environ["PGTRADE_LISTENER_FLAGS"] = "--compete"
services("start-listener")
os.environ.pop("PGTRADE_LISTENER_FLAGS")
t.eq(wait_state("authenticated"), "authenticated", "--compete: the "
     "restarted listener is ready")
r0 = mark(REQUEST_LOG)
before = sim.call("GET", "/sim/auth")["brokerage_session"]
auth(state="competing")
t.ok(wait_until(lambda: sim.call("GET", "/sim/auth")["state"] ==
                "authenticated", 20),
     "--compete: the listener takes the session back (only compete: true "
     "ends competing)")
# the simulator logs a request once it has answered it: the state may
# change a moment before the line is written
t.ok(wait_until(lambda: any(e["route"] == "/iserver/auth/ssodh/init"
                            for e in requests_since(r0)), 5),
     "--compete: through ssodh/init")
t.ok(sim.call("GET", "/sim/auth")["brokerage_session"] > before,
     "--compete: in a new brokerage session")
oid = place(ACCT, "AAPL", 1)
sent_once("--compete", oid, coid_of(oid))

services("stop")
t.done()
