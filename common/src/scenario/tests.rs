//! Tests of `scenario`.
use super::*;

fn parse_str(text: &str) -> Result<LoadedScenario, ScenarioError> {
    parse(Path::new("s.toml"), text.to_owned())
}

const MINIMAL: &str = r#"
[[user]]
name = "U"
wait = { between = [1, 2] }

[[user.task]]
tags = ["a"]

[[user.task.step]]
agent = "ATLAS"
path = "/health"
"#;

#[test]
fn minimal_file_parses_with_defaults() {
    let loaded = parse_str(MINIMAL).expect("parses");
    let class = &loaded.file.users[0];
    assert_eq!(class.weight, 1);
    assert_eq!(class.tasks[0].weight, 1);
    assert_eq!(class.tasks[0].steps[0].method, "GET");
}

#[test]
fn syntax_errors_name_file_and_line() {
    let text = MINIMAL.replace("path = \"/health\"", "path = /health");
    let err = parse_str(&text).expect_err("bad toml").to_string();
    assert!(err.starts_with("s.toml:11:"), "{err}");
}

#[test]
fn unknown_keys_are_rejected_with_line() {
    let text = MINIMAL.replace("tags = [\"a\"]", "tagz = [\"a\"]");
    let err = parse_str(&text).expect_err("unknown key").to_string();
    assert!(
        err.starts_with("s.toml:7:") && err.contains("tagz"),
        "{err}"
    );
}

#[test]
fn semantic_errors_name_the_place() {
    let cases = [
        (
            MINIMAL.replace("path = \"/health\"", "path = \"health\""),
            "must start with '/'",
        ),
        (
            MINIMAL.replace("agent = \"ATLAS\"", "url = \"ftp://x\""),
            "s.toml:10",
        ),
        (MINIMAL.replace("[1, 2]", "[2, 1]"), "larger"),
        (
            MINIMAL.replace("path = \"/health\"", "method = \"BREW\""),
            "unknown HTTP method",
        ),
        (
            MINIMAL.replace("path = \"/health\"", "timeout = \"5x\""),
            "invalid duration",
        ),
    ];
    for (text, want) in cases {
        let err = parse_str(&text).expect_err(want).to_string();
        assert!(err.contains(want), "{want}: {err}");
    }
}

#[test]
fn duplicate_classes_across_files_are_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.toml"), MINIMAL).expect("write");
    std::fs::write(dir.path().join("b.toml"), MINIMAL).expect("write");
    let err = load_paths(&[dir.path().to_owned()])
        .expect_err("dup")
        .to_string();
    assert!(err.contains("also defined"), "{err}");
}

#[test]
fn folders_load_their_toml_files_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("b.toml"), MINIMAL.replace("\"U\"", "\"B\"")).expect("w");
    std::fs::write(dir.path().join("a.toml"), MINIMAL.replace("\"U\"", "\"A\"")).expect("w");
    std::fs::write(dir.path().join("notes.txt"), "x").expect("w");
    let loaded = load_paths(&[dir.path().to_owned()]).expect("loads");
    let names: Vec<_> = loaded
        .iter()
        .map(|l| l.file.users[0].name.as_str())
        .collect();
    assert_eq!(names, ["A", "B"]);
    let empty = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        load_paths(&[empty.path().to_owned()]),
        Err(ScenarioError::EmptyFolder(_))
    ));
}
