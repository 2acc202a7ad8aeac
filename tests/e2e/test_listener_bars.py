#!/usr/bin/python3
"""pgtrade-listener fetches the bars of its strategies' instruments from
the gateway's history endpoint and stores them with record_bars.

Bars are loaded into the simulator with POST /sim/bars; the listener
runs with --bars-interval 20 at time scale 0.05 (a refresh a second).
Values are written out below and compared with pgtrade.bar as stored:
a daily bar stamped midnight UTC is the session of that date in New
York; an hourly bar's start is its t.  A changed bar is updated, the
bar still forming (started a minute ago, one hour long) is not stored,
an instrument the simulator has no bars for answers "No data." (logged),
a batch holding a bar that starts in the future is refused whole, and
an instrument whose strategy is inactive is never asked for (the
simulator's request log lists every history request with its conid).
"""
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import (Tap, SANDBOX, psql, scalar, wait_until, Sim,  # noqa: E402
                    services)

t = Tap(13)
ACCT = "DU1234567"
DAILY, HOURLY, IDLE, EMPTY = 880001, 880002, 880003, 880004
REQUEST_LOG = os.path.join(SANDBOX, "sim", "requests.log")
LISTENER_LOG = os.path.join(SANDBOX, "log", "listener.log")
UTC = datetime.timezone.utc

psql("SELECT pgtrade.add_account(:'p0')", ACCT)
for sym, conid in (("BARD", DAILY), ("BARH", HOURLY), ("BARX", IDLE),
                   ("BARN", EMPTY)):
    psql("SELECT pgtrade.add_instrument(:'p0', :'p1')", sym, conid)
STRATEGIES = (("bars_d", "BARD", "1 day", True),
              ("bars_h", "BARH", "1 hour", True),
              ("bars_n", "BARN", "1 day", True),
              ("bars_x", "BARX", "1 day", False))
for name, sym, size, active in STRATEGIES:
    psql("""SELECT pgtrade.create_strategy(:'p0', 'sma_cross', :'p1', :'p2',
            '{"fast": 2, "slow": 3}', 1, schedule => '0 0 1 1 *',
            bar_size => :'p3')
         WHERE NOT EXISTS (SELECT 1 FROM pgtrade.strategy WHERE name = :'p0')
         """, name, sym, ACCT, size)
    psql("UPDATE pgtrade.strategy SET active = :'p1' WHERE name = :'p0'",
         name, "true" if active else "false")
# a run before this one may have left bars behind
psql("DELETE FROM pgtrade.bar WHERE instrument_id IN (SELECT instrument_id "
     "FROM pgtrade.instrument WHERE symbol IN ('BARD', 'BARH', 'BARN', "
     "'BARX'))")


def ms(dt):
    return int(dt.timestamp()) * 1000


def size_of(path):
    return os.path.getsize(path) if os.path.exists(path) else 0


def new_text(path, mark):
    with open(path, "rb") as f:
        f.seek(mark)
        return f.read().decode("utf-8", "replace")


# daily bars: three sessions some days ago, stamped midnight UTC
today = datetime.datetime.now(UTC).replace(hour=0, minute=0, second=0,
                                           microsecond=0)
days = [today - datetime.timedelta(days=n) for n in (6, 5, 4)]
daily = [
    {"t": ms(days[0]), "o": 100.5, "h": 102.25, "l": 99.75, "c": 101.5,
     "v": 12000},
    {"t": ms(days[1]), "o": 101.5, "h": 103.0, "l": 101.0, "c": 102.75,
     "v": 9500.5},
    {"t": ms(days[2]), "o": 102.75, "h": 104.5, "l": 102.0, "c": 104.0,
     "v": 8000},
]
# hourly bars: two that ended, one started a minute ago (still forming)
t0 = datetime.datetime.now(UTC).replace(second=0, microsecond=0) - \
    datetime.timedelta(minutes=1)
hourly = [
    {"t": ms(t0 - datetime.timedelta(hours=2)), "o": 20.0, "h": 20.5,
     "l": 19.5, "c": 20.25, "v": 300},
    {"t": ms(t0 - datetime.timedelta(hours=1)), "o": 20.25, "h": 21.0,
     "l": 20.0, "c": 20.75, "v": 400},
    {"t": ms(t0), "o": 20.75, "h": 20.8, "l": 20.6, "c": 20.7, "v": 50},
]

services("start-sim")
sim = Sim()
sim.call("POST", "/sim/bars", {"conid": DAILY, "bars": daily})
sim.call("POST", "/sim/bars", {"conid": HOURLY, "bars": hourly})
sim.call("POST", "/sim/bars", {"conid": IDLE, "bars": daily})
req_mark = size_of(REQUEST_LOG)
log_mark = size_of(LISTENER_LOG)
os.environ["PGTRADE_LISTENER_FLAGS"] = "--bars-interval 20"
services("start-listener")


