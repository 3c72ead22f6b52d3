//! A day of 2-second intervals fed through the aggregator with the times passed in: memory and
//! the JSON history stay bounded, the totals stay exact and the full-resolution history (what
//! the CSV is written from) stays complete.

use super::history::{MAX_COARSE_ROWS, MAX_RECENT_ROWS};
use super::*;
use lv_common::kind::SloKind;

const T0: i64 = 1_700_000_000_000;
const STEP_MS: i64 = 2_000;
const HOUR_STEPS: i64 = 3_600_000 / STEP_MS;

/// The report of interval `i`: 1 to 7 requests, health checks and chat turns in turn, one
/// failure every tenth interval, latencies that move so percentiles are not all equal (kept
/// under 3 ms: a percentile is a scan of the counters up to its value, and this test runs
/// unoptimised in CI).
fn interval_report(i: i64) -> Report {
    let mut stats = StatsSet::default();
    let requests = i % 7 + 1;
    for n in 0..requests {
        let error = (i % 10 == 0 && n == 0).then_some("HTTP 503");
        let latency_us = 500 + (i * 37 + n * 101) as u64 % 2_500;
        let (name, kind) = if n % 2 == 0 {
            ("ATLAS /health", SloKind::Health)
        } else {
            ("ARIA /chat", SloKind::Chat)
        };
        stats.record_request("GET", name, Some(kind), latency_us, 20, error);
    }
    Report {
        run_id: "r".into(),
        seq: i as u64,
        start_unix_ms: T0 + (i - 1) * STEP_MS,
        end_unix_ms: T0 + i * STEP_MS,
        users_running: 10,
        stats,
        last: false,
        cut_off: 0,
        dropped_reports: 0,
        open: None,
        stage: 0,
    }
}

/// What was measured after some hours of intervals.
struct Footprint {
    rows: usize,
    bytes: usize,
    json: usize,
}

/// Feeds `hours` of intervals; returns the stats, the footprint after the first hour and the
/// requests and failures sent up to each interval.
fn feed(hours: i64) -> (RunStats, Footprint, Vec<(u64, u64)>) {
    let mut run = RunStats::new(false);
    run.start(T0);
    let mut sent = Vec::new();
    let (mut requests, mut failures) = (0, 0);
    let mut first_hour = None;
    for i in 1..=hours * HOUR_STEPS {
        let report = interval_report(i);
        requests += report.stats.request_count();
        failures += report.stats.failure_count();
        run.merge_report("w1", &report);
        run.close_interval(T0 + i * STEP_MS, 10);
        sent.push((requests, failures));
        assert!(run.history.len() <= MAX_RECENT_ROWS + MAX_COARSE_ROWS);
        if i == HOUR_STEPS {
            first_hour = Some(footprint(&run));
        }
    }
    (run, first_hour.expect("at least an hour"), sent)
}

fn footprint(run: &RunStats) -> Footprint {
    Footprint {
        rows: run.history.len(),
        bytes: run.history_bytes(),
        json: serde_json::to_vec(&run.history).expect("json").len(),
    }
}

