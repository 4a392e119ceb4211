#!/usr/bin/env bash
# Benchmark (not a test): `fedmailctl seal` / `fedmailctl open` beside
# `openssl cms -encrypt` / `-decrypt` (AES-256-GCM, RSA-OAEP) on the same
# 10 KB, 1 MB and 50 MB messages: wall time (median of RUNS), the ratio
# fedmailctl / openssl, and peak RSS (GNU time's maximum resident set size).
#
# fedmailctl does more than openssl here: it signs (SignedData, P-256) then
# encrypts, and on open verifies the chain, the signer domain and the GCM tag
# before a byte is released. The openssl column is encryption alone, so the
# ratio is an upper bound on FedMail's overhead.
#
# Usage: bash contrib/bench/crypto.sh [RUNS]   (or RUNS=N in the environment; default 3)
#   Uses release binaries if built (swift build -c release), else debug;
#   FEDMAIL_BIN=... to choose.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
RUNS=${1:-${RUNS:-3}}
if [ -z "${FEDMAIL_BIN:-}" ]; then
    if [ -x .build/release/fedmailctl ]; then FEDMAIL_BIN=$ROOT/.build/release
    else FEDMAIL_BIN=$(swift build --show-bin-path); fi
fi
CTL=$FEDMAIL_BIN/fedmailctl
[ -x "$CTL" ] || { echo "bench-crypto: $CTL not built"; exit 1; }
[ -x /usr/bin/time ] || { echo "bench-crypto: needs GNU time (apt-get install time)"; exit 1; }

W=$(mktemp -d /tmp/fedmail-bench-crypto.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"

# PKI: a broker CA (openssl), the sender (P-256) and the recipient (RSA-3072)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
    -subj "/O=Bench CA" -days 2 -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
org() { # name type domain keyusage
    "$CTL" keygen --type "$2" --out "$1.key"
    "$CTL" csr --key "$1.key" --org "Bench $1" --domain "$3" --out "$1.csr"
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,%s\nextendedKeyUsage=emailProtection\nsubjectAltName=DNS:%s\n' "$4" "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
}
org sender p256 sender.example digitalSignature,keyAgreement
org rcpt rsa3072 rcpt.example digitalSignature,keyEncipherment

message() { # name bytes
    python3 - "$1" "$2" <<'P'
import sys, os
name, size = sys.argv[1], int(sys.argv[2])
head = (b"From: Alice <alice@sender.example>\r\nTo: bob@rcpt.example\r\nSubject: bench\r\n"
        b"Message-ID: <bench-%s@sender.example>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" % name.encode())
line = b"The quick brown fox jumps over the lazy dog 0123456789 abcdefghijklmnopqrstuvw\r\n"
with open(name + ".eml", "wb") as f:
    f.write(head)
    left = size - len(head)
    while left > 0:
        f.write(line[:left]); left -= len(line)
P
}

# measure LABEL CMD...: runs CMD RUNS times; prints "median_seconds peak_rss_kb"
measure() {
    local times=() rss=0 i t r t0
    for ((i = 0; i < RUNS; i++)); do
        t0=$(date +%s%N)
        /usr/bin/time -f '%M' -o tm "$@" >/dev/null 2>err || { echo "bench-crypto: failed: $* ($(cat err))" >&2; exit 1; }
        t=$(( ($(date +%s%N) - t0) / 1000000 )); read -r r <tm
        times+=("$(printf '%d.%03d' $((t / 1000)) $((t % 1000)))"); ((r > rss)) && rss=$r
    done
    printf '%s %s\n' "$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")" "$rss"
}
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.2f' % (a/b) if b > 0 else 'n/a')" "$1" "$2"; }

echo "bench-crypto: $CTL, openssl $(openssl version | cut -d' ' -f2), median of $RUNS runs, $(nproc) cores"
printf '%-6s | %-9s %-9s %-6s %-10s | %-9s %-9s %-6s %-10s\n' size seal-s cms-enc-s ratio seal-RSS open-s cms-dec-s ratio open-RSS
for spec in 10k:10240 1m:1048576 50m:52428800; do
    name=${spec%%:*}; size=${spec#*:}
    message "$name" "$size"
    "$CTL" seal --key sender.key --cert sender.crt --to rcpt.crt "$name.eml" "$name.sealed"
    "$CTL" open --key rcpt.key --cert rcpt.crt --ca ca.crt "$name.sealed" "$name.opened"
    cmp -s "$name.eml" "$name.opened" || { echo "bench-crypto: $name did not round-trip"; exit 1; }
    openssl cms -encrypt -binary -aes-256-gcm -recip rcpt.crt -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 \
        -in "$name.eml" -out "$name.cms" 2>/dev/null
    read -r seal_s seal_rss < <(measure "$CTL" seal --key sender.key --cert sender.crt --to rcpt.crt "$name.eml" "$name.sealed2")
    read -r enc_s _ < <(measure openssl cms -encrypt -binary -aes-256-gcm -recip rcpt.crt -keyopt rsa_padding_mode:oaep \
        -keyopt rsa_oaep_md:sha256 -in "$name.eml" -out "$name.cms2")
    read -r open_s open_rss < <(measure "$CTL" open --key rcpt.key --cert rcpt.crt --ca ca.crt "$name.sealed" "$name.opened2")
    read -r dec_s _ < <(measure openssl cms -decrypt -binary -inkey rcpt.key -recip rcpt.crt -in "$name.cms" -out "$name.dec")
    printf '%-6s | %-9s %-9s %-6s %-10s | %-9s %-9s %-6s %-10s\n' "$name" "$seal_s" "$enc_s" "$(ratio "$seal_s" "$enc_s")" \
        "${seal_rss}kB" "$open_s" "$dec_s" "$(ratio "$open_s" "$dec_s")" "${open_rss}kB"
    rm -f "$name".*
done
