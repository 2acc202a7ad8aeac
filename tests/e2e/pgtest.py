"""Shared helpers of pgtrade's end-to-end tests: TAP output, psql, waits.

Tests run against the sandbox cluster (PG* variables from
scripts/sandbox.sh env, taken from it when PGHOST is not set) and print
TAP.  SQL goes through psql so the
tests need nothing beyond Debian's python3 and postgresql-client.
"""
import os
import shlex
import shutil
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _sandbox_env():
    """Point libpq at the sandbox when the caller did not.

    A test run without the sandbox's PG* variables would otherwise reach
    libpq's default socket: a system cluster, if one runs, would get the
    tests' accounts and orders.
    """
    if os.environ.get("PGHOST"):
        return
    out = subprocess.run([os.path.join(TOP, "scripts", "sandbox.sh"), "env"],
                         check=True, capture_output=True, text=True).stdout
    for word in shlex.split(out):
        name, sep, value = word.partition("=")
        if sep and name.isupper():
            os.environ[name] = value


_sandbox_env()
SANDBOX = os.environ.get("PGTRADE_SANDBOX", "/var/lib/pgtrade-sandbox")
sys.path.insert(0, os.path.join(TOP, "scripts"))
from simctl import Sim  # noqa: E402,F401

SHARED = os.environ.get("PGTRADE_SHARED",
                        os.path.join(os.path.dirname(TOP), "shared"))


class Tap:
    """Minimal TAP producer with an explicit plan."""

    def __init__(self, plan):
        self.n = 0
        self.failed = 0
        self.plan = plan
        print("1..%d" % plan)
        sys.stdout.flush()

    def ok(self, cond, desc, diag=None):
        self.n += 1
        print("%sok %d - %s" % ("" if cond else "not ", self.n, desc))
        if not cond:
            self.failed += 1
            if diag is not None:
                for line in str(diag).splitlines():
                    print("#   " + line)
        sys.stdout.flush()
        return cond

    def eq(self, have, want, desc):
        return self.ok(have == want, desc,
                       "have: %r\nwant: %r" % (have, want))

    def skip_rest(self, reason):
        while self.n < self.plan:
            self.n += 1
            print("ok %d # SKIP %s" % (self.n, reason))

    def bail(self, reason):
        print("Bail out! %s" % reason)
        sys.exit(1)

    def done(self):
        sys.exit(1 if self.failed or self.n != self.plan else 0)


def psql(sql, *params, user=None, check=True):
    """Run SQL through psql; return rows (lists of text).

    Parameters are psql variables p0, p1, ... used as :'p0' in the SQL.
    """
    cmd = ["psql", "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1"]
    if user:
        cmd += ["-U", user]
    for i, p in enumerate(params):
        cmd += ["-v", "p%d=%s" % (i, p)]
    out = subprocess.run(cmd, input=sql, capture_output=True, text=True)
    if check and out.returncode != 0:
        raise RuntimeError("SQL failed: %s\n%s" % (sql.strip(), out.stderr))
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def rolled_back(sql):
    """Run sql through psql in one transaction that is rolled back;
    return (exit status, stdout, stderr): what a test of notices,
    warnings and errors reads."""
    r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"],
                       input="BEGIN;\n" + sql + "\nROLLBACK;\n",
                       capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def said_lines(stderr, levels=("NOTICE", "WARNING")):
    """The lines of psql's stderr that start with one of those labels
    (NOTICE, WARNING, HINT, ...), as psql prints what the server said."""
    return [line for line in stderr.splitlines()
            if line.startswith(tuple(lv + ":  " for lv in levels))]


def scalar(sql, *params, **kw):
    rows = psql(sql, *params, **kw)
    return rows[0][0] if rows else None


class Session:
    """A psql session kept open, fed one statement list at a time."""

    def __init__(self):
        self.p = subprocess.Popen(
            ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)

    def send(self, sql):
        """Sends statements without waiting for them (see collect)."""
        self.p.stdin.write(sql + "\n\\echo __done__\n")
        self.p.stdin.flush()

    def run(self, sql):
        self.send(sql)
        return self.collect()

    def collect(self):
        """The output of the statements sent last, once they are done."""
        lines = []
        while True:
            line = self.p.stdout.readline()
            if line == "" or line.strip() == "__done__":
                return lines
            lines.append(line.rstrip("\n"))

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


def wait_until(fn, deadline_s, interval=0.2):
    """Call fn until it returns a true value or the deadline passes."""
    end = time.monotonic() + deadline_s
    while True:
        v = fn()
        if v or time.monotonic() >= end:
            return v
        time.sleep(interval)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True,
                          **kw)


def load_csv(path, bar_size="1 day"):
    """Load a CSV in the bar layout through scripts/load-bars.sh."""
    return run([os.path.join(TOP, "scripts", "load-bars.sh"), path,
                bar_size]).stdout


def services(*args):
    return run([os.path.join(TOP, "scripts", "services.sh")] + list(args))


def listener_binary():
    """The listener under test: PGTRADE_LISTENER, else this tree's build,
    else the installed one."""
    if os.environ.get("PGTRADE_LISTENER"):
        return os.environ["PGTRADE_LISTENER"]
    built = os.path.join(TOP, "listener", "pgtrade-listener")
    if os.access(built, os.X_OK):
        return built
    return shutil.which("pgtrade-listener") or built
