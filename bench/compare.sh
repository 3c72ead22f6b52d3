#!/usr/bin/env bash
# Side-by-side comparison of one lv-worker with peer load generators (wrk, oha, Goose,
# Locust) on loopback. Run `bench/compare.sh help` for the modes and settings.
# Loopback only (127.0.0.1); every process runs under `timeout`; everything started is
# stopped on exit. Peers are installed outside the repo, under ~/.cache/lv-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

usage() {
  cat <<'EOF'
Usage: bench/compare.sh [throughput|latency|memory|open|help]

Compares one lv-worker process with peer load generators, each on loopback, the target
pinned to CPU 0 and the load generator to CPU 1 (lv's master shares CPU 0 with the target;
lv-one is the master with its in-process worker, the whole process on CPU 1).
CPU % and peak RSS are sampled from the load generator's process (bench/sample.py).

Modes:
  throughput (default)  nginx (bench/nginx.conf.in), GET /health, 50 connections/users,
                        no think time, DURATION each, ROUNDS rounds in rotation:
                        lv, lv-one, wrk, oha, goose, locust-fast (FastHttpUser), locust
                        (HttpUser). One table: req/s as the tool reports it, req/s seen by
                        nginx (its stub_status count over the same steady window of every
                        run: from 2 s after the tool starts to 1 s before DURATION ends, so
                        no tool's start-up or ramp counts) and nginx's CPU % in it, p50,
                        p99, CPU %, peak RSS, failures, and lv/wrk, lv/oha ratios of the
                        seen rates within each round; medians over rounds last.
                        Not run unless named in TOOLS: probe-epoll, probe-uring and
                        probe-multi, lv-exchange-probe (tools/exchange-probe) with a
                        minimal user space through epoll, io_uring (a linked send and
                        receive a request), or io_uring with multishot receives into
                        provided buffers: what the kernel interface alone changes in the
                        CPU time of a request (their CPU per request over wrk's and lv's
                        is printed last).
  latency               lv-delay-target (tests/src/bin: one thread per connection, every
                        answer exactly 20 ms after the request arrived), LAT_USERS
                        users/connections, no think time, DURATION: lv (goal: p50 20-21 ms,
                        p99 20-25 ms), wrk, oha, locust-fast. (lv-fleet-sim --slow adds its
                        timer wheel's tick and its scheduler: about 2 ms more for every tool.)
  memory                nginx, MEM_USERS users waiting between(1, 5) s for MEM_DURATION:
                        peak RSS and KB per user of lv, locust-fast, locust, goose; then lv
                        with BIG_USERS users (more than the open-file limit: lv's master
                        warns, its warnings are printed after the table).
  open                  the open model against wrk2 (the coordinated-omission reference):
                        nginx, GET /health, OPEN_CONNS connections for wrk2, DURATION at each
                        of RATES arrivals/s: lv (lv-master --rate on CPU 0, one lv-worker on
                        CPU 1, no in-flight cap) and wrk2 (-t 1 -c OPEN_CONNS -R RATE). One
                        table: achieved rate, p50/p99/p99.9 from each request's intended
                        start, lv's schedule lag p99, CPU %, CPU microseconds per request
                        nginx counted, and lv/wrk2 ratios of p99 and of CPU per request.
  help                  this text.

Environment:
  DURATION=10s       run time of each throughput and latency run (s or m suffix)
  ROUNDS=3           throughput rounds
  TOOLS="..."        subset of tools, space or comma separated (per mode default above;
                     names: lv lv-one wrk oha goose locust-fast locust, probe-epoll
                     probe-uring probe-multi; lv-own is lv with
                     --connection-per-user (a connection per user, as Locust: memory
                     mode's default, or ask for it); lv-big in memory mode)
  USERS=50           throughput users/connections
  LAT_USERS=200      latency-mode users/connections
  MEM_USERS=5000     memory-mode users;  MEM_DURATION=40s
  BIG_USERS=50000    lv's big memory run (tool name lv-big)
  SPAWN_RATE=1000    users started per second by lv (lv-big: 5x), and by Locust and Goose
                     in memory mode (elsewhere they start all their users within 1 s)
  OHA_WAIT=1800      seconds to wait for another process's `cargo install oha` to finish
  LV_BENCH_CACHE=~/.cache/lv-bench   where peers are installed and Goose is built
  LV_DIR=DIR         lv's binaries from DIR (no build), e.g. a copy of an earlier release
                     build to compare before and after in the same minutes
  KEEP=1             keep the work folder (outputs of every tool) and print its path
  RATES="10000 50000 100000 150000"   open mode's arrival rates
  OPEN_CONNS=50      open mode: wrk2's connections
  WRK2=PATH          open mode: a wrk2 binary. No registry has wrk2: build it yourself
                     from its source (github.com/giltene/wrk2, Apache-2.0) and point WRK2
                     at it; bench/NOTES.md says which fix to its event loop our figures
                     used. Without it, wrk2 is skipped with a note.

Peers are installed when missing: nginx-light and wrk (apt-get), oha (cargo install --locked
into $LV_BENCH_CACHE/oha), Locust (venv $LV_BENCH_CACHE/venv), Goose (bench/goose copied to
$LV_BENCH_CACHE/goose-bench, built --release -j 1 once). A peer that cannot be installed is
skipped with a note (the first Goose build takes about 8 min, oha's install longer).
Times with defaults, once installed: throughput about 4 min (7 tools x ROUNDS x
(DURATION + ~1 s)); latency about 45 s; memory about 3.5 min (Goose's run time starts once
all its users run, so its run is longer by the ramp).
EOF
}

MODE=${1:-throughput}
case "$MODE" in
  help | -h | --help) usage; exit 0 ;;
  throughput | latency | memory | open) ;;
  *) usage >&2; exit 2 ;;
esac

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
USERS=${USERS:-50}
LAT_USERS=${LAT_USERS:-200}
MEM_USERS=${MEM_USERS:-5000}
MEM_DURATION=${MEM_DURATION:-40s}
BIG_USERS=${BIG_USERS:-50000}
SPAWN_RATE=${SPAWN_RATE:-1000}
OHA_WAIT=${OHA_WAIT:-1800}
CACHE=${LV_BENCH_CACHE:-$HOME/.cache/lv-bench}
case "$MODE" in
  throughput) DEFAULT_TOOLS="lv lv-one wrk oha goose locust-fast locust" ;;
  latency) DEFAULT_TOOLS="lv wrk oha locust-fast" ;;
  memory) DEFAULT_TOOLS="lv lv-own locust-fast locust goose lv-big" ;;
  open) DEFAULT_TOOLS="lv wrk2" ;;
