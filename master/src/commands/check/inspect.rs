//! What `lv-master check` shows of a resolved plan, computed (pure): each class's share of
//! the users, each task's ratio within its class and of all task runs (Locust's
//! `--show-task-ratio` numbers), the endpoints of its steps, its tags, and the variables it
//! needs with the steps that extract them.

use std::collections::BTreeMap;
use std::sync::Arc;

use lv_common::data::DataTable;
use lv_common::kind::SloKind;
use lv_common::plan::{Body, ClassPlan, Plan, StepPlan, TaskPlan};
use lv_common::quota;
use lv_common::wait::WaitRule;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::config::resolve::Hooks;

/// The plan of a check, as printed (text) or written (`--json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanView {
    /// `closed` (users) or `open` (arrivals per second).
    pub model: &'static str,
    /// Users of the run (`-u`, or a closed shape's peak); `None` in the open model.
    pub users: Option<u32>,
    /// Scheme and host agent ports are added to.
    pub host: String,
    /// `--tags`.
    pub tags: Vec<String>,
    /// `--exclude-tags`.
    pub exclude_tags: Vec<String>,
    /// The classes that run, in plan order.
    pub classes: Vec<ClassView>,
    /// Parts of the plan beyond classes and tasks (see [`extra_sections`]).
    pub sections: Vec<Section>,
    /// Remarks a run would log (classes left out, ...).
    pub notes: Vec<String>,
    /// Locust's `--show-task-ratio-json` document: `per_class` and `total`.
    pub task_ratio: Value,
}

/// A user class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassView {
    /// Class name.
    pub name: String,
    /// Where it is defined (`file:line`).
    pub defined_at: String,
    /// Its weight.
    pub weight: u32,
    /// Its users for the run's `-u` (the master's split); `None` in the open model.
    pub users: Option<u32>,
    /// Its share of the users (of the arrivals in the open model), 0 to 1: Locust's class
    /// ratio.
    pub ratio: f64,
    /// Pause after each task.
    pub wait: WaitRule,
    /// Steps run once per user.
    pub on_start: Vec<StepView>,
    /// Its tasks.
    pub tasks: Vec<TaskView>,
}

/// A task of a class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskView {
    /// Task name (`health [ATLAS]` for one expanded over the fleet).
    pub name: String,
    /// Its weight.
    pub weight: u32,
    /// Its share of its class's task runs, 0 to 1.
    pub ratio: f64,
    /// Its share of all task runs: the class's ratio times `ratio` (Locust's total).
    pub total_ratio: f64,
    /// Its tags (task, class and agent tags): `--tags` with any of them selects it.
    pub tags: Vec<String>,
    /// Variables that must be extracted before the task is picked.
    pub requires: Vec<VarView>,
    /// Variables its templates read.
    pub uses: Vec<VarView>,
    /// Its request steps.
    pub steps: Vec<StepView>,
}

/// A request step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepView {
    /// HTTP method.
    pub method: String,
    /// Stats name.
    pub name: String,
    /// Base URL and path, dynamic parts as `{what}`.
    pub url: String,
    /// SLO kind.
    pub kind: Option<SloKind>,
    /// Variables it extracts.
    pub extracts: Vec<String>,
}

/// A variable a task needs, and the steps that extract it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VarView {
    /// Variable name.
    pub name: String,
    /// `class / task / step N (stats name)` of each step extracting it.
    pub extracted_by: Vec<String>,
}

/// A titled list beside the classes: where data sources and setup/teardown steps go.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    /// Key of the section in the JSON document (`data`).
    pub key: &'static str,
    /// Heading in the text (`Data sources`).
    pub title: &'static str,
    /// One line of text per item.
    pub lines: Vec<String>,
    /// The same items as JSON.
    pub items: Vec<Value>,
}

/// Everything a check shows besides the plan itself.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Users of a closed-model run; `None` for the open model.
    pub users: Option<u32>,
    /// The run's host.
    pub host: String,
    /// `--tags`.
    pub tags: Vec<String>,
    /// `--exclude-tags`.
    pub exclude_tags: Vec<String>,
    /// `file:line` of each class, by name.
    pub defined_at: BTreeMap<String, String>,
    /// Remarks of the resolution.
    pub notes: Vec<String>,
    /// The test data the plan's classes use.
    pub data: Vec<Arc<DataTable>>,
    /// The setup and teardown steps.
    pub hooks: Hooks,
}

