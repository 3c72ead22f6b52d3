//! Faults with real processes on loopback: a worker or the master killed with `kill -9`,
//! a connection cut by a proxy, a worker joining mid-run, a checkpoint outliving its
//! master, and a target that answers with endless distinct errors. Each test compares
//! lv's numbers with what the target received.

use std::path::Path;
use std::time::Duration;

use lv_master::report::summary::{Summary, WorkerSummary, read_json};
use lv_tests::harness::{
    Proc, master_args, ping_run, spawn_answering_target, spawn_master_process, spawn_proxy,
    spawn_worker_process, unix_ms, wait_until,
};
use lv_tests::{spawn_target, write_file};
use tokio_util::sync::CancellationToken;

/// Heartbeat timeout of the tests that want losses noticed fast.
const FAST: &str = "2s";

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn summary(path: &Path) -> Summary {
    read_json(path).unwrap_or_else(|e| panic!("{e}"))
}

fn by_state<'a>(summary: &'a Summary, state: &str) -> Vec<&'a WorkerSummary> {
    summary
        .workers
        .iter()
        .filter(|w| w.core.state == state)
        .collect()
}

/// Waits for each worker's exit and asserts it was a clean 0 (the master said Shutdown).
async fn expect_clean_exits(workers: &mut [Proc]) {
    for worker in workers {
        assert_eq!(worker.exit_code(Duration::from_secs(15)).await, Some(0));
    }
}

/// Kill -9 of 1 of 3 workers: declared lost, users reassigned, only its last interval unreported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_worker_reassigns_its_users_and_loses_only_its_last_interval() {
    let (stop, target, _dir, scenario, json) = ping_run(0.05).await;
    let (mut master, addr) = spawn_master_process(&master_args(
        &scenario,
        0,
        &[
            "--expect-workers",
            "3",
            "--expect-workers-max-wait",
            "30s",
            "-u",
            "6",
            "-r",
            "100",
            "-t",
            "12s",
            "--heartbeat-timeout",
            FAST,
            "--json",
            path_str(&json),
        ],
    ))
    .await;
    let addr = addr.to_string();
    let mut workers: Vec<Proc> = (0..3)
        .map(|i| spawn_worker_process(&addr, &["--heartbeat-timeout", FAST], &format!("w{i}")))
        .collect();
    assert!(wait_until(Duration::from_secs(30), || target.total() > 0).await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let kill_ms = unix_ms();
    workers[0].kill9().await;

    assert_eq!(master.exit_code(Duration::from_secs(40)).await, Some(0));
    expect_clean_exits(&mut workers[1..]).await;
    let report = summary(&json);
    assert_eq!(report.workers.len(), 3, "{:?}", report.workers);
    let lost = by_state(&report, "lost");
    assert_eq!(lost.len(), 1, "{:?}", report.workers);
    let lost = lost[0];
    assert_eq!(lost.core.users, 0);
    let lost_ms = lost.lost_unix_ms.expect("lost_unix_ms of the lost worker");
    let after_kill = lost_ms - kill_ms;
    assert!(
        (1_900..=4_000).contains(&after_kill),
        "declared lost {after_kill} ms after the kill (timeout 2 s)"
    );
    let active = by_state(&report, "active");
    assert_eq!(active.len(), 2);
    assert_eq!(active.iter().map(|w| w.core.users).sum::<u32>(), 6);

    // Below target from the loss until the survivors run all 6 users again.
    assert_eq!(report.below_target.len(), 1, "{:?}", report.below_target);
    let below = &report.below_target[0];
    assert_eq!(below.worker_id, lost.core.id);
    // The period starts when the worker went silent (its last message, within a heartbeat
    // of the kill), not when the master noticed.
    assert!(
        (kill_ms - 1_500..=kill_ms + 500).contains(&below.from_unix_ms),
        "below target from {} ms, killed at {kill_ms} ms",
        below.from_unix_ms
    );
    let back = below
        .to_unix_ms
        .expect("the below-target period was closed");
    assert!(
        (0..=3_000).contains(&(back - lost_ms)),
        "back on target {} ms after the loss",
        back - lost_ms
    );
    let run_end = report.started_unix_ms + 12_000;
    let after: Vec<u32> = report
        .history
        .iter()
        .filter(|r| r.unix_ms > back + 1_000 && r.unix_ms < run_end - 500)
        .map(|r| r.users)
        .collect();
    assert!(
        !after.is_empty() && after.iter().all(|&u| u == 6),
        "{after:?}"
    );

    // Only the killed worker's unreported interval is missing, and the report says how long.
    let unreported = lost.unreported_s.expect("unreported_s of the lost worker");
    assert!(
        (1.5..=5.5).contains(&unreported),
        "unreported {unreported} s"
    );
    let last_report_ms = lost_ms - (unreported * 1000.0).round() as i64;
    let reported_s = (last_report_ms - report.started_unix_ms) as f64 / 1000.0;
    assert!(lost.core.requests > 0 && reported_s > 1.0, "{lost:?}");
    let rate = lost.core.requests as f64 / reported_s;
    let lv = report.total.requests;
    let seen = target.total();
    let per_worker: u64 = report.workers.iter().map(|w| w.core.requests).sum();
    assert_eq!(per_worker, lv);
    assert!(lv <= seen, "lv counted {lv}, the target saw {seen}");
    let in_flight_s = (kill_ms - last_report_ms) as f64 / 1000.0 + 1.0;
    let allowed = (rate * in_flight_s).ceil() as u64 + 5;
    eprintln!(
        "lost {after_kill} ms after the kill, back on target {} ms later; lv {lv}, target {seen}, allowed gap {allowed}",
        back - lost_ms
    );
    assert!(
        seen - lv <= allowed,
        "lv missed {} requests; the killed worker made {rate:.1}/s for at most {in_flight_s:.1} s unreported",
        seen - lv
    );
    stop.cancel();
}

