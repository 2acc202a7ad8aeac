#!/usr/bin/python3
"""pgtrade-listener --paper fills orders from stored bars, with no
gateway at all.

The listener is started with --paper-slippage-bps 10 and a --gateway
URL naming a loopback port this test listens on: the test asserts that
nothing ever connected there.  Expected prices are worked out by hand
next to each case: buys pay close x 1.001 rounded up to the tick, sells
get close x 0.999 rounded down; an elected buy stop starts from the
higher of close and stop.
"""
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, TOP, SANDBOX, psql, scalar, wait_until  # noqa: E402

t = Tap(30)
ACCT = "PAPER%d" % os.getpid()  # a fresh account: orders start at none
LISTENER = os.environ.get("PGTRADE_LISTENER",
                          os.path.join(TOP, "listener", "pgtrade-listener"))
LOG = os.path.join(SANDBOX, "log", "listener-paper.log")
CONNINFO = "host=%s port=%s dbname=%s user=pgtrade_listen" % (
    os.environ.get("PGHOST", "/var/run/postgresql"),
    os.environ.get("PGPORT", "5432"), os.environ.get("PGDATABASE", "pgtrade"))

# a loopback port that counts every connection made to it
trap = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
trap.bind(("127.0.0.1", 0))
trap.listen(8)
trap.settimeout(0.2)
connections = []
stop_trap = threading.Event()


def watch():
    while not stop_trap.is_set():
        try:
            conn, _ = trap.accept()
            connections.append(1)
            conn.close()
        except socket.timeout:
            pass


threading.Thread(target=watch, daemon=True).start()
GATEWAY = "https://127.0.0.1:%d/v1/api" % trap.getsockname()[1]

# paper mode refuses to start without the accounts it is to serve
bad = subprocess.run([LISTENER, "-d", CONNINFO, "--paper"],
                     capture_output=True, text=True, timeout=30)
t.eq(bad.returncode, 2, "--paper without --accounts is a configuration error")
t.ok("paper mode needs the accounts to serve" in bad.stderr,
     "and says why", bad.stderr)

psql("SELECT pgtrade.add_account(:'p0')", ACCT)
psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 1000)", ACCT)
for sym, conid in (("PAPX", 881001), ("PAPT", 881002), ("PAPS", 881003)):
    psql("SELECT pgtrade.add_instrument(:'p0', :'p1')", sym, conid)
psql("UPDATE pgtrade.instrument SET tick_size = 0.05 WHERE symbol = 'PAPT'")
# a run before this one may have left bars behind
psql("DELETE FROM pgtrade.bar WHERE instrument_id IN (SELECT instrument_id "
     "FROM pgtrade.instrument WHERE symbol IN ('PAPX', 'PAPT', 'PAPS'))")
# yesterday's session in New York has ended; PAPS's bar is 10 days old
psql("""
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low,
                         close, volume)
SELECT pgtrade.instrument_id(s), '1 day',
       ((now() AT TIME ZONE 'America/New_York')::date - d)::timestamp
       AT TIME ZONE 'America/New_York', o, h, l, c, v
FROM (VALUES ('PAPX', 1, 100, 101, 99.5, 100.37, 1000),
             ('PAPT', 1, 50, 50.5, 49.8, 50.12, 500),
             ('PAPS', 10, 30, 31, 29, 30.5, 100)) x(s, d, o, h, l, c, v)""")

logf = open(LOG, "ab")
log_mark = logf.tell()
# a second account pgtrade does not know: served, with a warning
NOSUCH = "NOSUCH%d" % os.getpid()
proc = subprocess.Popen([LISTENER, "-d", CONNINFO, "--paper",
                         "--accounts", ACCT + "," + NOSUCH,
                         "--paper-slippage-bps", "10",
                         "--poll-interval", "0.3", "--gateway", GATEWAY,
                         "--name", "paper-test"],
                        stdout=logf, stderr=logf)


def log_text():
    with open(LOG, "rb") as f:
        f.seek(log_mark)
        return f.read().decode("utf-8", "replace")


