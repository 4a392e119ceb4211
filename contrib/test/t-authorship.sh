#!/usr/bin/env bash
# Authorship, recipient binding, replay and verdict fields end to end
# through real Postfix at every organization.
#
# One broker; organizations A (127.0.0.10, RSA 3072, a.example), B
# (127.0.0.20, P-256, b.example) and C (127.0.0.30, P-256, c.example), each
# enrolled and running its own Postfix + fedmail-milter; A reaches B and C
# through SMTP wiretaps. "Outside" is an SMTP client on 127.0.0.99 talking
# to B's gateway directly. B also trusts the authserv-id mx.front.test
# (TrustedAuthservIDs). The receiving milter refuses with
# "550 5.7.1 FedMail: <check>" (On-BadSeal reject, the default).
#
#   1  From/Sender not the sender's: A refuses "foreign-from" (nothing on
#      the A->B wire) for a From whose comment hides B's domain, a plain
#      From of B's domain and a foreign Sender; with A's On-ForeignFrom
#      accept (a rogue sending gateway) B refuses signer-domain-mismatch
#   2  plaintext from outside naming a require partner in a From comment
#      with a quoted-pair, in a display name or a comment -> 550 requires
#      sealed mail
#   3  plaintext with a bogus FedMail-Token from a require partner ->
#      refused (bad seal); with On-BadSeal accept still refused (requires
#      sealed mail); from a non-partner accepted with fedmail=fail
#   4  verdict fields: forged Authentication-Results (ours as token,
#      quoted-string, other case, folded, after a comment; a
#      TrustedAuthservIDs one) and scan fields removed inbound, a foreign
#      one kept; the same outbound to a local recipient at A; a sealed
#      A->B message has exactly one "mx.b.test; fedmail=pass", at the top
#      (also when A's user forged one inside the seal)
#   5  tampered sealed message with On-BadSeal accept + On-SpoofedPartner
#      accept: delivered still sealed with "fedmail=fail (tag-mismatch)"
#   6  replay of a recorded sealed message: 250 + discarded (duplicate of
#      the first queue id); sent to a recipient it was not sealed for ->
#      550 recipient-address, no copy; the replay cache survives a milter
#      restart
#   7  A's Postfix splits 5 recipients into transactions of 2
#      (smtp_destination_recipient_limit): each recipient gets exactly one
#      copy, all fedmail=pass
#   8  B pins a.example to another certificate (cert=, SIGUSR1 reload): a
#      broker-chained A message -> signer-not-pinned-for-domain; restored
#      -> delivered again
#   9  recipient binding: a message A sealed for C, opened with C's key and
#      re-encrypted to B's key (openssl cms), sent to B -> refused
#      (recipient-binding or token-missing); the same with S (127.0.0.60,
#      s.example), a static cert= partner of B and C -> recipient-binding
#   10 only our mail is ours: S/MIME (openssl cms -encrypt -aes-256-gcm,
#      and a signed message) for a user's personal certificate passes
#      through B byte-exact, as does such mail with a FedMail-Token for
#      another domain; a CBC message to B's organization key is refused
#      (not-aead)
#   11 a header does not make a message "already sealed": A's user sends
#      b.example (require) a message with a FedMail-Token and an
#      authEnveloped-data Content-Type: A seals it (one genuine token on
#      the wire), B opens it, the body intact
#   12 fedmailctl open --check-tokens on a recorded sealed message: opens
#      with B's key and the broker CA; without its FedMail-Token field
#      -> token-missing, nothing written
#   13 recipient spellings the MTA accepts and routes (RCPT TO:<bob@b.example >,
#      <bob @ b.example>, a comment): at B a require partner's plaintext
#      to them is refused and a forged verdict removed; at A mail to a
#      require partner so written leaves sealed; a percent-hack or bang-path
#      recipient is refused 550 5.1.3 at both
#   sweep (always): no mailbox at A or B holds more than one
#      Authentication-Results under the receiver's authserv-id, none under
#      a trusted one, no scan field, and ours is the first field
#
# KEEP=1 keeps the work directory. ONLY="1 2" runs only those scenarios.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
# shellcheck source=lib/federation.sh
. contrib/test/lib/federation.sh
. contrib/test/lib/messages.sh
. contrib/test/lib/checks.sh
fed_suite authorship || exit 1

