#!/usr/bin/env bash
# Control flags from real scanning, end to end (issue 7): a REAL clamd per
# organization (Debian clamav-daemon, private config and a signature database
# written here, contrib/test/lib/clamd.sh), real Postfix + fedmail-milter at
# three organizations and one broker (contrib/test/lib/federation.sh):
#
#   A 127.0.0.50  seals; ClamdSocket (TCP) scans every original before sealing;
#                 UpstreamSpamHeader X-Spam-Status. AI (127.0.0.51) is A's
#                 internal MTA, relaying to A's gateway through its own queue.
#   B 127.0.0.60  trusts A: "a.example require trust=virus-scan,spam-scan";
#                 ClamdSocket (unix socket) - it must NOT be called for A's clean mail
#   C 127.0.0.70  does not trust A: "a.example require"; ClamdSocket (TCP):
#                 scans every message after opening
#
#   1  an infected attachment is refused by A before sealing: 550 5.7.1 with
#      the signature name; nothing crosses to B, nothing queued at A
#   2  a clean message to B: the signed flag says clean (engine, time), B adds
#      X-Virus-Scanned "... trusted by fedmail" and X-Spam-Scanned, and B's
#      clamd logs no scan; a forged X-Virus-Scanned in the original is removed
#   3  the same to C: C's clamd scans it after opening; C's header says
#      "scanned after opening", never "trusted"
#   4  A without a scanner, reading X-Virus-Status from its chain:
#      clean from the UpstreamScanHosts client (AI) -> honored by B without a scan; no field, or
#      the field from a client that is not in UpstreamScanHosts -> not-scanned, so
#      B scans; "Infected" upstream with On-Infected accept -> sealed with the
#      infected flag, B scans and refuses it (550 5.7.1), A bounces it; C with
#      On-Infected quarantine holds the opened message in its hold queue
#   5  plaintext from outside with a forged X-Virus-Scanned: removed at B
#   6  A's clamd stopped: 451 4.3.0 at SMTP; through AI the message stays
#      queued, and after clamd returns and postqueue -f it is delivered
#   7  C's clamd stopped: C answers 451 after opening, A keeps the message
#      queued; after clamd returns and postqueue -f, delivered at C, scanned
#
# KEEP=1 keeps the work directory.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
[ "$(id -u)" = 0 ] || { echo "t-scan-federation: needs root (private Postfix instances)"; exit 1; }
[ -x /usr/sbin/clamd ] || { echo "t-scan-federation: clamd missing (contrib/scripts/install-deps.sh installs clamav-daemon)"; exit 1; }
# shellcheck source=lib/federation.sh
. contrib/test/lib/federation.sh
# shellcheck source=lib/clamd.sh
. contrib/test/lib/clamd.sh
CLAMD_ORGS=()
fed_suite_cleanup() { # before fed_cleanup: each organization's clamd
    local o
    for o in "${CLAMD_ORGS[@]}"; do clamd_use "$o"; clamd_private_stop; done
}
fed_suite scan-federation || exit 1

. contrib/test/lib/scenarios.sh
die() { echo "t-scan-federation: $*"; for o in a b c; do echo "--- milter $o"; tail -n 15 "$(fed_milter_log "$o")" 2>/dev/null; done; exit 1; }
for tool in swaks python3 curl openssl postconf ss; do command -v "$tool" >/dev/null || die "$tool missing"; done

# ------------------------------------------------------------------ helpers
# One private clamd per organization; clamd.sh keeps one clamd's state in
# CLAMD_* variables, so each organization's copy is saved and restored.
clamd_save() {
    local v
    for v in DIR SOCKET PORT LOG PID UNIX INET; do local src="CLAMD_$v"; printf -v "CLAMD_${v}_$1" '%s' "${!src}"; done
}
clamd_use() {
    local v
    for v in DIR SOCKET PORT LOG PID UNIX INET; do local src="CLAMD_${v}_$1"; printf -v "CLAMD_$v" '%s' "${!src}"; done
}
clamd_for() { clamd_private_start "$BASE/clamd-$1" 25M || return 1; clamd_save "$1"; CLAMD_ORGS+=("$1"); }
clamd_stop_org() { clamd_use "$1"; clamd_private_stop; clamd_save "$1"; }
clamd_restart_org() { clamd_use "$1"; clamd_private_restart || return 1; clamd_save "$1"; }
scans() { clamd_use "$1"; clamd_scan_count; }

