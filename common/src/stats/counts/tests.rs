//! `Counts` against `hdrhistogram`: the same counter layout, the same counts after recording
//! and adding, the same quantiles.

use hdrhistogram::Histogram;
use proptest::prelude::*;

use super::*;

/// Values spread over the whole range, with the edges and saturating ones.
fn values() -> impl Strategy<Value = Vec<u64>> {
    let value = prop_oneof![
        0u64..4_096,
        0u64..5_000_000,
        0u64..=HISTOGRAM_MAX_US,
        HISTOGRAM_MAX_US..(1u64 << 33),
        any::<u64>(),
    ];
    prop::collection::vec(value, 0..400)
}

fn recorded(values: &[u64]) -> (Counts, Histogram<u64>) {
    let (mut counts, mut hist) = (Counts::empty(), empty_histogram());
    for &value in values {
        counts.record(value);
        hist.saturating_record(value);
    }
    (counts, hist)
}

/// The counts as nonzero buckets, as decoding gives them.
fn sparse(hist: &Histogram<u64>) -> Counts {
    let buckets: Vec<Bucket> = hist
        .iter_recorded()
        .map(|v| Bucket {
            index: index_of(v.value_iterated_to()).expect("recorded") as u32,
            count: v.count_at_value(),
        })
        .collect();
    Counts::sparse(buckets, hist.len())
}

const QUANTILES: [f64; 10] = [0.0, 1e-9, 0.25, 0.5, 0.9, 0.99, 0.999, 0.99999, 1.0, 1.5];

fn assert_same_quantiles(counts: &Counts, hist: &Histogram<u64>) {
    for q in QUANTILES {
        assert_eq!(
            counts.value_at_quantile(q),
            hist.value_at_quantile(q),
            "q {q}"
        );
    }
}

#[test]
fn layout_matches_hdrhistogram_for_every_counter() {
    let hist = empty_histogram();
    assert_eq!(BUCKETS, hist.distinct_values());
    for index in 0..BUCKETS {
        let (low, next) = (value_of(index), value_of(index + 1));
        assert_eq!(hist.lowest_equivalent(low), low, "index {index}");
        assert_eq!(hist.highest_equivalent(low), next - 1, "index {index}");
        assert_eq!(index_of(low), Some(index), "index {index}");
        assert_eq!(index_of(next - 1), Some(index), "index {index}");
    }
    assert_eq!(index_of(value_of(BUCKETS)), None);
    assert_eq!(index_of(u64::MAX), None);
}

#[test]
fn empty_counts_allocate_nothing_and_read_as_empty() {
    let empty = Counts::empty();
    assert!(matches!(&empty, Counts::Sparse(buckets, 0) if buckets.capacity() == 0));
    assert_eq!(empty.histogram(), empty_histogram());
    assert_same_quantiles(&empty, &empty_histogram());
}

#[test]
fn only_the_pages_samples_land_in_are_allocated() {
    let (counts, _) = recorded(&[1_000, 2_047, 2_048, 3_000]);
    let Counts::Dense(dense) = &counts else {
        panic!("recording makes the counts dense");
    };
    let allocated: Vec<usize> = (0..PAGES).filter(|&n| dense.pages[n].is_some()).collect();
    // 1,000 and 2,047 count one by one in pages 0 and 1; 2,048..4,096 share page 2.
    assert_eq!(allocated, vec![0, 1, 2]);

    let mut merged = Counts::empty();
    merged.add(&counts);
    merged.add(&recorded(&[3_600_000_000]).0);
    let Counts::Dense(merged) = &merged else {
        panic!("adding makes the counts dense");
    };
    assert_eq!(merged.pages.iter().flatten().count(), 4);
    assert_eq!(merged.total, 5);
}

#[test]
fn count_above_counts_the_counters_past_a_value() {
    let (counts, _) = recorded(&[5, 9_999, 10_000, 10_007, 10_008, 10_100, 2_000_000]);
    // 10,000..=10,007 share a counter (8 us wide at this magnitude).
    assert_eq!(counts.count_above(10_000), 3);
    assert_eq!(counts.count_above(0), 7);
    assert_eq!(counts.count_above(HISTOGRAM_MAX_US), 0);
    assert_eq!(Counts::empty().count_above(10), 0);
    let buckets = sparse(&recorded(&[1, 20_000, 30_000]).1);
    assert_eq!(buckets.count_above(10_000), 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Recording gives hdrhistogram's counters (saturation included) and quantiles.
    #[test]
    fn recording_matches_hdrhistogram(values in values()) {
        let (counts, hist) = recorded(&values);
        prop_assert_eq!(counts.histogram(), hist.clone());
        assert_same_quantiles(&counts, &hist);
        assert_same_quantiles(&sparse(&hist), &hist);
    }

    /// Adding dense or sparse counts, into empty or filled ones, is `Histogram::add`.
    #[test]
    fn adding_matches_hdrhistogram(a in values(), b in values(), c in values()) {
        let (a, hist_a) = recorded(&a);
        let (b, hist_b) = recorded(&b);
        let (c, hist_c) = recorded(&c);
        let mut expected = hist_a.clone();
        expected.add(&hist_b).expect("same bounds");
        expected.add(&hist_c).expect("same bounds");

        let mut dense = a.clone();
        dense.add(&b);
        dense.add(&c);
        prop_assert_eq!(dense.histogram(), expected.clone());
        assert_same_quantiles(&dense, &expected);

        let mut from_sparse = Counts::empty();
        for part in [&hist_a, &hist_b, &hist_c] {
            from_sparse.add(&sparse(part));
        }
        prop_assert_eq!(from_sparse.histogram(), expected.clone());
        assert_same_quantiles(&from_sparse, &expected);

        let mut mixed = sparse(&hist_a);
        mixed.add(&b);
        mixed.add(&sparse(&hist_c));
        prop_assert_eq!(mixed.histogram(), expected.clone());
        assert_same_quantiles(&mixed, &expected);
    }
}
