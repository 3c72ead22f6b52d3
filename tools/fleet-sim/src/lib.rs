//! `lv-fleet-sim`: a simulated Leveredge fleet to run lv against in tests, demos and benchmarks.
//!
//! [`start`] binds one HTTP server per agent of a fleet map (nominal ports plus an offset, or
//! ephemeral ports), keeps real in-memory state (conversations, events and acks, creative
//! assets), simulates each endpoint's latency with a scale factor, injects faults on request
//! (error rate, agents down, slow agents, endpoints that always answer 500) and counts every request it receives, so tests can
//! check lv's numbers against what the fleet actually saw. The binary is a thin shell around
//! this library; integration tests run it in-process.
//!
//! # Layout
//! - [`config`]: [`SimConfig`], its validation, [`SimError`], command-line value parsers.
//! - `server`: one router per agent, the counting/fault layer, serving with graceful shutdown.
//! - `handlers`: the agents' endpoints (login and `GET /v1/me` on every agent).
//! - `state`: bounded conversations, events, assets and tokens.
//! - `latency`: the latency model and failure dice.
//! - [`counts`]: request counts per agent and endpoint.
//! - `admin`: the admin server (`GET /counts`, `POST /reset`).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use lv_common::fleet::{Agent, FleetMap};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

mod admin;
pub mod config;
mod context;
pub mod counts;
mod handlers;
mod latency;
mod server;
mod state;

pub use config::{SimConfig, SimError};
pub use counts::Counts;

use config::AgentPlan;
use context::Shared;

/// A running simulated fleet.
#[derive(Debug)]
pub struct Sim {
    bind: IpAddr,
    fleet: FleetMap,
    admin_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    servers: JoinSet<()>,
}

/// Binds every agent (and the admin server), then serves them until `shutdown` is cancelled.
///
/// Returns once every port is bound, so callers can send requests right away.
pub async fn start(config: SimConfig, shutdown: CancellationToken) -> Result<Sim, SimError> {
    let plans = config.plan()?;
    let shared = Arc::new(Shared::new(&config, shutdown.clone()));
    let (live, reserved, agents) = bind_agents(config.bind, &plans).await?;
    let admin = match config.admin_port {
        Some(port) => Some(bind(config.bind, port, "admin").await?),
        None => None,
    };
    drop(reserved);

    let mut servers = JoinSet::new();
    for (plan, listener) in live {
        let router = server::agent_router(plan, shared.clone());
        server::spawn_server(
            &mut servers,
            plan.agent.name.clone(),
            listener,
            router,
            shutdown.clone(),
        );
    }
    let admin_addr = admin.map(|(listener, port)| {
        let router = admin::admin_router(shared.clone());
        server::spawn_server(
            &mut servers,
            "admin".into(),
            listener,
            router,
            shutdown.clone(),
        );
        SocketAddr::new(config.bind, port)
    });
    tracing::info!(
        agents = plans.len(),
        down = config.down.len(),
        latency_scale = config.latency_scale,
        error_rate = config.error_rate,
        "fleet simulator serving"
    );
    Ok(Sim {
        bind: config.bind,
        fleet: FleetMap { agents },
        admin_addr,
        shared,
        servers,
    })
}

/// Listeners of the agents that are up (in plan order), listeners that hold the ports of
/// down agents without a fixed port (drop them once every server is bound), and the fleet
/// map with every agent's port.
type Bound<'p> = (
    Vec<(&'p AgentPlan, TcpListener)>,
    Vec<TcpListener>,
    Vec<Agent>,
);

/// Binds every agent of `plans` that is up, and gives each a port.
async fn bind_agents(addr: IpAddr, plans: &[AgentPlan]) -> Result<Bound<'_>, SimError> {
    let mut live = Vec::new();
    let mut reserved = Vec::new();
    let mut agents = Vec::with_capacity(plans.len());
    for plan in plans {
        let port = if !plan.down {
            let (listener, port) = bind(addr, plan.port, &plan.agent.name).await?;
            live.push((plan, listener));
            port
        } else if plan.port == 0 {
            // Reserve an ephemeral port and release it after all binds: nothing listens there,
            // and no other server of this fleet can take it.
            let (listener, port) = bind(addr, 0, &plan.agent.name).await?;
            reserved.push(listener);
            port
        } else {
            plan.port
        };
        agents.push(Agent {
            port: Some(port),
            url: None,
            ..plan.agent.clone()
        });
    }
    Ok((live, reserved, agents))
}

