//! lv-master: loads the scenarios, waits for workers, assigns them users, merges their
//! stats and reports.
//!
//! # Layout
//! - [`cli`]: the command line (Locust's flag names).
//! - [`config`]: the checked configuration built from it.
//! - [`profile`]: `--config` profiles and `LV_*` variables, as command-line words.
//! - [`server`]: the gRPC Control service (Hello checks, forwarding).
//! - [`coordinator`]: run control, the single owner of workers and stats.
//! - [`registry`]: what the master knows of each worker.
//! - [`aggregate`]: merged stats of a run (pure).
//! - [`console`]: the console tables (pure).
//! - [`summary`]: the JSON summary.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aggregate::RunStats;
use lv_common::pb::control_server::ControlServer;
use lv_common::stats::StatsSet;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

pub mod aggregate;
pub mod cli;
pub mod compare;
pub mod conclude;
pub mod config;
pub mod console;
pub mod coordinator;
pub mod outputs;
pub mod profile;
pub mod registry;
pub mod report;
pub mod server;
pub mod slo;
pub mod summary;

use config::MasterConfig;
use coordinator::{Coordinator, RunResult};
use summary::Summary;

/// Exit code: every check passed.
pub const EXIT_OK: u8 = 0;
/// Exit code: bad usage or configuration.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the run could not be carried out.
pub const EXIT_CANNOT_RUN: u8 = 3;

/// What a run ended with.
pub struct Outcome {
    /// The process exit code.
    pub exit_code: u8,
    /// The report (also written to `--json`).
    pub summary: Summary,
    /// The merged stats of the whole run.
    pub stats: RunStats,
}

/// Why a master could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    /// The listener's address could not be read.
    #[error("cannot read the listening address: {0}")]
    Listener(#[from] std::io::Error),
}

/// Runs one load test: serves workers on `listener`, starts the configured local
/// workers, runs to the end and returns the outcome. `shutdown` stops the run gracefully.
pub async fn run(
    config: MasterConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<Outcome, MasterError> {
    let addr = listener.local_addr()?;
    let config = Arc::new(config);
    let server_token = CancellationToken::new();
    let (events_tx, events_rx) = mpsc::channel(4096);
    let service = server::ControlService::new(events_tx, &config.token, server_token.clone());
    let server = tokio::spawn(serve(
        service,
        listener,
        config.tls.clone(),
        server_token.clone(),
    ));
    info!(%addr, "accepting workers");
    let workers_token = CancellationToken::new();
    let local = start_local_workers(&config, addr, &workers_token);
    let result = Coordinator::new(Arc::clone(&config))
        .run(events_rx, shutdown)
        .await;
    // Local workers got Shutdown; give them a moment to leave, then make sure.
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        for worker in local {
            let _ = worker.await;
        }
    })
    .await;
    if drained.is_err() {
        warn!("local workers did not leave in time; cancelling them");
    }
    workers_token.cancel();
    server_token.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    let outcome = conclude(&config, result);
    if outcome.summary.started_unix_ms > 0 {
        println!("{}", final_report(&outcome.summary, &outcome.stats.totals));
    }
    outputs::write_all(&config.output_paths(), &outcome.summary, &outcome.stats);
    Ok(outcome)
}

async fn serve(
    service: server::ControlService,
    listener: TcpListener,
    tls: Option<config::TlsFiles>,
    token: CancellationToken,
) {
    let mut builder = tonic::transport::Server::builder().tcp_nodelay(true);
    if let Some(tls) = tls {
        let identity = tonic::transport::Identity::from_pem(tls.cert, tls.key);
        builder =
            match builder.tls_config(tonic::transport::ServerTlsConfig::new().identity(identity)) {
                Ok(builder) => builder,
                Err(err) => {
                    error!("cannot set up TLS: {err}");
                    return;
                }
            };
    }
    let result = builder
        .add_service(ControlServer::new(service))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), token.cancelled_owned())
        .await;
    if let Err(err) = result {
        error!("the gRPC server failed: {err}");
    }
}

fn start_local_workers(
    config: &MasterConfig,
    addr: SocketAddr,
    token: &CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    let target = match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
        SocketAddr::V6(a) if a.ip().is_unspecified() => format!("[::1]:{}", a.port()),
        other => other.to_string(),
    };
    (0..config.local_workers)
        .map(|i| {
            let mut worker = lv_worker::WorkerConfig::new(target.clone());
            worker.token = config.token.clone();
            worker.connect_timeout = Duration::from_secs(10);
            worker.heartbeat_timeout = config.heartbeat_timeout;
            if let Some(tls) = &config.tls {
                worker.tls_ca = Some(tls.ca.clone());
                worker.tls_domain = Some("localhost".to_owned());
            }
            let token = token.child_token();
            tokio::spawn(async move {
                if let Err(err) = lv_worker::run(worker, token).await {
                    error!(local_worker = i, "local worker failed: {err}");
                }
            })
        })
        .collect()
}

/// Turns the run's result into the exit code and report.
fn conclude(config: &MasterConfig, result: RunResult) -> Outcome {
    let (exit_code, summary) = conclude::summarize(
        config,
        &conclude::RunView {
            run_id: &result.run_id,
            stats: &result.stats,
            workers: &result.workers,
            started_unix_ms: result.started_unix_ms,
            ended_unix_ms: result.ended_unix_ms,
            aborted: result.aborted.as_deref(),
            below_target: &result.below_target,
            checkpoint: false,
        },
    );
    Outcome {
        exit_code,
        summary,
        stats: result.stats,
    }
}

/// The final console output: stats table, percentiles, failures and the verdict.
pub fn final_report(summary: &Summary, totals: &StatsSet) -> String {
    let seconds = summary.run_time_s;
    let rate = |e: &lv_common::stats::EndpointStats| {
        if seconds > 0.0 {
            (e.requests as f64 / seconds, e.failures as f64 / seconds)
        } else {
            (0.0, 0.0)
        }
    };
    let table = console::stats_table(
        totals,
        |key| totals.endpoints.get(key).map_or((0.0, 0.0), rate),
        rate(&totals.total()),
    );
    let mut out = format!(
        "\nRun {} finished after {:.1} s\n\n{table}\nResponse time percentiles (ms)\n{}",
        summary.run_id,
        seconds,
        console::percentile_table(totals)
    );
    if let Some(verdicts) = &summary.slo {
        let level = summary.meta.slo_level.as_deref().unwrap_or("?");
        out.push_str(&format!(
            "\nSLO verdicts (load level {level})\n{}",
            console::verdict_table(verdicts)
        ));
    }
    let failures = console::failures_table(totals);
    if !failures.is_empty() {
        out.push('\n');
        out.push_str(&failures);
    }
    if summary.cut_off > 0 {
        out.push_str(&format!(
            "\n{} requests were cut off by the stop (not counted as failures)\n",
            summary.cut_off
        ));
    }
    out.push_str(&console::losses(summary));
    out.push_str(&format!(
        "\nResult: {} (exit code {})\n",
        summary.verdict, summary.exit_code
    ));
    out
}
