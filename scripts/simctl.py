"""Client for the CPAPI simulator's control API, as the sandbox runs it.

The simulator started by scripts/services.sh writes its port and its
self-signed certificate under $PGTRADE_SANDBOX/sim; this client reads
both and talks HTTPS to the loopback address, trusting that certificate
only.  Used by the demo and the end-to-end tests.
"""
import json
import os
import ssl
import sys
import urllib.request

SANDBOX = os.environ.get("PGTRADE_SANDBOX", "/var/lib/pgtrade-sandbox")


class Sim:
    """The simulator's control API (and its CPAPI paths) over HTTPS."""

    def __init__(self, sandbox=SANDBOX):
        with open(os.path.join(sandbox, "sim", "port")) as f:
            self.base = "https://127.0.0.1:%s" % f.read().strip()
        self.ctx = ssl.create_default_context(
            cafile=os.path.join(sandbox, "sim", "sim.crt"))

    def call(self, method, path, body=None):
        """Send one JSON request; return the decoded JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, context=self.ctx, timeout=10) as r:
            return json.loads(r.read() or b"null")


def main(argv):
    """simctl.py METHOD PATH [JSON]: one call, its answer as JSON."""
    if len(argv) not in (3, 4) or argv[1] not in ("GET", "POST", "DELETE"):
        print("usage: simctl.py GET|POST|DELETE PATH [JSON-BODY]\n"
              "  e.g. simctl.py POST /sim/price "
              "'{\"symbol\": \"GOOG\", \"price\": \"400.00\"}'",
              file=sys.stderr)
        return 2
    body = json.loads(argv[3]) if len(argv) == 4 else None
    print(json.dumps(Sim().call(argv[1], argv[2], body), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
