#!/usr/bin/python3
"""cpapi_sim.py - IBKR Client Portal Web API simulator for pgtrade.

Serves the part of the Client Portal Web API (CPAPI) that pgtrade's
listener uses, over HTTPS on 127.0.0.1, under both /v1/api and /v1/portal,
with the paths, JSON shapes, types and quirks described in
shared/ibkr-cpapi.md.  A control API under /sim/ (same server, JSON)
scripts session states, prompts, outcomes, fills, rate limits and prices,
and exposes the simulator's own book and the log of every order POST it
received, so tests can compare broker state with database state.

Invariants:
- Simulator.lock (one re-entrant lock) guards every piece of mutable state:
  session, book, configuration, rate limiter, counters.  Request handlers
  and scheduled events hold it for the whole of their work and never
  block while holding it.
- Every configured duration is given in the real gateway's seconds and is
  multiplied by the time scale (--time-scale) when used; wall-clock
  timestamps in answers (trade_time and the like) are real UTC.
- Prices and quantities are Decimal inside; they leave as strings or JSON
  numbers exactly as the recorded payloads in shared/cpapi-payloads have
  them (integers stay integers, reals stay reals).
- Scheduled events carry the simulator epoch and the order's token; a
  reset, cancel or modification bumps those, so stale events do nothing.
- An unexpected exception in a handler answers 500 {"error": "internal
  simulator error: ..."}; an order whose placement raised is taken out
  of the book again, so a failed request never leaves an order behind.

Only the Python 3 standard library is used.  Run it with /usr/bin/python3;
see tests/sim/README.md for every endpoint and knob.
"""

import argparse
import calendar
import copy
import gc
import heapq
import itertools
import json
import os
import random
import re
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
import uuid
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

VERSION = "1.0"
PREFIXES = ("/v1/api", "/v1/portal")
CENT = Decimal("0.01")
MICRO = Decimal("0.000001")
ZERO = Decimal(0)
# Largest order quantity accepted, like the size limit of an IBKR account:
# beyond it sums in the fill engine would outgrow Decimal's 28 digits.
QTY_MAX = Decimal(1000000000)

MAC = "02:00:5E:10:00:01"
SERVER_INFO = {"serverName": "SimGW1",
               "serverVersion": "pgtrade CPAPI simulator " + VERSION}
USER_ID = 10000001
USER_NAME = "simuser1"

# Symbol, conid, company name, listing exchange, execution venue.
BUILTIN_CONTRACTS = (
    ("AAPL", 265598, "APPLE INC", "NASDAQ.NMS", "ISLAND"),
    ("SPY", 756733, "SPDR S&P 500 ETF TRUST", "ARCA", "ARCA"),
    ("MSFT", 272093, "MICROSOFT CORP", "NASDAQ.NMS", "ISLAND"),
    ("IBM", 8314, "INTL BUSINESS MACHINES CORP", "NYSE", "NYSE"),
    ("GOOG", 208813720, "ALPHABET INC-CL C", "NASDAQ.NMS", "ISLAND"),
    ("TSLA", 76792991, "TESLA INC", "NASDAQ.NMS", "ISLAND"),
)

# Confirmation texts by message id, in the simulator's own words.
PROMPT_TEXTS = {
    "o163": "The limit price is more than 3% away from the last price.",
    "o354": "There is no market data for this instrument; the order "
            "would be sent without it.",
    "o382": "The price does not conform to the minimum tick size.",
    "o383": "The order size is above the size limit of this account.",
    "o403": "This order will most likely execute immediately.",
    "o451": "The order value is above the total value limit.",
    "o10151": "Market orders carry the risk of an unfavourable price.",
    "o10331": "Stop orders may execute far from the stop price.",
    "p12": "The price management algorithm may adjust this order.",
}
PROMPT_QUESTION = "\nAre you sure you want to submit this order?"

ORDER_STATUSES = ("PendingSubmit", "PreSubmitted", "Submitted",
                  "PendingCancel", "PreCancelled", "WarnState", "Filled",
                  "Cancelled", "Inactive")
TERMINAL = frozenset(("Filled", "Cancelled", "Inactive"))
STATUS_FILTER = {s: re.sub(r"(?<!^)([A-Z])", r"_\1", s).lower()
                 for s in ORDER_STATUSES}
# Order status digits follow FIX OrdStatus; the gateway's mapping is not
# documented, so these figures are an assumption of the simulator.
CCP_DIGIT = {"PendingSubmit": "0", "PreSubmitted": "0", "Submitted": "0",
             "PendingCancel": "6", "PreCancelled": "6", "WarnState": "0",
             "Filled": "2", "Cancelled": "4", "Inactive": "8"}
STATUS_TEXT = {"PendingSubmit": "Order Pending Submit",
               "PreSubmitted": "Order Submitted",
               "Submitted": "Order Submitted",
               "PendingCancel": "Cancel Pending",
               "PreCancelled": "Cancel Pending",
               "WarnState": "Order Submitted",
               "Filled": "Order Filled",
               "Cancelled": "Order Cancelled",
               "Inactive": "Order Inactive"}
# Request order type -> (live orderType, origOrderType / order_type, text).
ORDER_TYPES = {"MKT": ("Market", "MARKET"),
               "LMT": ("Limit", "LIMIT"),
               "STP": ("Stop", "STOP"),
               "STOP_LIMIT": ("Stop Limit", "STOP_LIMIT")}
TIFS = ("DAY", "GTC", "IOC")
# Routes whose requests place, modify or confirm orders.
ORDER_ROUTES = ("place_order", "modify_order", "reply")

PERIOD_RE = re.compile(r"^(\d+)(min|h|d|w|m|y)$")
BAR_RE = re.compile(r"^(\d+)(min|h|d|w|m)$")
BAR_SECONDS = {"min": 60, "h": 3600, "d": 86400, "w": 604800,
               "m": 2678400}
TRADING_DAYS = {"d": 1, "w": 5, "m": 21, "y": 252}


class ApiError(Exception):
    """An HTTP answer other than 200, raised by handlers and validators."""

    def __init__(self, status, payload):
        super().__init__(payload)
        self.status = status
        self.payload = payload


def fail(status, text, with_code=False):
    """Return an ApiError carrying the gateway's {"error": text} envelope."""
    payload = {"error": text}
    if with_code:
        payload["statusCode"] = status
    return ApiError(status, payload)


def to_decimal(value):
    """Return value as a finite Decimal; raise ValueError otherwise.

    Accepts JSON numbers (int, float or Decimal from parse_float) and
    numeric strings; booleans and None are refused.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError("not a number")
    try:
        if isinstance(value, float):
            result = Decimal(repr(value))
        elif isinstance(value, (int, Decimal)):
            result = Decimal(value)
        elif isinstance(value, str):
            result = Decimal(value.strip())
        else:
            raise ValueError("not a number")
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not result.is_finite():
        raise ValueError("not a finite number")
    return result


def json_decimal(value):
    """Return a parsed JSON number as a Decimal, infinities and NaN kept."""
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def internal_error(exc):
    """Report an unexpected exception on stderr; return the 500 answer."""
    traceback.print_exc(file=sys.stderr)
    return 500, {"error": "internal simulator error: %s: %s" %
                 (type(exc).__name__, exc), "statusCode": 500}


def is_json_number(value):
    """Tell whether a parsed JSON value is a number (booleans excluded)."""
    return isinstance(value, (int, Decimal, float)) and \
        not isinstance(value, bool)


def fmt_price(value):
    """Format a price as the gateway does: at least two decimals."""
    if value == value.quantize(CENT):
        return str(value.quantize(CENT))
    return format(value.normalize(), "f")


def fmt_avg(value):
    """Format an average price, rounded to six decimals."""
    return fmt_price(value.quantize(MICRO, rounding=ROUND_HALF_UP))


def fmt_qty(value):
    """Format a quantity without exponent or trailing zeros ("100")."""
    text = format(value.normalize(), "f")
    return text


def qty_str(value):
    """Format a quantity the way order status does ("1.0", "0.5")."""
    return repr(float(value))


class RawJSON(str):
    """An answer already encoded as JSON text, sent as it is."""


def json_default(value):
    """Encode the Decimals that parse_float leaves in echoed bodies."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError("not JSON serialisable: %r" % (value,))


def utc(ts, fmt):
    """Format epoch seconds ts in UTC with strftime format fmt."""
    return time.strftime(fmt, time.gmtime(ts))


def iso_utc(ts):
    """Format epoch seconds as ISO 8601 UTC with milliseconds."""
    return "%s.%03dZ" % (utc(ts, "%Y-%m-%dT%H:%M:%S"),
                         int(ts * 1000) % 1000)


def epoch_ms(ts):
    """Convert epoch seconds to integer milliseconds."""
    return int(round(ts * 1000))


class Contract:
    """One instrument of the simulator's contract table (stocks only)."""

    def __init__(self, conid, symbol, name, listing, venue):
        self.conid = conid
        self.symbol = symbol
        self.name = name
        self.listing = listing
        self.venue = venue

    @property
    def exchange(self):
        """Return the short exchange name ("NASDAQ" for NASDAQ.NMS)."""
        return self.listing.split(".")[0]

    def search_row(self):
        """Return the /iserver/secdef/search element (conid as string)."""
        return {"conid": str(self.conid),
                "companyHeader": "%s - %s" % (self.name, self.exchange),
                "companyName": self.name,
                "symbol": self.symbol,
                "description": self.exchange,
                "restricted": None,
                "sections": [{"secType": "STK"}]}

    def to_state(self):
        """Return a JSON-ready description for --state-file."""
        return {"conid": self.conid, "symbol": self.symbol,
                "name": self.name, "listing": self.listing,
                "venue": self.venue}


class Contracts:
    """The symbol and conid table: built-in entries plus added ones."""

    def __init__(self):
        self.by_conid = {}
        self.by_symbol = {}
        self.added = []
        for row in BUILTIN_CONTRACTS:
            symbol, conid, name, listing, venue = row
            self._put(Contract(conid, symbol, name, listing, venue))

    def _put(self, contract):
        """Index one contract by conid and by upper-case symbol."""
        self.by_conid[contract.conid] = contract
        self.by_symbol[contract.symbol.upper()] = contract

    def add(self, contract):
        """Add or replace a contract given through the control API."""
        self._put(contract)
        self.added = [c for c in self.added if c.conid != contract.conid]
        self.added.append(contract)

    def get(self, conid):
        """Return the contract for conid; unknown conids get a stand-in."""
        found = self.by_conid.get(conid)
        if found is None:
            found = Contract(conid, str(conid), "CONTRACT %d" % conid,
                             "SMART", "IBKR")
        return found


