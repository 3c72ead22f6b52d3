//! Resolving: turns loaded scenario files into the plan a master ships to its workers, once,
//! on the master. User classes are picked by name, tasks filtered by tags, tasks over the
//! fleet expanded per agent, agents turned into base URLs, templates compiled and their
//! variables checked. A worker receives the result as JSON and needs no scenario file,
//! fleet map or host.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lv_common::duration::parse_duration;
use lv_common::fleet::{Agent, FleetMap, HostBase};
use lv_common::plan::{Body, Check, ClassPlan, Plan, StepPlan, TaskPlan};
use lv_common::source::Key;
use lv_common::template::{JsonTemplate, Template};

mod filter;
pub use filter::passes_tags;
use filter::{check_requirements_survive, describe_filters, join_or_none, unknown_tags};

use super::scenario::{
    LoadedScenario, Place, ScenarioError, StepDef, TaskDef, UserClassDef, class_locations,
    http_method, task_name,
};

/// What to resolve the scenarios with.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// User classes picked by name; all when empty.
    pub classes: Vec<String>,
    /// Keep only tasks with at least one of these tags (when not empty).
    pub tags: Vec<String>,
    /// Drop tasks with any of these tags.
    pub exclude_tags: Vec<String>,
    /// Scheme and host that agent ports are added to.
    pub host: HostBase,
    /// Timeout of steps that set none.
    pub default_timeout: Duration,
    /// Each user keeps its own connections.
    pub connection_per_user: bool,
}

/// The result of resolving: the plan and remarks worth logging (dropped classes).
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The plan.
    pub plan: Plan,
    /// Human-readable remarks, such as classes dropped by the tag filter.
    pub notes: Vec<String>,
    /// Tags of `--tags` and `--exclude-tags` that no task of the chosen classes carries, as
    /// `(flag, tag)`: a run notes them, `lv-master check` refuses them.
    pub unknown_tags: Vec<(&'static str, String)>,
    /// Every tag a task of the chosen classes carries, before the tag filter.
    pub tags: BTreeSet<String>,
}

/// Every class asked for exists; the error lists those that do, with their `file:line`.
fn check_classes(scenarios: &[LoadedScenario], wanted: &[String]) -> Result<(), ScenarioError> {
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

/// Resolves loaded scenarios into a plan.
pub fn resolve(
    scenarios: &[LoadedScenario],
    fleet: &FleetMap,
    options: &PlanOptions,
) -> Result<Resolved, ScenarioError> {
    let all: Vec<(&LoadedScenario, usize, &UserClassDef)> = scenarios
        .iter()
        .flat_map(|s| s.file.users.iter().enumerate().map(move |(i, c)| (s, i, c)))
        .collect();
    check_classes(scenarios, &options.classes)?;
    let mut classes = Vec::new();
    let mut notes = Vec::new();
    let mut carried = BTreeSet::new();
    for (scenario, index, class) in all {
        if !options.classes.is_empty() && !options.classes.contains(&class.name) {
            continue;
        }
        let (resolved, tags) =
            resolve_class(&Place::class(scenario, index), class, fleet, options)?;
        carried.extend(tags);
        if resolved.tasks.is_empty() {
            notes.push(format!(
                "user class {} has no task left after tag filtering; it is not run",
                class.name
            ));
        } else if resolved.weight == 0 {
            notes.push(format!(
                "user class {} has weight 0; it is not run",
                class.name
            ));
        } else {
            classes.push(resolved);
        }
    }
    let unknown_tags = unknown_tags(&options.tags, &options.exclude_tags, &carried);
    for (flag, tag) in &unknown_tags {
        notes.push(format!(
            "{flag} {tag}: no task of the chosen user classes carries this tag"
        ));
    }
    if classes.is_empty() {
        let mut why = describe_filters(&options.classes, &options.tags, &options.exclude_tags);
        if !options.tags.is_empty() || !options.exclude_tags.is_empty() {
            why.push_str(&format!(
                "; the tasks' tags are: {}",
                join_or_none(&carried)
            ));
        }
        return Err(ScenarioError::EmptyPlan(why));
    }
    Ok(Resolved {
        plan: Plan {
            classes,
            connection_per_user: options.connection_per_user,
        },
        notes,
        unknown_tags,
        tags: carried,
    })
}

struct Ctx<'a> {
    fleet: &'a FleetMap,
    options: &'a PlanOptions,
    /// Variables some step of the class extracts.
    extracted: BTreeSet<String>,
}

