#!/bin/bash
# entrypoint.sh: start the sandbox cluster, the simulator and the
# listener with the project's own scripts, then stay in the foreground
# until the container is stopped, stopping everything cleanly.
set -euo pipefail
cd /opt/pgtrade
scripts/sandbox.sh start
eval "$(scripts/sandbox.sh env)"
scripts/services.sh start-sim
scripts/services.sh start-listener
trap 'scripts/sandbox.sh stop; exit 0' TERM INT
tail -F "$PGTRADE_SANDBOX/log/listener.log" &
wait $!