class Config:
    """Fill, prompt, outcome and rate-limit knobs set via /sim/config.

    Durations are unscaled gateway seconds.  update() validates a whole
    change set before applying any of it.
    """

    DEFAULTS = {
        "fill_mode": "immediate",
        "fill_delay_s": 0.5,
        "partial_sizes": [],
        "partial_prices": [],
        "initial_status": "Submitted",
        "prompts": {"every": 0, "message_ids": ["o354"], "chain": 1,
                    "conids": []},
        "prompt_strict": False,
        "reject_next": None,
        "inactive_next": None,
        "answer_lost_next": None,
        "drop_next": None,
        "duplicate": "error",
        "coid_window_s": 86400,
        "cancel_delay_s": 0.5,
        "fill_during_cancel": None,
        "rate_limits": True,
        "global_rate": 10,
        "pacing_s": {"orders": 5, "trades": 5, "portfolio_accounts": 5,
                     "tickle": 1, "sso_validate": 60},
        "penalty_after": 3,
        "penalty_window_s": 60,
        "penalty_s": 600,
        "require_post_body": True,
        "live_orders_preflight": True,
        "empty_without_account": False,
        "snapshot_preflight": True,
        "positions_cache_s": 60,
        "commission_per_share": Decimal("0.005"),
        "commission_min": Decimal("1.00"),
        "late_commission": 0,
        "force_429": None,
        "time_scale": None,
        "hold": None,
        "trades_delay_s": 0,
    }

    def __init__(self):
        self.values = copy.deepcopy(self.DEFAULTS)

    def __getitem__(self, key):
        return self.values[key]

    def update(self, changes):
        """Validate and apply a dict of knob changes; raise ValueError."""
        if not isinstance(changes, dict):
            raise ValueError("config body must be a JSON object")
        checked = {}
        for key, value in changes.items():
            if key not in self.DEFAULTS:
                raise ValueError("unknown config key %r (known: %s)" %
                                 (key, ", ".join(sorted(self.DEFAULTS))))
            checker = getattr(self, "_check_" + key, None)
            checked[key] = checker(value) if checker else \
                self._check_number(key, value)
        self.values.update(checked)
        return sorted(checked)

    @staticmethod
    def _check_number(key, value, minimum=0):
        """Require a number >= minimum and return it as a float."""
        if not is_json_number(value) or float(value) < minimum:
            raise ValueError("%s must be a number >= %s" % (key, minimum))
        return float(value)

    @staticmethod
    def _check_bool(key, value):
        """Require a JSON boolean."""
        if not isinstance(value, bool):
            raise ValueError("%s must be true or false" % key)
        return value

    def _check_fill_mode(self, value):
        if value not in ("immediate", "delayed", "never", "partial"):
            raise ValueError("fill_mode must be immediate, delayed, never "
                             "or partial")
        return value

    def _check_partial_sizes(self, value):
        if not isinstance(value, list) or not all(
                is_json_number(v) and v > 0 for v in value):
            raise ValueError("partial_sizes must be a list of positive "
                             "numbers")
        return [to_decimal(v) for v in value]

    def _check_partial_prices(self, value):
        try:
            if not isinstance(value, list):
                raise ValueError
            return [to_decimal(v) for v in value]
        except ValueError:
            raise ValueError("partial_prices must be a list of prices") \
                from None

    def _check_initial_status(self, value):
        if value not in ("PendingSubmit", "PreSubmitted", "Submitted"):
            raise ValueError("initial_status must be PendingSubmit, "
                             "PreSubmitted or Submitted")
        return value

    def _check_prompts(self, value):
        if not isinstance(value, dict):
            raise ValueError("prompts must be an object")
        merged = dict(self.values["prompts"])
        for key, item in value.items():
            if key in ("every", "chain"):
                if not isinstance(item, int) or isinstance(item, bool) \
                        or item < 0:
                    raise ValueError("prompts.%s must be an integer >= 0"
                                     % key)
            elif key == "message_ids":
                if not isinstance(item, list) or not item or not all(
                        isinstance(v, str) for v in item):
                    raise ValueError("prompts.message_ids must be a "
                                     "non-empty list of strings")
            elif key == "conids":
                if not isinstance(item, list) or not all(
                        isinstance(v, int) for v in item):
                    raise ValueError("prompts.conids must be a list of "
                                     "integers")
            else:
                raise ValueError("unknown prompts key %r" % key)
            merged[key] = item
        return merged

    def _check_prompt_strict(self, value):
        return self._check_bool("prompt_strict", value)

    @staticmethod
    def _check_outcome(key, value, need_text):
        """Normalise reject_next / inactive_next to {text, count}."""
        if value is None or value is False:
            return None
        if value is True and not need_text:
            return {"text": None, "count": 1}
        if isinstance(value, str):
            return {"text": value, "count": 1}
        if not isinstance(value, dict):
            raise ValueError("%s must be null, true, a string or an "
                             "object" % key)
        text = value.get("text")
        count = value.get("count", 1)
        if (need_text and not isinstance(text, str)) or (
                text is not None and not isinstance(text, str)):
            raise ValueError("%s.text must be a string" % key)
        if not isinstance(count, int) or isinstance(count, bool) or \
                count < 1:
            raise ValueError("%s.count must be an integer >= 1" % key)
        return {"text": text, "count": count}

    def _check_reject_next(self, value):
        return self._check_outcome("reject_next", value, True)

    def _check_inactive_next(self, value):
        return self._check_outcome("inactive_next", value, False)

    def _check_answer_lost_next(self, value):
        return self._check_outcome("answer_lost_next", value, False)

    def _check_drop_next(self, value):
        return self._check_outcome("drop_next", value, False)

    def _check_duplicate(self, value):
        if value not in ("error", "error400", "accept"):
            raise ValueError("duplicate must be error, error400 or accept")
        return value

    def _check_fill_during_cancel(self, value):
        if value is None or value == "all":
            return value
        if not is_json_number(value) or value <= 0:
            raise ValueError("fill_during_cancel must be null, \"all\" or "
                             "a positive size")
        return to_decimal(value)

    def _check_rate_limits(self, value):
        return self._check_bool("rate_limits", value)

    @staticmethod
    def _check_hold(value):
        """Normalise the hold fault to {route, phase, ms, count} or None.

        ms is real time, not scaled: a hold is meant to outlast the
        client's own HTTP timeout or to give a test time to act.
        """
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ValueError("hold must be null or an object")
        unknown = set(value) - {"route", "phase", "ms", "count"}
        if unknown:
            raise ValueError("hold has unknown keys: %s" %
                             ", ".join(sorted(unknown)))
        routes = sorted(r.name for r in ROUTES)
        route = value.get("route")
        if route not in routes:
            raise ValueError("hold.route must be one of " +
                             ", ".join(routes))
        phase = value.get("phase", "after")
        if phase not in ("before", "after"):
            raise ValueError("hold.phase must be before or after")
        ms = value.get("ms")
        count = value.get("count", 1)
        if not is_json_number(ms) or not 0 < ms <= 600000:
            raise ValueError("hold.ms must be a number in (0, 600000]")
        if not isinstance(count, int) or isinstance(count, bool) or \
                count < 1:
            raise ValueError("hold.count must be an integer >= 1")
        return {"route": route, "phase": phase, "ms": ms, "count": count}

    def _check_global_rate(self, value):
        return self._check_number("global_rate", value, minimum=0.001)

    def _check_pacing_s(self, value):
        if not isinstance(value, dict):
            raise ValueError("pacing_s must be an object")
        merged = dict(self.values["pacing_s"])
        for key, item in value.items():
            if key not in merged:
                raise ValueError("unknown pacing_s key %r (known: %s)" %
                                 (key, ", ".join(sorted(merged))))
            merged[key] = self._check_number("pacing_s." + key, item)
        return merged

    def _check_penalty_after(self, value):
        if not isinstance(value, int) or isinstance(value, bool) or \
                value < 1:
            raise ValueError("penalty_after must be an integer >= 1")
        return value

    def _check_require_post_body(self, value):
        return self._check_bool("require_post_body", value)

    def _check_live_orders_preflight(self, value):
        return self._check_bool("live_orders_preflight", value)

    def _check_empty_without_account(self, value):
        return self._check_bool("empty_without_account", value)

    def _check_snapshot_preflight(self, value):
        return self._check_bool("snapshot_preflight", value)

    def _check_commission_per_share(self, value):
        return to_decimal(self._check_number("commission_per_share", value))

    def _check_commission_min(self, value):
        return to_decimal(self._check_number("commission_min", value))

    def _check_late_commission(self, value):
        if not isinstance(value, int) or isinstance(value, bool) or \
                value < 0:
            raise ValueError("late_commission must be an integer >= 0")
        return value

    @staticmethod
    def _check_force_429(value):
        if value is None:
            return None
        if not isinstance(value, dict) or set(value) - {"route", "count"}:
            raise ValueError('force_429 must be null or {"route": name, '
                             '"count": n}')
        route = value.get("route")
        count = value.get("count", 1)
        if route not in {r.name for r in ROUTES}:
            raise ValueError("force_429 route must be one of " +
                             ", ".join(sorted(r.name for r in ROUTES)))
        if not isinstance(count, int) or isinstance(count, bool) or \
                count < 1:
            raise ValueError("force_429 count must be an integer >= 1")
        return {"route": route, "count": count}

    def _check_time_scale(self, value):
        if value is None:
            return None
        return self._check_number("time_scale", value, minimum=1e-6)


class RateLimiter:
    """Global token bucket, per-endpoint pacing and the penalty box."""

    def __init__(self):
        self.tokens = None
        self.refilled_at = 0.0
        self.last_hit = {}
        self.refusals = []
        self.penalty_until = 0.0
        self.refused = 0

    def check(self, key, config, scale, now):
        """Admit one request or return why it is refused (429).

        key is the route's pacing name or None; now is monotonic time.
        """
        if not config["rate_limits"]:
            return None
        if now < self.penalty_until:
            self.refused += 1
            return "penalty box"
        rate = config["global_rate"]
        capacity = max(1.0, rate)
        if self.tokens is None:
            self.tokens = capacity
        self.tokens = min(capacity, self.tokens +
                          (now - self.refilled_at) * rate / scale)
        self.refilled_at = now
        if self.tokens < 1:
            return self._refuse(config, scale, now, "global rate")
        interval = config["pacing_s"].get(key, 0) * scale if key else 0
        if interval and now - self.last_hit.get(key, -1e18) < interval:
            return self._refuse(config, scale, now, "pacing of " + key)
        self.tokens -= 1
        if key:
            self.last_hit[key] = now
        return None

    def _refuse(self, config, scale, now, reason):
        """Count a 429 and open the penalty box after too many of them."""
        self.refused += 1
        window = config["penalty_window_s"] * scale
        self.refusals = [t for t in self.refusals if now - t < window]
        self.refusals.append(now)
        if len(self.refusals) >= config["penalty_after"]:
            self.penalty_until = now + config["penalty_s"] * scale
            self.refusals = []
        return reason

    def in_penalty(self, now):
        """Tell whether the penalty box is open at monotonic time now."""
        return now < self.penalty_until


class Scheduler:
    """Runs callbacks after a delay on one background thread.

    Callbacks take Simulator.lock themselves; the scheduler's condition is
    never held while a callback runs.
    """

    def __init__(self):
        self._heap = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="sim-scheduler")
        self._thread.start()

    def call_later(self, delay, func):
        """Run func() once, delay seconds (real) from now."""
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + max(0, delay),
                                        next(self._seq), func))
            self._cond.notify()

    def stop(self):
        """Stop the background thread; pending callbacks are dropped."""
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def _run(self):
        """Pop due callbacks in time order and run them."""
        while True:
            with self._cond:
                while not self._stopped:
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    wait = self._heap[0][0] - now if self._heap else None
                    self._cond.wait(wait)
                if self._stopped:
                    return
                func = heapq.heappop(self._heap)[2]
            try:
                func()
            except Exception:  # keep the scheduler alive; report it
                traceback.print_exc(file=sys.stderr)


class PendingOrder:
    """An order request waiting for its chain of confirmation prompts.

    tickets holds the placement's tickets (one, or a bracket's parent
    and children); modify is the booked order a modification changes
    (then tickets holds its one new ticket).
    """

    def __init__(self, tickets, account, message_ids, log_entry,
                 modify=None):
        self.tickets = tickets
        self.ticket = tickets[0]
        self.account = account
        self.queue = list(message_ids)
        self.log_entry = log_entry
        self.modify = modify


class Session:
    """Authentication state of the simulated gateway.

    States: authenticated, connected (brokerage session not
    authenticated), competing (another platform holds the brokerage
    session), no-bridge (SSO only, brokerage session never initialised),
    logged-out (no SSO session).  Entering "authenticated" from any other
    state starts a new brokerage session: /iserver/accounts must be
    queried again, suppressed message ids, reply ids and pre-flight marks
    are forgotten.
    """

    FLAGS = {"authenticated": (True, True, False),
             "connected": (False, True, False),
             "competing": (True, True, True),
             "no-bridge": (False, False, False),
             "logged-out": (False, False, False)}
    KNOBS = {"idle_timeout_s": 360, "reauth_delay_s": 2,
             "init_delay_s": 0, "session_max_s": 86400, "fail": "",
             "maintenance": False}

    def __init__(self, accounts, state, now, seq=0):
        self.accounts = accounts
        self.knobs = dict(self.KNOBS)
        self.seq = seq
        self.state = "logged-out"
        self.token = 0
        self.logout_reason = ""
        self.sso_id = ""
        self.login_at = now
        self.login_wall = time.time()
        self.last_activity = now
        self._reset_brokerage()
        self.set_state(state, now)

    def _reset_brokerage(self):
        """Forget everything tied to one brokerage session."""
        self.accounts_queried = False
        self.selected = self.accounts[0]
        self.account_switched = False
        self.suppressed = set()
        self.prompts = {}
        self.current_prompt = None
        self.stale = set()
        self.live_primed = False
        self.snapshot_fields = {}

    def new_brokerage_session(self):
        """Start a new brokerage session (after login, re-auth, reset)."""
        self.seq += 1
        self._reset_brokerage()

    def set_state(self, state, now, new_session=False):
        """Move to state; log in or start a brokerage session as needed."""
        if state not in self.FLAGS:
            raise ValueError("state must be one of " +
                             ", ".join(self.FLAGS))
        was = self.state
        if was == "logged-out" and state != "logged-out":
            self.sso_id = uuid.uuid4().hex
            self.login_at = now
            self.login_wall = time.time()
            self.last_activity = now
            self.logout_reason = ""
        if state == "logged-out" and was != "logged-out":
            self._reset_brokerage()
        if state == "authenticated" and (was != state or new_session):
            self.new_brokerage_session()
        self.state = state
        self.token += 1

    def log_out(self, reason, now):
        """End the SSO session (logout, idle timeout, session cap)."""
        if self.state != "logged-out":
            self.set_state("logged-out", now)
            self.logout_reason = reason

    def check_expiry(self, now, scale):
        """Apply the idle timeout and the session cap, lazily."""
        if self.state == "logged-out":
            return
        idle = self.knobs["idle_timeout_s"]
        cap = self.knobs["session_max_s"]
        if idle and now - self.last_activity > idle * scale:
            self.log_out("idle timeout", now)
        elif cap and now - self.login_at > cap * scale:
            self.log_out("session cap", now)

    def touch(self, now):
        """Record API activity: any request resets the idle timer."""
        if self.state != "logged-out":
            self.last_activity = now

    def expires_ms(self, now, scale):
        """Milliseconds until the idle timeout ends the session."""
        idle = self.knobs["idle_timeout_s"]
        if not idle:
            return 86400000
        left = idle * scale - (now - self.last_activity)
        return max(0, int(left * 1000))

    def flags(self):
        """Return (authenticated, connected, competing)."""
        return self.FLAGS[self.state]

    def status_body(self):
        """Return the /iserver/auth/status answer for the current state."""
        authenticated, connected, competing = self.flags()
        if self.state == "logged-out":
            return {"authenticated": False, "competing": False,
                    "connected": False, "MAC": MAC}
        return {"authenticated": authenticated, "competing": competing,
                "connected": connected, "message": "", "MAC": MAC,
                "fail": self.knobs["fail"],
                "serverInfo": dict(SERVER_INFO),
                "hardware_info": "5e100001|" + MAC}

    def invalidate_prompt(self):
        """Make the pending reply id stale (another request came first)."""
        if self.current_prompt is not None:
            self.stale.add(self.current_prompt)
            self.prompts.pop(self.current_prompt, None)
            self.current_prompt = None

    def view(self, now, scale):
        """Return the session as shown by GET /sim/auth."""
        authenticated, connected, competing = self.flags()
        view = {"state": self.state, "authenticated": authenticated,
                "connected": connected, "competing": competing,
                "brokerage_session": self.seq,
                "accounts_queried": self.accounts_queried,
                "selected_account": self.selected,
                "suppressed": sorted(self.suppressed),
                "pending_reply_id": self.current_prompt,
                "logout_reason": self.logout_reason,
                "expires_ms": self.expires_ms(now, scale)}
        view.update(self.knobs)
        return view


class Execution:
    """One fill of an order, as listed by /iserver/account/trades."""

    def __init__(self, execution_id, order, size, price, ts, commission):
        self.execution_id = execution_id
        self.order = order
        self.size = size
        self.price = price
        self.ts = ts
        self.commission = commission
        self.commission_hidden = 0  # trades answers still without it
        self.corrected = False  # a later correction replaced it
        self._listed_json = None  # listed_row text, once it is final

    def trade_row(self):
        """Return the trades element (size number, price string)."""
        order = self.order
        contract = order.contract
        buy = order.side == "BUY"
        return {
            "execution_id": self.execution_id,
            "symbol": contract.symbol,
            "supports_tax_opt": "1",
            "side": "B" if buy else "S",
            "order_description": "%s %s @ %s on %s" % (
                "Bot" if buy else "Sold", fmt_qty(self.size),
                fmt_price(self.price), contract.venue),
            "trade_time": utc(self.ts, "%Y%m%d-%H:%M:%S"),
            "trade_time_r": epoch_ms(self.ts),
            "size": float(self.size),
            "price": fmt_price(self.price),
            "order_ref": order.coid,
            "exchange": contract.venue,
            "net_amount": float(self.size * self.price),
            "account": order.account,
            "accountCode": order.account,
            "company_name": contract.name,
            "contract_description_1": contract.symbol,
            "sec_type": "STK",
            "listing_exchange": contract.listing,
            "conid": contract.conid,
            "conidEx": str(contract.conid),
            "directed_exchange": contract.venue,
            "clearing_id": "IB",
            "clearing_name": "IB",
            "liquidation_trade": "0",
            "commission": repr(float(self.commission)),
        }

    def listed_row(self):
        """Return the trades element as one trades answer lists it now.

        A commission held back by late_commission is left out of this
        many answers; a manual execution without an order_ref has none.
        """
        row = self.trade_row()
        if self.commission_hidden > 0:
            self.commission_hidden -= 1
            del row["commission"]
        if row["order_ref"] is None:
            del row["order_ref"]
        return row

    def listed_json(self):
        """Return listed_row() as JSON text.

        A day's trades answer lists every execution of the day, and its
        rows do not change once the commission shows: their text is made
        once, not on every call under the simulator's lock.
        """
        if self.commission_hidden > 0:
            return json.dumps(self.listed_row(), default=json_default)
        if self._listed_json is None:
            self._listed_json = json.dumps(self.listed_row(),
                                           default=json_default)
        return self._listed_json

    def book_row(self):
        """Return the execution as listed by GET /sim/book."""
        return {"execution_id": self.execution_id,
                "size": float(self.size), "price": fmt_price(self.price),
                "commission": fmt_price(self.commission),
                "time": iso_utc(self.ts), "time_ms": epoch_ms(self.ts),
                "corrected": self.corrected}

    def to_state(self):
        """Return a JSON-ready description for --state-file."""
        return {"execution_id": self.execution_id, "size": str(self.size),
                "price": str(self.price), "ts": self.ts,
                "commission": str(self.commission),
                "corrected": self.corrected}


