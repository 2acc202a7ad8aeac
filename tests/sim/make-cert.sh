#!/bin/sh
# make-cert.sh - write a self-signed TLS certificate for the CPAPI simulator
#
# Usage: tests/sim/make-cert.sh DIR
#
# Writes DIR/sim.crt and DIR/sim.key (mode 0600): an RSA 2048 key and a
# SHA-256 certificate valid for DNS:localhost and IP:127.0.0.1.  The
# certificate carries basicConstraints CA:TRUE and keyCertSign, so the same
# file serves the simulator and is the CA file its clients trust.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
dir=$1
mkdir -p "$dir"

conf=$(mktemp)
trap 'rm -f "$conf"' EXIT

cat >"$conf" <<'EOF'
[req]
distinguished_name = dn
x509_extensions = ext
prompt = no

[dn]
CN = localhost
O = pgtrade CPAPI simulator

[ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, keyEncipherment, keyCertSign
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

umask 077
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 825 \
	-config "$conf" -keyout "$dir/sim.key" -out "$dir/sim.crt" 2>/dev/null
chmod 0644 "$dir/sim.crt"
chmod 0600 "$dir/sim.key"
echo "wrote $dir/sim.crt and $dir/sim.key"
