#!/usr/bin/env python3
"""Load generator for the FedMail broker's POST /v1/tokens (mutual TLS, keep-alive).

Usage: broker-load.py URL CA CERT KEY SECONDS CONNECTIONS DOMAIN[,DOMAIN...]
Prints one JSON line: requests, tokens, seconds, requests/s, tokens/s, p50/p99 latency (ms), errors.
"""
import http.client
import json
import ssl
import sys
import threading
import time
from urllib.parse import urlparse

url, ca, cert, key, seconds, connections, domains = sys.argv[1:8]
seconds = float(seconds)
connections = int(connections)
domains = domains.split(",")
target = urlparse(url)
context = ssl.create_default_context(cafile=ca)
context.load_cert_chain(cert, key)
body = json.dumps({"domains": domains, "mode": "direct"}).encode()
latencies = []
tokens = [0]
errors = [0]
lock = threading.Lock()
deadline = time.monotonic() + seconds


def worker():
    conn = http.client.HTTPSConnection(target.hostname, target.port, context=context, timeout=30)
    mine = []
    my_tokens = 0
    my_errors = 0
    while time.monotonic() < deadline:
        start = time.perf_counter()
        try:
            conn.request("POST", "/v1/tokens", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
            elapsed = time.perf_counter() - start
            if response.status != 200:
                my_errors += 1
                continue
            results = json.loads(data)["results"]
            my_tokens += sum(1 for r in results if r["status"] == "ok")
            mine.append(elapsed)
        except Exception:
            my_errors += 1
            conn.close()
            conn = http.client.HTTPSConnection(target.hostname, target.port, context=context, timeout=30)
    with lock:
        latencies.extend(mine)
        tokens[0] += my_tokens
        errors[0] += my_errors


started = time.monotonic()
threads = [threading.Thread(target=worker) for _ in range(connections)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - started
latencies.sort()


def percentile(p):
    if not latencies:
        return float("nan")
    return latencies[min(len(latencies) - 1, int(p / 100.0 * len(latencies)))] * 1000


print(json.dumps({
    "domains_per_request": len(domains),
    "connections": connections,
    "requests": len(latencies),
    "tokens": tokens[0],
    "seconds": round(elapsed, 2),
    "requests_per_second": round(len(latencies) / elapsed, 1),
    "tokens_per_second": round(tokens[0] / elapsed, 1),
    "p50_ms": round(percentile(50), 2),
    "p99_ms": round(percentile(99), 2),
    "errors": errors[0],
}))