. contrib/test/lib/scenarios.sh
die() { echo "t-authorship: $*"; for o in a b c; do echo "--- milter $o"; tail -n 15 "$(fed_milter_log "$o")" 2>/dev/null; done; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (private Postfix instances)"
for tool in python3 curl openssl postconf; do command -v "$tool" >/dev/null || die "$tool missing"; done

# ------------------------------------------------------------------ helpers
MARK=$(date +%s)-$$
OUTSIDE=127.0.0.99
START=$(date +%s)
# in_box ORG ADDRESS PATTERN: how many messages of that mailbox contain PATTERN
in_box() { find "$(pf_maildir "$1" "$2")/new" -type f -print0 2>/dev/null | xargs -0r grep -lF -- "$3" 2>/dev/null | grep -c . ; }
# from_a FILE RCPTS [MAILFROM]: FILE submitted by A's internal client to A's gateway
from_a() { send_file "$(fed_addr a):$(fed_port a)" "$(fed_client a)" "${3:-alice@a.example}" "$2" "$1" 2>&1; }
# to_b FILE MAILFROM RCPTS: FILE sent from outside straight to B's gateway
to_b() { send_file "$(fed_addr b):$(fed_port b)" "$OUTSIDE" "$2" "$3" "$1" 2>&1; }
relay_result() {
    local line=""
    for _ in $(seq 1 300); do
        line=$(tail -n +"$(($2 + 1))" "$(pf_log "$1")" | grep -F "to=<$3>" | grep -m1 -E 'status=(sent|bounced|deferred)')
        [ -n "$line" ] && break
        sleep 0.2
    done
    if [ -z "$line" ]; then echo "nothing logged"
    elif [[ $line == *status=sent* ]]; then echo sent
    else sed 's/.*said: //; s/ (in reply to.*//; s/.*status=//' <<<"$line"; fi
}
# fields FILE: the header fields of FILE, unfolded, one a line
fields() {
    python3 - "$1" <<'P'
import sys
out = []
for line in open(sys.argv[1], "rb").read().splitlines():
    if not line.strip():
        break
    if line[:1] in (b" ", b"\t") and out:
        out[-1] += b" " + line.strip()
    else:
        out.append(line.rstrip())
sys.stdout.write("".join(l.decode("utf-8", "replace") + "\n" for l in out))
P
}
# ar_pass FILE: Authentication-Results under the receiver's id says fedmail=pass from a.example
ar_pass() { fields "$1" | grep >/dev/null -iE "^Authentication-Results: mx\.[bc]\.test; fedmail=pass.*header\.from=a\.example"; }
# top_field FILE: the first field below what local delivery prepends
# (Return-Path, Delivered-To, X-Original-To)
top_field() { fields "$1" | grep -m1 -viE '^(Return-Path|Delivered-To|X-Original-To):'; }
# reload ORG: SIGUSR1 and wait for "configuration reloaded"
reload() {
    local var="FM_PID_$1" before
    before=$(grep -c "configuration reloaded" "$(fed_milter_log "$1")")
    kill -USR1 "${!var}"
    for _ in $(seq 1 50); do
        [ "$(grep -c "configuration reloaded" "$(fed_milter_log "$1")")" -gt "$before" ] && return 0
        sleep 0.1
    done
    return 1
}
# B's configuration and allowlist as the suite runs them between scenarios.
B_CONF=("TrustedAuthservIDs mx.front.test")
B_ALLOW="a.example     require"
b_conf() { fed_milter_conf b "${B_CONF[@]}" "$@"; fed_milter_restart b || fail "restarting b's milter with: ${*:-the suite config}"; }
# wire_der WIRE OUT: the base64 body of a recorded sealed message, decoded
wire_der() {
    python3 - "$1" "$2" <<'P'
import sys, base64, re
data = open(sys.argv[1], "rb").read()
m = re.search(rb"\r?\n\r?\n", data)
open(sys.argv[2], "wb").write(base64.b64decode(b"".join(data[m.end():].split())))
P
}
# reseal WIRE DER OUT: WIRE's header section without trace fields, and DER
# as its base64 body (76-character CRLF lines)
reseal() {
    python3 - "$1" "$2" "$3" <<'P'
import sys, base64
wire, der, out = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read(), []
skip = False
for line in wire.splitlines():
    if not line.strip():
        break
    if line[:1] in (b" ", b"\t"):
        if not skip: out.append(line)
        continue
    skip = line.split(b":", 1)[0].strip().lower() in (b"received", b"return-path")
    if not skip: out.append(line)
body = base64.encodebytes(der).replace(b"\n", b"\r\n")
open(sys.argv[3], "wb").write(b"".join(l + b"\r\n" for l in out) + b"\r\n" + body)
P
}
# rebind WHAT WIRE MAILFROM: WIRE (sealed for C) opened with C's key,
# re-encrypted to B's key with openssl cms, sent from outside to bob@b.example;
# prints send_file's output
rebind() {
    local what=$1 wire=$2 from=$3 c b
    c=$(fed_dir c)/keys; b=$(fed_dir b)/keys
    wire_der "$wire" "$BASE/$what.c.der" || { echo "no DER in $wire"; return; }
    openssl cms -decrypt -binary -inform DER -in "$BASE/$what.c.der" -inkey "$c/org.key" -recip "$c/org.crt" \
        -out "$BASE/$what.signed" 2>"$BASE/$what.err" || { echo "openssl cms -decrypt with C's key failed: $(head -n 3 "$BASE/$what.err")"; return; }
    openssl cms -encrypt -binary -aes-256-gcm -keyid -in "$BASE/$what.signed" -outform DER -out "$BASE/$what.b.der" \
        -recip "$b/org.crt" -keyopt ecdh_kdf_md:sha256 2>"$BASE/$what.err" || { echo "openssl cms -encrypt to B failed: $(head -n 3 "$BASE/$what.err")"; return; }
    reseal "$wire" "$BASE/$what.b.der" "$BASE/$what.eml"
    to_b "$BASE/$what.eml" "$from" bob@b.example
}

# ------------------------------------------------------------------ federation
echo "== setting up: broker, organizations a, b, c (enrolled)"
fed_broker_start || die "broker did not start"
fed_org a 127.0.0.10 rsa3072 a.example || die "org a"
fed_org b 127.0.0.20 p256 b.example || die "org b"
fed_org c 127.0.0.30 p256 c.example || die "org c"
pass "broker on $FED_BROKER_URL; a, b, c enrolled and approved"

fed_allowlist a <<'L'
b.example     require
c.example     require
L
echo "$B_ALLOW" | fed_allowlist b
fed_allowlist c <<'L'
a.example     require
L
fed_milter_conf b "${B_CONF[@]}"
fed_route a b tap; fed_route a c tap; fed_route b a; fed_route c a
for box in alice@a.example local@a.example; do fed_mailbox a "$box"; done
for box in bob@b.example carol@b.example dave@b.example erin@b.example tamperq@b.example pin@b.example \
    split1@b.example split2@b.example split3@b.example split4@b.example split5@b.example; do fed_mailbox b "$box"; done
fed_mailbox c frank@c.example
for o in a b c; do
    "$FEDMAIL_BIN/fedmail-milter" -n -c "$(fed_dir $o)/milter.conf" >"$BASE/check-$o.txt" 2>&1 \
        || die "fedmail-milter -n refuses the config of $o: $(cat "$BASE/check-$o.txt")"
done
for o in a b c; do fed_start "$o" || die "starting $o"; done
pass "Postfix + fedmail-milter running for a, b (TrustedAuthservIDs mx.front.test), c"

# ------------------------------------------------------------------ 1
if want 1; then
scenario 1 "From/Sender not the sender's: A refuses foreign-from; a rogue A -> B refuses signer-domain-mismatch"
# s1 TAG FROM [SENDER]: the message A's user submits to bob@b.example
s1() {
    local tag=$1 from=$2 sender=${3:-}
    { printf 'From: %s\r\n' "$from"; [ -n "$sender" ] && printf 'Sender: %s\r\n' "$sender"
      printf 'To: Bob <bob@b.example>\r\nSubject: Authorship %s\r\nDate: %s\r\nMessage-ID: <s1-%s-%s@a.example>\r\n\r\nAuthorship %s %s\r\n' \
          "$tag" "$(date -R)" "$tag" "$MARK" "$tag" "$MARK"; } >"$BASE/s1-$tag.eml"
}
COMMENT_FROM='"B CEO" <ceo@b.example (\@\a\.\e\x\a\m\p\l\e)>'
s1 comment "$COMMENT_FROM"
s1 plain "ceo@b.example"
s1 sender "Alice <alice@a.example>" "ceo@b.example"
for tag in comment plain sender; do
    m=$(logmark a)
    out=$(from_a "$BASE/s1-$tag.eml" bob@b.example)
    expect_reply "$tag: A (On-ForeignFrom reject)" "$out" "550 5.7.1 FedMail: foreign-from"
    log_has a "$m" "decision=reject (On-ForeignFrom" 2 && pass "$tag: A's milter logged '$(log_line a "$m" "decision=reject")'" \
        || fail "$tag: no 'decision=reject (On-ForeignFrom' in A's milter log"
done
sleep 1
n=$(grep -lF "$MARK" "$(fed_tap_dir a b)"/msg-*.eml 2>/dev/null | xargs -r grep -lE "^Message-ID: <s1-" | grep -c .)
[ "$n" = 0 ] && pass "nothing crossed the A->B wire" || fail "$n of them crossed the A->B wire"

fed_milter_conf a "On-ForeignFrom accept"; fed_milter_restart a || fail "restarting a with On-ForeignFrom accept"
for tag in comment plain sender; do
    case $tag in
        comment) s1 "$tag-rogue" "$COMMENT_FROM" ;;
        plain) s1 "$tag-rogue" "ceo@b.example" ;;
        sender) s1 "$tag-rogue" "Alice <alice@a.example>" "ceo@b.example" ;;
    esac
    pm=$(pfmark a); m=$(logmark b)
    out=$(from_a "$BASE/s1-$tag-rogue.eml" bob@b.example)
    [ "$(reply "$out")" = accepted ] || { fail "$tag (rogue A): A refused it: $(reply "$out")"; continue; }
    r=$(relay_result a "$pm" bob@b.example)
    [[ $r == "550 5.7.1 FedMail: signer-domain-mismatch"* ]] && pass "$tag (rogue A seals it): B answered '$r'" \
        || fail "$tag (rogue A seals it): expected '550 5.7.1 FedMail: signer-domain-mismatch', B answered '$r'"
    log_has b "$m" "decision=reject (signer-domain-mismatch" 2 && pass "$tag: B's milter logged '$(log_line b "$m" "decision=reject")'" \
        || fail "$tag: no 'decision=reject (signer-domain-mismatch' in B's milter log: $(tail -n 2 "$(fed_milter_log b)")"
    w=$(grep -lF "s1-$tag-rogue-$MARK" "$(fed_tap_dir a b)"/msg-*.eml 2>/dev/null)
    [ -n "$w" ] && grep >/dev/null -iE "^Content-Type: application/pkcs7-mime;.*authEnveloped-data" $w \
        && pass "$tag: it crossed A->B sealed" || fail "$tag: no sealed copy on the A->B wire"
