#!/usr/bin/env bash
# User-space instructions per request (issue 24, "where lv's cycles go"): one lv-worker run
# under valgrind's callgrind against nginx, its instructions divided by the requests it
# completed, and where they go by crate and by function. Instruction counts hardly depend
# on how busy the machine is (two closed-model runs: 9,661 and 9,730 a request), so two
# builds compare in any minutes (LV_DIR= one of them); what they leave out is the kernel
# (bench/syscalls.sh) and cache misses.
# Loopback only; every process is bounded by `timeout`. Needs valgrind (Debian valgrind).
# Usage: bench/instructions.sh
# Env: MODEL (closed, open or both; both), CONNS (closed: users with no wait; 50),
#      RATE (open: arrivals/s the worker can keep under callgrind's slowdown; 2000),
#      DURATION (10s), TOP (functions listed; 20), BUILD=0 (binaries as they are),
#      LV_DIR (lv's binaries from DIR, no build: an earlier build to compare with).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-both}
CONNS=${CONNS:-50}
RATE=${RATE:-2000}
DURATION=${DURATION:-10s}
TOP=${TOP:-20}
secs=${DURATION%s}
for tool in valgrind callgrind_annotate; do
  command -v "$tool" >/dev/null || {
    echo "${0##*/}: $tool is not installed (Debian: apt-get install valgrind)" >&2
    exit 2
  }
done
case $MODEL in closed | open | both) ;; *)
  echo "${0##*/}: MODEL must be closed, open or both, not '$MODEL'" >&2
  exit 2
  ;;
esac

# shellcheck source=bench/lib.sh
. bench/lib.sh
if [ -n "${LV_DIR:-}" ]; then
  bin=$LV_DIR
else
  build_release
  bin=target/release
fi
work=$(mktemp -d -t lv-instructions.XXXXXX)
work_dirs+=("$work")
start_nginx "$work"
nginx_scenario "$work/lv.toml"

# measure NAME LOAD...: one master (CPU 0) and one worker under callgrind (CPU 1) for
# DURATION with the master's load options LOAD; prints the tables.
measure() {
  local name=$1
  shift
  timeout -k 5 $((secs + 120)) taskset -c 0 "$bin/lv-master" -f "$work/lv.toml" "$@" \
    -t "$DURATION" --expect-workers 1 --expect-workers-max-wait 60s --master-bind-port 0 \
    --ready-file "$work/$name.ready" --headless --only-summary --no-slo --json "$work/$name.json" \
    >"$work/$name.out" 2>"$work/$name.log" &
  local master=$!
  pids+=("$master")
  local addr
  addr=$(master_address "$work/$name.ready" "$master" "$work/$name.log")
  timeout -k 5 $((secs + 120)) taskset -c 1 valgrind --tool=callgrind --dump-instr=no \
    --callgrind-out-file="$work/$name.callgrind" "$bin/lv-worker" --master "$addr" \
    >"$work/$name-worker.out" 2>"$work/$name-worker.log" || true
  wait "$master" || true
  callgrind_annotate --threshold=100 --auto=no "$work/$name.callgrind" >"$work/$name.annotate"
  python3 - "$work/$name.json" "$work/$name.annotate" "$name ($*)" "$TOP" <<'PY'
import collections, json, re, sys
summary, annotate, title, top = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
requests = json.load(open(summary))["total"]["requests"]
line_re = re.compile(r"^\s*([\d,]+) \([ \d.]+%\)\s+(.*?)(?: \[(.*)\])?$")
total, functions = 0, []
for line in open(annotate):
    m = line_re.match(line)
    if not m:
        continue
    count, where = int(m.group(1).replace(",", "")), m.group(2)
    if where == "PROGRAM TOTALS":
        total = count
    elif ":" in where:
        functions.append((count, where))

def crate(where):
    path = where.split(":", 1)[0]
    m = re.search(r"/registry/src/[^/]+/([A-Za-z0-9_-]+?)-\d[^/]*/", path)
    if m:
        return m.group(1)
    # callgrind_annotate names the files of this repository relative to it.
    for part, name in (("worker/src/", "lv-worker"), ("common/src/", "lv-common"),
                       ("/rustc/", "std"), ("/sysdeps/", "libc"), ("/string/", "libc"),
                       ("/nptl/", "libc"), ("/malloc/", "libc")):
        if part in path:
            return name
    return "other"

if not requests or not total:
    print(f"{title}: no requests or no instructions counted"); sys.exit(1)
print(f"### {title}: {requests:,} requests, {total / requests:,.0f} user-space instructions a request")
print()
by_crate = collections.Counter()
for count, where in functions:
    by_crate[crate(where)] += count
print("| crate | instructions a request | share |")
print("|---|---|---|")
for name, count in by_crate.most_common():
    if count / total >= 0.005:
        print(f"| {name} | {count / requests:,.0f} | {100 * count / total:.1f}% |")
print()
by_function = collections.Counter()
for count, where in functions:
    by_function[where.partition(":")[2]] += count
print("| function (its own instructions and those inlined into it) | instructions a request | share |")
print("|---|---|---|")
for function, count in by_function.most_common(top):
    print(f"| `{function}` | {count / requests:,.0f} | {100 * count / total:.1f}% |")
print()
PY
}

echo "User-space instructions of one lv-worker under callgrind, nginx at $nginx_url ($(date -u +%FT%TZ))"
echo
if [ "$MODEL" != open ]; then measure closed -u "$CONNS" -r "$CONNS"; fi
if [ "$MODEL" != closed ]; then measure open --rate "$RATE/s"; fi
echo "Counted in the worker's process: its requests, reports and heartbeats to the master, and"
echo "its start. Not counted: the kernel's work in its system calls, and time lost to cache misses."
