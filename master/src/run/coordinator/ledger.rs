//! One run's ledger: its id, the generation of its assignments, when it started, why it
//! was aborted (or which abort rule stopped it), the periods below the user target, the master outages it survived, and
//! the warnings it already gave.

use lv_common::wire::Report;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::report::summary::{BelowTarget, MasterOutage, OUTAGE_CAUSE, Summary};
use crate::slo::abort::AbortRecord;

/// What is known of the current (or last) run.
#[derive(Debug)]
pub(super) struct Ledger {
    run_id: String,
    generation: u64,
    /// When the run started, on tokio's clock and in Unix ms.
    started: Option<(Instant, i64)>,
    aborted: Option<String>,
    /// The abort rule that stopped the run, if one did.
    stopped_by: Option<AbortRecord>,
    below_target: Vec<BelowTarget>,
    /// Times a master died and this one resumed the run (`--resume`).
    outages: Vec<MasterOutage>,
    warned_names: bool,
    warned_failures: bool,
}

impl Ledger {
    /// A run `run_id` that has not started.
    pub(super) fn new(run_id: String) -> Ledger {
        Ledger {
            run_id,
            generation: 0,
            started: None,
            aborted: None,
            stopped_by: None,
            below_target: Vec::new(),
            outages: Vec::new(),
            warned_names: false,
            warned_failures: false,
        }
    }

    /// The run id.
    pub(super) fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The generation of the assignments last sent.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// Starts a new generation of assignments.
    pub(super) fn next_generation(&mut self) {
        self.generation += 1;
    }

    /// When the run started (tokio instant, Unix ms), if it did.
    pub(super) fn started(&self) -> Option<(Instant, i64)> {
        self.started
    }

    /// The start in Unix ms, 0 when the run never started.
    pub(super) fn started_ms(&self) -> i64 {
        self.started.map_or(0, |(_, ms)| ms)
    }

    /// The run started at `at` (tokio instant, Unix ms).
    pub(super) fn start(&mut self, at: (Instant, i64)) {
        self.started = Some(at);
    }

    /// Why the run could not be carried out, if so.
    pub(super) fn aborted(&self) -> Option<&str> {
        self.aborted.as_deref()
    }

    /// The run cannot go on, for `reason` (the first reason given stays).
    pub(super) fn abort(&mut self, reason: String) {
        warn!(%reason, "the run cannot go on");
        self.aborted.get_or_insert(reason);
    }

    /// The abort rule that stopped the run, if one did.
    pub(super) fn stopped_by(&self) -> Option<&AbortRecord> {
        self.stopped_by.as_ref()
    }

    /// Abort rule `record` stops the run (the first one stays).
    pub(super) fn stop_by_rule(&mut self, record: AbortRecord) {
        warn!(rule = %record.rule, reason = %record.reason, "an abort rule stops the run");
        self.stopped_by.get_or_insert(record);
    }

    /// Periods below the user target.
    pub(super) fn below_target(&self) -> &[BelowTarget] {
        &self.below_target
    }

    /// Master outages the run survived.
    pub(super) fn outages(&self) -> &[MasterOutage] {
        &self.outages
    }

    /// Worker `worker_id`'s users stopped counting at `from_unix_ms`.
    pub(super) fn below_target_from(&mut self, worker_id: String, from_unix_ms: i64) {
        self.below_target.push(BelowTarget {
            from_unix_ms,
            to_unix_ms: None,
            worker_id,
        });
    }

    /// True while a below-target period is open.
    pub(super) fn is_below_target(&self) -> bool {
        self.below_target.iter().any(|b| b.to_unix_ms.is_none())
    }

    /// The users are back on target at `now_ms`: every open period ends then.
    pub(super) fn back_on_target(&mut self, now_ms: i64) {
        for period in &mut self.below_target {
            period.to_unix_ms.get_or_insert(now_ms);
        }
        info!("users back on target after the worker loss");
    }

    /// One of the workers the resumed checkpoint awaited is back.
    pub(super) fn worker_back(&mut self) {
        let Some(outage) = self.outages.last_mut() else {
            return;
        };
        outage.workers_back += 1;
        if outage.workers_back >= outage.workers_expected {
            outage.missing_s = 0.0;
        }
    }

    /// Takes over the run of checkpoint `summary` at `now_ms` with its assignments'
    /// `generation`: its earlier outages and below-target periods, plus the outage since
    /// the checkpoint, with `awaited` workers expected back.
    pub(super) fn resume(
        &mut self,
        summary: &Summary,
        generation: u64,
        now_ms: i64,
        awaited: usize,
    ) {
        self.run_id = summary.run_id.clone();
        self.generation = generation;
        let from = summary.ended_unix_ms;
        self.outages = summary.master_outages.clone();
        self.outages.push(outage(from, now_ms, awaited));
        self.below_target = summary.below_target.clone();
        self.below_target_from(OUTAGE_CAUSE.to_owned(), from);
    }

