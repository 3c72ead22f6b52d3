//! The redirect policy, pure: given a request and a redirect response, the next request.
//!
//! Methods follow what browsers and Python's `requests` (so Locust) do: 303 turns any
//! method but HEAD into a GET without a body; 301 and 302 turn a POST into a GET without a
//! body (RFC 9110 allows it, every browser does it); 307 and 308 keep the method and the
//! body. A hop to another origin drops `Authorization`, `Cookie` and `Host` headers the
//! step set (the user's cookie jar still sends what belongs to the new origin), as
//! `requests` does, except the upgrade from `http` to `https` on the same host.

use http::{HeaderName, Method, header};
use url::Url;

use super::error::RequestError;
use super::request::OutRequest;

/// Most redirects followed for one request.
pub const MAX_REDIRECTS: u32 = 10;

/// The request that follows `req` after a `status` response pointing to `location`.
pub(super) fn next_request(
    mut req: OutRequest,
    status: u16,
    location: &str,
) -> Result<OutRequest, RequestError> {
    let bad = |why: String| RequestError::BadRedirect(format!("Location {location:?}: {why}"));
    let from = Url::parse(&req.url).map_err(|e| bad(e.to_string()))?;
    let to = from.join(location).map_err(|e| bad(e.to_string()))?;
    if !matches!(to.scheme(), "http" | "https") {
        return Err(bad(format!("scheme {} is not http or https", to.scheme())));
    }
    let to_get = match status {
        303 => req.method != Method::HEAD,
        301 | 302 => req.method == Method::POST,
        _ => false,
    };
    if to_get {
        req.method = Method::GET;
        req.body = bytes::Bytes::new();
        req.headers.retain(|(name, _)| !is_body_header(name));
    }
    if !same_origin(&from, &to) {
        req.headers.retain(|(name, _)| {
            name != header::AUTHORIZATION && name != header::COOKIE && name != header::HOST
        });
    }
    req.url = String::from(to);
    Ok(req)
}

fn is_body_header(name: &HeaderName) -> bool {
    name == header::CONTENT_TYPE
        || name == header::CONTENT_LENGTH
        || name == header::CONTENT_ENCODING
        || name == header::TRANSFER_ENCODING
}

/// Same scheme, host and port; or `http` to `https` on the same host, default ports.
fn same_origin(from: &Url, to: &Url) -> bool {
    if from.host_str() != to.host_str() {
        return false;
    }
    let upgrade = from.scheme() == "http"
        && to.scheme() == "https"
        && from.port().is_none()
        && to.port().is_none();
    upgrade
        || (from.scheme() == to.scheme()
            && from.port_or_known_default() == to.port_or_known_default())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use http::HeaderValue;

    use super::*;

    fn post(url: &str) -> OutRequest {
        OutRequest {
            method: Method::POST,
            url: url.to_owned(),
            headers: vec![
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (header::AUTHORIZATION, HeaderValue::from_static("Bearer t")),
            ],
            body: Bytes::from_static(b"{}"),
            timeout: Duration::from_secs(1),
            keep_body: false,
            follow_redirects: true,
        }
    }

    fn names(req: &OutRequest) -> Vec<&str> {
        req.headers.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn methods_change_as_browsers_do() {
        for (status, method, body) in [
            (301, Method::GET, ""),
            (302, Method::GET, ""),
            (303, Method::GET, ""),
            (307, Method::POST, "{}"),
            (308, Method::POST, "{}"),
        ] {
            let next = next_request(post("http://a.test/x"), status, "/y").expect("next");
            assert_eq!(next.method, method, "{status}");
            assert_eq!(next.body, body.as_bytes(), "{status}");
            assert_eq!(next.url, "http://a.test/y");
            let has_type = names(&next).contains(&"content-type");
            assert_eq!(has_type, !body.is_empty(), "{status}: {:?}", names(&next));
        }
        let head = OutRequest {
            method: Method::HEAD,
            ..post("http://a.test/")
        };
        assert_eq!(
            next_request(head, 303, "/").expect("next").method,
            Method::HEAD
        );
        let put = OutRequest {
            method: Method::PUT,
            ..post("http://a.test/")
        };
        assert_eq!(
            next_request(put, 302, "/").expect("next").method,
            Method::PUT
        );
    }

    #[test]
    fn locations_resolve_against_the_request_url() {
        let at = |location: &str| {
            next_request(post("http://a.test:8080/dir/page?q=1"), 307, location)
                .expect("next")
                .url
        };
        assert_eq!(at("other"), "http://a.test:8080/dir/other");
        assert_eq!(at("../up"), "http://a.test:8080/up");
        assert_eq!(at("/abs?x=2"), "http://a.test:8080/abs?x=2");
        assert_eq!(at("//b.test/p"), "http://b.test/p");
        assert_eq!(at("https://c.test/"), "https://c.test/");
        let err = next_request(post("http://a.test/"), 302, "ftp://x/").expect_err("ftp");
        assert!(err.to_string().contains("ftp is not http"), "{err}");
    }

    proptest::proptest! {
        /// Whatever the status, method and target: the body goes exactly when the method
        /// becomes GET, and `Authorization` stays exactly when the origin stays.
        #[test]
        fn body_and_authorization_follow_the_rules(
            status in proptest::sample::select(vec![301u16, 302, 303, 307, 308]),
            method in proptest::sample::select(vec!["GET", "POST", "PUT", "DELETE", "HEAD"]),
            scheme in proptest::sample::select(vec!["http", "https"]),
            host in proptest::sample::select(vec!["a.test", "b.test"]),
            port in proptest::sample::select(vec![None, Some(8080u16)]),
        ) {
            let method = Method::from_bytes(method.as_bytes()).expect("method");
            let req = OutRequest { method: method.clone(), ..post("http://a.test/from") };
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let location = format!("{scheme}://{host}{port}/to");
            let next = next_request(req, status, &location).expect("next");
            let to_get = (status == 303 && method != Method::HEAD)
                || (matches!(status, 301 | 302) && method == Method::POST);
            let expected = if to_get { Method::GET } else { method };
            proptest::prop_assert_eq!(&next.method, &expected);
            proptest::prop_assert_eq!(next.body.is_empty(), to_get);
            let same = host == "a.test" && port.is_empty();
            let has_auth = names(&next).contains(&"authorization");
            proptest::prop_assert_eq!(has_auth, same);
            proptest::prop_assert_eq!(next.url, location);
        }
    }

    #[test]
    fn authorization_is_dropped_across_origins_only() {
        let kept = |from: &str, to: &str| {
            names(&next_request(post(from), 307, to).expect("next")).contains(&"authorization")
        };
        assert!(kept("http://a.test/", "/next"));
        assert!(kept("http://a.test/", "https://a.test/next"));
        assert!(!kept("http://a.test/", "http://b.test/"));
        assert!(!kept("http://a.test:1/", "http://a.test:2/"));
        assert!(!kept("https://a.test/", "http://a.test/"));
    }
}
