//! Tests of `stats`.
use super::v2::V2_HEADER_LEN;
use super::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const NAMES: [&str; 4] = ["/health", "/v1/chat", "/v1/events", "/v1/tasks"];

/// A latency between 50 us and 20 s, bunched in the middle on a log scale.
fn latency(rng: &mut SmallRng) -> u64 {
    let u = (rng.random::<f64>() + rng.random::<f64>() + rng.random::<f64>()) / 3.0;
    (50.0 * (20e6f64 / 50.0).powf(u)).round() as u64
}

fn rebuild(stats: &EndpointStats) -> Result<EndpointStats, StatsError> {
    let s = stats;
    let bytes = s.histogram_bytes();
    EndpointStats::from_parts(
        s.kind,
        s.requests,
        s.failures,
        s.content_bytes,
        s.min_us,
        s.max_us,
        s.total_us,
        &bytes,
    )
}

fn summary(s: &EndpointStats) -> Vec<f64> {
    let mut out: Vec<f64> = [50.0, 95.0, 99.0, 99.9, 100.0]
        .map(|p| s.percentile_ms(p))
        .to_vec();
    out.extend([
        s.min_ms(),
        s.max_ms(),
        s.avg_ms(),
        s.requests as f64,
        s.failures as f64,
        s.avg_content_bytes(),
    ]);
    out
}

#[test]
fn split_serialized_merge_equals_single_set() -> Result<(), StatsError> {
    let mut rng = SmallRng::seed_from_u64(7);
    let mut whole = StatsSet::default();
    let mut parts = [
        StatsSet::default(),
        StatsSet::default(),
        StatsSet::default(),
    ];
    for i in 0..30_000 {
        let name = NAMES[rng.random_range(0..NAMES.len())];
        let (lat, len) = (latency(&mut rng), rng.random_range(0..5000));
        let error = (rng.random_range(0..100) == 0).then_some("HTTP 500");
        whole.record_request("POST", name, Some(SloKind::Chat), lat, len, error);
        parts[i % 3].record_request("POST", name, Some(SloKind::Chat), lat, len, error);
    }
    let mut merged = StatsSet::default();
    for part in &parts {
        let mut decoded = part.clone();
        for stats in decoded.endpoints.values_mut() {
            *stats = rebuild(stats)?;
        }
        merged.merge(&decoded);
    }
    assert_eq!(merged.endpoints.len(), NAMES.len());
    for (key, stats) in &whole.endpoints {
        let mine = &merged.endpoints[key];
        assert_eq!(summary(mine), summary(stats), "{key:?}");
        assert_eq!(mine.histogram(), stats.histogram());
        assert_eq!(mine.kind, Some(SloKind::Chat));
    }
    assert_eq!(summary(&merged.total()), summary(&whole.total()));
    assert_eq!(merged.failures, whole.failures);
    assert_eq!(merged.request_count(), 30_000);
    assert_eq!(merged.failure_count(), whole.failures.values().sum::<u64>());
    Ok(())
}

#[test]
fn percentiles_stay_within_exact_extremes() {
    let mut stats = EndpointStats::default();
    for v in [0, 2047, 2049, 123_456, 5_000_000_000] {
        stats.record(v, 0, false);
    }
    for p in [0.0, 1.0, 50.0, 90.0, 99.0, 99.99, 100.0, 150.0, f64::NAN] {
        let value = stats.percentile_ms(p);
        assert!((0.0..=stats.max_ms()).contains(&value), "p{p} = {value}");
    }
    assert_eq!(stats.percentile_ms(0.0), 0.0, "0 is recorded as 0");
    assert_eq!(
        stats.percentile_ms(100.0),
        5_000_000.0,
        "clamped to the exact max"
    );
    assert_eq!(stats.max_us, 5_000_000_000);
    assert_eq!(EndpointStats::default().percentile_ms(99.0), 0.0);
    assert_eq!(EndpointStats::default().avg_ms(), 0.0);
}

