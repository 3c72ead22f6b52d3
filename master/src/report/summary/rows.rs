//! The report's rows: an endpoint (or the Aggregated total) with its serialized histogram,
//! a failure kind, an exception, and how a stats set becomes them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lv_common::kind::SloKind;
use lv_common::stats::{EndpointStats, PhaseStats, StatsSet, deflate_v2, inflate_v2};
use serde::{Deserialize, Serialize};

use super::phases::PhasesSummary;
use crate::aggregate::{per_second, percentiles};

/// Stats of one endpoint (or of all, for the total).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointSummary {
    /// HTTP method (empty for the total).
    pub method: String,
    /// Stats name (`Aggregated` for the total).
    pub name: String,
    /// SLO kind, when known.
    pub kind: Option<SloKind>,
    /// Requests completed.
    pub requests: u64,
    /// Failed requests.
    pub failures: u64,
    /// Average response time, ms (exact).
    pub avg_ms: f64,
    /// Fastest response, ms (exact).
    pub min_ms: f64,
    /// Slowest response, ms (exact).
    pub max_ms: f64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Requests per second over the run.
    pub rps: f64,
    /// Average response size, bytes.
    pub avg_content_bytes: f64,
    /// Failures per second over the run.
    #[serde(default)]
    pub failures_per_s: f64,
    /// Response time at 50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99 and 100 %, ms.
    #[serde(default)]
    pub percentiles_ms: Vec<f64>,
    /// Exact sum of response times, microseconds.
    #[serde(default)]
    pub total_us: u64,
    /// Sum of response sizes, bytes.
    #[serde(default)]
    pub content_bytes: u64,
    /// The merged response-time histogram (µs) in HdrHistogram's compressed V2 encoding
    /// (cookie `0x1c849314`), base64; plain V2 (`0x1c849313`, older reports) is read too.
    #[serde(default)]
    pub histogram: String,
    /// Timing phases (connect, TLS, time to first byte, body read); absent for rows without
    /// them (open-model service and lag rows, reports written before lv had them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<PhasesSummary>,
}

/// Failures of one kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailureSummary {
    /// HTTP method.
    pub method: String,
    /// Stats name.
    pub name: String,
    /// Error message.
    pub error: String,
    /// Occurrences.
    pub count: u64,
    /// First report interval it appeared in, Unix ms.
    #[serde(default)]
    pub first_seen_unix_ms: i64,
    /// Last report interval it appeared in, Unix ms.
    #[serde(default)]
    pub last_seen_unix_ms: i64,
}

/// Exceptions of one kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExceptionSummary {
    /// Message.
    pub message: String,
    /// Occurrences.
    pub count: u64,
    /// Workers it happened on.
    #[serde(default)]
    pub nodes: Vec<String>,
}

impl EndpointSummary {
    /// The summary of `stats` over a run of `seconds`.
    pub fn new(method: &str, name: &str, stats: &EndpointStats, seconds: f64) -> Self {
        EndpointSummary {
            method: method.to_owned(),
            name: name.to_owned(),
            kind: stats.kind,
            requests: stats.requests,
            failures: stats.failures,
            avg_ms: stats.avg_ms(),
            min_ms: stats.min_ms(),
            max_ms: stats.max_ms(),
            p50_ms: stats.percentile_ms(50.0),
            p95_ms: stats.percentile_ms(95.0),
            p99_ms: stats.percentile_ms(99.0),
            rps: per_second(stats.requests, seconds),
            avg_content_bytes: stats.avg_content_bytes(),
            failures_per_s: per_second(stats.failures, seconds),
            percentiles_ms: percentiles(stats),
            total_us: stats.total_us,
            content_bytes: stats.content_bytes,
            histogram: BASE64.encode(deflate_v2(&stats.histogram_bytes())),
            phases: None,
        }
    }

    /// Rebuilds the endpoint's stats from the stored histogram and exact fields.
    pub fn to_stats(&self) -> Result<EndpointStats, String> {
        let bytes = BASE64.decode(&self.histogram).map_err(|e| {
            format!(
                "{} {}: histogram is not base64: {e}",
                self.method, self.name
            )
        })?;
        EndpointStats::from_parts(
            self.kind,
            self.requests,
            self.failures,
            self.content_bytes,
            (self.min_ms * 1000.0).round() as u64,
            (self.max_ms * 1000.0).round() as u64,
            self.total_us,
            &inflate_v2(&bytes).map_err(|e| format!("{} {}: {e}", self.method, self.name))?,
        )
        .map_err(|e| format!("{} {}: {e}", self.method, self.name))
    }
}

impl EndpointSummary {
    /// Rebuilds the endpoint's timing phases, when it has them.
    pub fn to_phase_stats(&self) -> Result<Option<PhaseStats>, String> {
        let rebuild = |p: &PhasesSummary| {
            p.to_stats()
                .map_err(|e| format!("{} {}: {e}", self.method, self.name))
        };
        self.phases.as_ref().map(rebuild).transpose()
    }
}

/// Endpoint, total, failure and exception rows of `stats`, endpoints and total with their
/// timing phases.
pub fn stats_rows(
    stats: &StatsSet,
    seconds: f64,
) -> (
    EndpointSummary,
    Vec<EndpointSummary>,
    Vec<FailureSummary>,
    Vec<ExceptionSummary>,
) {
    let total = EndpointSummary {
        phases: PhasesSummary::new(&stats.total_phases()),
        ..EndpointSummary::new("", "Aggregated", &stats.total(), seconds)
    };
    let endpoints = stats
        .endpoints
        .iter()
        .map(|(key, e)| EndpointSummary {
            phases: stats.phases.get(key).and_then(PhasesSummary::new),
            ..EndpointSummary::new(&key.method, &key.name, e, seconds)
        })
        .collect();
    let failures = stats
        .failures
        .iter()
        .map(|(key, &count)| FailureSummary {
            method: key.method.clone(),
            name: key.name.clone(),
            error: key.error.clone(),
            count,
            first_seen_unix_ms: 0,
            last_seen_unix_ms: 0,
        })
        .collect();
    let exceptions = stats
        .exceptions
        .iter()
        .map(|(message, &count)| ExceptionSummary {
            message: message.clone(),
            count,
            nodes: Vec::new(),
        })
        .collect();
    (total, endpoints, failures, exceptions)
}
