use super::*;

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

fn csv(bytes: &[u8]) -> Result<DataTable, DataError> {
    let dir = tempfile::tempdir().expect("dir");
    let path = write(&dir, "accounts.csv", bytes);
    read_table("accounts", &path, DataFormat::Csv).map_err(|mut e| {
        e.location = e.location.replace(&dir.path().display().to_string(), "DIR");
        e
    })
}

fn jsonl(bytes: &[u8]) -> Result<DataTable, DataError> {
    let dir = tempfile::tempdir().expect("dir");
    let path = write(&dir, "orders.jsonl", bytes);
    read_table("orders", &path, DataFormat::Jsonl).map_err(|mut e| {
        e.location = e.location.replace(&dir.path().display().to_string(), "DIR");
        e
    })
}

#[test]
fn a_csv_file_reads_its_header_and_rows() {
    let table = csv(b"\xEF\xBB\xBFemail,password\r\na@x.io,\"p,1\"\nb@x.io,p2\n").expect("reads");
    assert_eq!(table.fields, ["email", "password"]);
    assert_eq!(table.rows(), 2);
    assert_eq!(table.cell(0, 1), Some("p,1"));
    assert_eq!(table.cell(1, 0), Some("b@x.io"));
}

#[test]
fn a_ragged_csv_row_names_its_line() {
    let err = csv(b"email,password\na,1\nb\nc,3\n").expect_err("ragged");
    assert_eq!(err.location, "DIR/accounts.csv:3");
    assert!(
        err.detail.contains("has 1 fields, the header has 2"),
        "{}",
        err.detail
    );
}

#[test]
fn a_csv_cell_that_is_not_utf8_names_line_and_column() {
    let err = csv(b"email,name\na,ok\nb,caf\xe9\n").expect_err("latin-1");
    assert_eq!(err.location, "DIR/accounts.csv:3:2");
    assert!(err.detail.contains("UTF-8"), "{}", err.detail);
}

#[test]
fn a_bad_header_is_refused() {
    assert_eq!(csv(b"").expect_err("empty").location, "DIR/accounts.csv:1");
    let dup = csv(b"a,b,a\n1,2,3\n").expect_err("duplicate");
    assert_eq!(dup.location, "DIR/accounts.csv:1:3");
    let blank = csv(b"a,,c\n1,2,3\n").expect_err("blank");
    assert_eq!(blank.location, "DIR/accounts.csv:1:2");
    let no_rows = csv(b"a,b\n").expect_err("no rows");
    assert!(no_rows.detail.contains("no rows"), "{}", no_rows.detail);
}

#[test]
fn a_missing_file_is_named() {
    let err =
        read_table("x", Path::new("/nonexistent/x.csv"), DataFormat::Csv).expect_err("missing");
    assert_eq!(err.location, "/nonexistent/x.csv");
    assert!(err.detail.contains("cannot read"), "{}", err.detail);
}

#[test]
fn json_lines_keep_types_and_must_agree_on_keys() {
    let table =
        jsonl(b"{\"id\": 7, \"sku\": \"A\"}\n\n{\"sku\": \"B\", \"id\": 8}\n").expect("reads");
    assert_eq!(table.fields, ["id", "sku"]);
    assert_eq!(table.rows(), 2);
    assert_eq!(table.cell(1, 0), Some("8"));
    let missing = jsonl(b"{\"id\": 7, \"sku\": \"A\"}\n{\"id\": 8}\n").expect_err("missing key");
    assert_eq!(missing.location, "DIR/orders.jsonl:2");
    assert!(missing.detail.contains("\"sku\""), "{}", missing.detail);
    let extra = jsonl(b"{\"id\": 7}\n{\"id\": 8, \"x\": 1}\n").expect_err("extra key");
    assert_eq!(extra.location, "DIR/orders.jsonl:2");
    let bad = jsonl(b"{\"id\": 7}\n{\"id\": }\n").expect_err("bad json");
    assert_eq!(bad.location, "DIR/orders.jsonl:2:8");
    let not_utf8 = jsonl(b"{\"id\": \"\xff\"}\n").expect_err("bad encoding");
    assert_eq!(not_utf8.location, "DIR/orders.jsonl:1:9");
}

#[test]
fn the_format_comes_from_the_extension_unless_given() {
    let def = |file: &str, format: Option<DataFormat>| DataDef {
        name: Spanned::new(0..1, "d".into()),
        file: Spanned::new(0..1, file.into()),
        format,
    };
    assert_eq!(def("a.CSV", None).format(), Some(DataFormat::Csv));
    assert_eq!(def("a.ndjson", None).format(), Some(DataFormat::Jsonl));
    assert_eq!(def("a.txt", None).format(), None);
    assert_eq!(
        def("a.txt", Some(DataFormat::Csv)).format(),
        Some(DataFormat::Csv)
    );
    assert_eq!(
        def("data/a.csv", None).path(Path::new("/s/x.toml")),
        Path::new("/s/data/a.csv")
    );
}