esac
RATES=${RATES:-10000 50000 100000 150000}
OPEN_CONNS=${OPEN_CONNS:-50}
TOOLS=$(echo "${TOOLS:-$DEFAULT_TOOLS}" | tr ',' ' ')
for t in $TOOLS; do
  case "$t" in lv | lv-one | lv-own | lv-big | wrk | wrk2 | oha | goose | locust | locust-fast) ;;
    probe-epoll | probe-uring | probe-multi) ;;
    *) echo "compare.sh: unknown tool $t (lv lv-one lv-own lv-big wrk wrk2 oha goose locust locust-fast probe-epoll probe-uring probe-multi)" >&2; exit 2 ;;
  esac
done
want() { [[ " $TOOLS " == *" $1 "* ]]; }

# "10s", "2m", "40" -> seconds
secs() {
  case "$1" in
    *m) echo $((${1%m} * 60)) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
  esac
}

note() { echo "compare.sh: $*" >&2; }

# --- installing what is missing (outside the repo) ---------------------------------------
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  apt-get install -y -qq "$@" >/dev/null
}

OHA=$CACHE/oha/bin/oha
LOCUST=$CACHE/venv/bin/locust
GOOSE_DIR=$CACHE/goose-bench
GOOSE=$GOOSE_DIR/target/release/goose-bench
skipped=()
skip() { skipped+=("$1: $2"); TOOLS=$(echo " $TOOLS " | sed "s/ $1 / /g"); note "skipping $1: $2"; }

