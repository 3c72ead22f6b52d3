//! The HTTP client virtual users share: hyper's pooled client over plain TCP or rustls.
//!
//! One client per worker keeps a connection pool per target host; a user holding a
//! request holds one connection, so N busy users keep N connections open, as in Locust.
//! Responses are read to the end (so connections are reused) but only the first
//! [`MAX_KEPT_BODY`] bytes are kept for checks and extraction.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Response bytes kept for checks and extraction; the rest is counted and dropped.
pub const MAX_KEPT_BODY: usize = 1 << 20;

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// A request ready to send.
#[derive(Debug)]
pub struct OutRequest {
    /// Method.
    pub method: Method,
    /// Full URL.
    pub url: String,
    /// Headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Body bytes (empty for none).
    pub body: Bytes,
    /// Give up after this long (connect, send and read the whole body).
    pub timeout: Duration,
    /// Keep the body (up to [`MAX_KEPT_BODY`]) for checks.
    pub keep_body: bool,
}

/// What came back.
#[derive(Debug)]
pub struct InResponse {
    /// Status code.
    pub status: u16,
    /// Body length in bytes, all of it.
    pub content_len: u64,
    /// The kept part of the body (empty unless asked for).
    pub body: Bytes,
    /// Time from sending to the last body byte.
    pub elapsed: Duration,
}

/// Why a request got no complete response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The request could not be built (bad URL or header after rendering).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// No response within the timeout.
    #[error("timeout after {0:?}")]
    Timeout(Duration),
    /// The target refused the connection.
    #[error("connection refused")]
    Refused,
    /// Any other transport error.
    #[error("{0}")]
    Transport(String),
}

/// The shared client.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: Client<Connector, Full<Bytes>>,
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up TLS for HTTPS targets: {0}")]
pub struct ClientError(String);

impl HttpClient {
    /// Builds the client: keep-alive pools per host, TCP_NODELAY, HTTPS through rustls.
    pub fn new(connect_timeout: Duration) -> Result<HttpClient, ClientError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .map_err(|e| ClientError(e.to_string()))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let inner = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ok(HttpClient { inner })
    }

    /// Sends a request and reads the whole response, bounded by the request's timeout.
    pub async fn send(&self, req: OutRequest) -> Result<InResponse, RequestError> {
        let timeout = req.timeout;
        let keep = req.keep_body;
        let request = build(req)?;
        let started = Instant::now();
        let exchange = async {
            let response = self.inner.request(request).await.map_err(classify)?;
            let status = response.status().as_u16();
            let (content_len, body) = read_body(response.into_body(), keep).await?;
            Ok(InResponse {
                status,
                content_len,
                body,
                elapsed: started.elapsed(),
            })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(RequestError::Timeout(timeout)),
        }
    }
}

fn build(req: OutRequest) -> Result<Request<Full<Bytes>>, RequestError> {
    let mut builder = Request::builder().method(req.method).uri(&req.url);
    for (name, value) in req.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(Full::new(req.body))
        .map_err(|e| RequestError::Invalid(format!("{}: {e}", req.url)))
}

async fn read_body(
    mut body: hyper::body::Incoming,
    keep: bool,
) -> Result<(u64, Bytes), RequestError> {
    let mut total = 0u64;
    let mut kept: Vec<u8> = Vec::new();
    let mut first: Option<Bytes> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| RequestError::Transport(error_chain(&e)))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.len() as u64;
        if !keep {
            continue;
        }
        // The common case is a body in one frame: keep it without copying.
        match (&first, kept.is_empty()) {
            (None, true) => first = Some(data),
            _ => {
                if let Some(f) = first.take() {
                    kept.extend_from_slice(&f);
                }
                let room = MAX_KEPT_BODY.saturating_sub(kept.len());
                kept.extend_from_slice(&data[..data.len().min(room)]);
            }
        }
    }
    let body = match first {
        Some(f) if f.len() <= MAX_KEPT_BODY => f,
        Some(f) => f.slice(..MAX_KEPT_BODY),
        None => Bytes::from(kept),
    };
    Ok((total, body))
}

fn classify(err: hyper_util::client::legacy::Error) -> RequestError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => RequestError::Refused,
                std::io::ErrorKind::TimedOut => RequestError::Transport("connect timeout".into()),
                _ => RequestError::Transport(io.to_string()),
            };
        }
        source = e.source();
    }
    RequestError::Transport(error_chain(&err))
}

/// An error and its causes, joined by `: `.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = e.source();
    }
    text
}
