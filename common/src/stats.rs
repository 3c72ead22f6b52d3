//! Per-endpoint request stats and their exact merge.
//!
//! Workers record every request here and ship deltas; the master merges them into run totals.
//! Fleet-wide percentiles must equal those of one histogram holding every sample, so response
//! times are counted as an HdrHistogram counts them (`counts`: its counter layout, added
//! counter by counter, never averaged; `v2`: its wire encoding) while min, max and the sum are
//! tracked exactly beside them. Memory is bounded by the number of distinct keys, which is
//! capped, not by the number of requests. Pure code: no clock, no I/O, no tasks.
//!
//! Beside the response time, each endpoint has the timing phases of its requests
//! ([`PhaseStats`]: connect, TLS handshake, time to first byte, body read), each phase a
//! histogram of its own that holds only the requests that had it (a request on a reused
//! connection has no connect sample), so a phase's count says how many requests had it.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::kind::SloKind;

mod counts;
mod error;
mod keys;
mod layout;
mod v2;

use counts::Counts;
pub use error::StatsError;
pub use keys::{
    EndpointKey, FailureKey, MAX_ENDPOINTS, MAX_EXCEPTION_KINDS, MAX_FAILURE_KINDS,
    MAX_MESSAGE_LEN, OVERFLOW_ERROR, OVERFLOW_NAME,
};
use keys::{EndpointRef, add_exception, add_failure, endpoint_key, endpoint_name, upsert};
pub use layout::HISTOGRAM_MAX_US;
use layout::MAX_PARTS_REQUESTS;
pub use v2::{deflate_v2, inflate_v2};

/// Stats of one endpoint (or of several merged): counts, exact min/max/sum and a histogram.
#[derive(Debug, Clone)]
pub struct EndpointStats {
    /// SLO kind of the endpoint, if its scenario step named one.
    pub kind: Option<SloKind>,
    /// Requests recorded, failed ones included.
    pub requests: u64,
    /// Requests that failed.
    pub failures: u64,
    /// Sum of response body sizes in bytes.
    pub content_bytes: u64,
    /// Exact smallest response time in microseconds (0 when empty).
    pub min_us: u64,
    /// Exact largest response time in microseconds (0 when empty).
    pub max_us: u64,
    /// Exact sum of response times in microseconds.
    pub total_us: u64,
    /// One sample per request, microseconds, bounds 1..=[`HISTOGRAM_MAX_US`], 3 digits, as an
    /// HdrHistogram counts them; kept sparse when decoded from the wire, until recorded or
    /// merged into.
    hist: Counts,
}

impl Default for EndpointStats {
    fn default() -> Self {
        EndpointStats::new(None)
    }
}

impl EndpointStats {
    /// Empty stats of the given kind.
    pub fn new(kind: Option<SloKind>) -> Self {
        EndpointStats {
            kind,
            requests: 0,
            failures: 0,
            content_bytes: 0,
            min_us: 0,
            max_us: 0,
            total_us: 0,
            hist: Counts::empty(),
        }
    }

    /// Records one request; latencies above [`HISTOGRAM_MAX_US`] saturate in the histogram only.
    pub fn record(&mut self, latency_us: u64, content_len: u64, failed: bool) {
        if self.requests == 0 {
            (self.min_us, self.max_us) = (latency_us, latency_us);
        } else {
            self.min_us = self.min_us.min(latency_us);
            self.max_us = self.max_us.max(latency_us);
        }
        self.requests = self.requests.saturating_add(1);
        self.failures = self.failures.saturating_add(u64::from(failed));
        self.content_bytes = self.content_bytes.saturating_add(content_len);
        self.total_us = self.total_us.saturating_add(latency_us);
        self.hist.record(latency_us);
    }

    /// Adds `other` exactly; the kind stays self's if set, else becomes other's.
    pub fn merge(&mut self, other: &EndpointStats) {
        self.kind = self.kind.or(other.kind);
        if other.requests == 0 {
            return;
        }
        if self.requests == 0 {
            (self.min_us, self.max_us) = (other.min_us, other.max_us);
        } else {
            self.min_us = self.min_us.min(other.min_us);
            self.max_us = self.max_us.max(other.max_us);
        }
        self.requests = self.requests.saturating_add(other.requests);
        self.failures = self.failures.saturating_add(other.failures);
        self.content_bytes = self.content_bytes.saturating_add(other.content_bytes);
        self.total_us = self.total_us.saturating_add(other.total_us);
        self.hist.add(&other.hist);
    }

