#!/usr/bin/env bash
# Benchmark (not a test): the CPU a stranger can make fedmail-milter spend
# before anything is authenticated. The real daemon on a unix socket, driven
# by the milter-protocol client of the test suite
# (contrib/test/milter/milterclient.py), inbound mail for one of our Domains
# from a client outside InternalHosts, Mode both, with OrgKey (RSA-3072),
# OrgCertificate and BrokerCA (openssl fixtures), so that the open path runs.
# For each hostile message it reads the daemon's utime+stime from
# /proc/PID/stat (all threads) before and after and prints the CPU per
# message and per header field, and the milter's answer. Figures, not
# pass/fail: an early reject is an answer like any other.
#
# Cases (one message each, repeated RUNS times, cheap ones up to 20 times;
# "headers" counts every field of the message, hostile or not):
#   baseline          an ordinary small inbound message
#   from-cjk-64k      From: u@<64 KB of distinct CJK scalars>      (plaintext path; 64 KB:
#                     libmilter refuses milter commands over 64 KiB)
#   from-10000        From with 10,000 mailboxes, each domain one distinct CJK scalar
#   token-d-cjk-64k   FedMail-Token: v=1; d=<64 KB of distinct CJK>; t=x.y.z  (open path)
#   token-ours-10000  10,000 FedMail-Token fields for our domain, distinct pop tokens
#                     (valid envelopes), plain body
#   token-pop-1000    1,000 FedMail-Token fields for our domain, distinct pop tokens,
#                     each with a PoP key envelope (RSA-OAEP) to our key that
#                     decrypts to nothing, and an S/MIME body with one
#                     KEKRecipientInfo per token id (so a daemon that opens
#                     PoP keys only for key ids present opens them all)
#   token-big-1m      FedMail-Token of 1 MB (libmilter refuses milter commands
#                     over 64 KiB and closes the connection: the MTA's
#                     milter_default_action applies)
# The daemon examines at most 2 × (number of Domains) FedMail-Token fields
# for our domains: Domains is b.example plus DOMAINS-1 filler domains
# (default 500, so up to 1,000 are examined and token-pop-1000 opens every
# PoP key; with DOMAINS=1 only 2 are).
#
# Usage: bash contrib/bench/hostile.sh [RUNS]   (or RUNS=N; default 3)
#   FEDMAIL_BIN=dir   the directory holding fedmail-milter (default: release
#                     if built, else debug); LABEL=text  names the build in
#                     the heading; DOMAINS=n; CASES="name ..." to run some.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
RUNS=${1:-${RUNS:-3}}
DOMAINS=${DOMAINS:-500}
if [ -z "${FEDMAIL_BIN:-}" ]; then
    if [ -x .build/release/fedmail-milter ]; then FEDMAIL_BIN=$ROOT/.build/release
    else FEDMAIL_BIN=$(swift build --show-bin-path); fi
fi
MILTER=$FEDMAIL_BIN/fedmail-milter
[ -x "$MILTER" ] || { echo "bench-hostile: $MILTER not built"; exit 1; }

