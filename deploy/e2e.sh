#!/usr/bin/env bash
# A real lv run in containers: the image from deploy/docker/Dockerfile.prebuilt, the simulated
# fleet, a master and 2 workers, each its own container, with a token.
#
#   deploy/e2e.sh
#
# Needs root (or a working rootless podman) and Debian's apt for what is missing. No image
# registry: the base image is a minimal Debian rootfs made with debootstrap from the mirror apt
# already uses, imported with `podman import` and kept (localhost/lv-base:<suite>, its tarball
# under ~/.cache/lv-deploy-e2e) for the next run. The binaries are built on the host
# (cargo build --release --locked), so the base is the host's own Debian suite.
#
# All containers share the fleet simulator's network namespace, which has nothing but its own
# loopback (--network none): every request stays on 127.0.0.1 inside it, and no host port is
# taken. Asserts: the image runs as uid 10001; workers started before the master keep retrying
# and join; the master exits 0; both workers exit 0 and sent requests under their
# --worker-id; the workers raised their open-file soft limit to the hard limit; lv's total
# request count equals what the simulator received. Removes its containers and the lv image on exit.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
engine=${LV_E2E_ENGINE:-podman}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/lv-deploy-e2e
run_id="lv-e2e-$$"
runtime_args=()
# The ulimits every container gets: a soft open-file limit of 1024 as containerd 2.x gives
# (lv must raise it itself), the hard one as high as this host allows (the engine cannot
# raise a hard limit above its own without CAP_SYS_RESOURCE, so it asks for none of its
# defaults), and a bound on processes for the same reason.
fd_hard=$(ulimit -Hn)
[[ $fd_hard == unlimited || $fd_hard -gt 65536 ]] && fd_hard=65536
ulimits=(--ulimit "nofile=1024:$fd_hard" --ulimit nproc=4096:4096)
image="localhost/lv:$run_id"
work=$(mktemp -d)
started=$SECONDS

step() { echo "[$((SECONDS - started))s] $*"; }
die() {
    echo "e2e: FAIL: $*" >&2
    exit 1
}

