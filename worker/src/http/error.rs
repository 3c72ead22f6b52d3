//! Why a request got no complete response, in words for the failure table.

use std::time::Duration;

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
    /// A redirect's `Location` cannot be followed.
    #[error("bad redirect: {0}")]
    BadRedirect(String),
    /// The redirect chain is longer than [`MAX_REDIRECTS`](super::redirect::MAX_REDIRECTS).
    #[error("too many redirects ({0})")]
    TooManyRedirects(u32),
    /// The body could not be decoded (corrupt, or larger than [`MAX_DECODED_BODY`](super::decode::MAX_DECODED_BODY)).
    #[error("{0}")]
    Decode(String),
    /// Any other transport error.
    #[error("{0}")]
    Transport(String),
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
