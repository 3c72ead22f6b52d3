//! The client against scripted loopback servers: framing, reuse, stale connections,
//! refusals, timeouts, the connection budget and TLS.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// What the scripted server does with each request on a connection.
#[derive(Clone, Copy)]
enum Script {
    /// Answers with this raw response (repeatedly, keeping the connection).
    Answer(&'static str),
    /// Answers once, then closes the connection without saying so.
    AnswerThenClose(&'static str),
    /// Answers the first request of a connection; closes on the second without answering.
    AnswerOnceThenDrop(&'static str),
    /// Never answers.
    Silent,
}

struct Server {
    addr: std::net::SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

async fn server(script: Script) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (c, r) = (Arc::clone(&connections), Arc::clone(&requests));
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve_one(socket, script, Arc::clone(&r)));
        }
    });
    Server {
        addr,
        connections,
        requests,
    }
}

async fn serve_one(mut socket: TcpStream, script: Script, requests: Arc<AtomicUsize>) {
    let mut pending = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut answered = false;
    loop {
        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            pending.drain(..end + 4);
            requests.fetch_add(1, Ordering::SeqCst);
            match script {
                Script::Answer(raw) => {
                    if socket.write_all(raw.as_bytes()).await.is_err() {
                        return;
                    }
                }
                Script::AnswerThenClose(raw) => {
                    let _ = socket.write_all(raw.as_bytes()).await;
                    return;
                }
                Script::AnswerOnceThenDrop(raw) => {
                    if answered || socket.write_all(raw.as_bytes()).await.is_err() {
                        return;
                    }
                    answered = true;
                }
                Script::Silent => {}
            }
        }
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
        }
    }
}

fn client(max_connections: usize) -> HttpClient {
    HttpClient::new(Duration::from_secs(2), max_connections).expect("client")
}

