#!/usr/bin/env python3
"""Samples the RSS of named processes to a CSV, and fits its slope.

Usage:
  rss.py sample CSV INTERVAL_S [--counts URL] NAME=PID ...
      Every INTERVAL_S seconds appends one row per process: minute, name, pid, rss_kb
      (VmRSS), hwm_kb (VmHWM), cpu_s (user+sys so far), fds (open files), anon_kb (RssAnon:
      VmRSS less the pages of files, such as the binary, that processes share); with --counts, also a row
      named "sim-count" whose rss_kb column holds the simulator's total count (GET URL,
      JSON {"total": N}). Stops when every process has exited. Rows are flushed at once,
      so a run cut short leaves its samples.
  rss.py slope CSV [--from-minute M]
      Least-squares slope of rss_kb over time (KB/min) per process, over all its samples
      and over those at or after minute M (default 5), and the first and last RSS.
"""
import json
import os
import sys
import time
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")


def proc(pid):
    """(rss_kb, hwm_kb, cpu_s, fds, anon_kb) of a live process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        if fields[0] == "Z":
            return None
        cpu = (int(fields[11]) + int(fields[12])) / TICK
        rss = hwm = anon = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
                elif line.startswith("RssAnon:"):
                    anon = int(line.split()[1])
        try:
            fds = len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            fds = -1
        return rss, hwm, cpu, fds, anon
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return None


def sample(csv, interval, args):
    counts = None
    if args and args[0] == "--counts":
        counts, args = args[1], args[2:]
    procs = [(a.split("=", 1)[0], int(a.split("=", 1)[1])) for a in args]
    start = time.monotonic()
    with open(csv, "w") as out:
        out.write("minute,name,pid,rss_kb,hwm_kb,cpu_s,fds,anon_kb\n")
        out.flush()
        while True:
            minute = (time.monotonic() - start) / 60
            alive = 0
            for name, pid in procs:
                p = proc(pid)
                if p is None:
                    continue
                alive += 1
                out.write(f"{minute:.3f},{name},{pid},{p[0]},{p[1]},{p[2]:.2f},{p[3]},{p[4]}\n")
            if counts and alive:
                try:
                    with urllib.request.urlopen(counts, timeout=5) as r:
                        total = json.load(r)["total"]
                    out.write(f"{minute:.3f},sim-count,0,{total},0,0,0,0\n")
                except OSError:
                    pass
            out.flush()
            if not alive:
                return
            # Sleep to the next tick, checking every second whether everything has exited.
            target = start + (int(minute * 60 / interval) + 1) * interval
            while time.monotonic() < target:
                if all(proc(pid) is None for _, pid in procs):
                    return
                time.sleep(min(1.0, max(0.0, target - time.monotonic())))


def fit(points):
    """Least-squares slope of (x, y) points, or None with fewer than two."""
    n = len(points)
    if n < 2:
        return None
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def slope(csv, args):
    start_minute = float(args[1]) if len(args) > 1 and args[0] == "--from-minute" else 5.0
    series = {}
    with open(csv) as f:
        next(f)
        for line in f:
            minute, name, _pid, rss, *_ = line.strip().split(",")
            if int(rss) == 0 and name != "sim-count":
                continue  # a process caught while exiting, its memory already released
            series.setdefault(name, []).append((float(minute), int(rss)))
    for name, pts in series.items():
        if name == "sim-count":
            continue
        late = [p for p in pts if p[0] >= start_minute]
        all_s, late_s = fit(pts), fit(late)
        fmt = lambda s: "n/a" if s is None else f"{s:+.1f}"
        print(f"{name}: {len(pts)} samples over {pts[-1][0]:.1f} min, RSS {pts[0][1] / 1024:.1f} MB"
              f" -> {pts[-1][1] / 1024:.1f} MB (max {max(p[1] for p in pts) / 1024:.1f} MB),"
              f" slope {fmt(all_s)} KB/min (all), {fmt(late_s)} KB/min (from minute"
              f" {start_minute:g}, {len(late)} samples)")
    sim = series.get("sim-count", [])
    if len(sim) >= 2:
        rates = [(b[1] - a[1]) / ((b[0] - a[0]) * 60) for a, b in zip(sim, sim[1:]) if b[0] > a[0]]
        print(f"simulator: {sim[-1][1]} requests by minute {sim[-1][0]:.1f}; per-minute rate"
              f" min {min(rates):.0f}, median {sorted(rates)[len(rates) // 2]:.0f},"
              f" max {max(rates):.0f} req/s")


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "sample":
        sample(sys.argv[2], float(sys.argv[3]), sys.argv[4:])
    elif len(sys.argv) >= 3 and sys.argv[1] == "slope":
        slope(sys.argv[2], sys.argv[3:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
