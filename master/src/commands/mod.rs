//! What `lv-master` does once [`crate::config::cli::parse`] has said which command it is: run a test
//! (logging, the checked configuration, the runtime, the listeners, the ready file), check
//! the scenarios and print the plan ([`check`]), compare two JSON reports, write a run's
//! reports again, or say what an exit code means. Each
//! returns its exit code or a [`CommandError`] that knows its own; only `main` touches
//! signals and the process.

pub mod check;
pub mod runner;
mod trial;

use std::future::Future;
use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tracing::info;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::capacity;
use crate::config::cli::{
    Args, CapacityArgs, CheckArgs, CompareArgs, ExplainExitArgs, LoadError, ReportArgs, TryArgs,
};
use crate::config::run::flags_config;
use crate::config::{ConfigError, Settings};
use crate::live::snapshot::Catalog;
use crate::report::conclude::{
    EXIT_CANNOT_RUN, EXIT_CODES, EXIT_FAILED, EXIT_OK, EXIT_USAGE, exit_meaning,
};
use crate::report::outputs::{OutputPaths, write_all};
use crate::report::summary::{read_json, run_stats_from, write_atomically};
use crate::report::{compare, console};
use crate::web::setup::{self, SetupError, WebOptions};
use runner::{MasterError, UiRun, WebRun};
use trial::TryError;

