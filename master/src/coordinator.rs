//! Run control: the one task that owns the workers, the run's phase and its merged
//! stats. gRPC handlers only decode and forward [`Event`]s here.
//!
//! Phases: waiting for the expected workers, running (assignments sent, rebalanced
//! when workers join or are lost), stopping (Stop sent, waiting for the last reports),
//! done (Shutdown sent).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use lv_common::pb::{self, master_message::Kind as MasterKind, worker_message::Kind as WorkerKind};

use lv_common::wire::{Report, unix_ms_now};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tracing::{debug, info, warn};

use crate::aggregate::RunStats;
use crate::config::MasterConfig;

use crate::registry::{Outbound, Registry, WorkerEntry, WorkerState};
use crate::summary::BelowTarget;

mod assign;
mod live;

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
    Waiting { since: Instant },
    Running { ends: Option<Instant> },
    Stopping { deadline: Instant },
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
}

/// Owns the run.
pub struct Coordinator {
    config: Arc<MasterConfig>,
    plan_json: Vec<u8>,
    run_id: String,
    generation: u64,
    phase: Phase,
    workers: Registry,
    stats: RunStats,
    started: Option<(Instant, i64)>,
    aborted: Option<String>,
    below_target: Vec<BelowTarget>,
    warned_names: bool,
    warned_failures: bool,
    /// Workers already warned that their share exceeds their connection budget.
    warned_fd: BTreeSet<String>,
}

impl Coordinator {
    /// A coordinator for one run of `config`.
    pub fn new(config: Arc<MasterConfig>) -> Coordinator {
        let plan_json = config.plan.to_json();
        let stats = RunStats::new(config.csv_full_history);
        Coordinator {
            config,
            plan_json,
            run_id: uuid::Uuid::new_v4().to_string(),
            generation: 0,
            phase: Phase::Waiting {
                since: Instant::now(),
            },
            workers: Registry::new(),
            stats,
            started: None,
            aborted: None,
            below_target: Vec::new(),
            warned_names: false,
            warned_failures: false,
            warned_fd: BTreeSet::new(),
        }
    }

    /// Runs to the end: the run time passes, `shutdown` is cancelled, or the run fails.
    pub async fn run(
        mut self,
        mut events: mpsc::Receiver<Event>,
        shutdown: CancellationToken,
    ) -> RunResult {
        let span = tracing::info_span!("run", run_id = %self.run_id);
        let _enter = span.enter();
        info!(
            users = self.config.users,
            spawn_rate = self.config.spawn_rate,
            workers = self.config.expect_workers,
            "waiting for workers"
        );
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut heartbeat = tokio::time::interval(self.config.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut history = tokio::time::interval(self.config.report_interval);
        history.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let print_every = self.config.print_interval.unwrap_or(NO_RUN_TIME);
        let mut print = tokio::time::interval_at(Instant::now() + print_every, print_every);
        print.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let checkpoint_every = self.config.checkpoint_interval;
        let mut checkpoint =
            tokio::time::interval_at(Instant::now() + checkpoint_every, checkpoint_every);
        checkpoint.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut stop_requested = false;
        while !matches!(self.phase, Phase::Done) {
            tokio::select! {
                () = shutdown.cancelled(), if !stop_requested => {
                    stop_requested = true;
                    self.on_stop_request();
                }
                event = events.recv() => match event {
                    Some(event) => self.on_event(event),
                    None => self.abort("the gRPC server stopped".into()),
                },
                _ = tick.tick() => self.on_tick(),
                _ = heartbeat.tick() => self.on_heartbeat(),
                _ = history.tick() => {
                    if matches!(self.phase, Phase::Running { .. } | Phase::Stopping { .. }) {
                        let users = self.users_running();
                        self.stats.close_interval(unix_ms_now(), users);
                    }
                }
                _ = print.tick(), if self.config.print_interval.is_some() => self.print_live(),
                _ = checkpoint.tick(), if self.config.checkpoint.is_some() => {
                    if let Some(path) = &self.config.checkpoint {
                        self.write_checkpoint(path);
                    }
                }
            }
        }
        self.finish()
    }

    fn on_stop_request(&mut self) {
        match self.phase {
            Phase::Waiting { .. } => self.abort("stopped before the run started".into()),
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
            acked_seq: worker.max_seq,
            run_id: if self.started.is_some() {
                self.run_id.clone()
            } else {
                String::new()
            },
        };
        worker.send(MasterKind::Welcome(welcome));
        info!(worker_id, hostname = %hello.hostname, cores = hello.cores, rejoined, "worker attached");
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
            Phase::Waiting { .. } => {}
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
            Some(WorkerKind::Hello(_)) | None => {
                warn!(worker_id, "unexpected message; disconnecting the worker");
                worker.disconnect(Status::invalid_argument(
                    "Hello is only valid as the first message",
                ));
            }
        }
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
        let ack = pb::ReportAck {
            run_id: self.run_id.clone(),
            seq: worker.max_seq,
        };
        worker.send(MasterKind::Ack(ack));
        if fresh {
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
            Phase::Done => {}
        }
    }

