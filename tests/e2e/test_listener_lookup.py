#!/usr/bin/python3
"""pgtrade-listener looks up the conid of an instrument registered
without one, and never guesses.

The simulator's built-in contract table maps IBM to conid 8314 on NYSE
(tests/sim/cpapi_sim.py, BUILTIN_CONTRACTS); that is the value expected
below.  ZZZQ is in no table, so its search answer is [].  ZZDU is added
to the simulator twice, on NYSE and on NASDAQ: two US listings, so no
unique match.  Orders whose lookup finds no unique match are rejected
before anything is posted, which the simulator's log of order POSTs
shows.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import SANDBOX, Tap, psql, scalar, wait_until, Sim, \
    services  # noqa: E402

t = Tap(17)
ACCT = "DU1234567"
LOG = os.path.join(SANDBOX, "log", "listener.log")

psql("SELECT pgtrade.add_account(:'p0')", ACCT)
psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 1000)", ACCT)
for sym in ("IBM", "ZZZQ", "ZZDU"):
    psql("SELECT pgtrade.add_instrument(:'p0')", sym)
# An earlier run cached IBM's conid; forget it so the lookup runs again
# (test set-up only: the API never clears a known conid).
psql("UPDATE pgtrade.instrument SET conid = NULL "
     "WHERE symbol IN ('IBM', 'ZZZQ', 'ZZDU')")
log_start = os.path.getsize(LOG) if os.path.exists(LOG) else 0

services("start-sim")
services("start-listener")
sim = Sim()
sim.call("POST", "/sim/price", {"conid": 8314, "price": "150"})
sim.call("POST", "/sim/contract", {"symbol": "ZZDU", "conid": 990001,
                                   "exchange": "NYSE"})
sim.call("POST", "/sim/contract", {"symbol": "ZZDU", "conid": 990002,
                                   "exchange": "NASDAQ"})


def place(symbol, qty):
    return scalar("SELECT (pgtrade.place_order(:'p0', :'p1', 'buy', :'p2'))"
                  ".order_id", ACCT, symbol, qty)


def final(order_id, deadline=30):
    return wait_until(lambda: scalar(
        "SELECT status FROM pgtrade.orders WHERE order_id = :'p0' AND "
        "status NOT IN ('pending', 'submitting', 'working')", order_id),
        deadline)


def column(order_id, col):
    return scalar("SELECT %s FROM pgtrade.orders WHERE order_id = :'p0'"
                  % col, order_id)


def conid(symbol):
    return scalar("SELECT conid FROM pgtrade.instrument WHERE symbol = "
                  ":'p0'", symbol)


def log_text():
    with open(LOG, errors="replace") as f:
        f.seek(log_start)
        return f.read()


# IBM: one match in the simulator's table, conid 8314
ibm_id = place("IBM", 5)
t.eq(final(ibm_id), "filled", "an order for an instrument without a "
     "conid is looked up and filled")
t.eq(conid("IBM"), "8314", "the conid found is cached in "
     "pgtrade.instrument")
note = psql("SELECT detail, payload::text FROM pgtrade.order_event "
            "WHERE order_id = :'p0' AND detail LIKE 'contract lookup%'",
            ibm_id)
t.eq([r[0] for r in note], ["contract lookup: IBM is conid 8314"],
     "one order event notes the lookup")
t.ok(bool(note) and '"8314"' in note[0][1], "the event keeps the search "
     "answer as its payload", note)
book = {o["cOID"]: o for o in sim.call("GET", "/sim/book")["orders"]}
ibm_coid = column(ibm_id, "client_order_id")
t.eq(book.get(ibm_coid, {}).get("conid"), 8314, "the broker got the order "
     "with conid 8314")
t.ok(wait_until(lambda: "order %s: contract lookup for IBM: conid 8314 "
                "chosen from 1 stock match: 8314 (NYSE)" % ibm_id
                in log_text(), 5),
     "the listener logs the lookup result")

# ZZZQ: the simulator knows no such symbol
zzzq_id = place("ZZZQ", 6)
t.eq(final(zzzq_id), "rejected", "an order whose lookup finds nothing is "
     "rejected")
err = column(zzzq_id, "last_error") or ""
t.ok("contract lookup for ZZZQ found 0 matches" in err and
     "pgtrade.add_instrument" in err, "the rejection names the lookup and "
     "the way out", err)
t.eq(conid("ZZZQ"), None, "no conid is cached for ZZZQ")
t.ok(wait_until(lambda: "order %s: contract lookup for ZZZQ: none chosen "
                "from 0 stock matches" % zzzq_id in log_text(), 5),
     "the listener logs the empty lookup")

# ZZDU: two US listings, ambiguous
zzdu_id = place("ZZDU", 7)
t.eq(final(zzdu_id), "rejected", "an order whose lookup is ambiguous is "
     "rejected")
err = column(zzdu_id, "last_error") or ""
t.ok("contract lookup for ZZDU found 2 matches: conids " in err and
     "990001 (NYSE)" in err and "990002 (NASDAQ)" in err,
     "the rejection lists both conids", err)
t.eq(conid("ZZDU"), None, "no conid is cached for an ambiguous symbol")

# what left the machine
log = [e for e in sim.call("GET", "/sim/log")["entries"]
       if e.get("kind") == "place"]
sent = [e["cOID"] for e in log]
t.eq(sent.count(ibm_coid), 1, "the IBM order was posted once")
for name, oid in [("ZZZQ", zzzq_id), ("ZZDU", zzdu_id)]:
    coid = column(oid, "client_order_id")
    t.ok(coid not in sent, "the %s order never reached the broker" % name)
t.ok(wait_until(lambda: scalar(
    "SELECT sum(quantity) FROM pgtrade.fill WHERE order_id = :'p0' "
    "HAVING sum(quantity) = 5", ibm_id), 30) == "5",
     "the IBM fill of 5 shares is recorded")

services("stop")
t.done()
