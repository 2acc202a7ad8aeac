#!/usr/bin/python3
"""pgtrade-listener adopts a broker order found under a cOID only when it
is the order pgtrade holds under that cOID.

Four orders are claimed by an earlier listener process that died before
it recorded anything: they stay submitting, and no process running now
holds their bodies.  Under their cOIDs the broker holds, booked straight
through the simulator's order route: the same order (adopted), the
opposite side, another quantity, and another contract.  A listener
started then must adopt the first and leave the other three unknown
(which halts the account until an operator resolves them), naming the
difference, and must send none of them.  Once an operator has settled
them and lifted the halt, the account trades again.

A fifth, the same order booked at the broker, had gone unknown before
any answer came back (record_unknown), so pgtrade never learned its
broker order id.  An operator who finds it at the broker settles it as
working; the listener then learns the id from the live orders, and a
cancel of it reaches the broker.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, psql, scalar, services, wait_until  # noqa: E402
from faultlib import fresh_sim, status_of, coid_of, events  # noqa: E402

t = Tap(14)
ACCT = "DU7770001"
MSFT, AAPL = 272093, 265598

os.environ["PGTRADE_ACCOUNTS"] = ACCT
sim = fresh_sim(MSFT, "100.00")
sim.call("POST", "/sim/price", {"conid": AAPL, "price": "100.00"})
sim.call("POST", "/sim/config", {"fill_mode": "never"})

psql("SELECT pgtrade.add_account(:'p0') WHERE NOT EXISTS (SELECT 1 FROM "
     "pgtrade.account WHERE account_id = :'p0')", ACCT)
psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 1000)", ACCT)
psql("SELECT pgtrade.add_instrument('MSFT', :'p0') WHERE NOT EXISTS "
     "(SELECT 1 FROM pgtrade.instrument WHERE symbol = 'MSFT')", MSFT)


def place():
    return int(scalar("SELECT (pgtrade.place_order(:'p0', 'MSFT', 'buy', 10, "
                      "order_type => 'limit', limit_price => 90)).order_id",
                      ACCT))


same, side, size, contract, lost = (place() for _ in range(5))
earlier = scalar("SELECT pgtrade.listener_register('a listener that died', "
                 "1, 'test')")
claimed = psql("SELECT order_id FROM pgtrade.claim_orders(:'p0', "
               "ARRAY[:'p1'], 10) ORDER BY order_id", earlier, ACCT)
t.eq([int(r[0]) for r in claimed], [same, side, size, contract, lost],
     "an earlier process claimed the five orders")


def book(order_id, **change):
    """Book at the broker, under order_id's cOID, its order body with
    the given fields changed."""
    body = {"acctId": ACCT, "conid": MSFT, "orderType": "LMT",
            "price": 90, "side": "BUY", "quantity": 10, "tif": "DAY",
            "cOID": coid_of(order_id)}
    body.update(change)
    answer = sim.call("POST", "/v1/api/iserver/account/%s/orders" % ACCT,
                      {"orders": [body]})
    return str(answer[0]["order_id"])


sim.call("GET", "/v1/api/iserver/accounts")
# the same order, its quantity written 10.0: equal as a number
broker_same = book(same, quantity=10.0)
book(side, side="SELL")
book(size, quantity=7)
book(contract, conid=AAPL)
broker_lost = book(lost)
psql("SELECT pgtrade.record_unknown(:'p0', 'test: the answer was lost')",
     lost)
t.eq(len(sim.call("GET", "/sim/log")["entries"]), 5,
     "the broker holds five orders under the five cOIDs")

services("start-listener")
t.eq(wait_until(lambda: status_of(same) == "working" and "working", 30) or
     status_of(same), "working", "the same order is adopted as working")
t.eq(scalar("SELECT broker_order_id FROM pgtrade.orders WHERE order_id = "
            ":'p0'", same), broker_same,
     "with the broker's order id of its cOID")
wait_until(lambda: all(status_of(i) == "unknown"
                       for i in (side, size, contract)), 30)
t.eq([status_of(i) for i in (side, size, contract)], ["unknown"] * 3,
     "the three that differ are left unknown")


def why(order_id):
    """The detail of the order's move to unknown."""
    return [e[2] for e in events(order_id) if e[1] == "unknown"]


expect = "is registered at the broker for a different order: account " \
    "%s, conid %d, side %s, quantity %s (ours: account %s, conid %d, " \
    "side buy, quantity 10)"
t.eq(why(side), ["cOID %s %s" % (coid_of(side), expect % (
    ACCT, MSFT, "sell", "10", ACCT, MSFT))],
     "the opposite side is named")
t.eq(why(size), ["cOID %s %s" % (coid_of(size), expect % (
    ACCT, MSFT, "buy", "7", ACCT, MSFT))],
     "the other quantity is named")
t.eq(why(contract), ["cOID %s %s" % (coid_of(contract), expect % (
    ACCT, AAPL, "buy", "10", ACCT, MSFT))],
     "the other contract is named")
places = [e for e in sim.call("GET", "/sim/log")["entries"]
          if e["kind"] == "place"]
t.eq(len(places), 5, "the listener sent none of the five")

# an unknown order halts its account: the gate refuses new orders
late = place()
t.eq(status_of(late), "refused", "a new order of the halted account is "
     "refused")
for i in (side, size, contract):
    psql("SELECT pgtrade.resolve_unknown(:'p0', 'cancelled', 'not ours at "
         "the broker; the broker order was cancelled by hand')", i)
psql("SELECT pgtrade.resolve_unknown(:'p0', 'working', 'found working at "
     "the broker')", lost)
psql("SELECT pgtrade.unhalt_account(:'p0', 'three foreign cOIDs settled')",
     ACCT)
late = place()
t.eq(wait_until(lambda: status_of(late) == "working" and "working", 30) or
     status_of(late), "working",
     "once an operator resolves them and lifts the halt, it trades again")
t.eq(len([e for e in sim.call("GET", "/sim/log")["entries"]
            if e["kind"] == "place"]), 6, "and that order was sent once")
t.eq(wait_until(lambda: scalar("SELECT broker_order_id FROM pgtrade.orders "
                               "WHERE order_id = :'p0'", lost), 30),
     broker_lost, "the order settled as working gets its broker order id "
     "from the live orders")
psql("SELECT pgtrade.cancel_order(:'p0')", lost)
t.eq(wait_until(lambda: status_of(lost) == "cancelled" and "cancelled", 30)
     or status_of(lost), "cancelled", "and a cancel of it reaches the broker")

services("stop")
sys.exit(t.done())
