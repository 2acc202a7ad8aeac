#!/bin/bash
# services.sh: start and stop the CPAPI simulator and pgtrade-listener
# beside the sandbox cluster.
#
#   scripts/services.sh start-sim        simulator on a free loopback port
#   scripts/services.sh start-listener   listener against that simulator
#   scripts/services.sh stop             stop both
#   scripts/services.sh gateway-url      print the simulator's base URL
#
# State lives in the sandbox: $SANDBOX/sim/ (certificate, port, log) and
# $SANDBOX/run/{sim,listener}.pid.  The simulator and the listener use a
# time scale (PGTRADE_TIME_SCALE, default 0.05) so the gateway's minute
# timers take seconds.  Position checks are off unless
# PGTRADE_POSITIONS_INTERVAL (seconds) asks for them: the tests share one
# database but restart the simulator with an empty book, so the two
# would never agree.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
SANDBOX=${PGTRADE_SANDBOX:-/var/lib/pgtrade-sandbox}
RUN=$SANDBOX/run
SIM=$SANDBOX/sim
SCALE=${PGTRADE_TIME_SCALE:-0.05}
PY=/usr/bin/python3
LISTENER=${PGTRADE_LISTENER:-$(command -v pgtrade-listener || echo "$top/listener/pgtrade-listener")}

die() { echo "services: $*" >&2; exit 1; }

# The simulator and the listener outlive this script: they must not
# inherit a caller's descriptors (a "flock FILE make check" lock would
# stay held as long as they run).  This script needs none above 2.
for fd in /proc/$$/fd/*; do
	fd=${fd##*/}
	[ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
done

# wait_for CMD...: retry a command for up to 20 s
wait_for() {
	local i
	for i in $(seq 1 200); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	return 1
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pid() {
	local f=$1 name=$2 pid i
	if pid_alive "$f"; then
		pid=$(cat "$f")
		kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		echo "services: stopped $name (pid $pid)"
	fi
	rm -f "$f"
}

start_sim() {
	mkdir -p "$SIM" "$RUN"
	stop_pid "$RUN/sim.pid" simulator
	[ -f "$SIM/sim.crt" ] || bash "$top/tests/sim/make-cert.sh" "$SIM" >/dev/null
	rm -f "$SIM/port"
	nohup "$PY" "$top/tests/sim/cpapi_sim.py" --port 0 \
		--port-file "$SIM/port" --cert "$SIM/sim.crt" --key "$SIM/sim.key" \
		--accounts "${PGTRADE_ACCOUNTS:-DU1234567}" --time-scale "$SCALE" \
		--log-file "$SIM/requests.log" >"$SIM/sim.out" 2>&1 &
	echo $! >"$RUN/sim.pid"
	wait_for test -s "$SIM/port" || die "simulator did not start; see $SIM/sim.out"
	echo "services: simulator listening on $(gateway_url)"
	# a running listener still points at the old port: move it along
	if pid_alive "$RUN/listener.pid"; then
		mkdir -p "$SANDBOX/log"
		start_listener
	fi
}

gateway_url() {
	[ -s "$SIM/port" ] || die "simulator is not running"
	echo "https://127.0.0.1:$(cat "$SIM/port")/v1/api"
}

start_listener() {
	mkdir -p "$RUN"
	[ -x "$LISTENER" ] || die "pgtrade-listener not found; run make install"
	[ -n "${PGHOST:-}" ] || eval "$("$here/sandbox.sh" env)"
	gateway_url >/dev/null
	stop_pid "$RUN/listener.pid" listener
	nohup "$LISTENER" \
		-d "host=$PGHOST port=$PGPORT dbname=${PGDATABASE:-pgtrade} user=pgtrade_listen" \
		--gateway "$(gateway_url)" --cacert "$SIM/sim.crt" \
		--confirm-ids "${PGTRADE_CONFIRM_IDS:-o354,o163}" \
		--suppress-ids "${PGTRADE_SUPPRESS_IDS:-o383}" \
		--poll-interval "${PGTRADE_POLL_INTERVAL:-0.5}" \
		--positions-interval "${PGTRADE_POSITIONS_INTERVAL:-0}" \
		--time-scale "$SCALE" --name "${PGTRADE_LISTENER_NAME:-sandbox}" \
		${PGTRADE_LISTENER_FLAGS:-} >>"$SANDBOX/log/listener.log" 2>&1 &
	echo $! >"$RUN/listener.pid"
	sleep 0.5
	pid_alive "$RUN/listener.pid" ||
		die "listener exited at once; see $SANDBOX/log/listener.log"
	echo "services: listener running (pid $(cat "$RUN/listener.pid")), log $SANDBOX/log/listener.log"
}

case "${1:-}" in
	start-sim) start_sim ;;
	start-listener) mkdir -p "$SANDBOX/log"; start_listener ;;
	stop)
		stop_pid "$RUN/listener.pid" listener
		stop_pid "$RUN/sim.pid" simulator
		;;
	gateway-url) gateway_url ;;
	*) echo "usage: $0 start-sim|start-listener|stop|gateway-url" >&2; exit 2 ;;
esac
