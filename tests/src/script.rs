//! Driving `run_tests.sh` as a user does, with the binaries the tests built, and reading
//! what it leaves behind (reports, logs, the pids it started).

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::{BufReader, Lines};
use tokio::process::{ChildStdout, Command};

use crate::{bin, workspace_root};

/// `run_tests.sh` with the binaries the tests use (no cargo run inside), reports and logs
/// in temp dirs.
pub fn script(args: &[&str], reports: &Path, logs: &Path) -> Command {
    let bin_dir = bin("lv-master")
        .parent()
        .expect("target/<profile>")
        .to_owned();
    let profile = bin_dir.file_name().expect("profile dir").to_owned();
    let target_dir = bin_dir.parent().expect("target dir").to_owned();
    let root = workspace_root();
    // As from a user's shell: signals a parent ignored (`nohup` ignores SIGHUP, a background
    // job of a non-interactive shell SIGINT) are handled by default again, so the script's
    // traps work as they do for a user.
    let mut command = Command::new("env");
    command.args(["--default-signal=HUP,INT,TERM", "bash"]);
    for (name, _) in std::env::vars() {
        if name.starts_with("LV_") || name == "HOST" {
            command.env_remove(name);
        }
    }
    command
        .arg(root.join("run_tests.sh"))
        .args(args)
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", target_dir)
        .env("LV_BUILD_PROFILE", profile)
        .env("LV_SKIP_BUILD", "1")
        .env("LV_REPORTS_DIR", reports)
        .env("LV_LOGS_DIR", logs)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Sends SIGTERM to a process (the script stops what it started on it).
pub async fn terminate(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await;
}

/// Waits for the script, at most `limit`; on timeout stops it (and so its children) first.
pub async fn finish(child: tokio::process::Child, limit: Duration) -> Output {
    let pid = child.id().expect("running");
    let mut task = tokio::spawn(child.wait_with_output());
    match tokio::time::timeout(limit, &mut task).await {
        Ok(output) => output.expect("no panic").expect("script output"),
        Err(_) => {
            terminate(pid).await;
            let _ = tokio::time::timeout(Duration::from_secs(20), task).await;
            panic!("run_tests.sh did not finish within {limit:?}");
        }
    }
}

/// The only file in `dir` with this extension.
pub fn only_file(dir: &Path, extension: &str) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dir exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().expect("one file")
}

/// The pids the script logged for the processes it started.
pub fn started_pids(log: &str) -> Vec<u32> {
    log.lines()
        .filter_map(|line| line.strip_prefix("# "))
        .filter_map(|line| line.split(": pid ").nth(1))
        .filter_map(|rest| rest.split(':').next()?.trim().parse().ok())
        .collect()
}

/// No process with this pid exists any more.
pub fn gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

/// The JSON report at `path`.
pub fn summary(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("summary written")).expect("JSON")
}

/// Reads `lines` into `out` until a line starts with `prefix` (true), or the stream ends or
/// `limit` passes first (false).
pub async fn read_until(
    lines: &mut Lines<BufReader<ChildStdout>>,
    out: &mut String,
    prefix: &str,
    limit: Duration,
) -> bool {
    let found = tokio::time::timeout(limit, async {
        while let Ok(Some(line)) = lines.next_line().await {
            out.push_str(&line);
            out.push('\n');
            if line.starts_with(prefix) {
                return true;
            }
        }
        false
    })
    .await;
    matches!(found, Ok(true))
}

/// Reads what is left of `lines` into `out`.
pub async fn read_rest(lines: &mut Lines<BufReader<ChildStdout>>, out: &mut String) {
    while let Ok(Some(line)) = lines.next_line().await {
        out.push_str(&line);
        out.push('\n');
    }
}
