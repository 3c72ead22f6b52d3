//! Tests of the `lv-fleet-sim` binary: ready line, written map, SIGTERM, usage errors.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lv_common::fleet::FleetMap;

const BIN: &str = env!("CARGO_BIN_EXE_lv-fleet-sim");
const LIMIT: Duration = Duration::from_secs(10);

/// Waits for `child` to exit within [`LIMIT`], killing it (and failing) otherwise.
fn wait_exit(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().expect("kill");
            panic!("lv-fleet-sim did not exit within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A plain HTTP/1.1 GET on 127.0.0.1; returns the whole response text.
fn http_get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(LIMIT)).expect("timeout");
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

/// The binary prints its ready line after writing the map, serves it, and exits 0 on SIGTERM.
#[test]
fn serves_written_map_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let map_path = dir.path().join("bound.toml");
    let mut child = Command::new(BIN)
        .args([
            "--ephemeral-ports",
            "--latency-scale",
            "0",
            "--admin-port",
            "0",
            "--write-fleet",
        ])
        .arg(&map_path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn lv-fleet-sim");
    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let ready = lines_rx.recv_timeout(LIMIT);
    if ready.as_deref() != Ok("lv-fleet-sim ready") {
        child.kill().expect("kill");
        panic!("expected the ready line, got {ready:?}");
    }

    let map = FleetMap::load(&map_path).expect("written map parses");
    let port = map.get("HERMES").and_then(|a| a.port).expect("HERMES port");
    let response = http_get(port, "/health");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(r#""agent":"HERMES""#), "{response}");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let status = wait_exit(&mut child);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(stderr.contains("admin listening on 127.0.0.1:"), "{stderr}");
    assert!(lines_rx.try_recv().is_err(), "exactly one line on stdout");
}

/// Runs the binary to its exit (bounded by [`LIMIT`]); returns the status and stderr.
fn run_to_exit(args: &[&str]) -> (ExitStatus, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn lv-fleet-sim");
    let status = wait_exit(&mut child);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    (status, stderr)
}

/// An unknown agent in `--down` is a usage error (exit 2) that names the agent.
#[test]
fn unknown_down_agent_exits_2() {
    let (status, stderr) = run_to_exit(&["--ephemeral-ports", "--down", "ATLAS,NOSUCH"]);
    assert_eq!(status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("NOSUCH"), "{stderr}");
}

/// Bad flag values are usage errors (exit 2) with a message quoting the value.
#[test]
fn bad_flag_values_exit_2() {
    for (args, quoted) in [
        (&["--ephemeral-ports", "--error-rate", "1.5"][..], "1.5"),
        (&["--ephemeral-ports", "--latency-scale", "-1"], "-1"),
        (&["--ephemeral-ports", "--slow", "ATLAS"], "ATLAS"),
        (&["--ephemeral-ports", "--slow", "NOSUCH=5"], "NOSUCH"),
        (&["--ephemeral-ports", "--bind", "nowhere"], "nowhere"),
        (
            &["--ephemeral-ports", "--fleet", "/nonexistent/fleet.toml"],
            "/nonexistent/fleet.toml",
        ),
        (
            &["--port-offset", "1", "--ephemeral-ports"],
            "--ephemeral-ports",
        ),
    ] {
        let (status, stderr) = run_to_exit(args);
        assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(quoted), "{args:?}: {stderr}");
    }
}
