#!/bin/bash
# sandbox.sh: run a throw-away PostgreSQL 15 cluster for pgtrade's tests
# and demo.
#
# Usage: sandbox.sh start [--fresh] | stop | status | env | psql [ARGS] |
#        destroy
#
# The cluster lives in ${PGTRADE_SANDBOX:-/var/lib/pgtrade-sandbox}:
#   pgdata/   data directory, owned by postgres (mode 0700)
#   run/      Unix socket directory; also where the simulator and the
#             listener started by tests leave their *.pid files
#   log/      server log (postgresql.log)
# It listens on 127.0.0.1 and the socket only, on port
# ${PGTRADE_PORT:-54329}, with pg_cron preloaded and the time zone UTC.
#
# Invariants:
#   * The server always runs as the postgres user (PostgreSQL refuses
#     root), started and stopped through pg_ctl.  The sandbox directory
#     is outside the clone so postgres can reach it even when the clone
#     sits under /root.
#   * Authentication is "trust" for every local and loopback connection.
#     This is acceptable only because the cluster is a disposable test
#     sandbox reachable from this machine alone; never copy it to a real
#     installation.
#   * The settings this script owns are in pgdata/pgtrade-sandbox.conf,
#     rewritten on every start and included from postgresql.conf, so a
#     sandbox made by an older version of this script picks up new
#     settings; a running server is restarted when they changed.
#   * "start" is idempotent.  "start --fresh" drops and recreates the
#     pgtrade extension (and its schema) so a test run always sees the
#     build that was just installed; it fails when that fails.  Without
#     --fresh a missing or broken pgtrade is reported and tolerated.
#   * A postmaster.pid left by a server that no longer runs (a machine
#     restart, a killed container) is recognised by checking that its
#     pid is alive and working in this data directory, and removed.
set -eu

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
SANDBOX=${PGTRADE_SANDBOX:-/var/lib/pgtrade-sandbox}
PORT=${PGTRADE_PORT:-54329}
PGDATA_DIR=$SANDBOX/pgdata
RUN_DIR=$SANDBOX/run
LOG_DIR=$SANDBOX/log
LOG_FILE=$LOG_DIR/postgresql.log
CONF_NAME=pgtrade-sandbox.conf
MARKER=$SANDBOX/.pgtrade-sandbox
DB=pgtrade
PG_MAJOR=15

# Roles: "login role:group role" pairs.  The group roles are normally
# created by the pgtrade extension; they are made here (NOLOGIN) only
# when missing, so the login roles can exist whatever the order.
LOGIN_ROLES="pgtrade_cron:pgtrade_scheduler pgtrade_listen:pgtrade_listener
pgtrade_user:pgtrade_trader"

# Print a message on standard error.
say()
{
	echo "sandbox: $*" >&2
}

# Print a message on standard error and exit with status 1.
die()
{
	say "$@"
	exit 1
}

# Print the argument quoted for the shell (single quotes).
shell_quote()
{
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# Close every descriptor above 2 in the calling shell.  A server started
# from a shell that holds a lock (this script's own, descriptor 9, or a
# caller's "flock FILE make check") would otherwise keep that lock for
# as long as it runs.
close_inherited_fds()
{
	local fd
	for fd in /proc/self/fd/*; do
		fd=${fd##*/}
		[ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
	done
	return 0
}

# Run a command as the postgres user, from a directory it can read,
# with no inherited descriptor but the standard three.
as_postgres()
{
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && close_inherited_fds && runuser -u postgres -- "$@")
	elif [ "$(id -un)" = postgres ]; then
		(cd / && close_inherited_fds && "$@")
	else
		die "run as root or as postgres"
	fi
}

# Run psql against the sandbox as database user postgres with settings
# that make scripts fail on the first error; extra arguments follow.
sql()
{
	env -u PGSERVICE -u PGSERVICEFILE -u PGTZ \
		PGOPTIONS='-c client_min_messages=warning' \
		"$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUN_DIR" -p "$PORT" \
		-U postgres "$@"
}