class Order:
    """One order in the simulator's book.

    quantity, filled, price and aux_price are Decimals; price is the limit
    price (LMT, STOP_LIMIT) or the stop price (STP), aux_price the stop
    price of STOP_LIMIT.  ended_session is the brokerage session in which
    the order reached a terminal status.
    """

    def __init__(self, order_id, ticket, account, contract, placed_at,
                 session_seq):
        self.order_id = order_id
        self.coid = ticket["cOID"]
        self.account = account
        self.contract = contract
        self.side = ticket["side"]
        self.quantity = ticket["quantity"]
        self.order_type = ticket["orderType"]
        self.price = ticket.get("price")
        self.aux_price = ticket.get("auxPrice")
        self.tif = ticket["tif"]
        self.outside_rth = ticket.get("outsideRTH", False)
        self.placed_at = placed_at
        self.updated_at = placed_at
        self.placed_session = session_seq
        self.ended_session = None
        self.status = "Submitted"
        self.filled = ZERO
        self.cost = ZERO
        self.executions = []
        self.triggered = False
        self.fill_plan = None
        self.plan_prices = []
        self.plan_index = 0
        self.event_pending = False
        self.cancel_requested = False
        self.token = 0
        self.parent = None      # a bracket child's parent order
        self.children = []      # a bracket parent's children
        self.held = False       # a child waiting for its parent's fill
        self.on_end = None      # called once the order is terminal
        self._live_json = None  # (what it was made of, live_row text)

    @property
    def remaining(self):
        """Quantity not yet filled."""
        return self.quantity - self.filled

    @property
    def terminal(self):
        """True once Filled, Cancelled or Inactive."""
        return self.status in TERMINAL

    def avg_price(self):
        """Average fill price, or None before the first fill."""
        if not self.filled:
            return None
        return self.cost / self.filled

    def set_status(self, status, session_seq):
        """Change the status; remember the session a terminal one ends in."""
        self.status = status
        self.updated_at = time.time()
        if status in TERMINAL:
            self.ended_session = session_seq
            self.token += 1
            if self.on_end is not None:
                self.on_end(self)
            # render its live-orders row now, a few microseconds, rather
            # than a thousand of them in the next list call, which holds
            # the lock (and every order POST) for tens of milliseconds
            self.live_json()
        else:
            self.ended_session = None

    def describe(self, with_symbol=False):
        """Return "Buy 1 Limit 457.00, GTC" (Bought/Sold once filled)."""
        buy = self.side == "BUY"
        if self.status == "Filled":
            verb = "Bought" if buy else "Sold"
        else:
            verb = "Buy" if buy else "Sell"
        kind = {"MKT": "Market", "LMT": "Limit %s",
                "STP": "Stop %s", "STOP_LIMIT": "Stop %s Limit %s"}
        text = kind[self.order_type]
        if self.order_type in ("LMT", "STP"):
            text = text % fmt_price(self.price)
        elif self.order_type == "STOP_LIMIT":
            text = text % (fmt_price(self.aux_price), fmt_price(self.price))
        tif = "Day" if self.tif == "DAY" else self.tif
        symbol = " " + self.contract.symbol if with_symbol else ""
        return "%s %s%s %s, %s" % (verb, fmt_qty(self.quantity), symbol,
                                   text, tif)

    def size_and_fills(self):
        """Return "40/100" while working, "100" once filled."""
        if self.status == "Filled":
            return fmt_qty(self.quantity)
        return "%s/%s" % (fmt_qty(self.filled), fmt_qty(self.quantity))

    def last_time(self):
        """Time of the last execution, else of the last update."""
        if self.executions:
            return self.executions[-1].ts
        return self.updated_at

    def live_json(self):
        """Return live_row() as JSON text.

        An ended order's row changes rarely (a late fill, a correction),
        and a session lists up to 1000 of them on every call: its text
        is kept while what it is made of stays the same.
        """
        if not self.terminal:
            return json.dumps(self.live_row(), default=json_default)
        key = (self.status, self.quantity, self.filled, self.price,
               self.aux_price, self.tif, self.cost, self.last_time(),
               self.outside_rth)
        if self._live_json is None or self._live_json[0] != key:
            self._live_json = (key, json.dumps(self.live_row(),
                                               default=json_default))
        return self._live_json[1]

    def live_row(self):
        """Return the GET /iserver/account/orders element."""
        contract = self.contract
        ccp = self.status
        if ccp in ("PreSubmitted", "Submitted", "WarnState"):
            ccp = "Submitted"
        elif ccp == "PendingSubmit":
            ccp = "Pending Submit"
        last = self.last_time()
        row = {
            "acct": self.account,
            "account": self.account,
            "orderId": self.order_id,
            "conid": contract.conid,
            "conidex": str(contract.conid),
            "ticker": contract.symbol,
            "description1": contract.symbol,
            "companyName": contract.name,
            "secType": "STK",
            "listingExchange": contract.listing,
            "cashCcy": "USD",
            "side": self.side,
            "orderType": ORDER_TYPES[self.order_type][0],
            "origOrderType": ORDER_TYPES[self.order_type][1],
            "timeInForce": "CLOSE" if self.tif == "DAY" else self.tif,
            "status": self.status,
            "order_ccp_status": ccp,
            "totalSize": float(self.quantity),
            "filledQuantity": float(self.filled),
            "remainingQuantity": float(self.remaining),
            "sizeAndFills": self.size_and_fills(),
            "orderDesc": self.describe(),
            "order_ref": self.coid,
            "lastExecutionTime": utc(last, "%y%m%d%H%M%S"),
            "lastExecutionTime_r": epoch_ms(last),
            "outsideRTH": self.outside_rth,
            "supportsTaxOpt": "1",
            "bgColor": "#FFFFFF",
            "fgColor": "#000000" if self.terminal else "#0000CC",
        }
        if self.order_type != "MKT":
            row["price"] = fmt_price(self.price)
        if self.order_type == "STOP_LIMIT":
            row["auxPrice"] = fmt_price(self.aux_price)
        if self.filled:
            row["avgPrice"] = fmt_avg(self.avg_price())
        return row

    def status_row(self, request_id):
        """Return GET /iserver/account/order/status/{id} (snake_case)."""
        contract = self.contract
        row = {
            "account": self.account,
            "alert_active": 1,
            "allowed_duplicate_opposite": True,
            "available_chart_periods": "#R|1",
            "bg_color": "#000000" if self.terminal else "#0000CC",
            "cannot_cancel_order": self.terminal,
            "child_order_type": "0",
            "company_name": contract.name,
            "conid": contract.conid,
            "conidex": str(contract.conid),
            "contract_description_1": contract.symbol,
            "cum_fill": qty_str(self.filled),
            "currency": "USD",
            "deactivate_order": False,
            "editable_fields": "" if self.terminal else "\u001e",
            "exit_strategy_chart_description": self.describe(),
            "exit_strategy_tool_availability": "1",
            "fg_color": "#FFFFFF",
            "listing_exchange": contract.listing,
            "option_acct": "c",
            "order_ccp_status": CCP_DIGIT[self.status],
            "order_clearing_account": self.account,
            "order_description": self.describe(),
            "order_description_with_contract": self.describe(True),
            "order_id": self.order_id,
            "order_not_editable": self.terminal,
            "order_status": self.status,
            "order_status_description": STATUS_TEXT[self.status],
            "order_time": utc(self.placed_at, "%y%m%d%H%M%S"),
            "order_type": ORDER_TYPES[self.order_type][1],
            "outside_rth": self.outside_rth,
            "request_id": str(request_id),
            "sec_type": "STK",
            "server_id": "0",
            "side": "B" if self.side == "BUY" else "S",
            "size": qty_str(self.remaining),
            "size_and_fills": self.size_and_fills(),
            "sub_type": None,
            "symbol": contract.symbol,
            "tif": self.tif,
            "total_size": qty_str(self.quantity),
            "use_price_mgmt_algo": False,
        }
        if self.order_type in ("LMT", "STOP_LIMIT"):
            row["limit_price"] = fmt_price(self.price)
            row["exit_strategy_display_price"] = fmt_price(self.price)
        if self.order_type == "STP":
            row["stop_price"] = fmt_price(self.price)
            row["exit_strategy_display_price"] = fmt_price(self.price)
        if self.order_type == "STOP_LIMIT":
            row["stop_price"] = fmt_price(self.aux_price)
        if self.filled:
            row["average_price"] = fmt_avg(self.avg_price())
        return row

    def book_row(self):
        """Return the order as listed by GET /sim/book."""
        avg = self.avg_price()
        return {
            "order_id": self.order_id,
            "cOID": self.coid,
            "account": self.account,
            "conid": self.contract.conid,
            "symbol": self.contract.symbol,
            "side": self.side,
            "quantity": float(self.quantity),
            "order_type": self.order_type,
            "price": None if self.price is None else fmt_price(self.price),
            "aux_price": None if self.aux_price is None
            else fmt_price(self.aux_price),
            "tif": self.tif,
            "status": self.status,
            "filled": float(self.filled),
            "remaining": float(self.remaining),
            "avg_price": None if avg is None else fmt_avg(avg),
            "placed_at": iso_utc(self.placed_at),
            "brokerage_session": self.placed_session,
            "parent_order_id": None if self.parent is None
            else self.parent.order_id,
            "held": self.held,
            "executions": [e.book_row() for e in self.executions],
        }

    def to_state(self):
        """Return a JSON-ready description for --state-file."""
        return {
            "order_id": self.order_id, "cOID": self.coid,
            "account": self.account, "conid": self.contract.conid,
            "side": self.side, "quantity": str(self.quantity),
            "orderType": self.order_type,
            "price": None if self.price is None else str(self.price),
            "auxPrice": None if self.aux_price is None
            else str(self.aux_price),
            "tif": self.tif, "outsideRTH": self.outside_rth,
            "placed_at": self.placed_at, "updated_at": self.updated_at,
            "placed_session": self.placed_session,
            "ended_session": self.ended_session, "status": self.status,
            "triggered": self.triggered,
            "executions": [e.to_state() for e in self.executions],
        }

    @classmethod
    def from_state(cls, data, contracts):
        """Rebuild an order (and its executions) from to_state() output."""
        ticket = {"cOID": data["cOID"], "side": data["side"],
                  "quantity": Decimal(data["quantity"]),
                  "orderType": data["orderType"], "tif": data["tif"],
                  "outsideRTH": data["outsideRTH"]}
        for key in ("price", "auxPrice"):
            if data[key] is not None:
                ticket[key] = Decimal(data[key])
        order = cls(data["order_id"], ticket, data["account"],
                    contracts.get(data["conid"]), data["placed_at"],
                    data["placed_session"])
        order.updated_at = data["updated_at"]
        order.ended_session = data["ended_session"]
        order.status = data["status"]
        order.triggered = data["triggered"]
        for item in data["executions"]:
            exe = Execution(item["execution_id"], order,
                            Decimal(item["size"]), Decimal(item["price"]),
                            item["ts"], Decimal(item["commission"]))
            # a state file written before corrections were kept has none
            exe.corrected = item.get("corrected", False)
            order.executions.append(exe)
            if not exe.corrected:
                order.filled += exe.size
                order.cost += exe.size * exe.price
        return order