#[test]
fn endpoint_cap_sends_new_keys_to_overflow() {
    let mut set = StatsSet::default();
    for i in 0..MAX_ENDPOINTS {
        set.record_request("GET", &format!("/e{i}"), Some(SloKind::Health), 10, 0, None);
    }
    set.record_request(
        "GET",
        "/one-too-many",
        Some(SloKind::Health),
        10,
        0,
        Some("boom"),
    );
    set.record_request("GET", "/e0", None, 10, 0, None);
    let overflow = endpoint_key("GET", OVERFLOW_NAME);
    assert_eq!(set.endpoints.len(), MAX_ENDPOINTS + 1);
    assert_eq!(set.endpoints[&overflow].requests, 1);
    assert_eq!(set.endpoints[&overflow].kind, None);
    assert_eq!(set.endpoints[&endpoint_key("GET", "/e0")].requests, 2);
    let failure = FailureKey {
        method: "GET".into(),
        name: OVERFLOW_NAME.into(),
        error: "boom".into(),
    };
    assert_eq!(set.failures.get(&failure), Some(&1));

    let mut other = StatsSet::default();
    other.record_request("PUT", "/elsewhere", Some(SloKind::Event), 10, 0, None);
    set.merge(&other);
    assert_eq!(
        set.endpoints[&endpoint_key("PUT", OVERFLOW_NAME)].kind,
        None
    );
    assert_eq!(set.request_count(), MAX_ENDPOINTS as u64 + 3);
}

#[test]
fn failure_and_exception_caps() {
    let mut set = StatsSet::default();
    for i in 0..=MAX_FAILURE_KINDS {
        set.record_request("GET", "/x", None, 1, 0, Some(&format!("error {i}")));
    }
    for i in 0..=MAX_EXCEPTION_KINDS {
        set.record_exception(&format!("exception {i}"));
    }
    let key = |error: &str| FailureKey {
        method: "GET".into(),
        name: "/x".into(),
        error: error.into(),
    };
    assert_eq!(set.failures.len(), MAX_FAILURE_KINDS + 1);
    assert_eq!(set.failures.get(&key(OVERFLOW_ERROR)), Some(&1));
    assert_eq!(set.failures.get(&key("error 0")), Some(&1));
    assert_eq!(set.exceptions.len(), MAX_EXCEPTION_KINDS + 1);
    assert_eq!(set.exceptions.get(OVERFLOW_ERROR), Some(&1));
    assert_eq!(set.failure_count(), MAX_FAILURE_KINDS as u64 + 1);
}

#[test]
fn long_messages_are_cut_on_a_char_boundary() {
    // 296 ASCII bytes, then a 3-byte char straddling the 297-byte cut.
    let long = format!("{}€ and more", "a".repeat(MAX_MESSAGE_LEN - 4));
    let mut set = StatsSet::default();
    set.record_request("GET", "/x", None, 1, 0, Some(&long));
    set.record_exception(&long);
    let expected = format!("{}…", "a".repeat(MAX_MESSAGE_LEN - 4));
    let error = set.failures.keys().next().map(|k| k.error.clone());
    assert_eq!(error.as_deref(), Some(expected.as_str()));
    assert!(set.exceptions.contains_key(&expected));
    assert!(expected.len() <= MAX_MESSAGE_LEN);
    // The same long message lands on the same key.
    set.record_exception(&long);
    assert_eq!(set.exceptions.get(&expected), Some(&2));
    let exact = "b".repeat(MAX_MESSAGE_LEN);
    set.record_exception(&exact);
    assert!(set.exceptions.contains_key(&exact));
}

#[test]
fn from_parts_rejects_bad_input() -> Result<(), StatsError> {
    let mut stats = EndpointStats::new(Some(SloKind::Event));
    stats.record(100, 10, true);
    stats.record(300, 10, false);
    let bytes = stats.histogram_bytes();
    let parts = |requests, failures, min, max, bytes: &[u8]| {
        EndpointStats::from_parts(None, requests, failures, 20, min, max, 400, bytes)
    };
    assert!(matches!(
        parts(2, 1, 100, 300, b"garbage"),
        Err(StatsError::BadHistogram { .. })
    ));
    assert!(matches!(
        parts(2, 1, 100, 300, &[0xff; 64]),
        Err(StatsError::BadHistogram { .. })
    ));
    assert!(matches!(
        parts(2, 1, 100, 300, &bytes[..bytes.len() - 1]),
        Err(StatsError::BadHistogram { .. })
    ));
    assert!(matches!(
        parts(3, 1, 100, 300, &bytes),
        Err(StatsError::CountMismatch {
            histogram: 2,
            requests: 3
        })
    ));
    assert!(matches!(
        parts(2, 3, 100, 300, &bytes),
        Err(StatsError::FailuresExceedRequests { .. })
    ));
    assert!(matches!(
        parts(2, 1, 300, 100, &bytes),
        Err(StatsError::MinAboveMax { .. })
    ));
    let mut compressed = bytes.clone();
    compressed[3] = 0x14;
    assert!(matches!(
        parts(2, 1, 100, 300, &compressed),
        Err(StatsError::BadHistogram { .. })
    ));
    let mut other_bounds = bytes.clone();
    other_bounds[31] ^= 1;
    assert!(matches!(
        parts(2, 1, 100, 300, &other_bounds),
        Err(StatsError::BadHistogram { .. })
    ));
    // A payload holding nine 0xff bytes (a zero run of 2^63) is refused before decoding.
    let mut zero_run = bytes[..V2_HEADER_LEN].to_vec();
    zero_run[4..8].copy_from_slice(&9u32.to_be_bytes());
    zero_run.extend([0xff; 9]);
    assert!(matches!(
        parts(0, 0, 0, 0, &zero_run),
        Err(StatsError::BadHistogram { .. })
    ));
    let message = parts(3, 1, 100, 300, &bytes).err().map(|e| e.to_string());
    assert_eq!(
        message.as_deref(),
        Some("histogram holds 2 samples but 3 requests were reported")
    );

    let rebuilt = parts(2, 1, 100, 300, &bytes)?;
    assert_eq!(summary(&rebuilt), summary(&stats));
    let empty = EndpointStats::default().histogram_bytes();
    assert!(EndpointStats::from_parts(None, 0, 0, 0, 9, 1, 0, &empty)?.is_empty());
    Ok(())
}

