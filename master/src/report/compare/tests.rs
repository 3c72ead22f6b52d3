//! Tests of run comparison and the benchmark log.

use super::*;
use crate::report::summary::{RunMeta, stats_rows};
use lv_common::kind::SloKind;
use lv_common::stats::StatsSet;

const HEALTH: &str = "ATLAS /health";
const EVENTS: &str = "EVENT-BUS /v1/events";

/// `latencies_us` recorded for GET `name`, the first `failures` of them failed.
fn record(
    stats: &mut StatsSet,
    name: &str,
    latencies_us: impl IntoIterator<Item = u64>,
    failures: usize,
) {
    for (i, us) in latencies_us.into_iter().enumerate() {
        let error = (i < failures).then_some("HTTP 500");
        stats.record_request("GET", name, Some(SloKind::Health), us, 10, error);
    }
}

fn summary(stats: &StatsSet, run_id: &str) -> Summary {
    let (total, endpoints, failures, exceptions) = stats_rows(stats, 10.0);
    Summary {
        run_id: run_id.into(),
        users: 20,
        run_time_s: 10.0,
        exit_code: 0,
        verdict: "passed".into(),
        generator_limited: false,
        generator_warnings: Vec::new(),
        started_unix_ms: 1_700_000_000_000,
        ended_unix_ms: 1_700_000_010_000,
        workers: Vec::new(),
        total,
        endpoints,
        failures,
        exceptions,
        cut_off: 0,
        below_target: Vec::new(),
        checkpoint: false,
        open: None,
        stages: Vec::new(),
        master_outages: Vec::new(),
        resume: None,
        aborted: None,
        meta: RunMeta {
            profile: Some("light".into()),
            ..RunMeta::default()
        },
        history: Vec::new(),
        slo: None,
    }
}

/// 1..=100 ms on the health endpoint, 1..=50 ms on the events endpoint.
fn base_stats() -> StatsSet {
    let mut stats = StatsSet::default();
    record(&mut stats, HEALTH, (1..=100).map(|ms| ms * 1000), 0);
    record(&mut stats, EVENTS, (1..=50).map(|ms| ms * 1000), 0);
    stats
}

fn row<'a>(comparison: &'a Comparison, name: &str) -> &'a ComparisonRow {
    comparison
        .rows
        .iter()
        .find(|r| r.name == name)
        .expect("row present")
}

#[test]
fn a_run_compared_with_itself_has_no_change() {
    let base = summary(&base_stats(), "a");
    let comparison = compare(&base, &base, 10.0).expect("compares");
    assert!(
        comparison.regressions.is_empty(),
        "{:?}",
        comparison.regressions
    );
    assert_eq!(comparison.rows.len(), 3, "two endpoints and the total");
    assert_eq!(comparison.rows[2].label(), "Aggregated");
    for row in &comparison.rows {
        for metric in Metric::ALL {
            let change = row.change(metric).expect("in both runs");
            assert_eq!(change.absolute, 0.0);
            assert_eq!(change.percent, Some(0.0));
        }
    }
    let health = row(&comparison, HEALTH).new.expect("figures");
    assert_eq!((health.requests, health.rps), (100, 10.0));
    assert!((health.p95_ms - 95.0).abs() < 0.1, "{health:?}");
    let table = render_table(&comparison);
    assert!(table.contains("No regressions"), "{table}");
    assert!(!table.contains('!'), "{table}");
    assert!(table.contains("+0.0%"));
}

#[test]
fn a_slower_endpoint_is_a_regression_naming_it() {
    let base = summary(&base_stats(), "a");
    let mut stats = StatsSet::default();
    // The slowest tenth takes twice as long: p95 and p99 double, the median does not move.
    record(
        &mut stats,
        HEALTH,
        (1..=100).map(|ms| if ms > 90 { ms * 2000 } else { ms * 1000 }),
        0,
    );
    record(&mut stats, EVENTS, (1..=50).map(|ms| ms * 1000), 0);
    let new = summary(&stats, "b");
    let comparison = compare(&base, &new, 10.0).expect("compares");
    let health = row(&comparison, HEALTH);
    assert_eq!(health.regressed, [Metric::P95, Metric::P99]);
    let p95 = health.change(Metric::P95).expect("change");
    assert!((p95.absolute - 95.0).abs() < 0.2, "{p95:?}");
    assert!(
        p95.percent.is_some_and(|p| (p - 100.0).abs() < 0.1),
        "{p95:?}"
    );
    assert!(row(&comparison, EVENTS).regressed.is_empty());
    let messages = comparison.regressions.join("\n");
    assert!(
        messages.contains("GET ATLAS /health: p95 95 ms -> 190 ms (+100.0%, limit +10%)"),
        "{messages}"
    );
    assert!(messages.contains("GET ATLAS /health: p99"), "{messages}");
    assert!(!messages.contains(EVENTS), "{messages}");
    let table = render_table(&comparison);
    assert!(table.contains("+100.0% !"), "{table}");
    assert!(table.contains("regression(s) beyond +10%"), "{table}");
    // A looser tolerance lets the same change pass.
    let loose = compare(&base, &new, 150.0).expect("compares");
    assert!(row(&loose, HEALTH).regressed.is_empty());
}

