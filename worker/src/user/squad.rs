//! What the users of one class share in one run, so that each user holds only a pointer and
//! a number: a [`Squad`] keeps the users' [`UserEnv`], the run's stop and kill signals, and
//! which of its users are retired or waiting; a [`Member`] is one user's place in it.
//!
//! A lowered count retires the newest users, so each lowering retires one range of
//! ordinals (the order users were enlisted in), from the oldest user it retires to the last
//! one enlisted; the squad keeps those ranges. A user checks them at each task boundary.
//! A waiting user is between tasks, so it may leave at once: it marks itself waiting for
//! the length of its pause, and whoever retires it gets it back from
//! [`Squad::retire_from`] to abort its task (dropping the pause). Marking and retiring take
//! the same lock, so a user that wakes up and unmarks itself either sees it was retired and
//! leaves, or was not retired and may start its next task.
//!
//! Memory per user: a waiting user's future holds its pause and a [`Member`], where a child
//! `CancellationToken` per user was a 112-byte node on the heap plus a 104-byte watch
//! inside the future.

use std::num::NonZeroU32;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::env::UserEnv;

/// The users of one class in one run: what they share, and which are retired or waiting.
#[derive(Debug)]
pub struct Squad {
    env: UserEnv,
    /// The run's graceful stop: a stop retires every user.
    stop: CancellationToken,
    /// The run's immediate stop.
    kill: CancellationToken,
    /// Tasks each user runs before it leaves (`None`: no limit).
    iterations: Option<NonZeroU32>,
    /// Whether any user was retired (spares the lock while none was).
    any_retired: AtomicBool,
    /// The ordinal of the next user to enlist.
    next: AtomicU64,
    roll: Mutex<Roll>,
    /// Where a user says it left (its task ended or was aborted), if anyone listens.
    departures: Option<UnboundedSender<Departure>>,
}

/// A user whose task ended, said by its [`Member`] when dropped: the swarm lists its users
/// by squad and ordinal, and counts its tasks by these (no `JoinSet` entry per user).
#[derive(Debug)]
pub struct Departure {
    /// The user's squad.
    pub squad: Arc<Squad>,
    /// Its ordinal there.
    pub ordinal: u64,
    /// Whether it left by a panic (else it returned, or its task was aborted).
    pub panicked: bool,
}

/// Which users are retired and which are waiting, by ordinal.
#[derive(Debug, Default)]
struct Roll {
    /// Retired ordinals: sorted, disjoint, half-open ranges.
    retired: Vec<Range<u64>>,
    /// One bit per ordinal: set while that user waits between tasks.
    waiting: Vec<u64>,
}

impl Roll {
    fn is_retired(&self, ordinal: u64) -> bool {
        let after = self.retired.partition_point(|r| r.start <= ordinal);
        after > 0 && self.retired[after - 1].contains(&ordinal)
    }

    /// Sets or clears `ordinal`'s waiting bit; returns whether it was set.
    fn mark_waiting(&mut self, ordinal: u64, waiting: bool) -> bool {
        let (word, bit) = (
            usize::try_from(ordinal / 64).unwrap_or(usize::MAX),
            ordinal % 64,
        );
        if word >= self.waiting.len() {
            if !waiting {
                return false;
            }
            self.waiting.resize(word + 1, 0);
        }
        let was = self.waiting[word] & (1 << bit) != 0;
        if waiting {
            self.waiting[word] |= 1 << bit;
        } else {
            self.waiting[word] &= !(1 << bit);
        }
        was
    }
}

impl Squad {
    /// A squad of users that run with `env`, stop gracefully on `stop` and at once on `kill`.
    pub fn new(env: UserEnv, stop: CancellationToken, kill: CancellationToken) -> Arc<Squad> {
        Squad::with_iterations(env, stop, kill, None)
    }

