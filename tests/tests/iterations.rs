//! `-i/--iterations`: each user runs N tasks and stops, and the run ends by itself once
//! every user is done, long before its run time: with one local worker and with three
//! `lv-worker` processes, against the simulated fleet (no latency). And the values and
//! combinations it refuses, with exit code 2.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lv_fleet_sim::{Sim, SimConfig};
use lv_tests::harness::{Proc, spawn_master_process, spawn_worker_process, wait_until};
use lv_tests::{bin, command_without_lv_env, output_within, workspace_root, write_file};
use tokio_util::sync::CancellationToken;

/// One user class with one task of one request, `GET ATLAS /health`, waiting `wait_s`
/// seconds between tasks.
fn scenario(wait_s: f64) -> String {
    format!(
        "[[user]]\nname = \"Counted\"\nwait = {{ constant = {wait_s} }}\n\n\
         [[user.task]]\nname = \"health\"\n\n\
         [[user.task.step]]\nagent = \"ATLAS\"\npath = \"/health\"\n"
    )
}

/// The line the master logs when the users' iterations end the run.
fn finished_line(n: u32) -> String {
    format!("all users finished their {n} iterations")
}

/// A simulated fleet without latency, the scenario (users waiting `wait_s` s between
/// tasks), its fleet map and where the JSON report goes, all in a temporary folder.
struct Fixture {
    stop: CancellationToken,
    sim: Sim,
    _dir: tempfile::TempDir,
    scenario: PathBuf,
    fleet: PathBuf,
    json: PathBuf,
}

impl Fixture {
    async fn new(wait_s: f64) -> Fixture {
        let stop = CancellationToken::new();
        let config = SimConfig {
            port_offset: None,
            latency_scale: 0.0,
            seed: Some(7),
            ..SimConfig::default()
        };
        let sim = lv_fleet_sim::start(config, stop.child_token())
            .await
            .expect("the simulator starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let fleet = dir.path().join("fleet.toml");
        lv_fleet_sim::write_fleet_file(&fleet, sim.fleet()).expect("write the fleet map");
        let scenario = write_file(dir.path(), "counted.toml", &scenario(wait_s));
        let json = dir.path().join("summary.json");
        Fixture {
            stop,
            sim,
            _dir: dir,
            scenario,
            fleet,
            json,
        }
    }

    /// `lv-master` words: headless, only the summary, any port, the JSON report, a run
    /// time far longer than the test may take, then `extra`.
    fn master_words(&self, extra: &[&str]) -> Vec<String> {
        let path = |p: &Path| p.display().to_string();
        let mut words = vec![
            "-f".to_owned(),
            path(&self.scenario),
            "--fleet".to_owned(),
            path(&self.fleet),
            "-H".to_owned(),
            "http://127.0.0.1".to_owned(),
        ];
        words.extend(
            [
                "--headless",
                "--only-summary",
                "--master-bind-port",
                "0",
                "-t",
                "10m",
            ]
            .map(str::to_owned),
        );
        words.extend(["--json".to_owned(), path(&self.json)]);
        words.extend(extra.iter().map(|w| (*w).to_owned()));
        words
    }

    /// The JSON report the run wrote.
    fn summary(&self) -> serde_json::Value {
        let bytes = std::fs::read(&self.json).expect("the JSON report was written");
        serde_json::from_slice(&bytes).expect("the report is JSON")
    }
}

/// 10 users with `-i 3` on the local worker make exactly 30 requests, and the run ends
/// by itself with exit code 0, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_users_with_three_iterations_make_thirty_requests_and_stop() {
    let fixture = Fixture::new(0.01).await;
    let words = fixture.master_words(&["-u", "10", "-r", "100", "-i", "3"]);
    let mut master = Proc::start(&bin("lv-master"), &words, "master");
    let code = master.exit_code(Duration::from_secs(120)).await;
    let stderr = master.stderr.text();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains(&finished_line(3)), "{stderr}");
    assert!(!stderr.contains("run time reached"), "{stderr}");
    let summary = fixture.summary();
    assert_eq!(summary["total"]["requests"], 30, "{summary}");
    assert_eq!(summary["total"]["failures"], 0);
    assert_eq!(summary["exit_code"], 0);
    assert_eq!(fixture.sim.counts().total, 30);
    fixture.stop.cancel();
}

