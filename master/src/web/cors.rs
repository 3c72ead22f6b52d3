//! Cross-origin access (`--web-cors ORIGIN`, off by default): a dashboard served from
//! another origin may call the API. Locust always allows every origin (flask-cors'
//! defaults: the request's `Origin` reflected, no credentials); lv allows only the origins
//! named, reflects the matching one, and, since lv's API can be behind Basic auth, lets
//! them send credentials. `*` allows any origin as Locust does, without credentials.
//!
//! The layer sits outside the authentication layer: a browser sends its preflight
//! `OPTIONS` without credentials, so a preflight from an allowed origin is answered here
//! (204), and a refusal (401) still carries the headers that let the page read it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Methods a preflight allows: every route of the API is a GET or a POST.
const METHODS: &str = "GET, POST, OPTIONS";

/// Headers a preflight allows when the browser names none.
const DEFAULT_HEADERS: &str = "Authorization, Content-Type";

/// How long a browser may cache a preflight answer, seconds.
const MAX_AGE_S: &str = "600";

/// A `--web-cors` value that is not an origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--web-cors {value}: {detail}")]
pub struct CorsError {
    /// The value given, quoted.
    pub value: String,
    /// What is wrong.
    pub detail: String,
}

/// Which origins may call the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsPolicy {
    /// `*` was given: any origin, without credentials.
    any: bool,
    /// Allowed origins, lower-case, without a trailing `/`.
    origins: Vec<String>,
}

impl CorsPolicy {
    /// The policy of the `--web-cors` values; `None` (CORS off) when there are none.
    pub fn parse(values: &[String]) -> Result<Option<CorsPolicy>, CorsError> {
        let mut policy = CorsPolicy {
            any: false,
            origins: Vec::new(),
        };
        for value in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
            if value == "*" {
                policy.any = true;
            } else {
                policy.origins.push(origin(value)?);
            }
        }
        Ok((policy.any || !policy.origins.is_empty()).then_some(policy))
    }

    /// Whether a request with this `Origin` may read the answer.
    pub fn allows(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        self.any || self.origins.contains(&origin)
    }

    /// Whether the origin may send credentials: only one named explicitly.
    fn credentials(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        self.origins.contains(&origin)
    }

    /// The headers an answer to `origin` gets (none when it is not allowed).
    pub fn answer_headers(&self, origin: &str) -> Vec<(header::HeaderName, HeaderValue)> {
        let Ok(value) = HeaderValue::from_str(origin) else {
            return Vec::new();
        };
        if !self.allows(origin) {
            return Vec::new();
        }
        let mut headers = vec![
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, value),
            (
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("Content-Disposition"),
            ),
        ];
        if self.credentials(origin) {
            headers.push((
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            ));
        }
        headers
    }

    /// The headers of a preflight answer to `origin` asking for `requested` headers.
    pub fn preflight_headers(
        &self,
        origin: &str,
        requested: Option<&HeaderValue>,
    ) -> Vec<(header::HeaderName, HeaderValue)> {
        let mut headers = self.answer_headers(origin);
        if headers.is_empty() {
            return headers;
        }
        let allowed = requested
            .cloned()
            .unwrap_or(HeaderValue::from_static(DEFAULT_HEADERS));
        headers.extend([
            (
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(METHODS),
            ),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, allowed),
            (
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static(MAX_AGE_S),
            ),
        ]);
        headers
    }
}

/// A `--web-cors` value as an origin: `scheme://host[:port]`, lower-case, no path.
fn origin(value: &str) -> Result<String, CorsError> {
    let bad = |detail: &str| CorsError {
        value: lv_common::bounds::quote(value),
        detail: detail.to_owned(),
    };
    let trimmed = value.trim_end_matches('/');
    let Some((scheme, host)) = trimmed.split_once("://") else {
        return Err(bad(
            "not an origin: give scheme://host[:port] (https://dash.example) or *",
        ));
    };
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    {
        return Err(bad("the scheme must be letters, like http or https"));
    }
    if host.is_empty() || host.contains(['/', '?', '#', '@']) || host.contains(char::is_whitespace)
    {
        return Err(bad(
            "an origin is scheme://host[:port], without a path, query or user",
        ));
    }
    Ok(trimmed.to_ascii_lowercase())
}

/// Whether `request` is a CORS preflight: `OPTIONS` with `Access-Control-Request-Method`.
fn is_preflight(request: &Request) -> bool {
    request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

fn insert_all(headers: &mut HeaderMap, extra: Vec<(header::HeaderName, HeaderValue)>) {
    for (name, value) in extra {
        headers.insert(name, value);
    }
}

/// The middleware: answers allowed preflights, adds the headers to allowed origins'
/// answers, and `Vary: Origin` to every answer (they differ by origin).
pub async fn layer(
    State(policy): State<Option<Arc<CorsPolicy>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(policy) = policy else {
        return next.run(request).await;
    };
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(origin) = origin.as_deref().filter(|o| policy.allows(o))
        && is_preflight(&request)
    {
        let requested = request
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS);
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = policy.preflight_headers(origin, requested);
        insert_all(response.headers_mut(), headers);
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("Origin"));
        return response;
    }
    let mut response = next.run(request).await;
    if let Some(origin) = origin.as_deref() {
        insert_all(response.headers_mut(), policy.answer_headers(origin));
    }
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("Origin"));
    response
}

#[cfg(test)]
mod tests;
