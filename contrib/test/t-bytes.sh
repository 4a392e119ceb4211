#!/usr/bin/env bash
# Mail is bytes: 8-bit header and body bytes end to end through two real
# Postfix gateways, A sealing and B opening, never re-encoded.
#
# One broker; organizations A (127.0.0.10, RSA 3072, a.example) and B
# (127.0.0.20, P-256, b.example), each with its own Postfix +
# fedmail-milter, partners with `require`; A reaches B through an SMTP
# wiretap. N (127.0.0.40, n.example) is a plain Postfix outside the
# federation. Every message below is sent, as exact bytes (send_file), on
# four paths:
#   fed   A's client -> A (sealed) -> wire -> B (opened) -> bob@b.example
#   ref   A's client -> A -> ref@a.example (A's own domain: not sealed)
#   ctl   A's client -> A -> N -> nick@n.example (not federated: plaintext)
#   raw   outside -> N -> raw@n.example (no FedMail anywhere: what Postfix
#         alone does with the bytes)
# and the Maildir copy of each path, without the trace fields (Received,
# Return-Path, Delivered-To, X-Original-To) and Authentication-Results
# (strip_trace), is compared with the bytes sent (CRLF as LF, the Maildir
# line end). Where Postfix alone changes the bytes (raw differs from what
# was sent), FedMail must deliver what Postfix alone delivers: Postfix 3.7
# turns a bare CR (header or body) into a space before its milters see it,
# and ends the header section before a line whose field name has an 8-bit
# byte (that line and the rest become body).
#
#   1  a Latin-1 header value (X-Note: caf\xE9)
#   2  a raw 8-bit Subject (Latin-1 and every byte 0x80-0xFF)
#   3  UTF-8 header values (Subject, a UTF-8 display name in From)
#   4  a header line of 950 characters and a long folded field
#   5  a bare CR inside a header value, and one in the body
#   6  8-bit body bytes (every byte 0x80-0xFF, Latin-1 text, no MIME)
#   7  a NUL byte in the body
#   8  all of 1-6 in one message
#   9  a header line of 1200 characters (longer than SMTP's 998): what
#      Postfix's smtp client does to it on the plaintext paths
#   10 a Latin-1 display name in From: copied as bytes to the sealed
#      outer header, still fedmail=pass at B
#   11 an 8-bit byte in a header field name (X-Caf\xE9: value)
#   wire  the A->B copies are sealed: none of the 8-bit header values nor
#      the body bytes appear on the wire
#
# KEEP=1 keeps the work directory. ONLY="1 2" runs only those scenarios.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
# shellcheck source=lib/federation.sh
. contrib/test/lib/federation.sh
. contrib/test/lib/messages.sh
. contrib/test/lib/checks.sh
fed_suite bytes || exit 1

