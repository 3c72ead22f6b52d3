//! HTTP/1.1 on one connection: writes a request, reads its response to the end.
//!
//! Responses are framed by `Content-Length`, chunked transfer coding, or the end of the
//! connection; the body is counted in full and kept up to a limit for checks. The codec
//! works over any byte stream (`AsyncRead + AsyncWrite`), so tests can feed it responses
//! cut into arbitrary pieces.

use std::mem::MaybeUninit;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Duration, Instant};

use super::decode::{Encoding, Sink};
use super::error::RequestError;
pub(super) use encode::{encode_request, request_closes};
use fields::{has_token, last_token_is, text};

mod encode;
mod fields;

/// Most header lines accepted in a response.
const MAX_HEADERS: usize = 100;
/// Largest response head accepted (status line and headers).
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Longest chunk-size or trailer line accepted.
const MAX_LINE_BYTES: usize = 4096;
/// Bytes asked of the socket per read.
pub(super) const READ_CHUNK: usize = 8 * 1024;

/// What the response head says about the body and the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Head {
    /// Status code.
    pub status: u16,
    /// How the body is delimited.
    pub framing: Framing,
    /// The connection may carry another request after this response.
    pub keep_alive: bool,
    /// The body's `Content-Encoding`.
    pub encoding: Encoding,
    /// `Location` of a redirect (301, 302, 303, 307, 308); `None` for other statuses.
    pub location: Option<Box<str>>,
    /// `Set-Cookie` values, in order (empty, so unallocated, when there are none).
    pub set_cookies: Vec<Box<str>>,
    /// Every header, in order, when [`Expect::keep_headers`] asked for them (the probe's).
    pub headers: Vec<(Box<str>, Box<str>)>,
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body (HEAD, 204, 304).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

/// A response read to its end.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Response {
    /// Status code.
    pub status: u16,
    /// Body bytes after decoding, all of them.
    pub content_len: u64,
    /// The first [`MAX_KEPT_BODY`](super::request::MAX_KEPT_BODY) decoded body bytes, when asked for.
    pub body: Vec<u8>,
    /// The connection is clean and may be reused.
    pub reusable: bool,
    /// Where a redirect points.
    pub location: Option<Box<str>>,
    /// `Set-Cookie` values.
    pub set_cookies: Vec<Box<str>>,
    /// Why the body could not be decoded (the response was still read to its end).
    pub decode_error: Option<String>,
    /// Every header, in order, when [`Expect::keep_headers`] asked for them.
    pub headers: Vec<(Box<str>, Box<str>)>,
    /// How long its parts took.
    pub timing: Timing,
}

/// The times of one exchange, read from the clock three times: when the request starts
/// being written, after each read of the head (usually one) and after the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Timing {
    /// From the request's first byte written to the read that brought the response's
    /// first byte (sending the request included).
    pub ttfb: Duration,
    /// From the read that completed the head to the last body byte read and decoded.
    pub body: Duration,
    /// When the response was read and decoded.
    pub end: Instant,
}

/// What reading a response needs to know about its request.
#[derive(Debug, Clone, Copy)]
pub(super) struct Expect {
    /// The request was a HEAD: no body follows whatever the head says.
    pub head_request: bool,
    /// Keep the body for checks.
    pub keep_body: bool,
    /// Most decoded bytes accepted from a compressed body.
    pub max_decoded: u64,
    /// Keep every response header (the probe's; the load path keeps only what it needs).
    pub keep_headers: bool,
}

/// Why an exchange failed; `unanswered` when nothing of a response arrived, so a request
/// on a reused connection the server had already closed may be sent again.
#[derive(Debug)]
pub(super) struct Failure {
    /// The error to report.
    pub error: RequestError,
    /// No response byte arrived.
    pub unanswered: bool,
}

impl Failure {
    fn answered(error: RequestError) -> Failure {
        Failure {
            error,
            unanswered: false,
        }
    }

    fn invalid(what: impl std::fmt::Display) -> Failure {
        Failure::answered(RequestError::Transport(format!("invalid response: {what}")))
    }
}

/// Sends `request` on `stream` and reads the whole response.
pub(super) async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    request: &[u8],
    expect: Expect,
) -> Result<Response, Failure> {
    buf.clear();
    let written_at = Instant::now();
    let written = async {
        stream.write_all(request).await?;
        stream.flush().await
    };
    written.await.map_err(|e| Failure {
        error: super::stream::io_error(&e),
        unanswered: true,
    })?;
    let (head, first_at, head_at) = read_head(stream, buf, expect).await?;
    let encoding = match head.framing {
        Framing::Empty => Encoding::Identity,
        _ => head.encoding,
    };
    let mut sink = Sink::new(encoding, expect.keep_body, expect.max_decoded);
    match head.framing {
        Framing::Empty => {}
        Framing::Length(length) => read_exact(stream, buf, length, &mut sink).await?,
        Framing::Chunked => read_chunked(stream, buf, &mut sink).await?,
        Framing::UntilClose => loop {
            sink.push(buf);
            buf.clear();
            if fill(stream, buf).await? == 0 {
                break;
            }
        },
    }
    let (content_len, body, decode_error) = match sink.finish() {
        Ok(decoded) => (decoded.total, decoded.kept, None),
        Err(error) => (0, Vec::new(), Some(error)),
    };
    let end = Instant::now();
    Ok(Response {
        status: head.status,
        content_len,
        body,
        // Bytes beyond the response mean the stream is out of step: do not reuse it.
        reusable: head.keep_alive && head.framing != Framing::UntilClose && buf.is_empty(),
        location: head.location,
        set_cookies: head.set_cookies,
        decode_error,
        headers: head.headers,
        timing: Timing {
            ttfb: first_at.saturating_duration_since(written_at),
            body: end.saturating_duration_since(head_at),
            end,
        },
    })
}

