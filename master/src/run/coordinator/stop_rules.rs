//! SLO rules that stop a run early: about once a second while the run goes on, the
//! coordinator judges its abort rules on the merged stats (the run's so far, and the running
//! stage's), and the first that has failed for its whole grace stops the run the way the
//! run time does (Stop, the final reports, every report written), named in the ledger so the
//! reports and the exit code (1) say which rule it was and why.

use std::time::Duration;

use lv_common::bounds::later;
use lv_common::stats::StatsSet;
use tokio::time::Instant;
use tracing::info;

use super::Coordinator;
use crate::slo::abort::{AbortInput, AbortWatch};

/// How often the abort rules are judged.
pub(super) const JUDGE_EVERY: Duration = Duration::from_secs(1);

impl Coordinator {
    /// Arms the abort rules of the run starting now (none without SLO verdicts, or when no
    /// rule aborts): their failing times start empty.
    pub(super) fn arm_abort_rules(&mut self) {
        self.abort_judged_at = None;
        self.abort_rules = self
            .config
            .slo
            .as_ref()
            .and_then(|s| AbortWatch::new(&s.table, &s.level, s.abort_on_slo));
        if let Some(watch) = &self.abort_rules {
            info!(rules = ?watch.rule_names(), "abort rules armed");
        }
    }

    /// Judges the abort rules when due (at the first call, then every [`JUDGE_EVERY`]); true
    /// when one stopped the run, its record then in the ledger.
    pub(super) fn abort_rule_tripped(&mut self, now: Instant) -> bool {
        let Some((started, _)) = self.ledger.started() else {
            return false;
        };
        let Some(watch) = self.abort_rules.as_mut() else {
            return false;
        };
        if self
            .abort_judged_at
            .is_some_and(|at| now < later(at, JUDGE_EVERY))
        {
            return false;
        }
        self.abort_judged_at = Some(now);
        let empty = StatsSet::default();
        let stage = self
            .staged
            .as_ref()
            .and_then(|s| s.stage_at(now))
            .and_then(|index| {
                let name = self.config.stages().get(index - 1)?.name.as_str();
                let key = u32::try_from(index).ok()?;
                let stats = self.stats.stages.get(&key).map_or(&empty, |s| &s.totals);
                Some((name, stats))
            });
        let input = AbortInput {
            totals: &self.stats.totals,
            stage,
        };
        let Some(record) = watch.judge(&input, now.saturating_duration_since(started)) else {
            return false;
        };
        self.web_event("abort", record.verdict());
        self.ledger.stop_by_rule(record);
        true
    }
}
