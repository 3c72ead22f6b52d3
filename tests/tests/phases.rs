//! Timing phases per request, end to end: `lv-master` and `lv-worker` processes against a
//! hand-written HTTP/1.1 server on 127.0.0.1 that waits 50 ms before its response head and
//! 100 ms more before the body. The JSON report splits the response time into time to
//! first byte (≈ 50 ms) and body read (≈ 100 ms), counts one connect per connection the
//! server accepted (keep-alive: fewer than the requests), and has a TLS handshake only
//! against the HTTPS server.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lv_tests::harness::{master_args, spawn_master_process, spawn_worker_process, write_test_pki};
use lv_tests::write_file;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Wait before the response head.
const HEAD_DELAY: Duration = Duration::from_millis(50);
/// Wait between the head and the body.
const BODY_DELAY: Duration = Duration::from_millis(100);
/// Users, and iterations each (one request per iteration).
const USERS: u64 = 2;
const ITERATIONS: u64 = 5;

/// What the server saw: connections accepted (for HTTPS: handshakes done) and requests.
#[derive(Default)]
struct Seen {
    connections: AtomicU64,
    requests: AtomicU64,
}

/// Answers every request on `stream` after [`HEAD_DELAY`] with its head, then after
/// [`BODY_DELAY`] with a 5-byte body, keeping the connection open.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, seen: Arc<Seen>) {
    let mut pending = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            pending.drain(..end + 4);
            seen.requests.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(HEAD_DELAY).await;
            let head = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\n";
            if stream.write_all(head).await.is_err() || stream.flush().await.is_err() {
                return;
            }
            tokio::time::sleep(BODY_DELAY).await;
            if stream.write_all(b"hello").await.is_err() || stream.flush().await.is_err() {
                return;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Starts the slow server on 127.0.0.1:0, over TLS with `tls`; its port and what it saw.
async fn spawn_slow_server(
    tls: Option<tokio_rustls::TlsAcceptor>,
    stop: CancellationToken,
) -> (u16, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let seen = Arc::new(Seen::default());
    let counted = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let socket = tokio::select! {
                () = stop.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok((socket, _)) => socket,
                    Err(_) => return,
                },
            };
            let _ = socket.set_nodelay(true);
            let (seen, tls) = (Arc::clone(&counted), tls.clone());
            tokio::spawn(async move {
                match tls {
                    None => {
                        seen.connections.fetch_add(1, Ordering::SeqCst);
                        serve(socket, seen).await;
                    }
                    Some(acceptor) => {
                        let Ok(stream) = acceptor.accept(socket).await else {
                            return;
                        };
                        seen.connections.fetch_add(1, Ordering::SeqCst);
                        serve(stream, seen).await;
                    }
                }
            });
        }
    });
    (port, seen)
}

