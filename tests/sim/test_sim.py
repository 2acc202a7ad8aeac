#!/usr/bin/python3
"""test_sim.py - self-test of the CPAPI simulator, printing TAP.

Generates a certificate with make-cert.sh in a temporary directory,
starts cpapi_sim.py on a free loopback port with a small time scale, and
drives it over HTTPS with urllib and an SSL context that trusts only
sim.crt.  Expected values come from shared/ibkr-cpapi.md (the contract),
from hand computation (noted next to each case) and, for shapes, from the
recorded payloads in shared/cpapi-payloads: every answer must have the
same keys and the same JSON types (integer, real, string, boolean, null)
as the matching file.  The shared folder is $PGTRADE_SHARED, by default
the "shared" folder beside the repository; without it the shape checks
are reported as skipped.

Cases run in order and share one simulator; each prints one TAP line.
Exit status 1 when any case fails.
"""

import contextlib
import http.client
import io
import json
import os
import re
import select
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHARED = os.environ.get("PGTRADE_SHARED",
                        os.path.join(os.path.dirname(REPO), "shared"))
PAYLOADS = os.path.join(SHARED, "cpapi-payloads")
PYTHON = "/usr/bin/python3"
SCALE = 0.01          # every gateway timer runs 100 times faster
ACCOUNT = "DU1234567"
OTHER = "DU7654321"
SPY, AAPL, MSFT, IBM, TSLA = 756733, 265598, 272093, 8314, 76792991
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                     r"[0-9a-f]{12}$")
# Shape of "0000e0d5.6576fd38.01.01" (shared/cpapi-payloads/trades.json).
EXEC_RE = re.compile(r"^[0-9a-f]{8}\.[0-9a-f]{8}\.\d\d\.\d\d$")

CASES = []
STATE = {"captured": {}, "coid": 0}


class Skip(Exception):
    """Raised by a case that cannot run here; the reason is printed."""


def case(description):
    """Register the decorated function as the next TAP test point."""
    def register(func):
        CASES.append((description, func))
        return func
    return register


def check(condition, message):
    """Fail the current case with message unless condition holds."""
    if not condition:
        raise AssertionError(message)


def equal(actual, expected, what):
    """Fail the current case unless actual == expected."""
    check(actual == expected, "%s: expected %r, got %r" %
          (what, expected, actual))


def wait_for(probe, what, timeout=5.0):
    """Poll probe() until it returns a true value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


class Client:
    """Minimal HTTPS JSON client for the simulator (urllib + ssl)."""

    ORDER_POST = re.compile(r"/iserver/account/[^/]+/(orders|order/-?\d+)$")

    def __init__(self, base, cafile=None):
        self.base = base
        self.order_posts = 0
        self.context = ssl.create_default_context(cafile=cafile) \
            if cafile else None

    def call(self, method, path, body=None, raw=None, base=None):
        """Send one request; return (status, parsed JSON answer).

        POSTs carry "{}" unless body or raw is given, as the contract
        requires of clients.
        """
        if raw is not None:
            data = raw
        elif body is not None:
            data = json.dumps(body).encode()
        else:
            data = b"{}" if method == "POST" else None
        if method == "POST" and self.ORDER_POST.search(path):
            self.order_posts += 1
        request = urllib.request.Request(
            (base or self.base) + path, data=data, method=method,
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, context=self.context,
                                        timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def api(self, method, path, body=None, **kw):
        """Call a CPAPI endpoint under /v1/api."""
        return self.call(method, "/v1/api" + path, body, **kw)

    def ok(self, method, path, body=None):
        """Call an endpoint that must answer 200; return the JSON."""
        status, answer = self.call(method, path, body)
        equal(status, 200, "HTTP status of %s %s (answer %r)" %
              (method, path, answer))
        return answer


def new_coid(tag="t"):
    """Return a fresh client order id."""
    STATE["coid"] += 1
    return "%s-%d-%04d" % (tag, os.getpid(), STATE["coid"])


def order_body(conid=SPY, side="BUY", qty=10, otype="MKT", tif="DAY",
           price=None, aux=None, coid=None):
    """Build one order body as the listener sends it."""
    order = {"acctId": ACCOUNT, "conid": conid,
             "secType": "%d:STK" % conid, "cOID": coid or new_coid(),
             "orderType": otype, "side": side, "quantity": qty,
             "tif": tif, "outsideRTH": False}
    if price is not None:
        order["price"] = price
    if aux is not None:
        order["auxPrice"] = aux
    return order


def place(order, account=ACCOUNT):
    """POST one ticket wrapped in {"orders": [...]}; return (status, body)."""
    return C.api("POST", "/iserver/account/%s/orders" % account,
                 {"orders": [order]})


def book_order(order_id):
    """Return the /sim/book row of order_id (an integer)."""
    for row in C.ok("GET", "/sim/book")["orders"]:
        if row["order_id"] == order_id:
            return row
    raise AssertionError("order %s not in /sim/book" % order_id)


def live_row(order_id, account=ACCOUNT):
    """Return the live-orders row of order_id (pre-flight absorbed)."""
    rows = C.ok("GET", "/v1/api/iserver/account/orders?accountId=" +
                account)["orders"]
    if not rows:
        rows = C.ok("GET", "/v1/api/iserver/account/orders?accountId=" +
                    account)["orders"]
    for row in rows:
        if row["orderId"] == order_id:
            return row
    raise AssertionError("order %s not in live orders" % order_id)


def set_price(conid, price):
    """Set the simulator's market price for conid."""
    C.ok("POST", "/sim/price", {"conid": conid, "price": price})


def config(**knobs):
    """Change simulator knobs through /sim/config."""
    C.ok("POST", "/sim/config", knobs)


def json_type(value):
    """Name the JSON type of a parsed value (integer and real apart)."""
    if value is None:
        return "null"
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "real"),
                       (str, "string"), (list, "array"), (dict, "object")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def type_problems(actual, reference, where):
    """List type differences for the keys both objects have, recursively."""
    problems = []
    if json_type(actual) != json_type(reference):
        return ["%s: %s instead of %s" % (where, json_type(actual),
                                          json_type(reference))]
    if isinstance(actual, dict):
        for key in set(actual) & set(reference):
            problems += type_problems(actual[key], reference[key],
                                      "%s.%s" % (where, key))
    elif isinstance(actual, list) and actual and reference:
        problems += type_problems(actual[0], reference[0], where + "[0]")
    return problems


def same_shape(actual, reference, where):
    """Fail unless actual has exactly reference's keys and types."""
    problems = type_problems(actual, reference, where)
    if isinstance(actual, dict):
        missing = set(reference) - set(actual)
        extra = set(actual) - set(reference)
        if missing:
            problems.append("%s lacks %s" % (where, sorted(missing)))
        if extra:
            problems.append("%s has extra %s" % (where, sorted(extra)))
    check(not problems, "; ".join(problems))


def payload(name):
    """Load a recorded payload, or skip the case when absent."""
    path = os.path.join(PAYLOADS, name)
    if not os.path.exists(path):
        raise Skip("no recorded payloads at " + PAYLOADS)
    with open(path, encoding="utf-8") as src:
        return json.load(src)


def captured(name):
    """Return an answer an earlier case kept for the shape checks."""
    check(name in STATE["captured"], "no %s answer was captured" % name)
    return STATE["captured"][name]


# ----- certificate and start-up -------------------------------------------

@case("make-cert.sh writes sim.crt and sim.key")
def test_make_cert():
    out = subprocess.run(["sh", os.path.join(HERE, "make-cert.sh"), TMP],
                         capture_output=True, text=True, timeout=60)
    equal(out.returncode, 0, "make-cert.sh exit status (%s)" % out.stderr)
    for name in ("sim.crt", "sim.key"):
        check(os.path.getsize(os.path.join(TMP, name)) > 0, name + " empty")
    equal(os.stat(os.path.join(TMP, "sim.key")).st_mode & 0o777, 0o600,
          "sim.key mode")


@case("certificate: RSA 2048, SHA-256, SAN localhost and 127.0.0.1, CA")
def test_cert_fields():
    text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in",
                           CERT], capture_output=True, text=True,
                          timeout=60).stdout
    for needle in ("Public-Key: (2048 bit)", "sha256WithRSAEncryption",
                   "DNS:localhost", "IP Address:127.0.0.1", "CA:TRUE"):
        check(needle in text, "certificate lacks " + needle)


