//! The coordinator's link to the web server: where snapshots go, where commands come
//! from, and what UI mode keeps between runs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lv_common::bounds::later;
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
    /// Print no final tables when a run ends (its reports are still written).
    pub quiet: bool,
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
    /// What `link` becomes, the run time shown being `run_time_s`.
    pub(super) fn new(link: WebLink, run_time_s: Option<f64>) -> Web {
        Web {
            snapshots: link.snapshots,
            catalog: link.catalog,
            session: link.session,
            events: Vec::new(),
            runs: Arc::new(Vec::new()),
            run_time_s,
            run_open: false,
            quit_at: None,
        }
    }

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

    /// A run started from the web at `now_ms`, lasting `run_time_s`: the events start
    /// afresh with its `start` event saying `text`.
    pub(super) fn run_started(&mut self, now_ms: i64, run_time_s: Option<f64>, text: String) {
        self.events.clear();
        self.run_time_s = run_time_s;
        self.run_open = true;
        self.quit_at = None;
        self.event(now_ms, "start", text);
    }

    /// The running test was edited at `now_ms` to last `run_time_s` in all.
    pub(super) fn run_edited(&mut self, now_ms: i64, run_time_s: Option<f64>, text: String) {
        self.run_time_s = run_time_s;
        self.event(now_ms, "edit", text);
    }

    /// The run ended at `ended_ms` with `verdict`; `record` heads the runs page, and with
    /// `--autoquit` the master exits that long after `now`.
    pub(super) fn run_over(
        &mut self,
        record: RunRecord,
        ended_ms: i64,
        verdict: &str,
        now: Instant,
    ) {
        let mut runs = vec![record];
        runs.extend(self.runs.iter().cloned());
        self.runs = Arc::new(runs);
        self.run_open = false;
        self.event(ended_ms, "stop", format!("run over: {verdict}"));
        self.quit_at = self
            .session
            .as_ref()
            .and_then(|s| s.autoquit)
            .map(|after| later(now, after));
    }

    /// The run never started (its workers did not come): with `--autoquit`, the master
    /// exits at `now`.
    pub(super) fn run_abandoned(&mut self, now: Instant) {
        self.run_open = false;
        let autoquit = self.session.as_ref().and_then(|s| s.autoquit);
        self.quit_at = autoquit.map(|_| now);
    }

    /// Records a run event for the charts.
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