MARK=$(date +%s)-$$
MARKER=$(clamd_test_marker)
delivered() { find "$(pf_dir "$1")/mail" -path '*/new/*' -type f -print0 2>/dev/null | xargs -0r grep -lF -- "$2" 2>/dev/null; }
count_delivered() { delivered "$1" "$2" | grep -c . ; }
wait_delivered() { # ORG PATTERN COUNT [SECONDS]
    for _ in $(seq 1 $((${4:-30} * 5))); do
        [ "$(count_delivered "$1" "$2")" -ge "$3" ] && return 0
        sleep 0.2
    done
    return 1
}
# fields FILE NAME: every field NAME of a delivered message, unfolded, one a line
fields() {
    python3 - "$1" "$2" <<'P'
import sys, email.parser, email.policy
msg = email.parser.BytesHeaderParser(policy=email.policy.compat32).parse(open(sys.argv[1], "rb"))
for v in msg.get_all(sys.argv[2]) or []:
    print(" ".join(str(v).split()))
P
}
# mkmsg FILE TO SUBJECT TOKEN clean|infected [EXTRA HEADER LINE...]: a MIME message with
# a text part holding TOKEN and a base64 attachment (holding the test signature when infected)
mkmsg() {
    local file=$1 to=$2 subject=$3 token=$4 kind=$5; shift 5
    local payload
    if [ "$kind" = infected ]; then payload=$( { echo "report data"; echo "$MARKER"; echo "more data"; } | base64 -w 76)
    else payload=$(echo "harmless report data $token" | base64 -w 76); fi
    {
        printf 'From: Alice <alice@a.example>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@a.example>\r\n' \
            "$to" "$subject" "$(date -R)" "$token"
        local h; for h in "$@"; do printf '%s\r\n' "$h"; done
        printf 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b-%s"\r\n\r\n' "$token"
        printf -- '--b-%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBody %s: see the attachment.\r\n' "$token" "$token"
        printf -- '--b-%s\r\nContent-Type: application/octet-stream; name="report.bin"\r\n' "$token"
        printf 'Content-Disposition: attachment; filename="report.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        printf '%s\n' "$payload" | sed 's/$/\r/'
        printf -- '--b-%s--\r\n' "$token"
    } >"$file"
}
# send SERVER_ORG SOURCE_ADDR RCPT FILE: one SMTP transaction; prints "accepted" or the refusal
send() { python3 "$FED_LIB/corpus.py" --send "$(fed_addr "$1"):$(fed_port "$1")" "$2" alice@a.example "$3" "$4" 2>&1; }
tap_count() { find "$(fed_tap_dir "$1" "$2")" -name 'msg-*.eml' 2>/dev/null | wc -l; }
tap_msg() { grep -lF -- "$3" "$(fed_tap_dir "$1" "$2")"/msg-*.env 2>/dev/null | tail -n 1 | sed 's/\.env$/.eml/'; }
# open_report ORG FILE: fedmailctl open's report of a sealed message, with ORG's key
open_report() {
    local d; d=$(fed_dir "$1")
    "$FED_CTL" open --key "$d/keys/org.key" --cert "$d/keys/org.crt" --ca "$FED_BROKER_CA" --verbose "$2" /dev/null 2>&1
}
queue_has() { postqueue -c "$(pf_dir "$1")/etc" -p 2>/dev/null | grep >/dev/null -F -- "$2"; }
# deferred ORG RCPT: ORG's Postfix logged a deferral of RCPT with our 451 4.3.0
deferred() { grep -F "to=<$2>" "$(pf_log "$1")" | grep -F "status=deferred" | grep >/dev/null -F "said: 451 4.3.0 FedMail: virus scanner unavailable"; }
milter_log_has() { grep -F -- "$2" "$(fed_milter_log "$1")" | grep >/dev/null -F -- "$3"; }

