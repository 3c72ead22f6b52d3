//! lv-worker: connects to an lv master and runs its share of virtual users.
//!
//! # Layout
//! - [`connection`]: the control stream (connect, heartbeats, reports, reconnects).
//! - [`outbox`]: reports kept until the master acknowledges them.
//! - [`swarm`]: the virtual users, converging to the latest Assignment.
//! - [`data`]: test data: the run's tables as they arrive, and the rows users draw.
//! - [`user`]: one virtual user's loop and the execution of a request step.
//! - [`once`]: steps run once as one user (the master's setup and teardown).
//! - [`open`]: the open model's executor (arrivals on an absolute timeline).
//! - [`probe`]: one user of a class run once in detail, for `lv-master try`.
//! - [`http`]: the shared HTTP client.
//! - [`recorder`]: where users record stats until the next report.
//! - [`resources`]: the worker's own load (CPU, memory, connections, scheduling delay).
//! - [`limits`]: the open-file limit.

use lv_common::pb;
use tokio_util::sync::CancellationToken;

mod config;
pub mod connection;
pub mod data;
pub mod http;
pub mod once;
pub mod open;
pub use lv_common::limits;
pub mod outbox;
pub mod probe;
pub mod recorder;
pub mod resources;
pub mod swarm;
pub mod user;

pub use config::{WorkerConfig, WorkerError};

/// Runs a worker until the master says Shutdown (Ok), `shutdown` is cancelled (Ok), or
/// the master refuses it or cannot be reached (Err).
pub async fn run(config: WorkerConfig, shutdown: CancellationToken) -> Result<(), WorkerError> {
    let fd_limit = limits::raise_fd_limit();
    if let Some(warning) = config.target_tls.warning() {
        tracing::warn!("{warning}");
    }
    let client = http::HttpClient::with_tls(
        config.http_connect_timeout,
        connection_budget(fd_limit),
        &config.target_tls,
    )
    .map_err(|e| WorkerError::Setup(e.to_string()))?;
    let recorder = recorder::Recorder::default();
    let resources = std::sync::Arc::new(resources::Resources::new(client.clone()));
    let probe_token = shutdown.child_token();
    let probe = tokio::spawn(resources::probe_delay(
        resources.delay_probe(),
        probe_token.clone(),
    ));
    let swarm_token = shutdown.child_token();
    let (swarm, swarm_task) = swarm::spawn(client, recorder.clone(), swarm_token.clone());
    let worker_id = config
        .worker_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let span = tracing::info_span!("worker", worker_id = %worker_id);
    let hello = pb::Hello {
        worker_id,
        hostname: hostname(),
        version: lv_common::VERSION.to_owned(),
        protocol_version: lv_common::PROTOCOL_VERSION,
        cores: std::thread::available_parallelism()
            .map_or(1, |n| u32::try_from(n.get()).unwrap_or(1)),
        token: config.token.clone(),
        fd_limit: fd_limit.map_or(0, |l| l.soft),
    };
    let (done, result) = tokio::sync::oneshot::channel();
    let control = std::thread::Builder::new()
        .name("lv-control".into())
        .spawn(move || {
            let _ = done.send(control_plane(
                &config, hello, swarm, recorder, resources, &shutdown, span,
            ));
        });
    let result = match control {
        // The thread always sends unless it panicked.
        Ok(_) => result
            .await
            .unwrap_or_else(|_| Err(WorkerError::Setup("the control thread panicked".into()))),
        Err(err) => Err(WorkerError::Setup(format!(
            "cannot start the control thread: {err}"
        ))),
    };
    swarm_token.cancel();
    probe_token.cancel();
    let _ = swarm_task.await;
    let _ = probe.await;
    result
}

/// The control stream (heartbeats, assignments, reports) on a runtime and thread of its
/// own, so that a swarm saturating its runtime (an open-model rate beyond what the worker
/// can send) cannot delay heartbeats until the master declares the worker lost.
fn control_plane(
    config: &WorkerConfig,
    hello: pb::Hello,
    swarm: swarm::SwarmHandle,
    recorder: recorder::Recorder,
    resources: std::sync::Arc<resources::Resources>,
    shutdown: &CancellationToken,
    span: tracing::Span,
) -> Result<(), WorkerError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| WorkerError::Setup(format!("cannot start the control runtime: {err}")))?;
    runtime.block_on(tracing::Instrument::instrument(
        connection::serve(config, hello, swarm, recorder, resources, shutdown),
        span,
    ))
}

/// The async runtime of a process that runs users: one thread when the process may use
/// one core (pinned with `taskset`, or a container limited to one CPU), where the
/// multi-threaded scheduler's bookkeeping costs CPU and balances nothing; a thread per
/// core otherwise.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut builder = if cores == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder.enable_all().build()
}

/// Connections the HTTP client may open at once: the open-file limit less a reserve.
fn connection_budget(fd_limit: Option<limits::FdLimit>) -> usize {
    let soft = fd_limit.map_or(1024, |l| l.soft);
    usize::try_from(soft.saturating_sub(lv_common::FD_RESERVE).max(1)).unwrap_or(usize::MAX)
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}
