//! Tests of SLO evaluation against the shipped table.

use std::path::Path;

use super::*;

fn table() -> SloTable {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/slo.toml"));
    SloTable::load(path).expect("the shipped slo.toml loads")
}

fn record(stats: &mut StatsSet, name: &str, kind: SloKind, ms: &[f64], failures: usize) {
    for (i, value) in ms.iter().enumerate() {
        let error = (i < failures).then_some("HTTP 500");
        stats.record_request("GET", name, Some(kind), (value * 1000.0) as u64, 10, error);
    }
}

fn verdict<'a>(verdicts: &'a [Verdict], kind: SloKind, metric: &str) -> &'a Verdict {
    verdicts
        .iter()
        .find(|v| v.kind == Some(kind) && v.metric == metric)
        .expect("verdict present")
}

#[test]
fn shipped_table_has_the_old_suites_targets() {
    let t = table();
    assert_eq!(t.avg_ms[&SloKind::Health]["light"], 50.0);
    assert_eq!(t.avg_ms[&SloKind::Event]["medium"], 200.0);
    assert_eq!(t.avg_ms[&SloKind::Chat]["heavy"], 30000.0);
    assert_eq!(t.avg_ms[&SloKind::Creative]["light"], 30000.0);
    assert_eq!(
        t.resolve_level("stress", Path::new("slo.toml"))
            .expect("alias"),
        "heavy"
    );
    let err = t
        .resolve_level("extreme", Path::new("slo.toml"))
        .expect_err("unknown");
    assert!(
        err.to_string().contains("light") && err.to_string().contains("stress"),
        "{err}"
    );
}

#[test]
fn one_slow_endpoint_fails_its_kind() {
    let mut stats = StatsSet::default();
    for agent in ["A", "B", "C", "D"] {
        record(
            &mut stats,
            &format!("{agent} /health"),
            SloKind::Health,
            &[2.0; 50],
            0,
        );
    }
    // Slow: 80 ms on average, over the light target of 50 ms, while the kind's overall
    // average (about 17 ms) would pass.
    record(&mut stats, "SLOW /health", SloKind::Health, &[80.0; 50], 0);
    let verdicts = evaluate(&table(), "light", &stats);
    let avg = verdict(&verdicts, SloKind::Health, "avg_ms");
    assert_eq!(avg.status, Status::Fail);
    assert_eq!(avg.endpoint, "GET SLOW /health");
    assert!((avg.measured - 80.0).abs() < 0.01);
    assert_eq!(avg.target, "< 50 ms");
    assert!(!all_pass(&verdicts));
    // The same run at the medium level (100 ms) passes.
    assert!(all_pass(&evaluate(&table(), "medium", &stats)));
}

#[test]
fn unexercised_kinds_are_not_passed() {
    let mut stats = StatsSet::default();
    record(&mut stats, "A /health", SloKind::Health, &[1.0; 10], 0);
    let verdicts = evaluate(&table(), "light", &stats);
    let chat = verdict(&verdicts, SloKind::Chat, "avg_ms");
    assert_eq!(chat.status, Status::NotExercised);
    assert_eq!(
        verdict(&verdicts, SloKind::Health, "avg_ms").status,
        Status::Pass
    );
    assert!(all_pass(&verdicts));
}

#[test]
fn failure_ratio_and_spread_rules() {
    let mut stats = StatsSet::default();
    record(&mut stats, "E /v1/events", SloKind::Event, &[5.0; 100], 2);
    let verdicts = evaluate(&table(), "light", &stats);
    let failures = verdict(&verdicts, SloKind::Event, "failure_ratio");
    assert_eq!(failures.status, Status::Fail);
    assert!((failures.measured - 0.02).abs() < 1e-9);

    // Sub-millisecond noise: p99 is 20x the average but only by microseconds.
    let mut stats = StatsSet::default();
    let mut samples = vec![0.05; 99];
    samples.push(1.0);
    record(&mut stats, "F /health", SloKind::Health, &samples, 0);
    let verdicts = evaluate(&table(), "light", &stats);
    assert_eq!(
        verdict(&verdicts, SloKind::Health, "p99_over_avg").status,
        Status::Pass
    );

    // A real tail: 10% of requests at 400 ms against a 20 ms body.
    let mut stats = StatsSet::default();
    let mut samples = vec![20.0; 90];
    samples.extend([400.0; 10]);
    record(&mut stats, "G /v1/chat", SloKind::Chat, &samples, 0);
    let verdicts = evaluate(&table(), "light", &stats);
    let p95 = verdict(&verdicts, SloKind::Chat, "p95_over_avg");
    assert_eq!(p95.status, Status::Fail, "{p95:?}");
}

#[test]
fn bad_tables_name_file_and_line() {
    let err = SloTable::parse("max_failure_ratio = 0.01\nfoo = 1\n", Path::new("slo.toml"))
        .expect_err("unknown key");
    assert!(err.to_string().starts_with("slo.toml:2"), "{err}");
}

#[test]
fn ratio_rules_wait_for_enough_samples() {
    // Nine fast requests and one slow one: p99 is the slow one, but ten requests are too
    // few for a percentile to mean anything.
    let mut samples = vec![20.0; 9];
    samples.push(400.0);
    let mut stats = StatsSet::default();
    record(&mut stats, "H /v1/chat", SloKind::Chat, &samples, 0);
    let verdicts = evaluate(&table(), "light", &stats);
    let p99 = verdict(&verdicts, SloKind::Chat, "p99_over_avg");
    assert_eq!(p99.status, Status::NotExercised, "{p99:?}");
    assert_eq!(
        verdict(&verdicts, SloKind::Chat, "avg_ms").status,
        Status::Pass
    );
}