# ------------------------------------------------------------------ set up
echo "== setting up: three private clamds, broker, organizations a, b, c, A's internal MTA ai"
clamd_for a || die "clamd for a did not start"
clamd_for b || die "clamd for b did not start"
clamd_for c || die "clamd for c did not start"
# B's milter (user postfix) uses the unix socket: give its group access
# (and let it through clamd's private directory, mode 0700 otherwise).
chmod 711 "$CLAMD_DIR_b" && chgrp postfix "$CLAMD_SOCKET_b" && chmod 660 "$CLAMD_SOCKET_b"
SIG=$CLAMD_SIGNATURE
ENGINE=$(clamd_use a; "$FED_CTL" scan --clamd "$CLAMD_INET" --version 2>/dev/null)
pass "clamd a (inet), b (unix), c (inet) running with the test signature $SIG; VERSION: $ENGINE"

fed_broker_start || die "broker did not start"
fed_org a 127.0.0.50 p256 a.example || die "org a"
fed_org b 127.0.0.60 p256 b.example || die "org b"
fed_org c 127.0.0.70 p256 c.example || die "org c"
fed_plain ai 127.0.0.51 ai.invalid
pf_set ai "relayhost = [$(fed_addr a)]:$(fed_port a)"
fed_allowlist a <<'L'
b.example     require
c.example     require
L
fed_allowlist b <<'L'
a.example     require       trust=virus-scan,spam-scan
L
fed_allowlist c <<'L'
a.example     require
L
A_SCAN=("ClamdSocket $CLAMD_INET_a" "ClamdTimeout 20s" "UpstreamSpamHeader X-Spam-Status" "UpstreamScanHosts $(fed_client a)")
fed_milter_conf a "${A_SCAN[@]}"
fed_milter_conf b "ClamdSocket $CLAMD_UNIX_b" "ClamdTimeout 20s"
fed_milter_conf c "ClamdSocket $CLAMD_INET_c" "ClamdTimeout 20s"
fed_route a b tap; fed_route a c tap; fed_route b a; fed_route c a; fed_route ai a
fed_mailbox a alice@a.example
fed_mailbox b bob@b.example
fed_mailbox c carol@c.example
for o in a b c; do
    "$FEDMAIL_BIN/fedmail-milter" -n -c "$(fed_dir $o)/milter.conf" >"$BASE/check-$o.txt" 2>&1 \
        || die "fedmail-milter -n refuses the config of $o: $(cat "$BASE/check-$o.txt")"
done
pass "fedmail-milter -n accepts the scanning configs of a, b, c"
printf 'Socket local:%s/x.sock\nClamdSocket %s\n# a typo\nOn-Infected drop\n' "$BASE" "$CLAMD_INET_a" >"$BASE/bad.conf"
out=$("$FEDMAIL_BIN/fedmail-milter" -n -c "$BASE/bad.conf" 2>&1); status=$?
[ "$status" = 78 ] && grep -qF "$BASE/bad.conf:4: 'On-Infected' must be one of accept, reject, tempfail, quarantine" <<<"$out" \
    && pass "fedmail-milter -n refuses a bad scanning key with its line: exit 78, $(sed 's/^fedmail-milter: //' <<<"$out")" \
    || fail "fedmail-milter -n on a bad On-Infected: exit $status, $out"
for o in a b c ai; do fed_start "$o" || die "starting $o"; done
pass "Postfix + fedmail-milter running for a, b, c; ai relays to a"

A_CLIENT=$(fed_client a)

# ------------------------------------------------------------------ 1
scenario 1 "an infected attachment is refused before sealing"
T1=infected-$MARK
mkmsg "$BASE/m1.eml" bob@b.example "the report" "$T1" infected
grep -qF "$MARKER" "$BASE/m1.eml" && fail "test input: the signature is visible without base64 decoding"
a0=$(scans a); b0=$(scans b); tap0=$(tap_count a b)
out=$(send a "$A_CLIENT" bob@b.example "$BASE/m1.eml")
if grep -q "^error 550 5.7.1 FedMail: message infected: $SIG" <<<"$out"; then
    pass "sender gets '$(head -n 1 <<<"$out" | cut -d' ' -f2-)'"
