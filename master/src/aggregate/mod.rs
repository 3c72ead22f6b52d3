//! The merged stats of one run: totals, the current interval, a history row per interval
//! and per-worker counts. Pure: no tasks, no clocks (times are passed in), so it is
//! tested directly and owned by the coordinator alone. Its memory does not grow with the
//! run's length: the history is bounded ([`history`]), and the rows that leave full
//! resolution go to a spill file first, so [`RunStats::complete_history`] still has them all.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io;

use lv_common::kind::SloKind;
use lv_common::load::{ArrivalCounts, OpenStats};
use lv_common::stats::{EndpointKey, EndpointStats, FailureKey, StatsSet};
use lv_common::wire::Report;
use serde::Serialize;
use tracing::warn;

mod by_kind;
pub mod history;
mod rows;
mod spill;
pub mod stages;

use by_kind::ByKind;
use history::Compaction;
pub use rows::{EndpointHistory, HistoryRow, KindHistory, per_second, ratio};
use spill::Spill;
pub use stages::{OpenInterval, StageStats};

/// Intervals kept for the "current" figures (about 10 s at 2 s per interval, as Locust).
const WINDOW_INTERVALS: usize = 5;

/// Percentiles reported in tables and CSVs, as in Locust.
pub const PERCENTILES: [f64; 11] = [
    50.0, 66.0, 75.0, 80.0, 90.0, 95.0, 98.0, 99.0, 99.9, 99.99, 100.0,
];

/// What one worker contributed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WorkerCounts {
    /// Requests merged from this worker.
    pub requests: u64,
    /// Failures among them.
    pub failures: u64,
    /// Reports merged.
    pub reports: u64,
    /// Requests cut off by stops.
    pub cut_off: u64,
    /// Reports the worker dropped from its resend buffer.
    pub dropped_reports: u64,
}

struct Interval {
    seconds: f64,
    /// The interval's requests by kind; together, its total.
    kinds: ByKind,
    per_endpoint: BTreeMap<EndpointKey, (u64, u64)>,
    /// Per-endpoint stats, kept only for `--csv-full-history`.
    endpoints: BTreeMap<EndpointKey, EndpointStats>,
}

/// Merged stats of a run.
#[derive(Default)]
pub struct RunStats {
    /// Everything merged so far, per endpoint.
    pub totals: StatsSet,
    /// Per-worker contributions, by worker id.
    pub workers: BTreeMap<String, WorkerCounts>,
    /// One row per closed interval, oldest first: coarse rows for what is older than an hour,
    /// then the last hour at full resolution (bounded, see [`history`]).
    pub history: Vec<HistoryRow>,
    /// Requests cut off by stops, all workers.
    pub cut_off: u64,
    /// Every request of the run in one row (the Aggregated line), as of the last closed
    /// interval: each interval's total is added when it closes, not each report.
    pub grand_total: EndpointStats,
    /// First and last time (Unix ms) each failure kind was reported.
    pub failure_times: BTreeMap<FailureKey, (i64, i64)>,
    /// Workers on which each exception happened.
    pub exception_nodes: BTreeMap<String, BTreeSet<String>>,
    /// Open model: arrival counters, service times and schedule lags of the whole run.
    pub open: OpenStats,
    /// Open model: arrivals each worker reported as scheduled, by worker id.
    pub scheduled_by: BTreeMap<String, u64>,
    /// Open model: arrivals the schedule planned (set when the run ends).
    pub planned_arrivals: Option<u64>,
    /// Per-stage totals by 1-based stage index; empty when the run has no stages (every
    /// report then says stage 0). They add up to the run's totals.
    pub stages: BTreeMap<u32, StageStats>,
    /// Start of the first stage, Unix ms (the stage clock's origin); the reports use the
    /// run's start when `None`.
    pub stages_start_unix_ms: Option<i64>,
    /// Open model: the arrival counters of the reports merged in each closed interval,
    /// spanning those reports' windows, oldest first (bounded, see
    /// [`stages::MAX_OPEN_INTERVALS`]).
    pub open_intervals: Vec<OpenInterval>,
    open_interval_counts: ArrivalCounts,
    /// Earliest start and latest end (Unix ms) of the open-model reports merged since the
    /// last interval closed.
    open_interval_span: Option<(i64, i64)>,
    open_per_endpoint: BTreeMap<EndpointKey, (u64, u64)>,
    open_since_ms: Option<i64>,
    /// Requests merged since the last interval closed, by the SLO kind of their endpoint.
    open_kinds: ByKind,
    /// Requests of each kind so far, as of the last closed interval.
    kind_requests: BTreeMap<SloKind, u64>,
    window: VecDeque<Interval>,
    /// Keep per-endpoint windows and history lines (`--csv-full-history`).
    endpoint_history: bool,
    open_endpoints: BTreeMap<EndpointKey, EndpointStats>,
    /// How much of `history` is coarse; set when the first interval closes.
    compaction: Option<Compaction>,
    /// Rows that left full resolution, complete.
    spill: Option<Spill>,
    /// The spill file failed: rows stay at full resolution in memory from then on.
    spill_failed: bool,
    /// Where the spill file goes; the system's temporary directory when `None`.
    spill_dir: Option<std::path::PathBuf>,
}

