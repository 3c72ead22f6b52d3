//! A step's body and response checks, with the constants filled in.

use std::collections::BTreeMap;

use lv_common::plan::{Body, Check};
use lv_common::template::{JsonTemplate, Template, TemplateError};

use crate::config::scenario::{ScenarioError, StepDef};

fn invalid(at: &str, detail: String) -> ScenarioError {
    ScenarioError::invalid(at, detail)
}

/// A step's body: JSON (a template per string), text (a template), or none.
pub(super) fn step_body(
    step: &StepDef,
    consts: &BTreeMap<String, String>,
    at: &str,
) -> Result<Body, ScenarioError> {
    let tmpl = |e: TemplateError| invalid(at, e.to_string());
    Ok(match (&step.json, &step.body) {
        (Some(json), _) => {
            let value =
                serde_json::to_value(json).map_err(|e| invalid(at, format!("json body: {e}")))?;
            Body::Json(JsonTemplate::compile(&value, consts).map_err(tmpl)?)
        }
        (None, Some(text)) => Body::Text(Template::compile(text, consts).map_err(tmpl)?),
        (None, None) => Body::Empty,
    })
}

/// A step's response checks, their expected values with the constants filled in.
pub(super) fn step_checks(
    step: &StepDef,
    consts: &BTreeMap<String, String>,
    at: &str,
) -> Result<Vec<Check>, ScenarioError> {
    step.check
        .iter()
        .map(|c| {
            Ok(Check {
                pointer: c.pointer.clone(),
                equals: c
                    .equals
                    .as_ref()
                    .map(|v| check_value(v, consts))
                    .transpose()
                    .map_err(|e| invalid(at, e))?,
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
