//! The cumulative arrival function of a piecewise-linear rate, and its exact inverse.
//!
//! A shape's stages ramp the rate linearly, so the number of arrivals planned by time t,
//! A(t) = ∫₀ᵗ rate, is a quadratic inside each stage, and its inverse A⁻¹(x) (the first
//! instant by which x arrivals are due) solves that quadratic in closed form. Zero-rate stages
//! are flat in A: no level is reached inside them, so nothing is planned there. Pure code, no
//! clock: offsets are durations from the run's start.

use std::time::Duration;

/// Relative slack when flooring A(end) to a whole number of arrivals: rates such as 33.3/s
/// are not exact in binary, and 999.9999999999 arrivals should count as 1000.
const FLOOR_SLACK: f64 = 1e-9;

/// One stage of the rate function, in seconds and arrivals per second.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    /// Offset of the stage's start from the run's start.
    start_s: f64,
    /// Length of the stage (> 0).
    len_s: f64,
    /// Rate at the stage's start.
    from: f64,
    /// Rate at the stage's end.
    to: f64,
    /// A(start_s).
    level_before: f64,
}

impl Segment {
    /// Arrivals planned inside this stage.
    fn area(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.len_s
    }

    /// Arrivals planned from the stage's start to `s` seconds into it.
    fn level_at(&self, s: f64) -> f64 {
        let slope = (self.to - self.from) / self.len_s;
        self.from * s + slope / 2.0 * s * s
    }

    /// Seconds into the stage at which `y` arrivals of it are due (0 ≤ y ≤ area).
    fn solve(&self, y: f64) -> f64 {
        if y <= 0.0 {
            return 0.0;
        }
        // a·s² + from·s − y = 0 with a = slope / 2; the form 2y / (from + √(from² + 4ay))
        // avoids cancellation and stays valid for a flat or falling rate.
        let a = (self.to - self.from) / self.len_s / 2.0;
        let disc = (self.from * self.from + 4.0 * a * y).max(0.0);
        let denom = self.from + disc.sqrt();
        if denom <= 0.0 {
            return self.len_s;
        }
        (2.0 * y / denom).min(self.len_s)
    }
}

/// A piecewise-linear rate over time: A(t), A⁻¹(x) and the planned total.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    segments: Vec<Segment>,
    /// Seconds from the start to the end of the last stage.
    end_s: f64,
    /// A(end).
    level_end: f64,
}

impl Schedule {
    /// Builds the schedule of stages given as `(duration, rate at its end)`, ramping linearly
    /// from `start` (the rate at time 0). Rates must be finite and ≥ 0 (the shape's
    /// validation guarantees it); zero-length stages are jumps and plan nothing.
    pub fn new(start: f64, stages: &[(Duration, f64)]) -> Schedule {
        let mut segments = Vec::with_capacity(stages.len());
        let (mut at, mut level, mut from) = (0.0, 0.0, start.max(0.0));
        for &(duration, to) in stages {
            let to = to.max(0.0);
            let len_s = duration.as_secs_f64();
            if len_s > 0.0 {
                let segment = Segment {
                    start_s: at,
                    len_s,
                    from,
                    to,
                    level_before: level,
                };
                level += segment.area();
                at += len_s;
                segments.push(segment);
            }
            from = to;
        }
        Schedule {
            segments,
            end_s: at,
            level_end: level,
        }
    }

    /// Length of the whole schedule.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.end_s)
    }

    /// The planned rate (arrivals per second) at `t`; 0 after the end.
    pub fn rate_at(&self, t: Duration) -> f64 {
        let t = t.as_secs_f64();
        self.segment_at(t).map_or(0.0, |seg| {
            let s = t - seg.start_s;
            seg.from + (seg.to - seg.from) * s / seg.len_s
        })
    }

    /// A(t): arrivals planned from the start to `t` (not rounded).
    pub fn level_at(&self, t: Duration) -> f64 {
        let t = t.as_secs_f64();
        if t >= self.end_s {
            return self.level_end;
        }
        self.segment_at(t)
            .map_or(0.0, |seg| seg.level_before + seg.level_at(t - seg.start_s))
    }

    /// A(end): arrivals planned over the whole schedule (not rounded).
    pub fn level_end(&self) -> f64 {
        self.level_end
    }

    /// floor(A(end)): the exact number of uniform arrivals.
    pub fn total(&self) -> u64 {
        let slack = FLOOR_SLACK * self.level_end.max(1.0);
        // Saturating float-to-int conversion: a huge total becomes u64::MAX.
        (self.level_end + slack).floor() as u64
    }

    /// A⁻¹(x): the first offset by which `x` arrivals are due; `None` beyond A(end)
    /// (allowing the flooring slack of [`Schedule::total`]).
    pub fn offset_of_level(&self, x: f64) -> Option<Duration> {
        let reachable = x <= self.level_end + FLOOR_SLACK * self.level_end.max(1.0);
        if x.is_nan() || !reachable {
            return None;
        }
        if x <= 0.0 {
            return Some(Duration::ZERO);
        }
        // The first stage that reaches x and plans something (flat stages reach nothing).
        let index = self
            .segments
            .partition_point(|seg| seg.level_before + seg.area() < x);
        let seconds = match self.segments.get(index) {
            Some(seg) => seg.start_s + seg.solve(x - seg.level_before),
            None => self.end_s,
        };
        Some(Duration::from_secs_f64(seconds.clamp(0.0, self.end_s)))
    }

    fn segment_at(&self, t: f64) -> Option<&Segment> {
        if t < 0.0 || t >= self.end_s {
            return None;
        }
        let index = self.segments.partition_point(|seg| seg.start_s <= t);
        self.segments.get(index.checked_sub(1)?)
    }
}
