//! Scenario authoring: `lv-master check` loads the scenarios as a run would and prints the
//! plan without sending anything; a broken scenario fails it with exit code 2 and a message
//! naming the file, the line and the key.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use lv_tests::{bin, workspace_root, write_file};
use serde_json::Value;

/// `lv-master check` with `words`, run in `dir`, with no `HOST` or `LV_*` from around the
/// test unless `env` sets them: (exit code, stdout, stderr).
fn check_in(dir: &Path, words: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut command = Command::new(bin("lv-master"));
    for (name, _) in std::env::vars_os() {
        if name == "HOST" || name.to_string_lossy().starts_with("LV_") {
            command.env_remove(name);
        }
    }
    let output = command
        .arg("check")
        .args(words)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .expect("run lv-master check");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `check --json` of the shipped scenarios and fleet with `words`, parsed.
fn shipped_json(words: &[&str], env: &[(&str, &str)]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(words);
    let (code, out, err) = check_in(&workspace_root(), &all, env);
    assert_eq!(code, Some(0), "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn the_shipped_scenarios_check_with_ratios_summing_to_one() {
    let plan = shipped_json(
        &[
            "-f",
            "configs/scenarios",
            "--fleet",
            "configs/fleet.toml",
            "-u",
            "10",
        ],
        &[],
    );
    let classes = plan["classes"].as_array().expect("classes");
    let names: Vec<&str> = classes.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "AriaChatUser",
            "CreativeFleetUser",
            "EventBusUser",
            "HealthCheckUser"
        ]
    );
    let mut users = 0;
    let mut all_runs = 0.0;
    for class in classes {
        let name = class["name"].as_str().unwrap_or_default();
        let tasks = class["tasks"].as_array().expect("tasks");
        assert!(!tasks.is_empty(), "{name}");
        let within: f64 = tasks.iter().filter_map(|t| t["ratio"].as_f64()).sum();
        assert!(close(within, 1.0), "{name}: task ratios sum to {within}");
        let locust = plan["task_ratio"]["per_class"][name]["tasks"]
            .as_object()
            .expect("Locust's per_class");
        let locust_sum: f64 = locust.values().filter_map(|t| t["ratio"].as_f64()).sum();
        assert!(close(locust_sum, 1.0), "{name}: {locust_sum}");
        users += class["users"].as_u64().expect("users");
        all_runs += tasks
            .iter()
            .filter_map(|t| t["total_ratio"].as_f64())
            .sum::<f64>();
        for task in tasks {
            assert!(!task["steps"].as_array().expect("steps").is_empty());
        }
    }
    assert_eq!(users, 10);
    assert!(close(all_runs, 1.0), "{all_runs}");
    assert_eq!(
        (plan["model"].as_str(), plan["users"].as_u64()),
        (Some("closed"), Some(10))
    );

    // The follow-up needs the conversation an opening task extracts, and says which.
    let aria = &classes[0]["tasks"];
    let followup = aria
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == "followup"))
        .expect("followup");
    assert_eq!(followup["requires"][0]["name"], "conversation_id");
    let by = followup["requires"][0]["extracted_by"]
        .as_array()
        .expect("extractors");
    assert!(
        by.iter()
            .any(|s| s == "AriaChatUser / new conversation / step 1 (ATLAS /v1/chat [new])"),
        "{by:?}"
    );
    let step = &followup["steps"][0];
    assert_eq!(step["method"], "POST");
    assert_eq!(step["url"], "http://localhost:8007/v1/chat");
    assert_eq!(step["kind"], "chat");
    assert!(
        followup["tags"]
            .as_array()
            .is_some_and(|t| t.contains(&Value::from("followup"))),
        "{followup}"
    );
}

