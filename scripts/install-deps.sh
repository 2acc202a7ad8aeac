#!/bin/sh
# install-deps.sh: install the Debian packages pgtrade needs.
#
#   scripts/install-deps.sh [build]   build, test and run the demo
#   scripts/install-deps.sh ci        build, plus prometheus-postgres-exporter
#                                     for the monitoring test (CI's
#                                     throwaway machine only)
#   scripts/install-deps.sh listener  run an installed pgtrade-listener
#   scripts/install-deps.sh sim       run the CPAPI simulator
#
# The two small sets serve the listener and simulator images of docker/.
# chromium is for the tests only: it loads the report pages, headless and
# offline.  prometheus-postgres-exporter scrapes the monitoring queries in
# their test, started by the test on a loopback port; it is not in the
# build set because the package enables a service that listens on every
# address at boot.  The ci set installs it with no service started
# (a policy-rc.d for the time of the install) on a machine thrown away
# after the run.
# Idempotent: packages already present are left alone and apt is not
# touched at all when nothing is missing.
set -eu

BUILD_PKGS="build-essential make gcc python3 openssl ca-certificates
postgresql-15 postgresql-client-15 postgresql-server-dev-15 postgresql-15-cron
postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
libcurl4-openssl-dev libjansson-dev libpq-dev python-matplotlib-data
python3-yaml clang-format clang-14 libclang-rt-14-dev chromium"
no_services=no
case "${1:-build}" in
build) PKGS=$BUILD_PKGS ;;
ci)
	PKGS="$BUILD_PKGS prometheus-postgres-exporter"
	no_services=yes
	;;
listener) PKGS="libpq5 libcurl4 libjansson4 ca-certificates" ;;
sim) PKGS="python3 openssl ca-certificates" ;;
*)
	echo "usage: $0 [build|ci|listener|sim]" >&2
	exit 2
	;;
esac

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run as root to install them" >&2
	exit 1
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# On CI's machine no package's service is started by its installation
# (PostgreSQL's own cluster, the exporter): pgtrade starts what it needs
# itself.  A policy-rc.d already in place is left as it is.
if [ "$no_services" = yes ] && [ ! -e /usr/sbin/policy-rc.d ]; then
	policy=/usr/sbin/policy-rc.d
	# removed however the script ends: dash runs an EXIT trap on exit
	# only, so a signal exits first
	trap 'rm -f "$policy"' EXIT
	trap 'exit 1' HUP INT TERM
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
fi
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
# the exporter's package enables its service for the next boot as well;
# a machine that cannot say so still has its packages
if [ "$no_services" = yes ] && command -v systemctl >/dev/null; then
	systemctl disable prometheus-postgres-exporter.service ||
		echo "install-deps: could not disable prometheus-postgres-exporter.service" >&2
fi
