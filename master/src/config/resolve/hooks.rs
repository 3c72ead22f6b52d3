//! The steps the master runs itself once per run (`[[setup.step]]`, `[[teardown.step]]`),
//! resolved like a class's steps: the setup steps of every file in load order, then the
//! teardown steps. What setup extracts is a constant for every class; teardown may use it
//! too.

use std::collections::BTreeSet;

use lv_common::fleet::FleetMap;
use lv_common::plan::StepPlan;

use super::{Ctx, PlanOptions, invalid};
use crate::config::scenario::{HookDef, LoadedScenario, ScenarioError, ScenarioFile};

/// The steps the master runs itself, once per run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hooks {
    /// Setup steps of every file, in load order: run before any user starts.
    pub setup: Vec<StepPlan>,
    /// Teardown steps of every file, in load order: run after the last user stopped.
    pub teardown: Vec<StepPlan>,
}

impl Hooks {
    /// The names setup steps extract: constants for every user of the run.
    pub fn constants(&self) -> BTreeSet<String> {
        extracted(&self.setup)
    }
}

fn extracted(steps: &[StepPlan]) -> BTreeSet<String> {
    steps
        .iter()
        .flat_map(|s| s.extract.iter().map(|(name, _)| name.clone()))
        .collect()
}

/// Resolves the setup and teardown steps of `scenarios` (load order).
pub(super) fn resolve_hooks(
    scenarios: &[LoadedScenario],
    fleet: &FleetMap,
    options: &PlanOptions,
) -> Result<Hooks, ScenarioError> {
    let names = |hook: fn(&ScenarioFile) -> &HookDef| -> BTreeSet<String> {
        scenarios
            .iter()
            .flat_map(|s| hook(&s.file).steps.iter())
            .flat_map(|step| step.extract.keys().cloned())
            .collect()
    };
    let setup_names = names(|f| &f.setup);
    let teardown_names: BTreeSet<String> = setup_names
        .union(&names(|f| &f.teardown))
        .cloned()
        .collect();
    Ok(Hooks {
        setup: resolve_steps(scenarios, fleet, options, "setup", &setup_names, |f| {
            &f.setup
        })?,
        teardown: resolve_steps(
            scenarios,
            fleet,
            options,
            "teardown",
            &teardown_names,
            |f| &f.teardown,
        )?,
    })
}

/// One hook's steps of every file, each template checked against `known` variables.
fn resolve_steps(
    scenarios: &[LoadedScenario],
    fleet: &FleetMap,
    options: &PlanOptions,
    which: &str,
    known: &BTreeSet<String>,
    hook: fn(&ScenarioFile) -> &HookDef,
) -> Result<Vec<StepPlan>, ScenarioError> {
    let mut steps = Vec::new();
    for scenario in scenarios {
        let ctx = Ctx {
            scenario,
            fleet,
            options,
            extracted: known.clone(),
        };
        for (i, step) in hook(&scenario.file).steps.iter().enumerate() {
            let at = format!("{}: {which} step {}", scenario.path.display(), i + 1);
            steps.push(ctx.step(step, None, &Default::default(), &at)?);
        }
    }
    Ok(steps)
}

/// A class may not extract a name setup extracts: its templates would get the setup's
/// value bound in, never its own.
pub(super) fn check_not_constants(
    at: &str,
    own: &BTreeSet<String>,
    constants: &BTreeSet<String>,
) -> Result<(), ScenarioError> {
    match own.intersection(constants).next() {
        Some(name) => Err(invalid(
            at,
            format!(
                "extracts `{name}`, which [[setup.step]] extracts already (a constant for every user); give one of them another name"
            ),
        )),
        None => Ok(()),
    }
}
