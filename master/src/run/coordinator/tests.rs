//! Run control on paused time with fake workers: who gets which users, when a worker is
//! lost, how a stop ends, what a rejoin does. Instants are simulated, so they are exact.

use lv_common::pb::master_message::Kind as MasterKind;
use lv_common::quota::ClassUsers;

use super::Phase;
use super::testing::{BASE_MS, Received, TestCluster, ms, test_config};
use crate::run::registry::WorkerState;

fn users(classes: &[(&str, u32)]) -> ClassUsers {
    classes.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect()
}

/// A started cluster of `ids` sharing `total` users of one class.
async fn running(total: u32, ids: &[&str]) -> TestCluster {
    let mut config = test_config(total, &[("A", 1)]);
    config.expect_workers = ids.len();
    let mut cluster = TestCluster::new(config);
    for id in ids {
        cluster.attach(id);
    }
    cluster.advance(ms(0)).await;
    assert!(matches!(cluster.coord.phase, Phase::Running { .. }));
    cluster
}

/// 10 users of classes weighted 3:1 on 4 workers split 3,3,2,2 with 8 A and 2 B
/// fleet-wide; losing a worker gives its users to the other three, weights still held.
#[tokio::test(start_paused = true)]
async fn users_split_exactly_on_join_and_move_on_loss() {
    let mut config = test_config(10, &[("A", 3), ("B", 1)]);
    config.expect_workers = 4;
    let mut c = TestCluster::new(config);
    for id in ["w1", "w2", "w3", "w4"] {
        c.attach(id);
    }
    c.advance(ms(0)).await;
    assert_eq!(c.totals(), [3, 3, 2, 2]);
    assert_eq!(c.assigned("w1"), users(&[("A", 2), ("B", 1)]));
    assert_eq!(c.assigned("w2"), users(&[("A", 2), ("B", 1)]));
    assert_eq!(c.assigned("w3"), users(&[("A", 2), ("B", 0)]));
    assert_eq!(c.assigned("w4"), users(&[("A", 2), ("B", 0)]));
    let rates: Vec<f64> = ["w1", "w2", "w3", "w4"]
        .iter()
        .map(|id| c.assignments(id)[0].spawn_rate)
        .collect();
    assert_eq!(rates, [3.0, 3.0, 2.0, 2.0]);

    c.detach("w4");
    c.advance_to(ms(5_999)).await;
    assert_eq!(c.assignments("w1").len(), 1);
    c.advance_to(ms(6_000)).await;
    assert_eq!(c.assigned("w1"), users(&[("A", 3), ("B", 1)]));
    assert_eq!(c.assigned("w2"), users(&[("A", 3), ("B", 0)]));
    assert_eq!(c.assigned("w3"), users(&[("A", 2), ("B", 1)]));
    let last = c
        .assignments("w1")
        .pop()
        .map(|a| (a.generation, a.spawn_rate));
    assert_eq!(last, Some((2, 4.0)));
    assert_eq!(
        c.assignments("w4").len(),
        1,
        "a lost worker gets nothing new"
    );
}

/// A worker joining mid-run gets a share at once: 10 users on 3 workers are 4,3,3, and
/// with a fourth 3,3,2,2, in a new generation sent to every worker whose share changed
/// (w2 keeps its 3 users at 3/s and its assignment of generation 1).
#[tokio::test(start_paused = true)]
async fn a_worker_joining_mid_run_gets_a_share() {
    let mut c = running(10, &["w1", "w2", "w3"]).await;
    assert_eq!(c.totals(), [4, 3, 3]);
    c.advance_to(ms(5_000)).await;
    c.attach("w4");
    assert_eq!(c.totals(), [3, 3, 2, 2]);
    let generations: Vec<u64> = ["w1", "w2", "w3", "w4"]
        .iter()
        .map(|id| c.assignments(id).last().map_or(0, |a| a.generation))
        .collect();
    assert_eq!(generations, [2, 1, 2, 2]);
    assert_eq!(c.assignments("w2").len(), 1);
}

