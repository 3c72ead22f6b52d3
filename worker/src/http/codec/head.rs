//! A response head: its status and what its headers say about the body, the connection,
//! cookies and redirects; and, for the probe, the headers themselves.

use std::mem::MaybeUninit;

use super::{Failure, Framing, Head};
use crate::http::decode::Encoding;

/// Most header lines accepted in a response.
const MAX_HEADERS: usize = 100;

/// Parses a response head at the start of `bytes`: its length and meaning, or `None`
/// when more bytes are needed.
pub(super) fn parse_head(
    bytes: &[u8],
    head_request: bool,
) -> Result<Option<(usize, Head)>, Failure> {
    // Uninitialised: zeroing 100 headers' slots at every response shows in profiles.
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        bytes,
        &mut headers,
    );
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(Failure::invalid(e)),
    };
    let Some(status) = response.code else {
        return Err(Failure::invalid("no status code"));
    };
    let http10 = response.version == Some(0);
    let redirect = matches!(status, 301 | 302 | 303 | 307 | 308);
    let facts = HeaderFacts::read(response.headers, http10, redirect)?;
    // After 101 Switching Protocols the connection speaks something else: never reuse it.
    let keep_alive = facts.keep_alive && status != 101;
    let framing = if head_request || status == 204 || status == 304 || status < 200 {
        Framing::Empty
    } else if facts.chunked {
        Framing::Chunked
    } else if let Some(length) = facts.length {
        Framing::Length(length)
    } else {
        Framing::UntilClose
    };
    Ok(Some((
        len,
        Head {
            status,
            framing,
            keep_alive,
            encoding: facts.encoding,
            location: facts.location,
            set_cookies: facts.set_cookies,
            headers: Vec::new(),
        },
    )))
}

/// What a response's headers say about its body, its connection, cookies and redirect.
struct HeaderFacts {
    keep_alive: bool,
    length: Option<u64>,
    chunked: bool,
    encoding: Encoding,
    location: Option<Box<str>>,
    set_cookies: Vec<Box<str>>,
}

impl HeaderFacts {
    /// Reads the headers of an HTTP/1.0 (`http10`) or 1.1 response; `Location` only
    /// matters for a `redirect`.
    fn read(
        headers: &[httparse::Header<'_>],
        http10: bool,
        redirect: bool,
    ) -> Result<HeaderFacts, Failure> {
        let mut facts = HeaderFacts {
            keep_alive: !http10,
            length: None,
            chunked: false,
            encoding: Encoding::Identity,
            location: None,
            set_cookies: Vec::new(),
        };
        for header in headers {
            let name = header.name;
            if name.eq_ignore_ascii_case("content-length") {
                let value = std::str::from_utf8(header.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .ok_or_else(|| Failure::invalid("Content-Length is not a number"))?;
                if facts.length.is_some_and(|l| l != value) {
                    return Err(Failure::invalid("two different Content-Length headers"));
                }
                facts.length = Some(value);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                facts.chunked = last_token_is(header.value, b"chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                if has_token(header.value, b"close") {
                    facts.keep_alive = false;
                } else if http10 && has_token(header.value, b"keep-alive") {
                    facts.keep_alive = true;
                }
            } else if name.eq_ignore_ascii_case("content-encoding") {
                facts.encoding = Encoding::from_header(header.value);
            } else if name.eq_ignore_ascii_case("set-cookie") {
                facts.set_cookies.push(text(header.value));
            } else if redirect && name.eq_ignore_ascii_case("location") {
                facts.location = Some(text(header.value));
            }
        }
        Ok(facts)
    }
}

/// A header value as text (bytes that are not UTF-8 replaced).
fn text(value: &[u8]) -> Box<str> {
    String::from_utf8_lossy(value.trim_ascii()).into()
}

fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(<[u8]>::trim_ascii)
}

pub(super) fn has_token(value: &[u8], token: &[u8]) -> bool {
    tokens(value).any(|t| t.eq_ignore_ascii_case(token))
}

fn last_token_is(value: &[u8], token: &[u8]) -> bool {
    tokens(value)
        .last()
        .is_some_and(|t| t.eq_ignore_ascii_case(token))
}

/// Every header of the response head at the start of `bytes`, in order, as text (bytes that
/// are not UTF-8 replaced); empty when the head does not parse.
pub(super) fn all_headers(bytes: &[u8]) -> Vec<(Box<str>, Box<str>)> {
    let mut headers = vec![httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(bytes) {
        Ok(httparse::Status::Complete(_)) => response
            .headers
            .iter()
            .map(|h| (Box::from(h.name), text(h.value)))
            .collect(),
        _ => Vec::new(),
    }
}
