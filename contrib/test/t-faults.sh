#!/usr/bin/env bash
# The fault matrix (issue 15): no mail lost, none duplicated, none delivered
# unverified, none on the wire unsealed, while the parts FedMail depends on
# break. Real parts throughout: one broker on a real PostgreSQL, two real
# Postfix gateways with their fedmail-milters, a real clamd, a wiretap on
# the A->B connection (contrib/test/lib/federation.sh, clamd.sh, postgres.sh):
#
#   A 127.0.0.110  a.example; seals for b*.example (require); ClamdSocket
#                  scans every original before sealing; a re-injection smtpd
#                  for split messages; TemporaryDirectory on a 32 MB tmpfs
#   B 127.0.0.120  b.example and b1..b11.example (fresh domains, so a broker
#                  fault meets a cache miss); a.example require; scans after
#                  opening with the same clamd
#   Broker tokens and key containers live 1 minute (FED_TOKEN_LIFETIME), so
#   lookups happen all through the run.
#
# For each fault a counted batch (contrib/test/lib/batch.py: FAULT_COUNT
# messages, default 50, with unique ids over 5 concurrent SMTP sessions of 5
# messages each, retried like a real client after a 4xx or a dropped
# connection) is sent into A while the fault happens; then the fault is
# cleared, the queues flushed, and the batch counted at the recipient
# (contrib/test/lib/batch-count.py): every message delivered exactly once,
# with B's "fedmail=pass", and none recorded in plaintext by the wiretap.
# Each fault also shows it really happened (milters killed, reloads logged,
# tempfails seen by the client, ...).
#
#   kill-sender     A's milter SIGKILLed every 1-2 s mid-batch and restarted
#   kill-sender-split
#                   A's milter likewise, during a batch to mixed recipients
#                   (bob@b11.example sealed and re-injected, carol@a.example
#                   plain): a milter killed while it waits for the
#                   re-injection's reply leaves its sealed copy kept, the
#                   retry re-sends that seal, and B delivers it once
#   kill-receiver   B's milter likewise (A queues, retries)
#   kill-sender-sendmail
#                   the same at S (127.0.0.130, s.example), a gateway whose MTA
#                   is a real Sendmail (INPUT_MAIL_FILTER F=T of
#                   contrib/sendmail/fedmail.mc): it must tempfail, not pass
#                   the message on unsealed, while its milter is gone
#   reload          SIGUSR1 to both milters every 300 ms
#   broker-stopped  the broker stopped for 8 s (fresh domain: lookups fail)
#   broker-hung     the broker accepts TCP and never answers for 8 s (test
#                   double: contrib/test/lib/fault-proxy.py between milters and broker)
#   broker-slow     every broker answer 3 s late (BrokerTimeout is 2 s) for 8 s
#   broker-pg       PostgreSQL restarted under the running broker (the
#                   batch's first lookups meet it), then the broker restarted
#   clamd-stopped   the real clamd stopped for 6 s
#   clamd-hung      clamd accepts and never answers for 8 s (fault-proxy)
#   spool-full      A's TemporaryDirectory full (a file fills the tmpfs) for 6 s
#   reinject-down   A's re-injection smtpd removed for 8 s during a batch to
#                   mixed recipients (bob@b5.example sealed, carol@a.example plain)
#   reinject-lost-reply
#                   the re-injection service's reply to the end of data lost
#                   after it queued the sealed copy (RFC 1047; test double:
#                   contrib/test/lib/lost-reply-proxy.py in front of A's real
#                   re-injection smtpd, once per message): A tempfails and
#                   keeps the sealed copy, the client retries, A re-sends the
#                   same seal, and B's replay cache delivers it once
#   partner-down    B's Postfix stopped; A queues the sealed batch; B returns
#                   after the tokens expired (75 s) and opens it all (token
#                   validity is judged at signingTime, within MaxMessageAge)
#   split-retry     exactly-once splitting: a second milter after FedMail at A
#                   (test double tempfail-once-milter.py) tempfails the first
#                   attempt of every message at end of message; the client
#                   retries; each recipient gets exactly one copy; the sealed
#                   recipient's NOTIFY=SUCCESS brings exactly one success DSN
#                   back (ENVID, ORCPT kept); a UTF-8 envelope sender
#                   (SMTPUTF8) is split and delivered too
#
# Prints one "fault NAME: sent=... delivered=... duplicated=... unsealed=..."
# line per fault. ONLY="reload broker-hung" runs some; FAULT_COUNT=N sizes
# the batches; KEEP=1 keeps the work directory.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SUITE=t-faults
[ "$(id -u)" = 0 ] || { echo "t-faults: needs root (private Postfix instances, tmpfs)"; exit 1; }
[ -x /usr/sbin/clamd ] || { echo "t-faults: clamd missing (contrib/scripts/install-deps.sh installs clamav-daemon)"; exit 1; }
/usr/bin/python3 -c 'import Milter' 2>/dev/null || { echo "t-faults: python3-milter missing (contrib/scripts/install-deps.sh installs it)"; exit 1; }
# shellcheck source=lib/federation.sh
. contrib/test/lib/federation.sh
# shellcheck source=lib/clamd.sh
. contrib/test/lib/clamd.sh
# shellcheck source=lib/postgres.sh
. contrib/test/lib/postgres.sh
LIB=$ROOT/contrib/test/lib
PROXY_PIDS=()
SPOOL_MOUNT=
fed_suite_cleanup() {
    local pid
    for pid in "${PROXY_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -n "${ONCE_PID:-}" ] && kill "$ONCE_PID" 2>/dev/null
    clamd_private_stop
    [ -n "$SPOOL_MOUNT" ] && umount -l "$SPOOL_MOUNT" 2>/dev/null
    pg_private_stop
}
fed_suite faults || exit 1
. contrib/test/lib/scenarios.sh
DIE_HOOK=show_logs
show_logs() { for o in A B; do echo "--- milter $o"; tail -n 15 "$(fed_milter_log "$o")" 2>/dev/null; done; echo "--- broker"; tail -n 10 "$FED_BASE/broker/broker.log"; }
for tool in python3 curl openssl postconf postqueue mount; do command -v "$tool" >/dev/null || die "$tool missing"; done