/// A disconnected worker is Missing at once and keeps its share; it is Lost at the first
/// heartbeat check more than `heartbeat_timeout` (5 s) later, and not before.
#[tokio::test(start_paused = true)]
async fn a_disconnected_worker_is_missing_then_lost_after_the_timeout() {
    let mut c = running(10, &["w1", "w2"]).await;
    c.advance_to(ms(500)).await;
    c.detach("w2");
    let since = c.t0 + ms(500);
    assert_eq!(c.state("w2"), Some(WorkerState::Missing { since }));
    c.advance_to(ms(5_999)).await;
    assert_eq!(c.state("w2"), Some(WorkerState::Missing { since }));
    assert_eq!(c.totals(), [5, 5]);
    c.advance_to(ms(6_000)).await;
    let at = c.t0 + ms(6_000);
    assert_eq!(c.state("w2"), Some(WorkerState::Lost { at }));
    assert_eq!(c.assigned("w1"), users(&[("A", 10)]));
}

/// A connected worker that goes quiet is lost once it has been silent for more than the
/// timeout (exactly 5 s is not enough), its stream is ended, and the users below target
/// are reported from its last message until the others run them.
#[tokio::test(start_paused = true)]
async fn a_silent_worker_is_lost_and_the_gap_is_reported() {
    let mut c = running(10, &["w1", "w2"]).await;
    // Beats at 0, 1 and 2 s, then nothing.
    c.advance_to(ms(2_500)).await;
    c.silence("w2");
    c.advance_to(ms(7_000)).await;
    assert_eq!(c.state("w2"), Some(WorkerState::Active));
    c.advance_to(ms(8_000)).await;
    let at = c.t0 + ms(8_000);
    assert_eq!(c.state("w2"), Some(WorkerState::Lost { at }));
    let closed = c
        .received("w2")
        .iter()
        .any(|r| matches!(r, Received::Closed(tonic::Code::DeadlineExceeded)));
    assert!(closed, "the silent worker's stream is ended");
    assert_eq!(c.assigned("w1"), users(&[("A", 10)]));
    // w1 reports 10 users running at its 9 s heartbeat; the 9.1 s tick sees them.
    c.advance_to(ms(9_100)).await;
    let gaps: Vec<_> = c
        .coord
        .ledger
        .below_target()
        .iter()
        .map(|b| (b.worker_id.as_str(), b.from_unix_ms, b.to_unix_ms))
        .collect();
    assert_eq!(gaps, [("w2", BASE_MS + 2_000, Some(BASE_MS + 9_100))]);
}

/// At the run time Stop goes to every worker once; the run ends at the first tick after
/// the last final report, with every report merged and the end stamped then.
#[tokio::test(start_paused = true)]
async fn stop_at_run_time_waits_for_final_reports() {
    let mut config = test_config(10, &[("A", 1)]);
    config.expect_workers = 2;
    config.run_time = Some(ms(10_000));
    let mut c = TestCluster::new(config);
    c.attach("w1");
    c.attach("w2");
    c.advance_to(ms(9_900)).await;
    assert_eq!((c.stops("w1"), c.stops("w2")), (0, 0));
    c.advance_to(ms(10_000)).await;
    assert_eq!((c.stops("w1"), c.stops("w2")), (1, 1));
    c.report("w1", 1, 30, true);
    c.advance_to(ms(10_500)).await;
    assert!(!c.is_done(), "w2's final report is still due");
    c.report("w2", 1, 20, true);
    assert!(!c.is_done());
    c.advance_to(ms(10_600)).await;
    assert!(c.is_done());
    assert_eq!((c.stops("w1"), c.stops("w2")), (1, 1));
    let result = c.finish().result;
    assert_eq!(result.stats.totals.request_count(), 50);
    assert_eq!(result.started_unix_ms, BASE_MS);
    assert_eq!(result.ended_unix_ms, BASE_MS + 10_600);
    assert_eq!(result.aborted, None);
}

/// A worker that never sends its final report holds the run open for `stop_timeout`
/// (10 s) after the Stop, exactly, and the reports that came are kept.
#[tokio::test(start_paused = true)]
async fn stop_timeout_bounds_the_wait_for_final_reports() {
    let mut c = running(10, &["w1", "w2"]).await;
    c.advance_to(ms(3_000)).await;
    c.stop();
    c.report("w1", 1, 12, true);
    c.report("w2", 1, 5, false);
    c.advance_to(ms(12_999)).await;
    assert!(!c.is_done());
    c.advance_to(ms(13_000)).await;
    assert!(c.is_done());
    let result = c.finish().result;
    assert_eq!(result.stats.totals.request_count(), 17);
    assert_eq!(result.ended_unix_ms, BASE_MS + 13_000);
}

