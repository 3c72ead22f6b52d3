//! The SLO table as written in `configs/slo.toml`: the targets per kind and level, the
//! `[[rules]]` (for the whole run or one stage), and which of them stop a run early
//! (`abort = true`, `[abort]`). Loading checks everything that can be checked without a run;
//! every error names the file, and the line and key when the parser knows them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lv_common::kind::SloKind;
use lv_common::source::{line_col, toml_error_line};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

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
    /// Rules of their own (`[[rules]]`): over the whole run, or over one stage.
    #[serde(default)]
    pub rules: Vec<SloRule>,
    /// Which of the table's own targets stop a run early, and how abort rules are judged.
    #[serde(default)]
    pub abort: AbortSection,
    /// The file the table was read from (for error messages).
    #[serde(skip)]
    pub path: PathBuf,
}

/// A rule of its own (`[[rules]]` in the SLO table): checked over the whole run, or over one
/// stage's requests when it names a stage.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloRule {
    /// The stage's name in the run's shape; the whole run when absent.
    #[serde(default)]
    pub stage: Option<String>,
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
    /// A failure stops the run while it goes on (after the grace `after`).
    #[serde(default)]
    pub abort: bool,
    /// How long the rule must fail without a break before it stops the run, when it aborts
    /// (`abort = true` or `--abort-on-slo`); at once when absent.
    #[serde(default, deserialize_with = "grace")]
    pub after: Option<Duration>,
}

impl SloRule {
    /// The rule's targets as (metric, limit), in a fixed order.
    pub fn targets(&self) -> Vec<(&'static str, f64)> {
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

/// The table's own targets, by the key that sets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TopTarget {
    /// `max_failure_ratio`: failed requests / requests, per kind.
    MaxFailureRatio,
    /// `avg_ms`: the average response time of each kind at the run's level.
    AvgMs,
    /// `p95_over_avg`: p95 against the average.
    P95OverAvg,
    /// `p99_over_avg`: p99 against the average.
    P99OverAvg,
}

impl TopTarget {
    /// Every target, in the order verdicts list them.
    pub const ALL: [TopTarget; 4] = [
        TopTarget::AvgMs,
        TopTarget::MaxFailureRatio,
        TopTarget::P95OverAvg,
        TopTarget::P99OverAvg,
    ];

    /// The key that sets it in the table.
    pub fn key(self) -> &'static str {
        match self {
            TopTarget::MaxFailureRatio => "max_failure_ratio",
            TopTarget::AvgMs => "avg_ms",
            TopTarget::P95OverAvg => "p95_over_avg",
            TopTarget::P99OverAvg => "p99_over_avg",
        }
    }

    /// The `metric` of its verdicts.
    pub fn metric(self) -> &'static str {
        match self {
            TopTarget::MaxFailureRatio => "failure_ratio",
            other => other.key(),
        }
    }
}

/// `[abort]`: which of the table's own targets stop a run early, their grace, and the
/// fewest requests an endpoint needs before any abort rule judges it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbortSection {
    /// The targets that stop the run while it goes on.
    #[serde(default)]
    pub targets: Vec<TopTarget>,
    /// How long one of them must fail without a break before it stops the run; at once
    /// when absent.
    #[serde(default, deserialize_with = "grace")]
    pub after: Option<Duration>,
    /// Abort rules judge an endpoint only once it has this many requests.
    #[serde(default = "one")]
    pub min_requests: u64,
}

impl Default for AbortSection {
    fn default() -> AbortSection {
        AbortSection {
            targets: Vec::new(),
            after: None,
            min_requests: 1,
        }
    }
}

fn one() -> u64 {
    1
}

