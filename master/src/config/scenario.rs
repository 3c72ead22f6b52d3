//! The scenario file format (`configs/scenarios/*.toml`) and its loader.
//!
//! Scenarios are data, not code: a file defines user classes (Locust's `HttpUser`) with
//! a weight, a wait rule, `on_start` steps and weighted, tagged tasks made of request
//! steps. This module only reads and checks the files; [`super::resolve`] resolves them
//! against the fleet map and the tag filters into what workers run. Every error names
//! the file and line (through a [`SpanTree`] of the file: the typed content keeps no spans) and
//! the key, with the class, task and step it belongs to.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lv_common::data::DataTable;
use lv_common::source::{Key, SpanTree, line_col, toml_error_line};

use super::data::read_data_files;

mod format;
pub use format::{CheckDef, HookDef, ScenarioFile, StepDef, TaskDef, UserClassDef};

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
    /// Where each of its values is.
    pub spans: SpanTree,
}

impl LoadedScenario {
    /// `path:line` for a byte offset of this file.
    pub fn locate(&self, offset: usize) -> String {
        format!("{}:{}", self.path.display(), line_col(&self.text, offset).0)
    }

    /// `path:line` of the value at `keys` (or of its nearest table), else `path` alone.
    pub fn locate_key(&self, keys: &[Key<'_>]) -> String {
        match self.spans.line(&self.text, keys) {
            Some(line) => format!("{}:{line}", self.path.display()),
            None => self.path.display().to_string(),
        }
    }
}

/// A table of a scenario file (a user class, one of its `on_start` steps, a task, a step),
/// for error messages: its keys in the file, and how a message names it (`user class "U",
/// task "t", step 2`). An error at a key of it reads `FILE:LINE: user class "U", task "t",
/// step 2: `path`: what is wrong`, LINE being the key's (the table's when the key is
/// absent).
#[derive(Debug, Clone)]
pub struct Place<'a> {
    scenario: &'a LoadedScenario,
    keys: Vec<Key<'static>>,
    what: String,
}

impl<'a> Place<'a> {
    /// The `index`th `[[user]]` of `scenario`.
    pub fn class(scenario: &'a LoadedScenario, index: usize) -> Place<'a> {
        let name = scenario
            .file
            .users
            .get(index)
            .map_or("", |c| c.name.as_str());
        Place {
            scenario,
            keys: vec![Key::Name("user"), Key::Index(index)],
            what: format!("user class {name:?}"),
        }
    }

    /// The `index`th `[[setup.step]]` (`which` = "setup") or `[[teardown.step]]` of
    /// `scenario`.
    pub fn hook(scenario: &'a LoadedScenario, which: &'static str, index: usize) -> Place<'a> {
        Place {
            scenario,
            keys: vec![Key::Name(which), Key::Name("step"), Key::Index(index)],
            what: format!("{which} step {}", index + 1),
        }
    }

    fn child(&self, keys: [Key<'static>; 2], what: String) -> Place<'a> {
        let mut place = self.clone();
        place.keys.extend(keys);
        place.what = format!("{}, {what}", self.what);
        place
    }

    /// The `index`th `on_start` step of this class.
    pub fn on_start(&self, index: usize) -> Place<'a> {
        self.child(
            [Key::Name("on_start"), Key::Index(index)],
            format!("on_start step {}", index + 1),
        )
    }

    /// The `index`th task of this class.
    pub fn task(&self, index: usize, task: &TaskDef) -> Place<'a> {
        self.child(
            [Key::Name("task"), Key::Index(index)],
            format!("task {:?}", task_name(task, index)),
        )
    }

