#!/usr/bin/env bash
# Revocation that reaches the gateways, end to end through real MTAs.
#
# One broker; organizations A (127.0.0.10, P-256, a.example and a2.example)
# and B (127.0.0.20, P-256, b.example), each a real Postfix with its own
# fedmail-milter; B fetches the broker's CRL every 2 s (CRLRefresh 2s,
# CRLMaxAge 30s). "Outside" (127.0.0.99) talks SMTP to B's gateway directly
# with messages sealed here by `fedmailctl seal` with A's key, a certificate
# of A's and a token the broker issued to A (`fedmailctl lookup`).
#
#   r1  A -> B through both gateways: fedmail=pass; B has fetched the CRL
#   r2  `org remove-domain a a2.example`: within one CRL refresh B has the
#       new CRL; a message From a2.example sealed with A's OLD certificate
#       (signed now) is refused "550 5.7.1 FedMail: signer-revoked" (and so
#       is what A's gateway, still on the old certificate, sends); so is
#       the same old certificate's message signed BEFORE the revocation
#       (affiliation changed: whatever the signingTime, which the signer
#       chooses; only superseded keeps earlier signatures);
#       A installs the reissued certificate and A -> B passes again
#   r3  broker down: B restarted still has the CRL (StateDirectory/crl.der)
#       and passes mail; once the CRL is older than CRLMaxAge, sealed mail
#       is tempfailed "451 4.7.0 FedMail: revocation-unknown" (directly, and
#       A's gateway keeps its message queued); broker back: B refreshes, A's
#       queued message is delivered with fedmail=pass (nothing lost)
#   r4  `org revoke a --reason key-compromise`, then a message sealed with
#       A's current certificate and a signingTime BEFORE the revocation
#       (fedmailctl seal --signing-time): refused, signer-revoked
#   r5  GET /v1/crl: application/pkix-crl; `openssl crl -verify` OK;
#       `openssl verify -crl_check` says A's certificates are revoked and
#       B's is OK, as B's milter decided; every issued certificate names
#       the CRL distribution point; `fedmailctl open --crl` agrees
#
# KEEP=1 keeps the work directory. ONLY="r1 r2" runs only those scenarios
# (later ones depend on earlier ones).
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=lib/federation.sh
. contrib/test/lib/federation.sh
. contrib/test/lib/messages.sh
. contrib/test/lib/checks.sh
fed_suite revocation || exit 1

. contrib/test/lib/scenarios.sh
SUITE=t-revocation
diagnose() {
    for o in a b; do [ -e "$(fed_milter_log "$o")" ] || continue; echo "--- milter $o (last lines)"; tail -n 15 "$(fed_milter_log "$o")"; done
    echo "--- broker (last lines)"; tail -n 10 "$BASE/broker/broker.log" 2>/dev/null
}
DIE_HOOK=diagnose

[ "$(id -u)" = 0 ] || die "needs root (private Postfix instances)"
for tool in swaks python3 curl openssl postconf; do command -v "$tool" >/dev/null || die "$tool missing"; done

# ------------------------------------------------------------------ helpers
MARK=$(date +%s)-$$
OUTSIDE=127.0.0.99
BROKER_CONF=$BASE/broker/broker.conf
broker() { "$FED_BROKER" -c "$BROKER_CONF" "$@"; }
ar_pass() { # ar_pass FILE DOMAIN: B's Authentication-Results says fedmail=pass from DOMAIN
    grep -a -A3 -i "^Authentication-Results: mx\.b\.test;" "$1" | tr -d '\n\t' | grep >/dev/null -E "fedmail=pass.*header\.from=${2//./\\.}"
}
submit() { # submit FROM TO SUBJECT: through A's gateway from A's internal client
    swaks --server "$(fed_addr a):$(fed_port a)" --local-interface "$(fed_client a)" \
        --from "$1" --to "$2" --h-From "Alice <$1>" --h-Subject "$3" --body "body of $3" --timeout 60 2>&1
}
# lookup CERT OUT: a token and key container for b.example issued to A (cert CERT): OUT.token, OUT.pem
lookup() {
    "$FED_CTL" lookup --broker "$FED_BROKER_URL" --ca "$FED_BROKER_CA" --key "$(fed_dir a)/keys/org.key" --cert "$1" b.example >"$2.json" 2>"$2.err" \
        || return 1
    python3 - "$2" <<'P'
import json, sys
answer = json.load(open(sys.argv[1] + ".json"))["b.example"]
open(sys.argv[1] + ".token", "w").write(answer["token"])
open(sys.argv[1] + ".pem", "w").write(answer["keyContainer"])
print(answer["claims"]["iat"])
P
}
# seal_as CERT LOOKUP FROM SUBJECT OUT [SIGNING-TIME]: a message From FROM to
# bob@b.example sealed with A's key and CERT, for B's key container, with the token
seal_as() {
    local cert=$1 lk=$2 from=$3 subject=$4 out=$5 when=${6:-}
    msg "$out.orig" "From: Alice <$from>" "To: Bob <bob@b.example>" "Subject: $subject" \
        "Date: $(date -R)" "Message-ID: <$subject-$MARK@${from#*@}>" -- "body of $subject"
    "$FED_CTL" seal --key "$(fed_dir a)/keys/org.key" --cert "$cert" --to "$lk.pem" --token "b.example=$(cat "$lk.token")" \
        ${when:+--signing-time "$when"} --sealed-by outside.test "$out.orig" "$out" 2>"$out.err"
}
send_b() { send_file "$(fed_addr b):$(fed_port b)" "$OUTSIDE" "$1" bob@b.example "$2"; }
crl_fetched_since() { # crl_fetched_since MARK N SECONDS: B logs a CRL with N revoked certificates after MARK
    log_has b "$1" "$2 revoked certificate(s)" "$3"
}

