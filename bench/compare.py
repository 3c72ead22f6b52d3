#!/usr/bin/env python3
"""Helpers of bench/compare.sh: parse each tool's output, print the comparison tables.

  compare.py parse TOOL OUTPUT SAMPLE KEY=VALUE...   one JSON result line on stdout
  compare.py table MODE RESULTS.jsonl                the table of a mode (throughput,
                                                     latency, memory, open)
  compare.py seen STATUS_URL PID FROM TO             nginx's request rate between FROM and
                                                     TO seconds from now, and the CPU % of
                                                     its worker process PID, as JSON

TOOL is lv (lv-one, lv-own, lv-big, lv-open), wrk, wrk2, oha, goose, locust or locust-fast;
OUTPUT is the file the tool's numbers are read from (lv: the master's --json; wrk and wrk2:
their stdout; oha: its
JSON; goose: its --report-file JSON; locust: the PREFIX_stats.csv); SAMPLE is
bench/sample.py's JSON line, and SAMPLE.seen, when there is one, the output of `seen`.
KEY=VALUE pairs (mode, round, users, note, ...) are copied into the result.
"""
import csv
import json
import os
import re
import statistics
import sys
import time
import urllib.request


def parse_lv(path):
    total = json.load(open(path))["total"]
    if total["requests"] == 0:
        return {"requests": 0, "failures": total["failures"],
                "error": "lv sent no request (see lv's lines below the table)"}
    return {"rps": total["rps"], "p50_ms": total["p50_ms"], "p99_ms": total["p99_ms"],
            "requests": total["requests"], "failures": total["failures"]}


def wrk_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk_failures(text):
    """Failed requests as wrk and wrk2 print them: non-2xx/3xx answers plus socket errors."""
    failures = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        failures += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        failures += sum(int(g) for g in m.groups())
    return failures


def parse_wrk(path):
    text = open(path).read()
    out = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}
    for pct in ("50", "99"):
        out[f"p{pct}_ms"] = wrk_ms(re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M).group(1))
    out["requests"] = int(re.search(r"(\d+) requests in", text).group(1))
    out["failures"] = wrk_failures(text)
    return out


def parse_wrk2(path):
    """wrk2's --latency output: achieved rate and the corrected percentiles (from each
    request's intended start, as lv's open-model response time)."""
    text = open(path).read()
    out = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}
    spectrum = text.split("Latency Distribution (HdrHistogram - Recorded Latency)", 1)[1]
    for label, pct in (("p50_ms", "50.000"), ("p99_ms", "99.000"), ("p999_ms", "99.900")):
        out[label] = wrk_ms(re.search(rf"^\s+{re.escape(pct)}%\s+(\S+)", spectrum, re.M).group(1))
    out["requests"] = int(re.search(r"(\d+) requests in", text).group(1))
    out["failures"] = wrk_failures(text)
    return out


def parse_lv_open(path):
    """lv's open-model JSON: achieved arrival rate, response times from the planned instant,
    and the schedule lag."""
    summary = json.load(open(path))
    total, open_ = summary["total"], summary["open"]
    pct = total.get("percentiles_ms") or []
    # Achieved: arrivals started per second of the schedule (total.rps also counts the
    # seconds before the first arrival).
    return {"rps": open_["achieved_rate"], "p50_ms": total["p50_ms"], "p99_ms": total["p99_ms"],
            "p999_ms": pct[8] if len(pct) > 8 else None, "requests": total["requests"],
            "failures": total["failures"], "planned": open_["planned"],
            "started": open_["started"], "dropped": open_["dropped"],
            "achieved_rate": open_["achieved_rate"], "lag_p99_ms": open_["lag_p99_ms"],
            "generator_limited": open_["generator_limited"]}


