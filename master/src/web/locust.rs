//! Locust 2.x's HTTP API shapes, built from a [`Snapshot`] (pure), so scripts, exporters
//! and KEDA triggers written for Locust read lv unchanged: `/stats/requests` (field names of
//! Locust's `web.py` `request_stats`), `/exceptions`, `/tasks` and `/worker-count`.

use std::collections::BTreeMap;

use lv_common::plan::Plan;
use serde_json::{Value, json};

use crate::aggregate::ratio;
use crate::live::control::Started;
use crate::live::snapshot::{CurrentRow, RunState, Snapshot, WorkerLive};
use crate::report::summary::EndpointSummary;

/// Index of a percentile in [`crate::aggregate::PERCENTILES`].
fn percentile(row: &EndpointSummary, index: usize) -> f64 {
    row.percentiles_ms.get(index).copied().unwrap_or(0.0)
}

/// Escapes `<`, `>` and `&` (Locust's `safe_name`).
fn safe(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn stats_row(row: &EndpointSummary, current: Option<&CurrentRow>) -> Value {
    json!({
        "method": row.method,
        "name": row.name,
        "safe_name": safe(&row.name),
        "num_requests": row.requests,
        "num_failures": row.failures,
        "avg_response_time": row.avg_ms,
        "min_response_time": row.min_ms,
        "max_response_time": row.max_ms,
        "current_rps": current.map_or(0.0, |c| c.rps),
        "current_fail_per_sec": current.map_or(0.0, |c| c.fail_per_s),
        "median_response_time": row.p50_ms,
        "ninetieth_response_time": percentile(row, 4),
        "ninety_ninth_response_time": row.p99_ms,
        "avg_content_length": row.avg_content_bytes,
        "response_time_percentile_0.95": row.p95_ms,
        "response_time_percentile_0.99": row.p99_ms,
        "total_rps": row.rps,
        "total_fail_per_sec": row.failures_per_s,
    })
}

/// Locust's word for a worker: its run state when active, else `missing`.
fn worker_state(state: &str, run: RunState) -> &'static str {
    match (state, run) {
        ("active", RunState::Stopping) => "stopping",
        ("active", RunState::Spawning) => "spawning",
        ("active", RunState::Running) => "running",
        ("active", RunState::Stopped) => "stopped",
        ("active", RunState::Ready) => "ready",
        _ => "missing",
    }
}

/// `GET /stats/requests`. As in Locust since 2.43.4, the top level's `total_rps` and
/// `total_fail_per_sec` are the whole run's (the Aggregated row's), and `current_rps` and
/// `current_fail_per_sec` the Aggregated row's current window.
pub fn request_stats(snapshot: &Snapshot) -> Value {
    let live = &snapshot.live;
    let report = &snapshot.report;
    let aggregated = live.current.last().filter(|c| c.name == "Aggregated");
    json!({
        "stats": stats_rows(snapshot, aggregated),
        "errors": error_rows(snapshot),
        "current_rps": aggregated.map_or(0.0, |c| c.rps),
        "current_fail_per_sec": aggregated.map_or(0.0, |c| c.fail_per_s),
        "total_rps": report.total.rps,
        "total_fail_per_sec": report.total.failures_per_s,
        "fail_ratio": live.fail_ratio,
        "current_response_time_percentiles": {
            "response_time_percentile_0.5": aggregated.and_then(|c| c.p50_ms),
            "response_time_percentile_0.95": aggregated.and_then(|c| c.p95_ms),
        },
        "total_avg_response_time": report.total.avg_ms,
        "workers": worker_rows(snapshot),
        "worker_count": live.worker_count,
        "state": live.state.label(),
        "user_count": live.users,
        "run_id": live.run_id,
    })
}

/// A row per endpoint with its current window, sorted by name then method (Locust's
/// `sort_stats`), then the total with `aggregated`'s.
fn stats_rows(snapshot: &Snapshot, aggregated: Option<&CurrentRow>) -> Vec<Value> {
    let current: BTreeMap<(&str, &str), &CurrentRow> = snapshot
        .live
        .current
        .iter()
        .map(|c| ((c.name.as_str(), c.method.as_str()), c))
        .collect();
    let report = &snapshot.report;
    let mut endpoints: Vec<&EndpointSummary> = report.endpoints.iter().collect();
    endpoints.sort_by(|a, b| (&a.name, &a.method).cmp(&(&b.name, &b.method)));
    let mut rows: Vec<Value> = endpoints
        .into_iter()
        .map(|row| {
            let window = current.get(&(row.name.as_str(), row.method.as_str()));
            stats_row(row, window.copied())
        })
        .collect();
    rows.push(stats_row(&report.total, aggregated));
    rows
}

