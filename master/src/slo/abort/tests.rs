//! Tests of the abort judging: graces, resets, small samples, stage rules and the table's
//! own targets; and of the table's abort keys as written.

use std::path::Path;
use std::time::Duration;

use lv_common::kind::SloKind;
use lv_common::stats::StatsSet;

use super::*;

const BASE: &str = "max_failure_ratio = 0.01\np95_over_avg = 2.0\np99_over_avg = 5.0\n\
    ratio_floor_ms = 10.0\nratio_min_requests = 50\n";
const LEVELS: &str = "[avg_ms.health]\nlight = 50\n[avg_ms.chat]\nlight = 5000\n";

/// A table with `extra` (top-level keys) before the levels and `tail` (tables) after them.
fn table(extra: &str, tail: &str) -> SloTable {
    SloTable::parse(
        &format!("{BASE}{extra}{LEVELS}{tail}"),
        Path::new("slo.toml"),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn error(tail: &str) -> String {
    SloTable::parse(&format!("{BASE}{LEVELS}{tail}"), Path::new("slo.toml"))
        .expect_err("a bad table")
        .to_string()
}

/// `requests` requests of `ms` each to `name` (a health endpoint), the first `failures` failed.
fn record(stats: &mut StatsSet, name: &str, ms: f64, requests: usize, failures: usize) {
    for i in 0..requests {
        let error = (i < failures).then_some("HTTP 500");
        let us = (ms * 1000.0) as u64;
        stats.record_request("GET", name, Some(SloKind::Health), us, 10, error);
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn run(totals: &StatsSet) -> AbortInput<'_> {
    AbortInput {
        totals,
        stage: None,
    }
}

const HALF_FAILING: &str = "[[rules]]\nmax_failure_ratio = 0.01\nabort = true\nafter = \"3s\"\n";

#[test]
fn a_rule_stops_the_run_once_it_failed_for_its_whole_grace() {
    let mut watch = AbortWatch::new(&table("", HALF_FAILING), "light", false).expect("a rule");
    assert_eq!(watch.rule_names(), ["rules[1]"]);
    let mut stats = StatsSet::default();
    record(&mut stats, "/health", 1.0, 100, 50);
    assert_eq!(watch.judge(&run(&stats), secs(1.0)), None, "starts failing");
    assert_eq!(watch.judge(&run(&stats), secs(2.0)), None);
    assert_eq!(watch.judge(&run(&stats), secs(3.9)), None, "2.9 s of 3");
    let stop = watch.judge(&run(&stats), secs(4.0)).expect("3 s failing");
    assert_eq!(stop.rule, "rules[1]");
    assert_eq!(
        (stop.metric.as_str(), stop.target.as_str()),
        ("failure_ratio", "< 1%")
    );
    assert_eq!(stop.endpoint, "GET /health");
    assert_eq!((stop.kind, stop.stage.as_deref()), (None, None));
    assert!((stop.measured - 0.5).abs() < 1e-9);
    assert_eq!((stop.after_s, stop.failing_s, stop.at_s), (3.0, 3.0, 4.0));
    assert_eq!(
        stop.reason,
        "failure_ratio 50.00% on GET /health, target < 1%, failing for 3 s (grace 3s)"
    );
    assert_eq!(
        stop.verdict(),
        format!(
            "failed: abort rule rules[1] stopped the run at 4 s: {}",
            stop.reason
        )
    );
}

#[test]
fn a_pass_restarts_the_grace() {
    let mut watch = AbortWatch::new(&table("", HALF_FAILING), "light", false).expect("a rule");
    let mut stats = StatsSet::default();
    record(&mut stats, "/health", 1.0, 2, 1);
    assert_eq!(watch.judge(&run(&stats), secs(1.0)), None, "fails from 1 s");
    // 200 successes bring the ratio to 1 of 202, under 1%: the rule passes.
    record(&mut stats, "/health", 1.0, 200, 0);
    assert_eq!(watch.judge(&run(&stats), secs(2.0)), None);
    // Failing again from 3 s: the grace counts from there, not from 1 s.
    record(&mut stats, "/health", 1.0, 100, 100);
    assert_eq!(watch.judge(&run(&stats), secs(3.0)), None);
    assert_eq!(
        watch.judge(&run(&stats), secs(5.9)),
        None,
        "2.9 s since 3 s"
    );
    let stop = watch.judge(&run(&stats), secs(6.0)).expect("3 s since 3 s");
    assert_eq!((stop.failing_s, stop.at_s), (3.0, 6.0));
}

#[test]
fn endpoints_with_too_few_requests_are_not_judged() {
    let rule = "[[rules]]\nmax_failure_ratio = 0.01\nabort = true\n";
    let mut watch = AbortWatch::new(
        &table("", &format!("[abort]\nmin_requests = 10\n{rule}")),
        "light",
        false,
    )
    .expect("a rule");
    let mut stats = StatsSet::default();
    record(&mut stats, "/health", 1.0, 9, 9);
    assert_eq!(
        watch.judge(&run(&stats), secs(1.0)),
        None,
        "9 requests < 10"
    );
    record(&mut stats, "/health", 1.0, 1, 1);
    let stop = watch.judge(&run(&stats), secs(2.0)).expect("no grace");
    assert_eq!((stop.failing_s, stop.at_s), (0.0, 2.0));
    assert!(stop.reason.ends_with("(no grace)"), "{}", stop.reason);
    // Without a minimum, one failed request is enough for a rule without grace.
    let mut watch = AbortWatch::new(&table("", rule), "light", false).expect("a rule");
    let mut one = StatsSet::default();
    record(&mut one, "/health", 1.0, 1, 1);
    assert!(watch.judge(&run(&one), secs(0.5)).is_some());
}

#[test]
fn only_marked_rules_abort_unless_every_rule_does() {
    let plain = "[[rules]]\np95_ms = 100\nafter = \"2s\"\n";
    let t = table("", plain);
    assert!(
        AbortWatch::new(&t, "light", false).is_none(),
        "nothing aborts"
    );
    let every = AbortWatch::new(&t, "light", true).expect("--abort-on-slo");
    assert_eq!(
        every.rule_names(),
        [
            "avg_ms",
            "max_failure_ratio",
            "p95_over_avg",
            "p99_over_avg",
            "rules[1]"
        ]
    );
    assert_eq!(every.rules[0].after, Duration::ZERO, "no [abort] after");
    assert_eq!(every.rules[4].after, secs(2.0), "the rule's own after");
    let t = table("", &format!("[abort]\nafter = \"5s\"\n{plain}"));
    let every = AbortWatch::new(&t, "light", true).expect("--abort-on-slo");
    assert_eq!(every.rules[1].after, secs(5.0));
}

#[test]
fn abort_targets_judge_the_tables_own_targets_per_kind() {
    let t = table("", "[abort]\ntargets = [\"avg_ms\"]\nafter = 2\n");
    let mut watch = AbortWatch::new(&t, "light", false).expect("a target");
    assert_eq!(watch.rule_names(), ["avg_ms"]);
    let mut stats = StatsSet::default();
    // Slow and failing: only the average aborts, failures are not an abort target here.
    record(&mut stats, "A /health", 80.0, 20, 20);
    assert_eq!(watch.judge(&run(&stats), secs(0.0)), None);
    let stop = watch.judge(&run(&stats), secs(2.0)).expect("slow for 2 s");
    assert_eq!(stop.rule, "avg_ms");
    assert_eq!(stop.kind, Some(SloKind::Health));
    assert_eq!(stop.target, "< 50 ms");
    assert_eq!(stop.endpoint, "GET A /health");
    assert!(
        stop.reason
            .starts_with("avg_ms 80 ms on GET A /health (kind health)"),
        "{}",
        stop.reason
    );
}

#[test]
fn a_stage_rule_is_judged_only_while_its_stage_runs() {
    let t = table(
        "",
        "[[rules]]\nstage = \"peak\"\np95_ms = 100\nabort = true\nafter = \"1s\"\n",
    );
    let mut watch = AbortWatch::new(&t, "light", false).expect("a rule");
    let mut slow = StatsSet::default();
    record(&mut slow, "/health", 500.0, 10, 0);
    let totals = slow.clone();
    let during = |name| AbortInput {
        totals: &totals,
        stage: Some((name, &slow)),
    };
    assert_eq!(
        watch.judge(&during("warm"), secs(1.0)),
        None,
        "not its stage"
    );
    assert_eq!(
        watch.judge(&during("peak"), secs(2.0)),
        None,
        "fails from 2 s"
    );
    // Between stages the rule is not judged: its failing time starts again.
    assert_eq!(watch.judge(&run(&totals), secs(2.5)), None);
    assert_eq!(watch.judge(&during("peak"), secs(3.0)), None);
    let stop = watch
        .judge(&during("peak"), secs(4.0))
        .expect("1 s in peak");
    assert_eq!(stop.stage.as_deref(), Some("peak"));
    assert!(stop.reason.contains("(stage \"peak\")"), "{}", stop.reason);
}

#[test]
fn bad_abort_keys_name_the_line_and_the_key() {
    let err = error("[[rules]]\nmax_failure_ratio = 0.01\nabort = \"yes\"\n");
    assert!(err.starts_with("slo.toml:12: abort: "), "{err}");
    assert!(err.contains("expected a boolean"), "{err}");
    let err = error("[[rules]]\nmax_failure_ratio = 0.01\nafter = \"soon\"\n");
    assert!(err.starts_with("slo.toml:12: after: "), "{err}");
    assert!(err.contains("invalid duration \"soon\""), "{err}");
    let err = error("[[rules]]\nmax_failure_ratio = 0.01\naborts = true\n");
    assert!(
        err.starts_with("slo.toml:12: unknown field `aborts`"),
        "{err}"
    );
    let err = error("[abort]\ntargets = [\"p50\"]\n");
    assert!(
        err.starts_with("slo.toml:11: targets: unknown variant `p50`"),
        "{err}"
    );
    let err = error("[abort]\nafter = -1\n");
    assert!(err.contains("after: -1 s is negative"), "{err}");
    let err = error("[abort]\nmin_requests = 0\n");
    assert_eq!(err, "slo.toml: abort.min_requests: must be at least 1");
    let err = error("[abort]\nstage = \"x\"\n");
    assert!(err.contains("unknown field `stage`"), "{err}");
}

#[test]
fn a_rule_without_a_stage_holds_for_any_run() {
    let t = table("", HALF_FAILING);
    let none: [&str; 0] = [];
    t.check_stages(&none).expect("no stage needed");
    let mut stats = StatsSet::default();
    record(&mut stats, "/health", 1.0, 10, 5);
    let verdicts = crate::slo::evaluate_rules(&t, &none, &Default::default(), &stats);
    assert_eq!(verdicts.len(), 1);
    assert_eq!(
        (verdicts[0].stage.as_deref(), verdicts[0].status),
        (None, Status::Fail)
    );
}

/// The examples the shipped table shows in its comments are valid as written.
#[test]
fn the_shipped_tables_examples_parse() {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/slo.toml"));
    let text = std::fs::read_to_string(path).expect("read configs/slo.toml");
    let (_, examples) = text.split_once("for example:").expect("the examples");
    let uncommented: String = examples
        .lines()
        .filter_map(|line| line.strip_prefix("# "))
        .map(|line| format!("{line}\n"))
        .collect();
    let t =
        SloTable::parse(&format!("{text}\n{uncommented}"), path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.rules.len(), 2);
    assert_eq!(
        (t.abort.targets.as_slice(), t.abort.min_requests),
        (&[TopTarget::MaxFailureRatio][..], 20)
    );
    let watch = AbortWatch::new(&t, "light", false).expect("abort rules");
    assert_eq!(watch.rule_names(), ["max_failure_ratio", "rules[1]"]);
    assert_eq!(
        (watch.rules[0].after, watch.rules[1].after),
        (secs(30.0), secs(10.0))
    );
}
