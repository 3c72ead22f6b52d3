//! What the coordinator shows and saves while a run goes on: the live console table, the
//! checkpoint, and the end of below-target periods.

use std::time::Duration;

use tokio::time::Instant;
use tracing::warn;

use super::{Coordinator, Phase};
use crate::report::console;

impl Coordinator {
    /// Ends the open below-target periods once the users are back on target.
    pub(super) fn close_below_target(&mut self) {
        if self.ledger.is_below_target() && self.users_present() >= self.users_target() {
            self.ledger.back_on_target(self.clock.now_ms());
        }
    }

    /// The run's report as it stands, for `--checkpoint`.
    pub(super) fn write_checkpoint(&mut self, path: &std::path::Path) {
        let Some((_, started_ms)) = self.ledger.started() else {
            return;
        };
        let (_, summary) = crate::report::conclude::summarize(
            &self.config,
            &crate::report::conclude::RunView {
                run_id: self.ledger.run_id(),
                stats: &self.stats,
                workers: self.workers.entries(),
                started_unix_ms: started_ms,
                ended_unix_ms: self.clock.now_ms(),
                aborted: None,
                stopped_by: self.ledger.stopped_by(),
                failed: None,
                below_target: self.ledger.below_target(),
                outages: self.ledger.outages(),
                checkpoint: true,
            },
        );
        let mut summary = summary;
        summary.resume = Some(self.resume_state());
        if let Err(err) = crate::report::summary::write_json(&summary, path) {
            warn!(path = %path.display(), "cannot write the checkpoint: {err}");
            return;
        }
        // What the checkpoint holds is safe now: the workers may forget it.
        self.ack_checkpointed();
    }

    /// The live line's load: users running against the target, or for an open-model run
    /// (which runs no users) the arrival rate planned now.
    pub(super) fn live_load(&self) -> String {
        match &self.open {
            Some(open) => format!(
                "arrivals {}/s planned",
                crate::report::format::decimal(open.rate_at(Instant::now()), 1)
            ),
            None => format!("users {} / {}", self.users_running(), self.users_target()),
        }
    }

    pub(super) fn print_live(&self) {
        let Some((started, _)) = self.ledger.started() else {
            return;
        };
        if !matches!(self.phase, Phase::Running { .. }) {
            return;
        }
        let elapsed = started.elapsed();
        let run_time = self.config.run_time.map_or_else(
            || "until stopped".to_owned(),
            lv_common::duration::format_duration,
        );
        let window = self
            .stats
            .history
            .last()
            .map_or((0.0, 0.0), |r| (r.rps, r.fps));
        let table =
            console::stats_table(&self.stats.totals, |k| self.stats.current_rate(k), window);
        lv_common::outln!(
            "[{} / {}] {} | workers {} | {} requests, {} failures\n{table}",
            lv_common::duration::format_duration(Duration::from_secs(elapsed.as_secs())),
            run_time,
            self.live_load(),
            self.workers.active(),
            self.stats.totals.request_count(),
            self.stats.totals.failure_count(),
        );
    }
}
