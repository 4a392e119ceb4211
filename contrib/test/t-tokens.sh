#!/usr/bin/env bash
# Federation tokens end to end through real MTAs: pop mode, and the tokens
# a receiving gateway must refuse.
#
# One broker; organizations A (127.0.0.10, RSA 3072, a.example), B
# (127.0.0.20, P-256, b.example and b2.example) and C (127.0.0.30, P-256,
# c.example), each a real Postfix with its own fedmail-milter; S
# (127.0.0.42, RSA 3072, s.example) is a real Sendmail gateway
# (lib/sendmail.sh) whose mailboxes live on a plain Postfix store
# (127.0.0.46). A<->B, S<->B and A->C go through SMTP wiretaps. A and B
# are pop partners for b.example / a.example (allowlist mode=pop on both
# sides), S and B for s.example / b.example; A sends b2.example and
# c.example in direct mode. "Outside" is an SMTP client on 127.0.0.99
# talking to B's gateway directly.
#
#   p1  pop A -> B (RSA 3072 seals for P-256), Postfix at both ends
#   p2  pop B -> A (P-256 seals for RSA 3072), Postfix at both ends
#   p3  pop S -> B, Sendmail seals, Postfix opens
#   p4  pop B -> S, Postfix seals, Sendmail opens
#       each: on the wire exactly one recipientInfo, a KEKRecipientInfo
#       whose key id is the jti of the FedMail-Token (the JWS payload
#       decoded here), and the message delivered byte-exact (as the
#       sender's own store delivers the same bytes, trace fields aside)
#       with fedmail=pass
#   Refused by B with "550 5.7.1 FedMail: <check>" (in the SMTP reply and
#   B's milter log), nothing delivered; the sealed messages come from the
#   A->B / A->C wiretaps and are re-sent from outside:
#   na  message 1's token on message 2 (A's token cache emptied between
#       them, so the two tokens differ) -> token-binding; the same with two
#       pop messages (the swapped token's PoP key opens nothing) -> refused
#   nb  the FedMail-Token removed -> token-missing; from a pop message ->
#       refused (no recipientInfo for B's key: plaintext of a require partner)
#   nc  A's genuine token for c.example under "d=b2.example" -> token-signature
#       (the verifier checks aud) or token-audience
#   nd  tokens from a rogue broker -> token-signature: (1) issued by a second
#       fedmail-broker with the same name where A and B enrolled their keys
#       too, (2) the genuine token's claims re-signed by a self-made CA
#       and token-signing certificate with the broker CA's subject,
#       (3) the genuine token with one claim changed
#   ne  a plaintext message from a require partner carrying a FedMail-Token
#       (A's genuine one, and garbage) -> 550 5.7.1
#   nf  a genuine token the broker issued to another member (C, for
#       b2.example) on A's message -> token-signer
#   ns  through Sendmail: a B->S sealed message without its token, and one
#       with a ciphertext byte changed, sent to S's Sendmail gateway from
#       outside -> 550 5.7.1 FedMail: ..., nothing delivered
#
# KEEP=1 keeps the work directory. ONLY="p1 na" runs only those scenarios.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=lib/federation.sh
. contrib/test/lib/federation.sh
. contrib/test/lib/messages.sh
. contrib/test/lib/checks.sh
. contrib/test/lib/broker.sh
fed_suite tokens || exit 1
fed_suite_cleanup() { broker_stop_all; }

