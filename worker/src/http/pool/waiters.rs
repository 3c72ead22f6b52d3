//! Checkouts waiting for a connection, and how one is woken.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Checkouts waiting for a connection, woken when one comes back idle or leaves probation.
#[derive(Debug, Default)]
pub(super) struct Waiters {
    /// Checkouts registered for a wake.
    pub waiting: AtomicUsize,
    /// Wakes them, one at a time.
    pub returned: Notify,
}

impl Waiters {
    /// Wakes one waiting checkout, if any.
    pub fn wake_one(&self) {
        // One connection back serves one waiting user (with its origin's, or by evicting
        // it): waking every waiting user for each would cost them all a look per
        // response, a herd that took all the CPU when thousands waited. tokio hands the
        // wake-up on if the woken user is gone meanwhile.
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.returned.notify_one();
        }
    }
}
