#!/usr/bin/env bash
# Many workers on one master (issues 14 and 24): one lv-master, WORKERS workers with
# USERS_PER users each (health checks over AGENTS of lv-fleet-sim's agents, waiting between
# 1 and 3 s), for DURATION. The workers run PER_PROCESS to an lv-worker process
# (`lv-worker --workers N`: each its own id, gRPC connection and users; 1 = a process each).
# Prints workers lost, the heartbeats the master heard (per worker: fewest, expected about
# one a second), lv's count next to the simulator's, the master's CPU (user+sys seconds
# over its life, % of a core while it ran, and the busiest 10 s), peak RSS and open files,
# the workers' total RSS, the load average, and every warning about lost workers or a
# silent master (heartbeats delayed). A shorter --heartbeat-timeout (HEARTBEAT_TIMEOUT)
# makes delayed heartbeats show as losses.
# Open files: the master holds one per worker; the simulator one per idle keep-alive
# connection, up to one per worker and agent, so AGENTS defaults to what keeps
# WORKERS x AGENTS within 10,000 (the open-file limit here is 20,000; two users of a worker
# checking one agent at once take two connections).
# Loopback only; every process is bounded by `timeout`. Usage: bench/workers.sh
# Env: WORKERS (200), USERS_PER (3), PER_PROCESS (1), AGENTS (20, fewer beyond 500 workers),
#      DURATION (2m), HEARTBEAT_TIMEOUT (5s), SPAWN_RATE (users / 10, at least 100),
#      LATENCY_SCALE (0.05), OUT (folder for logs and samples; default a new temporary one),
#      BUILD=0 (use the release binaries as they are), MASTER (another lv-master binary, to compare),
#      WORKER_NICE (0; e.g. 10 runs the workers at a lower priority than the master, so that on
#      a small machine the master's own limit shows rather than the workers' CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${WORKERS:-200}
USERS_PER=${USERS_PER:-3}
PER_PROCESS=${PER_PROCESS:-1}
WORKER_NICE=${WORKER_NICE:-0}
AGENTS=${AGENTS:-$(( WORKERS * 20 <= 10000 ? 20 : (10000 / WORKERS > 0 ? 10000 / WORKERS : 1) ))}
DURATION=${DURATION:-2m}
HEARTBEAT_TIMEOUT=${HEARTBEAT_TIMEOUT:-5s}
LATENCY_SCALE=${LATENCY_SCALE:-0.05}
OUT=${OUT:-$(mktemp -d -t lv-workers.XXXXXX)}
mkdir -p "$OUT"
case "$DURATION" in
  *m) secs=$((${DURATION%m} * 60)) ;;
  *s) secs=${DURATION%s} ;;
  *) secs=$DURATION ;;
esac
bound=$((secs + 240))

# shellcheck source=bench/lib.sh
. bench/lib.sh
build_release
start_sim "$OUT" "$bound" "$LATENCY_SCALE"
# The fleet map of the first AGENTS agents (each agent is 6 lines: blank, [[agent]], 4 keys).
awk -v n="$AGENTS" '/^\[\[agent\]\]/ {k++} k <= n' "$OUT/fleet.toml" >"$OUT/fleet-used.toml"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

users=$((WORKERS * USERS_PER))
SPAWN_RATE=${SPAWN_RATE:-$((users / 10 > 100 ? users / 10 : 100))}
timeout -k 5 "$bound" "${MASTER:-target/release/lv-master}" -f configs/scenarios/health_checks.toml \
  -u "$users" -r "$SPAWN_RATE" -t "$DURATION" --fleet "$OUT/fleet-used.toml" --expect-workers "$WORKERS" \
  --expect-workers-max-wait 120s --heartbeat-timeout "$HEARTBEAT_TIMEOUT" --master-bind-port 0 \
  --ready-file "$OUT/master.json" --headless --only-summary --json "$OUT/summary.json" \
  >"$OUT/master.out" 2>"$OUT/master.log" &
master=$!
pids+=("$master")
master_pid=$(child_of "$master")
addr=$(master_address "$OUT/master.json" "$master" "$OUT/master.log")
python3 bench/rss.py sample "$OUT/rss.csv" 2 "master=$master_pid" "sim=$sim_pid" &
sampler=$!
started=$(date +%s.%N)

i=0
left=$WORKERS
while [ "$left" -gt 0 ]; do
  n=$((left < PER_PROCESS ? left : PER_PROCESS))
  i=$((i + 1))
  timeout -k 5 "$bound" nice -n "$WORKER_NICE" target/release/lv-worker --master "$addr" --workers "$n" \
    2>"$OUT/worker$i.log" &
  pids+=("$!")
  left=$((left - n))
