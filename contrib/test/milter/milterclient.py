#!/usr/bin/env python3
"""Test driver: a milter-protocol client (the MTA side of the milter protocol,
version 6) used by contrib/test/t-milter.sh to exercise fedmail-milter over
its real unix socket, including load that miltertest scripts handle poorly
(1,000 sequential and 50 concurrent connections, a 30 MB body).

It is a test driver, not part of FedMail. Each scenario exits 0 when every
assertion holds and prints what it checked; on failure it prints why and
exits 1.
"""
import argparse
import os
import signal
import socket
import struct
import sys
import threading
import time

SMFIF_ADDHDRS = 0x01
SMFIF_ALL = 0x1FF
SMFIP_ALL = 0x001FFFFF
NO_FLAGS = {"connect": 0x01, "helo": 0x02, "mail": 0x04, "rcpt": 0x08,
            "body": 0x10, "headers": 0x20, "eoh": 0x40, "data": 0x200}
SMFIP_NR_HDR = 0x80  # the milter asked not to be waited for after each header field
# The milter asked not to be waited for after these steps (SMFIP_NR_*).
NR_FLAGS = {"connect": 0x1000, "helo": 0x2000, "mail": 0x4000, "rcpt": 0x8000,
            "data": 0x10000, "eoh": 0x40000, "body": 0x80000}
FINAL = {b"a": "accept", b"c": "continue", b"r": "reject", b"t": "tempfail",
         b"d": "discard", b"y": "replycode", b"s": "skip"}


class MilterError(Exception):
    pass


class Milter:
    """One connection to the milter."""

    def __init__(self, path, actions=SMFIF_ALL, protocol=SMFIP_ALL, timeout=60):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.send(b"O", struct.pack(">III", 6, actions, protocol))
        cmd, data = self.read()
        if cmd != b"O":
            raise MilterError("negotiation answered %r" % cmd)
        self.version, self.actions, self.protocol = struct.unpack(">III", data[:12])
        self.symlists = data[12:]

    def wants(self, step):
        return not (self.protocol & NO_FLAGS[step])

    def answer(self, step):
        """The milter's answer to STEP; continue without reading when it
        asked not to be waited for there (as an MTA that granted SMFIP_NR_*)."""
        if self.protocol & NR_FLAGS[step]:
            return "continue"
        return self.reply()[0]

    def send(self, cmd, data=b""):
        self.sock.sendall(struct.pack(">I", len(data) + 1) + cmd + data)

    def read_exact(self, n):
        buf = b""
        while len(buf) < n:
            part = self.sock.recv(n - len(buf))
            if not part:
                raise MilterError("milter closed the connection")
            buf += part
        return buf

    def read(self):
        (length,) = struct.unpack(">I", self.read_exact(4))
        data = self.read_exact(length)
        return data[:1], data[1:]

    def reply(self):
        cmd, data = self.read()
        if cmd not in FINAL:
            raise MilterError("unexpected reply %r %r" % (cmd, data[:80]))
        return FINAL[cmd], data

    def macros(self, stage, pairs):
        payload = stage
        for name, value in pairs.items():
            payload += name.encode() + b"\0" + value.encode() + b"\0"
        self.send(b"D", payload)

    def connect(self, host="client.example", addr="127.0.0.1", port=40000, macros=None):
        if macros:
            self.macros(b"C", macros)
        if not self.wants("connect"):
            return "continue"
        self.send(b"C", host.encode() + b"\0" + b"4" + struct.pack(">H", port) + addr.encode() + b"\0")
        return self.answer("connect")

    def helo(self, name="client.example"):
        if not self.wants("helo"):
            return "continue"
        self.send(b"H", name.encode() + b"\0")
        return self.answer("helo")

    def mail(self, sender, args=(), macros=None):
        if macros:
            self.macros(b"M", macros)
        if not self.wants("mail"):
            return "continue"
        self.send(b"M", b"".join(a.encode() + b"\0" for a in (sender,) + tuple(args)))
        return self.answer("mail")

    def rcpt(self, recipient):
        if not self.wants("rcpt"):
            return "continue"
        self.send(b"R", recipient.encode() + b"\0")
        return self.answer("rcpt")

    def data(self):
        if not self.wants("data"):
            return "continue"
        self.send(b"T")
        return self.answer("data")

    def header(self, name, value):
        if not self.wants("headers"):
            return "continue"
        self.send(b"L", name.encode() + b"\0" + value.encode() + b"\0")
        if self.protocol & SMFIP_NR_HDR:
            return "continue"  # no reply: as an MTA that granted SMFIP_NR_HDR, do not wait
        return self.reply()[0]

    def eoh(self):
        if not self.wants("eoh"):
            return "continue"
        self.send(b"N")
        return self.answer("eoh")

    def body(self, chunk):
        if not self.wants("body"):
            return "continue"
        self.send(b"B", chunk)
        return self.answer("body")

    def eom(self, macros=None):
        """Ends the message; returns (final status, [modifications])."""
        if macros:
            self.macros(b"E", macros)
        self.send(b"E")
        mods = []
        while True:
            cmd, data = self.read()
            if cmd in FINAL:
                return FINAL[cmd], mods
            if cmd == b"h":
                name, value = data.rstrip(b"\0").split(b"\0", 1)
                mods.append(("addheader", name.decode(), value.decode()))
            elif cmd == b"p":
                continue
            else:
                mods.append((cmd.decode(), data))

    def abort(self):
        self.send(b"A")

    def quit(self):
        try:
            self.send(b"Q")
        finally:
            self.sock.close()


