//! lv under load, with the real binaries: at full speed no request is lost from the stats,
//! and twenty worker processes attach to one master and run without a missed heartbeat.

use std::path::Path;
use std::time::Duration;

use lv_master::report::summary::{Summary, read_json};
use lv_tests::harness::{Proc, master_args, ping_run, spawn_master_process, spawn_worker_process};
use lv_tests::{spawn_target, write_file};
use tokio_util::sync::CancellationToken;

/// `lv-master` words for a headless run on 127.0.0.1:0 without SLO checks, waiting for
/// `workers` workers and writing its summary to `json`, then `extra`.
fn run_args(scenario: &Path, json: &Path, workers: usize, extra: &[&str]) -> Vec<String> {
    let workers = workers.to_string();
    let json = json.display().to_string();
    let mut words = vec![
        "--no-slo",
        "--expect-workers",
        &workers,
        "--expect-workers-max-wait",
        "60s",
        "--json",
        &json,
    ];
    words.extend_from_slice(extra);
    master_args(scenario, 0, &words)
}

/// Waits for the master and every worker to exit 0; returns the master's summary.
async fn finish(mut master: Proc, workers: &mut [Proc], json: &Path) -> Summary {
    assert_eq!(master.exit_code(Duration::from_secs(90)).await, Some(0));
    for worker in workers.iter_mut() {
        assert_eq!(worker.exit_code(Duration::from_secs(20)).await, Some(0));
    }
    read_json(json).unwrap_or_else(|e| panic!("{e}"))
}

/// 100 users without think time on two worker processes, two endpoints: every request
/// the target answered is in lv's stats, per endpoint and per worker, none failed and
/// none was cut off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_full_speed_every_request_the_target_answered_is_counted() {
    let stop = CancellationToken::new();
    let target = spawn_target(&[], stop.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = write_file(
        dir.path(),
        "flat-out.toml",
        &format!(
            "[[user]]\nname = \"FlatOut\"\nwait = {{ constant = 0 }}\n\
             [[user.task]]\nweight = 3\n[[user.task.step]]\nurl = \"{url}\"\npath = \"/fast\"\n\
             [[user.task]]\nweight = 1\n[[user.task.step]]\nurl = \"{url}\"\npath = \"/other\"\n",
            url = target.url()
        ),
    );
    let json = dir.path().join("summary.json");
    let (master, addr) = spawn_master_process(&run_args(
        &scenario,
        &json,
        2,
        &["-u", "100", "-r", "1000", "-t", "4s"],
    ))
    .await;
    let mut workers: Vec<Proc> = (0..2)
        .map(|i| spawn_worker_process(&addr.to_string(), &[], &format!("worker{i}")))
        .collect();
    let summary = finish(master, &mut workers, &json).await;
    let counts = target.counts();
    let seen = target.total();
    assert!(
        seen > 2_000,
        "the target saw only {seen} requests: not under load"
    );
    assert_eq!(
        summary.total.requests, seen,
        "lv's total against the target's"
    );
    for endpoint in &summary.endpoints {
        assert_eq!(
            Some(&endpoint.requests),
            counts.get(&format!("{} {}", endpoint.method, endpoint.name)),
            "{} in lv and at the target",
            endpoint.name
        );
    }
    assert_eq!(summary.endpoints.len(), counts.len());
    assert_eq!(summary.total.failures, 0);
    assert_eq!(
        summary.cut_off, 0,
        "the stop lets requests in flight finish"
    );
    assert!(summary.exceptions.is_empty(), "{:?}", summary.exceptions);
    let per_worker: u64 = summary.workers.iter().map(|w| w.core.requests).sum();
    assert_eq!(per_worker, seen);
    assert!(summary.workers.iter().all(|w| w.core.users == 50));
    stop.cancel();
}

/// Twenty `lv-worker` processes attach to one master, each runs its 2 users, each
/// reports, and none is lost (a missed heartbeat past the timeout would mark it lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_worker_processes_attach_and_none_misses_a_heartbeat() {
    const WORKERS: usize = 20;
    let (stop, target, _dir, scenario, json) = ping_run(0.05).await;
    let (master, addr) = spawn_master_process(&run_args(
        &scenario,
        &json,
        WORKERS,
        &[
            "-u",
            "40",
            "-r",
            "100",
            "-t",
            "4s",
            "--heartbeat-timeout",
            "5s",
        ],
    ))
    .await;
    let mut workers: Vec<Proc> = (0..WORKERS)
        .map(|i| spawn_worker_process(&addr.to_string(), &[], &format!("worker{i}")))
        .collect();
    let summary = finish(master, &mut workers, &json).await;
    assert_eq!(summary.workers.len(), WORKERS);
    for worker in &summary.workers {
        assert_eq!(worker.core.state, "active", "{worker:?}");
        assert_eq!(worker.core.users, 2, "{worker:?}");
        assert!(worker.core.requests > 0, "{worker:?}");
        assert!(worker.lost_unix_ms.is_none(), "{worker:?}");
    }
    assert!(
        summary.below_target.is_empty(),
        "{:?}",
        summary.below_target
    );
    assert_eq!(summary.total.requests, target.total());
    stop.cancel();
}

/// With `--connection-per-user` every user keeps its own connection while it waits: the
/// target sees exactly one connection per user. Without it, users that mostly wait share
/// a few. Both count every request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_per_user_opens_one_connection_per_user() {
    const USERS: u64 = 30;
    for per_user in [true, false] {
        let (stop, target, _dir, scenario, json) = ping_run(0.2).await;
        let users = USERS.to_string();
        let mut extra = vec!["-u", &users, "-r", "100", "-t", "3s"];
        if per_user {
            extra.push("--connection-per-user");
        }
        let (master, addr) = spawn_master_process(&run_args(&scenario, &json, 1, &extra)).await;
        let mut workers = vec![spawn_worker_process(&addr.to_string(), &[], "worker")];
        let summary = finish(master, &mut workers, &json).await;
        assert_eq!(summary.total.requests, target.total());
        assert!(
            target.total() > USERS * 5,
            "only {} requests",
            target.total()
        );
        if per_user {
            assert_eq!(target.connections(), USERS, "one connection per user");
        } else {
            assert!(
                target.connections() < USERS,
                "{} connections for {USERS} users that mostly wait",
                target.connections()
            );
        }
        stop.cancel();
    }
}