def bars_of(sym, size):
    return psql("SELECT to_char(ts AT TIME ZONE 'America/New_York', "
                "'YYYY-MM-DD HH24:MI'), open, high, low, close, volume "
                "FROM pgtrade.bar WHERE instrument_id = "
                "pgtrade.instrument_id(:'p0') AND bar_size = :'p1' "
                "ORDER BY ts", sym, size)


def ny(dt):
    """A UTC instant as New York wall time text (EST/EDT by the date)."""
    return scalar("SELECT to_char(:'p0'::timestamptz AT TIME ZONE "
                  "'America/New_York', 'YYYY-MM-DD HH24:MI')",
                  dt.isoformat())


want_daily = [[d.strftime("%Y-%m-%d") + " 00:00", o, h, lo, c, v]
              for d, (o, h, lo, c, v) in zip(days, [
                  ("100.5", "102.25", "99.75", "101.5", "12000"),
                  ("101.5", "103", "101", "102.75", "9500.5"),
                  ("102.75", "104.5", "102", "104", "8000")])]
got = wait_until(lambda: bars_of("BARD", "1 day") if len(
    bars_of("BARD", "1 day")) == 3 else None, 30)
t.eq(got, want_daily,
     "three daily bars stored, each at midnight New York of its UTC date, "
     "with the simulator's values")

want_hourly = [[ny(t0 - datetime.timedelta(hours=2)), "20", "20.5", "19.5",
                "20.25", "300"],
               [ny(t0 - datetime.timedelta(hours=1)), "20.25", "21", "20",
                "20.75", "400"]]
got = wait_until(lambda: bars_of("BARH", "01:00:00") if len(
    bars_of("BARH", "01:00:00")) >= 2 else None, 30)
t.eq(got, want_hourly,
     "the two ended hourly bars stored at their start; the forming one not")

# a changed bar is updated
daily[2] = dict(daily[2], c=103.25, h=104.75, v=8100)
sim.call("POST", "/sim/bars", {"conid": DAILY, "bars": [daily[2]],
                               "append": True})
got = wait_until(lambda: psql(
    "SELECT high, close, volume FROM pgtrade.bar WHERE instrument_id = "
    "pgtrade.instrument_id('BARD') AND ts = :'p0'::date::timestamp "
    "AT TIME ZONE 'America/New_York' AND close = 103.25",
    days[2].strftime("%Y-%m-%d")), 30)
t.eq(got, [["104.75", "103.25", "8100"]],
     "the changed daily bar is updated: high 104.75, close 103.25, "
     "volume 8100")
t.eq(scalar("SELECT count(*) FROM pgtrade.bar WHERE instrument_id = "
            "pgtrade.instrument_id('BARD')"), "3",
     "the update added no bar")

# a bar starting in the future makes the answer refused as a whole
future = {"t": ms(t0 + datetime.timedelta(hours=2)), "o": 21, "h": 21.5,
          "l": 20.5, "c": 21.25, "v": 10}
sim.call("POST", "/sim/bars", {"conid": HOURLY, "bars": [future],
                               "append": True})
refused = wait_until(lambda: "of BARH starts in the future" in new_text(
    LISTENER_LOG, log_mark), 30)
t.ok(refused, "the listener logs the refusal: a bar starts in the future")
t.ok("WARNING: bars: BARH 01:00:00 bars refused by the database; nothing stored"
     in new_text(LISTENER_LOG, log_mark),
     "and a WARNING that nothing of that answer was stored")
t.eq(bars_of("BARH", "01:00:00"), want_hourly,
     "the hourly bars are as before: neither the future nor the forming "
     "bar stored")

# an instrument the simulator has no bars for: "No data." is logged
t.ok("LOG: bars: BARN 1 day bars: the gateway has no data (conid %d)"
     % EMPTY in new_text(LISTENER_LOG, log_mark),
     "a history answer \"No data.\" is logged, and the refresh goes on")

# the requests the simulator saw
entries = [json.loads(line) for line in
           new_text(REQUEST_LOG, req_mark).splitlines()]
history = [e["path"] for e in entries
           if e.get("path", "").split("?")[0].endswith("/marketdata/history")]
t.ok(any("conid=%d&" % DAILY in p and "bar=1d" in p for p in history),
     "the daily instrument was asked for with bar=1d")
t.ok(any("conid=%d&" % HOURLY in p and "bar=1h" in p for p in history),
     "the hourly instrument was asked for with bar=1h")
t.eq([p for p in history if "conid=%d&" % IDLE in p], [],
     "the instrument whose strategy is inactive was never asked for")
t.eq(scalar("SELECT count(*) FROM pgtrade.bar WHERE instrument_id = "
            "pgtrade.instrument_id('BARX')"), "0",
     "and none of its bars were stored")
t.eq([e for e in entries if e.get("status") == 429], [],
     "no request was refused for the rate limit")

services("stop")
psql("UPDATE pgtrade.strategy SET active = false "
     "WHERE name IN ('bars_d', 'bars_h', 'bars_n')")
t.done()