# Print one value: the first column of the first row of a query run in
# the database named by $1.
sql_value()
{
	sql -d "$1" -A -t -c "$2"
}

# Locate the PostgreSQL programs and check that the pieces the sandbox
# needs are installed.
find_postgres()
{
	[ -x "$PG_CONFIG" ] ||
		die "$PG_CONFIG not found; run 'make deps' (postgresql-server-dev-$PG_MAJOR)"
	BINDIR=$("$PG_CONFIG" --bindir)
	SHAREDIR=$("$PG_CONFIG" --sharedir)
	PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
	for prog in initdb pg_ctl psql; do
		[ -x "$BINDIR/$prog" ] ||
			die "$BINDIR/$prog not found; run 'make deps' (postgresql-$PG_MAJOR)"
	done
}

# Check the installed extensions the sandbox always loads.
check_extensions()
{
	[ -f "$PKGLIBDIR/pg_cron.so" ] ||
		die "pg_cron is not installed; run 'make deps' (postgresql-$PG_MAJOR-cron)"
	[ -f "$SHAREDIR/extension/pgtap.control" ] ||
		die "pgTAP is not installed; run 'make deps' (postgresql-$PG_MAJOR-pgtap)"
}

# Check that the socket path fits the kernel's limit (107 bytes plus a
# terminating zero in sun_path).
check_socket_path()
{
	local sock="$RUN_DIR/.s.PGSQL.$PORT"
	[ "${#sock}" -lt 107 ] ||
		die "socket path $sock is ${#sock} bytes; set PGTRADE_SANDBOX to a shorter directory"
}

# Print the pid of the postmaster serving this data directory, or
# nothing.  A pid counts only when the process is alive and its working
# directory is this data directory: after a restart the pid in a stale
# postmaster.pid may belong to an unrelated process.
postmaster_pid()
{
	local pidfile="$PGDATA_DIR/postmaster.pid" pid cwd want
	[ -f "$pidfile" ] || return 0
	pid=$(head -n 1 "$pidfile" 2>/dev/null || true)
	case "$pid" in
	'' | *[!0-9]*) return 0 ;;
	esac
	[ -d "/proc/$pid" ] || return 0
	want=$(cd "$PGDATA_DIR" && pwd -P)
	cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null || true)
	if [ -z "$cwd" ]; then
		# Not allowed to look (not root and not our process): fall back
		# on the process name.
		grep -qs '^postgres' "/proc/$pid/comm" || return 0
	elif [ "$cwd" != "$want" ]; then
		return 0
	fi
	echo "$pid"
}

# Succeed when the sandbox server is running.
is_running()
{
	[ -n "$(postmaster_pid)" ]
}

# Remove the lock files a server that is no longer running left behind.
clean_stale()
{
	if [ -f "$PGDATA_DIR/postmaster.pid" ]; then
		say "removing stale $PGDATA_DIR/postmaster.pid"
		rm -f "$PGDATA_DIR/postmaster.pid"
	fi
	rm -f "$RUN_DIR"/.s.PGSQL.*
}

# Create the sandbox directories with the ownership the server needs.
make_dirs()
{
	mkdir -p "$RUN_DIR" "$LOG_DIR"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres:postgres "$SANDBOX" "$RUN_DIR" "$LOG_DIR"
	fi
	chmod 0755 "$SANDBOX" "$LOG_DIR"
	chmod 0775 "$RUN_DIR"
	as_postgres test -w "$SANDBOX" -a -w "$RUN_DIR" -a -w "$LOG_DIR" ||
		die "postgres cannot write to $SANDBOX; choose a PGTRADE_SANDBOX it can reach"
}

