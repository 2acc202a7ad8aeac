#!/usr/bin/python3
"""A backtest and a live replay of the same period decide alike, on real
bars: SPY's 2010 sessions (shared/data/SPY_1d.csv), each strategy kind
built in, its evaluations at every close compared key for key with those
that run_strategy recorded replaying the same closes one by one.  Then
the backtest's trades are checked against a Python replay of its own
decisions (fills at the next open, rounded to the cent against the
trader, position and cash by hand).

Skips, with the reason, when the shared folder is absent.
"""
import csv
import json
import os
import sys
import time
from decimal import Decimal, ROUND_CEILING, ROUND_FLOOR

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, SHARED, psql, scalar  # noqa: E402

KINDS = [("sma_cross", '{"fast": 10, "slow": 30}'),
         ("ema_cross", "{}"), ("macd_cross", "{}"), ("rsi_reversion", "{}"),
         ("bollinger_breakout", "{}"), ("confirmations", "{}")]
FROM, TO = "2010-01-01", "2010-12-31 23:59"

t = Tap(len(KINDS) * 2 + 2)
data = os.path.join(SHARED, "data")
if not os.path.isdir(data):
    t.skip_rest("shared data folder %s is absent" % data)
    t.done()

# names of this run's own, so that the test can run again in one database
RUN = "%X" % (int(time.time() * 1000) % 0xffffff)
psql("SELECT pgtrade.add_account('BT1')")
psql("SELECT pgtrade.set_risk_limit('BT1', max_position => 1e9)")
with open(os.path.join(data, "SPY_1d.csv"), newline="") as f:
    rows = [r for r in csv.DictReader(f)
            if "2009-06-01" <= r["ts"] <= "2010-12-31"]
sessions_2010 = [r for r in rows if r["ts"].startswith("2010-")]
values = ",".join("('%s', %s, %s, %s, %s, %s)" % (
    r["ts"], r["open"], r["high"], r["low"], r["close"], r["volume"])
    for r in rows)

# one instrument per kind (a strategy owns its account's position), each
# with SPY's bars from mid-2009 (the warm-up) to the end of 2010
for i, (kind, params) in enumerate(KINDS):
    sym = "SPYBT%d%s" % (i, RUN)
    psql("SELECT pgtrade.add_instrument(:'p0')", sym)
    psql("""INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high,
            low, close, volume)
            SELECT pgtrade.instrument_id(:'p0'), '1 day',
                   d::timestamp AT TIME ZONE 'America/New_York', o, h, l, c, v
            FROM (VALUES %s) x(d, o, h, l, c, v)""" % values, sym)
    psql("""SELECT pgtrade.create_strategy(:'p0', :'p1', :'p2', 'BT1', :'p3',
            100, max_bar_age => '100 years', market_hours => 'always')""",
         "bt_%s_%s" % (kind, RUN), kind, sym, params)

for kind, _ in KINDS:
    name = "bt_%s_%s" % (kind, RUN)
    bid = scalar("""SELECT backtest_id FROM pgtrade.backtest(:'p0', :'p1', :'p2',
                    capital => 1000000, store => true)""", name, FROM, TO)
    psql("""SELECT count(*) FROM pgtrade.bar b
            JOIN pgtrade.strategy s USING (instrument_id),
            LATERAL pgtrade.run_strategy(:'p0', pgtrade.bar_end(b.ts, '1 day',
                'America/New_York', '16:00'), 'replay') r
            WHERE s.name = :'p0' AND b.ts BETWEEN :'p1' AND :'p2'""",
         name, FROM, TO)
    bt = psql("""SELECT as_of, evaluation FROM pgtrade.backtest_decision
                 WHERE backtest_id = :'p0' ORDER BY as_of""", bid)
    live = psql("""SELECT r.as_of, st.output FROM pgtrade.workflow_run r
                   JOIN pgtrade.strategy s USING (strategy_id)
                   JOIN pgtrade.workflow_step st USING (run_id)
                   WHERE s.name = :'p0' AND st.name = 'evaluate'
                   ORDER BY r.as_of""", name)
    same = len(bt) == len(live) == len(sessions_2010) and all(
        a[0] == b[0] and json.loads(a[1]) == json.loads(b[1])
        for a, b in zip(bt, live))
    t.ok(same, "%s: the backtest's %d evaluations of 2010 are the replay's"
         % (kind, len(bt)), "%d vs %d" % (len(bt), len(live)))
    targets = {r[0] for r in psql(
        """SELECT DISTINCT coalesce(target::text, 'null')
           FROM pgtrade.backtest_decision WHERE backtest_id = :'p0'""", bid)}
    t.ok(len(targets) >= 2 or kind in ("rsi_reversion", "bollinger_breakout"),
         "%s: its decisions in 2010 are not all the same (%s)"
         % (kind, ", ".join(sorted(targets))))

# the sma_cross backtest's trades, replayed by hand from its decisions:
# each change of target position fills at the next session's open
bid = scalar("""SELECT backtest_id FROM pgtrade.backtest(:'p2',
                :'p0', :'p1', capital => 1000000, store => true)""", FROM, TO,
             "bt_sma_cross_" + RUN)
decisions = psql("""SELECT as_of, coalesce(target_position::text, '')
                    FROM pgtrade.backtest_decision WHERE backtest_id = :'p0'
                    ORDER BY as_of""", bid)
opens = [Decimal(r["open"]) for r in sessions_2010]
closes = [Decimal(r["close"]) for r in sessions_2010]
pos, cash, want = Decimal(0), Decimal(1000000), []
for k, (as_of, tpos) in enumerate(decisions):
    if tpos != "" and Decimal(tpos) != pos and k + 1 < len(opens):
        q = Decimal(tpos) - pos
        # priced as paper trading prices, to the tick against the trader
        price = opens[k + 1].quantize(
            Decimal("0.01"), ROUND_CEILING if q > 0 else ROUND_FLOOR)
        want.append(("buy" if q > 0 else "sell", abs(q), price))
        cash -= q * price
        pos = Decimal(tpos)
have = [(r[0], Decimal(r[1]), Decimal(r[2])) for r in psql(
    """SELECT side, quantity, price FROM pgtrade.backtest_trade
       WHERE backtest_id = :'p0' ORDER BY trade_no""", bid)]
t.eq(have, want, "sma_cross: the %d trades are the decisions filled at the "
     "next open" % len(want))
final = Decimal(scalar("SELECT final_equity FROM pgtrade.backtest WHERE "
                       "backtest_id = :'p0'", bid))
t.eq(final, cash + pos * closes[-1], "sma_cross: final equity %s is cash "
     "plus the position at the last close" % final)
t.done()
