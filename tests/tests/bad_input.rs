//! Bad input stops `lv-master` before anything connects, with a message that names
//! what was wrong and where, and exit code 2.

use std::process::Command;

use lv_tests::{bin, write_file};

const GOOD: &str = r#"
[[user]]
name = "Checker"

[[user.task]]
[[user.task.step]]
agent = "ATLAS"
path = "/health"
"#;

/// Runs lv-master with `words` on the scenario `text`; returns (exit code, stderr).
fn master_with(text: &str, words: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(dir.path(), "bad.toml", text);
    let fleet = lv_tests::workspace_root().join("configs/fleet.toml");
    // A run time keeps a config that is unexpectedly valid from running long.
    let run_time: &[&str] = if words.contains(&"-t") {
        &[]
    } else {
        &["-t", "1s"]
    };
    let mut command = Command::new(bin("lv-master"));
    // The settings must come from these words alone, not from HOST or LV_* around the test.
    for (name, _) in std::env::vars_os() {
        if name == "HOST" || name.to_string_lossy().starts_with("LV_") {
            command.env_remove(name);
        }
    }
    let output = command
        .arg("-f")
        .arg(&file)
        .arg("--fleet")
        .arg(&fleet)
        .args([
            "--headless",
            "--master-bind-port",
            "0",
            "--expect-workers-max-wait",
            "5s",
        ])
        .args(run_time)
        .args(words)
        .output()
        .expect("run lv-master");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A malformed scenario file fails with its file and line.
#[test]
fn malformed_scenario_names_file_and_line() {
    let text = GOOD.replace("path = \"/health\"", "path = /health");
    let (code, err) = master_with(&text, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("bad.toml:8"), "{err}");
}

/// An unknown agent is named, with the agents that exist.
#[test]
fn unknown_agent_is_named() {
    let (code, err) = master_with(&GOOD.replace("ATLAS", "ATLANTIS"), &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("ATLANTIS") && err.contains("HADES"), "{err}");
}

/// An unknown user class is named, with the classes that exist.
#[test]
fn unknown_user_class_is_named() {
    let (code, err) = master_with(GOOD, &["NoSuchUser"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("NoSuchUser") && err.contains("Checker"),
        "{err}"
    );
}

/// A bad duration is quoted back with the accepted forms.
#[test]
fn bad_duration_is_explained() {
    let (code, err) = master_with(GOOD, &["-t", "10 minutes"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("10 minutes") && err.contains("1h30m"), "{err}");
}

/// Spawn rate 0, run time 0 and zero expected workers are refused.
#[test]
fn out_of_range_numbers_are_refused() {
    for (words, needle) in [
        (&["-r", "0"][..], "--spawn-rate"),
        (&["-t", "0s"][..], "--run-time"),
        (&["--expect-workers", "0"][..], "--expect-workers"),
        (&["-H", "ftp://example"][..], "ftp://example"),
    ] {
        let (code, err) = master_with(GOOD, words);
        assert_eq!(code, Some(2), "{words:?}: {err}");
        assert!(err.contains(needle), "{words:?}: {err}");
    }
}

/// A closed shape with open-only keys, non-whole users, `--max-in-flight`, or explicit
/// users or spawn rate is refused with exit code 2, naming the file and key or both flags.
#[test]
fn closed_shape_errors_name_the_file_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shape = |name: &str, extra: &str, to: &str| {
        let text = format!(
            "[load]\nmodel = \"closed\"\n{extra}stages = [{{ duration = \"1s\", to = {to} }}]\n"
        );
        let path = write_file(dir.path(), name, &text);
        path.to_str().expect("utf-8 path").to_owned()
    };
    let good = shape("good.toml", "", "2");
    let capped = shape("capped.toml", "max_in_flight = 10\n", "2");
    let poisson = shape("poisson.toml", "arrivals = \"poisson\"\n", "2");
    let half = shape("half.toml", "", "2.5");
    let profile = write_file(
        dir.path(),
        "mine.conf",
        &format!("users = 5\nshape = {good}\n"),
    );
    let profile = profile.to_str().expect("utf-8 path");
    for (words, needles) in [
        (
            vec!["--shape", &capped],
            vec!["capped.toml: load.max_in_flight: only applies to model = \"open\""],
        ),
        (
            vec!["--shape", &poisson],
            vec!["poisson.toml: load.arrivals: only applies"],
        ),
        (
            vec!["--shape", &half],
            vec!["half.toml: load.stages[1].to: expected a whole number of users"],
        ),
        (
            vec!["--shape", &good, "--max-in-flight", "4"],
            vec!["--max-in-flight", "good.toml has load.model = \"closed\""],
        ),
        (
            vec!["--shape", &good, "-u", "5"],
            vec!["--users", "--shape"],
        ),
        (
            vec!["-r", "3", "--shape", &good],
            vec!["--spawn-rate", "--shape"],
        ),
        (vec!["--config", profile], vec!["--users", "--shape"]),
    ] {
        let (code, err) = master_with(GOOD, &words);
        assert_eq!(code, Some(2), "{words:?}: {err}");
        for needle in needles {
            assert!(err.contains(needle), "{words:?}: {needle:?} in {err}");
        }
    }
}
