//! Starting a run (the open schedule, the stage clock, the run time and the first
//! assignments) and following its closed-model stages: the users and spawn rate it aims
//! at change at each stage boundary.

use std::num::NonZeroU32;

use lv_common::bounds::later;
use tokio::time::Instant;
use tracing::info;

use super::{Coordinator, Phase, open, stages};

impl Coordinator {
    /// Starts the load now: the open schedule (after its lead), then [`Coordinator::begin`].
    pub(super) fn start_load(&mut self) {
        let now = Instant::now();
        let now_ms = self.clock.unix_ms(now);
        self.stats.start(now_ms);
        self.data = super::data::DataLedger::new(&self.config.plan, &self.config.data);
        self.open = self.config.open().map(|shape| {
            let start = now + open::LEAD;
            open::OpenRun::new(shape, start, self.clock.unix_ms(start))
        });
        // The stages start with the open schedule, or now.
        let stages_start = self.open.as_ref().map_or(now, open::OpenRun::start);
        let stages_start = (stages_start, self.clock.unix_ms(stages_start));
        self.begin((now, now_ms), stages_start);
    }

    /// Runs the test started at `started` whose stages start at `stages_start` (both on
    /// tokio's clock and in Unix ms): the stage clock, the run time and the assignments.
    pub(super) fn begin(&mut self, started: (Instant, i64), stages_start: (Instant, i64)) {
        let now = Instant::now();
        self.ledger.start(started);
        self.arm_abort_rules();
        self.staged = self
            .config
            .shape
            .as_ref()
            .map(|shape| stages::StagedRun::new(shape, stages_start.0, stages_start.1));
        // The reports' stage windows and open-model intervals count from the stages' start.
        self.stats.stages_start_unix_ms = self.staged.as_ref().map(|s| s.clock().start_unix_ms);
        if let Some(staged) = &self.staged {
            info!(
                start_unix_ms = staged.clock().start_unix_ms,
                stages = staged.clock().stages.len(),
                "load shape"
            );
        }
        if let Some(step) = self.staged.as_mut().and_then(|s| s.advance(now)) {
            info!(
                stage = step.stage,
                users = step.users,
                spawn_rate = step.rate,
                "closed-model stage"
            );
        }
        // An open run's schedule starts after the lead and gets a margin for its last
        // arrivals to fire before the Stop.
        let begins = self
            .open
            .as_ref()
            .map_or(started.0, |o| o.start() + open::END_MARGIN);
        self.phase = Phase::Running {
            ends: self.config.run_time.map(|t| later(begins, t)),
        };
        info!(workers = self.workers.member_count(), "starting the run");
        self.assign();
    }

    /// When the closed-model target changes next (never outside a running staged run).
    pub(super) fn next_stage_at(&self) -> Option<Instant> {
        match self.phase {
            Phase::Running { .. } => self.staged.as_ref().and_then(stages::StagedRun::next_at),
            _ => None,
        }
    }

    /// A closed-model stage boundary: the new target and spawn rate go to every worker,
    /// split as after a join or a loss.
    pub(super) fn on_stage(&mut self) {
        if !matches!(self.phase, Phase::Running { .. }) {
            return;
        }
        let Some(step) = self.staged.as_mut().and_then(|s| s.advance(Instant::now())) else {
            return;
        };
        info!(
            stage = step.stage,
            users = step.users,
            spawn_rate = step.rate,
            "closed-model stage"
        );
        let name = self
            .config
            .stages()
            .get(step.stage.saturating_sub(1))
            .map_or_else(String::new, |s| s.name.clone());
        self.web_event("stage", format!("stage {name}: {} users", step.users));
        self.assign();
    }

    /// With `-i`, the iteration limit once every user of the run ran its iterations and
    /// spawning is complete (no closed-model stage is left to change the users).
    pub(super) fn iterations_finished(&self) -> Option<NonZeroU32> {
        let n = self.config.plan.iterations?;
        let stages_left = self.staged.as_ref().is_some_and(|s| s.next_at().is_some());
        (!stages_left && self.workers.all_finished()).then_some(n)
    }

    /// Users the run aims at now: the closed-model stage's, else the configured ones.
    pub(super) fn users_target(&self) -> u32 {
        self.closed_step().map_or(self.config.users, |s| s.users)
    }

    /// Users started per second over all workers now.
    pub(super) fn spawn_rate_target(&self) -> f64 {
        self.closed_step()
            .map_or(self.config.spawn_rate, |s| s.rate)
    }

    /// The closed-model step in force, if any.
    fn closed_step(&self) -> Option<stages::Step> {
        self.staged.as_ref().and_then(stages::StagedRun::current)
    }
}
