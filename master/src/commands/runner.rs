//! One run from a bound listener to its outcome: serve the workers, start the local ones,
//! let the coordinator run the test, then conclude, print the final tables and write the
//! reports. With a web server ([`run_with_web`]) in UI mode, the master lives across
//! runs. Tests call it in-process through [`crate::run`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use lv_common::pb::control_server::ControlServer;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::aggregate::RunStats;
use crate::capacity::service::Searches;
use crate::config::{self, MasterConfig, Settings};
use crate::report::conclude::EXIT_OK;
use crate::report::summary::Summary;
use crate::report::{conclude, console, outputs};
use crate::run::coordinator::{Coordinator, RunResult};
use crate::run::{coordinator, server};
use crate::web;

/// How long workers get to read their Shutdown and hang up before the server closes.
const LEAVE_GRACE: Duration = Duration::from_secs(5);

/// How long a capacity search started from the page gets to write its results at the end.
const SEARCH_GRACE: Duration = Duration::from_secs(10);

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
    run_with_web(config, listener, None, shutdown).await
}

/// The web server of a master: where it listens and what it offers.
pub struct WebRun {
    /// The bound web listener.
    pub listener: TcpListener,
    /// Protection and TLS.
    pub settings: web::WebSettings,
    /// The start form's choices.
    pub catalog: crate::live::snapshot::Catalog,
    /// UI mode (runs started from the web); `None` serves a headless run read-only.
    pub ui: Option<UiRun>,
}

/// UI mode's settings.
pub struct UiRun {
    /// The settings each run's configuration is made from.
    pub settings: Arc<Settings>,
    /// Folder of the runs' reports.
    pub reports_dir: std::path::PathBuf,
    /// Start a run from the flags at once.
    pub autostart: bool,
    /// Exit this long after a run ends.
    pub autoquit: Option<Duration>,
}

impl UiRun {
    /// The coordinator's session of these settings, taking `commands`; `quiet` prints no
    /// final tables after each run.
    fn session(self, commands: mpsc::Receiver<web::Command>, quiet: bool) -> coordinator::Session {
        coordinator::Session {
            commands,
            settings: self.settings,
            reports_dir: self.reports_dir,
            autostart: self.autostart,
            autoquit: self.autoquit,
            quiet,
        }
    }
}

/// [`run`], with a web server: in UI mode the master lives across runs until `shutdown`
/// (or `--autoquit`), and the outcome is the last run's.
pub async fn run_with_web(
    config: MasterConfig,
    listener: TcpListener,
    web: Option<WebRun>,
    shutdown: CancellationToken,
) -> Result<Outcome, MasterError> {
    let addr = listener.local_addr()?;
    let config = Arc::new(config);
    let (plane, events_rx) = ControlPlane::start(&config, listener);
    info!(%addr, "accepting workers");
    let workers_token = CancellationToken::new();
    let local = start_local_workers(&config, addr, &workers_token);
    let web_token = CancellationToken::new();
    let ui_mode = web.as_ref().is_some_and(|w| w.ui.is_some());
    let mut coordinator = Coordinator::new(Arc::clone(&config));
    let mut web_server = None;
    let mut searches = None;
    if let Some(web) = web {
        let tokens = (web_token.clone(), shutdown.clone());
        let (link, server, capacity) = start_web(&config, web, tokens);
        coordinator = coordinator.with_web(link);
        web_server = Some(server);
        searches = capacity;
    }
    let result = coordinator.run(events_rx, shutdown).await;
    if let Some(searches) = searches {
        searches.close(SEARCH_GRACE).await;
    }
    web_token.cancel();
    if let Some(server) = web_server {
        let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    }
    await_local_workers(local).await;
    plane.close(workers_token).await;
    Ok(finish(&config, result, ui_mode))
}

