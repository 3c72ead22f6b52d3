//! Conversions between protocol messages ([`crate::pb`]) and domain types.
//!
//! Everything that arrives from the network goes through a `TryFrom` here, so the rest of
//! the code only sees checked values; a malformed message becomes a [`WireError`] that
//! names the field, and `Status::invalid_argument` on the wire.

use std::sync::Arc;
use std::time::Duration;

use crate::data::{DataChunk, DataGrant, DataTable};
use crate::kind::SloKind;
use crate::load::OpenStats;
use crate::pb;
use crate::plan::Plan;
use crate::quota::ClassUsers;
use crate::stats::{EndpointKey, EndpointStats, FailureKey, StatsSet};

mod error;
mod open;
mod phases;
mod stages;

pub use error::WireError;
use error::wire_err;
pub use open::OpenLoad;
pub use stages::StageClock;

/// The desired state of a worker for one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// Run id.
    pub run_id: String,
    /// Increases with each assignment of the run.
    pub generation: u64,
    /// What to run.
    pub plan: Arc<Plan>,
    /// Users per class for this worker.
    pub users: ClassUsers,
    /// This worker's spawn rate, users per second (> 0).
    pub spawn_rate: f64,
    /// Safety net: the longest the users may run.
    pub max_run_time: Duration,
    /// How often to report.
    pub report_interval: Duration,
    /// Set for an open-model run: fire this stripe of arrivals instead of running users.
    pub open: Option<OpenLoad>,
    /// The run's stage windows, when it has stages (either model).
    pub stages: Option<StageClock>,
    /// The test data this worker may draw, per source the plan uses.
    pub data: Vec<DataGrant>,
    /// The tables of that data, which came before in chunks (filled in by the worker,
    /// never sent).
    pub tables: Vec<Arc<DataTable>>,
}

impl Assignment {
    /// Users over all classes.
    pub fn total_users(&self) -> u32 {
        self.users.values().sum()
    }
}

impl From<&Assignment> for pb::Assignment {
    fn from(a: &Assignment) -> Self {
        pb::Assignment {
            run_id: a.run_id.clone(),
            generation: a.generation,
            plan_json: a.plan.to_json(),
            users: a.users.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            spawn_rate: a.spawn_rate,
            max_run_time_ms: millis(a.max_run_time),
            report_interval_ms: u32::try_from(a.report_interval.as_millis()).unwrap_or(u32::MAX),
            open: a.open.as_ref().map(pb::OpenLoad::from),
            stages: a.stages.as_ref().map(pb::StageClock::from),
            data: a.data.iter().map(pb::DataGrant::from).collect(),
        }
    }
}

impl TryFrom<pb::Assignment> for Assignment {
    type Error = WireError;

    fn try_from(a: pb::Assignment) -> Result<Self, WireError> {
        const M: &str = "Assignment";
        if a.run_id.is_empty() {
            return Err(wire_err(M, "empty run_id"));
        }
        let plan = Plan::from_json(&a.plan_json).map_err(|e| wire_err(M, e))?;
        for name in a.users.keys() {
            if !plan.classes.iter().any(|c| &c.name == name) {
                return Err(wire_err(M, format!("users for unknown class {name:?}")));
            }
        }
        if !(a.spawn_rate.is_finite() && a.spawn_rate > 0.0) {
            return Err(wire_err(
                M,
                format!("spawn_rate {} must be > 0", a.spawn_rate),
            ));
        }
        if a.report_interval_ms == 0 {
            return Err(wire_err(M, "report_interval_ms is 0"));
        }
        let open = a.open.map(OpenLoad::try_from).transpose()?;
        let stages = a.stages.map(StageClock::try_from).transpose()?;
        let data = a
            .data
            .into_iter()
            .map(DataGrant::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Assignment {
            run_id: a.run_id,
            generation: a.generation,
            plan: Arc::new(plan),
            users: a.users.into_iter().collect(),
            spawn_rate: a.spawn_rate,
            max_run_time: Duration::from_millis(a.max_run_time_ms),
            report_interval: Duration::from_millis(u64::from(a.report_interval_ms)),
            open,
            stages,
            data,
            tables: Vec::new(),
        })
    }
}

impl From<&DataGrant> for pb::DataGrant {
    fn from(g: &DataGrant) -> Self {
        pb::DataGrant {
            source: g.source.clone(),
            rows: g
                .rows
                .iter()
                .map(|r| pb::RowRange {
                    start: r.start,
                    end: r.end,
                })
                .collect(),
            cycle_start: g.cycle_start,
        }
    }
}

impl TryFrom<pb::DataGrant> for DataGrant {
    type Error = WireError;

