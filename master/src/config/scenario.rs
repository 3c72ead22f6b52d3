//! The scenario file format (`configs/scenarios/*.toml`) and its loader.
//!
//! Scenarios are data, not code: a file defines user classes (Locust's `HttpUser`) with
//! a weight, a wait rule, `on_start` steps and weighted, tagged tasks made of request
//! steps. This module only reads and checks the files; [`super::resolve`] resolves them
//! against the fleet map and the tag filters into what workers run. Every error names
//! the file, and the line where the TOML parser knows it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use super::data::{DataDef, read_data_files};

use lv_common::data::{DataMode, DataTable};
use lv_common::kind::SloKind;
use lv_common::source::{line_col, toml_error_line};
use lv_common::wait::WaitRule;

/// One scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// User classes, `[[user]]` tables.
    #[serde(rename = "user", default)]
    pub users: Vec<UserClassDef>,
    /// Test data files, `[[data]]` tables.
    #[serde(default)]
    pub data: Vec<DataDef>,
    /// Steps the master runs once per run before any user starts: `[[setup.step]]`.
    #[serde(default)]
    pub setup: HookDef,
    /// Steps the master runs once per run after the last user stopped: `[[teardown.step]]`.
    #[serde(default)]
    pub teardown: HookDef,
}

/// `[setup]` or `[teardown]`: request steps the master runs once per run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookDef {
    /// The steps, in order (`[[setup.step]]`, `[[teardown.step]]`).
    #[serde(rename = "step", default)]
    pub steps: Vec<StepDef>,
}

/// A user class: `[[user]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserClassDef {
    /// Class name, unique across all loaded files (`HealthCheckUser`).
    pub name: String,
    /// Relative share of users given to this class.
    #[serde(default = "one")]
    pub weight: u32,
    /// Pause after each task; no pause when absent.
    #[serde(default)]
    pub wait: WaitRule,
    /// Tags every task of the class carries.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Steps run once when a user starts, before its first task.
    #[serde(default)]
    pub on_start: Vec<StepDef>,
    /// Tasks, `[[user.task]]` tables.
    #[serde(rename = "task", default)]
    pub tasks: Vec<TaskDef>,
    /// Each user keeps a cookie jar across its tasks (RFC 6265), as a Locust user's
    /// session does; `false` sends only the cookies a step's headers give.
    #[serde(default = "yes")]
    pub cookies: bool,
    /// Test data its users draw a row of, by `[[data]]` name: `{ accounts = "unique" }`.
    #[serde(default)]
    pub data: BTreeMap<Spanned<String>, DataMode>,
}

/// A task: `[[user.task]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskDef {
    /// Name used in logs and errors (defaults to `task N`).
    pub name: Option<String>,
    /// Relative chance of being picked.
    #[serde(default = "one")]
    pub weight: u32,
    /// Tags for `--tags` / `--exclude-tags`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// User variables the task needs; until an earlier step extracted them all, the task
    /// is not picked (a follow-up needs a conversation first).
    #[serde(default)]
    pub requires: Vec<String>,
    /// Expand into one task per agent of the fleet map; the steps' default agent is that
    /// agent, `{{ agent }}` renders its name, and the task takes the agent's tags.
    #[serde(default)]
    pub for_each_agent: bool,
    /// With `for_each_agent`: only agents of these categories (all when empty).
    #[serde(default)]
    pub agent_categories: Vec<String>,
    /// Request steps, run in order: `[[user.task.step]]`.
    #[serde(rename = "step", default)]
    pub steps: Vec<StepDef>,
    /// Test data the task's steps use, by `[[data]]` name; a user draws its row when it
    /// starts, as for the class's.
    #[serde(default)]
    pub data: BTreeMap<Spanned<String>, DataMode>,
}

/// A request step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDef {
    /// Agent of the fleet map to send to (base URL from the map and `--host`).
    pub agent: Option<Spanned<String>>,
    /// Full base URL instead of an agent (`https://example.com`).
    pub url: Option<Spanned<String>>,
    /// HTTP method.
    #[serde(default = "get")]
    pub method: String,
    /// Path and query, a template (`/v1/events/{{ event_id }}/ack`).
    #[serde(default = "root")]
    pub path: String,
    /// Stats name (defaults to `AGENT path`, dynamic parts shown as `{var}`).
    pub name: Option<String>,
    /// SLO kind: health, event, chat or creative.
    pub kind: Option<SloKind>,
    /// Request headers; values are templates.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// JSON body; every string in it is a template.
    pub json: Option<toml::Value>,
    /// Raw text body, a template (excludes `json`).
    pub body: Option<String>,
    /// Statuses that count as success (default: any status below 400).
    #[serde(default)]
    pub expect_status: Vec<u16>,
    /// Checks on the JSON response.
    #[serde(default)]
    pub check: Vec<CheckDef>,
    /// User variable name to JSON pointer into the response (`/conversation_id`).
    #[serde(default)]
    pub extract: BTreeMap<String, String>,
    /// Per-request timeout (`30s`, `500ms`); default from the master.
    pub timeout: Option<String>,
    /// Follow redirects (301, 302, 303, 307, 308, up to 10); `false` records the
    /// redirect response itself.
    #[serde(default = "yes")]
    pub follow_redirects: bool,
}