/// A UI-mode session driven from this process instead of a browser (`lv-master
/// capacity`): `web`, when given, serves the session read-only (its runs appear live);
/// `drive` gets the session's [`web::Control`] and runs what it
/// wants through it. When `drive` returns, the session ends as a run does (workers get
/// Shutdown) and its value is returned. `ui` says where each run's reports go.
pub async fn run_driven<T, F, Fut>(
    config: MasterConfig,
    (listener, web): (TcpListener, Option<WebRun>),
    ui: UiRun,
    drive: F,
) -> Result<T, MasterError>
where
    F: FnOnce(web::Control) -> Fut,
    Fut: Future<Output = T>,
{
    let addr = listener.local_addr()?;
    let config = Arc::new(config);
    let (plane, events_rx) = ControlPlane::start(&config, listener);
    info!(%addr, "accepting workers");
    let workers_token = CancellationToken::new();
    let local = start_local_workers(&config, addr, &workers_token);
    let (snapshots_tx, snapshots_rx) =
        tokio::sync::watch::channel(Arc::new(web::Snapshot::idle(&config, &Default::default())));
    let (commands_tx, commands_rx) = mpsc::channel(16);
    let web_token = CancellationToken::new();
    let (catalog, server) = match web {
        Some(web) => {
            let catalog = web.catalog.clone();
            let control = web::Control::read_only(snapshots_rx.clone());
            let server = serve_web(
                web.listener,
                web.settings,
                (control, None),
                web_token.clone(),
            );
            (catalog, Some(server))
        }
        None => (Default::default(), None),
    };
    let link = coordinator::WebLink {
        snapshots: snapshots_tx,
        catalog: Arc::new(catalog),
        session: Some(ui.session(commands_rx, true)),
    };
    let coordinator = Coordinator::new(Arc::clone(&config)).with_web(link);
    let end = CancellationToken::new();
    let driven = async {
        let value = drive(web::Control::new(commands_tx, snapshots_rx)).await;
        end.cancel();
        value
    };
    let (_, value) = tokio::join!(coordinator.run(events_rx, end.clone()), driven);
    web_token.cancel();
    if let Some(server) = server {
        let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    }
    await_local_workers(local).await;
    plane.close(workers_token).await;
    Ok(value)
}

/// The gRPC server workers connect to, while it serves.
struct ControlPlane {
    /// The server task.
    server: tokio::task::JoinHandle<()>,
    /// Stops the server.
    token: CancellationToken,
    /// How many worker streams are open.
    open_streams: tokio::sync::watch::Receiver<usize>,
}

impl ControlPlane {
    /// Serves workers on `listener`; returns the server and the events of its streams.
    fn start(
        config: &MasterConfig,
        listener: TcpListener,
    ) -> (ControlPlane, mpsc::Receiver<coordinator::Event>) {
        let token = CancellationToken::new();
        let (events_tx, events_rx) = mpsc::channel(4096);
        let service = server::ControlService::new(events_tx, &config.token, token.clone());
        let open_streams = service.open_streams();
        let server = tokio::spawn(serve(service, listener, config.tls.clone(), token.clone()));
        let plane = ControlPlane {
            server,
            token,
            open_streams,
        };
        (plane, events_rx)
    }

    /// Waits for the workers to hang up, then cancels them (`workers`) and the server.
    async fn close(mut self, workers: CancellationToken) {
        // Every worker got Shutdown; it hangs up once it has read it. Closing the server
        // before that could reset a stream with the Shutdown still unread, and the worker
        // would keep reconnecting to a master that is gone.
        // (An error from wait_for means the server is already gone, and its streams with it.)
        let hung_up = tokio::time::timeout(LEAVE_GRACE, self.open_streams.wait_for(|&n| n == 0))
            .await
            .map(drop);
        if hung_up.is_err() {
            let left = *self.open_streams.borrow();
            warn!(
                streams = left,
                "workers still attached after Shutdown; closing their streams"
            );
        }
        workers.cancel();
        self.token.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
    }
}

