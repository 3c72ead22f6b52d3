#!/usr/bin/env python3
"""Decodes every histogram of an lv JSON report with PyPI's `hdrhistogram` package (`hdrh`).

Usage: hdrh_check.py REPORT.json

Checks that each endpoint's histogram (and the total's) holds exactly `requests` samples, and
that the endpoints' histograms added together (by hdrh) give the report's total p50/p95/p99
within the histogram's resolution. A percentile is read as lv and HdrHistogram's Rust and
Java versions read it: the highest value equivalent to the sample of rank ceil(p% x count),
kept within the exact min and max the report gives (hdrh's own `get_value_at_percentile`
rounds the rank to nearest instead, which can pick the neighbouring sample on small counts).
Prints one line per check and exits 1 on the first mismatch, 2 when the report cannot be
read, 3 when the `hdrh` module is missing.
"""

import json
import math
import sys

try:
    from hdrh.histogram import HdrHistogram
except ImportError:
    print("hdrh_check: the Python module hdrh is missing (pip install hdrhistogram)", file=sys.stderr)
    sys.exit(3)

PERCENTILES = (50, 95, 99)


def decode(entry: dict) -> HdrHistogram:
    label = f"{entry['method']} {entry['name']}".strip()
    try:
        return HdrHistogram.decode(entry["histogram"])
    except Exception as err:  # hdrh raises plain Exceptions for bad input
        raise SystemExit(f"hdrh_check: {label}: hdrh cannot decode the histogram: {err}") from err


def value_at_percentile(histogram: HdrHistogram, percentile: float, low_us: int, high_us: int) -> int:
    rank = max(1, math.ceil(percentile / 100 * histogram.get_total_count()))
    for step in histogram.get_recorded_iterator():
        if step.total_count_to_this_value >= rank:
            value = histogram.get_highest_equivalent_value(step.value_iterated_to)
            return min(max(value, low_us), high_us)
    return 0


def within_resolution(reported_ms: float, decoded_us: int) -> bool:
    """3 significant digits: one bucket is at most 1/1024 of its value wide."""
    reported_us = round(reported_ms * 1000)
    return abs(reported_us - decoded_us) <= decoded_us / 1024 + 1


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        with open(sys.argv[1], encoding="utf-8") as file:
            report = json.load(file)
    except (OSError, ValueError) as err:
        print(f"hdrh_check: cannot read {sys.argv[1]}: {err}", file=sys.stderr)
        return 2
    endpoints = report["endpoints"]
    if not endpoints:
        print("hdrh_check: the report has no endpoint", file=sys.stderr)
        return 1
    added = None
    for entry in endpoints + [report["total"]]:
        histogram = decode(entry)
        label = f"{entry['method']} {entry['name']}".strip()
        count = histogram.get_total_count()
        print(f"{label}: {count} samples, report says {entry['requests']} requests")
        if count != entry["requests"]:
            print(f"hdrh_check: {label}: count mismatch", file=sys.stderr)
            return 1
        if entry is report["total"]:
            continue
        if added is None:
            added = HdrHistogram(
                histogram.lowest_trackable_value,
                histogram.highest_trackable_value,
                histogram.significant_figures,
            )
        added.add(histogram)
    total = report["total"]
    for percentile in PERCENTILES:
        decoded_us = value_at_percentile(
            added, percentile, round(total["min_ms"] * 1000), round(total["max_ms"] * 1000)
        )
        reported_ms = total[f"p{percentile}_ms"]
        print(f"aggregated p{percentile}: hdrh {decoded_us} us, report {reported_ms} ms")
        if not within_resolution(reported_ms, decoded_us):
            print(f"hdrh_check: aggregated p{percentile} differs", file=sys.stderr)
            return 1
    print(f"hdrh_check: {len(endpoints)} endpoints and the total agree with hdrh")
    return 0


if __name__ == "__main__":
    sys.exit(main())
