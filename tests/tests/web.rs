//! The web server of real `lv-master` processes: UI mode driven only through the HTTP API
//! (start, stop, edit, runs and their reports, SSE history, `/metrics`); its protection
//! (`protection`: read-only, Basic auth, public bind, HTTPS) and its other modes (`modes`:
//! autostart, headless, `run_tests.sh`).

mod hostile;
mod locust_parity;
mod modes;
mod parity;
mod prometheus;
mod protection;

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lv_fleet_sim::Sim;
use lv_tests::harness::{Proc, spawn_worker_process};
use lv_tests::{bin, workspace_root};
use serde_json::Value;

/// What one HTTP exchange gave.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: hyper::HeaderMap,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

pub(crate) fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

pub(crate) async fn call(
    method: Method,
    url: &str,
    form: Option<&str>,
    auth: Option<&str>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(url);
    if form.is_some() {
        request = request.header("content-type", "application/x-www-form-urlencoded");
    }
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let body = Full::new(Bytes::from(form.unwrap_or_default().to_owned()));
    exchange(request.body(body).expect("request")).await
}

/// Sends `request` and reads the whole answer (at most 20 s).
pub(crate) async fn exchange(request: Request<Full<Bytes>>) -> Answer {
    let response = tokio::time::timeout(Duration::from_secs(20), client().request(request))
        .await
        .expect("answered in time")
        .expect("HTTP exchange");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// A `multipart/form-data` body of `fields`, as `curl -F name=value` sends it, and its
/// content type.
pub(crate) fn multipart(fields: &[(&str, &str)]) -> (String, String) {
    let boundary = "------------------------lvtest7MA4YWxkTrZu0gW";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (body, format!("multipart/form-data; boundary={boundary}"))
}

/// One exchange with a body of `content_type` and extra `headers`.
pub(crate) async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, String)>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let bytes = match body {
        Some((content_type, body)) => {
            request = request.header("content-type", content_type);
            Bytes::from(body)
        }
        None => Bytes::new(),
    };
    exchange(request.body(Full::new(bytes)).expect("request")).await
}

pub(crate) async fn get(url: &str) -> Answer {
    call(Method::GET, url, None, None).await
}

pub(crate) async fn post(url: &str, form: &str) -> Answer {
    call(Method::POST, url, Some(form), None).await
}

/// An `lv-master` in UI mode (or with `extra` flags) whose web address is known.
pub(crate) struct Master {
    pub(crate) process: Proc,
    pub(crate) web: String,
    pub(crate) workers: String,
}

pub(crate) const WEB_LINE: &str = "lv-master: web UI on ";
pub(crate) const WORKERS_LINE: &str = "lv-master: listening for workers on ";

pub(crate) async fn spawn_master(scenario: &Path, reports: &Path, extra: &[&str]) -> Master {
    let fleet = workspace_root().join("configs/fleet.toml");
    let mut args: Vec<String> = [
        "-f",
        &scenario.display().to_string(),
        "--fleet",
        &fleet.display().to_string(),
        "--only-summary",
        "--no-slo",
        "--master-bind-port=0",
        "--web-port=0",
        "--local-workers=0",
        "--reports-dir",
        &reports.display().to_string(),
    ]
    .iter()
    .map(|w| (*w).to_owned())
    .collect();
    args.extend(extra.iter().map(|w| (*w).to_owned()));
    let process = Proc::start(&bin("lv-master"), &args, "master");
    let (web, workers) = addresses(&process).await;
    Master {
        process,
        web,
        workers,
    }
}

/// The web UI's and the workers' addresses an `lv-master` `process` prints on stderr
/// (waiting up to 30 s for each line).
pub(crate) async fn addresses(process: &Proc) -> (String, String) {
    let line = |prefix: &'static str| {
        let stderr = &process.stderr;
        async move {
            let line = stderr
                .wait_for(prefix, Duration::from_secs(30))
                .await
                .unwrap_or_else(|| panic!("no {prefix:?} line:\n{}", stderr.text()));
            line.split(prefix)
                .nth(1)
                .unwrap_or_default()
                .trim()
                .to_owned()
        }
    };
    (line(WEB_LINE).await, line(WORKERS_LINE).await)
}

