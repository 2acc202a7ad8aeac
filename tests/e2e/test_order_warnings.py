#!/usr/bin/python3
"""What the listener's functions say out loud, as WARNINGs the listener
writes as lines of its own log (its notice receiver): an order that
claim_orders does not send, past its valid_until (expired) or under a
kill switch (cancelled), which only the order's events said before; and
a cancel sent three times with no outcome from the broker, with the
hint to resolve_vanished.  Each case runs in a transaction that is
rolled back, the functions called as the listener calls them.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, rolled_back, said_lines  # noqa: E402

t = Tap(5)

SETUP = """
SELECT pgtrade.add_account('CWACCT') \\g /dev/null
SELECT pgtrade.set_risk_limit('CWACCT', max_position => 1000) \\g /dev/null
SELECT pgtrade.add_instrument('CWX', 990611) \\g /dev/null
SELECT pgtrade.listener_register('claim warnings test', 1, 'test') AS lid \\gset
"""
CLAIM = ("SELECT count(*) FROM pgtrade.claim_orders(:lid, ARRAY['CWACCT'], "
         "10);\n")


def session(sql):
    rc, out, err = rolled_back(SETUP + sql)
    return rc, out.strip(), said_lines(err, ("WARNING",)), err


rc, out, said, err = session(
    "SELECT (pgtrade.place_order('CWACCT', 'CWX', 'buy', 1, 'limit', 10, "
    "valid_for => '1 millisecond')).order_id AS oid \\gset\n"
    "SELECT pg_sleep(0.01);\n" + CLAIM)
t.ok(rc == 0 and out.endswith("0") and len(said) == 1 and
     "expired, not sent: valid until" in said[0],
     "an order past its valid_until is not claimed, and a warning says so",
     err)

rc, out, said, err = session(
    "SELECT (pgtrade.place_order('CWACCT', 'CWX', 'buy', 1, 'limit', 10))"
    ".order_id AS oid \\gset\n"
    "SELECT pgtrade.set_trading_enabled(false, 'CWACCT') \\g /dev/null\n"
    + CLAIM)
t.ok(rc == 0 and out.endswith("0") and len(said) == 1 and
     "cancelled, not sent: kill switch is on for account CWACCT" in said[0],
     "an order under a kill switch is not claimed, and a warning says so",
     err)

rc, out, said, err = session(
    "SELECT (pgtrade.place_order('CWACCT', 'CWX', 'buy', 1, 'limit', 10))"
    ".order_id AS oid \\gset\n" + CLAIM)
t.ok(rc == 0 and out.endswith("1") and said == [],
     "an order claimed says nothing", err)

SENT_TO_CANCEL = (
    "SELECT (pgtrade.place_order('CWACCT', 'CWX', 'buy', 1, 'limit', 10))"
    ".order_id AS oid \\gset\n" + CLAIM +
    "SELECT pgtrade.record_submission(:oid, '8001', 'Submitted') "
    "\\g /dev/null\n"
    "SELECT pgtrade.cancel_order(:oid) \\g /dev/null\n")
SEND = "SELECT pgtrade.record_cancel_sent(:oid) \\g /dev/null\n"
rc, out, said, err = session(SENT_TO_CANCEL + SEND * 2)
t.ok(rc == 0 and said == [], "a cancel sent twice says nothing yet", err)
rc, out, said, err = session(SENT_TO_CANCEL + SEND * 5)
t.ok(rc == 0 and len(said) == 1 and "its cancel was sent 3 times and the "
     "broker has reported no outcome" in said[0] and
     "pgtrade.resolve_vanished(" in err,
     "at the third sending a warning says so, once, with the hint", err)
t.done()
