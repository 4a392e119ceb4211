#!/usr/bin/env bash
# Interop of fedmailctl seal/open with stock `openssl cms`, both ways, and
# fedmailctl's user-visible behaviour (exit codes, nothing on stdout on failure).
set -uo pipefail
cd "$(dirname "$0")/../.."
. contrib/test/lib/scenarios.sh
SUITE=t-crypto-interop
BIN=${FEDMAIL_BIN:-$(swift build --show-bin-path)}
CTL="$BIN/fedmailctl"
[ -x "$CTL" ] || { echo "t-crypto-interop: $CTL not built"; exit 1; }
W=$(mktemp -d /tmp/fedmail-interop.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"


# --- PKI: broker CA and a rogue CA (openssl), organization keys and CSRs (fedmailctl)
mkca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.crt" \
        -subj "/O=$1" -days 30 -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
mkca ca; mkca rogueca
mkorg() { # name type domain ca
    "$CTL" keygen --type "$2" --out "$1.key" || return 1
    "$CTL" csr --key "$1.key" --org "Org $1" --domain "$3" --out "$1.csr" || return 1
    local ku=digitalSignature,keyAgreement
    [ "$2" = rsa3072 ] && ku=digitalSignature,keyEncipherment
    printf 'basicConstraints=CA:FALSE\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nkeyUsage=critical,%s\nextendedKeyUsage=emailProtection\nsubjectAltName=DNS:%s\n' "$ku" "$3" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$4.crt" -CAkey "$4.key" -CAcreateserial -days 30 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
}
mkorg sender p256 sender.example ca || { echo "cannot create sender org"; exit 1; }
mkorg rsa rsa3072 rsa.example ca || { echo "cannot create rsa org"; exit 1; }
mkorg ec p256 ec.example ca || { echo "cannot create ec org"; exit 1; }
mkorg other p256 other.example ca || { echo "cannot create other org"; exit 1; }
mkorg rogue p256 sender.example rogueca || { echo "cannot create rogue org"; exit 1; }
check "keygen writes mode 0600" [ "$(stat -c %a rsa.key)" = 600 ]
check "csr carries the domain" sh -c "openssl req -in rsa.csr -noout -text | grep >/dev/null DNS:rsa.example"

# --- an original with 8-bit bytes, LF line ends and no final newline
printf 'From: Alice <alice@sender.example>\nTo: bob@rsa.example, carol@ec.example\nSubject: Gr\xc3\xbc\xc3\x9fe\nDate: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <1@sender.example>\n\nline 1\n\xff\xfe binary-ish\nlast line without newline' > orig.eml
POP=$(printf '%064x' 123456789)

# --- fedmailctl seal -> openssl cms -decrypt + -verify
"$CTL" seal --key sender.key --cert sender.crt --to rsa.crt --to ec.crt --pop-key "$POP" --pop-id jti-pop \
    --protect-subject < orig.eml > sealed.eml
check "seal via stdin/stdout exits 0" [ $? -eq 0 ]
check "sealed Subject is protected" grep -q '^Subject: \[sealed\]$' sealed.eml
check "sealed message uses LF like the original" sh -c "! grep -q $'\r' sealed.eml"
for org in rsa ec; do
    rm -f inner.eml content.bin
    if openssl cms -decrypt -in sealed.eml -inkey $org.key -recip $org.crt -out inner.eml 2>err.txt; then
        pass "openssl cms -decrypt ($org key) opens fedmailctl output"
    else
        fail "openssl cms -decrypt ($org key): $(cat err.txt)"
    fi
    if openssl cms -verify -in inner.eml -CAfile ca.crt -binary -out content.bin 2>err.txt; then
        pass "openssl cms -verify -CAfile ca.crt verifies the inner entity ($org)"
    else
        fail "openssl cms -verify ($org): $(cat err.txt)"
    fi
    off=$(grep -abo 'Content-Transfer-Encoding: binary' content.bin | head -n1 | cut -d: -f1)
    size=$(stat -c %s orig.eml)
    if [ -n "$off" ] && cmp -s -n "$size" -i "$((off + 37)):0" content.bin orig.eml; then
        pass "openssl-verified content holds the exact original ($org)"
    else
        fail "openssl-verified content does not hold the exact original ($org)"
    fi
done
check "openssl cms shows AuthEnvelopedData with OAEP and ECDH-SHA256" sh -c \
    "openssl cms -cmsout -print -in sealed.eml | grep >/dev/null rsaesOaep && openssl cms -cmsout -print -in sealed.eml | grep >/dev/null dhSinglePass-stdDH-sha256kdf-scheme && openssl cms -cmsout -print -in sealed.eml | grep >/dev/null id-smime-ct-authEnvelopedData"

# --- fedmailctl open: each organization with its own key only
for org in rsa ec; do
    "$CTL" open --key $org.key --cert $org.crt --ca ca.crt sealed.eml opened-$org.eml
    check "fedmailctl open ($org) exits 0" [ $? -eq 0 ]
    check "fedmailctl open ($org) gives the exact original" cmp -s opened-$org.eml orig.eml
done
"$CTL" open --pop-key "$POP" --pop-id jti-pop --ca ca.crt < sealed.eml > opened-pop.eml
check "fedmailctl open (pop key) gives the exact original" cmp -s opened-pop.eml orig.eml
# OUT that is not a regular file is written through, never replaced
"$CTL" open --key rsa.key --cert rsa.crt --ca ca.crt sealed.eml /dev/null
check "fedmailctl open to /dev/null exits 0" [ $? -eq 0 ]
check "/dev/null is still the null device afterwards" [ -c /dev/null ]
mkfifo out.fifo; timeout 60 cat out.fifo > from-fifo.eml & reader=$!
"$CTL" open --key rsa.key --cert rsa.crt --ca ca.crt sealed.eml out.fifo; status=$?; wait "$reader"
check "fedmailctl open into a FIFO writes the exact original through it" sh -c "[ $status -eq 0 ] && [ -p out.fifo ] && cmp -s from-fifo.eml orig.eml"

expect_fail() { # name expected-code args...
    local name=$1 code=$2; shift 2
    "$CTL" "$@" > out.txt 2> err.txt
    local rc=$?
    if [ $rc -ne 0 ] && [ ! -s out.txt ] && grep -q "$code" err.txt; then
        pass "$name: exit $rc, '$code' on stderr, nothing on stdout"
    else
        fail "$name: rc=$rc stdout=$(wc -c < out.txt) bytes stderr=$(cat err.txt)"
    fi
}
expect_fail "not for us" not-for-us open --key other.key --cert other.crt --ca ca.crt sealed.eml
expect_fail "wrong pop key id" not-for-us open --pop-key "$POP" --pop-id other --ca ca.crt sealed.eml

# tamper: change one base64 character in the middle of the body
lines=$(wc -l < sealed.eml); mid=$((lines * 2 / 3))
# (the next base64 character; '|' delimits, since '/' is itself base64)
next=$(sed -n "${mid}p" sealed.eml | cut -c2 | tr 'A-Za-z0-9+/' 'B-Za-z0-9+/A')
sed "${mid}s|^\(.\).|\1${next}|" sealed.eml > tampered.eml
check "tampered copy differs" sh -c "! cmp -s tampered.eml sealed.eml"
expect_fail "one altered ciphertext byte" tag-mismatch open --key rsa.key --cert rsa.crt --ca ca.crt tampered.eml
expect_fail "signer not chained (other CA pinned)" signer-not-chained open --key rsa.key --cert rsa.crt --ca rogueca.crt sealed.eml
"$CTL" open --key rsa.key --cert rsa.crt --ca ca.crt tampered.eml opened-bad.eml 2>/dev/null
check "no OUT file on failure" [ ! -e opened-bad.eml ]

# too old: --max-age 0 cannot be met a second later
sleep 1
expect_fail "older than --max-age" too-old open --key rsa.key --cert rsa.crt --ca ca.crt --max-age 0 sealed.eml

# signer domain != From domain: rsa org seals a message From sender.example
expect_fail "signer domain is not the From domain" signer-domain-mismatch open --key ec.key --cert ec.crt --ca ca.crt \
    <("$CTL" seal --key rsa.key --cert rsa.crt --to ec.crt orig.eml)

head -c 300 sealed.eml > truncated.eml
expect_fail "truncated CMS" malformed open --key rsa.key --cert rsa.crt --ca ca.crt truncated.eml
{ sed '/^$/q' sealed.eml; echo 'this is @@ not base64 !!'; } > garbage.eml
expect_fail "garbage base64" malformed open --key rsa.key --cert rsa.crt --ca ca.crt garbage.eml

openssl cms -encrypt -aes-256-cbc -in orig.eml -out cbc.eml rsa.crt
expect_fail "CBC EnvelopedData" not-aead open --key rsa.key --cert rsa.crt --ca ca.crt cbc.eml

chmod 644 rsa.key
expect_fail "group/other-readable key refused" "too open" open --key rsa.key --cert rsa.crt --ca ca.crt sealed.eml
chmod 600 rsa.key

"$CTL" inspect sealed.eml > inspect.txt
check "inspect lists the three recipientInfos" sh -c "grep -q 'key-trans.*RSAES-OAEP' inspect.txt && grep -q 'key-agree' inspect.txt && grep -q 'kek id=jti-pop' inspect.txt"
"$CTL" inspect --key ec.key --cert ec.crt --ca ca.crt sealed.eml > inspect2.txt
check "inspect with a key shows the signer and tokens" sh -c "grep -q 'signer: Org sender' inspect2.txt && grep -q 'signed token ids: jti-pop' inspect2.txt"

# --- openssl cms -sign then -encrypt -aes-256-gcm -> fedmailctl open
# The control part names every recipient organization (key id = the
# certificate's subjectKeyIdentifier, and its domains): signed, so a
# recipient cannot re-encrypt the message to somebody else.
ski() { openssl x509 -in "$1" -noout -ext subjectKeyIdentifier | tail -n 1 | tr -d ' :' | tr 'A-F' 'a-f'; }
sans() { openssl x509 -in "$1" -noout -ext subjectAltName | tail -n 1 | sed 's/DNS://g; s/ //g; s/,/","/g; s/^/"/; s/$/"/'; }
recipient_json() { printf '{"keyId":"%s","domains":[%s]}' "$(ski "$1")" "$(sans "$1")"; }
CONTROL_RECIPIENTS="$(recipient_json rsa.crt),$(recipient_json ec.crt)"
mkinner() { # original [recipients JSON] -> inner multipart entity (CRLF structure)
    printf 'Content-Type: multipart/mixed; boundary="b-openssl"\r\n\r\n--b-openssl\r\nContent-Type: message/rfc822; forwarded=no\r\nContent-Transfer-Encoding: binary\r\n\r\n'
    cat "$1"
    printf '\r\n--b-openssl\r\nContent-Type: application/vnd.fedmail.control+json\r\n\r\n{"v":1,"sealedBy":"openssl","tokens":["t-1"],"recipients":[%s]}\r\n--b-openssl--\r\n' "${2-$CONTROL_RECIPIENTS}"
}
mkinner orig.eml > inner-openssl.eml
openssl cms -sign -nodetach -binary -md sha256 -in inner-openssl.eml -signer sender.crt -inkey sender.key -out signed-openssl.eml
openssl cms -encrypt -aes-256-gcm -keyid -in signed-openssl.eml -out enc-rsa.eml \
    -recip rsa.crt -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 -keyopt rsa_mgf1_md:sha256
"$CTL" open --key rsa.key --cert rsa.crt --ca ca.crt enc-rsa.eml > from-openssl-rsa.eml
check "openssl cms sign+encrypt (RSA-OAEP) opens with fedmailctl" cmp -s from-openssl-rsa.eml orig.eml
openssl cms -encrypt -aes-256-gcm -keyid -in signed-openssl.eml -out enc-ec.eml -recip ec.crt -keyopt ecdh_kdf_md:sha256
"$CTL" open --key ec.key --cert ec.crt --ca ca.crt enc-ec.eml > from-openssl-ec.eml
check "openssl cms sign+encrypt (ECDH) opens with fedmailctl" cmp -s from-openssl-ec.eml orig.eml
openssl cms -sign -binary -md sha256 -in inner-openssl.eml -signer sender.crt -inkey sender.key -out detached-openssl.eml
openssl cms -encrypt -binary -aes-256-gcm -keyid -in detached-openssl.eml -out enc-detached.eml \
    -recip rsa.crt -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 -keyopt rsa_mgf1_md:sha256
"$CTL" open --key rsa.key --cert rsa.crt --ca ca.crt enc-detached.eml > from-openssl-detached.eml
check "openssl cms multipart/signed + encrypt opens with fedmailctl" cmp -s from-openssl-detached.eml orig.eml
# openssl defaults (text mode: canonical CRLF) on a CRLF original
printf 'From: alice@sender.example\r\nTo: bob@rsa.example\r\nSubject: defaults\r\n\r\nplain text\r\n' > orig-crlf.eml
mkinner orig-crlf.eml > inner-crlf.eml
openssl cms -sign -in inner-crlf.eml -signer sender.crt -inkey sender.key -out default-signed.eml
openssl cms -encrypt -aes-256-gcm -keyid -in default-signed.eml -out enc-default.eml \
    -recip rsa.crt -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 -keyopt rsa_mgf1_md:sha256
"$CTL" open --key rsa.key --cert rsa.crt --ca ca.crt enc-default.eml > from-openssl-default.eml
check "openssl cms -sign/-encrypt with default (text) options opens with fedmailctl" cmp -s from-openssl-default.eml orig-crlf.eml
# signed for the EC organization only, re-encrypted by it to the RSA organization
mkinner orig.eml "$(recipient_json ec.crt)" > inner-ec-only.eml
openssl cms -sign -nodetach -binary -md sha256 -in inner-ec-only.eml -signer sender.crt -inkey sender.key -out signed-ec-only.eml
openssl cms -encrypt -aes-256-gcm -keyid -in signed-ec-only.eml -out enc-reencrypted.eml \
    -recip rsa.crt -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 -keyopt rsa_mgf1_md:sha256
expect_fail "a signed entity sealed for another organization, re-encrypted to us" recipient-binding open --key rsa.key --cert rsa.crt --ca ca.crt enc-reencrypted.eml
mkinner orig.eml "" > inner-nobody.eml
openssl cms -sign -nodetach -binary -md sha256 -in inner-nobody.eml -signer sender.crt -inkey sender.key -out signed-nobody.eml
openssl cms -encrypt -aes-256-gcm -keyid -in signed-nobody.eml -out enc-nobody.eml \
    -recip rsa.crt -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 -keyopt rsa_mgf1_md:sha256
expect_fail "a control part naming no recipient" recipient-binding open --key rsa.key --cert rsa.crt --ca ca.crt enc-nobody.eml
openssl cms -encrypt -aes-256-gcm -keyid -in signed-openssl.eml -out enc-v15.eml rsa.crt
expect_fail "RSA PKCS#1 v1.5 key transport refused" refused-algorithm open --key rsa.key --cert rsa.crt --ca ca.crt enc-v15.eml
openssl cms -sign -nodetach -binary -in inner-openssl.eml -signer rogue.crt -inkey rogue.key -out signed-rogue.eml
openssl cms -encrypt -aes-256-gcm -keyid -in signed-rogue.eml -out enc-rogue.eml \
    -recip rsa.crt -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 -keyopt rsa_mgf1_md:sha256
expect_fail "openssl-made message signed by a key not chained to the CA" signer-not-chained open --key rsa.key --cert rsa.crt --ca ca.crt enc-rogue.eml
# ... unless that exact certificate is pinned as a static partner (--pin, the allowlist's cert=)
if "$CTL" open --key rsa.key --cert rsa.crt --pin rogue.crt --verbose enc-rogue.eml > from-pinned.eml 2>pinned-report.txt \
    && cmp -s from-pinned.eml orig.eml && grep >/dev/null "signer accepted as: pinned static partner certificate" pinned-report.txt; then
    pass "the same message opens with --pin rogue.crt (no --ca): exact original, report says pinned"
else fail "--pin rogue.crt: $(cat pinned-report.txt)"; fi
expect_fail "--pin of another certificate does not help" signer-not-chained open --key rsa.key --cert rsa.crt --ca ca.crt --pin sender.crt enc-rogue.eml

# --- a 50 MB message seals and opens with bounded memory: sealing streams
# from the original's file to the output's; opening streams the ciphertext
# and the signed content through files, never whole in memory. Peak RSS by
# GNU time; the bound (128 MB) is far below the message and its ciphertext.
RSS_LIMIT_KB=131072
peak_rss() { tail -n1 "$1" 2>/dev/null | tr -dc 0-9; }
if [ -x /usr/bin/time ]; then
    { printf 'From: Alice <alice@sender.example>\r\nTo: bob@rsa.example\r\nSubject: big\r\nMessage-ID: <big@sender.example>\r\n\r\n'
      yes 'The quick brown fox jumps over the lazy dog 0123456789 abcdefghijklmnopqrstuvw' | head -c 52428800; } > big.eml
    /usr/bin/time -f %M -o big.seal.rss "$CTL" seal --key sender.key --cert sender.crt --to rsa.crt big.eml big.sealed
    rss=$(peak_rss big.seal.rss)
    check "50 MB: fedmailctl seal peaks at ${rss:-?} kB RSS (< $RSS_LIMIT_KB kB), streaming with no intermediate file" \
        [ "${rss:-999999999}" -lt $RSS_LIMIT_KB ]
    /usr/bin/time -f %M -o big.rss "$CTL" open --key rsa.key --cert rsa.crt --ca ca.crt big.sealed big.opened
    check "50 MB (fedmailctl seal): fedmailctl open gives the exact original" cmp -s big.opened big.eml
    rss=$(peak_rss big.rss)
    check "50 MB (fedmailctl seal): fedmailctl open peaks at ${rss:-?} kB RSS (< $RSS_LIMIT_KB kB)" [ "${rss:-999999999}" -lt $RSS_LIMIT_KB ]
    rm -f big.sealed big.opened
    # openssl-made: indefinite-length BER, chunked OCTET STRINGs in both layers
    mkinner big.eml > big-inner.eml
    openssl cms -sign -nodetach -binary -md sha256 -in big-inner.eml -signer sender.crt -inkey sender.key -out big-signed.eml
    rm -f big-inner.eml
    openssl cms -encrypt -binary -aes-256-gcm -keyid -in big-signed.eml -out big-enc.eml \
        -recip rsa.crt -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 -keyopt rsa_mgf1_md:sha256
    rm -f big-signed.eml
    /usr/bin/time -f %M -o big.rss "$CTL" open --key rsa.key --cert rsa.crt --ca ca.crt big-enc.eml big.opened
    check "50 MB (openssl cms sign+encrypt): fedmailctl open gives the exact original" cmp -s big.opened big.eml
    rss=$(peak_rss big.rss)
    check "50 MB (openssl cms sign+encrypt): fedmailctl open peaks at ${rss:-?} kB RSS (< $RSS_LIMIT_KB kB)" [ "${rss:-999999999}" -lt $RSS_LIMIT_KB ]
    rm -f big.eml big-enc.eml big.opened big.rss
else
    fail "GNU time (/usr/bin/time) is missing: run contrib/scripts/install-deps.sh"
fi

summary t-crypto-interop
