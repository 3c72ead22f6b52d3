//! What scripts read instead of log text: `lv-master --ready-file` (the bound addresses as
//! JSON, written once the listeners are bound) and `lv-master explain-exit CODE` (the one
//! table of exit codes). Real processes, port 0, loopback only.

use std::net::SocketAddr;
use std::time::Duration;

use lv_master::report::conclude::EXIT_CODES;
use lv_tests::harness::{
    LISTENING, Proc, master_args, ping_run, spawn_worker_process, wait_for_ready_file,
};
use lv_tests::{bin, command_without_lv_env};

/// `--master-bind-port 0 --ready-file FILE`: the file appears with the address the master
/// bound (the one its log line names), no web UI (`null`) and its pid, and a worker that
/// connects to that address runs the test to the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ready_file_names_the_bound_port_and_a_worker_joins_through_it() {
    let (stop, target, dir, scenario, json) = ping_run(0.05).await;
    // The folder is made when missing, as for --json.
    let ready_path = dir.path().join("run/master.json");
    let ready_arg = ready_path.to_str().expect("utf-8 path").to_owned();
    let json_arg = json.to_str().expect("utf-8 path").to_owned();
    let args = master_args(
        &scenario,
        0,
        &[
            "--expect-workers",
            "1",
            "--expect-workers-max-wait",
            "30s",
            "-u",
            "2",
            "-r",
            "50",
            "-t",
            "3s",
            "--json",
            &json_arg,
            "--ready-file",
            &ready_arg,
        ],
    );
    let mut master = Proc::start(&bin("lv-master"), &args, "master");
    let ready = wait_for_ready_file(&ready_path, &master, Duration::from_secs(30)).await;
    let workers: SocketAddr = ready["workers"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("workers address in {ready}"));
    assert!(workers.ip().is_loopback(), "{ready}");
    assert_ne!(workers.port(), 0, "{ready}");
    assert_eq!(ready["web"], serde_json::Value::Null, "{ready}");
    assert_eq!(ready["pid"], master.pid, "{ready}");
    let line = master
        .stderr
        .wait_for(LISTENING, Duration::from_secs(5))
        .await
        .expect("the log line is still printed");
    assert!(line.ends_with(&workers.to_string()), "{line} vs {ready}");

    let mut worker = spawn_worker_process(&workers.to_string(), &[], "worker");
    assert_eq!(master.exit_code(Duration::from_secs(40)).await, Some(0));
    assert_eq!(worker.exit_code(Duration::from_secs(15)).await, Some(0));
    let summary = lv_master::report::summary::read_json(&json).expect("the JSON report");
    assert_eq!(summary.workers.len(), 1);
    assert!(summary.total.requests > 0);
    assert_eq!(summary.total.requests, target.total());
    stop.cancel();
}

/// With a web port (0: the system picks it) the ready file is written once both listeners
/// are bound and names the web UI's URL, which answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ready_file_names_the_web_ui_when_there_is_one() {
    let (stop, _target, dir, scenario, _json) = ping_run(0.05).await;
    let ready_path = dir.path().join("master.json");
    let ready_arg = ready_path.to_str().expect("utf-8 path").to_owned();
    let args = master_args(
        &scenario,
        0,
        &[
            "--web-port",
            "0",
            "--expect-workers",
            "1",
            "--expect-workers-max-wait",
            "5s",
            "--ready-file",
            &ready_arg,
        ],
    );
    let mut master = Proc::start(&bin("lv-master"), &args, "master");
    let ready = wait_for_ready_file(&ready_path, &master, Duration::from_secs(30)).await;
    let web = ready["web"]
        .as_str()
        .and_then(|url| url.strip_prefix("http://"))
        .and_then(|a| a.parse::<SocketAddr>().ok())
        .unwrap_or_else(|| panic!("web URL in {ready}"));
    assert!(web.ip().is_loopback() && web.port() != 0, "{ready}");
    assert!(
        master
            .stderr
            .contains(&format!("lv-master: web UI on http://{web}")),
        "{}",
        master.stderr.text()
    );
    tokio::net::TcpStream::connect(web)
        .await
        .expect("the web port answers");
    // No worker comes: the master gives up (exit 3) after the wait.
    assert_eq!(master.exit_code(Duration::from_secs(30)).await, Some(3));
    stop.cancel();
}

/// A ready file that cannot be written stops the master before the run (exit 2, naming it);
/// one left by an earlier master is removed even when this one then refuses its settings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_ready_file_is_a_usage_error_and_a_stale_one_goes() {
    let (stop, _target, dir, scenario, _json) = ping_run(0.05).await;
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "").expect("write");
    let ready = blocker.join("ready.json");
    let ready_arg = ready.to_str().expect("utf-8 path").to_owned();
    let args = master_args(&scenario, 0, &["--ready-file", &ready_arg]);
    let mut master = Proc::start(&bin("lv-master"), &args, "master");
    assert_eq!(master.exit_code(Duration::from_secs(30)).await, Some(2));
    assert!(
        master.stderr.contains("cannot write the ready file"),
        "{}",
        master.stderr.text()
    );

    let stale = dir.path().join("stale.json");
    std::fs::write(&stale, r#"{"workers":"127.0.0.1:1","web":null,"pid":1}"#).expect("write");
    let stale_arg = stale.to_str().expect("utf-8 path").to_owned();
    let missing = dir.path().join("no-such-scenario.toml");
    let args = master_args(&missing, 0, &["--ready-file", &stale_arg]);
    let mut master = Proc::start(&bin("lv-master"), &args, "master");
    assert_eq!(master.exit_code(Duration::from_secs(30)).await, Some(2));
    assert!(!stale.exists(), "the stale ready file is gone");
    stop.cancel();
}

/// `lv-master explain-exit CODE` prints each code's meaning from the one table, exit 0; a
/// code lv-master never exits with, or no number at all, is an error with exit 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_exit_prints_each_code_and_refuses_unknown_ones() {
    let master = bin("lv-master");
    let explain = |code: &str| {
        let mut command = command_without_lv_env(&master);
        command.args(["explain-exit", code]);
        async move { command.output().await.expect("run lv-master explain-exit") }
    };
    let expected = [
        "passed",
        "the run's checks failed",
        "bad usage or configuration",
        "the run could not be carried out",
    ];
    assert_eq!(EXIT_CODES.len(), expected.len());
    for (code, meaning) in (0..).zip(expected) {
        let output = explain(&code.to_string()).await;
        assert_eq!(output.status.code(), Some(0), "{code}");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("{meaning}\n")
        );
        assert!(output.stderr.is_empty(), "{code}");
    }
    let output = explain("7").await;
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("lv-master explain-exit: 7 is not one of lv-master's exit codes: 0 ("),
        "{stderr}"
    );
    for bad in ["256", "-1", "x"] {
        let output = explain(bad).await;
        assert_eq!(output.status.code(), Some(2), "{bad}");
    }
}
