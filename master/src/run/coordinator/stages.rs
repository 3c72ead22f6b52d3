//! Staged runs on the master: the stage clock every worker is sent, and, in the closed
//! model, the users target and spawn rate that change at each stage boundary.
//!
//! A closed shape becomes a list of [`Step`]s, computed once: at the start of each stage
//! the target becomes the stage's `to`, reached at |to − from| / duration users/s. A stage
//! of duration 0 (a jump) or one that holds its value uses [`JUMP_RATE`], so the users it
//! asks for start at once. A jump followed by a ramp at the same instant (a closed shape
//! with `start` > 0 is one: a jump at time 0) keeps the jump and starts the ramp
//! [`SETTLE`] later, since a worker runs one spawn rate at a time.
//!
//! Workers retire users beyond a lowered target at once (each at its next task boundary),
//! so a ramp down is a staircase: the target steps down at most every [`DOWN_STEP`], to the
//! ramp's value at the end of each step, reaching the stage's `to` in its last second.

use std::time::Duration;

use lv_common::bounds::later;
use lv_common::load::{LoadShape, Model};
use lv_common::wire::StageClock;
use tokio::time::Instant;

/// Spawn rate (users/s over all workers) of a jump or a hold: the users start at once.
pub(super) const JUMP_RATE: f64 = 1_000_000.0;
/// Time between a jump and the ramp that starts from its value at the same instant.
pub(super) const SETTLE: Duration = Duration::from_millis(200);
/// The shortest time between two steps of a ramp down.
pub(super) const DOWN_STEP: Duration = Duration::from_secs(1);

/// One change of a closed run's target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Step {
    /// Offset from the shape's start.
    pub(super) at: Duration,
    /// The stage it starts (1-based).
    pub(super) stage: usize,
    /// Users over all workers from then on.
    pub(super) users: u32,
    /// Users started per second over all workers.
    pub(super) rate: f64,
}

/// The closed-model steps of `shape`, in time order, one per instant except a jump
/// followed by its ramp.
pub(super) fn closed_steps(shape: &LoadShape) -> Vec<Step> {
    // Stage values are whole numbers up to 1e9 (checked when parsed): they fit in a u32.
    let users = |value: f64| value as u32;
    let mut raw = Vec::with_capacity(shape.stages.len() + 1);
    if shape.start > 0.0 {
        raw.push(Step {
            at: Duration::ZERO,
            stage: 1,
            users: users(shape.start),
            rate: JUMP_RATE,
        });
    }
    let (mut at, mut from) = (Duration::ZERO, shape.start);
    for (i, stage) in shape.stages.iter().enumerate() {
        let rate = if stage.duration.is_zero() || stage.to == from {
            JUMP_RATE
        } else {
            (stage.to - from).abs() / stage.duration.as_secs_f64()
        };
        if stage.to < from && !stage.duration.is_zero() {
            raw.extend(ramp_down(at, i + 1, from, stage.to, stage.duration, rate));
        } else {
            raw.push(Step {
                at,
                stage: i + 1,
                users: users(stage.to),
                rate,
            });
        }
        at += stage.duration;
        from = stage.to;
    }
    let mut steps: Vec<Step> = Vec::with_capacity(raw.len());
    for mut step in raw {
        let before = steps.len().checked_sub(2).map_or(0, |i| steps[i].users);
        match steps.last_mut() {
            // A ramp right after a jump that changed the target: the jump goes first.
            Some(last) if last.at == step.at && step.rate < JUMP_RATE && last.users != before => {
                step.at += SETTLE;
                steps.push(step);
            }
            // Otherwise the later of two steps at one instant decides.
            Some(last) if last.at == step.at => *last = step,
            _ => steps.push(step),
        }
    }
    steps
}

