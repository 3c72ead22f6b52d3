//! Where users record what happened; the connection takes deltas from it to report.
//!
//! A std `Mutex` around one [`StatsSet`]: the critical section is a map lookup and a
//! histogram increment, never held across an `.await`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use lv_common::kind::SloKind;
use lv_common::load::{ArrivalCounts, OpenStats, RequestTiming};
use lv_common::stats::{RequestPhases, StatsSet};

/// Shared stats of the running users.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    stats: Mutex<StatsSet>,
    cut_off: AtomicU64,
    /// Open-model service times, lags and arrival counters.
    open: Mutex<OpenStats>,
}

impl Recorder {
    fn lock(&self) -> MutexGuard<'_, StatsSet> {
        // A panic while recording leaves the set consistent (each call is one update).
        self.inner
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records one completed request, and its timing phases when a response came, under
    /// one lock; `error` makes it a failure.
    #[allow(
        clippy::too_many_arguments,
        reason = "one request's record: the stats set's fields and its phases"
    )]
    pub fn request(
        &self,
        method: &str,
        name: &str,
        kind: Option<SloKind>,
        latency_us: u64,
        content_len: u64,
        error: Option<&str>,
        phases: Option<&RequestPhases>,
    ) {
        let mut stats = self.lock();
        stats.record_request(method, name, kind, latency_us, content_len, error);
        if let Some(phases) = phases {
            stats.record_phases(method, name, phases);
        }
    }

    /// Records an error in lv's own step handling.
    pub fn exception(&self, message: &str) {
        self.lock().record_exception(message);
    }

    /// Counts a request that the stop cut off.
    pub fn cut_off(&self) {
        self.inner.cut_off.fetch_add(1, Ordering::Relaxed);
    }

    fn lock_open(&self) -> MutexGuard<'_, OpenStats> {
        self.inner
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the service time and schedule lag of one open-model request (its response
    /// time goes through [`Recorder::request`]).
    pub fn open_request(&self, method: &str, name: &str, timing: RequestTiming) {
        self.lock_open().record(method, name, timing);
    }

    /// Updates the open model's arrival counters.
    pub fn arrivals(&self, update: impl FnOnce(&mut ArrivalCounts)) {
        update(&mut self.lock_open().counts);
    }

    /// Open-model measurements since the previous call.
    pub fn take_open(&self) -> OpenStats {
        self.lock_open().take()
    }

    /// Everything recorded since the previous call, and the cut-off count.
    pub fn take(&self) -> (StatsSet, u64) {
        let stats = self.lock().take();
        (stats, self.inner.cut_off.swap(0, Ordering::Relaxed))
    }
}