/// Reports that arrive after the Stop are merged and acknowledged, whether or not they
/// are the last; a report of another run is neither.
#[tokio::test(start_paused = true)]
async fn reports_after_stop_are_merged() {
    let mut c = running(4, &["w1"]).await;
    c.report("w1", 1, 10, false);
    c.advance_to(ms(3_000)).await;
    c.stop();
    assert_eq!(c.stops("w1"), 1);
    c.report_of_run("w1", "an-old-run", 2, 1_000, false);
    c.advance_to(ms(3_200)).await;
    c.report("w1", 2, 7, false);
    c.report("w1", 3, 3, true);
    assert_eq!(c.requests(), 20);
    assert_eq!(c.acks("w1"), [1, 2, 3]);
    c.advance_to(ms(3_300)).await;
    assert!(c.is_done());
}

/// A lost worker that comes back gets a share again, learns which of its reports were
/// merged, and its resent reports count once: duplicates by sequence are ignored.
#[tokio::test(start_paused = true)]
async fn a_rejoining_worker_gets_a_share_and_its_reports_merge_once() {
    let mut c = running(10, &["w1", "w2"]).await;
    c.advance_to(ms(500)).await;
    c.report("w2", 1, 7, false);
    c.detach("w2");
    c.advance_to(ms(6_000)).await;
    assert!(matches!(c.state("w2"), Some(WorkerState::Lost { .. })));
    assert_eq!(c.assigned("w1"), users(&[("A", 10)]));
    c.advance_to(ms(8_000)).await;
    c.attach("w2");
    let welcome = c.picked("w2", |m| match m {
        MasterKind::Welcome(w) => Some((w.acked_seq, w.run_id.clone())),
        _ => None,
    });
    assert_eq!(welcome, [(1, c.coord.ledger.run_id().to_owned())]);
    assert_eq!(c.state("w2"), Some(WorkerState::Active));
    assert_eq!(c.totals(), [5, 5]);
    // Its outbox resends seq 1, then the rest; seq 2 arrives twice.
    c.report("w2", 1, 7, false);
    c.report("w2", 2, 3, false);
    c.report("w2", 2, 3, false);
    assert_eq!(c.requests(), 10);
    assert_eq!(c.acks("w2"), [1, 2, 2]);
    assert_eq!(c.coord.stats.workers["w2"].reports, 2);
}

/// A worker away when the Stop went out gets a Stop when it comes back, and the run
/// waits for its final report too.
#[tokio::test(start_paused = true)]
async fn a_worker_back_during_the_stop_is_stopped_and_awaited() {
    let mut c = running(10, &["w1", "w2"]).await;
    c.advance_to(ms(1_000)).await;
    c.detach("w2");
    c.advance_to(ms(2_000)).await;
    c.stop();
    c.report("w1", 1, 4, true);
    c.advance_to(ms(3_000)).await;
    assert!(
        !c.is_done(),
        "w2 is missing, not lost: its report may still come"
    );
    c.attach("w2");
    assert_eq!(c.stops("w2"), 1);
    c.report("w2", 1, 6, true);
    c.advance_to(ms(3_100)).await;
    assert!(c.is_done());
    assert_eq!(c.requests(), 10);
}

/// With `--expect-workers 3` the run starts at the first tick at which 3 workers are
/// active, not before; a disconnected worker does not count.
#[tokio::test(start_paused = true)]
async fn expect_workers_starts_when_enough_are_active() {
    let mut config = test_config(9, &[("A", 1)]);
    config.expect_workers = 3;
    config.expect_workers_max_wait = Some(ms(30_000));
    let mut c = TestCluster::new(config);
    c.attach("w1");
    c.advance_to(ms(1_000)).await;
    c.attach("w2");
    c.advance_to(ms(10_050)).await;
    c.detach("w2");
    c.attach("w3");
    c.advance_to(ms(12_000)).await;
    assert!(matches!(c.coord.phase, Phase::Waiting { .. }));
    assert_eq!(c.totals(), [0, 0, 0], "no assignment while waiting");
    c.attach("w2");
    c.advance_to(ms(12_099)).await;
    assert!(c.coord.ledger.started().is_none());
    c.advance_to(ms(12_100)).await;
    assert_eq!(
        c.coord.ledger.started(),
        Some((c.t0 + ms(12_100), BASE_MS + 12_100))
    );
    assert_eq!(c.totals(), [3, 3, 3]);
}

