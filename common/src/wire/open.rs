//! Wire conversions of the open model: the stripe of an Assignment and the extra
//! measurements of a StatsReport.

use std::collections::BTreeMap;
use std::time::Duration;

use super::error::{WireError, wire_err};
use super::stages::{stage_from_pb, stage_to_pb};
use crate::load::{
    ArrivalCounts, ArrivalKind, OnSaturation, OpenEndpoint, OpenStats, Schedule, Stage, Stripe,
};
use crate::pb;
use crate::stats::{EndpointKey, EndpointStats};

/// A worker's part of an open-model run.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenLoad {
    /// Stages of the rate (arrivals per second).
    pub stages: Vec<Stage>,
    /// Rate at the start.
    pub start_rate: f64,
    /// The schedule's start, Unix ms of the master's clock.
    pub start_unix_ms: i64,
    /// This worker's stripe.
    pub stripe: Stripe,
    /// Uniform or Poisson.
    pub arrivals: ArrivalKind,
    /// Seed of Poisson arrivals.
    pub seed: u64,
    /// This worker's cap on iterations in flight.
    pub max_in_flight: Option<u32>,
    /// What an arrival does at the cap.
    pub on_saturation: OnSaturation,
}

impl OpenLoad {
    /// The rate function every worker shares.
    pub fn schedule(&self) -> Schedule {
        let stages: Vec<(Duration, f64)> = self.stages.iter().map(|s| (s.duration, s.to)).collect();
        Schedule::new(self.start_rate, &stages)
    }
}

impl From<&OpenLoad> for pb::OpenLoad {
    fn from(o: &OpenLoad) -> Self {
        pb::OpenLoad {
            stages: o.stages.iter().map(stage_to_pb).collect(),
            start_rate: o.start_rate,
            start_unix_ms: o.start_unix_ms,
            workers: o.stripe.workers,
            index: o.stripe.index,
            from: o.stripe.from,
            poisson: o.arrivals == ArrivalKind::Poisson,
            seed: o.seed,
            max_in_flight: o.max_in_flight.unwrap_or(0),
            queue: o.on_saturation == OnSaturation::Queue,
        }
    }
}

impl TryFrom<pb::OpenLoad> for OpenLoad {
    type Error = WireError;

    fn try_from(o: pb::OpenLoad) -> Result<Self, WireError> {
        const M: &str = "Assignment.open";
        if o.workers == 0 || o.index >= o.workers {
            return Err(wire_err(
                M,
                format!("worker index {} of {} workers", o.index, o.workers),
            ));
        }
        let rate_ok = |r: f64| r.is_finite() && r >= 0.0;
        if !rate_ok(o.start_rate) || o.stages.iter().any(|s| !rate_ok(s.to)) {
            return Err(wire_err(M, "rates must be finite and >= 0"));
        }
        Ok(OpenLoad {
            stages: o.stages.into_iter().map(stage_from_pb).collect(),
            start_rate: o.start_rate,
            start_unix_ms: o.start_unix_ms,
            stripe: Stripe {
                workers: o.workers,
                index: o.index,
                from: o.from,
            },
            arrivals: if o.poisson {
                ArrivalKind::Poisson
            } else {
                ArrivalKind::Uniform
            },
            seed: o.seed,
            max_in_flight: (o.max_in_flight > 0).then_some(o.max_in_flight),
            on_saturation: if o.queue {
                OnSaturation::Queue
            } else {
                OnSaturation::Drop
            },
        })
    }
}

/// The report fields of `open`: counters, service and lag deltas.
pub(super) fn open_to_pb(
    open: &OpenStats,
) -> (
    Option<pb::ArrivalCounters>,
    Vec<pb::EndpointDelta>,
    Vec<pb::EndpointDelta>,
) {
    let c = &open.counts;
    let counters = pb::ArrivalCounters {
        scheduled: c.scheduled,
        started: c.started,
        dropped: c.dropped,
        completed: c.completed,
        failed: c.failed,
    };
    let delta = timing_delta;
    let service = open.endpoints.iter().map(|(k, e)| delta(k, &e.service));
    let lag = open.endpoints.iter().map(|(k, e)| delta(k, &e.lag));
    (Some(counters), service.collect(), lag.collect())
}

