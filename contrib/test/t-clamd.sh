#!/usr/bin/env bash
# Integration suite for the clamd client (Scanner module) through
# `fedmailctl scan`, against a REAL clamd (Debian clamav-daemon) started here
# with a private config and a signature database this script writes (no
# official databases, no freshclam, no network): clean and infected verdicts
# over the unix and TCP sockets, an infected attachment inside a MIME message,
# a signature across the INSTREAM chunk boundary, 20 MB within and 30 MB above
# StreamMaxLength, clamd's scan log as the scan counter, and the failures an
# operator meets: clamd stopped (exit 75, tempfail), wrong socket, bad address.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
FEDMAIL_BIN=${FEDMAIL_BIN:-$(swift build --show-bin-path)}
CTL="$FEDMAIL_BIN/fedmailctl"
[ -x "$CTL" ] || { echo "t-clamd: $CTL not built"; exit 1; }
[ -x /usr/sbin/clamd ] || { echo "t-clamd: clamd missing (contrib/scripts/install-deps.sh installs clamav-daemon)"; exit 1; }

# shellcheck source=lib/clamd.sh
source "$ROOT/contrib/test/lib/clamd.sh"

WORK=$(mktemp -d /tmp/fedmail-t-clamd.XXXXXX)
cleanup() {
    clamd_private_stop
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "t-clamd: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# pass / fail: the counters and lines of every suite
. contrib/test/lib/scenarios.sh

# scan EXPECTED_STATUS FILE_OR_- ADDRESS: runs fedmailctl scan, leaves stdout in
# $WORK/out, stderr in $WORK/err; returns 0 when the exit status matches.
scan() {
    local want=$1 file=$2 addr=$3 status
    if [ "$file" = - ]; then
        "$CTL" scan --clamd "$addr" >"$WORK/out" 2>"$WORK/err"
    else
        "$CTL" scan --clamd "$addr" "$file" >"$WORK/out" 2>"$WORK/err"
    fi
    status=$?
    [ "$status" -eq "$want" ] || { echo "       exit $status, wanted $want; out: $(cat "$WORK/out") err: $(cat "$WORK/err")"; return 1; }
}

echo "t-clamd: starting a private clamd (StreamMaxLength 25M)"
clamd_private_start "$WORK/clamd" 25M || { echo "t-clamd: clamd did not start"; exit 1; }
SIG=$CLAMD_SIGNATURE
MARKER=$(clamd_test_marker)

# --- inputs -------------------------------------------------------------------
cat >"$WORK/clean.eml" <<'MAIL'
From: Alice <alice@org-a.example>
To: Bob <bob@partner.example>
Subject: quarterly figures
Message-ID: <clean-1@org-a.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Nothing to see here.
MAIL
attachment_b64=$( { echo "report data"; echo "$MARKER"; echo "more data"; } | base64 -w 76)
cat >"$WORK/infected.eml" <<MAIL
From: Alice <alice@org-a.example>
To: Bob <bob@partner.example>
Subject: the report
Message-ID: <infected-1@org-a.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

See the attachment.
--b1
Content-Type: application/octet-stream; name="report.bin"
Content-Disposition: attachment; filename="report.bin"
Content-Transfer-Encoding: base64

$attachment_b64
--b1--
MAIL
# The marker is only in the base64 attachment: clamd must decode MIME to find it.
if grep -q "$MARKER" "$WORK/infected.eml"; then fail "test input: marker visible undecoded"; fi
# Marker straddling the first 64 KiB INSTREAM chunk boundary.
{ head -c $((65536 - 10)) /dev/zero | tr '\0' 'a'; printf '%s' "$MARKER"; head -c 1000 /dev/zero | tr '\0' 'b'; } >"$WORK/boundary.bin"
head -c $((20 * 1024 * 1024)) /dev/zero | tr '\0' 'x' >"$WORK/20m.bin"
{ cat "$WORK/20m.bin"; printf '%s\n' "$MARKER"; } >"$WORK/20m-tail.bin"
head -c $((30 * 1024 * 1024)) /dev/zero | tr '\0' 'y' >"$WORK/30m.bin"

# --- verdicts -----------------------------------------------------------------
echo "== verdicts"
before=$(clamd_scan_count)
if scan 0 "$WORK/clean.eml" "$CLAMD_UNIX" && [ "$(cat "$WORK/out")" = clean ]; then pass "clean message over the unix socket: 'clean', exit 0"; else fail "clean message (unix)"; fi
if scan 0 "$WORK/clean.eml" "$CLAMD_INET" && [ "$(cat "$WORK/out")" = clean ]; then pass "clean message over TCP: 'clean', exit 0"; else fail "clean message (tcp)"; fi
if scan 1 "$WORK/infected.eml" "$CLAMD_UNIX" && [ "$(cat "$WORK/out")" = "infected: $SIG" ]; then
    pass "infected base64 attachment in a MIME message: 'infected: $SIG', exit 1"
else fail "infected attachment"; fi
if scan 1 - "$CLAMD_INET" <"$WORK/infected.eml" && [ "$(cat "$WORK/out")" = "infected: $SIG" ]; then
    pass "same message on standard input over TCP: infected"
else fail "infected attachment from stdin"; fi
if scan 1 "$WORK/boundary.bin" "$CLAMD_UNIX" && grep -qx "infected: $SIG" "$WORK/out"; then
    pass "signature across the 64 KiB chunk boundary is found (chunks reassembled in order)"
else fail "signature across chunk boundary"; fi
after=$(clamd_scan_count)
if [ $((after - before)) -eq 5 ]; then pass "clamd's log counts exactly the 5 scans made ($before -> $after)"; else fail "clamd log scan count $before -> $after, wanted +5"; fi
if grep -q "instream(local): $SIG FOUND" "$CLAMD_LOG" && grep -qE "instream\(127\.0\.0\.1@[0-9]+\): OK" "$CLAMD_LOG"; then
    pass "clamd logged the verdicts per socket (local and 127.0.0.1)"
else fail "clamd log lines"; fi

echo "== version and ping"
if "$CTL" scan --clamd "$CLAMD_UNIX" --version >"$WORK/out" 2>"$WORK/err" && grep -qE '^ClamAV [0-9]+\.[0-9]+' "$WORK/out"; then
    pass "--version: $(cat "$WORK/out") (same as clamd --version: $(/usr/sbin/clamd --version | head -1))"
    [ "$(cat "$WORK/out")" = "$(/usr/sbin/clamd --version | head -1 | cut -d/ -f1)" ] && pass "--version matches the installed clamd" || fail "--version differs from clamd --version"
else fail "--version: $(cat "$WORK/out" "$WORK/err")"; fi
if "$CTL" scan --clamd "$CLAMD_INET" --ping >"$WORK/out" 2>&1 && [ "$(cat "$WORK/out")" = PONG ]; then pass "--ping over TCP: PONG"; else fail "--ping"; fi

# --- size limits --------------------------------------------------------------
echo "== stream size"
if scan 0 "$WORK/20m.bin" "$CLAMD_UNIX" && [ "$(cat "$WORK/out")" = clean ]; then pass "20 MB within StreamMaxLength 25M: clean"; else fail "20 MB clean"; fi
if scan 1 - "$CLAMD_INET" <"$WORK/20m-tail.bin" && [ "$(cat "$WORK/out")" = "infected: $SIG" ]; then
    pass "20 MB piped with the signature in its last bytes: infected (the whole stream reached clamd)"
else fail "20 MB with signature at the end"; fi
/usr/bin/time -f '%M' -o "$WORK/rss" "$CTL" scan --clamd "$CLAMD_UNIX" "$WORK/20m.bin" >/dev/null 2>&1
rss_kb=$(tail -n 1 "$WORK/rss")
if [ "${rss_kb:-999999}" -lt 40960 ]; then pass "fedmailctl scan of 20 MB peaked at ${rss_kb} KB RSS (streams, never loads the file)"; else fail "20 MB scan peak RSS ${rss_kb} KB"; fi
if scan 2 "$WORK/30m.bin" "$CLAMD_UNIX" && grep -q "size-limit-exceeded" "$WORK/err" && grep -q StreamMaxLength "$WORK/err"; then
    pass "30 MB above StreamMaxLength: size-limit-exceeded, exit 2 (not a tempfail: retrying cannot help)"
else fail "30 MB over the limit"; fi
if scan 2 - "$CLAMD_INET" <"$WORK/30m.bin" && grep -q "size-limit-exceeded" "$WORK/err"; then
    pass "30 MB piped over TCP: size-limit-exceeded"
else fail "30 MB over the limit (tcp, stdin)"; fi
if grep -q "INSTREAM: Size limit reached" "$CLAMD_LOG"; then pass "clamd logged the size limit"; else fail "clamd did not log the size limit"; fi
if scan 0 "$WORK/clean.eml" "$CLAMD_UNIX"; then pass "clamd still answers after refusing oversized streams"; else fail "clamd after oversized streams"; fi

# --- wrong addresses ------------------------------------------------------------
echo "== wrong addresses"
if scan 75 "$WORK/clean.eml" "unix:$WORK/no-such.sock" && grep -q "No such file" "$WORK/err"; then
    pass "missing socket file: exit 75 with '$(cat "$WORK/err")'"
else fail "missing socket"; fi
: >"$WORK/not-a-socket"
if scan 75 "$WORK/clean.eml" "unix:$WORK/not-a-socket" && grep -q "connect-failed" "$WORK/err"; then
    pass "path that is not a socket: exit 75, connect-failed"
else fail "not a socket"; fi
if scan 2 "$WORK/clean.eml" "tcp:3310" && grep -q "unknown socket type" "$WORK/err"; then
    pass "malformed address: exit 2, '$(cat "$WORK/err")'"
else fail "malformed address"; fi
if scan 2 "$WORK/no-such.eml" "$CLAMD_UNIX" && grep -q "unreadable-input" "$WORK/err"; then
    pass "missing input file: exit 2, unreadable-input"
else fail "missing input file"; fi

# --- clamd stopped ------------------------------------------------------------
echo "== clamd stopped"
clamd_private_stop
if scan 75 "$WORK/infected.eml" "$CLAMD_UNIX" && grep -q "connect-failed" "$WORK/err" && [ ! -s "$WORK/out" ]; then
    pass "clamd stopped, unix socket: exit 75 (EX_TEMPFAIL), no verdict printed"
else fail "clamd stopped (unix)"; fi
if scan 75 "$WORK/clean.eml" "$CLAMD_INET" && grep -q "refused" "$WORK/err"; then
    pass "clamd stopped, TCP: exit 75, connection refused"
else fail "clamd stopped (tcp)"; fi
if "$CTL" scan --clamd "$CLAMD_UNIX" --version >/dev/null 2>&1; then fail "--version with clamd stopped succeeded"; else
    [ $? -eq 75 ] && pass "--version with clamd stopped: exit 75" || fail "--version with clamd stopped: wrong status"
fi

echo "t-clamd: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