/// With too few workers the run gives up exactly at `--expect-workers-max-wait` and says
/// why; the workers that came are told to shut down.
#[tokio::test(start_paused = true)]
async fn expect_workers_gives_up_after_the_max_wait() {
    let mut config = test_config(9, &[("A", 1)]);
    config.expect_workers = 3;
    config.expect_workers_max_wait = Some(ms(30_000));
    let mut c = TestCluster::new(config);
    c.attach("w1");
    c.attach("w2");
    c.advance_to(ms(29_900)).await;
    assert!(!c.is_done());
    c.advance_to(ms(30_000)).await;
    assert!(c.is_done());
    let finished = c.finish();
    assert_eq!(
        finished.result.aborted.as_deref(),
        Some("only 2 of 3 workers connected within 30s")
    );
    assert_eq!(finished.result.started_unix_ms, 0);
    for (id, received) in &finished.received {
        let kinds: Vec<&str> = received
            .iter()
            .filter_map(|r| match r {
                Received::Message(MasterKind::Welcome(_)) => Some("welcome"),
                Received::Message(MasterKind::Shutdown(_)) => Some("shutdown"),
                Received::Message(MasterKind::Assignment(_)) => Some("assignment"),
                _ => None,
            })
            .collect();
        assert_eq!(kinds, ["welcome", "shutdown"], "{id}");
    }
}

/// With `--fail-on-worker-loss` a loss aborts the run: the survivors keep their share
/// and get Stop, and the reason names the worker.
#[tokio::test(start_paused = true)]
async fn fail_on_worker_loss_aborts_the_run() {
    let mut config = test_config(10, &[("A", 1)]);
    config.expect_workers = 2;
    config.fail_on_worker_loss = true;
    let mut c = TestCluster::new(config);
    c.attach("w1");
    c.attach("w2");
    c.advance_to(ms(1_000)).await;
    c.detach("w2");
    c.advance_to(ms(6_999)).await;
    assert_eq!(c.stops("w1"), 0);
    c.advance_to(ms(7_000)).await;
    assert_eq!(c.stops("w1"), 1);
    assert_eq!(c.assignments("w1").len(), 1, "no redistribution");
    c.report("w1", 1, 9, true);
    c.advance_to(ms(7_100)).await;
    assert!(c.is_done());
    let result = c.finish().result;
    assert_eq!(
        result.aborted.as_deref(),
        Some("worker w2 was lost (--fail-on-worker-loss)")
    );
    assert_eq!(result.stats.totals.request_count(), 9);
}

/// When the last worker is lost the run is aborted, since no one can run the users.
#[tokio::test(start_paused = true)]
async fn losing_every_worker_aborts_the_run() {
    let mut c = running(3, &["w1"]).await;
    c.detach("w1");
    c.advance_to(ms(6_000)).await;
    assert!(matches!(c.coord.phase, Phase::Stopping { .. }));
    c.advance_to(ms(6_100)).await;
    assert!(c.is_done(), "nobody is left to send a final report");
    assert_eq!(
        c.finish().result.aborted.as_deref(),
        Some("every worker was lost")
    );
}

/// A stop before the run started ends it at once as aborted.
#[tokio::test(start_paused = true)]
async fn a_stop_before_the_start_aborts() {
    let mut config = test_config(3, &[("A", 1)]);
    config.expect_workers = 2;
    let mut c = TestCluster::new(config);
    c.attach("w1");
    c.advance_to(ms(500)).await;
    c.stop();
    assert!(c.is_done());
    assert_eq!(
        c.finish().result.aborted.as_deref(),
        Some("stopped before the run started")
    );
}

/// A closed shape of `stages` (duration ms, users) on `ids`, configured as `from_args`
/// would: the peak users, the shape's length as run time.
fn staged(stages: &[(u64, f64)], ids: &[&str]) -> TestCluster {
    use lv_common::load::{ArrivalKind, LoadShape, Model, OnSaturation, Stage};
    let shape = LoadShape {
        model: Model::Closed,
        start: 0.0,
        stages: stages
            .iter()
            .enumerate()
            .map(|(i, &(ms, to))| Stage {
                name: format!("s{}", i + 1),
                duration: std::time::Duration::from_millis(ms),
                to,
            })
            .collect(),
        arrivals: ArrivalKind::Uniform,
        seed: None,
        max_in_flight: None,
        on_saturation: OnSaturation::Drop,
    };
    let mut config = test_config(0, &[("A", 1)]);
    config.users = shape.peak() as u32;
    config.run_time = Some(shape.duration());
    config.shape = Some(shape);
    config.expect_workers = ids.len();
    let mut cluster = TestCluster::new(config);
    for id in ids {
        cluster.attach(id);
    }
    cluster
}

