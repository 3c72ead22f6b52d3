//! The agents' endpoints: health, ATLAS chat, the event bus, creative tasks, CLIO's assets,
//! and every agent's login (`POST /v1/auth/login`, `GET /v1/me` with its token).
//!
//! Bodies are parsed by hand from bytes rather than with axum's `Json` extractor, so every
//! malformed or incomplete body gets the same answer lv's checks expect: 400 with a JSON
//! `{"error": ...}`. State changes happen under short std-mutex sections; the simulated latency
//! is slept outside them.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::context::AgentCtx;
use crate::counts::lock;
use crate::latency::Work;
use crate::state::TaskResult;

/// Default and largest `limit` of an event query.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;

/// A JSON answer.
fn reply(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// A success answer; with `contract_only`, only the `documented` fields of `body` (the
/// fields DESIGN.md's "The HTTP API" promises; none for endpoints it gives no shape).
pub(crate) fn answer(
    ctx: &AgentCtx,
    status: StatusCode,
    body: Value,
    documented: &[&str],
) -> Response {
    if !ctx.shared.contract_only {
        return reply(status, body);
    }
    let trimmed = match body {
        Value::Object(fields) => fields
            .into_iter()
            .filter(|(name, _)| documented.contains(&name.as_str()))
            .collect(),
        _ => serde_json::Map::new(),
    };
    reply(status, Value::Object(trimmed))
}

/// A JSON `{"error": message}` answer.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    reply(status, json!({ "error": message }))
}

/// A body that could not be parsed; answers 400 with what was wrong.
#[derive(Debug)]
pub(crate) struct BadBody(String);

impl IntoResponse for BadBody {
    fn into_response(self) -> Response {
        error(
            StatusCode::BAD_REQUEST,
            &format!("invalid body: {}", self.0),
        )
    }
}

/// Parses a JSON body.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, BadBody> {
    serde_json::from_slice(body).map_err(|err| BadBody(err.to_string()))
}

/// Any path the agent does not serve.
pub(crate) async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

/// `GET /health`.
pub(crate) async fn health(State(ctx): State<AgentCtx>) -> Response {
    ctx.shared.latency.work(Work::Health, 1.0).await;
    answer(
        &ctx,
        StatusCode::OK,
        json!({ "status": "healthy", "agent": &*ctx.name }),
        &["status", "agent"],
    )
}

#[derive(Debug, Deserialize)]
struct ChatRequest {
    #[serde(default = "default_persona")]
    agent: String,
    message: String,
    conversation_id: Option<String>,
    #[serde(default)]
    mode: ChatMode,
}