else fail "infected message not refused with 550 5.7.1 + signature: $out"; fi
[ "$(scans a)" -eq $((a0 + 1)) ] && pass "A's clamd scanned it once (log: $(grep -F "$SIG FOUND" "$CLAMD_LOG_a" | tail -n 1 | sed 's/^.*-> //'))" || fail "A's clamd scans $a0 -> $(scans a), wanted +1"
sleep 1
[ "$(tap_count a b)" -eq "$tap0" ] && pass "nothing crossed A -> B (wiretap: $tap0 messages before and after)" || fail "a message crossed A -> B"
queue_has a "bob@b.example" && fail "something is queued at A for bob@b.example" || pass "nothing queued at A"
[ "$(count_delivered b "$T1")" -eq 0 ] && [ "$(scans b)" -eq "$b0" ] && pass "nothing delivered at B, B's clamd not involved" || fail "delivered at B or B scanned"
milter_log_has a "decision=reject" "infected: $SIG" && pass "A's milter log: decision=reject (virus scan before sealing, clamd: infected: $SIG)" || fail "A's milter log lacks the reject line"

# ------------------------------------------------------------------ 2
scenario 2 "clean to the trusting partner B: flag honored, B's clamd not called, forged header removed"
T2=clean-b-$MARK
mkmsg "$BASE/m2.eml" bob@b.example "clean for B" "$T2" clean \
    "X-Virus-Scanned: clean by evil.example, trusted by fedmail" \
    "X-Spam-Status: No, score=-1.5 required=5.0 tests=NONE"
a0=$(scans a); b0=$(scans b)
out=$(send a "$A_CLIENT" bob@b.example "$BASE/m2.eml")
grep -q '^accepted' <<<"$out" || fail "clean message refused: $out"
if wait_delivered b "$T2" 1 60; then
    got=$(delivered b "$T2")
    pass "delivered at B"
    virus=$(fields "$got" X-Virus-Scanned)
    if [ "$(grep -c . <<<"$virus")" = 1 ] && grep -qE "^clean by a\.example \(ClamAV [^,]+, [0-9]{4}-[0-9]{2}-[0-9]{2}T[^)]*\), trusted by fedmail$" <<<"$virus"; then
        pass "B added exactly one X-Virus-Scanned: $virus"
    else fail "X-Virus-Scanned at B: '$virus'"; fi
    grep -q "evil.example" "$got" && fail "the forged X-Virus-Scanned from the original reached the mailbox" || pass "the forged 'X-Virus-Scanned: clean by evil.example' of the original is gone"
    spam=$(fields "$got" X-Spam-Scanned)
    grep -qE "^ham by a\.example \(.*score -1\.5.*\), trusted by fedmail$" <<<"$spam" && pass "B passes A's spam verdict on: X-Spam-Scanned: $spam" || fail "X-Spam-Scanned at B: '$spam'"
    grep -q "fedmail=pass" "$got" && pass "Authentication-Results: fedmail=pass" || fail "no fedmail=pass at B"
else fail "not delivered at B"; fi
[ "$(scans a)" -eq $((a0 + 1)) ] && pass "A's clamd scanned the original before sealing ($a0 -> $(scans a))" || fail "A's clamd scans $a0 -> $(scans a), wanted +1"
[ "$(scans b)" -eq "$b0" ] && pass "B's clamd logged no scan ($b0 -> $(scans b)): the trusted flag replaced it" || fail "B's clamd scanned ($b0 -> $(scans b))"
milter_log_has b "decision=opened" "virus=trusted spam=trusted" && pass "B's milter log: virus=trusted spam=trusted" || fail "B's milter log lacks virus=trusted"
wire=$(tap_msg a b bob@b.example)
if [ -n "$wire" ] && report=$(open_report b "$wire"); then
    vline=$(grep '^virus scan:' <<<"$report"); sline=$(grep '^spam scan:' <<<"$report")
    if grep -qE "^virus scan: clean ${ENGINE%%/*}(/[0-9]+)? [0-9]{4}-[0-9]{2}-[0-9]{2}T" <<<"$vline"; then
        pass "the signed control part (opened from the wire with B's key) says: $vline"
    else fail "control part virus flag: '$vline' (clamd VERSION $ENGINE)"; fi
    grep -q "^spam scan: ham" <<<"$sline" && pass "and: $sline" || fail "control part spam flag: '$sline'"
