//! The open model on loopback: arrivals split exactly across workers against a counting
//! target, a drop-mode cap that says the generator limited the run, and a worker killed
//! mid-run whose owed arrivals are counted as lost.

use std::time::Duration;

use lv_master::report::summary::{OpenSummary, Summary, read_json};
use lv_tests::harness::{
    Proc, master_args, ping_run, spawn_master_process, spawn_worker_process, wait_until,
};
use lv_tests::{master_config, ping_scenario, run_cluster, spawn_target};
use tokio_util::sync::CancellationToken;

/// Runs the ping scenario in-process on `workers` workers with `extra` open-model flags;
/// the outcome and the requests the target received.
async fn run_open(workers: usize, extra: &[&str]) -> (lv_master::Outcome, u64) {
    let stop = CancellationToken::new();
    let target = spawn_target(&[], stop.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = ping_scenario(dir.path(), &target, 0.0);
    let fleet = lv_tests::workspace_root().join("configs/fleet.toml");
    let expect = workers.to_string();
    let mut words = vec![
        "-f",
        scenario.to_str().expect("utf-8 path"),
        "--fleet",
        fleet.to_str().expect("utf-8 path"),
        "--expect-workers",
        &expect,
        "--expect-workers-max-wait",
        "20s",
        "--headless",
        "--only-summary",
        "--no-slo",
    ];
    words.extend_from_slice(extra);
    let config = master_config(&words).expect("valid config");
    let outcome = run_cluster(config, workers, &stop, Duration::from_secs(40)).await;
    let total = target.total();
    stop.cancel();
    (outcome, total)
}

/// A target that answers every request 200 after `delay`; its base URL.
async fn slow_target(delay: Duration, stop: CancellationToken) -> String {
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind target");
    let addr = listener.local_addr().expect("target address");
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                () = stop.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => return,
                },
            };
            tokio::spawn(async move {
                let service = service_fn(move |_req| async move {
                    tokio::time::sleep(delay).await;
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                        bytes::Bytes::from_static(b"ok"),
                    )))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

fn open_of(summary: &Summary) -> &OpenSummary {
    summary.open.as_ref().expect("an open-model report")
}

/// 100/s for 3 s over 3 workers: the target receives exactly 300, each worker 100 ± 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uniform_rate_over_three_workers_reaches_the_target_exactly() {
    let (outcome, received) = run_open(3, &["--rate", "100/s", "-t", "3s"]).await;
    assert_eq!(received, 300, "the target's count");
    let summary = &outcome.summary;
    let open = open_of(summary);
    assert_eq!(
        (open.planned, open.scheduled, open.started),
        (300, 300, 300)
    );
    assert_eq!((open.dropped, open.lost, open.completed), (0, 0, 300));
    assert_eq!(summary.total.requests, 300);
    assert_eq!(open.service[0].requests, 300);
    assert_eq!(open.lag[0].requests, 300);
    let per_worker: Vec<u64> = summary.workers.iter().map(|w| w.core.requests).collect();
    assert_eq!(per_worker.iter().sum::<u64>(), 300);
    assert!(
        per_worker.iter().all(|&n| n.abs_diff(100) <= 1),
        "{per_worker:?}"
    );
    assert_eq!(outcome.exit_code, 0, "{}", summary.verdict);
}

