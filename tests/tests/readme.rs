//! The README, run as written. Every command in a `bash` block of README.md and docs/*.md is
//! classified once, in [`COMMANDS`]: run as written, run adapted (a shorter run time, the
//! simulated fleet, ports picked by the system), or not runnable here (with the reason). The
//! runnable ones each have a test below, named after the command; its exit code and output
//! are checked. A block command missing from the table fails [`every_doc_command_is_classified`],
//! so the docs cannot drift: renaming a flag in a command, or in lv, fails a test.
//!
//! Adaptations applied to every command before it runs (and only those):
//! - `target/release/` becomes the folder of the binaries the tests built, and `lv-master`,
//!   `lv-worker` are found there on the PATH;
//! - `http://localhost`, `https://staging.example.com` and the bind address `0.0.0.0` become
//!   `127.0.0.1`, `--web-port 8089` becomes `--web-port 0` (load only goes to this machine),
//!   and `master-host:5557` or `127.0.0.1:5557` the address the master announced (`$ADDR`);
//! - an entry's own words are appended; later flags win over earlier ones in lv-master and
//!   `run_tests.sh`, so `-t 3s` after `-t 5m` shortens the run and `--fleet` points the
//!   agents at a simulated fleet on ephemeral ports.
//!
//! Scripts the docs tell a person to run must be executable in git
//! ([`scripts_the_docs_name_are_executable`]).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use lv_tests::{bin, spawn_fleet_sim, workspace_root};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

/// How one documented command is checked.
enum How {
    /// Run `{doc}` (the adapted doc command) followed by `append`, or `script` with `{0}`,
    /// `{1}` standing for the entry's doc commands; expect one of `codes` and `output` in
    /// stdout or stderr. `stop_after`: send SIGTERM after this many seconds (a server).
    Run {
        append: &'static str,
        script: Option<&'static str>,
        codes: &'static [i32],
        output: &'static str,
        stop_after: Option<u64>,
    },
    /// Not run here, and why.
    NotHere(&'static str),
}

/// One documented command (or a group that only works together) and how it is checked.
struct Entry {
    /// The test's name (`readme::NAME`).
    name: &'static str,
    /// The commands as the docs write them (continuations joined, comment removed).
    docs: &'static [&'static str],
    how: How,
}

const fn run(append: &'static str, codes: &'static [i32], output: &'static str) -> How {
    How::Run {
        append,
        script: None,
        codes,
        output,
        stop_after: None,
    }
}

/// Flags that point a direct lv-master run at the simulated fleet, briefly.
const SIM: &str = "--fleet \"$FLEET\" -H http://127.0.0.1 --master-bind-port 0 -t 3s";
/// The same for `run_tests.sh` verbs (which pick their own ports).
const SIM_SCRIPT: &str = "--fleet \"$FLEET\" -H http://127.0.0.1 -t 3s";
/// A run that finished, whatever its verdict (a 3-second profile run's SLO verdict is not
/// what is checked here): exit 0 or 1, and the summary printed.
const FINISHED: &[i32] = &[0, 1];
/// Flags that point `lv-master try` at the simulated fleet.
const TRY: &str = "--fleet \"$FLEET\" -H http://127.0.0.1";

