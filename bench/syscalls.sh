#!/usr/bin/env bash
# System calls per request (issue 24, "where lv's cycles go"): one lv-worker and wrk, each
# with CONNS connections and no think time against nginx for DURATION, counted by `perf stat`
# on the generator's process alone (tracepoints raw_syscalls:sys_enter and the common
# syscalls by name), divided by the requests the generator completed. Unlike CPU time, these
# counts hardly depend on how busy the machine is, so they compare across runs. Also prints
# the generator's user and system CPU seconds per 100,000 requests (perf's counting included).
# Then lv-exchange-probe (tools/exchange-probe), the same exchanges with a minimal user space,
# through epoll, io_uring, and io_uring with multishot receives.
# Loopback only; every process is bounded by `timeout`. Needs perf (Debian linux-perf) and
# wrk; run as root (or with kernel.perf_event_paranoid <= -1) for the tracepoints.
# Usage: bench/syscalls.sh   Env: CONNS (50), DURATION (5s), BUILD=0 (binaries as they are).
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${CONNS:-50}
DURATION=${DURATION:-5s}
secs=${DURATION%s}
for tool in perf wrk; do
  command -v "$tool" >/dev/null || { echo "${0##*/}: $tool is not installed" >&2; exit 2; }
done

# shellcheck source=bench/lib.sh
. bench/lib.sh
build_release
work=$(mktemp -d -t lv-syscalls.XXXXXX)
work_dirs+=("$work")
start_nginx "$work"

events=raw_syscalls:sys_enter
for call in write writev sendto read readv recvfrom epoll_wait epoll_pwait epoll_ctl futex sched_yield io_uring_enter; do
  events+=",syscalls:sys_enter_$call"
done

# perf's CSV lines (value,unit,event,...) and the process's CPU times -> one table row.
row() {
  python3 - "$@" <<'PY'
import sys
tool, stat, requests, cpu = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
counts = {}
for line in open(stat):
    parts = line.strip().split(",")
    if len(parts) > 2 and parts[0].replace(".", "").isdigit():
        counts[parts[2].split(":")[-1].replace("sys_enter_", "")] = float(parts[0])
per = lambda n: n / requests if requests else float("nan")
groups = {
    "all": counts.get("sys_enter", 0),
    "write": sum(counts.get(k, 0) for k in ("write", "writev", "sendto")),
    "read": sum(counts.get(k, 0) for k in ("read", "readv", "recvfrom")),
    "epoll": sum(counts.get(k, 0) for k in ("epoll_wait", "epoll_pwait")),
    "epoll_ctl": counts.get("epoll_ctl", 0),
    "futex": counts.get("futex", 0),
    "yield": counts.get("sched_yield", 0),
    "io_uring_enter": counts.get("io_uring_enter", 0),
}
user, system = (float(x) for x in cpu.split())
cells = " | ".join(f"{per(v):.3f}" for v in groups.values())
scale = 100000 / requests if requests else float("nan")
print(f"| {tool} | {requests:,} | {cells} | {user * scale:.2f} | {system * scale:.2f} |")
PY
}

# Runs a command and writes its user and system CPU seconds (its children's rusage) to FILE.
# Usage: timed FILE COMMAND...
timed() {
  python3 -c 'import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
r = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(f"{r.ru_utime} {r.ru_stime}\n")
sys.exit(code)' "$@"
}

echo "System calls per request: $CONNS connections, $DURATION, nginx at $nginx_url ($(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| tool | requests | all | write | read | epoll_wait | epoll_ctl | futex | sched_yield | io_uring_enter | user s / 100k | sys s / 100k |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"

# wrk: one thread, like one lv-worker's generator core.
timed "$work/wrk.cpu" timeout -k 5 $((secs + 60)) taskset -c 1 perf stat -x, -e "$events" \
  -o "$work/wrk.stat" -- wrk -t 1 -c "$CONNS" -d "$DURATION" "$nginx_url/health" >"$work/wrk.out" 2>&1
requests=$(awk '/requests in/ {print $1}' "$work/wrk.out")
row wrk "$work/wrk.stat" "${requests:-0}" "$(cat "$work/wrk.cpu")"

# lv: the master elsewhere, one worker under perf.
nginx_scenario "$work/lv.toml"
timeout -k 5 $((secs + 90)) taskset -c 0 target/release/lv-master -f "$work/lv.toml" -u "$CONNS" \
  -r "$CONNS" -t "$DURATION" --expect-workers 1 --expect-workers-max-wait 30s --master-bind-port 0 \
  --ready-file "$work/master.json" --headless --only-summary --json "$work/lv.json" \
  >"$work/master.out" 2>"$work/master.log" &
master=$!
pids+=("$master")
addr=$(master_address "$work/master.json" "$master" "$work/master.log")
timed "$work/lv.cpu" timeout -k 5 $((secs + 90)) taskset -c 1 perf stat -x, -e "$events" \
  -o "$work/lv.stat" -- target/release/lv-worker --master "$addr" >"$work/worker.out" 2>"$work/worker.log"
wait "$master" || true
requests=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["total"]["requests"])' "$work/lv.json")
row lv "$work/lv.stat" "$requests" "$(cat "$work/lv.cpu")"

# The probe: one process, one thread, its own count of answers.
for backend in epoll uring uring-multishot; do
  timed "$work/$backend.cpu" timeout -k 5 $((secs + 30)) taskset -c 1 perf stat -x, -e "$events" \
    -o "$work/$backend.stat" -- target/release/lv-exchange-probe --url "$nginx_url/health" \
    --connections "$CONNS" --seconds "$secs" --backend "$backend" >"$work/$backend.json" 2>"$work/$backend.log" ||
    { cat "$work/$backend.log" >&2; continue; }
  requests=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["requests"])' "$work/$backend.json")
  row "probe $backend" "$work/$backend.stat" "$requests" "$(cat "$work/$backend.cpu")"
done
echo
echo "Per request, except the CPU columns. lv's count includes its connection setup, gRPC"
echo "reports and heartbeats to the master, and its run's ramp (spawn rate $CONNS/s)."
