#!/usr/bin/python3
"""The Prometheus exporter's query file matches the monitoring views.

monitoring/postgres-exporter-queries.yaml is parsed; each query is run
against the sandbox as a login role of pgtrade_reader granted one
account of this test, as the README tells operators to set up the
exporter.  Every declared metric must be a column of the result with a
usage the exporter knows, every result column must be declared, and
every metric must come from a column of the view the query reads.  The
account holds one pending order, so the figures the reader sees are
known.  When prometheus-postgres-exporter is installed it is started
on loopback with the file, and every metric must appear in its scrape
with the value the views give.
"""
import csv
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import TOP, Tap, psql, wait_until  # noqa: E402

QUERIES = os.path.join(TOP, "monitoring", "postgres-exporter-queries.yaml")
ROLE = "tap_monq_exporter"
ACCOUNT = "TAPMONQ1"
# what the exporter (0.11) accepts as a column's usage
USAGES = {"LABEL", "COUNTER", "GAUGE", "MAPPEDMETRIC", "DURATION",
          "HISTOGRAM", "DISCARD"}
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
# the only result columns named otherwise than their view column, as the
# file's header says
RENAMED = {"account": "account_id", "state": "gateway_state",
           "ready": "gateway_ready"}


def query_csv(sql, user=None):
    """Run one query; return its column names and rows (None for NULL)."""
    cmd = ["psql", "-X", "--csv", "-v", "ON_ERROR_STOP=1",
           "-P", "null=\\N", "-c", sql]
    if user:
        cmd += ["-U", user]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("query failed: %s\n%s" % (sql, out.stderr))
    rows = list(csv.reader(io.StringIO(out.stdout)))
    return rows[0], [[None if v == "\\N" else v for v in r] for r in rows[1:]]


def view_columns(view):
    return {r[0] for r in psql(
        "SELECT attname FROM pg_attribute WHERE attrelid = :'p0'::regclass "
        "AND attnum > 0 AND NOT attisdropped", view)}


def select_items(query):
    """Result column name -> its expression, from a query's select list."""
    body = re.search(r"SELECT\s(.*?)\sFROM\s", query, re.S).group(1)
    items, depth, cur = [], 0, ""
    for ch in body:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    out = {}
    for item in (i.strip() for i in items):
        m = re.match(r"^(.*)\s+AS\s+(\w+)$", item, re.S)
        out[m.group(2) if m else item] = m.group(1) if m else item
    return out


def source_of(query, column, columns):
    """The view column a result column comes from, or None."""
    expr = select_items(query).get(column, "")
    found = [w for w in re.findall(r"\w+", expr) if w in columns]
    return found[0] if len(found) == 1 else None


def setup():
    """One account of this test with one pending order; the exporter's
    role sees it and no other account."""
    psql("""
DO $$BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%s') THEN
		CREATE ROLE %s LOGIN IN ROLE pgtrade_reader;
	END IF;
END$$;
SELECT pgtrade.add_account('%s', 'monitoring queries test');
SELECT pgtrade.add_instrument('TAPMONQX', 990811);
SELECT pgtrade.set_risk_limit('%s', max_position => 1000);
DELETE FROM pgtrade.account_grant WHERE role_name = '%s';
SELECT pgtrade.grant_account('%s', '%s');
SELECT pgtrade.cancel_order(order_id, 'left by an earlier run')
FROM pgtrade.orders WHERE account_id = '%s' AND status = 'pending';
SELECT (pgtrade.place_order('%s', 'TAPMONQX', 'buy', 1,
	valid_for => '1 hour')).order_id;
""" % ((ROLE,) * 2 + (ACCOUNT,) + (ACCOUNT,) + (ROLE,) * 2 + (ACCOUNT,) * 3))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode()
    except OSError:
        return None


def samples(text):
    """Metric name and labels -> value, from an exposition text."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^(\w+)(\{[^}]*\})?\s+(\S+)$", line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            labels.pop("server", None)
            out[(m.group(1), tuple(sorted(labels.items())))] = float(m.group(3))
    return out


def wait_for_scrape(url, deadline_s):
    """The exposition text once it holds pgtrade's metrics, or None."""
    def attempt():
        text = scrape(url)
        return text if text and "pgtrade_accounts" in text else None
    return wait_until(attempt, deadline_s)


def matches(have, want, seconds):
    """A scraped value against the view's text value (None: NULL, NaN)."""
    if have is None:
        return False
    if want is None:
        return have != have
    return abs(have - float(want)) <= (30 if seconds else 1e-9)


