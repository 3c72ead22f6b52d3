//! Bounded run history. The last hour stays at full resolution; older rows are merged into
//! coarse rows (a minute each at first, twice as wide whenever there are more than
//! [`MAX_COARSE_ROWS`]), so a run of any length keeps at most
//! [`MAX_RECENT_ROWS`] + [`MAX_COARSE_ROWS`] rows in memory. Each row that leaves full
//! resolution is first appended to the run's spill file, so the CSV history on disk stays
//! complete (see [`super::spill`]).
//!
//! A coarse row still adds up: its cumulative columns (`total_*`) are those of the last row it
//! covers, which are exact because they count the run so far; its rates are its span's
//! requests and failures divided by its span's seconds (from the cumulative counts at both
//! ends, so they are exact too); its window percentiles (`p50_ms`, `p95_ms`, `p99_ms`,
//! `current_percentiles_ms`) are the highest of the rows it covers, so a spike never vanishes
//! from a chart; they are an envelope, not the percentiles of the merged span (those would need
//! a histogram per row). Its user count is that of its last row. Its per-kind lines (`kinds`)
//! follow the same rules: requests so far from the last row, rates from the kind's cumulative
//! counts at both ends, window percentiles the highest of the rows covered.

use std::collections::BTreeMap;

use lv_common::kind::SloKind;

use super::rows::{EndpointHistory, HistoryRow, KindHistory, per_second};

/// How long rows stay at full resolution, ms.
pub const RECENT_MS: i64 = 3_600_000;
/// At most this many full-resolution rows, whatever the report interval (an hour at 1 s).
pub const MAX_RECENT_ROWS: usize = 3_600;
/// At most this many coarse rows; past it, coarse rows are merged in pairs.
pub const MAX_COARSE_ROWS: usize = 720;
/// Span of a coarse row to begin with, ms.
pub const FIRST_BUCKET_MS: i64 = 60_000;

/// Where the coarse rows end in the history and how wide they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Compaction {
    /// The first `coarse_rows` rows of the history are coarse.
    pub coarse_rows: usize,
    /// Span of one coarse row, ms.
    pub bucket_ms: i64,
    /// Start of the run, Unix ms: coarse rows are aligned to it.
    pub origin_ms: i64,
}

impl Compaction {
    /// No coarse row yet, buckets aligned to `origin_ms`.
    pub fn new(origin_ms: i64) -> Compaction {
        Compaction {
            coarse_rows: 0,
            bucket_ms: FIRST_BUCKET_MS,
            origin_ms,
        }
    }

    /// The oldest full-resolution row of `history` when it is due to leave full resolution
    /// (older than [`RECENT_MS`] before the newest row, or past [`MAX_RECENT_ROWS`]).
    pub fn due(&self, history: &[HistoryRow]) -> Option<usize> {
        let recent = history.get(self.coarse_rows..)?;
        let (oldest, newest) = (recent.first()?, recent.last()?);
        let too_old = newest.unix_ms - oldest.unix_ms >= RECENT_MS;
        (recent.len() > 1 && (too_old || recent.len() > MAX_RECENT_ROWS))
            .then_some(self.coarse_rows)
    }

    /// Merges the oldest full-resolution row (which the caller has spilled) into the coarse
    /// rows, then halves the coarse rows if there are too many.
    pub fn coarsen_oldest(&mut self, history: &mut Vec<HistoryRow>) {
        let row = history.remove(self.coarse_rows);
        let bucket = self.bucket(&row);
        let last = self.coarse_rows.checked_sub(1);
        match last.filter(|&i| self.bucket(&history[i]) == bucket) {
            Some(i) => {
                let (before, from) = history.split_at_mut(i);
                from[0] = combine(before.last(), self.origin_ms, &from[0], &row);
            }
            None => {
                let base = last.map(|b| &history[b]);
                let coarse = combine(base, self.origin_ms, &row, &row);
                history.insert(self.coarse_rows, coarse);
                self.coarse_rows += 1;
            }
        }
        while self.coarse_rows > MAX_COARSE_ROWS {
            self.bucket_ms *= 2;
            self.regroup(history);
        }
    }