impl Master {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.web)
    }

    pub(crate) async fn status(&self) -> Value {
        get(&self.url("/api/v1/status")).await.json()
    }

    /// Polls `/api/v1/status` until `ready` holds (at most 30 s).
    pub(crate) async fn wait_status(&self, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let status = self.status().await;
            if ready(&status) {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited 30 s for {what}; last status: {status}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn aggregated_requests(&self) -> u64 {
        let stats = get(&self.url("/stats/requests")).await.json();
        let rows = stats["stats"].as_array().cloned().unwrap_or_default();
        let last = rows.last().cloned().unwrap_or_default();
        assert_eq!(last["name"], "Aggregated");
        last["num_requests"].as_u64().unwrap_or(0)
    }

    /// Starts (or edits) through `/swarm` and checks the answer.
    pub(crate) async fn swarm(&self, form: &str) -> String {
        let answer = post(&self.url("/swarm"), form).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let body = answer.json();
        assert_eq!(body["success"], true, "{body}");
        body["run_id"].as_str().unwrap_or_default().to_owned()
    }

    /// Stops through `/stop` and waits for the stopped state.
    pub(crate) async fn stop(&self) {
        let answer = get(&self.url("/stop")).await;
        assert_eq!(answer.json()["message"], "Test stopped");
        self.wait_status("stopped", |s| s["state"] == "stopped")
            .await;
    }
}

/// Waits until the fleet saw `more` requests beyond `from`.
pub(crate) async fn traffic(sim: &Sim, from: u64, more: u64) {
    let ok = lv_tests::harness::wait_until(Duration::from_secs(30), || {
        sim.counts().total >= from + more
    })
    .await;
    assert!(
        ok,
        "the fleet saw only {} requests",
        sim.counts().total - from
    );
}

/// Checks the last run: `/stats/requests` equals what the fleet received during it, and
/// its reports are listed and served.
pub(crate) async fn check_run(master: &Master, sim: &Sim, before: u64, run_id: &str, runs: usize) {
    let received = sim.counts().total - before;
    assert!(received > 0);
    assert_eq!(master.aggregated_requests().await, received, "run {run_id}");
    let list = get(&master.url("/api/v1/runs")).await.json();
    let list = list.as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), runs, "{list:?}");
    assert_eq!(list[0]["run_id"], run_id, "newest first");
    let json = get(&master.url(&format!("/api/v1/runs/{run_id}/json"))).await;
    assert_eq!(json.status, StatusCode::OK);
    let report = json.json();
    assert_eq!(report["run_id"], run_id);
    assert_eq!(report["total"]["requests"].as_u64(), Some(received));
    let csv = get(&master.url(&format!("/api/v1/runs/{run_id}/stats_csv"))).await;
    assert!(
        csv.body.starts_with("Type,Name,Request Count"),
        "{}",
        csv.body
    );
    let html = get(&master.url(&format!("/api/v1/runs/{run_id}/html"))).await;
    assert_eq!(html.status, StatusCode::OK);
}

/// Reads the first `event: snapshot` of `/api/v1/events` and returns its data.
pub(crate) async fn first_sse_snapshot(url: &str) -> Value {
    let request = Request::get(url)
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = client().request(request).await.expect("SSE response");
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream",
        "SSE content type"
    );
    let mut body = response.into_body();
    let mut text = String::new();
    let read = async {
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.expect("frame").into_data() {
                text.push_str(&String::from_utf8_lossy(&data));
            }
            // Only events already ended by their blank line are whole.
            let whole = text.rsplit_once("\n\n").map_or("", |(whole, _)| whole);
            if let Some(event) = whole.split("\n\n").find(|e| e.contains("event: snapshot")) {
                let data: String = event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: "))
                    .collect();
                return serde_json::from_str::<Value>(&data).expect("snapshot JSON");
            }
        }
        panic!("the stream ended without a snapshot: {text}");
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("a snapshot in time")
}

