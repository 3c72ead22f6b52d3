//! The web UI's capacity form (`POST /api/v1/capacity`): the fields of `lv-master
//! capacity`'s options, named as the options without their dashes (`start`, `max_lag`,
//! ...), plus the run's `host`, `user_classes`, `tags`, `exclude_tags` and `slo_level`.
//! Parsing and checking, pure: every bad field is a [`FormError`] naming it and its value.
//! An empty field keeps the option's default; an unknown field is refused, so a typo does
//! not silently search with a default.

use std::time::Duration;

use lv_common::duration::parse_duration;
use lv_common::load::parse_rate;

use crate::config::ConfigError;
use crate::config::cli::{SearchOptions, parse_fraction, parse_model};
use crate::live::form::{FormError, SwarmForm};

use super::search::SearchParams;
use super::setup::search_plan;
use super::steps::StepSettings;

/// The search fields a form may carry, each with the option it stands for.
const SEARCH_FIELDS: [(&str, &str); 11] = [
    ("model", "--model"),
    ("start", "--start"),
    ("factor", "--factor"),
    ("precision", "--precision"),
    ("max", "--max"),
    ("hold", "--hold"),
    ("settle", "--settle"),
    ("confirm", "--confirm"),
    ("max_lag", "--max-lag"),
    ("require", "--require"),
    ("max_in_flight", "--max-in-flight"),
];

/// The run fields a form may carry besides the search's.
const RUN_FIELDS: [&str; 5] = ["host", "user_classes", "tags", "exclude_tags", "slo_level"];

/// A capacity form, parsed: the search's options and what it runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CapacityForm {
    /// The search's options (the command line's defaults where the form is silent).
    pub options: SearchOptions,
    /// Open model: iterations in flight at most, over all workers.
    pub max_in_flight: Option<u32>,
    /// The SLO level the steps are judged at (`None`: the master's).
    pub slo_level: Option<String>,
    /// Host, user classes and tags, read as `/swarm` reads them.
    pub selection: SwarmForm,
}

/// A checked search: its climb, its steps and `require`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckedSearch {
    /// Climb, bisection and bounds.
    pub search: SearchParams,
    /// How steps are held.
    pub steps: StepSettings,
    /// The load the search must reach (shown with the answer).
    pub require: Option<f64>,
}

fn bad(field: &'static str, value: &str, detail: impl Into<String>) -> FormError {
    FormError {
        field,
        value: lv_common::bounds::quote(value),
        detail: detail.into(),
    }
}

impl CapacityForm {
    /// Parses `pairs`: every value is checked as its option's is on the command line.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
        pairs: &[(K, V)],
    ) -> Result<CapacityForm, FormError> {
        let mut form = CapacityForm::default();
        let mut run_pairs = Vec::new();
        for (key, value) in pairs {
            let (key, value) = (key.as_ref(), value.as_ref().trim());
            if let Some(&(field, _)) = SEARCH_FIELDS.iter().find(|(f, _)| *f == key) {
                if !value.is_empty() {
                    form.set(field, value)?;
                }
            } else if RUN_FIELDS.contains(&key) {
                if key == "slo_level" && !value.is_empty() {
                    form.slo_level = Some(value.to_owned());
                }
                run_pairs.push((key, value));
            } else {
                let known: Vec<&str> = SEARCH_FIELDS
                    .iter()
                    .map(|(f, _)| *f)
                    .chain(RUN_FIELDS)
                    .collect();
                return Err(bad(
                    "field",
                    key,
                    format!("unknown field (known: {})", known.join(", ")),
                ));
            }
        }
        form.selection = SwarmForm::from_pairs(&run_pairs);
        Ok(form)
    }

    /// Sets one search field from its text.
    fn set(&mut self, field: &'static str, text: &str) -> Result<(), FormError> {
        let o = &mut self.options;
        let wrong = |detail: String| bad(field, text, detail);
        let rate = || parse_rate(text).map_err(wrong);
        let duration = || parse_duration(text).map_err(|e| wrong(e.to_string()));
        match field {
            "model" => o.model = parse_model(text).map_err(wrong)?,
            "start" => o.start = rate()?,
            "max" => o.max = rate()?,
            "require" => o.require = Some(rate()?),
            "factor" => {
                o.factor = text.parse().map_err(|_| wrong("not a number".to_owned()))?;
            }
            "precision" => o.precision = parse_fraction(text).map_err(wrong)?,
            "hold" => o.hold = duration()?,
            "settle" => o.settle = duration()?,
            "confirm" => o.confirm = Some(duration()?),
            "max_lag" => o.max_lag = duration()?,
            _ => {
                let limit = text
                    .parse::<u32>()
                    .map_err(|_| wrong("not a whole number".to_owned()))?;
                self.max_in_flight = Some(limit);
            }
        }
        Ok(())
    }

    /// The search these options make, checked as `lv-master capacity` checks its flags;
    /// an error names the form's field.
    pub fn check(&self) -> Result<CheckedSearch, FormError> {
        let (search, steps) =
            search_plan(&self.options, self.max_in_flight).map_err(|err| match err {
                ConfigError::InvalidOption { option, detail } => {
                    let field = SEARCH_FIELDS
                        .iter()
                        .find(|(_, o)| *o == option)
                        .map_or("form", |(f, _)| *f);
                    bad(field, &self.value_of(field), detail)
                }
                other => bad("form", "", other.to_string()),
            })?;
        Ok(CheckedSearch {
            search,
            steps,
            require: self.options.require,
        })
    }

    /// A field's value as checked, for error messages.
    fn value_of(&self, field: &str) -> String {
        let o = &self.options;
        let secs = |d: Duration| format!("{}s", d.as_secs_f64());
        match field {
            "start" => o.start.to_string(),
            "max" => o.max.to_string(),
            "factor" => o.factor.to_string(),
            "hold" => secs(o.hold),
            "settle" => secs(o.settle),
            "confirm" => o.confirm.map(secs).unwrap_or_default(),
            "max_in_flight" => self
                .max_in_flight
                .map(|m| m.to_string())
                .unwrap_or_default(),
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests;
