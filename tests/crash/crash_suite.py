#!/usr/bin/python3
"""crash_suite.py: kill pgtrade-listener at every moment of an order's
life and prove that no order is sent twice and no fill is lost.

A stream of orders (several accounts and instruments, market and limit,
buys and sells, immediate, delayed and partial fills, confirmation
prompts on the allow list, a few cancels) runs through the real
listener against the CPAPI simulator over HTTPS, while the listener is
killed with SIGKILL CRASH_KILLS times (default 200) and restarted at
once.  Most kills are aimed with the simulator's hold fault: the suite
waits until /sim/held shows the request of the moment it wants, then
kills.  Kill points:

  before_submit   claim committed, nothing sent: the listener is
                  looking the contract up (secdef search held)
  during_submit   the order POST reached the gateway, which holds it
                  before serving it (short or long hold)
  after_submit    the gateway booked the order and holds the answer
  prompt_reply    a confirmation reply is held, before or after it
                  was served
  fill_writeback  the broker has executions the database has not; the
                  trades answer carrying them is held
  random          a random moment after some orders were placed

Two variants run in the same stream: the database is restarted
(scripts/sandbox.sh stop/start) while the listener runs and fills
happen at the broker meanwhile (CRASH_DB_RESTARTS, default one per 50
kills, at least one), and the gateway accepts an order but answers only
after the listener's HTTP timeout (CRASH_TIMEOUTS, default one per 20
kills, at least one), so the listener must find it by cOID.

At the end a listener settles every order and the suite compares, in
TAP, the simulator's own book, log and request log (the broker's truth)
with pgtrade's tables.  Counts are printed as TAP comments.

The listener compares the broker's positions with pgtrade's every
CRASH_POSITIONS_INTERVAL seconds (default 1; 0 turns it off) while the
stream runs, orders resting at the broker among them, and after each
restart it claims nothing for an account until one comparison is
settled.  The simulator's positions are always the sum of its
executions, so any drift recorded is a false alarm and fails the suite.

Environment: the sandbox's (PGTRADE_SANDBOX, PGTRADE_PORT,
PGTRADE_LISTENER), CRASH_KILLS, CRASH_DB_RESTARTS, CRASH_TIMEOUTS,
CRASH_POSITIONS_INTERVAL, CRASH_SEED (default: the clock),
PGTRADE_TIME_SCALE (default 0.05).
"""
import collections
import datetime
import json
import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
from pgtest import Tap, psql, scalar, wait_until, Sim, services  # noqa: E402

