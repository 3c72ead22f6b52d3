//! The `/swarm` form (Locust's field names plus lv's `tags`, `exclude_tags` and `profile`):
//! parsing and checking, pure. Every bad field gives a [`FormError`] whose message names the
//! field and its value (`user_count=abc: not a whole number`), answered as HTTP 400. Values
//! are bounded by [`lv_common::bounds`]; a message quotes at most 100 characters of a value.
//!
//! Precedence of a field's value: the form, then the named profile, then (for the host,
//! user classes and tags) the current settings (the last run's, or the flags'). Users and
//! spawn rate must come from the form or the profile, and the run time is the form's or
//! the profile's or none (until stopped), so nothing of an earlier run is carried over.

use std::time::Duration;

use lv_common::bounds::{MAX_RUN_TIME, MAX_SPAWN_RATE, MAX_USERS, quote};
use lv_common::duration::{format_duration, parse_duration};
use lv_common::fleet::HostBase;

use super::snapshot::{Catalog, ProfileDefaults};
pub use crate::config::RunParams;

/// A field the form got wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}={value}: {detail}")]
pub struct FormError {
    /// The field's name.
    pub field: &'static str,
    /// The value given, quoted: at most 100 characters.
    pub value: String,
    /// What is wrong.
    pub detail: String,
}

fn bad(field: &'static str, value: &str, detail: impl Into<String>) -> FormError {
    FormError {
        field,
        value: quote(value),
        detail: detail.into(),
    }
}

/// The form's fields as given (form-urlencoded pairs, or a JSON object turned into pairs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SwarmForm {
    /// `user_count`.
    pub user_count: Option<String>,
    /// `spawn_rate`.
    pub spawn_rate: Option<String>,
    /// `host`.
    pub host: Option<String>,
    /// `run_time`; an empty value means until stopped.
    pub run_time: Option<String>,
    /// `user_classes`, repeated.
    pub user_classes: Vec<String>,
    /// `tags`, repeated or comma-separated.
    pub tags: Option<Vec<String>>,
    /// `exclude_tags`, repeated or comma-separated.
    pub exclude_tags: Option<Vec<String>>,
    /// `profile`.
    pub profile: Option<String>,
}

