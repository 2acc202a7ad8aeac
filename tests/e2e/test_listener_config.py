#!/usr/bin/python3
"""pgtrade-listener refuses a configuration that could never work, at
once, with one line and exit status 2, rather than retrying for ever or
starting on defaults; and warns of a config file other users can read.

Nothing here reaches a server: the database named is a loopback port
nothing listens on (1), and the gateway is never contacted.
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Tap, listener_binary  # noqa: E402

t = Tap(7)
LISTENER = listener_binary()
NOWHERE = "host=127.0.0.1 port=1 dbname=none connect_timeout=1"
GATEWAY = "https://127.0.0.1:1/v1/api"
work = tempfile.mkdtemp(prefix="pgtrade-config-")


def refused(args, message, desc):
    r = subprocess.run([LISTENER] + args, capture_output=True, text=True,
                       timeout=30)
    t.eq((r.returncode, r.stderr),
         (2, "pgtrade-listener: %s\n" % message), desc)


refused(["-c", work, "-d", NOWHERE, "--paper", "--accounts", "A"],
        'config file "%s" is not a regular file' % work,
        "a directory as the config file is refused, not read as empty")
refused(["-d", "password='unterminated", "--paper", "--accounts", "A"],
        "database connection string: unterminated quoted string in "
        "connection info string",
        "a connection string libpq cannot parse is refused")
refused(["-d", "passwd=x host=127.0.0.1", "--paper", "--accounts", "A"],
        'database connection string: invalid connection option "passwd"',
        "and one with an option libpq does not know")
readme = os.path.join(work, "not-a-ca.pem")
with open(readme, "w") as f:
    f.write("a README, not a certificate\n")
refused(["-d", NOWHERE, "--cacert", readme, "--gateway", GATEWAY],
        'CA file "%s" holds no PEM certificate '
        "(-----BEGIN CERTIFICATE-----)" % readme,
        "a CA file without a certificate is refused")
refused(["-d", NOWHERE, "--cacert", work, "--gateway", GATEWAY],
        'CA file "%s" holds no PEM certificate '
        "(-----BEGIN CERTIFICATE-----)" % work,
        "and a directory as the CA file")


def warning_of(mode):
    """Start a paper listener on a config file of this mode; return its
    log's lines about the file."""
    conf = os.path.join(work, "listener.conf")
    with open(conf, "w") as f:
        f.write("accounts = A\n")
    os.chmod(conf, mode)
    p = subprocess.Popen([LISTENER, "-c", conf, "-d", NOWHERE, "--paper"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    time.sleep(1.5)
    p.terminate()
    err = p.communicate(timeout=20)[1]
    return [line.split("] ", 1)[-1] for line in err.splitlines()
            if "listener.conf is open" in line]


t.eq(warning_of(0o644),
     ["WARNING: config: config file %s is open to other users (mode 0644); "
      "it may hold passwords: chmod 0600 it"
      % os.path.join(work, "listener.conf")],
     "a config file other users can read draws a warning")
t.eq(warning_of(0o600), [], "one of mode 0600 none")
subprocess.run(["rm", "-rf", work])
t.done()