/// A UI-mode master with two worker processes runs three times, driven only through the
/// HTTP API: start, stop, start, edit, stop, start, stop. After each stop the totals equal
/// what the simulated fleet received and the run has its own reports; the edit changes the users the
/// workers run; SSE gives a reconnecting client the whole history; `/metrics` parses and its
/// counters equal the JSON totals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_mode_runs_three_times_through_the_http_api() {
    let stop = tokio_util::sync::CancellationToken::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = dir.path().join("fleet.toml");
    let sim = lv_tests::spawn_fleet_sim(&[], &fleet, stop.child_token()).await;
    let scenario = workspace_root().join("configs/scenarios/health_checks.toml");
    let fleet_flag = format!("--fleet={}", fleet.display());
    let reports = dir.path().join("reports");
    let extra = [&fleet_flag[..], "-H", "http://127.0.0.1", "HealthCheckUser"];
    let mut master = spawn_master(&scenario, &reports, &extra).await;
    let mut workers: Vec<Proc> = (0..2)
        .map(|i| spawn_worker_process(&master.workers, &[], &format!("worker{i}")))
        .collect();
    master
        .wait_status("2 workers", |s| {
            s["worker_count"] == 2 && s["state"] == "ready"
        })
        .await;

    // Run 1: start, stop.
    let before = sim.counts().total;
    let run1 = master.swarm("user_count=6&spawn_rate=100").await;
    traffic(&sim, before, 10).await;
    master.stop().await;
    check_run(&master, &sim, before, &run1, 1).await;

    // Run 2: start, edit, stop.
    let before = sim.counts().total;
    let run2 = master.swarm("user_count=2&spawn_rate=100&run_time=").await;
    assert_ne!(run1, run2, "each run gets its own id");
    master
        .wait_status("2 users", |s| {
            s["users"] == 2 && s["run_id"] == run2.as_str()
        })
        .await;
    let edited = master.swarm("user_count=6&spawn_rate=100").await;
    assert_eq!(edited, run2, "an edit keeps the run");
    let status = master
        .wait_status("6 users on the workers", |s| {
            let on_workers: u64 = s["workers"]
                .as_array()
                .map(|ws| ws.iter().filter_map(|w| w["users"].as_u64()).sum())
                .unwrap_or(0);
            s["users"] == 6 && on_workers == 6 && s["state"] == "running"
        })
        .await;
    assert_eq!(status["user_count"], 6);
    assert!(
        status["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["kind"] == "edit")),
        "{status}"
    );
    traffic(&sim, sim.counts().total, 10).await;
    // A client that (re)connects mid-run gets the whole history so far.
    let sse = first_sse_snapshot(&master.url("/api/v1/events")).await;
    assert_eq!(sse["history_from"], 0);
    let report = get(&master.url("/api/v1/report")).await.json();
    let sse_rows = sse["report"]["history"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let json_rows = report["history"].as_array().cloned().unwrap_or_default();
    assert!(!sse_rows.is_empty());
    assert_eq!(
        sse_rows[..],
        json_rows[..sse_rows.len()],
        "same rows so far"
    );
    master.stop().await;
    check_run(&master, &sim, before, &run2, 2).await;
    // After the stop, a reconnecting client's history is the run's JSON report's.
    let sse = first_sse_snapshot(&master.url("/api/v1/events")).await;
    let file = get(&master.url(&format!("/api/v1/runs/{run2}/json")))
        .await
        .json();
    assert_eq!(sse["report"]["history"], file["history"]);
    assert_eq!(sse["report"]["run_id"], run2.as_str());

    // Run 3: start, stop; then /metrics against the JSON totals.
    let before = sim.counts().total;
    let run3 = master
        .swarm("user_count=3&spawn_rate=100&run_time=5m")
        .await;
    traffic(&sim, before, 10).await;
    master.stop().await;
    check_run(&master, &sim, before, &run3, 3).await;
    let report = get(&master.url("/api/v1/report")).await.json();
    prometheus::check_metrics(&master, &report).await;
    let compare = get(&master.url(&format!("/api/v1/compare?base={run1}&new={run3}"))).await;
    assert_eq!(compare.status, StatusCode::OK, "{}", compare.body);
    assert!(
        compare.json()["table"]
            .as_str()
            .is_some_and(|t| t.contains("Aggregated"))
    );
    let names = std::fs::read_dir(&reports)
        .expect("reports folder")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .count();
    assert_eq!(names, 3, "one JSON report per run");

    master.process.child.start_kill().expect("stop the master");
    for worker in &mut workers {
        worker.kill9().await;
    }
    stop.cancel();
}
