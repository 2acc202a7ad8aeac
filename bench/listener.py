#!/usr/bin/python3
"""listener.py - benchmark of pgtrade-listener against the simulator.

Measures the time from an order's COMMIT (taken by the client right
after the commit returned) to the simulator's receipt of its POST
(received_at_us of /sim/log), both on this machine's real-time clock,
and the orders per second one listener carries.  Beside each figure it
measures a baseline in the same run: a minimal libcurl client POSTing
the same tickets straight to the simulator, so the listener's own
overhead shows as a ratio.

Phases, each over BENCH_ORDERS orders (default 10,000):
  1. baseline latency: the minimal client POSTs at BENCH_RATE a second;
     time from just before each POST to its receipt.
  2. baseline throughput: the minimal client POSTs back to back.
  3. listener latency: the client commits orders through
     pgtrade.place_order at BENCH_RATE a second (open loop, one order a
     transaction, synchronous_commit on) while the listener runs.
  4. listener throughput: the orders are committed while the listener is
     stopped, then it starts; rate from the first POST to the last.

It needs the sandbox (PG* variables from scripts/sandbox.sh env) with
pgtrade created, bench/listener_client built, and the listener binary
($PGTRADE_LISTENER, else listener/pgtrade-listener).  The simulator runs
with its rate limits lifted; the listener runs with --no-rate-budget.
Everything it starts it stops.  Output: a table on stdout, and the raw
figures as JSON in $PGTRADE_SANDBOX/bench/listener.json.
"""
import json
import os
import platform
import signal
import ssl
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
PY = "/usr/bin/python3"
SANDBOX = os.environ.get("PGTRADE_SANDBOX", "/var/lib/pgtrade-sandbox")
WORK = os.path.join(SANDBOX, "bench")
LISTENER = os.environ.get("PGTRADE_LISTENER",
                          os.path.join(TOP, "listener", "pgtrade-listener"))
CLIENT = os.path.join(HERE, "listener_client")
N = int(os.environ.get("BENCH_ORDERS", "10000"))
RATE = float(os.environ.get("BENCH_RATE", "200"))
# market: day market orders, filled at once (the listener then records
# the fills); ioc: limit IOC orders away from the market, cancelled at
# once (the order path alone)
KIND = os.environ.get("BENCH_KIND", "market")
# more listener options, e.g. -v to see each request's time in its log
EXTRA = os.environ.get("BENCH_LISTENER_ARGS", "").split()
SYMBOL, CONID = "SPY", 756733
# fresh accounts per run: nothing left over from an earlier run counts.
# Each listener phase has its own, since the simulator's book (and the
# positions it holds) is emptied between phases while pgtrade keeps its
# own: with filled orders the listener would rightly see position drift
# and hold the account back.
ACCOUNT = "DUB%d" % int(time.time())
THRU_ACCOUNT = ACCOUNT + "T"


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def psql(sql, user=None):
    cmd = ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql]
    if user:
        cmd[1:1] = ["-U", user]
    return subprocess.run(cmd, check=True, capture_output=True,
                          text=True).stdout.strip()


class Sim:
    """The simulator process and its control API."""

    def __init__(self):
        os.makedirs(WORK, exist_ok=True)
        self.crt = os.path.join(WORK, "sim.crt")
        if not os.path.exists(self.crt):
            subprocess.run(["sh", os.path.join(TOP, "tests", "sim",
                                               "make-cert.sh"), WORK],
                           check=True, capture_output=True)
        portfile = os.path.join(WORK, "sim.port")
        if os.path.exists(portfile):
            os.unlink(portfile)
        self.out = open(os.path.join(WORK, "sim.out"), "w")
        self.proc = subprocess.Popen(
            [PY, os.path.join(TOP, "tests", "sim", "cpapi_sim.py"),
             "--port", "0", "--port-file", portfile, "--cert", self.crt,
             "--key", os.path.join(WORK, "sim.key"), "--accounts",
             ACCOUNT + "," + THRU_ACCOUNT],
            stdout=self.out, stderr=subprocess.STDOUT)
        for _ in range(200):
            if os.path.exists(portfile):
                break
            time.sleep(0.05)
        with open(portfile) as f:
            self.port = int(f.read())
        self.base = "https://127.0.0.1:%d" % self.port
        self.api = self.base + "/v1/api"
        self.ctx = ssl.create_default_context(cafile=self.crt)

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, context=self.ctx, timeout=60) as r:
            return json.loads(r.read() or b"null")

    def fresh(self):
        """Empty book and log, limits lifted, a price so orders fill."""
        self.call("POST", "/sim/reset", {})
        self.call("POST", "/sim/config", {"rate_limits": False})
        self.call("POST", "/sim/price", {"conid": CONID, "price": "400.00"})

    def received(self):
        """Map cOID -> receipt of every order POST, epoch ms."""
        return {e["cOID"]: e["received_at_us"] / 1000.0
                for e in self.call("GET", "/sim/log")["entries"]
                if e["kind"] == "place"}

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.out.close()