impl SwarmForm {
    /// Collects the known fields of `pairs`; unknown fields are ignored, as Locust does.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> SwarmForm {
        let mut form = SwarmForm::default();
        for (key, value) in pairs {
            let value = value.as_ref().trim().to_owned();
            match key.as_ref() {
                "user_count" => form.user_count = Some(value),
                "spawn_rate" => form.spawn_rate = Some(value),
                "host" => form.host = Some(value),
                "run_time" => form.run_time = Some(value),
                "user_classes" if !value.is_empty() => form.user_classes.push(value),
                "tags" => form.tags.get_or_insert_with(Vec::new).extend(split(&value)),
                "exclude_tags" => form
                    .exclude_tags
                    .get_or_insert_with(Vec::new)
                    .extend(split(&value)),
                "profile" if !value.is_empty() => form.profile = Some(value),
                _ => {}
            }
        }
        form
    }

    /// Turns a JSON object into form pairs (arrays become repeated fields).
    pub fn from_json(value: &serde_json::Value) -> Result<SwarmForm, FormError> {
        Ok(SwarmForm::from_pairs(&json_pairs(value)?))
    }

    /// Checks every field against the scenarios and fills the missing ones from the
    /// profile, then (host, classes and tags only) from `current`. As in Locust, a form
    /// without `user_count` or `spawn_rate` (and no profile that sets them) is refused, and
    /// one without `run_time` runs until stopped: no run time is carried over.
    pub fn resolve(&self, catalog: &Catalog, current: &RunParams) -> Result<RunParams, FormError> {
        let profile = self.profile_defaults(catalog)?;
        let users = match (&self.user_count, profile.and_then(|p| p.users)) {
            (Some(text), _) => Some(parse_users(text)?),
            (None, users) => users,
        };
        let spawn_rate = match (&self.spawn_rate, profile.and_then(|p| p.spawn_rate)) {
            (Some(text), _) => Some(parse_spawn_rate(text)?),
            (None, rate) => rate,
        };
        let run_time = match (&self.run_time, profile.and_then(|p| p.run_time.as_ref())) {
            (Some(text), _) | (None, Some(text)) => parse_run_time(text)?,
            (None, None) => None,
        };
        let selected = self.selection(catalog, profile, current)?;
        let users = users.ok_or_else(|| missing("user_count"))?;
        let spawn_rate = spawn_rate.ok_or_else(|| missing("spawn_rate"))?;
        check_bounds(users, spawn_rate, self.profile.as_deref())?;
        Ok(RunParams {
            users,
            spawn_rate,
            run_time,
            profile: self.profile.clone().or_else(|| current.profile.clone()),
            ..selected
        })
    }

    /// `current` with the form's host, user classes and tags (checked against the
    /// scenarios); the form's load fields and profile are not read. A capacity search
    /// started from the web picks what it runs this way.
    pub fn resolve_selection(
        &self,
        catalog: &Catalog,
        current: &RunParams,
    ) -> Result<RunParams, FormError> {
        self.selection(catalog, None, current)
    }

    /// `current` with the host, classes and tags of the form, else of `profile`.
    fn selection(
        &self,
        catalog: &Catalog,
        profile: Option<&ProfileDefaults>,
        current: &RunParams,
    ) -> Result<RunParams, FormError> {
        let host = match self.host.as_deref().filter(|h| !h.is_empty()) {
            Some(text) => Some(parse_host(text)?),
            None => current.host.clone(),
        };
        let tags = pick(&self.tags, profile.map(|p| &p.tags), &current.tags);
        let exclude_tags = pick(
            &self.exclude_tags,
            profile.map(|p| &p.exclude_tags),
            &current.exclude_tags,
        );
        self.check_names(catalog, &tags, &exclude_tags)?;
        Ok(RunParams {
            host,
            classes: if self.user_classes.is_empty() {
                current.classes.clone()
            } else {
                self.user_classes.clone()
            },
            tags,
            exclude_tags,
            shape: None,
            ..current.clone()
        })
    }

    /// The defaults of the profile the form names, if it names one the catalog knows.
    fn profile_defaults<'a>(
        &self,
        catalog: &'a Catalog,
    ) -> Result<Option<&'a ProfileDefaults>, FormError> {
        let Some(name) = &self.profile else {
            return Ok(None);
        };
        let known = catalog.profiles.get(name).ok_or_else(|| {
            let known: Vec<&str> = catalog.profiles.keys().map(String::as_str).collect();
            bad(
                "profile",
                name,
                format!("unknown profile (known: {})", known.join(", ")),
            )
        })?;
        Ok(Some(known))
    }

    /// Checks that the form's user classes and the chosen tags are the scenarios'.
    fn check_names(
        &self,
        catalog: &Catalog,
        tags: &[String],
        exclude_tags: &[String],
    ) -> Result<(), FormError> {
        for class in &self.user_classes {
            check_known("user_classes", class, &catalog.user_classes, "user class")?;
        }
        for tag in tags {
            check_known("tags", tag, &catalog.tags, "tag")?;
        }
        for tag in exclude_tags {
            check_known("exclude_tags", tag, &catalog.tags, "tag")?;
        }
        Ok(())
    }
}

/// A JSON object as form pairs: arrays become repeated fields, `null` none, other values
/// their text.
pub fn json_pairs(value: &serde_json::Value) -> Result<Vec<(String, String)>, FormError> {
    let Some(object) = value.as_object() else {
        return Err(bad("body", &value.to_string(), "not a JSON object"));
    };
    let mut pairs = Vec::new();
    for (key, value) in object {
        let items = match value {
            serde_json::Value::Array(items) => items.clone(),
            serde_json::Value::Null => Vec::new(),
            other => vec![other.clone()],
        };
        for item in items {
            let text = match item {
                serde_json::Value::String(text) => text,
                other => other.to_string(),
            };
            pairs.push((key.clone(), text));
        }
    }
    Ok(pairs)
}

