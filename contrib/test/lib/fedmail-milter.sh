# Shell helpers to run fedmail-milter in tests. Source this file.
#
#   fm_bin                         path of the built fedmail-milter
#   fm_start NAME CONF [ARGS...]   start it in the foreground (-f) in the background,
#                                  stderr to $FM_DIR/NAME.log; waits for its socket;
#                                  sets FM_PID_<NAME>
#   fm_stop NAME                   SIGTERM and wait for exit (returns its exit status)
#   fm_fds PID / fm_rss PID / fm_hwm PID   open fds, VmRSS and VmHWM in kB
#   fm_cleanup                     stop every daemon started with fm_start
#
# FM_DIR must be set to the test's temporary directory.

fm_bin() {
    local bin=${FEDMAIL_BIN:-}
    if [ -z "$bin" ]; then bin=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && swift build --show-bin-path); fi
    echo "$bin/fedmail-milter"
}

FM_PIDS=()

# fm_socket_path CONF: the unix socket path of a config's Socket line.
fm_socket_path() {
    awk 'tolower($1) == "socket" { print $2 }' "$1" | sed -E 's/^(local|unix)://'
}

fm_start() {
    local name=$1 conf=$2; shift 2
    "$(fm_bin)" -f -c "$conf" "$@" 2>>"$FM_DIR/$name.log" &
    local pid=$!
    FM_PIDS+=("$pid")
    printf -v "FM_PID_${name//-/_}" '%s' "$pid"
    local sock; sock=$(fm_socket_path "$conf")
    for _ in $(seq 1 100); do
        if [ -S "$sock" ] && grep -q "listening on" "$FM_DIR/$name.log" 2>/dev/null; then return 0; fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "fedmail-milter $name exited at start:"; cat "$FM_DIR/$name.log"; return 1
        fi
        sleep 0.1
    done
    echo "fedmail-milter $name did not open $sock"; cat "$FM_DIR/$name.log"; return 1
}

fm_stop() {
    local name=$1 var="FM_PID_${1//-/_}"
    local pid=${!var}
    kill -TERM "$pid" 2>/dev/null || return 0
    local status=0
    wait "$pid" || status=$?
    return $status
}

fm_fds() { ls "/proc/$1/fd" | wc -l; }
fm_rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
fm_hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

fm_cleanup() {
    local pid
    for pid in "${FM_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${FM_PIDS[@]}"; do
        for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
}
