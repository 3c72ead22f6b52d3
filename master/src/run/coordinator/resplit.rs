//! When the users are split again after a join, a return or a loss: at once when no split
//! went out within the last tick, else once at the next tick for every change since, so a
//! storm of N joins costs one split, not N.

use tokio::time::Instant;

use super::timers::TICK;

/// When the users were last split, and whether a change since waits for the next tick.
#[derive(Debug, Default)]
pub(super) struct Resplit {
    /// When the last split went out.
    last: Option<Instant>,
    /// A join, return or loss came within a tick of the last split.
    due: bool,
}

impl Resplit {
    /// The members changed at `now`: true when the users are to be split now; false when
    /// a split went out within the last tick, and the next tick splits them.
    pub(super) fn changed(&mut self, now: Instant) -> bool {
        if self.last.is_some_and(|at| now.duration_since(at) < TICK) {
            self.due = true;
            return false;
        }
        true
    }

    /// Whether a change waits for this tick's split.
    pub(super) fn due(&self) -> bool {
        self.due
    }

    /// The users were split at `now`: nothing waits any more.
    pub(super) fn split(&mut self, now: Instant) {
        self.last = Some(now);
        self.due = false;
    }
}

#[cfg(test)]
mod tests;
