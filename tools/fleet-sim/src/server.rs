//! One HTTP server per agent: which routes an agent serves, and the layer in front of them.
//!
//! Every agent serves `/health`, `POST /v1/auth/login` (a bearer token for a user) and
//! `GET /v1/me` (200 with a token the fleet issued, else 401); ATLAS adds chat, EVENT-BUS the event API, creative agents
//! tasks, and CLIO its assets. In front of each agent's router sits one middleware that counts
//! the request under its route pattern (before routing, so 404s and 405s count too), adds the
//! agent's fixed `slow` delay, and answers injected failures. Servers run on listeners bound
//! beforehand and stop gracefully when the shutdown token is cancelled.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::serve::Listener;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::AgentPlan;
use crate::context::{AgentCtx, Shared};
use crate::counts::lock;
use crate::handlers;

const HEALTH: &str = "/health";
const CHAT: &str = "/v1/chat";
const EVENTS: &str = "/v1/events";
const EVENTS_BATCH: &str = "/v1/events/batch";
const EVENT_ACK: &str = "/v1/events/{id}/ack";
const TASKS: &str = "/v1/tasks";
const TASKS_BATCH: &str = "/v1/tasks/batch";
const ASSETS: &str = "/v1/assets";
const LOGIN: &str = "/v1/auth/login";
const ME: &str = "/v1/me";

/// The router of one agent, with the counting and fault layer in front.
pub(crate) fn agent_router(plan: &AgentPlan, shared: Arc<Shared>) -> Router {
    let agent = &plan.agent;
    let mut router = Router::new()
        .route(HEALTH, get(handlers::health))
        .route(LOGIN, post(handlers::login))
        .route(ME, get(handlers::me));
    let mut routes = vec![HEALTH, LOGIN, ME];
    if agent.name.eq_ignore_ascii_case("ATLAS") {
        router = router.route(CHAT, post(handlers::chat));
        routes.push(CHAT);
    }
    if agent.name.eq_ignore_ascii_case("EVENT-BUS") {
        router = router
            .route(
                EVENTS,
                get(handlers::query_events).post(handlers::publish_event),
            )
            .route(EVENTS_BATCH, post(handlers::publish_batch))
            .route(EVENT_ACK, post(handlers::ack_event));
        routes.extend([EVENTS, EVENTS_BATCH, EVENT_ACK]);
    }
    if agent.category.eq_ignore_ascii_case("creative") {
        router = router
            .route(TASKS, post(handlers::task))
            .route(TASKS_BATCH, post(handlers::task_batch));
        routes.extend([TASKS, TASKS_BATCH]);
    }
    if agent.name.eq_ignore_ascii_case("CLIO") {
        router = router.route(ASSETS, get(handlers::assets));
        routes.push(ASSETS);
    }
    let ctx = AgentCtx {
        name: Arc::from(agent.name.as_str()),
        slow: plan.slow,
        fail: plan.fail.clone().into(),
        routes: routes.into(),
        capacity: plan
            .capacity
            .map(|c| Arc::new(Semaphore::new(usize::try_from(c).unwrap_or(usize::MAX)))),
        shared,
    };
    router
        .fallback(handlers::not_found)
        .layer(middleware::from_fn_with_state(
            ctx.clone(),
            count_and_inject,
        ))
        .with_state(ctx)
}

/// A request header whose value the fleet keeps, for `GET /records` on the admin port.
pub(crate) const RECORD_HEADER: &str = "x-sim-record";

