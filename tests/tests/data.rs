//! Test data (`[[data]]`) across real processes: a master and three `lv-worker`s against the
//! simulated fleet, which keeps the `X-Sim-Record` header of every request it gets, so the
//! rows users sent can be counted.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use lv_master::report::summary::{Summary, read_json};
use lv_tests::harness::{Proc, master_args, spawn_master_process, spawn_worker_process};
use lv_tests::write_file;
use tokio_util::sync::CancellationToken;

/// A simulated fleet answering at once, with its admin server, and its fleet map in `dir`.
async fn fleet(dir: &Path, stop: &CancellationToken) -> (lv_fleet_sim::Sim, String) {
    let config = lv_fleet_sim::SimConfig {
        port_offset: None,
        latency_scale: 0.0,
        admin_port: Some(0),
        seed: Some(7),
        ..lv_fleet_sim::SimConfig::default()
    };
    let sim = lv_fleet_sim::start(config, stop.clone())
        .await
        .expect("the simulator starts");
    let fleet_file = dir.join("fleet.toml");
    lv_fleet_sim::write_fleet_file(&fleet_file, sim.fleet()).expect("fleet map");
    (sim, fleet_file.display().to_string())
}

/// The `X-Sim-Record` values the fleet kept.
async fn records(sim: &lv_fleet_sim::Sim) -> Vec<String> {
    let admin = sim.admin_addr().expect("admin server");
    let stream = tokio::net::TcpStream::connect(admin)
        .await
        .expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let request = hyper::Request::get("/records")
        .header("host", admin.to_string())
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .expect("request");
    let response = sender.send_request(request).await.expect("records");
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(json["dropped"], 0);
    json["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| v.as_str().expect("text").to_owned())
        .collect()
}

/// `accounts.csv` with `rows` rows and a scenario whose users draw one in `mode`: each
/// user's first request sends `start ROW`, every later one `task ROW`.
fn scenario(dir: &Path, rows: usize, mode: &str) -> String {
    let mut csv = String::from("email,password\n");
    for i in 0..rows {
        csv.push_str(&format!("user{i}@example.com,secret-{i}\n"));
    }
    write_file(dir, "accounts.csv", &csv);
    let text = format!(
        r#"
[[data]]
name = "accounts"
file = "accounts.csv"

[[user]]
name = "Customer"
wait = {{ constant = 0.2 }}
data = {{ accounts = "{mode}" }}

[[user.on_start]]
agent = "ATLAS"
path = "/health"
headers = {{ "X-Sim-Record" = "start {{{{ accounts.email }}}}" }}

[[user.task]]
[[user.task.step]]
agent = "ATLAS"
path = "/health"
headers = {{ "X-Sim-Record" = "task {{{{ accounts.email }}}}" }}
"#
    );
    write_file(dir, "accounts.toml", &text)
        .display()
        .to_string()
}

/// Starts a master (`--expect-workers 3`) and three workers; returns them.
async fn cluster(dir: &Path, scenario: &str, fleet: &str, extra: &[&str]) -> (Proc, Vec<Proc>) {
    let json = dir.join("summary.json");
    let mut words = vec![
        "--fleet",
        fleet,
        "--expect-workers",
        "3",
        "--expect-workers-max-wait",
        "30s",
        "--heartbeat-timeout",
        "2s",
        "--json",
        json.to_str().expect("utf-8"),
    ];
    words.extend_from_slice(extra);
    let mut args = master_args(Path::new(scenario), 0, &[]);
    // The test's own fleet map replaces the repository's.
    let at = args.iter().position(|a| a == "--fleet").expect("--fleet");
    args.drain(at..at + 2);
    args.extend(words.iter().map(|w| (*w).to_owned()));
    let (master, addr) = spawn_master_process(&args).await;
    let addr = addr.to_string();
    let workers = (0..3)
        .map(|i| spawn_worker_process(&addr, &["--heartbeat-timeout", "2s"], &format!("w{i}")))
        .collect();
    (master, workers)
}

/// Waits for the master and every worker to exit 0.
async fn ended_cleanly(master: &mut Proc, workers: &mut [Proc]) {
    let code = master.exit_code(Duration::from_secs(60)).await;
    assert_eq!(code, Some(0), "{}", master.stderr.text());
    for worker in workers {
        assert_eq!(worker.exit_code(Duration::from_secs(15)).await, Some(0));
    }
}

fn summary(dir: &Path) -> Summary {
    read_json(&dir.join("summary.json")).unwrap_or_else(|e| panic!("{e}"))
}

/// Values of `records` that start with `prefix`.
fn with_prefix<'a>(records: &'a [String], prefix: &str) -> Vec<&'a str> {
    records
        .iter()
        .filter_map(|r| r.strip_prefix(prefix))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unique_rows_go_to_one_user_each_over_three_workers() {
    let stop = CancellationToken::new();
    let dir = tempfile::tempdir().expect("dir");
    let (sim, fleet) = fleet(dir.path(), &stop).await;
    let scenario = scenario(dir.path(), 120, "unique");
    let (mut master, mut workers) = cluster(
        dir.path(),
        &scenario,
        &fleet,
        &["-u", "120", "-r", "200", "-t", "5s"],
    )
    .await;
    ended_cleanly(&mut master, &mut workers).await;
    let records = records(&sim).await;
    let starts = with_prefix(&records, "start ");
    let distinct: BTreeSet<&str> = starts.iter().copied().collect();
    assert_eq!(
        (starts.len(), distinct.len()),
        (120, 120),
        "every user its own row"
    );
    // Every later request of a user carries the row it started with.
    let tasks = with_prefix(&records, "task ");
    assert!(tasks.len() >= 120, "{} task requests", tasks.len());
    assert!(tasks.iter().all(|t| distinct.contains(t)));
    let report = summary(dir.path());
    assert!(report.exceptions.is_empty(), "{:?}", report.exceptions);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_worker_s_users_start_again_elsewhere_with_rows_nobody_had() {
    let stop = CancellationToken::new();
    let dir = tempfile::tempdir().expect("dir");
    let (sim, fleet) = fleet(dir.path(), &stop).await;
    let scenario = scenario(dir.path(), 300, "unique");
    let (mut master, mut workers) = cluster(
        dir.path(),
        &scenario,
        &fleet,
        &["-u", "120", "-r", "200", "-t", "10s"],
    )
    .await;
    let started = || async { with_prefix(&records(&sim).await, "start ").len() };
    let mut seen = 0;
    for _ in 0..300 {
        seen = started().await;
        if seen >= 120 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, 120, "every user started");
    workers[0].kill9().await;
    ended_cleanly(&mut master, &mut workers[1..]).await;
    let records = records(&sim).await;
    let starts = with_prefix(&records, "start ");
    let distinct: BTreeSet<&str> = starts.iter().copied().collect();
    assert_eq!(distinct.len(), starts.len(), "no row was handed out twice");
    // The lost worker's 40 users started again on the other two, with new rows.
    assert_eq!(starts.len(), 160, "{} users started", starts.len());
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_users_than_unique_rows_fail_to_start_and_are_counted() {
    let stop = CancellationToken::new();
    let dir = tempfile::tempdir().expect("dir");
    let (sim, fleet) = fleet(dir.path(), &stop).await;
    let scenario = scenario(dir.path(), 120, "unique");
    let (mut master, mut workers) = cluster(
        dir.path(),
        &scenario,
        &fleet,
        &["-u", "150", "-r", "300", "-t", "4s"],
    )
    .await;
    // Users that could not start are counted exceptions, which (as elsewhere in lv) do not
    // fail the run by themselves.
    ended_cleanly(&mut master, &mut workers).await;
    let report = summary(dir.path());
    let failed: Vec<_> = report
        .exceptions
        .iter()
        .filter(|e| e.message.contains("test data accounts: no row left"))
        .collect();
    assert_eq!(failed.len(), 1, "{:?}", report.exceptions);
    assert_eq!(failed[0].count, 30, "{:?}", report.exceptions);
    let starts = with_prefix(&records(&sim).await, "start ").len();
    assert_eq!(starts, 120);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cycle_rows_start_where_the_worker_before_stopped() {
    let stop = CancellationToken::new();
    let dir = tempfile::tempdir().expect("dir");
    let (sim, fleet) = fleet(dir.path(), &stop).await;
    let scenario = scenario(dir.path(), 30, "cycle");
    let (mut master, mut workers) = cluster(
        dir.path(),
        &scenario,
        &fleet,
        &["-u", "30", "-r", "100", "-t", "3s"],
    )
    .await;
    ended_cleanly(&mut master, &mut workers).await;
    let records = records(&sim).await;
    let starts: BTreeSet<&str> = with_prefix(&records, "start ").into_iter().collect();
    assert_eq!(
        starts.len(),
        30,
        "30 users over 3 workers cover the 30 rows once"
    );
    stop.cancel();
}
