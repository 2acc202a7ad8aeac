#!/usr/bin/python3
"""pgtrade-listener checks the gateway's certificate unless told not to.

The test starts its own simulator (a self-signed certificate from
make-cert.sh) on 127.0.0.1 and runs the listener against it three
times, for an account of its own:
  1. without --cacert: the certificate is not trusted, the TLS handshake
     fails, the log says why, and no gateway session is ever made;
  2. with --cacert naming the simulator's certificate: a session is made;
  3. with --insecure and no --cacert (allowed for a loopback gateway
     only): a session is made, and the log warns at start that
     certificate checks are off.
Refusing --insecure for any other host is a unit test
(tests/unit/test_gateway.c): it needs no connection.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import (TOP, Tap, listener_binary, psql,  # noqa: E402
                    wait_until)

ACCT = "DU8807361"
SCALE = "0.05"


def start_sim(work):
    """Start a simulator of our own; return (process, port)."""
    simdir = os.path.join(work, "sim")
    os.makedirs(simdir)
    subprocess.run(["bash", os.path.join(TOP, "tests", "sim", "make-cert.sh"),
                    simdir], check=True, capture_output=True)
    portfile = os.path.join(simdir, "port")
    proc = subprocess.Popen(
        ["/usr/bin/python3", os.path.join(TOP, "tests", "sim", "cpapi_sim.py"),
         "--port", "0", "--port-file", portfile,
         "--cert", os.path.join(simdir, "sim.crt"),
         "--key", os.path.join(simdir, "sim.key"), "--accounts", ACCT,
         "--time-scale", SCALE],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL)
    if not wait_until(lambda: os.path.exists(portfile), 20, 0.1):
        raise RuntimeError("the simulator did not start")
    with open(portfile) as f:
        return proc, int(f.read().strip())


def run_listener(work, name, gateway, extra, seconds=4.0):
    """Run the listener for a while; return its log."""
    conninfo = "host=%s port=%s dbname=%s user=pgtrade_listen" % (
        os.environ["PGHOST"], os.environ["PGPORT"],
        os.environ.get("PGDATABASE", "pgtrade"))
    path = os.path.join(work, name + ".log")
    with open(path, "w") as log:
        proc = subprocess.Popen(
            [listener_binary(), "-d", conninfo, "--gateway", gateway,
             "--accounts", ACCT, "--poll-interval", "0.5",
             "--positions-interval", "0", "--time-scale", SCALE,
             "--name", "e2e-tls-" + name] + extra,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        time.sleep(seconds)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with open(path) as f:
        return f.read()


t = Tap(7)
psql("SELECT pgtrade.add_account('%s')" % ACCT)
work = tempfile.mkdtemp(prefix="pgtrade-tls-")
sim, port = start_sim(work)
try:
    gateway = "https://127.0.0.1:%d/v1/api" % port
    crt = os.path.join(work, "sim", "sim.crt")

    log = run_listener(work, "untrusted", gateway, [])
    t.ok("certificate" in log.lower(),
         "without --cacert the self-signed certificate is refused, and the "
         "log says so", log[-600:])
    t.ok("session ready" not in log,
         "no gateway session is made with an untrusted certificate")

    log = run_listener(work, "cacert", gateway, ["--cacert", crt])
    t.ok("session ready" in log,
         "with --cacert naming the simulator's certificate a session is made",
         log[-600:])
    t.ok("certificate checks off" not in log,
         "and nothing says certificate checks are off")

    log = run_listener(work, "insecure", gateway, ["--insecure"])
    t.ok("session ready" in log,
         "--insecure on a loopback gateway makes a session without --cacert",
         log[-600:])
    first = [line for line in log.splitlines() if "WARNING" in line]
    t.ok(any("certificate" in line for line in first),
         "and a WARNING says certificate checks are off", "\n".join(first))
    warned = log.find("WARNING")
    t.ok(0 <= warned < log.find("session ready"),
         "the warning comes before the session is made")
finally:
    sim.send_signal(signal.SIGTERM)
    try:
        sim.wait(10)
    except subprocess.TimeoutExpired:
        sim.kill()
    shutil.rmtree(work, ignore_errors=True)
t.done()
