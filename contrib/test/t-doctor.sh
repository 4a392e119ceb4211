#!/usr/bin/env bash
# `fedmailctl doctor` on a real gateway, healthy and then broken one thing
# at a time, through real services.
#
# One broker; organization A (127.0.0.150, P-256, a.example) with a real
# private Postfix (running, for its re-injection service; doctor reads its
# configuration with postconf -c), its fedmail-milter running and a private
# clamd; organization B
# (127.0.0.160, b.example) enrolled at the broker. A's allowlist says
# `b.example require`.
#
#   d1  healthy: exit 0, every check ok (or skipped), text and --json agree
#   d2  key mode 0644                       key.permissions FAIL, exit 2
#   d3  OrgCertificate = B's certificate    key.match FAIL
#   d4  certificate expiring (--warn-days 40 against the broker's 30-day
#       certificate)                         certificate.validity WARN, exit 1;
#       an expired certificate for A's key   certificate.validity FAIL
#   d5  broker stopped                      broker FAIL, certificate.revocation WARN
#   d6  an unknown require partner          partner nobody.example FAIL, b.example ok
#   d7  clamd stopped                       clamd FAIL
#   d8  smtpd_milters names another socket  postfix.smtpd_milters FAIL
#       non_smtpd_milters empty             postfix.non_smtpd_milters FAIL
#   d9  milter_default_action = accept      postfix.milter_default_action FAIL
#   d9b a milter after FedMail (opens mail)  postfix.milter_order WARN, exit 1
#   d10 chroot: smtpd chrooted to the queue directory with the absolute
#       path FAIL; with the socket under the queue directory and the path
#       relative to it, exit 0
#   d11 socket root-owned 0600              milter.socket FAIL (postfix cannot connect);
#       milter stopped: a stale socket      milter.socket FAIL (nobody answers);
#       the socket missing                  milter.socket FAIL (does not exist)
#   d12 Sendmail .mc: F=T ok; no F=          sendmail.input_mail_filter FAIL
#   d13 a configuration line that does not parse   config FAIL, the rest skipped
#   d14 a "broker" that accepts TCP and never answers, --timeout 2:
#       broker FAIL within the time limit
#   d15 `fedmail-broker org revoke a`        broker FAIL (refused),
#       certificate.revocation FAIL (on the CRL)
#   d16 Reinject a TCP port                 reinject WARN, exit 1;
#       UserID a user outside postdrop      reinject FAIL (cannot reach public/);
#       MixedRecipients defer               reinject skipped
#
# Every case runs doctor twice, as text and with --json, and checks the exit
# code of both, the check's line in the text and its status in the JSON.
# KEEP=1 keeps the work directory; ONLY="d2 d5" runs only those cases.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=lib/federation.sh
. contrib/test/lib/federation.sh
. contrib/test/lib/clamd.sh
fed_suite doctor || exit 1

. contrib/test/lib/scenarios.sh
SUITE=t-doctor
[ "$(id -u)" = 0 ] || die "needs root (private Postfix instances)"
for tool in python3 curl openssl postconf; do command -v "$tool" >/dev/null || die "$tool missing"; done

fed_suite_cleanup() { clamd_private_stop 2>/dev/null || true; }

