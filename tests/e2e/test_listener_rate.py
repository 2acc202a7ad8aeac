#!/usr/bin/python3
"""pgtrade-listener stays within the gateway's rate budget (ibkr-cpapi.md
section 8) and backs off when it meets a 429 anyway.

The simulator runs with its rate limits on (the default): a global
bucket, one live-orders and one trades request per 5 s, the penalty box
after 3 refusals in a minute, all scaled by 0.05 like the listener.
What the listener sent comes from the simulator's request log, which has
each request's completion time (ms) and duration.

- A busy run (40 orders at once, fills delayed so that they are tracked)
  earns no 429 and no penalty box; live orders and trades are each asked
  at most once per 5 s (scaled); no second holds more than 10 requests.
- One injected 429 (force_429): nothing is sent for one pacing interval
  (5.5 s scaled), the listener says so, and it carries on.
- A second 429 within a minute: the listener keeps off the gateway for
  the whole penalty (600 s scaled = 30 s) and its heartbeat says
  rate_limited.  That silence outlasts the gateway's idle timeout (360 s
  scaled = 18 s), as on the real gateway: the listener checks the
  session before claiming again, finds it logged out, and sends nothing
  until it is logged in again; then the order placed meanwhile is sent
  once.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, psql, scalar, wait_until, Sim, services  # noqa: E402
from faultlib import (SCALE, REQUEST_LOG, LISTENER_LOG, mark,  # noqa: E402
                      requests_since, text_since, wait_state, place,
                      status_of, coid_of, wait_status, accepted_posts,
                      posts_of)

t = Tap(20)
ACCT = "DU1234567"
SYM, CONID = "FLTR", 990303
N = 40
PACE = 5 * SCALE            # the contract's 1 request per 5 s, scaled

psql("SELECT pgtrade.add_account(:'p0')", ACCT)
psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 100000)", ACCT)
psql("SELECT pgtrade.add_instrument(:'p0', :'p1')", SYM, CONID)
services("start-sim")
services("start-listener")
sim = Sim()
sim.call("POST", "/sim/price", {"conid": CONID, "price": "20.00"})
t.eq(sim.call("GET", "/sim/config")["rate_limits"], True,
     "the simulator's rate limits are on")

# --- a busy run -----------------------------------------------------------
# each fill 60 x 0.05 = 3 s after its order: the orders are tracked
sim.call("POST", "/sim/config", {"fill_mode": "delayed", "fill_delay_s": 60})
r0 = mark(REQUEST_LOG)
ids = psql("SELECT (pgtrade.place_order(:'p0', :'p1', 'buy', 1)).order_id "
           "FROM generate_series(1, %d)" % N, ACCT, SYM)
ids = [r[0] for r in ids]
done = wait_until(lambda: scalar(
    "SELECT count(*) FROM pgtrade.orders WHERE order_id = ANY (:'p0') "
    "AND status = 'filled'", "{%s}" % ",".join(ids)) == str(N), 120)
t.ok(done, "busy run: all %d orders are filled" % N)
t.eq(scalar("SELECT count(*) FROM pgtrade.fill WHERE order_id = ANY (:'p0')",
            "{%s}" % ",".join(ids)), str(N), "busy run: one fill each")
coids = [coid_of(i) for i in ids]
log = [e for e in sim.call("GET", "/sim/log")["entries"]
       if e.get("cOID") in coids]
t.eq(sorted(e["cOID"] for e in log if e.get("order_id")), sorted(coids),
     "busy run: the broker accepted every cOID exactly once")
stats = sim.call("GET", "/sim/stats")
t.eq((stats["refused_429"], stats["penalty_box"]), (0, False),
     "busy run: no 429 earned, no penalty box")
reqs = requests_since(r0)
t.ok(all(e["status"] != 429 for e in reqs), "busy run: the request log "
     "has no 429")
for route in ("/iserver/account/orders", "/iserver/account/trades"):
    starts = [e["start"] for e in reqs if e["route"] == route]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    t.ok(len(starts) >= 5 and min(gaps) >= PACE,
         "busy run: %s at most once per %.2f s (%d requests, shortest gap "
         "%.3f s)" % (route, PACE, len(starts), min(gaps or [0])))
starts = sorted(e["start"] for e in reqs)
busiest = max(len([s for s in starts if a <= s < a + 1.0]) for a in starts)
t.ok(busiest <= 10, "busy run: at most 10 requests in any second (%d)"
     % busiest)
sim.call("POST", "/sim/config", {"fill_mode": "never", "fill_delay_s": 0.5})

# --- one injected 429 -----------------------------------------------------
oid = place(ACCT, SYM, 1)
wait_status(oid, "working")
r0, l0 = mark(REQUEST_LOG), mark(LISTENER_LOG)
sim.call("POST", "/sim/config", {"force_429": {"route": "live_orders",
                                               "count": 1}})
t.ok(wait_until(lambda: any(e["status"] == 429 for e in
                            requests_since(r0)), 20),
     "429: the listener met the injected 429")
time.sleep(2 * 5.5 * SCALE)
reqs = requests_since(r0)
i = [n for n, e in enumerate(reqs) if e["status"] == 429][0]
nxt = reqs[i + 1]["start"] - reqs[i]["start"] if i + 1 < len(reqs) else 0
# the listener pauses one pacing interval, 5.5 s scaled; the contract's
# own interval, 5 s scaled, is the bound
t.ok(nxt >= PACE, "429: the next request came %.3f s later, not at once"
     % nxt)
t.ok(re.search(r"WARNING: gateway: GET /iserver/account/orders\?accountId="
               r"\S+: rate limited \(429\); no requests for 0\.3 s",
               text_since(LISTENER_LOG, l0)),
     "429: the listener logs the back-off")
sim.call("POST", "/sim/order", {"cOID": coid_of(oid),
                                "fill": {"size": 1, "price": "20.00"}})
t.eq(wait_status(oid, "filled"), "filled", "429: tracking carries on and "
     "the order fills")

# --- a second 429 within a minute: the penalty ----------------------------
oid = place(ACCT, SYM, 1)
wait_status(oid, "working")
time.sleep(60 * SCALE)      # the 429 above is now over a minute (scaled) old
r0, l0 = mark(REQUEST_LOG), mark(LISTENER_LOG)
sim.call("POST", "/sim/config", {"force_429": {"route": "live_orders",
                                               "count": 2}})
t.eq(wait_state("rate_limited"), "rate_limited", "penalty: the heartbeat "
     "says rate_limited")
# the heartbeat says so from the first 429's short pause on: the quiet
# time is counted from the second one, which starts the penalty
wait_until(lambda: "no requests for 30.0 s" in text_since(LISTENER_LOG, l0),
           20)
t0 = time.time()
waiting = place(ACCT, SYM, 1)
time.sleep(3.0)
during = [e for e in requests_since(r0) if e["start"] > t0]
t.eq((during, status_of(waiting)), ([], "pending"), "penalty: no request "
     "and no claim for the next 3 s of the 30 s penalty")
t.eq(wait_state("down", 60), "down", "penalty: afterwards the listener "
     "finds the session timed out during the silence")
t.eq((status_of(waiting), posts_of(sim, coid_of(waiting))), ("pending", []),
     "penalty: the order placed meanwhile was not sent into the dead "
     "session")
sim.call("POST", "/sim/auth", {"state": "authenticated"})   # a new login
wait_status(waiting, "working", 30)
sim.call("POST", "/sim/order", {"cOID": coid_of(waiting),
                                "fill": {"size": 1, "price": "20.00"}})
t.eq(wait_status(waiting, "filled"), "filled", "penalty: after a new "
     "login the waiting order is sent and fills")
t.eq(accepted_posts(sim, coid_of(waiting)), 1, "penalty: it was accepted "
     "once")
penalty = re.findall(r"rate limited \(429\); no requests for ([0-9.]+) s",
                     text_since(LISTENER_LOG, l0))
# one pacing interval, 5.5 s x 0.05 = 0.275 s, after the first; 600 s x
# 0.05 = 30.0 s after the second within a minute
t.eq(penalty, ["0.3", "30.0"], "penalty: the listener logs a 0.3 s pause, "
     "then a 30.0 s one")
psql("SELECT pgtrade.cancel_order(:'p0')", oid)
wait_status(oid, "cancelled")

sim.call("POST", "/sim/config", {"fill_mode": "immediate"})
services("stop")
t.done()