const COMMANDS: &[Entry] = &[
    Entry {
        name: "run_tests_demo",
        docs: &["./run_tests.sh demo"],
        how: run("", &[0], "Result: "),
    },
    Entry {
        name: "run_tests_capacity",
        docs: &["./run_tests.sh capacity"],
        // Two short steps below ATLAS's 80/s knee: the search ends at --max.
        how: run(
            "--hold 1s --settle 1s --start 20 --max 30 --max-lag 1s",
            &[0],
            "capacity: at least 30 arrivals/s of AriaChatUser",
        ),
    },
    Entry {
        name: "capacity_require",
        docs: &[
            "lv-master capacity AriaChatUser --slo-level light --expect-workers 2 --require 40/s --json reports/capacity.json --html reports/capacity.html",
        ],
        how: How::NotHere(
            "a search of the real fleet; tests/tests/capacity.rs runs the same search against lv-fleet-sim with a known capacity",
        ),
    },
    Entry {
        name: "run_tests_demo_web",
        docs: &["./run_tests.sh demo --web"],
        how: run("--autostart -t 2s --autoquit 1s", &[0], "web UI"),
    },
    Entry {
        name: "cargo_test",
        docs: &["cargo test --workspace --locked"],
        how: How::NotHere("it is this suite; .ci/run runs exactly this command"),
    },
    Entry {
        name: "run_tests_light",
        docs: &["./run_tests.sh light"],
        how: run(SIM_SCRIPT, FINISHED, "Result: "),
    },
    Entry {
        name: "run_tests_medium_tags",
        docs: &["./run_tests.sh medium --tags event-bus"],
        how: run(SIM_SCRIPT, FINISHED, "Result: "),
    },
    Entry {
        name: "run_tests_health_only_workers",
        docs: &["./run_tests.sh health-only --workers 4"],
        how: run(SIM_SCRIPT, FINISHED, "4 lv-worker processes"),
    },
    Entry {
        name: "run_tests_custom",
        docs: &["./run_tests.sh custom --users 25 --spawn-rate 5 --run-time 10m"],
        how: run(SIM_SCRIPT, FINISHED, "Result: "),
    },
    Entry {
        name: "run_tests_heavy_with_host",
        docs: &["HOST=https://staging.example.com ./run_tests.sh heavy"],
        how: run("--fleet \"$FLEET\" -t 3s", FINISHED, "Result: "),
    },
    Entry {
        name: "run_tests_help",
        docs: &["./run_tests.sh help"],
        how: run("", &[0], "Usage: ./run_tests.sh VERB"),
    },
    Entry {
        name: "cargo_build_release",
        docs: &["cargo build --release --locked"],
        how: How::NotHere(
            "a release build takes minutes; these tests run the binaries they built with \
             their own profile",
        ),
    },
    Entry {
        name: "master_one_process",
        docs: &[
            "target/release/lv-master -f configs/scenarios -u 10 -r 1 -t 5m -H http://localhost --headless",
        ],
        how: run(SIM, &[0], "Result: passed"),
    },
    Entry {
        name: "master_try",
        docs: &["lv-master try -f configs/scenarios -H http://localhost AriaChatUser"],
        how: run(
            "--fleet \"$FLEET\" -H http://127.0.0.1",
            &[0],
            "try: passed: 1 class, 4 steps",
        ),
    },
    Entry {
        name: "master_and_workers",
        docs: &[
            "target/release/lv-master --expect-workers 4 --master-bind-host 0.0.0.0 --token \"$LV_TOKEN\" -u 500 -r 50 -t 5m --headless",
            "target/release/lv-worker --master master-host:5557 --token \"$LV_TOKEN\"",
        ],
        how: How::Run {
            append: "",
            // The master on a free port, two workers pointed at the address it announces.
            script: Some(
                "{0} --expect-workers 2 -u 40 --fleet \"$FLEET\" -H http://127.0.0.1 \
                 --master-bind-port 0 -t 3s 2>\"$R/master.err\" & m=$!; \
                 for _ in $(seq 300); do \
                 ADDR=$(sed -n 's/^lv-master: listening for workers on //p' \"$R/master.err\"); \
                 [ -n \"$ADDR\" ] && break; sleep 0.1; done; \
                 {1} 2>/dev/null & {1} 2>/dev/null & wait $m; code=$?; \
                 cat \"$R/master.err\" >&2; exit $code",
            ),
            codes: &[0],
            output: "Result: passed",
            stop_after: None,
        },
    },
    Entry {
        name: "run_tests_web",
        docs: &["./run_tests.sh web"],
        how: run(
            "--fleet \"$FLEET\" -H http://127.0.0.1 --autostart -t 2s --autoquit 1s",
            &[0],
            "web UI",
        ),
    },
    Entry {
        name: "master_shared_behind_a_password",
        docs: &[
            "lv-master --expect-workers 4 --master-bind-host 0.0.0.0 --token \"$LV_TOKEN\" --web-host 0.0.0.0 --web-auth \"admin:$PASSWORD\"",
        ],
        // A UI master waits for runs until stopped; stopped idle, it exits 0.
        how: How::Run {
            append: "--master-bind-port 0 --web-port 0 --fleet \"$FLEET\"",
            script: None,
            codes: &[0],
            output: "web UI on http://127.0.0.1:",
            stop_after: Some(3),
        },
    },
    Entry {
        name: "master_autostart_autoquit",
        docs: &["lv-master --autostart --autoquit 10s -u 50 -r 5 -t 10m"],
        how: run(
            "-t 2s --autoquit 1s --web-port 0 --fleet \"$FLEET\" -H http://127.0.0.1 --master-bind-port 0",
            &[0],
            "Result: passed",
        ),
    },
    Entry {
        name: "master_headless_with_web_port",
        docs: &["lv-master --headless --web-port 8089 -u 50 -r 5 -t 10m"],
        how: run(SIM, &[0], "web UI on http://127.0.0.1:"),
    },
    Entry {
        name: "shape_capacity",
        docs: &[
            "lv-master --shape configs/shapes/capacity.toml -f configs/scenarios/aria_chat.toml --headless",
        ],
        how: run(SIM, &[0], "Result: passed"),
    },
    Entry {
        name: "shape_spike",
        docs: &[
            "lv-master --shape configs/shapes/spike.toml -f configs/scenarios/aria_chat.toml --headless",
        ],
        how: run(SIM, &[0], "Result: passed"),
    },
    Entry {
        name: "shape_soak",
        docs: &[
            "lv-master --shape configs/shapes/soak.toml -f configs/scenarios/health_checks.toml --headless",
        ],
        // Its warm-up ramps from 0/s: the first arrival is due about 5.5 s in.
        how: run(
            "--fleet \"$FLEET\" -H http://127.0.0.1 --master-bind-port 0 -t 8s",
            &[0],
            "Result: passed",
        ),
    },
    Entry {
        name: "rate",
        docs: &[
            "lv-master --rate 200/s -t 5m -f configs/scenarios/aria_chat.toml -H http://localhost --headless",
        ],
        how: run(SIM, &[0], "Result: passed"),
    },
    Entry {
        name: "rate_max_in_flight",
        docs: &[
            "lv-master -f configs/scenarios/health_checks.toml --rate 200/s -t 5m --max-in-flight 500 --headless",
        ],
        how: run(SIM, &[0], "Result: passed"),
    },
    Entry {
        name: "shape_capacity_first",
        docs: &[
            "lv-master -f configs/scenarios/aria_chat.toml --shape configs/shapes/capacity.toml --headless",
        ],
        how: run(SIM, &[0], "Result: passed"),
    },
    Entry {
        name: "shape_spike_first",
        docs: &[
            "lv-master -f configs/scenarios/aria_chat.toml --shape configs/shapes/spike.toml --headless",
        ],
        how: run(SIM, &[0], "Result: passed"),
    },
    Entry {
        name: "check_scenarios",
        docs: &["lv-master check -f configs/scenarios -u 10"],
        how: run("", &[0], "Task ratio per User class"),
    },
    Entry {
        name: "check_json",
        docs: &["lv-master check -f configs/scenarios/aria_chat.toml -u 10 --json"],
        how: run("", &[0], "\"task_ratio\""),
    },
    Entry {
        name: "check_profile_tags",
        docs: &["lv-master check --config configs/medium.conf --tags event-bus"],
        how: run("", &[0], "EventBusUser (configs/scenarios/event_bus.toml:"),
    },
    Entry {
        name: "compare",
        docs: &["lv-master compare reports/base.json reports/new.json"],
        // Two reports of one run: no regression.
        how: How::Run {
            append: "",
            script: Some(
                "mkdir -p \"$R/reports\" && lv-master -f configs/scenarios/health_checks.toml \
                 -u 2 -r 10 --headless --only-summary --json \"$R/reports/base.json\" \
                 --fleet \"$FLEET\" -H http://127.0.0.1 --master-bind-port 0 -t 2s >/dev/null \
                 && cp \"$R/reports/base.json\" \"$R/reports/new.json\" && cd \"$R\" && {0}",
            ),
            codes: &[0],
            output: "GET",
            stop_after: None,
        },
    },
    Entry {
        name: "compare_and_record",
        docs: &["lv-master compare base.json new.json --max-regression 5 --record benchmarks.md"],
        how: How::Run {
            append: "",
            script: Some(
                "lv-master -f configs/scenarios/health_checks.toml -u 2 -r 10 --headless \
                 --only-summary --json \"$R/base.json\" --fleet \"$FLEET\" -H http://127.0.0.1 \
                 --master-bind-port 0 -t 2s >/dev/null && cp \"$R/base.json\" \"$R/new.json\" \
                 && cd \"$R\" && {0} && grep -c '^|' benchmarks.md",
            ),
            codes: &[0],
            output: "GET",
            stop_after: None,
        },
    },
    Entry {
        name: "tutorial_fleet_sim",
        docs: &["target/release/lv-fleet-sim"],
        // Every test has its own fleet; this one only has to start and stop cleanly.
        how: How::Run {
            append: "--ephemeral-ports",
            script: None,
            codes: &[0],
            output: "lv-fleet-sim ready",
            stop_after: Some(2),
        },
    },
    Entry {
        name: "tutorial_check",
        docs: &["target/release/lv-master check -f configs/examples/tutorial/1_profile.toml -u 10"],
        how: run(
            "",
            &[0],
            "HermesProfileUser (configs/examples/tutorial/1_profile.toml:6)",
        ),
    },
    Entry {
        name: "tutorial_try_failing",
        docs: &["target/release/lv-master try -f configs/examples/tutorial/1_profile.toml"],
        how: run(
            TRY,
            &[1],
            "try: FAILED: 1 of 2 steps failed (1 class): HermesProfileUser / profile / \
             HERMES /v1/me: check failed: /username is missing",
        ),
    },
    Entry {
        name: "tutorial_run_failing",
        docs: &[
            "target/release/lv-master -f configs/examples/tutorial/1_profile.toml -u 2 -r 2 -i 3 --headless --only-summary",
        ],
        how: run(
            "--fleet \"$FLEET\" -H http://127.0.0.1 --master-bind-port 0",
            &[1],
            "6  GET HERMES /v1/me: check failed: /username is missing",
        ),
    },
    Entry {
        name: "tutorial_try_fixed",
        docs: &["target/release/lv-master try -f configs/examples/tutorial/2_profile_fixed.toml"],
        how: run(TRY, &[0], "try: passed: 1 class, 2 steps, every one passed"),
    },
    Entry {
        name: "tutorial_try_accounts",
        docs: &[
            "target/release/lv-master try -f configs/examples/tutorial/3_profile_accounts.toml",
        ],
        how: run(TRY, &[0], "✓ check /user exists: \"alice\""),
    },
    Entry {
        name: "tutorial_accounts_exceptions",
        docs: &[
            "target/release/lv-master -f configs/examples/tutorial/3_profile_accounts.toml -u 5 -r 5 -t 5s --headless --only-summary --json reports/accounts.json",
            "jq -c '.exceptions[] | {message, count}' reports/accounts.json",
        ],
        // In the test's folder (reports/ there), with the repository's configs/ linked in.
        how: How::Run {
            append: "",
            script: Some(
                "cd \"$R\" && ln -s \"$OLDPWD/configs\" configs && {0} --fleet \"$FLEET\" \
                 -H http://127.0.0.1 --master-bind-port 0 -t 3s >/dev/null 2>&1 && {1}",
            ),
            codes: &[0],
            output: "{\"message\":\"test data accounts: no row left for a new user (unique mode \
                     gives every row to one user only)\",\"count\":2}",
            stop_after: None,
        },
    },
    Entry {
        name: "tutorial_try_setup",
        docs: &["target/release/lv-master try -f configs/examples/tutorial/4_profile_setup.toml"],
        how: run(
            TRY,
            &[0],
            "try: passed: 2 classes, 2 steps, every one passed",
        ),
    },
    Entry {
        name: "tutorial_distributed",
        docs: &[
            "target/release/lv-master -f configs/examples/tutorial/4_profile_setup.toml --expect-workers 2 -u 4 -r 4 -i 5 --headless --json reports/tutorial.json --csv reports/tutorial --html reports/tutorial.html",
            "target/release/lv-worker --master 127.0.0.1:5557",
            "jq -c '.endpoints[] | {method, name, requests, failures}' reports/tutorial.json",
        ],
        // The master on a free port in the test's folder, the two workers pointed at the
        // address it announces; then every report is there and the JSON has the setup row.
        how: How::Run {
            append: "",
            script: Some(
                "cd \"$R\" && ln -s \"$OLDPWD/configs\" configs || exit 9; {0} --fleet \"$FLEET\" \
                 -H http://127.0.0.1 --master-bind-port 0 2>\"$R/master.err\" & m=$!; \
                 for _ in $(seq 300); do \
                 ADDR=$(sed -n 's/^lv-master: listening for workers on //p' \"$R/master.err\"); \
                 [ -n \"$ADDR\" ] && break; sleep 0.1; done; \
                 {1} 2>/dev/null & {1} 2>/dev/null & wait $m; code=$?; \
                 cat \"$R/master.err\" >&2; [ \"$code\" = 0 ] || exit \"$code\"; \
                 ls reports/tutorial.html reports/tutorial_stats.csv \
                 reports/tutorial_failures.csv reports/tutorial_exceptions.csv && {2}",
            ),
            codes: &[0],
            output: "{\"method\":\"GET\",\"name\":\"HERMES /v1/me\",\"requests\":20,\"failures\":0}\n\
                     {\"method\":\"POST\",\"name\":\"setup: HERMES /v1/auth/login\",\"requests\":1,\
                     \"failures\":0}",
            stop_after: None,
        },
    },
    Entry {
        name: "tutorial_local_workers",
        docs: &[
            "target/release/lv-master -f configs/examples/tutorial/4_profile_setup.toml --local-workers 2 -u 4 -r 4 -i 5 --headless --json reports/tutorial.json",
        ],
        how: How::Run {
            append: "",
            script: Some(
                "cd \"$R\" && ln -s \"$OLDPWD/configs\" configs && {0} --fleet \"$FLEET\" \
                 -H http://127.0.0.1 --master-bind-port 0 && jq -e '[.endpoints[] \
                 | select(.name == \"setup: HERMES /v1/auth/login\") | .requests] == [1]' \
                 reports/tutorial.json",
            ),
            codes: &[0],
            output: "Result: passed: no request failed",
            stop_after: None,
        },
    },
    Entry {
        name: "compose",
        docs: &[
            "export LV_TOKEN=$(openssl rand -hex 16)",
            "mkdir -p deploy/reports && export LV_USER=$(id -u):$(id -g)",
            "docker compose -f deploy/compose.yaml up --build --exit-code-from master",
            "LV_WORKERS=8 LV_PROFILE=medium docker compose -f deploy/compose.yaml up --exit-code-from master",
        ],
        how: How::NotHere(
            "needs a container engine; deploy/e2e.sh runs the compose file where one is installed",
        ),
    },
    Entry {
        name: "kubernetes",
        docs: &[
            "kubectl create secret generic lv-token --from-literal=token=\"$(openssl rand -hex 16)\" --from-literal=web-auth=\"lv:$(openssl rand -hex 12)\"",
            "kubectl apply -k deploy/k8s/overlays/stress",
            "kubectl logs -f job/lv-master",
            "kubectl get pods -l app.kubernetes.io/component=master -o jsonpath='{.items[0].status.containerStatuses[0].state.terminated.exitCode}'",
            "kubectl delete -k deploy/k8s/overlays/stress",
            "kubectl apply -k deploy/k8s/examples/stress-failover",
        ],
        how: How::NotHere(
            "needs a Kubernetes cluster; deploy/check.sh renders and validates every manifest offline",
        ),
    },
];