/// A worker whose master died and never came back gives up after `--reconnect-timeout`
/// (exit 3, saying why) instead of retrying forever: a master that exits after losing a
/// worker sends it no Shutdown, and a Kubernetes Job of workers must end.
#[tokio::test]
async fn a_worker_gives_up_on_a_master_that_never_comes_back() {
    let (stop, target, _dir, scenario, _) = ping_run(0.05).await;
    let (mut master, addr) = spawn_master_process(&master_args(
        &scenario,
        0,
        &[
            "-u",
            "2",
            "-r",
            "100",
            "-t",
            "60s",
            "--heartbeat-timeout",
            FAST,
        ],
    ))
    .await;
    let mut worker = spawn_worker_process(
        &addr.to_string(),
        &["--heartbeat-timeout", FAST, "--reconnect-timeout", "2s"],
        "w0",
    );
    assert!(wait_until(Duration::from_secs(30), || target.total() >= 10).await);
    let kill_at = tokio::time::Instant::now();
    master.kill9().await;
    // Lost at once (the stream resets) or after the 2 s heartbeat timeout, then 2 s of
    // refused reconnects and a backoff step: well within 15 s.
    assert_eq!(worker.exit_code(Duration::from_secs(15)).await, Some(3));
    let gave_up_after = kill_at.elapsed();
    let stderr = worker.stderr.text();
    assert!(
        gave_up_after >= Duration::from_secs(2),
        "gave up {gave_up_after:?} after the kill, before its 2 s"
    );
    assert!(
        stderr.contains("did not answer again within 2s"),
        "{stderr}"
    );
    stop.cancel();
}

