//! What the run's setup and teardown steps (the steps the master runs itself, once per
//! run) leave in the coordinator: the task running them, the constants setup extracted and
//! the failure of a step. The coordinator's side is `setup`.

use lv_common::template::UserVars;
use lv_worker::once::OnceOutcome;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Which steps run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Which {
    /// Before any user starts.
    Setup,
    /// After the last user stopped.
    Teardown,
}

impl Which {
    /// `setup` or `teardown`, the prefix of its rows.
    pub(super) fn label(self) -> &'static str {
        match self {
            Which::Setup => "setup",
            Which::Teardown => "teardown",
        }
    }
}

/// What follows a successful setup.
#[derive(Debug, Clone, Copy)]
pub(super) enum Then {
    /// Start the load now.
    Load,
    /// Go on with the resumed run that started at the first instant, its stages at the
    /// second (tokio's clock, Unix ms).
    Resume((Instant, i64), (Instant, i64)),
}

/// Steps running on their task.
pub(super) struct Running {
    /// Which steps.
    pub(super) which: Which,
    /// What follows a successful setup.
    pub(super) then: Then,
    /// When they started (tokio's clock, Unix ms).
    pub(super) started: (Instant, i64),
    /// The task.
    pub(super) task: JoinHandle<OnceOutcome>,
}

/// The hooks of the current run.
#[derive(Default)]
pub(super) struct HookState {
    /// The steps running now, if any.
    pub(super) running: Option<Running>,
    /// What setup extracted: the run's constants.
    pub(super) constants: UserVars,
    /// The step that failed the run, and why.
    pub(super) failure: Option<String>,
}

impl HookState {
    /// Why a hook failed the run, if one did.
    pub(super) fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }
}

/// The outcome of the running hook (never, when none runs).
pub(super) async fn finished(hooks: &mut HookState) -> Result<OnceOutcome, tokio::task::JoinError> {
    match hooks.running.as_mut() {
        Some(running) => (&mut running.task).await,
        None => std::future::pending().await,
    }
}