done
sleep 0.5
[ "$(count_delivered b "Authorship")" = 0 ] && [ "$(count_delivered b "s1-")" = 0 ] && pass "nothing delivered at B" \
    || fail "delivered at B: $(delivered b "Authorship") $(delivered b "s1-")"
fed_milter_conf a; fed_milter_restart a || fail "restarting a with its default config"
fi

# ------------------------------------------------------------------ 2
if want 2; then
scenario 2 "plaintext from outside naming a require partner (comment with quoted-pair, display name, comment)"
s2=0
for from in 'ceo@a.example (\x)' '"ceo@a.example" <x@n.example>' 'x@n.example (CEO ceo@a.example)' '"CEO" <ceo@A.EXAMPLE>'; do
    s2=$((s2 + 1))
    msg "$BASE/s2-$s2.eml" "From: $from" "To: bob@b.example" "Subject: Spoof $s2" "Date: $(date -R)" "Message-ID: <s2-$s2-$MARK@n.example>" \
        -- "Spoof $s2 $MARK"
    m=$(logmark b)
    out=$(to_b "$BASE/s2-$s2.eml" x@n.example bob@b.example)
    expect_reply "From: $from" "$out" "550 5.7.1 FedMail: a.example requires sealed mail"
    log_has b "$m" "a require partner" 2 || fail "From: $from: no 'a require partner' refusal in B's milter log"
done
sleep 0.5
[ "$(count_delivered b "Spoof")" = 0 ] && pass "nothing delivered at B" || fail "delivered at B: $(delivered b "Spoof")"
fi

# ------------------------------------------------------------------ 3
if want 3; then
scenario 3 "plaintext with a bogus FedMail-Token"
BOGUS='FedMail-Token: v=1; d=b.example; t=eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJiLmV4YW1wbGUiLCJwdXJwb3NlIjoic210cC1mZWRlcmF0aW9uIn0.AAAA'
s3() { # s3 TAG FROM
    msg "$BASE/s3-$1.eml" "From: $2" "To: bob@b.example" "Subject: Token $1" "Date: $(date -R)" "Message-ID: <s3-$1-$MARK@x.example>" \
        "$BOGUS" -- "Bogus token $1 $MARK"
}
s3 reject "CEO <ceo@a.example>"
m=$(logmark b)
out=$(to_b "$BASE/s3-reject.eml" ceo@a.example bob@b.example)
expect_reply "from a.example, On-BadSeal reject" "$out" "550 5.7.1 FedMail: "
log_has b "$m" "direction=inbound decision=reject" 2 && pass "B's milter logged '$(log_line b "$m" "decision=reject")'" \
    || fail "no inbound reject in B's milter log"

b_conf "On-BadSeal accept"
s3 accept "CEO <ceo@a.example>"
m=$(logmark b)
out=$(to_b "$BASE/s3-accept.eml" ceo@a.example bob@b.example)
expect_reply "from a.example, On-BadSeal accept: the require rule" "$out" "550 5.7.1 FedMail: a.example requires sealed mail"
log_has b "$m" "a require partner" 2 && pass "B's milter logged '$(log_line b "$m" "a require partner")'" \
    || fail "no require-partner refusal in B's milter log: $(tail -n 3 "$(fed_milter_log b)")"
# Not from a partner: accepted as it is, and it says it failed.
s3 other "Someone <someone@n.example>"
out=$(to_b "$BASE/s3-other.eml" someone@n.example erin@b.example)
expect_reply "from n.example, On-BadSeal accept" "$out" "accepted"
if wait_delivered b "Bogus token other $MARK" 1 30; then
    f=$(delivered b "Bogus token other $MARK")
    ar=$(fields "$f" | grep -i '^Authentication-Results:')
    if grep >/dev/null -iE '^Authentication-Results: mx\.b\.test; fedmail=fail \(' <<<"$ar" && ! grep >/dev/null -i 'fedmail=pass' <<<"$ar"; then
        pass "delivered with '$(grep -m1 -i 'fedmail=fail' <<<"$ar")'"
    else fail "delivered without 'fedmail=fail': $ar"; fi
else fail "the non-partner message was not delivered"; fi
b_conf
sleep 0.5
[ "$(count_delivered b "Bogus token reject")" = 0 ] && [ "$(count_delivered b "Bogus token accept")" = 0 ] \
    && pass "nothing from a.example delivered at B" || fail "a bogus-token message from a.example was delivered at B"
fi

# ------------------------------------------------------------------ 4
if want 4; then
scenario 4 "forged verdict fields removed; ours at the top"
msg "$BASE/s4-in.eml" "From: Someone <someone@n.example>" "To: bob@b.example" "Subject: Verdicts" "Date: $(date -R)" \
    "Message-ID: <s4-in-$MARK@n.example>" \
    'Authentication-Results: "mx.b.test"; fedmail=pass header.from=a.example' \
    'Authentication-Results: MX.B.TEST; fedmail=pass header.from=a.example' \
    $'Authentication-Results:\r\n mx.b.test;\r\n\tfedmail=pass header.from=a.example' \
    'Authentication-Results: (relay said) mx.b.test; fedmail=pass header.from=a.example' \
    'Authentication-Results: mx.front.test; dkim=pass header.d=a.example' \
    'Authentication-Results: mx.other.test; spf=pass smtp.mailfrom=n.example' \
    'X-Virus-Scanned: clean, trusted by fedmail' 'X-Spam-Scanned: clean, trusted by fedmail' \
    -- "Forged verdicts $MARK"
m=$(logmark b)
out=$(to_b "$BASE/s4-in.eml" someone@n.example bob@b.example)
expect_reply "inbound plaintext with forged verdicts" "$out" "accepted"
if wait_delivered b "Forged verdicts $MARK" 1 30; then
    f=$(delivered b "Forged verdicts $MARK"); fields "$f" >"$BASE/s4-in.fields"
    n=$(grep -ci '^Authentication-Results:.*fedmail=pass' "$BASE/s4-in.fields")
    [ "$n" = 0 ] && pass "the 4 forged 'mx.b.test; fedmail=pass' fields (token, quoted, upper case, folded, after a comment) are gone" \
        || fail "$n forged fedmail=pass field(s) delivered: $(grep -i 'fedmail=pass' "$BASE/s4-in.fields")"
    grep >/dev/null -i 'mx\.front\.test' "$BASE/s4-in.fields" && fail "the TrustedAuthservIDs (mx.front.test) field was delivered" \
        || pass "the TrustedAuthservIDs field (mx.front.test) is gone"
    [ "$(grep -c '^Authentication-Results: mx.other.test; spf=pass' "$BASE/s4-in.fields")" = 1 ] \
        && pass "the foreign one (mx.other.test) is kept" || fail "mx.other.test not kept: $(grep -i '^Authentication-Results' "$BASE/s4-in.fields")"
    grep >/dev/null -iE '^X-(Virus|Spam)-Scanned:' "$BASE/s4-in.fields" && fail "scan fields delivered: $(grep -iE '^X-(Virus|Spam)-Scanned:' "$BASE/s4-in.fields")" \
        || pass "X-Virus-Scanned and X-Spam-Scanned are gone"
    log_has b "$m" "verdict field(s) not added by us" 2 && pass "B's milter logged '$(log_line b "$m" "verdict field" | sed 's/.*: removed/removed/')'" \
        || fail "B's milter did not log the removal"
else fail "the inbound plaintext message was not delivered at B"; fi

