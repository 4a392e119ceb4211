#!/usr/bin/env bash
# FedMail with a real Sendmail (Debian's sendmail-bin, issue 6 item 4).
#
# One broker; organization S is a real Sendmail gateway (127.0.0.42, RSA
# 3072) with the INPUT_MAIL_FILTER lines of contrib/sendmail/fedmail.mc
# pointing at its own fedmail-milter, plus a Sendmail daemon without input
# filters for re-injection; S's mailboxes live on a plain Postfix mail store
# behind it (127.0.0.46, reached through S's mailertable). Organization P is
# a real Postfix gateway (127.0.0.44, P-256) with its fedmail-milter
# (contrib/test/lib/federation.sh). S and P reach each other through SMTP
# wiretaps that record the bytes on the wire. Sendmail is not installed:
# its .debs are downloaded once and unpacked into a cache
# (contrib/test/lib/sendmail.sh).
#
#   s1  Sendmail S seals -> Postfix P opens: sealed on the wire (no body, no
#       Subject), delivered at P with the original body and Subject and
#       fedmail=pass; the macros Sendmail passed to the milter
#   s2  the sealing corpus S -> P: what P delivers equals what S's own mail
#       store delivers for the same bytes (only trace headers differ)
#   s3  mixed recipients (P + S's own domain), MixedRecipients split:
#       smfi_delrcpt and re-injection through Sendmail's filterless daemon
#   s4  {daemon_name}: a Sendmail daemon named MSA, listed in the milter's
#       MTA key, makes mail from an outside address outbound (sealed)
#   s5  Postfix P seals -> Sendmail S opens: headers and body replaced
#       through Sendmail's libmilter, fedmail=pass at S's mail store
#   s6  the sealing corpus P -> S: what S's store receives equals what P
#       delivers itself for the same bytes (header order included)
#   s7  tampered in transit P -> S: Sendmail answers 550 5.7.1, nothing
#       delivered; with On-BadSeal quarantine, Sendmail holds it in its
#       quarantine (smfi_quarantine); plaintext forging From of a require
#       partner: 550
#   s8  broker down: Sendmail answers 451 4.7.0 for a require partner
#       (never plaintext)
#
# KEEP=1 keeps the work directory. ONLY="s1 s5" runs only those scenarios.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=lib/federation.sh
. contrib/test/lib/federation.sh
. contrib/test/lib/messages.sh
. contrib/test/lib/checks.sh
fed_suite sendmail || exit 1

