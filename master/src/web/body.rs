//! The `/swarm` body as a [`SwarmForm`], from any of the encodings Locust's clients send:
//! `application/x-www-form-urlencoded` (`curl -d`), `multipart/form-data` (`curl -F`,
//! Flask reads both into `request.form`) and lv's `application/json`.

use axum::extract::{FromRequest as _, Multipart, Request};
use axum::http::{StatusCode, header};
use axum::{Form, Json};
use serde_json::Value;

use super::state::AppState;
use crate::live::form::{SwarmForm, json_pairs};

/// Largest `/swarm` body: a form is a few hundred bytes; anything past this is answered 413.
pub const SWARM_BODY_LIMIT: usize = 64 * 1024;

/// Most fields a multipart `/swarm` body may have (a form has eight kinds of field).
const MAX_PARTS: usize = 256;

/// Why a body could not be read: the status to answer with and a message naming the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// 413 past [`SWARM_BODY_LIMIT`], else 400 (415 for a content type no reader takes).
    pub status: StatusCode,
    /// What was wrong, starting with `body: `.
    pub message: String,
}

/// How a body is encoded, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/json`.
    Json,
    /// `multipart/form-data`.
    Multipart,
    /// Anything else: read as `application/x-www-form-urlencoded` (which refuses other types).
    UrlEncoded,
}

/// The encoding a `Content-Type` value names (parameters and case ignored).
pub fn encoding(content_type: Option<&str>) -> Encoding {
    let essence = content_type
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match essence.as_str() {
        "application/json" => Encoding::Json,
        "multipart/form-data" => Encoding::Multipart,
        _ => Encoding::UrlEncoded,
    }
}

fn unreadable(status: StatusCode, detail: &str) -> Unreadable {
    let detail = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!("more than the {SWARM_BODY_LIMIT} bytes /swarm takes")
    } else {
        lv_common::bounds::quote(detail)
    };
    Unreadable {
        status,
        message: format!("body: {detail}"),
    }
}

/// The `/swarm` form from `request`'s body, in whichever encoding it has.
pub async fn read_form(state: &AppState, request: Request) -> Result<SwarmForm, Unreadable> {
    Ok(SwarmForm::from_pairs(&read_pairs(state, request).await?))
}

/// A form body's fields as (name, text) pairs, in whichever encoding it has (a JSON
/// object's arrays become repeated fields).
pub async fn read_pairs(
    state: &AppState,
    request: Request,
) -> Result<Vec<(String, String)>, Unreadable> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    match encoding(content_type) {
        Encoding::Json => {
            let Json(value) = Json::<Value>::from_request(request, state)
                .await
                .map_err(|e| unreadable(e.status(), &e.body_text()))?;
            json_pairs(&value).map_err(|e| Unreadable {
                status: StatusCode::BAD_REQUEST,
                message: e.to_string(),
            })
        }
        Encoding::Multipart => multipart_pairs(state, request).await,
        Encoding::UrlEncoded => {
            let Form(pairs) = Form::<Vec<(String, String)>>::from_request(request, state)
                .await
                .map_err(|e| unreadable(e.status(), &e.body_text()))?;
            Ok(pairs)
        }
    }
}

/// Every part of a multipart body as a (name, text) pair; a part without a name is
/// skipped, as Flask does.
async fn multipart_pairs(
    state: &AppState,
    request: Request,
) -> Result<Vec<(String, String)>, Unreadable> {
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(|e| unreadable(e.status(), &e.body_text()))?;
    let mut pairs = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| unreadable(e.status(), &e.body_text()))?
    {
        if pairs.len() >= MAX_PARTS {
            return Err(unreadable(
                StatusCode::BAD_REQUEST,
                &format!("more than {MAX_PARTS} fields"),
            ));
        }
        let Some(name) = field.name().map(str::to_owned) else {
            continue;
        };
        let text = field
            .text()
            .await
            .map_err(|e| unreadable(e.status(), &e.body_text()))?;
        pairs.push((name, text));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests;
