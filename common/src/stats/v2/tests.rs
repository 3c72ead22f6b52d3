//! The V2 walk against `hdrhistogram`'s decoder (what the master used before): same bytes
//! accepted, same counters, and merging decoded stats gives what decoding whole histograms and
//! adding them gave.

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer, V2Serializer};
use proptest::prelude::*;

use super::*;
use crate::stats::EndpointStats;
use crate::stats::layout::empty_histogram;

fn latencies() -> impl Strategy<Value = Vec<u64>> {
    let value = prop_oneof![
        0u64..4_096,
        100u64..5_000_000,
        0u64..=HISTOGRAM_MAX_US,
        any::<u64>(),
    ];
    prop::collection::vec(value, 0..300)
}

fn stats_of(latencies: &[u64]) -> EndpointStats {
    let mut stats = EndpointStats::new(None);
    for (i, &latency) in latencies.iter().enumerate() {
        stats.record(latency, 10, i % 7 == 0);
    }
    stats
}

/// What `from_parts` did before: the header check, then `hdrhistogram`'s decoder (whose debug
/// build panics on one varint; a panic counts as a refusal).
fn old_decode(bytes: &[u8]) -> Option<Histogram<u64>> {
    check_v2_header(bytes).ok()?;
    std::panic::catch_unwind(|| Deserializer::new().deserialize(&mut &bytes[..]))
        .ok()?
        .ok()
}

fn new_decode(bytes: &[u8]) -> Option<Histogram<u64>> {
    let decoded = decode_v2(bytes).ok()?;
    let hist = super::super::counts::Counts::sparse(decoded.buckets, decoded.total).histogram();
    assert_eq!(hist.len(), decoded.total);
    Some(hist)
}