/// (generation, users, spawn rate) of each assignment `id` received.
fn steps(c: &mut TestCluster, id: &str) -> Vec<(u64, u32, f64)> {
    c.assignments(id)
        .iter()
        .map(|a| (a.generation, a.users.values().sum(), a.spawn_rate))
        .collect()
}

/// A 3-stage closed shape (0→10 users over 5 s, hold 10 s, down to 4 over 5 s) on two
/// workers: each boundary sends both a new split of the stage's target at the stage's
/// rate, every assignment carries the stage clock, and the run stops at the shape's end.
#[tokio::test(start_paused = true)]
async fn closed_stages_set_users_and_rates_at_their_boundaries() {
    let mut c = staged(
        &[(5_000, 10.0), (10_000, 10.0), (5_000, 4.0)],
        &["w1", "w2"],
    );
    c.advance(ms(0)).await;
    assert_eq!(steps(&mut c, "w1"), [(1, 5, 1.0)]);
    let clock = c.assignments("w2")[0].stages.clone().expect("stage clock");
    assert_eq!(clock.start_unix_ms, BASE_MS);
    let stages: Vec<(String, u64, f64)> = clock
        .stages
        .iter()
        .map(|s| (s.name.clone(), s.duration_ns / 1_000_000, s.to))
        .collect();
    assert_eq!(
        stages,
        [
            ("s1".to_owned(), 5_000, 10.0),
            ("s2".to_owned(), 10_000, 10.0),
            ("s3".to_owned(), 5_000, 4.0)
        ]
    );

    c.advance_to(ms(4_999)).await;
    assert_eq!(steps(&mut c, "w1").len(), 1);
    c.advance_to(ms(5_000)).await;
    // A hold: missing users start at once (the jump rate, split 1:1).
    assert_eq!(steps(&mut c, "w1")[1], (2, 5, 500_000.0));
    c.advance_to(ms(14_999)).await;
    assert_eq!(steps(&mut c, "w2").len(), 2);
    // Down 6 users over 5 s, a step a second, each to where the ramp is at its end:
    // 9, 8, 6, 5, 4 users over both workers (1.2 users/s, split as the users are).
    let mut totals = Vec::new();
    for second in 15..20 {
        c.advance_to(ms(second * 1_000)).await;
        let (w1, w2) = (steps(&mut c, "w1"), steps(&mut c, "w2"));
        let (a, b) = (w1.last().expect("w1"), w2.last().expect("w2"));
        assert_eq!(a.0, w1.len() as u64, "one new assignment a second");
        assert!((a.2 + b.2 - 1.2).abs() < 1e-9, "rates {} + {}", a.2, b.2);
        totals.push(a.1 + b.1);
    }
    assert_eq!(totals, [9, 8, 6, 5, 4]);
    let clocks: Vec<i64> = c
        .assignments("w1")
        .iter()
        .map(|a| a.stages.as_ref().map_or(0, |s| s.start_unix_ms))
        .collect();
    assert_eq!(clocks, [BASE_MS; 7], "the same clock every time");

    c.advance_to(ms(19_900)).await;
    assert_eq!((c.stops("w1"), c.stops("w2")), (0, 0));
    c.advance_to(ms(20_000)).await;
    assert_eq!((c.stops("w1"), c.stops("w2")), (1, 1));
    assert_eq!(steps(&mut c, "w1").len(), 7, "no step after the last");
}

