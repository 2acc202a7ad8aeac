#!/bin/bash
# listener.sh: entrypoint of the listener image.
#
# Settings come from /etc/pgtrade/pgtrade-listener.conf when one is
# mounted, then from variables PGTRADE_LISTENER_<SETTING>: the name of a
# setting of pgtrade-listener.conf in upper case (PGTRADE_LISTENER_GATEWAY,
# PGTRADE_LISTENER_CONFIRM_IDS).  They are written, quoted, into a config
# file of mode 0600 that the listener reads with -c, so a SIGHUP re-reads
# it and an unknown name or a bad value stops the listener with the
# file's line.  A variable that is empty is left out, so that compose's
# empty defaults never override the mounted file (an empty value would
# unset the setting: "accounts" empty means every account the gateway
# lists).  A mounted file that cannot be read stops it.  The database
# connection follows the PG* variables.
# PGTRADE_LISTENER names the program (default: pgtrade-listener on the
# PATH); arguments are passed on to it.
set -euo pipefail

base=/etc/pgtrade/pgtrade-listener.conf
prefix=PGTRADE_LISTENER_
umask 077
conf=$(mktemp "${TMPDIR:-/tmp}/pgtrade-listener.XXXXXX")
{
	echo "# written by $0 from the environment"
	if [ -e "$base" ]; then
		if [ ! -r "$base" ]; then
			echo "listener.sh: cannot read $base" >&2
			exit 2
		fi
		cat "$base"
		echo
	fi
	for name in $(compgen -e | grep "^$prefix" || true); do
		value=${!name}
		[ -n "$value" ] || continue
		case "$value" in
		*$'\n'* | *$'\r'*)
			echo "listener.sh: $name holds a line break" >&2
			exit 2
			;;
		esac
		key=${name#"$prefix"}
		printf "%s = '%s'\n" "${key,,}" "${value//\'/\'\'}"
	done
} >"$conf"
exec "${PGTRADE_LISTENER:-pgtrade-listener}" -c "$conf" "$@"
