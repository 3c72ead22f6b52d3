//! What resolving takes (the class and tag filters, the host, defaults) and what it gives.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use lv_common::data::DataTable;
use lv_common::fleet::HostBase;
use lv_common::plan::Plan;

use super::hooks::Hooks;

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
    /// The test data the plan's classes use, once each.
    pub tables: Vec<Arc<DataTable>>,
    /// The setup and teardown steps the master runs itself.
    pub hooks: Hooks,
}
