#!/bin/bash
# report.sh: write pgtrade's HTML page of a kept backtest or of a
# strategy to standard output.
#
# Usage: report.sh backtest BACKTEST_ID > page.html
#        report.sh strategy STRATEGY_ID [FROM [TO]] > page.html
#
# FROM and TO are instants PostgreSQL reads as timestamptz ('2010-01-01',
# '2010-06-30 16:00-04'); left out, the page covers the strategy's
# trading from its first decision or order on.  The page is one self-contained file
# (inline CSS and SVG, nothing to fetch).  psql connects as the
# environment says (PGHOST, PGPORT, PGDATABASE, PGUSER...), so the page
# shows what that role may see; for the sandbox, first
#   eval "$(scripts/sandbox.sh env)"
# Errors (an unknown id, a role that may not read backtests) go to
# standard error with a non-zero exit, and nothing to standard output.
set -euo pipefail

usage()
{
	echo "usage: $0 backtest BACKTEST_ID" >&2
	echo "       $0 strategy STRATEGY_ID [FROM [TO]]" >&2
	exit 2
}

[ $# -ge 2 ] || usage
what=$1
id=$2
if ! [[ $id =~ ^[0-9]{1,18}$ ]]; then
	echo "report: the id must be a whole number, not \"$id\"" >&2
	exit 2
fi
# values reach the server as psql variables, quoted by psql (:'name')
case $what in
backtest)
	[ $# -eq 2 ] || usage
	sql="SELECT pgtrade.report_backtest(:'id'::bigint)"
	;;
strategy)
	[ $# -le 4 ] || usage
	sql="SELECT pgtrade.report_strategy(:'id'::bigint,
		nullif(:'from_ts', '')::timestamptz, nullif(:'to_ts', '')::timestamptz)"
	;;
*)
	usage
	;;
esac

# the page is buffered so that a failure leaves no half page behind
page=$(printf '%s\n' "$sql" | psql -X -q -A -t -v ON_ERROR_STOP=1 \
	-P pager=off -v id="$id" -v from_ts="${3:-}" -v to_ts="${4:-}")
printf '%s\n' "$page"
