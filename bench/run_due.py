#!/usr/bin/python3
"""bench/run_due.py: milliseconds per scheduler tick (CALL pgtrade.run_due)
with 500 and 5,000 active strategies, each on its own instrument with 250
daily bars.

In a database of its own (pgtrade_bench, in the sandbox cluster, created
again each run) it builds, for each size N:
  - N strategies whose bars fall steadily, so SMA(10) stays under SMA(30)
    and every run holds (target flat, position flat);
  - N strategies whose bars rise, so every run wants to be long and
    places a buy through the risk gate.  Between ticks their orders are
    cancelled, so each tick places N orders again.
A tick makes one set due (next_run_at set to a fresh slot, untimed) and
times CALL pgtrade.run_due() from psql.  The baseline, in the same run,
is a procedure that does the least a tick must: N transactions that each
insert one row and commit, synchronously.

    bench/run.sh run_due        (BENCH_TICKS ticks a phase, default 7)

Instruments have no calendar, so the runs do not depend on the day the
benchmark runs (a weekend would skip them all).
"""
import os
import statistics
import subprocess
import sys
import time

TICKS = int(os.environ.get("BENCH_TICKS", "7"))
SIZES = [int(x) for x in os.environ.get("BENCH_STRATEGIES",
                                        "500,5000").split(",")]
DB = "pgtrade_bench"
BASE = None


