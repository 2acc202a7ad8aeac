#!/usr/bin/python3
"""pgtrade.backtest runs the built-in kinds through its C engine when
the result is not kept (backtest_engine_read, which reads
the bars itself; a sweep hands its bars to backtest_sma_cross_engine or
backtest_kind_engine as arrays), and through its PL/pgSQL loop when it
is.  On SPY's ten years of daily bars
(shared/data/SPY_1d.csv, 2,519 sessions), both must agree: every trade
and every numeric figure equal, digit for digit and in scale (compared
as text), Sharpe and Sortino within 1e-9 relative (the engine keeps
returns in doubles, the loop in numeric first).  The
grid covers sma_cross's periods, commission, slippage, limit orders
under a price collar, a daily loss limit that refuses orders, and
risk => false; then each other built-in kind, with its defaults and
other params, under costs and those limits; then sizing by a fraction
of equity and by risk (an ATR stop), lots of 1, 10 and 1,000 (where no
size is ever whole), with and without refusals.  A sweep of one combination
(the engines over arrays) must give the same figures as the backtest
that read its own bars, and the functions called are counted to show
which path each took.

Skips, with the reason, when the shared folder is absent.
"""
import csv
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, SHARED, psql  # noqa: E402

PERIODS = [(1, 2), (5, 20), (10, 30), (20, 50), (50, 200), (3, 7)]
# (commission, slippage_bps, risk, account)
COSTS = [("0", "0", "true", "plain"), ("0.005", "5", "true", "plain"),
         ("0.01", "0", "true", "loss"), ("0", "2", "false", "loss"),
         ("0", "0", "true", "collar")]
FROM, TO = "2008-03-01", "2017-12-31"
EXACT = ["bars", "trades", "refused", "final_equity", "total_return", "cagr",
         "max_drawdown", "drawdown_peak", "drawdown_trough", "win_rate",
         "profit_factor", "exposure", "trade_list"]

# the other kinds: (kind, params) under each of KIND_COSTS
KINDS = [("ema_cross", "{}"), ("ema_cross", '{"fast": 5, "slow": 20}'),
         ("macd_cross", "{}"), ("rsi_reversion", "{}"),
         ("rsi_reversion", '{"period": 7, "low": 25, "high": 75}'),
         ("bollinger_breakout", "{}"), ("confirmations", "{}"),
         ("confirmations", '{"k": 2}')]
KIND_COSTS = [("0.005", "5", "true", "plain"), ("0.01", "0", "true", "loss"),
              ("0", "0", "true", "collar")]
# sized strategies: (label, kind, params, sizing, fraction, atr_period,
# atr_multiple, lot size, account, commission, slippage, risk)
SIZED = [
    ("sma_cross 10/30, equity x 0.5", "sma_cross", '{"fast": 10, "slow": 30}',
     "equity_fraction", "0.5", 14, 2, 1, "plain", "0.005", "5", "true"),
    ("sma_cross 10/30, equity x 2, lots of 10", "sma_cross",
     '{"fast": 10, "slow": 30}', "equity_fraction", "2", 14, 2, 10, "plain",
     "0", "0", "false"),
    ("sma_cross 5/20, risk 1 % of 2 ATR(14)", "sma_cross",
     '{"fast": 5, "slow": 20}', "risk", "0.01", 14, 2, 1, "plain", "0.005",
     "2", "true"),
    ("sma_cross 3/7, risk 5 % of 1.5 ATR(20), loss limit", "sma_cross",
     '{"fast": 3, "slow": 7}', "risk", "0.05", 20, "1.5", 1, "loss", "0.01",
     "0", "true"),
    ("sma_cross 10/30, equity x 0.5, lots of 1,000", "sma_cross",
     '{"fast": 10, "slow": 30}', "equity_fraction", "0.5", 14, 2, 1000,
     "plain", "0", "0", "true"),
    ("ema_cross, equity x 1", "ema_cross", "{}", "equity_fraction", "1", 14,
     2, 1, "plain", "0.005", "5", "true"),
    ("confirmations, risk 2 % of 3 ATR(10)", "confirmations", "{}", "risk",
     "0.02", 10, 3, 1, "plain", "0", "0", "true"),
    ("rsi_reversion, equity x 0.3, lots of 10, loss limit", "rsi_reversion",
     "{}", "equity_fraction", "0.3", 14, 2, 10, "loss", "0.01", "0", "true"),
    ("macd_cross, risk 5 % of 1.5 ATR(40)", "macd_cross", "{}", "risk",
     "0.05", 40, "1.5", 1, "plain", "0", "3", "false"),
]
# ends of periods from 1867-10-19 12:00Z on Alaska's bars (below)
ALASKA_TO = ["1867-10-23 20:00+00", "1867-10-31 20:00+00",
             "1867-11-12 00:00+00", "1867-12-06 00:00+00",
             "1867-12-11 00:00+00", "1867-12-18 20:00+00"]