def expect(condition, message):
    if not condition:
        raise MilterError(message)


# An S/MIME Content-Type for one of the milter's Domains (example.net): the
# message may be sealed for it, so the milter reads the body; without it the
# milter tells from the header fields that the message is untouched and
# accepts it at end of headers (scenario_early).
SMIME = ("Content-Type", "application/pkcs7-mime; smime-type=authenveloped-data")


def one_message(m, queue_id, body_size=200, chunk=65535):
    expect(m.mail("<sender@example.org>", ("BODY=8BITMIME",), {"i": queue_id}) == "continue", "MAIL not continued")
    expect(m.rcpt("<rcpt@example.net>") == "continue", "RCPT not continued")
    expect(m.rcpt("<other@example.net>") == "continue", "second RCPT not continued")
    expect(m.data() == "continue", "DATA not continued")
    for name, value in (("From", "sender@example.org"), ("To", "rcpt@example.net"),
                        ("Subject", "test " + queue_id), ("Message-ID", "<%s@example.org>" % queue_id), SMIME):
        expect(m.header(name, value) == "continue", "header %s not continued" % name)
    expect(m.eoh() == "continue", "EOH not continued")
    line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n"
    remaining = body_size
    while remaining > 0:
        size = min(chunk, remaining)
        piece = (line * (size // len(line) + 1))[:size]
        expect(m.body(piece) == "continue", "body chunk not continued")
        remaining -= size
    status, mods = m.eom({"i": queue_id})
    expect(status == "continue", "end of message answered %s" % status)
    # No recipient is federated (no allowlist): the message passes untouched.
    expect(mods == [], "expected the message untouched (no federated recipient), got modifications %r" % (mods,))
    return "untouched"


def session(path, queue_id, messages=1, **kwargs):
    m = Milter(path)
    try:
        expect(m.connect(macros={"j": "mx.example", "{daemon_name}": "test"}) == "continue", "connect not continued")
        expect(m.helo() == "continue", "HELO not continued")
        value = None
        for n in range(messages):
            value = one_message(m, "%s%d" % (queue_id, n), **kwargs)
        return value
    finally:
        m.quit()


def scenario_early(args):
    """A message the milter can tell is untouched from its envelope and
    header fields (no federated recipient, nothing that may be sealed for
    it) is accepted at end of headers: no body, no end of message."""
    m = Milter(args.socket)
    try:
        expect(m.connect() == "continue", "connect not continued")
        for n in range(2):
            expect(m.mail("<a@example.org>", (), {"i": "QEARLY%d" % n}) == "continue", "MAIL not continued")
            expect(m.rcpt("<b@example.net>") == "continue", "RCPT not continued")
            expect(m.header("Subject", "plain text") == "continue", "header not continued")
            status = m.eoh()
            expect(status == "accept", "end of headers answered %s, expected accept" % status)
        value = one_message(m, "QLATE", body_size=1000, chunk=1000)
    finally:
        m.quit()
    print("plain messages accepted at end of headers; then a message read to its end (%s)" % value)


def scenario_message(args):
    value = session(args.socket, "QMSG", body_size=args.body_size, chunk=args.chunk)
    print("message %s (body %d bytes in chunks of %d)" % (value, args.body_size, args.chunk))


def scenario_abort(args):
    m = Milter(args.socket)
    try:
        expect(m.connect() == "continue", "connect not continued")
        expect(m.mail("<a@example.org>", (), {"i": "QABORT"}) == "continue", "MAIL not continued")
        expect(m.rcpt("<b@example.net>") == "continue", "RCPT not continued")
        expect(m.header("Subject", "aborted") == "continue", "header not continued")
        expect(m.header(*SMIME) == "continue", "Content-Type not continued")
        expect(m.eoh() == "continue", "EOH not continued")
        for _ in range(5):
            expect(m.body(b"x" * 60000) == "continue", "body not continued")
        m.abort()
        value = one_message(m, "QAFTER", body_size=150000, chunk=50000)
        value2 = one_message(m, "QTHIRD", body_size=10, chunk=10)
        expect(value == value2, "header differs between messages")
    finally:
        m.quit()
    print("abort mid-message, then two messages on the same connection: both passed untouched")


def scenario_sequential(args):
    start = time.time()
    for n in range(args.count):
        session(args.socket, "QSEQ%d-" % n, body_size=args.body_size)
    print("%d sequential connections, one message each: all answered (untouched) (%.1fs)"
          % (args.count, time.time() - start))


def scenario_concurrent(args):
    errors = []
    barrier = threading.Barrier(args.count)

    def worker(n):
        try:
            m = Milter(args.socket)
            try:
                expect(m.connect() == "continue", "connect not continued")
                barrier.wait(timeout=60)  # all connections open at once
                for r in range(args.rounds):
                    one_message(m, "QCON%d-%d" % (n, r), body_size=args.body_size, chunk=16384)
            finally:
                m.quit()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append("connection %d: %s" % (n, error))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.count)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise MilterError("; ".join(errors[:5]))
    print("%d concurrent connections x %d messages: all answered (untouched) (%.1fs)"
          % (args.count, args.rounds, time.time() - start))


def scenario_refuse(args):
    """An MTA that does not offer add-header must be refused at negotiation."""
    try:
        m = Milter(args.socket, actions=SMFIF_ALL & ~SMFIF_ADDHDRS)
    except (MilterError, ConnectionError, socket.timeout) as error:
        print("MTA without add-header refused at negotiation (%s)" % error)
        return
    m.quit()
    raise MilterError("negotiation succeeded without the add-header action (actions 0x%x)" % m.actions)


def scenario_drop(args):
    """Connections dropped mid-message (no abort, no quit)."""
    for n in range(args.count):
        m = Milter(args.socket)
        m.connect()
        m.mail("<a@example.org>", (), {"i": "QDROP%d" % n})
        m.rcpt("<b@example.net>")
        m.header("Subject", "dropped")
        m.header(*SMIME)
        m.eoh()
        remaining = args.body_size
        while remaining > 0:
            m.body(b"y" * min(60000, remaining))
            remaining -= 60000
        m.sock.close()
    print("%d connections dropped mid-message" % args.count)


def scenario_inflight(args):
    """A message in progress while the daemon gets a signal still completes."""
    m = Milter(args.socket)
    try:
        expect(m.connect() == "continue", "connect not continued")
        expect(m.mail("<a@example.org>", (), {"i": "QINFLIGHT"}) == "continue", "MAIL not continued")
        expect(m.rcpt("<b@example.net>") == "continue", "RCPT not continued")
        expect(m.header("Subject", "in flight") == "continue", "header not continued")
        expect(m.header(*SMIME) == "continue", "Content-Type not continued")
        os.kill(args.pid, getattr(signal, "SIG" + args.signal))
        time.sleep(args.wait)
        expect(m.eoh() == "continue", "EOH not continued")
        expect(m.body(b"body in flight\r\n") == "continue", "body not continued")
        status, mods = m.eom({"i": "QINFLIGHT"})
        expect(status == "continue", "end of message answered %s" % status)
        expect(mods == [], "the in-flight message was modified: %r" % (mods,))
    finally:
        m.quit()
    print("message in flight across SIG%s completed (untouched)" % args.signal)


def scenario_tempfail(args):
    """A body the daemon cannot spool (failure injected by the caller) must be
    answered with tempfail, and the daemon must go on serving."""
    m = Milter(args.socket)
    try:
        expect(m.connect() == "continue", "connect not continued")
        expect(m.mail("<a@example.org>", (), {"i": "QFAIL"}) == "continue", "MAIL not continued")
        expect(m.rcpt("<b@example.net>") == "continue", "RCPT not continued")
        expect(m.header("Subject", "cannot spool") == "continue", "header not continued")
        expect(m.header(*SMIME) == "continue", "Content-Type not continued")
        expect(m.eoh() == "continue", "EOH not continued")
        answers = []
        remaining = args.body_size
        while remaining > 0:
            answers.append(m.body(b"z" * min(60000, remaining)))
            remaining -= 60000
            if answers[-1] != "continue":
                break
        expect(answers[-1] == "tempfail", "body answers %r, expected a tempfail" % answers[-3:])
    finally:
        m.quit()
    print("unspoolable body answered with tempfail after %d chunk(s)" % len(answers))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("socket")
    parser.add_argument("scenario", choices=["message", "early", "abort", "sequential", "concurrent",
                                             "refuse", "drop", "inflight", "tempfail"])
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--body-size", type=int, default=200)
    parser.add_argument("--chunk", type=int, default=65535)
    parser.add_argument("--pid", type=int, default=0)
    parser.add_argument("--signal", default="USR1")
    parser.add_argument("--wait", type=float, default=1.0)
    args = parser.parse_args()
    try:
        globals()["scenario_" + args.scenario](args)
    except (MilterError, OSError, threading.BrokenBarrierError) as error:
        print("FAIL %s: %s" % (args.scenario, error))
        sys.exit(1)


if __name__ == "__main__":
    main()
