//! SLO verdicts: the old suite's response-time targets (`configs/slo.toml`), checked per
//! endpoint against the targets of its kind, and summarised per kind by the worst endpoint;
//! and stage rules (`[[rules]]` with `stage = "..."`), checked against one stage's requests.
//! Pure: a table and merged stats in, verdicts out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lv_common::kind::SloKind;
use lv_common::source::toml_error_line;
use lv_common::stats::{EndpointStats, StatsSet};
use serde::{Deserialize, Serialize};

use crate::aggregate::StageStats;
use crate::report::format::decimal;

/// The targets, as in `configs/slo.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloTable {
    /// Largest allowed share of failed requests.
    pub max_failure_ratio: f64,
    /// p95 must stay below this times the average.
    pub p95_over_avg: f64,
    /// p99 must stay below this times the average.
    pub p99_over_avg: f64,
    /// Ratio rules ignore excesses below this many ms.
    pub ratio_floor_ms: f64,
    /// Ratio rules apply only to endpoints with at least this many requests.
    #[serde(default)]
    pub ratio_min_requests: u64,
    /// Levels that use another level's targets (`stress = "heavy"`).
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
    /// Average response time limit (ms) per kind, then per level.
    pub avg_ms: BTreeMap<SloKind, BTreeMap<String, f64>>,
    /// Rules checked against one stage of the run's shape (`[[rules]]`).
    #[serde(default)]
    pub rules: Vec<StageRule>,
    /// The file the table was read from (for error messages).
    #[serde(skip)]
    pub path: PathBuf,
}

/// A rule checked against the requests of one stage only (`[[rules]]` in the SLO table).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageRule {
    /// The stage's name in the run's shape.
    pub stage: String,
    /// Only endpoints of this kind; every endpoint when absent.
    #[serde(default)]
    pub kind: Option<SloKind>,
    /// Average response time must stay below this, ms.
    pub avg_ms: Option<f64>,
    /// 95th percentile must stay below this, ms.
    pub p95_ms: Option<f64>,
    /// 99th percentile must stay below this, ms.
    pub p99_ms: Option<f64>,
    /// Failed requests / requests must stay below this.
    pub max_failure_ratio: Option<f64>,
}

impl StageRule {
    /// The rule's targets as (metric, limit), in a fixed order.
    fn targets(&self) -> Vec<(&'static str, f64)> {
        [
            ("avg_ms", self.avg_ms),
            ("p95_ms", self.p95_ms),
            ("p99_ms", self.p99_ms),
            ("max_failure_ratio", self.max_failure_ratio),
        ]
        .into_iter()
        .filter_map(|(metric, limit)| limit.map(|l| (metric, l)))
        .collect()
    }
}

/// Why an SLO table could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SloError {
    /// Unreadable file.
    #[error("cannot read SLO table {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Bad TOML or an unknown key.
    #[error("{location}: {detail}")]
    Syntax {
        /// `file:line`.
        location: String,
        /// The parser's message.
        detail: String,
    },
    /// A stage rule that cannot be checked as written.
    #[error("{path}: rules[{rule}]: {detail}")]
    BadRule {
        /// The table's file.
        path: String,
        /// 1-based position of the rule among `[[rules]]`.
        rule: usize,
        /// What is wrong.
        detail: String,
    },
    /// A stage rule naming a stage the run's shape does not have.
    #[error("{path}: rules[{rule}]: stage {stage:?} is not a stage of this run ({known})")]
    UnknownStage {
        /// The table's file.
        path: String,
        /// 1-based position of the rule among `[[rules]]`.
        rule: usize,
        /// The stage it names.
        stage: String,
        /// The run's stage names, or that it has none.
        known: String,
    },
    /// A level with no targets.
    #[error("SLO level {level:?} is not in {path} (levels there: {known})")]
    UnknownLevel {
        /// The level asked for.
        level: String,
        /// The table's file.
        path: String,
        /// Levels it defines.
        known: String,
    },
}

