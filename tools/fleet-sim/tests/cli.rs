//! Tests of the `lv-fleet-sim` binary: ready line, written map, ready file, SIGTERM, usage
//! errors, `--describe`.

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

/// The binary prints its ready line after writing the map and the ready file, serves the
/// map, and exits 0 on SIGTERM.
#[test]
fn serves_written_map_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let map_path = dir.path().join("bound.toml");
    let ready_path = dir.path().join("sim.json");
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
        .arg("--ready-file")
        .arg(&ready_path)
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

    // The ready file: the same ports as the map, the admin address, this process.
    let text = std::fs::read_to_string(&ready_path).expect("ready file");
    assert_eq!(text.lines().count(), 1, "{text}");
    let ready: serde_json::Value = serde_json::from_str(&text).expect("ready file is JSON");
    assert_eq!(ready["bind"], "127.0.0.1", "{text}");
    assert_eq!(ready["pid"], child.id(), "{text}");
    let admin = ready["admin"].as_str().expect("admin address");
    let admin_port: u16 = admin
        .strip_prefix("127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .expect("127.0.0.1:PORT");
    assert!(http_get(admin_port, "/counts").starts_with("HTTP/1.1 200"));
    let agents: Vec<(String, Option<u16>)> = ready["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .map(|a| {
            let name = a["name"].as_str().expect("name").to_owned();
            (name, a["port"].as_u64().and_then(|p| u16::try_from(p).ok()))
        })
        .collect();
    let mapped: Vec<(String, Option<u16>)> = map
        .agents
        .iter()
        .map(|a| (a.name.clone(), a.port))
        .collect();
    assert_eq!(agents, mapped);

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
        (&["--ephemeral-ports", "--capacity", "ATLAS=0"], "ATLAS=0"),
        (&["--ephemeral-ports", "--capacity", "NOSUCH=4"], "NOSUCH"),
        (
            &["--ephemeral-ports", "--fail-endpoint", "NOSUCH GET /health"],
            "NOSUCH",
        ),
        (
            &["--ephemeral-ports", "--fail-endpoint", "ATLAS /v1/chat"],
            "ATLAS /v1/chat",
        ),
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

/// `--describe FILE`: one line about a fleet map, exit 0; a map that does not load, exit 2;
/// with any other flag, a usage error.
#[test]
fn describe_prints_one_line_about_a_fleet_map() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs/fleet.toml");
    let output = Command::new(BIN)
        .args(["--describe", shipped])
        .output()
        .expect("run lv-fleet-sim --describe");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "20 agents (ATLAS :8007, EVENT-BUS :8099, MUSE :8030, ...)\n"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let small = dir.path().join("small.toml");
    std::fs::write(
        &small,
        "[[agent]]\nname = \"ONE\"\nport = 9001\ncategory = \"core\"\n\n\
         [[agent]]\nname = \"TWO\"\nurl = \"http://two.example:80\"\ncategory = \"core\"\n",
    )
    .expect("write map");
    let output = Command::new(BIN)
        .arg("--describe")
        .arg(&small)
        .output()
        .expect("run lv-fleet-sim --describe");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "2 agents (ONE :9001, TWO http://two.example:80)\n"
    );

    let (status, stderr) = run_to_exit(&["--describe", "/nonexistent/fleet.toml"]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("/nonexistent/fleet.toml"), "{stderr}");
    let (status, stderr) = run_to_exit(&["--describe", shipped, "--ephemeral-ports"]);
    assert_eq!(status.code(), Some(2), "{stderr}");
}