cleanup() {
    local name
    for name in master worker-0 worker-1 sim; do
        "$engine" rm --force --time 5 "$run_id-$name" >/dev/null 2>&1 || true
    done
    "$engine" rmi --force "$image" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# install_missing CMD PACKAGE...: apt-get install PACKAGE when CMD is not on PATH.
install_missing() {
    local cmd=$1
    shift
    command -v "$cmd" >/dev/null && return 0
    step "installing $* (Debian)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# The Debian mirror apt uses (the first non-security one).
debian_mirror() {
    local mirror
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
        grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ')
    echo "${mirror:-http://deb.debian.org/debian}"
}

# pick_runtime BASE: the OCI runtime that can start a container here. crun refuses cgroup
# v1/v2 hybrid hosts; runc (installed when missing) copes. Dies with both errors otherwise.
pick_runtime() {
    local base=$1 err
    if err=$("$engine" run --rm --network none "${ulimits[@]}" "$base" true 2>&1); then
        return 0
    fi
    step "the default runtime cannot start a container ($err); trying runc"
    install_missing runc runc
    local err_runc
    if err_runc=$("$engine" --runtime runc run --rm --network none "${ulimits[@]}" "$base" true 2>&1); then
        runtime_args=(--runtime runc)
        return 0
    fi
    die "no OCI runtime can start a container here: default: $err; runc: $err_runc"
}

# base_image: prints the tag of the Debian base, making and importing it when missing.
base_image() {
    local suite tag tarball
    suite=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release)
    tag="localhost/lv-base:$suite"
    if "$engine" image exists "$tag"; then
        echo "$tag"
        return 0
    fi
    tarball="$cache/$suite-minbase.tar"
    if [[ ! -s $tarball ]]; then
        install_missing debootstrap debootstrap >&2
        step "debootstrap --variant=minbase $suite from $(debian_mirror)" >&2
        mkdir -p "$cache"
        debootstrap --variant=minbase "$suite" "$work/rootfs" "$(debian_mirror)" >"$work/debootstrap.log" 2>&1 ||
            { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
        tar -C "$work/rootfs" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
        rm -rf "$work/rootfs"
    fi
    step "importing $tarball as $tag" >&2
    "$engine" import --quiet "$tarball" "$tag" >/dev/null
    echo "$tag"
}

build_image() {
    local base=$1
    step "cargo build --release --locked (lv-master, lv-worker, lv-fleet-sim)"
    (cd "$root" && cargo build --release --locked --quiet -p lv-master -p lv-worker -p lv-fleet-sim)
    mkdir -p "$work/ctx/bin"
    cp "$root"/target/release/{lv-master,lv-worker,lv-fleet-sim} "$work/ctx/bin/"
    cp -r "$root/configs" "$work/ctx/configs"
    step "building $image on $base (deploy/docker/Dockerfile.prebuilt)"
    # Its one RUN step adds a user: no network (an engine without network plugins works too).
    "$engine" build --quiet --network none "${runtime_args[@]}" "${ulimits[@]}" --build-arg "BASE_IMAGE=$base" \
        -f "$root/deploy/docker/Dockerfile.prebuilt" -t "$image" "$work/ctx" >/dev/null
    local user
    user=$("$engine" image inspect --format '{{.Config.User}}' "$image")
    [[ $user == 10001:10001 ]] || die "the image's user is '$user', not 10001:10001"
}

# http_get PATH: GET http://127.0.0.1:8100PATH from inside the simulator's container (bash's
# /dev/tcp: the image has no curl), printing the body.
http_get() {
    # shellcheck disable=SC2016 # the script runs in the container, with the path as $1
    "$engine" "${runtime_args[@]}" exec "$run_id-sim" /bin/bash -c '
        exec 3<>/dev/tcp/127.0.0.1/8100
        printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$1" >&3
        sed "1,/^\r$/d" <&3' _ "$1"
}

start_containers() {
    local token
    token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
    # /reports gets the master's reports, /ready the simulator's ready file.
    mkdir -p "$work/reports" "$work/ready"
    chown 10001:10001 "$work/reports" "$work/ready" 2>/dev/null || chmod 0777 "$work/reports" "$work/ready"
        # Hardened as in the Kubernetes manifests: read-only root, no capabilities, no privilege
    # escalation (only /reports, a host folder, is writable).
    local common=(--detach "${ulimits[@]}" --read-only --cap-drop ALL --security-opt no-new-privileges)
    step "starting the fleet simulator"
    "$engine" "${runtime_args[@]}" run "${common[@]}" --name "$run_id-sim" --network none \
        --volume "$work/ready:/ready" --entrypoint /usr/local/bin/lv-fleet-sim "$image" \
        --admin-port 8100 --latency-scale 0.05 --seed 11 --ready-file /ready/sim.json >/dev/null
    local i
    for i in $(seq 1 100); do
        [[ -s $work/ready/sim.json ]] && break
        [[ $i == 100 ]] && die "the simulator never wrote its ready file"
        sleep 0.2
    done
    [[ $("$engine" "${runtime_args[@]}" exec "$run_id-sim" id -u) == 10001 ]] || die "the simulator does not run as uid 10001"
    # The workers start first: they must keep retrying until the master answers, then join.
    step "starting 2 workers before the master, token set"
    for i in 0 1; do
        "$engine" "${runtime_args[@]}" run "${common[@]}" --name "$run_id-worker-$i" --network "container:$run_id-sim" \
            --env "LV_TOKEN=$token" --env "LV_WORKER_ID=e2e-worker-$i" \
            --env "LV_LOGLEVEL=info,lv_worker::connection=debug" \
            --entrypoint /usr/local/bin/lv-worker "$image" \
            --master 127.0.0.1:5557 --connect-timeout 60s >/dev/null
    done
    sleep 3
    step "starting the master (expects 2 workers)"
    "$engine" "${runtime_args[@]}" run "${common[@]}" --name "$run_id-master" --network "container:$run_id-sim" \
        --env "LV_TOKEN=$token" --volume "$work/reports:/reports" "$image" \
        --headless -u 20 -r 10 -t 15s --slo-level light \
        --expect-workers 2 --expect-workers-max-wait 60s \
        --master-bind-host 0.0.0.0 --host http://127.0.0.1 \
        --json /reports/e2e.json --csv /reports/e2e --html /reports/e2e.html >/dev/null
}

# wait_exit NAME SECONDS: the container's exit code (dies when it runs longer).
wait_exit() {
    local code
    code=$(timeout "$2" "$engine" wait "$1") || die "$1 still running after $2 s"
    echo "$code"
}

check_results() {
    local master_code code i
    master_code=$(wait_exit "$run_id-master" 120)
    step "master exited $master_code"
    "$engine" logs "$run_id-master" >"$work/master.log" 2>&1 || true
    for i in 0 1; do
        code=$(wait_exit "$run_id-worker-$i" 60)
        "$engine" logs "$run_id-worker-$i" >"$work/worker-$i.log" 2>&1 || true
        [[ $code == 0 ]] || { cat "$work/worker-$i.log"; die "worker-$i exited $code"; }
        grep -q "master not reachable yet" "$work/worker-$i.log" ||
            { cat "$work/worker-$i.log"; die "worker-$i never waited for the master"; }
        grep -q "open-file limit.*before=1024 soft=$fd_hard hard=$fd_hard" "$work/worker-$i.log" ||
            { cat "$work/worker-$i.log"; die "worker-$i did not raise its open-file limit"; }
    done
    step "workers retried until the master answered, then exited 0; each raised its open-file limit: $(grep -o "before=1024 soft=$fd_hard hard=$fd_hard" "$work/worker-0.log")"
    local master_fd
    master_fd=$(grep -o 'open-file limit.*' "$work/master.log" | head -n1 || true)
    step "master's open-file limit log: ${master_fd:-(none logged by this lv-master)}"
    [[ $master_code == 0 ]] || { cat "$work/master.log"; die "the master exited $master_code"; }
    local fleet lv per_worker
    fleet=$(http_get /counts | python3 -c 'import json, sys; print(json.load(sys.stdin)["total"])')
    lv=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["total"]["requests"])' "$work/reports/e2e.json")
    per_worker=$(python3 -c '
import json, sys
workers = json.load(open(sys.argv[1]))["workers"]
print(" ".join("%s=%s" % (w["id"], w["requests"]) for w in sorted(workers, key=lambda w: w["id"])))' "$work/reports/e2e.json")
    step "requests: lv counted $lv ($per_worker), the simulator received $fleet"
    [[ $lv -gt 50 && $lv == "$fleet" ]] || die "lv's total ($lv) differs from the simulator's ($fleet) or is too small"
    [[ $per_worker =~ ^e2e-worker-[01]=[1-9][0-9]*\ e2e-worker-[01]=[1-9][0-9]*$ ]] ||
        die "expected both workers, by their --worker-id, to have sent requests: $per_worker"
    local file
    for file in "$work"/reports/*; do echo "    report: ${file##*/}"; done
    sed -n '/^ *Type /,$p' "$work/master.log" | tail -n 40 || true
}

main() {
    install_missing "$engine" "$engine"
    local base
    base=$(base_image)
    pick_runtime "$base"
    build_image "$base"
    start_containers
    check_results
    step "e2e: passed"
}

main "$@"