/// The view of `plan` in `context`.
pub fn view(plan: &Plan, context: &Context) -> PlanView {
    let users = class_users(plan, context.users);
    let ratios = class_ratios(plan, context.users);
    let classes: Vec<ClassView> = plan
        .classes
        .iter()
        .zip(&ratios)
        .enumerate()
        .map(|(i, (class, &ratio))| ClassView {
            name: class.name.clone(),
            defined_at: context
                .defined_at
                .get(&class.name)
                .cloned()
                .unwrap_or_default(),
            weight: class.weight,
            users: users.as_ref().map(|u| u[i]),
            ratio,
            wait: class.wait,
            on_start: class.on_start.iter().map(step_view).collect(),
            tasks: task_views(class, ratio, context),
        })
        .collect();
    PlanView {
        model: if context.users.is_some() {
            "closed"
        } else {
            "open"
        },
        users: context.users,
        host: context.host.clone(),
        tags: context.tags.clone(),
        exclude_tags: context.exclude_tags.clone(),
        task_ratio: locust_ratios(&classes),
        classes,
        sections: extra_sections(plan, context),
        notes: context.notes.clone(),
    }
}

/// The parts of the plan listed after the classes: its data sources (`[[data]]`) and the
/// setup and teardown steps, each a [`Section`] when there are any.
pub fn extra_sections(plan: &Plan, context: &Context) -> Vec<Section> {
    let mut sections = Vec::new();
    if !context.data.is_empty() {
        sections.push(data_section(plan, &context.data));
    }
    for (key, title, steps) in [
        (
            "setup",
            "Setup (once per run, before any user starts)",
            &context.hooks.setup,
        ),
        (
            "teardown",
            "Teardown (once per run, after the last user stopped)",
            &context.hooks.teardown,
        ),
    ] {
        if steps.is_empty() {
            continue;
        }
        let views: Vec<StepView> = steps.iter().map(step_view).collect();
        sections.push(Section {
            key,
            title,
            lines: views.iter().map(step_line).collect(),
            items: views
                .iter()
                .filter_map(|v| serde_json::to_value(v).ok())
                .collect(),
        });
    }
    sections
}

/// Each data source: its rows and fields, its mode and the classes that draw from it.
fn data_section(plan: &Plan, tables: &[Arc<DataTable>]) -> Section {
    let mut lines = Vec::new();
    let mut items = Vec::new();
    for table in tables {
        let users: Vec<(&str, &str)> = plan
            .classes
            .iter()
            .flat_map(|c| {
                c.data
                    .iter()
                    .filter(|u| u.source == table.name)
                    .map(|u| (c.name.as_str(), u.mode.as_str()))
            })
            .collect();
        let mode = users.first().map_or("", |u| u.1);
        let classes: Vec<&str> = users.iter().map(|u| u.0).collect();
        lines.push(format!(
            "{}: {} rows, fields {}; {mode}, drawn by {}",
            table.name,
            table.rows(),
            table.fields.join(", "),
            classes.join(", ")
        ));
        items.push(serde_json::json!({
            "name": table.name,
            "rows": table.rows(),
            "fields": table.fields,
            "mode": mode,
            "classes": classes,
        }));
    }
    Section {
        key: "data",
        title: "Data sources",
        lines,
        items,
    }
}

/// A step as one line: `METHOD name -> URL extracts VARS`.
fn step_line(step: &StepView) -> String {
    let mut line = format!("{} {} -> {}", step.method, step.name, step.url);
    if !step.extracts.is_empty() {
        line.push_str(&format!(" extracts {}", step.extracts.join(", ")));
    }
    line
}

/// Users per class (plan order) for `users`, split as the master splits them; `None` in
/// the open model.
pub fn class_users(plan: &Plan, users: Option<u32>) -> Option<Vec<u32>> {
    let users = users?;
    let weights = plan.class_weights();
    let split = quota::split_classes(users, &weights);
    Some(
        plan.classes
            .iter()
            .map(|c| split.get(&c.name).copied().unwrap_or(0))
            .collect(),
    )
}

/// Each class's share (plan order), 0 to 1, as Locust's `get_ratio`: its users over all
/// users for `users`; by weight in the open model (arrivals pick a class by weight) and
/// when there are no users (Locust then counts as many users as the weights add up to).
pub fn class_ratios(plan: &Plan, users: Option<u32>) -> Vec<f64> {
    match (class_users(plan, users), users) {
        (Some(counts), Some(total)) if total > 0 => counts
            .iter()
            .map(|&c| f64::from(c) / f64::from(total))
            .collect(),
        _ => shares(plan.classes.iter().map(|c| c.weight)),
    }
}

/// Each weight over their sum (all 0 when the sum is 0).
pub fn shares(weights: impl Iterator<Item = u32> + Clone) -> Vec<f64> {
    let sum: u64 = weights.clone().map(u64::from).sum();
    weights
        .map(|w| {
            if sum == 0 {
                0.0
            } else {
                f64::from(w) / sum as f64
            }
        })
        .collect()
}

