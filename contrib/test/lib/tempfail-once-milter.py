#!/usr/bin/python3
"""TEST DOUBLE for failure injection (never used in production): a milter
that runs after fedmail-milter in smtpd_milters and tempfails the FIRST
attempt of every message at end of message (451 4.3.0), then accepts the
same message (same Message-ID) when the client tries again. It stands for
any later filter that fails after FedMail already acted: the client's
retry must not give a recipient a second copy.

    tempfail-once-milter.py SOCKET LOGFILE

SOCKET: a libmilter socket spec (unix:/path or inet:port@host). Every
decision is appended to LOGFILE ("tempfail <message-id>" / "accept
<message-id>"). Uses Debian's python3-milter (pymilter), hence
/usr/bin/python3.
"""
import sys
import threading

import Milter

socket_spec, logfile = sys.argv[1:3]
seen = set()
lock = threading.Lock()


def log(line):
    with lock:
        with open(logfile, "a") as f:
            f.write(line + "\n")


class TempfailOnce(Milter.Base):
    def __init__(self):
        self.message_id = None

    @Milter.noreply
    def envfrom(self, sender, *params):
        self.message_id = None
        return Milter.CONTINUE

    @Milter.noreply
    def header(self, name, value):
        if name.lower() == "message-id":
            self.message_id = value.strip()
        return Milter.CONTINUE

    def eom(self):
        key = self.message_id or "(none)"
        with lock:
            first = key not in seen
            seen.add(key)
        if first:
            log("tempfail " + key)
            self.setreply("451", "4.3.0", "tempfail-once test milter: try again")
            return Milter.TEMPFAIL
        log("accept " + key)
        return Milter.ACCEPT


Milter.factory = TempfailOnce
Milter.set_flags(0)
Milter.runmilter("tempfail-once", socket_spec, 60)
