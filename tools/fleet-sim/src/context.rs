//! What the handlers of every agent share: the counters, the latency model and the
//! agents' state, and which agent a handler serves.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::SimConfig;
use crate::counts::Counter;
use crate::latency::Latency;
use crate::state::{Assets, Conversations, Events};

/// State shared by every agent server and the admin server.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) counter: Counter,
    pub(crate) latency: Latency,
    pub(crate) conversations: Mutex<Conversations>,
    pub(crate) events: Mutex<Events>,
    pub(crate) assets: Mutex<Assets>,
    /// Answers carry only the documented fields.
    pub(crate) contract_only: bool,
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
            contract_only: config.contract_only,
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
    pub(crate) shared: Arc<Shared>,
}
