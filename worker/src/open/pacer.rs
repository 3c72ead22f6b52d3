//! How the open-model executor waits for an arrival's planned instant.
//!
//! tokio's timer counts whole milliseconds and rounds a deadline up to the next one, so an
//! arrival woken by it starts 0-1 ms late (about 1 ms at the 99th percentile), and that
//! lag lands in every response time, which counts from the planned instant. The
//! [`Pacer::Precise`] pacer arms a kernel timer (`timerfd`, high resolution, no timer
//! slack) for the instant and waits for it in the runtime's own event loop, like a socket:
//! no other thread and no hand-off, one `timerfd_settime` and one `read` a wake. The
//! executor wakes it at most once every [`TICK`] and then releases every arrival whose
//! instant has come, each with its own planned instant. [`Pacer::Tokio`] uses tokio's
//! timer alone, so paused-time tests drive the executor.

use std::time::Duration;

use tokio::time::Instant;

/// The shortest time between two wakes of the executor: arrivals closer than this are
/// released together, each at most this late.
pub const TICK: Duration = Duration::from_micros(250);

/// How the executor waits for a planned instant.
#[derive(Debug, Clone, Default)]
pub enum Pacer {
    /// tokio's timer alone (millisecond resolution; follows paused time in tests).
    #[default]
    Tokio,
    /// A high-resolution kernel timer waited for in the runtime's event loop.
    #[cfg(target_os = "linux")]
    Precise(std::sync::Arc<precise::PreciseTimer>),
}

impl Pacer {
    /// A precise pacer on the current runtime's event loop; tokio's timer where the OS has
    /// no `timerfd` (or refuses one). Call it inside the runtime that will wait on it.
    pub fn precise() -> Pacer {
        #[cfg(target_os = "linux")]
        if let Ok(timer) = precise::PreciseTimer::new() {
            return Pacer::Precise(std::sync::Arc::new(timer));
        }
        Pacer::Tokio
    }

    /// Waits until `at`. Cancel-safe: dropping the future abandons the wait. One waiter at
    /// a time: the executor is the only one.
    pub async fn sleep_until(&self, at: Instant) {
        match self {
            Pacer::Tokio => tokio::time::sleep_until(at).await,
            #[cfg(target_os = "linux")]
            Pacer::Precise(timer) => timer.sleep_until(at).await,
        }
    }
}

#[cfg(target_os = "linux")]
mod precise;

#[cfg(test)]
mod tests;
