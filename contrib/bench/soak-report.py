#!/usr/bin/env python3
"""Reads the soak benchmark's samples (contrib/bench/soak.sh, samples.csv:
one row every ~10 s with the RSS in kB and the open descriptors of both
milters and the broker; the last row is taken once the load is over, the
queues are empty and the milters had 40 s to give back free memory) and
prints, per daemon, the RSS and fds in 2-minute windows as min/median/max,
for the two phases of the run:

  load    from 60 s (warm-up) to the end of the load;
  drain   from 120 s after the load (the change from one to the other) while
          A's queue still holds sealed mail that B opens: on a 2-core machine
          A's queue grows under load, and once the load stops B opens faster,
          with more messages in flight at once, so its RSS steps up to a new
          level; what matters is that it does not creep within a phase.

and a verdict:

  flat   RSS: within each phase, the median of its last window is within
         15% of its first window's (memory does not creep with the number
         of messages handled), and the settled RSS is no higher than the
         highest RSS seen (nothing accumulates once the work is done); fds:
         settled within 5 of the idle count before the load, and under load
         never above twice the first window's maximum.

    soak-report.py samples.csv LOAD_SECONDS
"""
import csv
import statistics
import sys

rows = list(csv.DictReader(open(sys.argv[1])))
load_seconds = float(sys.argv[2])
settled = rows[-1]
body = rows[:-1]
phases = {
    "load": [r for r in body if 60 <= int(r["t"]) <= load_seconds],
    "drain": [r for r in body if int(r["t"]) > load_seconds + 120],
}


def windows(samples, name, start, end):
    out = []
    t = start
    while t <= end:
        w = [r for r in samples if t <= int(r["t"]) < t + 120]
        if w:
            out.append((t, [int(r[name + "_rss_kb"]) // 1024 for r in w], [int(r[name + "_fds"]) for r in w]))
        t += 120
    return out


ok = True
for name in ("milterA", "milterB", "broker"):
    load = windows(phases["load"], name, 60, int(load_seconds))
    if not load:
        continue
    drain_rows = phases["drain"]
    drain = windows(drain_rows, name, int(load_seconds) + 121, max([int(r["t"]) for r in drain_rows] or [0]))
    flat = True
    print(f"{name}: RSS MB (min/median/max) and fds (min-max) per 2 minutes:")
    for phase, ws in (("load", load), ("drain", drain)):
        for start, rss, fds in ws:
            print(f"  {phase:<5} {start:>4}-{start + 120:<4} s  RSS {min(rss)}/{int(statistics.median(rss))}/{max(rss)}  fds {min(fds)}-{max(fds)}")
        if len(ws) >= 2:
            creep = statistics.median(ws[-1][1]) / max(1, statistics.median(ws[0][1]))
            print(f"        {phase}: last window's median RSS / first's = {creep:.2f}")
            flat = flat and creep <= 1.15
    highest = max(int(r[name + "_rss_kb"]) // 1024 for r in body)
    settled_rss = int(settled[name + "_rss_kb"]) // 1024
    settled_fds = int(settled[name + "_fds"])
    idle_fds = int(rows[0][name + "_fds"])
    flat = (flat and settled_rss <= highest and settled_fds <= idle_fds + 5
            and all(max(w[2]) <= 2 * max(load[0][2]) for w in load))
    ok = ok and flat
    print(f"  idle before the load: RSS {int(rows[0][name + '_rss_kb']) // 1024} MB, fds {idle_fds}; "
          f"settled after the work: RSS {settled_rss} MB (highest {highest}), fds {settled_fds}  -> {'flat' if flat else 'NOT flat'}")
print("memory and descriptors flat after warm-up:", "yes" if ok else "NO")
