#!/usr/bin/env bash
# Real network partitions for lv (issue 14, part 4). Root only: it makes network namespaces.
#
# The master, three workers and lv-fleet-sim each run in their own network namespace. Two
# bridges in a hub namespace join them: the control plane (10.99.0.0/24: master and workers)
# and the data plane (10.99.1.0/24: workers and the fleet). Links are cut by setting the hub
# end of a veth pair down, so packets vanish without a reset, as in a real partition. Every
# address lives only inside namespaces this script creates; nothing is routed anywhere else.
#
# Scenarios:
#   worker-partition  a worker's control link down for 10 s mid-run: the master marks it
#                     lost and hands its users to the others; link back: the worker rejoins,
#                     its buffered reports arrive, and lv's total equals the fleet's count.
#   worker-isolated   both of a worker's links down for 10 s (control and data, as with one
#                     network card): as above, and the requests it had in flight when its link
#                     went are failures or cut off, so lv's answered count <= the fleet's count
#                     <= lv's total plus those cut off; the other workers see no failure.
#   master-partition  the master's link down past the 5 s heartbeat timeout: every worker
#                     stops its load within the timeout (the fleet's counter stops growing).
#   control-latency   the workers reach the master through lv-delay-proxy, 200 ms added each
#                     way (this kernel has no netem): no worker lost, counts exact.
#
# Usage: tests/netns/partition.sh [SCENARIO...]   (default: all four)
# Exit: 0 all passed, 1 some failed, 2 not root or no network namespaces here.
# Last line: `partition: N passed, N failed`. Bounded: about 3 minutes; everything it started
# is stopped and every namespace deleted on exit (trap).
set -uo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "partition.sh: needs root to create network namespaces; run it as root" >&2
    exit 2
fi
if ! command -v ip >/dev/null || ! command -v curl >/dev/null || ! command -v python3 >/dev/null; then
    echo "partition.sh: needs ip (iproute2), curl and python3" >&2
    exit 2
fi

root=$(cd "$(dirname "$0")/../.." && pwd)
bin="${CARGO_TARGET_DIR:-$root/target}/debug"
tag="lvp$$"
hub="$tag-hub"
work=$(mktemp -d)
heartbeat_s=5
code=0
declare -A pid=()
passed=0
failed=0

