//! `GET /api/v1/events`: Server-Sent Events. Each client follows the coordinator's
//! `watch` of snapshots, so it only ever holds the latest one and the coordinator never
//! waits for it; a client that reads slowly simply skips snapshots.
//!
//! The first snapshot a client receives carries the run's whole history
//! (`history_from: 0`), later ones only the rows it has not had yet; a new run is announced
//! with an `event: run` first. Every message's `id:` is `RUNID:N`, N the history rows sent.
//! The report's JSON (without history and histograms, its phases' included) is rendered once per snapshot and
//! shared by every client.

use std::convert::Infallible;
use std::sync::Arc;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use futures::StreamExt as _;
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::live::snapshot::Snapshot;

/// A snapshot rendered for SSE, shared by all clients.
#[derive(Debug)]
pub struct Pieces {
    /// The `live` object.
    live: String,
    /// The report object without `history` and without its closing `}`.
    head: String,
}

impl Pieces {
    fn render(snapshot: &Snapshot) -> Pieces {
        let live = serde_json::to_string(&snapshot.live).unwrap_or_else(|_| "{}".into());
        let mut report = serde_json::to_value(&snapshot.report).unwrap_or(Value::Null);
        if let Some(object) = report.as_object_mut() {
            object.remove("history");
            if let Some(total) = object.get_mut("total") {
                clear_histogram(total);
            }
            if let Some(Value::Array(rows)) = object.get_mut("endpoints") {
                rows.iter_mut().for_each(clear_histogram);
            }
        }
        let mut head = serde_json::to_string(&report).unwrap_or_else(|_| "{}".into());
        if head.ends_with('}') {
            head.pop();
        }
        Pieces { live, head }
    }
}

/// Empties a row's histogram, and its phases' histograms and percentile lists (the page
/// shows a phase's count, average, p50, p95 and max; with 1,000 endpoints the lists
/// doubled every snapshot).
fn clear_histogram(row: &mut Value) {
    if let Some(field) = row.get_mut("histogram") {
        *field = Value::String(String::new());
    }
    if let Some(Value::Object(phases)) = row.get_mut("phases") {
        for phase in phases.values_mut() {
            if let Some(field) = phase.get_mut("histogram") {
                *field = Value::String(String::new());
            }
            if let Some(field) = phase.get_mut("percentiles_ms") {
                *field = Value::Array(Vec::new());
            }
        }
    }
}

/// The `data:` of a snapshot event holding history rows `from..`.
pub fn snapshot_data(snapshot: &Snapshot, from: usize) -> String {
    let (live, head) = snapshot.sse.get_or_init(|| {
        let pieces = Pieces::render(snapshot);
        (pieces.live, pieces.head)
    });
    let rows = snapshot.report.history.get(from..).unwrap_or_default();
    let history = serde_json::to_string(rows).unwrap_or_else(|_| "[]".into());
    let separator = if head.len() > 1 { "," } else { "" };
    format!(
        "{{\"live\":{live},\"report\":{head}{separator}\"history\":{history}}},\"history_from\":{from}}}"
    )
}

/// What one client has been sent.
#[derive(Debug, Default)]
struct Client {
    run_id: Option<String>,
    sent: usize,
    started: bool,
}

impl Client {
    /// The events that bring this client up to `snapshot`.
    fn events_for(&mut self, snapshot: &Snapshot) -> Vec<Event> {
        let run_id = snapshot.report.run_id.clone();
        let mut events = Vec::new();
        let new_run = self.run_id.as_deref() != Some(run_id.as_str());
        if new_run && self.started {
            let data = serde_json::json!({ "run_id": run_id }).to_string();
            events.push(Event::default().event("run").data(data));
        }
        let rows = snapshot.report.history.len();
        if new_run || rows < self.sent || !self.started {
            self.sent = 0;
        }
        let data = snapshot_data(snapshot, self.sent);
        self.sent = rows;
        self.run_id = Some(run_id.clone());
        self.started = true;
        events.push(
            Event::default()
                .event("snapshot")
                .id(format!("{run_id}:{rows}"))
                .data(data),
        );
        events
    }
}

