//! The tag filter's side of resolving: which tasks it keeps (Locust's rule), the tags it
//! names that no task carries, why it left nothing, and the variables it must not starve
//! (a kept task requiring what only dropped tasks extract).

use std::collections::BTreeSet;

use lv_common::plan::{ClassPlan, StepPlan, TaskPlan};
use lv_common::source::Key;

use crate::config::scenario::{
    LoadedScenario, Place, ScenarioError, UserClassDef, class_locations,
};

/// Why nothing is left to run, naming the class and tag filters.
fn describe_filters(classes: &[String], tags: &[String], exclude_tags: &[String]) -> String {
    let mut parts = Vec::new();
    if !classes.is_empty() {
        parts.push(format!("user classes {}", classes.join(", ")));
    }
    if !tags.is_empty() {
        parts.push(format!("--tags {}", tags.join(",")));
    }
    if !exclude_tags.is_empty() {
        parts.push(format!("--exclude-tags {}", exclude_tags.join(",")));
    }
    if parts.is_empty() {
        "no user class has a task with weight > 0".to_owned()
    } else {
        format!("no task is left with {}", parts.join(" and "))
    }
}

/// Locust's tag rule: with `tags`, keep a task carrying any of them; then drop a task
/// carrying any of `exclude`.
pub fn passes_tags(task_tags: &[String], tags: &[String], exclude: &[String]) -> bool {
    (tags.is_empty() || task_tags.iter().any(|t| tags.contains(t)))
        && !task_tags.iter().any(|t| exclude.contains(t))
}

/// The tags of the filters that no task carries, in the order given.
pub(super) fn unknown_tags(
    tags: &[String],
    exclude_tags: &[String],
    carried: &BTreeSet<String>,
) -> Vec<(&'static str, String)> {
    let given = tags
        .iter()
        .map(|t| ("--tags", t))
        .chain(exclude_tags.iter().map(|t| ("--exclude-tags", t)));
    given
        .filter(|(_, tag)| !carried.contains(*tag))
        .map(|(flag, tag)| (flag, tag.clone()))
        .collect()
}

/// The items joined with `, `, or `none`.
pub(super) fn join_or_none<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let all: Vec<&str> = items.into_iter().map(String::as_str).collect();
    if all.is_empty() {
        "none".to_owned()
    } else {
        all.join(", ")
    }
}

/// Every kept task's required variables must still be extracted by `on_start`, a kept
/// task or the run's setup (`constants`); otherwise its users would wait forever for a value no step produces. `kept` holds
/// each task with its index in the class.
pub(super) fn check_requirements_survive(
    place: &Place<'_>,
    class: &UserClassDef,
    on_start: &[StepPlan],
    kept: &[(usize, TaskPlan)],
    dropped: &[TaskPlan],
    constants: &BTreeSet<String>,
) -> Result<(), ScenarioError> {
    let extracts = |steps: &[StepPlan], var: &str| {
        steps
            .iter()
            .any(|s| s.extract.iter().any(|(v, _)| v == var))
    };
    for (index, task) in kept {
        for (i, var) in task.requires.iter().enumerate() {
            if constants.contains(var)
                || extracts(on_start, var)
                || kept.iter().any(|(_, t)| extracts(&t.steps, var))
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
            let task_place = match class.tasks.get(*index) {
                Some(def) => place.task(*index, def),
                None => place.clone(),
            };
            return Err(task_place.error(
                &[Key::Name("requires"), Key::Index(i)],
                format!(
                    "task {:?} requires `{var}`, but the tag filter removed every task that extracts it; keep one of them too (their tags: {})",
                    task.name,
                    tags.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Every class asked for exists; the error lists those that do, with their `file:line`.
pub(super) fn check_classes(
    scenarios: &[LoadedScenario],
    wanted: &[String],
) -> Result<(), ScenarioError> {
    let known = class_locations(scenarios);
    match wanted
        .iter()
        .find(|w| !known.iter().any(|(name, _)| name == w))
    {
        Some(name) => Err(ScenarioError::UnknownClass {
            name: name.clone(),
            known: known
                .iter()
                .map(|(name, at)| format!("{name} ({at})"))
                .collect::<Vec<_>>()
                .join(", "),
        }),
        None => Ok(()),
    }
}

/// Why a resolved class is not run (no task left, or weight 0), as a note; `None` when it
/// is run.
pub(super) fn not_run(class: &ClassPlan) -> Option<String> {
    if class.tasks.is_empty() {
        Some(format!(
            "user class {} has no task left after tag filtering; it is not run",
            class.name
        ))
    } else if class.weight == 0 {
        Some(format!(
            "user class {} has weight 0; it is not run",
            class.name
        ))
    } else {
        None
    }
}

/// The error when no class is left to run: the filters, and the tags the tasks carry
/// (`carried`) when a tag filter was given.
pub(super) fn nothing_left(
    classes: &[String],
    tags: &[String],
    exclude: &[String],
    carried: &BTreeSet<String>,
) -> ScenarioError {
    let mut why = describe_filters(classes, tags, exclude);
    if !tags.is_empty() || !exclude.is_empty() {
        why.push_str(&format!("; the tasks' tags are: {}", join_or_none(carried)));
    }
    ScenarioError::EmptyPlan(why)
}
