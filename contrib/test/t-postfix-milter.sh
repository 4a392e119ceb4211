#!/usr/bin/env bash
# End to end through a real Postfix: a private Postfix instance on a loopback
# port with smtpd_milters pointing at fedmail-milter (milter_default_action =
# tempfail) delivers to a Maildir. Messages sent with swaks must arrive with
# no change (no federated recipient) and their body unchanged (a small one and a
# spooled 3 MB one); the milter log must carry Postfix's queue id. With the
# milter stopped, Postfix must answer 4xx so the client keeps the mail; after
# a restart mail flows again.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BASE=$(mktemp -d /tmp/fedmail-t-postfix.XXXXXX)
chmod 755 "$BASE"
FM_DIR=$BASE/milter; PF_BASE=$BASE/postfix
mkdir -p "$FM_DIR" "$PF_BASE"; chmod 755 "$FM_DIR" "$PF_BASE"
# shellcheck source=lib/fedmail-milter.sh
. contrib/test/lib/fedmail-milter.sh
# shellcheck source=lib/postfix.sh
. contrib/test/lib/postfix.sh

cleanup() {
    pf_cleanup
    fm_cleanup
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $BASE"; else rm -rf "$BASE"; fi
}
trap cleanup EXIT
# shellcheck source=lib/scenarios.sh
. contrib/test/lib/scenarios.sh
SUITE=t-postfix-milter
# Every step here builds on the one before: a failure stops the suite.
dump_logs() {
    echo "--- milter log"; tail -n 20 "$FM_DIR"/*.log 2>/dev/null || true
    echo "--- postfix log"; tail -n 30 "$(pf_log a)" 2>/dev/null || true
}
DIE_HOOK=dump_logs

[ "$(id -u)" = 0 ] || die "needs root to run a private Postfix"
command -v swaks >/dev/null || die "swaks is not installed"
SOCK=$FM_DIR/milter.sock
PORT=$(pf_free_port)

cat >"$FM_DIR/fedmail-milter.conf" <<C
Socket   local:$SOCK
UserID   postfix:postfix
UMask    007
PidFile  $FM_DIR/fedmail-milter.pid
Syslog   no
LogLevel debug
TemporaryDirectory $FM_DIR
Domains  a.test
C
fm_start milter "$FM_DIR/fedmail-milter.conf" || die "fedmail-milter did not start"

pf_init a "$PORT" a.test
pf_set a "smtpd_milters = unix:$SOCK" "milter_default_action = tempfail" "message_size_limit = 20000000"
pf_start a || die "postfix did not start"
pass "fedmail-milter (as postfix) and a private Postfix on 127.0.0.1:$PORT with smtpd_milters"

# ------------------------------------------------------------ small message
BODY=$BASE/body.txt
cat >"$BODY" <<'B'
Hello Bob,

This body must arrive byte for byte.
.a line starting with a dot (SMTP dot-stuffing)
  indented line with trailing spaces   
Ünïcödé text in UTF-8, and a tab:	end

-- 
Alice
B
# The body as delivered (after the header's blank line), without the trailing
# empty lines swaks and the Maildir writer add at the end.
delivered_body() { sed '1,/^$/d' "$1" | sed -e ':a' -e '/^\n*$/{$d;N;ba' -e '}'; }
strip_trailing() { sed -e ':a' -e '/^\n*$/{$d;N;ba' -e '}' "$1"; }
send() { # send TO BODYFILE SUBJECT [HEADER] -> prints swaks transcript
    swaks --server "127.0.0.1:$PORT" --from alice@sender.test --to "$1" \
        --h-Subject "$3" --h-Message-Id "<$3@sender.test>" ${4:+--add-header "$4"} --body "$2" --timeout 60 2>&1
}
out=$(send bob@a.test "$BODY" small-1) || die "swaks: $out"
qid=$(sed -nE 's/.*250 2\.0\.0 Ok: queued as ([0-9A-F]+).*/\1/p' <<<"$out")
[ -n "$qid" ] || die "no queue id in: $out"
pf_wait_mail a inbox 1 30 || die "small message not delivered"
msg=$(grep -l "small-1@sender.test" "$(pf_maildir a)"/new/*)
! grep -qE "^(X-FedMail-|FedMail-Token|Authentication-Results: )" "$msg" || die "a message with no federated recipient was changed: $(head -n 20 "$msg")"
grep -q "^Subject: small-1$" "$msg" || die "delivered message lost its Subject: $(head -n 20 "$msg")"
delivered_body "$msg" >"$BASE/delivered-body.txt"
strip_trailing "$BODY" >"$BASE/sent-body.txt"
cmp -s "$BASE/sent-body.txt" "$BASE/delivered-body.txt" || { diff "$BASE/sent-body.txt" "$BASE/delivered-body.txt" || true; die "body changed"; }
grep -qE "info: $qid: from=<alice@sender.test> rcpts=1 .*decision=untouched" "$FM_DIR/milter.log" \
    || die "milter log line with Postfix queue id $qid missing"
grep -qE "debug: NOQUEUE: connect from .*\[127\.0\.0\.1\] mta=mx\.a\.test daemon=mx\.a\.test client_addr=127\.0\.0\.1" "$FM_DIR/milter.log" \
    || die "connect macros j, {daemon_name}, {client_addr} (requested with smfi_setsymlist) not received from Postfix"
pass "no federated recipient: delivered untouched, body unchanged, milter logged queue id $qid and Postfix's connect macros"

# ------------------------------------------------------------ 3 MB message (spooled by the milter)
python3 - "$BASE/big.txt" <<'P'
import sys, random
random.seed(7)
with open(sys.argv[1], "w") as f:
    n = 0
    while n < 3 * 1024 * 1024:
        line = "".join(random.choice("abcdefghijklmnopqrstuvwxyz0123456789 .") for _ in range(76))
        f.write(line + "\n"); n += 77
P
# An S/MIME Content-Type for one of our Domains: it may be sealed for us, so
# the milter reads the body (a message it can tell is untouched from its
# header fields alone is accepted at end of headers, body unread).
out=$(send bob@a.test "$BASE/big.txt" big-1 "Content-Type: application/pkcs7-mime; smime-type=authenveloped-data") || die "swaks big: $out"
pf_wait_mail a inbox 2 60 || die "3 MB message not delivered"
msg=$(grep -l "big-1@sender.test" "$(pf_maildir a)"/new/*)
grep -q "^Subject: big-1$" "$msg" || die "3 MB message lost its Subject"
grep -qE "info: $qid: from=<alice@sender.test> rcpts=1 .*body=not-read: .*decision=untouched .*at end of headers" "$FM_DIR/milter.log" \
    || die "the small message (nothing FedMail would do) was not accepted at end of headers"
delivered_body "$msg" | cmp -s - <(strip_trailing "$BASE/big.txt") || die "3 MB body changed"
grep -q "spooled=yes: .*decision=untouched" "$FM_DIR/milter.log" || die "3 MB body was not spooled by the milter"
pass "3 MB message delivered untouched, body unchanged (spooled by the milter)"

# ------------------------------------------------------------ milter down: 4xx, nothing lost
fm_stop milter || die "fedmail-milter did not stop cleanly"
before=$(find "$(pf_maildir a)/new" -type f | wc -l)
set +e; out=$(send bob@a.test "$BODY" while-down); rc=$?; set -e
[ $rc -ne 0 ] || die "swaks succeeded although the milter is down"
grep -qE "<\*\* +4[0-9][0-9] " <<<"$out" || die "Postfix did not answer 4xx with the milter down: $out"
code=$(grep -m1 -E "<\*\* +4[0-9][0-9]" <<<"$out" | sed -E 's/^<\*\* +//' | tr -d '\r')
sleep 1
after=$(find "$(pf_maildir a)/new" -type f | wc -l)
[ "$before" = "$after" ] || die "a message was delivered while the milter was down"
pf_queue a | grep >/dev/null "Mail queue is empty" || die "Postfix queued the message instead of refusing it"
pass "milter stopped: Postfix answered '$code'; the client keeps the mail, nothing delivered or queued"

# ------------------------------------------------------------ milter back
fm_start milter2 "$FM_DIR/fedmail-milter.conf" || die "restart"
out=$(send bob@a.test "$BODY" after-restart) || die "swaks after restart: $out"
pf_wait_mail a inbox 3 30 || die "message after restart not delivered"
grep -qE "info: [0-9A-F]+: from=<alice@sender.test> .*decision=untouched" "$FM_DIR/milter2.log" || die "no milter log line after restart"
pass "milter restarted: mail flows through it again"
summary t-postfix-milter