. contrib/test/lib/scenarios.sh
die() { echo "t-bytes: $*"; for o in a b; do echo "--- milter $o"; tail -n 15 "$(fed_milter_log "$o")" 2>/dev/null; done; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (private Postfix instances)"
for tool in python3 curl openssl postconf; do command -v "$tool" >/dev/null || die "$tool missing"; done

# ------------------------------------------------------------------ helpers
MARK=$(date +%s)-$$
OUTSIDE=127.0.0.99
START=$(date +%s)
# box_file ORG BOX PATTERN: the Maildir files of mailbox BOX at ORG containing PATTERN
box_file() { find "$(pf_maildir "$1" "$2")/new" -type f -print0 2>/dev/null | xargs -0r grep -laF -- "$3" 2>/dev/null; }
# wait_box ORG BOX PATTERN [SECONDS]: until one such file exists
wait_box() {
    for _ in $(seq 1 $((${4:-60} * 5))); do
        [ -n "$(box_file "$1" "$2" "$3")" ] && return 0
        sleep 0.2
    done
    return 1
}
# lf FILE: FILE with every CRLF as LF (a bare CR stays), as a Maildir holds it
lf() { python3 -c 'import sys; sys.stdout.buffer.write(open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n"))' "$1"; }
# differ A B: where two files differ, as text for a failure line
differ() {
    python3 - "$1" "$2" <<'P'
import sys
a, b = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
n = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
line = a.count(b"\n", 0, n) + 1
print("%d vs %d bytes, first difference at byte %d (line %d): %r / %r"
      % (len(a), len(b), n, line, a[max(0, n - 20):n + 20], b[max(0, n - 20):n + 20]))
P
}

# ------------------------------------------------------------------ messages
MSGS=$BASE/msgs
python3 - "$MSGS" "$MARK" <<'P'
import os, sys
out, mark = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
high = bytes(range(0x80, 0x100))

def message(name, extra=(), subject=b"Bytes " + b"%s", body=None, frm=b"Alice <alice@a.example>"):
    mid = ("<bytes-%s-%s@a.example>" % (name, mark)).encode()
    head = [b"From: " + frm, b"To: Bob <bob@b.example>",
            b"Subject: " + (subject % name.encode() if b"%s" in subject else subject),
            b"Date: Mon, 23 Nov 2026 10:00:00 +0000", b"Message-ID: " + mid] + list(extra)
    if body is None:
        body = b"Plain body of " + name.encode() + b"\r\n"
    data = b"".join(h + b"\r\n" for h in head) + b"\r\n" + body
    open(os.path.join(out, name + ".eml"), "wb").write(data)

latin1 = b"X-Note: caf\xe9"
subject8 = b"R\xe9sum\xe9 \xab8-bit\xbb " + high
utf8 = "Subject: Grüße, naïve café — 件名".encode()
long950 = b"X-Long: " + b"".join(b"%04d-" % i for i in range(190))
assert len(long950) >= 950
folded = b"References: " + b"\r\n ".join(b"<ref-%d-%s@a.example>" % (i, b"r" * 40) for i in range(30))
bare_cr = b"X-CR: before\rafter"
body8 = (b"Content: caf\xe9 na\xefve \xab8-bit\xbb\r\n" + high[:0x40] + b"\r\n" + high[0x40:] + b"\r\n"
         + "UTF-8 too: Grüße 件名\r\n".encode())

message("latin1-header", [latin1])
message("raw-8bit-subject", subject=subject8)
message("utf8-header", [b"X-UTF8: " + "naïve café — 日本語".encode()], subject=utf8[len(b"Subject: "):],
        frm="Jürgen Müller <alice@a.example>".encode())
message("long-header", [long950, folded])
message("bare-cr-header", [bare_cr], body=b"body line with a bare\rCR\r\n")
message("8bit-body", [b"MIME-Version: 1.0", b"Content-Type: text/plain; charset=iso-8859-1",
                      b"Content-Transfer-Encoding: 8bit"], body=body8)
message("nul-body", [b"MIME-Version: 1.0", b"Content-Type: application/octet-stream",
                     b"Content-Transfer-Encoding: binary"], body=b"before NUL\x00after NUL\r\n")
message("combined", [latin1, b"X-UTF8: " + "naïve café — 日本語".encode(), long950, folded, bare_cr,
                     b"MIME-Version: 1.0", b"Content-Type: text/plain; charset=iso-8859-1",
                     b"Content-Transfer-Encoding: 8bit"], subject=subject8, body=body8)
message("latin1-from", [latin1], frm=b"Ren\xe9 Dupr\xe9 <alice@a.example>")
message("8bit-name-header", [b"X-Caf\xe9: value", b"X-After: next"])
message("long1200-header", [b"X-Long1200: " + b"".join(b"%04d-" % i for i in range(240))])
P
[ -s "$MSGS/combined.eml" ] || die "writing the messages failed"

# ------------------------------------------------------------------ federation
echo "== setting up: broker, organizations a, b (enrolled), n (outside)"
fed_broker_start || die "broker did not start"
fed_org a 127.0.0.10 rsa3072 a.example || die "org a"
fed_org b 127.0.0.20 p256 b.example || die "org b"
fed_plain n 127.0.0.40 n.example
pass "broker on $FED_BROKER_URL; a, b enrolled and approved; n plain"

fed_allowlist a <<'L'
b.example     require
L
fed_allowlist b <<'L'
a.example     require
L
fed_route a b tap; fed_route a n; fed_route b a
fed_mailbox a ref@a.example; fed_mailbox b bob@b.example
fed_mailbox n nick@n.example; fed_mailbox n raw@n.example
for o in a b; do
    "$FEDMAIL_BIN/fedmail-milter" -n -c "$(fed_dir $o)/milter.conf" >"$BASE/check-$o.txt" 2>&1 \
        || die "fedmail-milter -n refuses the config of $o: $(cat "$BASE/check-$o.txt")"
done
for o in a b n; do fed_start "$o" || die "starting $o"; done
pass "Postfix + fedmail-milter running for a (127.0.0.10), b (127.0.0.20); n (127.0.0.40) plain"

# ------------------------------------------------------------------ the paths
# send_paths NAME: NAME.eml on the four paths; records each path's SMTP
# answer in $BASE/NAME.PATH.reply
send_paths() {
    local f=$MSGS/$1.eml a; a="$(fed_addr a):$(fed_port a)"
    reply "$(send_file "$a" "$(fed_client a)" alice@a.example bob@b.example "$f" 2>&1)" >"$BASE/$1.fed.reply"
    reply "$(send_file "$a" "$(fed_client a)" alice@a.example ref@a.example "$f" 2>&1)" >"$BASE/$1.ref.reply"
    reply "$(send_file "$a" "$(fed_client a)" alice@a.example nick@n.example "$f" 2>&1)" >"$BASE/$1.ctl.reply"
    reply "$(send_file "$(fed_addr n):$(fed_port n)" "$OUTSIDE" alice@a.example raw@n.example "$f" 2>&1)" >"$BASE/$1.raw.reply"
}
# path_file NAME PATH: the delivered Maildir file of NAME on PATH (waits)
path_file() {
    local mid="bytes-$1-$MARK@" org box
    case $2 in fed) org=b box=bob@b.example ;; ref) org=a box=ref@a.example ;;
               ctl) org=n box=nick@n.example ;; raw) org=n box=raw@n.example ;; esac
    wait_box "$org" "$box" "$mid" "${3:-60}" || return 1
    box_file "$org" "$box" "$mid" | head -n 1
}
# check NAME: the scenario's assertions (see the top of the file)
check() {
    local name=$1 path r f expected=$BASE/$1.sent raw_changed=0
    lf "$MSGS/$name.eml" >"$expected"
    for path in raw ref ctl fed; do
        r=$(cat "$BASE/$name.$path.reply")
        if [ "$r" != accepted ]; then
            echo "$r" >"$BASE/$name.$path.refused"
            continue
        fi
        if ! f=$(path_file "$name" "$path"); then
            echo "not delivered" >"$BASE/$name.$path.refused"
            continue
        fi
        cp "$f" "$BASE/$name.$path.eml"
        strip_trace "$f" >"$BASE/$name.$path.got"
    done
    # Postfix alone (raw): accepted or not, and what it changes.
    if [ -e "$BASE/$name.raw.refused" ]; then
        # Refused without FedMail: it must be refused the same way with it.
        local same=1
        for path in ref ctl fed; do
            if [ ! -e "$BASE/$name.$path.refused" ]; then same=0; fail "$name: Postfix alone refuses it ($(cat "$BASE/$name.raw.refused")), the $path path delivered it"; fi
        done
        [ $same = 1 ] && pass "$name: refused by Postfix alone and on every FedMail path: $(cat "$BASE/$name.raw.refused")"
        return
    fi
    if cmp -s "$expected" "$BASE/$name.raw.got"; then
        pass "$name: Postfix alone (raw) delivers the bytes sent"
    else
        raw_changed=1
        echo "       Postfix alone changes it: $(differ "$expected" "$BASE/$name.raw.got")"
    fi
    for path in ref ctl fed; do
        if [ -e "$BASE/$name.$path.refused" ]; then fail "$name: $path: $(cat "$BASE/$name.$path.refused") (Postfix alone delivers it)"; continue; fi
        if cmp -s "$expected" "$BASE/$name.$path.got"; then
            pass "$name: $path: delivered byte-exact as sent ($(stat -c %s "$BASE/$name.$path.eml") bytes)"
        elif [ $raw_changed = 1 ] && cmp -s "$BASE/$name.raw.got" "$BASE/$name.$path.got"; then
            pass "$name: $path: delivered as Postfix alone delivers it"
        elif [ $path = ctl ] && [ "$name" = long1200-header ]; then
            # A's smtp client breaks lines longer than smtp_line_length_limit
            # (998) when it relays in plaintext: Postfix's, not FedMail's.
            pass "$name: ctl: Postfix's smtp client (A -> N, plaintext) changes it: $(differ "$expected" "$BASE/$name.ctl.got")"
        else
            fail "$name: $path: delivered copy differs from what was sent: $(differ "$expected" "$BASE/$name.$path.got")"
        fi
    done
    if [ -e "$BASE/$name.fed.got" ] && [ -e "$BASE/$name.fed.eml" ]; then
        grep -aiE "^Authentication-Results: mx\.b\.test;" -A3 "$BASE/$name.fed.eml" | tr -d '\n\t' | grep >/dev/null "fedmail=pass" \
            && pass "$name: fed: opened at B (fedmail=pass)" || fail "$name: fed: no 'mx.b.test; fedmail=pass' at B"
    fi
}