/// A TLS acceptor with the test PKI's server certificate (for localhost and 127.0.0.1).
fn acceptor(cert: &Path, key: &Path) -> tokio_rustls::TlsAcceptor {
    let cert = CertificateDer::from_pem_slice(&std::fs::read(cert).expect("cert")).expect("PEM");
    let key = PrivateKeyDer::from_pem_slice(&std::fs::read(key).expect("key")).expect("PEM");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Runs [`USERS`] users of [`ITERATIONS`] requests each to `url` through an `lv-master`
/// and an `lv-worker` process (`worker_args` added), writing every report into `dir`
/// (`run_*.csv`, `report.html`), and returns the JSON report.
async fn run(dir: &Path, url: &str, worker_args: &[&str]) -> serde_json::Value {
    let scenario = write_file(
        dir,
        "slow.toml",
        &format!(
            "[[user]]\nname = \"Slow\"\nwait = {{ constant = 0.02 }}\n\
             [[user.task]]\n[[user.task.step]]\nurl = \"{url}\"\npath = \"/slow\"\nname = \"slow\"\n"
        ),
    );
    let json = dir.join("summary.json");
    let (csv, html) = (dir.join("run"), dir.join("report.html"));
    let (users, iterations) = (USERS.to_string(), ITERATIONS.to_string());
    let words = [
        "-u",
        &users,
        "-r",
        "100",
        "-i",
        &iterations,
        "-t",
        "1m",
        "--expect-workers",
        "1",
        "--expect-workers-max-wait",
        "30s",
        "--json",
        json.to_str().expect("UTF-8 path"),
        "--csv",
        csv.to_str().expect("UTF-8 path"),
        "--html",
        html.to_str().expect("UTF-8 path"),
    ];
    let (mut master, addr) = spawn_master_process(&master_args(&scenario, 0, &words)).await;
    let mut worker = spawn_worker_process(&addr.to_string(), worker_args, "worker");
    let code = master.exit_code(Duration::from_secs(60)).await;
    assert_eq!(code, Some(0), "master stderr:\n{}", master.stderr.text());
    assert_eq!(worker.exit_code(Duration::from_secs(15)).await, Some(0));
    let bytes = std::fs::read(&json).expect("the JSON report was written");
    serde_json::from_slice(&bytes).expect("the report is JSON")
}

/// The `phases` of the endpoint named `slow`.
fn slow_phases(report: &serde_json::Value) -> serde_json::Value {
    let endpoints = report["endpoints"].as_array().expect("endpoints");
    let slow = endpoints
        .iter()
        .find(|e| e["name"] == "slow")
        .unwrap_or_else(|| panic!("no slow endpoint in {endpoints:?}"));
    assert_eq!(slow["requests"], USERS * ITERATIONS, "{slow}");
    slow["phases"].clone()
}

fn ms(phases: &serde_json::Value, phase: &str, field: &str) -> f64 {
    phases[phase][field]
        .as_f64()
        .unwrap_or_else(|| panic!("{phase}.{field} in {phases}"))
}

/// Against plain HTTP: time to first byte ≈ 50 ms, body read ≈ 100 ms; one connect sample
/// per connection the server accepted, fewer than the requests, small but recorded; no
/// TLS phase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_splits_first_byte_from_body_and_counts_new_connections() {
    let stop = CancellationToken::new();
    let (port, seen) = spawn_slow_server(None, stop.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run(dir.path(), &format!("http://127.0.0.1:{port}"), &[]).await;
    let phases = slow_phases(&report);
    let requests = USERS * ITERATIONS;
    assert_eq!(seen.requests.load(Ordering::SeqCst), requests);

    let ttfb = ms(&phases, "ttfb", "p50_ms");
    assert!((45.0..90.0).contains(&ttfb), "ttfb p50 {ttfb} ms: {phases}");
    let body = ms(&phases, "body", "p50_ms");
    assert!(
        (95.0..150.0).contains(&body),
        "body p50 {body} ms: {phases}"
    );
    assert_eq!(phases["ttfb"]["count"], requests);
    assert_eq!(phases["body"]["count"], requests);

    let connections = seen.connections.load(Ordering::SeqCst);
    assert_eq!(
        phases["connect"]["count"], connections,
        "one connect per connection the server accepted: {phases}"
    );
    assert!(
        (1..requests).contains(&connections),
        "{connections} connections for {requests} requests: keep-alive reused them"
    );
    let connect = ms(&phases, "connect", "p50_ms");
    assert!(connect > 0.0 && connect < 45.0, "connect p50 {connect} ms");
    assert!(
        phases.get("tls").is_none(),
        "no TLS on plain HTTP: {phases}"
    );

    // The phases add up to about the response time: connect (on few requests) + TTFB + body.
    let endpoint_avg = report["endpoints"][0]["avg_ms"].as_f64().expect("avg");
    let parts = ms(&phases, "ttfb", "avg_ms") + ms(&phases, "body", "avg_ms");
    assert!(
        parts <= endpoint_avg + 0.01 && endpoint_avg - parts < 10.0,
        "ttfb + body {parts} ms against a response time of {endpoint_avg} ms"
    );
    let total = &report["total"]["phases"];
    assert_eq!(
        total["ttfb"]["count"], requests,
        "the Aggregated row has them too"
    );

    // The CSV and the HTML report have them too.
    let csv = std::fs::read_to_string(dir.path().join("run_phases.csv")).expect("_phases.csv");
    assert!(csv.contains(&format!("GET,slow,ttfb,{requests},")), "{csv}");
    assert!(!csv.contains(",tls,"), "{csv}");
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("HTML report");
    assert!(
        html.contains("<title>time to first byte: "),
        "a stacked bar per endpoint"
    );
    stop.cancel();
}

/// Against HTTPS (the worker trusting the test CA): each new connection's TLS handshake is
/// measured, as many as connects, and the first byte still comes about 50 ms after the
/// request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_measures_the_tls_handshake_of_each_new_connection() {
    let stop = CancellationToken::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = write_test_pki(dir.path());
    let (port, seen) = spawn_slow_server(Some(acceptor(&pki.cert, &pki.key)), stop.clone()).await;
    let ca = pki.ca.to_str().expect("UTF-8 path");
    let url = format!("https://127.0.0.1:{port}");
    let report = run(dir.path(), &url, &["--target-ca", ca]).await;
    let phases = slow_phases(&report);
    let handshakes = seen.connections.load(Ordering::SeqCst);
    assert!(handshakes > 0);
    assert_eq!(phases["tls"]["count"], handshakes, "{phases}");
    assert_eq!(phases["connect"]["count"], handshakes, "{phases}");
    let tls = ms(&phases, "tls", "p50_ms");
    assert!(tls > 0.0, "a handshake takes time: {phases}");
    let ttfb = ms(&phases, "ttfb", "p50_ms");
    assert!((45.0..90.0).contains(&ttfb), "ttfb p50 {ttfb} ms: {phases}");
    stop.cancel();
}
