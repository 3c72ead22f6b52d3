//! Splitting the users over the workers and sending each its share.
//!
//! The run's start, a stage boundary and an edit send every member its assignment. A
//! worker that joins, comes back after being lost, or is lost changes the split too, but
//! those re-splits are coalesced: the first goes out at once, any other within the same
//! tick waits for the next tick, so N workers joining together cost one re-split, not N
//! (each O(workers)). A re-split sends only the members whose share changed (or that hold
//! none on their current connection).

use std::time::Duration;

use lv_common::pb::{self, master_message::Kind as MasterKind};
use lv_common::wire::millis;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::{Coordinator, NO_RUN_TIME, Phase};
use crate::run::registry::WorkerEntry;

impl Coordinator {
    /// Splits the users over the member workers and sends each its assignment.
    pub(super) fn assign(&mut self) {
        self.split_and_send(true);
    }

    /// A worker joined, came back or was lost during the run: the users are split again
    /// now, or at the next tick when a split went out within the last tick.
    pub(super) fn rebalance(&mut self) {
        if self.resplit.changed(Instant::now()) {
            self.split_and_send(false);
        }
    }

    /// The tick: the split that joins or losses left waiting goes out.
    pub(super) fn resplit_if_due(&mut self) {
        if self.resplit.due() {
            self.split_and_send(false);
        }
    }

    /// A new generation: splits the users (or stripes the arrivals) over the members and
    /// sends each its assignment, or with `!all` only those whose share changed.
    fn split_and_send(&mut self, all: bool) {
        self.resplit.split(Instant::now());
        self.ledger.next_generation();
        let members = self.workers.members();
        if self.open.is_some() {
            self.stripe_open(&members);
        } else if !self.split_closed(&members) {
            return;
        }
        let mut sent = 0usize;
        for id in &members {
            if all || self.share_changed(id) {
                self.send_assignment(id);
                sent += 1;
            }
        }
        debug!(
            generation = self.ledger.generation(),
            members = members.len(),
            sent,
            "assignments sent"
        );
    }

    /// Closed model: splits the users over `members` and grants their test data; false
    /// when the run was aborted instead (a connection budget too small).
    fn split_closed(&mut self, members: &[String]) -> bool {
        let weights = self.config.plan.class_weights();
        let (users, rate) = (self.users_target(), self.spawn_rate_target());
        self.workers.split(members, users, &weights, rate);
        let quotas: Vec<_> = members
            .iter()
            .filter_map(|id| self.workers.get(id))
            .map(|w| (w.id.clone(), w.users.clone()))
            .collect();
        self.data.grant(&quotas);
        if self.config.plan.connection_per_user {
            if let Err(reason) = self.workers.check_fd_limits_per_user(&self.config.plan) {
                self.abort(reason);
                return false;
            }
        } else {
            self.workers.warn_fd_limits();
        }
        true
    }

    /// Open model: gives every member a stripe of the arrivals (no users).
    fn stripe_open(&mut self, members: &[String]) {
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
        if let Some(note) = open.cap_note(members.len()) {
            warn!("{note}");
        }
    }

    /// Whether `worker_id`'s share differs from the one it was last sent on its current
    /// connection (or it was sent none).
    fn share_changed(&self, worker_id: &str) -> bool {
        self.workers
            .get(worker_id)
            .is_none_or(|w| w.share.as_ref() != Some(&self.share(w)))
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
        let share = self.share(worker);
        let assignment = self.assignment(share.clone(), remaining);
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
        self.workers
            .deliver(worker_id, assignment, (generation, share));
    }

    /// `share` as the assignment of the current generation, `remaining` being the run
    /// time left.
    fn assignment(&self, share: pb::Assignment, remaining: Duration) -> pb::Assignment {
        pb::Assignment {
            generation: self.ledger.generation(),
            plan_json: self.plan_json.clone(),
            max_run_time_ms: millis(
                remaining
                    .saturating_add(self.config.stop_timeout)
                    .saturating_add(Duration::from_secs(30)),
            ),
            ..share
        }
    }

    /// What is `worker`'s own in its assignment: the run, its users and rate, its stripe,
    /// the stage clock and its data (no generation, plan or run time).
    fn share(&self, worker: &WorkerEntry) -> pb::Assignment {
        pb::Assignment {
            run_id: self.ledger.run_id().to_owned(),
            generation: 0,
            plan_json: Vec::new(),
            users: worker.users.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            // A worker with no users still gets a positive rate (checked on receipt).
            spawn_rate: if worker.spawn_rate > 0.0 {
                worker.spawn_rate
            } else {
                self.config.spawn_rate
            },
            max_run_time_ms: 0,
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
