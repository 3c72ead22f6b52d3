//! One connection's HTTP/1.1 keep-alive exchange: the request it sends, the answer it reads.

use std::time::Duration;

use thiserror::Error;

/// How long every backend waits, after the run's end, for the answers still due.
pub const GRACE: Duration = Duration::from_secs(5);

/// Bytes a connection can hold of one answer (a `GET /health` answer is a few hundred).
pub const BUFFER: usize = 16 * 1024;

/// Why an answer could not be read.
#[derive(Debug, Error)]
pub enum AnswerError {
    /// The bytes were not an HTTP/1.1 response head.
    #[error("not an HTTP response: {0}")]
    Malformed(#[from] httparse::Error),
    /// The answer had no Content-Length, or one that is not a number.
    #[error(
        "the answer has no usable Content-Length (this probe reads only keep-alive answers with one)"
    )]
    NoLength,
    /// The answer did not fit the connection's buffer.
    #[error("the answer is longer than {BUFFER} bytes")]
    TooLong,
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Closed,
}

/// What the bytes read so far make of the answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are needed.
    Partial,
    /// A whole answer of `len` bytes with this status.
    Complete { status: u16, len: usize },
}

/// The request line and headers of a keep-alive GET of `path` on `host`.
pub fn request(host: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: lv-exchange-probe\r\n\r\n")
        .into_bytes()
}

/// Reads `bytes` as the start of one answer: whole once its head and Content-Length body are in.
pub fn progress(bytes: &[u8]) -> Result<Progress, AnswerError> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let head = match response.parse(bytes)? {
        httparse::Status::Partial if bytes.len() >= BUFFER => return Err(AnswerError::TooLong),
        httparse::Status::Partial => return Ok(Progress::Partial),
        httparse::Status::Complete(head) => head,
    };
    let body = response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| {
            std::str::from_utf8(h.value)
                .ok()?
                .trim()
                .parse::<usize>()
                .ok()
        })
        .ok_or(AnswerError::NoLength)?;
    let len = head + body;
    if len > BUFFER {
        return Err(AnswerError::TooLong);
    }
    if bytes.len() < len {
        return Ok(Progress::Partial);
    }
    Ok(Progress::Complete {
        status: response.code.unwrap_or(0),
        len,
    })
}

/// One connection's answer buffer: bytes read and not yet taken as an answer.
pub struct Answer {
    buf: Box<[u8]>,
    filled: usize,
}

impl Default for Answer {
    fn default() -> Self {
        Self {
            buf: vec![0; BUFFER].into_boxed_slice(),
            filled: 0,
        }
    }
}

impl Answer {
    /// The free part of the buffer, where the next read goes.
    pub fn spare(&mut self) -> &mut [u8] {
        &mut self.buf[self.filled..]
    }

    /// Takes `n` more bytes read into `spare()`; a whole answer, once there, is removed.
    pub fn read(&mut self, n: usize) -> Result<Progress, AnswerError> {
        if n == 0 {
            return Err(AnswerError::Closed);
        }
        self.filled += n;
        let progress = progress(&self.buf[..self.filled])?;
        if let Progress::Complete { len, .. } = progress {
            self.buf.copy_within(len..self.filled, 0);
            self.filled -= len;
        }
        Ok(progress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok";

    #[test]
    fn an_answer_is_whole_once_its_body_is_in() {
        assert_eq!(progress(&OK[..10]).ok(), Some(Progress::Partial));
        assert_eq!(progress(&OK[..OK.len() - 1]).ok(), Some(Progress::Partial));
        assert_eq!(
            progress(OK).ok(),
            Some(Progress::Complete {
                status: 200,
                len: OK.len()
            })
        );
    }

    #[test]
    fn an_answer_read_in_pieces_is_taken_once_and_leaves_what_follows() {
        let mut answer = Answer::default();
        let mut feed = |bytes: &[u8]| {
            answer.spare()[..bytes.len()].copy_from_slice(bytes);
            answer.read(bytes.len())
        };
        assert_eq!(feed(&OK[..20]).ok(), Some(Progress::Partial));
        let mut rest = OK[20..].to_vec();
        rest.extend_from_slice(&OK[..5]);
        assert!(matches!(
            feed(&rest),
            Ok(Progress::Complete { status: 200, .. })
        ));
        assert_eq!(answer.filled, 5);
        assert!(matches!(answer.read(0), Err(AnswerError::Closed)));
    }

    #[test]
    fn answers_without_a_length_or_a_head_are_errors() {
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(matches!(progress(chunked), Err(AnswerError::NoLength)));
        assert!(matches!(
            progress(b"SSH-2.0-x\r\n\r\n"),
            Err(AnswerError::Malformed(_))
        ));
        let huge = b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n";
        assert!(matches!(progress(huge), Err(AnswerError::TooLong)));
    }
}
