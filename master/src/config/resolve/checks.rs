//! A step's response checks, with the constants filled in.

use std::collections::BTreeMap;

use lv_common::plan::Check;
use lv_common::source::Key;
use lv_common::template::Template;

use crate::config::scenario::{Place, ScenarioError, StepDef};

/// A step's response checks, their expected values with the constants filled in.
pub(super) fn step_checks(
    step: &StepDef,
    consts: &BTreeMap<String, String>,
    place: &Place<'_>,
) -> Result<Vec<Check>, ScenarioError> {
    step.check
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let keys = [Key::Name("check"), Key::Index(i), Key::Name("equals")];
            Ok(Check {
                pointer: c.pointer.clone(),
                equals: c
                    .equals
                    .as_ref()
                    .map(|v| check_value(v, consts))
                    .transpose()
                    .map_err(|e| place.error(&keys, e))?,
            })
        })
        .collect()
}

/// A check's expected value; strings may use constants such as `{{ agent }}`.
fn check_value(
    value: &toml::Value,
    consts: &BTreeMap<String, String>,
) -> Result<serde_json::Value, String> {
    if let toml::Value::String(text) = value {
        let template = Template::compile(text, consts).map_err(|e| e.to_string())?;
        return template
            .as_literal()
            .map(|t| serde_json::Value::String(t.to_owned()))
            .ok_or_else(|| {
                format!("check value {text:?} may only use constants such as {{{{ agent }}}}")
            });
    }
    serde_json::to_value(value).map_err(|e| format!("check value: {e}"))
}
