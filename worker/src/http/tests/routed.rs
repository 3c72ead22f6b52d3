//! Redirects, cookies and compression against a loopback server that answers by path and
//! records every request it saw.

use std::io::Write;
use std::sync::{Arc, Mutex};

use super::*;

/// A request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Route = Arc<dyn Fn(&Seen) -> Vec<u8> + Send + Sync>;

struct Router {
    addr: std::net::SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<AtomicUsize>,
}

impl Router {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

async fn router(route: impl Fn(&Seen) -> Vec<u8> + Send + Sync + 'static) -> Router {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let route: Route = Arc::new(route);
    let (log, count) = (Arc::clone(&seen), Arc::clone(&connections));
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve_routed(socket, Arc::clone(&route), Arc::clone(&log)));
        }
    });
    Router {
        addr,
        seen,
        connections,
    }
}

async fn serve_routed(mut socket: TcpStream, route: Route, log: Arc<Mutex<Vec<Seen>>>) {
    let mut pending = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some((used, seen)) = parse_request(&pending) {
            pending.drain(..used);
            let answer = route(&seen);
            log.lock().expect("lock").push(seen);
            if socket.write_all(&answer).await.is_err() {
                return;
            }
        }
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A whole request at the start of `bytes` (head and `Content-Length` body).
fn parse_request(bytes: &[u8]) -> Option<(usize, Seen)> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(head) = request.parse(bytes).ok()? else {
        return None;
    };
    let headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let body = bytes.get(head..head + length)?.to_vec();
    Some((
        head + length,
        Seen {
            method: request.method?.to_owned(),
            path: request.path?.to_owned(),
            headers,
            body,
        },
    ))
}