# (label, strategy name pattern, params, period) of later starts
LATER = [("sma_cross 10/30", "be_plain_%s", '{"fast": 10, "slow": 30}',
          ("2013-06-03", "2015-12-31")),
         ("sma_cross 50/200", "be_plain_%s", '{"fast": 50, "slow": 200}',
          ("2009-06-01", "2011-06-30")),
         ("sma_cross 3/7", "be_loss_%s", '{"fast": 3, "slow": 7}',
          ("2016-02-29 21:00+00", "2017-12-31")),
         ("confirmations", "be_plain_confirmations_%s", "{}",
          ("2014-01-02", "2016-06-30")),
         ("macd_cross", "be_plain_macd_cross_%s", "{}",
          ("2012-03-15", "2014-03-14"))]

t = Tap(len(PERIODS) * len(COSTS) + len(KINDS) * len(KIND_COSTS)
        + len(SIZED) + len(LATER) + len(ALASKA_TO) + 13)
data = os.path.join(SHARED, "data")
if not os.path.isdir(data):
    t.skip_rest("shared data folder %s is absent" % data)
    t.done()

RUN = "%X" % (int(time.time() * 1000) % 0xffffff)
with open(os.path.join(data, "SPY_1d.csv"), newline="") as f:
    rows = list(csv.DictReader(f))
values = ",".join("('%s', %s, %s, %s, %s, %s)" % (
    r["ts"], r["open"], r["high"], r["low"], r["close"], r["volume"])
    for r in rows)

# one account and instrument per risk setting (a strategy owns its
# account's position in its instrument)
ACCOUNTS = {
    "plain": "max_position => 1e9",
    # 50 shares lose more than 40 in a day now and then: refusals
    "loss": "max_position => 1e9, max_daily_loss => 40",
    # limits 0.5 % away from the close, a collar of 0.4 %: all refused
    # when the close is under 100... and passed above 125
    "collar": "max_position => 1e9, price_collar_pct => 0.4",
}
for acct, limits in ACCOUNTS.items():
    a = "BE%s%s" % (acct[:2].upper(), RUN)
    sym = "SPYBE%s%s" % (acct[:2].upper(), RUN)
    psql("SELECT pgtrade.add_account(:'p0')", a)
    psql("SELECT pgtrade.set_risk_limit(:'p0', %s)" % limits, a)
    psql("SELECT pgtrade.add_instrument(:'p0')", sym)
    psql("""INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high,
            low, close, volume)
            SELECT pgtrade.instrument_id(:'p0'), '1 day',
                   d::timestamp AT TIME ZONE 'America/New_York', o, h, l, c, v
            FROM (VALUES %s) x(d, o, h, l, c, v)""" % values, sym)
    psql("""SELECT pgtrade.create_strategy(:'p0', 'sma_cross', :'p1', :'p2',
            '{"fast": 10, "slow": 30}', 50, max_bar_age => '100 years',
            market_hours => 'always')""", "be_%s_%s" % (acct, RUN), sym, a)
    # one instrument a kind (a strategy owns its account's position)
    for kind in sorted(set(k for k, _ in KINDS)):
        ksym = "%s%s" % (sym, kind[:3].upper())
        psql("SELECT pgtrade.add_instrument(:'p0')", ksym)
        psql("""INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open,
                high, low, close, volume)
                SELECT pgtrade.instrument_id(:'p0'), bar_size, ts, open, high,
                       low, close, volume
                FROM pgtrade.bar WHERE instrument_id =
                    pgtrade.instrument_id(:'p1')""", ksym, sym)
        psql("""SELECT pgtrade.create_strategy(:'p0', :'p1', :'p2', :'p3',
                '{}', 50, max_bar_age => '100 years',
                market_hours => 'always')""",
             "be_%s_%s_%s" % (acct, kind, RUN), kind, ksym, a)
