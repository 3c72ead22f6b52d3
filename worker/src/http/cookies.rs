//! A user's cookie jar: RFC 6265 (domain, path, expiry, `Secure`) through `cookie_store`.
//!
//! The jar belongs to the user, not to a connection (connections are shared between
//! users), and lives as long as the user. It costs one null pointer until the first
//! `Set-Cookie` arrives: users whose responses never set cookies allocate nothing and
//! parse no URL.

use cookie_store::CookieStore;
use http::HeaderValue;
use url::Url;

/// One user's cookies; empty (and unallocated) until a response sets one.
#[derive(Debug, Default)]
pub struct CookieJar {
    store: Option<Box<CookieStore>>,
}

impl CookieJar {
    /// Whether no response has set a cookie in it yet.
    pub fn is_empty(&self) -> bool {
        self.store.is_none()
    }

    /// The `Cookie` header to send to `url`, when the jar holds cookies for it.
    pub fn header_for(&self, url: &str) -> Option<HeaderValue> {
        let store = self.store.as_ref()?;
        let url = Url::parse(url).ok()?;
        let mut header = String::new();
        for (name, value) in store.get_request_values(&url) {
            if !header.is_empty() {
                header.push_str("; ");
            }
            header.push_str(name);
            header.push('=');
            header.push_str(value);
        }
        if header.is_empty() {
            return None;
        }
        HeaderValue::from_str(&header).ok()
    }

    /// Stores the `Set-Cookie` values of a response from `url`; malformed or foreign
    /// ones (for another domain) are ignored, as browsers do.
    pub fn store(&mut self, url: &str, set_cookies: &[Box<str>]) {
        let Ok(url) = Url::parse(url) else { return };
        let store = self.store.get_or_insert_with(Box::default);
        for value in set_cookies {
            if let Err(err) = store.parse(value, &url) {
                tracing::debug!(cookie = %value, error = %err, "Set-Cookie ignored");
            }
        }
    }

    /// True until a response has set a cookie.
    pub fn is_unused(&self) -> bool {
        self.store.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(jar: &mut CookieJar, url: &str, values: &[&str]) {
        let values: Vec<Box<str>> = values.iter().map(|&v| v.into()).collect();
        jar.store(url, &values);
    }

    /// The cookies sent to `url`, sorted (the store does not keep an order).
    fn sent(jar: &CookieJar, url: &str) -> Option<String> {
        jar.header_for(url).map(|v| {
            let mut pairs: Vec<&str> = v.to_str().expect("ascii").split("; ").collect();
            pairs.sort_unstable();
            pairs.join("; ")
        })
    }

    #[test]
    fn nothing_is_allocated_until_a_cookie_is_set() {
        let mut jar = CookieJar::default();
        assert!(jar.is_unused());
        assert_eq!(sent(&jar, "http://127.0.0.1:1/"), None);
        set(&mut jar, "http://127.0.0.1:1/login", &["sid=abc; Path=/"]);
        assert!(!jar.is_unused());
        assert_eq!(
            sent(&jar, "http://127.0.0.1:1/x").as_deref(),
            Some("sid=abc")
        );
    }

    #[test]
    fn path_domain_secure_and_expiry_are_honoured() {
        let mut jar = CookieJar::default();
        set(
            &mut jar,
            "http://app.test/account/login",
            &[
                "a=1; Path=/account",
                "b=2",
                "s=3; Secure",
                "old=4; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                "other=5; Domain=elsewhere.test",
            ],
        );
        assert_eq!(
            sent(&jar, "http://app.test/account/me").as_deref(),
            Some("a=1; b=2")
        );
        // `b` has the default path of its URL (`/account`), so neither goes to `/`.
        assert_eq!(sent(&jar, "http://app.test/"), None);
        assert_eq!(
            sent(&jar, "https://app.test/account/x").as_deref(),
            Some("a=1; b=2; s=3")
        );
        assert_eq!(sent(&jar, "http://elsewhere.test/account/x"), None);
        // Max-Age=0 expires a cookie that was set.
        set(
            &mut jar,
            "http://app.test/account/",
            &["a=1; Path=/account; Max-Age=0"],
        );
        assert_eq!(
            sent(&jar, "http://app.test/account/me").as_deref(),
            Some("b=2")
        );
    }
}