impl SloTable {
    /// Loads and checks a table.
    pub fn load(path: &Path) -> Result<SloTable, SloError> {
        let text = std::fs::read_to_string(path).map_err(|source| SloError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses a table's text and checks its stage rules' targets.
    pub fn parse(text: &str, path: &Path) -> Result<SloTable, SloError> {
        let mut table: SloTable = toml::from_str(text).map_err(|err| SloError::Syntax {
            location: match toml_error_line(text, &err) {
                Some(line) => format!("{}:{line}", path.display()),
                None => path.display().to_string(),
            },
            detail: err.message().to_owned(),
        })?;
        table.path = path.to_path_buf();
        for (i, rule) in table.rules.iter().enumerate() {
            let bad = |detail: String| SloError::BadRule {
                path: path.display().to_string(),
                rule: i + 1,
                detail,
            };
            let targets = rule.targets();
            if targets.is_empty() {
                return Err(bad(
                    "has no target (give avg_ms, p95_ms, p99_ms or max_failure_ratio)".into(),
                ));
            }
            if let Some((metric, limit)) = targets
                .iter()
                .find(|(_, limit)| !limit.is_finite() || *limit <= 0.0)
            {
                return Err(bad(format!(
                    "{metric} must be a number above 0, not {limit}"
                )));
            }
        }
        Ok(table)
    }

    /// Checks that every stage rule names a stage of the run (`stages`: the names of its
    /// shape's stages, in order; empty for a run without stages).
    pub fn check_stages<S: AsRef<str>>(&self, stages: &[S]) -> Result<(), SloError> {
        let names: Vec<&str> = stages.iter().map(AsRef::as_ref).collect();
        for (i, rule) in self.rules.iter().enumerate() {
            if !names.contains(&rule.stage.as_str()) {
                let known = if names.is_empty() {
                    "the run has no stages: give it a [load] shape".to_owned()
                } else {
                    format!("its stages: {}", names.join(", "))
                };
                return Err(SloError::UnknownStage {
                    path: self.path.display().to_string(),
                    rule: i + 1,
                    stage: rule.stage.clone(),
                    known,
                });
            }
        }
        Ok(())
    }

    /// The level whose targets apply to `level` (aliases followed), checked to exist.
    pub fn resolve_level(&self, level: &str, path: &Path) -> Result<String, SloError> {
        let level = self.aliases.get(level).map_or(level, String::as_str);
        let known: Vec<&String> = self.avg_ms.values().flat_map(BTreeMap::keys).collect();
        if known.iter().any(|k| k.as_str() == level) {
            return Ok(level.to_owned());
        }
        let mut names: Vec<&str> = known.iter().map(|k| k.as_str()).collect();
        names.extend(self.aliases.keys().map(String::as_str));
        names.sort_unstable();
        names.dedup();
        Err(SloError::UnknownLevel {
            level: level.to_owned(),
            path: path.display().to_string(),
            known: names.join(", "),
        })
    }
}

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
    /// SLO kind; absent for a stage rule over every endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SloKind>,
    /// The stage a stage rule checked; absent for the run-wide rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// `avg_ms`, `failure_ratio`, `p95_over_avg` or `p99_over_avg`; for stage rules also
    /// `p95_ms` and `p99_ms`.
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
    let mut verdicts = Vec::new();
    for kind in SloKind::ALL {
        let endpoints: Vec<(String, &EndpointStats)> = stats
            .endpoints
            .iter()
            .filter(|(_, e)| e.kind == Some(kind) && e.requests > 0)
            .map(|(k, e)| (format!("{} {}", k.method, k.name), e))
            .collect();
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

/// Checks each stage rule against the requests of its stage: `stages` holds the names of the
/// run's stages in order (index `i` is stage `i + 1` of `stats`). A rule naming no stage of
/// the run (caught earlier by [`SloTable::check_stages`]) is left out.
pub fn evaluate_stages<S: AsRef<str>>(
    table: &SloTable,
    stages: &[S],
    stats: &BTreeMap<u32, StageStats>,
) -> Vec<Verdict> {
    let empty = StatsSet::default();
    let mut verdicts = Vec::new();
    for rule in &table.rules {
        let Some(at) = stages.iter().position(|s| s.as_ref() == rule.stage) else {
            continue;
        };
        let index = u32::try_from(at + 1).unwrap_or(u32::MAX);
        let totals = stats.get(&index).map_or(&empty, |s| &s.totals);
        let endpoints: Vec<(String, &EndpointStats)> = totals
            .endpoints
            .iter()
            .filter(|(_, e)| e.requests > 0 && rule.kind.is_none_or(|k| e.kind == Some(k)))
            .map(|(k, e)| (format!("{} {}", k.method, k.name), e))
            .collect();
        for (metric, limit) in rule.targets() {
            let check = match metric {
                "avg_ms" => Rule::avg(limit),
                "p95_ms" => Rule::percentile("p95_ms", 95.0, limit),
                "p99_ms" => Rule::percentile("p99_ms", 99.0, limit),
                _ => Rule::failures(limit),
            };
            let mut verdict = check.judge(rule.kind, &endpoints);
            verdict.stage = Some(rule.stage.clone());
            verdicts.push(verdict);
        }
    }
    verdicts
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
