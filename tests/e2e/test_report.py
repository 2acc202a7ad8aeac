#!/usr/bin/python3
"""The report pages, drawn by a real browser: a kept backtest of SPY's
2010 sessions (shared/data/SPY_1d.csv) and a strategy that traded the
first half of 2010 through the order path (runs replayed at each close,
orders claimed and filled at the next open).  Each page is written with
scripts/report.sh under results/report/, loaded in headless Chromium,
and read back from the DOM Chromium built: its charts and tables, a
marker per fill, a table row per trade, the equity line ending at the
backtest's final equity and its drawdown reaching the backtest's
maximum.  A screenshot of each is kept beside it.

Chromium runs offline: no first-run, sync, component or background
traffic, a throw-away profile, and every host name resolving to
nothing.  Skips, with the reason, when the shared folder is absent.
"""
import csv
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from html.parser import HTMLParser

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, SHARED, TOP, psql, scalar  # noqa: E402

OUT = os.path.join(TOP, "results", "report")
FROM, TO = "2010-01-01", "2010-12-31 23:59"
OFFLINE = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--metrics-recording-only",
           "--no-default-browser-check", "--disable-default-apps",
           "--disable-extensions", "--host-resolver-rules=MAP * ~NOTFOUND"]

t = Tap(17)
data = os.path.join(SHARED, "data")
if not os.path.isdir(data):
    t.skip_rest("shared data folder %s is absent" % data)
    t.done()
browser = shutil.which("chromium")
if not t.ok(browser is not None, "chromium is installed",
            "scripts/install-deps.sh installs the Debian package chromium"):
    t.skip_rest("no browser")
    t.done()
version = subprocess.run([browser, "--version"], capture_output=True,
                         text=True).stdout.strip()
print("# %s" % version)


class Dom(HTMLParser):
    """What the tests ask of a page: elements by id, by class, and the
    rows of each table's body."""

    def __init__(self, text):
        super().__init__()
        self.ids = {}
        self.classes = []
        self.rows = {}
        self._table = None
        self._in_body = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids[a["id"]] = (tag, a)
        self.classes.append((tag, (a.get("class") or "").split(), a))
        if tag == "table":
            self._table = a.get("id")
            self.rows.setdefault(self._table, 0)
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body and self._table:
            self.rows[self._table] += 1

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table = None

    def count(self, *names):
        return sum(1 for _, c, _ in self.classes if all(n in c for n in names))

    def line(self, name):
        """The data- attributes of the line of class name."""
        for tag, c, a in self.classes:
            if tag == "path" and "line" in c and name in c:
                return a
        return {}


def browse(page, png, height):
    """Load a page in headless Chromium: its DOM, and a screenshot."""
    with tempfile.TemporaryDirectory(prefix="pgtrade-chromium-") as prof:
        url = "file://" + page
        dom = subprocess.run([browser] + OFFLINE + ["--user-data-dir=" + prof,
                             "--dump-dom", url], capture_output=True,
                             text=True, timeout=120).stdout
        subprocess.run([browser] + OFFLINE + ["--user-data-dir=" + prof,
                       "--screenshot=" + png,
                       "--window-size=1200,%d" % height, url],
                       capture_output=True, timeout=120)
    return Dom(dom)


