//! The admin server: what the fleet received, and a way to start counting afresh.
//!
//! `GET /counts` returns the [`Counts`](crate::Counts) as JSON and `POST /reset` zeroes them
//! (204). Admin requests are not counted, so polling the counts never changes them.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::context::Shared;
use crate::counts::Counts;

/// The admin router.
pub(crate) fn admin_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/counts", get(counts))
        .route("/reset", post(reset))
        .with_state(shared)
}

async fn counts(State(shared): State<Arc<Shared>>) -> Json<Counts> {
    Json(shared.counter.snapshot())
}

async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.counter.reset();
    StatusCode::NO_CONTENT
}
