//! The coordinator's link to the web server: where snapshots go, where commands come
//! from, and what UI mode keeps between runs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::config::Settings;
use crate::live::control::Command;
use crate::live::snapshot::{Catalog, LiveEvent, RunRecord, Snapshot};

/// How the coordinator talks to the web server.
pub struct WebLink {
    /// Where snapshots are published.
    pub snapshots: watch::Sender<Arc<Snapshot>>,
    /// The start form's choices and the flags.
    pub catalog: Arc<Catalog>,
    /// UI mode: commands and what runs are made from; `None` for a headless run's read-only API.
    pub session: Option<Session>,
}

/// UI mode.
pub struct Session {
    /// Commands from the web server.
    pub commands: mpsc::Receiver<Command>,
    /// The settings each run's configuration is made from.
    pub settings: Arc<Settings>,
    /// Folder of the runs' reports.
    pub reports_dir: PathBuf,
    /// Start a run from the flags at once.
    pub autostart: bool,
    /// Exit this long after a run ends.
    pub autoquit: Option<Duration>,
}

/// What the coordinator keeps for the web.
pub(super) struct Web {
    pub(super) snapshots: watch::Sender<Arc<Snapshot>>,
    pub(super) catalog: Arc<Catalog>,
    pub(super) session: Option<Session>,
    pub(super) events: Vec<LiveEvent>,
    pub(super) runs: Arc<Vec<RunRecord>>,
    pub(super) run_time_s: Option<f64>,
    /// A run was started from the web (or autostart) and its reports are not written yet.
    pub(super) run_open: bool,
    /// When `--autoquit` ends the master.
    pub(super) quit_at: Option<Instant>,
}

impl Web {
    /// True in UI mode.
    pub(super) fn is_ui(&self) -> bool {
        self.session.is_some()
    }

    /// Takes the command receiver out (the run loop selects on it).
    pub(super) fn take_commands(&mut self) -> Option<mpsc::Receiver<Command>> {
        let session = self.session.as_mut()?;
        let (_, empty) = mpsc::channel(1);
        Some(std::mem::replace(&mut session.commands, empty))
    }

    pub(super) fn event(&mut self, unix_ms: i64, kind: &str, text: String) {
        self.events.push(LiveEvent {
            unix_ms,
            kind: kind.to_owned(),
            text,
        });
    }
}

/// The next command, or never when there is no receiver.
pub(super) async fn next_command(
    commands: &mut Option<mpsc::Receiver<Command>>,
) -> Option<Command> {
    match commands {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
