//! Setup and teardown steps (issue 21): run once per run by the master, before any user
//! starts and after the last one stopped, with what setup extracted bound into every
//! user's requests on every worker. Real `lv-master` and `lv-worker` processes against an
//! in-process `lv-fleet-sim`, whose login hands out tokens that `GET /v1/me` checks.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lv_fleet_sim::{Counts, Sim};
use lv_master::report::summary::{EndpointSummary, Summary, read_json};
use lv_tests::harness::{Proc, spawn_master_process, spawn_worker_process, wait_until};
use lv_tests::{spawn_fleet_sim, write_file};
use tokio_util::sync::CancellationToken;

/// Longest a run (or a process exit) may take.
const LIMIT: Duration = Duration::from_secs(60);

/// The login step and the users' class: users call MUSE's `/v1/me` with setup's token.
const LOGIN: &str = r#"
[[setup.step]]
agent = "ATLAS"
method = "POST"
path = "/v1/auth/login"
json = { username = "lv", password = "secret" }
expect_status = [200]
extract = { token = "/token" }
"#;

const USERS: &str = r#"
[[user]]
name = "MeUser"
wait = { constant = 0.05 }

[[user.task]]
requires = ["token"]

[[user.task.step]]
agent = "MUSE"
path = "/v1/me"
kind = "health"
headers = { Authorization = "Bearer {{ token }}" }
check = [{ pointer = "/user", equals = "lv" }]
"#;

/// A teardown step on ATLAS's `/v1/me` (told apart from the users' MUSE calls), expecting
/// `status`.
fn teardown(status: u16) -> String {
    format!(
        "\n[[teardown.step]]\nagent = \"ATLAS\"\npath = \"/v1/me\"\nheaders = {{ Authorization = \"Bearer {{{{ token }}}}\" }}\nexpect_status = [{status}]\n"
    )
}

/// A fleet, a scenario and the run's files.
struct Bench {
    stop: CancellationToken,
    sim: Sim,
    dir: tempfile::TempDir,
    fleet: PathBuf,
    json: PathBuf,
}

impl Bench {
    /// A fleet with `slow` agents and a folder for the files.
    async fn new(slow: &[(&str, u64)]) -> Bench {
        let stop = CancellationToken::new();
        let dir = tempfile::tempdir().expect("tempdir");
        let fleet = dir.path().join("fleet.toml");
        let sim = spawn_fleet_sim(slow, &fleet, stop.child_token()).await;
        let json = dir.path().join("summary.json");
        Bench {
            stop,
            sim,
            dir,
            fleet,
            json,
        }
    }

    /// Starts `lv-master` on `scenario` text for `run_time`, then `extra`.
    async fn master(&self, scenario: &str, run_time: &str, extra: &[&str]) -> (Proc, String) {
        let file = write_file(self.dir.path(), "setup.toml", scenario);
        let mut words: Vec<String> = [
            "-f",
            path(&file),
            "--fleet",
            path(&self.fleet),
            "-H",
            "http://127.0.0.1",
            "--headless",
            "--only-summary",
            "--master-bind-port",
            "0",
            "-u",
            "6",
            "-r",
            "100",
            "-t",
            run_time,
            "--json",
            path(&self.json),
        ]
        .iter()
        .map(|w| (*w).to_owned())
        .collect();
        words.extend(extra.iter().map(|w| (*w).to_owned()));
        let (master, addr) = spawn_master_process(&words).await;
        (master, addr.to_string())
    }

    /// The count of `key` (`"METHOD /route"`) at `agent`.
    fn count(&self, agent: &str, key: &str) -> u64 {
        count(&self.sim.counts(), agent, key)
    }

    fn summary(&self) -> Summary {
        read_json(&self.json).expect("the JSON report is written")
    }

    async fn stop(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.sim.wait()).await;
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn count(counts: &Counts, agent: &str, key: &str) -> u64 {
    counts
        .agents
        .get(agent)
        .and_then(|routes| routes.get(key))
        .copied()
        .unwrap_or(0)
}

/// The report's row `method name`.
fn row<'a>(summary: &'a Summary, method: &str, name: &str) -> &'a EndpointSummary {
    summary
        .endpoints
        .iter()
        .find(|e| e.method == method && e.name == name)
        .unwrap_or_else(|| {
            let names: Vec<String> = summary
                .endpoints
                .iter()
                .map(|e| format!("{} {}", e.method, e.name))
                .collect();
            panic!("no row {method} {name}; rows: {names:?}")
        })
}

