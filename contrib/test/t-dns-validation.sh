#!/usr/bin/env bash
# Domain control validation at enrollment (dns-01 style) against a real
# authoritative DNS server: a private NSD on 127.0.0.80:5353 serving the zone
# dnstest.example, whose TXT records the test writes and reloads. The broker
# (DNSResolver 127.0.0.80:5353) checks `_fedmail-challenge.<domain>` before an
# enrollment can be approved. Also the abuse limits of the unauthenticated
# endpoints (429 + Retry-After, pending quota, body cap).
#
# Run it only under the shared lock (fixed loopback address):
#   FEDMAIL_BIN=$(swift build --show-bin-path) flock /tmp/fedmail-e2e.lock bash contrib/test/t-dns-validation.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
FEDMAIL_BIN=${FEDMAIL_BIN:-$(swift build --show-bin-path)}
export FEDMAIL_BIN
CTL="$FEDMAIL_BIN/fedmailctl"
BROKER="$FEDMAIL_BIN/fedmail-broker"
DNS_ADDR=127.0.0.80
DNS_PORT=5353
ZONE=dnstest.example
for tool in "$CTL" "$BROKER"; do
    [ -x "$tool" ] || { echo "t-dns-validation: $tool not built"; exit 1; }
done
for tool in curl jq openssl nsd dig; do
    command -v "$tool" >/dev/null || { echo "t-dns-validation: $tool missing (contrib/scripts/install-deps.sh)"; exit 1; }
done

# shellcheck source=lib/broker.sh
source "$ROOT/contrib/test/lib/broker.sh"
. contrib/test/lib/scenarios.sh
SUITE=t-dns-validation

WORK=$(mktemp -d /tmp/fedmail-t-dns.XXXXXX)
chmod 755 "$WORK"
NSD_PID=
WAITER=
cleanup() {
    [ -n "$WAITER" ] && kill "$WAITER" 2>/dev/null
    broker_stop_all
    [ -n "$NSD_PID" ] && kill "$NSD_PID" 2>/dev/null && wait "$NSD_PID" 2>/dev/null
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "t-dns-validation: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# run DESCRIPTION COMMAND...: the command must succeed (output to commands.log)
run() { local what=$1; shift; if "$@" >>"$WORK/commands.log" 2>&1; then pass "$what"; else fail "$what"; fi; }
# refuse DESCRIPTION COMMAND...: the command must fail
refuse() { local what=$1; shift; if "$@" >>"$WORK/commands.log" 2>&1; then fail "$what"; else pass "$what"; fi; }
same() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 ('$2' != '$3')"; fi; }
contains() { if grep -q -- "$3" <<<"$2"; then pass "$1"; else fail "$1 (no '$3' in: $2)"; fi; }

# --- the authoritative server -------------------------------------------------
NSD=$WORK/nsd
mkdir -p "$NSD"
SERIAL=1
RECORDS=()   # zone-file lines the tests publish
write_zone() {
    {
        echo "\$ORIGIN $ZONE."
        echo "\$TTL 60"
        echo "@ IN SOA ns.$ZONE. hostmaster.$ZONE. ($SERIAL 3600 600 86400 60)"
        echo "@ IN NS ns.$ZONE."
        echo "ns IN A $DNS_ADDR"
        local line
        for line in "${RECORDS[@]}"; do echo "$line"; done
    } >"$NSD/$ZONE.zone"
}
# publish "NAME. TTL IN TXT \"VALUE\""... : add records, reload NSD and wait until it serves the last one
publish() {
    RECORDS+=("$@")
    SERIAL=$((SERIAL + 1))
    write_zone
    kill -HUP "$NSD_PID"
    local _
    for _ in $(seq 1 100); do
        [ "$(dig +short +norecurse -p "$DNS_PORT" @"$DNS_ADDR" "$ZONE" SOA | awk '{print $3}')" = "$SERIAL" ] && return 0
        sleep 0.1
    done
    echo "NSD did not load serial $SERIAL"; return 1
}
cat >"$NSD/nsd.conf" <<CONF
server:
    ip-address: $DNS_ADDR@$DNS_PORT
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "$NSD"
    database: ""
    zonelistfile: "$NSD/zone.list"
    xfrdfile: "$NSD/xfrd.state"
    xfrdir: "$NSD"
    pidfile: "$NSD/nsd.pid"
    logfile: "$NSD/nsd.log"
    server-count: 1
    verbosity: 1
remote-control:
    control-enable: no
zone:
    name: $ZONE
    zonefile: $ZONE.zone
CONF
write_zone
nsd -d -c "$NSD/nsd.conf" >>"$NSD/nsd.log" 2>&1 &
NSD_PID=$!
scenario dns "authoritative NSD on $DNS_ADDR:$DNS_PORT"
for _ in $(seq 1 100); do
    [ -n "$(dig +short +norecurse -p "$DNS_PORT" @"$DNS_ADDR" "$ZONE" SOA 2>/dev/null)" ] && break
    kill -0 "$NSD_PID" 2>/dev/null || break
    sleep 0.1
done
[ -n "$(dig +short +norecurse -p "$DNS_PORT" @"$DNS_ADDR" "$ZONE" SOA 2>/dev/null)" ] || { cat "$NSD/nsd.log"; die "NSD serves $ZONE"; }
pass "NSD serves $ZONE"

# --- the broker ---------------------------------------------------------------
DIR=$WORK/broker
broker_config "$DIR/broker.conf" "$DIR/state" "sqlite:$DIR/broker.db"
cat >>"$DIR/broker.conf" <<CONF
DNSResolver     $DNS_ADDR:$DNS_PORT
DNSTimeout      2s
CONF
"$BROKER" -c "$DIR/broker.conf" init >/dev/null || die "broker init"
cp "$DIR/state/ca.crt" "$DIR/ca.crt"
broker_start dns "$DIR/broker.conf" || die "broker starts"
URL=$BROKER_URL_dns
pass "broker serves on $URL with DNSResolver $DNS_ADDR:$DNS_PORT"
ctl_enroll() { # ctl_enroll ORG KEY DOMAIN... -> output; sets ID
    local org=$1 key=$2; shift 2
    local args=() d
    for d in "$@"; do args+=(--domain "$d"); done
    "$CTL" enroll --broker "$URL" --ca "$DIR/ca.crt" --key "$key" --org "$org" "${args[@]}"
}
id_of() { sed -n 's/^enrollment \([0-9a-f]*\) submitted.*/\1/p' <<<"$1" | head -n 1; }
record_of() { grep "_fedmail-challenge.$2\. " <<<"$1" | sed 's/^ *//'; }  # record_of OUTPUT DOMAIN -> zone line
value_of() { record_of "$1" "$2" | sed 's/.*TXT "\(.*\)"$/\1/'; }
approve() { "$BROKER" -c "$DIR/broker.conf" org approve "$@" 2>&1; }
audit() { "$BROKER" -c "$DIR/broker.conf" audit --limit 200; }
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }
for k in alpha beta gamma delta eps; do newkey "$WORK/$k.key"; done

