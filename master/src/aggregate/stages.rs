//! Per-stage totals and the open model's per-interval arrival counts.
//!
//! Every report of a staged run names its stage (workers close an interval at each stage
//! boundary), so a stage's totals are the exact merge of its reports' deltas, and the
//! stages' totals add up to the run's. Memory: one stats set per stage (stages are few),
//! and at most [`MAX_OPEN_INTERVALS`] interval rows (adjacent rows are merged in pairs past
//! it, which keeps their counts exact).

use lv_common::load::{ArrivalCounts, OpenStats};
use lv_common::stats::StatsSet;
use serde::{Deserialize, Serialize};

/// At most this many open-model interval rows; past it, rows are merged in pairs.
pub const MAX_OPEN_INTERVALS: usize = 4_096;

/// Everything merged for one stage.
#[derive(Debug, Clone, Default)]
pub struct StageStats {
    /// Requests, failures and exceptions of the stage's reports.
    pub totals: StatsSet,
    /// Requests cut off by stops in the stage.
    pub cut_off: u64,
    /// Open model: arrival counters, service times and schedule lags of the stage.
    pub open: OpenStats,
}

/// Open model: the arrivals of the reports merged between two interval closes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenInterval {
    /// Start of the earliest of those reports' windows, Unix ms.
    pub from_unix_ms: i64,
    /// End of the latest of them, Unix ms.
    pub to_unix_ms: i64,
    /// Arrivals whose planned instant came.
    pub scheduled: u64,
    /// Arrivals whose iteration began.
    pub started: u64,
    /// Arrivals dropped at the in-flight cap.
    pub dropped: u64,
}

impl OpenInterval {
    /// The interval `[from, to)` with `counts`.
    pub fn new(from_unix_ms: i64, to_unix_ms: i64, counts: &ArrivalCounts) -> OpenInterval {
        OpenInterval {
            from_unix_ms,
            to_unix_ms,
            scheduled: counts.scheduled,
            started: counts.started,
            dropped: counts.dropped,
        }
    }

    /// The interval covering `self` then `next`, counts added.
    fn joined(&self, next: &OpenInterval) -> OpenInterval {
        OpenInterval {
            from_unix_ms: self.from_unix_ms,
            to_unix_ms: next.to_unix_ms,
            scheduled: self.scheduled + next.scheduled,
            started: self.started + next.started,
            dropped: self.dropped + next.dropped,
        }
    }
}

/// Appends `interval`, merging rows in pairs while there are more than
/// [`MAX_OPEN_INTERVALS`].
pub(super) fn push_interval(rows: &mut Vec<OpenInterval>, interval: OpenInterval) {
    rows.push(interval);
    if rows.len() > MAX_OPEN_INTERVALS {
        *rows = rows
            .chunks(2)
            .map(|pair| pair[1..].iter().fold(pair[0], |row, next| row.joined(next)))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_rows_stay_bounded_and_keep_their_counts() {
        let mut rows = Vec::new();
        let counts = ArrivalCounts {
            scheduled: 3,
            started: 2,
            dropped: 1,
            ..ArrivalCounts::default()
        };
        let n = 3 * MAX_OPEN_INTERVALS as i64;
        for i in 0..n {
            push_interval(&mut rows, OpenInterval::new(i * 10, (i + 1) * 10, &counts));
        }
        assert!(rows.len() <= MAX_OPEN_INTERVALS);
        assert_eq!(rows.iter().map(|r| r.scheduled).sum::<u64>(), 3 * n as u64);
        assert_eq!(rows.iter().map(|r| r.started).sum::<u64>(), 2 * n as u64);
        assert_eq!(rows.iter().map(|r| r.dropped).sum::<u64>(), n as u64);
        assert_eq!(rows[0].from_unix_ms, 0);
        assert_eq!(rows[rows.len() - 1].to_unix_ms, n * 10);
        assert!(
            rows.windows(2)
                .all(|w| w[0].to_unix_ms == w[1].from_unix_ms)
        );
    }
}
