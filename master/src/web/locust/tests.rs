use serde_json::Value;

use super::*;
use crate::web::fixtures;

/// A real Locust 2.47.0 master's `GET /stats/requests` while running (recorded by
/// `tests/scripts/locust_record.py`, two of its rows kept).
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
    assert_eq!(ours["current_rps"], 6.0);
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

/// Two reports of one worker: `(method, name)` rows, each with one request.
fn run_with(rows: &[(&str, &str, Option<&str>)]) -> crate::aggregate::RunStats {
    let mut run = fixtures::stats(0);
    let mut report = fixtures::report(1, "unused", lv_common::kind::SloKind::Health, &[]);
    for &(method, name, error) in rows {
        report
            .stats
            .record_request(method, name, None, 1_000, 10, error);
    }
    report.start_unix_ms = 1_700_000_000_250;
    report.end_unix_ms = 1_700_000_002_250;
    run.merge_report("w1", &report);
    let mut later = fixtures::report(2, "unused", lv_common::kind::SloKind::Health, &[]);
    later
        .stats
        .record_request("GET", "/b", None, 1_000, 10, Some("HTTP 500"));
    later.start_unix_ms = 1_700_000_002_250;
    later.end_unix_ms = 1_700_000_004_250;
    run.merge_report("w1", &later);
    run.close_interval(1_700_000_004_250, 1);
    run
}

#[test]
fn rows_are_sorted_by_name_then_method_with_aggregated_last() {
    let config = fixtures::config(&[]);
    let run = run_with(&[
        ("POST", "/b", None),
        ("GET", "/b", None),
        ("POST", "/a", None),
        ("DELETE", "/c", None),
    ]);
    let snapshot = fixtures::snapshot(&config, &run, "run-1", RunState::Running);
    let ours = request_stats(&snapshot);
    let order: Vec<String> = ours["stats"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| format!("{} {}", r["method"].as_str().unwrap_or("?"), r["name"]))
        .collect();
    assert_eq!(
        order,
        [
            "POST \"/a\"",
            "GET \"/b\"",
            "POST \"/b\"",
            "DELETE \"/c\"",
            " \"Aggregated\""
        ]
    );
}

#[test]
fn every_row_has_its_own_current_rates_and_the_top_level_totals_are_the_whole_runs() {
    let config = fixtures::config(&[]);
    let run = fixtures::stats(3);
    let snapshot = fixtures::snapshot(&config, &run, "run-1", RunState::Running);
    let ours = request_stats(&snapshot);
    let rows = ours["stats"].as_array().expect("rows");
    for row in rows {
        let current = snapshot
            .live
            .current
            .iter()
            .find(|c| c.name == row["name"] && c.method == row["method"])
            .expect("a current row per stats row");
        assert_eq!(row["current_rps"], current.rps, "{row}");
        assert_eq!(row["current_fail_per_sec"], current.fail_per_s, "{row}");
    }
    // ATLAS: 10 requests a 2 s interval; HERMES: 2, one failing.
    assert_eq!(rows[0]["current_rps"], 5.0);
    assert_eq!(rows[1]["current_rps"], 1.0);
    assert_eq!(rows[1]["current_fail_per_sec"], 0.5);
    let aggregated = &rows[2];
    assert_eq!(aggregated["name"], "Aggregated");
    assert_eq!(ours["current_rps"], aggregated["current_rps"]);
    assert_eq!(
        ours["current_fail_per_sec"],
        aggregated["current_fail_per_sec"]
    );
    assert_eq!(ours["total_rps"], aggregated["total_rps"]);
    assert_eq!(ours["total_fail_per_sec"], aggregated["total_fail_per_sec"]);
    // The whole run: 36 requests and 3 failures over its 19 s (1 s to 20 s).
    let seconds = snapshot.report.run_time_s;
    assert!(seconds > 0.0);
    assert_eq!(ours["total_rps"], 36.0 / seconds);
    assert_eq!(ours["total_fail_per_sec"], 3.0 / seconds);
}

#[test]
fn errors_carry_first_and_last_seen_as_unix_seconds() {
    let config = fixtures::config(&[]);
    let run = run_with(&[("GET", "/b", Some("HTTP 500")), ("GET", "/a", Some("boom"))]);
    let snapshot = fixtures::snapshot(&config, &run, "run-1", RunState::Running);
    let ours = request_stats(&snapshot);
    let errors = ours["errors"].as_array().expect("errors");
    let find = |name: &str| {
        errors
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no error row for {name}: {errors:?}"))
    };
    // In both reports: first seen at the first's start, last seen at the second's end.
    let b = find("/b");
    assert_eq!(b["occurrences"], 2);
    assert_eq!(b["first_seen"], 1_700_000_000.25);
    assert_eq!(b["last_seen"], 1_700_000_004.25);
    let a = find("/a");
    assert_eq!(a["first_seen"], 1_700_000_000.25);
    assert_eq!(a["last_seen"], 1_700_000_002.25);
}

#[test]
fn an_unknown_time_is_null() {
    assert_eq!(unix_seconds(0), None);
    assert_eq!(unix_seconds(1_500), Some(1.5));
}

#[test]
fn swarm_answers_carry_locusts_fields_and_the_run_time_it_set() {
    let mut started = Started {
        run_id: "r1".into(),
        host: "http://localhost".into(),
        edit: false,
        run_time: Some(std::time::Duration::from_secs(30)),
    };
    let body = swarm_started(&started);
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "Swarming started");
    assert_eq!(body["host"], "http://localhost");
    assert_eq!(body["run_time"], 30);
    assert!(
        body["run_time"].is_u64(),
        "whole seconds as Locust's integer"
    );
    assert_eq!(
        (&body["edit"], &body["run_id"]),
        (&false.into(), &"r1".into())
    );
    started.run_time = Some(std::time::Duration::from_millis(25_500));
    assert_eq!(swarm_started(&started)["run_time"], 25.5);
    started.run_time = None;
    assert!(swarm_started(&started).get("run_time").is_none());
}

#[test]
fn download_names_follow_locusts_pattern_with_safe_characters() {
    let config = fixtures::config(&[]);
    let run = fixtures::stats(1);
    let mut snapshot = fixtures::snapshot(&config, &run, "run-1", RunState::Stopped);
    snapshot.report.started_unix_ms = 1_767_323_096_000; // 2026-01-02 03:04:56 UTC
    snapshot.report.meta.scenarios = vec!["/x/health_checks.toml".into(), "chat.toml".into()];
    snapshot.report.meta.host = "http://127.0.0.1:8080".into();
    assert_eq!(
        download_name(&snapshot, ".html"),
        "lv_2026-01-02-03h04_health_checks.toml+chat.toml_http___127.0.0.1_8080.html"
    );
    snapshot.report.meta.host = String::new();
    snapshot.report.meta.scenarios = vec!["a b;\"c\".toml".into()];
    assert_eq!(
        download_name(&snapshot, "_requests.csv"),
        "lv_2026-01-02-03h04_a_b__c_.toml_requests.csv"
    );
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
