#!/usr/bin/env bash
# FedMail demo (README command a): two organizations exchange one sealed message.
#
#   - one trust broker (fedmail-broker, SQLite) on 127.0.0.1;
#   - organization A (a.example) on 127.0.0.10 and organization B (b.example)
#     on 127.0.0.20, each a real private Postfix with its own fedmail-milter
#     (smtpd_milters + non_smtpd_milters, milter_default_action = tempfail)
#     and a milter-less re-injection smtpd;
#   - each organization makes its key (fedmailctl keygen), enrolls it
#     (fedmailctl enroll), the broker operator approves it (fedmail-broker org
#     approve), and the organization fetches its certificate;
#   - Alice (an internal client of A, 127.0.0.11) sends one message to
#     bob@b.example with swaks; A's gateway seals it, A's Postfix relays it to
#     B through a wiretap that records the bytes on the wire, B's gateway
#     opens it, and B's Postfix delivers it to Bob's Maildir.
#
# It prints the sealed message as it crossed between the gateways, the
# message delivered at B, and a last line a script can check:
#   demo: sealed-in-transit=yes delivered-intact=yes      (or no, with the reason)
#
# Usage: bash contrib/demo.sh   as root (or sudo bash contrib/demo.sh)
#        (Debian 12; installs what is missing, builds, runs everything under
#        a temporary directory, cleans up; prints each step with its time)
set -uo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it starts private Postfix instances): bash contrib/demo.sh as root, or sudo bash contrib/demo.sh"; exit 1; }
DEMO_START=$SECONDS; STEP=0
# "== [n] what (t+SECONDSs)": each step with the time since the start.
step() { STEP=$((STEP + 1)); echo "== [$STEP] $* (t+$((SECONDS - DEMO_START))s)"; }
step "installing what is missing (apt-get; quick when everything is there)"
bash contrib/scripts/install-deps.sh || { echo "demo: sealed-in-transit=no delivered-intact=no (installing dependencies failed)"; exit 1; }
# The build's progress, one line every 15 s ("[412/1553] Compiling ..."),
# so a first build (several minutes) is not silent; errors in full.
build_progress() {
    local last=$SECONDS line
    while IFS= read -r line; do
        case $line in
            *error:*|*"Build complete"*|*"Compiling"*"failed"*) echo "   $line" ;;
            "["*"/"*"]"*) if ((SECONDS - last >= 15)); then last=$SECONDS; echo "   ${line:0:100} (t+$((SECONDS - DEMO_START))s)"; fi ;;
        esac
    done
}
step "building fedmail-milter, fedmail-broker, fedmailctl (a first build takes several minutes)"
for product in fedmail-milter fedmail-broker fedmailctl; do
    swift build --product "$product" 2>&1 | build_progress
    [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "demo: sealed-in-transit=no delivered-intact=no (build of $product failed)"; exit 1; }
done
FEDMAIL_BIN=$(swift build --show-bin-path); export FEDMAIL_BIN

BASE=$(mktemp -d /tmp/fedmail-demo.XXXXXX)
. contrib/test/lib/federation.sh
cleanup() { fed_cleanup; if [ "${KEEP:-0}" = 1 ]; then echo "kept $BASE"; else rm -rf "$BASE"; fi; }
trap cleanup EXIT
verdict() { echo "demo: sealed-in-transit=$1 delivered-intact=$2${3:+ ($3)}"; exit "$([ "$1$2" = yesyes ] && echo 0 || echo 1)"; }
fed_setup "$BASE" || verdict no no "binaries missing"

step "trust broker"
fed_broker_start || verdict no no "the broker did not start"
echo "   $FED_BROKER_URL (CA pinned by both gateways: $FED_BROKER_CA)"
step "enrolling organization a (a.example, RSA 3072) and b (b.example, P-256): keygen, enroll, approve"
fed_org a 127.0.0.10 rsa3072 a.example || verdict no no "enrolling a failed"
fed_org b 127.0.0.20 p256 b.example || verdict no no "enrolling b failed"
"$FED_BROKER" -c "$BASE/broker/broker.conf" org list | sed 's/^/   /'
printf 'b.example  require\n' | fed_allowlist a
printf 'a.example  require\n' | fed_allowlist b
fed_mailbox a alice@a.example; fed_mailbox b bob@b.example
fed_route a b tap; fed_route b a
step "starting fedmail-milter + Postfix for a (127.0.0.10:$(fed_port a)) and b (127.0.0.20:$(fed_port b))"
fed_start a || verdict no no "organization a did not start"
fed_start b || verdict no no "organization b did not start"
echo "   a's allowlist: $(grep -v '^#' "$(fed_dir a)/allowlist")    b's allowlist: $(grep -v '^#' "$(fed_dir b)/allowlist")"

