#!/usr/bin/env bash
# End to end through real Postfix at every organization (issue 5, scenarios a-h).
#
# One broker; organizations A (127.0.0.10, RSA 3072), B (127.0.0.20, P-256)
# and C (127.0.0.30, P-256), each enrolled with fedmailctl + fedmail-broker
# org approve and running its own Postfix + fedmail-milter + re-injection
# smtpd; N (127.0.0.40) is a plain Postfix outside the federation; AI
# (127.0.0.11) is a plain Postfix inside organization A that relays to A's
# gateway (a client MTA with a queue). A reaches B and C through SMTP
# wiretaps that record the bytes on the wire.
#
#   a  corpus delivered byte-exact at B (vs. the same bytes delivered at A
#      without FedMail), except trace headers and Authentication-Results
#   b  on the wire A->B: neither body text nor Subject visible
#   c  3 recipients at B + 2 at C: one sealed copy, 2 recipientInfos, all 5
#      delivered and opened
#   d  mixed with a non-federated domain, split (through the re-injection
#      unix socket, which a local user cannot reach) and defer: one copy each
#   e  broker down: require -> 4xx, delivered after the broker returns
#      (client MTA queue retry, postqueue -f); opportunistic -> plaintext + header
#   f  tampered in transit -> rejected (On-BadSeal reject) / held (quarantine)
#   g  plaintext forging From of a require partner -> 550
#   h  100 messages to one domain -> 1 token issued by the broker
#   i  static partner certificates (cert=): D (127.0.0.50) is outside the
#      broker with a self-signed certificate; A pins it (added by SIGUSR1
#      reload), D pins A's; sealed both ways without tokens; D signing for
#      a domain A does not pin it for -> 550
#
# KEEP=1 keeps the work directory. ONLY="a b" runs only those scenarios.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
# shellcheck source=lib/federation.sh
. contrib/test/lib/federation.sh
. contrib/test/lib/messages.sh
. contrib/test/lib/checks.sh
fed_suite federation || exit 1

