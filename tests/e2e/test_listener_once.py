#!/usr/bin/python3
"""pgtrade-listener --once tells a job whether it served its accounts.

It exits 0 when it held every account's lease at the end of its run, and
1, naming the account, when another listener held one (the orders of
that account may not have been sent by this run).  The other listener
is stood in for by a session that takes the lease's advisory lock, as a
listener does.  The test starts a simulator of its own on a loopback
port; the listener reaches the sandbox's database through the PG*
variables.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import TOP, Tap, listener_binary, psql, wait_until  # noqa: E402

ACCT = "DU8807361"
LEASE_CLASSID = 1885828210  # DB_LEASE_CLASSID, listener/src/db.h
SCALE = "0.05"

t = Tap(4)
work = tempfile.mkdtemp(prefix="pgtrade-once-")
os.chmod(work, 0o755)
simdir = os.path.join(work, "sim")
os.makedirs(simdir)
subprocess.run(["bash", os.path.join(TOP, "tests", "sim", "make-cert.sh"),
                simdir], check=True, capture_output=True)
sim = subprocess.Popen(
    ["/usr/bin/python3", os.path.join(TOP, "tests", "sim", "cpapi_sim.py"),
     "--port", "0", "--port-file", os.path.join(simdir, "port"),
     "--cert", os.path.join(simdir, "sim.crt"),
     "--key", os.path.join(simdir, "sim.key"), "--accounts", ACCT,
     "--time-scale", SCALE],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    stdin=subprocess.DEVNULL)
if not wait_until(lambda: os.path.exists(os.path.join(simdir, "port")), 20,
                  0.1):
    sys.exit("the simulator did not start")
with open(os.path.join(simdir, "port")) as f:
    gateway = "https://127.0.0.1:%s/v1/api" % f.read().strip()
psql("SELECT pgtrade.add_account(:'p0')", ACCT)


def once():
    """Run the listener with --once; return (exit status, stderr)."""
    r = subprocess.run(
        [listener_binary(), "--once", "--once-timeout", "30",
         "--gateway", gateway, "--cacert", os.path.join(simdir, "sim.crt"),
         "--accounts", ACCT, "--poll-interval", "0.2",
         "--positions-interval", "0", "--time-scale", SCALE,
         "--name", "e2e-once"],
        capture_output=True, text=True, timeout=90,
        stdin=subprocess.DEVNULL)
    return r.returncode, r.stderr


rc, err = once()
t.eq(rc, 0, "--once that held its account's lease exits 0")

holder = subprocess.Popen(
    ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"],
    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL, text=True)
holder.stdin.write("SELECT pg_advisory_lock(%d, hashtext('%s'));\n"
                   "SELECT pg_sleep(120);\n" % (LEASE_CLASSID, ACCT))
holder.stdin.flush()
held = wait_until(lambda: psql(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
    "AND classid = :'p0'::bigint::oid AND granted "
    "AND objid = hashtext(:'p1')::bigint::oid", LEASE_CLASSID,
    ACCT)[0][0] == "1", 20)
rc, err = once()
warning = ("WARNING: account: %s: --once: the run ends without this "
           "account's lease (another listener holds it), so its orders may "
           "not have been sent" % ACCT)
t.ok(held, "another session holds the account's lease")
t.eq(rc, 1, "--once whose account's lease another listener held exits 1")
t.ok(any(line.endswith(warning) for line in err.splitlines()),
     "and says which account it could not serve", err[-2000:])

holder.kill()
holder.wait()
sim.terminate()
sim.wait()
shutil.rmtree(work)
t.done()
