//! The HTTP/1.1 client virtual users share.
//!
//! A request runs on its user's own task: it takes an idle keep-alive connection to the
//! origin from the worker's pool (or opens one), writes the request, reads the response
//! to its end and puts the connection back. There is no connection task and no channel in
//! between, so a request costs one write and, usually, one read. A user holds a connection
//! only while its request is in flight: N busy users keep N connections open, users that
//! wait hold none. Bodies are read to the end (so connections are reused) but only the
//! first [`MAX_KEPT_BODY`] bytes are kept for checks and extraction.
//!
//! On top of one exchange, [`HttpClient::send`] follows redirects ([`redirect`]), keeps
//! the user's cookies ([`cookies`]) and decodes compressed bodies ([`decode`]); each costs
//! a header comparison or a null check when a response does not use it.

mod codec;
pub mod cookies;
mod decode;
mod error;
mod pool;
pub mod redirect;
mod request;
mod stream;
pub mod tls;
mod transcript;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method};
use lv_common::stats::RequestPhases;
use tokio::time::Instant;

pub use self::cookies::CookieJar;
pub use self::decode::MAX_DECODED_BODY;
pub use self::error::{RequestError, error_chain};
pub use self::pool::Session;
use self::pool::{Conn, Permit, Pool, Slot};
use self::redirect::MAX_REDIRECTS;
pub use self::request::{MAX_KEPT_BODY, OutRequest};
use self::stream::{Opened, Origin, Stream};
pub use self::tls::{TargetTls, TargetTlsFiles, TlsFileError};
pub use self::transcript::{Hop, SentRequest, Transcript};

/// A request with no dynamic part, checked and encoded once for every user that sends it
/// ([`HttpClient::fix`]).
#[derive(Debug)]
pub struct FixedRequest {
    request: OutRequest,
    encoded: Encoded,
}

/// What [`HttpClient::send_from`] sends.
#[derive(Debug)]
pub enum Outgoing<'a> {
    /// A request built for this exchange.
    Rendered(OutRequest),
    /// A fixed request: its bytes are sent as they are unless the user has cookies for it.
    Fixed(&'a FixedRequest),
}

/// What a user carries from one request to the next.
#[derive(Debug, Default)]
pub struct UserHttp {
    /// Its own connections (`connection_per_user`); `None` shares the worker's.
    pub session: Option<Session>,
    /// Its cookies; `None` when its class turned cookies off.
    pub cookies: Option<CookieJar>,
}

/// What came back.
#[derive(Debug)]
pub struct InResponse {
    /// Status code.
    pub status: u16,
    /// Body length in bytes, all of it, after decoding (as Locust's `response_length`).
    pub content_len: u64,
    /// The kept part of the decoded body (empty unless asked for).
    pub body: Bytes,
    /// Time from sending to the last body byte of the last response, redirects included.
    pub elapsed: Duration,
    /// Redirects followed.
    pub redirects: u32,
    /// Where `elapsed` went: connect, TLS, time to first byte and body read, each summed
    /// over the redirects followed (connect and TLS only when a connection was opened).
    pub phases: RequestPhases,
}

/// The shared client.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: Arc<Shared>,
    /// Holds new connections back while the server is slow to accept them (the open
    /// model's client: see the pool).
    paced: bool,
}

#[derive(Debug)]
struct Shared {
    pool: Pool,
    tls: Arc<rustls::ClientConfig>,
    connect_timeout: Duration,
    /// Most decoded bytes accepted from a compressed body.
    max_decoded: u64,
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up TLS for HTTPS targets: {0}")]
pub struct ClientError(String);

impl HttpClient {
    /// Builds the client: keep-alive connections per origin, at most `max_connections`
    /// open at once, TCP_NODELAY, HTTPS through rustls with the web's root certificates.
    pub fn new(
        connect_timeout: Duration,
        max_connections: usize,
    ) -> Result<HttpClient, ClientError> {
        HttpClient::with_tls(connect_timeout, max_connections, &TargetTls::default())
    }

