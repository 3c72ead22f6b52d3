//! `-i/--iterations` in run control, on paused time with fake workers: the run stops once
//! the users of every worker's current assignment ran their iterations, and not before.

use std::num::NonZeroU32;

use super::Phase;
use super::testing::{BASE_MS, TestCluster, ms, test_config};

/// A started cluster of `ids` sharing `total` users of one class, each running
/// `iterations` tasks (no limit when `None`), for at most a minute.
async fn limited(total: u32, ids: &[&str], iterations: Option<u32>) -> TestCluster {
    let mut config = test_config(total, &[("A", 1)]);
    config.expect_workers = ids.len();
    config.run_time = Some(ms(60_000));
    config.plan.iterations = iterations.and_then(NonZeroU32::new);
    let mut cluster = TestCluster::new(config);
    for id in ids {
        cluster.attach(id);
    }
    cluster.advance(ms(0)).await;
    assert!(matches!(cluster.coord.phase, Phase::Running { .. }));
    cluster
}

/// The run stops at the first check after the last worker says its users finished, long
/// before the run time, and ends normally once the final reports are in.
#[tokio::test(start_paused = true)]
async fn the_run_stops_once_every_worker_finished() {
    let mut c = limited(10, &["w1", "w2"], Some(3)).await;
    c.advance_to(ms(2_500)).await;
    c.finish_users("w1");
    c.advance_to(ms(8_000)).await;
    assert_eq!(
        (c.stops("w1"), c.stops("w2")),
        (0, 0),
        "w2 still runs users"
    );
    c.finish_users("w2");
    c.advance_to(ms(8_999)).await;
    assert_eq!(c.stops("w1"), 0, "w2 has not said so yet");
    c.advance_to(ms(9_100)).await;
    assert_eq!((c.stops("w1"), c.stops("w2")), (1, 1));
    c.report("w1", 1, 15, true);
    c.report("w2", 1, 15, true);
    c.advance_to(ms(9_200)).await;
    assert!(c.is_done());
    let result = c.finish().result;
    assert_eq!(result.aborted, None);
    assert_eq!(result.stats.totals.request_count(), 30);
    assert_eq!(result.ended_unix_ms, BASE_MS + 9_200);
}

/// A lost worker's users go to the others and run their iterations there: the finished
/// users of the earlier assignment do not end the run; those of the new one do.
#[tokio::test(start_paused = true)]
async fn a_lost_workers_users_run_their_iterations_on_the_others() {
    let mut c = limited(12, &["w1", "w2", "w3"], Some(2)).await;
    assert_eq!(c.totals(), [4, 4, 4]);
    c.advance_to(ms(1_500)).await;
    c.finish_users("w1");
    c.finish_users("w2");
    c.detach("w3");
    c.advance_to(ms(7_900)).await;
    assert_eq!(c.stops("w1"), 0, "w3's users have not finished");
    c.advance_to(ms(8_000)).await;
    assert_eq!(c.totals(), [6, 6, 4]);
    c.advance_to(ms(12_000)).await;
    assert_eq!(c.stops("w1"), 0, "the users w3 left have not run yet");
    c.finish_users("w1");
    c.finish_users("w2");
    c.advance_to(ms(13_100)).await;
    assert_eq!((c.stops("w1"), c.stops("w2")), (1, 1));
    c.report("w1", 1, 12, true);
    c.report("w2", 1, 12, true);
    c.advance_to(ms(13_200)).await;
    assert!(c.is_done());
    assert_eq!(c.finish().result.aborted, None);
}

/// Without `-i`, workers with no users left running do not end the run: the run time does.
#[tokio::test(start_paused = true)]
async fn without_iterations_only_the_run_time_ends_the_run() {
    let mut c = limited(4, &["w1"], None).await;
    c.finish_users("w1");
    c.advance_to(ms(59_900)).await;
    assert_eq!(c.stops("w1"), 0);
    c.advance_to(ms(60_000)).await;
    assert_eq!(c.stops("w1"), 1);
}
