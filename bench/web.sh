#!/usr/bin/env bash
# The web server's costs, as issue 10 asks: lv-master's CPU during one UI-mode run with no
# SSE client and then with 10 connected to /api/v1/events; the time of GET /stats/requests
# with 1,000 endpoint names; the page weight (bytes of / and the assets it links).
# The run: a scenario of 1,000 tasks, each its own stats name, against lv-fleet-sim through
# 2 local lv-worker processes, started and stopped through the HTTP API.
# Loopback only; bounded (about 1 minute). Usage: bench/web.sh
# Env: PROFILE (cargo profile of the binaries, default release), SECONDS_EACH (CPU window, 15),
# USERS (20), CLIENTS (10).
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-release}
SECONDS_EACH=${SECONDS_EACH:-15}
USERS=${USERS:-20}
CLIENTS=${CLIENTS:-10}

if [[ $PROFILE == release ]]; then
  cargo build --release --locked --bins -q
  bin=target/release
else
  cargo build --locked --bins -q
  bin=target/debug
fi
# shellcheck source=bench/lib.sh
. bench/lib.sh
work=$(mktemp -d)
work_dirs+=("$work")

cpu_seconds() { # PID: user + system CPU seconds so far
  awk -v tick="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / tick }' "/proc/$1/stat"
}

python3 - "$work/names.toml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write('[[user]]\nname = "ManyNames"\nwait = { constant = 0.02 }\n')
    for i in range(1000):
        f.write(f'[[user.task]]\nname = "t{i:04}"\n[[user.task.step]]\nagent = "ATLAS"\n'
                f'path = "/health"\nname = "endpoint {i:04}"\n')
PY

$bin/lv-fleet-sim --ephemeral-ports --write-fleet "$work/fleet.toml" --ready-file "$work/sim.json" \
  --latency-scale 0.01 >"$work/sim.out" 2>"$work/sim.log" &
sim=$!
pids+=("$sim")
wait_ready "$work/sim.json" "$sim" "$work/sim.log"

$bin/lv-master -f "$work/names.toml" --fleet "$work/fleet.toml" -H http://127.0.0.1 --no-slo \
  --only-summary --master-bind-port 0 --web-port 0 --local-workers 0 \
  --ready-file "$work/master.json" --reports-dir "$work/reports" \
  >"$work/master.out" 2>"$work/master.log" &
master=$!
pids+=("$master")
wait_ready "$work/master.json" "$master" "$work/master.log"
url=$(ready_value "$work/master.json" web)
addr=$(ready_value "$work/master.json" workers)
for i in 1 2; do
  $bin/lv-worker --master "$addr" 2>"$work/worker$i.log" &
  pids+=($!)
done
for _ in $(seq 300); do
  [[ $(curl -sf "$url/worker-count") == *'"worker_count":2'* ]] && break
  sleep 0.1
done

curl -sf -X POST "$url/swarm" -d "user_count=$USERS&spawn_rate=100" >/dev/null
sleep 5 # users started, every name seen at least once
base=$(cpu_seconds "$master")
sleep "$SECONDS_EACH"
no_clients=$(echo "$(cpu_seconds "$master") $base $SECONDS_EACH" | awk '{ printf "%.1f", ($1 - $2) / $3 * 100 }')

clients=()
for i in $(seq "$CLIENTS"); do
  curl -sN "$url/api/v1/events" >"$work/sse$i.txt" &
  clients+=($!)
  pids+=($!)
done
sleep 2
base=$(cpu_seconds "$master")
sleep "$SECONDS_EACH"
with_clients=$(echo "$(cpu_seconds "$master") $base $SECONDS_EACH" | awk '{ printf "%.1f", ($1 - $2) / $3 * 100 }')
for pid in "${clients[@]}"; do kill "$pid" 2>/dev/null || true; done
sse_bytes=$(cat "$work"/sse*.txt | wc -c)

# The answer is rendered once per snapshot (every 2 s) and shared: time a fresh one first.
sleep 2.1
fresh=$(curl -sf -o /dev/null -w '%{time_total}' "$url/stats/requests" | awk '{ printf "%.1f", $1 * 1000 }')
names=$(curl -sf "$url/stats/requests" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["stats"]) - 1)')
times=()
for _ in $(seq 20); do
  times+=("$(curl -sf -o /dev/null -w '%{time_total}' "$url/stats/requests")")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", a[int((NR + 1) / 2)] * 1000 }')
size=$(curl -sf -o /dev/null -w '%{size_download}' "$url/stats/requests")

page=$(curl -sf "$url/" | wc -c)
assets=0
# Every asset the page links (src= and href=, relative or absolute).
for asset in $(curl -sf "$url/" | grep -oE '(src|href)="/?assets/[^"]+' | sed -E 's/^[a-z]+="\/?//' | sort -u); do
  assets=$((assets + $(curl -sf "$url/$asset" | wc -c)))
done
curl -sf "$url/stop" >/dev/null

echo "lv web server: $(nproc) cores, $PROFILE binaries, $USERS users on 2 workers, $names endpoint names"
echo "master CPU over ${SECONDS_EACH} s: ${no_clients}% of a core with no SSE client, ${with_clients}% with $CLIENTS ($sse_bytes bytes streamed)"
echo "GET /stats/requests with $names names: ${fresh} ms when rendered, median ${median} ms of 20 repeats, $size bytes"
echo "page weight: / $page bytes + assets $assets bytes = $((page + assets)) bytes"
