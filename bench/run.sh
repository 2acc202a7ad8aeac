#!/bin/bash
# bench/run.sh: run pgtrade's benchmarks against the sandbox cluster and
# print their medians.
#
#   bench/run.sh [all|indicators|listener]
#
# indicators: BENCH_ROWS sets the series length (default 200,000; the
# recursive-CTE baseline runs on the same rows).
# listener: BENCH_ORDERS orders a phase (default 10,000), BENCH_RATE
# orders a second offered in the latency phases (default 200); it starts
# its own simulator and listener (see bench/listener.py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
eval "$("$here/../scripts/sandbox.sh" env)"
what=${1:-all}
case $what in all|indicators|listener) ;; *)
	echo "usage: $0 [all|indicators|listener]" >&2; exit 2 ;;
esac
if [ "$what" != listener ]; then
	echo "bench: $(nproc) cores, PostgreSQL $(psql -XAtc 'SHOW server_version'), rows ${BENCH_ROWS:-200000}"
	psql -X -q -v rows="${BENCH_ROWS:-200000}" -f "$here/indicators.sql"
fi
if [ "$what" != indicators ]; then
	make -s -C "$here" listener_client
	/usr/bin/python3 "$here/listener.py"
fi
