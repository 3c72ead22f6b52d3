//! Who may use the web server: HTTP Basic credentials (`--web-auth user:pass` or
//! `LV_WEB_AUTH`) compared in constant time, the read-only switch, and the rule that a
//! non-loopback address needs credentials unless `--insecure` is given.

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use subtle::ConstantTimeEq as _;

/// The one user allowed in.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    user: String,
    password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

/// Why web settings are refused (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// `--web-auth` is not `user:pass`.
    #[error("invalid value for --web-auth: expected user:pass with a non-empty user and password")]
    Malformed,
    /// A public address without credentials.
    #[error(
        "refusing to serve the web UI on {0} without --web-auth user:pass (or LV_WEB_AUTH): anyone who can reach it could start and stop tests. Bind 127.0.0.1, set --web-auth, or pass --insecure"
    )]
    Unprotected(String),
}

impl Credentials {
    /// Parses `user:pass` (the password may hold `:`).
    pub fn parse(text: &str) -> Result<Credentials, AuthError> {
        match text.split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => Ok(Credentials {
                user: user.to_owned(),
                password: password.to_owned(),
            }),
            _ => Err(AuthError::Malformed),
        }
    }

    /// Whether an `Authorization` header value carries these credentials. User and
    /// password are both compared in constant time (for equal lengths), and both always.
    pub fn accepts(&self, header: Option<&str>) -> bool {
        let Some(encoded) = header.and_then(|h| h.strip_prefix("Basic ")) else {
            return false;
        };
        let Ok(decoded) = BASE64.decode(encoded.trim()) else {
            return false;
        };
        let Some(colon) = decoded.iter().position(|&b| b == b':') else {
            return false;
        };
        let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
        let user_ok = constant_time_eq(user, self.user.as_bytes());
        let password_ok = constant_time_eq(password, self.password.as_bytes());
        user_ok & password_ok
    }
}

/// Equality whose time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// True for `localhost` and loopback IP addresses (`127.0.0.1`, `::1`, `[::1]`).
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_matches(|c| c == '[' || c == ']');
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Refuses a non-loopback bind without credentials, unless `insecure`.
pub fn check_bind(host: &str, auth: Option<&Credentials>, insecure: bool) -> Result<(), AuthError> {
    if is_loopback(host) || auth.is_some() || insecure {
        Ok(())
    } else {
        Err(AuthError::Unprotected(host.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user_pass: &str) -> String {
        format!("Basic {}", BASE64.encode(user_pass))
    }

    #[test]
    fn parses_user_and_password() {
        let creds = Credentials::parse("ann:s3:cret").expect("valid");
        assert!(creds.accepts(Some(&header("ann:s3:cret"))));
        for bad in ["", "ann", ":pw", "ann:"] {
            assert_eq!(
                Credentials::parse(bad),
                Err(AuthError::Malformed),
                "{bad:?}"
            );
        }
        assert!(!format!("{creds:?}").contains("s3:cret"));
    }

    #[test]
    fn refuses_wrong_or_missing_credentials() {
        let creds = Credentials::parse("ann:pw").expect("valid");
        assert!(creds.accepts(Some(&header("ann:pw"))));
        assert!(!creds.accepts(None));
        assert!(!creds.accepts(Some(&header("ann:pW"))));
        assert!(!creds.accepts(Some(&header("ann:pw2"))));
        assert!(!creds.accepts(Some(&header("bob:pw"))));
        assert!(!creds.accepts(Some(&header("annpw"))));
        assert!(!creds.accepts(Some("Bearer x")));
        assert!(!creds.accepts(Some("Basic !!!")));
    }

    #[test]
    fn constant_time_eq_compares_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn public_binds_need_credentials_or_insecure() {
        let creds = Credentials::parse("a:b").expect("valid");
        for host in ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"] {
            assert_eq!(check_bind(host, None, false), Ok(()), "{host}");
        }
        assert!(matches!(
            check_bind("0.0.0.0", None, false),
            Err(AuthError::Unprotected(h)) if h == "0.0.0.0"
        ));
        assert_eq!(check_bind("0.0.0.0", Some(&creds), false), Ok(()));
        assert_eq!(check_bind("10.1.2.3", None, true), Ok(()));
    }
}
