#!/usr/bin/env bash
# FedMail in a real mail stack: OpenDKIM and OpenDMARC in the same Postfix
# milter chain as fedmail-milter, in both directions, with DKIM keys, SPF and
# DMARC records served by a real authoritative DNS server (issue 17, item 1).
#
# One broker; organizations A (127.0.0.170, a.example) and B (127.0.0.180,
# b.example), each a real Postfix with its fedmail-milter, its own OpenDKIM
# verifier and OpenDMARC before FedMail, and its own OpenDKIM signer after it:
#
#   smtpd_milters = dkim-verify, dmarc, fedmail, dkim-sign
#
# Mail from outside meets the verifier and OpenDMARC as it arrived (sealed),
# then FedMail opens it; mail from the internal hosts is skipped by both
# (PeerList, IgnoreHosts), sealed by FedMail, and the signer signs the sealed
# message that goes on the wire. N (127.0.0.185, n.example) is a plain
# Postfix outside the federation with an OpenDKIM verifier and OpenDMARC;
# AI (127.0.0.171, A's client address) is A's internal submission Postfix
# with its own OpenDKIM signer (selector "sub"), so its signature is made
# before A seals. A reaches B through an SMTP wiretap (lib/smtp-tap.py) that
# records the wire copy and, for scenario "broken", is the test double that
# alters a signed header in transit.
#
# DNS: NSD on 127.0.0.175:53 is authoritative for a.example and b.example
# (DKIM keys, SPF, DMARC p=reject). Nothing else is used:
#   - OpenDKIM (libunbound): `Nameservers 127.0.0.175` plus an unbound
#     configuration (ResolverConfiguration) with `do-not-query-localhost: no`;
#     without it libunbound refuses to send queries to any 127/8 server.
#   - OpenDMARC (DMARC records through libresolv, SPF through libspf2) has no
#     resolver option and reads /etc/resolv.conf: it runs in a private mount
#     namespace (unshare --mount) where the test's resolv.conf
#     ("nameserver 127.0.0.175") is bind-mounted over /etc/resolv.conf. The
#     network namespace stays the host's (an `ip netns` would need veth
#     plumbing to reach the loopback addresses), and the host's resolver
#     configuration is never touched.
#
# Scenarios:
#   sealed   A -> B sealed: the wire copy carries A's outer DKIM signature,
#            which verifies over the sealed bytes; the opened message at B
#            has dkim=pass and dmarc=pass for a.example and fedmail=pass
#   broken   a signed outer header altered in transit: B says dkim=fail and
#            still opens it (fedmail=pass, the real Subject restored)
#   plain    A -> N (not federated, opportunistic): plaintext, signed at A,
#            dkim=pass and dmarc=pass at N
#   inner    signed at AI before A sealed it: the inner signature is not on
#            the wire, travels inside the seal and verifies after opening
#            (a second OpenDKIM, `opendkim -t`, on the delivered message)
#   reverse  B -> A: the same chain the other way
#   forged   Authentication-Results forged by a sender under B's ids: OpenDKIM
#            (RemoveARFrom) and FedMail remove them, none reaches the mailbox
#   order    the wrong order at A (signer before FedMail): the signature is
#            sealed inside, the wire copy has none, B says dkim=none
#
# KEEP=1 keeps the work directory; ONLY="sealed inner" runs only those.
#   FEDMAIL_BIN=$(swift build --show-bin-path) flock /tmp/fedmail-e2e.lock bash contrib/test/t-mailstack.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SUITE=t-mailstack
[ "$(id -u)" = 0 ] || { echo "$SUITE: needs root (private Postfix instances, port 53, mount namespace)"; exit 1; }
for tool in swaks python3 openssl postconf nsd dig opendkim opendkim-genkey opendmarc unshare; do
    command -v "$tool" >/dev/null || { echo "$SUITE: $tool missing (contrib/scripts/install-deps.sh)"; exit 1; }
done
# shellcheck source=lib/federation.sh
. contrib/test/lib/federation.sh
. contrib/test/lib/messages.sh
. contrib/test/lib/checks.sh
. contrib/test/lib/scenarios.sh

