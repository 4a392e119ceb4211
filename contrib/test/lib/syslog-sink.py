#!/usr/bin/env python3
"""A minimal syslog receiver for test MTAs that log only to syslog.

    syslog-sink.py SOCKET LOGFILE

Binds a unix datagram socket at SOCKET (mode 0666) and appends every
message it receives to LOGFILE, one line each. contrib/test/lib/sendmail.sh
mounts SOCKET on /dev/log inside a private Sendmail's mount namespace.
"""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
os.chmod(path, 0o666)
with open(out, "ab", buffering=0) as log:
    while True:
        data = sock.recv(65536)
        log.write(data.rstrip(b"\0\n") + b"\n")