/// Three worker processes share 12 users with `-i 2`: 4 users and 8 requests each, 24 in
/// all, and every process exits 0 when the run ends by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_worker_processes_run_two_iterations_per_user() {
    let fixture = Fixture::new(0.01).await;
    let words = fixture.master_words(&[
        "-u",
        "12",
        "-r",
        "100",
        "-i",
        "2",
        "--expect-workers",
        "3",
        "--expect-workers-max-wait",
        "60s",
    ]);
    let (mut master, addr) = spawn_master_process(&words).await;
    let addr = addr.to_string();
    let mut workers: Vec<Proc> = (1..=3)
        .map(|i| spawn_worker_process(&addr, &[], &format!("worker{i}")))
        .collect();
    let code = master.exit_code(Duration::from_secs(120)).await;
    let stderr = master.stderr.text();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains(&finished_line(2)), "{stderr}");
    for worker in &mut workers {
        assert_eq!(worker.exit_code(Duration::from_secs(30)).await, Some(0));
    }
    let summary = fixture.summary();
    assert_eq!(summary["total"]["requests"], 24, "{summary}");
    assert_eq!(summary["total"]["failures"], 0);
    let per_worker: Vec<(u64, u64)> = summary["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .map(|w| {
            let n = |key: &str| w[key].as_u64().expect("a number");
            (n("users"), n("requests"))
        })
        .collect();
    assert_eq!(per_worker, [(4, 8), (4, 8), (4, 8)], "{summary}");
    assert_eq!(fixture.sim.counts().total, 24);
    fixture.stop.cancel();
}

/// A worker killed while its users run: the master gives its users to the two others,
/// which run them for 4 tasks each, and the run still ends by itself. The survivors'
/// numbers are exact: 2 users each from the start plus 1 each from the lost worker, 4
/// tasks a user, 24 requests in all (what the lost worker sent before it died is apart).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_workers_users_run_their_iterations_on_the_survivors() {
    const FAST: &str = "2s";
    let fixture = Fixture::new(1.0).await;
    let words = fixture.master_words(&[
        "-u",
        "6",
        "-r",
        "100",
        "-i",
        "4",
        "--expect-workers",
        "3",
        "--expect-workers-max-wait",
        "60s",
        "--heartbeat-timeout",
        FAST,
    ]);
    let (mut master, addr) = spawn_master_process(&words).await;
    let addr = addr.to_string();
    let mut workers: Vec<Proc> = (1..=3)
        .map(|i| spawn_worker_process(&addr, &["--heartbeat-timeout", FAST], &format!("w{i}")))
        .collect();
    // Every user sent its first request; each has 3 more tasks, a second apart, to go.
    let started = wait_until(Duration::from_secs(60), || fixture.sim.counts().total >= 6).await;
    assert!(started, "{}", master.stderr.text());
    workers[0].kill9().await;
    let code = master.exit_code(Duration::from_secs(120)).await;
    let stderr = master.stderr.text();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains(&finished_line(4)), "{stderr}");
    assert!(stderr.contains("worker lost"), "{stderr}");
    for worker in &mut workers[1..] {
        assert_eq!(worker.exit_code(Duration::from_secs(30)).await, Some(0));
    }
    let summary = fixture.summary();
    let survivors: Vec<(u64, u64)> = summary["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .filter(|w| w["state"] == "active")
        .map(|w| {
            let n = |key: &str| w[key].as_u64().expect("a number");
            (n("users"), n("requests"))
        })
        .collect();
    assert_eq!(survivors, [(3, 12), (3, 12)], "{summary}");
    assert_eq!(summary["total"]["failures"], 0);
    fixture.stop.cancel();
}

/// Runs `lv-master` with `words` (and `env`) on the repository's scenarios; returns its exit
/// code and stderr. Each of these stops before anything connects.
fn refused(words: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let root = workspace_root();
    let mut command = command_without_lv_env(&bin("lv-master"));
    command
        .arg("-f")
        .arg(root.join("configs/scenarios/health_checks.toml"))
        .arg("--fleet")
        .arg(root.join("configs/fleet.toml"))
        .args(["--headless", "--master-bind-port", "0", "-t", "2s"])
        .args(["--expect-workers-max-wait", "5s"])
        .args(words)
        .envs(env.iter().copied());
    let output = output_within(&mut command, Duration::from_secs(60));
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `-i 0`, garbage, and `-i` with the open model (`--rate`, an open `--shape`) are usage
/// errors that say what is wrong; so is a bad value from a profile or the environment.
#[test]
fn bad_iterations_are_usage_errors() {
    for words in [&["-i", "0"][..], &["--iterations=many"]] {
        let (code, err) = refused(words, &[]);
        assert_eq!(code, Some(2), "{words:?}: {err}");
        assert!(err.contains("a whole number >= 1"), "{words:?}: {err}");
    }
    let (code, err) = refused(&["-i", "3", "--rate", "10/s"], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("invalid value for --iterations"), "{err}");
    assert!(err.contains("--rate"), "{err}");

    let open = workspace_root().join("configs/shapes/capacity.toml");
    let open = open.display().to_string();
    let (code, err) = refused(&["-i", "3", "--shape", &open], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("invalid value for --iterations"), "{err}");

    let dir = tempfile::tempdir().expect("tempdir");
    let profile = write_file(dir.path(), "bad.conf", "users = 2\niterations = 0\n");
    let profile = profile.display().to_string();
    let (code, err) = refused(&["--config", &profile], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("{profile}:2")), "{err}");
    let (code, err) = refused(&[], &[("LV_ITERATIONS", "-1")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("LV_ITERATIONS"), "{err}");
}