else fail "could not open the wire copy for the control flags: ${report:-no wire message}"; fi

# ------------------------------------------------------------------ 3
scenario 3 "clean to the partner that does not trust A: C scans after opening"
T3=clean-c-$MARK
mkmsg "$BASE/m3.eml" carol@c.example "clean for C" "$T3" clean "X-Virus-Scanned: clean by evil.example, trusted by fedmail"
c0=$(scans c)
out=$(send a "$A_CLIENT" carol@c.example "$BASE/m3.eml")
grep -q '^accepted' <<<"$out" || fail "refused: $out"
if wait_delivered c "$T3" 1 60; then
    got=$(delivered c "$T3")
    virus=$(fields "$got" X-Virus-Scanned)
    if [ "$(grep -c . <<<"$virus")" = 1 ] && grep -qE "^clean by mx\.c\.test \(ClamAV .*\), scanned after opening by fedmail$" <<<"$virus"; then
        pass "C delivered it with its own verdict: X-Virus-Scanned: $virus"
    else fail "X-Virus-Scanned at C: '$virus'"; fi
    grep -q "trusted by fedmail" "$got" && fail "C shows a trusted flag although it does not trust A" || pass "no 'trusted by fedmail' at C (its allowlist does not trust A)"
    [ -z "$(fields "$got" X-Spam-Scanned)" ] && pass "no X-Spam-Scanned at C" || fail "X-Spam-Scanned at C"
else fail "not delivered at C"; fi
[ "$(scans c)" -eq $((c0 + 1)) ] && pass "C's clamd scanned the opened message ($c0 -> $(scans c); log: $(tail -n 1 "$CLAMD_LOG_c" | sed 's/^.*-> //'))" || fail "C's clamd scans $c0 -> $(scans c), wanted +1"
milter_log_has c "decision=opened" "virus=scanned:clean" && pass "C's milter log: virus=scanned:clean" || fail "C's milter log lacks virus=scanned:clean"

# ------------------------------------------------------------------ 4
scenario 4 "A without a scanner: trusted upstream field only from an UpstreamScanHosts client"
fed_milter_conf a "UpstreamVirusHeader X-Virus-Status" "UpstreamSpamHeader X-Spam-Status" "UpstreamScanHosts $A_CLIENT" "On-Infected accept" "MTA mx.a.test"
fed_milter_restart a || die "restarting a without a scanner"
T4a=upstream-clean-$MARK; T4b=upstream-none-$MARK; T4c=upstream-external-$MARK; T4d=upstream-infected-$MARK
mkmsg "$BASE/m4a.eml" bob@b.example "upstream clean" "$T4a" clean "X-Virus-Scanned: clamav-milter 1.0.7 at relay.a.example" "X-Virus-Status: Clean"
mkmsg "$BASE/m4b.eml" bob@b.example "no upstream field" "$T4b" clean
mkmsg "$BASE/m4c.eml" bob@b.example "upstream clean from outside" "$T4c" clean "X-Virus-Status: Clean"
mkmsg "$BASE/m4d.eml" bob@b.example "upstream infected" "$T4d" infected "X-Virus-Status: Infected (Upstream.Test.Sig)"
a0=$(scans a); b0=$(scans b)
out=$(send a "$A_CLIENT" bob@b.example "$BASE/m4a.eml")
if grep -q '^accepted' <<<"$out" && wait_delivered b "$T4a" 1 60; then
    virus=$(fields "$(delivered b "$T4a")" X-Virus-Scanned)
    grep -qE "^clean by a\.example \(clamav-milter 1\.0\.7 at relay\.a\.example, .*\), trusted by fedmail$" <<<"$virus" \
        && pass "X-Virus-Status: Clean from the UpstreamScanHosts client -> flag clean -> B: $virus" || fail "X-Virus-Scanned at B: '$virus'"
