#!/usr/bin/env python3
"""Samples a process from /proc until it exits: peak and last RSS, CPU use.

Usage: sample.py PID [--skip SECONDS]
Prints one JSON line: {"peak_rss_mb", "last_rss_mb", "cpu_percent", "seconds"}.
CPU percent is over the sampled window after --skip (100 = one core busy).
"""
import json
import os
import sys
import time

pid = int(sys.argv[1])
skip = float(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--skip" else 0.0
tick = os.sysconf("SC_CLK_TCK")


def read():
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / tick
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
    return time.monotonic(), cpu, rss


start = None
last = None
peak = 0.0
began = time.monotonic()
while True:
    try:
        sample = read()
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        break
    peak = max(peak, sample[2])
    if start is None and sample[0] - began >= skip:
        start = sample
    last = sample
    time.sleep(0.2)

if start is None or last is None or last[0] <= start[0]:
    print(json.dumps({"error": "process ended before sampling"}))
    sys.exit(1)
print(json.dumps({
    "peak_rss_mb": round(peak, 1),
    "last_rss_mb": round(last[2], 1),
    "cpu_percent": round(100 * (last[1] - start[1]) / (last[0] - start[0]), 1),
    "seconds": round(last[0] - start[0], 1),
}))
