//! Never lose a run: a closed stdout or stderr, a signal to the whole process group, or a
//! hang-up still leave every report written and the run's own exit code (never a panic's
//! 101). Each test stops the way people break things: `| head -1`, a relay that died,
//! `kill -- -PGID` from CI cancellation or `timeout`, a dropped SSH session.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use lv_tests::harness::ping_run;
use lv_tests::script::{
    finish, gone, only_file, read_rest, read_until, script, started_pids, summary,
};
use lv_tests::{bin, command_without_lv_env, workspace_root};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// `lv-master` against `scenario`, headless, printing its live table every second (so
/// stdout keeps being written), with the JSON report at `json`.
fn master(scenario: &Path, json: &Path, run_time: &str) -> Command {
    master_under(None, scenario, json, run_time)
}

/// [`master`], started by `wrapper` (a program and its words, e.g. `timeout 4`) when given.
fn master_under(wrapper: Option<&[&str]>, scenario: &Path, json: &Path, run_time: &str) -> Command {
    let fleet = workspace_root().join("configs/fleet.toml");
    let mut command = match wrapper {
        Some(words) => {
            let mut command = command_without_lv_env(Path::new(words[0]));
            command.args(&words[1..]).arg(bin("lv-master"));
            command
        }
        None => command_without_lv_env(&bin("lv-master")),
    };
    command.args(["-f", &scenario.display().to_string()]);
    command.args(["--fleet", &fleet.display().to_string()]);
    command.args(["--headless", "--master-bind-port", "0", "--no-slo"]);
    command.args([
        "-u",
        "4",
        "-r",
        "100",
        "-t",
        run_time,
        "--print-interval",
        "1s",
    ]);
    command.args(["--json", &json.display().to_string()]);
    command
}

/// Waits for `child` at most `limit` and returns its exit code (`None`: a signal).
async fn exit_code(child: &mut Child, limit: Duration) -> Option<i32> {
    tokio::time::timeout(limit, child.wait())
        .await
        .expect("the process ends in time")
        .expect("wait for the process")
        .code()
}

/// Sends `signal` (e.g. `TERM`) to one process, or to a whole group with a negative id.
async fn kill(signal: &str, id: i64) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), "--".into(), id.to_string()])
        .status()
        .await
        .expect("run kill");
    assert!(status.success(), "kill -{signal} -- {id}");
}

/// The report is whole: it counts every request the target answered and carries the exit
/// code the process ended with.
fn assert_complete(json: &Path, code: Option<i32>, answered: u64) {
    let report = summary(json);
    let requests = report["total"]["requests"]
        .as_u64()
        .expect("total.requests");
    assert!(requests > 0, "the run made requests");
    assert_eq!(
        requests, answered,
        "the report counts what the target answered"
    );
    assert_eq!(
        report["exit_code"].as_i64(),
        code.map(i64::from),
        "the exit code is the run's own"
    );
}

/// Which stream of lv-master a test closes early.
#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// Runs lv-master for 3 s, reads one line of `stream` and closes it, as `| head -1` does:
/// the run goes on, writes its report and exits with its own code (0), not a panic's 101.
async fn close_early(stream: Stream) {
    let (stop, target, _dir, scenario, json) = ping_run(0.05).await;
    let mut command = master(&scenario, &json, "3s");
    let (out, err) = match stream {
        Stream::Stdout => (Stdio::piped(), Stdio::null()),
        // Debug logging keeps writing to the closed stderr.
        Stream::Stderr => (Stdio::null(), Stdio::piped()),
    };
    if matches!(stream, Stream::Stderr) {
        command.arg("--loglevel=debug");
    }
    let mut child = command
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start lv-master");
    let reader: Box<dyn tokio::io::AsyncRead + Unpin + Send> = match stream {
        Stream::Stdout => Box::new(child.stdout.take().expect("stdout")),
        Stream::Stderr => Box::new(child.stderr.take().expect("stderr")),
    };
    let mut lines = BufReader::new(reader).lines();
    let first = lines.next_line().await.expect("read the stream");
    assert!(first.is_some(), "lv-master wrote a line");
    drop(lines);
    let code = exit_code(&mut child, Duration::from_secs(40)).await;
    assert_eq!(
        code,
        Some(0),
        "exit code of a passed run, not a panic's 101"
    );
    assert_complete(&json, code, target.total());
    stop.cancel();
}

/// `lv-master ... | head -1`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_loses_nothing() {
    close_early(Stream::Stdout).await;
}

/// A stderr whose reader went away (a relay that died, `2> >(head -1)`): the logging and
/// the messages on stderr fail quietly, and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stderr_loses_nothing() {
    close_early(Stream::Stderr).await;
}

/// SIGHUP (the terminal or SSH session went away) stops a run as Ctrl-C does: the summary
/// and the report are written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hangup_stops_the_run_gracefully() {
    let (stop, target, _dir, scenario, json) = ping_run(0.05).await;
    let mut child = master(&scenario, &json, "5m")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lv-master");
    let pid = i64::from(child.id().expect("running"));
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // The live table shows up once the run is under way.
    let mut stdout = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let started = line.starts_with('[');
        stdout.push_str(&line);
        stdout.push('\n');
        if started {
            break;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    kill("HUP", pid).await;
    while let Ok(Some(line)) = lines.next_line().await {
        stdout.push_str(&line);
        stdout.push('\n');
    }
    let code = exit_code(&mut child, Duration::from_secs(40)).await;
    assert!(
        stdout.contains("Result: "),
        "the summary was printed:\n{stdout}"
    );
    assert_complete(&json, code, target.total());
    stop.cancel();
}

