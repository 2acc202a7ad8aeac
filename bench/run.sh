#!/bin/bash
# bench/run.sh: run pgtrade's benchmarks against the sandbox cluster and
# print their medians.
#
#   bench/run.sh [all|indicators|listener|run_due|backtest]
#
# indicators: BENCH_ROWS sets the series length (default 200,000; the
# recursive-CTE baseline runs on the same rows).
# listener: BENCH_ORDERS orders a phase (default 10,000), BENCH_RATE
# orders a second offered in the latency phases (default 200); it starts
# its own simulator and listener (see bench/listener.py).
# run_due: scheduler ticks of 500 and 5,000 strategies (BENCH_STRATEGIES,
# BENCH_TICKS) in a database of its own (see bench/run_due.py).
# backtest: backtests end to end from SQL and the engine over bars in
# memory, BENCH_BARS bars (see bench/backtest.py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
eval "$("$here/../scripts/sandbox.sh" env)"
what=${1:-all}
case $what in all|indicators|listener|run_due|backtest) ;; *)
	echo "usage: $0 [all|indicators|listener|run_due|backtest]" >&2; exit 2 ;;
esac
if [ "$what" = all ] || [ "$what" = backtest ]; then
	/usr/bin/python3 "$here/backtest.py"
	[ "$what" = all ] || exit 0
fi
if [ "$what" = all ] || [ "$what" = run_due ]; then
	/usr/bin/python3 "$here/run_due.py"
	[ "$what" = all ] || exit 0
fi
if [ "$what" != listener ]; then
	echo "bench: $(nproc) cores, PostgreSQL $(psql -XAtc 'SHOW server_version'), rows ${BENCH_ROWS:-200000}"
	series=$(mktemp)
	trap 'rm -f "$series"' EXIT
	psql -X -q -v rows="${BENCH_ROWS:-200000}" -v series_file="$series" \
		-f "$here/indicators.sql"
	make -s -C "$here" indicators_loop
	echo "bench: the same indicators as plain C loops over a C array, same series"
	"$here/indicators_loop" "${BENCH_ROWS:-200000}" "$series"
fi
if [ "$what" != indicators ]; then
	make -s -C "$here" listener_client
	/usr/bin/python3 "$here/listener.py"
fi
