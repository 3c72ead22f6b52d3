#!/usr/bin/env bash
# Shared by the bench scripts (soak.sh, workers200.sh, million.sh, open.sh, worker.sh); they
# source it from the repository root:
#   build_release            cargo build --release of master, worker and simulator, unless BUILD=0
#   pids                     add every background process to it: all are killed on exit
#   work_dirs                add folders to it: they are removed on exit
#   child_of PID             the pid of the process PID (a `timeout`) runs, once it has started
#   wait_line FILE PATTERN   waits up to 60 s for a line matching PATTERN in FILE, or exits 1
#   master_address LOG       waits for lv-master's "listening for workers on" line in LOG and
#                            prints the address
#   start_nginx DIR          nginx (bench/nginx.conf.in) on CPU 0 on a free loopback port, its
#                            files in DIR; installs nginx-light when missing; sets nginx_url
#   start_sim OUT BOUND SCALE
#                            lv-fleet-sim on ephemeral ports for at most BOUND seconds, latency
#                            x SCALE, its fleet map in OUT/fleet.toml; sets sim (its `timeout`),
#                            sim_pid and admin (host:port of its admin API, for /counts)

build_release() {
  [ "${BUILD:-1}" = 0 ] || cargo build --release --locked -q -p lv-master -p lv-worker -p lv-fleet-sim
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

wait_line() {
  for _ in $(seq 600); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "${0##*/}: no line matching '$2' in $1" >&2
  cat "$1" >&2
  exit 1
}

# shellcheck disable=SC2034  # sim, sim_pid and admin are read by the sourcing script
start_sim() {
  local out=$1 bound=$2 scale=$3
  timeout -k 5 "$bound" target/release/lv-fleet-sim --ephemeral-ports --write-fleet "$out/fleet.toml" \
    --admin-port 0 --latency-scale "$scale" >"$out/sim.out" 2>"$out/sim.log" &
  sim=$!
  pids+=("$sim")
  sim_pid=$(child_of "$sim")
  wait_line "$out/sim.out" '^lv-fleet-sim ready$'
  admin=$(sed -n 's/^admin listening on //p' "$out/sim.log")
}

master_address() {
  wait_line "$1" '^lv-master: listening for workers on '
  sed -n 's/^lv-master: listening for workers on //p' "$1"
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