. contrib/test/lib/scenarios.sh
START=$(date +%s)
diagnose() {
    for o in a b c s; do [ -e "$(fed_milter_log "$o")" ] || continue; echo "--- milter $o (last lines)"; tail -n 12 "$(fed_milter_log "$o")"; done
}
die() { echo "t-tokens: $*"; diagnose; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (private Postfix and Sendmail instances)"
for tool in swaks python3 curl openssl postconf unshare; do command -v "$tool" >/dev/null || die "$tool missing"; done

# ------------------------------------------------------------------ helpers
MARK=$(date +%s)-$$
OUTSIDE=127.0.0.99
# ar_pass FILE AUTHSERV SENDER-DOMAIN: our Authentication-Results says fedmail=pass from SENDER-DOMAIN
ar_pass() {
    grep -a -A3 -i "^Authentication-Results: ${2//./\\.};" "$1" | tr -d '\n\t' | grep >/dev/null -E "fedmail=pass.*header\.from=[^ ;]*${3//./\\.}"
}
# token_of FILE [DOMAIN]: the JWS of the (first) FedMail-Token field (for DOMAIN), unfolded
token_of() {
    python3 - "$1" "${2:-}" <<'P'
import re, sys
data = open(sys.argv[1], "rb").read()
head = re.split(rb"\r?\n\r?\n", data, maxsplit=1)[0].decode("utf-8", "replace")
for field in re.split(r"\r?\n(?![ \t])", head):
    name, _, value = field.partition(":")
    if name.strip().lower() != "fedmail-token":
        continue
    params = {}
    for part in value.split(";"):
        k, _, v = part.partition("=")
        params[k.strip().lower()] = "".join(v.split())
    if not sys.argv[2] or params.get("d", "").lower() == sys.argv[2].lower():
        print(params.get("t", "")); break
P
}
# claim TOKEN NAME: a claim of the JWS payload, decoded here (no verification)
claim() {
    python3 - "$1" "$2" <<'P'
import base64, json, sys
payload = sys.argv[1].split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
v = claims.get(sys.argv[2], "")
print(json.dumps(v) if isinstance(v, (list, dict)) else v)
P
}
# hdr_edit IN OUT strip | IN OUT put DOMAIN TOKEN | IN OUT raw DONOR [DOMAIN]:
# IN without its FedMail-Token fields; "put" adds one for DOMAIN with TOKEN,
# "raw" the FedMail-Token fields of DONOR as they are (with DOMAIN: their
# d= changed to DOMAIN), where IN's first one was
hdr_edit() {
    python3 - "$@" <<'P'
import re, sys
src, out, op = sys.argv[1:4]
data = open(src, "rb").read()
m = re.search(rb"\r?\n\r?\n", data)
head, body = data[:m.start()], data[m.start():]
def fields(h):
    return re.split(rb"\r\n(?![ \t])", h)
def is_token(f):
    return f.split(b":", 1)[0].strip().lower() == b"fedmail-token"
kept, at = [], None
for f in fields(head):
    if is_token(f):
        if at is None: at = len(kept)
        continue
    kept.append(f)
if at is None: at = 0
new = []
if op == "put":
    domain, token = sys.argv[4], sys.argv[5]
    value = "v=1; d=%s; t=%s" % (domain, token)
    chunks = [value[i:i + 70] for i in range(0, len(value), 70)]
    new = [("FedMail-Token: " + "\r\n\t".join(chunks)).encode()]
elif op == "raw":
    donor = open(sys.argv[4], "rb").read()
    dm = re.search(rb"\r?\n\r?\n", donor)
    new = [f for f in fields(donor[:dm.start()]) if is_token(f)]
    if len(sys.argv) > 5:
        new = [re.sub(rb"\bd=[^;\s]+", b"d=" + sys.argv[5].encode(), f, count=1) for f in new]
kept[at:at] = new
open(out, "wb").write(b"\r\n".join(kept) + body)
P
}
# outside FILE MAILFROM RCPTS: FILE sent from outside straight to B's gateway
outside() { send_file "$(fed_addr b):$(fed_port b)" "$OUTSIDE" "$2" "$3" "$1" 2>&1; }
# refused_by_b WHAT FILE RCPT CHECK...: FILE sent from outside to RCPT at B
# is answered "550 5.7.1 FedMail: CHECK" (one of the CHECKs; "*": any),
# B's milter logs the reject, and nothing reaches RCPT's mailbox
refused_by_b() {
    local what=$1 file=$2 rcpt=$3; shift 3
    local m r ok=0 c
    m=$(logmark b)
    r=$(reply "$(outside "$file" alice@a.example "$rcpt")")
    for c in "$@"; do
        if [ "$c" = "*" ]; then [[ $r == "550 5.7.1 FedMail: "* ]] && ok=1
        elif [[ $r == "550 5.7.1 FedMail: $c"* ]]; then ok=1; fi
    done
    if [ $ok = 1 ]; then pass "$what: B answered '$r'"
    else fail "$what: expected '550 5.7.1 FedMail: $(tr ' ' '|' <<<"$*")', B answered '$r'"; fi
    if log_has b "$m" "direction=inbound decision=reject (" 3; then pass "$what: B's milter logged '$(log_line b "$m" "decision=reject")'"
    elif log_has b "$m" "decision=reject (" 1; then pass "$what: B's milter logged '$(log_line b "$m" "decision=reject")'"
    else fail "$what: no reject in B's milter log: $(tail -n 2 "$(fed_milter_log b)" | cut -c1-200)"; fi
    sleep 0.3
    local n; n=$(find "$(pf_maildir b "$rcpt")" -type f 2>/dev/null | grep -c .)
    [ "$n" = 0 ] && pass "$what: nothing delivered to $rcpt" || fail "$what: $n message(s) delivered to $rcpt"
}
# kek_only WIRE WHAT: fedmailctl inspect lists exactly one recipientInfo, a
# KEKRecipientInfo whose key id is the jti of WIRE's FedMail-Token
kek_only() {
    local w=$1 what=$2 token jti out n
    token=$(token_of "$w"); jti=$(claim "$token" jti)
    out=$("$FED_CTL" inspect "$w" 2>&1)
    n=$(grep -c '^recipient:' <<<"$out")
    if [ -z "$jti" ]; then fail "$what: no jti in the FedMail-Token of the wire copy"
    elif [ "$n" = 1 ] && grep -qE "^recipient: kek id=$jti( |$)" <<<"$out"; then
        pass "$what: exactly one recipientInfo, '$(grep '^recipient:' <<<"$out")' = the token's jti (pop: $( [ -n "$(claim "$token" pop)" ] && echo present || echo MISSING))"
    else fail "$what: expected one 'recipient: kek id=$jti', fedmailctl inspect says: $(grep -E '^(recipient|token|content)' <<<"$out" | paste -sd'|')"; fi
}
# pop_case TAG SERVER CLIENT FROM RCPT REF-ORG REF-RCPT DST-ORG TAP-FROM TAP-TO AUTHSERV FROM-DOMAIN:
# one message through SERVER to RCPT (pop) and to REF-RCPT (the sender's own
# copy); the delivered copies compared, the wire copy inspected
pop_case() {
    local tag=$1 server=$2 client=$3 from=$4 rcpt=$5 reforg=$6 refrcpt=$7 dst=$8 tfrom=$9 tto=${10} authserv=${11} fromdom=${12}
    local f=$BASE/pop-$tag.eml mid="<pop-$tag-$MARK@$fromdom>" body="Pop $tag $MARK"
    msg "$f" "From: Sender <$from>" "To: <$rcpt>" "Subject: Pop mode $tag" "Date: $(date -R)" "Message-ID: $mid" \
        "MIME-Version: 1.0" "Content-Type: text/plain; charset=us-ascii" \
        -- "$body"$'\r\n'".leading dot"$'\r\n'"trailing space "$'\r\n\r\n'"last line"
    local out1 out2
    out1=$(send_file "$server" "$client" "$from" "$refrcpt" "$f" 2>&1); out2=$(send_file "$server" "$client" "$from" "$rcpt" "$f" 2>&1)
    if [ "$(reply "$out1")" != accepted ] || [ "$(reply "$out2")" != accepted ]; then
        fail "$tag: not accepted (reference: $(reply "$out1"); to $rcpt: $(reply "$out2"))"; return; fi
    if ! wait_delivered "$reforg" "$mid" 1 60; then fail "$tag: the reference copy was not delivered at $reforg"; return; fi
    if ! wait_delivered "$dst" "$body" 1 60; then fail "$tag: not delivered to $rcpt: $(tail -n 2 "$(fed_milter_log "$dst")" 2>/dev/null | cut -c1-200)"; return; fi
    local ref got
    ref=$(delivered "$reforg" "$mid" | head -n 1); got=$(delivered "$dst" "$body")
    [ "$(grep -c . <<<"$got")" = 1 ] || { fail "$tag: $(grep -c . <<<"$got") copies delivered"; return; }
    strip_trace "$ref" >"$BASE/ref-$tag"; strip_trace "$got" >"$BASE/got-$tag"
    if cmp -s "$BASE/ref-$tag" "$BASE/got-$tag"; then pass "$tag: delivered to $rcpt byte-exact as the sender's own copy ($(stat -c %s "$got") bytes)"
    else fail "$tag: the delivered copy differs: $(cmp "$BASE/ref-$tag" "$BASE/got-$tag" 2>&1 | head -n 1)"; fi
    ar_pass "$got" "$authserv" "$fromdom" && pass "$tag: 'Authentication-Results: $authserv; fedmail=pass header.from=$fromdom'" \
        || fail "$tag: no fedmail=pass from $authserv: $(grep -a -i -A2 '^Authentication-Results' "$got" | head -n 3)"
    sleep 0.3
    local w; w=$(wire "$tfrom" "$tto" "$mid")
    if [ "$(grep -c . <<<"$w")" != 1 ]; then fail "$tag: recorded $tfrom->$tto copies: '$w'"; return; fi
    cp "$w" "$BASE/wire-$tag.eml"
    sealed_wire "$w" && ! grep -qF "$body" "$w" && pass "$tag: sealed on the wire (authEnveloped-data, FedMail-Token, body not visible)" \
        || fail "$tag: the wire copy is not sealed: $(head -c 400 "$w")"
    kek_only "$w" "$tag"
}

# ------------------------------------------------------------------ federation
echo "== setting up: broker; a, b, c (Postfix), s (Sendmail) + its store"
fed_broker_start || die "broker did not start"
fed_org_sendmail s 127.0.0.42 rsa3072 s.example || die "org s (Sendmail)"
fed_org a 127.0.0.10 rsa3072 a.example || die "org a"
fed_org b 127.0.0.20 p256 b.example b2.example || die "org b"
fed_org c 127.0.0.30 p256 c.example || die "org c"
fed_plain store 127.0.0.46 s.example
pass "broker on $FED_BROKER_URL; a (RSA 3072), b (P-256), c (P-256), s (Sendmail, RSA 3072) enrolled and approved"

fed_allowlist a <<'L'
b.example     require       mode=pop
b2.example    require
c.example     require
L
fed_allowlist b <<'L'
a.example     require       mode=pop
s.example     require       mode=pop
L
fed_allowlist c <<'L'
a.example     require
L
fed_allowlist s <<'L'
b.example     require       mode=pop
L
fed_route s b tap; sm_route s s.example "$(fed_addr store):$(fed_port store)" 0
fed_route a b tap; fed_route a c tap; fed_route b a tap; fed_route b s tap
for box in ref@a.example alice@a.example; do fed_mailbox a "$box"; done
for box in bob@b.example carol@b.example ref@b.example bob@b2.example; do fed_mailbox b "$box"; done
for box in na@b2.example na-pop@b.example nb@b2.example nb-pop@b.example nc@b2.example nd1@b2.example nd2@b2.example nd3@b2.example \
    ne1@b2.example ne2@b2.example nf@b2.example; do fed_mailbox b "$box"; done
fed_mailbox c frank@c.example
for box in dave@s.example ref@s.example; do fed_mailbox store "$box"; done
for o in a b c s; do
    "$FEDMAIL_BIN/fedmail-milter" -n -c "$(fed_dir $o)/milter.conf" >"$BASE/check-$o.txt" 2>&1 \
        || die "fedmail-milter -n refuses the config of $o: $(cat "$BASE/check-$o.txt")"
done
for o in store a b c s; do fed_start "$o" || die "starting $o"; done
pass "running: Postfix a, b, c with their milters; Sendmail s + store; allowlists with mode=pop between a and b, s and b"

A_SERVER=$(fed_addr a):$(fed_port a); B_SERVER=$(fed_addr b):$(fed_port b); S_SERVER=$(fed_addr s):$(fed_port s)

# ------------------------------------------------------------------ pop
if want p1; then
scenario p1 "pop A -> B: RSA 3072 seals for P-256, Postfix at both ends"
pop_case p1 "$A_SERVER" "$(fed_client a)" alice@a.example bob@b.example a ref@a.example b a b mx.b.test a.example
fi
if want p2; then
scenario p2 "pop B -> A: P-256 seals for RSA 3072, Postfix at both ends"
pop_case p2 "$B_SERVER" "$(fed_client b)" bob@b.example alice@a.example b ref@b.example a b a mx.a.test b.example
fi
if want p3; then
scenario p3 "pop S -> B: Sendmail seals (RSA 3072), Postfix opens (P-256)"
pop_case p3 "$S_SERVER" "$(fed_client s)" dave@s.example carol@b.example store ref@s.example b s b mx.b.test s.example
fi
if want p4; then
scenario p4 "pop B -> S: Postfix seals (P-256), Sendmail opens (RSA 3072)"
pop_case p4 "$B_SERVER" "$(fed_client b)" bob@b.example dave@s.example b ref@b.example store b s mx.s.test b.example
fi

# ------------------------------------------------------------------ the tokens B must refuse
NEED_NEG=0; for s in na nb nc nd ne nf; do want $s && NEED_NEG=1; done
if [ $NEED_NEG = 1 ]; then
# sealed_to TAG RCPT ORG: a message from alice@a.example to RCPT, sealed by A,
# delivered at ORG; its copy from the A->ORG wiretap as $BASE/w-TAG.eml
sealed_to() {
    local tag=$1 rcpt=$2 to=$3 f=$BASE/m-$1.eml w
    msg "$f" "From: Alice <alice@a.example>" "To: <$rcpt>" "Subject: Token $tag" "Date: $(date -R)" \
        "Message-ID: <tok-$tag-$MARK@a.example>" -- "Token test $tag $MARK"
    [ "$(reply "$(send_file "$A_SERVER" "$(fed_client a)" alice@a.example "$rcpt" "$f" 2>&1)")" = accepted ] || { echo "A refused $tag"; return 1; }
    wait_delivered "$to" "Token test $tag $MARK" 1 60 || { echo "$tag not delivered at $to"; return 1; }
    sleep 0.3
    w=$(wire a "$to" "tok-$tag-$MARK")
    [ "$(grep -c . <<<"$w")" = 1 ] || { echo "$tag: recorded A->$to copies: '$w'"; return 1; }
    cp "$w" "$BASE/w-$tag.eml"
}
# A's milter forgets its tokens (memory and TokenCacheDir): the next message gets a new one
fresh_tokens() { fm_stop a; rm -rf "$(fed_dir a)/cache"/*; fed_milter_restart a; }

scenario neg "sealed messages recorded on the A->B and A->C wires"
ok=1
sealed_to m1 bob@b2.example b || { ok=0; fail "message 1 (A -> b2.example, direct)"; }
sealed_to p1 bob@b.example b || { ok=0; fail "pop message 1 (A -> b.example)"; }
fresh_tokens || die "restarting a's milter"
sealed_to m2 bob@b2.example b || { ok=0; fail "message 2 (A -> b2.example, direct)"; }
sealed_to p2 bob@b.example b || { ok=0; fail "pop message 2 (A -> b.example)"; }
sealed_to c frank@c.example c || { ok=0; fail "A -> c.example"; }
if [ $ok = 1 ]; then
    T1=$(token_of "$BASE/w-m1.eml" b2.example); T2=$(token_of "$BASE/w-m2.eml" b2.example); TC=$(token_of "$BASE/w-c.eml" c.example)
    P1=$(token_of "$BASE/w-p1.eml" b.example); P2=$(token_of "$BASE/w-p2.eml" b.example)
    J1=$(claim "$T1" jti); J2=$(claim "$T2" jti)
    if [ -n "$J1" ] && [ -n "$J2" ] && [ "$J1" != "$J2" ] && [ "$(claim "$P1" jti)" != "$(claim "$P2" jti)" ]; then
        pass "5 sealed messages recorded; A's token cache emptied between 1 and 2: jti $J1 / $J2 (pop $(claim "$P1" jti) / $(claim "$P2" jti)); C's token aud=$(claim "$TC" aud)"
    else fail "the two messages do not carry different tokens (jti '$J1' / '$J2'): the swap below proves nothing"; fi
    for w in m1 m2 p1 p2 c; do sealed_wire "$BASE/w-$w.eml" || fail "w-$w is not sealed"; done
else die "could not record the sealed messages the negative cases are made of"; fi
fi

if want na; then
scenario na "a token swapped from another message -> token-binding"
hdr_edit "$BASE/w-m2.eml" "$BASE/na.eml" raw "$BASE/w-m1.eml"
[ "$(token_of "$BASE/na.eml" b2.example)" = "$T1" ] || fail "na: the swapped message does not carry message 1's token"
refused_by_b "message 2 with message 1's token" "$BASE/na.eml" na@b2.example token-binding
hdr_edit "$BASE/w-p2.eml" "$BASE/na-pop.eml" raw "$BASE/w-p1.eml"
refused_by_b "pop message 2 with pop message 1's token" "$BASE/na-pop.eml" na-pop@b.example "*"
fi

if want nb; then
scenario nb "the FedMail-Token removed -> token-missing"
hdr_edit "$BASE/w-m2.eml" "$BASE/nb.eml" strip
grep -qi '^FedMail-Token:' "$BASE/nb.eml" && fail "nb: a FedMail-Token is left"
refused_by_b "message 2 without its token" "$BASE/nb.eml" nb@b2.example token-missing
hdr_edit "$BASE/w-p2.eml" "$BASE/nb-pop.eml" strip
refused_by_b "pop message 2 without its token" "$BASE/nb-pop.eml" nb-pop@b.example "*"
fi

if want nc; then
scenario nc "A's genuine token for c.example, the header saying d=b2.example -> token-signature / token-audience"
hdr_edit "$BASE/w-m2.eml" "$BASE/nc.eml" raw "$BASE/w-c.eml" b2.example
[ "$(claim "$(token_of "$BASE/nc.eml" b2.example)" aud)" = c.example ] || fail "nc: the header d=b2.example does not carry the c.example token"
refused_by_b "C's token as d=b2.example" "$BASE/nc.eml" nc@b2.example token-signature token-audience
fi

if want nf; then
scenario nf "a genuine token issued to another organization (C) for b2.example -> token-signer"
# A fresh message, so that C's token is issued within the token leeway of its signing time.
if sealed_to m4 bob@b2.example b; then
    "$FED_CTL" lookup --broker "$FED_BROKER_URL" --ca "$FED_BROKER_CA" --key "$(fed_dir c)/keys/org.key" \
        --cert "$(fed_dir c)/keys/org.crt" b2.example >"$BASE/c-lookup.json" 2>"$BASE/c-lookup.err"
    CT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["b2.example"].get("token") or "")' "$BASE/c-lookup.json" 2>/dev/null)
    if [ -n "$CT" ] && [ "$(claim "$CT" sub)" != "$(claim "$(token_of "$BASE/w-m4.eml" b2.example)" sub)" ]; then
        pass "the broker issued C (sub '$(claim "$CT" sub)') a token for b2.example; A's message is signed by '$(claim "$(token_of "$BASE/w-m4.eml" b2.example)" sub)'"
        hdr_edit "$BASE/w-m4.eml" "$BASE/nf.eml" put b2.example "$CT"
        refused_by_b "C's token on A's message" "$BASE/nf.eml" nf@b2.example token-signer
    else fail "nf: no token for C: $(head -c 300 "$BASE/c-lookup.err" "$BASE/c-lookup.json")"; fi
else fail "nf: A -> b2.example (message 4)"; fi
fi

if want nd; then
scenario nd "tokens from a rogue broker -> token-signature"
# (1) A second fedmail-broker under the same name; A and B enroll their own keys there too.
R=$BASE/rogue; mkdir -p "$R/state"
cat >"$R/broker.conf" <<CONF
# a rogue broker (t-tokens.sh): same name as the federation's, its own CA
Listen          127.0.0.1:0
StateDir        $R/state
Database        sqlite:$R/state/broker.db
ServerName      localhost, 127.0.0.1
BrokerName      FedMail Test Federation
KeyContainerLifetime 24h
TokenLifetime   24h
LogLevel        notice
CONF
rogue_enroll() { # rogue_enroll ORG DOMAIN...: ORG's own key enrolled at the rogue broker; its certificate in $R/ORG.crt
    local org=$1; shift
    local key args=() d out id; key=$(fed_dir "$org")/keys/org.key
    for d in "$@"; do args+=(--domain "$d"); done
    out=$("$FED_CTL" enroll --broker "$BROKER_URL_rogue" --ca "$R/state/ca.crt" --key "$key" --org "$org" "${args[@]}" 2>&1) || { echo "$out"; return 1; }
    id=$(sed -n 's/^enrollment \([0-9a-f]*\) submitted.*/\1/p' <<<"$out" | head -n 1)
    "$FED_BROKER" -c "$R/broker.conf" org approve --skip-dns-validation "$id" >>"$R/enroll.log" 2>&1 || return 1
    "$FED_CTL" enroll --broker "$BROKER_URL_rogue" --ca "$R/state/ca.crt" --key "$key" --org "$org" --id "$id" \
        --wait --timeout 30 --interval 1 --cert "$R/$org.crt" >>"$R/enroll.log" 2>&1
}
RT=""
if "$FED_BROKER" -c "$R/broker.conf" init >>"$R/broker.log" 2>&1 && broker_start rogue "$R/broker.conf" \
    && rogue_enroll a a.example && rogue_enroll b b.example b2.example; then
    "$FED_CTL" lookup --broker "$BROKER_URL_rogue" --ca "$R/state/ca.crt" --key "$(fed_dir a)/keys/org.key" --cert "$R/a.crt" b2.example \
        >"$R/lookup.json" 2>"$R/lookup.err"
    RT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["b2.example"].get("token") or "")' "$R/lookup.json" 2>/dev/null)