    /// Like [`HttpClient::new`], trusting and identifying itself to HTTPS targets as
    /// `tls` says.
    pub fn with_tls(
        connect_timeout: Duration,
        max_connections: usize,
        tls: &TargetTls,
    ) -> Result<HttpClient, ClientError> {
        let config = tls::client_config(tls).map_err(|e| ClientError(e.to_string()))?;
        Ok(HttpClient {
            inner: Arc::new(Shared {
                pool: Pool::new(max_connections),
                tls: Arc::new(config),
                connect_timeout,
                max_decoded: MAX_DECODED_BODY,
            }),
            paced: false,
        })
    }

    /// The same client with another cap on decoded body sizes (tests use a small one).
    #[cfg(test)]
    pub(crate) fn with_max_decoded(mut self, max_decoded: u64) -> HttpClient {
        if let Some(shared) = Arc::get_mut(&mut self.inner) {
            shared.max_decoded = max_decoded;
        }
        self
    }

    /// The same client, its connections shared, that opens no new connection while the
    /// server is slow to accept the ones it opened: an arrival then waits for one to come
    /// back. For the open model, whose arrivals would otherwise open thousands.
    pub fn paced(&self) -> HttpClient {
        HttpClient {
            inner: Arc::clone(&self.inner),
            paced: true,
        }
    }

    /// Most connections open at once.
    pub fn max_connections(&self) -> usize {
        self.inner.pool.limit()
    }

    /// Connections to targets open now, pooled or users' own.
    pub fn open_connections(&self) -> usize {
        self.inner.pool.open()
    }

    /// A message, once, after the first request that waited for a free connection because
    /// [`HttpClient::max_connections`] were open.
    pub fn take_connection_wait_notice(&self) -> Option<String> {
        self.inner.pool.take_wait_notice().then(|| {
            format!(
                "all {} connections this worker may open (its open-file limit) were in use, so users waited for a free one; that wait counts in their response times (raise the worker's open-file limit or add workers)",
                self.inner.pool.limit()
            )
        })
    }

    /// Checks and encodes `req` once, for [`HttpClient::send_from`] to send as it is.
    pub fn fix(&self, req: OutRequest) -> Result<FixedRequest, RequestError> {
        let encoded = Encoded::new(&req, None, self.inner.max_decoded)?;
        Ok(FixedRequest {
            request: req,
            encoded,
        })
    }

    /// Sends a request and reads the whole response, following redirects, bounded by the
    /// request's timeout (for the whole chain), on the user's own connections when it has
    /// a session, else on the shared ones, with its cookies when it keeps them.
    pub async fn send(
        &self,
        req: OutRequest,
        user: &mut UserHttp,
    ) -> Result<InResponse, RequestError> {
        self.send_from(Outgoing::Rendered(req), user, Instant::now())
            .await
    }

    /// [`HttpClient::send`] with the timeout and the response time counted from `started`
    /// (the caller's own reading of the clock, which is not read again).
    pub async fn send_from(
        &self,
        req: Outgoing<'_>,
        user: &mut UserHttp,
        started: Instant,
    ) -> Result<InResponse, RequestError> {
        self.send_noting(req, user, started, None).await
    }

    /// [`HttpClient::send`], noting in `transcript` every request as written (redirects
    /// included) and every response's status and headers: for the probe, so the load path
    /// keeps no header it does not need.
    pub async fn send_traced(
        &self,
        req: OutRequest,
        user: &mut UserHttp,
        transcript: &mut Transcript,
    ) -> Result<InResponse, RequestError> {
        let started = Instant::now();
        self.send_noting(Outgoing::Rendered(req), user, started, Some(transcript))
            .await
    }

