//! Wait rules: how long a virtual user pauses after each task, as in Locust's
//! `between`, `constant`, `constant_pacing` and `constant_throughput`.
//!
//! The rule is pure: the caller passes how long the task took and a random source, and
//! gets the pause back, so schedules can be tested without a clock.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// How long a user waits after each task. In a scenario file:
/// `wait = { between = [1, 5] }`, `{ constant = 2 }`, `{ constant_pacing = 10 }` or
/// `{ constant_throughput = 0.5 }` (seconds, or tasks per second for the last).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum WaitRule {
    /// A uniformly random pause between the two bounds, in seconds.
    Between(f64, f64),
    /// The same pause after every task, in seconds.
    Constant(f64),
    /// Tasks start this many seconds apart (the pause shrinks by the task's duration).
    ConstantPacing(f64),
    /// At most this many tasks per second per user (pacing of `1 / rate`).
    ConstantThroughput(f64),
}

impl Default for WaitRule {
    fn default() -> Self {
        WaitRule::Constant(0.0)
    }
}

impl WaitRule {
    /// Checks the bounds; the message says which rule and what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let finite_non_negative = |v: f64| v.is_finite() && v >= 0.0;
        match *self {
            WaitRule::Between(lo, hi) if !(finite_non_negative(lo) && finite_non_negative(hi)) => {
                Err(format!(
                    "between = [{lo}, {hi}]: bounds must be seconds >= 0"
                ))
            }
            WaitRule::Between(lo, hi) if lo > hi => Err(format!(
                "between = [{lo}, {hi}]: the first bound is larger than the second"
            )),
            WaitRule::Constant(v) | WaitRule::ConstantPacing(v) if !finite_non_negative(v) => {
                Err(format!("wait of {v} s: must be seconds >= 0"))
            }
            WaitRule::ConstantThroughput(v) if !(v.is_finite() && v > 0.0) => Err(format!(
                "constant_throughput = {v}: must be a number of tasks per second > 0"
            )),
            _ => Ok(()),
        }
    }

    /// The pause after a task that took `task_time`.
    pub fn next_wait(&self, task_time: Duration, rng: &mut impl Rng) -> Duration {
        let seconds = match *self {
            WaitRule::Between(lo, hi) if hi > lo => rng.random_range(lo..=hi),
            WaitRule::Between(lo, _) => lo,
            WaitRule::Constant(v) => v,
            WaitRule::ConstantPacing(period) => period - task_time.as_secs_f64(),
            WaitRule::ConstantThroughput(rate) => 1.0 / rate - task_time.as_secs_f64(),
        };
        Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(Duration::MAX)
    }

    /// True when the pause depends on how long the task took.
    pub fn uses_task_time(&self) -> bool {
        matches!(
            *self,
            WaitRule::ConstantPacing(_) | WaitRule::ConstantThroughput(_)
        )
    }

    /// True when the rule never pauses.
    pub fn is_zero(&self) -> bool {
        matches!(*self, WaitRule::Constant(v) | WaitRule::Between(_, v) if v == 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn only_pacing_rules_use_the_task_time() {
        let mut rng = SmallRng::seed_from_u64(1);
        for rule in [WaitRule::Constant(2.0), WaitRule::Between(1.0, 1.0)] {
            assert!(!rule.uses_task_time());
            let long = rule.next_wait(Duration::from_secs(9), &mut rng);
            assert_eq!(long, rule.next_wait(Duration::ZERO, &mut rng), "{rule:?}");
        }
        for rule in [
            WaitRule::ConstantPacing(2.0),
            WaitRule::ConstantThroughput(0.5),
        ] {
            assert!(rule.uses_task_time());
            let after = rule.next_wait(Duration::from_millis(500), &mut rng);
            assert_eq!(after, Duration::from_millis(1500), "{rule:?}");
        }
    }

    #[test]
    fn between_stays_within_bounds_and_spreads() {
        let rule = WaitRule::Between(1.0, 5.0);
        let mut rng = SmallRng::seed_from_u64(1);
        let waits: Vec<f64> = (0..1000)
            .map(|_| rule.next_wait(Duration::ZERO, &mut rng).as_secs_f64())
            .collect();
        assert!(waits.iter().all(|w| (1.0..=5.0).contains(w)));
        let mean = waits.iter().sum::<f64>() / waits.len() as f64;
        assert!((2.8..3.2).contains(&mean), "mean {mean}");
    }

    #[test]
    fn pacing_subtracts_the_task_time() {
        let mut rng = SmallRng::seed_from_u64(1);
        let rule = WaitRule::ConstantPacing(2.0);
        assert_eq!(
            rule.next_wait(Duration::from_millis(500), &mut rng),
            Duration::from_millis(1500)
        );
        assert_eq!(
            rule.next_wait(Duration::from_secs(3), &mut rng),
            Duration::ZERO
        );
        let rule = WaitRule::ConstantThroughput(4.0);
        assert_eq!(
            rule.next_wait(Duration::from_millis(50), &mut rng),
            Duration::from_millis(200)
        );
        assert_eq!(
            WaitRule::Constant(0.25).next_wait(Duration::from_secs(9), &mut rng),
            Duration::from_millis(250)
        );
    }

    #[test]
    fn parses_from_toml_tables() {
        #[derive(Deserialize)]
        struct Holder {
            wait: WaitRule,
        }
        let cases = [
            ("wait = { between = [1, 5] }", WaitRule::Between(1.0, 5.0)),
            ("wait = { constant = 2 }", WaitRule::Constant(2.0)),
            (
                "wait = { constant_pacing = 0.5 }",
                WaitRule::ConstantPacing(0.5),
            ),
            (
                "wait = { constant_throughput = 3 }",
                WaitRule::ConstantThroughput(3.0),
            ),
        ];
        for (text, want) in cases {
            let holder: Holder = toml::from_str(text).expect(text);
            assert_eq!(holder.wait, want);
        }
        assert!(toml::from_str::<Holder>("wait = { sometimes = 1 }").is_err());
    }

    #[test]
    fn invalid_rules_are_explained() {
        assert!(
            WaitRule::Between(5.0, 1.0)
                .validate()
                .is_err_and(|e| e.contains("larger"))
        );
        assert!(WaitRule::Constant(-1.0).validate().is_err());
        assert!(WaitRule::ConstantThroughput(0.0).validate().is_err());
        assert!(WaitRule::Between(0.0, 0.0).validate().is_ok());
        assert!(WaitRule::default().is_zero());
    }
}