/// Kill -9 of the master: the load stops within the timeout; the workers then serve a new master.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_master_stops_the_load_and_the_workers_follow_a_new_master() {
    let (stop, target, dir, scenario, _) = ping_run(0.05).await;
    let (mut master, addr) = spawn_master_process(&master_args(
        &scenario,
        0,
        &[
            "--expect-workers",
            "2",
            "--expect-workers-max-wait",
            "30s",
            "-u",
            "4",
            "-r",
            "100",
            "-t",
            "60s",
            "--heartbeat-timeout",
            FAST,
        ],
    ))
    .await;
    let mut workers: Vec<Proc> = (0..2)
        .map(|i| {
            spawn_worker_process(
                &addr.to_string(),
                &["--heartbeat-timeout", FAST],
                &format!("w{i}"),
            )
        })
        .collect();
    assert!(wait_until(Duration::from_secs(30), || target.total() >= 20).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let kill_at = tokio::time::Instant::now();
    master.kill9().await;

    // Sample the target for timeout (2 s) + 4 s; note when its count last moved.
    let mut last = target.total();
    let mut last_change = kill_at;
    while kill_at.elapsed() < Duration::from_secs(6) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = target.total();
        if now != last {
            (last, last_change) = (now, tokio::time::Instant::now());
        }
    }
    let stopped_after = last_change - kill_at;
    eprintln!("the target's count last moved {stopped_after:?} after the kill");
    assert!(
        stopped_after <= Duration::from_millis(3_500),
        "the target received requests {stopped_after:?} after the master died (timeout 2 s)"
    );
    let later = target.total();
    for worker in &mut workers {
        assert!(worker.running(), "a worker exited without its master");
        assert!(
            worker.stderr.contains("stopping all users"),
            "{}",
            worker.stderr.text()
        );
    }

    // A new master on the same port gets both workers and runs a test with them.
    let json = dir.path().join("second.json");
    let (mut second, second_addr) = spawn_master_process(&master_args(
        &scenario,
        addr.port(),
        &[
            "--expect-workers",
            "2",
            "--expect-workers-max-wait",
            "20s",
            "-u",
            "4",
            "-r",
            "100",
            "-t",
            "3s",
            "--heartbeat-timeout",
            FAST,
            "--json",
            path_str(&json),
        ],
    ))
    .await;
    assert_eq!(second_addr, addr);
    assert_eq!(second.exit_code(Duration::from_secs(40)).await, Some(0));
    expect_clean_exits(&mut workers).await;
    let report = summary(&json);
    let grown = target.total() - later;
    assert!(grown > 0, "the new master's run made no request");
    assert_eq!(report.total.requests, grown);
    assert_eq!(report.workers.len(), 2);
    assert!(
        report
            .workers
            .iter()
            .all(|w| w.core.users == 2 && w.core.state == "active")
    );
    stop.cancel();
}

/// A 3 s proxy cut between a worker and the master loses no stats and counts none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_loses_and_duplicates_no_stats() {
    let (stop, target, _dir, scenario, json) = ping_run(0.05).await;
    let (mut master, addr) = spawn_master_process(&master_args(
        &scenario,
        0,
        &[
            "--expect-workers",
            "2",
            "--expect-workers-max-wait",
            "30s",
            "-u",
            "4",
            "-r",
            "100",
            "-t",
            "10s",
            "--heartbeat-timeout",
            "6s",
            "--json",
            path_str(&json),
        ],
    ))
    .await;
    let proxy = spawn_proxy(addr, stop.clone()).await;
    let mut workers = vec![
        spawn_worker_process(&addr.to_string(), &["--heartbeat-timeout", "6s"], "direct"),
        spawn_worker_process(
            &proxy.addr.to_string(),
            &["--heartbeat-timeout", "6s"],
            "proxied",
        ),
    ];
    assert!(wait_until(Duration::from_secs(30), || target.total() > 0).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.cut_for(Duration::from_secs(3));
    let cut_at = target.total();

    assert_eq!(master.exit_code(Duration::from_secs(40)).await, Some(0));
    expect_clean_exits(&mut workers).await;
    assert!(
        workers[1].stderr.contains("reconnecting"),
        "{}",
        workers[1].stderr.text()
    );
    assert!(
        proxy.refused() >= 1,
        "no reconnect attempt during the outage"
    );
    assert!(proxy.forwarded() >= 2, "the proxied worker never came back");
    let report = summary(&json);
    let seen = target.total();
    assert!(seen > cut_at, "no load after the cut");
    assert_eq!(report.total.requests, seen);
    assert_eq!(report.endpoints.len(), 1);
    assert_eq!(report.endpoints[0].requests, target.counts()["GET /ping"]);
    assert_eq!(
        report.workers.iter().map(|w| w.core.requests).sum::<u64>(),
        seen
    );
    assert_eq!(report.workers.len(), 2);
    assert!(
        report
            .workers
            .iter()
            .all(|w| w.core.state == "active" && w.core.users == 2 && w.lost_unix_ms.is_none()),
        "{:?}",
        report.workers
    );
    assert!(report.below_target.is_empty(), "{:?}", report.below_target);
    stop.cancel();
}

