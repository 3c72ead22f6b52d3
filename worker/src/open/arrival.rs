//! One planned arrival of the open model.

use tokio::time::Instant;

/// One planned arrival, handed to the iteration that serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// Global arrival index.
    pub k: u64,
    /// When it was planned to start; response times are measured from here.
    pub intended: Instant,
}
