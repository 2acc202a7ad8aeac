#!/usr/bin/python3
"""What a user is told about instruments that are not stocks.

pgtrade-listener sends every order as a stock's, so the risk gate
refuses live orders for any other sec_type (tests/pgtap/risk.sql).
Here: the notice add_instrument gives when such an instrument is
registered, and the warning a strategy gets when it is made active on
one, by create_strategy or by an UPDATE, and not when it stays inactive.
Each case runs in a transaction that is rolled back.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, rolled_back, said_lines  # noqa: E402

t = Tap(5)


def session(sql):
    """Run sql in one rolled-back transaction; return (status, the
    NOTICE and WARNING lines, stderr)."""
    rc, _, err = rolled_back(sql)
    return rc, said_lines(err), err


SETUP = """
SELECT pgtrade.add_account('NTCACCT') \\g /dev/null
SELECT pgtrade.add_instrument('NTCFUT', sec_type => 'FUT',
    time_zone => 'America/Chicago') \\g /dev/null
"""
STRATEGY = ("SELECT pgtrade.create_strategy('ntc_s', 'sma_cross', 'NTCFUT', "
            "'NTCACCT', '{\"fast\": 10, \"slow\": 30}', 1, active => %s) "
            "\\g /dev/null\n")
WARNING = ('WARNING:  strategy "ntc_s" is active on an instrument that is '
           'not a stock: the risk gate will refuse every order its runs '
           'place')

rc, said, err = session(SETUP)
t.eq((rc, said),
     (0, ['NOTICE:  instrument "NTCFUT" in time zone America/Chicago has no '
          'calendar: its strategies run at all hours',
          'NOTICE:  instrument "NTCFUT" has sec_type FUT: its bars, '
          'indicators and backtests work, but the risk gate refuses its '
          'orders']),
     "add_instrument says a future's orders will be refused",)

rc, said, err = session(SETUP + STRATEGY % "false")
t.eq((rc, said[2:]), (0, []),
     "an inactive strategy on it draws no warning",)

rc, said, err = session(SETUP + STRATEGY % "true")
t.eq((rc, said[2:]), (0, [WARNING]),
     "an active one is warned that every order it places will be refused",
    )

rc, said, err = session(SETUP + STRATEGY % "false" +
                        "UPDATE pgtrade.strategy SET active = true "
                        "WHERE name = 'ntc_s';")
t.eq((rc, said[2:]), (0, [WARNING]),
     "and so is one made active afterwards",)

rc, said, err = session(SETUP + "SELECT pgtrade.add_instrument('NTCSTK') "
                        "\\g /dev/null\n" +
                        STRATEGY.replace("NTCFUT", "NTCSTK") % "true")
t.eq((rc, said[2:]), (0, []), "a stock's active strategy draws none",)
t.done()
