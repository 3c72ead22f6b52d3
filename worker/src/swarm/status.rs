//! What the swarm is doing, readable by the connection without asking the actor: users
//! running, whether a run is assigned, its id, and how many of its users finished their
//! iterations.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};

/// Users of an assignment that ran their iterations (`-i`) and left.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Finished {
    /// The generation of the assignment they count against (0 before any).
    pub generation: u64,
    /// Per class, the users that finished, up to the class's share; summed.
    pub users: u32,
}

/// What the swarm is doing, readable without asking the actor.
#[derive(Debug, Default)]
pub struct SwarmStatus {
    users: AtomicU32,
    /// A run is assigned and not stopped: users, or an open-model executor firing arrivals.
    running: AtomicBool,
    run_id: Mutex<Option<String>>,
    /// One lock for both numbers, so a reader never pairs a count with another generation.
    finished: Mutex<Finished>,
}

impl SwarmStatus {
    /// Users currently running (retiring users not counted).
    pub fn users_running(&self) -> u32 {
        self.users.load(Ordering::Relaxed)
    }

    /// Whether a run is assigned and not stopped: it may be sending load even with no
    /// users (the open model runs none).
    pub fn has_run(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// The run the users belong to, if any are running or were last assigned.
    pub fn run_id(&self) -> Option<String> {
        self.run_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The users of the current assignment that finished their iterations.
    pub fn finished(&self) -> Finished {
        *self.finished.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn set_run_id(&self, run_id: Option<String>) {
        *self.run_id.lock().unwrap_or_else(PoisonError::into_inner) = run_id;
    }

    /// Publishes the users running, whether a run is assigned, and the finished users.
    pub(super) fn set(&self, users: u32, running: bool, finished: Finished) {
        self.users.store(users, Ordering::Relaxed);
        self.running.store(running, Ordering::Relaxed);
        *self.finished.lock().unwrap_or_else(PoisonError::into_inner) = finished;
    }
}