else fail "upstream-clean message not delivered: $out"; fi
[ "$(scans b)" -eq "$b0" ] && pass "B's clamd not called for it" || fail "B scanned a message with a trusted clean flag"
b1=$(scans b)
out=$(send a "$A_CLIENT" bob@b.example "$BASE/m4b.eml")
if grep -q '^accepted' <<<"$out" && wait_delivered b "$T4b" 1 60; then
    virus=$(fields "$(delivered b "$T4b")" X-Virus-Scanned)
    grep -q "scanned after opening by fedmail$" <<<"$virus" && [ "$(scans b)" -eq $((b1 + 1)) ] \
        && pass "no upstream field -> flag not-scanned -> B scanned it itself ($b1 -> $(scans b)): $virus" || fail "no field: B scans $b1 -> $(scans b), header '$virus'"
else fail "no-field message not delivered: $out"; fi
b2=$(scans b)
# From 127.0.0.1: outbound only because A's milter lists its daemon name (MTA), not an internal host.
out=$(send a 127.0.0.1 bob@b.example "$BASE/m4c.eml")
if grep -q '^accepted' <<<"$out" && wait_delivered b "$T4c" 1 60; then
    virus=$(fields "$(delivered b "$T4c")" X-Virus-Scanned)
    grep -q "scanned after opening by fedmail$" <<<"$virus" && [ "$(scans b)" -eq $((b2 + 1)) ] \
        && pass "X-Virus-Status: Clean from a client that is not in UpstreamScanHosts is not trusted: B scanned it ($b2 -> $(scans b))" \
        || fail "external upstream field: B scans $b2 -> $(scans b), header '$virus'"
else fail "external message not delivered: $out"; fi
grep -q "present but the client is not in UpstreamScanHosts" "$(fed_milter_log a)" && pass "A's log: X-Virus-Status present but the client is not in UpstreamScanHosts; not trusted" || fail "A's log lacks the untrusted-upstream note"
b3=$(scans b)
out=$(send a "$A_CLIENT" bob@b.example "$BASE/m4d.eml")
grep -q '^accepted' <<<"$out" && pass "upstream 'Infected' with On-Infected accept: A seals it with the infected flag" || fail "upstream-infected message refused at A: $out"
for _ in $(seq 1 100); do grep -q "said: 550 5.7.1 FedMail: message infected: $SIG" "$(pf_log a)" && break; sleep 0.2; done
if grep -q "said: 550 5.7.1 FedMail: message infected: $SIG" "$(pf_log a)"; then
    pass "B did not honor the infected flag, scanned and refused it: A's Postfix log: $(grep -o "said: 550 5.7.1 FedMail: message infected: $SIG" "$(pf_log a)" | head -n 1)"
else fail "B did not refuse the infected message (A's log: $(grep -F "$T4d" "$(pf_log a)" | tail -n 1))"; fi
[ "$(scans b)" -eq $((b3 + 1)) ] && pass "B's clamd found it ($b3 -> $(scans b))" || fail "B scans $b3 -> $(scans b)"
milter_log_has b "decision=reject" "the partner's virus scan says 'infected', not clean" \
    && pass "B's milter log: the partner's virus scan says 'infected', not clean -> scanned, rejected" || fail "B's milter log lacks the reason"
