#!/usr/bin/env bash
# schemathesis (PyPI) against a real accordd, from docs/openapi.json: every operation with
# generated requests, valid and invalid, a fixed seed and example budget; the run fails on any
# 5xx and on any response the description does not allow (status, content type, body schema).
# The admin API is on a Unix socket: socat carries a loopback TCP port to it for the run.
#
#   scripts/api-fuzz.sh [ACCORDD]     (default: .build/release/accordd)
#
# Left out: /v1/events (a stream that does not end), /v1/backup (it writes files where a request
# says), /v1/console/tokens (the console is off here).
set -euo pipefail
cd "$(dirname "$0")/.."
accordd=${1:-.build/release/accordd}
seed=${ACCORD_API_FUZZ_SEED:-20261207}
examples=${ACCORD_API_FUZZ_EXAMPLES:-30}
source scripts/prerequisites.sh
accord_install_api_fuzz_prerequisites
# The command pip installed, beside the python3 that has the package.
schemathesis=$(python3 -c 'import os, sys; print(os.path.join(os.path.dirname(sys.executable), "schemathesis"))')
[ -x "$schemathesis" ] || schemathesis=schemathesis

folder=$(mktemp -d /tmp/accord-api-fuzz-XXXXXX)
chmod 600 certs-example/example/*.key
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
listen=$(free_port)
http=$(free_port)
cat > "$folder/accordd.toml" <<TOML
[node]
organisation = "acme"
name = "node1"
data_directory = "$folder/data"
[listen]
address = "127.0.0.1:$listen"
[tls]
certificate = "$PWD/certs-example/example/acme-node1.pem"
private_key = "$PWD/certs-example/example/acme-node1.key"
ca = "$PWD/certs-example/example/ca.pem"
[admin]
socket = "$folder/admin.sock"
[[peers]]
organisation = "globex"
address = "127.0.0.1:1"
TOML
"$accordd" --config "$folder/accordd.toml" > "$folder/accordd.log" 2>&1 &
daemon=$!
socat "TCP-LISTEN:$http,bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:$folder/admin.sock" &
relay=$!
cleanup() {
    kill "$relay" 2>/dev/null || true
    kill "$daemon" 2>/dev/null || true
    wait "$daemon" 2>/dev/null || true
    rm -rf "$folder"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$folder/admin.sock" ] && break; sleep 0.1; done

status=0
"$schemathesis" run docs/openapi.json --url "http://127.0.0.1:$http" --seed "$seed" --max-examples "$examples" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --exclude-path /v1/events --exclude-path /v1/backup --exclude-path /v1/console/tokens \
    --workers 1 --request-timeout 30 --no-color || status=$?
if ! kill -0 "$daemon" 2>/dev/null; then
    echo "api-fuzz: accordd ended during the run; its log:" >&2
    tail -n 40 "$folder/accordd.log" >&2
    exit 1
fi
if grep -qiE "critical|fatal error" "$folder/accordd.log"; then
    echo "api-fuzz: accordd logged a critical error:" >&2
    grep -iE "critical|fatal error" "$folder/accordd.log" | head -n 20 >&2
    exit 1
fi
exit "$status"
