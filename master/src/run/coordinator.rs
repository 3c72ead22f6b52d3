//! Run control: the one task that owns the workers, the run's phase and its merged
//! stats. gRPC handlers only decode and forward [`Event`]s here.
//!
//! The state is in parts, each with its own fields and methods: the worker table
//! (`workers`: liveness, reports, shares), the run ledger (`ledger`: id, generation,
//! start, abort reason, below-target periods, outages), the open-model stripes (`open`),
//! the stage clock and closed-model targets (`stages`), the SLO rules that stop a run
//! early (`stop_rules`) and the link to the web (`link`).
//! The coordinator holds the phase and routes events, web commands and timer wake-ups
//! between the parts.
//!
//! Phases: waiting for the expected workers, running (assignments sent, rebalanced at
//! most once a tick when workers join or are lost), stopping (Stop sent, waiting for the
//! last reports), done (Shutdown sent).
//!
//! Every decision reads tokio's clock ([`Instant`]), so paused-time tests drive it; the
//! Unix ms stamps of reports come from one [`WallClock`] anchored when the coordinator is
//! made. `run` is a thin select loop over events, the shutdown and the periodic
//! wake-ups of `timers`; each is handled by a plain method that tests call directly
//! (see `testing`).

use std::sync::Arc;
use std::time::Duration;

use lv_common::pb::{self, master_message::Kind as MasterKind};

use lv_common::bounds::later;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::aggregate::RunStats;
use crate::config::MasterConfig;

use crate::report::summary::{BelowTarget, MasterOutage};
use crate::run::registry::{Outbound, Registry};
use crate::slo::abort::{AbortRecord, AbortWatch};

#[cfg(test)]
mod abort_tests;
mod assign;
mod begin;
mod clock;
mod data;
mod events;
mod hooks;
#[cfg(test)]
mod iterations_tests;
mod ledger;
mod link;
mod live;
mod liveness;
mod open;
mod resplit;
mod resume;
mod session;
mod setup;
mod stages;
mod stop_rules;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
mod timers;
mod workers;

pub use clock::WallClock;
use ledger::Ledger;
pub use link::{Session, WebLink};
use timers::{Timers, Wake};
use workers::WorkerTable;

/// What the gRPC side tells the coordinator.
#[derive(Debug)]
pub enum Event {
    /// A worker passed the Hello checks.
    Attached {
        /// Its Hello.
        hello: pb::Hello,
        /// Connection number.
        conn: u64,
        /// Its outbound stream.
        tx: Outbound,
    },
    /// A message from a worker.
    Message {
        /// Worker id.
        worker_id: String,
        /// Connection it came on.
        conn: u64,
        /// The message.
        message: Box<pb::WorkerMessage>,
    },
    /// A worker's stream ended.
    Detached {
        /// Worker id.
        worker_id: String,
        /// Connection that ended.
        conn: u64,
        /// Why.
        reason: String,
    },
}

/// A run far longer than any test: the safety net when no run time is set.
const NO_RUN_TIME: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// UI mode between runs.
    Idle,
    Waiting {
        since: Instant,
    },
    /// The setup steps run; no user yet.
    SettingUp,
    Running {
        ends: Option<Instant>,
    },
    Stopping {
        deadline: Instant,
    },
    /// The last user stopped; the teardown steps run.
    TearingDown,
    Done,
}

/// What a finished (or abandoned) run leaves behind.
pub struct RunResult {
    /// Run id.
    pub run_id: String,
    /// Merged stats.
    pub stats: RunStats,
    /// Workers at the end.
    pub workers: Registry,
    /// Start, Unix ms (0 when the run never started).
    pub started_unix_ms: i64,
    /// End, Unix ms.
    pub ended_unix_ms: i64,
    /// Why the run could not be carried out, if so.
    pub aborted: Option<String>,
    /// The abort rule that stopped the run early, if one did.
    pub stopped_by: Option<AbortRecord>,
    /// Periods below the user target after worker losses.
    pub below_target: Vec<BelowTarget>,
    /// Times a master died and this one resumed the run (`--resume`).
    pub outages: Vec<MasterOutage>,
    /// The configuration of the (last) run.
    pub config: Arc<MasterConfig>,
    /// The setup or teardown step that failed the run, and why.
    pub failed: Option<String>,
}

