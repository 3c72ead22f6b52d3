//! UI mode on paused time with fake workers: start, edit, stop, reset and start again, each
//! run with its own id, stats and reports; an edit's timer replaces the earlier one.

use std::sync::Arc;
use std::time::Duration;

use clap::Parser as _;
use tokio::sync::{mpsc, oneshot, watch};

use super::super::Phase;
use super::super::testing::{TestCluster, ms, test_config};
use crate::config::Settings;
use crate::config::cli::Args;
use crate::live::control::{Command, CommandError, RunParams, Started};
use crate::live::snapshot::{Catalog, RunState, Snapshot};
use crate::run::coordinator::{Session, WebLink};

/// A UI-mode cluster of `ids` whose runs write their reports in `reports`.
fn ui_cluster(
    ids: &[&str],
    reports: &std::path::Path,
) -> (TestCluster, watch::Receiver<Arc<Snapshot>>) {
    ui_cluster_with(ids, reports, test_config(4, &[("A", 1)]), false, None)
}

/// [`ui_cluster`] with its configuration, `--autostart` and `--autoquit`.
fn ui_cluster_with(
    ids: &[&str],
    reports: &std::path::Path,
    config: crate::config::MasterConfig,
    autostart: bool,
    autoquit: Option<Duration>,
) -> (TestCluster, watch::Receiver<Arc<Snapshot>>) {
    let mut cluster = TestCluster::new(config.clone());
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let args = Args::try_parse_from([
        "lv-master".to_owned(),
        format!("--scenarios={root}/configs/scenarios"),
        format!("--fleet={root}/configs/fleet.toml"),
        "--no-slo".to_owned(),
    ])
    .expect("flags");
    let settings = Arc::new(Settings::from_args(&args).expect("settings"));
    let (snapshots, rx) = watch::channel(Arc::new(Snapshot::idle(&config, &Catalog::default())));
    let (_commands_tx, commands) = mpsc::channel(1);
    cluster.coord.set_web(WebLink {
        snapshots,
        catalog: Arc::new(Catalog::default()),
        session: Some(Session {
            commands,
            settings,
            reports_dir: reports.to_owned(),
            autostart,
            autoquit,
            quiet: false,
        }),
    });
    for id in ids {
        cluster.attach(id);
    }
    (cluster, rx)
}

fn params(users: u32, run_time: Option<u64>) -> RunParams {
    RunParams {
        users,
        spawn_rate: 10.0,
        host: Some("http://127.0.0.1".into()),
        run_time: run_time.map(Duration::from_secs),
        classes: Vec::new(),
        tags: Vec::new(),
        exclude_tags: Vec::new(),
        profile: None,
        shape: None,
    }
}

fn ask<T>(
    cluster: &mut TestCluster,
    build: impl FnOnce(oneshot::Sender<Result<T, CommandError>>) -> Command,
) -> Result<T, CommandError> {
    let (tx, mut rx) = oneshot::channel();
    cluster.coord.on_command(build(tx));
    rx.try_recv().expect("answered at once")
}

fn start(
    cluster: &mut TestCluster,
    users: u32,
    run_time: Option<u64>,
) -> Result<Started, CommandError> {
    ask(cluster, |reply| {
        Command::Start(params(users, run_time), reply)
    })
}

/// Sends each worker's last report and lets the coordinator end the run.
async fn finish_run(cluster: &mut TestCluster, ids: &[&str], seq: u64) {
    for id in ids {
        cluster.report(id, seq, 0, true);
    }
    cluster.advance(ms(100)).await;
    cluster.coord.after_step(false);
}

#[tokio::test(start_paused = true)]
async fn runs_start_edit_stop_and_start_again_with_their_own_ids_and_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ids = ["w1", "w2"];
    let (mut c, snapshots) = ui_cluster(&ids, dir.path());
    c.advance(ms(500)).await;
    assert!(matches!(c.coord.phase, Phase::Idle), "waits for a start");
    assert!(c.assignments("w1").is_empty());
    assert_eq!(snapshots.borrow().live.state, RunState::Ready);

    let first = start(&mut c, 4, None).expect("started");
    assert_eq!(c.totals(), [2, 2]);
    c.report("w1", 1, 30, false);
    c.report("w2", 1, 12, false);
    c.advance(ms(2_000)).await;
    assert_eq!(snapshots.borrow().report.total.requests, 42);
    assert_eq!(
        snapshots.borrow().live.run_id.as_deref(),
        Some(first.run_id.as_str())
    );

    // Edit: 6 users and 10 s from now.
    let edited = ask(&mut c, |reply| Command::Edit(params(6, Some(10)), reply)).expect("edited");
    assert_eq!(edited.run_id, first.run_id);
    assert_eq!(c.totals(), [3, 3]);
    c.advance(ms(9_900)).await;
    assert!(matches!(c.coord.phase, Phase::Running { .. }));
    c.advance(ms(200)).await;
    assert!(
        matches!(c.coord.phase, Phase::Stopping { .. }),
        "the edit's timer ends the run"
    );
    assert_eq!(c.stops("w1"), 1);
    finish_run(&mut c, &ids, 2).await;
    assert!(matches!(c.coord.phase, Phase::Idle));
    let snapshot = Arc::clone(&snapshots.borrow());
    assert_eq!(snapshot.live.state, RunState::Stopped);
    assert_eq!(snapshot.runs.len(), 1);
    let record = &snapshot.runs[0];
    assert_eq!(record.run_id, first.run_id);
    let json = record.paths.get("json").expect("a JSON report");
    let written = crate::report::summary::read_json(json).expect("readable report");
    assert_eq!(written.total.requests, 42);
    assert_eq!(written.users, 6);

    // A second run: a new id, fresh stats, the same workers.
    let second = start(&mut c, 2, None).expect("started again");
    assert_ne!(second.run_id, first.run_id);
    assert_eq!(c.totals(), [1, 1]);
    assert_eq!(c.coord.stats.totals.request_count(), 0);
    c.report("w1", 1, 5, false);
    assert_eq!(
        c.coord.stats.totals.request_count(),
        5,
        "sequences restart per run"
    );
    ask(&mut c, Command::Reset).expect("reset");
    assert_eq!(c.coord.stats.totals.request_count(), 0);
    c.report("w1", 2, 7, false);
    ask(&mut c, Command::Stop).expect("stopped");
    assert!(matches!(c.coord.phase, Phase::Stopping { .. }));
    finish_run(&mut c, &ids, 3).await;
    let snapshot = Arc::clone(&snapshots.borrow());
    assert_eq!(snapshot.runs.len(), 2);
    assert_eq!(snapshot.runs[0].run_id, second.run_id, "newest first");
    let written =
        crate::report::summary::read_json(&snapshot.runs[0].paths["json"]).expect("report");
    assert_eq!(written.total.requests, 7);
    assert_ne!(
        snapshot.runs[0].paths["json"],
        snapshot.runs[1].paths["json"]
    );
}

