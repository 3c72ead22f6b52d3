//! Failover on paused time: acknowledgements wait for a checkpoint, and a coordinator
//! resumed from that checkpoint takes the run on with its workers, merging what they
//! resend exactly once.

use lv_common::pb::master_message::Kind as MasterKind;

use super::super::Phase;
use super::super::testing::{BASE_MS, Received, TestCluster, ms, test_config};
use crate::config::resume::load;
use crate::run::registry::WorkerState;

#[tokio::test(start_paused = true)]
async fn acks_wait_for_a_checkpoint_and_a_resumed_run_merges_resends_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("checkpoint.json");
    let mut config = test_config(4, &[("A", 1)]);
    config.expect_workers = 2;
    config.run_time = Some(std::time::Duration::from_secs(60));
    config.checkpoint = Some(path.clone());
    let plan = config.plan.clone();
    let mut c = TestCluster::new(config.clone());
    c.attach("w1");
    c.attach("w2");
    c.advance(ms(0)).await;
    c.report("w1", 1, 10, false);
    c.report("w2", 1, 5, false);
    c.advance_to(ms(4_900)).await;
    assert!(
        c.acks("w1").is_empty(),
        "nothing acknowledged before a checkpoint"
    );
    c.advance_to(ms(5_000)).await;
    assert_eq!(c.acks("w1"), [1], "the checkpoint holds seq 1");
    assert_eq!(c.acks("w2"), [1]);
    // After the checkpoint: more reports the master merges, then it dies.
    c.report("w1", 2, 7, false);
    assert_eq!(c.requests(), 22);
    let run_id = c.coord.ledger.run_id().to_owned();
    drop(c);

    // The new master starts 2 s after the last checkpoint.
    tokio::time::advance(std::time::Duration::from_secs(2)).await;
    config.resume = Some(load(&path, &plan, false).expect("a checkpoint to resume"));
    let mut r = TestCluster::at(config, BASE_MS + 7_000);
    assert_eq!(r.coord.ledger.run_id(), run_id, "the same run");
    assert_eq!(r.requests(), 15, "what the checkpoint held");
    assert!(matches!(r.coord.phase, Phase::Running { .. }));
    assert!(matches!(r.state("w1"), Some(WorkerState::Missing { .. })));
    r.attach("w1");
    let welcome = r.picked("w1", |m| match m {
        MasterKind::Welcome(w) => Some(w.clone()),
        _ => None,
    });
    assert_eq!(welcome.len(), 1);
    assert_eq!(
        (welcome[0].run_id.as_str(), welcome[0].acked_seq),
        (run_id.as_str(), 1)
    );
    assert_eq!(
        r.assigned("w1").values().sum::<u32>(),
        2,
        "its share at once"
    );
    // w1 resends what it held: seq 2 is merged, a repeat of seq 1 or 2 is not.
    r.report("w1", 1, 10, false);
    r.report("w1", 2, 7, false);
    r.report("w1", 2, 7, false);
    assert_eq!(r.requests(), 22, "each report merged once");
    r.attach("w2");
    let outage = r.coord.ledger.outages().last().cloned().expect("an outage");
    assert_eq!((outage.workers_expected, outage.workers_back), (2, 2));
    assert_eq!(outage.missing_s, 0.0);
    assert_eq!(
        (outage.from_unix_ms, outage.to_unix_ms),
        (BASE_MS + 5_000, BASE_MS + 7_000)
    );
    // The run ends 60 s after the original start, not after the resume.
    r.advance_to(ms(52_900)).await;
    assert!(matches!(r.coord.phase, Phase::Running { .. }));
    r.advance_to(ms(53_000)).await;
    assert!(
        matches!(r.coord.phase, Phase::Stopping { .. }),
        "60 s from the original start"
    );
    let stops = r
        .received("w1")
        .iter()
        .filter(|m| matches!(m, Received::Message(MasterKind::Stop(_))))
        .count();
    assert_eq!(stops, 1);
}