    /// [`HttpClient::send_from`], noting the exchanges in `transcript` when there is one.
    async fn send_noting(
        &self,
        req: Outgoing<'_>,
        user: &mut UserHttp,
        started: Instant,
        transcript: Option<&mut Transcript>,
    ) -> Result<InResponse, RequestError> {
        let (req, encoded) = match req {
            Outgoing::Rendered(req) => (Cow::Owned(req), None),
            Outgoing::Fixed(fixed) => (Cow::Borrowed(&fixed.request), Some(&fixed.encoded)),
        };
        let timeout = req.timeout;
        // Cannot overflow: a step's timeout is at most u64::MAX ms, and the clock counts
        // seconds in an i64 (a_timeout_beyond_the_clock_is_no_timeout).
        let deadline = started + timeout;
        let exchange = self.follow(req, encoded, user, started, transcript);
        match tokio::time::timeout_at(deadline, exchange).await {
            Ok(result) => result,
            Err(_) => Err(RequestError::Timeout(timeout)),
        }
    }

    /// Sends `req` (as `encoded` when given and no cookie is to be added) and the requests
    /// its redirects lead to, noting each exchange in `transcript` when there is one.
    async fn follow(
        &self,
        mut req: Cow<'_, OutRequest>,
        mut encoded: Option<&Encoded>,
        user: &mut UserHttp,
        started: Instant,
        mut transcript: Option<&mut Transcript>,
    ) -> Result<InResponse, RequestError> {
        let mut redirects = 0;
        let mut phases = RequestPhases::default();
        loop {
            let built;
            let wire = match (encoded.take(), cookie_for(user, &req)) {
                (Some(fixed), None) => fixed,
                (_, cookie) => {
                    built = Encoded::new(&req, cookie, self.inner.max_decoded)?;
                    &built
                }
            };
            if let Some(transcript) = transcript.as_deref_mut() {
                transcript.sent(&req, &wire.wire);
            }
            let keep_headers = transcript.is_some();
            let (response, opened) = self
                .roundtrip(wire, user.session.as_mut(), keep_headers)
                .await?;
            add_phases(&mut phases, &response.timing, opened);
            if let Some(transcript) = transcript.as_deref_mut() {
                transcript.received(&response);
            }
            store_cookies(user, &req.url, &response.set_cookies);
            if let Some(error) = response.decode_error {
                return Err(RequestError::Decode(error));
            }
            match &response.location {
                Some(location) if req.follow_redirects => {
                    if redirects == MAX_REDIRECTS {
                        return Err(RequestError::TooManyRedirects(MAX_REDIRECTS));
                    }
                    redirects += 1;
                    req = Cow::Owned(redirect::next_request(
                        req.into_owned(),
                        response.status,
                        location,
                    )?);
                }
                _ => {
                    return Ok(InResponse {
                        status: response.status,
                        content_len: response.content_len,
                        body: Bytes::from(response.body),
                        // The clock read at the response's end, not read again.
                        elapsed: response.timing.end.saturating_duration_since(started),
                        redirects,
                        phases,
                    });
                }
            }
        }
    }

    /// A connection opened to `origin` now in the room `permit` holds, and how long
    /// opening it took.
    async fn open(&self, permit: Permit, origin: &Origin) -> Result<(Conn, Opened), RequestError> {
        let shared = &self.inner;
        // Boxed: connecting is rare, and its TLS state would otherwise enlarge every user's
        // future (memory per user).
        let (stream, opened) =
            Box::pin(Stream::connect(origin, &shared.tls, shared.connect_timeout)).await?;
        Ok((Conn::new(stream, permit), opened))
    }