def parse_oha(path):
    report = json.load(open(path))
    summary, pct = report["summary"], report["latencyPercentiles"]
    statuses = report.get("statusCodeDistribution", {})
    ok = sum(n for code, n in statuses.items() if str(code).startswith("2"))
    # Requests cut off at the deadline (-z) are not failures.
    errors = sum(n for e, n in report.get("errorDistribution", {}).items()
                 if "deadline" not in e)
    total = sum(statuses.values()) + errors
    return {"rps": summary["requestsPerSec"], "p50_ms": pct["p50"] * 1000,
            "p99_ms": pct["p99"] * 1000, "requests": total, "failures": total - ok}


def parse_goose(path):
    # Goose's --report-file JSON: raw_request_metrics has the "Aggregated" row (count,
    # failures, req/s over the time all users ran); the percentiles come from the
    # microsecond histograms (raw_metrics.requests.*.raw_data.times_us) merged, as
    # raw_response_metrics only has whole milliseconds.
    report = json.load(open(path))
    agg = next(r for r in report["raw_request_metrics"] if r["name"] == "Aggregated")
    out = {"rps": agg["requests_per_second"], "requests": agg["number_of_requests"],
           "failures": agg["number_of_failures"]}
    hist = {}
    for request in report["raw_metrics"]["requests"].values():
        for us, n in request["raw_data"].get("times_us", {}).items():
            hist[int(us)] = hist.get(int(us), 0) + n
    total = sum(hist.values())
    if total:
        for pct in (50, 99):
            rank, seen = -(-total * pct // 100), 0
            for us in sorted(hist):
                seen += hist[us]
                if seen >= rank:
                    out[f"p{pct}_ms"] = us / 1000
                    break
    else:
        ms = next(r for r in report["raw_response_metrics"] if r["name"] == "Aggregated")
        out["p50_ms"], out["p99_ms"] = ms["percentile_50"], ms["percentile_99"]
    return out


def parse_locust(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    agg = next(r for r in rows if r["Name"] == "Aggregated")
    return {"rps": float(agg["Requests/s"]), "p50_ms": float(agg["50%"]),
            "p99_ms": float(agg["99%"]), "requests": int(agg["Request Count"]),
            "failures": int(agg["Failure Count"])}


def parse_probe(path):
    """lv-exchange-probe's JSON line: answers, failures (lost connections and answers
    other than 2xx/3xx), and its first error."""
    run = json.loads(open(path).read())
    out = {"rps": run["rps"], "requests": run["requests"],
           "failures": run["errors"] + run["not_ok"]}
    if run.get("first_error"):
        out["error"] = run["first_error"]
    return out


PARSERS = {"lv": parse_lv, "lv-one": parse_lv, "lv-own": parse_lv, "lv-big": parse_lv,
           "wrk": parse_wrk, "oha": parse_oha, "goose": parse_goose, "locust": parse_locust,
           "locust-fast": parse_locust, "wrk2": parse_wrk2, "lv-open": parse_lv_open,
           "probe-epoll": parse_probe, "probe-uring": parse_probe, "probe-multi": parse_probe}
# The tools whose rates are compared with wrk's and oha's.
LV_TOOLS = ("lv", "lv-one", "lv-own")
# lv-exchange-probe's backends: their CPU per request is compared with wrk's and lv's.
PROBES = ("probe-epoll", "probe-uring", "probe-multi")


def nginx_requests(url):
    """Requests nginx has served: the third number of stub_status's third line."""
    with urllib.request.urlopen(url, timeout=5) as answer:
        return int(answer.read().decode().splitlines()[2].split()[2])


def cpu_seconds(pid):
    """User and system CPU time a process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cmd_seen(url, pid, start, end):
    """nginx's rate between START and END seconds from now (its own status requests, one
    per reading, not counted) and how busy its worker process was meanwhile: near 100%
    means the target, not the load generator, set the rate."""
    began = time.monotonic()
    time.sleep(max(0.0, began + start - time.monotonic()))
    t0, n0, c0 = time.monotonic(), nginx_requests(url), cpu_seconds(pid)
    time.sleep(max(0.0, began + end - time.monotonic()))
    t1, n1, c1 = time.monotonic(), nginx_requests(url), cpu_seconds(pid)
    print(json.dumps({"seen_rps": (n1 - n0 - 1) / (t1 - t0), "seen_window_s": t1 - t0,
                      "target_cpu": (c1 - c0) * 100 / (t1 - t0)}))


def cmd_parse(tool, output, sample, pairs):
    result = {"tool": tool}
    for pair in pairs:
        key, _, value = pair.partition("=")
        result[key] = int(value) if value.isdigit() else value
    try:
        result.update(PARSERS[tool](output))
    except Exception as err:  # a tool that failed or printed nothing: say so, go on
        result["error"] = f"no numbers from {tool}'s output ({type(err).__name__}: {err})"
    try:
        s = json.loads(open(sample).read() or "{}")
        if "peak_rss_mb" in s:
            result["cpu"] = s["cpu_percent"]
            result["rss_mb"] = s["peak_rss_mb"]
    except (OSError, ValueError):
        pass
    try:
        result.update(json.loads(open(sample + ".seen").read() or "{}"))
    except (OSError, ValueError):
        pass
    print(json.dumps(result))


def fmt(value, spec, width):
    return f"{value:{width}{spec}}" if isinstance(value, (int, float)) else f"{'-':>{width}}"


def median(values):
    values = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(values) if values else None


def ratio(a, b):
    return a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None


def row(r, label):
    return (f"{r['tool']:<12} {label:>5} {fmt(r.get('rps'), ',.0f', 9)} {fmt(r.get('p50_ms'), '.2f', 7)}"
            f" {fmt(r.get('p99_ms'), '.2f', 7)} {fmt(r.get('cpu'), '.0f', 5)} {fmt(r.get('rss_mb'), '.1f', 7)}"
            f" {fmt(r.get('failures'), 'd', 6)} {fmt(per_core(r), ',.0f', 9)}")


def per_core(r):
    """Requests per second per busy core: req/s over the sampled CPU share."""
    rps, cpu = r.get("rps"), r.get("cpu")
    return rps * 100 / cpu if isinstance(rps, (int, float)) and isinstance(cpu, (int, float)) and cpu else None


def cpu_per_request(r):
    """The load generator's CPU time per request, microseconds: its CPU share over the
    rate the target counted (nginx's, when there is one), so a target-bound run still
    shows what each request cost the tool."""
    if "us_per_req" in r:
        return r["us_per_req"]
    cpu, rps = r.get("cpu"), rate(r)
    if isinstance(cpu, (int, float)) and isinstance(rps, (int, float)) and rps:
        return cpu * 1e4 / rps
    return None


def seen_row(r, label):
    return (row(r, label) + f" {fmt(r.get('seen_rps'), ',.0f', 9)} {fmt(r.get('target_cpu'), '.0f', 6)}"
            f" {fmt(cpu_per_request(r), '.2f', 7)}")


def rate(r):
    """The rate a result is compared by: nginx's count when there is one, else the tool's."""
    return r.get("seen_rps", r.get("rps"))


def table_throughput(results):
    head = (f"{'tool':<12} {'round':>5} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'CPU%':>5}"
            f" {'RSS MB':>7} {'fails':>6} {'req/core':>9} {'seen/s':>9} {'nginx%':>6} {'us/req':>7}"
            f" {'lv/wrk':>6}"
            f" {'lv/oha':>6}")
    print(head)
    print("-" * len(head))
    rounds = sorted({r["round"] for r in results})
    by = {(r["tool"], r["round"]): r for r in results}
    ratios = {(tool, peer): [] for tool in LV_TOOLS for peer in ("wrk", "oha")}
    for rnd in rounds:
        for r in (r for r in results if r["round"] == rnd):
            line = seen_row(r, str(rnd))
            if r["tool"] in LV_TOOLS:
                for peer in ("wrk", "oha"):
                    x = ratio(rate(r), rate(by.get((peer, rnd), {})))
                    ratios[(r["tool"], peer)].append(x)
                    line += f" {fmt(x, '.2f', 6)}"
            if "error" in r:
                line += f"  {r['error']}"
            print(line)
    print("-" * len(head))
    tools = list(dict.fromkeys(r["tool"] for r in results))
    for tool in tools:
        rs = [r for r in results if r["tool"] == tool]
        med = {"tool": tool}
        for key in ("rps", "p50_ms", "p99_ms", "cpu", "rss_mb", "seen_rps", "target_cpu"):
            med[key] = median([r.get(key) for r in rs])
        # The median of the per-run costs, not the cost of the medians.
        med["us_per_req"] = median([cpu_per_request(r) for r in rs])
        med["failures"] = sum(r.get("failures", 0) for r in rs)
        line = seen_row(med, "med")
        if tool in LV_TOOLS:
            for peer in ("wrk", "oha"):
                line += f" {fmt(median(ratios[(tool, peer)]), '.2f', 6)}"
        print(line)
        if tool in LV_TOOLS:
            for peer in ("wrk", "oha"):
                xs = [x for x in ratios[(tool, peer)] if x is not None]
                if xs:
                    print(f"{'':<12} {tool}/{peer} lowest round {min(xs):.2f}, highest {max(xs):.2f}")
    # What the target allowed: wrk's rate over oha's in the same round, for reference.
    xs = [ratio(rate(by[("wrk", rnd)]), rate(by[("oha", rnd)])) for rnd in rounds
          if ("wrk", rnd) in by and ("oha", rnd) in by]
    xs = [x for x in xs if x is not None]
    if xs:
        print(f"{'wrk/oha':<12} per round {', '.join(f'{x:.2f}' for x in xs)} (the same ratio"
              " for wrk itself)")
    print("(median over rounds; fails summed; req/core: req/s per busy core of the load generator,\n"
          " req/s x 100 / CPU%; seen/s: requests nginx served per second in the same steady window\n"
          " of each run; nginx%: CPU % of nginx's worker in that window (near 100: the target set\n"
          " the rate); us/req: the tool's CPU microseconds per request nginx counted (CPU% x 10^4 /\n"
          " seen/s; median of the per-run figures in the med rows); lv/wrk and lv/oha: seen/s ratio\n"
          " within a round)")
    for tool in (t for t in tools if t in LV_TOOLS):
        for peer in ("wrk", "oha"):
            xs = [ratio(cpu_per_request(by[(tool, rnd)]), cpu_per_request(by[(peer, rnd)]))
                  for rnd in rounds if (tool, rnd) in by and (peer, rnd) in by]
            xs = [x for x in xs if x is not None]
            if xs:
                print(f"CPU per request, {tool}/{peer}: per round {', '.join(f'{x:.2f}' for x in xs)},"
                      f" median {statistics.median(xs):.2f}")
    for tool in (t for t in tools if t in PROBES):
        for peer in ("wrk", "lv", "probe-epoll"):
            xs = [ratio(cpu_per_request(by[(tool, rnd)]), cpu_per_request(by[(peer, rnd)]))
                  for rnd in rounds if tool != peer and (tool, rnd) in by and (peer, rnd) in by]
            xs = [x for x in xs if x is not None]
            if xs:
                print(f"CPU per request, {tool}/{peer}: per round {', '.join(f'{x:.2f}' for x in xs)},"
                      f" median {statistics.median(xs):.2f}")


def table_open(results):
    head = (f"{'tool':<8} {'rate/s':>8} {'achieved/s':>10} {'of plan':>7} {'p50 ms':>8} {'p99 ms':>8}"
            f" {'p99.9 ms':>9} {'lag p99':>8} {'CPU%':>5} {'us/req':>7} {'fails':>6}")
    print(head)
    print("-" * len(head))
    rates = sorted({r["rate"] for r in results})
    by = {(r["tool"], r["rate"]): r for r in results}
    for rate_ in rates:
        for r in (r for r in results if r["rate"] == rate_):
            achieved = r.get("rps")
            share = achieved * 100 / rate_ if isinstance(achieved, (int, float)) else None
            tool = "lv" if r["tool"] == "lv-open" else r["tool"]
            line = (f"{tool:<8} {rate_:>8,} {fmt(achieved, ',.0f', 10)} {fmt(share, '.1f', 6)}%"
                    f" {fmt(r.get('p50_ms'), '.3f', 8)} {fmt(r.get('p99_ms'), '.3f', 8)}"
                    f" {fmt(r.get('p999_ms'), '.3f', 9)} {fmt(r.get('lag_p99_ms'), '.3f', 8)}"
                    f" {fmt(r.get('cpu'), '.0f', 5)} {fmt(cpu_per_request(r), '.2f', 7)}"
                    f" {fmt(r.get('failures'), 'd', 6)}")
            if r.get("generator_limited"):
                line += "  generator-limited (lv's verdict)"
            if r.get("dropped"):
                line += f"  {r['dropped']} dropped"
            if "error" in r:
                line += f"  {r['error']}"
            print(line)
        lv, peer = by.get(("lv-open", rate_), {}), by.get(("wrk2", rate_), {})
        p99 = ratio(lv.get("p99_ms"), peer.get("p99_ms"))
        cost = ratio(cpu_per_request(lv), cpu_per_request(peer))
        if p99 is not None or cost is not None:
            print(f"{'':<8} lv/wrk2 at {rate_:,}/s: p99 {fmt(p99, '.2f', 0)}, CPU per request"
                  f" {fmt(cost, '.2f', 0)}")
    print("(achieved/s: the tool's own count over its run; p50-p99.9: response time from each\n"
          " request's intended start, coordinated omission corrected in both tools; lag p99: how late\n"
          " lv sent (wrk2 has no such figure); us/req: CPU microseconds of the tool per request nginx\n"
          " counted)")


def table_latency(results):
    head = (f"{'tool':<12} {'conns':>5} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'CPU%':>5}"
            f" {'RSS MB':>7} {'fails':>6} {'req/core':>9}")
    print(head)
    print("-" * len(head))
    for r in results:
        line = row(r, str(r.get("users", "")))
        if "error" in r:
            line += f"  {r['error']}"
        print(line)
    for r in results:
        if r["tool"] == "lv" and "p50_ms" in r:
            p50, p99 = r["p50_ms"], r["p99_ms"]
            ok50 = "met" if 20 <= p50 <= 21 else "MISSED"
            ok99 = "met" if 20 <= p99 <= 25 else "MISSED"
            print(f"lv against a 20 ms target: p50 {p50:.2f} ms (goal 20-21: {ok50}), "
                  f"p99 {p99:.2f} ms (goal 20-25: {ok99})")


def table_memory(results):
    head = (f"{'tool':<12} {'users':>6} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'CPU%':>5}"
            f" {'RSS MB':>7} {'KB/user':>7} {'fails':>6}")
    print(head)
    print("-" * len(head))
    for r in results:
        users = r.get("users", 0)
        per_user = r["rss_mb"] * 1024 / users if "rss_mb" in r and users else None
        line = (f"{r['tool']:<12} {users:>6} {fmt(r.get('rps'), ',.0f', 9)} {fmt(r.get('p50_ms'), '.2f', 7)}"
                f" {fmt(r.get('p99_ms'), '.2f', 7)} {fmt(r.get('cpu'), '.0f', 5)} {fmt(r.get('rss_mb'), '.1f', 7)}"
                f" {fmt(per_user, '.1f', 7)} {fmt(r.get('failures'), 'd', 6)}")
        for key in ("error", "note"):
            if key in r:
                line += f"  {r[key]}"
        print(line)


def cmd_table(mode, path):
    results = [json.loads(line) for line in open(path) if line.strip()]
    if not results:
        print("no results")
        return
    tables = {"throughput": table_throughput, "latency": table_latency, "memory": table_memory,
              "open": table_open}
    tables[mode](results)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "parse":
        cmd_parse(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    elif cmd == "table":
        cmd_table(sys.argv[2], sys.argv[3])
    elif cmd == "seen":
        cmd_seen(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
    else:
        sys.exit(__doc__)
