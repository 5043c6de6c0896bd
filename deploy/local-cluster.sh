#!/usr/bin/env bash
# A local Accord network of three organisations on 127.0.0.1: acme, globex and initech, one
# accordd each, with the EXAMPLE certificates of certs-example/ (never use those in production)
# and embedded SQLite storage. Everything it writes (data, logs, admin sockets) is under .cluster/.
#
#   deploy/local-cluster.sh up      build (release), start the three nodes, create a sample agreement,
#                                   print each node's web console address and a login token
#   deploy/local-cluster.sh status  accordctl status of every node
#   deploy/local-cluster.sh down    stop the nodes cleanly (SIGTERM); data and logs stay
#   deploy/local-cluster.sh clean   stop them and remove .cluster/
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CLUSTER="$ROOT/.cluster"
ORGANISATIONS=(acme globex initech)
BIN="$ROOT/.build/release"

socket() { echo "$CLUSTER/$1/admin.sock"; }
ctl() { local org=$1; shift; "$BIN/accordctl" "$@" --socket "$(socket "$org")"; }
running() { [ -f "$CLUSTER/$1/accordd.pid" ] && kill -0 "$(cat "$CLUSTER/$1/accordd.pid")" 2>/dev/null; }

up() {
    source "$ROOT/scripts/prerequisites.sh"
    accord_install_prerequisites
    # Git keeps no file modes, and accordd refuses a private key that other users can read.
    chmod 600 "$ROOT"/certs-example/example/*.key
    echo "Building accordd and accordctl (release)…"
    (cd "$ROOT" && swift build -c release --product accordd && swift build -c release --product accordctl)
    for org in "${ORGANISATIONS[@]}"; do
        mkdir -p "$CLUSTER/$org"
        if running "$org"; then echo "$org: already running (pid $(cat "$CLUSTER/$org/accordd.pid"))"; continue; fi
        "$BIN/accordd" --config "$ROOT/deploy/examples/$org.toml" >>"$CLUSTER/$org/accordd.log" 2>&1 &
        echo $! >"$CLUSTER/$org/accordd.pid"
        echo "$org: accordd started (pid $!), log $CLUSTER/$org/accordd.log"
    done
    for org in "${ORGANISATIONS[@]}"; do
        for _ in $(seq 100); do ctl "$org" status >/dev/null 2>&1 && break; sleep 0.1; done
        if ! ctl "$org" status >/dev/null; then
            echo "$org did not come up; its log says:" >&2
            tail -n 20 "$CLUSTER/$org/accordd.log" >&2
            exit 1
        fi
    done

    if [ -z "$(ctl acme agreements list --party globex --json | tr -d '[:space:][]')" ]; then
        echo
        echo "Creating a sample partnership agreement between acme and globex on acme's node…"
        id=$(ctl acme agreements create --title "GPU cluster sharing and joint support" --category technicalResources \
            --party acme --party globex \
            --framework "technicalFit=Acme provides GPU capacity; Globex runs the support desk" \
            --framework "dataProtection=No personal data leaves the EU" \
            --effective-from 2027-01-01 --expires-on 2028-12-31)
        ctl acme agreements commitment "$id" add --by acme --kind freeResource --description "2,000 GPU hours per month" >/dev/null
        ctl acme agreements commitment "$id" add --by globex --kind customerAssistance --description "Second-line support for Acme's customers" >/dev/null
        ctl acme agreements approve "$id" >/dev/null
        ctl acme sync --peer globex --wait --timeout 60 >/dev/null
        ctl globex agreements approve "$id" >/dev/null
        ctl globex sync --peer acme --wait --timeout 60 >/dev/null
        ctl acme sync --peer globex --wait --timeout 60 >/dev/null
    fi
    id=$(ctl acme agreements list --party globex --json | sed -n 's/.*"id" : "\(.*\)".*/\1/p' | head -n 1)

    echo
    echo "=== The agreement as acme's node sees it ==="
    ctl acme agreements show "$id"
    echo
    echo "=== The same agreement as globex's node sees it ==="
    ctl globex agreements show "$id"
    echo
    echo "=== initech is not a party: its node holds nothing of it ==="
    ctl initech agreements list
    echo
    echo "=== Web consoles (for the people who own the agreements; each token opens one session, for an hour) ==="
    for org in "${ORGANISATIONS[@]}"; do
        local issued
        issued=$(ctl "$org" console-token)  # the address, then "token: …", then its validity
        printf '%-8s %s  %s\n' "$org" "$(sed -n 1p <<<"$issued")" "$(sed -n 2p <<<"$issued")"
    done
    echo "(another token: $BIN/accordctl console-token --socket $(socket acme))"
    cat <<USAGE

The cluster is up. Drive a node with accordctl through its admin socket, for example:
  export ACCORD_SOCKET=$(socket acme)
  $BIN/accordctl status
  $BIN/accordctl agreements list
  $BIN/accordctl agreements set $id title "A new title"          # approvals become stale
  $BIN/accordctl agreements note $id "Reviewed by legal"
  $BIN/accordctl --help
Other nodes: --socket $(socket globex), --socket $(socket initech).
Logs and data: $CLUSTER/<organisation>/. Stop with: deploy/local-cluster.sh down
USAGE
}

down() {
    for org in "${ORGANISATIONS[@]}"; do
        if running "$org"; then
            pid=$(cat "$CLUSTER/$org/accordd.pid")
            kill -TERM "$pid"
            for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            if kill -0 "$pid" 2>/dev/null; then echo "$org: did not stop in 10 s; sending SIGKILL"; kill -KILL "$pid"; else echo "$org: stopped"; fi
        fi
        rm -f "$CLUSTER/$org/accordd.pid"
    done
}

status() {
    for org in "${ORGANISATIONS[@]}"; do
        echo "=== $org ==="
        running "$org" && ctl "$org" status || echo "not running"
    done
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
clean) down; rm -rf "$CLUSTER"; echo "removed $CLUSTER" ;;
*) echo "usage: $0 up|status|down|clean" >&2; exit 64 ;;
esac