#[tokio::test(start_paused = true)]
async fn commands_that_do_not_fit_the_state_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut c, _snapshots) = ui_cluster(&[], dir.path());
    assert!(
        matches!(start(&mut c, 2, None), Err(CommandError::Conflict(m)) if m.contains("no worker"))
    );
    let edit = ask(&mut c, |reply| Command::Edit(params(3, None), reply));
    assert!(matches!(edit, Err(CommandError::Conflict(_))));
    c.attach("w1");
    start(&mut c, 2, Some(60)).expect("started");
    assert!(matches!(
        start(&mut c, 2, None),
        Err(CommandError::Conflict(_))
    ));
    let mut bad = params(2, None);
    bad.classes = vec!["NoSuchClass".into()];
    ask(&mut c, Command::Stop).expect("stopped");
    finish_run(&mut c, &["w1"], 1).await;
    let refused = ask(&mut c, |reply| Command::Start(bad, reply));
    assert!(
        matches!(refused, Err(CommandError::Invalid(_))),
        "{refused:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn autoquit_is_armed_when_a_run_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut c, _snapshots) = ui_cluster(&["w1"], dir.path());
    if let Some(session) = c.coord.web.as_mut().and_then(|w| w.session.as_mut()) {
        session.autoquit = Some(Duration::from_secs(3));
    }
    start(&mut c, 1, None).expect("started");
    assert_eq!(c.coord.web.as_ref().and_then(|w| w.quit_at), None);
    ask(&mut c, Command::Stop).expect("stopped");
    finish_run(&mut c, &["w1"], 1).await;
    let quit_at = c.coord.web.as_ref().and_then(|w| w.quit_at).expect("armed");
    assert_eq!(
        quit_at - tokio::time::Instant::now(),
        Duration::from_secs(3)
    );
}

#[tokio::test(start_paused = true)]
async fn an_autostart_run_whose_workers_never_come_quits_at_once_with_autoquit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(2, &[("A", 1)]);
    config.expect_workers_max_wait = Some(Duration::from_secs(1));
    let autoquit = Some(Duration::from_secs(30));
    let (mut c, _snapshots) = ui_cluster_with(&[], dir.path(), config, true, autoquit);
    assert!(
        matches!(c.coord.phase, Phase::Waiting { .. }),
        "autostart waits for workers"
    );
    c.advance(ms(1_100)).await;
    c.coord.after_step(false);
    let quit_at = c.coord.web.as_ref().and_then(|w| w.quit_at).expect("armed");
    assert_eq!(
        quit_at,
        tokio::time::Instant::now(),
        "no waiting for the autoquit delay"
    );
    assert!(
        c.coord.ledger.aborted().is_some(),
        "the run could not be carried out (exit 3)"
    );
}

#[tokio::test(start_paused = true)]
async fn worker_losses_and_joins_are_run_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut c, snapshots) = ui_cluster(&["w1", "w2"], dir.path());
    start(&mut c, 4, None).expect("started");
    c.detach("w2");
    c.advance(ms(7_000)).await;
    c.attach("w3");
    c.attach("w2");
    c.advance(ms(2_000)).await;
    let kinds: Vec<String> = snapshots
        .borrow()
        .live
        .events
        .iter()
        .map(|e| e.kind.clone())
        .collect();
    assert_eq!(
        kinds,
        ["start", "worker_lost", "worker_joined", "worker_rejoined"]
    );
    assert_eq!(c.totals().iter().sum::<u32>(), 4);
}

/// A run that follows a load shape refuses edits of its users and spawn rate, and goes on
/// with its own target.
#[tokio::test(start_paused = true)]
async fn an_edit_of_a_shaped_run_is_refused() {
    let shape = lv_common::load::LoadShape {
        model: lv_common::load::Model::Closed,
        ..lv_common::load::LoadShape::constant_rate(4.0, Duration::from_secs(10))
    };
    let mut config = test_config(4, &[("A", 1)]);
    config.run_time = Some(shape.duration());
    config.shape = Some(shape);
    let mut c = TestCluster::new(config);
    c.attach("w1");
    c.advance(ms(0)).await;
    assert!(matches!(c.coord.phase, Phase::Running { .. }));
    let edit = ask(&mut c, |reply| Command::Edit(params(9, None), reply));
    let Err(CommandError::Conflict(message)) = edit else {
        panic!("refused as a conflict: {edit:?}");
    };
    assert!(message.contains("load shape"), "{message}");
    assert_eq!(c.totals(), [4]);
    assert_eq!(c.assignments("w1").len(), 1);
}
