//! The precise pacer's timer: a `timerfd` registered with the runtime's reactor.

use std::io;
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::time::{
    Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
    timerfd_settime,
};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

/// A one-shot kernel timer on `CLOCK_MONOTONIC` (the clock of [`Instant`]), readable once
/// it has expired.
#[derive(Debug)]
pub struct PreciseTimer {
    fd: AsyncFd<OwnedFd>,
}

impl PreciseTimer {
    /// A disarmed timer registered with the current runtime's reactor.
    pub fn new() -> io::Result<PreciseTimer> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        Ok(PreciseTimer { fd: register(fd)? })
    }

    /// Waits until `at` (never returns before it); tokio's timer if the kernel's fails.
    pub async fn sleep_until(&self, at: Instant) {
        loop {
            let left = at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            // Arming replaces whatever an abandoned wait left armed, and resets the count
            // of expirations; a readiness it left behind only costs one more turn here.
            if self.arm(left).is_err() {
                return tokio::time::sleep_until(at).await;
            }
            if self.expired().await.is_err() {
                return tokio::time::sleep_until(at).await;
            }
        }
    }

    /// Arms the timer to expire once, `left` from now (which is not zero: zero disarms).
    fn arm(&self, left: Duration) -> io::Result<()> {
        let value = Timespec {
            tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: left.subsec_nanos().into(),
        };
        let spec = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: value,
        };
        timerfd_settime(self.fd.get_ref(), TimerfdTimerFlags::empty(), &spec)?;
        Ok(())
    }

    /// Waits until the timer has expired since it was armed (or an abandoned wait's expiry
    /// is still pending: [`PreciseTimer::sleep_until`] checks the clock).
    ///
    /// The expirations are never read: arming resets their count, and each expiry wakes
    /// the reactor's edge-triggered registration anew, so clearing the readiness this wait
    /// saw (not a later one) is all a wake takes besides the arming.
    async fn expired(&self) -> io::Result<()> {
        self.fd.readable().await?.clear_ready();
        Ok(())
    }
}

/// Registers `fd` with the current runtime's reactor, for reading.
#[allow(unsafe_code)]
fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: the `AsyncFd` owns the `OwnedFd`, which stays open and the same descriptor
    // until the `AsyncFd` is dropped, as `register_with_interest` requires.
    unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(io::Error::from)
}