W=$(mktemp -d /tmp/fedmail-bench-hostile.XXXXXX)
PID=
cleanup() {
    if [ -n "$PID" ]; then
        kill -TERM "$PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$PID" 2>/dev/null || true
    fi
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
cd "$W"
mkdir -p tmp state

# PKI: a broker CA (P-256) and our organization (RSA-3072, b.example).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
    -subj "/O=Bench Broker CA" -days 2 -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out org.key 2>/dev/null
chmod 600 org.key
openssl req -new -key org.key -subj "/O=Bench B/CN=b.example" -out org.csr 2>/dev/null
printf 'basicConstraints=CA:FALSE\nsubjectKeyIdentifier=hash\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\nsubjectAltName=DNS:b.example\n' >org.ext
openssl x509 -req -in org.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile org.ext -out org.crt 2>/dev/null
# A real PoP key envelope to our key (rsa-oaep-sha256:, see PoPKeyEnvelope).
openssl pkey -in org.key -pubout -out org.pub
head -c 32 /dev/urandom >pop.bin
openssl pkeyutl -encrypt -pubin -inkey org.pub -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
    -pkeyopt rsa_mgf1_md:sha256 -in pop.bin -out pop.enc
echo "rsa-oaep-sha256:$(base64 -w0 pop.enc)" >pop.envelope

domains=b.example
for ((i = 1; i < DOMAINS; i++)); do domains+=",filler$i.example"; done
cat >milter.conf <<C
Socket              local:$W/milter.sock
Syslog              no
LogLevel            warning
TemporaryDirectory  $W/tmp
StateDirectory      $W/state
Mode                both
Domains             $domains
AuthservID          mx.b.example
InternalHosts       10.99.0.0/16
OrgKey              $W/org.key
OrgCertificate      $W/org.crt
BrokerCA            $W/ca.crt
C
"$MILTER" -n -c milter.conf >/dev/null 2>check.log || { echo "bench-hostile: config refused: $(cat check.log)"; exit 1; }
"$MILTER" -f -c milter.conf 2>milter.log &
PID=$!
for _ in $(seq 1 300); do
    if [ -S milter.sock ] && grep -q "listening on" milter.log 2>/dev/null; then break; fi
    kill -0 "$PID" 2>/dev/null || { echo "bench-hostile: fedmail-milter exited: $(cat milter.log)"; exit 1; }
    sleep 0.1
done
[ -S milter.sock ] || { echo "bench-hostile: no socket"; exit 1; }

echo "bench-hostile: $MILTER${LABEL:+ ($LABEL)}, $RUNS run(s) per case, Domains: $DOMAINS, $(nproc) cores, CPU from /proc/$PID/stat (10 ms ticks)"
PYTHONPATH=$ROOT/contrib/test/milter python3 - "$W/milter.sock" "$PID" "$RUNS" "$W/pop.envelope" "${CASES:-}" <<'PY'
import base64, json, os, sys, time
from milterclient import Milter, MilterError

sock, pid, runs, envelope_path, only = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5].split()
envelope = open(envelope_path).read().strip()
TICK = os.sysconf("SC_CLK_TCK")

def cpu_ms():
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / TICK   # utime, stime

def cjk(count, start=0):
    # distinct scalars from U+4E00 (20,992 CJK ideographs), then Hangul syllables
    out = []
    for i in range(start, start + count):
        out.append(chr(0x4E00 + i) if i < 20992 else chr(0xAC00 + (i - 20992) % 11172))
    return "".join(out)

def der(tag, content):
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content

def oid(text):
    parts = [int(p) for p in text.split(".")]
    out = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.insert(0, 0x80 | (p & 0x7F))
            p >>= 7
        out += bytes(chunk)
    return der(0x06, out)

def kek_cms(ids):
    """An S/MIME AuthEnvelopedData (AES-256-GCM) whose recipientInfos are one
    KEKRecipientInfo (AES-256 key wrap) per key id: what a pop-mode seal
    looks like to the receiver, with garbage keys."""
    infos = b"".join(der(0xA2, der(0x02, b"\x04") + der(0x30, der(0x04, kid)) + der(0x30, oid("2.16.840.1.101.3.4.1.45"))
                             + der(0x04, os.urandom(40))) for kid in ids)
    content = der(0x30, oid("1.2.840.113549.1.7.1")
                  + der(0x30, oid("2.16.840.1.101.3.4.1.46") + der(0x30, der(0x04, os.urandom(12)) + der(0x02, b"\x10")))
                  + der(0x80, os.urandom(64)))
    aed = der(0x30, der(0x02, b"\x00") + der(0x31, infos) + content + der(0x04, os.urandom(16)))
    info = der(0x30, oid("1.2.840.113549.1.9.16.1.23") + der(0xA0, aed))
    text = base64.encodebytes(info).replace(b"\n", b"\r\n")
    return [("MIME-Version", "1.0"),
            ("Content-Type", "application/pkcs7-mime; smime-type=authEnveloped-data; name=smime.p7m"),
            ("Content-Transfer-Encoding", "base64")], text

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

# A PoP envelope to our key that costs the full RSA private-key operation
# and then fails (random block below the modulus: OAEP padding is wrong).
BAD_ENVELOPE = "rsa-oaep-sha256:" + base64.b64encode(b"\x00" + os.urandom(383)).decode()