fn task_views(class: &ClassPlan, class_ratio: f64, context: &Context) -> Vec<TaskView> {
    let ratios = shares(class.tasks.iter().map(|t| t.weight));
    class
        .tasks
        .iter()
        .zip(ratios)
        .map(|(task, ratio)| TaskView {
            name: task.name.clone(),
            weight: task.weight,
            ratio,
            total_ratio: class_ratio * ratio,
            tags: task.tags.clone(),
            requires: task
                .requires
                .iter()
                .map(|v| var_view(class, v, context))
                .collect(),
            uses: used_vars(task)
                .into_iter()
                .map(|v| var_view(class, &v, context))
                .collect(),
            steps: task.steps.iter().map(step_view).collect(),
        })
        .collect()
}

fn step_view(step: &StepPlan) -> StepView {
    StepView {
        method: step.method.clone(),
        name: step.name.clone(),
        url: format!("{}{}", step.base_url, step.path.display_pattern()),
        kind: step.kind,
        extracts: step.extract.iter().map(|(v, _)| v.clone()).collect(),
    }
}

/// The variables the task's templates read (path, headers, body), sorted.
pub fn used_vars(task: &TaskPlan) -> Vec<String> {
    let mut used = std::collections::BTreeSet::new();
    for step in &task.steps {
        used.extend(step.path.vars().map(str::to_owned));
        for (_, header) in &step.headers {
            used.extend(header.vars().map(str::to_owned));
        }
        match &step.body {
            Body::Json(json) => json.collect_vars(&mut used),
            Body::Text(text) => used.extend(text.vars().map(str::to_owned)),
            Body::Empty => {}
        }
    }
    used.into_iter().collect()
}

/// `var` with every step of `class` that extracts it, or the setup step or the test data
/// that gives it.
fn var_view(class: &ClassPlan, var: &str, context: &Context) -> VarView {
    let mut by = Vec::new();
    for (i, step) in context.hooks.setup.iter().enumerate() {
        if step.extract.iter().any(|(v, _)| v == var) {
            by.push(format!(
                "setup step {} ({}), once per run",
                i + 1,
                step.name
            ));
        }
    }
    if let Some((source, _)) = var.split_once('.')
        && let Some(used) = class.data.iter().find(|u| u.source == source)
    {
        by.push(format!(
            "test data {source} ({}: a row per user)",
            used.mode.as_str()
        ));
    }
    let extracts = |step: &StepPlan| step.extract.iter().any(|(v, _)| v == var);
    for (i, step) in class.on_start.iter().enumerate() {
        if extracts(step) {
            by.push(format!(
                "{} / on_start step {} ({})",
                class.name,
                i + 1,
                step.name
            ));
        }
    }
    for task in &class.tasks {
        for (i, step) in task.steps.iter().enumerate() {
            if extracts(step) {
                by.push(format!(
                    "{} / {} / step {} ({})",
                    class.name,
                    task.name,
                    i + 1,
                    step.name
                ));
            }
        }
    }
    VarView {
        name: var.to_owned(),
        extracted_by: by,
    }
}

/// Locust's `--show-task-ratio-json` document for these classes: `{"per_class": {CLASS:
/// {"ratio": r, "tasks": {TASK: {"ratio": r}}}}, "total": {...}}`, the task ratios within
/// the class in `per_class` and of all task runs in `total`. Tasks of one name add up, as
/// in Locust.
pub fn locust_ratios(classes: &[ClassView]) -> Value {
    let part = |total: bool| {
        let mut out = Map::new();
        for class in classes {
            let mut tasks = Map::new();
            for task in &class.tasks {
                let ratio = if total { task.total_ratio } else { task.ratio };
                let before = tasks
                    .get(&task.name)
                    .and_then(|t| t["ratio"].as_f64())
                    .unwrap_or(0.0);
                tasks.insert(task.name.clone(), json!({ "ratio": before + ratio }));
            }
            out.insert(
                class.name.clone(),
                json!({ "ratio": class.ratio, "tasks": tasks }),
            );
        }
        Value::Object(out)
    };
    json!({ "per_class": part(false), "total": part(true) })
}

/// The wait rule as a person says it.
pub fn describe_wait(wait: &WaitRule) -> String {
    match *wait {
        _ if wait.is_zero() => "no wait".to_owned(),
        WaitRule::Between(lo, hi) => format!("between {lo} and {hi} s"),
        WaitRule::Constant(v) => format!("constant {v} s"),
        WaitRule::ConstantPacing(v) => format!("constant pacing {v} s"),
        WaitRule::ConstantThroughput(v) => format!("constant throughput {v} tasks/s"),
    }
}