/// Why a command could not do its work; [`CommandError::exit_code`] maps it to the exit code.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The command line, profile or environment is wrong, or help was asked for.
    #[error(transparent)]
    Usage(#[from] LoadError),
    /// The settings parse but do not make a valid run.
    #[error("{0:#}")]
    Config(#[from] ConfigError),
    /// `--logfile` cannot be opened.
    #[error("cannot open the log file {}: {source}", path.display())]
    LogFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `--ready-file` cannot be written.
    #[error("cannot write the ready file {}: {source}", path.display())]
    ReadyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `explain-exit` was given a code that is not in [`EXIT_CODES`].
    #[error("explain-exit: {0} is not one of lv-master's exit codes: {known}", known = known_exit_codes())]
    UnknownExitCode(u8),
    /// The tokio runtime did not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The worker port cannot be bound.
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        /// `host:port`.
        bind: String,
        /// Why.
        source: std::io::Error,
    },
    /// The web options (`--web-auth`, TLS files, a public bind without auth) are wrong.
    #[error(transparent)]
    Web(#[from] SetupError),
    /// The master failed outside the run's own verdict.
    #[error("{0:#}")]
    Master(#[from] MasterError),
    /// `report` or `compare` was given a report it cannot use.
    #[error("{command}: {detail}")]
    BadReport {
        /// `report` or `compare`.
        command: &'static str,
        /// What is wrong, naming the file or endpoint.
        detail: String,
    },
    /// `report` could not write some of its files (the others were written).
    #[error("report: {}", .0.join("\nlv-master report: "))]
    Outputs(Vec<String>),
    /// `try` could not set up its HTTP client or runtime.
    #[error("try: {0}")]
    Try(#[from] TryError),
    /// `compare --record` could not append to the benchmark log.
    #[error("compare: cannot append to {}: {source}", path.display())]
    Record {
        /// The benchmark log.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl CommandError {
    /// The process exit code: 2 for bad usage or input, 3 when the work could not be done;
    /// help and `--version` exit 0.
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Usage(LoadError::Clap(err)) if !err.use_stderr() => EXIT_OK,
            CommandError::Usage(_)
            | CommandError::Config(_)
            | CommandError::Web(_)
            | CommandError::LogFile { .. }
            | CommandError::ReadyFile { .. } => EXIT_USAGE,
            CommandError::BadReport { .. } | CommandError::UnknownExitCode(_) => EXIT_USAGE,
            CommandError::Runtime(_)
            | CommandError::Bind { .. }
            | CommandError::Master(_)
            | CommandError::Outputs(_)
            | CommandError::Try(_)
            | CommandError::Record { .. } => EXIT_CANNOT_RUN,
        }
    }

    /// Prints the error as `lv-master` reports it: clap's own way for usage and help,
    /// otherwise one `lv-master[ command]: ...` line (or more) on stderr.
    pub fn print(&self) {
        match self {
            CommandError::Usage(LoadError::Clap(err)) => {
                let _ = err.print();
            }
            CommandError::BadReport { .. }
            | CommandError::Outputs(_)
            | CommandError::Record { .. }
            | CommandError::UnknownExitCode(_) => {
                lv_common::errln!("lv-master {self}");
            }
            _ => lv_common::errln!("lv-master: {self}"),
        }
    }
}

/// Runs one load test as `lv-master` does: starts logging (stderr and `--logfile`), raises
/// the open-file limit, checks the configuration, binds the worker port (and the web port),
/// writes `--ready-file` and runs until the end or until `signals` (given the shutdown
/// token) cancels it. Returns the run's exit code.
pub fn run<F, S>(args: Args, signals: S) -> Result<u8, CommandError>
where
    S: FnOnce(CancellationToken) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    if let Some(path) = &args.ready_file {
        // A ready file left by an earlier master must not pass for this one's. Best effort:
        // when it cannot be removed, writing it later fails and says why.
        let _ = std::fs::remove_file(path);
    }
    start_logging(&args)?;
    lv_common::limits::raise_fd_limit();
    if let Some(path) = &args.config {
        let profile = args.profile_name.as_deref().unwrap_or_default();
        info!(profile, path = %path.display(), "profile loaded");
    }
    let settings = Arc::new(Settings::from_args(&args)?);
    let (config, notes) = flags_config(&settings)?;
    for note in notes {
        info!("{note}");
    }
    let web = web_setup(&settings)?;
    let runtime = lv_worker::runtime().map_err(CommandError::Runtime)?;
    runtime.block_on(async {
        // Signal handlers first: a signal that arrives while binding must stop the run, not
        // kill the process.
        let shutdown = CancellationToken::new();
        tokio::spawn(signals(shutdown.clone()));
        let bind = format!("{}:{}", args.master_bind_host, args.master_bind_port);
        let (listener, addr) = listen(&bind).await?;
        lv_common::errln!("lv-master: listening for workers on {addr}");
        let (web, web_url) = match web {
            Some((options, catalog)) => {
                let (web, url) = bind_web(&settings, options, catalog).await?;
                (Some(web), Some(url))
            }
            None => (None, None),
        };
        if let Some(path) = &args.ready_file {
            write_ready_file(path, &addr.to_string(), web_url.as_deref())?;
        }
        let outcome = runner::run_with_web(config, listener, web, shutdown).await?;
        Ok(outcome.exit_code)
    })
}

/// `lv-master capacity`: checks the options (exit 2), binds the worker port, runs the
/// search through a UI-mode session without a web server (each step one run, its reports
/// under `--reports-dir`), prints the steps as they are judged and the answer, and writes
/// `--json`, `--csv`, `--html` and `--record`. Exit code: [`capacity::setup::exit_code`].
pub fn capacity<F, S>(args: CapacityArgs, signals: S) -> Result<u8, CommandError>
where
    S: FnOnce(CancellationToken) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    start_logging(&args.run)?;
    lv_common::limits::raise_fd_limit();
    let prepared = capacity::setup::prepare(&args)?;
    let runtime = lv_worker::runtime().map_err(CommandError::Runtime)?;
    let started = lv_common::wire::unix_ms_now();
    let outcome = runtime.block_on(capacity_session(&args.run, &prepared, signals))?;
    let paths = capacity::setup::ResultPaths::of(&args.run);
    Ok(capacity::setup::conclude(
        prepared, outcome, started, &paths,
    ))
}

