#!/usr/bin/env bash
# Benchmark (not a test): federation tokens per second and p50/p99 latency of
# POST /v1/tokens for single-domain and 20-domain batch requests, with the
# broker on SQLite and on a private PostgreSQL, on this machine.
#
# Usage: bash contrib/bench/broker.sh [SECONDS] [CONNECTIONS]
#   Uses release binaries if built (swift build -c release), else debug:
#   FEDMAIL_BIN=... to choose.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SECONDS_PER_RUN=${1:-10}
CONNECTIONS=${2:-4}
if [ -z "${FEDMAIL_BIN:-}" ]; then
    if [ -x .build/release/fedmail-broker ] && [ -x .build/release/fedmailctl ]; then
        FEDMAIL_BIN=$ROOT/.build/release
    else
        FEDMAIL_BIN=$(swift build --show-bin-path)
    fi
fi
export FEDMAIL_BIN
CTL="$FEDMAIL_BIN/fedmailctl"
BROKER="$FEDMAIL_BIN/fedmail-broker"
source "$ROOT/contrib/test/lib/broker.sh"
source "$ROOT/contrib/test/lib/postgres.sh"

WORK=$(mktemp -d /tmp/fedmail-bench-broker.XXXXXX)
chmod 755 "$WORK"
trap 'broker_stop_all; pg_private_stop; rm -rf "$WORK"' EXIT

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/sender.key" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$WORK/recipient.key" 2>/dev/null
chmod 600 "$WORK"/*.key
RECIPIENT_DOMAINS=$(seq -f 'r%g.example' 1 20 | tr '\n' ' ')

setup() { # setup LABEL DATABASE -> enrolls sender and recipient (20 domains), sets URL
    local label=$1 database=$2 dir=$WORK/$1
    mkdir -p "$dir"
    BROKER_LOG_LEVEL=warning broker_config "$dir/broker.conf" "$dir/state" "$database"
    "$BROKER" -c "$dir/broker.conf" init >/dev/null
    broker_start "$label" "$dir/broker.conf"
    local url_var="BROKER_URL_$label"
    URL=${!url_var}
    for org in sender recipient; do
        local domains="$org.example"
        [ "$org" = recipient ] && domains=$RECIPIENT_DOMAINS
        # shellcheck disable=SC2086
        id=$("$CTL" enroll --broker "$URL" --ca "$dir/state/ca.crt" --key "$WORK/$org.key" --org "$org" --domain $domains \
            | sed -n 's/^enrollment \([0-9a-f]*\) submitted.*/\1/p')
        "$BROKER" -c "$dir/broker.conf" org approve --skip-dns-validation "$id" >/dev/null
        "$CTL" enroll --broker "$URL" --ca "$dir/state/ca.crt" --key "$WORK/$org.key" --org "$org" --id "$id" --cert "$dir/$org.crt" >/dev/null
    done
    DIR=$dir
}

run() { # run LABEL
    local label=$1
    echo "-- $label: 1 domain per request"
    python3 "$ROOT/contrib/bench/broker-load.py" "$URL" "$DIR/state/ca.crt" "$DIR/sender.crt" "$WORK/sender.key" \
        "$SECONDS_PER_RUN" "$CONNECTIONS" r1.example
    echo "-- $label: 20 domains per request"
    python3 "$ROOT/contrib/bench/broker-load.py" "$URL" "$DIR/state/ca.crt" "$DIR/sender.crt" "$WORK/sender.key" \
        "$SECONDS_PER_RUN" "$CONNECTIONS" "$(tr ' ' ',' <<<"${RECIPIENT_DOMAINS% }")"
}

echo "fedmail broker benchmark: $(nproc) cores, $SECONDS_PER_RUN s per run, $CONNECTIONS keep-alive connections, binaries $FEDMAIL_BIN"
setup sqlite "sqlite:$WORK/sqlite/state/broker.db"
run sqlite
broker_stop_all

pg_private_start "$WORK/pg"
setup postgres "$(pg_private_createdb bench)"
run postgres
