//! `lv-fleet-sim`: serves a simulated Leveredge fleet until SIGINT or SIGTERM.
//!
//! Parses the command line, starts logging on stderr, and hands a [`SimConfig`] to the library.
//! Prints exactly one line, `lv-fleet-sim ready`, on stdout once every port is bound (and the
//! `--write-fleet` map and the `--ready-file` are written), so scripts and tests can wait for
//! it; scripts read the bound ports from the ready file (JSON). `--describe FILE` prints one
//! line about a fleet map instead and exits. Exit codes: 0 after a clean stop, 1 when the
//! simulator could not run, 2 for bad usage or configuration.

use std::io::{IsTerminal as _, Write as _};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use lv_common::fleet::FleetMap;
use lv_fleet_sim::config::{
    FailEndpoint, parse_capacity, parse_error_rate, parse_fail_endpoint, parse_latency_scale,
    parse_slow,
};
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
    /// Once every port is bound, writes one line of JSON to FILE, atomically, before the
    /// ready line: `{"bind":ADDR,"admin":"HOST:PORT" or null,"agents":[{"name":N,"port":P},
    /// ...],"pid":N}`.
    #[arg(long, value_name = "FILE")]
    ready_file: Option<PathBuf>,
    /// Prints one line about the fleet map FILE (`20 agents (ATLAS :8007, EVENT-BUS :8099,
    /// MUSE :8030, ...)`) and exits, serving nothing.
    #[arg(long, value_name = "FILE", exclusive = true)]
    describe: Option<PathBuf>,
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
    /// Answers every request of this endpoint 500 {"error":"injected failure"}: "AGENT
    /// METHOD /PATH" (the route's pattern, e.g. /v1/events/{id}/ack, or an exact path);
    /// repeat the flag or separate endpoints with commas.
    #[arg(long, value_name = "AGENT METHOD /PATH", value_delimiter = ',', value_parser = parse_fail_endpoint)]
    fail_endpoint: Vec<FailEndpoint>,
    /// AGENT serves at most C requests at once; the rest wait in a first-come queue, so its
    /// throughput tops out at C / service time (the service time is the agent's simulated
    /// latency plus --slow; see docs/capacity.md).
    #[arg(long, value_name = "AGENT=C,...", value_delimiter = ',', value_parser = parse_capacity)]
    capacity: Vec<(String, u32)>,
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
    if let Some(path) = &cli.describe {
        return describe(path);
    }
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
    match runtime.block_on(serve(config, cli.write_fleet, cli.ready_file)) {
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

/// `--describe FILE`: one line about the fleet map on stdout; exit 2 when it does not load.
fn describe(path: &std::path::Path) -> ExitCode {
    match FleetMap::load(path) {
        Ok(fleet) => {
            lv_common::outln!("{}", lv_fleet_sim::describe(&fleet));
            ExitCode::SUCCESS
        }
        Err(err) => {
            lv_common::errln!("error: {err}");
            ExitCode::from(2)
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
        fail_endpoints: cli.fail_endpoint.clone(),
        capacity: cli.capacity.clone(),
        admin_port: cli.admin_port,
        seed: cli.seed,
        contract_only: cli.contract_only,
    };
    config.validate()?;
    Ok(config)
}

/// Runs the simulator until SIGINT or SIGTERM.
async fn serve(
    config: SimConfig,
    write_fleet: Option<PathBuf>,
    ready_file: Option<PathBuf>,
) -> anyhow::Result<()> {
    if let Some(path) = &ready_file {
        // A ready file left by an earlier simulator must not pass for this one's. Best
        // effort: when it cannot be removed, writing it later fails and says why.
        let _ = std::fs::remove_file(path);
    }
    let shutdown = CancellationToken::new();
    watch_signals(shutdown.clone()).context("cannot install signal handlers")?;
    let sim = lv_fleet_sim::start(config, shutdown.clone()).await?;
    if let Some(addr) = sim.admin_addr() {
        lv_common::errln!("admin listening on {addr}");
    }
    let written = write_fleet
        .as_deref()
        .map_or(Ok(()), |path| {
            lv_fleet_sim::write_fleet_file(path, sim.fleet())
        })
        .and_then(|()| {
            ready_file
                .as_deref()
                .map_or(Ok(()), |path| lv_fleet_sim::write_ready_file(path, &sim))
        });
    if let Err(err) = written {
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
