use super::*;
use crate::live::snapshot::RunState;
use crate::web::fixtures;

fn rendered(format: Format) -> String {
    let config = fixtures::config(&[]);
    let run = fixtures::stats(2);
    render(
        &fixtures::snapshot(&config, &run, "run-1", RunState::Running),
        format,
    )
}

#[test]
fn openmetrics_counters_and_a_summary_come_from_the_report() {
    let text = rendered(Format::OpenMetrics);
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert_eq!(text.matches("# EOF").count(), 1, "{text}");
    assert!(text.contains("# TYPE lv_requests counter\n"), "{text}");
    assert!(
        text.contains("lv_requests_total{method=\"GET\",name=\"ATLAS /health\"} 20\n"),
        "{text}"
    );
    assert!(text.contains("lv_requests_total{method=\"\",name=\"Aggregated\"} 24\n"));
    assert!(text.contains("lv_request_failures_total{method=\"GET\",name=\"HERMES /health\"} 2\n"));
    assert!(text.contains("lv_users_target 4\n"));
    assert!(text.contains("lv_run_state 2\n"));
    assert!(text.contains("lv_workers{state=\"active\"} 0\n"));
    assert!(
        text.contains("# TYPE lv_response_time_seconds summary\n"),
        "{text}"
    );
    let max = "lv_response_time_seconds{method=\"GET\",name=\"HERMES /health\",quantile=\"1\"} 0.9";
    assert!(text.contains(max), "{text}");
    assert!(
        text.contains("lv_response_time_seconds_count{method=\"\",name=\"Aggregated\"} 24\n"),
        "{text}"
    );
}

/// The text format names counters' HELP and TYPE lines with `_total`, as promtool requires,
/// and has no `# EOF`.
#[test]
fn the_text_format_names_counters_with_total() {
    let text = rendered(Format::Text);
    assert!(text.contains("# HELP lv_requests_total Requests"), "{text}");
    assert!(
        text.contains("# TYPE lv_requests_total counter\n"),
        "{text}"
    );
    assert!(text.contains("# TYPE lv_request_failures_total counter\n"));
    assert!(text.contains("# TYPE lv_response_time_seconds summary\n"));
    assert!(!text.contains("# EOF"), "{text}");
    assert!(!text.contains("# TYPE lv_response_time_seconds gauge"));
}

/// `_sum` is the exact total of response times, so `_sum / _count` is the JSON's average.
#[test]
fn the_summary_sum_over_count_is_the_average() {
    let config = fixtures::config(&[]);
    let run = fixtures::stats(2);
    let snapshot = fixtures::snapshot(&config, &run, "run-1", RunState::Running);
    let rows = response_times(&snapshot.report);
    let total = rows.last().expect("the Aggregated row");
    assert_eq!(total.labels[1].1, "Aggregated");
    let avg_ms = snapshot.report.total.avg_ms;
    assert!((total.sum / total.count as f64 * 1000.0 - avg_ms).abs() < 1e-6);
    assert_eq!(total.quantiles.len(), QUANTILES.len());
}

#[test]
fn negotiation_follows_the_accept_header() {
    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
        version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
    assert_eq!(Format::negotiate(Some("text/plain")), Format::Text);
    assert_eq!(Format::negotiate(None), Format::Text);
    assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
    let refused = "application/openmetrics-text; q=0, text/plain";
    assert_eq!(Format::negotiate(Some(refused)), Format::Text);
    assert_eq!(
        Format::negotiate(Some("Application/OpenMetrics-Text")),
        Format::OpenMetrics
    );
    assert!(
        Format::Text
            .content_type()
            .starts_with("text/plain; version=0.0.4")
    );
}

/// Every metric the Grafana dashboard queries is one `/metrics` serves.
#[test]
fn the_grafana_dashboard_queries_served_metrics() {
    let dashboard = include_str!("../../../../deploy/grafana/lv.json");
    let text = render(&snapshot_with_a_worker(), Format::OpenMetrics);
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

/// A running snapshot with one worker, `w1`, whose latest load is known.
fn snapshot_with_a_worker() -> crate::live::snapshot::Snapshot {
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
    snapshot
}

/// Each worker's latest load is a gauge labelled by its id, in both formats.
#[test]
fn worker_load_is_a_gauge_per_worker() {
    let snapshot = snapshot_with_a_worker();
    for format in [Format::OpenMetrics, Format::Text] {
        let text = render(&snapshot, format);
        for line in [
            "# TYPE lv_worker_cpu_percent gauge\n",
            "lv_worker_cpu_percent{worker=\"w1\"} 42.5\n",
            "lv_worker_memory_bytes{worker=\"w1\"} 2000000\n",
            "lv_worker_connections{worker=\"w1\"} 7\n",
            "lv_worker_sched_delay_seconds{worker=\"w1\"} 0.0125\n",
        ] {
            assert!(text.contains(line), "{format:?}: {line} in {text}");
        }
    }
}
