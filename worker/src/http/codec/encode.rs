//! Requests as bytes: the head lv writes and whether it asks to close the connection.

use http::{HeaderName, HeaderValue, Method};

use super::fields::has_token;

/// Writes the request head (and body) for `method path` to `host` into `out`, with
/// `headers` and then `extra` (lv's own, such as the user's cookies).
///
/// lv sets `Host` (unless given), `User-Agent` (unless given), `Accept-Encoding: gzip,
/// deflate, br` (unless given) and `Content-Length`; a given `Content-Length` or
/// `Transfer-Encoding` is replaced by lv's own framing.
pub(crate) fn encode_request(
    out: &mut Vec<u8>,
    method: &Method,
    path: &str,
    host: &str,
    headers: &[(HeaderName, HeaderValue)],
    extra: Option<&(HeaderName, HeaderValue)>,
    body: &[u8],
) {
    out.clear();
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(if path.is_empty() {
        b"/"
    } else {
        path.as_bytes()
    });
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let given = |name: &HeaderName| headers.iter().any(|(n, _)| n == name);
    if !given(&http::header::HOST) {
        out.extend_from_slice(b"host: ");
        out.extend_from_slice(host.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !given(&http::header::USER_AGENT) {
        out.extend_from_slice(b"user-agent: lv/");
        out.extend_from_slice(lv_common::VERSION.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !given(&http::header::ACCEPT_ENCODING) {
        out.extend_from_slice(b"accept-encoding: gzip, deflate, br\r\n");
    }
    for (name, value) in headers.iter().chain(extra) {
        if name == http::header::CONTENT_LENGTH || name == http::header::TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() || matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// True when the request asks to close the connection after its response.
pub(crate) fn request_closes(headers: &[(HeaderName, HeaderValue)]) -> bool {
    headers
        .iter()
        .filter(|(n, _)| n == http::header::CONNECTION)
        .any(|(_, v)| has_token(v.as_bytes(), b"close"))
}
