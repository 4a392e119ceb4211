#!/usr/bin/env python3
"""The soak benchmark's load (contrib/bench/soak.sh): SESSIONS concurrent
SMTP sessions for SECONDS, each sending message after message (10 messages
per connection, then a new one) of a random size between --min-size and
--max-size (log-uniform), each with a unique id, retried after a 4xx like a
real client. Writes the ids the server accepted to --accepted (one a line)
and prints one summary line:

    load: seconds=S sessions=K sent=N accepted=A tempfails=T errors=E bytes=B msg/s=R MB/s=M

    soak-load.py --server HOST:PORT --source ADDR --sender ADDR --rcpt ADDR
                 [--sessions 100] [--seconds 600] [--min-size 10240]
                 [--max-size 1048576] --accepted FILE
"""
import argparse
import email.utils
import math
import random
import smtplib
import threading
import time

p = argparse.ArgumentParser()
p.add_argument("--server", required=True)
p.add_argument("--source", default=None)
p.add_argument("--sender", required=True)
p.add_argument("--rcpt", required=True)
p.add_argument("--sessions", type=int, default=100)
p.add_argument("--seconds", type=float, default=600)
p.add_argument("--min-size", type=int, default=10240)
p.add_argument("--max-size", type=int, default=1048576)
p.add_argument("--accepted", required=True)
args = p.parse_args()
host, port = args.server.rsplit(":", 1)

lock = threading.Lock()
counter = [0]
stats = {"sent": 0, "accepted": 0, "tempfails": 0, "errors": 0, "bytes": 0}
accepted_ids = []
LINE = ("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" * 2)[:76]


def next_id():
    with lock:
        counter[0] += 1
        return f"soak-{counter[0]}"


def message(ident, size):
    head = (f"From: {args.sender}\r\nTo: {args.rcpt}\r\nSubject: soak {ident}\r\n"
            f"Date: {email.utils.formatdate()}\r\nMessage-ID: <{ident}@soak.test>\r\n"
            f"X-Batch-ID: {ident}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n"
            f"fedmail-batch-marker {ident}\r\n")
    lines = max(1, (size - len(head)) // 78)
    return (head + (LINE + "\r\n") * lines).encode()


def worker(end):
    rng = random.Random()
    retry = None
    while time.monotonic() < end:
        try:
            smtp = smtplib.SMTP(host, int(port), timeout=120,
                                source_address=(args.source, 0) if args.source else None)
            smtp.ehlo("soak-client.test")
            for _ in range(10):
                if time.monotonic() >= end:
                    break
                if retry is None:
                    size = int(math.exp(rng.uniform(math.log(args.min_size), math.log(args.max_size))))
                    ident = next_id()
                    retry = (ident, message(ident, size))
                ident, data = retry
                with lock:
                    stats["sent"] += 1
                try:
                    smtp.sendmail(args.sender, [args.rcpt], data)
                    with lock:
                        stats["accepted"] += 1
                        stats["bytes"] += len(data)
                        accepted_ids.append(ident)
                    retry = None
                except smtplib.SMTPResponseException as e:
                    with lock:
                        stats["tempfails" if e.smtp_code < 500 else "errors"] += 1
                    if e.smtp_code >= 500:
                        retry = None
                    smtp.rset()
                    time.sleep(1)
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            with lock:
                stats["errors"] += 1
            time.sleep(1)


start = time.monotonic()
end = start + args.seconds
threads = [threading.Thread(target=worker, args=(end,), daemon=True) for _ in range(args.sessions)]
for t in threads:
    t.start()
for t in threads:
    t.join(timeout=args.seconds + 300)
elapsed = time.monotonic() - start
with open(args.accepted, "w") as f:
    f.write("\n".join(accepted_ids) + ("\n" if accepted_ids else ""))
print(f"load: seconds={elapsed:.0f} sessions={args.sessions} sent={stats['sent']} accepted={stats['accepted']} "
      f"tempfails={stats['tempfails']} errors={stats['errors']} bytes={stats['bytes']} "
      f"msg/s={stats['accepted'] / elapsed:.1f} MB/s={stats['bytes'] / elapsed / 1e6:.2f}")