N=${FAULT_COUNT:-50}
REPORT=$BASE/report; : >"$REPORT"
ELAPSED_START=$(date +%s)

# ------------------------------------------------------------------ set-up
echo "== setup"
pg_private_start "$BASE/pg" || die "PostgreSQL did not start"
FED_BROKER_DATABASE=$(pg_private_createdb broker) || die "createdb failed"
export FED_BROKER_DATABASE
FED_TOKEN_LIFETIME=1m
export FED_TOKEN_LIFETIME
fed_broker_start || die "broker did not start"
clamd_private_start "$BASE/clamd" || die "clamd did not start"

B_DOMAINS="b.example b1.example b2.example b3.example b4.example b5.example b6.example b7.example b8.example b9.example b10.example b11.example"
# shellcheck disable=SC2086
fed_org A 127.0.0.110 p256 a.example || die "organization A"
# shellcheck disable=SC2086
fed_org B 127.0.0.120 p256 $B_DOMAINS || die "organization B"

# S: a Sendmail gateway (fed_org_sendmail) for the one fault where the MTA's
# behaviour differs: how it meets a milter killed mid-message.
SENDMAIL=0
if want kill-sender-sendmail; then
    fed_org_sendmail S 127.0.0.130 p256 s.example || die "organization S (Sendmail)"
    SENDMAIL=1
fi

# Test doubles between the milters and the broker / clamd (pass-through until told otherwise).
proxy() { # proxy NAME UPSTREAM_PORT -> sets PROXY_PORT_NAME; mode file $BASE/NAME.mode
    local name=$1 upstream=$2 port
    port=$(pf_free_port)
    python3 "$LIB/fault-proxy.py" "127.0.0.1:$port" "127.0.0.1:$upstream" "$BASE/$name.mode" 2>>"$BASE/$name.proxy.log" &
    PROXY_PIDS+=("$!")
    for _ in $(seq 1 50); do [ -e "$BASE/$name.mode.ready" ] && break; sleep 0.1; done
    [ -e "$BASE/$name.mode.ready" ] || die "fault proxy $name did not start"
    printf -v "PROXY_PORT_$name" '%s' "$port"
}
mode() { echo "$2" >"$BASE/$1.mode"; }
proxy broker "$FED_BROKER_PORT"
proxy clamd "$CLAMD_PORT"

# A's spool on a small tmpfs, so it can be filled.
SPOOL_MOUNT=$(fed_dir A)/tmp
mount -t tmpfs -o "size=32m,mode=0700,uid=$(id -u postfix),gid=$(id -g postfix)" tmpfs "$SPOOL_MOUNT" \
    || { SPOOL_MOUNT=; die "cannot mount a tmpfs for A's TemporaryDirectory"; }