@case("simulator prints 'listening on https://127.0.0.1:PORT' first")
def test_start():
    global C, PROC
    port_file = os.path.join(TMP, "port")
    PROC = subprocess.Popen(
        [PYTHON, os.path.join(HERE, "cpapi_sim.py"), "--port", "0",
         "--cert", CERT, "--key", os.path.join(TMP, "sim.key"),
         "--accounts", ACCOUNT + "," + OTHER, "--time-scale", str(SCALE),
         "--log-file", LOG_FILE, "--port-file", port_file],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready, _, _ = select.select([PROC.stdout], [], [], 15)
    check(ready, "no output from the simulator within 15 s")
    line = PROC.stdout.readline().strip()
    found = re.match(r"^listening on https://127\.0\.0\.1:(\d+)$", line)
    check(found, "unexpected first line %r" % line)
    port = int(found.group(1))
    with open(port_file, encoding="utf-8") as src:
        equal(int(src.read()), port, "port in --port-file")
    C = Client("https://127.0.0.1:%d" % port, CERT)
    STATE["port"] = port
    # Tests pause between requests; keep the session from timing out
    # except where a case shortens these timers on purpose.
    C.ok("POST", "/sim/auth", {"idle_timeout_s": 1e7,
                               "session_max_s": 1e7})
    config(rate_limits=False)


@case("TLS verifies with sim.crt as the CA, for 127.0.0.1 and localhost")
def test_tls():
    status, _ = C.api("GET", "/iserver/auth/status")
    equal(status, 200, "status via 127.0.0.1")
    status, _ = C.call("GET", "/v1/api/iserver/auth/status",
                       base="https://localhost:%d" % STATE["port"])
    equal(status, 200, "status via localhost")
    strict = ssl.create_default_context()
    try:
        urllib.request.urlopen(C.base + "/sim/health", context=strict,
                               timeout=10)
        raise AssertionError("an untrusting client was accepted")
    except urllib.error.URLError as exc:
        check(isinstance(exc.reason, ssl.SSLCertVerificationError),
              "expected a verification error, got %r" % exc.reason)


@case("HTTP/1.1 keep-alive: two answers over one connection")
def test_keep_alive():
    conn = http.client.HTTPSConnection("127.0.0.1", STATE["port"],
                                       context=C.context, timeout=10)
    conn.request("GET", "/v1/api/iserver/auth/status")
    first = conn.getresponse()
    first.read()
    sock = conn.sock
    equal(first.version, 11, "HTTP version")
    check(first.getheader("Content-Length"), "no Content-Length")
    conn.request("POST", "/v1/api/iserver/auth/status", body=b"{}")
    second = conn.getresponse()
    second.read()
    equal(second.status, 200, "second status")
    check(sock is not None and conn.sock is sock, "connection was reopened")
    conn.close()


# ----- session ------------------------------------------------------------

@case("GET and POST /iserver/auth/status report a healthy session")
def test_auth_status():
    for method in ("GET", "POST"):
        status, body = C.api(method, "/iserver/auth/status")
        equal(status, 200, method + " status")
        equal((body["authenticated"], body["connected"], body["competing"]),
              (True, True, False), method + " flags")
        check(isinstance(body["serverInfo"], dict), "serverInfo missing")


@case("/v1/portal prefix serves too; other prefixes answer 404")
def test_prefixes():
    status, body = C.call("GET", "/v1/portal/iserver/auth/status")
    equal((status, body["authenticated"]), (200, True), "/v1/portal")
    status, _ = C.call("GET", "/v2/api/iserver/auth/status")
    equal(status, 404, "unknown prefix")
    status, _ = C.api("GET", "/no/such/endpoint")
    equal(status, 404, "unknown endpoint")


@case("a POST without a body answers 411 Length Required")
def test_411():
    # Contract section 1: body-less POSTs get 411; clients send {}.
    status, body = C.api("POST", "/tickle", raw=b"")
    equal(status, 411, "status")
    equal(body["error"], "Length Required", "error text")


@case("gated endpoints answer 400 'Please query /accounts first'")
def test_gating():
    # Contract 3.1: orders, live orders, cancel, modify, snapshot, reply.
    calls = [("POST", "/iserver/account/%s/orders" % ACCOUNT,
              {"orders": [order_body()]}),
             ("GET", "/iserver/account/orders", None),
             ("DELETE", "/iserver/account/%s/order/1" % ACCOUNT, None),
             ("POST", "/iserver/account/%s/order/1" % ACCOUNT, order_body()),
             ("GET", "/iserver/marketdata/snapshot?conids=%d" % SPY, None),
             ("POST", "/iserver/reply/abc", {"confirmed": True})]
    for method, path, body in calls:
        status, answer = C.api(method, path, body)
        equal((status, answer), (400, {"error": "Please query /accounts "
                                       "first"}), method + " " + path)


@case("/iserver/accounts lists the accounts and lifts the gate")
def test_accounts():
    body = C.ok("GET", "/v1/api/iserver/accounts")
    equal(body["accounts"], [ACCOUNT, OTHER], "accounts")
    equal(body["selectedAccount"], ACCOUNT, "selectedAccount")


@case("first live-orders call of a brokerage session is empty")
def test_live_preflight():
    set_price(SPY, "457.12")
    status, answer = place(order_body(qty=1))
    equal(status, 200, "order status")
    body = C.ok("GET", "/v1/api/iserver/account/orders?accountId=" +
                ACCOUNT)
    equal(body, {"orders": [], "snapshot": True}, "pre-flight answer")
    rows = C.ok("GET", "/v1/api/iserver/account/orders?accountId=" +
                ACCOUNT)["orders"]
    equal([r["orderId"] for r in rows], [int(answer[0]["order_id"])],
          "second call")


@case("/tickle carries 'collission', hmds 'no bridge' and authStatus")
def test_tickle():
    for method in ("GET", "POST"):
        body = C.ok(method, "/v1/api/tickle")
        equal(body["collission"], False, "collission")
        equal(body["hmds"], {"error": "no bridge"}, "hmds")
        equal(body["iserver"]["authStatus"]["authenticated"], True,
              "authStatus.authenticated")
        check(re.match(r"^[0-9a-f]{32}$", body["session"]), "session id")
        check(isinstance(body["ssoExpires"], int) and
              body["ssoExpires"] > 0, "ssoExpires")


@case("/sso/validate answers RESULT, LOGIN_TYPE 2 and EXPIRES in ms")
def test_sso_validate():
    body = C.ok("GET", "/v1/api/sso/validate")
    equal((body["RESULT"], body["LOGIN_TYPE"]), (True, 2), "result")
    check(isinstance(body["EXPIRES"], int) and body["EXPIRES"] > 0,
          "EXPIRES")


# ----- contracts ----------------------------------------------------------

@case("secdef/search by GET and POST; conid is a string; no match is []")
def test_secdef():
    rows = C.ok("GET", "/v1/api/iserver/secdef/search?symbol=AAPL")
    equal([(r["conid"], r["symbol"]) for r in rows], [("265598", "AAPL")],
          "GET AAPL")
    rows = C.ok("POST", "/v1/api/iserver/secdef/search",
                {"symbol": "tsla", "name": False, "secType": "STK"})
    equal([r["conid"] for r in rows], ["76792991"], "POST TSLA")
    for symbol, conid in (("SPY", "756733"), ("MSFT", "272093"),
                          ("IBM", "8314"), ("GOOG", "208813720")):
        rows = C.ok("GET", "/v1/api/iserver/secdef/search?symbol=" + symbol)
        equal(rows[0]["conid"], conid, symbol)
    equal(C.ok("GET", "/v1/api/iserver/secdef/search?symbol=NOPE"), [],
          "no match")


@case("/sim/contract adds a symbol that search and /trsrv/stocks find")
def test_add_contract():
    C.ok("POST", "/sim/contract", {"symbol": "XYZ", "conid": 4242,
                                   "name": "XYZ CORP", "exchange": "NYSE"})
    rows = C.ok("GET", "/v1/api/iserver/secdef/search?symbol=XYZ")
    equal(rows[0]["conid"], "4242", "search")
    body = C.ok("GET", "/v1/api/trsrv/stocks?symbols=XYZ,AAPL")
    equal(body["XYZ"][0]["contracts"][0]["conid"], 4242, "trsrv XYZ")
    equal(body["AAPL"][0]["contracts"][0]["conid"], AAPL, "trsrv AAPL")


# ----- orders and fills ---------------------------------------------------

@case("market order fills at the control price: shape (a), Filled")
def test_market_order():
    coid = new_coid("mkt")
    status, body = place(order_body(qty=10, coid=coid))
    equal(status, 200, "status")
    equal(len(body), 1, "one element")
    check(re.match(r"^\d+$", body[0]["order_id"]), "order_id digit string")
    equal((body[0]["local_order_id"], body[0]["order_status"],
           body[0]["encrypt_message"]), (coid, "Filled", "1"), "answer")
    STATE["mkt"] = (int(body[0]["order_id"]), coid)
    STATE["captured"]["reply_success"] = body


@case("trades row of the fill: strings, numbers, B side, order_ref")
def test_trades_row():
    order_id, coid = STATE["mkt"]
    rows = [r for r in C.ok("GET", "/v1/api/iserver/account/trades")
            if r["order_ref"] == coid]
    equal(len(rows), 1, "rows for the order")
    row = rows[0]
    STATE["captured"]["trades"] = rows
    equal((row["side"], row["price"], row["size"], row["conid"],
           row["conidEx"], row["account"]),
          ("B", "457.12", 10.0, SPY, "756733", ACCOUNT), "fields")
    # 10 x 457.12 = 4571.20; commission max(1.00, 10 x 0.005) = 1.00.
    equal((row["net_amount"], row["commission"]), (4571.2, "1.0"),
          "amounts")
    check(EXEC_RE.match(row["execution_id"]), "execution id " +
          row["execution_id"])
    stamp = time.strftime("%Y%m%d-%H:%M:%S",
                          time.gmtime(row["trade_time_r"] // 1000))
    equal(row["trade_time"], stamp, "trade_time matches trade_time_r")
    check(abs(row["trade_time_r"] / 1000 - time.time()) < 60,
          "trade time is now")


@case("live orders row: Filled, avgPrice string, CLOSE for DAY, Market")
def test_live_row_filled():
    order_id, coid = STATE["mkt"]
    row = live_row(order_id)
    STATE["captured"]["live_filled"] = row
    equal((row["status"], row["avgPrice"], row["timeInForce"], row["side"],
           row["orderType"], row["origOrderType"], row["order_ref"]),
          ("Filled", "457.12", "CLOSE", "BUY", "Market", "MARKET", coid),
          "fields")
    equal((row["filledQuantity"], row["totalSize"],
           row["remainingQuantity"]), (10.0, 10.0, 0.0), "quantities")


@case("order status: snake_case, side B, quantities as strings")
def test_order_status_filled():
    order_id, _ = STATE["mkt"]
    body = C.ok("GET", "/v1/api/iserver/account/order/status/%d" %
                order_id)
    equal((body["order_id"], body["side"], body["order_status"],
           body["cum_fill"], body["total_size"], body["size"],
           body["order_type"], body["average_price"]),
          (order_id, "B", "Filled", "10.0", "10.0", "0.0", "MARKET",
           "457.12"), "fields")
    check(body["order_ccp_status"].isdigit(), "order_ccp_status digits")


@case("duplicate cOID: HTTP 200 'Local order ID=... is already registered.'")
def test_duplicate():
    _, coid = STATE["mkt"]
    status, body = place(order_body(qty=10, coid=coid))
    equal((status, body), (200, {"error": "Order couldn't be submitted: "
                                 "Local order ID=%s is already "
                                 "registered." % coid}), "answer")


@case("buy limit works above its limit, fills when the price reaches it")
def test_limit_buy():
    set_price(SPY, "457.12")
    status, body = place(order_body(otype="LMT", price=450, qty=5))
    equal(body[0]["order_status"], "Submitted", "initial status")
    order_id = int(body[0]["order_id"])
    row = live_row(order_id)
    STATE["captured"]["live_working"] = row
    STATE["captured"]["status_working"] = C.ok(
        "GET", "/v1/api/iserver/account/order/status/%d" % order_id)
    equal((row["price"], row["orderType"], row["origOrderType"]),
          ("450.00", "Limit", "LIMIT"), "limit fields")
    check("avgPrice" not in row, "avgPrice before any fill")
    set_price(SPY, "450.01")
    equal(book_order(order_id)["status"], "Submitted", "450.01 > limit")
    set_price(SPY, "450")
    row = book_order(order_id)
    # A buy limit fills at or below its limit: 450.00 is the boundary.
    equal((row["status"], row["avg_price"]), ("Filled", "450.00"), "fill")


@case("sell limit fills when the price reaches the limit exactly")
def test_limit_sell():
    coid = new_coid("sell")
    status, body = place(order_body(side="SELL", otype="LMT", price=460.25,
                                qty=2, coid=coid))
    order_id = int(body[0]["order_id"])
    equal(book_order(order_id)["status"], "Submitted", "before")
    set_price(SPY, "460.25")
    equal((book_order(order_id)["status"], book_order(order_id)
           ["avg_price"]), ("Filled", "460.25"), "after")
    trade = [t for t in C.ok("GET", "/v1/api/iserver/account/trades")
             if t["order_ref"] == coid][0]
    # Contract 6.9: side "S" and a positive net_amount, 2 x 460.25.
    equal((trade["side"], trade["net_amount"], trade["order_description"]),
          ("S", 920.5, "Sold 2 @ 460.25 on ARCA"), "sell trade row")
    status_row = C.ok("GET", "/v1/api/iserver/account/order/status/%d" %
                      order_id)
    equal(live_row(order_id)["side"], "SELL", "live side")
    equal(status_row["side"], "S", "status side")


@case("malformed tickets are refused with the documented statuses")
def test_validation():
    bad_number = order_body()
    bad_number["conid"] = "756733"
    no_coid = order_body()
    del no_coid["cOID"]
    cases = [  # (ticket, account, status, error text or None)
        (order_body(side="HOLD"), ACCOUNT, 500, None),
        (order_body(qty=0), ACCOUNT, 500, None),
        (order_body(qty=-5), ACCOUNT, 500, None),
        (order_body(otype="MIDPRICE"), ACCOUNT, 500, None),
        (order_body(tif="OPG"), ACCOUNT, 500, None),
        (no_coid, ACCOUNT, 500, None),
        (bad_number, ACCOUNT, 500, None),
        (order_body(otype="LMT"), ACCOUNT, 200, "invalid order price fields"),
        (order_body(otype="STOP_LIMIT", price=450), ACCOUNT, 200,
         "invalid order price fields"),
        (order_body(), "DU0000000", 400, None),
    ]
    for order, account, want_status, want_text in cases:
        status, body = place(order, account)
        equal(status, want_status, "status for %r" % order)
        check("error" in body, "no error for %r" % order)
        if want_text:
            equal(body["error"], want_text, "error text")


@case("a bare array body is accepted as well as {\"orders\": [...]}")
def test_bare_array():
    status, body = C.api("POST", "/iserver/account/%s/orders" % ACCOUNT,
                         [order_body(qty=1)])
    equal((status, body[0]["order_status"]), (200, "Filled"), "answer")


@case("absurd quantities: HTTP 200 error before anything is booked")
def test_size_limit():
    set_price(SPY, "457.12")
    # 1.23e29 shares once made the fill engine's commission overflow
    # Decimal's 28 digits after the order was booked; 1.23e29 written out
    # is 123 followed by 27 zeros.  json.dumps sends inf as Infinity.
    cases = [  # (quantity, error text)
        (1.23e29, "order quantity 123" + "0" * 27 +
         " exceeds the size limit of 1000000000"),
        (1000000001, "order quantity 1000000001 exceeds the size limit "
         "of 1000000000"),
        (float("inf"), "order quantity Infinity is not a finite number"),
    ]
    for qty, text in cases:
        coid = new_coid("size")
        status, body = place(order_body(qty=qty, coid=coid))
        equal((status, body), (200, {"error": text}), "answer for %r" % qty)
        rows = [r for r in C.ok("GET", "/sim/book")["orders"]
                if r["cOID"] == coid]
        equal(rows, [], "book rows for %r" % qty)
        entry = [e for e in C.ok("GET", "/sim/log")["entries"]
                 if e["cOID"] == coid][-1]
        equal((entry["http_status"], entry["outcome"], entry["order_id"]),
              (200, "error", None), "log entry for %r" % qty)
    # The limit itself is allowed: 10^9 shares fill at the control price.
    status, body = place(order_body(qty=1000000000))
    equal((status, body[0]["order_status"]), (200, "Filled"),
          "10^9 shares")


@case("an unexpected exception answers 500 and leaves nothing booked")
def test_internal_error():
    # In-process, so that a defect can be injected: the fill engine books
    # an execution, then raises, as the commission overflow once did.
    sys.path.insert(0, HERE)
    import cpapi_sim
    sim = cpapi_sim.Simulator([ACCOUNT], SCALE)
    try:
        sim.handle("GET", "/v1/api/iserver/accounts", {}, None)
        sim.handle("POST", "/sim/price", {},
                   json.dumps({"conid": SPY, "price": "457.12"}).encode())
        execute = sim.engine.execute

        def broken(order, from_event=False):
            execute(order, order.remaining, sim.book.market_price(SPY))
            raise RuntimeError("fill engine broke")
        sim.engine.work = broken
        coid = new_coid("boom")
        body = json.dumps({"orders": [order_body(coid=coid)]}).encode()
        path = "/v1/api/iserver/account/%s/orders" % ACCOUNT
        with contextlib.redirect_stderr(io.StringIO()) as err:
            status, answer = sim.handle("POST", path, {}, body)
        equal((status, answer), (500, {
            "error": "internal simulator error: RuntimeError: fill engine "
            "broke", "statusCode": 500}), "answer")
        check("Traceback" in err.getvalue(), "traceback on stderr")
        equal((sim.book.orders, sim.book.executions,
               sim.book.coid_taken(coid, 86400)), ({}, [], False),
              "orders, executions, cOID registered")
        entry = sim.book.log[-1]
        equal((entry["http_status"], entry["outcome"], entry["order_id"]),
              (500, "error", None), "log entry")
        del sim.engine.work  # the class's own method again
        status, answer = sim.handle("POST", path, {}, body)
        equal((status, answer[0]["order_status"]), (200, "Filled"),
              "the same cOID is free for a new attempt")
    finally:
        sim.scheduler.stop()


# ----- prompts ------------------------------------------------------------

@case("chained prompts: two replies, new UUIDs, then shape (a)")
def test_prompt_chain():
    config(prompts={"every": 1, "message_ids": ["o354", "o163"],
                    "chain": 2})
    coid = new_coid("prompt")
    status, first = place(order_body(coid=coid))
    equal(status, 200, "status")
    STATE["captured"]["prompt"] = first
    equal((first[0]["messageIds"], first[0]["isSuppressed"]),
          (["o354"], False), "first prompt")
    check(UUID_RE.match(first[0]["id"]), "reply id is a UUID")
    check(isinstance(first[0]["message"][0], str), "message text")
    second = C.ok("POST", "/v1/api/iserver/reply/" + first[0]["id"],
                  {"confirmed": True})
    equal(second[0]["messageIds"], ["o163"], "second prompt")
    check(second[0]["id"] != first[0]["id"], "fresh reply id")
    done = C.ok("POST", "/v1/api/iserver/reply/" + second[0]["id"],
                {"confirmed": True})
    equal((done[0]["local_order_id"], done[0]["order_status"]),
          (coid, "Filled"), "accepted")
    STATE["answered"] = second[0]["id"]


@case("reply to an unknown or answered id: 400 reply id not found")
def test_reply_unknown():
    for reply_id in ("no-such-id", STATE["answered"]):
        status, body = C.api("POST", "/iserver/reply/" + reply_id,
                             {"confirmed": True})
        equal((status, body), (400, {"error": "reply id not found: '%s'"
                                     % reply_id}), reply_id)


@case("confirmed false: 400 order not confirmed, nothing placed")
def test_reply_refused():
    coid = new_coid("refuse")
    _, prompt = place(order_body(coid=coid))
    status, body = C.api("POST", "/iserver/reply/" + prompt[0]["id"],
                         {"confirmed": False})
    equal((status, body), (400, {"error": "order not confirmed",
                                 "statusCode": 400}), "answer")
    coids = [r["cOID"] for r in C.ok("GET", "/sim/book")["orders"]]
    check(coid not in coids, "refused order reached the book")


@case("another order between prompt and reply: the late reply gets 503")
def test_reply_stale():
    _, first = place(order_body())
    _, second = place(order_body())
    status, body = C.api("POST", "/iserver/reply/" + first[0]["id"],
                         {"confirmed": True})
    equal(status, 503, "stale reply status (%r)" % body)
    check("error" in body, "error envelope")
    # The newer prompt is still answerable.
    answer = C.ok("POST", "/v1/api/iserver/reply/" + second[0]["id"],
                  {"confirmed": True})
    equal(answer[0]["messageIds"], ["o163"], "second prompt of the chain")
    C.ok("POST", "/v1/api/iserver/reply/" + answer[0]["id"],
         {"confirmed": True})


@case("prompt_strict: a tickle between prompt and reply invalidates it")
def test_prompt_strict():
    config(prompt_strict=True)
    _, prompt = place(order_body())
    C.ok("GET", "/v1/api/tickle")
    status, _ = C.api("POST", "/iserver/reply/" + prompt[0]["id"],
                      {"confirmed": True})
    config(prompt_strict=False)
    equal(status, 503, "status")


@case("suppressed message ids skip their prompts; reset restores them")
def test_suppress():
    body = C.ok("POST", "/v1/api/iserver/questions/suppress",
                {"messageIds": ["o354", "o163"]})
    equal(body, {"status": "submitted"}, "suppress answer")
    _, answer = place(order_body())
    check("order_id" in answer[0], "order placed without prompt")
    C.ok("POST", "/v1/api/iserver/questions/suppress/reset")
    _, answer = place(order_body())
    check("id" in answer[0], "prompt is back after reset")
    equal(answer[0]["messageIds"], ["o354"], "first of the chain")
    C.ok("POST", "/v1/api/iserver/questions/suppress",
         {"messageIds": ["o163"]})
    answer = C.ok("POST", "/v1/api/iserver/reply/" + answer[0]["id"],
                  {"confirmed": True})
    check("order_id" in answer[0], "o163 skipped once suppressed")
    config(prompts={"every": 0, "chain": 1, "message_ids": ["o354"],
                    "conids": [TSLA]})
    set_price(TSLA, "250")
    _, answer = place(order_body())
    check("order_id" in answer[0], "other conids get no prompt")
    _, answer = place(order_body(conid=TSLA))
    equal(answer[0].get("messageIds"), ["o354"], "per-conid prompt")
    config(prompts={"conids": []})
    C.ok("POST", "/v1/api/iserver/reply/" + answer[0]["id"],
         {"confirmed": True})


# ----- scripted outcomes --------------------------------------------------

@case("reject_next answers HTTP 200 {'error': text} once")
def test_reject_next():
    config(reject_next={"text": "No trading permissions."})
    status, body = place(order_body())
    equal((status, body), (200, {"error": "No trading permissions."}),
          "rejected")
    status, body = place(order_body())
    equal(body[0]["order_status"], "Filled", "next order")


@case("inactive_next: the order is accepted as Inactive")
def test_inactive_next():
    config(inactive_next=True)
    _, body = place(order_body())
    equal(body[0]["order_status"], "Inactive", "answer")
    equal(live_row(int(body[0]["order_id"]))["status"], "Inactive",
          "live orders")


@case("delayed fills: Submitted first, Filled after fill_delay_s")
def test_delayed():
    config(fill_mode="delayed", fill_delay_s=30)   # 0.3 s scaled
    _, body = place(order_body())
    order_id = int(body[0]["order_id"])
    equal(body[0]["order_status"], "Submitted", "answer")
    wait_for(lambda: book_order(order_id)["status"] == "Filled", "fill")


@case("partial fills: sizes 40+60 at 100.00 and 101.00, avg 100.60")
def test_partial():
    config(fill_mode="partial", partial_sizes=[40, 60],
           partial_prices=["100.00", "101.00"], fill_delay_s=100)
    coid = new_coid("part")
    _, body = place(order_body(conid=IBM, qty=100, coid=coid, tif="GTC"))
    order_id = int(body[0]["order_id"])
    STATE["partial"] = order_id
    equal(body[0]["order_status"], "Submitted", "no price yet")
    set_price(IBM, "100.50")
    row = live_row(order_id)
    equal((row["status"], row["filledQuantity"], row["remainingQuantity"],
           row["avgPrice"], row["sizeAndFills"]),
          ("Submitted", 40.0, 60.0, "100.00", "40/100"), "after 40")
    STATE["captured"]["live_partial"] = row
    wait_for(lambda: book_order(order_id)["status"] == "Filled", "fill")
    row = book_order(order_id)
    # (40 x 100.00 + 60 x 101.00) / 100 = 10060 / 100 = 100.60
    equal(row["avg_price"], "100.60", "average")
    trades = [t for t in C.ok("GET", "/v1/api/iserver/account/trades")
              if t["order_ref"] == coid]
    equal(sorted((t["size"], t["price"]) for t in trades),
          [(40.0, "100.00"), (60.0, "101.00")], "two executions")
    check(len({t["execution_id"] for t in trades}) == 2,
          "distinct execution ids")
    config(fill_mode="immediate", partial_sizes=[], partial_prices=[])


@case("cancel: 'Request was submitted', PendingCancel, then Cancelled")
def test_cancel():
    config(fill_mode="never", cancel_delay_s=100)   # 1 s scaled
    _, body = place(order_body())
    order_id = int(body[0]["order_id"])
    answer = C.ok("DELETE", "/v1/api/iserver/account/%s/order/%d" %
                  (ACCOUNT, order_id))
    equal(answer, {"msg": "Request was submitted", "order_id": order_id,
                   "conid": SPY, "account": ACCOUNT}, "answer")
    equal(book_order(order_id)["status"], "PendingCancel", "pending")
    wait_for(lambda: book_order(order_id)["status"] == "Cancelled",
             "cancel")


@case("a fill lands during PendingCancel when configured")
def test_fill_during_cancel():
    config(fill_during_cancel=3)
    _, body = place(order_body(qty=10))
    order_id = int(body[0]["order_id"])
    C.ok("DELETE", "/v1/api/iserver/account/%s/order/%d" %
         (ACCOUNT, order_id))
    row = wait_for(lambda: (lambda r: r if r["status"] == "Cancelled"
                            else None)(book_order(order_id)), "cancel")
    equal((row["filled"], len(row["executions"])), (3.0, 1), "fill")
    config(fill_during_cancel=None)


@case("a fill during PendingCancel keeps a limit order's limit")
def test_fill_during_cancel_limit():
    set_price(SPY, "452")
    config(fill_during_cancel="all")
    _, body = place(order_body(qty=4, otype="LMT", price=450))
    order_id = int(body[0]["order_id"])
    equal(book_order(order_id)["status"], "Submitted", "452 above the limit")
    C.ok("DELETE", "/v1/api/iserver/account/%s/order/%d" %
         (ACCOUNT, order_id))
    row = wait_for(lambda: (lambda r: r if r["status"] in
                            ("Cancelled", "Filled") else None)(
        book_order(order_id)), "cancel")
    # a buy limit of 450 fills at 450 or better, not at the market's 452
    equal((row["filled"], row["avg_price"]), (4.0, "450.00"), "fill")
    config(fill_during_cancel=None)


@case("instant cancel answers conid -1, account null; unknown id errors")
def test_cancel_instant():
    config(cancel_delay_s=0)
    _, body = place(order_body())
    order_id = int(body[0]["order_id"])
    answer = C.ok("DELETE", "/v1/api/iserver/account/%s/order/%d" %
                  (ACCOUNT, order_id))
    equal((answer["conid"], answer["account"]), (-1, None), "instant")
    equal(book_order(order_id)["status"], "Cancelled", "status")
    answer = C.ok("DELETE", "/v1/api/iserver/account/%s/order/1" % ACCOUNT)
    equal(answer, {"error": "OrderID 1 doesn't exist"}, "unknown")
    config(fill_mode="immediate", cancel_delay_s=0.5)


@case("IOC limit that cannot fill is cancelled at once")
def test_ioc():
    _, body = place(order_body(otype="LMT", price=1, tif="IOC"))
    equal(body[0]["order_status"], "Cancelled", "IOC")


@case("stop order waits PreSubmitted, fills once the stop is crossed")
def test_stop():
    set_price(AAPL, "190")
    _, body = place(order_body(conid=AAPL, side="SELL", otype="STP",
                           price=185, qty=5))
    order_id = int(body[0]["order_id"])
    equal(body[0]["order_status"], "PreSubmitted", "waiting")
    set_price(AAPL, "184.90")
    equal((book_order(order_id)["status"], book_order(order_id)
           ["avg_price"]), ("Filled", "184.90"), "elected")


@case("modify a working limit so it fills: answer shape (a)")
def test_modify():
    set_price(SPY, "455")
    order = order_body(otype="LMT", price=450, tif="GTC")
    _, body = place(order)
    order_id = int(body[0]["order_id"])
    order["price"] = 456
    answer = C.ok("POST", "/v1/api/iserver/account/%s/order/%d" %
                  (ACCOUNT, order_id), order)
    equal((answer[0]["order_id"], answer[0]["order_status"]),
          (str(order_id), "Filled"), "answer")
    equal(book_order(order_id)["avg_price"], "455.00", "fill price")


def bracket(conid, side, qty, entry, take_profit, stop_loss):
    """Build a bracket: parent limit (or market), TP limit, SL stop."""
    exit_side = "SELL" if side == "BUY" else "BUY"
    parent = order_body(conid=conid, side=side, qty=qty,
                    otype="MKT" if entry is None else "LMT", price=entry,
                    tif="GTC")
    tp = order_body(conid=conid, side=exit_side, qty=qty, otype="LMT",
                price=take_profit, tif="GTC")
    sl = order_body(conid=conid, side=exit_side, qty=qty, otype="STP",
                price=stop_loss, tif="GTC")
    tp["parentId"] = sl["parentId"] = parent["cOID"]
    return [parent, tp, sl]


@case("bracket: one POST, one answer per ticket, children held, OCA")
def test_bracket():
    set_price(MSFT, "300")
    tickets = bracket(MSFT, "BUY", 10, 299, 310, 290)
    _, body = C.api("POST", "/iserver/account/%s/orders" % ACCOUNT,
                    {"orders": tickets})
    equal([(a["local_order_id"], a["order_status"]) for a in body],
          [(tickets[0]["cOID"], "Submitted"),
           (tickets[1]["cOID"], "PreSubmitted"),
           (tickets[2]["cOID"], "PreSubmitted")], "answers")
    ids = [int(a["order_id"]) for a in body]
    equal([(book_order(i)["held"], book_order(i)["parent_order_id"])
           for i in ids], [(False, None), (True, ids[0]), (True, ids[0])],
          "children held under the parent")
    # 311 would fill the take-profit (sell limit 310) were it not held
    set_price(MSFT, "311")
    equal([book_order(i)["status"] for i in ids],
          ["Submitted", "PreSubmitted", "PreSubmitted"], "held at 311")
    # 298.50: the parent (buy limit 299) fills; the children start
    # working: the take-profit Submitted, the stop-loss waits for 290
    set_price(MSFT, "298.50")
    equal([(book_order(i)["status"], book_order(i)["held"]) for i in ids],
          [("Filled", False), ("Submitted", False),
           ("PreSubmitted", False)], "parent filled, children released")
    set_price(MSFT, "310.50")
    equal([(book_order(i)["status"], book_order(i)["avg_price"])
           for i in ids], [("Filled", "298.50"), ("Filled", "310.50"),
                           ("Cancelled", None)],
          "take-profit filled at 310.50, stop-loss cancelled (OCA)")
    trades = C.ok("GET", "/v1/api/iserver/account/trades?accountId=" +
                  ACCOUNT)
    equal(sorted(t["order_ref"] for t in trades
                 if t["order_ref"] in (tickets[1]["cOID"],
                                       tickets[2]["cOID"])),
          [tickets[1]["cOID"]], "the child's execution carries its cOID")


@case("bracket: parent ends unfilled -> children cancelled; partly "
      "filled -> children work and can be modified")
def test_bracket_parent_ends():
    config(cancel_delay_s=0)
    set_price(IBM, "105")
    tickets = bracket(IBM, "BUY", 10, 100, 110, 95)
    _, body = C.api("POST", "/iserver/account/%s/orders" % ACCOUNT,
                    {"orders": tickets})
    ids = [int(a["order_id"]) for a in body]
    C.ok("DELETE", "/v1/api/iserver/account/%s/order/%d" % (ACCOUNT, ids[0]))
    equal([book_order(i)["status"] for i in ids], ["Cancelled"] * 3,
          "unfilled parent cancelled with its children")
    config(fill_mode="partial", partial_sizes=[4])
    tickets = bracket(IBM, "BUY", 10, 100, 110, 95)
    _, body = C.api("POST", "/iserver/account/%s/orders" % ACCOUNT,
                    {"orders": tickets})
    ids = [int(a["order_id"]) for a in body]
    set_price(IBM, "99.90")
    equal(book_order(ids[0])["filled"], 4.0, "parent filled 4 of 10")
    equal(book_order(ids[1])["held"], True, "children held while partial")
    C.ok("DELETE", "/v1/api/iserver/account/%s/order/%d" % (ACCOUNT, ids[0]))
    equal([(book_order(i)["status"], book_order(i)["held"]) for i in ids],
          [("Cancelled", False), ("Submitted", False),
           ("PreSubmitted", False)], "partly filled parent releases them")
    for i, child in zip(ids[1:], tickets[1:]):
        child = dict(child, quantity=4)
        del child["cOID"], child["parentId"]
        answer = C.ok("POST", "/v1/api/iserver/account/%s/order/%d" %
                      (ACCOUNT, i), child)
        equal(answer[0]["order_id"], str(i), "modify answer")
    equal([book_order(i)["quantity"] for i in ids[1:]], [4.0, 4.0],
          "children resized to the 4 filled")
    config(fill_mode="immediate", partial_sizes=[], cancel_delay_s=0.5)


@case("bracket: a market entry fills at once and its answer shows the "
      "children released; an Inactive entry cancels them")
def test_bracket_market():
    set_price(TSLA, "200")
    tickets = bracket(TSLA, "BUY", 3, None, 210, 190)
    _, body = C.api("POST", "/iserver/account/%s/orders" % ACCOUNT,
                    {"orders": tickets})
    equal([a["order_status"] for a in body],
          ["Filled", "Submitted", "PreSubmitted"], "answers")
    config(inactive_next=True)
    tickets = bracket(TSLA, "BUY", 3, 199, 210, 190)
    _, body = C.api("POST", "/iserver/account/%s/orders" % ACCOUNT,
                    {"orders": tickets})
    equal([a["order_status"] for a in body],
          ["Inactive", "Cancelled", "Cancelled"], "inactive entry")
    for a in body[1:]:
        equal(book_order(int(a["order_id"]))["filled"], 0.0, "no fill")
    # the first bracket's children still work: 189 elects the stop-loss,
    # whose fill cancels the take-profit
    set_price(TSLA, "189")


@case("bracket shape: children need parentId = the parent's cOID")
def test_bracket_shape():
    tickets = bracket(SPY, "BUY", 1, 100, 110, 90)
    del tickets[2]["parentId"]
    status, _ = C.api("POST", "/iserver/account/%s/orders" % ACCOUNT,
                      {"orders": tickets})
    equal(status, 500, "child without parentId")
    tickets = bracket(SPY, "BUY", 1, 100, 110, 90)
    tickets[1]["side"] = "BUY"
    status, body = C.api("POST", "/iserver/account/%s/orders" % ACCOUNT,
                         {"orders": tickets})
    equal((status, "error" in body), (200, True), "child on the same side")


@case("modify: prompts as placements do; reject_next refuses it")
def test_modify_prompt():
    config(fill_mode="never")
    order = order_body(otype="LMT", price=400, tif="GTC")
    _, body = place(order)
    order_id = int(body[0]["order_id"])
    order["quantity"] = 12
    config(prompts={"every": 1, "message_ids": ["o10138"], "chain": 1})
    path = "/v1/api/iserver/account/%s/order/%d" % (ACCOUNT, order_id)
    prompt = C.ok("POST", path, order)
    equal(prompt[0]["messageIds"], ["o10138"], "prompt")
    equal(book_order(order_id)["quantity"], 10.0, "not applied yet")
    answer = C.ok("POST", "/v1/api/iserver/reply/" + prompt[0]["id"],
                  {"confirmed": True})
    equal((answer[0]["order_id"], book_order(order_id)["quantity"]),
          (str(order_id), 12.0), "applied once confirmed")
    config(prompts={"every": 0}, reject_next="modify refused")
    order["quantity"] = 20
    equal(C.ok("POST", path, order), {"error": "modify refused"}, "reject")
    equal(book_order(order_id)["quantity"], 12.0, "unchanged")
    C.ok("POST", "/sim/order", {"order_id": order_id, "status": "Cancelled"})
    config(fill_mode="immediate")


@case("answer_lost_next carries the request out but answers 504; "
      "drop_next does not carry it out")
def test_answer_lost():
    config(answer_lost_next=True)
    order = order_body()
    status, _ = place(order)
    equal(status, 504, "answer")
    rows = [r for r in C.ok("GET", "/sim/book")["orders"]
            if r["cOID"] == order["cOID"]]
    equal([r["status"] for r in rows], ["Filled"], "carried out")
    entry = [e for e in C.ok("GET", "/sim/log")["entries"]
             if e["cOID"] == order["cOID"]][0]
    equal((entry["outcome"], entry.get("answer_lost")), ("accepted", True),
          "logged")
    status, _ = place(order_body())
    equal(status, 200, "only the next request")
    config(drop_next=True)
    order = order_body()
    status, _ = place(order)
    equal(status, 504, "dropped")
    equal([r for r in C.ok("GET", "/sim/book")["orders"]
           if r["cOID"] == order["cOID"]], [], "not carried out")
    entry = [e for e in C.ok("GET", "/sim/log")["entries"]
             if e["cOID"] == order["cOID"]][0]
    equal((entry["http_status"], entry.get("dropped")), (504, True),
          "logged as dropped")


@case("force=true answers empty; the next call has the orders")
def test_force():
    equal(C.ok("GET", "/v1/api/iserver/account/orders?force=true&"
               "accountId=" + ACCOUNT), {"orders": [], "snapshot": True},
          "forced")
    rows = C.ok("GET", "/v1/api/iserver/account/orders?accountId=" +
                ACCOUNT)["orders"]
    check(rows, "no orders after force")
    rows = C.ok("GET", "/v1/api/iserver/account/orders?filters=cancelled"
                "&accountId=" + ACCOUNT)["orders"]
    check(rows and all(r["status"] == "Cancelled" for r in rows),
          "filters=cancelled")


@case("accountId filters live orders and trades")
def test_account_filter():
    coid = new_coid("other")
    _, body = place(order_body(coid=coid), OTHER)
    order_id = int(body[0]["order_id"])
    mine = C.ok("GET", "/v1/api/iserver/account/orders?accountId=" +
                ACCOUNT)["orders"]
    check(order_id not in [r["orderId"] for r in mine], "leaked to mine")
    theirs = C.ok("GET", "/v1/api/iserver/account/orders?accountId=" +
                  OTHER)["orders"]
    equal([r["orderId"] for r in theirs], [order_id], "other account")
    trades = C.ok("GET", "/v1/api/iserver/account/trades?days=3&"
                  "accountId=" + OTHER)
    equal([t["order_ref"] for t in trades], [coid], "trades")


@case("order status of an unknown order answers 503")
def test_status_unknown():
    status, body = C.api("GET", "/iserver/account/order/status/1")
    equal(status, 503, "status")


@case("/sim/order sets any status on demand; /sim/close ends DAY orders")
def test_sim_order():
    config(fill_mode="never")
    _, day = place(order_body(tif="DAY"))
    _, gtc = place(order_body(tif="GTC"))
    day_id, gtc_id = int(day[0]["order_id"]), int(gtc[0]["order_id"])
    row = C.ok("POST", "/sim/order", {"order_id": gtc_id,
                                      "status": "WarnState"})
    equal(row["status"], "WarnState", "status set")
    row = C.ok("POST", "/sim/order", {"order_id": gtc_id,
                                      "fill": {"size": 4, "price": "455"}})
    equal((row["filled"], row["avg_price"]), (4.0, "455.00"), "fill")
    closed = C.ok("POST", "/sim/close")["cancelled"]
    check(day_id in closed and gtc_id not in closed, "closed %r" % closed)
    equal(book_order(day_id)["status"], "Cancelled", "DAY order")
    C.ok("POST", "/sim/order", {"order_id": gtc_id, "status": "Cancelled"})
    config(fill_mode="immediate")


@case("/sim/book lists orders with cOID, avg_price string, executions")
def test_book():
    order_id, coid = STATE["mkt"]
    row = book_order(order_id)
    equal((row["cOID"], row["account"], row["conid"], row["side"],
           row["quantity"], row["order_type"], row["status"],
           row["filled"], row["avg_price"]),
          (coid, ACCOUNT, SPY, "BUY", 10.0, "MKT", "Filled", 10.0,
           "457.12"), "row")
    exe = row["executions"][0]
    equal((exe["size"], exe["price"]), (10.0, "457.12"), "execution")
    check(EXEC_RE.match(exe["execution_id"]), "execution id")


@case("/sim/log holds every order POST in order, rejected ones too")
def test_log():
    entries = C.ok("GET", "/sim/log")["entries"]
    equal(len(entries), C.order_posts, "entries")
    equal([e["seq"] for e in entries], list(range(1, len(entries) + 1)),
          "sequence")
    first = entries[0]
    equal((first["http_status"], first["error"]),
          (400, "Please query /accounts first"), "gated POST logged")
    _, coid = STATE["mkt"]
    mine = [e for e in entries if e["cOID"] == coid]
    equal([e["outcome"] for e in mine], ["accepted", "error"],
          "order then duplicate")
    check(mine[0]["body"]["orders"][0]["cOID"] == coid, "body kept")
    check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$",
                   mine[0]["received_at"]), "received_at")


# ----- faults for crash tests ---------------------------------------------

def held_now():
    """Return the requests /sim/held lists right now."""
    return C.ok("GET", "/sim/held")["held"]


@case("hold after: booked at once, answer after ms, listed meanwhile")
def test_hold_after():
    import threading
    config(fill_mode="immediate", prompts={"every": 0})
    coid = new_coid("hold-after")
    config(hold={"route": "place_order", "phase": "after", "ms": 600})
    answer = {}

    def post():
        started = time.monotonic()
        answer["reply"] = place(order_body(coid=coid))
        answer["took"] = time.monotonic() - started
    thread = threading.Thread(target=post)
    thread.start()
    held = wait_for(lambda: [h for h in held_now() if h["cOID"] == coid],
                    "the held answer")
    equal((held[0]["route"], held[0]["phase"], held[0]["status"]),
          ("place_order", "after", 200), "held entry")
    booked = [o for o in C.ok("GET", "/sim/book")["orders"]
              if o["cOID"] == coid]
    equal([o["status"] for o in booked], ["Filled"], "booked while held")
    thread.join(10)
    equal(answer["reply"][1][0]["local_order_id"], coid, "answer")
    check(answer["took"] >= 0.6, "answered after %.3f s" % answer["took"])
    equal(held_now(), [], "nothing held afterwards")
    equal(C.ok("GET", "/sim/config")["hold"], None, "count used up")


@case("hold before: nothing booked until ms, even if the client leaves")
def test_hold_before():
    coid = new_coid("hold-before")
    config(hold={"route": "place_order", "phase": "before", "ms": 500})
    host, port = C.base.split("//")[1].split(":")
    conn = http.client.HTTPSConnection(
        host, int(port), timeout=0.2,
        context=ssl.create_default_context(cafile=CERT))
    gave_up = False
    try:
        conn.request("POST", "/v1/api/iserver/account/%s/orders" % ACCOUNT,
                     json.dumps({"orders": [order_body(coid=coid)]}),
                     {"Content-Type": "application/json"})
        conn.getresponse()
    except (TimeoutError, OSError):
        gave_up = True
    finally:
        conn.close()
    check(gave_up, "the client should have timed out")
    held = [h for h in held_now() if h["cOID"] == coid]
    equal([(h["phase"], h["status"]) for h in held], [("before", None)],
          "held entry")
    check(coid not in [o["cOID"] for o in
                       C.ok("GET", "/sim/book")["orders"]],
          "booked before the hold ended")
    logged = [e for e in C.ok("GET", "/sim/log")["entries"]
              if e["cOID"] == coid]
    equal([e["outcome"] for e in logged], [None], "logged on arrival")
    wait_for(lambda: coid in [o["cOID"] for o in
                              C.ok("GET", "/sim/book")["orders"]],
             "the held order to be booked")
    logged = [e for e in C.ok("GET", "/sim/log")["entries"]
              if e["cOID"] == coid]
    equal([e["outcome"] for e in logged], ["accepted"], "log outcome")


@case("hold on reply and bad hold knobs")
def test_hold_reply():
    config(prompts={"every": 1, "message_ids": ["o354"], "chain": 1})
    coid = new_coid("hold-reply")
    _, prompt = place(order_body(coid=coid))
    config(hold={"route": "reply", "phase": "before", "ms": 300,
                 "count": 1}, prompts={"every": 0})
    started = time.monotonic()
    done = C.ok("POST", "/v1/api/iserver/reply/" + prompt[0]["id"],
                {"confirmed": True})
    check(time.monotonic() - started >= 0.3, "reply was not held")
    equal(done[0]["local_order_id"], coid, "placed after the reply")
    for bad in ({"route": "nope", "ms": 1}, {"route": "reply", "ms": 0},
                {"route": "reply", "ms": 1, "phase": "later"},
                {"route": "reply", "ms": 1, "count": 0},
                {"route": "reply", "ms": 1, "extra": 1}, "x"):
        status, _ = C.call("POST", "/sim/config", {"hold": bad})
        equal(status, 400, "hold %r" % (bad,))


@case("trades_delay_s: executions appear in trades only after the delay")
def test_trades_delay():
    config(trades_delay_s=40)          # 0.4 s scaled
    coid = new_coid("late")
    place(order_body(coid=coid))
    booked = [o for o in C.ok("GET", "/sim/book")["orders"]
              if o["cOID"] == coid]
    equal(len(booked[0]["executions"]), 1, "executed at the broker")

    def listed():
        status, rows = C.api("GET", "/iserver/account/trades")
        return status == 200 and coid in [r["order_ref"] for r in rows]
    check(not listed(), "listed before the delay")
    wait_for(listed, "the execution in trades", timeout=5)
    config(trades_delay_s=0)


# ----- market data --------------------------------------------------------

@case("snapshot: the first call is a pre-flight, the next has strings")
def test_snapshot():
    set_price(MSFT, "410.5")
    path = "/v1/api/iserver/marketdata/snapshot?conids=%d&fields=31,84,86" \
        % MSFT
    equal(C.ok("GET", path), [{"conid": MSFT, "conidEx": "272093"}],
          "pre-flight")
    row = C.ok("GET", path)[0]
    equal((row["31"], row["84"], row["86"]), ("410.50", "410.49", "410.51"),
          "fields")


@case("history: 'No data.' before bars; window of loaded bars after")
def test_history():
    path = "/v1/api/iserver/marketdata/history?conid=%d&period=2d&bar=1d" \
        % IBM
    status, body = C.call("GET", path)
    equal((status, body["error"]), (500, "No data."), "no bars")
    day = 86400000
    base = 1704153600000          # 2024-01-02 00:00:00 UTC
    bars = [{"t": base + i * day, "o": 100 + i, "h": 101.5 + i,
             "l": 99 + i, "c": 100.5 + i, "v": 1000 * (i + 1)}
            for i in range(3)]
    C.ok("POST", "/sim/bars", {"conid": IBM, "bars": bars})
    body = C.ok("GET", path)
    STATE["captured"]["history"] = body
    # period 2d = the last two trading days of the three loaded.
    equal([b["t"] for b in body["data"]], [base + day, base + 2 * day],
          "window")
    equal((body["data"][1]["c"], body["data"][1]["v"]), (102.5, 3000.0),
          "values")
    equal((body["barLength"], body["points"], body["startTime"],
           body["symbol"]), (86400, 1, "20240103-00:00:00", "IBM"), "header")


# ----- positions ----------------------------------------------------------

@case("positions follow fills: avg cost 105, realised 75, drift adjusts")
def test_positions():
    for side, qty, price in (("BUY", 10, "100"), ("BUY", 10, "110"),
                             ("SELL", 5, "120")):
        set_price(MSFT, price)
        _, body = place(order_body(conid=MSFT, side=side, qty=qty), OTHER)
        equal(body[0]["order_status"], "Filled", "fill %s" % side)
    rows = C.ok("POST", "/v1/api/portfolio/%s/positions/invalidate" % OTHER)
    row = [r for r in rows if r["conid"] == MSFT][0]
    # Buys: (10 x 100 + 10 x 110) / 20 = 105; sell 5 at 120 books
    # 5 x (120 - 105) = 75; 15 left marked at 120: (120 - 105) x 15 = 225.
    equal((row["position"], row["avgCost"], row["realizedPnl"],
           row["unrealizedPnl"], row["mktPrice"]),
          (15.0, 105.0, 75.0, 225.0, 120.0), "position")
    C.ok("POST", "/sim/position", {"account": OTHER, "conid": MSFT,
                                   "adjust": 1})
    rows = C.ok("GET", "/v1/api/portfolio/%s/positions/0" % OTHER)
    equal([r["position"] for r in rows if r["conid"] == MSFT], [16.0],
          "after drift")
    equal(C.ok("GET", "/v1/api/portfolio/%s/positions/1" % OTHER), [],
          "page 1 empty")


# ----- concurrency --------------------------------------------------------

@case("concurrent clients: 4 threads x 10 orders, all booked once")
def test_concurrency():
    import threading
    set_price(TSLA, "250")
    before = len(C.ok("GET", "/sim/book")["orders"])
    tag = new_coid("conc")
    errors = []

    def worker(number):
        client = Client(C.base, CERT)
        for i in range(10):
            order = order_body(conid=TSLA, coid="%s-%d-%d" % (tag, number, i))
            status, body = client.call(
                "POST", "/v1/api/iserver/account/%s/orders" % ACCOUNT,
                {"orders": [order]})
            if status != 200 or body[0].get("order_status") != "Filled":
                errors.append((status, body))
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    check(not errors, "failed orders: %r" % errors[:3])
    orders = C.ok("GET", "/sim/book")["orders"]
    equal(len(orders) - before, 40, "new orders")
    mine = [o for o in orders if o["cOID"].startswith(tag)]
    equal(len({o["order_id"] for o in mine}), 40, "distinct order ids")
    executions = {e["execution_id"] for o in orders
                  for e in o["executions"]}
    equal(len(executions), sum(len(o["executions"]) for o in orders),
          "distinct execution ids")


# ----- rate limits --------------------------------------------------------

@case("pacing: orders list twice within 5 s (scaled) answers 429")
def test_pacing():
    config(rate_limits=True, pacing_s={"orders": 100},
           penalty_window_s=1000)
    first, _ = C.api("GET", "/iserver/account/orders?accountId=" + ACCOUNT)
    second, body = C.api("GET", "/iserver/account/orders?accountId=" +
                         ACCOUNT)
    equal((first, second), (200, 429), "statuses")
    check("error" in body, "error envelope")
    equal(C.api("GET", "/iserver/auth/status")[0], 200, "others still work")


@case("three 429s open the penalty box: 429 to everything")
def test_penalty():
    for _ in range(2):
        C.api("GET", "/iserver/account/orders?accountId=" + ACCOUNT)
    status, _ = C.api("GET", "/iserver/auth/status")
    equal(status, 429, "status inside the penalty box")
    check(C.ok("GET", "/sim/health")["penalty_box"], "health penalty_box")


@case("rate_limits false lifts every limit, penalty box included")
def test_lift_limits():
    config(rate_limits=False)
    for _ in range(3):
        equal(C.api("GET", "/iserver/account/orders?accountId=" +
                    ACCOUNT)[0], 200, "orders")


@case("global token bucket refuses a burst above global_rate")
def test_global_rate():
    config(rate_limits=True, global_rate=0.05, penalty_after=1000,
           pacing_s={"orders": 5})
    conn = http.client.HTTPSConnection("127.0.0.1", STATE["port"],
                                       context=C.context, timeout=10)
    statuses = []
    for _ in range(10):
        conn.request("GET", "/v1/api/iserver/auth/status")
        answer = conn.getresponse()
        answer.read()
        statuses.append(answer.status)
    conn.close()
    config(rate_limits=False, global_rate=10, penalty_after=3,
           penalty_window_s=60)
    # Capacity 1 token, refilled at 0.05 per 0.01 s = 5 per second: the
    # first request passes, the next nine within 0.2 s cannot all pass.
    equal(statuses[0], 200, "first request")
    check(429 in statuses[1:], "no 429 in %r" % statuses)


@case("force_429 refuses one route N times, outside the penalty count")
def test_force_429():
    config(rate_limits=True, pacing_s={"orders": 0, "trades": 0},
           force_429={"route": "trades", "count": 2})
    before = C.ok("GET", "/sim/stats")
    path = "/iserver/account/trades?accountId=" + ACCOUNT
    statuses = [C.api("GET", path)[0] for _ in range(3)]
    other = C.api("GET", "/iserver/account/orders?accountId=" + ACCOUNT)[0]
    after = C.ok("GET", "/sim/stats")
    config(pacing_s={"orders": 5, "trades": 5}, rate_limits=False)
    equal(statuses, [429, 429, 200], "two forced 429s, then served")
    equal(other, 200, "other routes are not touched")
    equal(after["forced_429"] - before["forced_429"], 2, "forced_429")
    equal(after["refused_429"], before["refused_429"], "refused_429")
    equal(C.ok("GET", "/sim/config")["force_429"], None, "knob used up")


@case("late_commission leaves the commission out of the first answers")
def test_late_commission():
    config(late_commission=2, fill_mode="immediate")
    set_price(SPY, "500.00")
    coid = new_coid("late")
    place(order_body(qty=10, coid=coid))
    config(late_commission=0)

    def row():
        rows = [t for t in C.ok("GET", "/v1/api/iserver/account/trades")
                if t.get("order_ref") == coid]
        equal(len(rows), 1, "one execution")
        return rows[0]
    first, second, third = row(), row(), row()
    check("commission" not in first and "commission" not in second,
          "commission held back twice: %r" % [first, second])
    # max(1.00, 0.005 x 10 = 0.05) = 1.00, under 1% of 5000
    equal(third.get("commission"), "1.0", "third answer has it")


@case("/sim/order correct replaces an execution: id .02, totals follow")
def test_correct():
    config(fill_mode="never")
    coid = new_coid("corr")
    _, body = place(order_body(qty=10, coid=coid))
    order_id = int(body[0]["order_id"])
    C.ok("POST", "/sim/order", {"order_id": order_id,
                                "fill": {"size": 10, "price": "101.00"}})
    first = book_order(order_id)["executions"][0]["execution_id"]
    row = C.ok("POST", "/sim/order", {"order_id": order_id, "correct":
                                      {"size": 10, "price": "100.50"}})
    ids = [e["execution_id"] for e in row["executions"]]
    equal(ids, [first, first[:-2] + "02"], "execution ids")
    equal([e["corrected"] for e in row["executions"]], [True, False],
          "the original is corrected")
    equal((row["filled"], row["avg_price"], row["status"]),
          (10.0, "100.50", "Filled"), "totals use the correction")
    listed = [t["execution_id"] for t in
              C.ok("GET", "/v1/api/iserver/account/trades")
              if t.get("order_ref") == coid]
    equal(listed, ids, "trades list both")
    config(fill_mode="immediate")


@case("/sim/trade books a manual execution without order_ref")
def test_manual_trade():
    exe = C.ok("POST", "/sim/trade", {"symbol": "IBM", "side": "SELL",
                                      "size": 3, "price": "140.25"})
    rows = [t for t in C.ok("GET", "/v1/api/iserver/account/trades")
            if t["execution_id"] == exe["execution_id"]]
    equal(len(rows), 1, "listed in trades")
    equal((rows[0]["side"], rows[0]["size"], rows[0]["price"],
           rows[0]["conid"]), ("S", 3.0, "140.25", IBM), "row")
    check("order_ref" not in rows[0], "no order_ref: %r" % rows[0])
    exe = C.ok("POST", "/sim/trade", {"symbol": "IBM", "side": "BUY",
                                      "size": 1, "price": "140.00",
                                      "order_ref": "tws-1"})
    refs = [t.get("order_ref") for t in
            C.ok("GET", "/v1/api/iserver/account/trades")
            if t["execution_id"] == exe["execution_id"]]
    equal(refs, ["tws-1"], "order_ref kept when given")
    status, body = C.call("POST", "/sim/trade", {"symbol": "IBM",
                                                 "side": "X", "size": 1,
                                                 "price": "1"})
    equal(status, 400, "bad side refused")


# ----- session states -----------------------------------------------------

def set_auth(**knobs):
    """Change the session through /sim/auth; return the session view."""
    return C.ok("POST", "/sim/auth", knobs)


@case("logged-out: status all false, tickle and /iserver 401")
def test_logged_out():
    set_auth(state="logged-out")
    body = C.ok("GET", "/v1/api/iserver/auth/status")
    equal((body["authenticated"], body["connected"], body["competing"]),
          (False, False, False), "flags")
    for method, path in (("POST", "/tickle"), ("GET", "/iserver/accounts"),
                         ("GET", "/sso/validate")):
        status, body = C.api(method, path)
        equal((status, body), (401, {"error": "not authenticated",
                                     "statusCode": 401}), path)


@case("no-bridge: 400 'Bad Request: no bridge'; ssodh/init fixes it")
def test_no_bridge():
    set_auth(state="no-bridge")
    status, body = C.api("GET", "/iserver/accounts")
    equal((status, body["error"]), (400, "Bad Request: no bridge"),
          "accounts")
    tickle = C.ok("POST", "/v1/api/tickle")
    check("authStatus" not in tickle["iserver"], "authStatus present")
    status, _ = C.api("POST", "/iserver/auth/ssodh/init",
                      {"publish": False, "compete": True})
    equal(status, 500, "publish false")
    body = C.ok("POST", "/v1/api/iserver/auth/ssodh/init",
                {"publish": True, "compete": True})
    equal(body["authenticated"], True, "after init")
    status, body = C.api("GET", "/iserver/account/orders")
    equal((status, body["error"]), (400, "Please query /accounts first"),
          "new brokerage session is gated again")
    C.ok("GET", "/v1/api/iserver/accounts")


@case("competing: flags, collission, orders refused; compete evicts")
def test_competing():
    set_auth(state="competing")
    body = C.ok("GET", "/v1/api/iserver/auth/status")
    equal((body["authenticated"], body["competing"]), (True, True), "flags")
    equal(C.ok("GET", "/v1/api/tickle")["collission"], True, "collission")
    status, _ = place(order_body())
    equal(status, 401, "order while competing")
    body = C.ok("POST", "/v1/api/iserver/auth/ssodh/init",
                {"publish": True, "compete": False})
    equal(body["competing"], True, "compete false keeps competing")
    body = C.ok("POST", "/v1/api/iserver/auth/ssodh/init",
                {"publish": True, "compete": True})
    equal((body["authenticated"], body["competing"]), (True, False),
          "compete true")
    C.ok("GET", "/v1/api/iserver/accounts")


@case("reauthenticate: 'triggered', then authenticated after the delay")
def test_reauthenticate():
    before = set_auth(reauth_delay_s=50)["brokerage_session"]  # 0.5 s
    equal(C.ok("POST", "/v1/api/iserver/reauthenticate"),
          {"message": "triggered"}, "answer")
    equal(C.ok("GET", "/v1/api/iserver/auth/status")["authenticated"],
          False, "right after")
    wait_for(lambda: C.ok("GET", "/sim/auth")["state"] == "authenticated",
             "re-authentication")
    equal(C.ok("GET", "/sim/auth")["brokerage_session"], before + 1,
          "new brokerage session")
    C.ok("GET", "/v1/api/iserver/accounts")


@case("maintenance: /iserver answers 503, auth status still answers")
def test_maintenance():
    set_auth(maintenance=True)
    status, _ = C.api("GET", "/iserver/accounts")
    auth, _ = C.api("GET", "/iserver/auth/status")
    set_auth(maintenance=False)
    equal((status, auth), (503, 200), "statuses")


@case("idle timeout (scaled) logs the session out")
def test_idle_timeout():
    set_auth(idle_timeout_s=20)      # 0.2 s scaled
    view = wait_for(lambda: (lambda v: v if v["state"] == "logged-out"
                             else None)(C.ok("GET", "/sim/auth")),
                    "idle timeout")
    equal(view["logout_reason"], "idle timeout", "reason")
    set_auth(idle_timeout_s=1e7, state="authenticated")
    C.ok("GET", "/v1/api/iserver/accounts")


@case("logout answers {'status': true}; then tickle is 401")
def test_logout():
    equal(C.ok("POST", "/v1/api/logout"), {"status": True}, "answer")
    equal(C.api("POST", "/tickle")[0], 401, "tickle")
    set_auth(state="authenticated")
    C.ok("GET", "/v1/api/iserver/accounts")


@case("--log-file has a JSON line per request with method, path, status")
def test_log_file():
    with open(LOG_FILE, encoding="utf-8") as src:
        lines = [json.loads(line) for line in src]
    check(len(lines) > 50, "only %d lines" % len(lines))
    check(all({"method", "path", "status"} <= set(r) for r in lines),
          "missing keys")
    check(any(r["status"] == 411 and r["path"] == "/v1/api/tickle"
              for r in lines), "the 411 request is not logged")


# ----- shapes against shared/cpapi-payloads -------------------------------

@case("shape: confirmation prompt = place_order_reply_prompt.json")
def test_shape_prompt():
    ref = payload("place_order_reply_prompt.json")
    same_shape(captured("prompt")[0], ref[0], "prompt")


@case("shape: accepted order = reply_success.json")
def test_shape_success():
    ref = payload("reply_success.json")
    same_shape(captured("reply_success")[0], ref[0], "order answer")


@case("shape: working limit order row = live_orders.json orders[0]")
def test_shape_live_working():
    ref = payload("live_orders.json")
    equal(sorted(ref), ["orders", "snapshot"], "top level of the file")
    same_shape(captured("live_working"), ref["orders"][0], "live row")


@case("shape: filled and partial rows within live_orders.json's keys")
def test_shape_live_filled():
    rows = payload("live_orders.json")["orders"]
    union = {}
    for row in rows:
        union.update(row)
    common = set.intersection(*(set(r) for r in rows))
    for name in ("live_filled", "live_partial"):
        row = captured(name)
        problems = type_problems(row, union, name)
        extra = set(row) - set(union)
        missing = common - set(row)
        check(not problems and not extra and not missing,
              "%s: %s extra %s missing %s" % (name, problems,
                                              sorted(extra),
                                              sorted(missing)))
        check("avgPrice" in row, name + " lacks avgPrice")


@case("shape: working limit order status = order_status.json")
def test_shape_status():
    same_shape(captured("status_working"), payload("order_status.json"),
               "order status")


@case("shape: trades rows = trades.json")
def test_shape_trades():
    ref = payload("trades.json")
    for row in captured("trades"):
        same_shape(row, ref[0], "trade")


@case("shape: history = marketdata_history.json")
def test_shape_history():
    ref = payload("marketdata_history.json")
    body = captured("history")
    same_shape(body, ref, "history")
    same_shape(body["data"][0], ref["data"][0], "history bar")


# ----- restart, plain HTTP, shutdown --------------------------------------

@case("--state-file keeps the book across a restart (--insecure-http)")
def test_state_file():
    state = os.path.join(TMP, "state.json")
    args = [PYTHON, os.path.join(HERE, "cpapi_sim.py"), "--port", "0",
            "--insecure-http", "--time-scale", str(SCALE),
            "--state-file", state]

    def start():
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        check(ready, "no start-up line")
        port = proc.stdout.readline().split(":")[-1].strip()
        return proc, Client("http://127.0.0.1:" + port)

    proc, plain = start()
    try:
        plain.ok("GET", "/v1/api/iserver/accounts")
        plain.ok("POST", "/sim/price", {"conid": SPY, "price": "401"})
        coid = new_coid("keep")
        status, body = plain.call("POST", "/v1/api/iserver/account/%s/"
                                  "orders" % ACCOUNT,
                                  {"orders": [order_body(coid=coid)]})
        equal(body[0]["order_status"], "Filled", "order over plain HTTP")
        # a corrected execution stays corrected across the restart
        plain.ok("POST", "/sim/order", {"cOID": coid, "correct":
                                        {"price": "400.50"}})
        before = plain.ok("GET", "/sim/book")["orders"][0]
    finally:
        proc.send_signal(signal.SIGTERM)
        equal(proc.wait(timeout=15), 0, "exit status")
    proc, plain = start()
    try:
        orders = plain.ok("GET", "/sim/book")["orders"]
        equal([o["cOID"] for o in orders], [coid], "book after restart")
        equal([(e["execution_id"], e["corrected"])
               for e in orders[0]["executions"]],
              [(e["execution_id"], e["corrected"])
               for e in before["executions"]], "corrections after restart")
        equal((orders[0]["filled"], orders[0]["avg_price"]),
              (before["filled"], before["avg_price"]),
              "totals after restart count the correction only")
        plain.ok("GET", "/v1/api/iserver/accounts")
        status, body = plain.call("POST", "/v1/api/iserver/account/%s/"
                                  "orders" % ACCOUNT,
                                  {"orders": [order_body(coid=coid)]})
        check("already registered" in body.get("error", ""),
              "cOID forgotten: %r" % body)
        trades = plain.ok("GET", "/v1/api/iserver/account/trades")
        equal([t["order_ref"] for t in trades], [coid, coid],
              "trades: the execution and its correction")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


@case("SIGTERM stops the simulator with exit status 0")
def test_sigterm():
    PROC.send_signal(signal.SIGTERM)
    equal(PROC.wait(timeout=15), 0, "exit status")
    err = PROC.stderr.read()
    check("Traceback" not in err, "stderr: " + err)


def main():
    """Run every case in order and print TAP."""
    global TMP, CERT, LOG_FILE
    print("1..%d" % len(CASES), flush=True)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="cpapi-sim-") as TMP:
        CERT = os.path.join(TMP, "sim.crt")
        LOG_FILE = os.path.join(TMP, "requests.jsonl")
        try:
            for number, (description, func) in enumerate(CASES, 1):
                try:
                    func()
                    print("ok %d - %s" % (number, description), flush=True)
                except Skip as exc:
                    print("ok %d - %s # SKIP %s" % (number, description,
                                                    exc), flush=True)
                except Exception as exc:  # report and continue
                    failed += 1
                    print("not ok %d - %s" % (number, description))
                    for line in ("%s: %s" % (type(exc).__name__,
                                             exc)).splitlines():
                        print("#   " + line)
                    sys.stdout.flush()
        finally:
            if PROC is not None and PROC.poll() is None:
                PROC.kill()
                PROC.wait()
    if failed:
        print("# %d of %d failed" % (failed, len(CASES)))
    return 1 if failed else 0


C = None
PROC = None
TMP = CERT = LOG_FILE = None

if __name__ == "__main__":
    sys.exit(main())