/// The documents whose `bash` blocks are checked.
fn documents() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut docs = vec![root.join("README.md")];
    let mut more: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    more.sort();
    docs.extend(more);
    docs
}

/// Every command of the `bash`/`sh`/`shell` blocks of `text`: continuation lines joined,
/// a trailing `# comment` (after whitespace) dropped, blank and comment lines skipped.
fn block_commands(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in text.lines() {
        let fence = line.trim_start();
        if fence.starts_with("```") {
            let lang = fence.trim_start_matches('`').trim();
            in_block = !in_block && matches!(lang, "bash" | "sh" | "shell");
            continue;
        }
        if !in_block {
            continue;
        }
        let line = strip_comment(line);
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head.trim());
            pending.push(' ');
            continue;
        }
        pending.push_str(line.trim());
        let command = std::mem::take(&mut pending).trim().to_owned();
        if !command.is_empty() {
            commands.push(command);
        }
    }
    commands
}

/// The line without a `#` comment that starts after whitespace and outside quotes.
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double) = (false, false);
    let mut previous = ' ';
    for (at, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && previous.is_whitespace() => return line[..at].trim_end(),
            _ => {}
        }
        previous = c;
    }
    line.trim_end()
}

#[test]
fn every_doc_command_is_classified() {
    let mut found = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).expect("a document");
        found.extend(block_commands(&text).into_iter().map(|c| (doc.clone(), c)));
    }
    let known: Vec<&str> = COMMANDS
        .iter()
        .flat_map(|e| e.docs.iter().copied())
        .collect();
    let unknown: Vec<String> = found
        .iter()
        .filter(|(_, c)| !known.contains(&c.as_str()))
        .map(|(doc, c)| format!("{}: {c}", doc.display()))
        .collect();
    assert!(
        unknown.is_empty(),
        "commands in the docs that tests/tests/readme.rs does not classify (add them to \
         COMMANDS):\n{}",
        unknown.join("\n")
    );
    let stale: Vec<&str> = known
        .iter()
        .copied()
        .filter(|k| !found.iter().any(|(_, c)| c == k))
        .collect();
    assert!(stale.is_empty(), "classified but in no document: {stale:?}");
    let runnable: Vec<&str> = COMMANDS
        .iter()
        .filter(|e| matches!(e.how, How::Run { .. }))
        .map(|e| e.name)
        .collect();
    let untested: Vec<&&str> = runnable.iter().filter(|n| !TESTED.contains(n)).collect();
    assert!(
        untested.is_empty(),
        "runnable entries without a test: {untested:?}"
    );
    assert!(
        found.len() >= 30,
        "the docs' commands were read: {}",
        found.len()
    );
    for entry in COMMANDS {
        if let How::NotHere(why) = entry.how {
            assert!(!why.is_empty(), "{} says why it is not run", entry.name);
            eprintln!("readme: not run here: {} ({why})", entry.docs.join("; "));
        }
    }
}