# ------------------------------------------------------------------ helpers
# doctor CONF [ARGS...]: run doctor against A's Postfix; output in $BASE/out.txt / out.json,
# exit codes in TEXT_RC / JSON_RC
doctor() {
    local conf=$1; shift
    "$FED_CTL" doctor -c "$conf" --postfix-config "$(pf_dir a)/etc" --timeout 5 "$@" >"$BASE/out.txt" 2>"$BASE/out.err"; TEXT_RC=$?
    "$FED_CTL" doctor -c "$conf" --postfix-config "$(pf_dir a)/etc" --timeout 5 --json "$@" >"$BASE/out.json" 2>>"$BASE/out.err"; JSON_RC=$?
}
# json_status ID [SUBJECT]: the status of that check in out.json
json_status() {
    python3 - "$BASE/out.json" "$@" <<'P'
import json, sys
report = json.load(open(sys.argv[1]))
want = sys.argv[2]; subject = sys.argv[3] if len(sys.argv) > 3 else None
print(" ".join(c["status"] for c in report["checks"] if c["check"] == want and (subject is None or c["subject"] == subject)))
P
}
# text_status ID [SUBJECT]: the status word of that check's line in out.txt
text_status() {
    awk -v id="$1" -v sub_="${2:-}" '$2 == id && (sub_ == "" || $3 == sub_) { print $1 }' "$BASE/out.txt" | head -n 1
}
# expect NAME CODE ID STATUS [SUBJECT]: both runs exited CODE; check ID (SUBJECT) is STATUS in both
expect() {
    local name=$1 code=$2 id=$3 status=$4 subject=${5:-} word
    case $status in ok) word=ok ;; skip) word=skip ;; warn) word=WARN ;; fail) word=FAIL ;; esac
    local got_text got_json; got_text=$(text_status "$id" "$subject"); got_json=$(json_status "$id" ${subject:+"$subject"})
    if [ "$TEXT_RC" = "$code" ] && [ "$JSON_RC" = "$code" ] && [ "$got_text" = "$word" ] && [ "$got_json" = "$status" ]; then
        pass "$name: $id${subject:+ $subject} $word, exit $code"
    else
        fail "$name: expected $id${subject:+ $subject} $word and exit $code; got text '$got_text' exit $TEXT_RC, json '$got_json' exit $JSON_RC"
        sed 's/^/      /' "$BASE/out.txt"; sed 's/^/      stderr: /' "$BASE/out.err"
    fi
}
# fix_says TEXT: the failing or warning line carries a fix containing TEXT
fix_says() {
    if grep -E '^(FAIL|WARN) ' "$BASE/out.txt" | grep -F -- "-- fix:" | grep -qF -- "$1"; then pass "the fix says: $1"
    else fail "no fix saying '$1' in: $(grep -E '^(FAIL|WARN) ' "$BASE/out.txt")"; fi
}
# variant NAME SED-EXPR: a copy of A's milter configuration changed by SED-EXPR; prints its path
variant() { local f=$BASE/$1.conf; sed -e "$2" "$CONF" >"$f"; echo "$f"; }

# ------------------------------------------------------------------ the gateway
echo "== setting up: broker, A (Postfix + milter + clamd) and B (enrolled)"
fed_broker_start || die "broker did not start"
# A re-injects through its Postfix's unix socket public/fedmail-reinject.
FED_REINJECT_VIA="a"
fed_org a 127.0.0.150 p256 a.example || die "org a"
fed_enroll b 127.0.0.160 p256 b.example || die "org b"
fed_allowlist a <<'L'
b.example     require
L
clamd_private_start "$BASE/clamd" || die "clamd did not start"
fed_milter_conf a "ClamdSocket $CLAMD_UNIX"
CONF=$(fed_dir a)/milter.conf
SOCK=$(fed_dir a)/milter.sock
PFETC=$(pf_dir a)/etc
fm_start a "$CONF" || die "A's milter did not start"
pf_start a || die "A's Postfix did not start"
pass "broker, A's milter, A's Postfix and clamd running"

# ------------------------------------------------------------------ d1
if want d1; then
    scenario d1 "a healthy gateway"
    doctor "$CONF"
    expect "healthy" 0 config ok
    for id in allowlist key.permissions key.match certificate.validity certificate.revocation broker clamd \
        milter.socket reinject postfix.smtpd_milters postfix.non_smtpd_milters postfix.milter_default_action postfix.milter_order; do
        expect "healthy" 0 "$id" ok
    done
    expect "healthy" 0 partner ok b.example
    check "text: no WARN or FAIL line" bash -c "! grep -qE '^(WARN|FAIL)' '$BASE/out.txt'"
    check "text ends with the summary" grep -q '^doctor: 15 ok, 0 skipped, 0 warnings, 0 failures: exit 0$' "$BASE/out.txt"
    check "json: status ok, exitCode 0" python3 -c "import json,sys; d=json.load(open('$BASE/out.json')); sys.exit(not (d['status']=='ok' and d['exitCode']==0 and all(set(c)=={'check','subject','status','message','fix'} for c in d['checks'])))"
    cp "$BASE/out.txt" "$BASE/healthy.txt"
    sed 's/^/      /' "$BASE/healthy.txt"
fi

# ------------------------------------------------------------------ d2
if want d2; then
    scenario d2 "the organization key readable by others"
    chmod 644 "$(fed_dir a)/keys/org.key"
    doctor "$CONF"
    expect "key 0644" 2 key.permissions fail
    expect "key 0644" 2 key.match skip
    fix_says "chmod 600 $(fed_dir a)/keys/org.key"
    cp "$BASE/out.txt" "$BASE/broken-key.txt"
    chmod 600 "$(fed_dir a)/keys/org.key"
fi

