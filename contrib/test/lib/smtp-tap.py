#!/usr/bin/env python3
"""A transparent SMTP wiretap for the federation tests and the demo.

    smtp-tap.py LISTEN_HOST:PORT UPSTREAM_HOST:PORT SOURCE_ADDR DIR

Listens on LISTEN_HOST:PORT; every connection is relayed byte for byte to
UPSTREAM_HOST:PORT, connecting from SOURCE_ADDR (so the upstream server sees
the sending gateway's own address). What the client sends is recorded:
DIR/conn-N.log is the raw client->server stream, and each message of the
session (the DATA payload, dot-unstuffed, up to but excluding the final
".") is written to DIR/msg-N-M.eml with its envelope in DIR/msg-N-M.env
("MAIL FROM:<...>" and one "RCPT TO:<...>" line each).

Failure injection for the tests (labeled as such, the only thing the tap
ever changes): while the file DIR/tamper exists, the tap changes one
character in the middle of line L of the next message body it relays, where
L is the number in DIR/tamper (default 5), then removes DIR/tamper. The recorded .eml is the
unmodified message as the client sent it; DIR/msg-N-M.tampered marks it.
Likewise, while the file DIR/tamper-header exists, the tap appends
" (altered in transit)" to the first line of the header field named in it
(default Subject) of the next message, then removes DIR/tamper-header: the
body (a seal) is untouched, a DKIM signature covering that field breaks.

The client must not use BDAT (the tests set smtp_discard_ehlo_keywords =
chunking on the sending Postfix): DATA is line-oriented.
"""
import os
import socket
import sys
import threading

listen, upstream, source, directory = sys.argv[1:5]
lhost, lport = listen.rsplit(":", 1)
uhost, uport = upstream.rsplit(":", 1)
counter = [0]
lock = threading.Lock()


def pump_down(server, client):
    try:
        while True:
            data = server.recv(65536)
            if not data:
                break
            client.sendall(data)
    except OSError:
        pass
    finally:
        try:
            client.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def tamper_line(line):
    body = line.rstrip(b"\r\n")
    end = line[len(body):]
    if not body:
        return b"X" + end
    i = len(body) // 2
    c = body[i:i + 1]
    repl = b"B" if c != b"B" else b"C"
    return body[:i] + repl + body[i + 1:] + end


def handle(client, n):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        server.bind((source, 0))
        server.connect((uhost, int(uport)))
    except OSError as e:
        sys.stderr.write("smtp-tap: upstream %s: %s\n" % (upstream, e))
        client.close()
        return
    down = threading.Thread(target=pump_down, args=(server, client), daemon=True)
    down.start()
    log = open(os.path.join(directory, "conn-%d.log" % n), "wb")
    reader = client.makefile("rb")
    in_data = False
    envelope = []
    message = []
    count = 0
    tamper = False
    tamper_at = 5
    tamper_field = None
    header_tampered = False
    body_line = -1
    try:
        while True:
            line = reader.readline()
            if not line:
                break
            log.write(line)
            log.flush()
            out = line
            if in_data:
                if line in (b".\r\n", b".\n"):
                    in_data = False
                    count += 1
                    base = os.path.join(directory, "msg-%d-%d" % (n, count))
                    with open(base + ".eml", "wb") as f:
                        f.write(b"".join(message))
                    with open(base + ".env", "wb") as f:
                        f.write(b"".join(envelope))
                    if tamper or header_tampered:
                        open(base + ".tampered", "w").close()
                    envelope, message, tamper = [], [], False
                    tamper_field, header_tampered = None, False
                else:
                    unstuffed = line[1:] if line.startswith(b".") else line
                    message.append(unstuffed)
                    if body_line >= 0:
                        body_line += 1
                    elif unstuffed in (b"\r\n", b"\n"):
                        body_line = 0
                    if body_line == tamper_at and tamper:
                        out = tamper_line(line)
                    if tamper_field and body_line < 0 and unstuffed[:1] not in (b" ", b"\t") and \
                            unstuffed.split(b":", 1)[0].strip().lower() == tamper_field:
                        body = line.rstrip(b"\r\n")
                        out = body + b" (altered in transit)" + line[len(body):]
                        tamper_field = None
                        header_tampered = True
            else:
                upper = line.upper()
                if upper.startswith(b"MAIL FROM:"):
                    envelope = [line]
                elif upper.startswith(b"RCPT TO:"):
                    envelope.append(line)
                elif upper.startswith(b"DATA"):
                    in_data = True
                    message = []
                    body_line = -1
                    flag = os.path.join(directory, "tamper")
                    if os.path.exists(flag):
                        tamper = True
                        try:
                            tamper_at = int(open(flag).read().strip() or "5")
                        except ValueError:
                            tamper_at = 5
                        os.unlink(flag)
                    hflag = os.path.join(directory, "tamper-header")
                    if os.path.exists(hflag):
                        name = open(hflag).read().strip() or "Subject"
                        tamper_field = name.lower().encode()
                        os.unlink(hflag)
            server.sendall(out)
    except OSError:
        pass
    finally:
        log.close()
        try:
            server.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        down.join(30)
        server.close()
        client.close()


def main():
    os.makedirs(directory, exist_ok=True)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((lhost, int(lport)))
    s.listen(64)
    open(os.path.join(directory, "ready"), "w").close()
    while True:
        client, _ = s.accept()
        with lock:
            counter[0] += 1
            n = counter[0]
        threading.Thread(target=handle, args=(client, n), daemon=True).start()


if __name__ == "__main__":
    main()
