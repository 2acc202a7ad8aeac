#!/bin/bash
# db.sh: entrypoint of the db image.  Starts the sandbox cluster with
# scripts/sandbox.sh (initialised, with pgtrade created, on the first
# start; kept in the PGTRADE_SANDBOX volume after), shows its log, and
# stops it cleanly on SIGTERM.  Exits 1 when the server stops by itself,
# so that the container's restart policy applies.
set -euo pipefail
cd /opt/pgtrade
scripts/sandbox.sh start
tail -n 0 -F "$PGTRADE_SANDBOX/log/postgresql.log" &
tail_pid=$!
trap 'kill "$tail_pid"; scripts/sandbox.sh stop; exit 0' TERM INT
while scripts/sandbox.sh status >/dev/null; do
	sleep 5 &
	wait $!
done
echo "db: the server is no longer running" >&2
kill "$tail_pid"
exit 1