[ "$(count_delivered b "$T4d")" -eq 0 ] && pass "nothing delivered at B" || fail "infected message delivered at B"
wait_delivered a "$T4d" 1 30 && pass "A bounced it to the sender (non-delivery report in alice's mailbox)" || fail "no bounce at A"
# C with On-Infected quarantine: the opened message is held, for the operator to inspect.
fed_milter_conf c "ClamdSocket $CLAMD_INET_c" "ClamdTimeout 20s" "On-Infected quarantine"
fed_milter_restart c || die "restarting c with On-Infected quarantine"
T4e=upstream-infected-c-$MARK
mkmsg "$BASE/m4e.eml" carol@c.example "infected, to be held" "$T4e" infected "X-Virus-Status: Infected (Upstream.Test.Sig)"
c0=$(scans c)
out=$(send a "$A_CLIENT" carol@c.example "$BASE/m4e.eml")
grep -q '^accepted' <<<"$out" || fail "A refused: $out"
held=
for _ in $(seq 1 100); do held=$(pf_queue c | awk '/^[0-9A-F]+!/ { sub("!", "", $1); print $1 }' | head -n 1); [ -n "$held" ] && break; sleep 0.2; done
if [ -n "$held" ]; then
    postcat -c "$(pf_dir c)/etc" -q "$held" >"$BASE/held.txt" 2>&1
    grep -q "^Subject: infected, to be held" "$BASE/held.txt" && ! grep -q "smime-type=authEnveloped-data" "$BASE/held.txt" \
        && pass "On-Infected quarantine at C: held in C's hold queue ($held), as the opened message (real Subject, not sealed)" \
        || fail "held message at C is not the opened one: $(grep -m2 -E '^(Subject|Content-Type):' "$BASE/held.txt" | tr '\n' ' ')"
else fail "nothing held at C: $(pf_queue c | head -n 5)"; fi
[ "$(scans c)" -eq $((c0 + 1)) ] && [ "$(count_delivered c "$T4e")" -eq 0 ] && pass "C's clamd found it; not delivered" || fail "C scans $c0 -> $(scans c), delivered $(count_delivered c "$T4e")"
milter_log_has c "decision=quarantine" "infected: $SIG" && pass "C's milter log: decision=quarantine (infected: $SIG)" || fail "C's milter log lacks decision=quarantine"
postsuper -c "$(pf_dir c)/etc" -d ALL hold >/dev/null 2>&1
fed_milter_conf c "ClamdSocket $CLAMD_INET_c" "ClamdTimeout 20s"
fed_milter_restart c || die "restarting c"
[ "$(scans a)" -eq "$a0" ] && pass "A's clamd not used while ClamdSocket is unset" || fail "A's clamd scanned ($a0 -> $(scans a))"
fed_milter_conf a "${A_SCAN[@]}"
fed_milter_restart a || die "restarting a with its scanner"

# ------------------------------------------------------------------ 5
scenario 5 "plaintext from outside with a forged X-Virus-Scanned: removed at B"
T5=plain-$MARK
printf 'From: <someone@elsewhere.example>\r\nTo: <bob@b.example>\r\nSubject: hi\r\nMessage-ID: <%s@elsewhere.example>\r\nX-Virus-Scanned: clean by a.example, trusted by fedmail\r\nX-Spam-Scanned: ham by a.example, trusted by fedmail\r\n\r\nBody %s\r\n' "$T5" "$T5" >"$BASE/m5.eml"
out=$(python3 "$FED_LIB/corpus.py" --send "$(fed_addr b):$(fed_port b)" 127.0.0.1 someone@elsewhere.example bob@b.example "$BASE/m5.eml" 2>&1)
if grep -q '^accepted' <<<"$out" && wait_delivered b "$T5" 1 30; then
    got=$(delivered b "$T5")
    [ -z "$(fields "$got" X-Virus-Scanned)$(fields "$got" X-Spam-Scanned)" ] && pass "delivered without the forged X-Virus-Scanned / X-Spam-Scanned" || fail "forged fields delivered: $(fields "$got" X-Virus-Scanned)"
else fail "plaintext not delivered: $out"; fi