/// The staircase of a ramp from `from` down to `to` users over `duration`, starting at
/// `at`: `n` equal steps (one per [`DOWN_STEP`] or per user, whichever is fewer), each
/// lowering the target to the ramp's value at the step's end.
fn ramp_down(
    at: Duration,
    stage: usize,
    from: f64,
    to: f64,
    duration: Duration,
    rate: f64,
) -> Vec<Step> {
    let drop = from - to;
    let by_time = (duration.as_secs_f64() / DOWN_STEP.as_secs_f64()).ceil();
    // Both are whole numbers between 1 and 1e9 (stage values are checked when parsed).
    let n = by_time.min(drop).max(1.0) as u32;
    (0..n)
        .map(|k| Step {
            at: at + duration.mul_f64(f64::from(k) / f64::from(n)),
            stage,
            users: (from - drop * f64::from(k + 1) / f64::from(n)).round() as u32,
            rate,
        })
        .collect()
}

/// The master's view of a run with stages.
#[derive(Debug)]
pub(super) struct StagedRun {
    /// What every worker is sent.
    clock: StageClock,
    /// The shape's start on tokio's clock.
    start: Instant,
    /// Closed model: the target changes (empty for an open run).
    steps: Vec<Step>,
    /// Steps already applied.
    applied: usize,
}

impl StagedRun {
    /// A run of `shape` whose first stage starts at `start` (`start_unix_ms` on the wall
    /// clock).
    pub(super) fn new(shape: &LoadShape, start: Instant, start_unix_ms: i64) -> StagedRun {
        StagedRun {
            clock: StageClock {
                start_unix_ms,
                stages: shape.stages.clone(),
            },
            start,
            steps: match shape.model {
                Model::Closed => closed_steps(shape),
                Model::Open => Vec::new(),
            },
            applied: 0,
        }
    }

    /// The stage windows sent to workers.
    pub(super) fn clock(&self) -> &StageClock {
        &self.clock
    }

    /// When the next target change is due, if one is left.
    pub(super) fn next_at(&self) -> Option<Instant> {
        self.steps
            .get(self.applied)
            .map(|s| later(self.start, s.at))
    }

    /// Applies every step due by `now`; the step now in force when one was applied.
    pub(super) fn advance(&mut self, now: Instant) -> Option<Step> {
        let before = self.applied;
        while self.next_at().is_some_and(|at| at <= now) {
            self.applied += 1;
        }
        (self.applied > before).then(|| self.current()).flatten()
    }

    /// The stage running at `now` (1-based): none before the first starts or after the
    /// last ends.
    pub(super) fn stage_at(&self, now: Instant) -> Option<usize> {
        let mut elapsed = now.checked_duration_since(self.start)?;
        for (i, stage) in self.clock.stages.iter().enumerate() {
            if elapsed < stage.duration {
                return Some(i + 1);
            }
            elapsed -= stage.duration;
        }
        None
    }

