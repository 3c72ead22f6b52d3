#!/usr/bin/env bash
# run_tests.sh: the helper script of the Leveredge load tests, now driving lv.
#
# Same verbs as the Locust suite's script (light, medium, heavy, stress, web, health-only,
# chat-only, event-bus-only, custom) plus `demo` and `demo-web`. Each run starts one lv-master and N local
# lv-worker processes, writes logs/[profile]_[timestamp].log and the reports
# reports/[profile]_[timestamp].{json,html,_*.csv}, stops everything it started on exit, error or Ctrl-C,
# and exits with lv-master's exit code. `./run_tests.sh help` lists the verbs.
set -euo pipefail

if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4))); then
    echo "run_tests.sh: needs bash 4.4 or newer (this is $BASH_VERSION)" >&2
    exit 2
fi

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)

usage() {
    cat <<'EOF'
Usage: ./run_tests.sh VERB [--workers N] [lv-master flags...]

Profiles (configs/VERB.conf):
  light            10 users,  1/s,  5 min   development, smoke testing
  medium           50 users,  5/s, 10 min   staging, pre-production
  heavy           200 users, 20/s, 15 min   capacity testing
  stress          500 users, 50/s,  5 min   maximum throughput
One user class, with the light profile:
  health-only      HealthCheckUser: GET /health on every agent
  chat-only        AriaChatUser: conversations with ARIA through ATLAS
  event-bus-only   EventBusUser: publish, query, acknowledge, bursts
Other verbs:
  custom --users N --spawn-rate R --run-time T    your own numbers
  demo             about a minute of the light profile against a simulated fleet
                   (lv-fleet-sim), everything on this machine: try this first
  web              the web UI on http://127.0.0.1:8089 against HOST, with local workers:
                   start, edit and stop runs from the browser (Ctrl-C quits)
  demo-web         (or demo --web) the web UI against a simulated fleet
  capacity [CLASS] a capacity search (lv-master capacity, docs/capacity.md) of CLASS
                   (AriaChatUser, or EventBusUser) against a simulated fleet whose
                   capacity is known: ATLAS 8 x 100 ms (80/s), EVENT-BUS 6 x 100 ms (60/s)
  help             this text

Options:
  --workers N      local lv-worker processes to start (default 2)
  anything else goes to lv-master and wins over the profile, e.g.
                   ./run_tests.sh light --tags creative
                   ./run_tests.sh medium --tags event-bus,throughput -t 2m

Environment:
  HOST=URL                    where the fleet is: scheme and host, agent ports are added
  LV_USERS, LV_TAGS, ...      any profile key as LV_<KEY> (see lv-master --help)
  LV_REPORTS_DIR, LV_LOGS_DIR where reports and logs go (default reports/ and logs/)
  LV_DEMO_RUN_TIME            how long the demo runs (default 60s)
  LV_WEB_PORT                 port of the web UI for web and demo-web (default 8089)
  LV_BUILD_PROFILE            cargo profile of the binaries (default release; debug is faster
                              to build)
  LV_SKIP_BUILD=1             use the built binaries as they are, never run cargo

Paths given to lv-master are relative to the repository root. Exit code: lv-master's
(0 passed, 1 checks failed, 2 bad usage or configuration, 3 the run could not be carried out).
EOF
}

die() { # die CODE MESSAGE: prints the message and exits with CODE
    echo "run_tests.sh: $2" >&2 2>/dev/null || true
    exit "$1"
}