fn get(url: String, keep_body: bool) -> OutRequest {
    OutRequest {
        method: Method::GET,
        url,
        headers: Vec::new(),
        body: Bytes::new(),
        timeout: Duration::from_secs(5),
        keep_body,
        follow_redirects: true,
    }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// Sends a GET and returns the response; panics with `what` and the error on failure.
async fn fetch(client: &HttpClient, url: String, keep_body: bool, what: &str) -> InResponse {
    client
        .send(get(url, keep_body), &mut UserHttp::default())
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}";

#[tokio::test]
async fn keep_alive_connections_are_reused() {
    let srv = server(Script::Answer(OK)).await;
    let client = client(100);
    for _ in 0..5 {
        let response = fetch(&client, srv.url("/health"), true, "response").await;
        assert_eq!(response.status, 200);
        assert_eq!(response.content_len, 15);
        assert_eq!(&response.body[..], b"{\"status\":\"ok\"}");
    }
    assert_eq!(srv.requests.load(Ordering::SeqCst), 5);
    assert_eq!(
        srv.connections.load(Ordering::SeqCst),
        1,
        "one connection for 5 requests"
    );
}

/// The open-connection count follows the pool: one kept idle after a response, one per
/// user session beside it, none once a response closes its connection.
#[tokio::test]
async fn open_connections_are_counted_until_closed() {
    let keep = server(Script::Answer(OK)).await;
    let close = server(Script::AnswerThenClose(
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
    ))
    .await;
    let client = client(100);
    assert_eq!(client.open_connections(), 0);
    fetch(&client, keep.url("/"), false, "pooled").await;
    assert_eq!(client.open_connections(), 1, "kept idle in the pool");
    let mut own = UserHttp {
        session: Some(Session::default()),
        cookies: None,
    };
    client
        .send(get(keep.url("/"), false), &mut own)
        .await
        .expect("a user's own connection");
    assert_eq!(
        client.open_connections(),
        2,
        "and one in the user's session"
    );
    drop(own);
    assert_eq!(client.open_connections(), 1, "the session's closed with it");
    fetch(&client, close.url("/"), false, "closing").await;
    assert_eq!(client.open_connections(), 1, "a closed one is not counted");
}

#[tokio::test]
async fn chunked_bodies_are_decoded_and_the_connection_reused() {
    let srv = server(Script::Answer(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n",
    ))
    .await;
    let client = client(100);
    for _ in 0..2 {
        let response = fetch(&client, srv.url("/"), true, "response").await;
        assert_eq!(&response.body[..], b"Wikipedia in \r\n\r\nchunks.");
        assert_eq!(response.content_len, 24);
    }
    assert_eq!(srv.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_body_until_close_ends_the_connection() {
    let srv = server(Script::AnswerThenClose("HTTP/1.1 200 OK\r\n\r\nall of it")).await;
    let client = client(100);
    for _ in 0..2 {
        let response = fetch(&client, srv.url("/"), true, "response").await;
        assert_eq!(&response.body[..], b"all of it");
    }
    assert_eq!(
        srv.connections.load(Ordering::SeqCst),
        2,
        "no reuse after close"
    );
}

#[tokio::test]
async fn a_connection_closed_while_idle_is_replaced_without_an_error() {
    let srv = server(Script::AnswerThenClose(OK)).await;
    let client = client(100);
    for _ in 0..3 {
        let response = fetch(
            &client,
            srv.url("/"),
            false,
            "the stale connection is retried on a new one",
        )
        .await;
        assert_eq!(response.status, 200);
        // Let the server's close arrive before the next request reuses the connection.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        srv.requests.load(Ordering::SeqCst),
        3,
        "each request answered once"
    );
    assert_eq!(srv.connections.load(Ordering::SeqCst), 3);
}

/// A request that gets no answer on a reused connection is sent again on a new one only
/// when sending it twice cannot do harm: a GET, not a POST.
#[tokio::test]
async fn only_idempotent_requests_are_sent_again_after_no_answer() {
    let srv = server(Script::AnswerOnceThenDrop(OK)).await;
    let client = client(100);
    let url = format!("http://{}/", srv.addr);
    client
        .send(get(url.clone(), false), &mut UserHttp::default())
        .await
        .expect("first GET");
    client
        .send(get(url.clone(), false), &mut UserHttp::default())
        .await
        .expect("the second GET is sent again on a new connection");
    assert_eq!(srv.requests.load(Ordering::SeqCst), 3);
    assert_eq!(srv.connections.load(Ordering::SeqCst), 2);

    let srv = server(Script::AnswerOnceThenDrop(OK)).await;
    let url = format!("http://{}/", srv.addr);
    let post = || OutRequest {
        method: Method::POST,
        ..get(url.clone(), false)
    };
    client
        .send(post(), &mut UserHttp::default())
        .await
        .expect("first POST");
    let err = client
        .send(post(), &mut UserHttp::default())
        .await
        .expect_err("the second POST is not repeated");
    assert_eq!(err.to_string(), "connection closed before a response");
    assert_eq!(
        srv.requests.load(Ordering::SeqCst),
        2,
        "the target saw each POST once"
    );
}

#[tokio::test]
async fn refused_and_silent_targets() {
    let free = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = free.local_addr().expect("addr");
    drop(free);
    let client = client(100);
    let refused = client
        .send(
            get(format!("http://{addr}/"), false),
            &mut UserHttp::default(),
        )
        .await;
    assert_eq!(refused.err(), Some(RequestError::Refused));

    let srv = server(Script::Silent).await;
    let mut request = get(format!("http://{}/", srv.addr), false);
    request.timeout = Duration::from_millis(200);
    let started = Instant::now();
    let timed_out = client.send(request, &mut UserHttp::default()).await;
    assert_eq!(
        timed_out.err(),
        Some(RequestError::Timeout(Duration::from_millis(200)))
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// The longest timeout a step can have (u64::MAX ms) still leaves a deadline on the clock:
/// the request is sent and answered, and nothing overflows.
#[tokio::test]
async fn a_timeout_beyond_the_clock_is_no_timeout() {
    let srv = server(Script::Answer(OK)).await;
    let mut request = get(format!("http://{}/", srv.addr), false);
    request.timeout = Duration::from_millis(u64::MAX);
    let answer = client(10).send(request, &mut UserHttp::default()).await;
    assert_eq!(answer.expect("answered").status, 200);
}

#[tokio::test]
async fn bad_urls_and_bad_responses_are_named() {
    let client = client(100);
    for url in ["ftp://127.0.0.1/x", "/relative", "http:///nohost"] {
        match client
            .send(get(url.to_owned(), false), &mut UserHttp::default())
            .await
        {
            Err(RequestError::Invalid(message)) => assert!(message.contains(url), "{message}"),
            other => panic!("{url}: {other:?}"),
        }
    }
    let srv = server(Script::Answer(
        "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
    ))
    .await;
    let err = client
        .send(
            get(format!("http://{}/", srv.addr), false),
            &mut UserHttp::default(),
        )
        .await
        .expect_err("a bad length is refused");
    assert_eq!(
        err.to_string(),
        "invalid response: Content-Length is not a number"
    );
}

#[tokio::test]
async fn large_bodies_are_counted_in_full_and_kept_up_to_the_limit() {
    const SIZE: usize = MAX_KEPT_BODY + 100_000;
    let raw: &'static str = Box::leak(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {SIZE}\r\n\r\n{}",
            "x".repeat(SIZE)
        )
        .into_boxed_str(),
    );
    let srv = server(Script::Answer(raw)).await;
    let client = client(100);
    let response = fetch(&client, srv.url("/"), true, "response").await;
    assert_eq!(response.content_len, SIZE as u64);
    assert_eq!(response.body.len(), MAX_KEPT_BODY);
}

#[tokio::test]
async fn the_budget_bounds_open_connections_across_origins() {
    let a = server(Script::Answer(OK)).await;
    let b = server(Script::Answer(OK)).await;
    let client = client(1);
    for srv in [&a, &b, &a, &b] {
        let response = fetch(
            &client,
            srv.url("/"),
            false,
            "an idle connection to the other origin makes room",
        )
        .await;
        assert_eq!(response.status, 200);
    }
    assert_eq!(a.connections.load(Ordering::SeqCst), 2);
    assert_eq!(b.connections.load(Ordering::SeqCst), 2);
    assert!(
        client.take_connection_wait_notice().is_none(),
        "nobody waited"
    );

    // Two requests at once with room for one connection: the second waits its turn.
    let slow = server(Script::Answer(OK)).await;
    let url = format!("http://{}/", slow.addr);
    let (mut u1, mut u2) = (UserHttp::default(), UserHttp::default());
    let (r1, r2) = tokio::join!(
        client.send(get(url.clone(), false), &mut u1),
        client.send(get(url, false), &mut u2)
    );
    assert!(r1.is_ok() && r2.is_ok());
    assert_eq!(
        slow.connections.load(Ordering::SeqCst),
        1,
        "never two at once"
    );
    let notice = client
        .take_connection_wait_notice()
        .expect("the wait is reported");
    assert!(notice.contains("all 1 connections"), "{notice}");
}

/// Many users waiting for a budget of 2 connections, to two origins: each connection that
/// comes back wakes one of them (with its origin's connection, or to evict it and open one),
/// and every one is served; a lost wake-up would leave some waiting until the timeout.
#[tokio::test]
async fn every_user_waiting_for_the_budget_is_served() {
    let a = server(Script::Answer(OK)).await;
    let b = server(Script::Answer(OK)).await;
    let client = client(2);
    let mut users = tokio::task::JoinSet::new();
    for i in 0..40 {
        let client = client.clone();
        let url = if i % 2 == 0 { a.url("/") } else { b.url("/") };
        users.spawn(async move {
            let mut http = UserHttp::default();
            client
                .send(get(url, false), &mut http)
                .await
                .map(|r| r.status)
        });
    }
    let served = tokio::time::timeout(Duration::from_secs(10), async {
        let mut ok = 0;
        while let Some(status) = users.join_next().await {
            ok += usize::from(matches!(status, Ok(Ok(200))));
        }
        ok
    })
    .await
    .expect("every waiting user is woken in time");
    assert_eq!(served, 40);
    assert!(
        client.take_connection_wait_notice().is_some(),
        "users waited"
    );
    let opened = a.connections.load(Ordering::SeqCst) + b.connections.load(Ordering::SeqCst);
    assert!((2..=40).contains(&opened), "{opened} connections opened");
}

#[tokio::test]
async fn https_works_with_a_trusted_certificate_and_names_an_untrusted_one() {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let cert_der = certified.cert.der().clone();
    let key_der = rustls::pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der())
        .expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key_der)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&handshakes);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let counted = Arc::clone(&counted);
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                let mut pending = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        if tls.write_all(OK.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => pending.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });

    let tls = TargetTls {
        extra_roots: vec![cert_der],
        ..TargetTls::default()
    };
    let trusting = HttpClient::with_tls(Duration::from_secs(2), 10, &tls).expect("client");
    for _ in 0..3 {
        let response = trusting
            .send(
                get(format!("https://localhost:{port}/health"), true),
                &mut UserHttp::default(),
            )
            .await
            .expect("https response");
        assert_eq!(&response.body[..], b"{\"status\":\"ok\"}");
    }
    assert_eq!(
        handshakes.load(Ordering::SeqCst),
        1,
        "one TLS session, reused"
    );

    let err = client(10)
        .send(
            get(format!("https://localhost:{port}/health"), false),
            &mut UserHttp::default(),
        )
        .await
        .expect_err("a self-signed certificate is not trusted by default");
    assert!(err.to_string().starts_with("TLS: unknown issuer"), "{err}");
}

