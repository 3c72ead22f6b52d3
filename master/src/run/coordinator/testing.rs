//! A coordinator with fake workers on paused tokio time, for unit tests of run control.
//!
//! A fake worker is the pair of channels the gRPC side would hold: the coordinator's
//! [`Outbound`] sender (whose receiver the test reads) and the [`Event`]s the test feeds
//! in. [`TestCluster::advance`] runs every timer of the real run loop that falls due, in
//! simulated time, so tests assert exact instants and counts without sockets or sleeps.
//! Use it under `#[tokio::test(start_paused = true)]`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use lv_common::pb::{self, master_message::Kind as MasterKind, worker_message::Kind as WorkerKind};
use lv_common::plan::{ClassPlan, Plan};
use lv_common::quota::ClassUsers;
use lv_common::stats::StatsSet;
use lv_common::wait::WaitRule;
use lv_common::wire::Report;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::timers::{Timers, Wake};
use super::{Coordinator, Event, RunResult, WallClock};
use crate::config::MasterConfig;
use crate::run::registry::WorkerState;

/// The Unix ms that the cluster's start instant maps to.
pub(crate) const BASE_MS: i64 = 1_700_000_000_000;
/// Latency of every request in the reports the fake workers send.
pub(crate) const LATENCY_US: u64 = 1_000;

/// A config for tests: `users` over `classes` (name, weight), one expected worker, 10
/// users/s, heartbeats every 1 s with a 5 s timeout, reports every 2 s, a 10 s stop
/// timeout, no run time, no outputs.
pub(crate) fn test_config(users: u32, classes: &[(&str, u32)]) -> MasterConfig {
    let classes = classes
        .iter()
        .map(|(name, weight)| ClassPlan {
            name: (*name).to_owned(),
            weight: *weight,
            wait: WaitRule::Constant(1.0),
            on_start: Vec::new(),
            tasks: Vec::new(),
            cookies: true,
            data: Vec::new(),
        })
        .collect();
    MasterConfig {
        plan: Plan {
            classes,
            connection_per_user: false,
            iterations: None,
        },
        hooks: Default::default(),
        scenario_paths: Vec::new(),
        host: "http://127.0.0.1".into(),
        users,
        spawn_rate: 10.0,
        run_time: None,
        shape: None,
        expect_workers: 1,
        expect_workers_max_wait: None,
        local_workers: 0,
        token: String::new(),
        heartbeat_interval: Duration::from_secs(1),
        heartbeat_timeout: Duration::from_secs(5),
        report_interval: Duration::from_secs(2),
        stop_timeout: Duration::from_secs(10),
        print_interval: None,
        json: None,
        csv: None,
        csv_full_history: false,
        html: None,
        record: None,
        slo: None,
        tls: None,
        fail_on_worker_loss: false,
        checkpoint: None,
        checkpoint_interval: Duration::from_secs(5),
        resume: None,
        profile: None,
        tags: Vec::new(),
        exclude_tags: Vec::new(),
        exit_code_on_error: 1,
        data: Vec::new(),
        target_tls: lv_common::tls::TargetTls::default(),
    }
}

/// What a fake worker got from the master.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "a test's record of messages; unboxed so that tests can match on them"
)]
pub(crate) enum Received {
    /// A message.
    Message(MasterKind),
    /// The master ended the stream with this status.
    Closed(tonic::Code),
}

/// A finished test run.
pub(crate) struct Finished {
    /// What `Coordinator::run` would have returned.
    pub(crate) result: RunResult,
    /// Everything each fake worker received, by worker id.
    pub(crate) received: BTreeMap<String, Vec<Received>>,
}

/// One fake worker: its current connection and everything it received.
struct FakeWorker {
    conn: u64,
    rx: mpsc::Receiver<Result<pb::MasterMessage, tonic::Status>>,
    inbox: Vec<Received>,
    /// Answers each heartbeat of the master with one of its own.
    beating: bool,
    /// Users that ran their iterations (`-i`) in a run, counted against every later
    /// assignment of that run.
    finished: Option<(String, u32)>,
    /// The load its heartbeats carry.
    load: Option<pb::Resources>,
}

