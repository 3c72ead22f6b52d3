//! Resolving: turns loaded scenario files into the plan a master ships to its workers, once,
//! on the master. User classes are picked by name, tasks filtered by tags, tasks over the
//! fleet expanded per agent, agents turned into base URLs, templates compiled and their
//! variables checked. A worker receives the result as JSON and needs no scenario file,
//! fleet map or host.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use lv_common::data::DataTable;

use lv_common::duration::parse_duration;
use lv_common::fleet::{Agent, FleetMap, HostBase};
use lv_common::plan::{Body, ClassPlan, Plan, StepPlan, TaskPlan};
use lv_common::template::{Template, TemplateError};

use body::{step_body, step_checks};
use scope::{DataScope, DataSources};

use super::scenario::{
    LoadedScenario, ScenarioError, StepDef, TaskDef, UserClassDef, http_method, task_name,
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
    /// The test data the plan's classes use, once each.
    pub tables: Vec<Arc<DataTable>>,
    /// The setup and teardown steps the master runs itself.
    pub hooks: Hooks,
}

/// Resolves loaded scenarios into a plan.
pub fn resolve(
    scenarios: &[LoadedScenario],
    fleet: &FleetMap,
    options: &PlanOptions,
) -> Result<Resolved, ScenarioError> {
    let all: Vec<(&LoadedScenario, &UserClassDef)> = scenarios
        .iter()
        .flat_map(|s| s.file.users.iter().map(move |c| (s, c)))
        .collect();
    for wanted in &options.classes {
        if !all.iter().any(|(_, c)| &c.name == wanted) {
            return Err(ScenarioError::UnknownClass {
                name: wanted.clone(),
                known: all
                    .iter()
                    .map(|(_, c)| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let sources = DataSources::of(scenarios);
    let hooks = hooks_of(scenarios, fleet, options, &sources)?;
    let constants = hooks.constants();
    let mut classes = Vec::new();
    let mut notes = Vec::new();
    for (scenario, class) in all {
        if !options.classes.is_empty() && !options.classes.contains(&class.name) {
            continue;
        }
        let resolved = resolve_class(scenario, class, fleet, options, &sources, &constants)?;
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
    if classes.is_empty() {
        return Err(ScenarioError::EmptyPlan(describe_filters(options)));
    }
    let tables = sources.used_by(&classes)?;
    Ok(Resolved {
        plan: Plan {
            classes,
            connection_per_user: options.connection_per_user,
            iterations: None,
        },
        notes,
        tables,
        hooks,
    })
}

/// The setup and teardown steps of `scenarios`, resolved as a class's steps are.
fn hooks_of(
    scenarios: &[LoadedScenario],
    fleet: &FleetMap,
    options: &PlanOptions,
    sources: &DataSources<'_>,
) -> Result<Hooks, ScenarioError> {
    hooks::resolve_hooks(scenarios, &|scenario, step, known, at| {
        let ctx = Ctx {
            scenario,
            fleet,
            options,
            extracted: known.clone(),
            sources,
        };
        ctx.step(step, None, &BTreeMap::new(), &DataScope::default(), at)
    })
}

fn describe_filters(options: &PlanOptions) -> String {
    let mut parts = Vec::new();
    if !options.classes.is_empty() {
        parts.push(format!("user classes {}", options.classes.join(", ")));
    }
    if !options.tags.is_empty() {
        parts.push(format!("--tags {}", options.tags.join(",")));
    }
    if !options.exclude_tags.is_empty() {
        parts.push(format!("--exclude-tags {}", options.exclude_tags.join(",")));
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

struct Ctx<'a> {
    scenario: &'a LoadedScenario,
    fleet: &'a FleetMap,
    options: &'a PlanOptions,
    /// Variables some step of the class (or the run's setup) extracts.
    extracted: BTreeSet<String>,
    /// The test data of the loaded files.
    sources: &'a DataSources<'a>,
}

fn resolve_class(
    scenario: &LoadedScenario,
    class: &UserClassDef,
    fleet: &FleetMap,
    options: &PlanOptions,
    sources: &DataSources<'_>,
    constants: &BTreeSet<String>,
) -> Result<ClassPlan, ScenarioError> {
    let at = format!("{}: user class {:?}", scenario.path.display(), class.name);
    let own: BTreeSet<String> = class
        .on_start
        .iter()
        .chain(class.tasks.iter().flat_map(|t| t.steps.iter()))
        .flat_map(|s| s.extract.keys().cloned())
        .collect();
    hooks::check_not_constants(&at, &own, constants)?;
    let ctx = Ctx {
        scenario,
        fleet,
        options,
        extracted: own.union(constants).cloned().collect(),
        sources,
    };
    let class_scope = sources.scope(scenario, &class.data)?;
    let no_consts = BTreeMap::new();
    let on_start: Vec<StepPlan> = class
        .on_start
        .iter()
        .enumerate()
        .map(|(i, s)| {
            ctx.step(
                s,
                None,
                &no_consts,
                &class_scope,
                &format!("{at}, on_start step {}", i + 1),
            )
        })
        .collect::<Result<_, _>>()?;
    let (tasks, dropped, uses) = ctx.tasks(class, &class_scope, &at)?;
    requires::check_requirements_survive(&at, &on_start, &tasks, &dropped, constants)?;
    Ok(ClassPlan {
        name: class.name.clone(),
        weight: class.weight,
        wait: class.wait,
        on_start,
        tasks,
        cookies: class.cookies,
        data: uses.uses(),
    })
}

/// A class's tasks after expansion: those kept by the tag filter, those dropped, and
/// the test data the class's users draw.
type ClassTasks<'a> = (Vec<TaskPlan>, Vec<TaskPlan>, DataScope<'a>);

impl<'a> Ctx<'a> {
    /// Expands and filters `class`'s tasks.
    fn tasks(
        &self,
        class: &UserClassDef,
        class_scope: &DataScope<'a>,
        at: &str,
    ) -> Result<ClassTasks<'a>, ScenarioError> {
        let (scenario, options) = (self.scenario, self.options);
        let mut tasks = Vec::new();
        let mut dropped = Vec::new();
        let mut uses = class_scope.clone();
        for (i, task) in class.tasks.iter().enumerate() {
            let task_at = format!("{at}, task {:?}", task_name(task, i));
            let scope = class_scope.with(&self.sources.scope(scenario, &task.data)?, &task_at)?;
            let before = tasks.len();
            for expanded in self.expand(task, i, &class.tags, &scope, &task_at)? {
                if expanded.weight > 0
                    && passes_tags(&expanded.tags, &options.tags, &options.exclude_tags)
                {
                    tasks.push(expanded);
                } else {
                    dropped.push(expanded);
                }
            }
            if tasks.len() > before {
                uses = uses.with(&scope, &task_at)?;
            }
        }
        Ok((tasks, dropped, uses))
    }

    fn expand(
        &self,
        task: &TaskDef,
        index: usize,
        class_tags: &[String],
        scope: &DataScope<'_>,
        at: &str,
    ) -> Result<Vec<TaskPlan>, ScenarioError> {
        let base_tags: Vec<String> = task.tags.iter().chain(class_tags).cloned().collect();
        if !task.for_each_agent {
            let steps = self.steps(task, None, &BTreeMap::new(), scope, at)?;
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
            return Err(invalid(
                at,
                "for_each_agent matches no agent of the fleet map".into(),
            ));
        }
        agents
            .into_iter()
            .map(|agent| {
                let consts = BTreeMap::from([("agent".to_owned(), agent.name.clone())]);
                let steps = self.steps(task, Some(agent), &consts, scope, at)?;
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
        scope: &DataScope<'_>,
        at: &str,
    ) -> Result<Vec<StepPlan>, ScenarioError> {
        for var in &task.requires {
            if !self.extracted.contains(var) {
                return Err(invalid(
                    at,
                    format!("requires `{var}`, but no step of the class extracts it"),
                ));
            }
        }
        task.steps
            .iter()
            .enumerate()
            .map(|(j, s)| self.step(s, agent, consts, scope, &format!("{at}, step {}", j + 1)))
            .collect()
    }

    fn step(
        &self,
        step: &StepDef,
        default_agent: Option<&Agent>,
        consts: &BTreeMap<String, String>,
        scope: &DataScope<'_>,
        at: &str,
    ) -> Result<StepPlan, ScenarioError> {
        let tmpl = |e: TemplateError| invalid(at, e.to_string());
        let (base_url, target) = self.target(step, default_agent, at)?;
        let path = Template::compile(&step.path, consts).map_err(tmpl)?;
        let name = match &step.name {
            Some(name) => Template::compile(name, consts)
                .map_err(tmpl)?
                .display_pattern(),
            None => match &target {
                Some(agent) => format!("{agent} {}", path.display_pattern()),
                None => path.display_pattern(),
            },
        };
        let headers = step
            .headers
            .iter()
            .map(|(k, v)| Ok((k.clone(), Template::compile(v, consts).map_err(tmpl)?)))
            .collect::<Result<Vec<_>, ScenarioError>>()?;
        let body = step_body(step, consts, at)?;
        let timeout = match &step.timeout {
            Some(t) => parse_duration(t).map_err(|e| invalid(at, e.to_string()))?,
            None => self.options.default_timeout,
        };
        let plan = StepPlan {
            method: http_method(&step.method).unwrap_or("GET").to_owned(),
            base_url,
            path,
            name,
            kind: step.kind,
            headers,
            body,
            expect_status: step.expect_status.clone(),
            checks: step_checks(step, consts, at)?,
            extract: step
                .extract
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            timeout_ms: u64::try_from(timeout.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
            follow_redirects: step.follow_redirects,
        };
        self.check_vars(&plan, scope, at)?;
        Ok(plan)
    }

    /// The step's base URL and, for agent steps, the agent's name.
    fn target(
        &self,
        step: &StepDef,
        default_agent: Option<&Agent>,
        at: &str,
    ) -> Result<(String, Option<String>), ScenarioError> {
        if let Some(url) = &step.url {
            return Ok((url.get_ref().trim_end_matches('/').to_owned(), None));
        }
        let name = match (&step.agent, default_agent) {
            (Some(name), _) => name.get_ref().clone(),
            (None, Some(agent)) => agent.name.clone(),
            (None, None) => {
                return Err(invalid(at, "needs `agent` or `url`".into()));
            }
        };
        let base = self
            .fleet
            .base_url(&name, &self.options.host)
            .map_err(|e| {
                let location = step.agent.as_ref().map_or_else(
                    || at.to_owned(),
                    |a| format!("{} ({at})", self.scenario.locate(a.span().start)),
                );
                ScenarioError::Invalid {
                    location,
                    detail: e.to_string(),
                }
            })?;
        let canonical = self.fleet.get(&name).map_or(name, |a| a.name.clone());
        Ok((base, Some(canonical)))
    }

    fn check_vars(
        &self,
        step: &StepPlan,
        scope: &DataScope<'_>,
        at: &str,
    ) -> Result<(), ScenarioError> {
        let mut used: BTreeSet<String> = step.path.vars().map(str::to_owned).collect();
        for (_, header) in &step.headers {
            used.extend(header.vars().map(str::to_owned));
        }
        match &step.body {
            Body::Json(json) => json.collect_vars(&mut used),
            Body::Text(text) => used.extend(text.vars().map(str::to_owned)),
            Body::Empty => {}
        }
        for var in &used {
            scope.check_field(var, at)?;
        }
        match used
            .iter()
            .find(|v| !self.extracted.contains(*v) && !scope.provides(v))
        {
            Some(var) => Err(invalid(
                at,
                format!(
                    "template uses `{var}`, which no step of this user class extracts (known: {})",
                    if self.extracted.is_empty() {
                        "none".to_owned()
                    } else {
                        self.extracted
                            .iter()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
            )),
            None => Ok(()),
        }
    }
}

fn invalid(at: &str, detail: String) -> ScenarioError {
    ScenarioError::invalid(at, detail)
}

mod body;
mod hooks;
mod requires;
mod scope;

pub use hooks::Hooks;

#[cfg(test)]
mod tests;