psql("""UPDATE pgtrade.strategy SET order_type = 'limit', limit_offset = 0.5
        WHERE name = :'p0' OR name LIKE :'p1'""", "be_collar_" + RUN,
     "be\\_collar\\_%\\_" + RUN)

COLS = ", ".join(EXACT + ["sharpe", "sortino"])


def run(name, params, commission, slippage, risk, store, period=None):
    first, last = period or (FROM, TO)
    out = psql("""SELECT row_to_json(b) FROM (SELECT %s FROM pgtrade.backtest(
                  :'p0', :'p1', :'p2', capital => 100000, commission => :'p3',
                  slippage_bps => :'p4', params => :'p5', store => %s,
                  risk => %s)) b""" % (COLS, store, risk),
               name, first, last, commission, slippage, params)
    # numbers as their text: numerics must agree in every digit and scale
    return json.loads(out[0][0], parse_float=str)


SWEPT = ["bars", "trades", "refused", "final_equity", "total_return", "cagr",
         "max_drawdown", "win_rate", "profit_factor", "exposure", "sharpe",
         "sortino"]


def swept(name, params, commission, slippage, risk, period=None):
    """The same backtest as a sweep of one combination: the bars read
    once into arrays and handed to the engine."""
    first, last = period or (FROM, TO)
    grid = json.dumps({k: [v] for k, v in json.loads(params).items()})
    out = psql("""SELECT row_to_json(b) FROM (SELECT %s FROM
                  pgtrade.backtest_sweep(:'p0', :'p1', :'p2', :'p5',
                  capital => 100000, commission => :'p3',
                  slippage_bps => :'p4', risk => %s)) b"""
               % (", ".join(SWEPT), risk),
               name, first, last, commission, slippage, grid)
    return json.loads(out[0][0], parse_float=str)


sweep_diffs = []


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    a, b = float(a), float(b)
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-300)


def compare(label, name, params, commission, slippage, risk, period=None):
    """One test: the same backtest through the engine (not kept) and the
    PL/pgSQL loop (kept); returns the engine's figures.  It is also run
    as a sweep of one combination, whose figures must be the engine's."""
    engine = run(name, params, commission, slippage, risk, "false", period)
    loop = run(name, params, commission, slippage, risk, "true", period)
    sweep = swept(name, params, commission, slippage, risk, period)
    sweep_diffs.extend(
        "%s: %s %r vs %r" % (label, k, engine[k], sweep[k]) for k in SWEPT
        if engine[k] != sweep[k])
    diff = [k for k in EXACT if engine[k] != loop[k]]
    diff += [k for k in ("sharpe", "sortino") if not close(engine[k], loop[k])]
    t.ok(not diff, "%s, commission %s, slippage %s bp, risk %s: engine and "
         "loop agree (%d trades, %d refused)"
         % (label, commission, slippage, risk, engine["trades"],
            engine["refused"]),
         "; ".join("%s: %r vs %r" % (k, engine[k], loop[k])
                   for k in diff)[:2000])
    return engine


