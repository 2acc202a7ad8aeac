#!/usr/bin/python3
"""pgtrade-listener keeps its secrets: a full run leaks neither the
database password, nor the connection string, nor the gateway's session
cookie, nor credentials in the gateway URL.

The test starts its own simulator (handing out a session cookie) and its
own listener, apart from scripts/services.sh, for an account of its own
(DU88...).  The listener logs in as a login role the test creates with a
random password, given in the conninfo on the command line, and talks
to the simulator through a URL that carries a user name and password.
With -v (DEBUG lines too) it places orders (a fill, a confirmed prompt,
a broker rejection, a cancel), loses its database session and its
gateway session and gets them back, reloads on SIGHUP and stops on
SIGTERM.  Then no secret may appear in its standard error, in its
/proc/<pid>/cmdline (read while it runs: ps shows it to every user) or
/proc/<pid>/comm, in its pgtrade.listener row, or in the orders and
order events of the account.  The role is dropped at the end; the
account and its orders stay, as other tests leave theirs.
"""
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import (TOP, Sim, Tap, listener_binary, psql,  # noqa: E402
                    scalar, wait_until)

ACCT = "DU8807351"
ROLE = "pgtrade_e2e_secrets"
NAME = "e2e-secrets-%d" % os.getpid()
SCALE = "0.05"
PASSWORD = "Pw-" + secrets.token_hex(12)
GW_USER, GW_PASSWORD = "gwuser", "Gw-" + secrets.token_hex(8)


