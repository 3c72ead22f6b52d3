#!/usr/bin/env python3
"""Invariants of lv's deployment files that no schema can express.

    invariants.py k8s FILE...     rendered Kubernetes manifests (multi-document YAML)
    invariants.py compose FILE    deploy/compose.yaml

Prints one `FAIL <check>: <detail>` line per violation (the check names are what the
must-fail fixtures under deploy/check/fixtures/ expect) and exits 1 when there is any.
Runs with the tool venv's Python (PyYAML comes with kubernetes-validate).
"""

import re
import sys

import yaml

# Pod-carrying kinds and where their pod spec lives.
POD_SPEC_PATHS = {
    "Job": ("spec", "template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Pod": ("spec",),
}
MASTER_JOB = "lv-master"
WORKER_JOB = "lv-worker"


def dig(obj, *keys):
    """obj[k1][k2]... or None when any step is missing."""
    for key in keys:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def name_of(doc):
    return f"{doc.get('kind')}/{dig(doc, 'metadata', 'name')}"


def containers_of(pod_spec):
    """Every container of a pod spec, init containers included."""
    return (pod_spec.get("initContainers") or []) + (pod_spec.get("containers") or [])


def env_value(container, name):
    for var in container.get("env") or []:
        if var.get("name") == name:
            return var
    return None


def expect_workers(container):
    """The master's --expect-workers, from its flags (which win) or LV_EXPECT_WORKERS."""
    args = [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]
    for i, arg in enumerate(args):
        if arg.startswith("--expect-workers="):
            return arg.split("=", 1)[1]
        if arg == "--expect-workers" and i + 1 < len(args):
            return args[i + 1]
    var = env_value(container, "LV_EXPECT_WORKERS")
    return None if var is None else var.get("value")


def check_worker_count(docs):
    jobs = {dig(d, "metadata", "name"): d for d in docs if d.get("kind") == "Job"}
    master, worker = jobs.get(MASTER_JOB), jobs.get(WORKER_JOB)
    if master is None and worker is None:
        return []
    if master is None or worker is None:
        return [f"worker-count: a {WORKER_JOB} Job needs a {MASTER_JOB} Job and the reverse"]
    completions = dig(worker, "spec", "completions")
    parallelism = dig(worker, "spec", "parallelism")
    containers = dig(master, "spec", "template", "spec", "containers") or []
    master_container = next((c for c in containers if c.get("name") == "master"), None)
    expected = None if master_container is None else expect_workers(master_container)
    values = {"completions": completions, "parallelism": parallelism, "--expect-workers": expected}
    if None in values.values() or len({str(v) for v in values.values()}) != 1:
        shown = ", ".join(f"{k}={v}" for k, v in values.items())
        return [f"worker-count: the worker count differs between places: {shown}"]
    return []


def resumes_its_run(spec):
    """A master Job retried only to resume its run: a verdict (exit 1, 2, 3) fails the Job,
    and a new pod resumes from the checkpoint instead of starting the load test again."""
    rules = dig(spec, "podFailurePolicy", "rules") or []
    fails_on_verdicts = any(
        rule.get("action") == "FailJob"
        and dig(rule, "onExitCodes", "operator") == "In"
        and {1, 2, 3} <= set(dig(rule, "onExitCodes", "values") or [])
        for rule in rules
    )
    containers = dig(spec, "template", "spec", "containers") or []
    master = next((c for c in containers if c.get("name") == "master"), None)
    if master is None:
        return False
    args = [str(a) for a in (master.get("command") or []) + (master.get("args") or [])]
    resume = env_value(master, "LV_RESUME_IF_PRESENT")
    resumes = "--resume-if-present" in args or (resume or {}).get("value") == "true"
    checkpoint = env_value(master, "LV_CHECKPOINT") or any(a.startswith("--checkpoint") for a in args)
    return fails_on_verdicts and resumes and bool(checkpoint)


def check_jobs(doc):
    """Jobs run once: restartPolicy Never, bounded in time, cleaned up; the worker Job indexed."""
    if doc.get("kind") != "Job":
        return []
    spec, name, problems = doc.get("spec") or {}, name_of(doc), []
    policy = dig(spec, "template", "spec", "restartPolicy")
    if policy != "Never":
        problems.append(f"restart-policy: {name} has restartPolicy {policy}, not Never")
    if dig(doc, "metadata", "name") == MASTER_JOB and spec.get("backoffLimit") != 0:
        if not resumes_its_run(spec):
            problems.append(
                f"restart-policy: {name} has backoffLimit {spec.get('backoffLimit')}, not 0, "
                "without resuming (a FailJob rule on exit codes 1, 2, 3, and the master "
                "started with a checkpoint and --resume-if-present)"
            )
    for key in ("activeDeadlineSeconds", "ttlSecondsAfterFinished"):
        if not isinstance(spec.get(key), int):
            problems.append(f"job-bounds: {name} has no {key}")
    if dig(doc, "metadata", "name") == WORKER_JOB and spec.get("completionMode") != "Indexed":
        problems.append(f"job-bounds: {name} is not completionMode Indexed")
    return problems


def check_resources(name, container):
    problems = []
    for bound in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if dig(container, "resources", bound, resource) is None:
                problems.append(
                    f"resources: {name} container {container.get('name')} has no {bound}.{resource}"
                )
    return problems


def check_security(name, pod_spec, container):
    """The hardened container: non-root, read-only root, no capabilities, RuntimeDefault seccomp."""
    pod_sc = pod_spec.get("securityContext") or {}
    sc = container.get("securityContext") or {}
    where = f"{name} container {container.get('name')}"
    problems = []
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"security-context: {where} allows privilege escalation")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append(f"security-context: {where} has a writable root filesystem")
    if "ALL" not in (dig(sc, "capabilities", "drop") or []):
        problems.append(f"security-context: {where} does not drop ALL capabilities")
    if sc.get("privileged") is True:
        problems.append(f"security-context: {where} is privileged")
    run_as_non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    if run_as_non_root is not True:
        problems.append(f"security-context: {where} is not runAsNonRoot")
    if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
        problems.append(f"security-context: {where} runs as uid 0")
    seccomp = dig(sc, "seccompProfile", "type") or dig(pod_sc, "seccompProfile", "type")
    if seccomp != "RuntimeDefault":
        problems.append(f"security-context: {where} has seccompProfile {seccomp}, not RuntimeDefault")
    return problems