# Outbound, A's user to a local recipient at A.
msg "$BASE/s4-local.eml" "From: Alice <alice@a.example>" "To: local@a.example" "Subject: Local" "Date: $(date -R)" \
    "Message-ID: <s4-local-$MARK@a.example>" 'Authentication-Results: mx.a.test; fedmail=pass header.from=b.example' \
    'Authentication-Results: mx.other.test; spf=pass' 'X-Virus-Scanned: clean' -- "Local verdicts $MARK"
out=$(from_a "$BASE/s4-local.eml" local@a.example)
expect_reply "A's user to a local recipient" "$out" "accepted"
if wait_delivered a "Local verdicts $MARK" 1 30; then
    f=$(delivered a "Local verdicts $MARK"); fields "$f" >"$BASE/s4-local.fields"
    grep >/dev/null -i '^Authentication-Results:.*mx\.a\.test' "$BASE/s4-local.fields" \
        && fail "'mx.a.test; fedmail=pass' delivered at A: $(grep -i '^Authentication-Results:.*mx.a.test' "$BASE/s4-local.fields")" \
        || pass "outbound to a local recipient: 'mx.a.test; fedmail=pass' removed"
    grep >/dev/null -i '^X-Virus-Scanned:' "$BASE/s4-local.fields" && fail "X-Virus-Scanned delivered at A" || pass "outbound to a local recipient: X-Virus-Scanned removed"
    grep >/dev/null '^Authentication-Results: mx.other.test' "$BASE/s4-local.fields" && pass "outbound: mx.other.test kept" || fail "outbound: mx.other.test lost"
else fail "not delivered at A"; fi

# A genuine sealed message; A's user also forged B's verdict inside it.
msg "$BASE/s4-sealed.eml" "From: Alice <alice@a.example>" "To: dave@b.example" "Subject: Sealed verdict" "Date: $(date -R)" \
    "Message-ID: <s4-sealed-$MARK@a.example>" 'Authentication-Results: mx.b.test; fedmail=pass header.from=b.example policy.signer=b' \
    -- "Sealed verdict $MARK"
out=$(from_a "$BASE/s4-sealed.eml" dave@b.example)
expect_reply "A -> B sealed" "$out" "accepted"
if wait_delivered b "Sealed verdict $MARK" 1 30; then
    f=$(delivered b "Sealed verdict $MARK"); fields "$f" >"$BASE/s4-sealed.fields"
    ours=$(grep -ciE '^Authentication-Results: *"?mx\.b\.test"?' "$BASE/s4-sealed.fields")
    [ "$ours" = 1 ] && pass "exactly one Authentication-Results under mx.b.test" \
        || fail "$ours Authentication-Results under mx.b.test: $(grep -i '^Authentication-Results' "$BASE/s4-sealed.fields")"
    ar_pass "$f" && ! grep >/dev/null 'header.from=b.example' "$BASE/s4-sealed.fields" \
        && pass "it is ours: fedmail=pass header.from=a.example (the one forged inside the seal is gone)" \
        || fail "not ours: $(grep -i '^Authentication-Results' "$BASE/s4-sealed.fields")"
    top=$(top_field "$f")
    [[ $top == "Authentication-Results: mx.b.test; fedmail=pass"* ]] \
        && pass "it is the first field below local delivery's $(fields "$f" | grep -m3 -ioE '^(Return-Path|Delivered-To|X-Original-To)' | paste -sd, )" \
        || fail "the first field below local delivery's is '$(cut -c1-120 <<<"$top")'; fields: $(cut -c1-60 "$BASE/s4-sealed.fields" | head -n 6 | paste -sd'|')"
else fail "the sealed message was not delivered at B"; fi
fi

# ------------------------------------------------------------------ 5
if want 5; then
scenario 5 "failed but accepted: tampered, On-BadSeal accept + On-SpoofedPartner accept -> fedmail=fail (tag-mismatch)"
b_conf "On-BadSeal accept" "On-SpoofedPartner accept"
secret="Tampered but accepted $MARK"
msg "$BASE/s5.eml" "From: Alice <alice@a.example>" "To: tamperq@b.example" "Subject: Tamper" "Date: $(date -R)" \
    "Message-ID: <s5-$MARK@a.example>" 'Authentication-Results: mx.b.test; fedmail=pass header.from=a.example' -- "$secret"
echo 40 >"$(fed_tap_dir a b)/tamper"
m=$(logmark b)
out=$(from_a "$BASE/s5.eml" tamperq@b.example)
expect_reply "A accepted it" "$out" "accepted"
for _ in $(seq 1 150); do [ -e "$(fed_tap_dir a b)/tamper" ] || break; sleep 0.2; done
rm -f "$(fed_tap_dir a b)/tamper"
ok=0; for _ in $(seq 1 150); do [ "$(in_box b tamperq@b.example "s5-$MARK")" -ge 1 ] && { ok=1; break; }; sleep 0.2; done
if [ $ok = 1 ]; then
    f=$(find "$(pf_maildir b tamperq@b.example)/new" -type f -print0 | xargs -0 grep -lF "s5-$MARK"); fields "$f" >"$BASE/s5.fields"
    grep >/dev/null -F "$secret" "$f" && fail "the plaintext body is visible in the delivered copy" || pass "delivered still sealed (body text not visible)"
    grep >/dev/null -iE '^Content-Type: application/pkcs7-mime' "$BASE/s5.fields" && pass "Content-Type still application/pkcs7-mime" || fail "not application/pkcs7-mime any more"
    grep >/dev/null -E '^Authentication-Results: mx\.b\.test; fedmail=fail \(tag-mismatch\)' "$BASE/s5.fields" \
        && pass "'$(grep -m1 'fedmail=fail' "$BASE/s5.fields")'" || fail "no 'fedmail=fail (tag-mismatch)': $(grep -i '^Authentication-Results' "$BASE/s5.fields")"
    grep >/dev/null -i 'fedmail=pass' "$BASE/s5.fields" && fail "a fedmail=pass is in the delivered copy" || pass "no fedmail=pass anywhere in its header"
    [[ "$(top_field "$f")" == "Authentication-Results: mx.b.test; fedmail=fail"* ]] && pass "the fail verdict is the first field" \
        || fail "first field: $(top_field "$f" | cut -c1-100)"
    log_has b "$m" "decision=accept (tag-mismatch" 2 && pass "B's milter logged '$(log_line b "$m" "decision=accept")'" \
        || fail "no 'decision=accept (tag-mismatch' in B's milter log: $(tail -n 3 "$(fed_milter_log b)")"
else fail "the tampered message was not delivered to tamperq@b.example: $(tail -n 3 "$(fed_milter_log b)")"; fi
b_conf
fi

# ------------------------------------------------------------------ 6
if want 6; then
scenario 6 "replay of a recorded sealed message: delivered once, never to a recipient it was not sealed for, across a restart"
body="Replay me $MARK"
msg "$BASE/s6.eml" "From: Alice <alice@a.example>" "To: bob@b.example" "Subject: Replay" "Date: $(date -R)" \
    "Message-ID: <s6-$MARK@a.example>" -- "$body"
