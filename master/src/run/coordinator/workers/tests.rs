//! The worker table on paused time: attach, split, silence and loss.

use std::time::Duration;

use lv_common::pb::{self, master_message::Kind as MasterKind};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::WorkerTable;
use crate::run::registry::WorkerState;

type Inbox = mpsc::Receiver<Result<pb::MasterMessage, tonic::Status>>;

fn hello(id: &str) -> pb::Hello {
    pb::Hello {
        worker_id: id.to_owned(),
        hostname: format!("host-{id}"),
        ..Default::default()
    }
}

/// A table of `ids`, attached now on connections 1, 2, …, with their inboxes.
fn table(ids: &[&str]) -> (WorkerTable, Vec<Inbox>) {
    let mut table = WorkerTable::new();
    let mut inboxes = Vec::new();
    for (conn, id) in (1..).zip(ids) {
        let (tx, rx) = mpsc::channel(64);
        let attach = table.attach(&hello(id), conn, tx, Instant::now());
        assert!(!attach.rejoined && !attach.was_lost);
        inboxes.push(rx);
    }
    (table, inboxes)
}

fn weights() -> Vec<(String, u32)> {
    vec![("A".to_owned(), 3), ("B".to_owned(), 1)]
}

fn totals(table: &WorkerTable) -> Vec<u32> {
    table.entries().values().map(|w| w.assigned()).collect()
}

fn beat() -> pb::Heartbeat {
    pb::Heartbeat {
        unix_ms: 0,
        users_running: 0,
        run_id: "r".into(),
        users_finished: 0,
        generation: 0,
        resources: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_split_over_three_workers_sums_to_the_users() {
    let (mut table, _inboxes) = table(&["w1", "w2", "w3"]);
    let members = table.members();
    table.split(&members, 10, &weights(), 5.0);
    assert_eq!(totals(&table), [4, 3, 3]);
    let rates: f64 = table.entries().values().map(|w| w.spawn_rate).sum();
    assert!((rates - 5.0).abs() < 1e-9, "{rates}");
    table.clear_users(&members, 2.0);
    assert_eq!(totals(&table), [0, 0, 0]);
}

#[tokio::test(start_paused = true)]
async fn a_worker_missing_past_the_timeout_is_lost_and_its_users_are_split_again() {
    let timeout = Duration::from_secs(5);
    let (mut table, mut inboxes) = table(&["w1", "w2", "w3"]);
    table.split(&table.members(), 10, &weights(), 5.0);
    let t0 = Instant::now();
    table.detach("w3", 3, "test", t0);
    assert_eq!(
        table.get("w3").map(|w| w.state),
        Some(WorkerState::Missing { since: t0 })
    );
    tokio::time::advance(timeout).await;
    assert!(table.touch("w1", 1, Instant::now()));
    assert!(table.touch("w2", 2, Instant::now()));
    assert!(
        table.beat(Instant::now(), timeout, &beat()).is_empty(),
        "5 s is not past"
    );
    tokio::time::advance(Duration::from_millis(1)).await;
    let now = Instant::now();
    let lost = table.beat(now, timeout, &beat());
    assert_eq!(lost, ["w3"]);
    let dropped = table.mark_lost(&lost, now, 42);
    assert_eq!(dropped, [("w3".to_owned(), t0)], "it had users");
    let w3 = table
        .get("w3")
        .map(|w| (w.state, w.lost_unix_ms, w.assigned()));
    assert_eq!(w3, Some((WorkerState::Lost { at: now }, Some(42), 0)));
    assert_eq!(table.members(), ["w1", "w2"]);
    table.split(&table.members(), 10, &weights(), 5.0);
    assert_eq!(totals(&table), [5, 5, 0]);
    let beats = |inbox: &mut Inbox| {
        std::iter::from_fn(|| inbox.try_recv().ok())
            .filter(|m| {
                matches!(
                    m,
                    Ok(pb::MasterMessage {
                        kind: Some(MasterKind::Heartbeat(_))
                    })
                )
            })
            .count()
    };
    assert_eq!(
        beats(&mut inboxes[0]),
        2,
        "active workers get every heartbeat"
    );
    assert_eq!(beats(&mut inboxes[2]), 0);
}

#[tokio::test(start_paused = true)]
async fn a_silent_worker_is_disconnected_when_lost_and_welcomed_back_as_lost() {
    let timeout = Duration::from_secs(5);
    let (mut table, mut inboxes) = table(&["w1"]);
    tokio::time::advance(timeout + Duration::from_millis(1)).await;
    let lost = table.beat(Instant::now(), timeout, &beat());
    assert_eq!(lost, ["w1"]);
    let closed = inboxes[0]
        .try_recv()
        .ok()
        .and_then(Result::err)
        .map(|s| s.code());
    assert_eq!(closed, Some(tonic::Code::DeadlineExceeded));
    let dropped = table.mark_lost(&lost, Instant::now(), 0);
    assert!(dropped.is_empty(), "it had no users");
    let (tx, _rx) = mpsc::channel(8);
    let attach = table.attach(&hello("w1"), 9, tx, Instant::now());
    assert!(attach.rejoined && attach.was_lost);
    assert_eq!(table.active(), 1);
    assert!(
        !table.touch("w1", 1, Instant::now()),
        "an old connection is ignored"
    );
}

#[tokio::test(start_paused = true)]
async fn reports_are_taken_once_and_acked_when_asked() {
    use lv_common::wire::Report;
    let (mut table, mut inboxes) = table(&["w1"]);
    let report = |run_id: &str, seq| {
        pb::StatsReport::from(&Report {
            run_id: run_id.to_owned(),
            seq,
            start_unix_ms: 0,
            end_unix_ms: 7,
            users_running: 3,
            stats: lv_common::stats::StatsSet::default(),
            last: false,
            cut_off: 0,
            dropped_reports: 0,
            open: None,
            stage: 0,
        })
    };
    assert!(
        table
            .accept_report("w1", report("other", 1), "r", true)
            .is_none()
    );
    assert!(
        table
            .accept_report("w1", report("r", 1), "r", false)
            .is_some()
    );
    assert!(
        table
            .accept_report("w1", report("r", 1), "r", true)
            .is_none(),
        "seen"
    );
    assert_eq!(table.users_running(), 3);
    let acks: Vec<u64> = std::iter::from_fn(|| inboxes[0].try_recv().ok())
        .filter_map(|m| match m {
            Ok(pb::MasterMessage {
                kind: Some(MasterKind::Ack(ack)),
            }) => Some(ack.seq),
            _ => None,
        })
        .collect();
    assert_eq!(acks, [1]);
    assert_eq!(table.merged_seqs().get("w1"), Some(&1));
}