    /// One exchange on a pooled connection, and how long opening it took when it was
    /// opened for this exchange; a reused connection that the server had closed while idle
    /// (nothing came back) is replaced by a new one, once.
    async fn roundtrip(
        &self,
        request: &Encoded,
        mut session: Option<&mut Session>,
        keep_headers: bool,
    ) -> Result<(codec::Response, Option<Opened>), RequestError> {
        let shared = &self.inner;
        let origin = &request.origin;
        let expect = codec::Expect {
            keep_headers,
            ..request.expect
        };
        let mut fresh = false;
        loop {
            let own = match session.as_deref_mut() {
                Some(session) if !fresh => session.take(origin),
                _ => None,
            };
            let slot = match own {
                Some(conn) => Slot::Idle(conn),
                // A user with connections of its own opens one; the others share.
                None => {
                    shared
                        .pool
                        .checkout(origin, fresh || session.is_some(), self.paced)
                        .await
                }
            };
            let (mut conn, opened) = match slot {
                Slot::Idle(conn) => (conn, None),
                Slot::Open(permit) => {
                    let (conn, opened) = self.open(permit, origin).await?;
                    (conn, Some(opened))
                }
            };
            let reused = opened.is_none();
            match codec::exchange(&mut conn.stream, &mut conn.buf, &request.wire, expect).await {
                Ok(response) => {
                    shared
                        .pool
                        .answered(&mut conn, response.timing.ttfb, self.paced);
                    if response.reusable && !request.closes {
                        match session {
                            Some(session) => session.keep(origin, conn),
                            None => shared.pool.put_back(origin, conn),
                        }
                    }
                    return Ok((response, opened));
                }
                // The server closed it while it was idle (just now: closes seen earlier are
                // weeded out in the pool): send again on a new connection, if sending twice
                // cannot do harm. A POST may have reached a server that died before answering.
                Err(failure) if failure.unanswered && reused && request.idempotent => fresh = true,
                Err(failure) => return Err(failure.error),
            }
        }
    }
}

/// A request encoded for the wire, and what sending it and reading its answer need to know.
#[derive(Debug)]
struct Encoded {
    origin: Origin,
    wire: Vec<u8>,
    expect: codec::Expect,
    /// The request asks the server to close the connection after answering.
    closes: bool,
    /// Sending it twice does no more than sending it once.
    idempotent: bool,
}

impl Encoded {
    /// Encodes `req`, adding a `Cookie` header from the jar when there is one.
    fn new(
        req: &OutRequest,
        cookie: Option<HeaderValue>,
        max_decoded: u64,
    ) -> Result<Encoded, RequestError> {
        let (origin, host, path) = stream::split_url(&req.url)?;
        let mut wire = Vec::with_capacity(128 + path.len() + req.body.len());
        let extra = cookie.map(|value| (http::header::COOKIE, value));
        codec::encode_request(
            &mut wire,
            &req.method,
            &path,
            &host,
            &req.headers,
            extra.as_ref(),
            &req.body,
        );
        Ok(Encoded {
            origin,
            wire,
            expect: codec::Expect {
                head_request: req.method == Method::HEAD,
                keep_body: req.keep_body,
                max_decoded,
                keep_headers: false,
            },
            closes: codec::request_closes(&req.headers),
            idempotent: matches!(
                req.method,
                Method::GET
                    | Method::HEAD
                    | Method::PUT
                    | Method::DELETE
                    | Method::OPTIONS
                    | Method::TRACE
            ),
        })
    }
}

/// Keeps the cookies a response set, when the user keeps cookies.
fn store_cookies(user: &mut UserHttp, url: &str, set_cookies: &[Box<str>]) {
    if let Some(jar) = &mut user.cookies
        && !set_cookies.is_empty()
    {
        jar.store(url, set_cookies);
    }
}

/// Adds one exchange's phases to a request's: its time to first byte and body read, and
/// the connect and TLS times of the connection it opened, if it opened one.
fn add_phases(phases: &mut RequestPhases, timing: &codec::Timing, opened: Option<Opened>) {
    let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    let add = |sum: Option<u64>, d: Duration| Some(sum.unwrap_or(0).saturating_add(micros(d)));
    if let Some(opened) = opened {
        phases.connect_us = add(phases.connect_us, opened.connect);
        if let Some(tls) = opened.tls {
            phases.tls_us = add(phases.tls_us, tls);
        }
    }
    phases.ttfb_us = phases.ttfb_us.saturating_add(micros(timing.ttfb));
    phases.body_us = phases.body_us.saturating_add(micros(timing.body));
}

/// The `Cookie` header the user's jar has for `req`, unless its class keeps no cookies or
/// the step gives its own.
fn cookie_for(user: &UserHttp, req: &OutRequest) -> Option<HeaderValue> {
    match &user.cookies {
        Some(jar) if !req.headers.iter().any(|(n, _)| n == http::header::COOKIE) => {
            jar.header_for(&req.url)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
