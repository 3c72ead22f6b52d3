//! The real binaries: `lv-master --expect-workers 2` and two `lv-worker` processes.

use std::process::Stdio;
use std::time::Duration;

use lv_tests::{bin, command_without_lv_env, ping_scenario, spawn_target};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use tokio_util::sync::CancellationToken;

/// Reads the child's stderr until the master says where it listens; keeps draining after.
async fn master_address(child: &mut Child) -> String {
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut tx = Some(tx);
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(addr) = line.strip_prefix("lv-master: listening for workers on ")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(addr.trim().to_owned());
            }
            eprintln!("[master] {line}");
        }
    });
    tokio::time::timeout(Duration::from_secs(60), rx)
        .await
        .expect("the master announced its address")
        .expect("address line")
}

/// Master and two workers as processes: exit code 0 and a JSON summary whose numbers
/// match what the target received.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_and_two_worker_processes_agree_with_the_target() {
    let master_bin = bin("lv-master");
    let worker_bin = bin("lv-worker");
    let stop = CancellationToken::new();
    let target = spawn_target(&[], stop.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = ping_scenario(dir.path(), &target, 0.01);
    let json = dir.path().join("summary.json");
    let fleet = lv_tests::workspace_root().join("configs/fleet.toml");
    let mut master = command_without_lv_env(&master_bin)
        .arg("-f")
        .arg(&scenario)
        .arg("--fleet")
        .arg(&fleet)
        .args([
            "-u",
            "4",
            "-r",
            "50",
            "-t",
            "3s",
            "--headless",
            "--only-summary",
        ])
        .args(["--expect-workers", "2", "--expect-workers-max-wait", "30s"])
        .args(["--master-bind-port", "0", "--json"])
        .arg(&json)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start lv-master");
    let addr = master_address(&mut master).await;
    let mut workers: Vec<Child> = (0..2)
        .map(|_| {
            command_without_lv_env(&worker_bin)
                .args(["--master", &addr, "--connect-timeout", "20s"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("start lv-worker")
        })
        .collect();
    let status = tokio::time::timeout(Duration::from_secs(60), master.wait())
        .await
        .expect("master exits in time")
        .expect("master status");
    assert_eq!(status.code(), Some(0));
    for worker in &mut workers {
        let status = tokio::time::timeout(Duration::from_secs(15), worker.wait())
            .await
            .expect("worker exits after Shutdown")
            .expect("worker status");
        assert_eq!(status.code(), Some(0));
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("summary written")).expect("JSON");
    let seen = target.total();
    assert!(seen > 100, "the target saw only {seen} requests");
    assert_eq!(summary["total"]["requests"], seen);
    assert_eq!(summary["endpoints"][0]["name"], "/ping");
    assert_eq!(summary["endpoints"][0]["requests"], seen);
    assert_eq!(summary["total"]["failures"], 0);
    assert_eq!(summary["exit_code"], 0);
    assert_eq!(summary["users"], 4);
    let workers = summary["workers"].as_array().expect("workers");
    assert_eq!(workers.len(), 2);
    let per_worker: u64 = workers
        .iter()
        .map(|w| w["requests"].as_u64().expect("n"))
        .sum();
    assert_eq!(per_worker, seen);
    assert!(workers.iter().all(|w| w["users"] == 2), "{workers:?}");
    let p50 = summary["total"]["p50_ms"].as_f64().expect("p50");
    let p99 = summary["total"]["p99_ms"].as_f64().expect("p99");
    let max = summary["total"]["max_ms"].as_f64().expect("max");
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{p50} {p99} {max}");
    stop.cancel();
}

/// The threads of process `pid`, by name.
fn thread_names(pid: u32) -> Vec<String> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("/proc/PID/task");
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect()
}

/// `lv-master --local-workers 1` pinned to one CPU, as `bench/compare.sh`'s lv-one: it runs
/// its users on a single-threaded runtime (no `tokio-rt-worker` thread), its busy users
/// (no wait) send fixed requests, and its count equals the target's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_pinned_to_one_cpu_runs_single_threaded_and_agrees_with_the_target() {
    use lv_tests::harness::{LISTENING, Proc, master_args};
    let (stop, target, dir, scenario, json) = lv_tests::harness::ping_run(0.0).await;
    let mut args = vec!["-c".to_owned(), "0".to_owned()];
    args.push(bin("lv-master").display().to_string());
    args.extend(master_args(
        &scenario,
        0,
        &["-u", "10", "-r", "100", "-t", "3s", "--local-workers", "1"],
    ));
    args.extend(["--json".to_owned(), json.display().to_string()]);
    let mut master = Proc::start(std::path::Path::new("taskset"), &args, "pinned");
    assert!(
        master
            .stderr
            .wait_for(LISTENING, Duration::from_secs(30))
            .await
            .is_some(),
        "lv-master (under taskset, from util-linux) did not start: {}",
        master.stderr.text()
    );
    let threads = thread_names(master.pid);
    assert!(
        threads.iter().any(|t| t == "lv-master") && !threads.iter().any(|t| t == "tokio-rt-worker"),
        "one CPU, one runtime thread: {threads:?}"
    );
    assert_eq!(master.exit_code(Duration::from_secs(60)).await, Some(0));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("summary written")).expect("JSON");
    let seen = target.total();
    assert!(seen > 1_000, "the target saw only {seen} requests");
    assert_eq!(summary["total"]["requests"], seen);
    assert_eq!(summary["total"]["failures"], 0);
    stop.cancel();
    drop(dir);
}
