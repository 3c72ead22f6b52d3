//! New connections on probation until their first answer, one origin at a time.
//!
//! An open-model arrival that finds no idle connection opens a new one, and a server that
//! accepts connections more slowly than it answers (nginx accepts one an event-loop turn)
//! then gets a storm of them: each waits longer to be accepted, so more arrivals find no
//! idle connection. A paced checkout (the open model's) therefore waits for a connection
//! to come back instead of opening another while [`MAX_UNPROVEN`] of the origin's new
//! connections wait for their first answer and its first answers take much longer than
//! its answers on reused connections. A server slow to answer, whose first answers are no
//! slower than its others, gets every connection it needs at once; so does every other
//! origin of the same run, whatever one slow origin does.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::waiters::Waiters;

/// New connections to one origin a paced checkout lets wait for their first answer at
/// once while first answers are slow ([`Probation::accepts_lag`]).
pub(super) const MAX_UNPROVEN: usize = 8;
/// First answers count as slow above this many times the answers on reused connections...
const SLOW_FIRST_RATIO: u64 = 4;
/// ...plus this margin, so that a fast server's jitter does not hold new connections back.
const SLOW_FIRST_MARGIN_US: u64 = 500;

/// One origin's connections on probation, and how fast its first answers come.
#[derive(Debug, Default)]
pub(super) struct Probation {
    /// New connections waiting for their first answer.
    unproven: AtomicUsize,
    /// Moving averages (weight 1/8) of the time to first byte, in microseconds, of a new
    /// connection's first answer and of an answer on a reused connection.
    first_us: AtomicU64,
    reused_us: AtomicU64,
}

impl Probation {
    /// Whether [`MAX_UNPROVEN`] new connections wait for a first answer while first
    /// answers come much later than answers on reused connections: the server is slow to
    /// accept, and another new connection would only queue behind them.
    pub fn accepts_lag(&self) -> bool {
        self.unproven.load(Ordering::SeqCst) >= MAX_UNPROVEN
            && first_answers_lag(
                self.first_us.load(Ordering::Relaxed),
                self.reused_us.load(Ordering::Relaxed),
            )
    }

    /// Counts one answer's time to first byte, on a new connection (`first`) or a reused one.
    pub fn answered(&self, first: bool, ttfb: Duration) {
        let average = if first {
            &self.first_us
        } else {
            &self.reused_us
        };
        let sample = u64::try_from(ttfb.as_micros()).unwrap_or(u64::MAX);
        // Racing updates may lose one sample: an average needs no exact count.
        let old = average.load(Ordering::Relaxed);
        average.store(moving_average(old, sample), Ordering::Relaxed);
    }

    /// New connections waiting for their first answer now.
    #[cfg(test)]
    pub fn unproven(&self) -> usize {
        self.unproven.load(Ordering::SeqCst)
    }
}

/// One new connection on its origin's probation until its first answer or its end, which
/// may let a waiting checkout open another.
#[derive(Debug)]
pub(super) struct Unproven {
    probation: Arc<Probation>,
    waiters: Arc<Waiters>,
}

impl Unproven {
    /// Puts a new connection on `probation`; its end wakes one of `waiters`.
    pub fn new(probation: Arc<Probation>, waiters: Arc<Waiters>) -> Unproven {
        probation.unproven.fetch_add(1, Ordering::SeqCst);
        Unproven { probation, waiters }
    }
}

impl Drop for Unproven {
    fn drop(&mut self) {
        self.probation.unproven.fetch_sub(1, Ordering::SeqCst);
        self.waiters.wake_one();
    }
}

/// `old` moved an eighth of the way to `sample` (`sample` itself when `old` is 0).
fn moving_average(old: u64, sample: u64) -> u64 {
    if old == 0 {
        return sample;
    }
    let (old, sample) = (i128::from(old), i128::from(sample));
    u64::try_from(old + (sample - old) / 8).unwrap_or(u64::MAX)
}

/// Whether first answers (`first_us`, averaged) are slow against reused connections'.
fn first_answers_lag(first_us: u64, reused_us: u64) -> bool {
    reused_us > 0
        && first_us
            > reused_us
                .saturating_mul(SLOW_FIRST_RATIO)
                .saturating_add(SLOW_FIRST_MARGIN_US)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_answers_lag_only_well_behind_reused_ones() {
        assert_eq!(
            moving_average(0, 800),
            800,
            "the first sample is the average"
        );
        assert_eq!(moving_average(800, 0), 700);
        assert_eq!(moving_average(100, 900), 200);
        assert!(
            !first_answers_lag(5_000, 0),
            "nothing reused yet: no comparison"
        );
        assert!(!first_answers_lag(900, 100), "within 4x + 500 us");
        assert!(first_answers_lag(901, 100));
        assert!(
            !first_answers_lag(200_000, 200_000),
            "a slow server's first answers are as slow as its others"
        );
    }
}
