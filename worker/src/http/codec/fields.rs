//! Header values as the codec reads them: as text, as comma-separated tokens, and (for the
//! probe) every header of a response head.

/// Most header lines [`all_headers`] reads.
const MAX_HEADERS: usize = 100;

/// A header value as text (bytes that are not UTF-8 replaced).
pub(super) fn text(value: &[u8]) -> Box<str> {
    String::from_utf8_lossy(value.trim_ascii()).into()
}

fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(<[u8]>::trim_ascii)
}

/// True when the comma-separated `value` holds `token` (ASCII case ignored).
pub(super) fn has_token(value: &[u8], token: &[u8]) -> bool {
    tokens(value).any(|t| t.eq_ignore_ascii_case(token))
}

/// True when the last token of the comma-separated `value` is `token` (ASCII case ignored).
pub(super) fn last_token_is(value: &[u8], token: &[u8]) -> bool {
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
