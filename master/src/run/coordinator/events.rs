//! What the coordinator does with the gRPC side's [`Event`]s: the worker table takes them
//! in, and the run answers (a Welcome, a new split now or at the next tick, a Stop or
//! Shutdown to a latecomer, merged reports, an abort on a refused assignment).

use lv_common::pb::{self, master_message::Kind as MasterKind, worker_message::Kind as WorkerKind};
use tokio::time::Instant;
use tonic::Status;
use tracing::{debug, info, warn};

use super::{Coordinator, Event, Phase};
use crate::run::registry::Outbound;

impl Coordinator {
    /// Takes in one event of the gRPC side.
    pub(super) fn on_event(&mut self, event: Event) {
        match event {
            Event::Attached { hello, conn, tx } => self.on_attached(&hello, conn, tx),
            Event::Message {
                worker_id,
                conn,
                message,
            } => self.on_message(&worker_id, conn, *message),
            Event::Detached {
                worker_id,
                conn,
                reason,
            } => self
                .workers
                .detach(&worker_id, conn, &reason, Instant::now()),
        }
    }

    fn on_attached(&mut self, hello: &pb::Hello, conn: u64, tx: Outbound) {
        let worker_id = hello.worker_id.clone();
        let attach = self.workers.attach(hello, conn, tx, Instant::now());
        // A new stream may have cut the tables short: send them again before the next
        // assignment (the worker starts a table again at its first chunk).
        self.data.forget(&worker_id);
        let welcome = self.welcome(attach.acked_seq);
        self.workers.send(&worker_id, MasterKind::Welcome(welcome));
        info!(worker_id, hostname = %hello.hostname, cores = hello.cores, rejoined = attach.rejoined, "worker attached");
        self.worker_back(&worker_id);
        let kind = if attach.rejoined {
            "worker_rejoined"
        } else {
            "worker_joined"
        };
        self.web_event(kind, format!("{worker_id} on {}", hello.hostname));
        match self.phase {
            Phase::Running { .. } if !attach.rejoined || attach.was_lost => self.rebalance(),
            Phase::Running { .. } => self.send_assignment(&worker_id),
            Phase::Done => self.workers.send(
                &worker_id,
                MasterKind::Shutdown(pb::Shutdown {
                    reason: "the run is over".into(),
                }),
            ),
            // A worker that was away when Stop went out may still run users: stop it too,
            // so its last report comes and no load outlives the run.
            Phase::Stopping { .. } | Phase::TearingDown => {
                let stop = MasterKind::Stop(pb::Stop {
                    run_id: self.ledger.run_id().to_owned(),
                });
                self.workers.send(&worker_id, stop);
            }
            Phase::Waiting { .. } | Phase::SettingUp | Phase::Idle => {}
        }
    }

    /// The Welcome of a worker that may forget its reports up to `acked_seq`.
    fn welcome(&self, acked_seq: u64) -> pb::Welcome {
        let running = self.ledger.started().is_some() && !matches!(self.phase, Phase::Idle);
        pb::Welcome {
            master_version: lv_common::VERSION.to_owned(),
            protocol_version: lv_common::PROTOCOL_VERSION,
            heartbeat_interval_ms: u32::try_from(self.config.heartbeat_interval.as_millis())
                .unwrap_or(1000),
            heartbeat_timeout_ms: u32::try_from(self.config.heartbeat_timeout.as_millis())
                .unwrap_or(u32::MAX),
            acked_seq,
            run_id: if running {
                self.ledger.run_id().to_owned()
            } else {
                String::new()
            },
        }
    }

    fn on_message(&mut self, worker_id: &str, conn: u64, message: pb::WorkerMessage) {
        if !self.workers.touch(worker_id, conn, Instant::now()) {
            return;
        }
        match message.kind {
            Some(WorkerKind::Heartbeat(beat)) => {
                let run_id = self.ledger.run_id();
                let measuring = matches!(self.phase, Phase::Running { .. });
                let at = (self.clock.now_ms(), measuring);
                self.workers.heard(worker_id, &beat, run_id, at);
            }
            Some(WorkerKind::Report(raw)) => self.on_report(worker_id, raw),
            Some(WorkerKind::Rejection(rejection)) => self.on_rejection(worker_id, &rejection),
            Some(WorkerKind::Hello(_)) | None => {
                warn!(worker_id, "unexpected message; disconnecting the worker");
                self.workers.disconnect(
                    worker_id,
                    Status::invalid_argument("Hello is only valid as the first message"),
                );
            }
        }
    }

    /// A worker cannot carry out its assignment of this run: the run fails with its reason
    /// (a stale generation or another run's refusal is only logged).
    fn on_rejection(&mut self, worker_id: &str, rejection: &pb::Rejection) {
        let reason = lv_common::bounds::quote(&rejection.reason);
        // A worker holds the generation last sent to it (an unchanged share is not resent).
        let current = rejection.run_id == self.ledger.run_id()
            && self
                .workers
                .get(worker_id)
                .is_some_and(|w| w.generation == rejection.generation);
        if !current || !matches!(self.phase, Phase::Running { .. }) {
            warn!(worker_id, run_id = %rejection.run_id, generation = rejection.generation, %reason, "a worker refused an earlier assignment");
            return;
        }
        self.abort(format!(
            "worker {worker_id} refused its assignment: {reason}"
        ));
    }

    /// Merges a new report of this run. With `--checkpoint`, a report is acknowledged once
    /// a checkpoint holds it, so a master that dies loses nothing the workers still hold
    /// (see `resume`); else at once.
    fn on_report(&mut self, worker_id: &str, raw: pb::StatsReport) {
        let ack = self.config.checkpoint.is_none();
        let run_id = self.ledger.run_id();
        let Some(report) = self.workers.accept_report(worker_id, raw, run_id, ack) else {
            return;
        };
        debug!(
            worker_id,
            seq = report.seq,
            stage = report.stage,
            start_unix_ms = report.start_unix_ms,
            end_unix_ms = report.end_unix_ms,
            requests = report.stats.request_count(),
            "report merged"
        );
        self.stats.merge_report(worker_id, &report);
        self.ledger.warn_on_overflow(&report);
    }
}
