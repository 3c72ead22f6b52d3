//! What the handlers of every agent share: the counters, the latency model and the
//! agents' state (tokens included), and which agent a handler serves.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::SimConfig;
use crate::counts::Counter;
use crate::latency::Latency;
use crate::state::{Assets, Conversations, Events, Tokens};

/// State shared by every agent server and the admin server.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) counter: Counter,
    pub(crate) latency: Latency,
    pub(crate) conversations: Mutex<Conversations>,
    pub(crate) events: Mutex<Events>,
    pub(crate) assets: Mutex<Assets>,
    /// Bearer tokens issued by `POST /v1/auth/login` on any agent.
    pub(crate) tokens: Mutex<Tokens>,
    /// Answers carry only the documented fields.
    pub(crate) contract_only: bool,
    /// Values of the `X-Sim-Record` header, in arrival order (for tests to read back).
    pub(crate) records: Mutex<Records>,
}

/// Values of the `X-Sim-Record` header seen so far.
#[derive(Debug, Default, serde::Serialize)]
pub(crate) struct Records {
    /// Kept values, in arrival order.
    pub(crate) values: Vec<String>,
    /// Values not kept because [`MAX_RECORDS`] were kept already.
    pub(crate) dropped: u64,
}

/// Most `X-Sim-Record` values kept until a reset.
pub(crate) const MAX_RECORDS: usize = 1_000_000;

impl Records {
    /// Keeps `value`, unless [`MAX_RECORDS`] are kept.
    pub(crate) fn push(&mut self, value: String) {
        if self.values.len() < MAX_RECORDS {
            self.values.push(value);
        } else {
            self.dropped += 1;
        }
    }
}

impl Shared {
    /// Empty state with the configured latency model.
    pub(crate) fn new(config: &SimConfig, shutdown: CancellationToken) -> Shared {
        Shared {
            counter: Counter::default(),
            latency: Latency::new(
                config.latency_scale,
                config.error_rate,
                config.seed,
                shutdown,
            ),
            conversations: Mutex::default(),
            events: Mutex::default(),
            assets: Mutex::default(),
            tokens: Mutex::default(),
            contract_only: config.contract_only,
            records: Mutex::default(),
        }
    }
}

/// What one agent's handlers know: who they are and the shared state.
#[derive(Debug, Clone)]
pub(crate) struct AgentCtx {
    pub(crate) name: Arc<str>,
    pub(crate) slow: Duration,
    /// `METHOD /path` of the endpoints that fail every request (`--fail-endpoint`).
    pub(crate) fail: Arc<[String]>,
    pub(crate) routes: Arc<[&'static str]>,
    /// Requests served at once (`--capacity`); the rest wait here, first come first served.
    pub(crate) capacity: Option<Arc<tokio::sync::Semaphore>>,
    pub(crate) shared: Arc<Shared>,
}