/// A response with `status`, extra header lines and `body`.
fn reply(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn request(method: Method, url: String) -> OutRequest {
    let post = method == Method::POST;
    OutRequest {
        method,
        url,
        headers: vec![(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("Bearer secret"),
        )],
        body: if post {
            Bytes::from_static(b"{\"a\":1}")
        } else {
            Bytes::new()
        },
        timeout: Duration::from_secs(5),
        keep_body: true,
        follow_redirects: true,
    }
}

/// `/r/{status}/{n}` redirects with `status` to `/r/{status}/{n-1}`; `/r/{status}/0`
/// answers 200; `/loop` redirects to itself.
fn chain(seen: &Seen) -> Vec<u8> {
    let parts: Vec<&str> = seen.path.split('/').collect();
    match parts.as_slice() {
        ["", "r", status, n] => {
            let n: u32 = n.parse().unwrap_or(0);
            if n == 0 {
                return reply(200, &[], b"{\"done\":true}");
            }
            let location = format!("/r/{status}/{}", n - 1);
            reply(
                status.parse().unwrap_or(500),
                &[("location", &location)],
                b"moved",
            )
        }
        ["", "loop"] => reply(302, &[("location", "/loop")], b""),
        _ => reply(404, &[], b""),
    }
}

#[tokio::test]
async fn redirect_chains_of_each_status_follow_the_method_rules() {
    let srv = router(chain).await;
    let client = client(100);
    for (status, method_after) in [
        (301, "GET"),
        (302, "GET"),
        (303, "GET"),
        (307, "POST"),
        (308, "POST"),
    ] {
        srv.seen.lock().expect("lock").clear();
        let req = request(Method::POST, srv.url(&format!("/r/{status}/3")));
        let response = client
            .send(req, &mut UserHttp::default())
            .await
            .unwrap_or_else(|e| panic!("{status}: {e}"));
        assert_eq!((response.status, response.redirects), (200, 3), "{status}");
        assert_eq!(&response.body[..], b"{\"done\":true}");
        let seen = srv.seen();
        let methods: Vec<&str> = seen.iter().map(|s| s.method.as_str()).collect();
        assert_eq!(methods, ["POST", method_after, method_after, method_after]);
        let bodies: Vec<usize> = seen.iter().map(|s| s.body.len()).collect();
        let kept = if method_after == "POST" { 7 } else { 0 };
        assert_eq!(bodies, [7, kept, kept, kept], "{status}");
        assert!(
            seen.iter().all(|s| s.header("authorization").is_some()),
            "same origin keeps Authorization"
        );
    }
    assert_eq!(srv.connections.load(Ordering::SeqCst), 1, "one connection");
}

#[tokio::test]
async fn loops_and_chains_past_ten_hops_fail_as_too_many_redirects() {
    let srv = router(chain).await;
    let client = client(100);
    let ten = client
        .send(
            request(Method::GET, srv.url("/r/302/10")),
            &mut UserHttp::default(),
        )
        .await
        .expect("ten hops are allowed");
    assert_eq!(ten.redirects, 10);
    let eleven = client
        .send(
            request(Method::GET, srv.url("/r/302/11")),
            &mut UserHttp::default(),
        )
        .await
        .expect_err("eleven are too many");
    assert_eq!(eleven.to_string(), "too many redirects (10)");

    srv.seen.lock().expect("lock").clear();
    let err = client
        .send(
            request(Method::GET, srv.url("/loop")),
            &mut UserHttp::default(),
        )
        .await
        .expect_err("a loop");
    assert_eq!(err, RequestError::TooManyRedirects(10));
    assert_eq!(srv.seen().len(), 11, "the request and ten redirects");
}

#[tokio::test]
async fn a_step_that_does_not_follow_gets_the_redirect_itself() {
    let srv = router(chain).await;
    let mut req = request(Method::GET, srv.url("/r/307/2"));
    req.follow_redirects = false;
    let response = client(100)
        .send(req, &mut UserHttp::default())
        .await
        .expect("response");
    assert_eq!((response.status, response.redirects), (307, 0));
    assert_eq!(srv.seen().len(), 1);
}

#[tokio::test]
async fn a_cross_origin_hop_drops_authorization() {
    let there = router(|_| reply(200, &[], b"there")).await;
    let target = there.url("/landing");
    let here = router(move |_| reply(307, &[("location", &target)], b"")).await;
    let response = client(100)
        .send(
            request(Method::POST, here.url("/go")),
            &mut UserHttp::default(),
        )
        .await
        .expect("response");
    assert_eq!((response.status, response.redirects), (200, 1));
    let (first, second) = (&here.seen()[0], &there.seen()[0]);
    assert_eq!(first.header("authorization"), Some("Bearer secret"));
    assert_eq!(second.header("authorization"), None, "{second:?}");
    assert_eq!((second.method.as_str(), second.body.len()), ("POST", 7));
}

/// `/login?u=NAME` sets `sid=NAME` and redirects home; `/logout` expires it; `/api/pref`
/// sets a cookie for `/api` only; everything else echoes the Cookie header it got.
fn site(seen: &Seen) -> Vec<u8> {
    let path = seen.path.as_str();
    if let Some(user) = path.strip_prefix("/login?u=") {
        let cookie = format!("sid={user}; Path=/; HttpOnly");
        return reply(302, &[("set-cookie", &cookie), ("location", "/home")], b"");
    }
    if path == "/logout" {
        return reply(200, &[("set-cookie", "sid=gone; Path=/; Max-Age=0")], b"");
    }
    if path == "/api/pref" {
        return reply(200, &[("set-cookie", "pref=dark; Path=/api")], b"");
    }
    reply(200, &[], seen.header("cookie").unwrap_or("").as_bytes())
}

async fn cookie_sent(client: &HttpClient, user: &mut UserHttp, url: String) -> String {
    let response = client
        .send(request(Method::GET, url), user)
        .await
        .expect("response");
    String::from_utf8(response.body.to_vec()).expect("utf-8")
}

#[tokio::test]
async fn cookies_belong_to_their_user_across_shared_connections() {
    let srv = router(site).await;
    let client = client(100);
    let jar = || UserHttp {
        session: None,
        cookies: Some(CookieJar::default()),
    };
    let (mut alice, mut bob) = (jar(), jar());
    // Logging in sets the cookie on a redirect; the redirect's target already gets it.
    assert_eq!(
        cookie_sent(&client, &mut alice, srv.url("/login?u=alice")).await,
        "sid=alice"
    );
    assert_eq!(cookie_sent(&client, &mut bob, srv.url("/home")).await, "");
    assert_eq!(
        cookie_sent(&client, &mut alice, srv.url("/me")).await,
        "sid=alice"
    );
    assert_eq!(
        cookie_sent(&client, &mut bob, srv.url("/login?u=bob")).await,
        "sid=bob"
    );
    assert_eq!(
        cookie_sent(&client, &mut alice, srv.url("/me")).await,
        "sid=alice"
    );
    assert_eq!(
        srv.connections.load(Ordering::SeqCst),
        1,
        "both users' requests went over one shared connection"
    );
    // Path: `pref` goes to /api only.
    cookie_sent(&client, &mut alice, srv.url("/api/pref")).await;
    let mut api = cookie_sent(&client, &mut alice, srv.url("/api/x"))
        .await
        .split("; ")
        .map(str::to_owned)
        .collect::<Vec<_>>();
    api.sort();
    assert_eq!(api, ["pref=dark", "sid=alice"]);
    assert_eq!(
        cookie_sent(&client, &mut alice, srv.url("/me")).await,
        "sid=alice"
    );
    // Expiry: Max-Age=0 removes the session.
    cookie_sent(&client, &mut bob, srv.url("/logout")).await;
    assert_eq!(cookie_sent(&client, &mut bob, srv.url("/me")).await, "");
    // A user without a jar (`cookies = false`) sends none.
    let mut plain = UserHttp::default();
    assert_eq!(
        cookie_sent(&client, &mut plain, srv.url("/login?u=carol")).await,
        ""
    );
    assert_eq!(cookie_sent(&client, &mut plain, srv.url("/me")).await, "");
}

const JSON: &[u8] = br#"{"status":"healthy","agent":"MUSE","note":"compressed on the wire"}"#;

fn encode(encoding: &str, data: &[u8]) -> Vec<u8> {
    match encoding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).expect("gzip");
            e.finish().expect("gzip")
        }
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).expect("deflate");
            e.finish().expect("deflate")
        }
        "br" => {
            let mut out = Vec::new();
            {
                let mut e = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                e.write_all(data).expect("br");
            }
            out
        }
        _ => data.to_vec(),
    }
}