ensure_nginx() {
  command -v nginx >/dev/null || apt_install nginx-light
}

ensure_wrk() {
  command -v wrk >/dev/null || apt_install wrk || skip wrk "apt-get install wrk failed"
}

ensure_wrk2() {
  if [ -z "${WRK2:-}" ]; then
    skip wrk2 "no WRK2: set WRK2 to a wrk2 binary built from github.com/giltene/wrk2 (see bench/NOTES.md)"
  elif [ ! -x "$WRK2" ]; then
    skip wrk2 "WRK2=$WRK2 is not an executable file"
  fi
}

ensure_oha() {
  [ -x "$OHA" ] && return 0
  # Another process may be installing it into the same root right now: wait for it.
  local waited=0
  while pgrep -f "cargo install oha" >/dev/null && [ ! -x "$OHA" ] && [ "$waited" -lt "$OHA_WAIT" ]; do
    [ $((waited % 60)) = 0 ] && note "waiting for another process's cargo install oha (${waited}s of ${OHA_WAIT}s)"
    sleep 5
    waited=$((waited + 5))
  done
  [ -x "$OHA" ] && return 0
  if pgrep -f "cargo install oha" >/dev/null; then
    skip oha "another cargo install oha still running after ${OHA_WAIT}s"
    return 0
  fi
  note "installing oha (cargo install oha --locked -j 1, several minutes)"
  cargo install oha --locked --root "$CACHE/oha" -j 1 -q || skip oha "cargo install oha failed"
}

ensure_locust() {
  [ -x "$LOCUST" ] && return 0
  note "installing Locust into $CACHE/venv"
  { python3 -m venv "$CACHE/venv" && "$CACHE/venv/bin/pip" install -q locust; } ||
    skip "$1" "pip install locust failed"
}

ensure_goose() {
  mkdir -p "$GOOSE_DIR/src"
  # Copy the template only when it changed, so cargo's cache stays valid.
  cmp -s bench/goose/Cargo.toml "$GOOSE_DIR/Cargo.toml" || cp bench/goose/Cargo.toml "$GOOSE_DIR/"
  cmp -s bench/goose/src/main.rs "$GOOSE_DIR/src/main.rs" || cp bench/goose/src/main.rs "$GOOSE_DIR/src/"
  [ -x "$GOOSE" ] || note "building Goose in $GOOSE_DIR (cargo build --release -j 1, several minutes)"
  (cd "$GOOSE_DIR" && CARGO_TARGET_DIR=$GOOSE_DIR/target cargo build --release -j 1 -q) ||
    skip goose "cargo build of $GOOSE_DIR failed"
}

[ "$MODE" = latency ] || ensure_nginx
want wrk && ensure_wrk
want wrk2 && ensure_wrk2
want oha && ensure_oha
want locust && ensure_locust locust
want locust-fast && ensure_locust locust-fast
want goose && ensure_goose
if [ -z "${LV_DIR:-}" ] && { want lv || want lv-one || want lv-own || want lv-big ||
  want probe-epoll || want probe-uring || want probe-multi || [ "$MODE" = latency ]; }; then
  cargo build --release --locked --bins -q
fi
LV=${LV_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/release}

