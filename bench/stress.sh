#!/usr/bin/env bash
# The stress profile against the simulated fleet, as the performance issue asks: 500 users
# (configs/stress.conf) through 4 local lv-worker processes against lv-fleet-sim for 60 s.
# Prints lv's totals next to the simulator's own count, lv's own errors (exceptions, cut-off
# requests, transport failures), and each worker's CPU and peak memory.
# Loopback only; bounded by the run time. Usage: bench/stress.sh
# Env: DURATION (default 60s), WORKERS (4), LATENCY_SCALE (simulated latency factor, 0.05).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-60s}
WORKERS=${WORKERS:-4}
LATENCY_SCALE=${LATENCY_SCALE:-0.05}

# shellcheck source=bench/lib.sh
. bench/lib.sh
cargo build --release --locked --bins -q
work=$(mktemp -d)
work_dirs+=("$work")

target/release/lv-fleet-sim --ephemeral-ports --write-fleet "$work/fleet.toml" --admin-port 0 \
  --ready-file "$work/sim.json" --latency-scale "$LATENCY_SCALE" >"$work/sim.out" 2>"$work/sim.log" &
sim=$!
pids+=("$sim")
wait_ready "$work/sim.json" "$sim" "$work/sim.log"
admin=$(ready_value "$work/sim.json" admin)

target/release/lv-master --config configs/stress.conf -t "$DURATION" --fleet "$work/fleet.toml" \
  --expect-workers "$WORKERS" --expect-workers-max-wait 60s --master-bind-port 0 \
  --ready-file "$work/master.json" --only-summary --json "$work/summary.json" \
  >"$work/master.out" 2>"$work/master.log" &
master=$!
pids+=("$master")
addr=$(master_address "$work/master.json" "$master" "$work/master.log")

samplers=()
for i in $(seq "$WORKERS"); do
  target/release/lv-worker --master "$addr" 2>"$work/worker$i.log" &
  pid=$!
  pids+=("$pid")
  python3 bench/sample.py "$pid" --skip 10 >"$work/worker$i.sample" &
  samplers+=("$!")
done
code=0
wait "$master" || code=$?
for s in "${samplers[@]}"; do wait "$s" || true; done
curl -sf "http://$admin/counts" >"$work/sim-counts.json"

echo "lv stress profile: $(nproc) cores, $WORKERS workers, $DURATION, fleet latency x$LATENCY_SCALE; lv-master exit $code"
python3 - "$work" "$WORKERS" <<'PY'
import json, sys
work, workers = sys.argv[1], int(sys.argv[2])
s = json.load(open(f"{work}/summary.json"))
sim = json.load(open(f"{work}/sim-counts.json"))
t = s["total"]
transport = sum(f["count"] for f in s["failures"] if not f["error"].startswith("HTTP "))
print(f"requests {t['requests']} (simulator counted {sim['total']}), {t['rps']:.0f} req/s, "
      f"p50 {t['p50_ms']:.1f} ms, p99 {t['p99_ms']:.1f} ms")
print(f"failures {t['failures']} (transport errors {transport}), exceptions "
      f"{sum(e['count'] for e in s['exceptions'])}, cut off {s['cut_off']}, "
      f"users {s['users']}, lost workers {sum(1 for w in s['workers'] if w['state'] != 'active')}")
for i, w in enumerate(s["workers"], 1):
    print(f"  worker {w['id'][:8]}: {w['users']} users, {w['requests']} requests")
for i in range(1, workers + 1):
    sample = json.load(open(f"{work}/worker{i}.sample"))
    print(f"  worker process {i}: CPU {sample.get('cpu_percent')}% of a core, "
          f"peak RSS {sample.get('peak_rss_mb')} MB")
PY
exit "$code"