absolute() {
    if [[ $1 == /* ]]; then printf '%s\n' "$1"; else printf '%s\n' "$PWD/$1"; fi
}

# Relative to the invocation directory, resolved before the cd below.
REPORTS_DIR=$(absolute "${LV_REPORTS_DIR:-$ROOT/reports}")
LOGS_DIR=$(absolute "${LV_LOGS_DIR:-$ROOT/logs}")
BUILD_PROFILE=${LV_BUILD_PROFILE:-release}
case $BUILD_PROFILE in
    release) BUILD_FLAGS=(--release) BUILD_DIR=release ;;
    debug | dev) BUILD_FLAGS=() BUILD_DIR=debug ;;
    *) BUILD_FLAGS=(--profile "$BUILD_PROFILE") BUILD_DIR=$BUILD_PROFILE ;;
esac
BIN_DIR=$(absolute "${CARGO_TARGET_DIR:-$ROOT/target}")/$BUILD_DIR
cd "$ROOT"

# --- State shared with the traps -------------------------------------------------------------

TMP=""
LOG=""
MASTER_PID=""
SIM_PID=""
WORKER_PIDS=()
RELAY_PIDS=()
SIGNALS=0
FIRST_SIGNAL_AT=0

# --- Building --------------------------------------------------------------------------------

# Builds the binaries when one is missing or a source file is newer than lv-master.
build_if_needed() {
    local bin stale=""
    for bin in lv-master lv-worker lv-fleet-sim; do
        [[ -x $BIN_DIR/$bin ]] || stale="$bin is missing"
    done
    if [[ ${LV_SKIP_BUILD:-} == 1 ]]; then
        [[ -z $stale ]] || die 3 "LV_SKIP_BUILD=1 but $BIN_DIR/$stale"
        return
    fi
    if [[ -z $stale ]]; then
        local newer
        newer=$(find common master worker tools/fleet-sim proto Cargo.toml Cargo.lock \
            \( -name '*.rs' -o -name '*.toml' -o -name '*.proto' -o -name Cargo.lock \) \
            -newer "$BIN_DIR/lv-master" -print -quit 2>/dev/null || true)
        [[ -z $newer ]] || stale="$newer changed"
    fi
    [[ -n $stale ]] || return 0
    command -v cargo >/dev/null || die 3 "cargo is needed to build lv ($stale)"
    say "==> building lv ($BUILD_PROFILE binaries: $stale)"
    cargo build "${BUILD_FLAGS[@]}" --locked -p lv-master -p lv-worker -p lv-fleet-sim --bins
    # cargo leaves a binary alone when only files it does not use changed.
    touch "$BIN_DIR/lv-master"
}

# --- Processes -------------------------------------------------------------------------------

# relay NAME SHOW: copies lines from stdin to the log as "[NAME] line", and also to this
# script's stdout (SHOW=stdout) or stderr (SHOW=stderr); SHOW=log copies to the log only.
# A relay outlives every signal and a closed terminal: it ends when lv-master closes its
# side, so the summary and the report lines always reach the log. When the terminal or
# pipe it shows lines on goes away (`| head`, a dropped SSH session), it keeps logging.
relay() {
    local name=$1 show=$2 line
    trap '' INT TERM HUP PIPE
    while IFS= read -r line || [[ -n $line ]]; do
        case $show in
            stdout) printf '%s\n' "$line" 2>/dev/null || show=log ;;
            stderr) printf '%s\n' "$line" >&2 2>/dev/null || show=log ;;
        esac
        printf '[%s] %s\n' "$name" "$line" >&3
    done 3>>"$LOG"
}

# say TEXT...: prints a line on stdout; a closed stdout is ignored (the run goes on, and
# the script still exits with lv-master's code).
say() {
    printf '%s\n' "$*" 2>/dev/null || true
}

# spawn NAME STDOUT STDERR COMMAND...: starts COMMAND in the background in a process group of
# its own, so that a Ctrl-C reaches only this script, which then stops things in order. Its
# output is relayed (see relay), without colours. Sets SPAWNED to its pid.
spawn() {
    local name=$1 out=$2 err=$3
    shift 3
    mkfifo "$TMP/$name.out" "$TMP/$name.err"
    relay "$name" "$out" <"$TMP/$name.out" &
    RELAY_PIDS+=("$!")
    relay "$name" "$err" <"$TMP/$name.err" &
    RELAY_PIDS+=("$!")
    set -m
    NO_COLOR=1 "$@" <"/dev/null" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SPAWNED=$!
    set +m
    printf '# %s: pid %s: %s\n' "$name" "$SPAWNED" "$*" >>"$LOG"
}

alive() {
    [[ -n $1 ]] && kill -0 "$1" 2>/dev/null
}

# wait_exit PID: waits for the process and sets EXIT_CODE to its exit code, riding out the
# interruptions of `wait` by trapped signals.
wait_exit() {
    local pid=$1 code again
    while :; do
        code=0
        wait "$pid" 2>/dev/null || code=$?
        if ((code > 128)) && alive "$pid"; then
            continue
        fi
        break
    done
    if ((code > 128)); then
        # Either the process died of a signal (its status is consumed: 127 now) or `wait` was
        # interrupted just before it exited (its status is still there).
        again=0
        wait "$pid" 2>/dev/null || again=$?
        ((again == 127)) || code=$again
    fi
    EXIT_CODE=$code
}

# stop GRACE PID...: gives the processes GRACE seconds to leave on their own, then SIGTERM,
# then 5 s more, then SIGKILL; reaps them all.
# shellcheck disable=SC2317 # called from the traps, which shellcheck does not follow
stop() {
    local grace=$1 pid tenths
    shift
    for ((tenths = 0; tenths < grace * 10; tenths++)); do
        any_alive "$@" || break
        sleep 0.1
    done
    for pid in "$@"; do
        if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    for ((tenths = 0; tenths < 50; tenths++)); do
        any_alive "$@" || break
        sleep 0.1
    done
    for pid in "$@"; do
        if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
        wait "$pid" 2>/dev/null || true
    done
}

# shellcheck disable=SC2317 # called from the traps, which shellcheck does not follow
any_alive() {
    local pid
    for pid in "$@"; do
        if alive "$pid"; then return 0; fi
    done
    return 1
}

# The EXIT trap: stops whatever is still running, keeps the exit code.
# shellcheck disable=SC2317 # called from the traps, which shellcheck does not follow
cleanup() {
    local code=$?
    trap - EXIT
    trap '' INT TERM
    if alive "$MASTER_PID"; then
        kill -TERM "$MASTER_PID" 2>/dev/null || true
        stop 10 "$MASTER_PID"
    fi
    ((${#WORKER_PIDS[@]} == 0)) || stop 5 "${WORKER_PIDS[@]}"
    [[ -z $SIM_PID ]] || stop 0 "$SIM_PID"
    ((${#RELAY_PIDS[@]} == 0)) || stop 5 "${RELAY_PIDS[@]}"
    [[ -z $TMP ]] || rm -rf -- "$TMP"
    exit "$code"
}

# INT, TERM and HUP: the first asks lv-master to stop gracefully (it stops the workers,
# collects their final reports, writes every report and prints the summary); the second
# makes it exit at once.
# shellcheck disable=SC2317 # called from the traps, which shellcheck does not follow
on_signal() {
    local signal=$1
    # One request can arrive twice (`timeout` and `kill -- -PGID` signal this script and its
    # group): a repeat within a second or two is that same request, not "stop at once".
    if ((SIGNALS > 0 && SECONDS - FIRST_SIGNAL_AT < 2)); then
        return
    fi
    # A stop was asked for and lv-master has ended: the script is closing with its code.
    if ((SIGNALS > 0)) && ! alive "$MASTER_PID"; then
        return
    fi
    ((SIGNALS > 0)) || FIRST_SIGNAL_AT=$SECONDS
    SIGNALS=$((SIGNALS + 1))
    if alive "$MASTER_PID"; then
        if ((SIGNALS == 1)); then
            echo "==> stopping: lv-master collects the workers' final reports (Ctrl-C again to stop at once)" >&2 2>/dev/null || true
        fi
        kill "-$signal" "$MASTER_PID" 2>/dev/null || true
    else
        case $signal in
            INT) exit 130 ;;
            HUP) exit 129 ;;
            *) exit 143 ;;
        esac
    fi
}

# wait_ready FILE PID WHAT: waits until FILE, the --ready-file of PID (lv-master or
# lv-fleet-sim, which write it whole by a rename once bound), exists while PID lives, for up
# to 60 s.
wait_ready() {
    local file=$1 pid=$2 what=$3 tenths
    for ((tenths = 0; tenths < 600; tenths++)); do
        [[ ! -s $file ]] || return 0
        if ! alive "$pid"; then
            [[ -s $file ]]
            return
        fi
        sleep 0.1
    done
    die 3 "$what did not start within 60 s (see $LOG)"
}

# ready_value FILE KEY: the string KEY holds in the ready file FILE (one line of JSON whose
# values are addresses, numbers or null); nothing for null.
ready_value() {
    local json
    json=$(<"$1")
    if [[ $json =~ \"$2\":\"([^\"]*)\" ]]; then
        printf '%s\n' "${BASH_REMATCH[1]}"
    fi
}

show_path() {
    printf '%s\n' "${1#"$ROOT"/}"
}

# --- One run ---------------------------------------------------------------------------------

# run NAME BANNER WORKERS MASTER_ARGS...: one load test with lv-master and WORKERS local
# workers. The demo also starts the fleet simulator first.
run() {
    local name=$1 banner=$2 workers=$3
    shift 3
    # A closed stdout must not end the script: `say` and the relays ignore it instead.
    trap '' PIPE
    build_if_needed
    local stamp report i
    stamp=$(date +%Y%m%d_%H%M%S)
    mkdir -p "$LOGS_DIR" "$REPORTS_DIR"
    LOG=$LOGS_DIR/${name}_$stamp.log
    report=$REPORTS_DIR/${name}_$stamp.json
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/lv-run.XXXXXX")
    trap cleanup EXIT
    trap 'on_signal INT' INT
    trap 'on_signal TERM' TERM
    trap 'on_signal HUP' HUP
    printf '# run_tests.sh %s, %s\n' "$name" "$(date '+%Y-%m-%d %H:%M:%S %z')" >"$LOG"

    local extra=() web="" command=()
    [[ $name == web || $name == demo-web ]] && web=1
    if [[ $name == demo || $name == demo-web ]]; then
        start_fleet_sim 0.05
        extra=(-r 5 --fleet "$TMP/fleet.toml" -H http://127.0.0.1 --slo-level light)
        [[ -n $web ]] || extra+=(-t "${LV_DEMO_RUN_TIME:-60s}")
    fi
    if [[ $name == capacity ]]; then
        start_fleet_sim 0 --slow ATLAS=100,EVENT-BUS=100 --capacity ATLAS=8,EVENT-BUS=6
        command=(capacity)
        # Each step's own reports go beside the search's, as web_<time>_<run>.*
        extra=(--fleet "$TMP/fleet.toml" -H http://127.0.0.1 --slo configs/slo-capacity-demo.toml
            --slo-level light --hold 10s --settle 2s --reports-dir "$REPORTS_DIR/${name}_${stamp}_steps")
    fi
    local mode=(--headless --json "$report" --csv "${report%.json}" --html "${report%.json}.html")
    if [[ -n $web ]]; then
        # Each run started from the page writes reports/web_<timestamp>_<runid8>.*
        mode=(--headless=false --web-port "${LV_WEB_PORT:-8089}" --reports-dir "$REPORTS_DIR")
    fi

    spawn master stdout stderr "$BIN_DIR/lv-master" "${command[@]}" "${mode[@]}" \
        --expect-workers "$workers" --expect-workers-max-wait 60s \
        --master-bind-port 0 --ready-file "$TMP/master.json" --profile-name "$name" \
        "${extra[@]}" "$@"
    MASTER_PID=$SPAWNED
    local master_relays=("${RELAY_PIDS[@]: -2}") address=""
    if wait_ready "$TMP/master.json" "$MASTER_PID" "lv-master"; then
        address=$(ready_value "$TMP/master.json" workers)
        for ((i = 1; i <= workers; i++)); do
            spawn "worker-$i" log log "$BIN_DIR/lv-worker" --master "$address" \
                --connect-timeout 60s
            WORKER_PIDS+=("$SPAWNED")
        done
        say "$banner"
        say "  master    lv-master, workers connect to $address"
        say "  workers   $workers lv-worker processes"
        say "  log       $(show_path "$LOG")"
        if [[ -n $web ]]; then
            local url
            url=$(ready_value "$TMP/master.json" web)
            say "  web UI    ${url:-(not started, see the log)}"
            say "  reports   $(show_path "$REPORTS_DIR")/web_<time>_<run>.* (one set per run)"
            say "Open the web UI to start a run. Ctrl-C quits."
        else
            say "  reports   $(show_path "${report%.json}").{json,html} and _*.csv"
            say "Stats follow. Ctrl-C stops the run early; the summary is still printed."
        fi
        say
    fi

    wait_exit "$MASTER_PID"
    local code=$EXIT_CODE
    MASTER_PID=""
    # Let the summary reach the terminal and the log before the closing lines.
    for ((i = 0; i < 50; i++)); do
        any_alive "${master_relays[@]}" || break
        sleep 0.1
    done
    say "==> lv-master exited with code $code ($(meaning "$code"))"
    say "  log       $(show_path "$LOG")"
    if [[ -f $report && $name == capacity ]]; then
        say "  results   $(show_path "${report%.json}").json, .html (the curve), _capacity.csv"
    elif [[ -f $report ]]; then
        local phases=""
        [[ -f ${report%.json}_phases.csv ]] && phases=", _phases.csv"
        say "  reports   $(show_path "${report%.json}").json, .html, _stats.csv, _stats_history.csv, _failures.csv, _exceptions.csv$phases"
    fi
    exit "$code"
}

# meaning CODE: what lv-master's exit code CODE means, from lv-master's own table
# (`lv-master explain-exit`); a code it does not know came from a signal.
meaning() {
    "$BIN_DIR/lv-master" explain-exit "$1" 2>/dev/null || echo "stopped"
}

# start_fleet_sim SCALE [FLAGS...]: starts lv-fleet-sim on ephemeral ports with latencies
# times SCALE (and FLAGS) and waits for it; its map goes to $TMP/fleet.toml.
start_fleet_sim() {
    local scale=$1
    shift
    spawn fleet-sim log log "$BIN_DIR/lv-fleet-sim" --ephemeral-ports \
        --write-fleet "$TMP/fleet.toml" --ready-file "$TMP/fleet-sim.json" --latency-scale "$scale" "$@"
    SIM_PID=$SPAWNED
    if ! wait_ready "$TMP/fleet-sim.json" "$SIM_PID" "lv-fleet-sim"; then
        die 3 "lv-fleet-sim stopped at once (see $LOG)"
    fi
    local fleet
    fleet=$("$BIN_DIR/lv-fleet-sim" --describe "$TMP/fleet.toml") ||
        die 3 "lv-fleet-sim cannot read the map it wrote (see $LOG)"
    if [[ $scale == 0 ]]; then
        say "lv capacity: a capacity search of a simulated Leveredge fleet, all on this machine."
    else
        say "lv demo: a short load test of a simulated Leveredge fleet, all on this machine."
    fi
    say "  fleet     lv-fleet-sim: $fleet on 127.0.0.1, latency x$scale $*"
}

# --- Verbs -----------------------------------------------------------------------------------

# Splits --workers N from the words for lv-master (WORKERS, PASS).
split_options() {
    WORKERS=2
    PASS=()
    while (($# > 0)); do
        case $1 in
            --workers)
                (($# >= 2)) || die 2 "--workers needs a number"
                WORKERS=$2
                shift 2
                ;;
            --workers=*)
                WORKERS=${1#*=}
                shift
                ;;
            *)
                PASS+=("$1")
                shift
                ;;
        esac
    done
    [[ $WORKERS =~ ^[1-9][0-9]*$ ]] || die 2 "--workers needs a whole number >= 1, got \"$WORKERS\""
}

# custom needs --users, --spawn-rate and --run-time (long, short or NAME=VALUE forms).
check_custom() {
    local users="" rate="" time="" word
    for word in "$@"; do
        case $word in
            -u* | --users | --users=*) users=1 ;;
            -r* | --spawn-rate | --spawn-rate=*) rate=1 ;;
            -t* | --run-time | --run-time=*) time=1 ;;
        esac
    done
    if [[ -z $users || -z $rate || -z $time ]]; then
        die 2 "custom needs --users N --spawn-rate R --run-time T (e.g. ./run_tests.sh custom --users 25 --spawn-rate 5 --run-time 10m)"
    fi
}

main() {
    local verb=${1:-}
    (($# == 0)) || shift
    split_options "$@"
    local banner
    case $verb in
        help | -h | --help)
            usage
            exit 0
            ;;
        web)
            banner="lv web: the web UI against ${HOST:-http://localhost}, form defaults from configs/light.conf"
            run web "$banner" "$WORKERS" --config configs/light.conf "${PASS[@]}"
            ;;
        demo-web)
            banner="  load      the web UI's form (defaults from configs/light.conf)"
            run demo-web "$banner" "$WORKERS" --config configs/light.conf "${PASS[@]}"
            ;;
        light | medium | heavy | stress)
            banner="lv $verb: profile configs/$verb.conf"
            run "$verb" "$banner" "$WORKERS" --config "configs/$verb.conf" "${PASS[@]}"
            ;;
        health-only | chat-only | event-bus-only)
            local class
            case $verb in
                health-only) class=HealthCheckUser ;;
                chat-only) class=AriaChatUser ;;
                event-bus-only) class=EventBusUser ;;
            esac
            banner="lv $verb: user class $class, profile configs/light.conf"
            run "$verb" "$banner" "$WORKERS" --config configs/light.conf "$class" "${PASS[@]}"
            ;;
        custom)
            check_custom "${PASS[@]}"
            run custom "lv custom: ${PASS[*]}" "$WORKERS" "${PASS[@]}"
            ;;
        demo)
            local word rest=() web=""
            for word in "${PASS[@]}"; do
                if [[ $word == --web ]]; then web=1; else rest+=("$word"); fi
            done
            if [[ -n $web ]]; then
                banner="  load      the web UI's form (defaults from configs/light.conf)"
                run demo-web "$banner" "$WORKERS" --config configs/light.conf "${rest[@]}"
            fi
            banner="  load      profile configs/light.conf, spawn rate 5/s, run time ${LV_DEMO_RUN_TIME:-60s}"
            run demo "$banner" "$WORKERS" --config configs/light.conf "${PASS[@]}"
            ;;
        capacity)
            local class=AriaChatUser tags=()
            if ((${#PASS[@]} > 0)) && [[ ${PASS[0]} != -* ]]; then
                class=${PASS[0]}
                PASS=("${PASS[@]:1}")
            fi
            # One request per arrival: publishes and queries (acknowledging needs an event
            # the same iteration published; throughput sends ten).
            [[ $class == EventBusUser ]] && tags=(--tags "publish,query")
            banner="  search    lv-master capacity $class, steps of 2 s settle + 10 s hold"
            run capacity "$banner" "$WORKERS" "$class" "${tags[@]}" "${PASS[@]}"
            ;;
        "")
            usage >&2
            exit 2
            ;;
        *)
            echo "run_tests.sh: unknown verb \"$verb\"" >&2
            echo >&2
            usage >&2
            exit 2
            ;;
    esac
}

main "$@"