/// A worker joining during a stage gets a share of that stage's target, not the peak, and
/// the next boundary splits over all three.
#[tokio::test(start_paused = true)]
async fn a_worker_joining_mid_stage_gets_a_share_of_the_stage() {
    let mut c = staged(&[(2_000, 6.0), (0, 30.0), (3_000, 30.0)], &["w1", "w2"]);
    c.advance(ms(0)).await;
    assert_eq!(c.totals(), [3, 3]);
    c.advance_to(ms(1_000)).await;
    c.attach("w3");
    assert_eq!(c.totals(), [2, 2, 2]);
    assert_eq!(steps(&mut c, "w3"), [(2, 2, 1.0)]);
    c.advance_to(ms(2_000)).await;
    assert_eq!(c.totals(), [10, 10, 10]);
    let rates: Vec<f64> = ["w1", "w2", "w3"]
        .iter()
        .map(|id| steps(&mut c, id)[steps(&mut c, id).len() - 1].2)
        .collect();
    let third = 1_000_000.0 / 3.0;
    assert_eq!(rates, [third, third, third]);
}

/// An open shape's assignments carry the stage clock from the schedule's start, the same
/// instant as their stripe's.
#[tokio::test(start_paused = true)]
async fn open_shapes_send_the_stage_clock_with_the_schedule_start() {
    let shape = lv_common::load::LoadShape::constant_rate(10.0, ms(2_000));
    let mut config = test_config(1, &[("A", 1)]);
    config.run_time = Some(shape.duration());
    config.shape = Some(shape);
    let mut c = TestCluster::new(config);
    c.attach("w1");
    c.advance(ms(0)).await;
    let assignment = c.assignments("w1").pop().expect("assigned");
    let open = assignment.open.expect("open load").start_unix_ms;
    let stages = assignment.stages.expect("stage clock").start_unix_ms;
    assert_eq!((open, stages), (BASE_MS + 500, BASE_MS + 500));
    // The live line shows the planned rate, not users the run does not have.
    assert_eq!(c.coord.live_load(), "arrivals 10/s planned");
}

/// A closed run's live line shows users against the target.
#[tokio::test(start_paused = true)]
async fn a_closed_run_shows_users_on_the_live_line() {
    let mut c = staged(&[(1_000, 4.0)], &["w1"]);
    c.advance(ms(0)).await;
    assert_eq!(c.coord.live_load(), "users 4 / 4");
}

/// A worker that refuses its current assignment fails the run at once with its reason: a
/// Stop goes out, no assignment is sent again, and the run ends aborted (exit code 3).
#[tokio::test(start_paused = true)]
async fn a_refused_assignment_fails_the_run_with_the_reason() {
    let mut c = running(4, &["w1", "w2"]).await;
    c.advance_to(ms(1_000)).await;
    let generation = c.assignments("w1").last().map_or(0, |a| a.generation);
    // A refusal of another run or an older generation is stale: the run goes on.
    c.reject("w1", Some("an-old-run"), generation, "stale");
    c.reject("w1", None, generation + 1, "a future generation");
    assert!(matches!(c.coord.phase, Phase::Running { .. }));
    c.reject(
        "w1",
        None,
        generation,
        "malformed Assignment: spawn_rate inf must be > 0",
    );
    assert!(matches!(c.coord.phase, Phase::Stopping { .. }));
    assert_eq!(c.stops("w1"), 1);
    assert_eq!(c.stops("w2"), 1);
    let sent = c.assignments("w1").len();
    c.advance_to(ms(20_000)).await;
    assert_eq!(c.assignments("w1").len(), sent, "no assignment again");
    assert!(c.is_done());
    let result = c.finish().result;
    assert_eq!(
        result.aborted.as_deref(),
        Some("worker w1 refused its assignment: malformed Assignment: spawn_rate inf must be > 0")
    );
}

/// An assignment larger than a worker can decode is never sent: the run fails naming its
/// size.
#[tokio::test(start_paused = true)]
async fn an_assignment_past_the_message_limit_is_not_sent() {
    let mut config = test_config(2, &[("A", 1)]);
    config.plan.classes[0].name = "A".repeat(lv_common::MAX_MESSAGE_BYTES);
    config.expect_workers = 2;
    let mut c = TestCluster::new(config);
    c.attach("w1");
    c.attach("w2");
    c.advance(ms(0)).await;
    assert!(c.assignments("w1").is_empty(), "nothing too large goes out");
    assert!(c.assignments("w2").is_empty(), "nothing too large goes out");
    assert!(
        matches!(c.coord.phase, Phase::Stopping { .. }),
        "the workers' final reports are awaited"
    );
    c.advance_to(ms(15_000)).await;
    assert!(c.is_done());
    let aborted = c.finish().result.aborted.unwrap_or_default();
    assert!(aborted.starts_with("the assignment is "), "{aborted}");
    assert!(
        aborted.contains("more than the 4194304 a worker accepts"),
        "{aborted}"
    );
}