# ------------------------------------------------------------------ d3
if want d3; then
    scenario d3 "a certificate that is not the key's"
    doctor "$(variant mismatch "s|^OrgCertificate .*|OrgCertificate $(fed_dir b)/keys/org.crt|")"
    expect "B's certificate with A's key" 2 key.match fail
    expect "B's certificate with A's key" 2 broker skip
fi

# ------------------------------------------------------------------ d4
if want d4; then
    scenario d4 "certificate expiry"
    doctor "$CONF" --warn-days 40
    expect "30-day certificate, --warn-days 40" 1 certificate.validity warn
    fix_says "fedmailctl renew"
    # An expired certificate for A's own key, made with openssl ca.
    x=$BASE/expired; mkdir -p "$x/db"; : >"$x/db/index.txt"; echo 01 >"$x/db/serial"
    printf '[ca]\ndefault_ca = c\n[c]\ndatabase = %s/db/index.txt\nserial = %s/db/serial\nnew_certs_dir = %s/db\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n' "$x" "$x" "$x" >"$x/ca.cnf"
    openssl req -new -key "$(fed_dir a)/keys/org.key" -subj "/CN=a" -out "$x/a.csr" 2>>"$x/log" &&
        openssl ca -batch -config "$x/ca.cnf" -selfsign -keyfile "$(fed_dir a)/keys/org.key" -in "$x/a.csr" \
            -startdate 20250101000000Z -enddate 20250201000000Z -out "$x/a.crt" >>"$x/log" 2>&1 || fail "openssl ca: $(tail -n 3 "$x/log")"
    doctor "$(variant expired "s|^OrgCertificate .*|OrgCertificate $x/a.crt|")"
    expect "expired certificate" 2 certificate.validity fail
    expect "expired certificate" 2 key.match ok
    check "text says it expired" grep -q '^FAIL certificate.validity .* expired at 2025-02-01T00:00:00Z' "$BASE/out.txt"
fi

# ------------------------------------------------------------------ d5
if want d5; then
    scenario d5 "the broker stopped"
    fed_broker_stop
    doctor "$CONF"
    expect "broker stopped" 2 broker fail
    expect "broker stopped" 2 certificate.revocation warn
    expect "broker stopped" 2 partner skip b.example
    check "the broker line says not reachable" grep -q '^FAIL broker .* is not reachable' "$BASE/out.txt"
    cp "$BASE/out.txt" "$BASE/broken-broker.txt"
    fed_broker_start || die "broker did not restart"
    doctor "$CONF"
    expect "broker back" 0 broker ok
fi

# ------------------------------------------------------------------ d6
if want d6; then
    scenario d6 "an unknown require partner"
    printf 'b.example require\nnobody.example require\n*.wild.example require\n' >"$BASE/allowlist-unknown"
    doctor "$(variant unknown "s|^FederationAllowlist .*|FederationAllowlist $BASE/allowlist-unknown|")"
    expect "nobody.example unknown" 2 partner fail nobody.example
    expect "nobody.example unknown" 2 partner ok b.example
    expect "nobody.example unknown" 2 partner skip '*.wild.example'
    fix_says "allowlist line 2"
    printf 'b.example require\nbad line here\n' >"$BASE/allowlist-bad"
    doctor "$(variant badallow "s|^FederationAllowlist .*|FederationAllowlist $BASE/allowlist-bad|")"
    expect "allowlist that does not parse" 2 allowlist fail
    check "it names the line" grep -q "^FAIL allowlist .*allowlist-bad:2" "$BASE/out.txt"
fi

# ------------------------------------------------------------------ d7
if want d7; then
    scenario d7 "clamd stopped"
    clamd_private_stop
    doctor "$CONF"
    expect "clamd stopped" 2 clamd fail
    clamd_private_restart || die "clamd did not restart"
    doctor "$CONF"
    expect "clamd back" 0 clamd ok
fi

# ------------------------------------------------------------------ d8 d9
if want d8; then
    scenario d8 "Postfix names another socket"
    postconf -c "$PFETC" -e "smtpd_milters = unix:/run/elsewhere/milter.sock"
    doctor "$CONF"
    expect "wrong smtpd_milters" 2 postfix.smtpd_milters fail
    fix_says "smtpd_milters = unix:$SOCK"
    cp "$BASE/out.txt" "$BASE/broken-postfix.txt"
    postconf -c "$PFETC" -e "smtpd_milters = unix:$SOCK" "non_smtpd_milters ="
    doctor "$CONF"
    expect "empty non_smtpd_milters" 2 postfix.non_smtpd_milters fail
    expect "empty non_smtpd_milters" 2 postfix.smtpd_milters ok
    postconf -c "$PFETC" -e "non_smtpd_milters = unix:$SOCK"