/// 24 hours of history take less than twice the memory and JSON of one hour, and the totals,
/// the coarse rows and the complete history all add up to exactly what was sent.
#[test]
fn a_day_of_intervals_keeps_memory_bounded_and_totals_exact() {
    // `feed` also checks the bound after every interval, so it holds all day long.
    let (run, hour, sent) = feed(24);
    let day = footprint(&run);
    eprintln!(
        "history after 1 h: {} rows, ~{} bytes, {} JSON bytes; after 24 h: {} rows, ~{} bytes, {} JSON bytes, {} rows spilled",
        hour.rows,
        hour.bytes,
        hour.json,
        day.rows,
        day.bytes,
        day.json,
        run.spilled_rows()
    );
    assert_eq!(hour.rows, HOUR_STEPS as usize);
    assert!(day.rows <= hour.rows + MAX_COARSE_ROWS, "{} rows", day.rows);
    assert!(
        day.bytes < 2 * hour.bytes,
        "{} vs {} bytes",
        day.bytes,
        hour.bytes
    );
    assert!(
        day.json < 2 * hour.json,
        "{} vs {} JSON bytes",
        day.json,
        hour.json
    );

    let &(requests, failures) = sent.last().expect("intervals");
    let total = run.totals.total();
    assert_eq!((total.requests, total.failures), (requests, failures));
    assert_eq!(
        (run.grand_total.requests, run.grand_total.failures),
        (requests, failures)
    );
    let last = run.history.last().expect("rows");
    assert_eq!(
        (last.total_requests, last.total_failures),
        (requests, failures)
    );
    assert_eq!(run.workers["w1"].requests, requests);

    // Coarse rows add up: rate x span, summed, gives the requests before the last hour.
    let coarse = run.history.len() - HOUR_STEPS as usize;
    let mut since = T0;
    let mut counted = 0.0;
    for row in &run.history[..coarse] {
        counted += row.rps * (row.unix_ms - since) as f64 / 1000.0;
        since = row.unix_ms;
    }
    let before_last_hour = run.history[coarse - 1].total_requests;
    assert!((counted - before_last_hour as f64).abs() < 1e-6 * before_last_hour as f64);
    assert_eq!(
        run.history[coarse].unix_ms - since,
        STEP_MS,
        "no gap before the last hour"
    );
    // So do each kind's, and every row, coarse or not, has both kinds.
    for kind in [SloKind::Health, SloKind::Chat] {
        let mut since = T0;
        let mut counted = 0.0;
        for row in &run.history[..coarse] {
            counted += row.kinds[&kind].rps * (row.unix_ms - since) as f64 / 1000.0;
            since = row.unix_ms;
        }
        let before = run.history[coarse - 1].kinds[&kind].total_requests as f64;
        assert!(
            (counted - before).abs() < 1e-6 * before,
            "{kind}: {counted} vs {before}"
        );
        assert!(run.history.iter().all(|r| r.kinds.contains_key(&kind)));
        // Every window had both kinds, so the coarse rows' envelopes kept their percentiles.
        assert!(
            run.history[..coarse]
                .iter()
                .all(|r| r.kinds[&kind].p95_ms.is_some())
        );
    }
    let by_kind = |row: &HistoryRow| row.kinds.values().map(|k| k.total_requests).sum::<u64>();
    assert_eq!(by_kind(last), requests);

    // The complete history has every interval with its exact cumulative counts.
    let complete: Vec<HistoryRow> = run
        .complete_history()
        .expect("spill readable")
        .collect::<io::Result<_>>()
        .expect("rows readable");
    assert_eq!(complete.len(), sent.len());
    assert_eq!(
        run.spilled_rows(),
        (sent.len() - HOUR_STEPS as usize) as u64
    );
    for (i, (row, &(requests, failures))) in complete.iter().zip(&sent).enumerate() {
        assert_eq!(row.unix_ms, T0 + (i as i64 + 1) * STEP_MS);
        assert_eq!(
            (row.total_requests, row.total_failures),
            (requests, failures)
        );
        assert_eq!(by_kind(row), requests, "row {i}");
    }
}

/// When the spill file cannot be written, rows stay in memory at full resolution: the bound is
/// given up, never a row.
#[test]
fn without_a_spill_file_every_row_stays_in_memory() {
    let mut run = RunStats::new(false);
    run.spill_dir = Some(std::path::PathBuf::from("/nonexistent/lv-spill"));
    run.start(T0);
    let steps = HOUR_STEPS + 100;
    for i in 1..=steps {
        run.merge_report("w1", &interval_report(i));
        run.close_interval(T0 + i * STEP_MS, 10);
    }
    assert_eq!(run.history.len(), steps as usize);
    assert_eq!(run.spilled_rows(), 0);
    let complete: Vec<HistoryRow> = run
        .complete_history()
        .expect("nothing to read back")
        .collect::<io::Result<_>>()
        .expect("rows");
    assert_eq!(complete, run.history);
}
