//! Hostile input on the web port of a real `lv-master`: values past every bound, huge
//! fields and bodies, and concurrent `/swarm` calls. Each gets a short answer naming the
//! field; the master never crashes or wedges.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, StatusCode};
use lv_tests::harness::{ping_run, spawn_worker_process};

use super::{Answer, exchange, post, spawn_master};

/// POSTs `body` with `content_type` to `url`.
async fn post_as(url: &str, content_type: &str, body: Vec<u8>) -> Answer {
    let request = Request::post(url)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    exchange(request).await
}

/// POSTs a body larger than the server takes, as curl does: it writes what the server
/// reads, then reads the answer even when the server closed its side early (a client that
/// gives up on a failed write, as hyper's does, would see a reset instead of the 413).
async fn post_oversized(url: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_at(rest.find('/').expect("a path"));
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// The answer is a short 400 whose message starts with `field=`.
fn assert_refused(answer: &Answer, field: &str) {
    assert_eq!(
        answer.status,
        StatusCode::BAD_REQUEST,
        "{field}: {}",
        answer.body
    );
    assert!(
        answer.body.len() < 1_000,
        "a short answer: {} bytes",
        answer.body.len()
    );
    let message = answer.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.starts_with(&format!("{field}=")), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_swarm_requests_are_refused_and_the_master_stays_up() {
    let (stop, _target, dir, scenario, _) = ping_run(0.2).await;
    let reports = dir.path().join("reports");
    let mut master = spawn_master(&scenario, &reports, &[]).await;
    let _worker = spawn_worker_process(&master.workers, &[], "worker");
    master
        .wait_status("a worker", |s| {
            s["worker_count"] == 1 && s["state"] == "ready"
        })
        .await;
    let swarm = master.url("/swarm");

    let long_host = format!("host=http://{}", "h".repeat(10_000));
    let huge_class = format!("user_classes={}", "C".repeat(1_000_000));
    for (form, field) in [
        (
            "user_count=1&spawn_rate=1&run_time=18446744073709551615s",
            "run_time",
        ),
        ("user_count=1&spawn_rate=1e308", "spawn_rate"),
        ("user_count=1&spawn_rate=inf", "spawn_rate"),
        ("user_count=4294967295&spawn_rate=1", "user_count"),
        (&long_host[..], "host"),
    ] {
        assert_refused(&post(&swarm, form).await, field);
    }
    // Past the body limit: 413, not 400.
    let huge_host = format!("host=http://{}", "h".repeat(100_000));
    let three_mb = format!("{{\"host\": \"{}\"}}", "x".repeat(3 << 20));
    let (huge_part, multipart_type) = super::multipart(&[("host", &"h".repeat(100_000))]);
    for (content_type, body) in [
        ("application/x-www-form-urlencoded", huge_host.as_bytes()),
        ("application/x-www-form-urlencoded", huge_class.as_bytes()),
        ("application/json", three_mb.as_bytes()),
        (multipart_type.as_str(), huge_part.as_bytes()),
    ] {
        let (status, body) = post_oversized(&swarm, content_type, body).await;
        assert_eq!(status, 413, "{body}");
        assert!(body.contains("65536 bytes"), "{body}");
        assert!(body.len() < 1_000);
    }
    let json = br#"{"user_count": 1, "spawn_rate": 1, "run_time": "18446744073709551615s"}"#;
    assert_refused(
        &post_as(&swarm, "application/json", json.to_vec()).await,
        "run_time",
    );
    // A multipart body that is not one (no such boundary): 400 naming the body.
    let broken = post_as(
        &swarm,
        "multipart/form-data; boundary=nope",
        b"--other\r\n\r\nuser_count=1\r\n".to_vec(),
    )
    .await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST, "{}", broken.body);
    assert!(
        broken.json()["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("body: ")),
        "{}",
        broken.body
    );
    let long_class = format!(
        "user_count=1&spawn_rate=1&user_classes={}",
        "C".repeat(20_000)
    );
    assert_refused(&post(&swarm, &long_class).await, "user_classes");
    assert_eq!(master.status().await["state"], "ready", "nothing started");

    // Ten at once from idle: the coordinator decides start or edit itself, so one starts
    // the run and nine edit it; none is refused for a state it read too early.
    let calls = (0..10).map(|i| {
        let swarm = swarm.clone();
        tokio::spawn(async move {
            post(
                &swarm,
                &format!("user_count={}&spawn_rate=100&run_time=60s", i + 1),
            )
            .await
        })
    });
    let mut edits = 0;
    let mut run_ids = Vec::new();
    for call in calls.collect::<Vec<_>>() {
        let answer = call.await.expect("no panic");
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let body = answer.json();
        edits += usize::from(body["edit"] == true);
        run_ids.push(body["run_id"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(edits, 9, "one start, nine edits");
    run_ids.dedup();
    assert_eq!(run_ids.len(), 1, "one run: {run_ids:?}");

    // An edit with a run time past the bound is refused; the run goes on.
    assert_refused(
        &post(
            &swarm,
            "user_count=2&spawn_rate=1&run_time=18446744073709551615s",
        )
        .await,
        "run_time",
    );
    let status = master.status().await;
    assert!(
        status["state"] == "running" || status["state"] == "spawning",
        "{status}"
    );
    master.stop().await;
    assert!(master.process.running(), "the master is still up");
    stop.cancel();
}
