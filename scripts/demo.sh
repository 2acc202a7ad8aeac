#!/bin/bash
# demo.sh: the end of `make demo`.  Expects the extension and the listener
# installed and the sandbox started fresh; loads real daily bars (GOOG
# from Debian's python-matplotlib-data, or DATA=file.csv), starts the
# simulator and the listener, replays recent sessions and prints the
# report.  Leaves everything running.
set -euo pipefail

case "${1:-}" in
	"") ;;
	-h|--help)
		echo "usage: make demo [DATA=file.csv]   (or DATA=... scripts/demo.sh)"
		echo "Replays the last sessions of daily bars through the sandbox;"
		echo "expects the sandbox freshly started (make sandbox)."
		exit 0 ;;
	*) echo "demo.sh: takes no arguments; see --help" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
eval "$("$here/sandbox.sh" env)"
SANDBOX=${PGTRADE_SANDBOX:-/var/lib/pgtrade-sandbox}

data=${DATA:-}
args=()
if [ -z "$data" ]; then
	# the default window is known to hold a filled buy and a filled sell
	args+=(--require-both)
	data=$SANDBOX/goog.csv
	/usr/bin/python3 "$here/load-goog.py" -o "$data"
	echo "demo: GOOG daily bars from Debian's python-matplotlib-data"
fi
[ -r "$data" ] || { echo "demo: cannot read $data" >&2; exit 1; }
"$here/load-bars.sh" "$data"

"$here/services.sh" start-sim
"$here/services.sh" start-listener
/usr/bin/python3 "$here/demo.py" --data "$data" "${args[@]}" ${DEMO_ARGS:-}

cat <<MSG

The sandbox is still running:
  psql -h $PGHOST -p $PGPORT -U postgres pgtrade
  listener log: $SANDBOX/log/listener.log
Stop it with: make stop
MSG
