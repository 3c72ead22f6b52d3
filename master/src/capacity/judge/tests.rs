use std::path::Path;

use lv_common::kind::SloKind;
use lv_common::load::OpenStats;
use lv_common::stats::StatsSet;

use super::*;
use crate::report::summary::{LAG_LIMIT_MS, OpenSummary, stats_rows};
use crate::slo::SloTable;

/// A chat p95 limit of 200 ms in the hold, averages of 5 s, failures below 1%.
const TABLE: &str = r#"
max_failure_ratio = 0.01
p95_over_avg = 2.0
p99_over_avg = 5.0
ratio_floor_ms = 10.0
ratio_min_requests = 50
[avg_ms.chat]
light = 5000
[[rules]]
stage = "hold"
kind = "chat"
p95_ms = 200
"#;

const LAG: f64 = LAG_LIMIT_MS;

fn slo() -> SloSetup {
    SloSetup {
        table: SloTable::parse(TABLE, Path::new("slo.toml")).expect("valid table"),
        level: "light".into(),
        asked: "light".into(),
        abort_on_slo: false,
    }
}

/// A hold stage of `n` chat requests taking `ms` each, `failed` of them failed.
fn hold(n: u64, ms: u64, failed: u64) -> StageSummary {
    let mut stats = StatsSet::default();
    for i in 0..n {
        let error = (i < failed).then_some("HTTP 503");
        stats.record_request(
            "POST",
            "/v1/chat",
            Some(SloKind::Chat),
            ms * 1000,
            10,
            error,
        );
    }
    let (total, endpoints, failures, _) = stats_rows(&stats, 2.0);
    StageSummary {
        index: 2,
        name: HOLD.into(),
        start_s: 1.0,
        duration_s: 2.0,
        ran_s: 2.0,
        target_unit: "arrivals/s".into(),
        target_from: 50.0,
        target_to: 50.0,
        total,
        endpoints,
        failures,
        cut_off: 0,
        open: None,
        generator_warnings: Vec::new(),
    }
}

fn with_dropped(mut stage: StageSummary, dropped: u64) -> StageSummary {
    let mut open = OpenStats::default();
    open.counts.scheduled = 100;
    open.counts.started = 100 - dropped;
    open.counts.dropped = dropped;
    stage.open = Some(OpenSummary::from_parts(&open, 100, 2.0, 2.0));
    stage
}

#[test]
fn a_step_within_every_rule_passes() {
    assert_eq!(
        judge(&slo(), &hold(100, 100, 0), LAG),
        Ok(StepVerdict::Pass)
    );
    assert_eq!(
        judge(&slo(), &with_dropped(hold(100, 100, 0), 0), LAG),
        Ok(StepVerdict::Pass)
    );
}

#[test]
fn the_first_failing_rule_is_named_with_its_figures() {
    let Ok(StepVerdict::Fail(rule)) = judge(&slo(), &hold(100, 300, 0), LAG) else {
        panic!("fails");
    };
    assert_eq!(rule.metric, "p95_ms");
    assert_eq!(rule.stage.as_deref(), Some("hold"));
    assert_eq!(rule.endpoint, "POST /v1/chat");
    assert!((rule.measured - 300.0).abs() < 1.0, "{}", rule.measured);
    assert_eq!(rule.target, "< 200 ms");
    let Ok(StepVerdict::Fail(rule)) = judge(&slo(), &hold(100, 100, 5), LAG) else {
        panic!("fails");
    };
    assert_eq!(rule.metric, "failure_ratio");
    assert!((rule.measured - 0.05).abs() < 1e-9);
    let Ok(StepVerdict::Fail(rule)) = judge(&slo(), &hold(0, 100, 0), LAG) else {
        panic!("an empty hold fails");
    };
    assert_eq!(rule.metric, "requests");
}

#[test]
fn dropped_arrivals_make_the_step_generator_limited() {
    // Even a step that would fail: its figures say nothing about the target.
    let stage = with_dropped(hold(100, 300, 0), 7);
    let why = generator_limited(&stage, LAG).expect("limited");
    assert!(why.contains("7 arrivals dropped"), "{why}");
    assert_eq!(
        judge(&slo(), &stage, LAG),
        Ok(StepVerdict::GeneratorLimited(why))
    );
    assert_eq!(
        StepVerdict::GeneratorLimited(String::new()).outcome(),
        Outcome::GeneratorLimited
    );
    assert_eq!(
        generator_limited(&hold(10, 1, 0), LAG),
        None,
        "closed model"
    );
}

#[test]
fn plainly_failing_needs_samples_and_ten_times_a_limit() {
    let slo = slo();
    assert_eq!(plainly_failing(&slo, &hold(100, 1_500, 0)), None, "7.5x");
    let why = plainly_failing(&slo, &hold(100, 2_500, 0)).expect("12.5x the p95 limit");
    assert!(why.contains("p99 2500 ms"), "{why}");
    assert_eq!(plainly_failing(&slo, &hold(49, 5_000, 0)), None, "too few");
    assert_eq!(
        plainly_failing(&slo, &hold(100, 10, 10)),
        None,
        "10% is 10x"
    );
    let why = plainly_failing(&slo, &hold(100, 10, 11)).expect("11%");
    assert!(why.contains("failure ratio 11.0%"), "{why}");
    assert_eq!(latency_limits(&slo, Some(SloKind::Chat)), [5000.0, 200.0]);
    assert!(latency_limits(&slo, Some(SloKind::Event)).is_empty());
}

/// A worker overloaded during the hold (the report's generator warning for its window)
/// makes the step generator-limited, whatever the target did; a schedule-lag warning is
/// left to the search's own lag bound.
#[test]
fn a_worker_overloaded_in_the_hold_limits_the_step() {
    use crate::report::summary::GeneratorWarning;

    let mut stage = hold(100, 50, 0);
    stage.generator_warnings.push(GeneratorWarning::run_wide(
        GeneratorCause::ScheduleLag,
        "schedule lag p99 12 ms".into(),
    ));
    assert_eq!(judge(&slo(), &stage, 50.0), Ok(StepVerdict::Pass));
    stage.generator_warnings.push(GeneratorWarning {
        worker_id: Some("w1".into()),
        from_unix_ms: Some(1_000),
        to_unix_ms: Some(7_000),
        ..GeneratorWarning::run_wide(
            GeneratorCause::WorkerCpu,
            "worker w1 above 90% CPU for 6 s (peak 99%)".into(),
        )
    });
    match judge(&slo(), &stage, 50.0) {
        Ok(StepVerdict::GeneratorLimited(why)) => assert!(why.contains("worker w1"), "{why}"),
        other => panic!("not generator-limited: {other:?}"),
    }
}