/// With sessions, each user keeps its own connection (two users, two connections, however
/// the requests interleave), and at most `MAX_USER_ORIGINS` origins per user.
#[tokio::test]
async fn sessions_keep_a_connection_per_user_and_origin() {
    let srv = server(Script::Answer(OK)).await;
    let client = client(100);
    let own = || UserHttp {
        session: Some(Session::default()),
        cookies: None,
    };
    let (mut alice, mut bob) = (own(), own());
    for _ in 0..3 {
        for user in [&mut alice, &mut bob] {
            let response = client
                .send(get(srv.url("/"), false), user)
                .await
                .expect("response");
            assert_eq!(response.status, 200);
        }
    }
    assert_eq!(srv.requests.load(Ordering::SeqCst), 6);
    assert_eq!(srv.connections.load(Ordering::SeqCst), 2, "one per user");

    let max = lv_common::plan::MAX_USER_ORIGINS;
    let mut servers = Vec::new();
    for _ in 0..=max {
        servers.push(server(Script::Answer(OK)).await);
    }
    let mut carol = own();
    for srv in servers.iter().chain(servers.iter().take(1)) {
        client
            .send(get(srv.url("/"), false), &mut carol)
            .await
            .expect("response");
    }
    let opened: Vec<usize> = servers
        .iter()
        .map(|s| s.connections.load(Ordering::SeqCst))
        .collect();
    assert_eq!(
        opened[0], 2,
        "the least recently used origin was closed: {opened:?}"
    );
    assert!(opened[1..].iter().all(|&n| n == 1), "{opened:?}");
}

mod routed;
