//! Wall-clock stamps for reports, derived from tokio's clock.
//!
//! Run control decides by tokio's [`Instant`] alone, so `tokio::time::pause()` drives it
//! in tests. Reports still need Unix milliseconds: one wall/instant pair is taken at the
//! edge (when the coordinator is made) and every later stamp is that wall time plus the
//! tokio time elapsed since. Over a run this differs from re-reading the system clock
//! only by clock adjustments made meanwhile, and in paused tests it is exact.

use tokio::time::Instant;

/// Turns tokio instants into Unix milliseconds from one pair captured at the start.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    base: Instant,
    base_unix_ms: i64,
}

impl WallClock {
    /// A clock whose `base` instant is the wall time `base_unix_ms`.
    pub fn new(base: Instant, base_unix_ms: i64) -> WallClock {
        WallClock { base, base_unix_ms }
    }

    /// A clock anchored at this moment of both clocks.
    pub fn starting_now() -> WallClock {
        WallClock::new(Instant::now(), lv_common::wire::unix_ms_now())
    }

    /// The Unix ms of `at` (the base's, for instants before the base).
    pub fn unix_ms(&self, at: Instant) -> i64 {
        let elapsed = at.saturating_duration_since(self.base).as_millis();
        self.base_unix_ms
            .saturating_add(i64::try_from(elapsed).unwrap_or(i64::MAX))
    }

    /// The Unix ms of tokio's now.
    pub fn now_ms(&self) -> i64 {
        self.unix_ms(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn stamps_are_the_base_plus_elapsed_whole_ms() {
        let base = Instant::now();
        let clock = WallClock::new(base, 1_000_000);
        assert_eq!(clock.unix_ms(base), 1_000_000);
        assert_eq!(
            clock.unix_ms(base + Duration::from_micros(2_999)),
            1_000_002
        );
        assert_eq!(clock.unix_ms(base + Duration::from_secs(90)), 1_090_000);
    }

    #[test]
    fn instants_before_the_base_get_the_base() {
        let base = Instant::now() + Duration::from_secs(5);
        let clock = WallClock::new(base, 42);
        assert_eq!(clock.unix_ms(base - Duration::from_secs(1)), 42);
    }
}
