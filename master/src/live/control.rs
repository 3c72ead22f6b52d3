//! The interface between the web server and the coordinator: commands, each with a oneshot
//! reply, and the latest [`Snapshot`] on a `watch` channel. The coordinator owns the runs;
//! the web side only asks and reads, so a slow client never blocks the coordinator.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};

pub use super::form::RunParams;
use super::form::SwarmForm;
use super::snapshot::Snapshot;

/// A request to the coordinator.
#[derive(Debug)]
pub enum Command {
    /// Start a new run (new run id) when none is going.
    Start(RunParams, Reply<Started>),
    /// Change the running test: users, spawn rate and the remaining run time.
    Edit(RunParams, Reply<Started>),
    /// A `/swarm` form: the coordinator checks it against its current settings and starts a
    /// run when none is going, else edits the running one, deciding from its own state so
    /// that concurrent calls cannot race.
    Swarm(SwarmForm, Reply<Started>),
    /// Stop the running test.
    Stop(Reply<()>),
    /// Reset the stats of the running (or last) test.
    Reset(Reply<()>),
}

/// Where the coordinator answers one command.
pub type Reply<T> = oneshot::Sender<Result<T, CommandError>>;

/// The answer to a start or an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The run's id.
    pub run_id: String,
    /// The host it runs against.
    pub host: String,
    /// True when the command changed a running test rather than starting one.
    pub edit: bool,
    /// The run time the command set, counted from now; `None` when it set none.
    pub run_time: Option<std::time::Duration>,
}

/// Why the coordinator refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The command does not fit the current state (e.g. an edit with no run going).
    #[error("{0}")]
    Conflict(String),
    /// The parameters are wrong (a field the form could not check alone).
    #[error("{0}")]
    Invalid(String),
    /// The coordinator is gone (the master is shutting down).
    #[error("the master is shutting down")]
    Gone,
}

/// The web side's handle on the coordinator.
#[derive(Debug, Clone)]
pub struct Control {
    commands: Option<mpsc::Sender<Command>>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
}

impl Control {
    /// A handle that can send commands (UI mode).
    pub fn new(commands: mpsc::Sender<Command>, snapshots: watch::Receiver<Arc<Snapshot>>) -> Self {
        Control {
            commands: Some(commands),
            snapshots,
        }
    }

    /// A handle that only reads snapshots (a headless run's read-only API).
    pub fn read_only(snapshots: watch::Receiver<Arc<Snapshot>>) -> Self {
        Control {
            commands: None,
            snapshots,
        }
    }

    /// True when commands cannot be sent at all.
    pub fn is_read_only(&self) -> bool {
        self.commands.is_none()
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshots.borrow())
    }

    /// A receiver of every later snapshot.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.snapshots.clone()
    }

    /// Sends a command built around its reply channel and waits for the answer.
    pub async fn ask<T>(&self, build: impl FnOnce(Reply<T>) -> Command) -> Result<T, CommandError> {
        let Some(commands) = &self.commands else {
            return Err(CommandError::Conflict(
                "read-only: this master runs headless".into(),
            ));
        };
        let (tx, rx) = oneshot::channel();
        commands
            .send(build(tx))
            .await
            .map_err(|_| CommandError::Gone)?;
        rx.await.map_err(|_| CommandError::Gone)?
    }
}
