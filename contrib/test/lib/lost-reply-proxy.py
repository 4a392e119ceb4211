#!/usr/bin/env python3
"""TEST DOUBLE for failure injection (never used in production): an SMTP
proxy in front of a real re-injection service (a Postfix smtpd) that loses
the service's reply to the end of data, the way a service terminated after
it queued a message and before it said so does (RFC 1047).

    lost-reply-proxy.py LISTEN_HOST:PORT UPSTREAM_HOST:PORT LOG_FILE

Every command and reply is relayed unchanged, line by line. After the
client's end of data (".") the proxy waits for the service's reply; the
first time a message is seen (keyed by its Message-ID field, else by its
bytes) it then closes both connections without relaying that reply, and
logs "lost <code> <key>"; a message seen before gets the reply ("relayed
<code> <key>"). So the service has queued the first copy, and the client
does not know it. Writes LOG_FILE.ready when it accepts connections.
"""
import hashlib
import socket
import sys
import threading

listen, upstream, log_path = sys.argv[1:4]
lhost, lport = listen.rsplit(":", 1)
uhost, uport = upstream.rsplit(":", 1)
seen = set()
lock = threading.Lock()


def log(line):
    with lock, open(log_path, "a") as f:
        f.write(line + "\n")


def reply(server_file):
    """One SMTP reply (all its lines), as bytes."""
    out = b""
    while True:
        line = server_file.readline()
        if not line:
            return out
        out += line
        if len(line) < 4 or line[3:4] != b"-":
            return out


def handle(client):
    server = socket.create_connection((uhost, int(uport)), timeout=60)
    cf, sf = client.makefile("rb"), server.makefile("rb")
    try:
        client.sendall(reply(sf))  # greeting
        while True:
            line = cf.readline()
            if not line:
                return
            server.sendall(line)
            answer = reply(sf)
            client.sendall(answer)
            if line.upper().startswith(b"DATA") and answer.startswith(b"354"):
                data = b""
                while True:
                    chunk = cf.readline()
                    if not chunk:
                        return
                    server.sendall(chunk)
                    if chunk in (b".\r\n", b".\n"):
                        break
                    data += chunk
                end = reply(sf)
                key = None
                for header in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
                    if header.lower().startswith(b"message-id:"):
                        key = header[11:].strip().decode("latin-1")
                        break
                key = key or hashlib.sha256(data).hexdigest()
                with lock:
                    first = key not in seen
                    seen.add(key)
                code = end[:3].decode("latin-1")
                if first:
                    log("lost %s %s" % (code, key))
                    return  # both connections close; the reply never reaches the client
                log("relayed %s %s" % (code, key))
                client.sendall(end)
    except OSError:
        pass
    finally:
        for s in (client, server):
            try:
                s.close()
            except OSError:
                pass


def main():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((lhost, int(lport)))
    listener.listen(64)
    open(log_path + ".ready", "w").close()
    while True:
        client, _ = listener.accept()
        threading.Thread(target=handle, args=(client,), daemon=True).start()


main()