/// A worker cut off when the run's Stop goes out is stopped when it comes back: its last
/// report arrives, the run ends long before the stop timeout, and no count is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_away_at_the_stop_is_stopped_when_it_returns() {
    let (stop, target, _dir, scenario, json) = ping_run(0.05).await;
    let (mut master, addr) = spawn_master_process(&master_args(
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
            "100",
            "-t",
            "4s",
            "--heartbeat-timeout",
            "6s",
            "--stop-timeout",
            "30s",
            "--json",
            path_str(&json),
        ],
    ))
    .await;
    let proxy = spawn_proxy(addr, stop.clone()).await;
    let mut workers = vec![spawn_worker_process(
        &proxy.addr.to_string(),
        &["--heartbeat-timeout", "6s"],
        "proxied",
    )];
    assert!(wait_until(Duration::from_secs(30), || target.total() > 0).await);
    let started = std::time::Instant::now();
    // The cut spans the end of the 4 s run, so the Stop finds no connection.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    proxy.cut_for(Duration::from_secs(3));

    assert_eq!(master.exit_code(Duration::from_secs(40)).await, Some(0));
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(15),
        "the master waited {took:?}: the returning worker was not stopped (stop timeout 30 s)"
    );
    expect_clean_exits(&mut workers).await;
    let report = summary(&json);
    let seen = target.total();
    assert_eq!(report.total.requests, seen, "the last report was lost");
    stop.cancel();
}

/// A worker joining mid-run gets half the users and the fleet-wide total stays on target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_joining_mid_run_gets_a_share_and_the_total_stays_on_target() {
    let (stop, target, _dir, scenario, json) = ping_run(0.05).await;
    let (mut master, addr) = spawn_master_process(&master_args(
        &scenario,
        0,
        &[
            "--expect-workers",
            "1",
            "--expect-workers-max-wait",
            "30s",
            "-u",
            "4",
            "-r",
            "100",
            "-t",
            "9s",
            "--heartbeat-timeout",
            FAST,
            "--json",
            path_str(&json),
        ],
    ))
    .await;
    let addr = addr.to_string();
    let mut workers = vec![spawn_worker_process(
        &addr,
        &["--heartbeat-timeout", FAST],
        "first",
    )];
    assert!(wait_until(Duration::from_secs(30), || target.total() > 0).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let join_ms = unix_ms();
    workers.push(spawn_worker_process(
        &addr,
        &["--heartbeat-timeout", FAST],
        "joiner",
    ));

    assert_eq!(master.exit_code(Duration::from_secs(40)).await, Some(0));
    expect_clean_exits(&mut workers).await;
    let report = summary(&json);
    assert_eq!(report.workers.len(), 2);
    assert!(
        report
            .workers
            .iter()
            .all(|w| w.core.state == "active" && w.core.users == 2 && w.core.requests > 0),
        "{:?}",
        report.workers
    );
    assert_eq!(report.total.requests, target.total());
    let run_end = report.started_unix_ms + 9_000;
    let settled: Vec<u32> = report
        .history
        .iter()
        .filter(|r| r.unix_ms > join_ms + 2_500 && r.unix_ms < run_end - 500)
        .map(|r| r.users)
        .collect();
    assert!(
        !settled.is_empty() && settled.iter().all(|&u| u == 4),
        "users per interval after the join: {settled:?}"
    );
    stop.cancel();
}