bm=$(pfmark b)
out=$(from_a "$BASE/s6.eml" bob@b.example)
expect_reply "A accepted it" "$out" "accepted"
wait_delivered b "$body" 1 30 && pass "delivered to bob@b.example" || fail "not delivered to bob@b.example"
sleep 0.5
wire=$(grep -lF "s6-$MARK" "$(fed_tap_dir a b)"/msg-*.eml 2>/dev/null)
if [ "$(grep -c . <<<"$wire")" != 1 ]; then fail "recorded A->B copies: '$wire'"
else
    sender=$(sed -n 's/^MAIL FROM:<\([^>]*\)>.*/\1/Ip' "${wire%.eml}.env" | tr -d '\r')
    cp "$wire" "$BASE/replay.eml"
    first=$(tail -n +"$((bm + 1))" "$(pf_log b)" | grep -F "to=<bob@b.example>" | grep -m1 "status=sent" | sed -E 's/.*\]: ([0-9A-F]+): .*/\1/')
    m=$(logmark b)
    out=$(to_b "$BASE/replay.eml" "$sender" bob@b.example)
    expect_reply "replayed to bob@b.example" "$out" "accepted"
    if log_has b "$m" "decision=discard (duplicate of" 5; then
        dup=$(log_line b "$m" "decision=discard" | sed -n 's/.*duplicate of \([^:]*\):.*/\1/p')
        pass "B's milter: '$(log_line b "$m" "decision=discard" | cut -c1-90)'"
        [ -n "$first" ] && [ "$dup" = "$first" ] && pass "it names the first delivery's queue id ($first)" \
            || fail "duplicate of '$dup', the first delivery was $first"
    else fail "no 'decision=discard (duplicate of' in B's milter log: $(tail -n 2 "$(fed_milter_log b)")"; fi
    sleep 1
    n=$(in_box b bob@b.example "$body"); [ "$n" = 1 ] && pass "bob@b.example still has exactly 1 copy" || fail "bob@b.example has $n copies"

    # The same copy sent to a mailbox it was not sealed for: refused, never
    # opened for carol (the envelope recipients are bound in the seal).
    m=$(logmark b)
    out=$(to_b "$BASE/replay.eml" "$sender" bob@b.example,carol@b.example)
    expect_reply "replayed to bob@b.example + carol@b.example (sealed for bob only)" "$out" "550 5.7.1 FedMail: recipient-address"
    log_has b "$m" "recipient-address" 5 && pass "B's milter: '$(log_line b "$m" "recipient-address" | cut -c1-120)'" \
        || fail "no recipient-address refusal in B's milter log: $(tail -n 2 "$(fed_milter_log b)")"
    sleep 1
    nb=$(in_box b bob@b.example "$body"); nc=$(in_box b carol@b.example "$body")
    [ "$nb" = 1 ] && [ "$nc" = 0 ] && pass "carol@b.example got no copy, bob@b.example still 1" || fail "bob has $nb, carol $nc copies"

    fed_milter_restart b || fail "restarting b's milter"
    m=$(logmark b)
    out=$(to_b "$BASE/replay.eml" "$sender" bob@b.example)
    expect_reply "after B's milter restarted, replayed to bob" "$out" "accepted"
    log_has b "$m" "decision=discard (duplicate of" 5 && pass "discarded after the restart (the cache is in $(fed_dir b)/state)" \
        || fail "not discarded after the restart: $(tail -n 2 "$(fed_milter_log b)")"
    sleep 1
    nb=$(in_box b bob@b.example "$body"); nc=$(in_box b carol@b.example "$body")
    [ "$nb" = 1 ] && [ "$nc" = 0 ] && pass "still exactly 1 copy for bob, none for carol" || fail "after the restart: bob has $nb, carol $nc copies"
fi
fi

# ------------------------------------------------------------------ 7
if want 7; then
scenario 7 "A's Postfix splits 5 recipients into transactions of 2: each delivered exactly once"
pf_set a "smtp_destination_recipient_limit = 2"; postfix -c "$(pf_dir a)/etc" reload >/dev/null 2>&1
sleep 1
body="Split in three $MARK"
msg "$BASE/s7.eml" "From: Alice <alice@a.example>" "To: split1@b.example, split2@b.example, split3@b.example, split4@b.example, split5@b.example" \
    "Subject: Split" "Date: $(date -R)" "Message-ID: <s7-$MARK@a.example>" -- "$body"
out=$(from_a "$BASE/s7.eml" split1@b.example,split2@b.example,split3@b.example,split4@b.example,split5@b.example)
expect_reply "A accepted one message for 5 recipients" "$out" "accepted"
wait_delivered b "$body" 5 60; sleep 1
ok=1
for i in 1 2 3 4 5; do
    n=$(in_box b "split$i@b.example" "$body"); [ "$n" = 1 ] || { ok=0; fail "split$i@b.example has $n copies"; }
done
[ $ok = 1 ] && pass "each of the 5 recipients has exactly 1 copy"
bad=0; for f in $(delivered b "$body"); do ar_pass "$f" || bad=$((bad + 1)); done
[ $bad = 0 ] && pass "all opened with fedmail=pass" || fail "$bad copies without fedmail=pass"
w=$(grep -lF "s7-$MARK" "$(fed_tap_dir a b)"/msg-*.eml 2>/dev/null)
nw=$(grep -c . <<<"$w"); rc=0; for e in $w; do rc=$((rc + $(grep -ci '^RCPT TO' "${e%.eml}.env"))); done
[ "$nw" -ge 3 ] && [ $rc = 5 ] && pass "$nw transactions crossed A->B ($rc RCPT in all), the same seal in each" \
    || fail "$nw transaction(s) A->B with $rc RCPT"
if [ "$nw" -ge 2 ]; then
    same=1; e0=$(head -n 1 <<<"$w"); for e in $w; do cmp -s <(sed '1,/^\r\{0,1\}$/d' "$e0") <(sed '1,/^\r\{0,1\}$/d' "$e") || same=0; done
    [ $same = 1 ] && pass "one sealed body in all of them" || fail "the transactions carried different sealed bodies"
fi
postconf -c "$(pf_dir a)/etc" -X smtp_destination_recipient_limit; postfix -c "$(pf_dir a)/etc" reload >/dev/null 2>&1
fi

# ------------------------------------------------------------------ 8
if want 8; then
scenario 8 "B pins a.example to another certificate: a broker-chained A signer is refused"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$BASE/impostor.key" -days 30 \
    -subj "/O=impostor/CN=a.example" -addext "subjectAltName=DNS:a.example" -addext "basicConstraints=critical,CA:FALSE" \
    -addext "keyUsage=critical,digitalSignature,keyAgreement" -addext "extendedKeyUsage=emailProtection" \
    -out "$(fed_dir b)/pin-a.crt" >"$BASE/impostor.log" 2>&1 || fail "openssl req: $(tail -n 3 "$BASE/impostor.log")"
chmod 644 "$(fed_dir b)/pin-a.crt"
echo "a.example     require       cert=pin-a.crt" | fed_allowlist b
reload b && pass "B reloaded (SIGUSR1) with 'a.example require cert=pin-a.crt'" || fail "B did not reload: $(grep 'reload refused' "$(fed_milter_log b)" | tail -n 1)"
msg "$BASE/s8.eml" "From: Alice <alice@a.example>" "To: pin@b.example" "Subject: Pinned" "Date: $(date -R)" \
    "Message-ID: <s8-$MARK@a.example>" -- "Pinned elsewhere $MARK"
pm=$(pfmark a); m=$(logmark b)
out=$(from_a "$BASE/s8.eml" pin@b.example)
expect_reply "A accepted it" "$out" "accepted"
r=$(relay_result a "$pm" pin@b.example)
[[ $r == "550 5.7.1 FedMail: signer-not-pinned-for-domain"* ]] && pass "B answered '$r'" \
    || fail "expected '550 5.7.1 FedMail: signer-not-pinned-for-domain', B answered '$r'"
log_has b "$m" "decision=reject (signer-not-pinned-for-domain" 2 && pass "B's milter logged '$(log_line b "$m" "decision=reject")'" \
    || fail "no 'decision=reject (signer-not-pinned-for-domain' in B's milter log"
