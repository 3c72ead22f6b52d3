//! The routes: Locust's API, lv's `/api/v1`, `/metrics` and the page. Handlers read the
//! latest snapshot or send one command; none holds run state.

use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::body::{self, SWARM_BODY_LIMIT};
use super::reply::{self, failure};
use super::state::AppState;
use super::{assets, capacity, locust, metrics, sse};
use crate::live::control::{Command, CommandError};
use crate::live::snapshot::Snapshot;
use crate::report::summary::run_stats_from;

/// Every route of the web server.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*path}", get(asset))
        .route(
            "/swarm",
            post(swarm).layer(DefaultBodyLimit::max(SWARM_BODY_LIMIT)),
        )
        .route("/stop", get(stop).post(stop))
        .route("/stats/reset", get(reset).post(reset))
        .route("/stats/requests", get(request_stats))
        .route("/stats/requests/csv", get(requests_csv))
        .route("/stats/failures/csv", get(failures_csv))
        .route("/stats/requests_full_history/csv", get(history_csv))
        .route("/exceptions", get(exceptions))
        .route("/exceptions/csv", get(exceptions_csv))
        .route("/stats/report", get(html_report))
        .route("/tasks", get(tasks))
        .route("/worker-count", get(worker_count))
        .route("/api/v1/report", get(report))
        .route("/api/v1/status", get(status))
        .route("/api/v1/events", get(events))
        .route("/api/v1/runs", get(runs))
        .route("/api/v1/runs/{run_id}/{file}", get(run_file))
        .route("/api/v1/compare", get(compare))
        .route(
            "/api/v1/capacity",
            get(capacity::status)
                .post(capacity::start)
                .layer(DefaultBodyLimit::max(SWARM_BODY_LIMIT)),
        )
        .route("/api/v1/capacity/stop", post(capacity::stop))
        .route("/api/v1/capacity/{file}", get(capacity::file))
        .route("/metrics", get(prometheus))
}

/// Why a read-only master refuses a state change.
const READ_ONLY: &str =
    "read-only: this master does not accept state changes (--web-readonly or headless)";

fn readonly(state: &AppState) -> Option<Response> {
    state
        .readonly()
        .then(|| failure(StatusCode::FORBIDDEN, READ_ONLY))
}

/// Refuses a change of the runs while a capacity search drives them.
/// Why no run may start or change while a capacity search runs.
const SEARCHING: &str =
    "a capacity search is running: stop it first (POST /api/v1/capacity/stop or /stop)";

/// Whether a capacity search is running.
fn search_running(state: &AppState) -> bool {
    state.capacity.as_ref().is_some_and(|s| s.is_running())
}

fn searching(state: &AppState) -> Option<Response> {
    search_running(state).then(|| failure(StatusCode::CONFLICT, SEARCHING))
}

