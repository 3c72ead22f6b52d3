//! Splitting the users over the workers and sending each its share.

use std::time::Duration;

use lv_common::pb::{self, master_message::Kind as MasterKind};
use lv_common::wire::millis;
use tokio::time::Instant;
use tracing::info;

use super::{Coordinator, NO_RUN_TIME, Phase};
use crate::run::registry::WorkerEntry;

impl Coordinator {
    /// Splits the users over the member workers and sends each its assignment.
    pub(super) fn assign(&mut self) {
        self.ledger.next_generation();
        let members = self.workers.members();
        if self.open.is_some() {
            self.assign_open(&members);
            return;
        }
        let weights = self.config.plan.class_weights();
        let (users, rate) = (self.users_target(), self.spawn_rate_target());
        self.workers.split(&members, users, &weights, rate);
        let quotas: Vec<_> = members
            .iter()
            .filter_map(|id| self.workers.get(id))
            .map(|w| (w.id.clone(), w.users.clone()))
            .collect();
        self.data.grant(&quotas);
        if self.config.plan.connection_per_user {
            if let Err(reason) = self.workers.check_fd_limits_per_user(&self.config.plan) {
                self.abort(reason);
                return;
            }
        } else {
            self.workers.warn_fd_limits();
        }
        for id in &members {
            self.send_assignment(id);
        }
    }

    /// Open model: gives every member a stripe of the arrivals (no users) and sends it.
    fn assign_open(&mut self, members: &[String]) {
        let Some(open) = self.open.as_mut() else {
            return;
        };
        let scheduled = &self.stats.scheduled_by;
        let k0 = open.restripe_now(Instant::now(), members, |id| {
            scheduled.get(id).copied().unwrap_or(0)
        });
        self.workers.clear_users(members, self.config.spawn_rate);
        info!(
            workers = members.len(),
            from = k0,
            lost = open.lost(),
            "arrivals striped"
        );
        for id in members {
            self.send_assignment(id);
        }
    }

    /// Sends `worker_id` its current share (again).
    pub(super) fn send_assignment(&mut self, worker_id: &str) {
        let remaining = match self.phase {
            Phase::Running { ends: Some(end) } => end.saturating_duration_since(Instant::now()),
            _ => NO_RUN_TIME,
        };
        let Some(worker) = self.workers.get(worker_id) else {
            return;
        };
        let assignment = self.assignment(worker, remaining);
        let size = prost::Message::encoded_len(&assignment);
        if size > lv_common::MAX_MESSAGE_BYTES {
            if !matches!(self.phase, Phase::Running { .. }) {
                return;
            }
            self.abort(format!(
                "the assignment is {size} bytes, more than the {} a worker accepts; \
                 run fewer scenarios or steps",
                lv_common::MAX_MESSAGE_BYTES
            ));
            return;
        }
        let generation = self.ledger.generation();
        // The tables go first, once per worker and run: the stream keeps them in order.
        for chunk in self.data.chunks_for(worker_id, self.ledger.run_id()) {
            self.workers.send(worker_id, MasterKind::Data(chunk));
        }
        self.workers.deliver(worker_id, assignment, generation);
    }

    /// `worker`'s assignment of the current generation, `remaining` being the run time
    /// left.
    fn assignment(&self, worker: &WorkerEntry, remaining: Duration) -> pb::Assignment {
        pb::Assignment {
            run_id: self.ledger.run_id().to_owned(),
            generation: self.ledger.generation(),
            plan_json: self.plan_json.clone(),
            users: worker.users.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            // A worker with no users still gets a positive rate (checked on receipt).
            spawn_rate: if worker.spawn_rate > 0.0 {
                worker.spawn_rate
            } else {
                self.config.spawn_rate
            },
            max_run_time_ms: millis(
                remaining
                    .saturating_add(self.config.stop_timeout)
                    .saturating_add(Duration::from_secs(30)),
            ),
            report_interval_ms: u32::try_from(self.config.report_interval.as_millis())
                .unwrap_or(2000),
            open: self
                .open
                .as_ref()
                .and_then(|o| o.load_for(&worker.id))
                .map(|load| pb::OpenLoad::from(&load)),
            stages: self
                .staged
                .as_ref()
                .map(|s| pb::StageClock::from(s.clock())),
            data: self.data.grants_for(&worker.id),
        }
    }
}
