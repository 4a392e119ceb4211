#!/usr/bin/env bash
# Address expansion after the milter: Postfix expands virtual_alias_maps (in
# cleanup) and aliases and .forward (in local) AFTER smtpd_milters saw the
# recipients, so a message for an address of our own that expands to a
# `require` partner must still leave sealed, or not at all.
#
# One broker; organizations A (127.0.0.10, RSA 3072, a.example) and B
# (127.0.0.20, P-256, b.example), each a real Postfix with its own
# fedmail-milter; A reaches B through an SMTP wiretap. A's Postfix has a
# virtual alias "team@a.example -> bob@b.example" and, delivered by local(8)
# (transport_maps list@a.example -> local:), an alias "list: bob@b.example".
# A's milter counts only its users' client address as internal, plus the
# daemon name FEDMAIL-SEAL (MTA) of the seal loop's smtpd.
#
#   x1  without the seal loop (the milter on smtpd and non_smtpd only, as
#       fed_gateway_postfix sets up every org): what happens to mail for
#       team@ and list@ — it crosses A->B in plaintext (recorded as the gap
#       the seal loop closes) and B refuses it (plaintext from a require
#       partner)
#   x2  with the seal loop of contrib/postfix/*.fedmail (fed_seal_loop):
#       team@ and list@ arrive at bob@b.example sealed on the wire, opened
#       with fedmail=pass, the body and Subject back; mail A's milter sealed
#       already goes through the loop untouched (one seal); a message for
#       team@ and a local address: the local copy plaintext, B's sealed
#   x3  broker down (A's token cache emptied): the expanded message waits in
#       A's queue (the loop answers 451 4.7.0), nothing crosses A->B; after
#       the broker is back and postqueue -f: delivered sealed
#   x4  a message from outside (From n.example) for team@: the loop refuses
#       to seal a foreign author (550 foreign-from, A bounces it), nothing
#       crosses A->B
#   x5  A's bounce of B's message (dead@a.example expands to an address A
#       cannot deliver to) for bob@b.example: with myorigin = a.example
#       ("From: MAILER-DAEMON@a.example") it leaves through the loop sealed
#       and is opened at B
#   x6  the loop's content_filter exactly as shipped, "smtp:" with no next
#       hop (the recipient domain; here default_filter_nexthop = B's wiretap)
#   sweep  after the switch nothing crossed A->B unsealed, no secret text
#       in any A->B session
#
# KEEP=1 keeps the work directory. ONLY="x1 x2" runs only those scenarios.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=lib/federation.sh
. contrib/test/lib/federation.sh
. contrib/test/lib/messages.sh
. contrib/test/lib/checks.sh
fed_suite expansion || exit 1