fi
if [ -n "$RT" ]; then
    pass "rogue broker on $BROKER_URL_rogue issued A a token for b2.example (iss '$(claim "$RT" iss)', the federation's is '$(claim "$T2" iss)')"
    hdr_edit "$BASE/w-m2.eml" "$BASE/nd1.eml" put b2.example "$RT"
    refused_by_b "the rogue broker's token" "$BASE/nd1.eml" nd1@b2.example token-signature
else fail "nd: no token from the rogue broker: $(tail -n 3 "$R/broker.log" "$R/enroll.log" "$R/lookup.err" 2>/dev/null | cut -c1-200)"; fi

# (2) The genuine token's header and claims, re-signed (ES256) by a self-made
# token-signing certificate under a self-made CA with the broker CA's subject.
F=$BASE/forge; mkdir -p "$F"
subject=$(openssl x509 -in "$FED_BROKER_CA" -noout -subject -nameopt compat | sed 's/^subject=//')
if openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$F/ca.key" 2>>"$F/log" \
    && openssl req -x509 -new -key "$F/ca.key" -subj "$subject" -days 30 -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$F/ca.crt" 2>>"$F/log" \
    && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$F/leaf.key" 2>>"$F/log" \
    && openssl req -new -key "$F/leaf.key" -subj "/O=FedMail Test Federation/CN=FedMail Token Signing" -out "$F/leaf.csr" 2>>"$F/log" \
    && printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' >"$F/ext" \
    && openssl x509 -req -in "$F/leaf.csr" -CA "$F/ca.crt" -CAkey "$F/ca.key" -CAcreateserial -days 30 -extfile "$F/ext" -out "$F/leaf.crt" 2>>"$F/log"; then
    FT=$(python3 - "$T2" "$F" <<'P'
import base64, json, subprocess, sys
token, d = sys.argv[1], sys.argv[2]
b64u = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
unb64u = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
h64, p64, _ = token.split(".")
header = json.loads(unb64u(h64))
def der(path):
    return subprocess.run(["openssl", "x509", "-in", path, "-outform", "DER"], capture_output=True, check=True).stdout
header["x5c"] = [base64.b64encode(der(d + "/leaf.crt")).decode(), base64.b64encode(der(d + "/ca.crt")).decode()]
signing_input = (b64u(json.dumps(header, separators=(",", ":")).encode()) + "." + p64).encode()
sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", d + "/leaf.key"], input=signing_input, capture_output=True, check=True).stdout
# DER ECDSA-Sig-Value -> r || s (32 bytes each)
def ints(b):
    assert b[0] == 0x30
    i = 2 if b[1] < 0x80 else 2 + (b[1] & 0x7f)
    out = []
    for _ in range(2):
        assert b[i] == 0x02
        n = b[i + 1]; out.append(int.from_bytes(b[i + 2:i + 2 + n], "big")); i += 2 + n
    return out
r, s = ints(sig)
print(signing_input.decode() + "." + b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big")))
P
)
    if [ -n "$FT" ] && [ "$(claim "$FT" jti)" = "$J2" ]; then
        pass "forged: message 2's own token claims (jti $J2) re-signed by a self-made 'FedMail Token Signing' certificate under '$subject'"
        hdr_edit "$BASE/w-m2.eml" "$BASE/nd2.eml" put b2.example "$FT"
        refused_by_b "the re-signed genuine claims" "$BASE/nd2.eml" nd2@b2.example token-signature
    else fail "nd: forging the token failed"; fi
else fail "nd: making the rogue CA failed: $(tail -n 3 "$F/log")"; fi

# (3) The genuine token with one claim changed (exp one day later), the signature kept.
TT=$(python3 - "$T2" <<'P'
import base64, json, sys
h64, p64, s64 = sys.argv[1].split(".")
claims = json.loads(base64.urlsafe_b64decode(p64 + "=" * (-len(p64) % 4)))
claims["exp"] += 86400
print(h64 + "." + base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=").decode() + "." + s64)
P
)
hdr_edit "$BASE/w-m2.eml" "$BASE/nd3.eml" put b2.example "$TT"
refused_by_b "message 2's token with exp changed, the signature kept" "$BASE/nd3.eml" nd3@b2.example token-signature
fi

if want ne; then
scenario ne "plaintext from a require partner carrying a FedMail-Token -> 550"
msg "$BASE/ne1.eml" "From: Alice <alice@a.example>" "To: <ne1@b2.example>" "Subject: Plain with token" "Date: $(date -R)" \
    "Message-ID: <ne1-$MARK@a.example>" -- "Plaintext with a genuine token $MARK"
hdr_edit "$BASE/ne1.eml" "$BASE/ne1t.eml" put b2.example "$T2"
refused_by_b "plaintext with A's genuine token for b2.example" "$BASE/ne1t.eml" ne1@b2.example "*"
msg "$BASE/ne2.eml" "From: Alice <alice@a.example>" "To: <ne2@b2.example>" "Subject: Plain with garbage" "Date: $(date -R)" \
    "Message-ID: <ne2-$MARK@a.example>" "FedMail-Token: v=1; d=b2.example; t=eyJhbGciOiJFUzI1NiJ9.e30.AAAA" -- "Plaintext with a bogus token $MARK"
refused_by_b "plaintext with a bogus token" "$BASE/ne2.eml" ne2@b2.example "*"
fi

# ------------------------------------------------------------------ ns
if want ns; then
scenario ns "refused through Sendmail too: S's gateway refuses a B->S seal without its token, or altered"
f=$BASE/m-ns.eml
msg "$f" "From: Bob <bob@b.example>" "To: <dave@s.example>" "Subject: Sendmail negative" "Date: $(date -R)" \
    "Message-ID: <tok-ns-$MARK@b.example>" -- "Sendmail negative $MARK"
if [ "$(reply "$(send_file "$B_SERVER" "$(fed_client b)" bob@b.example dave@s.example "$f" 2>&1)")" = accepted ] \
    && wait_delivered store "Sendmail negative $MARK" 1 60; then
    sleep 0.3
    w=$(wire b s "tok-ns-$MARK" | head -n 1)
    if [ -n "$w" ] && sealed_wire "$w"; then
        pass "a B->S message delivered through S's Sendmail and recorded sealed on the wire"
        hdr_edit "$w" "$BASE/ns-strip.eml" strip
        python3 - "$w" "$BASE/ns-tamper.eml" <<'P'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
body = data.index(b"\r\n\r\n") + 4
lines = [i for i in range(body, len(data)) if data[i - 1:i] == b"\n"]
at = lines[len(lines) // 2] + 10  # a base64 character in the middle of the ciphertext
data[at] = ord("A") if data[at] != ord("A") else ord("B")
open(sys.argv[2], "wb").write(bytes(data))
P
        for case in strip tamper; do
            m=$(logmark s)
            r=$(reply "$(send_file "$S_SERVER" "$OUTSIDE" bob@b.example dave@s.example "$BASE/ns-$case.eml" 2>&1)")
            [[ $r == "550 5.7.1 FedMail: "* ]] && pass "$case: S (Sendmail) answered '$r'" || fail "$case: S (Sendmail) answered '$r'"
            log_has s "$m" "decision=reject (" 3 && pass "$case: S's milter logged '$(log_line s "$m" "decision=reject")'" \
                || fail "$case: no reject in S's milter log: $(tail -n 2 "$(fed_milter_log s)" | cut -c1-200)"
        done
        sleep 0.5
        [ "$(count_delivered store "Sendmail negative $MARK")" = 1 ] && pass "nothing more delivered at S (only the genuine copy)" \
            || fail "S delivered $(count_delivered store "Sendmail negative $MARK") copies"
    else fail "no sealed B->S copy recorded: '$w'"; fi
else fail "the genuine B->S message was not delivered at S"; fi
fi

# ------------------------------------------------------------------ sweep
scenario sweep "nothing of the refused messages delivered anywhere at B"
extra=0
for box in na@b2.example na-pop@b.example nb@b2.example nb-pop@b.example nc@b2.example nd1@b2.example nd2@b2.example nd3@b2.example \
    ne1@b2.example ne2@b2.example nf@b2.example; do extra=$((extra + $(find "$(pf_maildir b "$box")" -type f 2>/dev/null | grep -c .))); done
[ "$extra" = 0 ] && pass "the mailboxes the refused messages were sent to are empty" || fail "$extra refused message(s) delivered at B"
for t in m2 p2 m4; do
    n=$(count_delivered b "Token test $t $MARK")
    [ "$n" -le 1 ] && pass "the body of $t is at B at most once (its own delivery): $n" || fail "the body of $t was delivered $n times at B"
done

echo "t-tokens: $passes passed, $failures failed ($(( $(date +%s) - START ))s)"
if ((failures)); then
    printf '  failed: %s\n' "${failed[@]}"
    diagnose
    exit 1
fi
