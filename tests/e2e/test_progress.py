#!/usr/bin/python3
"""Long calls report progress; short ones stay quiet.

import_bars and backtest_sweep raise a NOTICE at most every
pgtrade.progress_interval seconds (default 5).  NOTICEs reach the
client, not a pgTAP file, so each case runs psql in a transaction that
is rolled back and reads its standard error.  Expected lines are built
here from the counts the case chose: 12 checks, then the rows written
in slices, each percentage the floor of done * 100 / total.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, rolled_back, said_lines  # noqa: E402

ROWS = 120000  # more than one slice of 1024 pages (about 97 bars a page)
CHECKS = 12


def session(sql):
    """Run sql in one rolled-back transaction; return (status, notices,
    stderr)."""
    rc, _, err = rolled_back(sql)
    notices = [l[len("NOTICE:  "):] for l in said_lines(err, ("NOTICE",))]
    return rc, notices, err


def bars_sql(symbol, n):
    """An instrument and n one-minute bars ending long ago, staged in
    table src."""
    return """
SELECT pgtrade.add_instrument('%(s)s') \\g /dev/null
CREATE TEMP TABLE src AS
SELECT '%(s)s'::text AS symbol,
       to_char(timestamptz '2015-01-01 00:00+00' + g * interval '1 minute',
               'YYYY-MM-DD"T"HH24:MI:SS"+00"') AS ts,
       10 + g %% 7 AS open, 20 AS high, 5 AS low, 11 AS close, 100 AS volume
FROM generate_series(1, %(n)d) g;
""" % {"s": symbol, "n": n}


IMPORT = "SELECT pgtrade.import_bars('src', '1 minute');"
LINE = re.compile(r"^(\w+): (\d+) of (\d+) (.*) \((\d+)%\), (\d+\.\d) s$")


def parse(notices):
    return [LINE.match(n) for n in notices]


t = Tap(15)

# interval 0: every report is raised
rc, notices, err = session("SET LOCAL pgtrade.progress_interval = 0;\n" +
                           bars_sql("PROGA", ROWS) + IMPORT)
t.ok(rc == 0, "an import with pgtrade.progress_interval 0 succeeds", err)
checks = ["import_bars: %d of %d checks of %d rows (%d%%)"
          % (k, CHECKS, ROWS, k * 100 // CHECKS)
          for k in range(1, CHECKS + 1)]
t.eq([n.rsplit(",", 1)[0] for n in notices[:CHECKS]], checks,
     "one notice after each of the 12 checks, with its share")
written = [m for m in parse(notices[CHECKS:])]
ok_lines = all(m and m.group(1) == "import_bars"
               and m.group(4) == "rows written"
               and int(m.group(3)) == ROWS
               and int(m.group(5)) == int(m.group(2)) * 100 // ROWS
               for m in written)
done = [int(m.group(2)) for m in written if m]
t.ok(ok_lines and len(done) >= 2
     and all(a < b for a, b in zip(done, done[1:])),
     "then one notice per slice written, rows rising, percentage exact",
     "\n".join(notices[CHECKS:]))
t.eq(notices[-1].rsplit(",", 1)[0] if notices else None,
     "import_bars: %d of %d rows written (100%%)" % (ROWS, ROWS),
     "the last notice counts every row")
secs = [float(m.group(6)) for m in parse(notices) if m]
t.ok(len(secs) == len(notices)
     and all(a <= b for a, b in zip(secs, secs[1:])),
     "every notice carries the seconds since the call began, rising")

# the default interval: a short import says nothing
rc, notices, err = session(bars_sql("PROGB", 500) + IMPORT)
t.ok(rc == 0 and notices == [],
     "a short import with the default interval raises no notice",
     err)

# loading the same bars again says nothing; bars whose values differ from
# those stored are replaced, and a notice says how many
CHANGED = """
CREATE TEMP TABLE src2 AS
SELECT row_number() OVER (ORDER BY ts) AS line, symbol, ts, open, high, low,
       CASE WHEN ts IN (SELECT ts FROM src ORDER BY ts LIMIT 2) THEN 12
            ELSE close END AS close, volume
