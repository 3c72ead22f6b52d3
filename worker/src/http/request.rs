//! A request ready to send, as a user's step renders it.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};

/// Response bytes kept for checks and extraction; the rest is counted and dropped.
pub const MAX_KEPT_BODY: usize = 1 << 20;

/// A request ready to send.
#[derive(Debug, Clone)]
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
    /// Follow redirects (up to [`MAX_REDIRECTS`](super::redirect::MAX_REDIRECTS)) and answer with the last response.
    pub follow_redirects: bool,
}