/// One worker runs the open shape `shape` (a `[load]` table) against a target that answers
/// after `delay`.
async fn run_capped(delay: Duration, shape: &str) -> lv_master::Outcome {
    let stop = CancellationToken::new();
    let url = slow_target(delay, stop.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = lv_tests::write_file(
        dir.path(),
        "slow.toml",
        &format!(
            "[[user]]\nname = \"Slow\"\n[[user.task]]\n[[user.task.step]]\nurl = \"{}\"\npath = \"/slow\"\n",
            url
        ),
    );
    let shape = lv_tests::write_file(dir.path(), "shape.toml", shape);
    let fleet = lv_tests::workspace_root().join("configs/fleet.toml");
    let words = [
        "-f",
        scenario.to_str().expect("utf-8 path"),
        "--fleet",
        fleet.to_str().expect("utf-8 path"),
        "--shape",
        shape.to_str().expect("utf-8 path"),
        "--headless",
        "--only-summary",
        "--no-slo",
    ];
    let config = master_config(&words).expect("valid config");
    let outcome = run_cluster(config, 1, &stop, Duration::from_secs(40)).await;
    stop.cancel();
    outcome
}

/// A cap of 2 in flight against a target that takes 200 ms, in drop mode: every arrival is
/// started or dropped, and the verdict says the generator limited the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_mode_cap_is_accounted_and_reported() {
    let outcome = run_capped(
        Duration::from_millis(200),
        "[load]\nmodel = \"open\"\nmax_in_flight = 2\nstart = 50\nstages = [{ name = \"flat\", duration = \"2s\", to = 50 }]\n",
    )
    .await;
    let open = open_of(&outcome.summary);
    assert_eq!(open.planned, 100);
    assert_eq!(open.scheduled, 100);
    assert_eq!(open.scheduled, open.started + open.dropped);
    assert!(open.dropped >= 50, "{} dropped", open.dropped);
    assert!(open.generator_limited);
    let summary = &outcome.summary;
    assert!(summary.generator_limited);
    assert!(
        summary.generator_warnings.iter().any(|w| w.cause
            == lv_master::report::summary::GeneratorCause::ArrivalsDropped
            && w.detail == format!("{} arrivals dropped at the in-flight cap", open.dropped)),
        "{:?}",
        summary.generator_warnings
    );
    assert!(
        summary
            .verdict
            .contains("the generator limited this run; its latencies include its own delay ("),
        "{}",
        summary.verdict
    );
}

/// A child process killed when dropped, so that a failed assertion leaves none behind.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `lv-delay-target` answering every request after `delay_ms`, and its address.
fn delay_target(delay_ms: u64) -> (Killed, String) {
    use std::io::BufRead;

    let mut target = std::process::Command::new(env!("CARGO_BIN_EXE_lv-delay-target"))
        .args(["--delay-ms", &delay_ms.to_string()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start lv-delay-target");
    let mut line = String::new();
    let stdout = target.stdout.take().expect("target stdout");
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("target address");
    let addr = line.trim().trim_start_matches("listening on ").to_owned();
    (Killed(target), addr)
}

/// Runs the real `lv-master` with one local worker (its open files limited to `nofile` when
/// given) on one GET to `addr` with the load options `load`; its report and its standard
/// output.
fn run_local(addr: &str, load: &[&str], nofile: Option<u32>) -> (Summary, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = lv_tests::write_file(
        dir.path(),
        "one.toml",
        &format!(
            "[[user]]\nname = \"One\"\n[[user.task]]\n[[user.task.step]]\nurl = \"http://{addr}\"\npath = \"/one\"\n"
        ),
    );
    let json = dir.path().join("run.json");
    let fleet = lv_tests::workspace_root().join("configs/fleet.toml");
    // `ulimit -n` sets the hard limit too, so lv cannot raise it again.
    let limit = nofile.map_or(String::new(), |n| format!("ulimit -n {n} && "));
    let mut master = lv_tests::command_without_lv_env(std::path::Path::new("sh"));
    master
        .args(["-c", &format!("{limit}exec \"$0\" \"$@\"")])
        .arg(lv_tests::bin("lv-master"))
        .arg("-f")
        .arg(&scenario)
        .arg("--fleet")
        .arg(&fleet)
        .args(load)
        .arg("--json")
        .arg(&json)
        .args(["--headless", "--no-slo", "--local-workers", "1"])
        .args(["--master-bind-port", "0"]);
    let output = lv_tests::output_within(&mut master, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let summary = read_json(&json)
        .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&output.stderr)));
    (summary, stdout)
}

/// The schedule-lag warning of `summary`.
fn lag_warning(summary: &Summary) -> &lv_master::report::summary::GeneratorWarning {
    summary
        .generator_warnings
        .iter()
        .find(|w| w.cause == lv_master::report::summary::GeneratorCause::ScheduleLag)
        .expect("a schedule-lag warning")
}