{ echo "a.example require"; echo "s.example require"; } | fed_allowlist B
for d in $B_DOMAINS; do echo "$d require"; done | fed_allowlist A
A_CONF=("BrokerURL https://127.0.0.1:$PROXY_PORT_broker" "BrokerTimeout 2s"
        "ClamdSocket inet:$PROXY_PORT_clamd@127.0.0.1" "ClamdTimeout 3s" "LogLevel info")
fed_milter_conf A "${A_CONF[@]}"
fed_milter_conf B "BrokerURL https://127.0.0.1:$PROXY_PORT_broker" "BrokerTimeout 2s" \
    "ClamdSocket $CLAMD_INET" "ClamdTimeout 3s" "LogLevel info"
fed_route A B tap
fed_route B A
fed_start B || die "B did not start"
fed_start A || die "A did not start"
if ((SENDMAIL)); then
    echo "b9.example require" | fed_allowlist S
    fed_milter_conf S "BrokerURL https://127.0.0.1:$PROXY_PORT_broker" "BrokerTimeout 2s" "LogLevel info"
    fed_route S B tap   # before fed_start: Sendmail reads its mailertable when sendmail.cf is built
    fed_route B S
    fed_start S || die "S (Sendmail) did not start"
fi
TAPS=(--tap "$(fed_tap_dir A B)")
((SENDMAIL)) && TAPS+=(--tap "$(fed_tap_dir S B)")
A_INBOX=$(pf_maildir A inbox); B_INBOX=$(pf_maildir B inbox)