/// Counts the request (and keeps its `X-Sim-Record` value), adds the agent's fixed delay,
/// and answers injected failures (drawn by the error rate, or every request of a
/// `--fail-endpoint`).
async fn count_and_inject(State(ctx): State<AgentCtx>, request: Request, next: Next) -> Response {
    let key = count_key(&ctx.routes, request.method(), request.uri().path());
    let failing =
        !ctx.fail.is_empty() && fails(&ctx.fail, &key, request.method(), request.uri().path());
    ctx.shared.counter.record(&ctx.name, key);
    if let Some(value) = request.headers().get(RECORD_HEADER) {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        lock(&ctx.shared.records).push(value);
    }
    // With a capacity, the request's whole service (the fixed delay, the injected failure or
    // the handler's simulated work) happens while it holds one of the agent's places.
    let _place = match &ctx.capacity {
        Some(queue) => match ctx.shared.latency.admit(queue).await {
            Some(place) => Some(place),
            None => return handlers::error(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
        },
        None => None,
    };
    ctx.shared.latency.pause(ctx.slow).await;
    if failing || ctx.shared.latency.inject_failure() {
        return handlers::error(StatusCode::INTERNAL_SERVER_ERROR, "injected failure");
    }
    next.run(request).await
}

/// `"METHOD /pattern"` for a path one of `routes` matches, else `"METHOD /path"` as received.
fn count_key(routes: &[&'static str], method: &Method, path: &str) -> String {
    let pattern = routes.iter().find(|pattern| matches_pattern(pattern, path));
    format!("{method} {}", pattern.copied().unwrap_or(path))
}

/// Whether one of `fail` (`METHOD /path`) names the endpoint counted as `key` (`METHOD
/// /pattern`) or the request `method path` itself.
fn fails(fail: &[String], key: &str, method: &Method, path: &str) -> bool {
    fail.iter().any(|f| {
        f == key
            || f.split_once(' ')
                .is_some_and(|(m, p)| m == method.as_str() && p == path)
    })
}

/// Whether `path` fits `pattern`, where a `{...}` segment stands for any non-empty segment.
fn matches_pattern(pattern: &str, path: &str) -> bool {
    let mut want = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w.starts_with('{') && !g.is_empty() => {}
            (Some(w), Some(g)) if w == g => {}
            _ => return false,
        }
    }
}

/// How long an agent's listener waits after a failed accept (at the open-file limit, say)
/// before it tries again. axum's own listener waits a second, in which the backlog fills
/// and clients' connects time out; files come free as soon as any connection closes.
const ACCEPT_RETRY: Duration = Duration::from_millis(5);

/// A TCP listener that sets `TCP_NODELAY` on every connection and, when an accept fails,
/// logs it (once a second at most) and retries after [`ACCEPT_RETRY`].
struct SimListener {
    inner: TcpListener,
    /// When the last accept failure was logged.
    last_logged: Option<tokio::time::Instant>,
    /// Failures not logged since then.
    unlogged: u64,
}

impl Listener for SimListener {
    type Io = TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (TcpStream, std::net::SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok((tcp, addr)) => {
                    if let Err(err) = tcp.set_nodelay(true) {
                        tracing::debug!(error = %err, "cannot set TCP_NODELAY");
                    }
                    return (tcp, addr);
                }
                Err(err) if is_connection_error(&err) => {}
                Err(err) => {
                    let now = tokio::time::Instant::now();
                    if self
                        .last_logged
                        .is_none_or(|at| now - at >= Duration::from_secs(1))
                    {
                        tracing::warn!(error = %err, also = self.unlogged, "accept failed; retrying");
                        (self.last_logged, self.unlogged) = (Some(now), 0);
                    } else {
                        self.unlogged += 1;
                    }
                    tokio::time::sleep(ACCEPT_RETRY).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.inner.local_addr()
    }
}

/// Errors of one connection (gone before it was accepted), not of the listener.
fn is_connection_error(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Serves `router` on `listener` until `shutdown` is cancelled, as a task of `servers`.
pub(crate) fn spawn_server(
    servers: &mut JoinSet<()>,
    what: String,
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) {
    let listener = SimListener {
        inner: listener,
        last_logged: None,
        unlogged: 0,
    };
    servers.spawn(async move {
        let serve =
            axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned());
        if let Err(err) = serve.await {
            tracing::warn!(server = %what, error = %err, "server stopped with an error");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_use_route_patterns_and_drop_queries() {
        let routes = [HEALTH, EVENTS, EVENTS_BATCH, EVENT_ACK];
        let key = |method: Method, path: &str| count_key(&routes, &method, path);
        assert_eq!(key(Method::GET, "/health"), "GET /health");
        assert_eq!(
            key(Method::POST, "/v1/events/abc-1/ack"),
            "POST /v1/events/{id}/ack"
        );
        assert_eq!(
            key(Method::POST, "/v1/events/batch"),
            "POST /v1/events/batch"
        );
        assert_eq!(key(Method::DELETE, "/v1/events"), "DELETE /v1/events");
        assert_eq!(key(Method::POST, "/v1/events//ack"), "POST /v1/events//ack");
        assert_eq!(key(Method::GET, "/nope"), "GET /nope");
        assert_eq!(key(Method::GET, "/health/"), "GET /health/");
    }
}