    /// The step in force (none before the first, and in an open run).
    pub(super) fn current(&self) -> Option<Step> {
        self.applied
            .checked_sub(1)
            .and_then(|i| self.steps.get(i))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use lv_common::load::ArrivalKind;
    use lv_common::load::{OnSaturation, Stage};

    use super::*;

    fn closed(start: f64, stages: &[(u64, f64)]) -> LoadShape {
        LoadShape {
            model: Model::Closed,
            start,
            stages: stages
                .iter()
                .enumerate()
                .map(|(i, &(ms, to))| Stage {
                    name: format!("stage-{}", i + 1),
                    duration: Duration::from_millis(ms),
                    to,
                })
                .collect(),
            arrivals: ArrivalKind::Uniform,
            seed: None,
            max_in_flight: None,
            on_saturation: OnSaturation::Drop,
        }
    }

    fn plan(shape: &LoadShape) -> Vec<(u64, usize, u32, f64)> {
        closed_steps(shape)
            .iter()
            .map(|s| {
                let at = u64::try_from(s.at.as_millis()).unwrap_or(u64::MAX);
                (at, s.stage, s.users, s.rate)
            })
            .collect()
    }

    #[test]
    fn ramps_holds_and_jumps_become_targets_and_rates() {
        // 0→50 over 10 s, hold, jump to 500, hold 60 s, down to 50 over 0 s, hold.
        let shape = closed(
            0.0,
            &[
                (10_000, 50.0),
                (20_000, 50.0),
                (0, 500.0),
                (60_000, 500.0),
                (0, 50.0),
                (30_000, 50.0),
            ],
        );
        assert_eq!(
            plan(&shape),
            [
                (0, 1, 50, 5.0),
                (10_000, 2, 50, JUMP_RATE),
                (30_000, 4, 500, JUMP_RATE),
                (90_000, 6, 50, JUMP_RATE),
            ]
        );
    }

    #[test]
    fn a_ramp_down_is_a_staircase_of_whole_seconds() {
        // 8 → 2 over 2 s: two steps, to 5 at once and to 2 one second later.
        let shape = closed(0.0, &[(4_000, 8.0), (2_000, 2.0)]);
        assert_eq!(
            plan(&shape),
            [(0, 1, 8, 2.0), (4_000, 2, 5, 3.0), (5_000, 2, 2, 3.0)]
        );
        // 500 → 50 over 10 s: ten steps of 45 users, the last reaching 50 at 19 s.
        let shape = closed(0.0, &[(10_000, 500.0), (10_000, 50.0)]);
        let down: Vec<(u64, u32)> = plan(&shape)[1..].iter().map(|s| (s.0, s.2)).collect();
        let expected: Vec<(u64, u32)> = (0..10)
            .map(|k| (10_000 + k * 1_000, 455 - 45 * k as u32))
            .collect();
        assert_eq!(down, expected);
        // From start = 3 down to 1 over 10 s: the jump to 3, then one step per user (not
        // one per second), the first SETTLE after the jump.
        let shape = closed(3.0, &[(10_000, 1.0)]);
        assert_eq!(
            plan(&shape),
            [(0, 1, 3, JUMP_RATE), (200, 1, 2, 0.2), (5_000, 1, 1, 0.2)]
        );
    }

    #[test]
    fn a_jump_before_a_ramp_goes_first() {
        // start = 10 is a jump at 0; the ramp to 20 follows SETTLE later.
        let shape = closed(10.0, &[(10_000, 20.0)]);
        assert_eq!(plan(&shape), [(0, 1, 10, JUMP_RATE), (200, 1, 20, 1.0)]);
        // A 0-length stage to 100, then a ramp from 100 to 200.
        let shape = closed(0.0, &[(5_000, 10.0), (0, 100.0), (10_000, 200.0)]);
        assert_eq!(
            plan(&shape),
            [
                (0, 1, 10, 2.0),
                (5_000, 2, 100, JUMP_RATE),
                (5_200, 3, 200, 10.0)
            ]
        );
        // start = 0 with a first ramp needs no jump.
        let shape = closed(0.0, &[(0, 0.0), (1_000, 4.0)]);
        assert_eq!(plan(&shape), [(0, 2, 4, 4.0)]);
    }

    #[tokio::test(start_paused = true)]
    async fn steps_are_applied_when_due() {
        let shape = closed(0.0, &[(1_000, 4.0), (2_000, 4.0), (1_000, 8.0)]);
        let start = Instant::now();
        let mut run = StagedRun::new(&shape, start, 5_000);
        assert_eq!(run.clock().ends_unix_ms(), [6_000, 8_000, 9_000]);
        let at = |ms: u64| run.stage_at(start + Duration::from_millis(ms));
        assert_eq!(
            (at(0), at(999), at(1_000), at(2_999)),
            (Some(1), Some(1), Some(2), Some(2))
        );
        assert_eq!((at(3_000), at(3_999), at(4_000)), (Some(3), Some(3), None));
        assert_eq!(run.current(), None);
        assert_eq!(run.advance(start).map(|s| s.users), Some(4));
        assert_eq!(run.advance(start), None, "nothing new");
        assert_eq!(run.next_at(), Some(start + Duration::from_secs(1)));
        let step = run
            .advance(start + Duration::from_secs(5))
            .expect("two due");
        assert_eq!((step.stage, step.users, step.rate), (3, 8, 4.0));
        assert_eq!(run.next_at(), None);
        let open = LoadShape::constant_rate(5.0, Duration::from_secs(3));
        let mut run = StagedRun::new(&open, start, 0);
        assert_eq!((run.next_at(), run.advance(start)), (None, None));
        assert_eq!(run.clock().stages.len(), 1);
    }
}