impl RunStats {
    /// Empty stats; `endpoint_history` keeps a history line per endpoint as well (more
    /// memory: a window of histograms per endpoint).
    pub fn new(endpoint_history: bool) -> RunStats {
        RunStats {
            endpoint_history,
            ..RunStats::default()
        }
    }

    /// The same stats, keeping per-endpoint history lines from now on when `on`.
    pub fn with_endpoint_history(mut self, on: bool) -> RunStats {
        self.endpoint_history = on;
        self
    }

    /// Merges one report of `worker_id` (the caller has already dropped duplicates).
    pub fn merge_report(&mut self, worker_id: &str, report: &Report) {
        self.totals.merge(&report.stats);
        self.merge_into_interval(&report.stats);
        self.note_failures_and_exceptions(worker_id, report);
        let counts = self.workers.entry(worker_id.to_owned()).or_default();
        counts.requests += report.stats.request_count();
        counts.failures += report.stats.failure_count();
        counts.reports += 1;
        counts.cut_off += report.cut_off;
        counts.dropped_reports = counts.dropped_reports.max(report.dropped_reports);
        self.cut_off += report.cut_off;
        if let Some(open) = &report.open {
            self.open.merge(open);
            self.open_interval_counts.merge(&open.counts);
            let (start, end) = (report.start_unix_ms, report.end_unix_ms);
            self.open_interval_span = Some(match self.open_interval_span {
                Some((from, to)) => (from.min(start), to.max(end)),
                None => (start, end),
            });
            *self.scheduled_by.entry(worker_id.to_owned()).or_default() += open.counts.scheduled;
        }
        if report.stage > 0 {
            let stage = self.stages.entry(report.stage).or_default();
            stage.totals.merge(&report.stats);
            stage.cut_off += report.cut_off;
            if let Some(open) = &report.open {
                stage.open.merge(open);
            }
        }
    }

    /// Adds a report's endpoints to the open interval: by kind, per endpoint when its
    /// history is kept, and their counts.
    fn merge_into_interval(&mut self, stats: &StatsSet) {
        for (key, endpoint) in &stats.endpoints {
            // One merge per endpoint, as for a single total: the interval's total is made
            // from its kinds when it closes.
            self.open_kinds.get_mut(endpoint.kind).merge(endpoint);
            if self.endpoint_history {
                self.open_endpoints
                    .entry(key.clone())
                    .or_default()
                    .merge(endpoint);
            }
            let counts = match self.open_per_endpoint.get_mut(key) {
                Some(counts) => counts,
                None => self.open_per_endpoint.entry(key.clone()).or_default(),
            };
            counts.0 += endpoint.requests;
            counts.1 += endpoint.failures;
        }
    }

    /// When each failure was first and last seen, and which workers saw each exception.
    fn note_failures_and_exceptions(&mut self, worker_id: &str, report: &Report) {
        for key in report.stats.failures.keys() {
            let seen = (report.start_unix_ms, report.end_unix_ms);
            self.failure_times
                .entry(key.clone())
                .and_modify(|(first, last)| {
                    *first = (*first).min(seen.0);
                    *last = (*last).max(seen.1);
                })
                .or_insert(seen);
        }
        for message in report.stats.exceptions.keys() {
            self.exception_nodes
                .entry(message.clone())
                .or_default()
                .insert(worker_id.to_owned());
        }
    }