    fn try_from(g: pb::DataGrant) -> Result<Self, WireError> {
        if let Some(bad) = g.rows.iter().find(|r| r.start > r.end) {
            return Err(wire_err(
                "DataGrant",
                format!("data {}: row range {}..{}", g.source, bad.start, bad.end),
            ));
        }
        Ok(DataGrant {
            source: g.source,
            rows: g.rows.into_iter().map(|r| r.start..r.end).collect(),
            cycle_start: g.cycle_start,
        })
    }
}

/// A data chunk of `run_id` for the wire.
pub fn chunk_to_pb(run_id: &str, c: DataChunk) -> pb::DataChunk {
    pb::DataChunk {
        run_id: run_id.to_owned(),
        source: c.source,
        fields: c.fields,
        json: c.json,
        total_rows: c.total_rows,
        first_row: c.first_row,
        text: c.text,
        ends: c.ends,
    }
}

/// A data chunk from the wire, with the run it belongs to.
pub fn chunk_from_pb(c: pb::DataChunk) -> (String, DataChunk) {
    (
        c.run_id,
        DataChunk {
            source: c.source,
            fields: c.fields,
            json: c.json,
            total_rows: c.total_rows,
            first_row: c.first_row,
            text: c.text,
            ends: c.ends,
        },
    )
}

/// One StatsReport, decoded.
#[derive(Debug, Clone)]
pub struct Report {
    /// Run id.
    pub run_id: String,
    /// Per-run sequence number, from 1.
    pub seq: u64,
    /// Interval start, Unix ms.
    pub start_unix_ms: i64,
    /// Interval end, Unix ms.
    pub end_unix_ms: i64,
    /// Users running at the end of the interval.
    pub users_running: u32,
    /// The deltas.
    pub stats: StatsSet,
    /// Last report of the run.
    pub last: bool,
    /// Requests cut off by the stop.
    pub cut_off: u64,
    /// Reports the worker dropped from a full resend buffer.
    pub dropped_reports: u64,
    /// Open model: arrival counters, service times and lags (`None` in a closed run).
    pub open: Option<OpenStats>,
    /// 1-based stage of the interval; 0 when the run has no stages.
    pub stage: u32,
}

impl From<&Report> for pb::StatsReport {
    fn from(r: &Report) -> Self {
        let (arrivals, service, lag) = r.open.as_ref().map(open::open_to_pb).unwrap_or_default();
        let [phase_connect, phase_tls, phase_ttfb, phase_body] =
            phases::phases_to_pb(&r.stats.phases);
        pb::StatsReport {
            run_id: r.run_id.clone(),
            seq: r.seq,
            start_unix_ms: r.start_unix_ms,
            end_unix_ms: r.end_unix_ms,
            users_running: r.users_running,
            endpoints: r
                .stats
                .endpoints
                .iter()
                .map(|(key, e)| pb::EndpointDelta {
                    method: key.method.clone(),
                    name: key.name.clone(),
                    kind: e.kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
                    requests: e.requests,
                    failures: e.failures,
                    content_bytes: e.content_bytes,
                    histogram: e.histogram_bytes(),
                    min_us: e.min_us,
                    max_us: e.max_us,
                    total_us: e.total_us,
                })
                .collect(),
            failures: r
                .stats
                .failures
                .iter()
                .map(|(key, count)| pb::FailureDelta {
                    method: key.method.clone(),
                    name: key.name.clone(),
                    error: key.error.clone(),
                    count: *count,
                })
                .collect(),
            exceptions: r
                .stats
                .exceptions
                .iter()
                .map(|(message, count)| pb::ExceptionDelta {
                    message: message.clone(),
                    count: *count,
                })
                .collect(),
            last: r.last,
            cut_off: r.cut_off,
            dropped_reports: r.dropped_reports,
            arrivals,
            service,
            lag,
            stage: r.stage,
            phase_connect,
            phase_tls,
            phase_ttfb,
            phase_body,
        }
    }
}

impl TryFrom<pb::StatsReport> for Report {
    type Error = WireError;

    fn try_from(r: pb::StatsReport) -> Result<Self, WireError> {
        const M: &str = "StatsReport";
        if r.run_id.is_empty() || r.seq == 0 {
            return Err(wire_err(M, "needs a run_id and a seq >= 1"));
        }
        let mut stats = StatsSet::default();
        for e in r.endpoints {
            let (key, endpoint) = endpoint_from_pb(e)?;
            stats
                .endpoints
                .entry(key)
                .and_modify(|existing| existing.merge(&endpoint))
                .or_insert(endpoint);
        }
        for f in r.failures {
            let key = FailureKey {
                method: f.method,
                name: f.name,
                error: f.error,
            };
            *stats.failures.entry(key).or_default() += f.count;
        }
        for x in r.exceptions {
            *stats.exceptions.entry(x.message).or_default() += x.count;
        }
        stats.phases =
            phases::phases_from_pb([r.phase_connect, r.phase_tls, r.phase_ttfb, r.phase_body])?;
        let open = open::open_from_pb(r.arrivals, r.service, r.lag)?;
        Ok(Report {
            run_id: r.run_id,
            seq: r.seq,
            start_unix_ms: r.start_unix_ms,
            end_unix_ms: r.end_unix_ms,
            users_running: r.users_running,
            stats,
            last: r.last,
            cut_off: r.cut_off,
            dropped_reports: r.dropped_reports,
            open,
            stage: r.stage,
        })
    }
}

