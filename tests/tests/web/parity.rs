//! Locust's API as its clients use it, on a real `lv-master` in UI mode: `/swarm` from
//! `curl -F` (multipart), without `run_time` (until stopped) and without `user_count`
//! (refused); `/stats/requests` rows in Locust's order with errors' first and last seen;
//! the report download's name; and `--web-cors` (off by default).

use std::time::Duration;

use hyper::{Method, StatusCode};
use lv_tests::harness::{spawn_worker_process, unix_ms};
use lv_tests::{spawn_target, write_file};
use serde_json::Value;

use super::{Answer, Master, get, multipart, post, send, spawn_master};

/// Four endpoints whose method-first order differs from Locust's name-first order; `/c`
/// fails (the target answers 500 there).
fn scenario(url: &str) -> String {
    let mut text = String::from("[[user]]\nname = \"Mixed\"\nwait = { constant = 0.02 }\n");
    for (method, path) in [
        ("POST", "/b"),
        ("GET", "/b"),
        ("POST", "/a"),
        ("DELETE", "/c"),
    ] {
        text.push_str(&format!(
            "[[user.task]]\n[[user.task.step]]\nurl = \"{url}\"\nmethod = \"{method}\"\n\
             path = \"{path}\"\nname = \"{path}\"\n"
        ));
    }
    text
}

async fn swarm_multipart(master: &Master, fields: &[(&str, &str)]) -> Answer {
    let (body, content_type) = multipart(fields);
    send(
        Method::POST,
        &master.url("/swarm"),
        &[],
        Some((&content_type, body)),
    )
    .await
}

/// A UI master with one worker on the [`scenario`]; `extra` flags added.
async fn cluster(
    dir: &std::path::Path,
    url: &str,
    extra: &[&str],
) -> (Master, lv_tests::harness::Proc) {
    let file = write_file(dir, "mixed.toml", &scenario(url));
    let master = spawn_master(&file, &dir.join("reports"), extra).await;
    let worker = spawn_worker_process(&master.workers, &[], "worker");
    master
        .wait_status("a worker", |s| {
            s["worker_count"] == 1 && s["state"] == "ready"
        })
        .await;
    (master, worker)
}

/// `curl -F` bodies start runs; a run started without `run_time` runs until `/stop`, past
/// an earlier run's time; `/swarm` without `user_count` or `spawn_rate` is refused (400,
/// naming the field, with Locust's `host`) and starts nothing. CORS is off by default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_reads_multipart_runs_until_stopped_and_refuses_a_missing_user_count() {
    let stop = tokio_util::sync::CancellationToken::new();
    let target = spawn_target(&["/c"], stop.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut master, _worker) = cluster(dir.path(), &target.url(), &[]).await;

    for (form, field) in [
        ("spawn_rate=5", "user_count"),
        ("user_count=5", "spawn_rate"),
        ("", "user_count"),
    ] {
        let refused = post(&master.url("/swarm"), form).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        let body = refused.json();
        assert_eq!(body["success"], false);
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(&format!("{field}=: missing")), "{body}");
        assert!(
            body["host"].is_string(),
            "Locust's refusal names the host: {body}"
        );
    }
    let refused = swarm_multipart(&master, &[("spawn_rate", "5")]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(master.status().await["state"], "ready", "nothing started");

    // Run 1, from `curl -F`, with a 2 s run time: it ends by itself.
    let fields = [
        ("user_count", "2"),
        ("spawn_rate", "50"),
        ("run_time", "2s"),
    ];
    let started = swarm_multipart(&master, &fields).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let body = started.json();
    assert_eq!(body["success"], true, "{body}");
    assert_eq!(body["run_time"], 2, "{body}");
    master
        .wait_status("run 1 on 2 users", |s| s["users"] == 2)
        .await;
    master
        .wait_status("run 1 ends by its run time", |s| s["state"] == "stopped")
        .await;

    // Run 2, from `curl -F`, without a run time: still running well past run 1's 2 s.
    let before = target.total();
    let started = swarm_multipart(&master, &[("user_count", "3"), ("spawn_rate", "50")]).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let body = started.json();
    assert_eq!(body["edit"], false, "{body}");
    assert!(body.get("run_time").is_none(), "no run time set: {body}");
    let status = master
        .wait_status("run 2 on 3 users", |s| s["users"] == 3)
        .await;
    assert_eq!(status["run_time_s"], Value::Null, "{status}");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let status = master.status().await;
    assert_eq!(status["state"], "running", "{status}");
    assert!(target.total() > before, "run 2 sends requests");

    // An edit without `user_count` is refused too, and the run goes on as it was.
    let refused = post(&master.url("/swarm"), "spawn_rate=5").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(master.status().await["user_count"], 3);
    master.stop().await;

    // Without --web-cors: no CORS header on an answer or a preflight.
    let origin = [("origin", "http://example.test")];
    let answer = send(Method::GET, &master.url("/stats/requests"), &origin, None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer.headers.get("access-control-allow-origin").is_none(),
        "{:?}",
        answer.headers
    );
    let preflight = [
        ("origin", "http://example.test"),
        ("access-control-request-method", "POST"),
    ];
    let answer = send(Method::OPTIONS, &master.url("/swarm"), &preflight, None).await;
    assert!(
        answer.headers.get("access-control-allow-origin").is_none(),
        "{:?}",
        answer.headers
    );
    assert_ne!(answer.status, StatusCode::NO_CONTENT);
    master.process.child.start_kill().expect("stop the master");
    stop.cancel();
}

