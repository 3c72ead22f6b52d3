use super::*;

fn policy(values: &[&str]) -> CorsPolicy {
    let values: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
    CorsPolicy::parse(&values)
        .expect("valid origins")
        .expect("CORS on")
}

fn names(headers: &[(header::HeaderName, HeaderValue)]) -> Vec<String> {
    headers.iter().map(|(n, _)| n.to_string()).collect()
}

fn value<'a>(headers: &'a [(header::HeaderName, HeaderValue)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| v.to_str().ok())
}

#[test]
fn no_value_means_off() {
    assert_eq!(CorsPolicy::parse(&[]), Ok(None));
    assert_eq!(CorsPolicy::parse(&[" ".into()]), Ok(None));
}

#[test]
fn only_the_named_origins_are_allowed_whatever_their_case() {
    let policy = policy(&["https://Dash.Example/", "http://127.0.0.1:3000"]);
    assert!(policy.allows("https://dash.example"));
    assert!(policy.allows("HTTPS://DASH.EXAMPLE"));
    assert!(policy.allows("http://127.0.0.1:3000"));
    assert!(!policy.allows("http://dash.example"), "another scheme");
    assert!(!policy.allows("http://127.0.0.1:3001"), "another port");
    assert!(!policy.allows("https://dash.example.evil"));
    assert!(policy.answer_headers("https://evil.example").is_empty());
}

#[test]
fn an_allowed_origin_is_reflected_with_credentials() {
    let policy = policy(&["http://example.test"]);
    let headers = policy.answer_headers("http://example.test");
    assert_eq!(
        value(&headers, "access-control-allow-origin"),
        Some("http://example.test")
    );
    assert_eq!(
        value(&headers, "access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        value(&headers, "access-control-expose-headers"),
        Some("Content-Disposition")
    );
    assert!(!names(&headers).contains(&"access-control-allow-methods".to_owned()));
}

#[test]
fn any_origin_gets_no_credentials() {
    let policy = policy(&["*"]);
    let headers = policy.answer_headers("https://anywhere.example");
    assert_eq!(
        value(&headers, "access-control-allow-origin"),
        Some("https://anywhere.example")
    );
    assert_eq!(value(&headers, "access-control-allow-credentials"), None);
}

#[test]
fn a_preflight_gets_methods_headers_and_max_age() {
    let policy = policy(&["http://example.test"]);
    let asked = HeaderValue::from_static("authorization, x-custom");
    let headers = policy.preflight_headers("http://example.test", Some(&asked));
    assert_eq!(
        value(&headers, "access-control-allow-methods"),
        Some("GET, POST, OPTIONS")
    );
    assert_eq!(
        value(&headers, "access-control-allow-headers"),
        Some("authorization, x-custom")
    );
    assert_eq!(value(&headers, "access-control-max-age"), Some("600"));
    let headers = policy.preflight_headers("http://example.test", None);
    assert_eq!(
        value(&headers, "access-control-allow-headers"),
        Some("Authorization, Content-Type")
    );
    assert!(
        policy
            .preflight_headers("http://other.test", None)
            .is_empty()
    );
}

#[test]
fn a_value_that_is_no_origin_is_refused_by_name() {
    for (value, detail) in [
        ("example.test", "not an origin"),
        ("http://example.test/path", "without a path"),
        ("http://", "not an origin"),
        ("ht tp://x", "the scheme"),
        ("http://user@example.test", "without a path"),
    ] {
        let err = CorsPolicy::parse(&[value.to_owned()]).expect_err(value);
        let text = err.to_string();
        assert!(text.starts_with(&format!("--web-cors {value}: ")), "{text}");
        assert!(text.contains(detail), "{text}");
    }
}