impl FakeWorker {
    /// Moves what arrived into the inbox and returns the whole inbox.
    fn drain(&mut self) -> &[Received] {
        while let Ok(message) = self.rx.try_recv() {
            self.inbox.push(match message {
                Ok(message) => match message.kind {
                    Some(kind) => Received::Message(kind),
                    None => continue,
                },
                Err(status) => Received::Closed(status.code()),
            });
        }
        &self.inbox
    }
}

/// A coordinator, its timers and its fake workers, on tokio's (paused) clock.
pub(crate) struct TestCluster {
    /// The coordinator under test (its fields are open to the tests).
    pub(crate) coord: Coordinator,
    timers: Timers,
    workers: BTreeMap<String, FakeWorker>,
    next_conn: u64,
    /// When the cluster was made: simulated time zero.
    pub(crate) t0: Instant,
}

impl TestCluster {
    /// A coordinator for `config` whose clock reads [`BASE_MS`] now.
    pub(crate) fn new(config: MasterConfig) -> TestCluster {
        TestCluster::at(config, BASE_MS)
    }

    /// A coordinator for `config` whose clock reads `unix_ms` now (a master started later).
    pub(crate) fn at(config: MasterConfig, unix_ms: i64) -> TestCluster {
        let t0 = Instant::now();
        let config = Arc::new(config);
        let timers = Timers::new(&config);
        TestCluster {
            coord: Coordinator::with_clock(config, WallClock::new(t0, unix_ms)),
            timers,
            workers: BTreeMap::new(),
            next_conn: 1,
            t0,
        }
    }

    /// Runs every timer due up to and including `d` from now, in order; fake workers that
    /// beat send their heartbeat just before each of the master's heartbeat checks.
    pub(crate) async fn advance(&mut self, d: Duration) {
        let until = Instant::now() + d;
        loop {
            let stage_at = self.coord.next_stage_at();
            tokio::select! {
                biased;
                wake = self.timers.next(stage_at) => {
                    if wake == Wake::Heartbeat {
                        let beating: Vec<String> = self
                            .workers
                            .iter()
                            .filter(|(_, w)| w.beating)
                            .map(|(id, _)| id.clone())
                            .collect();
                        for id in beating {
                            self.heartbeat(&id);
                        }
                    }
                    self.coord.on_wake(wake);
                }
                () = tokio::time::sleep_until(until) => break,
            }
        }
    }

    /// Advances to `at` after the cluster was made (nothing when that is past).
    pub(crate) async fn advance_to(&mut self, at: Duration) {
        let target = self.t0 + at;
        let now = Instant::now();
        if target > now {
            self.advance(target - now).await;
        }
    }

    /// Attaches (or re-attaches, on a new connection) worker `id`, which then beats.
    pub(crate) fn attach(&mut self, id: &str) {
        let (tx, rx) = mpsc::channel(1024);
        let conn = self.next_conn;
        self.next_conn += 1;
        let hello = pb::Hello {
            worker_id: id.to_owned(),
            hostname: format!("host-{id}"),
            protocol_version: lv_common::PROTOCOL_VERSION,
            ..Default::default()
        };
        self.workers.insert(
            id.to_owned(),
            FakeWorker {
                conn,
                rx,
                inbox: Vec::new(),
                beating: true,
                finished: None,
                load: None,
            },
        );
        self.coord.on_event(Event::Attached { hello, conn, tx });
    }

    /// Ends worker `id`'s stream, as a dropped connection does.
    pub(crate) fn detach(&mut self, id: &str) {
        let worker = self.worker(id);
        worker.beating = false;
        let conn = worker.conn;
        self.coord.on_event(Event::Detached {
            worker_id: id.to_owned(),
            conn,
            reason: "test".into(),
        });
    }

    /// Worker `id` stays connected but sends nothing more.
    pub(crate) fn silence(&mut self, id: &str) {
        self.worker(id).beating = false;
    }