# --- processes --------------------------------------------------------------------------
work=$(mktemp -d /tmp/lv-compare.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "outputs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# bounded LIMIT_S CPU OUT ERR CMD...: start CMD pinned to CPU under `timeout`, in the
# background; sets $bpid (the timeout process, which forwards signals) and $tpid (CMD).
bounded() {
  local limit=$1 cpu=$2 out=$3 err=$4
  shift 4
  taskset -c "$cpu" timeout -k 5 "$limit" "$@" >"$out" 2>"$err" &
  bpid=$!
  pids+=("$bpid")
  tpid=""
  for _ in $(seq 100); do
    tpid=$(pgrep -P "$bpid" | head -1 || true)
    [ -n "$tpid" ] && break
    sleep 0.02
  done
  tpid=${tpid:-$bpid}
}

# sample PID DURATION_S FILE: bench/sample.py on PID until it exits (skips the ramp-up);
# in throughput mode also nginx's count over the steady window, into FILE.seen.
sample() {
  local skip=3 seen=""
  [ "$2" -lt 10 ] && skip=1
  if { [ "$MODE" = throughput ] || [ "$MODE" = open ]; } && [ -n "${STATUS:-}" ]; then
    python3 bench/compare.py seen "$STATUS" "$NGINX_WORKER" 2 $(($2 - 1)) >"$3.seen" 2>/dev/null &
    seen=$!
    pids+=("$seen")
  fi
  # In the background, so that a signal to this script is handled at once (bash runs
  # traps only after a foreground child ends, but interrupts `wait`).
  python3 bench/sample.py "$1" --skip "$skip" >"$3" 2>/dev/null &
  pids+=($!)
  wait $! || true
  if [ -n "$seen" ]; then wait "$seen" || true; fi
}

results=$work/results.jsonl
notes=$work/notes
: >"$results"
: >"$notes"
# record TOOL OUTPUT SAMPLE KEY=VALUE...
record() { python3 bench/compare.py parse "$@" | tee -a "$results" >/dev/null; }

start_nginx() {
  local port
  port=$(free_port)
  mkdir -p "$work/nginx"
  sed -e "s|@WORK@|$work/nginx|g" -e "s|@PORT@|$port|g" \
    -e "s|^worker_processes 1;|worker_processes 1;\nworker_rlimit_nofile $(ulimit -Hn);|" \
    bench/nginx.conf.in >"$work/nginx/nginx.conf"
  taskset -c 0 timeout -k 5 3h nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" \
    >"$work/nginx/out" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$port/health" >/dev/null || { cat "$work/nginx/out" >&2; exit 1; }
  BASE=http://127.0.0.1:$port
  STATUS=$BASE/nginx_status
  NGINX_WORKER=$(pgrep -P "$(cat "$work/nginx/nginx.pid")" | head -1)
}

start_delay_target() {
  bounded 3h 0 "$work/delay.out" "$work/delay.log" "$LV/lv-delay-target" --delay-ms 20
  for _ in $(seq 100); do
    grep -q "^listening on " "$work/delay.out" 2>/dev/null && break
    sleep 0.1
  done
  grep -q "^listening on " "$work/delay.out" || { cat "$work/delay.log" >&2; exit 1; }
  BASE=http://$(sed -n 's/^listening on //p' "$work/delay.out")
}

# --- one run per tool -------------------------------------------------------------------
# Each run_TOOL TAG USERS DURATION WAIT_MIN WAIT_MAX KEY=VALUE... appends one result line.
# WAIT_MAX 0 means no think time. Runs go to $BASE/health.

run_lv() {
  local tag=$1 users=$2 duration=$3 wmin=$4 wmax=$5 rate
  shift 5
  local d wait="{ constant = 0 }" tool=${LV_TOOL:-lv}
  d=$(secs "$duration")
  [ "$wmax" != 0 ] && wait="{ between = [$wmin, $wmax] }"
  rate=$SPAWN_RATE
  [ "$wmax" != 0 ] && rate=$SPAWN_RATE
  [ "$tool" = lv-big ] && rate=$((SPAWN_RATE * 5))
  local own=() cpu=0 local_worker=()
  [ "$tool" = lv-own ] && own=(--connection-per-user)
  # lv-one: the master runs the worker in its own process, all of it on the generator's CPU.
  [ "$tool" = lv-one ] && cpu=1 && local_worker=(--local-workers 1)
  cat >"$work/$tag.toml" <<TOML
[[user]]
name = "Bench"
wait = $wait
[[user.task]]
[[user.task.step]]
url = "$BASE"
path = "/health"
TOML
  bounded $((d + 90)) "$cpu" "$work/$tag.out" "$work/$tag.log" "$LV/lv-master" -f "$work/$tag.toml" \
    -u "$users" -r "$rate" -t "$duration" --expect-workers 1 --expect-workers-max-wait 30s \
    --master-bind-port 0 --ready-file "$work/$tag.ready" --headless --only-summary \
    --json "$work/$tag.json" "${own[@]}" "${local_worker[@]}"
  local master=$bpid addr="" worker=""
  if [ "$tool" = lv-one ]; then
    sample "$tpid" "$d" "$work/$tag.sample"
  else
    for _ in $(seq 100); do
      [ -s "$work/$tag.ready" ] && break
      sleep 0.1
    done
    addr=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["workers"])' \
      "$work/$tag.ready" 2>/dev/null || true)
    bounded $((d + 90)) 1 "$work/$tag-worker.out" "$work/$tag-worker.log" "$LV/lv-worker" --master "$addr"
    worker=$bpid
    sample "$tpid" "$d" "$work/$tag.sample"
  fi
  wait "$master" || true
  if [ -n "$worker" ]; then wait "$worker" || true; fi
  record "$tool" "$work/$tag.json" "$work/$tag.sample" "$@"
  # A refusal or an error is shown as lv printed it, after the table.
  grep -h -E "cannot go on|refus| ERROR | WARN " "$work/$tag.log" "$work/$tag-worker.log" 2>/dev/null |
    head -5 | sed "s/^/$tool: /" >>"$notes" || true
  if [ "$tool" = lv-big ]; then
    grep -h "open-file limit" "$work/$tag-worker.log" 2>/dev/null | head -1 | sed "s/^/$tool: /" >>"$notes" || true
  fi
}

