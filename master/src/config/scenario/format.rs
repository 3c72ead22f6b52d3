//! The scenario file format: what `[[user]]`, `[[user.task]]` and `[[user.task.step]]`
//! tables hold, as serde reads them (unknown keys are errors).

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use lv_common::data::DataMode;
use lv_common::kind::SloKind;

use crate::config::data::DataDef;
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
