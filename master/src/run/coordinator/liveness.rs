//! Worker liveness: heartbeats out, and the loss of workers silent or missing past the
//! heartbeat timeout (checked at each heartbeat, on tokio's clock).

use lv_common::pb::{self, master_message::Kind as MasterKind};
use tokio::time::Instant;
use tonic::Status;
use tracing::warn;

use super::{Coordinator, Phase};
use crate::report::summary::BelowTarget;
use crate::run::registry::{WorkerEntry, WorkerState};

impl Coordinator {
    /// Sends heartbeats to the active workers and declares lost those silent (or
    /// missing) past the heartbeat timeout; their users go to the others.
    pub(super) fn on_heartbeat(&mut self) {
        let now = Instant::now();
        let timeout = self.config.heartbeat_timeout;
        let beat = pb::Heartbeat {
            unix_ms: self.clock.unix_ms(now),
            users_running: 0,
            run_id: self.run_id.clone(),
        };
        let mut lost = Vec::new();
        for worker in self.workers.values_mut() {
            match worker.state {
                WorkerState::Active if now.duration_since(worker.last_seen) > timeout => {
                    worker.disconnect(Status::deadline_exceeded("no heartbeat within the timeout"));
                    lost.push(worker.id.clone());
                }
                WorkerState::Missing { since } if now.duration_since(since) > timeout => {
                    lost.push(worker.id.clone());
                }
                WorkerState::Active => {
                    worker.send(MasterKind::Heartbeat(beat.clone()));
                }
                WorkerState::Missing { .. } | WorkerState::Lost { .. } => {}
            }
        }
        if !lost.is_empty() {
            self.declare_lost(&lost, now);
        }
    }

    /// Marks `lost` as lost at `now`, records the users below target, and reassigns
    /// their users (or aborts the run, with `--fail-on-worker-loss` or nobody left).
    fn declare_lost(&mut self, lost: &[String], now: Instant) {
        let now_ms = self.clock.unix_ms(now);
        for id in lost {
            if let Some(worker) = self.workers.get_mut(id) {
                warn!(worker_id = %id, hostname = %worker.hostname, "worker lost: silent past the heartbeat timeout");
                worker.state = WorkerState::Lost { at: now };
                worker.lost_unix_ms = Some(now_ms);
                let had_users = worker.assigned() > 0;
                worker.users.clear();
                worker.users_running = 0;
                if had_users && matches!(self.phase, Phase::Running { .. }) {
                    // Its users stopped counting when it went silent, not when we noticed.
                    self.below_target.push(BelowTarget {
                        from_unix_ms: self.clock.unix_ms(worker.last_seen),
                        to_unix_ms: None,
                        worker_id: id.clone(),
                    });
                }
            }
        }
        for id in lost {
            self.web_event(
                "worker_lost",
                format!("{id}: silent past the heartbeat timeout"),
            );
        }
        if let Phase::Running { .. } = self.phase {
            if self.config.fail_on_worker_loss {
                self.abort(format!(
                    "worker {} was lost (--fail-on-worker-loss)",
                    lost.join(", ")
                ));
            } else if self.count(WorkerEntry::is_member) == 0 {
                self.abort("every worker was lost".into());
            } else {
                self.assign();
            }
        }
    }
}