#[test]
fn take_leaves_empty_and_empty_merge_is_identity() {
    let mut set = StatsSet::default();
    set.record_request("GET", "/a", Some(SloKind::Health), 120, 7, None);
    set.record_request("GET", "/b", None, 80, 3, Some("timeout"));
    set.record_exception("connection refused");
    let before = set.clone();
    set.merge(&StatsSet::default());
    let summaries = |s: &StatsSet| {
        s.endpoints
            .iter()
            .map(|(k, v)| (k.clone(), summary(v), v.kind))
            .collect::<Vec<_>>()
    };
    assert_eq!(summaries(&set), summaries(&before));
    assert_eq!(
        (&set.failures, &set.exceptions),
        (&before.failures, &before.exceptions)
    );

    let mut empty = StatsSet::default();
    empty.merge(&before);
    assert_eq!(summaries(&empty), summaries(&before));

    let taken = set.take();
    assert!(set.is_empty() && set.endpoints.is_empty());
    assert!(!taken.is_empty());
    assert_eq!(taken.request_count(), 2);
    assert_eq!(taken.failure_count(), 1);
    let total = taken.total();
    assert_eq!(
        (total.kind, total.min_us, total.max_us, total.avg_ms()),
        (None, 80, 120, 0.1)
    );
}

fn phases(i: u64) -> RequestPhases {
    RequestPhases {
        connect_us: i.is_multiple_of(10).then_some(200 + i),
        tls_us: i.is_multiple_of(20).then_some(5_000 + i),
        ttfb_us: 1_000 + i * 13,
        body_us: i % 7,
    }
}

#[test]
fn split_phases_merge_to_the_single_set_and_count_only_their_requests() {
    let mut whole = StatsSet::default();
    let mut parts = [StatsSet::default(), StatsSet::default()];
    for i in 0..1_000u64 {
        let name = NAMES[(i % 4) as usize];
        whole.record_phases("GET", name, &phases(i));
        parts[(i % 2) as usize].record_phases("GET", name, &phases(i));
    }
    let mut merged = StatsSet::default();
    for part in &parts {
        merged.merge(part);
    }
    let (a, b) = (whole.total_phases(), merged.total_phases());
    for phase in Phase::ALL {
        assert_eq!(summary(a.get(phase)), summary(b.get(phase)), "{phase:?}");
    }
    assert_eq!(a.ttfb.requests, 1_000);
    assert_eq!(a.connect.requests, 100, "one in ten opened a connection");
    assert_eq!(a.tls.requests, 50);
    assert_eq!(a.body.min_us, 0, "an empty body reads in no time");
    assert!(!merged.is_empty());
}

#[test]
fn phases_are_capped_like_endpoints() {
    let mut set = StatsSet::default();
    for i in 0..(MAX_ENDPOINTS as u64 + 50) {
        set.record_phases("GET", &format!("/e{i}"), &phases(i));
    }
    assert_eq!(set.phases.len(), MAX_ENDPOINTS + 1);
    let overflow = EndpointKey {
        method: "GET".into(),
        name: OVERFLOW_NAME.into(),
    };
    assert_eq!(set.phases[&overflow].ttfb.requests, 50);
}
