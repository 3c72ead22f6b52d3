//! Resolving: turns loaded scenario files into the plan a master ships to its workers, once,
//! on the master. User classes are picked by name, tasks filtered by tags, tasks over the
//! fleet expanded per agent, agents turned into base URLs, templates compiled and their
//! variables checked. A worker receives the result as JSON and needs no scenario file,
//! fleet map or host.

use std::collections::{BTreeMap, BTreeSet};

use lv_common::duration::parse_duration;
use lv_common::fleet::{Agent, FleetMap};
use lv_common::plan::{Body, ClassPlan, Plan, StepPlan, TaskPlan};
use lv_common::source::Key;
use lv_common::template::{JsonTemplate, Template};

mod checks;
mod filter;
mod hooks;
mod options;
mod scope;

use checks::step_checks;
pub use filter::passes_tags;
use filter::{
    check_classes, check_requirements_survive, join_or_none, not_run, nothing_left, unknown_tags,
};
pub use hooks::Hooks;
pub use options::{PlanOptions, Resolved};
use scope::{DataScope, DataSources};

use super::scenario::{
    LoadedScenario, Place, ScenarioError, StepDef, TaskDef, UserClassDef, http_method, task_name,
};

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
    let sources = DataSources::of(scenarios);
    let hooks = hooks_of(scenarios, fleet, options, &sources)?;
    let constants = hooks.constants();
    let mut classes = Vec::new();
    let mut notes = Vec::new();
    let mut carried = BTreeSet::new();
    for (scenario, index, class) in all {
        if !options.classes.is_empty() && !options.classes.contains(&class.name) {
            continue;
        }
        let ctx = Ctx {
            fleet,
            options,
            extracted: constants.clone(),
            sources: &sources,
            scope: DataScope::default(),
        };
        let (resolved, tags) = ctx.class(&Place::class(scenario, index), class, &constants)?;
        carried.extend(tags);
        match not_run(&resolved) {
            Some(note) => notes.push(note),
            None => classes.push(resolved),
        }
    }
    let unknown_tags = unknown_tags(&options.tags, &options.exclude_tags, &carried);
    notes.extend(unknown_tags.iter().map(|(flag, tag)| {
        format!("{flag} {tag}: no task of the chosen user classes carries this tag")
    }));
    if classes.is_empty() {
        return Err(nothing_left(
            &options.classes,
            &options.tags,
            &options.exclude_tags,
            &carried,
        ));
    }
    let tables = sources.used_by(&classes)?;
    Ok(Resolved {
        plan: Plan {
            classes,
            connection_per_user: options.connection_per_user,
            iterations: None,
        },
        notes,
        unknown_tags,
        tags: carried,
        tables,
        hooks,
    })
}

/// The setup and teardown steps of `scenarios`, resolved as a class's steps are (they use
/// no test data).
fn hooks_of(
    scenarios: &[LoadedScenario],
    fleet: &FleetMap,
    options: &PlanOptions,
    sources: &DataSources<'_>,
) -> Result<Hooks, ScenarioError> {
    hooks::resolve_hooks(scenarios, &|step, known, place| {
        let ctx = Ctx {
            fleet,
            options,
            extracted: known.clone(),
            sources,
            scope: DataScope::default(),
        };
        ctx.step(step, None, &BTreeMap::new(), place)
    })
}

/// What resolving a class's steps needs.
#[derive(Clone)]
struct Ctx<'a> {
    fleet: &'a FleetMap,
    options: &'a PlanOptions,
    /// Variables some step of the class extracts, and the setup's constants.
    extracted: BTreeSet<String>,
    /// The test data of the loaded files.
    sources: &'a DataSources<'a>,
    /// The test data the steps at hand may use.
    scope: DataScope<'a>,
}

impl<'a> Ctx<'a> {
    /// The class of `place` resolved, and every tag its tasks carry before filtering.
    fn class(
        &self,
        place: &Place<'_>,
        class: &UserClassDef,
        constants: &BTreeSet<String>,
    ) -> Result<(ClassPlan, BTreeSet<String>), ScenarioError> {
        let own: BTreeSet<String> = class
            .on_start
            .iter()
            .chain(class.tasks.iter().flat_map(|t| t.steps.iter()))
            .flat_map(|s| s.extract.keys().cloned())
            .collect();
        hooks::check_not_constants(&place.locate(&[]), &own, constants)?;
        let mut ctx = self.clone();
        ctx.extracted.extend(own);
        ctx.scope = self.sources.scope(place.scenario(), &class.data)?;
        let no_consts = BTreeMap::new();
        let on_start: Vec<StepPlan> = class
            .on_start
            .iter()
            .enumerate()
            .map(|(i, s)| ctx.step(s, None, &no_consts, &place.on_start(i)))
            .collect::<Result<_, _>>()?;
        let (tasks, dropped, carried, uses) = ctx.tasks(place, class)?;
        check_requirements_survive(place, class, &on_start, &tasks, &dropped, constants)?;
        let plan = ClassPlan {
            name: class.name.clone(),
            weight: class.weight,
            wait: class.wait,
            on_start,
            tasks: tasks.into_iter().map(|(_, t)| t).collect(),
            cookies: class.cookies,
            data: uses.uses(),
        };
        Ok((plan, carried))
    }

    /// Expands and filters `class`'s tasks: those kept (with their index), those dropped,
    /// every tag they carry, and the test data the class's users draw.
    fn tasks(
        &self,
        place: &Place<'_>,
        class: &UserClassDef,
    ) -> Result<ClassTasks<'a>, ScenarioError> {
        let mut tasks = Vec::new();
        let mut dropped = Vec::new();
        let mut carried = BTreeSet::new();
        let mut uses = self.scope.clone();
        for (i, task) in class.tasks.iter().enumerate() {
            let task_place = place.task(i, task);
            let at = task_place.locate(&[Key::Name("data")]);
            let mut ctx = self.clone();
            ctx.scope = self
                .scope
                .with(&self.sources.scope(place.scenario(), &task.data)?, &at)?;
            let before = tasks.len();
            for expanded in ctx.expand(task, i, &class.tags, &task_place)? {
                carried.extend(expanded.tags.iter().cloned());
                if expanded.weight > 0
                    && passes_tags(
                        &expanded.tags,
                        &self.options.tags,
                        &self.options.exclude_tags,
                    )
                {
                    tasks.push((i, expanded));
                } else {
                    dropped.push(expanded);
                }
            }
            if tasks.len() > before {
                uses = uses.with(&ctx.scope, &at)?;
            }
        }
        Ok((tasks, dropped, carried, uses))
    }
}

/// A class's tasks: kept (with their index), dropped, their tags, and its test data.
type ClassTasks<'a> = (
    Vec<(usize, TaskPlan)>,
    Vec<TaskPlan>,
    BTreeSet<String>,
    DataScope<'a>,
);

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
        for var in template.vars() {
            self.scope
                .check_field(var)
                .map_err(|e| place.error(keys, e))?;
        }
        if let Some(var) = template
            .vars()
            .find(|v| !self.extracted.contains(*v) && !self.scope.provides(v))
        {
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

#[cfg(test)]
mod tests;
