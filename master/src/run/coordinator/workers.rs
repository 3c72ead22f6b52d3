//! The worker table: every worker the run knows, its liveness (attach, silence, loss),
//! the reports it sent and its share of the users.
//!
//! The table changes its entries and sends to their streams; what the run makes of a
//! change (a new split, a below-target period, an abort) is the coordinator's call, so
//! the methods here return what happened instead of acting on it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lv_common::pb::{self, master_message::Kind as MasterKind};
use lv_common::quota;
use lv_common::wire::Report;
use tokio::time::Instant;
use tonic::Status;
use tracing::{debug, info, warn};

use crate::report::summary::WorkerSummary;
use crate::report::summary::resources::ResourceTrack;
use crate::run::registry::{Outbound, Registry, WorkerEntry, WorkerState};

mod fd;
#[cfg(test)]
mod tests;

/// What an attach found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Attach {
    /// The worker was known before (a reconnect).
    pub(super) rejoined: bool,
    /// It had been declared lost (or is new), so it was not part of the split.
    pub(super) was_lost: bool,
    /// The highest report sequence it may forget.
    pub(super) acked_seq: u64,
}

/// The workers of a run, by id, and what the table remembers about them.
#[derive(Debug, Default)]
pub(super) struct WorkerTable {
    entries: Registry,
    /// Workers of the resumed checkpoint that have not come back yet.
    awaited: BTreeSet<String>,
    /// Workers already warned that their share exceeds their connection budget.
    warned_fd: BTreeSet<String>,
}

impl WorkerTable {
    /// An empty table.
    pub(super) fn new() -> WorkerTable {
        WorkerTable::default()
    }

    /// Every entry, by id.
    pub(super) fn entries(&self) -> &Registry {
        &self.entries
    }

    /// The entries, for the run's result.
    pub(super) fn into_entries(self) -> Registry {
        self.entries
    }

    /// The entry of `id`.
    pub(super) fn get(&self, id: &str) -> Option<&WorkerEntry> {
        self.entries.get(id)
    }

    /// Workers connected and heard from within the timeout.
    pub(super) fn active(&self) -> usize {
        self.count(|w| w.state == WorkerState::Active)
    }

    /// Workers that count toward the split (not lost).
    pub(super) fn member_count(&self) -> usize {
        self.count(WorkerEntry::is_member)
    }

    /// Ids of the workers that count toward the split, in id order.
    pub(super) fn members(&self) -> Vec<String> {
        self.entries
            .values()
            .filter(|w| w.is_member())
            .map(|w| w.id.clone())
            .collect()
    }

    /// Workers of the run whose last report is still due and that may still send it.
    pub(super) fn awaiting_final(&self) -> usize {
        self.count(|w| w.in_run && !w.final_received && w.is_member())
    }

    /// Users the members say are running.
    pub(super) fn users_running(&self) -> u32 {
        self.entries
            .values()
            .filter(|w| w.is_member())
            .map(|w| w.users_running)
            .sum()
    }

    fn count(&self, pred: impl Fn(&WorkerEntry) -> bool) -> usize {
        self.entries.values().filter(|w| pred(w)).count()
    }

    /// Records `hello`'s worker as active on connection `conn` at `now`, new or back.
    pub(super) fn attach(
        &mut self,
        hello: &pb::Hello,
        conn: u64,
        tx: Outbound,
        now: Instant,
    ) -> Attach {
        let rejoined = self.entries.contains_key(&hello.worker_id);
        let worker = self
            .entries
            .entry(hello.worker_id.clone())
            .or_insert_with(|| WorkerEntry::new(hello, conn, tx.clone(), now));
        let was_lost = !worker.is_member();
        // A new connection may be a new process: its next assignment goes out whatever it holds.
        worker.share = None;
        worker.conn = Some((conn, tx));
        worker.state = WorkerState::Active;
        worker.last_seen = now;
        Attach {
            rejoined,
            was_lost,
            acked_seq: worker.acked_seq,
        }
    }

    /// `id`'s connection `conn` ended: an active worker becomes missing at `now`.
    pub(super) fn detach(&mut self, id: &str, conn: u64, reason: &str, now: Instant) {
        let Some(worker) = self.entries.get_mut(id) else {
            return;
        };
        if worker.conn.as_ref().is_some_and(|(c, _)| *c == conn) {
            info!(worker_id = id, %reason, "worker disconnected");
            worker.conn = None;
            if worker.state == WorkerState::Active {
                worker.state = WorkerState::Missing { since: now };
            }
        }
    }

    /// A message came from `id` on `conn` at `now`: false when that is not its current
    /// connection (the message is then ignored); else it is seen, and active again.
    pub(super) fn touch(&mut self, id: &str, conn: u64, now: Instant) -> bool {
        let Some(worker) = self.entries.get_mut(id) else {
            return false;
        };
        if worker.conn.as_ref().is_none_or(|(c, _)| *c != conn) {
            return false;
        }
        worker.last_seen = now;
        if let WorkerState::Missing { .. } = worker.state {
            worker.state = WorkerState::Active;
        }
        true
    }

