//! `lv-fleet-sim`: serves a simulated Leveredge fleet until SIGINT or SIGTERM.
//!
//! Parses the command line, starts logging on stderr, and hands a [`SimConfig`] to the library.
//! Prints exactly one line, `lv-fleet-sim ready`, on stdout once every port is bound (and the
//! `--write-fleet` map is written), so scripts and tests can wait for it. Exit codes: 0 after a
//! clean stop, 1 when the simulator could not run, 2 for bad usage or configuration.

use std::io::{IsTerminal as _, Write as _};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use lv_common::fleet::FleetMap;
use lv_fleet_sim::config::{parse_error_rate, parse_latency_scale, parse_slow};
use lv_fleet_sim::{SimConfig, SimError};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// How long in-flight requests get to finish after a stop signal.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A simulated Leveredge fleet (agents, event bus, creative agents) for testing lv.
#[derive(Debug, Parser)]
#[command(name = "lv-fleet-sim", version)]
struct Cli {
    /// Address every server binds.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Adds N to every agent port (to run several fleets side by side).
    #[arg(long, value_name = "N", conflicts_with = "ephemeral_ports")]
    port_offset: Option<u16>,
    /// Binds an ephemeral port for every agent (see --write-fleet).
    #[arg(long)]
    ephemeral_ports: bool,
    /// Fleet map to simulate [default: the built-in map, as configs/fleet.toml].
    #[arg(long, value_name = "FILE")]
    fleet: Option<PathBuf>,
    /// Writes the fleet map with the bound ports to FILE before printing the ready line.
    #[arg(long, value_name = "FILE")]
    write_fleet: Option<PathBuf>,
    /// Multiplies every simulated latency; 0 answers at once.
    #[arg(long, value_name = "F", default_value = "1.0", value_parser = parse_latency_scale)]
    latency_scale: f64,
    /// Share of requests (0..1) answered 500 {"error":"injected failure"}.
    #[arg(long, value_name = "F", default_value = "0", value_parser = parse_error_rate)]
    error_rate: f64,
    /// Agents whose ports are not bound, so connections are refused.
    #[arg(long, value_name = "AGENT,...", value_delimiter = ',')]
    down: Vec<String>,
    /// Adds MS milliseconds to every response of AGENT (not scaled).
    #[arg(long, value_name = "AGENT=MS,...", value_delimiter = ',', value_parser = parse_slow)]
    slow: Vec<(String, u64)>,
    /// Port of the admin server (GET /counts, POST /reset); 0 picks a free one.
    #[arg(long, value_name = "P")]
    admin_port: Option<u16>,
    /// Seed for the latency and failure draws (reproducible runs).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Answer with exactly the documented fields of the HTTP API ({} where none are
    /// documented), to check that scenarios assert only the contract.
    #[arg(long)]
    contract_only: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .log_internal_errors(false)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    // Every connection of every agent takes a file: raise the soft limit to the hard one,
    // as lv's binaries do, so a million-user ramp finds room.
    lv_common::limits::raise_fd_limit();
    let config = match build_config(&cli) {
        Ok(config) => config,
        Err(err) => {
            lv_common::errln!("error: {err:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            lv_common::errln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config, cli.write_fleet)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            lv_common::errln!("error: {err:#}");
            let usage = err
                .downcast_ref::<SimError>()
                .is_some_and(SimError::is_usage);
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

/// Validates the flags and builds the simulator's configuration.
fn build_config(cli: &Cli) -> anyhow::Result<SimConfig> {
    let fleet = match &cli.fleet {
        Some(path) => FleetMap::load(path)?,
        None => FleetMap::builtin(),
    };
    let config = SimConfig {
        bind: cli.bind,
        port_offset: if cli.ephemeral_ports {
            None
        } else {
            Some(cli.port_offset.unwrap_or(0))
        },
        fleet,
        latency_scale: cli.latency_scale,
        error_rate: cli.error_rate,
        down: cli.down.clone(),
        slow: cli.slow.clone(),
        admin_port: cli.admin_port,
        seed: cli.seed,
        contract_only: cli.contract_only,
    };
    config.validate()?;
    Ok(config)
}

/// Runs the simulator until SIGINT or SIGTERM.
async fn serve(config: SimConfig, write_fleet: Option<PathBuf>) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    watch_signals(shutdown.clone()).context("cannot install signal handlers")?;
    let sim = lv_fleet_sim::start(config, shutdown.clone()).await?;
    if let Some(addr) = sim.admin_addr() {
        lv_common::errln!("admin listening on {addr}");
    }
    if let Some(path) = &write_fleet
        && let Err(err) = lv_fleet_sim::write_fleet_file(path, sim.fleet())
    {
        shutdown.cancel();
        sim.wait().await;
        return Err(err.into());
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "lv-fleet-sim ready").context("cannot write to stdout")?;
    stdout.flush().context("cannot write to stdout")?;
    drop(stdout);

    shutdown.cancelled().await;
    tracing::info!("stopping");
    if tokio::time::timeout(STOP_GRACE, sim.wait()).await.is_err() {
        tracing::warn!(grace = ?STOP_GRACE, "some requests were still running; stopped anyway");
    }
    Ok(())
}

/// Cancels `shutdown` on the first SIGINT or SIGTERM.
fn watch_signals(shutdown: CancellationToken) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => tracing::info!("SIGINT received"),
                _ = terminate.recv() => tracing::info!("SIGTERM received"),
            }
            shutdown.cancel();
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            shutdown.cancel();
        }
    });
    Ok(())
}