/// A worker whose heartbeats say it is above 90% CPU for seconds of the run limits it: the
/// report says so (as data and in the verdict) and names the worker, with its peak and
/// mean; a worker at 20% limits nothing.
#[tokio::test(start_paused = true)]
async fn an_overloaded_worker_limits_the_run() {
    use lv_common::pb;

    use crate::report::conclude::{RunView, summarize};
    use crate::report::summary::GeneratorCause;

    let load = |cpu: f64| pb::Resources {
        cpu_percent: Some(cpu),
        memory_bytes: Some(50_000_000),
        connections: 3,
        sched_delay_us: 2_000,
    };
    let mut config = test_config(4, &[("A", 1)]);
    config.expect_workers = 2;
    let mut c = TestCluster::new(config);
    c.attach("w1");
    c.load("w1", load(99.0));
    c.attach("w2");
    c.load("w2", load(20.0));
    c.advance_to(ms(1_000)).await;
    assert!(matches!(c.coord.phase, Phase::Running { .. }));
    c.advance(ms(3_000)).await;
    c.load("w1", load(95.0));
    c.advance(ms(5_000)).await;
    c.load("w1", load(30.0));
    c.advance(ms(2_000)).await;
    c.report("w1", 1, 10, false);
    c.stop();
    c.report("w1", 2, 0, true);
    c.report("w2", 1, 0, true);
    c.advance(ms(0)).await;
    let result = c.finish().result;
    let view = RunView {
        run_id: &result.run_id,
        stats: &result.stats,
        workers: &result.workers,
        started_unix_ms: result.started_unix_ms,
        ended_unix_ms: result.ended_unix_ms,
        aborted: None,
        failed: None,
        below_target: &[],
        outages: &[],
        checkpoint: false,
        stopped_by: None,
    };
    let (_, summary) = summarize(&result.config, &view);
    assert!(summary.generator_limited);
    assert_eq!(
        summary.generator_warnings.len(),
        1,
        "{:?}",
        summary.generator_warnings
    );
    let warning = &summary.generator_warnings[0];
    assert_eq!(warning.cause, GeneratorCause::WorkerCpu);
    assert_eq!(warning.worker_id.as_deref(), Some("w1"));
    assert!(
        summary.verdict.ends_with(&format!(
            "; the generator limited this run; its latencies include its own delay ({})",
            warning.detail
        )),
        "{}",
        summary.verdict
    );
    let w1 = summary.workers[0].resources.as_ref().expect("w1's load");
    let cpu = w1.cpu_percent.expect("cpu");
    assert_eq!((cpu.peak, cpu.last), (99.0, 30.0));
    assert!(cpu.mean > 30.0 && cpu.mean < 99.0, "{}", cpu.mean);
    assert_eq!(w1.memory_bytes.map(|g| g.peak), Some(50_000_000.0));
    assert_eq!(w1.overloads.len(), 1);
    let w2 = summary.workers[1].resources.as_ref().expect("w2's load");
    assert!(w2.overloads.is_empty());
    assert_eq!(w2.cpu_percent.map(|g| g.peak), Some(20.0));
}

/// Assignments `ids` received on their current connections, in all.
fn assignments_sent(c: &mut TestCluster, ids: &[String]) -> usize {
    ids.iter().map(|id| c.assignments(id).len()).sum()
}