# ------------------------------------------------------------------ federation
echo "== setting up: broker, organizations a (a.example, a2.example) and b"
fed_broker_start || die "broker did not start"
fed_org a 127.0.0.10 p256 a.example a2.example || die "org a"
fed_org b 127.0.0.20 p256 b.example || die "org b"
fed_allowlist a <<'L'
b.example     require
L
fed_allowlist b <<'L'
a.example     require
a2.example    require
L
fed_milter_conf b "CRLRefresh 2s" "CRLMaxAge 30s"
fed_route a b; fed_route b a
fed_mailbox a alice@a.example
fed_mailbox b bob@b.example
"$FEDMAIL_BIN/fedmail-milter" -n -c "$(fed_dir b)/milter.conf" >"$BASE/check-b.txt" 2>&1 \
    || die "fedmail-milter -n refuses B's config: $(cat "$BASE/check-b.txt")"
for o in a b; do fed_start "$o" || die "starting $o"; done
pass "broker, a and b running; B: CRLRefresh 2s, CRLMaxAge 30s"
cp "$(fed_dir a)/keys/org.crt" "$BASE/a-old.crt"
cp "$(fed_dir b)/keys/org.crt" "$BASE/b.crt"

# ------------------------------------------------------------------ r1
scenario r1 "A -> B passes; B fetched the CRL"
crl_fetched_since 0 0 15 && pass "B fetched and verified the broker's (empty) CRL" || die "B never fetched the CRL"
out=$(submit alice@a.example bob@b.example "r1-$MARK")
grep -q "250 2.0.0 Ok" <<<"$out" || fail "submission refused: $(grep -E '^<\*\*' <<<"$out")"
if wait_delivered b "r1-$MARK" 1 60; then
    check "delivered at B with fedmail=pass" ar_pass "$(delivered b "r1-$MARK")" a.example
else fail "A -> B not delivered"; fi

# ------------------------------------------------------------------ r2
scenario r2 "remove-domain: the old certificate is refused at B within one CRL refresh"
T0=$(lookup "$BASE/a-old.crt" "$BASE/old") || die "lookup with A's certificate failed: $(cat "$BASE/old.err")"
sleep 1.2; BEFORE=$(date +%s); sleep 1.2
seal_as "$BASE/a-old.crt" "$BASE/old" alice@a2.example "r2-control-$MARK" "$BASE/r2-control.eml" || fail "seal failed: $(cat "$BASE/r2-control.eml.err")"
expect_reply "control: a2.example sealed with A's certificate before any revocation" "$(send_b alice@a2.example "$BASE/r2-control.eml")" accepted
wait_delivered b "r2-control-$MARK" 1 30 && check "control delivered with fedmail=pass" ar_pass "$(delivered b "r2-control-$MARK")" a2.example \
    || fail "control not delivered"
seal_as "$BASE/a-old.crt" "$BASE/old" alice@a2.example "r2-early-$MARK" "$BASE/r2-early.eml" "$BEFORE" || fail "seal failed"
m=$(logmark b)
broker org remove-domain a a2.example >"$BASE/a-new.crt" 2>"$BASE/remove.err" || die "remove-domain failed: $(cat "$BASE/remove.err")"
REMOVED=$(date +%s)
if crl_fetched_since "$m" 1 6; then pass "B has the CRL listing A's old certificate $(( $(date +%s) - REMOVED ))s after remove-domain (CRLRefresh 2s)"
else fail "B did not fetch the new CRL within 6 s"; fi
seal_as "$BASE/a-old.crt" "$BASE/old" alice@a2.example "r2-late-$MARK" "$BASE/r2-late.eml" || fail "seal failed"
m=$(logmark b)
expect_reply "a2.example signed now with A's old certificate" "$(send_b alice@a2.example "$BASE/r2-late.eml")" "550 5.7.1 FedMail: signer-revoked"
check "B logs signer-revoked" log_has b "$m" "signer-revoked" 5
[ "$(count_delivered b "r2-late-$MARK")" = 0 ] && pass "nothing delivered" || fail "the refused message was delivered"
expect_reply "the same old certificate, signed (it says) before the revocation: affiliation changed refuses it anyway" \
    "$(send_b alice@a2.example "$BASE/r2-early.eml")" "550 5.7.1 FedMail: signer-revoked"