/// Owns the run.
pub struct Coordinator {
    config: Arc<MasterConfig>,
    plan_json: Vec<u8>,
    /// The resolved plan, shared with the snapshots.
    plan: Arc<lv_common::plan::Plan>,
    phase: Phase,
    /// The run's id, start and what happened to it.
    ledger: Ledger,
    workers: WorkerTable,
    stats: RunStats,
    /// Turns tokio instants into the Unix ms stamps of the reports.
    clock: WallClock,
    /// Snapshots for the web, and UI mode.
    web: Option<link::Web>,
    /// Open model: the schedule and the stripes (`None` in a closed run or before start).
    open: Option<open::OpenRun>,
    /// A run with a `[load]` shape: its stage clock and, in the closed model, the target
    /// changes (`None` without a shape or before start).
    staged: Option<stages::StagedRun>,
    /// The run's test data: which workers have the tables, which rows went where.
    data: data::DataLedger,
    /// The run's setup and teardown steps.
    hooks: hooks::HookState,
    /// The SLO rules that stop this run early (`None` when none does).
    abort_rules: Option<AbortWatch>,
    /// When they were last judged.
    abort_judged_at: Option<Instant>,
    /// When the users were last split, and whether a join or loss waits for the next tick.
    resplit: resplit::Resplit,
}

impl Coordinator {
    /// A coordinator for one run of `config`, stamping reports with the wall clock.
    pub fn new(config: Arc<MasterConfig>) -> Coordinator {
        Coordinator::with_clock(config, WallClock::starting_now())
    }

    /// A coordinator whose report stamps come from `clock`.
    pub fn with_clock(config: Arc<MasterConfig>, clock: WallClock) -> Coordinator {
        let plan_json = config.plan.to_json();
        let plan = Arc::new(config.plan.clone());
        let stats = RunStats::new(config.csv_full_history);
        let mut coordinator = Coordinator {
            config,
            plan_json,
            plan,
            phase: Phase::Waiting {
                since: Instant::now(),
            },
            ledger: Ledger::new(uuid::Uuid::new_v4().to_string()),
            workers: WorkerTable::new(),
            data: data::DataLedger::default(),
            stats,
            clock,
            web: None,
            open: None,
            staged: None,
            hooks: hooks::HookState::default(),
            abort_rules: None,
            abort_judged_at: None,
            resplit: resplit::Resplit::default(),
        };
        if let Some(checkpoint) = coordinator.config.resume.clone() {
            coordinator.resume(&checkpoint);
        }
        coordinator
    }

    /// Runs to the end: the run time passes, `shutdown` is cancelled, or the run fails.
    pub async fn run(
        mut self,
        mut events: mpsc::Receiver<Event>,
        shutdown: CancellationToken,
    ) -> RunResult {
        let span = tracing::info_span!("run", run_id = %self.ledger.run_id());
        let _enter = span.enter();
        if self.ledger.started().is_none() {
            info!(
                users = self.config.users,
                spawn_rate = self.config.spawn_rate,
                workers = self.config.expect_workers,
                "waiting for workers"
            );
        }
        let mut timers = Timers::new(&self.config);
        let mut stop_requested = false;
        let mut commands = self.web.as_mut().and_then(link::Web::take_commands);
        let mut shown = self.run_state();
        while !self.is_done() {
            let quit_at = self.web.as_ref().and_then(|w| w.quit_at);
            let stage_at = self.next_stage_at();
            // A worker's message changes the state only through the users it reports (or an
            // abort): the next tick, within 100 ms, publishes that, so that the O(workers)
            // state check is not paid for each of the thousands of messages a second.
            let mut from_worker = false;
            tokio::select! {
                Some(command) = link::next_command(&mut commands) => self.on_command(command),
                () = sleep_until_or_never(quit_at) => {
                    info!("--autoquit: exiting");
                    stop_requested = true;
                    self.phase = Phase::Done;
                }
                () = shutdown.cancelled(), if !stop_requested => {
                    stop_requested = true;
                    self.on_stop_request();
                }
                event = events.recv() => match event {
                    Some(event) => {
                        from_worker = matches!(event, Event::Message { .. });
                        self.on_event(event);
                    }
                    None => self.abort("the gRPC server stopped".into()),
                },
                wake = timers.next(stage_at) => self.on_wake(wake),
                result = hooks::finished(&mut self.hooks) => self.on_hook(result),
            }
            self.after_step(stop_requested);
            if !from_worker && self.run_state() != shown {
                shown = self.run_state();
                self.publish();
            }
        }
        self.finish()
    }

