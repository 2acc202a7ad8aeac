#!/bin/bash
# load-bars.sh: load a bar CSV into the sandbox's pgtrade database, or
# into the one PGHOST (with PGPORT, PGDATABASE, PGUSER) names when set.
#
# Usage: load-bars.sh FILE.csv [BAR_SIZE]     (FILE "-" reads stdin)
#
# The CSV has the header symbol,ts,open,high,low,close,volume (the layout
# scripts/load-goog.py writes); BAR_SIZE is an interval, '1 day' unless
# given.  Everything happens in one psql session and one transaction:
# the rows are copied client-side (\copy, so the server never needs to
# read the file) into a temporary table, every symbol is registered with
# pgtrade.add_instrument, and pgtrade.import_bars validates and upserts
# the bars.  The line column given to import_bars is the row's line in
# the file (the header being line 1), so error messages point into the
# file.  Any bad row rolls the whole file back and the script exits
# non-zero with the server's message.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 FILE.csv [BAR_SIZE]" >&2
	exit 2
fi
file=$1
bar_size=${2:-1 day}
here=$(cd "$(dirname "$0")" && pwd)

if [ "$file" != - ] && [ ! -r "$file" ]; then
	echo "load-bars: cannot read $file" >&2
	exit 1
fi
# Columns load by position, so a file in another order would swap them
# silently: the header must be exactly the documented one.
if [ "$file" != - ]; then
	header=$(head -n 1 "$file" | tr -d '\r')
	if [ "$header" != "symbol,ts,open,high,low,close,volume" ]; then
		echo "load-bars: $file: header is \"$header\"; expected symbol,ts,open,high,low,close,volume" >&2
		exit 2
	fi
fi
# PGHOST set names the server to load into (as for services.sh);
# otherwise the sandbox's
if [ -z "${PGHOST:-}" ]; then
	if ! "$here/sandbox.sh" status >/dev/null; then
		echo "load-bars: the sandbox is not running; start it with 'make sandbox'" >&2
		exit 1
	fi
	eval "$("$here/sandbox.sh" env)"
fi

# The file arrives on standard input (\copy ... FROM pstdin), which
# spares quoting its name inside the \copy command; the script itself is
# read from descriptor 3.
if [ "$file" != - ]; then
	exec <"$file"
fi
rc=0
psql -X -q -A -t -v ON_ERROR_STOP=1 --single-transaction \
	-v bar_size="$bar_size" -f /dev/fd/3 3<<'SQL' || rc=$?
SET client_min_messages = warning;
CREATE TEMP TABLE bar_import (
	line bigserial,
	symbol text,
	ts text,
	open float8,
	high float8,
	low float8,
	close float8,
	volume float8
) ON COMMIT DROP;
-- Number rows by their line in the file: the header is line 1.
SELECT setval(pg_get_serial_sequence('bar_import', 'line'), 2, false) \gset
\copy bar_import (symbol, ts, open, high, low, close, volume) FROM pstdin WITH (FORMAT csv, HEADER true)
SELECT count(pgtrade.add_instrument(symbol)) AS symbols
FROM (SELECT DISTINCT symbol FROM bar_import ORDER BY symbol) AS s
\gset
SELECT pgtrade.import_bars('bar_import'::regclass, :'bar_size'::interval)
	AS bars
\gset
\echo load-bars: :bars bars loaded for :symbols symbols (bar size :bar_size) into database :DBNAME at :HOST port :PORT
SQL
if [ "$rc" -ne 0 ]; then
	echo "load-bars: nothing loaded from $file (psql exit status $rc)" >&2
	exit "$rc"
fi