    /// Closes the current interval at `now_ms` and appends its history row.
    pub fn close_interval(&mut self, now_ms: i64, users: u32) -> &HistoryRow {
        let since = self.open_since_ms.unwrap_or(now_ms);
        self.compaction.get_or_insert(Compaction::new(since));
        let seconds = ((now_ms - since) as f64 / 1000.0).max(0.0);
        self.open_since_ms = Some(now_ms);
        // The arrivals are placed at the times the reports cover, not when they arrived.
        if let Some((from, to)) = self.open_interval_span.take() {
            let counts = std::mem::take(&mut self.open_interval_counts);
            stages::push_interval(
                &mut self.open_intervals,
                OpenInterval::new(from, to, &counts),
            );
        }
        self.push_interval(seconds);
        let row = self.history_row(now_ms, users);
        self.history.push(row);
        self.bound_history();
        let last = self.history.len() - 1;
        &self.history[last]
    }

    /// Moves the open interval into the grand total and the window of recent intervals.
    fn push_interval(&mut self, seconds: f64) {
        let interval = Interval {
            seconds,
            kinds: std::mem::take(&mut self.open_kinds),
            per_endpoint: std::mem::take(&mut self.open_per_endpoint),
            endpoints: std::mem::take(&mut self.open_endpoints),
        };
        interval.kinds.merge_into(&mut self.grand_total);
        self.grand_total.kind = None;
        for (kind, stats) in interval.kinds.kinds() {
            *self.kind_requests.entry(kind).or_default() += stats.requests;
        }
        self.window.push_back(interval);
        while self.window.len() > WINDOW_INTERVALS {
            self.window.pop_front();
        }
    }

    /// The history row of the interval just closed: the window's rates and percentiles,
    /// the run's totals, and each kind's line.
    fn history_row(&self, now_ms: i64, users: u32) -> HistoryRow {
        // The window by kind (a few merges per interval, not per report), then its total.
        let mut current_kinds = ByKind::default();
        for interval in &self.window {
            current_kinds.merge(&interval.kinds);
        }
        let mut current = EndpointStats::default();
        current_kinds.merge_into(&mut current);
        let window_seconds = self.window_seconds();
        let totals = &self.grand_total;
        // Each percentile is a scan of the counters: take them once, then pick from them.
        let total_percentiles_ms = percentiles(totals);
        let current_percentiles_ms = percentiles(&current);
        let pick = |list: &[f64], p: f64| {
            let at = PERCENTILES.iter().position(|&q| q == p);
            at.and_then(|i| list.get(i)).copied().unwrap_or(0.0)
        };
        HistoryRow {
            unix_ms: now_ms,
            users,
            rps: per_second(current.requests, window_seconds),
            fps: per_second(current.failures, window_seconds),
            p50_ms: pick(&current_percentiles_ms, 50.0),
            p95_ms: pick(&current_percentiles_ms, 95.0),
            p99_ms: pick(&current_percentiles_ms, 99.0),
            total_requests: totals.requests,
            total_failures: totals.failures,
            total_avg_ms: totals.avg_ms(),
            total_median_ms: pick(&total_percentiles_ms, 50.0),
            total_min_ms: totals.min_ms(),
            total_max_ms: totals.max_ms(),
            total_avg_content_bytes: totals.avg_content_bytes(),
            total_percentiles_ms,
            current_percentiles_ms,
            endpoints: if self.endpoint_history {
                self.endpoint_lines()
            } else {
                Vec::new()
            },
            kinds: self.kind_lines(&current_kinds, window_seconds),
        }
    }

