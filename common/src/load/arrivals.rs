//! Which arrivals a worker fires, and when: striping of the global sequence and the
//! uniform or seeded-Poisson arrival levels.
//!
//! Arrival k (0-based) is due when A(t) reaches its level x_k: x_k = k + 1 for uniform
//! arrivals (so a run plans exactly floor(A(end)) of them), and a running sum of unit
//! exponential gaps for Poisson arrivals, on the normalised axis A(t), which is a Poisson
//! process of the planned rate. The gaps come from the master's seed through SplitMix64, so
//! every worker computes the same global sequence and takes its stripe of it: worker w of N
//! fires the arrivals k ≥ k0 with (k − k0) mod N = w, which keeps totals exact, per-worker
//! counts within one and the workers' arrivals interleaved.

use std::time::Duration;

use super::schedule::Schedule;

/// How arrival instants are spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArrivalKind {
    /// Evenly: arrival k when A(t) = k + 1.
    Uniform,
    /// A Poisson process of the planned rate, drawn from the seed.
    Poisson,
}

/// The share of the global arrival sequence one worker fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stripe {
    /// Workers sharing the arrivals (≥ 1).
    pub workers: u32,
    /// This worker's index, below `workers`.
    pub index: u32,
    /// First global arrival the stripe covers; earlier ones belong to earlier stripes.
    pub from: u64,
}

impl Stripe {
    /// The whole sequence, for a single worker.
    pub const ALL: Stripe = Stripe {
        workers: 1,
        index: 0,
        from: 0,
    };

    /// True when global arrival `k` is this worker's.
    pub fn owns(&self, k: u64) -> bool {
        k >= self.from && (k - self.from) % u64::from(self.workers.max(1)) == u64::from(self.index)
    }

    /// How many of the global arrivals in `lo..hi` are this worker's.
    pub fn count_in(&self, lo: u64, hi: u64) -> u64 {
        let n = u64::from(self.workers.max(1));
        let below = |end: u64| -> u64 {
            // Arrivals of the stripe below `end`: from + index + j·n < end.
            let first = self.from.saturating_add(u64::from(self.index));
            if end <= first {
                0
            } else {
                (end - first - 1) / n + 1
            }
        };
        below(hi).saturating_sub(below(lo.max(self.from)))
    }
}

/// Deterministic 64-bit generator (SplitMix64): the same seed gives the same gaps on every
/// machine and every version of lv, which `rand`'s small generators do not promise.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A unit exponential draw (mean 1).
    pub fn next_exp(&mut self) -> f64 {
        // 53 random bits give u in [0, 1); 1 − u is in (0, 1], so the log is finite.
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        -(1.0 - u).ln()
    }
}

/// The arrivals of one stripe, in order: `(k, offset from the start)`.
#[derive(Debug, Clone)]
pub struct StripeArrivals<'a> {
    schedule: &'a Schedule,
    stripe: Stripe,
    /// Next global arrival to consider.
    next: u64,
    /// Poisson state: generator and level of arrival `next - 1`; `None` for uniform.
    poisson: Option<(SplitMix64, f64)>,
}

impl<'a> StripeArrivals<'a> {
    /// The arrivals of `stripe` on `schedule`.
    pub fn new(
        schedule: &'a Schedule,
        kind: ArrivalKind,
        seed: u64,
        stripe: Stripe,
    ) -> StripeArrivals<'a> {
        let first = stripe.from.saturating_add(u64::from(stripe.index));
        let mut arrivals = StripeArrivals {
            schedule,
            stripe,
            next: 0,
            poisson: (kind == ArrivalKind::Poisson).then(|| (SplitMix64::new(seed), 0.0)),
        };
        if arrivals.poisson.is_none() {
            arrivals.next = first;
        } else {
            // The levels are a running sum: replay the shared sequence up to the stripe.
            while arrivals.next < first && arrivals.level_of_next().is_some() {}
        }
        arrivals
    }

    /// Level of arrival `next` (then advances `next`), or `None` past the schedule's end.
    fn level_of_next(&mut self) -> Option<f64> {
        let level = match &mut self.poisson {
            None => self.next.checked_add(1)? as f64,
            Some((rng, level)) => {
                *level += rng.next_exp();
                *level
            }
        };
        if level > self.schedule.level_end() && self.poisson.is_some() {
            return None;
        }
        self.next = self.next.checked_add(1)?;
        Some(level)
    }
}

impl Iterator for StripeArrivals<'_> {
    type Item = (u64, Duration);

    fn next(&mut self) -> Option<(u64, Duration)> {
        loop {
            let k = self.next;
            if self.poisson.is_none() && k >= self.schedule.total() {
                return None;
            }
            let level = self.level_of_next()?;
            if self.stripe.owns(k) {
                let offset = self.schedule.offset_of_level(level)?;
                if self.poisson.is_none() {
                    // Skip straight to the stripe's next arrival.
                    let step = u64::from(self.stripe.workers.max(1)) - 1;
                    self.next = self.next.saturating_add(step);
                }
                return Some((k, offset));
            }
        }
    }
}
