//! Abort rules in run control, on paused time with a fake worker: a rule that fails for its
//! grace stops the run at the first judgment after it (about once a second), the run ends as
//! after a Stop (final reports in), and its result names the rule; a rule that passes never
//! stops it; `--abort-on-slo` makes the table's own targets stop it without a grace.

use std::path::Path;

use lv_common::kind::SloKind;

use super::Phase;
use super::testing::{BASE_MS, TestCluster, ms, test_config};
use crate::config::{MasterConfig, SloSetup};
use crate::report::conclude::{EXIT_FAILED, RunView, summarize};
use crate::slo::SloTable;

const TABLE: &str = "max_failure_ratio = 0.01\np95_over_avg = 2.0\np99_over_avg = 5.0\n\
    ratio_floor_ms = 10.0\nratio_min_requests = 50\n[avg_ms.health]\nlight = 50\n";

/// A started cluster of one worker whose SLO table is [`TABLE`] plus `rules`, at level
/// light, for at most five minutes.
async fn cluster(rules: &str, abort_on_slo: bool) -> TestCluster {
    let mut config = test_config(4, &[("A", 1)]);
    config.run_time = Some(ms(300_000));
    start(config, rules, abort_on_slo).await
}

/// A started cluster of one worker running `config` with [`TABLE`] plus `rules`.
async fn start(mut config: MasterConfig, rules: &str, abort_on_slo: bool) -> TestCluster {
    let table = SloTable::parse(&format!("{TABLE}{rules}"), Path::new("slo.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    config.slo = Some(SloSetup {
        table,
        level: "light".into(),
        asked: "light".into(),
        abort_on_slo,
    });
    let mut c = TestCluster::new(config);
    c.attach("w1");
    c.advance(ms(0)).await;
    assert!(matches!(c.coord.phase, Phase::Running { .. }));
    c
}

/// The rule: failure ratio under 1%, abort after 3 s, against a fleet failing half
/// its requests.
#[tokio::test(start_paused = true)]
async fn a_failing_rule_stops_the_run_after_its_grace_and_names_itself() {
    let rule = "[[rules]]\nmax_failure_ratio = 0.01\nabort = true\nafter = \"3s\"\n";
    let mut c = cluster(rule, false).await;
    // The run starts at the first tick (0 s) and its rules are judged from the next one
    // on, once a second: at 0.1, 1.1 and 2.1 s. The first report comes at 2 s.
    c.advance_to(ms(2_000)).await;
    c.report_outcomes("w1", 1, (10, 10), None, false);
    // Failing from the judgment at 2.1 s: 3 s later, at 5.1 s, the rule stops the run.
    c.advance_to(ms(5_000)).await;
    c.report_outcomes("w1", 2, (10, 10), None, false);
    assert_eq!(c.stops("w1"), 0, "2.9 s of a 3 s grace");
    c.advance_to(ms(5_100)).await;
    assert_eq!(c.stops("w1"), 1);
    assert!(matches!(c.coord.phase, Phase::Stopping { .. }));
    // The run ends as after any Stop: once the final report is in.
    c.report_outcomes("w1", 3, (5, 5), None, true);
    c.advance_to(ms(5_200)).await;
    assert!(c.is_done());
    let config = std::sync::Arc::clone(&c.coord.config);
    let result = c.finish().result;
    assert_eq!(
        result.aborted, None,
        "not a run that could not be carried out"
    );
    let stop = result.stopped_by.expect("an abort rule stopped the run");
    assert_eq!(
        (stop.rule.as_str(), stop.metric.as_str()),
        ("rules[1]", "failure_ratio")
    );
    assert_eq!((stop.at_s, stop.failing_s, stop.after_s), (5.1, 3.0, 3.0));
    assert!((stop.measured - 0.5).abs() < 1e-9);
    assert_eq!(
        result.stats.totals.request_count(),
        50,
        "the final report is merged"
    );
    // Exit code 1, with a verdict naming the rule and why.
    let (code, summary) = summarize(
        &config,
        &RunView {
            run_id: &result.run_id,
            stats: &result.stats,
            workers: &result.workers,
            started_unix_ms: result.started_unix_ms,
            ended_unix_ms: result.ended_unix_ms,
            aborted: None,
            stopped_by: Some(&stop),
            failed: None,
            below_target: &[],
            outages: &[],
            checkpoint: false,
        },
    );
    assert_eq!(code, EXIT_FAILED);
    assert_eq!(result.ended_unix_ms, BASE_MS + 5_200);
    assert!(
        summary
            .verdict
            .starts_with("failed: abort rule rules[1] stopped the run at 5.1 s: "),
        "{}",
        summary.verdict
    );
    assert!(summary.verdict.contains("50.00%"), "{}", summary.verdict);
    assert_eq!(summary.aborted.as_ref(), Some(&stop));
}

