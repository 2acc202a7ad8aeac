#!/usr/bin/python3
"""bench/backtest.py: backtests end to end from the SQL call, in bars a
second, against the engine over bars already in memory.

In a database of its own (pgtrade_bench_bt, in the sandbox cluster,
created again each run) it stores BENCH_BARS daily bars (default
1,000,000, a seeded random walk) of one instrument and an sma_cross 10/30
strategy on an account with a position limit, then times in one session,
five times each, medians:
  - the bars read into arrays (recent_bars, row by row; period_bars,
    what backtest reads, before and after pack_bars packs them);
  - pack_bars packing them all again;
  - pgtrade.backtest over all of them, before packing and after (sma_cross
    10/30 and 50/200), risk => false and risk => true
    (the C engine: sma_cross, fixed size, nothing kept);
  - a sweep of 20 combinations over all of them (bars read once), in bar
    evaluations a second;
  - the PL/pgSQL loop (store => true) over the last BENCH_LOOP_BARS
    closes (default 20,000), the baseline;
  - a backtest of each other built-in kind (each on an account of its
    own) over the last BENCH_KIND_BARS closes (default 200,000);
  - sma_cross 10/30 sized by risk (1 % of equity a stop of 2 ATR(14)),
    over all the bars in the engine and, kept, over the last
    BENCH_LOOP_BARS closes in the loop;
and runs bench/backtest_loop, the engine alone over as many bars in C
arrays.

    bench/run.sh backtest
"""
import os
import statistics
import subprocess
import sys

BARS = int(os.environ.get("BENCH_BARS", "1000000"))
LOOP_BARS = int(os.environ.get("BENCH_LOOP_BARS", "20000"))
KIND_BARS = int(os.environ.get("BENCH_KIND_BARS", "200000"))
KINDS = [("ema_cross", '{"fast": 12, "slow": 26}'),
         ("macd_cross", '{"fast": 12, "slow": 26, "signal": 9}'),
         ("rsi_reversion", '{"period": 14, "low": 30, "high": 70}'),
         ("bollinger_breakout", '{"period": 20, "k": 2}'),
         ("confirmations", '{"k": 3}')]
RUNS = 5
DB = "pgtrade_bench_bt"
HERE = os.path.dirname(os.path.abspath(__file__))


