//! `GET /metrics`: the Prometheus text format 0.0.4 or OpenMetrics 1.0, as the scraper's
//! `Accept` header asks, rendered from a [`Snapshot`] (the coordinator's figures, not counters
//! of their own). Counters and gauges go through `prometheus-client`; response times are a
//! summary family built from the merged histograms ([`summary`]), in seconds. Label
//! cardinality is bounded like stats names: workers fold names past
//! [`lv_common::stats::MAX_ENDPOINTS`] into one overflow name, and this module never emits
//! more rows than that.

use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::aggregate::PERCENTILES;
use crate::live::snapshot::{Live, Snapshot};
use crate::report::summary::Summary;

mod summary;

use summary::{SummaryRow, write_summary};

/// The two exposition formats `/metrics` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0, for scrapers that ask for `application/openmetrics-text`.
    OpenMetrics,
    /// The Prometheus text format 0.0.4, for everyone else (promtool, curl, old scrapers).
    Text,
}

impl Format {
    /// The format an `Accept` header asks for: OpenMetrics when it lists
    /// `application/openmetrics-text` with a non-zero quality, else the text format (as the
    /// Prometheus client libraries negotiate).
    pub fn negotiate(accept: Option<&str>) -> Format {
        let wants_openmetrics = accept.unwrap_or_default().split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f64>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
        });
        if wants_openmetrics {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => prometheus_text::CONTENT_TYPE,
        }
    }
}

/// Quantiles exported (as fractions) and their index in [`PERCENTILES`].
const QUANTILES: [(&str, usize); 5] = [("0.5", 0), ("0.9", 4), ("0.95", 5), ("0.99", 7), ("1", 10)];

/// Name of the response-time summary.
const RESPONSE_TIME: &str = "lv_response_time_seconds";

type Labels = Vec<(String, String)>;

fn endpoint_labels(method: &str, name: &str) -> Labels {
    vec![
        ("method".to_owned(), method.to_owned()),
        ("name".to_owned(), name.to_owned()),
    ]
}

/// The metrics text of `snapshot` in `format`.
pub fn render(snapshot: &Snapshot, format: Format) -> String {
    let mut registry = Registry::default();
    request_metrics(&mut registry, &snapshot.report);
    run_metrics(&mut registry, &snapshot.live);
    worker_metrics(&mut registry, &snapshot.live);
    let mut out = String::new();
    let encoded = match format {
        Format::OpenMetrics => text::encode_registry(&mut out, &registry),
        Format::Text => prometheus_text::encode(&mut out, &registry),
    };
    if encoded.is_err() {
        out.clear();
    }
    write_summary(
        &mut out,
        RESPONSE_TIME,
        "Response times of the run, from the merged histograms (quantile 1 is the maximum).",
        &response_times(&snapshot.report),
    );
    if format == Format::OpenMetrics && text::encode_eof(&mut out).is_err() {
        out.clear();
    }
    out
}

/// The endpoints exported (at most [`lv_common::stats::MAX_ENDPOINTS`]) and the Aggregated total.
fn exported_rows(
    report: &Summary,
) -> impl Iterator<Item = &crate::report::summary::EndpointSummary> {
    report
        .endpoints
        .iter()
        .take(lv_common::stats::MAX_ENDPOINTS)
        .chain(std::iter::once(&report.total))
}

/// Requests and failures per endpoint and for the Aggregated total.
fn request_metrics(registry: &mut Registry, report: &Summary) {
    let requests = Family::<Labels, Counter>::default();
    let failures = Family::<Labels, Counter>::default();
    for row in exported_rows(report) {
        let labels = endpoint_labels(&row.method, &row.name);
        requests.get_or_create(&labels).inc_by(row.requests);
        failures.get_or_create(&labels).inc_by(row.failures);
    }
    registry.register("lv_requests", "Requests completed, per endpoint", requests);
    registry.register(
        "lv_request_failures",
        "Failed requests, per endpoint",
        failures,
    );
}

/// One summary row per exported endpoint: quantiles, sum and count, in seconds.
fn response_times(report: &Summary) -> Vec<SummaryRow> {
    debug_assert_eq!(PERCENTILES[10], 100.0);
    exported_rows(report)
        .filter(|row| row.requests > 0)
        .map(|row| SummaryRow {
            labels: endpoint_labels(&row.method, &row.name),
            quantiles: QUANTILES
                .iter()
                .filter_map(|&(q, index)| Some((q, seconds(*row.percentiles_ms.get(index)?))))
                .collect(),
            sum: row.total_us as f64 / 1e6,
            count: row.requests,
        })
        .collect()
}

/// Users running and targeted, workers by state and the run's state.
fn run_metrics(registry: &mut Registry, live: &Live) {
    let users = Gauge::<i64>::default();
    users.set(i64::from(live.users));
    registry.register("lv_users", "Users running now", users);
    let target = Gauge::<i64>::default();
    target.set(i64::from(live.user_count));
    registry.register("lv_users_target", "Target users", target);
    let workers = Family::<Labels, Gauge<i64>>::default();
    for state in ["active", "missing", "lost"] {
        let count = live
            .workers
            .iter()
            .filter(|w| w.core.state == state)
            .count();
        workers
            .get_or_create(&vec![("state".to_owned(), state.to_owned())])
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }
    registry.register("lv_workers", "Workers by state", workers);
    let state = Gauge::<i64>::default();
    state.set(live.state.gauge());
    registry.register(
        "lv_run_state",
        "0 ready, 1 spawning, 2 running, 3 stopping, 4 stopped",
        state,
    );
}

/// Each worker's latest load from its heartbeats, labelled by worker id; a worker that
/// cannot measure its CPU or memory has no sample of that gauge.
fn worker_metrics(registry: &mut Registry, live: &Live) {
    type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;
    let cpu = Family::<Labels, FloatGauge>::default();
    let memory = Family::<Labels, Gauge<i64>>::default();
    let connections = Family::<Labels, Gauge<i64>>::default();
    let delay = Family::<Labels, FloatGauge>::default();
    for worker in &live.workers {
        let Some(load) = &worker.resources else {
            continue;
        };
        let labels = vec![("worker".to_owned(), worker.core.id.clone())];
        if let Some(g) = load.cpu_percent {
            cpu.get_or_create(&labels).set(g.last);
        }
        if let Some(g) = load.memory_bytes {
            memory.get_or_create(&labels).set(g.last as i64);
        }
        connections
            .get_or_create(&labels)
            .set(load.connections.last as i64);
        delay
            .get_or_create(&labels)
            .set(load.sched_delay_ms.last / 1000.0);
    }
    registry.register(
        "lv_worker_cpu_percent",
        "Worker process CPU, percent of the cores it may use (100 = all busy)",
        cpu,
    );
    registry.register("lv_worker_memory_bytes", "Worker resident memory", memory);
    registry.register(
        "lv_worker_connections",
        "Connections to targets a worker has open",
        connections,
    );
    registry.register(
        "lv_worker_sched_delay_seconds",
        "How late a worker's runtime woke a task, at most, in its last heartbeat interval",
        delay,
    );
}

#[cfg(test)]
mod tests;

/// Milliseconds (from microsecond histograms) as seconds, without binary noise in the last digits.
fn seconds(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1e6
}
