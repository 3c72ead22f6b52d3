//! Required variables that the tag filter would leave without a step to extract them.

use std::collections::BTreeSet;

use lv_common::plan::{StepPlan, TaskPlan};

use crate::config::scenario::ScenarioError;

/// Every kept task's required variables must still be extracted by `on_start`, a kept
/// task or the run's setup (`constants`); otherwise its users would wait forever for a
/// value no step produces.
pub(super) fn check_requirements_survive(
    at: &str,
    on_start: &[StepPlan],
    kept: &[TaskPlan],
    dropped: &[TaskPlan],
    constants: &BTreeSet<String>,
) -> Result<(), ScenarioError> {
    let extracts = |steps: &[StepPlan], var: &str| {
        steps
            .iter()
            .any(|s| s.extract.iter().any(|(v, _)| v == var))
    };
    for task in kept {
        for var in &task.requires {
            if constants.contains(var)
                || extracts(on_start, var)
                || kept.iter().any(|t| extracts(&t.steps, var))
            {
                continue;
            }
            let mut tags: Vec<&str> = dropped
                .iter()
                .filter(|t| extracts(&t.steps, var))
                .flat_map(|t| t.tags.iter().map(String::as_str))
                .collect();
            tags.sort_unstable();
            tags.dedup();
            return Err(ScenarioError::Invalid {
                location: at.to_owned(),
                detail: format!(
                    "task {:?} requires `{var}`, but the tag filter removed every task that extracts it; keep one of them too (their tags: {})",
                    task.name,
                    tags.join(", ")
                ),
            });
        }
    }
    Ok(())
}
