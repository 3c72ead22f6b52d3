#!/usr/bin/env python3
"""Records what a real Locust master's HTTP API answers, for lv's comparison test
(tests/tests/web/locust_parity.rs).

Usage: locust_record.py TARGET_URL OUT.json [LOAD_SECONDS]

Runs Locust as a library in this one process, on loopback only: a master runner (its
worker port picked by the system), one worker runner attached to it, and the web UI on
127.0.0.1 with a port picked by the system. The users send GET /a (weight 3) and GET /fail
(which the target answers 500) to TARGET_URL, and a third task raises an exception. The
script then drives the web API through the same calls the Rust test sends lv, in order,
and writes every answer to OUT.json as a list of
{"step", "method", "path", "status", "content_type", "content_disposition", "body"} where
body is the parsed JSON (or the text when it is not JSON). It prints
`locust_record: N steps, Locust VERSION` and exits 0, or exits 1 with the reason.
"""

import json
import socket
import sys
import time
import urllib.error
import urllib.request
import uuid

# Locust patches the standard library for gevent when imported; import it first.
import gevent  # noqa: E402  (a dependency of locust)
import locust  # noqa: E402
from locust import HttpUser, constant, task  # noqa: E402
from locust.env import Environment  # noqa: E402


class Paths(HttpUser):
    """Three requests of /a for one of /fail, and a task that raises."""

    wait_time = constant(0.05)

    @task(3)
    def ok(self):
        self.client.get("/a")

    @task(1)
    def failing(self):
        self.client.get("/fail")

    @task(1)
    def broken(self):
        raise RuntimeError("template failed")


def call(base, method, path, body=None, content_type=None):
    """One HTTP exchange; the answer as a step record (without its name)."""
    request = urllib.request.Request(base + path, data=body, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            status, headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        status, headers, raw = err.code, err.headers, err.read()
    text = raw.decode("utf-8", "replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = text
    return {
        "method": method,
        "path": path,
        "status": status,
        "content_type": headers.get("Content-Type", ""),
        "content_disposition": headers.get("Content-Disposition"),
        "body": parsed,
    }


def multipart(fields):
    """A multipart/form-data body of `fields`, as `curl -F` sends it."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    parts.append(f"--{boundary}--\r\n")
    return "".join(parts).encode(), f"multipart/form-data; boundary={boundary}"


def wait_for(what, ready, limit=30.0):
    deadline = time.monotonic() + limit
    while not ready():
        if time.monotonic() > deadline:
            raise SystemExit(f"locust_record: waited {limit:.0f} s for {what}")
        gevent.sleep(0.05)


def start(target):
    """The master, its worker and the web UI; returns (master env, worker runner, base URL)."""
    env = Environment(user_classes=[Paths], host=target, locustfile="locustfile.py")
    master = env.create_master_runner("127.0.0.1", 0)
    worker_env = Environment(user_classes=[Paths], host=target)
    worker = worker_env.create_worker_runner("127.0.0.1", master.server.port)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    web_ui = env.create_web_ui(delayed_start=True)
    server = gevent.pywsgi.WSGIServer(listener, web_ui.app, log=None)
    server.start()
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    wait_for("the worker", lambda: master.worker_count == 1)
    return env, worker, server, base


def drive(base, load_seconds):
    """The calls the Rust test also sends lv, in the same order."""
    steps = []

    def step(name, method, path, body=None, content_type=None):
        record = call(base, method, path, body, content_type)
        record["step"] = name
        steps.append(record)
        return record

    form = "application/x-www-form-urlencoded"
    step("worker_count", "GET", "/worker-count")
    step("tasks", "GET", "/tasks")
    step("swarm_without_user_count", "POST", "/swarm", b"spawn_rate=5", form)
    body, multipart_type = multipart([("user_count", "2"), ("spawn_rate", "20"), ("run_time", "30s")])
    step("swarm_multipart", "POST", "/swarm", body, multipart_type)
    gevent.sleep(load_seconds)
    step("stats_running", "GET", "/stats/requests")
    step("exceptions", "GET", "/exceptions")
    step("swarm_edit", "POST", "/swarm", b"user_count=1&spawn_rate=20", form)
    step("stop", "POST", "/stop")
    # /stats/requests is cached for up to 2 s (memoize): wait past that for fresh answers.
    gevent.sleep(2.5)
    step("stats_stopped", "GET", "/stats/requests")
    step("report_download", "GET", "/stats/report?download=1")
    step("reset", "POST", "/stats/reset")
    gevent.sleep(2.5)
    step("stats_reset", "GET", "/stats/requests")
    return steps


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    target, out = argv[1], argv[2]
    load_seconds = float(argv[3]) if len(argv) == 4 else 4.0
    env, worker, server, base = start(target)
    try:
        steps = drive(base, load_seconds)
    finally:
        env.runner.quit()
        worker.quit()
        server.stop(timeout=2)
    for record in steps:
        if record["path"] == "/stats/report?download=1":
            record["body"] = f"<{len(record['body'])} characters of HTML>"
    with open(out, "w", encoding="utf-8") as file:
        json.dump({"locust_version": locust.__version__, "steps": steps}, file, indent=1)
    print(f"locust_record: {len(steps)} steps, Locust {locust.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
