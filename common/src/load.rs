//! Load shapes: the `[load]` table of a profile, scenario or `--shape` file, and `--rate`.
//!
//! A shape is a list of stages `{name, duration, to}` ramping linearly from the previous
//! value (the first from `start`, 0 by default). In the closed model the value is users; in
//! the open model it is arrivals per second, fired whatever the answers do, with an optional
//! cap on iterations in flight. The arithmetic of arrivals lives in the submodules; this one
//! reads and checks the input, naming the file and key of anything wrong.
//!
//! ```toml
//! [load]
//! model = "open"            # or "closed"
//! arrivals = "poisson"      # or "uniform" (the default)
//! seed = 42                 # Poisson only; the master picks one when absent
//! max_in_flight = 200       # open only; no cap when absent
//! on_saturation = "drop"    # or "queue"; what happens at the cap
//! stages = [
//!   { name = "warm", duration = "30s", to = 10 },
//!   { name = "plateau", duration = "5m", to = "100/s" },
//! ]
//! ```

use std::time::Duration;

use serde::Deserialize;

use crate::duration::parse_duration;
use crate::source::toml_error_line;

pub mod arrivals;
pub mod measure;
pub mod schedule;

pub use arrivals::{ArrivalKind, SplitMix64, Stripe, StripeArrivals};
pub use measure::{ArrivalCounts, OpenEndpoint, OpenStats, RequestTiming};
pub use schedule::Schedule;

/// Largest rate accepted, in arrivals per second (far beyond what a cluster can send).
pub const MAX_RATE: f64 = 10_000_000.0;

/// Closed (users over time) or open (arrivals per second over time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// Users, each waiting for its answer and its wait rule before the next task.
    Closed,
    /// Arrivals at the planned rate, whatever the answers do.
    Open,
}

/// What an arrival does when `max_in_flight` iterations are already running.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnSaturation {
    /// It is not started, and counted as dropped.
    #[default]
    Drop,
    /// It waits for a slot; its response time includes the wait.
    Queue,
}

/// One stage of a shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// Name for reports (`stage-N`, 1-based, when the file gives none).
    pub name: String,
    /// How long the stage lasts.
    pub duration: Duration,
    /// Value reached at its end: users (closed) or arrivals per second (open).
    pub to: f64,
}

/// A validated `[load]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadShape {
    /// Closed or open.
    pub model: Model,
    /// Value at time 0, from which the first stage ramps.
    pub start: f64,
    /// Stages in order (at least one).
    pub stages: Vec<Stage>,
    /// Spread of arrival instants (open model).
    pub arrivals: ArrivalKind,
    /// Seed of Poisson arrivals; `None` lets the master pick one.
    pub seed: Option<u64>,
    /// Cap on iterations in flight across the run (open model), split across workers as
    /// users are.
    pub max_in_flight: Option<u32>,
    /// What an arrival does at the cap.
    pub on_saturation: OnSaturation,
}

impl LoadShape {
    /// The open model's rate function (for a closed shape, users over time).
    pub fn schedule(&self) -> Schedule {
        let stages: Vec<(Duration, f64)> = self.stages.iter().map(|s| (s.duration, s.to)).collect();
        Schedule::new(self.start, &stages)
    }

    /// The highest value the shape reaches: peak users (closed) or peak rate (open).
    pub fn peak(&self) -> f64 {
        self.stages.iter().map(|s| s.to).fold(self.start, f64::max)
    }

    /// Total length of the stages.
    pub fn duration(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// A one-stage open shape at a constant `rate` for `duration` (`--rate` with `-t`).
    pub fn constant_rate(rate: f64, duration: Duration) -> LoadShape {
        LoadShape {
            model: Model::Open,
            start: rate,
            stages: vec![Stage {
                name: "stage-1".to_owned(),
                duration,
                to: rate,
            }],
            arrivals: ArrivalKind::Uniform,
            seed: None,
            max_in_flight: None,
            on_saturation: OnSaturation::Drop,
        }
    }
}

/// Why a `[load]` table or a rate was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    /// The file is not TOML of the expected form.
    #[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Syntax {
        /// The file (or `--shape`, `--rate`).
        file: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// A key holds a value that is not allowed.
    #[error("{file}: {key}: {detail}")]
    Invalid {
        /// The file.
        file: String,
        /// Dotted key, e.g. `load.stages[2].duration`.
        key: String,
        /// What was wrong and what was expected.
        detail: String,
    },
}

#[derive(Debug, Deserialize)]
struct Document {
    load: Option<RawLoad>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoad {
    model: Model,
    start: Option<RawValue>,
    stages: Vec<RawStage>,
    arrivals: Option<ArrivalKind>,
    seed: Option<u64>,
    max_in_flight: Option<u32>,
    on_saturation: Option<OnSaturation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    name: Option<String>,
    duration: RawValue,
    to: RawValue,
}

/// A number or a string (`"30s"`, `"200/s"`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawValue {
    Number(f64),
    Text(String),
}

/// Reads the `[load]` table of a TOML document; `Ok(None)` when it has none.
pub fn parse_shape(file: &str, text: &str) -> Result<Option<LoadShape>, LoadError> {
    let doc: Document = toml::from_str(text).map_err(|err| LoadError::Syntax {
        file: file.to_owned(),
        line: toml_error_line(text, &err),
        message: err.message().to_owned(),
    })?;
    doc.load.map(|raw| validate(file, raw)).transpose()
}