# Run initdb when the data directory does not hold a cluster yet, and
# refuse one of another major version.
init_cluster()
{
	if [ -f "$PGDATA_DIR/PG_VERSION" ]; then
		local have
		have=$(cat "$PGDATA_DIR/PG_VERSION")
		[ "$have" = "$PG_MAJOR" ] ||
			die "$PGDATA_DIR holds a PostgreSQL $have cluster; remove it with '$0 destroy'"
		return 0
	fi
	say "initialising $PGDATA_DIR"
	if [ -d "$PGDATA_DIR" ] && [ -n "$(ls -A "$PGDATA_DIR")" ]; then
		die "$PGDATA_DIR is not empty but holds no cluster; remove it with '$0 destroy'"
	fi
	# Trust authentication: sandbox only, see the header.
	as_postgres "$BINDIR/initdb" -D "$PGDATA_DIR" -U postgres -E UTF8 \
		--locale=C.UTF-8 -A trust >"$LOG_DIR/initdb.log" 2>&1 ||
		{
			cat "$LOG_DIR/initdb.log" >&2
			die "initdb failed"
		}
	echo "include_if_exists = '$CONF_NAME'" >>"$PGDATA_DIR/postgresql.conf"
}

# Print the server settings this script owns.
sandbox_conf()
{
	cat <<EOF
# Written by scripts/sandbox.sh on every start; edits are overwritten.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$RUN_DIR'
max_connections = 100
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
shared_preload_libraries = 'pg_cron'
# logical, so that a test can subscribe a database to pgtrade.bar
wal_level = logical
cron.database_name = '$DB'
cron.host = '$RUN_DIR'
EOF
}

# Write pgtrade-sandbox.conf; succeed when its content changed.
write_conf()
{
	local conf="$PGDATA_DIR/$CONF_NAME" new
	grep -q "^include_if_exists = '$CONF_NAME'" "$PGDATA_DIR/postgresql.conf" ||
		echo "include_if_exists = '$CONF_NAME'" >>"$PGDATA_DIR/postgresql.conf"
	new=$(sandbox_conf)
	if [ -f "$conf" ] && [ "$(cat "$conf")" = "$new" ]; then
		return 1
	fi
	printf '%s\n' "$new" | as_postgres tee "$conf" >/dev/null
	return 0
}

# Start the server (or restart it with restart) and wait until it
# accepts connections; show the end of the log when it does not.
pg_ctl_run()
{
	as_postgres "$BINDIR/pg_ctl" "$1" -D "$PGDATA_DIR" -w -t 60 \
		-l "$LOG_FILE" >/dev/null ||
		{
			tail -n 20 "$LOG_FILE" >&2 || true
			die "pg_ctl $1 failed (log: $LOG_FILE)"
		}
}