def place(sym, side, qty, **kw):
    args = "".join(", %s => :'%s'" % (k, k) for k in kw)
    sql = ("SELECT (pgtrade.place_order(:'acct', :'sym', :'side', :'qty'%s))"
           ".order_id" % args)
    cmd_vars = dict(acct=ACCT, sym=sym, side=side, qty=qty, **kw)
    # named psql variables instead of p0, p1, ...
    out = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1"] +
                         sum((["-v", "%s=%s" % kv] for kv in
                              cmd_vars.items()), []),
                         input=sql, capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


def status_of(order_id):
    return scalar("SELECT status FROM pgtrade.orders WHERE order_id = :'p0'",
                  order_id)


def wait_status(order_id, wanted, deadline=20):
    return wait_until(lambda: status_of(order_id) == wanted and wanted,
                      deadline) or status_of(order_id)


def fills_of(order_id):
    return psql("SELECT quantity, price FROM pgtrade.fill "
                "WHERE order_id = :'p0' ORDER BY fill_id", order_id)


t.ok(wait_until(lambda: "paper mode, no gateway" in log_text(), 20),
     "the start-up line says paper mode, no gateway")
t.ok(wait_until(lambda: "%s: pgtrade has no such account" % NOSUCH
                in log_text(), 20) and
     "%s: pgtrade has no such account" % ACCT not in log_text(),
     "an account pgtrade does not know is warned of, and only that one")

# market orders: filled at once from yesterday's close
buy = place("PAPX", "buy", 10)
t.eq(wait_status(buy, "filled"), "filled", "a market buy is filled")
# 100.37 x 1.001 = 100.47037, rounded up to the cent: 100.48
t.eq(fills_of(buy), [["10", "100.48"]],
     "bought 10 at 100.48 = 100.37 x 1.001 rounded up")
sell = place("PAPX", "sell", 4)
t.eq(wait_status(sell, "filled"), "filled", "a market sell is filled")
# 100.37 x 0.999 = 100.26963, rounded down to the cent: 100.26
t.eq(fills_of(sell), [["4", "100.26"]],
     "sold 4 at 100.26 = 100.37 x 0.999 rounded down")
nickel = place("PAPT", "buy", 7)
t.eq(wait_status(nickel, "filled"), "filled", "a buy of a 0.05-tick stock")
# 50.12 x 1.001 = 50.17012, rounded up to 0.05: 50.20
t.eq(fills_of(nickel), [["7", "50.20"]],
     "bought 7 at 50.20 = 50.12 x 1.001 rounded up to the nickel")

# orders that cannot fill on that bar
limit = place("PAPX", "buy", 3, order_type="limit", limit_price="100.40",
              tif="gtc")
t.eq(wait_status(limit, "working"), "working",
     "a buy limit of 100.40 below 100.48 stays working")
ioc = place("PAPX", "buy", 2, order_type="limit", limit_price="100.00",
            tif="ioc")
t.eq(wait_status(ioc, "cancelled"), "cancelled",
     "an IOC buy limit of 100.00 is cancelled unfilled")
stop = place("PAPX", "buy", 2, order_type="stop", stop_price="101.50",
             tif="gtc")
t.eq(wait_status(stop, "working"), "working",
     "a buy stop of 101.50 above the high 101 is not elected")
gone = place("PAPX", "sell", 1, order_type="limit", limit_price="101.00",
             tif="gtc")
t.eq(wait_status(gone, "working"), "working",
     "a sell limit of 101.00 above 100.26 stays working")
# a modification of a working paper order: the paper listener is its
# broker, and applies it
mod = scalar("SELECT (pgtrade.modify_order(:'p0', 2, 101.10, NULL))"
             ".modification_id", gone)
t.eq(wait_until(lambda: scalar(
    "SELECT status FROM pgtrade.order_modification "
    "WHERE modification_id = :'p0'", mod) == "applied" and "applied", 20)
     or scalar("SELECT status FROM pgtrade.order_modification "
               "WHERE modification_id = :'p0'", mod), "applied",
     "its modification is applied by the paper listener")
