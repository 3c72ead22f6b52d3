//! How the open-model executor waits for an arrival's planned instant.
//!
//! tokio's timer counts whole milliseconds and rounds a deadline up to the next one, so an
//! arrival woken by it starts 0-1 ms late (about 1 ms at the 99th percentile), and that
//! lag lands in every response time, which counts from the planned instant. The
//! [`Pacer::Precise`] pacer sleeps on tokio's timer until [`COARSE_MARGIN`] before the
//! instant, then hands the rest to one OS thread that sleeps with the kernel's
//! high-resolution timers and wakes the arrival's task (tens of microseconds late). Waits
//! shorter than [`SPIN`] yield to the runtime until the instant instead: at those rates
//! the runtime has other work to do between arrivals. [`Pacer::Tokio`] uses tokio's timer
//! alone, so paused-time tests drive the executor.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

/// How long before the instant the coarse sleep on tokio's timer ends.
pub const COARSE_MARGIN: Duration = Duration::from_millis(2);
/// Waits at most this long yield to the runtime instead of going through the timer thread.
pub const SPIN: Duration = Duration::from_micros(20);

/// How the executor waits for a planned instant.
#[derive(Debug, Clone, Default)]
pub enum Pacer {
    /// tokio's timer alone (millisecond resolution; follows paused time in tests).
    #[default]
    Tokio,
    /// tokio's timer, then a high-resolution timer thread for the last stretch.
    Precise(PreciseTimer),
}

impl Pacer {
    /// A precise pacer with its own timer thread (which ends when the last clone is dropped).
    pub fn precise() -> Pacer {
        PreciseTimer::start().map_or(Pacer::Tokio, Pacer::Precise)
    }

    /// Waits until `at`. Cancel-safe: dropping the future abandons the wait.
    pub async fn sleep_until(&self, at: Instant) {
        match self {
            Pacer::Tokio => tokio::time::sleep_until(at).await,
            Pacer::Precise(timer) => timer.sleep_until(at).await,
        }
    }
}

/// A deadline handed to the timer thread, and the task to wake at it.
type Wake = (std::time::Instant, oneshot::Sender<()>);

/// The handle of a high-resolution timer thread.
#[derive(Debug, Clone)]
pub struct PreciseTimer {
    deadlines: mpsc::Sender<Wake>,
}

impl PreciseTimer {
    /// Starts the timer thread; `None` when the OS refuses a thread.
    fn start() -> Option<PreciseTimer> {
        let (deadlines, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("lv-open-pacer".into())
            .spawn(move || timer_thread(&rx))
            .ok()?;
        Some(PreciseTimer { deadlines })
    }

    async fn sleep_until(&self, at: Instant) {
        if let Some(coarse) = at.checked_sub(COARSE_MARGIN)
            && coarse > Instant::now()
        {
            tokio::time::sleep_until(coarse).await;
        }
        let left = at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        if left <= SPIN {
            while Instant::now() < at {
                tokio::task::yield_now().await;
            }
            return;
        }
        let (wake, woken) = oneshot::channel();
        if self.deadlines.send((at.into_std(), wake)).is_err() {
            // The thread is gone (it cannot be, while this handle lives): tokio's timer.
            tokio::time::sleep_until(at).await;
            return;
        }
        // The thread always sends, or drops the sender when it ends: both end the wait.
        let _ = woken.await;
    }
}

/// A pending wake-up, ordered by its instant (then by arrival order).
struct Pending {
    at: std::time::Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Wakes each deadline's task at its instant, until every handle is dropped.
fn timer_thread(deadlines: &mpsc::Receiver<Wake>) {
    let mut pending: BinaryHeap<Reverse<Pending>> = BinaryHeap::new();
    let mut seq = 0u64;
    loop {
        let now = std::time::Instant::now();
        while pending.peek().is_some_and(|p| p.0.at <= now) {
            if let Some(Reverse(due)) = pending.pop() {
                // The task may have given up on the wait; nothing to do then.
                let _ = due.wake.send(());
            }
        }
        let next = match pending.peek() {
            Some(first) => {
                match deadlines.recv_timeout(first.0.at.saturating_duration_since(now)) {
                    Ok(wake) => wake,
                    Err(mpsc::RecvTimeoutError::Timeout) => continue,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
            None => match deadlines.recv() {
                Ok(wake) => wake,
                Err(mpsc::RecvError) => return,
            },
        };
        seq += 1;
        pending.push(Reverse(Pending {
            at: next.0,
            seq,
            wake: next.1,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real time, not paused: each wait ends at or after its instant, and the precise pacer
    /// ends far closer to it than tokio's millisecond timer could promise. The bound is
    /// loose (a loaded CI machine), the exactness is what the benchmark measures.
    #[tokio::test]
    async fn precise_waits_never_end_early() {
        let pacer = Pacer::precise();
        assert!(matches!(pacer, Pacer::Precise(_)));
        let mut lates = Vec::new();
        for step in 0..200u64 {
            // Waits of 0 to 4.975 ms: the spin, the thread and the coarse sleep all serve.
            let at = Instant::now() + Duration::from_micros(step * 25);
            pacer.sleep_until(at).await;
            let now = Instant::now();
            assert!(now >= at, "woke {:?} early", at - now);
            lates.push(now - at);
        }
        lates.sort();
        let median = lates[lates.len() / 2];
        assert!(
            median < Duration::from_millis(5),
            "median lateness {median:?}"
        );
    }

    /// Abandoned waits (a stop, a new stripe) leave the thread serving the next ones, and
    /// the thread ends once the last handle is dropped.
    #[tokio::test]
    async fn abandoned_waits_do_not_block_later_ones() {
        let pacer = Pacer::precise();
        for _ in 0..10 {
            let far = Instant::now() + Duration::from_secs(60);
            let _ = tokio::time::timeout(Duration::from_millis(3), pacer.sleep_until(far)).await;
        }
        let at = Instant::now() + Duration::from_millis(1);
        pacer.sleep_until(at).await;
        assert!(Instant::now() >= at);
        drop(pacer);
    }
}
