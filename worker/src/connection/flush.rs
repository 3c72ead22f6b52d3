//! When a report interval closes at a stage boundary, and which stage a report belongs to.
//!
//! Besides the periodic report, a run with stages closes the interval at each stage
//! boundary of the master's [`StageClock`] (on the worker's clock, against the clock's
//! Unix ms start), so no report spans two stages by more than the flush's jitter. A report
//! is tagged with the stage of its interval's midpoint, so a few ms of jitter at the
//! flush cannot mis-tag it. Requests are recorded when they complete, so a request counts
//! in the stage in which it completes.

use std::time::Duration;

use lv_common::wire::StageClock;

/// The Unix ms at which the interval that started at `interval_start_ms` closes at a
/// stage boundary: the first boundary after its start (`None` without stages or past the
/// last boundary). A boundary already due is returned too: the flush is then at once.
pub(super) fn next_stage_flush(clock: Option<&StageClock>, interval_start_ms: i64) -> Option<i64> {
    clock?.next_boundary_after(interval_start_ms)
}

/// The end stamp of an interval closed at `now_ms` for the boundary `boundary_ms`: never
/// before the boundary, so the next interval starts in the new stage even when the timer
/// fired a ms early on the wall clock.
pub(super) fn flush_end(boundary_ms: i64, now_ms: i64) -> i64 {
    now_ms.max(boundary_ms)
}

/// How long to sleep from `now_ms` until `at_ms` (nothing when it is past).
pub(super) fn wait_until(at_ms: i64, now_ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(at_ms.saturating_sub(now_ms)).unwrap_or(0))
}

/// The stage of a report of the interval `[start_ms, end_ms]`: the stage of its midpoint
/// (1-based), or 0 when the run has no stages.
pub(super) fn stage_of(clock: Option<&StageClock>, start_ms: i64, end_ms: i64) -> u32 {
    let mid = start_ms + end_ms.saturating_sub(start_ms) / 2;
    clock.map_or(0, |c| c.stage_at(mid))
}

#[cfg(test)]
mod tests {
    use lv_common::load::Stage;

    use super::*;

    /// Stages of 1 s, 2 s, 0 s and 1 s from 10 000 ms: boundaries at 11 000, 13 000 (twice)
    /// and 14 000.
    fn clock() -> StageClock {
        let stage = |ms: u64, to: f64| Stage {
            name: format!("{ms}ms"),
            duration: Duration::from_millis(ms),
            to,
        };
        StageClock {
            start_unix_ms: 10_000,
            stages: vec![
                stage(1_000, 4.0),
                stage(2_000, 4.0),
                stage(0, 8.0),
                stage(1_000, 8.0),
            ],
        }
    }

    #[test]
    fn each_boundary_closes_the_interval_once() {
        let c = clock();
        // Intervals that start before the run, inside a stage, or right on a boundary.
        assert_eq!(next_stage_flush(Some(&c), 9_500), Some(11_000));
        assert_eq!(next_stage_flush(Some(&c), 10_700), Some(11_000));
        assert_eq!(next_stage_flush(Some(&c), 11_000), Some(13_000));
        // The 0-length stage's two boundaries are one flush.
        assert_eq!(next_stage_flush(Some(&c), 13_000), Some(14_000));
        assert_eq!(next_stage_flush(Some(&c), 14_000), None);
        assert_eq!(next_stage_flush(None, 0), None);
        // Walking the flushes from the start of the run: one per distinct boundary.
        let mut start = 9_000;
        let mut flushes = Vec::new();
        while let Some(at) = next_stage_flush(Some(&c), start) {
            // The timer fired 1 ms early on the wall clock: the stamp still closes at `at`.
            start = flush_end(at, at - 1);
            flushes.push(start);
        }
        assert_eq!(flushes, [11_000, 13_000, 14_000]);
    }

    #[test]
    fn a_late_flush_keeps_its_own_end_and_waits_are_never_negative() {
        assert_eq!(flush_end(11_000, 11_004), 11_004);
        assert_eq!(wait_until(11_000, 10_250), Duration::from_millis(750));
        assert_eq!(wait_until(11_000, 12_000), Duration::ZERO);
    }

    #[test]
    fn reports_are_tagged_by_their_midpoint() {
        let c = clock();
        assert_eq!(stage_of(None, 0, 2_000), 0);
        // A report flushed 3 ms late still belongs to the stage it mostly covers.
        assert_eq!(stage_of(Some(&c), 10_000, 11_003), 1);
        assert_eq!(stage_of(Some(&c), 11_003, 13_000), 2);
        // A periodic report inside stage 2, and one after the end (the last stage).
        assert_eq!(stage_of(Some(&c), 11_500, 12_500), 2);
        assert_eq!(stage_of(Some(&c), 14_000, 14_100), 4);
        // Before the first stage starts (the open model's lead): stage 1.
        assert_eq!(stage_of(Some(&c), 9_000, 9_500), 1);
    }
}
