//! The workers a master knows: their connection, liveness, assignment and the last
//! report sequence merged from each. Owned by the coordinator; no locks.

use std::collections::BTreeMap;

use lv_common::pb;
use lv_common::quota::ClassUsers;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tonic::Status;

use crate::report::summary::resources::ResourceTrack;

/// Messages to one worker's stream.
pub type Outbound = mpsc::Sender<Result<pb::MasterMessage, Status>>;

/// Where a worker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerState {
    /// Connected and heard from within the timeout.
    Active,
    /// Disconnected or silent, not yet past the timeout; keeps its share.
    Missing {
        /// When it went missing.
        since: Instant,
    },
    /// Gone past the timeout; its users were given to the others.
    Lost {
        /// When it was declared lost.
        at: Instant,
    },
}

impl WorkerState {
    /// `active`, `missing` or `lost`.
    pub fn label(&self) -> &'static str {
        match self {
            WorkerState::Active => "active",
            WorkerState::Missing { .. } => "missing",
            WorkerState::Lost { .. } => "lost",
        }
    }
}

/// One worker.
#[derive(Debug)]
pub struct WorkerEntry {
    /// Worker id.
    pub id: String,
    /// Its host name.
    pub hostname: String,
    /// Its current stream: connection number and sender.
    pub conn: Option<(u64, Outbound)>,
    /// Liveness.
    pub state: WorkerState,
    /// Last message received.
    pub last_seen: Instant,
    /// Users it should run now.
    pub users: ClassUsers,
    /// Its share of the spawn rate, users per second.
    pub spawn_rate: f64,
    /// Users it says are running.
    pub users_running: u32,
    /// Users of its assignment of `finished_generation` it says ran their iterations (`-i`).
    pub users_finished: u32,
    /// The generation `users_finished` counts against.
    pub finished_generation: u64,
    /// Highest report sequence merged for the current run.
    pub max_seq: u64,
    /// Highest report sequence acknowledged to the worker, which then forgets it: the
    /// merged one, or with `--checkpoint` the one the last checkpoint holds.
    pub acked_seq: u64,
    /// It received an assignment of the run (so a final report is due at the stop).
    pub in_run: bool,
    /// The generation of the last assignment meant for it (0 before any).
    pub generation: u64,
    /// Its share in the last assignment its current connection took (the assignment
    /// without the generation, plan and run time), so an unchanged one is not sent again.
    pub share: Option<pb::Assignment>,
    /// Its last report of the run arrived.
    pub final_received: bool,
    /// When its last report arrived, Unix ms.
    pub last_report_unix_ms: Option<i64>,
    /// When it was declared lost, Unix ms.
    pub lost_unix_ms: Option<i64>,
    /// Open-file limit it reported (0 when unknown).
    pub fd_limit: u64,
    /// Its own load, from its heartbeats.
    pub resources: ResourceTrack,
}

impl WorkerEntry {
    /// A freshly attached worker.
    pub fn new(hello: &pb::Hello, conn: u64, tx: Outbound, now: Instant) -> WorkerEntry {
        WorkerEntry {
            id: hello.worker_id.clone(),
            hostname: hello.hostname.clone(),
            conn: Some((conn, tx)),
            state: WorkerState::Active,
            last_seen: now,
            users: ClassUsers::new(),
            spawn_rate: 0.0,
            users_running: 0,
            users_finished: 0,
            finished_generation: 0,
            max_seq: 0,
            acked_seq: 0,
            in_run: false,
            generation: 0,
            share: None,
            final_received: false,
            last_report_unix_ms: None,
            lost_unix_ms: None,
            fd_limit: hello.fd_limit,
            resources: ResourceTrack::default(),
        }
    }

    /// A worker of a resumed checkpoint, not connected (yet): missing since `now`, its
    /// reports merged up to `max_seq`.
    pub fn restored(id: &str, hostname: &str, max_seq: u64, now: Instant) -> WorkerEntry {
        WorkerEntry {
            id: id.to_owned(),
            hostname: hostname.to_owned(),
            conn: None,
            state: WorkerState::Missing { since: now },
            last_seen: now,
            users: ClassUsers::new(),
            spawn_rate: 0.0,
            users_running: 0,
            users_finished: 0,
            finished_generation: 0,
            max_seq,
            acked_seq: max_seq,
            in_run: true,
            generation: 0,
            share: None,
            final_received: false,
            last_report_unix_ms: None,
            lost_unix_ms: None,
            fd_limit: 0,
            resources: ResourceTrack::default(),
        }
    }

    /// Sends without waiting; false (and the connection dropped) when the worker cannot keep up or is gone.
    pub fn send(&mut self, message: pb::master_message::Kind) -> bool {
        let Some((_, tx)) = &self.conn else {
            return false;
        };
        let message = pb::MasterMessage {
            kind: Some(message),
        };
        if tx.try_send(Ok(message)).is_ok() {
            return true;
        }
        self.conn = None;
        self.mark_missing();
        false
    }

    /// Ends the worker's stream with an error status.
    pub fn disconnect(&mut self, status: Status) {
        if let Some((_, tx)) = self.conn.take() {
            let _ = tx.try_send(Err(status));
        }
        self.mark_missing();
    }

    /// An active worker without a stream is missing from its last message on: it keeps
    /// its share until the timeout, and no longer counts as connected.
    pub fn mark_missing(&mut self) {
        if self.state == WorkerState::Active {
            self.state = WorkerState::Missing {
                since: self.last_seen,
            };
        }
    }

    /// Counts toward the user split (not lost).
    pub fn is_member(&self) -> bool {
        !matches!(self.state, WorkerState::Lost { .. })
    }

    /// Total users assigned.
    pub fn assigned(&self) -> u32 {
        self.users.values().sum()
    }

    /// Whether every user of the last assignment sent to it ran its iterations (true for a
    /// worker with no users).
    pub fn finished(&self) -> bool {
        let assigned = self.assigned();
        assigned == 0
            || (self.finished_generation == self.generation && self.users_finished >= assigned)
    }
}

/// Workers by id (sorted, so quota splits are stable).
pub type Registry = BTreeMap<String, WorkerEntry>;
