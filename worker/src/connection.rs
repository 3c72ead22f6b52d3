//! The worker's side of the control stream: connect (with capped backoff), introduce
//! itself, then follow the master's Assignments, Stops and Shutdown while sending
//! heartbeats and stats reports.
//!
//! Reports live in an [`Outbox`] until acknowledged and are sent again after a
//! reconnect, so a dropped connection loses no stats. A run with stages also closes the
//! report interval at each stage boundary and tags each report with its stage (see
//! [`flush`]). A watchdog stops the users when
//! the master has been silent past the heartbeat timeout, connected or not, so a worker
//! never goes on loading a target on its own.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use lv_common::pb::{self, master_message::Kind as MasterKind, worker_message::Kind as WorkerKind};
use lv_common::wire::{Assignment, Report, StageClock, chunk_from_pb, unix_ms_now};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::config::{WorkerConfig, WorkerError};
use crate::data::DataInbox;
use crate::outbox::{DEFAULT_CAPACITY, Outbox};
use crate::recorder::Recorder;
use crate::resources::Resources;
use crate::swarm::SwarmHandle;

mod attach;
mod flush;
mod send;

use attach::{AttachError, Link, attach, wrap};
use send::send_within;

const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(5);
const DEFAULT_REPORT_INTERVAL: Duration = Duration::from_secs(2);

/// Why a session ended.
enum End {
    /// The master said Shutdown.
    Shutdown,
    /// Our own shutdown token was cancelled.
    Cancelled,
    /// The stream broke or went silent.
    Lost(String),
}

/// Everything that outlives one connection.
struct State<'a> {
    config: &'a WorkerConfig,
    hello: pb::Hello,
    swarm: SwarmHandle,
    recorder: Recorder,
    /// The worker's own load, sent with each heartbeat.
    resources: Arc<Resources>,
    outbox: Outbox,
    /// When a master was last heard from.
    last_contact: Arc<LastContact>,
    report_interval: Duration,
    report_start_ms: i64,
    /// The current run's stage windows, when it has stages.
    stages: Option<StageClock>,
    /// The current run's last report went out; nothing more to report until a new run.
    run_finished: bool,
    /// The current run's test data, as it arrives.
    data: DataInbox,
}

/// Connects and serves masters until Shutdown, cancellation or refusal, running `swarm`,
/// reporting what `recorder` holds and heartbeating `resources`.
pub async fn serve(
    config: &WorkerConfig,
    hello: pb::Hello,
    swarm: SwarmHandle,
    recorder: Recorder,
    resources: Arc<Resources>,
    shutdown: &CancellationToken,
) -> Result<(), WorkerError> {
    let last_contact = Arc::new(LastContact::new());
    let watchdog = tokio::spawn(watchdog(
        swarm.clone(),
        Arc::clone(&last_contact),
        config.heartbeat_timeout,
        shutdown.child_token(),
    ));
    let mut state = State {
        config,
        hello,
        swarm,
        recorder,
        resources,
        outbox: Outbox::new(DEFAULT_CAPACITY),
        last_contact,
        report_interval: DEFAULT_REPORT_INTERVAL,
        report_start_ms: unix_ms_now(),
        stages: None,
        run_finished: true,
        data: DataInbox::default(),
    };
    let result = state.connect_loop(shutdown).await;
    watchdog.abort();
    state.swarm.stop().await;
    result
}

