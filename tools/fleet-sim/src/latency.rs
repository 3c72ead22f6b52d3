//! Simulated work: how long each kind of endpoint takes, and the dice for injected failures.
//!
//! Each endpoint kind draws its latency uniformly from a range (the real fleet's rough
//! numbers), multiplied by the latency scale; a scale of 0 never sleeps at all, so tests run at
//! full speed. With a seed, the draws come from one seeded `SmallRng` and are reproducible for a
//! given order of requests. Sleeps end early when the simulator shuts down, so stopping never
//! waits for a creative task's seconds of "work".

use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_util::sync::CancellationToken;

use crate::counts::lock;

/// The kinds of simulated work, each with its own latency range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Work {
    /// `GET /health`.
    Health,
    /// Publishing, acknowledging or querying events.
    Event,
    /// Publishing a batch of events.
    EventBatch,
    /// One chat turn.
    Chat,
    /// One creative task.
    Task,
    /// A batch of creative tasks.
    TaskBatch,
    /// Listing CLIO's assets.
    Assets,
}

impl Work {
    /// Latency range in milliseconds at scale 1.
    pub(crate) fn range_ms(self) -> (f64, f64) {
        match self {
            Work::Health => (1.0, 5.0),
            Work::Event => (5.0, 30.0),
            Work::EventBatch => (20.0, 60.0),
            Work::Chat => (200.0, 1500.0),
            Work::Task => (1000.0, 4000.0),
            Work::TaskBatch => (2000.0, 6000.0),
            Work::Assets => (5.0, 20.0),
        }
    }
}

/// Latency draws, failure dice and the shutdown signal that cuts sleeps short.
#[derive(Debug)]
pub(crate) struct Latency {
    scale: f64,
    error_rate: f64,
    rng: Mutex<SmallRng>,
    shutdown: CancellationToken,
}

impl Latency {
    /// A model with this scale and error rate; `seed` makes the draws reproducible.
    pub(crate) fn new(
        scale: f64,
        error_rate: f64,
        seed: Option<u64>,
        shutdown: CancellationToken,
    ) -> Latency {
        let rng = match seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_os_rng(),
        };
        Latency {
            scale,
            error_rate,
            rng: Mutex::new(rng),
            shutdown,
        }
    }

    /// A latency for `work`, multiplied by `factor` (e.g. 2 for research chats) and the scale.
    pub(crate) fn draw(&self, work: Work, factor: f64) -> Duration {
        if self.scale <= 0.0 {
            return Duration::ZERO;
        }
        let (low, high) = work.range_ms();
        let ms = lock(&self.rng).random_range(low..=high) * factor * self.scale;
        Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(Duration::ZERO)
    }

    /// Whether this request gets an injected failure.
    pub(crate) fn inject_failure(&self) -> bool {
        if self.error_rate <= 0.0 {
            return false;
        }
        if self.error_rate >= 1.0 {
            return true;
        }
        lock(&self.rng).random::<f64>() < self.error_rate
    }

    /// Sleeps for the drawn latency of `work` (nothing at scale 0).
    pub(crate) async fn work(&self, work: Work, factor: f64) {
        self.pause(self.draw(work, factor)).await;
    }

    /// Waits for a place among the requests `queue` serves at once (first come, first
    /// served); `None` when the simulator shuts down first.
    pub(crate) async fn admit<'q>(&self, queue: &'q Semaphore) -> Option<SemaphorePermit<'q>> {
        tokio::select! {
            permit = queue.acquire() => permit.ok(),
            () = self.shutdown.cancelled() => None,
        }
    }

    /// Sleeps for `duration`, or less if the simulator is shutting down.
    pub(crate) async fn pause(&self, duration: Duration) {
        if duration.is_zero() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(duration) => {}
            () = self.shutdown.cancelled() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(scale: f64, error_rate: f64, seed: u64) -> Latency {
        Latency::new(scale, error_rate, Some(seed), CancellationToken::new())
    }

    #[test]
    fn draws_stay_in_range_and_scale() {
        let latency = model(1.0, 0.0, 7);
        for _ in 0..1000 {
            let ms = latency.draw(Work::Chat, 2.0).as_secs_f64() * 1000.0;
            assert!((400.0..=3000.0).contains(&ms), "{ms}");
        }
        let half = model(0.5, 0.0, 7);
        let ms = half.draw(Work::Task, 1.0).as_secs_f64() * 1000.0;
        assert!((500.0..=2000.0).contains(&ms), "{ms}");
        assert_eq!(
            model(0.0, 0.0, 7).draw(Work::TaskBatch, 2.0),
            Duration::ZERO
        );
    }

    #[test]
    fn seeded_draws_repeat() {
        let a: Vec<Duration> = (0..10)
            .map(|_| model(1.0, 0.0, 42).draw(Work::Event, 1.0))
            .collect();
        let one = model(1.0, 0.0, 42);
        let b: Vec<Duration> = (0..10).map(|_| one.draw(Work::Event, 1.0)).collect();
        assert!(a.iter().all(|d| *d == a[0]));
        assert_eq!(b[0], a[0]);
    }

    #[test]
    fn failure_rate_is_roughly_honoured() {
        assert!(!model(1.0, 0.0, 1).inject_failure());
        assert!(model(1.0, 1.0, 1).inject_failure());
        let latency = model(1.0, 0.25, 3);
        let failures = (0..10_000).filter(|_| latency.inject_failure()).count();
        assert!((2000..3000).contains(&failures), "{failures}");
    }
}