# --- correct records: validated by polling, approved ----------------------------
scenario correct "correct records are seen by the broker while fedmailctl waits, then approved"
OUT=$(ctl_enroll alpha "$WORK/alpha.key" "alpha.$ZONE" "mail.alpha.$ZONE" 2>&1)
ALPHA=$(id_of "$OUT")
[ -n "$ALPHA" ] || die "alpha enrollment submitted ($OUT)"
contains "fedmailctl enroll prints the records to publish" "$OUT" "publish these DNS records"
same "one zone-file line per domain" "$(grep -c '_fedmail-challenge\..* 300 IN TXT "' <<<"$OUT")" 2
contains "status pending-dns until the records are seen" "$OUT" "pending-dns"
contains "org list shows pending-dns" "$("$BROKER" -c "$DIR/broker.conf" org list)" "pending-dns $ALPHA"
REFUSAL=$(approve "$ALPHA")
contains "approve before publishing is refused, naming the missing record" "$REFUSAL" "no TXT record at _fedmail-challenge.alpha.$ZONE"
"$CTL" enroll --broker "$URL" --ca "$DIR/ca.crt" --key "$WORK/alpha.key" --org alpha --id "$ALPHA" --wait --timeout 60 --interval 1 \
    --cert "$WORK/alpha.crt" >"$WORK/alpha-wait.log" 2>&1 &
WAITER=$!
# mail.alpha gets its value among many long TXT records: the UDP answer is truncated, the broker asks again over TCP.
JUNK=()
for n in $(seq 1 8); do JUNK+=("_fedmail-challenge.mail.alpha 60 IN TXT \"$(printf 'x%.0s' $(seq 1 250))$n\""); done
publish "$(record_of "$OUT" "alpha.$ZONE")" "${JUNK[@]}" "$(record_of "$OUT" "mail.alpha.$ZONE")" || die "publish alpha records"
contains "the TXT answer for mail.alpha is too large for UDP (TC set)" \
    "$(dig +norecurse +bufsize=1232 +ignore -p "$DNS_PORT" @"$DNS_ADDR" "_fedmail-challenge.mail.alpha.$ZONE" TXT)" " tc"
