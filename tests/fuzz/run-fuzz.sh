#!/bin/bash
# run-fuzz.sh: build a fuzz target and run it, as TAP.
#
# Usage: tests/fuzz/run-fuzz.sh --brief SECONDS
#        tests/fuzz/run-fuzz.sh --long SECONDS
#
# FUZZ_TARGET picks the target: cpapi (default; the gateway's answer
# parsers, seeds in tests/fuzz/corpus, files in results/fuzz) or cron
# (the cron parser and search, seeds in tests/fuzz/corpus-cron, files
# in results/fuzz/cron).
#
#   --brief  fuzz a fresh copy of the seed corpus (tests/fuzz/corpus),
#            thrown away afterwards: what tests/run-all.sh runs
#   --long   fuzz results/fuzz/corpus, seeded from the same files and
#            kept from run to run; FUZZ_JOBS processes (default 1)
#
# Three test points: the target builds with -fsanitize=fuzzer,address,
# undefined; every seed input runs clean (the seeds include the inputs
# that found each bug fixed so far); SECONDS of fuzzing find no crash,
# leak, sanitizer report or broken promise of the harness.  A finding
# leaves its input in results/fuzz/ (crash-*, leak-*, timeout-*) and
# the report's key lines as TAP comments; replay it with
# results/fuzz/bin/fuzz_<target> FILE.  Exit status 0 only when all passed.
#
# Environment: FUZZ_CC (default clang-14, else clang), FUZZ_JOBS.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FUZZ=$ROOT/tests/fuzz
TARGET=${FUZZ_TARGET:-cpapi}
case "$TARGET" in
cpapi)
	OUT=$ROOT/results/fuzz
	SEEDS=$FUZZ/corpus
	DICT=(-dict="$FUZZ/cpapi.dict")
	;;
cron)
	OUT=$ROOT/results/fuzz/cron
	SEEDS=$FUZZ/corpus-cron
	DICT=()
	;;
*)
	echo "run-fuzz.sh: FUZZ_TARGET must be cpapi or cron, not \"$TARGET\"" >&2
	exit 2
	;;
esac
BIN=$ROOT/results/fuzz/bin/fuzz_$TARGET
JOBS=${FUZZ_JOBS:-1}

mode=${1:-}
seconds=${2:-}
case "$mode" in
--brief | --long) ;;
*)
	echo "usage: $0 --brief|--long SECONDS" >&2
	exit 2
	;;
esac
case "$seconds" in
'' | *[!0-9]*)
	echo "run-fuzz.sh: SECONDS must be a whole number, not \"$seconds\"" >&2
	exit 2
	;;
esac
case "$JOBS" in
'' | *[!0-9]* | 0)
	echo "run-fuzz.sh: FUZZ_JOBS must be a positive number" >&2
	exit 2
	;;
esac

failed=0
n=0

# point OK DESCRIPTION: print one TAP line and count a failure.
point()
{
	n=$((n + 1))
	if [ "$1" = ok ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}

# comment FILE: show the lines of a fuzzer log that say what broke.
comment()
{
	grep -a -E "fuzz_$TARGET:|ERROR:|SUMMARY:|runtime error|Test unit written" \
		"$1" | head -n 12 | sed 's/^/# /'
}

mkdir -p "$OUT"
seeds=("$SEEDS"/*)
echo "1..3"

if make -s -C "$FUZZ" all >"$OUT/build.log" 2>&1; then
	point ok "fuzz_$TARGET builds with -fsanitize=fuzzer,address,undefined"
else
	point fail "fuzz_$TARGET builds with -fsanitize=fuzzer,address,undefined"
	head -n 20 "$OUT/build.log" | sed 's/^/# /'
	point fail "the seed inputs run clean: not run, no build"
	point fail "$seconds s of fuzzing find nothing: not run, no build"
	exit 1
fi

# Each seed once: a regression test of every bug the fuzzer found.
if "$BIN" -runs=1 "${seeds[@]}" >"$OUT/seeds.log" 2>&1; then
	point ok "the ${#seeds[@]} seed inputs run clean"
else
	point fail "the ${#seeds[@]} seed inputs run clean"
	comment "$OUT/seeds.log"
fi

if [ "$mode" = --brief ]; then
	corpus=$(mktemp -d "$OUT/corpus-brief.XXXXXX")
	trap 'rm -rf "$corpus"' EXIT
else
	corpus=$OUT/corpus
	mkdir -p "$corpus"
fi
cp "${seeds[@]}" "$corpus"/
fork=()
[ "$JOBS" -gt 1 ] && fork=(-fork="$JOBS")
started=$(date +%s)
UBSAN_OPTIONS=print_stacktrace=1 "$BIN" "${fork[@]}" \
	-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	"${DICT[@]}" -artifact_prefix="$OUT/" \
	-print_final_stats=1 "$corpus" >"$OUT/fuzz.log" 2>&1
status=$?
took=$(($(date +%s) - started))
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/fuzz.log" |
	tail -n 1)
[ -n "$runs" ] ||
	runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$OUT/fuzz.log" | tail -n 1)
# fork mode reports only its progress lines: "#277584: cov: ..."
[ -n "$runs" ] ||
	runs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$OUT/fuzz.log" | tail -n 1)
if [ "$status" -eq 0 ]; then
	point ok "$seconds s of fuzzing find nothing (${runs:-?} inputs in $took s)"
else
	point fail "$seconds s of fuzzing find nothing (exit status $status after $took s)"
	comment "$OUT/fuzz.log"
fi
echo "# log: $OUT/fuzz.log"
[ "$failed" -eq 0 ]
