use super::*;
use http::{HeaderValue, Method};

fn head(bytes: &str) -> Head {
    match parse_head(bytes.as_bytes(), false) {
        Ok(Some((len, head))) => {
            assert_eq!(len, bytes.len(), "the whole head is consumed");
            head
        }
        Ok(None) => panic!("partial head: {bytes:?}"),
        Err(f) => panic!("rejected: {:?}", f.error),
    }
}

#[test]
fn framing_follows_the_headers() {
    let h = head("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n");
    assert_eq!(
        (h.status, h.framing, h.keep_alive),
        (200, Framing::Length(12), true)
    );
    let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
    assert_eq!(h.framing, Framing::Chunked);
    let h = head("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\n");
    assert!(!h.keep_alive);
    let h = head("HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(h.framing, Framing::UntilClose);
    let h = head("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n");
    assert_eq!(h.framing, Framing::Empty);
    let h = head("HTTP/1.1 304 Not Modified\r\n\r\n");
    assert_eq!(h.framing, Framing::Empty);
    let h = head("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
    assert_eq!((h.framing, h.keep_alive), (Framing::Empty, false));
}

#[test]
fn http10_closes_unless_asked_to_keep_alive() {
    assert!(!head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n").keep_alive);
    assert!(
        head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n").keep_alive
    );
}

#[test]
fn a_head_request_has_no_body_whatever_the_length() {
    let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
    let parsed = parse_head(bytes, true)
        .ok()
        .flatten()
        .map(|(_, h)| h.framing);
    assert_eq!(parsed, Some(Framing::Empty));
}

#[test]
fn partial_and_bad_heads() {
    assert!(matches!(
        parse_head(b"HTTP/1.1 200 OK\r\nConte", false),
        Ok(None)
    ));
    for bad in [
        "HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "SMTP ready\r\n\r\n",
    ] {
        match parse_head(bad.as_bytes(), false) {
            Err(f) => assert!(
                f.error.to_string().starts_with("invalid response"),
                "{bad:?}: {}",
                f.error
            ),
            Ok(other) => panic!("{bad:?} accepted as {other:?}"),
        }
    }
}

#[test]
fn chunk_sizes_are_hex_with_optional_extensions() {
    assert_eq!(chunk_size(b"1a").ok(), Some(26));
    assert_eq!(chunk_size(b"FF;name=value").ok(), Some(255));
    assert_eq!(chunk_size(b"0 ").ok(), Some(0));
    assert!(chunk_size(b"").is_err());
    assert!(chunk_size(b"xyz").is_err());
}

#[test]
fn requests_carry_host_agent_and_length() {
    let mut out = Vec::new();
    let headers = vec![
        (
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ),
        (
            http::header::CONTENT_LENGTH,
            HeaderValue::from_static("999"),
        ),
    ];
    encode_request(
        &mut out,
        &Method::POST,
        "/chat?x=1",
        "127.0.0.1:8080",
        &headers,
        None,
        b"{}",
    );
    let text = String::from_utf8(out).expect("ascii");
    assert_eq!(
        text,
        format!(
            "POST /chat?x=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nuser-agent: lv/{}\r\naccept-encoding: gzip, deflate, br\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{{}}",
            lv_common::VERSION
        )
    );
    let mut out = Vec::new();
    let own_host = vec![(http::header::HOST, HeaderValue::from_static("atlas.local"))];
    let cookie = (http::header::COOKIE, HeaderValue::from_static("sid=1"));
    encode_request(
        &mut out,
        &Method::GET,
        "",
        "127.0.0.1",
        &own_host,
        Some(&cookie),
        b"",
    );
    let text = String::from_utf8(out).expect("ascii");
    assert!(
        text.starts_with("GET / HTTP/1.1\r\nuser-agent: lv/"),
        "{text}"
    );
    assert!(text.contains("host: atlas.local\r\n"));
    assert!(text.ends_with("cookie: sid=1\r\n\r\n"), "{text}");
    let mut out = Vec::new();
    let identity = vec![(
        http::header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    )];
    encode_request(&mut out, &Method::GET, "/", "h", &identity, None, b"");
    let text = String::from_utf8(out).expect("ascii");
    assert_eq!(text.matches("accept-encoding").count(), 1, "{text}");
    assert!(text.contains("accept-encoding: identity\r\n"), "{text}");
    assert!(
        !text.contains("content-length"),
        "no body, no length on GET: {text}"
    );
}

#[test]
fn connection_close_in_the_request_is_seen() {
    let close = vec![(http::header::CONNECTION, HeaderValue::from_static("Close"))];
    assert!(request_closes(&close));
    assert!(!request_closes(&[]));
}

/// A byte stream that yields a response in the given pieces, one piece (at most) per
/// read, then the end of the stream; whatever is written to it is dropped.
struct Pieces {
    pieces: std::collections::VecDeque<Vec<u8>>,
}

impl Pieces {
    /// `bytes` cut at `cuts` (offsets, any order, out-of-range ones ignored).
    fn new(bytes: &[u8], cuts: &[usize]) -> Pieces {
        let mut cuts: Vec<usize> = cuts
            .iter()
            .copied()
            .filter(|&c| c > 0 && c < bytes.len())
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut pieces = std::collections::VecDeque::new();
        let mut start = 0;
        for cut in cuts.into_iter().chain([bytes.len()]) {
            pieces.push_back(bytes[start..cut].to_vec());
            start = cut;
        }
        Pieces { pieces }
    }
}

impl tokio::io::AsyncRead for Pieces {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if let Some(mut piece) = self.pieces.pop_front() {
            let n = piece.len().min(buf.remaining());
            buf.put_slice(&piece[..n]);
            if n < piece.len() {
                self.pieces.push_front(piece.split_off(n));
            }
        }
        std::task::Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Pieces {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Runs one exchange over `bytes` cut at `cuts`; its timing is set to one fixed value, so
/// that responses read in different pieces compare equal.
fn exchange_in_pieces(bytes: &[u8], cuts: &[usize], head_request: bool) -> Response {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut stream = Pieces::new(bytes, cuts);
    let mut buf = BytesMut::new();
    let mut response = runtime
        .block_on(exchange(
            &mut stream,
            &mut buf,
            b"GET / HTTP/1.1\r\n\r\n",
            Expect {
                head_request,
                keep_body: true,
                max_decoded: crate::http::decode::MAX_DECODED_BODY,
                keep_headers: false,
            },
        ))
        .unwrap_or_else(|f| panic!("{bytes:?} cut at {cuts:?}: {}", f.error));
    response.timing = Timing {
        ttfb: Duration::ZERO,
        body: Duration::ZERO,
        end: *EPOCH.get_or_init(Instant::now),
    };
    response
}

/// A valid response, whether it answers a HEAD request, and the status, body and
/// reusability it must parse to.
struct Case {
    raw: &'static str,
    head_request: bool,
    status: u16,
    body: &'static str,
    reusable: bool,
}

const CASES: &[Case] = &[
    Case {
        raw: "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello, world",
        head_request: false,
        status: 200,
        body: "hello, world",
        reusable: true,
    },
    Case {
        raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1;q=\"a\"\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nTrailer: x\r\nOther: y\r\n\r\n",
        head_request: false,
        status: 200,
        body: "Wikipedia in \r\n\r\nchunks.",
        reusable: true,
    },
    Case {
        raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
        head_request: false,
        status: 200,
        body: "abcdefghijklmnopqrstuvwxyz",
        reusable: true,
    },
    Case {
        raw: "HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n",
        head_request: false,
        status: 204,
        body: "",
        reusable: true,
    },
    Case {
        raw: "HTTP/1.1 304 Not Modified\r\nETag: \"1\"\r\n\r\n",
        head_request: false,
        status: 304,
        body: "",
        reusable: true,
    },
    Case {
        raw: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
        head_request: true,
        status: 200,
        body: "",
        reusable: true,
    },
    Case {
        raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
        head_request: false,
        status: 201,
        body: "{}",
        reusable: true,
    },
    Case {
        raw: "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        head_request: false,
        status: 200,
        body: "abc",
        reusable: true,
    },
    Case {
        raw: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
        head_request: false,
        status: 200,
        body: "abc",
        reusable: false,
    },
    Case {
        raw: "HTTP/1.1 302 Found\r\nLocation: /next?a=1\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: b=2\r\nContent-Length: 5\r\n\r\nmoved",
        head_request: false,
        status: 302,
        body: "moved",
        reusable: true,
    },
    Case {
        raw: "HTTP/1.0 200 OK\r\n\r\nuntil the end",
        head_request: false,
        status: 200,
        body: "until the end",
        reusable: false,
    },
];

#[test]
fn every_case_parses_whole_as_expected() {
    for case in CASES {
        let response = exchange_in_pieces(case.raw.as_bytes(), &[], case.head_request);
        assert_eq!(
            (
                response.status,
                response.body.as_slice(),
                response.content_len,
                response.reusable
            ),
            (
                case.status,
                case.body.as_bytes(),
                case.body.len() as u64,
                case.reusable
            ),
            "{:?}",
            case.raw
        );
    }
}

#[test]
fn redirects_and_cookies_are_read_from_the_head() {
    let raw = "HTTP/1.1 302 Found\r\nLocation: /next?a=1\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n";
    let response = exchange_in_pieces(raw.as_bytes(), &[], false);
    assert_eq!(response.location.as_deref(), Some("/next?a=1"));
    let cookies: Vec<&str> = response.set_cookies.iter().map(|c| &**c).collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=2"]);
    let ok = head("HTTP/1.1 200 OK\r\nLocation: /ignored\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        ok.location, None,
        "only redirects have a Location to follow"
    );
    assert!(ok.set_cookies.is_empty());
}

/// A gzip body in two chunks, as the server sent it.
fn chunked_gzip() -> (Vec<u8>, Vec<u8>) {
    use std::io::Write;
    let plain =
        br#"{"status":"healthy","agent":"CLIO","padding":"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"}"#;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(plain).expect("gzip");
    let gzip = encoder.finish().expect("gzip");
    let (a, b) = gzip.split_at(gzip.len() / 3);
    let mut raw =
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for part in [a, b] {
        raw.extend_from_slice(format!("{:X};x=y\r\n", part.len()).as_bytes());
        raw.extend_from_slice(part);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\nTrailer: t\r\n\r\n");
    (raw, plain.to_vec())
}

/// A chunk-size line cut in two (`1` | `A\r\n`) and a chunk's CRLF cut between CR and LF.
#[test]
fn a_chunk_size_line_across_two_reads_and_a_split_crlf() {
    let raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n";
    let size_at = raw.find("1A").expect("size line");
    let whole = exchange_in_pieces(raw.as_bytes(), &[], false);
    let straddling = exchange_in_pieces(raw.as_bytes(), &[size_at + 1], false);
    assert_eq!(straddling, whole);
    let cr_at = raw.find("z\r\n").expect("data end") + 1;
    let split_crlf = exchange_in_pieces(raw.as_bytes(), &[cr_at + 1], false);
    assert_eq!(split_crlf, whole);
    let size_cr = size_at + 2;
    let both = exchange_in_pieces(
        raw.as_bytes(),
        &[size_at + 1, size_cr + 1, cr_at + 1],
        false,
    );
    assert_eq!(both, whole);
    assert_eq!(whole.body, b"abcdefghijklmnopqrstuvwxyz");
}

proptest::proptest! {
    /// Every valid response, cut anywhere into pieces of any size, parses the same as whole.
    #[test]
    fn responses_cut_into_any_pieces_parse_the_same(
        index in 0..CASES.len(),
        cuts in proptest::collection::vec(0usize..400, 0..40),
    ) {
        let case = &CASES[index];
        let whole = exchange_in_pieces(case.raw.as_bytes(), &[], case.head_request);
        let cut = exchange_in_pieces(case.raw.as_bytes(), &cuts, case.head_request);
        proptest::prop_assert_eq!(cut, whole);
    }

    /// A gzip body in chunks, cut anywhere, decodes to the same bytes.
    #[test]
    fn a_chunked_gzip_body_cut_anywhere_decodes_the_same(
        cuts in proptest::collection::vec(0usize..300, 0..40),
    ) {
        let (raw, plain) = chunked_gzip();
        let cut = exchange_in_pieces(&raw, &cuts, false);
        proptest::prop_assert_eq!(&cut.body, &plain);
        proptest::prop_assert_eq!(cut.content_len, plain.len() as u64);
        proptest::prop_assert!(cut.reusable && cut.decode_error.is_none());
    }

    /// Read one byte at a time, every case still parses the same.
    #[test]
    fn byte_by_byte_reads_parse_the_same(index in 0..CASES.len()) {
        let case = &CASES[index];
        let every: Vec<usize> = (1..case.raw.len()).collect();
        let whole = exchange_in_pieces(case.raw.as_bytes(), &[], case.head_request);
        let cut = exchange_in_pieces(case.raw.as_bytes(), &every, case.head_request);
        proptest::prop_assert_eq!(cut, whole);
    }
}

/// Cases of each generated-input property below.
const HOSTILE_CASES: u32 = 4096;

/// Reads a stream may make after its end before it refuses: a codec that keeps reading a
/// closed connection is in a loop.
const READS_PAST_THE_END: usize = 8;

/// [`Pieces`] that fail after [`READS_PAST_THE_END`] reads at the end, so a loop shows as
/// an error the test can see instead of a hung test.
struct Bounded {
    pieces: Pieces,
    past_the_end: usize,
}

impl tokio::io::AsyncRead for Bounded {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.pieces.pieces.is_empty() {
            self.past_the_end += 1;
            if self.past_the_end > READS_PAST_THE_END {
                return std::task::Poll::Ready(Err(std::io::Error::other("read in a loop")));
            }
        }
        std::pin::Pin::new(&mut self.pieces).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Bounded {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

thread_local! {
    /// One runtime per test thread: building one per case would dominate the run time.
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
}

/// Runs one exchange over hostile `bytes` cut at `cuts`: a response or a failure, never
/// a panic and never a loop, and what comes back is consistent.
fn check_exchange(
    bytes: &[u8],
    cuts: &[usize],
    head_request: bool,
    keep_body: bool,
) -> Result<(), proptest::test_runner::TestCaseError> {
    use proptest::{prop_assert, prop_assert_eq};
    let mut stream = Bounded {
        pieces: Pieces::new(bytes, cuts),
        past_the_end: 0,
    };
    let mut buf = BytesMut::new();
    let result = RUNTIME.with(|runtime| {
        runtime.block_on(exchange(
            &mut stream,
            &mut buf,
            b"GET / HTTP/1.1\r\n\r\n",
            Expect {
                head_request,
                keep_body,
                max_decoded: 1 << 16,
                keep_headers: false,
            },
        ))
    });
    prop_assert!(
        stream.past_the_end <= 1,
        "read {} times past the end",
        stream.past_the_end
    );
    match result {
        Ok(response) => {
            prop_assert!(
                (100..=999).contains(&response.status),
                "{}",
                response.status
            );
            prop_assert!(response.body.len() as u64 <= response.content_len);
            prop_assert!(response.body.len() <= crate::http::MAX_KEPT_BODY);
            if !keep_body {
                prop_assert!(response.body.is_empty());
            }
            if response.decode_error.is_some() {
                prop_assert_eq!(response.content_len, 0);
            } else if head_request {
                prop_assert_eq!(response.content_len, 0);
            }
        }
        Err(failure) => {
            let message = failure.error.to_string();
            prop_assert!(!message.is_empty());
            prop_assert!(!message.contains("read in a loop"), "{}", message);
            if failure.unanswered {
                prop_assert!(bytes.is_empty(), "answered, yet unanswered: {}", message);
            }
        }
    }
    Ok(())
}

mod hostile {
    use proptest::prelude::*;

    /// Numbers as a header or chunk line may carry them: at every limit, and not numbers.
    pub(super) const NUMBERS: &[&str] = &[
        "0",
        "1",
        "5",
        "00000000000000000000000000000000000005",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999999999999",
        "ffffffffffffffff",
        "FFFFFFFFFFFFFFFF",
        "10000000000000000",
        "7fffffffffffffff",
        "-1",
        "+5",
        " 5 ",
        "5, 5",
        "5,6",
        "0x10",
        "1e3",
        "",
        "\t",
        "５",
        "5;ext=\"a\"",
        "5 ; a=b",
        ";",
    ];

    /// Bytes worth splicing into a response: framing, line ends, limits, non-UTF-8.
    const FRAGMENTS: &[&[u8]] = &[
        b"\r\n",
        b"\n",
        b"\r",
        b"\r\n\r\n",
        b"0\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n",
        b"Content-Length: 18446744073709551615\r\n",
        b"Content-Length: 0\r\n",
        b"Content-Length: 99999999999999999999\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"Content-Encoding: gzip\r\n",
        b"Content-Encoding: br\r\n",
        b"Content-Encoding: deflate\r\n",
        b"Connection: close\r\n",
        b"ffffffffffffffff\r\n",
        b"10000000000000000\r\n",
        b"\xff\xfe\x00",
        b"\x1f\x8b\x08\x00",
        b":",
        b" ",
        b"\0",
    ];

    /// Replaces, inserts, deletes or repeats bytes of `bytes`, or splices a fragment in.
    pub(super) fn mutate(bytes: &[u8], edits: &[(usize, u8, u8, usize)]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        for &(at, op, byte, len) in edits {
            let at = if out.is_empty() {
                0
            } else {
                at % (out.len() + 1)
            };
            let end = (at + len % 64).min(out.len());
            match op % 5 {
                0 if at < out.len() => out[at] = byte,
                1 => {
                    out.drain(at..end);
                }
                2 => {
                    let copy = out[at..end].to_vec();
                    out.splice(at..at, copy);
                }
                3 => {
                    let fragment = FRAGMENTS[usize::from(byte) % FRAGMENTS.len()];
                    out.splice(at..at, fragment.iter().copied());
                }
                _ => out.insert(at, byte),
            }
        }
        out
    }

    pub(super) fn edits() -> impl Strategy<Value = Vec<(usize, u8, u8, usize)>> {
        prop::collection::vec(
            (any::<usize>(), any::<u8>(), any::<u8>(), any::<usize>()),
            1..6,
        )
    }

    /// A header line: the framing, encoding and connection headers with hostile values,
    /// or any name and bytes.
    fn header() -> impl Strategy<Value = Vec<u8>> {
        let named = |name: &'static str, values: &'static [&'static str]| {
            prop::sample::select(values).prop_map(move |v| format!("{name}: {v}\r\n").into_bytes())
        };
        prop_oneof![
            2 => (0u32..100).prop_map(|n| format!("Content-Length: {n}\r\n").into_bytes()),
            1 => named("Content-Length", NUMBERS),
            2 => named(
                "Transfer-Encoding",
                &["chunked", "gzip, chunked", "chunked, gzip", "identity", "CHUNKED", "chunked,", ""],
            ),
            2 => named("Content-Encoding", &["gzip", "x-gzip", "deflate", "br", "gzip, br", "zstd", ""]),
            1 => named("Connection", &["close", "keep-alive", "Keep-Alive, close", "upgrade"]),
            1 => named("Location", &["/next", "http://[::1", "", "\u{202e}"]),
            1 => (proptest::string::string_regex("[!-9;-~]{1,12}").expect("regex"), prop::collection::vec(any::<u8>(), 0..24))
                .prop_map(|(name, value)| {
                    let mut line = format!("{name}: ").into_bytes();
                    line.extend(value);
                    line.extend_from_slice(b"\r\n");
                    line
                }),
        ]
    }

    /// A body framed by chunks whose size lines and data disagree in every way.
    fn chunked_body() -> impl Strategy<Value = Vec<u8>> {
        let chunk = (
            prop_oneof![
                3 => (0usize..40).prop_map(|n| format!("{n:x}")),
                2 => prop::sample::select(NUMBERS).prop_map(str::to_owned),
                1 => (4000usize..5000).prop_map(|n| "0".repeat(n)),
            ],
            prop::collection::vec(any::<u8>(), 0..40),
            prop::sample::select(&["\r\n", "\n", "", "x\r\n"][..]),
        )
            .prop_map(|(size, data, end)| {
                let mut out = format!("{size}\r\n").into_bytes();
                out.extend(data);
                out.extend_from_slice(end.as_bytes());
                out
            });
        (
            prop::collection::vec(chunk, 0..4),
            prop::sample::select(
                &["0\r\n\r\n", "0\r\nT: x\r\n\r\n", "0\r\n", "", "0;x\r\n\r\n"][..],
            ),
        )
            .prop_map(|(chunks, last)| {
                let mut out = chunks.concat();
                out.extend_from_slice(last.as_bytes());
                out
            })
    }

    /// A body and the `Content-Encoding` it is in: compressed for real (then perhaps cut
    /// short), or bytes that only claim to be.
    fn body() -> impl Strategy<Value = (Option<&'static str>, Vec<u8>)> {
        use std::io::Write;
        let compressed = (
            prop::collection::vec(any::<u8>(), 0..200),
            0u8..3,
            any::<usize>(),
        )
            .prop_map(|(plain, kind, cut)| {
                let (name, mut bytes) = match kind {
                    0 => {
                        let mut e =
                            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                        e.write_all(&plain).expect("gzip");
                        ("gzip", e.finish().expect("gzip"))
                    }
                    1 => {
                        let mut e = flate2::write::ZlibEncoder::new(
                            Vec::new(),
                            flate2::Compression::fast(),
                        );
                        e.write_all(&plain).expect("zlib");
                        ("deflate", e.finish().expect("zlib"))
                    }
                    _ => {
                        let mut out = Vec::new();
                        let mut e = brotli::CompressorWriter::new(&mut out, 4096, 1, 18);
                        e.write_all(&plain).expect("br");
                        drop(e);
                        ("br", out)
                    }
                };
                if cut % 3 == 0 {
                    bytes.truncate(cut % (bytes.len() + 1));
                }
                (Some(name), bytes)
            });
        let claimed = prop::sample::select(&[None, Some("gzip"), Some("deflate"), Some("br")][..]);
        prop_oneof![
            2 => (claimed, prop::collection::vec(any::<u8>(), 0..64)),
            2 => compressed,
        ]
    }

    /// `body` in chunks of the given sizes (the rest in one more), and the last chunk.
    fn in_chunks(body: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = body;
        for &size in sizes.iter().chain([&usize::MAX]) {
            let (chunk, after) = rest.split_at(size.min(rest.len()));
            if !chunk.is_empty() {
                out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
            rest = after;
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    }

    /// How a built response delimits its body.
    #[derive(Debug, Clone)]
    enum Framing {
        /// Only by what the generated headers say.
        Headers,
        /// A `Content-Length` equal to the body's.
        Exact,
        /// Valid chunks of these sizes.
        Chunks(Vec<usize>),
        /// Chunks whose sizes and data disagree.
        Hostile(Vec<u8>),
    }

    fn framing() -> impl Strategy<Value = Framing> {
        prop_oneof![
            1 => Just(Framing::Headers),
            2 => Just(Framing::Exact),
            2 => prop::collection::vec(1usize..50, 0..4).prop_map(Framing::Chunks),
            2 => chunked_body().prop_map(Framing::Hostile),
        ]
    }

    /// A chunk-size line: any bytes, or a number in some form.
    pub(super) fn chunk_line() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..40),
            prop::sample::select(NUMBERS).prop_map(|n| n.as_bytes().to_vec()),
        ]
    }

    /// What a response head parser may be given: any bytes, or a built response.
    pub(super) fn head_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![prop::collection::vec(any::<u8>(), 0..300), response()]
    }

    /// A response built field by field, each field hostile or not.
    pub(super) fn response() -> impl Strategy<Value = Vec<u8>> {
        let version = prop_oneof![
            8 => Just("HTTP/1.1"),
            2 => Just("HTTP/1.0"),
            1 => prop::sample::select(&["HTTP/2", "HTTP/1.1 ", "http/1.1", "HTTP/1.12", ""][..]),
        ];
        let status = prop_oneof![
            10 => prop::sample::select(&["200", "200", "201", "204", "304", "100", "101", "103", "199", "302", "404", "999"][..]),
            1 => prop::sample::select(&["0", "1000", "65536", "-1", "", "20", "2OO"][..]),
        ];
        (
            version,
            status,
            prop::collection::vec(header(), 0..4),
            prop_oneof![20 => Just(0usize), 1 => 95usize..110],
            body(),
            framing(),
            prop::sample::select(&[true, true, true, false][..]),
        )
            .prop_map(
                |(version, status, headers, filler, (encoding, body), framing, say_encoding)| {
                    let mut out = format!("{version} {status} Reason\r\n").into_bytes();
                    for header in headers {
                        out.extend(header);
                    }
                    for i in 0..filler {
                        out.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
                    }
                    if let (Some(encoding), true) = (encoding, say_encoding) {
                        out.extend_from_slice(
                            format!("Content-Encoding: {encoding}\r\n").as_bytes(),
                        );
                    }
                    let body = match framing {
                        Framing::Headers => body,
                        Framing::Exact => {
                            out.extend_from_slice(
                                format!("Content-Length: {}\r\n", body.len()).as_bytes(),
                            );
                            body
                        }
                        Framing::Chunks(sizes) => {
                            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
                            in_chunks(&body, &sizes)
                        }
                        Framing::Hostile(chunks) => {
                            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
                            chunks
                        }
                    };
                    out.extend_from_slice(b"\r\n");
                    out.extend(body);
                    out
                },
            )
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(HOSTILE_CASES))]

    /// Any bytes at all.
    #[test]
    fn arbitrary_bytes_never_panic_or_loop_4096_cases(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
        cuts in proptest::collection::vec(0usize..600, 0..8),
        head_request in proptest::prelude::any::<bool>(),
    ) {
        check_exchange(&bytes, &cuts, head_request, true)?;
    }

    /// Valid responses with bytes changed, removed, repeated or spliced in.
    #[test]
    fn mutated_responses_never_panic_or_loop_4096_cases(
        index in 0..CASES.len(),
        edits in hostile::edits(),
        cuts in proptest::collection::vec(0usize..400, 0..8),
        keep_body in proptest::prelude::any::<bool>(),
    ) {
        let case = &CASES[index];
        let bytes = hostile::mutate(case.raw.as_bytes(), &edits);
        check_exchange(&bytes, &cuts, case.head_request, keep_body)?;
    }

    /// Responses built header by header, with hostile lengths, chunk sizes and encodings.
    #[test]
    fn structured_responses_never_panic_or_loop_4096_cases(
        bytes in hostile::response(),
        edits in proptest::option::weighted(0.2, hostile::edits()),
        cuts in proptest::collection::vec(0usize..400, 0..8),
        head_request in proptest::prelude::any::<bool>(),
    ) {
        let bytes = match edits {
            Some(edits) => hostile::mutate(&bytes, &edits),
            None => bytes,
        };
        check_exchange(&bytes, &cuts, head_request, true)?;
    }

    /// The head parser alone: a length within the bytes, the same head from those bytes.
    #[test]
    fn heads_parse_within_their_bytes_4096_cases(
        bytes in hostile::head_bytes(),
        head_request in proptest::prelude::any::<bool>(),
    ) {
        match parse_head(&bytes, head_request) {
            Ok(Some((len, head))) => {
                proptest::prop_assert!(len <= bytes.len());
                let again = parse_head(&bytes[..len], head_request).ok().flatten();
                proptest::prop_assert_eq!(again, Some((len, head)));
            }
            Ok(None) => {}
            Err(failure) => {
                let message = failure.error.to_string();
                proptest::prop_assert!(message.starts_with("invalid response"), "{}", message);
            }
        }
    }

    /// Chunk-size lines: a size exactly when the digits are hex that fit a u64.
    #[test]
    fn chunk_sizes_never_panic_4096_cases(
        line in hostile::chunk_line(),
    ) {
        let digits = line.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
        let expected = std::str::from_utf8(digits)
            .ok()
            .filter(|d| !d.is_empty())
            .and_then(|d| u64::from_str_radix(d, 16).ok());
        proptest::prop_assert_eq!(chunk_size(&line).ok(), expected);
    }
}

/// The phases come from the clock at the right moments: a server that answers its head
/// 50 ms after the request and its body 100 ms later gives ttfb 50 ms and body 100 ms
/// (tokio's paused clock, so exactly), and the end is read after the body.
#[tokio::test(start_paused = true)]
async fn timing_splits_the_wait_for_the_head_from_the_body() {
    use tokio::io::AsyncWriteExt as _;
    let (mut client, mut server) = tokio::io::duplex(4096);
    let serve = tokio::spawn(async move {
        let mut request = [0u8; 64];
        let _ = server.read(&mut request).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n";
        server.write_all(head).await.expect("head");
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.write_all(b"hello").await.expect("body");
        server
    });
    let started = Instant::now();
    let mut buf = BytesMut::new();
    let expect = Expect {
        head_request: false,
        keep_body: true,
        max_decoded: 1 << 16,
        keep_headers: false,
    };
    let response = exchange(&mut client, &mut buf, b"GET / HTTP/1.1\r\n\r\n", expect)
        .await
        .expect("response");
    assert_eq!(response.body, b"hello");
    assert_eq!(response.timing.ttfb, Duration::from_millis(50));
    assert_eq!(response.timing.body, Duration::from_millis(100));
    assert_eq!(response.timing.end - started, Duration::from_millis(150));
    drop(serve.await.expect("server"));
}