def start_sim(work):
    """Start a simulator with a session cookie; return (process, Sim)."""
    simdir = os.path.join(work, "sim")
    os.makedirs(simdir)
    subprocess.run(["bash", os.path.join(TOP, "tests", "sim", "make-cert.sh"),
                    simdir], check=True, capture_output=True)
    out = open(os.path.join(work, "sim.out"), "w")
    proc = subprocess.Popen(
        ["/usr/bin/python3", os.path.join(TOP, "tests", "sim", "cpapi_sim.py"),
         "--port", "0", "--port-file", os.path.join(simdir, "port"),
         "--cert", os.path.join(simdir, "sim.crt"),
         "--key", os.path.join(simdir, "sim.key"), "--accounts", ACCT,
         "--time-scale", SCALE, "--session-cookie"],
        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if not wait_until(lambda: os.path.exists(os.path.join(simdir, "port")),
                      20, 0.1):
        raise RuntimeError("the simulator did not start")
    return proc, Sim(work)


def start_listener(work, conninfo, gateway):
    """Start the listener against the simulator; return the process."""
    err = open(os.path.join(work, "listener.log"), "w")
    return subprocess.Popen(
        [listener_binary(), "-d", conninfo, "--gateway", gateway,
         "--cacert", os.path.join(work, "sim", "sim.crt"),
         "--accounts", ACCT, "--confirm-ids", "o163",
         "--poll-interval", "0.5", "--positions-interval", "0",
         "--time-scale", SCALE, "--name", NAME, "-v"],
        stdout=err, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def stop(proc, sig=signal.SIGTERM, timeout=20):
    """Stop a process this test started; return its exit status."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def place(qty, extra=""):
    return scalar("SELECT (pgtrade.place_order(:'p0', 'AAPL', 'buy', :'p1'"
                  + extra + ")).order_id", ACCT, qty)


def status_of(order_id):
    return scalar("SELECT status FROM pgtrade.orders WHERE order_id = :'p0'",
                  order_id)


def final(order_id, deadline=30):
    return wait_until(lambda: scalar(
        "SELECT status FROM pgtrade.orders WHERE order_id = :'p0' AND "
        "status NOT IN ('pending', 'submitting', 'working', "
        "'cancel_requested')", order_id), deadline)


def read(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def redact(text, named):
    """Return text with the secrets replaced by their names, for a
    diagnostic line."""
    for name, value in sorted(named, key=lambda n: -len(n[1])):
        text = text.replace(value, "<%s>" % name)
    return text


def leaks(text, named):
    """Return the names of the secrets that text contains."""
    return [name for name, value in named if value in text]


t = Tap(18)
work = tempfile.mkdtemp(prefix="pgtrade-secrets-")
sim_proc = listener = None
try:
    psql("DROP ROLE IF EXISTS " + ROLE)
    psql("CREATE ROLE " + ROLE + " LOGIN PASSWORD :'p0' IN ROLE "
         "pgtrade_listener", PASSWORD)
    psql("SELECT pgtrade.add_account(:'p0')", ACCT)
    psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 1000)", ACCT)
    psql("SELECT pgtrade.add_instrument('AAPL', 265598)")

    sim_proc, sim = start_sim(work)
    sim.call("POST", "/sim/price", {"conid": 265598, "price": "150.25"})
    port = sim.base.rsplit(":", 1)[1]
    gateway = "https://%s:%s@127.0.0.1:%s/v1/api" % (GW_USER, GW_PASSWORD,
                                                       port)
    conninfo = ("host=%s port=%s dbname=%s user=%s password=%s" % (
        os.environ["PGHOST"], os.environ["PGPORT"],
        os.environ.get("PGDATABASE", "pgtrade"), ROLE, PASSWORD))
    listener = start_listener(work, conninfo, gateway)
    secrets_named = [("the database password", PASSWORD),
                     ("the connection string", conninfo),
                     ("the gateway URL's password", GW_PASSWORD),
                     ("the gateway URL with its credentials", gateway)]

    lid = wait_until(lambda: scalar(
        "SELECT listener_id FROM pgtrade.listener WHERE name = :'p0' AND "
        "gateway_state = 'authenticated' AND :'p1' = ANY (accounts)",
        NAME, ACCT), 30)
    t.ok(lid is not None, "the listener registers and serves " + ACCT,
         redact(read(os.path.join(work, "listener.log"))[-2000:],
                secrets_named))
    if lid is None:
        t.skip_rest("the listener did not start")
        t.done()
    t.eq(scalar("SELECT db_user FROM pgtrade.listener WHERE listener_id = "
                ":'p0'", lid), ROLE, "it logged in as the role with the "
         "password")

    # orders: a fill, a confirmed prompt, a broker refusal, a cancel
    filled_id = place(10)
    t.eq(final(filled_id), "filled", "a market order fills")
    sim.call("POST", "/sim/config", {"prompts": {
        "every": 1, "chain": 1, "message_ids": ["o163"]}})
    prompted_id = place(11)
    t.eq(final(prompted_id), "filled", "an allowed prompt is confirmed and "
         "the order fills")
    sim.call("POST", "/sim/config", {"prompts": {"every": 0},
                                     "reject_next": {
                                         "text": "No trading permissions."}})
    rejected_id = place(12)
    t.eq(final(rejected_id), "rejected", "a broker refusal rejects the order")
    sim.call("POST", "/sim/config", {"fill_mode": "never"})
    resting_id = place(13, ", order_type => 'limit', limit_price => 100")
    wait_until(lambda: status_of(resting_id) == "working", 30)
    psql("SELECT pgtrade.cancel_order(:'p0')", resting_id)
    t.eq(final(resting_id), "cancelled", "a working order is cancelled")

    # the database session is lost and opened again (same conninfo)
    psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
         "WHERE usename = :'p0'", ROLE)
    sim.call("POST", "/sim/config", {"fill_mode": "immediate"})
    after_db_id = place(14)
    t.eq(final(after_db_id, 60), "filled", "after losing its database "
         "session the listener reconnects and an order fills")

    # the gateway session is lost and comes back
    sim.call("POST", "/sim/auth", {"state": "logged-out"})
    wait_until(lambda: scalar(
        "SELECT gateway_state FROM pgtrade.listener WHERE listener_id = "
        ":'p0'", lid) == "down", 30)
    down_error = scalar("SELECT last_error FROM pgtrade.listener WHERE "
                        "listener_id = :'p0'", lid) or ""
    sim.call("POST", "/sim/auth", {"state": "authenticated"})
    after_gw_id = place(15)
    t.eq(final(after_gw_id, 60), "filled", "after losing its gateway session "
         "the listener logs in again and an order fills")

    auth = sim.call("GET", "/sim/auth")
    cookie = auth.get("cookie") or "(no cookie handed out)"
    t.ok(auth.get("cookie_returned", 0) > 0, "the listener held the "
         "session cookie and sent it back (%s requests)"
         % auth.get("cookie_returned"))
    secrets_named.append(("the session cookie", cookie))

    # read /proc while it runs: what ps shows every user of the machine
    cmdline = read("/proc/%d/cmdline" % listener.pid).replace("\0", " ")
    comm = read("/proc/%d/comm" % listener.pid)
    t.eq(leaks(cmdline + comm, secrets_named), [],
         "its command line and name show no secret")
    t.ok("password=" + "x" * len(PASSWORD) in cmdline and
         "https://" + "x" * len(GW_USER + ":" + GW_PASSWORD) + "@" in
         cmdline, "the password in -d and the gateway URL's credentials "
         "are overwritten with x", redact(cmdline, secrets_named))

    listener.send_signal(signal.SIGHUP)
    wait_until(lambda: "configuration reloaded" in read(
        os.path.join(work, "listener.log")), 20)
    t.eq(stop(listener), 0, "SIGTERM stops the listener with status 0")

    log = read(os.path.join(work, "listener.log"))
    lines = log.splitlines()
    t.ok(len(lines) > 50 and " DEBUG: " in log and
         "configuration reloaded" in log and
         log.count("connected; listening on pgtrade_order") >= 2,
         "the log covers the run: %d lines, DEBUG, the reload, the "
         "database reconnect" % len(lines),
         redact(log[-3000:], secrets_named))
    t.eq(leaks(log, secrets_named), [], "no secret in the listener's log")
    t.ok("***@127.0.0.1" in log, "the gateway URL is logged with its "
         "credentials masked")

    row = json.dumps(psql("SELECT row_to_json(l) FROM pgtrade.listener l "
                          "WHERE listener_id = :'p0'", lid))
    t.eq(leaks(row + down_error, secrets_named), [],
         "no secret in the listener's row, last_error included")
    t.ok(down_error != "", "last_error was set while the gateway was down",
         down_error)
    events = json.dumps(psql(
        "SELECT o.last_error, e.detail, e.payload FROM pgtrade.orders o "
        "JOIN pgtrade.order_event e USING (order_id) WHERE o.account_id = "
        ":'p0' AND o.order_id >= :'p1'", ACCT, filled_id))
    t.eq(leaks(events, secrets_named), [],
         "no secret in the account's orders and order events")
finally:
    if listener is not None:
        stop(listener)
    if sim_proc is not None:
        stop(sim_proc)
    try:
        psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
             "WHERE usename = :'p0'", ROLE, check=False)
        psql("DROP ROLE IF EXISTS " + ROLE, check=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
t.done()