def png_size(path):
    """Width and height of a PNG, or None when it is not one."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
    except OSError:
        return None
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def write_page(what, ident, name, *period):
    """Write a page with scripts/report.sh; return its path and text."""
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        subprocess.run([os.path.join(TOP, "scripts", "report.sh"), what,
                        str(ident)] + list(period), stdout=f, check=True)
    with open(path) as f:
        return path, f.read()


os.makedirs(OUT, exist_ok=True)
# names of this run's own, so that the test can run again in one database
RUN = int(time.time() * 1000) % 0xffffff
SYM, NAME, LIVE = "SPYRP%X" % RUN, "rp_bt_%X" % RUN, "rp_live_%X" % RUN
CONID = 700000000 + RUN
psql("SELECT pgtrade.add_account('RPE1')")
psql("SELECT pgtrade.set_risk_limit('RPE1', max_position => 1e9)")
psql("SELECT pgtrade.add_account('RPE2')")
psql("SELECT pgtrade.set_risk_limit('RPE2', max_position => 1e9)")
psql("SELECT pgtrade.add_instrument(:'p0', :'p1')", SYM, CONID)
with open(os.path.join(data, "SPY_1d.csv"), newline="") as f:
    rows = [r for r in csv.DictReader(f)
            if "2009-06-01" <= r["ts"] <= "2010-12-31"]
psql("""INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low,
        close, volume)
        SELECT pgtrade.instrument_id(:'p0'), '1 day',
               d::timestamp AT TIME ZONE 'America/New_York', o, h, l, c, v
        FROM (VALUES %s) x(d, o, h, l, c, v)""" % ",".join(
    "('%s', %s, %s, %s, %s, %s)" % (r["ts"], r["open"], r["high"], r["low"],
                                    r["close"], r["volume"]) for r in rows),
     SYM)
for name, account in ((NAME, "RPE1"), (LIVE, "RPE2")):
    psql("""SELECT pgtrade.create_strategy(:'p0', 'sma_cross', :'p1', :'p2',
            '{"fast": 10, "slow": 30}', 100, max_bar_age => '100 years',
            market_hours => 'always')""", name, SYM, account)

# the kept backtest
bid = scalar("""SELECT backtest_id FROM pgtrade.backtest(:'p0', :'p1', :'p2',
                capital => 100000, commission => 0.01, store => true)""",
             NAME, FROM, TO)
bt = psql("""SELECT bars, trades, final_equity, max_drawdown
             FROM pgtrade.backtest WHERE backtest_id = :'p0'""", bid)[0]
sides = dict(psql("""SELECT side, count(*) FROM pgtrade.backtest_trade
                     WHERE backtest_id = :'p0' GROUP BY side""", bid))
path, html = write_page("backtest", bid, "backtest.html")
t.ok(html.startswith("<!DOCTYPE html>") and len(html) > 10000,
     "backtest %s: scripts/report.sh wrote %s (%d bytes)"
     % (bid, os.path.relpath(path, TOP), len(html)))
png = os.path.join(OUT, "backtest.png")
if os.path.exists(png):
    os.unlink(png)
dom = browse(path, png, 1600)
want = {"price-chart": "svg", "equity-chart": "svg", "drawdown-chart": "svg",
        "trades": "table", "summary": "table"}
have = {k: dom.ids.get(k, ("?",))[0] for k in want}
t.eq(have, want, "backtest: Chromium's DOM has the charts and the tables")
t.eq(dom.count("marker", "buy"), int(sides.get("buy", 0)),
     "backtest: a buy marker for each of the %s buys in backtest_trade"
     % sides.get("buy", 0))
t.eq(dom.count("marker", "sell"), int(sides.get("sell", 0)),
     "backtest: a sell marker for each of the %s sells" % sides.get("sell", 0))
t.eq((dom.rows.get("trades"), sum(int(n) for n in sides.values())),
     (int(bt[1]), int(bt[1])),
     "backtest: the trades table has a row per trade (%s)" % bt[1])
t.eq([dom.line(c).get("data-points") for c in ("close", "ind-1", "ind-2")],
     [bt[0]] * 3, "backtest: closes and both SMAs over its %s bars (warmed up)"
     % bt[0])
eq = dom.line("equity")
t.eq((eq.get("data-points"), eq.get("data-last")),
     (bt[0], "%.6f" % float(bt[2])),
     "backtest: the equity line ends at the final equity %s" % bt[2])
t.eq(dom.line("drawdown").get("data-min"), "%.6f" % (float(bt[3]) * 100),
     "backtest: the drawdown line reaches the maximum drawdown %s" % bt[3])
size = png_size(png)
t.ok(size == (1200, 1600) and os.path.getsize(png) > 20000,
     "backtest: screenshot %s, %s, %d bytes" % (
         os.path.relpath(png, TOP), size, os.path.getsize(png)
         if os.path.exists(png) else 0))
bad = [w for w in ("http:", "https:", "src=", "<script", "<link", "url(",
                   "@import") if w in html.lower()]
t.eq(bad, [], "backtest: the page refers to nothing outside itself")

# a strategy trading the first half of 2010: a run at each close, and
# what it orders claimed, acknowledged and filled at the next open
psql("""DO $$
DECLARE b record; r record; o record;
BEGIN
  FOR b IN SELECT * FROM (
             SELECT x.ts, lead(x.ts) OVER (ORDER BY x.ts) AS next_ts,
                    lead(x.open) OVER (ORDER BY x.ts) AS next_open
             FROM pgtrade.bar x
             WHERE x.instrument_id = pgtrade.instrument_id('%(sym)s')) y
           WHERE y.ts >= '2010-01-01' AND y.ts < '2010-07-01'
           ORDER BY y.ts
  LOOP
    SELECT * INTO r FROM pgtrade.run_strategy('%(live)s',
      pgtrade.bar_end(b.ts, '1 day', 'America/New_York', '16:00'), 'replay',
      true);
    IF r.order_id IS NOT NULL THEN
      SELECT * INTO STRICT o FROM pgtrade.claim_order(1, ARRAY['RPE2']);
      PERFORM pgtrade.record_submission(o.order_id, 'RP' || o.order_id,
                                        'Submitted');
      PERFORM pgtrade.record_fill('%(live)s-' || o.order_id,
        o.client_order_id, 'RPE2', %(conid)s, o.side, o.quantity,
        round(b.next_open::numeric, 2),
        b.next_ts + interval '9 hours 30 minutes', 1);
    END IF;
  END LOOP;
