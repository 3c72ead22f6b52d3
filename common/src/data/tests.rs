use super::*;

fn table(rows: usize) -> DataTable {
    let mut table = DataTable::new("accounts", vec!["email".into(), "n".into()], false);
    for i in 0..rows {
        let (email, n) = (format!("user{i}@example.com"), i.to_string());
        table
            .push_row([email.as_str(), n.as_str()].into_iter())
            .expect("row");
    }
    table
}

#[test]
fn cells_come_back_as_they_went_in() {
    let table = table(3);
    assert_eq!(table.rows(), 3);
    assert_eq!(table.cell(0, 0), Some("user0@example.com"));
    assert_eq!(table.cell(2, 1), Some("2"));
    assert_eq!(table.cell(3, 0), None);
    assert_eq!(table.cell(0, 2), None);
    let values = table.row_values(1);
    assert_eq!(
        values,
        [
            (
                "accounts.email".to_owned(),
                Value::from("user1@example.com")
            ),
            ("accounts.n".to_owned(), Value::from("1")),
        ]
    );
}

#[test]
fn a_ragged_row_is_refused() {
    let mut table = table(0);
    let err = table.push_row(["a"].into_iter()).expect_err("ragged");
    assert_eq!(err, RowError::Ragged { got: 1, want: 2 });
    assert_eq!(table.rows(), 0);
}

#[test]
fn json_cells_keep_their_type() {
    let mut table = DataTable::new("orders", vec!["id".into(), "sku".into()], true);
    table.push_row(["42", "\"A-1\""].into_iter()).expect("row");
    let values = table.row_values(0);
    assert_eq!(values[0].1, Value::from(42));
    assert_eq!(values[1].1, Value::from("A-1"));
}

#[test]
fn chunks_rebuild_the_same_table() {
    let big = table(60_000);
    let chunks = big.chunks();
    assert!(chunks.len() > 1, "{} chunks", chunks.len());
    let mut builder = TableBuilder::default();
    let mut done = None;
    for (i, chunk) in chunks.into_iter().enumerate() {
        assert!(done.is_none(), "finished early at chunk {i}");
        done = builder.add(chunk).expect("chunk");
    }
    assert_eq!(done.expect("complete"), big);
}

#[test]
fn an_empty_table_is_one_chunk_and_a_table() {
    let empty = table(0);
    let chunks = empty.chunks();
    assert_eq!(chunks.len(), 1);
    let mut builder = TableBuilder::default();
    let got = builder.add(chunks[0].clone()).expect("chunk");
    assert_eq!(got, Some(empty));
}

#[test]
fn chunks_out_of_order_are_refused() {
    let chunks = table(150_000).chunks();
    assert!(chunks.len() > 2, "{} chunks", chunks.len());
    let mut builder = TableBuilder::default();
    assert!(builder.add(chunks[1].clone()).is_err(), "no start");
    builder.add(chunks[0].clone()).expect("first");
    assert!(builder.add(chunks[2].clone()).is_err(), "a gap");
}