    /// `id`'s heartbeat at `at_ms` (Unix ms): the users it runs, its own load (counted in
    /// the run's peaks and overloads when `measuring`) and, when it is about run `run_id`,
    /// the users that ran their iterations.
    pub(super) fn heard(
        &mut self,
        id: &str,
        beat: &pb::Heartbeat,
        run_id: &str,
        (at_ms, measuring): (i64, bool),
    ) {
        if let Some(worker) = self.entries.get_mut(id) {
            worker.users_running = beat.users_running;
            if let Some(resources) = &beat.resources {
                worker.resources.observe(resources, at_ms, measuring);
            }
            if beat.run_id == run_id {
                worker.users_finished = beat.users_finished;
                worker.finished_generation = beat.generation;
            }
        }
    }

    /// Whether the users of every member's last assignment ran their iterations.
    pub(super) fn all_finished(&self) -> bool {
        self.entries
            .values()
            .filter(|w| w.is_member())
            .all(WorkerEntry::finished)
    }

    /// Users of the members' last assignments that ran their iterations.
    pub(super) fn users_finished(&self) -> u32 {
        self.entries
            .values()
            .filter(|w| w.is_member() && w.finished_generation == w.generation)
            .map(|w| w.users_finished.min(w.assigned()))
            .sum()
    }

    /// Ends `id`'s stream with `status`.
    pub(super) fn disconnect(&mut self, id: &str, status: Status) {
        if let Some(worker) = self.entries.get_mut(id) {
            worker.disconnect(status);
        }
    }