for _ in $(seq 1 40); do
    "$BROKER" -c "$DIR/broker.conf" org list | grep -q "^pending $ALPHA" && break
    sleep 0.5
done
contains "polling made the broker validate both domains (pending)" "$("$BROKER" -c "$DIR/broker.conf" org list)" "^pending $ALPHA"
contains "fedmailctl says the records have been seen" "$(cat "$WORK/alpha-wait.log")" "has seen every DNS record"
run "approve without flags succeeds once validated" approve "$ALPHA"
if wait "$WAITER"; then pass "fedmailctl --wait ends approved"; else fail "fedmailctl --wait ends approved ($(cat "$WORK/alpha-wait.log"))"; fi
WAITER=
run "the certificate was written" test -s "$WORK/alpha.crt"
AUDIT=$(audit)
contains "audit: enrollment.approved ... dns=validated" "$AUDIT" "enrollment.approved alpha id=$ALPHA .* dns=validated"
same "audit: one enrollment.dns-validated per domain" "$(grep -c "enrollment.dns-validated alpha id=$ALPHA" <<<"$AUDIT")" 2

# --- wrong value --------------------------------------------------------------
scenario wrong "a wrong value is refused"
OUT=$(ctl_enroll beta "$WORK/beta.key" "beta.$ZONE" 2>&1); BETA=$(id_of "$OUT")
publish "_fedmail-challenge.beta 60 IN TXT \"$(value_of "$OUT" "beta.$ZONE" | rev)\"" || die "publish beta"
V=$("$BROKER" -c "$DIR/broker.conf" org validate "$BETA" 2>&1); RC=$?
same "org validate exits 1" "$RC" 1
contains "org validate says the value does not match" "$V" "missing beta.$ZONE: 1 TXT record(s) at _fedmail-challenge.beta.$ZONE, none with this enrollment's value"
contains "approve is refused" "$(approve "$BETA")" "without a validated DNS challenge"
contains "the enrollment stays pending-dns" "$("$BROKER" -c "$DIR/broker.conf" org list)" "pending-dns $BETA"

# --- a record published for another domain -----------------------------------
scenario cross "the value of one domain published at another domain's name is refused"
OUT=$(ctl_enroll gamma "$WORK/gamma.key" "gamma.$ZONE" "gamma2.$ZONE" 2>&1); GAMMA=$(id_of "$OUT")
publish "_fedmail-challenge.gamma 60 IN TXT \"$(value_of "$OUT" "gamma.$ZONE")\"" \
        "_fedmail-challenge.gamma2 60 IN TXT \"$(value_of "$OUT" "gamma.$ZONE")\"" || die "publish gamma"
V=$("$BROKER" -c "$DIR/broker.conf" org validate "$GAMMA" 2>&1)
contains "gamma is validated" "$V" "^validated gamma.$ZONE"
contains "gamma2, carrying gamma's value, is not" "$V" "^missing gamma2.$ZONE"
contains "approve is refused, naming gamma2" "$(approve "$GAMMA")" "gamma2.$ZONE (1 TXT record"
# Another enrollment's value (other key) for the same domain does not validate it either.
OUT2=$(ctl_enroll gamma "$WORK/delta.key" "gamma2.$ZONE" 2>&1)
publish "_fedmail-challenge.gamma2 60 IN TXT \"$(value_of "$OUT2" "gamma2.$ZONE")\"" || die "publish gamma2 for the other enrollment"
contains "a value for another enrollment of the same domain does not validate this one" \
    "$("$BROKER" -c "$DIR/broker.conf" org validate "$GAMMA" 2>&1)" "^missing gamma2.$ZONE"
run "while it validates the enrollment it was made for" "$BROKER" -c "$DIR/broker.conf" org validate "$(id_of "$OUT2")"