def check_image(name, container):
    image = str(container.get("image") or "")
    if "@sha256:" in image:
        return []
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    if tag is None or tag == "latest":
        return [f"image-tag: {name} container {container.get('name')} uses {image!r} (latest)"]
    return []


def check_token(name, container):
    """The token never appears as a literal: it comes from a Secret."""
    var = env_value(container, "LV_TOKEN")
    args = [str(a) for a in container.get("args") or []]
    if any(a == "--token" or a.startswith("--token=") for a in args):
        return [f"token: {name} container {container.get('name')} passes the token as a flag"]
    if var is not None and dig(var, "valueFrom", "secretKeyRef") is None:
        return [f"token: {name} container {container.get('name')} sets LV_TOKEN without a Secret"]
    return []


def pod_labels(doc):
    """Labels of the pods a resource makes (its template's, or a Pod's own)."""
    if doc.get("kind") == "Pod":
        return dig(doc, "metadata", "labels") or {}
    return dig(doc, "spec", "template", "metadata", "labels") or {}


def check_services(docs):
    """Every Service selects the pods of some resource of the same rendering."""
    pods = [pod_labels(d) for d in docs if d.get("kind") in POD_SPEC_PATHS]
    problems = []
    for doc in docs:
        selector = dig(doc, "spec", "selector")
        if doc.get("kind") != "Service" or not selector:
            continue
        if not any(all(labels.get(k) == v for k, v in selector.items()) for labels in pods):
            problems.append(f"service-selector: {name_of(doc)} selects no pod of this rendering: {selector}")
    return problems


def check_k8s(docs):
    problems = check_worker_count(docs) + check_services(docs)
    for doc in docs:
        problems += check_jobs(doc)
        path = POD_SPEC_PATHS.get(doc.get("kind"))
        pod_spec = dig(doc, *path) if path else None
        if pod_spec is None:
            continue
        for container in containers_of(pod_spec):
            problems += check_resources(name_of(doc), container)
            problems += check_security(name_of(doc), pod_spec, container)
            problems += check_image(name_of(doc), container)
            problems += check_token(name_of(doc), container)
    return problems


def check_compose(doc):
    """The compose file: one worker-count expression, raised open-file limits, token from env."""
    services = doc.get("services") or {}
    problems = []
    master, worker = services.get("master"), services.get("worker")
    if master is None or worker is None:
        return ["compose: a master and a worker service are needed"]
    command = [str(a) for a in master.get("command") or []]
    expected = expect_workers({"args": command})
    if expected is None or str(worker.get("scale")) != expected:
        problems.append(
            f"worker-count: worker scale {worker.get('scale')!r} and the master's "
            f"--expect-workers {expected!r} differ"
        )
    for name, service in services.items():
        if dig(service, "ulimits", "nofile") is None and name in ("master", "worker"):
            problems.append(f"ulimits: service {name} sets no ulimits.nofile")
        token = dig(service, "environment", "LV_TOKEN")
        if token is not None and not re.fullmatch(r"\$\{LV_TOKEN[:?\-].*\}|\$\{LV_TOKEN\}", str(token)):
            problems.append(f"token: service {name} sets LV_TOKEN to a literal")
        image = str(service.get("image") or "")
        if image and ("latest" in image or ":" not in image.rsplit("/", 1)[-1]):
            problems.append(f"image-tag: service {name} uses {image!r} (latest)")
    return problems


def main(argv):
    if len(argv) < 3 or argv[1] not in ("k8s", "compose"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    problems = []
    for path in argv[2:]:
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        problems += check_k8s(docs) if argv[1] == "k8s" else check_compose(docs[0])
    for problem in problems:
        print(f"FAIL {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