    /// Every user of worker `id`'s last assignment ran its iterations (`-i`); a later,
    /// larger assignment runs the users it adds.
    pub(crate) fn finish_users(&mut self, id: &str) {
        let users = self.assigned(id).values().sum();
        let run_id = self.coord.ledger.run_id().to_owned();
        self.worker(id).finished = Some((run_id, users));
    }

    /// Worker `id`'s heartbeats carry `load` from now on.
    pub(crate) fn load(&mut self, id: &str, load: pb::Resources) {
        self.worker(id).load = Some(load);
    }

    /// Worker `id` sends a heartbeat about its last assignment: its users running, but for
    /// those that finished their iterations ([`TestCluster::finish_users`]).
    pub(crate) fn heartbeat(&mut self, id: &str) {
        let users: u32 = self.assigned(id).values().sum();
        let generation = self.assignments(id).last().map_or(0, |a| a.generation);
        let run_id = self.coord.ledger.run_id().to_owned();
        let finished = match &self.worker(id).finished {
            Some((run, finished)) if *run == run_id => (*finished).min(users),
            _ => 0,
        };
        let beat = pb::Heartbeat {
            unix_ms: 0,
            users_running: users - finished,
            run_id,
            users_finished: finished,
            generation,
            resources: self.worker(id).load,
        };
        self.send(id, WorkerKind::Heartbeat(beat));
    }

    /// Worker `id` sends report `seq` of the current run holding `requests` successes.
    pub(crate) fn report(&mut self, id: &str, seq: u64, requests: u64, last: bool) {
        let run_id = self.coord.ledger.run_id().to_owned();
        self.report_of_run(id, &run_id, seq, requests, last);
    }

    /// Worker `id` sends report `seq` of run `run_id` holding `requests` successes.
    pub(crate) fn report_of_run(
        &mut self,
        id: &str,
        run_id: &str,
        seq: u64,
        requests: u64,
        last: bool,
    ) {
        let mut stats = StatsSet::default();
        for _ in 0..requests {
            stats.record_request("GET", "/health", None, LATENCY_US, 10, None);
        }
        self.send_report(id, run_id, seq, stats, last);
    }

    /// Worker `id` sends report `seq` of the current run: `ok` successes and `failed`
    /// failures of `GET /health`, of SLO kind `kind`.
    pub(crate) fn report_outcomes(
        &mut self,
        id: &str,
        seq: u64,
        (ok, failed): (u64, u64),
        kind: Option<lv_common::kind::SloKind>,
        last: bool,
    ) {
        let mut stats = StatsSet::default();
        for i in 0..ok + failed {
            let error = (i < failed).then_some("HTTP 500");
            stats.record_request("GET", "/health", kind, LATENCY_US, 10, error);
        }
        let run_id = self.coord.ledger.run_id().to_owned();
        self.send_report(id, &run_id, seq, stats, last);
    }

    /// Worker `id` sends report `seq` of the current run for stage `stage` (1-based): `ok`
    /// successes and `failed` failures of `GET /health`.
    pub(crate) fn report_in_stage(
        &mut self,
        id: &str,
        seq: u64,
        stage: u32,
        (ok, failed): (u64, u64),
    ) {
        let mut stats = StatsSet::default();
        for i in 0..ok + failed {
            let error = (i < failed).then_some("HTTP 500");
            stats.record_request("GET", "/health", None, LATENCY_US, 10, error);
        }
        let run_id = self.coord.ledger.run_id().to_owned();
        self.send_report_of_stage(id, &run_id, seq, stage, stats, false);
    }

    fn send_report(&mut self, id: &str, run_id: &str, seq: u64, stats: StatsSet, last: bool) {
        self.send_report_of_stage(id, run_id, seq, 0, stats, last);
    }

    fn send_report_of_stage(
        &mut self,
        id: &str,
        run_id: &str,
        seq: u64,
        stage: u32,
        stats: StatsSet,
        last: bool,
    ) {
        let report = Report {
            run_id: run_id.to_owned(),
            seq,
            start_unix_ms: 0,
            end_unix_ms: 0,
            users_running: self.assigned(id).values().sum(),
            stats,
            last,
            cut_off: 0,
            dropped_reports: 0,
            open: None,
            stage,
        };
        self.send(id, WorkerKind::Report(pb::StatsReport::from(&report)));
    }