#[test]
fn the_text_lists_classes_ratios_and_endpoints() {
    let (code, out, err) = check_in(
        &workspace_root(),
        &[
            "-u",
            "10",
            "-T",
            "health",
            "-H",
            "https://staging.example.com",
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{err}");
    for want in [
        "Plan: 1 user class, 20 tasks; closed model, 10 users; host https://staging.example.com",
        " Task ratio per User class\n",
        " Total task ratio\n",
        "HealthCheckUser (configs/scenarios/health_checks.toml:12)",
        "  task \"health [ATLAS]\": weight 1, 5.0% of the class's tasks, 5.0% of all",
        "    tags: health, core\n",
        "    GET ATLAS /health -> https://staging.example.com:8007/health [health]",
    ] {
        assert!(out.contains(want), "{want:?} in\n{out}");
    }
    // The classes the tag filter leaves out are noted, as a run logs them.
    assert!(
        out.contains("user class AriaChatUser has no task left after tag filtering"),
        "{out}"
    );
}

#[test]
fn profiles_and_the_environment_apply_as_to_a_run() {
    let plan = shipped_json(&["--config", "configs/light.conf"], &[("LV_USERS", "7")]);
    assert_eq!(plan["users"], 7);
    let users: u64 = plan["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .filter_map(|c| c["users"].as_u64())
        .sum();
    assert_eq!(users, 7);
    let plan = shipped_json(&["EventBusUser", "-E", "burst,throughput"], &[]);
    let tasks: Vec<&str> = plan["classes"][0]["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(tasks, ["publish", "query", "acknowledge"]);
    assert_eq!(
        plan["exclude_tags"],
        serde_json::json!(["burst", "throughput"])
    );
}

/// A port on 127.0.0.1 that nothing listens on (bound, then closed).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[test]
fn check_sends_nothing_and_binds_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A target that would see any connection, and one where nothing listens.
    let target = TcpListener::bind("127.0.0.1:0").expect("bind");
    target.set_nonblocking(true).expect("nonblocking");
    let port = target.local_addr().expect("addr").port();
    let fleet = write_file(
        dir.path(),
        "fleet.toml",
        &format!(
            "[[agent]]\nname = \"ATLAS\"\nurl = \"http://127.0.0.1:{port}\"\ncategory = \"core\"\n\n\
             [[agent]]\nname = \"GONE\"\nport = {}\ncategory = \"core\"\n",
            closed_port()
        ),
    );
    write_file(
        dir.path(),
        "s.toml",
        "[[user]]\nname = \"U\"\n[[user.task]]\nfor_each_agent = true\n\
         [[user.task.step]]\npath = \"/health\"\n",
    );
    let fleet = fleet.to_str().expect("utf-8");
    // The worker and web ports are taken: a check that bound them would fail.
    let port_arg = port.to_string();
    let (code, out, err) = check_in(
        dir.path(),
        &[
            "-f",
            "s.toml",
            "--fleet",
            fleet,
            "-H",
            "http://127.0.0.1",
            "--master-bind-port",
            &port_arg,
            "--web-port",
            &port_arg,
            "-u",
            "3",
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains("GET GONE /health -> http://127.0.0.1:"),
        "{out}"
    );
    assert!(
        matches!(target.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "check connected to the target"
    );
}

/// A small scenario: line 1 is `[[user]]`, line 2 the class's name.
const GOOD: &str = r#"[[user]]
name = "Chat"
wait = { between = [1, 2] }

[[user.task]]
name = "new"
tags = ["open"]

[[user.task.step]]
agent = "ATLAS"
method = "POST"
path = "/v1/chat"
json = { message = "hi {{ uuid }}" }
extract = { cid = "/conversation_id" }

[[user.task]]
name = "followup"
requires = ["cid"]
tags = ["more"]

[[user.task.step]]
agent = "ATLAS"
method = "POST"
path = "/v1/chat/{{ cid }}"

[user.task.step.json]
kind = "followup"
meta = { source = "lv", turn = "{{ cid }}" }
"#;

/// `GOOD` with `from` replaced by `to` (which must occur).
fn edit(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from}");
    GOOD.replacen(from, to, 1)
}

/// Checks `text` as `bad.toml` with `words`; expects exit 2 and every one of `wants` in
/// stderr.
fn refused(case: &str, text: &str, words: &[&str], wants: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    write_file(dir.path(), "bad.toml", text);
    let fleet = workspace_root().join("configs/fleet.toml");
    let fleet = fleet.to_str().expect("utf-8");
    let mut all = vec!["-f", "bad.toml", "--fleet", fleet];
    all.extend_from_slice(words);
    let (code, out, err) = check_in(dir.path(), &all, &[]);
    assert_eq!(code, Some(2), "{case}: {out}\n{err}");
    for want in wants {
        assert!(err.contains(want), "{case}: {want:?} in\n{err}");
    }
    assert!(out.is_empty(), "{case}: nothing on stdout: {out}");
}

#[test]
fn the_good_scenario_checks() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_file(dir.path(), "good.toml", GOOD);
    let fleet = workspace_root().join("configs/fleet.toml");
    let (code, out, err) = check_in(
        dir.path(),
        &["-f", "good.toml", "--fleet", fleet.to_str().expect("utf-8")],
        &[],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("Chat (good.toml:2)"), "{out}");
    assert!(
        out.contains("    requires cid, extracted by Chat / new / step 1 (ATLAS /v1/chat)"),
        "{out}"
    );
}

#[test]
fn broken_scenarios_name_file_line_and_key() {
    let cases: &[(&str, String, &[&str], &[&str])] = &[
        (
            "bad TOML",
            edit("path = \"/v1/chat\"", "path = /v1/chat"),
            &[],
            &["bad.toml:12:"],
        ),
        (
            "unknown key",
            edit("name = \"followup\"", "nmae = \"followup\""),
            &[],
            &["bad.toml:17:", "nmae"],
        ),
        (
            "unknown agent",
            edit(
                "agent = \"ATLAS\"\nmethod = \"POST\"\npath = \"/v1/chat/",
                "agent = \"ATLANTIS\"\nmethod = \"POST\"\npath = \"/v1/chat/",
            ),
            &[],
            &[
                "bad.toml:22: user class \"Chat\", task \"followup\", step 1: `agent`: unknown agent \"ATLANTIS\"",
                "HADES",
            ],
        ),
        (
            "unclosed {{",
            edit(
                "path = \"/v1/chat/{{ cid }}\"",
                "path = \"/v1/chat/{{ cid\"",
            ),
            &[],
            &[
                "bad.toml:24: user class \"Chat\", task \"followup\", step 1: `path`: template",
                "without a closing",
            ],
        ),
        (
            "a requires no step extracts",
            edit("requires = [\"cid\"]", "requires = [\"cid\",\n  \"token\"]"),
            &[],
            &[
                "bad.toml:19: user class \"Chat\", task \"followup\": `requires`: requires `token`, but no step of the class extracts it (extracted: cid)",
            ],
        ),
        (
            "a template variable nobody extracts",
            edit("hi {{ uuid }}", "hi {{ who }}"),
            &[],
            &[
                "bad.toml:13:",
                "`json.message`: template uses `who`, which no step of this user class extracts (known: cid)",
            ],
        ),
        (
            "a variable deep in a JSON table",
            edit("turn = \"{{ cid }}\"", "turn = \"{{ turn }}\""),
            &[],
            &["bad.toml:28:", "`json.meta.turn`: template uses `turn`"],
        ),
        (
            "bad wait rule",
            edit("[1, 2]", "[2, 1]"),
            &[],
            &[
                "bad.toml:3: user class \"Chat\": `wait`: between = [2, 1]: the first bound is larger",
            ],
        ),
        (
            "unknown HTTP method",
            edit(
                "method = \"POST\"\npath = \"/v1/chat\"",
                "method = \"BREW\"\npath = \"/v1/chat\"",
            ),
            &[],
            &["bad.toml:11:", "`method`: unknown HTTP method \"BREW\""],
        ),
        (
            "a class on the command line that does not exist",
            GOOD.to_owned(),
            &["Chta"],
            &["unknown user class \"Chta\"", "Chat (bad.toml:2)"],
        ),
        (
            "a tag no task carries",
            GOOD.to_owned(),
            &["-T", "open,nosuch"],
            &["--tags", "\"nosuch\"", "their tags are: more, open"],
        ),
        (
            "an excluded tag no task carries",
            GOOD.to_owned(),
            &["-E", "mroe"],
            &["--exclude-tags", "\"mroe\""],
        ),
        (
            "a tag filter that leaves nothing",
            GOOD.to_owned(),
            &["-T", "nosuch"],
            &["nothing to run", "the tasks' tags are: more, open"],
        ),
        (
            "a tag filter that removes the extracting task",
            GOOD.to_owned(),
            &["-T", "more"],
            &[
                "bad.toml:18: user class \"Chat\", task \"followup\": `requires`:",
                "(their tags: open)",
            ],
        ),
    ];
    for (case, text, words, wants) in cases {
        refused(case, text, words, wants);
    }
}

#[test]
fn a_class_defined_twice_names_both_places() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_file(dir.path(), "a.toml", GOOD);
    write_file(dir.path(), "b.toml", &format!("# another file\n{GOOD}"));
    let fleet = workspace_root().join("configs/fleet.toml");
    let (code, out, err) = check_in(
        dir.path(),
        &["-f", ".", "--fleet", fleet.to_str().expect("utf-8")],
        &[],
    );
    assert_eq!(code, Some(2), "{out}\n{err}");
    assert!(
        err.contains("b.toml:3: user class \"Chat\" is also defined at ./a.toml:2"),
        "{err}"
    );
}

#[test]
fn check_help_and_json_flag() {
    let (code, out, _) = check_in(&workspace_root(), &["--help"], &[]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("lv-master check") && out.contains("--json"),
        "{out}"
    );
    let (code, _, err) = check_in(&workspace_root(), &["--json=plan.json"], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--json without a value"), "{err}");
}

/// Test data, setup and teardown appear in the plan `check` prints; a bad data file is
/// exit 2 naming its line and column.
#[test]
fn check_lists_data_sources_and_setup_and_teardown_steps() {
    let dir = tempfile::tempdir().expect("dir");
    let fleet = workspace_root().join("configs/fleet.toml");
    write_file(
        dir.path(),
        "accounts.csv",
        "email,password\na@x,1\nb@x,2\nc@x,3\n",
    );
    let scenario = r#"
[[data]]
name = "accounts"
file = "accounts.csv"

[[setup.step]]
agent = "ATLAS"
method = "POST"
path = "/v1/auth/login"
json = { username = "lv", password = "pw" }
extract = { token = "/token" }

[[teardown.step]]
agent = "ATLAS"
path = "/health"

[[user]]
name = "Customer"
data = { accounts = "unique" }

[[user.task]]
[[user.task.step]]
agent = "ATLAS"
path = "/v1/me?as={{ accounts.email }}"
headers = { Authorization = "Bearer {{ token }}" }
"#;
    write_file(dir.path(), "s.toml", scenario);
    let fleet = fleet.display().to_string();
    let words = ["-f", "s.toml", "--fleet", fleet.as_str(), "-u", "3"];
    let (code, out, err) = check_in(dir.path(), &words, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("accounts: 3 rows, fields email, password; unique, drawn by Customer"),
        "{out}"
    );
    assert!(out.contains("POST ATLAS /v1/auth/login -> "), "{out}");
    assert!(out.contains("extracts token"), "{out}");
    assert!(
        out.contains("uses token, extracted by setup step 1 ("),
        "{out}"
    );
    assert!(
        out.contains(
            "uses accounts.email, extracted by test data accounts (unique: a row per user)"
        ),
        "{out}"
    );
    let mut json_words = vec!["--json"];
    json_words.extend_from_slice(&words);
    let (code, out, err) = check_in(dir.path(), &json_words, &[]);
    assert_eq!(code, Some(0), "{err}");
    let plan: Value = serde_json::from_str(&out).expect("JSON");
    let keys: Vec<&str> = plan["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .filter_map(|s| s["key"].as_str())
        .collect();
    assert_eq!(keys, ["data", "setup", "teardown"]);
    assert_eq!(plan["sections"][0]["items"][0]["rows"], 3);

    write_file(dir.path(), "accounts.csv", "email,password\na@x,1\nb@x\n");
    let (code, _, err) = check_in(dir.path(), &words, &[]);
    assert_eq!(code, Some(2), "a ragged row");
    assert!(
        err.contains("accounts.csv:3: the row has 1 fields, the header has 2"),
        "{err}"
    );
    std::fs::write(
        dir.path().join("accounts.csv"),
        b"email,password\na@x,caf\xe9\n",
    )
    .expect("latin-1");
    let (code, _, err) = check_in(dir.path(), &words, &[]);
    assert_eq!(code, Some(2), "not UTF-8");
    assert!(
        err.contains("accounts.csv:2:2: field 2 is not UTF-8"),
        "{err}"
    );
    write_file(dir.path(), "accounts.csv", "mail,password\na@x,1\n");
    let (code, _, err) = check_in(dir.path(), &words, &[]);
    assert_eq!(code, Some(2), "a field the header lacks");
    assert!(
        err.contains("accounts.csv:1:1, the header of data accounts, has no field \"email\""),
        "{err}"
    );
    std::fs::remove_file(dir.path().join("accounts.csv")).expect("rm");
    let (code, _, err) = check_in(dir.path(), &words, &[]);
    assert_eq!(code, Some(2), "a missing file");
    assert!(
        err.contains("accounts.csv: cannot read the data file") && err.contains("s.toml:4"),
        "{err}"
    );
}
