#!/usr/bin/python3
"""pgtrade.modify_order end to end: the ticket the simulator received,
prompts under the placement allow list, refusals, the risk gate, and a
lost answer settled from the live orders without a second POST.

The listener runs as started by scripts/services.sh, with confirm ids
o354,o163 (so o163 is confirmed and o10138 is not).  The expected
ticket is written by hand from ../shared/ibkr-cpapi.md 6.5: a single
object (no "orders" wrapper) repeating every field with the new values;
pgtrade leaves the cOID out, the path names the order.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, psql, scalar, wait_until, Sim, services  # noqa: E402
from faultlib import LISTENER_LOG, mark, text_since, coid_of  # noqa: E402

t = Tap(35)
ACCT = "DU1234567"
INST = {"MODA": 990221, "MODB": 990222}

psql("SELECT pgtrade.add_account(:'p0')", ACCT)
psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 100000)", ACCT)
for sym, conid in INST.items():
    psql("SELECT pgtrade.add_instrument(:'p0', :'p1')", sym, conid)

services("start-sim")
services("start-listener")
sim = Sim()


def price(sym, value):
    sim.call("POST", "/sim/price", {"conid": INST[sym], "price": value})


def place_limit(sym, qty, limit, tif="gtc"):
    return scalar("SELECT (pgtrade.place_order(:'p0', :'p1', 'buy', :'p2', "
                  "order_type => 'limit', limit_price => :'p3', tif => "
                  ":'p4')).order_id", ACCT, sym, qty, limit, tif)


def status_of(order_id):
    return scalar("SELECT status FROM pgtrade.orders WHERE order_id = :'p0'",
                  order_id)


def wait_status(order_id, wanted, deadline=30):
    wait_until(lambda: status_of(order_id) == wanted, deadline)
    return status_of(order_id)


def modify(order_id, **kw):
    """Call modify_order; return (modification id, status)."""
    args = ", ".join("%s => :'p%d'" % (k, i + 1) for i, k in
                     enumerate(kw))
    r = psql("SELECT (m).modification_id, (m).status FROM (SELECT "
             "pgtrade.modify_order(:'p0', %s) AS m) x" % args,
             order_id, *kw.values())[0]
    return r[0], r[1]


def mod_row(mod_id):
    return psql("SELECT status, coalesce(reason, '') FROM "
                "pgtrade.order_modification WHERE modification_id = :'p0'",
                mod_id)[0]


def wait_mod(mod_id, deadline=30):
    wait_until(lambda: mod_row(mod_id)[0] in ("applied", "refused"),
               deadline)
    return mod_row(mod_id)


def terms(order_id):
    return psql("SELECT quantity::text, coalesce(limit_price::text, '') "
                "FROM pgtrade.orders WHERE order_id = :'p0'", order_id)[0]


def broker_id(order_id):
    return int(scalar("SELECT broker_order_id FROM pgtrade.orders WHERE "
                      "order_id = :'p0'", order_id))


def book(order_id):
    bid = broker_id(order_id)
    for o in sim.call("GET", "/sim/book")["orders"]:
        if o["order_id"] == bid:
            return o
    return {}


def modify_posts(order_id):
    bid = broker_id(order_id)
    return [e for e in sim.call("GET", "/sim/log")["entries"]
            if e["kind"] == "modify" and e["order_id"] == bid]


def sql_error(sql):
    """Run SQL expected to fail; return psql's verbose error text."""
    return subprocess.run(["psql", "-X", "-At", "-v", "VERBOSITY=verbose",
                           "-c", sql], capture_output=True,
                          text=True).stderr


def events(order_id, pattern):
    return int(scalar("SELECT count(*) FROM pgtrade.order_event WHERE "
                      "order_id = :'p0' AND detail LIKE :'p1'",
                      order_id, pattern))


price("MODA", "100.00")
price("MODB", "100.00")

# applied: limit buy 10 at 95.00 -> 15 at 96.00, then filled at 95.90
a = place_limit("MODA", 10, "95.00")
t.eq(wait_status(a, "working"), "working", "a limit buy at 95.00 works")
mod, st = modify(a, quantity=15, limit_price="96.00")
t.eq(st, "requested", "modify_order records the request")
t.eq(wait_mod(mod), ["applied", ""], "the broker's answer is recorded as "
     "applied")
posts = modify_posts(a)
t.eq(len(posts), 1, "one modify POST reached the broker")
t.eq(posts[0]["path"], "/iserver/account/%s/order/%d" % (ACCT, broker_id(a)),
     "it went to /iserver/account/{acct}/order/{broker order id}")
t.eq(posts[0]["body"], {"acctId": ACCT, "conid": 990221,
                        "secType": "990221:STK", "orderType": "LMT",
                        "price": 96, "side": "BUY", "quantity": 15,
                        "tif": "GTC", "outsideRTH": False},
     "its body is the single full ticket with the new values, no cOID")
t.eq(terms(a), ["15", "96.00"], "the order row has quantity 15, limit 96.00")
t.eq((book(a).get("quantity"), book(a).get("price")), (15.0, "96.00"),
     "the broker's book has the same terms")
t.eq([events(a, "modification %s requested%%" % mod),
      events(a, "modification %s sent%%" % mod),
      events(a, "modification %s applied%%" % mod)], [1, 1, 1],
     "requested, sent and applied are order events")
price("MODA", "95.90")
t.eq(wait_status(a, "filled"), "filled", "the modified order fills at 95.90")
t.eq(wait_until(lambda: scalar(
    "SELECT sum(quantity)::text FROM pgtrade.fill WHERE order_id = :'p0' "
    "HAVING sum(quantity) = 15", a), 30), "15",
    "all 15 shares of the new quantity are recorded")