/// A grace: a duration as lv writes them everywhere (`30s`, `1m30s`, `500ms`), or a number
/// of seconds.
fn grace<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    struct Grace;

    impl Visitor<'_> for Grace {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration such as \"30s\", \"1m\" or \"500ms\"")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
            lv_common::duration::parse_duration(text).map_err(E::custom)
        }

        fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<Duration, E> {
            u64::try_from(seconds)
                .map(Duration::from_secs)
                .map_err(|_| E::custom(format!("{seconds} s is negative")))
        }

        fn visit_f64<E: de::Error>(self, seconds: f64) -> Result<Duration, E> {
            Duration::try_from_secs_f64(seconds)
                .map_err(|_| E::custom(format!("{seconds} s is not a duration")))
        }
    }

    deserializer.deserialize_any(Grace).map(Some)
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
    /// Bad TOML, a value of the wrong type or an unknown key.
    #[error("{location}: {detail}")]
    Syntax {
        /// `file:line`.
        location: String,
        /// The key, when the parser pointed at one, then the parser's message.
        detail: String,
    },
    /// A rule that cannot be checked as written.
    #[error("{path}: rules[{rule}]: {detail}")]
    BadRule {
        /// The table's file.
        path: String,
        /// 1-based position of the rule among `[[rules]]`.
        rule: usize,
        /// What is wrong.
        detail: String,
    },
    /// A value of `[abort]` that cannot be used.
    #[error("{path}: abort.{key}: {detail}")]
    BadAbort {
        /// The table's file.
        path: String,
        /// The key of `[abort]`.
        key: &'static str,
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

    /// Parses a table's text and checks its rules' targets and its `[abort]` section.
    pub fn parse(text: &str, path: &Path) -> Result<SloTable, SloError> {
        let mut table: SloTable = toml::from_str(text).map_err(|err| syntax(text, path, &err))?;
        table.path = path.to_path_buf();
        for (i, rule) in table.rules.iter().enumerate() {
            check_rule(rule).map_err(|detail| SloError::BadRule {
                path: path.display().to_string(),
                rule: i + 1,
                detail,
            })?;
        }
        if table.abort.min_requests == 0 {
            return Err(SloError::BadAbort {
                path: path.display().to_string(),
                key: "min_requests",
                detail: "must be at least 1".into(),
            });
        }
        Ok(table)
    }

    /// Checks that every stage rule names a stage of the run (`stages`: the names of its
    /// shape's stages, in order; empty for a run without stages). Rules without a stage
    /// hold for any run.
    pub fn check_stages<S: AsRef<str>>(&self, stages: &[S]) -> Result<(), SloError> {
        let names: Vec<&str> = stages.iter().map(AsRef::as_ref).collect();
        for (i, rule) in self.rules.iter().enumerate() {
            let Some(stage) = &rule.stage else {
                continue;
            };
            if !names.contains(&stage.as_str()) {
                let known = if names.is_empty() {
                    "the run has no stages: give it a [load] shape".to_owned()
                } else {
                    format!("its stages: {}", names.join(", "))
                };
                return Err(SloError::UnknownStage {
                    path: self.path.display().to_string(),
                    rule: i + 1,
                    stage: stage.clone(),
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

/// What is wrong with a rule's targets, if anything.
fn check_rule(rule: &SloRule) -> Result<(), String> {
    let targets = rule.targets();
    if targets.is_empty() {
        return Err("has no target (give avg_ms, p95_ms, p99_ms or max_failure_ratio)".into());
    }
    match targets
        .iter()
        .find(|(_, limit)| !limit.is_finite() || *limit <= 0.0)
    {
        Some((metric, limit)) => Err(format!("{metric} must be a number above 0, not {limit}")),
        None => Ok(()),
    }
}

/// A parse error as `file:line: key: message`, the key being the one written on the line the
/// parser pointed at (when the message does not name it already).
fn syntax(text: &str, path: &Path, err: &toml::de::Error) -> SloError {
    let line = toml_error_line(text, err);
    let location = match line {
        Some(line) => format!("{}:{line}", path.display()),
        None => path.display().to_string(),
    };
    let message = err.message();
    let key = err
        .span()
        .and_then(|span| key_on_line(text, span.start))
        .filter(|key| !message.contains(&format!("`{key}`")));
    let detail = match key {
        Some(key) => format!("{key}: {message}"),
        None => message.to_owned(),
    };
    SloError::Syntax { location, detail }
}

/// The key of a `key = value` line holding byte `offset`, when it is a bare key.
fn key_on_line(text: &str, offset: usize) -> Option<&str> {
    let line = line_col(text, offset).0;
    let (key, _) = text.lines().nth(line - 1)?.split_once('=')?;
    let key = key.trim();
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    bare.then_some(key)
}
