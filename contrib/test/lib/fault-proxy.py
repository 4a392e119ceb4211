#!/usr/bin/env python3
"""TEST DOUBLE for failure injection (never used in production): a TCP
proxy between a client and a real service whose behaviour is switched by a
control file, so a test can make the service look stopped, hung or slow
without touching it.

    fault-proxy.py LISTEN_HOST:PORT UPSTREAM_HOST:PORT CONTROL_FILE

CONTROL_FILE holds one word (read at every new connection; missing = pass):
    pass        relay bytes both ways, unchanged (TLS passes through)
    down        accept and close at once (the service refuses to talk)
    hang        accept and never answer, never forward
    slow N      wait N seconds (a float), then relay as in pass
The mode applies to connections already open too (clients that pool
connections, like the milter's HTTPS client, meet the fault as well): while
"hang", what the client sends is held back (never forwarded); while
"slow N", each chunk the client sends waits N seconds first. Writes its
listening address to CONTROL_FILE.ready when it accepts connections.
"""
import os
import socket
import sys
import threading
import time

listen, upstream, control = sys.argv[1:4]
lhost, lport = listen.rsplit(":", 1)
uhost, uport = upstream.rsplit(":", 1)
hung = []


def mode():
    try:
        with open(control) as f:
            words = f.read().split()
    except OSError:
        return ("pass", 0.0)
    if not words:
        return ("pass", 0.0)
    if words[0] == "slow":
        return ("slow", float(words[1]) if len(words) > 1 else 10.0)
    return (words[0], 0.0)


def pipe(a, b, client_side):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            if client_side:
                kind, delay = mode()
                if kind == "hang":
                    while True:  # held: the connection stays open, nothing moves
                        time.sleep(3600)
                if kind == "slow":
                    time.sleep(delay)
                if kind == "down":
                    break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(client):
    kind, delay = mode()
    if kind == "down":
        client.close()
        return
    if kind == "hang":
        hung.append(client)  # kept open, never read, never answered
        return
    if kind == "slow":
        time.sleep(delay)
    try:
        server = socket.create_connection((uhost, int(uport)), timeout=10)
        server.settimeout(None)
    except OSError:
        client.close()
        return
    threading.Thread(target=pipe, args=(client, server, True), daemon=True).start()
    threading.Thread(target=pipe, args=(server, client, False), daemon=True).start()


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((lhost, int(lport)))
listener.listen(128)
with open(control + ".ready", "w") as f:
    f.write(listen + "\n")
while True:
    conn, _ = listener.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
