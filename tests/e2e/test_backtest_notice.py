#!/usr/bin/python3
"""A backtest whose equity falls to zero or below says so.

Five daily bars worked by hand, sma_cross 1/2, 100 shares on a capital
of 100: the close crosses above its two-bar mean on the third bar
(11 > 10.5, after 10 = 10), the buy fills at the fourth bar's open, 11,
and that bar closes at 5: cash 100 - 1,100 = -1,000, equity -1,000 +
500 = -500, a drawdown of (-500 - 100) / 100 = -6 from the starting
100.  The figures are still returned; a notice says they mean little.
A backtest that keeps its equity above zero says nothing.  Everything
runs in a transaction that is rolled back.
"""
import os
import sys
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, rolled_back, said_lines  # noqa: E402

t = Tap(3)

SETUP = """
SET client_min_messages = warning;
SELECT pgtrade.add_account('NTBACCT') \\g /dev/null
SELECT pgtrade.add_instrument('NTBX', time_zone => 'UTC') \\g /dev/null
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low,
                         close, volume)
SELECT pgtrade.instrument_id('NTBX'), '1 day',
       (date '2020-01-06' + d)::timestamp AT TIME ZONE 'UTC', o, h, l, c, 1
FROM (VALUES (0, 10, 10, 10, 10), (1, 10, 10, 10, 10), (2, 10, 11, 10, 11),
             (3, 11, 11, 5, 5), (4, 5, 5, 5, 5)) v(d, o, h, l, c);
SELECT pgtrade.create_strategy('ntb_bt', 'sma_cross', 'NTBX', 'NTBACCT',
    '{"fast": 1, "slow": 2}', 100, max_bar_age => '100 years',
    market_hours => 'always') \\g /dev/null
RESET client_min_messages;
"""


def session(sql):
    rc, out, err = rolled_back(SETUP + sql)
    return rc, out.strip(), said_lines(err, ("NOTICE", "HINT"))


rc, out, said = session(
    "SELECT max_drawdown, drawdown_trough FROM pgtrade.backtest('ntb_bt', "
    "'2020-01-01', '2020-01-11', capital => 100, risk => false);")
drawdown, trough = out.split("|") if "|" in out else (out, "")
t.eq((rc, Decimal(drawdown) if drawdown else None), (0, Decimal(-6)),
     "the figures come back: a drawdown of -6, worked by hand")
t.eq(said,
     ['NOTICE:  backtest of "ntb_bt": the equity fell to zero or below '
      '(max drawdown -6.0000, lowest at %s); returns after that are not '
      'meaningful' % trough,
      "HINT:  Give it more capital, or size positions to the equity."],
     "and a notice says the equity fell to zero or below")
rc, out, said = session(
    "SELECT max_drawdown FROM pgtrade.backtest('ntb_bt', '2020-01-01', "
    "'2020-01-11', capital => 100000, risk => false);")
t.eq((rc, said), (0, []), "with enough capital there is no notice")
t.done()