/// A checkpoint outlives kill -9 of its master; `report --from` rebuilds reports that match it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_outlives_kill_9_of_the_master_and_rebuilds_the_reports() {
    let (stop, target, dir, scenario, _) = ping_run(0.05).await;
    let checkpoint = dir.path().join("checkpoint.json");
    let (mut master, addr) = spawn_master_process(&master_args(
        &scenario,
        0,
        &[
            "--expect-workers",
            "2",
            "--expect-workers-max-wait",
            "30s",
            "-u",
            "4",
            "-r",
            "100",
            "-t",
            "60s",
            "--heartbeat-timeout",
            FAST,
            "--checkpoint",
            path_str(&checkpoint),
            "--checkpoint-interval",
            "1s",
        ],
    ))
    .await;
    let mut workers: Vec<Proc> = (0..2)
        .map(|i| spawn_worker_process(&addr.to_string(), &[], &format!("w{i}")))
        .collect();
    assert!(wait_until(Duration::from_secs(30), || target.total() > 0).await);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let at_kill = target.total();
    master.kill9().await;
    for worker in &mut workers {
        worker.kill9().await;
    }

    let saved = summary(&checkpoint);
    assert!(saved.checkpoint);
    let kept = saved.total.requests;
    assert!(kept > 0, "the checkpoint holds no request");
    assert!(kept <= at_kill, "checkpoint {kept} > target {at_kill}");
    let rate = kept as f64 / saved.run_time_s;
    // Requests since the last merged report (2 s) before the last checkpoint (1 s), plus slack.
    let allowed = (rate * 4.0).ceil() as u64 + 10;
    eprintln!("checkpoint {kept}, target at the kill {at_kill}, allowed gap {allowed}");
    assert!(
        at_kill - kept <= allowed,
        "the checkpoint trails the target by {} requests at {rate:.1}/s",
        at_kill - kept
    );

    let prefix = dir.path().join("rebuilt");
    let rebuilt_json = dir.path().join("rebuilt.json");
    let mut report = Proc::start(
        &lv_tests::bin("lv-master"),
        &[
            "report",
            "--from",
            path_str(&checkpoint),
            "--csv",
            path_str(&prefix),
            "--json",
            path_str(&rebuilt_json),
        ],
        "report",
    );
    assert_eq!(report.exit_code(Duration::from_secs(30)).await, Some(0));
    let stats_csv =
        std::fs::read_to_string(dir.path().join("rebuilt_stats.csv")).expect("rebuilt _stats.csv");
    let aggregated: Vec<&str> = stats_csv
        .lines()
        .find(|l| l.starts_with(",Aggregated,"))
        .expect("Aggregated row")
        .split(',')
        .collect();
    assert_eq!(aggregated[2].parse::<u64>().expect("request count"), kept);
    assert_eq!(aggregated[3], "0");
    let rebuilt = summary(&rebuilt_json);
    assert_eq!(rebuilt.total.requests, kept);
    assert_eq!(rebuilt.endpoints[0].requests, kept);
    assert_eq!(rebuilt.run_id, saved.run_id);
    stop.cancel();
}

