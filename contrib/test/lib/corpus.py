#!/usr/bin/env python3
"""The sealing corpus as files, for the end-to-end tests.

    corpus.py DIR FROM TO        writes DIR/<name>.eml for every entry
    corpus.py --large DIR FROM TO
                                 writes DIR/fifty-mb.eml, the 50 MB entry
    corpus.py --send HOST:PORT SOURCE MAILFROM RCPT[,RCPT...] FILE
                                 (a RCPT written raw:ARGUMENT is sent as
                                 "RCPT TO:ARGUMENT", byte for byte)
                                 sends FILE's bytes unchanged (except SMTP
                                 dot-stuffing) in one SMTP transaction from
                                 the address SOURCE; prints the reply of each
                                 refused recipient as "refused RCPT CODE TEXT"
                                 and exits 0 if the message was accepted for
                                 at least one recipient

The entries are the fixtures of Tests/Fixtures/corpus (the corpus the
Swift tests read too), with the From and To given here and a fresh
Message-ID (see that folder's README).
"""
import os
import random
import re
import smtplib
import sys


FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "Tests", "Fixtures", "corpus")
PLACEHOLDER_FROM = b"From: Alice <alice@sender.example>"
PLACEHOLDER_TO = b"To: Bob <bob@rsa.example>, carol@ec.example"


def headers(frm, to, eol="\r\n", extra=(), name=""):
    lines = [
        "From: %s" % frm,
        "To: %s" % to,
        "Subject: Quarterly figures",
        "Date: Mon, 23 Nov 2026 10:00:00 +0000",
        "Message-ID: <corpus-%s-%d@sender.example>" % (name, random.randrange(10**12)),
    ] + list(extra)
    return "".join(l + eol for l in lines)


def personalize(data, frm, to):
    """The fixture with FROM, TO and a fresh Message-ID in its header section."""
    end = min(i for i in (data.find(b"\r\n\r\n"), data.find(b"\n\n"), len(data)) if i >= 0)
    head, body = data[:end], data[end:]
    domain = frm.split("@")[-1].rstrip(">").encode()
    head = head.replace(PLACEHOLDER_FROM, b"From: " + frm.encode(), 1)
    head = head.replace("jürgen@sender.example".encode(), "jürgen@".encode() + domain, 1)
    head = head.replace(PLACEHOLDER_TO, b"To: " + to.encode(), 1)
    head = re.sub(rb"Message-ID: <corpus-([a-z0-9-]+)@sender\.example>",
                  lambda m: b"Message-ID: <corpus-%s-%d@sender.example>" % (m.group(1), random.randrange(10**12)), head, count=1)
    return head + body


def corpus(frm, to):
    out = {}
    for name in sorted(os.listdir(FIXTURES)):
        if name.endswith(".eml"):
            with open(os.path.join(FIXTURES, name), "rb") as f:
                out[name[:-4]] = personalize(f.read(), frm, to)
    return out


def write_large(path, frm, to, megabytes=50):
    """The corpus's 50 MB message: text lines, written without holding it whole."""
    line = b"The quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJKLMNOPQRSTUVW\r\n"
    with open(path, "wb") as f:
        head = (headers(frm, to, name="fiftymb") + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n").encode()
        f.write(head)
        left = megabytes * 1024 * 1024 - len(head)
        while left > 0:
            f.write(line[:left])
            left -= len(line)


def send_raw_recipients(s, mailfrom, rcpts, data, opts):
    """sendmail() for recipients given as "raw:ARGUMENT": the RCPT TO
    argument goes on the wire exactly as written (smtplib would rewrite
    "<bob@b.example >" to "<bob@b.example>"). Returns the refused ones."""
    code, text = s.mail(mailfrom, opts)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, text, mailfrom)
    refused = {}
    for r in rcpts:
        argument = r[4:] if r.startswith("raw:") else "<%s>" % r
        s.putcmd("rcpt", "TO:" + argument)
        code, text = s.getreply()
        if code not in (250, 251):
            refused[r] = (code, text)
    if len(refused) == len(rcpts):
        raise smtplib.SMTPRecipientsRefused(refused)
    code, text = s.data(data)
    if code != 250:
        raise smtplib.SMTPDataError(code, text)
    return refused


def send(server, source, mailfrom, rcpts, path):
    host, port = server.rsplit(":", 1)
    data = open(path, "rb").read()
    s = smtplib.SMTP(host, int(port), source_address=(source, 0), timeout=120)
    try:
        s.ehlo("client.test")
        opts = ["BODY=8BITMIME"] if s.has_extn("8bitmime") else []
        if s.has_extn("smtputf8") and any(b > 127 for b in data[:data.find(b"\n\n") if b"\n\n" in data else 4096]):
            opts.append("SMTPUTF8")
        try:
            if any(r.startswith("raw:") for r in rcpts):
                refused = send_raw_recipients(s, mailfrom, rcpts, data, opts)
            else:
                refused = s.sendmail(mailfrom, rcpts, data, mail_options=opts)
        except smtplib.SMTPRecipientsRefused as e:
            refused = e.recipients
            for r, (code, text) in refused.items():
                print("refused %s %d %s" % (r, code, text.decode(errors="replace")))
            return 1
        except smtplib.SMTPResponseException as e:
            print("error %d %s" % (e.smtp_code, e.smtp_error.decode(errors="replace")))
            return 1
        for r, (code, text) in refused.items():
            print("refused %s %d %s" % (r, code, text.decode(errors="replace")))
        print("accepted")
        return 0
    finally:
        try:
            s.quit()
        except Exception:
            pass


if __name__ == "__main__":
    if sys.argv[1] == "--send":
        sys.exit(send(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5].split(","), sys.argv[6]))
    if sys.argv[1] == "--large":
        os.makedirs(sys.argv[2], exist_ok=True)
        write_large(os.path.join(sys.argv[2], "fifty-mb.eml"), sys.argv[3], sys.argv[4])
        sys.exit(0)
    directory, frm, to = sys.argv[1:4]
    os.makedirs(directory, exist_ok=True)
    for name, data in corpus(frm, to).items():
        with open(os.path.join(directory, name + ".eml"), "wb") as f:
            f.write(data)