    /// The `index`th step of this task.
    pub fn step(&self, index: usize) -> Place<'a> {
        self.child(
            [Key::Name("step"), Key::Index(index)],
            format!("step {}", index + 1),
        )
    }

    /// The scenario file.
    pub fn scenario(&self) -> &'a LoadedScenario {
        self.scenario
    }

    /// `FILE:LINE: what` of the value at `keys` below this table.
    pub fn locate(&self, keys: &[Key<'_>]) -> String {
        let mut path: Vec<Key<'_>> = self.keys.clone();
        path.extend_from_slice(keys);
        format!("{}: {}", self.scenario.locate_key(&path), self.what)
    }

    /// The error `detail` at `keys` below this table (none: the table itself); the key is
    /// named in the message (`json.payload.id`; a last index is left out, the detail names
    /// the element).
    pub fn error(&self, keys: &[Key<'_>], detail: impl std::fmt::Display) -> ScenarioError {
        let label = key_label(keys);
        ScenarioError::Invalid {
            location: self.locate(keys),
            detail: if label.is_empty() {
                detail.to_string()
            } else {
                format!("`{label}`: {detail}")
            },
        }
    }
}

/// `json.events[2].type` for those keys; a trailing index is left out.
pub fn key_label(keys: &[Key<'_>]) -> String {
    let keys = match keys.split_last() {
        Some((Key::Index(_), rest)) => rest,
        _ => keys,
    };
    let mut out = String::new();
    for key in keys {
        match key {
            Key::Name(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Key::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
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
        spans: SpanTree::parse(&text),
        text,
        file,
        tables: Vec::new(),
    };
    check_file(&loaded)?;
    loaded.tables = read_tables(&loaded)?;
    Ok(loaded)
}

fn check_file(loaded: &LoadedScenario) -> Result<(), ScenarioError> {
    let hooks = [
        ("setup", &loaded.file.setup),
        ("teardown", &loaded.file.teardown),
    ];
    if loaded.file.users.is_empty()
        && loaded.file.data.is_empty()
        && hooks.iter().all(|(_, h)| h.steps.is_empty())
    {
        return Err(ScenarioError::Invalid {
            location: loaded.path.display().to_string(),
            detail: "defines no [[user]] class (nor [[data]], [[setup.step]] or [[teardown.step]])"
                .into(),
        });
    }
    for (which, hook) in hooks {
        for (i, step) in hook.steps.iter().enumerate() {
            check_step(&Place::hook(loaded, which, i), step)?;
        }
    }
    for (index, class) in loaded.file.users.iter().enumerate() {
        let place = Place::class(loaded, index);
        if class.name.trim().is_empty() {
            return Err(place.error(&[Key::Name("name")], "a [[user]] has an empty name"));
        }
        class
            .wait
            .validate()
            .map_err(|d| place.error(&[Key::Name("wait")], d))?;
        if class.tasks.is_empty() {
            return Err(place.error(&[], "has no [[user.task]]"));
        }
        for (i, step) in class.on_start.iter().enumerate() {
            check_step(&place.on_start(i), step)?;
        }
        for (i, task) in class.tasks.iter().enumerate() {
            let task_place = place.task(i, task);
            if task.steps.is_empty() {
                return Err(task_place.error(&[], "has no [[user.task.step]]"));
            }
            if !task.agent_categories.is_empty() && !task.for_each_agent {
                return Err(task_place.error(
                    &[Key::Name("agent_categories")],
                    "needs for_each_agent = true",
                ));
            }
            for (j, step) in task.steps.iter().enumerate() {
                check_step(&task_place.step(j), step)?;
            }
        }
    }
    Ok(())
}

fn check_step(place: &Place<'_>, step: &StepDef) -> Result<(), ScenarioError> {
    use Key::Name;
    if step.agent.is_some() && step.url.is_some() {
        return Err(place.error(&[Name("url")], "give either `agent` or `url`, not both"));
    }
    if let Some(url) = &step.url {
        let value = url.get_ref();
        if !(value.starts_with("http://") || value.starts_with("https://")) {
            return Err(place.error(
                &[Name("url")],
                format!("{value:?} must start with http:// or https://"),
            ));
        }
    }
    if step.json.is_some() && step.body.is_some() {
        return Err(place.error(&[Name("body")], "give either `json` or `body`, not both"));
    }
    if !step.path.starts_with('/') {
        return Err(place.error(
            &[Name("path")],
            format!("{:?} must start with '/'", step.path),
        ));
    }
    if http_method(&step.method).is_none() {
        return Err(place.error(
            &[Name("method")],
            format!("unknown HTTP method {:?}", step.method),
        ));
    }
    if let Some((i, bad)) = step
        .expect_status
        .iter()
        .enumerate()
        .find(|(_, s)| !(100..=599).contains(*s))
    {
        return Err(place.error(
            &[Name("expect_status"), Key::Index(i)],
            format!("{bad} is not an HTTP status"),
        ));
    }
    check_pointers(place, step)?;
    if let Some(timeout) = &step.timeout {
        lv_common::duration::parse_duration(timeout)
            .map_err(|e| place.error(&[Name("timeout")], e))?;
    }
    Ok(())
}

/// The JSON pointers of `extract` and `check` start with '/' (or are empty: the whole body).
fn check_pointers(place: &Place<'_>, step: &StepDef) -> Result<(), ScenarioError> {
    use Key::Name;
    for (var, pointer) in &step.extract {
        if !pointer.is_empty() && !pointer.starts_with('/') {
            return Err(place.error(
                &[Name("extract"), Name(var)],
                format!("{pointer:?}: a JSON pointer starts with '/'"),
            ));
        }
    }
    for (i, check) in step.check.iter().enumerate() {
        if !check.pointer.is_empty() && !check.pointer.starts_with('/') {
            return Err(place.error(
                &[Name("check"), Key::Index(i), Name("pointer")],
                format!("{:?}: a JSON pointer starts with '/'", check.pointer),
            ));
        }
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
    let mut seen: BTreeMap<&str, String> = BTreeMap::new();
    for scenario in loaded {
        for (index, class) in scenario.file.users.iter().enumerate() {
            let at =
                scenario.locate_key(&[Key::Name("user"), Key::Index(index), Key::Name("name")]);
            if let Some(first) = seen.get(class.name.as_str()) {
                return Err(ScenarioError::Invalid {
                    location: at,
                    detail: format!(
                        "user class {:?} is also defined at {first}; class names are unique across the scenario files",
                        class.name
                    ),
                });
            }
            seen.insert(&class.name, at);
        }
    }
    Ok(())
}

/// Every user class of `scenarios` with where its name is (`file:line`), in load order.
pub fn class_locations(scenarios: &[LoadedScenario]) -> Vec<(&str, String)> {
    scenarios
        .iter()
        .flat_map(|s| {
            s.file.users.iter().enumerate().map(move |(i, class)| {
                let at = s.locate_key(&[Key::Name("user"), Key::Index(i), Key::Name("name")]);
                (class.name.as_str(), at)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
