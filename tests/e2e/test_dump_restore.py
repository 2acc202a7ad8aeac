#!/usr/bin/python3
"""pg_dump and pg_restore keep every trading record, and a restored
database never reuses a client order id.

Runs after the other end-to-end tests, so the database holds bars,
decisions, orders, events, fills, commissions and positions.  The dump is
restored into a new database with pg_restore in replica mode, as the
README says to (pg_cron's own objects left out: pg_cron lives only in
cron.database_name).  Every pgtrade table must come back
with the same rows; the restored installation draws a new cOID prefix,
and its next order id continues after the restored ones.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, psql, scalar  # noqa: E402

TABLES = ["account", "instrument", "bar", "strategy", "workflow_run",
          "workflow_step", "decision", "orders", "order_event", "fill",
          "commission", "fill_correction", "position", "risk_limit",
          "risk_limit_history",
          "listener"]
t = Tap(len(TABLES) + 4)
target = "pgtrade_restore_check"


def digest(db, table):
    """Row count and an order-independent checksum of a table's rows."""
    return scalar("SELECT count(*) || ':' || coalesce(sum(hashtext(t::text)"
                  "::bigint), 0) FROM pgtrade.%s t" % table,
                  **{}) if db is None else subprocess.run(
        ["psql", "-X", "-At", "-d", db, "-c",
         "SELECT count(*) || ':' || coalesce(sum(hashtext(t::text)::bigint), 0)"
         " FROM pgtrade.%s t" % table],
        capture_output=True, text=True, check=True).stdout.strip()


t.ok(int(scalar("SELECT count(*) FROM pgtrade.fill")) > 0 and
     int(scalar("SELECT count(*) FROM pgtrade.decision")) > 0,
     "the database holds fills and decisions to dump")
tmp = tempfile.mkdtemp(prefix="pgtrade-dump-")
dump = os.path.join(tmp, "pgtrade.dump")
subprocess.run(["pg_dump", "-Fc", "-f", dump], check=True)
listing = subprocess.run(["pg_restore", "-l", dump], capture_output=True,
                         text=True, check=True).stdout
keep = [l for l in listing.splitlines()
        if " cron " not in l and "pg_cron" not in l]
with open(os.path.join(tmp, "list"), "w") as f:
    f.write("\n".join(keep) + "\n")
psql("DROP DATABASE IF EXISTS %s" % target)
psql("CREATE DATABASE %s" % target)
# as a superuser in replica mode, so no trigger fires: the gate and the
# state machine would otherwise treat restored rows as new orders
env = dict(os.environ, PGOPTIONS="-c session_replication_role=replica")
r = subprocess.run(["pg_restore", "--exit-on-error", "-d", target,
                    "-L", os.path.join(tmp, "list"), dump],
                   capture_output=True, text=True, env=env)
t.ok(r.returncode == 0, "pg_restore succeeds", r.stderr[-2000:])

for table in TABLES:
    t.eq(digest(target, table), digest(None, table),
         "%s comes back with the same rows" % table)

old_prefix = scalar("SELECT coid_prefix FROM pgtrade.installation")
new_prefix = subprocess.run(
    ["psql", "-X", "-At", "-d", target, "-c",
     "SELECT coid_prefix FROM pgtrade.installation"],
    capture_output=True, text=True, check=True).stdout.strip()
t.ok(new_prefix and new_prefix != old_prefix,
     "the restored database draws a new cOID prefix (%s, was %s)"
     % (new_prefix, old_prefix))
max_id = int(scalar("SELECT max(order_id) FROM pgtrade.orders"))
next_id = subprocess.run(
    ["psql", "-X", "-At", "-d", target, "-c",
     "SELECT nextval(pg_get_serial_sequence('pgtrade.orders', 'order_id'))"],
    capture_output=True, text=True, check=True).stdout.strip()
t.ok(next_id and int(next_id) > max_id,
     "order ids continue after the restored ones (%s > %s)"
     % (next_id, max_id))
psql("DROP DATABASE %s" % target)
t.done()
