//! Profiles (`--config`), their precedence against `LV_*` variables and flags, and the
//! `run_tests.sh` helper script.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use lv_master::config::cli::{Args, load_args};
use lv_tests::script::{
    finish, gone, only_file, read_rest, read_until, script, started_pids, summary, terminate,
};
use lv_tests::{bin, spawn_target, workspace_root, write_file};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

/// Loads settings the way `lv-master` does, with `env` as the whole environment.
fn load(words: &[&str], env: &[(&str, &str)]) -> Args {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    load_args(
        std::iter::once("lv-master").chain(words.iter().copied()),
        move |name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
    )
    .expect("settings load")
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// The four shipped profiles load with the old suite's users, spawn rate and run time,
/// headless, and make a valid configuration with the shipped scenarios and fleet map.
#[test]
fn shipped_profiles_have_the_old_suite_values() {
    let root = workspace_root();
    let scenarios = root.join("configs/scenarios");
    let fleet = root.join("configs/fleet.toml");
    for (name, users, rate, minutes) in [
        ("light", 10, 1.0, 5),
        ("medium", 50, 5.0, 10),
        ("heavy", 200, 20.0, 15),
        ("stress", 500, 50.0, 5),
    ] {
        let config = root.join(format!("configs/{name}.conf"));
        let words = [
            "--config",
            utf8(&config),
            "-f",
            utf8(&scenarios),
            "--fleet",
            utf8(&fleet),
        ];
        let args = load(&words, &[]);
        assert_eq!(args.users, users, "{name}");
        assert_eq!(args.spawn_rate, rate, "{name}");
        assert_eq!(
            args.run_time,
            Some(Duration::from_secs(minutes * 60)),
            "{name}"
        );
        assert!(args.headless, "{name}");
        assert_eq!(args.profile_name.as_deref(), Some(name));
        let (config, _) = lv_master::config::MasterConfig::from_args(&args)
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(config.users, users);
    }
}

/// Users, tags (joined) and headless.
fn seen(args: &Args) -> (u32, String, bool) {
    (args.users, args.tags.join(","), args.headless)
}

/// File < environment < command line, for a number, a list and a boolean; a list from a
/// higher source replaces the lower one's instead of adding to it.
#[test]
fn file_then_env_then_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(
        dir.path(),
        "p.conf",
        "users = 10\ntags = health, chat\nheadless: true\n",
    );
    let config = ["--config", utf8(&file)];
    let args = load(&config, &[]);
    assert_eq!(seen(&args), (10, "health,chat".to_owned(), true));

    let env = [
        ("LV_USERS", "20"),
        ("LV_TAGS", "event-bus"),
        ("LV_HEADLESS", "false"),
    ];
    let args = load(&config, &env);
    assert_eq!(seen(&args), (20, "event-bus".to_owned(), false));

    let cli = [&config[..], &["-u", "30", "-T", "creative", "--headless"]].concat();
    let args = load(&cli, &env);
    assert_eq!(seen(&args), (30, "creative".to_owned(), true));

    // Without the variable, the command line's tags still replace the file's.
    let args = load(&[&config[..], &["--tags", "creative"]].concat(), &[]);
    assert_eq!(args.tags, ["creative"]);
}

/// Two tasks, tagged `alpha` (`/a`) and `beta` (`/b`), against `url`.
fn tagged_scenario(url: &str) -> String {
    format!(
        r#"
[[user]]
name = "Tagged"
wait = {{ constant = 0.05 }}

[[user.task]]
tags = ["alpha"]
[[user.task.step]]
url = "{url}"
path = "/a"

[[user.task]]
tags = ["beta"]
[[user.task.step]]
url = "{url}"
path = "/b"
"#
    )
}

