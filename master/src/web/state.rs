//! What every handler shares: the coordinator's handle and how the server is protected.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{auth, cors};
use crate::capacity::service::Searches;
use crate::live::control::Control;

/// How the web server is protected and served.
#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    /// HTTP Basic credentials every path needs, when set.
    pub auth: Option<auth::Credentials>,
    /// Refuse every state change with 403.
    pub readonly: bool,
    /// Serve HTTPS with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Origins that may call the API from a page (`--web-cors`); `None`: CORS off.
    pub cors: Option<Arc<cors::CorsPolicy>>,
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The coordinator's snapshots and command channel.
    pub control: Control,
    /// Protection settings.
    pub settings: Arc<WebSettings>,
    /// Cancelled when the master stops (ends SSE streams).
    pub shutdown: CancellationToken,
    /// Capacity searches started from the page (UI mode only).
    pub capacity: Option<Searches>,
}

impl AppState {
    /// Whether state changes are refused.
    pub fn readonly(&self) -> bool {
        self.settings.readonly || self.control.is_read_only()
    }
}