/// Setup logs in once for a run of three worker processes, and its token reaches every
/// user's requests on every worker; teardown runs once after the normal end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_runs_once_and_its_token_reaches_every_user_on_every_worker() {
    let bench = Bench::new(&[]).await;
    let scenario = format!("{LOGIN}{}{USERS}", teardown(200));
    let (mut master, addr) = bench
        .master(&scenario, "3s", &["--expect-workers", "3", "--no-slo"])
        .await;
    let _workers: Vec<Proc> = (0..3)
        .map(|i| spawn_worker_process(&addr, &[], &format!("worker-{i}")))
        .collect();
    assert_eq!(master.exit_code(LIMIT).await, Some(0), "the run passes");
    let counts = bench.sim.counts();
    let logins: u64 = counts
        .agents
        .values()
        .filter_map(|routes| routes.get("POST /v1/auth/login"))
        .sum();
    assert_eq!(logins, 1, "one login for the whole run: {counts:?}");
    let summary = bench.summary();
    let me = row(&summary, "GET", "MUSE /v1/me");
    assert!(me.requests > 0, "the users ran");
    assert_eq!(me.failures, 0, "no 401: every user sent the token");
    assert_eq!(me.requests, count(&counts, "MUSE", "GET /v1/me"));
    let setup = row(&summary, "POST", "setup: ATLAS /v1/auth/login");
    assert_eq!((setup.requests, setup.failures, setup.kind), (1, 0, None));
    let teardown = row(&summary, "GET", "teardown: ATLAS /v1/me");
    assert_eq!((teardown.requests, teardown.failures), (1, 0));
    assert_eq!(
        count(&counts, "ATLAS", "GET /v1/me"),
        1,
        "teardown ran once"
    );
    assert_eq!(summary.workers.len(), 3);
    for worker in &summary.workers {
        assert!(worker.core.requests > 0, "{worker:?}");
        assert_eq!(worker.core.failures, 0, "{worker:?}");
    }
    bench.stop().await;
}

/// A setup step whose check fails ends the run before any user starts: exit 1, the step
/// named on stderr and in the verdict, the setup row in the report, no user request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_setup_fails_the_run_before_any_load() {
    let bench = Bench::new(&[]).await;
    let failing = LOGIN.replace(
        "extract = {",
        "check = [{ pointer = \"/user\", equals = \"someone-else\" }]\nextract = {",
    );
    let scenario = format!("{failing}{}{USERS}", teardown(200));
    let (mut master, _) = bench.master(&scenario, "3s", &["--no-slo"]).await;
    assert_eq!(master.exit_code(LIMIT).await, Some(1));
    let stderr = master.stderr.text();
    assert!(
        stderr.contains("setup step \"ATLAS /v1/auth/login\" (POST http://127.0.0.1:")
            && stderr.contains("check failed: /user"),
        "{stderr}"
    );
    assert_eq!(bench.count("MUSE", "GET /v1/me"), 0, "no user ran");
    assert_eq!(
        bench.count("ATLAS", "GET /v1/me"),
        0,
        "no teardown without load"
    );
    let summary = bench.summary();
    assert_eq!(summary.exit_code, 1);
    assert!(
        summary
            .verdict
            .contains("setup step \"ATLAS /v1/auth/login\""),
        "{}",
        summary.verdict
    );
    let setup = row(&summary, "POST", "setup: ATLAS /v1/auth/login");
    assert_eq!((setup.requests, setup.failures), (1, 1));
    bench.stop().await;
}

/// SIGINT to the master mid-run stops the users, then teardown runs once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teardown_runs_once_after_sigint() {
    let bench = Bench::new(&[]).await;
    let scenario = format!("{LOGIN}{}{USERS}", teardown(200));
    let (mut master, _) = bench.master(&scenario, "5m", &["--no-slo"]).await;
    let busy = wait_until(LIMIT, || bench.count("MUSE", "GET /v1/me") > 0).await;
    assert!(busy, "the users ran: {}", master.stderr.text());
    assert_eq!(bench.count("ATLAS", "GET /v1/me"), 0, "no teardown yet");
    let status = std::process::Command::new("kill")
        .args(["-INT", &master.pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    assert_eq!(master.exit_code(LIMIT).await, Some(0));
    assert_eq!(bench.count("ATLAS", "GET /v1/me"), 1, "teardown ran once");
    let summary = bench.summary();
    assert_eq!(row(&summary, "GET", "teardown: ATLAS /v1/me").requests, 1);
    bench.stop().await;
}

/// A failing teardown step fails the run (exit 1) and the verdict names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_teardown_fails_the_run() {
    let bench = Bench::new(&[]).await;
    let scenario = format!("{LOGIN}{}{USERS}", teardown(201));
    let (mut master, _) = bench.master(&scenario, "2s", &["--no-slo"]).await;
    assert_eq!(master.exit_code(LIMIT).await, Some(1));
    let summary = bench.summary();
    assert!(
        summary.verdict.contains("teardown step \"ATLAS /v1/me\"")
            && summary.verdict.contains("HTTP 200"),
        "{}",
        summary.verdict
    );
    assert_eq!(row(&summary, "GET", "MUSE /v1/me").failures, 0);
    let teardown = row(&summary, "GET", "teardown: ATLAS /v1/me");
    assert_eq!((teardown.requests, teardown.failures), (1, 1));
    assert!(master.stderr.contains("teardown failed"));
    bench.stop().await;
}