/// Binds `addr:port`; returns the listener and the port actually bound.
async fn bind(addr: IpAddr, port: u16, what: &str) -> Result<(TcpListener, u16), SimError> {
    let wanted = SocketAddr::new(addr, port);
    let error = |source| SimError::Bind {
        what: what.to_string(),
        addr: wanted,
        source,
    };
    let listener = TcpListener::bind(wanted).await.map_err(error)?;
    let port = listener.local_addr().map_err(error)?.port();
    Ok((listener, port))
}

impl Sim {
    /// The fleet map with the ports actually bound (`url` is `None`).
    ///
    /// A down agent keeps its nominal port (plus the offset) with nothing listening there; with
    /// ephemeral ports it gets a port that was reserved and released, so connections are refused.
    pub fn fleet(&self) -> &FleetMap {
        &self.fleet
    }

    /// The admin server's address, when one was asked for.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// A snapshot of the request counts.
    pub fn counts(&self) -> Counts {
        self.shared.counter.snapshot()
    }

    /// Zeroes the request counts.
    pub fn reset(&self) {
        self.shared.counter.reset();
    }

    /// Resolves when every server has stopped (after the shutdown token is cancelled).
    pub async fn wait(mut self) {
        while let Some(joined) = self.servers.join_next().await {
            if let Err(err) = joined {
                tracing::warn!(error = %err, "a server task failed");
            }
        }
    }
}

/// Writes `fleet` in `configs/fleet.toml` format, atomically (a temporary file, then a rename).
pub fn write_fleet_file(path: &Path, fleet: &FleetMap) -> Result<(), SimError> {
    let failed = |source| SimError::WriteFleet {
        path: path.to_path_buf(),
        source,
    };
    let map = fleet
        .to_toml_string()
        .map_err(|err| failed(std::io::Error::other(err)))?;
    let text =
        format!("# Written by lv-fleet-sim: the fleet map with the ports it bound.\n\n{map}");
    write_atomically(path, text.as_bytes()).map_err(failed)
}

/// What `--ready-file` holds, in this order: the address every server binds, the admin
/// server's `host:port` (when there is one), each agent's bound port in fleet-map order, and
/// the simulator's process id.
#[derive(Debug, serde::Serialize)]
struct Ready<'a> {
    bind: IpAddr,
    admin: Option<SocketAddr>,
    agents: Vec<ReadyAgent<'a>>,
    pid: u32,
}

/// One agent of the ready file.
#[derive(Debug, serde::Serialize)]
struct ReadyAgent<'a> {
    name: &'a str,
    port: Option<u16>,
}

/// Writes the ready file of a running simulator: one line of JSON (see `Ready`), atomically.
pub fn write_ready_file(path: &Path, sim: &Sim) -> Result<(), SimError> {
    let ready = Ready {
        bind: sim.bind,
        admin: sim.admin_addr,
        agents: sim
            .fleet
            .agents
            .iter()
            .map(|agent| ReadyAgent {
                name: &agent.name,
                port: agent.port,
            })
            .collect(),
        pid: std::process::id(),
    };
    let error = |source| SimError::WriteReady {
        path: path.to_path_buf(),
        source,
    };
    let mut line = serde_json::to_vec(&ready).map_err(|e| error(e.into()))?;
    line.push(b'\n');
    write_atomically(path, &line).map_err(error)
}

/// The agents a one-line description names, when the map has them: the main agent, the event
/// bus and a creative agent, which the shipped scenarios all reach.
const DESCRIBED: [&str; 3] = ["ATLAS", "EVENT-BUS", "MUSE"];

/// One line about a fleet map, as `run_tests.sh demo` shows it: `20 agents (ATLAS :8007,
/// EVENT-BUS :8099, MUSE :8030, ...)`. It names [`DESCRIBED`] agents the map has (else its
/// first three), each with its port (or URL); `...` when the map has more.
pub fn describe(fleet: &FleetMap) -> String {
    let mut named: Vec<&Agent> = DESCRIBED.iter().filter_map(|n| fleet.get(n)).collect();
    if named.is_empty() {
        named = fleet.agents.iter().take(DESCRIBED.len()).collect();
    }
    let mut parts: Vec<String> = named
        .iter()
        .map(|agent| match (agent.port, &agent.url) {
            (_, Some(url)) => format!("{} {url}", agent.name),
            (Some(port), None) => format!("{} :{port}", agent.name),
            (None, None) => agent.name.clone(),
        })
        .collect();
    if fleet.agents.len() > named.len() {
        parts.push("...".to_owned());
    }
    let count = fleet.agents.len();
    let noun = if count == 1 { "agent" } else { "agents" };
    if parts.is_empty() {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun} ({})", parts.join(", "))
    }
}

/// Writes `bytes` to `path` through a temporary file beside it (`.NAME.PID.tmp`) and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        // Best effort: the rename error is the one worth reporting.
        let _ = std::fs::remove_file(&tmp);
    })
}
