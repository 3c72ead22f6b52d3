//! A step's request for one user: its templates rendered with the user's variables.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use lv_common::plan::{Body, StepPlan};
use lv_common::template::UserVars;
use rand::rngs::SmallRng;

use crate::http::OutRequest;

/// The request of `step` for a user with `vars`; an error says what could not be built.
pub(crate) fn render(
    step: &StepPlan,
    vars: &UserVars,
    rng: &mut SmallRng,
) -> Result<OutRequest, String> {
    let mut url = String::with_capacity(step.base_url.len() + 32);
    url.push_str(&step.base_url);
    step.path
        .render_into(vars, rng, &mut url)
        .map_err(|e| e.to_string())?;
    let method = Method::from_bytes(step.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut headers = Vec::with_capacity(step.headers.len() + 1);
    for (name, value) in &step.headers {
        let value = value.render(vars, rng).map_err(|e| e.to_string())?;
        headers.push((
            HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("header {name}: {e}"))?,
            HeaderValue::from_str(&value).map_err(|e| format!("header {name}: {e}"))?,
        ));
    }
    let body = match &step.body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text.render(vars, rng).map_err(|e| e.to_string())?),
        Body::Json(json) => {
            let value = json.render(vars, rng).map_err(|e| e.to_string())?;
            if !step
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            {
                headers.push((
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ));
            }
            Bytes::from(serde_json::to_vec(&value).map_err(|e| e.to_string())?)
        }
    };
    Ok(OutRequest {
        method,
        url,
        headers,
        body,
        timeout: Duration::from_millis(step.timeout_ms),
        keep_body: !step.checks.is_empty() || !step.extract.is_empty(),
        follow_redirects: step.follow_redirects,
    })
}