# --- missing record; skipping, audited ---------------------------------------
scenario missing "a missing record is refused; --skip-dns-validation approves and is audited"
OUT=$(ctl_enroll delta "$WORK/delta.key" "delta.$ZONE" 2>&1); DELTA=$(id_of "$OUT")
contains "approve is refused: no TXT record" "$(approve "$DELTA")" "delta.$ZONE (no TXT record at _fedmail-challenge.delta.$ZONE)"
# A resolver that does not answer fails closed (same database, resolver on a dead port).
sed "s/^DNSResolver .*/DNSResolver $DNS_ADDR:5354/" "$DIR/broker.conf" >"$DIR/dead-resolver.conf"
publish "_fedmail-challenge.delta 60 IN TXT \"$(value_of "$OUT" "delta.$ZONE")\"" || die "publish delta"
V=$("$BROKER" -c "$DIR/dead-resolver.conf" org validate "$DELTA" 2>&1)
contains "an unreachable resolver fails closed" "$V" "missing delta.$ZONE: DNS lookup failed"
RECORDS=(); publish "dummy 60 IN TXT \"x\"" || die "unpublish"
contains "approve --skip-dns-validation approves" "$(approve --skip-dns-validation "$DELTA")" "approved $DELTA"
contains "audit: enrollment.approved ... dns=skipped" "$(audit)" "enrollment.approved delta id=$DELTA .* dns=skipped"

# --- a domain of another active organization ----------------------------------
scenario owned "a domain owned by another active organization cannot be enrolled"
openssl req -new -key "$WORK/eps.key" -subj "/O=eps/CN=eps" -out "$WORK/eps.csr" 2>/dev/null
BODY=$(jq -n --rawfile csr "$WORK/eps.csr" --arg d "alpha.$ZONE" '{organization:"eps", domains:[$d], csr:$csr}')
CODE=$(curl -s -o "$WORK/owned.json" -w '%{http_code}' --cacert "$DIR/ca.crt" -H 'Content-Type: application/json' -d "$BODY" "$URL/v1/enrollments")
same "POST /v1/enrollments for alpha's domain: 409" "$CODE" 409
contains "the error names the domain" "$(cat "$WORK/owned.json")" "alpha.$ZONE belongs to another organization"
refuse "fedmailctl enroll refuses too" ctl_enroll eps "$WORK/eps.key" "alpha.$ZONE"

# --- abuse limits ---------------------------------------------------------------
scenario limits "429 with Retry-After on the unauthenticated endpoints; body cap"
LDIR=$WORK/limits
broker_config "$LDIR/broker.conf" "$LDIR/state" "sqlite:$LDIR/broker.db"
cat >>"$LDIR/broker.conf" <<CONF
DNSResolver     $DNS_ADDR:$DNS_PORT
EnrollmentRateLimit 3/h
StatusRateLimit 5/min
MaxPendingPerSource 2
CONF
"$BROKER" -c "$LDIR/broker.conf" init >/dev/null || die "limits broker init"
broker_start limits "$LDIR/broker.conf" || die "limits broker starts"
LURL=$BROKER_URL_limits
post() { curl -s -D "$WORK/headers" -o "$WORK/body" -w '%{http_code}' --cacert "$LDIR/state/ca.crt" -H 'Content-Type: application/json' -d "$1" "$LURL/v1/enrollments"; }
body_for() { jq -n --rawfile csr "$WORK/eps.csr" --arg d "$1" '{organization:"eps", domains:[$d], csr:$csr}'; }
same "first enrollment accepted (202)" "$(post "$(body_for e1.$ZONE)")" 202
same "second enrollment accepted (202)" "$(post "$(body_for e2.$ZONE)")" 202
same "third from the same source: pending quota, 429" "$(post "$(body_for e3.$ZONE)")" 429
contains "quota answer has Retry-After" "$(cat "$WORK/headers")" "^[Rr]etry-[Aa]fter: [0-9]"
same "fourth: rate limit, 429" "$(post "$(body_for e4.$ZONE)")" 429
contains "rate-limit answer has Retry-After" "$(cat "$WORK/headers")" "^[Rr]etry-[Aa]fter: [0-9]"
contains "error body says too-many-requests" "$(cat "$WORK/body")" '"error":"too-many-requests"'
CODES=$(for _ in $(seq 1 7); do curl -s -o /dev/null -w '%{http_code} ' --cacert "$LDIR/state/ca.crt" "$LURL/v1/ca"; done)
contains "GET /v1/ca: 5 answered, then 429" "$CODES" "200 200 200 200 200 429 429"
same "healthz is not limited" "$(curl -s --cacert "$LDIR/state/ca.crt" "$LURL/healthz")" ok
head -c 100000 /dev/zero | tr '\0' a >"$WORK/big"
CODE=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$DIR/ca.crt" -H 'Content-Type: application/json' --data-binary "@$WORK/big" "$URL/v1/enrollments")
same "a 100 kB enrollment body is refused with 413" "$CODE" 413
contains "metrics count the refusals" "$(curl -s --cacert "$LDIR/state/ca.crt" "$LURL/metrics")" "fedmail_broker_rate_limited_total [1-9]"

summary "$SUITE"
