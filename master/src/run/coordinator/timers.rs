//! The coordinator's periodic wake-ups, all on tokio's clock.
//!
//! [`Timers::next`] waits for the next one; `Coordinator::run` selects on it beside the
//! events and the shutdown, and tests step it under paused time.

use std::time::Duration;

use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::config::MasterConfig;

/// How often the phase is checked (expected workers, run time, stop deadline).
pub(super) const TICK: Duration = Duration::from_millis(100);

/// Which periodic job is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wake {
    /// A closed-model stage boundary is due.
    Stage,
    /// Check the phase.
    Tick,
    /// Send heartbeats and find lost workers.
    Heartbeat,
    /// Close a stats interval.
    History,
    /// Print the live table.
    Print,
    /// Write the checkpoint.
    Checkpoint,
}

/// The intervals of one run.
pub(super) struct Timers {
    tick: Interval,
    heartbeat: Interval,
    history: Interval,
    print: Option<Interval>,
    checkpoint: Option<Interval>,
}

impl Timers {
    /// Starts the intervals of `config` now: tick, heartbeat and history fire at once,
    /// the live table and the checkpoint one period from now (when configured).
    pub(super) fn new(config: &MasterConfig) -> Timers {
        let now = Instant::now();
        let later = |every: Duration| {
            let mut interval = tokio::time::interval_at(now + every, every);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            interval
        };
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut heartbeat = tokio::time::interval(config.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut history = tokio::time::interval(config.report_interval);
        history.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Timers {
            tick,
            heartbeat,
            history,
            print: config.print_interval.map(later),
            checkpoint: config
                .checkpoint
                .as_ref()
                .map(|_| later(config.checkpoint_interval)),
        }
    }

    /// Waits for the next due job, `stage_at` being the next stage boundary (if any); when
    /// several are due, the earlier in [`Wake`]'s order goes first, so paused-time tests
    /// see one order. Cancel-safe.
    pub(super) async fn next(&mut self, stage_at: Option<Instant>) -> Wake {
        tokio::select! {
            biased;
            () = sleep_until_opt(stage_at) => Wake::Stage,
            _ = self.tick.tick() => Wake::Tick,
            _ = self.heartbeat.tick() => Wake::Heartbeat,
            _ = self.history.tick() => Wake::History,
            () = tick_opt(self.print.as_mut()) => Wake::Print,
            () = tick_opt(self.checkpoint.as_mut()) => Wake::Checkpoint,
        }
    }
}

/// Sleeps until `at`; never when there is none.
async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The next tick of `interval`; never when there is none.
async fn tick_opt(interval: Option<&mut Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}