err = sql_error("SELECT pgtrade.modify_order(%s, quantity => 20)" % a)
t.ok("55000" in err and "cannot modify order %s: it is filled" % a in err,
     "modifying the filled order fails with 55000", err)

# a prompt on the allow list (o163) is confirmed
b = place_limit("MODB", 5, "90.00")
t.eq(wait_status(b, "working"), "working", "a second limit buy works")
sim.call("POST", "/sim/config", {"prompts": {"every": 1,
                                             "message_ids": ["o163"]}})
mod, st = modify(b, limit_price="91.00")
t.eq(wait_mod(mod), ["applied", ""], "a modify answered with prompt o163 "
     "is confirmed and applied")
t.eq([p["outcome"] for p in modify_posts(b)], ["prompt"],
     "the modify POST was answered with a prompt")
t.eq((terms(b), book(b).get("price")), (["5", "91.00"], "91.00"),
     "order and broker have limit 91.00")

# a prompt off the allow list (o10138) is declined: refused, unchanged
sim.call("POST", "/sim/config", {"prompts": {"every": 1,
                                             "message_ids": ["o10138"]}})
mod, st = modify(b, quantity=6)
status, reason = wait_mod(mod)
t.eq(status, "refused", "a modify answered with prompt o10138 is refused")
t.ok(reason.startswith("confirmation prompt not allowed: o10138: "),
     "the reason names the prompt", reason)
t.eq((terms(b), book(b).get("quantity")), (["5", "91.00"], 5.0),
     "order and broker keep quantity 5")
sim.call("POST", "/sim/config", {"prompts": {"every": 0}})

# the broker refuses: reason recorded, order unchanged
sim.call("POST", "/sim/config", {"reject_next": "modification not allowed"})
mod, st = modify(b, quantity=8)
t.eq(wait_mod(mod), ["refused", "modification not allowed"],
     "the broker's error text is the refusal's reason")
t.eq(terms(b), ["5", "91.00"], "the order keeps quantity 5")

# the risk gate: limit 50; 5 -> 51 is refused before anything is sent
psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 50)", ACCT)
before = len(modify_posts(b))
mod, st = modify(b, quantity=51)
t.eq(st, "refused", "51 with a limit of 50 is refused by the gate")
t.ok(mod_row(mod)[1].startswith("refused by the risk gate: projected "
                                "position 51 "), "the gate's reason is kept",
     mod_row(mod)[1])
mod, st = modify(b, quantity=50)
t.eq(wait_mod(mod), ["applied", ""], "50 passes and is applied")
t.eq(len(modify_posts(b)) - before, 1,
     "only the modification that passed was posted")
psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 100000)", ACCT)

# the answer is lost (the broker applied it, the listener got a 504):
# settled from the live orders, not posted again
sim.call("POST", "/sim/config", {"answer_lost_next": True})
mod, st = modify(b, quantity=7)
status, reason = wait_mod(mod, 60)
t.eq((status, reason), ("applied", "no answer; the broker's live order "
                        "shows the new terms"),
     "a lost answer is settled as applied from the live order")
t.eq([p["body"]["quantity"] for p in modify_posts(b)].count(7), 1,
     "the modification was posted once, not sent again")
t.eq((terms(b), book(b).get("quantity")), (["7", "91.00"], 7.0),
     "order and broker both have quantity 7")

# the request is lost on its way (the broker never saw it): settled as
# refused from the live orders, which still show 7 at 91.00
sim.call("POST", "/sim/config", {"drop_next": True})
mod, st = modify(b, quantity=9)
t.eq(wait_mod(mod, 60), ["refused", "no answer, and the broker's live "
                         "order shows quantity 7, price 91.00 (the old "
                         "terms); not sent again"],
     "a lost request is settled as refused from the live order")
t.eq([p["body"]["quantity"] for p in modify_posts(b)].count(9), 1,
     "it was posted once, not sent again")
t.eq((terms(b), book(b).get("quantity")), (["7", "91.00"], 7.0),
     "order and broker keep quantity 7")

# the request arrives late (held 20 s, past the listener's 15 s HTTP
# timeout): settled meanwhile as refused from the live orders, which
# still show 7; when the broker applies it after all, the sizes differ
# and the listener says so once it has seen it twice
l0 = mark(LISTENER_LOG)
sim.call("POST", "/sim/config", {"hold": {"route": "modify_order",
                                          "phase": "before", "ms": 20000,
                                          "count": 1}})
mod, st = modify(b, quantity=8)
t.eq(wait_mod(mod, 60)[0], "refused", "a request held past the timeout is "
     "settled as refused meanwhile")
t.ok(wait_until(lambda: "the broker's order (cOID %s) is for 8, pgtrade's "
                "for 7" % coid_of(b) in text_since(LISTENER_LOG, l0), 60),
     "when the broker applies it after all, the listener warns that the "
     "sizes differ")

# cancel the rest; nothing stays pending
psql("SELECT pgtrade.cancel_order(:'p0')", b)
t.eq(wait_status(b, "cancelled"), "cancelled", "the order is cancelled")
t.eq(scalar("SELECT count(*) FROM pgtrade.order_modification m JOIN "
            "pgtrade.orders o USING (order_id) JOIN pgtrade.instrument i "
            "USING (instrument_id) WHERE i.symbol LIKE 'MOD%' AND m.status "
            "IN ('requested', 'sent')"), "0", "no modification is left open")

services("stop")
t.done()
