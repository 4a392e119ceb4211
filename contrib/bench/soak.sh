#!/usr/bin/env bash
# The soak benchmark (issue 15): a script, not a test. SOAK_SESSIONS (100)
# concurrent SMTP sessions for SOAK_SECONDS (600) send messages of 10 KB to
# 1 MB (log-uniform) from A's users through A's Postfix + fedmail-milter
# (sealing) to B's Postfix + fedmail-milter (opening), one broker (SQLite),
# all real and on loopback (contrib/test/lib/federation.sh; A 127.0.0.140,
# B 127.0.0.145). Every 10 s it samples the resident memory (VmRSS) and open
# descriptors of both milters and of the broker, and the messages in both
# Postfix queues.
#
# At the end it waits for the queues to drain and reports:
#   - messages sent and accepted by A, delivered at B (each exactly once,
#     with B's fedmail=pass: contrib/test/lib/batch-count.py) — must be equal;
#   - throughput (messages and MB per second accepted);
#   - per daemon: RSS and fds in 2-minute windows under load (after a 60 s
#     warm-up) and once everything is done, with a verdict
#     (contrib/bench/soak-report.py: "flat" when the last window's median RSS
#     is within 15% of the first's, the fds within 20, and the RSS after the
#     load no higher than the first window's maximum).
# The samples are in $BASE/samples.csv (kept with KEEP=1).
#
# Usage (Debian 12, root):  bash contrib/bench/soak.sh
#   SOAK_SECONDS=600 SOAK_SESSIONS=100 SOAK_MIN_SIZE=10240 SOAK_MAX_SIZE=1048576
#   SOAK_TRIM=1 (with gdb) also prints each milter's RSS after malloc_trim(0)
#   FEDMAIL_BIN=DIR (default: a release build, swift build -c release)
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
[ "$(id -u)" = 0 ] || { echo "soak: needs root (private Postfix instances)"; exit 1; }
bash contrib/scripts/install-deps.sh >/dev/null || { echo "soak: installing dependencies failed"; exit 1; }
if [ -z "${FEDMAIL_BIN:-}" ]; then
    echo "soak: release build"
    swift build -c release 2>&1 | tail -n 3
    FEDMAIL_BIN=$(swift build -c release --show-bin-path)
fi
export FEDMAIL_BIN
SECONDS_TOTAL=${SOAK_SECONDS:-600}
SESSIONS=${SOAK_SESSIONS:-100}
LIB=$ROOT/contrib/test/lib
# shellcheck source=../test/lib/federation.sh
. contrib/test/lib/federation.sh
fed_suite soak || exit 1
die() { echo "soak: $*"; exit 1; }

fed_broker_start || die "broker did not start"
fed_org A 127.0.0.140 p256 a.example || die "organization A"
fed_org B 127.0.0.145 p256 b.example || die "organization B"
echo "b.example require" | fed_allowlist A
echo "a.example require" | fed_allowlist B
fed_milter_conf A "LogLevel notice"
fed_milter_conf B "LogLevel notice"
for o in A B; do pf_set "$o" "default_process_limit = $((SESSIONS + 20))" "smtpd_client_connection_count_limit = 0" \
    "smtpd_client_message_rate_limit = 0" "smtpd_client_connection_rate_limit = 0"; done
fed_route A B
fed_start B || die "B did not start"
fed_start A || die "A did not start"
B_INBOX=$(pf_maildir B inbox)

queue_count() { find "$(pf_dir "$1")/queue/"{incoming,active,deferred} -type f 2>/dev/null | wc -l; }
sample() { # sample PID -> "rss_kb fds"
    echo "$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0) $(ls "/proc/$1/fd" 2>/dev/null | wc -l)"
}

echo "soak: $SESSIONS sessions for $SECONDS_TOTAL s, ${SOAK_MIN_SIZE:-10240} to ${SOAK_MAX_SIZE:-1048576} bytes"
python3 contrib/bench/soak-load.py --server "$(fed_addr A):$(fed_port A)" --source "$(fed_client A)" \
    --sender alice@a.example --rcpt bob@b.example --sessions "$SESSIONS" --seconds "$SECONDS_TOTAL" \
    --min-size "${SOAK_MIN_SIZE:-10240}" --max-size "${SOAK_MAX_SIZE:-1048576}" --accepted "$BASE/accepted" \
    >"$BASE/load.log" 2>&1 &
LOAD=$!
echo "t,milterA_rss_kb,milterA_fds,milterB_rss_kb,milterB_fds,broker_rss_kb,broker_fds,queueA,queueB,deliveredB" >"$BASE/samples.csv"
START=$SECONDS
while kill -0 "$LOAD" 2>/dev/null || [ "$(queue_count A)" -gt 0 ] || [ "$(queue_count B)" -gt 0 ]; do
    t=$((SECONDS - START))
    # shellcheck disable=SC2086
    set -- $(sample "$FM_PID_A") $(sample "$FM_PID_B") $(sample "$FED_BROKER_PID")
    delivered=$(find "$B_INBOX/new" -type f 2>/dev/null | wc -l)
    echo "$t,$1,$2,$3,$4,$5,$6,$(queue_count A),$(queue_count B),$delivered" | tee -a "$BASE/samples.csv"
    kill -0 "$LOAD" 2>/dev/null || postqueue -c "$(pf_dir A)/etc" -f >/dev/null 2>&1
    [ "$t" -gt $((SECONDS_TOTAL + 900)) ] && { echo "soak: queues did not drain"; break; }
    sleep 10
done
# One more sample once everything is done and the milters had time to give
# back free memory (their heap trimmer runs every 30 s after messages).
sleep 40
# shellcheck disable=SC2086
set -- $(sample "$FM_PID_A") $(sample "$FM_PID_B") $(sample "$FED_BROKER_PID")
echo "$((SECONDS - START)),$1,$2,$3,$4,$5,$6,0,0,$(find "$B_INBOX/new" -type f | wc -l)" | tee -a "$BASE/samples.csv"
# With SOAK_TRIM=1 (needs gdb): B's RSS after asking glibc to give back its
# free memory (malloc_trim): what is left is memory really in use; what goes
# away was free memory the allocator kept, not a leak.
if [ "${SOAK_TRIM:-0}" = 1 ] && command -v gdb >/dev/null; then
    for o in A B; do
        var="FM_PID_$o"; before=$(sample "${!var}")
        gdb -p "${!var}" -batch -ex 'call (int) malloc_trim(0)' >/dev/null 2>&1
        echo "milter $o: RSS ${before% *} kB, after malloc_trim $(sample "${!var}" | cut -d' ' -f1) kB"
    done
fi
wait "$LOAD"
cat "$BASE/load.log"
count=$(python3 "$LIB/batch-count.py" --maildir "$B_INBOX" --tag soak --ids "$BASE/accepted" --verdict mx.B.test)
echo "$count"

python3 contrib/bench/soak-report.py "$BASE/samples.csv" "$SECONDS_TOTAL"
