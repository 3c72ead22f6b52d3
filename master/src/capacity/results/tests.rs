use std::time::Duration;

use lv_common::load::Model;

use super::*;
use crate::slo::Status;

fn setup() -> SearchSetup {
    SearchSetup {
        search: SearchParams {
            start: 10.0,
            factor: 1.5,
            precision: 0.1,
            max: 250.0,
            whole: false,
        },
        steps: StepSettings {
            model: Model::Open,
            settle: Duration::from_secs(5),
            hold: Duration::from_secs(30),
            confirm: Duration::from_secs(60),
            max_in_flight: None,
            max_lag_ms: 10.0,
        },
        unit: "arrivals/s".into(),
        classes: vec!["AriaChatUser".into()],
        tags: Vec::new(),
        slo_level: "light".into(),
        require: None,
    }
}

fn step(index: u32, load: f64, p95: f64, outcome: Outcome) -> StepRecord {
    let rule = (outcome == Outcome::Fail).then(|| Verdict {
        kind: None,
        stage: Some("hold".into()),
        metric: "p95_ms".into(),
        target: "< 200 ms".into(),
        measured: p95,
        endpoint: "POST ATLAS /v1/chat [new]".into(),
        status: Status::Fail,
    });
    StepRecord {
        index,
        load,
        confirm: false,
        achieved_rate: Some(load),
        requests: 100,
        rps: load,
        p50_ms: 100.0,
        p95_ms: p95,
        p99_ms: p95 * 1.2,
        failure_ratio: 0.0,
        outcome,
        rule,
        note: None,
        stopped_early: false,
        interrupted: false,
        run_id: format!("run-{index}"),
    }
}

fn report() -> CapacityReport {
    let mut confirm = step(4, 60.0, 110.0, Outcome::Pass);
    confirm.confirm = true;
    let steps = vec![
        step(1, 40.0, 100.0, Outcome::Pass),
        step(2, 60.0, 105.0, Outcome::Pass),
        step(3, 90.0, 900.0, Outcome::Fail),
        confirm,
    ];
    let result = Conclusion::Capacity {
        load: 60.0,
        confirmed: true,
        failed_at: 90.0,
    };
    CapacityReport::new(setup(), steps, Some(result), 1_700_000_000_000)
}

#[test]
fn the_answer_names_the_capacity_and_the_rule_that_failed_above_it() {
    let report = report();
    assert_eq!(
        report.summary,
        "capacity: 60 arrivals/s of AriaChatUser (p95 limit, POST ATLAS /v1/chat [new]), confirmed"
    );
    assert_eq!(report.capacity(), 60.0);
    let console = report.console();
    assert!(console.contains("load (arrivals/s)"), "{console}");
    assert!(console.contains("60 (confirm)"), "{console}");
    assert!(
        console.contains("p95_ms 900 (< 200 ms) POST ATLAS"),
        "{console}"
    );
}

#[test]
fn json_csv_and_the_benchmark_row_carry_every_step() {
    let report = report();
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("json");
    let capacity = &json["capacity"];
    assert_eq!(capacity["steps"].as_array().map(Vec::len), Some(4));
    assert_eq!(capacity["result"]["kind"], "capacity");
    assert_eq!(capacity["result"]["load"], 60.0);
    assert_eq!(capacity["params"]["search"]["factor"], 1.5);
    assert_eq!(capacity["params"]["steps"]["hold"], 30.0);
    assert_eq!(capacity["steps"][2]["outcome"], "fail");
    assert_eq!(capacity["limit"]["metric"], "p95_ms");
    let csv = report.to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5);
    assert!(lines[0].starts_with("step,load,confirm,achieved_rate"));
    assert!(
        lines[3].starts_with("3,90,false,90.000,100,"),
        "{}",
        lines[3]
    );
    assert!(lines[3].contains(",fail,p95_ms 900"), "{}", lines[3]);
    let row = report.benchmark_row();
    assert!(
        row.starts_with("| 2023-11-14 22:13 | capacity AriaChatUser | 60 | 100 |"),
        "{row}"
    );
    assert!(row.ends_with("| run-4 |"), "{row}");
}

#[test]
fn other_answers_say_what_they_vouch_for() {
    let line = |result| CapacityReport::new(setup(), Vec::new(), result, 0).summary;
    assert!(
        line(Some(Conclusion::GeneratorLimited {
            at_least: 33.75,
            at: 50.625
        }))
        .starts_with(
            "capacity: generator-limited, at least 33.8 arrivals/s of AriaChatUser; add workers"
        )
    );
    assert_eq!(
        line(Some(Conclusion::GeneratorLimited {
            at_least: 0.0,
            at: 10.0
        })),
        "capacity: not measured: lv's workers could not deliver the first step, 10 arrivals/s of AriaChatUser; add workers (generator-limited)"
    );
    assert!(
        line(Some(Conclusion::AtLeastMax { load: 250.0 })).starts_with("capacity: at least 250 ")
    );
    assert!(line(Some(Conclusion::BelowStart { start: 10.0 })).starts_with("capacity: below 10 "));
    assert!(line(None).contains("interrupted after 0 steps"));
}
