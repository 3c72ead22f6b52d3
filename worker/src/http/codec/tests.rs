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
        b"{}",
    );
    let text = String::from_utf8(out).expect("ascii");
    assert_eq!(
        text,
        format!(
            "POST /chat?x=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nuser-agent: lv/{}\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{{}}",
            lv_common::VERSION
        )
    );
    let mut out = Vec::new();
    let own_host = vec![(http::header::HOST, HeaderValue::from_static("atlas.local"))];
    encode_request(&mut out, &Method::GET, "", "127.0.0.1", &own_host, b"");
    let text = String::from_utf8(out).expect("ascii");
    assert!(
        text.starts_with("GET / HTTP/1.1\r\nuser-agent: lv/"),
        "{text}"
    );
    assert!(text.contains("host: atlas.local\r\n"));
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