    /// Merges the coarse rows that now share a bucket.
    fn regroup(&mut self, history: &mut Vec<HistoryRow>) {
        let recent = history.split_off(self.coarse_rows);
        let mut coarse: Vec<HistoryRow> = Vec::with_capacity(self.coarse_rows / 2 + 1);
        for row in history.drain(..) {
            let n = coarse.len();
            if n > 0 && self.bucket(&coarse[n - 1]) == self.bucket(&row) {
                let (before, last) = coarse.split_at_mut(n - 1);
                last[0] = combine(before.last(), self.origin_ms, &last[0], &row);
            } else {
                coarse.push(row);
            }
        }
        self.coarse_rows = coarse.len();
        *history = coarse;
        history.extend(recent);
    }

    /// Index of the bucket a row ends in: buckets are `(origin + k*w, origin + (k+1)*w]`.
    fn bucket(&self, row: &HistoryRow) -> i64 {
        (row.unix_ms - self.origin_ms - 1).div_euclid(self.bucket_ms)
    }
}

/// The row covering everything from just after `base` (the run's start at `origin_ms` when
/// `None`) to `last`, where `first` is the earliest row (or coarse row) it absorbs.
pub(super) fn combine(
    base: Option<&HistoryRow>,
    origin_ms: i64,
    first: &HistoryRow,
    last: &HistoryRow,
) -> HistoryRow {
    let (since_ms, before_requests, before_failures) = base.map_or((origin_ms, 0, 0), |b| {
        (b.unix_ms, b.total_requests, b.total_failures)
    });
    let seconds = (last.unix_ms - since_ms) as f64 / 1000.0;
    let endpoints = last
        .endpoints
        .iter()
        .map(|line| {
            let before = base.and_then(|b| find(&b.endpoints, line));
            let earlier = find(&first.endpoints, line);
            let (requests, failures) =
                before.map_or((0, 0), |b| (b.total_requests, b.total_failures));
            EndpointHistory {
                rps: per_second(line.total_requests.saturating_sub(requests), seconds),
                fps: per_second(line.total_failures.saturating_sub(failures), seconds),
                percentiles_ms: envelope(
                    earlier.map_or(&[][..], |e| &e.percentiles_ms),
                    &line.percentiles_ms,
                ),
                ..line.clone()
            }
        })
        .collect();
    let kinds = combine_kinds(base, first, last, seconds);
    HistoryRow {
        rps: per_second(last.total_requests.saturating_sub(before_requests), seconds),
        fps: per_second(last.total_failures.saturating_sub(before_failures), seconds),
        p50_ms: first.p50_ms.max(last.p50_ms),
        p95_ms: first.p95_ms.max(last.p95_ms),
        p99_ms: first.p99_ms.max(last.p99_ms),
        current_percentiles_ms: envelope(
            &first.current_percentiles_ms,
            &last.current_percentiles_ms,
        ),
        endpoints,
        kinds,
        ..last.clone()
    }
}

/// Each kind's line of a combined row: its rate over the span and the highest of its
/// window percentiles at either end.
fn combine_kinds(
    base: Option<&HistoryRow>,
    first: &HistoryRow,
    last: &HistoryRow,
    seconds: f64,
) -> BTreeMap<SloKind, KindHistory> {
    last.kinds
        .iter()
        .map(|(&kind, line)| {
            let before = base
                .and_then(|b| b.kinds.get(&kind))
                .map_or(0, |b| b.total_requests);
            let earlier = first.kinds.get(&kind);
            let high = |f: fn(&KindHistory) -> Option<f64>| highest(earlier.and_then(f), f(line));
            let line = KindHistory {
                rps: per_second(line.total_requests.saturating_sub(before), seconds),
                p50_ms: high(|l| l.p50_ms),
                p95_ms: high(|l| l.p95_ms),
                p99_ms: high(|l| l.p99_ms),
                total_requests: line.total_requests,
            };
            (kind, line)
        })
        .collect()
}