done
processes=$i

# The workers' total RSS, once, halfway through the run (after the ramp).
(
  sleep $((secs / 2 + 15))
  total=0
  for p in $(pgrep -x lv-worker -P "$(echo "${pids[@]:2}" | tr ' ' ',')"); do
    kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    total=$((total + kb))
  done
  echo "$total" >"$OUT/workers-rss-kb"
) &

code=0
wait "$master" || code=$?
ended=$(date +%s.%N)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
curl -sf "http://$admin/counts" >"$OUT/sim-counts.json"
kill "$sim" 2>/dev/null || true
wait "$sampler" || true

echo "lv $WORKERS workers in $processes lv-worker processes: $(nproc) cores, $USERS_PER users each ($users)," \
  "$AGENTS agents, $DURATION, workers at nice $WORKER_NICE, heartbeat timeout $HEARTBEAT_TIMEOUT, fleet latency x$LATENCY_SCALE;" \
  "lv-master exit $code; files in $OUT"
echo "$(date -u +%FT%RZ), load average before $load_before, after $load_after"
python3 - "$OUT" "$started" "$ended" <<'PY'
import json, sys
out, started, ended = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
s = json.load(open(f"{out}/summary.json"))
sim = json.load(open(f"{out}/sim-counts.json"))
t = s["total"]
lost = [w for w in s["workers"] if w["state"] != "active"]
print(f"requests {t['requests']} (simulator counted {sim['total']}; equal: {t['requests'] == sim['total']}), "
      f"{t['rps']:.0f} req/s, failures {t['failures']}, cut off {s['cut_off']}, users {s['users']}")
print(f"workers {len(s['workers'])}, lost {len(lost)}, below-target periods {len(s.get('below_target', []))}")
beats = [w["resources"]["samples"] for w in s["workers"] if w.get("resources")]
if beats:
    print(f"heartbeats heard: {sum(beats)}, per worker fewest {min(beats)}, most {max(beats)}"
          f" (one a second while attached; the run lasted {s['run_time_s']:.0f} s)")
rows = [l.strip().split(",") for l in open(f"{out}/rss.csv")][1:]
m = [r for r in rows if r[1] == "master"]
cpu, hwm = max(float(r[5]) for r in m), max(int(r[4]) for r in m)
life = ended - started
# The busiest 10 s: CPU seconds between samples 10 s apart (samples every 2 s).
busiest = max((float(b[5]) - float(a[5])) / ((float(b[0]) - float(a[0])) * 60)
              for a, b in zip(m, m[5:])) if len(m) > 5 else 0.0
fds = max(int(r[6]) for r in m)
sim_fds = max((int(r[6]) for r in rows if r[1] == "sim"), default=-1)
print(f"master: CPU {cpu:.2f} s user+sys over {life:.0f} s from its listening line to its exit"
      f" ({100 * cpu / life:.1f}% of a core, busiest 10 s {100 * busiest:.0f}%), peak RSS {hwm / 1024:.1f} MB,"
      f" open files {fds} (simulator {sim_fds})")
try:
    kb = int(open(f"{out}/workers-rss-kb").read())
    print(f"workers: total RSS {kb / 1024:.0f} MB halfway ({kb / 1024 / len(s['workers']):.1f} MB a worker)")
except (OSError, ValueError, ZeroDivisionError):
    pass
PY
# Heartbeats delayed show as "worker lost" on the master or "no master for longer than the
# heartbeat timeout" on a worker. "lost the master; reconnecting" after the master's "run time
# reached" would mean a worker's stream closed before it read its Shutdown (the master waits
# for every worker to hang up since 2026-12-01; one run of 200 showed it in 4 workers before).
stop=$(grep -m1 "run time reached" "$OUT/master.log" | cut -c1-26 || true)
echo "master: 'worker lost' warnings: $(grep -c "worker lost" "$OUT/master.log" || true)"
echo "workers: 'no master for longer than the heartbeat timeout': $(cat "$OUT"/worker*.log | grep -c "no master for longer" || true)"
echo "workers: 'lost the master' before the run time was reached (at ${stop:-?}):" \
  "$(cat "$OUT"/worker*.log | grep "lost the master" | awk -v s="$stop" 's == "" || substr($1, 1, 26) < s' | wc -l)," \
  "after it: $(cat "$OUT"/worker*.log | grep "lost the master" | awk -v s="$stop" 's != "" && substr($1, 1, 26) >= s' | wc -l)"
exit "$code"
