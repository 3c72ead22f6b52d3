#!/usr/bin/env bash
# Many workers on one master (issue 14): one lv-master, WORKERS lv-worker processes with
# USERS_PER users each (health checks over lv-fleet-sim's agents, waiting between 1 and 3 s),
# for DURATION. Prints workers lost, lv's count next to the simulator's, the master's CPU
# (user+sys seconds over its life and % of a core while it ran) and peak RSS, the workers'
# total RSS, and every warning about lost workers or a silent master (heartbeats delayed).
# A shorter --heartbeat-timeout (HEARTBEAT_TIMEOUT) makes delayed heartbeats show as losses.
# Loopback only; every process is bounded by `timeout`. Usage: bench/workers200.sh
# Env: WORKERS (200), USERS_PER (3), DURATION (2m), HEARTBEAT_TIMEOUT (5s),
#      LATENCY_SCALE (0.05), OUT (folder for logs and samples; default a new temporary one),
#      BUILD=0 (use the release binaries as they are).
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${WORKERS:-200}
USERS_PER=${USERS_PER:-3}
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

users=$((WORKERS * USERS_PER))
timeout -k 5 "$bound" target/release/lv-master -f configs/scenarios/health_checks.toml \
  -u "$users" -r 100 -t "$DURATION" --fleet "$OUT/fleet.toml" --expect-workers "$WORKERS" \
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

for i in $(seq "$WORKERS"); do
  timeout -k 5 "$bound" target/release/lv-worker --master "$addr" 2>"$OUT/worker$i.log" &
  pids+=("$!")
done

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
curl -sf "http://$admin/counts" >"$OUT/sim-counts.json"
kill "$sim" 2>/dev/null || true
wait "$sampler" || true

echo "lv $WORKERS workers: $(nproc) cores, $USERS_PER users each ($users), $DURATION," \
  "heartbeat timeout $HEARTBEAT_TIMEOUT, fleet latency x$LATENCY_SCALE; lv-master exit $code; files in $OUT"
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
rows = [l.strip().split(",") for l in open(f"{out}/rss.csv")][1:]
m = [r for r in rows if r[1] == "master"]
cpu, hwm = float(m[-1][5]), int(m[-1][4])
life = ended - started
print(f"master: CPU {cpu:.2f} s user+sys over {life:.0f} s from its listening line to its exit"
      f" ({100 * cpu / life:.1f}% of a core), peak RSS {hwm / 1024:.1f} MB")
try:
    kb = int(open(f"{out}/workers-rss-kb").read())
    print(f"workers: total RSS {kb / 1024:.0f} MB halfway ({kb / 1024 / len(s['workers']):.1f} MB each)")
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
