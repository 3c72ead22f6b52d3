//! Closed-model stages with real processes: a master and two workers follow a 4-stage
//! shape against a counting target; every report is tagged with a stage, every stage
//! gets reports from every worker, and the totals add up.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lv_master::report::summary::read_json;
use lv_tests::harness::{Proc, master_args, ping_run, spawn_master_process, spawn_worker_process};

/// One `report merged` line of the master's debug log.
#[derive(Debug)]
struct Merged {
    worker: String,
    stage: u32,
    end_ms: i64,
    requests: u64,
}

/// The value of `key=` in a log line, without quotes.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pattern = format!("{key}=");
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(&pattern))
        .map(|v| v.trim_matches('"'))
}

fn merged(log: &str) -> Vec<Merged> {
    log.lines()
        .filter(|l| l.contains("report merged"))
        .map(|l| {
            let number = |key: &str| -> i64 {
                field(l, key)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("no {key} in {l:?}"))
            };
            Merged {
                worker: field(l, "worker_id").unwrap_or_default().to_owned(),
                stage: u32::try_from(number("stage")).unwrap_or(u32::MAX),
                end_ms: number("end_unix_ms"),
                requests: u64::try_from(number("requests")).unwrap_or(u64::MAX),
            }
        })
        .collect()
}

/// 0→4 users over 1 s, hold 2 s, 4→8 over 1 s, hold 2 s, on 2 workers: the run lasts the
/// shape, reports the peak of 8 users, counts what the target counted, and each worker's
/// reports carry stages 1 to 4, the boundaries closing their intervals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_shape_runs_its_stages_and_tags_every_report() {
    let (stop, target, dir, scenario, json) = ping_run(0.1).await;
    let shape = lv_tests::write_file(
        dir.path(),
        "steps.toml",
        "[load]\nmodel = \"closed\"\nstages = [\n  { name = \"up\", duration = \"1s\", to = 4 },\n  { name = \"four\", duration = \"2s\", to = 4 },\n  { name = \"up2\", duration = \"1s\", to = 8 },\n  { name = \"eight\", duration = \"2s\", to = 8 },\n]\n",
    );
    let (mut master, addr) = spawn_master_process(&master_args(
        &scenario,
        0,
        &[
            "--expect-workers",
            "2",
            "--expect-workers-max-wait",
            "20s",
            "--shape",
            shape.to_str().expect("utf-8 path"),
            "--no-slo",
            "--loglevel",
            "info,lv_master::run::coordinator=debug",
            "--json",
            json.to_str().expect("utf-8 path"),
        ],
    ))
    .await;
    let addr = addr.to_string();
    let mut workers: Vec<Proc> = (0..2)
        .map(|i| spawn_worker_process(&addr, &[], &format!("w{i}")))
        .collect();
    assert_eq!(master.exit_code(Duration::from_secs(30)).await, Some(0));
    for worker in &mut workers {
        assert_eq!(worker.exit_code(Duration::from_secs(15)).await, Some(0));
    }
    let summary = read_json(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.users, 8, "the shape's peak");
    assert_eq!(summary.total.requests, target.total(), "the target's count");
    assert!(summary.total.requests > 0);
    assert!(summary.history.iter().all(|row| row.users <= 8));

    let log = master.stderr.text();
    let start_ms: i64 = log
        .lines()
        .find(|l| l.contains("load shape"))
        .and_then(|l| field(l, "start_unix_ms"))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no load shape line in the master's log:\n{log}"));
    let reports = merged(&log);
    assert_eq!(
        reports.iter().map(|r| r.requests).sum::<u64>(),
        summary.total.requests,
        "every report was logged once: {reports:?}"
    );
    let mut stages: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
    let mut per_stage = [0u64; 5];
    for report in &reports {
        assert!((1..=4).contains(&report.stage), "{report:?}");
        stages
            .entry(report.worker.as_str())
            .or_default()
            .insert(report.stage);
        per_stage[report.stage as usize] += report.requests;
    }
    assert_eq!(stages.len(), 2, "{reports:?}");
    for (worker, seen) in &stages {
        assert_eq!(
            seen.iter().copied().collect::<Vec<_>>(),
            [1, 2, 3, 4],
            "{worker}: {reports:?}"
        );
    }
    // Each boundary closes an interval: every worker has a report ending at it (a flush
    // is stamped no earlier than its boundary; 500 ms covers a slow machine's jitter,
    // while the 2 s periodic reports alone would end about 1 s away from the first two).
    for boundary in [1_000, 3_000, 4_000].map(|ms| start_ms + ms) {
        for worker in stages.keys() {
            let own: Vec<&Merged> = reports.iter().filter(|r| r.worker == *worker).collect();
            assert!(
                own.iter()
                    .any(|r| (boundary..boundary + 500).contains(&r.end_ms)),
                "{worker}: no interval closed at {boundary}: {own:?}"
            );
        }
    }
    // 8 users for 2 s send more than 4 users for 2 s (each waits 100 ms between requests).
    assert!(per_stage[4] > per_stage[2], "{per_stage:?}");
    assert!(per_stage[2] > 0, "{per_stage:?}");
    stop.cancel();
}
