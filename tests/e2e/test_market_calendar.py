#!/usr/bin/python3
"""The XNYS calendar against real trading: the days on which real US
equities traded are exactly the calendar's sessions, and real minute bars
fall inside or outside the regular session as the calendar says.

The expected side comes from the shared data files alone (the dates that
have bars; a minute's New York time read with Python's zoneinfo), never
from pgtrade.  Skips, with the reason, when the shared folder is absent.
"""
import csv
import datetime as dt
import os
import re
import sys
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, SHARED, psql  # noqa: E402

DAILY = ["AAPL_1d.csv", "SPY_1d.csv", "MSFT_1d.csv", "IBM_1d.csv"]
MINUTE = ["SPY_1m_2011-01.csv", "AAPL-MSFT-TSLA_1m_2021-08-23_25.csv"]
NY = ZoneInfo("America/New_York")


def sessions(first, last):
    return [r[0] for r in psql(
        "SELECT day FROM pgtrade.market_sessions('XNYS', :'p0', :'p1')",
        first, last)]


t = Tap(len(DAILY) + 2 * len(MINUTE))
data = os.path.join(SHARED, "data")
if not os.path.isdir(data):
    t.skip_rest("shared data folder %s is absent" % data)
    t.done()

for name in DAILY:
    with open(os.path.join(data, name), newline="") as f:
        traded = sorted({r["ts"] for r in csv.DictReader(f)})
    have = sessions(traded[0], traded[-1])
    extra = sorted(set(have) - set(traded))
    missing = sorted(set(traded) - set(have))
    t.ok(not extra and not missing,
         "%s: the %d days with bars from %s to %s are the calendar's sessions"
         % (name, len(traded), traded[0], traded[-1]),
         "sessions without bars: %s; bars on closed days: %s"
         % (extra[:10], missing[:10]))

for name in MINUTE:
    with open(os.path.join(data, name), newline="") as f:
        stamps = sorted({r["ts"] for r in csv.DictReader(f)})
    local = [dt.datetime.fromisoformat(s).astimezone(NY) for s in stamps]
    regular = [dt.time(9, 30) <= x.time() < dt.time(16, 0) for x in local]
    # the stamps go in the statement text: too many for psql's -v
    if not all(re.fullmatch(r"[0-9T:+-]+", s) for s in stamps):
        t.bail("%s: unexpected characters in a timestamp" % name)
    answers = psql("""SELECT pgtrade.market_is_open('XNYS', ts)
                      FROM unnest('{%s}'::timestamptz[]) WITH ORDINALITY u(ts, n)
                      ORDER BY n""" % ",".join(stamps))
    got = [a[0] == "t" for a in answers]
    wrong = [s for s, want, have in zip(stamps, regular, got) if want != have]
    t.ok(len(got) == len(stamps) and not wrong,
         "%s: each of %d minutes is open exactly when it lies in 09:30-16:00 "
         "New York time (%d do)" % (name, len(stamps), sum(regular)),
         "disagreements: %s" % wrong[:10])
    days = sorted({x.date().isoformat() for x in local})
    t.eq(sessions(days[0], days[-1]), days,
         "%s: the %d days with minutes are the calendar's sessions from %s "
         "to %s" % (name, len(days), days[0], days[-1]))

t.done()