# ------------------------------------------------------------------ 6
scenario 6 "A's clamd stopped: tempfail at SMTP, queued at the client, delivered after clamd returns"
clamd_stop_org a
T6a=down-direct-$MARK; T6=down-queued-$MARK
mkmsg "$BASE/m6a.eml" bob@b.example "clamd down" "$T6a" clean
mkmsg "$BASE/m6.eml" bob@b.example "clamd down, queued" "$T6" clean
tap0=$(tap_count a b)
out=$(send a "$A_CLIENT" bob@b.example "$BASE/m6a.eml")
grep -q "^error 451 4.3.0 FedMail: virus scanner unavailable" <<<"$out" && pass "direct submission: $(cut -d' ' -f2- <<<"$out")" || fail "with clamd down, A answered: $out"
out=$(python3 "$FED_LIB/corpus.py" --send "$(fed_addr ai):$(fed_port ai)" 127.0.0.1 alice@a.example bob@b.example "$BASE/m6.eml" 2>&1)
grep -q '^accepted' <<<"$out" || fail "ai did not take the message: $out"
for _ in $(seq 1 100); do deferred ai bob@b.example && break; sleep 0.2; done
deferred ai bob@b.example && pass "A's gateway answered ai with 451 4.3.0 (ai's log)" || fail "no 451 in ai's log"
queue_has ai "bob@b.example" && pass "the message waits in ai's queue" || fail "the message is not in ai's queue"
[ "$(tap_count a b)" -eq "$tap0" ] && [ "$(count_delivered b "$T6")" -eq 0 ] && pass "nothing crossed to B meanwhile" || fail "something crossed to B while clamd was down"
clamd_restart_org a || die "clamd a did not restart"
a0=$(scans a)
postqueue -c "$(pf_dir ai)/etc" -f
if wait_delivered b "$T6" 1 60; then
    virus=$(fields "$(delivered b "$T6")" X-Virus-Scanned)
    pass "after clamd returned and postqueue -f: delivered at B, scanned by A, trusted by B ($virus)"
    [ "$(scans a)" -gt "$a0" ] && pass "A's clamd scanned it after its return" || fail "A's clamd count did not move"
else fail "not delivered after clamd returned: $(pf_queue ai | tail -n 3)"; fi
queue_has ai "bob@b.example" && fail "still queued at ai" || pass "ai's queue is empty: nothing lost"

# ------------------------------------------------------------------ 7
scenario 7 "C's clamd stopped: C tempfails after opening, A keeps it, delivered after clamd returns"
clamd_stop_org c
T7=down-inbound-$MARK
mkmsg "$BASE/m7.eml" carol@c.example "C's clamd down" "$T7" clean
out=$(send a "$A_CLIENT" carol@c.example "$BASE/m7.eml")
grep -q '^accepted' <<<"$out" || fail "A refused: $out"
for _ in $(seq 1 100); do deferred a carol@c.example && break; sleep 0.2; done
deferred a carol@c.example && pass "C answered A with 451 4.3.0 after opening (A's log: status=deferred)" || fail "no 451 from C in A's log"
queue_has a "carol@c.example" && pass "the sealed message waits in A's queue" || fail "not in A's queue"
[ "$(count_delivered c "$T7")" -eq 0 ] && pass "nothing delivered at C unscanned" || fail "delivered at C while its clamd was down"
c0=$(scans c)
clamd_restart_org c || die "clamd c did not restart"
postqueue -c "$(pf_dir a)/etc" -f
if wait_delivered c "$T7" 1 60; then
    virus=$(fields "$(delivered c "$T7")" X-Virus-Scanned)
    grep -q "scanned after opening by fedmail$" <<<"$virus" && [ "$(scans c)" -gt "$c0" ] \
        && pass "after clamd returned and postqueue -f: delivered at C, scanned ($virus)" || fail "delivered at C but '$virus', scans $c0 -> $(scans c)"
else fail "not delivered at C after clamd returned: $(pf_queue a | tail -n 3)"; fi
queue_has a "carol@c.example" && fail "still queued at A" || pass "A's queue is empty: nothing lost"

echo "t-scan-federation: $passes passed, $failures failed"
for f in "${failed[@]}"; do echo "  failed: $f"; done
[ "$failures" -eq 0 ]