    fn on_heartbeat(&mut self) {
        let now = Instant::now();
        let timeout = self.config.heartbeat_timeout;
        let beat = pb::Heartbeat {
            unix_ms: unix_ms_now(),
            users_running: 0,
            run_id: self.run_id.clone(),
        };
        let mut lost = Vec::new();
        for worker in self.workers.values_mut() {
            match worker.state {
                WorkerState::Active if now.duration_since(worker.last_seen) > timeout => {
                    worker.disconnect(Status::deadline_exceeded("no heartbeat within the timeout"));
                    lost.push(worker.id.clone());
                }
                WorkerState::Missing { since } if now.duration_since(since) > timeout => {
                    lost.push(worker.id.clone());
                }
                WorkerState::Active => {
                    worker.send(MasterKind::Heartbeat(beat.clone()));
                }
                WorkerState::Missing { .. } | WorkerState::Lost { .. } => {}
            }
        }
        if lost.is_empty() {
            return;
        }
        let now_ms = unix_ms_now();
        for id in &lost {
            if let Some(worker) = self.workers.get_mut(id) {
                warn!(worker_id = %id, hostname = %worker.hostname, "worker lost: silent past the heartbeat timeout");
                worker.state = WorkerState::Lost { at: now };
                worker.lost_unix_ms = Some(now_ms);
                let had_users = worker.assigned() > 0;
                worker.users.clear();
                worker.users_running = 0;
                if had_users && matches!(self.phase, Phase::Running { .. }) {
                    // Its users stopped counting when it went silent, not when we noticed.
                    let silent_ms = now.duration_since(worker.last_seen).as_millis();
                    self.below_target.push(BelowTarget {
                        from_unix_ms: now_ms - i64::try_from(silent_ms).unwrap_or(0),
                        to_unix_ms: None,
                        worker_id: id.clone(),
                    });
                }
            }
        }
        if let Phase::Running { .. } = self.phase {
            if self.config.fail_on_worker_loss {
                self.abort(format!(
                    "worker {} was lost (--fail-on-worker-loss)",
                    lost.join(", ")
                ));
            } else if self.count(WorkerEntry::is_member) == 0 {
                self.abort("every worker was lost".into());
            } else {
                self.assign();
            }
        }
    }

    fn start(&mut self) {
        let now = Instant::now();
        self.started = Some((now, unix_ms_now()));
        self.stats.start(unix_ms_now());
        self.phase = Phase::Running {
            ends: self.config.run_time.map(|t| now + t),
        };
        info!(
            workers = self.count(WorkerEntry::is_member),
            "starting the run"
        );
        self.assign();
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
            deadline: Instant::now() + self.config.stop_timeout,
        };
    }

    fn finish(mut self) -> RunResult {
        let ended = unix_ms_now();
        if self.started.is_some() {
            self.stats.close_interval(ended, 0);
        }
        for worker in self.workers.values_mut() {
            worker.send(MasterKind::Shutdown(pb::Shutdown {
                reason: "the run is over".into(),
            }));
            worker.conn = None;
        }
        RunResult {
            run_id: self.run_id,
            stats: self.stats,
            workers: self.workers,
            started_unix_ms: self.started.map_or(0, |(_, ms)| ms),
            ended_unix_ms: ended,
            aborted: self.aborted,
            below_target: self.below_target,
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
