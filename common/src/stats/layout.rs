//! lv's histogram parameters: the range and precision every histogram shares, so that any
//! two merge exactly.

use hdrhistogram::Histogram;

/// Largest response time the histogram resolves (1 h, in microseconds); larger ones saturate.
pub const HISTOGRAM_MAX_US: u64 = 3_600_000_000;

/// More requests than this in one set of parts is rejected as implausible; it also keeps every
/// sum of histogram counts far from `u64` overflow.
pub(super) const MAX_PARTS_REQUESTS: u64 = 1 << 48;

/// Significant digits of every histogram.
pub(super) const SIGNIFICANT_DIGITS: u8 = 3;

/// An empty histogram with lv's parameters.
pub(super) fn empty_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_US, SIGNIFICANT_DIGITS)
        .expect("lv's histogram bounds are valid constants")
}
