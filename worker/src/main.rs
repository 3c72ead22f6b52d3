//! `lv-worker`: parse the command line, start logging, run the worker.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lv_common::duration::parse_duration;
use lv_worker::{WorkerConfig, run};
use tokio_util::sync::CancellationToken;

/// mimalloc, not glibc's malloc: tokio aligns every task to 128 bytes, which glibc serves
/// by carving an aligned chunk out of a larger one, so a waiting user's 256-byte task took
/// 455 bytes of memory there and takes 262 with mimalloc (bench/NOTES.md, issue 24).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Opts the process out of transparent huge pages: mimalloc asks for them on its arenas,
/// and a worker's heap of small, scattered users then filled 2 MiB pages a few bytes at a
/// time (a 5,000-user worker took 37 MB instead of 4 MB; bench/NOTES.md, issue 24).
fn small_pages_only() {
    #[cfg(target_os = "linux")]
    if let Err(err) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::debug!("cannot opt out of transparent huge pages: {err}");
    }
}

/// Runs virtual users for an lv master.
#[derive(Debug, Parser)]
#[command(name = "lv-worker", version, about)]
struct Args {
    /// The master's address.
    #[arg(long, default_value = "127.0.0.1:5557", env = "LV_MASTER")]
    master: String,
    /// Shared secret the master expects.
    #[arg(long, env = "LV_TOKEN", default_value = "", hide_env_values = true)]
    token: String,
    /// Id this worker gives the master; a fresh UUID when absent. Each process needs its
    /// own: the master treats a known id as the same worker coming back.
    #[arg(long, env = "LV_WORKER_ID")]
    worker_id: Option<String>,
    /// Run this many workers in this process, each with its own id (`--worker-id` plus
    /// `-1`, `-2`, ... when given), its own connection to the master and its own users:
    /// many workers on one machine without a process each (scale tests).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    workers: u32,
    /// Give up when no master answers within this long (e.g. 60s, 5m).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    connect_timeout: Duration,
    /// Give up (exit 3) when a lost master does not answer again within this long (a
    /// restarted master resumes its run from its checkpoint if it is back in time).
    #[arg(long, default_value = "60s", value_parser = parse_duration, env = "LV_RECONNECT_TIMEOUT")]
    reconnect_timeout: Duration,
    /// Silence from the master longer than this stops all users.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    heartbeat_timeout: Duration,
    /// Connect over TLS, trusting this CA (PEM) for the master's certificate.
    #[arg(long = "tls-ca", value_name = "FILE")]
    tls_ca: Option<std::path::PathBuf>,
    /// Name the master's certificate must carry (default: the host of --master).
    #[arg(long = "tls-domain", value_name = "NAME")]
    tls_domain: Option<String>,
    /// Trust this CA (PEM) for HTTPS targets, beside the web's root certificates.
    #[arg(long = "target-ca", value_name = "FILE")]
    target_ca: Option<std::path::PathBuf>,
    /// Do not verify the certificates of HTTPS targets (test systems only).
    #[arg(long = "insecure-target")]
    insecure_target: bool,
    /// Client certificate (PEM) shown to HTTPS targets that ask for one (mTLS).
    #[arg(long = "target-cert", value_name = "FILE", requires = "target_key")]
    target_cert: Option<std::path::PathBuf>,
    /// Private key (PEM) of --target-cert.
    #[arg(long = "target-key", value_name = "FILE", requires = "target_cert")]
    target_key: Option<std::path::PathBuf>,
    /// Log level (error, warn, info, debug, trace) or a tracing filter.
    #[arg(long, default_value = "info", env = "LV_LOGLEVEL")]
    loglevel: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&args.loglevel)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .log_internal_errors(false)
        .init();
    small_pages_only();
    let runtime = match lv_worker::runtime() {
        Ok(runtime) => runtime,
        Err(err) => {
            lv_common::errln!("lv-worker: cannot start the async runtime: {err}");
            return ExitCode::from(3);
        }
    };
    let mut config = WorkerConfig::new(args.master);
    config.token = args.token;
    config.worker_id = args.worker_id.filter(|id| !id.trim().is_empty());
    config.connect_timeout = args.connect_timeout;
    config.reconnect_timeout = args.reconnect_timeout;
    config.heartbeat_timeout = args.heartbeat_timeout;
    config.tls_domain = args.tls_domain;
    if let Some(path) = &args.tls_ca {
        match std::fs::read(path) {
            Ok(pem) => config.tls_ca = Some(pem),
            Err(err) => {
                lv_common::errln!("lv-worker: cannot read --tls-ca {}: {err}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    let target_files = lv_worker::http::TargetTlsFiles {
        ca: args.target_ca,
        insecure: args.insecure_target,
        cert: args.target_cert,
        key: args.target_key,
    };
    match target_files.load() {
        Ok(tls) => config.target_tls = tls,
        Err(err) => {
            lv_common::errln!("lv-worker: {err}");
            return ExitCode::from(2);
        }
    }
    let deadline = exit_deadline(config.heartbeat_timeout);
    let code = runtime.block_on(serve(config, args.workers, deadline));
    // A task or blocking call that ignores the shutdown cannot keep the process alive.
    runtime.shutdown_timeout(Duration::from_secs(5));
    code
}

/// How long a stop after a signal may take before the process exits anyway: the last
/// report's send to the master is bounded by the heartbeat timeout, and the rest of a
/// graceful stop takes well under the margin.
fn exit_deadline(heartbeat_timeout: Duration) -> Duration {
    heartbeat_timeout.saturating_mul(2) + Duration::from_secs(20)
}

/// Runs the worker (or `count` of them) until it ends or a signal stops it (within
/// `deadline` of the signal).
async fn serve(config: WorkerConfig, count: u32, deadline: Duration) -> ExitCode {
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signals(shutdown.clone(), deadline));
    if count > 1 {
        return run_many(&config, count, &shutdown).await;
    }
    match run(config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            lv_common::errln!("lv-worker: {err:#}");
            ExitCode::from(3)
        }
    }
}