    /// Each kind's line: its rate and percentiles over the window, and its total requests.
    fn kind_lines(
        &self,
        current_kinds: &ByKind,
        window_seconds: f64,
    ) -> BTreeMap<SloKind, KindHistory> {
        self.kind_requests
            .iter()
            .map(|(&kind, &total_requests)| {
                let window = current_kinds.get(kind);
                let at = |p: f64| (!window.is_empty()).then(|| window.percentile_ms(p));
                let line = KindHistory {
                    rps: per_second(window.requests, window_seconds),
                    p50_ms: at(50.0),
                    p95_ms: at(95.0),
                    p99_ms: at(99.0),
                    total_requests,
                };
                (kind, line)
            })
            .collect()
    }

    /// Moves the rows older than an hour into coarse rows, spilling each first.
    fn bound_history(&mut self) {
        let Some(mut compaction) = self.compaction.filter(|_| !self.spill_failed) else {
            return;
        };
        while let Some(oldest) = compaction.due(&self.history) {
            if let Err(err) = self.spill_row(oldest) {
                warn!("cannot spill the run's history, keeping it all in memory: {err}");
                self.spill_failed = true;
                break;
            }
            compaction.coarsen_oldest(&mut self.history);
        }
        self.compaction = Some(compaction);
    }

    fn spill_row(&mut self, index: usize) -> io::Result<()> {
        let spill = match &mut self.spill {
            Some(spill) => spill,
            None => {
                let dir = self.spill_dir.clone().unwrap_or_else(std::env::temp_dir);
                self.spill.insert(Spill::create(&dir)?)
            }
        };
        spill.append(&self.history[index])
    }

    /// Every history row at full resolution, oldest first: the spilled rows read back, then
    /// those still in memory. This is what `_stats_history.csv` is written from.
    pub fn complete_history(
        &self,
    ) -> io::Result<impl Iterator<Item = io::Result<HistoryRow>> + '_> {
        let spilled = match &self.spill {
            Some(spill) => Some(spill.read()?),
            None => None,
        };
        let coarse = self.compaction.map_or(0, |c| c.coarse_rows);
        let recent = self.history.get(coarse..).unwrap_or_default();
        Ok(spilled
            .into_iter()
            .flatten()
            .chain(recent.iter().cloned().map(Ok)))
    }

    /// Rows spilled to disk so far.
    pub fn spilled_rows(&self) -> u64 {
        self.spill.as_ref().map_or(0, |s| s.rows)
    }

    /// A rough count of the bytes the history holds in memory.
    pub fn history_bytes(&self) -> usize {
        history::rows_bytes(&self.history)
    }

    /// Marks the start of the first interval.
    pub fn start(&mut self, now_ms: i64) {
        self.open_since_ms = Some(now_ms);
    }

    /// All requests of the current window merged (for current percentiles).
    pub fn current_total(&self) -> EndpointStats {
        let mut total = EndpointStats::default();
        for interval in &self.window {
            interval.kinds.merge_into(&mut total);
        }
        total.kind = None;
        total
    }

    /// Requests and failures per second of one endpoint over the current window.
    pub fn current_rate(&self, key: &EndpointKey) -> (f64, f64) {
        let (mut requests, mut failures) = (0, 0);
        for interval in &self.window {
            if let Some(&(r, f)) = interval.per_endpoint.get(key) {
                requests += r;
                failures += f;
            }
        }
        let seconds = self.window_seconds();
        (per_second(requests, seconds), per_second(failures, seconds))
    }

    /// One endpoint's requests over the current window; `None` unless per-endpoint
    /// windows are kept (`RunStats::new(true)`).
    pub fn current_endpoint(&self, key: &EndpointKey) -> Option<EndpointStats> {
        if !self.endpoint_history {
            return None;
        }
        let mut current = EndpointStats::default();
        for interval in &self.window {
            if let Some(stats) = interval.endpoints.get(key) {
                current.merge(stats);
            }
        }
        Some(current)
    }

    fn endpoint_lines(&self) -> Vec<EndpointHistory> {
        self.totals
            .endpoints
            .iter()
            .map(|(key, totals)| {
                let mut current = EndpointStats::default();
                for interval in &self.window {
                    if let Some(stats) = interval.endpoints.get(key) {
                        current.merge(stats);
                    }
                }
                let (rps, fps) = self.current_rate(key);
                EndpointHistory {
                    method: key.method.clone(),
                    name: key.name.clone(),
                    rps,
                    fps,
                    percentiles_ms: percentiles(&current),
                    total_requests: totals.requests,
                    total_failures: totals.failures,
                    total_median_ms: totals.percentile_ms(50.0),
                    total_avg_ms: totals.avg_ms(),
                    total_min_ms: totals.min_ms(),
                    total_max_ms: totals.max_ms(),
                    total_avg_content_bytes: totals.avg_content_bytes(),
                }
            })
            .collect()
    }

    fn window_seconds(&self) -> f64 {
        self.window.iter().map(|i| i.seconds).sum()
    }
}