/// Scripts the docs name as commands (a path to a `.sh` file, in a block or in backticks)
/// are executable in git, so they run as typed.
#[test]
fn scripts_the_docs_name_are_executable() {
    let root = workspace_root();
    let listing = std::process::Command::new("git")
        .args(["ls-files", "-s"])
        .current_dir(&root)
        .output()
        .expect("git ls-files");
    let modes: Vec<(String, String)> = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .filter_map(|line| {
            let (meta, path) = line.split_once('\t')?;
            Some((path.to_owned(), meta.split_whitespace().next()?.to_owned()))
        })
        .collect();
    let mut named = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).expect("a document");
        for word in text.split(|c: char| c.is_whitespace() || c == '`' || c == '(' || c == ')') {
            let path = word
                .trim_start_matches("./")
                .trim_end_matches([',', '.', ';', ':']);
            if path.ends_with(".sh") && root.join(path).is_file() {
                named.push(path.to_owned());
            }
        }
    }
    named.sort();
    named.dedup();
    let not_executable: Vec<&String> = named
        .iter()
        .filter(|path| {
            modes
                .iter()
                .find(|(p, _)| p == *path)
                .is_none_or(|(_, mode)| mode != "100755")
        })
        .collect();
    assert!(
        named.contains(&"deploy/e2e.sh".to_owned()),
        "the scan finds the scripts: {named:?}"
    );
    assert!(
        not_executable.is_empty(),
        "named in the docs but not executable in git (git update-index --chmod=+x): {not_executable:?}"
    );
}