/// `./run_tests.sh demo` in a process group of its own, stopped by `signal` sent to the
/// whole group (as CI cancellation, `timeout` or `kill -- -PGID` do) once the run is under
/// way: the report is written, the script exits with lv-master's code, nothing is left.
async fn stop_demo_group_with(signal: &str) {
    let reports = tempfile::tempdir().expect("tempdir");
    let logs = tempfile::tempdir().expect("tempdir");
    let mut child = script(&["demo"], reports.path(), logs.path())
        .env("LV_DEMO_RUN_TIME", "5m")
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start run_tests.sh");
    let group = i64::from(child.id().expect("running"));
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
        kill("TERM", -group).await;
        panic!("the demo did not get under way:\n{stdout}");
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    kill(signal, -group).await;
    let ended = tokio::time::timeout(Duration::from_secs(40), async {
        read_rest(&mut lines, &mut stdout).await;
        child.wait().await
    })
    .await;
    let Ok(status) = ended else {
        // Say what was still running, and what the script and lv-master had written.
        let ps = Command::new("ps")
            .args(["-eo", "pid,pgid,ppid,stat,etime,args"])
            .output()
            .await
            .map(|o| {
                let all = String::from_utf8_lossy(&o.stdout).into_owned();
                let ours = |l: &&str| l.contains("lv-") || l.contains("run_tests.sh");
                all.lines().filter(ours).collect::<Vec<_>>().join("\n")
            })
            .unwrap_or_default();
        let log = std::fs::read_to_string(only_file(logs.path(), "log")).unwrap_or_default();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &(-group).to_string()])
            .status()
            .await;
        panic!(
            "the script did not stop within 40 s of SIG{signal}\nstill running:\n{ps}\nstdout:\n{stdout}\nlog:\n{log}"
        );
    };
    let code = status.expect("script status").code();
    let log = std::fs::read_to_string(only_file(logs.path(), "log")).expect("log");
    assert!(
        log.contains("[master] Result: "),
        "the summary reached the log:\n{log}"
    );
    let report = summary(&only_file(reports.path(), "json"));
    assert!(report["total"]["requests"].as_u64().expect("requests") > 0);
    assert_eq!(report["workers"].as_array().expect("workers").len(), 2);
    for kind in ["html", "csv"] {
        any_file(reports.path(), kind);
    }
    assert_eq!(
        code.map(i64::from),
        report["exit_code"].as_i64(),
        "the script exits with lv-master's code after SIG{signal}\n{stdout}"
    );
    let pids = started_pids(&log);
    assert_eq!(pids.len(), 4, "{log}");
    assert!(pids.iter().all(|&pid| gone(pid)), "{pids:?} still running");
}

/// At least one file with this extension in `dir`.
fn any_file(dir: &Path, extension: &str) {
    let found = std::fs::read_dir(dir)
        .expect("reports dir")
        .filter_map(Result::ok)
        .any(|e| e.path().extension().is_some_and(|x| x == extension));
    assert!(found, "a .{extension} report in {}", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_to_the_demo_process_group_loses_nothing() {
    stop_demo_group_with("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_to_the_demo_process_group_loses_nothing() {
    stop_demo_group_with("HUP").await;
}

/// `./run_tests.sh demo | head -1`: the script and its relays ride out the closed pipe;
/// the summary still reaches the log, every report is written, and the exit code is
/// lv-master's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_piped_into_head_loses_nothing() {
    let reports = tempfile::tempdir().expect("tempdir");
    let logs = tempfile::tempdir().expect("tempdir");
    let mut child = script(&["demo"], reports.path(), logs.path())
        .env("LV_DEMO_RUN_TIME", "4s")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start run_tests.sh");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next_line().await.expect("read stdout");
    assert!(first.is_some(), "the script printed a line");
    drop(lines);
    let output = finish(child, Duration::from_secs(90)).await;
    let log = std::fs::read_to_string(only_file(logs.path(), "log")).expect("log");
    assert!(
        log.contains("[master] Result: "),
        "the summary reached the log:\n{log}"
    );
    let report = summary(&only_file(reports.path(), "json"));
    assert!(report["total"]["requests"].as_u64().expect("requests") > 0);
    assert_eq!(
        output.status.code().map(i64::from),
        report["exit_code"].as_i64(),
        "the script exits with lv-master's code"
    );
}

/// `timeout 4 lv-master ...`: timeout sends SIGTERM to lv-master and to its process group,
/// so the one request arrives twice. That is one graceful stop, not "exit at once": every
/// report is written and the exit code is the run's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_stops_lv_master_gracefully() {
    let (stop, target, _dir, scenario, json) = ping_run(0.05).await;
    let wrapper = ["timeout", "--preserve-status", "4"];
    let mut child = master_under(Some(&wrapper), &scenario, &json, "5m")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start timeout lv-master");
    let code = exit_code(&mut child, Duration::from_secs(40)).await;
    assert_complete(&json, code, target.total());
    stop.cancel();
}