def psql(sql, db=DB, quiet=True):
    cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db]
    out = subprocess.run(cmd, input=sql, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("bench: SQL failed: %s\n%s" % (sql.strip()[:200], out.stderr))
    return out.stdout.strip()


def timed(sql):
    """Wall time of one statement, measured by the server's clock around it
    in the same psql session (the statement runs outside any transaction
    block, so a procedure may commit)."""
    out = psql("SELECT extract(epoch FROM clock_timestamp()) \\gset t0_\n"
               + sql + "\n"
               "SELECT (extract(epoch FROM clock_timestamp()) - :t0_extract)"
               " * 1000;\n")
    return float(out.splitlines()[-1])


def setup():
    psql("DROP DATABASE IF EXISTS %s" % DB, db="postgres")
    psql("CREATE DATABASE %s" % DB, db="postgres")
    psql("""
        SET client_min_messages = warning;
        CREATE EXTENSION pgtrade;
        CREATE TABLE bench_sink (n int);
        CREATE PROCEDURE bench_commits(n int) LANGUAGE plpgsql AS $$
        BEGIN
            FOR i IN 1..n LOOP
                INSERT INTO bench_sink VALUES (i);
                COMMIT;
            END LOOP;
        END $$;
        SELECT pgtrade.add_account('BENCH');
        SELECT pgtrade.set_risk_limit('BENCH', max_position => 1e9);
    """)


def build(n, tag, rising):
    """n instruments with 250 daily bars ending yesterday and one active
    sma_cross strategy each; returns the name prefix."""
    prefix = "B%s%d" % (tag, n)
    slope = 0.05 if rising else -0.05
    psql("""
        SET client_min_messages = warning;
        SELECT pgtrade.add_instrument('%(p)s_' || i)
        FROM generate_series(1, %(n)d) i;
        SELECT pgtrade.set_instrument_calendar('%(p)s_' || i, NULL)
        FROM generate_series(1, %(n)d) i;
        INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low,
                                 close, volume)
        SELECT i.instrument_id, '1 day',
               (current_date - d)::timestamp AT TIME ZONE 'America/New_York',
               c, c + 0.5, c - 0.5, c, 1000
        FROM pgtrade.instrument i
        CROSS JOIN generate_series(1, 250) d
        CROSS JOIN LATERAL (SELECT 100 + (250 - d) * %(slope)s
                            + (i.instrument_id %% 7) AS c) x
        WHERE i.symbol LIKE '%(p)s\\_%%';
        -- one strategy made as a user makes it, the rest copied from it
        -- with the validating trigger off (it checks the zone against
        -- pg_timezone_names, tens of milliseconds a row)
        SELECT pgtrade.create_strategy('%(p)s_s1', 'sma_cross', '%(p)s_1',
               'BENCH', '{"fast": 10, "slow": 30}', 10, '0 0 1 1 *', 'UTC',
               active => true);
        ALTER TABLE pgtrade.strategy DISABLE TRIGGER USER;
        INSERT INTO pgtrade.strategy (name, kind, params, instrument_id,
               account_id, schedule, time_zone, quantity, active, bars_needed)
        SELECT '%(p)s_s' || i, s.kind, s.params,
               pgtrade.instrument_id('%(p)s_' || i), s.account_id,
               s.schedule, s.time_zone, s.quantity, true, s.bars_needed
        FROM pgtrade.strategy s, generate_series(2, %(n)d) i
        WHERE s.name = '%(p)s_s1';
        UPDATE pgtrade.strategy SET grace = '1 day', next_run_at = 'infinity'
        WHERE name LIKE '%(p)s\\_s%%';
        ALTER TABLE pgtrade.strategy ENABLE TRIGGER USER;
        ANALYZE;
    """ % {"p": prefix, "n": n, "slope": slope})
    # what autovacuum leaves after the bars' inserts (pgtrade.bar asks
    # for a vacuum every thousand new rows): pages all-visible
    psql("VACUUM pgtrade.bar")
    return prefix


def tick(prefix, k, n, expect_orders):
    # a slot of its own for each tick, minutes before the run started
    slot = psql("SELECT '%s'::timestamptz - %d * interval '1 minute'"
                % (BASE, k))
    # untimed, and without the validating triggers: a tick pays for none
    psql("""ALTER TABLE pgtrade.strategy DISABLE TRIGGER USER;
            UPDATE pgtrade.strategy SET next_run_at = '%s'
            WHERE name LIKE '%s\\_s%%';
            ALTER TABLE pgtrade.strategy ENABLE TRIGGER USER;
         """ % (slot, prefix))
    ms = timed("CALL pgtrade.run_due();")
    got = psql("""SELECT count(*) FILTER (WHERE r.status = 'succeeded'),
                         count(d.order_id)
                  FROM pgtrade.workflow_run r
                  JOIN pgtrade.strategy s USING (strategy_id)
                  LEFT JOIN pgtrade.decision d USING (run_id)
                  WHERE s.name LIKE '%s\\_s%%'
                    AND r.slot = '%s'""" % (prefix, slot))
    runs, orders = (int(x) for x in got.split("|"))
    want = n if expect_orders else 0
    if runs != n or orders != want:
        sys.exit("bench: tick %d of %s ran %d strategies with %d orders, "
                 "not %d with %d" % (k, prefix, runs, orders, n, want))
    if expect_orders:
        psql("""UPDATE pgtrade.orders SET status = 'cancelled'
                WHERE account_id = 'BENCH' AND status = 'pending'""")
    return ms


def main():
    cores = os.cpu_count()
    version = psql("SHOW server_version", db="postgres")
    sync = psql("SHOW synchronous_commit", db="postgres")
    print("bench run_due: %d cores, PostgreSQL %s, synchronous_commit %s, "
          "%d ticks a phase, medians" % (cores, version, sync, TICKS))
    setup()
    global BASE
    BASE = psql("SELECT date_trunc('minute', now())")
    rows = []
    k = 1000
    for n in SIZES:
        t0 = time.time()
        hold = build(n, "H", rising=False)
        buy = build(n, "O", rising=True)
        print("# %d + %d strategies built in %.0f s" % (n, n, time.time() - t0))
        sys.stdout.flush()
        base = [timed("CALL bench_commits(%d);" % n) for _ in range(TICKS)]
        holds, buys = [], []
        for _ in range(TICKS):
            k += 1
            holds.append(tick(hold, k, n, False))
            k += 1
            buys.append(tick(buy, k, n, True))
        rows.append((n, statistics.median(base), statistics.median(holds),
                     statistics.median(buys)))
    print("| strategies | baseline: N commits | tick, all hold | per strategy "
          "| ratio to baseline | tick, all order | extra per order |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for n, b, h, o in rows:
        print("| %d | %.1f ms | %.1f ms | %.3f ms | %.1fx | %.1f ms | %.3f ms |"
              % (n, b, h, h / n, h / b, o, (o - h) / n))


if __name__ == "__main__":
    main()