/// 10,000+ distinct errors: at most 500 kinds plus "(other errors)", counts add up, memory bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_distinct_errors_stay_capped_and_memory_stays_bounded() {
    fn answer(n: u64) -> String {
        let tail = if n % 2 == 1 {
            "x".repeat(400)
        } else {
            String::new()
        };
        format!(r#"{{"status":"{n:08}-{tail}"}}"#)
    }
    let stop = CancellationToken::new();
    let target = spawn_answering_target(answer, stop.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = write_file(
        dir.path(),
        "errors.toml",
        &format!(
            r#"
[[user]]
name = "Unlucky"
wait = {{ constant = 0 }}
[[user.task]]
[[user.task.step]]
url = "{}"
path = "/e/{{{{ uuid }}}}"
check = [{{ pointer = "/status", equals = "ok" }}]
"#,
            target.url()
        ),
    );
    let json = dir.path().join("summary.json");
    let (mut master, addr) = spawn_master_process(&master_args(
        &scenario,
        0,
        &[
            "--expect-workers",
            "1",
            "--expect-workers-max-wait",
            "30s",
            "-u",
            "16",
            "-r",
            "1000",
            "-t",
            "5s",
            "--json",
            path_str(&json),
        ],
    ))
    .await;
    let mut worker = spawn_worker_process(&addr.to_string(), &[], "worker");
    // Peak resident memory of both processes, sampled until the master exits (bounded).
    let mut peak_kib = (0, 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    while master.running() && tokio::time::Instant::now() < deadline {
        peak_kib.0 = peak_kib.0.max(master.peak_rss_kib().unwrap_or(0));
        peak_kib.1 = peak_kib.1.max(worker.peak_rss_kib().unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let code = master.exit_code(Duration::from_secs(40)).await;
    assert_eq!(worker.exit_code(Duration::from_secs(15)).await, Some(0));
    let report = summary(&json);
    assert_eq!(code, Some(report.exit_code));
    assert_eq!(report.exit_code, 1, "{}", report.verdict);

    let requests = report.total.requests;
    assert!(requests >= 10_000, "only {requests} requests");
    assert_eq!(report.total.failures, requests);
    let seen = target.total();
    assert!(requests <= seen && seen <= requests + report.cut_off);
    assert_eq!(
        target.counts().len() as u64,
        seen,
        "paths were not distinct"
    );
    assert_eq!(report.endpoints.len(), 1);

    // At most 500 named kinds plus one overflow row. (The master's merge lets the overflow
    // row take one of the 500 slots, so 499 or 500 kinds keep their own row.)
    let max = lv_common::stats::MAX_FAILURE_KINDS;
    let overflow = lv_common::stats::OVERFLOW_ERROR;
    let (other, named): (Vec<_>, Vec<_>) =
        report.failures.iter().partition(|f| f.error == overflow);
    assert_eq!(other.len(), 1, "one {overflow:?} row");
    assert!(
        (max - 1..=max).contains(&named.len()),
        "{} named failure rows",
        named.len()
    );
    let named_count: u64 = named.iter().map(|f| f.count).sum();
    assert_eq!(named_count + other[0].count, report.total.failures);
    assert!(other[0].count >= requests - max as u64);
    eprintln!(
        "{requests} requests, {} failure rows, {} under {overflow:?}",
        report.failures.len(),
        other[0].count
    );
    assert!(
        report
            .failures
            .iter()
            .all(|f| f.error.len() <= lv_common::stats::MAX_MESSAGE_LEN)
    );
    assert!(
        report.failures.iter().any(|f| f.error.ends_with('…')),
        "no long message was cut"
    );

    let (master_kib, worker_kib) = peak_kib;
    assert!(master_kib > 0 && worker_kib > 0, "no memory sample");
    eprintln!("peak RSS: master {master_kib} KiB, worker {worker_kib} KiB");
    assert!(master_kib < 200 * 1024, "master peaked at {master_kib} KiB");
    assert!(worker_kib < 200 * 1024, "worker peaked at {worker_kib} KiB");
    stop.cancel();
}

/// Over 1,000 stats names: at most 1,000 rows plus "(other endpoints)", every request counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_stats_names_are_capped_at_a_thousand() {
    let stop = CancellationToken::new();
    let target = spawn_target(&[], stop.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text =
        String::from("[[user]]\nname = \"Crawler\"\nwait = { constant = 0 }\n[[user.task]]\n");
    for i in 0..1_100 {
        text.push_str(&format!(
            "[[user.task.step]]\nurl = \"{}\"\npath = \"/page/{i}\"\nname = \"/page/{i:04}\"\n",
            target.url()
        ));
    }
    let scenario = write_file(dir.path(), "crawl.toml", &text);
    let json = dir.path().join("summary.json");
    let (mut master, addr) = spawn_master_process(&master_args(
        &scenario,
        0,
        &[
            "--expect-workers",
            "1",
            "--expect-workers-max-wait",
            "30s",
            "-u",
            "8",
            "-r",
            "1000",
            "-t",
            "5s",
            "--json",
            path_str(&json),
        ],
    ))
    .await;
    let mut worker = spawn_worker_process(&addr.to_string(), &[], "worker");
    assert_eq!(master.exit_code(Duration::from_secs(40)).await, Some(0));
    assert_eq!(worker.exit_code(Duration::from_secs(15)).await, Some(0));
    let report = summary(&json);
    let seen = target.total();
    assert!(
        target.counts().len() > lv_common::stats::MAX_ENDPOINTS,
        "only {} distinct paths were requested",
        target.counts().len()
    );
    // As for failures, the overflow row may take one of the 1,000 slots at the master.
    let max = lv_common::stats::MAX_ENDPOINTS;
    let (other, named): (Vec<_>, Vec<_>) = report
        .endpoints
        .iter()
        .partition(|e| e.name == lv_common::stats::OVERFLOW_NAME);
    assert_eq!(other.len(), 1);
    assert!(other[0].requests > 0);
    assert!(
        (max - 1..=max).contains(&named.len()),
        "{} named endpoint rows",
        named.len()
    );
    let sum: u64 = report.endpoints.iter().map(|e| e.requests).sum();
    assert_eq!(sum, report.total.requests);
    assert!(report.total.requests <= seen && seen <= report.total.requests + report.cut_off);
    stop.cancel();
}