/// One in flight at a time, queued, against `lv-delay-target` answering in 100 ms, at 20
/// arrivals/s for 1 s, run by the real `lv-master` with a local worker: each arrival waits
/// for the one before, so request k is sent about 50k ms after its planned instant. The
/// report's count of requests sent more than 10 ms late is the one `hdrhistogram` itself
/// reads from the reported lag histogram, and the generator warning names it (and nothing
/// about a cap: the run has one).
#[test]
fn a_queue_at_the_cap_counts_every_late_request() {
    let (_target, addr) = delay_target(100);
    let dir = tempfile::tempdir().expect("tempdir");
    let shape = lv_tests::write_file(
        dir.path(),
        "shape.toml",
        "[load]\nmodel = \"open\"\nmax_in_flight = 1\non_saturation = \"queue\"\nstart = 20\nstages = [{ name = \"flat\", duration = \"1s\", to = 20 }]\n",
    );
    let shape = shape.to_str().expect("utf-8 path");
    let (summary, stdout) = run_local(&addr, &["--shape", shape], None);
    let open = open_of(&summary);
    assert_eq!((open.planned, open.started, open.dropped), (20, 20, 0));
    let lag = open.lag[0]
        .to_stats()
        .expect("the lag histogram decodes")
        .histogram();
    let late: u64 = lag
        .iter_recorded()
        .filter(|v| lag.lowest_equivalent(v.value_iterated_to()) > 10_000)
        .map(|v| v.count_at_value())
        .sum();
    assert_eq!(lag.len(), 20);
    // Request k waits for the k before it: ~50k ms late, so all but the first.
    assert!((19..=20).contains(&late), "{late} of 20 late: {stdout}");
    assert_eq!(open.late, late);
    assert!(open.lag_p99_ms > 500.0, "{stdout}");
    let detail = &lag_warning(&summary).detail;
    assert!(
        detail.ends_with(&format!(
            "ms above 10 ms; {late} requests sent more than 10 ms late"
        )),
        "{detail}"
    );
    assert!(
        stdout.contains(&format!("{late} requests sent more than 10 ms late")),
        "{stdout}"
    );
}

/// 40,000 arrivals/s for 1 s with no in-flight cap, beyond what a test build sends, the
/// worker's open files limited so that it cannot open more than about 190 connections: the
/// run is late, and its schedule-lag warning, in the report and on the console, says what
/// bounds the connections of a late worker.
#[test]
fn a_late_run_without_a_cap_names_the_cap() {
    let (_target, addr) = delay_target(0);
    let (summary, stdout) = run_local(&addr, &["--rate", "40000/s", "-t", "1s"], Some(256));
    let open = open_of(&summary);
    assert!(
        open.lag_p99_ms > 10.0,
        "lag p99 {} ms: {stdout}",
        open.lag_p99_ms
    );
    let detail = &lag_warning(&summary).detail;
    assert!(
        detail.contains("; no max_in_flight")
            && detail.ends_with("(arrivals beyond it dropped and counted)"),
        "{detail}"
    );
    assert!(stdout.contains("--max-in-flight bounds"), "{stdout}");
}

/// Kill -9 of 1 of 3 workers: the others take over from a later arrival, and the reported
/// arrivals plus the lost ones are exactly the planned total.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_leaves_lost_arrivals_and_the_total_adds_up() {
    let (stop, target, _dir, scenario, json) = ping_run(0.0).await;
    let json_arg = json.to_str().expect("utf-8 path");
    let (mut master, addr) = spawn_master_process(&master_args(
        &scenario,
        0,
        &[
            "--expect-workers",
            "3",
            "--expect-workers-max-wait",
            "30s",
            "--rate",
            "60/s",
            "-t",
            "8s",
            "--heartbeat-timeout",
            "2s",
            "--no-slo",
            "--json",
            json_arg,
        ],
    ))
    .await;
    let addr = addr.to_string();
    let mut workers: Vec<Proc> = (0..3)
        .map(|i| spawn_worker_process(&addr, &["--heartbeat-timeout", "2s"], &format!("w{i}")))
        .collect();
    assert!(wait_until(Duration::from_secs(30), || target.total() >= 60).await);
    workers[0].kill9().await;
    assert_eq!(master.exit_code(Duration::from_secs(40)).await, Some(0));
    for worker in &mut workers[1..] {
        assert_eq!(worker.exit_code(Duration::from_secs(15)).await, Some(0));
    }
    let summary = read_json(&json).unwrap_or_else(|e| panic!("{e}"));
    let open = open_of(&summary);
    assert_eq!(open.planned, 480);
    assert!(open.lost > 0, "the killed worker owed arrivals: {open:?}");
    assert_eq!(open.scheduled + open.lost, open.planned, "{open:?}");
    // The target also saw what the killed worker fired but never reported.
    let received = target.total();
    assert!(
        (open.scheduled..=open.planned).contains(&received),
        "target {received}, {open:?}"
    );
    stop.cancel();
}