# Make the pgtrade database and the extensions every run needs.
setup_database()
{
	if [ -z "$(sql_value postgres "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
		sql -d postgres -c "CREATE DATABASE $DB"
	fi
	sql -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS pg_cron" \
		-c "CREATE EXTENSION IF NOT EXISTS pgtap"
}

# Create pgtrade in the sandbox.  With $1 = fresh, drop whatever was
# there first (the extension, its schema, the pg_cron jobs that call
# it) and fail when creation fails; otherwise create it only when
# absent and carry on with a warning when that fails.
setup_pgtrade()
{
	if [ ! -f "$SHAREDIR/extension/pgtrade.control" ]; then
		say "pgtrade is not installed ($SHAREDIR/extension/pgtrade.control missing); run 'make install'"
		[ "$1" = fresh ] && die "cannot create a fresh pgtrade"
		return 0
	fi
	if [ "$1" = fresh ]; then
		sql -d "$DB" \
			-c "SELECT cron.unschedule(jobid) FROM cron.job WHERE command LIKE '%pgtrade.%'" \
			-c "DROP EXTENSION IF EXISTS pgtrade CASCADE" \
			-c "DROP SCHEMA IF EXISTS pgtrade CASCADE" >/dev/null
		sql -d "$DB" -c "CREATE EXTENSION pgtrade" ||
			die "CREATE EXTENSION pgtrade failed"
		say "created extension pgtrade $(sql_value "$DB" "SELECT extversion FROM pg_extension WHERE extname = 'pgtrade'")"
	elif ! sql -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS pgtrade"; then
		say "WARNING: CREATE EXTENSION pgtrade failed; the sandbox runs without it"
	else
		local have want
		have=$(sql_value "$DB" "SELECT extversion FROM pg_extension WHERE extname = 'pgtrade'")
		want=$(sql_value "$DB" "SELECT default_version FROM pg_available_extensions WHERE name = 'pgtrade'")
		[ "$have" = "$want" ] ||
			say "pgtrade $have is in the sandbox but $want is installed; use 'start --fresh'"
	fi
}

# Create the sandbox's login roles, and their group roles when the
# extension has not made them.
setup_roles()
{
	local pair login group
	for pair in $LOGIN_ROLES; do
		login=${pair%%:*}
		group=${pair#*:}
		sql -d "$DB" -c "
DO \$\$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$group') THEN
		CREATE ROLE $group NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$login') THEN
		CREATE ROLE $login LOGIN;
	END IF;
	IF NOT pg_has_role('$login', '$group', 'MEMBER') THEN
		GRANT $group TO $login;
	END IF;
END
\$\$"
	done
}

# Schedule pgtrade's pg_cron jobs as pgtrade_cron when the extension
# provides pgtrade.install_jobs.
install_jobs()
{
	local have
	have=$(sql_value "$DB" "SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'pgtrade' AND p.proname = 'install_jobs' LIMIT 1")
	[ -n "$have" ] || return 0
	sql -d "$DB" -A -t -c "SELECT pgtrade.install_jobs('pgtrade_cron')" >/dev/null ||
		die "pgtrade.install_jobs('pgtrade_cron') failed"
}

# start [--fresh]: bring the sandbox up and make it ready for use.
cmd_start()
{
	local mode=keep
	case "${1:-}" in
	--fresh) mode=fresh ;;
	'') ;;
	*) die "unknown option '$1' (usage: start [--fresh])" ;;
	esac
	check_extensions
	check_socket_path
	make_dirs
	init_cluster
	if is_running; then
		if write_conf; then
			say "settings changed: restarting"
			pg_ctl_run restart
		fi
	else
		clean_stale
		write_conf || true
		pg_ctl_run start
	fi
	setup_database
	setup_pgtrade "$mode"
	setup_roles
	if [ -n "$(sql_value "$DB" "SELECT 1 FROM pg_extension WHERE extname = 'pgtrade'")" ]; then
		install_jobs
	fi
	say "running on port $PORT, socket $RUN_DIR, log $LOG_FILE"
}

# Stop a helper process named by a pid file, unless the pid was reused
# by a process started after the file was written.
stop_pidfile()
{
	local file=$1 pid ticks uptime hz started written
	pid=$(head -n 1 "$file" 2>/dev/null | tr -dc 0-9)
	if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then
		ticks=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $20 }')
		uptime=$(awk '{ print $1 }' /proc/uptime)
		hz=$(getconf CLK_TCK)
		started=$(awk -v now="$(date +%s)" -v up="$uptime" \
			-v t="$ticks" -v hz="$hz" 'BEGIN { printf "%d", now - up + t / hz }')
		written=$(stat -c %Y "$file")
		if [ "$started" -le $((written + 2)) ]; then
			say "stopping $(basename "$file" .pid) (pid $pid)"
			kill -TERM "$pid" 2>/dev/null || true
			for _ in $(seq 1 50); do
				[ -d "/proc/$pid" ] || break
				sleep 0.2
			done
			if [ -d "/proc/$pid" ]; then
				say "pid $pid ignored SIGTERM for 10 s: killing it"
				kill -KILL "$pid" 2>/dev/null || true
			fi
		else
			say "$file names pid $pid, now another process: left alone"
		fi
	fi
	rm -f "$file"
}

