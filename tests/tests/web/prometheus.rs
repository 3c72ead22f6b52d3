//! `/metrics` as scrapers meet it: the text format for promtool and curl, OpenMetrics for a
//! Prometheus server that asks for it, both with the numbers of the run's JSON report.

use std::io::Write as _;
use std::process::{Command, Stdio};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request};
use serde_json::Value;

use super::{Answer, Master, exchange, get};

/// Set to 1 (CI does) to make a missing `promtool` a failure instead of a skip.
const REQUIRE: &str = "LV_REQUIRE_PROMTOOL";

/// The `Accept` header Prometheus 2.x sends when it scrapes.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,\
    application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// Both formats of a live `/metrics` carry the report's counts; the text one passes
/// `promtool check metrics` (when promtool is installed; CI installs it).
pub(crate) async fn check_metrics(master: &Master, report: &Value) {
    let text = get(&master.url("/metrics")).await;
    assert_eq!(
        text.headers["content-type"].to_str().ok(),
        Some("text/plain; version=0.0.4; charset=utf-8"),
        "{:?}",
        text.headers
    );
    check_counts(&text, report);
    promtool(&text.body);

    let request = Request::builder()
        .method(Method::GET)
        .uri(master.url("/metrics"))
        .header("accept", PROMETHEUS_ACCEPT)
        .body(Full::new(Bytes::new()))
        .expect("request");
    let open = exchange(request).await;
    assert!(
        open.headers["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("application/openmetrics-text; version=1.0.0")),
        "{:?}",
        open.headers
    );
    assert!(open.body.ends_with("# EOF\n"), "{}", open.body);
    assert!(open.body.contains("# TYPE lv_requests counter\n"));
    check_counts(&open, report);
}

fn check_counts(answer: &Answer, report: &Value) {
    let lines = answer.body.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text");
    let sample = |metric: &str, name: &str| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == metric && s.labels.get("name") == Some(name))
            .map(|s| match &s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => *v,
                _ => f64::NAN,
            })
    };
    let total = report["total"]["requests"].as_u64().unwrap_or(0) as f64;
    assert!(total > 0.0);
    assert_eq!(
        sample("lv_requests_total", "Aggregated"),
        Some(total),
        "{}",
        answer.body
    );
    let endpoint = report["endpoints"][0]["name"].as_str().unwrap_or_default();
    let requests = report["endpoints"][0]["requests"].as_u64().unwrap_or(0) as f64;
    assert_eq!(sample("lv_requests_total", endpoint), Some(requests));
    assert_eq!(sample("lv_request_failures_total", "Aggregated"), Some(0.0));
    assert!(scrape.samples.iter().any(|s| s.metric == "lv_run_state"));
    let count =
        format!("lv_response_time_seconds_count{{method=\"\",name=\"Aggregated\"}} {total}\n");
    assert!(answer.body.contains(&count), "{}", answer.body);
    let median_s = report["total"]["p50_ms"].as_f64().unwrap_or(f64::NAN) / 1000.0;
    let quantile = "lv_response_time_seconds{method=\"\",name=\"Aggregated\",quantile=\"0.5\"} ";
    let served = answer
        .body
        .lines()
        .find_map(|l| l.strip_prefix(quantile))
        .and_then(|v| v.parse::<f64>().ok())
        .expect("the Aggregated median");
    assert!(
        (served - median_s).abs() < 1e-6,
        "{served} against {median_s}"
    );
}

/// Runs `promtool check metrics` on `body`; skips loudly when promtool is missing, unless
/// [`REQUIRE`] is 1.
fn promtool(body: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(err) => {
            assert!(
                std::env::var(REQUIRE).as_deref() != Ok("1"),
                "{REQUIRE}=1 but promtool cannot start ({err}); apt-get install prometheus"
            );
            eprintln!(
                "\n*** SKIPPED promtool check of /metrics: promtool cannot start ({err}); \
                 apt-get install prometheus, or set {REQUIRE}=1 to fail ***\n"
            );
            return;
        }
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool ends");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
