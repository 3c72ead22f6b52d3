//! `/api/v1/capacity`: a capacity search started from the page (UI mode), its live status,
//! its stop, and its files. The search itself runs in [`crate::capacity::service`].

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::body;
use super::reply::{self, failure};
use super::state::AppState;
use crate::capacity::form::CapacityForm;
use crate::capacity::service::SearchStatus;
use crate::live::control::CommandError;

/// Why this master cannot run searches from the page at all.
const NOT_UI_MODE: &str = "capacity searches are started from the page of a master in UI mode (not headless, not --web-readonly); use `lv-master capacity` otherwise";

/// `GET /api/v1/capacity`: the latest search and the form's choices.
pub async fn status(State(state): State<AppState>) -> Response {
    match (&state.capacity, state.readonly()) {
        (Some(searches), false) => Json(searches.status().as_ref()).into_response(),
        (Some(searches), true) => {
            let status = SearchStatus {
                unavailable: Some(NOT_UI_MODE.into()),
                ..SearchStatus::clone(&searches.status())
            };
            Json(status).into_response()
        }
        (None, _) => Json(SearchStatus {
            unavailable: Some(NOT_UI_MODE.into()),
            ..SearchStatus::default()
        })
        .into_response(),
    }
}

/// `POST /api/v1/capacity`: starts a search (the form of [`CapacityForm`]).
pub async fn start(State(state): State<AppState>, request: Request) -> Response {
    let searches = match (&state.capacity, state.readonly()) {
        (Some(searches), false) => searches.clone(),
        _ => return failure(StatusCode::FORBIDDEN, NOT_UI_MODE),
    };
    let pairs = match body::read_pairs(&state, request).await {
        Ok(pairs) => pairs,
        Err(err) => return failure(err.status, err.message),
    };
    let form = match CapacityForm::from_pairs(&pairs) {
        Ok(form) => form,
        Err(err) => return failure(StatusCode::BAD_REQUEST, err.to_string()),
    };
    match searches.start(&form) {
        Ok(()) => {
            Json(json!({ "success": true, "message": "Capacity search started" })).into_response()
        }
        Err(err) => {
            let status = match err {
                CommandError::Invalid(_) => StatusCode::BAD_REQUEST,
                CommandError::Conflict(_) => StatusCode::CONFLICT,
                CommandError::Gone => StatusCode::SERVICE_UNAVAILABLE,
            };
            failure(status, err.to_string())
        }
    }
}

/// `POST /api/v1/capacity/stop`: stops the search going.
pub async fn stop(State(state): State<AppState>) -> Response {
    match (&state.capacity, state.readonly()) {
        (Some(searches), false) if searches.stop() => {
            Json(json!({ "success": true, "message": "Capacity search stopped" })).into_response()
        }
        (Some(_), false) => failure(StatusCode::CONFLICT, "no capacity search is running"),
        _ => failure(StatusCode::FORBIDDEN, NOT_UI_MODE),
    }
}

/// `GET /api/v1/capacity/{file}`: the latest search's `json`, `csv` or `html`.
pub async fn file(State(state): State<AppState>, Path(kind): Path<String>) -> Response {
    let status = state.capacity.as_ref().map(|s| s.status());
    let Some(path) = status.as_ref().and_then(|s| s.paths.get(&kind)) else {
        return failure(
            StatusCode::NOT_FOUND,
            format!("no capacity {kind} file (kinds: json, csv, html, once a step is judged)"),
        );
    };
    reply::file(&kind, path).await
}