with open(QUERIES) as f:
    spec = yaml.safe_load(f)
usage = {ns: {col: a.get("usage") for m in q["metrics"]
              for col, a in m.items()} for ns, q in spec.items()}
metrics = [(ns, col) for ns in sorted(usage) for col in usage[ns]]
exporter = shutil.which("prometheus-postgres-exporter")
t = Tap(6 + 3 * len(spec) + 2 * len(metrics))

setup()
t.ok(isinstance(spec, dict) and spec, "the query file is a YAML mapping")
names = []
results = {}
for ns, q in sorted(spec.items()):
    declared = {col: a for m in q["metrics"] for col, a in m.items()}
    cols, rows = query_csv(q["query"], user=ROLE)
    results[ns] = (cols, rows)
    view = re.search(r"FROM\s+(pgtrade\.\w+)", q["query"]).group(1)
    vcols = view_columns(view)
    t.eq(sorted(cols), sorted(declared),
         "%s: the query returns exactly the declared columns" % ns)
    bad = [c for c, a in declared.items()
           if a.get("usage") not in USAGES or not a.get("description")]
    t.eq(bad, [], "%s: every column has a known usage and a description" % ns)
    t.ok(q.get("master") is True,
         "%s: runs on the configured database only" % ns)
    for col, attrs in declared.items():
        src = source_of(q["query"], col, vcols)
        if attrs.get("usage") != "LABEL":
            names.append("%s_%s" % (ns, col))
        t.ok(src == RENAMED.get(col, col)
             and METRIC_NAME.match("%s_%s" % (ns, col)),
             "%s_%s comes from %s.%s" % (ns, col, view, src))

t.eq(len(names), len(set(names)), "no two metrics share a name")
cols, rows = results["pgtrade"]
total = dict(zip(cols, rows[0])) if len(rows) == 1 else {}
t.eq((len(rows), total.get("accounts"), total.get("pending_orders")),
     (1, "1", "1"), "the reader's one total row covers its one account "
     "and its one pending order")
cols, rows = results["pgtrade_account"]
t.eq([(r[cols.index("account")], r[cols.index("pending_orders")])
      for r in rows], [(ACCOUNT, "1")],
     "the per-account query shows only the account granted")
t.ok(all(v is None or re.match(r"^-?[0-9]+(\.[0-9]+)?$", v)
         for ns, (cols, rows) in results.items() for r in rows
         for c, v in zip(cols, r) if usage[ns].get(c) != "LABEL"),
     "every metric value is a number or NULL")

if not exporter:
    t.skip_rest("prometheus-postgres-exporter is not installed")
    t.done()

# the views' values by metric name and labels, as the scrape keys them
want = {}
for ns, (cols, rows) in results.items():
    labels = [c for c in cols if usage[ns].get(c) == "LABEL"]
    for r in rows:
        key = tuple(sorted((c, r[cols.index(c)]) for c in labels))
        for c, v in zip(cols, r):
            if c not in labels:
                want[("%s_%s" % (ns, c), key)] = v

port = free_port()
env = dict(os.environ, DATA_SOURCE_NAME="host=%s port=%s dbname=%s user=%s "
           "sslmode=disable" % (os.environ["PGHOST"], os.environ["PGPORT"],
                                os.environ["PGDATABASE"], ROLE))
proc = subprocess.Popen([exporter, "--extend.query-path=" + QUERIES,
                         "--disable-default-metrics",
                         "--disable-settings-metrics",
                         "--web.listen-address=127.0.0.1:%d" % port],
                        env=env, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
try:
    text = wait_for_scrape("http://127.0.0.1:%d/metrics" % port, 30) or ""
    got = samples(text)
    t.ok(bool(got), "the exporter loads the file and serves pgtrade's metrics",
         "exporter status: %r" % proc.poll())
    for ns, col in metrics:
        name = "%s_%s" % (ns, col)
        if usage[ns][col] == "LABEL":
            t.ok(any(n.startswith(ns + "_") and dict(k).get(col)
                     for n, k in got),
                 "%s is a label of the %s metrics" % (col, ns))
            continue
        have = {k: v for (n, k), v in got.items() if n == name}
        exp = {k: v for (n, k), v in want.items() if n == name}
        t.ok(exp and set(have) == set(exp) and all(
            matches(have[k], v, name.endswith("_seconds"))
            for k, v in exp.items()),
            "%s is scraped with the view's value" % name,
            "have: %r\nwant: %r" % (have, exp))
finally:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
t.done()