    /// Sends `beat` to the active workers and returns, in id order, those silent (or
    /// missing) past `timeout` at `now`; the silent ones are disconnected.
    pub(super) fn beat(
        &mut self,
        now: Instant,
        timeout: Duration,
        beat: &pb::Heartbeat,
    ) -> Vec<String> {
        let mut lost = Vec::new();
        for worker in self.entries.values_mut() {
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
        lost
    }

    /// Declares `lost` lost at `now` (`now_ms` on the wall clock), their users dropped;
    /// returns those that had users, with when they were last heard from.
    pub(super) fn mark_lost(
        &mut self,
        lost: &[String],
        now: Instant,
        now_ms: i64,
    ) -> Vec<(String, Instant)> {
        let mut dropped = Vec::new();
        for id in lost {
            if let Some(worker) = self.entries.get_mut(id) {
                warn!(worker_id = %id, hostname = %worker.hostname, "worker lost: silent past the heartbeat timeout");
                worker.state = WorkerState::Lost { at: now };
                worker.lost_unix_ms = Some(now_ms);
                if worker.assigned() > 0 {
                    dropped.push((id.clone(), worker.last_seen));
                }
                worker.users.clear();
                worker.share = None;
                worker.users_running = 0;
                worker.users_finished = 0;
            }
        }
        dropped
    }

    /// Takes in the workers of a resumed checkpoint at `now`, missing until they attach
    /// (lost ones stay lost), each with its merged sequence from `seqs`; returns how many
    /// are awaited.
    pub(super) fn restore(
        &mut self,
        workers: &[WorkerSummary],
        seqs: &BTreeMap<String, u64>,
        now: Instant,
    ) -> usize {
        for worker in workers {
            let seq = seqs.get(&worker.core.id).copied().unwrap_or(0);
            let mut entry = WorkerEntry::restored(&worker.core.id, &worker.core.hostname, seq, now);
            if let Some(resources) = &worker.resources {
                entry.resources = ResourceTrack::restored(resources);
            }
            if worker.core.state == "lost" {
                entry.state = WorkerState::Lost { at: now };
                entry.lost_unix_ms = worker.lost_unix_ms;
                entry.in_run = false;
            } else {
                self.awaited.insert(worker.core.id.clone());
            }
            self.entries.insert(worker.core.id.clone(), entry);
        }
        self.awaited.len()
    }

    /// `id` attached: true when the resumed checkpoint awaited it (once).
    pub(super) fn back(&mut self, id: &str) -> bool {
        self.awaited.remove(id)
    }

    /// Takes in `id`'s report of run `run_id`, acknowledging it at once when `ack`;
    /// returns it when it is new (not merged before). A report that cannot be decoded
    /// disconnects the worker.
    pub(super) fn accept_report(
        &mut self,
        id: &str,
        raw: pb::StatsReport,
        run_id: &str,
        ack: bool,
    ) -> Option<Report> {
        let worker = self.entries.get_mut(id)?;
        let report = match Report::try_from(raw) {
            Ok(report) => report,
            Err(err) => {
                warn!(worker_id = id, "{err}; disconnecting the worker");
                worker.disconnect(err.into());
                return None;
            }
        };
        if report.run_id != run_id {
            debug!(worker_id = id, run_id = %report.run_id, "report of another run ignored");
            return None;
        }
        worker.users_running = report.users_running;
        worker.last_report_unix_ms = Some(report.end_unix_ms);
        let fresh = report.seq > worker.max_seq;
        if fresh {
            worker.max_seq = report.seq;
            worker.final_received |= report.last;
        }
        if ack {
            worker.acked_seq = worker.max_seq;
            worker.send(MasterKind::Ack(pb::ReportAck {
                run_id: run_id.to_owned(),
                seq: worker.max_seq,
            }));
        }
        fresh.then_some(report)
    }

    /// Acknowledges to every worker the reports merged so far (a checkpoint holds them).
    pub(super) fn ack_merged(&mut self, run_id: &str) {
        for worker in self.entries.values_mut() {
            if worker.max_seq > worker.acked_seq {
                let ack = pb::ReportAck {
                    run_id: run_id.to_owned(),
                    seq: worker.max_seq,
                };
                if worker.send(MasterKind::Ack(ack)) {
                    worker.acked_seq = worker.max_seq;
                }
            }
        }
    }

    /// The highest report sequence merged from each worker.
    pub(super) fn merged_seqs(&self) -> BTreeMap<String, u64> {
        self.entries
            .values()
            .map(|w| (w.id.clone(), w.max_seq))
            .collect()
    }

    /// Splits `users` (over classes of `weights`) and `spawn_rate` over `members`.
    pub(super) fn split(
        &mut self,
        members: &[String],
        users: u32,
        weights: &[(String, u32)],
        spawn_rate: f64,
    ) {
        let shares = quota::assign(users, weights, members.len());
        let totals: Vec<u32> = shares.iter().map(|s| s.values().sum()).collect();
        let rates = quota::split_rate(spawn_rate, &totals);
        for ((id, users), rate) in members.iter().zip(&shares).zip(&rates) {
            if let Some(worker) = self.entries.get_mut(id) {
                worker.users = users.clone();
                worker.spawn_rate = *rate;
            }
        }
    }

    /// Open model: `members` run no users, each at `spawn_rate`.
    pub(super) fn clear_users(&mut self, members: &[String], spawn_rate: f64) {
        for id in members {
            if let Some(worker) = self.entries.get_mut(id) {
                worker.users.clear();
                worker.spawn_rate = spawn_rate;
            }
        }
    }

    /// Sends `assignment` (of `generation`, carrying `share`) to `id`, which is now part of
    /// the run.
    pub(super) fn deliver(
        &mut self,
        id: &str,
        assignment: pb::Assignment,
        (generation, share): (u64, pb::Assignment),
    ) {
        let Some(worker) = self.entries.get_mut(id) else {
            return;
        };
        let (users, rate) = (worker.assigned(), worker.spawn_rate);
        worker.in_run = true;
        // The generation the run holds it to, even when it is away: it counts (iterations,
        // refusals) once the worker has it. The share is known to be held only once sent.
        worker.generation = generation;
        if worker.send(MasterKind::Assignment(assignment)) {
            worker.share = Some(share);
            debug!(worker_id = id, users, rate, generation, "assignment sent");
        } else {
            worker.share = None;
        }
    }

    /// Sends `message` to `id`.
    pub(super) fn send(&mut self, id: &str, message: MasterKind) {
        if let Some(worker) = self.entries.get_mut(id) {
            worker.send(message);
        }
    }

    /// Sends `message` to every worker.
    pub(super) fn broadcast(&mut self, message: &MasterKind) {
        for worker in self.entries.values_mut() {
            worker.send(message.clone());
        }
    }

    /// Sends every worker a Shutdown and lets go of its stream.
    pub(super) fn shut_down(&mut self) {
        for worker in self.entries.values_mut() {
            worker.send(MasterKind::Shutdown(pb::Shutdown {
                reason: "the run is over".into(),
            }));
            worker.conn = None;
        }
    }

    /// A new run in the same master: lost workers are forgotten, the others start afresh.
    pub(super) fn reset_for_run(&mut self) {
        self.entries.retain(|_, w| w.is_member());
        for worker in self.entries.values_mut() {
            worker.max_seq = 0;
            worker.in_run = false;
            worker.generation = 0;
            worker.share = None;
            worker.final_received = false;
            worker.users.clear();
            worker.users_finished = 0;
            worker.last_report_unix_ms = None;
            worker.lost_unix_ms = None;
            worker.resources = ResourceTrack::default();
        }
    }

    /// The run is over: no worker owes it a report.
    pub(super) fn leave_run(&mut self) {
        for worker in self.entries.values_mut() {
            worker.in_run = false;
        }
    }
}
