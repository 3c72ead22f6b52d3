//! The swarm's pacing on paused time: users start at the exact instants of the spawn
//! rate, leave at task boundaries when the count goes down, and a stop gives them the
//! grace period before cutting them off. Users are fakes with scripted task lengths, so
//! no request goes anywhere and every instant is exact.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use lv_common::plan::{ClassPlan, Plan};
use lv_common::wait::WaitRule;
use lv_common::wire::Assignment;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Finished, KILL_GRACE, STOP_GRACE, SwarmHandle, spawn_with};
use crate::http::HttpClient;
use crate::recorder::Recorder;
use crate::user::Member;

/// How a fake user of a class behaves.
#[derive(Debug, Clone, Copy)]
enum Script {
    /// Runs tasks of one request lasting this long, back to back, and obeys its signals
    /// as a real user does.
    Tasks(Duration),
    /// Ignores every signal (a user stuck where cancellation cannot reach it).
    Stuck,
}

/// Why a fake user left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Left {
    /// Retired at a task boundary.
    Retired,
    /// Stopped after finishing its request.
    Stopped,
    /// Killed with a request in flight.
    Killed,
    /// Ran its iterations (`-i`) and left.
    Finished,
}

/// One fake user's life, in ms since the swarm started.
#[derive(Debug, Clone)]
struct Life {
    class: String,
    started: u64,
    left: Option<(u64, Left)>,
}

type Lives = Arc<Mutex<Vec<Life>>>;

/// A swarm of fake users on paused time.
struct TestSwarm {
    handle: SwarmHandle,
    task: JoinHandle<()>,
    shutdown: CancellationToken,
    recorder: Recorder,
    lives: Lives,
    classes: Vec<String>,
    t0: Instant,
}