/// The class of `place` resolved, and every tag its tasks carry before filtering.
fn resolve_class(
    place: &Place<'_>,
    class: &UserClassDef,
    fleet: &FleetMap,
    options: &PlanOptions,
) -> Result<(ClassPlan, BTreeSet<String>), ScenarioError> {
    let extracted = class
        .on_start
        .iter()
        .chain(class.tasks.iter().flat_map(|t| t.steps.iter()))
        .flat_map(|s| s.extract.keys().cloned())
        .collect();
    let ctx = Ctx {
        fleet,
        options,
        extracted,
    };
    let no_consts = BTreeMap::new();
    let on_start: Vec<StepPlan> = class
        .on_start
        .iter()
        .enumerate()
        .map(|(i, s)| ctx.step(s, None, &no_consts, &place.on_start(i)))
        .collect::<Result<_, _>>()?;
    let mut tasks = Vec::new();
    let mut dropped = Vec::new();
    let mut carried = BTreeSet::new();
    for (i, task) in class.tasks.iter().enumerate() {
        let task_place = place.task(i, task);
        for expanded in ctx.expand(task, i, &class.tags, &task_place)? {
            carried.extend(expanded.tags.iter().cloned());
            if expanded.weight > 0
                && passes_tags(&expanded.tags, &options.tags, &options.exclude_tags)
            {
                tasks.push((i, expanded));
            } else {
                dropped.push(expanded);
            }
        }
    }
    check_requirements_survive(place, class, &on_start, &tasks, &dropped)?;
    let plan = ClassPlan {
        name: class.name.clone(),
        weight: class.weight,
        wait: class.wait,
        on_start,
        tasks: tasks.into_iter().map(|(_, t)| t).collect(),
        cookies: class.cookies,
    };
    Ok((plan, carried))
}

