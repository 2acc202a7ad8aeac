#!/usr/bin/python3
"""The listener records executions in batches, off the loop that claims.

One read of the trades can bring hundreds of executions.  The simulator's
hold fault keeps the answer to one trades read back (phase "before":
the answer is made after the hold) while N trades are booked at the
broker outside pgtrade, so that read brings all N at once.  Each must be
recorded once, the position must be their sum (worked out here), and
they must be in ceil(N / 100) transactions, the fills' xmin: batches of
at most 100 (FILLS_BATCH_MAX in listener/src/fills.c), not one
transaction per execution.

Then a batch that fails: a trigger that this test puts on pgtrade.fill
refuses one execution of a read of five.  The batch is rolled back
whole; the listener records the five one by one, so the four good ones
are in and the refused one is not.  Once the trigger is gone, a later
read of the trades brings the fifth again and it is recorded, once.

Last, a batch that meets a lock (an open transaction holds the
position row): it fails on lock_timeout, stays queued whole and is sent
again until the lock is gone, then recorded once, never split into one
call per execution.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, psql, scalar, wait_until, services  # noqa: E402
from faultlib import (LISTENER_LOG, mark, text_since,  # noqa: E402
                      add_trading, fresh_sim, position_of, held)

N = 250
BATCH_MAX = 100
HOLD_MS = 8000
t = Tap(16)
ACCT = "DU1234567"
SYM, CONID = "FBAT", 990318
add_trading(ACCT, SYM, CONID)
sim = fresh_sim(CONID)
services("start-listener")


def held_trades():
    return held(sim, "trades")


def position():
    return position_of(ACCT, SYM)


def recorded(ids):
    return int(scalar("SELECT count(*) FROM pgtrade.fill WHERE "
                      "execution_id = ANY (:'p0')",
                      "{" + ",".join(ids) + "}"))


def book(size, price="100.00"):
    return sim.call("POST", "/sim/trade", {"conid": CONID, "side": "BUY",
                                           "size": size,
                                           "price": price})["execution_id"]


before = position()
log0 = mark(LISTENER_LOG)
sim.call("POST", "/sim/config", {"hold": {"route": "trades",
                                          "phase": "before",
                                          "ms": HOLD_MS, "count": 1}})
t.ok(wait_until(lambda: held_trades(), 30),
     "the next trades read is held at the gateway")
ids = [book(size) for size in range(1, N + 1)]
t.ok(bool(held_trades()),
     "%d trades were booked while that read was still held" % N)
t.ok(wait_until(lambda: recorded(ids) == N, HOLD_MS / 1000.0 + 60),
     "once the read is answered, all %d executions are recorded" % N)
t.eq(int(scalar("SELECT count(DISTINCT execution_id) FROM pgtrade.fill "
                "WHERE execution_id = ANY (:'p0')", "{" + ",".join(ids) + "}")),
     N, "each of them once")
t.eq(position() - before, N * (N + 1) // 2,
     "the position grew by 1 + 2 + ... + %d = %d" % (N, N * (N + 1) // 2))
t.eq(int(scalar("SELECT count(DISTINCT xmin::text) FROM pgtrade.fill "
                "WHERE execution_id = ANY (:'p0')", "{" + ",".join(ids) + "}")),
     -(-N // BATCH_MAX),
     "in %d transactions of at most %d executions" % (-(-N // BATCH_MAX),
                                                     BATCH_MAX))
t.eq(text_since(LISTENER_LOG, log0).count("recorded: buy"), N,
     "one log line for each execution recorded")

# a batch that fails: one execution of five is refused by a trigger
psql("""CREATE FUNCTION public.fbat_refuse() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.price = 77.77 THEN
		RAISE EXCEPTION 'fill at 77.77 refused by the test';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER fbat_refuse BEFORE INSERT ON pgtrade.fill
	FOR EACH ROW EXECUTE FUNCTION public.fbat_refuse();""")
before = position()
log1 = mark(LISTENER_LOG)
sim.call("POST", "/sim/config", {"hold": {"route": "trades",
                                          "phase": "before",
                                          "ms": HOLD_MS, "count": 1}})
wait_until(lambda: held_trades(), 30)
good = [book(size) for size in (1, 2, 3, 4)]
bad = book(5, "77.77")
t.ok(wait_until(lambda: recorded(good) == 4, HOLD_MS / 1000.0 + 60),
     "after a failed batch the four good executions are recorded")
log = text_since(LISTENER_LOG, log1)
t.ok("one by one after their batch failed" in log and
     "execution %s not recorded" % bad in log,
     "the log says the batch failed and which execution was not recorded")
t.eq(recorded([bad]), 0, "the refused execution is not recorded")
psql("DROP TRIGGER fbat_refuse ON pgtrade.fill; "
     "DROP FUNCTION public.fbat_refuse()")
t.ok(wait_until(lambda: recorded([bad]) == 1, 60),
     "once the trigger is gone a later read records it, once")
t.eq(position() - before, 15, "the position grew by 1 + 2 + 3 + 4 + 5")

# a batch that meets a lock is kept and sent again, not split: an open
# transaction holds the position row, so each attempt waits out the
# listener's lock_timeout
locker = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"],
                          stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                          text=True)
locker.stdin.write("BEGIN; SELECT 1 FROM pgtrade.position p JOIN "
                   "pgtrade.instrument i USING (instrument_id) WHERE "
                   "p.account_id = '%s' AND i.symbol = '%s' FOR UPDATE;\n"
                   % (ACCT, SYM))
locker.stdin.flush()
wait_until(lambda: int(scalar(
    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
    "WHERE c.relname = 'position' AND l.mode = 'RowShareLock' "
    "AND l.pid <> pg_backend_pid()")) > 0, 30)
before = position()
log2 = mark(LISTENER_LOG)
held_ids = [book(size) for size in (1, 2, 3)]
t.ok(wait_until(lambda: "could not be recorded now; sending it again"
                in text_since(LISTENER_LOG, log2), 60),
     "a batch that waited out lock_timeout on a locked position is kept")
t.eq(recorded(held_ids), 0, "nothing of it is recorded while the lock is held")
time.sleep(1)
locker.stdin.write("COMMIT;\n")
locker.stdin.close()
locker.wait(30)
t.ok(wait_until(lambda: recorded(held_ids) == 3, 60),
     "once the lock is gone the three executions are recorded, once each")
t.ok("one by one" not in text_since(LISTENER_LOG, log2) and
     position() - before == 6,
     "without splitting the batch, and the position grew by 1 + 2 + 3")

services("stop")
sys.exit(t.done())