/// The event stream of one client; it ends when `shutdown` is cancelled or the
/// coordinator is gone.
pub fn stream(
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    shutdown: CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let first = Arc::clone(&snapshots.borrow_and_update());
    let state = (Some(first), snapshots, Client::default(), shutdown);
    futures::stream::unfold(
        state,
        |(pending, mut snapshots, mut client, shutdown)| async move {
            let snapshot = match pending {
                Some(snapshot) => snapshot,
                None => {
                    tokio::select! {
                        () = shutdown.cancelled() => return None,
                        changed = snapshots.changed() => changed.ok()?,
                    }
                    Arc::clone(&snapshots.borrow_and_update())
                }
            };
            let events = client.events_for(&snapshot);
            Some((events, (None, snapshots, client, shutdown)))
        },
    )
    .flat_map(|events| futures::stream::iter(events.into_iter().map(Ok)))
}

/// The SSE response.
pub fn response(
    snapshots: watch::Receiver<Arc<Snapshot>>,
    shutdown: CancellationToken,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    Sse::new(stream(snapshots, shutdown)).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::snapshot::RunState;
    use crate::web::fixtures;

    fn data(snapshot: &Snapshot, from: usize) -> Value {
        serde_json::from_str(&snapshot_data(snapshot, from)).expect("valid JSON")
    }

    #[test]
    fn snapshot_data_is_json_with_the_history_from_the_given_row() {
        let config = fixtures::config(&[]);
        let run = fixtures::stats(4);
        let snapshot = fixtures::snapshot(&config, &run, "run-1", RunState::Running);
        let whole = data(&snapshot, 0);
        assert_eq!(whole["history_from"], 0);
        assert_eq!(whole["report"]["history"].as_array().map(Vec::len), Some(4));
        assert_eq!(whole["report"]["total"]["requests"], 48);
        assert_eq!(whole["report"]["total"]["histogram"], "");
        assert_eq!(whole["report"]["endpoints"][0]["histogram"], "");
        let phases = &whole["report"]["endpoints"][0]["phases"];
        assert_eq!(phases["ttfb"]["count"], 40, "the phases reach the page");
        assert_eq!(phases["ttfb"]["histogram"], "", "without their histograms");
        assert_eq!(
            phases["ttfb"]["percentiles_ms"],
            serde_json::json!([]),
            "nor their lists"
        );
        assert!(phases["ttfb"]["p95_ms"].as_f64().is_some_and(|p| p > 0.0));
        assert_eq!(
            whole["report"]["total"]["phases"]["connect"]["histogram"],
            ""
        );
        assert_eq!(whole["live"]["state"], "running");
        let tail = data(&snapshot, 3);
        assert_eq!(tail["history_from"], 3);
        let rows = tail["report"]["history"].as_array().expect("rows");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["total_requests"], 48);
        assert_eq!(
            data(&snapshot, 9)["report"]["history"]
                .as_array()
                .map(Vec::len),
            Some(0)
        );
    }

    #[test]
    fn a_client_gets_the_whole_history_first_then_new_rows_then_a_new_run() {
        let config = fixtures::config(&[]);
        let mut client = Client::default();
        let first = fixtures::snapshot(&config, &fixtures::stats(2), "run-1", RunState::Running);
        assert_eq!(client.events_for(&first).len(), 1);
        assert_eq!(client.sent, 2);
        let later = fixtures::snapshot(&config, &fixtures::stats(5), "run-1", RunState::Running);
        assert_eq!(client.events_for(&later).len(), 1);
        assert_eq!(client.sent, 5);
        let next = fixtures::snapshot(&config, &fixtures::stats(1), "run-2", RunState::Running);
        let events = client.events_for(&next);
        assert_eq!(events.len(), 2, "a run event, then the snapshot");
        assert_eq!(client.sent, 1);
        assert_eq!(client.run_id.as_deref(), Some("run-2"));
    }
}
