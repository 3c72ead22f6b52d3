//! Helpers for lv's integration tests: whole clusters on loopback.
//!
//! Everything binds port 0 on 127.0.0.1 and returns its address, so tests run side by
//! side. In-process helpers ([`spawn_target`], [`run_master`], [`spawn_worker`]) use
//! the same library entry points as the binaries; [`bin`] returns the path of a built
//! binary for the tests that start real processes.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use lv_master::config::MasterConfig;
use lv_master::config::cli::Args;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// An in-process HTTP target that counts every request by `METHOD /path`.
#[derive(Clone)]
pub struct Target {
    /// Where it listens.
    pub addr: SocketAddr,
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
    total: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
}

impl Target {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received per `METHOD /path` (query strings dropped).
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Requests received in total.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::SeqCst)
    }

    /// Connections accepted in total.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Starts a target answering 200 `{"ok":true}`, or 500 on the paths in `failing`.
/// It stops when `shutdown` is cancelled.
pub async fn spawn_target(failing: &[&str], shutdown: CancellationToken) -> Target {
    let failing: Vec<String> = failing.iter().map(|p| (*p).to_owned()).collect();
    spawn_responding_target(
        move |path, _| {
            let status = if failing.iter().any(|p| p == path) {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            };
            (status, Bytes::from_static(b"{\"ok\":true}"))
        },
        shutdown,
    )
    .await
}

/// Starts a target that counts every request by `METHOD /path` and answers with the JSON
/// body and status `respond(path, n)` gives, `n` counting requests from 0. It stops when
/// `shutdown` is cancelled.
pub async fn spawn_responding_target(
    respond: impl Fn(&str, u64) -> (StatusCode, Bytes) + Send + Sync + 'static,
    shutdown: CancellationToken,
) -> Target {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind target");
    let target = Target {
        addr: listener.local_addr().expect("target address"),
        counts: Arc::default(),
        total: Arc::default(),
        connections: Arc::default(),
    };
    let respond = Arc::new(respond);
    let server = target.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                () = shutdown.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(_) => continue,
                },
            };
            server.connections.fetch_add(1, Ordering::SeqCst);
            let server = server.clone();
            let respond = Arc::clone(&respond);
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let key = format!("{} {}", req.method(), req.uri().path());
                    let n = server.total.fetch_add(1, Ordering::SeqCst);
                    *server
                        .counts
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .entry(key)
                        .or_default() += 1;
                    let (status, body) = respond(req.uri().path(), n);
                    async move {
                        let mut response = Response::new(Full::new(body));
                        *response.status_mut() = status;
                        response.headers_mut().insert(
                            hyper::header::CONTENT_TYPE,
                            hyper::header::HeaderValue::from_static("application/json"),
                        );
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    target
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

/// Writes `dir/ping.toml`: one user class `Pinger` sending `GET /ping` to `target`, waiting
/// `wait_s` seconds between tasks.
pub fn ping_scenario(dir: &Path, target: &Target, wait_s: f64) -> PathBuf {
    let text = format!(
        "[[user]]\nname = \"Pinger\"\nwait = {{ constant = {wait_s} }}\n\
         [[user.task]]\n[[user.task.step]]\nurl = \"{}\"\npath = \"/ping\"\n",
        target.url()
    );
    write_file(dir, "ping.toml", &text)
}

/// Builds a master configuration from command-line words, as `lv-master` would.
pub fn master_config(words: &[&str]) -> Result<MasterConfig, lv_master::config::ConfigError> {
    let args = Args::try_parse_from(std::iter::once("lv-master").chain(words.iter().copied()))
        .expect("valid command line");
    MasterConfig::from_args(&args).map(|(config, _)| config)
}

/// A master running in this process.
pub struct MasterHandle {
    /// Where workers connect.
    pub addr: SocketAddr,
    /// Cancels the run (gracefully).
    pub shutdown: CancellationToken,
    /// The run.
    pub task: JoinHandle<Result<lv_master::Outcome, lv_master::MasterError>>,
}

impl MasterHandle {
    /// Waits for the run's outcome, at most `limit`.
    pub async fn outcome(self, limit: Duration) -> lv_master::Outcome {
        tokio::time::timeout(limit, self.task)
            .await
            .expect("the master finished in time")
            .expect("the master task did not panic")
            .expect("the master ran")
    }
}

use clap::Parser as _;

/// Starts a master on 127.0.0.1:0 in this process.
pub async fn run_master(config: MasterConfig) -> MasterHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind master");
    let addr = listener.local_addr().expect("master address");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(lv_master::run(config, listener, shutdown.clone()));
    MasterHandle {
        addr,
        shutdown,
        task,
    }
}

