use super::*;

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

/// Runs one exchange over `bytes` cut at `cuts`.
fn exchange_in_pieces(bytes: &[u8], cuts: &[usize], head_request: bool) -> Response {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut stream = Pieces::new(bytes, cuts);
    let mut buf = BytesMut::new();
    runtime
        .block_on(exchange(
            &mut stream,
            &mut buf,
            b"GET / HTTP/1.1\r\n\r\n",
            Expect {
                head_request,
                keep_body: true,
                max_decoded: crate::http::decode::MAX_DECODED_BODY,
            },
        ))
        .unwrap_or_else(|f| panic!("{bytes:?} cut at {cuts:?}: {}", f.error))
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
