//! A capacity search started from the web UI's API (`POST /api/v1/capacity`) of a UI-mode
//! master with two worker processes, against the simulator's ATLAS at a known knee: the
//! steps appear in `GET /api/v1/capacity` while the search goes, the answer is the knee
//! within 15%, the files are written and served, runs cannot be started or reset in the
//! meantime, and `/stop` stops a search as a whole keeping what it measured.

use std::path::Path;
use std::time::Duration;

use lv_tests::harness::{self, Proc};
use lv_tests::{bin, workspace_root, write_file};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{assert_knee, sim, slo_table};
use crate::web::{addresses, get, post};

/// A UI-mode master on `fleet` with `slo`, judged at `light`, and two worker processes.
async fn ui_master(dir: &Path, fleet: &Path, slo: &Path) -> (Proc, String, Vec<Proc>) {
    let scenarios = workspace_root().join("configs/scenarios");
    let reports = dir.join("reports");
    let args = [
        "-f",
        &scenarios.display().to_string(),
        "--fleet",
        &fleet.display().to_string(),
        "--slo",
        &slo.display().to_string(),
        "--slo-level",
        "light",
        "--master-bind-port=0",
        "--web-port=0",
        "--web-host=127.0.0.1",
        "--reports-dir",
        &reports.display().to_string(),
    ];
    let master = Proc::start(&bin("lv-master"), &args, "master");
    let (web, workers_at) = addresses(&master).await;
    let workers = (0..2)
        .map(|i| harness::spawn_worker_process(&workers_at, &[], &format!("worker{i}")))
        .collect();
    (master, web, workers)
}

/// Polls `GET /api/v1/capacity` until `done` holds (at most `limit`); returns the last
/// status and the most steps seen while the search was still running.
async fn follow(web: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> (Value, usize) {
    let deadline = tokio::time::Instant::now() + limit;
    let mut live_steps = 0;
    loop {
        let status = get(&format!("{web}/api/v1/capacity")).await.json();
        let steps = status["capacity"]["steps"].as_array().map_or(0, Vec::len);
        if status["state"] == "running" {
            live_steps = live_steps.max(steps);
        }
        if done(&status) {
            return (status, live_steps);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {limit:?}; last status: {status}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_started_from_the_web_finds_the_knee_live() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stop = CancellationToken::new();
    let config = sim(&[("ATLAS", 100)], &[("ATLAS", 8)]);
    let fleet_sim = lv_fleet_sim::start(config, stop.clone())
        .await
        .expect("the simulator starts");
    let fleet = dir.path().join("fleet.toml");
    lv_fleet_sim::write_fleet_file(&fleet, fleet_sim.fleet()).expect("write the fleet map");
    let slo = write_file(dir.path(), "slo.toml", &slo_table("chat", 200));
    let (mut master, web, _workers) = ui_master(dir.path(), &fleet, &slo).await;
    let api = format!("{web}/api/v1/capacity");

    let idle = get(&api).await.json();
    assert_eq!(
        (&idle["state"], &idle["level"]),
        (&"idle".into(), &"light".into())
    );
    assert!(
        idle["levels"]
            .as_array()
            .is_some_and(|l| l.contains(&"light".into())),
        "{idle}"
    );
    let typo = post(&api, "user_classes=AriaChatUser&hld=2s").await;
    assert_eq!(typo.status, 400, "{}", typo.body);
    assert!(typo.body.contains("hld"), "{}", typo.body);
    let short = post(&api, "hold=10ms").await;
    assert_eq!(short.status, 400, "{}", short.body);
    assert!(short.body.contains("hold=0.01s"), "{}", short.body);
    let unknown = post(&api, "user_classes=NoSuchUser").await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);

    let form =
        "user_classes=AriaChatUser&start=20&max=200&hold=2s&settle=1s&max_lag=50ms&require=60";
    let started = post(&api, form).await;
    assert_eq!(started.status, 200, "{}", started.body);
    let again = post(&api, form).await;
    assert_eq!(again.status, 409, "{}", again.body);
    let swarm = post(&format!("{web}/swarm"), "user_count=1&spawn_rate=1").await;
    assert_eq!(
        swarm.status, 409,
        "a run cannot start during a search: {}",
        swarm.body
    );
    let refusal = swarm.json();
    assert_eq!(refusal["success"], false, "{refusal}");
    assert!(
        refusal["message"]
            .as_str()
            .is_some_and(|m| m.contains("capacity search is running")),
        "{refusal}"
    );
    assert!(
        refusal["host"].is_string(),
        "the 409 carries Locust's `host`, as lv's other /swarm refusals do: {refusal}"
    );
    let reset = post(&format!("{web}/stats/reset"), "").await;
    assert_eq!(reset.status, 409, "{}", reset.body);

    let (status, live_steps) =
        follow(&web, Duration::from_secs(240), |s| s["state"] != "running").await;
    assert_eq!(status["state"], "done", "{status}");
    let capacity = &status["capacity"];
    assert_knee(capacity, 80.0);
    let steps = capacity["steps"].as_array().map_or(0, Vec::len);
    assert!(
        live_steps >= 2 && live_steps < steps,
        "steps appeared while the search ran: {live_steps} of {steps}"
    );
    assert!(
        status["curve_svg"]
            .as_str()
            .is_some_and(|s| s.contains("<svg"))
    );
    let json = get(&format!("{api}/json")).await.json();
    assert_eq!(json["capacity"]["result"], capacity["result"]);
    let csv = get(&format!("{api}/csv")).await.body;
    assert_eq!(csv.lines().count(), steps + 1, "{csv}");
    let html = get(&format!("{api}/html")).await.body;
    assert!(html.contains("knee:") && html.contains("chat p95 &lt; 200 ms"));
    let runs = get(&format!("{web}/api/v1/runs")).await.json();
    assert_eq!(
        runs.as_array().map_or(0, Vec::len),
        steps,
        "one run per step"
    );
    let written = std::fs::read_dir(dir.path().join("reports"))
        .expect("the reports folder")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("_capacity."))
        .count();
    assert_eq!(written, 3, "JSON, CSV and HTML in the reports folder");

    // A second search, stopped from the page after its first step: what it measured stays.
    let started = post(
        &api,
        "user_classes=AriaChatUser&start=20&max=200&hold=2s&settle=1s",
    )
    .await;
    assert_eq!(started.status, 200, "{}", started.body);
    follow(&web, Duration::from_secs(60), |s| {
        s["capacity"]["steps"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    })
    .await;
    let stopped = post(&format!("{web}/stop"), "").await;
    assert_eq!(stopped.status, 200, "{}", stopped.body);
    assert!(
        stopped.body.contains("Capacity search stopped"),
        "{}",
        stopped.body
    );
    let (status, _) = follow(&web, Duration::from_secs(30), |s| s["state"] != "running").await;
    assert_eq!(status["state"], "stopped", "{status}");
    let kept = status["capacity"]["steps"].as_array().map_or(0, Vec::len);
    assert!(kept >= 1, "{status}");
    assert!(
        status["capacity"]["summary"]
            .as_str()
            .is_some_and(|s| s.contains("search interrupted")),
        "{status}"
    );
    master.kill9().await;
    stop.cancel();
}
