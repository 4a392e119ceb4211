#!/usr/bin/env python3
"""Counts a batch (contrib/test/lib/batch.py) where it was delivered.

    batch-count.py --maildir DIR --tag TAG --count N
                   [--verdict AUTHSERV] [--tap DIR ...] [--out FILE]
    batch-count.py --maildir DIR --tag TAG --ids FILE ...   (the expected ids listed in FILE)

Reads every message in the Maildir (new/ and cur/) whose X-Batch-ID is
TAG-n and reports:
    delivered    ids 1..N found at least once
    duplicated   copies beyond the first, over all ids
    missing      ids not found
    unverified   copies without "Authentication-Results: AUTHSERV; fedmail=pass"
                 (only with --verdict), or whose body lost its marker line
    unsealed     messages of the batch seen on the wire in plaintext: a
                 wiretap's recorded .eml (--tap DIR, repeatable) holding the
                 batch marker "fedmail-batch-marker TAG-" (a sealed message
                 shows neither body nor marker)
Prints "count TAG: delivered=D/N duplicated=X missing=M unverified=U
unsealed=W" and exits 0 only when D == N and the other three are 0.
"""
import argparse
import email.parser
import email.policy
import glob
import json
import os
import re
import sys

p = argparse.ArgumentParser()
p.add_argument("--maildir", required=True)
p.add_argument("--tag", required=True)
p.add_argument("--count", type=int, default=0)
p.add_argument("--ids", default=None, help="a file of the expected ids, one a line (instead of TAG-1..TAG-N)")
p.add_argument("--verdict", default=None)
p.add_argument("--tap", action="append", default=[])
p.add_argument("--out", default=None)
args = p.parse_args()

prefix = args.tag + "-"
copies = {}
unverified = 0
parser = email.parser.BytesParser(policy=email.policy.compat32)
for path in glob.glob(os.path.join(args.maildir, "new", "*")) + glob.glob(os.path.join(args.maildir, "cur", "*")):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        continue
    head, _, body = data.partition(b"\n\n")
    match = re.search(rb"^X-Batch-ID:\s*(\S+)", head, re.M | re.I)
    if not match:
        continue
    ident = match.group(1).decode("ascii", "replace")
    if not ident.startswith(prefix):
        continue
    copies[ident] = copies.get(ident, 0) + 1
    ok = b"fedmail-batch-marker " + ident.encode() in body
    if args.verdict:
        message = parser.parsebytes(head + b"\n\n")
        results = [v for k, v in message.items() if k.lower() == "authentication-results"]
        mine = [r for r in results if r.strip().startswith(args.verdict + ";") or r.strip().startswith(args.verdict + " ;")]
        ok = ok and any(re.search(r"\bfedmail=pass\b", r) for r in mine)
    if not ok:
        unverified += 1

if args.ids:
    with open(args.ids) as f:
        expected = {line.strip() for line in f if line.strip()}
    args.count = len(expected)
else:
    expected = {f"{args.tag}-{n}" for n in range(1, args.count + 1)}
delivered = len(expected & copies.keys())
duplicated = sum(c - 1 for c in copies.values() if c > 1)
missing = sorted(expected - copies.keys(), key=lambda s: int(s.rsplit("-", 1)[1]) if s.rsplit("-", 1)[1].isdigit() else 0)
marker = ("fedmail-batch-marker " + prefix).encode()
unsealed = 0
for tap in args.tap:
    for path in glob.glob(os.path.join(tap, "msg-*.eml")):
        try:
            with open(path, "rb") as f:
                if marker in f.read():
                    unsealed += 1
        except OSError:
            pass

summary = {"tag": args.tag, "count": args.count, "delivered": delivered, "duplicated": duplicated,
           "missing": len(missing), "unverified": unverified, "unsealed": unsealed}
line = (f"count {args.tag}: delivered={delivered}/{args.count} duplicated={duplicated} "
        f"missing={len(missing)} unverified={unverified} unsealed={unsealed}")
if missing:
    line += " first-missing=" + ",".join(missing[:5])
print(line)
if args.out:
    with open(args.out, "w") as f:
        json.dump(summary, f)
sys.exit(0 if delivered == args.count and duplicated == 0 and unverified == 0 and unsealed == 0 else 1)
