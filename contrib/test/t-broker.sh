#!/usr/bin/env bash
# Integration suite for the trust broker: the real `fedmail-broker serve` on
# loopback with real TLS, driven by `fedmailctl enroll/lookup`, curl and
# openssl — first on SQLite, then on a private PostgreSQL cluster, then two
# broker processes sharing that PostgreSQL.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
FEDMAIL_BIN=${FEDMAIL_BIN:-$(swift build --show-bin-path)}
export FEDMAIL_BIN
CTL="$FEDMAIL_BIN/fedmailctl"
BROKER="$FEDMAIL_BIN/fedmail-broker"
for tool in "$CTL" "$BROKER"; do
    [ -x "$tool" ] || { echo "t-broker: $tool not built"; exit 1; }
done
for tool in curl jq openssl; do
    command -v "$tool" >/dev/null || { echo "t-broker: $tool missing (contrib/scripts/install-deps.sh)"; exit 1; }
done

# shellcheck source=lib/broker.sh
source "$ROOT/contrib/test/lib/broker.sh"
# shellcheck source=lib/postgres.sh
source "$ROOT/contrib/test/lib/postgres.sh"

WORK=$(mktemp -d /tmp/fedmail-t-broker.XXXXXX)
chmod 755 "$WORK"
cleanup() {
    broker_stop_all
    pg_private_stop
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "t-broker: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# pass / fail: the counters and lines of every suite
. contrib/test/lib/scenarios.sh
# check DESCRIPTION COMMAND...: the command must succeed
check() { local what=$1; shift; if "$@" >>"$WORK/commands.log" 2>&1; then pass "$what"; else fail "$what"; fi; }
# refuse DESCRIPTION COMMAND...: the command must fail
refuse() { local what=$1; shift; if "$@" >>"$WORK/commands.log" 2>&1; then fail "$what"; else pass "$what"; fi; }
# same DESCRIPTION A B: two strings must be equal
same() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 ('$2' != '$3')"; fi; }

newkey() { # newkey FILE rsa|ec
    if [ "$2" = rsa ]; then
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$1" 2>/dev/null
    else
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
    fi
    chmod 600 "$1"
}

# Pre-generate organization keys once (RSA 3072 generation is slow).
KEYS=$WORK/keys
mkdir -p "$KEYS"
newkey "$KEYS/alpha.key" rsa
newkey "$KEYS/beta.key" ec
newkey "$KEYS/gamma.key" ec
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$KEYS/weak.key" 2>/dev/null; chmod 600 "$KEYS/weak.key"

# enroll_and_approve DIR URL ORG KEY DOMAIN... : submit, approve as operator, fetch certificate to DIR/ORG.crt
enroll_and_approve() {
    local dir=$1 url=$2 org=$3 key=$4; shift 4
    local out id
    out=$("$CTL" enroll --broker "$url" --ca "$dir/ca.crt" --key "$key" --org "$org" --domain "$@" 2>&1) || { echo "$out"; return 1; }
    id=$(sed -n 's/^enrollment \([0-9a-f]*\) submitted.*/\1/p' <<<"$out" | head -n 1)
    [ -n "$id" ] || { echo "no enrollment id in: $out"; return 1; }
    "$BROKER" -c "$dir/broker.conf" org approve --skip-dns-validation "$id" >/dev/null || return 1
    "$CTL" enroll --broker "$url" --ca "$dir/ca.crt" --key "$key" --org "$org" --id "$id" --wait --timeout 20 --cert "$dir/$org.crt" >/dev/null
}

lookup() { # lookup DIR URL ORG KEYFILE DOMAIN... -> JSON on stdout
    local dir=$1 url=$2 org=$3 key=$4; shift 4
    "$CTL" lookup --broker "$url" --ca "$dir/ca.crt" --key "$key" --cert "$dir/$org.crt" "$@"
}

# SKI per RFC 5280 method 1: SHA-1 of the subjectPublicKey BIT STRING contents.
expected_ski() {
    local cert=$1
    if openssl x509 -in "$cert" -noout -text | grep >/dev/null "rsaEncryption"; then
        openssl x509 -in "$cert" -pubkey -noout | openssl rsa -pubin -RSAPublicKey_out -outform DER 2>/dev/null | sha1sum | cut -c1-40
    else
        openssl x509 -in "$cert" -pubkey -noout | openssl pkey -pubin -outform DER | tail -c 65 | sha1sum | cut -c1-40
    fi
}
actual_ski() {
    openssl x509 -in "$1" -noout -ext subjectKeyIdentifier | tail -n 1 | tr -d ' :' | tr 'A-F' 'a-f'
}

# The full functional suite against one broker and database.
run_suite() {
    local label=$1 database=$2
    local dir=$WORK/$label
    mkdir -p "$dir"
    echo "== broker on $label"
    broker_config "$dir/broker.conf" "$dir/state" "$database"
    check "config check (-n) accepts the config" "$BROKER" -c "$dir/broker.conf" -n
    check "init creates the CA" "$BROKER" -c "$dir/broker.conf" init
    same "CA key is mode 600" "$(stat -c %a "$dir/state/ca.key")" 600
    same "token key is mode 600" "$(stat -c %a "$dir/state/token.key")" 600
    refuse "init refuses to replace existing keys" "$BROKER" -c "$dir/broker.conf" init
    cp "$dir/state/ca.crt" "$dir/ca.crt"
    check "CA certificate is a CA" bash -c "openssl x509 -in '$dir/ca.crt' -noout -text | grep >/dev/null 'CA:TRUE'"

    broker_start "$label" "$dir/broker.conf" || { fail "broker starts"; return; }
    local url_var="BROKER_URL_$label"
    local url=${!url_var}
    pass "broker serves on $url"

    same "GET /healthz without client certificate" "$(curl -sf --cacert "$dir/ca.crt" "$url/healthz")" "ok"
    check "GET /v1/ca returns the pinned CA" bash -c "curl -sf --cacert '$dir/ca.crt' '$url/v1/ca' | cmp -s - '$dir/ca.crt'"
    check "broker TLS certificate verifies for 127.0.0.1 and localhost" bash -c \
        "echo | openssl s_client -connect ${url#https://} -CAfile '$dir/ca.crt' -verify_return_error -verify_ip 127.0.0.1 2>&1 | grep >/dev/null 'Verify return code: 0' \
         && curl -sf --cacert '$dir/ca.crt' --resolve localhost:${url##*:}:127.0.0.1 'https://localhost:${url##*:}/healthz' >/dev/null"

    # Enrollment
    check "enroll + approve alpha (RSA 3072)" enroll_and_approve "$dir" "$url" alpha "$KEYS/alpha.key" alpha.example mail.alpha.example
    check "enroll + approve beta (EC P-256)" enroll_and_approve "$dir" "$url" beta "$KEYS/beta.key" beta.example
    check "alpha certificate verifies as TLS client" openssl verify -CAfile "$dir/ca.crt" -purpose sslclient "$dir/alpha.crt"
    check "alpha certificate verifies for S/MIME encryption" openssl verify -CAfile "$dir/ca.crt" -purpose smimeencrypt "$dir/alpha.crt"
    check "beta certificate verifies as TLS client" openssl verify -CAfile "$dir/ca.crt" -purpose sslclient "$dir/beta.crt"
    same "alpha SAN = its domains" "$(openssl x509 -in "$dir/alpha.crt" -noout -ext subjectAltName | tail -n 1 | tr -d ' ')" "DNS:alpha.example,DNS:mail.alpha.example"
    check "alpha EKU emailProtection + clientAuth" bash -c "openssl x509 -in '$dir/alpha.crt' -noout -ext extendedKeyUsage | grep >/dev/null 'E-mail Protection, TLS Web Client Authentication'"
    check "beta (EC) key usage has Key Agreement" bash -c "openssl x509 -in '$dir/beta.crt' -noout -ext keyUsage | grep >/dev/null 'Key Agreement'"
    same "alpha SKI = SHA-1 of its public key bits (RFC 5280 method 1)" "$(actual_ski "$dir/alpha.crt")" "$(expected_ski "$dir/alpha.crt")"
    same "beta SKI = SHA-1 of its public key bits" "$(actual_ski "$dir/beta.crt")" "$(expected_ski "$dir/beta.crt")"
    same "org list shows both active" "$("$BROKER" -c "$dir/broker.conf" org list | grep -c ' active ')" 2

    # Bad enrollments
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$dir/ca.crt" -H 'Content-Type: application/json' \
        -d '{"organization":"x","domains":["x.example"],"csr":"garbage"}' "$url/v1/enrollments")
    same "garbage CSR refused with 400" "$code" 400
    refuse "RSA 2048 key refused" "$CTL" enroll --broker "$url" --ca "$dir/ca.crt" --key "$KEYS/weak.key" --org weak --domain weak.example
    refuse "a domain of another organization cannot be enrolled" "$CTL" enroll --broker "$url" --ca "$dir/ca.crt" --key "$KEYS/gamma.key" --org gamma --domain alpha.example
    chmod 644 "$KEYS/gamma.key"
    refuse "group/other-readable key refused by fedmailctl" "$CTL" enroll --broker "$url" --ca "$dir/ca.crt" --key "$KEYS/gamma.key" --org gamma --domain gamma.example
    chmod 600 "$KEYS/gamma.key"

    # Lookups: alpha -> beta (EC recipient), beta -> alpha (RSA recipient), unknown domain
    local json
    json=$(lookup "$dir" "$url" alpha "$KEYS/alpha.key" beta.example nowhere.example) || fail "lookup alpha -> beta.example"
    same "beta.example is ok" "$(jq -r '."beta.example".status' <<<"$json")" ok
    same "unknown domain is not-federated" "$(jq -r '."nowhere.example".status' <<<"$json")" not-federated
    same "token aud" "$(jq -r '."beta.example".claims.aud' <<<"$json")" beta.example
    same "token sub" "$(jq -r '."beta.example".claims.sub' <<<"$json")" alpha
    same "token rorg" "$(jq -r '."beta.example".claims.rorg' <<<"$json")" beta
    same "token purpose" "$(jq -r '."beta.example".claims.purpose' <<<"$json")" smtp-federation
    same "token sdom" "$(jq -r '."beta.example".claims.sdom | join(",")' <<<"$json")" "alpha.example,mail.alpha.example"
    same "token scf = SHA-256 of alpha's certificate" "$(jq -r '."beta.example".claims.scf' <<<"$json")" \
        "$(openssl x509 -in "$dir/alpha.crt" -outform DER | sha256sum | cut -c1-64)"
    same "token rkf = SHA-256 of beta's public key" "$(jq -r '."beta.example".claims.rkf' <<<"$json")" \
        "$(openssl pkey -in "$KEYS/beta.key" -pubout -outform DER | sha256sum | cut -c1-64)"
    jq -r '."beta.example".keyContainer' <<<"$json" >"$dir/beta-container.pem"
    check "beta key container verifies with openssl against the broker CA" openssl verify -CAfile "$dir/ca.crt" "$dir/beta-container.pem"
    same "beta key container SAN is the recipient domain" "$(openssl x509 -in "$dir/beta-container.pem" -noout -ext subjectAltName | tail -n 1 | tr -d ' ')" "DNS:beta.example"
    same "key container SKI = beta certificate SKI" "$(actual_ski "$dir/beta-container.pem")" "$(actual_ski "$dir/beta.crt")"
    local lifetime
    lifetime=$(( $(date -d "$(openssl x509 -in "$dir/beta-container.pem" -noout -enddate | cut -d= -f2)" +%s) \
               - $(date -d "$(openssl x509 -in "$dir/beta-container.pem" -noout -startdate | cut -d= -f2)" +%s) ))
    same "key container is valid 24 h (plus 5 min back-dating for clock skew)" "$lifetime" $((86400 + 300))
    # The token: its x5c signer chains to the CA, and openssl verifies the ES256 signature.
    jq -r '."beta.example".token' <<<"$json" >"$dir/token.jws"
    check "token signature verifies with openssl using its x5c certificate, which chains to the CA" verify_jws_with_openssl "$dir/token.jws" "$dir/ca.crt"

    json=$(lookup "$dir" "$url" beta "$KEYS/beta.key" alpha.example) || fail "lookup beta -> alpha.example"
    same "alpha.example is ok" "$(jq -r '."alpha.example".status' <<<"$json")" ok
    jq -r '."alpha.example".keyContainer' <<<"$json" >"$dir/alpha-container.pem"
    check "alpha (RSA) key container verifies for S/MIME encryption" openssl verify -CAfile "$dir/ca.crt" -purpose smimeencrypt "$dir/alpha-container.pem"
    same "alpha key container SAN" "$(openssl x509 -in "$dir/alpha-container.pem" -noout -ext subjectAltName | tail -n 1 | tr -d ' ')" "DNS:alpha.example"

    # Batch of many domains in one request
    json=$(lookup "$dir" "$url" beta "$KEYS/beta.key" alpha.example mail.alpha.example $(seq -f 'n%g.example' 1 18)) || fail "20-domain lookup"
    same "20-domain batch answers all" "$(jq 'length' <<<"$json")" 20
    same "20-domain batch: 2 ok" "$(jq '[.[] | select(.status=="ok")] | length' <<<"$json")" 2

    # pop mode, both key types
    json=$(lookup "$dir" "$url" alpha "$KEYS/alpha.key" --mode pop beta.example) || fail "pop lookup alpha -> beta"
    same "pop: key for the caller opens with alpha's RSA key" "$(jq -r '."beta.example".popKeyOpened' <<<"$json")" true
    check "pop: token carries the key encrypted to beta (HPKE)" bash -c "jq -r '.\"beta.example\".claims.pop' <<<'$json' | grep >/dev/null '^hpke-p256:'"
    json=$(lookup "$dir" "$url" beta "$KEYS/beta.key" --mode pop alpha.example) || fail "pop lookup beta -> alpha"
    same "pop: key for the caller opens with beta's EC key" "$(jq -r '."alpha.example".popKeyOpened' <<<"$json")" true
    check "pop: token carries the key encrypted to alpha (RSA-OAEP)" bash -c "jq -r '.\"alpha.example\".claims.pop' <<<'$json' | grep >/dev/null '^rsa-oaep-sha256:'"

    # Key containers for addresses
    json=$(lookup "$dir" "$url" beta "$KEYS/beta.key" --address anyone@alpha.example) || fail "address lookup"
    jq -r .keyContainer <<<"$json" >"$dir/address.pem"
    same "address key container SAN is the rfc822Name" "$(openssl x509 -in "$dir/address.pem" -noout -ext subjectAltName | tail -n 1 | tr -d ' ')" "email:anyone@alpha.example"
    check "address key container verifies" openssl verify -CAfile "$dir/ca.crt" -purpose smimeencrypt "$dir/address.pem"
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$dir/ca.crt" --cert "$dir/beta.crt" --key "$KEYS/beta.key" "$url/v1/certificates/someone@nowhere.example")
    same "address at an unknown domain: 404" "$code" 404

    # Mutual TLS
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$dir/ca.crt" -H 'Content-Type: application/json' -d '{"domains":["beta.example"]}' "$url/v1/tokens")
    same "POST /v1/tokens without client certificate: 401" "$code" 401
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/rogue.key" -out "$dir/rogue.crt" -subj "/O=alpha/CN=alpha" -days 1 2>/dev/null
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$dir/ca.crt" --cert "$dir/rogue.crt" --key "$dir/rogue.key" -d '{"domains":["beta.example"]}' "$url/v1/tokens")
    check "client certificate from another CA refused (got $code)" test "$code" != 200
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$dir/ca.crt" --cert "$dir/alpha.crt" --key "$KEYS/alpha.key" -H 'Content-Type: application/json' -d '{"domains":["beta.example"]}' "$url/v1/tokens")
    same "POST /v1/tokens with alpha's certificate: 200" "$code" 200

    # Client-side validation: tampered and substituted answers from the cache are refused
    local cache=$dir/cache
    check "lookup with a disk cache" lookup "$dir" "$url" alpha "$KEYS/alpha.key" --cache-dir "$cache" beta.example
    same "cache directory is 0700" "$(stat -c %a "$cache")" 700
    same "cache files are 0600" "$(find "$cache" -name '*.json' -perm 600 | wc -l)" 1
    check "cache-only lookup answers from the cache" lookup "$dir" "$url" alpha "$KEYS/alpha.key" --cache-dir "$cache" --cache-only beta.example
    local file
    file=$(find "$cache" -name '*.json' | head -n 1)
    cp "$file" "$dir/cache-backup.json"
    # flip one character of the token's signature
    jq '.token |= (.[0:length-5] + (if .[length-5:length-4] == "A" then "B" else "A" end) + .[length-4:])' "$dir/cache-backup.json" >"$file"
    refuse "client refuses a token with a tampered signature" lookup "$dir" "$url" alpha "$KEYS/alpha.key" --cache-dir "$cache" --cache-only beta.example
    # a token for another audience substituted into the entry
    jq --arg t "$(jq -r '."alpha.example".token' <<<"$(lookup "$dir" "$url" beta "$KEYS/beta.key" alpha.example)")" '.token = $t' "$dir/cache-backup.json" >"$file"
    refuse "client refuses a token for another audience" lookup "$dir" "$url" alpha "$KEYS/alpha.key" --cache-dir "$cache" --cache-only beta.example
    # a key container swapped for another organization's
    jq --rawfile c "$dir/alpha-container.pem" '.keyContainer = $c' "$dir/cache-backup.json" >"$file"
    refuse "client refuses a key container for another domain/key" lookup "$dir" "$url" alpha "$KEYS/alpha.key" --cache-dir "$cache" --cache-only beta.example
    # an expired entry
    jq '.expires = 1000' "$dir/cache-backup.json" >"$file"
    refuse "client does not use an expired cached answer" lookup "$dir" "$url" alpha "$KEYS/alpha.key" --cache-dir "$cache" --cache-only beta.example
    check "a fresh lookup replaces the bad cache entry" lookup "$dir" "$url" alpha "$KEYS/alpha.key" --cache-dir "$cache" beta.example

    # Federation policy
    check "policy restrict beta" "$BROKER" -c "$dir/broker.conf" policy restrict beta
    json=$(lookup "$dir" "$url" alpha "$KEYS/alpha.key" beta.example)
    same "restricted recipient: denied" "$(jq -r '."beta.example".status' <<<"$json")" denied
    check "policy allow beta alpha" "$BROKER" -c "$dir/broker.conf" policy allow beta alpha
    json=$(lookup "$dir" "$url" alpha "$KEYS/alpha.key" beta.example)
    same "allowed sender: ok" "$(jq -r '."beta.example".status' <<<"$json")" ok
    check "policy show lists the allowed sender" bash -c "'$BROKER' -c '$dir/broker.conf' policy show beta | grep >/dev/null 'allow alpha'"
    check "policy open beta" "$BROKER" -c "$dir/broker.conf" policy open beta

    # Domains: each reissue prints the new certificate and revokes the one it replaces.
    cp "$dir/beta.crt" "$dir/beta-first.crt"
    check "add-domain" bash -c "'$BROKER' -c '$dir/broker.conf' org add-domain beta beta2.example >'$dir/beta.new' && mv '$dir/beta.new' '$dir/beta.crt'"
    json=$(lookup "$dir" "$url" alpha "$KEYS/alpha.key" beta2.example)
    same "added domain is federated" "$(jq -r '."beta2.example".status' <<<"$json")" ok
    refuse "add-domain of another organization's domain refused" "$BROKER" -c "$dir/broker.conf" org add-domain beta alpha.example
    refuse "beta's certificate superseded by add-domain is refused" "$CTL" lookup --broker "$url" --ca "$dir/ca.crt" --key "$KEYS/beta.key" --cert "$dir/beta-first.crt" alpha.example
    check "remove-domain" bash -c "'$BROKER' -c '$dir/broker.conf' org remove-domain beta beta2.example >'$dir/beta.new' && mv '$dir/beta.new' '$dir/beta.crt'"
    check "beta's reissued certificate works" "$CTL" lookup --broker "$url" --ca "$dir/ca.crt" --key "$KEYS/beta.key" --cert "$dir/beta.crt" alpha.example
    curl -sf --cacert "$dir/ca.crt" "$url/v1/crl" -o "$dir/crl.der"
    check "GET /v1/crl: openssl crl -verify OK" bash -c "openssl crl -inform DER -in '$dir/crl.der' -CAfile '$dir/ca.crt' -noout 2>&1 | grep -q 'verify OK'"
    first_serial=$(openssl x509 -in "$dir/beta-first.crt" -noout -serial | cut -d= -f2)
    check "the CRL lists beta's superseded certificate" bash -c "openssl crl -inform DER -in '$dir/crl.der' -noout -text | grep -qi 'Serial Number: $first_serial'"
    check "beta renews its current certificate over mutual TLS (fedmailctl renew)" "$CTL" renew --broker "$url" --ca "$dir/ca.crt" --key "$KEYS/beta.key" --cert "$dir/beta.crt"
    json=$(lookup "$dir" "$url" alpha "$KEYS/alpha.key" beta2.example)
    same "removed domain is not-federated" "$(jq -r '."beta2.example".status' <<<"$json")" not-federated

    # A hijack attempt: an unauthenticated enrollment naming alpha with another key is held as a
    # key replacement; a plain approve refuses it; alpha's key is unchanged.
    local out hid
    out=$("$CTL" enroll --broker "$url" --ca "$dir/ca.crt" --key "$KEYS/gamma.key" --org alpha --domain alpha.example 2>&1)
    hid=$(sed -n 's/^enrollment \([0-9a-f]*\) submitted.*: key-replacement$/\1/p' <<<"$out" | head -n 1)
    check "an enrollment naming alpha is held as key-replacement" test -n "$hid"
    check "org list shows it as key-replacement" bash -c "'$BROKER' -c '$dir/broker.conf' org list | grep -q '^key-replacement $hid alpha '"
    refuse "plain org approve of a key-replacement is refused" "$BROKER" -c "$dir/broker.conf" org approve "$hid"
    json=$(lookup "$dir" "$url" beta "$KEYS/beta.key" alpha.example)
    same "containers for alpha still carry alpha's key" "$(jq -r '."alpha.example".claims.rkf' <<<"$json")" \
        "$(openssl pkey -in "$KEYS/alpha.key" -pubout -outform DER | sha256sum | cut -c1-64)"
    check "the key-replacement is rejected" "$BROKER" -c "$dir/broker.conf" org reject "$hid"

    # Key rotation: alpha rekeys over mutual TLS (no operator)
    cp "$dir/alpha.crt" "$dir/alpha-old.crt"; cp "$KEYS/alpha.key" "$dir/alpha-rekey.key"; chmod 600 "$dir/alpha-rekey.key"
    check "alpha rekeys (fedmailctl rekey)" "$CTL" rekey --broker "$url" --ca "$dir/ca.crt" --key "$dir/alpha-rekey.key" --cert "$dir/alpha.crt"
    refuse "the old alpha certificate is refused after rotation" "$CTL" lookup --broker "$url" --ca "$dir/ca.crt" --key "$KEYS/alpha.key" --cert "$dir/alpha-old.crt" beta.example
    check "the new alpha certificate works" "$CTL" lookup --broker "$url" --ca "$dir/ca.crt" --key "$dir/alpha-rekey.key" --cert "$dir/alpha.crt" beta.example
    same "rekey kept the old key as .previous" "$(cmp -s "$KEYS/alpha.key" "$dir/alpha-rekey.key.previous" && echo same)" same
    json=$(lookup "$dir" "$url" beta "$KEYS/beta.key" alpha.example)
    same "containers for alpha now carry the new key" "$(jq -r '."alpha.example".claims.rkf' <<<"$json")" \
        "$(openssl pkey -in "$dir/alpha-rekey.key" -pubout -outform DER | sha256sum | cut -c1-64)"

    # Revocation
    check "revoke beta" "$BROKER" -c "$dir/broker.conf" org revoke beta
    refuse "revoked organization refused on /v1/tokens" lookup "$dir" "$url" beta "$KEYS/beta.key" alpha.example
    json=$(lookup "$dir" "$url" alpha "$dir/alpha-rekey.key" beta.example)
    same "revoked organization's domains are not-federated" "$(jq -r '."beta.example".status' <<<"$json")" not-federated

    # Metrics and audit
    local metrics
    metrics=$(curl -sf --cacert "$dir/ca.crt" "$url/metrics")
    # (The scrape goes to grep on stdin: its help texts may hold any character.)
    check "metrics count issued tokens" grep -Eq '^fedmail_broker_tokens_issued_total [1-9]' <<<"$metrics"
    check "metrics have a latency histogram" grep -q '^fedmail_broker_request_duration_seconds_bucket' <<<"$metrics"
    check "metrics count errors" grep -Eq '^fedmail_broker_errors_total [1-9]' <<<"$metrics"
    local audit
    audit=$("$BROKER" -c "$dir/broker.conf" audit --limit 1000)
    for action in enrollment.submitted enrollment.approved token.issued policy.restricted policy.allowed organization.revoked domain.added domain.removed \
                  certificate.reissued certificate.renewed certificate.rekeyed auth.refused; do
        check "audit records $action" grep -q " $action " <<<"$audit"
    done
    check "audit lines are logged by the server" grep -q "action=token.issued" "$dir/$label.log"

    # Configuration errors
    printf 'Listen 127.0.0.1:1\nStateDir /tmp\nColour blue\n' >"$dir/bad.conf"
    local out rc
    out=$("$BROKER" -c "$dir/bad.conf" -n 2>&1); rc=$?
    same "-n rejects an unknown name" "$rc" 78
    check "-n names file and line" grep -q "bad.conf:3: unknown name 'Colour'" <<<"$out"
    printf 'TokenLifetime forever\n' >"$dir/bad2.conf"
    out=$("$BROKER" -c "$dir/bad2.conf" check-config 2>&1)
    check "check-config rejects a bad duration with its line" grep -q "bad2.conf:1:" <<<"$out"
}

# verify_jws_with_openssl TOKENFILE CA: checks the x5c certificate against the CA and the ES256 signature.
verify_jws_with_openssl() {
    local token=$1 ca=$2 d
    d=$(mktemp -d)
    IFS=. read -r h p s <"$token"
    b64url() { local x=$1; x=${x//-/+}; x=${x//_//}; while [ $(( ${#x} % 4 )) -ne 0 ]; do x+="="; done; printf '%s' "$x" | base64 -d; }
    b64url "$h" | jq -r '.x5c[0]' | base64 -d | openssl x509 -inform DER -out "$d/signer.pem" || return 1
    openssl verify -CAfile "$ca" "$d/signer.pem" >/dev/null || return 1
    openssl x509 -in "$d/signer.pem" -pubkey -noout >"$d/pub.pem"
    b64url "$s" >"$d/sig.raw"
    # raw r||s (64 bytes) -> DER ECDSA-Sig-Value
    local r sx
    r=$(head -c 32 "$d/sig.raw" | xxd -p -c 64 2>/dev/null || head -c 32 "$d/sig.raw" | od -An -tx1 | tr -d ' \n')
    sx=$(tail -c 32 "$d/sig.raw" | xxd -p -c 64 2>/dev/null || tail -c 32 "$d/sig.raw" | od -An -tx1 | tr -d ' \n')
    printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' "$r" "$sx" >"$d/sig.cnf"
    openssl asn1parse -genconf "$d/sig.cnf" -out "$d/sig.der" >/dev/null || return 1
    printf '%s.%s' "$h" "$p" >"$d/input"
    openssl dgst -sha256 -verify "$d/pub.pem" -signature "$d/sig.der" "$d/input" >/dev/null
    local rc=$?
    rm -rf "$d"
    return $rc
}

run_suite sqlite "sqlite:$WORK/sqlite/state/broker.db"
broker_stop_all

echo "== private PostgreSQL"
if pg_private_start "$WORK/pg"; then
    pass "private PostgreSQL cluster on 127.0.0.1:$PG_PORT"
    run_suite postgres "$(pg_private_createdb broker)"
    broker_stop_all

    echo "== two brokers on one PostgreSQL"
    shared_url=$(pg_private_createdb shared)
    dir=$WORK/shared
    mkdir -p "$dir"
    broker_config "$dir/broker.conf" "$dir/state" "$shared_url"
    "$BROKER" -c "$dir/broker.conf" init >/dev/null || fail "init shared"
    cp "$dir/state/ca.crt" "$dir/ca.crt"
    broker_start one "$dir/broker.conf" && broker_start two "$dir/broker.conf" || fail "two brokers start"
    same "both brokers apply each migration once" "$(pg_private_psql shared -c 'SELECT count(*) = count(DISTINCT version) AND count(*) >= 2 FROM schema_migrations')" t
    check "enroll alpha through broker one" enroll_and_approve "$dir" "$BROKER_URL_one" alpha "$KEYS/alpha.key" alpha.example
    check "enroll beta through broker two" enroll_and_approve "$dir" "$BROKER_URL_two" beta "$KEYS/beta.key" beta.example
    for b in one two; do
        u_var="BROKER_URL_$b"
        json=$(lookup "$dir" "${!u_var}" alpha "$KEYS/alpha.key" beta.example)
        same "broker $b: alpha -> beta ok" "$(jq -r '."beta.example".status' <<<"$json")" ok
        jq -r '."beta.example".keyContainer' <<<"$json" >"$dir/container-$b.pem"
        check "broker $b: container verifies against the shared CA" openssl verify -CAfile "$dir/ca.crt" "$dir/container-$b.pem"
    done
    "$BROKER" -c "$dir/broker.conf" policy restrict beta >/dev/null
    for b in one two; do
        u_var="BROKER_URL_$b"
        same "broker $b sees the policy change: denied" "$(lookup "$dir" "${!u_var}" alpha "$KEYS/alpha.key" beta.example | jq -r '."beta.example".status')" denied
    done
    "$BROKER" -c "$dir/broker.conf" org revoke alpha --reason key-compromise >/dev/null
    alpha_serial=$(openssl x509 -in "$dir/alpha.crt" -noout -serial | cut -d= -f2)
    for b in one two; do
        refuse "broker $b refuses the revoked organization" lookup "$dir" "$(eval echo \$BROKER_URL_$b)" alpha "$KEYS/alpha.key" beta.example
        u_var="BROKER_URL_$b"
        curl -sf --cacert "$dir/ca.crt" "${!u_var}/v1/crl" -o "$dir/crl-$b.der"
        check "broker $b's CRL lists alpha (key compromise) and verifies" bash -c "openssl crl -inform DER -in '$dir/crl-$b.der' -CAfile '$dir/ca.crt' -noout -text 2>&1 | grep -q 'verify OK' && openssl crl -inform DER -in '$dir/crl-$b.der' -noout -text | grep -qi -A3 'Serial Number: $alpha_serial' && openssl crl -inform DER -in '$dir/crl-$b.der' -noout -text | grep -q 'Key Compromise'"
    done
    crl_number() { openssl crl -inform DER -in "$1" -noout -crlnumber | cut -d= -f2; }
    check "the two brokers number their CRLs from the shared counter (distinct numbers)" test "$(crl_number "$dir/crl-one.der")" != "$(crl_number "$dir/crl-two.der")"
    # Concurrent approvals of competing enrollments for one domain through both brokers: only one wins.
    for org in gamma delta; do
        "$CTL" enroll --broker "$BROKER_URL_one" --ca "$dir/ca.crt" --key "$KEYS/gamma.key" --org "$org" --domain contested.example >/dev/null 2>&1
    done
    ids=$(pg_private_psql shared -c "SELECT id FROM enrollments WHERE status='pending' ORDER BY id")
    approvers=()
    for id in $ids; do "$BROKER" -c "$dir/broker.conf" org approve --skip-dns-validation "$id" >/dev/null 2>&1 & approvers+=("$!"); done
    for p in "${approvers[@]}"; do wait "$p"; done
    same "a contested domain ends up with exactly one organization" "$(pg_private_psql shared -c "SELECT count(*) FROM domains WHERE domain='contested.example'")" 1
    same "one of the competing enrollments is approved" "$(pg_private_psql shared -c "SELECT count(*) FROM enrollments WHERE status='approved' AND domains='contested.example'")" 1
    if pg_private_psql shared -c "UPDATE audit SET detail = 'x'" >/dev/null 2>&1; then
        fail "audit table refuses updates (append-only)"
    else
        pass "audit table refuses updates (append-only)"
    fi
    broker_stop_all

    echo "== PostgreSQL over TLS (sslmode=verify-full)"
    tls=$WORK/pgtls; mkdir -p "$tls"
    pg_test_ca() { # name
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tls/$1.key" -out "$tls/$1.crt" \
            -subj "/CN=$1" -days 2 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
    }
    pg_server_cert() { # name ca san
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tls/$1.key" -out "$tls/$1.csr" -subj "/CN=$3" 2>/dev/null
        printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$3" > "$tls/$1.ext"
        openssl x509 -req -in "$tls/$1.csr" -CA "$tls/$2.crt" -CAkey "$tls/$2.key" -CAcreateserial -days 2 \
            -extfile "$tls/$1.ext" -out "$tls/$1.crt" 2>/dev/null
        chown postgres: "$tls/$1.key" "$tls/$1.crt"; chmod 600 "$tls/$1.key"
    }
    pg_use_cert() { # name
        pg_private_psql postgres -c "ALTER SYSTEM SET ssl = on" -c "ALTER SYSTEM SET ssl_cert_file = '$tls/$1.crt'" \
            -c "ALTER SYSTEM SET ssl_key_file = '$tls/$1.key'" -c "SELECT pg_reload_conf()" >/dev/null
        sleep 1
    }
    pg_test_ca pgca; pg_test_ca otherca
    pg_server_cert right pgca localhost; pg_server_cert wrongname pgca db.other.example
    chmod 755 "$tls"; chmod 644 "$tls"/*.crt
    pg_private_createdb tlsdb >/dev/null
    pg_use_cert right
    tls_url() { echo "postgres://postgres@$1:$PG_PORT/tlsdb?sslmode=$2&sslrootcert=$tls/$3.crt"; }
    tls_init() { # label url: init a broker on that database URL
        local d=$tls/$1; rm -rf "$d"; mkdir -p "$d"
        broker_config "$d/broker.conf" "$d/state" "$2"
        "$BROKER" -c "$d/broker.conf" init >"$d/init.log" 2>&1
    }
    check "verify-full with the right CA and host name: the broker initializes its database" \
        tls_init right "$(tls_url localhost verify-full pgca)"
    if tls_init wrongca "$(tls_url localhost verify-full otherca)"; then
        fail "verify-full with another CA is refused"
    else
        pass "verify-full with another CA is refused"
    fi
    refuse "verify-full with an IP address instead of the certificate's name is refused with a clear error" \
        tls_init ip "$(tls_url 127.0.0.1 verify-full pgca)"
    check "... which says why" grep -q "verify-full needs the server's host name" "$tls/ip/init.log"
    broker_config "$tls/serve.conf" "$tls/right/state" "$(tls_url localhost verify-full pgca)"
    if broker_start tls "$tls/serve.conf"; then
        same "the broker's connections are encrypted (pg_stat_ssl)" \
            "$(pg_private_psql postgres -c "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = 'tlsdb'")" t
        broker_stop_all
    else
        fail "the broker serves with its database over TLS"
    fi
    pg_use_cert wrongname
    refuse "verify-full: a server certificate for another host name is refused" \
        tls_init wrongname "$(tls_url localhost verify-full pgca)"
    check "verify-ca accepts it (the name is not checked)" tls_init verifyca "$(tls_url localhost verify-ca pgca)"
else
    fail "private PostgreSQL cluster starts"
fi

echo "t-broker: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