# ------------------------------------------------------------------ helpers
# batch_start TAG RCPT... [-- batch.py options]: the batch in the background (BATCH_PID).
batch_start() {
    local tag=$1; shift
    local rcpts=() extra=()
    while (($#)); do
        if [ "$1" = -- ]; then shift; extra=("$@"); break; fi
        rcpts+=(--rcpt "$1"); shift
    done
    local org=${BATCH_ORG:-A} sender=${BATCH_SENDER:-alice@a.example}
    python3 "$LIB/batch.py" --server "$(fed_addr "$org"):$(fed_port "$org")" --source "$(fed_client "$org")" \
        --tag "$tag" --count "$N" --sender "$sender" "${rcpts[@]}" --sessions 5 --per-session 5 \
        --deadline 240 --out "$BASE/$tag.batch.json" "${extra[@]}" >"$BASE/$tag.batch.log" 2>&1 &
    BATCH_PID=$!
}
batch_running() { kill -0 "$BATCH_PID" 2>/dev/null; }
batch_wait() { wait "$BATCH_PID"; local rc=$?; cat "$BASE/$1.batch.log"; return $rc; }
contains() { [[ $1 == *"$2"* ]]; }
json() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

flush() {
    postqueue -c "$(pf_dir A)/etc" -f >/dev/null 2>&1; postqueue -c "$(pf_dir B)/etc" -f >/dev/null 2>&1
    if ((SENDMAIL)); then sm_run S -q >/dev/null 2>&1 & fi
}
queue_empty() {
    if [ "$(fed_mta "$1")" = sendmail ]; then ! sm_queue "$1" | grep -q '^[0-9A-Za-z]\{14\}'; return; fi
    [ -z "$(find "$(pf_dir "$1")/queue/"{incoming,active,deferred,hold} -type f 2>/dev/null | head -n 1)" ]
}

# settle TAG MAILDIR [VERDICT]: flush until the batch is all there and the
# queues are empty (at most 180 s), then count (COUNT_LINE, exit status).
settle() {
    local tag=$1 maildir=$2 verdict=${3:-} args=()
    [ -n "$verdict" ] && args=(--verdict "$verdict")
    local i
    for i in $(seq 1 90); do
        if ((i % 5 == 1)); then flush; fi
        if python3 "$LIB/batch-count.py" --maildir "$maildir" --tag "$tag" --count "$N" "${args[@]}" "${TAPS[@]}" >/dev/null 2>&1 \
            && queue_empty A && queue_empty B && { ((SENDMAIL == 0)) || queue_empty S; }; then
            break
        fi
        sleep 2
    done
    sleep 1
    COUNT_LINE=$(python3 "$LIB/batch-count.py" --maildir "$maildir" --tag "$tag" --count "$N" "${args[@]}" "${TAPS[@]}" --out "$BASE/$tag.count.json")
}

# report FAULT TAG EVIDENCE: the per-fault line and the checks.
report() {
    local fault=$1 tag=$2 evidence=$3
    local sent accepted tempfails errors delivered dup missing unverified unsealed
    sent=$N; accepted=$(json "$BASE/$tag.batch.json" accepted); tempfails=$(json "$BASE/$tag.batch.json" tempfails)
    errors=$(json "$BASE/$tag.batch.json" errors)
    delivered=$(json "$BASE/$tag.count.json" delivered); dup=$(json "$BASE/$tag.count.json" duplicated)
    missing=$(json "$BASE/$tag.count.json" missing); unverified=$(json "$BASE/$tag.count.json" unverified)
    unsealed=$(json "$BASE/$tag.count.json" unsealed)
    local line="fault $fault: sent=$sent accepted=$accepted delivered=$delivered duplicated=$dup missing=$missing unverified=$unverified unsealed-on-wire=$unsealed client-tempfails=$tempfails client-errors=$errors $evidence"
    echo "  $line"; echo "$line" >>"$REPORT"
    check "$fault: all $N accepted by the gateway (after retries)" [ "$accepted" = "$N" ]
    check "$fault: all $N delivered exactly once with fedmail=pass, none unsealed on the wire ($COUNT_LINE)" \
        [ "$delivered" = "$N" -a "$dup" = 0 -a "$unverified" = 0 -a "$unsealed" = 0 ]
}

# kill_milter NAME [DOWN]: SIGKILL the org's milter and start it again (new log
# file), DOWN seconds later when given.
kill_milter() {
    local name=$1 var="FM_PID_$1"
    kill -KILL "${!var}" 2>/dev/null; wait "${!var}" 2>/dev/null
    [ "${2:-0}" = 0 ] || sleep "$2"
    mv "$FM_DIR/$name.log" "$FM_DIR/$name.log.$(date +%s%N)" 2>/dev/null
    fm_start "$name" "$(fed_dir "$name")/milter.conf" >/dev/null || die "milter $name did not restart after SIGKILL"
}

# kill_during_batch NAME MIN [QUEUE_ORG [DOWN]]: SIGKILL the org's milter every
# 0.3-0.8 s while the batch runs (and at least MIN times), at most 15 times;
# sets kills. With QUEUE_ORG, the killing also goes on while that org's
# Postfix still has mail queued (the receiving side is killed while the
# sender delivers, not after), and each restart waits DOWN seconds first, so
# the sender's deliveries really meet the dead milter whatever the timing.
kill_during_batch() {
    local queue_org=${3:-} down=${4:-0}
    kills=0
    while { batch_running || [ $kills -lt "$2" ] || { [ -n "$queue_org" ] && queued "$queue_org"; }; } && [ $kills -lt 15 ]; do
        sleep "0.$((3 + RANDOM % 6))"; kill_milter "$1" "$down"; kills=$((kills + 1))
    done
}
queued() { ! pf_queue "$1" | grep -q "Mail queue is empty"; }

# hold_for SECONDS: wait (the batch goes on meanwhile).
hold_for() { local until=$(( $(date +%s) + $1 )); while [ "$(date +%s)" -lt "$until" ]; do sleep 0.2; done; }

echo "== warm-up"
python3 "$LIB/batch.py" --server "$(fed_addr A):$(fed_port A)" --source "$(fed_client A)" --tag warm --count 2 \
    --sender alice@a.example --rcpt bob@b.example --deadline 60 || die "warm-up batch not accepted"
N_SAVED=$N; N=2; settle warm "$B_INBOX" mx.B.test; N=$N_SAVED
[[ $COUNT_LINE == *"delivered=2/2 duplicated=0 missing=0 unverified=0 unsealed=0"* ]] || die "warm-up: $COUNT_LINE"
pass "warm-up: sealed at A, opened at B ($COUNT_LINE)"

# ------------------------------------------------------------------ faults
if want kill-sender; then
    scenario kill-sender "A's milter SIGKILLed mid-batch, restarted"
    batch_start kill-sender bob@b.example
    kill_during_batch A 2 "" 0.3
    batch_wait kill-sender
    settle kill-sender "$B_INBOX" mx.B.test
    report kill-sender kill-sender "sigkills=$kills"
    tf=$(json "$BASE/kill-sender.batch.json" tempfails); er=$(json "$BASE/kill-sender.batch.json" errors)
    check "kill-sender: the milter was really killed mid-batch ($kills times; the client saw $tf tempfails, $er dropped sessions)" \
        [ $kills -ge 2 -a $((tf + er)) -gt 0 ]
fi

if want kill-sender-split; then
    scenario kill-sender-split "A's milter SIGKILLed mid-batch during splits (mixed recipients), restarted"
    b_discards_before=$(cat "$FM_DIR"/B.log* | grep -c "decision=discard (duplicate")
    batch_start kill-sender-split bob@b11.example carol@a.example
    kill_during_batch A 3 "" 0.3
    batch_wait kill-sender-split
    settle kill-sender-split "$B_INBOX" mx.B.test
    resent=$(cat "$FM_DIR"/A.log* | grep -c "re-sending the sealed copy of an earlier attempt")
    discarded=$(( $(cat "$FM_DIR"/B.log* | grep -c "decision=discard (duplicate") - b_discards_before ))
    report kill-sender-split kill-sender-split "sigkills=$kills resent-same-seal=$resent discarded-at-B=$discarded"
    tf=$(json "$BASE/kill-sender-split.batch.json" tempfails); er=$(json "$BASE/kill-sender-split.batch.json" errors)
    check "kill-sender-split: the milter was really killed mid-batch ($kills times; the client saw $tf tempfails, $er dropped sessions)" \
        [ $kills -ge 3 -a $((tf + er)) -gt 0 ]
    plain=$(python3 "$LIB/batch-count.py" --maildir "$A_INBOX" --tag kill-sender-split --count "$N")
    check "kill-sender-split: the plaintext recipient got each message exactly once ($plain)" \
        contains "$plain" "delivered=$N/$N duplicated=0 missing=0 unverified=0"
    echo "  fault kill-sender-split (plaintext recipient carol@a.example): $plain" | tee -a "$REPORT"
fi

if want kill-receiver; then
    scenario kill-receiver "B's milter SIGKILLed mid-batch, restarted"
    deferred_before=$(grep -c "status=deferred" "$(pf_log A)")
    batch_start kill-receiver bob@b.example
    # A accepts the batch quickly; B is killed while A delivers it (A's queue
    # holds mail), at least three times, each time down for 0.5 s.
    kill_during_batch B 3 A 0.5
    batch_wait kill-receiver
    settle kill-receiver "$B_INBOX" mx.B.test
    report kill-receiver kill-receiver "sigkills=$kills"
    deferred=$(( $(grep -c "status=deferred" "$(pf_log A)") - deferred_before ))
    check "kill-receiver: the milter was really killed mid-batch ($kills times; A deferred $deferred deliveries and retried them)" \
        [ $kills -ge 2 -a $deferred -gt 0 ]
fi

if want kill-sender-sendmail; then
    scenario kill-sender-sendmail "S's milter (behind Sendmail, F=T) SIGKILLed mid-batch, restarted"
    BATCH_ORG=S BATCH_SENDER=sam@s.example batch_start kill-sender-sendmail erin@b9.example
    kill_during_batch S 2 "" 0.3
    batch_wait kill-sender-sendmail
    settle kill-sender-sendmail "$B_INBOX" mx.B.test
    report kill-sender-sendmail kill-sender-sendmail "sigkills=$kills"
    tf=$(json "$BASE/kill-sender-sendmail.batch.json" tempfails); er=$(json "$BASE/kill-sender-sendmail.batch.json" errors)
    check "kill-sender-sendmail: the milter was really killed mid-batch ($kills times; the client saw $tf tempfails, $er dropped sessions)" \
        [ $kills -ge 2 -a $((tf + er)) -gt 0 ]
fi

if want reload; then
    scenario reload "SIGUSR1 to both milters every 300 ms"
    before=$(cat "$FM_DIR"/A.log* "$FM_DIR"/B.log* | grep -c "configuration reloaded")
    batch_start reload bob@b.example
    signals=0
    while batch_running || [ $signals -lt 10 ]; do
        kill -USR1 "$FM_PID_A" "$FM_PID_B" 2>/dev/null; signals=$((signals + 1)); sleep 0.3
    done
    batch_wait reload
    settle reload "$B_INBOX" mx.B.test
    sleep 0.5
    reloads=$(( $(cat "$FM_DIR"/A.log* "$FM_DIR"/B.log* | grep -c "configuration reloaded") - before ))
    report reload reload "reload-signals=$signals reloads-logged=$reloads"
    check "reload: the milters really reloaded during the batch ($reloads reloads)" [ "$reloads" -ge 4 ]
fi

# broker_fault NAME DOMAIN ON OFF SECONDS: the fault is switched on, then
# the batch starts (to a fresh domain for the broker faults, so no cached
# answer hides the fault), SECONDS later the fault is switched off while the
# client keeps retrying.
broker_fault() {
    local name=$1 domain=$2 on=$3 off=$4 seconds=$5
    $on
    batch_start "$name" "carl@$domain"
    hold_for "$seconds"
    $off
    batch_wait "$name"
    settle "$name" "$B_INBOX" mx.B.test
    local tf; tf=$(json "$BASE/$name.batch.json" tempfails)
    report "$name" "$name" "fault-seconds=$seconds"
    [ "${FELT:-yes}" = yes ] && check "$name: the fault was felt (the client saw $tf tempfails)" [ "$tf" -gt 0 ]
}

if want broker-stopped; then
    scenario broker-stopped "the broker stopped for 8 s"
    broker_fault broker-stopped b1.example fed_broker_stop fed_broker_start 8
fi
if want broker-hung; then
    scenario broker-hung "the broker accepts and never answers for 8 s"
    broker_fault broker-hung b2.example "mode broker hang" "mode broker pass" 8
fi
if want broker-slow; then
    scenario broker-slow "the broker answers 3 s late (BrokerTimeout 2 s) for 8 s"
    broker_fault broker-slow b3.example "mode broker slow 3" "mode broker pass" 8
fi
if want broker-pg; then
    scenario broker-pg "PostgreSQL restarted under the running broker, then the broker restarted mid-batch"
    # The batch's first lookups (a fresh domain) meet the broker's pool of
    # connections to a PostgreSQL that has just restarted; 2 s later the
    # broker itself restarts.
    pg_restart() { pg_private_restart || die "PostgreSQL did not come back"; }
    broker_restart() { fed_broker_restart || die "broker did not restart"; }
    FELT=no broker_fault broker-pg b4.example pg_restart broker_restart 2
    check "broker-pg: the broker serves after PostgreSQL and itself restarted" \
        curl -sf --cacert "$FED_BROKER_CA" "$FED_BROKER_URL/healthz" -o /dev/null
fi

if want clamd-stopped; then
    scenario clamd-stopped "the real clamd stopped for 6 s"
    broker_fault clamd-stopped b.example clamd_private_stop clamd_private_restart 6
fi
if want clamd-hung; then
    scenario clamd-hung "clamd accepts and never answers for 8 s (ClamdTimeout 3 s)"
    broker_fault clamd-hung b.example "mode clamd hang" "mode clamd pass" 8
fi

if want spool-full; then
    scenario spool-full "A's TemporaryDirectory full for 6 s, then freed"
    # Small bodies stay in memory and their work files go to a tmpfs of the
    # milter's own (/dev/shm) when there is one; BodySpoolThreshold 0 sends
    # every message through TemporaryDirectory, the spool this fault fills.
    fed_milter_conf A "${A_CONF[@]}" "BodySpoolThreshold 0"; fed_milter_restart A >/dev/null || die "A's milter did not restart"
    fill() { dd if=/dev/zero of="$SPOOL_MOUNT/filler" bs=1M count=64 2>/dev/null; FREE_KB=$(df --output=avail "$SPOOL_MOUNT" | tail -n 1 | tr -d ' '); }
    unfill() { rm -f "$SPOOL_MOUNT/filler"; }
    broker_fault spool-full b.example fill unfill 6
    fed_milter_conf A "${A_CONF[@]}"; fed_milter_restart A >/dev/null || die "A's milter did not restart"
    check "spool-full: the spool really was full during the fault (${FREE_KB:-?} KB free)" [ "${FREE_KB:-1}" -lt 64 ]
fi

if want reinject-down; then
    scenario reinject-down "A's re-injection service down for 8 s during a mixed-recipient batch"
    MASTER=$(pf_dir A)/etc/master.cf
    reinject_off() { cp "$MASTER" "$BASE/master.cf.saved"; postconf -c "$(pf_dir A)/etc" -M# "$(fed_addr A):$FED_REINJECT_A/inet"; postfix -c "$(pf_dir A)/etc" reload >/dev/null 2>&1; }
    reinject_on() { cp "$BASE/master.cf.saved" "$MASTER"; postfix -c "$(pf_dir A)/etc" reload >/dev/null 2>&1; }
    batch_start reinject-down bob@b5.example carol@a.example
    sleep 0.3; reinject_off; hold_for 8; reinject_on
    batch_wait reinject-down
    settle reinject-down "$B_INBOX" mx.B.test
    report reinject-down reinject-down "fault-seconds=8"
    tf=$(json "$BASE/reinject-down.batch.json" tempfails)
    check "reinject-down: the fault was felt (the client saw $tf tempfails)" [ "$tf" -gt 0 ]
    plain=$(python3 "$LIB/batch-count.py" --maildir "$A_INBOX" --tag reinject-down --count "$N")
    check "reinject-down: the plaintext recipient got each message exactly once ($plain)" \
        contains "$plain" "delivered=$N/$N duplicated=0 missing=0 unverified=0"
    echo "  fault reinject-down (plaintext recipient carol@a.example): $plain" | tee -a "$REPORT"
fi

if want reinject-lost-reply; then
    scenario reinject-lost-reply "the re-injection reply to the end of data lost after the copy was queued (once per message)"
    LOST_LOG=$BASE/lost-reply.log
    lost_port=$(pf_free_port)
    python3 "$LIB/lost-reply-proxy.py" "127.0.0.1:$lost_port" "$(fed_addr A):$FED_REINJECT_A" "$LOST_LOG" 2>>"$BASE/lost-reply.err" &
    PROXY_PIDS+=("$!")
    for _ in $(seq 1 50); do [ -e "$LOST_LOG.ready" ] && break; sleep 0.1; done
    [ -e "$LOST_LOG.ready" ] || die "the lost-reply proxy did not start: $(cat "$BASE/lost-reply.err")"
    reloads_before=$(cat "$FM_DIR"/A.log* | grep -c "configuration reloaded")
    fed_milter_conf A "${A_CONF[@]}" "Reinject inet:$lost_port@127.0.0.1"
    kill -USR1 "$FM_PID_A"
    for _ in $(seq 1 50); do [ "$(cat "$FM_DIR"/A.log* | grep -c "configuration reloaded")" -gt "$reloads_before" ] && break; sleep 0.1; done
    b_discards_before=$(cat "$FM_DIR"/B.log* | grep -c "decision=discard (duplicate")
    batch_start reinject-lost-reply bob@b10.example carol@a.example
    batch_wait reinject-lost-reply
    settle reinject-lost-reply "$B_INBOX" mx.B.test
    lost=$(grep -c "^lost 250 " "$LOST_LOG")
    resent=$(cat "$FM_DIR"/A.log* | grep -c "re-sending the sealed copy of an earlier attempt")
    discarded=$(( $(cat "$FM_DIR"/B.log* | grep -c "decision=discard (duplicate") - b_discards_before ))
    report reinject-lost-reply reinject-lost-reply "replies-lost-after-queueing=$lost resent-same-seal=$resent discarded-at-B=$discarded"
    check "reinject-lost-reply: the service queued each first copy and its reply was lost ($lost of $N)" [ "$lost" = "$N" ]
    check "reinject-lost-reply: A kept each copy in doubt and re-sent the same seal on the retry ($resent)" [ "$resent" -ge "$N" ]
    check "reinject-lost-reply: B received both copies of each and discarded the second as a replay ($discarded)" [ "$discarded" -ge "$N" ]
    check "reinject-lost-reply: no copy is left in doubt at A" \
        [ -z "$(find "$(fed_dir A)/state/split-in-doubt" -type f -name "[!.]*" 2>/dev/null)" ]
    plain=$(python3 "$LIB/batch-count.py" --maildir "$A_INBOX" --tag reinject-lost-reply --count "$N")
    check "reinject-lost-reply: the plaintext recipient got each message exactly once ($plain)" \
        contains "$plain" "delivered=$N/$N duplicated=0 missing=0 unverified=0"
    echo "  fault reinject-lost-reply (plaintext recipient carol@a.example): $plain" | tee -a "$REPORT"
    reloads_before=$(cat "$FM_DIR"/A.log* | grep -c "configuration reloaded")
    fed_milter_conf A "${A_CONF[@]}"
    kill -USR1 "$FM_PID_A"
    for _ in $(seq 1 50); do [ "$(cat "$FM_DIR"/A.log* | grep -c "configuration reloaded")" -gt "$reloads_before" ] && break; sleep 0.1; done
fi

if want partner-down; then
    scenario partner-down "B's Postfix down past the tokens' lifetime; A queues sealed mail and delivers it later"
    pf_stop B
    down_at=$(date +%s)
    batch_start partner-down dora@b6.example
    batch_wait partner-down
    # The tokens live 1 minute: wait until every token of the batch has expired.
    hold_for 75
    pf_start B || die "B's Postfix did not come back"
    up_at=$(date +%s)
    settle partner-down "$B_INBOX" mx.B.test
    report partner-down partner-down "partner-down-seconds=$((up_at - down_at)) token-lifetime=60s"
    check "partner-down: B was down longer than the token lifetime" [ $((up_at - down_at)) -gt 70 ]
fi

if want split-retry; then
    scenario split-retry "exactly-once splitting: a later milter tempfails each first attempt; DSN and SMTPUTF8 carried"
    ONCE_SOCK=$BASE/once.sock
    /usr/bin/python3 "$LIB/tempfail-once-milter.py" "unix:$ONCE_SOCK" "$BASE/once.log" 2>>"$BASE/once.err" &
    ONCE_PID=$!
    for _ in $(seq 1 50); do [ -S "$ONCE_SOCK" ] && break; sleep 0.1; done
    [ -S "$ONCE_SOCK" ] || die "the tempfail-once test milter did not start: $(cat "$BASE/once.err")"
    chmod 666 "$ONCE_SOCK"
    pf_set A "smtpd_milters = unix:$(fed_dir A)/milter.sock, unix:$ONCE_SOCK"
    postfix -c "$(pf_dir A)/etc" reload >/dev/null 2>&1; sleep 1
    batch_start split-retry bob@b7.example carol@a.example -- --mail-option "RET=HDRS" --mail-option "ENVID={id}" \
        --rcpt-option "bob@b7.example=NOTIFY=SUCCESS,FAILURE" --rcpt-option "bob@b7.example=ORCPT=rfc822;bob@b7.example"
    batch_wait split-retry
    settle split-retry "$B_INBOX" mx.B.test
    report split-retry split-retry "first-attempts-tempfailed=$(grep -c '^tempfail <split-retry-' "$BASE/once.log")"
    tf=$(grep -c '^tempfail <split-retry-' "$BASE/once.log")
    check "split-retry: the later milter tempfailed the first attempt of all $N messages" [ "$tf" = "$N" ]
    check "split-retry: A's milter re-injected each sealed copy once, and skipped it on the retry" \
        [ "$(cat "$FM_DIR"/A.log* | grep -c 'decision=split .*already-reinjected=<bob@b7.example>')" -ge "$N" ]
    plain=$(python3 "$LIB/batch-count.py" --maildir "$A_INBOX" --tag split-retry --count "$N")
    check "split-retry: the plaintext recipient got each message exactly once ($plain)" \
        contains "$plain" "delivered=$N/$N duplicated=0 missing=0 unverified=0"
    echo "  fault split-retry (plaintext recipient carol@a.example): $plain" | tee -a "$REPORT"
    # NOTIFY=SUCCESS: B's Postfix reports the delivery to alice@a.example, once per message, with our ENVID and ORCPT.
    dsn_count() {
        grep -l "^Original-Envelope-Id: split-retry-" "$A_INBOX"/new/* 2>/dev/null \
            | xargs -r grep -l "^Action: delivered" | xargs -r grep -l "^Original-Recipient: rfc822;bob@b7.example" \
            | xargs -r grep -h "^Original-Envelope-Id:" | sort | uniq | wc -l
    }
    dsn_total() { grep -l "^Original-Envelope-Id: split-retry-" "$A_INBOX"/new/* 2>/dev/null | xargs -r grep -l "^Action: delivered" | wc -l; }
    for _ in $(seq 1 30); do [ "$(dsn_count)" -ge "$N" ] && break; flush; sleep 2; done
    check "split-retry: NOTIFY=SUCCESS came back as exactly one success DSN per message ($(dsn_count) distinct, $(dsn_total) in all)" \
        [ "$(dsn_count)" = "$N" -a "$(dsn_total)" = "$N" ]
    echo "  fault split-retry: success DSNs for bob@b7.example distinct=$(dsn_count) total=$(dsn_total)" | tee -a "$REPORT"
    # SMTPUTF8: a UTF-8 envelope sender through the split.
    SAVED=$N; N=3
    python3 "$LIB/batch.py" --server "$(fed_addr A):$(fed_port A)" --source "$(fed_client A)" --tag utf8 --count 3 \
        --sender "jörg@a.example" --from-header "Jörg <jörg@a.example>" --rcpt bob@b8.example --rcpt carol@a.example \
        --mail-option SMTPUTF8 --deadline 60 --out "$BASE/utf8.batch.json" >"$BASE/utf8.batch.log" 2>&1
    cat "$BASE/utf8.batch.log"
    settle utf8 "$B_INBOX" mx.B.test
    check "split-retry: a UTF-8 envelope sender (SMTPUTF8) is split and its sealed copy delivered ($COUNT_LINE)" \
        contains "$COUNT_LINE" "delivered=3/3 duplicated=0 missing=0 unverified=0 unsealed=0"
    check "split-retry: the sealed copy was re-injected with SMTPUTF8 (MAIL FROM:<jörg@a.example> at A's re-injection smtpd)" \
        grep -q "from=<jörg@a.example>.*" "$(pf_log A)"
    N=$SAVED
    pf_set A "smtpd_milters = unix:$(fed_dir A)/milter.sock"
    postfix -c "$(pf_dir A)/etc" reload >/dev/null 2>&1
fi

echo "== report ($(( $(date +%s) - ELAPSED_START )) s)"
cat "$REPORT"
summary t-faults