t.eq(psql("SELECT status, quantity, limit_price FROM pgtrade.orders "
          "WHERE order_id = :'p0'", gone), [["working", "2", "101.10"]],
     "the order works on with the new quantity and limit")
psql("SELECT pgtrade.cancel_order(:'p0')", gone)
t.eq(wait_status(gone, "cancelled"), "cancelled",
     "its cancel is carried out by the paper listener")
stale = place("PAPS", "buy", 1)
t.ok(wait_until(lambda: "order %s: paper order not filled: the last bar of "
                        "PAPS ended" % stale in log_text(), 20),
     "a bar 10 days old fills nothing, and the listener logs it")
t.eq(status_of(stale), "working", "that order stays working")

# a newer 5-minute bar lets the limit fill; the stop needs a higher bar
psql("""
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low,
                         close, volume)
VALUES (pgtrade.instrument_id('PAPX'), '5 minutes',
        date_trunc('minute', now()) - interval '10 minutes',
        100.3, 100.6, 100.1, 100.25, 50)""")
t.eq(wait_status(limit, "filled"), "filled",
     "the buy limit fills on the newer bar")
# 100.25 x 1.001 = 100.35025, rounded up: 100.36, within the 100.40 limit
t.eq(fills_of(limit), [["3", "100.36"]],
     "bought 3 at 100.36 = 100.25 x 1.001 rounded up")
t.eq(status_of(stop), "working", "the stop is still not elected (high 100.6)")
# a bar that ends now, after the stop was placed (a high or low traded
# before an order existed elects nothing)
psql("""
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low,
                         close, volume)
VALUES (pgtrade.instrument_id('PAPX'), '5 minutes',
        now() - interval '5 minutes', 100.5, 101.8, 100.4, 101.2, 80)""")
t.eq(wait_status(stop, "filled"), "filled",
     "a bar whose high 101.8 crosses 101.50 elects the stop, which fills")
# from max(close 101.2, stop 101.50) = 101.50: x 1.001 = 101.6015 -> 101.61
t.eq(fills_of(stop), [["2", "101.61"]],
     "bought 2 at 101.61 = 101.50 x 1.001 rounded up")

# paper marks, positions
t.eq(scalar("SELECT count(*) FROM pgtrade.orders WHERE account_id = :'p0' "
            "AND broker_order_id IS DISTINCT FROM 'PAPER-' || client_order_id",
            ACCT), "0",
     "every order of the account has the broker order id PAPER-<cOID>")
t.eq(psql("SELECT count(*), count(*) FILTER (WHERE execution_id = "
          "'PAPER-' || order_ref || '-1' AND payload->>'paper' = 'true') "
          "FROM pgtrade.fill WHERE account_id = :'p0'", ACCT),
     [["5", "5"]],
     "five fills, each PAPER-<cOID>-1 with a paper payload")
t.eq(scalar("SELECT count(*) FROM pgtrade.order_event e JOIN pgtrade.orders o "
            "USING (order_id) WHERE o.account_id = :'p0' "
            "AND e.source = 'broker acknowledgement' "
            "AND e.payload->>'paper' = 'true'", ACCT), "8",
     "each of the 8 orders' acknowledgement event is marked paper")
# PAPX: +10 -4 +3 +2 = 11; PAPT: 7
t.eq(psql("SELECT i.symbol, p.quantity FROM pgtrade.position p "
          "JOIN pgtrade.instrument i USING (instrument_id) "
          "WHERE p.account_id = :'p0' ORDER BY 1", ACCT),
     [["PAPT", "7"], ["PAPX", "11"]],
     "positions are the sum of the paper fills")

psql("SELECT pgtrade.cancel_order(:'p0')", stale)
wait_status(stale, "cancelled")
proc.terminate()
t.eq(proc.wait(timeout=30), 0, "the paper listener stops with status 0")
stop_trap.set()
time.sleep(0.3)
t.eq(len(connections), 0, "nothing ever connected to the gateway port")
logf.close()
t.done()
