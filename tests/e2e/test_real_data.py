#!/usr/bin/python3
"""Real bars from the shared data folder: every file loads with the row
counts and date ranges its README states, vendor quirks are flagged, and
the C indicators agree with an independent Python computation written
from the formulas (TA-Lib conventions) over real closes.

Skips, with the reason, when the shared folder is absent.
"""
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, SHARED, psql, scalar, load_csv  # noqa: E402

t = Tap(15)
data = os.path.join(SHARED, "data")
if not os.path.isdir(data):
    t.skip_rest("shared data folder %s is absent" % data)
    t.done()

# counts and ranges as shared/data/README.md states them
files = [("AAPL_1d.csv", "1 day", "AAPL", 3379, "2004-08-19", "2018-01-19"),
         ("SPY_1d.csv", "1 day", "SPY", 2519, "2007-12-31", "2017-12-29"),
         ("MSFT_1d.csv", "1 day", "MSFT", 754, "2012-01-03", "2014-12-31"),
         ("IBM_1d.csv", "1 day", "IBM", 754, "2012-01-03", "2014-12-31"),
         ("SPY_1m_2011-01.csv", "1 minute", "SPY", 14180, "2011-01-03",
          "2011-01-31"),
         ("AAPL-MSFT-TSLA_1m_2021-08-23_25.csv", "1 minute", "TSLA", 1167,
          "2021-08-23", "2021-08-25")]
for name, size, sym, n, first, last in files:
    load_csv(os.path.join(data, name), size)
    got = psql("""SELECT count(*), min(ts AT TIME ZONE 'America/New_York')::date,
                         max(ts AT TIME ZONE 'America/New_York')::date
                  FROM pgtrade.bar b JOIN pgtrade.instrument i USING (instrument_id)
                  WHERE i.symbol = :'p0' AND b.bar_size = :'p1'""", sym, size)[0]
    t.eq(got, [str(n), first, last], "%s: %s %s bars, %s to %s"
         % (name, n, sym, first, last))

t.eq(psql("""SELECT to_char(ts AT TIME ZONE 'America/New_York', 'YYYY-MM-DD')
             FROM pgtrade.bar b JOIN pgtrade.instrument i USING (instrument_id)
             WHERE i.symbol = 'SPY' AND b.bar_size = '1 day' AND suspect
             ORDER BY ts"""), [["2015-03-05"], ["2015-03-30"]],
     "the two SPY days whose open lies outside high-low are kept and flagged")
t.eq(scalar("""SELECT to_char(ts AT TIME ZONE 'America/New_York', 'HH24:MI')
               FROM pgtrade.bar b JOIN pgtrade.instrument i USING (instrument_id)
               WHERE i.symbol = 'SPY' AND b.bar_size = '1 minute'
               ORDER BY ts LIMIT 1"""), "04:00",
     "SPY minutes start at 04:00 New York time")

# indicators against Python written from the formulas, on SPY closes
with open(os.path.join(data, "SPY_1d.csv"), newline="") as f:
    closes = [float(r["close"]) for r in csv.DictReader(f)]


def sma(x, n):
    return [None] * (n - 1) + [sum(x[i - n + 1:i + 1]) / n
                               for i in range(n - 1, len(x))]


def ema(x, n):
    k = 2.0 / (n + 1)
    out = [None] * (n - 1) + [sum(x[:n]) / n]
    for v in x[n:]:
        out.append(out[-1] + k * (v - out[-1]))
    return out


def rsi(x, n):
    ch = [b - a for a, b in zip(x, x[1:])]
    g = sum(max(c, 0) for c in ch[:n]) / n
    l = sum(max(-c, 0) for c in ch[:n]) / n
    out = [None] * n + [100 * g / (g + l) if g + l else 0]
    for c in ch[n:]:
        g = (g * (n - 1) + max(c, 0)) / n
        l = (l * (n - 1) + max(-c, 0)) / n
        out.append(100 * g / (g + l) if g + l else 0)
    return out


def wma(x, n):
    d = n * (n + 1) / 2.0
    return [None] * (n - 1) + [
        sum((j + 1) * x[i - n + 1 + j] for j in range(n)) / d
        for i in range(n - 1, len(x))]


def stddev(x, n):
    out = [None] * (n - 1)
    for i in range(n - 1, len(x)):
        w = x[i - n + 1:i + 1]
        m = sum(w) / n
        out.append((sum((v - m) ** 2 for v in w) / n) ** 0.5)
    return out


def roc(x, n):
    return [None] * n + [(x[i] / x[i - n] - 1) * 100 if x[i - n] else 0.0
                         for i in range(n, len(x))]


def compare(have, want):
    if len(have) != len(want):
        return "length %d vs %d" % (len(have), len(want))
    worst = 0.0
    for h, w in zip(have, want):
        if (h is None) != (w is None):
            return "warm-up differs"
        if h is not None:
            worst = max(worst, abs(h - w) / max(1.0, abs(w)))
    return worst


for fn, n, ref in [("sma", 50, sma), ("ema", 20, ema), ("rsi", 14, rsi),
                   ("wma", 30, wma), ("stddev", 20, stddev), ("roc", 10, roc)]:
    raw = psql("""SELECT coalesce(v::text, 'NULL') FROM unnest(pgtrade.%s(
        (SELECT array_agg(close ORDER BY ts) FROM pgtrade.bar b
         JOIN pgtrade.instrument i USING (instrument_id)
         WHERE i.symbol = 'SPY' AND b.bar_size = '1 day'), %d))
        WITH ORDINALITY AS u(v, i) ORDER BY i""" % (fn, n))
    have = [None if r[0] == 'NULL' else float(r[0]) for r in raw]
    res = compare(have, ref(closes, n))
    t.ok(isinstance(res, float) and res < 1e-9,
         "%s(%d) over 2,519 SPY closes matches the formula within 1e-9"
         % (fn, n), res)

t.eq(psql("SELECT count(*) FROM (SELECT DISTINCT symbol FROM pgtrade.instrument "
          "WHERE symbol IN ('AAPL', 'MSFT', 'TSLA')) x"), [["3"]],
     "the multi-symbol minute file created its three instruments")
t.done()
