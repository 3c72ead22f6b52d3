//! Master failover: a master started with `--resume` continues the run of a checkpoint,
//! and every checkpoint carries what that needs.
//!
//! Nothing is lost in between: with `--checkpoint`, a worker's report is acknowledged only
//! once a checkpoint holds it, so a worker keeps everything after the last checkpoint and
//! resends it to the new master, which merges each report exactly once (by sequence).
//! The outage, from the last checkpoint to the resume, is reported like a below-target
//! period; only workers that never come back can leave data missing.

use tokio::time::Instant;
use tracing::{info, warn};

use super::Coordinator;
use crate::config::resume::{Checkpoint, fingerprint};
use crate::report::summary::ResumeState;

impl Coordinator {
    /// Takes over the run of `checkpoint`: its id, stats, workers (missing until they
    /// reconnect) and start, so the run time and the stages go on from the original start.
    pub(super) fn resume(&mut self, checkpoint: &Checkpoint) {
        let summary = &checkpoint.summary;
        let now = Instant::now();
        let now_ms = self.clock.unix_ms(now);
        match checkpoint.stats() {
            Ok(stats) => self.stats = stats.with_endpoint_history(self.config.csv_full_history),
            Err(err) => warn!("the checkpoint's stats cannot be rebuilt: {err}"),
        }
        self.stats.stages_start_unix_ms = checkpoint.state.stages_start_unix_ms;
        self.stats.start(now_ms);
        let awaited = self
            .workers
            .restore(&summary.workers, &checkpoint.state.worker_seqs, now);
        self.ledger
            .resume(summary, checkpoint.state.generation, now_ms, awaited);
        let from = summary.ended_unix_ms;
        info!(
            run_id = %self.ledger.run_id(),
            workers = u32::try_from(awaited).unwrap_or(u32::MAX),
            outage_s = (now_ms - from) as f64 / 1000.0,
            "resuming the run of the checkpoint"
        );
        let since = |unix_ms: i64| {
            let ago = std::time::Duration::from_millis((now_ms - unix_ms).max(0).unsigned_abs());
            (now.checked_sub(ago).unwrap_or(now), unix_ms)
        };
        let started = since(summary.started_unix_ms);
        let stages_start = checkpoint.state.stages_start_unix_ms.map_or(started, since);
        self.web_event("resume", format!("resumed from the checkpoint of {from}"));
        // The setup steps run again: their values died with the master.
        self.setup_then(super::hooks::Then::Resume(started, stages_start));
    }

    /// What a checkpoint carries for `--resume`.
    pub(super) fn resume_state(&self) -> ResumeState {
        ResumeState {
            plan_fingerprint: fingerprint(&self.config.plan.to_json()),
            generation: self.ledger.generation(),
            worker_seqs: self.workers.merged_seqs(),
            stages_start_unix_ms: self.stats.stages_start_unix_ms,
        }
    }

    /// A checkpoint was written: acknowledge to every worker what it holds.
    pub(super) fn ack_checkpointed(&mut self) {
        self.workers.ack_merged(self.ledger.run_id());
    }

    /// `worker_id` attached: when the resumed checkpoint awaited it, it is back.
    pub(super) fn worker_back(&mut self, worker_id: &str) {
        if self.workers.back(worker_id) {
            self.ledger.worker_back();
        }
    }
}

#[cfg(test)]
mod tests;