/// `/gzip`, `/deflate`, `/br` answer [`JSON`] so encoded; `/bomb` 3 MiB of zeros gzipped
/// into a few KiB; `/chunked-gzip` gzip in chunked transfer coding.
fn compressed(seen: &Seen) -> Vec<u8> {
    let path = seen.path.trim_start_matches('/');
    match path {
        "bomb" => reply(
            200,
            &[("content-encoding", "gzip")],
            &encode("gzip", &[0u8; 3 << 20]),
        ),
        "chunked-gzip" => {
            let body = encode("gzip", JSON);
            let (a, b) = body.split_at(body.len() / 2);
            let mut out =
                b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n"
                    .to_vec();
            for part in [a, b] {
                out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                out.extend_from_slice(part);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
            out
        }
        _ => reply(200, &[("content-encoding", path)], &encode(path, JSON)),
    }
}

#[tokio::test]
async fn gzip_deflate_and_br_bodies_are_decoded_and_a_bomb_fails_only_its_request() {
    let srv = router(compressed).await;
    let client = client(100).with_max_decoded(1 << 20);
    let mut user = UserHttp::default();
    for path in [
        "/gzip",
        "/deflate",
        "/br",
        "/chunked-gzip",
        "/bomb",
        "/gzip",
    ] {
        let result = client
            .send(request(Method::GET, srv.url(path)), &mut user)
            .await;
        if path == "/bomb" {
            let err = result.expect_err("the bomb is capped");
            assert_eq!(
                err.to_string(),
                "the gzip body decodes to more than 1 MiB (a decompression bomb?); lv stops decoding there"
            );
            continue;
        }
        let response = result.unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(&response.body[..], JSON, "{path}");
        assert_eq!(
            response.content_len,
            JSON.len() as u64,
            "{path}: decoded size"
        );
    }
    assert_eq!(
        srv.connections.load(Ordering::SeqCst),
        1,
        "the bomb's connection stayed usable"
    );
    let seen = srv.seen();
    assert!(
        seen.iter()
            .all(|s| s.header("accept-encoding") == Some("gzip, deflate, br")),
        "{seen:?}"
    );
    let mut own = request(Method::GET, srv.url("/identity"));
    own.headers.push((
        http::header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    ));
    client.send(own, &mut user).await.expect("identity");
    assert_eq!(
        srv.seen()
            .last()
            .and_then(|s| s.header("accept-encoding").map(str::to_owned)),
        Some("identity".to_owned()),
        "a step's own Accept-Encoding is sent as given"
    );
}
