#!/usr/bin/python3
"""Replay the most recent sessions of real daily bars through pgtrade.

Each session is one manual "replay" run of an sma_cross strategy at that
session's close: the run sees only bars that had ended by then.  An order
it places goes through the risk gate, pgtrade-listener and the CPAPI
simulator, which fills market orders at the open of the next session
(the first price a market order sent after the close could get).  Then
the report: decisions with reasons, orders with broker ids, fills,
positions and realized P&L.  Exits 1 when nothing filled (or, with
--require-both, unless a buy and a sell both filled).

Expects the sandbox cluster, the simulator and the listener to be
running (scripts/demo.sh starts them) and PG* variables set.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time

SANDBOX = os.environ.get("PGTRADE_SANDBOX", "/var/lib/pgtrade-sandbox")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from simctl import Sim  # noqa: E402


def psql(sql, *params):
    """Run one SQL statement with psql and return rows as lists of text.

    Parameters are passed as psql variables and quoted with :'name', so
    no value is ever spliced into SQL text by hand.
    """
    cmd = ["psql", "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1"]
    for i, p in enumerate(params):
        cmd += ["-v", "p%d=%s" % (i, p)]
    out = subprocess.run(cmd, input=sql, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("demo: SQL failed: %s\n%s" % (sql.strip(), out.stderr))
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def show(title, sql):
    """Print a query's result as a psql table under a title."""
    print("\n== %s" % title)
    sys.stdout.flush()
    subprocess.run(["psql", "-X", "-P", "pager=off", "-P", "footer=off",
                    "-c", sql], check=True)


def conid_for(sim, symbol):
    """Return the simulator's conid for a symbol, registering one if new."""
    found = sim.call("GET", "/v1/api/iserver/secdef/search?symbol=" + symbol)
    for c in found or []:
        if c.get("symbol") == symbol:
            return int(c["conid"])
    conid = 900000000 + sum(ord(ch) * 31 ** i for i, ch in enumerate(symbol)) % 99999999
    sim.call("POST", "/sim/contract", {"symbol": symbol, "conid": conid})
    return conid