/// Reads more bytes into `buf`; 0 means the server closed the connection.
async fn fill<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut BytesMut) -> Result<usize, Failure> {
    stream
        .read_buf(reserve(buf))
        .await
        .map_err(|e| Failure::answered(super::stream::io_error(&e)))
}

fn closed_early(what: &str) -> Failure {
    Failure::answered(RequestError::Transport(format!(
        "connection closed before the {what} ended"
    )))
}

/// Reads the response head: the head, when its first byte came and when the read that
/// completed it returned (the buffer is empty on entry, so at least one read happens).
async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    expect: Expect,
) -> Result<(Head, Instant, Instant), Failure> {
    let mut reads: Option<(Instant, Instant)> = None;
    loop {
        if !buf.is_empty() {
            match parse_head(buf, expect.head_request)? {
                Some((len, mut head)) => {
                    if expect.keep_headers {
                        head.headers = fields::all_headers(&buf[..len]);
                    }
                    buf.advance(len);
                    // Interim responses (100 Continue, 103 Early Hints) precede the real one.
                    if (100..200).contains(&head.status) && head.status != 101 {
                        continue;
                    }
                    let (first, last) = reads.unwrap_or_else(|| {
                        let now = Instant::now();
                        (now, now)
                    });
                    return Ok((head, first, last));
                }
                None if buf.len() > MAX_HEAD_BYTES => {
                    return Err(Failure::invalid(format_args!(
                        "head larger than {} KiB",
                        MAX_HEAD_BYTES / 1024
                    )));
                }
                None => {}
            }
        }
        let read = match stream.read_buf(reserve(buf)).await {
            Ok(n) => n,
            Err(e) => {
                return Err(Failure {
                    error: super::stream::io_error(&e),
                    unanswered: reads.is_none(),
                });
            }
        };
        if read == 0 {
            return Err(Failure {
                error: RequestError::Transport(if reads.is_some() {
                    "connection closed before the response head ended".to_owned()
                } else {
                    "connection closed before a response".to_owned()
                }),
                unanswered: reads.is_none(),
            });
        }
        let now = Instant::now();
        reads = Some((reads.map_or(now, |(first, _)| first), now));
    }
}

fn reserve(buf: &mut BytesMut) -> &mut BytesMut {
    if buf.capacity() - buf.len() < READ_CHUNK / 4 {
        buf.reserve(READ_CHUNK);
    }
    buf
}

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

async fn read_exact<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    length: u64,
    sink: &mut Sink,
) -> Result<(), Failure> {
    let mut left = length;
    loop {
        let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        sink.push(&buf[..take]);
        buf.advance(take);
        left -= take as u64;
        if left == 0 {
            return Ok(());
        }
        if fill(stream, buf).await? == 0 {
            return Err(closed_early("response body"));
        }
    }
}

/// Reads one line (without its CRLF or LF) from the stream.
async fn read_line<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
) -> Result<BytesMut, Failure> {
    let mut searched = 0;
    loop {
        if let Some(at) = buf[searched..].iter().position(|&b| b == b'\n') {
            let end = searched + at;
            let mut line = buf.split_to(end + 1);
            line.truncate(end);
            if line.last() == Some(&b'\r') {
                line.truncate(end - 1);
            }
            return Ok(line);
        }
        searched = buf.len();
        if searched > MAX_LINE_BYTES {
            return Err(Failure::invalid(format_args!(
                "chunk line longer than {MAX_LINE_BYTES} bytes"
            )));
        }
        if fill(stream, buf).await? == 0 {
            return Err(closed_early("chunked body"));
        }
    }
}

/// The size of a chunk from its size line (hex digits, optional `;extensions`).
pub(super) fn chunk_size(line: &[u8]) -> Result<u64, Failure> {
    let digits = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    std::str::from_utf8(digits)
        .ok()
        .filter(|d| !d.is_empty())
        .and_then(|d| u64::from_str_radix(d, 16).ok())
        .ok_or_else(|| Failure::invalid("bad chunk size"))
}

async fn read_chunked<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    sink: &mut Sink,
) -> Result<(), Failure> {
    loop {
        let size = chunk_size(&read_line(stream, buf).await?)?;
        if size == 0 {
            // Trailers, up to the empty line.
            while !read_line(stream, buf).await?.is_empty() {}
            return Ok(());
        }
        read_exact(stream, buf, size, sink).await?;
        if !read_line(stream, buf).await?.is_empty() {
            return Err(Failure::invalid("chunk data longer than its size"));
        }
    }
}

#[cfg(test)]
mod tests;
