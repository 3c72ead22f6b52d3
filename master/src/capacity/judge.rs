//! The verdict of one capacity step, from its `hold` stage alone (pure): generator-limited
//! when lv's workers were the bottleneck, else the SLO level's rules ([`slo::evaluate`] on
//! the stage's requests, and the stage rules naming `hold`), and the first failing rule.
//! Also whether a step still running is already plainly failing, so it can stop early.

use std::collections::BTreeMap;

use crate::config::SloSetup;
use crate::report::summary::{GeneratorCause, StageSummary, stage_stats_from};
use crate::slo::{self, Status, Verdict};

use super::search::Outcome;

pub use crate::config::run::{HOLD, SETTLE};
/// A step stops early only with at least this many requests in its hold.
pub const EARLY_MIN_REQUESTS: u64 = 50;
/// ... and when a figure is beyond this many times its limit.
pub const EARLY_FACTOR: f64 = 10.0;

/// How one step was judged.
#[derive(Debug, Clone, PartialEq)]
pub enum StepVerdict {
    /// Every rule held.
    Pass,
    /// This rule failed first.
    Fail(Verdict),
    /// The generator limited the step, for this reason.
    GeneratorLimited(String),
}

impl StepVerdict {
    /// The search's view of the verdict.
    pub fn outcome(&self) -> Outcome {
        match self {
            StepVerdict::Pass => Outcome::Pass,
            StepVerdict::Fail(_) => Outcome::Fail,
            StepVerdict::GeneratorLimited(_) => Outcome::GeneratorLimited,
        }
    }
}

/// Why the generator (lv's workers), not the target, limited the stage; `None` when it did
/// not. The one place capacity asks this: the open model's signal (arrivals dropped at the
/// in-flight cap, or a schedule lag p99 above `max_lag_ms`, whose default is the report's
/// own bound, [`crate::report::summary::LAG_LIMIT_MS`]) and the workers' own overloads in
/// the stage's window (CPU above 90% or a scheduling delay past its bound, for several
/// heartbeats in a row: the report's generator warning).
pub fn generator_limited(stage: &StageSummary, max_lag_ms: f64) -> Option<String> {
    let mut why = Vec::new();
    if let Some(open) = stage.open.as_ref() {
        if open.dropped > 0 {
            why.push(format!(
                "{} arrivals dropped at the in-flight cap",
                open.dropped
            ));
        }
        if open.lag_p99_ms > max_lag_ms {
            why.push(format!(
                "schedule lag p99 {:.1} ms above {max_lag_ms} ms",
                open.lag_p99_ms
            ));
        }
    }
    // The open model's causes are judged above against this search's own lag bound.
    let overloads = stage.generator_warnings.iter().filter(|w| {
        matches!(
            w.cause,
            GeneratorCause::WorkerCpu | GeneratorCause::WorkerSchedDelay
        )
    });
    why.extend(overloads.map(|w| w.detail.clone()));
    (!why.is_empty()).then(|| format!("the generator limited the step ({})", why.join("; ")))
}

/// Judges the `hold` stage of a step against `slo`'s rules at its level (generator-limited
/// first, with `max_lag_ms` the schedule lag bound).
pub fn judge(slo: &SloSetup, hold: &StageSummary, max_lag_ms: f64) -> Result<StepVerdict, String> {
    if let Some(why) = generator_limited(hold, max_lag_ms) {
        return Ok(StepVerdict::GeneratorLimited(why));
    }
    if hold.total.requests == 0 {
        return Ok(StepVerdict::Fail(Verdict {
            kind: None,
            stage: Some(HOLD.to_owned()),
            metric: "requests".to_owned(),
            target: "> 0".to_owned(),
            measured: 0.0,
            endpoint: String::new(),
            status: Status::Fail,
        }));
    }
    let stats = stage_stats_from(hold)?;
    let mut verdicts = slo::evaluate(&slo.table, &slo.level, &stats.totals);
    // Rules without a stage judge the step's hold, as the rules naming `hold` do.
    let totals = stats.totals.clone();
    let stages = BTreeMap::from([(2, stats)]);
    verdicts.extend(slo::evaluate_rules(
        &slo.table,
        &[SETTLE, HOLD],
        &stages,
        &totals,
    ));
    Ok(verdicts
        .into_iter()
        .find(|v| v.status == Status::Fail)
        .map_or(StepVerdict::Pass, StepVerdict::Fail))
}

/// Why the hold of a step still running is already plainly failing (an endpoint with at
/// least [`EARLY_MIN_REQUESTS`] requests whose failure ratio or p99 is over
/// [`EARLY_FACTOR`] times a limit it is held to); `None` while it is not.
pub fn plainly_failing(slo: &SloSetup, hold: &StageSummary) -> Option<String> {
    let table = &slo.table;
    for e in &hold.endpoints {
        if e.requests < EARLY_MIN_REQUESTS {
            continue;
        }
        let ratio = e.failures as f64 / e.requests as f64;
        if ratio > EARLY_FACTOR * table.max_failure_ratio {
            return Some(format!(
                "{} {}: failure ratio {:.1}% over {EARLY_FACTOR}x the limit of {}%",
                e.method,
                e.name,
                ratio * 100.0,
                table.max_failure_ratio * 100.0
            ));
        }
        let limit = latency_limits(slo, e.kind).into_iter().reduce(f64::min);
        if let Some(limit) = limit.filter(|l| e.p99_ms > EARLY_FACTOR * l) {
            return Some(format!(
                "{} {}: p99 {:.0} ms over {EARLY_FACTOR}x its {limit} ms limit",
                e.method, e.name, e.p99_ms
            ));
        }
    }
    None
}

/// The response-time limits (ms) an endpoint of `kind` is held to in the hold: its kind's
/// average at the level and the hold's stage rules that cover it.
pub fn latency_limits(slo: &SloSetup, kind: Option<lv_common::kind::SloKind>) -> Vec<f64> {
    let table = &slo.table;
    let mut limits: Vec<f64> = kind
        .and_then(|k| table.avg_ms.get(&k))
        .and_then(|levels| levels.get(&slo.level))
        .copied()
        .into_iter()
        .collect();
    for rule in table
        .rules
        .iter()
        .filter(|r| r.stage.as_deref() == Some(HOLD))
    {
        if rule.kind.is_none() || rule.kind == kind {
            limits.extend(
                [rule.avg_ms, rule.p95_ms, rule.p99_ms]
                    .into_iter()
                    .flatten(),
            );
        }
    }
    limits
}

#[cfg(test)]
mod tests;
