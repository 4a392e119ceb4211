#!/usr/bin/env python3
"""Sends a counted batch of messages through an SMTP server, like a patient
client: every message has a unique id, several SMTP sessions run at once,
and a message the server does not accept (4xx, a dropped connection, a
timeout) is tried again later until it is accepted or the deadline passes.
A 5xx is final (counted as refused, never retried).

    batch.py --server HOST:PORT --source ADDR --tag TAG --count N
             --sender ADDR --rcpt ADDR [--rcpt ADDR ...]
             [--sessions K] [--per-session M] [--size BYTES] [--deadline S]
             [--mail-option OPT ...] [--rcpt-option ADDR=OPT ...]
             [--from-header TEXT]
             [--out FILE]

Each message: Message-ID <TAG-n@batch.test>, Subject "batch TAG n", a
header X-Batch-ID: TAG-n, and a body whose first line is
"fedmail-batch-marker TAG-n" followed by filler up to --size bytes (the
marker is what a wiretap looks for to find a message on the wire unsealed).
In a --mail-option, "{id}" becomes the message's id (e.g. ENVID={id}).
A message keeps its bytes (Date included) across retries, as a real client's
queue file does.

Prints one line: "batch TAG: count=N accepted=A refused=R tempfails=T
errors=E attempts=X seconds=S" and writes a JSON summary to --out. Exits 0
when every message was accepted.
"""
import argparse
import email.utils
import json
import queue
import smtplib
import socket
import sys
import threading
import time

p = argparse.ArgumentParser()
p.add_argument("--server", required=True)
p.add_argument("--source", default=None)
p.add_argument("--tag", required=True)
p.add_argument("--count", type=int, default=50)
p.add_argument("--sender", required=True)
p.add_argument("--rcpt", action="append", required=True)
p.add_argument("--sessions", type=int, default=5)
p.add_argument("--per-session", type=int, default=5)
p.add_argument("--size", type=int, default=2048)
p.add_argument("--deadline", type=float, default=240)
p.add_argument("--retry-delay", type=float, default=1.0)
p.add_argument("--mail-option", action="append", default=[])
p.add_argument("--rcpt-option", action="append", default=[])
p.add_argument("--from-header", default=None)
p.add_argument("--out", default=None)
args = p.parse_args()

host, port = args.server.rsplit(":", 1)
port = int(port)
rcpt_options = {}
for item in args.rcpt_option:
    address, option = item.split("=", 1)
    rcpt_options.setdefault(address, []).append(option)
utf8 = any(o.upper() == "SMTPUTF8" for o in args.mail_option)


def message(n):
    ident = f"{args.tag}-{n}"
    date = email.utils.formatdate(localtime=False)
    head = [
        f"From: {args.from_header or args.sender}",
        f"To: {', '.join(args.rcpt)}",
        f"Subject: batch {args.tag} {n}",
        f"Date: {date}",
        f"Message-ID: <{ident}@batch.test>",
        f"X-Batch-ID: {ident}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    body = [f"fedmail-batch-marker {ident}"]
    filler = "The quick brown fox jumps over the lazy dog, message " + ident + "."
    size = len("\r\n".join(head)) + 4 + len(body[0])
    while size < args.size:
        body.append(filler)
        size += len(filler) + 2
    return ("\r\n".join(head) + "\r\n\r\n" + "\r\n".join(body) + "\r\n").encode("utf-8")


pending = queue.Queue()
messages = {n: message(n) for n in range(1, args.count + 1)}
for n in messages:
    pending.put((n, 0.0))
lock = threading.Lock()
stats = {"accepted": set(), "refused": {}, "tempfails": 0, "errors": 0, "attempts": 0, "last_error": ""}
start = time.monotonic()


def record(kind, n=None, detail=""):
    with lock:
        if kind == "accepted":
            stats["accepted"].add(n)
        elif kind == "refused":
            stats["refused"][n] = detail
        elif kind == "tempfail":
            stats["tempfails"] += 1
            stats["last_error"] = detail
        elif kind == "error":
            stats["errors"] += 1
            stats["last_error"] = detail


def done():
    with lock:
        return len(stats["accepted"]) + len(stats["refused"]) >= args.count


def send_one(smtp, n, data):
    """MAIL, RCPT per recipient (with its options), DATA; raises
    SMTPResponseException with the first reply that is not a success."""
    ident = f"{args.tag}-{n}"
    code, resp = smtp.mail(args.sender, [o.replace("{id}", ident) for o in args.mail_option])
    if code != 250:
        raise smtplib.SMTPResponseException(code, resp)
    for address in args.rcpt:
        code, resp = smtp.rcpt(address, rcpt_options.get(address, []))
        if code not in (250, 251):
            raise smtplib.SMTPResponseException(code, resp)
    code, resp = smtp.data(data)
    if code != 250:
        raise smtplib.SMTPResponseException(code, resp)


def worker():
    while not done() and time.monotonic() - start < args.deadline:
        batch = []
        try:
            while len(batch) < args.per_session:
                n, not_before = pending.get(timeout=0.2)
                if not_before > time.monotonic():
                    pending.put((n, not_before))
                    if not batch:
                        time.sleep(0.05)
                    break
                batch.append(n)
        except queue.Empty:
            pass
        if not batch:
            continue
        retry = list(batch)
        try:
            smtp = smtplib.SMTP(host, port, timeout=60,
                                source_address=(args.source, 0) if args.source else None)
            smtp.ehlo("batch-client.test")
            for n in batch:
                with lock:
                    stats["attempts"] += 1
                try:
                    send_one(smtp, n, messages[n])
                    record("accepted", n)
                    retry.remove(n)
                except smtplib.SMTPResponseException as e:
                    if 500 <= e.smtp_code < 600:
                        record("refused", n, f"{e.smtp_code} {e.smtp_error!r}")
                        retry.remove(n)
                    else:
                        record("tempfail", detail=f"{e.smtp_code} {e.smtp_error!r}")
                    if e.smtp_code == 421:
                        break
                    try:
                        smtp.rset()
                    except Exception:
                        break
            try:
                smtp.quit()
            except Exception:
                pass
        except (OSError, smtplib.SMTPException) as e:
            record("error", detail=f"{type(e).__name__}: {e}")
        for n in retry:
            with lock:
                final = n in stats["accepted"] or n in stats["refused"]
            if not final:
                pending.put((n, time.monotonic() + args.retry_delay))


threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.sessions)]
for t in threads:
    t.start()
for t in threads:
    t.join()

elapsed = time.monotonic() - start
summary = {
    "tag": args.tag, "count": args.count, "accepted": len(stats["accepted"]),
    "refused": len(stats["refused"]), "tempfails": stats["tempfails"], "errors": stats["errors"],
    "attempts": stats["attempts"], "seconds": round(elapsed, 1), "last_error": stats["last_error"],
    "refusals": {str(k): v for k, v in stats["refused"].items()},
}
print(f"batch {args.tag}: count={args.count} accepted={summary['accepted']} refused={summary['refused']} "
      f"tempfails={summary['tempfails']} errors={summary['errors']} attempts={summary['attempts']} "
      f"seconds={summary['seconds']}" + (f" last-error={summary['last_error'][:160]!r}" if summary['last_error'] else ""))
if args.out:
    with open(args.out, "w") as f:
        json.dump(summary, f)
sys.exit(0 if summary["accepted"] == args.count else 1)
