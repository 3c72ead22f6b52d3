//! A run's active users: per class, in squads that share a plan and connections, oldest
//! first, so the newest are the first to retire; and how many of the class's users
//! finished their iterations (`-i`) and left.

use std::num::NonZeroU32;
use std::sync::Arc;

use lv_common::plan::ClassPlan;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;

use crate::data::RunData;
use crate::http::HttpClient;
use crate::recorder::Recorder;
use crate::user::{Departure, Squad, UserEnv};

/// The active users of one class, oldest first, in squads: a new squad starts when the
/// class's plan (or `connection_per_user`) changes within the run.
#[derive(Default)]
pub(super) struct ActiveUsers {
    squads: Vec<ActiveSquad>,
    /// Users of the class that ran their iterations and left.
    finished: usize,
}

/// The active users of one squad: each one's task and ordinal, oldest first.
pub(super) struct ActiveSquad {
    pub(super) squad: Arc<Squad>,
    pub(super) users: Vec<(AbortHandle, u64)>,
}

impl ActiveUsers {
    pub(super) fn len(&self) -> usize {
        self.squads.iter().map(|s| s.users.len()).sum()
    }

    /// Users that ran their iterations and left.
    pub(super) fn finished(&self) -> usize {
        self.finished
    }

    /// Users active or finished: those the class's target need not start again.
    pub(super) fn done(&self) -> usize {
        self.len() + self.finished
    }

    /// The squad for a new user running with `class`, started anew if the plan changed.
    pub(super) fn squad_for(
        &mut self,
        class: &Arc<ClassPlan>,
        run: &RunEnv<'_>,
    ) -> &mut ActiveSquad {
        let current = self.squads.last().is_some_and(|s| {
            let env = s.squad.env();
            Arc::ptr_eq(env.class(), class)
                && env.own_connections == run.own_connections
                && s.squad.iterations() == run.iterations
        });
        if !current {
            // Squads left empty by retirements are forgotten.
            self.squads.retain(|s| !s.users.is_empty());
            let env = UserEnv::new(
                Arc::clone(class),
                run.client.clone(),
                run.recorder.clone(),
                run.own_connections,
            )
            .with_data(Arc::clone(run.data));
            self.squads.push(ActiveSquad {
                squad: Squad::reporting(
                    env,
                    run.stop.clone(),
                    run.kill.clone(),
                    run.iterations,
                    Some(run.departures.clone()),
                ),
                users: Vec::new(),
            });
        }
        let last = self.squads.len() - 1;
        &mut self.squads[last]
    }

    /// Retires the newest users beyond `want`: they leave at their next task boundary,
    /// and those waiting between tasks leave now. Returns the abort handles of the others.
    pub(super) fn retire_beyond(&mut self, want: usize) -> Vec<AbortHandle> {
        let mut leaving = Vec::new();
        let mut excess = self.len().saturating_sub(want);
        for active in self.squads.iter_mut().rev() {
            if excess == 0 {
                break;
            }
            let keep = active.users.len().saturating_sub(excess);
            excess -= active.users.len() - keep;
            let gone = active.users.split_off(keep);
            let Some(&(_, first)) = gone.first() else {
                continue;
            };
            // The newest users have the highest ordinals: retiring from the oldest of them
            // retires exactly them.
            let mut waiting = Vec::new();
            active
                .squad
                .retire_from(first, |ordinal| waiting.push(ordinal));
            // Both in ordinal order.
            let mut waiting = waiting.into_iter().peekable();
            for (user, ordinal) in gone {
                while waiting.next_if(|&w| w < ordinal).is_some() {}
                if waiting.next_if_eq(&ordinal).is_some() {
                    user.abort();
                } else {
                    leaving.push(user);
                }
            }
        }
        leaving
    }

    /// Forgets a user that left, if it is listed here, counting it as finished unless it
    /// panicked (a listed user leaves on its own only after its iterations, `-i`, or when
    /// it could not start: then it is done, not missing; one that panicked is replaced).
    pub(super) fn depart(&mut self, departure: &Departure) {
        let Some(active) = self
            .squads
            .iter_mut()
            .find(|s| Arc::ptr_eq(&s.squad, &departure.squad))
        else {
            return;
        };
        if let Ok(i) = active
            .users
            .binary_search_by_key(&departure.ordinal, |&(_, o)| o)
        {
            active.users.remove(i);
            if !departure.panicked {
                self.finished += 1;
            }
        }
    }
}

/// What a new squad takes from the run and the swarm.
pub(super) struct RunEnv<'a> {
    pub(super) client: &'a HttpClient,
    pub(super) recorder: &'a Recorder,
    pub(super) own_connections: bool,
    pub(super) iterations: Option<NonZeroU32>,
    pub(super) stop: &'a CancellationToken,
    pub(super) kill: &'a CancellationToken,
    pub(super) data: &'a Arc<RunData>,
    /// Where the squad's users report their departure.
    pub(super) departures: &'a UnboundedSender<Departure>,
}