    /// A new run `run_id` in the same master: nothing of the last one but its start and
    /// generation (which the new start and assignments replace) and its outages.
    pub(super) fn restart(&mut self, run_id: String) {
        self.run_id = run_id;
        self.aborted = None;
        self.stopped_by = None;
        self.below_target.clear();
        self.warned_names = false;
        self.warned_failures = false;
    }

    /// Says once per run when stats names or failure kinds hit their caps.
    pub(super) fn warn_on_overflow(&mut self, report: &Report) {
        use lv_common::stats::{MAX_ENDPOINTS, MAX_FAILURE_KINDS, OVERFLOW_ERROR, OVERFLOW_NAME};
        if !self.warned_names
            && report
                .stats
                .endpoints
                .keys()
                .any(|k| k.name == OVERFLOW_NAME)
        {
            self.warned_names = true;
            warn!(
                "more than {MAX_ENDPOINTS} distinct stats names: the rest are counted under {OVERFLOW_NAME:?}; give steps whose paths hold ids a fixed `name`"
            );
        }
        if !self.warned_failures
            && report
                .stats
                .failures
                .keys()
                .any(|k| k.error == OVERFLOW_ERROR)
        {
            self.warned_failures = true;
            warn!(
                "more than {MAX_FAILURE_KINDS} distinct failure messages: the rest are counted under {OVERFLOW_ERROR:?}"
            );
        }
    }

    /// The parts a finished run reports: id, start (Unix ms, 0 if never), abort reason,
    /// below-target periods and outages.
    pub(super) fn into_parts(
        self,
    ) -> (
        String,
        i64,
        Option<String>,
        Vec<BelowTarget>,
        Vec<MasterOutage>,
    ) {
        let started = self.started_ms();
        (
            self.run_id,
            started,
            self.aborted,
            self.below_target,
            self.outages,
        )
    }
}

/// The outage from the checkpoint at `from` to the resume at `now_ms`, `awaited` workers
/// expected back: missing time counts only when some are.
fn outage(from: i64, now_ms: i64, awaited: usize) -> MasterOutage {
    let expected = u32::try_from(awaited).unwrap_or(u32::MAX);
    MasterOutage {
        from_unix_ms: from,
        to_unix_ms: now_ms,
        workers_expected: expected,
        workers_back: 0,
        missing_s: if expected > 0 {
            (now_ms - from).max(0) as f64 / 1000.0
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_abort_reason_stays() {
        let mut ledger = Ledger::new("r".into());
        ledger.abort("first".into());
        ledger.abort("second".into());
        assert_eq!(ledger.aborted(), Some("first"));
        ledger.restart("s".into());
        assert_eq!((ledger.run_id(), ledger.aborted()), ("s", None));
    }

    #[test]
    fn below_target_periods_close_together_when_back_on_target() {
        let mut ledger = Ledger::new("r".into());
        assert!(!ledger.is_below_target());
        ledger.below_target_from("w1".into(), 1_000);
        ledger.below_target_from("w2".into(), 2_000);
        assert!(ledger.is_below_target());
        ledger.back_on_target(5_000);
        assert!(!ledger.is_below_target());
        let ends: Vec<_> = ledger.below_target().iter().map(|b| b.to_unix_ms).collect();
        assert_eq!(ends, [Some(5_000), Some(5_000)]);
        ledger.below_target_from("w3".into(), 6_000);
        ledger.back_on_target(7_000);
        let ends: Vec<_> = ledger.below_target().iter().map(|b| b.to_unix_ms).collect();
        assert_eq!(ends, [Some(5_000), Some(5_000), Some(7_000)], "closed stay");
    }

    #[test]
    fn an_outage_is_no_longer_missing_once_every_worker_is_back() {
        let mut ledger = Ledger::new("r".into());
        ledger.outages.push(outage(10_000, 12_500, 2));
        let outage = ledger.outages()[0].clone();
        assert_eq!((outage.workers_expected, outage.missing_s), (2, 2.5));
        assert_eq!(super::outage(10_000, 12_500, 0).missing_s, 0.0);
        ledger.worker_back();
        assert_eq!(ledger.outages()[0].missing_s, 2.5);
        ledger.worker_back();
        assert_eq!(ledger.outages()[0].missing_s, 0.0);
    }
}
