#!/usr/bin/python3
"""pgtrade-listener against the simulator: what must never be sent is
not sent, prompts are confirmed only from the allow list, and broker
refusals are recorded with their text.

The listener runs as started by scripts/services.sh, with the allow list
o354,o163.  Each case waits for the order to reach its final state; at
the end the simulator's log of every order POST it received shows which
cOIDs left the machine, each at most once.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, psql, scalar, wait_until, Sim, services  # noqa: E402

t = Tap(17)
ACCT = "DU1234567"
psql("SELECT pgtrade.add_account(:'p0')", ACCT)
psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 1000)", ACCT)
psql("SELECT pgtrade.add_instrument('AAPL', 265598)")
services("start-sim")
services("start-listener")
sim = Sim()
sim.call("POST", "/sim/price", {"conid": 265598, "price": "150.25"})


def place(qty, extra=""):
    return scalar("SELECT (pgtrade.place_order(:'p0', 'AAPL', 'buy', :'p1'"
                  + extra + ")).order_id", ACCT, qty)


def final(order_id, deadline=30):
    return wait_until(lambda: scalar(
        "SELECT status FROM pgtrade.orders WHERE order_id = :'p0' AND "
        "status NOT IN ('pending', 'submitting', 'working')", order_id),
        deadline)


def coid(order_id):
    return scalar("SELECT client_order_id FROM pgtrade.orders "
                  "WHERE order_id = :'p0'", order_id)


def in_tx(*stmts):
    """Run statements in one transaction; return the first's output."""
    cmd = ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", "BEGIN"]
    for s in stmts:
        cmd += ["-c", s]
    cmd += ["-c", "COMMIT"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return [l for l in out.stdout.splitlines() if l and l not in
            ("BEGIN", "COMMIT")]


# a normal order fills
ok_id = place(10)
t.eq(final(ok_id), "filled", "a plain market order is filled")

# refused by the gate: never sent
psql("SELECT pgtrade.set_trading_enabled(false, :'p0', note => 'e2e')", ACCT)
refused_id = place(11)
psql("SELECT pgtrade.set_trading_enabled(true, :'p0')", ACCT)
t.eq(scalar("SELECT status FROM pgtrade.orders WHERE order_id = :'p0'",
            refused_id), "refused", "an order placed under the kill switch "
     "is refused")

# expired before the listener could claim it: never sent
expired_id = in_tx("SELECT (pgtrade.place_order('%s', 'AAPL', 'buy', 12, "
                   "valid_for => '1 millisecond')).order_id" % ACCT,
                   "SELECT pg_sleep(0.05)")[0]
t.eq(final(expired_id), "expired", "an order past valid_until is expired, "
     "not sent")

# kill switch turned on in the same transaction: cancelled at claim time
killed_id = in_tx("SELECT (pgtrade.place_order('%s', 'AAPL', 'buy', 13))"
                  ".order_id" % ACCT,
                  "SELECT pgtrade.set_trading_enabled(false, '%s')" % ACCT)[0]
t.eq(final(killed_id), "cancelled", "a kill switch seen at claim time "
     "cancels the order")
t.ok("kill switch" in (scalar(
    "SELECT detail FROM pgtrade.order_event WHERE order_id = :'p0' "
    "ORDER BY event_id DESC LIMIT 1", killed_id) or ""),
     "the cancellation names the kill switch")
psql("SELECT pgtrade.set_trading_enabled(true, :'p0')", ACCT)

# prompts on the allow list are confirmed, a chain of two
sim.call("POST", "/sim/config", {"prompts": {"every": 1, "chain": 2,
                                             "message_ids": ["o354", "o163"]}})
prompted_id = place(14)
t.eq(final(prompted_id), "filled", "a chain of two allowed prompts is "
     "confirmed and the order fills")

# a prompt off the allow list is not confirmed: the order is rejected
sim.call("POST", "/sim/config", {"prompts": {"every": 1, "chain": 1,
                                             "message_ids": ["o10151"]}})
unconfirmed_id = place(15)
t.eq(final(unconfirmed_id), "rejected", "a prompt not on the allow list "
     "rejects the order")
err = scalar("SELECT last_error FROM pgtrade.orders WHERE order_id = :'p0'",
             unconfirmed_id) or ""
t.ok("o10151" in err, "the rejection names the prompt's message id", err)
sim.call("POST", "/sim/config", {"prompts": {"every": 0}})

# the broker refuses: rejected with the broker's text
sim.call("POST", "/sim/config", {"reject_next": {"text":
                                                 "No trading permissions."}})
rejected_id = place(16)
t.eq(final(rejected_id), "rejected", "a broker error reply rejects the "
     "order")
t.ok("No trading permissions." in (scalar(
    "SELECT last_error FROM pgtrade.orders WHERE order_id = :'p0'",
    rejected_id) or ""), "the broker's text is recorded")

# what left the machine
log = [e for e in sim.call("GET", "/sim/log")["entries"]
       if e.get("kind") == "place"]
sent = [e["cOID"] for e in log]
t.eq(len(sent), len(set(sent)), "no cOID was posted twice")
for name, oid in [("refused", refused_id), ("expired", expired_id),
                  ("cancelled", killed_id)]:
    t.ok(coid(oid) not in sent, "the %s order never reached the broker"
         % name)
book = {o["cOID"]: o for o in sim.call("GET", "/sim/book")["orders"]}
t.ok(coid(unconfirmed_id) not in book or
     book[coid(unconfirmed_id)]["status"] not in ("Submitted", "Filled",
                                                   "PreSubmitted"),
     "the unconfirmed order was never placed at the broker")
fills = wait_until(lambda: scalar(
    "SELECT sum(quantity) FROM pgtrade.fill WHERE order_id IN "
    "(:'p0', :'p1') HAVING sum(quantity) >= 24", ok_id, prompted_id), 30)
t.eq(fills, "24", "fills recorded: 10 + 14 shares")
t.eq(scalar("""SELECT p.quantity FROM pgtrade.position p JOIN
               pgtrade.instrument i USING (instrument_id)
               WHERE p.account_id = :'p0' AND i.symbol = 'AAPL'""", ACCT),
     "24", "the AAPL position is the sum of the fills")

services("stop")
t.done()
