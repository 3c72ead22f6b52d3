//! The web server on `--web-host`/`--web-port` (8089): the UI, Locust's HTTP API, lv's own
//! API (`/api/v1/...`, with Server-Sent Events) and `/metrics`.
//!
//! The server holds no run state: handlers read the coordinator's latest [`Snapshot`] from a
//! `watch` channel and send it [`control::Command`]s, each answered on a oneshot. Every path
//! needs HTTP Basic credentials when `--web-auth` is set; `--web-readonly` (and a headless
//! run) refuses every state change with 403. With a certificate the server speaks HTTPS.
//!
//! # Layout
//! - [`control`]: the command channel and snapshot watch shared with the coordinator.
//! - [`snapshot`]: what a snapshot holds, and its pure builders.
//! - [`form`]: `/swarm` form parsing and checks (pure).
//! - [`auth`]: Basic credentials, constant-time compare, the public-bind rule.
//! - [`cors`]: `--web-cors`, the cross-origin headers and preflight answers.
//! - [`locust`]: Locust's JSON shapes (pure).
//! - [`handlers`]: the routes.
//! - [`body`]: the `/swarm` body in any encoding (urlencoded, multipart, JSON).
//! - [`sse`]: the `/api/v1/events` stream.
//! - [`capacity`]: capacity searches started from the page.
//! - [`metrics`]: the Prometheus text.
//! - [`setup`]: web settings from the command line, and the configuration of web runs.
//! - [`tls`]: the rustls setup for HTTPS.
//! - [`assets`]: the embedded page.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

pub mod assets;
pub mod auth;
pub mod body;
pub mod capacity;
pub mod cors;
pub mod handlers;
pub mod locust;
pub mod metrics;
mod reply;
pub mod setup;
pub mod sse;
mod state;
pub mod tls;

#[cfg(test)]
pub(crate) mod fixtures;

pub use crate::live::{Command, CommandError, Control, RunParams, RunState, Snapshot, Started};
pub use state::{AppState, WebSettings};

/// The whole application: routes behind the authentication layer, behind the CORS layer.
pub fn router(state: AppState) -> Router {
    let cors = state.settings.cors.clone();
    handlers::routes()
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(middleware::from_fn_with_state(cors, cors::layer))
        .with_state(state)
}

async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(credentials) = &state.settings.auth else {
        return next.run(request).await;
    };
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    if credentials.accepts(header) {
        return next.run(request).await;
    }
    let mut response = (StatusCode::UNAUTHORIZED, "authentication required\n").into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"lv\""),
    );
    response
}

/// Serves `router` on `listener` (HTTPS when `tls` is set) until `shutdown` is cancelled;
/// open connections are closed then too.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: CancellationToken,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let connections = tokio_util::task::TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    warn!("web: accept failed: {err}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let acceptor = acceptor.clone();
        let token = shutdown.clone();
        connections.spawn(async move {
            let result = match acceptor {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => serve_connection(TokioIo::new(stream), service, token).await,
                    Err(err) => {
                        debug!(%peer, "web: TLS handshake failed: {err}");
                        return;
                    }
                },
                None => serve_connection(TokioIo::new(stream), service, token).await,
            };
            if let Err(err) = result {
                debug!(%peer, "web: connection ended: {err}");
            }
        });
    }
    connections.close();
    connections.wait().await;
}

async fn serve_connection<I>(
    io: I,
    service: TowerToHyperService<Router>,
    shutdown: CancellationToken,
) -> Result<(), hyper::Error>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            // SSE streams end on the same token, so this finishes promptly.
            match tokio::time::timeout(std::time::Duration::from_secs(2), connection).await {
                Ok(result) => result,
                Err(_) => Ok(()),
            }
        }
    }
}
