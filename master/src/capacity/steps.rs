//! What one capacity step is and what it measured: the load shape of a step (a `settle`
//! stage, then the judged `hold`, both at the step's load) and the [`StepRecord`] made from
//! its hold stage and verdict. Pure.

use std::time::Duration;

use lv_common::load::{ArrivalKind, LoadShape, Model, OnSaturation, Stage};
use serde::Serialize;

use super::judge::{HOLD, SETTLE, StepVerdict};
use super::search::Outcome;
use crate::report::summary::StageSummary;
use crate::slo::Verdict;

/// How every step is held.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StepSettings {
    /// Arrivals per second (open) or users (closed).
    pub model: Model,
    /// The settle stage, not judged.
    #[serde(serialize_with = "seconds")]
    pub settle: Duration,
    /// The judged hold.
    #[serde(serialize_with = "seconds")]
    pub hold: Duration,
    /// The hold of the confirmation step.
    #[serde(serialize_with = "seconds")]
    pub confirm: Duration,
    /// Open model: iterations in flight at most, over all workers.
    pub max_in_flight: Option<u32>,
    /// Open model: a hold whose schedule lag p99 is above this (ms) is generator-limited.
    pub max_lag_ms: f64,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl StepSettings {
    /// What a step's load counts: `arrivals/s` (open model) or `users` (closed).
    pub fn unit(&self) -> &'static str {
        match self.model {
            Model::Open => "arrivals/s",
            Model::Closed => "users",
        }
    }

    /// The load shape of a step holding `load` (the confirmation's hold when `confirm`).
    pub fn shape(&self, load: f64, confirm: bool) -> LoadShape {
        let stage = |name: &str, duration| Stage {
            name: name.to_owned(),
            duration,
            to: load,
        };
        let hold = if confirm { self.confirm } else { self.hold };
        LoadShape {
            model: self.model,
            start: load,
            stages: vec![stage(SETTLE, self.settle), stage(HOLD, hold)],
            arrivals: ArrivalKind::Uniform,
            seed: None,
            max_in_flight: self.max_in_flight.filter(|_| self.model == Model::Open),
            on_saturation: OnSaturation::Drop,
        }
    }
}

/// One step of the search, as the tables and files show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    /// 1-based.
    pub index: u32,
    /// The load held: arrivals per second (open) or users (closed).
    pub load: f64,
    /// The confirmation of the answer.
    pub confirm: bool,
    /// Arrivals started per second in the hold (open model).
    pub achieved_rate: Option<f64>,
    /// Requests in the hold.
    pub requests: u64,
    /// Requests per second in the hold.
    pub rps: f64,
    /// Median response time in the hold, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Failed requests / requests in the hold.
    pub failure_ratio: f64,
    /// Pass, fail or generator-limited.
    pub outcome: Outcome,
    /// The first failing rule.
    pub rule: Option<Verdict>,
    /// Why the generator limited the step, or why it was stopped early.
    pub note: Option<String>,
    /// Stopped before its end, plainly failing.
    pub stopped_early: bool,
    /// Cut short by Ctrl-C: shown, not judged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// The run of the step (its reports are named after it).
    pub run_id: String,
}

impl StepRecord {
    /// The record of step `index` holding `load`, from its hold stage and verdict;
    /// `early` says why it was stopped early.
    pub fn new(
        index: u32,
        (load, confirm): (f64, bool),
        hold: &StageSummary,
        verdict: StepVerdict,
        early: Option<String>,
        run_id: &str,
    ) -> StepRecord {
        let t = &hold.total;
        let outcome = verdict.outcome();
        let (rule, note) = match verdict {
            StepVerdict::Pass => (None, early.clone()),
            StepVerdict::Fail(rule) => (Some(rule), early.clone()),
            StepVerdict::GeneratorLimited(why) => (None, Some(why)),
        };
        StepRecord {
            index,
            load,
            confirm,
            achieved_rate: hold.open.as_ref().map(|o| {
                // A hold stopped early achieved its arrivals in the seconds it ran.
                if hold.ran_s > 0.0 && hold.ran_s < hold.duration_s {
                    o.started as f64 / hold.ran_s
                } else {
                    o.achieved_rate
                }
            }),
            requests: t.requests,
            rps: t.rps,
            p50_ms: t.p50_ms,
            p95_ms: t.p95_ms,
            p99_ms: t.p99_ms,
            failure_ratio: if t.requests > 0 {
                t.failures as f64 / t.requests as f64
            } else {
                0.0
            },
            outcome,
            rule,
            note,
            stopped_early: early.is_some(),
            interrupted: false,
            run_id: run_id.to_owned(),
        }
    }

    /// The throughput the curve plots: achieved arrivals/s (open), else requests/s.
    pub fn throughput(&self) -> f64 {
        self.achieved_rate.unwrap_or(self.rps)
    }

    /// The verdict in one word.
    pub fn verdict_word(&self) -> &'static str {
        match (self.outcome, self.stopped_early) {
            _ if self.interrupted => "interrupted",
            (Outcome::Pass, _) => "pass",
            (Outcome::Fail, false) => "fail",
            (Outcome::Fail, true) => "fail (stopped early)",
            (Outcome::GeneratorLimited, _) => "generator-limited",
        }
    }

    /// The failing rule in a few words: `p95_ms 312 (< 200 ms) POST /v1/chat`.
    pub fn rule_text(&self) -> String {
        let Some(rule) = &self.rule else {
            return self.note.clone().unwrap_or_default();
        };
        let measured = if rule.metric == "failure_ratio" {
            format!("{:.2}%", rule.measured * 100.0)
        } else {
            format!("{:.0}", rule.measured)
        };
        format!(
            "{} {measured} ({}) {}",
            rule.metric, rule.target, rule.endpoint
        )
        .trim_end()
        .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_a_settle_then_a_hold_at_its_load() {
        let settings = StepSettings {
            model: Model::Open,
            settle: Duration::from_secs(5),
            hold: Duration::from_secs(30),
            confirm: Duration::from_secs(60),
            max_in_flight: Some(8),
            max_lag_ms: 10.0,
        };
        let shape = settings.shape(40.0, false);
        let names: Vec<&str> = shape.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, [SETTLE, HOLD]);
        assert_eq!((shape.start, shape.peak()), (40.0, 40.0));
        assert_eq!(shape.duration(), Duration::from_secs(35));
        assert_eq!(shape.schedule().total(), 1400);
        assert_eq!(shape.max_in_flight, Some(8));
        assert_eq!(
            settings.shape(40.0, true).duration(),
            Duration::from_secs(65)
        );
        let closed = StepSettings {
            model: Model::Closed,
            ..settings
        };
        assert_eq!(closed.shape(7.0, false).max_in_flight, None);
    }
}