/// The higher of two window percentiles; a missing one (no request) adds nothing.
fn highest(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn find<'a>(lines: &'a [EndpointHistory], like: &EndpointHistory) -> Option<&'a EndpointHistory> {
    lines
        .iter()
        .find(|l| l.method == like.method && l.name == like.name)
}

/// Element-wise highest of two percentile lists; an empty list (no request) adds nothing.
fn envelope(a: &[f64], b: &[f64]) -> Vec<f64> {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_vec(),
        (_, true) => a.to_vec(),
        _ => a.iter().zip(b).map(|(x, y)| x.max(*y)).collect(),
    }
}

/// A rough count of the bytes `rows` hold, heap included.
pub fn rows_bytes(rows: &[HistoryRow]) -> usize {
    let f64s = |v: &Vec<f64>| v.capacity() * size_of::<f64>();
    rows.iter()
        .map(|row| {
            size_of::<HistoryRow>()
                + f64s(&row.total_percentiles_ms)
                + f64s(&row.current_percentiles_ms)
                + row
                    .endpoints
                    .iter()
                    .map(|e| {
                        size_of::<EndpointHistory>()
                            + e.method.capacity()
                            + e.name.capacity()
                            + f64s(&e.percentiles_ms)
                    })
                    .sum::<usize>()
                // A B-tree node per few entries: count each entry with a pointer's overhead.
                + row.kinds.len()
                    * (size_of::<lv_common::kind::SloKind>() + size_of::<KindHistory>() + size_of::<usize>())
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lv_common::kind::SloKind;

    fn row(unix_ms: i64, requests: u64, failures: u64, p99: f64) -> HistoryRow {
        let line = EndpointHistory {
            method: "GET".into(),
            name: "ATLAS /health".into(),
            rps: 99.0,
            fps: 99.0,
            percentiles_ms: vec![p99; 2],
            total_requests: requests,
            total_failures: failures,
            total_median_ms: 1.0,
            total_avg_ms: 1.0,
            total_min_ms: 1.0,
            total_max_ms: p99,
            total_avg_content_bytes: 5.0,
        };
        HistoryRow {
            unix_ms,
            users: (unix_ms / 1000) as u32,
            rps: 99.0,
            fps: 99.0,
            p50_ms: 1.0,
            p95_ms: p99,
            p99_ms: p99,
            total_requests: requests,
            total_failures: failures,
            total_avg_ms: 1.0,
            total_median_ms: 1.0,
            total_min_ms: 1.0,
            total_max_ms: p99,
            total_avg_content_bytes: 5.0,
            total_percentiles_ms: vec![p99; 2],
            current_percentiles_ms: vec![p99; 2],
            endpoints: vec![line],
            kinds: Default::default(),
        }
    }

    /// `row` with a health line and, when `chat` is given, a chat line: (requests so far,
    /// window p95).
    fn kinded(
        base: HistoryRow,
        health: (u64, Option<f64>),
        chat: Option<(u64, f64)>,
    ) -> HistoryRow {
        let line = |total_requests, p95: Option<f64>| KindHistory {
            rps: 99.0,
            p50_ms: p95.map(|p| p / 2.0),
            p95_ms: p95,
            p99_ms: p95,
            total_requests,
        };
        let mut row = base;
        row.kinds.insert(SloKind::Health, line(health.0, health.1));
        if let Some((requests, p95)) = chat {
            row.kinds.insert(SloKind::Chat, line(requests, Some(p95)));
        }
        row
    }

    #[test]
    fn a_combined_row_has_each_kinds_span_rate_and_highest_percentiles() {
        use SloKind::{Chat, Health};
        // Health: 40 requests before, 440 at the end, over 10 s; its p95 was 2 ms then
        // absent (no health request in the last window). Chat starts within the span.
        let base = kinded(row(10_000, 100, 0, 5.0), (40, Some(1.0)), None);
        let first = kinded(row(12_000, 150, 0, 9.0), (90, Some(2.0)), Some((10, 120.0)));
        let last = kinded(row(20_000, 500, 0, 7.0), (440, None), Some((60, 100.0)));
        let merged = combine(Some(&base), 0, &first, &last);
        let health = merged.kinds[&Health];
        assert_eq!((health.rps, health.total_requests), (40.0, 440));
        assert_eq!((health.p50_ms, health.p95_ms), (Some(1.0), Some(2.0)));
        let chat = merged.kinds[&Chat];
        assert_eq!((chat.rps, chat.total_requests), (6.0, 60));
        assert_eq!((chat.p50_ms, chat.p95_ms), (Some(60.0), Some(120.0)));
        assert_eq!(highest(None, None), None);
        assert_eq!(highest(None, Some(3.0)), Some(3.0));
    }

    #[test]
    fn a_combined_row_has_its_span_rates_the_last_totals_and_the_highest_percentiles() {
        let base = row(10_000, 100, 10, 5.0);
        let first = row(12_000, 150, 10, 9.0);
        let last = row(20_000, 500, 30, 7.0);
        let merged = combine(Some(&base), 0, &first, &last);
        assert_eq!(merged.unix_ms, 20_000);
        assert_eq!((merged.total_requests, merged.total_failures), (500, 30));
        assert_eq!((merged.rps, merged.fps), (40.0, 2.0));
        assert_eq!((merged.p95_ms, merged.p99_ms), (9.0, 9.0));
        assert_eq!(merged.current_percentiles_ms, vec![9.0, 9.0]);
        assert_eq!(merged.users, 20);
        let line = &merged.endpoints[0];
        assert_eq!((line.rps, line.fps, line.total_requests), (40.0, 2.0, 500));
        assert_eq!(line.percentiles_ms, vec![9.0, 9.0]);
        let from_start = combine(None, 0, &first, &first);
        assert_eq!(from_start.rps, 12.5);
    }

    #[test]
    fn an_empty_percentile_list_adds_nothing() {
        assert_eq!(envelope(&[], &[1.0, 2.0]), vec![1.0, 2.0]);
        assert_eq!(envelope(&[3.0, 1.0], &[]), vec![3.0, 1.0]);
        assert_eq!(envelope(&[3.0, 1.0], &[1.0, 2.0]), vec![3.0, 2.0]);
    }

    #[test]
    fn rows_older_than_an_hour_fall_into_minute_rows_then_wider_ones() {
        let mut history = Vec::new();
        let mut compaction = Compaction::new(0);
        let step = 2_000;
        let mut steps = 0;
        while compaction.bucket_ms == FIRST_BUCKET_MS {
            steps += 1;
            history.push(row(steps * step, steps as u64, 0, 1.0));
            while compaction.due(&history).is_some() {
                compaction.coarsen_oldest(&mut history);
            }
            if steps == RECENT_MS / step + 60 {
                // Two minutes have left full resolution: two coarse rows of 30 rows each.
                assert_eq!(compaction.coarse_rows, 2);
                assert_eq!((history[0].unix_ms, history[1].unix_ms), (60_000, 120_000));
                assert_eq!((history[0].rps, history[1].rps), (0.5, 0.5));
            }
        }
        assert_eq!(compaction.bucket_ms, 2 * FIRST_BUCKET_MS);
        assert!(compaction.coarse_rows <= MAX_COARSE_ROWS / 2 + 1);
        let coarse = &history[..compaction.coarse_rows];
        assert!(
            coarse
                .iter()
                .all(|r| r.unix_ms % (2 * FIRST_BUCKET_MS) == 0 || r == &coarse[coarse.len() - 1])
        );
        assert!(coarse.iter().all(|r| (r.rps - 0.5).abs() < 1e-9));
        assert_eq!(
            history.len() - compaction.coarse_rows,
            (RECENT_MS / step) as usize
        );
    }
}