/// A check on a JSON response; a failed check makes the request a failure.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckDef {
    /// JSON pointer into the response body (`/status`).
    pub pointer: String,
    /// The value the pointer must hold; when absent the pointer must merely exist.
    pub equals: Option<toml::Value>,
}

fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}
fn get() -> String {
    "GET".to_owned()
}
fn root() -> String {
    "/".to_owned()
}

/// A scenario file as loaded, with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    /// Path of the file.
    pub path: PathBuf,
    /// Its text, for locating later errors.
    pub text: String,
    /// Its content.
    pub file: ScenarioFile,
    /// Its `[[data]]` files, read, in the order of `file.data`.
    pub tables: Vec<Arc<DataTable>>,
}

impl LoadedScenario {
    /// `path:line` for a byte offset of this file.
    pub fn locate(&self, offset: usize) -> String {
        format!("{}:{}", self.path.display(), line_col(&self.text, offset).0)
    }
}

/// Why scenarios could not be loaded or resolved.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// A file or folder could not be read.
    #[error("cannot read scenario path {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A folder holds no `.toml` file.
    #[error("no scenario files (*.toml) in {0}")]
    EmptyFolder(PathBuf),
    /// A file is not valid scenario TOML.
    #[error("{location}: {detail}")]
    Syntax {
        /// `file:line`, or the file alone.
        location: String,
        /// The parser's message.
        detail: String,
    },
    /// A file parses but says something impossible.
    #[error("{location}: {detail}")]
    Invalid {
        /// `file:line`, or `file` plus the class/task/step.
        location: String,
        /// What is wrong.
        detail: String,
    },
    /// A user class named on the command line does not exist.
    #[error("unknown user class {name:?}; the scenarios define: {known}")]
    UnknownClass {
        /// The name given.
        name: String,
        /// Names that exist.
        known: String,
    },
    /// Nothing is left to run after class selection and tag filtering.
    #[error("nothing to run: {0}")]
    EmptyPlan(String),
}

impl ScenarioError {
    /// A file that says something impossible, at `at` (`file:line`, or the file and the
    /// class, task or step).
    pub fn invalid(at: &str, detail: String) -> ScenarioError {
        ScenarioError::Invalid {
            location: at.to_owned(),
            detail,
        }
    }
}

/// Loads scenario files; a folder contributes its `*.toml` files in name order.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<LoadedScenario>, ScenarioError> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| ScenarioError::Read {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            let mut found = toml_files_in(path)?;
            if found.is_empty() {
                return Err(ScenarioError::EmptyFolder(path.clone()));
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    let loaded = files
        .iter()
        .map(|p| load_file(p))
        .collect::<Result<Vec<_>, _>>()?;
    check_unique_classes(&loaded)?;
    check_unique_data(&loaded)?;
    Ok(loaded)
}

fn toml_files_in(dir: &Path) -> Result<Vec<PathBuf>, ScenarioError> {
    let read_err = |source| ScenarioError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            out.push(path);
        }
    }
    Ok(out)
}

/// Loads and checks one scenario file.
pub fn load_file(path: &Path) -> Result<LoadedScenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, text)
}

/// Parses and checks scenario text that came from `path`.
pub fn parse(path: &Path, text: String) -> Result<LoadedScenario, ScenarioError> {
    let file: ScenarioFile = toml::from_str(&text).map_err(|err| ScenarioError::Syntax {
        location: match toml_error_line(&text, &err) {
            Some(line) => format!("{}:{line}", path.display()),
            None => path.display().to_string(),
        },
        detail: err.message().to_owned(),
    })?;
    let mut loaded = LoadedScenario {
        path: path.to_owned(),
        text,
        file,
        tables: Vec::new(),
    };
    check_file(&loaded)?;
    loaded.tables = read_tables(&loaded)?;
    Ok(loaded)
}