/// The SLO checks leave setup and teardown out: with ATLAS slower than the health target,
/// a setup and a teardown of kind health on ATLAS do not fail a run whose users meet it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slo_checks_leave_setup_and_teardown_out() {
    const SLOW_MS: u64 = 120;
    let bench = Bench::new(&[("ATLAS", SLOW_MS)]).await;
    let slo = write_file(
        bench.dir.path(),
        "slo.toml",
        "max_failure_ratio = 0.01\np95_over_avg = 1000.0\np99_over_avg = 1000.0\n\
         ratio_floor_ms = 1000.0\n[avg_ms.health]\nlight = 50.0\n",
    );
    let login = LOGIN.replace("expect_status", "kind = \"health\"\nexpect_status");
    let scenario = format!(
        "{login}{}{USERS}",
        teardown(200).replace("path", "kind = \"health\"\npath")
    );
    let (mut master, _) = bench
        .master(
            &scenario,
            "2s",
            &["--slo", path(&slo), "--slo-level", "light"],
        )
        .await;
    assert_eq!(
        master.exit_code(LIMIT).await,
        Some(0),
        "the SLO checks pass"
    );
    let summary = bench.summary();
    let setup = row(&summary, "POST", "setup: ATLAS /v1/auth/login");
    assert!(setup.min_ms >= SLOW_MS as f64, "setup was slow: {setup:?}");
    assert!(row(&summary, "GET", "teardown: ATLAS /v1/me").min_ms >= SLOW_MS as f64);
    let verdicts = summary.slo.as_ref().expect("SLO verdicts");
    assert!(
        verdicts
            .iter()
            .all(|v| !v.endpoint.contains("setup:") && !v.endpoint.contains("teardown:")),
        "{verdicts:?}"
    );
    assert!(row(&summary, "GET", "MUSE /v1/me").requests > 0);
    bench.stop().await;
}

/// In the web UI, setup runs at each start and teardown after each stop from `/stop`; each
/// run's report has its own setup and teardown rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_runs_setup_at_each_start_and_teardown_at_each_stop() {
    use crate::web::{get, spawn_master};
    let bench = Bench::new(&[]).await;
    let scenario = write_file(
        bench.dir.path(),
        "setup.toml",
        &format!("{LOGIN}{}{USERS}", teardown(200)),
    );
    let fleet_flag = format!("--fleet={}", path(&bench.fleet));
    let reports = bench.dir.path().join("reports");
    let extra = [&fleet_flag[..], "-H", "http://127.0.0.1"];
    let master = spawn_master(&scenario, &reports, &extra).await;
    let _worker = spawn_worker_process(&master.workers, &[], "worker");
    master
        .wait_status("a worker", |s| s["worker_count"] == 1)
        .await;
    for run in 1..=2 {
        let before = bench.count("MUSE", "GET /v1/me");
        let run_id = master.swarm("user_count=3&spawn_rate=100").await;
        let busy = wait_until(LIMIT, || bench.count("MUSE", "GET /v1/me") > before + 5).await;
        assert!(busy, "run {run} made requests");
        master.stop().await;
        let logins = bench.count("ATLAS", "POST /v1/auth/login");
        assert_eq!(
            (logins, bench.count("ATLAS", "GET /v1/me")),
            (run, run),
            "one login and one teardown per run"
        );
        let report = get(&master.url(&format!("/api/v1/runs/{run_id}/json")))
            .await
            .json();
        let rows = report["endpoints"].as_array().cloned().unwrap_or_default();
        let find = |name: &str| {
            rows.iter()
                .find(|r| r["name"] == name)
                .cloned()
                .unwrap_or_else(|| panic!("no row {name}: {rows:?}"))
        };
        assert_eq!(find("setup: ATLAS /v1/auth/login")["requests"], 1);
        assert_eq!(find("teardown: ATLAS /v1/me")["requests"], 1);
        assert_eq!(find("MUSE /v1/me")["failures"], 0);
    }
    bench.stop().await;
}
