//! The resolved plan: what a master ships to its workers in an Assignment.
//!
//! The master resolves scenario files into this once; a worker receives it as JSON and
//! needs no scenario file, fleet map or host.

use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};

use crate::data::DataUse;
use crate::kind::SloKind;
use crate::template::{JsonTemplate, Template};
use crate::wait::WaitRule;

mod bind;

/// Everything the workers run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// User classes left after selection and tag filtering.
    pub classes: Vec<ClassPlan>,
    /// Each user keeps its own connections (as Locust's sessions) instead of sharing the
    /// worker's.
    #[serde(default)]
    pub connection_per_user: bool,
    /// `-i/--iterations`: each user runs this many tasks, then leaves (absent: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<NonZeroU32>,
}

/// A user class, ready to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassPlan {
    /// Class name.
    pub name: String,
    /// Relative share of users.
    pub weight: u32,
    /// Pause after each task.
    pub wait: WaitRule,
    /// Steps run once per user before its first task.
    pub on_start: Vec<StepPlan>,
    /// Tasks that passed the tag filter (never empty).
    pub tasks: Vec<TaskPlan>,
    /// Each user keeps a cookie jar (on unless the class says `cookies = false`).
    #[serde(default = "yes")]
    pub cookies: bool,
    /// Test data its users draw a row of when they start, kept for their whole life.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<DataUse>,
}

/// A task, ready to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskPlan {
    /// Name for logs.
    pub name: String,
    /// Relative chance of being picked (> 0).
    pub weight: u32,
    /// Tags after expansion (task, class and agent tags).
    pub tags: Vec<String>,
    /// Variables that must be set before the task can be picked.
    pub requires: Vec<String>,
    /// Request steps in order.
    pub steps: Vec<StepPlan>,
}

/// A request, ready to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepPlan {
    /// HTTP method in upper case.
    pub method: String,
    /// `scheme://host[:port]` without a trailing slash.
    pub base_url: String,
    /// Path and query.
    pub path: Template,
    /// Stats name.
    pub name: String,
    /// SLO kind, when the scenario gave one.
    pub kind: Option<SloKind>,
    /// Request headers.
    pub headers: Vec<(String, Template)>,
    /// Request body.
    pub body: Body,
    /// Statuses that count as success; empty means any status below 400.
    pub expect_status: Vec<u16>,
    /// Checks on the JSON response.
    pub checks: Vec<Check>,
    /// Variable name and JSON pointer for each value to extract.
    pub extract: Vec<(String, String)>,
    /// Per-request timeout, milliseconds.
    pub timeout_ms: u64,
    /// Follow redirects (on unless the step says `follow_redirects = false`).
    #[serde(default = "yes")]
    pub follow_redirects: bool,
}

fn yes() -> bool {
    true
}

/// A request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// No body.
    Empty,
    /// A JSON body (sent with `content-type: application/json`).
    Json(JsonTemplate),
    /// A text body.
    Text(Template),
}

/// A check on the JSON response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// JSON pointer.
    pub pointer: String,
    /// Required value; `None` means the pointer must exist.
    pub equals: Option<serde_json::Value>,
}

/// Origins a user keeps connections to with `connection_per_user` (the least recently used
/// beyond this is closed), as Python requests' session keeps pools for 10 hosts.
pub const MAX_USER_ORIGINS: usize = 10;

impl ClassPlan {
    /// Distinct origins (scheme, host and port) its steps send to.
    pub fn origins(&self) -> usize {
        let mut bases: Vec<&str> = self
            .on_start
            .iter()
            .chain(self.tasks.iter().flat_map(|t| &t.steps))
            .map(|s| s.base_url.as_str())
            .collect();
        bases.sort_unstable();
        bases.dedup();
        bases.len()
    }
}

impl Plan {
    /// `(class name, weight)` pairs, in plan order, for quota splitting.
    pub fn class_weights(&self) -> Vec<(String, u32)> {
        self.classes
            .iter()
            .map(|c| (c.name.clone(), c.weight))
            .collect()
    }

    /// Serializes the plan for the wire.
    pub fn to_json(&self) -> Vec<u8> {
        // A plan holds only strings, numbers and JSON values: serializing cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a plan from the wire and checks what a worker relies on.
    pub fn from_json(bytes: &[u8]) -> Result<Plan, String> {
        let plan: Plan = serde_json::from_slice(bytes).map_err(|e| format!("plan: {e}"))?;
        for class in &plan.classes {
            class
                .wait
                .validate()
                .map_err(|e| format!("class {}: {e}", class.name))?;
            if class.tasks.is_empty() || class.tasks.iter().all(|t| t.weight == 0) {
                return Err(format!("class {} has no runnable task", class.name));
            }
        }
        Ok(plan)
    }
}
