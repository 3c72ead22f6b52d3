//! What the open model measures beside the usual response times: per endpoint, service time
//! and schedule lag histograms, and per run the arrival counters.
//!
//! Response time (end − intended start) stays in the ordinary [`StatsSet`](crate::stats::StatsSet),
//! so every report's headline percentiles are measured from the planned instant. The values
//! are already free of coordinated omission; HdrHistogram's correction is never applied.
//! Pure code: instants come in from the caller.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::stats::{EndpointKey, EndpointStats};

/// The three times of one request, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestTiming {
    /// End − intended start: what a client arriving on time waited.
    pub response_us: u64,
    /// End − actual send: what the system under test took.
    pub service_us: u64,
    /// Actual send − intended start: how late the generator was.
    pub lag_us: u64,
}

impl RequestTiming {
    /// The timing of a request due `sent_late` after its planned instant that then took
    /// `service`; response = lag + service exactly.
    pub fn new(sent_late: Duration, service: Duration) -> RequestTiming {
        let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let (lag_us, service_us) = (micros(sent_late), micros(service));
        RequestTiming {
            response_us: lag_us.saturating_add(service_us),
            service_us,
            lag_us,
        }
    }
}

/// Arrival counters of an open-model run (or of an interval of one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArrivalCounts {
    /// Arrivals whose planned instant came.
    pub scheduled: u64,
    /// Arrivals whose iteration began.
    pub started: u64,
    /// Arrivals not started because `max_in_flight` was reached in drop mode.
    pub dropped: u64,
    /// Iterations that ended with every request successful.
    pub completed: u64,
    /// Iterations that ended with a failed request.
    pub failed: u64,
    /// Arrivals owed by a lost worker that no worker fired (counted by the master).
    pub lost: u64,
}

impl ArrivalCounts {
    /// Adds `other` field by field.
    pub fn merge(&mut self, other: &ArrivalCounts) {
        self.scheduled = self.scheduled.saturating_add(other.scheduled);
        self.started = self.started.saturating_add(other.started);
        self.dropped = self.dropped.saturating_add(other.dropped);
        self.completed = self.completed.saturating_add(other.completed);
        self.failed = self.failed.saturating_add(other.failed);
        self.lost = self.lost.saturating_add(other.lost);
    }
}

/// Service time and schedule lag of one endpoint.
#[derive(Debug, Clone, Default)]
pub struct OpenEndpoint {
    /// End − actual send, one sample per request.
    pub service: EndpointStats,
    /// Actual send − intended start, one sample per request.
    pub lag: EndpointStats,
}

/// The open model's extra measurements, keyed like the request stats.
#[derive(Debug, Clone, Default)]
pub struct OpenStats {
    /// Arrival counters.
    pub counts: ArrivalCounts,
    /// Per endpoint service time and schedule lag.
    pub endpoints: BTreeMap<EndpointKey, OpenEndpoint>,
}

impl OpenStats {
    /// Records the service time and lag of one request.
    pub fn record(&mut self, method: &str, name: &str, timing: RequestTiming) {
        let key = EndpointKey {
            method: method.to_owned(),
            name: name.to_owned(),
        };
        let entry = self.endpoints.entry(key).or_default();
        entry.service.record(timing.service_us, 0, false);
        entry.lag.record(timing.lag_us, 0, false);
    }

    /// Adds `other` exactly.
    pub fn merge(&mut self, other: &OpenStats) {
        self.counts.merge(&other.counts);
        for (key, theirs) in &other.endpoints {
            let ours = self.endpoints.entry(key.clone()).or_default();
            ours.service.merge(&theirs.service);
            ours.lag.merge(&theirs.lag);
        }
    }

    /// True when nothing was counted or recorded.
    pub fn is_empty(&self) -> bool {
        self.counts == ArrivalCounts::default() && self.endpoints.is_empty()
    }

    /// Everything recorded so far, leaving this empty.
    pub fn take(&mut self) -> OpenStats {
        std::mem::take(self)
    }

    /// Schedule lag of every endpoint merged.
    pub fn total_lag(&self) -> EndpointStats {
        let mut total = EndpointStats::default();
        for endpoint in self.endpoints.values() {
            total.merge(&endpoint.lag);
        }
        total
    }
}