/// Runs the real `lv-master` in `dir` with a clean `LV_*`/`HOST` environment plus `env`;
/// returns (exit code, stderr).
async fn master(dir: &Path, words: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut command = Command::new(bin("lv-master"));
    for (name, _) in std::env::vars() {
        if name.starts_with("LV_") || name == "HOST" {
            command.env_remove(name);
        }
    }
    let output = command
        .args(words)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("lv-master finished in time")
        .expect("run lv-master");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn endpoint_names(summary: &serde_json::Value) -> Vec<String> {
    summary["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .map(|e| e["name"].as_str().expect("name").to_owned())
        .collect()
}

/// The real binary: the profile's users and tags give way to `LV_USERS`, and both to
/// `-u` and `-T`, as the run's summary and the requests the target saw show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_binary_applies_file_env_and_flags_in_order() {
    let stop = CancellationToken::new();
    let target = spawn_target(&[], stop.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    write_file(dir.path(), "s.toml", &tagged_scenario(&target.url()));
    let fleet = workspace_root().join("configs/fleet.toml");
    write_file(
        dir.path(),
        "quick.conf",
        &format!(
            "# a quick profile\nlocustfile = s.toml\nfleet = {}\nusers = 5\nspawn-rate = 100\nrun-time = 1s\ntags = [alpha]\nheadless = true\nonly-summary = true\nmaster-bind-port = 0\njson = env.json\n",
            fleet.display()
        ),
    );

    let (code, err) = master(
        dir.path(),
        &["--config", "quick.conf"],
        &[("LV_USERS", "3")],
    )
    .await;
    assert_eq!(code, Some(0), "{err}");
    let env_run = summary(&dir.path().join("env.json"));
    assert_eq!(env_run["users"], 3, "LV_USERS wins over the file");
    assert_eq!(endpoint_names(&env_run), ["/a"], "the file's tags apply");

    let words = [
        "--config=quick.conf",
        "-u",
        "2",
        "-T",
        "beta",
        "--json",
        "cli.json",
    ];
    let (code, err) = master(dir.path(), &words, &[("LV_USERS", "3")]).await;
    assert_eq!(code, Some(0), "{err}");
    let cli_run = summary(&dir.path().join("cli.json"));
    assert_eq!(cli_run["users"], 2, "-u wins over LV_USERS");
    assert_eq!(
        endpoint_names(&cli_run),
        ["/b"],
        "-T replaces the file's tags"
    );
    assert!(target.counts().contains_key("GET /b"));
    stop.cancel();
}

/// An unknown key or a bad boolean stops the real binary with the file and line, exit 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_profile_lines_name_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(dir.path(), "bad.conf", "users = 3\n\nspawn_rate = 2\n");
    let (code, err) = master(dir.path(), &["--config", utf8(&file)], &[]).await;
    assert_eq!(code, Some(2), "{err}");
    let expected = format!(
        "{}:3: unknown key \"spawn_rate\" (did you mean \"spawn-rate\"?)",
        file.display()
    );
    assert!(err.contains(&expected), "{err}");

    write_file(dir.path(), "bool.conf", "# c\nheadless = maybe\n");
    let (code, err) = master(dir.path(), &["--config=bool.conf"], &[]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("bool.conf:2: \"headless\" must be true or false, found \"maybe\""),
        "{err}"
    );
}

/// `./run_tests.sh demo` runs the fleet simulator, a master and two workers, prints the
/// summary, writes a JSON report with requests and a log, exits 0 and leaves nothing running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_end_to_end() {
    let reports = tempfile::tempdir().expect("tempdir");
    let logs = tempfile::tempdir().expect("tempdir");
    let child = script(&["demo"], reports.path(), logs.path())
        .env("LV_DEMO_RUN_TIME", "5s")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start run_tests.sh");
    let output = finish(child, Duration::from_secs(90)).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("Result: "), "{stdout}");
    assert!(stdout.contains("lv-fleet-sim: 20 agents"), "{stdout}");
    // The meaning comes from lv-master's own table (`lv-master explain-exit`).
    assert!(
        stdout.contains("==> lv-master exited with code 0 (passed)"),
        "{stdout}"
    );
    let report = summary(&only_file(reports.path(), "json"));
    assert!(report["total"]["requests"].as_u64().expect("requests") > 0);
    assert_eq!(report["workers"].as_array().expect("workers").len(), 2);
    let log = std::fs::read_to_string(only_file(logs.path(), "log")).expect("log");
    for needle in [
        "[fleet-sim] lv-fleet-sim ready",
        "[master] lv-master: listening",
        "[worker-1] ",
        "[worker-2] ",
    ] {
        assert!(log.contains(needle), "{needle} in\n{log}");
    }
    let pids = started_pids(&log);
    assert_eq!(pids.len(), 4, "{log}");
    assert!(pids.iter().all(|&pid| gone(pid)), "{pids:?} still running");
}

/// SIGTERM (like Ctrl-C) stops a run early: lv-master still prints the summary and writes
/// the report, the script exits with its code, and the simulator and workers are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_stops_everything_on_a_signal() {
    let reports = tempfile::tempdir().expect("tempdir");
    let logs = tempfile::tempdir().expect("tempdir");
    let mut child = script(&["demo"], reports.path(), logs.path())
        .env("LV_DEMO_RUN_TIME", "5m")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start run_tests.sh");
    let pid = child.id().expect("running");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut stdout = String::new();
    let started = read_until(
        &mut lines,
        &mut stdout,
        "Stats follow.",
        Duration::from_secs(60),
    )
    .await;
    if !started {
        terminate(pid).await;
        panic!("the demo did not get under way:\n{stdout}");
    }
    // Let the workers start their users, then stop the run.
    tokio::time::sleep(Duration::from_secs(3)).await;
    terminate(pid).await;
    let rest = tokio::time::timeout(Duration::from_secs(40), async {
        read_rest(&mut lines, &mut stdout).await;
        child.wait().await
    })
    .await
    .expect("the script stopped in time")
    .expect("script status");
    assert!(stdout.contains("Result: "), "{stdout}");
    let report = summary(&only_file(reports.path(), "json"));
    assert!(report["total"]["requests"].as_u64().expect("requests") > 0);
    assert_eq!(
        rest.code().map(i64::from),
        report["exit_code"].as_i64(),
        "the script exits with lv-master's code\n{stdout}"
    );
    let log = std::fs::read_to_string(only_file(logs.path(), "log")).expect("log");
    let pids = started_pids(&log);
    assert_eq!(pids.len(), 4, "{log}");
    assert!(pids.iter().all(|&pid| gone(pid)), "{pids:?} still running");
}

/// The script refuses an unknown verb with exit code 2, and lists its verbs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_refuses_unknown_verbs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &'static [&'static str]| {
        let mut command = script(args, dir.path(), dir.path());
        async move { command.output().await.expect("run run_tests.sh") }
    };
    let output = run(&["frobnicate"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unknown verb \"frobnicate\"") && stderr.contains("Usage:"),
        "{stderr}"
    );
    let output = run(&["help"]).await;
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for verb in [
        "light",
        "medium",
        "heavy",
        "stress",
        "health-only",
        "chat-only",
        "event-bus-only",
        "custom",
        "demo",
        "web",
        "demo-web",
    ] {
        assert!(help.contains(verb), "{verb} in {help}");
    }
}
