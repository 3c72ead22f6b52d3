//! Abort rules: SLO rules that stop a run while it goes on, once they have failed for
//! their whole grace (`after`) without a break.
//!
//! Which rules abort: a rule of its own with `abort = true`, the table's own targets listed
//! in `[abort] targets`, or, with `--abort-on-slo`, every one of them. Each is judged on the
//! run so far (a stage rule on its stage so far, and only while that stage runs), exactly
//! as the verdicts at the end judge the whole run, but only on endpoints with at least
//! `[abort] min_requests` requests. A verdict row (a rule, a kind, a target) that fails
//! starts its failing time; one that passes, or is not judged, clears it. The first row
//! whose failing time reaches its rule's grace stops the run.
//!
//! Pure: the coordinator calls [`AbortWatch::judge`] with the stats and the time since the
//! run started, about once a second.

use std::collections::BTreeMap;
use std::time::Duration;

use lv_common::kind::SloKind;
use lv_common::stats::StatsSet;
use serde::{Deserialize, Serialize};

use super::table::{SloTable, TopTarget};
use super::{Status, Verdict, evaluate_rule, evaluate_sampled};
use crate::report::format::{decimal, verdict_value};

/// The abort rule that stopped a run, and why: the report's `aborted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbortRecord {
    /// The rule as the table names it: `rules[N]` for a rule of its own, else the key of
    /// the table's target (`max_failure_ratio`, `avg_ms`, `p95_over_avg`, `p99_over_avg`).
    pub rule: String,
    /// The verdict's metric (`failure_ratio`, `avg_ms`, `p95_ms`, ...).
    pub metric: String,
    /// The target, as the verdict table shows it (`< 1%`).
    pub target: String,
    /// The worst endpoint's value when the run was stopped, in the metric's unit.
    pub measured: f64,
    /// The worst endpoint (`METHOD name`).
    pub endpoint: String,
    /// The kind the row judged; absent for a rule over every endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SloKind>,
    /// The stage a stage rule judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// The rule's grace, seconds.
    pub after_s: f64,
    /// How long the row had been failing without a break, seconds.
    pub failing_s: f64,
    /// When the rule stopped the run, seconds after its start.
    pub at_s: f64,
    /// One sentence: the measured value against the target, and for how long.
    pub reason: String,
}

impl AbortRecord {
    /// The run's verdict when this rule stopped it.
    pub fn verdict(&self) -> String {
        format!(
            "failed: abort rule {} stopped the run at {} s: {}",
            self.rule,
            decimal(self.at_s, 1),
            self.reason
        )
    }
}

/// What the rules are judged on at one instant.
pub struct AbortInput<'a> {
    /// The whole run's merged stats so far.
    pub totals: &'a StatsSet,
    /// The stage running now (its name) and its stats so far; `None` outside any stage.
    pub stage: Option<(&'a str, &'a StatsSet)>,
}

/// Where a rule's verdicts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// One of the table's own targets.
    Target(TopTarget),
    /// `rules[i]` (0-based).
    Rule(usize),
}

/// One rule that stops the run.
#[derive(Debug, Clone, PartialEq)]
struct AbortRule {
    /// `rules[N]` or the target's key.
    name: String,
    source: Source,
    /// Its grace.
    after: Duration,
}

/// The abort rules of one run and how long each of their verdict rows has been failing.
#[derive(Debug, Clone)]
pub struct AbortWatch {
    table: SloTable,
    level: String,
    rules: Vec<AbortRule>,
    /// Verdict row (rule, kind, metric) -> when it started failing, since the run's start.
    failing_since: BTreeMap<(String, Option<SloKind>, String), Duration>,
}

impl AbortWatch {
    /// The abort rules of `table` at `level` (already resolved): those marked so, or all of
    /// them with `every_rule` (`--abort-on-slo`). `None` when no rule aborts.
    pub fn new(table: &SloTable, level: &str, every_rule: bool) -> Option<AbortWatch> {
        let grace = table.abort.after.unwrap_or_default();
        let mut rules: Vec<AbortRule> = TopTarget::ALL
            .into_iter()
            .filter(|t| every_rule || table.abort.targets.contains(t))
            .map(|target| AbortRule {
                name: target.key().to_owned(),
                source: Source::Target(target),
                after: grace,
            })
            .collect();
        rules.extend(
            table
                .rules
                .iter()
                .enumerate()
                .filter(|(_, rule)| every_rule || rule.abort)
                .map(|(i, rule)| AbortRule {
                    name: format!("rules[{}]", i + 1),
                    source: Source::Rule(i),
                    after: rule.after.unwrap_or_default(),
                }),
        );
        (!rules.is_empty()).then(|| AbortWatch {
            table: table.clone(),
            level: level.to_owned(),
            rules,
            failing_since: BTreeMap::new(),
        })
    }