# lv with --connection-per-user: every user keeps its own connection (Locust's model).
run_lv-own() {
  LV_TOOL=lv-own run_lv "$@"
}

# lv as one process (master and its in-process worker) on the load generator's core.
run_lv-one() {
  LV_TOOL=lv-one run_lv "$@"
}

run_wrk() {
  local tag=$1 users=$2 duration=$3 d
  shift 5
  d=$(secs "$duration")
  bounded $((d + 30)) 1 "$work/$tag.out" "$work/$tag.err" wrk -t 1 -c "$users" -d "$duration" \
    --latency "$BASE/health"
  local b=$bpid
  sample "$tpid" "$d" "$work/$tag.sample"
  wait "$b" || true
  record wrk "$work/$tag.out" "$work/$tag.sample" "$@"
}

run_oha() {
  local tag=$1 users=$2 duration=$3 d
  shift 5
  d=$(secs "$duration")
  bounded $((d + 30)) 1 "$work/$tag.json" "$work/$tag.err" "$OHA" -z "$duration" -c "$users" \
    --no-tui --output-format json "$BASE/health"
  local b=$bpid
  sample "$tpid" "$d" "$work/$tag.sample"
  wait "$b" || true
  record oha "$work/$tag.json" "$work/$tag.sample" "$@"
}

run_goose() {
  local tag=$1 users=$2 duration=$3 wmin=$4 wmax=$5 d rate=$2
  shift 5
  d=$(secs "$duration")
  local env=()
  [ "$wmax" != 0 ] && env=(GOOSE_WAIT="$wmin,$wmax") && rate=$SPAWN_RATE
  bounded $((d + 90)) 1 "$work/$tag.out" "$work/$tag.err" env "${env[@]}" "$GOOSE" \
    -H "$BASE" -u "$users" -r "$rate" -t "$duration" --report-file "$work/$tag.json"
  local b=$bpid
  sample "$tpid" "$d" "$work/$tag.sample"
  wait "$b" || true
  record goose "$work/$tag.json" "$work/$tag.sample" "$@"
}