seen_refused = seen_trades = 0
for fast, slow in PERIODS:
    params = json.dumps({"fast": fast, "slow": slow})
    for commission, slippage, risk, acct in COSTS:
        e = compare("sma_cross %d/%d (%s)" % (fast, slow, acct),
                    "be_%s_%s" % (acct, RUN), params, commission, slippage,
                    risk)
        seen_refused += e["refused"]
        seen_trades += e["trades"]

seen_kind = 0
for kind, params in KINDS:
    for commission, slippage, risk, acct in KIND_COSTS:
        e = compare("%s %s (%s)" % (kind, params, acct),
                    "be_%s_%s_%s" % (acct, kind, RUN), params, commission,
                    slippage, risk)
        seen_kind += e["trades"]
t.ok(seen_kind > 200, "the other kinds trade: %d fills" % seen_kind)

# Sizing: each setting on an instrument of its own (its lot size), the
# engine (reading its own bars, and a sweep's arrays) against the loop.
sized_trades = []
for k, (label, kind, params, sizing, fraction, atr_period, atr_multiple, lot,
        acct, commission, slippage, risk) in enumerate(SIZED):
    a = "BE%s%s" % (acct[:2].upper(), RUN)
    sym = "SPYBESZ%d%s" % (k, RUN)
    name = "be_sized_%d_%s" % (k, RUN)
    psql("SELECT pgtrade.add_instrument(:'p0')", sym)
    psql("UPDATE pgtrade.instrument SET lot_size = :'p1' WHERE symbol = :'p0'",
         sym, str(lot))
    psql("""INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high,
            low, close, volume)
            SELECT pgtrade.instrument_id(:'p0'), bar_size, ts, open, high, low,
                   close, volume
            FROM pgtrade.bar WHERE instrument_id =
                pgtrade.instrument_id(:'p1')""", sym,
         "SPYBE%s%s" % (acct[:2].upper(), RUN))
    psql("""SELECT pgtrade.create_strategy(:'p0', :'p1', :'p2', :'p3',
            :'p4', %d, max_bar_age => '100 years', market_hours => 'always')"""
         % lot, name, kind, sym, a, params)
    psql("""UPDATE pgtrade.strategy SET sizing = :'p1', capital = 100000,
            sizing_fraction = :'p2', atr_period = :'p3', atr_multiple = :'p4'
            WHERE name = :'p0'""", name, sizing, fraction, str(atr_period),
         str(atr_multiple))
    e = compare(label, name, params, commission, slippage, risk)
    sized_trades.append(e["trades"])
t.ok(sized_trades[4] == 0 and min(sized_trades[:4] + sized_trades[5:]) > 10,
     "sized strategies trade, but for lots of 1,000 that no equity fills: "
     "%r fills" % sized_trades)

# A zone whose local date once went back (America/Sitka, October 1867:
# from +14:58 to -9:01): the bar starting 03:00Z on the 19th ends before
# the one starting 00:00Z, so a bar's end does not grow with its start
# there.  The engine, its sweep and the loop must still take the same
# closes, however far back each read the bars.
AK = "AK%s" % RUN
psql("SELECT pgtrade.add_account(:'p0')", AK)
psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => 1e9)", AK)
psql("SELECT pgtrade.add_instrument(:'p0', time_zone => 'America/Sitka')", AK)
psql("""INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low,
        close, volume)
        SELECT pgtrade.instrument_id(:'p0'), '1 day', ts, c, c, c, c, 100
        FROM (SELECT ts, 100 + (row_number() OVER (ORDER BY ts) % 5) AS c
              FROM (SELECT generate_series(timestamptz '1867-01-01 00:00+00',
                                           '1867-10-17 00:00+00', '1 day') ts
                    UNION ALL VALUES (timestamptz '1867-10-19 00:00+00'),
                                     (timestamptz '1867-10-19 03:00+00')
                    UNION ALL SELECT generate_series(
                        timestamptz '1867-10-20 12:00+00',
                        '1867-12-31 12:00+00', '1 day')) y) x""", AK)