/// Local workers got Shutdown; gives them a moment to leave (the caller then makes sure).
async fn await_local_workers(local: Vec<tokio::task::JoinHandle<()>>) {
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        for worker in local {
            let _ = worker.await;
        }
    })
    .await;
    if drained.is_err() {
        warn!("local workers did not leave in time; cancelling them");
    }
}

/// The outcome of the run; without UI mode, also prints the final tables and writes the
/// reports (the checkpoint becomes the final report).
fn finish(config: &MasterConfig, result: RunResult, ui_mode: bool) -> Outcome {
    let run_config = Arc::clone(&result.config);
    // A UI-mode master that never ran a test and failed at nothing exits 0.
    let idle = ui_mode && result.started_unix_ms == 0 && result.aborted.is_none();
    let mut outcome = conclude(&run_config, result);
    if idle {
        outcome.exit_code = EXIT_OK;
    }
    if ui_mode {
        return outcome;
    }
    if outcome.summary.started_unix_ms > 0 {
        lv_common::outln!(
            "{}",
            console::final_report(&outcome.summary, &outcome.stats.totals)
        );
    }
    outputs::write_all(&config.output_paths(), &outcome.summary, &outcome.stats);
    // The checkpoint becomes the final report: the run is over, nothing to resume.
    if let Some(path) = config.checkpoint.as_ref()
        && outcome.summary.started_unix_ms > 0
        && let Err(err) = crate::report::summary::write_json(&outcome.summary, path)
    {
        warn!(path = %path.display(), "cannot mark the checkpoint finished: {err}");
    }
    outcome
}

/// Starts the web server of `web` (`token` stops it); in UI mode also the page's capacity
/// searches, which `shutdown` (the master's) stops. Returns the coordinator's side of the
/// link, the server task and the searches.
fn start_web(
    config: &MasterConfig,
    web: WebRun,
    (token, shutdown): (CancellationToken, CancellationToken),
) -> (
    coordinator::WebLink,
    tokio::task::JoinHandle<()>,
    Option<Searches>,
) {
    let catalog = Arc::new(web.catalog);
    let (snapshots_tx, snapshots_rx) =
        tokio::sync::watch::channel(Arc::new(web::Snapshot::idle(config, &catalog)));
    let (control, session, searches) = match web.ui {
        Some(ui) => {
            let (commands_tx, commands_rx) = mpsc::channel(16);
            let control = web::Control::new(commands_tx, snapshots_rx);
            let searches = Searches::new(
                control.clone(),
                Arc::clone(&ui.settings),
                Arc::clone(&catalog),
                ui.reports_dir.clone(),
                shutdown,
            );
            let session = ui.session(commands_rx, false);
            (control, Some(session), Some(searches))
        }
        None => (web::Control::read_only(snapshots_rx), None, None),
    };
    let server = serve_web(
        web.listener,
        web.settings,
        (control, searches.clone()),
        token,
    );
    let link = coordinator::WebLink {
        snapshots: snapshots_tx,
        catalog,
        session,
    };
    (link, server, searches)
}

/// Serves the web UI and API on `listener` with `control` until `token` is cancelled.
fn serve_web(
    listener: TcpListener,
    settings: web::WebSettings,
    (control, capacity): (web::Control, Option<Searches>),
    token: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let tls = settings.tls.clone();
    let state = web::AppState {
        control,
        settings: Arc::new(settings),
        shutdown: token.clone(),
        capacity,
    };
    tokio::spawn(web::serve(listener, web::router(state), tls, token))
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
            worker.target_tls = config.target_tls.clone();
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
            stopped_by: result.stopped_by.as_ref(),
            failed: result.failed.as_deref(),
            below_target: &result.below_target,
            outages: &result.outages,
            checkpoint: false,
        },
    );
    Outcome {
        exit_code,
        summary,
        stats: result.stats,
    }
}
