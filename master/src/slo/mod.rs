//! SLO verdicts: the old suite's response-time targets (`configs/slo.toml`), checked per
//! endpoint against the targets of its kind, and summarised per kind by the worst endpoint;
//! and rules of their own (`[[rules]]`), checked against the whole run or, with
//! `stage = "..."`, against one stage's requests. Pure: a table and merged stats in,
//! verdicts out.
//!
//! The table as written is in `table`; `abort` judges, while a run goes on, the rules
//! that stop it early.

use std::collections::BTreeMap;

use lv_common::kind::SloKind;
use lv_common::stats::{EndpointStats, StatsSet};
use serde::{Deserialize, Serialize};

use crate::aggregate::StageStats;
use crate::report::format::decimal;

pub mod abort;
mod table;

pub use table::{AbortSection, SloError, SloRule, SloTable, TopTarget};

/// Outcome of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every endpoint of the kind met the target.
    Pass,
    /// At least one endpoint missed it.
    Fail,
    /// The kind had no requests.
    NotExercised,
}

/// One row of the verdict table: a kind, a rule, and the worst endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// SLO kind; absent for a rule of its own over every endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SloKind>,
    /// The stage a stage rule checked; absent for the rules over the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// `avg_ms`, `failure_ratio`, `p95_over_avg` or `p99_over_avg`; for rules of their own
    /// also `p95_ms` and `p99_ms`.
    pub metric: String,
    /// The target, as shown (`< 50 ms`, `< 1%`, `< 2x avg`).
    pub target: String,
    /// The worst endpoint's value in the rule's unit (ms, ratio, or multiple of the average).
    pub measured: f64,
    /// The worst endpoint (`METHOD name`), empty when not exercised.
    pub endpoint: String,
    /// Outcome.
    pub status: Status,
}

/// Checks every endpoint against its kind's targets at `level` (already resolved).
pub fn evaluate(table: &SloTable, level: &str, stats: &StatsSet) -> Vec<Verdict> {
    evaluate_sampled(table, level, stats, 1)
}

/// [`evaluate`], judging only endpoints with at least `min_requests` requests (and the
/// ratio targets only those with `ratio_min_requests` too).
pub fn evaluate_sampled(
    table: &SloTable,
    level: &str,
    stats: &StatsSet,
    min_requests: u64,
) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    for kind in SloKind::ALL {
        let endpoints = judged(stats, min_requests, |e| e.kind == Some(kind));
        let avg_limit = table
            .avg_ms
            .get(&kind)
            .and_then(|levels| levels.get(level))
            .copied();
        let mut rules: Vec<Rule> = Vec::new();
        if let Some(limit) = avg_limit {
            rules.push(Rule::avg(limit));
        }
        rules.push(Rule::failures(table.max_failure_ratio));
        for rule in rules {
            verdicts.push(rule.judge(Some(kind), &endpoints));
        }
        // The ratio rules need enough samples for a p95 or p99 to mean something.
        let sampled: Vec<(String, &EndpointStats)> = endpoints
            .iter()
            .filter(|(_, e)| e.requests >= table.ratio_min_requests)
            .cloned()
            .collect();
        for (metric, percent, times) in [
            ("p95_over_avg", 95.0, table.p95_over_avg),
            ("p99_over_avg", 99.0, table.p99_over_avg),
        ] {
            let rule = Rule::spread(metric, percent, times, table.ratio_floor_ms);
            verdicts.push(rule.judge(Some(kind), &sampled));
        }
    }
    verdicts
}

/// The endpoints of `stats` with at least `min_requests` requests (and at least one) that
/// `keep` accepts, named `METHOD name`.
fn judged(
    stats: &StatsSet,
    min_requests: u64,
    keep: impl Fn(&EndpointStats) -> bool,
) -> Vec<(String, &EndpointStats)> {
    stats
        .endpoints
        .iter()
        .filter(|(_, e)| e.requests >= min_requests.max(1) && keep(e))
        .map(|(k, e)| (format!("{} {}", k.method, k.name), e))
        .collect()
}

/// Checks every rule of its own: a stage rule against the requests of its stage, the others
/// against the whole run's (`totals`). `stages` holds the names of the run's stages in order
/// (index `i` is stage `i + 1` of `stage_stats`); a rule naming no stage of the run (caught
/// earlier by [`SloTable::check_stages`]) is left out.
pub fn evaluate_rules<S: AsRef<str>>(
    table: &SloTable,
    stages: &[S],
    stage_stats: &BTreeMap<u32, StageStats>,
    totals: &StatsSet,
) -> Vec<Verdict> {
    let empty = StatsSet::default();
    let mut verdicts = Vec::new();
    for rule in &table.rules {
        let stats = match &rule.stage {
            None => totals,
            Some(stage) => {
                let Some(at) = stages.iter().position(|s| s.as_ref() == stage) else {
                    continue;
                };
                let index = u32::try_from(at + 1).unwrap_or(u32::MAX);
                stage_stats.get(&index).map_or(&empty, |s| &s.totals)
            }
        };
        verdicts.extend(evaluate_rule(rule, stats, 1));
    }
    verdicts
}