psql("""SELECT pgtrade.create_strategy(:'p0', 'sma_cross', :'p1', :'p1',
        '{"fast": 1, "slow": 2}', 10, max_bar_age => '1000 years',
        market_hours => 'always')""", "be_ak_" + RUN, AK)
for to in ALASKA_TO:
    compare("sma_cross 1/2, America/Sitka 1867", "be_ak_" + RUN,
            '{"fast": 1, "slow": 2}', "0", "0", "true",
            ("1867-10-19 12:00+00", to))

# Periods that start years into the bars: the engine reads back only to
# the window a live run loads at the first close, the loop reads them all.
# 50/200 loads 402 bars, more than lie before mid-2009's first close.
for label, name, params, period in LATER:
    compare("%s from %s" % (label, period[0]), name % RUN, params, "0.005",
            "5", "true", period)

t.ok(seen_trades > 1000, "the grid trades: %d fills" % seen_trades)
t.ok(seen_refused > 10, "and the limits refuse: %d orders" % seen_refused)
# a sweep over a late period reads back to its longest window (20/200's
# 402 bars, where 5/30 loads 62): each row must be its own backtest's
p_from, p_to = "2012-01-03", "2013-12-31"
rows_ = psql("""SELECT s.params, row_to_json(s) FROM pgtrade.backtest_sweep(
                :'p0', :'p1', :'p2', '{"fast": [5, 20], "slow": [30, 200]}',
                capital => 100000, commission => 0.005, slippage_bps => 5)
                s ORDER BY s.params::text""", "be_plain_" + RUN, p_from, p_to)
for combo, row in rows_:
    one = run("be_plain_" + RUN, combo, "0.005", "5", "true", "false",
              (p_from, p_to))
    got_ = json.loads(row, parse_float=str)
    sweep_diffs.extend("grid %s from %s: %s %r vs %r" % (combo, p_from, k,
                                                          one[k], got_[k])
                       for k in SWEPT if one[k] != got_[k])
t.ok(len(rows_) == 4, "a grid over a late period gives its 4 combinations",
     repr(rows_)[:500])
t.ok(not sweep_diffs, "each sweep (bars as arrays, read back to the "
     "longest window) gives the figures of the backtest that read its own "
     "bars", "; ".join(sweep_diffs)[:2000])


def calls(sql, *params):
    """How often each engine was called by sql, in one transaction (the
    statement's own row has one column, the counts two)."""
    out = psql("""BEGIN;
                  SET LOCAL track_functions = 'all';
                  %s;
                  SELECT f.funcname, f.calls
                  FROM pg_stat_xact_user_functions f
                  WHERE f.schemaname = 'pgtrade'
                    AND f.funcname LIKE 'backtest%%engine%%';
                  COMMIT;""" % sql, *params)
    return dict((r[0], int(r[1])) for r in out if len(r) == 2)


got = calls("""SELECT count(*) FROM pgtrade.backtest(:'p0', :'p1', :'p2',
               risk => false)""",
            "be_plain_" + RUN, FROM, TO)
t.ok(got.get("backtest_engine_read") == 1
     and not got.get("backtest_sma_cross_engine")
     and not got.get("backtest_kind_engine"),
     "a backtest not kept reads its bars in the engine, once", repr(got))
got = calls("""SELECT count(*) FROM pgtrade.backtest_sweep(:'p0', :'p1',
               :'p2', '{"fast": [5, 10], "slow": [30]}', risk => false)""",
            "be_plain_" + RUN, FROM, TO)
t.ok(got.get("backtest_sma_cross_engine") == 2
     and not got.get("backtest_engine_read"),
     "a sweep hands the bars it read once to the engine over arrays",
     repr(got))
