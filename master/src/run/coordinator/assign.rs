//! Splitting the users over the workers and sending each its share.

use std::time::Duration;

use lv_common::FD_RESERVE;
use lv_common::pb::{self, master_message::Kind as MasterKind};
use lv_common::plan::MAX_USER_ORIGINS;
use lv_common::quota;
use lv_common::wire::millis;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::{Coordinator, NO_RUN_TIME, Phase, open};

impl Coordinator {
    /// Splits the users over the member workers and sends each its assignment.
    pub(super) fn assign(&mut self) {
        self.generation += 1;
        let members: Vec<String> = self
            .workers
            .values()
            .filter(|w| w.is_member())
            .map(|w| w.id.clone())
            .collect();
        if self.open.is_some() {
            self.assign_open(&members);
            return;
        }
        let weights = self.config.plan.class_weights();
        let shares = quota::assign(self.users_target(), &weights, members.len());
        let totals: Vec<u32> = shares.iter().map(|s| s.values().sum()).collect();
        let rates = quota::split_rate(self.spawn_rate_target(), &totals);
        for ((id, users), rate) in members.iter().zip(&shares).zip(&rates) {
            if let Some(worker) = self.workers.get_mut(id) {
                worker.users = users.clone();
                worker.spawn_rate = *rate;
            }
        }
        if self.config.plan.connection_per_user {
            if let Err(reason) = self.check_fd_limits_per_user() {
                self.abort(reason);
                return;
            }
        } else {
            self.warn_fd_limits();
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
        let now = Instant::now();
        let k0 = if now < open.start() {
            0
        } else {
            open.first_due_at(now + open::LEAD)
        };
        let scheduled = &self.stats.scheduled_by;
        open.restripe(members, k0, |id| scheduled.get(id).copied().unwrap_or(0));
        for id in members {
            if let Some(worker) = self.workers.get_mut(id) {
                worker.users.clear();
                worker.spawn_rate = self.config.spawn_rate;
            }
        }
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
        let Some(worker) = self.workers.get_mut(worker_id) else {
            return;
        };
        let assignment = pb::Assignment {
            run_id: self.run_id.clone(),
            generation: self.generation,
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
                .and_then(|o| o.load_for(worker_id))
                .map(|load| pb::OpenLoad::from(&load)),
            stages: self
                .staged
                .as_ref()
                .map(|s| pb::StageClock::from(s.clock())),
        };
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
        let (users, rate) = (worker.assigned(), worker.spawn_rate);
        worker.in_run = true;
        if worker.send(MasterKind::Assignment(assignment)) {
            debug!(
                worker_id,
                users,
                rate,
                generation = self.generation,
                "assignment sent"
            );
        }
    }

    /// Refuses shares whose users cannot each keep their own connections (one per origin
    /// of their class, at most [`MAX_USER_ORIGINS`]) within the worker's open-file limit.
    pub(super) fn check_fd_limits_per_user(&self) -> Result<(), String> {
        for worker in self.workers.values().filter(|w| w.is_member()) {
            let needed: u64 = worker
                .users
                .iter()
                .map(|(class, users)| {
                    let origins = self
                        .config
                        .plan
                        .classes
                        .iter()
                        .find(|c| &c.name == class)
                        .map_or(1, |c| c.origins().clamp(1, MAX_USER_ORIGINS));
                    u64::from(*users) * origins as u64
                })
                .sum();
            if worker.fd_limit > 0 && needed + FD_RESERVE > worker.fd_limit {
                return Err(format!(
                    "worker {} on {} may open {} files, but with --connection-per-user its {} users keep {needed} connections (one per user and origin) plus {FD_RESERVE}; raise its hard limit (ulimit -Hn, or LimitNOFILE in systemd / a container's nofile ulimit), add workers, or share connections (drop --connection-per-user)",
                    worker.id,
                    worker.hostname,
                    worker.fd_limit,
                    worker.assigned(),
                ));
            }
        }
        Ok(())
    }

    /// Warns, once per worker, when its share has more users than it may open connections:
    /// its users then wait for a free connection whenever that many requests are in flight.
    pub(super) fn warn_fd_limits(&mut self) {
        for worker in self.workers.values().filter(|w| w.is_member()) {
            let users = u64::from(worker.assigned());
            if worker.fd_limit == 0 || users + FD_RESERVE <= worker.fd_limit {
                continue;
            }
            if !self.warned_fd.insert(worker.id.clone()) {
                continue;
            }
            warn!(
                "worker {} on {} may open {} files, so at most {} connections at once, and has {users} users: when more of them have a request in flight, the rest wait for a free connection and that wait counts in their response times; raise its hard limit (ulimit -Hn, or LimitNOFILE in systemd / a container's nofile ulimit) or add workers",
                worker.id,
                worker.hostname,
                worker.fd_limit,
                worker.fd_limit.saturating_sub(FD_RESERVE),
            );
        }
    }
}
