#!/usr/bin/python3
"""One listener per account on one database, and a standby for one of
them.

Each account has its own login and gateway, as a deployment with one
listener per account would: gateway 1 lists A1, gateway 2 (a second
simulator) lists A2.  Listener A serves A1 through gateway 1 and
listener B serves A2 through gateway 2, each told its account.  Each
serves its own account only: its heartbeat names it alone, and each
account's order is claimed by its own listener's row and accepted once.
Listener C, on gateway 1 and told A1 too, stands by, serving nothing,
while A holds A1's lease.  A is killed with SIGKILL; C takes A1 over
within a few poll intervals and sends A1's next order, while B keeps A2
throughout and never logs about A1.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import (Tap, TOP, SANDBOX, psql, scalar, wait_until,  # noqa: E402
                    Sim, services, run)
from faultlib import (SCALE, mark, text_since, listener_pid,  # noqa: E402
                      place, coid_of, wait_status, accepted_posts)

t = Tap(12)
A1, A2 = "DU1234567", "DU7654321"
SYM, CONID = "FLPA", 990305
POLL = 0.5
LOGS = {n: os.path.join(SANDBOX, "log", "listener-%s.log" % n)
        for n in ("b", "c")}

for a in (A1, A2):
    psql("SELECT pgtrade.add_account(:'p0')", a)
    psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 100000)", a)
psql("SELECT pgtrade.add_instrument(:'p0', :'p1')", SYM, CONID)
os.environ["PGTRADE_ACCOUNTS"] = A1
os.environ["PGTRADE_POLL_INTERVAL"] = str(POLL)
os.environ["PGTRADE_LISTENER_NAME"] = "per-account-a"
os.environ["PGTRADE_LISTENER_FLAGS"] = "--accounts " + A1
services("start-sim")
services("start-listener")
for v in ("PGTRADE_LISTENER_NAME", "PGTRADE_LISTENER_FLAGS"):
    del os.environ[v]
sim = Sim()
sim.call("POST", "/sim/config", {"fill_mode": "never"})
a_pid = listener_pid()

# gateway 2: a second simulator, its files under a directory of its own
G2 = os.path.join(SANDBOX, "per-account")
shutil.rmtree(G2, ignore_errors=True)
os.makedirs(os.path.join(G2, "sim"))
shutil.copy(os.path.join(SANDBOX, "sim", "sim.crt"), os.path.join(G2, "sim"))
sim2_proc = subprocess.Popen(
    ["/usr/bin/python3", os.path.join(TOP, "tests", "sim", "cpapi_sim.py"),
     "--port", "0", "--port-file", os.path.join(G2, "sim", "port"),
     "--cert", os.path.join(SANDBOX, "sim", "sim.crt"),
     "--key", os.path.join(SANDBOX, "sim", "sim.key"), "--accounts", A2,
     "--time-scale", str(SCALE),
     "--log-file", os.path.join(G2, "sim", "requests.log")],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    stdin=subprocess.DEVNULL)
wait_until(lambda: os.path.exists(os.path.join(G2, "sim", "port")) and
           os.path.getsize(os.path.join(G2, "sim", "port")) > 0, 20)
sim2 = Sim(G2)
sim2.call("POST", "/sim/config", {"fill_mode": "never"})


def start(name, account, gateway):
    """Start a listener serving account through the gateway at URL
    gateway; returns (process, log mark)."""
    cmd = [os.environ.get("PGTRADE_LISTENER",
                          os.path.join(TOP, "listener", "pgtrade-listener")),
           "-d", "host=%s port=%s dbname=%s user=pgtrade_listen" % (
               os.environ["PGHOST"], os.environ["PGPORT"],
               os.environ.get("PGDATABASE", "pgtrade")),
           "--gateway", gateway,
           "--cacert", os.path.join(SANDBOX, "sim", "sim.crt"),
           "--confirm-ids", "o354,o163", "--poll-interval", str(POLL),
           "--time-scale", str(SCALE), "--name", "per-account-" + name,
           "--positions-interval", "0", "--accounts", account]
    m = mark(LOGS[name])
    with open(LOGS[name], "ab") as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=out,
                             stdin=subprocess.DEVNULL)
    return p, m


def served(pid):
    """Accounts in the heartbeat of the newest listener row of pid."""
    v = scalar("SELECT array_to_string(accounts, ',') FROM pgtrade.listener "
               "WHERE pid = :'p0' ORDER BY listener_id DESC LIMIT 1", pid)
    return sorted(v.split(",")) if v else []


def claimer(oid):
    """The pid of the listener that claimed the order."""
    return int(scalar("SELECT l.pid FROM pgtrade.orders o JOIN "
                      "pgtrade.listener l ON l.listener_id = o.claimed_by "
                      "WHERE o.order_id = :'p0'", oid))


def limit(acct, qty):
    return place(acct, SYM, qty, extra=", order_type => 'limit', "
                 "limit_price => 30")


GW1 = run([os.path.join(TOP, "scripts", "services.sh"),
           "gateway-url"]).stdout.strip()
with open(os.path.join(G2, "sim", "port")) as f:
    GW2 = "https://127.0.0.1:%s/v1/api" % f.read().strip()
b, b0 = start("b", A2, GW2)
c = None
try:
    t.ok(wait_until(lambda: served(a_pid) == [A1] and
                    served(b.pid) == [A2], 20),
         "A serves A1 only and B serves A2 only")
    o1, o2 = limit(A1, 5), limit(A2, 6)
    t.ok(wait_status(o1, "working") == "working" and
         wait_status(o2, "working") == "working",
         "an order of each account is working")
    t.eq((claimer(o1), claimer(o2)), (a_pid, b.pid),
         "each order was claimed by its account's listener")
    t.eq((accepted_posts(sim, coid_of(o1)), accepted_posts(sim, coid_of(o2)),
          accepted_posts(sim2, coid_of(o1)), accepted_posts(sim2, coid_of(o2))),
         (1, 0, 0, 1), "each cOID was accepted once, by its own gateway")

    c, c0 = start("c", A1, GW1)
    t.ok(wait_until(lambda: "%s: lease held by another listener" % A1 in
                    text_since(LOGS["c"], c0) and
        scalar("SELECT count(*) FROM pgtrade.listener WHERE pid = :'p0' "
               "AND heartbeat_at IS NOT NULL", c.pid) == "1", 20),
         "C, configured with A1 too, stands by")
    time.sleep(4 * POLL)
    t.eq((served(a_pid), served(b.pid), served(c.pid)), ([A1], [A2], []),
         "while A holds A1, C serves nothing")

    os.kill(a_pid, signal.SIGKILL)
    killed = time.monotonic()
    t.ok(wait_until(lambda: "%s: lease taken after standing by" % A1 in
                    text_since(LOGS["c"], c0), 20),
         "C takes A1's lease after A is killed")
    took = time.monotonic() - killed
    t.ok(took < 10 * POLL, "within a few poll intervals (%.2f s, poll "
         "interval %.1f s)" % (took, POLL))
    t.ok(wait_until(lambda: served(c.pid) == [A1], 20),
         "C's heartbeat names A1")
    o3 = limit(A1, 7)
    t.ok(wait_status(o3, "working") == "working" and claimer(o3) == c.pid,
         "C claims and sends A1's next order")
    t.eq(accepted_posts(sim, coid_of(o3)), 1, "that cOID was accepted once")
    t.ok(served(b.pid) == [A2] and not re.search(
        re.escape(A1) + r": lease", text_since(LOGS["b"], b0)),
         "B kept A2 throughout and never contended for A1")
    # leave nothing working for the suites that follow
    for g, o, q in ((sim, o1, 5), (sim2, o2, 6), (sim, o3, 7)):
        g.call("POST", "/sim/order", {"cOID": coid_of(o),
                                      "fill": {"size": q, "price": "30.00"}})
    for o in (o1, o2, o3):
        wait_status(o, "filled")
finally:
    for p in (b, c):
        if p is not None:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=20)
    sim2_proc.terminate()
    sim2_proc.wait(timeout=20)
    shutil.rmtree(G2, ignore_errors=True)
    services("stop")
t.done()