fn validate(file: &str, raw: RawLoad) -> Result<LoadShape, LoadError> {
    let invalid = |(key, detail): (String, String)| LoadError::Invalid {
        file: file.to_owned(),
        key,
        detail,
    };
    check_settings(&raw).map_err(invalid)?;
    let start = match &raw.start {
        Some(value) => {
            value_of(value, raw.model).map_err(|d| invalid(("load.start".to_owned(), d)))?
        }
        None => 0.0,
    };
    let stages = stages_of(&raw).map_err(invalid)?;
    Ok(LoadShape {
        model: raw.model,
        start,
        stages,
        arrivals: raw.arrivals.unwrap_or(ArrivalKind::Uniform),
        seed: raw.seed,
        max_in_flight: raw.max_in_flight,
        on_saturation: raw.on_saturation.unwrap_or_default(),
    })
}

/// Checks the settings beside the stages; on error, the key and what is wrong.
fn check_settings(raw: &RawLoad) -> Result<(), (String, String)> {
    if raw.model != Model::Open {
        for (key, set) in [
            ("arrivals", raw.arrivals.is_some()),
            ("seed", raw.seed.is_some()),
            ("max_in_flight", raw.max_in_flight.is_some()),
            ("on_saturation", raw.on_saturation.is_some()),
        ] {
            if set {
                return Err((
                    format!("load.{key}"),
                    "only applies to model = \"open\"".to_owned(),
                ));
            }
        }
    }
    if raw.stages.is_empty() {
        return Err((
            "load.stages".to_owned(),
            "at least one stage is needed".to_owned(),
        ));
    }
    if raw.max_in_flight == Some(0) {
        return Err((
            "load.max_in_flight".to_owned(),
            "must be at least 1".to_owned(),
        ));
    }
    if raw.seed.is_some() && raw.arrivals != Some(ArrivalKind::Poisson) {
        return Err((
            "load.seed".to_owned(),
            "only applies to arrivals = \"poisson\"".to_owned(),
        ));
    }
    Ok(())
}

/// The checked stages, with unique names, lasting some time but at most the longest run;
/// on error, the key and what is wrong.
fn stages_of(raw: &RawLoad) -> Result<Vec<Stage>, (String, String)> {
    let mut stages: Vec<Stage> = Vec::with_capacity(raw.stages.len());
    for (i, stage) in raw.stages.iter().enumerate() {
        let stage = stage_of(stage, i, raw.model)
            .map_err(|(field, detail)| (format!("load.stages[{}].{field}", i + 1), detail))?;
        if stages.iter().any(|s| s.name == stage.name) {
            return Err((
                format!("load.stages[{}].name", i + 1),
                format!("{:?} names two stages", stage.name),
            ));
        }
        stages.push(stage);
    }
    if stages.iter().all(|s| s.duration.is_zero()) {
        return Err((
            "load.stages".to_owned(),
            "the stages last no time".to_owned(),
        ));
    }
    let total = stages
        .iter()
        .try_fold(Duration::ZERO, |sum, s| sum.checked_add(s.duration));
    if total.is_none_or(|total| total > crate::bounds::MAX_RUN_TIME) {
        return Err((
            "load.stages".to_owned(),
            format!(
                "the stages last longer than {}, the longest run lv takes",
                crate::duration::format_duration(crate::bounds::MAX_RUN_TIME)
            ),
        ));
    }
    Ok(stages)
}

/// Checks stage `i` (0-based); on error, the field and what is wrong.
fn stage_of(stage: &RawStage, i: usize, model: Model) -> Result<Stage, (&'static str, String)> {
    let duration = match &stage.duration {
        RawValue::Number(s) if s.is_finite() && *s >= 0.0 && *s <= 1e9 => {
            Duration::from_secs_f64(*s)
        }
        RawValue::Number(s) => return Err(("duration", format!("{s} is not a duration"))),
        RawValue::Text(text) => parse_duration(text).map_err(|e| ("duration", e.to_string()))?,
    };
    let to = value_of(&stage.to, model).map_err(|d| ("to", d))?;
    let name = match &stage.name {
        Some(name) if name.trim().is_empty() => {
            return Err(("name", "must not be empty".to_owned()));
        }
        Some(name) => name.clone(),
        None => format!("stage-{}", i + 1),
    };
    Ok(Stage { name, duration, to })
}

/// A stage value: a whole number of users (closed) or a rate (open).
fn value_of(value: &RawValue, model: Model) -> Result<f64, String> {
    match (model, value) {
        (Model::Closed, RawValue::Number(n)) if n.fract() == 0.0 && (0.0..=1e9).contains(n) => {
            Ok(*n)
        }
        (Model::Closed, _) => Err("expected a whole number of users".to_owned()),
        (Model::Open, RawValue::Number(n)) => check_rate(*n, &n.to_string()),
        (Model::Open, RawValue::Text(text)) => parse_rate(text),
    }
}

/// Parses a rate: `200/s`, `200`, `12/m`, `3600/h`, `0.5/s` (arrivals per second out).
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let input = s.trim();
    let (number, per) = match input.split_once('/') {
        Some((number, unit)) => {
            let per = match unit.trim().to_ascii_lowercase().as_str() {
                "s" | "sec" => 1.0,
                "m" | "min" => 60.0,
                "h" => 3600.0,
                other => {
                    return Err(format!(
                        "invalid rate {input:?}: unknown unit {other:?} (use /s, /m or /h)"
                    ));
                }
            };
            (number.trim(), per)
        }
        None => (input, 1.0),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid rate {input:?}: expected forms like 200/s, 12/m or 50"))?;
    check_rate(value / per, input)
}

fn check_rate(rate: f64, input: &str) -> Result<f64, String> {
    if !rate.is_finite() || rate < 0.0 {
        return Err(format!("invalid rate {input:?}: must be a number ≥ 0"));
    }
    if rate > MAX_RATE {
        return Err(format!("invalid rate {input:?}: above {MAX_RATE}/s"));
    }
    Ok(rate)
}

#[cfg(test)]
mod tests;