# run_locust_class CLASS TOOL ...
run_locust_class() {
  local class=$1 tool=$2 tag=$3 users=$4 duration=$5 wmin=$6 wmax=$7 d rate=$4
  shift 7
  d=$(secs "$duration")
  local wait="constant(0)"
  [ "$wmax" != 0 ] && wait="between($wmin, $wmax)" && rate=$SPAWN_RATE
  cat >"$work/$tag.py" <<PY
from locust import HttpUser, FastHttpUser, task, between, constant


class Bench(HttpUser):
    wait_time = $wait

    @task
    def health(self):
        self.client.get("/health")


class BenchFast(FastHttpUser):
    wait_time = $wait

    @task
    def health(self):
        self.client.get("/health")
PY
  bounded $((d + 90)) 1 "$work/$tag.out" "$work/$tag.err" "$LOCUST" -f "$work/$tag.py" --headless \
    --only-summary -u "$users" -r "$rate" -t "$duration" -H "$BASE" --csv "$work/$tag" \
    --stop-timeout 5 --loglevel WARNING "$class"
  local b=$bpid
  sample "$tpid" "$d" "$work/$tag.sample"
  wait "$b" || true
  record "$tool" "$work/${tag}_stats.csv" "$work/$tag.sample" "$@"
}
# run_probe BACKEND TOOL TAG USERS DURATION WAIT_MIN WAIT_MAX KEY=VALUE...: lv-exchange-probe
# with BACKEND, one connection per user, recorded as TOOL.
run_probe() {
  local backend=$1 tool=$2 tag=$3 users=$4 duration=$5 d
  shift 7
  d=$(secs "$duration")
  bounded $((d + 30)) 1 "$work/$tag.json" "$work/$tag.err" "$LV/lv-exchange-probe" \
    --url "$BASE/health" --connections "$users" --seconds "$d" --backend "$backend"
  local b=$bpid
  sample "$tpid" "$d" "$work/$tag.sample"
  wait "$b" || true
  record "$tool" "$work/$tag.json" "$work/$tag.sample" "$@"
  head -3 "$work/$tag.err" | sed "s/^/$tool: /" >>"$notes" || true
}
run_probe-epoll() { run_probe epoll probe-epoll "$@"; }
run_probe-uring() { run_probe uring probe-uring "$@"; }
run_probe-multi() { run_probe uring-multishot probe-multi "$@"; }
run_locust() { run_locust_class Bench locust "$@"; }
run_locust-fast() { run_locust_class BenchFast locust-fast "$@"; }

# --- the open model: one run per tool and rate ---------------------------------------------
# run_open TOOL RATE: lv (master on CPU 0, one worker on CPU 1) or wrk2 (CPU 1) at RATE/s.
run_open() {
  local tool=$1 rate=$2 tag="open-$1-$2" d
  want "$tool" || return 0
  d=$(secs "$DURATION")
  note "$tool: $rate arrivals/s for $DURATION"
  if [ "$tool" = wrk2 ]; then
    bounded $((d + 30)) 1 "$work/$tag.out" "$work/$tag.err" "$WRK2" -t 1 -c "$OPEN_CONNS" \
      -d "$DURATION" -R "$rate" --latency "$BASE/health"
    local b=$bpid
    sample "$tpid" "$d" "$work/$tag.sample"
    wait "$b" || true
    record wrk2 "$work/$tag.out" "$work/$tag.sample" mode=open "rate=$rate"
    return 0
  fi
  cat >"$work/$tag.toml" <<TOML
[[user]]
name = "Bench"
[[user.task]]
[[user.task.step]]
url = "$BASE"
path = "/health"
TOML
  bounded $((d + 90)) 0 "$work/$tag.out" "$work/$tag.log" "$LV/lv-master" -f "$work/$tag.toml" \
    --rate "$rate/s" -t "$DURATION" --expect-workers 1 --expect-workers-max-wait 30s \
    --master-bind-port 0 --ready-file "$work/$tag.ready" --headless --only-summary --no-slo \
    --json "$work/$tag.json"
  local master=$bpid addr=""
  for _ in $(seq 100); do
    [ -s "$work/$tag.ready" ] && break
    sleep 0.1
  done
  addr=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["workers"])' \
    "$work/$tag.ready" 2>/dev/null || true)
  bounded $((d + 90)) 1 "$work/$tag-worker.out" "$work/$tag-worker.log" "$LV/lv-worker" --master "$addr"
  local worker=$bpid
  sample "$tpid" "$d" "$work/$tag.sample"
  wait "$master" || true
  wait "$worker" || true
  record lv-open "$work/$tag.json" "$work/$tag.sample" mode=open "rate=$rate"
  grep -h -E "cannot go on|refus| ERROR " "$work/$tag.log" "$work/$tag-worker.log" 2>/dev/null |
    head -5 | sed "s/^/lv at $rate\/s: /" >>"$notes" || true
}