fn check_file(loaded: &LoadedScenario) -> Result<(), ScenarioError> {
    let invalid = |location: String, detail: String| ScenarioError::Invalid { location, detail };
    let file = loaded.path.display();
    let hooks = [
        ("setup", &loaded.file.setup),
        ("teardown", &loaded.file.teardown),
    ];
    if loaded.file.users.is_empty()
        && loaded.file.data.is_empty()
        && hooks.iter().all(|(_, h)| h.steps.is_empty())
    {
        return Err(invalid(
            file.to_string(),
            "defines no [[user]] class (nor [[setup.step]] or [[teardown.step]])".into(),
        ));
    }
    for (which, hook) in hooks {
        for (i, step) in hook.steps.iter().enumerate() {
            check_step(loaded, step, &format!("{file}: {which} step {}", i + 1))?;
        }
    }
    for class in &loaded.file.users {
        let at = format!("{file}: user class {:?}", class.name);
        if class.name.trim().is_empty() {
            return Err(invalid(
                file.to_string(),
                "a [[user]] has an empty name".into(),
            ));
        }
        class.wait.validate().map_err(|d| invalid(at.clone(), d))?;
        if class.tasks.is_empty() {
            return Err(invalid(at, "has no [[user.task]]".into()));
        }
        for step in &class.on_start {
            check_step(loaded, step, &format!("{at}, on_start"))?;
        }
        for (i, task) in class.tasks.iter().enumerate() {
            let task_at = format!("{at}, task {:?}", task_name(task, i));
            if task.steps.is_empty() {
                return Err(invalid(task_at, "has no [[user.task.step]]".into()));
            }
            if !task.agent_categories.is_empty() && !task.for_each_agent {
                return Err(invalid(
                    task_at,
                    "agent_categories needs for_each_agent = true".into(),
                ));
            }
            for (j, step) in task.steps.iter().enumerate() {
                check_step(loaded, step, &format!("{task_at}, step {}", j + 1))?;
            }
        }
    }
    Ok(())
}

fn check_step(loaded: &LoadedScenario, step: &StepDef, at: &str) -> Result<(), ScenarioError> {
    let invalid = |detail: String| ScenarioError::Invalid {
        location: at.to_owned(),
        detail,
    };
    if step.agent.is_some() && step.url.is_some() {
        return Err(invalid("give either `agent` or `url`, not both".into()));
    }
    if let Some(url) = &step.url {
        let value = url.get_ref();
        if !(value.starts_with("http://") || value.starts_with("https://")) {
            return Err(ScenarioError::Invalid {
                location: loaded.locate(url.span().start),
                detail: format!("url {value:?} must start with http:// or https://"),
            });
        }
    }
    if step.json.is_some() && step.body.is_some() {
        return Err(invalid("give either `json` or `body`, not both".into()));
    }
    if !step.path.starts_with('/') {
        return Err(invalid(format!("path {:?} must start with '/'", step.path)));
    }
    if http_method(&step.method).is_none() {
        return Err(invalid(format!("unknown HTTP method {:?}", step.method)));
    }
    if let Some(bad) = step
        .expect_status
        .iter()
        .find(|s| !(100..=599).contains(*s))
    {
        return Err(invalid(format!(
            "expect_status {bad} is not an HTTP status"
        )));
    }
    for (var, pointer) in &step.extract {
        if !pointer.is_empty() && !pointer.starts_with('/') {
            return Err(invalid(format!(
                "extract {var} = {pointer:?}: a JSON pointer starts with '/'"
            )));
        }
    }
    for check in &step.check {
        if !check.pointer.is_empty() && !check.pointer.starts_with('/') {
            return Err(invalid(format!(
                "check pointer {:?}: a JSON pointer starts with '/'",
                check.pointer
            )));
        }
    }
    if let Some(timeout) = &step.timeout {
        lv_common::duration::parse_duration(timeout).map_err(|e| invalid(e.to_string()))?;
    }
    Ok(())
}

/// The method in upper case, when it is one lv sends.
pub fn http_method(method: &str) -> Option<&'static str> {
    const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    METHODS.into_iter().find(|m| m.eq_ignore_ascii_case(method))
}

/// The task's name, or `task N` (1-based) when it has none.
pub fn task_name(task: &TaskDef, index: usize) -> String {
    task.name
        .clone()
        .unwrap_or_else(|| format!("task {}", index + 1))
}

/// Reads the file's `[[data]]` files.
fn read_tables(loaded: &LoadedScenario) -> Result<Vec<Arc<DataTable>>, ScenarioError> {
    read_data_files(&loaded.file.data, &loaded.path, &loaded.text).map_err(|e| {
        ScenarioError::Invalid {
            location: e.location,
            detail: e.detail,
        }
    })
}

fn check_unique_data(loaded: &[LoadedScenario]) -> Result<(), ScenarioError> {
    let mut seen: BTreeMap<&str, String> = BTreeMap::new();
    for scenario in loaded {
        for def in &scenario.file.data {
            let here = scenario.locate(def.name.span().start);
            if let Some(first) = seen.insert(def.name.get_ref(), here.clone()) {
                return Err(ScenarioError::Invalid {
                    location: here,
                    detail: format!("data {:?} is also defined at {first}", def.name.get_ref()),
                });
            }
        }
    }
    Ok(())
}

fn check_unique_classes(loaded: &[LoadedScenario]) -> Result<(), ScenarioError> {
    let mut seen: BTreeMap<&str, &Path> = BTreeMap::new();
    for scenario in loaded {
        for class in &scenario.file.users {
            if let Some(first) = seen.insert(&class.name, &scenario.path) {
                return Err(ScenarioError::Invalid {
                    location: scenario.path.display().to_string(),
                    detail: format!(
                        "user class {:?} is also defined in {}",
                        class.name,
                        first.display()
                    ),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
