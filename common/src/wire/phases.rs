//! Wire conversions of the timing phases of a StatsReport: one list of endpoint deltas per
//! phase, each histogram exact, so the master's merge equals one histogram of every sample.

use std::collections::BTreeMap;

use super::error::{WireError, wire_err};
use super::open::timing_delta;
use crate::pb;
use crate::stats::{EndpointKey, EndpointStats, Phase, PhaseStats};

/// The deltas of every endpoint's `phase`: only endpoints where some request had it.
fn deltas(phases: &BTreeMap<EndpointKey, PhaseStats>, phase: Phase) -> Vec<pb::EndpointDelta> {
    phases
        .iter()
        .map(|(key, p)| (key, p.get(phase)))
        .filter(|(_, e)| !e.is_empty())
        .map(|(key, e)| timing_delta(key, e))
        .collect()
}

/// The report fields `phase_connect`, `phase_tls`, `phase_ttfb` and `phase_body`, in that
/// order ([`Phase::ALL`]).
pub(super) fn phases_to_pb(
    phases: &BTreeMap<EndpointKey, PhaseStats>,
) -> [Vec<pb::EndpointDelta>; 4] {
    Phase::ALL.map(|phase| deltas(phases, phase))
}

/// The phases of a report from its four lists, in [`Phase::ALL`] order; a histogram that
/// does not decode or disagrees with its count is an error naming the phase and endpoint.
pub(super) fn phases_from_pb(
    lists: [Vec<pb::EndpointDelta>; 4],
) -> Result<BTreeMap<EndpointKey, PhaseStats>, WireError> {
    const M: &str = "StatsReport";
    let mut phases: BTreeMap<EndpointKey, PhaseStats> = BTreeMap::new();
    for (phase, list) in Phase::ALL.into_iter().zip(lists) {
        for d in list {
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
            .map_err(|err| {
                let what = phase.as_str();
                wire_err(M, format!("phase_{what} of {} {}: {err}", d.method, d.name))
            })?;
            let key = EndpointKey {
                method: d.method,
                name: d.name,
            };
            phases.entry(key).or_default().get_mut(phase).merge(&stats);
        }
    }
    Ok(phases)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{RequestPhases, StatsSet};

    #[test]
    fn phases_round_trip_exactly_and_absent_phases_stay_absent() {
        let mut set = StatsSet::default();
        for i in 0..200u64 {
            let phases = RequestPhases {
                connect_us: i.is_multiple_of(50).then_some(300 + i),
                tls_us: None,
                ttfb_us: 50_000 + i * 7,
                body_us: 100_000 + i,
            };
            set.record_phases("GET", "/slow", &phases);
        }
        let lists = phases_to_pb(&set.phases);
        assert!(lists[1].is_empty(), "no TLS sample, no TLS row");
        assert_eq!(lists[0][0].requests, 4, "four requests connected");
        let back = phases_from_pb(lists).expect("valid");
        let key = EndpointKey {
            method: "GET".into(),
            name: "/slow".into(),
        };
        let (a, b) = (&set.phases[&key], &back[&key]);
        for phase in Phase::ALL {
            let (x, y) = (a.get(phase), b.get(phase));
            assert_eq!(
                (x.requests, x.min_us, x.max_us),
                (y.requests, y.min_us, y.max_us)
            );
            assert_eq!(x.total_us, y.total_us);
            assert_eq!(x.percentile_ms(50.0), y.percentile_ms(50.0), "{phase:?}");
            assert_eq!(x.histogram_bytes(), y.histogram_bytes(), "{phase:?}");
        }
        assert!(b.tls.is_empty());
    }

    #[test]
    fn a_bad_phase_histogram_names_the_phase_and_endpoint() {
        let bad = pb::EndpointDelta {
            method: "GET".into(),
            name: "/x".into(),
            requests: 1,
            histogram: vec![1, 2, 3],
            ..Default::default()
        };
        let lists = [vec![], vec![], vec![bad], vec![]];
        let err = phases_from_pb(lists).expect_err("garbage histogram");
        assert!(err.to_string().contains("phase_ttfb of GET /x"), "{err}");
    }
}
