#!/usr/bin/env bash
# Milter-level tests of fedmail-milter against the real daemon on a unix
# socket: configuration checks, messages without federated recipients passed
# untouched (miltertest and a milter-protocol test driver), multi-chunk bodies, abort then a new message,
# connections dropped mid-message, refusal of an MTA lacking add-header,
# 1,000 sequential and 50 concurrent connections without fd or RSS growth,
# a 30 MB body under 64 MB RSS, reload (good and bad), graceful stop,
# stale and live sockets, UserID privilege drop.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
FM_DIR=$(mktemp -d /tmp/fedmail-t-milter.XXXXXX)
chmod 755 "$FM_DIR"
# shellcheck source=lib/fedmail-milter.sh
. contrib/test/lib/fedmail-milter.sh
BIN=$(fm_bin)
CLIENT="python3 $ROOT/contrib/test/milter/milterclient.py"
SOCK=$FM_DIR/milter.sock

cleanup() {
    fm_cleanup
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $FM_DIR"; else rm -rf "$FM_DIR"; fi
}
trap cleanup EXIT

# shellcheck source=lib/scenarios.sh
. contrib/test/lib/scenarios.sh
SUITE=t-milter
# Every step here builds on the one before: a failure stops the suite.
dump_logs() { for f in "$FM_DIR"/*.log; do [ -e "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done; }
DIE_HOOK=dump_logs

[ -x "$BIN" ] || die "fedmail-milter not built at $BIN"

# ---------------------------------------------------------------- command line
"$BIN" -V | grep >/dev/null -x "fedmail-milter 0.1.0" || die "-V"
"$BIN" --help | grep >/dev/null "SIGUSR1" || die "--help lacks the signals section"
set +e; "$BIN" -x >/dev/null 2>&1; rc=$?; set -e
[ $rc -eq 64 ] || die "unknown option should exit 64 (EX_USAGE), got $rc"
pass "command line: -V, --help, unknown option exits 64"

# ---------------------------------------------------------------- config check
check_bad() { # check_bad EXPECTED-MESSAGE EXPECTED-STATUS <<config
    local expected=$1 status=$2 conf=$FM_DIR/bad.conf out rc
    cat >"$conf"
    set +e; out=$("$BIN" -n -c "$conf" 2>&1); rc=$?; set -e
    [ $rc -eq "$status" ] || die "-n on bad config: expected status $status, got $rc ($out)"
    [[ $out == *"$expected"* ]] || die "-n message: expected '$expected', got '$out'"
}
check_bad "bad.conf:3: unknown name 'Sokket'" 78 <<'C'
# comment
Socket local:/tmp/x.sock
Sokket local:/tmp/y.sock
C
check_bad "bad.conf:1: 'Socket': 'inet:70000@127.0.0.1': the port must be a number from 1 to 65535" 78 <<'C'
Socket inet:70000@127.0.0.1
C
check_bad "bad.conf:2: 'UMask' must be an octal mask" 78 <<'C'
Socket local:/tmp/x.sock
UMask 0999
C
check_bad "bad.conf: 'Socket' is required" 78 <<'C'
LogLevel debug
C
check_bad "bad.conf:2: 'socket' is already set on line 1" 78 <<'C'
Socket local:/tmp/x.sock
socket inet:8891@127.0.0.1
C
check_bad "bad.conf:2: 'UserID': no such user 'no-such-user-fm'" 78 <<'C'
Socket local:/tmp/x.sock
UserID no-such-user-fm
C
set +e; out=$("$BIN" -n -c "$FM_DIR/missing.conf" 2>&1); rc=$?; set -e
[ $rc -eq 66 ] && [[ $out == *"missing.conf: cannot read"* ]] || die "missing config: status $rc, '$out'"
cat >"$FM_DIR/good.conf" <<C
# fedmail-milter test configuration
Socket      local:$SOCK
PidFile     $FM_DIR/milter.pid
UMask       007
Syslog      no
LogLevel    info
TemporaryDirectory $FM_DIR
BodySpoolThreshold 1m
Domains     example.net
C
"$BIN" -n -c "$FM_DIR/good.conf" | grep >/dev/null "configuration OK" || die "-n on a good config"
pass "config check: line-numbered errors for unknown name, bad socket, bad umask, missing Socket, duplicate, unknown user; exit 66 for a missing file"

# ---------------------------------------------------------------- start
fm_start main "$FM_DIR/good.conf"
PID=$FM_PID_main
[ "$(cat "$FM_DIR/milter.pid")" = "$PID" ] || die "pid file does not hold $PID"
mode=$(stat -c %A "$SOCK")
[ "$mode" = "srwxrwx---" ] || die "socket mode $mode, expected srwxrwx--- with UMask 007"
spool=$(ls -d "$FM_DIR"/fedmail-milter.* 2>/dev/null | head -n1)
[ -n "$spool" ] && [ "$(stat -c %a "$spool")" = "700" ] || die "private spool directory missing or not 0700"
pass "daemon started: pid file, socket mode from UMask, private spool directory 0700"

# ---------------------------------------------------------------- behavior
miltertest -D socket="unix:$SOCK" -s contrib/test/milter/header-abort.lua || die "miltertest header-abort.lua"
pass "miltertest: untouched without federated recipients; three-chunk body; abort then new message on one connection; a plain message accepted at end of headers"

$CLIENT "$SOCK" message --body-size 500000 --chunk 65535 || die "multi-chunk message"
$CLIENT "$SOCK" abort || die "abort then new messages"
$CLIENT "$SOCK" early || die "plain messages accepted at end of headers"
$CLIENT "$SOCK" refuse || die "MTA without add-header must be refused"
$CLIENT "$SOCK" drop --count 20 --body-size 1500000 || die "dropped connections"
sleep 0.5
kill -0 "$PID" || die "daemon died"
# Work files are emptied and kept for reuse (RecycledTemporaryFiles): none
# may keep a byte of a message, and at most 64 per kind are kept.
left=$(find "$spool" -type f -size +0 | wc -l)
[ "$left" -eq 0 ] || die "$left spool file(s) with content left after connections dropped mid-message"
kept=$(find "$spool" -type f | wc -l)
[ "$kept" -le 64 ] || die "$kept emptied spool files kept (at most 64 per kind expected)"
grep -q "refusing the MTA at negotiation: the MTA does not offer the milter actions add-headers" "$FM_DIR/main.log" \
    || die "no log line for the refused MTA"
grep -qE "^fedmail-milter\[$PID\]: info: QMSG0: from=<sender@example.org> rcpts=2 headers=5 body=500000 spooled=no: direction=[a-z]+ decision=untouched" "$FM_DIR/main.log" \
    || die "no queue-id-prefixed log line for the message"
pass "driver: a 500 KB multi-chunk body passed untouched, abort then two messages, refusal logged, 20 drops mid-body leave no spool file with content (emptied work files are kept for reuse), log lines prefixed by queue id"

# ---------------------------------------------------------------- load: fds and RSS
$CLIENT "$SOCK" sequential --count 100 >/dev/null || die "warm-up"
$CLIENT "$SOCK" concurrent --count 50 >/dev/null || die "warm-up concurrent"
fd0=$(fm_fds "$PID"); rss0=$(fm_rss "$PID")
$CLIENT "$SOCK" sequential --count 1000 || die "1000 sequential connections"
fd1=$(fm_fds "$PID"); rss1=$(fm_rss "$PID")
$CLIENT "$SOCK" concurrent --count 50 --rounds 4 || die "50 concurrent connections"
fd2=$(fm_fds "$PID"); rss2=$(fm_rss "$PID")
for _ in 1 2 3; do $CLIENT "$SOCK" concurrent --count 50 --rounds 4 >/dev/null || die "50 concurrent connections (repeat)"; done
fd3=$(fm_fds "$PID"); rss3=$(fm_rss "$PID")
echo "figures: open fds $fd0 -> $fd1 (1000 sequential) -> $fd2 (50 concurrent) -> $fd3 (3 x 50 concurrent more)"
echo "figures: RSS kB $rss0 -> $rss1 (1000 sequential) -> $rss2 (50 concurrent) -> $rss3 (3 x 50 concurrent more)"
[ "$fd1" -eq "$fd0" ] && [ "$fd2" -eq "$fd0" ] && [ "$fd3" -eq "$fd0" ] || die "open fds grew: $fd0 $fd1 $fd2 $fd3"
[ $((rss1 - rss0)) -lt 2048 ] || die "RSS grew by $((rss1 - rss0)) kB over 1000 sequential connections"
[ $((rss3 - rss2)) -lt 1024 ] || die "RSS grew by $((rss3 - rss2)) kB over 150 more concurrent connections"
pass "1000 sequential and 50 concurrent connections: no fd growth, RSS growth below 2 MB / 1 MB"

# ---------------------------------------------------------------- reload
sed -i 's/^LogLevel .*/LogLevel debug/' "$FM_DIR/good.conf"
$CLIENT "$SOCK" inflight --pid "$PID" --signal USR1 --wait 1 || die "message in flight across a reload"
grep -q "configuration reloaded from $FM_DIR/good.conf" "$FM_DIR/main.log" || die "no reload log line"
$CLIENT "$SOCK" message >/dev/null || die "message after reload"
grep -q "debug: NOQUEUE: connect from client.example" "$FM_DIR/main.log" || die "LogLevel debug not in force after reload"
cp "$FM_DIR/good.conf" "$FM_DIR/good.conf.ok"
echo "LogLevel chatty" >>"$FM_DIR/good.conf"
kill -USR1 "$PID"; sleep 0.5
grep -q "reload refused, keeping the configuration in force: $FM_DIR/good.conf:10: 'LogLevel' is already set on line 6" "$FM_DIR/main.log" \
    || die "bad config on reload not refused with its line"
$CLIENT "$SOCK" message >/dev/null || die "message after a refused reload"
cp "$FM_DIR/good.conf.ok" "$FM_DIR/good.conf"
pass "SIGUSR1: reload applied (LogLevel), in-flight message completed, bad config refused with file:line and old one kept"

# ---------------------------------------------------------------- live and stale sockets
set +e; "$BIN" -f -c "$FM_DIR/good.conf" 2>"$FM_DIR/second.log"; rc=$?; set -e
[ $rc -eq 69 ] || die "a second daemon on a live socket should exit 69 (EX_UNAVAILABLE), got $rc"
grep -q "another process is listening on $SOCK" "$FM_DIR/second.log" || die "second daemon's message"
$CLIENT "$SOCK" message >/dev/null || die "first daemon disturbed by the second"
pass "a second daemon refuses a live socket (exit 69); the first keeps serving"

# ---------------------------------------------------------------- graceful stop
$CLIENT "$SOCK" inflight --pid "$PID" --signal TERM --wait 1 || die "message in flight across SIGTERM"
status=0; wait "$PID" || status=$?
[ $status -eq 0 ] || die "SIGTERM exit status $status"
[ ! -e "$FM_DIR/milter.pid" ] || die "pid file left after stop"
[ ! -e "$SOCK" ] || die "socket left after stop"
[ ! -e "$spool" ] || die "spool directory left after stop"
pass "SIGTERM: in-flight message completed, exit 0, pid file, socket and spool removed"

# ---------------------------------------------------------------- stale socket, 30 MB body
fm_start stale "$FM_DIR/good.conf"
kill -KILL "$FM_PID_stale"; wait "$FM_PID_stale" 2>/dev/null || true
[ -S "$SOCK" ] || die "socket should be left behind by SIGKILL"
stale_spool=$(ls -d "$FM_DIR/fedmail-milter.$FM_PID_stale".* 2>/dev/null || true)
[ -n "$stale_spool" ] || die "the killed daemon should have left its spool directory"
fm_start big "$FM_DIR/good.conf" || die "start over a stale socket"
PID=$FM_PID_big
[ ! -e "$stale_spool" ] || die "spool directory $stale_spool of the killed daemon not removed at start"
grep -q "removed the spool directory $stale_spool left by a daemon that died" "$FM_DIR/big.log" || die "stale spool removal not logged"
$CLIENT "$SOCK" message --body-size $((30 * 1024 * 1024)) --chunk 65535 || die "30 MB body"
hwm=$(fm_hwm "$PID")
echo "figures: 30 MB body: daemon peak RSS (VmHWM) $hwm kB"
[ "$hwm" -lt 65536 ] || die "peak RSS $hwm kB over 64 MB for a 30 MB body"
grep -q "QMSG0: .* body=31457280 spooled=yes: direction=.* decision=untouched" "$FM_DIR/big.log" || die "30 MB body not spooled"
fm_stop big || die "stop after 30 MB"
pass "stale socket and stale spool directory removed at start; 30 MB body spooled, peak RSS $hwm kB < 64 MB"

# ---------------------------------------------------------------- UserID
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
    sed -e "s|^PidFile .*|PidFile $FM_DIR/milter.pid|" "$FM_DIR/good.conf" >"$FM_DIR/user.conf"
    echo "UserID nobody:nogroup" >>"$FM_DIR/user.conf"
    fm_start user "$FM_DIR/user.conf"
    uid=$(awk '/^Uid:/ { print $2 "," $3 "," $4 "," $5 }' "/proc/$FM_PID_user/status")
    [ "$uid" = "$(id -u nobody),$(id -u nobody),$(id -u nobody),$(id -u nobody)" ] || die "UserID: uids are $uid"
    [ "$(stat -c %U "$SOCK")" = nobody ] || die "socket not handed to nobody"
    [ "$(stat -c %U "$FM_DIR/milter.pid")" = root ] || die "pid file should be written before the drop"
    $CLIENT "$SOCK" message --body-size 2000000 >/dev/null || die "message as nobody (spooled body)"
    pass "UserID nobody:nogroup: privileges dropped after socket and pid file, socket owned by nobody, spooling works"
    # Failure injection: the unprivileged daemon can no longer write its spool
    # directory (as with a full disk): On-InternalError tempfail must answer
    # 4xx, log the error under the queue id, and keep serving.
    userspool=$(find "$FM_DIR" -maxdepth 1 -name 'fedmail-milter.*' -user nobody | head -n1)
    [ -n "$userspool" ] || die "no spool directory owned by nobody"
    # (Its emptied work files, kept for reuse, become unwritable too.)
    chmod 500 "$userspool"
    find "$userspool" -type f -exec chmod 400 {} +
    $CLIENT "$SOCK" tempfail --body-size 3000000 || die "unspoolable body not tempfailed"
    chmod 700 "$userspool"
    grep -q "error: QFAIL: internal error at body: creating body spool in $userspool: Permission denied .*; answering tempfail" "$FM_DIR/user.log" \
        || die "no error log line for the spool failure"
    $CLIENT "$SOCK" message --body-size 2000000 >/dev/null || die "message after the spool failure"
    fm_stop user || die "stop as nobody"
    pass "spool failure (directory unwritable): tempfail with a logged error, daemon keeps serving"
fi
summary t-milter
