#!/usr/bin/python3
"""The listener crash suite, short: 20 kills and one database restart.

tests/crash/crash_suite.py kills pgtrade-listener at every moment of an
order's life and compares the broker's records with pgtrade's; "make
crash" runs it with 200 kills.  This runs the same suite with fewer
kills so that "make check" covers it.
"""
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
env = dict(os.environ, CRASH_KILLS="20", CRASH_DB_RESTARTS="1",
           CRASH_TIMEOUTS="1")
sys.stdout.flush()
os.execve("/usr/bin/python3", ["/usr/bin/python3", os.path.join(
    TOP, "tests", "crash", "crash_suite.py")], env)
