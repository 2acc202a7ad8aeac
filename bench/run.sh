#!/bin/bash
# bench/run.sh: run pgtrade's benchmarks against the sandbox cluster and
# print their medians.  BENCH_ROWS sets the series length (default 200,000;
# the recursive-CTE baseline runs on the same rows).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
eval "$("$here/../scripts/sandbox.sh" env)"
echo "bench: $(nproc) cores, PostgreSQL $(psql -XAtc 'SHOW server_version'), rows ${BENCH_ROWS:-200000}"
psql -X -q -v rows="${BENCH_ROWS:-200000}" -f "$here/indicators.sql"