fi
if want d9; then
    scenario d9 "milter_default_action = accept"
    postconf -c "$PFETC" -e "milter_default_action = accept"
    doctor "$CONF"
    expect "accept" 2 postfix.milter_default_action fail
    fix_says "milter_default_action = tempfail"
    postconf -c "$PFETC" -e "milter_default_action = tempfail"
    doctor "$CONF"
    expect "tempfail again" 0 postfix.milter_default_action ok
fi
if want d9b; then
    scenario d9b "a milter after FedMail on the receiving gateway"
    saved=$(postconf -c "$PFETC" -h smtpd_milters)
    postconf -c "$PFETC" -e "smtpd_milters = unix:$SOCK, inet:127.0.0.1:8891"
    doctor "$CONF"
    expect "a milter after FedMail" 1 postfix.milter_order warn
    check "it names the later milter and says what its refusal costs" \
        grep -q "^WARN postfix.milter_order .*inet:127.0.0.1:8891.*discarded as a replay" "$BASE/out.txt"
    fix_says "put FedMail last"
    postconf -c "$PFETC" -e "smtpd_milters = inet:127.0.0.1:8891, unix:$SOCK"
    doctor "$CONF"
    expect "the milter before FedMail" 0 postfix.milter_order ok
    postconf -c "$PFETC" -e "smtpd_milters = $saved"
fi

# ------------------------------------------------------------------ d10
if want d10; then
    scenario d10 "a chrooted smtpd"
    cp "$PFETC/master.cf" "$BASE/master.cf.saved"
    port=$(fed_port a)
    awk -v svc="127.0.0.150:$port" '$1 == svc && $2 == "inet" { $5 = "y" } { print }' "$BASE/master.cf.saved" >"$PFETC/master.cf"
    check "master.cf: A's smtpd chrooted" bash -c "postconf -c '$PFETC' -F '127.0.0.150:$port/inet/chroot' | grep -q '= y'"
    doctor "$CONF"
    expect "chrooted, absolute path" 2 postfix.smtpd_milters fail
    check "it says where the chrooted smtpd looks" grep -q "^FAIL postfix.smtpd_milters .*chrooted to $(pf_dir a)/queue" "$BASE/out.txt"
    # The socket under the queue directory (a hard link to the milter's), named relative to it.
    queue=$(postconf -c "$PFETC" -xh queue_directory)
    mkdir -p "$queue/fedmail"; ln -f "$SOCK" "$queue/fedmail/milter.sock"
    postconf -c "$PFETC" -e "smtpd_milters = unix:/fedmail/milter.sock" "non_smtpd_milters = unix:$queue/fedmail/milter.sock"
    doctor "$(variant chroot "s|^Socket .*|Socket local:$queue/fedmail/milter.sock|")"
    expect "chrooted, relative path" 0 postfix.smtpd_milters ok
    expect "chrooted, relative path" 0 milter.socket ok
    cp "$BASE/master.cf.saved" "$PFETC/master.cf"
    postconf -c "$PFETC" -e "smtpd_milters = unix:$SOCK" "non_smtpd_milters = unix:$SOCK"
    rm -rf "${queue:?}/fedmail"
fi

# ------------------------------------------------------------------ d11
if want d11; then
    scenario d11 "the milter's socket"
    chown root:root "$SOCK"; chmod 600 "$SOCK"
    doctor "$CONF"
    expect "socket root 0600" 2 milter.socket fail
    check "it says postfix cannot connect" grep -q "^FAIL milter.socket .*postfix cannot connect" "$BASE/out.txt"
    chown postfix:postfix "$SOCK"; chmod 770 "$SOCK"
    fm_stop a
    # The milter (running as postfix) cannot remove its socket from A's
    # root-owned directory: a stale socket nobody answers on.
    if [ -S "$SOCK" ]; then
        doctor "$CONF"
        expect "milter stopped, stale socket" 2 milter.socket fail
        check "it says nobody answers" grep -q "^FAIL milter.socket .*nobody answers" "$BASE/out.txt"
        rm -f "$SOCK"
    fi
    doctor "$CONF"
    expect "socket missing" 2 milter.socket fail
    check "it says the socket does not exist" grep -q "^FAIL milter.socket .*does not exist" "$BASE/out.txt"
    fm_start a "$CONF" || die "A's milter did not restart"
    doctor "$CONF"
    expect "milter back" 0 milter.socket ok
fi

