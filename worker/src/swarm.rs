//! The swarm: the worker's virtual users, converging to the latest Assignment.
//!
//! One actor task owns every user task (a [`crew::Crew`]) and the run state; the
//! connection talks to it through a [`SwarmHandle`]. An Assignment is a desired state:
//! users are added at the worker's share of the spawn rate, and removed at a task
//! boundary when the count goes down. Stopping lets every user finish the request in
//! flight (for a grace period), then kills the rest; killed requests count as cut off.
//! An open-model Assignment runs no users: one task runs the [`crate::open`] executor, and
//! a later generation of the same run hands it the new stripe.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use lv_common::bounds::later;
use lv_common::load::Stripe;
use lv_common::plan::ClassPlan;
use lv_common::quota::ClassUsers;
use lv_common::wire::{Assignment, OpenLoad, unix_ms_now};
use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::data::RunData;
use crate::http::HttpClient;
use crate::open::{OpenSignals, OpenSpec, run_open};
use crate::recorder::Recorder;
use crate::user::{Departure, Member, run_user};

mod active;
mod crew;
mod status;

use active::{ActiveUsers, RunEnv};
use crew::Crew;
pub use status::{Finished, SwarmStatus};

/// How long stopped users get to finish their request in flight before they are killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long killed users get to unwind before their tasks are aborted.
const KILL_GRACE: Duration = Duration::from_secs(1);

enum Command {
    Apply(Box<Assignment>),
    Stop(oneshot::Sender<()>),
}

/// Talks to the swarm actor.
#[derive(Clone, Debug)]
pub struct SwarmHandle {
    tx: mpsc::Sender<Command>,
    status: Arc<SwarmStatus>,
}

impl SwarmHandle {
    /// Converges to `assignment` (a new run replaces the old one).
    pub async fn apply(&self, assignment: Assignment) {
        // The actor only ends with the worker; a closed channel means we are exiting.
        let _ = self.tx.send(Command::Apply(Box::new(assignment))).await;
    }

    /// Stops every user now and waits until they are gone.
    pub async fn stop(&self) {
        let (reply, done) = oneshot::channel();
        if self.tx.send(Command::Stop(reply)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// The swarm's status.
    pub fn status(&self) -> &SwarmStatus {
        &self.status
    }
}

/// Starts the swarm actor; it ends when `shutdown` is cancelled, after stopping its users.
pub fn spawn(
    client: HttpClient,
    recorder: Recorder,
    shutdown: CancellationToken,
) -> (SwarmHandle, tokio::task::JoinHandle<()>) {
    spawn_with(client, recorder, shutdown, run_user)
}

/// [`spawn`] with `user` as the body of every virtual user (tests pass a fake one).
pub(crate) fn spawn_with<U, F>(
    client: HttpClient,
    recorder: Recorder,
    shutdown: CancellationToken,
    user: U,
) -> (SwarmHandle, tokio::task::JoinHandle<()>)
where
    U: Fn(Member, u64) -> F + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(16);
    let status = Arc::new(SwarmStatus::default());
    let swarm = Swarm {
        client,
        recorder,
        status: Arc::clone(&status),
        run: None,
        users: Crew::new(),
        seeds: SmallRng::from_os_rng(),
        user,
    };
    let task = tokio::spawn(swarm.run(rx, shutdown));
    (SwarmHandle { tx, status }, task)
}

struct Swarm<U> {
    client: HttpClient,
    recorder: Recorder,
    status: Arc<SwarmStatus>,
    run: Option<Run>,
    users: Crew,
    seeds: SmallRng,
    /// Runs one virtual user: [`run_user`] outside tests.
    user: U,
}

struct Run {
    id: String,
    generation: u64,
    classes: HashMap<String, Arc<ClassPlan>>,
    /// Users keep connections of their own (the plan's `connection_per_user`).
    own_connections: bool,
    /// Tasks each user runs before it leaves (the plan's `iterations`).
    iterations: Option<NonZeroU32>,
    target: ClassUsers,
    /// The active users, per class.
    active: BTreeMap<String, ActiveUsers>,
    /// Graceful stop: finish the request in flight.
    stop: CancellationToken,
    /// Immediate stop.
    kill: CancellationToken,
    spawn_rate: f64,
    ramp_started: Instant,
    ramp_spawned: u64,
    deadline: Instant,
    /// Open model: where new stripes go to the executor (`None` in a closed run).
    stripes: Option<watch::Sender<Stripe>>,
    /// The test data its users draw from.
    data: Arc<RunData>,
}

impl Run {
    /// A run of `assignment` starting `now`; it stops with `shutdown`.
    fn new(assignment: &Assignment, now: Instant, shutdown: &CancellationToken) -> Run {
        Run {
            id: assignment.run_id.clone(),
            generation: assignment.generation,
            classes: HashMap::new(),
            own_connections: false,
            iterations: None,
            target: ClassUsers::new(),
            active: BTreeMap::new(),
            stop: shutdown.child_token(),
            kill: CancellationToken::new(),
            spawn_rate: assignment.spawn_rate,
            ramp_started: now,
            ramp_spawned: 0,
            deadline: later(now, assignment.max_run_time),
            stripes: None,
            data: Arc::new(RunData::new(&assignment.tables, &assignment.data)),
        }
    }