/// The command line of `entry` as it runs here (see the module docs for the adaptations).
fn adapted(entry: &Entry) -> String {
    let adapt = |doc: &str| {
        doc.replace("target/release/", "\"$LV_BIN\"/")
            .replace("https://staging.example.com", "http://127.0.0.1")
            .replace("http://localhost", "http://127.0.0.1")
            .replace("0.0.0.0", "127.0.0.1")
            .replace("--web-port 8089", "--web-port 0")
            .replace("master-host:5557", "\"$ADDR\"")
            .replace("127.0.0.1:5557", "\"$ADDR\"")
    };
    let How::Run { append, script, .. } = &entry.how else {
        return String::new();
    };
    match script {
        Some(script) => entry
            .docs
            .iter()
            .enumerate()
            .fold((*script).to_owned(), |s, (i, doc)| {
                s.replace(&format!("{{{i}}}"), &adapt(doc))
            }),
        None => format!("{} {append}", adapt(entry.docs[0])),
    }
}

/// Runs the entry called `name` against a simulated fleet and checks its exit code and
/// output.
/// Whether `entry` can run: a command that reads reports with `jq` needs it on the PATH.
/// Without it the test says loudly that it skipped, or fails with `LV_REQUIRE_JQ=1` (set by
/// `.ci/run`, which installs it).
fn jq_or_skip(name: &str, entry: &Entry) -> bool {
    let script = match &entry.how {
        How::Run { script, .. } => script.unwrap_or_default(),
        How::NotHere(_) => "",
    };
    let uses_jq = entry
        .docs
        .iter()
        .chain([&script])
        .any(|d| d.starts_with("jq ") || d.contains("&& jq ") || d.contains("| jq "));
    if !uses_jq {
        return true;
    }
    let found = std::process::Command::new("jq")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return true;
    }
    assert!(
        std::env::var_os("LV_REQUIRE_JQ").is_none(),
        "readme::{name} needs jq (Debian's `jq`), and LV_REQUIRE_JQ is set"
    );
    eprintln!("SKIPPED readme::{name}: it needs jq (Debian's `jq`), which is not on the PATH");
    false
}

