#!/bin/bash
# sim.sh: entrypoint of the sim image.  Runs the CPAPI simulator on
# 127.0.0.1:5000 of its container; a listener reaches it by sharing the
# container's network (compose.yaml: network_mode "service:sim").  The
# certificate is made once into PGTRADE_SIM_DIR (a volume), where the
# listener reads it as its CA file.
set -euo pipefail
cd /opt/pgtrade
dir=${PGTRADE_SIM_DIR:-/var/lib/pgtrade-sim}
[ -s "$dir/sim.crt" ] || tests/sim/make-cert.sh "$dir"
exec /usr/bin/python3 tests/sim/cpapi_sim.py --port 5000 \
	--cert "$dir/sim.crt" --key "$dir/sim.key" \
	--accounts "${PGTRADE_ACCOUNTS:-DU1234567}" \
	--time-scale "${PGTRADE_TIME_SCALE:-1}"
