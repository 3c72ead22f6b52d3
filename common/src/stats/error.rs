//! Why stats parts from the wire were refused.

use super::layout::MAX_PARTS_REQUESTS;

/// Why [`EndpointStats::from_parts`] refused its input.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// The histogram bytes are not a V2 histogram with lv's parameters.
    #[error("histogram bytes rejected: {reason}")]
    BadHistogram {
        /// What was wrong with the bytes.
        reason: String,
    },
    /// More failures than requests.
    #[error("{failures} failures reported for only {requests} requests")]
    FailuresExceedRequests {
        /// Failures claimed.
        failures: u64,
        /// Requests claimed.
        requests: u64,
    },
    /// The histogram does not hold one sample per request.
    #[error("histogram holds {histogram} samples but {requests} requests were reported")]
    CountMismatch {
        /// Samples in the histogram.
        histogram: u64,
        /// Requests claimed.
        requests: u64,
    },
    /// Minimum response time above the maximum.
    #[error("minimum response time {min_us} us exceeds maximum {max_us} us")]
    MinAboveMax {
        /// Minimum claimed.
        min_us: u64,
        /// Maximum claimed.
        max_us: u64,
    },
    /// More requests than one report can plausibly hold.
    #[error("{requests} requests in one report is more than the limit of {MAX_PARTS_REQUESTS}")]
    TooManyRequests {
        /// Requests claimed.
        requests: u64,
    },
}