/// The bounds of [`parse_users`] and [`parse_spawn_rate`], for values a profile gave.
fn check_bounds(users: u32, spawn_rate: f64, profile: Option<&str>) -> Result<(), FormError> {
    let from = profile.map_or_else(String::new, |p| format!(" (from profile {p})"));
    parse_users(&users.to_string()).map_err(|err| FormError {
        detail: format!("{}{from}", err.detail),
        ..err
    })?;
    parse_spawn_rate(&spawn_rate.to_string()).map_err(|err| FormError {
        detail: format!("{}{from}", err.detail),
        ..err
    })?;
    Ok(())
}

/// A required field the form (and its profile) left out.
fn missing(field: &'static str) -> FormError {
    bad(
        field,
        "",
        "missing: /swarm needs user_count and spawn_rate (or a profile that sets them), as Locust's does",
    )
}

fn pick(
    form: &Option<Vec<String>>,
    profile: Option<&Vec<String>>,
    current: &[String],
) -> Vec<String> {
    match (form, profile) {
        (Some(values), _) => values.clone(),
        (None, Some(values)) if !values.is_empty() => values.clone(),
        _ => current.to_vec(),
    }
}

fn split(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// `user_count`: a whole number up to [`MAX_USERS`] (0 is allowed: every user stops, the
/// run goes on).
pub fn parse_users(text: &str) -> Result<u32, FormError> {
    match text.parse::<u64>() {
        Ok(users) if users <= u64::from(MAX_USERS) => Ok(users as u32),
        Ok(_) => Err(bad(
            "user_count",
            text,
            format!("at most {MAX_USERS} users"),
        )),
        Err(_) => Err(bad("user_count", text, "not a whole number")),
    }
}

/// `spawn_rate`: a number > 0 and at most [`MAX_SPAWN_RATE`].
pub fn parse_spawn_rate(text: &str) -> Result<f64, FormError> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 && rate <= MAX_SPAWN_RATE => Ok(rate),
        Ok(_) => Err(bad(
            "spawn_rate",
            text,
            format!("must be a number > 0 and at most {MAX_SPAWN_RATE}"),
        )),
        Err(_) => Err(bad("spawn_rate", text, "not a number")),
    }
}

/// `run_time`: empty for until stopped, else `30s`, `5m`, `1h30m` or seconds, > 0 and at
/// most [`MAX_RUN_TIME`].
pub fn parse_run_time(text: &str) -> Result<Option<Duration>, FormError> {
    if text.is_empty() {
        return Ok(None);
    }
    match parse_duration(text) {
        Ok(time) if time.is_zero() => Err(bad("run_time", text, "must be longer than 0s")),
        Ok(time) if time > MAX_RUN_TIME => Err(bad(
            "run_time",
            text,
            format!("at most {}", format_duration(MAX_RUN_TIME)),
        )),
        Ok(time) => Ok(Some(time)),
        Err(_) => Err(bad(
            "run_time",
            text,
            "not a run time (30s, 5m, 1h30m, or seconds)",
        )),
    }
}

/// `host`: a scheme and host (`http://localhost`); `<` and `>` are refused.
pub fn parse_host(text: &str) -> Result<String, FormError> {
    if text.contains(['<', '>', '"']) {
        return Err(bad("host", text, "must not contain <, > or \""));
    }
    HostBase::parse(text).map_err(|err| bad("host", text, err.to_string()))?;
    Ok(text.to_owned())
}

fn check_known(
    field: &'static str,
    value: &str,
    known: &[String],
    what: &str,
) -> Result<(), FormError> {
    if known.iter().any(|k| k == value) {
        Ok(())
    } else {
        Err(bad(
            field,
            value,
            format!("unknown {what} (known: {})", known.join(", ")),
        ))
    }
}

#[cfg(test)]
mod tests;
