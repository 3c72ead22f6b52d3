#!/usr/bin/env bash
# A million waiting users (issue 14): one lv-master and WORKERS lv-worker processes start USERS
# users at SPAWN_RATE users/s; each checks one of lv-fleet-sim's health endpoints, then waits
# uniformly between WAIT_MIN and WAIT_MAX seconds; the run lasts the ramp plus HOLD. RSS of the
# master, each worker and the simulator is sampled every 5 s (bench/rss.py). Prints the ramp
# (users over time from lv's stats history), lv's count next to the simulator's, and the peak
# total RSS of master + workers (the simulator apart), in all and per user, with its anonymous
# part (RssAnon: without the binaries' pages, which every process counts) and the total just
# after the ramp.
# Loopback only; every process is bounded by `timeout`. Usage: bench/million.sh
# Env: USERS (1000000), WORKERS (10), SPAWN_RATE (10000), HOLD (300 s), WAIT_MIN (60),
#      WAIT_MAX (120), LATENCY_SCALE (0.05), OUT (folder for logs; default a new temporary one),
#      BUILD=0 (use the release binaries as they are), WORKER_FILES (1600: each worker's
#      open-file limit, soft and hard, so the workers' connections together, each worker's
#      limit less lv's reserve of 64, stay under the simulator's 20,000 files; lv's pool then
#      makes users wait for a connection instead of opening more; 0 leaves the limit alone).
#      The environment reaches every process (mimalloc's MIMALLOC_* options for lv-worker, say).
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${USERS:-1000000}
WORKERS=${WORKERS:-10}
SPAWN_RATE=${SPAWN_RATE:-10000}
HOLD=${HOLD:-300}
WAIT_MIN=${WAIT_MIN:-60}
WAIT_MAX=${WAIT_MAX:-120}
LATENCY_SCALE=${LATENCY_SCALE:-0.05}
WORKER_FILES=${WORKER_FILES:-1600}
OUT=${OUT:-$(mktemp -d -t lv-million.XXXXXX)}
mkdir -p "$OUT"
ramp=$(((USERS + SPAWN_RATE - 1) / SPAWN_RATE))
secs=$((ramp + HOLD))
bound=$((secs + 240))

# shellcheck source=bench/lib.sh
. bench/lib.sh
build_release
start_sim "$OUT" "$bound" "$LATENCY_SCALE"

cat >"$OUT/million.toml" <<TOML
[[user]]
name = "WaitingHealthUser"
wait = { between = [$WAIT_MIN, $WAIT_MAX] }

[[user.task]]
name = "health"
for_each_agent = true

[[user.task.step]]
path = "/health"
TOML

timeout -k 5 "$bound" target/release/lv-master -f "$OUT/million.toml" -u "$USERS" \
  -r "$SPAWN_RATE" -t "${secs}s" --fleet "$OUT/fleet.toml" --expect-workers "$WORKERS" \
  --expect-workers-max-wait 60s --master-bind-port 0 --ready-file "$OUT/master.json" --headless \
  --only-summary --json "$OUT/summary.json" --csv "$OUT/lv" >"$OUT/master.out" 2>"$OUT/master.log" &
master=$!
pids+=("$master")
master_pid=$(child_of "$master")
addr=$(master_address "$OUT/master.json" "$master" "$OUT/master.log")

workers=()
for i in $(seq "$WORKERS"); do
  (
    [ "$WORKER_FILES" = 0 ] || ulimit -n "$WORKER_FILES"
    exec timeout -k 5 "$bound" target/release/lv-worker --master "$addr" 2>"$OUT/worker$i.log"
  ) &
  pids+=("$!")
  workers+=("worker$i=$(child_of "$!")")
done
python3 bench/rss.py sample "$OUT/rss.csv" 5 "master=$master_pid" "${workers[@]}" "sim=$sim_pid" &
sampler=$!
echo "million.sh: $USERS users over $WORKERS workers at $SPAWN_RATE/s, ramp ${ramp}s + hold ${HOLD}s," \
  "worker open-file limit ${WORKER_FILES/#0/unchanged}; files in $OUT" >&2

