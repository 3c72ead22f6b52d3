//! Setup and teardown, the coordinator's side: the steps the master runs itself, once per
//! run, on a task of their own while the run loop goes on (heartbeats, commands). Setup
//! runs when the run starts, before the first assignment: what it extracts is bound into
//! the plan the workers get. Teardown runs once the last user stopped (a normal end, a
//! stop, a failure after the load began). Their requests join the run's stats under rows
//! of their own (`setup: ...`, `teardown: ...`, no SLO kind); a failing step fails the run.

use std::sync::Arc;
use std::time::Duration;

use lv_common::stats::StatsSet;
use lv_common::wire::Report;
use lv_worker::http::HttpClient;
use lv_worker::once::{OnceOutcome, run_once};
use tokio::time::Instant;
use tracing::{error, info};

use super::hooks::{HookState, Running, Then, Which};
use super::{Coordinator, Phase};

/// Connect timeout of the hooks' requests (as a worker's default).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections the hooks' client may open (their steps run one at a time).
const CONNECTIONS: usize = 16;
/// The node the hooks' stats and exceptions are counted under.
const MASTER_NODE: &str = "master";

impl Coordinator {
    /// Starts the run: its setup steps first when it has any, else the load at once.
    pub(super) fn start(&mut self) {
        self.hooks = HookState::default();
        self.setup_then(Then::Load);
    }

    /// Runs the setup steps, then `then`; without setup steps, `then` at once.
    pub(super) fn setup_then(&mut self, then: Then) {
        if self.config.hooks.setup.is_empty() {
            self.after_setup(then);
            return;
        }
        info!(
            steps = self.config.hooks.setup.len(),
            "running the setup steps"
        );
        self.web_event("setup", "running the setup steps".into());
        self.spawn_hook(Which::Setup, then);
        self.phase = Phase::SettingUp;
    }

    /// The last user stopped: the teardown steps run when the run has any, else the run
    /// is done.
    pub(super) fn stopped(&mut self) {
        if self.config.hooks.teardown.is_empty() || self.ledger.started().is_none() {
            self.phase = Phase::Done;
            return;
        }
        info!(
            steps = self.config.hooks.teardown.len(),
            "running the teardown steps"
        );
        self.spawn_hook(Which::Teardown, Then::Load);
        self.phase = Phase::TearingDown;
    }

    /// Cancels the running hook, if any.
    pub(super) fn cancel_hook(&mut self) {
        if let Some(running) = self.hooks.running.take() {
            running.task.abort();
        }
    }

    fn spawn_hook(&mut self, which: Which, then: Then) {
        let steps = Arc::new(match which {
            Which::Setup => self.config.hooks.setup.clone(),
            Which::Teardown => self.config.hooks.teardown.clone(),
        });
        let vars = self.hooks.constants.clone();
        let tls = self.config.target_tls.clone();
        let task = tokio::spawn(async move {
            match HttpClient::with_tls(CONNECT_TIMEOUT, CONNECTIONS, &tls) {
                Ok(client) => run_once(&client, &steps, vars, which.label()).await,
                Err(err) => OnceOutcome {
                    failure: Some(format!("{}: {err}", which.label())),
                    ..OnceOutcome::default()
                },
            }
        });
        let now = Instant::now();
        self.hooks.running = Some(Running {
            which,
            then,
            started: (now, self.clock.unix_ms(now)),
            task,
        });
    }

    /// The running hook ended with `result`: its stats join the run's; then the load
    /// starts (setup), or the run is done (teardown, a failed setup).
    pub(super) fn on_hook(&mut self, result: Result<OnceOutcome, tokio::task::JoinError>) {
        let Some(running) = self.hooks.running.take() else {
            return;
        };
        let label = running.which.label();
        let outcome = result.unwrap_or_else(|err| OnceOutcome {
            failure: Some(format!("the {label} task failed: {err}")),
            ..OnceOutcome::default()
        });
        self.merge_hook_stats(running.started.1, outcome.stats);
        if let Some(failure) = outcome.failure {
            error!("{label} failed: {failure}");
            self.web_event(label, format!("{label} failed: {failure}"));
            self.hooks.failure.get_or_insert(failure);
            if running.which == Which::Setup {
                // No load started; the reports still show the setup's requests.
                self.ledger.start(running.started);
                self.phase = Phase::Done;
                return;
            }
        } else {
            info!("{label} done");
            self.web_event(label, format!("{label} done"));
        }
        match running.which {
            Which::Setup => {
                self.hooks.constants = outcome.vars;
                self.after_setup(running.then);
            }
            Which::Teardown => self.phase = Phase::Done,
        }
    }

    /// Binds the setup's constants into the plan the workers get, then goes on.
    fn after_setup(&mut self, then: Then) {
        if !self.hooks.constants.is_empty() {
            let bound = self.config.plan.bind(&self.hooks.constants);
            self.plan_json = bound.to_json();
            self.plan = Arc::new(bound);
        }
        match then {
            Then::Load => self.start_load(),
            Then::Resume(started, stages_start) => self.begin(started, stages_start),
        }
    }

    /// Merges a hook's requests into the run's stats, as a report of the master's.
    fn merge_hook_stats(&mut self, started_ms: i64, stats: StatsSet) {
        let report = Report {
            run_id: self.ledger.run_id().to_owned(),
            seq: 0,
            start_unix_ms: started_ms,
            end_unix_ms: self.clock.now_ms(),
            users_running: 0,
            stats,
            last: false,
            cut_off: 0,
            dropped_reports: 0,
            open: None,
            stage: 0,
        };
        self.stats.merge_report(MASTER_NODE, &report);
    }
}