class Book:
    """Orders, executions, the cOID registry, prices, bars and the log.

    The execution counter survives clear() so execution ids never repeat
    within one simulator's life (nor across --state-file restarts).
    """

    def __init__(self):
        self.exec_counter = random.randint(0x10000, 0x0FFFFFFF)
        self.clear()

    def clear(self):
        """Forget every order, execution, price, bar and log entry."""
        self.orders = {}
        self.by_coid = {}
        self.coid_times = {}
        self.executions = []
        self.log = []
        self.prices = {}
        self.bars = {}
        self.adjustments = {}
        self.positions_cache = {}

    def new_order_id(self):
        """Return an unused order id (a 9 or 10 digit integer)."""
        while True:
            order_id = random.randint(100000000, 2147483647)
            if order_id not in self.orders:
                return order_id

    def new_execution_id(self, ts):
        """Return a unique id shaped like "0000e0d5.6576fd38.01.01"."""
        self.exec_counter = (self.exec_counter + 1) & 0xFFFFFFFF
        return "%08x.%08x.01.01" % (self.exec_counter, int(ts))

    def add(self, order):
        """Enter a new order and register its cOID.

        Returns what the cOID pointed to before (order and time), for
        remove().
        """
        before = (self.by_coid.get(order.coid),
                  self.coid_times.get(order.coid))
        self.orders[order.order_id] = order
        self.by_coid[order.coid] = order
        self.coid_times[order.coid] = time.time()
        return before

    def remove(self, order, before):
        """Take back an order whose placement failed half-way.

        Its executions go too, its scheduled events are made stale, and
        the cOID points again to what add() returned as before.
        """
        self.orders.pop(order.order_id, None)
        old_order, old_time = before
        if old_order is None:
            self.by_coid.pop(order.coid, None)
            self.coid_times.pop(order.coid, None)
        else:
            self.by_coid[order.coid] = old_order
            self.coid_times[order.coid] = old_time
        self.executions = [e for e in self.executions if e.order is not order]
        self.positions_cache.pop(order.account, None)
        order.token += 1

    def coid_taken(self, coid, window_s):
        """Tell whether coid was registered less than window_s ago."""
        registered = self.coid_times.get(coid)
        return registered is not None and time.time() - registered < \
            window_s

    def market_price(self, conid):
        """Return the control-set price, else the last loaded bar close."""
        price = self.prices.get(conid)
        if price is None and self.bars.get(conid):
            price = to_decimal(self.bars[conid][-1]["c"])
        return price

    def positions(self, account, contracts):
        """Return position rows for account, computed from executions.

        Average cost follows buys and sells in time order; realised P&L
        is booked when a fill reduces the position.  Control adjustments
        (/sim/position) add to the quantity only.
        """
        state = {}
        for exe in sorted(self.executions, key=lambda e: e.ts):
            order = exe.order
            if order.account != account or exe.corrected:
                continue
            qty, avg, realized, last = state.get(
                order.contract.conid, (ZERO, ZERO, ZERO, exe.price))
            signed = exe.size if order.side == "BUY" else -exe.size
            if qty == 0 or (qty > 0) == (signed > 0):
                avg = (avg * abs(qty) + exe.price * exe.size) / \
                    (abs(qty) + exe.size)
            else:
                closed = min(abs(qty), exe.size)
                direction = 1 if qty > 0 else -1
                realized += closed * (exe.price - avg) * direction
                if exe.size > abs(qty):
                    avg = exe.price
            qty += signed
            state[order.contract.conid] = (qty, avg, realized, exe.price)
        for (acct, conid), adjust in self.adjustments.items():
            if acct == account:
                qty, avg, realized, last = state.get(
                    conid, (ZERO, ZERO, ZERO, ZERO))
                state[conid] = (qty + adjust, avg, realized, last)
        rows = []
        for conid in sorted(state):
            qty, avg, realized, last = state[conid]
            if qty == 0:
                continue
            contract = contracts.get(conid)
            mark = self.market_price(conid) or last or avg
            rows.append({
                "acctId": account, "conid": conid,
                "contractDesc": contract.symbol, "position": float(qty),
                "mktPrice": float(mark), "mktValue": float(qty * mark),
                "currency": "USD", "avgCost": float(avg),
                "avgPrice": float(avg), "realizedPnl": float(realized),
                "unrealizedPnl": float((mark - avg) * qty),
                "assetClass": "STK", "ticker": contract.symbol,
                "listingExchange": contract.exchange, "multiplier": 0.0,
                "undConid": 0, "expiry": None, "putOrCall": None,
                "strike": "0", "isUS": True, "pageSize": 100, "model": ""})
        return rows


class FillEngine:
    """Decides when and at what price working orders fill or cancel.

    Every method runs with Simulator.lock held.  Scheduled callbacks check
    the simulator epoch and the order token before they act.
    """

    def __init__(self, sim):
        self.sim = sim

    @property
    def config(self):
        """The simulator's current configuration."""
        return self.sim.config

    def _later(self, order, delay_s, action):
        """Run action(order) after delay_s gateway seconds (scaled)."""
        sim = self.sim
        epoch, token = sim.epoch, order.token

        def fire():
            with sim.lock:
                if sim.epoch == epoch and order.token == token:
                    action(order)
                    sim.mark_dirty()
        sim.scheduler.call_later(delay_s * sim.scale, fire)

    def market_price(self, order):
        """Return the price order can execute at now, or None.

        Elects stop orders whose stop price has been reached and checks
        limits: a buy fills at or below its limit, a sell at or above.
        """
        price = self.sim.book.market_price(order.contract.conid)
        if price is None:
            return None
        buy = order.side == "BUY"
        if order.order_type in ("STP", "STOP_LIMIT") and not order.triggered:
            stop = order.price if order.order_type == "STP" \
                else order.aux_price
            if (buy and price < stop) or (not buy and price > stop):
                return None
            order.triggered = True
            if order.status in ("PreSubmitted", "PendingSubmit"):
                order.set_status("Submitted", self.sim.session.seq)
        if order.order_type in ("LMT", "STOP_LIMIT"):
            if (buy and price > order.price) or \
                    (not buy and price < order.price):
                return None
        return price

    def work(self, order, from_event=False):
        """Try to fill order according to fill_mode; see the README."""
        if order.terminal or order.cancel_requested or order.held:
            return
        if from_event:
            order.event_pending = False
        elif order.event_pending:
            return
        mode = self.config["fill_mode"]
        price = self.market_price(order)
        if price is not None:
            if mode == "immediate" or (mode == "delayed" and from_event):
                self.execute(order, order.remaining, price)
            elif mode == "delayed":
                order.event_pending = True
                self._later(order, self.config["fill_delay_s"],
                            lambda o: self.work(o, True))
                return
            elif mode == "partial":
                self._partial_step(order, price)
        if order.tif == "IOC" and not order.terminal and \
                not order.event_pending:
            order.set_status("Cancelled", self.sim.session.seq)

    def _partial_step(self, order, price):
        """Execute the next size of the partial plan; schedule the next."""
        if order.fill_plan is None:
            order.fill_plan = list(self.config["partial_sizes"])
            order.plan_prices = list(self.config["partial_prices"])
        if order.plan_index >= len(order.fill_plan):
            return
        size = min(order.fill_plan[order.plan_index], order.remaining)
        if order.plan_index < len(order.plan_prices):
            price = order.plan_prices[order.plan_index]
        order.plan_index += 1
        self.execute(order, size, price)
        if not order.terminal and order.plan_index < len(order.fill_plan) \
                and order.tif != "IOC":
            order.event_pending = True
            self._later(order, self.config["fill_delay_s"],
                        lambda o: self.work(o, True))

    def execute(self, order, size, price, ts=None):
        """Book one execution of size at price; update status and sums."""
        if size <= 0:
            return None
        ts = time.time() if ts is None else ts
        book = self.sim.book
        commission = max(self.config["commission_min"],
                         self.config["commission_per_share"] * size)
        commission = min(commission, size * price * CENT)
        commission = commission.quantize(CENT, rounding=ROUND_HALF_UP)
        exe = Execution(book.new_execution_id(ts), order, size, price, ts,
                        commission)
        exe.commission_hidden = self.config["late_commission"]
        order.executions.append(exe)
        book.executions.append(exe)
        order.filled += size
        order.cost += size * price
        order.updated_at = time.time()
        if order.parent is not None:
            self._oca_cancel(order)
        if order.remaining <= 0:
            order.set_status("Filled", self.sim.session.seq)
        elif order.status in ("PreSubmitted", "PendingSubmit"):
            order.set_status("Submitted", self.sim.session.seq)
        book.positions_cache.pop(order.account, None)
        return exe

    def _oca_cancel(self, order):
        """A bracket child executed: cancel its OCA siblings."""
        for other in order.parent.children:
            if other is not order and not other.terminal:
                other.held = False
                other.set_status("Cancelled", self.sim.session.seq)

    def parent_ended(self, parent):
        """A bracket parent is terminal: release or cancel its children.

        Filled, or ended with part of it filled: the children start
        working (with their own size, until modified).  Ended with
        nothing filled: they are cancelled.
        """
        for child in parent.children:
            if child.terminal or not child.held:
                continue
            child.held = False
            if parent.filled > 0:
                if child.status in ("PreSubmitted", "PendingSubmit") and \
                        child.order_type in ("MKT", "LMT"):
                    child.set_status("Submitted", self.sim.session.seq)
                self.work(child)
            else:
                child.set_status("Cancelled", self.sim.session.seq)

    def on_price(self, conid):
        """Let working orders for conid react to a new price."""
        for order in list(self.sim.book.orders.values()):
            if order.contract.conid == conid:
                self.work(order)

    def cancel(self, order):
        """Start cancelling order; return True when it ended at once."""
        if order.terminal:
            return False
        order.cancel_requested = True
        order.token += 1
        order.event_pending = False
        delay = self.config["cancel_delay_s"]
        if delay <= 0:
            self._fill_during_cancel(order)
            self._finish_cancel(order)
            return True
        order.set_status("PendingCancel", self.sim.session.seq)
        if self.config["fill_during_cancel"] is not None:
            self._later(order, delay / 2, self._fill_during_cancel)
        self._later(order, delay, self._finish_cancel)
        return False

    def _fill_during_cancel(self, order):
        """Land the configured fill while the cancel is pending."""
        wanted = self.config["fill_during_cancel"]
        if wanted is None or order.terminal:
            return
        size = order.remaining if wanted == "all" else \
            min(wanted, order.remaining)
        price = self.sim.book.market_price(order.contract.conid)
        if price is None:
            price = order.price if order.price is not None else \
                order.avg_price()
        if price is not None and order.order_type in ("LMT", "STOP_LIMIT") \
                and order.price is not None:
            # a limit fills at its limit or better, cancel or not
            price = min(price, order.price) if order.side == "BUY" \
                else max(price, order.price)
        if price is not None:
            self.execute(order, size, price)

    def _finish_cancel(self, order):
        """Complete a cancel: the unfilled balance becomes Cancelled."""
        if not order.terminal:
            order.set_status("Cancelled", self.sim.session.seq)


class Route:
    """One CPAPI endpoint: methods, path pattern and its requirements.

    auth: "none", "sso" (SSO session needed) or "iserver" (brokerage
    session needed); gated: /iserver/accounts must have been queried;
    pacing: rate-limit key; order_log: log kind for order POSTs.
    """

    def __init__(self, name, methods, pattern, auth, gated=False,
                 pacing=None, order_log=None):
        self.name = name
        self.methods = methods
        self.regex = re.compile("^" + pattern + "$")
        self.auth = auth
        self.gated = gated
        self.pacing = pacing
        self.order_log = order_log


ROUTES = (
    Route("auth_status", ("GET", "POST"), r"/iserver/auth/status", "none"),
    Route("ssodh_init", ("POST",), r"/iserver/auth/ssodh/init", "sso"),
    Route("reauthenticate", ("GET", "POST"), r"/iserver/reauthenticate",
          "none"),
    Route("tickle", ("GET", "POST"), r"/tickle", "sso", pacing="tickle"),
    Route("sso_validate", ("GET",), r"/sso/validate", "sso",
          pacing="sso_validate"),
    Route("logout", ("POST",), r"/logout", "sso"),
    Route("accounts", ("GET",), r"/iserver/accounts", "iserver"),
    Route("switch_account", ("POST",), r"/iserver/account", "iserver"),
    Route("suppress", ("POST",), r"/iserver/questions/suppress", "iserver"),
    Route("suppress_reset", ("POST",), r"/iserver/questions/suppress/reset",
          "iserver"),
    Route("secdef_search", ("GET", "POST"), r"/iserver/secdef/search",
          "iserver"),
    Route("contract_info", ("GET",), r"/iserver/contract/(?P<conid>\d+)/info",
          "iserver"),
    Route("trsrv_stocks", ("GET",), r"/trsrv/stocks", "sso"),
    Route("snapshot", ("GET",), r"/iserver/marketdata/snapshot", "iserver",
          gated=True),
    Route("unsubscribe", ("POST",), r"/iserver/marketdata/unsubscribe",
          "iserver"),
    Route("unsubscribe_all", ("GET",), r"/iserver/marketdata/unsubscribeall",
          "iserver"),
    Route("history", ("GET",), r"/iserver/marketdata/history", "iserver"),
    Route("place_order", ("POST",),
          r"/iserver/account/(?P<account>[^/]+)/orders", "iserver",
          gated=True, order_log="place"),
    Route("reply", ("POST",), r"/iserver/reply/(?P<reply_id>[^/]+)",
          "iserver", gated=True),
    Route("modify_order", ("POST",),
          r"/iserver/account/(?P<account>[^/]+)/order/(?P<order_id>-?\d+)",
          "iserver", gated=True, order_log="modify"),
    Route("cancel_order", ("DELETE",),
          r"/iserver/account/(?P<account>[^/]+)/order/(?P<order_id>-?\d+)",
          "iserver", gated=True),
    Route("live_orders", ("GET",), r"/iserver/account/orders", "iserver",
          gated=True, pacing="orders"),
    Route("order_status", ("GET",),
          r"/iserver/account/order/status/(?P<order_id>-?\d+)", "iserver"),
    Route("trades", ("GET",), r"/iserver/account/trades", "iserver",
          pacing="trades"),
    Route("portfolio_accounts", ("GET",), r"/portfolio/accounts", "sso",
          pacing="portfolio_accounts"),
    Route("positions", ("GET",),
          r"/portfolio/(?P<account>[^/]+)/positions/(?P<page>\d+)", "sso"),
    Route("positions_invalidate", ("POST",),
          r"/portfolio/(?P<account>[^/]+)/positions/invalidate", "sso"),
)


class Request:
    """One parsed API or control request handed to a handler method."""

    def __init__(self, method, path, params, query, body):
        self.method = method
        self.path = path
        self.params = params
        self.query = query
        self.body = body
        self._json = None
        self._parsed = False
        self.log_entry = None

    def arg(self, name, default=None):
        """Return the first value of query parameter name."""
        values = self.query.get(name)
        return values[0] if values else default

    def json(self, status=500, empty=None):
        """Parse the body (floats as Decimal); raise ApiError(status)."""
        if not self._parsed:
            self._parsed = True
            if not self.body or not self.body.strip():
                self._json = empty
            else:
                try:
                    self._json = json.loads(self.body.decode("utf-8"),
                                            parse_float=Decimal)
                except (ValueError, UnicodeDecodeError):
                    raise fail(status, "malformed request: the body is "
                               "not valid JSON", True) from None
        return self._json


class GcPacer:
    """Keeps Python's cyclic garbage collector from pausing the gateway.

    The book grows by thousands of orders a minute under load, and a
    full collection walks all of it while every request waits: 36 ms at
    6,000 orders and 160 ms at 20,000 were measured, which a client
    would see as the gateway's latency.  Once a second this thread
    collects what is young and freezes the survivors (gc.freeze), so
    that later collections walk only the last second's objects.  A
    reset of the simulator unfreezes everything for one full collection.
    """

    def __init__(self, interval=1.0):
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="sim-gc")
        self._thread.start()

    @staticmethod
    def forget():
        """Let the next pass look at every object again."""
        gc.unfreeze()

    def stop(self):
        """Stop the thread."""
        self._stop.set()

    def _run(self):
        while not self._stop.wait(self._interval):
            gc.collect()
            gc.freeze()