/// [`PERCENTILES`] of `stats`, ms; empty when it holds no request.
pub fn percentiles(stats: &EndpointStats) -> Vec<f64> {
    if stats.is_empty() {
        Vec::new()
    } else {
        PERCENTILES
            .iter()
            .map(|&p| stats.percentile_ms(p))
            .collect()
    }
}

#[cfg(test)]
mod long_run_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use lv_common::kind::SloKind;

    fn report(seq: u64, samples: &[(u64, Option<&str>)]) -> Report {
        let mut stats = StatsSet::default();
        for &(us, error) in samples {
            stats.record_request("GET", "ATLAS /health", Some(SloKind::Health), us, 10, error);
        }
        Report {
            run_id: "r".into(),
            seq,
            start_unix_ms: 0,
            end_unix_ms: 0,
            users_running: 1,
            stats,
            last: false,
            cut_off: 1,
            dropped_reports: 0,
            open: None,
            stage: 0,
        }
    }

    #[test]
    fn merges_reports_and_counts_per_worker() {
        let mut run = RunStats::default();
        run.merge_report("w1", &report(1, &[(1000, None), (2000, Some("HTTP 500"))]));
        run.merge_report("w2", &report(1, &[(3000, None)]));
        let total = run.totals.total();
        assert_eq!((total.requests, total.failures), (3, 1));
        assert_eq!(run.workers["w1"].requests, 2);
        assert_eq!(run.workers["w1"].failures, 1);
        assert_eq!(run.workers["w2"].requests, 1);
        assert_eq!(run.cut_off, 2);
        assert_eq!(total.max_ms(), 3.0);
    }

    #[test]
    fn history_rows_use_the_window() {
        let mut run = RunStats::default();
        run.start(0);
        run.merge_report("w1", &report(1, &[(1000, None); 20]));
        let row = run.close_interval(2000, 5).clone();
        assert_eq!(row.total_requests, 20);
        assert!((row.rps - 10.0).abs() < 1e-9, "{}", row.rps);
        assert_eq!(row.users, 5);
        for i in 0..WINDOW_INTERVALS {
            run.close_interval(4000 + 2000 * i as i64, 5);
        }
        let quiet = run.history.last().expect("rows");
        assert_eq!(quiet.rps, 0.0);
        assert_eq!(quiet.total_requests, 20);
        let key = EndpointKey {
            method: "GET".into(),
            name: "ATLAS /health".into(),
        };
        assert_eq!(run.current_rate(&key), (0.0, 0.0));
    }

    /// A report of `health` health checks at 0.9 to 1.1 ms and `chats` chat turns at 90 to
    /// 110 ms, spread evenly.
    fn two_kinds(seq: u64, health: u64, chats: u64) -> Report {
        let mut report = report(seq, &[]);
        for i in 0..health {
            let us = 900 + 200 * i / health.max(1);
            let stats = &mut report.stats;
            stats.record_request("GET", "ATLAS /health", Some(SloKind::Health), us, 10, None);
        }
        for i in 0..chats {
            let us = 90_000 + 20_000 * i / chats.max(1);
            let stats = &mut report.stats;
            stats.record_request("POST", "ARIA /chat", Some(SloKind::Chat), us, 10, None);
        }
        report
    }

    #[test]
    fn each_kind_has_its_own_window_percentiles_and_rate() {
        let mut run = RunStats::default();
        run.start(0);
        run.merge_report("w1", &two_kinds(1, 60, 20));
        run.merge_report("w2", &two_kinds(1, 40, 30));
        let row = run.close_interval(2_000, 5).clone();
        assert_eq!(
            row.kinds.keys().copied().collect::<Vec<_>>(),
            [SloKind::Health, SloKind::Chat]
        );
        let (health, chat) = (row.kinds[&SloKind::Health], row.kinds[&SloKind::Chat]);
        let ms = |v: Option<f64>| v.expect("a window percentile");
        // Each kind's p95 is near its own latency, not the other's.
        assert!((1.05..=1.1).contains(&ms(health.p95_ms)), "{health:?}");
        assert!((0.95..=1.05).contains(&ms(health.p50_ms)), "{health:?}");
        assert!((105.0..=110.0).contains(&ms(chat.p95_ms)), "{chat:?}");
        assert!((95.0..=105.0).contains(&ms(chat.p50_ms)), "{chat:?}");
        assert!(ms(chat.p99_ms) >= ms(chat.p95_ms));
        assert_eq!((health.rps, chat.rps), (50.0, 25.0));
        assert_eq!((health.total_requests, chat.total_requests), (100, 50));
        // The aggregated line is the kinds merged: its p95 is chat's, its median health's.
        assert!((105.0..=110.0).contains(&row.p95_ms), "{}", row.p95_ms);
        assert!(row.p50_ms < 1.1, "{}", row.p50_ms);
        assert_eq!(row.total_requests, 150);
        assert_eq!(run.current_total().requests, 150);
        assert_eq!(run.current_total().kind, None);

        // Only chats from now on: health keeps its window until it rolls out, then has a
        // rate of 0 and no percentiles, and still its requests so far.
        for i in 1..=WINDOW_INTERVALS as u64 {
            run.merge_report("w1", &two_kinds(1 + i, 0, 10));
            let row = run.close_interval(2_000 * (1 + i as i64), 5);
            let health = row.kinds[&SloKind::Health];
            let rolled_out = i == WINDOW_INTERVALS as u64;
            assert_eq!(
                health.p95_ms.is_none(),
                rolled_out,
                "interval {i}: {health:?}"
            );
            assert_eq!(health.total_requests, 100);
            assert_eq!(row.kinds[&SloKind::Chat].total_requests, 50 + 10 * i);
        }
        let last = run.history.last().expect("rows");
        assert_eq!(last.kinds[&SloKind::Health].rps, 0.0);
        assert!((last.kinds[&SloKind::Chat].rps - 5.0).abs() < 1e-9);
        assert!((100.0..=110.0).contains(&ms(last.kinds[&SloKind::Chat].p95_ms)));
    }

    #[test]
    fn kind_lines_are_in_the_json_and_optional_when_read() {
        let mut run = RunStats::default();
        run.start(0);
        run.merge_report("w1", &two_kinds(1, 10, 0));
        run.merge_report("w1", &report(2, &[(5_000, None)]));
        run.close_interval(2_000, 1);
        let mut unkinded = report(3, &[]);
        unkinded
            .stats
            .record_request("GET", "/x", None, 1_000, 1, None);
        run.merge_report("w1", &unkinded);
        run.close_interval(4_000, 1);
        let row = run.history.last().expect("a row").clone();
        // Endpoints without a kind are in the aggregate only.
        assert_eq!(row.kinds.len(), 1);
        assert_eq!(row.kinds[&SloKind::Health].total_requests, 11);
        assert_eq!(row.total_requests, 12);
        let json = serde_json::to_value(&row).expect("json");
        let health = &json["kinds"]["health"];
        assert_eq!(health["total_requests"], 11);
        assert!(
            health["p95_ms"].as_f64().is_some_and(|p| p > 4.9),
            "{health}"
        );
        let back: HistoryRow = serde_json::from_value(json.clone()).expect("read back");
        assert_eq!(back, row);
        // A row written before kinds were kept still reads, with none.
        let mut old = json;
        old.as_object_mut().expect("an object").remove("kinds");
        let old: HistoryRow = serde_json::from_value(old).expect("an old row");
        assert!(old.kinds.is_empty());
        // A run without kinds writes no `kinds` field.
        let mut plain = RunStats::default();
        plain.start(0);
        plain.merge_report("w1", &unkinded);
        let row = plain.close_interval(2_000, 1);
        assert!(row.kinds.is_empty());
        let text = serde_json::to_string(row).expect("json");
        assert!(!text.contains("kinds"), "{text}");
    }

    #[test]
    fn stage_totals_add_up_to_the_run() {
        use lv_common::load::RequestTiming;
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(12);
        let mut run = RunStats::default();
        run.start(0);
        let names = ["/a", "/b", "/c"];
        for seq in 1..=300u64 {
            let mut stats = StatsSet::default();
            let mut open = OpenStats::default();
            for _ in 0..rng.random_range(0..20) {
                let name = names[rng.random_range(0..names.len())];
                let error = rng.random_bool(0.1).then_some("HTTP 500");
                let us = rng.random_range(100..50_000);
                stats.record_request("GET", name, None, us, 10, error);
                let lag = std::time::Duration::from_micros(rng.random_range(0..500));
                open.record("GET", name, RequestTiming::new(lag, lag * 3));
            }
            if rng.random_bool(0.05) {
                stats.record_exception("boom");
            }
            open.counts.scheduled = rng.random_range(0..20);
            open.counts.started = open.counts.scheduled;
            let mut report = report(seq, &[]);
            report.stats = stats;
            report.open = Some(open);
            report.cut_off = rng.random_range(0..3);
            report.stage = rng.random_range(1..=3);
            run.merge_report(if seq % 2 == 0 { "w1" } else { "w2" }, &report);
            if seq % 10 == 0 {
                run.close_interval(seq as i64 * 100, 1);
            }
        }
        assert_eq!(run.stages.keys().copied().collect::<Vec<_>>(), [1, 2, 3]);
        let sum = |f: &dyn Fn(&StageStats) -> u64| run.stages.values().map(f).sum::<u64>();
        let total = run.totals.total();
        assert!(total.requests > 1000, "{}", total.requests);
        assert_eq!(sum(&|s| s.totals.request_count()), total.requests);
        assert_eq!(sum(&|s| s.totals.failure_count()), total.failures);
        assert_eq!(sum(&|s| s.totals.total().total_us), total.total_us);
        assert_eq!(
            sum(&|s| s.totals.failures.values().sum()),
            run.totals.failures.values().sum::<u64>()
        );
        assert_eq!(
            sum(&|s| s.totals.exceptions.values().sum()),
            run.totals.exceptions.values().sum::<u64>()
        );
        assert_eq!(sum(&|s| s.cut_off), run.cut_off);
        assert_eq!(sum(&|s| s.open.counts.scheduled), run.open.counts.scheduled);
        assert_eq!(
            sum(&|s| s.open.total_lag().requests),
            run.open.total_lag().requests
        );
        for (key, endpoint) in &run.totals.endpoints {
            let per_stage = sum(&|s| s.totals.endpoints.get(key).map_or(0, |e| e.requests));
            assert_eq!(per_stage, endpoint.requests, "{}", key.name);
        }
        let intervals: u64 = run.open_intervals.iter().map(|i| i.scheduled).sum();
        assert_eq!(run.open_intervals.len(), 30);
        assert_eq!(intervals, run.open.counts.scheduled);
    }

    #[test]
    fn a_run_without_stages_keeps_no_stage_stats() {
        let mut run = RunStats::default();
        run.merge_report("w1", &report(1, &[(1000, None)]));
        assert!(run.stages.is_empty());
        assert!(run.open_intervals.is_empty());
    }

    #[test]
    fn open_intervals_span_the_windows_of_their_reports() {
        let mut run = RunStats::default();
        run.start(0);
        for (worker, start, end, started) in [("w1", 1_000, 3_000, 30), ("w2", 1_100, 3_050, 20)] {
            let mut report = report(1, &[]);
            (report.start_unix_ms, report.end_unix_ms) = (start, end);
            let mut open = OpenStats::default();
            open.counts.started = started;
            report.open = Some(open);
            run.merge_report(worker, &report);
        }
        run.close_interval(4_000, 1);
        run.close_interval(6_000, 1);
        assert_eq!(
            run.open_intervals,
            [OpenInterval {
                from_unix_ms: 1_000,
                to_unix_ms: 3_050,
                scheduled: 0,
                started: 50,
                dropped: 0,
            }],
            "an interval without open reports adds no row"
        );
    }
}
