#!/usr/bin/env bash
# Shared by the bench scripts (soak.sh, workers.sh, million.sh, open.sh, worker.sh,
# stress.sh, web.sh, syscalls.sh, instructions.sh); they source it from the repository root:
#   build_release            cargo build --release of master, worker, simulator and
#                            lv-exchange-probe, unless BUILD=0
#   pids                     add every background process to it: all are killed on exit
#   work_dirs                add folders to it: they are removed on exit
#   child_of PID             the pid of the process PID (a `timeout`) runs, once it has started
#   wait_ready FILE PID LOG  waits up to 60 s for FILE, the --ready-file of lv-master or
#                            lv-fleet-sim (written whole once bound), while PID runs; or shows
#                            LOG and exits 1
#   ready_value FILE KEY     a value of that ready file (JSON): workers, web, admin, ...
#   master_address READY PID LOG
#                            waits for lv-master's ready file READY and prints where workers
#                            connect
#   start_nginx DIR          nginx (bench/nginx.conf.in) on CPU 0 on a free loopback port, its
#                            files in DIR; installs nginx-light when missing; sets nginx_url
#   nginx_scenario FILE      writes FILE: one user class, no wait, one GET /health on nginx_url
#   start_sim OUT BOUND SCALE
#                            lv-fleet-sim on ephemeral ports for at most BOUND seconds, latency
#                            x SCALE, its fleet map in OUT/fleet.toml and ready file in
#                            OUT/sim.json; sets sim (its `timeout`), sim_pid and admin
#                            (host:port of its admin API, for /counts)

build_release() {
  [ "${BUILD:-1}" = 0 ] || cargo build --release --locked -q -p lv-master -p lv-worker -p lv-fleet-sim \
    -p lv-exchange-probe
}

pids=()
work_dirs=()
# shellcheck disable=SC2317  # called by the trap below
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${#work_dirs[@]}" -gt 0 ]; then rm -rf "${work_dirs[@]}"; fi
}
trap cleanup EXIT INT TERM

child_of() {
  local c=""
  for _ in $(seq 100); do
    c=$(pgrep -P "$1" | head -1) && [ -n "$c" ] && break
    sleep 0.05
  done
  echo "$c"
}

wait_ready() {
  for _ in $(seq 600); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  [ -s "$1" ] && return 0
  echo "${0##*/}: no ready file $1 (see $3)" >&2
  cat "$3" >&2
  exit 1
}

ready_value() {
  python3 -c 'import json, sys; v = json.load(open(sys.argv[1]))[sys.argv[2]]; print("" if v is None else v)' "$1" "$2"
}

# shellcheck disable=SC2034  # sim, sim_pid and admin are read by the sourcing script
start_sim() {
  local out=$1 bound=$2 scale=$3
  timeout -k 5 "$bound" target/release/lv-fleet-sim --ephemeral-ports --write-fleet "$out/fleet.toml" \
    --ready-file "$out/sim.json" --admin-port 0 --latency-scale "$scale" >"$out/sim.out" 2>"$out/sim.log" &
  sim=$!
  pids+=("$sim")
  sim_pid=$(child_of "$sim")
  wait_ready "$out/sim.json" "$sim" "$out/sim.log"
  admin=$(ready_value "$out/sim.json" admin)
}

master_address() {
  wait_ready "$1" "$2" "$3"
  ready_value "$1" workers
}

# shellcheck disable=SC2034  # nginx_url is read by the sourcing script
start_nginx() {
  local dir=$1 port
  if ! command -v nginx >/dev/null; then
    apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null
  fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  sed -e "s|@WORK@|$dir|g" -e "s|@PORT@|$port|g" bench/nginx.conf.in >"$dir/nginx.conf"
  taskset -c 0 nginx -c "$dir/nginx.conf" -p "$dir" &
  pids+=($!)
  nginx_url=http://127.0.0.1:$port
  for _ in $(seq 50); do
    curl -sf "$nginx_url/health" >/dev/null && return 0
    sleep 0.1
  done
  echo "${0##*/}: nginx did not answer at $nginx_url" >&2
  exit 1
}

nginx_scenario() {
  cat >"$1" <<TOML
[[user]]
name = "Bench"
wait = { constant = 0 }
[[user.task]]
[[user.task.step]]
url = "$nginx_url"
path = "/health"
TOML
}