# stop: stop the helpers with pid files in run/, then the server.
cmd_stop()
{
	local f
	if [ -d "$RUN_DIR" ]; then
		for f in "$RUN_DIR"/*.pid; do
			[ -e "$f" ] || continue
			stop_pidfile "$f"
		done
	fi
	if is_running; then
		as_postgres "$BINDIR/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t 60 \
			>/dev/null || die "pg_ctl stop failed (log: $LOG_FILE)"
		say "stopped"
	else
		[ -d "$PGDATA_DIR" ] && clean_stale
		say "not running"
	fi
}

# status: report whether the sandbox runs; exit 0 if so, 3 if not.
cmd_status()
{
	local pid ver
	pid=$(postmaster_pid)
	if [ -z "$pid" ]; then
		echo "sandbox $SANDBOX: not running"
		return 3
	fi
	echo "sandbox $SANDBOX: running (pid $pid, port $PORT, socket $RUN_DIR)"
	ver=$(sql_value "$DB" "SELECT string_agg(extname || ' ' || extversion, ', ' ORDER BY extname) FROM pg_extension WHERE extname IN ('pg_cron', 'pgtap', 'pgtrade')" 2>/dev/null || true)
	echo "extensions: ${ver:-none (database $DB missing?)}"
}

# env: print the libpq environment of the sandbox, for eval.
cmd_env()
{
	echo "export PGHOST=$(shell_quote "$RUN_DIR") PGPORT=$PORT PGDATABASE=$DB PGUSER=postgres PGTRADE_SANDBOX=$(shell_quote "$SANDBOX") PGTRADE_PORT=$PORT"
}

# psql [ARGS]: open psql on the sandbox as database user postgres.  It
# runs as the calling OS user, so \copy reads that user's files.
cmd_psql()
{
	export PGHOST=$RUN_DIR PGPORT=$PORT PGDATABASE=$DB PGUSER=postgres
	exec "$BINDIR/psql" "$@"
}

# destroy: stop the sandbox and delete its directory.
cmd_destroy()
{
	[ -e "$SANDBOX" ] || return 0
	[ -f "$MARKER" ] || die "$SANDBOX does not look like a pgtrade sandbox; not removing it"
	cmd_stop
	rm -rf "$SANDBOX"
	say "removed $SANDBOX"
}

# Create the sandbox directory, or check that an existing one is ours:
# "destroy" deletes it, so a directory that holds other files is never
# taken over.
claim_dir()
{
	if [ -d "$SANDBOX" ] && [ ! -f "$MARKER" ] &&
		[ -n "$(find "$SANDBOX" -mindepth 1 -maxdepth 1 ! -name .lock)" ]; then
		die "$SANDBOX exists and is not a pgtrade sandbox; set PGTRADE_SANDBOX to another directory"
	fi
	mkdir -p "$SANDBOX"
	touch "$MARKER"
}

# Take the sandbox's lock, held until the script exits: one change at a
# time, as concurrent starts would race in initdb and pg_ctl.
lock_sandbox()
{
	exec 9>"$SANDBOX/.lock"
	flock 9
}

main()
{
	local cmd=${1:-}
	[ $# -gt 0 ] && shift
	find_postgres
	case "$cmd" in
	start)
		claim_dir
		lock_sandbox
		cmd_start "$@"
		;;
	stop | destroy)
		if [ ! -d "$SANDBOX" ]; then
			say "no sandbox at $SANDBOX"
			exit 0
		fi
		lock_sandbox
		"cmd_$cmd" "$@"
		;;
	status | env | psql) "cmd_$cmd" "$@" ;;
	*)
		echo "usage: $0 start [--fresh] | stop | status | env | psql [ARGS] | destroy" >&2
		exit 2
		;;
	esac
}

main "$@"