/// Checks one rule of its own against `stats` (the run's, or its stage's), judging only
/// endpoints with at least `min_requests` requests: one verdict per target.
pub fn evaluate_rule(rule: &SloRule, stats: &StatsSet, min_requests: u64) -> Vec<Verdict> {
    let endpoints = judged(stats, min_requests, |e| {
        rule.kind.is_none_or(|k| e.kind == Some(k))
    });
    rule.targets()
        .into_iter()
        .map(|(metric, limit)| {
            let check = match metric {
                "avg_ms" => Rule::avg(limit),
                "p95_ms" => Rule::percentile("p95_ms", 95.0, limit),
                "p99_ms" => Rule::percentile("p99_ms", 99.0, limit),
                _ => Rule::failures(limit),
            };
            let mut verdict = check.judge(rule.kind, &endpoints);
            verdict.stage.clone_from(&rule.stage);
            verdict
        })
        .collect()
}

/// Whether one endpoint passes every rule of its kind at `level` (the same rules as
/// [`evaluate`]); `None` when it has no kind or no request yet.
pub fn endpoint_passes(table: &SloTable, level: &str, stats: &EndpointStats) -> Option<bool> {
    let kind = stats.kind?;
    if stats.requests == 0 {
        return None;
    }
    let mut rules = Vec::new();
    if let Some(limit) = table.avg_ms.get(&kind).and_then(|l| l.get(level)).copied() {
        rules.push(Rule::avg(limit));
    }
    rules.push(Rule::failures(table.max_failure_ratio));
    if stats.requests >= table.ratio_min_requests {
        rules.push(Rule::spread(
            "p95_over_avg",
            95.0,
            table.p95_over_avg,
            table.ratio_floor_ms,
        ));
        rules.push(Rule::spread(
            "p99_over_avg",
            99.0,
            table.p99_over_avg,
            table.ratio_floor_ms,
        ));
    }
    Some(rules.iter().all(|rule| (rule.check)(stats).1))
}

/// True when no verdict failed.
pub fn all_pass(verdicts: &[Verdict]) -> bool {
    verdicts.iter().all(|v| v.status != Status::Fail)
}

/// An endpoint's value in a rule's unit, and whether it passes.
type Check = Box<dyn Fn(&EndpointStats) -> (f64, bool)>;

struct Rule {
    metric: &'static str,
    target: String,
    check: Check,
}

impl Rule {
    fn avg(limit: f64) -> Rule {
        Rule {
            metric: "avg_ms",
            target: format!("< {} ms", decimal(limit, 3)),
            check: Box::new(move |e| (e.avg_ms(), e.avg_ms() < limit)),
        }
    }

    fn failures(limit: f64) -> Rule {
        Rule {
            metric: "failure_ratio",
            target: format!("< {}%", decimal(limit * 100.0, 3)),
            check: Box::new(move |e| {
                let ratio = e.failures as f64 / e.requests as f64;
                (ratio, ratio < limit)
            }),
        }
    }

    fn percentile(metric: &'static str, percent: f64, limit: f64) -> Rule {
        Rule {
            metric,
            target: format!("< {} ms", decimal(limit, 3)),
            check: Box::new(move |e| {
                let value = e.percentile_ms(percent);
                (value, value < limit)
            }),
        }
    }

    fn spread(metric: &'static str, percent: f64, times: f64, floor_ms: f64) -> Rule {
        Rule {
            metric,
            target: format!("< {}x avg", decimal(times, 3)),
            check: Box::new(move |e| {
                let (avg, p) = (e.avg_ms(), e.percentile_ms(percent));
                let ratio = if avg > 0.0 { p / avg } else { 0.0 };
                (ratio, p < times * avg || p - times * avg < floor_ms)
            }),
        }
    }

    fn judge(&self, kind: Option<SloKind>, endpoints: &[(String, &EndpointStats)]) -> Verdict {
        let mut worst: Option<(&str, f64, bool)> = None;
        for (name, stats) in endpoints {
            let (value, pass) = (self.check)(stats);
            let replace = match worst {
                None => true,
                // A failing endpoint outranks a passing one; then the larger value.
                Some((_, v, p)) => (p && !pass) || (p == pass && value > v),
            };
            if replace {
                worst = Some((name, value, pass));
            }
        }
        let (endpoint, measured, status) = match worst {
            None => (String::new(), 0.0, Status::NotExercised),
            Some((name, value, pass)) => (
                name.to_owned(),
                value,
                if pass { Status::Pass } else { Status::Fail },
            ),
        };
        Verdict {
            kind,
            stage: None,
            metric: self.metric.to_owned(),
            target: self.target.clone(),
            measured,
            endpoint,
            status,
        }
    }
}

#[cfg(test)]
mod tests;