    /// `id` refuses the assignment of `run_id` (the current one when `None`) and
    /// `generation` with `reason`.
    pub(crate) fn reject(&mut self, id: &str, run_id: Option<&str>, generation: u64, reason: &str) {
        let rejection = pb::Rejection {
            run_id: run_id.map_or_else(|| self.coord.ledger.run_id().to_owned(), str::to_owned),
            generation,
            reason: reason.to_owned(),
        };
        self.send(id, WorkerKind::Rejection(rejection));
    }

    fn send(&mut self, id: &str, kind: WorkerKind) {
        let conn = self.worker(id).conn;
        self.coord.on_event(Event::Message {
            worker_id: id.to_owned(),
            conn,
            message: Box::new(pb::WorkerMessage { kind: Some(kind) }),
        });
    }

    /// Asks the run to stop, as Ctrl-C does.
    pub(crate) fn stop(&mut self) {
        self.coord.on_stop_request();
    }

    /// The run is over.
    pub(crate) fn is_done(&self) -> bool {
        self.coord.is_done()
    }

    /// Ends the run as `run` does (Shutdown to everyone); returns its result and what
    /// each worker received, by worker id.
    pub(crate) fn finish(mut self) -> Finished {
        let ids: Vec<String> = self.workers.keys().cloned().collect();
        let result = self.coord.finish();
        let mut received = BTreeMap::new();
        for id in ids {
            if let Some(mut worker) = self.workers.remove(&id) {
                worker.drain();
                received.insert(id, worker.inbox);
            }
        }
        Finished { result, received }
    }

    /// Everything worker `id` received so far on its current connection.
    pub(crate) fn received(&mut self, id: &str) -> &[Received] {
        self.worker(id).drain()
    }

    /// The messages worker `id` received for which `pick` returns something.
    pub(crate) fn picked<T>(
        &mut self,
        id: &str,
        pick: impl Fn(&MasterKind) -> Option<T>,
    ) -> Vec<T> {
        self.received(id)
            .iter()
            .filter_map(|r| match r {
                Received::Message(kind) => pick(kind),
                Received::Closed(_) => None,
            })
            .collect()
    }

    /// The assignments worker `id` received, oldest first.
    pub(crate) fn assignments(&mut self, id: &str) -> Vec<pb::Assignment> {
        self.picked(id, |m| match m {
            MasterKind::Assignment(a) => Some(a.clone()),
            _ => None,
        })
    }

    /// Users per class of worker `id`'s last assignment (empty before any).
    pub(crate) fn assigned(&mut self, id: &str) -> ClassUsers {
        self.assignments(id)
            .last()
            .map(|a| a.users.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }

    /// Total users of each worker's last assignment, by worker id.
    pub(crate) fn totals(&mut self) -> Vec<u32> {
        let ids: Vec<String> = self.workers.keys().cloned().collect();
        ids.iter()
            .map(|id| self.assigned(id).values().sum())
            .collect()
    }

    /// How many Stops worker `id` received.
    pub(crate) fn stops(&mut self, id: &str) -> usize {
        self.picked(id, |m| matches!(m, MasterKind::Stop(_)).then_some(()))
            .len()
    }

    /// The sequence numbers acknowledged to worker `id`, in order.
    pub(crate) fn acks(&mut self, id: &str) -> Vec<u64> {
        self.picked(id, |m| match m {
            MasterKind::Ack(ack) => Some(ack.seq),
            _ => None,
        })
    }

    /// Where the master thinks worker `id` stands.
    pub(crate) fn state(&self, id: &str) -> Option<WorkerState> {
        self.coord.workers.get(id).map(|w| w.state)
    }

    /// Requests merged into the run so far.
    pub(crate) fn requests(&self) -> u64 {
        self.coord.stats.totals.request_count()
    }

    fn worker(&mut self, id: &str) -> &mut FakeWorker {
        self.workers
            .get_mut(id)
            .unwrap_or_else(|| panic!("no fake worker {id}; attach it first"))
    }
}

/// `n` milliseconds.
pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