/// Rows sorted by name then method with `Aggregated` last, each with its current rates;
/// the top level's totals equal the Aggregated row's; errors carry first and last seen
/// within the run; `download=1` names an attachment; `--web-cors` answers the named
/// origin (a GET and a preflight) and no other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_rows_errors_downloads_and_cors_follow_locust() {
    let stop = tokio_util::sync::CancellationToken::new();
    let target = spawn_target(&["/c"], stop.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cors = ["--web-cors", "http://example.test"];
    let (mut master, _worker) = cluster(dir.path(), &target.url(), &cors).await;
    let started_s = unix_ms() as f64 / 1000.0;
    master
        .swarm("user_count=2&spawn_rate=50&run_time=60s")
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let stats = loop {
        let stats = get(&master.url("/stats/requests")).await.json();
        let rows = stats["stats"].as_array().map_or(0, Vec::len);
        if rows == 5 && stats["errors"].as_array().is_some_and(|e| !e.is_empty()) {
            break stats;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "4 endpoints and an error: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let order: Vec<String> = stats["stats"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap_or("?"),
                r["name"].as_str().unwrap_or("?")
            )
        })
        .collect();
    assert_eq!(
        order,
        ["POST /a", "GET /b", "POST /b", "DELETE /c", " Aggregated"]
    );
    let aggregated = &stats["stats"][4];
    for field in [
        "total_rps",
        "total_fail_per_sec",
        "current_rps",
        "current_fail_per_sec",
    ] {
        assert_eq!(stats[field], aggregated[field], "{field}: {stats}");
        assert!(
            stats[field].as_f64().is_some_and(|v| v > 0.0),
            "{field}: {stats}"
        );
    }
    let error = &stats["errors"][0];
    assert_eq!(
        (&error["method"], &error["name"]),
        (&"DELETE".into(), &"/c".into())
    );
    let (first, last) = (
        error["first_seen"].as_f64().expect("first_seen"),
        error["last_seen"].as_f64().expect("last_seen"),
    );
    let now_s = unix_ms() as f64 / 1000.0;
    // A worker report's window may start up to one report interval before the run did.
    assert!(
        first >= started_s - 3.0 && first <= last && last <= now_s + 1.0,
        "{error}"
    );

    let report = get(&master.url("/stats/report?download=1")).await;
    assert_eq!(report.status, StatusCode::OK);
    let disposition = report.headers["content-disposition"].to_str().unwrap_or("");
    assert!(
        disposition.starts_with("attachment;filename=lv_") && disposition.ends_with(".html"),
        "{disposition}"
    );
    assert!(disposition.contains("mixed.toml"), "{disposition}");
    let plain = get(&master.url("/stats/report")).await;
    assert!(plain.headers.get("content-disposition").is_none());
    assert!(plain.body.contains("<html"), "the report itself");

    check_cors(&master).await;
    master.stop().await;
    master.process.child.start_kill().expect("stop the master");
    stop.cancel();
}

async fn check_cors(master: &Master) {
    let allowed = [("origin", "http://example.test")];
    let answer = send(Method::GET, &master.url("/stats/requests"), &allowed, None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.headers["access-control-allow-origin"],
        "http://example.test"
    );
    assert_eq!(answer.headers["access-control-allow-credentials"], "true");
    let preflight = [
        ("origin", "http://example.test"),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "content-type"),
    ];
    let answer = send(Method::OPTIONS, &master.url("/swarm"), &preflight, None).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.body);
    assert_eq!(
        answer.headers["access-control-allow-origin"],
        "http://example.test"
    );
    let methods = answer.headers["access-control-allow-methods"]
        .to_str()
        .unwrap_or("");
    assert!(methods.contains("POST"), "{methods}");
    assert_eq!(
        answer.headers["access-control-allow-headers"],
        "content-type"
    );
    assert_eq!(
        master.status().await["state"],
        "running",
        "a preflight changes nothing"
    );
    let other = [("origin", "http://other.test")];
    let answer = send(Method::GET, &master.url("/stats/requests"), &other, None).await;
    assert!(answer.headers.get("access-control-allow-origin").is_none());
}
