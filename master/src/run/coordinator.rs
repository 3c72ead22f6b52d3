//! Run control: the one task that owns the workers, the run's phase and its merged
//! stats. gRPC handlers only decode and forward [`Event`]s here.
//!
//! Phases: waiting for the expected workers, running (assignments sent, rebalanced
//! when workers join or are lost), stopping (Stop sent, waiting for the last reports),
//! done (Shutdown sent).
//!
//! Every decision reads tokio's clock ([`Instant`]), so paused-time tests drive it; the
//! Unix ms stamps of reports come from one [`WallClock`] anchored when the coordinator is
//! made. `run` is a thin select loop over events, the shutdown and the periodic
//! wake-ups of `timers`; each is handled by a plain method that tests call directly
//! (see `testing`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use lv_common::pb::{self, master_message::Kind as MasterKind, worker_message::Kind as WorkerKind};

use lv_common::bounds::later;
use lv_common::wire::Report;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tracing::{debug, info, warn};

use crate::aggregate::RunStats;
use crate::config::MasterConfig;

use crate::report::summary::{BelowTarget, MasterOutage};
use crate::run::registry::{Outbound, Registry, WorkerEntry, WorkerState};

mod assign;
mod clock;
mod link;
mod live;
mod liveness;
mod open;
mod resume;
mod session;
mod stages;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
mod timers;

pub use clock::WallClock;
pub use link::{Session, WebLink};
use timers::{Timers, Wake};

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
        message: pb::WorkerMessage,
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
    Running {
        ends: Option<Instant>,
    },
    Stopping {
        deadline: Instant,
    },
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
    /// Periods below the user target after worker losses.
    pub below_target: Vec<BelowTarget>,
    /// Times a master died and this one resumed the run (`--resume`).
    pub outages: Vec<MasterOutage>,
    /// The configuration of the (last) run.
    pub config: Arc<MasterConfig>,
}

