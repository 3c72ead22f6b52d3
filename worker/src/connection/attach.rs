//! Attaching to a master: the channel (with TLS when a CA is given), Hello, then the
//! master's Welcome; and what a failed attempt means for retrying.

use std::time::Duration;

use lv_common::pb::control_client::ControlClient;
use lv_common::pb::{self, master_message::Kind as MasterKind, worker_message::Kind as WorkerKind};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

use crate::config::WorkerConfig;

/// Why a connection attempt failed.
pub(super) enum AttachError {
    /// The master refused us; retrying will not help.
    Refused(String),
    /// No answer (yet).
    Unreachable(String),
}

/// An attached stream: where to send, what comes back, and the master's Welcome.
pub(super) struct Link {
    pub(super) tx: mpsc::Sender<pb::WorkerMessage>,
    pub(super) inbound: tonic::Streaming<pb::MasterMessage>,
    pub(super) welcome: pb::Welcome,
}

/// A worker message of `kind`.
pub(super) fn wrap(kind: WorkerKind) -> pb::WorkerMessage {
    pb::WorkerMessage { kind: Some(kind) }
}

/// Opens the stream, sends Hello and waits for Welcome.
pub(super) async fn attach(config: &WorkerConfig, hello: pb::Hello) -> Result<Link, AttachError> {
    let scheme = if config.tls_ca.is_some() {
        "https"
    } else {
        "http"
    };
    let address = if config.master.contains("://") {
        config.master.clone()
    } else {
        format!("{scheme}://{}", config.master)
    };
    let mut endpoint = tonic::transport::Endpoint::from_shared(address)
        .map_err(|e| AttachError::Refused(format!("bad master address {:?}: {e}", config.master)))?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true);
    if let Some(ca) = &config.tls_ca {
        let mut tls = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(ca));
        if let Some(domain) = &config.tls_domain {
            tls = tls.domain_name(domain.clone());
        }
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| AttachError::Refused(format!("TLS setup: {e}")))?;
    }
    let channel = endpoint.connect().await.map_err(|e| {
        let reason = crate::http::error_chain(&e);
        // A certificate the CA does not vouch for will not change by retrying.
        if reason.contains("certificate") {
            AttachError::Refused(format!("TLS: {reason}"))
        } else {
            AttachError::Unreachable(reason)
        }
    })?;
    let (tx, rx) = mpsc::channel(256);
    tx.send(wrap(WorkerKind::Hello(hello)))
        .await
        .map_err(|_| AttachError::Unreachable("stream closed".into()))?;
    let mut client = ControlClient::new(channel);
    let mut inbound = client
        .attach(ReceiverStream::new(rx))
        .await
        .map_err(classify)?
        .into_inner();
    let first = tokio::time::timeout(Duration::from_secs(10), inbound.message())
        .await
        .map_err(|_| AttachError::Unreachable("no Welcome within 10 s".into()))?
        .map_err(classify)?;
    match first.and_then(|m| m.kind) {
        Some(MasterKind::Welcome(welcome)) => Ok(Link {
            tx,
            inbound,
            welcome,
        }),
        _ => Err(AttachError::Unreachable(
            "the master's first message was not Welcome".into(),
        )),
    }
}

fn classify(status: tonic::Status) -> AttachError {
    match status.code() {
        Code::PermissionDenied
        | Code::Unauthenticated
        | Code::FailedPrecondition
        | Code::InvalidArgument => AttachError::Refused(status.message().to_owned()),
        _ => AttachError::Unreachable(status.message().to_owned()),
    }
}
