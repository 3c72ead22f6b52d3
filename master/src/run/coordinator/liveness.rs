//! Worker liveness: heartbeats out, and the loss of workers silent or missing past the
//! heartbeat timeout (checked at each heartbeat, on tokio's clock).

use lv_common::pb;
use tokio::time::Instant;

use super::{Coordinator, Phase};

impl Coordinator {
    /// Sends heartbeats to the active workers and declares lost those silent (or
    /// missing) past the heartbeat timeout; their users go to the others.
    pub(super) fn on_heartbeat(&mut self) {
        let now = Instant::now();
        let beat = pb::Heartbeat {
            unix_ms: self.clock.unix_ms(now),
            users_running: 0,
            run_id: self.ledger.run_id().to_owned(),
            users_finished: 0,
            generation: 0,
            resources: None,
        };
        let lost = self.workers.beat(now, self.config.heartbeat_timeout, &beat);
        if !lost.is_empty() {
            self.declare_lost(&lost, now);
        }
    }

    /// Marks `lost` as lost at `now`, records the users below target, and reassigns
    /// their users (or aborts the run, with `--fail-on-worker-loss` or nobody left).
    fn declare_lost(&mut self, lost: &[String], now: Instant) {
        let dropped = self.workers.mark_lost(lost, now, self.clock.unix_ms(now));
        if matches!(self.phase, Phase::Running { .. }) {
            // Their users stopped counting when they went silent, not when we noticed.
            for (id, last_seen) in dropped {
                self.ledger
                    .below_target_from(id, self.clock.unix_ms(last_seen));
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
            } else if self.workers.member_count() == 0 {
                self.abort("every worker was lost".into());
            } else {
                self.rebalance();
            }
        }
    }
}
