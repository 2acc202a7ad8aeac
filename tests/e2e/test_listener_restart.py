#!/usr/bin/python3
"""pgtrade-listener survives the loss of its peers: another listener on
the same database, and the database itself.

Leases: two listeners on one database and one gateway (two accounts).
Each account is served by exactly one of them (pgtrade.listener.accounts
of the two are disjoint and cover both).  The serving listener is killed
with SIGKILL while orders are working and more are queued; the other
takes both accounts over, follows the working orders to their fills and
sends the queued ones: every cOID accepted exactly once, every execution
recorded once.

PostgreSQL restart: the sandbox cluster is stopped while orders are
working; the broker fills them meanwhile; the cluster starts again and
an order is inserted before the listener is back.  The listener retries
with growing delays, LISTENs again, scans, records each fill once and
sends the new order once.
"""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import (Tap, TOP, SANDBOX, psql, scalar, wait_until,  # noqa: E402
                    Sim, services, run)
from faultlib import (LISTENER_LOG, REQUEST_LOG, SCALE, mark,  # noqa: E402
                      text_since, requests_since,
                      listener_pid, place, status_of, coid_of, wait_status,
                      accepted_posts)

t = Tap(19)
A1, A2 = "DU1234567", "DU7654321"
SYM, CONID = "FLTL", 990304
B_LOG = os.path.join(SANDBOX, "log", "listener-b.log")
PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl"

for a in (A1, A2):
    psql("SELECT pgtrade.add_account(:'p0')", a)
    psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 100000)", a)
psql("SELECT pgtrade.add_instrument(:'p0', :'p1')", SYM, CONID)
os.environ["PGTRADE_ACCOUNTS"] = "%s,%s" % (A1, A2)
os.environ["PGTRADE_LISTENER_NAME"] = "lease-a"
services("start-sim")
services("start-listener")
del os.environ["PGTRADE_LISTENER_NAME"]
sim = Sim()
sim.call("POST", "/sim/config", {"fill_mode": "never"})
a_pid = listener_pid()


def served(pid):
    """Accounts in the heartbeat of the newest listener row of pid."""
    v = scalar("SELECT array_to_string(accounts, ',') FROM pgtrade.listener "
               "WHERE pid = :'p0' ORDER BY listener_id DESC LIMIT 1", pid)
    return sorted(v.split(",")) if v else []


def limit(acct, qty):
    return place(acct, SYM, qty, extra=", order_type => 'limit', "
                 "limit_price => 30")


def fill(oid, qty, price="30.00"):
    sim.call("POST", "/sim/order", {"cOID": coid_of(oid),
                                    "fill": {"size": qty, "price": price}})


def fills_once(oids):
    """True when each order has exactly one fill row."""
    rows = psql("SELECT order_id, count(*) FROM pgtrade.fill WHERE "
                "order_id = ANY (:'p0') GROUP BY order_id",
                "{%s}" % ",".join(oids))
    return sorted(r[0] for r in rows if r[1] == "1") == sorted(oids) and \
        len(rows) == len(oids)


# --- leases -----------------------------------------------------------------
t.ok(wait_until(lambda: served(a_pid) == [A1, A2], 20),
     "leases: listener A serves both accounts")
cmd = [os.environ.get("PGTRADE_LISTENER",
                      os.path.join(TOP, "listener", "pgtrade-listener")),
       "-d", "host=%s port=%s dbname=%s user=pgtrade_listen" % (
           os.environ["PGHOST"], os.environ["PGPORT"],
           os.environ.get("PGDATABASE", "pgtrade")),
       "--gateway", run([os.path.join(TOP, "scripts", "services.sh"),
                         "gateway-url"]).stdout.strip(),
       "--cacert", os.path.join(SANDBOX, "sim", "sim.crt"),
       "--confirm-ids", "o354,o163", "--poll-interval", "0.5",
       "--time-scale", str(SCALE), "--name", "lease-b",
       "--positions-interval", "0"]