    /// [`Squad::new`] whose users each run `iterations` tasks, then leave (no limit when
    /// `None`).
    pub fn with_iterations(
        env: UserEnv,
        stop: CancellationToken,
        kill: CancellationToken,
        iterations: Option<NonZeroU32>,
    ) -> Arc<Squad> {
        Squad::reporting(env, stop, kill, iterations, None)
    }

    /// [`Squad::with_iterations`] whose users each send a [`Departure`] to `departures`
    /// when they leave.
    pub fn reporting(
        env: UserEnv,
        stop: CancellationToken,
        kill: CancellationToken,
        iterations: Option<NonZeroU32>,
        departures: Option<UnboundedSender<Departure>>,
    ) -> Arc<Squad> {
        Arc::new(Squad {
            env,
            stop,
            kill,
            iterations,
            any_retired: AtomicBool::new(false),
            next: AtomicU64::new(0),
            roll: Mutex::default(),
            departures,
        })
    }

    /// Enlists the next user: its ordinal is one above the last one's.
    pub fn enlist(self: &Arc<Self>) -> Member {
        Member {
            squad: Arc::clone(self),
            ordinal: self.next.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// What its users run with.
    pub fn env(&self) -> &UserEnv {
        &self.env
    }

    /// Tasks each of its users runs before it leaves (`None`: no limit).
    pub fn iterations(&self) -> Option<NonZeroU32> {
        self.iterations
    }

    /// Retires every user enlisted so far whose ordinal is `first` or above, and calls
    /// `waiting` with the ordinal of each of them that is waiting between tasks: it will not
    /// start another, so its task may be aborted.
    pub fn retire_from(&self, first: u64, mut waiting: impl FnMut(u64)) {
        let end = self.next.load(Ordering::Relaxed);
        if first >= end {
            return;
        }
        let mut roll = self.lock();
        add_range(&mut roll.retired, first..end);
        self.any_retired.store(true, Ordering::Release);
        for ordinal in first..end {
            if roll.mark_waiting(ordinal, false) {
                waiting(ordinal);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Roll> {
        self.roll.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One user's place in its squad; dropped when the user leaves, which it reports (not
/// `Clone`: one member is one user).
#[derive(Debug)]
pub struct Member {
    squad: Arc<Squad>,
    ordinal: u64,
}

impl Member {
    /// What the user runs with.
    pub fn env(&self) -> &UserEnv {
        &self.squad.env
    }

    /// The run's graceful stop: finish the request in flight, then leave.
    pub fn stop(&self) -> &CancellationToken {
        &self.squad.stop
    }

    /// The run's immediate stop: leave now.
    pub fn kill(&self) -> &CancellationToken {
        &self.squad.kill
    }

    /// Tasks the user runs before it leaves (`None`: no limit).
    pub fn iterations(&self) -> Option<NonZeroU32> {
        self.squad.iterations
    }

    /// Its ordinal in the squad (the order it was enlisted in).
    pub fn ordinal(&self) -> u64 {
        self.ordinal
    }

    /// Whether the user should leave at this task boundary: it was retired, or the run stopped.
    pub fn is_retired(&self) -> bool {
        if self.squad.stop.is_cancelled() {
            return true;
        }
        self.squad.any_retired.load(Ordering::Acquire) && self.squad.lock().is_retired(self.ordinal)
    }

    /// Marks the user waiting between tasks (its task may be aborted if it is retired);
    /// false, and not marked, when it is already retired.
    pub fn start_waiting(&self) -> bool {
        let mut roll = self.squad.lock();
        if self.squad.stop.is_cancelled() || roll.is_retired(self.ordinal) {
            return false;
        }
        roll.mark_waiting(self.ordinal, true);
        true
    }

    /// Ends the wait; false when the user was retired meanwhile (or the run stopped).
    pub fn stop_waiting(&self) -> bool {
        let mut roll = self.squad.lock();
        roll.mark_waiting(self.ordinal, false);
        !(self.squad.stop.is_cancelled() || roll.is_retired(self.ordinal))
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Some(departures) = &self.squad.departures {
            // The swarm may be gone already (the worker is exiting): nobody to tell.
            let _ = departures.send(Departure {
                squad: Arc::clone(&self.squad),
                ordinal: self.ordinal,
                panicked: std::thread::panicking(),
            });
        }
    }
}

/// Adds `range` to the sorted, disjoint `ranges`. The new range ends at or beyond every
/// range there (it ends at the next ordinal), so it absorbs those it reaches.
fn add_range(ranges: &mut Vec<Range<u64>>, mut range: Range<u64>) {
    while let Some(last) = ranges.last() {
        if last.end < range.start {
            break;
        }
        range.start = range.start.min(last.start);
        range.end = range.end.max(last.end);
        ranges.pop();
    }
    ranges.push(range);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use lv_common::plan::ClassPlan;
    use lv_common::wait::WaitRule;

    use super::*;
    use crate::http::HttpClient;
    use crate::recorder::Recorder;

    fn squad(stop: &CancellationToken) -> Arc<Squad> {
        let env = UserEnv::new(
            Arc::new(ClassPlan {
                name: "A".into(),
                weight: 1,
                wait: WaitRule::Constant(0.0),
                on_start: vec![],
                tasks: vec![],
                cookies: false,
                data: Vec::new(),
            }),
            HttpClient::new(Duration::from_secs(1), 4).expect("client"),
            Recorder::default(),
            false,
        );
        Squad::new(env, stop.clone(), CancellationToken::new())
    }

    #[test]
    fn ranges_stay_sorted_and_merge_when_they_touch() {
        let mut roll = Roll::default();
        add_range(&mut roll.retired, 8..10);
        add_range(&mut roll.retired, 12..15);
        assert_eq!(roll.retired, [8..10, 12..15]);
        add_range(&mut roll.retired, 15..20);
        assert_eq!(roll.retired, [8..10, 12..20]);
        add_range(&mut roll.retired, 9..25);
        assert_eq!(roll.retired, vec![8..25]);
        add_range(&mut roll.retired, 30..31);
        let hits: Vec<u64> = (0..35).filter(|&o| roll.is_retired(o)).collect();
        let want: Vec<u64> = (8..25).chain(30..31).collect();
        assert_eq!(hits, want);
    }

    #[test]
    fn retiring_from_an_ordinal_retires_that_user_and_newer_ones_only() {
        let stop = CancellationToken::new();
        let squad = squad(&stop);
        let users: Vec<Member> = (0..6).map(|_| squad.enlist()).collect();
        squad.retire_from(4, |_| panic!("nobody waits"));
        let later = squad.enlist();
        let retired: Vec<u64> = users
            .iter()
            .chain([&later])
            .filter(|u| u.is_retired())
            .map(Member::ordinal)
            .collect();
        assert_eq!(retired, [4, 5]);
        squad.retire_from(1, |_| {});
        let retired = users.iter().filter(|u| u.is_retired()).count();
        assert_eq!((retired, later.is_retired()), (5, true));
        stop.cancel();
        assert!(users[0].is_retired(), "a stop retires everyone");
    }

    #[test]
    fn retiring_hands_back_the_waiting_users_and_they_cannot_start_again() {
        let squad = squad(&CancellationToken::new());
        let users: Vec<Member> = (0..200).map(|_| squad.enlist()).collect();
        for user in users.iter().filter(|u| u.ordinal() % 3 == 0) {
            assert!(user.start_waiting());
        }
        assert!(users[3].stop_waiting(), "not retired: it may go on");
        let mut handed = Vec::new();
        squad.retire_from(100, |ordinal| handed.push(ordinal));
        let want: Vec<u64> = (100..200).filter(|o| o % 3 == 0).collect();
        assert_eq!(handed, want);
        assert!(
            !users[102].stop_waiting(),
            "a retired user leaves when it wakes"
        );
        assert!(!users[101].start_waiting(), "a retired user does not wait");
        assert!(users[99].stop_waiting());
        squad.retire_from(150, |_| panic!("none of them waits any more"));
    }
}