#[test]
fn failure_ratio_regression() {
    let base = summary(&base_stats(), "a");
    let mut stats = StatsSet::default();
    record(&mut stats, HEALTH, (1..=100).map(|ms| ms * 1000), 5);
    record(&mut stats, EVENTS, (1..=50).map(|ms| ms * 1000), 0);
    let comparison = compare(&base, &summary(&stats, "b"), 10.0).expect("compares");
    let health = row(&comparison, HEALTH);
    assert_eq!(health.regressed, [Metric::FailureRatio]);
    assert_eq!(
        health.change(Metric::FailureRatio).map(|c| c.percent),
        Some(None),
        "from 0"
    );
    let messages = comparison.regressions.join("\n");
    assert!(
        messages.contains("GET ATLAS /health: failure ratio 0.00% -> 5.00% (from 0"),
        "{messages}"
    );
    assert!(messages.contains("Aggregated: failure ratio"), "{messages}");
}

#[test]
fn tiny_failure_ratio_increase_is_not_a_regression() {
    let mut base_set = StatsSet::default();
    record(&mut base_set, HEALTH, vec![5_000; 10_000], 0);
    let mut new_set = StatsSet::default();
    record(&mut new_set, HEALTH, vec![5_000; 10_000], 5);
    let comparison =
        compare(&summary(&base_set, "a"), &summary(&new_set, "b"), 10.0).expect("compares");
    assert!(
        comparison.regressions.is_empty(),
        "0.05 points is below the floor"
    );
}

#[test]
fn sub_millisecond_noise_is_not_a_regression() {
    let mut base_set = StatsSet::default();
    record(&mut base_set, HEALTH, (1..=100).map(|i| 100 + i), 0);
    let mut new_set = StatsSet::default();
    record(&mut new_set, HEALTH, (1..=100).map(|i| 100 + i * 6), 0);
    let comparison =
        compare(&summary(&base_set, "a"), &summary(&new_set, "b"), 10.0).expect("compares");
    let health = row(&comparison, HEALTH);
    let p95 = health.change(Metric::P95).expect("change");
    assert!(p95.percent.is_some_and(|p| p > 100.0), "{p95:?}");
    assert!(p95.absolute < LATENCY_FLOOR_MS, "{p95:?}");
    assert!(
        comparison.regressions.is_empty(),
        "{:?}",
        comparison.regressions
    );
}

#[test]
fn added_and_removed_endpoints_are_listed_not_regressions() {
    let base = summary(&base_stats(), "a");
    let mut stats = StatsSet::default();
    record(&mut stats, HEALTH, (1..=100).map(|ms| ms * 1000), 0);
    record(&mut stats, "CHRONOS /health", [900_000, 950_000], 2);
    let comparison = compare(&base, &summary(&stats, "b"), 10.0).expect("compares");
    let added = row(&comparison, "CHRONOS /health");
    assert!(added.base.is_none() && added.new.is_some() && added.regressed.is_empty());
    let removed = row(&comparison, EVENTS);
    assert!(removed.base.is_some() && removed.new.is_none() && removed.regressed.is_empty());
    assert!(removed.change(Metric::P95).is_none());
    assert!(
        !comparison
            .regressions
            .iter()
            .any(|m| m.contains("CHRONOS") || m.contains("EVENT-BUS"))
    );
    let table = render_table(&comparison);
    assert!(
        table.contains("added") && table.contains("removed"),
        "{table}"
    );
}

#[test]
fn a_corrupt_histogram_is_an_error_naming_the_endpoint() {
    let base = summary(&base_stats(), "a");
    let mut new = base.clone();
    new.endpoints[0].histogram = "not base64 at all!".into();
    let err = compare(&base, &new, 10.0).expect_err("corrupt histogram");
    assert!(
        err.contains("NEW report") && err.contains("GET ATLAS /health"),
        "{err}"
    );
    let mut base = base;
    base.total.histogram = "AAAA".into();
    let err = compare(&base, &summary(&base_stats(), "c"), 10.0).expect_err("corrupt total");
    assert!(err.starts_with("BASE report: Aggregated: "), "{err}");
    assert!(compare(&new, &new, f64::NAN).is_err());
}

