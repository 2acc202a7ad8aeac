"""Helpers of the gateway-fault tests (tests/e2e/test_listener_*.py).

They read what the simulator and the listener started by
scripts/services.sh leave in the sandbox: the simulator's request log
($SANDBOX/sim/requests.log, one JSON line per request with its time of
completion and duration), the listener's log ($SANDBOX/log/listener.log)
and the listener's row in pgtrade.listener.  Offsets ("marks") let a
test look only at what happened after a given moment.
"""
import datetime
import json
import os

from pgtest import SANDBOX, Sim, psql, scalar, services, wait_until

REQUEST_LOG = os.path.join(SANDBOX, "sim", "requests.log")
LISTENER_LOG = os.path.join(SANDBOX, "log", "listener.log")
LISTENER_PID = os.path.join(SANDBOX, "run", "listener.pid")
SCALE = float(os.environ.get("PGTRADE_TIME_SCALE", "0.05"))


def add_trading(account, symbol, conid):
    """Register account (positions up to 1000) and an instrument."""
    psql("SELECT pgtrade.add_account(:'p0')", account)
    psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 1000)",
         account)
    psql("SELECT pgtrade.add_instrument(:'p0', :'p1')", symbol, conid)


def position_of(account, symbol):
    """Return pgtrade's position of account in symbol (0 when none)."""
    return int(scalar("SELECT coalesce(sum(p.quantity), 0) FROM "
                      "pgtrade.position p JOIN pgtrade.instrument i USING "
                      "(instrument_id) WHERE p.account_id = :'p0' AND "
                      "i.symbol = :'p1'", account, symbol))


def held(sim, route):
    """The requests of route that the simulator's hold fault keeps now."""
    return [h for h in sim.call("GET", "/sim/held")["held"]
            if h["route"] == route]


def fresh_sim(conid, price="100.00"):
    """Stop the listener, start an empty simulator quoting conid at price.

    Returns the simulator's control client.
    """
    services("stop")
    services("start-sim")
    sim = Sim()
    sim.call("POST", "/sim/price", {"conid": conid, "price": price})
    return sim


def mark(path):
    """Return the current size of path (0 when it does not exist)."""
    return os.path.getsize(path) if os.path.exists(path) else 0


def text_since(path, offset):
    """Return what was appended to path after byte offset."""
    if not os.path.exists(path):
        return ""
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


def requests_since(offset):
    """Return the gateway requests logged after offset, in order.

    Each is the log's dict plus "start", the epoch seconds at which the
    simulator began serving it (completion time minus its duration).
    Control-API calls (/sim/...) are left out.
    """
    out = []
    for line in text_since(REQUEST_LOG, offset).splitlines():
        e = json.loads(line)
        if e["path"].startswith("/sim"):
            continue
        done = datetime.datetime.strptime(
            e["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
        e["start"] = done - e["ms"] / 1000.0
        e["route"] = e["path"].split("?")[0]
        for prefix in ("/v1/api", "/v1/portal"):
            if e["route"].startswith(prefix):
                e["route"] = e["route"][len(prefix):]
        out.append(e)
    return out


def listener_pid():
    with open(LISTENER_PID) as f:
        return int(f.read().strip())


def gateway_state(pid=None):
    """Return the gateway_state of the newest listener row of pid."""
    return scalar("SELECT gateway_state FROM pgtrade.listener "
                  "WHERE pid = :'p0' ORDER BY listener_id DESC LIMIT 1",
                  pid or listener_pid())


def wait_state(wanted, deadline=20, pid=None):
    """Wait until the listener's heartbeat shows one of wanted."""
    if isinstance(wanted, str):
        wanted = (wanted,)
    return wait_until(lambda: gateway_state(pid) in wanted, deadline) and \
        gateway_state(pid)


def place(account, symbol, qty, side="buy", extra=""):
    return scalar("SELECT (pgtrade.place_order(:'p0', :'p1', :'p2', :'p3'"
                  + extra + ")).order_id", account, symbol, side, qty)


def status_of(order_id):
    return scalar("SELECT status FROM pgtrade.orders WHERE order_id = :'p0'",
                  order_id)


def coid_of(order_id):
    return scalar("SELECT client_order_id FROM pgtrade.orders "
                  "WHERE order_id = :'p0'", order_id)


def wait_status(order_id, wanted, deadline=30):
    """Wait until the order has status wanted; return its status."""
    wait_until(lambda: status_of(order_id) == wanted, deadline)
    return status_of(order_id)


def posts_of(sim, coid):
    """The simulator's log entries of order POSTs carrying coid."""
    return [e for e in sim.call("GET", "/sim/log")["entries"]
            if e.get("kind") == "place" and e.get("cOID") == coid]


def accepted_posts(sim, coid):
    """How many POSTs of coid the broker accepted (entered its book)."""
    return len([e for e in posts_of(sim, coid) if e.get("order_id")])


def book_row(sim, coid):
    for o in sim.call("GET", "/sim/book")["orders"]:
        if o["cOID"] == coid:
            return o
    return None


def events(order_id):
    """The order's events as (from, to, detail) rows."""
    return psql("SELECT coalesce(from_status, ''), to_status, detail "
                "FROM pgtrade.order_event WHERE order_id = :'p0' "
                "ORDER BY event_id", order_id)
