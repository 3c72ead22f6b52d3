//! Answers the web handlers share: Locust's failure shape, and a run's or a search's
//! report file with the content type of its kind.

use std::path::Path;

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Locust's failure answer with `status`.
pub(super) fn failure(status: StatusCode, message: impl Into<String>) -> Response {
    let body = json!({ "success": false, "message": message.into() });
    (status, Json(body)).into_response()
}

/// The report file at `path`, typed by its `kind` (`json`, `html`, else CSV); 404 when it
/// cannot be read.
pub(super) async fn file(kind: &str, path: &Path) -> Response {
    let content_type = match kind {
        "json" => "application/json",
        "html" => "text/html; charset=utf-8",
        _ => "text/csv",
    };
    match tokio::fs::read(path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
        Err(err) => failure(
            StatusCode::NOT_FOUND,
            format!("cannot read {}: {err}", path.display()),
        ),
    }
}
