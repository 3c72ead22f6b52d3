//! [`RunParams`]: what one run asks for, beside the settings every run shares.

use std::time::Duration;

use lv_common::load::LoadShape;

/// What a start or an edit asks for, already checked against the scenarios.
#[derive(Debug, Clone, PartialEq)]
pub struct RunParams {
    /// Target users.
    pub users: u32,
    /// Users started per second over all workers.
    pub spawn_rate: f64,
    /// Scheme and host agents are reached at; `None` keeps the current one.
    pub host: Option<String>,
    /// Run time from now; `None` runs until stopped.
    pub run_time: Option<Duration>,
    /// User classes to run (empty: all).
    pub classes: Vec<String>,
    /// Only tasks with one of these tags (empty: all).
    pub tags: Vec<String>,
    /// No task with any of these tags.
    pub exclude_tags: Vec<String>,
    /// Profile the fields were filled from, if any.
    pub profile: Option<String>,
    /// The load shape of this run, instead of the settings' (`--rate`, `--shape`): each
    /// step of a capacity search has its own. `None` keeps the settings'.
    pub shape: Option<LoadShape>,
}
