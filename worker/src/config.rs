//! How a worker runs, and why it stopped with an error.

use std::time::Duration;

use crate::http;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The master's `host:port`.
    pub master: String,
    /// Shared secret presented to the master.
    pub token: String,
    /// Give up when no master answers within this long at start.
    pub connect_timeout: Duration,
    /// Give up when a lost master does not answer again within this long.
    pub reconnect_timeout: Duration,
    /// Silence from the master longer than this stops the users.
    pub heartbeat_timeout: Duration,
    /// Worker id; a fresh UUID when `None`.
    pub worker_id: Option<String>,
    /// TCP connect timeout of requests to targets.
    pub http_connect_timeout: Duration,
    /// CA (PEM) to verify the master's TLS certificate with; plain TCP when `None`.
    pub tls_ca: Option<Vec<u8>>,
    /// Name the master's certificate must carry (default: the host of `master`).
    pub tls_domain: Option<String>,
    /// How HTTPS targets are trusted (`--target-ca`, `--insecure-target`) and the client
    /// certificate shown to them (`--target-cert`, `--target-key`).
    pub target_tls: http::TargetTls,
}

impl WorkerConfig {
    /// A config for `master` with the defaults of the command line.
    pub fn new(master: impl Into<String>) -> WorkerConfig {
        WorkerConfig {
            master: master.into(),
            token: String::new(),
            connect_timeout: Duration::from_secs(60),
            reconnect_timeout: Duration::from_secs(60),
            heartbeat_timeout: Duration::from_secs(5),
            worker_id: None,
            http_connect_timeout: Duration::from_secs(10),
            tls_ca: None,
            tls_domain: None,
            target_tls: http::TargetTls::default(),
        }
    }
}

/// Why a worker stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The master refused this worker.
    #[error("refused by the master: {0}")]
    Refused(String),
    /// No master answered in time.
    #[error("no master answered at {master} within {waited:?} (last error: {reason})")]
    NoMaster {
        /// Address tried.
        master: String,
        /// How long we tried.
        waited: Duration,
        /// The last connection error.
        reason: String,
    },
    /// The master was lost and did not come back in time.
    #[error(
        "lost the master at {master} and it did not answer again within {waited:?} (last error: {reason}); {unsent} unacknowledged reports are dropped"
    )]
    MasterGone {
        /// Address tried.
        master: String,
        /// How long we tried after losing it.
        waited: Duration,
        /// The last connection error.
        reason: String,
        /// Reports the master never acknowledged (their stats are lost).
        unsent: usize,
    },
    /// The worker could not be set up.
    #[error("{0}")]
    Setup(String),
}