async fn check(name: &str) {
    let entry = COMMANDS
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no entry {name}"));
    let How::Run {
        codes,
        output,
        stop_after,
        ..
    } = &entry.how
    else {
        panic!("{name} is not runnable here");
    };
    if !jq_or_skip(name, entry) {
        return;
    }
    let stop = CancellationToken::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = dir.path().join("fleet.toml");
    let _sim = spawn_fleet_sim(&[], &fleet, stop.child_token()).await;
    let bin_dir = bin("lv-master")
        .parent()
        .expect("target/<profile>")
        .to_owned();
    let command_line = adapted(entry);
    let mut command = Command::new("bash");
    for (key, _) in std::env::vars_os() {
        if key == "HOST" || key.to_string_lossy().starts_with("LV_") {
            command.env_remove(key);
        }
    }
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    command
        .args(["-c", &command_line])
        .current_dir(workspace_root())
        .env("PATH", path)
        .env("LV_BIN", &bin_dir)
        .env("FLEET", &fleet)
        .env("R", dir.path())
        .env("LV_TOKEN", "readme-test-token")
        .env("PASSWORD", "readme-test-password")
        .env("CARGO_TARGET_DIR", bin_dir.parent().expect("target dir"))
        .env("LV_BUILD_PROFILE", bin_dir.file_name().expect("profile"))
        .env("LV_SKIP_BUILD", "1")
        .env("LV_REPORTS_DIR", dir.path().join("reports"))
        .env("LV_LOGS_DIR", dir.path().join("logs"))
        .env("LV_DEMO_RUN_TIME", "3s")
        .env("LV_WEB_PORT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().expect("start bash");
    let pid = child.id().expect("running");
    if let Some(seconds) = stop_after {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(*seconds)).await;
            // bash -c execs a lone command, so this reaches the program itself.
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        });
    }
    let result = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output()).await;
    stop.cancel();
    let Ok(Ok(result)) = result else {
        panic!("`{command_line}` did not finish within 120 s");
    };
    let stdout = String::from_utf8_lossy(&result.stdout);
    let stderr = String::from_utf8_lossy(&result.stderr);
    let code = result.status.code().unwrap_or(-1);
    assert!(
        codes.contains(&code),
        "`{command_line}` exited {code}, expected one of {codes:?}\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(output) || stderr.contains(output),
        "`{command_line}` printed no {output:?}\n{stdout}\n{stderr}"
    );
    eprintln!("readme: ran `{command_line}`: exit {code}");
}

