//! The response-time counts of one endpoint, laid out exactly as an HdrHistogram with lv's
//! bounds lays out its counters, but added up without going through `Histogram`'s API.
//!
//! Such a histogram is [`BUCKETS`] counters (184 KiB), allocated a page of 1,024 at a time
//! as samples land in them. One endpoint's report of one interval fills a few hundred to a
//! few thousand of them, and the master adds every endpoint of every report into the run's
//! counts. Through `hdrhistogram` that meant, per endpoint per report, a fresh zeroed
//! histogram to decode into and a scan of all 23,552 counters per add, or ~9 ns per nonzero
//! counter through `record_n`. Here, decoded counts stay sparse (their nonzero counters only)
//! and an add is one array addition per nonzero counter, or over the range of
//! counters in use. `hdrhistogram` still serves [`Counts::histogram`], and the tests check
//! counters, quantiles and the V2 bytes (read and written in `v2`) against it.

use hdrhistogram::Histogram;

use super::layout::{HISTOGRAM_MAX_US, empty_histogram};

/// Counters of a histogram with lv's bounds (1 us..=1 h, 3 significant digits).
pub(super) const BUCKETS: usize = 23 * SUB_BUCKET_HALF_COUNT;
/// Half the sub-buckets of each HdrHistogram bucket: 2^10, as 3 significant digits need 2^11.
const SUB_BUCKET_HALF_COUNT: usize = 1 << SUB_BUCKET_HALF_COUNT_MAGNITUDE;
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = 10;

/// One nonzero counter: its index and its count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Bucket {
    /// Index below [`BUCKETS`].
    pub(super) index: u32,
    /// Samples counted (> 0).
    pub(super) count: u64,
}

/// Response-time counts, full or sparse.
#[derive(Debug, Clone)]
pub(super) enum Counts {
    /// Every counter: what recording, and merging into, use.
    Dense(Dense),
    /// Only the nonzero counters, indexes rising, and the sum of their counts: what decoding
    /// gives (and an empty one, which allocates nothing).
    Sparse(Vec<Bucket>, u64),
}

/// Counters in one page of [`Dense`]: as many as one HdrHistogram bucket adds (the first
/// page holds the values 0..1024 one by one).
const PAGE: usize = SUB_BUCKET_HALF_COUNT;
/// Pages in a full set of counters.
const PAGES: usize = BUCKETS / PAGE;

/// Every counter, a page of [`PAGE`] allocated only once a sample lands in it, and the range
/// of those in use. Response times cluster within a few powers of two, so a recorded
/// histogram takes a few pages (8 KiB each) of its 23: one endpoint's four histograms took
/// 736 KiB a worker when every counter was allocated (issue 24).
#[derive(Clone)]
pub(super) struct Dense {
    /// [`PAGES`] pages; `None` until a sample lands in it.
    pages: Box<[Option<Box<[u64]>>]>,
    /// Sum of the counts (saturating, as HdrHistogram's total).
    total: u64,
    /// Lowest and highest index with a nonzero count; `lowest > highest` when none has.
    lowest: usize,
    highest: usize,
}

impl std::fmt::Debug for Dense {
    /// The range in use and the total, not 23,552 counters.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dense")
            .field("total", &self.total)
            .field("lowest", &self.lowest)
            .field("highest", &self.highest)
            .finish_non_exhaustive()
    }
}

impl Dense {
    fn new() -> Dense {
        Dense {
            pages: vec![None; PAGES].into_boxed_slice(),
            total: 0,
            lowest: usize::MAX,
            highest: 0,
        }
    }

    /// Page `n`, allocated (zeroed) if it was not.
    fn page_mut(&mut self, n: usize) -> &mut [u64] {
        self.pages[n].get_or_insert_with(|| vec![0; PAGE].into())
    }

    fn add_at(&mut self, index: usize, count: u64) {
        let counter = &mut self.page_mut(index / PAGE)[index % PAGE];
        *counter = counter.saturating_add(count);
        self.total = self.total.saturating_add(count);
        self.lowest = self.lowest.min(index);
        self.highest = self.highest.max(index);
    }

