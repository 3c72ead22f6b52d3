#!/usr/bin/env bash
# The endurance soak (issue 14): one lv-master and 2 lv-worker processes against lv-fleet-sim's
# health endpoints at about RATE requests/s for DURATION. The RSS (and CPU) of the master, each
# worker and the simulator is sampled every SAMPLE seconds to a CSV (bench/rss.py), with the
# simulator's count; at the end it prints each process's RSS slope (KB/min, least squares) and
# lv's count next to the simulator's.
# Loopback only; every process is bounded by `timeout`. Usage: bench/soak.sh
# Env: DURATION (default 60m), USERS (400), RATE (2000 requests/s in all: each user runs
#      RATE/USERS tasks a second, constant_throughput), SAMPLE (60 s), LATENCY_SCALE (0.05),
#      OUT (folder for the CSV, logs and JSON; default a new temporary folder, kept),
#      BUILD=0 (use the release binaries as they are).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-60m}
USERS=${USERS:-400}
RATE=${RATE:-2000}
SAMPLE=${SAMPLE:-60}
LATENCY_SCALE=${LATENCY_SCALE:-0.05}
OUT=${OUT:-$(mktemp -d -t lv-soak.XXXXXX)}
mkdir -p "$OUT"

case "$DURATION" in
  *m) secs=$((${DURATION%m} * 60)) ;;
  *s) secs=${DURATION%s} ;;
  *) secs=$DURATION ;;
esac
bound=$((secs + 180))

# shellcheck source=bench/lib.sh
. bench/lib.sh
build_release
start_sim "$OUT" "$bound" "$LATENCY_SCALE"

per_user=$(python3 -c "print($RATE / $USERS)")
cat >"$OUT/soak.toml" <<TOML
[[user]]
name = "SoakHealthUser"
wait = { constant_throughput = $per_user }

[[user.task]]
name = "health"
for_each_agent = true

[[user.task.step]]
path = "/health"
TOML

timeout -k 5 "$bound" target/release/lv-master -f "$OUT/soak.toml" -u "$USERS" -r 100 \
  -t "$DURATION" --fleet "$OUT/fleet.toml" --expect-workers 2 --expect-workers-max-wait 60s \
  --master-bind-port 0 --ready-file "$OUT/master.json" --headless --only-summary \
  --json "$OUT/summary.json" --csv "$OUT/lv" >"$OUT/master.out" 2>"$OUT/master.log" &
master=$!
pids+=("$master")
master_pid=$(child_of "$master")
addr=$(master_address "$OUT/master.json" "$master" "$OUT/master.log")

workers=()
for i in 1 2; do
  timeout -k 5 "$bound" target/release/lv-worker --master "$addr" 2>"$OUT/worker$i.log" &
  pids+=("$!")
  workers+=("worker$i=$(child_of "$!")")
done
python3 bench/rss.py sample "$OUT/rss.csv" "$SAMPLE" --counts "http://$admin/counts" \
  "master=$master_pid" "${workers[@]}" "sim=$sim_pid" &
sampler=$!
echo "soak.sh: $USERS users, $RATE req/s, $DURATION; samples in $OUT/rss.csv" >&2

code=0
wait "$master" || code=$?
curl -sf "http://$admin/counts" >"$OUT/sim-counts.json"
kill "$sim" 2>/dev/null || true
wait "$sampler" || true

echo "lv soak: $(nproc) cores, 2 workers, $USERS users at $RATE req/s, $DURATION, fleet latency x$LATENCY_SCALE; lv-master exit $code; files in $OUT"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
s = json.load(open(f"{out}/summary.json"))
sim = json.load(open(f"{out}/sim-counts.json"))
t = s["total"]
print(f"requests {t['requests']} (simulator counted {sim['total']}), {t['rps']:.0f} req/s, "
      f"failures {t['failures']}, cut off {s['cut_off']}, "
      f"lost workers {sum(1 for w in s['workers'] if w['state'] != 'active')}")
PY
python3 bench/rss.py slope "$OUT/rss.csv"
exit "$code"