sleep 0.5
[ "$(count_delivered b "Pinned elsewhere $MARK")" = 0 ] && pass "nothing delivered" || fail "delivered at B"
echo "$B_ALLOW" | fed_allowlist b
reload b || fail "B did not reload its own allowlist"
msg "$BASE/s8b.eml" "From: Alice <alice@a.example>" "To: pin@b.example" "Subject: Unpinned" "Date: $(date -R)" \
    "Message-ID: <s8b-$MARK@a.example>" -- "Pin removed $MARK"
out=$(from_a "$BASE/s8b.eml" pin@b.example)
if wait_delivered b "Pin removed $MARK" 1 30 && ar_pass "$(delivered b "Pin removed $MARK")"; then
    pass "the pin removed (SIGUSR1): A's next message delivered with fedmail=pass"
else fail "after removing the pin, A's message was not delivered with fedmail=pass"; fi
fi

# ------------------------------------------------------------------ 9
if want 9; then
scenario 9 "recipient binding: a seal for C, re-encrypted to B's key, is refused by B"
body="Rebound to B $MARK"
msg "$BASE/s9.eml" "From: Alice <alice@a.example>" "To: frank@c.example" "Subject: For C" "Date: $(date -R)" \
    "Message-ID: <s9-$MARK@a.example>" -- "$body"
out=$(from_a "$BASE/s9.eml" frank@c.example)
expect_reply "A -> C accepted" "$out" "accepted"
wait_delivered c "$body" 1 30 && ar_pass "$(delivered c "$body")" && pass "C opened it (fedmail=pass)" || fail "not opened at C"
sleep 0.5
wire=$(grep -lF "s9-$MARK" "$(fed_tap_dir a c)"/msg-*.eml 2>/dev/null)
if [ "$(grep -c . <<<"$wire")" = 1 ]; then
    m=$(logmark b)
    out=$(rebind s9-rebound "$wire" alice@a.example)
    r=$(reply "$out")
    if [[ $r == "550 5.7.1 FedMail: recipient-binding"* || $r == "550 5.7.1 FedMail: token-missing"* ]]; then
        pass "broker-sealed (A's token says d=c.example): B answered '$r'"
    else fail "broker-sealed: expected 550 5.7.1 FedMail: recipient-binding (or token-missing), B answered '$r'"; fi
    log_has b "$m" "direction=inbound decision=reject" 2 && pass "B's milter logged '$(log_line b "$m" "decision=reject")'" \
        || fail "no inbound reject in B's milter log"
    sleep 0.5
    [ "$(count_delivered b "$body")" = 0 ] && [ "$(count_delivered b "s9-$MARK")" = 0 ] && pass "nothing delivered at B" || fail "delivered at B"
else fail "recorded A->C copies: '$wire'"; fi

# S: outside the broker, a static partner (cert=) of both B and C.
if fed_org_static s 127.0.0.60 p256 s.example; then
    install -m 644 "$(fed_dir c)/keys/org.crt" "$(fed_dir s)/c.crt"
    install -m 644 "$(fed_dir s)/keys/org.crt" "$(fed_dir c)/s.crt"
    install -m 644 "$(fed_dir s)/keys/org.crt" "$(fed_dir b)/s.crt"
    echo "c.example     require       cert=c.crt" | fed_allowlist s
    printf 'a.example     require\ns.example     require       cert=s.crt\n' | fed_allowlist c
    printf '%s\ns.example     require       cert=s.crt\n' "$B_ALLOW" | fed_allowlist b
    fed_route s c tap
    if fed_start s; then
        reload c || fail "C did not reload with s.example pinned"
        reload b || fail "B did not reload with s.example pinned"
        body="Static rebound $MARK"
        msg "$BASE/s9s.eml" "From: Sam <sam@s.example>" "To: frank@c.example" "Subject: Static for C" "Date: $(date -R)" \
            "Message-ID: <s9s-$MARK@s.example>" -- "$body"
        out=$(send_file "$(fed_addr s):$(fed_port s)" "$(fed_client s)" sam@s.example frank@c.example "$BASE/s9s.eml" 2>&1)
        expect_reply "S -> C accepted" "$out" "accepted"
        if wait_delivered c "$body" 1 30 && fields "$(delivered c "$body")" | grep >/dev/null -E '^Authentication-Results: mx\.c\.test; fedmail=pass.*policy\.cert=static'; then
            pass "C opened S's static seal (fedmail=pass policy.cert=static)"
        else fail "C did not open S's message: $(tail -n 2 "$(fed_milter_log c)")"; fi
        sleep 0.5
        wire=$(grep -lF "s9s-$MARK" "$(fed_tap_dir s c)"/msg-*.eml 2>/dev/null)
        if [ "$(grep -c . <<<"$wire")" = 1 ]; then
            grep >/dev/null -i '^FedMail-Token:' "$wire" && fail "S's static seal carries a FedMail-Token"
            m=$(logmark b)
            out=$(rebind s9-static "$wire" sam@s.example)
            expect_reply "static (S pinned by B): B" "$out" "550 5.7.1 FedMail: recipient-binding"
            log_has b "$m" "decision=reject (recipient-binding" 2 && pass "B's milter logged '$(log_line b "$m" "decision=reject")'" \
                || fail "no 'decision=reject (recipient-binding' in B's milter log: $(tail -n 2 "$(fed_milter_log b)")"
            sleep 0.5
            [ "$(count_delivered b "$body")" = 0 ] && pass "nothing delivered at B" || fail "delivered at B"
        else fail "recorded S->C copies: '$wire'"; fi
    else fail "starting s"; fi
    echo "$B_ALLOW" | fed_allowlist b; reload b || fail "B did not reload its own allowlist"
else fail "setting up the static org s"; fi
fi

# ------------------------------------------------------------------ 10
if want 10; then
scenario 10 "only our mail is ours: S/MIME for a user's own key passes through B byte-exact"
# Bob's personal certificate (not the organization's), as a mail client would have.
openssl req -new -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$BASE/bob.key" -days 30 \
    -subj "/CN=Bob" -addext "subjectAltName=email:bob@b.example" -addext "keyUsage=critical,digitalSignature,keyAgreement" \
    -addext "extendedKeyUsage=emailProtection" -out "$BASE/bob.crt" 2>/dev/null || fail "making Bob's certificate"
