//! Wire form of a run's stage windows: where the worker closes report intervals and which
//! stage a report belongs to.

use std::time::Duration;

use super::error::{WireError, wire_err};
use crate::load::Stage;
use crate::pb;

/// The stage windows of a run, shared by every worker.
#[derive(Debug, Clone, PartialEq)]
pub struct StageClock {
    /// Start of the first stage, Unix ms of the master's clock.
    pub start_unix_ms: i64,
    /// The stages in order (at least one).
    pub stages: Vec<Stage>,
}

impl StageClock {
    /// End of each stage, Unix ms, in order (the last is the end of the shape).
    pub fn ends_unix_ms(&self) -> Vec<i64> {
        let mut at = self.start_unix_ms;
        self.stages
            .iter()
            .map(|s| {
                let ms = i64::try_from(s.duration.as_millis()).unwrap_or(i64::MAX);
                at = at.saturating_add(ms);
                at
            })
            .collect()
    }

    /// 1-based index of the stage holding the instant `unix_ms`: the first before the
    /// start, the last after the end.
    pub fn stage_at(&self, unix_ms: i64) -> u32 {
        let ends = self.ends_unix_ms();
        let index = ends
            .iter()
            .position(|&end| unix_ms < end)
            .unwrap_or(ends.len().saturating_sub(1));
        u32::try_from(index + 1).unwrap_or(u32::MAX)
    }

    /// The first stage boundary strictly after `unix_ms`, if one is left.
    pub fn next_boundary_after(&self, unix_ms: i64) -> Option<i64> {
        self.ends_unix_ms().into_iter().find(|&end| end > unix_ms)
    }
}

impl From<&StageClock> for pb::StageClock {
    fn from(c: &StageClock) -> Self {
        pb::StageClock {
            start_unix_ms: c.start_unix_ms,
            stages: c.stages.iter().map(stage_to_pb).collect(),
        }
    }
}

impl TryFrom<pb::StageClock> for StageClock {
    type Error = WireError;

    fn try_from(c: pb::StageClock) -> Result<Self, WireError> {
        const M: &str = "Assignment.stages";
        if c.stages.is_empty() {
            return Err(wire_err(M, "no stages"));
        }
        if c.stages.iter().any(|s| !(s.to.is_finite() && s.to >= 0.0)) {
            return Err(wire_err(M, "stage values must be finite and >= 0"));
        }
        Ok(StageClock {
            start_unix_ms: c.start_unix_ms,
            stages: c.stages.into_iter().map(stage_from_pb).collect(),
        })
    }
}

/// A stage in wire form, its duration in exact nanoseconds.
pub(super) fn stage_to_pb(s: &Stage) -> pb::LoadStage {
    pb::LoadStage {
        name: s.name.clone(),
        duration_ns: u64::try_from(s.duration.as_nanos()).unwrap_or(u64::MAX),
        to: s.to,
    }
}

/// A stage from its wire form.
pub(super) fn stage_from_pb(s: pb::LoadStage) -> Stage {
    Stage {
        name: s.name,
        duration: Duration::from_nanos(s.duration_ns),
        to: s.to,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> StageClock {
        let stage = |name: &str, secs: u64, to: f64| Stage {
            name: name.to_owned(),
            duration: Duration::from_secs(secs),
            to,
        };
        StageClock {
            start_unix_ms: 1_000,
            stages: vec![
                stage("warm", 10, 50.0),
                stage("spike", 60, 500.0),
                stage("cool", 10, 50.0),
            ],
        }
    }

    #[test]
    fn stages_are_found_by_instant_with_the_edges_clamped() {
        let c = clock();
        assert_eq!(c.ends_unix_ms(), vec![11_000, 71_000, 81_000]);
        assert_eq!(c.stage_at(0), 1);
        assert_eq!(c.stage_at(10_999), 1);
        assert_eq!(c.stage_at(11_000), 2);
        assert_eq!(c.stage_at(80_999), 3);
        assert_eq!(c.stage_at(1_000_000), 3);
        assert_eq!(c.next_boundary_after(11_000), Some(71_000));
        assert_eq!(c.next_boundary_after(81_000), None);
    }

    #[test]
    fn the_clock_round_trips_and_refuses_empty_or_bad_stages() {
        let c = clock();
        assert_eq!(
            StageClock::try_from(pb::StageClock::from(&c)).expect("decodes"),
            c
        );
        let empty = pb::StageClock {
            start_unix_ms: 0,
            stages: Vec::new(),
        };
        assert!(
            StageClock::try_from(empty)
                .expect_err("empty")
                .to_string()
                .contains("no stages")
        );
        let mut bad = pb::StageClock::from(&c);
        bad.stages[1].to = f64::NAN;
        assert!(StageClock::try_from(bad).is_err());
    }
}
