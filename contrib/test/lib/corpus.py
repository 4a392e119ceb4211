#!/usr/bin/env python3
"""The sealing corpus as files, for the end-to-end tests.

    corpus.py DIR FROM TO        writes DIR/<name>.eml for every entry
    corpus.py --large DIR FROM TO
                                 writes DIR/fifty-mb.eml, the 50 MB entry
    corpus.py --send HOST:PORT SOURCE MAILFROM RCPT[,RCPT...] FILE
                                 sends FILE's bytes unchanged (except SMTP
                                 dot-stuffing) in one SMTP transaction from
                                 the address SOURCE; prints the reply of each
                                 refused recipient as "refused RCPT CODE TEXT"
                                 and exits 0 if the message was accepted for
                                 at least one recipient

The entries are those of Tests/FedMailCryptoTests/MessageCorpus.swift
(7bit, 8bit, binary-attachment, nested-multipart, long-folded-headers,
utf8-headers, lf-only, crlf, no-final-newline, empty-body,
one-mb-single-line), with the From and To given here.
"""
import os
import random
import smtplib
import sys


def headers(frm, to, eol="\r\n", extra=(), name=""):
    lines = [
        "From: %s" % frm,
        "To: %s" % to,
        "Subject: Quarterly figures",
        "Date: Mon, 23 Nov 2026 10:00:00 +0000",
        "Message-ID: <corpus-%s-%d@sender.example>" % (name, random.randrange(10**12)),
    ] + list(extra)
    return "".join(l + eol for l in lines)


def corpus(frm, to):
    h = lambda **kw: headers(frm, to, **kw)
    out = {}
    out["7bit"] = (h(name="7bit") + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
                   "Hello Bob,\r\n\r\nplain ASCII.\r\n.\r\n..leading dot\r\nFrom the start\r\n").encode()
    out["8bit"] = (h(name="8bit") + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: 8bit\r\n\r\nGrüße, naïve café — 日本語\r\n").encode()
    rnd = random.Random(5)
    out["binary-attachment"] = ((h(name="bin") + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"xyz\"\r\n\r\n"
                                 "--xyz\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n--xyz\r\n"
                                 "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n").encode()
                                + bytes(rnd.randrange(256) for _ in range(70000)) + b"\r\n--xyz--\r\n")
    out["nested-multipart"] = (h(name="nested") + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
                               "--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"
                               "--inner\r\nContent-Type: text/plain\r\n\r\ntext\r\n--inner\r\nContent-Type: text/html\r\n\r\n"
                               "<p>html</p>\r\n--inner--\r\n--outer\r\nContent-Type: message/rfc822\r\n\r\n"
                               "From: x@y.example\r\nSubject: inner\r\n\r\ninner body\r\n--outer--\r\n").encode()
    refs = "\r\n ".join("<ref-%d-%s@sender.example>" % (i, "r" * 30) for i in range(60))
    out["long-folded-headers"] = (h(name="folded", extra=["References: " + refs, "X-Long: " + "word " * 400]) + "\r\nbody\r\n").encode()
    out["utf8-headers"] = (headers("Jürgen Müller <jürgen@%s>" % frm.split("@")[-1].rstrip(">"), to, name="utf8",
                                   extra=["Subject: Ünïcödé sübjéct 件名"])
                           + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nUTF-8 headers (RFC 6532)\r\n").encode()
    out["lf-only"] = (h(eol="\n", name="lf") + "\nline one\nline two\n\nlast\n").encode()
    out["crlf"] = (h(name="crlf") + "\r\nline one\r\nline two\r\n\r\nlast\r\n").encode()
    out["no-final-newline"] = (h(name="nofinal") + "\r\nno newline at the end").encode()
    out["empty-body"] = (h(name="empty") + "\r\n").encode()
    out["one-mb-single-line"] = (h(name="onemb") + "\r\n" + "0123456789abcdef" * 65536).encode()
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