    /// The run is over: `run` returns once this holds.
    fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// Does the periodic job that is due.
    fn on_wake(&mut self, wake: Wake) {
        match wake {
            Wake::Stage => self.on_stage(),
            Wake::Tick => self.on_tick(),
            Wake::Heartbeat => self.on_heartbeat(),
            Wake::History => {
                if matches!(self.phase, Phase::Running { .. } | Phase::Stopping { .. }) {
                    let users = self.users_running();
                    self.stats.close_interval(self.clock.now_ms(), users);
                }
                self.publish();
            }
            Wake::Print => self.print_live(),
            Wake::Checkpoint => {
                if let Some(path) = self.config.checkpoint.clone() {
                    self.write_checkpoint(&path);
                }
            }
        }
    }

    fn on_stop_request(&mut self) {
        match self.phase {
            Phase::Waiting { .. } => self.abort("stopped before the run started".into()),
            Phase::SettingUp => self.abort("stopped during the setup steps".into()),
            Phase::Idle => self.phase = Phase::Done,
            Phase::Running { .. } => {
                info!("stop requested");
                self.begin_stop();
            }
            Phase::Stopping { .. } | Phase::TearingDown | Phase::Done => {}
        }
    }

    fn abort(&mut self, reason: String) {
        self.ledger.abort(reason);
        match self.phase {
            Phase::Running { .. } => self.begin_stop(),
            // The load did start: teardown runs (or goes on) before the run is done.
            Phase::Stopping { .. } => self.stopped(),
            Phase::TearingDown => {}
            _ => {
                self.cancel_hook();
                self.phase = Phase::Done;
            }
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        match self.phase {
            Phase::Waiting { since } => {
                let active = self.workers.active();
                if active >= self.config.expect_workers {
                    self.start();
                } else if let Some(max) = self.config.expect_workers_max_wait
                    && now.duration_since(since) >= max
                {
                    self.abort(format!(
                        "only {active} of {} workers connected within {}",
                        self.config.expect_workers,
                        lv_common::duration::format_duration(max)
                    ));
                }
            }
            Phase::Running { ends } => {
                self.resplit_if_due();
                self.close_below_target();
                if ends.is_some_and(|end| now >= end) {
                    info!("run time reached");
                    self.begin_stop();
                } else if let Some(n) = self.iterations_finished() {
                    let reason = format!("all users finished their {n} iterations");
                    info!("{reason}");
                    self.web_event("iterations", reason);
                    self.begin_stop();
                } else if self.abort_rule_tripped(now) {
                    self.begin_stop();
                }
            }
            Phase::Stopping { deadline } => {
                // A worker away at the stop (missing, not yet lost) may come back with its last
                // report: wait for it until it is back or lost.
                let waiting = self.workers.awaiting_final();
                if waiting == 0 {
                    self.stopped();
                } else if now >= deadline {
                    warn!(
                        waiting,
                        "no final report from some workers within the stop timeout"
                    );
                    self.stopped();
                }
            }
            Phase::SettingUp | Phase::TearingDown | Phase::Done | Phase::Idle => {}
        }
    }

    fn begin_stop(&mut self) {
        info!("stopping the workers");
        let stop = MasterKind::Stop(pb::Stop {
            run_id: self.ledger.run_id().to_owned(),
        });
        self.workers.broadcast(&stop);
        self.phase = Phase::Stopping {
            deadline: later(Instant::now(), self.config.stop_timeout),
        };
    }

    fn finish(mut self) -> RunResult {
        let ended = self.clock.now_ms();
        let ui = self.web.as_ref().is_some_and(link::Web::is_ui);
        if self.ledger.started().is_some() && !ui {
            self.stats.close_interval(ended, 0);
        }
        self.publish();
        self.workers.shut_down();
        if let Some(open) = &self.open {
            self.stats.open.counts.lost = open.lost();
            self.stats.planned_arrivals = Some(open.planned());
        }
        let stopped_by = self.ledger.stopped_by().cloned();
        let (run_id, started_unix_ms, aborted, below_target, outages) = self.ledger.into_parts();
        RunResult {
            run_id,
            stats: self.stats,
            workers: self.workers.into_entries(),
            started_unix_ms,
            ended_unix_ms: ended,
            aborted,
            stopped_by,
            below_target,
            outages,
            config: self.config,
            failed: self.hooks.failure().map(str::to_owned),
        }
    }

    fn users_running(&self) -> u32 {
        self.workers.users_running()
    }

    /// Users running, plus those that ran their iterations (`-i`): the users the run has.
    fn users_present(&self) -> u32 {
        let finished = self.workers.users_finished();
        self.users_running().saturating_add(finished)
    }
}

/// Sleeps until `at`, or forever when `None`.
async fn sleep_until_or_never(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
