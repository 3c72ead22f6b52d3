//! Master failover: a master started with `--resume` continues the run of a checkpoint,
//! and every checkpoint carries what that needs.
//!
//! Nothing is lost in between: with `--checkpoint`, a worker's report is acknowledged only
//! once a checkpoint holds it, so a worker keeps everything after the last checkpoint and
//! resends it to the new master, which merges each report exactly once (by sequence).
//! The outage, from the last checkpoint to the resume, is reported like a below-target
//! period; only workers that never come back can leave data missing.

use lv_common::pb::{self, master_message::Kind as MasterKind};
use tokio::time::Instant;
use tracing::{info, warn};

use super::Coordinator;
use crate::config::resume::{Checkpoint, fingerprint};
use crate::report::summary::{BelowTarget, MasterOutage, OUTAGE_CAUSE, ResumeState};
use crate::run::registry::{WorkerEntry, WorkerState};

impl Coordinator {
    /// Takes over the run of `checkpoint`: its id, stats, workers (missing until they
    /// reconnect) and start, so the run time and the stages go on from the original start.
    pub(super) fn resume(&mut self, checkpoint: &Checkpoint) {
        let summary = &checkpoint.summary;
        let now = Instant::now();
        let now_ms = self.clock.unix_ms(now);
        self.run_id = summary.run_id.clone();
        self.generation = checkpoint.state.generation;
        match checkpoint.stats() {
            Ok(stats) => self.stats = stats.with_endpoint_history(self.config.csv_full_history),
            Err(err) => warn!("the checkpoint's stats cannot be rebuilt: {err}"),
        }
        self.stats.stages_start_unix_ms = checkpoint.state.stages_start_unix_ms;
        self.stats.start(now_ms);
        for worker in &summary.workers {
            let seq = checkpoint.state.worker_seqs.get(&worker.core.id).copied();
            let mut entry = WorkerEntry::restored(
                &worker.core.id,
                &worker.core.hostname,
                seq.unwrap_or(0),
                now,
            );
            if worker.core.state == "lost" {
                entry.state = WorkerState::Lost { at: now };
                entry.lost_unix_ms = worker.lost_unix_ms;
                entry.in_run = false;
            } else {
                self.awaited.insert(worker.core.id.clone());
            }
            self.workers.insert(worker.core.id.clone(), entry);
        }
        let from = summary.ended_unix_ms;
        let expected = u32::try_from(self.awaited.len()).unwrap_or(u32::MAX);
        self.outages = summary.master_outages.clone();
        self.outages.push(MasterOutage {
            from_unix_ms: from,
            to_unix_ms: now_ms,
            workers_expected: expected,
            workers_back: 0,
            missing_s: if expected > 0 {
                (now_ms - from).max(0) as f64 / 1000.0
            } else {
                0.0
            },
        });
        self.below_target = summary.below_target.clone();
        self.below_target.push(BelowTarget {
            from_unix_ms: from,
            to_unix_ms: None,
            worker_id: OUTAGE_CAUSE.to_owned(),
        });
        info!(
            run_id = %self.run_id,
            workers = expected,
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
        self.begin(started, stages_start);
    }

    /// What a checkpoint carries for `--resume`.
    pub(super) fn resume_state(&self) -> ResumeState {
        ResumeState {
            plan_fingerprint: fingerprint(&self.plan_json),
            generation: self.generation,
            worker_seqs: self
                .workers
                .values()
                .map(|w| (w.id.clone(), w.max_seq))
                .collect(),
            stages_start_unix_ms: self.stats.stages_start_unix_ms,
        }
    }

    /// A checkpoint was written: acknowledge to every worker what it holds.
    pub(super) fn ack_checkpointed(&mut self) {
        for worker in self.workers.values_mut() {
            if worker.max_seq > worker.acked_seq {
                let ack = pb::ReportAck {
                    run_id: self.run_id.clone(),
                    seq: worker.max_seq,
                };
                if worker.send(MasterKind::Ack(ack)) {
                    worker.acked_seq = worker.max_seq;
                }
            }
        }
    }

    /// `worker_id` attached: when the resumed checkpoint awaited it, it is back.
    pub(super) fn worker_back(&mut self, worker_id: &str) {
        if !self.awaited.remove(worker_id) {
            return;
        }
        let Some(outage) = self.outages.last_mut() else {
            return;
        };
        outage.workers_back += 1;
        if outage.workers_back >= outage.workers_expected {
            outage.missing_s = 0.0;
        }
    }
}

#[cfg(test)]
mod tests;