. contrib/test/lib/scenarios.sh
diagnose() {
    for o in s p; do echo "--- milter $o (last lines)"; tail -n 15 "$(fed_milter_log "$o")" 2>/dev/null; done
    echo "--- sendmail s (last lines)"; tail -n 25 "$(sm_log s)" 2>/dev/null
}
die() { echo "t-sendmail: $*"; diagnose; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (private Postfix and Sendmail instances)"
for tool in swaks python3 curl openssl postconf unshare apt-get dpkg; do command -v "$tool" >/dev/null || die "$tool missing"; done

# ------------------------------------------------------------------ helpers
MARK=$(date +%s)-$$
submit() { # submit SERVER SOURCE FROM TO[,TO] SUBJECT BODY [swaks args]
    local server=$1 source=$2 from=$3 to=$4 subject=$5 body=$6; shift 6
    swaks --server "$server" --local-interface "$source" --from "$from" --to "$to" \
        --h-From "<$from>" --h-Subject "$subject" --body "$body" --timeout 60 "$@" 2>&1
}
accepted() { grep -qE '^<-  250 2\.0\.0 .*([Oo]k|[Mm]essage accepted)' <<<"$1"; }
refusal() { grep -E '^<\*\* ' <<<"$1" | head -n 1 | sed -E 's/^<\*\* +//' | tr -d '\r'; }
ar_pass() { # ar_pass FILE AUTHSERV SENDER-DOMAIN: Authentication-Results says fedmail=pass from SENDER-DOMAIN
    local fields; fields=$(grep -a -A3 -i "^Authentication-Results: ${2//./\\.};" "$1" | tr -d '\n\t')
    grep -qE "fedmail=pass.*header\.from=[^ ;]*${3//./\\.}" <<<"$fields"
}
received_by() { # received_by FILE HOST: a Received field (unfolded) says "by HOST"
    python3 - "$1" "$2" <<'P'
import sys, email.parser, email.policy
msg = email.parser.BytesHeaderParser(policy=email.policy.compat32).parse(open(sys.argv[1], "rb"))
sys.exit(0 if any((" by %s " % sys.argv[2]) in " ".join(str(v).split()) + " " for v in msg.get_all("Received") or []) else 1)
P
}
wire_for() { # wire_for FROM TO RCPT: the recorded messages (.eml) whose envelope names RCPT
    grep -l -- "$3" "$(fed_tap_dir "$1" "$2")"/msg-*.env 2>/dev/null | sed 's/\.env$/.eml/'
}
# Sendmail's log lines for a queue id
sm_qid_lines() { grep -F " $2: " "$(sm_log "$1")"; }

# ------------------------------------------------------------------ federation
echo "== setting up: broker; s (Sendmail gateway, 127.0.0.42) + its mail store (Postfix, 127.0.0.46); p (Postfix gateway, 127.0.0.44)"
fed_broker_start || die "broker did not start"
fed_org_sendmail s 127.0.0.42 rsa3072 s.example || die "org s (Sendmail)"
fed_org p 127.0.0.44 p256 p.example p2.example || die "org p"
fed_plain store 127.0.0.46 s.example
pass "broker on $FED_BROKER_URL; s and p enrolled and approved; Sendmail $(sm_version) unpacked from $(ls "$SM_CACHE/debs" | grep -c deb) cached .debs"

fed_allowlist s <<'L'
p.example     require
p2.example    require
L
fed_allowlist p <<'L'
s.example     require
L
# S: the own domain goes to the mail store; a second daemon named MSA whose
# mail the milter counts as outbound (MTA key), from any address.
MSA_PORT=$(pf_free_port)
sm_listener s "$MSA_PORT" MSA
fed_milter_conf s "MTA MSA"
# The mail store route has no line limit (L=0), so S's own copy of a line
# longer than 990 is not broken and can serve as the s2 reference.
fed_route s p tap; sm_route s s.example "$(fed_addr store):$(fed_port store)" 0
fed_route p s tap
for box in bob@p.example carol@p.example corpus@p.example msa@p.example; do fed_mailbox p "$box"; done
for box in alice@s.example ref@s.example dave@s.example local@s.example; do fed_mailbox store "$box"; done
for o in s p; do
    "$FEDMAIL_BIN/fedmail-milter" -n -c "$(fed_dir $o)/milter.conf" >"$BASE/check-$o.txt" 2>&1 \
        || die "fedmail-milter -n refuses the config of $o: $(cat "$BASE/check-$o.txt")"
done
for o in store p s; do fed_start "$o" || die "starting $o"; done
grep -q '^Xfedmail, S=local:.*milter.sock, F=T, T=C:30s;S:60s;R:60s;E:5m' "$(sm_cf s)" \
    && pass "sendmail.cf built by m4 from the mc with contrib/sendmail/fedmail.mc's INPUT_MAIL_FILTER: $(grep -m1 '^Xfedmail' "$(sm_cf s)")" \
    || fail "no Xfedmail line from the snippet in sendmail.cf"
pass "running: Sendmail s on $(fed_addr s):$(fed_port s) (+ re-injection :$FED_REINJECT_s, MSA :$MSA_PORT), Postfix p on $(fed_addr p):$(fed_port p), store on $(fed_addr store):$(fed_port store)"

S_SERVER=$(fed_addr s):$(fed_port s); S_CLIENT=$(fed_client s)
# Does this Sendmail offer SMTPUTF8 (Debian 12's 8.17 does not)?
ehlo=$(swaks --server "$S_SERVER" --quit-after EHLO 2>&1)
if grep -q "250.SMTPUTF8" <<<"$ehlo"; then SM_SMTPUTF8=true; else SM_SMTPUTF8=false; fi
P_SERVER=$(fed_addr p):$(fed_port p); P_CLIENT=$(fed_client p)

# ------------------------------------------------------------------ s1
if want s1; then
scenario s1 "Sendmail S seals -> Postfix P opens"
SECRET_S="Merger plans $MARK"; SECRET_B="The secret body text $MARK"
out=$(submit "$S_SERVER" "$S_CLIENT" alice@s.example bob@p.example "$SECRET_S" "$SECRET_B")
accepted "$out" && pass "Sendmail S accepted the submission from the internal client $S_CLIENT" || fail "Sendmail refused: $(refusal "$out")"
qid=$(grep -oE '^<-  250 2\.0\.0 [^ ]+ Message accepted' <<<"$out" | awk '{print $4}')
if wait_delivered p "$SECRET_B" 1 60; then pass "delivered at P"; else fail "not delivered at P"; fi
got=$(delivered p "$SECRET_B" | head -n 1)
if [ -n "$got" ]; then
    ar_pass "$got" mx.p.test s.example && pass "P's copy: Authentication-Results: mx.p.test; fedmail=pass header.from=s.example" \
        || fail "no fedmail=pass at P: $(grep -i -A2 '^Authentication-Results' "$got" | head -n 3)"
    [ "$(header_value "$got" Subject)" = "$SECRET_S" ] && pass "the real Subject is back at P" || fail "Subject at P: '$(header_value "$got" Subject)'"
    grep -qF "$SECRET_B" "$got" && ! grep -qi '^FedMail-Token' "$got" && pass "P's copy is the original body, no sealed leftovers" || fail "P's copy is not the original"
fi
sleep 0.5
wire=$(wire_for s p bob@p.example | head -n 1)
if [ -z "$wire" ]; then fail "nothing crossed S->P for bob@p.example"
else
    sealed_wire "$wire" && pass "wire copy S->P: application/pkcs7-mime authEnveloped-data with FedMail-Token (sealed by Sendmail's milter)" || fail "wire copy not sealed: $(head -c 600 "$wire")"
    if grep -rqF "$SECRET_B" "$(fed_tap_dir s p)"/conn-*.log; then fail "body text visible on the wire"; else pass "body text not on the wire (whole S->P sessions searched)"; fi
    if grep -rqF "$SECRET_S" "$(fed_tap_dir s p)"/conn-*.log; then fail "Subject visible on the wire"; else pass "Subject not on the wire; outer Subject: '$(header_value "$wire" Subject)'"; fi
    received_by "$wire" mx.s.test && pass "the wire copy was relayed by Sendmail (Received: ... by mx.s.test (8.17...))" || fail "no Sendmail Received header on the wire copy"
fi
# What Sendmail handed the milter: connect macros and the queue id.
mlog=$(fed_milter_log s)
grep -qE "connect from .*\[$S_CLIENT\] mta=mx\.s\.test daemon=MTA client_addr=$S_CLIENT" "$mlog" \
    && pass "Sendmail passed j, {daemon_name}, {client_addr} to the milter: $(grep -m1 -oE "\[$S_CLIENT\] mta=[^ ]+ daemon=[^ ]+ client_addr=[^ ]+" "$mlog")" \
    || fail "connect macros not seen by the milter: $(grep -m1 'connect from' "$mlog")"
if [ -n "$qid" ] && grep -q "$qid" "$mlog"; then pass "the milter logged Sendmail's queue id $qid (macro i)"; else fail "queue id '${qid:-?}' not in the milter log"; fi
if [ -n "$qid" ]; then
    # Sendmail's own account (MilterLogLevel 14) of what the milter did.
    lines=$(sm_qid_lines s "$qid")
    grep -q "Milter (fedmail): init success to negotiate" <<<"$lines" && pass "Sendmail: Milter (fedmail): init success to negotiate" || fail "no successful negotiation in Sendmail's log"
    grep -q "Milter (fedmail) message: body replaced" <<<"$lines" \
        && grep -q "Milter (fedmail) insert ([0-9]*): header: Content-Type: *application/pkcs7-mime" <<<"$lines" \
        && grep -q "Milter (fedmail) delete: header Subject: $SECRET_S" <<<"$lines" \
        && pass "Sendmail applied the milter's changes: body replaced, Subject deleted, Content-Type: application/pkcs7-mime inserted" \
        || fail "Sendmail's log lacks the milter's body replacement or header changes: $(grep -c 'Milter (fedmail)' <<<"$lines") Milter lines"
    grep -qE "to=<bob@p.example>.*stat=Sent" <<<"$lines" && pass "Sendmail: to=<bob@p.example> stat=Sent" || fail "Sendmail did not send it: $(tail -n 2 <<<"$lines")"
fi
fi

# ------------------------------------------------------------------ s2
if want s2; then
scenario s2 "the sealing corpus S -> P, delivered like S's own copy"
CORPUS=$BASE/corpus; python3 "$FED_LIB/corpus.py" "$CORPUS" "Alice <alice@s.example>" "Bob <corpus@p.example>"
for f in "$CORPUS"/*.eml; do
    name=$(basename "$f" .eml)
    mid=$(grep -a -m1 -i '^Message-ID:' "$f" | sed 's/^[^<]*//' | tr -d '\r')
    out1=$(send_file "$S_SERVER" "$S_CLIENT" alice@s.example ref@s.example "$f")
    out2=$(send_file "$S_SERVER" "$S_CLIENT" alice@s.example corpus@p.example "$f")
    # Debian's Sendmail (CVE-2023-51765 fix) refuses bare LF and NUL bytes
    # in DATA before any filter runs: then both must be refused alike.
    if grep -q "Bare linefeed\|NUL" <<<"$out1$out2"; then
        if ! grep -q accepted <<<"$out1$out2"; then pass "$name: refused by Sendmail itself for both, before the milter ($(head -n 1 <<<"$out2" | sed 's/^error //'))"
        else fail "$name: refused only once (reference: $out1; to P: $out2)"; fi
        continue
    fi
    if ! grep -q accepted <<<"$out1" || ! grep -q accepted <<<"$out2"; then fail "$name: not accepted (reference: $out1; to P: $out2)"; continue; fi
    if ! wait_delivered store "$mid" 1 60; then fail "$name: reference copy not delivered at S's store"; continue; fi
    if ! wait_delivered p "$mid" 1 60; then fail "$name: not delivered at P"; continue; fi
    ref=$(delivered store "$mid"); got=$(delivered p "$mid")
    if [ "$(grep -c . <<<"$got")" != 1 ]; then fail "$name: $(grep -c . <<<"$got") copies at P"; continue; fi
    strip_trace "$ref" >"$BASE/ref-$name"; strip_trace "$got" >"$BASE/got-$name"
    if cmp -s "$BASE/ref-$name" "$BASE/got-$name"; then ok_exact="byte-exact"; else ok_exact=""; fi
    if [ -n "$ok_exact" ] && ar_pass "$got" mx.p.test s.example; then pass "$name: delivered at P byte-exact as at S's store ($(stat -c %s "$got") bytes), fedmail=pass"
    elif [ -z "$ok_exact" ]; then fail "$name: P's copy differs from S's own: $(cmp "$BASE/ref-$name" "$BASE/got-$name" 2>&1 | head -n 1)"
    else fail "$name: no fedmail=pass at P"; fi
done
fi

# ------------------------------------------------------------------ s3
if want s3; then
scenario s3 "mixed recipients through Sendmail (split: smfi_delrcpt + re-injection)"
body="Mixed split $MARK"
out=$(submit "$S_SERVER" "$S_CLIENT" alice@s.example carol@p.example,local@s.example "Split $MARK" "$body")
accepted "$out" && pass "accepted in one transaction" || fail "refused: $(refusal "$out")"
wait_delivered p "$body" 1 60; wait_delivered store "$body" 1 60; sleep 1
np=$(count_delivered p "$body"); ns=$(count_delivered store "$body")
[ "$np" = 1 ] && [ "$ns" = 1 ] && pass "one copy at P, one at S's own store" || fail "$np copies at P, $ns at S's store"
f=$(delivered p "$body" | head -n 1); [ -n "$f" ] && ar_pass "$f" mx.p.test s.example && pass "P's copy arrived sealed and was opened (fedmail=pass)" || fail "P's copy not verified"
f=$(delivered store "$body" | head -n 1); [ -n "$f" ] && ! grep -qi '^FedMail-Token' "$f" && [ "$(header_value "$f" Subject)" = "Split $MARK" ] && pass "local@s.example got the plaintext original" || fail "local@s.example's copy is not the plaintext original"
w=$(wire_for s p carol@p.example)
[ "$(grep -c . <<<"$w")" = 1 ] && sealed_wire "$w" && ! grep -q "local@s.example" "${w%.eml}.env" && pass "one sealed copy crossed S->P, for carol@p.example only" || fail "wire S->P: '$w'"
grep -qE "daemon=MTA-reinject" "$(sm_log s)" && pass "the sealed copy came back through Sendmail's re-injection daemon (daemon=MTA-reinject)" || fail "no re-injection seen in Sendmail's log"
grep -qE "daemon=MTA-reinject" "$(fed_milter_log s)" && fail "the re-injected copy went through the milter again (InputMailFilters= not honored)" || pass "the re-injection daemon ran no filter (InputMailFilters=): the milter never saw daemon=MTA-reinject"
grep -q "Milter (fedmail) delete: rcpt <carol@p.example>" "$(sm_log s)" && pass "Sendmail removed carol@p.example from the plaintext original (smfi_delrcpt)" || fail "no 'Milter (fedmail) delete: rcpt <carol@p.example>' in Sendmail's log"
fi

# ------------------------------------------------------------------ s4
if want s4; then
scenario s4 "{daemon_name}: Sendmail's MSA daemon is in the milter's MTA list"
body="Via the MSA $MARK"
out=$(submit "$(fed_addr s):$MSA_PORT" 127.0.0.48 alice@s.example msa@p.example "MSA $MARK" "$body")
accepted "$out" && pass "the MSA daemon accepted mail from 127.0.0.48 (not in InternalHosts)" || fail "refused: $(refusal "$out")"
wait_delivered p "$body" 1 60 || true
f=$(delivered p "$body" | head -n 1); [ -n "$f" ] && ar_pass "$f" mx.p.test s.example && pass "sealed as outbound (daemon=MSA) and opened at P" || fail "not delivered sealed at P"
w=$(wire_for s p msa@p.example | head -n 1); [ -n "$w" ] && sealed_wire "$w" && pass "sealed on the wire" || fail "not sealed on the wire"
grep -qE "connect from .*\[127\.0\.0\.48\].*daemon=MSA" "$(fed_milter_log s)" && pass "the milter saw daemon=MSA" || fail "the milter did not see daemon=MSA"
fi

# ------------------------------------------------------------------ s5
if want s5; then
scenario s5 "Postfix P seals -> Sendmail S opens"
SECRET_S="Reply plans $MARK"; SECRET_B="The reply body $MARK"
out=$(submit "$P_SERVER" "$P_CLIENT" bob@p.example dave@s.example "$SECRET_S" "$SECRET_B")
accepted "$out" && pass "Postfix P accepted the submission" || fail "Postfix P refused: $(refusal "$out")"
if wait_delivered store "$SECRET_B" 1 60; then pass "delivered through Sendmail S to its store"; else fail "not delivered at S's store"; fi
got=$(delivered store "$SECRET_B" | head -n 1)
if [ -n "$got" ]; then
    ar_pass "$got" mx.s.test p.example && pass "Sendmail's copy: Authentication-Results: mx.s.test; fedmail=pass header.from=p.example" \
        || fail "no fedmail=pass from mx.s.test: $(grep -i -A2 '^Authentication-Results' "$got" | head -n 3)"
    [ "$(header_value "$got" Subject)" = "$SECRET_S" ] && pass "headers replaced through Sendmail: the real Subject is back" || fail "Subject at S: '$(header_value "$got" Subject)'"
    grep -qF "$SECRET_B" "$got" && pass "body replaced through Sendmail: the original body" || fail "body not replaced"
    grep -qiE '^(FedMail-Token|Content-Type: application/pkcs7-mime)' "$got" && fail "sealed headers left over at S: $(grep -iE '^(FedMail-Token|Content-Type)' "$got" | head -n 2)" || pass "no sealed headers left (FedMail-Token, pkcs7-mime removed)"
    received_by "$got" mx.s.test && pass "relayed by Sendmail S (Received: by mx.s.test)" || fail "no Received header of Sendmail S"
    qid=$(grep -F "msgid=$(header_value "$got" Message-Id)" "$(sm_log s)" | grep -m1 -oE ' [0-9A-Za-z]{14}: ' | tr -d ' :')
    lines=$(sm_qid_lines s "${qid:-none}")
    if [ -n "$qid" ] && grep -q "Milter (fedmail) message: body replaced" <<<"$lines" \
        && grep -q "Milter (fedmail) delete: header Content-Type: *application/pkcs7-mime" <<<"$lines" \
        && grep -q "Milter (fedmail) insert ([0-9]*): header: Subject: *$SECRET_S" <<<"$lines"; then
        pass "Sendmail's log for $qid: body replaced, pkcs7-mime Content-Type deleted, the real Subject inserted"
    else fail "Sendmail's log for '${qid:-?}' lacks the opening changes"; fi
fi
w=$(wire_for p s dave@s.example | head -n 1)
[ -n "$w" ] && sealed_wire "$w" && ! grep -rqF "$SECRET_B" "$(fed_tap_dir p s)"/conn-*.log && ! grep -rqF "$SECRET_S" "$(fed_tap_dir p s)"/conn-*.log \
    && pass "sealed on the wire P->S, neither body nor Subject visible" || fail "wire P->S not sealed: '$w'"
fi

# ------------------------------------------------------------------ s6
if want s6; then
scenario s6 "the sealing corpus P -> S: opened by Sendmail's milter exactly as P delivers it"
CORPUS=$BASE/corpus-ps; python3 "$FED_LIB/corpus.py" "$CORPUS" "Bob <bob@p.example>" "Dave <dave@s.example>"
for f in "$CORPUS"/*.eml; do
    name=$(basename "$f" .eml)
    mid=$(grep -a -m1 -i '^Message-ID:' "$f" | sed 's/^[^<]*//' | tr -d '\r')
    out1=$(send_file "$P_SERVER" "$P_CLIENT" bob@p.example carol@p.example "$f")
    out2=$(send_file "$P_SERVER" "$P_CLIENT" bob@p.example dave@s.example "$f")
    if ! grep -q accepted <<<"$out1" || ! grep -q accepted <<<"$out2"; then fail "$name: not accepted (reference: $out1; to S: $out2)"; continue; fi
    if ! wait_delivered p "$mid" 1 60; then fail "$name: reference copy not delivered at P"; continue; fi
    if [ "$name" = utf8-headers ] && ! "$SM_SMTPUTF8"; then
        # An internationalized address (From: jürgen@...) needs SMTPUTF8 on
        # every hop, and Debian's Sendmail 8.17 does not offer it: Postfix
        # bounces it to Sendmail sealed or not (FedMail copies From outside).
        for _ in $(seq 1 100); do grep -q "dave@s.example.*SMTPUTF8 is required" "$(pf_log p)" && break; sleep 0.2; done
        grep -q "dave@s.example.*SMTPUTF8 is required, but was not offered" "$(pf_log p)" \
            && pass "$name: P does not send it to Sendmail, which has no SMTPUTF8 ($(grep -m1 -o 'SMTPUTF8 is required[^)]*)' "$(pf_log p)"))" \
            || fail "$name: no SMTPUTF8 bounce at P and not delivered"
        continue
    fi
    if ! wait_delivered store "$mid" 1 60; then fail "$name: not delivered through Sendmail S"; continue; fi
    ref=$(delivered p "$mid"); got=$(delivered store "$mid")
    if [ "$(grep -c . <<<"$got")" != 1 ]; then fail "$name: $(grep -c . <<<"$got") copies at S's store"; continue; fi
    strip_trace "$ref" >"$BASE/ref-ps-$name"; strip_trace "$got" >"$BASE/got-ps-$name"
    if ! cmp -s "$BASE/ref-ps-$name" "$BASE/got-ps-$name"; then
        fail "$name: opened at S differs from P's own copy: $(cmp "$BASE/ref-ps-$name" "$BASE/got-ps-$name" 2>&1 | head -n 1); headers at S: $(grep -a -m8 -oE '^[A-Za-z-]+:' "$BASE/got-ps-$name" | paste -sd' ')"
    elif ! ar_pass "$got" mx.s.test p.example; then fail "$name: no fedmail=pass from mx.s.test"
    else pass "$name: opened by Sendmail's milter byte-exact as P delivers it ($(stat -c %s "$got") bytes), fedmail=pass"; fi
done
fi

# ------------------------------------------------------------------ s7
if want s7; then
scenario s7 "tampered P -> S: Sendmail rejects; plaintext forging a require partner: 550"
echo 40 >"$(fed_tap_dir p s)/tamper"
body="Tampered $MARK"
out=$(submit "$P_SERVER" "$P_CLIENT" bob@p.example dave@s.example "Tamper $MARK" "$body")
accepted "$out" || fail "Postfix P refused: $(refusal "$out")"
for _ in $(seq 1 150); do grep -q "dave@s.example.*said: 5" "$(pf_log p)" && break; sleep 0.2; done
reply=$(grep -m1 "dave@s.example.*said: 5" "$(pf_log p)" | sed 's/.*said: //; s/ (in reply to.*//')
[ -n "$(ls "$(fed_tap_dir p s)"/*.tampered 2>/dev/null)" ] && pass "the wiretap changed one byte of the sealed body" || fail "the wiretap did not tamper"
grep -q "^550 5.7.1" <<<"$reply" && pass "Sendmail S answered '$reply'" || fail "no 550 5.7.1 from Sendmail: '${reply:-$(tail -n 3 "$(pf_log p)")}'"
sleep 1; [ "$(count_delivered store "$body")" = 0 ] && pass "nothing delivered" || fail "the tampered message was delivered"

# On-BadSeal quarantine: smfi_quarantine through Sendmail's libmilter.
fed_milter_conf s "MTA MSA" "On-BadSeal quarantine"; fed_milter_restart s || fail "restart s with quarantine"
echo 40 >"$(fed_tap_dir p s)/tamper"
body="Tampered quarantined $MARK"
out=$(submit "$P_SERVER" "$P_CLIENT" bob@p.example dave@s.example "TamperQ $MARK" "$body")
accepted "$out" || fail "Postfix P refused: $(refusal "$out")"
held=""
for _ in $(seq 1 150); do held=$(sm_run s -bp -qQ 2>&1); grep -q "dave@s.example" <<<"$held" && break; sleep 0.2; done
if grep -q "dave@s.example" <<<"$held"; then
    pass "with On-BadSeal quarantine: held in Sendmail's quarantine (mailq -qQ: $(grep -m1 -oE 'QUARANTINE: .{0,60}' <<<"$held"))"
else fail "with quarantine: not in Sendmail's quarantined queue: $(head -n 5 <<<"$held")"; fi
sleep 1; [ "$(count_delivered store "$body")" = 0 ] && pass "quarantined message not delivered" || fail "quarantined message delivered"
fed_milter_conf s "MTA MSA"; fed_milter_restart s || fail "restart s"

out=$(submit "$S_SERVER" 127.0.0.49 ceo@p.example dave@s.example "Wire the money $MARK" "urgent")
line=$(refusal "$out")
grep -q "550 5.7.1 FedMail: p.example requires sealed mail" <<<"$line" && pass "plaintext 'From: ceo@p.example' from outside: Sendmail answered '$line'" || fail "Sendmail answered: ${line:-accepted}"
sleep 0.5; [ "$(count_delivered store "Wire the money $MARK")" = 0 ] && pass "nothing delivered" || fail "the forged message was delivered"
fi

# ------------------------------------------------------------------ s8
if want s8; then
scenario s8 "broker down: Sendmail tempfails a require partner's mail"
fed_broker_stop
body="Broker down $MARK"
out=$(submit "$S_SERVER" "$S_CLIENT" alice@s.example late@p2.example "Late $MARK" "$body")
line=$(refusal "$out")
grep -qE "^451 4\.7\.0" <<<"$line" && pass "Sendmail S answered '$line'" || fail "Sendmail answered: ${line:-accepted}"
fed_broker_start || fail "broker restart"
fi

echo "t-sendmail: $passes passed, $failures failed"
if ((failures)); then
    printf '  failed: %s\n' "${failed[@]}"
    diagnose
    exit 1
fi