fn default_persona() -> String {
    "ARIA".to_string()
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ChatMode {
    #[default]
    Chat,
    Research,
    Workflow,
}

/// ATLAS `POST /v1/chat`: opens a conversation or adds a turn to a known one.
pub(crate) async fn chat(State(ctx): State<AgentCtx>, body: Bytes) -> Result<Response, BadBody> {
    let request: ChatRequest = parse(&body)?;
    let opened = {
        let mut conversations = lock(&ctx.shared.conversations);
        match &request.conversation_id {
            None => Some(conversations.open()),
            Some(id) => conversations.follow_up(id).map(|turn| (id.clone(), turn)),
        }
    };
    let Some((conversation_id, turn)) = opened else {
        return Ok(error(StatusCode::NOT_FOUND, "unknown conversation"));
    };
    let factor = match request.mode {
        ChatMode::Chat => 1.0,
        ChatMode::Research | ChatMode::Workflow => 2.0,
    };
    ctx.shared.latency.work(Work::Chat, factor).await;
    let reply_text = format!(
        "{} ({:?} mode) heard {} characters on turn {turn}",
        request.agent,
        request.mode,
        request.message.chars().count()
    );
    Ok(answer(
        &ctx,
        StatusCode::OK,
        json!({ "conversation_id": conversation_id, "reply": reply_text, "turn": turn }),
        &["conversation_id", "reply"],
    ))
}

#[derive(Debug, Deserialize)]
struct EventIn {
    #[serde(rename = "type")]
    kind: String,
    /// Checked for its type (a string when present), not stored.
    #[serde(default, rename = "source")]
    _source: Option<String>,
}

#[derive(Debug, Deserialize)]
struct EventBatch {
    events: Vec<EventIn>,
}

/// EVENT-BUS `POST /v1/events`.
pub(crate) async fn publish_event(
    State(ctx): State<AgentCtx>,
    body: Bytes,
) -> Result<Response, BadBody> {
    let event: EventIn = parse(&body)?;
    let event_id = lock(&ctx.shared.events).publish(event.kind);
    ctx.shared.latency.work(Work::Event, 1.0).await;
    Ok(answer(
        &ctx,
        StatusCode::CREATED,
        json!({ "event_id": event_id }),
        &["event_id"],
    ))
}

/// EVENT-BUS `POST /v1/events/batch`.
pub(crate) async fn publish_batch(
    State(ctx): State<AgentCtx>,
    body: Bytes,
) -> Result<Response, BadBody> {
    let batch: EventBatch = parse(&body)?;
    let event_ids: Vec<String> = {
        let mut events = lock(&ctx.shared.events);
        batch
            .events
            .into_iter()
            .map(|event| events.publish(event.kind))
            .collect()
    };
    ctx.shared.latency.work(Work::EventBatch, 1.0).await;
    Ok(answer(
        &ctx,
        StatusCode::CREATED,
        json!({ "event_ids": event_ids }),
        &[],
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct EventQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    limit: Option<String>,
}

/// EVENT-BUS `GET /v1/events?type=T&limit=N`: newest first.
pub(crate) async fn query_events(
    State(ctx): State<AgentCtx>,
    query: Result<Query<EventQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return error(StatusCode::BAD_REQUEST, "invalid query string");
    };
    let limit = match query.limit.as_deref().map(str::parse::<usize>) {
        None => DEFAULT_LIMIT,
        Some(Ok(limit)) => limit.min(MAX_LIMIT),
        Some(Err(_)) => {
            return error(StatusCode::BAD_REQUEST, "limit must be a whole number");
        }
    };
    let events = lock(&ctx.shared.events).query(query.kind.as_deref(), limit);
    ctx.shared.latency.work(Work::Event, 1.0).await;
    answer(&ctx, StatusCode::OK, json!({ "events": events }), &[])
}

/// EVENT-BUS `POST /v1/events/{id}/ack`.
pub(crate) async fn ack_event(State(ctx): State<AgentCtx>, Path(id): Path<String>) -> Response {
    if !lock(&ctx.shared.events).ack(&id) {
        return error(StatusCode::NOT_FOUND, "unknown event");
    }
    ctx.shared.latency.work(Work::Event, 1.0).await;
    answer(
        &ctx,
        StatusCode::OK,
        json!({ "event_id": id, "acked": true }),
        &[],
    )
}

#[derive(Debug, Deserialize)]
struct TaskIn {
    #[serde(rename = "type")]
    kind: String,
    brief: String,
}

#[derive(Debug, Deserialize)]
struct TaskBatch {
    tasks: Vec<TaskIn>,
}

/// Creative agents' `POST /v1/tasks`: answers after the simulated work.
pub(crate) async fn task(State(ctx): State<AgentCtx>, body: Bytes) -> Result<Response, BadBody> {
    let task: TaskIn = parse(&body)?;
    ctx.shared.latency.work(Work::Task, 1.0).await;
    let result = TaskResult::done(&ctx.name, &task.kind, &task.brief);
    lock(&ctx.shared.assets).add(result.clone());
    Ok(answer(&ctx, StatusCode::OK, json!(result), &[]))
}

/// Creative agents' `POST /v1/tasks/batch`.
pub(crate) async fn task_batch(
    State(ctx): State<AgentCtx>,
    body: Bytes,
) -> Result<Response, BadBody> {
    let batch: TaskBatch = parse(&body)?;
    ctx.shared.latency.work(Work::TaskBatch, 1.0).await;
    let results: Vec<TaskResult> = batch
        .tasks
        .iter()
        .map(|task| TaskResult::done(&ctx.name, &task.kind, &task.brief))
        .collect();
    {
        let mut assets = lock(&ctx.shared.assets);
        for result in &results {
            assets.add(result.clone());
        }
    }
    Ok(answer(
        &ctx,
        StatusCode::OK,
        json!({ "results": results }),
        &[],
    ))
}

/// CLIO `GET /v1/assets`: the newest task results of every creative agent.
pub(crate) async fn assets(State(ctx): State<AgentCtx>) -> Response {
    ctx.shared.latency.work(Work::Assets, 1.0).await;
    let assets = lock(&ctx.shared.assets).list();
    answer(&ctx, StatusCode::OK, json!({ "assets": assets }), &[])
}

#[derive(Debug, Deserialize)]
struct LoginRequest {
    username: String,
    #[allow(dead_code, reason = "required in the body; any password is accepted")]
    password: String,
}

/// `POST /v1/auth/login` with `{"username", "password"}`: 200 `{"token", "user"}` (any
/// password is accepted), 400 on a bad body.
pub(crate) async fn login(State(ctx): State<AgentCtx>, body: Bytes) -> Result<Response, BadBody> {
    let request: LoginRequest = parse(&body)?;
    let token = lock(&ctx.shared.tokens).issue(&request.username);
    ctx.shared.latency.work(Work::Health, 1.0).await;
    Ok(answer(
        &ctx,
        StatusCode::OK,
        json!({ "token": token, "user": request.username }),
        &["token", "user"],
    ))
}

/// `GET /v1/me` with `Authorization: Bearer TOKEN`: 200 `{"user"}` for a token this fleet
/// issued, else 401 `{"error"}`.
pub(crate) async fn me(State(ctx): State<AgentCtx>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let user = token.and_then(|t| lock(&ctx.shared.tokens).user(t).map(str::to_owned));
    ctx.shared.latency.work(Work::Health, 1.0).await;
    match user {
        Some(user) => answer(&ctx, StatusCode::OK, json!({ "user": user }), &["user"]),
        None => error(
            StatusCode::UNAUTHORIZED,
            "missing or unknown bearer token (log in with POST /v1/auth/login)",
        ),
    }
}
