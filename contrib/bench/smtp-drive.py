#!/usr/bin/env python3
"""One run of contrib/bench/throughput.sh: submit N messages over SESSIONS
concurrent SMTP sessions, wait until the sink Maildir holds every copy, then
check each delivered copy (its verdict field and its original body).

    smtp-drive.py --host H --port P --source ADDR --maildir DIR --count N
                  --sessions S --size BYTES --tag TAG --sender ADDR
                  --rcpt ADDR [--rcpt ADDR ...] [--expect REGEX] [--timeout SECONDS]

--expect: a regular expression one header field of every delivered copy must
match (e.g. '^Authentication-Results: mx\\.b\\.test; fedmail=pass'); copies
whose recipient is given as --plain ADDR are instead checked to carry no
verdict of that kind. Prints one JSON object: the wall time from the first
submission to the last delivery, messages per second, and what the check found.
"""
import argparse
import email.utils
import json
import os
import re
import smtplib
import sys
import threading
import time


def body_of(tag, index, size):
    """A deterministic body of about SIZE bytes, CRLF line ends, 72-char lines."""
    lines = []
    total = 0
    n = 0
    seed = f"{tag}-{index}"
    while total < size:
        line = f"{seed} line {n:05d} " + "abcdefghijklmnopqrstuvwxyz0123456789" * 2
        line = line[:72]
        lines.append(line)
        total += len(line) + 2
        n += 1
    return "\r\n".join(lines) + "\r\n"


def message(args, index, rcpts):
    headers = [
        f"From: Bench Sender <{args.sender}>",
        f"To: {', '.join(rcpts)}",
        f"Subject: bench {args.tag} {index}",
        f"Date: {email.utils.formatdate(localtime=False)}",
        f"Message-ID: <{args.tag}-{index}@{args.sender.split('@')[1]}>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
    ]
    return "\r\n".join(headers) + "\r\n\r\n" + body_of(args.tag, index, args.size)


def sender_session(args, indexes, rcpts, failures, lock):
    conn = None
    for index in indexes:
        for attempt in range(3):
            try:
                if conn is None:
                    conn = smtplib.SMTP(args.host, args.port, source_address=(args.source, 0), timeout=120)
                    conn.ehlo("bench-client.test")
                refused = conn.sendmail(args.sender, rcpts, message(args, index, rcpts).encode())
                if refused:
                    with lock:
                        failures.append(f"{index}: refused {refused}")
                break
            except smtplib.SMTPResponseException as error:
                with lock:
                    failures.append(f"{index}: {error.smtp_code} {error.smtp_error!r}")
                try:
                    conn.rset()
                except Exception:
                    conn = None
                break
            except (OSError, smtplib.SMTPException) as error:
                conn = None
                if attempt == 2:
                    with lock:
                        failures.append(f"{index}: {error!r}")
    if conn is not None:
        try:
            conn.quit()
        except Exception:
            pass


def count_files(directory):
    try:
        return len(os.listdir(directory))
    except FileNotFoundError:
        return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--source", required=True)
    p.add_argument("--maildir", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--size", type=int, default=10240)
    p.add_argument("--tag", required=True)
    p.add_argument("--sender", required=True)
    p.add_argument("--rcpt", action="append", default=[])
    p.add_argument("--plain", action="append", default=[], help="recipients whose copy must stay plaintext")
    p.add_argument("--expect", default=None)
    p.add_argument("--timeout", type=float, default=600)
    args = p.parse_args()

    rcpts = args.rcpt + args.plain
    expected_copies = args.count * (1 if not args.plain or not args.rcpt else 2)
    new_dir = os.path.join(args.maildir, "new")
    already = count_files(new_dir)

    failures = []
    lock = threading.Lock()
    shares = [list(range(s, args.count, args.sessions)) for s in range(args.sessions)]
    start = time.monotonic()
    threads = [threading.Thread(target=sender_session, args=(args, share, rcpts, failures, lock)) for share in shares if share]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    submitted = time.monotonic() - start
    want = already + expected_copies - (len(failures) * (expected_copies // max(1, args.count)))
    last = start
    delivered = count_files(new_dir)
    while delivered < want and time.monotonic() - start < args.timeout:
        time.sleep(0.02)
        now_count = count_files(new_dir)
        if now_count != delivered:
            last = time.monotonic()
            delivered = now_count
    if delivered >= want and last == start:
        last = time.monotonic()
    elapsed = last - start

    # The checks: every copy of this run carries the verdict and the original body.
    expect = re.compile(args.expect, re.I | re.M) if args.expect else None
    ok = 0
    bad = []
    seen = set()
    for name in os.listdir(new_dir):
        path = os.path.join(new_dir, name)
        with open(path, "rb") as f:
            data = f.read().replace(b"\r\n", b"\n")
        head, sep, body = data.partition(b"\n\n")
        text = head.decode("utf-8", "replace")
        unfolded = re.sub(r"\n[ \t]+", " ", text)
        m = re.search(r"^Subject: bench (\S+) (\d+)$", unfolded, re.M)
        if not m or m.group(1) != args.tag:
            continue
        index = int(m.group(2))
        to = re.search(r"^X-Original-To: (\S+)$", unfolded, re.M) or re.search(r"^Delivered-To: (\S+)$", unfolded, re.M)
        rcpt = to.group(1) if to else "?"
        seen.add((index, rcpt))
        want_body = body_of(args.tag, index, args.size).encode().replace(b"\r\n", b"\n")
        problems = []
        if body != want_body:
            problems.append("body differs")
        if expect is not None:
            matched = bool(expect.search(unfolded))
            if rcpt in args.plain:
                if matched:
                    problems.append("plaintext copy carries the verdict")
            elif not matched:
                verdicts = re.findall(r"^Authentication-Results:.*$", unfolded, re.M)
                problems.append(f"no /{args.expect}/ (Authentication-Results: {verdicts})")
        if problems:
            bad.append(f"{index} {rcpt}: {'; '.join(problems)}")
        else:
            ok += 1
        os.unlink(path)

    result = {
        "tag": args.tag, "count": args.count, "copies_expected": expected_copies, "copies_delivered": ok + len(bad),
        "submit_seconds": round(submitted, 3), "elapsed": round(elapsed, 3),
        "rate": round(args.count / elapsed, 2) if elapsed > 0 else 0,
        "ok": ok, "bad": len(bad), "failures": len(failures),
        "examples": (failures[:3] + bad[:3]),
    }
    print(json.dumps(result))
    return 0 if not failures and not bad and ok == expected_copies else 1


if __name__ == "__main__":
    sys.exit(main())