/// A join storm costs O(workers) assignments, not O(workers²): 300 workers joining one by
/// one within one tick of a running run get one re-split at that tick (after the one the
/// first join gets at once), so 1 (the start) + 2 (the first join) + 301 (the tick)
/// assignments go out, where a re-split per join sent 45,451. The quotas still sum
/// exactly to the users and every worker holds the last generation.
#[tokio::test(start_paused = true)]
async fn a_join_storm_is_split_once_a_tick() {
    let mut c = running(1_000, &["w000"]).await;
    c.advance_to(ms(1_000)).await;
    let ids: Vec<String> = (0..=300).map(|i| format!("w{i:03}")).collect();
    // Four joins a millisecond (the timers' resolution), from 1,000 ms to 1,074 ms.
    for (i, id) in ids[1..].iter().enumerate() {
        c.attach(id);
        if i % 4 == 3 {
            c.advance(ms(1)).await;
        }
    }
    assert_eq!(c.t0.elapsed(), ms(1_075));
    // The re-split waits for the tick at 1,100 ms.
    let before_tick = assignments_sent(&mut c, &ids);
    assert_eq!(before_tick, 1 + 2, "assignments sent before the tick");
    assert_eq!(c.assignments("w300").len(), 0);
    c.advance_to(ms(1_100)).await;
    let sent = assignments_sent(&mut c, &ids);
    assert!(
        sent <= 2 * ids.len(),
        "{sent} assignments for {} workers",
        ids.len()
    );
    assert_eq!(sent, 1 + 2 + 301);
    let totals = c.totals();
    assert_eq!(totals.iter().sum::<u32>(), 1_000);
    assert!(totals.iter().all(|&n| n == 3 || n == 4), "{totals:?}");
    let generations: std::collections::BTreeSet<u64> = ids
        .iter()
        .map(|id| c.assignments(id).last().map_or(0, |a| a.generation))
        .collect();
    assert_eq!(generations.into_iter().collect::<Vec<_>>(), [3]);
    let rate: f64 = ids
        .iter()
        .map(|id| c.assignments(id).last().map_or(0.0, |a| a.spawn_rate))
        .sum();
    assert!((rate - 10.0).abs() < 1e-9, "spawn rates sum to {rate}");
}

/// Half of 100 workers lost at once and back within one tick: the loss is one re-split
/// (to the 50 left), the 50 returns another at the next tick (to all 100), each back
/// worker gets its share; a re-split per return sent 3,775 instead of 100.
#[tokio::test(start_paused = true)]
async fn a_rejoin_storm_is_split_once_a_tick() {
    let ids: Vec<String> = (0..100).map(|i| format!("w{i:03}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut c = running(1_000, &refs).await;
    c.advance_to(ms(500)).await;
    let (gone, stayed) = ids.split_at(50);
    for id in gone {
        c.detach(id);
    }
    c.advance_to(ms(6_000)).await;
    assert!(matches!(c.state(&gone[0]), Some(WorkerState::Lost { .. })));
    assert_eq!(
        assignments_sent(&mut c, stayed),
        50 + 50,
        "start, then the loss"
    );
    assert_eq!(c.assigned(&stayed[0]), users(&[("A", 20)]));
    c.advance_to(ms(6_010)).await;
    // Back one a millisecond, from 6,010 ms to 6,059 ms.
    for id in gone {
        c.attach(id);
        c.advance(ms(1)).await;
    }
    let before_tick = assignments_sent(&mut c, stayed) - 100 + assignments_sent(&mut c, gone);
    assert_eq!(before_tick, 0, "assignments sent before the tick");
    c.advance_to(ms(6_100)).await;
    let after_loss = assignments_sent(&mut c, stayed) - 100 + assignments_sent(&mut c, gone);
    assert_eq!(after_loss, 100);
    let totals = c.totals();
    assert_eq!(totals.iter().sum::<u32>(), 1_000);
    assert!(totals.iter().all(|&n| n == 10), "{totals:?}");
}

/// A re-split sends only the workers whose share changed: 2 users on 2 workers stay 1
/// and 1 when a third joins, so only the newcomer gets an assignment (of the new
/// generation); the others keep theirs, and their iterations count against it.
#[tokio::test(start_paused = true)]
async fn an_unchanged_share_is_not_sent_again() {
    let mut config = test_config(2, &[("A", 1)]);
    config.expect_workers = 2;
    config.plan.iterations = std::num::NonZeroU32::new(1);
    let mut c = TestCluster::new(config);
    c.attach("w1");
    c.attach("w2");
    c.advance(ms(0)).await;
    c.advance_to(ms(1_000)).await;
    c.attach("w3");
    assert_eq!(c.totals(), [1, 1, 0]);
    let generations: Vec<Vec<u64>> = ["w1", "w2", "w3"]
        .iter()
        .map(|id| c.assignments(id).iter().map(|a| a.generation).collect())
        .collect();
    assert_eq!(generations, [vec![1], vec![1], vec![2]]);
    // Every user ran its iteration of the assignment it holds: the run stops.
    c.finish_users("w1");
    c.finish_users("w2");
    c.advance_to(ms(2_100)).await;
    assert_eq!(c.stops("w1"), 1);
}