    /// The response-time histogram (microseconds), built from the counts on each call.
    pub fn histogram(&self) -> Histogram<u64> {
        self.hist.histogram()
    }

    /// True when no request was recorded.
    pub fn is_empty(&self) -> bool {
        self.requests == 0
    }

    /// Exact mean response time in milliseconds (0.0 when empty).
    pub fn avg_ms(&self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        self.total_us as f64 / self.requests as f64 / 1000.0
    }

    /// Exact smallest response time in milliseconds (0.0 when empty).
    pub fn min_ms(&self) -> f64 {
        self.min_us as f64 / 1000.0
    }

    /// Exact largest response time in milliseconds (0.0 when empty).
    pub fn max_ms(&self) -> f64 {
        self.max_us as f64 / 1000.0
    }

    /// Samples above `us` microseconds, to the histogram's resolution: those within 0.1% of
    /// `us` may go uncounted.
    pub fn count_above_us(&self, us: u64) -> u64 {
        self.hist.count_above(us)
    }

    /// Response time in ms at `percent` (0..=100), clamped into [min, max]; 0.0 when empty.
    ///
    /// 0 (or NaN) gives the exact min and 100 the exact max; values in between come from the
    /// histogram, so they are within 0.1 % or saturate at [`HISTOGRAM_MAX_US`].
    pub fn percentile_ms(&self, percent: f64) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        // The extremes are known exactly, also beyond the histogram's saturation point.
        if percent.is_nan() || percent <= 0.0 {
            return self.min_ms();
        }
        if percent >= 100.0 {
            return self.max_ms();
        }
        let value = self.hist.value_at_quantile(percent / 100.0);
        // A bucket's highest equivalent value can lie beyond the exact extremes.
        value.max(self.min_us).min(self.max_us) as f64 / 1000.0
    }

    /// Mean response body size in bytes (0.0 when empty).
    pub fn avg_content_bytes(&self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        self.content_bytes as f64 / self.requests as f64
    }

    /// The histogram in HdrHistogram's uncompressed V2 encoding.
    pub fn histogram_bytes(&self) -> Vec<u8> {
        v2::encode_v2(&self.hist)
    }

    /// Rebuilds stats from their fields and [`Self::histogram_bytes`] output, checking consistency.
    ///
    /// Only the uncompressed V2 encoding with lv's parameters is accepted (see [`StatsError`]).
    /// The histogram is kept as its nonzero buckets, so this allocates little and merging the
    /// result into other stats costs per bucket, not per counter of a full histogram.
    #[allow(
        clippy::too_many_arguments,
        reason = "mirrors the fields of the wire message one to one"
    )]
    pub fn from_parts(
        kind: Option<SloKind>,
        requests: u64,
        failures: u64,
        content_bytes: u64,
        min_us: u64,
        max_us: u64,
        total_us: u64,
        histogram: &[u8],
    ) -> Result<Self, StatsError> {
        if requests > MAX_PARTS_REQUESTS {
            return Err(StatsError::TooManyRequests { requests });
        }
        if failures > requests {
            return Err(StatsError::FailuresExceedRequests { failures, requests });
        }
        if requests > 0 && min_us > max_us {
            return Err(StatsError::MinAboveMax { min_us, max_us });
        }
        let decoded = v2::decode_v2(histogram)?;
        if decoded.total != requests {
            return Err(StatsError::CountMismatch {
                histogram: decoded.total,
                requests,
            });
        }
        let empty = requests == 0;
        Ok(EndpointStats {
            kind,
            requests,
            failures,
            content_bytes,
            min_us: if empty { 0 } else { min_us },
            max_us: if empty { 0 } else { max_us },
            total_us: if empty { 0 } else { total_us },
            hist: Counts::sparse(decoded.buckets, decoded.total),
        })
    }
}

