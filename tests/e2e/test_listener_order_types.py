#!/usr/bin/python3
"""Every order type and time in force, end to end: the ticket the
simulator received and what became of the order.

The listener runs as started by scripts/services.sh.  Each case trades
its own instrument (conids the simulator does not list get a stand-in
contract), so a price set for one case cannot move another's orders.
The simulator's fill rules (tests/sim/README.md, "Fill engine"): a buy
limit executes when the market price is at or below it, a sell limit at
or above, always at the market price; a stop is elected when the price
reaches it (buy: at or above, sell: at or below) and then acts as a
market (STP) or limit (STOP_LIMIT) order; IOC cancels what the first
pass did not fill; POST /sim/close cancels working DAY orders.

The expected tickets are written by hand from ../shared/ibkr-cpapi.md
6.1: orderType MKT, LMT, STP or STOP_LIMIT; price the limit (LMT,
STOP_LIMIT) or the stop (STP); auxPrice the stop of STOP_LIMIT; tif DAY,
GTC or IOC; outsideRTH the order's flag.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, psql, scalar, wait_until, Sim, services  # noqa: E402

t = Tap(46)
ACCT = "DU1234567"
# symbol -> conid, one per case
INST = {"OTMKT": 990211, "OTLMT": 990212, "OTSTP": 990213,
        "OTSLM": 990214, "OTIOC": 990215, "OTIOP": 990216, "OTDAY": 990217}

psql("SELECT pgtrade.add_account(:'p0')", ACCT)
psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 100000)", ACCT)
for sym, conid in INST.items():
    psql("SELECT pgtrade.add_instrument(:'p0', :'p1')", sym, conid)



def positions():
    """Positions of the OT instruments, by symbol (0 when none)."""
    have = {sym: 0 for sym in INST}
    for sym, qty in psql("SELECT i.symbol, p.quantity::int FROM "
                         "pgtrade.position p JOIN pgtrade.instrument i "
                         "USING (instrument_id) WHERE p.account_id = :'p0' "
                         "AND i.symbol LIKE 'OT%'", ACCT):
        have[sym] = int(qty)
    return have


START = positions()
services("start-sim")
services("start-listener")
sim = Sim()


def price(sym, value):
    sim.call("POST", "/sim/price", {"conid": INST[sym], "price": value})


def place(sym, side, qty, otype, limit=None, stop=None, tif="day",
          rth=False):
    return scalar(
        "SELECT (pgtrade.place_order(:'p0', :'p1', :'p2', :'p3', "
        "order_type => :'p4', limit_price => nullif(:'p5', '')::numeric, "
        "stop_price => nullif(:'p6', '')::numeric, tif => :'p7', "
        "outside_rth => :'p8')).order_id",
        ACCT, sym, side, qty, otype, limit or "", stop or "", tif,
        "true" if rth else "false")


def row(order_id):
    r = psql("SELECT status, filled_quantity, client_order_id "
             "FROM pgtrade.orders WHERE order_id = :'p0'", order_id)[0]
    return r[0], r[1], r[2]


def wait_status(order_id, wanted, deadline=30):
    wait_until(lambda: row(order_id)[0] == wanted, deadline)
    return row(order_id)[0]


def wait_filled_qty(order_id, qty, deadline=30):
    """Wait until the recorded fills of the order add up to qty."""
    def have():
        return scalar("SELECT coalesce(sum(quantity), 0) = :'p1'::numeric "
                      "FROM pgtrade.fill WHERE order_id = :'p0'",
                      order_id, qty) == "t"
    wait_until(have, deadline)
    return psql("SELECT count(*), coalesce(sum(quantity), 0)::text, "
                "string_agg(price::text, ',' ORDER BY fill_id) "
                "FROM pgtrade.fill WHERE order_id = :'p0'", order_id)[0]


def ticket(order_id):
    """The ticket of the order's place request in the simulator's log."""
    coid = row(order_id)[2]
    for e in sim.call("GET", "/sim/log")["entries"]:
        if e["kind"] == "place" and e["cOID"] == coid:
            return e["body"]["orders"][0]
    return None


def book(order_id):
    coid = row(order_id)[2]
    for o in sim.call("GET", "/sim/book")["orders"]:
        if o["cOID"] == coid:
            return o
    return {}


def fields(tk):
    """The ticket fields that vary by order, absent ones as None."""
    return tuple(tk.get(k) for k in ("side", "quantity", "orderType",
                                     "price", "auxPrice", "tif",
                                     "outsideRTH"))


# market buy 10, DAY: fills at once at the market price 100.00
price("OTMKT", "100.00")
mkt = place("OTMKT", "buy", 10, "market")
t.eq(wait_status(mkt, "filled"), "filled", "market: order filled")
tk = ticket(mkt)
t.eq(fields(tk), ("BUY", 10, "MKT", None, None, "DAY", False),
     "market: ticket BUY 10 MKT, no price, DAY, outsideRTH false")
t.eq((tk["conid"], tk["acctId"], tk["cOID"]), (990211, ACCT, row(mkt)[2]),
     "market: ticket names the conid, the account and the order's cOID")
t.eq(wait_filled_qty(mkt, 10), ["1", "10", "100.00"],
     "market: one execution of 10 at the market price 100.00")

# limit buy 5 at 99.50, GTC, outside regular hours: works at 100.00,
# fills once the price falls to 99.40, at 99.40
price("OTLMT", "100.00")
lmt = place("OTLMT", "buy", 5, "limit", limit="99.50", tif="gtc", rth=True)
t.eq(wait_status(lmt, "working"), "working",
     "limit: buy at 99.50 works while the market is at 100.00")
t.eq(fields(ticket(lmt)), ("BUY", 5, "LMT", 99.5, None, "GTC", True),
     "limit: ticket BUY 5 LMT price 99.50, GTC, outsideRTH true")
price("OTLMT", "99.60")
t.eq(book(lmt).get("status"), "Submitted",
     "limit: at 99.60, above the limit, the broker still works it")
price("OTLMT", "99.40")
t.eq(wait_status(lmt, "filled"), "filled",
     "limit: filled once the price crossed the limit")
t.eq(wait_filled_qty(lmt, 5), ["1", "5", "99.40"],
     "limit: executed at the market price 99.40, not the limit")

# stop sell 4 at 98.00, DAY: held PreSubmitted until the price reaches
# 98.00 or below, then a market order
price("OTSTP", "100.00")
stp = place("OTSTP", "sell", 4, "stop", stop="98.00")
t.eq(wait_status(stp, "working"), "working", "stop: sell stop is working")
t.eq(fields(ticket(stp)), ("SELL", 4, "STP", 98, None, "DAY", False),
     "stop: ticket SELL 4 STP with price = the stop 98.00, no auxPrice")
t.eq(book(stp).get("status"), "PreSubmitted",
     "stop: the broker holds it PreSubmitted until elected")
price("OTSTP", "98.50")
t.eq(book(stp).get("status"), "PreSubmitted",
     "stop: at 98.50, above the stop, it is not elected")
t.eq(row(stp)[0], "working", "stop: the order is still working")
price("OTSTP", "98.00")
t.eq(wait_status(stp, "filled"), "filled",
     "stop: elected at 98.00 and filled")
t.eq(wait_filled_qty(stp, 4), ["1", "4", "98.00"],
     "stop: executed as a market order at 98.00")

# stop-limit buy 6, stop 101.00, limit 101.50: elected at 101.80 but
# not executable above its limit; fills when the price comes back to
# 101.20
price("OTSLM", "100.00")
slm = place("OTSLM", "buy", 6, "stop_limit", limit="101.50", stop="101.00")
t.eq(wait_status(slm, "working"), "working", "stop-limit: working")
t.eq(fields(ticket(slm)), ("BUY", 6, "STOP_LIMIT", 101.5, 101, "DAY", False),
     "stop-limit: ticket price = limit 101.50, auxPrice = stop 101.00")
t.eq(book(slm).get("status"), "PreSubmitted",
     "stop-limit: PreSubmitted below its stop")
price("OTSLM", "101.80")
t.eq(book(slm).get("status"), "Submitted",
     "stop-limit: at 101.80 the stop is elected (Submitted)")
t.eq(book(slm).get("filled"), 0.0,
     "stop-limit: but nothing fills above the 101.50 limit")
price("OTSLM", "101.20")
t.eq(wait_status(slm, "filled"), "filled",
     "stop-limit: filled once the price is back within the limit")
t.eq(wait_filled_qty(slm, 6), ["1", "6", "101.20"],
     "stop-limit: executed at 101.20")

# IOC limit buy 8 at 99.00 with the market at 100.00: nothing can
# execute, so the broker cancels the whole order at once
price("OTIOC", "100.00")
ioc = place("OTIOC", "buy", 8, "limit", limit="99.00", tif="ioc")
t.eq(wait_status(ioc, "cancelled"), "cancelled",
     "IOC: an order that cannot execute ends cancelled")
t.eq(fields(ticket(ioc)), ("BUY", 8, "LMT", 99, None, "IOC", False),
     "IOC: ticket BUY 8 LMT 99.00, tif IOC")
t.eq(row(ioc)[1], "0", "IOC: nothing filled")
t.eq(book(ioc).get("status"), "Cancelled", "IOC: the broker shows Cancelled")

# IOC limit buy 8 at 101.00 with the market at 100.00 and the
# simulator filling 3 shares per pass: 3 execute, the other 5 are
# cancelled
sim.call("POST", "/sim/config", {"fill_mode": "partial",
                                 "partial_sizes": [3]})
price("OTIOP", "100.00")
iocp = place("OTIOP", "buy", 8, "limit", limit="101.00", tif="ioc")
t.eq(wait_status(iocp, "cancelled"), "cancelled",
     "IOC partial: the unfilled rest is cancelled")
t.eq(wait_filled_qty(iocp, 3), ["1", "3", "100.00"],
     "IOC partial: the 3 shares executed at 100.00 are recorded")
t.eq(row(iocp)[1], "3", "IOC partial: filled_quantity is 3 of 8")
b = book(iocp)
t.eq((b.get("status"), b.get("filled"), b.get("remaining")),
     ("Cancelled", 3.0, 5.0),
     "IOC partial: the broker shows Cancelled with 3 filled, 5 left")
t.eq(scalar("SELECT pgtrade.open_quantity(:'p0', pgtrade.instrument_id("
            "'OTIOP'))", ACCT), "0",
     "IOC partial: nothing of it counts as open any more")
sim.call("POST", "/sim/config", {"fill_mode": "immediate",
                                 "partial_sizes": []})

# DAY and GTC limit buys at 90.00 with the market at 100.00: at the
# close the DAY order is cancelled, the GTC order keeps working
price("OTDAY", "100.00")
day = place("OTDAY", "buy", 2, "limit", limit="90.00", tif="day")
gtc = place("OTDAY", "buy", 3, "limit", limit="90.00", tif="gtc")
t.eq((wait_status(day, "working"), wait_status(gtc, "working")),
     ("working", "working"), "close: DAY and GTC orders are working")
t.eq((ticket(day)["tif"], ticket(gtc)["tif"]), ("DAY", "GTC"),
     "close: tickets carry tif DAY and GTC")
closed = sim.call("POST", "/sim/close", {})["cancelled"]
t.eq(sorted(closed), sorted([book(day)["order_id"]]),
     "close: the simulator cancelled the DAY order alone")
t.eq(wait_status(day, "cancelled"), "cancelled",
     "close: the DAY order becomes cancelled in pgtrade")
t.eq(scalar("SELECT count(*) FROM pgtrade.order_event WHERE order_id = "
            ":'p0' AND to_status = 'cancelled' AND detail = "
            "'broker status Cancelled'", day), "1",
     "close: one event records the broker's Cancelled")
t.eq(row(gtc)[0], "working", "close: the GTC order is still working")
t.eq(book(gtc).get("status"), "Submitted",
     "close: the broker still works the GTC order")
price("OTDAY", "89.90")
t.eq(wait_status(gtc, "filled"), "filled",
     "close: the GTC order fills on the next day's price")
t.eq(wait_filled_qty(gtc, 3), ["1", "3", "89.90"],
     "close: GTC executed at 89.90")
t.eq(row(day)[1], "0", "close: the DAY order never filled")

# every case: what the broker executed is what pgtrade recorded
have = {}
for o in sim.call("GET", "/sim/book")["orders"]:
    have[o["cOID"]] = o["filled"]
want = {}
for r in psql("SELECT o.client_order_id, o.filled_quantity FROM "
              "pgtrade.orders o JOIN pgtrade.instrument i USING "
              "(instrument_id) WHERE i.symbol LIKE 'OT%'"):
    if r[0] in have:
        want[r[0]] = float(r[1])
t.eq(have, want, "the broker's filled quantities equal pgtrade's, order "
     "by order")
t.eq(scalar("SELECT count(*) FROM pgtrade.orders o JOIN pgtrade.instrument "
            "i USING (instrument_id) WHERE i.symbol LIKE 'OT%' AND "
            "o.status IN ('pending', 'submitting', 'unknown')"), "0",
     "no order is left pending, submitting or unknown")
# positions moved, by hand: OTMKT +10, OTLMT +5, OTSTP -4, OTSLM +6,
# OTIOC 0, OTIOP +3, OTDAY +3
end = positions()
t.eq({sym: end[sym] - START[sym] for sym in INST},
     {"OTMKT": 10, "OTLMT": 5, "OTSTP": -4, "OTSLM": 6, "OTIOC": 0,
      "OTIOP": 3, "OTDAY": 3}, "positions moved by the sums of the fills")
places = [e["cOID"] for e in sim.call("GET", "/sim/log")["entries"]
          if e["kind"] == "place"]
t.eq((len(places), len(set(places))), (8, 8),
     "eight orders, eight place requests, eight distinct cOIDs")

services("stop")
t.done()
