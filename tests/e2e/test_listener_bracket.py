#!/usr/bin/python3
"""pgtrade.place_bracket end to end: one POST with the parent and its
two children, each answer recorded, the OCA group at work, and the
children resized when the parent ends partly filled.

The listener runs as started by scripts/services.sh.  The simulator's
bracket rules (tests/sim/README.md): children are held until their
parent fills (or ends with part of it filled); when one child executes
the other is cancelled.  Expected figures are worked out by hand next
to each case.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, psql, scalar, wait_until, Sim, services  # noqa: E402

t = Tap(34)
ACCT = "DU1234567"
INST = {"BRKA": 990231, "BRKB": 990232, "BRKC": 990233}

psql("SELECT pgtrade.add_account(:'p0')", ACCT)
# 10 shares: a bracket of 10 passes only if its two children count once
# (worst short 0 - 10, not 0 - 20)
psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 10)", ACCT)
for sym, conid in INST.items():
    psql("SELECT pgtrade.add_instrument(:'p0', :'p1')", sym, conid)



def realized(sym):
    return scalar("SELECT coalesce((SELECT realized_pnl FROM "
                  "pgtrade.position WHERE account_id = :'p0' AND "
                  "instrument_id = pgtrade.instrument_id(:'p1')), 0)",
                  ACCT, sym)


START = {sym: realized(sym) for sym in INST}
services("start-sim")
services("start-listener")
sim = Sim()


def price(sym, value):
    sim.call("POST", "/sim/price", {"conid": INST[sym], "price": value})


def place_bracket(sym, qty, entry, tp, sl):
    rows = psql("SELECT order_id, status, bracket_role FROM "
                "pgtrade.place_bracket(:'p0', :'p1', 'buy', :'p2', :'p3', "
                ":'p4', :'p5')", ACCT, sym, qty, entry, tp, sl)
    return rows


def row(order_id):
    return psql("SELECT status, filled_quantity::text, quantity::text, "
                "client_order_id, coalesce(broker_order_id, ''), "
                "coalesce(oca_group, '') FROM pgtrade.orders "
                "WHERE order_id = :'p0'", order_id)[0]


def wait_status(order_id, wanted, deadline=30):
    wait_until(lambda: row(order_id)[0] == wanted, deadline)
    return row(order_id)[0]


def book_of(order_id):
    coid = row(order_id)[3]
    for o in sim.call("GET", "/sim/book")["orders"]:
        if o["cOID"] == coid:
            return o
    return {}


def fills(order_id):
    return psql("SELECT count(*), coalesce(sum(quantity), 0)::text, "
                "coalesce(string_agg(price::text, ','), '') FROM "
                "pgtrade.fill WHERE order_id = :'p0'", order_id)[0]


def wait_fill_qty(order_id, qty, deadline=30):
    wait_until(lambda: fills(order_id)[1] == qty, deadline)
    return fills(order_id)


# the full run: entry buy 10 at 99.00, take-profit 105.00, stop 95.00
price("BRKA", "100.00")
rows = place_bracket("BRKA", 10, "99.00", "105.00", "95.00")
t.eq([(r[1], r[2]) for r in rows], [("pending", "entry"),
                                     ("pending", "take_profit"),
                                     ("pending", "stop_loss")],
     "place_bracket makes three pending orders (the gate counts the OCA "
     "group once: limit 10 suffices)")
p, tp, sl = (int(r[0]) for r in rows)
t.eq([wait_status(i, "working") for i in (p, tp, sl)], ["working"] * 3,
     "all three are working once the broker acknowledged them")
coids = [row(i)[3] for i in (p, tp, sl)]
places = [e for e in sim.call("GET", "/sim/log")["entries"]
          if e["kind"] == "place" and e["cOID"] == coids[0]]
t.eq(len(places), 1, "one place request carried the bracket")
tickets = places[0]["body"]["orders"]
t.eq([(k.get("cOID"), k.get("parentId"), k["orderType"], k.get("price"),
       k["side"], k["quantity"], k["tif"]) for k in tickets],
     [(coids[0], None, "LMT", 99, "BUY", 10, "DAY"),
      (coids[1], coids[0], "LMT", 105, "SELL", 10, "GTC"),
      (coids[2], coids[0], "STP", 95, "SELL", 10, "GTC")],
     "parent, take-profit and stop-loss tickets; children carry their "
     "cOID and parentId = the parent's cOID")
bids = [row(i)[4] for i in (p, tp, sl)]
t.eq(bids, [str(book_of(i).get("order_id")) for i in (p, tp, sl)],
     "each order recorded its own broker order id from the answer")
t.eq((row(tp)[5], row(sl)[5]), (coids[0] + "-oca", coids[0] + "-oca"),
     "the children share one OCA group; the parent has none")
t.eq(row(p)[5], "", "the parent is in no OCA group")
t.eq([book_of(i).get("held") for i in (p, tp, sl)], [False, True, True],
     "the broker holds the children until the parent fills")
price("BRKA", "98.50")
t.eq(wait_status(p, "filled"), "filled", "the entry fills at 98.50")
t.eq(wait_fill_qty(p, "10"), ["1", "10", "98.50"],
     "one execution of 10 at 98.50")
t.eq([book_of(i).get("status") for i in (tp, sl)],
     ["Submitted", "PreSubmitted"],
     "the take-profit works, the stop-loss waits for 95.00")
price("BRKA", "105.50")
t.eq(wait_status(tp, "filled"), "filled", "the take-profit fills at 105.50")
t.eq(wait_status(sl, "cancelled"), "cancelled",
     "the stop-loss is cancelled by the OCA group")
t.eq(wait_fill_qty(tp, "10"), ["1", "10", "105.50"],
     "the take-profit's execution is joined to it by its cOID")
t.eq(fills(sl), ["0", "0", ""], "the stop-loss never executed")
# by hand: bought 10 at 98.50, sold 10 at 105.50: flat, 70.00 realized
t.eq(psql("SELECT quantity::int, realized_pnl - :'p1' = 70 FROM "
          "pgtrade.position WHERE account_id = :'p0' AND instrument_id = "
          "pgtrade.instrument_id('BRKA')", ACCT, START["BRKA"]),
     [["0", "t"]], "flat again with (105.50 - 98.50) x 10 = 70.00 "
     "realized")

# the partial case: the entry fills 4 of 10, then is cancelled; both
# children are modified to 4
sim.call("POST", "/sim/config", {"fill_mode": "partial",
                                 "partial_sizes": [4]})
price("BRKB", "100.00")
rows = place_bracket("BRKB", 10, "99.00", "105.00", "95.00")
p, tp, sl = (int(r[0]) for r in rows)
t.eq([wait_status(i, "working") for i in (p, tp, sl)], ["working"] * 3,
     "a second bracket is working")
price("BRKB", "98.90")
t.eq(wait_fill_qty(p, "4"), ["1", "4", "98.90"],
     "its entry fills 4 of 10 at 98.90")
psql("SELECT pgtrade.cancel_order(:'p0')", p)
t.eq(wait_status(p, "cancelled"), "cancelled",
     "the entry is cancelled with 4 filled")


def resized():
    return psql("SELECT m.order_id, m.status, m.quantity::text, m.source "
                "FROM pgtrade.order_modification m WHERE m.order_id IN "
                "(:'p0', :'p1') ORDER BY m.order_id", tp, sl)


wait_until(lambda: [r[1] for r in resized()] == ["applied", "applied"], 30)
t.eq([r[:3] for r in resized()],
     [[str(tp), "applied", "4"], [str(sl), "applied", "4"]],
     "both children were modified to the 4 filled, and applied")
t.eq([r[3] for r in resized()],
     ["bracket: parent order %d ended cancelled with 4 filled" % p] * 2,
     "the modifications say why")
t.eq([row(i)[2] for i in (tp, sl)], ["4", "4"],
     "pgtrade's children have quantity 4")
t.eq([book_of(i).get("quantity") for i in (tp, sl)], [4.0, 4.0],
     "the broker's children have quantity 4")
mods = [e for e in sim.call("GET", "/sim/log")["entries"]
        if e["kind"] == "modify" and e["order_id"] in
        [book_of(i)["order_id"] for i in (tp, sl)]]
t.eq(sorted((e["body"]["orderType"], e["body"]["quantity"]) for e in mods),
     [("LMT", 4), ("STP", 4)], "one modify POST per child, to 4")
price("BRKB", "94.50")
t.eq((wait_status(sl, "filled"), wait_status(tp, "cancelled")),
     ("filled", "cancelled"),
     "the stop-loss sells the 4 at 94.50; the take-profit is cancelled")
# by hand: bought 4 at 98.90, sold 4 at 94.50: flat, (94.50 - 98.90) x 4
t.eq(psql("SELECT quantity::int, realized_pnl - :'p1' = -17.60 FROM "
          "pgtrade.position WHERE account_id = :'p0' AND instrument_id = "
          "pgtrade.instrument_id('BRKB')", ACCT, START["BRKB"]),
     [["0", "t"]], "flat with (94.50 - 98.90) x 4 = -17.60 realized")

sim.call("POST", "/sim/config", {"fill_mode": "immediate",
                                 "partial_sizes": []})


def places_of(coid):
    return [e for e in sim.call("GET", "/sim/log")["entries"]
            if e["kind"] == "place" and e["cOID"] == coid]


# a lost answer: the broker booked the bracket, the listener got a 504;
# all three are found by their cOIDs and adopted, nothing is sent again
price("BRKC", "100.00")
sim.call("POST", "/sim/config", {"answer_lost_next": True})
rows = place_bracket("BRKC", 5, "90.00", "105.00", "85.00")
p, tp, sl = (int(r[0]) for r in rows)
t.eq([wait_status(i, "working") for i in (p, tp, sl)], ["working"] * 3,
     "after a lost answer the three orders are adopted as working")
t.eq([row(i)[4] for i in (p, tp, sl)],
     [str(book_of(i).get("order_id")) for i in (p, tp, sl)],
     "each adopted order has the broker id of its own cOID")
t.eq(len(places_of(row(p)[3])), 1, "the bracket was posted once")
psql("SELECT pgtrade.cancel_order(:'p0')", p)
t.eq([wait_status(i, "cancelled") for i in (p, tp, sl)], ["cancelled"] * 3,
     "cancelling the unfilled entry cancels its children at the broker")

# a request lost on its way: the entry is not at the broker, so it is
# sent again with the same cOIDs, children included; no child is marked
# unknown meanwhile
sim.call("POST", "/sim/config", {"drop_next": True})
rows = place_bracket("BRKC", 5, "90.00", "105.00", "85.00")
p, tp, sl = (int(r[0]) for r in rows)
t.eq([wait_status(i, "working") for i in (p, tp, sl)], ["working"] * 3,
     "after a dropped request the bracket is sent again and works")
posts = places_of(row(p)[3])
t.eq([(e.get("dropped", False),
       [k.get("cOID") for k in e["body"]["orders"]]) for e in posts],
     [(True, [row(i)[3] for i in (p, tp, sl)]),
      (False, [row(i)[3] for i in (p, tp, sl)])],
     "two posts of the same three cOIDs: the dropped one and the resend")
t.eq(scalar("SELECT halted FROM pgtrade.account WHERE account_id = :'p0'",
            ACCT), "f", "no order became unknown: the account is not "
     "halted")
psql("SELECT pgtrade.cancel_order(:'p0')", p)
t.eq([wait_status(i, "cancelled") for i in (p, tp, sl)], ["cancelled"] * 3,
     "the second bracket is cancelled too")
psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 100000)", ACCT)
services("stop")
t.done()
