#!/bin/bash
# run-all.sh: run every pgtrade test suite and print one verdict.
#
# Suites, in order, each printing TAP on standard output:
#   tests/unit/test_*        C unit tests (built by tests/unit/Makefile)
#   tests/fuzz/run-fuzz.sh   the gateway-parser fuzz target, briefly
#                            (FUZZ_BRIEF_SECONDS, default 20; "make fuzz"
#                            runs it long)
#   tests/sim/test_sim.py    the CPAPI simulator's self-test
#   tests/pgtap/*.sql        pgTAP files, run with psql in the sandbox
#                            (files whose name starts with "_" are
#                            shared pieces, not suites)
#   tests/e2e/test_*.sh|py   whole-system tests (bash, Debian's python3)
#   tests/crash/crash_suite.py  the listener crash suite with 20 kills,
#                            last: it restarts PostgreSQL and leaves
#                            its orders in the database
#
# Each suite's output is shown as it runs and kept in results/tap/;
# tests/tap-summary.py then prints a line per suite and, as the last
# line, "N passed, N failed" (", N skipped" when any were).  Exit status
# 0 only when nothing failed and at least one test ran.
#
# The database suites use the sandbox cluster (scripts/sandbox.sh); it
# is started, without recreating pgtrade, when it is not running.
# "make check" installs the build and recreates the extension first.
#
# Environment:
#   PGTRADE_SHARED         shared data directory (default ../shared
#                          beside the repository); exported to tests
#   PGTRADE_SUITE_TIMEOUT  seconds one suite may run (default 900)
#   PGTRADE_CI_START       epoch seconds a CI run began (.ci/run sets it),
#                          for the timing line
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1

# Debian's programs first: a python3 found elsewhere on PATH (pyenv
# under /root, for one) is not what a fresh machine has.
PATH=/usr/bin:/bin:$PATH
PYTHON=/usr/bin/python3
PGTRADE_SHARED=${PGTRADE_SHARED:-$(cd "$ROOT/.." && pwd)/shared}
PGTRADE_ROOT=$ROOT
export PATH PGTRADE_SHARED PGTRADE_ROOT
SUITE_TIMEOUT=${PGTRADE_SUITE_TIMEOUT:-900}

OUT=$ROOT/results/tap
MANIFEST=$OUT/manifest
rm -rf "$OUT"
mkdir -p "$OUT"
: >"$MANIFEST"
suites=0
started=$(date +%s)

# run_suite NAME COMMAND...: run one suite under the time limit, show
# its output and record it in the manifest.
run_suite()
{
	local name=$1 tap status
	shift
	suites=$((suites + 1))
	tap=$OUT/$(printf '%03d' "$suites").tap
	echo "# ---- $name"
	timeout -k 10 "$SUITE_TIMEOUT" "$@" </dev/null | tee "$tap"
	status=${PIPESTATUS[0]}
	printf '%s\t%s\t%s\t\n' "$name" "$tap" "$status" >>"$MANIFEST"
}

# skip_suite NAME NOTE: record a suite that could not run, as failed.
skip_suite()
{
	suites=$((suites + 1))
	echo "# ---- $1: $2"
	printf '%s\t\t\t%s\n' "$1" "$2" >>"$MANIFEST"
}

if [ ! -d "$PGTRADE_SHARED" ]; then
	echo "# shared data not found at $PGTRADE_SHARED: tests that need it skip"
fi

# C unit tests: build what builds; a test that does not build fails.
if compgen -G 'tests/unit/test_*.c' >/dev/null; then
	make -s -C tests/unit -k all >&2 || echo "# some unit tests did not build"
	for src in tests/unit/test_*.c; do
		t=$(basename "$src" .c)
		if [ -x "tests/unit/bin/$t" ]; then
			run_suite "tests/unit/$t" "tests/unit/bin/$t"
		else
			skip_suite "tests/unit/$t" "did not build"
		fi
	done
fi

if [ -x tests/fuzz/run-fuzz.sh ]; then
	run_suite "tests/fuzz (brief)" tests/fuzz/run-fuzz.sh --brief \
		"${FUZZ_BRIEF_SECONDS:-20}"
	run_suite "tests/fuzz cron (brief)" env FUZZ_TARGET=cron \
		tests/fuzz/run-fuzz.sh --brief "${FUZZ_CRON_SECONDS:-10}"
fi

if [ -f tests/sim/test_sim.py ]; then
	run_suite tests/sim/test_sim.py "$PYTHON" tests/sim/test_sim.py
fi

# The database suites need the sandbox.
db_note=
if eval "$(scripts/sandbox.sh env)" && ! scripts/sandbox.sh status >/dev/null; then
	echo "# sandbox not running: starting it"
	scripts/sandbox.sh start >&2 || db_note="sandbox did not start"
fi

for f in tests/pgtap/*.sql; do
	[ -f "$f" ] || continue
	case "$(basename "$f")" in _*) continue ;; esac
	if [ -n "$db_note" ]; then
		skip_suite "$f" "$db_note"
	else
		run_suite "$f" psql -X -q -A -t -v ON_ERROR_STOP=1 \
			--pset pager=off -f "$f"
	fi
done

mapfile -t e2e < <(printf '%s\n' tests/e2e/test_*.sh tests/e2e/test_*.py | sort)
for f in "${e2e[@]}"; do
	[ -f "$f" ] || continue
	if [ -n "$db_note" ]; then
		skip_suite "$f" "$db_note"
	elif [ "${f%.py}" != "$f" ]; then
		run_suite "$f" "$PYTHON" "$f"
	else
		run_suite "$f" bash "$f"
	fi
done

if [ -f tests/crash/crash_suite.py ]; then
	if [ -n "$db_note" ]; then
		skip_suite "tests/crash/crash_suite.py (short)" "$db_note"
	else
		run_suite "tests/crash/crash_suite.py (short)" env CRASH_KILLS=20 \
			CRASH_DB_RESTARTS=1 CRASH_TIMEOUTS=1 "$PYTHON" \
			tests/crash/crash_suite.py
	fi
fi

elapsed="$(($(date +%s) - started)) s"
if [ -n "${PGTRADE_CI_START:-}" ]; then
	elapsed="$elapsed ($(($(date +%s) - PGTRADE_CI_START)) s since CI start)"
fi
echo "# ---- $suites suites in $elapsed"
exec "$PYTHON" tests/tap-summary.py "$MANIFEST"