def psql(sql, db=DB):
    cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db]
    out = subprocess.run(cmd, input=sql, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("bench: SQL failed: %s\n%s" % (sql.strip()[:200], out.stderr))
    return out.stdout.strip()


def timed(sql):
    """Milliseconds of each of RUNS runs of one statement, by the server's
    clock, in one session."""
    script = ""
    for _ in range(RUNS):
        script += ("SELECT extract(epoch FROM clock_timestamp()) \\gset t0_\n"
                   + sql + " \\g /dev/null\n"
                   "SELECT (extract(epoch FROM clock_timestamp()) - "
                   ":t0_extract) * 1000;\n")
    return [float(x) for x in psql(script).splitlines()]


psql("DROP DATABASE IF EXISTS %s" % DB, db="postgres")
psql("CREATE DATABASE %s" % DB, db="postgres")
psql("""
    SET client_min_messages = warning;
    CREATE EXTENSION pgtrade;
    SELECT pgtrade.add_account('BENCHBT');
    SELECT pgtrade.set_risk_limit('BENCHBT', max_position => 1e9);
    SELECT pgtrade.add_instrument('BENCHBT', 1);
    SELECT setseed(0.42);
    INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low,
        close, volume)
    SELECT pgtrade.instrument_id('BENCHBT'), '1 day',
        ('1900-01-01'::date + n)::timestamp AT TIME ZONE 'America/New_York',
        c, c * 1.01, c * 0.99, c, 1000
    FROM (SELECT n, 100 * exp(sum(ln(1 + (random() - 0.5) * 0.02))
                             OVER (ORDER BY n)) AS c
          FROM generate_series(1, %d) n) w;
    SELECT pgtrade.create_strategy('bench_bt', 'sma_cross', 'BENCHBT',
        'BENCHBT', '{"fast": 10, "slow": 30}', 100,
        max_bar_age => '100000 years', market_hours => 'always');
    VACUUM ANALYZE pgtrade.bar;
""" % BARS)
psql("""SET client_min_messages = warning;
    SELECT pgtrade.add_account('BK_sized');
    SELECT pgtrade.set_risk_limit('BK_sized', max_position => 1e9);
    SELECT pgtrade.create_strategy('bench_sized', 'sma_cross', 'BENCHBT',
        'BK_sized', '{"fast": 10, "slow": 30}', 100,
        max_bar_age => '100000 years', market_hours => 'always');
    UPDATE pgtrade.strategy SET sizing = 'risk', capital = 100000,
        sizing_fraction = 0.01, atr_period = 14, atr_multiple = 2
    WHERE name = 'bench_sized';""")
psql("""SET client_min_messages = warning;
    SELECT pgtrade.add_account('BK_slow');
    SELECT pgtrade.set_risk_limit('BK_slow', max_position => 1e9);
    SELECT pgtrade.create_strategy('bench_slow', 'sma_cross', 'BENCHBT',
        'BK_slow', '{"fast": 50, "slow": 200}', 100,
        max_bar_age => '100000 years', market_hours => 'always');""")
for kind, params in KINDS:
    psql("""SET client_min_messages = warning;
        SELECT pgtrade.add_account('BK_%s');
        SELECT pgtrade.set_risk_limit('BK_%s', max_position => 1e9);
        SELECT pgtrade.create_strategy('bench_%s', '%s', 'BENCHBT', 'BK_%s',
            '%s', 100, max_bar_age => '100000 years',
            market_hours => 'always');""" % ((kind,) * 5 + (params,)))
last = psql("""SELECT pgtrade.bar_end(max(ts), '1 day', 'America/New_York',
               '16:00') FROM pgtrade.bar""")
loop_from = psql("""SELECT pgtrade.bar_end(ts, '1 day', 'America/New_York',
                    '16:00') FROM pgtrade.bar ORDER BY ts DESC
                    OFFSET %d LIMIT 1""" % (LOOP_BARS - 1))
kind_from = psql("""SELECT pgtrade.bar_end(ts, '1 day', 'America/New_York',
                    '16:00') FROM pgtrade.bar ORDER BY ts DESC
                    OFFSET %d LIMIT 1""" % (KIND_BARS - 1))

print("bench: backtests (sma_cross 10/30 unless named), %d daily bars, "
      "%d cores, "
      "PostgreSQL %s" % (BARS, os.cpu_count(),
                         psql("SHOW server_version")))
rows = []
read = timed("""SELECT (pgtrade.recent_bars(pgtrade.instrument_id('BENCHBT'),
                '1 day', 'infinity', 2147483647)).bars""")
rows.append(("bars read into arrays (`recent_bars`)", BARS, read))
PERIOD = """SELECT (pgtrade.period_bars(pgtrade.instrument_id('BENCHBT'),
            '1 day', '1900-01-01', '%s', 30)).bars""" % last
ONE = """SELECT trades FROM pgtrade.backtest('%s', '1900-01-01', '%s',
         risk => false)"""
rows.append(("bars read into arrays (`period_bars`), not packed", BARS,
             timed(PERIOD)))
rows.append(("`backtest`, engine, risk => false, bars not packed", BARS,
             timed(ONE % ("bench_bt", last))))
rows.append(("`backtest`, engine, sma_cross 50/200, risk => false, "
             "bars not packed", BARS, timed(ONE % ("bench_slow", last))))
t = timed("SELECT count(*) FROM pgtrade.pack_bars('BENCHBT', '1 day', "
          "rebuild => true)")
rows.append(("`pack_bars`, all of them again (`rebuild`)", BARS, t))
rows.append(("bars read into arrays (`period_bars`), packed", BARS,
             timed(PERIOD)))
rows.append(("`backtest`, engine, sma_cross 50/200, risk => false", BARS,
             timed(ONE % ("bench_slow", last))))
for risk in ("false", "true"):
    t = timed("""SELECT trades FROM pgtrade.backtest('bench_bt', '1900-01-01',
                 '%s', risk => %s)""" % (last, risk))
    rows.append(("`backtest`, engine, risk => %s" % risk, BARS, t))
t = timed("""SELECT count(*) FROM pgtrade.backtest_sweep('bench_bt',
             '1900-01-01', '%s', '{"fast": [5, 10, 15, 20],
             "slow": [30, 40, 50, 60, 70]}', risk => false)""" % last)
rows.append(("`backtest_sweep`, 20 combinations, engine, risk => false "
             "(bars read once)", 20 * BARS, t))
t = timed("""SELECT trades FROM pgtrade.backtest('bench_bt', '%s', '%s',
             risk => false, store => true)""" % (loop_from, last))
rows.append(("`backtest`, PL/pgSQL loop (`store => true`), risk => false",
             LOOP_BARS, t))
for kind, params in KINDS:
    t = timed("""SELECT trades FROM pgtrade.backtest('bench_%s', '%s', '%s',
                 risk => false)""" % (kind, kind_from, last))
    rows.append(("`backtest`, engine, %s %s, risk => false"
                 % (kind, params), KIND_BARS, t))
t = timed("""SELECT trades FROM pgtrade.backtest('bench_sized', '1900-01-01',
             '%s', risk => false)""" % last)
rows.append(("`backtest`, engine, sized by risk, risk => false", BARS, t))
t = timed("""SELECT count(*) FROM pgtrade.backtest_sweep('bench_sized',
             '%s', '%s', '{"fast": [5, 10, 15, 20], "slow": [30, 40, 50, 60,
             70]}', risk => false)""" % (kind_from, last))
rows.append(("`backtest_sweep`, 20 combinations, sized by risk, engine, "
             "risk => false", 20 * KIND_BARS, t))
t = timed("""SELECT trades FROM pgtrade.backtest('bench_sized', '%s', '%s',
             risk => false, store => true)""" % (loop_from, last))
rows.append(("`backtest`, PL/pgSQL loop (`store => true`), sized by risk, "
             "risk => false", LOOP_BARS, t))
trades = psql(ONE % ("bench_bt", last))
slow_trades = psql(ONE % ("bench_slow", last))

print("| what | bars | median | bars a second |")
print("| --- | --- | --- | --- |")
for what, n, t in rows:
    m = statistics.median(t)
    print("| %s | %d | %.1f ms | %.2f million |" % (what, n, m,
                                                    n / m / 1000.0))
print("(%s trades over the %d bars; %s for sma_cross 50/200)"
      % (trades, BARS, slow_trades))
subprocess.run(["make", "-s", "-C", HERE, "backtest_loop"], check=True)
subprocess.run([os.path.join(HERE, "backtest_loop"), str(BARS)], check=True)
psql("DROP DATABASE IF EXISTS %s" % DB, db="postgres")
