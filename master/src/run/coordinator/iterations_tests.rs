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

/// A run started from the web UI takes `-i` from the command line and ends by itself once
/// the users are done; the master then waits for the next run, which does the same.
#[tokio::test(start_paused = true)]
async fn runs_started_from_the_web_end_when_their_users_are_done() {
    use std::sync::Arc;

    use clap::Parser as _;
    use tokio::sync::{mpsc, oneshot, watch};

    use crate::config::Settings;
    use crate::config::cli::Args;
    use crate::live::control::{Command, RunParams};
    use crate::live::snapshot::{Catalog, RunState, Snapshot};
    use crate::run::coordinator::{Session, WebLink};

    let dir = tempfile::tempdir().expect("tempdir");
    let config = test_config(4, &[("A", 1)]);
    let mut c = TestCluster::new(config.clone());
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let args = Args::try_parse_from([
        "lv-master".to_owned(),
        format!("--scenarios={root}/configs/scenarios/health_checks.toml"),
        format!("--fleet={root}/configs/fleet.toml"),
        "--no-slo".to_owned(),
        "-i".to_owned(),
        "2".to_owned(),
    ])
    .expect("flags");
    let settings = Arc::new(Settings::from_args(&args).expect("settings"));
    let (snapshots, rx) = watch::channel(Arc::new(Snapshot::idle(&config, &Catalog::default())));
    let (_commands_tx, commands) = mpsc::channel(1);
    c.coord.set_web(WebLink {
        snapshots,
        catalog: Arc::new(Catalog::default()),
        session: Some(Session {
            commands,
            settings,
            reports_dir: dir.path().to_owned(),
            autostart: false,
            autoquit: None,
            quiet: false,
        }),
    });
    c.attach("w1");
    for run in 1..=2_u64 {
        let params = RunParams {
            users: 4,
            spawn_rate: 10.0,
            host: Some("http://127.0.0.1".into()),
            run_time: None,
            classes: Vec::new(),
            tags: Vec::new(),
            exclude_tags: Vec::new(),
            profile: None,
            shape: None,
        };
        let (reply, mut answer) = oneshot::channel();
        c.coord.on_command(Command::Start(params, reply));
        answer.try_recv().expect("answered").expect("started");
        let plan_json = c.assignments("w1").pop().expect("assigned").plan_json;
        let plan = lv_common::plan::Plan::from_json(&plan_json).expect("a plan");
        assert_eq!(plan.iterations, NonZeroU32::new(2));
        c.advance(ms(3_000)).await;
        assert!(matches!(c.coord.phase, Phase::Running { .. }));
        c.finish_users("w1");
        c.advance(ms(1_100)).await;
        assert!(matches!(c.coord.phase, Phase::Stopping { .. }));
        c.report("w1", 1, 8, true);
        c.advance(ms(100)).await;
        c.coord.after_step(false);
        assert!(matches!(c.coord.phase, Phase::Idle), "run {run}");
        assert_eq!(rx.borrow().live.state, RunState::Stopped);
        assert_eq!(rx.borrow().runs.len(), run as usize);
    }
}