/// One test per runnable entry, named after it; `TESTED` lists them.
macro_rules! readme_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                check(stringify!($name)).await;
            }
        )*
        const TESTED: &[&str] = &[$(stringify!($name)),*];
    };
}

readme_tests!(
    run_tests_demo,
    run_tests_capacity,
    run_tests_demo_web,
    run_tests_light,
    run_tests_medium_tags,
    run_tests_health_only_workers,
    run_tests_custom,
    run_tests_heavy_with_host,
    run_tests_help,
    master_one_process,
    master_try,
    master_and_workers,
    run_tests_web,
    master_shared_behind_a_password,
    master_autostart_autoquit,
    master_headless_with_web_port,
    shape_capacity,
    shape_spike,
    shape_soak,
    rate,
    rate_max_in_flight,
    shape_capacity_first,
    shape_spike_first,
    check_scenarios,
    check_json,
    check_profile_tags,
    compare,
    compare_and_record,
    tutorial_fleet_sim,
    tutorial_check,
    tutorial_try_failing,
    tutorial_run_failing,
    tutorial_try_fixed,
    tutorial_try_accounts,
    tutorial_accounts_exceptions,
    tutorial_try_setup,
    tutorial_distributed,
    tutorial_local_workers,
);

#[test]
fn comments_and_continuations_are_read_as_a_shell_does() {
    let text = "```bash\n./a.sh x   # note\n# only a comment\nb --c \\\n  --d 'e # f'\n```\n\
                ```\nnot bash\n```\n";
    assert_eq!(block_commands(text), ["./a.sh x", "b --c --d 'e # f'"]);
    assert_eq!(strip_comment("x \"#y\" # z"), "x \"#y\"");
}
