#!/usr/bin/env bash
# Benchmarks one lv-worker process (issue: cluster core):
#  1. throughput: 50 users, no wait, GET against nginx on loopback (nginx pinned to
#     CPU 0, the worker to CPU 1): requests/s from the master's JSON, worker CPU use;
#  2. memory: 5,000 users waiting 1-5 s between requests: the worker's resident memory.
# Loopback only; every run is bounded by its run time. Usage: bench/worker.sh
# Env: DURATION (default 10s), MEM_USERS (5000), MEM_DURATION (40s).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
MEM_USERS=${MEM_USERS:-5000}
MEM_DURATION=${MEM_DURATION:-40s}

# shellcheck source=bench/lib.sh
. bench/lib.sh
cargo build --release --locked --bins -q

work=$(mktemp -d)
work_dirs+=("$work")
start_nginx "$work"

# run NAME USERS RATE DURATION WAIT_RULE: one master (no local workers) + one worker on CPU 1.
run() {
  local name=$1 users=$2 rate=$3 duration=$4 wait=$5
  cat >"$work/$name.toml" <<TOML
[[user]]
name = "Bench"
wait = $wait
[[user.task]]
[[user.task.step]]
url = "$nginx_url"
path = "/health"
TOML
  taskset -c 0 target/release/lv-master -f "$work/$name.toml" -u "$users" -r "$rate" -t "$duration" \
    --expect-workers 1 --expect-workers-max-wait 30s --master-bind-port 0 \
    --ready-file "$work/$name.ready" --headless --only-summary --json "$work/$name.json" \
    >"$work/$name.out" 2>"$work/$name.log" &
  local master=$!
  local addr
  addr=$(master_address "$work/$name.ready" "$master" "$work/$name.log")
  taskset -c 1 target/release/lv-worker --master "$addr" 2>"$work/$name-worker.log" &
  local worker=$!
  python3 bench/sample.py "$worker" --skip 3 >"$work/$name.sample"
  wait "$master" || true
  wait "$worker" || true
  python3 - "$work/$name.json" "$work/$name.sample" "$name" "$users" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1])); sample = json.load(open(sys.argv[2]))
t = summary["total"]; users = int(sys.argv[4])
print(f"{sys.argv[3]:<11} users={users:<6} requests={t['requests']:<9} req/s={t['rps']:<10.0f} "
      f"p50={t['p50_ms']:.2f}ms p99={t['p99_ms']:.2f}ms failures={t['failures']} "
      f"worker_cpu={sample['cpu_percent']}% peak_rss={sample['peak_rss_mb']}MB "
      f"rss_per_user={sample['peak_rss_mb'] * 1024 / users:.1f}KB")
PY
}

echo "lv $(target/release/lv-master --version | awk '{print $2}') on $(nproc) cores, $(uname -m)"
run throughput 50 1000 "$DURATION" "{ constant = 0 }"
run memory "$MEM_USERS" 1000 "$MEM_DURATION" "{ between = [1, 5] }"