    /// The names of the rules that stop the run, in the order they are judged.
    pub fn rule_names(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.name.as_str()).collect()
    }

    /// Judges every rule on `input` at `now` (time since the run started): the rule that
    /// stops the run, when one of its rows has failed for its whole grace; else `None`, with
    /// each failing row's start kept for the next call and every other row's cleared.
    pub fn judge(&mut self, input: &AbortInput, now: Duration) -> Option<AbortRecord> {
        let min = self.table.abort.min_requests;
        let top = if self
            .rules
            .iter()
            .any(|r| matches!(r.source, Source::Target(_)))
        {
            evaluate_sampled(&self.table, &self.level, input.totals, min)
        } else {
            Vec::new()
        };
        let mut failing = BTreeMap::new();
        let mut stop = None;
        for rule in &self.rules {
            let rows = self.rows(rule, &top, input);
            for row in rows.iter().filter(|v| v.status == Status::Fail) {
                let key = (rule.name.clone(), row.kind, row.metric.clone());
                let since = self.failing_since.get(&key).copied().unwrap_or(now);
                failing.insert(key, since);
                let failing_for = now.saturating_sub(since);
                if stop.is_none() && failing_for >= rule.after {
                    stop = Some(record(rule, row, failing_for, now));
                }
            }
        }
        self.failing_since = failing;
        stop
    }

    /// The verdict rows of `rule` now: a target's from `top` (the table's own verdicts), a
    /// rule's over the run, or over its stage while that stage runs (none otherwise).
    fn rows(&self, rule: &AbortRule, top: &[Verdict], input: &AbortInput) -> Vec<Verdict> {
        let min = self.table.abort.min_requests;
        match rule.source {
            Source::Target(target) => top
                .iter()
                .filter(|v| v.metric == target.metric())
                .cloned()
                .collect(),
            Source::Rule(i) => {
                let Some(written) = self.table.rules.get(i) else {
                    return Vec::new();
                };
                match (&written.stage, input.stage) {
                    (None, _) => evaluate_rule(written, input.totals, min),
                    (Some(stage), Some((now, stats))) if stage == now => {
                        evaluate_rule(written, stats, min)
                    }
                    (Some(_), _) => Vec::new(),
                }
            }
        }
    }
}

/// The record of `rule` stopping the run at `now` on its failing `row`.
fn record(rule: &AbortRule, row: &Verdict, failing_for: Duration, now: Duration) -> AbortRecord {
    let mut scope = Vec::new();
    if let Some(stage) = &row.stage {
        scope.push(format!("stage {stage:?}"));
    }
    if let Some(kind) = row.kind {
        scope.push(format!("kind {}", kind.as_str()));
    }
    let scope = if scope.is_empty() {
        String::new()
    } else {
        format!(" ({})", scope.join(", "))
    };
    let grace = if rule.after.is_zero() {
        "no grace".to_owned()
    } else {
        format!("grace {}", lv_common::duration::format_duration(rule.after))
    };
    let reason = format!(
        "{} {} on {}{scope}, target {}, failing for {} s ({grace})",
        row.metric,
        verdict_value(&row.metric, row.measured),
        row.endpoint,
        row.target,
        decimal(failing_for.as_secs_f64(), 1),
    );
    AbortRecord {
        rule: rule.name.clone(),
        metric: row.metric.clone(),
        target: row.target.clone(),
        measured: row.measured,
        endpoint: row.endpoint.clone(),
        kind: row.kind,
        stage: row.stage.clone(),
        after_s: rule.after.as_secs_f64(),
        failing_s: failing_for.as_secs_f64(),
        at_s: now.as_secs_f64(),
        reason,
    }
}

#[cfg(test)]
mod tests;