# ------------------------------------------------------------------ d12
if want d12; then
    scenario d12 "Sendmail's .mc"
    printf "dnl FedMail\nINPUT_MAIL_FILTER(\`fedmail', \`S=local:%s, F=T, T=C:30s;S:60s;R:60s;E:5m')dnl\n" "$SOCK" >"$BASE/good.mc"
    printf "INPUT_MAIL_FILTER(\`fedmail', \`S=local:%s, T=C:30s')dnl\n" "$SOCK" >"$BASE/nof.mc"
    run() { "$FED_CTL" doctor -c "$CONF" --sendmail-mc "$1" --mta-user postfix --timeout 5 >"$BASE/out.txt" 2>"$BASE/out.err"; TEXT_RC=$?
            "$FED_CTL" doctor -c "$CONF" --sendmail-mc "$1" --mta-user postfix --timeout 5 --json >"$BASE/out.json" 2>>"$BASE/out.err"; JSON_RC=$?; }
    run "$BASE/good.mc"
    expect "INPUT_MAIL_FILTER S= F=T" 0 sendmail.input_mail_filter ok
    run "$BASE/nof.mc"
    expect "INPUT_MAIL_FILTER without F=" 2 sendmail.input_mail_filter fail
    fix_says "F=T"
fi

# ------------------------------------------------------------------ d13
if want d13; then
    scenario d13 "a configuration that does not parse"
    doctor "$(variant badconf '$a Frobnicate yes')"
    expect "unknown name" 2 config fail
    expect "unknown name" 2 broker skip
    check "it names the file and line" grep -q "^FAIL config .*badconf.conf:[0-9]*" "$BASE/out.txt"
fi

# ------------------------------------------------------------------ d14
if want d14; then
    scenario d14 "a broker that accepts connections and never answers: every wait has a limit"
    port=$(pf_free_port)
    python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.150", int(sys.argv[1]))); s.listen(16); time.sleep(120)' "$port" &
    SILENT_PID=$!
    sleep 0.5
    start=$(date +%s)
    doctor "$(variant silent "s|^BrokerURL .*|BrokerURL https://127.0.0.150:$port|")" --timeout 2
    took=$(( $(date +%s) - start ))
    kill "$SILENT_PID" 2>/dev/null; wait "$SILENT_PID" 2>/dev/null
    expect "silent broker" 2 broker fail
    expect "silent broker" 2 certificate.revocation warn
    if [ "$took" -le 20 ]; then pass "two doctor runs with --timeout 2 took ${took}s"; else fail "two doctor runs with --timeout 2 took ${took}s"; fi
fi

# ------------------------------------------------------------------ d16
if want d16; then
    scenario d16 "the re-injection service: a TCP port, a socket the milter's user cannot reach, no split"
    doctor "$(variant reinject-tcp "s|^Reinject .*|Reinject inet:$FED_REINJECT_a@$(fed_addr a)|")"
    expect "Reinject a TCP port" 1 reinject warn
    fix_says "Reinject unix:/var/spool/postfix/public/fedmail-reinject"
    doctor "$(variant reinject-nobody 's|^UserID .*|UserID nobody:nogroup|')"
    expect "UserID nobody, not in postdrop" 2 reinject fail
    check "the line names public/" grep -q "^FAIL reinject .*cannot reach .*/queue/public" "$BASE/out.txt"
    doctor "$(variant reinject-defer 's|^MixedRecipients .*|MixedRecipients defer|')"
    expect "MixedRecipients defer" 0 reinject skip
fi

# ------------------------------------------------------------------ d15
if want d15; then
    scenario d15 "the organization revoked at the broker (last: it stays revoked)"
    "$FED_BROKER" -c "$BASE/broker/broker.conf" org revoke a --reason cessation-of-operation >>"$BASE/revoke.log" 2>&1 || fail "org revoke: $(cat "$BASE/revoke.log")"
    for _ in $(seq 1 20); do
        doctor "$CONF"
        [ "$(json_status certificate.revocation)" = fail ] && break
        sleep 0.5
    done
    expect "organization revoked" 2 broker fail
    expect "organization revoked" 2 certificate.revocation fail
    check "the broker line says it refuses our certificate" grep -q '^FAIL broker .* refuses our organization certificate' "$BASE/out.txt"
    cp "$BASE/out.txt" "$BASE/broken-revoked.txt"
fi

for f in healthy broken-key broken-broker broken-postfix broken-revoked; do
    [ -e "$BASE/$f.txt" ] && { echo "--- sample: $f"; cat "$BASE/$f.txt"; }
done
summary "$SUITE"