/// A rule that passes, or fails only for less than its grace, never stops the run.
#[tokio::test(start_paused = true)]
async fn a_rule_that_recovers_within_its_grace_does_not_stop_the_run() {
    let rule = "[[rules]]\nmax_failure_ratio = 0.1\nabort = true\nafter = \"3s\"\n";
    let mut c = cluster(rule, false).await;
    c.advance_to(ms(2_000)).await;
    c.report_outcomes("w1", 1, (1, 1), None, false);
    // Failing at 2.1, 3.1 and 4.1 s; 98 successes bring the ratio to 1% by 5.1 s.
    c.advance_to(ms(4_500)).await;
    c.report_outcomes("w1", 2, (98, 0), None, false);
    c.advance_to(ms(6_500)).await;
    c.report_outcomes("w1", 3, (100, 0), None, false);
    c.advance_to(ms(30_000)).await;
    assert_eq!(c.stops("w1"), 0);
    assert!(c.coord.ledger.stopped_by().is_none());
    assert!(matches!(c.coord.phase, Phase::Running { .. }));
}

/// `--abort-on-slo`: the table's own failure ratio stops the run at the first judgment
/// that sees it fail, since it has no grace.
#[tokio::test(start_paused = true)]
async fn abort_on_slo_makes_the_tables_targets_stop_the_run() {
    let mut c = cluster("", true).await;
    c.advance_to(ms(2_000)).await;
    c.report_outcomes("w1", 1, (10, 10), Some(SloKind::Health), false);
    assert_eq!(c.stops("w1"), 0);
    c.advance_to(ms(2_100)).await;
    assert_eq!(c.stops("w1"), 1, "stopped at the next judgment");
    let stop = c.coord.ledger.stopped_by().expect("stopped").clone();
    assert_eq!(stop.rule, "max_failure_ratio");
    assert_eq!(
        (stop.kind, stop.failing_s, stop.at_s),
        (Some(SloKind::Health), 0.0, 2.1)
    );
    // Without the flag the same table only judges at the end.
    let mut c = cluster("", false).await;
    c.advance_to(ms(2_000)).await;
    c.report_outcomes("w1", 1, (10, 10), Some(SloKind::Health), false);
    c.advance_to(ms(10_000)).await;
    assert_eq!(c.stops("w1"), 0);
}

/// A stage rule stops the run only on its stage's requests, and only while that stage runs:
/// failures in the stage before it do not count, and it stops the run once its own stage
/// fails.
#[tokio::test(start_paused = true)]
async fn a_stage_rule_aborts_only_on_its_stage() {
    use lv_common::load::{ArrivalKind, LoadShape, Model, OnSaturation, Stage};
    let stage = |name: &str, seconds: u64| Stage {
        name: name.to_owned(),
        duration: std::time::Duration::from_secs(seconds),
        to: 4.0,
    };
    let shape = LoadShape {
        model: Model::Closed,
        start: 0.0,
        stages: vec![stage("warm", 5), stage("peak", 60)],
        arrivals: ArrivalKind::Uniform,
        seed: None,
        max_in_flight: None,
        on_saturation: OnSaturation::Drop,
    };
    let mut config = test_config(4, &[("A", 1)]);
    config.run_time = Some(shape.duration());
    config.shape = Some(shape);
    let rule = "[[rules]]\nstage = \"peak\"\nmax_failure_ratio = 0.01\nabort = true\n";
    let mut c = start(config, rule, false).await;
    // Warm fails every request: not the rule's stage.
    c.advance_to(ms(2_000)).await;
    c.report_in_stage("w1", 1, 1, (0, 20));
    c.advance_to(ms(4_000)).await;
    c.report_in_stage("w1", 2, 1, (0, 20));
    // Peak from 5 s: its own requests pass, though the run's failure ratio is far above 1%.
    c.advance_to(ms(6_000)).await;
    c.report_in_stage("w1", 3, 2, (100, 0));
    c.advance_to(ms(9_000)).await;
    assert_eq!(c.stops("w1"), 0, "peak passes; warm's failures are not its");
    // Peak's own failures stop the run at the next judgment (9.1 s), without a grace.
    c.report_in_stage("w1", 4, 2, (0, 5));
    c.advance_to(ms(9_100)).await;
    assert_eq!(c.stops("w1"), 1);
    let stop = c.coord.ledger.stopped_by().expect("stopped").clone();
    assert_eq!(
        (stop.rule.as_str(), stop.stage.as_deref()),
        ("rules[1]", Some("peak"))
    );
    assert!((stop.measured - 5.0 / 105.0).abs() < 1e-9, "{stop:?}");
}