printf 'Content-Type: text/plain\r\n\r\nPersonal secret %s\r\n' "$MARK" >"$BASE/s10-inner.txt"
s10() { # s10 TAG FILE-OF-CMS-OUTPUT [EXTRA-FIELD]: wrap openssl's S/MIME output with the outer fields and send it to bob
    { printf 'From: Nora <nora@n.example>\r\nTo: bob@b.example\r\nSubject: Own key %s %s\r\nDate: %s\r\nMessage-ID: <s10-%s-%s@n.example>\r\n' \
        "$1" "$MARK" "$(date -R)" "$1" "$MARK"
      [ -n "${3:-}" ] && printf '%s\r\n' "$3"
      sed 's/\r\{0,1\}$/\r/' "$2"; } >"$BASE/s10-$1.eml"
    out=$(to_b "$BASE/s10-$1.eml" nora@n.example bob@b.example)
    expect_reply "S/MIME $1 for Bob's own key" "$out" "accepted"
    if wait_delivered b "Own key $1 $MARK" 1 30; then
        f=$(delivered b "Own key $1 $MARK")
        # (local delivery writes LF line ends into the Maildir)
        if cmp -s <(strip_trace "$f" | tr -d '\r') <(tr -d '\r' <"$BASE/s10-$1.eml"); then pass "S/MIME $1 delivered byte-exact (trace fields and CRLF aside)"
        else fail "S/MIME $1 delivered changed: $(diff <(strip_trace "$f" | tr -d '\r' | head -c 3000) <(tr -d '\r' <"$BASE/s10-$1.eml" | head -c 3000) | head -n 6 | tr '\n' ' ')"; fi
    else fail "S/MIME $1 not delivered: $(tail -n 2 "$(fed_milter_log b)")"; fi
}
openssl cms -encrypt -aes-256-gcm -in "$BASE/s10-inner.txt" -recip "$BASE/bob.crt" -keyopt ecdh_kdf_md:sha256 -out "$BASE/s10-gcm.p7m" 2>/dev/null
s10 gcm "$BASE/s10-gcm.p7m"
openssl cms -encrypt -aes-256-cbc -in "$BASE/s10-inner.txt" -recip "$BASE/bob.crt" -out "$BASE/s10-cbc.p7m" 2>/dev/null
s10 cbc "$BASE/s10-cbc.p7m"
openssl cms -sign -in "$BASE/s10-inner.txt" -signer "$BASE/bob.crt" -inkey "$BASE/bob.key" -out "$BASE/s10-signed.p7m" 2>/dev/null
s10 signed "$BASE/s10-signed.p7m"
# A FedMail-Token for somebody else's domain does not make it ours.
s10 othertoken "$BASE/s10-gcm.p7m" "FedMail-Token: v=1; d=c.example; t=aaa.bbb.ccc"
# Encrypted to B's organization key without AEAD: ours, and refused.
openssl cms -encrypt -aes-256-cbc -keyid -in "$BASE/s10-inner.txt" -recip "$(fed_dir b)/keys/org.crt" -keyopt ecdh_kdf_md:sha256 \
    -out "$BASE/s10-org.p7m" 2>/dev/null
{ printf 'From: Nora <nora@n.example>\r\nTo: bob@b.example\r\nSubject: Org CBC %s\r\nDate: %s\r\nMessage-ID: <s10-org-%s@n.example>\r\n' \
    "$MARK" "$(date -R)" "$MARK"; sed 's/\r\{0,1\}$/\r/' "$BASE/s10-org.p7m"; } >"$BASE/s10-org.eml"
out=$(to_b "$BASE/s10-org.eml" nora@n.example bob@b.example)
expect_reply "CBC S/MIME to B's organization key" "$out" "550 5.7.1 FedMail: not-aead"
fi

# ------------------------------------------------------------------ 11
if want 11; then
scenario 11 "a FedMail-Token header or an authEnveloped-data Content-Type does not make outbound mail 'already sealed'"
msg "$BASE/s11.eml" "From: Alice <alice@a.example>" "To: bob@b.example" "Subject: Looks sealed $MARK" "Date: $(date -R)" \
    "Message-ID: <s11-$MARK@a.example>" "MIME-Version: 1.0" "FedMail-Token: v=1; d=b.example; t=fake.fake.fake" \
    "Content-Type: application/pkcs7-mime; smime-type=authEnveloped-data; name=smime.p7m" "Content-Transfer-Encoding: base64" \
    -- "TG9va3Mgc2VhbGVkIGJ1dCBpcyBub3Q="
out=$(from_a "$BASE/s11.eml" bob@b.example)
expect_reply "A's user" "$out" "accepted"
if wait_delivered b "Looks sealed $MARK" 1 30; then
    f=$(delivered b "Looks sealed $MARK")
    ar_pass "$f" && pass "B opened it: fedmail=pass" || fail "no fedmail=pass at B: $(fields "$f" | grep -i '^Authentication-Results' | head -n 2)"
    grep >/dev/null -F "TG9va3Mgc2VhbGVkIGJ1dCBpcyBub3Q=" "$f" && pass "the original body delivered" || fail "body changed"
    wire=$(grep -lF "s11-$MARK@a.example" "$(fed_tap_dir a b)"/msg-*.eml 2>/dev/null | head -n 1)
    if [ -n "$wire" ] && [ "$(grep -ci '^FedMail-Token:' "$wire")" = 1 ] && ! grep >/dev/null -F "fake.fake.fake" "$wire" \
        && ! grep >/dev/null -F "TG9va3Mgc2VhbGVkIGJ1dCBpcyBub3Q=" "$wire"; then
        pass "on the wire: sealed by A with one genuine token; the fake one and the body only inside"
    else fail "on the wire ($wire): $(grep -i '^FedMail-Token' "$wire" 2>/dev/null | cut -c1-80 | paste -sd'|')"; fi
else fail "not delivered at B: $(tail -n 2 "$(fed_milter_log a)")"; fi
fi

# ------------------------------------------------------------------ 12
if want 12; then
scenario 12 "fedmailctl open --check-tokens holds a recorded sealed message to the milter's policy"
msg "$BASE/s12.eml" "From: Alice <alice@a.example>" "To: bob@b.example" "Subject: Check tokens $MARK" "Date: $(date -R)" \
    "Message-ID: <s12-$MARK@a.example>" -- "Check tokens body $MARK"
out=$(from_a "$BASE/s12.eml" bob@b.example)
expect_reply "A's user" "$out" "accepted"
wait_delivered b "Check tokens body $MARK" 1 30 || fail "not delivered at B"
wire=$(grep -lF "s12-$MARK@a.example" "$(fed_tap_dir a b)"/msg-*.eml 2>/dev/null | head -n 1)
k=$(fed_dir b)/keys
if [ -n "$wire" ]; then
    if "$FED_CTL" open --check-tokens --key "$k/org.key" --cert "$k/org.crt" --ca "$FED_BROKER_CA" "$wire" "$BASE/s12.out" 2>"$BASE/s12.err" \
        && grep >/dev/null -F "Check tokens body $MARK" "$BASE/s12.out"; then
        pass "B's key and the broker CA: opened, tokens verified and bound"
    else fail "fedmailctl open --check-tokens: $(head -c 300 "$BASE/s12.err")"; fi
    # The same bytes without their FedMail-Token field (folded lines too).
    python3 - "$wire" "$BASE/s12-notoken.eml" <<'P'
import sys
out, skip = [], False
data = open(sys.argv[1], "rb").read()
head, sep, body = data.partition(b"\r\n\r\n")
for line in head.split(b"\r\n"):
    if line[:1] in (b" ", b"\t"):
        if not skip: out.append(line)
        continue
    skip = line.lower().startswith(b"fedmail-token:")
    if not skip: out.append(line)
open(sys.argv[2], "wb").write(b"\r\n".join(out) + sep + body)
P
    "$FED_CTL" open --check-tokens --key "$k/org.key" --cert "$k/org.crt" --ca "$FED_BROKER_CA" "$BASE/s12-notoken.eml" "$BASE/s12-nt.out" 2>"$BASE/s12-nt.err"
    st=$?
    if [ $st = 1 ] && grep >/dev/null "token-missing" "$BASE/s12-nt.err" && [ ! -s "$BASE/s12-nt.out" ]; then
        pass "without its token: exit 1, '$(head -n 1 "$BASE/s12-nt.err" | cut -c1-80)', nothing written"
    else fail "without its token: exit $st, $(head -c 200 "$BASE/s12-nt.err")"; fi
    # Without --check-tokens the crypto and authorship checks alone pass.
    "$FED_CTL" open --key "$k/org.key" --cert "$k/org.crt" --ca "$FED_BROKER_CA" "$BASE/s12-notoken.eml" "$BASE/s12-plain.out" 2>/dev/null \
        && pass "without --check-tokens the same message opens (tokens are then the caller's)" || fail "plain fedmailctl open refused it"
else fail "no recorded A->B copy of the message"; fi
fi

