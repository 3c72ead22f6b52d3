//! The admin server: what the fleet received, and a way to start counting afresh.
//!
//! `GET /counts` returns the [`Counts`](crate::Counts) as JSON, `GET /records` the values of
//! the `X-Sim-Record` request header in arrival order (`{"values":[...],"dropped":N}`), and
//! `POST /reset` zeroes both (204). Admin requests are not counted, so polling the counts
//! never changes them.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::context::{Records, Shared};
use crate::counts::Counts;
use crate::counts::lock;

/// The admin router.
pub(crate) fn admin_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/counts", get(counts))
        .route("/records", get(records))
        .route("/reset", post(reset))
        .with_state(shared)
}

async fn counts(State(shared): State<Arc<Shared>>) -> Json<Counts> {
    Json(shared.counter.snapshot())
}

async fn records(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    let records = lock(&shared.records);
    Json(serde_json::json!({ "values": records.values, "dropped": records.dropped }))
}

async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.counter.reset();
    *lock(&shared.records) = Records::default();
    StatusCode::NO_CONTENT
}