code=0
wait "$master" || code=$?
curl -sf "http://$admin/counts" >"$OUT/sim-counts.json"
kill "$sim" 2>/dev/null || true
wait "$sampler" || true

echo "lv $USERS users: $(nproc) cores, $WORKERS workers, spawn rate $SPAWN_RATE/s, waiting" \
  "between($WAIT_MIN, $WAIT_MAX) s, ramp ${ramp}s + ${HOLD}s, worker open-file limit" \
  "${WORKER_FILES/#0/unchanged}; lv-master exit $code; files in $OUT"
python3 - "$OUT" "$USERS" "$SPAWN_RATE" <<'PY'
import csv, json, sys
out, users, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = json.load(open(f"{out}/summary.json"))
sim = json.load(open(f"{out}/sim-counts.json"))
t = s["total"]
print(f"requests {t['requests']} (simulator counted {sim['total']}; equal: {t['requests'] == sim['total']}), "
      f"{t['rps']:.0f} req/s, failures {t['failures']}, exceptions "
      f"{sum(e['count'] for e in s['exceptions'])}, cut off {s['cut_off']}, "
      f"lost workers {sum(1 for w in s['workers'] if w['state'] != 'active')}")
# The ramp, from the stats history: first row at or above the target, and the peak.
rows = list(csv.DictReader(open(f"{out}/lv_stats_history.csv")))
agg = [r for r in rows if r.get("Name") == "Aggregated"] or rows
t0 = int(agg[0]["Timestamp"])
reached = next((int(r["Timestamp"]) - t0 for r in agg if int(r["User Count"]) >= users), None)
peak = max(int(r["User Count"]) for r in agg)
print(f"ramp: peak {peak} users; reached {users} after "
      f"{'never' if reached is None else f'{reached} s'} (at {rate:g}/s it takes {users / rate:.0f} s)")
by_time, anon, fds = {}, {}, {}
for line in open(f"{out}/rss.csv").read().splitlines()[1:]:
    minute, name, _pid, rss, _hwm, _cpu, nfds, anon_kb = line.split(",")
    by_time.setdefault(minute, {})[name] = int(rss)
    anon.setdefault(minute, {})[name] = int(anon_kb)
    if name.startswith("worker"):
        fds[minute] = fds.get(minute, 0) + int(nfds)
lv = lambda d: sum(v for k, v in d.items() if k == "master" or k.startswith("worker"))
lv_total = [(m, lv(d)) for m, d in by_time.items()]
minute, kb = max(lv_total, key=lambda p: p[1])
d = by_time[minute]
print(f"peak RSS master + workers: {kb / 1024:.0f} MB at minute {float(minute):.1f} "
      f"({kb * 1024 / users:.0f} bytes a user with everything counted); master "
      f"{d.get('master', 0) / 1024:.1f} MB, workers {sum(v for k, v in d.items() if k.startswith('worker')) / 1024:.0f} MB; "
      f"simulator {max(x.get('sim', 0) for x in by_time.values()) / 1024:.0f} MB at most")
# The same without the pages of the binaries, which every process maps and counts in its RSS
# (one copy in memory): the processes' own memory, and the first sample after the ramp.
akb = lv(anon[minute])
print(f"  of which anonymous (RssAnon: the binaries' shared pages apart) {akb / 1024:.0f} MB "
      f"({akb * 1024 / users:.0f} bytes a user); file-backed {(kb - akb) / 1024:.0f} MB")
ramp_end = min((m for m in by_time if float(m) * 60 >= users / rate), key=float, default=None)
if ramp_end is not None:
    rk = lv(by_time[ramp_end])
    print(f"after the ramp (minute {float(ramp_end):.1f}): RSS master + workers {rk / 1024:.0f} MB "
          f"({rk * 1024 / users:.0f} bytes a user), anonymous {lv(anon[ramp_end]) / 1024:.0f} MB")
print(f"open files of all workers: {max(fds.values())} at most, {fds[minute]} at the RSS peak, "
      f"{fds[max(fds, key=float)]} at the end")
PY
exit "$code"