/// The search of `prepared` in a session on the worker port `run` names.
async fn capacity_session<F, S>(
    run: &Args,
    prepared: &capacity::setup::Prepared,
    signals: S,
) -> Result<capacity::driver::SearchOutcome, CommandError>
where
    S: FnOnce(CancellationToken) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let shutdown = CancellationToken::new();
    tokio::spawn(signals(shutdown.clone()));
    let bind = format!("{}:{}", run.master_bind_host, run.master_bind_port);
    let (listener, addr) = listen(&bind).await?;
    lv_common::errln!("lv-master: listening for workers on {addr}");
    let settings = &prepared.settings;
    // --web-port serves the search read-only: each step appears as a run.
    let (web, url) = match web_setup(settings)? {
        Some((options, catalog)) => {
            let (web, url) = bind_web(settings, options, catalog).await?;
            (Some(web), Some(url))
        }
        None => (None, None),
    };
    if let Some(path) = &run.ready_file {
        write_ready_file(path, &addr.to_string(), url.as_deref())?;
    }
    let ui = UiRun {
        settings: Arc::clone(settings),
        reports_dir: settings.web.reports_dir.clone(),
        autostart: false,
        autoquit: None,
    };
    lv_common::outln!("{}", capacity::results::table_header(&prepared.setup.unit));
    let print = |step: &capacity::steps::StepRecord| {
        lv_common::outln!("{}", capacity::results::table_row(step));
    };
    let search = capacity::driver::SearchRun {
        slo: &prepared.slo,
        steps: prepared.setup.steps,
        base: settings.flags.clone(),
        workers: (settings.expect_workers, settings.expect_workers_max_wait),
        on_step: &print,
    };
    let drive = |control| async move {
        let plan = prepared.plan.new_search();
        capacity::driver::run_search(&control, &search, plan, &shutdown).await
    };
    let config = prepared.config.clone();
    Ok(runner::run_driven(config, (listener, web), ui, drive).await?)
}

/// `lv-master try`: loads and resolves the scenarios as a run with the same options would
/// (same errors), then probes one user of each class ([`trial::try_plan`]): 0 when every
/// step passed, 1 when one failed.
pub fn try_scenarios(args: &TryArgs) -> Result<u8, CommandError> {
    start_logging(&args.run)?;
    let settings = Settings::from_args(&args.run)?;
    let (config, notes) = flags_config(&settings)?;
    // The settings' own remarks (SLO verdicts off, ...) are about runs, not tries.
    for note in notes.iter().filter(|n| !settings.notes.contains(n)) {
        info!("{note}");
    }
    Ok(trial::try_plan(
        &config,
        &settings.target_tls,
        args.verbose,
    )?)
}

/// The web options and start-form choices, when the master serves the web.
fn web_setup(settings: &Settings) -> Result<Option<(WebOptions, Catalog)>, CommandError> {
    let Some(options) = setup::options(&settings.web)? else {
        return Ok(None);
    };
    let catalog = setup::catalog(settings, options.settings.readonly)?;
    Ok(Some((options, catalog)))
}

/// Binds `bind` (`host:port`; port 0 picks one) and returns the listener with its address.
async fn listen(bind: &str) -> Result<(tokio::net::TcpListener, SocketAddr), CommandError> {
    let bound = async {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        Ok((listener, addr))
    };
    bound.await.map_err(|source| CommandError::Bind {
        bind: bind.to_owned(),
        source,
    })
}

/// Binds the web listener and says where the UI is; returns it with the UI's URL.
async fn bind_web(
    settings: &Arc<Settings>,
    options: WebOptions,
    catalog: Catalog,
) -> Result<(WebRun, String), CommandError> {
    let (listener, addr) = listen(&options.bind).await?;
    let scheme = if options.settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let url = format!("{scheme}://{addr}");
    lv_common::errln!("lv-master: web UI on {url}");
    let ui = (!settings.web.headless).then(|| UiRun {
        settings: Arc::clone(settings),
        reports_dir: settings.web.reports_dir.clone(),
        autostart: options.autostart,
        autoquit: options.autoquit,
    });
    let web = WebRun {
        listener,
        settings: options.settings,
        catalog,
        ui,
    };
    Ok((web, url))
}

/// What `--ready-file` holds, in this order: where workers connect, the web UI's URL (when
/// the master serves one) and the master's process id.
#[derive(Debug, serde::Serialize)]
struct Ready<'a> {
    workers: &'a str,
    web: Option<&'a str>,
    pid: u32,
}