b0 = mark(B_LOG)
with open(B_LOG, "ab") as out:
    b = subprocess.Popen(cmd, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
try:
    t.ok(wait_until(lambda: "standing by" in text_since(B_LOG, b0) and
                    scalar("SELECT count(*) FROM pgtrade.listener WHERE "
                           "pid = :'p0'", b.pid) == "1", 20),
         "leases: listener B registers and stands by")
    time.sleep(1.5)
    t.eq((served(a_pid), served(b.pid)), ([A1, A2], []),
         "leases: each account is served by exactly one listener")
    working = [limit(A1, 5), limit(A2, 6)]
    t.ok(all(wait_status(o, "working") == "working" for o in working),
         "leases: an order of each account is working")
    os.kill(a_pid, signal.SIGKILL)
    queued = [limit(A1, 7), limit(A2, 8)]
    t.ok(wait_until(lambda: served(b.pid) == [A1, A2], 20),
         "leases: after A is killed, B serves both accounts")
    t.ok(len(re.findall(r"lease taken after standing by",
                        text_since(B_LOG, b0))) == 2,
         "leases: B logs each takeover")
    t.ok(all(wait_status(o, "working") == "working" for o in queued),
         "leases: B sends the orders queued after the kill")
    for o, q in zip(working + queued, (5, 6, 7, 8)):
        fill(o, q)
    t.ok(all(wait_status(o, "filled") == "filled" for o in working + queued),
         "leases: B follows all four orders to their fills")
    t.ok(wait_until(lambda: fills_once(working + queued), 20),
         "leases: each fill is recorded once")
    t.eq([accepted_posts(sim, coid_of(o)) for o in working + queued],
         [1, 1, 1, 1], "leases: every cOID was accepted exactly once")
finally:
    b.send_signal(signal.SIGTERM)
    b.wait(timeout=20)
services("stop")
os.environ["PGTRADE_ACCOUNTS"] = A1

# --- PostgreSQL restart ------------------------------------------------------
services("start-sim")
services("start-listener")
sim = Sim()
sim.call("POST", "/sim/config", {"fill_mode": "never"})
working = [limit(A1, 3), limit(A1, 4)]
t.ok(all(wait_status(o, "working") == "working" for o in working),
     "restart: two orders are working")
coids = [coid_of(o) for o in working]
l0 = mark(LISTENER_LOG)
# pg_ctl itself: "sandbox.sh stop" would stop the simulator and the
# listener too
run(["runuser", "-u", "postgres", "--", PG_CTL, "stop", "-D",
     os.path.join(SANDBOX, "pgdata"), "-m", "fast", "-w"], cwd="/")
# the broker fills both while the database is away
for c, q in zip(coids, (3, 4)):
    sim.call("POST", "/sim/order", {"cOID": c,
                                    "fill": {"size": q, "price": "30.00"}})
t.ok(wait_until(lambda: len(re.findall(
    r"next connection attempt in", text_since(LISTENER_LOG, l0))) >= 3, 30),
     "restart: the listener keeps trying to reconnect")
delays = [float(d) for d in re.findall(
    r"next connection attempt in ([0-9.]+) s", text_since(LISTENER_LOG, l0))]
t.ok(delays[:3] == sorted(delays[:3]) and delays[2] > delays[0],
     "restart: with growing delays (%s)" % delays[:4])
r_down = mark(REQUEST_LOG)
time.sleep(2 * 60 * SCALE)
t.ok(len([e for e in requests_since(r_down) if e["route"] == "/tickle"])
     >= 1, "restart: the gateway session is still tickled meanwhile")
run([os.path.join(TOP, "scripts", "sandbox.sh"), "start"])
late = limit(A1, 2)
t.ok(wait_until(lambda: text_since(LISTENER_LOG, l0).count(
    "connected; listening on pgtrade_order") >= 1, 60),
     "restart: the listener reconnects and LISTENs again")
t.ok(all(wait_status(o, "filled", 60) == "filled" for o in working),
     "restart: the fills made while the database was down are recorded")
t.ok(wait_until(lambda: fills_once(working), 20),
     "restart: each of them once")
t.eq(wait_status(late, "working", 30), "working", "restart: the order "
     "inserted while the listener was away is sent")
t.eq(accepted_posts(sim, coid_of(late)), 1, "restart: it was accepted once")
psql("SELECT pgtrade.cancel_order(:'p0')", late)
wait_status(late, "cancelled")

services("stop")
t.done()