/// Reports written before histograms were compressed (plain V2) still load and compare:
/// the same figures as the compressed report they equal.
#[test]
fn reports_with_plain_v2_histograms_still_compare() {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    let compressed = summary(&base_stats(), "new");
    let mut plain = compressed.clone();
    for e in plain.endpoints.iter_mut().chain([&mut plain.total]) {
        let bytes = BASE64.decode(&e.histogram).expect("base64");
        assert_eq!(&bytes[..4], &[0x1c, 0x84, 0x93, 0x14], "written compressed");
        let inflated = lv_common::stats::inflate_v2(&bytes).expect("inflates");
        assert_eq!(&inflated[..4], &[0x1c, 0x84, 0x93, 0x13]);
        e.histogram = BASE64.encode(inflated);
    }
    let comparison = compare(&plain, &compressed, 10.0).expect("old report loads");
    assert!(comparison.regressions.is_empty());
    for row in &comparison.rows {
        for metric in Metric::ALL {
            let change = row.change(metric).expect("in both runs");
            assert_eq!(change.absolute, 0.0, "{} {metric:?}", row.label());
        }
    }
    let rebuilt = crate::report::summary::run_stats_from(&plain).expect("report rebuilds");
    assert_eq!(rebuilt.grand_total.requests, 150);
    assert_eq!(
        rebuilt.grand_total.percentile_ms(99.0),
        compressed.total.p99_ms
    );
}

#[test]
fn benchmark_row_has_every_column() {
    let mut s = summary(&base_stats(), "run-7");
    s.verdict = "SLO | failed\nbadly".into();
    let row = benchmark_row(&s);
    assert_eq!(
        row,
        "| 2023-11-14 22:13 | light | 20 | 150 | 15.00 | 38 | 93 | 99 | 0.00% | SLO \\| failed badly | run-7 |"
    );
    let header = BENCHMARKS_TEMPLATE
        .lines()
        .rev()
        .nth(1)
        .expect("header line");
    assert_eq!(
        header.matches(" | ").count(),
        row.matches(" | ").count(),
        "{header}"
    );
}

#[test]
fn append_benchmark_creates_then_appends() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("logs").join("benchmarks.md");
    let s = summary(&base_stats(), "run-1");
    append_benchmark(&path, &s).expect("creates");
    let text = std::fs::read_to_string(&path).expect("readable");
    assert!(text.starts_with(BENCHMARKS_TEMPLATE));
    assert_eq!(
        &text[BENCHMARKS_TEMPLATE.len()..],
        format!("{}\n", benchmark_row(&s))
    );
    // A file whose last line lost its newline still gets rows on lines of their own.
    std::fs::write(&path, text.trim_end()).expect("writable");
    append_benchmark(&path, &summary(&base_stats(), "run-2")).expect("appends");
    let text = std::fs::read_to_string(&path).expect("readable");
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("| 2023")).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(rows[1].ends_with("| run-2 |"));
}

#[test]
fn repository_benchmarks_md_starts_with_the_template() {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../benchmarks.md"));
    let text = std::fs::read_to_string(path).expect("benchmarks.md at the repository root");
    assert!(
        text.starts_with(BENCHMARKS_TEMPLATE),
        "benchmarks.md and BENCHMARKS_TEMPLATE differ"
    );
}

/// A report's timing phases rebuild the run's exactly (what `report`, `compare` and
/// `--resume` start from), through JSON; a report without them rebuilds none.
#[test]
fn phases_survive_a_report_round_trip() {
    use lv_common::stats::{Phase, RequestPhases};
    let mut stats = base_stats();
    for i in 0..30u64 {
        let phases = RequestPhases {
            connect_us: (i % 10 == 0).then_some(300 + i),
            tls_us: (i % 10 == 0).then_some(2_000 + i),
            ttfb_us: 40_000 + i * 100,
            body_us: 1_000 + i,
        };
        stats.record_phases("GET", HEALTH, &phases);
    }
    let written = serde_json::to_string(&summary(&stats, "run-p")).expect("JSON");
    let read: Summary = serde_json::from_str(&written).expect("reads back");
    let rebuilt = crate::report::summary::run_stats_from(&read).expect("rebuilds");
    assert_eq!(
        rebuilt.totals.phases.len(),
        1,
        "only the endpoint that had phases"
    );
    let (key, ours) = stats.phases.iter().next().expect("phases");
    let theirs = &rebuilt.totals.phases[key];
    for phase in Phase::ALL {
        let (a, b) = (ours.get(phase), theirs.get(phase));
        assert_eq!(
            (a.requests, a.min_us, a.max_us),
            (b.requests, b.min_us, b.max_us)
        );
        assert_eq!(a.histogram_bytes(), b.histogram_bytes(), "{phase:?}");
    }
    let plain =
        crate::report::summary::run_stats_from(&summary(&base_stats(), "run-q")).expect("rebuilds");
    assert!(plain.totals.phases.is_empty());
}