class Listener:
    """A pgtrade-listener process serving one account."""

    def __init__(self, sim, account):
        env = dict(os.environ)
        self.logpath = os.path.join(WORK, "listener.log")
        self.out = open(self.logpath, "a")
        conninfo = "host=%s port=%s dbname=%s user=pgtrade_listen" % (
            env["PGHOST"], env["PGPORT"], env.get("PGDATABASE", "pgtrade"))
        self.proc = subprocess.Popen(
            [LISTENER, "-d", conninfo, "--gateway", sim.api, "--cacert",
             sim.crt, "--accounts", account, "--name", "bench",
             "--no-rate-budget"] + EXTRA, stdout=self.out,
            stderr=subprocess.STDOUT)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        self.out.close()


def client(*args):
    """Run listener_client; return [(cOID, epoch ms)]."""
    out = subprocess.run([CLIENT] + [str(a) for a in args], check=True,
                         capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        coid, ms = line.split("\t")
        rows.append((coid, float(ms)))
    return rows


def wait_received(sim, coids, deadline_s):
    """Wait until every cOID reached the simulator; return the receipts."""
    end = time.monotonic() + deadline_s
    while True:
        got = sim.received()
        if all(c in got for c in coids) or time.monotonic() > end:
            return got
        time.sleep(0.5)


def pct(values, p):
    """Percentile p (0-100) by the nearest-rank method."""
    s = sorted(values)
    k = max(1, -(-len(s) * p // 100))
    return s[int(k) - 1]


def latency(sent, got):
    lat = [got[c] - t for c, t in sent if c in got]
    return {"n": len(lat), "missing": len(sent) - len(lat),
            "series": [[round(t, 3), round(got[c] - t, 3)]
                       for c, t in sent if c in got],
            "p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99),
            "max": max(lat), "mean": statistics.fmean(lat)}


def throughput(coids, got):
    times = sorted(got[c] for c in coids if c in got)
    span = (times[-1] - times[0]) / 1000.0
    return {"n": len(times), "span_s": span,
            "per_s": (len(times) - 1) / span if span > 0 else 0.0}


def setup_db():
    psql("SELECT pgtrade.add_instrument('%s', conid => %d)" % (SYMBOL,
                                                                CONID))
    for account in (ACCOUNT, THRU_ACCOUNT):
        psql("SELECT pgtrade.add_account('%s')" % account)
        psql("SELECT pgtrade.set_risk_limit('%s', max_position => 1000000, "
             "max_order_quantity => 10)" % account)


def wait_ready(sim, lst):
    """Place one order and wait until the listener has sent it."""
    coid = psql("SELECT client_order_id FROM pgtrade.place_order("
                "'%s', '%s', 'buy', 1)" % (ACCOUNT, SYMBOL))
    got = wait_received(sim, [coid], 60)
    if coid not in got:
        raise RuntimeError("the listener did not send a warm-up order; "
                           "see " + lst.logpath)
    psql("SELECT pgtrade.place_order('%s', '%s', 'sell', 1)" %
         (ACCOUNT, SYMBOL))


def vacuum():
    psql("VACUUM ANALYZE pgtrade.orders, pgtrade.order_event")


def order_states():
    rows = psql("SELECT status, count(*) FROM pgtrade.orders WHERE "
                "account_id IN ('%s', '%s') GROUP BY 1 ORDER BY 1"
                % (ACCOUNT, THRU_ACCOUNT))
    return dict(line.split("|") for line in rows.splitlines())


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cores": os.cpu_count(), "cpu": cpu,
            "kernel": platform.release(),
            "postgres": psql("SHOW server_version"),
            "synchronous_commit": psql("SHOW synchronous_commit"),
            "fsync": psql("SHOW fsync"),
            "load_before": os.getloadavg()}


def run():
    result = {"orders": N, "rate": RATE, "kind": KIND, "account": ACCOUNT,
              "machine": machine()}
    setup_db()
    sim = Sim()
    lst = None
    try:
        sim.fresh()
        log("baseline latency: %d POSTs at %g/s" % (N, RATE))
        sent = client("post", sim.api + "/iserver/account/%s/orders" %
                      ACCOUNT, sim.crt, ACCOUNT, CONID, KIND, N, RATE)
        result["base_latency"] = latency(sent, sim.received())
        sim.fresh()
        log("baseline throughput: %d POSTs back to back" % N)
        sent = client("post", sim.api + "/iserver/account/%s/orders" %
                      ACCOUNT, sim.crt, ACCOUNT, CONID, KIND, N, 0)
        result["base_throughput"] = throughput([c for c, _ in sent],
                                               sim.received())

        sim.fresh()
        # as pgbench does: vacuum first, so that autovacuum does not wake
        # up in the middle of the phase for what earlier ones left
        vacuum()
        lst = Listener(sim, ACCOUNT)
        wait_ready(sim, lst)
        log("listener latency: %d orders committed at %g/s" % (N, RATE))
        placed = client("place", ACCOUNT, SYMBOL, KIND, N, RATE)
        got = wait_received(sim, [c for c, _ in placed], 120)
        result["listener_latency"] = latency(placed, got)
        lst.stop()
        lst = None

        sim.fresh()
        log("listener throughput: %d orders queued, then the listener "
            "starts" % N)
        placed = client("place", THRU_ACCOUNT, SYMBOL, KIND, N, 0)
        # as autovacuum would within a minute: with statistics that
        # predate the backlog the claim sorts every pending order
        vacuum()
        lst = Listener(sim, THRU_ACCOUNT)
        got = wait_received(sim, [c for c, _ in placed], 600)
        result["listener_throughput"] = throughput([c for c, _ in placed],
                                                   got)
        time.sleep(3)  # let tracking record what it saw
        lst.stop()
        lst = None
        result["order_states"] = order_states()
        result["machine"]["load_after"] = os.getloadavg()
    finally:
        if lst is not None:
            lst.stop()
        sim.stop()
    return result


def report(r):
    bl, ll = r["base_latency"], r["listener_latency"]
    bt, lt = r["base_throughput"], r["listener_throughput"]
    m = r["machine"]
    print("bench: %d cores (%s), PostgreSQL %s, synchronous_commit %s, "
          "load %.2f before" % (m["cores"], m["cpu"], m["postgres"],
                                m["synchronous_commit"], m["load_before"][0]))
    print("bench: %d %s orders a phase; latency phases offer %g orders/s"
          % (r["orders"], r["kind"], r["rate"]))
    print("%-34s %9s %9s %9s %9s" % ("commit/send -> POST received",
                                    "p50 ms", "p90 ms", "p99 ms", "max ms"))
    for name, d in (("baseline (client POSTs itself)", bl),
                    ("pgtrade-listener", ll)):
        print("%-34s %9.2f %9.2f %9.2f %9.2f" % (name, d["p50"], d["p90"],
                                                 d["p99"], d["max"]))
    print("%-34s %9.1fx %8s %9.1fx" % ("listener / baseline",
                                       ll["p50"] / max(bl["p50"], 0.01), "",
                                       ll["p99"] / max(bl["p99"], 0.01)))
    print("%-34s %9s" % ("throughput", "orders/s"))
    print("%-34s %9.0f" % ("baseline (back-to-back POSTs)", bt["per_s"]))
    print("%-34s %9.0f" % ("pgtrade-listener (queued orders)", lt["per_s"]))
    print("%-34s %9.2f" % ("listener / baseline",
                           lt["per_s"] / max(bt["per_s"], 0.01)))
    print("bench: missing POSTs: latency %d, throughput %d; order states %s"
          % (ll["missing"], N - lt["n"], r["order_states"]))


def main():
    if not os.access(CLIENT, os.X_OK):
        sys.exit("bench: %s is not built (make -C bench)" % CLIENT)
    r = run()
    with open(os.path.join(WORK, "listener.json"), "w") as f:
        json.dump(r, f, indent=1)
    report(r)


if __name__ == "__main__":
    main()