def token(n, pop=True, bad=False):
    claims = {"iss": "Bench Broker CA", "sub": "Evil", "sdom": ["evil.example"], "scf": "0" * 64,
              "aud": "b.example", "rorg": "Bench B", "rkf": "0" * 64, "purpose": "smtp-federation",
              "iat": 1, "nbf": 1, "exp": 2, "jti": "jti-%08d" % n}
    if pop:
        claims["pop"] = BAD_ENVELOPE if bad else envelope
    return "%s.%s.%s" % (b64url(b'{"alg":"ES256"}'), b64url(json.dumps(claims).encode()), b64url(b"sig"))

BASE = [("From", "Mallory <mallory@evil.example>"), ("To", "bob@b.example"),
        ("Subject", "hostile"), ("Message-ID", "<hostile@evil.example>")]

def case_baseline():
    return BASE
def case_from_cjk_64k():
    return [("From", "u@" + cjk(21830))] + BASE[1:]
def case_from_10000():
    return [("From", ",".join("a@" + cjk(1, i) for i in range(10000)))] + BASE[1:]
def case_token_d_cjk_64k():
    return BASE + [("FedMail-Token", "v=1; d=%s; t=x.y.z" % cjk(21830))]
def case_token_ours_10000():
    return BASE + [("FedMail-Token", "v=1; d=b.example; t=" + token(n)) for n in range(10000)]
def case_token_pop_1000():
    fields, body = kek_cms([("jti-%08d" % n).encode() for n in range(1000)])
    return BASE + fields + [("FedMail-Token", "v=1; d=b.example; t=" + token(n, bad=True)) for n in range(1000)], body
def case_token_big_1m():
    return BASE + [("FedMail-Token", "v=1; d=b.example; t=" + "A" * (1 << 20))]

CASES = [("baseline", case_baseline), ("from-cjk-64k", case_from_cjk_64k), ("from-10000", case_from_10000),
         ("token-d-cjk-64k", case_token_d_cjk_64k), ("token-ours-10000", case_token_ours_10000),
         ("token-pop-1000", case_token_pop_1000), ("token-big-1m", case_token_big_1m)]

def one_message(headers, queue_id, body):
    m = Milter(sock, timeout=3600)
    try:
        return send(m, headers, queue_id, body)
    except (MilterError, OSError) as error:
        return "closed (%s)" % error
    finally:
        try:
            m.quit()
        except OSError:
            pass

DEFAULT_BODY = b"Hello.\r\n"

def send(m, headers, queue_id, body=DEFAULT_BODY):
    m.connect(host="mx.evil.example", addr="192.0.2.25", macros={"j": "mx.b.example", "{daemon_name}": "smtpd"})
    m.helo("mx.evil.example")
    m.mail("<mallory@evil.example>", (), {"i": queue_id})
    m.rcpt("<bob@b.example>")
    m.data()
    for name, value in headers:
        m.header(name, " " + value)
    m.eoh()
    for i in range(0, len(body), 60000):
        m.body(body[i:i + 60000])
    status, _ = m.eom({"i": queue_id})
    return status

print("%-17s %8s %9s %5s %12s %11s  %s" % ("case", "headers", "bytes", "runs", "CPU ms/msg", "ms/header", "answer"))
for name, build in CASES:
    if only and name not in only:
        continue
    headers, body = build(), DEFAULT_BODY
    if isinstance(headers, tuple):
        headers, body = headers
    size = sum(len(n.encode()) + len(v.encode()) + 4 for n, v in headers) + len(body)
    answers, total, r = set(), 0.0, 0
    # cheap cases are repeated (up to 20 times) until the 10 ms ticks add up
    while r < runs or (total < 200 and r < 20):
        before = cpu_ms()
        answers.add(one_message(headers, "Q%s%d" % (name.replace("-", ""), r), body))
        time.sleep(0.05)   # let the connection's thread finish
        total += cpu_ms() - before
        r += 1
    per = total / r
    print("%-17s %8d %9d %5d %12.1f %11.4f  %s" % (name, len(headers), size, r, per, per / len(headers), ",".join(sorted(answers))), flush=True)
PY
grep -ci "internal error\|fatal" milter.log >/dev/null && { echo "--- daemon log (errors):"; grep -i "internal error\|fatal" milter.log | head -5; } || true
kill -0 "$PID" 2>/dev/null || echo "bench-hostile: the daemon is no longer running!"
