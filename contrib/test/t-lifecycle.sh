#!/usr/bin/env bash
# The organization certificate's life, end to end: one broker, organizations
# A (127.0.0.10, RSA 3072, a.example) and B (127.0.0.20, P-256, b.example),
# each a real Postfix + fedmail-milter, `require` partners of each other.
#
#   hijack    a hijack attempt (an unauthenticated enrollment naming A, with
#             another key) never changes whose key partners seal to: B's
#             lookup of a.example names the same key (rkf and key container)
#             before, after the attempt, and after the operator's plain
#             `org approve` of it (refused: it is a key-replacement, shown as
#             such by `org list`); a domain A holds cannot be enrolled by
#             another organization; A keeps working
#   renew     certificate renewal by the timer's command, as the milter's
#             user: `fedmailctl renew --config A's milter.conf
#             --reload-pid-file` while A sends to B;
#             A's milter picks up the new certificate on reload (its next
#             token request presents it) without losing a message: all
#             delivered at B with fedmail=pass; the old certificate gets no
#             tokens any more; `renew --if-needed` leaves a fresh one alone
#   rekey     `fedmailctl rekey`: A gets a new key at once (no operator); B's
#             fresh lookup names it; with PreviousOrgKey A still opens mail B
#             sealed to the old key (B's cached answer), and mail sealed to
#             the new key
#   audit     renewals, rekeys, refused authentications and enrollments are
#             in `fedmail-broker audit` with source and identity
#
# KEEP=1 keeps the work directory. ONLY="hijack renew" runs only those.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=lib/federation.sh
. contrib/test/lib/federation.sh
. contrib/test/lib/checks.sh
fed_suite lifecycle || exit 1

