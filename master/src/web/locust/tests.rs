use serde_json::Value;

use super::*;
use crate::web::fixtures;

/// Field names of Locust 2.x's `GET /stats/requests` (`web.py` `request_stats`), as its
/// documented output shows them.
const FIXTURE: &str = include_str!("fixture.json");

fn keys(value: &Value) -> Vec<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn assert_has_keys(ours: &Value, theirs: &Value, at: &str) {
    for key in keys(theirs) {
        assert!(
            ours.get(&key).is_some(),
            "{at}: Locust's field {key:?} is missing"
        );
    }
}

#[test]
fn request_stats_has_every_locust_field() {
    let locust: Value = serde_json::from_str(FIXTURE).expect("fixture");
    let config = fixtures::config(&[]);
    let run = fixtures::stats(2);
    let mut snapshot = fixtures::snapshot(&config, &run, "run-1", RunState::Running);
    snapshot
        .live
        .workers
        .push(crate::live::snapshot::WorkerLive {
            core: crate::report::summary::WorkerCore {
                id: "w1".into(),
                hostname: "h".into(),
                state: "active".into(),
                users: 2,
                requests: 24,
                failures: 2,
            },
            heartbeat_age_s: 0.5,
            report_lag_s: Some(1.0),
            resources: None,
        });
    let ours = request_stats(&snapshot);
    assert_has_keys(&ours, &locust, "top level");
    assert_has_keys(&ours["stats"][0], &locust["stats"][0], "stats row");
    assert_has_keys(&ours["errors"][0], &locust["errors"][0], "errors row");
    assert_has_keys(&ours["workers"][0], &locust["workers"][0], "workers row");
    assert_has_keys(
        &ours["current_response_time_percentiles"],
        &locust["current_response_time_percentiles"],
        "current_response_time_percentiles",
    );
}

#[test]
fn request_stats_numbers_come_from_the_run() {
    let config = fixtures::config(&[]);
    let run = fixtures::stats(2);
    let snapshot = fixtures::snapshot(&config, &run, "run-1", RunState::Running);
    let ours = request_stats(&snapshot);
    let stats = ours["stats"].as_array().expect("rows");
    assert_eq!(stats.len(), 3);
    let last = &stats[2];
    assert_eq!(last["name"], "Aggregated");
    assert_eq!(last["num_requests"], 24);
    assert_eq!(last["num_failures"], 2);
    assert_eq!(stats[0]["name"], "ATLAS /health");
    assert_eq!(stats[0]["num_requests"], 20);
    assert_eq!(stats[0]["current_rps"], 5.0);
    assert_eq!(ours["errors"][0]["occurrences"], 2);
    assert_eq!(ours["errors"][0]["error"], "HTTP 500");
    assert_eq!(ours["state"], "running");
    assert_eq!(ours["total_rps"], 6.0);
    assert_eq!(
        ours["current_response_time_percentiles"]["response_time_percentile_0.5"],
        2.0
    );
}

#[test]
fn tasks_give_class_and_task_ratios() {
    let config = fixtures::config(&[]);
    let tasks = tasks(&config.plan);
    let per_class = tasks["per_class"].as_object().expect("classes");
    assert_eq!(per_class.len(), config.plan.classes.len());
    let sum: f64 = per_class
        .values()
        .map(|c| c["ratio"].as_f64().unwrap_or(0.0))
        .sum();
    assert!((sum - 1.0).abs() < 1e-9, "{sum}");
    for class in per_class.values() {
        let tasks = class["tasks"].as_object().expect("tasks");
        let sum: f64 = tasks
            .values()
            .map(|t| t["ratio"].as_f64().unwrap_or(0.0))
            .sum();
        assert!((sum - 1.0).abs() < 1e-9, "{sum}");
    }
}

#[test]
fn exceptions_use_locusts_shape() {
    let config = fixtures::config(&[]);
    let mut run = fixtures::stats(1);
    let mut report = fixtures::report(9, "ATLAS /health", lv_common::kind::SloKind::Health, &[]);
    report.stats.record_exception("template failed");
    run.merge_report("w1", &report);
    let snapshot = fixtures::snapshot(&config, &run, "run-1", RunState::Running);
    let value = exceptions(&snapshot);
    assert_eq!(value["exceptions"][0]["msg"], "template failed");
    assert_eq!(value["exceptions"][0]["count"], 1);
    assert_eq!(value["exceptions"][0]["nodes"], "w1");
}

/// A worker's row carries its latest CPU percent and resident bytes from its heartbeats,
/// and 0 for a worker that sent none.
#[test]
fn worker_rows_carry_the_latest_cpu_and_memory() {
    use crate::report::summary::resources::{Gauge, WorkerResources};

    let config = fixtures::config(&[]);
    let run = fixtures::stats(1);
    let mut snapshot = fixtures::snapshot(&config, &run, "run-1", RunState::Running);
    let worker = |id: &str, resources| crate::live::snapshot::WorkerLive {
        core: crate::report::summary::WorkerCore {
            id: id.into(),
            hostname: "h".into(),
            state: "active".into(),
            users: 1,
            requests: 0,
            failures: 0,
        },
        heartbeat_age_s: 0.5,
        report_lag_s: None,
        resources,
    };
    let gauge = |last| Gauge {
        last,
        peak: last * 2.0,
        mean: last,
    };
    let load = WorkerResources {
        samples: 3,
        cpu_percent: Some(gauge(87.5)),
        memory_bytes: Some(gauge(12_345_678.0)),
        ..WorkerResources::default()
    };
    snapshot.live.workers = vec![worker("w1", Some(load)), worker("w2", None)];
    let ours = request_stats(&snapshot);
    assert_eq!(ours["workers"][0]["cpu_usage"], 87.5);
    assert_eq!(ours["workers"][0]["memory_usage"], 12_345_678);
    assert_eq!(ours["workers"][1]["cpu_usage"], 0.0);
    assert_eq!(ours["workers"][1]["memory_usage"], 0);
}