class Simulator:
    """The simulated gateway: state, routing and every CPAPI handler."""

    def __init__(self, accounts, scale=1.0, auth_state="authenticated",
                 state_file=None, log_file=None, session_cookie=False):
        self.lock = threading.RLock()
        self.accounts = accounts
        # --session-cookie: the value of the x-sess-uuid cookie handed
        # out, and how many CPAPI requests sent it back
        self.cookie = secrets.token_hex(16) if session_cookie else None
        self.cookie_returned = 0
        self.base_scale = scale
        self.state_file = state_file
        self.log_lock = threading.Lock()
        self.log_out = None
        if log_file:
            self.log_out = open(log_file, "a", encoding="utf-8",
                                buffering=1)
        self.scheduler = Scheduler()
        self.gc_pacer = GcPacer()
        self.engine = FillEngine(self)
        self.control = ControlApi(self)
        self.started = time.monotonic()
        self.book = Book()
        self.epoch = 0
        self.save_pending = False
        self.saved_text = None
        self.request_ids = itertools.count(37000)
        self.hold_ids = itertools.count(1)
        self.held = {}
        self.held_done = 0
        self.reset(auth_state, session_seq=0)
        if state_file and os.path.exists(state_file):
            self.load_state()

    @property
    def scale(self):
        """Current time scale (the config knob overrides --time-scale)."""
        override = self.config["time_scale"]
        return self.base_scale if override is None else override

    def reset(self, auth_state="authenticated", session_seq=None):
        """Return to a fresh start: empty book, defaults, new session."""
        self.epoch += 1
        seq = self.session.seq if session_seq is None else session_seq
        self.config = Config()
        self.contracts = Contracts()
        self.book.clear()
        GcPacer.forget()
        self.limiter = RateLimiter()
        self.session = Session(self.accounts, auth_state, time.monotonic(),
                               seq)
        self.order_counter = 0
        self.stats = {}
        self.forced_429 = 0

    # ----- request entry point -------------------------------------------

    def handle(self, method, raw_path, query, body):
        """Serve one request; return (HTTP status, JSON-ready payload)."""
        if raw_path == "/sim" or raw_path.startswith("/sim/"):
            with self.lock:
                try:
                    status, payload = self.control.handle(
                        method, raw_path,
                        Request(method, raw_path, {}, query, body))
                except Exception as exc:  # a defect: answer, do not drop
                    status, payload = internal_error(exc)
                self.mark_dirty()
                return status, payload
        for prefix in PREFIXES:
            if raw_path.startswith(prefix + "/"):
                path = raw_path[len(prefix):]
                break
        else:
            return 404, {"error": "not found", "statusCode": 404}
        route, params, allowed = self._match(method, path)
        if route is None:
            if allowed:
                return 405, {"error": "method not allowed",
                             "statusCode": 405}
            return 404, {"error": "not found", "statusCode": 404}
        req = Request(method, path, params, query, body)
        with self.lock:
            key = "%s %s" % (method, route.name)
            self.stats[key] = self.stats.get(key, 0) + 1
            entry = self._log_order_post(route, req)
            req.log_entry = entry
            hold = self._take_hold(route, req)
        if hold is not None and hold["phase"] == "before":
            self._wait_held(hold)
        with self.lock:
            try:
                if route.name in ORDER_ROUTES and self._drop_request(entry):
                    raise fail(504, "Gateway Timeout", True)
                status, payload = 200, self._serve(route, req)
            except ApiError as exc:
                status, payload = exc.status, exc.payload
            except Exception as exc:  # a defect: answer, do not drop
                status, payload = internal_error(exc)
            if entry is not None:
                self._finish_log_entry(entry, status, payload)
            if status == 200 and route.name in ORDER_ROUTES:
                status, payload = self._lose_answer(entry, status, payload)
            self.mark_dirty()
        if hold is not None and hold["phase"] == "after":
            self._wait_held(hold, status)
        return status, payload

    def _take_hold(self, route, req):
        """Consume one count of the hold fault when it covers route.

        Returns the held request's entry (also listed by /sim/held until
        its answer leaves), or None.  Called with the lock held.
        """
        spec = self.config["hold"]
        if spec is None or spec["route"] != route.name:
            return None
        spec["count"] -= 1
        if spec["count"] <= 0:
            self.config.values["hold"] = None
        now = time.time()
        held = {"id": next(self.hold_ids), "route": route.name,
                "phase": spec["phase"], "ms": spec["ms"],
                "since_ms": epoch_ms(now), "path": req.path,
                "cOID": req.log_entry["cOID"] if req.log_entry else None,
                "reply_id": req.params.get("reply_id"), "status": None}
        self.held[held["id"]] = held
        return held

    def _wait_held(self, held, status=None):
        """Sleep through a hold (without the lock), then forget it."""
        with self.lock:
            held["status"] = status
        time.sleep(held["ms"] / 1000.0)
        with self.lock:
            self.held.pop(held["id"], None)
            self.held_done += 1

    def _drop_request(self, entry):
        """With drop_next, tell whether to drop this request unserved."""
        drop = self.config["drop_next"]
        if not drop:
            return False
        drop["count"] -= 1
        if drop["count"] <= 0:
            self.config.values["drop_next"] = None
        if entry is not None:
            entry["dropped"] = True
        return True

    def _lose_answer(self, entry, status, payload):
        """With answer_lost_next, carry the request out but answer 504."""
        lost = self.config["answer_lost_next"]
        if not lost:
            return status, payload
        lost["count"] -= 1
        if lost["count"] <= 0:
            self.config.values["answer_lost_next"] = None
        if entry is not None:
            entry["answer_lost"] = True
        return 504, {"error": "Gateway Timeout", "statusCode": 504}

    def _match(self, method, path):
        """Find the route for path; tell whether another method fits."""
        allowed = False
        for route in ROUTES:
            found = route.regex.match(path)
            if found:
                if method in route.methods:
                    return route, found.groupdict(), True
                allowed = True
        return None, {}, allowed

    def _serve(self, route, req):
        """Apply timers, rate limits and auth checks, then the handler."""
        now = time.monotonic()
        session = self.session
        session.check_expiry(now, self.scale)
        session.touch(now)
        forced = self.config["force_429"]
        if forced and forced["route"] == route.name:
            forced["count"] -= 1
            if forced["count"] <= 0:
                self.config.values["force_429"] = None
            self.forced_429 += 1
            raise fail(429, "Too Many Requests", True)
        refusal = self.limiter.check(route.pacing, self.config, self.scale,
                                     now)
        if refusal:
            raise fail(429, "Too Many Requests", True)
        if req.method == "POST" and not req.body and \
                self.config["require_post_body"]:
            raise fail(411, "Length Required", True)
        if self.config["prompt_strict"] and route.name != "reply":
            session.invalidate_prompt()
        if session.knobs["maintenance"] and route.name != "auth_status" \
                and req.path.startswith("/iserver/"):
            raise fail(503, "Service Unavailable", True)
        self._check_auth(route)
        return getattr(self, "api_" + route.name)(req)

    def _check_auth(self, route):
        """Refuse the request when the session cannot serve the route."""
        session = self.session
        if route.auth == "none":
            return
        if session.state == "logged-out":
            raise fail(401, "not authenticated", True)
        if route.auth == "sso":
            return
        if session.state == "no-bridge":
            raise fail(400, "Bad Request: no bridge", True)
        if session.state != "authenticated":
            raise fail(401, "not authenticated", True)
        if route.gated and not session.accounts_queried:
            raise fail(400, "Please query /accounts first")

    def _log_order_post(self, route, req):
        """Record an order POST in /sim/log before anything can refuse it."""
        if route.order_log is None:
            return None
        now = time.time()
        try:
            body = json.loads(req.body.decode("utf-8")) if req.body \
                else None
        except (ValueError, UnicodeDecodeError):
            body = req.body.decode("utf-8", "replace")
        ticket = body
        if isinstance(body, dict) and isinstance(body.get("orders"), list):
            ticket = body["orders"][0] if body["orders"] else None
        elif isinstance(body, list):
            ticket = body[0] if body else None
        coid = ticket.get("cOID") if isinstance(ticket, dict) else None
        entry = {"seq": len(self.book.log) + 1, "kind": route.order_log,
                 "cOID": coid, "account": req.params.get("account"),
                 "received_at": iso_utc(now), "received_at_ms": epoch_ms(now),
                 "received_at_us": int(round(now * 1e6)),
                 "path": req.path, "body": body, "http_status": None,
                 "outcome": None, "error": None,
                 "order_id": None}
        if route.order_log == "modify":
            entry["order_id"] = int(req.params["order_id"])
        self.book.log.append(entry)
        return entry

    @staticmethod
    def _finish_log_entry(entry, status, payload):
        """Note the answer an order POST got."""
        entry["http_status"] = status
        if isinstance(payload, dict) and "error" in payload:
            entry["outcome"] = "error"
            entry["error"] = payload["error"]
        elif isinstance(payload, list) and payload and "id" in payload[0]:
            entry["outcome"] = "prompt"
        elif isinstance(payload, list) and payload:
            entry["outcome"] = "accepted"
            entry["order_id"] = int(payload[0]["order_id"])

    def record_request(self, method, path, status, elapsed):
        """Append one request to --log-file as a JSON line."""
        if self.log_out is None:
            return
        line = json.dumps({"time": iso_utc(time.time()), "method": method,
                           "path": path, "status": status,
                           "ms": round(elapsed * 1000, 3)})
        with self.log_lock:
            self.log_out.write(line + "\n")

    # ----- session endpoints ---------------------------------------------

    def api_auth_status(self, req):
        """GET/POST /iserver/auth/status."""
        return self.session.status_body()

    def api_ssodh_init(self, req):
        """POST /iserver/auth/ssodh/init {"publish": true, "compete": ...}."""
        body = req.json(empty={})
        if not isinstance(body, dict) or body.get("publish") is not True:
            raise fail(500, "publish must be true", True)
        session = self.session
        compete = body.get("compete") is True
        if session.state == "competing" and not compete:
            return session.status_body()
        delay = session.knobs["init_delay_s"]
        if delay > 0:
            session.set_state("connected", time.monotonic())
            self._authenticate_later(delay)
        else:
            session.set_state("authenticated", time.monotonic(),
                              new_session=True)
        return session.status_body()

    def _authenticate_later(self, delay_s):
        """Finish a (re)authentication after delay_s gateway seconds."""
        epoch, token = self.epoch, self.session.token

        def fire():
            with self.lock:
                session = self.session
                if self.epoch == epoch and session.token == token and \
                        session.state == "connected":
                    session.set_state("authenticated", time.monotonic())
        self.scheduler.call_later(delay_s * self.scale, fire)

    def api_reauthenticate(self, req):
        """GET/POST /iserver/reauthenticate: starts re-authentication."""
        session = self.session
        if session.state in ("authenticated", "connected", "no-bridge"):
            session.set_state("connected", time.monotonic())
            self._authenticate_later(session.knobs["reauth_delay_s"])
        return {"message": "triggered"}

    def api_tickle(self, req):
        """GET/POST /tickle (note the "collission" key)."""
        session = self.session
        body = {"session": session.sso_id,
                "ssoExpires": session.expires_ms(time.monotonic(),
                                                 self.scale),
                "collission": session.state == "competing",
                "userId": USER_ID,
                "hmds": {"error": "no bridge"},
                "iserver": {}}
        if session.state != "no-bridge":
            status = session.status_body()
            body["iserver"]["authStatus"] = {
                key: status[key] for key in
                ("authenticated", "competing", "connected", "message",
                 "MAC", "serverInfo")}
        return body

    def api_sso_validate(self, req):
        """GET /sso/validate."""
        session = self.session
        now = time.monotonic()
        return {"USER_ID": USER_ID, "USER_NAME": USER_NAME, "RESULT": True,
                "AUTH_TIME": epoch_ms(session.login_wall),
                "SF_ENABLED": False, "IS_FREE_TRIAL": False,
                "CREDENTIAL": USER_NAME, "IP": "127.0.0.1",
                "EXPIRES": session.expires_ms(now, self.scale),
                "QUALIFIED_FOR_MOBILE_AUTH": None,
                "LANDING_APP": "UNIVERSAL", "IS_MASTER": False,
                "lastAccessed": epoch_ms(time.time()), "LOGIN_TYPE": 2,
                "PAPER_USER_NAME": USER_NAME,
                "features": {"env": "PROD", "realtime": True,
                             "bond": False},
                "region": "NJ"}

    def api_logout(self, req):
        """POST /logout: ends the SSO session."""
        self.session.log_out("logout", time.monotonic())
        return {"status": True}

    # ----- accounts, questions, contracts --------------------------------

    def api_accounts(self, req):
        """GET /iserver/accounts: also lifts the accounts gate."""
        session = self.session
        session.accounts_queried = True
        props = {"hasChildAccounts": False, "supportsCashQty": True,
                 "noFXConv": False, "isProp": False,
                 "supportsFractions": True, "allowCustomerTime": False}
        return {"accounts": list(self.accounts),
                "selectedAccount": session.selected,
                "aliases": {a: a for a in self.accounts},
                "acctProps": {a: dict(props) for a in self.accounts},
                "allowFeatures": {"allowedAssetTypes": "STK",
                                  "snapshotRefreshTimeout": 30},
                "chartPeriods": {"STK": ["*"]},
                "groups": [], "profiles": [],
                "serverInfo": dict(SERVER_INFO),
                "sessionId": "%s.%08d" % (session.sso_id[:7], USER_ID),
                "isFT": False, "isPaper": True}

    def api_switch_account(self, req):
        """POST /iserver/account {"acctId": ...}."""
        body = req.json(empty={})
        account = body.get("acctId") if isinstance(body, dict) else None
        if account not in self.accounts:
            raise fail(400, "invalid acctId", True)
        session = self.session
        if session.selected == account and session.account_switched:
            raise fail(500, "Account already set")
        session.selected = account
        session.account_switched = True
        return {"set": True, "acctId": account}

    def api_suppress(self, req):
        """POST /iserver/questions/suppress {"messageIds": [...]}."""
        body = req.json(empty={})
        ids = body.get("messageIds") if isinstance(body, dict) else None
        if not isinstance(ids, list) or len(ids) > 51 or not all(
                isinstance(i, str) for i in ids):
            raise fail(400, "messageIds must be a list of at most 51 "
                       "strings", True)
        self.session.suppressed = set(ids)
        return {"status": "submitted"}

    def api_suppress_reset(self, req):
        """POST /iserver/questions/suppress/reset."""
        self.session.suppressed = set()
        return {"status": "submitted"}

    def api_secdef_search(self, req):
        """GET or POST /iserver/secdef/search (conid as a string)."""
        if req.method == "POST":
            body = req.json(empty={})
            if not isinstance(body, dict):
                raise fail(500, "malformed request", True)
            symbol = body.get("symbol")
            by_name = body.get("name") is True
            sec_type = body.get("secType")
        else:
            symbol = req.arg("symbol")
            by_name = req.arg("name") == "true"
            sec_type = req.arg("secType")
        if not isinstance(symbol, str) or not symbol.strip():
            raise fail(500, "symbol required", True)
        if sec_type not in (None, "", "STK"):
            return []
        wanted = symbol.strip().upper()
        rows = []
        for contract in self.contracts.by_conid.values():
            if contract.symbol.upper() == wanted or (
                    by_name and wanted in contract.name.upper()):
                rows.append(contract.search_row())
        return rows

    def api_contract_info(self, req):
        """GET /iserver/contract/{conid}/info."""
        conid = int(req.params["conid"])
        contract = self.contracts.by_conid.get(conid)
        if contract is None:
            raise fail(500, "no contract found for conid %d" % conid, True)
        return {"con_id": conid, "symbol": contract.symbol,
                "local_symbol": contract.symbol, "instrument_type": "STK",
                "currency": "USD", "exchange": "SMART",
                "valid_exchanges": "SMART," + contract.exchange,
                "company_name": contract.name, "industry": "",
                "category": "", "trading_class": contract.exchange,
                "r_t_h": True, "multiplier": None, "underlying_con_id": 0,
                "smart_available": True}

    def api_trsrv_stocks(self, req):
        """GET /trsrv/stocks?symbols=A,B (conid as an integer)."""
        symbols = [s.strip().upper() for s in
                   (req.arg("symbols") or "").split(",") if s.strip()]
        answer = {}
        for symbol in symbols:
            contract = self.contracts.by_symbol.get(symbol)
            if contract is not None:
                answer[symbol] = [{
                    "name": contract.name, "chineseName": "",
                    "assetClass": "STK",
                    "contracts": [{"conid": contract.conid,
                                   "exchange": contract.exchange,
                                   "isUS": True}]}]
        return answer

    # ----- market data ---------------------------------------------------

    def api_snapshot(self, req):
        """GET /iserver/marketdata/snapshot with the pre-flight quirk."""
        try:
            conids = [int(c) for c in (req.arg("conids") or "").split(",")
                      if c.strip()]
        except ValueError:
            raise fail(400, "conids must be integers", True) from None
        fields = [f for f in (req.arg("fields") or "").split(",") if f]
        if not conids or len(conids) > 100 or len(fields) > 50:
            raise fail(400, "give 1 to 100 conids and at most 50 fields",
                       True)
        primed = self.session.snapshot_fields
        rows = []
        for conid in conids:
            row = {"conid": conid, "conidEx": str(conid)}
            if conid not in primed and self.config["snapshot_preflight"]:
                primed[conid] = fields
                rows.append(row)
                continue
            wanted = fields or primed.get(conid, [])
            primed.setdefault(conid, fields)
            row.update({"_updated": epoch_ms(time.time()),
                        "server_id": "q0", "6119": "q0"})
            row.update(self._snapshot_values(conid, wanted))
            rows.append(row)
        return rows

    def _snapshot_values(self, conid, fields):
        """Return the string field values the simulator can provide."""
        price = self.book.market_price(conid)
        contract = self.contracts.get(conid)
        values = {"55": contract.symbol, "6509": "RpB", "85": "100",
                  "88": "100", "7059": "100"}
        if price is not None:
            values.update({"31": fmt_price(price),
                           "84": fmt_price(price - CENT),
                           "86": fmt_price(price + CENT),
                           "7635": fmt_price(price)})
        return {f: values[f] for f in fields if f in values}

    def api_unsubscribe(self, req):
        """POST /iserver/marketdata/unsubscribe {"conid": ...}."""
        body = req.json(empty={})
        conid = body.get("conid") if isinstance(body, dict) else None
        self.session.snapshot_fields.pop(conid, None)
        return {"success": True}

    def api_unsubscribe_all(self, req):
        """GET /iserver/marketdata/unsubscribeall."""
        self.session.snapshot_fields.clear()
        return {"unsubscribed": True}

    def api_history(self, req):
        """GET /iserver/marketdata/history from bars loaded by /sim/bars.

        Bars are returned as loaded (no resampling).  The window ends at
        startTime when given, else at the last loaded bar; minute and hour
        periods are durations, d/w/m/y periods count trading days (5 a
        week, 21 a month, 252 a year) among the loaded bars.
        """
        started = time.monotonic()
        try:
            conid = int(req.arg("conid", ""))
        except ValueError:
            raise fail(500, "conid must be an integer", True) from None
        period = PERIOD_RE.match(req.arg("period", ""))
        bar = BAR_RE.match(req.arg("bar", ""))
        if not period or not bar:
            raise fail(500, "invalid period or bar", True)
        bars = self._history_window(conid, period, req.arg("startTime"))
        if not bars:
            raise fail(500, "No data.", True)
        return self._history_body(conid, bars, req, bar, started)

    def _history_window(self, conid, period, start_time):
        """Select the loaded bars of the requested window (at most 1000)."""
        bars = self.book.bars.get(conid, [])
        if not bars:
            return []
        end = bars[-1]["t"]
        if start_time:
            try:
                end = epoch_ms(calendar.timegm(time.strptime(
                    start_time, "%Y%m%d-%H:%M:%S")))
            except ValueError:
                raise fail(500, "invalid startTime", True) from None
        bars = [b for b in bars if b["t"] <= end]
        count, unit = int(period.group(1)), period.group(2)
        if unit in ("min", "h"):
            span = count * (60 if unit == "min" else 3600) * 1000
            bars = [b for b in bars if b["t"] > end - span]
        else:
            days = count * TRADING_DAYS[unit]
            dates = sorted({utc(b["t"] / 1000, "%Y%m%d") for b in bars})
            keep = set(dates[-days:])
            bars = [b for b in bars if utc(b["t"] / 1000, "%Y%m%d") in keep]
        return bars[-1000:]

    def _history_body(self, conid, bars, req, bar, started):
        """Build the history answer around the selected bars."""
        contract = self.contracts.get(conid)
        first = bars[0]["t"]
        high = max(bars, key=lambda b: b["h"])
        low = min(bars, key=lambda b: b["l"])

        def extreme(item, key):
            return "%d/%s/%d" % (round(item[key] * 100), item["v"],
                                 (item["t"] - first) // 60000)
        return {
            "symbol": contract.symbol, "text": contract.name,
            "serverId": str(self.epoch), "priceFactor": 100,
            "startTime": utc(first / 1000, "%Y%m%d-%H:%M:%S"),
            "timePeriod": req.arg("period"),
            "barLength": int(bar.group(1)) * BAR_SECONDS[bar.group(2)],
            "high": extreme(high, "h"), "low": extreme(low, "l"),
            "mdAvailability": "S", "mktDataDelay": 0,
            "outsideRth": req.arg("outsideRth") == "true",
            "volumeFactor": 1, "priceDisplayRule": 1,
            "priceDisplayValue": "2", "negativeCapable": False,
            "messageVersion": 2, "points": len(bars) - 1,
            "travelTime": int((time.monotonic() - started) * 1000),
            "chartAnnotations": "",
            "data": [dict(b) for b in bars],
        }

    # ----- orders --------------------------------------------------------

    def _account(self, req):
        """Return the path's account, refusing unknown ones."""
        account = req.params["account"]
        if account not in self.accounts:
            raise fail(400, "account %s is not served by this session" %
                       account, True)
        return account

    def _parse_ticket(self, ticket, need_coid=True):
        """Validate one order ticket; return it normalised.

        Malformed tickets raise HTTP 500; missing prices answer HTTP 200
        "invalid order price fields" as the gateway does.
        """
        if not isinstance(ticket, dict):
            raise fail(500, "malformed request: an order ticket must be "
                       "an object", True)
        out = dict(ticket)
        conid = ticket.get("conid")
        if conid is None and isinstance(ticket.get("conidex"), str):
            head = ticket["conidex"].split("@")[0]
            conid = int(head) if head.isdigit() else None
        if not isinstance(conid, int) or isinstance(conid, bool) or \
                conid <= 0:
            raise fail(500, "malformed request: conid must be a positive "
                       "integer", True)
        out["conid"] = conid
        side = ticket.get("side")
        if not isinstance(side, str) or side.upper() not in ("BUY", "SELL"):
            raise fail(500, "malformed request: side must be BUY or SELL",
                       True)
        out["side"] = side.upper()
        qty = ticket.get("quantity")
        quantity = json_decimal(qty) if is_json_number(qty) else None
        if quantity is None or (quantity.is_finite() and quantity <= 0):
            raise fail(500, "malformed request: quantity must be a "
                       "positive number", True)
        otype = ticket.get("orderType")
        if otype not in ORDER_TYPES:
            raise fail(500, "malformed request: orderType must be MKT, "
                       "LMT, STP or STOP_LIMIT", True)
        tif = ticket.get("tif")
        if tif not in TIFS:
            raise fail(500, "malformed request: tif must be DAY, GTC or "
                       "IOC", True)
        coid = ticket.get("cOID")
        if need_coid and (not isinstance(coid, str) or not coid):
            raise fail(500, "malformed request: cOID must be a non-empty "
                       "string", True)
        rth = ticket.get("outsideRTH", False)
        if not isinstance(rth, bool):
            raise fail(500, "malformed request: outsideRTH must be a "
                       "boolean", True)
        needs = {"MKT": (), "LMT": ("price",), "STP": ("price",),
                 "STOP_LIMIT": ("price", "auxPrice")}[otype]
        out["quantity"] = self._check_size(quantity)
        for key in needs:
            value = ticket.get(key)
            price = json_decimal(value) if is_json_number(value) else None
            if price is None or not price.is_finite() or price <= 0:
                raise fail(200, "invalid order price fields")
            out[key] = price
        if otype == "MKT":
            out.pop("price", None)
        if otype != "STOP_LIMIT":
            out.pop("auxPrice", None)
        return out

    @staticmethod
    def _check_size(quantity):
        """Return quantity, or refuse an absurd one as the gateway does.

        A quantity that is not finite or exceeds QTY_MAX answers HTTP 200
        with an error text, before anything is booked.
        """
        if not quantity.is_finite():
            raise fail(200, "order quantity %s is not a finite number" %
                       quantity)
        if quantity > QTY_MAX:
            raise fail(200, "order quantity %s exceeds the size limit of "
                       "%s" % (fmt_qty(quantity), fmt_qty(QTY_MAX)))
        return quantity

    @staticmethod
    def _tickets(body):
        """Extract the tickets of {"orders": [...]} or [...].

        One ticket, or a bracket: a parent (no parentId, with a cOID)
        followed by children whose parentId is the parent's cOID.
        """
        if isinstance(body, dict) and "orders" in body:
            body = body["orders"]
        if not isinstance(body, list) or not body:
            raise fail(500, "malformed request: expected {\"orders\": "
                       "[ticket]}", True)
        if len(body) > 1:
            head = body[0]
            coid = head.get("cOID") if isinstance(head, dict) else None
            if not coid or "parentId" in head or any(
                    not isinstance(t, dict) or t.get("parentId") != coid
                    for t in body[1:]):
                raise fail(500, "the simulator accepts one order ticket "
                           "per request, or a bracket: a parent and "
                           "children whose parentId is its cOID", True)
        return body

    def api_place_order(self, req):
        """POST /iserver/account/{acct}/orders."""
        session = self.session
        session.invalidate_prompt()
        account = self._account(req)
        raw = self._tickets(req.json())
        tickets = [self._parse_ticket(raw[0])] + [
            self._parse_ticket(t, need_coid=False) for t in raw[1:]]
        ticket = tickets[0]
        for child in tickets[1:]:
            if child["side"] == ticket["side"] or \
                    child["conid"] != ticket["conid"]:
                raise fail(200, "bracket children must trade the parent's "
                           "contract on the other side")
        duplicate = self.config["duplicate"]
        for one in tickets:
            if one.get("cOID") and duplicate != "accept" and \
                    self.book.coid_taken(one["cOID"],
                                         self.config["coid_window_s"] *
                                         self.scale):
                text = "Order couldn't be submitted: Local order ID=%s " \
                       "is already registered." % one["cOID"]
                raise fail(400 if duplicate == "error400" else 200, text)
        chain = self._prompt_chain(ticket["conid"])
        pending = PendingOrder(tickets, account, chain, req.log_entry)
        return self._advance(pending)

    def _prompt_chain(self, conid):
        """Return the message ids the next order request must confirm."""
        self.order_counter += 1
        prompts = self.config["prompts"]
        every = prompts["every"]
        if (every and self.order_counter % every == 0) or \
                conid in prompts["conids"]:
            ids = prompts["message_ids"]
            return [ids[i % len(ids)] for i in range(max(1,
                                                         prompts["chain"]))]
        return []

    def _advance(self, pending):
        """Ask the next unsuppressed prompt, or place the order."""
        session = self.session
        while pending.queue and pending.queue[0] in session.suppressed:
            pending.queue.pop(0)
        if not pending.queue:
            return self._finalize(pending)
        reply_id = str(uuid.uuid4())
        session.prompts[reply_id] = pending
        session.current_prompt = reply_id
        message_id = pending.queue[0]
        text = PROMPT_TEXTS.get(message_id, "This order needs "
                                "confirmation (%s)." % message_id)
        return [{"id": reply_id, "message": [text + PROMPT_QUESTION],
                 "isSuppressed": False, "messageIds": [message_id]}]

    def _finalize(self, pending):
        """Apply scripted outcomes, enter the order, answer shape (a)."""
        config = self.config
        reject = config["reject_next"]
        if reject:
            reject["count"] -= 1
            if reject["count"] <= 0:
                config.values["reject_next"] = None
            raise fail(200, reject["text"])
        if pending.modify is not None:
            return self._apply_modify(pending.modify, pending.ticket)
        orders = []
        befores = []
        for ticket in pending.tickets:
            order = Order(self.book.new_order_id(), ticket, pending.account,
                          self.contracts.get(ticket["conid"]), time.time(),
                          self.session.seq)
            orders.append(order)
            if order.coid:
                befores.append((order, self.book.add(order)))
            else:
                self.book.orders[order.order_id] = order
        parent = orders[0]
        for child in orders[1:]:
            child.parent = parent
            child.held = True
            parent.children.append(child)
        if parent.children:
            parent.on_end = self.engine.parent_ended
        try:
            for child in orders[1:]:
                child.set_status("PreSubmitted", self.session.seq)
            answer = self._enter(parent, pending)
            return answer + [self._child_answer(c) for c in orders[1:]]
        except Exception:
            for order, before in befores:
                self.book.remove(order, before)
            for order in orders:
                self.book.orders.pop(order.order_id, None)
            if pending.log_entry is not None:
                pending.log_entry["order_id"] = None
            raise

    @staticmethod
    def _child_answer(child):
        """Return a bracket child's element of the placement answer."""
        answer = {"order_id": str(child.order_id),
                  "order_status": child.status, "encrypt_message": "1"}
        if child.coid:
            answer["local_order_id"] = child.coid
        return answer

    def _enter(self, order, pending):
        """Give a booked order its first status and run the fill engine.

        Returns the placement answer of shape (a).
        """
        config = self.config
        if pending.log_entry is not None:
            pending.log_entry["order_id"] = order.order_id
        answer = {"order_id": str(order.order_id),
                  "local_order_id": order.coid}
        inactive = config["inactive_next"]
        if inactive:
            inactive["count"] -= 1
            if inactive["count"] <= 0:
                config.values["inactive_next"] = None
            order.set_status("Inactive", self.session.seq)
            if inactive["text"]:
                answer["text"] = inactive["text"]
        else:
            initial = config["initial_status"]
            if order.order_type in ("STP", "STOP_LIMIT"):
                initial = "PreSubmitted"
            order.set_status(initial, self.session.seq)
            self.engine.work(order)
        answer["order_status"] = order.status
        answer["encrypt_message"] = "1"
        return [answer]

    def api_reply(self, req):
        """POST /iserver/reply/{id} {"confirmed": true|false}."""
        session = self.session
        reply_id = req.params["reply_id"]
        if reply_id in session.stale:
            session.stale.discard(reply_id)
            raise fail(503, "reply id %r is no longer valid: another "
                       "request came first" % reply_id, True)
        pending = session.prompts.get(reply_id)
        if pending is None:
            raise fail(400, "reply id not found: '%s'" % reply_id)
        body = req.json(empty={})
        confirmed = body.get("confirmed") if isinstance(body, dict) \
            else None
        if not isinstance(confirmed, bool):
            raise fail(500, "malformed request: confirmed must be a "
                       "boolean", True)
        del session.prompts[reply_id]
        session.current_prompt = None
        if not confirmed:
            raise fail(400, "order not confirmed", True)
        pending.queue.pop(0)
        return self._advance(pending)

    def _find_order(self, req):
        """Return the order named by the path for the path's account."""
        order = self.book.orders.get(int(req.params["order_id"]))
        if order is None or order.account != req.params["account"]:
            raise fail(200, "OrderID %s doesn't exist" %
                       req.params["order_id"])
        return order

    def api_modify_order(self, req):
        """POST /iserver/account/{acct}/order/{id}: a single ticket."""
        self.session.invalidate_prompt()
        self._account(req)
        order = self._find_order(req)
        body = req.json()
        if not isinstance(body, dict) or "orders" in body:
            raise fail(500, "malformed request: modify takes a single "
                       "ticket object", True)
        ticket = self._parse_ticket(body, need_coid=False)
        if order.terminal or order.cancel_requested:
            raise fail(200, "OrderID %d cannot be modified: it is %s" %
                       (order.order_id, order.status))
        if ticket["conid"] != order.contract.conid or \
                ticket["side"] != order.side:
            raise fail(200, "conid and side of an order cannot change")
        if ticket["quantity"] < order.filled:
            raise fail(200, "quantity is below the filled quantity")
        chain = self._prompt_chain(ticket["conid"])
        pending = PendingOrder([ticket], order.account, chain,
                               req.log_entry, modify=order)
        return self._advance(pending)

    def _apply_modify(self, order, ticket):
        """Change a booked order's terms; answer shape (a)."""
        if order.terminal or order.cancel_requested:
            raise fail(200, "OrderID %d cannot be modified: it is %s" %
                       (order.order_id, order.status))
        if ticket["quantity"] < order.filled:
            raise fail(200, "quantity is below the filled quantity")
        order.quantity = ticket["quantity"]
        order.order_type = ticket["orderType"]
        order.price = ticket.get("price")
        order.aux_price = ticket.get("auxPrice")
        order.tif = ticket["tif"]
        order.outside_rth = ticket.get("outsideRTH", order.outside_rth)
        order.updated_at = time.time()
        order.token += 1
        order.event_pending = False
        if order.remaining <= 0:
            order.set_status("Filled", self.session.seq)
        else:
            self.engine.work(order)
        return [{"order_id": str(order.order_id),
                 "local_order_id": order.coid,
                 "order_status": order.status, "encrypt_message": "1"}]

    def api_cancel_order(self, req):
        """DELETE /iserver/account/{acct}/order/{id} (-1 cancels all)."""
        self.session.invalidate_prompt()
        account = self._account(req)
        if int(req.params["order_id"]) == -1:
            for order in list(self.book.orders.values()):
                if order.account == account:
                    self.engine.cancel(order)
            return {"msg": "Request was submitted", "order_id": -1,
                    "conid": -1, "account": account}
        order = self._find_order(req)
        instant = self.engine.cancel(order)
        return {"msg": "Request was submitted", "order_id": order.order_id,
                "conid": -1 if instant else order.contract.conid,
                "account": None if instant else order.account}

    def _visible(self, order):
        """Tell whether live orders lists order in this session."""
        return not order.terminal or \
            order.ended_session == self.session.seq

    def api_live_orders(self, req):
        """GET /iserver/account/orders[?filters=][&force=][&accountId=]."""
        session = self.session
        account = req.arg("accountId")
        empty = {"orders": [], "snapshot": True}
        if req.arg("force") == "true" or (
                not session.live_primed and
                self.config["live_orders_preflight"]):
            session.live_primed = True
            return empty
        if account is None and self.config["empty_without_account"]:
            return empty
        wanted = {f.strip() for f in (req.arg("filters") or "").split(",")
                  if f.strip() and f.strip() != "sort_by_time"}
        rows = []
        # the book keeps orders in the order they were placed: the newest
        # 1000 are the last ones visible
        for order in reversed(self.book.orders.values()):
            if len(rows) == 1000:
                break
            if not self._visible(order):
                continue
            if account is not None and order.account != account:
                continue
            if wanted and STATUS_FILTER[order.status] not in wanted:
                continue
            rows.append(order.live_json())
        return RawJSON('{"orders": [%s], "snapshot": true}' % ", ".join(rows))

    def api_order_status(self, req):
        """GET /iserver/account/order/status/{id} (snake_case keys)."""
        order = self.book.orders.get(int(req.params["order_id"]))
        if order is None or not self._visible(order):
            raise fail(503, "OrderID %s is not available in this session"
                       % req.params["order_id"], True)
        return order.status_row(next(self.request_ids))

    def api_trades(self, req):
        """GET /iserver/account/trades[?days=N][&accountId=]."""
        try:
            days = min(7, max(1, int(req.arg("days", "1"))))
        except ValueError:
            raise fail(400, "days must be an integer", True) from None
        now = time.time()
        since = now - now % 86400 - (days - 1) * 86400
        # the trades_delay_s fault: executions show up late, as they can
        shown = now - self.config["trades_delay_s"] * self.scale
        account = req.arg("accountId")
        return RawJSON("[%s]" % ", ".join(
            exe.listed_json() for exe in
            sorted(self.book.executions, key=lambda e: e.ts)
            if since <= exe.ts <= shown and
            (account is None or exe.order.account == account)))

    # ----- portfolio -----------------------------------------------------

    def api_portfolio_accounts(self, req):
        """GET /portfolio/accounts."""
        rows = []
        for account in self.accounts:
            rows.append({"id": account, "accountId": account,
                         "accountVan": account, "displayName": account,
                         "accountAlias": None,
                         "accountStatus": epoch_ms(self.session.login_wall),
                         "currency": "USD", "type": "DEMO",
                         "tradingType": "PMRGN", "ibEntity": "IBLLC-US",
                         "faclient": False, "clearingStatus": "O",
                         "desc": account,
                         "parent": {"mmc": [], "accountId": "",
                                    "isMParent": False, "isMChild": False,
                                    "isMultiplex": False}})
        return rows

    def _position_rows(self, account, fresh=False):
        """Return positions, served from the cache while it is young."""
        cache = self.book.positions_cache
        now = time.monotonic()
        ttl = self.config["positions_cache_s"] * self.scale
        hit = cache.get(account)
        if not fresh and hit and now - hit[0] < ttl:
            return hit[1]
        rows = self.book.positions(account, self.contracts)
        cache[account] = (now, rows)
        return rows

    def api_positions(self, req):
        """GET /portfolio/{acct}/positions/{page} (100 per page)."""
        account = req.params["account"]
        if account not in self.accounts:
            raise fail(400, "unknown account %s" % account, True)
        page = int(req.params["page"])
        rows = self._position_rows(account)
        return [dict(r) for r in rows[page * 100:(page + 1) * 100]]

    def api_positions_invalidate(self, req):
        """POST /portfolio/{acct}/positions/invalidate: fresh positions."""
        account = req.params["account"]
        if account not in self.accounts:
            raise fail(400, "unknown account %s" % account, True)
        return [dict(r) for r in self._position_rows(account, True)[:100]]

    # ----- persistence ---------------------------------------------------

    def mark_dirty(self):
        """Schedule a debounced --state-file save (lock held)."""
        if not self.state_file or self.save_pending:
            return
        self.save_pending = True
        self.scheduler.call_later(0.2, self.save_state)

    def save_state(self):
        """Write the book to --state-file atomically, when it changed."""
        with self.lock:
            self.save_pending = False
            book = self.book
            state = {"version": 1, "brokerage_session": self.session.seq,
                     "exec_counter": book.exec_counter,
                     "orders": [o.to_state() for o in book.orders.values()],
                     "coid_times": book.coid_times,
                     "log": book.log,
                     "prices": {str(k): str(v)
                                for k, v in book.prices.items()},
                     "bars": {str(k): v for k, v in book.bars.items()},
                     "contracts": [c.to_state()
                                   for c in self.contracts.added],
                     "adjustments": [[a, c, str(q)] for (a, c), q in
                                     book.adjustments.items()]}
            text = json.dumps(state, default=json_default)
        if text == self.saved_text:
            return
        tmp = self.state_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, self.state_file)
        self.saved_text = text

    def load_state(self):
        """Restore the book from --state-file (a gateway restart).

        Sessions are not restored: a new brokerage session starts, so
        orders that ended before the restart leave the live-orders list.
        """
        with open(self.state_file, encoding="utf-8") as src:
            state = json.load(src)
        with self.lock:
            for item in state["contracts"]:
                self.contracts.add(Contract(item["conid"], item["symbol"],
                                            item["name"], item["listing"],
                                            item["venue"]))
            book = self.book
            book.exec_counter = state["exec_counter"]
            for item in state["orders"]:
                order = Order.from_state(item, self.contracts)
                book.orders[order.order_id] = order
                book.by_coid[order.coid] = order
                book.executions.extend(order.executions)
            book.coid_times = state["coid_times"]
            book.log = state["log"]
            book.prices = {int(k): Decimal(v)
                           for k, v in state["prices"].items()}
            book.bars = {int(k): v for k, v in state["bars"].items()}
            book.adjustments = {(a, c): Decimal(q) for a, c, q in
                                state["adjustments"]}
            self.session.seq = state["brokerage_session"]
            self.session.set_state(self.session.state, time.monotonic(),
                                   new_session=True)
            for order in book.orders.values():
                if order.status == "PendingCancel":
                    order.set_status("Cancelled", self.session.seq)
                self.engine.work(order)


