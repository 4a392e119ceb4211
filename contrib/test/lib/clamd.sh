# Shell helpers: a PRIVATE clamd (Debian clamav-daemon) in a temporary
# directory, with its own config file, a unix socket and a loopback TCP
# port, and a signature database the helper writes itself. It never uses
# the system clamd, /var/lib/clamav or freshclam, and touches no network:
# the official databases are not needed.
#
#   clamd_private_start DIR [STREAM_MAX]  # writes the DB + config, starts clamd in the
#                                          # foreground (background job), waits for it; sets
#                                          # CLAMD_DIR CLAMD_SOCKET CLAMD_PORT CLAMD_UNIX
#                                          # (unix:/path) CLAMD_INET (inet:PORT@127.0.0.1)
#                                          # CLAMD_LOG CLAMD_PID CLAMD_SIGNATURE
#   clamd_private_stop                     # stop it (only the process started here)
#   clamd_private_restart                  # start the stopped clamd of $CLAMD_DIR again,
#                                          # same config, sockets and log; sets CLAMD_PID
#   clamd_scan_count                       # verdicts clamd has logged so far (INSTREAM scans)
#   clamd_test_marker                      # the byte string the test signature matches
#
# The test signature (an .ndb body signature, target "any file") matches
# the marker wherever it appears in a scanned file — also inside a
# base64-encoded MIME attachment, which clamd decodes before matching.
# clamd names a detection from a non-official database with the suffix
# .UNOFFICIAL, so verdicts say "$CLAMD_SIGNATURE".

CLAMD_BIN=${CLAMD_BIN:-/usr/sbin/clamd}

# The marker is assembled at run time so no file in the tree matches it.
clamd_test_marker() {
    printf '%s-%s-%s' "FEDMAIL" "TEST-VIRUS" "7f3c9e1a"
}

clamd_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

clamd_private_start() {
    CLAMD_DIR=$1
    local stream_max=${2:-25M}
    [ -x "$CLAMD_BIN" ] || { echo "clamd.sh: $CLAMD_BIN missing (install clamav-daemon)" >&2; return 1; }
    mkdir -p "$CLAMD_DIR/db" "$CLAMD_DIR/tmp"
    chmod 700 "$CLAMD_DIR"
    local hex
    hex=$(clamd_test_marker | od -An -tx1 -v | tr -d ' \n')
    printf 'FedMail.Test.Marker:0:*:%s\n' "$hex" >"$CLAMD_DIR/db/fedmail-test.ndb"
    CLAMD_SIGNATURE="FedMail.Test.Marker.UNOFFICIAL"
    CLAMD_SOCKET="$CLAMD_DIR/clamd.sock"
    CLAMD_PORT=$(clamd_free_port)
    CLAMD_LOG="$CLAMD_DIR/clamd.log"
    cat >"$CLAMD_DIR/clamd.conf" <<CONF
# Private clamd for FedMail tests (contrib/test/lib/clamd.sh).
LocalSocket $CLAMD_SOCKET
LocalSocketMode 660
FixStaleSocket yes
TCPSocket $CLAMD_PORT
TCPAddr 127.0.0.1
Foreground yes
PidFile $CLAMD_DIR/clamd.pid
TemporaryDirectory $CLAMD_DIR/tmp
DatabaseDirectory $CLAMD_DIR/db
OfficialDatabaseOnly no
Bytecode no
SelfCheck 0
LogFile $CLAMD_LOG
LogFileMaxSize 0
LogTime yes
LogClean yes
LogVerbose no
StreamMaxLength $stream_max
MaxThreads 4
ReadTimeout 30
CommandReadTimeout 10
ScanMail yes
CONF
    "$CLAMD_BIN" --config-file="$CLAMD_DIR/clamd.conf" >"$CLAMD_DIR/clamd.out" 2>&1 &
    CLAMD_PID=$!
    export CLAMD_DIR CLAMD_SOCKET CLAMD_PORT CLAMD_LOG CLAMD_PID CLAMD_SIGNATURE
    CLAMD_UNIX="unix:$CLAMD_SOCKET"
    CLAMD_INET="inet:$CLAMD_PORT@127.0.0.1"
    export CLAMD_UNIX CLAMD_INET
    clamd_private_wait
}

clamd_private_restart() {
    [ -n "${CLAMD_DIR:-}" ] && [ -f "$CLAMD_DIR/clamd.conf" ] || { echo "clamd.sh: no private clamd to restart" >&2; return 1; }
    "$CLAMD_BIN" --config-file="$CLAMD_DIR/clamd.conf" >>"$CLAMD_DIR/clamd.out" 2>&1 &
    CLAMD_PID=$!
    export CLAMD_PID
    clamd_private_wait
}

# Waits until the clamd of $CLAMD_PID listens on both sockets.
clamd_private_wait() {
    local i
    for i in $(seq 1 120); do
        if [ -S "$CLAMD_SOCKET" ] && ss -ltnH "sport = :$CLAMD_PORT" 2>/dev/null | grep >/dev/null .; then
            return 0
        fi
        kill -0 "$CLAMD_PID" 2>/dev/null || break
        sleep 0.5
    done
    echo "clamd.sh: clamd did not start; its output:" >&2
    tail -n 20 "$CLAMD_DIR/clamd.out" >&2
    clamd_private_stop
    return 1
}

clamd_private_stop() {
    [ -n "${CLAMD_PID:-}" ] || return 0
    if kill -0 "$CLAMD_PID" 2>/dev/null; then
        kill -TERM "$CLAMD_PID" 2>/dev/null
        local i
        for i in $(seq 1 40); do kill -0 "$CLAMD_PID" 2>/dev/null || break; sleep 0.25; done
        kill -KILL "$CLAMD_PID" 2>/dev/null || true
    fi
    wait "$CLAMD_PID" 2>/dev/null || true
    CLAMD_PID=
}

# Number of scan verdicts clamd has logged (LogClean yes logs clean ones too):
# lines like "instream(local): OK" or "instream(127.0.0.1@40000): Sig FOUND".
clamd_scan_count() {
    [ -f "$CLAMD_LOG" ] || { echo 0; return; }
    grep -cE 'instream\(.*\): (OK|.* FOUND)$' "$CLAMD_LOG" || true
}