/// Starts an in-process worker attached to `master`.
pub fn spawn_worker(
    master: SocketAddr,
    shutdown: CancellationToken,
) -> JoinHandle<Result<(), lv_worker::WorkerError>> {
    let mut config = lv_worker::WorkerConfig::new(master.to_string());
    config.connect_timeout = Duration::from_secs(10);
    tokio::spawn(lv_worker::run(config, shutdown))
}

/// Runs `config` on an in-process master with `workers` in-process workers: waits at most
/// `limit` for the outcome, then for every worker to leave cleanly (at most 15 s each).
pub async fn run_cluster(
    config: MasterConfig,
    workers: usize,
    stop: &CancellationToken,
    limit: Duration,
) -> lv_master::Outcome {
    let master = run_master(config).await;
    let workers: Vec<_> = (0..workers)
        .map(|_| spawn_worker(master.addr, stop.child_token()))
        .collect();
    let outcome = master.outcome(limit).await;
    for worker in workers {
        let result = tokio::time::timeout(Duration::from_secs(15), worker)
            .await
            .expect("worker leaves after the run")
            .expect("worker task did not panic");
        assert!(result.is_ok(), "worker exits cleanly: {result:?}");
    }
    outcome
}

/// The path of one of the workspace's binaries (`lv-master`, `lv-worker`,
/// `lv-fleet-sim`, `lv-exchange-probe`), built once per test process with the test's own
/// profile.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        // target/<profile>/deps/<test> -> target/<profile>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test executable inside target/<profile>/deps")
            .to_owned();
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut build = Command::new(cargo);
        build
            .args([
                "build",
                "--bins",
                "-p",
                "lv-master",
                "-p",
                "lv-worker",
                "-p",
                "lv-fleet-sim",
                "-p",
                "lv-exchange-probe",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if release {
            build.arg("--release");
        }
        // Build scripts (ring's) track variables such as CARGO_MANIFEST_DIR and
        // CARGO_PKG_NAME: inheriting the test's values would make this build and the next
        // `cargo test` rebuild each other's dependencies.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            let per_crate = [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
            ]
            .iter()
            .any(|prefix| name.starts_with(prefix));
            if per_crate || name == "CARGO_PRIMARY_PACKAGE" || name == "CARGO_TARGET_TMPDIR" {
                build.env_remove(&name);
            }
        }
        let status = build.status().expect("run cargo build");
        assert!(status.success(), "building the binaries failed");
        profile_dir
    });
    dir.join(name)
}

/// The workspace root (for `configs/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_owned()
}

/// Starts an in-process `lv-fleet-sim` for the built-in fleet on ephemeral loopback ports,
/// with latencies scaled by 0.01 and the `slow` agents' fixed extra delays (ms, not scaled),
/// and writes its fleet map to `fleet_file`. It serves until `shutdown` is cancelled.
pub async fn spawn_fleet_sim(
    slow: &[(&str, u64)],
    fleet_file: &Path,
    shutdown: CancellationToken,
) -> lv_fleet_sim::Sim {
    let config = lv_fleet_sim::SimConfig {
        port_offset: None,
        latency_scale: 0.01,
        slow: slow.iter().map(|(a, ms)| ((*a).to_owned(), *ms)).collect(),
        seed: Some(7),
        ..lv_fleet_sim::SimConfig::default()
    };
    let sim = lv_fleet_sim::start(config, shutdown)
        .await
        .expect("the simulator starts");
    lv_fleet_sim::write_fleet_file(fleet_file, sim.fleet()).expect("write the fleet map");
    sim
}

/// Real processes, a connection-cutting proxy, test certificates: see [`harness`].
pub mod harness;

/// `run_tests.sh` as a user runs it: see [`script`].
pub mod script;

/// A command for `program` with stdin closed, killed when dropped, and without `HOST` or
/// `LV_*` from the test's own environment (they would change `lv-master`'s settings).
pub fn command_without_lv_env(program: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    for (key, _) in std::env::vars_os() {
        if key == "HOST" || key.to_string_lossy().starts_with("LV_") {
            command.env_remove(key);
        }
    }
    command
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs `command` to its end on a runtime of its own (for plain `#[test]`s) and returns its
/// output; panics, killing it, when it takes longer than `limit`.
pub fn output_within(
    command: &mut tokio::process::Command,
    limit: Duration,
) -> std::process::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        tokio::time::timeout(limit, command.kill_on_drop(true).output())
            .await
            .expect("the command finishes in time")
            .expect("the command runs")
    })
}