fn command_status(err: &CommandError) -> StatusCode {
    match err {
        CommandError::Conflict(_) => StatusCode::CONFLICT,
        CommandError::Invalid(_) => StatusCode::BAD_REQUEST,
        CommandError::Gone => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn command_failure(err: &CommandError) -> Response {
    failure(command_status(err), err.to_string())
}

async fn index() -> Html<&'static str> {
    Html(assets::INDEX)
}

async fn asset(Path(path): Path<String>) -> Response {
    match assets::find(&path) {
        Some(asset) => ([(header::CONTENT_TYPE, asset.content_type)], asset.bytes).into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

/// A refused `/swarm`, with the `host` Locust's refusals carry.
fn swarm_failure(state: &AppState, status: StatusCode, message: String) -> Response {
    let host = state.control.snapshot().live.host.clone();
    let body = json!({ "success": false, "message": message, "host": host });
    (status, Json(body)).into_response()
}

async fn swarm(State(state): State<AppState>, request: Request) -> Response {
    if state.readonly() {
        return swarm_failure(&state, StatusCode::FORBIDDEN, READ_ONLY.to_owned());
    }
    if search_running(&state) {
        return swarm_failure(&state, StatusCode::CONFLICT, SEARCHING.to_owned());
    }
    let form = match body::read_form(&state, request).await {
        Ok(form) => form,
        Err(err) => return swarm_failure(&state, err.status, err.message),
    };
    match state.control.ask(|reply| Command::Swarm(form, reply)).await {
        Ok(started) => Json(locust::swarm_started(&started)).into_response(),
        Err(err) => {
            let status = command_status(&err);
            swarm_failure(&state, status, err.to_string())
        }
    }
}

async fn stop(State(state): State<AppState>) -> Response {
    if let Some(refused) = readonly(&state) {
        return refused;
    }
    // The page's Stop ends a capacity search as a whole, not just its current step.
    if state.capacity.as_ref().is_some_and(|s| s.stop()) {
        return Json(json!({ "success": true, "message": "Capacity search stopped" }))
            .into_response();
    }
    match state.control.ask(Command::Stop).await {
        Ok(()) => Json(json!({ "success": true, "message": "Test stopped" })).into_response(),
        Err(err) => command_failure(&err),
    }
}

async fn reset(State(state): State<AppState>) -> Response {
    if let Some(refused) = readonly(&state).or_else(|| searching(&state)) {
        return refused;
    }
    match state.control.ask(Command::Reset).await {
        Ok(()) => "ok".into_response(),
        Err(err) => command_failure(&err),
    }
}

async fn request_stats(State(state): State<AppState>) -> Response {
    let snapshot = state.control.snapshot();
    let body = snapshot
        .request_stats
        .get_or_init(|| locust::request_stats(&snapshot).to_string())
        .clone();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A CSV download named as Locust names it (see [`locust::download_name`]).
fn csv(snapshot: &Snapshot, prefix: &str, body: String) -> Response {
    let name = locust::download_name(snapshot, &format!("_{prefix}.csv"));
    let disposition = format!("attachment;filename={name}");
    (
        [
            (header::CONTENT_TYPE, "text/csv".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

/// A CSV rendered from the snapshot's report (histograms decoded again).
fn csv_from_report(
    state: &AppState,
    prefix: &str,
    render: impl Fn(&crate::aggregate::RunStats, f64) -> String,
) -> Response {
    let snapshot = state.control.snapshot();
    match run_stats_from(&snapshot.report) {
        Ok(run) => csv(&snapshot, prefix, render(&run, snapshot.report.run_time_s)),
        Err(err) => failure(StatusCode::INTERNAL_SERVER_ERROR, err),
    }
}

async fn requests_csv(State(state): State<AppState>) -> Response {
    csv_from_report(&state, "requests", crate::report::csv::stats_csv)
}

async fn failures_csv(State(state): State<AppState>) -> Response {
    csv_from_report(&state, "failures", |run, _| {
        crate::report::csv::failures_csv(run)
    })
}

async fn exceptions_csv(State(state): State<AppState>) -> Response {
    csv_from_report(&state, "exceptions", |run, _| {
        crate::report::csv::exceptions_csv(run)
    })
}

async fn history_csv(State(state): State<AppState>) -> Response {
    let snapshot = state.control.snapshot();
    let history = &snapshot.report.history;
    let full = history.iter().any(|row| !row.endpoints.is_empty());
    csv(
        &snapshot,
        "requests_full_history",
        crate::report::csv::history_csv(history, full),
    )
}

async fn exceptions(State(state): State<AppState>) -> Json<Value> {
    Json(locust::exceptions(&state.control.snapshot()))
}

/// `?download=1` (any non-empty value, as Locust reads it) asks for an attachment.
#[derive(Debug, Deserialize)]
struct ReportQuery {
    #[serde(default)]
    download: String,
}

async fn html_report(State(state): State<AppState>, Query(query): Query<ReportQuery>) -> Response {
    let snapshot = state.control.snapshot();
    let html = Html(crate::report::html::render_html(&snapshot.report));
    if query.download.is_empty() {
        return html.into_response();
    }
    let name = locust::download_name(&snapshot, ".html");
    let disposition = format!("attachment;filename={name}");
    ([(header::CONTENT_DISPOSITION, disposition)], html).into_response()
}

async fn tasks(State(state): State<AppState>) -> Json<Value> {
    Json(locust::tasks(&state.control.snapshot().plan))
}

async fn worker_count(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "worker_count": state.control.snapshot().live.worker_count }))
}

async fn report(State(state): State<AppState>) -> Response {
    Json(&state.control.snapshot().report).into_response()
}

async fn status(State(state): State<AppState>) -> Response {
    let snapshot = state.control.snapshot();
    if snapshot.live.readonly == state.readonly() {
        return Json(&snapshot.live).into_response();
    }
    let mut live = snapshot.live.clone();
    live.readonly = state.readonly();
    Json(live).into_response()
}

async fn events(State(state): State<AppState>) -> Response {
    sse::response(state.control.subscribe(), state.shutdown.clone()).into_response()
}

async fn runs(State(state): State<AppState>) -> Response {
    Json(state.control.snapshot().runs.as_slice()).into_response()
}

async fn run_file(
    State(state): State<AppState>,
    Path((run_id, file)): Path<(String, String)>,
) -> Response {
    let snapshot = state.control.snapshot();
    let Some(path) = snapshot
        .runs
        .iter()
        .find(|r| r.run_id == run_id)
        .and_then(|r| r.paths.get(&file))
    else {
        return failure(
            StatusCode::NOT_FOUND,
            format!("no file {file} for run {run_id}"),
        );
    };
    reply::file(&file, path).await
}

/// `?base=RUN&new=RUN[&max_regression=PERCENT]`.
#[derive(Debug, Deserialize)]
struct CompareQuery {
    base: String,
    new: String,
    #[serde(default = "default_regression")]
    max_regression: f64,
}

fn default_regression() -> f64 {
    10.0
}

async fn compare(State(state): State<AppState>, Query(query): Query<CompareQuery>) -> Response {
    let snapshot = state.control.snapshot();
    let load = |run_id: &str| {
        let record = snapshot
            .runs
            .iter()
            .find(|r| r.run_id == run_id)
            .ok_or_else(|| format!("no run {run_id}"))?;
        let path = record
            .paths
            .get("json")
            .ok_or_else(|| format!("run {run_id} has no JSON report"))?;
        crate::report::summary::read_json(path)
    };
    let loaded = load(&query.base).and_then(|base| Ok((base, load(&query.new)?)));
    let result = loaded
        .and_then(|(base, new)| crate::report::compare::compare(&base, &new, query.max_regression));
    match result {
        Ok(comparison) => Json(comparison_json(&comparison)).into_response(),
        Err(err) => failure(StatusCode::BAD_REQUEST, err),
    }
}

async fn prometheus(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok());
    let format = metrics::Format::negotiate(accept);
    let text = metrics::render(&state.control.snapshot(), format);
    (
        [
            (header::CONTENT_TYPE, format.content_type()),
            (header::VARY, "Accept"),
        ],
        text,
    )
        .into_response()
}

/// The comparison as JSON, plus `table`: the text `lv-master compare` prints.
pub fn comparison_json(comparison: &crate::report::compare::Comparison) -> Value {
    use crate::report::compare::{Figures, Metric};
    let figures = |f: &Option<Figures>| {
        f.map(|f| {
            json!({
                "requests": f.requests, "rps": f.rps, "p50_ms": f.p50_ms,
                "p95_ms": f.p95_ms, "p99_ms": f.p99_ms, "failure_ratio": f.failure_ratio,
            })
        })
    };
    let rows: Vec<Value> = comparison
        .rows
        .iter()
        .map(|row| {
            let changes: serde_json::Map<String, Value> = Metric::ALL
                .iter()
                .filter_map(|&m| {
                    row.change(m).map(|c| {
                        (
                            m.name().to_owned(),
                            json!({ "absolute": c.absolute, "percent": c.percent }),
                        )
                    })
                })
                .collect();
            json!({
                "method": row.method,
                "name": row.name,
                "base": figures(&row.base),
                "new": figures(&row.new),
                "changes": changes,
                "regressed": row.regressed.iter().map(|m| m.name()).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "rows": rows,
        "regressions": comparison.regressions,
        "max_regression_percent": comparison.max_regression_percent,
        "table": crate::report::compare::render_table(comparison),
    })
}