. contrib/test/lib/scenarios.sh
SUITE=t-lifecycle
same() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 ('$2' != '$3')"; fi; }
die() { echo "t-lifecycle: $*"; for o in a b; do echo "--- milter $o"; tail -n 15 "$(fed_milter_log "$o")" 2>/dev/null; done; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (private Postfix instances)"
for tool in swaks python3 curl openssl postconf jq; do command -v "$tool" >/dev/null || die "$tool missing"; done

MARK=$(date +%s)-$$
BCONF=$BASE/broker/broker.conf
submit() { # submit FROM-ORG TO SUBJECT: one message from the org's internal client
    local from=$1 to=$2 subject=$3
    swaks --server "$(fed_addr "$from"):$(fed_port "$from")" --local-interface "$(fed_client "$from")" \
        --from "alice@$from.example" --to "$to" --h-From "Alice <alice@$from.example>" \
        --h-Subject "$subject" --body "lifecycle $subject" --timeout 60 2>&1
}
ar_pass() { # ar_pass FILE ORG-OF-RECEIVER SENDER-DOMAIN
    grep -a -A3 -i "^Authentication-Results: mx\.$2\.test;" "$1" | tr -d '\n\t' | grep >/dev/null -E "fedmail=pass.*header\.from=[^ ;]*$3"
}
# lookup_key ORG DOMAIN [CERT]: "rkf container-key" of ORG's fresh lookup of DOMAIN (no cache)
lookup_key() {
    local dir; dir=$(fed_dir "$1")
    local json
    json=$("$FED_CTL" lookup --broker "$FED_BROKER_URL" --ca "$FED_BROKER_CA" --key "$dir/keys/org.key" \
        --cert "${3:-$dir/keys/org.crt}" "$2" 2>"$BASE/lookup.err") || { echo "lookup-failed"; return 1; }
    local rkf pem
    rkf=$(jq -r --arg d "$2" '.[$d].claims.rkf' <<<"$json")
    pem=$(jq -r --arg d "$2" '.[$d].keyContainer' <<<"$json")
    echo "$rkf $(openssl x509 -noout -pubkey <<<"$pem" | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64)"
}
cert_sha() { openssl x509 -in "$1" -outform DER | sha256sum | cut -c1-64; }
key_sha() { openssl pkey -in "$1" -pubout -outform DER | sha256sum | cut -c1-64; }

# ------------------------------------------------------------------ federation
echo "== setting up: broker, organizations a, b"
fed_broker_start || die "broker did not start"
fed_org a 127.0.0.10 rsa3072 a.example || die "org a"
fed_org b 127.0.0.20 p256 b.example || die "org b"
printf 'b.example  require\n' | fed_allowlist a
printf 'a.example  require\n' | fed_allowlist b
fed_route a b; fed_route b a
fed_mailbox a alice@a.example; fed_mailbox b bob@b.example
fed_milter_conf a "PidFile $BASE/a.pid"
fed_milter_conf b
for o in a b; do fed_start "$o" || die "starting $o"; done
pass "broker on $FED_BROKER_URL; a, b enrolled, Postfix + fedmail-milter running"

# ------------------------------------------------------------------ hijack
if want hijack; then
    scenario hijack "an unauthenticated enrollment naming A never changes whose key partners seal to"
    before=$(lookup_key b a.example)
    same "B's lookup of a.example names A's key" "$before" "$(key_sha "$(fed_dir a)/keys/org.key") $(key_sha "$(fed_dir a)/keys/org.key")"
    mkdir -p "$BASE/mallory"; chmod 700 "$BASE/mallory"
    "$FED_CTL" keygen --type p256 --out "$BASE/mallory/org.key"
    out=$("$FED_CTL" enroll --broker "$FED_BROKER_URL" --ca "$FED_BROKER_CA" --key "$BASE/mallory/org.key" --org a --domain a.example 2>&1)
    id=$(sed -n 's/^enrollment \([0-9a-f]*\) submitted.*: key-replacement$/\1/p' <<<"$out" | head -n 1)
    if [ -n "$id" ]; then pass "the enrollment naming a is held as key-replacement ($id)"; else fail "enrollment naming a: $out"; fi
    list=$("$FED_BROKER" -c "$BCONF" org list)
    check "org list shows it as a key replacement with a's current key" \
        grep -q "^key-replacement $id a a.example key=$(key_sha "$BASE/mallory/org.key") current-key=$(key_sha "$(fed_dir a)/keys/org.key") current-status=active" <<<"$list"
    check "org list shows no pending enrollment for it" bash -c "! grep -q '^pending $id' <<<'$list'"
    same "B's lookup after the attempt names the same key" "$(lookup_key b a.example)" "$before"
    out=$("$FED_BROKER" -c "$BCONF" org approve "$id" 2>&1); rc=$?
    if [ "$rc" != 0 ] && grep -q -- "--replace-key" <<<"$out"; then
        pass "plain org approve refuses it (exit $rc, says --replace-key)"
    else
        fail "plain org approve of the key-replacement: exit $rc: $out"
    fi
    same "B's lookup after the plain approve names the same key" "$(lookup_key b a.example)" "$before"
    same "the enrollment is still a key-replacement" "$("$FED_BROKER" -c "$BCONF" org show "$id" | sed -n 's/^status: //p')" "key-replacement"
    out=$("$FED_CTL" enroll --broker "$FED_BROKER_URL" --ca "$FED_BROKER_CA" --key "$BASE/mallory/org.key" --org mallory --domain a.example 2>&1)
    check "an enrollment for a domain a holds is refused" grep -q "a.example belongs to another organization" <<<"$out"
    r=$(submit a bob@b.example "hijack-after-$MARK")
    if wait_delivered b "hijack-after-$MARK" 1 60 && ar_pass "$(delivered b "hijack-after-$MARK" | head -n 1)" b a.example; then
        pass "A -> B still sealed and opened (fedmail=pass)"
    else
        fail "A -> B after the hijack attempt: $(reply "$r")"
    fi
    check "the key-replacement enrollment can be rejected" "$FED_BROKER" -c "$BCONF" org reject "$id" --reason "not you"
fi

# ------------------------------------------------------------------ renew
if want renew; then
    scenario renew "renewal by the timer's command, the milter reloaded while mail flows"
    crt=$(fed_dir a)/keys/org.crt
    old=$(cert_sha "$crt"); oldkey=$(key_sha "$(fed_dir a)/keys/org.key")
    cp "$crt" "$BASE/a-old.crt"
    out=$("$FED_CTL" renew --config "$(fed_dir a)/milter.conf" --if-needed --days 10 2>&1); rc=$?
    if [ "$rc" = 0 ] && grep -q "not renewed" <<<"$out" && [ "$(cert_sha "$crt")" = "$old" ]; then
        pass "renew --if-needed --days 10 leaves a 30-day certificate alone"
    else
        fail "renew --if-needed: $rc $out"
    fi
    reloads_before=$(grep -c "configuration reloaded" "$(fed_milter_log a)")
    # Mail flows while the certificate is renewed and the milter reloaded.
    ( for i in 1 2 3 4 5 6; do submit a bob@b.example "renew-$i-$MARK" >"$BASE/renew-$i.out"; sleep 0.3; done ) &
    sender=$!
    sleep 0.5
    # As the timer runs it: as the milter's user (here postfix), which owns the
    # keys and reads the pid file the milter wrote as root under UMask 007.
    out=$(runuser -u postfix -- "$FED_CTL" renew --config "$(fed_dir a)/milter.conf" --reload-pid-file "$BASE/a.pid" 2>&1); rc=$?
    if [ "$rc" = 0 ] && grep -q "^renewed a" <<<"$out" && grep -q "asked to reload" <<<"$out"; then
        pass "fedmailctl renew (the timer's command, forced, as the milter's user) renewed and signalled the milter"
    else
        fail "fedmailctl renew as the milter's user: $rc $out"
    fi
    wait "$sender"
    new=$(cert_sha "$crt")
    check "the certificate was replaced" test "$new" != "$old"
    same "the old one is kept as org.crt.previous" "$(cert_sha "$crt.previous")" "$old"
    same "the key is unchanged" "$(openssl x509 -in "$crt" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64)" "$oldkey"
    same "owner and mode kept" "$(stat -c '%a %U' "$crt")" "644 postfix"
    for _ in $(seq 1 50); do [ "$(grep -c "configuration reloaded" "$(fed_milter_log a)")" -gt "$reloads_before" ] && break; sleep 0.1; done
    check "A's milter reloaded" test "$(grep -c "configuration reloaded" "$(fed_milter_log a)")" -gt "$reloads_before"
    submit a bob@b.example "renew-after-$MARK" >"$BASE/renew-after.out"
    lost=0
    for s in 1 2 3 4 5 6 after; do
        if wait_delivered b "renew-$s-$MARK" 1 60 && ar_pass "$(delivered b "renew-$s-$MARK" | head -n 1)" b a.example; then :; else
            lost=$((lost + 1)); echo "    renew-$s: $(reply "$(cat "$BASE/renew-$s.out")")"
        fi
    done
    same "every message sent around the renewal delivered at B with fedmail=pass" "$lost" 0
    audit=$("$FED_BROKER" -c "$BCONF" audit --limit 1000)
    check "the reloaded milter's token requests present the new certificate" grep -q "token.issued b .*identity=cert=$new cn=a" <<<"$audit"
    check "audit: certificate.renewed with old and new fingerprints, source and identity" \
        grep -qE "certificate.renewed a certificate=$new replaced-certificate=$old .* source=127\.0\.0\.1:[0-9]+ identity=cert=$old cn=a" <<<"$audit"
    r=$(lookup_key a b.example "$BASE/a-old.crt")
    same "the old certificate gets no tokens any more" "$r" "lookup-failed"
    audit=$("$FED_BROKER" -c "$BCONF" audit --limit 1000)
    check "audit: the refused old certificate (auth.refused with its fingerprint and source)" \
        grep -qE "auth.refused a certificate=$old .*source=127\.0\.0\.1" <<<"$audit"
fi

# ------------------------------------------------------------------ rekey
if want rekey; then
    scenario rekey "a new key over mutual TLS; mail sealed to the old key still opens"
    dir=$(fed_dir a)
    oldkey=$(key_sha "$dir/keys/org.key")
    # B has a cached answer for a.example naming the old key (its milter's cache).
    submit b alice@a.example "rekey-before-$MARK" >/dev/null
    wait_delivered a "rekey-before-$MARK" 1 60 || fail "B -> A before the rekey not delivered"
    check "mail opened with the current key does not claim the previous one" \
        bash -c "! grep -aq policy.key=previous '$(delivered a "rekey-before-$MARK" | head -n 1)'"
    out=$("$FED_CTL" rekey --config "$dir/milter.conf" 2>&1); rc=$?
    if [ "$rc" = 0 ] && grep -q "^rekeyed a" <<<"$out"; then pass "fedmailctl rekey"; else fail "fedmailctl rekey: $rc $out"; fi
    check "rekey warns that PreviousOrgKey is not set" grep -q "PreviousOrgKey" <<<"$out"
    newkey=$(key_sha "$dir/keys/org.key")
    check "the key changed" test "$newkey" != "$oldkey"
    same "the old key is kept as org.key.previous (0600, same owner)" "$(key_sha "$dir/keys/org.key.previous") $(stat -c '%a %U' "$dir/keys/org.key.previous")" "$oldkey 600 postfix"
    same "B's fresh lookup names the new key" "$(lookup_key b a.example)" "$newkey $newkey"
    fed_milter_conf a "PidFile $BASE/a.pid" "PreviousOrgKey $dir/keys/org.key.previous" "PreviousOrgCertificate $dir/keys/org.crt.previous"
    kill -USR1 "$(cat "$BASE/a.pid")"; sleep 1
    # B's milter still holds the answer naming the old key: its mail is sealed to it.
    submit b alice@a.example "rekey-old-$MARK" >"$BASE/rekey-old.out"
    if wait_delivered a "rekey-old-$MARK" 1 60 && ar_pass "$(delivered a "rekey-old-$MARK" | head -n 1)" a b.example; then
        pass "A opens mail B sealed after the rekey (B's cached key) with PreviousOrgKey"
        check "... and Authentication-Results says the previous key opened it (policy.key=previous)" \
            grep -aq "policy.key=previous" "$(delivered a "rekey-old-$MARK" | head -n 1)"
    else
        fail "B -> A after the rekey: $(reply "$(cat "$BASE/rekey-old.out")")"
    fi
    submit a bob@b.example "rekey-send-$MARK" >"$BASE/rekey-send.out"
    if wait_delivered b "rekey-send-$MARK" 1 60 && ar_pass "$(delivered b "rekey-send-$MARK" | head -n 1)" b a.example; then
        pass "A -> B signed with the new key: fedmail=pass"
    else
        fail "A -> B after the rekey: $(reply "$(cat "$BASE/rekey-send.out")")"
    fi
    audit=$("$FED_BROKER" -c "$BCONF" audit --limit 1000)
    check "audit: certificate.rekeyed with the replaced key" grep -q "certificate.rekeyed a .*key=$newkey replaced-key=$oldkey" <<<"$audit"
    # After the grace (TokenLifetime + MaxMessageAge by default; 1 s here,
    # counted from the new certificate's notBefore) the old key opens nothing.
    fed_milter_conf a "PidFile $BASE/a.pid" "PreviousOrgKey $dir/keys/org.key.previous" "PreviousOrgCertificate $dir/keys/org.crt.previous" \
        "PreviousOrgKeyGrace 1s"
    kill -USR1 "$(cat "$BASE/a.pid")"; sleep 2
    mark=$(logmark a)
    submit b alice@a.example "rekey-expired-$MARK" >"$BASE/rekey-expired.out"
    if log_has a "$mark" "not-for-us" 60; then
        pass "after PreviousOrgKeyGrace, mail still sealed to the old key is refused (not-for-us)"
    else
        fail "after the grace: $(tail -n 3 "$(fed_milter_log a)")"
    fi
    same "... and is not delivered" "$(count_delivered a "rekey-expired-$MARK")" 0
fi

summary t-lifecycle
