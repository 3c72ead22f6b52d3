#![allow(
    clippy::single_range_in_vec_init,
    reason = "row ranges, compared as lists"
)]

use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::*;

fn table(rows: usize) -> Arc<DataTable> {
    let mut table = DataTable::new("accounts", vec!["email".into()], false);
    for i in 0..rows {
        let email = format!("u{i}");
        table.push_row([email.as_str()].into_iter()).expect("row");
    }
    Arc::new(table)
}

fn uses(mode: DataMode) -> Vec<DataUse> {
    vec![DataUse {
        source: "accounts".into(),
        mode,
    }]
}

fn grant(rows: Vec<std::ops::Range<u64>>, cycle_start: u64) -> DataGrant {
    DataGrant {
        source: "accounts".into(),
        rows,
        cycle_start,
    }
}

fn email(vars: &[(String, Value)]) -> String {
    assert_eq!(vars[0].0, "accounts.email");
    vars[0].1.as_str().expect("text").to_owned()
}

#[test]
fn unique_draws_hand_out_each_granted_row_once_then_fail() {
    let mut rng = SmallRng::seed_from_u64(1);
    let data = RunData::new(&[table(10)], &[grant(vec![2..4], 0)]);
    let mut got: Vec<String> = (0..2)
        .map(|_| email(&data.draw(&uses(DataMode::Unique), &mut rng).expect("row")))
        .collect();
    assert_eq!(got, ["u2", "u3"]);
    let err = data
        .draw(&uses(DataMode::Unique), &mut rng)
        .expect_err("none left");
    assert_eq!(err, DrawError::Exhausted("accounts".into()));
    data.update(&[grant(vec![2..4, 7..9], 0)]);
    got = (0..2)
        .map(|_| email(&data.draw(&uses(DataMode::Unique), &mut rng).expect("row")))
        .collect();
    assert_eq!(
        got,
        ["u7", "u8"],
        "a later grant adds rows; old ones are not reused"
    );
    assert!(data.draw(&uses(DataMode::Unique), &mut rng).is_err());
}

#[test]
fn a_grant_beyond_the_table_hands_out_nothing_past_its_end() {
    let mut rng = SmallRng::seed_from_u64(1);
    let data = RunData::new(&[table(3)], &[grant(vec![2..10], 0)]);
    assert_eq!(
        email(&data.draw(&uses(DataMode::Unique), &mut rng).expect("row")),
        "u2"
    );
    assert!(data.draw(&uses(DataMode::Unique), &mut rng).is_err());
}

#[test]
fn cycle_draws_go_in_order_from_the_start_and_wrap() {
    let mut rng = SmallRng::seed_from_u64(1);
    let data = RunData::new(&[table(3)], &[grant(vec![], 2)]);
    let got: Vec<String> = (0..4)
        .map(|_| email(&data.draw(&uses(DataMode::Cycle), &mut rng).expect("row")))
        .collect();
    assert_eq!(got, ["u2", "u0", "u1", "u2"]);
    data.update(&[grant(vec![], 0)]);
    let next = email(&data.draw(&uses(DataMode::Cycle), &mut rng).expect("row"));
    assert_eq!(next, "u0", "a later grant does not move the cycle back");
}

#[test]
fn random_draws_stay_in_the_table() {
    let mut rng = SmallRng::seed_from_u64(7);
    let data = RunData::new(&[table(5)], &[]);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        seen.insert(email(
            &data.draw(&uses(DataMode::Random), &mut rng).expect("row"),
        ));
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
}

#[test]
fn the_inbox_hands_out_a_plan_s_tables_once_whole() {
    let mut inbox = DataInbox::default();
    let plan = Plan {
        classes: vec![lv_common::plan::ClassPlan {
            name: "A".into(),
            weight: 1,
            wait: lv_common::wait::WaitRule::Constant(0.0),
            on_start: vec![],
            tasks: vec![],
            cookies: true,
            data: uses(DataMode::Unique),
        }],
        connection_per_user: false,
        iterations: None,
    };
    assert!(inbox.tables_for("r1", &plan).is_err(), "nothing arrived");
    for chunk in table(3).chunks() {
        inbox.add("r1".into(), chunk).expect("chunk");
    }
    assert_eq!(inbox.tables_for("r1", &plan).expect("whole")[0].rows(), 3);
    assert!(
        inbox.tables_for("r2", &plan).is_err(),
        "another run's tables"
    );
}