# ------------------------------------------------------------------ 13
if want 13; then
scenario 13 "recipient spellings Postfix accepts and routes: white space and comments do not hide the domain"
s13=0
for rcpt in '<bob@b.example >' '<bob @ b.example>' '<bob@b.example (Bob)>'; do
    s13=$((s13 + 1))
    msg "$BASE/s13-spoof-$s13.eml" "From: CEO <ceo@a.example>" "To: bob@b.example" "Subject: Spelled $s13" "Date: $(date -R)" \
        "Message-ID: <s13-spoof-$s13-$MARK@n.example>" 'Authentication-Results: mx.b.test; fedmail=pass header.from=a.example' \
        -- "Spelled spoof $s13 $MARK"
    out=$(to_b "$BASE/s13-spoof-$s13.eml" x@n.example "raw:$rcpt")
    expect_reply "B: a.example's plaintext with a forged fedmail=pass to RCPT TO:$rcpt" "$out" "550 5.7.1 FedMail: a.example requires sealed mail"
    msg "$BASE/s13-forged-$s13.eml" "From: Someone <someone@n.example>" "To: bob@b.example" "Subject: Spelled verdict $s13" \
        "Date: $(date -R)" "Message-ID: <s13-forged-$s13-$MARK@n.example>" \
        'Authentication-Results: mx.b.test; fedmail=pass header.from=a.example' -- "Spelled verdict $s13 $MARK"
    out=$(to_b "$BASE/s13-forged-$s13.eml" someone@n.example "raw:$rcpt")
    expect_reply "B: plaintext with a forged fedmail=pass to RCPT TO:$rcpt" "$out" "accepted"
    if wait_delivered b "Spelled verdict $s13 $MARK" 1 30; then
        f=$(delivered b "Spelled verdict $s13 $MARK")
        fields "$f" | grep >/dev/null -i '^Authentication-Results:.*fedmail=pass' \
            && fail "RCPT TO:$rcpt: the forged fedmail=pass was delivered to bob@b.example" \
            || pass "RCPT TO:$rcpt: delivered to bob@b.example without the forged fedmail=pass"
    else fail "RCPT TO:$rcpt: the plaintext message was not delivered at B"; fi
    msg "$BASE/s13-out-$s13.eml" "From: Alice <alice@a.example>" "To: bob@b.example" "Subject: Spelled out $s13" "Date: $(date -R)" \
        "Message-ID: <s13-out-$s13-$MARK@a.example>" -- "Spelled outbound $s13 $MARK"
    out=$(from_a "$BASE/s13-out-$s13.eml" "raw:$rcpt")
    expect_reply "A: mail to b.example (require) as RCPT TO:$rcpt" "$out" "accepted"
    if wait_delivered b "Spelled outbound $s13 $MARK" 1 30; then
        f=$(delivered b "Spelled outbound $s13 $MARK")
        w=$(grep -lF "Spelled outbound $s13 $MARK" "$(fed_tap_dir a b)"/msg-*.eml 2>/dev/null | head -n 1)
        if [ -z "$w" ] && ar_pass "$f"; then
            pass "RCPT TO:$rcpt: sealed on the wire (the plaintext never seen) and opened at B with fedmail=pass"
        else
            fail "RCPT TO:$rcpt: left A unsealed or was not opened (plaintext on the wire: ${w:-none})"
        fi
    else fail "RCPT TO:$rcpt: not delivered at B"; fi
done
msg "$BASE/s13-reroute.eml" "From: Alice <alice@a.example>" "To: bob@b.example" "Subject: Reroute" "Date: $(date -R)" \
    "Message-ID: <s13-reroute-$MARK@a.example>" -- "Reroute $MARK"
for rcpt in '<bob%b.example@a.example>' '<b.example!bob>'; do
    out=$(from_a "$BASE/s13-reroute.eml" "raw:$rcpt")
    expect_reply "A: RCPT TO:$rcpt (the MTA may reroute it)" "$out" "550 5.1.3 FedMail: cannot tell the domain"
done
for rcpt in '<bob%n.example@b.example>' '<n.example!bob>'; do
    out=$(to_b "$BASE/s13-reroute.eml" someone@n.example "raw:$rcpt")
    expect_reply "B: RCPT TO:$rcpt (the MTA may reroute it)" "$out" "550 5.1.3 FedMail: cannot tell the domain"
done
sleep 0.5
[ "$(count_delivered a "Reroute $MARK")$(count_delivered b "Reroute $MARK")" = 00 ] && pass "nothing of the rerouted recipients delivered" \
    || fail "rerouted recipients delivered: $(delivered a "Reroute $MARK") $(delivered b "Reroute $MARK")"
fi

# ------------------------------------------------------------------ sweep
scenario sweep "every delivered message at A and B: at most one verdict under the receiver's id, at the top"
python3 - "$(pf_dir a)/mail" mx.a.test "$(pf_dir b)/mail" mx.b.test mx.front.test >"$BASE/sweep.txt" <<'P'
import os, re, sys
def fields(path):
    out = []
    for line in open(path, "rb").read().splitlines():
        if not line.strip(): break
        if line[:1] in (b" ", b"\t") and out: out[-1] += b" " + line.strip()
        else: out.append(line.rstrip())
    return [l.decode("utf-8", "replace") for l in out]
def authserv(value):
    v = value.strip()
    while v.startswith("("):  # comments (no nesting needed for the sweep)
        v = v[v.find(")") + 1:].strip() if ")" in v else ""
    m = re.match(r'"((?:[^"\\]|\\.)*)"|([^\s;(]+)', v)
    return (m.group(1) or m.group(2) or "").replace("\\", "").lower() if m else ""
args = sys.argv[1:]
checked = bad = 0
for top, ours, trusted in ((args[0], args[1], []), (args[2], args[3], args[4:])):
    for root, _, files in os.walk(top):
        if not root.endswith("/new"): continue
        for name in files:
            path = os.path.join(root, name); checked += 1
            fs = fields(path)
            ar = [f for f in fs if f.lower().startswith("authentication-results:")]
            mine = [f for f in ar if authserv(f.split(":", 1)[1]) == ours]
            foreign = [f for f in ar if authserv(f.split(":", 1)[1]) in trusted]
            scans = [f for f in fs if re.match(r"(?i)x-(virus|spam)-scanned:", f)]
            first = next((f for f in fs if not re.match(r"(?i)(return-path|delivered-to|x-original-to):", f)), "")
            why = []
            if len(mine) > 1: why.append("%d fields under %s" % (len(mine), ours))
            if mine and first != mine[0]: why.append("ours is not the first field (%s)" % first[:60])
            if foreign: why.append("trusted-id field: %s" % foreign[0][:80])
            if scans: why.append("scan field: %s" % scans[0][:80])
            if why:
                bad += 1; print("BAD %s: %s" % (path, "; ".join(why)))
print("checked %d" % checked)
P
n=$(sed -n 's/^checked //p' "$BASE/sweep.txt")
if grep >/dev/null '^BAD' "$BASE/sweep.txt"; then fail "$(grep -c '^BAD' "$BASE/sweep.txt") of $n delivered messages: $(grep -m3 '^BAD' "$BASE/sweep.txt" | sed "s|$BASE/||" | paste -sd'|')"
else pass "$n delivered messages checked"; fi

echo "t-authorship: $passes passed, $failures failed ($(( $(date +%s) - START ))s)"
if ((failures)); then
    printf '  failed: %s\n' "${failed[@]}"
    for o in a b c s; do [ -e "$(fed_milter_log "$o")" ] || continue; echo "--- milter $o (last lines)"; tail -n 10 "$(fed_milter_log "$o")"; done
    exit 1
fi
