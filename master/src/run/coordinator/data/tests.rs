#![allow(
    clippy::single_range_in_vec_init,
    reason = "row ranges, compared as lists"
)]

use lv_common::data::DataUse;
use lv_common::plan::ClassPlan;
use lv_common::wait::WaitRule;

use super::*;

fn table(rows: usize) -> Arc<DataTable> {
    let mut table = DataTable::new("accounts", vec!["email".into()], false);
    for i in 0..rows {
        let email = format!("u{i:0>30}");
        table.push_row([email.as_str()].into_iter()).expect("row");
    }
    Arc::new(table)
}

fn plan(mode: DataMode) -> Plan {
    let class = |name: &str, data: Vec<DataUse>| ClassPlan {
        name: name.into(),
        weight: 1,
        wait: WaitRule::Constant(0.0),
        on_start: vec![],
        tasks: vec![],
        cookies: true,
        data,
    };
    Plan {
        classes: vec![
            class(
                "A",
                vec![DataUse {
                    source: "accounts".into(),
                    mode,
                }],
            ),
            class("B", vec![]),
        ],
        connection_per_user: false,
        iterations: None,
    }
}

fn quotas(per_worker: &[(&str, u32, u32)]) -> Vec<(String, ClassUsers)> {
    per_worker
        .iter()
        .map(|(id, a, b)| {
            let users = [("A".to_owned(), *a), ("B".to_owned(), *b)].into();
            ((*id).to_owned(), users)
        })
        .collect()
}

fn rows_of(ledger: &DataLedger, worker: &str) -> Vec<Range<u64>> {
    let grant = ledger.grants_for(worker).remove(0);
    grant.rows.iter().map(|r| r.start..r.end).collect()
}

#[test]
fn rows_go_to_workers_by_their_users_of_the_classes_that_use_them() {
    let mut ledger = DataLedger::new(&plan(DataMode::Unique), &[table(1000)]);
    ledger.grant(&quotas(&[("w1", 40, 7), ("w2", 40, 7), ("w3", 40, 6)]));
    assert_eq!(rows_of(&ledger, "w1"), [0..40]);
    assert_eq!(rows_of(&ledger, "w2"), [40..80]);
    assert_eq!(rows_of(&ledger, "w3"), [80..120]);
    // w3 is lost: its users go to the others, who get new rows; w3's are not reused.
    ledger.grant(&quotas(&[("w1", 60, 10), ("w2", 60, 10)]));
    assert_eq!(rows_of(&ledger, "w1"), [0..40, 120..140]);
    assert_eq!(rows_of(&ledger, "w2"), [40..80, 140..160]);
    assert_eq!(ledger.handed_out("accounts"), 160);
}

#[test]
fn users_that_left_keep_their_rows_and_new_ones_get_new_rows() {
    let mut ledger = DataLedger::new(&plan(DataMode::Unique), &[table(100)]);
    ledger.grant(&quotas(&[("w1", 40, 0)]));
    ledger.grant(&quotas(&[("w1", 20, 0)]));
    assert_eq!(
        rows_of(&ledger, "w1"),
        [0..40],
        "a lower count returns nothing"
    );
    ledger.grant(&quotas(&[("w1", 40, 0)]));
    assert_eq!(rows_of(&ledger, "w1"), [0..60], "20 new users, 20 new rows");
}

#[test]
fn too_few_rows_are_split_in_proportion() {
    let mut ledger = DataLedger::new(&plan(DataMode::Unique), &[table(120)]);
    ledger.grant(&quotas(&[("w1", 50, 0), ("w2", 50, 0), ("w3", 50, 0)]));
    let sizes: Vec<u64> = ["w1", "w2", "w3"]
        .iter()
        .map(|w| rows_of(&ledger, w).iter().map(|r| r.end - r.start).sum())
        .collect();
    assert_eq!(sizes, [40, 40, 40]);
    ledger.grant(&quotas(&[("w1", 75, 0), ("w2", 75, 0)]));
    assert_eq!(ledger.handed_out("accounts"), 120, "none left to hand out");
}

#[test]
fn shares_add_up_to_what_is_available() {
    assert_eq!(share(&[5, 5, 5], 100), [5, 5, 5]);
    assert_eq!(share(&[1, 1, 1], 2), [1, 1, 0]);
    assert_eq!(share(&[10, 20, 0], 15), [5, 10, 0]);
    let got = share(&[7, 3, 9, 1], 11);
    assert_eq!(got.iter().sum::<u64>(), 11);
    assert!(got.iter().zip([7, 3, 9, 1]).all(|(g, n)| *g <= n));
}

#[test]
fn cycle_starts_follow_the_workers_users_and_stay_put() {
    let mut ledger = DataLedger::new(&plan(DataMode::Cycle), &[table(100)]);
    ledger.grant(&quotas(&[("w1", 30, 0), ("w2", 30, 0)]));
    ledger.grant(&quotas(&[("w1", 10, 0), ("w2", 10, 0), ("w3", 5, 0)]));
    let start = |w: &str| ledger.grants_for(w)[0].cycle_start;
    assert_eq!((start("w1"), start("w2"), start("w3")), (0, 30, 60));
}

#[test]
fn each_worker_gets_the_tables_once_per_run() {
    let mut ledger = DataLedger::new(&plan(DataMode::Random), &[table(70_000)]);
    let chunks = ledger.chunks_for("w1", "run");
    assert!(chunks.len() > 1);
    assert!(chunks.iter().all(|c| c.run_id == "run"));
    assert_eq!(chunks[0].total_rows, 70_000);
    assert!(ledger.chunks_for("w1", "run").is_empty());
    ledger.forget("w1");
    assert_eq!(
        ledger.chunks_for("w1", "run").len(),
        chunks.len(),
        "after a reconnect"
    );
    assert_eq!(ledger.chunks_for("w2", "run").len(), chunks.len());
    let none = DataLedger::new(&plan(DataMode::Random), &[]).chunks_for("w1", "run");
    assert!(none.is_empty());
}