impl Ctx<'_> {
    fn expand(
        &self,
        task: &TaskDef,
        index: usize,
        class_tags: &[String],
        place: &Place<'_>,
    ) -> Result<Vec<TaskPlan>, ScenarioError> {
        let base_tags: Vec<String> = task.tags.iter().chain(class_tags).cloned().collect();
        if !task.for_each_agent {
            let steps = self.steps(task, None, &BTreeMap::new(), place)?;
            return Ok(vec![self.task(task, index, base_tags, steps, None)]);
        }
        let agents: Vec<&Agent> = self
            .fleet
            .agents
            .iter()
            .filter(|a| {
                task.agent_categories.is_empty() || task.agent_categories.contains(&a.category)
            })
            .collect();
        if agents.is_empty() {
            let key = if task.agent_categories.is_empty() {
                "for_each_agent"
            } else {
                "agent_categories"
            };
            return Err(place.error(
                &[Key::Name(key)],
                "for_each_agent matches no agent of the fleet map",
            ));
        }
        agents
            .into_iter()
            .map(|agent| {
                let consts = BTreeMap::from([("agent".to_owned(), agent.name.clone())]);
                let steps = self.steps(task, Some(agent), &consts, place)?;
                let mut tags = base_tags.clone();
                for tag in agent.all_tags() {
                    if !tags.contains(&tag) {
                        tags.push(tag);
                    }
                }
                Ok(self.task(task, index, tags, steps, Some(&agent.name)))
            })
            .collect()
    }

    fn task(
        &self,
        task: &TaskDef,
        index: usize,
        tags: Vec<String>,
        steps: Vec<StepPlan>,
        agent: Option<&str>,
    ) -> TaskPlan {
        let base = task_name(task, index);
        TaskPlan {
            name: agent.map_or_else(|| base.clone(), |a| format!("{base} [{a}]")),
            weight: task.weight,
            tags,
            requires: task.requires.clone(),
            steps,
        }
    }

    fn steps(
        &self,
        task: &TaskDef,
        agent: Option<&Agent>,
        consts: &BTreeMap<String, String>,
        place: &Place<'_>,
    ) -> Result<Vec<StepPlan>, ScenarioError> {
        for (i, var) in task.requires.iter().enumerate() {
            if !self.extracted.contains(var) {
                return Err(place.error(
                    &[Key::Name("requires"), Key::Index(i)],
                    format!(
                        "requires `{var}`, but no step of the class extracts it (extracted: {})",
                        join_or_none(&self.extracted)
                    ),
                ));
            }
        }
        task.steps
            .iter()
            .enumerate()
            .map(|(j, s)| self.step(s, agent, consts, &place.step(j)))
            .collect()
    }

    /// Compiles the template at `key` of the step and checks its variables.
    fn template(
        &self,
        place: &Place<'_>,
        keys: &[Key<'_>],
        text: &str,
        consts: &BTreeMap<String, String>,
    ) -> Result<Template, ScenarioError> {
        let template = Template::compile(text, consts).map_err(|e| place.error(keys, e))?;
        if let Some(var) = template.vars().find(|v| !self.extracted.contains(*v)) {
            return Err(place.error(
                keys,
                format!(
                    "template uses `{var}`, which no step of this user class extracts (known: {})",
                    join_or_none(&self.extracted)
                ),
            ));
        }
        Ok(template)
    }

    fn step(
        &self,
        step: &StepDef,
        default_agent: Option<&Agent>,
        consts: &BTreeMap<String, String>,
        place: &Place<'_>,
    ) -> Result<StepPlan, ScenarioError> {
        use Key::Name;
        let (base_url, target) = self.target(step, default_agent, place)?;
        let path = self.template(place, &[Name("path")], &step.path, consts)?;
        let name = match &step.name {
            Some(name) => self
                .template(place, &[Name("name")], name, consts)?
                .display_pattern(),
            None => match &target {
                Some(agent) => format!("{agent} {}", path.display_pattern()),
                None => path.display_pattern(),
            },
        };
        let headers = step
            .headers
            .iter()
            .map(|(k, v)| {
                let keys = [Name("headers"), Name(k)];
                Ok((k.clone(), self.template(place, &keys, v, consts)?))
            })
            .collect::<Result<Vec<_>, ScenarioError>>()?;
        let body = self.body(step, consts, place)?;
        let timeout = match &step.timeout {
            Some(t) => parse_duration(t).map_err(|e| place.error(&[Name("timeout")], e))?,
            None => self.options.default_timeout,
        };
        Ok(StepPlan {
            method: http_method(&step.method).unwrap_or("GET").to_owned(),
            base_url,
            path,
            name,
            kind: step.kind,
            headers,
            body,
            expect_status: step.expect_status.clone(),
            checks: step_checks(step, consts, place)?,
            extract: step
                .extract
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            timeout_ms: u64::try_from(timeout.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
            follow_redirects: step.follow_redirects,
        })
    }

    /// The step's base URL and, for agent steps, the agent's name.
    fn target(
        &self,
        step: &StepDef,
        default_agent: Option<&Agent>,
        place: &Place<'_>,
    ) -> Result<(String, Option<String>), ScenarioError> {
        if let Some(url) = &step.url {
            return Ok((url.get_ref().trim_end_matches('/').to_owned(), None));
        }
        let name = match (&step.agent, default_agent) {
            (Some(name), _) => name.get_ref().clone(),
            (None, Some(agent)) => agent.name.clone(),
            (None, None) => {
                return Err(place.error(&[], "needs `agent` or `url`"));
            }
        };
        let base = self
            .fleet
            .base_url(&name, &self.options.host)
            .map_err(|e| place.error(&[Key::Name("agent")], e))?;
        let canonical = self.fleet.get(&name).map_or(name, |a| a.name.clone());
        Ok((base, Some(canonical)))
    }

    /// A step's body: JSON (a template per string), text (a template), or none.
    fn body(
        &self,
        step: &StepDef,
        consts: &BTreeMap<String, String>,
        place: &Place<'_>,
    ) -> Result<Body, ScenarioError> {
        Ok(match (&step.json, &step.body) {
            (Some(json), _) => {
                // Each string first, so an error names its key and line.
                let mut keys = vec![Key::Name("json")];
                self.json_strings(json, &mut keys, consts, place)?;
                let value =
                    serde_json::to_value(json).map_err(|e| place.error(&[Key::Name("json")], e))?;
                Body::Json(
                    JsonTemplate::compile(&value, consts)
                        .map_err(|e| place.error(&[Key::Name("json")], e))?,
                )
            }
            (None, Some(text)) => {
                Body::Text(self.template(place, &[Key::Name("body")], text, consts)?)
            }
            (None, None) => Body::Empty,
        })
    }

    /// Compiles every string of a JSON body, `keys` being where `value` is.
    fn json_strings<'v>(
        &self,
        value: &'v toml::Value,
        keys: &mut Vec<Key<'v>>,
        consts: &BTreeMap<String, String>,
        place: &Place<'_>,
    ) -> Result<(), ScenarioError> {
        match value {
            toml::Value::String(text) => {
                self.template(place, keys, text, consts)?;
            }
            toml::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    keys.push(Key::Index(i));
                    self.json_strings(item, keys, consts, place)?;
                    keys.pop();
                }
            }
            toml::Value::Table(table) => {
                for (k, item) in table {
                    keys.push(Key::Name(k));
                    self.json_strings(item, keys, consts, place)?;
                    keys.pop();
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A step's response checks, their expected values with the constants filled in.
fn step_checks(
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

#[cfg(test)]
mod tests;
