//! `lv-master try`, the scenario author's debugger, as a user runs it: the real binary
//! against the simulated fleet (in process, or the real `lv-fleet-sim` with
//! `--fail-endpoint`) or a target a test chooses, on loopback ports the system picks.

use std::path::Path;
use std::time::Duration;

use lv_tests::harness::{Proc, wait_for_ready_file};
use lv_tests::{bin, command_without_lv_env, spawn_fleet_sim, workspace_root, write_file};
use tokio_util::sync::CancellationToken;

/// What one `lv-master try` printed and its exit code.
struct Tried {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Tried {
    /// Lines of stdout that start with `prefix`.
    fn count(&self, prefix: &str) -> usize {
        self.stdout
            .lines()
            .filter(|l| l.starts_with(prefix))
            .count()
    }

    /// The last line of stdout (the summary).
    fn summary(&self) -> &str {
        self.stdout.lines().last().unwrap_or_default()
    }
}

/// Runs `lv-master try` in the workspace with `words`, the fleet map `fleet` and host
/// 127.0.0.1, for at most a minute.
async fn try_with(fleet: &Path, words: &[&str]) -> Tried {
    let mut command = command_without_lv_env(&bin("lv-master"));
    command
        .arg("try")
        .arg("--fleet")
        .arg(fleet)
        .args(["-H", "http://127.0.0.1"])
        .args(words)
        .current_dir(workspace_root());
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("try finishes within a minute")
        .expect("run lv-master try");
    let tried = Tried {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    eprintln!(
        "[try stdout]\n{}\n[try stderr]\n{}",
        tried.stdout, tried.stderr
    );
    tried
}

/// Request steps of the shipped scenarios' plan: each class's on_start steps and every
/// step of every task (all of them run in `try`, whose order meets every `requires`).
fn shipped_steps(fleet: &Path) -> usize {
    let scenarios = workspace_root().join("configs/scenarios");
    let config = lv_tests::master_config(&[
        "-f",
        &scenarios.display().to_string(),
        "--fleet",
        &fleet.display().to_string(),
        "-H",
        "http://127.0.0.1",
    ])
    .expect("the shipped scenarios resolve");
    config
        .plan
        .classes
        .iter()
        .map(|c| c.on_start.len() + c.tasks.iter().map(|t| t.steps.len()).sum::<usize>())
        .sum()
}

const CLASSES: [&str; 4] = [
    "AriaChatUser",
    "CreativeFleetUser",
    "EventBusUser",
    "HealthCheckUser",
];

/// Every step of the four shipped classes runs once against the simulated fleet, answered
/// 200 (201 for event publishes) with every check passed; the fleet saw each request.
#[tokio::test]
async fn try_runs_every_step_of_the_shipped_scenarios() {
    let stop = CancellationToken::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = dir.path().join("fleet.toml");
    let sim = spawn_fleet_sim(&[], &fleet, stop.child_token()).await;
    let steps = shipped_steps(&fleet);
    let tried = try_with(&fleet, &["-f", "configs/scenarios"]).await;
    assert_eq!(tried.code, Some(0), "{}", tried.stderr);
    for class in CLASSES {
        assert_eq!(tried.count(&format!("== class {class} ==")), 1, "{class}");
    }
    assert!(steps > 20, "{steps} steps in the shipped scenarios");
    assert_eq!(tried.count("  step "), steps);
    assert_eq!(tried.count("    => passed"), steps);
    let answered = tried.count("    < 200 OK (") + tried.count("    < 201 Created (");
    assert_eq!(answered, steps);
    assert!(tried.count("    < 201 Created (") >= 1, "event publishes");
    assert_eq!(tried.count("    ✗"), 0);
    assert!(tried.count("    ✓ check ") >= 4);
    assert!(tried.count("    ✓ extract conversation_id = ") >= 1);
    assert!(
        !tried.stdout.contains("skipped"),
        "every requires is met in order"
    );
    assert_eq!(
        tried.summary(),
        format!("try: passed: 4 classes, {steps} steps, every one passed")
    );
    assert_eq!(sim.counts().total, steps as u64, "one request per step");
    stop.cancel();
}

/// With ATLAS's chat failing (the real `lv-fleet-sim --fail-endpoint`), try exits 1, names
/// each failing step, skips the follow-up that needed the conversation, and the other
/// classes still pass.
#[tokio::test]
async fn try_names_the_step_a_failing_endpoint_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = dir.path().join("fleet.toml");
    let ready = dir.path().join("ready.json");
    let args = [
        "--ephemeral-ports",
        "--latency-scale",
        "0.01",
        "--write-fleet",
        &fleet.display().to_string(),
        "--ready-file",
        &ready.display().to_string(),
        "--fail-endpoint",
        "ATLAS POST /v1/chat",
    ];
    let mut sim = Proc::start(&bin("lv-fleet-sim"), &args, "sim");
    wait_for_ready_file(&ready, &sim, Duration::from_secs(30)).await;
    let tried = try_with(&fleet, &[]).await;
    sim.kill9().await;
    assert_eq!(tried.code, Some(1), "{}", tried.stderr);
    assert_eq!(
        tried.count("    => FAILED: HTTP 500 Internal Server Error"),
        3,
        "new, research and workflow"
    );
    assert_eq!(tried.count("    < 500 Internal Server Error ("), 3);
    assert_eq!(tried.count("    ✗ check /reply: expected to exist"), 3);
    assert!(tried.stdout.contains(
        "\ntask \"followup\": skipped, requires conversation_id, which no earlier step extracted (task \"research\" extracts it, later in this order)\n"
    ));
    let summary = tried.summary();
    assert!(summary.starts_with("try: FAILED: 3 of "), "{summary}");
    for step in [
        "new conversation / ATLAS /v1/chat [new]",
        "research / ATLAS /v1/chat [research]",
    ] {
        let named = format!("AriaChatUser / {step}: HTTP 500 Internal Server Error");
        assert!(summary.contains(&named), "{summary}");
    }
    assert!(summary.contains("1 task skipped"), "{summary}");
    for class in &CLASSES[1..] {
        assert!(!summary.contains(class), "{class} passed: {summary}");
    }
}

/// A follow-up placed before the task that extracts its variable is skipped in try's
/// order, and the reason names the variable and the task that extracts it later.
#[tokio::test]
async fn try_skips_a_task_whose_requires_are_not_met_yet() {
    let stop = CancellationToken::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = dir.path().join("fleet.toml");
    let sim = spawn_fleet_sim(&[], &fleet, stop.child_token()).await;
    let scenario = write_file(
        dir.path(),
        "order.toml",
        r#"
[[user]]
name = "Backwards"

[[user.task]]
name = "followup"
requires = ["conversation_id"]
[[user.task.step]]
agent = "ATLAS"
method = "POST"
path = "/v1/chat"
json = { message = "more", conversation_id = "{{ conversation_id }}" }

[[user.task]]
name = "open"
[[user.task.step]]
agent = "ATLAS"
method = "POST"
path = "/v1/chat"
json = { message = "hello" }
extract = { conversation_id = "/conversation_id" }
"#,
    );
    let tried = try_with(&fleet, &["-f", &scenario.display().to_string()]).await;
    assert_eq!(
        tried.code,
        Some(0),
        "a skip is not a failure: {}",
        tried.stderr
    );
    assert!(tried.stdout.contains(
        "\ntask \"followup\": skipped, requires conversation_id, which no earlier step extracted (task \"open\" extracts it, later in this order)\n"
    ));
    assert_eq!(tried.count("  step "), 1);
    assert_eq!(
        tried.summary(),
        "try: passed: 1 class, 1 step, every one passed, 1 task skipped"
    );
    assert_eq!(sim.counts().total, 1, "the skipped task sent nothing");
    stop.cancel();
}

/// A 3,000-byte body: cut to its first 512 bytes with a note, whole with --verbose.
#[tokio::test]
async fn verbose_prints_whole_bodies() {
    let stop = CancellationToken::new();
    let target = lv_tests::harness::spawn_answering_target(
        |_| format!("{{\"data\":\"{}END\"}}", "a".repeat(2_986)),
        stop.child_token(),
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "[[user]]\nname = \"Long\"\n[[user.task]]\nname = \"fetch\"\n\
         [[user.task.step]]\nurl = \"{}\"\npath = \"/long\"\n",
        target.url()
    );
    let scenario = write_file(dir.path(), "long.toml", &text);
    let fleet = workspace_root().join("configs/fleet.toml");
    let scenario = scenario.display().to_string();
    let short = try_with(&fleet, &["-f", &scenario]).await;
    assert_eq!(short.code, Some(0), "{}", short.stderr);
    assert!(short.stdout.contains("    < 200 OK ("), "{}", short.stdout);
    assert!(short.stdout.contains(", 3000 bytes)"));
    let excerpt = format!("\n    < {{\"data\":\"{}\n", "a".repeat(512 - 9));
    assert!(short.stdout.contains(&excerpt), "the first 512 bytes");
    assert!(
        short
            .stdout
            .contains("    < … 512 of 3000 bytes shown (--verbose prints the whole body)")
    );
    assert!(!short.stdout.contains("END"));
    let verbose = try_with(&fleet, &["-f", &scenario, "--verbose"]).await;
    assert_eq!(verbose.code, Some(0), "{}", verbose.stderr);
    let whole = format!("\n    < {{\"data\":\"{}END\"}}\n", "a".repeat(2_986));
    assert!(verbose.stdout.contains(&whole), "the whole body");
    assert!(!verbose.stdout.contains("bytes shown"));
    assert_eq!(target.total(), 2);
    stop.cancel();
}

/// Bad usage or configuration is a run's: the same message, exit 2, nothing sent.
#[tokio::test]
async fn try_refuses_bad_input_as_a_run_does() {
    let fleet = workspace_root().join("configs/fleet.toml");
    let tried = try_with(&fleet, &["NoSuchClass"]).await;
    assert_eq!(tried.code, Some(2));
    assert!(tried.stderr.contains("NoSuchClass"), "{}", tried.stderr);
    assert!(tried.stdout.is_empty());
    let tried = try_with(&fleet, &["--users", "many"]).await;
    assert_eq!(tried.code, Some(2));
    assert!(tried.stderr.contains("many"), "{}", tried.stderr);
}

/// `try` runs the setup steps first and hands what they extract to every class, gives a
/// class that uses test data its first row, and runs the teardown steps last.
#[tokio::test]
async fn try_runs_setup_first_and_gives_classes_its_values_and_a_row() {
    let stop = CancellationToken::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = dir.path().join("fleet.toml");
    let sim = spawn_fleet_sim(&[], &fleet, stop.child_token()).await;
    write_file(dir.path(), "people.csv", "name\nalice\nbob\n");
    let scenario = write_file(
        dir.path(),
        "login.toml",
        r#"
[[data]]
name = "people"
file = "people.csv"

[[setup.step]]
agent = "ATLAS"
method = "POST"
path = "/v1/auth/login"
json = { username = "load-test", password = "secret" }
extract = { token = "/token" }

[[teardown.step]]
agent = "ATLAS"
path = "/health"

[[user]]
name = "Member"
data = { people = "unique" }

[[user.task]]
name = "me"
[[user.task.step]]
agent = "ATLAS"
path = "/v1/me?as={{ people.name }}"
headers = { Authorization = "Bearer {{ token }}" }
check = [{ pointer = "/user", equals = "load-test" }]
"#,
    );
    let tried = try_with(&fleet, &["-f", &scenario.display().to_string()]).await;
    assert_eq!(tried.code, Some(0), "{}", tried.stderr);
    assert!(tried.stdout.contains("/v1/me?as=alice"), "the first row");
    let atlas = &sim.counts().agents["ATLAS"];
    assert_eq!(atlas.get("POST /v1/auth/login"), Some(&1));
    assert_eq!(atlas.get("GET /v1/me"), Some(&1));
    assert_eq!(atlas.get("GET /health"), Some(&1), "teardown ran");
    stop.cancel();
}