/// Owns the run.
pub struct Coordinator {
    config: Arc<MasterConfig>,
    plan_json: Vec<u8>,
    /// The resolved plan, shared with the snapshots.
    plan: Arc<lv_common::plan::Plan>,
    run_id: String,
    generation: u64,
    phase: Phase,
    workers: Registry,
    stats: RunStats,
    /// Turns tokio instants into the Unix ms stamps of the reports.
    clock: WallClock,
    started: Option<(Instant, i64)>,
    aborted: Option<String>,
    below_target: Vec<BelowTarget>,
    /// Times a master died and this one resumed the run (`--resume`).
    outages: Vec<MasterOutage>,
    /// Workers of the resumed checkpoint that have not come back yet.
    awaited: BTreeSet<String>,
    warned_names: bool,
    warned_failures: bool,
    /// Workers already warned that their share exceeds their connection budget.
    warned_fd: BTreeSet<String>,
    /// Snapshots for the web, and UI mode.
    web: Option<link::Web>,
    /// Open model: the schedule and the stripes (`None` in a closed run or before start).
    open: Option<open::OpenRun>,
    /// A run with a `[load]` shape: its stage clock and, in the closed model, the target
    /// changes (`None` without a shape or before start).
    staged: Option<stages::StagedRun>,
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
            run_id: uuid::Uuid::new_v4().to_string(),
            generation: 0,
            phase: Phase::Waiting {
                since: Instant::now(),
            },
            workers: Registry::new(),
            stats,
            clock,
            started: None,
            aborted: None,
            below_target: Vec::new(),
            outages: Vec::new(),
            awaited: BTreeSet::new(),
            warned_names: false,
            warned_failures: false,
            warned_fd: BTreeSet::new(),
            web: None,
            open: None,
            staged: None,
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
        let span = tracing::info_span!("run", run_id = %self.run_id);
        let _enter = span.enter();
        if self.started.is_none() {
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
        while !self.is_done() {
            let state = self.run_state();
            let quit_at = self.web.as_ref().and_then(|w| w.quit_at);
            let stage_at = self.next_stage_at();
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
                    Some(event) => self.on_event(event),
                    None => self.abort("the gRPC server stopped".into()),
                },
                wake = timers.next(stage_at) => self.on_wake(wake),
            }
            self.after_step(stop_requested);
            if self.run_state() != state {
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
            Phase::Idle => self.phase = Phase::Done,
            Phase::Running { .. } => {
                info!("stop requested");
                self.begin_stop();
            }
            Phase::Stopping { .. } | Phase::Done => {}
        }
    }

    fn abort(&mut self, reason: String) {
        warn!(%reason, "the run cannot go on");
        self.aborted.get_or_insert(reason);
        if matches!(self.phase, Phase::Running { .. }) {
            self.begin_stop();
        } else {
            self.phase = Phase::Done;
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Attached { hello, conn, tx } => self.on_attached(&hello, conn, tx),
            Event::Message {
                worker_id,
                conn,
                message,
            } => self.on_message(&worker_id, conn, message),
            Event::Detached {
                worker_id,
                conn,
                reason,
            } => {
                let Some(worker) = self.workers.get_mut(&worker_id) else {
                    return;
                };
                if worker.conn.as_ref().is_some_and(|(c, _)| *c == conn) {
                    info!(worker_id, %reason, "worker disconnected");
                    worker.conn = None;
                    if worker.state == WorkerState::Active {
                        worker.state = WorkerState::Missing {
                            since: Instant::now(),
                        };
                    }
                }
            }
        }
    }

    fn on_attached(&mut self, hello: &pb::Hello, conn: u64, tx: Outbound) {
        let now = Instant::now();
        let worker_id = hello.worker_id.clone();
        let rejoined = self.workers.contains_key(&worker_id);
        let worker = self
            .workers
            .entry(worker_id.clone())
            .or_insert_with(|| WorkerEntry::new(hello, conn, tx.clone(), now));
        let was_lost = !worker.is_member();
        worker.conn = Some((conn, tx));
        worker.state = WorkerState::Active;
        worker.last_seen = now;
        let welcome = pb::Welcome {
            master_version: lv_common::VERSION.to_owned(),
            protocol_version: lv_common::PROTOCOL_VERSION,
            heartbeat_interval_ms: u32::try_from(self.config.heartbeat_interval.as_millis())
                .unwrap_or(1000),
            heartbeat_timeout_ms: u32::try_from(self.config.heartbeat_timeout.as_millis())
                .unwrap_or(u32::MAX),
            acked_seq: worker.acked_seq,
            run_id: if self.started.is_some() && !matches!(self.phase, Phase::Idle) {
                self.run_id.clone()
            } else {
                String::new()
            },
        };
        worker.send(MasterKind::Welcome(welcome));
        info!(worker_id, hostname = %hello.hostname, cores = hello.cores, rejoined, "worker attached");
        self.worker_back(&worker_id);
        let kind = if rejoined {
            "worker_rejoined"
        } else {
            "worker_joined"
        };
        self.web_event(kind, format!("{worker_id} on {}", hello.hostname));
        match self.phase {
            Phase::Running { .. } if !rejoined || was_lost => self.assign(),
            Phase::Running { .. } => self.send_assignment(&worker_id),
            Phase::Done => {
                if let Some(worker) = self.workers.get_mut(&worker_id) {
                    worker.send(MasterKind::Shutdown(pb::Shutdown {
                        reason: "the run is over".into(),
                    }));
                }
            }
            // A worker that was away when Stop went out may still run users: stop it too,
            // so its last report comes and no load outlives the run.
            Phase::Stopping { .. } => {
                if let Some(worker) = self.workers.get_mut(&worker_id) {
                    worker.send(MasterKind::Stop(pb::Stop {
                        run_id: self.run_id.clone(),
                    }));
                }
            }
            Phase::Waiting { .. } | Phase::Idle => {}
        }
    }

    fn on_message(&mut self, worker_id: &str, conn: u64, message: pb::WorkerMessage) {
        let Some(worker) = self.workers.get_mut(worker_id) else {
            return;
        };
        if worker.conn.as_ref().is_none_or(|(c, _)| *c != conn) {
            return;
        }
        worker.last_seen = Instant::now();
        if let WorkerState::Missing { .. } = worker.state {
            worker.state = WorkerState::Active;
        }
        match message.kind {
            Some(WorkerKind::Heartbeat(beat)) => worker.users_running = beat.users_running,
            Some(WorkerKind::Report(raw)) => self.on_report(worker_id, raw),
            Some(WorkerKind::Rejection(rejection)) => self.on_rejection(worker_id, &rejection),
            Some(WorkerKind::Hello(_)) | None => {
                warn!(worker_id, "unexpected message; disconnecting the worker");
                worker.disconnect(Status::invalid_argument(
                    "Hello is only valid as the first message",
                ));
            }
        }
    }

    /// A worker cannot carry out its assignment of this run: the run fails with its reason
    /// (a stale generation or another run's refusal is only logged).
    fn on_rejection(&mut self, worker_id: &str, rejection: &pb::Rejection) {
        let reason = lv_common::bounds::quote(&rejection.reason);
        let current = rejection.run_id == self.run_id && rejection.generation == self.generation;
        if !current || !matches!(self.phase, Phase::Running { .. }) {
            warn!(worker_id, run_id = %rejection.run_id, generation = rejection.generation, %reason, "a worker refused an earlier assignment");
            return;
        }
        self.abort(format!(
            "worker {worker_id} refused its assignment: {reason}"
        ));
    }

    fn on_report(&mut self, worker_id: &str, raw: pb::StatsReport) {
        let Some(worker) = self.workers.get_mut(worker_id) else {
            return;
        };
        let report = match Report::try_from(raw) {
            Ok(report) => report,
            Err(err) => {
                warn!(worker_id, "{err}; disconnecting the worker");
                worker.disconnect(err.into());
                return;
            }
        };
        if report.run_id != self.run_id {
            debug!(worker_id, run_id = %report.run_id, "report of another run ignored");
            return;
        }
        worker.users_running = report.users_running;
        worker.last_report_unix_ms = Some(report.end_unix_ms);
        let fresh = report.seq > worker.max_seq;
        if fresh {
            worker.max_seq = report.seq;
            worker.final_received |= report.last;
        }
        // With --checkpoint, a report is acknowledged once a checkpoint holds it, so a
        // master that dies loses nothing the workers still hold (see `resume`).
        if self.config.checkpoint.is_none() {
            worker.acked_seq = worker.max_seq;
            let ack = pb::ReportAck {
                run_id: self.run_id.clone(),
                seq: worker.max_seq,
            };
            worker.send(MasterKind::Ack(ack));
        }
        if fresh {
            debug!(
                worker_id,
                seq = report.seq,
                stage = report.stage,
                start_unix_ms = report.start_unix_ms,
                end_unix_ms = report.end_unix_ms,
                requests = report.stats.request_count(),
                "report merged"
            );
            self.stats.merge_report(worker_id, &report);
            self.warn_on_overflow(&report);
        }
    }

    /// Says once per run when stats names or failure kinds hit their caps.
    fn warn_on_overflow(&mut self, report: &Report) {
        use lv_common::stats::{MAX_ENDPOINTS, MAX_FAILURE_KINDS, OVERFLOW_ERROR, OVERFLOW_NAME};
        if !self.warned_names
            && report
                .stats
                .endpoints
                .keys()
                .any(|k| k.name == OVERFLOW_NAME)
        {
            self.warned_names = true;
            warn!(
                "more than {MAX_ENDPOINTS} distinct stats names: the rest are counted under {OVERFLOW_NAME:?}; give steps whose paths hold ids a fixed `name`"
            );
        }
        if !self.warned_failures
            && report
                .stats
                .failures
                .keys()
                .any(|k| k.error == OVERFLOW_ERROR)
        {
            self.warned_failures = true;
            warn!(
                "more than {MAX_FAILURE_KINDS} distinct failure messages: the rest are counted under {OVERFLOW_ERROR:?}"
            );
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        match self.phase {
            Phase::Waiting { since } => {
                let active = self.count(|w| w.state == WorkerState::Active);
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
                self.close_below_target();
                if ends.is_some_and(|end| now >= end) {
                    info!("run time reached");
                    self.begin_stop();
                }
            }
            Phase::Stopping { deadline } => {
                // A worker away at the stop (missing, not yet lost) may come back with its last
                // report: wait for it until it is back or lost.
                let waiting = self.count(|w| w.in_run && !w.final_received && w.is_member());
                if waiting == 0 {
                    self.phase = Phase::Done;
                } else if now >= deadline {
                    warn!(
                        waiting,
                        "no final report from some workers within the stop timeout"
                    );
                    self.phase = Phase::Done;
                }
            }
            Phase::Done | Phase::Idle => {}
        }
    }

    fn start(&mut self) {
        let now = Instant::now();
        let now_ms = self.clock.unix_ms(now);
        self.stats.start(now_ms);
        self.open = self.config.open().map(|shape| {
            let start = now + open::LEAD;
            open::OpenRun::new(shape, start, self.clock.unix_ms(start))
        });
        // The stages start with the open schedule, or now.
        let stages_start = self.open.as_ref().map_or(now, open::OpenRun::start);
        let stages_start = (stages_start, self.clock.unix_ms(stages_start));
        self.begin((now, now_ms), stages_start);
    }

    /// Runs the test started at `started` whose stages start at `stages_start` (both on
    /// tokio's clock and in Unix ms): the stage clock, the run time and the assignments.
    fn begin(&mut self, started: (Instant, i64), stages_start: (Instant, i64)) {
        let now = Instant::now();
        self.started = Some(started);
        self.staged = self
            .config
            .shape
            .as_ref()
            .map(|shape| stages::StagedRun::new(shape, stages_start.0, stages_start.1));
        // The reports' stage windows and open-model intervals count from the stages' start.
        self.stats.stages_start_unix_ms = self.staged.as_ref().map(|s| s.clock().start_unix_ms);
        if let Some(staged) = &self.staged {
            info!(
                start_unix_ms = staged.clock().start_unix_ms,
                stages = staged.clock().stages.len(),
                "load shape"
            );
        }
        if let Some(step) = self.staged.as_mut().and_then(|s| s.advance(now)) {
            info!(
                stage = step.stage,
                users = step.users,
                spawn_rate = step.rate,
                "closed-model stage"
            );
        }
        // An open run's schedule starts after the lead and gets a margin for its last
        // arrivals to fire before the Stop.
        let begins = self
            .open
            .as_ref()
            .map_or(started.0, |o| o.start() + open::END_MARGIN);
        self.phase = Phase::Running {
            ends: self.config.run_time.map(|t| later(begins, t)),
        };
        info!(
            workers = self.count(WorkerEntry::is_member),
            "starting the run"
        );
        self.assign();
    }

    /// When the closed-model target changes next (never outside a running staged run).
    fn next_stage_at(&self) -> Option<Instant> {
        match self.phase {
            Phase::Running { .. } => self.staged.as_ref().and_then(stages::StagedRun::next_at),
            _ => None,
        }
    }

    /// A closed-model stage boundary: the new target and spawn rate go to every worker,
    /// split as after a join or a loss.
    fn on_stage(&mut self) {
        if !matches!(self.phase, Phase::Running { .. }) {
            return;
        }
        let Some(step) = self.staged.as_mut().and_then(|s| s.advance(Instant::now())) else {
            return;
        };
        info!(
            stage = step.stage,
            users = step.users,
            spawn_rate = step.rate,
            "closed-model stage"
        );
        let name = self
            .config
            .stages()
            .get(step.stage.saturating_sub(1))
            .map_or_else(String::new, |s| s.name.clone());
        self.web_event("stage", format!("stage {name}: {} users", step.users));
        self.assign();
    }

    /// Users the run aims at now: the closed-model stage's, else the configured ones.
    fn users_target(&self) -> u32 {
        self.closed_step().map_or(self.config.users, |s| s.users)
    }

    /// Users started per second over all workers now.
    fn spawn_rate_target(&self) -> f64 {
        self.closed_step()
            .map_or(self.config.spawn_rate, |s| s.rate)
    }

    fn closed_step(&self) -> Option<stages::Step> {
        self.staged.as_ref().and_then(stages::StagedRun::current)
    }

    fn begin_stop(&mut self) {
        info!("stopping the workers");
        let stop = pb::Stop {
            run_id: self.run_id.clone(),
        };
        for worker in self.workers.values_mut() {
            worker.send(MasterKind::Stop(stop.clone()));
        }
        self.phase = Phase::Stopping {
            deadline: later(Instant::now(), self.config.stop_timeout),
        };
    }

    fn finish(mut self) -> RunResult {
        let ended = self.clock.now_ms();
        let ui = self.web.as_ref().is_some_and(link::Web::is_ui);
        if self.started.is_some() && !ui {
            self.stats.close_interval(ended, 0);
        }
        self.publish();
        for worker in self.workers.values_mut() {
            worker.send(MasterKind::Shutdown(pb::Shutdown {
                reason: "the run is over".into(),
            }));
            worker.conn = None;
        }
        if let Some(open) = &self.open {
            self.stats.open.counts.lost = open.lost();
            self.stats.planned_arrivals = Some(open.planned());
        }
        RunResult {
            run_id: self.run_id,
            stats: self.stats,
            workers: self.workers,
            started_unix_ms: self.started.map_or(0, |(_, ms)| ms),
            ended_unix_ms: ended,
            aborted: self.aborted,
            below_target: self.below_target,
            outages: self.outages,
            config: self.config,
        }
    }

    fn count(&self, pred: impl Fn(&WorkerEntry) -> bool) -> usize {
        self.workers.values().filter(|w| pred(w)).count()
    }

    fn users_running(&self) -> u32 {
        self.workers
            .values()
            .filter(|w| w.is_member())
            .map(|w| w.users_running)
            .sum()
    }
}

/// Sleeps until `at`, or forever when `None`.
async fn sleep_until_or_never(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