scenarios=(1:latin1-header 2:raw-8bit-subject 3:utf8-header 4:long-header 5:bare-cr-header 6:8bit-body 7:nul-body 8:combined
           9:long1200-header 10:latin1-from 11:8bit-name-header)
titles=("a Latin-1 header value (X-Note: caf\\xE9)" "a raw 8-bit Subject" "UTF-8 header values" "a 950-character header line and a long folded field"
        "a bare CR inside a header value (and one in the body)" "8-bit body bytes" "a NUL byte in the body" "all of 1-6 in one message"
        "a 1200-character header line" "a Latin-1 display name in From (copied to the sealed outer header)"
        "an 8-bit byte in a header field name")
i=0
for entry in "${scenarios[@]}"; do
    id=${entry%%:*}; name=${entry#*:}
    if want "$id"; then send_paths "$name"; fi
done
# has_bytes FILE PYTHON-BYTES-LITERAL: FILE contains those bytes
has_bytes() { python3 -c 'import sys, ast; sys.exit(0 if ast.literal_eval(sys.argv[2]) in open(sys.argv[1], "rb").read() else 1)' "$1" "$2" 2>/dev/null; }
for entry in "${scenarios[@]}"; do
    id=${entry%%:*}; name=${entry#*:}
    if want "$id"; then scenario "$id" "${titles[$i]}"; check "$name"; fi
    if want "$id" && [ "$name" = bare-cr-header ]; then
        # What Postfix does with a bare CR, said explicitly (check compared the whole files).
        for path in raw fed; do
            has_bytes "$BASE/$name.$path.got" 'b"before\rafter"' && echo "       $path: the header keeps its bare CR" \
                || echo "       $path: the header's bare CR is gone ($(grep -a '^X-CR:' "$BASE/$name.$path.got" | od -c | head -n 1 | cut -c9-))"
        done
        has_bytes "$BASE/$name.fed.got" 'b"bare\rCR"' && pass "$name: fed: the bare CR in the body arrives at B" \
            || { has_bytes "$BASE/$name.raw.got" 'b"bare\rCR"' && fail "$name: fed: the body's bare CR is lost (Postfix alone keeps it)" \
                 || pass "$name: the body's bare CR: B delivers what Postfix alone does (a space)"; }
    fi
    i=$((i + 1))
done

# ------------------------------------------------------------------ wire
scenario wire "A->B copies are sealed: no 8-bit header value or body byte on the wire"
sleep 0.5
n=0; bad=0
for w in "$(fed_tap_dir a b)"/msg-*.eml; do
    [ -e "$w" ] || continue
    grep -aqF "$MARK" "$w" || continue
    n=$((n + 1))
    sealed_wire "$w" || { bad=$((bad + 1)); fail "not sealed on the wire: $w"; continue; }
    if python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.exit(0 if any(p in d for p in (b"caf\xe9", b"before\rafter", b"Content: caf", b"X-Note", b"X-Long", bytes(range(0x80, 0x100)))) else 1)' "$w"; then
        bad=$((bad + 1)); fail "original bytes visible on the wire in $w"
    fi
done
[ "$n" -gt 0 ] && [ $bad = 0 ] && pass "$n sealed copies crossed A->B, none with original header or body bytes"
[ "$n" -gt 0 ] || fail "nothing crossed the A->B wire"
# Inside the seal: each wire copy opened with B's key (fedmailctl open) is
# the original exactly as A's milter got it from Postfix: the bytes sent
# (CRLF), below the Received field A's Postfix adds before its milters.
i=0
for entry in "${scenarios[@]}"; do
    id=${entry%%:*}; name=${entry#*:}; i=$((i + 1))
    want "$id" || continue
    w=$(grep -laF "bytes-$name-$MARK@" "$(fed_tap_dir a b)"/msg-*.eml 2>/dev/null | head -n 1)
    [ -n "$w" ] || { [ -e "$BASE/$name.raw.refused" ] || fail "$name: no sealed copy on the A->B wire"; continue; }
    if ! "$FED_CTL" open --key "$(fed_dir b)/keys/org.key" --cert "$(fed_dir b)/keys/org.crt" --ca "$FED_BROKER_CA" \
            "$w" "$BASE/$name.sealed.eml" 2>"$BASE/$name.open.err"; then
        fail "$name: fedmailctl open of the wire copy: $(head -n 1 "$BASE/$name.open.err")"; continue
    fi
    strip_trace "$BASE/$name.sealed.eml" >"$BASE/$name.sealed"
    if [ "$name" = latin1-from ]; then
        has_bytes "$w" 'b"\r\nFrom: Ren\xe9 Dupr\xe9 <alice@a.example>\r\n"' \
            && pass "$name: the sealed outer header carries the original From bytes (Latin-1)" \
            || fail "$name: the sealed outer From is not the original bytes: $(grep -a '^From:' "$w" | od -c | head -n 2 | tr -s ' ')"
    fi
    if cmp -s "$MSGS/$name.eml" "$BASE/$name.sealed"; then
        pass "$name: sealed by A: the original inside is the bytes sent"
    elif cmp -s <(python3 -c 'import sys; sys.stdout.buffer.write(open(sys.argv[1], "rb").read().replace(b"\n", b"\r\n"))' "$BASE/$name.raw.got") \
            "$BASE/$name.sealed"; then
        pass "$name: sealed by A: the original inside is what Postfix passed its milter (as Postfix alone delivers it)"
    else
        fail "$name: sealed by A: the original inside differs from the bytes sent: $(differ "$MSGS/$name.eml" "$BASE/$name.sealed")"
    fi
done

echo "t-bytes: $passes passed, $failures failed ($(( $(date +%s) - START ))s)"
if ((failures)); then
    printf '  failed: %s\n' "${failed[@]}"
    for o in a b; do echo "--- milter $o (last lines)"; tail -n 10 "$(fed_milter_log "$o")"; done
    exit 1
fi
