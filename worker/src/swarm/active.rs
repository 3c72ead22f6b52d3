//! A run's active users: per class, in squads that share a plan and connections, oldest
//! first, so the newest are the first to retire; and how many of the class's users
//! finished their iterations (`-i`) and left.

use std::num::NonZeroU32;
use std::sync::Arc;

use lv_common::plan::ClassPlan;
use tokio::task::{AbortHandle, Id};
use tokio_util::sync::CancellationToken;

use crate::data::RunData;
use crate::http::HttpClient;
use crate::recorder::Recorder;
use crate::user::{Squad, UserEnv};

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
                squad: Squad::with_iterations(
                    env,
                    run.stop.clone(),
                    run.kill.clone(),
                    run.iterations,
                ),
                users: Vec::new(),
            });
        }
        let last = self.squads.len() - 1;
        &mut self.squads[last]
    }

    /// Retires the newest users beyond `want`: they leave at their next task boundary,
    /// and those waiting between tasks leave now.
    pub(super) fn retire_beyond(&mut self, want: usize) {
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
            active.squad.retire_from(first, |ordinal| {
                if let Ok(i) = gone.binary_search_by_key(&ordinal, |&(_, o)| o) {
                    gone[i].0.abort();
                }
            });
        }
    }

    /// Forgets a user whose task ended, counting it as finished when it is listed and
    /// `finished` (it ran its iterations).
    pub(super) fn remove(&mut self, id: Id, finished: bool) {
        let before = self.len();
        for active in &mut self.squads {
            active.users.retain(|(user, _)| user.id() != id);
        }
        if finished && self.len() < before {
            self.finished += 1;
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
}
