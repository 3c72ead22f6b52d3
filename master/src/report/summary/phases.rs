//! The timing phases of an endpoint in the report: for each of connect, TLS, time to
//! first byte and body read, its count and times as the other percentile sets show them,
//! and its merged histogram, so a report (or checkpoint) rebuilds them exactly.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lv_common::stats::{EndpointStats, Phase, PhaseStats, deflate_v2, inflate_v2};
use serde::{Deserialize, Serialize};

use crate::aggregate::{PERCENTILES, percentiles};

/// One phase of an endpoint's requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseSummary {
    /// Requests that had this phase (for connect: requests that opened a connection).
    pub count: u64,
    /// Average, ms (exact).
    pub avg_ms: f64,
    /// Shortest, ms (exact).
    pub min_ms: f64,
    /// Longest, ms (exact).
    pub max_ms: f64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// At 50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99 and 100 %, ms.
    pub percentiles_ms: Vec<f64>,
    /// Exact sum, microseconds.
    pub total_us: u64,
    /// The merged histogram (µs), compressed V2 and base64 as an endpoint's `histogram`.
    pub histogram: String,
}

impl PhaseSummary {
    /// The summary of one phase's stats.
    pub fn new(stats: &EndpointStats) -> PhaseSummary {
        // Each percentile is a scan of the counters: take the list once and pick from it.
        let percentiles_ms = percentiles(stats);
        let pick = |p: f64| {
            let at = PERCENTILES.iter().position(|&q| q == p);
            at.and_then(|i| percentiles_ms.get(i))
                .copied()
                .unwrap_or(0.0)
        };
        PhaseSummary {
            count: stats.requests,
            avg_ms: stats.avg_ms(),
            min_ms: stats.min_ms(),
            max_ms: stats.max_ms(),
            p50_ms: pick(50.0),
            p95_ms: pick(95.0),
            p99_ms: pick(99.0),
            percentiles_ms,
            total_us: stats.total_us,
            histogram: BASE64.encode(deflate_v2(&stats.histogram_bytes())),
        }
    }

    /// Rebuilds the phase's stats from the stored histogram and exact fields.
    pub fn to_stats(&self) -> Result<EndpointStats, String> {
        let bytes = BASE64
            .decode(&self.histogram)
            .map_err(|e| format!("histogram is not base64: {e}"))?;
        EndpointStats::from_parts(
            None,
            self.count,
            0,
            0,
            (self.min_ms * 1000.0).round() as u64,
            (self.max_ms * 1000.0).round() as u64,
            self.total_us,
            &inflate_v2(&bytes).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())
    }
}

/// The timing phases of an endpoint; a phase no request had is absent (TLS on plain HTTP,
/// connect when every request reused a connection).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhasesSummary {
    /// TCP connect, name resolution included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<PhaseSummary>,
    /// TLS handshake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<PhaseSummary>,
    /// Time to first byte: request written to the first response byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfb: Option<PhaseSummary>,
    /// Body read: end of the response head to the last body byte, decoding included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<PhaseSummary>,
}

impl PhasesSummary {
    /// The summary of `stats`; `None` when no request had any phase.
    pub fn new(stats: &PhaseStats) -> Option<PhasesSummary> {
        if stats.is_empty() {
            return None;
        }
        let one = |phase| {
            Some(stats.get(phase))
                .filter(|s| !s.is_empty())
                .map(PhaseSummary::new)
        };
        Some(PhasesSummary {
            connect: one(Phase::Connect),
            tls: one(Phase::Tls),
            ttfb: one(Phase::Ttfb),
            body: one(Phase::Body),
        })
    }

    /// The summary of `phase`, when some request had it.
    pub fn get(&self, phase: Phase) -> Option<&PhaseSummary> {
        match phase {
            Phase::Connect => self.connect.as_ref(),
            Phase::Tls => self.tls.as_ref(),
            Phase::Ttfb => self.ttfb.as_ref(),
            Phase::Body => self.body.as_ref(),
        }
    }

    /// Rebuilds the phases' stats; an error names the phase.
    pub fn to_stats(&self) -> Result<PhaseStats, String> {
        let mut stats = PhaseStats::default();
        for phase in Phase::ALL {
            if let Some(summary) = self.get(phase) {
                *stats.get_mut(phase) = summary
                    .to_stats()
                    .map_err(|e| format!("phase {}: {e}", phase.as_str()))?;
            }
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lv_common::stats::RequestPhases;

    fn sample() -> PhaseStats {
        let mut stats = PhaseStats::default();
        for i in 0..100u64 {
            stats.record(&RequestPhases {
                connect_us: (i < 3).then_some(250 + i),
                tls_us: None,
                ttfb_us: 50_000 + i * 100,
                body_us: 100_000 + i * 10,
            });
        }
        stats
    }

    #[test]
    fn the_json_shape_has_counts_times_and_percentiles_and_no_absent_phase() {
        let summary = PhasesSummary::new(&sample()).expect("phases");
        let json = serde_json::to_value(&summary).expect("json");
        let object = json.as_object().expect("object");
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["body", "connect", "ttfb"],
            "no tls key on plain HTTP"
        );
        for (phase, fields) in object {
            for field in [
                "count", "avg_ms", "min_ms", "max_ms", "p50_ms", "p95_ms", "p99_ms",
            ] {
                assert!(fields[field].is_number(), "{phase}.{field}");
            }
            assert_eq!(fields["percentiles_ms"].as_array().map(Vec::len), Some(11));
        }
        assert_eq!(json["connect"]["count"], 3);
        assert_eq!(json["ttfb"]["count"], 100);
        let ttfb = json["ttfb"]["p50_ms"].as_f64().expect("p50");
        assert!((54.0..56.0).contains(&ttfb), "{ttfb}");
        assert!(PhasesSummary::new(&PhaseStats::default()).is_none());
    }

    #[test]
    fn summaries_rebuild_the_same_stats() {
        let stats = sample();
        let summary = PhasesSummary::new(&stats).expect("phases");
        let back = summary.to_stats().expect("rebuilds");
        for phase in Phase::ALL {
            let (a, b) = (stats.get(phase), back.get(phase));
            assert_eq!(
                (a.requests, a.total_us),
                (b.requests, b.total_us),
                "{phase:?}"
            );
            assert_eq!(a.histogram_bytes(), b.histogram_bytes(), "{phase:?}");
        }
        let mut broken = summary;
        if let Some(body) = &mut broken.body {
            body.histogram = "%%%".into();
        }
        let err = broken.to_stats().expect_err("bad base64");
        assert!(err.starts_with("phase body:"), "{err}");
    }
}
