#!/usr/bin/env bash
# Benchmark (not a test): does a flood of unauthenticated enrollments delay
# token lookups? The broker on SQLite; one organization pair enrolled; then
# p50/p99 latency of POST /v1/tokens (mutual TLS, one keep-alive connection,
# sequential requests) measured three times for SECONDS each:
#   1. idle broker (baseline);
#   2. while CLIENTS concurrent clients flood POST /v1/enrollments, with the
#      default abuse limits (EnrollmentRateLimit, pending quotas: the flood
#      mostly gets 429);
#   3. the same flood against a broker with the limits off
#      (EnrollmentRateLimit off, MaxPending* 0: every enrollment is written).
#
# Usage: bash contrib/bench/enroll-flood.sh [SECONDS] [CLIENTS]   (default 15 s, 200 clients)
#   Uses release binaries if built (swift build -c release), else debug:
#   FEDMAIL_BIN=... to choose.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SECONDS_PER_RUN=${1:-15}
CLIENTS=${2:-200}
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

WORK=$(mktemp -d /tmp/fedmail-bench-flood.XXXXXX)
chmod 755 "$WORK"
trap 'broker_stop_all; rm -rf "$WORK"' EXIT

for k in sender recipient flood; do
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/$k.key" 2>/dev/null
done
chmod 600 "$WORK"/*.key
openssl req -new -key "$WORK/flood.key" -subj "/O=flood/CN=flood" -out "$WORK/flood.csr" 2>/dev/null

setup() { # setup LABEL [EXTRA CONFIG LINES] -> broker with sender and recipient enrolled; sets URL DIR
    local label=$1 extra=${2:-} dir=$WORK/$1
    mkdir -p "$dir"
    BROKER_LOG_LEVEL=warning broker_config "$dir/broker.conf" "$dir/state" "sqlite:$dir/state/broker.db"
    [ -n "$extra" ] && printf '%s\n' "$extra" >>"$dir/broker.conf"
    "$BROKER" -c "$dir/broker.conf" init >/dev/null
    broker_start "$label" "$dir/broker.conf"
    local url_var="BROKER_URL_$label"
    URL=${!url_var}
    for org in sender recipient; do
        id=$("$CTL" enroll --broker "$URL" --ca "$dir/state/ca.crt" --key "$WORK/$org.key" --org "$org" --domain "$org.example" \
            | sed -n 's/^enrollment \([0-9a-f]*\) submitted.*/\1/p')
        "$BROKER" -c "$dir/broker.conf" org approve --skip-dns-validation "$id" >/dev/null
        "$CTL" enroll --broker "$URL" --ca "$dir/state/ca.crt" --key "$WORK/$org.key" --org "$org" --id "$id" --cert "$dir/$org.crt" >/dev/null
    done
    DIR=$dir
}

lookups() { # lookups -> JSON line of broker-load.py (1 connection, 1 domain)
    python3 "$ROOT/contrib/bench/broker-load.py" "$URL" "$DIR/state/ca.crt" "$DIR/sender.crt" "$WORK/sender.key" \
        "$SECONDS_PER_RUN" 1 recipient.example
}

flooded() { # flooded -> lookups while the flood runs; prints both lines
    python3 "$ROOT/contrib/bench/enroll-flood.py" "$URL" "$DIR/state/ca.crt" "$WORK/flood.csr" "$((SECONDS_PER_RUN + 2))" "$CLIENTS" \
        >"$WORK/flood.json" &
    local flood=$!
    sleep 2  # let the flood ramp up
    echo "lookups: $(lookups)"
    wait "$flood"
    echo "flood:   $(cat "$WORK/flood.json")"
    echo "pending enrollments stored: $(sqlite3 "$DIR/state/broker.db" "SELECT COUNT(*) FROM enrollments WHERE status='pending'" 2>/dev/null || echo '?')"
}

echo "fedmail enrollment-flood benchmark: $(nproc) cores, $SECONDS_PER_RUN s per run, $CLIENTS flooding clients, binaries $FEDMAIL_BIN"
setup limited
echo "-- 1. idle broker"
echo "lookups: $(lookups)"
echo "-- 2. flood, default limits (EnrollmentRateLimit 30/h, MaxPendingPerSource 20, MaxPendingEnrollments 1000)"
flooded
broker_stop_all
setup unlimited "EnrollmentRateLimit off
MaxPendingEnrollments 0
MaxPendingPerSource 0"
echo "-- 3. flood, limits off"
flooded