cleanup() {
    for name in "${!pid[@]}"; do
        kill "${pid[$name]}" 2>/dev/null
    done
    wait 2>/dev/null
    for ns in $(ip netns list | awk '{print $1}' | grep "^$tag-"); do
        ip netns del "$ns"
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! ip netns add "$tag-probe" 2>/dev/null; then
    echo "partition.sh: 'ip netns add' does not work here (no CAP_SYS_ADMIN or no netns support)" >&2
    exit 2
fi
ip netns del "$tag-probe"

# lv's binaries read HOST and LV_* from the environment: none of the caller's.
unset HOST
while read -r name; do unset "$name"; done < <(compgen -e | grep '^LV_')

log() { echo "partition: $*"; }

# --- topology ---------------------------------------------------------------------------

# add_host NAME CONTROL_IP DATA_IP: a namespace with a veth on each bridge it is given an IP on.
add_host() {
    local ns="$tag-$1"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    local plane bridge dev addr
    for plane in c d; do
        if [[ $plane == c ]]; then addr=$2 bridge=bctl; else addr=$3 bridge=bdat; fi
        [[ -n $addr ]] || continue
        dev="${plane}0"
        ip link add "$1-$plane" netns "$hub" type veth peer name "$dev" netns "$ns"
        ip -n "$hub" link set "$1-$plane" master "$bridge" up
        ip -n "$ns" addr add "$addr/24" dev "$dev"
        ip -n "$ns" link set "$dev" up
    done
}

topology() {
    ip netns add "$hub"
    ip -n "$hub" link set lo up
    for bridge in bctl bdat; do
        ip -n "$hub" link add "$bridge" type bridge
        ip -n "$hub" link set "$bridge" up
    done
    add_host master 10.99.0.1 ""
    add_host fleet "" 10.99.1.2
    for i in 1 2 3; do
        add_host "w$i" "10.99.0.1$i" "10.99.1.1$i"
    done
}

# link NAME PLANE up|down: the hub end of NAME's link on that plane.
link() { ip -n "$hub" link set "$1-$2" "$3"; }

# --- processes --------------------------------------------------------------------------

# start NAME NS COMMAND...: runs COMMAND in namespace NS (at most 3 minutes, then SIGTERM, and
# SIGKILL 10 s later if it is still there), stdout to
# $work/NAME.out, stderr to $work/NAME.log.
start() {
    local name=$1 ns=$2
    shift 2
    ip netns exec "$tag-$ns" timeout -k 10 180 "$@" >"$work/$name.out" 2>"$work/$name.log" &
    pid[$name]=$!
}

stop() {
    if [[ -n ${pid[$1]:-} ]]; then
        kill "${pid[$1]}" 2>/dev/null
        wait "${pid[$1]}" 2>/dev/null
        unset "pid[$1]"
    fi
}

# wait_ready FILE SECONDS: true once FILE, a --ready-file (written whole once bound), exists.
wait_ready() {
    local deadline=$((SECONDS + $2))
    until [[ -s $1 ]]; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# wait_for FILE TEXT SECONDS: true once FILE holds TEXT.
wait_for() {
    local deadline=$((SECONDS + $3))
    until grep -q -- "$2" "$1" 2>/dev/null; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# wait_exit NAME SECONDS: waits for NAME to exit and sets `code` to its exit code (124, after
# stopping it, when it runs past SECONDS).
wait_exit() {
    local deadline=$((SECONDS + $2))
    while kill -0 "${pid[$1]}" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            stop "$1"
            code=124
            return
        fi
        sleep 0.2
    done
    wait "${pid[$1]}"
    code=$?
    unset "pid[$1]"
}

fleet_total() {
    ip netns exec "$tag-fleet" curl -s --max-time 2 http://10.99.1.2:9999/counts |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["total"])'
}

# summary FILE EXPR: a Python expression over the master's JSON report `s`.
summary() { python3 -c "import json, sys; s = json.load(open(sys.argv[1])); print($2)" "$1"; }

start_fleet() {
    rm -f "$work/fleet.ready"
    start fleet fleet "$bin/lv-fleet-sim" --bind 10.99.1.2 --admin-port 9999 --latency-scale 0.01 \
        --ready-file "$work/fleet.ready"
    wait_ready "$work/fleet.ready" 30
}

# start_master SCENARIO RUN_TIME: 6 users over 3 workers, each pinging ATLAS every 0.1 s.
start_master() {
    cat >"$work/ping.toml" <<'EOF'
[[user]]
name = "Pinger"
wait = { constant = 0.1 }
[[user.task]]
[[user.task.step]]
url = "http://10.99.1.2:8007"
path = "/health"
EOF
    rm -f "$work/master.ready"
    start master master "$bin/lv-master" -f "$work/ping.toml" --fleet "$root/configs/fleet.toml" \
        --headless --only-summary --no-slo --token partition \
        --master-bind-host 10.99.0.1 --master-bind-port 5557 --ready-file "$work/master.ready" \
        --expect-workers 3 --expect-workers-max-wait 60s --heartbeat-timeout "${heartbeat_s}s" \
        -u 6 -r 10 -t "$2" --json "$work/$1.json"
    wait_ready "$work/master.ready" 30
}

# start_workers MASTER_ADDR: w1..w3, each in its namespace.
start_workers() {
    for i in 1 2 3; do
        start "w$i" "w$i" "$bin/lv-worker" --master "$1" --token partition \
            --connect-timeout 20s --heartbeat-timeout "${heartbeat_s}s"
    done
}

# check MESSAGE COMMAND...: one assertion of the current scenario; passes when COMMAND does.
check() {
    local message=$1
    shift
    if "$@"; then
        echo "  ok: $message"
    else
        echo "  FAILED: $message"
        scenario_ok=false
    fi
}

stop_all() {
    for name in "${!pid[@]}"; do stop "$name"; done
}

# --- scenarios --------------------------------------------------------------------------

worker_partition() {
    start_fleet || return 1
    start_master worker-partition 50s || return 1
    start_workers 10.99.0.1:5557
    wait_for "$work/master.log" "starting the run" 60 || return 1
    sleep 10
    log "w1's control link down for 10 s"
    link w1 c down
    local down=$SECONDS lost=false rejoined=false
    wait_for "$work/master.log" "worker lost" $((heartbeat_s + 4)) && lost=true
    sleep $((down + 10 - SECONDS > 0 ? down + 10 - SECONDS : 0))
    link w1 c up
    log "w1's control link back"
    wait_for "$work/master.log" "rejoined=true" 25 && rejoined=true
    wait_exit master 60
    local fleet lv json="$work/worker-partition.json"
    fleet=$(fleet_total)
    lv=$(summary "$json" 's["total"]["requests"]')
    local losses handed failures
    losses=$(grep -c "worker lost" "$work/master.log")
    handed=$(summary "$json" 'sum(1 for b in s["below_target"] if b["to_unix_ms"])')
    failures=$(summary "$json" 's["total"]["failures"]')
    check "the master marked w1 lost within the heartbeat timeout" "$lost"
    check "exactly one worker was lost ($losses)" test "$losses" = 1
    check "its users went to the others (closed below-target periods: $handed)" test "$handed" -ge 1
    check "w1 noticed the lost master and stopped its users" grep -q "lost the master" "$work/w1.log"
    check "w1 rejoined once its link was back" "$rejoined"
    check "the master exited 0 (got $code)" test "$code" = 0
    check "lv's total $lv equals the fleet's count $fleet (w1's buffered reports arrived)" \
        test "${lv:-none}" = "$fleet"
    check "no request failed ($failures)" test "$failures" = 0
    check "the run made over 1,000 requests ($lv)" test "${lv:-0}" -gt 1000
}

worker_isolated() {
    start_fleet || return 1
    start_master worker-isolated 50s || return 1
    start_workers 10.99.0.1:5557
    wait_for "$work/master.log" "starting the run" 60 || return 1
    sleep 10
    log "both of w2's links down for 10 s"
    link w2 c down
    link w2 d down
    local down=$SECONDS lost=false rejoined=false
    wait_for "$work/master.log" "worker lost" $((heartbeat_s + 4)) && lost=true
    sleep $((down + 10 - SECONDS > 0 ? down + 10 - SECONDS : 0))
    link w2 c up
    link w2 d up
    log "w2's links back"
    wait_for "$work/master.log" "rejoined=true" 25 && rejoined=true
    wait_exit master 60
    local json="$work/worker-isolated.json" w2 fleet lv answered cut others
    w2=$(grep -o 'worker_id=[0-9a-f-]*' "$work/w2.log" | head -n 1 | cut -d= -f2)
    fleet=$(fleet_total)
    lv=$(summary "$json" 's["total"]["requests"]')
    answered=$(summary "$json" 's["total"]["requests"] - s["total"]["failures"]')
    cut=$(summary "$json" 's["cut_off"]')
    others=$(summary "$json" "sum(w['failures'] for w in s['workers'] if w['id'] != '$w2')")
    check "the master marked w2 lost within the heartbeat timeout" "$lost"
    check "w2 rejoined once its links were back" "$rejoined"
    check "the master finished the run (exit $code: 0, or 1 when a request failed)" \
        test "$code" -le 1
    check "the fleet saw every request lv counted as answered ($answered <= $fleet)" \
        test "${answered:-999999999}" -le "$fleet"
    check "lv accounts for every request the fleet saw ($fleet <= $lv + $cut cut off)" \
        test "$fleet" -le $((${lv:-0} + ${cut:-0}))
    check "no failure on the workers that kept their links ($others)" test "$others" = 0
}

master_partition() {
    start_fleet || return 1
    start_master master-partition 60s || return 1
    start_workers 10.99.0.1:5557
    wait_for "$work/master.log" "starting the run" 60 || return 1
    sleep 6
    local before
    before=$(fleet_total)
    log "the master's link down"
    link master c down
    local down=$EPOCHREALTIME last_growth=0 total previous=$before
    for _ in $(seq 1 24); do
        sleep 0.5
        total=$(fleet_total)
        if [[ $total != "$previous" ]]; then
            last_growth=$(python3 -c "print(round($EPOCHREALTIME - $down, 1))")
            previous=$total
        fi
    done
    wait_exit master 20
    link master c up
    local stopped=0
    for i in 1 2 3; do grep -q "lost the master" "$work/w$i.log" && stopped=$((stopped + 1)); done
    local quiet
    quiet=$(python3 -c "print(int($last_growth <= $heartbeat_s + 1.5))")
    check "load went on for a while after the cut ($before -> $previous requests)" \
        test "$previous" -gt "$before"
    check "every worker noticed the lost master ($stopped of 3)" test "$stopped" = 3
    check "the fleet's count stopped growing ${last_growth} s after the cut (timeout ${heartbeat_s} s, 1.5 s slack)" \
        test "$quiet" = 1
    check "the master gave up, every worker lost (exit $code)" test "$code" = 3
}

control_latency() {
    start_fleet || return 1
    start_master control-latency 20s || return 1
    start proxy master "$bin/lv-delay-proxy" --listen 10.99.0.1:5558 --upstream 10.99.0.1:5557 --delay-ms 200
    wait_for "$work/proxy.out" "listening on" 10 || return 1
    start_workers 10.99.0.1:5558
    wait_exit master 90
    local fleet lv json="$work/control-latency.json"
    fleet=$(fleet_total)
    lv=$(summary "$json" 's["total"]["requests"]')
    local losses active failures
    losses=$(grep -c "worker lost" "$work/master.log")
    active=$(summary "$json" 'sum(1 for w in s["workers"] if w["state"] == "active")')
    failures=$(summary "$json" 's["total"]["failures"]')
    check "no worker was lost ($losses)" test "$losses" = 0
    check "all three workers stayed active ($active)" test "$active" = 3
    check "the master exited 0 (got $code)" test "$code" = 0
    check "lv's total $lv equals the fleet's count $fleet" test "${lv:-none}" = "$fleet"
    check "no request failed ($failures)" test "$failures" = 0
    check "the run made over 500 requests ($lv)" test "${lv:-0}" -gt 500
}

# --- main -------------------------------------------------------------------------------

log "building the binaries"
(cd "$root" && cargo build --quiet --bins -p lv-master -p lv-worker -p lv-fleet-sim -p lv-tests) || exit 1
topology
scenarios=("$@")
((${#scenarios[@]})) || scenarios=(worker-partition worker-isolated master-partition control-latency)
for scenario in "${scenarios[@]}"; do
    log "$scenario"
    scenario_ok=true
    case $scenario in
        worker-partition) worker_partition || scenario_ok=false ;;
        worker-isolated) worker_isolated || scenario_ok=false ;;
        master-partition) master_partition || scenario_ok=false ;;
        control-latency) control_latency || scenario_ok=false ;;
        *)
            echo "unknown scenario $scenario" >&2
            scenario_ok=false
            ;;
    esac
    stop_all
    if $scenario_ok; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        log "$scenario failed; the last lines of each log:"
        for file in "$work"/*.log; do
            echo "--- $(basename "$file")"
            tail -n 8 "$file"
        done
    fi
    rm -f "$work"/*.log "$work"/*.out "$work"/*.ready
done
echo "partition: $passed passed, $failed failed"
((failed == 0))
