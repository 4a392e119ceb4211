#!/usr/bin/env python3
"""Reads the soak benchmark's samples (contrib/bench/soak.sh, samples.csv:
one row every ~10 s with the RSS in kB and the open descriptors of both
milters and the broker) and prints, per daemon, the RSS and fds in 2-minute
windows of the loaded run (after a 60 s warm-up) as min/median/max, the
last sample once the load and the queues were done, and a verdict:

  flat   RSS: the median of the last loaded window is within 15% of the
         first one's, and after the load the RSS is no higher than the first
         window's maximum; fds (which follow the sessions in flight under
         load): after the load back within 5 of the idle count before it,
         and under load never above twice the first window's maximum.

    soak-report.py samples.csv LOAD_SECONDS
"""
import csv
import statistics
import sys

rows = list(csv.DictReader(open(sys.argv[1])))
load_seconds = float(sys.argv[2])
loaded = [r for r in rows if 60 <= int(r["t"]) <= load_seconds]
after = [r for r in rows if int(r["t"]) > load_seconds] or rows[-1:]
ok = True
for name in ("milterA", "milterB", "broker"):
    windows = []
    for start in range(60, int(load_seconds) + 1, 120):
        w = [r for r in loaded if start <= int(r["t"]) < start + 120]
        if w:
            rss = [int(r[name + "_rss_kb"]) // 1024 for r in w]
            fds = [int(r[name + "_fds"]) for r in w]
            windows.append((start, rss, fds))
    if not windows:
        continue
    print(f"{name}: RSS MB (min/median/max) and fds (min-max) per 2 minutes under load:")
    for start, rss, fds in windows:
        print(f"  {start:>4}-{start + 120:<4} s  RSS {min(rss)}/{int(statistics.median(rss))}/{max(rss)}  fds {min(fds)}-{max(fds)}")
    last_rss = int(after[-1][name + "_rss_kb"]) // 1024
    last_fds = int(after[-1][name + "_fds"])
    first, last = windows[0], windows[-1]
    idle_fds = int(rows[0][name + "_fds"])
    flat = (statistics.median(last[1]) <= statistics.median(first[1]) * 1.15 and last_rss <= max(first[1])
            and last_fds <= idle_fds + 5 and all(max(w[2]) <= 2 * max(first[2]) for w in windows))
    ok = ok and flat
    print(f"  idle before the load: fds {idle_fds}; after the load: RSS {last_rss} MB, fds {last_fds}  -> {'flat' if flat else 'NOT flat'}")
print("memory and descriptors flat after warm-up:", "yes" if ok else "NO")