END $$""" % {"sym": SYM, "live": LIVE, "conid": CONID})
sid = scalar("SELECT strategy_id FROM pgtrade.strategy WHERE name = :'p0'",
             LIVE)
fills = dict(psql("""SELECT f.side, count(*) FROM pgtrade.fill f
                     JOIN pgtrade.orders o USING (order_id)
                     WHERE o.strategy_id = :'p0' GROUP BY f.side""", sid))
orders = int(scalar("SELECT count(*) FROM pgtrade.orders WHERE strategy_id "
                    "= :'p0'", sid))
trades = int(scalar("""SELECT count(*) FROM pgtrade.decision
                       WHERE strategy_id = :'p0' AND action <> 'hold'
                         AND last_close IS NOT NULL""", sid))
path, html = write_page("strategy", sid, "strategy.html")
t.ok(html.startswith("<!DOCTYPE html>") and len(html) > 10000,
     "strategy %s: scripts/report.sh wrote %s (%d bytes)"
     % (sid, os.path.relpath(path, TOP), len(html)))
png = os.path.join(OUT, "strategy.png")
if os.path.exists(png):
    os.unlink(png)
dom = browse(path, png, 2400)
want = {"price-chart": "svg", "equity-chart": "svg", "drawdown-chart": "svg",
        "decisions": "table", "orders": "table", "fills": "table"}
have = {k: dom.ids.get(k, ("?",))[0] for k in want}
t.eq(have, want, "strategy: Chromium's DOM has the charts and the tables")
t.eq((dom.count("marker", "buy"), dom.count("marker", "sell")),
     (int(fills.get("buy", 0)), int(fills.get("sell", 0))),
     "strategy: a marker for each fill of its orders (%s buys, %s sells)"
     % (fills.get("buy", 0), fills.get("sell", 0)))
t.eq(dom.count("decision"), trades,
     "strategy: a ring for each of its %d decisions to trade" % trades)
t.eq((dom.rows.get("fills"), dom.rows.get("orders")),
     (sum(int(n) for n in fills.values()), orders),
     "strategy: a row per fill and per order")
size = png_size(png)
t.ok(size == (1200, 2400) and os.path.getsize(png) > 20000,
     "strategy: screenshot %s, %s" % (os.path.relpath(png, TOP), size))
t.done()