    /// Takes `assignment`'s classes, targets and spawn rate, ramping from `now`, and
    /// retires users beyond the targets (newest first; users that finished their
    /// iterations count toward them) and users of dropped classes: the abort handles of
    /// those retired in the middle of a task.
    fn retarget(&mut self, assignment: &Assignment, now: Instant) -> Vec<AbortHandle> {
        // A class whose plan did not change keeps its `Arc`, so its users stay in one squad.
        self.classes = assignment
            .plan
            .classes
            .iter()
            .map(|c| {
                let kept = self
                    .classes
                    .get(&c.name)
                    .filter(|old| ***old == *c)
                    .cloned();
                (c.name.clone(), kept.unwrap_or_else(|| Arc::new(c.clone())))
            })
            .collect();
        self.own_connections = assignment.plan.connection_per_user;
        self.data.update(&assignment.data);
        self.iterations = assignment.plan.iterations;
        self.target = assignment.users.clone();
        self.spawn_rate = assignment.spawn_rate;
        self.ramp_started = now;
        self.ramp_spawned = 0;
        let mut leaving = Vec::new();
        for (class, active) in &mut self.active {
            let want = self.target.get(class).copied().unwrap_or(0) as usize;
            leaving.extend(active.retire_beyond(want.saturating_sub(active.finished())));
        }
        leaving
    }

    /// Hands `stripe` to the open-model executor; when it has none yet, returns where the
    /// new executor reads its stripes from.
    fn restripe(&mut self, stripe: Stripe) -> Option<watch::Receiver<Stripe>> {
        match &self.stripes {
            Some(stripes) => {
                stripes.send_replace(stripe);
                None
            }
            None => {
                let (tx, rx) = watch::channel(stripe);
                self.stripes = Some(tx);
                Some(rx)
            }
        }
    }

    fn active_total(&self) -> usize {
        self.active.values().map(ActiveUsers::len).sum()
    }

    /// Retires every user; those waiting between tasks leave now. Returns the abort
    /// handles of the others.
    fn retire_all(&mut self) -> Vec<AbortHandle> {
        let mut leaving = Vec::new();
        for active in self.active.values_mut() {
            leaving.extend(active.retire_beyond(0));
        }
        leaving
    }

    /// Per class, the users that finished their iterations, up to the class's target; summed.
    fn finished(&self) -> Finished {
        let users = self
            .target
            .iter()
            .filter_map(|(class, &want)| {
                let finished = self.active.get(class)?.finished();
                Some(u32::try_from(finished).unwrap_or(u32::MAX).min(want))
            })
            .fold(0_u32, u32::saturating_add);
        Finished {
            generation: self.generation,
            users,
        }
    }

    /// The class furthest below its target, relative to the target (users that finished
    /// their iterations are not missing).
    fn most_lacking(&self) -> Option<String> {
        self.target
            .iter()
            .filter_map(|(class, &want)| {
                let have = self.active.get(class).map_or(0, ActiveUsers::done);
                (have < want as usize).then(|| (class, have as f64 / f64::from(want)))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(class, _)| class.clone())
    }

    /// When the next user may start, if any is missing.
    fn next_spawn_at(&self) -> Option<Instant> {
        self.most_lacking()?;
        let offset = self.ramp_spawned as f64 / self.spawn_rate;
        Some(later(
            self.ramp_started,
            Duration::try_from_secs_f64(offset).unwrap_or(Duration::MAX),
        ))
    }
}

impl<U, F> Swarm<U>
where
    U: Fn(Member, u64) -> F + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    async fn run(mut self, mut rx: mpsc::Receiver<Command>, shutdown: CancellationToken) {
        loop {
            let spawn_at = self.run.as_ref().and_then(Run::next_spawn_at);
            let deadline = self.run.as_ref().map(|r| r.deadline);
            tokio::select! {
                () = shutdown.cancelled() => break,
                command = rx.recv() => match command {
                    Some(Command::Apply(assignment)) => self.apply(*assignment, &shutdown),
                    Some(Command::Stop(reply)) => {
                        self.stop().await;
                        let _ = reply.send(());
                    }
                    None => break,
                },
                () = sleep_until_opt(spawn_at) => self.spawn_due(),
                () = sleep_until_opt(deadline) => {
                    warn!("run exceeded the longest run time the master allowed; stopping its users");
                    self.stop().await;
                }
                departure = self.users.next_departure() => self.reap(&departure),
            }
        }
        self.stop().await;
    }