got = calls("""SELECT count(*) FROM pgtrade.backtest(:'p0', :'p1', :'p2',
               risk => false)""", "be_sized_2_" + RUN, FROM, TO)
t.ok(got.get("backtest_engine_read") == 1,
     "a risk-sized sma_cross runs in the engine, its highs and lows read too",
     repr(got))
got = calls("""SELECT count(*) FROM pgtrade.backtest_sweep(:'p0', :'p1',
               :'p2', '{"fast": [5, 10], "slow": [30]}', risk => false)""",
            "be_sized_2_" + RUN, FROM, TO)
t.ok(got.get("backtest_sma_cross_engine") == 2
     and not got.get("backtest_engine_read"),
     "a sweep of it hands the engine over arrays the highs and lows too",
     repr(got))
got = calls("""SELECT count(*) FROM pgtrade.backtest_sweep(:'p0', :'p1',
               :'p2', '{"k": [2, 3]}', risk => false)""",
            "be_sized_6_" + RUN, FROM, TO)
t.ok(got.get("backtest_kind_engine") == 2,
     "a sweep of a risk-sized confirmations runs the kinds' engine",
     repr(got))

# how many bars a later start reads: those starting from three days
# before from_ts (a daily bar starting then has ended before it) up to
# to_ts, and the window a live run loads before them, no more
name, params, (p_from, p_to) = "be_plain_" + RUN, '{"fast": 10, "slow": 30}', \
    ("2013-06-03", "2015-12-31")
TUPLES = """SELECT pg_stat_force_next_flush();
             SELECT pg_sleep(0);
             SELECT x.idx_tup_read FROM pg_stat_user_indexes x
             WHERE x.indexrelid = 'pgtrade.bar_pkey'::regclass;"""
out = psql(TUPLES + """
              SELECT count(*) FROM pgtrade.backtest(:'p0', :'p1', :'p2',
                  params => :'p3', risk => false);
              """ + TUPLES + """
              SELECT count(*) FILTER (WHERE b.ts >= :'p1'::timestamptz
                                      - interval '3 days')
                     + least(count(*) FILTER (WHERE b.ts < :'p1'::timestamptz
                                              - interval '3 days'),
                             2 * pgtrade.strategy_kind_validate('sma_cross',
                                                                :'p3'))
              FROM pgtrade.bar b JOIN pgtrade.strategy s USING (instrument_id)
              WHERE s.name = :'p0' AND b.ts <= :'p2';
              SELECT count(*) FROM pgtrade.bar b
              JOIN pgtrade.strategy s USING (instrument_id)
              WHERE s.name = :'p0' AND b.ts <= :'p2';""",
           name, p_from, p_to, params)
vals = [int(r[0]) for r in out if r and r[0].isdigit()]
before, _, after, want, upto = vals[0], vals[1], vals[2], vals[3], vals[4]
got = after - before
t.ok(got == want and want < upto,
     "a backtest from %s reads %d bars, back to its first close's window, "
     "not the %d before its end" % (p_from, want, upto),
     "read %d, want %d" % (got, want))

# the engine really runs: called directly, it answers for these bars
n = psql("""SELECT (pgtrade.backtest_sma_cross_engine(s, 10, 30, 62,
              array_agg(b.ts ORDER BY b.ts), array_agg(b.open ORDER BY b.ts),
              array_agg(b.high ORDER BY b.ts), array_agg(b.low ORDER BY b.ts),
              array_agg(b.close ORDER BY b.ts), 1, count(*)::int, 100000,
              50, 0, 0, 0.01, 252, false, 'America/New_York', '1 day',
              'America/New_York', '16:00', true)).bars
            FROM pgtrade.strategy s JOIN pgtrade.bar b USING (instrument_id)
            WHERE s.name = :'p0' GROUP BY s.*""", "be_plain_%s" % RUN)
t.ok(n and n[0][0] == str(len(rows)),
     "the engine, called directly, decides at all %d closes" % len(rows),
     repr(n))
t.done()
