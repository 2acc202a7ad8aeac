#!/usr/bin/python3
"""A fill that shows the broker and pgtrade disagree on an order raises an
order_mismatch alert (a row of pgtrade.alert, a NOTIFY, and a WARNING
the listener's log carries): an execution of an order pgtrade holds as
cancelled (or rejected, expired, refused), and one that fills an order
beyond its quantity (a modification the broker applied that pgtrade did
not record, say).  The fill counts either way.  An ordinary fill says
nothing.  Each case runs in a transaction that is
rolled back, with the listener's functions called as the listener would
call them.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, rolled_back, said_lines  # noqa: E402

t = Tap(5)

SETUP = """
SELECT pgtrade.add_account('FMACCT') \\g /dev/null
SELECT pgtrade.set_risk_limit('FMACCT', max_position => 1000) \\g /dev/null
SELECT pgtrade.add_instrument('FMX', 990601) \\g /dev/null
SELECT pgtrade.listener_register('fill mismatch test', 1, 'test') AS lid \\gset
SELECT (pgtrade.place_order('FMACCT', 'FMX', 'buy', 3, 'limit', 10)).order_id
    AS oid \\gset
SELECT client_order_id AS coid FROM pgtrade.orders WHERE order_id = :oid \\gset
"""
SENT = """
SELECT count(*) FROM pgtrade.claim_orders(:lid, ARRAY['FMACCT'], 10)
    \\g /dev/null
SELECT pgtrade.record_submission(:oid, '7001', 'Submitted') \\g /dev/null
"""


def fill(exe, qty):
    return ("SELECT pgtrade.record_fill('%s', :'coid', 'FMACCT', 990601, "
            "'B', %d, 10, now()) \\g /dev/null\n" % (exe, qty))


def warnings(sql):
    rc, out, err = rolled_back(SETUP + sql)
    return rc, said_lines(err, ("WARNING",)), out, err


rc, said, out, err = warnings(SENT + fill("fm.0001.01.01", 3) +
                              "SELECT status || ' ' || trim_scale("
                              "filled_quantity) FROM pgtrade.orders "
                              "WHERE order_id = :oid;\n")
t.ok(rc == 0 and said == [] and out.strip() == "filled 3",
     "an ordinary fill of the whole order says nothing", err)

rc, said, out, err = warnings(SENT + fill("fm.0001.01.01", 3) +
                              fill("fm.0002.01.01", 1) +
                              "SELECT trim_scale(filled_quantity) FROM "
                              "pgtrade.orders WHERE order_id = :oid;\n"
                              "SELECT kind || ' ' || order_status FROM "
                              "pgtrade.alert WHERE order_id = :oid;\n")
t.ok(rc == 0 and len(said) == 1 and "is filled 4 of its 3: the broker's "
     "order is larger than pgtrade's" in said[0] and
     out.split() == ["4", "order_mismatch", "filled"],
     "a fill beyond the order's quantity raises an alert, and counts",
     out + err)

rc, said, out, err = warnings(
    "SELECT pgtrade.cancel_order(:oid) \\g /dev/null\n" + fill(
        "fm.0003.01.01", 2) +
    "SELECT status || ' ' || trim_scale(filled_quantity) FROM "
    "pgtrade.orders WHERE order_id = :oid;\n")
t.ok(rc == 0 and len(said) == 1 and "is cancelled, yet execution "
     "fm.0003.01.01 fills 2 of it" in said[0],
     "an execution of a cancelled order raises an alert", err)
t.eq(out.strip(), "cancelled 2", "and it counts in the order's fills")
rc, said, out, err = warnings(
    "SELECT pgtrade.cancel_order(:oid) \\g /dev/null\n" + fill(
        "fm.0003.01.01", 2) +
    "SELECT kind, order_status, account_id FROM pgtrade.alerts "
    "WHERE order_id = :oid;\n")
t.eq(out.strip(), "order_mismatch|cancelled|FMACCT",
     "the alert is listed with the order's status and account")
t.done()