. contrib/test/lib/scenarios.sh
die() { echo "t-federation: $*"; for o in a b c; do echo "--- milter $o"; tail -n 15 "$(fed_milter_log "$o")" 2>/dev/null; done; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (private Postfix instances)"
for tool in swaks python3 curl openssl postconf; do command -v "$tool" >/dev/null || die "$tool missing"; done

# ------------------------------------------------------------------ helpers
MARK=$(date +%s)-$$
# submit FROM-ORG-CLIENT: swaks from A's internal client address to A's gateway
submit() { # submit TO[,TO] SUBJECT BODY [extra swaks args]
    local to=$1 subject=$2 body=$3; shift 3
    swaks --server "$(fed_addr a):$(fed_port a)" --local-interface "$(fed_client a)" \
        --from alice@a.example --to "$to" --h-From "Alice <alice@a.example>" \
        --h-Subject "$subject" --body "$body" --timeout 60 "$@" 2>&1
}
# tap messages (eml files) of FROM->TO containing PATTERN in their envelope or bytes
tap_msgs() { grep -lF -- "$3" "$(fed_tap_dir "$1" "$2")"/msg-*.eml 2>/dev/null; }
ar_pass() { # ar_pass FILE: Authentication-Results of B/C says fedmail=pass from a.example
    grep -a -A3 -i "^Authentication-Results: mx\.[bc]\.test;" "$1" | tr -d '\n\t' | grep >/dev/null -E "fedmail=pass.*header\.from=[^ ;]*a\.example"
}
inspect_recipients() { "$FED_CTL" inspect "$1" 2>/dev/null | grep -c '^recipient:'; }

# ------------------------------------------------------------------ federation
echo "== setting up: broker, organizations a, b, c (enrolled), n (outside), ai (A's internal MTA)"
fed_broker_start || die "broker did not start"
# A re-injects through the unix socket of contrib/postfix/master.cf.fedmail.
FED_REINJECT_VIA="a"
fed_org a 127.0.0.10 rsa3072 a.example || die "org a"
fed_org b 127.0.0.20 p256 b.example b2.example || die "org b"
fed_org c 127.0.0.30 p256 c.example h.example || die "org c"
for o in a b; do pf_set "$o" "message_size_limit = 104857600" "virtual_mailbox_limit = 0"; done
fed_plain n 127.0.0.40 n.example o.example
fed_plain ai 127.0.0.11 ai.invalid
pf_set ai "relayhost = [$(fed_addr a)]:$(fed_port a)"
pass "broker on $FED_BROKER_URL; a, b, c enrolled and approved ($("$FED_BROKER" -c "$BASE/broker/broker.conf" org list | grep -c ' active ') active)"

fed_allowlist a <<'L'
# A's partners
b.example     require       trust=virus-scan
b2.example    require
c.example     require
h.example     require
o.example     opportunistic
L
fed_allowlist b <<'L'
a.example     require       trust=virus-scan,spam-scan
L
fed_allowlist c <<'L'
a.example     require
L
fed_route a b tap; fed_route a c tap; fed_route a n
fed_route b a; fed_route c a; fed_route ai a
for box in ref@a.example alice@a.example; do fed_mailbox a "$box"; done
for box in bob@b.example carol@b.example dave@b.example erin@b.example split@b.example defer@b.example late@b2.example tamper@b.example tamperq@b.example; do fed_mailbox b "$box"; done
for box in frank@c.example grace@c.example bulk@h.example; do fed_mailbox c "$box"; done
for box in split@n.example defer@n.example opp@o.example; do fed_mailbox n "$box"; done
for o in a b c; do
    "$FEDMAIL_BIN/fedmail-milter" -n -c "$(fed_dir $o)/milter.conf" >"$BASE/check-$o.txt" 2>&1 \
        || die "fedmail-milter -n refuses the config of $o: $(cat "$BASE/check-$o.txt")"
done
pass "fedmail-milter -n accepts the configs of a, b, c"
for o in a b c n ai; do fed_start "$o" || die "starting $o"; done
pass "Postfix + fedmail-milter running for a (127.0.0.10), b (127.0.0.20), c (127.0.0.30); n, ai plain"

# ------------------------------------------------------------------ a + b
if want a || want b; then
scenario a "corpus delivered byte-exact at B (except trace headers and Authentication-Results)"
CORPUS=$BASE/corpus; python3 "$FED_LIB/corpus.py" "$CORPUS" "Alice <alice@a.example>" "Bob <bob@b.example>"
# corpus_entry FILE SECONDS: FILE sent to ref@a.example (the reference, no
# FedMail on the way) and to bob@b.example (sealed at A, opened at B)
corpus_entry() {
    local f=$1 wait=$2 name mid out1 out2 ref got
    name=$(basename "$f" .eml)
    mid=$(grep -a -m1 -i '^Message-ID:' "$f" | sed 's/^[^<]*//' | tr -d '\r')
    out1=$(send_file "$(fed_addr a):$(fed_port a)" "$(fed_client a)" alice@a.example ref@a.example "$f")
    out2=$(send_file "$(fed_addr a):$(fed_port a)" "$(fed_client a)" alice@a.example bob@b.example "$f")
    if ! grep -q accepted <<<"$out1" || ! grep -q accepted <<<"$out2"; then fail "$name: not accepted (reference: $out1; to B: $out2)"; return; fi
    if ! wait_delivered a "$mid" 1 "$wait"; then fail "$name: reference copy not delivered at A"; return; fi
    if ! wait_delivered b "$mid" 1 "$wait"; then fail "$name: not delivered at B"; return; fi
    ref=$(delivered a "$mid"); got=$(delivered b "$mid")
    if [ "$(grep -c . <<<"$got")" != 1 ]; then fail "$name: $(grep -c . <<<"$got") copies at B"; return; fi
    strip_trace "$ref" >"$BASE/ref-$name"; strip_trace "$got" >"$BASE/got-$name"
    if cmp -s "$BASE/ref-$name" "$BASE/got-$name"; then pass "$name: delivered at B byte-exact ($(stat -c %s "$got") bytes)"
    else fail "$name: delivered copy differs from the reference: $(cmp "$BASE/ref-$name" "$BASE/got-$name" 2>&1 | head -n 1)"; fi
    ar_pass "$got" && pass "$name: Authentication-Results: mx.b.test; fedmail=pass" || fail "$name: no 'fedmail=pass' Authentication-Results at B: $(grep -a -i -A2 '^Authentication-Results' "$got" | head -n 3)"
}
for f in "$CORPUS"/*.eml; do corpus_entry "$f" 60; done
# The corpus's 50 MB message, last and then removed from the mailboxes so the
# later scenarios do not search through it.
python3 "$FED_LIB/corpus.py" --large "$BASE/large" "Alice <alice@a.example>" "Bob <bob@b.example>"
start_large=$(date +%s)
corpus_entry "$BASE/large/fifty-mb.eml" 600
echo "       (50 MB: sealed at A, opened at B and delivered in $(( $(date +%s) - start_large ))s; milter peak RSS A $(fm_hwm "$FM_PID_a") kB, B $(fm_hwm "$FM_PID_b") kB)"
find "$(pf_dir a)/mail" "$(pf_dir b)/mail" -type f -size +20M -delete; rm -f "$BASE"/ref-fifty-mb "$BASE"/got-fifty-mb "$BASE/large/fifty-mb.eml"

scenario b "on the wire A->B the message is sealed: no body text, no Subject"
SECRET_S="Merger plans $MARK"; SECRET_B="The secret body text $MARK"
out=$(submit erin@b.example "$SECRET_S" "$SECRET_B")
grep -q "250 2.0.0 Ok" <<<"$out" || fail "submission refused: $(grep -E '^<\*\*' <<<"$out")"
wait_delivered b "$SECRET_B" 1 60 && pass "delivered at B" || fail "not delivered at B"
sleep 0.5
wire=$(grep -l "erin@b.example" "$(fed_tap_dir a b)"/msg-*.env 2>/dev/null | sed 's/\.env$/.eml/')
if [ -z "$wire" ]; then fail "nothing crossed A->B for erin@b.example"
else
    cp "$wire" "$BASE/wire-b.eml"
    sealed_wire "$wire" && pass "wire copy is application/pkcs7-mime authEnveloped-data with FedMail-Token" || fail "wire copy is not sealed: $(head -c 600 "$wire")"
    if grep -rqF "$SECRET_B" "$(fed_tap_dir a b)"/conn-*.log; then fail "body text visible on the wire"; else pass "body text not on the wire (whole A->B streams searched)"; fi
    if grep -rqF "$SECRET_S" "$(fed_tap_dir a b)"/conn-*.log; then fail "Subject visible on the wire"; else pass "Subject not on the wire; outer Subject: '$(header_value "$wire" Subject)'"; fi
    for name in 7bit crlf lf-only; do
        if grep -rqF "plain ASCII" "$(fed_tap_dir a b)"/conn-*.log || grep -rqF "line two" "$(fed_tap_dir a b)"/conn-*.log || grep -rqF "Quarterly figures" "$(fed_tap_dir a b)"/conn-*.log; then
            fail "corpus text visible on the wire"; break; fi
    done
    got=$(delivered b "$SECRET_B")
    [ "$(header_value "$got" Subject)" = "$SECRET_S" ] && pass "the real Subject is back at B" || fail "Subject at B: '$(header_value "$got" Subject)'"
    # A's MTA adds its Received after A's milter sealed: it exists only
    # outside the seal, and B keeps it so the trace has no gap.
    if grep -a -A1 '^Received:' "$got" | tr -d '\n' | grep >/dev/null 'by mx\.a\.test'; then pass "the trace keeps A's hop (Received ... by mx.a.test)"
    else fail "A's Received is gone at B: $(grep -a '^Received:' "$got" | head -n 3)"; fi
fi
fi

# ------------------------------------------------------------------ c
if want c; then
scenario c "3 recipients at B + 2 at C: one sealed copy, 2 recipientInfos, all opened"
body="Board minutes for five $MARK"
out=$(submit bob@b.example,carol@b.example,dave@b.example,frank@c.example,grace@c.example "Minutes $MARK" "$body")
grep -q "250 2.0.0 Ok" <<<"$out" || fail "submission refused: $(grep -E '^<\*\*' <<<"$out")"
ok=1
for box in bob carol dave; do
    n=0; wait_delivered b "$body" 3 60 || true
    n=$(find "$(pf_maildir b "$box@b.example")/new" -type f 2>/dev/null | xargs -r grep -lF "$body" | grep -c .)
    [ "$n" = 1 ] || { ok=0; fail "$box@b.example got $n copies"; }
done
for box in frank grace; do
    wait_delivered c "$body" 2 60 || true
    n=$(find "$(pf_maildir c "$box@c.example")/new" -type f 2>/dev/null | xargs -r grep -lF "$body" | grep -c .)
    [ "$n" = 1 ] || { ok=0; fail "$box@c.example got $n copies"; }
done
[ $ok = 1 ] && pass "each of the 5 recipients got exactly one copy"
bad=0; for f in $(delivered b "$body") $(delivered c "$body"); do ar_pass "$f" || bad=$((bad + 1)); done
[ $bad = 0 ] && pass "all 5 copies opened and verified (fedmail=pass)" || fail "$bad copies without fedmail=pass"
sleep 0.5
wb=$(grep -l "dave@b.example" "$(fed_tap_dir a b)"/msg-*.env 2>/dev/null); wc_=$(grep -l "grace@c.example" "$(fed_tap_dir a c)"/msg-*.env 2>/dev/null)
[ "$(grep -c . <<<"$wb")" = 1 ] && [ "$(grep -c '^RCPT' "$wb")" = 3 ] && pass "one SMTP transaction A->B with 3 RCPT" || fail "A->B transactions: '$wb' ($(cat $wb 2>/dev/null | grep -c '^RCPT') RCPT)"
[ "$(grep -c . <<<"$wc_")" = 1 ] && [ "$(grep -c '^RCPT' "$wc_")" = 2 ] && pass "one SMTP transaction A->C with 2 RCPT" || fail "A->C transactions: '$wc_'"
if [ -n "$wb" ] && [ -n "$wc_" ]; then
    eb=${wb%.env}.eml; ec=${wc_%.env}.eml
    sealed_wire "$eb" && sealed_wire "$ec" && pass "both wire copies sealed" || fail "a wire copy is not sealed"
    if cmp -s <(sed '1,/^\r\{0,1\}$/d' "$eb") <(sed '1,/^\r\{0,1\}$/d' "$ec"); then pass "B and C received the same sealed body (one seal)"; else fail "B and C received different sealed bodies"; fi
    n=$(inspect_recipients "$eb"); [ "$n" = 2 ] && pass "exactly 2 recipientInfos (fedmailctl inspect)" || fail "$n recipientInfos"
    [ "$(grep -ci '^FedMail-Token:' "$eb")" = 2 ] && pass "2 FedMail-Token headers (b.example, c.example)" || fail "$(grep -ci '^FedMail-Token:' "$eb") FedMail-Token headers"
fi
fi

# ------------------------------------------------------------------ d
if want d; then
scenario d "mixed federated + non-federated recipients (split, then defer)"
body="Mixed split $MARK"
out=$(submit split@b.example,split@n.example "Split $MARK" "$body")
grep -q "250 2.0.0 Ok" <<<"$out" && pass "split: accepted in one transaction" || fail "split: refused: $(grep -E '^<\*\*' <<<"$out")"
wait_delivered b "$body" 1 60; wait_delivered n "$body" 1 60; sleep 1
nb=$(count_delivered b "$body"); nn=$(count_delivered n "$body")
[ "$nb" = 1 ] && [ "$nn" = 1 ] && pass "split: one copy at B, one at N" || fail "split: $nb copies at B, $nn at N"
f=$(delivered b "$body" | head -n 1); [ -n "$f" ] && ar_pass "$f" && pass "split: B's copy arrived sealed and opened (fedmail=pass)" || fail "split: B's copy not verified"
f=$(delivered n "$body" | head -n 1); [ -n "$f" ] && ! grep -qi '^FedMail-Token' "$f" && [ "$(header_value "$f" Subject)" = "Split $MARK" ] && pass "split: N's copy is the plaintext original" || fail "split: N's copy is not the plaintext original"
w=$(grep -l "split@b.example" "$(fed_tap_dir a b)"/msg-*.env 2>/dev/null)
[ "$(grep -c . <<<"$w")" = 1 ] && sealed_wire "${w%.env}.eml" && ! grep -q "split@n.example" "$w" && pass "split: one sealed copy crossed A->B, for split@b.example only" || fail "split: wire A->B: '$w'"
grep -q "postfix-a/reinject-unix/smtpd.*client=localhost" "$(pf_log a)" && pass "split: the sealed copy went through the re-injection unix socket (public/fedmail-reinject)" || fail "split: no re-injection on the unix socket in A's log"
# What that service is handed skips every milter: no local user may reach it.
sock=$(pf_public_socket a fedmail-reinject)
out=$(runuser -u nobody -- swaks --socket "$sock" --from x@else.example --to split@a.example --header "Authentication-Results: mx.a.test; fedmail=pass" 2>&1)
grep -q "Permission denied" <<<"$out" && pass "split: a local user (nobody) cannot connect to the re-injection socket" || fail "split: nobody reached $sock: $(tail -n 2 <<<"$out")"

fed_milter_conf a "MixedRecipients defer"; fed_milter_restart a || fail "restart a with defer"
body="Mixed defer $MARK"
printf 'From: Alice <alice@a.example>\r\nTo: defer@b.example, defer@n.example\r\nSubject: Defer %s\r\nMessage-ID: <defer-%s@a.example>\r\n\r\n%s\r\n' "$MARK" "$MARK" "$body" >"$BASE/defer.eml"
out=$(send_file "$(fed_addr a):$(fed_port a)" "$(fed_client a)" alice@a.example defer@b.example,defer@n.example "$BASE/defer.eml")
refused=$(sed -n 's/^refused \([^ ]*\) 452 .*/\1/p' <<<"$out")
grep -qE "^refused [^ ]+ 452 4\.5\.3" <<<"$out" && grep -q accepted <<<"$out" && pass "defer: the second class answered 452 4.5.3 ($refused), the first accepted" || fail "defer: $out"
if [ -n "$refused" ]; then
    out2=$(send_file "$(fed_addr a):$(fed_port a)" "$(fed_client a)" alice@a.example "$refused" "$BASE/defer.eml")
    grep -q accepted <<<"$out2" && pass "defer: retried alone in a second transaction, accepted" || fail "defer: retry refused: $out2"
fi
wait_delivered b "$body" 1 60; wait_delivered n "$body" 1 60; sleep 1
nb=$(count_delivered b "$body"); nn=$(count_delivered n "$body")
[ "$nb" = 1 ] && [ "$nn" = 1 ] && pass "defer: one copy at B, one at N" || fail "defer: $nb copies at B, $nn at N"
f=$(delivered b "$body" | head -n 1); [ -n "$f" ] && ar_pass "$f" && pass "defer: B's copy sealed and opened" || fail "defer: B's copy not verified"
f=$(delivered n "$body" | head -n 1); [ -n "$f" ] && ! grep -qi '^FedMail-Token' "$f" && pass "defer: N's copy plaintext" || fail "defer: N's copy"
fed_milter_conf a; fed_milter_restart a || fail "restart a with split"
fi

# ------------------------------------------------------------------ e
if want e; then
scenario e "broker down: require -> 4xx then delivered after it returns; opportunistic -> plaintext"
fed_broker_stop
body="Broker down opportunistic $MARK"
out=$(submit opp@o.example "Opp $MARK" "$body")
grep -q "250 2.0.0 Ok" <<<"$out" && pass "opportunistic: accepted with the broker down" || fail "opportunistic: $(grep -E '^<\*\*' <<<"$out")"
if wait_delivered n "$body" 1 60; then
    f=$(delivered n "$body")
    h=$(header_value "$f" X-FedMail-Plaintext)
    [[ "$h" == o.example:* ]] && pass "opportunistic: delivered in plaintext with 'X-FedMail-Plaintext: $h'" || fail "opportunistic: no X-FedMail-Plaintext header: $(head -n 15 "$f")"
else fail "opportunistic: not delivered"; fi

body="Broker down require $MARK"
swaks --server "$(fed_addr ai):$(fed_port ai)" --local-interface "$(fed_client a)" --from alice@a.example --to late@b2.example \
    --h-Subject "Late $MARK" --body "$body" >"$BASE/late.swaks" 2>&1 || true
grep -q "250 2.0.0 Ok" "$BASE/late.swaks" && pass "require: A's internal MTA queued the message" || fail "require: internal MTA refused"
tempfailed=0
for _ in $(seq 1 100); do
    if grep -qE "late@b2\.example.*(451 4\.7\.0|said: 4[0-9][0-9])" "$(pf_log ai)"; then tempfailed=1; break; fi
    sleep 0.2
done
line=$(grep -m1 -E "late@b2\.example.*said: 4" "$(pf_log ai)" | sed 's/.*said: //')
[ $tempfailed = 1 ] && grep -q "451 4.7.0" <<<"$line" && pass "require: A's gateway answered '$line'" || fail "require: no 451 4.7.0 from A's gateway: ${line:-$(tail -n 3 "$(pf_log ai)")}"
[ "$(count_delivered b "$body")" = 0 ] && pass "require: nothing delivered while the broker is down" || fail "require: delivered while the broker is down"
pf_queue ai | grep >/dev/null "late@b2.example" && pass "require: the message waits in the internal MTA's queue" || fail "require: not in the queue"
fed_broker_start || fail "broker restart"
postqueue -c "$(pf_dir ai)/etc" -f
if wait_delivered b "$body" 1 60; then
    f=$(delivered b "$body"); ar_pass "$f" && pass "require: after the broker returned and postqueue -f, delivered sealed and opened at B" || fail "require: delivered without fedmail=pass"
else fail "require: not delivered after the broker returned"; fi
fi

# ------------------------------------------------------------------ f
if want f; then
scenario f "tampered in transit: rejected (On-BadSeal reject) or held (quarantine), never delivered"
# tamper LINE SUBJECT BODY RCPT: the wiretap changes one base64 character of body line LINE
tamper() {
    echo "$1" >"$(fed_tap_dir a b)/tamper"
    out=$(submit "$4" "$2" "$3")
    grep -q "250 2.0.0 Ok" <<<"$out" || fail "submission refused"
    for _ in $(seq 1 150); do [ -e "$(fed_tap_dir a b)/tamper" ] || break; sleep 0.2; done
}
# line 5: the CMS structure (recipientInfos); line 40: the AES-GCM ciphertext
tamper 5 "Tamper1 $MARK" "Tampered structure $MARK" tamper@b.example
tamper 40 "Tamper2 $MARK" "Tampered ciphertext $MARK" tamper@b.example
for _ in $(seq 1 150); do [ "$(grep -c "tamper@b.example.*said: 5" "$(pf_log a)")" -ge 2 ] && break; sleep 0.2; done
[ "$(ls "$(fed_tap_dir a b)"/*.tampered 2>/dev/null | wc -l)" = 2 ] && pass "the wiretap changed one byte in each of 2 sealed messages" || fail "the wiretap did not tamper twice"
grep "tamper@b.example.*said: 5" "$(pf_log a)" | sed 's/.*said: //; s/ (in reply to.*//' >"$BASE/tamper-replies"
[ "$(grep -c "^550 5.7.1 FedMail" "$BASE/tamper-replies")" = 2 ] && pass "B rejected both: $(paste -sd'|' "$BASE/tamper-replies")" || fail "B did not reject both with 550 5.7.1: $(cat "$BASE/tamper-replies")"
sleep 1
[ "$(count_delivered b "Tampered structure $MARK")" = 0 ] && [ "$(count_delivered b "Tampered ciphertext $MARK")" = 0 ] && pass "nothing delivered at B" || fail "a tampered message was delivered at B"

fed_milter_conf b "On-BadSeal quarantine"; fed_milter_restart b || fail "restart b with quarantine"
body="Tampered quarantined $MARK"
tamper 40 "TamperQ $MARK" "$body" tamperq@b.example
held=0
for _ in $(seq 1 100); do if pf_queue b | grep >/dev/null -E '^[0-9A-F]+!'; then held=1; break; fi; sleep 0.2; done
[ $held = 1 ] && pass "with On-BadSeal quarantine: B holds it in its hold queue ($(pf_queue b | grep -E '^[0-9A-F]+!' | awk '{print $1}'))" || fail "with quarantine: not held at B: $(pf_queue b | head -n 5)"
sleep 1; [ "$(count_delivered b "$body")" = 0 ] && pass "quarantined message not delivered" || fail "quarantined message delivered"
fed_milter_conf b; fed_milter_restart b || fail "restart b"
fi

# ------------------------------------------------------------------ g
if want g; then
scenario g "plaintext forging From of a require partner -> rejected"
out=$(swaks --server "$(fed_addr b):$(fed_port b)" --local-interface 127.0.0.99 --from ceo@a.example --to bob@b.example \
    --h-From "CEO <ceo@a.example>" --h-Subject "Wire the money $MARK" --body "urgent" --timeout 60 2>&1)
line=$(grep -m1 -E '^<\*\* +5' <<<"$out" | sed -E 's/^<\*\* +//' | tr -d '\r')
grep -q "550 5.7.1 FedMail: a.example requires sealed mail" <<<"$line" && pass "B answered '$line'" || fail "B answered: ${line:-$(grep -E '^(<-|<\*\*)' <<<"$out" | tail -n 2)}"
[ "$(count_delivered b "Wire the money $MARK")" = 0 ] && pass "nothing delivered" || fail "the forged message was delivered"
fi

# ------------------------------------------------------------------ h
if want h; then
scenario h "100 messages to one domain -> 1 token request at the broker"
before=$(fed_broker_metric fedmail_broker_tokens_issued_total)
python3 - "$(fed_addr a)" "$(fed_port a)" "$(fed_client a)" "$MARK" <<'P'
import smtplib, sys
host, port, source, mark = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = smtplib.SMTP(host, port, source_address=(source, 0), timeout=120)
for i in range(100):
    s.sendmail("alice@a.example", ["bulk@h.example"],
               ("From: alice@a.example\r\nTo: bulk@h.example\r\nSubject: bulk %d\r\n\r\nBulk %s\r\n" % (i, mark)).encode())
s.quit()
P
wait_delivered c "Bulk $MARK" 100 240 && pass "100 messages delivered at C" || fail "$(count_delivered c "Bulk $MARK") of 100 delivered at C"
bad=0; for f in $(delivered c "Bulk $MARK"); do ar_pass "$f" || bad=$((bad + 1)); done
[ $bad = 0 ] && pass "all opened with fedmail=pass" || fail "$bad without fedmail=pass"
after=$(fed_broker_metric fedmail_broker_tokens_issued_total)
[ $((after - before)) = 1 ] && pass "broker issued exactly 1 token for them (fedmail_broker_tokens_issued_total $before -> $after)" || fail "broker issued $((after - before)) tokens for 100 messages to h.example"
fi

# ------------------------------------------------------------------ i
if want i; then
scenario i "static partner certificates (cert=): D outside the broker, both directions, no token"
tokens_before=$(fed_broker_metric fedmail_broker_tokens_issued_total)
# D's self-signed certificate also claims b.example, a domain it does not own.
FED_STATIC_EXTRA_SAN=b.example fed_org_static d 127.0.0.50 p256 d.example || die "org d"
install -m 644 "$(fed_dir d)/keys/org.crt" "$(fed_dir a)/d.crt"
install -m 644 "$(fed_dir a)/keys/org.crt" "$(fed_dir d)/a.crt"
fed_allowlist d <<'L'
a.example     require       cert=a.crt
L
fed_mailbox d dave@d.example; fed_mailbox a static@a.example
fed_route a d tap; fed_route d a
if "$FEDMAIL_BIN/fedmail-milter" -n -c "$(fed_dir d)/milter.conf" >"$BASE/check-d.txt" 2>&1; then
    pass "fedmail-milter -n accepts D's config: no BrokerURL or BrokerCA, a.example pinned with cert=a.crt"
else fail "fedmail-milter -n refuses D's config: $(cat "$BASE/check-d.txt")"; fi
fed_start d || die "starting d"

# A learns D on SIGUSR1: first a cert= file that does not exist (refused,
# the allowlist in force stays), then D's certificate next to the allowlist.
reloads() { grep -c "configuration reloaded" "$(fed_milter_log a)"; }
refusals() { grep -c "reload refused" "$(fed_milter_log a)"; }
cp "$(fed_dir a)/allowlist" "$BASE/allowlist-a"
lines=$(wc -l <"$BASE/allowlist-a")
{ cat "$BASE/allowlist-a"; echo "d.example     require       cert=missing.crt"; } | fed_allowlist a
before=$(refusals); kill -USR1 "$FM_PID_a"
for _ in $(seq 1 50); do [ "$(refusals)" -gt "$before" ] && break; sleep 0.1; done
line=$(grep "reload refused" "$(fed_milter_log a)" | tail -n 1)
grep -qF "allowlist:$((lines + 1)): cert=$(fed_dir a)/missing.crt" <<<"$line" \
    && pass "a missing cert= file: reload refused naming the allowlist line (${line##*in force: })" || fail "bad cert= reload: ${line:-no refusal logged}"
{ cat "$BASE/allowlist-a"; echo "d.example     require       cert=d.crt"; } | fed_allowlist a
before=$(reloads); kill -USR1 "$FM_PID_a"
for _ in $(seq 1 50); do [ "$(reloads)" -gt "$before" ] && break; sleep 0.1; done
[ "$(reloads)" -gt "$before" ] && pass "A reloaded its allowlist with 'd.example require cert=d.crt'" || fail "A did not reload"

# opened_static ORG FROM-DOMAIN BODY WHAT: BODY was delivered at ORG, opened
# with "fedmail=pass header.from=FROM-DOMAIN ... policy.cert=static"
opened_static() {
    local f
    if ! wait_delivered "$1" "$3" 1 30; then fail "$4: not delivered at $1: $(tail -n 3 "$(fed_milter_log "$1")")"; return; fi
    f=$(delivered "$1" "$3" | head -n 1)
    if grep -a -A3 -i "^Authentication-Results: mx.$1.test;" "$f" | tr -d '\n\t' \
        | grep >/dev/null -E "fedmail=pass.*header\.from=$2.*policy\.cert=static"; then
        pass "$4, opened at $1 with fedmail=pass policy.cert=static"
    else fail "$4: no 'fedmail=pass ... policy.cert=static' at $1: $(grep -a -i -A2 '^Authentication-Results' "$f")"; fi
}
body="Static partner A to D $MARK"
out=$(submit dave@d.example "Static $MARK" "$body")
grep -q "250 2.0.0 Ok" <<<"$out" || fail "A refused the message to D: $(grep -E '^<\*\*' <<<"$out")"
opened_static d a.example "$body" "A -> D"
w=$(ls "$(fed_tap_dir a d)"/msg-*.eml 2>/dev/null | head -n 1)
if [ -n "$w" ] && grep -qiE "^Content-Type: application/pkcs7-mime;.*smime-type=authEnveloped-data" "$w" \
    && ! grep -qi "^FedMail-Token:" "$w" && ! grep -qF "$body" "$w"; then
    pass "A -> D on the wire: sealed, no FedMail-Token, body not visible"
else fail "A -> D on the wire: not sealed as expected (${w:-nothing recorded})"; fi

body="Static partner D to A $MARK"
out=$(swaks --server "$(fed_addr d):$(fed_port d)" --local-interface "$(fed_client d)" --from dave@d.example \
    --to static@a.example --h-From "Dave <dave@d.example>" --h-Subject "Static back $MARK" --body "$body" --timeout 60 2>&1)
grep -q "250 2.0.0 Ok" <<<"$out" || fail "D refused the message to A: $(grep -E '^<\*\*' <<<"$out")"
opened_static a d.example "$body" "D -> A (sealed by D without a broker)"

# D's certificate claims b.example, but A pins it for d.example only.
body="Static partner forging B $MARK"
swaks --server "$(fed_addr d):$(fed_port d)" --local-interface "$(fed_client d)" --from ceo@d.example \
    --to static@a.example --h-From "CEO <ceo@b.example>" --h-Subject "Forged $MARK" --body "$body" --timeout 60 >/dev/null 2>&1
for _ in $(seq 1 100); do grep -q "static@a.example.*said: 5" "$(pf_log d)" && break; sleep 0.2; done
line=$(grep -m1 "static@a.example.*said: 5" "$(pf_log d)" | sed 's/.*said: //; s/ (in reply to.*//')
grep -q "550 5.7.1 FedMail: signer-not-pinned-for-domain" <<<"$line" \
    && pass "D signing as b.example: A answered '$line'" || fail "D signing as b.example: A answered '${line:-nothing}'"
[ "$(count_delivered a "$body")" = 0 ] && pass "the forged message was not delivered" || fail "the forged message was delivered"
tokens_after=$(fed_broker_metric fedmail_broker_tokens_issued_total)
[ "$tokens_before" = "$tokens_after" ] && pass "no broker token issued for D ($tokens_before -> $tokens_after)" \
    || fail "the broker issued tokens for static partners ($tokens_before -> $tokens_after)"
fi

echo "t-federation: $passes passed, $failures failed"
if ((failures)); then
    printf '  failed: %s\n' "${failed[@]}"
    for o in a b c d; do [ -e "$(fed_milter_log "$o")" ] || continue; echo "--- milter $o (last lines)"; tail -n 10 "$(fed_milter_log "$o")"; done
    exit 1
fi
