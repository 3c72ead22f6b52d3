use super::*;

#[test]
fn the_content_type_picks_the_reader() {
    assert_eq!(encoding(Some("application/json")), Encoding::Json);
    assert_eq!(
        encoding(Some("Application/JSON; charset=utf-8")),
        Encoding::Json
    );
    assert_eq!(
        encoding(Some("multipart/form-data; boundary=x")),
        Encoding::Multipart
    );
    assert_eq!(
        encoding(Some("application/x-www-form-urlencoded")),
        Encoding::UrlEncoded
    );
    assert_eq!(encoding(Some("text/plain")), Encoding::UrlEncoded);
    assert_eq!(encoding(None), Encoding::UrlEncoded);
}

#[test]
fn an_oversized_body_names_the_limit() {
    let err = unreadable(StatusCode::PAYLOAD_TOO_LARGE, "ignored");
    assert_eq!(err.message, "body: more than the 65536 bytes /swarm takes");
    let err = unreadable(StatusCode::BAD_REQUEST, "bad boundary");
    assert!(err.message.starts_with("body: "), "{}", err.message);
}
