//! `GET /metrics`: OpenMetrics text rendered with `prometheus-client` from a [`Snapshot`]
//! (the coordinator's figures, not counters of their own). Request counters come from the
//! run's totals; response times are quantiles of the merged histograms, in seconds. Label
//! cardinality is bounded like stats names: workers fold names past
//! [`lv_common::stats::MAX_ENDPOINTS`] into one overflow name, and this module never emits
//! more rows than that.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::aggregate::PERCENTILES;
use crate::live::snapshot::{Live, Snapshot};
use crate::report::summary::Summary;

/// The `Content-Type` of the answer.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Quantiles exported (as fractions) and their index in [`PERCENTILES`].
const QUANTILES: [(&str, usize); 5] = [("0.5", 0), ("0.9", 4), ("0.95", 5), ("0.99", 7), ("1", 10)];

type Labels = Vec<(String, String)>;
type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

fn endpoint_labels(method: &str, name: &str) -> Labels {
    vec![
        ("method".to_owned(), method.to_owned()),
        ("name".to_owned(), name.to_owned()),
    ]
}

/// The metrics text of `snapshot`.
pub fn render(snapshot: &Snapshot) -> String {
    let mut registry = Registry::default();
    request_metrics(&mut registry, &snapshot.report);
    run_metrics(&mut registry, &snapshot.live);
    worker_metrics(&mut registry, &snapshot.live);
    let mut out = String::new();
    if encode(&mut out, &registry).is_err() {
        out.clear();
    }
    out
}

/// Requests, failures and response-time quantiles per endpoint (at most
/// [`lv_common::stats::MAX_ENDPOINTS`]) and for the Aggregated total.
fn request_metrics(registry: &mut Registry, report: &Summary) {
    let requests = Family::<Labels, Counter>::default();
    let failures = Family::<Labels, Counter>::default();
    let times = Family::<Labels, FloatGauge>::default();
    let rows = report
        .endpoints
        .iter()
        .take(lv_common::stats::MAX_ENDPOINTS)
        .chain(std::iter::once(&report.total));
    for row in rows {
        let labels = endpoint_labels(&row.method, &row.name);
        requests.get_or_create(&labels).inc_by(row.requests);
        failures.get_or_create(&labels).inc_by(row.failures);
        for (quantile, index) in QUANTILES {
            let Some(ms) = row.percentiles_ms.get(index) else {
                continue;
            };
            let mut labels = labels.clone();
            labels.push(("quantile".to_owned(), quantile.to_owned()));
            times.get_or_create(&labels).set(ms / 1000.0);
        }
    }
    debug_assert_eq!(PERCENTILES[10], 100.0);
    registry.register("lv_requests", "Requests completed, per endpoint", requests);
    registry.register(
        "lv_request_failures",
        "Failed requests, per endpoint",
        failures,
    );
    registry.register(
        "lv_response_time_seconds",
        "Response-time quantiles of the run from the merged histograms",
        times,
    );
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
mod tests {
    use super::*;
    use crate::live::snapshot::RunState;
    use crate::web::fixtures;

    #[test]
    fn counters_and_quantiles_come_from_the_report() {
        let config = fixtures::config(&[]);
        let run = fixtures::stats(2);
        let snapshot = fixtures::snapshot(&config, &run, "run-1", RunState::Running);
        let text = render(&snapshot);
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(
            text.contains("lv_requests_total{method=\"GET\",name=\"ATLAS /health\"} 20\n"),
            "{text}"
        );
        assert!(text.contains("lv_requests_total{method=\"\",name=\"Aggregated\"} 24\n"));
        assert!(
            text.contains("lv_request_failures_total{method=\"GET\",name=\"HERMES /health\"} 2\n")
        );
        assert!(text.contains("lv_users_target 4\n"));
        assert!(text.contains("lv_run_state 2\n"));
        assert!(text.contains("lv_workers{state=\"active\"} 0\n"));
        let max =
            "lv_response_time_seconds{method=\"GET\",name=\"HERMES /health\",quantile=\"1\"} 0.9";
        assert!(text.contains(max), "{text}");
    }

    /// Each worker's latest load is a gauge labelled by its id.
    #[test]
    fn worker_load_is_a_gauge_per_worker() {
        use crate::report::summary::resources::{Gauge, WorkerResources};

        let config = fixtures::config(&[]);
        let run = fixtures::stats(1);
        let mut snapshot = fixtures::snapshot(&config, &run, "run-1", RunState::Running);
        let gauge = |last| Gauge {
            last,
            peak: last,
            mean: last,
        };
        snapshot
            .live
            .workers
            .push(crate::live::snapshot::WorkerLive {
                core: crate::report::summary::WorkerCore {
                    id: "w1".into(),
                    hostname: "h".into(),
                    state: "active".into(),
                    users: 1,
                    requests: 0,
                    failures: 0,
                },
                heartbeat_age_s: 0.5,
                report_lag_s: None,
                resources: Some(WorkerResources {
                    samples: 1,
                    cpu_percent: Some(gauge(42.5)),
                    memory_bytes: Some(gauge(2_000_000.0)),
                    connections: gauge(7.0),
                    sched_delay_ms: gauge(12.5),
                    overloads: Vec::new(),
                }),
            });
        let text = render(&snapshot);
        for line in [
            "lv_worker_cpu_percent{worker=\"w1\"} 42.5\n",
            "lv_worker_memory_bytes{worker=\"w1\"} 2000000\n",
            "lv_worker_connections{worker=\"w1\"} 7\n",
            "lv_worker_sched_delay_seconds{worker=\"w1\"} 0.0125\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }

    /// Every metric the Grafana dashboard queries is one `/metrics` serves.
    #[test]
    fn the_grafana_dashboard_queries_served_metrics() {
        let dashboard = include_str!("../../../deploy/grafana/lv.json");
        let config = fixtures::config(&[]);
        let run = fixtures::stats(1);
        let text = render(&fixtures::snapshot(
            &config,
            &run,
            "run-1",
            RunState::Running,
        ));
        let mut names: Vec<&str> = dashboard
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|word| word.starts_with("lv_"))
            .collect();
        names.sort_unstable();
        names.dedup();
        assert!(names.len() >= 6, "{names:?}");
        for name in names {
            assert!(text.contains(&format!("\n{name}")), "{name} is not served");
        }
    }
}
