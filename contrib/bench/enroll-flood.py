#!/usr/bin/env python3
"""Enrollment flood for the FedMail broker: CLIENTS threads POST /v1/enrollments
as fast as the broker answers (keep-alive, reconnecting after errors), each with
its own organization name and domain, for SECONDS.

Usage: enroll-flood.py URL CA CSR.pem SECONDS CLIENTS
Prints one JSON line: requests, requests/s, answers by HTTP status, connection errors.
"""
import collections
import http.client
import json
import ssl
import sys
import threading
import time
from urllib.parse import urlparse

url, ca, csr_path, seconds, clients = sys.argv[1:6]
seconds = float(seconds)
clients = int(clients)
target = urlparse(url)
context = ssl.create_default_context(cafile=ca)
csr = open(csr_path).read()
statuses = collections.Counter()
errors = [0]
lock = threading.Lock()
deadline = time.monotonic() + seconds


def connect():
    return http.client.HTTPSConnection(target.hostname, target.port, context=context, timeout=30)


def worker(index):
    conn = connect()
    mine = collections.Counter()
    my_errors = 0
    n = 0
    while time.monotonic() < deadline:
        n += 1
        body = json.dumps({"organization": f"flood{index}x{n}", "domains": [f"f{index}x{n}.flood.example"], "csr": csr}).encode()
        try:
            conn.request("POST", "/v1/enrollments", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            mine[response.status] += 1
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = connect()
        except Exception:
            my_errors += 1
            conn.close()
            time.sleep(0.01)
            conn = connect()
    with lock:
        statuses.update(mine)
        errors[0] += my_errors


started = time.monotonic()
threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - started
total = sum(statuses.values())
print(json.dumps({
    "clients": clients,
    "requests": total,
    "seconds": round(elapsed, 2),
    "requests_per_second": round(total / elapsed, 1),
    "by_status": {str(k): v for k, v in sorted(statuses.items())},
    "connection_errors": errors[0],
}))