/// Stats of every endpoint plus failure and exception counts: what workers report, masters merge.
#[derive(Debug, Clone, Default)]
pub struct StatsSet {
    /// Per endpoint; at most [`MAX_ENDPOINTS`] keys plus one [`OVERFLOW_NAME`] key per method.
    pub endpoints: BTreeMap<EndpointKey, EndpointStats>,
    /// Timing phases per endpoint, capped as `endpoints`; empty for requests that got no
    /// response (their failures have no phases).
    pub phases: BTreeMap<EndpointKey, PhaseStats>,
    /// Occurrences per failure kind; at most [`MAX_FAILURE_KINDS`] keys plus overflow keys.
    pub failures: BTreeMap<FailureKey, u64>,
    /// Occurrences per exception message; at most [`MAX_EXCEPTION_KINDS`] plus [`OVERFLOW_ERROR`].
    pub exceptions: BTreeMap<String, u64>,
}

impl StatsSet {
    /// Records one request (failed when `error` is set), applying the caps.
    ///
    /// Allocates only for a key not seen before; long messages are cut in a stack buffer.
    pub fn record_request(
        &mut self,
        method: &str,
        name: &str,
        kind: Option<SloKind>,
        latency_us: u64,
        content_len: u64,
        error: Option<&str>,
    ) {
        let (name, redirected) = endpoint_name(&self.endpoints, method, name);
        let kind = if redirected { None } else { kind };
        upsert(
            &mut self.endpoints,
            &(method, name) as &dyn EndpointRef,
            || endpoint_key(method, name),
            || EndpointStats::new(kind),
            |stats| {
                stats.kind = stats.kind.or(kind);
                stats.record(latency_us, content_len, error.is_some());
            },
        );
        if let Some(error) = error {
            add_failure(&mut self.failures, method, name, error, 1);
        }
    }

    /// Records the timing phases of one request (beside [`StatsSet::record_request`], which
    /// records its response time), applying the endpoint cap.
    pub fn record_phases(&mut self, method: &str, name: &str, phases: &RequestPhases) {
        let (name, _) = endpoint_name(&self.phases, method, name);
        upsert(
            &mut self.phases,
            &(method, name) as &dyn EndpointRef,
            || endpoint_key(method, name),
            PhaseStats::default,
            |stats| stats.record(phases),
        );
    }

    /// Counts one exception (an error raised outside any request), applying the caps.
    pub fn record_exception(&mut self, message: &str) {
        add_exception(&mut self.exceptions, message, 1);
    }

    /// Adds `other` exactly, applying the same caps as recording.
    pub fn merge(&mut self, other: &StatsSet) {
        for (key, stats) in &other.endpoints {
            let (name, redirected) = endpoint_name(&self.endpoints, &key.method, &key.name);
            upsert(
                &mut self.endpoints,
                &(key.method.as_str(), name) as &dyn EndpointRef,
                || endpoint_key(&key.method, name),
                || EndpointStats::new(None),
                |mine| {
                    let kind = mine.kind;
                    mine.merge(stats);
                    if redirected {
                        mine.kind = kind;
                    }
                },
            );
        }
        for (key, theirs) in &other.phases {
            let (name, _) = endpoint_name(&self.phases, &key.method, &key.name);
            upsert(
                &mut self.phases,
                &(key.method.as_str(), name) as &dyn EndpointRef,
                || endpoint_key(&key.method, name),
                PhaseStats::default,
                |mine| mine.merge(theirs),
            );
        }
        for (key, &count) in &other.failures {
            let (name, _) = endpoint_name(&self.endpoints, &key.method, &key.name);
            add_failure(&mut self.failures, &key.method, name, &key.error, count);
        }
        for (message, &count) in &other.exceptions {
            add_exception(&mut self.exceptions, message, count);
        }
    }

    /// Returns the contents and leaves `self` empty.
    pub fn take(&mut self) -> StatsSet {
        std::mem::take(self)
    }

    /// True when no request, failure or exception is recorded.
    pub fn is_empty(&self) -> bool {
        self.endpoints.values().all(EndpointStats::is_empty)
            && self.phases.values().all(PhaseStats::is_empty)
            && self.failures.is_empty()
            && self.exceptions.is_empty()
    }