FROM src;
SELECT pgtrade.import_bars('src2', '1 minute');
"""
rc, notices, err = session(bars_sql("PROGE", 500) + IMPORT + CHANGED +
                           IMPORT + "\n" + IMPORT)
t.eq((rc, notices),
     (0, ["import_bars: 2 of 500 bars replaced stored bars with other values "
          "(0 new, 498 unchanged)",
          "import_bars: 2 of 500 bars replaced stored bars with other values "
          "(0 new, 498 unchanged)"]),
     "an import that replaces stored bars with other values says how many, "
     "and one that changes nothing says nothing")

# an interval of 0.3 s: no two notices closer than that (less the
# rounding of the figures to 0.1 s)
rc, notices, err = session("SET LOCAL pgtrade.progress_interval = '0.3';\n"
                           + bars_sql("PROGC", ROWS) + IMPORT)
secs = [float(m.group(6)) for m in parse(notices) if m]
gaps = [b - a for a, b in zip([0.0] + secs, secs)]
t.ok(rc == 0 and len(secs) >= 2 and min(gaps) >= 0.3 - 0.1 - 1e-9,
     "with an interval of 0.3 s notices come at least 0.3 s apart",
     "%s\n%s" % (notices, err))

# The library defines the setting when a session loads it: from then on
# SET refuses a bad value (22023); set before, the value draws a WARNING
# when the library loads and the default applies, and the call goes on.
rc, notices, err = session("SELECT pgtrade.progress_interval() \\g /dev/null\n"
                           "\\set VERBOSITY verbose\n"
                           "SET LOCAL pgtrade.progress_interval = 'often';\n")
t.ok(rc != 0 and 'ERROR:  22023: invalid value for parameter '
     '"pgtrade.progress_interval": "often"' in err,
     "once the library is loaded, SET refuses a value that is not a number "
     "of seconds", err)
rc, notices, err = session("SELECT pgtrade.progress_interval() \\g /dev/null\n"
                           "SET LOCAL pgtrade.progress_interval = -1;\n")
t.ok(rc != 0 and '-1 is outside the valid range for parameter '
     '"pgtrade.progress_interval"' in err, "and a negative one", err)
rc, notices, err = session("SET LOCAL pgtrade.progress_interval = 'often';\n"
                           + bars_sql("PROGD", 10) + IMPORT
                           + "\nSHOW pgtrade.progress_interval;")
t.ok(rc == 0 and 'WARNING:  invalid value for parameter '
     '"pgtrade.progress_interval": "often"' in err,
     "set before the library loads, it is reported with a WARNING and the "
     "import goes on", err)

# backtest_sweep: one report per combination
SWEEP = """
SELECT pgtrade.add_account('PROGACCT1') \\g /dev/null
SELECT pgtrade.add_instrument('PROGS', 990901) \\g /dev/null
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low,
	close, volume)
SELECT pgtrade.instrument_id('PROGS'), '1 day',
	(d::timestamp AT TIME ZONE 'America/New_York'), 10 + i %% 3, 14, 8,
	10 + i %% 4, 1000
FROM generate_series(0, 9) i, LATERAL (SELECT date '2024-01-01' + i AS d) x;
SELECT pgtrade.create_strategy('prog_bt', 'sma_cross', 'PROGS', 'PROGACCT1',
	'{"fast": 1, "slow": 2}', 10, max_bar_age => '100 years',
	market_hours => 'always') \\g /dev/null
SELECT count(*) FROM pgtrade.backtest_sweep('prog_bt', '2024-01-01',
	'2024-01-11', '{"slow": [2, 3, 4]}');
"""
rc, notices, err = session("SET LOCAL pgtrade.progress_interval = 0;\n"
                           + SWEEP % ())
t.eq([n.rsplit(",", 1)[0] for n in notices],
     ["backtest_sweep: %d of 3 combinations (%d%%)" % (i, i * 100 // 3)
      for i in (1, 2, 3)],
     "a sweep of 3 combinations reports each one with interval 0")
t.ok(rc == 0, "that sweep succeeds", err)
rc, notices, err = session(SWEEP % ())
t.ok(rc == 0 and notices == [],
     "the same sweep with the default interval raises no notice", err)

# a long backtest in the PL/pgSQL loop (kept): a report every 256 closes
LONG = """
SELECT pgtrade.add_account('PROGACCT2') \\g /dev/null
SELECT pgtrade.set_risk_limit('PROGACCT2', max_position => 100) \\g /dev/null
SELECT pgtrade.add_instrument('PROGL', 990902) \\g /dev/null
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low,
	close, volume)
SELECT pgtrade.instrument_id('PROGL'), '1 day',
	(date '2020-01-01' + i)::timestamp AT TIME ZONE 'America/New_York',
	10 + i % 3, 14, 8, 10 + i % 4, 1000
FROM generate_series(0, 599) i;
SELECT pgtrade.create_strategy('prog_long', 'sma_cross', 'PROGL',
	'PROGACCT2', '{"fast": 1, "slow": 2}', 10, max_bar_age => '100 years',
	market_hours => 'always') \\g /dev/null
SELECT bars FROM pgtrade.backtest('prog_long', '2019-12-31', '2022-01-01',
	store => true);
"""
rc, notices, err = session("SET LOCAL pgtrade.progress_interval = 0;\n"
                           + LONG)
t.eq([n.rsplit(",", 1)[0] for n in notices],
     ["backtest: 256 of 600 closes (42%)", "backtest: 512 of 600 closes (85%)"],
     "a backtest of 600 closes in the PL/pgSQL loop reports at 256 and 512")
t.done()