/// Writes the ready file: one line of JSON (see [`Ready`]), atomically, so a script that
/// sees the file can read it whole.
fn write_ready_file(path: &Path, workers: &str, web: Option<&str>) -> Result<(), CommandError> {
    let ready = Ready {
        workers,
        web,
        pid: std::process::id(),
    };
    let error = |source| CommandError::ReadyFile {
        path: path.to_owned(),
        source,
    };
    let mut line = serde_json::to_vec(&ready).map_err(|e| error(e.into()))?;
    line.push(b'\n');
    write_atomically(path, &line).map_err(error)
}

/// `lv-master check [RUN OPTIONS] [--json]`: prints the plan of the run the options
/// describe (see [`check`](mod@check)) and returns 0; a problem is a
/// [`CommandError::Config`] (exit 2).
pub fn check(args: &CheckArgs) -> Result<u8, CommandError> {
    lv_common::outln!("{}", check::output(args)?);
    Ok(EXIT_OK)
}

/// `lv-master explain-exit CODE`: prints what the code means, from the one table
/// ([`EXIT_CODES`]); 0, or 2 for a code that is not in it.
pub fn explain_exit(args: &ExplainExitArgs) -> Result<u8, CommandError> {
    let meaning = exit_meaning(args.code).ok_or(CommandError::UnknownExitCode(args.code))?;
    lv_common::outln!("{meaning}");
    Ok(EXIT_OK)
}

/// The codes of [`EXIT_CODES`] with their meanings, for the error of an unknown one.
fn known_exit_codes() -> String {
    EXIT_CODES
        .iter()
        .map(|(code, meaning)| format!("{code} ({meaning})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `lv-master report --from FILE`: prints the run's final tables and writes the reports
/// asked for. 0 when every report was written.
pub fn report(args: &ReportArgs) -> Result<u8, CommandError> {
    let bad = |detail| CommandError::BadReport {
        command: "report",
        detail,
    };
    let summary = read_json(&args.from).map_err(bad)?;
    let stats = run_stats_from(&summary).map_err(bad)?;
    if summary.checkpoint {
        lv_common::errln!(
            "lv-master report: {} is a checkpoint: the run's figures up to {} s after its start",
            args.from.display(),
            summary.run_time_s
        );
    }
    lv_common::outln!("{}", console::final_report(&summary, &stats.totals));
    let paths = OutputPaths {
        json: args.json.clone(),
        csv: args.csv.clone(),
        csv_full_history: args.csv_full_history,
        html: args.html.clone(),
        record: args.record.clone(),
    };
    let (_, errors) = write_all(&paths, &summary, &stats);
    if errors.is_empty() {
        Ok(EXIT_OK)
    } else {
        Err(CommandError::Outputs(errors))
    }
}

/// `lv-master compare BASE.json NEW.json`: prints the comparison; 0 without regression,
/// 1 with one.
pub fn compare(args: &CompareArgs) -> Result<u8, CommandError> {
    let bad = |detail| CommandError::BadReport {
        command: "compare",
        detail,
    };
    let base = read_json(&args.base).map_err(bad)?;
    let new = read_json(&args.new).map_err(bad)?;
    let comparison = compare::compare(&base, &new, args.max_regression).map_err(bad)?;
    lv_common::outln!("{}", compare::render_table(&comparison));
    if let Some(path) = &args.record {
        compare::append_benchmark(path, &new).map_err(|source| CommandError::Record {
            path: path.clone(),
            source,
        })?;
    }
    Ok(if comparison.regressions.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}

/// Logs to stderr (colours on a terminal) and, with `--logfile`, to that file too, at
/// `--loglevel` (an `EnvFilter` directive; `info` when it does not parse).
fn start_logging(args: &Args) -> Result<(), CommandError> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.loglevel)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let file = match &args.logfile {
        Some(path) => Some(open_log(path).map_err(|source| CommandError::LogFile {
            path: path.clone(),
            source,
        })?),
        None => None,
    };
    let stderr_log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        // A closed stderr must not turn into a panic ("failed printing to stderr").
        .log_internal_errors(false);
    let file_log = file.map(|file| {
        tracing_subscriber::fmt::layer()
            .with_writer(Arc::new(file))
            .with_ansi(false)
            .log_internal_errors(false)
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(stderr_log)
        .with(file_log)
        .init();
    Ok(())
}

/// Opens `path` for appending, creating its folder when needed.
fn open_log(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

#[cfg(test)]
mod tests;
