#!/usr/bin/env bash
# Benchmarks the open model on one lv-worker process (issue 12): schedule lag p50/p99 at
# fixed arrival rates against nginx on loopback (nginx and the master pinned to CPU 0, the
# worker to CPU 1), then the highest rate whose lag p99 stays under 1 ms.
# Loopback only; every run is bounded by its run time. Usage: bench/open.sh
# Env: DURATION (default 10s), RATES ("1000 10000 50000"),
#      SEARCH ("1000 2000 5000 10000 20000 30000 50000 75000 100000"),
#      PROFILE (release; "debug" for a quick check of the script, numbers then meaningless),
#      LV_DIR (lv's binaries from this folder, no build: an earlier build to compare with).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
RATES=${RATES:-1000 10000 50000}
SEARCH=${SEARCH:-1000 2000 5000 10000 20000 30000 50000 75000 100000}
PROFILE=${PROFILE:-release}

# shellcheck source=bench/lib.sh
. bench/lib.sh
if [ -n "${LV_DIR:-}" ]; then
  bin=$LV_DIR
elif [ "$PROFILE" = release ]; then
  cargo build --release --locked -q -p lv-master -p lv-worker
  bin=target/$PROFILE
else
  cargo build --locked -q -p lv-master -p lv-worker
  bin=target/$PROFILE
fi

work=$(mktemp -d)
work_dirs+=("$work")
start_nginx "$work"
# Open-model iterations never wait, so the scenario's "no wait" changes nothing here.
nginx_scenario "$work/open.toml"

# run RATE: one master + one worker at RATE arrivals/s; prints one line, and the lag p99
# (ms) as the last word.
run() {
  local rate=$1 name="rate-$1"
  taskset -c 0 "$bin/lv-master" -f "$work/open.toml" --rate "$rate/s" -t "$DURATION" \
    --expect-workers 1 --expect-workers-max-wait 30s --master-bind-port 0 \
    --ready-file "$work/$name.ready" --headless --only-summary --no-slo --json "$work/$name.json" \
    >"$work/$name.out" 2>"$work/$name.log" &
  local master=$!
  local addr
  addr=$(master_address "$work/$name.ready" "$master" "$work/$name.log")
  taskset -c 1 "$bin/lv-worker" --master "$addr" 2>"$work/$name-worker.log" &
  local worker=$!
  python3 bench/sample.py "$worker" --skip 2 >"$work/$name.sample"
  wait "$master" || true
  wait "$worker" || true
  python3 - "$work/$name.json" "$work/$name.sample" "$rate" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1])); sample = json.load(open(sys.argv[2]))
o = summary["open"]; t = summary["total"]
print(f"rate={sys.argv[3]:>6}/s planned={o['planned']:<8} started={o['started']:<8} "
      f"dropped={o['dropped']:<6} failures={t['failures']:<6} response_p99={t['p99_ms']:.2f}ms "
      f"lag_p50={o['lag_p50_ms']:.3f}ms lag_p99={o['lag_p99_ms']:.3f}ms "
      f"worker_cpu={sample['cpu_percent']}% lag_p99_ms {o['lag_p99_ms']}")
PY
}

echo "lv $("$bin/lv-master" --version | awk '{print $2}') ($PROFILE) on $(nproc) cores, $(uname -m), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== fixed rates, $DURATION each"
for rate in $RATES; do run "$rate"; done
echo "== highest rate with schedule lag p99 < 1 ms"
best=none
for rate in $SEARCH; do
  line=$(run "$rate")
  echo "$line"
  p99=${line##* }
  if python3 -c "import sys; sys.exit(0 if float('$p99') < 1.0 else 1)"; then
    best=$rate
  else
    break
  fi
done
echo "highest rate with lag p99 < 1 ms on one worker core: $best/s"