/// Unix ms as Locust's Unix seconds (a float); 0, an unknown time, as `null`.
fn unix_seconds(unix_ms: i64) -> Option<f64> {
    (unix_ms > 0).then(|| unix_ms as f64 / 1000.0)
}

/// A row per (method, name, error) with its occurrences and when it was first and last
/// seen: the start of the first and the end of the last worker report that carried it.
fn error_rows(snapshot: &Snapshot) -> Vec<Value> {
    snapshot
        .report
        .failures
        .iter()
        .map(|f| {
            json!({
                "method": f.method,
                "name": f.name,
                "safe_name": safe(&f.name),
                "error": f.error,
                "safe_error": safe(&f.error),
                "occurrences": f.count,
                "first_seen": unix_seconds(f.first_seen_unix_ms),
                "last_seen": unix_seconds(f.last_seen_unix_ms),
            })
        })
        .collect()
}

/// A row per worker, in Locust's words for its state, with its latest CPU (percent of the
/// cores it may use) and resident memory (bytes); 0 before its heartbeats carry them.
fn worker_rows(snapshot: &Snapshot) -> Vec<Value> {
    let live = &snapshot.live;
    live.workers
        .iter()
        .map(
            |WorkerLive {
                 core: w, resources, ..
             }| {
                let load = resources.as_ref();
                json!({
                    "id": w.id,
                    "state": worker_state(&w.state, live.state),
                    "user_count": w.users,
                    "cpu_usage": load.and_then(|r| r.cpu_percent).map_or(0.0, |g| g.last),
                    "memory_usage": load.and_then(|r| r.memory_bytes).map_or(0, |g| g.last as u64),
                })
            },
        )
        .collect()
}

/// The answer to a `/swarm` that started or edited a run: Locust's fields (`run_time` in
/// seconds when the form set one) and lv's `edit` and `run_id`.
pub fn swarm_started(started: &Started) -> Value {
    let mut body = json!({
        "success": true,
        "message": "Swarming started",
        "host": started.host,
        "edit": started.edit,
        "run_id": started.run_id,
    });
    if let Some(time) = started.run_time {
        body["run_time"] = if time.subsec_nanos() == 0 {
            json!(time.as_secs())
        } else {
            json!(time.as_secs_f64())
        };
    }
    body
}

/// Locust's download name, `Locust_<start>_<locustfile>_<host>.html`, as lv's
/// `lv_<start>_<scenario files>_<host><suffix>`: the run's start in UTC to the minute,
/// and every character a file name should not hold (`/`, `:`, ...) as `_`.
pub fn download_name(snapshot: &Snapshot, suffix: &str) -> String {
    let report = &snapshot.report;
    let files: Vec<&str> = report
        .meta
        .scenarios
        .iter()
        .map(|s| s.rsplit('/').next().unwrap_or(s))
        .collect();
    let mut name = format!(
        "lv_{}_{}",
        crate::report::format::utc_minute(report.started_unix_ms),
        files.join("+")
    );
    if !report.meta.host.is_empty() {
        name.push('_');
        name.push_str(&report.meta.host);
    }
    let mut safe: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' | '+' => c,
            _ => '_',
        })
        .collect();
    safe.push_str(suffix);
    safe
}

/// `GET /exceptions`.
pub fn exceptions(snapshot: &Snapshot) -> Value {
    let rows: Vec<Value> = snapshot
        .report
        .exceptions
        .iter()
        .map(|e| {
            json!({
                "count": e.count,
                "msg": e.message,
                "traceback": "",
                "nodes": e.nodes.join(", "),
            })
        })
        .collect();
    json!({ "exceptions": rows })
}

/// `GET /tasks`: the share of users per class and of picks per task, as Locust's
/// `get_ratio` reports them (`per_class` and `total`).
pub fn tasks(plan: &Plan) -> Value {
    let class_weights: u64 = plan.classes.iter().map(|c| u64::from(c.weight)).sum();
    let mut per_class = serde_json::Map::new();
    let mut total = serde_json::Map::new();
    for class in &plan.classes {
        let class_ratio = ratio(u64::from(class.weight), class_weights);
        let task_weights: u64 = class.tasks.iter().map(|t| u64::from(t.weight)).sum();
        let mut tasks = serde_json::Map::new();
        let mut tasks_total = serde_json::Map::new();
        for task in &class.tasks {
            let ratio = ratio(u64::from(task.weight), task_weights);
            tasks.insert(task.name.clone(), json!({ "ratio": ratio }));
            tasks_total.insert(task.name.clone(), json!({ "ratio": ratio * class_ratio }));
        }
        per_class.insert(
            class.name.clone(),
            json!({ "ratio": class_ratio, "tasks": tasks }),
        );
        total.insert(
            class.name.clone(),
            json!({ "ratio": class_ratio, "tasks": tasks_total }),
        );
    }
    json!({ "per_class": per_class, "total": total })
}

#[cfg(test)]
mod tests;