class ControlApi:
    """The /sim/ control API: scripts the simulator, shows its state.

    Handlers run with Simulator.lock held; bad input answers 400.
    """

    def __init__(self, sim):
        self.sim = sim

    def handle(self, method, path, req):
        """Dispatch a /sim/ request to get_<name> or post_<name>."""
        name = path[len("/sim/"):].strip("/") if path != "/sim" else ""
        handler = getattr(self, "%s_%s" % (method.lower(), name), None)
        if handler is None or not re.match(r"^[a-z]+$", name):
            exists = any(hasattr(self, "%s_%s" % (m, name))
                         for m in ("get", "post"))
            return (405, {"error": "method not allowed"}) if exists and \
                name else (404, {"error": "no such control endpoint"})
        try:
            body = req.json(status=400, empty={})
            return 200, handler(body if method == "POST" else req)
        except ApiError as exc:
            return exc.status, exc.payload
        except (ValueError, KeyError, TypeError) as exc:
            return 400, {"error": str(exc)}

    @staticmethod
    def _object(body):
        """Require a JSON object body."""
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        return body

    def get_health(self, req):
        """GET /sim/health: liveness and a one-line summary."""
        sim = self.sim
        now = time.monotonic()
        sim.session.check_expiry(now, sim.scale)
        return {"ok": True, "version": VERSION, "state": sim.session.state,
                "time_scale": sim.scale, "accounts": sim.accounts,
                "orders": len(sim.book.orders),
                "executions": len(sim.book.executions),
                "penalty_box": sim.limiter.in_penalty(now),
                "uptime_s": round(now - sim.started, 3)}

    def post_reset(self, body):
        """POST /sim/reset: empty book and log, defaults, new session."""
        state = self._object(body).get("state", "authenticated")
        if state not in Session.FLAGS:
            raise ValueError("state must be one of " +
                             ", ".join(Session.FLAGS))
        self.sim.reset(state)
        return {"reset": True}

    def _conid(self, body):
        """Return the conid named by "conid" or "symbol" in body."""
        if "symbol" in body and "conid" not in body:
            contract = self.sim.contracts.by_symbol.get(
                str(body["symbol"]).upper())
            if contract is None:
                raise ValueError("unknown symbol %r" % body["symbol"])
            return contract.conid
        conid = body.get("conid")
        if not isinstance(conid, int) or isinstance(conid, bool):
            raise ValueError("conid must be an integer")
        return conid

    def get_price(self, req):
        """GET /sim/price: every control-set price."""
        return {str(k): fmt_price(v) for k, v in self.sim.book.prices.items()}

    def post_price(self, body):
        """POST /sim/price {"conid"|"symbol", "price"}: fills may follow."""
        body = self._object(body)
        conid = self._conid(body)
        price = to_decimal(body.get("price"))
        if price <= 0:
            raise ValueError("price must be positive")
        self.sim.book.prices[conid] = price
        self.sim.engine.on_price(conid)
        return {"conid": conid, "price": fmt_price(price)}

    def get_config(self, req):
        """GET /sim/config: every knob with its current value."""
        return self.sim.config.values

    def post_config(self, body):
        """POST /sim/config {knob: value, ...}."""
        body = self._object(body)
        changed = self.sim.config.update(body)
        if "prompts" in body:
            self.sim.order_counter = 0
        if "rate_limits" in body:
            self.sim.limiter = RateLimiter()
        return {"changed": changed, "config": self.sim.config.values}

    def get_auth(self, req):
        """GET /sim/auth: session state, flags and timers."""
        sim = self.sim
        now = time.monotonic()
        sim.session.check_expiry(now, sim.scale)
        view = sim.session.view(now, sim.scale)
        if sim.cookie is not None:
            view["cookie"] = sim.cookie
            view["cookie_returned"] = sim.cookie_returned
        return view

    def post_auth(self, body):
        """POST /sim/auth {state, nightly_reset, new_session, knobs...}."""
        body = self._object(body)
        sim = self.sim
        session = sim.session
        now = time.monotonic()
        for key, value in body.items():
            if key in ("state", "nightly_reset", "new_session"):
                continue
            if key not in Session.KNOBS:
                raise ValueError("unknown auth key %r" % key)
            if key == "fail":
                if not isinstance(value, str):
                    raise ValueError("fail must be a string")
            elif key == "maintenance":
                if not isinstance(value, bool):
                    raise ValueError("maintenance must be a boolean")
            elif not is_json_number(value) or value < 0:
                raise ValueError("%s must be a number >= 0" % key)
        for key, value in body.items():
            if key in Session.KNOBS:
                session.knobs[key] = value if isinstance(value, (str, bool)) \
                    else float(value)
        if body.get("nightly_reset"):
            session.invalidate_prompt()
            if session.state != "logged-out":
                session.set_state("connected", now)
        if "state" in body:
            session.set_state(body["state"], now,
                              new_session=bool(body.get("new_session")))
        elif body.get("new_session"):
            session.new_brokerage_session()
        return session.view(now, sim.scale)

    def get_bars(self, req):
        """GET /sim/bars: number of loaded bars per conid."""
        return {str(k): len(v) for k, v in self.sim.book.bars.items()}

    def post_bars(self, body):
        """POST /sim/bars {"conid", "bars": [{t,o,h,l,c,v}], "append"}."""
        body = self._object(body)
        conid = self._conid(body)
        bars = body.get("bars")
        if not isinstance(bars, list):
            raise ValueError("bars must be a list")
        clean = []
        for item in bars:
            if not isinstance(item, dict) or not isinstance(
                    item.get("t"), int):
                raise ValueError("every bar needs an integer t (epoch ms)")
            row = {"t": item["t"]}
            for key in ("o", "h", "l", "c", "v"):
                if not is_json_number(item.get(key)):
                    raise ValueError("bar field %s must be a number" % key)
                row[key] = float(item[key])
            clean.append(row)
        book = self.sim.book
        merged = {b["t"]: b for b in book.bars.get(conid, [])} \
            if body.get("append") else {}
        merged.update({b["t"]: b for b in clean})
        book.bars[conid] = [merged[t] for t in sorted(merged)]
        self.sim.engine.on_price(conid)
        return {"conid": conid, "bars": len(book.bars[conid])}

    def get_contract(self, req):
        """GET /sim/contract: the whole contract table."""
        return [c.to_state() for c in
                self.sim.contracts.by_conid.values()]

    def post_contract(self, body):
        """POST /sim/contract {"symbol", "conid", "name", "exchange"}."""
        body = self._object(body)
        symbol = body.get("symbol")
        conid = body.get("conid")
        if not isinstance(symbol, str) or not symbol or \
                not isinstance(conid, int) or isinstance(conid, bool):
            raise ValueError("symbol (string) and conid (integer) needed")
        listing = body.get("exchange", "NYSE")
        contract = Contract(conid, symbol.upper(),
                            body.get("name", symbol.upper()), listing,
                            body.get("venue", listing.split(".")[0]))
        self.sim.contracts.add(contract)
        return contract.to_state()

    def get_book(self, req):
        """GET /sim/book: every order, oldest first, with executions."""
        orders = sorted(self.sim.book.orders.values(),
                        key=lambda o: o.placed_at)
        return {"orders": [o.book_row() for o in orders]}

    def get_log(self, req):
        """GET /sim/log: every order POST received, in order."""
        return {"entries": self.sim.book.log}

    def get_held(self, req):
        """GET /sim/held: requests a hold fault is keeping right now."""
        sim = self.sim
        return {"held": sorted(sim.held.values(), key=lambda h: h["id"]),
                "released": sim.held_done}

    def get_stats(self, req):
        """GET /sim/stats: request counts per route and 429 count."""
        sim = self.sim
        return {"requests": dict(sorted(sim.stats.items())),
                "refused_429": sim.limiter.refused,
                "forced_429": sim.forced_429,
                "penalty_box": sim.limiter.in_penalty(time.monotonic())}

    def _order(self, body):
        """Find the order named by "order_id" or "cOID"."""
        book = self.sim.book
        if "order_id" in body:
            order = book.orders.get(body["order_id"])
        else:
            order = book.by_coid.get(body.get("cOID"))
        if order is None:
            raise ValueError("no such order")
        return order

    def post_order(self, body):
        """POST /sim/order {order_id|cOID, fill: {size, price}, status}."""
        body = self._object(body)
        sim = self.sim
        order = self._order(body)
        fill = body.get("fill")
        if fill is not None:
            fill = self._object(fill)
            size = to_decimal(fill.get("size"))
            if size <= 0 or size > order.remaining:
                raise ValueError("fill size must be within the remaining "
                                 "quantity")
            price = to_decimal(fill.get("price"))
            ts = fill.get("time_ms")
            sim.engine.execute(order, size, price,
                               None if ts is None else ts / 1000.0)
        if body.get("correct") is not None:
            self._correct(order, self._object(body["correct"]))
        status = body.get("status")
        if status is not None:
            if status not in ORDER_STATUSES:
                raise ValueError("status must be one of " +
                                 ", ".join(ORDER_STATUSES))
            order.set_status(status, sim.session.seq)
            if status not in TERMINAL:
                sim.engine.work(order)
        return order.book_row()

    def _correct(self, order, spec):
        """Replace one execution of order by a correction of it.

        The correction keeps the execution id but for its last segment,
        which goes up by one; size and price default to the original's.
        Both stay listed in the trades; only the correction counts in
        the order's totals and the positions.
        """
        wanted = spec.get("execution_id")
        live = [e for e in order.executions if not e.corrected]
        if wanted is not None:
            live = [e for e in live if e.execution_id == wanted]
        if not live:
            raise ValueError("no execution of the order to correct")
        old = live[-1]
        size = to_decimal(spec.get("size", old.size))
        price = to_decimal(spec.get("price", old.price))
        if size <= 0 or price <= 0 or \
                size > order.quantity - order.filled + old.size:
            raise ValueError("correction size and price must be positive "
                             "and the size within the order's quantity")
        base, last = old.execution_id.rsplit(".", 1)
        exe = Execution("%s.%02d" % (base, int(last) + 1), order, size,
                        price, old.ts, old.commission)
        old.corrected = True
        order.executions.append(exe)
        self.sim.book.executions.append(exe)
        order.filled += size - old.size
        order.cost += size * price - old.size * old.price
        if order.remaining <= 0 and not order.terminal:
            order.set_status("Filled", self.sim.session.seq)
        self.sim.book.positions_cache.pop(order.account, None)

    def post_trade(self, body):
        """POST /sim/trade: an execution placed outside the API (manual).

        {"account"?, "conid"|"symbol", "side": BUY|SELL, "size", "price",
        "order_ref"?}: booked on an order that is not in the book, so it
        appears in the trades and the positions only.
        """
        body = self._object(body)
        sim = self.sim
        account = body.get("account", sim.accounts[0])
        if account not in sim.accounts:
            raise ValueError("unknown account")
        side = str(body.get("side", "")).upper()
        if side not in ("BUY", "SELL"):
            raise ValueError("side must be BUY or SELL")
        size = to_decimal(body.get("size"))
        price = to_decimal(body.get("price"))
        if size <= 0 or price <= 0:
            raise ValueError("size and price must be positive")
        ref = body.get("order_ref")
        if ref is not None and not isinstance(ref, str):
            raise ValueError("order_ref must be a string or null")
        ticket = {"cOID": ref, "side": side, "quantity": size,
                  "orderType": "MKT", "tif": "DAY"}
        order = Order(sim.book.new_order_id(), ticket, account,
                      sim.contracts.get(self._conid(body)), time.time(),
                      sim.session.seq)
        exe = sim.engine.execute(order, size, price)
        return exe.book_row()

    def post_close(self, body):
        """POST /sim/close: the session closes; DAY orders are cancelled."""
        sim = self.sim
        ended = []
        for order in sim.book.orders.values():
            if order.tif == "DAY" and not order.terminal:
                order.set_status("Cancelled", sim.session.seq)
                ended.append(order.order_id)
        return {"cancelled": ended}

    def post_position(self, body):
        """POST /sim/position {account, conid, adjust}: broker drift."""
        body = self._object(body)
        sim = self.sim
        account = body.get("account", sim.accounts[0])
        if account not in sim.accounts:
            raise ValueError("unknown account")
        conid = self._conid(body)
        adjust = to_decimal(body.get("adjust"))
        key = (account, conid)
        sim.book.adjustments[key] = sim.book.adjustments.get(key, ZERO) + \
            adjust
        sim.book.positions_cache.pop(account, None)
        return {"positions": sim.book.positions(account, sim.contracts)}


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 request handler: every answer is JSON with Content-Length."""

    protocol_version = "HTTP/1.1"
    server_version = "cpapi-sim/" + VERSION
    sys_version = ""
    timeout = 120

    def do_GET(self):
        """Serve a GET."""
        self._serve("GET")

    def do_POST(self):
        """Serve a POST."""
        self._serve("POST")

    def do_DELETE(self):
        """Serve a DELETE."""
        self._serve("DELETE")

    def do_PUT(self):
        """Serve a PUT (no endpoint takes one: 404 or 405)."""
        self._serve("PUT")

    def _read_body(self):
        """Return the request body, or None when it has no length."""
        length = self.headers.get("Content-Length")
        if length is None:
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
            return None
        try:
            size = int(length)
        except ValueError:
            self.close_connection = True
            return None
        return self.rfile.read(size) if size > 0 else b""

    def _serve(self, method):
        """Read the request, let the simulator answer, write the answer."""
        started = time.monotonic()
        url = urlsplit(self.path)
        body = self._read_body()
        sim = self.server.sim
        try:
            status, payload = sim.handle(method, url.path,
                                         parse_qs(url.query), body)
        except Exception as exc:  # answer rather than drop the connection
            status, payload = internal_error(exc)
        if isinstance(payload, RawJSON):
            data = payload.encode("utf-8")
        else:
            data = json.dumps(payload, default=json_default).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self._session_cookie(sim, url.path)
        self.end_headers()
        self.wfile.write(data)
        sim.record_request(method, self.path, status,
                           time.monotonic() - started)

    def _session_cookie(self, sim, path):
        """With --session-cookie: count a CPAPI request that sent the
        session cookie back, and hand it out to one that did not."""
        if sim.cookie is None or path == "/sim" or path.startswith("/sim/"):
            return
        sent = SimpleCookie()
        try:
            sent.load(self.headers.get("Cookie") or "")
        except CookieError:
            pass
        if "x-sess-uuid" in sent and sent["x-sess-uuid"].value == sim.cookie:
            with sim.lock:
                sim.cookie_returned += 1
        else:
            self.send_header("Set-Cookie", "x-sess-uuid=%s; Path=/; Secure; "
                             "HttpOnly" % sim.cookie)

    def log_message(self, fmt, *args):
        """Stay quiet: requests go to --log-file instead of stderr."""


class SimServer(ThreadingHTTPServer):
    """Threading HTTP server whose connections speak TLS when asked.

    The TLS handshake runs in the connection's own thread, so a slow or
    broken client never stalls the accept loop.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, sim, tls_context):
        self.sim = sim
        self.tls = tls_context
        super().__init__(address, Handler)

    def finish_request(self, request, client_address):
        """Wrap the connection in TLS, then hand it to the handler.

        Nagle's algorithm is off: an answer leaves as two writes (head,
        then body), and with it on the body would wait for the client's
        delayed acknowledgement of the head, some 40 ms per request.
        """
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if self.tls is None:
            self.RequestHandlerClass(request, client_address, self)
            return
        request.settimeout(30)
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        """Ignore clients that vanish mid-request; report anything else."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def parse_args(argv):
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description="IBKR Client Portal Web API simulator (loopback only).")
    parser.add_argument("--port", type=int, default=5000,
                        help="TCP port on 127.0.0.1; 0 picks a free one "
                        "(default 5000)")
    parser.add_argument("--port-file",
                        help="write the chosen port number to this file")
    parser.add_argument("--cert", help="PEM certificate (make-cert.sh)")
    parser.add_argument("--key", help="PEM private key (make-cert.sh)")
    parser.add_argument("--insecure-http", action="store_true",
                        help="serve plain HTTP (tests only)")
    parser.add_argument("--accounts", default="DU1234567",
                        help="comma-separated account ids "
                        "(default DU1234567)")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="multiply every gateway timer by this factor "
                        "(default 1.0)")
    parser.add_argument("--auth-state", default="authenticated",
                        choices=sorted(Session.FLAGS),
                        help="session state at start (default "
                        "authenticated)")
    parser.add_argument("--log-file",
                        help="append every request as a JSON line here")
    parser.add_argument("--state-file",
                        help="keep the book here across restarts")
    parser.add_argument("--session-cookie", action="store_true",
                        help="hand out a session cookie (x-sess-uuid) "
                        "as the gateway does; GET /sim/auth shows it")
    args = parser.parse_args(argv)
    args.accounts = [a.strip() for a in args.accounts.split(",")
                     if a.strip()]
    if not args.accounts:
        parser.error("--accounts needs at least one account id")
    if args.time_scale <= 0:
        parser.error("--time-scale must be positive")
    if not args.insecure_http and not (args.cert and args.key):
        parser.error("--cert and --key are required unless "
                     "--insecure-http is given")
    return args


def main(argv=None):
    """Start the simulator and serve until SIGTERM or SIGINT."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    tls = None
    if not args.insecure_http:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
        tls.load_cert_chain(args.cert, args.key)
    sim = Simulator(args.accounts, args.time_scale, args.auth_state,
                    args.state_file, args.log_file, args.session_cookie)
    server = SimServer(("127.0.0.1", args.port), sim, tls)
    port = server.server_address[1]
    scheme = "http" if tls is None else "https"
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as out:
            out.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print("listening on %s://127.0.0.1:%d" % (scheme, port), flush=True)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        sim.scheduler.stop()
        sim.gc_pacer.stop()
        if args.state_file:
            sim.save_state()
    return 0


if __name__ == "__main__":
    sys.exit(main())