DNS_ADDR=127.0.0.175
MS_PIDS=()
fed_suite_cleanup() {
    local pid
    for pid in "${MS_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${MS_PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
fed_suite mailstack || exit 1
MS=$BASE/stack
mkdir -p "$MS"; chmod 755 "$MS"
show_logs() {
    local f
    for f in "$FM_DIR"/*.log "$MS"/*/log "$MS"/nsd/nsd.log; do [ -s "$f" ] && { echo "--- $f"; tail -n 12 "$f"; }; done
    for o in a b n ai; do echo "--- postfix $o"; tail -n 8 "$(pf_log "$o")" 2>/dev/null; done
}
DIE_HOOK=show_logs

# ------------------------------------------------------------------ helpers
# ms_wait_socket WHAT PID SOCKET LOG: bounded wait for a daemon's unix socket
ms_wait_socket() {
    for _ in $(seq 1 150); do
        [ -S "$3" ] && return 0
        kill -0 "$2" 2>/dev/null || { echo "$1 exited:"; cat "$4"; return 1; }
        sleep 0.1
    done
    echo "$1 did not create $3"; cat "$4"; return 1
}
# dkim_start NAME MODE AUTHSERV KEY HOST... : a private OpenDKIM in the
# foreground, socket $MS/NAME/sock. MODE s: signs mail from the HOSTs
# (InternalHosts) whose From is in the key's domain, with KEY
# (DOMAIN/SELECTOR); MODE v: verifies mail from everybody but the HOSTs
# (PeerList), always adds Authentication-Results under AUTHSERV and removes
# the ones that arrive claiming AUTHSERV (forged).
dkim_start() {
    local name=$1 mode=$2 authserv=$3 key=$4; shift 4
    local dir=$MS/$name
    mkdir -p "$dir"; printf '%s\n' "$@" >"$dir/hosts"
    {
        echo "Syslog no"
        echo "Socket local:$dir/sock"
        echo "PidFile $dir/pid"
        echo "UMask 000"
        echo "Mode $mode"
        echo "Nameservers $DNS_ADDR"
        echo "ResolverConfiguration $MS/unbound.conf"
        echo "DNSTimeout 5"
        echo "AuthservID $authserv"
        if [ "$mode" = s ]; then
            echo "Domain ${key%/*}"
            echo "Selector ${key#*/}"
            echo "KeyFile $MS/keys/${key%/*}-${key#*/}.private"
            echo "InternalHosts file:$dir/hosts"
            echo "Canonicalization relaxed/simple"
            # The key is 0600 and root's, but OpenDKIM also refuses a key
            # under any directory others may write to, and /tmp is one.
            echo "RequireSafeKeys false"
        else
            echo "PeerList file:$dir/hosts"
            echo "AlwaysAddARHeader yes"
            echo "RemoveARFrom $authserv"
            echo "RemoveARAll yes"
        fi
    } >"$dir/opendkim.conf"
    opendkim -f -x "$dir/opendkim.conf" >>"$dir/log" 2>&1 &
    MS_PIDS+=("$!")
    ms_wait_socket "opendkim $name" "$!" "$dir/sock" "$dir/log"
}
# dmarc_start NAME AUTHSERV HOST... : a private OpenDMARC (socket
# $MS/NAME/sock) reading the DKIM results under AUTHSERV, checking SPF
# itself, ignoring the HOSTs; resolving through NSD (see the top).
dmarc_start() {
    local name=$1 authserv=$2; shift 2
    local dir=$MS/$name
    mkdir -p "$dir"; printf '%s\n' "$@" >"$dir/hosts"
    cat >"$dir/opendmarc.conf" <<CONF
Syslog false
Socket local:$dir/sock
PidFile $dir/pid
UMask 000
AuthservID $authserv
TrustedAuthservIDs $authserv
IgnoreHosts $dir/hosts
SPFSelfValidate true
SPFIgnoreResults true
RequiredHeaders false
FailureReports false
RejectFailures false
CONF
    unshare --mount --propagation private \
        sh -c 'mount --bind "$1" /etc/resolv.conf && exec opendmarc -f -c "$2"' sh "$MS/resolv.conf" "$dir/opendmarc.conf" \
        >>"$dir/log" 2>&1 &
    MS_PIDS+=("$!")
    ms_wait_socket "opendmarc $name" "$!" "$dir/sock" "$dir/log"
}
sock() { echo "unix:$MS/$1/sock"; }
# dkim_check FILE: a second OpenDKIM (test mode, -t) verifies FILE through
# NSD; prints its verdict ("verification (s=.., d=.., N-bit key) succeeded" or "... failed: why")
dkim_check() { opendkim -x "$MS/check.conf" -t "$1" 2>&1 | sed -n 's/^opendkim: .*: \(verification .*\)$/\1/p' | head -n 1; }
# ar FILE: every Authentication-Results field of FILE, unfolded, one a line
ar() {
    python3 - "$1" <<'P'
import sys, email.parser, email.policy
msg = email.parser.BytesHeaderParser(policy=email.policy.compat32).parse(open(sys.argv[1], "rb"))
for v in msg.get_all("Authentication-Results") or []:
    print(" ".join(str(v).split()))
P
}
# has_ar WHAT FILE REGEX: one Authentication-Results field of FILE matches REGEX
has_ar() {
    local all; all=$(ar "$2")
    if grep -qE -- "$3" <<<"$all"; then pass "$1"; else fail "$1 (Authentication-Results: $(tr '\n' '|' <<<"$all"))"; fi
}
submit() { # submit SERVER SOURCE FROM TO SUBJECT BODY
    swaks --server "$1" --local-interface "$2" --from "$3" --to "$4" --h-From "<$3>" \
        --h-Subject "$5" --body "$6" --timeout 60 2>&1
}
sig_selectors() { # the s= of every DKIM-Signature field of FILE, space separated
    python3 - "$1" <<'P'
import re, sys, email.parser, email.policy
msg = email.parser.BytesHeaderParser(policy=email.policy.compat32).parse(open(sys.argv[1], "rb"))
print(" ".join(sorted(m.group(1) for v in msg.get_all("DKIM-Signature") or [] for m in [re.search(r"\bs=([^;\s]+)", str(v))] if m)))
P
}
wire_of() { grep -l -- "$2" "$(fed_tap_dir a b)"/msg-*.env 2>/dev/null | tail -n 1 | sed 's/\.env$/.eml/'; }
MARK=$(date +%s)-$$

# ------------------------------------------------------------------ DNS
scenario dns "NSD on $DNS_ADDR:53: DKIM keys, SPF, DMARC for a.example and b.example"
mkdir -p "$MS/keys" "$MS/nsd"; chmod 700 "$MS/keys"
for k in a.example/gw a.example/sub b.example/gw; do
    opendkim-genkey -b 2048 -d "${k%/*}" -s "${k#*/}" -D "$MS/keys" || die "opendkim-genkey $k"
    mv "$MS/keys/${k#*/}.private" "$MS/keys/${k%/*}-${k#*/}.private"
    mv "$MS/keys/${k#*/}.txt" "$MS/keys/${k%/*}-${k#*/}.txt"
done
zone() { # zone DOMAIN IP SELECTOR...
    local domain=$1 ip=$2 s; shift 2
    {
        echo "\$ORIGIN $domain."
        echo "\$TTL 60"
        echo "@ IN SOA ns.$domain. hostmaster.$domain. (1 3600 600 86400 60)"
        echo "@ IN NS ns.$domain."
        echo "ns IN A $DNS_ADDR"
        echo "@ IN TXT \"v=spf1 ip4:$ip -all\""
        echo "_dmarc IN TXT \"v=DMARC1; p=reject; adkim=s; aspf=s\""
        for s in "$@"; do cat "$MS/keys/$domain-$s.txt"; done
    } >"$MS/nsd/$domain.zone"
    printf 'zone:\n    name: %s\n    zonefile: %s.zone\n' "$domain" "$domain" >>"$MS/nsd/nsd.conf"
}
cat >"$MS/nsd/nsd.conf" <<CONF
server:
    ip-address: $DNS_ADDR@53
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "$MS/nsd"
    database: ""
    zonelistfile: "$MS/nsd/zone.list"
    xfrdfile: "$MS/nsd/xfrd.state"
    xfrdir: "$MS/nsd"
    pidfile: "$MS/nsd/nsd.pid"
    logfile: "$MS/nsd/nsd.log"
    server-count: 1
    verbosity: 1
remote-control:
    control-enable: no
CONF
zone a.example 127.0.0.170 gw sub
zone b.example 127.0.0.180 gw
nsd -d -c "$MS/nsd/nsd.conf" >>"$MS/nsd/nsd.log" 2>&1 &
MS_PIDS+=("$!")
for _ in $(seq 1 100); do
    [ -n "$(dig +short +norecurse @"$DNS_ADDR" b.example SOA 2>/dev/null)" ] && break
    sleep 0.1
done
check "NSD serves the DKIM key gw._domainkey.a.example" \
    grep -q "v=DKIM1" <<<"$(dig +short +norecurse +time=2 @"$DNS_ADDR" gw._domainkey.a.example TXT)"
check "NSD serves _dmarc.a.example (p=reject) and the SPF record of a.example" \
    grep -q "p=reject" <<<"$(dig +short +norecurse +time=2 @"$DNS_ADDR" _dmarc.a.example TXT; dig +short +norecurse +time=2 @"$DNS_ADDR" a.example TXT)"
printf 'server:\n    do-not-query-localhost: no\n' >"$MS/unbound.conf"
printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$DNS_ADDR" >"$MS/resolv.conf"
check "the private mount namespace resolves through NSD (resolv.conf bind-mounted, the host's untouched)" \
    grep -q "v=DKIM1" <<<"$(unshare --mount --propagation private sh -c 'mount --bind "$1" /etc/resolv.conf && exec dig +short +time=2 gw._domainkey.b.example TXT' sh "$MS/resolv.conf")"
printf 'Syslog no\nMode v\nNameservers %s\nResolverConfiguration %s\nAuthservID check.test\nAlwaysAddARHeader yes\n' \
    "$DNS_ADDR" "$MS/unbound.conf" >"$MS/check.conf"

# ------------------------------------------------------------------ the stack
scenario setup "broker, A and B with FedMail + OpenDKIM + OpenDMARC, N plain, AI submission"
fed_broker_start || die "broker starts"
fed_org a 127.0.0.170 rsa3072 a.example || die "org a"
fed_org b 127.0.0.180 p256 b.example || die "org b"
fed_plain n 127.0.0.185 n.example
fed_plain ai 127.0.0.171 ai.invalid
pf_set ai "relayhost = [$(fed_addr a)]:$(fed_port a)"
fed_allowlist a <<'L'
b.example     require
n.example     opportunistic
L
fed_allowlist b <<'L'
a.example     require
L
fed_route a b tap || die "wiretap a->b"
fed_route a n; fed_route b a
# Internal hosts: the gateway itself and its client address (fed_client,
# where A's users and AI submit from).
for o in a b; do
    ip=$(fed_addr $o)
    dkim_start "dkim-verify-$o" v "auth.$o.test" - "$ip" "$(fed_client $o)" || die "opendkim verifier of $o"
    dmarc_start "dmarc-$o" "auth.$o.test" "$ip" "$(fed_client $o)" || die "opendmarc of $o"
    dkim_start "dkim-sign-$o" s "auth.$o.test" "$o.example/gw" "$ip" "$(fed_client $o)" || die "opendkim signer of $o"
    # The recommended order (README "In a mail stack").
    pf_set $o "smtpd_milters = $(sock "dkim-verify-$o"), $(sock "dmarc-$o"), unix:$(fed_dir $o)/milter.sock, $(sock "dkim-sign-$o")"
done
dkim_start dkim-verify-n v auth.n.test - 192.0.2.1 || die "opendkim verifier of n"
dmarc_start dmarc-n auth.n.test 192.0.2.1 || die "opendmarc of n"
pf_set n "smtpd_milters = $(sock dkim-verify-n), $(sock dmarc-n)" "milter_default_action = tempfail"
dkim_start dkim-sign-ai s auth.ai.test a.example/sub 127.0.0.172 || die "opendkim signer of ai"
pf_set ai "smtpd_milters = $(sock dkim-sign-ai)" "milter_default_action = tempfail"
for o in a b n ai; do fed_start "$o" || die "starting $o"; done
pass "running: NSD, broker, A and B (Postfix, fedmail-milter, OpenDKIM verifier + signer, OpenDMARC), N, AI"
echo "       A: smtpd_milters = $(postconf -c "$(pf_dir a)/etc" -h smtpd_milters | sed "s|$BASE/||g")"

# accepted_and_delivered SENDER OUT ORG BODY [WHERE]: SENDER's 250 in OUT,
# then BODY delivered at ORG ("delivered at WHERE", default ORG in capitals);
# sets got to the delivered file.
accepted_and_delivered() {
    grep -q "250 2.0.0 Ok" <<<"$2" || fail "$1 accepted the submission: $(grep -E '^<\*\*' <<<"$2")"
    if wait_delivered "$3" "$4" 1 60; then pass "delivered at ${5:-${3^^}}"; else die "not delivered at ${3^^}"; fi
    got=$(delivered "$3" "$4" | head -n 1)
}

# ------------------------------------------------------------------ sealed
if want sealed; then
scenario sealed "A -> B sealed: signed on the wire, dkim=pass dmarc=pass fedmail=pass at B"
S1="Quarterly numbers $MARK"; B1="sealed body $MARK"
out=$(submit "$(fed_addr a):$(fed_port a)" "$(fed_client a)" alice@a.example bob@b.example "$S1" "$B1")
accepted_and_delivered A "$out" b "$B1"
w=$(wire_of a bob@b.example)
if [ -n "$w" ]; then
    check "the wire copy A->B is sealed" sealed_wire "$w"
    same_sel=$(sig_selectors "$w")
    if [ "$same_sel" = gw ]; then pass "the wire copy carries one DKIM-Signature, A's gateway signer (s=gw)"; else fail "DKIM-Signature selectors on the wire: '$same_sel'"; fi
    r=$(dkim_check "$w")
    if grep -q "s=gw, d=a\.example.*succeeded" <<<"$r"; then pass "a second OpenDKIM verifies the wire copy: the signer after FedMail signed the sealed bytes ($r)"
    else fail "the wire copy's signature does not verify over the sealed bytes: $r"; fi
else
    fail "no wire copy A->B for bob@b.example"
fi
has_ar "B: dkim=pass for a.example (OpenDKIM verified the message as it arrived)" "$got" "^auth\.b\.test; dkim=pass .*header\.d=a\.example"
has_ar "B: dmarc=pass for a.example (OpenDMARC)" "$got" "^auth\.b\.test; dmarc=pass .*header\.from=a\.example"
has_ar "B: fedmail=pass for a.example (FedMail opened it)" "$got" "^mx\.b\.test; fedmail=pass .*header\.from=a\.example"
first=$(ar "$got" | head -n 1)
[[ $first == "mx.b.test; fedmail=pass"* ]] && pass "FedMail's verdict is the first Authentication-Results" || fail "first Authentication-Results: $first"
[ "$(header_value "$got" Subject)" = "$S1" ] && pass "the opened message has its real Subject" || fail "Subject at B: '$(header_value "$got" Subject)'"
[ -z "$(sig_selectors "$got")" ] && pass "the outer DKIM-Signature (over the sealed bytes) is not left on the opened message" || fail "DKIM-Signature on the opened message: $(sig_selectors "$got")"
echo "       at B:"; ar "$got" | sed 's/^/         Authentication-Results: /' | cut -c1-160
fi

# ------------------------------------------------------------------ broken
if want broken; then
scenario broken "the outer DKIM signature broken in transit: dkim=fail, still opened"
S2="Board minutes $MARK"; B2="broken-signature body $MARK"
echo Subject >"$(fed_tap_dir a b)/tamper-header"
out=$(submit "$(fed_addr a):$(fed_port a)" "$(fed_client a)" alice@a.example carol@b.example "$S2" "$B2")
accepted_and_delivered A "$out" b "$B2"
w=$(wire_of a carol@b.example)
[ -n "$w" ] && [ -e "${w%.eml}.tampered" ] && pass "the test double (wiretap) altered the outer Subject, a signed field" || fail "the wiretap did not alter the message"
has_ar "B: dkim=fail for a.example, and says why" "$got" "^auth\.b\.test; dkim=fail .*reason=.*header\.d=a\.example"
has_ar "B: fedmail=pass: the seal, not the DKIM signature, protects the content" "$got" "^mx\.b\.test; fedmail=pass .*header\.from=a\.example"
has_ar "B: spf=pass for a.example (OpenDMARC's own SPF check)" "$got" "^auth\.b\.test; spf=pass smtp\.mailfrom=a\.example"
has_ar "B: dmarc=pass through aligned SPF (the DKIM result alone would fail it)" "$got" "^auth\.b\.test; dmarc=pass .*header\.from=a\.example"
[ "$(header_value "$got" Subject)" = "$S2" ] && pass "the real Subject is restored from the seal (the altered outer one is gone)" || fail "Subject at B: '$(header_value "$got" Subject)'"
echo "       at B:"; ar "$got" | sed 's/^/         Authentication-Results: /' | cut -c1-160
fi

# ------------------------------------------------------------------ plain
if want plain; then
scenario plain "A -> N (not federated, opportunistic): plaintext, dkim=pass dmarc=pass at N"
B3="plaintext body $MARK"
out=$(submit "$(fed_addr a):$(fed_port a)" "$(fed_client a)" alice@a.example nina@n.example "Plain $MARK" "$B3")
accepted_and_delivered A "$out" n "$B3"
grep -aq "^Content-Type: application/pkcs7-mime" "$got" && fail "the message to N was sealed" || pass "the message to N left in plaintext"
grep -aqi "^X-FedMail-Plaintext:" "$got" && pass "FedMail's X-FedMail-Plaintext note is on it (added before the signer, not disturbing it)" || fail "no X-FedMail-Plaintext note"
has_ar "N: dkim=pass for a.example" "$got" "^auth\.n\.test; dkim=pass .*header\.d=a\.example"
has_ar "N: dmarc=pass for a.example" "$got" "^auth\.n\.test; dmarc=pass .*header\.from=a\.example"
fi

# ------------------------------------------------------------------ inner
if want inner; then
scenario inner "a DKIM signature made before sealing travels inside and verifies after opening"
S4="Signed before sealing $MARK"; B4="inner-signature body $MARK"
out=$(submit "$(fed_addr ai):$(fed_port ai)" 127.0.0.172 alice@a.example dave@b.example "$S4" "$B4")
accepted_and_delivered AI "$out" b "$B4" "B (AI -> A -> B)"
w=$(wire_of a dave@b.example)
if [ -n "$w" ]; then
    sel=$(sig_selectors "$w")
    [ "$sel" = gw ] && pass "on the wire only A's outer signature (s=gw); the inner one (s=sub) is inside the seal" || fail "DKIM-Signature selectors on the wire: '$sel'"
    grep -aqF "s=sub" "$w" && fail "the inner signature is visible on the wire" || pass "the inner signature is not readable on the wire"
else
    fail "no wire copy A->B for dave@b.example"
fi
has_ar "B: dkim=pass for the outer signature (s=gw)" "$got" "^auth\.b\.test; dkim=pass .*header\.d=a\.example.*header\.s=gw"
has_ar "B: fedmail=pass" "$got" "^mx\.b\.test; fedmail=pass .*header\.from=a\.example"
sel=$(sig_selectors "$got")
[ "$sel" = sub ] && pass "the opened message carries the inner DKIM-Signature (s=sub) made at AI" || fail "DKIM-Signature selectors on the opened message: '$sel'"
r=$(dkim_check "$got")
if grep -q "s=sub, d=a\.example.*succeeded" <<<"$r"; then pass "a second OpenDKIM verifies the delivered, opened message: $r"
else fail "the inner signature does not verify after opening: $r"; fi
cp "$got" "$MS/inner-altered.eml"; sed -i "s/inner-signature body/inner-signature b0dy/" "$MS/inner-altered.eml"
r=$(dkim_check "$MS/inner-altered.eml")
grep -q "failed" <<<"$r" && pass "control: the same copy with one body byte changed fails ($r)" || fail "control: an altered copy does not fail: $r"
fi

# ------------------------------------------------------------------ reverse
if want reverse; then
scenario reverse "B -> A: the same chain the other way"
B5="reverse body $MARK"
out=$(submit "$(fed_addr b):$(fed_port b)" "$(fed_client b)" bob@b.example alice@a.example "Reply $MARK" "$B5")
accepted_and_delivered B "$out" a "$B5"
has_ar "A: dkim=pass for b.example" "$got" "^auth\.a\.test; dkim=pass .*header\.d=b\.example"
has_ar "A: dmarc=pass for b.example" "$got" "^auth\.a\.test; dmarc=pass .*header\.from=b\.example"
has_ar "A: fedmail=pass for b.example" "$got" "^mx\.a\.test; fedmail=pass .*header\.from=b\.example"
fi

# ------------------------------------------------------------------ forged
if want forged; then
scenario forged "verdicts forged by a sender: OpenDKIM removes those under its id, FedMail those under its own"
B7="forged verdicts body $MARK"
out=$(swaks --server "$(fed_addr b):$(fed_port b)" --local-interface "$(fed_addr n)" --from mallory@n.example --to bob@b.example \
    --h-From "<mallory@n.example>" --h-Subject "Forged $MARK" --body "$B7" --timeout 60 \
    --add-header "Authentication-Results: auth.b.test; dkim=pass (forged) header.d=a.example" \
    --add-header "Authentication-Results: auth.b.test; dmarc=pass (forged) header.from=a.example" \
    --add-header "Authentication-Results: mx.b.test; fedmail=pass (forged) header.from=a.example" 2>&1)
accepted_and_delivered B "$out" b "$B7"
if ar "$got" | grep -q "(forged)"; then fail "a forged verdict reached the mailbox: $(ar "$got" | grep "(forged)" | tr '\n' '|')"
else pass "no forged verdict reached the mailbox"; fi
has_ar "B: OpenDKIM's own verdict, dkim=none (no signature)" "$got" "^auth\.b\.test; dkim=none"
fi

# ------------------------------------------------------------------ order
if want order; then
scenario order "the wrong order at A (signer before FedMail): no outer signature, dkim=none at B"
pf_set a "smtpd_milters = $(sock dkim-verify-a), $(sock dmarc-a), $(sock dkim-sign-a), unix:$(fed_dir a)/milter.sock"
postfix -c "$(pf_dir a)/etc" reload >/dev/null 2>&1
B6="wrong-order body $MARK"
out=$(submit "$(fed_addr a):$(fed_port a)" "$(fed_client a)" alice@a.example erin@b.example "Wrong order $MARK" "$B6")
accepted_and_delivered A "$out" b "$B6"
w=$(wire_of a erin@b.example)
[ -n "$w" ] && [ -z "$(sig_selectors "$w")" ] && pass "the wire copy has no DKIM-Signature: FedMail sealed the signer's signature inside" \
    || fail "DKIM-Signature selectors on the wire: '$( [ -n "$w" ] && sig_selectors "$w")'"
has_ar "B: dkim=none on arrival" "$got" "^auth\.b\.test; dkim=none"
[ "$(sig_selectors "$got")" = gw ] && pass "after opening the signature (s=gw) is back, as made before sealing" || fail "DKIM-Signature selectors at B: '$(sig_selectors "$got")'"
pf_set a "smtpd_milters = $(sock dkim-verify-a), $(sock dmarc-a), unix:$(fed_dir a)/milter.sock, $(sock dkim-sign-a)"
postfix -c "$(pf_dir a)/etc" reload >/dev/null 2>&1
fi

summary "$SUITE"