    /// The "Aggregated" row: every endpoint merged, kind `None`.
    pub fn total(&self) -> EndpointStats {
        let mut total = EndpointStats::new(None);
        for stats in self.endpoints.values() {
            total.merge(stats);
        }
        total.kind = None;
        total
    }

    /// The Aggregated row's phases: every endpoint's merged.
    pub fn total_phases(&self) -> PhaseStats {
        let mut total = PhaseStats::default();
        for phases in self.phases.values() {
            total.merge(phases);
        }
        total
    }

    /// Requests over all endpoints.
    pub fn request_count(&self) -> u64 {
        let counts = self.endpoints.values().map(|s| s.requests);
        counts.fold(0, u64::saturating_add)
    }

    /// Failed requests over all endpoints.
    pub fn failure_count(&self) -> u64 {
        let counts = self.endpoints.values().map(|s| s.failures);
        counts.fold(0, u64::saturating_add)
    }
}

/// One timing phase of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// TCP connect (name resolution included), only when the request opened a connection.
    Connect,
    /// TLS handshake, only when the request opened an HTTPS connection.
    Tls,
    /// Time to first byte: from the first byte of the request written to the first byte of
    /// the response read.
    Ttfb,
    /// Body read: from the end of the response head to the last body byte, decoding included.
    Body,
}

impl Phase {
    /// Every phase, in the order they happen.
    pub const ALL: [Phase; 4] = [Phase::Connect, Phase::Tls, Phase::Ttfb, Phase::Body];

    /// The phase's name in reports (`connect`, `tls`, `ttfb`, `body`).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Connect => "connect",
            Phase::Tls => "tls",
            Phase::Ttfb => "ttfb",
            Phase::Body => "body",
        }
    }
}

/// The timing phases of one request, microseconds; `None` for a phase it did not have.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestPhases {
    /// TCP connect, when the request opened a connection.
    pub connect_us: Option<u64>,
    /// TLS handshake, when the request opened an HTTPS connection.
    pub tls_us: Option<u64>,
    /// Time to first byte.
    pub ttfb_us: u64,
    /// Body read.
    pub body_us: u64,
}

/// The phase histograms of one endpoint (or of several merged); each counts only the
/// requests that had the phase.
#[derive(Debug, Clone, Default)]
pub struct PhaseStats {
    /// TCP connect times.
    pub connect: EndpointStats,
    /// TLS handshake times.
    pub tls: EndpointStats,
    /// Times to first byte.
    pub ttfb: EndpointStats,
    /// Body read times.
    pub body: EndpointStats,
}

impl PhaseStats {
    /// Records the phases one request had.
    pub fn record(&mut self, phases: &RequestPhases) {
        if let Some(us) = phases.connect_us {
            self.connect.record(us, 0, false);
        }
        if let Some(us) = phases.tls_us {
            self.tls.record(us, 0, false);
        }
        self.ttfb.record(phases.ttfb_us, 0, false);
        self.body.record(phases.body_us, 0, false);
    }

    /// Adds `other` exactly, phase by phase.
    pub fn merge(&mut self, other: &PhaseStats) {
        for phase in Phase::ALL {
            self.get_mut(phase).merge(other.get(phase));
        }
    }

    /// The histogram of `phase`.
    pub fn get(&self, phase: Phase) -> &EndpointStats {
        match phase {
            Phase::Connect => &self.connect,
            Phase::Tls => &self.tls,
            Phase::Ttfb => &self.ttfb,
            Phase::Body => &self.body,
        }
    }

    /// The histogram of `phase`, to record or merge into.
    pub fn get_mut(&mut self, phase: Phase) -> &mut EndpointStats {
        match phase {
            Phase::Connect => &mut self.connect,
            Phase::Tls => &mut self.tls,
            Phase::Ttfb => &mut self.ttfb,
            Phase::Body => &mut self.body,
        }
    }

    /// True when no phase holds a sample.
    pub fn is_empty(&self) -> bool {
        Phase::ALL.iter().all(|&p| self.get(p).is_empty())
    }
}

#[cfg(test)]
mod tests;