    fn apply(&mut self, assignment: Assignment, shutdown: &CancellationToken) {
        let now = Instant::now();
        let same_run = self.run.as_ref().is_some_and(|r| r.id == assignment.run_id);
        if let Some(run) = self.run.as_mut().filter(|_| same_run) {
            if assignment.generation <= run.generation {
                return;
            }
            run.generation = assignment.generation;
        } else {
            if let Some(mut old) = self.run.take() {
                info!(run_id = %old.id, "a new run replaces the old one");
                old.stop.cancel();
                old.kill.cancel();
                let leaving = old.retire_all();
                self.users.keep_leaving(leaving);
            }
            self.status.set_run_id(Some(assignment.run_id.clone()));
            self.run = Some(Run::new(&assignment, now, shutdown));
        }
        let Some(run) = self.run.as_mut() else { return };
        let leaving = run.retarget(&assignment, now);
        self.users.keep_leaving(leaving);
        if let Some(open) = &assignment.open {
            if let Some(stripes) = run.restripe(open.stripe) {
                let signals = OpenSignals {
                    stop: run.stop.clone(),
                    kill: run.kill.clone(),
                };
                let spec = open_spec(open);
                let (plan, client) = (Arc::clone(&assignment.plan), self.client.clone());
                let recorder = self.recorder.clone();
                self.users.spawn_other(async move {
                    run_open(spec, stripes, &plan, client, recorder, signals).await;
                });
            }
            info!(run_id = %run.id, generation = run.generation, stripe = ?open.stripe, "open-model stripe applied");
        }
        info!(
            run_id = %run.id,
            generation = run.generation,
            users = assignment.total_users(),
            spawn_rate = run.spawn_rate,
            "assignment applied"
        );
        self.publish_count();
    }

    fn spawn_due(&mut self) {
        let Some(run) = self.run.as_mut() else { return };
        let departures = self.users.report();
        let now = Instant::now();
        let due = (now - run.ramp_started).as_secs_f64() * run.spawn_rate;
        let allowed = (due.floor() as u64 + 1).saturating_sub(run.ramp_spawned);
        for _ in 0..allowed {
            let Some(class_name) = run.most_lacking() else {
                break;
            };
            let Some(class) = run.classes.get(&class_name).cloned() else {
                run.target.remove(&class_name);
                continue;
            };
            let squad_env = RunEnv {
                client: &self.client,
                recorder: &self.recorder,
                own_connections: run.own_connections,
                iterations: run.iterations,
                stop: &run.stop,
                kill: &run.kill,
                data: &run.data,
                departures: &departures,
            };
            let active = run
                .active
                .entry(class_name)
                .or_default()
                .squad_for(&class, &squad_env);
            let member = active.squad.enlist();
            let ordinal = member.ordinal();
            let seed = self.seeds.next_u64();
            let handle = self.users.spawn_user((self.user)(member, seed));
            active.users.push((handle, ordinal));
            run.ramp_spawned += 1;
        }
        self.publish_count();
    }

    /// Forgets a user that left (it is listed only if it left on its own).
    fn reap(&mut self, departure: &Departure) {
        if departure.panicked {
            warn!("a virtual user panicked");
        }
        if let Some(run) = self.run.as_mut() {
            for active in run.active.values_mut() {
                active.depart(departure);
            }
        }
        self.publish_count();
    }

    async fn stop(&mut self) {
        // Forget the run: the same run assigned again (after a reconnect) starts afresh.
        let kill = self.run.take().map(|mut run| {
            run.stop.cancel();
            let leaving = run.retire_all();
            self.users.keep_leaving(leaving);
            run.kill
        });
        self.publish_count();
        if self.drain(STOP_GRACE).await {
            return;
        }
        warn!(
            left = self.users.len(),
            "users did not finish their requests within the grace period; cutting them off"
        );
        if let Some(kill) = kill {
            kill.cancel();
        }
        if !self.drain(KILL_GRACE).await {
            self.users.abort_leaving();
            self.users.join_all(|_| {}).await;
        }
    }

    /// Waits up to `limit` for every user task to end; true when they all did.
    async fn drain(&mut self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.users.join_all(|_| {}))
            .await
            .is_ok()
    }

    fn publish_count(&self) {
        let count = self.run.as_ref().map_or(0, Run::active_total);
        let finished = self
            .run
            .as_ref()
            .map_or_else(Finished::default, Run::finished);
        self.status.set(
            u32::try_from(count).unwrap_or(u32::MAX),
            self.run.is_some(),
            finished,
        );
    }
}

/// The executor's spec of an open assignment; the master's Unix ms start becomes a local
/// instant (the clocks of master and workers are assumed in sync, as for report stamps).
fn open_spec(open: &OpenLoad) -> OpenSpec {
    let now = Instant::now();
    let ahead_ms = open.start_unix_ms.saturating_sub(unix_ms_now());
    let start = if ahead_ms >= 0 {
        later(now, Duration::from_millis(ahead_ms.unsigned_abs()))
    } else {
        now.checked_sub(Duration::from_millis(ahead_ms.unsigned_abs()))
            .unwrap_or(now)
    };
    OpenSpec {
        schedule: Arc::new(open.schedule()),
        arrivals: open.arrivals,
        seed: open.seed,
        start,
        max_in_flight: open.max_in_flight,
        on_saturation: open.on_saturation,
        pacer: crate::open::Pacer::precise(),
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
pub(crate) mod tests;