SUBJECT="Quarterly figures (confidential)"
BODY="Hello Bob,

the figures are attached in spirit. This text travels sealed between
the two gateways: only B's gateway can open it.

-- 
Alice"
step "Alice sends one message to bob@b.example with swaks (from A's internal network, 127.0.0.11)"
swaks --server "$(fed_addr a):$(fed_port a)" --local-interface "$(fed_client a)" \
    --from alice@a.example --to bob@b.example --h-From "Alice <alice@a.example>" \
    --h-Subject "$SUBJECT" --body "$BODY" --timeout 60 >"$BASE/swaks.txt" 2>&1
grep -E '^(<-|->|<\*\*) +(MAIL|RCPT|DATA|250 2\.0\.0|4[0-9][0-9]|5[0-9][0-9])' "$BASE/swaks.txt" | sed 's/^/   /'
grep -q "250 2.0.0 Ok" "$BASE/swaks.txt" || verdict no no "gateway A did not accept the message"

delivered=""
for _ in $(seq 1 300); do
    delivered=$(find "$(pf_maildir b bob@b.example)/new" -type f 2>/dev/null | head -n 1)
    [ -n "$delivered" ] && break
    sleep 0.2
done
wire=$(ls "$(fed_tap_dir a b)"/msg-*.eml 2>/dev/null | head -n 1)

echo
echo "== the message as it crossed from gateway A to gateway B (recorded on the wire; base64 shortened)"
if [ -n "$wire" ]; then
    awk 'BEGIN { body = 0 } { sub(/\r$/, "") }
         body == 0 { print; if ($0 == "") body = 1; next }
         { n++; if (n <= 6) print; last = $0 }
         END { if (n > 6) printf "   [... %d more base64 lines ...]\n%s\n", n - 7, last }' "$wire"
else
    echo "   (nothing crossed: see the logs of A under $BASE/postfix/a/maillog)"
fi
echo
echo "== the message delivered to bob@b.example at B ($delivered)"
if [ -n "$delivered" ]; then cat "$delivered"; else echo "   (not delivered)"; echo "--- B's Postfix log"; tail -n 15 "$(pf_log b)"; fi
echo

# ------------------------------------------------------------------ verdict
sealed=yes; why=""
if [ -z "$wire" ]; then sealed=no; why="nothing was recorded between the gateways"
elif ! grep -qiE '^Content-Type: application/pkcs7-mime;.*smime-type=authEnveloped-data' "$wire"; then sealed=no; why="the message on the wire is not application/pkcs7-mime authEnveloped-data"
elif ! grep -qi '^FedMail-Token: v=1; d=b\.example' "$wire"; then sealed=no; why="no FedMail-Token for b.example on the wire"
elif grep -qF "only B's gateway can open it" "$wire" || grep -qF "$SUBJECT" "$wire"; then sealed=no; why="body text or Subject visible on the wire"
fi
intact=yes
if [ -z "$delivered" ]; then intact=no; why="${why:+$why; }not delivered at B"
else
    got_body=$(sed '1,/^$/d' "$delivered" | sed -e ':a' -e '/^\n*$/{$d;N;ba' -e '}')
    if [ "$got_body" != "$BODY" ]; then intact=no; why="${why:+$why; }the delivered body differs from the one sent"
    elif ! grep -qF "Subject: $SUBJECT" "$delivered"; then intact=no; why="${why:+$why; }the delivered Subject differs"
    elif ! grep -A3 -i '^Authentication-Results: mx\.b\.test;' "$delivered" | tr -d '\n\t' | grep >/dev/null 'fedmail=pass'; then
        intact=no; why="${why:+$why; }no 'Authentication-Results: mx.b.test; fedmail=pass' at B"
    fi
fi
if [ "$sealed$intact" != yesyes ]; then
    echo "--- fedmail-milter a (last lines)"; tail -n 8 "$(fed_milter_log a)" 2>/dev/null
    echo "--- fedmail-milter b (last lines)"; tail -n 8 "$(fed_milter_log b)" 2>/dev/null
fi
verdict "$sealed" "$intact" "$why"
