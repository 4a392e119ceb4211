# Shell helpers to run a real fedmail-broker on loopback for tests and benchmarks.
#
#   broker_config FILE STATEDIR DATABASE   # writes a config
#   broker_start NAME CONFIG               # starts `serve` on a free port; sets BROKER_URL_<NAME>, BROKER_PID_<NAME>
#   broker_stop_all

BROKER_PIDS=()

broker_config() {
    local file=$1 state=$2 database=$3
    mkdir -p "$state"
    cat >"$file" <<CONF
# test broker
Listen          127.0.0.1:0
StateDir        $state
Database        $database
ServerName      localhost, 127.0.0.1
BrokerName      FedMail Test Broker
KeyContainerLifetime 24h
TokenLifetime   1h
LogLevel        ${BROKER_LOG_LEVEL:-notice}
CONF
}

broker_start() {
    local name=$1 config=$2 workdir
    workdir=$(dirname "$config")
    rm -f "$workdir/$name.port"
    "$FEDMAIL_BIN/fedmail-broker" -c "$config" serve --listen 127.0.0.1:0 --port-file "$workdir/$name.port" \
        >>"$workdir/$name.log" 2>&1 &
    local pid=$!
    BROKER_PIDS+=("$pid")
    for _ in $(seq 1 200); do
        [ -s "$workdir/$name.port" ] && break
        kill -0 "$pid" 2>/dev/null || { echo "broker $name died:"; cat "$workdir/$name.log"; return 1; }
        sleep 0.1
    done
    [ -s "$workdir/$name.port" ] || { echo "broker $name did not start:"; cat "$workdir/$name.log"; return 1; }
    local port
    port=$(tr -d '\n' <"$workdir/$name.port")
    printf -v "BROKER_URL_$name" '%s' "https://127.0.0.1:$port"
    printf -v "BROKER_PID_$name" '%s' "$pid"
}

broker_stop_all() {
    local pid
    for pid in "${BROKER_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${BROKER_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    BROKER_PIDS=()
}