KILLS = int(os.environ.get("CRASH_KILLS", "200"))
DB_RESTARTS = int(os.environ.get("CRASH_DB_RESTARTS",
                                 str(max(1, KILLS // 50))))
TIMEOUTS = int(os.environ.get("CRASH_TIMEOUTS", str(max(1, KILLS // 20))))
SEED = int(os.environ.get("CRASH_SEED", str(int(time.time()))))
SCALE = os.environ.get("PGTRADE_TIME_SCALE", "0.05")
POS_INTERVAL = os.environ.get("CRASH_POSITIONS_INTERVAL", "1")
SANDBOX = os.environ.get("PGTRADE_SANDBOX", "/var/lib/pgtrade-sandbox")
LISTENER = os.environ.get("PGTRADE_LISTENER",
                          os.path.join(TOP, "listener", "pgtrade-listener"))
PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl"
HTTP_TIMEOUT = 1.5          # the listener's --http-timeout, seconds
TRIGGER_WAIT = 15.0         # longest wait for a kill point, seconds
ACCOUNTS = ["DU9100001", "DU9100002", "DU9100003"]
INSTRUMENTS = {"AAPL": (265598, Decimal("150.00")),
               "MSFT": (272093, Decimal("300.00")),
               "SPY": (756733, Decimal("450.00"))}
CONFIRM_IDS = ["o354", "o163"]
POINTS = ["before_submit", "during_submit", "after_submit",
          "prompt_reply", "fill_writeback", "random"]
TERMINAL = {"filled", "cancelled", "rejected", "expired", "refused"}

rng = random.Random(SEED)
counts = collections.Counter()


def log(msg):
    """Print a progress line as a TAP comment."""
    print("# " + msg, flush=True)


def sandbox(*args):
    """Run scripts/sandbox.sh with args; raise on failure."""
    subprocess.run([os.path.join(TOP, "scripts", "sandbox.sh")] +
                   list(args), check=True, capture_output=True, text=True)


def sandbox_env():
    """Put the sandbox's PG* variables into this process's environment."""
    out = subprocess.run([os.path.join(TOP, "scripts", "sandbox.sh"),
                          "env"], check=True, capture_output=True,
                         text=True).stdout
    for word in out.replace("export ", "").split():
        key, _, value = word.partition("=")
        os.environ[key] = value.strip("'")


class Listener:
    """The listener process under test, started and killed by pid."""

    def __init__(self, sim_dir, gateway):
        self.proc = None
        self.gateway = gateway
        self.cacert = os.path.join(sim_dir, "sim.crt")
        os.makedirs(os.path.join(SANDBOX, "log"), exist_ok=True)
        self.log_path = os.path.join(SANDBOX, "log", "crash-listener.log")
        self.log = open(self.log_path, "a")
        self.log_mark = self.log.tell()
        self.unexpected = []

    def start(self, *extra):
        """Start a listener process (the previous one must be gone)."""
        conninfo = "host=%s port=%s dbname=%s user=pgtrade_listen" % (
            os.environ["PGHOST"], os.environ["PGPORT"],
            os.environ.get("PGDATABASE", "pgtrade"))
        self.proc = subprocess.Popen(
            [LISTENER, "-d", conninfo, "--gateway", self.gateway,
             "--cacert", self.cacert, "--confirm-ids", ",".join(CONFIRM_IDS),
             "--poll-interval", "0.2", "--time-scale", SCALE,
             "--http-timeout", str(HTTP_TIMEOUT), "--name", "crash",
             "--positions-interval", POS_INTERVAL] +
            list(extra), stdout=self.log, stderr=self.log,
            stdin=subprocess.DEVNULL)

    def check_alive(self):
        """Note a listener that ended on its own; restart it."""
        if self.proc is not None and self.proc.poll() is not None:
            self.unexpected.append(self.proc.returncode)
            log("listener %d ended on its own with status %d" %
                (self.proc.pid, self.proc.returncode))
            self.start()

    def kill(self):
        """SIGKILL the listener and reap it."""
        self.check_alive()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        """SIGTERM the listener and wait for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ----- the order stream ----------------------------------------------------

def mine_sql():
    """SQL list literal of the suite's accounts."""
    return "ARRAY[%s]" % ",".join("'%s'" % a for a in ACCOUNTS)


def place(account, symbol, side, qty, otype="market", limit=None):
    """Place an order through the gate; return its id (or None)."""
    rows = psql("SELECT (pgtrade.place_order(:'p0', :'p1', :'p2', :'p3', "
                ":'p4', NULLIF(:'p5', '')::numeric)).order_id",
                account, symbol, side, qty, otype,
                "" if limit is None else limit, check=False)
    if rows:
        counts["orders placed"] += 1
        return rows[0][0]
    counts["orders not placed"] += 1
    return None


def random_order(sim, symbol=None):
    """Place one random order of the stream."""
    account = rng.choice(ACCOUNTS)
    symbol = symbol or rng.choice(sorted(INSTRUMENTS))
    side = rng.choice(["buy", "sell"])
    qty = rng.randint(1, 20)
    if symbol in INSTRUMENTS and rng.random() < 0.35:
        price = INSTRUMENTS[symbol][1]
        off = Decimal(rng.randint(0, 80)) / Decimal(10000)
        limit = price * (1 - off if side == "buy" else 1 + off)
        counts["limit orders"] += 1
        return place(account, symbol, side, qty, "limit",
                     str(limit.quantize(Decimal("0.01"))))
    counts["market orders"] += 1
    return place(account, symbol, side, qty)


def random_fill_mode(sim):
    """Choose how the broker fills the next orders."""
    mode = rng.choice(["immediate", "immediate", "delayed", "partial"])
    knobs = {"fill_mode": mode, "fill_delay_s": 8}
    if mode == "partial":
        knobs["partial_sizes"] = [1, rng.randint(1, 3)]
    sim.call("POST", "/sim/config", knobs)
    counts["fill mode " + mode] += 1


def move_prices(sim):
    """Random-walk the market prices; working limits may fill."""
    for symbol, (conid, price) in INSTRUMENTS.items():
        step = Decimal(rng.randint(-40, 40)) / Decimal(10000)
        price = (price * (1 + step)).quantize(Decimal("0.01"))
        INSTRUMENTS[symbol] = (conid, price)
        sim.call("POST", "/sim/price", {"conid": conid, "price": str(price)})


def maybe_cancel():
    """Now and then cancel a working order of the suite."""
    if rng.random() < 0.25:
        rows = psql("SELECT order_id FROM pgtrade.orders WHERE status = "
                    "'working' AND account_id = ANY (%s) ORDER BY random() "
                    "LIMIT 1" % mine_sql(), check=False)
        if rows and psql("SELECT pgtrade.cancel_order(:'p0')", rows[0][0],
                         check=False):
            counts["cancels asked"] += 1


def stream(sim, n=None):
    """Place a few orders, move prices, maybe cancel one."""
    for _ in range(n if n is not None else rng.randint(1, 3)):
        random_order(sim)
    move_prices(sim)
    maybe_cancel()


# ----- kill points ---------------------------------------------------------

def held(sim, route):
    """Return the requests of route the simulator is holding now."""
    return [h for h in sim.call("GET", "/sim/held")["held"]
            if h["route"] == route]


def wait_held(sim, route):
    """Wait until a request of route is held; return it or None."""
    return wait_until(lambda: (held(sim, route) or [None])[0],
                      TRIGGER_WAIT, 0.01)


def arm(sim, route, phase, ms):
    """Hold the next request of route."""
    sim.call("POST", "/sim/config", {"hold": {"route": route,
                                              "phase": phase, "ms": ms}})


def disarm(sim):
    """Clear the hold fault (requests already held stay held)."""
    sim.call("POST", "/sim/config", {"hold": None})


def point_before_submit(sim, k):
    """Claimed, nothing sent yet: the contract lookup is held."""
    symbol = "K%s%d" % (RUN_TAG, k)
    conid = 9100000 + k
    sim.call("POST", "/sim/contract", {"symbol": symbol, "conid": conid,
                                       "exchange": "NYSE"})
    sim.call("POST", "/sim/price", {"conid": conid, "price": "20.00"})
    psql("SELECT pgtrade.add_instrument(:'p0')", symbol)
    arm(sim, "secdef_search", "before", 4000)
    place(rng.choice(ACCOUNTS), symbol, rng.choice(["buy", "sell"]),
          rng.randint(1, 20))
    return wait_held(sim, "secdef_search")


def point_during_submit(sim, k):
    """The POST reached the gateway, which has not served it yet."""
    ms = rng.choice([300, 300, 4000])
    arm(sim, "place_order", "before", ms)
    stream(sim, 1)
    return wait_held(sim, "place_order")


def point_after_submit(sim, k):
    """The gateway booked the order; its answer is held."""
    arm(sim, "place_order", "after", 1000)
    stream(sim, 1)
    return wait_held(sim, "place_order")


def point_prompt_reply(sim, k):
    """A confirmation reply is held, before or after it was served."""
    sim.call("POST", "/sim/config", {"prompts": {
        "every": 1, "chain": rng.choice([1, 2]), "message_ids": CONFIRM_IDS}})
    arm(sim, "reply", rng.choice(["before", "after"]), 1000)
    stream(sim, 1)
    hit = wait_held(sim, "reply")
    sim.call("POST", "/sim/config", {"prompts": {"every": 4, "chain": 1}})
    return hit


def broker_executions(sim):
    """Every execution of the simulator's book: id -> (order, execution)."""
    out = {}
    for o in sim.call("GET", "/sim/book")["orders"]:
        for e in o["executions"]:
            out[e["execution_id"]] = (o, e)
    return out


def db_executions():
    """Execution ids in pgtrade.fill for the suite's accounts."""
    return {r[0] for r in psql("SELECT execution_id FROM pgtrade.fill "
                               "WHERE account_id = ANY (%s)" % mine_sql(),
                               check=False)}


def point_fill_writeback(sim, k):
    """The broker fills an order; the trades answer that would bring the
    fill back is held, so the database lacks it when the kill comes."""
    sim.call("POST", "/sim/config", {"fill_mode": "immediate"})
    arm(sim, "trades", "after", 1000)
    place(rng.choice(ACCOUNTS), rng.choice(sorted(INSTRUMENTS)),
          rng.choice(["buy", "sell"]), rng.randint(1, 20))
    hit = wait_held(sim, "trades")
    if hit and set(broker_executions(sim)) - db_executions():
        counts["kills with fills not written back"] += 1
    return hit


def point_random(sim, k):
    """Some orders, then a random moment."""
    stream(sim)
    time.sleep(rng.uniform(0, 1.0))
    return True


def db_restart(sim, listener):
    """Restart PostgreSQL under the running listener; fill meanwhile."""
    # three market orders the broker takes but does not fill: they fill
    # when the prices move while the database is down
    sim.call("POST", "/sim/config", {"fill_mode": "never"})
    for _ in range(3):
        place(rng.choice(ACCOUNTS), rng.choice(sorted(INSTRUMENTS)),
              rng.choice(["buy", "sell"]), rng.randint(1, 20))
    # wait until they work at the broker
    wait_until(lambda: scalar(
        "SELECT count(*) = 0 FROM pgtrade.orders WHERE status IN "
        "('pending', 'submitting') AND account_id = ANY (%s)" % mine_sql(),
        check=False) == "t", 10, 0.05)
    before = len(broker_executions(sim))
    # only the server: "sandbox.sh stop" would stop the simulator too;
    # every other restart is a crash (immediate) rather than a shutdown
    mode = "immediate" if counts["database restarts"] % 2 else "fast"
    subprocess.run(["runuser", "-u", "postgres", "--", PG_CTL, "stop",
                    "-D", os.path.join(SANDBOX, "pgdata"), "-m", mode,
                    "-w"], check=True, capture_output=True)
    counts["database restarts, " + mode] += 1
    # the broker keeps trading while the database is down
    sim.call("POST", "/sim/config", {"fill_mode": "immediate"})
    move_prices(sim)
    move_prices(sim)
    time.sleep(0.5)
    counts["fills at the broker while the database was down"] += \
        len(broker_executions(sim)) - before
    sandbox("start")
    counts["database restarts"] += 1
    listener.check_alive()


def gateway_timeout(sim):
    """The gateway books an order but answers after the HTTP timeout."""
    # no prompt: the held answer must be the booking itself
    sim.call("POST", "/sim/config", {"prompts": {"every": 0}})
    arm(sim, "place_order", "after", int(HTTP_TIMEOUT * 1000) + 1500)
    stream(sim, 1)
    hit = wait_held(sim, "place_order")
    sim.call("POST", "/sim/config", {"prompts": {"every": 4, "chain": 1}})
    if hit:
        TIMED_OUT.append(hit["cOID"])
        counts["gateway timeouts"] += 1
        # the listener must find it by cOID, not send it again
        wait_until(lambda: scalar(
            "SELECT status FROM pgtrade.orders WHERE client_order_id = "
            ":'p0' AND status <> 'submitting'", hit["cOID"]), 15)


TIMED_OUT = []
RUN_TAG = "%X" % (int(time.time()) % 0xfffff)


def run_stream(sim, listener):
    """The kills, with the variants spread among them."""
    restarts_at = {int(KILLS * (i + 1) / (DB_RESTARTS + 1))
                   for i in range(DB_RESTARTS)}
    timeouts_at = {int(KILLS * (i + 0.5) / TIMEOUTS)
                   for i in range(TIMEOUTS)}
    for k in range(KILLS):
        # let the restarted listener settle what the kill left open, so
        # that each kill point catches a new moment rather than the
        # resend of the order the last kill interrupted
        wait_until(lambda: scalar(
            "SELECT count(*) = 0 FROM pgtrade.orders WHERE status = "
            "'submitting' AND account_id = ANY (%s)" % mine_sql(),
            check=False) == "t", 10, 0.05)
        random_fill_mode(sim)
        stream(sim)
        if k in restarts_at:
            db_restart(sim, listener)
        if k in timeouts_at:
            gateway_timeout(sim)
        point = POINTS[k % len(POINTS)]
        hit = globals()["point_" + point](sim, k)
        listener.kill()
        disarm(sim)
        counts["kills"] += 1
        counts["kill " + (point if hit else "missed:" + point)] += 1
        if not hit:
            log("kill %d: %s not reached within %.0f s; killed anyway"
                % (k + 1, point, TRIGGER_WAIT))
        if rng.random() < 0.3:
            time.sleep(rng.uniform(0, 0.5))
        listener.start()
        if (k + 1) % 20 == 0:
            log("%d kills done" % (k + 1))


# ----- settling and checks -------------------------------------------------

def settle(sim, listener):
    """Clear every fault, cancel what works, wait until nothing moves."""
    sim.call("POST", "/sim/config", {"hold": None, "trades_delay_s": 0,
                                     "prompts": {"every": 0},
                                     "fill_mode": "immediate"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        listener.check_alive()
        for (oid,) in psql("SELECT order_id FROM pgtrade.orders WHERE "
                           "status IN ('pending', 'working') AND "
                           "account_id = ANY (%s)" % mine_sql()):
            psql("SELECT pgtrade.cancel_order(:'p0')", oid, check=False)
        busy = scalar("SELECT count(*) FROM pgtrade.orders WHERE status IN "
                      "('pending', 'submitting', 'working', "
                      "'cancel_requested') AND account_id = ANY (%s)"
                      % mine_sql())
        missing = set(broker_executions(sim)) - db_executions()
        if busy == "0" and not missing:
            return True
        time.sleep(0.5)
    return False


def checks(t, sim, started_at):
    """The TAP assertions, from the broker's records against pgtrade's."""
    book = sim.call("GET", "/sim/book")["orders"]
    entries = [e for e in sim.call("GET", "/sim/log")["entries"]
               if e["kind"] == "place"]
    orders = {r[0]: {"id": r[1], "status": r[2], "filled": Decimal(r[3]),
                     "account": r[4]}
              for r in psql("SELECT client_order_id, order_id, status, "
                            "filled_quantity, account_id FROM pgtrade.orders "
                            "WHERE account_id = ANY (%s)" % mine_sql())}

    # (a) at most once in the book; POSTs per cOID
    in_book = collections.Counter(o["cOID"] for o in book)
    twice = sorted(c for c, n in in_book.items() if n > 1)
    t.ok(not twice, "every cOID entered the broker's book at most once",
         twice)
    posts = collections.Counter(e["cOID"] for e in entries)
    first_post = {}
    for e in entries:
        first_post.setdefault(e["cOID"], e)
    hist = collections.Counter(posts.values())
    log("POSTs per cOID: %s" % ", ".join("%d POST%s: %d cOIDs" % (
        k, "" if k == 1 else "s", v) for k, v in sorted(hist.items())))
    dup = [e for e in entries if "already registered" in (e["error"] or "")]
    log("duplicate-cOID answers: %d" % len(dup))
    bad = resends_without_lookup(entries, book)
    t.ok(not bad, "no cOID was sent again after the broker had it when "
         "the listener last asked", bad[:5])
    booked_first = {c for c, e in first_post.items()
                    if e["outcome"] == "accepted"}
    timed_out = [c for c in TIMED_OUT if c in booked_first]
    log("orders booked whose answer outlived the HTTP timeout: %d"
        % len(timed_out))
    t.eq([c for c in timed_out if posts[c] != 1], [],
         "orders booked whose answer outlived the HTTP timeout were found "
         "by cOID, not sent again")

    # (b) fills
    execs = broker_executions(sim)
    fills = {r[0]: (Decimal(r[1]), Decimal(r[2]), r[3], r[4]) for r in psql(
        "SELECT execution_id, quantity, price, order_ref, account_id "
        "FROM pgtrade.fill WHERE account_id = ANY (%s)" % mine_sql())}
    t.eq(sorted(set(fills) ^ set(execs)), [],
         "broker executions and pgtrade.fill have the same ids")
    t.eq(scalar("SELECT count(*) FROM pgtrade.fill WHERE account_id = "
                "ANY (%s)" % mine_sql()), str(len(execs)),
         "as many fill rows as broker executions")
    wrong = [x for x, (o, e) in execs.items() if x in fills and
             fills[x] != (Decimal(str(e["size"])), Decimal(e["price"]),
                          o["cOID"], o["account"])]
    t.eq(wrong, [], "each fill has the execution's size, price, cOID and "
         "account")

    # (c) positions
    signed = collections.Counter()
    for o, e in execs.values():
        q = Decimal(str(e["size"]))
        signed[(o["account"], o["conid"])] += q if o["side"] == "BUY" else -q
    signed = {k: v for k, v in signed.items() if v != 0}
    db_pos = {(r[0], int(r[1])): Decimal(r[2]) for r in psql(
        "SELECT p.account_id, i.conid, p.quantity FROM pgtrade.position p "
        "JOIN pgtrade.instrument i USING (instrument_id) WHERE "
        "p.account_id = ANY (%s) AND p.quantity <> 0" % mine_sql())}
    t.eq(db_pos, signed, "pgtrade.position is the signed sum of the "
         "broker's executions")
    sim_pos = {}
    for acct in ACCOUNTS:
        for row in sim.call("POST", "/v1/api/portfolio/%s/positions/"
                            "invalidate" % acct, {}):
            sim_pos[(acct, row["conid"])] = Decimal(str(row["position"]))
    t.eq(sim_pos, signed, "the simulator's positions equal that sum")

    # (d) states
    by_coid = {o["cOID"]: o for o in book}
    t.eq(sorted(c for c, o in orders.items() if o["status"] == "submitting"),
         [], "no order is left submitting")
    unknown = sorted(c for c, o in orders.items() if o["status"] == "unknown")
    counts["unknown orders"] = len(unknown)
    t.eq(unknown, [], "no order became unknown")
    disagree = [(c, o["status"], (by_coid.get(c) or {}).get("status"))
                for c, o in orders.items()
                if not state_agrees(o, by_coid.get(c), posts[c])]
    t.eq(disagree, [], "every order is final and agrees with the broker")
    qty = [(c, str(o["filled"]), by_coid[c]["filled"])
           for c, o in orders.items() if c in by_coid and
           o["filled"] != Decimal(str(by_coid[c]["filled"]))]
    t.eq(qty, [], "every order's filled quantity is the broker's")

    # (e) nothing sent that the database does not know
    t.eq(sorted(set(posts) - set(orders)), [],
         "every cOID the broker received is a pgtrade order")

    # the run itself
    t.eq(listener_unexpected(), [], "the listener never ended on its own")
    t.ok(counts["kills"] >= KILLS, "killed the listener %d times"
         % counts["kills"])
    # a point not reached within TRIGGER_WAIT still kills, at a random
    # moment; each point must have been reached at least once
    never = [p for p in POINTS[:KILLS] if counts["kill " + p] == 0]
    t.eq(never, [], "every kill point was reached")
    t.ok(counts["database restarts"] >= min(1, DB_RESTARTS),
         "the database was restarted under the listener")
    t.ok(counts["fills at the broker while the database was down"] > 0
         or DB_RESTARTS == 0,
         "the broker filled orders while the database was down")
    if POS_INTERVAL != "0":
        # (d) position comparisons beside the stream
        t.eq(psql("SELECT account_id, conid, pgtrade_quantity::text, "
                  "broker_quantity::text FROM pgtrade.position_drift "
                  "WHERE account_id = ANY (%s)" % mine_sql(), check=False),
             [], "no position drift was recorded: the broker's positions "
             "are its executions")
        compared = listener_log_text().count("positions compared with the "
                                             "broker")
        counts["first comparisons after a (re)start"] = compared
        t.ok(compared >= KILLS // 2,
             "positions were compared after the restarts, beside orders in "
             "flight", "%d first comparisons for %d kills" % (compared, KILLS))
    counts["orders"] = len(orders)
    counts["broker executions"] = len(execs)
    counts["fills recorded"] = len(fills)
    counts["duplicate-cOID answers"] = len(dup)
    counts["cOIDs posted more than once"] = sum(1 for n in posts.values()
                                                if n > 1)
    for status, n in collections.Counter(o["status"] for o in
                                         orders.values()).items():
        counts["orders " + status] = n
    counts["seconds"] = int(time.monotonic() - started_at)


def state_agrees(o, broker, n_posts):
    """Tell whether a pgtrade order's final state matches the broker's."""
    status = o["status"]
    bstat = broker["status"] if broker else None
    if status in ("refused", "expired"):
        return n_posts == 0
    if status == "filled":
        return bstat == "Filled"
    if status == "cancelled":
        return bstat in (None, "Cancelled")
    if status == "rejected":
        return bstat in (None, "Inactive")
    return False


def resends_without_lookup(entries, book):
    """Find POSTs of a cOID the broker had booked before the listener's
    latest live-orders query preceding that POST."""
    placed = {o["cOID"]: iso_ms(o["placed_at"]) for o in book}
    gets = []
    with open(os.path.join(SANDBOX, "sim", "requests.log")) as f:
        for line in f:
            r = json.loads(line)
            if r["method"] == "GET" and "/iserver/account/orders" in \
                    r["path"] and r["status"] == 200:
                acct = r["path"].partition("accountId=")[2]
                gets.append((iso_ms(r["time"]) - r["ms"], acct))
    bad = []
    seen = collections.Counter()
    for e in sorted(entries, key=lambda e: e["received_at_ms"]):
        seen[e["cOID"]] += 1
        if seen[e["cOID"]] == 1 or e["cOID"] not in placed:
            continue
        asked = [g for g, a in gets if a == e["account"] and
                 g < e["received_at_ms"]]
        if not asked or placed[e["cOID"]] < max(asked):
            bad.append(e["cOID"])
    return bad


def iso_ms(text):
    """Epoch milliseconds of the simulator's ISO UTC time text."""
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp() * 1000.0


def listener_unexpected():
    return LISTENER_OBJ.unexpected


def listener_log_text():
    """What the suite's listeners logged in this run."""
    with open(LISTENER_OBJ.log_path, "rb") as f:
        f.seek(LISTENER_OBJ.log_mark)
        return f.read().decode("utf-8", "replace")


def setup(sim):
    """Accounts, limits, instruments and prices of the suite."""
    for acct in ACCOUNTS:
        psql("SELECT pgtrade.add_account(:'p0')", acct, check=False)
        psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 1000000,"
             " max_order_quantity => 1000)", acct)
        psql("SELECT pgtrade.unhalt_account(:'p0', 'crash suite start')",
             acct, check=False)
    for symbol, (conid, price) in INSTRUMENTS.items():
        psql("SELECT pgtrade.add_instrument(:'p0', :'p1')", symbol, conid,
             check=False)
        sim.call("POST", "/sim/price", {"conid": conid, "price": str(price)})
    sim.call("POST", "/sim/config", {"cancel_delay_s": 4})


LISTENER_OBJ = None


def main():
    global LISTENER_OBJ
    started = time.monotonic()
    sandbox_env()
    t = Tap(18 if POS_INTERVAL == "0" else 20)
    log("seed %d, %d kills, %d database restarts, %d gateway timeouts, "
        "time scale %s" % (SEED, KILLS, DB_RESTARTS, TIMEOUTS, SCALE))
    os.environ["PGTRADE_ACCOUNTS"] = ",".join(ACCOUNTS)
    os.environ["PGTRADE_TIME_SCALE"] = SCALE
    services("stop")
    sim_dir = os.path.join(SANDBOX, "sim")
    if os.path.exists(os.path.join(sim_dir, "requests.log")):
        os.unlink(os.path.join(sim_dir, "requests.log"))
    services("start-sim")
    sim = Sim(SANDBOX)
    setup(sim)
    gateway = services("gateway-url").stdout.strip()
    listener = LISTENER_OBJ = Listener(sim_dir, gateway)
    listener.start()
    try:
        run_stream(sim, listener)
        log("stream done after %d s; settling" %
            (time.monotonic() - started))
        settled = settle(sim, listener)
        if not settled:
            log("orders were still moving when the settling deadline came")
        checks(t, sim, started)
    finally:
        listener.stop()
        services("stop")
    for key in sorted(counts):
        log("%s: %d" % (key, counts[key]))
    log("listener log: %s" % listener.log_path)
    t.done()


if __name__ == "__main__":
    main()