# run TOOL TAG USERS DURATION WAIT_MIN WAIT_MAX KEY=VALUE...
run() {
  local tool=$1
  shift
  want "$tool" || return 0
  note "$tool: $2 users, $3$( [ "$5" != 0 ] && echo ", waiting between($4, $5) s")"
  "run_$tool" "$@"
}

header() {
  echo "lv $("$LV/lv-master" --version 2>/dev/null | awk '{print $2}') vs peers, mode $MODE," \
    "on $(nproc) cores ($(uname -m)); target on CPU 0, load generator on CPU 1;" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every number)"
}

case "$MODE" in
  throughput)
    start_nginx
    for round in $(seq "$ROUNDS"); do
      for tool in lv lv-one lv-own wrk oha goose locust-fast locust probe-epoll probe-uring probe-multi; do
        run "$tool" "$tool-$round" "$USERS" "$DURATION" 0 0 mode=throughput "round=$round" "users=$USERS"
      done
    done
    header
    echo "$USERS connections/users, no think time, GET /health on nginx, $DURATION per run, $ROUNDS round(s)"
    python3 bench/compare.py table throughput "$results"
    ;;
  latency)
    start_delay_target
    for tool in lv lv-own wrk oha goose locust-fast locust; do
      run "$tool" "$tool-lat" "$LAT_USERS" "$DURATION" 0 0 mode=latency round=1 "users=$LAT_USERS"
    done
    header
    echo "$LAT_USERS connections/users, no think time, GET /health on lv-delay-target (every answer 20 ms after the request), $DURATION per run"
    python3 bench/compare.py table latency "$results"
    ;;
  memory)
    start_nginx
    for tool in lv lv-own locust-fast locust goose; do
      run "$tool" "$tool-mem" "$MEM_USERS" "$MEM_DURATION" 1 5 mode=memory "users=$MEM_USERS"
    done
    if want lv-big; then
      note "lv-big: $BIG_USERS users, $MEM_DURATION, waiting between(1, 5) s (open-file limit: soft $(ulimit -n), hard $(ulimit -Hn))"
      LV_TOOL=lv-big run_lv lv-big "$BIG_USERS" "$MEM_DURATION" 1 5 mode=memory "users=$BIG_USERS" \
        "note=hard open-file limit $(ulimit -Hn)"
    fi
    header
    echo "users waiting between(1, 5) s, GET /health on nginx, $MEM_DURATION per run"
    python3 bench/compare.py table memory "$results"
    ;;
  open)
    start_nginx
    for rate in $RATES; do
      for tool in lv wrk2; do run_open "$tool" "$rate"; done
    done
    header
    echo "open model, GET /health on nginx, $DURATION per run; wrk2 with $OPEN_CONNS connections, lv uncapped"
    python3 bench/compare.py table open "$results"
    ;;
esac
if [ -s "$notes" ]; then
  echo "lv's warnings and refusals, as printed:"
  cat "$notes"
fi
if [ "${#skipped[@]}" -gt 0 ]; then
  printf 'skipped: %s\n' "${skipped[@]}"
fi