def wait_final(order_id, deadline_s=60):
    """Wait until an order is final and, if filled, its executions are
    recorded; return its status."""
    end = time.monotonic() + deadline_s
    status = None
    while time.monotonic() < end:
        status, settled = psql(
            "SELECT status, filled_quantity >= quantity "
            "FROM pgtrade.orders WHERE order_id = :'p0'", order_id)[0]
        if status not in ("pending", "submitting", "working") and (
                status != "filled" or settled == "t"):
            return status
        time.sleep(0.1)
    return status


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="CSV already loaded")
    ap.add_argument("--sessions", type=int, default=60)
    ap.add_argument("--fast", type=int, default=10)
    ap.add_argument("--slow", type=int, default=30)
    ap.add_argument("--quantity", type=int, default=100)
    ap.add_argument("--account", default="DU1234567")
    ap.add_argument("--require-both", action="store_true",
                    help="fail unless a buy and a sell both filled")
    args = ap.parse_args()

    with open(args.data, newline="") as f:
        symbol = next(csv.DictReader(f))["symbol"]
    sim = Sim()
    conid = conid_for(sim, symbol)
    psql("SELECT pgtrade.add_account(:'p0', 'demo paper account')",
         args.account)
    psql("SELECT pgtrade.add_instrument(:'p0', :'p1')", symbol, conid)
    # the gate refuses accounts without a position limit
    psql("SELECT pgtrade.set_risk_limit(:'p0', max_position => :'p1')",
         args.account, 2 * args.quantity)
    name = "demo_%s_sma_%d_%d" % (symbol.lower(), args.fast, args.slow)
    params = json.dumps({"fast": args.fast, "slow": args.slow})
    # Replays run at each bar's close, a session by definition; bars of
    # your own may lie outside the years the calendar knows.
    psql("SELECT pgtrade.create_strategy(:'p0', 'sma_cross', :'p1', :'p2', "
         ":'p3', :'p4', market_hours => 'always')", name, symbol,
         args.account, params, args.quantity)

    rows = psql("""
        SELECT to_char(b.ts AT TIME ZONE i.time_zone, 'YYYY-MM-DD'),
               pgtrade.bar_end(b.ts, b.bar_size, i.time_zone, i.session_close),
               b.open
        FROM pgtrade.bar b JOIN pgtrade.instrument i USING (instrument_id)
        WHERE i.symbol = :'p0' AND b.bar_size = '1 day'
        ORDER BY b.ts DESC LIMIT :'p1'""", symbol, args.sessions + 1)
    rows.reverse()
    if len(rows) < args.slow + 2:
        sys.exit("demo: %s has only %d daily bars" % (symbol, len(rows)))
    print("demo: replaying %d sessions of %s, %s to %s; market orders fill "
          "at the next session's open" % (len(rows) - 1, symbol, rows[0][0],
                                          rows[-2][0]))
    for (day, close_at, _), (_, _, next_open) in zip(rows, rows[1:]):
        sim.call("POST", "/sim/price", {"conid": conid, "price": next_open})
        # a replay places orders only when asked: here, to the simulator
        run = psql("SELECT status, action, quantity, order_id, order_status "
                   "FROM pgtrade.run_strategy(:'p0', :'p1', 'replay', "
                   "place_orders => true)", name, close_at)[0]
        status, action, qty, order_id = run[0], run[1], run[2], run[3]
        line = "%s  run %-9s %-4s" % (day, status, action or "-")
        if order_id:
            final = wait_final(order_id)
            line += " %s -> order %s %s" % (qty, order_id, final)
        print(line)
        sys.stdout.flush()

    show("Decisions that traded, with their reasons", """
        SELECT to_char(d.last_bar_ts AT TIME ZONE 'America/New_York', 'YYYY-MM-DD') AS session,
               d.action, d.quantity, d.reason
        FROM pgtrade.decision d WHERE d.action <> 'hold' ORDER BY d.decision_id""")
    show("Hold decisions (last 5)", """
        SELECT * FROM (SELECT to_char(d.last_bar_ts AT TIME ZONE 'America/New_York',
               'YYYY-MM-DD') AS session, d.reason
        FROM pgtrade.decision d WHERE d.action = 'hold'
        ORDER BY d.decision_id DESC LIMIT 5) x ORDER BY session""")
    show("Orders", """
        SELECT o.order_id, o.client_order_id, o.side, o.quantity, o.status,
               o.broker_order_id, o.filled_quantity,
               trim_scale(round(o.avg_fill_price, 6)) AS avg_fill_price
        FROM pgtrade.orders o ORDER BY o.order_id""")
    show("Fills", """
        SELECT f.execution_id, f.order_ref, f.side, f.quantity, f.price,
               trim_scale(c.amount) AS commission
        FROM pgtrade.fill f LEFT JOIN pgtrade.commission c USING (execution_id)
        ORDER BY f.fill_id""")
    show("Positions and P&L", """
        SELECT account_id, symbol, quantity,
               trim_scale(round(avg_cost, 4)) AS avg_cost,
               trim_scale(round(realized_pnl, 2)) AS realized_pnl,
               trim_scale(commissions) AS commissions,
               trim_scale(round(realized_pnl - commissions, 2)) AS realized_net
        FROM pgtrade.positions""")

    filled = dict(psql("SELECT side, count(*) FROM pgtrade.orders "
                       "WHERE status = 'filled' GROUP BY side"))
    print("\ndemo: filled orders: %s buy, %s sell" % (filled.get("buy", 0),
                                                     filled.get("sell", 0)))
    if not filled:
        sys.exit("demo: FAILED: nothing filled in the replayed sessions")
    if args.require_both and not (filled.get("buy") and filled.get("sell")):
        sys.exit("demo: FAILED: the replay did not fill both a buy and a sell")


if __name__ == "__main__":
    main()