    fn add_buckets(&mut self, buckets: &[Bucket], total: u64) {
        let (Some(first), Some(last)) = (buckets.first(), buckets.last()) else {
            return;
        };
        // Indexes rise, so a page's buckets come together: one page lookup for them all.
        let mut at = usize::MAX;
        let mut page: &mut [u64] = &mut [];
        for bucket in buckets {
            let index = bucket.index as usize;
            if index / PAGE != at {
                at = index / PAGE;
                page = self.pages[at].get_or_insert_with(|| vec![0; PAGE].into());
            }
            let counter = &mut page[index % PAGE];
            *counter = counter.saturating_add(bucket.count);
        }
        self.total = self.total.saturating_add(total);
        self.lowest = self.lowest.min(first.index as usize);
        self.highest = self.highest.max(last.index as usize);
    }

    fn add_dense(&mut self, other: &Dense) {
        for (start, theirs) in other.used() {
            let page = self.page_mut(start / PAGE);
            let from = start % PAGE;
            for (mine, theirs) in page[from..from + theirs.len()].iter_mut().zip(theirs) {
                *mine = mine.saturating_add(*theirs);
            }
        }
        if other.lowest <= other.highest {
            self.total = self.total.saturating_add(other.total);
            self.lowest = self.lowest.min(other.lowest);
            self.highest = self.highest.max(other.highest);
        }
    }

    /// The allocated counters within the range in use, page by page: (index of the first, the
    /// counters).
    fn used(&self) -> impl Iterator<Item = (usize, &[u64])> + '_ {
        let (lowest, highest) = (self.lowest, self.highest);
        let pages = if lowest > highest {
            0..0
        } else {
            lowest / PAGE..highest / PAGE + 1
        };
        pages.filter_map(move |n| {
            let page = self.pages[n].as_deref()?;
            let base = n * PAGE;
            let (from, to) = (lowest.max(base) - base, highest.min(base + PAGE - 1) - base);
            Some((base + from, &page[from..=to]))
        })
    }

    /// Index of the first counter at which the running count reaches `target`. Sums blocks
    /// of counters first (no branch per counter), then walks the block that gets there.
    fn first_reaching(&self, target: u64) -> Option<usize> {
        const BLOCK: usize = 16;
        let mut seen = 0u64;
        for (start, counters) in self.used() {
            for (n, block) in counters.chunks(BLOCK).enumerate() {
                let sum = block.iter().fold(0u64, |sum, &c| sum.saturating_add(c));
                if seen.saturating_add(sum) >= target {
                    let counters = block.iter().enumerate();
                    let offset = start + n * BLOCK;
                    return first_reaching(counters.map(|(i, &c)| (offset + i, c)), target - seen);
                }
                seen = seen.saturating_add(sum);
            }
        }
        None
    }

    /// (index, count) of every nonzero counter, indexes rising.
    fn nonzero(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.used().flat_map(|(start, counters)| {
            counters
                .iter()
                .enumerate()
                .filter(|&(_, &count)| count > 0)
                .map(move |(offset, &count)| (start + offset, count))
        })
    }
}

impl Counts {
    /// No samples; allocates nothing.
    pub(super) fn empty() -> Counts {
        Counts::Sparse(Vec::new(), 0)
    }

    /// Counts holding `buckets` (nonzero, indexes rising and below [`BUCKETS`]) whose counts
    /// add up to `total`.
    pub(super) fn sparse(buckets: Vec<Bucket>, total: u64) -> Counts {
        Counts::Sparse(buckets, total)
    }

    /// Counts one sample as `Histogram::saturating_record` does: a value beyond the last
    /// counter is counted as [`HISTOGRAM_MAX_US`].
    pub(super) fn record(&mut self, value: u64) {
        let index = index_of(value)
            .or_else(|| index_of(HISTOGRAM_MAX_US))
            .expect("HISTOGRAM_MAX_US has a counter");
        self.dense_mut().add_at(index, 1);
    }

    /// Adds every sample of `other`, as `Histogram::add` does.
    pub(super) fn add(&mut self, other: &Counts) {
        match other {
            Counts::Sparse(buckets, _) if buckets.is_empty() => {}
            Counts::Sparse(buckets, total) => self.dense_mut().add_buckets(buckets, *total),
            Counts::Dense(other) => self.dense_mut().add_dense(other),
        }
    }