/// The open-model part of a report, when it has one.
pub(super) fn open_from_pb(
    counters: Option<pb::ArrivalCounters>,
    service: Vec<pb::EndpointDelta>,
    lag: Vec<pb::EndpointDelta>,
) -> Result<Option<OpenStats>, WireError> {
    const M: &str = "StatsReport";
    let Some(c) = counters else {
        return Ok(None);
    };
    let mut endpoints: BTreeMap<EndpointKey, OpenEndpoint> = BTreeMap::new();
    for (is_lag, deltas) in [(false, service), (true, lag)] {
        for d in deltas {
            let stats = EndpointStats::from_parts(
                None,
                d.requests,
                0,
                0,
                d.min_us,
                d.max_us,
                d.total_us,
                &d.histogram,
            )
            .map_err(|err| wire_err(M, format!("open endpoint {} {}: {err}", d.method, d.name)))?;
            let key = EndpointKey {
                method: d.method,
                name: d.name,
            };
            let entry = endpoints.entry(key).or_default();
            if is_lag {
                entry.lag.merge(&stats);
            } else {
                entry.service.merge(&stats);
            }
        }
    }
    Ok(Some(OpenStats {
        counts: ArrivalCounts {
            scheduled: c.scheduled,
            started: c.started,
            dropped: c.dropped,
            completed: c.completed,
            failed: c.failed,
            lost: 0,
        },
        endpoints,
    }))
}

/// One endpoint's histogram of a timing (service time, lag, a phase) as a wire delta: only
/// its samples, no kind, failures or bytes.
pub(super) fn timing_delta(key: &EndpointKey, e: &EndpointStats) -> pb::EndpointDelta {
    pb::EndpointDelta {
        method: key.method.clone(),
        name: key.name.clone(),
        kind: String::new(),
        requests: e.requests,
        failures: 0,
        content_bytes: 0,
        histogram: e.histogram_bytes(),
        min_us: e.min_us,
        max_us: e.max_us,
        total_us: e.total_us,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::RequestTiming;

    #[test]
    fn open_loads_round_trip_exactly() {
        let load = OpenLoad {
            stages: vec![Stage {
                name: "ramp".into(),
                duration: Duration::from_nanos(1_500_000_001),
                to: 33.3,
            }],
            start_rate: 1.5,
            start_unix_ms: 1_700_000_000_000,
            stripe: Stripe {
                workers: 3,
                index: 2,
                from: 150,
            },
            arrivals: ArrivalKind::Poisson,
            seed: 9,
            max_in_flight: Some(7),
            on_saturation: OnSaturation::Queue,
        };
        let back = OpenLoad::try_from(pb::OpenLoad::from(&load)).expect("valid");
        assert_eq!(back, load);
        let bad = pb::OpenLoad {
            workers: 2,
            index: 2,
            ..Default::default()
        };
        assert!(OpenLoad::try_from(bad).is_err());
    }

    #[test]
    fn open_stats_round_trip_exactly() {
        let mut open = OpenStats::default();
        open.counts.scheduled = 10;
        open.counts.dropped = 3;
        for i in 0..50u64 {
            let timing = RequestTiming::new(Duration::from_micros(i), Duration::from_millis(i));
            open.record("GET", "/x", timing);
        }
        let (counters, service, lag) = open_to_pb(&open);
        let back = open_from_pb(counters, service, lag)
            .expect("valid")
            .expect("present");
        assert_eq!(back.counts, open.counts);
        let (a, b) = (
            open.endpoints.values().next().expect("row"),
            back.endpoints.values().next().expect("row"),
        );
        assert_eq!(a.lag.max_us, b.lag.max_us);
        assert_eq!(a.service.percentile_ms(99.0), b.service.percentile_ms(99.0));
        assert!(matches!(open_from_pb(None, vec![], vec![]), Ok(None)));
    }
}
