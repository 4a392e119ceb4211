# Shell helpers over delivered message files, shared by the end-to-end suites.
# Source this file; needs python3 and FED_LIB (contrib/test/lib).
#
#   send_file SERVER SOURCE MAILFROM RCPTS FILE
#                          FILE's bytes in one SMTP transaction (corpus.py --send)
#   strip_trace FILE       FILE without its trace fields (Received, Return-Path,
#                          Delivered-To, X-Original-To) and Authentication-Results,
#                          on standard output; the body untouched
#   header_value FILE NAME the first field NAME, unfolded ("" when absent)

send_file() { python3 "$FED_LIB/corpus.py" --send "$@"; }

strip_trace() {
    python3 - "$1" <<'P'
import sys
lines = open(sys.argv[1], "rb").read().splitlines(keepends=True)
drop = {b"received", b"return-path", b"delivered-to", b"x-original-to", b"authentication-results"}
out, skipping = [], False
for n, line in enumerate(lines):
    if line in (b"\n", b"\r\n"):            # end of the header section: the body as is
        out += lines[n:]
        break
    if line[:1] in (b" ", b"\t"):
        if not skipping: out.append(line)
        continue
    skipping = line.split(b":", 1)[0].strip().lower() in drop
    if not skipping: out.append(line)
sys.stdout.buffer.write(b"".join(out))
P
}

header_value() {
    python3 - "$1" "$2" <<'P'
import sys, email.parser, email.policy
msg = email.parser.BytesHeaderParser(policy=email.policy.compat32).parse(open(sys.argv[1], "rb"))
v = msg.get(sys.argv[2])
print("" if v is None else " ".join(str(v).split()))
P
}
