//! The swarm's tasks: its users, spawned on their own and counted by the [`Departure`]
//! each one's `Member` sends when it leaves, and its other tasks (the open model's
//! executor) in a `JoinSet`.
//!
//! Memory per user: a `JoinSet` entry was 56 bytes on the heap (64 with glibc's header)
//! beside each user's task; a departure costs nothing while the user lives. The swarm
//! keeps a user's abort handle in its class's active list, and those of users retired in
//! the middle of a task in `leaving`, until they are gone, so that a stop can still abort
//! every user that outlives its grace periods.

use std::future::Future;

use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};

use crate::user::Departure;

/// The swarm's tasks.
pub(super) struct Crew {
    /// The open model's executor, and any other task that is not a user.
    others: JoinSet<()>,
    /// Where users say they left; squads get `report`.
    departures: mpsc::UnboundedReceiver<Departure>,
    report: mpsc::UnboundedSender<Departure>,
    /// User tasks spawned and not departed yet.
    users: usize,
    /// Users retired in the middle of a task: they leave at its end, or a stop aborts them.
    leaving: Vec<AbortHandle>,
    /// `leaving`'s length after its last pruning (of users gone meanwhile).
    pruned: usize,
}

impl Crew {
    /// No task yet.
    pub(super) fn new() -> Crew {
        let (report, departures) = mpsc::unbounded_channel();
        Crew {
            others: JoinSet::new(),
            departures,
            report,
            users: 0,
            leaving: Vec::new(),
            pruned: 0,
        }
    }

    /// Where a squad's users report their departure.
    pub(super) fn report(&self) -> mpsc::UnboundedSender<Departure> {
        self.report.clone()
    }

    /// Spawns a user (whose `Member` reports to [`Crew::report`]): its abort handle.
    pub(super) fn spawn_user<F>(&mut self, user: F) -> AbortHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.users += 1;
        tokio::spawn(user).abort_handle()
    }

    /// Spawns a task that is not a user.
    pub(super) fn spawn_other<F>(&mut self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.others.spawn(task);
    }

    /// Keeps the abort handles of users retired in the middle of a task, until they leave.
    pub(super) fn keep_leaving(&mut self, users: impl IntoIterator<Item = AbortHandle>) {
        self.leaving.extend(users);
        if self.leaving.len() > 2 * self.pruned + 1_024 {
            self.leaving.retain(|user| !user.is_finished());
            self.pruned = self.leaving.len();
        }
    }

    /// The next user to leave; pending while none is left to.
    pub(super) async fn next_departure(&mut self) -> Departure {
        if self.users == 0 {
            return std::future::pending().await;
        }
        match self.departures.recv().await {
            Some(departure) => {
                self.users -= 1;
                departure
            }
            // The crew keeps a sender itself, so the channel cannot close.
            None => std::future::pending().await,
        }
    }

    /// Tasks not ended yet: users and the others.
    pub(super) fn len(&self) -> usize {
        self.users + self.others.len()
    }

    /// Waits until every task has ended, the departed users handed to `departed`.
    pub(super) async fn join_all(&mut self, mut departed: impl FnMut(Departure)) {
        while self.users > 0 {
            departed(self.next_departure().await);
        }
        while self.others.join_next().await.is_some() {}
        self.leaving.clear();
        self.pruned = 0;
    }

    /// Aborts every user retired in the middle of a task, and every other task (the
    /// active users' handles are their lists').
    pub(super) fn abort_leaving(&mut self) {
        for user in self.leaving.drain(..) {
            user.abort();
        }
        self.pruned = 0;
        self.others.abort_all();
    }
}
