//! lv-exchange-probe, the benchmark's minimal client (bench/compare.sh's probe-* tools):
//! each backend counts exactly the answers the server gave, and refuses what it must not load.

use std::time::Duration;

use lv_tests::{bin, spawn_target};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

/// Runs the probe with `args`; returns its exit code, its JSON line (if any) and its stderr.
async fn probe(args: &[&str]) -> (Option<i32>, Option<serde_json::Value>, String) {
    let run = Command::new(bin("lv-exchange-probe"))
        .args(args)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the probe ends within 30 s")
        .expect("the probe starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = stdout
        .lines()
        .next()
        .and_then(|l| serde_json::from_str(l).ok());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), json, stderr)
}

fn count(json: &serde_json::Value, key: &str) -> u64 {
    json[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {json}"))
}

#[tokio::test]
async fn every_backend_counts_exactly_the_answers_the_server_gave() {
    let shutdown = CancellationToken::new();
    let target = spawn_target(&["/broken"], shutdown.clone()).await;
    let mut served = 0;
    for (backend, path) in [
        ("epoll", "/health"),
        ("uring", "/health"),
        ("uring-multishot", "/health"),
        ("epoll", "/broken"),
        ("uring", "/broken"),
        ("uring-multishot", "/broken"),
    ] {
        let url = format!("{}{path}", target.url());
        let args = [
            "--url",
            &url,
            "--connections",
            "4",
            "--seconds",
            "0.3",
            "--backend",
            backend,
        ];
        let (code, json, stderr) = probe(&args).await;
        assert_eq!(code, Some(0), "{backend} {path}: {stderr}");
        let json = json.unwrap_or_else(|| panic!("{backend} {path}: no JSON line; {stderr}"));
        let requests = count(&json, "requests");
        assert!(
            requests >= 100,
            "{backend} {path}: only {requests} answers in 0.3 s: {json}"
        );
        assert_eq!(count(&json, "errors"), 0, "{backend} {path}: {json}");
        let not_ok = if path == "/broken" { requests } else { 0 };
        assert_eq!(
            count(&json, "not_ok"),
            not_ok,
            "{backend} {path}: 500s: {json}"
        );
        assert!(
            json["own_us_per_req"].as_f64().is_some_and(|us| us > 0.0),
            "{json}"
        );
        served += requests;
        assert_eq!(
            target.total(),
            served,
            "{backend} {path}: the server's count, {json}"
        );
    }
    shutdown.cancel();
}

#[tokio::test]
async fn the_probe_refuses_other_addresses_and_says_why() {
    let (code, json, stderr) =
        probe(&["--url", "http://192.0.2.1:80/", "--backend", "epoll"]).await;
    assert_eq!(code, Some(2), "bad usage: {stderr}");
    assert!(json.is_none());
    assert!(
        stderr.contains("192.0.2.1 is not a loopback address"),
        "{stderr}"
    );

    let (code, _, stderr) = probe(&["--url", "http://127.0.0.1:1/", "--backend", "uring"]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("error: connection 1 of 50 to 127.0.0.1:1: Connection refused"),
        "the cause follows the context on one line: {stderr}"
    );
    assert!(!stderr.contains("Stack backtrace"), "{stderr}");
}

#[tokio::test]
async fn a_server_that_closes_is_a_counted_error_not_a_hang() {
    // A server that answers one request without Content-Length and closes.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0_u8; 1024];
            let _ = stream.read(&mut buf).await;
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbye")
                .await;
        }
    });
    for backend in ["epoll", "uring", "uring-multishot"] {
        let url = format!("http://{addr}/");
        let args = [
            "--url",
            &url,
            "--connections",
            "2",
            "--seconds",
            "0.2",
            "--backend",
            backend,
        ];
        let (code, json, stderr) = probe(&args).await;
        assert_eq!(
            code,
            Some(1),
            "{backend}: no answer counted, so a failed run: {stderr}"
        );
        let json = json.unwrap_or_else(|| panic!("{backend}: no JSON line; {stderr}"));
        assert_eq!(count(&json, "requests"), 0, "{backend}: {json}");
        assert_eq!(
            count(&json, "errors"),
            2,
            "{backend}: both connections lost: {json}"
        );
        assert!(
            stderr.contains("no usable Content-Length"),
            "{backend}: {stderr}"
        );
    }
    server.abort();
}
