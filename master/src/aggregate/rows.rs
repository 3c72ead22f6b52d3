//! The history's rows: the Aggregated line, per SLO kind and per endpoint at one moment,
//! and the rate helper they are computed with.

use std::collections::BTreeMap;

use lv_common::kind::SloKind;
use serde::{Deserialize, Serialize};

/// One row of the run's history (the Aggregated line at one moment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRow {
    /// When the interval closed, Unix ms.
    pub unix_ms: i64,
    /// Users running then.
    pub users: u32,
    /// Requests per second over the current window.
    pub rps: f64,
    /// Failures per second over the current window.
    pub fps: f64,
    /// Median response time over the current window, ms.
    pub p50_ms: f64,
    /// 95th percentile over the current window, ms.
    pub p95_ms: f64,
    /// 99th percentile over the current window, ms.
    pub p99_ms: f64,
    /// Requests so far.
    pub total_requests: u64,
    /// Failures so far.
    pub total_failures: u64,
    /// Average response time so far, ms.
    pub total_avg_ms: f64,
    /// Median so far, ms.
    pub total_median_ms: f64,
    /// Fastest response so far, ms.
    pub total_min_ms: f64,
    /// Slowest response so far, ms.
    pub total_max_ms: f64,
    /// Average response size so far, bytes.
    pub total_avg_content_bytes: f64,
    /// [`PERCENTILES`] of every request so far, ms; empty before the first request.
    pub total_percentiles_ms: Vec<f64>,
    /// [`PERCENTILES`] over the current window, ms; empty when it had no request.
    #[serde(default)]
    pub current_percentiles_ms: Vec<f64>,
    /// Per-endpoint lines, with `--csv-full-history` only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<EndpointHistory>,
    /// One line per SLO kind that has had a request so far, over the same window as the
    /// row's own rates and percentiles (endpoints without a kind are in none of them);
    /// empty in reports written before lv kept it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kinds: BTreeMap<SloKind, KindHistory>,
}

/// One SLO kind's line of a history row: its endpoints merged, over the current window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KindHistory {
    /// Requests of this kind per second over the current window.
    pub rps: f64,
    /// Median over the current window, ms; `None` (null) when the window had no request
    /// of this kind.
    pub p50_ms: Option<f64>,
    /// 95th percentile over the current window, ms; `None` as for `p50_ms`.
    pub p95_ms: Option<f64>,
    /// 99th percentile over the current window, ms; `None` as for `p50_ms`.
    pub p99_ms: Option<f64>,
    /// Requests of this kind so far.
    pub total_requests: u64,
}

/// One endpoint's line of a history row (`--csv-full-history`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointHistory {
    /// HTTP method.
    pub method: String,
    /// Stats name.
    pub name: String,
    /// Requests per second over the current window.
    pub rps: f64,
    /// Failures per second over the current window.
    pub fps: f64,
    /// [`PERCENTILES`] over the current window, ms; empty when it had no request.
    pub percentiles_ms: Vec<f64>,
    /// Requests so far.
    pub total_requests: u64,
    /// Failures so far.
    pub total_failures: u64,
    /// Median so far, ms.
    pub total_median_ms: f64,
    /// Average so far, ms.
    pub total_avg_ms: f64,
    /// Fastest so far, ms.
    pub total_min_ms: f64,
    /// Slowest so far, ms.
    pub total_max_ms: f64,
    /// Average response size so far, bytes.
    pub total_avg_content_bytes: f64,
}

/// `count` per second over `seconds` (0 for an empty span).
pub fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// `part / whole`, 0 when `whole` is 0 (a failure ratio, a class's share).
pub fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}