/// One endpoint row of a report, checked: a known kind and a histogram that decodes.
fn endpoint_from_pb(e: pb::EndpointDelta) -> Result<(EndpointKey, EndpointStats), WireError> {
    const M: &str = "StatsReport";
    let kind = match e.kind.as_str() {
        "" => None,
        other => Some(
            other
                .parse::<SloKind>()
                .map_err(|err| wire_err(M, format!("endpoint {}: {err}", e.name)))?,
        ),
    };
    let endpoint = EndpointStats::from_parts(
        kind,
        e.requests,
        e.failures,
        e.content_bytes,
        e.min_us,
        e.max_us,
        e.total_us,
        &e.histogram,
    )
    .map_err(|err| wire_err(M, format!("endpoint {} {}: {err}", e.method, e.name)))?;
    let key = EndpointKey {
        method: e.method,
        name: e.name,
    };
    Ok((key, endpoint))
}

/// A duration in whole milliseconds, saturating.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The current wall-clock time in Unix milliseconds.
pub fn unix_ms_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip_exactly() {
        let mut stats = StatsSet::default();
        for i in 0..1000u64 {
            let error = (i % 10 == 0).then_some("HTTP 500");
            stats.record_request(
                "GET",
                "ATLAS /health",
                Some(SloKind::Health),
                100 + i * 37,
                20,
                error,
            );
        }
        stats.record_request("POST", "x", None, 5, 0, None);
        let phases = crate::stats::RequestPhases {
            connect_us: Some(120),
            tls_us: None,
            ttfb_us: 4_000,
            body_us: 900,
        };
        stats.record_phases("POST", "x", &phases);
        stats.record_exception("extract /id: not found");
        let report = Report {
            run_id: "r".into(),
            seq: 3,
            start_unix_ms: 1,
            end_unix_ms: 2,
            users_running: 7,
            stats,
            last: true,
            cut_off: 2,
            dropped_reports: 0,
            open: None,
            stage: 2,
        };
        let back = Report::try_from(pb::StatsReport::from(&report)).expect("decodes");
        assert_eq!(back.stage, 2);
        let key = EndpointKey {
            method: "GET".into(),
            name: "ATLAS /health".into(),
        };
        let (a, b) = (&report.stats.endpoints[&key], &back.stats.endpoints[&key]);
        assert_eq!(
            (a.requests, a.failures, a.kind),
            (b.requests, b.failures, b.kind)
        );
        assert_eq!(a.percentile_ms(99.0), b.percentile_ms(99.0));
        assert_eq!(back.stats.failures, report.stats.failures);
        let x = EndpointKey {
            method: "POST".into(),
            name: "x".into(),
        };
        let phases = &back.stats.phases[&x];
        assert_eq!((phases.connect.max_us, phases.ttfb.total_us), (120, 4_000));
        assert!(phases.tls.is_empty());
        assert_eq!(back.stats.exceptions, report.stats.exceptions);
        assert_eq!(
            (back.seq, back.users_running, back.last, back.cut_off),
            (3, 7, true, 2)
        );
    }

    #[test]
    fn malformed_reports_are_rejected() {
        let bad = pb::StatsReport {
            run_id: "r".into(),
            seq: 1,
            endpoints: vec![pb::EndpointDelta {
                method: "GET".into(),
                name: "x".into(),
                requests: 1,
                histogram: vec![1, 2, 3],
                ..Default::default()
            }],
            ..Default::default()
        };
        let err = Report::try_from(bad).expect_err("garbage histogram");
        assert!(err.to_string().contains("GET x"), "{err}");
        let zero_seq = pb::StatsReport {
            run_id: "r".into(),
            ..Default::default()
        };
        assert!(Report::try_from(zero_seq).is_err());
    }

    #[test]
    fn assignments_are_checked() {
        let bad = pb::Assignment {
            run_id: "r".into(),
            plan_json: b"not json".to_vec(),
            spawn_rate: 1.0,
            report_interval_ms: 1000,
            ..Default::default()
        };
        let err = Assignment::try_from(bad).expect_err("bad plan");
        assert!(err.to_string().contains("plan"), "{err}");
    }
}