impl State<'_> {
    async fn connect_loop(&mut self, shutdown: &CancellationToken) -> Result<(), WorkerError> {
        let started = Instant::now();
        let mut connected_once = false;
        // When the master was lost, while it stays unreachable.
        let mut lost_at: Option<Instant> = None;
        let mut backoff = BACKOFF_START;
        loop {
            let attempt = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                attempt = attach(self.config, self.hello.clone()) => attempt,
            };
            match attempt {
                Ok(link) => {
                    connected_once = true;
                    backoff = BACKOFF_START;
                    match self.session(link, shutdown).await {
                        End::Shutdown | End::Cancelled => return Ok(()),
                        End::Lost(reason) => {
                            warn!(%reason, "lost the master; reconnecting");
                            lost_at = Some(Instant::now());
                        }
                    }
                }
                Err(AttachError::Refused(reason)) => return Err(WorkerError::Refused(reason)),
                Err(AttachError::Unreachable(reason)) => {
                    if !connected_once && started.elapsed() >= self.config.connect_timeout {
                        return Err(WorkerError::NoMaster {
                            master: self.config.master.clone(),
                            waited: self.config.connect_timeout,
                            reason,
                        });
                    }
                    // A master that is gone for good (it exited after losing us) sends no
                    // Shutdown: give up rather than retry forever.
                    if lost_at.is_some_and(|at| at.elapsed() >= self.config.reconnect_timeout) {
                        return Err(WorkerError::MasterGone {
                            master: self.config.master.clone(),
                            waited: self.config.reconnect_timeout,
                            reason,
                            unsent: self.outbox.pending().count(),
                        });
                    }
                    debug!(%reason, "master not reachable yet");
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(BACKOFF_CAP);
        }
    }

    async fn session(&mut self, link: Link, shutdown: &CancellationToken) -> End {
        let Link {
            tx,
            mut inbound,
            welcome,
        } = link;
        self.touch();
        info!(master = %self.config.master, version = %welcome.master_version, "attached to master");
        self.adopt_master_run(&welcome);
        if let Err(end) = self.resend_unacknowledged(&tx).await {
            return end;
        }
        let mut heartbeat = ticker(Duration::from_millis(u64::from(
            welcome.heartbeat_interval_ms.max(100),
        )));
        let mut report_tick = ticker(self.report_interval);
        loop {
            let boundary = self.next_stage_flush();
            let flush_in = boundary.map(|at| flush::wait_until(at, unix_ms_now()));
            tokio::select! {
                () = shutdown.cancelled() => {
                    self.finish_run(&tx).await;
                    return End::Cancelled;
                }
                () = sleep_opt(flush_in) => {
                    let end = boundary.map(|at| flush::flush_end(at, unix_ms_now()));
                    if !self.send_report_until(&tx, false, end).await {
                        return End::Lost("stream closed".into());
                    }
                    // The periodic interval restarts from the boundary.
                    report_tick.reset();
                }
                message = inbound.message() => match message {
                    Ok(Some(message)) => {
                        self.touch();
                        match self.handle(message, &tx).await {
                            Ok(None) => {}
                            Ok(Some(end)) => return end,
                            Err(reason) => return End::Lost(reason),
                        }
                        if report_tick.period() != self.report_interval {
                            report_tick = ticker(self.report_interval);
                        }
                    }
                    Ok(None) => return End::Lost("the master closed the stream".into()),
                    Err(status) => return End::Lost(status.message().to_owned()),
                },
                _ = heartbeat.tick() => {
                    if let Err(end) = self.heartbeat(&tx).await {
                        return end;
                    }
                }
                _ = report_tick.tick() => {
                    if !self.run_finished && !self.send_report(&tx, false).await {
                        return End::Lost("stream closed".into());
                    }
                }
            }
        }
    }

    /// Sends again every report the master has not acknowledged, oldest first.
    async fn resend_unacknowledged(&self, tx: &mpsc::Sender<pb::WorkerMessage>) -> Result<(), End> {
        for report in self.outbox.pending() {
            let message = wrap(WorkerKind::Report(report.clone()));
            if let Err(err) = send_within(tx, message, self.config.heartbeat_timeout).await {
                return Err(End::Lost(format!("{err} while resending reports")));
            }
        }
        Ok(())
    }

    /// Sends a heartbeat, unless the master has been silent past the heartbeat timeout.
    async fn heartbeat(&self, tx: &mpsc::Sender<pb::WorkerMessage>) -> Result<(), End> {
        let silent = self.last_contact.silence();
        if silent > self.config.heartbeat_timeout {
            return Err(End::Lost(format!(
                "no message from the master for {} ms",
                silent.as_millis()
            )));
        }
        let finished = self.swarm.status().finished();
        let beat = pb::Heartbeat {
            unix_ms: unix_ms_now(),
            users_running: self.swarm.status().users_running(),
            run_id: self.outbox.run_id().unwrap_or_default().to_owned(),
            users_finished: finished.users,
            generation: finished.generation,
            resources: Some(self.resources.sample()),
        };
        let message = wrap(WorkerKind::Heartbeat(beat));
        send_within(tx, message, self.config.heartbeat_timeout)
            .await
            .map_err(|err| End::Lost(err.to_string()))
    }

    /// Acts on one master message; `Ok(Some(_))` ends the session, `Err` drops it.
    async fn handle(
        &mut self,
        message: pb::MasterMessage,
        tx: &mpsc::Sender<pb::WorkerMessage>,
    ) -> Result<Option<End>, String> {
        match message.kind {
            Some(MasterKind::Assignment(raw)) => return self.receive_assignment(raw, tx).await,
            Some(MasterKind::Data(chunk)) => {
                let (run_id, chunk) = chunk_from_pb(chunk);
                if let Err(reason) = self.data.add(run_id, chunk) {
                    warn!("{reason}");
                }
            }
            Some(MasterKind::Ack(ack)) => self.outbox.ack(&ack.run_id, ack.seq),
            Some(MasterKind::Stop(stop)) => {
                if self.outbox.run_id() == Some(stop.run_id.as_str()) {
                    info!(run_id = %stop.run_id, "stop");
                    self.finish_run(tx).await;
                }
            }
            Some(MasterKind::Shutdown(shutdown)) => {
                info!(reason = %shutdown.reason, "shutdown requested by the master");
                self.finish_run(tx).await;
                return Ok(Some(End::Shutdown));
            }
            Some(MasterKind::Heartbeat(_)) => {}
            Some(MasterKind::Welcome(_)) | None => {
                return Err("unexpected message from the master".into());
            }
        }
        Ok(None)
    }

    /// Takes an Assignment with its test data to the swarm, or refuses it (once) with the
    /// reason.
    async fn receive_assignment(
        &mut self,
        raw: pb::Assignment,
        tx: &mpsc::Sender<pb::WorkerMessage>,
    ) -> Result<Option<End>, String> {
        let (run_id, generation) = (raw.run_id.clone(), raw.generation);
        let assignment = Assignment::try_from(raw)
            .map_err(|err| err.to_string())
            .and_then(|mut assignment| {
                assignment.tables = self.data.tables_for(&assignment.run_id, &assignment.plan)?;
                Ok(assignment)
            });
        let assignment = match assignment {
            Ok(assignment) => assignment,
            Err(reason) => {
                // Say why once; the master fails the run rather than resend it.
                error!(%run_id, generation, "{reason}; refusing the assignment");
                let rejection = pb::Rejection {
                    run_id,
                    generation,
                    reason,
                };
                let message = wrap(WorkerKind::Rejection(rejection));
                let sent = send_within(tx, message, self.config.heartbeat_timeout).await;
                return sent.map(|()| None).map_err(|err| err.to_string());
            }
        };
        self.start_run(&assignment.run_id);
        self.report_interval = assignment.report_interval;
        self.stages = assignment.stages.clone();
        self.swarm.apply(assignment).await;
        Ok(None)
    }

    fn touch(&self) {
        self.last_contact.touch();
    }

    /// Keeps our buffered reports if the master works on our run; otherwise drops them
    /// and whatever was recorded for a run no master will merge.
    fn adopt_master_run(&mut self, welcome: &pb::Welcome) {
        let ours = self.outbox.run_id().map(str::to_owned);
        match ours {
            Some(run) if run == welcome.run_id => self.outbox.ack(&run, welcome.acked_seq),
            Some(run) => {
                let (stale, _) = self.recorder.take();
                let _ = self.recorder.take_open();
                let reports = self.outbox.pending().count();
                if reports > 0 || !stale.is_empty() {
                    warn!(
                        run_id = %run,
                        reports,
                        requests = stale.request_count(),
                        "this master does not know our run; dropping its unsent stats"
                    );
                }
                self.outbox = Outbox::new(DEFAULT_CAPACITY);
                self.run_finished = true;
            }
            None => {}
        }
    }

    fn start_run(&mut self, run_id: &str) {
        if self.outbox.run_id() != Some(run_id) {
            self.outbox.start_run(run_id);
            // Anything recorded before belongs to no run the master knows.
            let _ = self.recorder.take();
            let _ = self.recorder.take_open();
            self.report_start_ms = unix_ms_now();
        }
        self.run_finished = false;
    }

    /// Stops the users and sends the run's last report.
    async fn finish_run(&mut self, tx: &mpsc::Sender<pb::WorkerMessage>) {
        self.swarm.stop().await;
        if !self.run_finished {
            self.send_report(tx, true).await;
            self.run_finished = true;
        }
    }

    /// The Unix ms of the stage boundary that closes the current interval, if any.
    fn next_stage_flush(&self) -> Option<i64> {
        if self.run_finished || self.outbox.run_id().is_none() {
            return None;
        }
        flush::next_stage_flush(self.stages.as_ref(), self.report_start_ms)
    }

    /// Sends the stats recorded since the last report; false when the stream is closed.
    async fn send_report(&mut self, tx: &mpsc::Sender<pb::WorkerMessage>, last: bool) -> bool {
        self.send_report_until(tx, last, None).await
    }

    /// [`State::send_report`] with the interval's end stamped `end_ms` (now when `None`).
    async fn send_report_until(
        &mut self,
        tx: &mpsc::Sender<pb::WorkerMessage>,
        last: bool,
        end_ms: Option<i64>,
    ) -> bool {
        let Some(run_id) = self.outbox.run_id().map(str::to_owned) else {
            return true;
        };
        let (stats, cut_off) = self.recorder.take();
        let open = Some(self.recorder.take_open()).filter(|o| !o.is_empty());
        let end = end_ms.unwrap_or_else(unix_ms_now);
        let dropped_before = self.outbox.dropped();
        let report = Report {
            run_id,
            seq: 0,
            start_unix_ms: self.report_start_ms,
            end_unix_ms: end,
            users_running: self.swarm.status().users_running(),
            stats,
            last,
            cut_off,
            dropped_reports: self.outbox.dropped(),
            open,
            stage: flush::stage_of(self.stages.as_ref(), self.report_start_ms, end),
        };
        self.report_start_ms = end;
        let numbered = self.outbox.push(pb::StatsReport::from(&report));
        if self.outbox.dropped() > dropped_before {
            warn!(
                dropped = self.outbox.dropped(),
                "the resend buffer is full: dropped the oldest unacknowledged report (its stats are lost)"
            );
        }
        let message = wrap(WorkerKind::Report(numbered));
        match send_within(tx, message, self.config.heartbeat_timeout).await {
            Ok(()) => true,
            Err(err) => {
                warn!("cannot send a report: {err}");
                false
            }
        }
    }
}

/// An interval that, after a late tick, waits a whole period again instead of catching up.
fn ticker(period: Duration) -> tokio::time::Interval {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval
}

/// Sleeps for `d`; never when there is none.
async fn sleep_opt(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// When a master was last heard from, on tokio's clock (so paused time drives the
/// liveness checks); shared by the session and the watchdog.
#[derive(Debug)]
struct LastContact(Mutex<Instant>);

impl LastContact {
    /// Contact now.
    fn new() -> LastContact {
        LastContact(Mutex::new(Instant::now()))
    }

    /// A message came now.
    fn touch(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    /// How long no message came.
    fn silence(&self) -> Duration {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed()
    }
}

/// Stops the users whenever no master has been heard from for `timeout`.
async fn watchdog(
    swarm: SwarmHandle,
    last_contact: Arc<LastContact>,
    timeout: Duration,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let silent = last_contact.silence();
        // `has_run`, not users: an open-model run sends load with no users at all.
        if silent > timeout && swarm.status().has_run() {
            warn!(
                silent_ms = silent.as_millis(),
                "no master for longer than the heartbeat timeout; stopping all users"
            );
            swarm.stop().await;
        }
    }
}

#[cfg(test)]
mod tests;