fn since(t0: Instant) -> u64 {
    u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The body of a fake user of a class scripted by `scripts`.
async fn fake_user(
    member: Member,
    scripts: Arc<BTreeMap<String, Script>>,
    lives: Lives,
    t0: Instant,
) {
    let (env, signals) = (member.env(), &member);
    let class = env.class().name.clone();
    let me = {
        let mut lives = lives.lock().unwrap_or_else(PoisonError::into_inner);
        lives.push(Life {
            class: class.clone(),
            started: since(t0),
            left: None,
        });
        lives.len() - 1
    };
    let task = match scripts.get(&class) {
        Some(Script::Tasks(task)) => *task,
        Some(Script::Stuck) | None => return std::future::pending().await,
    };
    let work = async {
        let mut ran = 0;
        loop {
            if signals.is_retired() {
                return Left::Retired;
            }
            tokio::time::sleep(task).await;
            env.recorder
                .request("GET", &class, None, 1_000, 0, None, None);
            if signals.stop().is_cancelled() {
                return Left::Stopped;
            }
            ran += 1;
            if signals.iterations().is_some_and(|n| ran >= n.get()) {
                return Left::Finished;
            }
        }
    };
    let left = tokio::select! {
        left = work => left,
        () = signals.kill().cancelled() => {
            env.recorder.cut_off();
            Left::Killed
        }
    };
    lives.lock().unwrap_or_else(PoisonError::into_inner)[me].left = Some((since(t0), left));
}

impl TestSwarm {
    /// A swarm whose classes behave as `scripts` say.
    fn new(scripts: &[(&str, Script)]) -> TestSwarm {
        let t0 = Instant::now();
        let lives = Lives::default();
        let recorder = Recorder::default();
        let shutdown = CancellationToken::new();
        let client = HttpClient::new(Duration::from_secs(1), 16).expect("an HTTP client");
        let map: Arc<BTreeMap<String, Script>> = Arc::new(
            scripts
                .iter()
                .map(|(name, script)| ((*name).to_owned(), *script))
                .collect(),
        );
        let user_lives = Arc::clone(&lives);
        let (handle, task) = spawn_with(
            client,
            recorder.clone(),
            shutdown.clone(),
            move |member, _seed: u64| {
                fake_user(member, Arc::clone(&map), Arc::clone(&user_lives), t0)
            },
        );
        TestSwarm {
            handle,
            task,
            shutdown,
            recorder,
            lives,
            classes: scripts.iter().map(|(n, _)| (*n).to_owned()).collect(),
            t0,
        }
    }

    /// Applies generation `generation` of run `r1`: `users` per class at `rate` per s.
    async fn apply(&self, generation: u64, users: &[(&str, u32)], rate: f64) {
        let classes: Vec<&str> = self.classes.iter().map(String::as_str).collect();
        let assignment = assignment(&classes, generation, users, rate);
        self.handle.apply(assignment).await;
    }

    /// [`TestSwarm::apply`] whose users each run `iterations` tasks, then leave.
    async fn apply_limited(
        &self,
        generation: u64,
        users: &[(&str, u32)],
        rate: f64,
        iterations: u32,
    ) {
        let classes: Vec<&str> = self.classes.iter().map(String::as_str).collect();
        let mut assignment = assignment(&classes, generation, users, rate);
        Arc::make_mut(&mut assignment.plan).iterations = NonZeroU32::new(iterations);
        self.handle.apply(assignment).await;
    }

    /// Sleeps until `ms` after the start.
    async fn at(&self, ms: u64) {
        tokio::time::sleep_until(self.t0 + Duration::from_millis(ms)).await;
    }

    fn lives(&self) -> Vec<Life> {
        self.lives
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Start instants (ms), in spawn order.
    fn starts(&self) -> Vec<u64> {
        self.lives().iter().map(|l| l.started).collect()
    }

    /// Classes in spawn order.
    fn classes_started(&self) -> Vec<String> {
        self.lives().into_iter().map(|l| l.class).collect()
    }

    /// How each user left (`None`: still running, or aborted), in spawn order.
    fn leaves(&self) -> Vec<Option<(u64, Left)>> {
        self.lives().iter().map(|l| l.left).collect()
    }

    fn running(&self) -> u32 {
        self.handle.status().users_running()
    }

    /// Ends the actor (its users already stopped) and checks it ended.
    async fn end(self) {
        self.shutdown.cancel();
        self.task.await.expect("the swarm actor ends cleanly");
    }
}

/// Generation `generation` of run `r1` over task-less `classes`: `users` per class at
/// `rate` per second, for at most an hour.
pub(crate) fn assignment(
    classes: &[&str],
    generation: u64,
    users: &[(&str, u32)],
    rate: f64,
) -> Assignment {
    let classes = classes
        .iter()
        .map(|name| ClassPlan {
            name: (*name).to_owned(),
            weight: 1,
            wait: WaitRule::Constant(0.0),
            on_start: Vec::new(),
            tasks: Vec::new(),
            cookies: true,
            data: Vec::new(),
        })
        .collect();
    Assignment {
        run_id: "r1".into(),
        generation,
        plan: Arc::new(Plan {
            classes,
            connection_per_user: false,
            iterations: None,
        }),
        users: users.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect(),
        spawn_rate: rate,
        max_run_time: Duration::from_secs(3600),
        report_interval: Duration::from_secs(2),
        open: None,
        stages: None,
        data: Vec::new(),
        tables: Vec::new(),
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// 10 users at 4/s start at exactly 0, 0.25, ..., 2.25 s: one at once, then one per
/// quarter second, never more than the target.
#[tokio::test(start_paused = true)]
async fn users_start_at_the_exact_spawn_rate() {
    let swarm = TestSwarm::new(&[("A", Script::Tasks(ms(60_000)))]);
    swarm.apply(1, &[("A", 10)], 4.0).await;
    swarm.at(1_001).await;
    assert_eq!(swarm.running(), 5);
    swarm.at(2_249).await;
    assert_eq!(swarm.running(), 9);
    swarm.at(10_000).await;
    assert_eq!(swarm.running(), 10);
    let expected: Vec<u64> = (0..10).map(|i| i * 250).collect();
    assert_eq!(swarm.starts(), expected);
    swarm.handle.stop().await;
    swarm.end().await;
}

/// Classes fill in proportion to their targets: with A:3 and B:1 the order is A, B, A, A.
#[tokio::test(start_paused = true)]
async fn the_most_lacking_class_starts_next() {
    let long = Script::Tasks(ms(60_000));
    let swarm = TestSwarm::new(&[("A", long), ("B", long)]);
    swarm.apply(1, &[("A", 3), ("B", 1)], 10.0).await;
    swarm.at(1_000).await;
    assert_eq!(swarm.classes_started(), ["A", "B", "A", "A"]);
    assert_eq!(swarm.starts(), [0, 100, 200, 300]);
    swarm.handle.stop().await;
    swarm.end().await;
}

/// A raised count ramps again from the new assignment's arrival at the new rate.
#[tokio::test(start_paused = true)]
async fn a_raised_count_ramps_from_the_new_assignment() {
    let swarm = TestSwarm::new(&[("A", Script::Tasks(ms(60_000)))]);
    swarm.apply(1, &[("A", 2)], 4.0).await;
    swarm.at(5_000).await;
    swarm.apply(2, &[("A", 6)], 8.0).await;
    swarm.at(9_000).await;
    assert_eq!(swarm.starts(), [0, 250, 5_000, 5_125, 5_250, 5_375]);
    assert_eq!(swarm.running(), 6);
    swarm.handle.stop().await;
    swarm.end().await;
}

/// A lowered count retires the newest users, who leave at their next task boundary;
/// they stop counting at once, and an older generation arriving late changes nothing.
#[tokio::test(start_paused = true)]
async fn a_lowered_count_retires_the_newest_at_task_boundaries() {
    let swarm = TestSwarm::new(&[("A", Script::Tasks(ms(1_000)))]);
    swarm.apply(1, &[("A", 4)], 4.0).await;
    swarm.at(2_100).await;
    assert_eq!(swarm.running(), 4);
    swarm.apply(2, &[("A", 2)], 4.0).await;
    swarm.apply(1, &[("A", 4)], 4.0).await;
    swarm.at(2_101).await;
    assert_eq!(swarm.running(), 2);
    swarm.at(4_000).await;
    assert_eq!(
        swarm.leaves(),
        [
            None,
            None,
            Some((2_500, Left::Retired)),
            Some((2_750, Left::Retired))
        ]
    );
    assert_eq!(swarm.running(), 2);
    swarm.handle.stop().await;
    swarm.end().await;
}

/// A stop lets users finish the request in flight for up to the grace period (5 s), then
/// kills the rest: quick users leave as stopped with their requests recorded, slow ones
/// are cut off exactly at the end of the grace, and the stop returns then.
#[tokio::test(start_paused = true)]
async fn a_stop_gives_the_grace_then_cuts_off() {
    let swarm = TestSwarm::new(&[
        ("quick", Script::Tasks(ms(2_000))),
        ("slow", Script::Tasks(ms(60_000))),
    ]);
    swarm.apply(1, &[("quick", 2), ("slow", 2)], 100.0).await;
    swarm.at(3_000).await;
    assert_eq!(swarm.classes_started(), ["quick", "slow", "quick", "slow"]);
    swarm.handle.stop().await;
    assert_eq!(since(swarm.t0), 3_000 + millis(STOP_GRACE));
    assert_eq!(
        swarm.leaves(),
        [
            Some((4_000, Left::Stopped)),
            Some((8_000, Left::Killed)),
            Some((4_020, Left::Stopped)),
            Some((8_000, Left::Killed)),
        ]
    );
    let (stats, cut_off) = swarm.recorder.take();
    assert_eq!((stats.request_count(), cut_off), (4, 2));
    assert_eq!(swarm.running(), 0);
    swarm.end().await;
}

/// When every user finishes within the grace, the stop returns as the last one leaves.
#[tokio::test(start_paused = true)]
async fn a_stop_ends_when_the_last_user_finishes() {
    let swarm = TestSwarm::new(&[("quick", Script::Tasks(ms(2_000)))]);
    swarm.apply(1, &[("quick", 3)], 10.0).await;
    swarm.at(3_000).await;
    swarm.handle.stop().await;
    assert_eq!(since(swarm.t0), 4_200);
    let (_, cut_off) = swarm.recorder.take();
    assert_eq!(cut_off, 0);
    swarm.end().await;
}

/// Users that ignore even the kill are aborted one kill grace (1 s) after it.
#[tokio::test(start_paused = true)]
async fn users_deaf_to_the_kill_are_aborted() {
    let swarm = TestSwarm::new(&[("stuck", Script::Stuck)]);
    swarm.apply(1, &[("stuck", 2)], 10.0).await;
    swarm.at(1_000).await;
    assert_eq!(swarm.running(), 2);
    swarm.handle.stop().await;
    assert_eq!(
        since(swarm.t0),
        1_000 + millis(STOP_GRACE) + millis(KILL_GRACE)
    );
    assert_eq!(swarm.leaves(), [None, None]);
    assert_eq!(swarm.running(), 0);
    swarm.end().await;
}

/// Past the longest run time the master allowed (1 h here), the swarm stops its users
/// by itself, and they finish the request in flight.
#[tokio::test(start_paused = true)]
async fn the_run_time_limit_stops_the_users() {
    let swarm = TestSwarm::new(&[("A", Script::Tasks(ms(700)))]);
    swarm.apply(1, &[("A", 1)], 1.0).await;
    let limit = 3_600_000;
    swarm.at(limit - 1).await;
    assert_eq!(swarm.running(), 1);
    swarm.at(limit + 1).await;
    assert_eq!(swarm.running(), 0);
    swarm.at(limit + 1_000).await;
    // Its request in flight at the limit started at 5,142 x 700 ms = 3,599,400 ms.
    assert_eq!(swarm.leaves(), [Some((3_600_100, Left::Stopped))]);
    swarm.end().await;
}

/// Users that ran their iterations leave and are done, not missing: none is started in
/// their place. A raised count starts only the users it adds; the finished users count
/// against each generation's share, up to it.
#[tokio::test(start_paused = true)]
async fn users_that_ran_their_iterations_are_not_replaced() {
    let swarm = TestSwarm::new(&[("A", Script::Tasks(ms(1_000)))]);
    swarm.apply_limited(1, &[("A", 4)], 10.0, 3).await;
    swarm.at(2_500).await;
    assert_eq!(swarm.running(), 4);
    assert_eq!(swarm.handle.status().finished().users, 0);
    swarm.at(10_000).await;
    assert_eq!(swarm.running(), 0);
    let finished = |at| Some((at, Left::Finished));
    assert_eq!(
        swarm.leaves(),
        [
            finished(3_000),
            finished(3_100),
            finished(3_200),
            finished(3_300)
        ]
    );
    let done = Finished {
        generation: 1,
        users: 4,
    };
    assert_eq!(swarm.handle.status().finished(), done);
    assert_eq!(swarm.recorder.take().0.request_count(), 12);

    swarm.apply_limited(2, &[("A", 6)], 10.0, 3).await;
    swarm.at(20_000).await;
    assert_eq!(swarm.starts(), [0, 100, 200, 300, 10_000, 10_100]);
    let done = Finished {
        generation: 2,
        users: 6,
    };
    assert_eq!(swarm.handle.status().finished(), done);
    assert_eq!(swarm.recorder.take().0.request_count(), 6);

    swarm.apply_limited(3, &[("A", 2)], 10.0, 3).await;
    swarm.at(30_000).await;
    let done = Finished {
        generation: 3,
        users: 2,
    };
    assert_eq!(swarm.handle.status().finished(), done);
    assert_eq!((swarm.lives().len(), swarm.running()), (6, 0));
    swarm.handle.stop().await;
    swarm.end().await;
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Real users waiting out a long think time leave at once when they are retired or the
/// run stops: a waiting user is between tasks, so its task is aborted with its pause.
#[tokio::test(start_paused = true)]
async fn waiting_users_leave_at_once_when_retired_or_stopped() {
    /// Counts the user futures still alive.
    struct Alive(Arc<AtomicUsize>);
    impl Drop for Alive {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let t0 = Instant::now();
    let alive = Arc::new(AtomicUsize::new(0));
    let shutdown = CancellationToken::new();
    let client = HttpClient::new(Duration::from_secs(1), 16).expect("an HTTP client");
    let counter = Arc::clone(&alive);
    let (handle, task) = spawn_with(
        client,
        Recorder::default(),
        shutdown.clone(),
        move |member, seed: u64| {
            counter.fetch_add(1, Ordering::SeqCst);
            let guard = Alive(Arc::clone(&counter));
            async move {
                let _guard = guard;
                crate::user::run_user(member, seed).await;
            }
        },
    );
    // No task is ready, so each user waits 60 s at a time.
    let mut waiting = assignment(&["A"], 1, &[("A", 5)], 100.0);
    Arc::make_mut(&mut waiting.plan).classes[0].wait = WaitRule::Constant(60.0);
    handle.apply(waiting.clone()).await;
    tokio::time::sleep_until(t0 + ms(1_000)).await;
    assert_eq!(alive.load(Ordering::SeqCst), 5);
    waiting.generation = 2;
    waiting.users = [("A".to_owned(), 2)].into_iter().collect();
    handle.apply(waiting).await;
    tokio::time::sleep_until(t0 + ms(1_001)).await;
    assert_eq!(
        (
            handle.status().users_running(),
            alive.load(Ordering::SeqCst)
        ),
        (2, 2)
    );
    handle.stop().await;
    assert_eq!(since(t0), 1_001, "no grace is needed for users that wait");
    assert_eq!(alive.load(Ordering::SeqCst), 0);
    shutdown.cancel();
    task.await.expect("the swarm ends");
}