    /// Calls `f(index, count)` for each nonzero counter, indexes rising.
    pub(super) fn for_each_nonzero(&self, mut f: impl FnMut(usize, u64)) {
        match self {
            Counts::Dense(dense) => dense.nonzero().for_each(|(i, c)| f(i, c)),
            Counts::Sparse(buckets, _) => buckets.iter().for_each(|b| f(b.index as usize, b.count)),
        }
    }

    /// The counts as an HdrHistogram.
    pub(super) fn histogram(&self) -> Histogram<u64> {
        let mut hist = empty_histogram();
        // Each value lies in its own counter (index below BUCKETS), so nothing saturates, and
        // the histogram's min, max and total come out as if it had recorded every sample.
        self.for_each_nonzero(|index, count| hist.saturating_record_n(value_of(index), count));
        hist
    }

    /// Samples counted in counters whose values all lie above `value` (those sharing its
    /// counter, within 0.1% of it, are not counted).
    pub(super) fn count_above(&self, value: u64) -> u64 {
        let Some(at) = index_of(value) else {
            return 0;
        };
        let mut above = 0u64;
        self.for_each_nonzero(|index, count| {
            if index > at {
                above = above.saturating_add(count);
            }
        });
        above
    }

    /// What `Histogram::value_at_quantile` gives for `quantile`: the highest value of the first
    /// counter at which the running count reaches ceil(quantile * total) (at least 1), or the
    /// lowest value of it for quantile 0; 0 when empty.
    pub(super) fn value_at_quantile(&self, quantile: f64) -> u64 {
        let (total, index) = match self {
            Counts::Dense(dense) => {
                let target = quantile_target(quantile, dense.total);
                (dense.total, dense.first_reaching(target))
            }
            Counts::Sparse(buckets, total) => {
                let target = quantile_target(quantile, *total);
                let pairs = buckets.iter().map(|b| (b.index as usize, b.count));
                (*total, first_reaching(pairs, target))
            }
        };
        match index {
            Some(index) if total > 0 && quantile == 0.0 => value_of(index),
            Some(index) if total > 0 => value_of(index + 1) - 1,
            _ => 0,
        }
    }

    /// The full counters, made from the buckets first if the counts are sparse.
    fn dense_mut(&mut self) -> &mut Dense {
        if let Counts::Sparse(buckets, total) = self {
            let mut dense = Dense::new();
            dense.add_buckets(buckets, *total);
            *self = Counts::Dense(dense);
        }
        match self {
            Counts::Dense(dense) => dense,
            Counts::Sparse(..) => unreachable!("made dense above"),
        }
    }
}

/// The running count HdrHistogram's quantile walk looks for.
fn quantile_target(quantile: f64, total: u64) -> u64 {
    let quantile = if quantile > 1.0 { 1.0 } else { quantile };
    ((quantile * total as f64).ceil() as u64).max(1)
}

/// Index of the first counter at which the running count reaches `target`.
fn first_reaching(counters: impl Iterator<Item = (usize, u64)>, target: u64) -> Option<usize> {
    let mut seen = 0u64;
    for (index, count) in counters {
        seen = seen.saturating_add(count);
        if seen >= target {
            return Some(index);
        }
    }
    None
}

/// The counter HdrHistogram counts `value` in, with lv's bounds; `None` beyond the last one.
///
/// Values below 2048 have a counter each; above, each power of two is split into 1024
/// counters (HdrHistogram's `index_for` with 3 digits and a lowest value of 1).
pub(super) fn index_of(value: u64) -> Option<usize> {
    let bucket = 53 - (value | 2047).leading_zeros();
    let index = ((bucket as usize + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE)
        + (value >> bucket) as usize
        - SUB_BUCKET_HALF_COUNT;
    (index < BUCKETS).then_some(index)
}

/// The lowest value counted at `index` (HdrHistogram's `value_for`); valid up to `BUCKETS`.
pub(super) fn value_of(index: usize) -> u64 {
    let block = index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE;
    if block == 0 {
        return index as u64;
    }
    let sub = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
    (sub as u64) << (block - 1)
}

#[cfg(test)]
mod tests;