/// `bytes` with its payload replaced, the header's length fixed to match.
fn with_payload(bytes: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = bytes[..V2_HEADER_LEN].to_vec();
    out[4..8].copy_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

const QUANTILES: [f64; 6] = [0.5, 0.9, 0.95, 0.99, 0.999, 1.0];

/// What `V2Serializer` writes for a histogram that recorded `latencies`.
fn serialized(latencies: &[u64]) -> Vec<u8> {
    let mut hist = empty_histogram();
    for &latency in latencies {
        hist.saturating_record(latency);
    }
    let mut out = Vec::new();
    V2Serializer::new()
        .serialize(&hist, &mut out)
        .expect("serializes");
    out
}

#[test]
fn written_bytes_are_v2_serializers() {
    for latencies in [
        &[][..],
        &[0],
        &[0, 0, 3],
        &[1, 3],
        &[2_047, 2_048, 2_050],
        &[u64::MAX],
    ] {
        assert_eq!(stats_of(latencies).histogram_bytes(), serialized(latencies));
    }
}

#[test]
fn edge_payloads_are_judged_as_before() {
    let bytes = stats_of(&[5, 700, 1_000_000]).histogram_bytes();
    // The longest zero run one number can hold (2^63 - 1 zeros).
    let longest_run = [0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    let cases: [(Vec<u8>, bool); 12] = [
        (vec![], true),
        (vec![0x02], true),
        (vec![0x80], false),
        (vec![0xff; 9], false),
        // A count of 2^63 - 1 in the first counter.
        (
            vec![0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            true,
        ),
        // A run of 23,551 zeros, then a count in the last counter, then one beyond it.
        (vec![0xfd, 0xef, 0x02, 0x02], true),
        (vec![0xfd, 0xef, 0x02, 0x02, 0x02], false),
        // A count of 0 beyond the last counter is no error, nor is a long trailing run.
        (vec![0xfd, 0xef, 0x02, 0x02, 0x00, 0x01], true),
        ([&[0x01][..], &longest_run].concat(), true),
        ([longest_run, longest_run].concat(), true),
        // Runs past the largest index.
        ([longest_run, longest_run, longest_run].concat(), false),
        ([&longest_run[..], &[0x02]].concat(), false),
    ];
    for (payload, accepted) in cases {
        let bytes = with_payload(&bytes, &payload);
        let new = new_decode(&bytes);
        assert_eq!(new.is_some(), accepted, "{payload:x?}");
        assert_eq!(new, old_decode(&bytes), "{payload:x?}");
    }
}

#[test]
fn payloads_longer_than_any_histogram_are_refused() {
    let bytes = stats_of(&[5]).histogram_bytes();
    let fits = with_payload(&bytes, &vec![0x00; BUCKETS * 9]);
    assert!(new_decode(&fits).is_some());
    let too_long = with_payload(&bytes, &vec![0x00; BUCKETS * 9 + 1]);
    assert!(new_decode(&too_long).is_none());
}

/// What `V2DeflateSerializer` writes for a histogram that recorded `latencies`.
fn deflate_serialized(latencies: &[u64]) -> Vec<u8> {
    let mut hist = empty_histogram();
    for &latency in latencies {
        hist.saturating_record(latency);
    }
    let mut out = Vec::new();
    V2DeflateSerializer::new()
        .serialize(&hist, &mut out)
        .expect("serializes");
    out
}

/// `stream` behind a compressed-V2 header whose length matches it.
fn compressed_frame(stream: &[u8]) -> Vec<u8> {
    let mut out = V2_DEFLATE_COOKIE.to_be_bytes().to_vec();
    out.extend((stream.len() as u32).to_be_bytes());
    out.extend_from_slice(stream);
    out
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).expect("zlib into a Vec");
    encoder.finish().expect("zlib into a Vec")
}

#[test]
fn plain_bytes_pass_through_inflate_unchanged() {
    let bytes = stats_of(&[5, 700]).histogram_bytes();
    assert!(matches!(inflate_v2(&bytes), Ok(Cow::Borrowed(b)) if b == &bytes[..]));
    assert!(matches!(inflate_v2(&[]), Ok(Cow::Borrowed(b)) if b.is_empty()));
}

#[test]
fn compressed_bytes_round_trip_and_hdrhistogram_reads_them() {
    // Response times over a few hundred buckets, as a real endpoint has them, and extremes.
    let mut latencies: Vec<u64> = (0..5_000u64).map(|i| 800 + i * 7_919 % 40_000).collect();
    latencies.extend([1, HISTOGRAM_MAX_US]);
    let plain = stats_of(&latencies).histogram_bytes();
    let compressed = deflate_v2(&plain);
    assert_eq!(&compressed[..4], &[0x1c, 0x84, 0x93, 0x14]);
    assert!(
        compressed.len() * 2 < plain.len(),
        "{} vs {}",
        compressed.len(),
        plain.len()
    );
    assert_eq!(
        inflate_v2(&compressed).expect("inflates").as_ref(),
        &plain[..]
    );
    let read: Histogram<u64> = Deserializer::new()
        .deserialize(&mut &compressed[..])
        .expect("hdrhistogram reads compressed V2");
    assert_eq!(Some(read), old_decode(&plain));
}

#[test]
fn hostile_compressed_headers_are_refused() {
    let compressed = deflate_v2(&stats_of(&[5]).histogram_bytes());
    // Too short for the header, a length that does not match, a stream that is not zlib.
    for bytes in [
        compressed[..6].to_vec(),
        [&compressed[..], &[0]].concat(),
        compressed[..compressed.len() - 1].to_vec(),
        compressed_frame(&[0x78, 0x9c, 0xff, 0xff, 0xff]),
    ] {
        assert!(
            matches!(inflate_v2(&bytes), Err(StatsError::BadHistogram { .. })),
            "{bytes:x?}"
        );
    }
    // A stream inflating to one byte more than any histogram needs is refused; the same
    // stream one byte shorter is inflated (and then judged by the V2 checks).
    let fits = vec![0u8; MAX_PLAIN_LEN];
    assert_eq!(
        inflate_v2(&compressed_frame(&zlib(&fits)))
            .expect("fits")
            .len(),
        MAX_PLAIN_LEN
    );
    let bomb = vec![0u8; MAX_PLAIN_LEN + 1];
    let err = inflate_v2(&compressed_frame(&zlib(&bomb))).expect_err("too large");
    assert!(err.to_string().contains("inflates to more than"), "{err}");
    // Inflated bytes that are no lv histogram fail the decoder's checks.
    let junk = compressed_frame(&zlib(b"not a histogram"));
    let inflated = inflate_v2(&junk).expect("inflates");
    assert!(decode_v2(&inflated).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The compressed bytes are `V2DeflateSerializer`'s, and inflate back to the plain ones.
    #[test]
    fn compressed_bytes_match_v2_deflate_serializer(latencies in latencies()) {
        let plain = stats_of(&latencies).histogram_bytes();
        let compressed = deflate_v2(&plain);
        prop_assert_eq!(&compressed, &deflate_serialized(&latencies));
        let inflated = inflate_v2(&compressed).expect("inflates");
        prop_assert_eq!(inflated.as_ref(), &plain[..]);
    }

    /// The bytes written are `V2Serializer`'s, from full counts and from decoded ones.
    #[test]
    fn written_bytes_match_v2_serializer(latencies in latencies()) {
        let stats = stats_of(&latencies);
        let bytes = stats.histogram_bytes();
        prop_assert_eq!(&bytes, &serialized(&latencies));
        let decoded = EndpointStats::from_parts(
            None, stats.requests, stats.failures, stats.content_bytes, stats.min_us,
            stats.max_us, stats.total_us, &bytes,
        ).expect("real bytes decode");
        prop_assert_eq!(decoded.histogram_bytes(), bytes);
    }

    /// Real bytes, and the same bytes mangled, are accepted and read exactly as before.
    #[test]
    fn mangled_bytes_are_judged_as_before(
        latencies in latencies(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in prop::option::of(any::<prop::sample::Index>()),
        tail in prop::collection::vec(any::<u8>(), 0..12),
    ) {
        let bytes = stats_of(&latencies).histogram_bytes();
        prop_assert!(new_decode(&bytes).is_some());
        prop_assert_eq!(new_decode(&bytes), old_decode(&bytes));
        let mut payload = bytes[V2_HEADER_LEN..].to_vec();
        if !payload.is_empty() {
            for (at, byte) in &edits {
                let at = at.index(payload.len());
                payload[at] = *byte;
            }
            if let Some(cut) = cut {
                payload.truncate(cut.index(payload.len()));
            }
        }
        payload.extend(&tail);
        let mangled = with_payload(&bytes, &payload);
        prop_assert_eq!(new_decode(&mangled), old_decode(&mangled));
    }

    /// Merging stats decoded from their bytes equals decoding whole histograms and adding
    /// them: the same counters, percentiles, count, min and max.
    #[test]
    fn merging_decoded_stats_equals_adding_decoded_histograms(
        parts in prop::collection::vec(latencies(), 1..5),
    ) {
        let mut merged = EndpointStats::new(None);
        let mut added = empty_histogram();
        for part in &parts {
            let stats = stats_of(part);
            let bytes = stats.histogram_bytes();
            let decoded = EndpointStats::from_parts(
                None, stats.requests, stats.failures, stats.content_bytes, stats.min_us,
                stats.max_us, stats.total_us, &bytes,
            ).expect("real bytes decode");
            for q in QUANTILES {
                prop_assert_eq!(decoded.percentile_ms(q * 100.0), stats.percentile_ms(q * 100.0));
            }
            merged.merge(&decoded);
            added.add(old_decode(&bytes).expect("decodes")).expect("same bounds");
        }
        let hist = merged.histogram();
        prop_assert_eq!(&hist, &added);
        prop_assert_eq!(merged.requests, added.len());
        prop_assert_eq!((hist.min_nz(), hist.max()), (added.min_nz(), added.max()));
        for q in QUANTILES {
            prop_assert_eq!(merged.hist.value_at_quantile(q), added.value_at_quantile(q));
        }
        let all: Vec<u64> = parts.concat();
        let whole = stats_of(&all);
        prop_assert_eq!((merged.min_us, merged.max_us), (whole.min_us, whole.max_us));
        for q in QUANTILES {
            prop_assert_eq!(merged.percentile_ms(q * 100.0), whole.percentile_ms(q * 100.0));
        }
    }
}