. contrib/test/lib/scenarios.sh
START=$(date +%s)
diagnose() {
    for o in a b; do [ -e "$(fed_milter_log "$o")" ] || continue; echo "--- milter $o (last lines)"; tail -n 12 "$(fed_milter_log "$o")"; done
    echo "--- postfix a (last lines)"; tail -n 25 "$(pf_log a)" 2>/dev/null
}
die() { echo "t-expansion: $*"; diagnose; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (private Postfix instances)"
for tool in python3 curl openssl postconf postqueue; do command -v "$tool" >/dev/null || die "$tool missing"; done

# ------------------------------------------------------------------ helpers
MARK=$(date +%s)-$$
OUTSIDE=127.0.0.99
# from_a TAG RCPTS: a message with Subject "Expansion TAG" and a secret body,
# submitted by A's user alice to A's gateway; prints the reply
from_a() {
    msg "$BASE/$1.eml" "From: Alice <alice@a.example>" "To: <${2%%,*}>" "Subject: Expansion $1 $MARK" "Date: $(date -R)" \
        "Message-ID: <$1-$MARK@a.example>" -- "Secret body $1 $MARK"
    reply "$(send_file "$(fed_addr a):$(fed_port a)" "$(fed_client a)" alice@a.example "$2" "$BASE/$1.eml" 2>&1)"
}
# pf_result ORG MARK RCPT PATTERN [SECONDS]: the first delivery line of ORG's
# Postfix for RCPT after line MARK whose line also matches PATTERN (waits)
pf_result() {
    local line=""
    for _ in $(seq 1 $((${5:-60} * 5))); do
        line=$(tail -n +"$(($2 + 1))" "$(pf_log "$1")" | grep -F "to=<$3>" | grep -E -- "$4" | head -n 1)
        [ -n "$line" ] && break
        sleep 0.2
    done
    echo "$line"
}
said() { sed -n 's/.*said: //; s/ (in reply to.*//p' <<<"$1"; }
# wire_msgs PATTERN: the A->B recorded messages containing PATTERN
wire_msgs() { grep -lF -- "$1" "$(fed_tap_dir a b)"/msg-*.eml 2>/dev/null; }
ar_pass() { grep -a -A3 -i "^Authentication-Results: mx\.b\.test;" "$1" | tr -d '\n\t' | grep >/dev/null -E "fedmail=pass.*header\.from=[^ ;]*a\.example"; }
# sealed_at_b TAG ORIG-RCPT: the message TAG, sent to ORIG-RCPT at A, reached
# bob@b.example sealed on the wire and was opened there with fedmail=pass
sealed_at_b() {
    local tag=$1 orig=$2 f w
    if ! wait_delivered b "Secret body $tag $MARK" 1 60; then
        fail "$tag: not delivered at B: $(grep -F "orig_to=<$orig>" "$(pf_log a)" | tail -n 1 | cut -c1-300)"; return; fi
    f=$(delivered b "Secret body $tag $MARK")
    [ "$(grep -c . <<<"$f")" = 1 ] || { fail "$tag: $(grep -c . <<<"$f") copies at B"; return; }
    ar_pass "$f" && pass "$tag: delivered to bob@b.example, opened with fedmail=pass" \
        || fail "$tag: delivered without fedmail=pass: $(grep -a -i -A2 '^Authentication-Results' "$f" | head -n 3)"
    [ "$(header_value "$f" Subject)" = "Expansion $tag $MARK" ] && pass "$tag: the real Subject is back" || fail "$tag: Subject at B: '$(header_value "$f" Subject)'"
    sleep 0.3
    w=$(wire_msgs "<$tag-$MARK@a.example>")
    if [ "$(grep -c . <<<"$w")" = 1 ] && sealed_wire "$w" && ! grep -qF "Secret body $tag" "$w"; then
        pass "$tag: on the wire A->B: sealed ($(grep -c '^recipient:' <<<"$("$FED_CTL" inspect "$w" 2>/dev/null)") recipientInfo), body not visible, $(grep -i '^RCPT' "${w%.eml}.env" | tr -d '\r' | paste -sd' ')"
    else fail "$tag: on the wire A->B: '${w:-nothing}' $( [ -n "$w" ] && head -c 300 "$(head -n 1 <<<"$w")")"; fi
}

# ------------------------------------------------------------------ federation
echo "== setting up: broker, organizations a and b"
fed_broker_start || die "broker did not start"
fed_org a 127.0.0.10 rsa3072 a.example || die "org a"
fed_org b 127.0.0.20 p256 b.example || die "org b"
echo "b.example     require" | fed_allowlist a
echo "a.example     require" | fed_allowlist b
# A's users submit from the client address; the seal loop is an MTA daemon.
fed_milter_conf a "InternalHosts $(fed_client a)" "MTA FEDMAIL-SEAL"
fed_route a b tap; fed_route b a
fed_mailbox a alice@a.example; fed_mailbox a local@a.example; fed_mailbox b bob@b.example

# A's address expansion: a virtual alias (cleanup) and a local alias (local(8)).
APF=$(pf_dir a)
printf 'team@a.example\tbob@b.example\nmixed@a.example\tbob@b.example, local@a.example\n' >"$APF/etc/virtual"
printf 'list: bob@b.example\n' >"$APF/etc/aliases"
printf '/^list@a\\.example$/\tlocal:\n' >>"$APF/etc/transport.regexp"
echo "local     unix  -       n       n       -       -       local" >>"$APF/etc/master.cf"
# local(8) delivers what no alias matches to the system user's mailbox (Debian
# has a user "list"): keep any such delivery inside the work directory.
mkdir -p "$APF/spool"; chmod 1777 "$APF/spool"
pf_set a "virtual_alias_maps = texthash:$APF/etc/virtual" "alias_maps = hash:$APF/etc/aliases" \
    "alias_database = hash:$APF/etc/aliases" "mail_spool_directory = $APF/spool" "forward_path ="
postalias -c "$APF/etc" "hash:$APF/etc/aliases" || die "postalias"
for o in a b; do
    "$FEDMAIL_BIN/fedmail-milter" -n -c "$(fed_dir $o)/milter.conf" >"$BASE/check-$o.txt" 2>&1 \
        || die "fedmail-milter -n refuses the config of $o: $(cat "$BASE/check-$o.txt")"
done
for o in a b; do fed_start "$o" || die "starting $o"; done
pass "running: a (virtual team@ -> bob@b.example, alias list: bob@b.example) and b, a.example and b.example require each other"

# ------------------------------------------------------------------ x1
if want x1; then
scenario x1 "without the seal loop: expanded mail crosses A->B in plaintext"
pm=$(pfmark a)
for tag in team list; do
    r=$(from_a "x1-$tag" "$tag@a.example")
    [ "$r" = accepted ] || fail "x1-$tag: A refused the submission: $r"
done
for tag in team list; do
    line=$(pf_result a "$pm" bob@b.example "orig_to=<$tag@a.example>.*status=(sent|bounced|deferred)" 60)
    w=$(wire_msgs "<x1-$tag-$MARK@a.example>")
    if [ -n "$w" ] && ! sealed_wire "$w" && grep -qF "Secret body x1-$tag" "$w"; then
        pass "x1-$tag (the gap): $tag@a.example expanded to bob@b.example after the milter crossed A->B in PLAINTEXT (body on the wire)"
    elif [ -n "$w" ] && sealed_wire "$w"; then
        pass "x1-$tag: $tag@a.example arrived at B sealed even without the seal loop (this Postfix runs the milter after expansion)"
    else fail "x1-$tag: nothing recorded A->B; A's log: ${line:-nothing}"; fi
    [ -n "$line" ] && pass "x1-$tag: A's delivery to bob@b.example: $(grep -oE 'status=[a-z]+' <<<"$line") $(said "$line" | sed 's/^/(B: /; s/$/)/')" \
        || fail "x1-$tag: no delivery attempt to bob@b.example in A's log"
    [ "$(count_delivered b "Secret body x1-$tag")" = 0 ] && pass "x1-$tag: B did not deliver it (plaintext from a require partner)" \
        || fail "x1-$tag: B delivered the plaintext"
done
line=$(grep -E 'to=<list@a.example>, relay=local.*forwarded as' "$(pf_log a)" | head -n 1)
[ -n "$line" ] && pass "x1: local(8) expanded the alias: $(grep -oE 'to=<list@a.example>, relay=local.*' <<<"$line")" \
    || fail "x1: local(8) did not expand list@a.example: $(grep -m1 'to=<list@a.example>' "$(pf_log a)")"
fi

# ------------------------------------------------------------------ switch
CONNS_BEFORE=$(ls "$(fed_tap_dir a b)"/conn-*.log 2>/dev/null)
MSGS_BEFORE=$(ls "$(fed_tap_dir a b)"/msg-*.eml 2>/dev/null)
fed_seal_loop a b || die "setting up the seal loop"
LOOP=$FED_SEAL_LOOP_a_b
sleep 1
grep -q "fedmail-seal:\[$(fed_addr a)\]:$LOOP" "$APF/etc/transport.regexp" && pass "seal loop at A: b.example -> fedmail-seal:[$(fed_addr a)]:$LOOP (smtpd with A's milter, $(grep -A12 "^$(fed_addr a):$LOOP " "$APF/etc/master.cf" | grep -oE 'content_filter=[^ ]+'))" \
    || fail "the seal loop is not in A's transport table: $(cat "$APF/etc/transport.regexp")"

# ------------------------------------------------------------------ x2
if want x2; then
scenario x2 "with the seal loop: expanded mail arrives sealed"
pm=$(pfmark a)
for tag in team list; do
    r=$(from_a "x2-$tag" "$tag@a.example")
    [ "$r" = accepted ] && pass "x2-$tag: A accepted the message for $tag@a.example" || fail "x2-$tag: A refused it: $r"
done
for tag in team list; do sealed_at_b "x2-$tag" "$tag@a.example"; done
line=$(pf_result a "$pm" bob@b.example "orig_to=<team@a.example>.*relay=[^,]*:$LOOP.*status=sent" 5)
[ -n "$line" ] && pass "x2: A routed the expanded recipient through the loop: $(grep -oE 'to=<[^>]*>, orig_to=<[^>]*>, relay=[^,]*' <<<"$line")" \
    || fail "x2: no delivery of team@'s expansion through the loop port $LOOP in A's log"
grep -qE "daemon=FEDMAIL-SEAL" "$(fed_milter_log a)" && pass "x2: A's milter saw the loop's daemon name FEDMAIL-SEAL" \
    || fail "x2: A's milter never saw daemon=FEDMAIL-SEAL"

# Sealed by A's milter at submission: the loop passes it on untouched (one seal).
r=$(from_a x2-direct bob@b.example)
[ "$r" = accepted ] || fail "x2-direct: A refused it: $r"
sealed_at_b x2-direct bob@b.example
w=$(wire_msgs "<x2-direct-$MARK@a.example>" | head -n 1)
if [ -n "$w" ]; then
    n=$("$FED_CTL" inspect "$w" 2>/dev/null | grep -c '^token:')
    [ "$n" = 1 ] && pass "x2-direct: sealed once (one FedMail-Token), not sealed again by the loop" || fail "x2-direct: $n tokens on the wire copy"
fi
grep -q "decision=untouched (already sealed)" "$(fed_milter_log a)" && pass "x2-direct: A's milter in the loop: '$(grep -m1 'decision=untouched (already sealed)' "$(fed_milter_log a)" | sed 's/^.*direction=/direction=/')'" \
    || fail "x2-direct: no 'already sealed' decision in A's milter log"

# One expansion to a partner and one to a local mailbox.
r=$(from_a x2-mixed mixed@a.example)
[ "$r" = accepted ] || fail "x2-mixed: A refused it: $r"
sealed_at_b x2-mixed mixed@a.example
if wait_delivered a "Secret body x2-mixed $MARK" 1 30; then
    f=$(delivered a "Secret body x2-mixed $MARK")
    ! grep -qi '^FedMail-Token' "$f" && [ "$(header_value "$f" Subject)" = "Expansion x2-mixed $MARK" ] \
        && pass "x2-mixed: local@a.example got the plaintext original" || fail "x2-mixed: local@a.example's copy is not the original"
else fail "x2-mixed: nothing delivered to local@a.example"; fi
fi

# ------------------------------------------------------------------ x3
if want x3; then
scenario x3 "broker down: the expanded message waits in A's queue, never plaintext"
fm_stop a; rm -rf "$(fed_dir a)/cache"/*; fed_milter_restart a || die "restarting a's milter"
fed_broker_stop
pm=$(pfmark a)
r=$(from_a x3-team team@a.example)
[ "$r" = accepted ] && pass "x3: A accepted the message for team@a.example (a local address, nothing to look up)" || fail "x3: A refused it: $r"
line=$(pf_result a "$pm" bob@b.example "orig_to=<team@a.example>.*status=deferred" 60)
grep -q "said: 451 4.7.0" <<<"$line" && pass "x3: the loop answered '$(said "$line")'" || fail "x3: no 451 4.7.0 from the loop: ${line:-$(tail -n 3 "$(pf_log a)")}"
sleep 1
[ -z "$(wire_msgs "<x3-team-$MARK@a.example>")" ] && pass "x3: nothing crossed A->B" || fail "x3: the message crossed A->B while the broker was down"
pf_queue a | grep -q "bob@b.example" && pass "x3: it waits in A's queue" || fail "x3: not in A's queue: $(pf_queue a | tail -n 3)"
fed_broker_start || fail "x3: broker restart"
postqueue -c "$APF/etc" -f
sealed_at_b x3-team team@a.example
fi

# ------------------------------------------------------------------ x4
if want x4; then
scenario x4 "a message from outside for team@: the loop refuses to seal a foreign author"
msg "$BASE/x4.eml" "From: Someone <someone@n.example>" "To: <team@a.example>" "Subject: Expansion x4 $MARK" "Date: $(date -R)" \
    "Message-ID: <x4-$MARK@n.example>" -- "Secret body x4 $MARK"
pm=$(pfmark a)
r=$(reply "$(send_file "$(fed_addr a):$(fed_port a)" "$OUTSIDE" someone@n.example team@a.example "$BASE/x4.eml" 2>&1)")
[ "$r" = accepted ] && pass "x4: A accepted it from outside (for team@a.example)" || fail "x4: A refused it: $r"
line=$(pf_result a "$pm" bob@b.example "orig_to=<team@a.example>.*status=(bounced|deferred|sent)" 60)
grep -q "said: 550 5.7.1 FedMail: foreign-from" <<<"$line" && pass "x4: the loop answered '$(said "$line" | cut -c1-160)' ($(grep -oE 'status=[a-z]+' <<<"$line"))" \
    || fail "x4: expected 550 5.7.1 FedMail: foreign-from from the loop, A's log: ${line:-nothing}"
sleep 1
[ -z "$(wire_msgs "Secret body x4 $MARK")" ] && [ -z "$(wire_msgs "<x4-$MARK@n.example>")" ] && pass "x4: nothing crossed A->B" || fail "x4: it crossed A->B"
[ "$(count_delivered b "Secret body x4 $MARK")" = 0 ] && pass "x4: nothing delivered at B" || fail "x4: delivered at B"
fi

# ------------------------------------------------------------------ x5
if want x5; then
scenario x5 "a bounce for a partner's user leaves through the loop, sealed"
# Postfix's notices say "From: MAILER-DAEMON@\$myorigin": with myorigin in
# our Domains the milter may sign them. dead@a.example expands to an address
# A cannot deliver to, so A bounces B's message back to bob@b.example.
pf_set a "myorigin = a.example"
printf 'dead@a.example\tnobody@unroutable.invalid\n' >>"$APF/etc/virtual"
postfix -c "$APF/etc" reload >/dev/null 2>&1; sleep 1
pm=$(pfmark a); X5_BEFORE=$(ls "$(fed_tap_dir a b)"/msg-*.env 2>/dev/null)
msg "$BASE/x5.eml" "From: Bob <bob@b.example>" "To: <dead@a.example>" "Subject: Expansion x5 $MARK" "Date: $(date -R)" \
    "Message-ID: <x5-$MARK@b.example>" -- "Secret body x5 $MARK"
r=$(reply "$(send_file "$(fed_addr b):$(fed_port b)" "$(fed_client b)" bob@b.example dead@a.example "$BASE/x5.eml" 2>&1)")
[ "$r" = accepted ] && pass "x5: B accepted bob's message for dead@a.example (sealed by B, opened by A)" || fail "x5: B refused it: $r"
line=$(pf_result a "$pm" nobody@unroutable.invalid "status=bounced" 60)
[ -n "$line" ] && pass "x5: A could not deliver the expansion: $(grep -oE 'status=bounced \([^)]*\)' <<<"$line")" || fail "x5: no bounce at A: $(tail -n 3 "$(pf_log a)")"
line=$(pf_result a "$pm" bob@b.example "relay=[^,]*:$LOOP.*status=" 60)
grep -q "status=sent" <<<"$line" && pass "x5: A's notice for bob@b.example went through the loop: $(grep -oE 'to=<[^>]*>, relay=[^,]*' <<<"$line")" \
    || fail "x5: the notice did not pass the loop: ${line:-nothing} $(tail -n 1 "$(fed_milter_log a)" | cut -c1-200)"
if wait_delivered b "<x5-$MARK@b.example>" 1 60; then
    f=$(delivered b "<x5-$MARK@b.example>" | head -n 1)
    grep -a -A3 -i "^Authentication-Results: mx\.b\.test;" "$f" | tr -d '\n\t' | grep >/dev/null -E "fedmail=pass.*header\.from=[^ ;]*a\.example" \
        && pass "x5: the notice reached bob@b.example, opened with fedmail=pass ($(header_value "$f" Subject))" || fail "x5: the notice at B without fedmail=pass"
else fail "x5: no notice delivered at B"; fi
sleep 0.3
w=$(comm -13 <(sort <<<"$X5_BEFORE") <(ls "$(fed_tap_dir a b)"/msg-*.env 2>/dev/null | sort) | xargs -r grep -l '^MAIL FROM:<>' | sed 's/\.env$/.eml/')
if [ "$(grep -c . <<<"$w")" = 1 ] && sealed_wire "$w" && ! grep -qF "Secret body x5" "$w"; then
    pass "x5: the notice crossed A->B sealed (MAIL FROM:<>; the returned message inside, not on the wire)"
else fail "x5: notices on the wire A->B: '${w:-nothing}'"; fi
pf_set a "myorigin = \$myhostname"; postfix -c "$APF/etc" reload >/dev/null 2>&1
fi

# ------------------------------------------------------------------ x6
if want x6; then
scenario x6 "the loop as shipped: content_filter=smtp: with no next hop"
# The shipped listener hands its mail to each recipient domain (MX), or to
# default_filter_nexthop: here B's wiretap, the loop's line as shipped.
hop=$(grep -oE 'content_filter=smtp:\[[^]]*\]:[0-9]+' "$APF/etc/master.cf" | head -n 1 | sed 's/^content_filter=smtp://')
sed -i "s|content_filter=smtp:\[[^]]*\]:[0-9]*|content_filter=smtp:|" "$APF/etc/master.cf"
pf_set a "default_filter_nexthop = $hop"; postfix -c "$APF/etc" reload >/dev/null 2>&1; sleep 1
grep -q '^  -o content_filter=smtp:$' "$APF/etc/master.cf" && pass "x6: A's loop listener with 'content_filter=smtp:' (default_filter_nexthop = $hop)" || fail "x6: could not set content_filter=smtp:"
r=$(from_a x6-team team@a.example)
[ "$r" = accepted ] || fail "x6: A refused it: $r"
sealed_at_b x6-team team@a.example
fi

# ------------------------------------------------------------------ sweep
scenario sweep "after the switch: nothing crossed A->B unsealed"
new_msgs=$(comm -13 <(sort <<<"$MSGS_BEFORE") <(ls "$(fed_tap_dir a b)"/msg-*.eml 2>/dev/null | sort))
new_conns=$(comm -13 <(sort <<<"$CONNS_BEFORE") <(ls "$(fed_tap_dir a b)"/conn-*.log 2>/dev/null | sort))
bad=0; n=0
for w in $new_msgs; do n=$((n + 1)); sealed_wire "$w" || { bad=$((bad + 1)); echo "       unsealed: $w"; }; done
[ $bad = 0 ] && pass "all $n messages recorded A->B since the seal loop are sealed" || fail "$bad of $n messages A->B since the seal loop are not sealed"
leaks=$(for c in $new_conns; do grep -lF "Secret body" "$c"; grep -lF "Expansion x" "$c"; done 2>/dev/null | sort -u | grep -c .)
[ "$leaks" = 0 ] && pass "no body or Subject text in any of the $(grep -c . <<<"$new_conns") A->B sessions since the seal loop" || fail "$leaks A->B sessions carry a body or Subject in plaintext"

n=$(find "$APF/spool" -type f | grep -c .)
[ "$n" = 0 ] && pass "local(8) delivered nothing to a local mailbox (every list@ message went through the alias)" || fail "$n message(s) in local(8)'s mailbox spool: $(ls "$APF/spool")"

echo "t-expansion: $passes passed, $failures failed ($(( $(date +%s) - START ))s)"
if ((failures)); then
    printf '  failed: %s\n' "${failed[@]}"
    diagnose
    exit 1
fi
