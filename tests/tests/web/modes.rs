//! `--autostart --autoquit`, `--headless --web-port` and `run_tests.sh demo --web`.

use std::path::Path;
use std::time::Duration;

use hyper::StatusCode;
use lv_tests::harness::ping_run;
use lv_tests::{bin, workspace_root};
use serde_json::Value;

use super::{get, post, spawn_master};

/// `--autostart --autoquit` (a Kubernetes Job): the run starts from the flags, its reports
/// are written under `--reports-dir`, and the master exits after it with the run's code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autostart_and_autoquit_exit_with_the_runs_code() {
    let (stop, target, dir, scenario, _) = ping_run(0.05).await;
    let reports = dir.path().join("reports");
    let extra = [
        "--local-workers=1",
        "--autostart",
        "--autoquit=1s",
        "-u",
        "2",
        "-r",
        "100",
        "-t",
        "2s",
    ];
    let mut master = spawn_master(&scenario, &reports, &extra).await;
    assert_eq!(
        master.process.exit_code(Duration::from_secs(40)).await,
        Some(0)
    );
    let json: Vec<_> = std::fs::read_dir(&reports)
        .expect("reports folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(json.len(), 1, "{json:?}");
    let report: Value =
        serde_json::from_slice(&std::fs::read(&json[0]).expect("report")).expect("JSON");
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["total"]["requests"].as_u64(), Some(target.total()));
    stop.cancel();
}

/// `--headless --web-port` serves the read-only API and `/metrics` during the run, and the
/// run ends as a headless run does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headless_run_serves_the_read_only_api() {
    let (stop, target, dir, scenario, json) = ping_run(0.05).await;
    let reports = dir.path().join("reports");
    let json_flag = format!("--json={}", json.display());
    let extra = [
        "--headless",
        "--local-workers=1",
        "-u",
        "2",
        "-r",
        "100",
        "-t",
        "4s",
        &json_flag,
    ];
    let mut master = spawn_master(&scenario, &reports, &extra).await;
    let status = master
        .wait_status("a running run", |s| s["state"] == "running")
        .await;
    assert_eq!(status["readonly"], true);
    let refused = post(&master.url("/swarm"), "user_count=5").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        get(&master.url("/stop")).await.status,
        StatusCode::FORBIDDEN
    );
    let metrics = get(&master.url("/metrics")).await;
    assert!(metrics.body.contains("lv_run_state 2"), "{}", metrics.body);
    assert_eq!(
        master.process.exit_code(Duration::from_secs(40)).await,
        Some(0)
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(&json).expect("report")).expect("JSON");
    assert_eq!(report["total"]["requests"].as_u64(), Some(target.total()));
    assert!(!reports.exists(), "a headless run writes no web reports");
    stop.cancel();
}

/// `./run_tests.sh demo --web` starts the simulated fleet, a UI-mode master and two
/// workers and prints the URL; a run started through it writes its reports under the
/// reports folder; SIGTERM stops everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_tests_demo_web_serves_the_ui() {
    use tokio::io::AsyncBufReadExt as _;
    let reports = tempfile::tempdir().expect("tempdir");
    let logs = tempfile::tempdir().expect("tempdir");
    let master = bin("lv-master");
    let bin_dir = master.parent().expect("target/<profile>");
    let profile = bin_dir.file_name().expect("profile").to_owned();
    let target_dir = bin_dir.parent().expect("target").to_owned();
    let mut command = lv_tests::command_without_lv_env(Path::new("bash"));
    let mut child = command
        .arg(workspace_root().join("run_tests.sh"))
        .args(["demo", "--web"])
        .current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", target_dir)
        .env("LV_BUILD_PROFILE", profile)
        .env("LV_SKIP_BUILD", "1")
        .env("LV_REPORTS_DIR", reports.path())
        .env("LV_LOGS_DIR", logs.path())
        .env("LV_WEB_PORT", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start run_tests.sh");
    let pid = child.id().expect("running");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.trim().strip_prefix("web UI    ") {
                return url.to_owned();
            }
        }
        String::new()
    })
    .await
    .expect("the URL is printed");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let status = format!("{url}/api/v1/status");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while get(&status).await.json()["worker_count"] != 2 {
        assert!(tokio::time::Instant::now() < deadline, "two workers attach");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started = post(
        &format!("{url}/swarm"),
        "user_count=4&spawn_rate=50&run_time=2s",
    )
    .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while get(&status).await.json()["state"] != "stopped" {
        assert!(tokio::time::Instant::now() < deadline, "the 2 s run ends");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let runs = get(&format!("{url}/api/v1/runs")).await.json();
    let file = runs[0]["files"]["json"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let report = get(&format!("{url}{file}")).await.json();
    assert!(
        report["total"]["requests"].as_u64().unwrap_or(0) > 0,
        "{report}"
    );
    let _ = tokio::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await;
    let exited = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    assert!(exited.is_ok(), "the script stops on SIGTERM");
    let written = std::fs::read_dir(reports.path())
        .expect("reports")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("web_") && n.ends_with(".json"))
        .count();
    assert_eq!(written, 1);
}