[ "$(count_delivered b "r2-early-$MARK")" = 0 ] && pass "the backdated message was not delivered" || fail "the backdated message was delivered"
# A's gateway still signs with the old certificate (and its cached token).
m=$(logmark b)
out=$(submit alice@a2.example bob@b.example "r2-gw-$MARK")
check "A's gateway, still on the old certificate: B refuses it (signer-revoked)" log_has b "$m" "signer-revoked" 30
[ "$(count_delivered b "r2-gw-$MARK")" = 0 ] && pass "not delivered" || fail "delivered although signed with the old certificate"
# A installs the reissued certificate.
grep -q "BEGIN CERTIFICATE" "$BASE/a-new.crt" || die "remove-domain printed no certificate"
install -o postfix -g postfix -m 644 "$BASE/a-new.crt" "$(fed_dir a)/keys/org.crt"
rm -rf "$(fed_dir a)"/cache/*
fed_milter_restart a || die "restarting A's milter"
out=$(submit alice@a.example bob@b.example "r2-new-$MARK")
if wait_delivered b "r2-new-$MARK" 1 60; then check "with the reissued certificate A -> B passes again" ar_pass "$(delivered b "r2-new-$MARK")" a.example
else fail "A -> B with the new certificate not delivered"; fi

# ------------------------------------------------------------------ r3
scenario r3 "broker down: the cached CRL, then tempfail when it is too old; nothing lost"
lookup "$BASE/a-new.crt" "$BASE/new" >/dev/null || die "lookup with A's new certificate failed: $(cat "$BASE/new.err")"
fed_broker_stop
STOPPED=$(date +%s)
fed_milter_restart b || die "restarting B's milter"
check "B restarted without the broker loads the CRL from StateDirectory/crl.der" log_has b 0 "CRL loaded from" 5
seal_as "$BASE/a-new.crt" "$BASE/new" alice@a.example "r3-fresh-$MARK" "$BASE/r3-fresh.eml" || fail "seal failed"
expect_reply "within CRLMaxAge, broker down: accepted" "$(send_b alice@a.example "$BASE/r3-fresh.eml")" accepted
left=$(( STOPPED + 32 - $(date +%s) )); [ "$left" -gt 0 ] && sleep "$left"
seal_as "$BASE/a-new.crt" "$BASE/new" alice@a.example "r3-stale-$MARK" "$BASE/r3-stale.eml" || fail "seal failed"
m=$(logmark b)
expect_reply "CRL older than CRLMaxAge: tempfailed" "$(send_b alice@a.example "$BASE/r3-stale.eml")" "451 4.7.0 FedMail: revocation-unknown"
check "B logs revocation-unknown" log_has b "$m" "revocation-unknown" 5
pfm=$(pfmark a)
out=$(submit alice@a.example bob@b.example "r3-queued-$MARK")
grep -q "250 2.0.0 Ok" <<<"$out" || fail "submission at A refused: $(grep -E '^<\*\*' <<<"$out")"
got451() { tail -n +"$((pfm + 1))" "$(pf_log a)" | grep -q "451 4.7.0 FedMail: revocation-unknown"; }
for _ in $(seq 1 100); do got451 && break; sleep 0.2; done
check "A's Postfix got 451 4.7.0 revocation-unknown from B" got451
check "... and keeps the message queued" grep -q "bob@b.example" <(pf_queue a)
[ "$(count_delivered b "r3-queued-$MARK")" = 0 ] && pass "not delivered while the CRL is stale" || fail "delivered without a current CRL"
m=$(logmark b)
fed_broker_start || die "broker did not restart"
log_has b "$m" "CRL refreshed" 15 || fail "B did not refresh after the broker came back"
sleep 1
postqueue -c "$(pf_dir a)/etc" -f >/dev/null 2>&1
if wait_delivered b "r3-queued-$MARK" 1 60; then check "broker back: A's queued message delivered with fedmail=pass" ar_pass "$(delivered b "r3-queued-$MARK")" a.example
else fail "A's queued message not delivered after the broker came back: $(pf_queue a | tail -n 3)"; fi

# ------------------------------------------------------------------ r4
scenario r4 "key compromise: a backdated signingTime does not help"
IAT=$(lookup "$BASE/a-new.crt" "$BASE/kc") || die "lookup failed: $(cat "$BASE/kc.err")"
sleep 2
m=$(logmark b)
broker org revoke a --reason key-compromise >"$BASE/revoke.out" 2>&1 || die "org revoke failed: $(cat "$BASE/revoke.out")"
crl_fetched_since "$m" 2 6 && pass "B has the CRL with A's certificates revoked for key compromise" || fail "B did not fetch the new CRL"
seal_as "$BASE/a-new.crt" "$BASE/kc" alice@a.example "r4-backdated-$MARK" "$BASE/r4.eml" "$((IAT + 1))" || fail "seal failed: $(cat "$BASE/r4.eml.err")"
m=$(logmark b)
expect_reply "signed (it says) before the revocation, with a compromised key" "$(send_b alice@a.example "$BASE/r4.eml")" "550 5.7.1 FedMail: signer-revoked"
check "B's log names key compromise" log_has b "$m" "revoked (key-compromise)" 5
seal_as "$BASE/a-old.crt" "$BASE/old" alice@a.example "r4-old-$MARK" "$BASE/r4-old.eml" "$BEFORE" || fail "seal failed"
expect_reply "the earlier (superseded) certificate of the same key, signed before its revocation: now refused too" \
    "$(send_b alice@a.example "$BASE/r4-old.eml")" "550 5.7.1 FedMail: signer-revoked"

# ------------------------------------------------------------------ r5
scenario r5 "openssl agrees: GET /v1/crl, openssl crl -verify, openssl verify -crl_check"
curl -sf --cacert "$FED_BROKER_CA" -D "$BASE/crl.headers" -o "$BASE/crl.der" "$FED_BROKER_URL/v1/crl" || die "GET /v1/crl failed"
check "GET /v1/crl: Content-Type application/pkix-crl" grep -qi "^content-type: application/pkix-crl" "$BASE/crl.headers"
out=$(openssl crl -inform DER -in "$BASE/crl.der" -CAfile "$FED_BROKER_CA" -noout 2>&1)
[[ $out == *"verify OK"* ]] && pass "openssl crl -verify: verify OK" || fail "openssl crl: $out"
openssl crl -inform DER -in "$BASE/crl.der" -out "$BASE/crl.pem" 2>/dev/null
openssl crl -in "$BASE/crl.pem" -noout -text >"$BASE/crl.txt" 2>&1
check "the CRL lists the reason Key Compromise" grep -q "Key Compromise" "$BASE/crl.txt"
check "... and a CRL number" grep -q "X509v3 CRL Number" "$BASE/crl.txt"
for cert in a-old a-new; do
    out=$(openssl verify -crl_check -CAfile "$FED_BROKER_CA" -CRLfile "$BASE/crl.pem" "$BASE/$cert.crt" 2>&1)
    [[ $out == *"certificate revoked"* ]] && pass "openssl verify -crl_check: A's $cert certificate revoked (B refused it too)" || fail "openssl verify $cert: $out"
done
out=$(openssl verify -crl_check -CAfile "$FED_BROKER_CA" -CRLfile "$BASE/crl.pem" "$BASE/b.crt" 2>&1)
[[ $out == *": OK"* ]] && pass "openssl verify -crl_check: B's certificate OK" || fail "openssl verify b: $out"
bopen() { "$FED_CTL" open --key "$(fed_dir b)/keys/org.key" --cert "$BASE/b.crt" --ca "$FED_BROKER_CA" "$@" "$BASE/r4.eml" /dev/null 2>&1; }
out=$(bopen --crl "$BASE/crl.der"); status=$?
[ "$status" = 1 ] && [[ $out == *"signer-revoked"* ]] && pass "fedmailctl open --crl agrees: signer-revoked" || fail "fedmailctl open --crl: status $status: $out"
out=$(bopen --crl "$BASE/crl.pem" --crl-max-age 1); status=$?
[[ $out == *"signer-revoked"* || $out == *"revocation-unknown"* ]] && [ "$status" != 0 ] && pass "fedmailctl open --crl (PEM) refuses too" || fail "fedmailctl open --crl PEM: status $status: $out"
out=$(openssl x509 -in "$BASE/b.crt" -noout -ext crlDistributionPoints 2>&1)
[[ $out == *"URI:https://"*"/v1/crl"* ]] && pass "certificates name the CRL distribution point ($(grep -o 'URI:[^ ]*' <<<"$out"))" || fail "no CRL distribution point: $out"

echo "   (suite ran $(( $(date +%s) - ${MARK%%-*} ))s)"
summary t-revocation