/// The shipped table with `rules` appended.
fn with_rules(rules: &str) -> Result<SloTable, SloError> {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/slo.toml"));
    let text = std::fs::read_to_string(path).expect("read");
    SloTable::parse(&format!("{text}\n{rules}"), Path::new("my-slo.toml"))
}

fn stage_stats(entries: &[(u32, &str, SloKind, &[f64], usize)]) -> BTreeMap<u32, StageStats> {
    let mut stages: BTreeMap<u32, StageStats> = BTreeMap::new();
    for &(index, name, kind, ms, failures) in entries {
        record(
            &mut stages.entry(index).or_default().totals,
            name,
            kind,
            ms,
            failures,
        );
    }
    stages
}

#[test]
fn stage_rules_check_only_their_stage() {
    let table = with_rules(
        "[[rules]]\nstage = \"plateau\"\nkind = \"chat\"\np95_ms = 500\n\n\
         [[rules]]\nstage = \"warm\"\navg_ms = 10\nmax_failure_ratio = 0.05\n",
    )
    .expect("valid rules");
    assert_eq!(table.rules.len(), 2);
    let names = ["warm", "plateau"];
    table.check_stages(&names).expect("known stages");
    // Warm: slow but within its own rule's failures; plateau: chat under 500 ms at p95, and
    // a slow health endpoint the chat-only rule ignores.
    let stages = stage_stats(&[
        (1, "W /x", SloKind::Health, &[20.0; 40], 1),
        (2, "C /v1/chat", SloKind::Chat, &[300.0; 100], 0),
        (2, "H /health", SloKind::Health, &[900.0; 100], 0),
    ]);
    let verdicts = evaluate_rules(&table, &names, &stages, &StatsSet::default());
    assert_eq!(verdicts.len(), 3, "{verdicts:?}");
    let plateau = &verdicts[0];
    assert_eq!(plateau.stage.as_deref(), Some("plateau"));
    assert_eq!(
        (plateau.kind, plateau.metric.as_str()),
        (Some(SloKind::Chat), "p95_ms")
    );
    assert_eq!(plateau.status, Status::Pass);
    assert_eq!(plateau.endpoint, "GET C /v1/chat");
    assert_eq!(plateau.target, "< 500 ms");
    let (avg, failures) = (&verdicts[1], &verdicts[2]);
    assert_eq!((avg.kind, avg.metric.as_str()), (None, "avg_ms"));
    assert_eq!(avg.status, Status::Fail);
    assert!((avg.measured - 20.0).abs() < 0.1);
    assert_eq!(failures.status, Status::Pass, "1 of 40 is 2.5% < 5%");
    assert!(!all_pass(&verdicts));

    // The same chat endpoint slower at p95 fails the plateau rule.
    let slow = stage_stats(&[(2, "C /v1/chat", SloKind::Chat, &[700.0; 100], 0)]);
    let verdicts = evaluate_rules(&table, &names, &slow, &StatsSet::default());
    assert_eq!(verdicts[0].status, Status::Fail);
    assert!((verdicts[0].measured - 700.0).abs() < 1.0);
    assert_eq!(
        verdicts[1].status,
        Status::NotExercised,
        "warm had no request"
    );

    // In JSON a stage verdict carries its stage; a run-wide one is as before.
    let json = serde_json::to_value(&verdicts[0]).expect("json");
    assert_eq!(json["stage"], "plateau");
    assert_eq!(json["kind"], "chat");
    let old: Verdict = serde_json::from_value(serde_json::json!({
        "kind": "health", "metric": "avg_ms", "target": "< 50 ms", "measured": 1.0,
        "endpoint": "GET /x", "status": "pass"
    }))
    .expect("an old verdict reads");
    assert_eq!((old.kind, old.stage), (Some(SloKind::Health), None));
}

#[test]
fn a_stage_rule_naming_no_stage_of_the_run_is_an_error() {
    let table = with_rules("[[rules]]\nstage = \"plateau\"\np99_ms = 100\n").expect("valid");
    let err = table
        .check_stages(&["warm", "peak"])
        .expect_err("unknown stage")
        .to_string();
    assert!(err.contains("my-slo.toml"), "{err}");
    assert!(err.contains("rules[1]"), "{err}");
    assert!(err.contains("\"plateau\""), "{err}");
    assert!(err.contains("warm, peak"), "{err}");
    let none: [&str; 0] = [];
    let err = table
        .check_stages(&none)
        .expect_err("no stages")
        .to_string();
    assert!(err.contains("the run has no stages"), "{err}");
    // Without stage rules, any run is fine.
    self::table().check_stages(&none).expect("no rules");
}

#[test]
fn a_stage_rule_needs_a_positive_target() {
    let err = with_rules("[[rules]]\nstage = \"plateau\"\n").expect_err("no target");
    assert!(err.to_string().contains("rules[1]: has no target"), "{err}");
    let err = with_rules("[[rules]]\nstage = \"a\"\np95_ms = -3\n").expect_err("negative");
    assert!(
        err.to_string().contains("p95_ms must be a number above 0"),
        "{err}"
    );
    let err = with_rules("[[rules]]\nstage = \"a\"\np95 = 3\n").expect_err("unknown key");
    assert!(err.to_string().starts_with("my-slo.toml:"), "{err}");
}