/// Runs `count` workers of `config` side by side until each ends; exit 3 when one failed.
async fn run_many(config: &WorkerConfig, count: u32, shutdown: &CancellationToken) -> ExitCode {
    let mut workers = tokio::task::JoinSet::new();
    for i in 1..=count {
        let mut one = config.clone();
        one.worker_id = numbered_id(config.worker_id.as_deref(), i);
        workers.spawn(run(one, shutdown.child_token()));
    }
    let mut failed = 0_u32;
    while let Some(ended) = workers.join_next().await {
        let err = match ended {
            Ok(Ok(())) => continue,
            Ok(Err(err)) => format!("{err:#}"),
            Err(err) => format!("a worker task ended: {err}"),
        };
        failed += 1;
        lv_common::errln!("lv-worker: {err}");
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        lv_common::errln!("lv-worker: {failed} of {count} workers failed");
        ExitCode::from(3)
    }
}

/// The id of the `i`-th worker of a process: `base-i`, or a fresh UUID without a base.
fn numbered_id(base: Option<&str>, i: u32) -> Option<String> {
    base.map(|base| format!("{base}-{i}"))
}

/// Ctrl-C, SIGTERM or SIGHUP (a closed terminal) stops the users and leaves the master.
/// A second signal, or a stop still going `deadline` after the first, exits at once (3), so
/// nothing that hangs (a vanished network, a stuck call) can outlive a SIGTERM.
async fn stop_on_signals(shutdown: CancellationToken, deadline: Duration) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hangup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    let mut next = async || {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            _ = hangup.recv() => {}
        }
    };
    next().await;
    tracing::info!("stopping (signal)");
    shutdown.cancel();
    // An OS thread, not a task: it fires even if the runtime is stuck.
    let watchdog = std::thread::Builder::new()
        .name("lv-exit-deadline".into())
        .spawn(move || {
            std::thread::sleep(deadline);
            lv_common::errln!(
                "lv-worker: still stopping {deadline:?} after the signal; exiting now"
            );
            std::process::exit(3);
        });
    if let Err(err) = watchdog {
        tracing::warn!("no exit deadline after the signal: {err}");
    }
    next().await;
    lv_common::errln!("lv-worker: a second signal; exiting now");
    std::process::exit(3);
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_exit_deadline_outlasts_the_bounded_last_send() {
        let timeout = Duration::from_secs(5);
        assert!(exit_deadline(timeout) > timeout);
        assert_eq!(exit_deadline(timeout), Duration::from_secs(30));
    }

    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn worker_id_is_taken_from_the_flag() -> Result<(), clap::Error> {
        let args = Args::try_parse_from(["lv-worker", "--worker-id", "worker-3-abc"])?;
        assert_eq!(args.worker_id.as_deref(), Some("worker-3-abc"));
        Ok(())
    }

    #[test]
    fn several_workers_get_numbered_ids() -> Result<(), clap::Error> {
        let args = Args::try_parse_from(["lv-worker", "--workers", "3"])?;
        assert_eq!(args.workers, 3);
        assert_eq!(numbered_id(Some("w"), 2).as_deref(), Some("w-2"));
        assert_eq!(numbered_id(None, 2), None);
        let zero = Args::try_parse_from(["lv-worker", "--workers", "0"]).expect_err("0 workers");
        assert!(zero.to_string().contains("--workers"), "{zero}");
        Ok(())
    }
}
