//! What the users of one class share: the class, its fixed requests, the client and the
//! recorder.

use std::sync::Arc;

use lv_common::plan::ClassPlan;

use super::fixed::{FixedSteps, Step, steps};
use crate::data::RunData;
use crate::http::HttpClient;
use crate::recorder::Recorder;

/// What a user needs to run.
#[derive(Clone, Debug)]
pub struct UserEnv {
    /// The class it belongs to.
    pub(super) class: Arc<ClassPlan>,
    /// The requests of the class's steps that have no dynamic part, encoded once.
    pub(super) fixed: Arc<FixedSteps>,
    /// The shared HTTP client.
    pub client: HttpClient,
    /// Where to record.
    pub recorder: Recorder,
    /// Keep connections of its own while it waits, instead of sharing the worker's.
    pub own_connections: bool,
    /// The run's test data, which users of a class that uses some draw a row of.
    pub data: Arc<RunData>,
}

impl UserEnv {
    /// The environment of users of `class`; encodes its fixed requests once.
    pub fn new(
        class: Arc<ClassPlan>,
        client: HttpClient,
        recorder: Recorder,
        own_connections: bool,
    ) -> UserEnv {
        let fixed = Arc::new(FixedSteps::new(&class, &client));
        UserEnv {
            class,
            fixed,
            client,
            recorder,
            own_connections,
            data: Arc::default(),
        }
    }

    /// The same environment, drawing test data from `data`.
    pub fn with_data(mut self, data: Arc<RunData>) -> UserEnv {
        self.data = data;
        self
    }

    /// The class its users belong to.
    pub fn class(&self) -> &Arc<ClassPlan> {
        &self.class
    }

    /// The class's `on_start` steps.
    pub(crate) fn on_start(&self) -> impl Iterator<Item = Step<'_>> {
        steps(&self.class.on_start, &self.fixed.on_start)
    }

    /// The steps of the class's task number `task` (none when there is no such task).
    pub(crate) fn task_steps(&self, task: usize) -> impl Iterator<Item = Step<'_>> {
        let plans = self.class.tasks.get(task).map_or(&[][..], |t| &t.steps);
        steps(
            plans,
            self.fixed.tasks.get(task).map_or(&[][..], Vec::as_slice),
        )
    }
}
