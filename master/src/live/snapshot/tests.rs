use super::*;
use crate::web::fixtures;

#[test]
fn the_snapshot_carries_the_report_and_the_live_view() {
    let config = fixtures::config(&["--slo-level=light"]);
    let run = fixtures::stats(3);
    let snapshot = fixtures::snapshot(&config, &run, "run-1", RunState::Running);
    let live = &snapshot.live;
    assert_eq!(live.state, RunState::Running);
    assert_eq!(live.run_id.as_deref(), Some("run-1"));
    assert_eq!(live.user_count, 4);
    assert_eq!(snapshot.report.total.requests, 36);
    assert_eq!(snapshot.report.total.failures, 3);
    assert!(
        snapshot.report.checkpoint,
        "a running run's report is a checkpoint"
    );
    assert_eq!(snapshot.report.history.len(), 3);
    assert!((live.fail_ratio - 3.0 / 36.0).abs() < 1e-12);
    assert_eq!(live.elapsed_s, 19.0);
    // Three intervals of 2 s, 12 requests each, all in the window.
    let aggregated = live.current.last().expect("Aggregated row");
    assert_eq!(aggregated.name, "Aggregated");
    assert!((aggregated.rps - 6.0).abs() < 1e-9, "{}", aggregated.rps);
    assert!((live.rps - 6.0).abs() < 1e-9);
    assert_eq!(aggregated.max_ms, Some(900.0));
    assert_eq!(live.current.len(), 3);
    let atlas = &live.current[0];
    assert_eq!(atlas.name, "ATLAS /health");
    assert!((atlas.rps - 5.0).abs() < 1e-9);
    assert_eq!(
        atlas.p50_ms, None,
        "no per-endpoint windows without --csv-full-history"
    );
    assert!(
        live.verdict_now.starts_with("failed"),
        "{}",
        live.verdict_now
    );
    assert_eq!(live.exit_code_now, 1);
}

#[test]
fn slo_marks_judge_each_endpoint() {
    let config = fixtures::config(&["--slo-level=light"]);
    let run = fixtures::stats(1);
    let marks = slo_marks(&config, &run);
    assert_eq!(marks.get("GET ATLAS /health"), Some(&true));
    assert_eq!(marks.get("GET HERMES /health"), Some(&false));
    let off = fixtures::config(&["--no-slo"]);
    assert!(slo_marks(&off, &run).is_empty());
}

#[test]
fn an_idle_master_is_ready_with_no_run() {
    let config = fixtures::config(&[]);
    let snapshot = Snapshot::idle(&config, &Catalog::default());
    assert_eq!(snapshot.live.state, RunState::Ready);
    assert_eq!(snapshot.live.run_id, None);
    assert_eq!(snapshot.report.total.requests, 0);
    assert_eq!(snapshot.live.current.len(), 1);
    assert_eq!(snapshot.live.current[0].p50_ms, None);
    let text = serde_json::to_value(&snapshot.live).expect("json");
    assert_eq!(text["state"], "ready");
}

#[test]
fn run_states_use_locusts_words_and_gauge_values() {
    let states = [
        RunState::Ready,
        RunState::Spawning,
        RunState::Running,
        RunState::Stopping,
        RunState::Stopped,
    ];
    let words: Vec<&str> = states.iter().map(|s| s.label()).collect();
    assert_eq!(
        words,
        ["ready", "spawning", "running", "stopping", "stopped"]
    );
    let gauges: Vec<i64> = states.iter().map(|s| s.gauge()).collect();
    assert_eq!(gauges, [0, 1, 2, 3, 4]);
    assert!(RunState::Spawning.is_active() && RunState::Running.is_active());
    assert!(!RunState::Stopping.is_active() && !RunState::Stopped.is_active());
}

/// A worker in the report and in the live view: the shared fields first, in the same order
/// and under the same keys as each view's own fields, and read back the same.
#[test]
fn worker_views_keep_their_json_keys() {
    let core = WorkerCore {
        id: "w1".into(),
        hostname: "h".into(),
        state: "lost".into(),
        users: 0,
        requests: 7,
        failures: 1,
    };
    let summary = crate::report::summary::WorkerSummary {
        core: core.clone(),
        lost_unix_ms: Some(5_000),
        unreported_s: Some(1.5),
        resources: None,
    };
    let text = serde_json::to_string(&summary).expect("report worker");
    assert_eq!(
        text,
        r#"{"id":"w1","hostname":"h","state":"lost","users":0,"requests":7,"failures":1,"lost_unix_ms":5000,"unreported_s":1.5}"#
    );
    let back: crate::report::summary::WorkerSummary =
        serde_json::from_str(&text).expect("read back");
    assert_eq!(back.core, core);
    let live = WorkerLive {
        core,
        heartbeat_age_s: 0.5,
        report_lag_s: None,
        resources: None,
    };
    assert_eq!(
        serde_json::to_string(&live).expect("live worker"),
        r#"{"id":"w1","hostname":"h","state":"lost","users":0,"requests":7,"failures":1,"heartbeat_age_s":0.5,"report_lag_s":null}"#
    );
}
